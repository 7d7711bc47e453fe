"""Layered service providers (DESIGN.md §7): a Python LSP installed in a Catalog (its layered
entry and a chain over TCP/IPv4, ordered first), loaded by Ws2_32 through the chain, carrying
real loopback traffic to the base provider on both cores; what WSAEnumProtocols and
WPUGetProviderPath say of it; its handles; what it refuses.
"""

from __future__ import annotations

import ctypes
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ws2core import (
    AF_INET,
    AF_INET6,
    FD_ACCEPT,
    FD_CLOSE,
    FD_READ,
    FD_WRITE,
    INVALID_SOCKET,
    IPPROTO_TCP,
    PFL_MATCHES_PROTOCOL_ZERO,
    SOCK_DGRAM,
    SOCK_STREAM,
    SOCKET_ERROR,
    WSAEINVAL,
    WSAENOTSOCK,
    WSAMAKESELECTREPLY,
    Ref,
    UpcallTable,
)
from ws2core.catalog import Catalog, protocol_name, set_protocol_name
from ws2core.constants import (
    FALSE,
    LAYERED_PROTOCOL,
    SIO_GET_EXTENSION_FUNCTION_POINTER,
    TRUE,
    WSAID_ACCEPTEX,
    WSAID_CONNECTEX,
    WSAID_DISCONNECTEX,
    WSAID_GETACCEPTEXSOCKADDRS,
    WSA_IO_INCOMPLETE,
    WSA_IO_PENDING,
    WSA_OPERATION_ABORTED,
    WSA_WAIT_IO_COMPLETION,
    WSS_OPERATION_IN_PROGRESS,
)
from ws2core.kernel32 import Kernel32
from ws2core.provider import WSAPOLLFD, LayeredProvider, LayeredSocket
from ws2core.structs import WSAOVERLAPPED, WSAPROTOCOL_INFOA, WSAPROTOCOL_INFOW
from ws2core.ws2_32 import Ws2_32

COUNTER_ID = uuid.UUID("5d0c6a3e-2b1f-4e8a-9c7d-1a2b3c4d5e6f")
COUNTER_PATH = f"{__name__}:Counter"
TCP_IP = 1001


class Counter(LayeredProvider):
    """Counts each socket's bytes in its own context (a LayeredSocket attribute) and keeps
    the totals of closed handles."""

    def __init__(self) -> None:
        super().__init__()
        self.closed: dict[int, tuple[int, int]] = {}

    def WSPSend(self, s: Any, lpBuffers: Any, dwBufferCount: Any, lpNumberOfBytesSent: Any,
                *rest: Any) -> int:
        return self._count(s, "sent", lpNumberOfBytesSent, super().WSPSend(
            s, lpBuffers, dwBufferCount, lpNumberOfBytesSent, *rest))

    def WSPRecv(self, s: Any, lpBuffers: Any, dwBufferCount: Any, lpNumberOfBytesRecvd: Any,
                *rest: Any) -> int:
        return self._count(s, "received", lpNumberOfBytesRecvd, super().WSPRecv(
            s, lpBuffers, dwBufferCount, lpNumberOfBytesRecvd, *rest))

    def _count(self, s: Any, direction: str, transferred: Any, result: int) -> int:
        sock = self.socket_of(s, Ref(0))
        if result == 0 and sock is not None:
            setattr(sock, direction, getattr(sock, direction, 0) + transferred.value)
        return result

    def WSPCloseSocket(self, s: Any, lpErrno: Any, /) -> int:
        sock = self.socket_of(s, Ref(0))
        if sock is not None:
            self.closed[s] = (getattr(sock, "sent", 0), getattr(sock, "received", 0))
        return super().WSPCloseSocket(s, lpErrno)


def install_counter(catalog: Catalog) -> tuple[int, int]:
    """The counter's layered entry and its chain over TCP/IP, the chain put first: the ids."""
    return install_layer(catalog, COUNTER_ID, COUNTER_PATH, "Counter")


def install_layer(catalog: Catalog, provider_id: uuid.UUID, path: str, name: str) -> tuple[int, int]:
    """A layered entry of the provider at ``path`` and its chain over TCP/IP, the chain put
    first: the two ids."""
    layered = WSAPROTOCOL_INFOW()
    layered.ProtocolChain.ChainLen = LAYERED_PROTOCOL
    set_protocol_name(layered, f"{name} layer")
    [layered_id] = catalog.install(provider_id, path, [layered])
    # The chain's id is the next one; an LSP installs the chain with its own GUID as well
    # (WSCInstallProvider refuses a second install of one GUID: a chain GUID of its own).
    chain = catalog.entry(TCP_IP)
    assert chain is not None
    chain.ProtocolChain.ChainLen = 2
    chain.ProtocolChain.ChainEntries[0] = layered_id
    chain.ProtocolChain.ChainEntries[1] = TCP_IP
    set_protocol_name(chain, f"{name} over MSAFD Tcpip [TCP/IP]")
    [chain_id] = catalog.install(uuid.uuid5(provider_id, "chain"), path, [chain])
    order = [chain_id] + [info.dwCatalogEntryId for info in catalog.protocols()
                          if info.dwCatalogEntryId != chain_id]
    assert catalog.WSCWriteProviderOrder(order, len(order)) == 0
    return layered_id, chain_id


@pytest.fixture
def layered(table: Any) -> Iterator[tuple[Ws2_32, Catalog, int, int]]:
    catalog = Catalog()
    ids = install_counter(catalog)
    ws = Ws2_32(UpcallTable(table, catalog=catalog))
    assert ws.WSAStartup(0x0202, Ref()) == 0
    try:
        yield ws, catalog, *ids
    finally:
        ws.close()


def connected_pair(ws: Ws2_32) -> tuple[int, int, int]:
    """listener, client, accepted: a loopback TCP connection made through the API."""
    listener = ws.socket(AF_INET, SOCK_STREAM, 0)
    assert listener != INVALID_SOCKET, ws.WSAGetLastError()
    assert ws.bind(listener, ("127.0.0.1", 0), 16) == 0
    assert ws.listen(listener, 1) == 0
    name, size = Ref(), Ref(16)
    assert ws.getsockname(listener, name, size) == 0
    client = ws.socket(AF_INET, SOCK_STREAM, IPPROTO_TCP)
    assert ws.connect(client, name.value, 16) == 0
    accepted = ws.accept(listener, None, None)
    assert accepted != INVALID_SOCKET, ws.WSAGetLastError()
    return listener, client, accepted


def counter_of(ws: Ws2_32, s: int) -> Counter:
    provider = ws._owner(s)
    assert isinstance(provider, Counter)
    return provider


def test_loopback_echo_goes_through_the_chain_and_is_counted(layered: Any) -> None:
    ws, catalog, layered_id, chain_id = layered
    listener, client, accepted = connected_pair(ws)
    table = ws.upcalls.table
    counter = counter_of(ws, client)
    for s in (listener, client, accepted):
        # The application's handles are the layer's: its entry id, its context, a lower socket.
        assert table.catalog_entry(s) == layered_id
        context = table.context(s)
        assert isinstance(context, LayeredSocket) and context.handle == s
        assert table.catalog_entry(context.lower) == TCP_IP
        assert context.provider is ws.provider
    for message in (b"hello", b"x" * 3000, b"!"):
        assert ws.send(client, message, len(message), 0) == len(message)
        echoed = bytearray()
        while len(echoed) < len(message):
            buffer = bytearray(4096)
            got = ws.recv(accepted, buffer, len(buffer), 0)
            assert got > 0
            echoed += buffer[:got]
        assert ws.send(accepted, echoed, len(echoed), 0) == len(echoed)
        back = bytearray(len(message))
        received = Ref(0)
        assert ws.WSARecv(client, [back], 1, received, Ref(0x8), None, None) == 0  # MSG_WAITALL
        assert bytes(back[:received.value]) == message
    total = 5 + 3000 + 1
    client_state, accepted_state = table.context(client), table.context(accepted)
    assert (client_state.sent, client_state.received) == (total, total)
    assert (accepted_state.sent, accepted_state.received) == (total, total)
    # Calls forwarded as they are: the peer's address is the lower socket's.
    peer, size = Ref(), Ref(16)
    assert ws.getpeername(accepted, peer, size) == 0
    local, size = Ref(), Ref(16)
    assert ws.getsockname(client, local, size) == 0
    assert peer.value == local.value
    for s in (client, accepted, listener):
        lower = table.context(s).lower
        assert ws.closesocket(s) == 0
        assert table.kind(s) is None and table.kind(lower) is None  # both handles gone
    assert counter.closed[client] == (total, total)
    assert ws.closesocket(client) == SOCKET_ERROR and ws.WSAGetLastError() == WSAENOTSOCK
    assert len(table) == 0


def test_the_catalog_lists_the_chain_not_the_layered_entry(layered: Any) -> None:
    ws, catalog, layered_id, chain_id = layered
    length = Ref(0)
    assert ws.WSAEnumProtocolsW(None, None, length) == SOCKET_ERROR
    buffer = (WSAPROTOCOL_INFOW * (length.value // ctypes.sizeof(WSAPROTOCOL_INFOW)))()
    count = ws.WSAEnumProtocolsW(None, buffer, length)
    listed = [(info.dwCatalogEntryId, info.ProtocolChain.ChainLen) for info in buffer[:count]]
    assert listed[0] == (chain_id, 2)
    assert layered_id not in [i for i, _ in listed]
    assert protocol_name(buffer[0]) == "Counter over MSAFD Tcpip [TCP/IP]"
    assert buffer[0].dwProviderFlags & PFL_MATCHES_PROTOCOL_ZERO  # socket(AF_INET, SOCK_STREAM, 0) finds it
    path, size, error = Ref(), Ref(256), Ref(0)
    assert ws.upcalls.WPUGetProviderPath(COUNTER_ID, path, size, error) == 0
    assert path.value == COUNTER_PATH


def test_other_protocols_stay_with_the_base_provider(layered: Any) -> None:
    ws, *_ = layered
    for family, kind, entry in ((AF_INET, SOCK_DGRAM, 1002), (AF_INET6, SOCK_STREAM, 1004)):
        s = ws.socket(family, kind, 0)
        assert s != INVALID_SOCKET
        assert ws.upcalls.table.catalog_entry(s) == entry  # the base entry of its protocol
        assert ws._owner(s) is ws.provider
        assert ws.closesocket(s) == 0


def test_a_deinstalled_layer_serves_no_new_socket(layered: Any) -> None:
    ws, catalog, layered_id, chain_id = layered
    s = ws.socket(AF_INET, SOCK_STREAM, 0)
    assert ws.upcalls.table.catalog_entry(s) == layered_id
    catalog.deinstall(uuid.uuid5(COUNTER_ID, "chain"))
    catalog.deinstall(COUNTER_ID)
    fresh = ws.socket(AF_INET, SOCK_STREAM, 0)
    assert ws.upcalls.table.catalog_entry(fresh) == TCP_IP
    # The socket made before keeps its layer until it closes.
    assert ws.bind(s, ("127.0.0.1", 0), 16) == 0
    assert ws.closesocket(s) == 0 and ws.closesocket(fresh) == 0


def test_select_and_poll_translate_the_handles(layered: Any) -> None:
    from ws2core import FdSet

    ws, *_ = layered
    listener, client, accepted = connected_pair(ws)
    readable = FdSet([client, accepted])
    assert ws.select(0, readable, None, None, 0) == 0 and list(readable) == []
    assert ws.send(client, b"ping", 4, 0) == 4
    readable = FdSet([client, accepted])
    writable = FdSet([client])
    assert ws.select(0, readable, writable, None, 5) == 2
    assert list(readable) == [accepted] and list(writable) == [client]
    entries = [WSAPOLLFD(client, 0x100), WSAPOLLFD(accepted, 0x100)]  # POLLRDNORM
    assert ws.WSAPoll(entries, 2, 1000) == 1
    assert [entry.revents for entry in entries] == [0, 0x100]


def extension(ws: Ws2_32, s: int, guid: Any) -> Any:
    out, returned = Ref(None), Ref(0)
    assert ws.WSAIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, guid, 16, out, 8, returned,
                       None, None) == 0, ws.WSAGetLastError()
    return out.value


def test_the_extension_functions_take_the_layers_handles(layered: Any) -> None:
    """SIO_GET_EXTENSION_FUNCTION_POINTER on a layer's socket gives the layer's AcceptEx,
    ConnectEx and DisconnectEx (GetAcceptExSockaddrs, which takes no socket, the base's); a
    pending AcceptEx completes by the application's event and on the port associated with the
    layer's listener; ConnectEx sends its data; DisconnectEx ends the connection."""
    ws, *_ = layered
    counter_listener, client, accepted = connected_pair(ws)
    accept_ex = extension(ws, client, WSAID_ACCEPTEX)
    counter = counter_of(ws, client)
    assert accept_ex == counter.AcceptEx
    assert extension(ws, client, WSAID_CONNECTEX) == counter.ConnectEx
    assert extension(ws, client, WSAID_DISCONNECTEX) == counter.DisconnectEx
    sockaddrs = extension(ws, client, WSAID_GETACCEPTEXSOCKADDRS)
    assert not hasattr(sockaddrs, "__self__") or sockaddrs.__self__ is not counter
    # AcceptEx: pending, then the connection and its first bytes
    listener = ws.socket(AF_INET, SOCK_STREAM, 0)
    assert ws.bind(listener, ("127.0.0.1", 0), 16) == 0 and ws.listen(listener, 4) == 0
    name = Ref()
    assert ws.getsockname(listener, name, Ref(16)) == 0
    kernel32 = Kernel32(ws)
    port = kernel32.CreateIoCompletionPort(listener, None, 9, 0)
    target = ws.socket(AF_INET, SOCK_STREAM, 0)
    event = ws.WSACreateEvent()
    overlapped = WSAOVERLAPPED()
    overlapped.hEvent = event
    output = bytearray(4 + 2 * 32)
    assert accept_ex(listener, target, output, 4, 32, 32, Ref(0), overlapped) == FALSE
    assert ws.upcalls.WSAGetLastError() == WSA_IO_PENDING
    assert overlapped.Internal == WSS_OPERATION_IN_PROGRESS
    peer = ws.socket(AF_INET, SOCK_STREAM, 0)
    assert ws.connect(peer, name.value, 16) == 0 and ws.send(peer, b"ping", 4, 0) == 4
    assert ws.WSAWaitForMultipleEvents(1, [event], FALSE, 5000, FALSE) == 0
    assert (overlapped.Internal, overlapped.InternalHigh, overlapped.OffsetHigh) == (0, 4, 0)
    assert bytes(output[:4]) == b"ping"
    assert kernel32.GetQueuedCompletionStatus(port, 5000) == (TRUE, 4, 9, overlapped)
    assert ws.send(target, b"pong", 4, 0) == 4
    buffer = bytearray(4)
    assert ws.recv(peer, buffer, 4, 0) == 4 and buffer == b"pong"
    # ConnectEx from a bound layered socket, with data
    connecting = ws.socket(AF_INET, SOCK_STREAM, 0)
    assert ws.bind(connecting, ("127.0.0.1", 0), 16) == 0
    connected = WSAOVERLAPPED()
    connected.hEvent = event
    assert ws.WSAResetEvent(event) == TRUE
    result = counter.ConnectEx(connecting, name.value, 16, b"hello", 5, Ref(0), connected)
    assert result == TRUE or ws.upcalls.WSAGetLastError() == WSA_IO_PENDING
    assert ws.WSAWaitForMultipleEvents(1, [event], FALSE, 5000, FALSE) == 0
    assert (connected.InternalHigh, connected.OffsetHigh) == (5, 0)
    other = ws.accept(listener, None, None)
    assert ws.recv(other, buffer, 4, 0) == 4 and buffer == b"hell"
    # DisconnectEx: the peer sees the end of the stream
    assert counter.DisconnectEx(connecting, None, 0, 0) == TRUE
    assert ws.recv(other, buffer, 4, 0) == 1 and ws.recv(other, buffer, 4, 0) == 0
    # a handle that is no socket of the layer
    assert counter.DisconnectEx(12345, None, 0, 0) == FALSE
    assert ws.upcalls.WSAGetLastError() == WSAENOTSOCK


def next_message(messages: queue.Queue[tuple[int, int, int, int]]) -> tuple[int, int, int, int]:
    return messages.get(timeout=5)


def test_async_select_messages_name_the_layers_handles(layered: Any) -> None:
    """WSAAsyncSelect through the layer: the lower socket posts to the layer's own window,
    which posts on to the application's with the application's handle, in order; an accepted
    socket inherits its listener's window; lEvent 0 ends it; a bad window is the base
    provider's WSAEINVAL, nothing changed."""
    ws, *_ = layered
    up = ws.upcalls
    messages: queue.Queue[tuple[int, int, int, int]] = queue.Queue()
    window = up.register_window(messages)
    listener = ws.socket(AF_INET, SOCK_STREAM, 0)
    assert ws.bind(listener, ("127.0.0.1", 0), 16) == 0 and ws.listen(listener, 4) == 0
    assert ws.WSAAsyncSelect(listener, window + 4, 0x401, FD_ACCEPT) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSAEINVAL
    assert ws.WSAAsyncSelect(listener, window, 0x401, FD_ACCEPT | FD_READ | FD_WRITE | FD_CLOSE) == 0
    name, size = Ref(), Ref(16)
    assert ws.getsockname(listener, name, size) == 0
    client = ws.socket(AF_INET, SOCK_STREAM, 0)
    assert ws.connect(client, name.value, 16) == 0
    assert next_message(messages) == (window, 0x401, listener, WSAMAKESELECTREPLY(FD_ACCEPT, 0))
    accepted = ws.accept(listener, None, None)
    assert accepted != INVALID_SOCKET
    # the accepted socket's first message, posted by the layer below at once, is not lost
    assert next_message(messages) == (window, 0x401, accepted, WSAMAKESELECTREPLY(FD_WRITE, 0))
    assert ws.send(client, b"ping", 4, 0) == 4
    assert next_message(messages) == (window, 0x401, accepted, WSAMAKESELECTREPLY(FD_READ, 0))
    buffer = bytearray(8)
    assert ws.recv(accepted, buffer, 8, 0) == 4 and buffer[:4] == b"ping"
    assert ws.closesocket(client) == 0
    assert next_message(messages) == (window, 0x401, accepted, WSAMAKESELECTREPLY(FD_CLOSE, 0))
    assert ws.WSAAsyncSelect(accepted, window, 0, 0) == 0  # ended
    assert ws.WSAAsyncSelect(listener, 12345, 0, 0) == 0   # ended, whatever the window
    other = ws.socket(AF_INET, SOCK_STREAM, 0)
    assert ws.connect(other, name.value, 16) == 0
    with pytest.raises(queue.Empty):
        messages.get(timeout=0.3)
    lowers = {ws.upcalls.table.context(s).lower for s in (listener, accepted)}
    assert all(message[2] not in lowers for message in list(messages.queue))


def test_a_layers_window_goes_with_it(table: Any) -> None:
    catalog = Catalog()
    install_counter(catalog)
    up = UpcallTable(table, catalog=catalog)
    ws = Ws2_32(up)
    assert ws.WSAStartup(0x0202, Ref()) == 0
    messages: queue.Queue[tuple[int, int, int, int]] = queue.Queue()
    window = up.register_window(messages)
    s = ws.socket(AF_INET, SOCK_STREAM, 0)
    assert ws.WSAAsyncSelect(s, window, 0x400, FD_WRITE) == 0
    counter = counter_of(ws, s)
    own = counter._window
    assert own and up.is_window(own)
    assert ws.WSACleanup() == 0
    assert not up.is_window(own) and up.is_window(window)
    ws.close()


def test_overlapped_receive_through_the_layer_completes_by_event(layered: Any) -> None:
    """A pending WSARecv on the layer's handle: the layer below gets the layer's own
    structure; the application's event is set and its structure recorded, and
    WSAGetOverlappedResult with fWait waits for that report."""
    ws, *_ = layered
    listener, client, accepted = connected_pair(ws)
    event = ws.WSACreateEvent()
    overlapped = WSAOVERLAPPED()
    overlapped.hEvent = event
    buffer = bytearray(16)
    assert ws.WSARecv(accepted, [buffer], 1, Ref(0), Ref(0), overlapped, None) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSA_IO_PENDING
    assert overlapped.Internal == WSS_OPERATION_IN_PROGRESS
    transferred, flags = Ref(), Ref()
    assert ws.WSAGetOverlappedResult(accepted, overlapped, transferred, FALSE, flags) == FALSE
    assert ws.WSAGetLastError() == WSA_IO_INCOMPLETE
    timer = threading.Timer(0.1, ws.send, (client, b"late", 4, 0))
    timer.start()
    assert ws.WSAGetOverlappedResult(accepted, overlapped, transferred, TRUE, flags) == TRUE
    timer.join()
    assert (transferred.value, flags.value, bytes(buffer[:4])) == (4, 0, b"late")
    assert ws.WSAWaitForMultipleEvents(1, [event], FALSE, 0, FALSE) == 0  # WSA_WAIT_EVENT_0
    # done at once: reported before the call returns
    assert ws.send(client, b"now", 3, 0) == 3
    time.sleep(0.05)
    assert ws.WSAResetEvent(event) == TRUE
    received = Ref(0)
    assert ws.WSARecv(accepted, [buffer], 1, received, Ref(0), overlapped, None) == 0
    assert received.value == 3 and overlapped.Internal == 0 and overlapped.InternalHigh == 3
    assert ws.WSAWaitForMultipleEvents(1, [event], FALSE, 0, FALSE) == 0


def test_overlapped_through_the_layer_by_routine_and_by_port(layered: Any) -> None:
    """The application's completion routine runs on its thread with its own structure; a
    completion port associated with the layer's handle gets the packet with its key."""
    ws, *_ = layered
    listener, client, accepted = connected_pair(ws)
    calls: list[tuple[int, int, Any, int]] = []
    overlapped = WSAOVERLAPPED()
    assert ws.WSARecv(accepted, [bytearray(8)], 1, Ref(0), Ref(0), overlapped,
                      lambda *args: calls.append(args)) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSA_IO_PENDING
    assert ws.send(client, b"abc", 3, 0) == 3
    idle = ws.WSACreateEvent()
    assert ws.WSAWaitForMultipleEvents(1, [idle], FALSE, 5000, TRUE) == WSA_WAIT_IO_COMPLETION
    assert calls == [(0, 3, overlapped, 0)]
    kernel32 = Kernel32(ws)
    port = kernel32.CreateIoCompletionPort(client, None, 77, 0)
    assert port
    sending = WSAOVERLAPPED()
    sent = Ref(0)
    assert ws.WSASend(client, [b"hello"], 1, sent, 0, sending, None) == 0
    assert kernel32.GetQueuedCompletionStatus(port, 5000) == (TRUE, 5, 77, sending)


def test_closing_a_layered_socket_aborts_its_pending_operations(layered: Any) -> None:
    ws, *_ = layered
    listener, client, accepted = connected_pair(ws)
    event = ws.WSACreateEvent()
    overlapped = WSAOVERLAPPED()
    overlapped.hEvent = event
    assert ws.WSARecv(accepted, [bytearray(8)], 1, Ref(0), Ref(0), overlapped, None) == SOCKET_ERROR
    assert ws.closesocket(accepted) == 0
    assert ws.WSAWaitForMultipleEvents(1, [event], FALSE, 5000, FALSE) == 0
    assert overlapped.Internal == 0 and overlapped.OffsetHigh == WSA_OPERATION_ABORTED
    counter = counter_of(ws, client)
    assert not counter._pending


@pytest.mark.parametrize("structure", [WSAPROTOCOL_INFOW, WSAPROTOCOL_INFOA])
def test_a_duplicate_of_a_layered_socket_is_a_layered_handle(layered: Any, structure: type) -> None:
    """WSADuplicateSocket names the chain, so the WSASocket made from it comes back to the
    layer, which wraps the lower layer's duplicate: a second handle of this layer on the
    same connection; the key serves once."""
    ws, catalog, layered_id, chain_id = layered
    listener, client, accepted = connected_pair(ws)
    info = structure()
    assert ws.WSADuplicateSocketW(client, 1234, info) == 0
    assert info.dwCatalogEntryId == chain_id and info.ProtocolChain.ChainLen == 2
    assert list(info.ProtocolChain.ChainEntries[:2]) == [layered_id, TCP_IP]
    duplicate = ws.WSASocketW(-1, -1, -1, info, 0, 0)
    assert duplicate != INVALID_SOCKET, ws.WSAGetLastError()
    table = ws.upcalls.table
    assert table.catalog_entry(duplicate) == layered_id
    assert isinstance(table.context(duplicate), LayeredSocket)
    assert table.context(duplicate).lower != table.context(client).lower
    assert ws.closesocket(client) == 0
    assert ws.send(duplicate, b"dup", 3, 0) == 3
    buffer = bytearray(8)
    assert ws.recv(accepted, buffer, 8, 0) == 3 and buffer[:3] == b"dup"
    assert ws.WSASocketW(-1, -1, -1, info, 0, 0) == INVALID_SOCKET
    assert ws.WSAGetLastError() == WSAEINVAL


def test_cleanup_closes_the_layers_sockets_and_unloads_it(table: Any) -> None:
    catalog = Catalog()
    install_counter(catalog)
    ws = Ws2_32(UpcallTable(table, catalog=catalog))
    assert ws.WSAStartup(0x0202, Ref()) == 0
    listener, client, accepted = connected_pair(ws)
    counter = counter_of(ws, client)
    assert ws.WSACleanup() == 0
    assert len(table) == 0 and counter.upcalls is None and ws.provider.upcalls is None
    assert ws.WSAStartup(0x0202, Ref()) == 0  # a new start-up loads it again
    s = ws.socket(AF_INET, SOCK_STREAM, 0)
    assert ws._owner(s) is not counter and isinstance(ws._owner(s), Counter)
    ws.close()
    assert len(table) == 0
