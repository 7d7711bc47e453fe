"""Thread handles and APCs (DESIGN.md §6; issue 21, item 1), on both cores.

- thread handles: a third kind of handle (``kind() == "thread"``), counted by len, listed by
  iteration, closed by close(), tag bits ignored as for events, a full table is WSAENOBUFS;
- WPUOpenCurrentThread / WPUCloseThread / WPUQueueApc through UpcallTable: results, lpErrno
  codes (a closed or unknown thread id, a NULL pointer: WSAEFAULT), ctypes WSATHREADIDs;
- delivery: only in an alertable wait of the target thread (wait, sleep,
  WSAWaitForMultipleEvents with fAlertable), in queue order, returning WSA_WAIT_IO_COMPLETION;
  an event already signalled wins; non-alertable waits never run APCs; an APC queued from
  another thread wakes a thread already waiting alertably;
- an APC that raises propagates out of the wait, the later ones stay queued; table.close()
  drops pending APCs without running them.

The native table's side is in tests/test_native.py (C APCs, the alertable waits of C threads).
"""

from __future__ import annotations

import ctypes
import gc
import threading
import time
import weakref
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ws2core
from ws2core import (
    SOCKET_ERROR,
    WSA_WAIT_EVENT_0,
    WSA_WAIT_IO_COMPLETION,
    WSA_WAIT_TIMEOUT,
    WSAEFAULT,
    WSAENOBUFS,
    UpcallTable,
)
from ws2core.structs import WSATHREADID, WSATHREADID_LAYOUTS

from support import assert_consistent, raises_winsock

JOIN_TIMEOUT = 20.0


def test_wait_io_completion_is_192() -> None:
    assert WSA_WAIT_IO_COMPLETION == 192


def test_wsathreadid_layouts() -> None:
    assert [name for name, _ in WSATHREADID._fields_] == ["ThreadHandle", "Reserved"]
    assert ctypes.sizeof(WSATHREADID) == 2 * ctypes.sizeof(ctypes.c_void_p)
    assert {abi: ctypes.sizeof(t) for abi, t in WSATHREADID_LAYOUTS.items()} == {"x64": 16, "x86": 8}
    assert WSATHREADID_LAYOUTS["x86"].Reserved.offset == 4


# ------------------------------------------------------------------------- thread handles


def test_thread_handles_are_a_third_kind(table: Any) -> None:
    s = table.create_socket(1, "ctx")
    e = table.create_event()
    t = table.open_thread()
    assert t % 4 == 0 and t not in (s, e)
    assert [table.kind(h) for h in (s, e, t)] == ["socket", "event", "thread"]
    assert table.kind(t | 3) == "thread"  # tag bits ignored, as for events
    assert len(table) == 3 and list(table) == [s, e, t] and t in table
    assert "1 thread" in repr(table)
    assert_consistent(table)
    raises_winsock(ws2core.WSAENOTSOCK, table.context, t)
    raises_winsock(ws2core.WSA_INVALID_HANDLE, table.set_event, t)
    raises_winsock(WSAEFAULT, table.close_thread, s)
    raises_winsock(WSAEFAULT, table.close_thread, e)
    table.close_thread(t)
    assert table.kind(t) is None and len(table) == 2 and "thread" not in repr(table)
    raises_winsock(WSAEFAULT, table.close_thread, t)
    raises_winsock(WSAEFAULT, table.queue_apc, t, print)


def test_close_closes_thread_handles(table: Any) -> None:
    handles = [table.open_thread() for _ in range(3)]
    table.close()
    assert len(table) == 0 and list(table) == []
    for h in handles:
        raises_winsock(WSAEFAULT, table.close_thread, h)


def test_full_table_is_wsaenobufs(small_table: Any) -> None:
    while True:
        try:
            small_table.open_thread()
        except ws2core.WinsockError as error:
            assert error.winerror == WSAENOBUFS
            break
    assert len(small_table) == small_table.max_handles
    up = UpcallTable(small_table)
    err, thread_id = ws2core.Ref(), WSATHREADID(0, 77)
    assert up.WPUOpenCurrentThread(thread_id, err) == SOCKET_ERROR
    assert err.value == WSAENOBUFS and (thread_id.ThreadHandle, thread_id.Reserved) == (None, 77)


@pytest.mark.parametrize("bad", [-4, 0, 2**32, 2**64, 2**100, -(2**100)])
def test_unknown_values_are_wsaefault(table: Any, bad: int) -> None:
    raises_winsock(WSAEFAULT, table.close_thread, bad)
    raises_winsock(WSAEFAULT, table.queue_apc, bad, print)


def test_queue_apc_needs_a_callable(table: Any) -> None:
    t = table.open_thread()
    with pytest.raises(TypeError):
        table.queue_apc(t, 42)
    with pytest.raises(TypeError):
        table.close_thread("4")
    assert len(table._apcs) == 0


# ------------------------------------------------------------------------ the upcalls


def test_upcalls_round_trip(upcalls: UpcallTable) -> None:
    err = ctypes.c_int(-1)
    thread_id = WSATHREADID(None, 99)
    assert upcalls.WPUOpenCurrentThread(thread_id, err) == 0
    assert err.value == -1  # written only on failure
    assert upcalls.table.kind(thread_id.ThreadHandle) == "thread" and thread_id.Reserved == 0
    ran: list[Any] = []
    context = object()
    assert upcalls.lpWPUQueueApc(thread_id, ran.append, context, err) == 0
    assert upcalls.WPUQueueApc(ctypes.pointer(thread_id), ran.append, 2, err) == 0
    assert ran == []  # not before an alertable wait
    assert upcalls.table.sleep(0, alertable=True) == WSA_WAIT_IO_COMPLETION
    assert ran == [context, 2] and ran[0] is context
    assert upcalls.WPUCloseThread(thread_id, err) == 0 and err.value == -1
    assert upcalls.WPUCloseThread(thread_id, err) == SOCKET_ERROR and err.value == WSAEFAULT
    err.value = -1
    assert upcalls.WPUQueueApc(thread_id, ran.append, 3, err) == SOCKET_ERROR
    assert err.value == WSAEFAULT
    for null in (None, ctypes.POINTER(WSATHREADID)()):
        err.value = -1
        assert upcalls.WPUOpenCurrentThread(null, err) == SOCKET_ERROR and err.value == WSAEFAULT
        err.value = -1
        assert upcalls.WPUCloseThread(null, err) == SOCKET_ERROR and err.value == WSAEFAULT
    assert len(upcalls.table) == 0 and len(upcalls.table._apcs) == 0


def test_a_refused_write_leaves_no_handle(upcalls: UpcallTable) -> None:
    class ReadOnly:
        ThreadHandle = None

        @property
        def Reserved(self) -> int:
            return 0

    with pytest.raises(AttributeError):
        upcalls.WPUOpenCurrentThread(ReadOnly(), ws2core.Ref())
    assert len(upcalls.table) == 0


# ------------------------------------------------------------------------- delivery


@settings(max_examples=40, deadline=None)
@given(contexts=st.lists(st.integers(min_value=0, max_value=2**64 - 1), min_size=1, max_size=20),
       handles=st.integers(min_value=1, max_value=3))
def test_apcs_run_in_queue_order_only_when_alertable(core: Any, contexts: list[int],
                                                      handles: int) -> None:
    """Whatever the thread handles they go through, the thread's APCs run in the order they
    were queued, all of them in the first alertable wait, none in a non-alertable one."""
    table = core.HandleTable()
    threads = [table.open_thread() for _ in range(handles)]
    e = table.create_event()
    ran: list[int] = []
    for i, context in enumerate(contexts):
        table.queue_apc(threads[i % handles], ran.append, context)
    assert table.wait([e], timeout=0) is None
    assert table.wait([e], timeout=0.01) is None
    assert table.sleep(0) == 0
    assert ran == []
    assert table.wait([e], timeout=0, alertable=True) == WSA_WAIT_IO_COMPLETION
    assert ran == contexts
    assert table.wait([e], timeout=0, alertable=True) is None  # nothing left
    assert table.sleep(0, alertable=True) == 0


def test_a_signalled_event_wins_over_pending_apcs(upcalls: UpcallTable) -> None:
    table = upcalls.table
    t, e = table.open_thread(), table.create_event()
    ran: list[int] = []
    table.queue_apc(t, ran.append, 1)
    table.set_event(e)
    assert table.wait([e], alertable=True) == 0
    assert upcalls.WSAWaitForMultipleEvents(1, [e], False, 0, True) == WSA_WAIT_EVENT_0
    assert ran == []
    table.reset_event(e)
    assert upcalls.WSAWaitForMultipleEvents(1, [e], False, 1000, True) == WSA_WAIT_IO_COMPLETION
    assert ran == [1]
    assert upcalls.WSAGetLastError() == 0


def test_apcs_of_other_threads_do_not_run_here(table: Any) -> None:
    ran: list[int] = []
    opened: list[int] = []
    thread = threading.Thread(target=lambda: opened.append(table.open_thread()))
    thread.start()
    thread.join(JOIN_TIMEOUT)
    table.queue_apc(opened[0], ran.append, 1)
    assert table.sleep(0, alertable=True) == 0 and ran == []
    assert len(table._apcs) == 1


@pytest.mark.parametrize("how", ["wait", "sleep", "WSAWaitForMultipleEvents"])
def test_an_apc_from_another_thread_wakes_an_alertable_wait(upcalls: UpcallTable, how: str) -> None:
    table = upcalls.table
    e = table.create_event()
    outcome: list[Any] = []
    ready = threading.Event()

    def waiter() -> None:
        thread_id = WSATHREADID()
        upcalls.WPUOpenCurrentThread(thread_id, ws2core.Ref())
        outcome.append(thread_id)
        ready.set()
        started = time.monotonic()
        if how == "wait":
            result = table.wait([e], timeout=30, alertable=True)
        elif how == "sleep":
            result = table.sleep(30, alertable=True)
        else:
            result = upcalls.WSAWaitForMultipleEvents(1, [e], False, 30000, True)
        outcome.append((result, time.monotonic() - started))

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    assert ready.wait(JOIN_TIMEOUT)
    time.sleep(0.05)  # into its wait
    ran_on: list[int] = []
    queued = time.monotonic()
    assert upcalls.WPUQueueApc(outcome[0], lambda c: ran_on.append(threading.get_ident()), 0,
                               ws2core.Ref()) == 0
    thread.join(JOIN_TIMEOUT)
    woken = time.monotonic() - queued
    assert not thread.is_alive()
    assert outcome[1][0] == WSA_WAIT_IO_COMPLETION
    assert ran_on == [thread.ident]
    assert woken < 5, "woken by the timeout, not the APC"


def test_non_alertable_waits_are_not_woken_by_apcs(table: Any) -> None:
    e = table.create_event()
    outcome: list[Any] = []
    ready = threading.Event()

    def waiter() -> None:
        outcome.append(table.open_thread())
        ready.set()
        outcome.append(table.wait([e], timeout=0.3))
        outcome.append(table.sleep(0.05))

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    assert ready.wait(JOIN_TIMEOUT)
    ran: list[int] = []
    table.queue_apc(outcome[0], ran.append, 1)
    thread.join(JOIN_TIMEOUT)
    assert outcome[1:] == [None, 0] and ran == []
    assert len(table._apcs) == 1


def test_an_apc_that_raises_propagates_and_the_rest_stay_queued(table: Any) -> None:
    t, e = table.open_thread(), table.create_event()
    ran: list[int] = []

    def fail(context: int) -> None:
        raise ValueError(context)

    table.queue_apc(t, ran.append, 1)
    table.queue_apc(t, fail, 2)
    table.queue_apc(t, ran.append, 3)
    with pytest.raises(ValueError, match="2"):
        table.wait([e], timeout=0, alertable=True)
    assert ran == [1] and len(table._apcs) == 1
    assert table.sleep(0, alertable=True) == WSA_WAIT_IO_COMPLETION
    assert ran == [1, 3]
    table.set_event(e)  # the failed wait left nothing behind that a set would trip over
    assert table.wait([e], alertable=True) == 0


def test_an_apc_may_use_the_table_and_queue_more(table: Any) -> None:
    """APCs run outside every lock and after the wait is unregistered: one may queue another
    (it runs in the next alertable wait, not this one), wait alertably itself, close handles."""
    t, e = table.open_thread(), table.create_event()
    ran: list[str] = []

    def first(context: Any) -> None:
        ran.append("first")
        table.queue_apc(t, ran.append, "queued by first")
        assert table.sleep(0, alertable=True) == WSA_WAIT_IO_COMPLETION  # runs that one
        table.close_event(e)

    table.queue_apc(t, first, None)
    assert table.sleep(0, alertable=True) == WSA_WAIT_IO_COMPLETION
    assert ran == ["first", "queued by first"] and table.kind(e) is None


def test_close_drops_pending_apcs_without_running_them(core: Any) -> None:
    table = core.HandleTable()
    t = table.open_thread()

    class Context:
        pass

    context = Context()
    alive = weakref.ref(context)
    ran: list[Any] = []
    table.queue_apc(t, ran.append, context)
    del context
    table.close()
    gc.collect()
    assert alive() is None and len(table._apcs) == 0
    assert table.sleep(0, alertable=True) == 0 and ran == []


def test_closing_the_thread_handle_keeps_its_apcs(table: Any) -> None:
    """An APC belongs to the thread, not to the handle it was queued through."""
    t = table.open_thread()
    ran: list[int] = []
    table.queue_apc(t, ran.append, 1)
    table.close_thread(t)
    assert table.sleep(0, alertable=True) == WSA_WAIT_IO_COMPLETION and ran == [1]


def test_sleep_arguments(table: Any) -> None:
    with pytest.raises(ValueError):
        table.sleep(-1)
    with pytest.raises(TypeError):
        table.sleep("1")
    started = time.monotonic()
    assert table.sleep(0.05, alertable=True) == 0
    assert time.monotonic() - started >= 0.04


def test_ws2_32_alertable_wait(core: Any) -> None:
    from ws2core.ws2_32 import Ws2_32

    ws = Ws2_32(upcalls=UpcallTable(core.HandleTable()))
    table = ws.upcalls.table
    e, t = ws.WSACreateEvent(), table.open_thread()
    ran: list[int] = []
    table.queue_apc(t, ran.append, 5)
    assert ws.WSAWaitForMultipleEvents(1, [e], False, 0, False) == WSA_WAIT_TIMEOUT and ran == []
    assert ws.WSAWaitForMultipleEvents(1, [e], False, 0, True) == WSA_WAIT_IO_COMPLETION
    assert ran == [5]


def test_the_first_apcs_of_a_fresh_table_from_many_threads_all_arrive(core: Any) -> None:
    """A table makes its APC queues when first asked for: threads that race to queue the
    first APCs of a fresh table must all land in the same queues."""
    for _ in range(20):
        table = core.HandleTable()
        here = table.open_thread()
        ran: list[int] = []
        start = threading.Barrier(8)

        def queue(n: int) -> None:
            start.wait()
            table.queue_apc(here, ran.append, n)

        threads = [threading.Thread(target=queue, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert table.sleep(0, True) and sorted(ran) == list(range(8))
        table.close()
