"""Socket options and I/O controls: WSPSetSockOpt, WSPGetSockOpt and WSPIoctl (FIONBIO,
FIONREAD, SIOCATMARK).

Each option (``_OPTIONS``) maps to the host's or is the provider's own (timeouts,
SO_EXCLUSIVEADDRUSE, read-only facts about the socket), with the sizes Windows reads and
writes (``_Option``: a BOOL may come as one byte); values come in and go out in Python forms
or in the Windows bytes.
"""

from __future__ import annotations

import ctypes
import fcntl
import socket
import struct
import termios
import uuid
from operator import index as _index
from typing import Any, Final, NamedTuple

from .. import Ref
from .._shared import WinsockError, require_out_parameter
from ..catalog import guid_of
from ..constants import (
    AF_INET6,
    FIONBIO,
    FIONREAD,
    IP_ADD_MEMBERSHIP,
    IP_DROP_MEMBERSHIP,
    IP_HDRINCL,
    IP_MULTICAST_LOOP,
    IP_MULTICAST_TTL,
    IP_TOS,
    IP_TTL,
    IPPROTO_IP,
    IPPROTO_IPV6,
    IPPROTO_TCP,
    IPPROTO_UDP,
    IPV6_UNICAST_HOPS,
    IPV6_V6ONLY,
    SIO_GET_EXTENSION_FUNCTION_POINTER,
    SIOCATMARK,
    SO_ACCEPTCONN,
    SO_BROADCAST,
    SO_DONTLINGER,
    SO_DONTROUTE,
    SO_ERROR,
    SO_EXCLUSIVEADDRUSE,
    SO_KEEPALIVE,
    SO_LINGER,
    SO_MAX_MSG_SIZE,
    SO_OOBINLINE,
    SO_PROTOCOL_INFOA,
    SO_PROTOCOL_INFOW,
    SO_RCVBUF,
    SO_RCVTIMEO,
    SO_REUSEADDR,
    SO_SNDBUF,
    SO_SNDTIMEO,
    SO_TYPE,
    SO_UPDATE_ACCEPT_CONTEXT,
    SO_UPDATE_CONNECT_CONTEXT,
    SOCK_STREAM,
    SOCKET_ERROR,
    SOL_SOCKET,
    TCP_NODELAY,
    WSAEFAULT,
    WSAEINVAL,
    WSAENOBUFS,
    WSAENOPROTOOPT,
    WSAENOTCONN,
    WSAENOTSOCK,
    WSAEOPNOTSUPP,
    WSAID_ACCEPTEX,
    WSAID_CONNECTEX,
    WSAID_DISCONNECTEX,
    WSAID_GETACCEPTEXSOCKADDRS,
)
from ..structs import GUID, WSAPROTOCOL_INFOA, WSAPROTOCOL_INFOW
from .arguments import _writable
from .base import CONNECTED, LISTENING, ProviderSocket
from .events import _Events
from .protocols import fill_protocol_info


def _set_host_timeouts(host: socket.socket, receive_ms: int, send_ms: int) -> None:
    """SO_RCVTIMEO / SO_SNDTIMEO in the host's kernel, where its blocking calls sleep."""
    for name, milliseconds in ((socket.SO_RCVTIMEO, receive_ms), (socket.SO_SNDTIMEO, send_ms)):
        seconds, rest = divmod(milliseconds, 1000)
        host.setsockopt(socket.SOL_SOCKET, name, struct.pack("ll", seconds, rest * 1000))


class _Option(NamedTuple):
    """How Windows reads and writes one option (Wine's test_set_getsockopt, whose optsize
    table holds on Windows).  ``shape``:

    - "flag1": a one-byte BOOL.  setsockopt reads its first byte only (any optlen from 1:
      0x100 is FALSE; 0 is WSAEFAULT, a negative optlen WSAENOBUFS); getsockopt writes one
      byte and optlen 1, whatever room it had.
    - "flag": a SOL_SOCKET BOOL.  setsockopt reads min(optlen, 4) bytes, any nonzero is TRUE
      (optlen 0 reads nothing and succeeds; a negative one reads 4); getsockopt writes 4
      bytes, or with optlen 1 to 3 that many and optlen 1.
    - "small": an IP-level BOOL or byte.  setsockopt reads min(optlen, 4) bytes (0:
      WSAEFAULT, negative: WSAENOBUFS; a byte option past 255: WSAEINVAL); getsockopt
      writes 4 bytes, or with optlen 1 to 3 one byte and optlen 1.
    - "int": an int, DWORD or LINGER: both need optlen 4 (WSAEFAULT below; setsockopt
      reads a negative SOL_SOCKET optlen as 4).
    - "mreq": an ip_mreq (8 bytes), set only.
    - "info": a WSAPROTOCOL_INFOA or W (372 or 628 bytes), get only: an optlen below its
      size is WSAEFAULT with the size written into optlen; getsockopt writes the structure
      and leaves a larger optlen as it was (Wine's tests of SO_PROTOCOL_INFOA, which hold on
      Windows).

    ``kind`` says what the value is ("bool", "byte", "int", "linger", or one the provider
    keeps itself); ``host`` the host's (level, name) when it has a twin; ``access`` "rw",
    "r" (set: WSAENOPROTOOPT) or "w" (get: WSAENOPROTOOPT).
    """

    shape: str
    kind: str
    host: tuple[int, int] | None = None
    access: str = "rw"


_S, _IP, _IP6, _TCP = socket.SOL_SOCKET, socket.IPPROTO_IP, socket.IPPROTO_IPV6, socket.IPPROTO_TCP
_OPTIONS: Final[dict[tuple[int, int], _Option]] = {
    (SOL_SOCKET, SO_REUSEADDR): _Option("flag", "bool", (_S, socket.SO_REUSEADDR)),
    (SOL_SOCKET, SO_EXCLUSIVEADDRUSE): _Option("flag", "exclusive"),
    (SOL_SOCKET, SO_KEEPALIVE): _Option("flag1", "bool", (_S, socket.SO_KEEPALIVE)),
    (SOL_SOCKET, SO_BROADCAST): _Option("flag", "bool", (_S, socket.SO_BROADCAST)),
    (SOL_SOCKET, SO_OOBINLINE): _Option("flag", "bool", (_S, socket.SO_OOBINLINE)),
    (SOL_SOCKET, SO_DONTROUTE): _Option("flag1", "bool", (_S, socket.SO_DONTROUTE)),
    (SOL_SOCKET, SO_DONTLINGER): _Option("flag", "dontlinger", (_S, socket.SO_LINGER)),
    (SOL_SOCKET, SO_LINGER): _Option("int", "linger", (_S, socket.SO_LINGER)),
    (SOL_SOCKET, SO_RCVBUF): _Option("int", "bufsize", (_S, socket.SO_RCVBUF)),
    (SOL_SOCKET, SO_SNDBUF): _Option("int", "bufsize", (_S, socket.SO_SNDBUF)),
    (SOL_SOCKET, SO_RCVTIMEO): _Option("int", "timeout"),
    (SOL_SOCKET, SO_SNDTIMEO): _Option("int", "timeout"),
    # Windows lets a program set the pending error too (Wine's tests: a todo in Wine).
    (SOL_SOCKET, SO_ERROR): _Option("int", "error"),
    (SOL_SOCKET, SO_TYPE): _Option("int", "type", access="r"),
    (SOL_SOCKET, SO_ACCEPTCONN): _Option("int", "acceptconn", access="r"),
    (SOL_SOCKET, SO_MAX_MSG_SIZE): _Option("int", "maxmsg", access="r"),
    (SOL_SOCKET, SO_PROTOCOL_INFOA): _Option("info", "protocol_info", access="r"),
    (SOL_SOCKET, SO_PROTOCOL_INFOW): _Option("info", "protocol_info_w", access="r"),
    # mswsock.h's, for sockets AcceptEx and ConnectEx connected (``extensions``): the
    # listener's handle (a SOCKET, read as its low 4 bytes), and nothing (NULL, optlen 0).
    (SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT): _Option("int", "accept_context", access="w"),
    (SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT): _Option("flag", "connect_context", access="w"),
    (IPPROTO_TCP, TCP_NODELAY): _Option("flag1", "bool", (_TCP, socket.TCP_NODELAY)),
    (IPPROTO_IP, IP_TTL): _Option("small", "byte", (_IP, socket.IP_TTL)),
    (IPPROTO_IP, IP_TOS): _Option("small", "byte", (_IP, socket.IP_TOS)),
    (IPPROTO_IP, IP_MULTICAST_TTL): _Option("small", "byte", (_IP, socket.IP_MULTICAST_TTL)),
    (IPPROTO_IP, IP_MULTICAST_LOOP): _Option("small", "bool", (_IP, socket.IP_MULTICAST_LOOP)),
    (IPPROTO_IP, IP_ADD_MEMBERSHIP): _Option("mreq", "join", (_IP, socket.IP_ADD_MEMBERSHIP), "w"),
    (IPPROTO_IP, IP_DROP_MEMBERSHIP): _Option("mreq", "mreq", (_IP, socket.IP_DROP_MEMBERSHIP), "w"),
    (IPPROTO_IP, IP_HDRINCL): _Option("int", "hdrincl"),
    (IPPROTO_IPV6, IPV6_V6ONLY): _Option("flag1", "bool", (_IP6, socket.IPV6_V6ONLY)),
    (IPPROTO_IPV6, IPV6_UNICAST_HOPS): _Option("small", "byte", (_IP6, socket.IPV6_UNICAST_HOPS)),
}
_LEVELS: Final = {SOL_SOCKET, IPPROTO_IP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_IPV6}
_MREQ_SIZE: Final = 8  # struct ip_mreq: imr_multiaddr, imr_interface
# SO_MAX_MSG_SIZE of a datagram socket: the largest UDP payload of an IPv4 packet, which
# Wine 8 gives for IPv6 too (Windows' own IPv6 figure has no source here).
_MAX_DATAGRAM: Final = 65507
_NO_MESSAGE_LIMIT: Final = 0x7FFFFFFF  # a stream socket's: its messages have no size
EXTENSION_FUNCTIONS: Final = {WSAID_ACCEPTEX: "AcceptEx", WSAID_CONNECTEX: "ConnectEx",
                              WSAID_DISCONNECTEX: "DisconnectEx",
                              WSAID_GETACCEPTEXSOCKADDRS: "GetAcceptExSockaddrs"}
"""SIO_GET_EXTENSION_FUNCTION_POINTER: the name of each GUID's function, a method of the
provider (``extensions``) and an export of the guest layer (``ws2core.guest.extensions``)."""
_POINTER_SIZE: Final = {"x64": 8, "x86": 4}  # what Windows writes to lpcbBytesReturned
_GUID_SIZE: Final = 16


def setsockopt_size(level: Any, optname: Any, optlen: Any) -> int:
    """How many bytes of optval Windows' setsockopt reads for this option and ``optlen``
    (0 for an unknown option or a length it refuses, whose error WSPSetSockOpt gives): what
    the guest layer copies out of the guest's memory, no more."""
    try:
        option = _OPTIONS.get((_index(level), _index(optname)))
        return 0 if option is None else _read_size(option, level, _index(optlen))
    except WinsockError:
        return 0


def getsockopt_size(level: Any, optname: Any, optlen: Any) -> int:
    """How many bytes of optval Windows' getsockopt may write for this option and ``optlen``
    (0 for an unknown or write-only option, or an optlen too short for a structure, whose
    error WSPGetSockOpt gives): what the guest layer must find writable before the call."""
    try:
        option = _OPTIONS.get((_index(level), _index(optname)))
        length = _index(optlen)
    except TypeError:
        return 0
    if option is None or option.access == "w":
        return 0
    if option.shape == "info":
        size = _info_size(option)
        return size if length >= size else 0
    return min(max(length, 0), 4)


def _info_structure(option: _Option) -> type[WSAPROTOCOL_INFOA | WSAPROTOCOL_INFOW]:
    return WSAPROTOCOL_INFOW if option.kind == "protocol_info_w" else WSAPROTOCOL_INFOA


def _info_size(option: _Option) -> int:
    return ctypes.sizeof(_info_structure(option))


def _read_size(option: _Option, level: Any, length: int) -> int:
    """The bytes setsockopt reads for ``option`` given ``optlen``; WinsockError for an optlen
    Windows refuses."""
    if option.shape == "info":
        return 0  # read-only: setsockopt refuses it without reading optval
    if length < 0:
        if level != SOL_SOCKET or option.shape == "flag1":
            raise WinsockError(WSAENOBUFS, f"optlen {length}")
        length = 4  # a SOL_SOCKET value is read whole, as if optlen were its size
    if option.shape == "flag1":
        if length < 1:
            raise WinsockError(WSAEFAULT, "optlen 0")
        return 1
    if option.shape == "flag":
        return min(length, 4)
    if option.shape == "small":
        if length < 1:
            raise WinsockError(WSAEFAULT, "optlen 0")
        return min(length, 4)
    need = _MREQ_SIZE if option.shape == "mreq" else 4
    if length < need:
        raise WinsockError(WSAEFAULT, f"optlen {length} for an option of {need} bytes")
    return need


def _option_value_in(optval: Any, optlen: Any, option: _Option, level: Any) -> Any:
    """An option value to set: an int, a (l_onoff, l_linger) tuple for SO_LINGER, an
    (imr_multiaddr, imr_interface) pair of address strings for a membership, or Windows
    bytes read as Windows reads them (``_Option``)."""
    if optval is None:
        raise WinsockError(WSAEFAULT, "optval is NULL")
    if option.shape == "mreq":
        if isinstance(optval, tuple):
            group, interface = optval
            return socket.inet_aton(group) + socket.inet_aton(interface)
        data = _option_bytes(optval, optlen, option, level)
        return data
    if isinstance(optval, tuple):
        if option.kind != "linger" or len(optval) != 2:
            raise TypeError(f"a tuple option value is SO_LINGER's (l_onoff, l_linger), not {optval!r}")
        onoff, seconds = (_index(part) for part in optval)
        if not (0 <= onoff <= 0xFFFF and 0 <= seconds <= 0xFFFF):
            raise WinsockError(WSAEINVAL, f"LINGER fields are u_short: {optval!r}")
        return (onoff, seconds)
    if option.kind == "linger" and hasattr(optval, "__index__"):
        raise TypeError("SO_LINGER takes an (l_onoff, l_linger) tuple or 4 bytes")
    if hasattr(optval, "__index__") and not isinstance(optval, (bytes, bytearray)):
        value = _index(optval)
        if not -(1 << 31) <= value < (1 << 32):
            raise WinsockError(WSAEINVAL, f"{value} does not fit the option's C type")
        return value & 0xFFFFFFFF
    data = _option_bytes(optval, optlen, option, level)
    if option.kind == "linger":
        return struct.unpack_from("<HH", data)
    return int.from_bytes(data, "little")


def _option_bytes(optval: Any, optlen: Any, option: _Option, level: Any) -> bytes:
    try:
        data = memoryview(optval).cast("B")
    except TypeError:
        raise TypeError(f"an option value is an int, a tuple or bytes, not {type(optval).__name__}") from None
    size = _read_size(option, level, _index(optlen))
    if size > len(data):
        raise WinsockError(WSAEFAULT, f"optval holds {len(data)} bytes, the option reads {size}")
    return bytes(data[:size])


def _option_value_out(optval: Any, optlen: Any, option: _Option, value: Any) -> None:
    """Write an option's value to a Ref (an int or a tuple) or a buffer (the bytes Windows
    writes, ``_Option``), and its size to ``optlen``."""
    full = 1 if option.shape == "flag1" else 4
    if hasattr(optval, "value"):
        optval.value = value
        optlen.value = full
        return
    room = min(_index(optlen.value), len(_writable(optval, "optval")))
    need = 4 if option.shape == "int" else 1
    if room < need:
        raise WinsockError(WSAEFAULT, f"optval has room for {max(room, 0)} bytes of {need}")
    if isinstance(value, tuple):
        data = struct.pack("<HH", *value)
    else:
        data = struct.pack("<I", value & 0xFFFFFFFF)
    if room >= full:
        written, length = full, full
    else:  # 1 to 3 bytes for a 4-byte flag or small value: one counts, SOL_SOCKET fills them
        written, length = (room if option.shape == "flag" else 1), 1
    optval[:written] = data[:written]
    optlen.value = length


class _Options(_Events):
    """Options and I/O controls (SO_ERROR settles a pending non-blocking connect first)."""

    def WSPSetSockOpt(self, s: Any, level: Any, optname: Any, optval: Any, optlen: Any,
                      lpErrno: Any, /) -> int:
        """Set a socket option: 0, or SOCKET_ERROR.

        ``optval``: an int (BOOL and int options), an ``(l_onoff, l_linger)`` tuple for
        SO_LINGER, an ``(imr_multiaddr, imr_interface)`` pair of IPv4 strings for
        IP_ADD_MEMBERSHIP and IP_DROP_MEMBERSHIP, or bytes in the Windows layout, read as
        Windows reads them given ``optlen`` (a BOOL may be 1 byte; too short: WSAEFAULT;
        negative: WSAENOBUFS but at SOL_SOCKET; see ``_Option``); None: WSAEFAULT.
        Options: SOL_SOCKET SO_REUSEADDR, SO_EXCLUSIVEADDRUSE (kept by the provider: either
        one set while the other is is WSAEINVAL), SO_KEEPALIVE, SO_BROADCAST, SO_LINGER,
        SO_DONTLINGER, SO_RCVBUF, SO_SNDBUF (read back as set, as on Windows: the host
        doubles them), SO_OOBINLINE, SO_DONTROUTE, SO_RCVTIMEO and
        SO_SNDTIMEO (ms; a blocking call that waits longer fails WSAETIMEDOUT), SO_ERROR (the
        pending error, as Windows lets a program set it); IPPROTO_TCP TCP_NODELAY;
        IPPROTO_IP IP_TTL, IP_TOS, IP_MULTICAST_TTL (0 to 255, else WSAEINVAL),
        IP_MULTICAST_LOOP, IP_ADD_MEMBERSHIP (the policy decides it as a datagram sent to
        the group, and a refusal fails with the policy's error: under the default policy
        no group can be joined), IP_DROP_MEMBERSHIP, IP_HDRINCL (WSAEINVAL: no raw sockets);
        IPPROTO_IPV6 IPV6_V6ONLY, IPV6_UNICAST_HOPS (an IPv4 socket: WSAEINVAL, a level
        it does not have; Wine 8 takes them, Windows' answer has no source here).  The host's
        semantics apply (SO_REUSEADDR is the host's, not Windows' port sharing).  An
        unknown level: WSAEINVAL; an unknown or read-only option: WSAENOPROTOOPT.
        """
        return self._call(s, lpErrno, SOCKET_ERROR, self._setsockopt, level, optname, optval, optlen)

    def _setsockopt(self, sock: ProviderSocket, level: Any, optname: Any, optval: Any,
                    optlen: Any) -> int:
        option = self._option(sock, level, optname)
        if option.access == "r":
            raise WinsockError(WSAENOPROTOOPT, "a read-only option")
        kind = option.kind
        if kind == "connect_context":
            return self._update_context(sock, None)
        value = _option_value_in(optval, optlen, option, level)
        if kind == "accept_context":
            return self._update_context(sock, value)
        if kind == "hdrincl":
            raise WinsockError(WSAEINVAL, "IP_HDRINCL is a raw socket's option")
        if kind == "timeout":
            with self._lock:
                if _index(optname) == SO_RCVTIMEO:
                    sock.receive_timeout = value
                else:
                    sock.send_timeout = value
            _set_host_timeouts(sock.host, sock.receive_timeout, sock.send_timeout)
            return 0
        if kind == "error":
            with self._lock:
                sock.pending_error = value
            return 0
        if kind in ("join", "mreq"):
            assert option.host is not None
            if kind == "join":
                group = socket.inet_ntoa(value[:4])
                decision = self.policy.decide("sendto", "udp", (group, 0))
                if decision.error:
                    raise WinsockError(decision.error, f"the network policy refuses joining {group}")
            sock.host.setsockopt(*option.host, value)  # ip_mreq: the same 8 bytes on Linux
            return 0
        on = bool(value)
        if kind == "exclusive" or (kind == "bool" and _index(optname) == SO_REUSEADDR):
            other = (sock.host.getsockopt(_S, socket.SO_REUSEADDR) if kind == "exclusive"
                     else sock.exclusive_address)
            if on and other:
                raise WinsockError(WSAEINVAL, "SO_REUSEADDR and SO_EXCLUSIVEADDRUSE exclude each other")
            if kind == "exclusive":
                sock.exclusive_address = on
                return 0
        assert option.host is not None
        if kind == "linger":
            sock.host.setsockopt(*option.host, struct.pack("ii", *value))
        elif kind == "dontlinger":
            _, seconds = struct.unpack("ii", sock.host.getsockopt(*option.host, 8))
            sock.host.setsockopt(*option.host, struct.pack("ii", 0 if on else 1, seconds))
        elif kind == "bool":
            sock.host.setsockopt(*option.host, 1 if on else 0)
        elif kind == "byte":
            if value > 0xFF:
                raise WinsockError(WSAEINVAL, f"{value} does not fit the option's byte")
            sock.host.setsockopt(*option.host, value)
        else:
            # The C int that Windows reads from optval: a DWORD past INT_MAX is the same 32
            # bits, which the host's setsockopt (a C int too) only takes as a negative number.
            sock.host.setsockopt(*option.host, value - (1 << 32) if value >= 1 << 31 else value)
            if kind == "bufsize":
                # Windows reads back what was set; Linux doubles it and has a floor.
                sock.buffer_sizes[option.host[1]] = value
        return 0

    def _update_context(self, sock: ProviderSocket, listener: int | None) -> int:
        """SO_UPDATE_CONNECT_CONTEXT (``listener`` None) and SO_UPDATE_ACCEPT_CONTEXT: the
        socket must be a connected stream (WSAENOTCONN), and the listener a listening socket
        of this provider (no socket of it: WSAENOTSOCK; not listening: WSAEINVAL).  Nothing
        to update: the socket already answers as a connected one (``extensions``)."""
        if sock.type != SOCK_STREAM:
            raise WinsockError(WSAENOTCONN, "a datagram socket has no connection context")
        self._resolve_connect(sock)
        if sock.state != CONNECTED:
            raise WinsockError(WSAENOTCONN)
        if listener is not None:
            code = Ref(0)
            source = self._enter(listener, code)
            if source is None:
                raise WinsockError(WSAENOTSOCK, f"SO_UPDATE_ACCEPT_CONTEXT names {listener:#x}")
            try:
                if source.state != LISTENING:
                    raise WinsockError(WSAEINVAL, "SO_UPDATE_ACCEPT_CONTEXT names no listener")
            finally:
                self._leave(source)
        return 0

    def WSPGetSockOpt(self, s: Any, level: Any, optname: Any, optval: Any, optlen: Any,
                      lpErrno: Any, /) -> int:
        """Read a socket option into ``optval`` (a Ref gets an int, or a tuple for SO_LINGER;
        a writable buffer gets the bytes Windows writes) and its size into ``optlen`` (a Ref
        holding the buffer's size on the way in): 0, or SOCKET_ERROR.

        None for either, a negative optlen or less room than the value needs: WSAEFAULT
        (4 bytes; 1 for a BOOL, which then reads back with optlen 1: see ``_Option``;
        SO_KEEPALIVE, SO_DONTROUTE, TCP_NODELAY and IPV6_V6ONLY always do, as on Windows).
        The options of WSPSetSockOpt but the memberships (WSAENOPROTOOPT), and SO_TYPE,
        SO_ACCEPTCONN, SO_MAX_MSG_SIZE (a datagram's largest payload; 0x7FFFFFFF for a
        stream) and SO_PROTOCOL_INFOA / SO_PROTOCOL_INFOW (the socket's
        ``ws2core.structs.WSAPROTOCOL_INFOA`` / ``…W`` as Windows' base provider describes
        it, ``ws2core.provider.protocols``: a Ref gets the structure, a buffer its bytes; an
        optlen below the structure's size is WSAEFAULT with that size written into optlen, a
        larger one is left as it was).  SO_ERROR gives the pending error as a Winsock code
        and clears it.  Values are the host's, but SO_RCVBUF and SO_SNDBUF once set (what
        was set).
        """
        return self._call(s, lpErrno, SOCKET_ERROR, self._getsockopt, level, optname, optval, optlen)

    def _getsockopt(self, sock: ProviderSocket, level: Any, optname: Any, optval: Any,
                    optlen: Any) -> int:
        option = self._option(sock, level, optname)
        if optval is None or optlen is None:
            raise WinsockError(WSAEFAULT, "optval or optlen is NULL")
        require_out_parameter(optlen, "optlen")
        if option.access == "w":
            raise WinsockError(WSAENOPROTOOPT, "a write-only option")
        if option.kind == "hdrincl":
            raise WinsockError(WSAEINVAL, "IP_HDRINCL is a raw socket's option")
        if option.shape == "info":
            return self._get_protocol_info(sock, option, optval, optlen)
        if not hasattr(optval, "value") and _index(optlen.value) < 1:
            raise WinsockError(WSAEFAULT, f"optlen {optlen.value}")
        kind = option.kind
        value: Any
        if kind == "error":
            self._resolve_connect(sock)
            with self._lock:
                value, sock.pending_error = sock.pending_error, 0
        elif kind == "type":
            value = sock.type
        elif kind == "acceptconn":
            value = int(sock.state == LISTENING)
        elif kind == "maxmsg":
            value = _NO_MESSAGE_LIMIT if sock.type == SOCK_STREAM else _MAX_DATAGRAM
        elif kind == "timeout":
            value = sock.receive_timeout if _index(optname) == SO_RCVTIMEO else sock.send_timeout
        elif kind == "exclusive":
            value = int(sock.exclusive_address)
        elif kind == "bufsize" and option.host is not None and option.host[1] in sock.buffer_sizes:
            value = sock.buffer_sizes[option.host[1]]
        else:
            assert option.host is not None
            if kind in ("linger", "dontlinger"):
                onoff, seconds = struct.unpack("ii", sock.host.getsockopt(*option.host, 8))
                value = (onoff, seconds) if kind == "linger" else int(not onoff)
            else:
                value = sock.host.getsockopt(*option.host)
                if kind == "bool":
                    value = int(bool(value))
        _option_value_out(optval, optlen, option, value)
        return 0

    def _get_protocol_info(self, sock: ProviderSocket, option: _Option, optval: Any,
                           optlen: Any) -> int:
        """SO_PROTOCOL_INFOA/W: the socket's WSAPROTOCOL_INFO (``ws2core.provider.protocols``)."""
        info = _info_structure(option)()
        size = ctypes.sizeof(info)
        if hasattr(optval, "value"):
            fill_protocol_info(info, sock.family, sock.type, sock.catalog_entry_id)
            optval.value = info
            optlen.value = size
            return 0
        length = _index(optlen.value)
        if length < size:
            optlen.value = size  # Windows says how much room the structure needs
            raise WinsockError(WSAEFAULT, f"optlen {length} for a {size}-byte structure")
        buffer = _writable(optval, "optval")
        if len(buffer) < size:
            raise WinsockError(WSAEFAULT, f"optval holds {len(buffer)} bytes of {size}")
        fill_protocol_info(info, sock.family, sock.type, sock.catalog_entry_id)
        buffer[:size] = bytes(info)
        return 0  # a larger optlen stays as it was, as on Windows

    @staticmethod
    def _option(sock: ProviderSocket, level: Any, optname: Any) -> _Option:
        key = (_index(level), _index(optname))
        if key[0] not in _LEVELS:
            raise WinsockError(WSAEINVAL, f"unknown option level {key[0]:#x}")
        option = _OPTIONS.get(key)
        if option is None:
            raise WinsockError(WSAENOPROTOOPT, f"unknown option {key[1]:#x} at level {key[0]:#x}")
        if key[0] == IPPROTO_IPV6 and sock.family != AF_INET6:
            raise WinsockError(WSAEINVAL, "an IPv6 option on an IPv4 socket")
        return option

    def WSPIoctl(self, s: Any, dwIoControlCode: Any, lpvInBuffer: Any, cbInBuffer: Any,
                 lpvOutBuffer: Any, cbOutBuffer: Any, lpcbBytesReturned: Any, lpOverlapped: Any,
                 lpCompletionRoutine: Any, lpThreadId: Any, lpErrno: Any, /) -> int:
        """Socket I/O control: 0, or SOCKET_ERROR.

        FIONBIO: ``lpvInBuffer`` an int (or a u_long's 4 bytes, ``cbInBuffer`` at least 4,
        else WSAEFAULT), nonzero for non-blocking; making a socket blocking while
        WSPEventSelect or WSPAsyncSelect is active is WSAEINVAL.  FIONREAD and SIOCATMARK:
        ``lpvOutBuffer`` (a Ref, or a writable buffer with ``cbOutBuffer`` at least 4, else
        WSAEFAULT) gets the bytes that a receive would return now, or whether no urgent
        (out-of-band) data waits to be read (TRUE, as always for a datagram socket or one with SO_OOBINLINE; FALSE
        while a byte sent with MSG_OOB waits).  ``lpcbBytesReturned`` (None or a Ref) gets the
        output size (0 for FIONBIO, 4 for the others).  SIO_GET_EXTENSION_FUNCTION_POINTER:
        ``lpvInBuffer`` a GUID (``ws2core.constants.WSAID_ACCEPTEX``, ``WSAID_CONNECTEX``,
        ``WSAID_DISCONNECTEX``, ``WSAID_GETACCEPTEXSOCKADDRS``: a ``uuid.UUID``, a
        ``ws2core.structs.GUID`` or its 16 bytes with ``cbInBuffer`` at least 16; None or
        fewer: WSAEFAULT; another GUID: WSAEINVAL), and ``lpvOutBuffer`` a Ref (None:
        WSAEFAULT; a buffer: TypeError, a Python callable has no address) that receives the
        function, a Python callable (``ws2core.provider.extensions``); the size written is a
        function pointer's in the table's ABI (8, or 4 for x86).  Any other code WSAEOPNOTSUPP (as Wine 8).  Overlapped (``lpOverlapped`` a WSAOVERLAPPED on a socket made with
        WSA_FLAG_OVERLAPPED; ignored on any other): these codes all complete at once, 0,
        with the completion reported as for WSPRecv (the output size as its byte count); a
        code that fails fails the call, with no completion.
        """
        return self._call(s, lpErrno, SOCKET_ERROR, self._ioctl, dwIoControlCode, lpvInBuffer,
                          cbInBuffer, lpvOutBuffer, cbOutBuffer, lpcbBytesReturned,
                          lpOverlapped, lpCompletionRoutine, lpThreadId)

    def _ioctl(self, sock: ProviderSocket, code: Any, in_buffer: Any, in_size: Any,
               out_buffer: Any, out_size: Any, returned: Any, overlapped: Any,
               completion: Any, thread_id: Any) -> int:
        request = self._request(sock, overlapped, completion, thread_id)
        command = _index(code) & 0xFFFFFFFF  # a negative C long is the same DWORD
        if command == FIONBIO:
            if in_buffer is None:
                raise WinsockError(WSAEFAULT, "FIONBIO needs its u_long argument")
            on = bool(_option_value_in(in_buffer, in_size, _U_LONG, SOL_SOCKET))
            with self._lock:
                if not on and sock.network_events:
                    raise WinsockError(WSAEINVAL, "a WSPEventSelect or WSPAsyncSelect is active: the socket stays non-blocking")
                self._set_nonblocking(sock, on)
            written = 0
        elif command in (FIONREAD, SIOCATMARK):
            if out_buffer is None:
                raise WinsockError(WSAEFAULT, "the command needs lpvOutBuffer")
            if not hasattr(out_buffer, "value") and (
                    _index(out_size) < 4 or len(_writable(out_buffer, "lpvOutBuffer")) < 4):
                raise WinsockError(WSAEFAULT, "lpvOutBuffer holds fewer than 4 bytes")
            if command == FIONREAD:
                answer = 0 if sock.state == LISTENING else self._readable_bytes(sock)
            else:
                answer = int(not self._urgent_waiting(sock))
            if hasattr(out_buffer, "value"):
                out_buffer.value = answer
            else:
                _writable(out_buffer, "lpvOutBuffer")[:4] = struct.pack("<I", answer)
            written = 4
        elif command == SIO_GET_EXTENSION_FUNCTION_POINTER:
            written = self._extension_function(in_buffer, in_size, out_buffer)
        else:
            # Wine 8 answers an unknown code so (its AFD's STATUS_NOT_SUPPORTED); WSAIoctl's
            # page lists it for a command that 'cannot be realized'.
            raise WinsockError(WSAEOPNOTSUPP, f"unsupported I/O control code {command:#x}")
        if returned is not None:
            require_out_parameter(returned, "lpcbBytesReturned")
            returned.value = written
        if request is not None:
            self._finish_at_once(request, written)
        return 0

    def _extension_function(self, in_buffer: Any, in_size: Any, out_buffer: Any) -> int:
        """SIO_GET_EXTENSION_FUNCTION_POINTER: the function of the GUID in ``in_buffer``
        into ``out_buffer``; the size written."""
        if in_buffer is None:
            raise WinsockError(WSAEFAULT, "SIO_GET_EXTENSION_FUNCTION_POINTER needs its GUID")
        if isinstance(in_buffer, (uuid.UUID, GUID, ctypes._Pointer)):
            guid = guid_of(in_buffer, "WSPIoctl", "lpvInBuffer")
            if guid is None:
                raise WinsockError(WSAEFAULT, "lpvInBuffer is a NULL pointer")
        else:
            try:
                view = memoryview(in_buffer).cast("B")
            except TypeError:
                raise TypeError("the lpvInBuffer of SIO_GET_EXTENSION_FUNCTION_POINTER is a "
                                "uuid.UUID, a ws2core.structs.GUID or 16 bytes, not "
                                f"{type(in_buffer).__name__}") from None
            if _index(in_size) < _GUID_SIZE or len(view) < _GUID_SIZE:
                raise WinsockError(WSAEFAULT, "lpvInBuffer holds less than a GUID")
            guid = uuid.UUID(bytes_le=bytes(view[:_GUID_SIZE]))
        name = EXTENSION_FUNCTIONS.get(guid)
        if name is None:
            raise WinsockError(WSAEINVAL, f"no extension function has the GUID {guid}")
        if out_buffer is None:
            raise WinsockError(WSAEFAULT, "SIO_GET_EXTENSION_FUNCTION_POINTER needs lpvOutBuffer")
        if not hasattr(out_buffer, "value"):
            raise TypeError("the lpvOutBuffer of SIO_GET_EXTENSION_FUNCTION_POINTER is a Ref: "
                            "it receives a Python callable, which has no address to write")
        out_buffer.value = getattr(self, name)
        upcalls = self.upcalls
        return _POINTER_SIZE["x64" if upcalls is None else upcalls.table.abi]

    @staticmethod
    def _readable_bytes(sock: ProviderSocket) -> int:
        data = fcntl.ioctl(sock.host.fileno(), termios.FIONREAD, b"\0\0\0\0")
        available: int = struct.unpack("i", data)[0]
        return available

    @staticmethod
    def _urgent_waiting(sock: ProviderSocket) -> bool:
        """Whether an out-of-band byte waits outside the stream (SIOCATMARK's FALSE).  The
        host's own SIOCATMARK says whether the stream is at the mark, not this: a peek at the
        urgent byte does (EINVAL: none, or inline)."""
        if sock.type != SOCK_STREAM or sock.state != CONNECTED:
            return False
        try:
            sock.host.recv(1, socket.MSG_OOB | socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except OSError:
            return False
        return True


# FIONBIO's argument: a u_long, read as a 4-byte int.
_U_LONG: Final = _Option("int", "int")
