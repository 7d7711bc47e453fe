"""The control exports over guest memory: setsockopt, getsockopt, ioctlsocket, WSAIoctl,
WSAPoll and WSAAccept.

The provider knows the options and the commands (``ws2core.provider.options``: which sizes
Windows reads and writes); these exports only carry the guest's bytes to ``Ws2_32`` and
back, in the check order of ``ws2core.guest``: the socket first, then the guest's memory
(every out-parameter checked writable before the call), then the call, then only what it
wrote.
"""

from __future__ import annotations

import struct
import uuid
from typing import Any, Final

from .. import Ref
from .._shared import WinsockError
from ..constants import (
    AF_INET,
    FIONBIO,
    FIONREAD,
    INVALID_SOCKET,
    SIO_GET_EXTENSION_FUNCTION_POINTER,
    SIOCATMARK,
    SOCKET_ERROR,
    WSAEFAULT,
    WSAEINVAL,
    WSAENOBUFS,
    WSAEOPNOTSUPP,
)
from ..provider import WSAPOLLFD
from ..provider.options import EXTENSION_FUNCTIONS, getsockopt_size, setsockopt_size
from ..structs import pack_sockaddr
from . import _memory, extensions
from ._exports import Exports, export, log
from ._protocol import Guest, GuestFault
from .sockets import _address_call

# The commands whose u_long the call writes (ioctlsocket's argp, WSAIoctl's lpvOutBuffer).
_ANSWERING: Final = (FIONREAD, SIOCATMARK)


@export("setsockopt", "piipi", "i", SOCKET_ERROR)
def setsockopt(ex: Exports, g: Guest, s: int, level: int, optname: int, optval: int,
               optlen: int) -> int:
    ex.ws2_32.check_socket(s)
    # Only the bytes Windows reads for this option (a BOOL's first byte, say): a guest
    # optlen larger than its buffer is no fault where Windows reads less.
    value = None if not optval else _memory.read(g, optval, setsockopt_size(level, optname, optlen))
    return ex.ws2_32.setsockopt(s, level, optname, value, optlen)


@export("getsockopt", "piipp", "i", SOCKET_ERROR)
def getsockopt(ex: Exports, g: Guest, s: int, level: int, optname: int, optval: int,
               optlen: int) -> int:
    ex.ws2_32.check_socket(s)
    if not optval or not optlen:  # the provider's WSAEFAULT, after its level and option checks
        return ex.ws2_32.getsockopt(s, level, optname, None, None)
    # Both out-parameters must take their value before the call, which may have a side
    # effect (reading SO_ERROR clears it): optval for as many bytes as the option may write
    # (the provider's size; a room below the value's is the provider's WSAEFAULT).  The
    # buffer starts as the guest's bytes: what the call does not write goes back unchanged.
    size = _memory.read_int(g, optlen)
    _memory.require_writable(g, optlen, 4)
    room = getsockopt_size(level, optname, size)
    buffer = bytearray(_memory.read(g, optval, room))
    _memory.require_writable(g, optval, room)
    length = Ref(size)
    result = ex.ws2_32.getsockopt(s, level, optname, buffer, length)
    if result == 0:
        _memory.write(g, optval, bytes(buffer))
    if result == 0 or length.value != size:  # a structure's short optlen gets its size
        _memory.write_int(g, optlen, length.value)
    return result


@export("ioctlsocket", "pip", "i", SOCKET_ERROR)
def ioctlsocket(ex: Exports, g: Guest, s: int, cmd: int, argp: int) -> int:
    ex.ws2_32.check_socket(s)
    argument = Ref(_memory.read_int(g, argp) & _memory.INT32)  # every command has its u_long
    answers = cmd & _memory.INT32 in _ANSWERING
    if answers:
        _memory.require_writable(g, argp, 4)
    result = ex.ws2_32.ioctlsocket(s, cmd, argument)
    if result == 0 and answers:
        _memory.write_int(g, argp, argument.value)
    return result


@export("WSAIoctl", "pupupuppp", "i", SOCKET_ERROR)
def WSAIoctl(ex: Exports, g: Guest, s: int, dwIoControlCode: int, lpvInBuffer: int,
             cbInBuffer: int, lpvOutBuffer: int, cbOutBuffer: int, lpcbBytesReturned: int,
             lpOverlapped: int, lpCompletionRoutine: int) -> int:
    """WSAIoctl: FIONBIO, FIONREAD and SIOCATMARK with their u_long in lpvInBuffer or
    lpvOutBuffer; SIO_GET_EXTENSION_FUNCTION_POINTER writes the guest address of the
    function the GUID names, an export of this package (``extensions``: calling it reaches
    the same export hook), once the socket's provider has answered the GUID (its codes:
    WSAEFAULT for a GUID or an output too short, WSAEINVAL for a GUID it does not know);
    the size returned is a guest pointer's; any other code reads and writes nothing and is
    the provider's (WSAEOPNOTSUPP).
    ``lpOverlapped`` and ``lpCompletionRoutine``: as WSASend's (``transfer``): ignored on
    a socket made without WSA_FLAG_OVERLAPPED; on an overlapped one every code completes at
    once, its outcome written into the guest's structure and its event signalled or its
    completion routine queued (WSAEOPNOTSUPP where the adapter cannot run guest code);
    lpcbBytesReturned may then be NULL."""
    overlapped = ex.overlapped.check(g, s, lpOverlapped, lpCompletionRoutine)
    if not lpcbBytesReturned and not overlapped:  # Ws2_32's WSAEFAULT, before any buffer
        return ex.ws2_32.WSAIoctl(s, dwIoControlCode, None, 0, None, 0, None, None, None)
    if lpcbBytesReturned:
        _memory.require_writable(g, lpcbBytesReturned, 4)
    command = dwIoControlCode & _memory.INT32
    in_data: bytes | None = None
    out: Any = None
    target = None
    if command == SIO_GET_EXTENSION_FUNCTION_POINTER:
        in_data, out, target = _extension_pointer(g, lpvInBuffer, cbInBuffer, lpvOutBuffer,
                                                  cbOutBuffer)
    elif command == FIONBIO and lpvInBuffer:
        in_data = _memory.read(g, lpvInBuffer, min(max(cbInBuffer, 0), 4))
    elif command in _ANSWERING and lpvOutBuffer:
        room = min(max(cbOutBuffer, 0), 4)
        _memory.require_writable(g, lpvOutBuffer, room)
        out = bytearray(room)
    returned = Ref(0)
    record = (ex.overlapped.start(g, lpOverlapped, routine=lpCompletionRoutine)
              if overlapped else None)
    result = ex.ws2_32.WSAIoctl(s, command, in_data, cbInBuffer, out, cbOutBuffer, returned,
                                record, ex.overlapped.routine(record, lpCompletionRoutine))
    if result == 0:
        if target is not None:
            _memory.write(g, lpvOutBuffer, target.to_bytes(g.ptr_size, "little"))
        elif out is not None:
            _memory.write(g, lpvOutBuffer, bytes(out[: returned.value]))
        if lpcbBytesReturned:
            _memory.write_int(g, lpcbBytesReturned, returned.value)
    if record is not None:
        ex.overlapped.begun(g, record, result)
    return result


def _extension_pointer(g: Guest, lpvInBuffer: int, cbInBuffer: int, lpvOutBuffer: int,
                       cbOutBuffer: int) -> tuple[bytes | None, Ref | None, int | None]:
    """SIO_GET_EXTENSION_FUNCTION_POINTER's arguments: the GUID's bytes (None for NULL, and
    fewer than 16 for a short cbInBuffer: the provider's WSAEFAULT), the provider's output
    (None for a NULL lpvOutBuffer: its WSAEFAULT) and the guest address of the export the
    GUID names (``Guest.export_address``, None for a GUID the provider refuses).  The
    output must take a guest pointer (WSAEFAULT); an emulator that cannot give the
    export's address: WSAEINVAL, as for a GUID no provider knows."""
    guid = _memory.read(g, lpvInBuffer, min(max(cbInBuffer, 0), 16)) if lpvInBuffer else None
    if not lpvOutBuffer:
        return guid, None, None
    if cbOutBuffer < g.ptr_size:
        raise WinsockError(WSAEFAULT, f"lpvOutBuffer holds {cbOutBuffer} bytes, not a pointer")
    _memory.require_writable(g, lpvOutBuffer, g.ptr_size)
    name = EXTENSION_FUNCTIONS.get(uuid.UUID(bytes_le=guid)) if guid and len(guid) == 16 else None
    if name is None:
        return guid, Ref(None), None
    address = g.export_address(extensions.DLL, name)
    if address is None:
        raise WinsockError(WSAEINVAL, f"the emulator gives no address for mswsock's {name}")
    return guid, Ref(None), address


def _poll_entry(g: Guest) -> tuple[struct.Struct, int]:
    """WSAPOLLFD in the guest's layout (SOCKET fd; SHORT events; SHORT revents; x64 pads
    to 16 bytes) and the offset of revents."""
    if g.ptr_size == 8:
        return struct.Struct("<QhhI"), 10
    return struct.Struct("<Ihh"), 6


@export("WSAPoll", "pui", "i", SOCKET_ERROR)
def WSAPoll(ex: Exports, g: Guest, fdArray: int, fds: int, timeout: int) -> int:
    """WSAPoll over the guest's WSAPOLLFD array: each entry's revents is written back, and
    nothing else (a negative timeout waits without limit: the hook's ``max_block`` caps it)."""
    ex.ws2_32.check_started()
    entry, revents_at = _poll_entry(g)
    if not fdArray or not fds:  # Ws2_32's WSAEINVAL (no entry) or WSAEFAULT (NULL)
        return ex.ws2_32.WSAPoll(None, fds, timeout)
    data = _memory.read(g, fdArray, fds * entry.size)
    _memory.require_writable(g, fdArray, len(data))
    entries = [WSAPOLLFD(fd, events & 0xFFFF) for fd, events, _, *_ in entry.iter_unpack(data)]
    result = ex.ws2_32.WSAPoll(entries, fds, timeout)
    if result != SOCKET_ERROR:
        for index, polled in enumerate(entries):
            _memory.write(g, fdArray + index * entry.size + revents_at,
                          struct.pack("<H", polled.revents & 0xFFFF))
    return result


@export("WSAAccept", "ppppp", "p", INVALID_SOCKET)
def WSAAccept(ex: Exports, g: Guest, s: int, addr: int, addrlen: int, lpfnCondition: int,
              dwCallbackData: int) -> int:
    """accept, and with ``lpfnCondition`` the guest's condition function run on the
    connection (``Guest.run_function``) with Windows' arguments in guest memory: lpCallerId
    and lpCalleeId WSABUFs holding the peer's and the local sockaddr, NULL for the data and
    QOS, a GROUP to write, ``dwCallbackData``.  An emulator that cannot run guest code
    (the Speakeasy adapter today: NotImplementedError) fails the call with WSAEOPNOTSUPP,
    one of WSAAccept's documented codes, the connection reset: never accepted unvetted.
    No room for the arguments in guest memory: WSAENOBUFS, reset too."""
    condition = None
    if lpfnCondition:
        def condition(caller: tuple[Any, ...], caller_data: Any, sqos: Any, gqos: Any,
                      callee: tuple[Any, ...], callee_data: Any, group: Any,
                      callback_data: int) -> int:
            return _run_condition(g, lpfnCondition, caller, callee, callback_data)

    return _address_call(ex, g, lambda sock, name, length: ex.ws2_32.WSAAccept(
        sock, name, length, condition, dwCallbackData), INVALID_SOCKET, s, addr, addrlen)


def _run_condition(g: Guest, function: int, caller: tuple[Any, ...], callee: tuple[Any, ...],
                   callback_data: int) -> int:
    """Lay out the condition function's arguments in guest memory, run it, and give back
    its answer (CF_ACCEPT, CF_REJECT, CF_DEFER)."""
    ptr = g.ptr_size
    wsabuf = 2 * ptr  # ULONG len (padded on x64), CHAR *buf
    addresses = [pack_sockaddr(AF_INET if len(address) == 2 else 23, address)
                 for address in (caller, callee)]
    size = 2 * wsabuf + sum(len(packed) for packed in addresses) + 8
    try:
        base = g.allocate(size)
    except GuestFault:
        raise WinsockError(WSAENOBUFS, "no guest memory for the condition's arguments") from None
    try:
        pointer = "<Q" if ptr == 8 else "<I"
        at = base + 2 * wsabuf
        buffers = []
        for index, packed in enumerate(addresses):
            header = struct.pack("<I", len(packed)).ljust(ptr, b"\0") + struct.pack(pointer, at)
            g.write(base + index * wsabuf, header)
            g.write(at, packed)
            buffers.append(base + index * wsabuf)
            at += len(packed)
        group = at
        try:
            answer = g.run_function(function, [buffers[0], 0, 0, 0, buffers[1], 0, group,
                                               callback_data])
        except NotImplementedError as error:
            log.warning("WSAAccept: the emulator cannot run the condition function (%s): "
                        "the connection is reset, the call fails with WSAEOPNOTSUPP", error)
            raise WinsockError(WSAEOPNOTSUPP, "the condition function cannot run") from None
        return answer & _memory.INT32
    except GuestFault:
        raise WinsockError(WSAEFAULT, "the condition's arguments could not be written") from None
    finally:
        g.release(base)
