"""``python -m ws2core``: a walk-through of the upcall table, and a micro-benchmark of the cores.

``demo`` plays a small provider against ``ws2core.UpcallTable`` and prints each upcall with
its result, so a reader sees the Windows calling convention (results, ``lpErrno``) at work.
``bench`` times the hot operations on the Cython core and on the pure-Python twin next to
a plain C call, so a reader can tell whether the extension is built and what it buys, and
then the wake-up latency of a wait: how soon a thread blocked in WSAWaitForMultipleEvents
runs again after another thread sets its event.
Both print ``ws2core.IMPLEMENTATION`` first: a failed extension build installs the twin
without an error (setup.py), and this is one of the places where that must show.
"""

from __future__ import annotations

import argparse
import ctypes
import importlib
import os
import platform
import queue
import statistics
import sys
import textwrap
import threading
import time
import timeit
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import ws2core

CYTHON_CORE = "ws2core._handles"
TWIN = "ws2core._handles_py"


def _pure_python_requested() -> bool:
    # Exactly "1", as in setup.py, ws2core/__init__.py and the test fixtures.
    return os.environ.get("WS2CORE_PURE_PYTHON", "") == "1"


def _core_line() -> str:
    """The first line(s) of every command: the version and the core in use, and why the twin."""
    line = f"ws2core {ws2core.__version__}, core: {ws2core.IMPLEMENTATION}"
    if ws2core.IMPLEMENTATION == "python":
        if _pure_python_requested():
            line += "\n  (the pure-Python twin, because WS2CORE_PURE_PYTHON=1 asks for it)"
        else:
            line += (
                "\n  (the pure-Python twin: the Cython core ws2core._handles is not built, so"
                " everything works,\n  only slower; build it with a C compiler present:"
                " python -m pip install -e .)"
            )
    return line


# --------------------------------------------------------------------------------------
# demo


@dataclass
class Connection:
    """What a provider keeps per socket; Python providers hand it to Ws2_32 as the context."""

    peer: str


class _FdSet64(ctypes.Structure):
    """A C ``fd_set`` as winsock2.h declares it on x64; ctypes inserts the 4 padding bytes."""

    _fields_ = [("fd_count", ctypes.c_uint), ("fd_array", ctypes.c_uint64 * ws2core.FD_SETSIZE)]


def _hex(h: int) -> str:
    return f"{h:#x}"


def _dump(data: bytes) -> str:
    """fd_count and padding, then one SOCKET per group, so the layout reads off the dump."""
    groups = [data[0:4].hex(), data[4:8].hex()]
    groups += [data[i : i + 8].hex() for i in range(8, len(data), 8)]
    return " ".join(groups)


def demo() -> int:
    """Walk a provider through the upcalls; every line but the handle values is deterministic."""
    print(_core_line())
    print()
    print("1. Ws2_32 hands the provider its upcall table (a fresh Ws2_32 instance):")
    up = ws2core.UpcallTable()
    print(f"     up = ws2core.UpcallTable()  ->  {up!r}")

    print()
    print("2. The provider creates sockets, each with its own state as the context:")
    err = ctypes.c_int(0)  # LPINT lpErrno, as a C provider would pass it
    print("     err = ctypes.c_int(0)")
    catalog_entry_id = 1001
    conns = [Connection("192.0.2.10:80"), Connection("192.0.2.11:443"), Connection("192.0.2.12:25")]
    socks = []
    for n, conn in enumerate(conns, 1):
        s = up.WPUCreateSocketHandle(catalog_entry_id, conn, err)
        socks.append(s)
        print(
            f"     s{n} = WPUCreateSocketHandle({catalog_entry_id}, {conn!r}, err)  ->  {_hex(s)}"
        )
    s1, s2, s3 = socks
    print(f"     err.value = {err.value}: lpErrno is written only when an upcall fails")

    print()
    print("3. Later calls find the state again from the handle alone:")
    ctx = ws2core.Ref()
    rc = up.WPUQuerySocketHandleContext(s2, ctx, err)
    print("     ctx = ws2core.Ref()")
    print(f"     WPUQuerySocketHandleContext(s2, ctx, err)  ->  {rc}")
    print(
        f"     ctx.value = {ctx.value!r}; the very object given at creation: {ctx.value is conns[1]}"
    )

    print()
    print("4. select() hands the provider an fd_set holding s1 and s3:")
    fds = ws2core.FdSet([s1, s3])
    print(f"     fds = ws2core.FdSet([s1, s3])  ->  {len(fds)} of {fds.capacity} entries used")
    print(f"     WPUFDIsSet(s1, fds)  ->  {up.WPUFDIsSet(s1, fds)}   (a member)")
    print(f"     WPUFDIsSet(s2, fds)  ->  {up.WPUFDIsSet(s2, fds)}   (not a member)")
    layout = bytes(memoryview(fds))
    print(
        f"     its Windows x64 layout, {len(layout)} bytes"
        " (u_int fd_count, 4 padding bytes, SOCKET fd_array[64], little-endian); the first 32:"
    )
    print(f"       {_dump(layout[:32])} ...")
    c_fds = _FdSet64.from_buffer_copy(layout)
    print(
        f"     a C fd_set (ctypes Structure, {ctypes.sizeof(c_fds)} bytes) reads the same:"
        f" WPUFDIsSet(s3, c_fds)  ->  {up.WPUFDIsSet(s3, c_fds)}"
    )

    print()
    print("5. An event: manual-reset, created non-signalled:")
    e = up.WPUCreateEvent(err)
    print(
        f"     e = WPUCreateEvent(err)  ->  {_hex(e)}; event_is_set(e) = {up.table.event_is_set(e)}"
    )
    rc = up.WPUSetEvent(e, err)
    print(
        f"     WPUSetEvent(e, err)      ->  {rc} (TRUE); event_is_set(e) = {up.table.event_is_set(e)}"
    )
    rc = up.WPUResetEvent(e, err)
    print(
        f"     WPUResetEvent(e, err)    ->  {rc} (TRUE); event_is_set(e) = {up.table.event_is_set(e)}"
    )

    print()
    print("6. Close everything (the contexts are the provider's again; the table lets them go):")
    for n, s in enumerate(socks, 1):
        print(f"     WPUCloseSocketHandle(s{n}, err)  ->  {up.WPUCloseSocketHandle(s, err)}")
    print(f"     WPUCloseEvent(e, err)  ->  {up.WPUCloseEvent(e, err)} (TRUE)")
    print(f"     {up.table!r}")

    print()
    print("7. A stale handle is refused, never taken for another socket:")
    ctx = ws2core.Ref("untouched")
    rc = up.WPUQuerySocketHandleContext(s2, ctx, err)
    name = "SOCKET_ERROR" if rc == ws2core.SOCKET_ERROR else "?"
    print(f"     WPUQuerySocketHandleContext(s2, ctx, err)  ->  {rc} ({name})")
    print(
        f"     err.value = {err.value} ({ws2core.errorname(err.value)}); ctx.value = {ctx.value!r}"
    )
    err.value = 0
    rc = up.WPUSetEvent(e, err)
    print(
        f"     WPUSetEvent(e, err)  ->  {rc} (FALSE);"
        f" err.value = {err.value} ({ws2core.errorname(err.value)})"
    )
    s4 = up.WPUCreateSocketHandle(catalog_entry_id, Connection("192.0.2.13:22"), err)
    print(
        f"     s4 = WPUCreateSocketHandle(...)  ->  {_hex(s4)}; one of s1..s3 again: {s4 in socks}"
        f" (a closed value stays dead for {ws2core.REUSE_DELAY:,} creations)"
    )
    try:
        up.table.context(s2)
    except ws2core.WinsockError as error:
        print(
            f"     the Pythonic table raises instead: up.table.context(s2)  ->  WinsockError: {error}"
        )
    up.WPUCloseSocketHandle(s4, err)
    return 0


# --------------------------------------------------------------------------------------
# bench


@dataclass
class _Case:
    """One timed operation: a statement over the names ``_fixture`` prepares for a core."""

    label: str
    stmt: str
    check: str  # evaluated once before timing: the operation must give the right answer


def _fixture(core: ModuleType) -> dict[str, Any]:
    """A table of 65 sockets, 64 of them in a full FdSet (and a C fd_set), the 65th outside;
    and 65 events, the 65th signalled: ``ev`` the first 64, ``ev_last`` 63 of them and the 65th.
    """
    table = core.HandleTable()
    obj = Connection("192.0.2.10:80")
    socks = [table.create_socket(7, obj) for _ in range(ws2core.FD_SETSIZE + 1)]
    fds = core.FdSet(socks[:-1])
    c_fds = _FdSet64.from_buffer_copy(bytes(memoryview(fds)))
    events = [table.create_event() for _ in range(ws2core.WSA_MAXIMUM_WAIT_EVENTS + 1)]
    table.set_event(events[-1])
    return {
        "t": table,
        "up": ws2core.UpcallTable(table),
        "ref": core.Ref(),  # the core's own Ref: the one it writes at C speed
        "err": core.Ref(),
        "obj": obj,
        "h": socks[0],
        "hit": socks[-2],  # the 64th entry: a hit that scans the whole set
        "miss": socks[-1],
        "fds": fds,
        "c_fds": c_fds,
        # Both scan all 64 entries: none signalled (a timeout), or only the last.
        "ev": events[:-1],
        "ev_last": events[:-2] + events[-1:],
        "FD_ISSET": core.FD_ISSET,
        "abs": abs,
        "_keep": socks,
    }


CASES = [
    _Case("context lookup", "t.context(h)", "t.context(h) is obj"),
    _Case(
        "drop-in lookup",
        "up.WPUQuerySocketHandleContext(h, ref, err)",
        "up.WPUQuerySocketHandleContext(h, ref, err) == 0 and ref.value is obj",
    ),
    _Case(
        "create+close",
        "t.close_socket(t.create_socket(7, obj))",
        "t.close_socket(t.create_socket(7, obj)) is None",
    ),
    _Case("FD_ISSET hit 64", "FD_ISSET(hit, fds)", "FD_ISSET(hit, fds) == 1"),
    _Case("FD_ISSET miss 64", "FD_ISSET(miss, fds)", "FD_ISSET(miss, fds) == 0"),
    _Case("FD_ISSET miss 64 ctypes", "FD_ISSET(miss, c_fds)", "FD_ISSET(miss, c_fds) == 0"),
    # A poll (timeout 0) of 64 events: the Pythonic wait, then the upcall (cEvents, lphEvents,
    # fWaitAll, dwTimeout, fAlertable) getting WSA_WAIT_TIMEOUT, then WSA_WAIT_EVENT_0 + 63.
    _Case("wait poll 64", "t.wait(ev, timeout=0)", "t.wait(ev, timeout=0) is None"),
    _Case(
        "WSAWait poll 64",
        "up.WSAWaitForMultipleEvents(64, ev, 0, 0, 0)",
        "up.WSAWaitForMultipleEvents(64, ev, 0, 0, 0) == 258",
    ),
    _Case(
        "WSAWait poll 64 last set",
        "up.WSAWaitForMultipleEvents(64, ev_last, 0, 0, 0)",
        "up.WSAWaitForMultipleEvents(64, ev_last, 0, 0, 0) == 63",
    ),
]
FLOOR = _Case("C-call floor", "abs(h)", "abs(h) == h")
# What the names in the statements are, for the legend under the table.
LEGEND = (
    "t: a HandleTable holding 65 sockets; h: one of them; up: an UpcallTable over t;"
    " ref, err: the core's own Ref; obj: h's context; fds: a full FdSet of 64 of the sockets,"
    " hit its 64th entry (a hit that scans the whole set), miss the 65th socket; c_fds: the"
    " same set copied into a ctypes fd_set Structure (read through the buffer protocol);"
    " ev: a list of 64 events of t, none signalled; ev_last: the same but its 64th is"
    " signalled (both polls scan all 64)."
)


def _timer(stmt: str, names: dict[str, Any]) -> timeit.Timer:
    """A timeit.Timer whose statement sees ``names`` as locals, as timeit's own setup makes them.

    The loop is timeit's: the statement is pasted into a for loop, so no wrapper call is
    timed, and the loop's own cost is in the floor too.
    """
    setup = "\n".join(f"{name} = _names[{name!r}]" for name in names)
    return timeit.Timer(stmt, setup, globals={"_names": names})


def _calibrate(timer: timeit.Timer, min_time: float) -> int:
    """The smallest loop count of 1, 2, 5, 10, 20, 50... lasting ``min_time`` (timeit's autorange)."""
    scale = 1
    while True:
        for step in (1, 2, 5):
            number = scale * step
            if timer.timeit(number) >= min_time:
                return number
        scale *= 10


@dataclass
class _Cell:
    timer: timeit.Timer
    number: int = 0
    times: list[float] = field(default_factory=list)

    @property
    def ns(self) -> float:
        # The median, not the best: on a shared machine the median is the figure a rerun
        # reproduces, and the project quotes medians.
        return statistics.median(self.times) / self.number * 1e9


def _load_core() -> tuple[ModuleType | None, str]:
    """The Cython core, or None and why it is not measured."""
    if _pure_python_requested():
        return None, "not measured: WS2CORE_PURE_PYTHON=1"
    try:
        return importlib.import_module(CYTHON_CORE), ""
    except ImportError as exc:
        return None, f"missing ({exc}); build it with: python -m pip install -e ."


# --------------------------------------------------------------------------------------
# bench: wake-up latency

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


def _bench_wakeup(modules: dict[str, ModuleType | None], rounds: int) -> int:
    """Print the wake-up latency, median and p99 in µs, for the floor and each core."""
    probes = {"floor": _wakeup_floor()}
    probes.update((label, _wakeup_probe(mod)) for label, mod in modules.items() if mod is not None)
    try:
        # Interleaved, as the repeats above: a slow spell of the machine hits every row alike.
        for _ in range(rounds):
            for label, probe in probes.items():
                try:
                    probe.round()
                except RuntimeError as error:
                    print(f"bench: {label} wake-up: {error}", file=sys.stderr)
                    return 1
    finally:
        for probe in probes.values():
            probe.close()
    print(
        textwrap.fill(
            f"wake-up latency in µs, {rounds:,} rounds each (interleaved): from just before"
            " WPUSetEvent(e, err) in this thread to a thread blocked in"
            " WSAWaitForMultipleEvents(1, [e], FALSE, WSA_INFINITE, FALSE) running again",
            100,
        )
    )
    print()
    labels = {"floor": "floor (SimpleQueue.get woken by put)"}
    width = max(len(labels["floor"]), 6)
    header = f"{'waiter':<{width}}  {'median':>7}  {'p99':>7}  {'max':>7}"
    print(header)
    print("-" * len(header))
    for label, probe in probes.items():
        print(
            f"{labels.get(label, label):<{width}}  {probe.median_us():>7.1f}"
            f"  {probe.p99_us():>7.1f}  {max(probe.samples) / 1000:>7.1f}"
        )
    if modules.get("cython") is None:
        state = "skipped" if _pure_python_requested() else "missing"
        print(f"{'cython':<{width}}  {state:>7}")
    print()
    print(
        textwrap.fill(
            "Each round resets the event, lets the waiter start its wait and sleeps"
            f" {_SETTLE * 1e6:g} µs (untimed) so that it is blocked when the set comes. The"
            " floor is the same round with no ws2core: the handoff between two threads that"
            " every wait pays. p99 by nearest rank; on a busy or small machine the tail is the"
            " scheduler's.",
            100,
        )
    )
    return 0


def bench(quick: bool, repeat: int | None) -> int:
    """Print ns per operation for the floor, the Cython core and the twin, and their ratios."""
    print(_core_line())
    print(
        f"Python {platform.python_version()} ({platform.python_implementation()}),"
        f" {platform.platform()}"
    )
    core, why_not = _load_core()
    twin = importlib.import_module(TWIN)
    if core is None:
        print(f"Cython core {CYTHON_CORE}: {why_not}")
    min_time = 0.02 if quick else 0.1
    repeats = repeat if repeat is not None else (3 if quick else 5)

    # One set of names per core, built once: every case of a core times the same table.
    modules = {"cython": core, "python": twin}
    names = {label: _fixture(mod) for label, mod in modules.items() if mod is not None}
    rows: list[tuple[_Case, dict[str, _Cell]]] = []
    floor_names = names["python"]
    rows.append((FLOOR, {"floor": _Cell(_timer(FLOOR.stmt, floor_names))}))
    for case in CASES:
        cells = {}
        for label, ns in names.items():
            if not eval(case.check, {}, dict(ns)):  # noqa: S307 (our own constant strings)
                print(f"bench: {label} core gives a wrong answer for {case.label}", file=sys.stderr)
                return 1
            cells[label] = _Cell(_timer(case.stmt, ns))
        rows.append((case, cells))

    all_cells = [cell for _, cells in rows for cell in cells.values()]
    for cell in all_cells:
        cell.number = _calibrate(cell.timer, min_time)
    # Interleave the repeats, so that a slow spell of the machine hits every column alike.
    for _ in range(repeats):
        for cell in all_cells:
            cell.times.append(cell.timer.timeit(cell.number))

    floor_cell = rows[0][1]["floor"]
    floor_ns = floor_cell.ns
    print(
        f"ns per operation, median of {repeats} repeats (interleaved, so a slow spell of the"
        f" machine hits every column alike);\na repeat times a loop of N runs of the statement"
        f" (N in the loops column, chosen so a repeat lasts at least {min_time * 1000:g} ms);"
        " gc off while timing, as timeit"
    )
    print()
    width = max(len(case.label) for case, _ in rows)
    stmt_width = max(len(case.stmt) for case, _ in rows)
    header = (
        f"{'operation':<{width}}  {'statement':<{stmt_width}}  {'cython':>7}  {'python':>7}"
        f"  {'twin/core':>9}  {'core/floor':>10}  loops (core/twin)"
    )
    print(header)
    print("-" * len(header))
    print(
        f"{FLOOR.label:<{width}}  {FLOOR.stmt:<{stmt_width}}  {floor_ns:>7.1f}  {floor_ns:>7.1f}"
        f"  {'':>9}  {1.0:>10.2f}  {floor_cell.number:,}"
    )
    for case, cells in rows[1:]:
        py = cells["python"]
        cy = cells.get("cython")
        cy_ns = (
            f"{cy.ns:>7.1f}" if cy else f"{'skipped' if _pure_python_requested() else 'missing':>7}"
        )
        speedup = f"{py.ns / cy.ns:>8.1f}x" if cy else f"{'-':>9}"
        floors = f"{cy.ns / floor_ns:>10.2f}" if cy else f"{'-':>10}"
        loops = f"{cy.number:,}/{py.number:,}" if cy else f"-/{py.number:,}"
        print(
            f"{case.label:<{width}}  {case.stmt:<{stmt_width}}  {cy_ns}  {py.ns:>7.1f}"
            f"  {speedup}  {floors}  {loops}"
        )
    print()
    print(textwrap.fill(LEGEND, 100))
    print(
        textwrap.fill(
            "twin/core: how many times slower the pure-Python twin is than the Cython core."
            " core/floor: the Cython core's time in units of the floor, one C call of one"
            " argument; the loop's own cost is in both.",
            100,
        )
    )
    print()
    return _bench_wakeup(modules, 300 if quick else 2000)


# --------------------------------------------------------------------------------------
# command line


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ws2core",
        description=(
            "ws2core emulates the Ws2_32 side of the Winsock 2 SPI upcall table"
            " (WSPUPCALLTABLE). Both commands first print the version and the core in use"
            " (cython, or python: the pure-Python twin, used when the extension was not"
            " built or WS2CORE_PURE_PYTHON=1)."
        ),
        epilog="examples: python -m ws2core demo; python -m ws2core bench --quick",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"ws2core {ws2core.__version__} (core: {ws2core.IMPLEMENTATION})",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "demo",
        help="walk a small provider through the upcalls and print each call and its result",
        description=(
            "Walk a small provider through ws2core.UpcallTable: create sockets with per-socket"
            " state as contexts, look the state up again, test fd_set membership (and show the"
            " 520-byte Windows layout), set and reset an event, close everything, and show a"
            " stale handle refused with WSAENOTSOCK. Only the handle values vary between runs."
        ),
    )
    bench_parser = commands.add_parser(
        "bench",
        help=(
            "print ns per operation for the Cython core, the pure-Python twin and a C-call"
            " floor, then the wake-up latency of a wait"
        ),
        description=(
            "Time context lookup (Pythonic and drop-in WPUQuerySocketHandleContext),"
            " create+close, FD_ISSET (hit and miss on a full 64-entry FdSet, miss on a"
            " ctypes fd_set) and a poll of 64 events (HandleTable.wait and"
            " WSAWaitForMultipleEvents with timeout 0) on the Cython core and the pure-Python"
            " twin, next to abs(h), the cheapest C call. Shows ns per operation, the speed-up"
            " (twin/core) and the core's time in floors. Each statement is timed in a plain"
            " loop, as timeit does. Then the wake-up latency, median and p99 in µs per core"
            " and for a bare thread handoff: WPUSetEvent in one thread to a thread blocked in"
            " WSAWaitForMultipleEvents running again (2,000 rounds, 300 with --quick)."
        ),
    )
    bench_parser.add_argument(
        "--quick",
        action="store_true",
        help="short runs (a repeat lasts 20 ms, not 100 ms; 3 repeats, not 5): noisier figures",
    )
    bench_parser.add_argument(
        "--repeat",
        type=_positive_int,
        metavar="N",
        help="repeats per figure, the median is shown (default 5, 3 with --quick)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the return value is the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            return demo()
        if args.command == "bench":
            return bench(args.quick, args.repeat)
    except BrokenPipeError:
        # The reader stopped reading (`| head`): not an error worth a traceback.  Point stdout
        # at /dev/null so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
