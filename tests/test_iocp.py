"""Completion ports (DESIGN.md §6; issue 21, item 3), on both cores.

- a port is a fourth kind of handle: counted, listed, closed by close(), WSAENOBUFS when full;
- packets: FIFO, several at once (the Ex form), timeouts, threads served last come first,
  closing a port wakes its waiters with ERROR_ABANDONED_WAIT_0, an alertable wait runs the
  thread's APCs (WSA_WAIT_IO_COMPLETION) and a packet wins over them;
- associations: one port per socket, gone with the socket (a later socket with the same
  value has none);
- WPUCompleteOverlappedRequest: records the outcome, signals hEvent, posts to the socket's
  port with its key (not when hEvent's low bit is set); WSAEINVAL for a non-socket;
- HostSocketProvider's overlapped receives on several sockets served by one port, with their
  keys, and the aborted ones of a close dequeued with WSA_OPERATION_ABORTED;
- Kernel32's CreateIoCompletionPort, GetQueuedCompletionStatus(Ex), PostQueuedCompletionStatus
  and CloseHandle, with their documented results and last errors.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

import ws2core
from ws2core import (
    AF_INET,
    FALSE,
    SOCK_STREAM,
    SOCKET_ERROR,
    TRUE,
    WSA_FLAG_OVERLAPPED,
    WSA_INVALID_HANDLE,
    WSA_INVALID_PARAMETER,
    WSA_IO_PENDING,
    WSA_OPERATION_ABORTED,
    WSA_WAIT_IO_COMPLETION,
    WSAEFAULT,
    WSAEINVAL,
    WSAENOBUFS,
    WSAENOTSOCK,
    Ref,
)
from ws2core.constants import (
    ERROR_ABANDONED_WAIT_0,
    ERROR_INVALID_HANDLE,
    ERROR_INVALID_PARAMETER,
    WAIT_IO_COMPLETION,
    WAIT_TIMEOUT,
    WSS_OPERATION_IN_PROGRESS,
)
from ws2core.kernel32 import Kernel32, OverlappedEntry
from ws2core.structs import WSAOVERLAPPED
from ws2core.ws2_32 import Ws2_32
from provider_support import (
    LOOPBACK,
    SOCKADDR_LEN,
    Kit,
    Worker,
    call,
    ok,
    sockname,
    wait_inside_ws2core,
    wait_readable,
)
from provider_support import kit, provider  # noqa: F401  (fixtures)
from support import assert_consistent, raises_winsock


def waiting(table: Any, port: int, **kwargs: Any) -> Worker:
    """A thread blocked in ``get_completions(port)`` (checked blocked before returning)."""
    worker = Worker(lambda: table.get_completions(port, **kwargs), "port waiter")
    wait_inside_ws2core(worker.thread)
    return worker


# --- the fourth kind of handle --------------------------------------------------------------


def test_ports_are_a_fourth_kind(table: Any) -> None:
    s, e, t = table.create_socket(1), table.create_event(), table.open_thread()
    port = table.create_port()
    assert [table.kind(h) for h in (s, e, t, port)] == ["socket", "event", "thread", "port"]
    assert table.kind(port | 3) == "port"  # tag bits ignored, as for events
    assert len(table) == 4 and list(table) == [s, e, t, port] and port in table
    assert "1 port" in repr(table)
    assert_consistent(table)
    raises_winsock(WSAENOTSOCK, table.context, port)
    raises_winsock(WSA_INVALID_HANDLE, table.set_event, port)
    raises_winsock(WSAEFAULT, table.queue_apc, port, print)
    raises_winsock(WSA_INVALID_HANDLE, table.close_event, port)
    table.close_port(port)
    assert table.kind(port) is None and len(table) == 3
    raises_winsock(WSA_INVALID_HANDLE, table.close_port, port)
    raises_winsock(WSA_INVALID_HANDLE, table.close_port, s)
    raises_winsock(WSA_INVALID_HANDLE, table.get_completions, e, 1, 0)
    raises_winsock(WSA_INVALID_HANDLE, table.post_completion, t, 0, 0, None)


def test_close_closes_ports_and_wakes_their_waiters(core: Any) -> None:
    table = core.HandleTable()
    port = table.create_port()
    table.post_completion(port, 1, 2, "dropped")
    worker = Worker(lambda: table.get_completions(port, 1, 0) and table.get_completions(port))
    wait_inside_ws2core(worker.thread)
    table.close()
    assert len(table) == 0 and table.kind(port) is None
    with pytest.raises(ws2core.WinsockError) as failure:
        worker.result()
    assert failure.value.winerror == ERROR_ABANDONED_WAIT_0


def test_full_table_is_wsaenobufs(small_table: Any) -> None:
    made = [small_table.create_port() for _ in range(small_table.max_handles)]
    raises_winsock(WSAENOBUFS, small_table.create_port)
    small_table.close_port(made[0])
    small_table.create_port()


# --- packets --------------------------------------------------------------------------------


def test_packets_come_out_first_in_first_out(table: Any) -> None:
    port = table.create_port()
    for i in range(5):
        table.post_completion(port, i, 100 + i, f"ov{i}")
    assert table.get_completions(port, 2, 0) == [(0, 100, "ov0", 0), (1, 101, "ov1", 0)]
    assert table.get_completions(port) == [(2, 102, "ov2", 0)]
    assert table.get_completions(port, 10, 0) == [(3, 103, "ov3", 0), (4, 104, "ov4", 0)]
    started = time.monotonic()
    assert table.get_completions(port, 1, 0.05) == []
    assert time.monotonic() - started >= 0.045
    assert table.get_completions(port, 1, 0) == []
    table.close_port(port)


def test_a_post_wakes_a_waiter_and_threads_are_served_last_come_first(table: Any) -> None:
    port = table.create_port()
    first = waiting(table, port, timeout=5)
    second = waiting(table, port, timeout=5)
    table.post_completion(port, 7, 1, "a")
    assert second.result() == [(7, 1, "a", 0)]
    assert first.thread.is_alive()
    table.post_completion(port, 8, 2, "b")
    assert first.result() == [(8, 2, "b", 0)]
    table.close_port(port)


def test_closing_a_port_wakes_every_waiter(table: Any) -> None:
    port = table.create_port()
    workers = [waiting(table, port) for _ in range(3)]
    table.close_port(port)
    for worker in workers:
        with pytest.raises(ws2core.WinsockError) as failure:
            worker.result()
        assert failure.value.winerror == ERROR_ABANDONED_WAIT_0


def test_many_threads_share_one_port(table: Any) -> None:
    port = table.create_port()
    taken: list[list[Any]] = []
    lock = threading.Lock()

    def drain() -> None:
        while True:
            packets = table.get_completions(port, 1, 5)  # one each: one stop each
            if packets[0][2] == "stop":
                return
            with lock:
                taken.append(packets)

    workers = [Worker(drain, f"drain {i}") for i in range(4)]
    for i in range(400):
        table.post_completion(port, i, 0, i)
    for _ in workers:
        table.post_completion(port, 0, 0, "stop")
    for worker in workers:
        worker.result()
    got = sorted(packet[2] for packets in taken for packet in packets if packet[2] != "stop")
    assert got == list(range(400))  # each exactly once, none lost
    table.close_port(port)


def test_an_alertable_wait_runs_apcs_and_a_packet_wins(table: Any) -> None:
    port, thread = table.create_port(), table.open_thread()
    ran: list[int] = []
    table.queue_apc(thread, ran.append, 1)
    assert table.get_completions(port, 1, 0) == [] and ran == []
    table.post_completion(port, 3, 4, None)
    assert table.get_completions(port, 1, 0, alertable=True) == [(3, 4, None, 0)] and ran == []
    assert table.get_completions(port, 1, 5, alertable=True) == WSA_WAIT_IO_COMPLETION
    assert ran == [1]
    # An APC queued from another thread wakes an alertable wait on the port.
    handles: list[int] = []

    def wait_alertably() -> Any:
        handles.append(table.open_thread())
        return table.get_completions(port, 1, 5, alertable=True)

    worker = Worker(wait_alertably)
    wait_inside_ws2core(worker.thread)
    table.queue_apc(handles[0], ran.append, 2)
    assert worker.result() == WSA_WAIT_IO_COMPLETION and ran == [1, 2]
    table.close_thread(thread)
    table.close_thread(handles[0])
    table.close_port(port)


def test_packet_arguments(table: Any) -> None:
    port = table.create_port()
    with pytest.raises(ValueError):
        table.post_completion(port, 2**32, 0, None)
    with pytest.raises(ValueError):
        table.post_completion(port, 0, -1, None)
    with pytest.raises(TypeError):
        table.post_completion(port, "1", 0, None)
    with pytest.raises(ValueError):
        table.get_completions(port, 0, 0)
    with pytest.raises(ValueError):
        table.get_completions(port, 1, -1)
    assert table.get_completions(port, 1, 0) == []  # nothing was queued by the failures
    table.close_port(port)


# --- associations ---------------------------------------------------------------------------


def test_one_port_per_socket_and_the_errors(table: Any) -> None:
    port, other, s, e = table.create_port(), table.create_port(), table.create_socket(1), table.create_event()
    assert table.post_socket_completion(s, "ov", 0, 1) is False
    table.associate_port(s, port, 2**64 - 1)
    raises_winsock(WSA_INVALID_PARAMETER, table.associate_port, s, other, 1)
    raises_winsock(WSA_INVALID_PARAMETER, table.associate_port, s, port, 1)
    raises_winsock(WSA_INVALID_HANDLE, table.associate_port, e, port, 1)
    raises_winsock(WSA_INVALID_HANDLE, table.associate_port, s | 1, port, 1)
    raises_winsock(WSA_INVALID_HANDLE, table.associate_port, table.create_socket(1), e, 1)
    raises_winsock(WSAENOTSOCK, table.post_socket_completion, port, "ov", 0, 1)
    assert table.post_socket_completion(s, "ov", 10054, 3) is True
    assert table.get_completions(port, 1, 0) == [(3, 2**64 - 1, "ov", 10054)]
    table.close_port(port)
    assert table.post_socket_completion(s, "ov", 0, 1) is False  # its port is gone
    raises_winsock(WSA_INVALID_PARAMETER, table.associate_port, s, other, 1)


def test_an_association_ends_with_its_socket(core: Any) -> None:
    table = core.HandleTable(max_handles=4, handle_range=(4, 4 * 6))  # reuse_delay 2
    port = table.create_port()
    s = table.create_socket(1)
    table.associate_port(s, port, 9)
    table.close_socket(s)
    again = [table.create_socket(1) for _ in range(3)]
    assert s in again  # the same value, a new socket
    assert table.post_socket_completion(s, "ov", 0, 1) is False
    table.associate_port(s, port, 10)  # not "associated already"
    assert table.post_socket_completion(s, "ov", 0, 1) is True
    assert table.get_completions(port, 5, 0) == [(1, 10, "ov", 0)]
    assert table.close_sockets(again) == []
    table.close_port(port)


# --- WPUCompleteOverlappedRequest -----------------------------------------------------------


def test_wpu_complete_overlapped_request(upcalls: ws2core.UpcallTable) -> None:
    table = upcalls.table
    s, port, event = table.create_socket(1), table.create_port(), table.create_event()
    overlapped = WSAOVERLAPPED(Internal=WSS_OPERATION_IN_PROGRESS, Offset=5, hEvent=event)
    err = Ref(-1)
    assert upcalls.WPUCompleteOverlappedRequest(s, overlapped, 0, 11, err) == 0 and err.value == -1
    assert (overlapped.Internal, overlapped.InternalHigh, overlapped.Offset, overlapped.OffsetHigh) == (0, 11, 5, 0)
    assert table.event_is_set(event)
    assert table.get_completions(port, 1, 0) == []  # not associated: the event alone
    table.associate_port(s, port, 77)
    assert upcalls.WPUCompleteOverlappedRequest(s, overlapped, WSA_OPERATION_ABORTED, 0, err) == 0
    assert table.get_completions(port, 1, 0) == [(0, 77, overlapped, WSA_OPERATION_ABORTED)]
    assert overlapped.OffsetHigh == WSA_OPERATION_ABORTED
    # hEvent's low bit set: the event is signalled, the port gets nothing.
    table.reset_event(event)
    overlapped.hEvent = event | 1
    assert upcalls.WPUCompleteOverlappedRequest(s, overlapped, 0, 1, err) == 0
    assert table.event_is_set(event) and table.get_completions(port, 1, 0) == []
    # The errors: a non-socket is WSAEINVAL, a NULL structure WSAEFAULT; nothing written.
    overlapped.Internal = WSS_OPERATION_IN_PROGRESS
    for handle in (port, event, s + 4000):
        assert upcalls.WPUCompleteOverlappedRequest(handle, overlapped, 0, 1, err) == SOCKET_ERROR
        assert err.value == WSAEINVAL
    assert upcalls.WPUCompleteOverlappedRequest(s, None, 0, 1, err) == SOCKET_ERROR
    assert err.value == WSAEFAULT and overlapped.Internal == WSS_OPERATION_IN_PROGRESS
    with pytest.raises(TypeError):
        upcalls.WPUCompleteOverlappedRequest(s, object(), 0, 1, err)
    table.close()


# --- HostSocketProvider through a port ------------------------------------------------------


def overlapped_pairs(k: Kit, count: int) -> list[tuple[int, int]]:
    """``count`` (client, accepted) pairs, all made with WSA_FLAG_OVERLAPPED."""
    listener = k.add(ok(k.p.WSPSocket, AF_INET, SOCK_STREAM, 0, None, 0, WSA_FLAG_OVERLAPPED))
    ok(k.p.WSPBind, listener, (LOOPBACK[AF_INET], 0), SOCKADDR_LEN[AF_INET])
    ok(k.p.WSPListen, listener, count)
    pairs = []
    for _ in range(count):
        client = k.add(ok(k.p.WSPSocket, AF_INET, SOCK_STREAM, 0, None, 0, WSA_FLAG_OVERLAPPED))
        k.connect(client, AF_INET, sockname(k.p, listener)[1])
        pairs.append((client, k.accept(listener)))
    k.close(listener)
    return pairs


def recv_pending(k: Kit, s: int, buf: bytearray, overlapped: WSAOVERLAPPED) -> None:
    assert call(k.p.WSPRecv, s, [buf], 1, None, Ref(0), overlapped, None, None) == WSA_IO_PENDING


def test_a_port_serves_overlapped_receives_of_several_sockets(kit: Kit) -> None:
    table = kit.table
    port = table.create_port()
    pairs = overlapped_pairs(kit, 3)
    buffers = [bytearray(16) for _ in pairs]
    structures = [WSAOVERLAPPED() for _ in pairs]
    for key, ((_, accepted), buf, overlapped) in enumerate(zip(pairs, buffers, structures)):
        table.associate_port(accepted, port, 1000 + key)
        recv_pending(kit, accepted, buf, overlapped)
    assert table.get_completions(port, 3, 0) == []
    for key in (2, 0, 1):
        sent = Ref(0)
        ok(kit.p.WSPSend, pairs[key][0], [b"x" * (key + 1)], 1, sent, 0, None, None, None)
        packet = table.get_completions(port, 1, 5)
        assert packet == [(key + 1, 1000 + key, structures[key], 0)]
        assert structures[key].Internal == 0 and structures[key].InternalHigh == key + 1
        assert bytes(buffers[key][: key + 1]) == b"x" * (key + 1)
    table.close_port(port)


def associated_pair(kit: Kit, key: int) -> tuple[Any, int, int, int]:
    """(table, port, client, accepted): an overlapped pair whose accepted end has a port."""
    table = kit.table
    port = table.create_port()
    (client, accepted), = overlapped_pairs(kit, 1)
    table.associate_port(accepted, port, key)
    return table, port, client, accepted


def test_an_operation_that_finishes_at_once_still_posts_and_sets_its_event(kit: Kit) -> None:
    table, port, client, accepted = associated_pair(kit, 5)
    ok(kit.p.WSPSend, client, [b"ready"], 1, Ref(0), 0, None, None, None)
    wait_readable(kit.p, accepted)
    overlapped, event = WSAOVERLAPPED(), kit.event()
    overlapped.hEvent = event
    received, buf = Ref(0), bytearray(8)
    ok(kit.p.WSPRecv, accepted, [buf], 1, received, Ref(0), overlapped, None, None)
    assert received.value == 5 and table.event_is_set(event)
    assert table.get_completions(port, 1, 5) == [(5, 5, overlapped, 0)]
    table.close_port(port)


def test_aborted_operations_are_dequeued_with_their_error(kit: Kit) -> None:
    table, port, _, accepted = associated_pair(kit, 3)
    overlapped = WSAOVERLAPPED()
    recv_pending(kit, accepted, bytearray(4), overlapped)
    kit.close(accepted)
    assert table.get_completions(port, 1, 5) == [(0, 3, overlapped, WSA_OPERATION_ABORTED)]
    assert overlapped.OffsetHigh == WSA_OPERATION_ABORTED
    table.close_port(port)


# --- Kernel32 -------------------------------------------------------------------------------


@pytest.fixture
def kernel32(core: Any) -> Any:
    ws = Ws2_32(upcalls=ws2core.UpcallTable(core.HandleTable()))
    yield Kernel32(ws)
    ws.upcalls.table.close()


def test_kernel32_create_post_get_close(kernel32: Any) -> None:
    ws, table = kernel32.ws2_32, kernel32._table
    port = kernel32.CreateIoCompletionPort(-1, None, 123, 0)
    assert table.kind(port) == "port"
    assert kernel32.CreateIoCompletionPort(2**64 - 1, 0, 0, 1) not in (0, port)
    ws.WSASetLastError(42)
    assert kernel32.PostQueuedCompletionStatus(port, 9, 8, "ov") == TRUE
    assert kernel32.GetQueuedCompletionStatus(port, 0) == (TRUE, 9, 8, "ov")
    assert ws.WSAGetLastError() == 42  # a success leaves it alone
    assert kernel32.GetQueuedCompletionStatus(port, 10) == (FALSE, 0, 0, None)
    assert ws.WSAGetLastError() == WAIT_TIMEOUT
    # A failed operation's packet: FALSE, its values, and its error as a Win32 code.
    s = table.create_socket(1)
    assert kernel32.CreateIoCompletionPort(s, port, 55, 0) == port
    table.post_socket_completion(s, "ov", 10054, 2)
    assert kernel32.GetQueuedCompletionStatus(port, 0) == (FALSE, 2, 55, "ov")
    assert ws.WSAGetLastError() == 64  # ERROR_NETNAME_DELETED, as ReadFile reports a reset
    # The Ex form: failed operations come out as entries; FALSE only without a packet.
    for i in range(3):
        kernel32.PostQueuedCompletionStatus(port, i, 7, None)
    table.post_socket_completion(s, "x", WSA_OPERATION_ABORTED, 0)
    assert kernel32.GetQueuedCompletionStatusEx(port, 2, 0, FALSE) == (
        TRUE, [OverlappedEntry(7, None, 0, 0), OverlappedEntry(7, None, 0, 1)])
    assert kernel32.GetQueuedCompletionStatusEx(port, 9, 0, FALSE) == (
        TRUE, [OverlappedEntry(7, None, 0, 2), OverlappedEntry(55, "x", WSA_OPERATION_ABORTED, 0)])
    assert kernel32.GetQueuedCompletionStatusEx(port, 9, 0, FALSE) == (FALSE, [])
    assert ws.WSAGetLastError() == WAIT_TIMEOUT
    thread = table.open_thread()
    table.queue_apc(thread, id, None)
    assert kernel32.GetQueuedCompletionStatusEx(port, 1, 1000, TRUE) == (FALSE, [])
    assert ws.WSAGetLastError() == WAIT_IO_COMPLETION
    assert kernel32.GetQueuedCompletionStatusEx(port, 0, 0, FALSE) == (FALSE, [])
    assert ws.WSAGetLastError() == ERROR_INVALID_PARAMETER
    # CloseHandle on a port closes it and wakes its waiters.
    worker = Worker(lambda: (kernel32.GetQueuedCompletionStatus(port, 5000),
                             ws.WSAGetLastError()))
    wait_inside_ws2core(worker.thread)
    assert kernel32.CloseHandle(port) == TRUE
    assert worker.result() == ((FALSE, 0, 0, None), ERROR_ABANDONED_WAIT_0)
    assert kernel32.GetQueuedCompletionStatus(port, 0) == (FALSE, 0, 0, None)
    assert ws.WSAGetLastError() == ERROR_INVALID_HANDLE
    assert kernel32.PostQueuedCompletionStatus(port, 0, 0, None) == FALSE
    assert ws.WSAGetLastError() == ERROR_INVALID_HANDLE


def test_kernel32_create_errors(kernel32: Any) -> None:
    ws, table = kernel32.ws2_32, kernel32._table
    port, s, e = table.create_port(), table.create_socket(1), table.create_event()
    before = len(table)
    assert kernel32.CreateIoCompletionPort(-1, port, 0, 0) == 0
    assert ws.WSAGetLastError() == ERROR_INVALID_PARAMETER
    assert kernel32.CreateIoCompletionPort(e, port, 0, 0) == 0
    assert ws.WSAGetLastError() == ERROR_INVALID_HANDLE
    assert kernel32.CreateIoCompletionPort(s, e, 0, 0) == 0
    assert ws.WSAGetLastError() == ERROR_INVALID_HANDLE
    assert len(table) == before
    fresh = kernel32.CreateIoCompletionPort(s, None, 4, 0)  # a new port, associated
    assert table.kind(fresh) == "port" and fresh != port
    assert kernel32.CreateIoCompletionPort(s, None, 4, 0) == 0  # associated already
    assert ws.WSAGetLastError() == ERROR_INVALID_PARAMETER
    assert len(table) == before + 1  # the port made for the failed call is closed again
    assert kernel32.CreateIoCompletionPort(s, port, 4, 0) == 0
    assert ws.WSAGetLastError() == ERROR_INVALID_PARAMETER


def test_kernel32_full_table(core: Any) -> None:
    ws = Ws2_32(upcalls=ws2core.UpcallTable(core.HandleTable(max_handles=1)))
    k32 = Kernel32(ws)
    assert k32.CreateIoCompletionPort(-1, None, 0, 0) != 0
    assert k32.CreateIoCompletionPort(-1, None, 0, 0) == 0
    assert ws.WSAGetLastError() == 8  # ERROR_NOT_ENOUGH_MEMORY
    ws.upcalls.table.close()
