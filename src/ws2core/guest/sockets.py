"""The socket exports over guest memory: socket, closesocket, bind, connect, listen, accept,
getsockname, getpeername, send, recv and shutdown (ioctlsocket and getsockopt are in
``control``, with the other options and I/O controls).

Each makes ``Ws2_32``'s checks first (started? a socket of this process?), as Windows does
before it touches the caller's memory, then reads its arguments from the guest, calls
``Ws2_32`` and writes back only what the call wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .. import Ref
from ..constants import INVALID_SOCKET, SOCKET_ERROR, WSAEMSGSIZE
from . import _memory
from ._exports import Exports, export
from ._protocol import Guest


@export("socket", "iii", "p", INVALID_SOCKET)
def socket(ex: Exports, g: Guest, af: int, type: int, protocol: int) -> int:
    return ex.ws2_32.socket(af, type, protocol)


@export("closesocket", "p", "i", SOCKET_ERROR)
def closesocket(ex: Exports, g: Guest, s: int) -> int:
    return ex.ws2_32.closesocket(s)


@export("bind", "ppi", "i", SOCKET_ERROR)
def bind(ex: Exports, g: Guest, s: int, name: int, namelen: int) -> int:
    ex.ws2_32.check_socket(s)
    address = _memory.read_sockaddr(g, name, namelen)
    return ex.ws2_32.bind(s, address, len(address))


@export("connect", "ppi", "i", SOCKET_ERROR)
def connect(ex: Exports, g: Guest, s: int, name: int, namelen: int) -> int:
    ex.ws2_32.check_socket(s)
    address = _memory.read_sockaddr(g, name, namelen)
    return ex.ws2_32.connect(s, address, len(address))


@export("listen", "pi", "i", SOCKET_ERROR)
def listen(ex: Exports, g: Guest, s: int, backlog: int) -> int:
    return ex.ws2_32.listen(s, backlog)


@export("accept", "ppp", "p", INVALID_SOCKET)
def accept(ex: Exports, g: Guest, s: int, addr: int, addrlen: int) -> int:
    return _address_call(ex, g, ex.ws2_32.accept, INVALID_SOCKET, s, addr, addrlen)


@export("getsockname", "ppp", "i", SOCKET_ERROR)
def getsockname(ex: Exports, g: Guest, s: int, name: int, namelen: int) -> int:
    return _address_call(ex, g, ex.ws2_32.getsockname, SOCKET_ERROR, s, name, namelen)


@export("getpeername", "ppp", "i", SOCKET_ERROR)
def getpeername(ex: Exports, g: Guest, s: int, name: int, namelen: int) -> int:
    return _address_call(ex, g, ex.ws2_32.getpeername, SOCKET_ERROR, s, name, namelen)


def _address_call(ex: Exports, g: Guest, function: Callable[[int, Any, Any], int],
                  failure: int, s: int, name: int, namelen: int) -> int:
    """A call that writes an address (accept, getsockname, getpeername) with the guest's
    ``name`` buffer and ``namelen`` in/out length, both copied back unless the call
    returned ``failure``.  A NULL
    ``name`` leaves ``namelen`` alone."""
    ex.ws2_32.check_socket(s)
    buffer = length = None
    if name:
        length = Ref(_memory.read_int(g, namelen)) if namelen else None
        size = 0 if length is None else max(0, min(length.value, _memory.SOCKADDR_STORAGE))
        buffer = bytearray(_memory.read(g, name, size))
        if length is not None:  # both written on success: a connection taken is not lost
            _memory.require_writable(g, name, size)
            _memory.require_writable(g, namelen, 4)
    result = function(s, buffer, length)
    if result != failure and buffer is not None and length is not None:
        _memory.write(g, name, bytes(buffer[: length.value]))
        _memory.write_int(g, namelen, length.value)
    return result


@export("send", "ppii", "i", SOCKET_ERROR)
def send(ex: Exports, g: Guest, s: int, buf: int, len: int, flags: int) -> int:
    ex.ws2_32.check_socket(s)
    return ex.ws2_32.send(s, _memory.read(g, buf, len), len, flags)


@export("recv", "ppii", "i", SOCKET_ERROR)
def recv(ex: Exports, g: Guest, s: int, buf: int, len: int, flags: int) -> int:
    ex.ws2_32.check_socket(s)
    # The buffer must exist before anything is taken from the socket.
    _memory.require_writable(g, buf, len)
    data = bytearray(len)
    received = ex.ws2_32.recv(s, data, len, flags)
    if received != SOCKET_ERROR:
        _memory.write(g, buf, bytes(data[:received]))
    elif ex.ws2_32.WSAGetLastError() == WSAEMSGSIZE:
        _memory.write(g, buf, bytes(data))  # a datagram larger than the buffer fills it
    return received


@export("shutdown", "pi", "i", SOCKET_ERROR)
def shutdown(ex: Exports, g: Guest, s: int, how: int) -> int:
    return ex.ws2_32.shutdown(s, how)
