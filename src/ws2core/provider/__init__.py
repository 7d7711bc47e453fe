"""HostSocketProvider: a Winsock 2 service provider over the host's real sockets.

The provider implements the core of the SPI (the ``WSP…`` functions a transport provider
exports) on top of the host's ``socket`` module, and leaves to Ws2_32, through the upcall
table it is handed in ``WSPStartup``, everything Ws2_32 does: the socket handles
(WPUCreateSocketHandle, with the provider's per-socket state as the context), finding that
state again (WPUQuerySocketHandleContext), closing them (WPUCloseSocketHandle), fd_set
membership (WPUFDIsSet), the events that WSPEventSelect signals (WPUSetEvent,
WPUResetEvent) and the messages that WSPAsyncSelect posts (WPUPostMessage).  It is the proof that the table does its job, an example to copy, and a
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
  layout, whose length argument is then checked as C checks it.  Any ULONG flowinfo is
  taken, as on Windows (only its 20-bit flow label goes to the host, which sends none).
  An address *written* by the provider goes to a ``Ref`` (as a tuple) or to a writable
  buffer (as Windows bytes), its length to a ``Ref``;
- a WSABUF array is a sequence of buffers (bytes-like to send, writable to receive);
- out-parameters (``lpNumberOfBytesSent``, ``lpFlags``, ``addrlen`` ...) are objects with
  a writable ``.value``: ``ws2core.Ref`` or a ctypes integer;
- fd_sets are ``ws2core.FdSet`` or any writable buffer in the layout of the upcall
  table's ABI (``UpcallTable(abi="x86")``: 4-byte SOCKETs); a TIMEVAL is
  ``TIMEVAL`` or a number of seconds; WSANETWORKEVENTS is ``WSANETWORKEVENTS`` (both
  ctypes structures of ``ws2core.structs``, re-exported here).

Overlapped I/O (``overlapped``): on a socket made with WSA_FLAG_OVERLAPPED, WSPSend,
WSPSendTo, WSPRecv, WSPRecvFrom and WSPIoctl take a WSAOVERLAPPED (``ws2core.structs``,
re-exported here); what cannot finish at once returns WSA_IO_PENDING and completes later,
reported by its event or by its completion routine queued as an APC to the calling thread
(WPUQueueApc), and WSPGetOverlappedResult reads the outcome; on any other socket
``lpOverlapped`` is ignored, as on Windows.  Connect data and QOS are not provided.
Blocking calls block the calling thread only, without the GIL; one reactor thread per
provider, started by the first WSPEventSelect, WSPAsyncSelect or pending overlapped
operation, watches every socket that has network events selected or an operation pending,
records its network events (an event set, or a message posted to a window of the upcall
table) and carries the operations on.

The package, one module per concern, each a mixin of ``HostSocketProvider`` over the shared
state in ``base`` (``ProviderSocket``, the calling convention): ``errors`` (host errno ->
Winsock), ``arguments`` (the Python forms of C arguments), ``events`` (network events and the
reactor, which the other concerns report to), ``sockets`` (start-up to close), ``transfer``
(send and receive), ``overlapped`` (overlapped operations and their completion),
``extensions`` (AcceptEx, ConnectEx, DisconnectEx, GetAcceptExSockaddrs, which
SIO_GET_EXTENSION_FUNCTION_POINTER hands out), ``options`` (socket options, FIONBIO,
FIONREAD, SIOCATMARK), ``select``
(WSPSelect, and ``poll``: WSAPoll).
"""

from __future__ import annotations

from ..structs import TIMEVAL, WSANETWORKEVENTS, WSAOVERLAPPED

# Public here before the split though not in __all__: "X as X" keeps them exported under
# mypy --strict (no implicit re-export).
from .base import CONNECTED as CONNECTED
from .base import CONNECTING as CONNECTING
from .base import DATAGRAM as DATAGRAM
from .base import LISTENING as LISTENING
from .base import UNCONNECTED as UNCONNECTED
from .base import ProviderSocket
from .errors import HOST_ERRORS
from .errors import winsock_error as winsock_error
from .events import _Events
from .extensions import _Extensions
from .layered import LayeredProvider, LayeredSocket
from .options import _Options
from .select import WSAPOLLFD, _Poll
from .sockets import _Sockets
from .transfer import _Transfer

__all__ = ["HOST_ERRORS", "HostSocketProvider", "LayeredProvider", "LayeredSocket",
           "ProviderSocket", "TIMEVAL", "WSANETWORKEVENTS", "WSAOVERLAPPED", "WSAPOLLFD"]


class HostSocketProvider(_Extensions, _Sockets, _Transfer, _Options, _Poll, _Events):
    """A Winsock service provider over the host's sockets, driven through an UpcallTable.

    ``HostSocketProvider()``; then ``WSPStartup(upcall_table)`` hands it the Ws2_32 it serves,
    as Ws2_32 hands a provider its WSPUPCALLTABLE.  Every socket it makes is a handle of that
    table (``WPUCreateSocketHandle(entry, state, …)``), whose context is the socket's
    ``ProviderSocket`` and whose catalog entry is the one the socket was made for: the
    lpProtocolInfo's dwCatalogEntryId, else the base provider's entry of its protocol (1001
    TCP/IPv4, 1002 UDP/IPv4, 1004 TCP/IPv6, 1005 UDP/IPv6), which SO_PROTOCOL_INFO and
    WSPDuplicateSocket report; ``HostSocketProvider(catalog_entry_id=n)`` makes ``n`` that
    default for every protocol (a provider installed under one entry of its own).  ``WSPCleanup`` (or leaving a ``with``
    block) closes every socket still open and stops the reactor.  Thread-safe: any thread may
    call any function; a call blocked on a socket that another thread closes returns
    SOCKET_ERROR with WSAEINTR.
    """

    def __enter__(self) -> HostSocketProvider:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

