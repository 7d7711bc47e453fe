"""ws2core behind a Speakeasy guest's Winsock: real sockets on the host for emulated programs.

Speakeasy (Mandiant's Windows emulator, ``pip install 'ws2core[speakeasy]'``) answers a
guest's Winsock calls with a fake network: ``__WSAFDIsSet`` always says 1, sends vanish and
waits return at once.  ``install(se)`` replaces those answers, through Speakeasy's public
``Speakeasy.add_api_hook`` and nothing else, with ws2core: an ``UpcallTable`` that holds the
guest's sockets and events, and a ``HostSocketProvider`` that turns its sockets into host
sockets (on 127.0.0.1, say)::

    import speakeasy
    from ws2core.adapters.speakeasy import install

    se = speakeasy.Speakeasy(argv=["127.0.0.1", "5000"])
    module = se.load_module("client.exe")
    with install(se) as installation:       # after load_module: the guest's pointer size
        se.run_module(module)               # picks the ABI (x64 or x86)
    # every socket closed, every handle gone from installation.table

The hooked functions are ``HOOKED_APIS``: WSAStartup, WSACleanup, socket, closesocket, bind,
getsockname, getpeername, listen, connect, accept, send, recv, shutdown, ioctlsocket
(FIONBIO, FIONREAD), select, __WSAFDIsSet, WSACreateEvent, WSASetEvent, WSAResetEvent,
WSACloseEvent, WSAWaitForMultipleEvents, WSAEventSelect, WSAEnumNetworkEvents,
WSAGetLastError and WSASetLastError.  Each returns what Windows returns; a failure returns
the documented failure value (SOCKET_ERROR, INVALID_SOCKET, WSA_INVALID_EVENT, FALSE,
WSA_WAIT_FAILED; WSAStartup its error code) and sets the calling guest thread's last error.
A NULL or unmapped guest pointer is WSAEFAULT, never an exception in the emulator; a value
that is not a live socket of the table is WSAENOTSOCK, and one that is not a live event
WSA_INVALID_HANDLE, as on Windows.

What the adapter assumes of Speakeasy (1.5.11 is tested; 2.x has the same ``add_api_hook``):

- **One process.** A ``Speakeasy`` object emulates one process, which gets one UpcallTable
  (one Ws2_32 instance).  Child processes emulated with ``emulate_children=True`` reach the
  same hooks, so they share that table, unlike separate Windows processes.
- **One guest thread at a time.** Speakeasy runs guest threads one after the other in the
  thread that called ``run_module``, and a hook blocks it: while a guest thread waits, no
  other guest thread can run to wake it.  So every wait is capped at ``max_block`` seconds
  (WSAWaitForMultipleEvents then returns WSA_WAIT_TIMEOUT, select 0, even for an infinite
  wait).  Host threads still run meanwhile, the provider's reactor thread among them, and
  ws2core's waits are real: an event set from a host thread wakes the guest at once.  A
  blocking connect, accept or recv waits for the host's answer without a cap: its peer
  must be outside the emulator (or the socket made non-blocking).
- **Last error.** The last error is the current guest thread's Win32 last error, which
  Speakeasy keeps per thread (``emu.set_last_error``), so the guest's GetLastError agrees
  with WSAGetLastError, as on Windows (where WSAGetLastError is GetLastError).  Speakeasy's
  own GetLastError clears the value after reading it; WSAGetLastError here does not.
- **Hooks stay.** Speakeasy cannot remove a hook; after ``close()`` the hooks still answer,
  with WSANOTINITIALISED until the next WSAStartup.
"""

from __future__ import annotations

import ctypes
import importlib
import math
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from .. import Ref, UpcallTable, WinsockError
from ..constants import (
    FALSE,
    FIONREAD,
    SOCKET_ERROR,
    WSA_INVALID_EVENT,
    WSA_MAXIMUM_WAIT_EVENTS,
    WSA_WAIT_FAILED,
    WSAEFAULT,
    WSAVERNOTSUPPORTED,
)
from ..provider import TIMEVAL, WSANETWORKEVENTS, HostSocketProvider

__all__ = ["EXTRA", "HOOKED_APIS", "Installation", "install"]

EXTRA: Final = "ws2core[speakeasy]"
"""The pip extra that installs Speakeasy beside ws2core."""

_HIGHEST_VERSION: Final = 0x0202  # Winsock 2.2, MAKEWORD(2, 2): what Ws2_32 supports
_SOCKADDR_STORAGE: Final = 128    # the largest sockaddr a call reads or writes
_INT32: Final = 0xFFFFFFFF

_Method = TypeVar("_Method", bound=Callable[..., Any])


def _import_speakeasy() -> tuple[int, tuple[type[BaseException], ...]]:
    """Speakeasy's stdcall constant and the exceptions its guest memory access raises.

    Speakeasy's emulator object (what a hook receives) lets unicorn's ``UcError`` through
    for an unmapped address (UC_ERR_READ_UNMAPPED, UC_ERR_WRITE_UNMAPPED); the
    ``Speakeasy`` wrapper turns it into ``SpeakeasyError``.  Both mean WSAEFAULT here.
    """
    try:
        # import_module: neither package ships type information, and ws2core is checked
        # with mypy --strict wherever they are installed or not.
        errors = importlib.import_module("speakeasy.errors")
        arch = importlib.import_module("speakeasy.winenv.arch")
        unicorn = importlib.import_module("unicorn")
    except ImportError as missing:
        raise ImportError(
            "ws2core.adapters.speakeasy needs Speakeasy (the speakeasy-emulator package): "
            f"pip install '{EXTRA}'  [{missing}]"
        ) from missing
    stdcall: int = arch.CALL_CONV_STDCALL
    return stdcall, (unicorn.UcError, errors.SpeakeasyError)


# --------------------------------------------------------------------------------------
# The hooked functions: each handler is a method of Installation, registered with the
# export's name, its parameters and how it fails.


@dataclass(frozen=True)
class _Api:
    """One hooked ws2_32 export.

    ``params`` has a letter per C parameter, saying how to read the raw value Speakeasy
    hands over (a register on x64 holds garbage above a 32-bit argument): ``p`` a pointer,
    SOCKET or HANDLE (pointer-sized, unsigned), ``i`` an int or long (32-bit, signed), ``u``
    a DWORD, WORD, u_int or BOOL (32-bit, unsigned).  ``result`` is ``"p"`` (pointer-sized:
    SOCKET, WSAEVENT), ``"i"`` (32 bits: int, BOOL, DWORD) or ``"v"`` (void).  ``failure``
    is returned when the handler raises WinsockError, whose code becomes the guest thread's
    last error; None for the functions without a failure value: WSAStartup returns the code
    itself, WSAGetLastError and WSASetLastError cannot fail.
    """

    name: str
    method: str
    params: str
    result: str
    failure: int | None


_APIS: list[_Api] = []


def _winsock(name: str, params: str, result: str,
             failure: int | None) -> Callable[[_Method], _Method]:
    """Register the decorated Installation method as the handler of ws2_32's ``name``."""

    def register(method: _Method) -> _Method:
        _APIS.append(_Api(name, method.__name__, params, result, failure))
        return method

    return register


class _Guest:
    """The guest as one hook call sees it: its memory, and its current thread's last error.

    Every read and write checks the whole range first: NULL, a range past the address
    space, or any unmapped byte is WinsockError(WSAEFAULT), so nothing from the emulator
    escapes a hook and no guest size can make the host allocate more than the guest has.
    """

    __slots__ = ("_emu", "_faults", "_limit")

    def __init__(self, emu: Any, faults: tuple[type[BaseException], ...], ptr_size: int) -> None:
        self._emu = emu
        self._faults = faults
        self._limit = 1 << (8 * ptr_size)

    def read(self, address: int, size: int) -> bytes:
        """``size`` bytes at ``address`` (none for size 0, whatever the address)."""
        if size == 0:
            return b""
        self._check(address, size)
        try:
            # The far end first: a range that ends unmapped is refused before a large copy.
            self._emu.mem_read(address + size - 1, 1)
            return bytes(self._emu.mem_read(address, size))
        except self._faults:
            raise WinsockError(WSAEFAULT, f"{size} bytes at {address:#x} are not all mapped"
                               ) from None

    def write(self, address: int, data: bytes) -> None:
        if not data:
            return
        self._check(address, len(data))
        try:
            self._emu.mem_write(address, data)
        except self._faults:
            raise WinsockError(WSAEFAULT, f"{len(data)} bytes at {address:#x} are not all mapped"
                               ) from None

    def read_int(self, address: int) -> int:
        """The 32-bit signed int at ``address`` (an int or long out-parameter)."""
        value: int = struct.unpack("<i", self.read(address, 4))[0]
        return value

    def write_int(self, address: int, value: int) -> None:
        self.write(address, struct.pack("<I", value & _INT32))

    def _check(self, address: int, size: int) -> None:
        if address == 0:
            raise WinsockError(WSAEFAULT, "a NULL pointer")
        if size < 0 or address + size > self._limit:
            raise WinsockError(WSAEFAULT,
                               f"{size} bytes at {address:#x} do not fit the address space")

    @property
    def last_error(self) -> int:
        """The current guest thread's last error (0 when Speakeasy has no current thread)."""
        code = self._emu.get_last_error()
        return 0 if code is None else int(code)

    @last_error.setter
    def last_error(self, code: int) -> None:
        self._emu.set_last_error(code)


def _wsadata(version: int, ptr_size: int) -> bytes:
    """The WSADATA Ws2_32 writes (winsock2.h's layout for the guest's pointer size)."""
    description, status = b"WinSock 2.0", b"Running"
    # iMaxSockets and iMaxUdpDg are for Winsock 1.1 callers; Windows gives 2.x callers 0.
    max_sockets, max_datagram = (0, 0) if version & 0xFF >= 2 else (32767, 65467)
    if ptr_size == 8:  # the pointer moved ahead of the strings, for its alignment
        return struct.pack("<HHHHQ257s129s6x", version, _HIGHEST_VERSION, max_sockets,
                           max_datagram, 0, description, status)
    return struct.pack("<HH257s129sHH2xI", version, _HIGHEST_VERSION, description, status,
                       max_sockets, max_datagram, 0)


# --------------------------------------------------------------------------------------
# The installation.


class Installation:
    """ws2core serving one Speakeasy guest: what ``install()`` returns.

    ``table`` is the ``ws2core.UpcallTable`` that holds the guest's sockets and events
    (``table.table`` its HandleTable, in the guest's ABI: ``abi`` is ``"x64"`` or
    ``"x86"``); ``provider`` the ``HostSocketProvider`` behind its sockets, started by the
    guest's WSAStartup; ``max_block`` the longest a hook waits, in seconds.  ``close()``
    (or leaving a ``with`` block) closes the provider's sockets and every handle left in the
    table.  Made by ``install()``, which checks the arguments.
    """

    def __init__(self, table: UpcallTable, provider: HostSocketProvider, max_block: float,
                 ptr_size: int, faults: tuple[type[BaseException], ...]) -> None:
        self.table = table
        self.provider = provider
        self.max_block = max_block
        self.abi = "x64" if ptr_size == 8 else "x86"
        self._ptr_size = ptr_size
        self._ptr_mask = (1 << (8 * ptr_size)) - 1
        # fd_set: u_int fd_count, padded to the alignment of the SOCKETs after it.
        self._fd_header = 8 if ptr_size == 8 else 4
        self._faults = faults

    def __repr__(self) -> str:
        return f"<ws2core Speakeasy installation ({self.abi}) over {self.table!r}>"

    def __enter__(self) -> Installation:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every socket of the provider and every handle left in the table."""
        self.provider.close()
        self.table.table.close()

    # --- the hooks

    def _hook(self, api: _Api) -> Callable[[Any, str, Any, list[int]], int | None]:
        """The Speakeasy callback ``cb(emu, api_name, original, argv)`` for one export.

        ``emu`` is Speakeasy's emulator object, ``argv`` the raw argument values; the result
        goes to the guest's eax/rax (None: left alone).  Speakeasy's own handler
        (``original``, None for the exports Speakeasy lacks) is never called.
        """
        handler = getattr(self, api.method)
        mask = {"p": self._ptr_mask, "i": _INT32, "v": 0}[api.result]
        decoders = [self._decoder(kind) for kind in api.params]

        def hook(emu: Any, api_name: str, original: Any, argv: list[int]) -> int | None:
            guest = _Guest(emu, self._faults, self._ptr_size)
            args = [decode(value) for decode, value in zip(decoders, argv)]
            try:
                result = handler(guest, *args)
            except WinsockError as error:
                if api.failure is None:
                    return error.winerror & mask
                guest.last_error = error.winerror
                result = api.failure
            return None if result is None else result & mask

        return hook

    def _decoder(self, kind: str) -> Callable[[int], int]:
        if kind == "p":
            return lambda value: value & self._ptr_mask
        if kind == "u":
            return lambda value: value & _INT32
        if kind == "i":
            return lambda value: ((value & _INT32) ^ 0x80000000) - 0x80000000
        raise ValueError(f"unknown parameter kind {kind!r}")

    @staticmethod
    def _checked(function: Callable[..., int], *args: Any) -> int:
        """Call a WSP function or an upcall with an lpErrno appended; its failure (lpErrno
        written, which happens only on failure) is raised as WinsockError."""
        error = Ref(0)
        result = function(*args, error)
        if error.value:
            raise WinsockError(error.value)
        return result

    # --- guest structures

    def _read_fd_set(self, guest: _Guest, address: int) -> bytearray | None:
        """The guest's fd_set at ``address`` (None for NULL), in the guest's layout: fd_count,
        the padding on x64, and fd_count SOCKETs, no more (a program may define a larger
        FD_SETSIZE; Windows reads fd_count entries)."""
        if not address:
            return None
        count = guest.read_int(address) & _INT32
        return bytearray(guest.read(address, self._fd_header + count * self._ptr_size))

    def _write_fd_set(self, guest: _Guest, address: int, fds: bytearray) -> None:
        """Write back a set that WSPSelect rewrote: its fd_count and its remaining entries."""
        count = int.from_bytes(fds[:4], "little")
        guest.write(address, bytes(fds[: self._fd_header + count * self._ptr_size]))

    def _address_call(self, guest: _Guest, function: Callable[..., Any], s: int, name: int,
                      namelen: int, *more: Any) -> int:
        """Run a WSP function that writes an address (WSPAccept, WSPGetSockName,
        WSPGetPeerName) with the guest's ``name`` buffer and ``namelen`` in/out length, and
        copy both back on success.  A NULL ``name`` leaves ``namelen`` alone."""
        buffer = length = None
        if name:
            length = Ref(guest.read_int(namelen)) if namelen else None
            size = 0 if length is None else max(0, min(length.value, _SOCKADDR_STORAGE))
            buffer = bytearray(guest.read(name, size))
        result = self._checked(function, s, buffer, length, *more)
        if buffer is not None and length is not None:
            guest.write(name, bytes(buffer[: length.value]))
            guest.write_int(namelen, length.value)
        return result

    def _read_sockaddr(self, guest: _Guest, name: int, namelen: int) -> bytes:
        """A sockaddr argument's bytes, for the provider to parse with ``namelen``."""
        if namelen < 0:
            raise WinsockError(WSAEFAULT, f"namelen {namelen}")
        return guest.read(name, min(namelen, _SOCKADDR_STORAGE))

    def _capped(self, seconds: float) -> float:
        """A wait of ``seconds``, at most ``max_block`` (an infinite wait included)."""
        return min(seconds, self.max_block)

    # --- start-up and sockets

    @_winsock("WSAStartup", "up", "i", None)
    def _startup(self, guest: _Guest, wVersionRequested: int, lpWSAData: int) -> int:
        requested = wVersionRequested & 0xFFFF
        major, minor = requested & 0xFF, requested >> 8
        if major == 0:
            raise WinsockError(WSAVERNOTSUPPORTED)
        version = requested if (major, minor) <= (2, 2) else _HIGHEST_VERSION
        guest.write(lpWSAData, _wsadata(version, self._ptr_size))
        code: int = self.provider.WSPStartup(self.table)
        if code:
            raise WinsockError(code)
        return 0

    @_winsock("WSACleanup", "", "i", SOCKET_ERROR)
    def _cleanup(self, guest: _Guest) -> int:
        return self._checked(self.provider.WSPCleanup)

    @_winsock("socket", "iii", "p", -1)  # INVALID_SOCKET, all ones in either ABI
    def _socket(self, guest: _Guest, af: int, type: int, protocol: int) -> int:
        return self._checked(self.provider.WSPSocket, af, type, protocol, None, 0, 0)

    @_winsock("closesocket", "p", "i", SOCKET_ERROR)
    def _closesocket(self, guest: _Guest, s: int) -> int:
        return self._checked(self.provider.WSPCloseSocket, s)

    @_winsock("bind", "ppi", "i", SOCKET_ERROR)
    def _bind(self, guest: _Guest, s: int, name: int, namelen: int) -> int:
        address = self._read_sockaddr(guest, name, namelen)
        return self._checked(self.provider.WSPBind, s, address, len(address))

    @_winsock("connect", "ppi", "i", SOCKET_ERROR)
    def _connect(self, guest: _Guest, s: int, name: int, namelen: int) -> int:
        address = self._read_sockaddr(guest, name, namelen)
        return self._checked(self.provider.WSPConnect, s, address, len(address),
                                 None, None, None, None)

    @_winsock("listen", "pi", "i", SOCKET_ERROR)
    def _listen(self, guest: _Guest, s: int, backlog: int) -> int:
        return self._checked(self.provider.WSPListen, s, backlog)

    @_winsock("accept", "ppp", "p", -1)
    def _accept(self, guest: _Guest, s: int, addr: int, addrlen: int) -> int:
        return self._address_call(guest, self.provider.WSPAccept, s, addr, addrlen, None, 0)

    @_winsock("getsockname", "ppp", "i", SOCKET_ERROR)
    def _getsockname(self, guest: _Guest, s: int, name: int, namelen: int) -> int:
        return self._address_call(guest, self.provider.WSPGetSockName, s, name, namelen)

    @_winsock("getpeername", "ppp", "i", SOCKET_ERROR)
    def _getpeername(self, guest: _Guest, s: int, name: int, namelen: int) -> int:
        return self._address_call(guest, self.provider.WSPGetPeerName, s, name, namelen)

    @_winsock("send", "ppii", "i", SOCKET_ERROR)
    def _send(self, guest: _Guest, s: int, buf: int, len: int, flags: int) -> int:
        if len < 0:
            raise WinsockError(WSAEFAULT, f"len {len}")
        sent = Ref(0)
        self._checked(self.provider.WSPSend, s, [guest.read(buf, len)], 1, sent, flags,
                      None, None, None)
        return int(sent.value)

    @_winsock("recv", "ppii", "i", SOCKET_ERROR)
    def _recv(self, guest: _Guest, s: int, buf: int, len: int, flags: int) -> int:
        if len < 0:
            raise WinsockError(WSAEFAULT, f"len {len}")
        guest.read(buf, len)  # the buffer must exist before anything is taken from the socket
        data, received = bytearray(len), Ref(0)
        try:
            self._checked(self.provider.WSPRecv, s, [data], 1, received, Ref(flags),
                          None, None, None)
        finally:  # WSAEMSGSIZE fills the buffer too
            guest.write(buf, bytes(data[: received.value]))
        return int(received.value)

    @_winsock("shutdown", "pi", "i", SOCKET_ERROR)
    def _shutdown(self, guest: _Guest, s: int, how: int) -> int:
        return self._checked(self.provider.WSPShutdown, s, how)

    @_winsock("ioctlsocket", "pip", "i", SOCKET_ERROR)
    def _ioctlsocket(self, guest: _Guest, s: int, cmd: int, argp: int) -> int:
        command = cmd & _INT32
        argument = guest.read_int(argp) & _INT32  # every command has its u_long in or out
        if command == FIONREAD:
            available = Ref(0)
            self._checked(self.provider.WSPIoctl, s, command, None, 0, available, 4, None,
                          None, None, None)
            guest.write_int(argp, available.value)
        else:
            self._checked(self.provider.WSPIoctl, s, command, argument, 4, None, 0, None,
                          None, None, None)
        return 0

    # --- select and fd_sets

    @_winsock("select", "ipppp", "i", SOCKET_ERROR)
    def _select(self, guest: _Guest, nfds: int, readfds: int, writefds: int, exceptfds: int,
                timeout: int) -> int:
        addresses = (readfds, writefds, exceptfds)
        sets = [self._read_fd_set(guest, address) for address in addresses]
        seconds = self.max_block  # a NULL timeout waits without limit
        if timeout:
            limit = TIMEVAL.from_buffer_copy(guest.read(timeout, ctypes.sizeof(TIMEVAL)))
            if limit.tv_sec < 0 or limit.tv_usec < 0:
                seconds = -1.0  # passed on for WSPSelect's WSAEINVAL
            else:
                seconds = self._capped(limit.tv_sec + limit.tv_usec / 1_000_000)
        ready = self._checked(self.provider.WSPSelect, nfds, *sets, seconds)
        for address, fds in zip(addresses, sets):
            if fds is not None:
                self._write_fd_set(guest, address, fds)
        return ready

    @_winsock("__WSAFDIsSet", "pp", "i", 0)
    def _fd_is_set(self, guest: _Guest, fd: int, set: int) -> int:
        fds = self._read_fd_set(guest, set)
        if fds is None:
            raise WinsockError(WSAEFAULT, "a NULL fd_set")
        return int(self.table.WPUFDIsSet(fd, fds))

    # --- events

    @_winsock("WSACreateEvent", "", "p", WSA_INVALID_EVENT)
    def _create_event(self, guest: _Guest) -> int:
        return self._checked(self.table.WPUCreateEvent)

    @_winsock("WSASetEvent", "p", "i", FALSE)
    def _set_event(self, guest: _Guest, hEvent: int) -> int:
        return self._checked(self.table.WPUSetEvent, hEvent)

    @_winsock("WSAResetEvent", "p", "i", FALSE)
    def _reset_event(self, guest: _Guest, hEvent: int) -> int:
        return self._checked(self.table.WPUResetEvent, hEvent)

    @_winsock("WSACloseEvent", "p", "i", FALSE)
    def _close_event(self, guest: _Guest, hEvent: int) -> int:
        return self._checked(self.table.WPUCloseEvent, hEvent)

    @_winsock("WSAWaitForMultipleEvents", "upuuu", "i", WSA_WAIT_FAILED)
    def _wait(self, guest: _Guest, cEvents: int, lphEvents: int, fWaitAll: int, dwTimeout: int,
              fAlertable: int) -> int:
        handles: Sequence[int] = ()
        if 1 <= cEvents <= WSA_MAXIMUM_WAIT_EVENTS:  # else the table refuses the count unread
            data = guest.read(lphEvents, cEvents * self._ptr_size)
            handles = struct.unpack(f"<{cEvents}{'Q' if self._ptr_size == 8 else 'I'}", data)
        # WSA_INFINITE is the longest timeout of all: capped like any other.
        timeout_ms = math.ceil(self._capped(dwTimeout / 1000) * 1000)
        result = self.table.WSAWaitForMultipleEvents(cEvents, handles, fWaitAll, timeout_ms,
                                                     fAlertable)
        if result == WSA_WAIT_FAILED:
            raise WinsockError(self.table.WSAGetLastError())
        return result

    @_winsock("WSAEventSelect", "ppi", "i", SOCKET_ERROR)
    def _event_select(self, guest: _Guest, s: int, hEventObject: int, lNetworkEvents: int) -> int:
        return self._checked(self.provider.WSPEventSelect, s, hEventObject, lNetworkEvents)

    @_winsock("WSAEnumNetworkEvents", "ppp", "i", SOCKET_ERROR)
    def _enum_network_events(self, guest: _Guest, s: int, hEventObject: int,
                             lpNetworkEvents: int) -> int:
        events = WSANETWORKEVENTS()
        if lpNetworkEvents:
            # Checked before the call, which clears the record: it must not be lost.
            guest.read(lpNetworkEvents, ctypes.sizeof(events))
        # NULL goes on as None: the provider's WSAEFAULT, after its socket check.
        self._checked(self.provider.WSPEnumNetworkEvents, s, hEventObject,
                      events if lpNetworkEvents else None)
        guest.write(lpNetworkEvents, bytes(events))
        return 0

    # --- the last error

    @_winsock("WSAGetLastError", "", "i", None)
    def _get_last_error(self, guest: _Guest) -> int:
        return guest.last_error

    @_winsock("WSASetLastError", "i", "v", None)
    def _set_last_error(self, guest: _Guest, iError: int) -> None:
        guest.last_error = iError


HOOKED_APIS: Final[tuple[str, ...]] = tuple(api.name for api in _APIS)
"""The ws2_32 exports ``install()`` hooks."""


def install(se: Any, table: UpcallTable | None = None, provider: HostSocketProvider | None = None,
            *, max_block: float = 10.0) -> Installation:
    """Serve the Winsock calls of ``se``'s guest (a ``speakeasy.Speakeasy``) from ws2core.

    Call it after ``se.load_module()`` (or ``load_shellcode``): the guest's pointer size
    chooses the ABI, ``"x64"`` or ``"x86"``.  ``table``: the ``ws2core.UpcallTable`` to serve
    from, in that ABI (default: a new one); ``provider``: the ``HostSocketProvider`` behind
    its sockets, not started with another table (default: a new one).  ``max_block``: the
    longest, in seconds, that one call may block the emulator in a wait
    (WSAWaitForMultipleEvents, select), since no other guest thread runs meanwhile.

    Registers one hook per ``HOOKED_APIS`` export of ws2_32 with ``se.add_api_hook``, with
    the export's argument count and stdcall (WSAAPI), which Speakeasy uses to clean a 32-bit
    guest's stack for the exports it does not implement itself.  Returns the
    ``Installation``; ImportError naming the extra ``ws2core[speakeasy]`` when Speakeasy is
    missing.
    """
    stdcall, faults = _import_speakeasy()
    try:
        ptr_size = se.get_ptr_size()
    except AttributeError:
        raise RuntimeError(
            "install() goes after se.load_module() (or load_shellcode()): the guest's pointer "
            "size chooses the ABI") from None
    if ptr_size not in (4, 8):
        raise ValueError(f"a guest pointer of {ptr_size} bytes is neither x86 nor x64")
    abi = "x64" if ptr_size == 8 else "x86"
    if table is None:
        table = UpcallTable(abi=abi)
    elif not isinstance(table, UpcallTable):
        raise TypeError(f"table must be a ws2core.UpcallTable, not {type(table).__name__}")
    elif table.table.abi != abi:
        raise ValueError(f"the table's ABI is {table.table.abi!r}; the guest is {abi}")
    if provider is None:
        provider = HostSocketProvider()
    elif not isinstance(provider, HostSocketProvider):
        raise TypeError(f"provider must be a HostSocketProvider, not {type(provider).__name__}")
    elif provider.upcalls is not None and provider.upcalls is not table:
        raise ValueError("the provider already serves another UpcallTable")
    max_block = float(max_block)
    if not (math.isfinite(max_block) and max_block >= 0):
        raise ValueError(f"max_block must be a finite number of seconds >= 0, not {max_block}")
    installation = Installation(table, provider, max_block, ptr_size, faults)
    for api in _APIS:
        se.add_api_hook(installation._hook(api), "ws2_32", api.name, argc=len(api.params),
                        call_conv=stdcall)
    return installation
