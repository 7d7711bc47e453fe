"""Socket options and I/O controls: WSPSetSockOpt, WSPGetSockOpt and WSPIoctl (FIONBIO, FIONREAD).

Each option maps to the host's (``_HOST_OPTIONS``) or is the provider's own (timeouts, and
read-only facts about the socket); values come in and go out in Python forms or in the
Windows bytes.
"""

from __future__ import annotations

import fcntl
import socket
import struct
import termios
from operator import index as _index
from typing import Any, Final

from .._shared import WinsockError, require_out_parameter
from ..constants import (
    FIONBIO,
    FIONREAD,
    IPPROTO_IP,
    IPPROTO_IPV6,
    IPPROTO_TCP,
    IPPROTO_UDP,
    IPV6_V6ONLY,
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
    SOCKET_ERROR,
    SOL_SOCKET,
    TCP_NODELAY,
    WSAEFAULT,
    WSAEINVAL,
    WSAENOPROTOOPT,
)
from .arguments import _require_no_overlapped, _writable
from .base import LISTENING, ProviderSocket
from .events import _Events


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


class _Options(_Events):
    """Options and I/O controls (SO_ERROR settles a pending non-blocking connect first)."""

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
        elif kind == "bool":
            sock.host.setsockopt(host_level, host_name, 1 if value else 0)
        else:
            # The C int that Windows reads from optval: a DWORD past INT_MAX is the same 32
            # bits, which the host's setsockopt (a C int too) only takes as a negative number.
            sock.host.setsockopt(host_level, host_name, value - (1 << 32) if value >= 1 << 31 else value)
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
                self._set_nonblocking(sock, on)
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
