"""The wake-up latency (section 7b): from ``WPUSetEvent`` in one thread to a thread blocked in
``WSAWaitForMultipleEvents`` running again, beside the same handoff with no ws2core.

Not a statement in a loop: each round has a waiter thread, an untimed settle and one timed
set, so it is timed here rather than as a case of ``cases.py``.
"""

from __future__ import annotations

import queue
import statistics
import threading
import time
from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any

import ws2core

from .report import CORE, HEADERS, TWIN_KEY

if TYPE_CHECKING:
    from .sections import Bench


# The waiter announces each wait, then the setter sleeps this long so the waiter is blocked
# (not still on its way in, which would time a poll) when the set comes; the sleep is not timed.
# benchmarks/test_bench_waits.py times the same round.
_SETTLE = 200e-6
_ANSWER_TIMEOUT = 10.0  # a lost wake-up ends the bench with an error instead of hanging it


class _WakeupProbe:
    """A thread that blocks in ``wait()`` once per round, and this thread calling ``set_()``.

    A round: ``reset()``, start the waiter's wait, sleep _SETTLE, then time from just before
    ``set_()`` to the waiter's ``time.perf_counter_ns()`` right after its wait returned (the
    same clock in both threads).  ``samples`` holds the latencies in ns.
    """

    def __init__(
        self,
        wait: Callable[[], Any],
        set_: Callable[[], Any],
        reset: Callable[[], Any],
        expected: Any,
    ) -> None:
        self._set, self._reset, self._expected = set_, reset, expected
        self._go: queue.SimpleQueue[bool] = queue.SimpleQueue()
        self._answers: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.samples: list[int] = []
        self._thread = threading.Thread(
            target=self._waiter, args=(wait,), name="ws2core-bench-waiter", daemon=True
        )
        self._thread.start()

    def _waiter(self, wait: Callable[[], Any]) -> None:
        while self._go.get():
            self._answers.put(None)  # about to wait
            try:
                result = wait()
            except BaseException as exc:  # handed to the setter, which raises it
                self._answers.put(exc)
                continue
            self._answers.put((result, time.perf_counter_ns()))

    def _answer(self) -> Any:
        try:
            answer = self._answers.get(timeout=_ANSWER_TIMEOUT)
        except queue.Empty:
            raise RuntimeError(f"the waiter did not answer within {_ANSWER_TIMEOUT:g} s") from None
        if isinstance(answer, BaseException):
            raise answer
        return answer

    def round(self) -> None:
        """One timed wake-up; RuntimeError if the wait gives a wrong result or never returns."""
        self._reset()
        self._go.put(True)
        self._answer()
        time.sleep(_SETTLE)
        before = time.perf_counter_ns()
        self._set()
        result, running = self._answer()
        if result != self._expected:
            raise RuntimeError(f"the wait returned {result!r}, not {self._expected!r}")
        self.samples.append(running - before)

    def close(self) -> None:
        self._go.put(False)
        self._set()  # releases a waiter still blocked after a failed round
        self._thread.join(_ANSWER_TIMEOUT)

    def median_us(self) -> float:
        return statistics.median(self.samples) / 1000

    def p99_us(self) -> float:
        """The 99th percentile by nearest rank: a latency that was really observed."""
        ordered = sorted(self.samples)
        return ordered[max(0, -(-99 * len(ordered) // 100) - 1)] / 1000


def _wakeup_probe(core: ModuleType) -> _WakeupProbe:
    """The drop-in path: the waiter in WSAWaitForMultipleEvents(1, [e], FALSE, WSA_INFINITE,
    FALSE), the setter calling WPUSetEvent(e, err)."""
    up = ws2core.UpcallTable(core.HandleTable())
    err = core.Ref(0)
    e = up.WPUCreateEvent(err)
    events = [e]
    return _WakeupProbe(
        lambda: up.WSAWaitForMultipleEvents(1, events, False, ws2core.WSA_INFINITE, False),
        lambda: up.WPUSetEvent(e, err),
        lambda: up.WPUResetEvent(e, err),
        ws2core.WSA_WAIT_EVENT_0,
    )


def _wakeup_floor() -> _WakeupProbe:
    """No ws2core: the waiter blocks in SimpleQueue.get (what a wait blocks in), woken by put."""
    signal: queue.SimpleQueue[int] = queue.SimpleQueue()
    return _WakeupProbe(signal.get, lambda: signal.put(0), lambda: None, 0)


def wakeup_section(bench: Bench, rounds: int) -> None:
    """Section 7b: every probe interleaved round by round, then its table and JSON."""
    probes = {"floor": _wakeup_floor()}
    probes.update((label, _wakeup_probe(mod)) for label, mod in bench.present().items())
    try:
        # Interleaved, as the repeats above: a slow spell of the machine hits every row alike.
        for _ in range(rounds):
            for label, probe in probes.items():
                try:
                    probe.round()
                except RuntimeError as error:
                    bench.error(f"{HEADERS[label]} wake-up: {error}")
                    return
    finally:
        for probe in probes.values():
            probe.close()
    bench.prose(
        f"7b. Wake-up latency in µs, {rounds:,} rounds each (interleaved): from just before"
        " WPUSetEvent(e, err) in this thread to a thread blocked in"
        " WSAWaitForMultipleEvents(1, [e], FALSE, WSA_INFINITE, FALSE) running again"
    )
    bench.say()
    labels = {"floor": "floor (SimpleQueue.get woken by put)", CORE: "cython", TWIN_KEY: "twin"}
    width = len(labels["floor"])
    header = f"{'waiter':<{width}}  {'median':>7}  {'p99':>7}  {'max':>7}"
    bench.say(header)
    bench.say("-" * len(header))
    for label, probe in probes.items():
        bench.say(
            f"{labels[label]:<{width}}  {probe.median_us():>7.1f}"
            f"  {probe.p99_us():>7.1f}  {max(probe.samples) / 1000:>7.1f}"
        )
    if bench.modules[CORE] is None:
        bench.say(f"{'cython':<{width}}  {bench.core_state:>7}")
    bench.say()
    bench.prose(
        "Each round resets the event, lets the waiter start its wait and sleeps"
        f" {_SETTLE * 1e6:g} µs (untimed) so that it is blocked when the set comes. The"
        " floor is the same round with no ws2core: the handoff between two threads that"
        " every wait pays. p99 by nearest rank; on a busy or small machine the tail is the"
        " scheduler's."
    )
    bench.say()
    statistics_of: dict[str, Callable[[_WakeupProbe], float]] = {
        "median": _WakeupProbe.median_us,
        "p99": _WakeupProbe.p99_us,
        "max": lambda probe: max(probe.samples) / 1000,
    }
    bench.extra["wake-up latency"] = {
        stat: {
            "unit": "µs",
            "rounds": rounds,
            CORE: None,  # stays None without the Cython core
            **{label: round(value(probe), 2) for label, probe in probes.items()},
        }
        for stat, value in statistics_of.items()
    }
