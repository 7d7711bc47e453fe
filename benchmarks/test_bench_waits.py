"""Waits: WSAWaitForMultipleEvents polling 64 events, and the wake-up latency of a set.

Two kinds of figure:

- **Poll** (group "WSAWaitForMultipleEvents poll 64"): a timeout-0 wait on 64 events, none
  signalled (WSA_WAIT_TIMEOUT) or only the last (WSA_WAIT_EVENT_0 + 63, so the scan runs the
  whole array either way), through the upcall (the handles in a list, or in a C WSAEVENT[64])
  and through ``table.wait``, on both cores, with the C-call floor in the group: the report's
  cases (``ws2core._bench.cases``).
- **Wake-up latency** (groups "wake-up latency thread" and "wake-up latency asyncio"): a
  waiter blocked in another thread (``table.wait``, ``WSAWaitForMultipleEvents``) or in a
  coroutine on an event loop running in another thread (``wait_async``); this thread sets the
  event.  The figure that matters is one-way: from just before ``set_event`` to the moment the
  waiter runs again (it reads ``time.perf_counter_ns()`` right after its wait returns and
  hands the stamp back).  Each test puts the median and p99 of that in ``extra_info`` (and
  ``--benchmark-json``) and prints them.  pytest-benchmark's own table for these groups times
  the setter's side of a round: set, then block until the waiter's answer arrives, that is
  the one-way latency plus the hop back, so roughly twice it.  A floor in each group does
  the same round with no ws2core at all (a bare ``SimpleQueue`` handoff; a bare future
  completed through ``call_soon_threadsafe``): what the machine and the interpreter cost.

A round: reset the event, let the waiter start its wait, sleep ``SETTLE`` so that it is
blocked (not still on its way in, which would time a poll), then time the set.  Nothing public
says "the waiter is blocked now", so the sleep is what makes each round a real wake-up; it is
not timed.  No timing is asserted, only results.  ``--benchmark-disable`` runs each latency test
for ``SMOKE_ROUNDS`` rounds (and each poll once): a smoke test of the wake-up paths, figures
still printed.

Reading the latencies: p99 is by nearest rank (an observed sample).  The one-way figure is
bimodal on CPython (about 6 and 15 us on the 2-CPU machine where this was written): the
waiter, woken by the OS, either finds the GIL already dropped by the setter (now blocked
waiting for the answer) or must wait for that drop, a second wake-up.  Which mode dominates
turns on a few hundred ns of the setter's own code after the set, so a median can flip
between modes with no change in ws2core; compare cores by the floor and the tail too.
"""

from __future__ import annotations

import asyncio
import math
import queue
import statistics
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import pytest

import ws2core
from ws2core import WSA_INFINITE, WSA_WAIT_EVENT_0
from ws2core._bench.cases import PYTEST, WAITS, Case, all_cases, section

THREAD_GROUP = "wake-up latency thread"
ASYNC_GROUP = "wake-up latency asyncio"

ROUNDS = 2000  # timed rounds per latency test
WARMUP_ROUNDS = 50
SMOKE_ROUNDS = 20  # under --benchmark-disable
SETTLE = 200e-6  # seconds the setter sleeps so that the waiter is blocked before the set
ANSWER_TIMEOUT = 10.0  # a lost wake-up fails the test instead of hanging the run


# --------------------------------------------------------------------------------------
# poll: the report's table 7 (ws2core._bench.cases), with the polls only pytest times

CASES = section(all_cases(), WAITS, PYTEST)


def test_case(time_case: Callable[..., None], core: ModuleType, case: Case) -> None:
    time_case(case, core)


def test_floor(time_case: Callable[..., None], floor: Case, group: str) -> None:
    time_case(floor, None, group, CASES)


# --------------------------------------------------------------------------------------
# wake-up latency: the harness

_READY = "ready"


class _Answers:
    """What a waiter sends back each round: _READY as it starts to wait, then (result, stamp)."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.put = self._queue.put  # one C call, safe from a thread and from a coroutine

    def get(self) -> Any:
        try:
            answer = self._queue.get(timeout=ANSWER_TIMEOUT)
        except queue.Empty:
            pytest.fail(f"the waiter did not answer within {ANSWER_TIMEOUT} s", pytrace=False)
        if isinstance(answer, BaseException):
            raise answer  # the waiter's failure, re-raised in the test
        return answer


class _Round:
    """One waiter and one setter: ``arm()`` readies a round, ``fire()`` times its set.

    ``start()`` makes the waiter begin one wait; it then sends _READY, waits, and sends
    ``(result, perf_counter_ns() right after the wait returned)``.  ``set()`` and ``reset()``
    act on what it waits for.  ``fire()`` returns the round's one-way latency in ns and
    keeps it in ``samples``.
    """

    def __init__(
        self,
        start: Callable[[], None],
        answers: _Answers,
        set_: Callable[[], Any],
        reset: Callable[[], Any],
        expected: Any,
    ) -> None:
        self._start, self._answers = start, answers
        self._set, self._reset, self._expected = set_, reset, expected
        self.samples: list[int] = []

    def arm(self) -> None:
        self._reset()
        self._start()
        assert self._answers.get() == _READY
        time.sleep(SETTLE)  # the waiter goes on into its wait and blocks (see the module doc)

    def fire(self) -> int:
        before = time.perf_counter_ns()
        self._set()
        result, running = self._answers.get()
        latency: int = running - before
        assert result == self._expected
        assert latency > 0
        self.samples.append(latency)
        return latency

    def run(self, rounds: int) -> None:
        for _ in range(rounds):
            self.arm()
            self.fire()


@contextmanager
def _thread_waiter(wait: Callable[[], Any]) -> Iterator[tuple[Callable[[], None], _Answers]]:
    """A thread that does one ``wait()`` per start(); it ends when the fixture does."""
    go: queue.SimpleQueue[bool] = queue.SimpleQueue()
    answers = _Answers()

    def body() -> None:
        while go.get():
            answers.put(_READY)
            try:
                result = wait()
            except BaseException as exc:  # handed to the test, which raises it
                answers.put(exc)
                continue
            answers.put((result, time.perf_counter_ns()))

    thread = threading.Thread(target=body, name="ws2core-bench-waiter", daemon=True)
    thread.start()
    try:
        yield (lambda: go.put(True)), answers
    finally:
        go.put(False)
        thread.join(ANSWER_TIMEOUT)
        assert not thread.is_alive(), "the waiter thread did not end"


@pytest.fixture
def event_loop_thread() -> Iterator[asyncio.AbstractEventLoop]:
    """An asyncio loop running forever in its own thread, stopped and closed at the end."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="ws2core-bench-loop", daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(ANSWER_TIMEOUT)
        assert not thread.is_alive(), "the event loop thread did not stop"
        loop.close()


def _coroutine_waiter(
    loop: asyncio.AbstractEventLoop, wait: Callable[[], Awaitable[Any]]
) -> tuple[Callable[[], None], _Answers]:
    """Each start() runs one ``await wait()`` as a task on ``loop``.

    ``wait()`` is called before _READY is sent, so whatever it sets up (the floor's future)
    exists before the setter can act; a coroutine such as ``wait_async`` starts running
    only when awaited.
    """
    answers = _Answers()

    async def one_wait() -> None:
        awaitable = wait()
        answers.put(_READY)
        try:
            result = await awaitable
        except BaseException as exc:
            answers.put(exc)
            raise
        answers.put((result, time.perf_counter_ns()))

    def start() -> None:
        asyncio.run_coroutine_threadsafe(one_wait(), loop)

    return start, answers


def _nearest_rank(samples: list[int], fraction: float) -> int:
    """The sample at ``fraction`` by nearest rank: a latency that was really observed."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _measure(benchmark: Any, request: pytest.FixtureRequest, probe: _Round, what: str) -> None:
    """Time ``probe`` for ROUNDS rounds (SMOKE_ROUNDS when disabled); report and print."""
    if benchmark.enabled:
        # pytest-benchmark times fire() alone (setup is not timed): the round trip.
        benchmark.pedantic(
            probe.fire, setup=probe.arm, rounds=ROUNDS, warmup_rounds=WARMUP_ROUNDS
        )
        samples = probe.samples[WARMUP_ROUNDS:]
    else:
        # Disabled, pedantic runs its target once: run the rounds inside that one call.
        benchmark.pedantic(probe.run, args=(SMOKE_ROUNDS,))
        samples = probe.samples
    median_us = statistics.median(samples) / 1000
    p99_us = _nearest_rank(samples, 0.99) / 1000
    benchmark.extra_info.update(
        {
            "latency_median_us": round(median_us, 2),
            "latency_p99_us": round(p99_us, 2),
            "latency_max_us": round(max(samples) / 1000, 2),
            "latency_rounds": len(samples),
        }
    )
    capsys: pytest.CaptureFixture[str] = request.getfixturevalue("capsys")
    with capsys.disabled():  # shown under -q too, between the progress dots
        print(
            f"\n  {request.node.name} ({what}): median {median_us:.1f} us, p99 {p99_us:.1f} us,"
            f" max {max(samples) / 1000:.1f} us ({len(samples)} rounds)"
        )


# --------------------------------------------------------------------------------------
# wake-up latency: the tests


@pytest.mark.benchmark(group=THREAD_GROUP)
def test_wakeup_table_wait(
    benchmark: Any, request: pytest.FixtureRequest, core: ModuleType, table: Any
) -> None:
    e = table.create_event()
    with _thread_waiter(lambda: table.wait([e])) as (start, answers):
        probe = _Round(start, answers, lambda: table.set_event(e), lambda: table.reset_event(e), 0)
        _measure(benchmark, request, probe, "table.wait in a thread")


@pytest.mark.benchmark(group=THREAD_GROUP)
def test_wakeup_wsawait(
    benchmark: Any, request: pytest.FixtureRequest, core: ModuleType, upcalls: ws2core.UpcallTable
) -> None:
    table = upcalls.table
    e = table.create_event()
    events = [e]

    def wait() -> int:
        return upcalls.WSAWaitForMultipleEvents(1, events, False, WSA_INFINITE, False)

    with _thread_waiter(wait) as (start, answers):
        probe = _Round(
            start, answers, lambda: table.set_event(e), lambda: table.reset_event(e),
            WSA_WAIT_EVENT_0,
        )
        _measure(benchmark, request, probe, "WSAWaitForMultipleEvents in a thread")


@pytest.mark.benchmark(group=THREAD_GROUP)
def test_wakeup_thread_floor(benchmark: Any, request: pytest.FixtureRequest) -> None:
    """No ws2core: the waiter blocks in SimpleQueue.get, the 'set' is a put.

    It is the primitive the wait itself blocks in, so the gap to the tests above is what
    ws2core adds around it.
    """
    signal: queue.SimpleQueue[int] = queue.SimpleQueue()
    with _thread_waiter(signal.get) as (start, answers):
        probe = _Round(start, answers, lambda: signal.put(0), lambda: None, 0)
        _measure(benchmark, request, probe, "floor: SimpleQueue handoff")


@pytest.mark.benchmark(group=ASYNC_GROUP)
def test_wakeup_wait_async(
    benchmark: Any,
    request: pytest.FixtureRequest,
    core: ModuleType,
    table: Any,
    event_loop_thread: asyncio.AbstractEventLoop,
) -> None:
    e = table.create_event()
    start, answers = _coroutine_waiter(event_loop_thread, lambda: table.wait_async([e]))
    probe = _Round(start, answers, lambda: table.set_event(e), lambda: table.reset_event(e), 0)
    _measure(benchmark, request, probe, "wait_async on a loop thread")


@pytest.mark.benchmark(group=ASYNC_GROUP)
def test_wakeup_async_floor(
    benchmark: Any, request: pytest.FixtureRequest, event_loop_thread: asyncio.AbstractEventLoop
) -> None:
    """No ws2core: the coroutine awaits a bare future, completed via call_soon_threadsafe.

    That is how wait_async is woken, so the gap is what ws2core adds around it.
    """
    loop = event_loop_thread
    pending: list[asyncio.Future[int]] = []

    def wait() -> asyncio.Future[int]:  # called on the loop's thread, by the waiter
        future: asyncio.Future[int] = loop.create_future()
        pending.append(future)
        return future

    def set_() -> None:
        loop.call_soon_threadsafe(pending.pop().set_result, 0)

    start, answers = _coroutine_waiter(loop, wait)
    probe = _Round(start, answers, set_, lambda: None, 0)
    _measure(benchmark, request, probe, "floor: future via call_soon_threadsafe")
