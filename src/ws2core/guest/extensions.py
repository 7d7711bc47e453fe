"""The extension functions of mswsock.h over guest memory: AcceptEx, GetAcceptExSockaddrs,
ConnectEx and DisconnectEx.

mswsock.dll exports AcceptEx and GetAcceptExSockaddrs (mingw's ``-lmswsock`` imports them
from there); ConnectEx and DisconnectEx it does not export, and a program gets all four
through WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER), which the guest layer answers with
the address ``Guest.export_address("mswsock", name)`` gives: calling it reaches the same
export here (``control.WSAIoctl``).  All four are registered under mswsock's name.

Each asks the socket's provider for its function as mswsock does, through
``Ws2_32.WSAIoctl`` on the socket (so a handle that is no socket is WSAENOTSOCK first), and
calls it with guest memory copied to host buffers, checked first in the package's order
(``ws2core.guest``: every buffer it reads read, every one it writes checked writable,
before any effect).  Results as Windows': TRUE, or FALSE with the code as the last error,
ERROR_IO_PENDING (WSA_IO_PENDING) for an operation that completes later.  The operations
are the guest's overlapped operations (``_overlapped``): a record per call, completed by
its event or through the socket's completion port (``ports``), its outcome copied into
guest memory at safe points, an AcceptEx's received bytes and its two address areas (a
4-byte length and the sockaddr each, as Wine lays them out; GetAcceptExSockaddrs reads
that layout) included.  An AcceptEx or ConnectEx with a NULL lpOverlapped is
WSA_INVALID_PARAMETER, as Wine answers; DisconnectEx may have none.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, Final

from .. import Ref
from .._shared import WinsockError
from ..constants import (
    FALSE,
    SIO_GET_EXTENSION_FUNCTION_POINTER,
    SOCKET_ERROR,
)
from ..provider.extensions import ADDRESS_OFFSET
from ..provider.options import EXTENSION_FUNCTIONS
from . import _memory
from ._exports import Exports, export
from ._overlapped import write_received
from ._protocol import Guest

GUIDS: Final = {name: guid for guid, name in EXTENSION_FUNCTIONS.items()}
"""Each extension function's GUID, by its name."""

DLL: Final = "mswsock"
"""The module the extension functions are served as exports of."""


def _function(ex: Exports, s: int, name: str) -> Callable[..., int]:
    """The provider's function ``name`` for socket ``s``, as mswsock asks Ws2_32 for it."""
    function, returned = Ref(None), Ref(0)
    if ex.ws2_32.WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, GUIDS[name].bytes_le, 16,
                          function, 8, returned, None, None) == SOCKET_ERROR:
        raise WinsockError(ex.ws2_32.WSAGetLastError(), f"{name} on {s:#x}")
    found: Callable[..., int] = function.value
    return found


def _out_count(g: Guest, address: int) -> Ref | None:
    """A DWORD count the call writes when it completes at once (NULL: none)."""
    if not address:
        return None
    _memory.require_writable(g, address, 4)
    return Ref(0)


def _finish(ex: Exports, g: Guest, record: Any, result: int, count: Ref | None,
            address: int) -> int:
    """Write the count of a call that completed at once, and report the call to the
    overlapped records (TRUE is Winsock's 0 there)."""
    if result and count is not None:
        _memory.write_int(g, address, count.value)
    if record is not None:
        ex.overlapped.begun(g, record, 0 if result else SOCKET_ERROR)
    return result


class _AcceptAddresses:
    """The two address areas of an AcceptEx's output buffer: copied to the guest's buffer
    with the received bytes (a record's ``sender``), each only once the provider wrote it."""

    def __init__(self, g: Guest, buffer: int, host: bytearray, at: int, local: int) -> None:
        self.guest, self.buffer, self.host = g, buffer, host
        self.areas = (at, at + local)

    def write_back(self) -> None:
        for at in self.areas:
            (length,) = struct.unpack_from("<i", self.host, at)
            if length > 0:
                end = at + ADDRESS_OFFSET + length
                _memory.write(self.guest, self.buffer + at, bytes(self.host[at:end]))


@export("AcceptEx", "pppuuupp", "i", FALSE, dll=DLL)
def AcceptEx(ex: Exports, g: Guest, sListenSocket: int, sAcceptSocket: int,
             lpOutputBuffer: int, dwReceiveDataLength: int, dwLocalAddressLength: int,
             dwRemoteAddressLength: int, lpdwBytesReceived: int, lpOverlapped: int) -> int:
    """The provider's AcceptEx (``ws2core.provider.extensions``) into a host copy of
    ``lpOutputBuffer``, checked writable for its three lengths; the received bytes and the
    addresses go to the guest's buffer when the call completes, at once or later."""
    accept_ex = _function(ex, sListenSocket, "AcceptEx")
    output: bytearray | None = None
    sender = None
    if lpOutputBuffer:
        size = dwReceiveDataLength + dwLocalAddressLength + dwRemoteAddressLength
        _memory.require_writable(g, lpOutputBuffer, size)
        output = bytearray(size)
        sender = _AcceptAddresses(g, lpOutputBuffer, output, dwReceiveDataLength,
                                  dwLocalAddressLength)
    received = _out_count(g, lpdwBytesReceived)
    record = None
    if lpOverlapped:
        buffers = None if output is None else [(lpOutputBuffer, dwReceiveDataLength)]
        data = None if output is None else [output]
        record = ex.overlapped.start(g, lpOverlapped, buffers, data, sender)
    result = accept_ex(sListenSocket, sAcceptSocket, output, dwReceiveDataLength,
                       dwLocalAddressLength, dwRemoteAddressLength, received, record)
    if result and record is not None and sender is not None:  # at once: copied now
        write_received(g, [(lpOutputBuffer, dwReceiveDataLength)], [sender.host],
                       record.InternalHigh)
        sender.write_back()
    return _finish(ex, g, record, result, received, lpdwBytesReceived)


@export("GetAcceptExSockaddrs", "puuupppp", "v", None, dll=DLL)
def GetAcceptExSockaddrs(ex: Exports, g: Guest, lpOutputBuffer: int, dwReceiveDataLength: int,
                         dwLocalAddressLength: int, dwRemoteAddressLength: int,
                         LocalSockaddr: int, LocalSockaddrLength: int, RemoteSockaddr: int,
                         RemoteSockaddrLength: int) -> None:
    """Pointers INTO the guest's ``lpOutputBuffer``: each address area's sockaddr, and the
    length its area holds, as Windows gives them (nothing is checked of the areas' content:
    the function is void).  An area that cannot be read, or an out-parameter that cannot be
    written: nothing is written (Windows would fault in the program)."""
    local = lpOutputBuffer + dwReceiveDataLength
    areas = ((local, LocalSockaddr, LocalSockaddrLength),
             (local + dwLocalAddressLength, RemoteSockaddr, RemoteSockaddrLength))
    lengths = [_memory.read_int(g, area) for area, _, _ in areas]
    for _, pointer, length in areas:
        _memory.require_writable(g, pointer, g.ptr_size)
        _memory.require_writable(g, length, 4)
    for (area, pointer, length), value in zip(areas, lengths):
        _memory.write_int(g, length, value)
        _memory.write(g, pointer, (area + ADDRESS_OFFSET).to_bytes(g.ptr_size, "little"))


@export("ConnectEx", "ppipupp", "i", FALSE, dll=DLL)
def ConnectEx(ex: Exports, g: Guest, s: int, name: int, namelen: int, lpSendBuffer: int,
              dwSendDataLength: int, lpdwBytesSent: int, lpOverlapped: int) -> int:
    """The provider's ConnectEx with the guest's address and the bytes to send (read now)."""
    connect_ex = _function(ex, s, "ConnectEx")
    address = _memory.read_sockaddr(g, name, namelen)
    data = _memory.read(g, lpSendBuffer, dwSendDataLength) if lpSendBuffer else None
    sent = _out_count(g, lpdwBytesSent)
    record = ex.overlapped.start(g, lpOverlapped) if lpOverlapped else None
    result = connect_ex(s, address, namelen, data, dwSendDataLength, sent, record)
    return _finish(ex, g, record, result, sent, lpdwBytesSent)


@export("DisconnectEx", "ppuu", "i", FALSE, dll=DLL)
def DisconnectEx(ex: Exports, g: Guest, s: int, lpOverlapped: int, dwFlags: int,
                 dwReserved: int) -> int:
    """The provider's DisconnectEx; it completes at once, its completion reported through
    the guest's structure (its event, its port) when there is one."""
    disconnect_ex = _function(ex, s, "DisconnectEx")
    record = ex.overlapped.start(g, lpOverlapped) if lpOverlapped else None
    result = disconnect_ex(s, record, dwFlags, dwReserved)
    return _finish(ex, g, record, result, None, 0)


__all__ = ["DLL", "GUIDS", "AcceptEx", "ConnectEx", "DisconnectEx", "GetAcceptExSockaddrs"]
