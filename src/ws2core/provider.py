"""HostSocketProvider: a Winsock 2 service provider over the host's real sockets.

The provider implements the core of the SPI (the ``WSP…`` functions a transport provider
exports) on top of the host's ``socket`` module, and leaves to Ws2_32, through the upcall
table it is handed in ``WSPStartup``, everything Ws2_32 does: the socket handles
(WPUCreateSocketHandle, with the provider's per-socket state as the context), finding that
state again (WPUQuerySocketHandleContext), closing them (WPUCloseSocketHandle), fd_set
membership (WPUFDIsSet) and the events that WSPEventSelect signals (WPUSetEvent,
WPUResetEvent).  It is the proof that the table does its job, an example to copy, and a
provider that emulators can put behind their Winsock hooks.

Conventions, as in C: every ``WSP…`` method takes positional arguments in ws2spi.h's order
and returns what the Windows function returns (0, a count or a SOCKET on success;
SOCKET_ERROR or INVALID_SOCKET on failure, with the Winsock code in ``lpErrno``, which is
written only on failure).  Constants are the Windows values from ``ws2core`` (AF_INET6 is
23 there, not the host's 10).  Where C passes a Windows structure, the natural Python form
is taken (see each docstring):

- a ``sockaddr`` is an address tuple, ``(host, port)`` for AF_INET, ``(host, port)`` or
  ``(host, port, flowinfo, scope_id)`` for AF_INET6, with a numeric host ("" is the any
  address); or bytes in the Windows SOCKADDR_IN (16 bytes) / SOCKADDR_IN6 (28 bytes)
  layout, whose length argument is then checked as C checks it.  An address *written*
  by the provider goes to a ``Ref`` (as a tuple) or to a writable buffer (as Windows
  bytes), its length to a ``Ref``;
- a WSABUF array is a sequence of buffers (bytes-like to send, writable to receive);
- out-parameters (``lpNumberOfBytesSent``, ``lpFlags``, ``addrlen`` ...) are objects with
  a writable ``.value``: ``ws2core.Ref`` or a ctypes integer;
- fd_sets are ``ws2core.FdSet`` or any writable buffer in the layout of the upcall
  table's ABI (``UpcallTable(abi="x86")``: 4-byte SOCKETs); a TIMEVAL is
  ``TIMEVAL`` below or a number of seconds; WSANETWORKEVENTS is ``WSANETWORKEVENTS``.

Overlapped I/O, WSPAsyncSelect (there are no windows), connect data and QOS are not
provided.  Blocking calls block the calling thread only, without the GIL; one reactor
thread per provider, started by the first WSPEventSelect, watches every socket that has an
event associated and records its network events.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import functools
import select
import selectors
import socket
import struct
import termios
import threading
import time
from collections.abc import Callable, Sequence
from operator import index as _index
from typing import Any, Final

from . import FdSet, Ref, constants
from ._shared import WinsockError, require_out_parameter
from .constants import (
    AF_INET,
    AF_INET6,
    CF_ACCEPT,
    CF_REJECT,
    FD_ACCEPT,
    FD_ACCEPT_BIT,
    FD_ALL_EVENTS,
    FD_CLOSE,
    FD_CLOSE_BIT,
    FD_CONNECT,
    FD_CONNECT_BIT,
    FD_MAX_EVENTS,
    FD_OOB,
    FD_READ,
    FD_READ_BIT,
    FD_WRITE,
    FD_WRITE_BIT,
    FIONBIO,
    FIONREAD,
    INVALID_SOCKET,
    IPPROTO_IP,
    IPPROTO_IPV6,
    IPPROTO_TCP,
    IPPROTO_UDP,
    IPV6_V6ONLY,
    MSG_DONTROUTE,
    MSG_OOB,
    MSG_PEEK,
    MSG_WAITALL,
    SD_BOTH,
    SD_RECEIVE,
    SD_SEND,
    SO_ACCEPTCONN,
    SO_BROADCAST,
    SO_DONTROUTE,
    SO_ERROR,
    SO_KEEPALIVE,
    SO_LINGER,
    SO_OOBINLINE,
    SO_RCVBUF,
    SO_RCVTIMEO,
    SO_REUSEADDR,
    SO_SNDBUF,
    SO_SNDTIMEO,
    SO_TYPE,
    SOCK_DGRAM,
    SOCK_STREAM,
    SOCKET_ERROR,
    SOL_SOCKET,
    TCP_NODELAY,
    WSAEADDRNOTAVAIL,
    WSAEAFNOSUPPORT,
    WSAEALREADY,
    WSAECONNREFUSED,
    WSAECONNRESET,
    WSAEDESTADDRREQ,
    WSAEFAULT,
    WSAEINTR,
    WSAEINVAL,
    WSAEISCONN,
    WSAEMSGSIZE,
    WSAENOBUFS,
    WSAENOPROTOOPT,
    WSAENOTCONN,
    WSAENOTSOCK,
    WSAEOPNOTSUPP,
    WSAEPROTONOSUPPORT,
    WSAEPROTOTYPE,
    WSAESHUTDOWN,
    WSAESOCKTNOSUPPORT,
    WSAETIMEDOUT,
    WSAEWOULDBLOCK,
    WSANOTINITIALISED,
    WSASYSCALLFAILURE,
)
from . import upcalls as _upcalls

__all__ = ["HOST_ERRORS", "HostSocketProvider", "ProviderSocket", "TIMEVAL", "WSANETWORKEVENTS"]

# --------------------------------------------------------------------------------------
# Host errors -> Winsock codes: the one table.  Mapped by name, never by arithmetic: the
# Winsock codes are 10000 + the BSD numbers, which are not Linux's (ECONNREFUSED is 111).

_HOST_ERROR_NAMES: Final = {
    "EWOULDBLOCK": "WSAEWOULDBLOCK",
    "EAGAIN": "WSAEWOULDBLOCK",
    "EINPROGRESS": "WSAEWOULDBLOCK",   # a non-blocking connect says WSAEWOULDBLOCK on Windows
    "EALREADY": "WSAEALREADY",
    "EINTR": "WSAEINTR",
    "EBADF": "WSAENOTSOCK",
    "ENOTSOCK": "WSAENOTSOCK",
    "EACCES": "WSAEACCES",
    "EPERM": "WSAEACCES",
    "EFAULT": "WSAEFAULT",
    "EINVAL": "WSAEINVAL",
    "EMFILE": "WSAEMFILE",
    "ENFILE": "WSAEMFILE",
    "EDESTADDRREQ": "WSAEDESTADDRREQ",
    "EMSGSIZE": "WSAEMSGSIZE",
    "EPROTOTYPE": "WSAEPROTOTYPE",
    "ENOPROTOOPT": "WSAENOPROTOOPT",
    "EPROTONOSUPPORT": "WSAEPROTONOSUPPORT",
    "ESOCKTNOSUPPORT": "WSAESOCKTNOSUPPORT",
    "EOPNOTSUPP": "WSAEOPNOTSUPP",
    "EPFNOSUPPORT": "WSAEPFNOSUPPORT",
    "EAFNOSUPPORT": "WSAEAFNOSUPPORT",
    "EADDRINUSE": "WSAEADDRINUSE",
    "EADDRNOTAVAIL": "WSAEADDRNOTAVAIL",
    "ENETDOWN": "WSAENETDOWN",
    "ENETUNREACH": "WSAENETUNREACH",
    "ENETRESET": "WSAENETRESET",
    "ECONNABORTED": "WSAECONNABORTED",
    "ECONNRESET": "WSAECONNRESET",
    "EPIPE": "WSAECONNRESET",          # the peer is gone (a local shutdown is caught first)
    "ENOBUFS": "WSAENOBUFS",
    "ENOMEM": "WSAENOBUFS",
    "EISCONN": "WSAEISCONN",
    "ENOTCONN": "WSAENOTCONN",
    "ESHUTDOWN": "WSAESHUTDOWN",
    "ETIMEDOUT": "WSAETIMEDOUT",
    "ECONNREFUSED": "WSAECONNREFUSED",
    "EHOSTDOWN": "WSAEHOSTDOWN",
    "EHOSTUNREACH": "WSAEHOSTUNREACH",
}


def _host_error_table() -> dict[int, int]:
    table: dict[int, int] = {}
    for host_name, winsock_name in _HOST_ERROR_NAMES.items():
        number = getattr(errno, host_name, None)
        if number is not None:  # not every host has every name
            table.setdefault(number, getattr(constants, winsock_name))
    return table


HOST_ERRORS: Final[dict[int, int]] = _host_error_table()
"""Host ``errno`` value -> the Winsock error code the provider reports for it.  A host error
missing from the table is reported as WSASYSCALLFAILURE."""


def winsock_error(error: OSError) -> int:
    """The Winsock code for a host OSError (HOST_ERRORS; WSASYSCALLFAILURE if unmapped)."""
    if isinstance(error, WinsockError):
        return error.winerror
    return HOST_ERRORS.get(error.errno or 0, WSASYSCALLFAILURE)


# --------------------------------------------------------------------------------------
# Windows structures the provider reads and writes.


class TIMEVAL(ctypes.Structure):
    """winsock2.h's ``struct timeval`` (two 32-bit longs, as on Windows), for WSPSelect."""

    _fields_ = [("tv_sec", ctypes.c_int32), ("tv_usec", ctypes.c_int32)]


class WSANETWORKEVENTS(ctypes.Structure):
    """winsock2.h's WSANETWORKEVENTS (44 bytes), filled by WSPEnumNetworkEvents.

    ``lNetworkEvents`` holds the FD_* bits recorded; ``iErrorCode[FD_X_BIT]`` the error code
    that came with FD_X (0, or WSAECONNREFUSED for a failed FD_CONNECT, say).
    """

    _fields_ = [
        ("lNetworkEvents", ctypes.c_int32),
        ("iErrorCode", ctypes.c_int32 * FD_MAX_EVENTS),
    ]


_HOST_FAMILY: Final = {AF_INET: socket.AF_INET, AF_INET6: socket.AF_INET6}
_SOCKADDR_SIZE: Final = {AF_INET: 16, AF_INET6: 28}
_ANY_ADDRESS: Final = {AF_INET: "0.0.0.0", AF_INET6: "::"}
_HOST_TYPE: Final = {SOCK_STREAM: socket.SOCK_STREAM, SOCK_DGRAM: socket.SOCK_DGRAM}
_PROTOCOL_OF_TYPE: Final = {SOCK_STREAM: IPPROTO_TCP, SOCK_DGRAM: IPPROTO_UDP}
_SHUTDOWN_HOW: Final = {SD_RECEIVE: socket.SHUT_RD, SD_SEND: socket.SHUT_WR, SD_BOTH: socket.SHUT_RDWR}
_HOST_MSG: Final = {MSG_OOB: socket.MSG_OOB, MSG_PEEK: socket.MSG_PEEK,
                    MSG_DONTROUTE: socket.MSG_DONTROUTE, MSG_WAITALL: socket.MSG_WAITALL}
_NO_SIGNAL: Final = getattr(socket, "MSG_NOSIGNAL", 0)  # SIGPIPE is ignored by Python anyway
_MAX_IOV: Final = 1024      # buffers per host sendmsg/recvmsg call (Linux's IOV_MAX)
_CANCEL_CHECK: Final = 0.5  # seconds: how often a blocked call looks whether it was closed
_CONNECTED_PEER: Final = object()
_LATE_CONNECT_ERRORS: Final = {errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH,
                               errno.ETIMEDOUT}  # WSPSend's destination: the connected peer


def _parse_address(name: Any, namelen: Any, socket_family: int, wrong_family: int) -> tuple[Any, ...]:
    """The host address tuple for a ``sockaddr`` argument (see the module docstring).

    An address of another family than the socket's fails with ``wrong_family`` (WSAEFAULT
    for WSPBind, WSAEAFNOSUPPORT for WSPConnect and WSPSendTo), a malformed one with
    WSAEFAULT.
    """
    if isinstance(name, tuple):
        if not name or not isinstance(name[0], str):
            raise TypeError(f"an address tuple starts with a numeric host string, not {name!r}")
        host = name[0]
        family = socket_family if host == "" else _family_of(host)
        if family is None:
            raise WinsockError(WSAEFAULT, f"not a numeric address: {host!r}")
        if family != socket_family:
            raise WinsockError(wrong_family, f"{host!r} is not an address of the socket's family")
        expected = (2,) if family == AF_INET else (2, 4)
        if len(name) not in expected:
            raise WinsockError(WSAEFAULT, f"an address tuple of {len(name)} items: {name!r}")
        rest = tuple(_index(part) for part in name[1:])
        if not 0 <= rest[0] <= 0xFFFF or any(not 0 <= part <= 0xFFFFFFFF for part in rest[1:]):
            raise WinsockError(WSAEFAULT, f"a port or field out of range: {name!r}")
        return (host or _ANY_ADDRESS[family], *rest)
    try:
        data = memoryview(name).cast("B")
    except TypeError:
        raise TypeError(
            "an address is a tuple or bytes in the Windows sockaddr layout, "
            f"not {type(name).__name__}"
        ) from None
    length = _index(namelen)
    if length > len(data) or length < 2:
        raise WinsockError(WSAEFAULT, f"namelen {length} for a sockaddr of {len(data)} bytes")
    family = int.from_bytes(data[0:2], "little")
    if family not in _SOCKADDR_SIZE:
        raise WinsockError(WSAEAFNOSUPPORT if wrong_family == WSAEAFNOSUPPORT else WSAEFAULT)
    if length < _SOCKADDR_SIZE[family]:
        raise WinsockError(WSAEFAULT, f"namelen {length} is too small for the address family")
    if family != socket_family:
        raise WinsockError(wrong_family, "the address is not of the socket's family")
    port = int.from_bytes(data[2:4], "big")
    if family == AF_INET:
        return (socket.inet_ntop(socket.AF_INET, data[4:8]), port)
    flowinfo = int.from_bytes(data[4:8], "big")
    scope_id = int.from_bytes(data[24:28], "little")
    return (socket.inet_ntop(socket.AF_INET6, data[8:24]), port, flowinfo, scope_id)


def _unreachable(family: int, address: tuple[Any, ...]) -> bool:
    """Port 0 or the any address, which Windows refuses as a destination (a host may take
    them for its loopback)."""
    return address[1] == 0 or not any(socket.inet_pton(_HOST_FAMILY[family], address[0]))


def _family_of(host: str) -> int | None:
    for family, host_family in _HOST_FAMILY.items():
        try:
            socket.inet_pton(host_family, host)
        except OSError:
            continue
        return family
    return None


def _sockaddr_bytes(family: int, address: tuple[Any, ...]) -> bytes:
    """The Windows SOCKADDR_IN / SOCKADDR_IN6 bytes of a host address tuple."""
    port: bytes = address[1].to_bytes(2, "big")
    if family == AF_INET:
        packed = socket.inet_pton(socket.AF_INET, address[0])
        return struct.pack("<H", AF_INET) + port + packed + bytes(8)
    host = address[0].split("%", 1)[0]  # the host names a link-local scope "fe80::1%eth0"
    packed = socket.inet_pton(socket.AF_INET6, host)
    flowinfo: bytes = address[2].to_bytes(4, "big")
    return struct.pack("<H", AF_INET6) + port + flowinfo + packed + struct.pack("<I", address[3])


def _windows_address(family: int, address: tuple[Any, ...]) -> tuple[Any, ...]:
    """The tuple an out-address Ref receives: (host, port) or (host, port, flowinfo, scope_id)."""
    if family == AF_INET:
        return (address[0], address[1])
    return (address[0].split("%", 1)[0], address[1], address[2], address[3])


def _check_address_out(name: Any, namelen: Any, family: int) -> None:
    """Before the operation: WSAEFAULT if the out-address cannot hold the family's sockaddr."""
    size = _SOCKADDR_SIZE[family]
    if namelen is not None:
        require_out_parameter(namelen, "the address length")
        capacity = namelen.value
        if capacity is not None and _index(capacity) < size:
            raise WinsockError(WSAEFAULT, f"the address length {capacity} is below {size}")
    if name is not None and not hasattr(name, "value"):
        view = _writable(name, "the address")
        if len(view) < size:
            raise WinsockError(WSAEFAULT, f"a {len(view)}-byte buffer for a {size}-byte sockaddr")


def _store_address(name: Any, namelen: Any, family: int, address: tuple[Any, ...]) -> None:
    """Write an address the operation produced (checked beforehand by _check_address_out)."""
    if name is not None:
        if hasattr(name, "value"):
            name.value = _windows_address(family, address)
        else:
            encoded = _sockaddr_bytes(family, address)
            _writable(name, "the address")[: len(encoded)] = encoded
    if namelen is not None:
        namelen.value = _SOCKADDR_SIZE[family]


def _writable(buffer: Any, what: str) -> memoryview:
    try:
        view = memoryview(buffer)
    except TypeError:
        raise TypeError(f"{what} must be a Ref or a writable buffer, not {type(buffer).__name__}") from None
    if view.readonly:
        raise WinsockError(WSAEFAULT, f"{what} is a read-only buffer")
    return view.cast("B")


def _buffer_list(lpBuffers: Any, dwBufferCount: Any) -> list[memoryview]:
    """The first dwBufferCount buffers of a WSABUF array, as byte views.

    A sequence shorter than its count is a ValueError (C would read past the array); an
    item that is not a buffer is a TypeError.
    """
    count = dwBufferCount if dwBufferCount.__class__ is int else _index(dwBufferCount)
    if count < 0:
        raise ValueError(f"dwBufferCount must be a DWORD, not {count}")
    items: Sequence[Any]
    if lpBuffers.__class__ is list or isinstance(lpBuffers, Sequence):
        items = lpBuffers[:count]
    else:
        items = list(lpBuffers)[:count]
    if len(items) < count:
        raise ValueError(f"lpBuffers holds {len(items)} buffers, dwBufferCount says {count}")
    views = []
    for item in items:
        try:
            view = memoryview(item)
        except TypeError:
            raise TypeError(f"a WSABUF is a buffer, not {type(item).__name__}") from None
        if view.ndim != 1 or view.format != "B":
            view = view.cast("B")
        views.append(view)
    return views


def _require_no_overlapped(lpOverlapped: Any, lpCompletionRoutine: Any) -> None:
    if lpOverlapped is not None or lpCompletionRoutine is not None:
        # Windows ignores lpOverlapped on a socket made without WSA_FLAG_OVERLAPPED; this
        # provider has no overlapped sockets and says so rather than block unasked.
        raise WinsockError(WSAEINVAL, "overlapped I/O is not supported by this provider")


# --------------------------------------------------------------------------------------
# Per-socket state: the context each SOCKET carries in the upcall table.

# Connection states of a stream socket (a datagram socket is always DATAGRAM).
UNCONNECTED: Final = "unconnected"
CONNECTING: Final = "connecting"
CONNECTED: Final = "connected"
LISTENING: Final = "listening"
DATAGRAM: Final = "datagram"


class ProviderSocket:
    """What the provider keeps per socket: the context of its SOCKET in the upcall table.

    ``host`` is the host socket (always non-blocking at the host: the provider blocks in
    its own waits, so a close can interrupt them); ``state`` one of "unconnected",
    "connecting", "connected", "listening" (stream) or "datagram".  The event-select fields
    follow WSAEventSelect: ``event`` and ``network_events`` (the FD_* mask) as associated,
    ``recorded`` and ``error_codes`` as WSPEnumNetworkEvents will report them, and
    ``held``: events recorded and not yet re-enabled by their re-enabling call (a new
    WSPEventSelect does not re-enable them); ``connect_owed``: the error of a connect that
    finished while FD_CONNECT was not wanted (-1: none), recorded when it is.
    """

    __slots__ = (
        "provider", "handle", "host", "family", "type", "state", "nonblocking", "closed",
        "users", "peer_closed", "shut_send", "shut_receive", "pending_error",
        "receive_timeout", "send_timeout", "event", "network_events", "recorded",
        "error_codes", "held", "connect_owed", "read_parked", "interest", "watched",
        "stream_error",
        "__weakref__",
    )

    def __init__(self, provider: HostSocketProvider, host: socket.socket, family: int,
                 type: int, state: str) -> None:
        self.provider = provider
        self.handle = INVALID_SOCKET
        self.host = host
        self.family = family
        self.type = type
        self.state = state
        self.nonblocking = False
        self.closed = False
        self.users = 0             # WSP calls in progress; the host socket closes at 0
        self.peer_closed = False   # end of stream or reset seen
        self.shut_send = False
        self.shut_receive = False
        self.pending_error = 0     # SO_ERROR: a failed non-blocking connect's code
        self.receive_timeout = 0   # SO_RCVTIMEO, ms; 0 = none
        self.send_timeout = 0
        self.event = 0
        self.network_events = 0
        self.recorded = 0
        self.error_codes = [0] * FD_MAX_EVENTS
        self.held = 0
        self.connect_owed = -1
        self.read_parked = False   # readable, but nothing to record until the next receive
        self.interest = 0          # selector events the reactor should watch
        self.watched = False       # ever handed to the reactor: it must let go before close
        self.stream_error = 0      # a reset the reactor saw first; receives report it

    def __repr__(self) -> str:
        kind = "TCP" if self.type == SOCK_STREAM else "UDP"
        family = "IPv4" if self.family == AF_INET else "IPv6"
        flags = " closed" if self.closed else ""
        return f"<ProviderSocket {self.handle:#x} {kind}/{family} {self.state}{flags}>"


def _host_flags(flags: int) -> int:
    """The host's MSG_* bits for Windows ones (the callers have refused any others)."""
    host = _NO_SIGNAL
    for bit, host_bit in _HOST_MSG.items():
        if flags & bit:
            host |= host_bit
    return host


def _set_host_timeouts(host: socket.socket, receive_ms: int, send_ms: int) -> None:
    """SO_RCVTIMEO / SO_SNDTIMEO in the host's kernel, where its blocking calls sleep."""
    for name, milliseconds in ((socket.SO_RCVTIMEO, receive_ms), (socket.SO_SNDTIMEO, send_ms)):
        seconds, rest = divmod(milliseconds, 1000)
        host.setsockopt(socket.SOL_SOCKET, name, struct.pack("ll", seconds, rest * 1000))


# Socket options: (Windows level, name) -> (host level, host name, kind).  "bool" options
# read back as exactly 0 or 1, as Windows' BOOL options do.
_HOST_OPTIONS: Final[dict[tuple[int, int], tuple[int, int, str]]] = {
    (SOL_SOCKET, SO_REUSEADDR): (socket.SOL_SOCKET, socket.SO_REUSEADDR, "bool"),
    (SOL_SOCKET, SO_KEEPALIVE): (socket.SOL_SOCKET, socket.SO_KEEPALIVE, "bool"),
    (SOL_SOCKET, SO_BROADCAST): (socket.SOL_SOCKET, socket.SO_BROADCAST, "bool"),
    (SOL_SOCKET, SO_OOBINLINE): (socket.SOL_SOCKET, socket.SO_OOBINLINE, "bool"),
    (SOL_SOCKET, SO_DONTROUTE): (socket.SOL_SOCKET, socket.SO_DONTROUTE, "bool"),
    (SOL_SOCKET, SO_RCVBUF): (socket.SOL_SOCKET, socket.SO_RCVBUF, "int"),
    (SOL_SOCKET, SO_SNDBUF): (socket.SOL_SOCKET, socket.SO_SNDBUF, "int"),
    (SOL_SOCKET, SO_LINGER): (socket.SOL_SOCKET, socket.SO_LINGER, "linger"),
    (IPPROTO_TCP, TCP_NODELAY): (socket.IPPROTO_TCP, socket.TCP_NODELAY, "bool"),
    (IPPROTO_IPV6, IPV6_V6ONLY): (socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, "bool"),
}
# Options the provider answers itself.
_OWN_OPTIONS: Final = {(SOL_SOCKET, SO_RCVTIMEO), (SOL_SOCKET, SO_SNDTIMEO),
                       (SOL_SOCKET, SO_TYPE), (SOL_SOCKET, SO_ERROR), (SOL_SOCKET, SO_ACCEPTCONN)}
_GET_ONLY: Final = {SO_TYPE, SO_ERROR, SO_ACCEPTCONN}
_LEVELS: Final = {SOL_SOCKET, IPPROTO_IP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_IPV6}


def _option_value_in(optval: Any, optlen: Any, kind: str) -> Any:
    """An option value to set: an int, a (l_onoff, l_linger) tuple, or Windows bytes."""
    if isinstance(optval, int) or (kind != "linger" and hasattr(optval, "__index__")):
        if kind == "linger":
            raise TypeError("SO_LINGER takes an (l_onoff, l_linger) tuple or 4 bytes")
        value = _index(optval)
        if not -(1 << 31) <= value < (1 << 32):
            raise WinsockError(WSAEINVAL, f"{value} does not fit the option's C type")
        return value
    if isinstance(optval, tuple):
        if kind != "linger" or len(optval) != 2:
            raise TypeError(f"a tuple option value is SO_LINGER's (l_onoff, l_linger), not {optval!r}")
        onoff, seconds = (_index(part) for part in optval)
        if not (0 <= onoff <= 0xFFFF and 0 <= seconds <= 0xFFFF):
            raise WinsockError(WSAEINVAL, f"LINGER fields are u_short: {optval!r}")
        return (onoff, seconds)
    try:
        data = memoryview(optval).cast("B")
    except TypeError:
        raise TypeError(f"an option value is an int, a tuple or bytes, not {type(optval).__name__}") from None
    length = _index(optlen)
    if length > len(data) or length < 4:
        raise WinsockError(WSAEFAULT, f"optlen {length} for an option of 4 bytes")
    if kind == "linger":
        return struct.unpack_from("<HH", data)
    return struct.unpack_from("<i", data)[0]


def _option_value_out(optval: Any, optlen: Any, value: Any) -> None:
    """Write an option's value to a Ref (int or tuple) or a buffer (Windows bytes)."""
    if hasattr(optval, "value"):
        optval.value = value
    else:
        data = struct.pack("<HH", *value) if isinstance(value, tuple) else struct.pack("<i", value)
        _writable(optval, "optval")[:4] = data
    optlen.value = 4


# --------------------------------------------------------------------------------------
# The provider.


class HostSocketProvider:
    """A Winsock service provider over the host's sockets, driven through an UpcallTable.

    ``HostSocketProvider(catalog_entry_id=1001)``; then ``WSPStartup(upcall_table)`` hands it
    the Ws2_32 it serves, as Ws2_32 hands a provider its WSPUPCALLTABLE.  Every socket it
    makes is a handle of that table (``WPUCreateSocketHandle(catalog_entry_id, state, …)``),
    whose context is the socket's ``ProviderSocket``.  ``WSPCleanup`` (or leaving a ``with``
    block) closes every socket still open and stops the reactor.  Thread-safe: any thread may
    call any function; a call blocked on a socket that another thread closes returns
    SOCKET_ERROR with WSAEINTR.
    """

    def __init__(self, catalog_entry_id: int = 1001) -> None:
        self.catalog_entry_id = _index(catalog_entry_id)
        if not 0 <= self.catalog_entry_id <= 0xFFFFFFFF:
            raise ValueError(f"catalog_entry_id must be a DWORD, not {self.catalog_entry_id}")
        self.upcalls: _upcalls.UpcallTable | None = None
        self._startups = 0
        self._lock = threading.Lock()
        self._sockets: set[ProviderSocket] = set()
        self._reactor: _Reactor | None = None

    def __repr__(self) -> str:
        with self._lock:
            count, reactor = len(self._sockets), self._reactor is not None
        where = "not started" if self.upcalls is None else f"{count} sockets"
        return (f"<HostSocketProvider catalog entry {self.catalog_entry_id}: {where}"
                f"{', reactor running' if reactor else ''}>")

    def __enter__(self) -> HostSocketProvider:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- start-up and clean-up

    def WSPStartup(self, UpcallTable: _upcalls.UpcallTable, /) -> int:
        """Start serving ``UpcallTable`` (a ``ws2core.UpcallTable``); returns 0.

        As on Windows, start-ups are counted and each needs its WSPCleanup; a start-up with
        another table while one is served returns WSAEINVAL (the error code is the result:
        WSPStartup has no lpErrno).
        """
        if not isinstance(UpcallTable, _upcalls.UpcallTable):
            raise TypeError(f"WSPStartup takes a ws2core.UpcallTable, not {type(UpcallTable).__name__}")
        with self._lock:
            if self.upcalls is not None and self.upcalls is not UpcallTable:
                return WSAEINVAL
            self.upcalls = UpcallTable
            self._startups += 1
        return 0

    def WSPCleanup(self, lpErrno: Any, /) -> int:
        """End one WSPStartup; the last one closes every open socket and stops the reactor.

        0, or SOCKET_ERROR with WSANOTINITIALISED when there was no start-up to end.
        """
        require_out_parameter(lpErrno, "lpErrno")
        with self._lock:
            if self._startups == 0:
                lpErrno.value = WSANOTINITIALISED
                return SOCKET_ERROR
            self._startups -= 1
            last = self._startups == 0
        if last:
            self.close()
        return 0

    def close(self) -> None:
        """Close every socket this provider still has and stop its reactor, whatever the
        start-up count (what leaving a ``with`` block does)."""
        with self._lock:
            sockets = sorted(self._sockets, key=lambda sock: sock.handle)
        for sock in sockets:
            self._close(sock)
        with self._lock:
            reactor, self._reactor = self._reactor, None
            self.upcalls = None
            self._startups = 0
        if reactor is not None:
            reactor.stop()

    # --- finding a socket: the context of its handle

    def _enter(self, s: Any, lpErrno: Any) -> ProviderSocket | None:
        """The socket behind handle ``s``, counted as in use; None with lpErrno written."""
        upcalls = self.upcalls
        if upcalls is None:
            lpErrno.value = WSANOTINITIALISED
            return None
        context = Ref()
        if upcalls.WPUQuerySocketHandleContext(s, context, lpErrno) != 0:
            return None  # WSAENOTSOCK is in lpErrno already
        sock = context.value
        with self._lock:
            if sock.__class__ is not ProviderSocket or sock.provider is not self or sock.closed:
                lpErrno.value = WSAENOTSOCK  # another provider's socket, or closing now
                return None
            sock.users += 1
        return sock

    def _leave(self, sock: ProviderSocket) -> None:
        with self._lock:
            sock.users -= 1
            last = sock.closed and sock.users == 0
        if last:
            sock.host.close()

    def _call(self, s: Any, lpErrno: Any, failure: int, body: Callable[..., int], *args: Any) -> int:
        """Run ``body(sock, *args)`` on the socket behind ``s``; a WinsockError or a host
        OSError becomes ``failure`` with its code in lpErrno."""
        require_out_parameter(lpErrno, "lpErrno")
        sock = self._enter(s, lpErrno)
        if sock is None:
            return failure
        try:
            return body(sock, *args)
        except OSError as error:
            # A host error after a close in another thread is that close's doing.
            lpErrno.value = WSAEINTR if sock.closed else winsock_error(error)
            return failure
        finally:
            self._leave(sock)

    # --- blocking: the host socket is in the Windows socket's mode, so a blocking call
    # sleeps in the host's kernel without the GIL, as a raw socket would.  A close from
    # another thread shuts the host socket down, which wakes it; it then reports WSAEINTR.

    def _resolve_connect(self, sock: ProviderSocket) -> None:
        """Settle a non-blocking connect once the host has: CONNECTED, or UNCONNECTED with
        the error kept for SO_ERROR (and FD_CONNECT recorded either way)."""
        if sock.state != CONNECTING:
            return
        poller = select.poll()
        poller.register(sock.host, select.POLLOUT)
        if not poller.poll(0):
            return
        code = sock.host.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        error = HOST_ERRORS.get(code, WSASYSCALLFAILURE) if code else 0
        with self._lock:
            if sock.state != CONNECTING:
                return  # another thread settled it
            sock.state = UNCONNECTED if error else CONNECTED
            sock.pending_error = error
            self._record(sock, FD_CONNECT_BIT, error)
        self._update_interest(sock)

    # --- network events (WSPEventSelect)

    def _record(self, sock: ProviderSocket, bit: int, error: int = 0) -> None:
        """Record one network event and signal the socket's event (the lock is held)."""
        event = 1 << bit
        if sock.held & event or sock.closed:
            return
        if not sock.network_events & event:
            if bit == FD_CONNECT_BIT:
                sock.connect_owed = error  # a connect finishes once: kept until wanted
            return
        sock.recorded |= event
        sock.held |= event
        sock.error_codes[bit] = error
        upcalls = self.upcalls
        if upcalls is not None:
            upcalls.WPUSetEvent(sock.event, Ref())  # a closed event: nothing left to signal

    def _reenable(self, sock: ProviderSocket, events: int) -> None:
        """A re-enabling call was made (recv: FD_READ/FD_OOB; send failing WSAEWOULDBLOCK:
        FD_WRITE; accept: FD_ACCEPT): those events may be recorded again."""
        if not sock.network_events:
            return
        with self._lock:
            sock.held &= ~events
            if events & FD_READ:
                sock.read_parked = False
        self._observe_now(sock)

    def _observe_now(self, sock: ProviderSocket) -> None:
        """Record at once what already holds.  Windows records a condition that is true when
        its event becomes wanted (at WSPEventSelect, at a re-enabling call: data still
        waiting after a receive is FD_READ again) without waiting for anything to change."""
        with self._lock:
            interest = 0 if sock.closed else self._interest(sock)
        readable = writable = False
        if interest:
            poller = select.poll()
            poller.register(sock.host, (select.POLLIN if interest & selectors.EVENT_READ else 0)
                            | (select.POLLOUT if interest & selectors.EVENT_WRITE else 0))
            for _, revents in poller.poll(0):
                readable = bool(revents & (select.POLLIN | select.POLLHUP | select.POLLERR))
                writable = bool(revents & (select.POLLOUT | select.POLLERR))
        self._observe(sock, readable, writable)

    def _update_interest(self, sock: ProviderSocket) -> None:
        """Tell the reactor what to watch for this socket now, if that changed."""
        reactor = self._reactor
        if reactor is None:
            return
        with self._lock:
            interest = 0 if sock.closed else self._interest(sock)
            if interest == sock.interest:
                return
            sock.interest = interest
            sock.watched = True
        reactor.update(sock)

    @staticmethod
    def _interest(sock: ProviderSocket) -> int:
        """Which host readiness can lead to a network event that may be recorded now.

        By state, never by host readiness alone: a host reports an unconnected TCP socket
        ready (Linux: POLLHUP), Windows never does.
        """
        wanted = sock.network_events & ~sock.held
        if not wanted:
            return 0
        read = write = False
        if sock.state == LISTENING:
            read = bool(wanted & FD_ACCEPT)
        elif sock.state == CONNECTING:
            write = True  # the connect finishing (FD_CONNECT, then FD_WRITE)
        elif sock.state == CONNECTED:
            read = bool(wanted & (FD_READ | FD_CLOSE)) and not sock.read_parked and not sock.peer_closed
            write = bool(wanted & FD_WRITE)
        elif sock.state == DATAGRAM:
            read = bool(wanted & FD_READ) and not sock.read_parked
            write = bool(wanted & FD_WRITE)
        return (selectors.EVENT_READ if read else 0) | (selectors.EVENT_WRITE if write else 0)

    def _observe(self, sock: ProviderSocket, readable: bool, writable: bool) -> None:
        """The host socket is ready (as the reactor or _observe_now saw): record what that
        means for its state."""
        if sock.state == CONNECTING:
            self._resolve_connect(sock)
            if sock.state != CONNECTED:
                return
        with self._lock:
            if sock.closed:
                return
            # Peeked under the lock: a receive in another thread re-enables FD_READ under it
            # too, so a peek never reports data that receive has already taken.
            peek: bytes | int | None = None
            if readable and sock.state in (CONNECTED, DATAGRAM) and not sock.peer_closed:
                try:
                    peek = sock.host.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                except BlockingIOError:
                    peek = None
                except OSError as error:
                    peek = winsock_error(error)
            if readable and sock.state == LISTENING:
                self._record(sock, FD_ACCEPT_BIT)
            if isinstance(peek, int):             # a reset: the connection is gone
                if sock.state == CONNECTED:
                    sock.peer_closed = True
                    sock.stream_error = peek      # the host told only this peek
                    self._record(sock, FD_CLOSE_BIT, peek)
                else:
                    self._record(sock, FD_READ_BIT)  # a datagram socket's error: recv says it
            elif peek == b"" and sock.state == CONNECTED:
                sock.peer_closed = True            # end of stream, all data read
                self._record(sock, FD_CLOSE_BIT, 0)
            elif peek is not None:
                if sock.network_events & ~sock.held & FD_READ:
                    self._record(sock, FD_READ_BIT)
                else:
                    sock.read_parked = True        # data waits: FD_CLOSE must wait for it
            if writable and sock.state in (CONNECTED, DATAGRAM):
                self._record(sock, FD_WRITE_BIT)
            if sock.peer_closed and sock.state == CONNECTED:
                # The end was seen first by a receive (or before WSPEventSelect): FD_CLOSE
                # is still owed, with the reset's code if it was one.
                self._record(sock, FD_CLOSE_BIT, sock.stream_error)
        self._update_interest(sock)

    def _start_reactor(self) -> _Reactor:
        with self._lock:
            if self._reactor is None:
                self._reactor = _Reactor(self)
            return self._reactor

    # --- WSP functions

    def WSPSocket(self, af: Any, type: Any, protocol: Any, lpProtocolInfo: Any, g: Any,
                  dwFlags: Any, lpErrno: Any, /) -> int:
        """Create a socket: a new SOCKET, or INVALID_SOCKET.

        ``af`` AF_INET or AF_INET6 (else WSAEAFNOSUPPORT); ``type`` SOCK_STREAM or SOCK_DGRAM
        (else WSAESOCKTNOSUPPORT); ``protocol`` 0 or the type's own (IPPROTO_TCP,
        IPPROTO_UDP; the other one: WSAEPROTOTYPE; anything else: WSAEPROTONOSUPPORT); ``g``
        0 (socket groups are not supported: WSAEINVAL).  ``lpProtocolInfo`` and ``dwFlags``
        are accepted and not used.  The handle comes from WPUCreateSocketHandle with the
        socket's ProviderSocket as its context; a full table gives WSAENOBUFS, and no host
        socket is left open.  The socket starts blocking.
        """
        require_out_parameter(lpErrno, "lpErrno")
        family, kind, proto, group = _index(af), _index(type), _index(protocol), _index(g)
        upcalls = self.upcalls
        code = 0
        if upcalls is None:
            code = WSANOTINITIALISED
        elif family not in _HOST_FAMILY:
            code = WSAEAFNOSUPPORT
        elif kind not in _HOST_TYPE:
            code = WSAESOCKTNOSUPPORT
        elif proto not in (0, _PROTOCOL_OF_TYPE[kind]):
            code = WSAEPROTOTYPE if proto in _PROTOCOL_OF_TYPE.values() else WSAEPROTONOSUPPORT
        elif group != 0:
            code = WSAEINVAL
        if code:
            lpErrno.value = code
            return INVALID_SOCKET
        assert upcalls is not None
        try:
            host = socket.socket(_HOST_FAMILY[family], _HOST_TYPE[kind])
        except OSError as error:
            lpErrno.value = winsock_error(error)
            return INVALID_SOCKET
        if family == AF_INET6:  # Windows' default; Linux makes dual-stack sockets
            host.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock = ProviderSocket(self, host, family, kind, DATAGRAM if kind == SOCK_DGRAM else UNCONNECTED)
        return self._adopt(upcalls, sock, lpErrno)

    def _adopt(self, upcalls: _upcalls.UpcallTable, sock: ProviderSocket, lpErrno: Any) -> int:
        """Give a new socket its handle from Ws2_32; on failure close the host socket."""
        try:
            handle = upcalls.WPUCreateSocketHandle(self.catalog_entry_id, sock, lpErrno)
        except BaseException:
            sock.host.close()
            raise
        if handle == INVALID_SOCKET:
            sock.host.close()  # WSAENOBUFS is in lpErrno
            return INVALID_SOCKET
        sock.handle = handle
        with self._lock:
            self._sockets.add(sock)
        if sock.network_events:
            self._start_reactor()
            self._update_interest(sock)
        return handle

    def WSPBind(self, s: Any, name: Any, namelen: Any, lpErrno: Any, /) -> int:
        """Bind to a local address: 0, or SOCKET_ERROR.

        ``name`` is an address tuple or Windows sockaddr bytes (module docstring).  Already
        bound: WSAEINVAL; another family or a malformed address: WSAEFAULT; in use:
        WSAEADDRINUSE; not an address of this host: WSAEADDRNOTAVAIL.
        """
        return self._call(s, lpErrno, SOCKET_ERROR, self._bind, name, namelen)

    def _bind(self, sock: ProviderSocket, name: Any, namelen: Any) -> int:
        address = _parse_address(name, namelen, sock.family, WSAEFAULT)
        if self._is_bound(sock):
            raise WinsockError(WSAEINVAL, "the socket is already bound")
        sock.host.bind(address)
        return 0

    @staticmethod
    def _is_bound(sock: ProviderSocket) -> bool:
        return bool(sock.host.getsockname()[1])  # every bound socket has a port

    def WSPListen(self, s: Any, backlog: Any, lpErrno: Any, /) -> int:
        """Listen for connections: 0, or SOCKET_ERROR.

        A datagram socket: WSAEOPNOTSUPP; not bound: WSAEINVAL; connected: WSAEISCONN.
        Listening again changes the backlog only.  ``backlog`` is clamped as Windows clamps
        it (SOMAXCONN means the host's maximum).
        """
        depth = _index(backlog)
        return self._call(s, lpErrno, SOCKET_ERROR, self._listen, depth)

    def _listen(self, sock: ProviderSocket, backlog: int) -> int:
        if sock.type != SOCK_STREAM:
            raise WinsockError(WSAEOPNOTSUPP)
        self._resolve_connect(sock)
        if sock.state in (CONNECTED, CONNECTING):
            raise WinsockError(WSAEISCONN)
        if not self._is_bound(sock):
            raise WinsockError(WSAEINVAL, "listen before bind")
        sock.host.listen(max(0, min(backlog, socket.SOMAXCONN)))
        with self._lock:
            sock.state = LISTENING
        self._update_interest(sock)
        return 0

    def WSPAccept(self, s: Any, addr: Any, addrlen: Any, lpfnCondition: Any,
                  dwCallbackData: Any, lpErrno: Any, /) -> int:
        """Accept a connection: the new SOCKET, or INVALID_SOCKET.

        ``addr`` (None, a Ref, or a writable buffer) receives the peer's address and
        ``addrlen`` (None or a Ref) its size; a length below the family's sockaddr size is
        WSAEFAULT, found before any connection is taken.  ``lpfnCondition``: None, or a
        callable ``(lpCallerId, lpCallerData, lpSQOS, lpGQOS, lpCalleeId, lpCalleeData, g,
        dwCallbackData)`` given the peer's and the local address tuples (None for the data
        and QOS, a Ref for g), returning CF_ACCEPT, or CF_REJECT (the connection is dropped:
        WSAECONNREFUSED); any other answer drops it too, with WSAEINVAL (CF_DEFER is not
        supported).  Not listening: WSAEINVAL; a datagram socket: WSAEOPNOTSUPP;
        non-blocking with nothing pending: WSAEWOULDBLOCK.  The new socket has the
        listener's blocking mode and WSPEventSelect association, as on Windows.
        """
        if lpfnCondition is not None and not callable(lpfnCondition):
            raise TypeError("lpfnCondition must be None or a callable")
        return self._call(s, lpErrno, INVALID_SOCKET, self._accept, addr, addrlen,
                          lpfnCondition, dwCallbackData, lpErrno)

    def _accept(self, sock: ProviderSocket, addr: Any, addrlen: Any, condition: Any,
                callback_data: Any, lpErrno: Any) -> int:
        if sock.type != SOCK_STREAM:
            raise WinsockError(WSAEOPNOTSUPP)
        if sock.state != LISTENING:
            raise WinsockError(WSAEINVAL, "the socket is not listening")
        _check_address_out(addr, addrlen, sock.family)
        try:
            while True:
                try:
                    host, peer = sock.host.accept()
                    break
                except ConnectionAbortedError:
                    continue  # the peer gave up before the accept: take the next one
                except BlockingIOError:
                    raise WinsockError(WSAEWOULDBLOCK if sock.nonblocking else WSAETIMEDOUT) from None
        finally:
            self._reenable(sock, FD_ACCEPT)
        host.setblocking(not sock.nonblocking)
        if condition is not None:
            try:
                answer = condition(_windows_address(sock.family, peer), None, None, None,
                                   _windows_address(sock.family, host.getsockname()),
                                   None, Ref(0), callback_data)
            except BaseException:
                host.close()
                raise
            if answer != CF_ACCEPT:
                host.close()
                raise WinsockError(WSAECONNREFUSED if answer == CF_REJECT else WSAEINVAL)
        accepted = ProviderSocket(self, host, sock.family, SOCK_STREAM, CONNECTED)
        _set_host_timeouts(host, sock.receive_timeout, sock.send_timeout)
        with self._lock:
            accepted.nonblocking = sock.nonblocking
            accepted.event = sock.event
            accepted.network_events = sock.network_events
            accepted.receive_timeout = sock.receive_timeout
            accepted.send_timeout = sock.send_timeout
        upcalls = self.upcalls
        if upcalls is None:
            host.close()
            raise WinsockError(WSANOTINITIALISED)
        handle = self._adopt(upcalls, accepted, lpErrno)
        if handle != INVALID_SOCKET:
            _store_address(addr, addrlen, sock.family, peer)
        return handle

    def WSPConnect(self, s: Any, name: Any, namelen: Any, lpCallerData: Any, lpCalleeData: Any,
                   lpSQOS: Any, lpGQOS: Any, lpErrno: Any, /) -> int:
        """Connect to ``name`` (an address tuple or sockaddr bytes): 0, or SOCKET_ERROR.

        Connect data and QOS (the four arguments after ``namelen``) are accepted and not
        used.  Blocking: waits for the outcome (refused: WSAECONNREFUSED).  Non-blocking:
        WSAEWOULDBLOCK, and the outcome shows later in WSPSelect (writefds on success,
        exceptfds on failure, SO_ERROR giving the code) or as FD_CONNECT; a second connect
        meanwhile: WSAEALREADY.  Listening: WSAEINVAL; connected: WSAEISCONN; the any
        address or port 0: WSAEADDRNOTAVAIL; another family: WSAEAFNOSUPPORT.  A datagram
        socket just sets its default peer.
        """
        return self._call(s, lpErrno, SOCKET_ERROR, self._connect, name, namelen)

    def _connect(self, sock: ProviderSocket, name: Any, namelen: Any) -> int:
        address = _parse_address(name, namelen, sock.family, WSAEAFNOSUPPORT)
        if _unreachable(sock.family, address):
            raise WinsockError(WSAEADDRNOTAVAIL, "cannot connect to the any address or port 0")
        if sock.type == SOCK_DGRAM:
            sock.host.connect(address)
            with self._lock:
                self._record(sock, FD_CONNECT_BIT)
            return 0
        self._resolve_connect(sock)
        if sock.state == LISTENING:
            raise WinsockError(WSAEINVAL, "connect on a listening socket")
        if sock.state == CONNECTED:
            raise WinsockError(WSAEISCONN)
        if sock.state == CONNECTING:
            raise WinsockError(WSAEALREADY)
        if not sock.nonblocking:
            return self._connect_blocking(sock, address)
        code = sock.host.connect_ex(address)
        if code == 0:
            with self._lock:
                sock.state = CONNECTED
                self._record(sock, FD_CONNECT_BIT)
            self._update_interest(sock)
            return 0
        if code in _LATE_CONNECT_ERRORS:
            # Windows reports the outcome of a non-blocking connect later, even when the
            # host knew at once: WSAEWOULDBLOCK now, then SO_ERROR, exceptfds, FD_CONNECT.
            with self._lock:
                sock.pending_error = HOST_ERRORS[code]
                self._record(sock, FD_CONNECT_BIT, sock.pending_error)
            raise WinsockError(WSAEWOULDBLOCK)
        if code not in (errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK):
            raise OSError(code, "connect")
        with self._lock:
            sock.state = CONNECTING
            sock.pending_error = 0
        self._update_interest(sock)
        raise WinsockError(WSAEWOULDBLOCK)

    def _connect_blocking(self, sock: ProviderSocket, address: tuple[Any, ...]) -> int:
        code = sock.host.connect_ex(address)  # sleeps in the host until it is settled
        if sock.closed:
            raise WinsockError(WSAEINTR, "the socket was closed during the call")
        if code in (errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK):
            with self._lock:  # SO_SNDTIMEO ran out; the host goes on trying
                sock.state = CONNECTING
            raise WinsockError(WSAETIMEDOUT)
        if code:
            raise OSError(code, "connect")
        with self._lock:
            sock.state = CONNECTED
            self._record(sock, FD_CONNECT_BIT)
        self._update_interest(sock)
        return 0

    def WSPSend(self, s: Any, lpBuffers: Any, dwBufferCount: Any, lpNumberOfBytesSent: Any,
                dwFlags: Any, lpOverlapped: Any, lpCompletionRoutine: Any, lpThreadId: Any,
                lpErrno: Any, /) -> int:
        """Send the first ``dwBufferCount`` buffers of ``lpBuffers``, in order: 0, or SOCKET_ERROR.

        The byte count goes to ``lpNumberOfBytesSent`` (a Ref; None is WSAEFAULT).  A
        blocking socket sends everything; a non-blocking one what fits, or fails with
        WSAEWOULDBLOCK (which re-enables FD_WRITE).  ``dwFlags``: 0, MSG_OOB, MSG_DONTROUTE
        (others: WSAEOPNOTSUPP).  ``lpOverlapped`` and ``lpCompletionRoutine`` must be None
        (WSAEINVAL); ``lpThreadId`` is not used.  Not connected: WSAENOTCONN; after
        WSPShutdown(SD_SEND): WSAESHUTDOWN; the peer gone: WSAECONNRESET.
        """
        views = _buffer_list(lpBuffers, dwBufferCount)
        return self._call(s, lpErrno, SOCKET_ERROR, self._send, views, lpNumberOfBytesSent,
                          dwFlags, _CONNECTED_PEER, lpOverlapped, lpCompletionRoutine)

    def WSPSendTo(self, s: Any, lpBuffers: Any, dwBufferCount: Any, lpNumberOfBytesSent: Any,
                  dwFlags: Any, lpTo: Any, iTolen: Any, lpOverlapped: Any,
                  lpCompletionRoutine: Any, lpThreadId: Any, lpErrno: Any, /) -> int:
        """As WSPSend, to ``lpTo`` (an address tuple or sockaddr bytes; ignored on a stream
        socket).  A datagram socket with no ``lpTo`` and no connected peer:
        WSAEDESTADDRREQ; a datagram too large for the host: WSAEMSGSIZE."""
        views = _buffer_list(lpBuffers, dwBufferCount)
        return self._call(s, lpErrno, SOCKET_ERROR, self._send, views, lpNumberOfBytesSent,
                          dwFlags, (lpTo, iTolen), lpOverlapped, lpCompletionRoutine)

    def _send(self, sock: ProviderSocket, views: list[memoryview], sent_out: Any, dwFlags: Any,
              destination: Any, overlapped: Any, completion: Any) -> int:
        """WSPSend (``destination`` is _CONNECTED_PEER) and WSPSendTo ((lpTo, iTolen))."""
        if sent_out is None:
            raise WinsockError(WSAEFAULT, "lpNumberOfBytesSent is NULL")
        require_out_parameter(sent_out, "lpNumberOfBytesSent")
        _require_no_overlapped(overlapped, completion)
        flags = dwFlags if dwFlags.__class__ is int else _index(dwFlags)
        if flags & ~(MSG_OOB | MSG_DONTROUTE) or (flags & MSG_OOB and sock.type != SOCK_STREAM):
            raise WinsockError(WSAEOPNOTSUPP, f"send flags {flags:#x}")
        host_flags = _host_flags(flags) if flags else _NO_SIGNAL
        address = None
        if sock.state == CONNECTED:
            pass  # the hot path: a stream socket ready to send
        elif sock.type == SOCK_STREAM:
            self._resolve_connect(sock)
            if sock.state != CONNECTED:
                raise WinsockError(WSAENOTCONN)
        elif destination is not _CONNECTED_PEER and destination[0] is not None:
            to, tolen = destination
            address = _parse_address(to, tolen, sock.family, WSAEAFNOSUPPORT)
            if _unreachable(sock.family, address):
                raise WinsockError(WSAEADDRNOTAVAIL, "cannot send to the any address or port 0")
        elif not self._has_peer(sock):
            raise WinsockError(WSAENOTCONN if destination is _CONNECTED_PEER else WSAEDESTADDRREQ)
        if sock.shut_send:
            raise WinsockError(WSAESHUTDOWN)
        total = 0
        for first in range(0, len(views) or 1, _MAX_IOV):
            batch = views[first : first + _MAX_IOV] if first or len(views) > _MAX_IOV else views
            try:
                if address is not None:
                    count = sock.host.sendmsg(batch, (), host_flags, address)
                elif len(batch) == 1:
                    count = sock.host.send(batch[0], host_flags)
                else:
                    count = sock.host.sendmsg(batch, (), host_flags)
            except BlockingIOError:
                if total:
                    break  # part went: a success, on Windows too
                if not sock.nonblocking:
                    raise WinsockError(WSAETIMEDOUT) from None  # SO_SNDTIMEO ran out
                self._reenable(sock, FD_WRITE)
                raise WinsockError(WSAEWOULDBLOCK) from None
            total += count
            if len(batch) == 1 and count == len(batch[0]):
                continue
            if count < sum(map(len, batch)):
                break  # the host took part of it (non-blocking, or a timeout)
        sent_out.value = total
        return 0

    @staticmethod
    def _has_peer(sock: ProviderSocket) -> bool:
        try:
            sock.host.getpeername()
        except OSError:
            return False
        return True

    def WSPRecv(self, s: Any, lpBuffers: Any, dwBufferCount: Any, lpNumberOfBytesRecvd: Any,
                lpFlags: Any, lpOverlapped: Any, lpCompletionRoutine: Any, lpThreadId: Any,
                lpErrno: Any, /) -> int:
        """Receive into the first ``dwBufferCount`` writable buffers, in order: 0, or SOCKET_ERROR.

        ``lpNumberOfBytesRecvd`` (a Ref) gets the count, 0 when the peer closed gracefully;
        ``lpFlags`` (a Ref) gives MSG_PEEK, MSG_OOB, MSG_WAITALL (blocking stream sockets)
        and comes back 0.  None for either, or a read-only buffer: WSAEFAULT.  Not connected:
        WSAENOTCONN; an unbound datagram socket: WSAEINVAL; non-blocking with nothing to
        read: WSAEWOULDBLOCK; reset: WSAECONNRESET; after SD_RECEIVE: WSAESHUTDOWN; a
        datagram larger than the buffers: WSAEMSGSIZE, with the buffers filled and the
        count written.  Every call re-enables FD_READ.
        """
        views = _buffer_list(lpBuffers, dwBufferCount)
        return self._call(s, lpErrno, SOCKET_ERROR, self._receive, views, lpNumberOfBytesRecvd,
                          lpFlags, None, None, lpOverlapped, lpCompletionRoutine)

    def WSPRecvFrom(self, s: Any, lpBuffers: Any, dwBufferCount: Any, lpNumberOfBytesRecvd: Any,
                    lpFlags: Any, lpFrom: Any, lpFromlen: Any, lpOverlapped: Any,
                    lpCompletionRoutine: Any, lpThreadId: Any, lpErrno: Any, /) -> int:
        """As WSPRecv, and the sender's address into ``lpFrom`` (None, a Ref or a writable
        buffer) and its size into ``lpFromlen`` (None or a Ref; below the sockaddr size:
        WSAEFAULT, before anything is read)."""
        views = _buffer_list(lpBuffers, dwBufferCount)
        return self._call(s, lpErrno, SOCKET_ERROR, self._receive, views, lpNumberOfBytesRecvd,
                          lpFlags, lpFrom, lpFromlen, lpOverlapped, lpCompletionRoutine)

    def _receive(self, sock: ProviderSocket, views: list[memoryview], received_out: Any,
                 flags_inout: Any, source: Any, sourcelen: Any, overlapped: Any,
                 completion: Any) -> int:
        if received_out is None or flags_inout is None:
            raise WinsockError(WSAEFAULT, "lpNumberOfBytesRecvd or lpFlags is NULL")
        require_out_parameter(received_out, "lpNumberOfBytesRecvd")
        require_out_parameter(flags_inout, "lpFlags")
        _require_no_overlapped(overlapped, completion)
        for view in views:
            if view.readonly:
                raise WinsockError(WSAEFAULT, "a receive buffer is read-only")
        flags = flags_inout.value
        flags = flags if flags.__class__ is int else _index(flags or 0)
        stream = sock.type == SOCK_STREAM
        if flags & ~(MSG_OOB | MSG_PEEK | MSG_WAITALL) or (
            flags & MSG_WAITALL and (not stream or sock.nonblocking or flags & MSG_PEEK)
        ) or (flags & MSG_OOB and not stream):
            raise WinsockError(WSAEOPNOTSUPP, f"receive flags {flags:#x}")
        if stream:  # which ignores lpFrom and lpFromlen, as on Windows
            if sock.state != CONNECTED:
                self._resolve_connect(sock)
                if sock.state != CONNECTED:
                    raise WinsockError(WSAENOTCONN)
        else:
            _check_address_out(source, sourcelen, sock.family)
            if not self._is_bound(sock):
                raise WinsockError(WSAEINVAL, "receive on an unbound datagram socket")
        if sock.shut_receive:
            raise WinsockError(WSAESHUTDOWN)
        host_flags = _host_flags(flags) if flags else 0
        peer: Any = None
        try:
            try:
                if stream and len(views) == 1:
                    count = sock.host.recv_into(views[0], 0, host_flags)
                    message_flags = 0
                else:
                    count, _, message_flags, peer = sock.host.recvmsg_into(
                        views[:_MAX_IOV], 0, host_flags)
            except BlockingIOError:
                raise WinsockError(WSAEWOULDBLOCK if sock.nonblocking else WSAETIMEDOUT) from None
            except ConnectionResetError:
                with self._lock:
                    sock.peer_closed = True
                    sock.stream_error = WSAECONNRESET  # every later receive says so too
                raise
            if sock.closed:  # the close's shutdown woke the host call: whatever it returned
                raise WinsockError(WSAEINTR, "the socket was closed during the call")
            if stream and count == 0 and any(len(view) for view in views):
                with self._lock:
                    sock.peer_closed = True  # the peer closed: FD_CLOSE may follow
                if sock.stream_error:
                    raise WinsockError(sock.stream_error)  # it was a reset, not a close
            received_out.value = count
            if not stream:
                if source is not None or sourcelen is not None:
                    _store_address(source, sourcelen, sock.family, peer)
                if message_flags & socket.MSG_TRUNC:
                    raise WinsockError(WSAEMSGSIZE, "the datagram did not fit the buffers")
        finally:
            self._reenable(sock, FD_READ | FD_OOB)
        flags_inout.value = 0
        return 0

    def WSPShutdown(self, s: Any, how: Any, lpErrno: Any, /) -> int:
        """Stop receiving (SD_RECEIVE), sending (SD_SEND) or both (SD_BOTH): 0, or SOCKET_ERROR.

        Another ``how``: WSAEINVAL; a stream socket that is not connected: WSAENOTCONN.
        SD_SEND sends the peer a FIN: it sees the end of the stream, and FD_CLOSE.
        """
        direction = _index(how)
        return self._call(s, lpErrno, SOCKET_ERROR, self._shutdown, direction)

    def _shutdown(self, sock: ProviderSocket, how: int) -> int:
        if how not in _SHUTDOWN_HOW:
            raise WinsockError(WSAEINVAL, f"how must be SD_RECEIVE, SD_SEND or SD_BOTH, not {how}")
        if sock.type == SOCK_STREAM:
            self._resolve_connect(sock)
            if sock.state != CONNECTED:
                raise WinsockError(WSAENOTCONN)
        sock.host.shutdown(_SHUTDOWN_HOW[how])
        with self._lock:
            sock.shut_receive |= how in (SD_RECEIVE, SD_BOTH)
            sock.shut_send |= how in (SD_SEND, SD_BOTH)
        return 0

    def WSPCloseSocket(self, s: Any, lpErrno: Any, /) -> int:
        """Close a socket: 0, or SOCKET_ERROR (WSAENOTSOCK for a closed or unknown handle).

        The event association ends, the handle is closed with WPUCloseSocketHandle, and the
        host socket is closed (gracefully, unless SO_LINGER says otherwise) as soon as no
        other thread is inside a call on it; such a call returns WSAEINTR.
        """
        require_out_parameter(lpErrno, "lpErrno")
        sock = self._enter(s, lpErrno)
        if sock is None:
            return SOCKET_ERROR
        try:
            if not self._close(sock, lpErrno):
                return SOCKET_ERROR
            return 0
        finally:
            self._leave(sock)

    def _close(self, sock: ProviderSocket, lpErrno: Any = None) -> bool:
        """Close ``sock`` once: False (lpErrno WSAENOTSOCK) when another thread was first."""
        upcalls = self.upcalls
        with self._lock:
            if sock.closed:
                if lpErrno is not None:
                    lpErrno.value = WSAENOTSOCK
                return False
            sock.closed = True
            sock.network_events = 0
            self._sockets.discard(sock)
            others = sock.users - (1 if lpErrno is not None else 0)
            if upcalls is not None:
                upcalls.WPUCloseSocketHandle(sock.handle, Ref())
        reactor = self._reactor
        if reactor is not None and sock.watched:
            reactor.forget(sock)
        if others:
            try:
                sock.host.shutdown(socket.SHUT_RDWR)  # wakes the calls blocked on it
            except OSError:
                pass
        elif lpErrno is None:
            sock.host.close()  # nobody inside a call: close it now (WSPCloseSocket's
            # own reference is dropped by its _leave, which closes it then)
        return True

    def WSPGetSockName(self, s: Any, name: Any, namelen: Any, lpErrno: Any, /) -> int:
        """The local address into ``name`` (a Ref or a writable buffer) and its size into
        ``namelen`` (a Ref): 0, or SOCKET_ERROR.  Not bound: WSAEINVAL; ``namelen`` None or
        its value below the sockaddr size: WSAEFAULT."""
        return self._call(s, lpErrno, SOCKET_ERROR, self._sockname, name, namelen, False)

    def WSPGetPeerName(self, s: Any, name: Any, namelen: Any, lpErrno: Any, /) -> int:
        """The peer's address, as WSPGetSockName: 0, or SOCKET_ERROR (not connected:
        WSAENOTCONN)."""
        return self._call(s, lpErrno, SOCKET_ERROR, self._sockname, name, namelen, True)

    def _sockname(self, sock: ProviderSocket, name: Any, namelen: Any, peer: bool) -> int:
        if name is None or namelen is None:
            raise WinsockError(WSAEFAULT, "name or namelen is NULL")
        _check_address_out(name, namelen, sock.family)
        if peer:
            if sock.type == SOCK_STREAM:
                self._resolve_connect(sock)
                if sock.state != CONNECTED:
                    raise WinsockError(WSAENOTCONN)
            address = sock.host.getpeername()
        else:
            address = sock.host.getsockname()
            if not address[1]:
                raise WinsockError(WSAEINVAL, "the socket is not bound")
        _store_address(name, namelen, sock.family, address)
        return 0

    def WSPSetSockOpt(self, s: Any, level: Any, optname: Any, optval: Any, optlen: Any,
                      lpErrno: Any, /) -> int:
        """Set a socket option: 0, or SOCKET_ERROR.

        ``optval``: an int (BOOL and int options), an ``(l_onoff, l_linger)`` tuple for
        SO_LINGER, or bytes in the Windows layout with ``optlen`` at least their size (else
        WSAEFAULT).  Options: SOL_SOCKET SO_REUSEADDR, SO_KEEPALIVE, SO_BROADCAST,
        SO_LINGER, SO_RCVBUF, SO_SNDBUF, SO_OOBINLINE, SO_DONTROUTE, SO_RCVTIMEO and
        SO_SNDTIMEO (ms; a blocking call that waits longer fails WSAETIMEDOUT);
        IPPROTO_TCP TCP_NODELAY; IPPROTO_IPV6 IPV6_V6ONLY.  The host's semantics apply
        (SO_REUSEADDR is the host's, not Windows' port sharing).  An unknown level:
        WSAEINVAL; an unknown or read-only option: WSAENOPROTOOPT.
        """
        return self._call(s, lpErrno, SOCKET_ERROR, self._setsockopt, level, optname, optval, optlen)

    def _setsockopt(self, sock: ProviderSocket, level: Any, optname: Any, optval: Any,
                    optlen: Any) -> int:
        key = self._option_key(level, optname)
        if key in _OWN_OPTIONS:
            if key[1] in _GET_ONLY:
                raise WinsockError(WSAENOPROTOOPT, "a read-only option")
            milliseconds = _option_value_in(optval, optlen, "int") & 0xFFFFFFFF
            with self._lock:
                if key[1] == SO_RCVTIMEO:
                    sock.receive_timeout = milliseconds
                else:
                    sock.send_timeout = milliseconds
            _set_host_timeouts(sock.host, sock.receive_timeout, sock.send_timeout)
            return 0
        host_level, host_name, kind = _HOST_OPTIONS[key]
        value = _option_value_in(optval, optlen, kind)
        if kind == "linger":
            sock.host.setsockopt(host_level, host_name, struct.pack("ii", *value))
        else:
            sock.host.setsockopt(host_level, host_name, (1 if value else 0) if kind == "bool" else value)
        return 0

    def WSPGetSockOpt(self, s: Any, level: Any, optname: Any, optval: Any, optlen: Any,
                      lpErrno: Any, /) -> int:
        """Read a socket option into ``optval`` (a Ref gets an int, or a tuple for SO_LINGER;
        a writable buffer gets the Windows bytes) and its size into ``optlen`` (a Ref;
        None, or for a buffer a value below the size: WSAEFAULT): 0, or SOCKET_ERROR.

        The options of WSPSetSockOpt, and SO_TYPE (SOCK_STREAM or SOCK_DGRAM), SO_ERROR
        (the pending error as a Winsock code, cleared by reading it) and SO_ACCEPTCONN.
        Values are the host's (Linux doubles SO_RCVBUF).
        """
        return self._call(s, lpErrno, SOCKET_ERROR, self._getsockopt, level, optname, optval, optlen)

    def _getsockopt(self, sock: ProviderSocket, level: Any, optname: Any, optval: Any,
                    optlen: Any) -> int:
        key = self._option_key(level, optname)
        if optval is None or optlen is None:
            raise WinsockError(WSAEFAULT, "optval or optlen is NULL")
        require_out_parameter(optlen, "optlen")
        if not hasattr(optval, "value"):
            if _index(optlen.value or 0) < 4 or len(_writable(optval, "optval")) < 4:
                raise WinsockError(WSAEFAULT, "optval holds fewer than 4 bytes")
        value: Any
        if key in _OWN_OPTIONS:
            name = key[1]
            if name == SO_ERROR:
                self._resolve_connect(sock)
                with self._lock:
                    value, sock.pending_error = sock.pending_error, 0
            elif name == SO_TYPE:
                value = sock.type
            elif name == SO_ACCEPTCONN:
                value = int(sock.state == LISTENING)
            else:
                value = sock.receive_timeout if name == SO_RCVTIMEO else sock.send_timeout
        else:
            host_level, host_name, kind = _HOST_OPTIONS[key]
            if kind == "linger":
                value = struct.unpack("ii", sock.host.getsockopt(host_level, host_name, 8))
            else:
                value = sock.host.getsockopt(host_level, host_name)
                if kind == "bool":
                    value = int(bool(value))
        _option_value_out(optval, optlen, value)
        return 0

    @staticmethod
    def _option_key(level: Any, optname: Any) -> tuple[int, int]:
        key = (_index(level), _index(optname))
        if key[0] not in _LEVELS:
            raise WinsockError(WSAEINVAL, f"unknown option level {key[0]:#x}")
        if key not in _HOST_OPTIONS and key not in _OWN_OPTIONS:
            raise WinsockError(WSAENOPROTOOPT, f"unknown option {key[1]:#x} at level {key[0]:#x}")
        return key

    def WSPIoctl(self, s: Any, dwIoControlCode: Any, lpvInBuffer: Any, cbInBuffer: Any,
                 lpvOutBuffer: Any, cbOutBuffer: Any, lpcbBytesReturned: Any, lpOverlapped: Any,
                 lpCompletionRoutine: Any, lpThreadId: Any, lpErrno: Any, /) -> int:
        """Socket I/O control: 0, or SOCKET_ERROR.

        FIONBIO: ``lpvInBuffer`` an int (or 4 bytes, a u_long), nonzero for non-blocking;
        making a socket blocking while WSPEventSelect is active is WSAEINVAL.  FIONREAD:
        ``lpvOutBuffer`` (a Ref, or a writable buffer of at least 4 bytes) gets the bytes
        that a receive would return now.  ``lpcbBytesReturned`` (None or a Ref) gets the
        output size.  Any other code: WSAEINVAL; ``lpOverlapped`` must be None.
        """
        return self._call(s, lpErrno, SOCKET_ERROR, self._ioctl, dwIoControlCode, lpvInBuffer,
                          cbInBuffer, lpvOutBuffer, cbOutBuffer, lpcbBytesReturned,
                          lpOverlapped, lpCompletionRoutine)

    def _ioctl(self, sock: ProviderSocket, code: Any, in_buffer: Any, in_size: Any,
               out_buffer: Any, out_size: Any, returned: Any, overlapped: Any,
               completion: Any) -> int:
        _require_no_overlapped(overlapped, completion)
        command = _index(code) & 0xFFFFFFFF  # a negative C long is the same DWORD
        if command == FIONBIO:
            if in_buffer is None:
                raise WinsockError(WSAEFAULT, "FIONBIO needs its u_long argument")
            on = bool(_option_value_in(in_buffer, in_size, "int"))
            with self._lock:
                if not on and sock.network_events:
                    raise WinsockError(WSAEINVAL, "WSPEventSelect is active: the socket stays non-blocking")
                sock.nonblocking = on
                sock.host.setblocking(not on)
            written = 0
        elif command == FIONREAD:
            if out_buffer is None:
                raise WinsockError(WSAEFAULT, "FIONREAD needs lpvOutBuffer")
            if not hasattr(out_buffer, "value") and (
                    _index(out_size) < 4 or len(_writable(out_buffer, "lpvOutBuffer")) < 4):
                raise WinsockError(WSAEFAULT, "lpvOutBuffer holds fewer than 4 bytes")
            available = 0 if sock.state == LISTENING else self._readable_bytes(sock)
            if hasattr(out_buffer, "value"):
                out_buffer.value = available
            else:
                _writable(out_buffer, "lpvOutBuffer")[:4] = struct.pack("<I", available)
            written = 4
        else:
            raise WinsockError(WSAEINVAL, f"unsupported I/O control code {command:#x}")
        if returned is not None:
            require_out_parameter(returned, "lpcbBytesReturned")
            returned.value = written
        return 0

    @staticmethod
    def _readable_bytes(sock: ProviderSocket) -> int:
        data = fcntl.ioctl(sock.host.fileno(), termios.FIONREAD, b"\0\0\0\0")
        available: int = struct.unpack("i", data)[0]
        return available

    def WSPSelect(self, nfds: Any, readfds: Any, writefds: Any, exceptfds: Any, timeout: Any,
                  lpErrno: Any, /) -> int:
        """Wait until sockets are ready: the count of ready entries, 0 on timeout, or SOCKET_ERROR.

        ``readfds``, ``writefds``, ``exceptfds``: None, a ``ws2core.FdSet`` or any writable
        buffer in the fd_set layout of the upcall table's ABI (x64 unless the table was made
        with ``abi="x86"``), each rewritten in place, as Windows does, to hold
        only its ready sockets, in their order (on timeout, emptied).  Read: data, a pending
        connection on a listener, or the peer closed or reset; write: connected and able to
        send (a non-blocking connect succeeded); except: a non-blocking connect failed.  A
        socket neither connected nor listening is never ready.  ``timeout``: None to wait
        without limit, a TIMEVAL or a number of seconds (negative: WSAEINVAL).  ``nfds`` is
        ignored, as on Windows.  No set, or only empty ones: WSAEINVAL; an entry that is not
        a socket of this provider: WSAENOTSOCK, with the sets untouched.
        """
        require_out_parameter(lpErrno, "lpErrno")
        upcalls = self.upcalls
        x86 = upcalls is not None and upcalls.table.abi == "x86"
        sets = [_SelectSet(fds, x86) if fds is not None else None
                for fds in (readfds, writefds, exceptfds)]
        seconds = _select_timeout(timeout)
        if upcalls is None:
            lpErrno.value = WSANOTINITIALISED
            return SOCKET_ERROR
        if all(fds is None or not fds.entries for fds in sets) or (seconds is not None and seconds < 0):
            lpErrno.value = WSAEINVAL
            return SOCKET_ERROR
        handles = list(dict.fromkeys(h for fds in sets if fds is not None for h in fds.entries))
        entered: list[ProviderSocket] = []
        try:
            for handle in handles:
                sock = self._enter(handle, lpErrno)
                if sock is None:
                    return SOCKET_ERROR
                entered.append(sock)
            try:
                ready = self._select(upcalls, entered, sets, seconds)
            except OSError as error:
                lpErrno.value = winsock_error(error)
                return SOCKET_ERROR
        finally:
            for sock in entered:
                self._leave(sock)
        count = 0
        for fds, ready_set in zip(sets, ready):
            if fds is not None:
                count += fds.keep(functools.partial(_is_member, upcalls, ready_set))
        return count

    def _select(self, upcalls: _upcalls.UpcallTable, socks: list[ProviderSocket],
                sets: list[_SelectSet | None], seconds: float | None) -> list[Any]:
        """The three fd_sets of ready sockets (ws2core.FdSet), after waiting if need be."""
        # Which sets each socket is in, asked as a provider asks: WPUFDIsSet on the set.
        membership = {
            sock: tuple(fds is not None and bool(upcalls.WPUFDIsSet(sock.handle, fds.buffer))
                        for fds in sets)
            for sock in socks
        }
        deadline = None if seconds is None else time.monotonic() + seconds
        while True:
            ready: list[list[int]] = [[], [], []]
            poller = select.poll()
            watched: dict[int, ProviderSocket] = {}
            for sock, (in_read, in_write, in_except) in membership.items():
                self._resolve_connect(sock)
                if in_except and sock.state == UNCONNECTED and sock.pending_error:
                    ready[2].append(sock.handle)  # a non-blocking connect that failed
                events = 0
                if in_read and sock.state in (CONNECTED, LISTENING, DATAGRAM):
                    events |= select.POLLIN
                if in_write and sock.state in (CONNECTED, DATAGRAM):
                    events |= select.POLLOUT
                if sock.state == CONNECTING and (in_write or in_except):
                    events |= select.POLLOUT  # the connect finishing, either way
                if in_except and sock.state == CONNECTED:
                    events |= select.POLLPRI
                if events:
                    poller.register(sock.host, events)
                    watched[sock.host.fileno()] = sock
            if deadline is None:
                budget = _CANCEL_CHECK
            else:
                budget = max(0.0, min(deadline - time.monotonic(), _CANCEL_CHECK))
            if any(ready):
                budget = 0.0
            if watched:
                found = poller.poll(budget * 1000)
            else:
                found = []
                time.sleep(budget)  # nothing can become ready but by the clock
            for fd, revents in found:
                sock = watched[fd]
                in_read, in_write, in_except = membership[sock]
                if sock.state == CONNECTING:
                    self._resolve_connect(sock)
                    if sock.state == CONNECTED and in_write:
                        ready[1].append(sock.handle)
                    elif sock.state == UNCONNECTED and in_except:
                        ready[2].append(sock.handle)
                    continue
                if in_read and revents & (select.POLLIN | select.POLLHUP | select.POLLERR):
                    ready[0].append(sock.handle)
                if in_write and revents & select.POLLOUT:
                    ready[1].append(sock.handle)
                if in_except and revents & select.POLLPRI:
                    ready[2].append(sock.handle)
            if any(sock.closed for sock in socks):
                raise WinsockError(WSAEINTR, "a socket was closed during WSPSelect")
            if any(ready) or (deadline is not None and time.monotonic() >= deadline):
                return [FdSet(handles, capacity=max(1, len(handles))) for handles in ready]

    def WSPEventSelect(self, s: Any, hEventObject: Any, lNetworkEvents: Any, lpErrno: Any, /) -> int:
        """Associate an event with network events: 0, or SOCKET_ERROR.

        ``hEventObject`` must be a live event of the upcall table (else WSAEINVAL);
        ``lNetworkEvents`` the FD_* bits (0 ends the association).  The record of network
        events is cleared and the socket becomes non-blocking.  The provider's reactor
        thread then records FD_READ (data), FD_WRITE (connected or accepted, and after a
        send failed with WSAEWOULDBLOCK once there is room again), FD_ACCEPT (a pending
        connection), FD_CONNECT (a connect finished; its error in
        ``iErrorCode[FD_CONNECT_BIT]``) and FD_CLOSE (the peer closed, once all data was
        read: error 0; or reset: WSAECONNRESET), and sets the event with WPUSetEvent.  An
        event is recorded once until its re-enabling call: a receive for FD_READ, a send
        that failed WSAEWOULDBLOCK for FD_WRITE, an accept for FD_ACCEPT; FD_CONNECT and
        FD_CLOSE are recorded once.  A new WSPEventSelect re-enables nothing: an event
        recorded under an earlier association stays held until its re-enabling call (as
        Wine, whose socket tests pass on Windows, does).  A condition already true is
        recorded at once, a connect that finished before FD_CONNECT was wanted included.
        FD_OOB is accepted and never recorded.
        """
        mask = _index(lNetworkEvents)
        return self._call(s, lpErrno, SOCKET_ERROR, self._event_select, hEventObject, mask)

    def _event_select(self, sock: ProviderSocket, event: Any, mask: int) -> int:
        upcalls = self.upcalls
        assert upcalls is not None
        if mask & FD_ALL_EVENTS and upcalls.table.kind(event) != "event":
            raise WinsockError(WSAEINVAL, "hEventObject is not an event of this table")
        with self._lock:
            sock.event = _index(event) if mask & FD_ALL_EVENTS else 0
            sock.network_events = mask & FD_ALL_EVENTS & ~FD_OOB
            sock.recorded = 0
            sock.error_codes = [0] * FD_MAX_EVENTS
            sock.read_parked = False
            sock.nonblocking = True
            sock.host.setblocking(False)
            if sock.connect_owed >= 0 and sock.network_events & FD_CONNECT:
                self._record(sock, FD_CONNECT_BIT, sock.connect_owed)
                sock.connect_owed = -1
        if sock.network_events:
            self._start_reactor()
            self._observe_now(sock)
        else:
            self._update_interest(sock)
        return 0

    def WSPEnumNetworkEvents(self, s: Any, hEventObject: Any, lpNetworkEvents: Any,
                             lpErrno: Any, /) -> int:
        """Report and clear the network events recorded: 0, or SOCKET_ERROR.

        ``lpNetworkEvents`` (a WSANETWORKEVENTS, or any object with ``lNetworkEvents`` and a
        10-item ``iErrorCode``; None is WSAEFAULT) receives the record, which is then
        cleared; ``hEventObject``, if nonzero, is reset in the same step (WPUResetEvent;
        not a live event: WSAEINVAL, with the record kept).
        """
        if lpNetworkEvents is not None and not (
            hasattr(lpNetworkEvents, "lNetworkEvents") and hasattr(lpNetworkEvents, "iErrorCode")
        ):
            raise TypeError("lpNetworkEvents must be a WSANETWORKEVENTS (lNetworkEvents, iErrorCode)")
        return self._call(s, lpErrno, SOCKET_ERROR, self._enum_network_events, hEventObject,
                          lpNetworkEvents)

    def _enum_network_events(self, sock: ProviderSocket, event: Any, out: Any) -> int:
        if out is None:
            raise WinsockError(WSAEFAULT, "lpNetworkEvents is NULL")
        upcalls = self.upcalls
        assert upcalls is not None
        with self._lock:  # the reactor records under this lock: nothing falls in between
            if event is not None and _index(event) != 0:
                if not upcalls.WPUResetEvent(event, Ref()):
                    raise WinsockError(WSAEINVAL, "hEventObject is not an event of this table")
            recorded, codes = sock.recorded, sock.error_codes
            sock.recorded = 0
            sock.error_codes = [0] * FD_MAX_EVENTS
        out.lNetworkEvents = recorded
        for bit in range(FD_MAX_EVENTS):
            out.iErrorCode[bit] = codes[bit]
        return 0



def _is_member(upcalls: _upcalls.UpcallTable, fds: Any, handle: int) -> int:
    return upcalls.WPUFDIsSet(handle, fds)


class _SelectSet:
    """One fd_set argument of WSPSelect: its entries, read once, and its rewriting.

    An FdSet is read in its own layout, a bare buffer in the table's (``x86``).
    """

    def __init__(self, fds: Any, x86: bool) -> None:
        try:
            view = memoryview(fds)
        except TypeError:
            raise TypeError(f"an fd_set is a ws2core.FdSet or a buffer, not {type(fds).__name__}") from None
        if view.readonly:
            raise TypeError("WSPSelect rewrites its fd_sets: a read-only buffer cannot be one")
        self.x86 = fds.abi == "x86" if isinstance(fds, FdSet) else x86
        self.buffer = fds
        # The core's reading: contiguity, fd_count within the buffer, the layout.
        self.entries = list(FdSet.from_buffer(fds, abi="x86" if self.x86 else "x64"))
        self.view = view.cast("B")

    def keep(self, ready: Callable[[int], int]) -> int:
        """Rewrite the set in place with the entries for which ``ready`` is true; their count."""
        kept = [handle for handle in self.entries if ready(handle)]
        width, code = (4, "I") if self.x86 else (8, "Q")
        struct.pack_into("<I", self.view, 0, len(kept))  # x64: the padding after it is left alone
        struct.pack_into(f"<{len(kept)}{code}", self.view, width, *kept)
        return len(kept)


def _select_timeout(timeout: Any) -> float | None:
    """WSPSelect's timeout in seconds: None (no limit), a TIMEVAL-like, or a number."""
    if timeout is None:
        return None
    if hasattr(timeout, "tv_sec") and hasattr(timeout, "tv_usec"):
        seconds, micro = _index(timeout.tv_sec), _index(timeout.tv_usec)
        if seconds < 0 or micro < 0:
            return -1.0
        return seconds + micro / 1_000_000
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        return float(timeout) if timeout == timeout else -1.0
    raise TypeError(f"timeout is None, a TIMEVAL or seconds, not {type(timeout).__name__}")


# --------------------------------------------------------------------------------------
# The reactor: one thread per provider, on the standard selectors module.


class _Reactor:
    """Watches the host sockets of event-selected sockets and records their network events.

    Only this thread touches the selector.  Other threads say what changed (``update``: a
    socket's wanted readiness, ``forget``: a socket closing) and wake it through a socket
    pair; ``forget`` waits until the socket is out of the selector, so its host socket can
    then be closed without the selector ever watching a reused descriptor.
    """

    def __init__(self, provider: HostSocketProvider) -> None:
        self._provider = provider
        self._selector = selectors.DefaultSelector()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        self._selector.register(self._wake_reader, selectors.EVENT_READ, None)
        self._lock = threading.Lock()
        self._changed: set[ProviderSocket] = set()
        self._forgotten: list[tuple[ProviderSocket, threading.Event]] = []
        self._woken = False
        self._stopping = False
        self._registered: dict[ProviderSocket, int] = {}
        self._thread = threading.Thread(target=self._run, name="ws2core provider reactor", daemon=True)
        self._thread.start()

    def update(self, sock: ProviderSocket) -> None:
        with self._lock:
            self._changed.add(sock)
            self._wake()

    def forget(self, sock: ProviderSocket) -> None:
        done = threading.Event()
        with self._lock:
            self._forgotten.append((sock, done))
            self._wake()
        if threading.current_thread() is self._thread:
            return
        while not done.wait(_CANCEL_CHECK):
            if not self._thread.is_alive():
                return  # stopped: nothing watches the socket any more

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._wake()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def _wake(self) -> None:  # with self._lock held
        if not self._woken:
            self._woken = True
            try:
                self._wake_writer.send(b"\0")
            except BlockingIOError:
                pass  # the pipe is full of wake-ups already

    def _run(self) -> None:
        try:
            while self._apply_changes():
                for key, events in self._selector.select():
                    if key.data is None:
                        self._drain()
                        continue
                    try:
                        self._provider._observe(key.data, bool(events & selectors.EVENT_READ),
                                                bool(events & selectors.EVENT_WRITE))
                    except Exception as error:  # reported, and the other sockets still served
                        threading.excepthook(threading.ExceptHookArgs(
                            (type(error), error, error.__traceback__, self._thread)))
        finally:
            self._selector.close()
            self._wake_reader.close()
            self._wake_writer.close()

    def _drain(self) -> None:
        try:
            while self._wake_reader.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _apply_changes(self) -> bool:
        """Bring the selector up to date; False once stopping."""
        with self._lock:
            changed, self._changed = self._changed, set()
            forgotten, self._forgotten = self._forgotten, []
            stopping = self._stopping
            self._woken = False
        for sock, done in forgotten:
            if self._registered.pop(sock, 0):
                self._selector.unregister(sock.host)
            changed.discard(sock)
            done.set()
        for sock in changed:
            interest = 0 if sock.closed else sock.interest
            current = self._registered.get(sock, 0)
            if interest == current:
                continue
            if not current:
                self._selector.register(sock.host, interest, sock)
            elif not interest:
                self._selector.unregister(sock.host)
            else:
                self._selector.modify(sock.host, interest, sock)
            if interest:
                self._registered[sock] = interest
            else:
                self._registered.pop(sock, None)
        if stopping:
            for sock in list(self._registered):
                self._selector.unregister(sock.host)
            self._registered.clear()
        return not stopping
