"""Ws2_32's exports served to an emulated Windows process (layer 4: the PE's import thunks).

Each export reads its arguments from guest memory in the guest's ABI (x86: 4-byte SOCKET,
HANDLE and pointers; x64: 8-byte), makes ``ws2core.ws2_32.Ws2_32``'s checks first (started?
a socket of this process?), calls ``Ws2_32`` and writes back only what Windows writes.  A
NULL, unmapped, too short or (for an out-parameter) read-only guest buffer is WSAEFAULT;
a failure sets the current guest thread's last
error; no exception leaves an export (one guard per export, logging on the
``ws2core.guest`` logger).  An emulator adapter implements the small ``Guest`` protocol and
registers ``Exports(ws2_32).hook(export)`` for each of ``EXPORTS``::

    exports = Exports(Ws2_32(UpcallTable(abi="x86")), max_block=10.0)
    for export in EXPORTS:
        call = exports.hook(export)          # call(guest, raw_argument_values) -> eax

The order of the checks, as Windows makes them (ReactOS's ws2_32: WsApiProlog, then
WsSockGetSocket, then the provider, which probes the caller's buffers; Wine agrees on every
case the tests/emulator programs try), written here once and followed by every export:

1. WSANOTINITIALISED: no WSAStartup in force (for the exports that need one; the event
   functions do not, events being kernel objects);
2. WSAENOTSOCK (or WSA_INVALID_HANDLE for an event): the handle is not a live one of this
   process: ``Ws2_32.check_socket`` / ``check_started``, before any guest memory is read;
3. the arguments read from guest memory, each a WSAEFAULT when NULL, unmapped, past the
   address space, too short or not readable; then every out-parameter checked writable
   (WSAEFAULT), read-only pages and a loaded image's read-only sections included, before the
   call has any effect, so that a failed call loses nothing (no data received and dropped,
   no connection accepted and orphaned, no network event record cleared);
4. the call itself (Ws2_32, then the provider), whose own checks give the rest;
5. the results written back: only what Windows writes (WSANETWORKEVENTS: lNetworkEvents and
   the iErrorCode entries of the events reported; an fd_set: its count and entries).

One module per family: ``startup`` (WSAStartup, WSACleanup, the last error), ``sockets``,
``transfer`` (WSASocket, WSAEnumProtocols, sendto, recvfrom and the WSA send and
receive calls, WSAGetOverlappedResult), ``control`` (setsockopt, getsockopt, ioctlsocket, WSAIoctl, WSAPoll, WSAAccept), ``select`` (select, __WSAFDIsSet), ``events``, ``addresses`` (gethostname, inet_addr,
inet_pton, inet_ntop, WSAAddressToString, WSAStringToAddress, the byte-order functions, and
iphlpapi's GetAdaptersAddresses and GetAdaptersInfo), ``names`` (the lookups the network policy
answers: gethostbyname, gethostbyaddr, getaddrinfo, getnameinfo and their wide forms,
freeaddrinfo, inet_ntoa, over memory ``Guest.allocate`` gives), ``kernel`` (kernel32's calls
on ws2core's handles: waits, SetEvent, ResetEvent, CloseHandle, ReadFile, WriteFile; a
handle that is not ws2core's raises ``NotServed``, for the adapter to hand the call to its
emulator), ``ports`` (kernel32's completion ports: CreateIoCompletionPort,
GetQueuedCompletionStatus(Ex), PostQueuedCompletionStatus), ``extensions`` (mswsock's
AcceptEx, GetAcceptExSockaddrs, ConnectEx and DisconnectEx, whose guest addresses WSAIoctl
hands out through ``Guest.export_address``), ``windows`` (user32's window classes,
message-only windows and message queue, which WSAAsyncSelect's messages reach: RegisterClass,
CreateWindowEx, GetMessage, PeekMessage, PostMessage, DispatchMessage and their kin);
beside them ``crt``, the C run-time a console
program needs before its first socket (its command line, environment, console output and
exit status: ``CRuntime`` and ``CRT_FUNCTIONS``); ``_memory`` holds the checked guest reads
and writes, ``_exports`` the table and its guard, ``_overlapped`` the guest's overlapped
operations (copied into its memory as each export returns), ``_protocol`` the ``Guest``
protocol.
"""

from __future__ import annotations

from typing import Final

# Each family registers its exports as it is imported; this order is EXPORTS' order.
from . import startup, sockets, transfer, control, select, events, addresses, names, kernel, apcs, ports, extensions, windows  # noqa: F401,I001,E501
from ._exports import REGISTERED, Export, Exports, NotServed
from ._protocol import Guest, GuestFault, GuestFunctionFault

EXPORTS: Final[tuple[Export, ...]] = tuple(REGISTERED)
"""Every export this package serves: ws2_32's, kernel32's calls on ws2core's handles,
mswsock's, iphlpapi's and user32's (``Export.dll`` says which)."""

__all__ = ["EXPORTS", "Export", "Exports", "Guest", "GuestFault", "GuestFunctionFault", "NotServed"]
