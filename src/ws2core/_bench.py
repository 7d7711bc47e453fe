"""``python -m ws2core bench``: ws2core's performance report, with its targets.

Every figure is given for the Cython core (``ws2core._handles``) and for the pure-Python twin
(``ws2core._handles_py``), beside a C-call floor, ``abs(h)``: the cheapest call CPython makes.
Each operation is a statement pasted into a plain loop, as ``timeit`` does (no wrapper call is
timed, and the loop's own cost is in the floor too); the figures are medians of repeats that
are interleaved, each repeat timing every cell of a table once in turn, so that a slow spell of
a shared machine hits every column alike.  Compare ratios within one run, never absolute
figures across machines.

The sections, each a table with its targets beside the figures (met: ``ok``, or ``MISSED``;
the exit status depends on errors only, never on timings):

1. the hot path: context lookup, the drop-in query and every hot upcall of ``UpcallTable``,
   and how the drop-in query's cost over ``t.context(h)`` splits;
2. FD_ISSET misses on full sets of 64, 1,024 and 16,384 entries, an ``FdSet`` and a ctypes
   ``fd_set``;
3. scaling: lookup, create+close and FD_ISSET in tables of 1,000, 100,000 and 1,000,000 live
   sockets, and lookups in random order over all of them;
4. memory per live handle (RSS delta in a fresh interpreter per core) and per empty table;
5. ``HandleTable()`` creation time;
6. batch operations against the same work done one call at a time;
7. polls of 64 events and the wake-up latency of a wait.

Run as ``python -m ws2core._bench memory MODULE KIND COUNT`` this module is the memory probe
the report starts in a fresh interpreter for each figure of section 4 (it prints one JSON line).
"""

from __future__ import annotations

import ctypes
import datetime
import gc
import importlib
import importlib.util
import itertools
import json
import os
import platform
import queue
import random
import statistics
import struct
import subprocess
import sys
import textwrap
import threading
import time
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType, SimpleNamespace
from typing import IO, Any

import ws2core
from ws2core import _implementation

CYTHON_CORE = "ws2core._handles"
TWIN = "ws2core._handles_py"
FORMAT = "ws2core-bench/1"  # the JSON's "format": benchmarks/check.py reads this version

# The report's keys for the two cores (JSON and code) and their column headers.
CORE, TWIN_KEY = "core", "twin"
HEADERS = {CORE: "cython", TWIN_KEY: "twin", "floor": "floor"}

_FD_SETSIZE = ws2core.FD_SETSIZE
_WIDTH = 100  # the width prose is wrapped to


pure_python_requested = _implementation.pure_python_requested


def load_core() -> tuple[ModuleType | None, str]:
    """The Cython core, or None and why it is not measured."""
    if pure_python_requested():
        return None, "not measured: WS2CORE_PURE_PYTHON=1"
    try:
        return importlib.import_module(CYTHON_CORE), ""
    except ImportError as exc:
        return None, f"missing ({exc}); build it with: python -m pip install -e ."


class _Context:
    """What a provider keeps per socket: the context the timed sockets hold."""

    __slots__ = ("peer",)

    def __init__(self, peer: str) -> None:
        self.peer = peer


def c_fd_set_type(capacity: int) -> type[ctypes.Structure]:
    """A C ``fd_set`` of ``capacity`` SOCKETs as winsock2.h lays it out on x64 (ctypes pads)."""
    fields = [("fd_count", ctypes.c_uint), ("fd_array", ctypes.c_uint64 * capacity)]
    return type(f"fd_set_{capacity}", (ctypes.Structure,), {"_fields_": fields})


def _packed_fd_set(members: list[int]) -> bytes:
    """The Windows x64 bytes of an fd_set holding ``members`` (full: capacity = len)."""
    return struct.pack(f"<II{len(members)}Q", len(members), 0, *members)


# --------------------------------------------------------------------------------------
# timing: statements pasted into a loop, as timeit does

# timeit's template, with two additions: the loop may run in chunks, each with its own
# untimed setup and teardown (to close what a timed create made, or to make what a timed close
# closes), and ``_x`` is the loop variable, so a statement can walk a list (``_it = hs``).
_TEMPLATE = """
def inner(_number, _chunk, _timer, _repeat, _names):
{unpack}
    _total = 0.0
    while _number > 0:
        _k = _number if not _chunk or _chunk > _number else _chunk
        _it = _repeat(None, _k)
{setup}
        _t0 = _timer()
        for _x in _it:
{stmt}
        _t1 = _timer()
{teardown}
        _total += _t1 - _t0
        _number -= _k
    return _total
"""


def _indent(code: str, spaces: int) -> str:
    return textwrap.indent(code, " " * spaces) if code.strip() else " " * spaces + "pass"


class _Timer:
    """``timeit.Timer`` for a statement whose names are locals of the timing function.

    ``setup`` runs before and ``teardown`` after each chunk of ``chunk`` runs (0: one chunk),
    both untimed; ``setup`` may replace ``_it``, the iterable the loop walks (``_k`` items).
    """

    def __init__(
        self, stmt: str, names: dict[str, Any], setup: str = "", teardown: str = "", chunk: int = 0
    ) -> None:
        unpack = "\n".join(f"    {name} = _names[{name!r}]" for name in names) or "    pass"
        source = _TEMPLATE.format(
            unpack=unpack,
            setup=_indent(setup, 8),
            stmt=_indent(stmt, 12),
            teardown=_indent(teardown, 8),
        )
        namespace: dict[str, Any] = {}
        exec(compile(source, "<ws2core bench>", "exec"), namespace)  # noqa: S102 (our own text)
        self._inner: Callable[..., float] = namespace["inner"]
        self._names = names
        self.chunk = chunk

    def timeit(self, number: int) -> float:
        """Seconds for ``number`` runs of the statement, gc off as timeit has it."""
        enabled = gc.isenabled()
        gc.disable()
        try:
            return float(
                self._inner(number, self.chunk, time.perf_counter, itertools.repeat, self._names)
            )
        finally:
            if enabled:
                gc.enable()


@dataclass
class _Cell:
    """One figure: a timer, how many operations one run of its statement is, its samples."""

    timer: _Timer
    per: int = 1
    number: int = 0
    times: list[float] = field(default_factory=list)
    error: str = ""

    @property
    def ns(self) -> float | None:
        """ns per operation: the median repeat over its runs, or None if the cell failed."""
        if self.error or not self.times:
            return None
        # The median, not the best: on a shared machine the median is what a rerun reproduces.
        return statistics.median(self.times) / (self.number * self.per) * 1e9


def _calibrate(timer: _Timer, min_time: float) -> int:
    """A run count (a whole number of chunks) for which one repeat lasts about ``min_time``."""
    unit = timer.chunk or 1
    number = unit
    while True:
        elapsed = timer.timeit(number)
        if elapsed >= min_time / 5:
            break
        # Grow by up to 10x at a time, aiming past min_time / 5 with the next try.
        number *= max(2, min(10, int(min_time / 5 / max(elapsed, 1e-9)) + 1))
    chunks = max(1, round(number / unit * min_time / elapsed))
    return chunks * unit


def _run_cells(cells: list[_Cell], min_time: float, repeats: int) -> list[str]:
    """Calibrate every cell, then time them in interleaved repeats; the errors met."""
    errors = []
    live = [cell for cell in cells if not cell.error]
    for cell in live:
        try:
            cell.number = _calibrate(cell.timer, min_time)
        except Exception as exc:  # a core that fails in a loop: reported, the rest goes on
            cell.error = f"{type(exc).__name__}: {exc}"
            errors.append(cell.error)
    live = [cell for cell in live if not cell.error]
    for _ in range(repeats):
        for cell in live:
            if cell.error:
                continue
            try:
                cell.times.append(cell.timer.timeit(cell.number))
            except Exception as exc:
                cell.error = f"{type(exc).__name__}: {exc}"
                errors.append(cell.error)
    return errors


# --------------------------------------------------------------------------------------
# the report: sections of rows, each row its figures, ratios and targets


@dataclass
class _Target:
    """``metric op threshold``: metric names a figure or a ratio of the row."""

    metric: str
    op: str  # "<=" or ">="
    threshold: float
    shown: str = ""  # how the threshold reads (1/3 rather than 0.333333)

    def text(self) -> str:
        sign = "≤" if self.op == "<=" else "≥"
        return f"{self.metric} {sign} {self.shown or format(self.threshold, 'g')}"

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value <= self.threshold if self.op == "<=" else value >= self.threshold


@dataclass
class _Row:
    case: str
    stmt: str = ""
    figures: dict[str, float | None] = field(default_factory=dict)
    ratios: dict[str, float | None] = field(default_factory=dict)
    targets: list[_Target] = field(default_factory=list)
    note: str = ""  # shown instead of a missing figure: "n/a", "error" ...
    info: dict[str, Any] = field(default_factory=dict)  # more for the JSON (loops, live ...)

    def value(self, metric: str) -> float | None:
        if metric in self.figures:
            return self.figures[metric]
        return self.ratios.get(metric)

    def verdicts(self) -> list[tuple[_Target, float | None, bool | None]]:
        return [(t, self.value(t.metric), t.met(self.value(t.metric))) for t in self.targets]

    def met(self) -> bool | None:
        results = [met for _, _, met in self.verdicts()]
        if not results or None in results:
            return None
        return all(results)


@dataclass
class _Section:
    key: str  # the JSON key
    title: str
    unit: str  # of the figures: "ns", "µs", "bytes"
    figure_columns: list[str]
    ratio_columns: list[str]
    rows: list[_Row] = field(default_factory=list)
    legend: str = ""
    show_stmt: bool = True


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def _difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _format_figure(value: float, unit: str) -> str:
    if unit == "µs":
        return f"{value:,.2f}" if value < 1000 else f"{value:,.0f}"
    if unit == "bytes":
        return f"{value:,.0f}" if value >= 1000 else f"{value:.2f}"
    return f"{value:,.1f}" if abs(value) < 10_000 else f"{value:,.0f}"


def _format_ratio(metric: str, value: float) -> str:
    if metric.startswith("twin/core"):
        return f"{value:,.1f}x" if value < 1000 else f"{value:,.0f}x"
    if value < 0.1:
        return f"{value:.3f}"
    return f"{value:.2f}" if value < 100 else f"{value:,.0f}"


# --------------------------------------------------------------------------------------
# the cases


@dataclass
class _Case:
    """A timed statement over the names a section's fixture prepares for each core."""

    label: str
    stmt: str
    check: str  # evaluated once before timing: the operation must give the right answer
    targets: list[_Target] = field(default_factory=list)
    setup: str = ""
    teardown: str = ""
    chunk: int = 0
    per: int = 1

    def timer(self, names: dict[str, Any]) -> _Timer:
        return _Timer(self.stmt, names, self.setup, self.teardown, self.chunk)


FLOOR = _Case("C-call floor", "abs(h)", "abs(h) == h")

_AT_LEAST_3X = [_Target("twin/core", ">=", 3)]
_AT_LEAST_5X = [_Target("twin/core", ">=", 5)]

# Creating in a timed loop, then closing untimed (every 1,000), and the other way round: each
# chunk opens with an empty spare table ``tc``, so neither figure grows the table.
_CLOSE_ALL_OF_TC = "for _y in list(tc):\n    upc.WPUCloseSocketHandle(_y, err)"
_CREATE_K_IN_TC = (
    "_it = []\n_append = _it.append\n_create = upc.WPUCreateSocketHandle\n"
    "for _y in _repeat(None, _k):\n    _append(_create(7, obj, err))"
)
_CREATE_CLOSE_TC_CHECK = (
    "upc.WPUCloseSocketHandle(upc.WPUCreateSocketHandle(7, obj, err), err) == 0 and len(tc) == 0"
)

HOT_CASES = [
    _Case(
        "context lookup", "t.context(h)", "t.context(h) is obj",
        [_Target("core/floor", "<=", 1.3)],
    ),
    _Case(
        "drop-in query (core's Ref)",
        "up.WPUQuerySocketHandleContext(h, ref, err)",
        "up.WPUQuerySocketHandleContext(h, ref, err) == 0 and ref.value is obj",
        [_Target("core/floor", "<=", 2.5), _Target("twin/core", ">=", 3)],
    ),
    _Case(
        "drop-in query (plain .value)",
        "up.WPUQuerySocketHandleContext(h, box, err)",
        "up.WPUQuerySocketHandleContext(h, box, err) == 0 and box.value is obj",
    ),
    _Case(
        "drop-in query (c_size_t)",
        "up.WPUQuerySocketHandleContext(hi, c_ctx, err)",
        "up.WPUQuerySocketHandleContext(hi, c_ctx, err) == 0 and c_ctx.value == 12345",
    ),
    _Case(
        "create+close (Pythonic)",
        "t.close_socket(t.create_socket(7, obj))",
        "t.close_socket(t.create_socket(7, obj)) is None",
    ),
    _Case(
        "WPUCreate+WPUCloseSocketHandle",
        "up.WPUCloseSocketHandle(up.WPUCreateSocketHandle(7, obj, err), err)",
        "up.WPUCloseSocketHandle(up.WPUCreateSocketHandle(7, obj, err), err) == 0",
        _AT_LEAST_3X,
    ),
    _Case(
        "WPUCreateSocketHandle alone",
        "upc.WPUCreateSocketHandle(7, obj, err)",
        _CREATE_CLOSE_TC_CHECK,
        _AT_LEAST_3X,
        teardown=_CLOSE_ALL_OF_TC,
        chunk=1000,
    ),
    _Case(
        "WPUCloseSocketHandle alone",
        "upc.WPUCloseSocketHandle(_x, err)",
        _CREATE_CLOSE_TC_CHECK,
        _AT_LEAST_3X,
        setup=_CREATE_K_IN_TC,
        chunk=1000,
    ),
    _Case("WPUFDIsSet miss 64", "up.WPUFDIsSet(miss, fds)", "up.WPUFDIsSet(miss, fds) == 0",
          _AT_LEAST_5X),
    _Case(
        "WPUFDIsSet miss 64 ctypes", "up.WPUFDIsSet(miss, c_fds)",
        "up.WPUFDIsSet(miss, c_fds) == 0", _AT_LEAST_5X,
    ),
]
HOT_LEGEND = (
    "t: a HandleTable holding 65 sockets; h: one of them, obj its context; up: an UpcallTable"
    " over t; ref, err: the core's own Ref; box: a SimpleNamespace with a .value (any object"
    " with a writable .value is an out-parameter); c_ctx: a ctypes.c_size_t, hi a socket whose"
    " context is the int 12345; fds: a full FdSet of 64 of the sockets, miss the 65th; c_fds:"
    " the same set copied into a ctypes fd_set Structure. 'alone': upc is an UpcallTable over a"
    " spare empty table; create is timed in loops of 1,000 each followed by closing them"
    " untimed, close is timed over 1,000 sockets created untimed before each loop."
    " twin/core: how many times slower the twin is; core/floor: the core's time in floors (the"
    " loop's own cost is in both). Target: the core's figure."
)

POLL_CASES = [
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


def _hot_fixture(core: ModuleType) -> dict[str, Any]:
    """The names of sections 1, 5 and 7 for one core (see HOT_LEGEND)."""
    table = core.HandleTable()
    obj = _Context("192.0.2.10:80")
    socks = [table.create_socket(7, obj) for _ in range(_FD_SETSIZE + 1)]
    fds = core.FdSet(socks[:-1])
    c_fds = c_fd_set_type(_FD_SETSIZE).from_buffer_copy(bytes(memoryview(fds)))
    events = [table.create_event() for _ in range(ws2core.WSA_MAXIMUM_WAIT_EVENTS + 1)]
    table.set_event(events[-1])
    spare = core.HandleTable()
    return {
        "t": table,
        "up": ws2core.UpcallTable(table),
        "ref": core.Ref(),  # the core's own Ref: the one it writes at C speed
        "err": core.Ref(),
        "box": SimpleNamespace(value=None),
        "c_ctx": ctypes.c_size_t(0),
        "obj": obj,
        "h": socks[0],
        "hi": table.create_socket(7, 12345),
        "hit": socks[-2],  # the 64th entry: a hit that scans the whole set
        "miss": socks[-1],
        "fds": fds,
        "c_fds": c_fds,
        # Both scan all 64 entries: none signalled (a timeout), or only the last.
        "ev": events[:-1],
        "ev_last": events[:-2] + events[-1:],
        "tc": spare,
        "upc": ws2core.UpcallTable(spare),
        "HandleTable": core.HandleTable,
        "FD_ISSET": core.FD_ISSET,
        "abs": abs,
        "_keep": socks,
    }


FD_SIZES = (64, 1024, 16384)


def _fd_fixture(core: ModuleType) -> dict[str, Any]:
    """Per size n: fds<n> a full FdSet of n live sockets, c_fds<n> a ctypes copy; miss: not in any."""
    table = core.HandleTable()
    socks = [table.create_socket(7) for _ in range(max(FD_SIZES) + 1)]
    names: dict[str, Any] = {
        "FD_ISSET": core.FD_ISSET, "abs": abs, "h": socks[0], "miss": socks[-1],
        "hit": socks[_FD_SETSIZE - 1], "_keep": (table, socks),
    }
    for n in FD_SIZES:
        packed = _packed_fd_set(socks[:n])
        names[f"fds{n}"] = core.FdSet.from_buffer(packed)  # one copy: no n adds on the twin
        names[f"c_fds{n}"] = c_fd_set_type(n).from_buffer_copy(packed)
    return names


def _fd_cases() -> list[_Case]:
    cases = [_Case("FD_ISSET hit 64", "FD_ISSET(hit, fds64)", "FD_ISSET(hit, fds64) == 1")]
    for n in FD_SIZES:
        targets = _AT_LEAST_5X if n == _FD_SETSIZE else []
        for suffix, name in (("", f"fds{n}"), (" ctypes", f"c_fds{n}")):
            cases.append(
                _Case(
                    f"FD_ISSET miss {n:,}{suffix}",
                    f"FD_ISSET(miss, {name})",
                    f"FD_ISSET(miss, {name}) == 0 and FD_ISSET(h, {name}) == 1",
                    targets,
                )
            )
    return cases


FD_LEGEND = (
    "fds<n>: a full FdSet of n live sockets; c_fds<n>: the same fd_set copied into a ctypes"
    " Structure (fd_count and a c_uint64 array, read through the buffer protocol); miss: a"
    " socket in none of them, so every call scans all n entries; hit: the 64th entry of fds64."
)


# --------------------------------------------------------------------------------------
# the bench


class _Bench:
    """One run of the report: its settings, its output stream, the sections and errors so far."""

    def __init__(
        self, quick: bool, repeats: int, out: IO[str], header: str
    ) -> None:
        self.quick = quick
        self.repeats = repeats
        self.min_time = 0.02 if quick else 0.1
        self.out = out
        self.header = header
        core, self.why_not = load_core()
        self.modules: dict[str, ModuleType | None] = {
            CORE: core, TWIN_KEY: importlib.import_module(TWIN)
        }
        self.core_state = "skipped" if pure_python_requested() else "missing"
        self.sections: list[_Section] = []
        self.errors: list[str] = []
        self.tiers = (1_000, 100_000, 1_000_000)
        self.walk_limit = 100_000 if quick else 1_000_000  # the random walk's largest tier
        self.batch = 2_000 if quick else 10_000
        self.memory_count = 200_000 if quick else 1_000_000
        self.extra: dict[str, Any] = {}  # JSON parts beyond the sections (wake-up latency)
        self.memory_method = ""
        self.elapsed = 0.0

    # --- output

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def prose(self, text: str) -> None:
        self.say(textwrap.fill(text, _WIDTH))

    def error(self, message: str) -> None:
        self.errors.append(message)
        print(f"bench: {message}", file=sys.stderr, flush=True)

    def present(self) -> dict[str, ModuleType]:
        return {key: mod for key, mod in self.modules.items() if mod is not None}

    # --- a table

    def print_section(self, section: _Section) -> None:
        self.sections.append(section)
        self.say(section.title)
        self.say()
        columns: list[tuple[str, list[str], str]] = []  # header, cells, alignment
        columns.append(("case", [row.case for row in section.rows], "<"))
        if section.show_stmt:
            columns.append(("statement", [row.stmt for row in section.rows], "<"))
        for key in section.figure_columns:
            cells = []
            for row in section.rows:
                value = row.figures.get(key)
                if value is not None:
                    cells.append(_format_figure(value, section.unit))
                elif list(row.figures) == ["floor"] and row.figures["floor"] is not None:
                    # The floor's own row, where no column is the floor's: it goes under each.
                    cells.append(_format_figure(row.figures["floor"], section.unit))
                elif key not in row.figures:
                    cells.append("")
                elif row.note:
                    cells.append(row.note)
                elif key.startswith(CORE) and self.modules[CORE] is None:
                    cells.append(self.core_state)
                else:
                    cells.append("n/a")
            header = " ".join(HEADERS.get(part, part) for part in key.split(" "))
            columns.append((header, cells, ">"))
        for metric in section.ratio_columns:
            cells = []
            for row in section.rows:
                value = row.ratios.get(metric)
                cells.append("" if value is None else _format_ratio(metric, value))
            columns.append((metric, cells, ">"))
        columns.append(("target", [", ".join(t.text() for t in row.targets) for row in section.rows], "<"))
        marks = []
        for row in section.rows:
            met = row.met()
            if not row.targets:
                marks.append("")
            elif met is None:
                marks.append("n/a")
            elif met:
                marks.append("ok")
            else:
                missed = [t.metric for t, _, m in row.verdicts() if m is False]
                marks.append("MISSED" if len(row.targets) == 1 else f"MISSED ({', '.join(missed)})")
        columns.append(("ok", marks, "<"))
        widths = [max(len(header), *(len(cell) for cell in cells)) for header, cells, _ in columns]
        line = "  ".join(
            f"{header:{align}{width}}" for (header, _, align), width in zip(columns, widths)
        ).rstrip()
        self.say(line)
        self.say("-" * len(line))
        for i in range(len(section.rows)):
            self.say(
                "  ".join(
                    f"{cells[i]:{align}{width}}" for (_, cells, align), width in zip(columns, widths)
                ).rstrip()
            )
        self.say()
        if section.legend:
            self.prose(section.legend)
            self.say()

    # --- timing a table of cases over per-core names

    def _checked_cell(
        self, case: _Case, names: dict[str, Any], label: str, section: str
    ) -> _Cell:
        cell = _Cell(case.timer(names), per=case.per)
        try:
            ok = eval(case.check, dict(names))  # noqa: S307 (our own constant strings)
        except Exception as exc:
            ok, why = False, f"raises {type(exc).__name__}: {exc}"
        else:
            why = "gives a wrong answer"
        if not ok:
            cell.error = why
            self.error(f"{section}: the {HEADERS[label]} core {why} in {case.label} ({case.check})")
        return cell

    def time_cases(
        self,
        section: str,
        cases: list[_Case],
        names: dict[str, dict[str, Any]],
        floor: _Case = FLOOR,
        floor_names: dict[str, Any] | None = None,
        extra: tuple[_Cell, ...] = (),
    ) -> tuple[_Cell, dict[str, dict[str, _Cell]]]:
        """Check every case on each core, then time all (the floor and ``extra`` too) interleaved."""
        floor_cell = self._checked_cell(floor, floor_names or names[TWIN_KEY], TWIN_KEY, section)
        cells: dict[str, dict[str, _Cell]] = {}
        for case in cases:
            cells[case.label] = {
                label: self._checked_cell(case, ns, label, section) for label, ns in names.items()
            }
        everything = [floor_cell, *extra]
        everything += [cell for row in cells.values() for cell in row.values()]
        for message in _run_cells(everything, self.min_time, self.repeats):
            self.error(f"{section}: {message}")
        return floor_cell, cells

    def simple_rows(
        self,
        cases: list[_Case],
        floor_cell: _Cell,
        cells: dict[str, dict[str, _Cell]],
        scale: float = 1.0,
        floor_case: _Case = FLOOR,
    ) -> list[_Row]:
        """Rows of core, twin and floor figures with twin/core and core/floor."""
        floor = None if floor_cell.ns is None else floor_cell.ns * scale
        rows = [
            _Row(
                floor_case.label, floor_case.stmt, {"floor": floor},
                info={"loops": {"floor": floor_cell.number}},
            )
        ]
        for case in cases:
            got = cells[case.label]
            core = got.get(CORE)
            twin = got[TWIN_KEY]
            core_ns = None if core is None or core.ns is None else core.ns * scale
            twin_ns = None if twin.ns is None else twin.ns * scale
            failed = any(cell.error for cell in got.values())
            rows.append(
                _Row(
                    case.label,
                    case.stmt,
                    {CORE: core_ns, TWIN_KEY: twin_ns, "floor": floor},
                    {"twin/core": _ratio(twin_ns, core_ns), "core/floor": _ratio(core_ns, floor)},
                    case.targets,
                    note="error" if failed else "",
                    info={"loops": {label: cell.number for label, cell in got.items()}},
                )
            )
        return rows

    # --- the sections

    def hot_path(self, names: dict[str, dict[str, Any]]) -> None:
        floor_cell, cells = self.time_cases("hot path", HOT_CASES, names)
        rows = self.simple_rows(HOT_CASES, floor_cell, cells)
        self.print_section(
            _Section(
                "hot path",
                "1. The hot path: ns per operation",
                "ns",
                [CORE, TWIN_KEY],
                ["twin/core", "core/floor"],
                rows,
                HOT_LEGEND,
            )
        )
        by_case = {row.case: row for row in rows}
        context = by_case["context lookup"]
        query = by_case["drop-in query (core's Ref)"]
        parts = [
            ("query(Ref) - t.context(h)", query, context),
            ("query(.value) - query(Ref)", by_case["drop-in query (plain .value)"], query),
            ("query(c_size_t) - query(Ref)", by_case["drop-in query (c_size_t)"], query),
        ]
        breakdown = []
        for label, a, b in parts:
            core_ns = _difference(a.figures.get(CORE), b.figures.get(CORE))
            twin_ns = _difference(a.figures.get(TWIN_KEY), b.figures.get(TWIN_KEY))
            floor = a.figures.get("floor")
            breakdown.append(
                _Row(
                    label, f"{a.stmt} - {b.stmt}", {CORE: core_ns, TWIN_KEY: twin_ns},
                    {"core/floor": _ratio(core_ns, floor)},
                )
            )
        self.print_section(
            _Section(
                "drop-in breakdown",
                "1b. Where the drop-in query's time goes: differences of rows of table 1, ns",
                "ns",
                [CORE, TWIN_KEY],
                ["core/floor"],
                breakdown,
                "query(Ref) - t.context(h): what the Windows-shaped call costs over the Pythonic"
                " one when lpContext is the core's own Ref: parsing 3 positional arguments instead"
                " of 1, checking the two out-parameters' types, the store into the Ref (one"
                " pointer write) and the int result. query(.value) - query(Ref): what a plain"
                " object's .value (a SimpleNamespace: the out-parameter check and a Python"
                " attribute store) costs over the Ref. query(c_size_t) - query(Ref): the same"
                " for a ctypes c_size_t (the check that the context fits, then the ctypes store).",
                show_stmt=False,
            )
        )

    def fd_sizes(self) -> None:
        names = {label: _fd_fixture(mod) for label, mod in self.present().items()}
        cases = _fd_cases()
        floor_cell, cells = self.time_cases("FD_ISSET", cases, names)
        self.print_section(
            _Section(
                "FD_ISSET",
                "2. FD_ISSET misses on full sets: ns per call",
                "ns",
                [CORE, TWIN_KEY],
                ["twin/core", "core/floor"],
                self.simple_rows(cases, floor_cell, cells),
                FD_LEGEND,
            )
        )

    def creation(self, names: dict[str, dict[str, Any]]) -> None:
        case = _Case(
            "HandleTable()", "HandleTable()", "len(HandleTable()) == 0",
            [_Target(CORE, "<=", 5, "5 µs")],
        )
        floor_cell, cells = self.time_cases("HandleTable()", [case], names)
        rows = self.simple_rows([case], floor_cell, cells, scale=1e-3)
        self.print_section(
            _Section(
                "HandleTable()",
                "5. HandleTable() creation: µs per table (created and dropped in the loop)",
                "µs",
                [CORE, TWIN_KEY],
                ["twin/core", "core/floor"],
                rows,
            )
        )

    def polls(self, names: dict[str, dict[str, Any]]) -> None:
        floor_cell, cells = self.time_cases("waits", POLL_CASES, names)
        self.print_section(
            _Section(
                "waits",
                "7. Polls of 64 events (timeout 0): ns per call",
                "ns",
                [CORE, TWIN_KEY],
                ["twin/core", "core/floor"],
                self.simple_rows(POLL_CASES, floor_cell, cells),
                "t, up: as in table 1; ev: 64 events of t, none signalled; ev_last: the same"
                " but the 64th signalled (both polls scan all 64).",
            )
        )

    # --- 3. scaling

    SCALING_OPS = (
        # (label, statement, check, chunked walk of all live handles)
        ("lookup", "t.context(h0)", "t.context(h0) is obj", False),
        ("create+close", "t.close_socket(t.create_socket(7, obj))",
         "t.close_socket(t.create_socket(7, obj)) is None", False),
        ("FD_ISSET miss 64", "FD_ISSET(miss, fds)", "FD_ISSET(miss, fds) == 0", False),
        ("random-order lookup", "ctx(_x)",
         "all(ctx(x) is obj for x in hs[:1000]) and len(hs) == len(t)", True),
    )

    @staticmethod
    def _tier_fixture(core: ModuleType, live: int) -> dict[str, Any]:
        table = core.HandleTable()
        obj = _Context("192.0.2.10:80")
        create = table.create_socket
        hs = [create(7, obj) for _ in range(live)]
        names = {
            "t": table,
            "obj": obj,
            "h0": hs[0],  # the first socket of every tier: the same handle value throughout
            "fds": core.FdSet(hs[1 : 1 + _FD_SETSIZE]),
            "miss": hs[1 + _FD_SETSIZE],
            "ctx": table.context,
            "FD_ISSET": core.FD_ISSET,
            "abs": abs,
        }
        random.Random(live).shuffle(hs)
        names["hs"] = hs
        return names

    def scaling(self) -> None:
        # Every tier is built first and all their cells are timed in one interleaved run: the
        # ratios between tiers then come from interleaved repeats, as every other ratio does.
        fixtures: dict[int, dict[str, dict[str, Any]]] = {}
        built: dict[int, float] = {}
        for live in self.tiers:
            started = time.perf_counter()
            fixtures[live] = {
                label: self._tier_fixture(mod, live) for label, mod in self.present().items()
            }
            built[live] = time.perf_counter() - started
        floors: dict[int, dict[str, _Cell]] = {}
        cells: dict[tuple[int, str], dict[str, _Cell]] = {}
        stmts: dict[str, str] = {}
        for live, names in fixtures.items():
            floor_names = names[TWIN_KEY]  # the twin is always there
            floors[live] = {"h0": self._checked_cell(FLOOR_H0, floor_names, TWIN_KEY, "scaling")}
            walk_here = live <= self.walk_limit
            if walk_here:
                loop_floor = _Case("loop floor", "abs(_x)", "all(abs(x) == x for x in hs)",
                                   setup="_it = hs", chunk=live)
                floors[live]["walk"] = self._checked_cell(loop_floor, floor_names, TWIN_KEY,
                                                          "scaling")
            for label, stmt, check, walk in self.SCALING_OPS:
                if walk and not walk_here:
                    continue
                case = _Case(label, stmt, check, setup="_it = hs" if walk else "",
                             chunk=live if walk else 0)
                stmts[label] = ("for _x in hs: " if walk else "") + stmt
                cells[live, label] = {
                    key: self._checked_cell(case, ns, key, "scaling") for key, ns in names.items()
                }
        everything = [cell for tier in floors.values() for cell in tier.values()]
        everything += [cell for got in cells.values() for cell in got.values()]
        for message in _run_cells(everything, self.min_time, self.repeats):
            self.error(f"scaling: {message}")
        del fixtures
        gc.collect()
        ordered: list[_Row] = []
        for label, _, _, walk in self.SCALING_OPS:
            base: _Row | None = None
            for live in self.tiers:
                got = cells.get((live, label))
                if got is None:
                    continue
                floor = floors[live]["walk" if walk else "h0"].ns
                core = got.get(CORE)
                core_ns = None if core is None else core.ns
                twin_ns = got[TWIN_KEY].ns
                row = _Row(
                    f"{label}, {_tier_name(live)} live",
                    stmts[label],
                    {CORE: core_ns, TWIN_KEY: twin_ns, "floor": floor},
                    {"twin/core": _ratio(twin_ns, core_ns), "core/floor": _ratio(core_ns, floor)},
                    note="error" if any(cell.error for cell in got.values()) else "",
                    info={
                        "live": live,
                        "operation": label,
                        "build_s": round(built[live], 3),
                        "loops": {key: cell.number for key, cell in got.items()},
                    },
                )
                base = base or row
                for key in (CORE, TWIN_KEY):
                    row.ratios[f"{key}/1k"] = _ratio(row.figures[key], base.figures[key])
                if live == 1_000_000 and not walk:
                    row.targets = [_Target("core/1k", "<=", 1.3)]
                ordered.append(row)
        if 1_000_000 in self.tiers and self.walk_limit < 1_000_000:
            note = (
                " --quick: the random-order walk over all 1,000,000 handles is left out (a"
                " repeat there lasts ~1 s on the twin); run without --quick for it."
            )
        else:
            note = ""
        self.print_section(
            _Section(
                "scaling",
                "3. Scaling: ns per operation in tables of N live sockets",
                "ns",
                [CORE, TWIN_KEY, "floor"],
                ["twin/core", "core/floor", "core/1k", "twin/1k"],
                ordered,
                "Each tier is a fresh table per core holding N live sockets (and nothing else),"
                " all tiers built first and timed in one interleaved run; h0 is the first socket"
                " of each, the same handle value in every tier; fds a full FdSet of 64 of its"
                " sockets, miss another. random-order lookup walks a shuffled list hs of all N"
                " live handles (for _x in hs: ctx(_x), ctx = t.context; per handle), its floor"
                " the same walk calling abs (which also pays for reading the scattered int"
                " objects). core/1k, twin/1k: the figure over the same operation's in the 1,000"
                " tier. Target: the fixed-handle operations' 1M figure within 1.3x of their 1k"
                " figure." + note,
            )
        )

    # --- 6. batches

    def batches(self) -> None:
        n = self.batch
        names: dict[str, dict[str, Any]] = {}
        for label, mod in self.present().items():
            table = mod.HandleTable()
            ctxs = [_Context(f"192.0.2.{i % 256}:{i}") for i in range(n)]
            hs = [table.create_socket(7, c) for c in ctxs]
            names[label] = {
                "t": table, "ctxs": ctxs, "hs": hs, "hsa": array("Q", hs), "n": n,
                "FdSet": mod.FdSet, "fds64": mod.FdSet(hs[:_FD_SETSIZE]),
                "ctx": table.context, "create": table.create_socket, "close": table.close_socket,
                "abs": abs, "expected64": [True] * _FD_SETSIZE + [False] * (n - _FD_SETSIZE),
            }
        ops = [
            # (label, what the batch needs, batch, batch check, single, single setup, single check)
            (
                "create+close",
                ("HandleTable", "create_sockets", "close_sockets"),
                "t.close_sockets(t.create_sockets(7, ctxs))",
                "t.close_sockets(t.create_sockets(7, ctxs)) == [] and len(t) == n",
                "close(create(7, _x))",
                "_it = ctxs",
                "close(create(7, ctxs[0])) is None and len(t) == n",
            ),
            (
                "contexts",
                ("HandleTable", "contexts"),
                "t.contexts(hsa)",
                "all(a is b for a, b in zip(t.contexts(hsa), ctxs)) and len(t.contexts(hs)) == n",
                "ctx(_x)",
                "_it = hs",
                "ctx(hs[-1]) is ctxs[-1]",
            ),
            (
                "FdSet build",
                (),
                "FdSet(hsa, capacity=n)",
                "list(FdSet(hsa, capacity=n)) == hs",
                "_add(_x)",
                "_it = hs\n_add = FdSet(capacity=n).add",
                "(lambda f: [f.add(x) for x in hs[:100]] and list(f) == hs[:100])(FdSet(capacity=n))",
            ),
            (
                "contains_each, 64-entry set",
                ("FdSet", "contains_each"),
                "fds64.contains_each(hsa)",
                "fds64.contains_each(hsa) == expected64",
                "_x in fds64",
                "_it = hs",
                "hs[0] in fds64 and hs[-1] not in fds64",
            ),
        ]
        floor = _Case("loop floor", "abs(_x)", "abs(hs[0]) == hs[0]", setup="_it = hs", chunk=n)
        floor_cell = self._checked_cell(floor, names[TWIN_KEY], TWIN_KEY, "batch")
        all_cells: list[_Cell] = [floor_cell]
        planned: list[tuple[str, str, str, dict[str, tuple[_Cell, _Cell] | None]]] = []
        for label, needs, batch, batch_check, single, setup, single_check in ops:
            per_core: dict[str, tuple[_Cell, _Cell] | None] = {}
            for key, ns in names.items():
                owner = ns["t"] if needs and needs[0] == "HandleTable" else ns["FdSet"]
                if not all(hasattr(owner, attr) for attr in needs[1:]):
                    per_core[key] = None  # not in this core yet
                    continue
                b = self._checked_cell(_Case(label, batch, batch_check, per=n), ns, key, "batch")
                s = self._checked_cell(
                    _Case(label, single, single_check, setup=setup, chunk=n), ns, key, "batch"
                )
                per_core[key] = (b, s)
                all_cells += [b, s]
            planned.append((label, batch, single, per_core))
        for message in _run_cells(all_cells, self.min_time, self.repeats):
            self.error(f"batch: {message}")
        rows = []
        for label, batch, single, per_core in planned:
            figures: dict[str, float | None] = {}
            missing = []
            for key in (CORE, TWIN_KEY):
                pair = per_core.get(key)
                if pair is None and key in per_core:
                    missing.append(HEADERS[key])
                figures[key] = None if pair is None else pair[0].ns
                figures[f"{key} single"] = None if pair is None else pair[1].ns
            figures["floor"] = floor_cell.ns
            failed = any(c.error for pair in per_core.values() if pair for c in pair)
            rows.append(
                _Row(
                    label,
                    f"{batch} | for _x in hs: {single}",
                    figures,
                    {
                        "core batch/single": _ratio(figures[CORE], figures["core single"]),
                        "twin batch/single": _ratio(figures[TWIN_KEY], figures["twin single"]),
                        "twin/core": _ratio(figures[TWIN_KEY], figures[CORE]),
                    },
                    [_Target("core batch/single", "<=", 1 / 3, "1/3")],
                    note="error" if failed else ("n/a" if missing else ""),
                    info={
                        "batch": n,
                        "not_available_in": missing,
                        "loops": {
                            key: [pair[0].number, pair[1].number]
                            for key, pair in per_core.items() if pair
                        },
                    },
                )
            )
        quick = " (--quick: batches of 2,000; 10,000 without it)" if self.quick else ""
        self.print_section(
            _Section(
                "batch",
                f"6. Batches of {n:,} handles against one call per handle: ns per handle{quick}",
                "ns",
                [CORE, "core single", TWIN_KEY, "twin single", "floor"],
                ["core batch/single", "twin batch/single", "twin/core"],
                rows,
                f"t: a table holding the {n:,} sockets hs (a list; hsa: the same handles as the"
                " array('Q') create_sockets returns), ctxs their contexts; ctx, create, close:"
                " t's bound methods; fds64: a full FdSet of the first 64. cython, twin: the"
                " batch call (left of |) per handle; single: the loop of single calls (right"
                " of |, timed as for _x in hs: ...) per handle, over the same handles; floor:"
                " that loop calling abs. Building an FdSet one add at a time scans the set for"
                " a duplicate at each add, as FD_SET does. n/a: the core has no such batch"
                " call yet. Target: the core's batch at most a third of its single calls; the"
                " twin's ratio is shown for reference.",
                show_stmt=False,
            )
        )

    # --- 4. memory, in fresh interpreters

    def memory(self) -> None:
        count = self.memory_count
        probes: dict[tuple[str, str], subprocess.Popen[str]] = {}
        env = dict(os.environ)
        root = os.path.dirname(os.path.dirname(os.path.abspath(ws2core.__file__)))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH", "")]))
        kinds = (("sockets", count), ("events", count), ("table", 1000))
        pending = [
            (key, module, kind, number)
            for key, module in ((CORE, CYTHON_CORE), (TWIN_KEY, TWIN))
            if self.modules[key] is not None
            for kind, number in kinds
        ]
        results: dict[tuple[str, str], dict[str, Any]] = {}
        # Two at a time (a 2-CPU machine; RSS does not care), before anything is timed.
        while pending or probes:
            while pending and len(probes) < 2:
                key, module, kind, number = pending.pop(0)
                probes[key, kind] = subprocess.Popen(
                    [sys.executable, "-m", "ws2core._bench", "memory", module, kind, str(number)],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                )
            done = next(iter(probes))
            process = probes.pop(done)
            try:
                stdout, stderr = process.communicate(timeout=300)
            except subprocess.TimeoutExpired:
                process.kill()
                stdout, stderr = process.communicate()
            if process.returncode != 0:
                last = (stderr.strip().splitlines() or ["no message"])[-1]
                self.error(f"memory probe {' '.join(done)} failed (exit {process.returncode}): {last}")
                continue
            results[done] = json.loads(stdout)
        method = next((r["method"] for r in results.values() if "rss" in r["method"].lower()), "")
        self.memory_method = method

        def figure(key: str, kind: str, field_name: str = "bytes") -> float | None:
            got = results.get((key, kind))
            return None if got is None else float(got[field_name])

        rows = []
        for label, kind, field_name, targets in (
            ("socket handle, no context", "sockets", "bytes", [_Target(CORE, "<=", 32)]),
            ("event handle", "events", "bytes", []),
            ("empty HandleTable(), tracemalloc", "table", "bytes", [_Target(CORE, "<=", 4096, "4 KiB")]),
            ("empty HandleTable(), sys.getsizeof", "table", "getsizeof", []),
        ):
            core_b, twin_b = figure(CORE, kind, field_name), figure(TWIN_KEY, kind, field_name)
            rows.append(
                _Row(
                    label, "", {CORE: core_b, TWIN_KEY: twin_b},
                    {"twin/core": _ratio(twin_b, core_b)}, targets,
                    info={
                        "count": count if kind != "table" else 1000,
                        "method": "tracemalloc" if kind == "table" else method,
                    },
                )
            )
        quick = " (--quick: 200,000; 1,000,000 without it)" if self.quick else ""
        self.print_section(
            _Section(
                "memory",
                "4. Memory: bytes per live handle, and per empty table",
                "bytes",
                [CORE, TWIN_KEY],
                ["twin/core"],
                rows,
                f"Handles: the growth of the resident set ({method}) over creating"
                f" {count:,} sockets with no context, or {count:,} events, in one table, in a"
                f" fresh interpreter per core and per figure{quick}, gc.collect() before"
                " and after; the table's own structures only, no context objects. Empty"
                " table: the tracemalloc delta over creating 1,000 HandleTable() (kept alive) /"
                " 1,000, which counts the object and everything it allocates (the Cython core"
                " allocates with PyMem, which tracemalloc traces; the twin's table is dicts and a"
                " deque), and sys.getsizeof of one table (the object alone).",
                show_stmt=False,
            )
        )

    # --- 7. wake-up latency

    def wakeup(self, rounds: int) -> None:
        probes = {"floor": _wakeup_floor()}
        probes.update((label, _wakeup_probe(mod)) for label, mod in self.present().items())
        try:
            # Interleaved, as the repeats above: a slow spell of the machine hits every row alike.
            for _ in range(rounds):
                for label, probe in probes.items():
                    try:
                        probe.round()
                    except RuntimeError as error:
                        self.error(f"{HEADERS[label]} wake-up: {error}")
                        return
        finally:
            for probe in probes.values():
                probe.close()
        self.prose(
            f"7b. Wake-up latency in µs, {rounds:,} rounds each (interleaved): from just before"
            " WPUSetEvent(e, err) in this thread to a thread blocked in"
            " WSAWaitForMultipleEvents(1, [e], FALSE, WSA_INFINITE, FALSE) running again"
        )
        self.say()
        labels = {"floor": "floor (SimpleQueue.get woken by put)", CORE: "cython", TWIN_KEY: "twin"}
        width = len(labels["floor"])
        header = f"{'waiter':<{width}}  {'median':>7}  {'p99':>7}  {'max':>7}"
        self.say(header)
        self.say("-" * len(header))
        for label, probe in probes.items():
            self.say(
                f"{labels[label]:<{width}}  {probe.median_us():>7.1f}"
                f"  {probe.p99_us():>7.1f}  {max(probe.samples) / 1000:>7.1f}"
            )
        if self.modules[CORE] is None:
            self.say(f"{'cython':<{width}}  {self.core_state:>7}")
        self.say()
        self.prose(
            "Each round resets the event, lets the waiter start its wait and sleeps"
            f" {_SETTLE * 1e6:g} µs (untimed) so that it is blocked when the set comes. The"
            " floor is the same round with no ws2core: the handoff between two threads that"
            " every wait pays. p99 by nearest rank; on a busy or small machine the tail is the"
            " scheduler's."
        )
        self.say()
        statistics_of: dict[str, Callable[[_WakeupProbe], float]] = {
            "median": _WakeupProbe.median_us,
            "p99": _WakeupProbe.p99_us,
            "max": lambda probe: max(probe.samples) / 1000,
        }
        self.extra["wake-up latency"] = {
            stat: {
                "unit": "µs",
                "rounds": rounds,
                CORE: None,  # stays None without the Cython core
                **{label: round(value(probe), 2) for label, probe in probes.items()},
            }
            for stat, value in statistics_of.items()
        }

    # --- the whole report

    def run(self) -> None:
        started = time.perf_counter()
        self.say(self.header)
        self.say(
            f"Python {platform.python_version()} ({platform.python_implementation()}),"
            f" {platform.platform()}, {os.cpu_count()} CPUs"
        )
        if self.modules[CORE] is None:
            self.say(f"Cython core {CYTHON_CORE}: {self.why_not}; only the twin's figures follow")
        self.prose(
            f"Figures are medians of {self.repeats} repeats, interleaved: each repeat times"
            " every cell of a table once, in turn, so a slow spell of the machine hits every"
            " column alike. A repeat is a loop of N runs of the statement, pasted into the loop"
            f" as timeit does, N chosen so that it lasts about {self.min_time * 1000:g} ms; gc"
            " is off while timing. floor: abs(h), one C call of one argument through the same"
            " loop. Compare ratios within this run; targets are ws2core's own, met (ok) or"
            " MISSED, and never change the exit status."
            + (" --quick: shorter repeats, smaller tiers and batches (said where)." if self.quick else "")
        )
        self.say()
        # In the order of the report's sections.  The memory probes run in fresh interpreters while nothing here
        # is timed; the big scaling tables are gone by then.
        hot = {label: _hot_fixture(mod) for label, mod in self.present().items()}
        self.hot_path(hot)
        self.fd_sizes()
        self.scaling()
        self.memory()
        self.creation(hot)
        self.batches()
        self.polls(hot)
        del hot
        self.wakeup(300 if self.quick else 2000)
        self.elapsed = time.perf_counter() - started
        self.summary()

    def summary(self) -> None:
        met = missed = unknown = 0
        lines = []
        for section in self.sections:
            for row in section.rows:
                for target, value, ok in row.verdicts():
                    if ok is None:
                        unknown += 1
                    elif ok:
                        met += 1
                    else:
                        missed += 1
                        shown = "-" if value is None else f"{value:.4g}"
                        lines.append(f"  {section.key} / {row.case}: {target.metric} = {shown}, target {target.text()}")
        self.say(f"Targets: {met} met, {missed} missed, {unknown} not measured.")
        for line in lines:
            self.say(line)
        if self.errors:
            self.say(f"{len(self.errors)} error(s): the exit status is 1 (see the bench: lines).")
        self.say(f"The bench took {self.elapsed:.0f} s.")

    def to_json(self) -> dict[str, Any]:
        sections: dict[str, Any] = {}
        for section in self.sections:
            cases: dict[str, Any] = {}
            for row in section.rows:
                entry: dict[str, Any] = {"statement": row.stmt, "unit": section.unit}
                entry.update({key: _round(value) for key, value in row.figures.items()})
                entry["ratios"] = {key: _round(value) for key, value in row.ratios.items()}
                entry["target"] = ", ".join(t.text() for t in row.targets) or None
                entry["targets"] = [
                    {
                        "metric": t.metric, "op": t.op, "threshold": t.threshold,
                        "value": _round(value), "met": ok,
                    }
                    for t, value, ok in row.verdicts()
                ]
                entry["met"] = row.met()
                if row.note:
                    entry["note"] = row.note
                entry.update(row.info)
                cases[row.case] = entry
            sections[section.key] = cases
        sections.update(self.extra)
        core = self.modules[CORE]
        return {
            "format": FORMAT,
            "meta": {
                "ws2core": ws2core.__version__,
                "implementation": ws2core.IMPLEMENTATION,
                "cores": {
                    CORE: "measured" if core is not None else self.why_not,
                    TWIN_KEY: "measured",
                },
                "core_measured": core is not None,
                "twin_requested": pure_python_requested(),
                "python": platform.python_version(),
                "python_implementation": platform.python_implementation(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "quick": self.quick,
                "repeats": self.repeats,
                "statistic": "median of interleaved repeats",
                "repeat_seconds": self.min_time,
                "tiers": list(self.tiers),
                "batch": self.batch,
                "memory_handles": self.memory_count,
                "memory_method": self.memory_method,
                "seconds": round(self.elapsed, 1),
                "errors": self.errors,
            },
            "sections": sections,
        }


FLOOR_H0 = _Case("C-call floor", "abs(h0)", "abs(h0) == h0")


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.4g}")


def _tier_name(live: int) -> str:
    return f"{live // 1_000_000}M" if live >= 1_000_000 else f"{live // 1000}k"


# --------------------------------------------------------------------------------------
# 7. wake-up latency

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


# --------------------------------------------------------------------------------------
# the plot (matplotlib is imported only here, and only for --plot)

PLOT_INSTALL = "pip install 'ws2core[plot]'"


def plot_available() -> bool:
    """Whether matplotlib can be imported, found without importing it."""
    try:
        return importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):  # a broken install, or a None left in sys.modules
        return False


def _plot(path: str, bench: _Bench) -> None:
    matplotlib = importlib.import_module("matplotlib")
    matplotlib.use("Agg")  # a file, no display
    pyplot = importlib.import_module("matplotlib.pyplot")
    section = next(s for s in bench.sections if s.key == "scaling")
    figure, axes = pyplot.subplots(figsize=(11, 5.5))
    colours = {label: f"C{i}" for i, (label, *_) in enumerate(_Bench.SCALING_OPS)}
    for (label, *_) in _Bench.SCALING_OPS:
        rows = [row for row in section.rows if row.info.get("operation") == label]
        xs = [row.info["live"] for row in rows]
        for key, style in ((CORE, "-"), (TWIN_KEY, "--")):
            points = [(x, row.figures[key]) for x, row in zip(xs, rows) if row.figures[key]]
            if points:
                axes.plot(
                    [p[0] for p in points], [p[1] for p in points], style, marker="o",
                    color=colours[label], label=f"{label} ({HEADERS[key]})",
                )
    floors = [(row.info["live"], row.figures["floor"]) for row in section.rows
              if row.info.get("operation") == "lookup" and row.figures["floor"]]
    if floors:
        axes.plot([p[0] for p in floors], [p[1] for p in floors], ":", color="grey",
                  label="floor: abs(h)")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("live sockets in the table")
    axes.set_ylabel("ns per operation (median)")
    axes.set_title(
        f"ws2core {ws2core.__version__}: cost per operation against live handles\n"
        f"solid: Cython core, dashed: pure-Python twin; Python {platform.python_version()},"
        f" {bench.repeats} repeats"
    )
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    pyplot.close(figure)


# --------------------------------------------------------------------------------------
# entry points


def bench(
    quick: bool,
    repeat: int | None,
    header: str,
    json_path: str | None = None,
    plot_path: str | None = None,
) -> int:
    """Run the report; the exit status: 0, or 1 after an error (never because of a timing)."""
    if plot_path is not None and not plot_available():
        print(
            f"bench: --plot needs matplotlib, which is not installed; {PLOT_INSTALL}"
            " (or pip install matplotlib) and run again",
            file=sys.stderr,
        )
        return 2
    for path in (json_path, plot_path):
        if path not in (None, "-"):
            folder = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
                print(f"bench: cannot write {path}: {folder} is not a writable folder", file=sys.stderr)
                return 2
    out = sys.stderr if json_path == "-" else sys.stdout  # stdout is the JSON's then
    run = _Bench(quick, repeat if repeat is not None else (3 if quick else 5), out, header)
    run.run()
    status = 1 if run.errors else 0
    if json_path is not None:
        text = json.dumps(run.to_json(), indent=2, ensure_ascii=False)
        if json_path == "-":
            print(text)
        else:
            try:
                with open(json_path, "w", encoding="utf-8") as file:
                    file.write(text + "\n")
            except OSError as exc:
                print(f"bench: cannot write {json_path}: {exc}", file=sys.stderr)
                return 1
            run.say(f"JSON written to {json_path}")
    if plot_path is not None:
        try:
            _plot(plot_path, run)
        except Exception as exc:  # a plotting failure is reported, not a traceback
            print(f"bench: the plot failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        run.say(f"plot written to {plot_path}")
    return status


def _rss() -> tuple[int, str]:
    """The resident set size in bytes, and how it was read."""
    try:
        with open("/proc/self/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE"), "RSS from /proc/self/statm"
    except OSError:
        import resource  # not on Windows; this path is for macOS and other Unixes

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        # Bytes on macOS, KiB elsewhere; the table only grows, so the peak is the size.
        scale = 1 if sys.platform == "darwin" else 1024
        return peak * scale, "peak RSS from resource.getrusage (ru_maxrss)"


def memory_probe(module: str, kind: str, count: int) -> dict[str, Any]:
    """Bytes per handle (``kind`` sockets or events) or per empty table (``table``)."""
    core = importlib.import_module(module)
    if kind == "table":
        import tracemalloc

        tables: list[Any] = [None] * count  # the list is allocated before the baseline
        gc.collect()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(count):
            tables[i] = core.HandleTable()
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        return {
            "bytes": (after - before) / count,
            "getsizeof": sys.getsizeof(tables[0]),
            "method": "tracemalloc",
        }
    table = core.HandleTable()
    create = table.create_socket if kind == "sockets" else table.create_event
    args: tuple[int, ...] = (7,) if kind == "sockets" else ()
    gc.collect()
    before, method = _rss()
    for _ in itertools.repeat(None, count):
        create(*args)  # the handle (an int) is dropped: only the table's own memory remains
    gc.collect()
    after, _ = _rss()
    if len(table) != count:
        raise RuntimeError(f"the table holds {len(table)} handles, not {count}")
    return {"bytes": (after - before) / count, "method": method}


def _probe_main(argv: list[str]) -> int:
    if len(argv) != 4 or argv[0] != "memory" or argv[2] not in ("sockets", "events", "table"):
        print(
            "usage: python -m ws2core._bench memory MODULE {sockets,events,table} COUNT",
            file=sys.stderr,
        )
        return 2
    print(json.dumps(memory_probe(argv[1], argv[2], int(argv[3]))))
    return 0


if __name__ == "__main__":
    sys.exit(_probe_main(sys.argv[1:]))
