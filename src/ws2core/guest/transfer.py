"""Sockets and data over guest memory: WSASocketA, WSASocketW, WSAEnumProtocolsA,
WSAEnumProtocolsW, WSADuplicateSocketA, WSADuplicateSocketW, sendto, recvfrom, WSASend,
WSARecv, WSASendTo, WSARecvFrom and WSAGetOverlappedResult.

WSADuplicateSocket serves the calling process only: the ``Guest`` protocol has no process
id, so the id a program passes (GetCurrentProcessId, which its emulator answers) is taken as
its own unless it is 0 or 0xFFFFFFFF (WSAEINVAL, as Windows answers those), or unless
``Ws2_32.process_id`` says which it is.

Each follows the package's check order: ``Ws2_32``'s checks, then every argument read from
the guest and every out-parameter checked writable (the receive buffers, the byte count,
the flags, the from-address and its length), before anything is sent or taken from the
socket, so that a WSAEFAULT loses no datagram.  A WSABUF array is read in the guest's
layout (``WSABUF_LAYOUTS``).  What goes back is what Windows writes: on success the
buffers' bytes, the count, the flags (0: UDP and TCP have no MSG_PARTIAL) and the sender's
address with its length; on WSAEMSGSIZE (a datagram larger than the buffers) the buffers,
filled, and the sender's address, but neither the count nor the flags (as Wine's answers
show).

lpOverlapped: ignored on a socket made without WSA_FLAG_OVERLAPPED, as on Windows; on an
overlapped socket (``socket()`` makes those, as on Windows) the call is an overlapped
operation completed by event or by completion routine (``_overlapped`` says how its
outcome reaches guest memory, how a routine runs, and the limits): 0 when it completed at
once (the counts written as for any call, the structure and the event too; a routine is
still queued), else SOCKET_ERROR with WSA_IO_PENDING; the guest's WSAOVERLAPPED is checked
writable (WSAEFAULT) and its hEvent an event of ws2core's (WSA_INVALID_HANDLE) after the
other arguments, before any effect.  A completion routine where the adapter cannot run
guest code is WSAEOPNOTSUPP, before any effect.  WSAGetOverlappedResult reports the
outcome.  A NULL lpNumberOfBytesSent
or lpNumberOfBytesRecvd without an lpOverlapped is WSAEFAULT (Windows' documentation
allows NULL only with one; Wine 8 crashes on a NULL count of WSARecv).
"""

from __future__ import annotations

import ctypes
import struct
from typing import Any, Final, NamedTuple

from .. import Ref
from ..constants import (
    AF_INET,
    AF_INET6,
    INVALID_SOCKET,
    FALSE,
    SOCKET_ERROR,
    WSAEMSGSIZE,
    WSAENOBUFS,
)
from ..structs import WSAPROTOCOL_INFOA, WSAPROTOCOL_INFOW, pack_sockaddr
from . import _memory
from ._exports import Exports, export
from ._overlapped import write_received
from ._protocol import Guest


class WsabufLayout(NamedTuple):
    """One ABI's WSABUF: ``ULONG len`` then ``CHAR *buf``, padded to the pointer's alignment."""

    size: int
    code: str  # the struct module's format of one entry: (len, buf)


WSABUF_LAYOUTS: Final = {4: WsabufLayout(8, "<II"), 8: WsabufLayout(16, "<I4xQ")}
"""The WSABUF layout by the guest's pointer size: x86 8 bytes, x64 16 (4 of padding)."""


def read_wsabufs(guest: Guest, lpBuffers: int, dwBufferCount: int) -> list[tuple[int, int]]:
    """The ``(buf, len)`` of each of the first ``dwBufferCount`` WSABUFs at ``lpBuffers``
    (WSAEFAULT when the array is not all readable; none for a count of 0)."""
    layout = WSABUF_LAYOUTS[guest.ptr_size]
    data = _memory.read(guest, lpBuffers, layout.size * dwBufferCount)
    return [(buf, length) for length, buf in struct.iter_unpack(layout.code, data)]


def _send_buffers(guest: Guest, buffers: list[tuple[int, int]]) -> list[bytes]:
    return [_memory.read(guest, buf, length) for buf, length in buffers]


def _receive_buffers(guest: Guest, buffers: list[tuple[int, int]]) -> list[bytearray]:
    """Host buffers for the guest's, each checked writable first (nothing is allocated for
    more than the guest has mapped)."""
    for buf, length in buffers:
        _memory.require_writable(guest, buf, length)
    return [bytearray(length) for _, length in buffers]


class _Sender:
    """A receive's from-address out-parameters, checked writable before the call."""

    def __init__(self, guest: Guest, lpFrom: int, lpFromlen: int) -> None:
        self.guest, self.lpFrom, self.lpFromlen = guest, lpFrom, lpFromlen
        self.address: Ref | None = Ref(None) if lpFrom else None
        self.length: Ref | None = None
        if lpFromlen:
            self.length = Ref(_memory.read_int(guest, lpFromlen))
            _memory.require_writable(guest, lpFromlen, 4)
        if lpFrom and self.length is not None:
            size = max(0, min(self.length.value, _memory.SOCKADDR_STORAGE))
            _memory.require_writable(guest, lpFrom, size)

    def write_back(self) -> None:
        """What the provider stored (nothing on a stream socket, which ignores both)."""
        if self.address is not None and self.address.value is not None:
            address = self.address.value
            family = AF_INET if len(address) == 2 else AF_INET6
            _memory.write(self.guest, self.lpFrom, pack_sockaddr(family, address))
        if self.length is not None and self.lpFromlen:
            _memory.write_int(self.guest, self.lpFromlen, self.length.value)


def _out_count(guest: Guest, address: int) -> Ref | None:
    """A byte count out-parameter: None for NULL (the call's WSAEFAULT), else checked
    writable."""
    if not address:
        return None
    _memory.require_writable(guest, address, 4)
    return Ref(0)


# --- WSASocket


def _protocol_info(guest: Guest, address: int, structure: type[ctypes.Structure]) -> Any:
    if not address:
        return None
    return structure.from_buffer_copy(_memory.read(guest, address, ctypes.sizeof(structure)))


@export("WSASocketA", "iiipuu", "p", INVALID_SOCKET)
def WSASocketA(ex: Exports, g: Guest, af: int, type: int, protocol: int, lpProtocolInfo: int,
               group: int, dwFlags: int) -> int:
    ex.ws2_32.check_started()
    info = _protocol_info(g, lpProtocolInfo, WSAPROTOCOL_INFOA)
    return ex.ws2_32.WSASocketA(af, type, protocol, info, group, dwFlags)


@export("WSASocketW", "iiipuu", "p", INVALID_SOCKET)
def WSASocketW(ex: Exports, g: Guest, af: int, type: int, protocol: int, lpProtocolInfo: int,
               group: int, dwFlags: int) -> int:
    ex.ws2_32.check_started()
    info = _protocol_info(g, lpProtocolInfo, WSAPROTOCOL_INFOW)
    return ex.ws2_32.WSASocketW(af, type, protocol, info, group, dwFlags)


# --- WSAEnumProtocols

PROTOCOL_LIST_LIMIT: Final = 1024
"""The most iProtocol values read from a guest's lpiProtocols before its terminating 0: a list
without one in reach ends there (the catalog has far fewer protocols than that)."""


@export("WSAEnumProtocolsA", "ppp", "i", SOCKET_ERROR)
def WSAEnumProtocolsA(ex: Exports, g: Guest, lpiProtocols: int, lpProtocolBuffer: int,
                      lpdwBufferLength: int) -> int:
    return _enum_protocols(ex, g, lpiProtocols, lpProtocolBuffer, lpdwBufferLength,
                           WSAPROTOCOL_INFOA)


@export("WSAEnumProtocolsW", "ppp", "i", SOCKET_ERROR)
def WSAEnumProtocolsW(ex: Exports, g: Guest, lpiProtocols: int, lpProtocolBuffer: int,
                      lpdwBufferLength: int) -> int:
    return _enum_protocols(ex, g, lpiProtocols, lpProtocolBuffer, lpdwBufferLength,
                           WSAPROTOCOL_INFOW)


def _enum_protocols(ex: Exports, g: Guest, protocols_at: int, buffer: int, length_at: int,
                    structure: type[ctypes.Structure]) -> int:
    """The structures have no pointer: one layout for both ABIs.  The guest's buffer is
    written only where the entries go (its length may claim more than it has mapped, as a C
    caller's may), and the length only when Ws2_32 writes it (WSAENOBUFS: the bytes
    needed); the host buffer is never larger than every entry of the catalog together."""
    ex.ws2_32.check_started()
    protocols = _read_protocol_list(g, protocols_at) if protocols_at else None
    length: Ref | None = None
    declared = 0
    if length_at:
        declared = _memory.read_int(g, length_at) & 0xFFFFFFFF
        _memory.require_writable(g, length_at, 4)
        room = ctypes.sizeof(structure) * len(ex.ws2_32.upcalls.catalog.protocols(hidden=True))
        length = Ref(min(declared, room))
    host = bytearray(length.value) if buffer and length is not None else None
    result = ex.ws2_32.WSAEnumProtocolsA(protocols, host, length) \
        if structure is WSAPROTOCOL_INFOA else ex.ws2_32.WSAEnumProtocolsW(protocols, host, length)
    if result == SOCKET_ERROR:
        if length is not None and ex.ws2_32.WSAGetLastError() == WSAENOBUFS:
            _memory.write_int(g, length_at, length.value)   # the bytes needed
        return result
    if result and host is not None:
        _memory.write(g, buffer, bytes(host[:result * ctypes.sizeof(structure)]))
    return result


def _read_protocol_list(g: Guest, address: int) -> list[int]:
    """lpiProtocols: the ints at ``address`` up to their 0 (WSAEFAULT for one unreadable)."""
    protocols: list[int] = []
    for index in range(PROTOCOL_LIST_LIMIT):
        value = _memory.read_int(g, address + 4 * index)
        if value == 0:
            break
        protocols.append(value)
    return protocols


@export("WSADuplicateSocketA", "pup", "i", SOCKET_ERROR)
def WSADuplicateSocketA(ex: Exports, g: Guest, s: int, dwProcessId: int,
                        lpProtocolInfo: int) -> int:
    return _duplicate_socket(ex, g, s, dwProcessId, lpProtocolInfo, WSAPROTOCOL_INFOA)


@export("WSADuplicateSocketW", "pup", "i", SOCKET_ERROR)
def WSADuplicateSocketW(ex: Exports, g: Guest, s: int, dwProcessId: int,
                        lpProtocolInfo: int) -> int:
    return _duplicate_socket(ex, g, s, dwProcessId, lpProtocolInfo, WSAPROTOCOL_INFOW)


def _duplicate_socket(ex: Exports, g: Guest, s: int, process: int, address: int,
                      structure: type[ctypes.Structure]) -> int:
    """The process is checked before the structure, as on Windows (Wine's tests); the
    structure is written whole, as the guest's WSASocket reads it."""
    ex.ws2_32.check_socket(s)
    ex.ws2_32.check_process(process)
    _memory.require_writable(g, address, ctypes.sizeof(structure))
    info = structure()
    duplicate = (ex.ws2_32.WSADuplicateSocketA if structure is WSAPROTOCOL_INFOA
                 else ex.ws2_32.WSADuplicateSocketW)
    result = duplicate(s, process, info)
    if result == 0:
        _memory.write(g, address, bytes(info))
    return result


# --- sending


@export("sendto", "ppiipi", "i", SOCKET_ERROR)
def sendto(ex: Exports, g: Guest, s: int, buf: int, len: int, flags: int, to: int,
           tolen: int) -> int:
    ex.ws2_32.check_socket(s)
    data = _memory.read(g, buf, len)
    address = _memory.read_sockaddr(g, to, tolen) if to else None
    return ex.ws2_32.sendto(s, data, len, flags, address, 0 if address is None else tolen)


@export("WSASend", "ppupupp", "i", SOCKET_ERROR)
def WSASend(ex: Exports, g: Guest, s: int, lpBuffers: int, dwBufferCount: int,
            lpNumberOfBytesSent: int, dwFlags: int, lpOverlapped: int,
            lpCompletionRoutine: int) -> int:
    return WSASendTo(ex, g, s, lpBuffers, dwBufferCount, lpNumberOfBytesSent, dwFlags, 0, 0,
                     lpOverlapped, lpCompletionRoutine, connected=True)


@export("WSASendTo", "ppupupipp", "i", SOCKET_ERROR)
def WSASendTo(ex: Exports, g: Guest, s: int, lpBuffers: int, dwBufferCount: int,
              lpNumberOfBytesSent: int, dwFlags: int, lpTo: int, iTolen: int,
              lpOverlapped: int, lpCompletionRoutine: int, *, connected: bool = False) -> int:
    overlapped = ex.overlapped.check(g, s, lpOverlapped, lpCompletionRoutine)
    data = _send_buffers(g, read_wsabufs(g, lpBuffers, dwBufferCount))
    address = _memory.read_sockaddr(g, lpTo, iTolen) if lpTo else None
    sent = _out_count(g, lpNumberOfBytesSent)
    record = (ex.overlapped.start(g, lpOverlapped, routine=lpCompletionRoutine)
              if overlapped else None)
    routine = ex.overlapped.routine(record, lpCompletionRoutine)
    if connected:
        result = ex.ws2_32.WSASend(s, data, dwBufferCount, sent, dwFlags, record, routine)
    else:
        result = ex.ws2_32.WSASendTo(s, data, dwBufferCount, sent, dwFlags, address,
                                     0 if address is None else iTolen, record, routine)
    if result == 0 and sent is not None:
        _memory.write_int(g, lpNumberOfBytesSent, sent.value)
    if record is not None:
        ex.overlapped.begun(g, record, result)
    return result


# --- receiving


@export("recvfrom", "ppiipp", "i", SOCKET_ERROR)
def recvfrom(ex: Exports, g: Guest, s: int, buf: int, len: int, flags: int, from_: int,
             fromlen: int) -> int:
    ex.ws2_32.check_socket(s)
    _memory.require_writable(g, buf, len)  # a negative len too: WSAEFAULT
    sender = _Sender(g, from_, fromlen)
    data = bytearray(len)
    received = ex.ws2_32.recvfrom(s, data, len, flags, sender.address, sender.length)
    if received != SOCKET_ERROR:
        _memory.write(g, buf, bytes(data[:received]))
        sender.write_back()
    elif ex.ws2_32.WSAGetLastError() == WSAEMSGSIZE:
        _memory.write(g, buf, bytes(data))  # a datagram larger than the buffer fills it
        sender.write_back()
    return received


@export("WSARecv", "ppupppp", "i", SOCKET_ERROR)
def WSARecv(ex: Exports, g: Guest, s: int, lpBuffers: int, dwBufferCount: int,
            lpNumberOfBytesRecvd: int, lpFlags: int, lpOverlapped: int,
            lpCompletionRoutine: int) -> int:
    return WSARecvFrom(ex, g, s, lpBuffers, dwBufferCount, lpNumberOfBytesRecvd, lpFlags, 0, 0,
                       lpOverlapped, lpCompletionRoutine)


@export("WSARecvFrom", "ppupppppp", "i", SOCKET_ERROR)
def WSARecvFrom(ex: Exports, g: Guest, s: int, lpBuffers: int, dwBufferCount: int,
                lpNumberOfBytesRecvd: int, lpFlags: int, lpFrom: int, lpFromlen: int,
                lpOverlapped: int, lpCompletionRoutine: int) -> int:
    overlapped = ex.overlapped.check(g, s, lpOverlapped, lpCompletionRoutine)
    buffers = read_wsabufs(g, lpBuffers, dwBufferCount)
    data = _receive_buffers(g, buffers)
    received = _out_count(g, lpNumberOfBytesRecvd)
    flags = Ref(_memory.read_int(g, lpFlags)) if lpFlags else None
    if lpFlags:
        _memory.require_writable(g, lpFlags, 4)
    sender = _Sender(g, lpFrom, lpFromlen)
    record = (ex.overlapped.start(g, lpOverlapped, buffers, data, sender,
                                  routine=lpCompletionRoutine) if overlapped else None)
    result = ex.ws2_32.WSARecvFrom(s, data, dwBufferCount, received, flags, sender.address,
                                   sender.length, record,
                                   ex.overlapped.routine(record, lpCompletionRoutine))
    if result == 0:
        assert flags is not None  # else the call failed
        if received is not None:
            count = received.value
        else:  # NULL, which only an overlapped call may pass: its record has the count
            assert record is not None
            count = record.InternalHigh
        write_received(g, buffers, data, count)
        if received is not None:  # NULL with an lpOverlapped, which has the count
            _memory.write_int(g, lpNumberOfBytesRecvd, received.value)
        _memory.write_int(g, lpFlags, flags.value)
        sender.write_back()
    elif ex.ws2_32.WSAGetLastError() == WSAEMSGSIZE:
        write_received(g, buffers, data, sum(map(len, data)))  # the buffers, filled
        sender.write_back()
    if record is not None:
        ex.overlapped.begun(g, record, result)
    return result


# --- overlapped results


@export("WSAGetOverlappedResult", "pppup", "i", FALSE)
def WSAGetOverlappedResult(ex: Exports, g: Guest, s: int, lpOverlapped: int, lpcbTransfer: int,
                           fWait: int, lpdwFlags: int) -> int:
    """The outcome of the operation whose guest WSAOVERLAPPED is at ``lpOverlapped``: from
    its record while it is pending (``fWait`` waits for it, within ``max_block``: then
    WSA_IO_INCOMPLETE), else from the structure in guest memory (which the completion's copy
    wrote; one that never went pending and says STATUS_PENDING is WSA_IO_INCOMPLETE whatever
    ``fWait``, since nothing will complete it).  ``lpcbTransfer`` and ``lpdwFlags`` are
    written when the operation has completed, with or without an error.  The copy of a
    completion reached here happens at this export's return, before the guest reads the
    structure."""
    ex.ws2_32.check_socket(s)
    size = ctypes.sizeof(ex.overlapped.layout)
    found = _memory.read(g, lpOverlapped, size)
    for address in (lpcbTransfer, lpdwFlags):
        _memory.require_writable(g, address, 4)
    record = ex.overlapped.pending(lpOverlapped)
    structure: Any = record
    if record is None:
        structure = ex.overlapped.layout.from_buffer_copy(found)
        fWait = FALSE
    transferred, flags = Ref(None), Ref(None)
    result = ex.ws2_32.WSAGetOverlappedResult(s, structure, transferred, fWait, flags)
    if transferred.value is not None:
        _memory.write_int(g, lpcbTransfer, transferred.value)
        _memory.write_int(g, lpdwFlags, flags.value)
    return result


__all__ = ["WSABUF_LAYOUTS", "WSAGetOverlappedResult", "WSADuplicateSocketA", "WSADuplicateSocketW", "WSAEnumProtocolsA",
           "WSAEnumProtocolsW", "WSARecv", "WSARecvFrom", "WSASend", "WSASendTo", "WSASocketA",
           "WSASocketW", "WsabufLayout", "read_wsabufs", "recvfrom", "sendto"]
