"""Waiting on events (issue 4; DESIGN.md §1 Events, §2; SPEC.md §14-15), on both cores.

``HandleTable.wait`` / ``wait_async`` and ``UpcallTable.WSAWaitForMultipleEvents`` with
``WSAGetLastError`` / ``WSASetLastError``:

- every result: WSA_WAIT_EVENT_0 + i, WSA_WAIT_TIMEOUT (258), WSA_WAIT_FAILED (0xFFFFFFFF),
  never WSA_WAIT_IO_COMPLETION when no APC is queued, even when alertable (tests/test_apcs.py
  has the APCs); wait-any gives the lowest signalled index,
  wait-all gives 0 only once every event is signalled at the same time;
- timeouts (one-sided, wide margins: "not before", "within"; never exact times), 0 = poll,
  WSA_INFINITE, 64 events and 65;
- the kernel's check order (argument errors, then the count, then each handle in order, then
  wait-all duplicates), duplicates allowed for wait-any, tag bits, ctypes arrays with NULLs;
- the last error: per thread, per UpcallTable, untouched by success, timeout and the WPU
  event upcalls;
- threads: a set from another thread wakes a waiter, one set wakes many waiters, the GIL is
  released, an event closed during a wait keeps its state for that wait (and a reused value
  does not reach it), and a waiter never hangs past its timeout;
- asyncio: woken from a thread or from the same loop, timeout, cancellation leaves no
  registration, the loop keeps running, many coroutines on one loop, no thread per waiter,
  validation errors raised when awaited.

Blocking waits run in daemon threads joined with a timeout, and a per-test alarm fails a test
whose own thread hangs, so a bug fails a test rather than hanging the suite.  Where a test must
know that a waiter is really waiting (before it closes an event, say), it uses ``spy_table``:
a subclass of the core's HandleTable that counts the registrations of the core's wait protocol
(``_wait_register`` / ``_wait_unregister``, ws2core/_waits.py), so the test synchronises on the
fact instead of on a sleep.  The spy also keeps each wait set, so that after a cancellation a
test can check that nothing else (the core's registry included, even the Cython core's C-level
one) still holds it.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import math
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest

import ws2core
from ws2core import (
    INVALID_SOCKET,
    WSA_INFINITE,
    WSA_INVALID_HANDLE,
    WSA_INVALID_PARAMETER,
    WSA_WAIT_EVENT_0,
    WSA_WAIT_FAILED,
    WSA_WAIT_IO_COMPLETION,
    WSA_WAIT_TIMEOUT,
    UpcallTable,
    WinsockError,
)

PAUSE = 0.05       # how long a waiter must stay blocked to count as "still waiting"
WITHIN = 5.0       # a woken waiter must have returned within this (generous for slow CI)
LONG = 30.0        # timeout of waits that the test means to wake (a bug fails at WITHIN)
SHORT = 0.3        # timeout of waits that the test means to time out
NOT_BEFORE = 0.2   # ... which must not return before this (a wide margin under SHORT)

TIME_LIMIT = 60.0  # per test: a wait that hangs the test's own thread fails it instead

WAIT_MODES = ["wait", "wait_async"]


# --- helpers -------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def time_limit() -> Iterator[None]:
    """Fail a test whose own thread hangs (a poll that blocks, say) instead of hanging the run.

    SIGALRM interrupts a blocked lock acquire, which is where a wait blocks.
    """
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        pytest.fail(f"the test did not finish within {TIME_LIMIT} s (a wait hangs?)")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class Waiter:
    """Runs ``call()`` in a daemon thread; records its result or exception and its duration."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self.done = threading.Event()
        self.outcome: tuple[str, Any] | None = None
        self.elapsed = math.nan
        self.thread = threading.Thread(target=self._run, args=(call,), daemon=True)
        self.thread.start()

    def _run(self, call: Callable[[], Any]) -> None:
        start = time.monotonic()
        try:
            self.outcome = ("value", call())
        except BaseException as exc:  # noqa: BLE001 - re-raised by result()
            self.outcome = ("error", exc)
        finally:
            self.elapsed = time.monotonic() - start
            self.done.set()

    def still_blocked(self, pause: float = PAUSE) -> bool:
        """True if the call has not returned after ``pause`` more seconds."""
        return not self.done.wait(pause)

    def result(self, within: float = WITHIN) -> Any:
        """The call's result (or its exception, raised here); fails if it takes too long."""
        assert self.done.wait(within), f"the waiter did not return within {within} s"
        self.thread.join(within)
        assert self.outcome is not None
        kind, value = self.outcome
        if kind == "error":
            raise value
        return value


def start_wait(table: Any, mode: str, events: list[Any], wait_all: bool = False,
               timeout: float | None = LONG) -> Waiter:
    """A Waiter blocked in ``table.wait`` or in ``asyncio.run(table.wait_async(...))``.

    In the async mode the waiting coroutine runs its own loop in the waiter's thread, so every
    set from the test's thread is a set "from another thread".
    """
    if mode == "wait":
        return Waiter(lambda: table.wait(events, wait_all, timeout))
    return Waiter(lambda: asyncio.run(table.wait_async(events, wait_all, timeout)))


def upcall_wait(upcalls: UpcallTable, handles: list[Any], wait_all: bool, timeout_ms: int,
                alertable: bool = True) -> Waiter:
    """A Waiter blocked in WSAWaitForMultipleEvents; its result is (result, WSAGetLastError())."""

    def call() -> tuple[int, int]:
        result = upcalls.WSAWaitForMultipleEvents(len(handles), handles, wait_all, timeout_ms,
                                                  alertable)
        return result, upcalls.WSAGetLastError()

    return Waiter(call)


def spy_class(core: ModuleType) -> type:
    """A subclass of the core's HandleTable that counts the waits registered on it."""

    class SpyTable(core.HandleTable):  # type: ignore[name-defined,misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.cond = threading.Condition()
            self.active = 0         # waits registered now
            self.registrations = 0  # waits registered so far
            self.wait_sets: list[Any] = []  # every wait set registered (see assert_no_wait_left)

        def _wait_register(self, wait_set: Any, wake: Any) -> None:
            super()._wait_register(wait_set, wake)
            with self.cond:
                self.wait_sets.append(wait_set)
                self.active += 1
                self.registrations += 1
                self.cond.notify_all()

        def _wait_unregister(self, wait_set: Any) -> None:
            super()._wait_unregister(wait_set)
            with self.cond:
                self.active -= 1
                self.cond.notify_all()

        def until_registered(self, count: int, within: float = WITHIN) -> None:
            """Block until ``count`` waits have registered so far (some may have ended since:
            for waits with a short timeout, which may be over before this thread looks)."""
            with self.cond:
                assert self.cond.wait_for(lambda: self.registrations >= count, within), (
                    f"{self.registrations} of {count} waiters registered after {within} s")

        def until_waiting(self, count: int, within: float = WITHIN) -> None:
            """Block until ``count`` waits are registered (they are then really waiting)."""
            with self.cond:
                assert self.cond.wait_for(lambda: self.active >= count, within), (
                    f"{self.active} of {count} waiters registered after {within} s")

        async def until_waiting_async(self, count: int, within: float = WITHIN) -> None:
            deadline = time.monotonic() + within
            while self.active < count:
                assert time.monotonic() < deadline, (
                    f"{self.active} of {count} waiters registered after {within} s")
                await asyncio.sleep(0.001)

    return SpyTable


_SPY_CLASSES: dict[str, type] = {}


@pytest.fixture
def spy_table(core: ModuleType) -> Any:
    """A fresh table of the core under test that reports when its waiters are waiting."""
    if core.__name__ not in _SPY_CLASSES:
        _SPY_CLASSES[core.__name__] = spy_class(core)
    return _SPY_CLASSES[core.__name__]()


@pytest.fixture
def spy_upcalls(spy_table: Any) -> UpcallTable:
    return UpcallTable(spy_table)


@pytest.fixture(params=WAIT_MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """How the waiter waits: a blocking ``wait`` or ``wait_async`` on a loop of its own."""
    return str(request.param)


def assert_no_wait_left(table: Any) -> None:
    """No wait is registered on the spy ``table`` any more, and nothing but the spy still holds
    a wait set of it: not the core's registry (the twin's ``_waiters``, the Cython core's C-level
    dict), not a leftover coroutine frame."""
    gc.collect()  # a finished task's frames may sit in a reference cycle
    assert table.active == 0, f"{table.active} waits still registered"
    registry = getattr(table, "_waiters", None)  # the twin's registry; the Cython one is C state
    if registry is not None:
        assert registry == {}
    probe = [object()]
    held_by_the_spy_alone = sys.getrefcount(probe[0])
    leaked = [i for i in range(len(table.wait_sets))
              if sys.getrefcount(table.wait_sets[i]) != held_by_the_spy_alone]
    assert not leaked, f"wait sets {leaked} are still referenced after their waits ended"


def events(table: Any, count: int) -> list[int]:
    return [table.create_event() for _ in range(count)]


def winerror(call: Callable[[], Any]) -> int:
    """The winerror of the WinsockError that ``call()`` raises."""
    with pytest.raises(WinsockError) as info:
        call()
    return int(info.value.winerror)


def in_new_thread(call: Callable[[], Any]) -> Any:
    """``call()``'s result, computed in a thread that never ran anything else."""
    return Waiter(call).result()


class IntLike:
    """Not an int, but usable as one (``__index__``), as a handle must be."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


@pytest.fixture
def h(table: Any) -> SimpleNamespace:
    """Handles of every kind in ``table``: ``e`` a signalled event, ``f`` a non-signalled one,
    ``s`` a socket, ``closed`` a closed event, ``closed_socket``, and ``more(n)`` for n more
    signalled events."""
    e, f = events(table, 2)
    table.set_event(e)
    s = table.create_socket(1)
    closed = table.create_event()
    table.close_event(closed)
    closed_socket = table.create_socket(1)
    table.close_socket(closed_socket)

    def more(n: int) -> list[int]:
        extra = events(table, n)
        for x in extra:
            table.set_event(x)
        return extra

    return SimpleNamespace(e=e, f=f, s=s, closed=closed, closed_socket=closed_socket, more=more)


# --- results of the upcall ----------------------------------------------------------------


def test_wait_result_constants_have_windows_values() -> None:
    assert (WSA_WAIT_EVENT_0, WSA_WAIT_TIMEOUT, WSA_WAIT_FAILED, WSA_WAIT_IO_COMPLETION,
            WSA_INFINITE) == (0, 258, 0xFFFFFFFF, 0xC0, 0xFFFFFFFF)
    assert (WSA_INVALID_HANDLE, WSA_INVALID_PARAMETER, ws2core.WSA_MAXIMUM_WAIT_EVENTS) == (6, 87, 64)


LOWEST_INDEX_CASES = [
    ({0}, 0),
    ({3}, 3),
    ({7}, 7),
    ({1, 2}, 1),
    ({7, 2, 5}, 2),
    ({6, 7}, 6),
    (set(range(8)), 0),
]


@pytest.mark.parametrize(("signalled", "expected"), LOWEST_INDEX_CASES)
@pytest.mark.parametrize("alertable", [False, True])
def test_wait_any_gives_lowest_signalled_index(
    table: Any, upcalls: UpcallTable, signalled: set[int], expected: int, alertable: bool
) -> None:
    handles = events(table, 8)
    for i in signalled:
        table.set_event(handles[i])
    assert table.wait(handles, timeout=0) == expected
    assert table.wait(handles, timeout=LONG) == expected
    for timeout_ms in (0, 1000, WSA_INFINITE):
        result = upcalls.WSAWaitForMultipleEvents(8, handles, False, timeout_ms, alertable)
        assert result == WSA_WAIT_EVENT_0 + expected
    assert upcalls.WSAGetLastError() == 0


@pytest.mark.parametrize("index", [0, 1, 31, 62, 63])
@pytest.mark.parametrize("alertable", [False, True])
def test_64_events_each_index_comes_back(
    table: Any, upcalls: UpcallTable, index: int, alertable: bool
) -> None:
    handles = events(table, 64)
    table.set_event(handles[index])
    assert table.wait(handles, timeout=0) == index
    assert upcalls.WSAWaitForMultipleEvents(64, handles, False, 0, alertable) == index
    assert upcalls.WSAWaitForMultipleEvents(64, handles, 0, 10, alertable) == WSA_WAIT_EVENT_0 + index


def test_64_events_wait_all(table: Any, upcalls: UpcallTable) -> None:
    handles = events(table, 64)
    for x in handles[:-1]:
        table.set_event(x)
    assert table.wait(handles, wait_all=True, timeout=0) is None
    assert upcalls.WSAWaitForMultipleEvents(64, handles, True, 0, False) == 258
    table.set_event(handles[-1])
    assert table.wait(handles, wait_all=True, timeout=0) == 0
    assert upcalls.WSAWaitForMultipleEvents(64, handles, True, 0, False) == WSA_WAIT_EVENT_0
    assert upcalls.WSAWaitForMultipleEvents(64, handles, True, WSA_INFINITE, True) == 0


@pytest.mark.parametrize("wait_all", [False, True])
def test_65_events_is_invalid_parameter(table: Any, upcalls: UpcallTable, wait_all: bool) -> None:
    handles = events(table, 65)
    for x in handles:
        table.set_event(x)  # all live and signalled: the count alone is wrong
    assert winerror(lambda: table.wait(handles, wait_all, 0)) == WSA_INVALID_PARAMETER
    assert winerror(lambda: table.wait(handles, wait_all, LONG)) == WSA_INVALID_PARAMETER
    assert upcalls.WSAWaitForMultipleEvents(65, handles, wait_all, 0, False) == 0xFFFFFFFF
    assert upcalls.WSAGetLastError() == 87
    # 64 of the same 65 is fine
    assert upcalls.WSAWaitForMultipleEvents(64, handles, wait_all, 0, False) == 0


@pytest.mark.parametrize("count", [0, 65, 66, -1, 2**31, 2**32 + 1, 2**40, 2**64])
def test_upcall_count_outside_1_to_64_fails_with_87(
    table: Any, upcalls: UpcallTable, count: int
) -> None:
    handles = events(table, 3)
    table.set_event(handles[0])
    assert upcalls.WSAWaitForMultipleEvents(count, handles, False, 0, False) == WSA_WAIT_FAILED
    assert upcalls.WSAGetLastError() == WSA_INVALID_PARAMETER
    upcalls.WSASetLastError(0)
    # an empty list with a bad count is the count's failure, not a short list
    assert upcalls.WSAWaitForMultipleEvents(count, [], True, WSA_INFINITE, True) == WSA_WAIT_FAILED
    assert upcalls.WSAGetLastError() == WSA_INVALID_PARAMETER


@pytest.mark.parametrize("wait_all", [False, True])
@pytest.mark.parametrize("alertable", [False, True])
@pytest.mark.parametrize("timeout_ms", [0, 50])
def test_upcall_timeout_is_258_without_apcs(
    table: Any, upcalls: UpcallTable, wait_all: bool, alertable: bool, timeout_ms: int
) -> None:
    a, b = events(table, 2)
    table.set_event(a)  # wait-all still lacks b; wait-any lists only b below
    handles = [a, b] if wait_all else [b]
    result = upcalls.WSAWaitForMultipleEvents(len(handles), handles, wait_all, timeout_ms, alertable)
    assert result == 258
    assert result != WSA_WAIT_IO_COMPLETION
    assert upcalls.WSAGetLastError() == 0


def test_upcall_wait_all_returns_exactly_event_0(table: Any, upcalls: UpcallTable) -> None:
    handles = events(table, 5)
    for x in reversed(handles):
        table.set_event(x)
    for timeout_ms in (0, 100, WSA_INFINITE):
        assert upcalls.WSAWaitForMultipleEvents(5, handles, True, timeout_ms, True) == 0
    assert table.wait(handles, wait_all=True) == 0
    assert table.wait(tuple(handles), True, 0) == 0


def test_upcall_reads_only_the_first_cEvents_handles(
    table: Any, upcalls: UpcallTable, h: SimpleNamespace
) -> None:
    # Entries past cEvents are never read: a set event there does not count, a bad handle
    # (or a value of the wrong type) there does not fail, and a duplicate there is not a
    # duplicate.
    assert upcalls.WSAWaitForMultipleEvents(1, [h.f, h.e], False, 0, False) == WSA_WAIT_TIMEOUT
    assert upcalls.WSAWaitForMultipleEvents(1, [h.e, h.closed, None, -4], True, 0, False) == 0
    assert upcalls.WSAWaitForMultipleEvents(1, [h.e, "x", object()], False, 0, False) == 0
    assert upcalls.WSAWaitForMultipleEvents(1, [h.e, h.e], True, 0, False) == 0
    assert upcalls.WSAWaitForMultipleEvents(2, [h.f, h.e, h.s], False, 0, False) == 1
    assert upcalls.WSAGetLastError() == 0


# --- check order ---------------------------------------------------------------------------

# (id, handles from the `h` fixture, wait_all, expected winerror).  `e` is live and
# signalled: a wait that checked readiness before the handles would succeed instead.
CHECK_ORDER_CASES = [
    ("no events", lambda h: [], False, WSA_INVALID_PARAMETER),
    ("no events, wait-all", lambda h: [], True, WSA_INVALID_PARAMETER),
    ("65 live signalled events", lambda h: [h.e, *h.more(64)], False, WSA_INVALID_PARAMETER),
    ("65 closed handles: count before handles", lambda h: [h.closed] * 65, False,
     WSA_INVALID_PARAMETER),
    ("65 closed handles, wait-all", lambda h: [h.closed] * 65, True, WSA_INVALID_PARAMETER),
    ("65 duplicates, wait-all: count before duplicates", lambda h: [h.e] * 65, True,
     WSA_INVALID_PARAMETER),
    ("bad handle then duplicates, wait-all", lambda h: [h.closed, h.e, h.e], True,
     WSA_INVALID_HANDLE),
    ("duplicates then bad handle, wait-all: handles before duplicates",
     lambda h: [h.e, h.e, h.closed], True, WSA_INVALID_HANDLE),
    ("duplicates then a socket, wait-all", lambda h: [h.e, h.f, h.e, h.s], True,
     WSA_INVALID_HANDLE),
    ("signalled event then bad handle, wait-any", lambda h: [h.e, h.closed], False,
     WSA_INVALID_HANDLE),
    ("signalled event then socket, wait-any", lambda h: [h.e, h.f, h.s], False,
     WSA_INVALID_HANDLE),
    ("duplicate, wait-all", lambda h: [h.e, h.e], True, WSA_INVALID_PARAMETER),
    ("duplicate apart, wait-all", lambda h: [h.e, h.f, h.e], True, WSA_INVALID_PARAMETER),
    ("unsignalled duplicate, wait-all", lambda h: [h.f, h.e, h.f], True, WSA_INVALID_PARAMETER),
    ("duplicate by tag bits, wait-all", lambda h: [h.e, h.e | 1], True, WSA_INVALID_PARAMETER),
    ("two tags of one event, wait-all", lambda h: [h.f | 2, h.f | 3], True,
     WSA_INVALID_PARAMETER),
]


@pytest.mark.parametrize(("handles_of", "wait_all", "code"),
                         [c[1:] for c in CHECK_ORDER_CASES], ids=[c[0] for c in CHECK_ORDER_CASES])
def test_check_order_wait(table: Any, h: SimpleNamespace, handles_of: Any, wait_all: bool,
                          code: int) -> None:
    handles = handles_of(h)
    for timeout in (0, LONG, None):
        assert winerror(lambda: table.wait(handles, wait_all, timeout)) == code
    assert table.event_is_set(h.e) and not table.event_is_set(h.f)  # no state was touched


@pytest.mark.parametrize(("handles_of", "wait_all", "code"),
                         [c[1:] for c in CHECK_ORDER_CASES], ids=[c[0] for c in CHECK_ORDER_CASES])
def test_check_order_upcall(upcalls: UpcallTable, h: SimpleNamespace, handles_of: Any,
                            wait_all: bool, code: int) -> None:
    handles = handles_of(h)
    for timeout_ms in (0, WSA_INFINITE):
        upcalls.WSASetLastError(0)
        result = upcalls.WSAWaitForMultipleEvents(len(handles), handles, wait_all, timeout_ms, True)
        assert result == WSA_WAIT_FAILED
        assert upcalls.WSAGetLastError() == code


# Values that are not a live event of the table: each fails with WSA_INVALID_HANDLE.
BAD_HANDLES = {
    "socket": lambda h: h.s,
    "socket with a tag bit": lambda h: h.s | 1,
    "closed event": lambda h: h.closed,
    "closed event, tagged": lambda h: h.closed | 3,
    "closed socket": lambda h: h.closed_socket,
    "never created": lambda h: 0x7FFFFFF0,
    "next value": lambda h: max(h.e, h.f, h.s, h.closed, h.closed_socket) + 4,
    "zero": lambda h: 0,
    "tag bits of zero": lambda h: 3,
    "None (NULL)": lambda h: None,
    "negative": lambda h: -4,
    "minus one": lambda h: -1,
    "negative alias of the event": lambda h: h.e - 2**64,
    "event plus 2**32": lambda h: h.e + 2**32,
    "event plus 2**64": lambda h: h.e + 2**64,
    "INVALID_SOCKET": lambda h: INVALID_SOCKET,
    "2**64": lambda h: 2**64,
    "2**100": lambda h: 2**100,
    "-2**100": lambda h: -(2**100),
}


@pytest.mark.parametrize("bad_of", BAD_HANDLES.values(), ids=BAD_HANDLES.keys())
def test_bad_handle_is_invalid_handle(table: Any, upcalls: UpcallTable, h: SimpleNamespace,
                                      bad_of: Any) -> None:
    bad = bad_of(h)
    for handles, wait_all in (([bad], False), ([h.e, bad], False), ([bad, h.e], True),
                              ([h.f, h.e, bad], True)):
        assert winerror(lambda: table.wait(handles, wait_all, 0)) == WSA_INVALID_HANDLE
        upcalls.WSASetLastError(0)
        assert (upcalls.WSAWaitForMultipleEvents(len(handles), handles, wait_all, 0, False)
                == WSA_WAIT_FAILED)
        assert upcalls.WSAGetLastError() == WSA_INVALID_HANDLE


def test_duplicates_are_fine_for_wait_any(table: Any, upcalls: UpcallTable, h: SimpleNamespace) -> None:
    assert table.wait([h.e, h.e], timeout=0) == 0
    assert table.wait([h.f, h.e, h.e | 1, h.f], timeout=0) == 1
    assert table.wait([h.f, h.f | 3], timeout=0) is None
    assert upcalls.WSAWaitForMultipleEvents(3, [h.f, h.f, h.e], False, 0, False) == 2
    assert upcalls.WSAWaitForMultipleEvents(64, [h.f] * 63 + [h.e], False, 0, False) == 63
    assert upcalls.WSAWaitForMultipleEvents(2, [h.f, h.f], False, 0, False) == WSA_WAIT_TIMEOUT
    assert upcalls.WSAGetLastError() == 0


def test_duplicates_for_wait_any_woken_by_one_set(spy_table: Any, mode: str) -> None:
    e, f = events(spy_table, 2)
    waiter = start_wait(spy_table, mode, [f, e, e | 2, e])
    spy_table.until_waiting(1)
    spy_table.set_event(e | 1)
    assert waiter.result() == 1


def test_tag_bits_name_the_same_event(table: Any, upcalls: UpcallTable) -> None:
    e, f = events(table, 2)
    for tag in (1, 2, 3):
        other_tag = 3 - tag  # also 1..3, never the same as tag (3 - tag == tag has no solution)
        assert table.wait([e | tag], timeout=0) is None
        table.set_event(e | tag)
        assert table.event_is_set(e) and table.event_is_set(e | other_tag)
        assert table.wait([e], timeout=0) == 0
        assert table.wait([f, e | other_tag], timeout=0) == 1
        assert upcalls.WSAWaitForMultipleEvents(2, [f | tag, e | tag], True, 0, False) == 258
        assert upcalls.WSAWaitForMultipleEvents(2, [f | tag, e | other_tag], False, 0, False) == 1
        table.reset_event(e | other_tag)
        assert table.wait([e | tag], timeout=0) is None
    assert table.wait([f | 3, e | 1], wait_all=True, timeout=0) is None
    table.set_event(f | 2)
    table.set_event(e | 3)
    assert table.wait([f | 3, e | 1], wait_all=True, timeout=0) == 0
    assert upcalls.WSAWaitForMultipleEvents(2, [f | 1, e | 2], True, 0, False) == 0


def test_tagged_handle_waiter_woken_through_another_tag(spy_table: Any, mode: str) -> None:
    e = spy_table.create_event()
    waiter = start_wait(spy_table, mode, [e | 1])
    spy_table.until_waiting(1)
    assert waiter.still_blocked()
    spy_table.set_event(e | 2)
    assert waiter.result() == 0


def test_handles_accept_anything_with_index(table: Any, upcalls: UpcallTable) -> None:
    e, f = events(table, 2)
    table.set_event(f)
    assert table.wait([IntLike(e), IntLike(f)], timeout=0) == 1
    assert table.wait(iter([e, f]), timeout=0) == 1  # any iterable
    assert upcalls.WSAWaitForMultipleEvents(IntLike(2), (IntLike(e), f), 0, IntLike(0), 0) == 1


# --- ctypes arrays ------------------------------------------------------------------------


@pytest.mark.parametrize("ctype", [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint64])
def test_ctypes_array_of_handles(table: Any, upcalls: UpcallTable, ctype: Any) -> None:
    a, b, c = events(table, 3)
    table.set_event(b)
    array = (ctype * 3)(a, b, c)
    assert upcalls.WSAWaitForMultipleEvents(3, array, False, 0, False) == 1
    assert upcalls.WSAWaitForMultipleEvents(3, array, True, 0, False) == WSA_WAIT_TIMEOUT
    assert table.wait(array, timeout=0) == 1
    table.set_event(a)
    table.set_event(c)
    assert upcalls.WSAWaitForMultipleEvents(3, array, True, 0, False) == 0
    assert table.wait(array, wait_all=True) == 0
    big = (ctype * 64)(*events(table, 63), c)
    assert upcalls.WSAWaitForMultipleEvents(64, big, False, 0, False) == 63


@pytest.mark.parametrize("null_at", [0, 1, 2])
def test_ctypes_array_with_null_is_invalid_handle(
    table: Any, upcalls: UpcallTable, null_at: int
) -> None:
    handles: list[int | None] = list(events(table, 3))
    for x in handles:
        table.set_event(x)
    handles[null_at] = None
    array = (ctypes.c_void_p * 3)(*handles)
    assert array[null_at] is None  # ctypes reads a NULL c_void_p as None
    for wait_all in (False, True):
        upcalls.WSASetLastError(0)
        assert upcalls.WSAWaitForMultipleEvents(3, array, wait_all, 0, False) == WSA_WAIT_FAILED
        assert upcalls.WSAGetLastError() == WSA_INVALID_HANDLE
        assert winerror(lambda: table.wait(array, wait_all, 0)) == WSA_INVALID_HANDLE


def test_ctypes_array_shorter_or_longer_than_cEvents(table: Any, upcalls: UpcallTable) -> None:
    a, b = events(table, 2)
    table.set_event(b)
    array = (ctypes.c_void_p * 2)(a, b)
    upcalls.WSASetLastError(5)
    with pytest.raises(ValueError):
        upcalls.WSAWaitForMultipleEvents(3, array, False, 0, False)
    assert upcalls.WSAGetLastError() == 5
    assert upcalls.WSAWaitForMultipleEvents(1, array, False, 0, False) == WSA_WAIT_TIMEOUT
    assert upcalls.WSAWaitForMultipleEvents(2, array, False, 0, False) == 1


# --- argument errors (raised, before any Windows check) -----------------------------------

NAN = float("nan")

# (id, kwargs for table.wait given the `h` fixture, exception)
WAIT_ARGUMENT_ERRORS = [
    ("negative timeout", lambda h: dict(events=[h.e], timeout=-1), ValueError),
    ("tiny negative timeout", lambda h: dict(events=[h.e], timeout=-1e-9), ValueError),
    ("NaN timeout", lambda h: dict(events=[h.e], timeout=NAN), ValueError),
    ("-inf timeout", lambda h: dict(events=[h.e], timeout=-math.inf), ValueError),
    ("str timeout", lambda h: dict(events=[h.e], timeout="1"), TypeError),
    ("list timeout", lambda h: dict(events=[h.e], timeout=[1]), TypeError),
    ("object timeout", lambda h: dict(events=[h.e], timeout=object()), TypeError),
    ("str handle", lambda h: dict(events=[h.e, "4"]), TypeError),
    ("float handle", lambda h: dict(events=[float(h.e)]), TypeError),
    ("bytes handle", lambda h: dict(events=[b"\x04"]), TypeError),
    ("object handle", lambda h: dict(events=[object()]), TypeError),
    ("events not iterable", lambda h: dict(events=h.e), TypeError),
    ("events None", lambda h: dict(events=None), TypeError),
    ("ValueError before the count", lambda h: dict(events=[], timeout=-1), ValueError),
    ("TypeError before the count", lambda h: dict(events=["x"] * 65), TypeError),
    ("TypeError after 65 handles", lambda h: dict(events=[h.e] * 65 + ["x"]), TypeError),
    ("TypeError before the handle check", lambda h: dict(events=[h.closed, "x"]), TypeError),
    ("ValueError before the handle check", lambda h: dict(events=[h.closed], timeout=NAN),
     ValueError),
    ("TypeError before the duplicate check",
     lambda h: dict(events=[h.e, h.e, "x"], wait_all=True), TypeError),
    ("TypeError when the first event is signalled", lambda h: dict(events=[h.e, object()]),
     TypeError),
]


@pytest.mark.parametrize(("kwargs_of", "exc"), [c[1:] for c in WAIT_ARGUMENT_ERRORS],
                         ids=[c[0] for c in WAIT_ARGUMENT_ERRORS])
def test_wait_argument_errors(table: Any, h: SimpleNamespace, kwargs_of: Any, exc: type) -> None:
    kwargs = kwargs_of(h)
    with pytest.raises(exc):
        table.wait(**kwargs)
    assert table.event_is_set(h.e) and not table.event_is_set(h.f)


@pytest.mark.parametrize(("kwargs_of", "exc"), [c[1:] for c in WAIT_ARGUMENT_ERRORS],
                         ids=[c[0] for c in WAIT_ARGUMENT_ERRORS])
def test_wait_async_argument_errors_raise_when_awaited(
    table: Any, h: SimpleNamespace, kwargs_of: Any, exc: type
) -> None:
    coroutine = table.wait_async(**kwargs_of(h))  # creating the coroutine does not raise
    with pytest.raises(exc):
        asyncio.run(coroutine)


WAIT_ASYNC_WINDOWS_ERRORS = [
    ("no events", lambda h: dict(events=[]), WSA_INVALID_PARAMETER),
    ("65 events", lambda h: dict(events=[h.e] * 65), WSA_INVALID_PARAMETER),
    ("closed event", lambda h: dict(events=[h.e, h.closed]), WSA_INVALID_HANDLE),
    ("socket", lambda h: dict(events=[h.s]), WSA_INVALID_HANDLE),
    ("NULL", lambda h: dict(events=[None]), WSA_INVALID_HANDLE),
    ("bad before duplicates", lambda h: dict(events=[h.e, h.e, -4], wait_all=True),
     WSA_INVALID_HANDLE),
    ("duplicate wait-all", lambda h: dict(events=[h.f, h.f | 1], wait_all=True),
     WSA_INVALID_PARAMETER),
]


@pytest.mark.parametrize(("kwargs_of", "code"), [c[1:] for c in WAIT_ASYNC_WINDOWS_ERRORS],
                         ids=[c[0] for c in WAIT_ASYNC_WINDOWS_ERRORS])
@pytest.mark.parametrize("timeout", [0, LONG, None])
def test_wait_async_winsock_errors_raise_when_awaited(
    table: Any, h: SimpleNamespace, kwargs_of: Any, code: int, timeout: float | None
) -> None:
    coroutine = table.wait_async(timeout=timeout, **kwargs_of(h))
    assert winerror(lambda: asyncio.run(coroutine)) == code


# (id, positional arguments given the `h` fixture, exception)
UPCALL_ARGUMENT_ERRORS = [
    ("dwTimeout -1", lambda h: (1, [h.e], False, -1, False), ValueError),
    ("dwTimeout 2**32", lambda h: (1, [h.e], False, 2**32, False), ValueError),
    ("list shorter than cEvents", lambda h: (3, [h.e, h.f], False, 0, False), ValueError),
    ("empty list, cEvents 1", lambda h: (1, [], False, 0, False), ValueError),
    ("63 handles, cEvents 64", lambda h: (64, [h.e] * 63, False, 0, False), ValueError),
    ("str handle", lambda h: (2, [h.e, "x"], False, 0, False), TypeError),
    ("str cEvents", lambda h: ("1", [h.e], False, 0, False), TypeError),
    ("str dwTimeout", lambda h: (1, [h.e], False, "0", False), TypeError),
    ("handles not iterable", lambda h: (1, h.e, False, 0, False), TypeError),
    ("bad dwTimeout before bad count", lambda h: (0, [], False, -1, False), ValueError),
    ("bad dwTimeout before bad handle", lambda h: (1, [h.closed], False, 2**40, False),
     ValueError),
    ("short list before bad handle", lambda h: (2, [h.closed], True, 0, False), ValueError),
]


@pytest.mark.parametrize(("args_of", "exc"), [c[1:] for c in UPCALL_ARGUMENT_ERRORS],
                         ids=[c[0] for c in UPCALL_ARGUMENT_ERRORS])
def test_upcall_argument_errors_raise_and_leave_last_error(
    upcalls: UpcallTable, h: SimpleNamespace, args_of: Any, exc: type
) -> None:
    upcalls.WSASetLastError(4242)
    with pytest.raises(exc):
        upcalls.WSAWaitForMultipleEvents(*args_of(h))
    assert upcalls.WSAGetLastError() == 4242


# --- manual reset ---------------------------------------------------------------------------


def test_manual_reset_events_stay_signalled_after_polls(table: Any, upcalls: UpcallTable) -> None:
    a, b = events(table, 2)
    table.set_event(a)
    for _ in range(3):
        assert table.wait([a], timeout=0) == 0
        assert table.wait([b, a]) == 1
        assert upcalls.WSAWaitForMultipleEvents(1, [a], True, WSA_INFINITE, False) == 0
    assert table.event_is_set(a) and not table.event_is_set(b)
    table.set_event(b)
    assert table.wait([a, b], wait_all=True) == 0
    assert table.wait([b, a], wait_all=True) == 0
    assert table.event_is_set(a) and table.event_is_set(b)
    table.reset_event(a)
    assert table.wait([a], timeout=0) is None
    assert table.wait([a, b], wait_all=True, timeout=0) is None
    assert table.wait([a, b], timeout=0) == 1


@pytest.mark.parametrize("wait_all", [False, True])
def test_manual_reset_events_stay_signalled_after_a_woken_wait(
    spy_table: Any, mode: str, wait_all: bool
) -> None:
    a, b = events(spy_table, 2)
    spy_table.set_event(a)
    waiter = start_wait(spy_table, mode, [b, a] if wait_all else [b], wait_all)
    spy_table.until_waiting(1)
    spy_table.set_event(b)
    assert waiter.result() == 0
    assert spy_table.event_is_set(a) and spy_table.event_is_set(b)
    assert spy_table.wait([b], timeout=0) == 0
    assert start_wait(spy_table, mode, [a, b], True).result() == 0  # returns at once


# --- waking from another thread ----------------------------------------------------------


@pytest.mark.parametrize("timeout", [LONG, None])
def test_set_from_another_thread_wakes_the_waiter(spy_table: Any, mode: str,
                                                 timeout: float | None) -> None:
    handles = events(spy_table, 6)
    waiter = start_wait(spy_table, mode, handles, timeout=timeout)
    spy_table.until_waiting(1)
    spy_table.reset_event(handles[2])  # a reset wakes nobody
    assert waiter.still_blocked()
    spy_table.set_event(handles[4])
    assert waiter.result() == 4
    assert spy_table.active == 0


@pytest.mark.parametrize("alertable", [False, True])
def test_upcall_infinite_wait_woken_from_another_thread(
    spy_table: Any, spy_upcalls: UpcallTable, alertable: bool
) -> None:
    a, b = events(spy_table, 2)
    waiter = upcall_wait(spy_upcalls, [a, b], False, WSA_INFINITE, alertable)
    spy_table.until_waiting(1)
    assert waiter.still_blocked()  # WSA_INFINITE is not a poll nor a short timeout
    err = ctypes.c_int(0)
    assert spy_upcalls.WPUSetEvent(b, err) == 1
    assert waiter.result() == (WSA_WAIT_EVENT_0 + 1, 0)


def test_wait_all_returns_only_when_all_are_set_at_once(spy_table: Any, mode: str) -> None:
    a, b, c = events(spy_table, 3)
    waiter = start_wait(spy_table, mode, [a, b, c], wait_all=True)
    spy_table.until_waiting(1)
    for x in (a, b):
        spy_table.set_event(x)
        assert waiter.still_blocked(), "wait-all returned before every event was set"
    spy_table.reset_event(a)
    spy_table.set_event(c)  # all three have been set, but never at the same time
    assert waiter.still_blocked(), "wait-all returned although a was reset"
    spy_table.set_event(a)
    assert waiter.result() == 0
    assert [spy_table.event_is_set(x) for x in (a, b, c)] == [True, True, True]


def test_upcall_wait_all_returns_only_after_the_last_set(
    spy_table: Any, spy_upcalls: UpcallTable
) -> None:
    handles = events(spy_table, 4)
    waiter = upcall_wait(spy_upcalls, handles, True, 30_000)
    spy_table.until_waiting(1)
    err = ctypes.c_int(0)
    for x in handles[1:]:
        assert spy_upcalls.WPUSetEvent(x, err) == 1
        assert waiter.still_blocked(0.05)
    assert spy_upcalls.WPUSetEvent(handles[0], err) == 1
    assert waiter.result() == (WSA_WAIT_EVENT_0, 0)


# --- timeouts --------------------------------------------------------------------------------


def timeout_waiters(table: Any, upcalls: UpcallTable) -> dict[str, tuple[Waiter, Any]]:
    """Every kind of wait that must time out, started at once: (waiter, expected result)."""
    waiters: dict[str, tuple[Waiter, Any]] = {}
    for wait_all in (False, True):
        a, b = events(table, 2)
        table.set_event(a)  # wait-all lacks b; wait-any is given b alone
        handles = [a, b] if wait_all else [b]
        for mode in WAIT_MODES:
            waiters[f"{mode}, wait_all={wait_all}"] = (
                start_wait(table, mode, handles, wait_all, timeout=SHORT), None)
        for alertable in (False, True):
            waiters[f"upcall, wait_all={wait_all}, alertable={alertable}"] = (
                upcall_wait(upcalls, handles, wait_all, int(SHORT * 1000), alertable),
                (WSA_WAIT_TIMEOUT, 0))
    return waiters


def test_timeout_is_honoured(table: Any, upcalls: UpcallTable) -> None:
    waiters = timeout_waiters(table, upcalls)  # all at once: one SHORT for the lot
    for name, (waiter, expected) in waiters.items():
        assert waiter.result() == expected, name
        assert waiter.elapsed >= NOT_BEFORE, (
            f"{name}: timed out after {waiter.elapsed:.3f} s, before {SHORT} s")


@pytest.mark.parametrize("timeout", [0, 0.0])
def test_zero_timeout_polls(table: Any, mode: str, timeout: float) -> None:
    a, b, c = events(table, 3)
    # unset: returns None at once (a poll that blocked would fail at WITHIN)
    assert start_wait(table, mode, [a, b], timeout=timeout).result() is None
    table.set_event(b)
    assert start_wait(table, mode, [a, b, c], timeout=timeout).result() == 1
    assert start_wait(table, mode, [a, b, c], True, timeout=timeout).result() is None
    table.set_event(a)
    table.set_event(c)
    assert start_wait(table, mode, [a, b, c], True, timeout=timeout).result() == 0


def test_upcall_zero_timeout_polls(table: Any, upcalls: UpcallTable) -> None:
    a, b = events(table, 2)
    assert upcall_wait(upcalls, [a, b], False, 0).result() == (258, 0)
    table.set_event(b)
    assert upcall_wait(upcalls, [a, b], False, 0).result() == (1, 0)


# --- closing an event during a wait ---------------------------------------------------------


def test_closing_the_awaited_event_ends_the_wait_at_its_timeout(
    spy_table: Any, spy_upcalls: UpcallTable
) -> None:
    # Every kind of wait at once, each on its own event d (wait-all also on a signalled
    # `other`); each d is closed while its waiter waits.
    cases = []
    for wait_all in (False, True):
        for mode in (*WAIT_MODES, "upcall"):
            d, other = events(spy_table, 2)
            handles = [d, other] if wait_all else [d]
            if mode == "upcall":
                waiter = upcall_wait(spy_upcalls, handles, wait_all, int(SHORT * 1000))
                expected: Any = (WSA_WAIT_TIMEOUT, 0)
            else:
                waiter = start_wait(spy_table, mode, handles, wait_all, timeout=SHORT)
                expected = None
            cases.append((f"{mode}, wait_all={wait_all}", waiter, expected, d, other, wait_all))
    spy_table.until_registered(len(cases))
    err = ctypes.c_int(0)
    for _, _, _, d, other, wait_all in cases:
        assert spy_upcalls.WPUCloseEvent(d, err) == 1
        # nothing can set it any more
        assert spy_upcalls.WPUSetEvent(d, err) == 0 and err.value == WSA_INVALID_HANDLE
        assert winerror(lambda: spy_table.set_event(d)) == WSA_INVALID_HANDLE
        if wait_all:
            spy_table.set_event(other)
    for name, waiter, expected, *_ in cases:
        assert waiter.result() == expected, name
        assert waiter.elapsed >= NOT_BEFORE, f"{name}: returned after {waiter.elapsed:.3f} s"
    assert spy_table.active == 0
    # the table goes on working
    x = spy_table.create_event()
    spy_table.set_event(x)
    for _, _, _, _, other, wait_all in cases:
        assert spy_table.wait([other, x], timeout=0) == (0 if wait_all else 1)


def test_event_closed_while_signalled_keeps_its_state_for_the_wait(spy_table: Any,
                                                                  mode: str) -> None:
    e, d = events(spy_table, 2)
    waiter = start_wait(spy_table, mode, [e, d], wait_all=True)
    spy_table.until_waiting(1)
    spy_table.set_event(d)
    spy_table.close_event(d)
    assert waiter.still_blocked()
    spy_table.set_event(e)
    assert waiter.result() == 0


def test_wait_any_on_a_closed_event_still_woken_by_another(spy_table: Any, mode: str) -> None:
    d, e = events(spy_table, 2)
    waiter = start_wait(spy_table, mode, [d, e])
    spy_table.until_waiting(1)
    spy_table.close_event(d)
    assert waiter.still_blocked()
    spy_table.set_event(e)
    assert waiter.result() == 1


def test_many_waiters_on_an_event_being_closed(spy_table: Any) -> None:
    d = spy_table.create_event()
    waiters = [start_wait(spy_table, mode, [d], timeout=SHORT) for mode in WAIT_MODES * 3]
    spy_table.until_registered(len(waiters))
    spy_table.close_event(d)
    assert [w.result() for w in waiters] == [None] * len(waiters)
    assert spy_table.active == 0


def reuse_value(table: Any, value: int, make: Callable[[], int]) -> int:
    """Create and close handles until ``make()`` hands ``value`` out again (the table keeps a
    closed value back for 65,536 creations); skip if it never comes back."""
    for _ in range(3 * 65_536):
        x = make()
        if x == value:
            return x
        table.close_event(x) if table.kind(x) == "event" else table.close_socket(x)
    pytest.skip("the closed value was not handed out again")


def test_a_reused_value_does_not_reach_a_wait_on_the_closed_event(spy_table: Any) -> None:
    d, e = events(spy_table, 2)
    waiter = start_wait(spy_table, "wait", [d, e])
    spy_table.until_waiting(1)
    spy_table.close_event(d)  # closed while not signalled
    assert reuse_value(spy_table, d, spy_table.create_event) == d
    spy_table.set_event(d)  # the new event with d's value, not the awaited one
    assert waiter.still_blocked(), "a set of a new event woke a wait on the closed one"
    spy_table.set_event(e)
    assert waiter.result() == 1


@pytest.mark.parametrize("new_kind", ["event", "socket"])
def test_a_reused_value_does_not_change_the_kept_state(spy_table: Any, new_kind: str) -> None:
    e, d = events(spy_table, 2)
    waiter = start_wait(spy_table, "wait", [e, d], wait_all=True)
    spy_table.until_waiting(1)
    spy_table.set_event(d)
    spy_table.close_event(d)  # closed while signalled
    make = spy_table.create_event if new_kind == "event" else lambda: spy_table.create_socket(1)
    assert reuse_value(spy_table, d, make) == d
    assert waiter.still_blocked()
    spy_table.set_event(e)
    assert waiter.result() == 0


# --- many threads, the GIL --------------------------------------------------------------------


def test_one_set_wakes_every_waiter(spy_table: Any) -> None:
    e, f = events(spy_table, 2)
    waiters = [start_wait(spy_table, mode, [e] if i % 4 < 2 else [f, e])
               for i, mode in enumerate(WAIT_MODES * 4)]  # 8 waiters, both modes
    spy_table.until_waiting(len(waiters))
    assert not any(w.done.is_set() for w in waiters)
    spy_table.set_event(e)
    assert [w.result() for w in waiters] == [0 if i % 4 < 2 else 1 for i in range(len(waiters))]
    assert spy_table.active == 0


def test_wait_releases_the_gil(spy_table: Any, spy_upcalls: UpcallTable) -> None:
    a, b = events(spy_table, 2)
    # If a blocked waiter held the GIL, this thread could not run until the waiters timed out
    # (None / WSA_WAIT_TIMEOUT) and the checks below would fail.
    waiters = [
        Waiter(lambda: spy_table.wait([a], timeout=10)),
        upcall_wait(spy_upcalls, [b, a], True, 10_000, False),
    ]
    spy_table.until_waiting(2)
    counter = 0
    for _ in range(200_000):
        counter += 1
    assert counter == 200_000
    assert not any(w.done.is_set() for w in waiters), "a waiter returned while nothing was set"
    spy_table.set_event(b)
    spy_table.set_event(a)
    assert [w.result() for w in waiters] == [0, (WSA_WAIT_EVENT_0, 0)]


def test_another_thread_keeps_running_while_one_waits(spy_table: Any, mode: str) -> None:
    e = spy_table.create_event()
    waiter = start_wait(spy_table, mode, [e], timeout=10)
    spy_table.until_waiting(1)
    progress = [0]
    stop = threading.Event()

    def count() -> None:
        while not stop.is_set():
            progress[0] += 1

    counter = threading.Thread(target=count, daemon=True)
    counter.start()
    deadline = time.monotonic() + WITHIN
    while progress[0] < 10_000 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    counter.join(WITHIN)
    assert progress[0] >= 10_000
    assert not waiter.done.is_set()
    spy_table.set_event(e)
    assert waiter.result() == 0


# --- last error -----------------------------------------------------------------------------


def test_last_error_starts_at_zero_in_every_thread(upcalls: UpcallTable) -> None:
    assert upcalls.WSAGetLastError() == 0
    assert in_new_thread(upcalls.WSAGetLastError) == 0
    upcalls.WSASetLastError(10038)
    assert in_new_thread(upcalls.WSAGetLastError) == 0  # a new thread sees 0, not ours
    assert upcalls.WSAGetLastError() == 10038


@pytest.mark.parametrize("code", [0, 6, 87, 10038, 2**31 - 1, -1])
def test_wsasetlasterror_sets_the_calling_threads_last_error(upcalls: UpcallTable,
                                                               code: int) -> None:
    upcalls.WSASetLastError(77)
    upcalls.WSASetLastError(code)
    assert upcalls.WSAGetLastError() == code

    def other() -> tuple[int, int]:
        before = upcalls.WSAGetLastError()
        upcalls.WSASetLastError(99)
        return before, upcalls.WSAGetLastError()

    assert in_new_thread(other) == (0, 99)
    assert upcalls.WSAGetLastError() == code


def test_success_and_timeout_leave_the_last_error(table: Any, upcalls: UpcallTable,
                                                  h: SimpleNamespace) -> None:
    for previous in (0, 12345):
        upcalls.WSASetLastError(previous)
        assert upcalls.WSAWaitForMultipleEvents(2, [h.f, h.e], False, 0, False) == 1
        assert upcalls.WSAGetLastError() == previous
        assert upcalls.WSAWaitForMultipleEvents(1, [h.f], False, 0, True) == WSA_WAIT_TIMEOUT
        assert upcalls.WSAGetLastError() == previous
        assert upcalls.WSAWaitForMultipleEvents(1, [h.f], False, 20, False) == WSA_WAIT_TIMEOUT
        assert upcalls.WSAGetLastError() == previous
    # after a failure, success keeps the failure's code
    assert upcalls.WSAWaitForMultipleEvents(1, [h.closed], False, 0, False) == WSA_WAIT_FAILED
    assert upcalls.WSAWaitForMultipleEvents(1, [h.e], False, 0, False) == 0
    assert upcalls.WSAGetLastError() == WSA_INVALID_HANDLE


def test_each_failure_sets_its_own_code(upcalls: UpcallTable, h: SimpleNamespace) -> None:
    assert upcalls.WSAWaitForMultipleEvents(0, [h.e], False, 0, False) == WSA_WAIT_FAILED
    assert upcalls.WSAGetLastError() == WSA_INVALID_PARAMETER
    assert upcalls.WSAWaitForMultipleEvents(1, [h.s], False, 0, False) == WSA_WAIT_FAILED
    assert upcalls.WSAGetLastError() == WSA_INVALID_HANDLE
    assert upcalls.WSAWaitForMultipleEvents(2, [h.e, h.e], True, 0, False) == WSA_WAIT_FAILED
    assert upcalls.WSAGetLastError() == WSA_INVALID_PARAMETER


def test_threads_failing_differently_see_their_own_last_error(upcalls: UpcallTable,
                                                               h: SimpleNamespace) -> None:
    barrier = threading.Barrier(2, timeout=WITHIN)

    def fail(count: int, handles: list[int]) -> tuple[int, int, int]:
        before = upcalls.WSAGetLastError()
        result = upcalls.WSAWaitForMultipleEvents(count, handles, True, 0, False)
        barrier.wait()  # both threads have failed before either reads
        after = upcalls.WSAGetLastError()
        barrier.wait()
        return before, result, after

    invalid_handle = Waiter(lambda: fail(1, [h.closed]))
    invalid_parameter = Waiter(lambda: fail(65, [h.e] * 65))
    assert invalid_handle.result() == (0, WSA_WAIT_FAILED, WSA_INVALID_HANDLE)
    assert invalid_parameter.result() == (0, WSA_WAIT_FAILED, WSA_INVALID_PARAMETER)
    assert upcalls.WSAGetLastError() == 0  # this thread never failed
    assert in_new_thread(upcalls.WSAGetLastError) == 0


def test_last_error_is_per_upcall_table(table: Any, h: SimpleNamespace) -> None:
    first, second = UpcallTable(table), UpcallTable(table)  # two Ws2_32 instances, one state
    assert first.WSAWaitForMultipleEvents(1, [h.s], False, 0, False) == WSA_WAIT_FAILED
    assert first.WSAGetLastError() == WSA_INVALID_HANDLE
    assert second.WSAGetLastError() == 0
    second.WSASetLastError(87)
    assert first.WSAGetLastError() == WSA_INVALID_HANDLE


@pytest.mark.parametrize("previous", [0, 4242])
def test_event_upcalls_never_touch_the_last_error(core: ModuleType, previous: int) -> None:
    upcalls = UpcallTable(core.HandleTable(max_handles=2))
    upcalls.WSASetLastError(previous)
    err = ctypes.c_int(0)
    e = upcalls.WPUCreateEvent(err)
    s = upcalls.WPUCreateSocketHandle(1, None, err)
    assert upcalls.WPUCreateEvent(err) == 0 and err.value == ws2core.WSA_NOT_ENOUGH_MEMORY
    for upcall in (upcalls.WPUSetEvent, upcalls.WPUResetEvent, upcalls.WPUCloseEvent):
        for bad in (s, 0, -4, 2**70):
            err.value = 0
            assert upcall(bad, err) == 0 and err.value == WSA_INVALID_HANDLE
            assert upcalls.WSAGetLastError() == previous
    assert upcalls.WPUSetEvent(e, err) == 1
    assert upcalls.WPUResetEvent(e, err) == 1
    assert upcalls.WPUCloseEvent(e, err) == 1
    assert upcalls.WSAGetLastError() == previous


# --- asyncio ----------------------------------------------------------------------------------


def test_async_woken_by_a_set_from_another_thread(spy_table: Any) -> None:
    a, b = events(spy_table, 2)

    async def main() -> tuple[int | None, bool]:
        task = asyncio.create_task(spy_table.wait_async([a, b], timeout=LONG))
        await spy_table.until_waiting_async(1)
        await asyncio.sleep(PAUSE)
        blocked = not task.done()
        setter = threading.Thread(target=spy_table.set_event, args=(b,))
        setter.start()
        result = await asyncio.wait_for(task, WITHIN)
        setter.join(WITHIN)
        return result, blocked

    assert asyncio.run(main()) == (1, True)


def test_async_woken_by_a_set_from_a_coroutine_of_the_same_loop(spy_table: Any) -> None:
    a, b, c = events(spy_table, 3)

    async def setter() -> None:
        await asyncio.sleep(0.01)
        spy_table.set_event(c)
        await asyncio.sleep(0.01)
        spy_table.set_event(a)

    async def main() -> list[Any]:
        waits = [spy_table.wait_async([b, c], timeout=LONG),
                 spy_table.wait_async([a, c], True, LONG),
                 spy_table.wait_async([a], timeout=None)]
        return await asyncio.wait_for(asyncio.gather(*waits, setter()), WITHIN)

    assert asyncio.run(main()) == [1, 0, 0, None]
    assert spy_table.registrations == 3  # all three really waited


def test_async_wait_all_in_one_loop_only_after_the_last_set(spy_table: Any) -> None:
    handles = events(spy_table, 4)

    async def main() -> int | None:
        task = asyncio.create_task(spy_table.wait_async(handles, True, LONG))
        await spy_table.until_waiting_async(1)
        for x in handles[:-1]:
            spy_table.set_event(x)
            await asyncio.sleep(0.02)
            assert not task.done(), "wait-all returned before the last set"
        spy_table.set_event(handles[-1])
        return await asyncio.wait_for(task, WITHIN)

    assert asyncio.run(main()) == 0


def test_async_timeout_returns_none(table: Any) -> None:
    a, b = events(table, 2)
    table.set_event(a)

    async def timed(handles: list[int], wait_all: bool) -> tuple[int | None, bool]:
        start = time.monotonic()
        result = await table.wait_async(handles, wait_all, SHORT)
        return result, time.monotonic() - start >= NOT_BEFORE

    async def main() -> Any:
        # wait-any on b alone, wait-all lacking b, in one loop at the same time
        return await asyncio.wait_for(asyncio.gather(timed([b], False), timed([a, b], True)),
                                      WITHIN)

    assert asyncio.run(main()) == [(None, True), (None, True)]


def test_async_poll_and_already_signalled(table: Any) -> None:
    a, b = events(table, 2)

    async def main() -> list[int | None]:
        results = [await table.wait_async([a, b], timeout=0)]
        table.set_event(b)
        results.append(await table.wait_async([a, b], timeout=0))
        results.append(await table.wait_async([a, b], timeout=LONG))
        results.append(await table.wait_async([a, b], True, 0))
        table.set_event(a)
        results.append(await table.wait_async([a, b], True))
        return results

    assert asyncio.run(asyncio.wait_for(main(), WITHIN)) == [None, 1, 1, None, 0]


@pytest.mark.parametrize("how", ["cancel", "wait_for timeout", "left pending at loop end"])
def test_async_cancellation_leaves_no_registration(spy_table: Any, how: str) -> None:
    e, f = events(spy_table, 2)

    async def main() -> None:
        task = asyncio.create_task(spy_table.wait_async([f, e], True, LONG))
        await spy_table.until_waiting_async(1)
        if how == "cancel":
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
        elif how == "wait_for timeout":
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(task, 0.05)
        # else asyncio.run cancels the task when main returns

    asyncio.run(main())
    assert_no_wait_left(spy_table)
    assert spy_table.registrations == 1
    # sets after the cancellation raise nothing and reach nobody
    spy_table.set_event(e)
    spy_table.set_event(f)
    Waiter(lambda: spy_table.set_event(e)).result()
    spy_table.close_event(f)
    # a later wait/set cycle works, blocking and async
    f = spy_table.create_event()
    waiters = [start_wait(spy_table, mode, [f, e], True) for mode in WAIT_MODES]
    spy_table.until_waiting(2)
    spy_table.set_event(f)
    assert [w.result() for w in waiters] == [0, 0]
    assert asyncio.run(spy_table.wait_async([e, f], True, 0)) == 0
    assert_no_wait_left(spy_table)


def test_async_wait_keeps_the_loop_running(spy_table: Any) -> None:
    e = spy_table.create_event()
    ticks = [0]

    async def ticker(task: asyncio.Task[int | None]) -> bool:
        for _ in range(10):
            await asyncio.sleep(0.005)
            ticks[0] += 1
        waiting = not task.done()
        spy_table.set_event(e)
        return waiting

    async def main() -> tuple[int | None, bool]:
        # If wait_async blocked the loop, the ticker could not run until the wait's own
        # timeout, and the wait would return None.
        task = asyncio.create_task(spy_table.wait_async([e], timeout=3))
        await spy_table.until_waiting_async(1)
        waiting = await ticker(task)
        return await asyncio.wait_for(task, WITHIN), waiting

    assert asyncio.run(main()) == (0, True)
    assert ticks[0] == 10


def test_async_many_coroutines_on_distinct_events(spy_table: Any) -> None:
    count = 32
    handles = events(spy_table, count)
    order = list(range(count))
    order = order[1::2] + order[::2][::-1]  # not the order they started waiting in

    async def main() -> list[tuple[int, int | None]]:
        threads_before = threading.active_count()
        tasks = [asyncio.create_task(spy_table.wait_async([x], timeout=LONG)) for x in handles]
        await spy_table.until_waiting_async(count)
        assert threading.active_count() <= threads_before, "a thread per waiting coroutine"
        results = []
        for k, i in enumerate(order):
            if k % 2:
                setter = threading.Thread(target=spy_table.set_event, args=(handles[i],))
                setter.start()
                setter.join(WITHIN)
            else:
                spy_table.set_event(handles[i])
            results.append((i, await asyncio.wait_for(tasks[i], WITHIN)))
            await asyncio.sleep(0)
            woken = {j for j, task in enumerate(tasks) if task.done()}
            assert woken == set(order[:k + 1]), "a set woke a coroutine waiting on another event"
        return results

    assert asyncio.run(main()) == [(i, 0) for i in order]
    assert_no_wait_left(spy_table)


def open_descriptors() -> int:
    for folder in ("/proc/self/fd", "/dev/fd"):
        if os.path.isdir(folder):
            return len(os.listdir(folder))
    pytest.skip("no way to count open file descriptors here")


def test_events_and_waits_hold_no_descriptor_per_event(spy_table: Any) -> None:
    before = open_descriptors()
    handles = events(spy_table, 5000)
    for x in handles[::2]:
        spy_table.set_event(x)
    assert open_descriptors() - before < 100, "file descriptors grow with the events"

    async def main() -> int | None:
        fds = open_descriptors()
        waits = [asyncio.create_task(spy_table.wait_async(handles[1:128:2], timeout=LONG)),
                 asyncio.create_task(spy_table.wait_async(handles[129:256:2], True, LONG))]
        await spy_table.until_waiting_async(2)
        assert open_descriptors() - fds < 32, "a wait on 64 events opened a descriptor per event"
        for x in handles[129:256:2]:
            spy_table.set_event(x)
        return await asyncio.wait_for(waits[1], WITHIN)

    assert asyncio.run(main()) == 0
