"""Timing a case: its statement pasted into a plain loop, as ``timeit`` does, and medians of
interleaved repeats; and the same statement as one callable for pytest-benchmark.

No wrapper call is timed in the report's loop, and the loop's own cost is in the floor too.
The repeats are interleaved, each repeat timing every cell of a table once in turn, so that a
slow spell of a shared machine hits every column alike.
"""

from __future__ import annotations

import ast
import gc
import itertools
import statistics
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .cases import Case

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

# A statement that is not one plain call, as a function of no arguments over the same names
# (closure cells, as a hand-written wrapper would read them).
_WRAPPER = """
def outer(_names):
{unpack}
    def run():
        return {stmt}
    return run
"""


def _indent(code: str, spaces: int) -> str:
    return textwrap.indent(code, " " * spaces) if code.strip() else " " * spaces + "pass"


def _unpack(names: dict[str, Any]) -> str:
    return "\n".join(f"    {name} = _names[{name!r}]" for name in names) or "    pass"


def _compile(source: str, name: str) -> Any:
    namespace: dict[str, Any] = {}
    exec(compile(source, "<ws2core bench>", "exec"), namespace)  # noqa: S102 (our own text)
    return namespace[name]


class Timer:
    """``timeit.Timer`` for a case's statement whose names are locals of the timing function."""

    def __init__(self, case: Case, names: dict[str, Any]) -> None:
        source = _TEMPLATE.format(
            unpack=_unpack(names),
            setup=_indent(case.setup, 8),
            stmt=_indent(case.stmt, 12),
            teardown=_indent(case.teardown, 8),
        )
        self._inner: Callable[..., float] = _compile(source, "inner")
        self._names = names
        self.chunk = case.chunk

    def timeit(self, number: int) -> float:
        """Seconds for ``number`` runs of the statement, gc off as timeit has it."""
        enabled = gc.isenabled()
        gc.disable()
        try:
            return self.run(number)
        finally:
            if enabled:
                gc.enable()

    def run(self, number: int) -> float:
        """``number`` runs (their setups and teardowns too), gc as it is; the timed seconds."""
        return float(
            self._inner(number, self.chunk, time.perf_counter, itertools.repeat, self._names)
        )


def benchmark_call(
    case: Case, names: dict[str, Any], wrap: bool = False
) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """What pytest-benchmark calls for one run of ``case`` (a chunk of runs if it walks a
    list): ``(function, arguments)``.

    A statement that is one call of names and constants is that call itself, so no wrapper
    frame is timed (as ``benchmark(t.context, h)``); anything else, or with ``wrap``, is a
    function of no arguments returning the statement's value: a frame the floor of its group
    then pays too.
    """
    if case.chunk:
        timer = Timer(case, names)
        return timer.run, (case.chunk,)
    call = _plain_call(case.stmt)
    if call is not None and not wrap:
        function, arguments = call
        return eval(function, dict(names)), tuple(eval(a, dict(names)) for a in arguments)  # noqa: S307
    outer = _compile(_WRAPPER.format(unpack=_unpack(names), stmt=case.stmt), "outer")
    return outer(names), ()


def needs_wrapper(case: Case) -> bool:
    """Whether pytest-benchmark must time ``case`` through a function of its own."""
    return not case.chunk and _plain_call(case.stmt) is None


def _plain_call(stmt: str) -> tuple[str, list[str]] | None:
    """``f(a, b)`` with no call inside f, a or b, and no keywords: (``f``, [``a``, ``b``])."""
    tree = ast.parse(stmt, mode="eval").body
    if not isinstance(tree, ast.Call) or tree.keywords:
        return None
    parts = [tree.func, *tree.args]
    if any(isinstance(node, ast.Call) for part in parts for node in ast.walk(part)):
        return None
    return ast.unparse(tree.func), [ast.unparse(a) for a in tree.args]


@dataclass
class Cell:
    """One figure: a timer, how many operations one run of its statement is, its samples."""

    timer: Timer
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


def _calibrate(timer: Timer, min_time: float) -> int:
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


def run_cells(cells: list[Cell], min_time: float, repeats: int) -> list[str]:
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
