"""The report's output: rows and sections, the tables printed, the summary and the JSON.

No line of the report is wider than 100 columns: a table too wide for that is printed as
several, each led by the case column (the statements in one of their own, after the figures).

Every figure is shown for the Cython core and the twin beside a floor, with its ratios and
targets (met: ``ok``, or ``MISSED``; the exit status depends on errors only, never on
timings).  The JSON (``FORMAT``) is what ``benchmarks/check.py`` reads: section -> case ->
{figures, ratios, targets, met} and the run's metadata, which also holds the fingerprint of
the measured sources (``sources.py``) and each table's layout, from which ``markdown.py``
makes the README's tables again.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
import textwrap
from dataclasses import dataclass, field
from types import ModuleType
from typing import IO, Any

import ws2core
from ws2core import _implementation

from .cases import Target
from .sources import fingerprint

CYTHON_CORE = "ws2core._handles"
TWIN = "ws2core._handles_py"
FORMAT = "ws2core-bench/1"  # the JSON's "format": benchmarks/check.py reads this version

# The report's keys for the two cores (JSON and code) and their column headers.
CORE, TWIN_KEY = "core", "twin"
HEADERS = {CORE: "cython", TWIN_KEY: "twin", "floor": "floor"}

_WIDTH = 100  # no line of the report is wider: prose is wrapped, tables split to it


@dataclass
class Row:
    case: str
    stmt: str = ""
    figures: dict[str, float | None] = field(default_factory=dict)
    ratios: dict[str, float | None] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    note: str = ""  # shown instead of a missing figure: "n/a", "error" ...
    info: dict[str, Any] = field(default_factory=dict)  # more for the JSON (loops, live ...)

    def value(self, metric: str) -> float | None:
        if metric in self.figures:
            return self.figures[metric]
        return self.ratios.get(metric)

    def verdicts(self) -> list[tuple[Target, float | None, bool | None]]:
        return [(t, self.value(t.metric), t.met(self.value(t.metric))) for t in self.targets]

    def met(self) -> bool | None:
        results = [met for _, _, met in self.verdicts()]
        if not results or None in results:
            return None
        return all(results)


@dataclass
class Section:
    key: str  # the JSON key
    title: str
    unit: str  # of the figures: "ns", "µs", "bytes"
    figure_columns: list[str]
    ratio_columns: list[str]
    rows: list[Row] = field(default_factory=list)
    legend: str = ""
    show_stmt: bool = True


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator <= 0:
        return None
    return numerator / denominator


def difference(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


def _format_figure(value: float, unit: str) -> str:
    if unit == "µs":
        return f"{value:,.2f}" if value < 1000 else f"{value:,.0f}"
    if unit == "bytes":
        return f"{value:,.0f}" if value >= 1000 else f"{value:.2f}"
    # No more digits than the JSON keeps (4 significant), so that the README's tables, made
    # from it, read as the report does: 1,604 rather than 1,604.0.
    return f"{value:,.1f}" if abs(value) < 1000 else f"{value:,.0f}"


def _format_ratio(metric: str, value: float) -> str:
    if metric.startswith("twin/core"):
        return f"{value:,.1f}x" if value < 1000 else f"{value:,.0f}x"
    if value < 0.1:
        return f"{value:.3f}"
    return f"{value:.2f}" if value < 100 else f"{value:,.0f}"


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.4g}")


def _mark(met: bool | None) -> str:
    return "n/a" if met is None else "ok" if met else "MISSED"


class _Column:
    """A column of a printed table: its header and, per row, its lines (a cell may have none,
    or several: one target a line)."""

    def __init__(self, name: str, cells: list[list[str]], align: str) -> None:
        self.name = name
        self.cells = cells
        self.align = align
        widest = max((len(line) for cell in cells for line in cell), default=0)
        # A header wider than every cell breaks at its spaces ("cython single" over "single"),
        # so a column of short figures is not as wide as its name.
        longest_word = max(len(word) for word in name.split(" "))
        self.header = textwrap.wrap(name, max(widest, longest_word)) or [""]
        self.width = max(widest, *(len(line) for line in self.header))

    def wrapped(self, width: int) -> _Column:
        """The same column with each cell's lines broken at spaces to ``width``."""
        cells = [
            [piece for line in cell for piece in textwrap.wrap(line, width, break_on_hyphens=False)]
            for cell in self.cells
        ]
        return _Column(self.name, cells, self.align)


def _span(columns: list[_Column]) -> int:
    return sum(column.width for column in columns) + 2 * (len(columns) - 1)


def _fit(
    key: _Column, statement: _Column | None, groups: list[list[_Column]], width: int
) -> list[list[_Column]]:
    """The tables to print for one section, each at most ``width`` wide and each led by the
    case column: the whole table when it fits; else the statements go to a table of their
    own after the figures (wrapped if they must be), and the groups are packed in order, a
    group split by columns only when it alone is too wide."""
    everything = [column for group in groups for column in group]
    if statement is not None:
        everything.insert(0, statement)
    if _span([key, *everything]) <= width:
        return [[key, *everything]]
    parts: list[list[_Column]] = [[key]]
    for group in groups:
        if _span([*parts[-1], *group]) > width and len(parts[-1]) > 1:
            parts.append([key])
        for column in group:
            if _span([*parts[-1], column]) > width and len(parts[-1]) > 1:
                parts.append([key])
            parts[-1].append(column)
    if statement is not None:
        room = width - key.width - 2
        parts.append([key, statement if statement.width <= room else statement.wrapped(room)])
    return parts


def _table(columns: list[_Column]) -> list[str]:
    """A table's lines: headers bottom-aligned over a rule, then each row on as many lines as
    its tallest cell."""

    def line(texts: list[str]) -> str:
        return "  ".join(
            f"{text:{column.align}{column.width}}" for text, column in zip(texts, columns)
        ).rstrip()

    height = max(len(column.header) for column in columns)
    headers = [[""] * (height - len(column.header)) + column.header for column in columns]
    lines = [line([header[i] for header in headers]) for i in range(height)]
    lines.append("-" * _span(columns))
    for r in range(len(columns[0].cells)):
        tallest = max(len(column.cells[r]) for column in columns)
        for i in range(tallest):
            lines.append(
                line([column.cells[r][i] if i < len(column.cells[r]) else "" for column in columns])
            )
    return lines


def columns(
    section: Section, core_missing: str | None
) -> tuple[_Column, _Column | None, list[list[_Column]]]:
    """A section's cells as the report prints them (and the README's tables show them): the
    case column, the statement's if shown, and the others in the groups ``_fit`` keeps
    together: the figures, then the ratios with the targets they are judged by.
    ``core_missing``: what the Cython core's empty cells say when it was not measured."""
    rows = section.rows
    key = _Column("case", [[row.case] for row in rows], "<")
    statement = None
    if section.show_stmt:
        # A batch row's statement is the batch call | its loop of single calls: a line each.
        statement = _Column(
            "statement",
            [[part if i == 0 else f"| {part}" for i, part in enumerate(row.stmt.split(" | "))]
             for row in rows],
            "<",
        )
    figures = []
    for column in section.figure_columns:
        cells = []
        for row in rows:
            value = row.figures.get(column)
            if value is not None:
                cells.append(_format_figure(value, section.unit))
            elif list(row.figures) == ["floor"] and row.figures["floor"] is not None:
                # The floor's own row, where no column is the floor's: it goes under each.
                cells.append(_format_figure(row.figures["floor"], section.unit))
            elif column not in row.figures:
                cells.append("")
            elif row.note:
                cells.append(row.note)
            elif column.startswith(CORE) and core_missing is not None:
                cells.append(core_missing)
            else:
                cells.append("n/a")
        header = " ".join(HEADERS.get(part, part) for part in column.split(" "))
        figures.append(_Column(header, [[cell] for cell in cells], ">"))
    judged = []
    for metric in section.ratio_columns:
        ratios = [row.ratios.get(metric) for row in rows]
        shown = [[] if v is None else [_format_ratio(metric, v)] for v in ratios]
        judged.append(_Column(metric, shown, ">"))
    # One target a line, each with its own verdict beside it: a row judged twice would
    # otherwise need a column as wide as both targets and a verdict naming the missed one.
    verdicts = [row.verdicts() for row in rows]
    judged.append(_Column("target", [[t.text() for t, _, _ in v] for v in verdicts], "<"))
    judged.append(_Column("ok", [[_mark(met) for _, _, met in v] for v in verdicts], "<"))
    return key, statement, [group for group in (figures, judged) if group]


class Report:
    """One run's output: its stream, the sections printed and the errors met so far."""

    def __init__(self, quick: bool, repeats: int, out: IO[str], header: str) -> None:
        self.quick = quick
        self.repeats = repeats
        self.min_time = 0.02 if quick else 0.1
        self.out = out
        self.header = header
        self.core_state = "skipped" if _implementation.pure_python_requested() else "missing"
        self.modules: dict[str, ModuleType | None] = {}
        self.why_not = ""
        self.sections: list[Section] = []
        self.errors: list[str] = []
        self.extra: dict[str, Any] = {}  # JSON parts beyond the sections (wake-up latency)
        self.meta: dict[str, Any] = {}  # the sizes the run used, for the JSON's metadata
        self.elapsed = 0.0
        # Taken as the run starts, when the code it times has been loaded: an edit made while
        # it runs is not in its figures.
        self.sources = fingerprint()
        # How busy the machine was as the run started (1, 5, 15 minutes; None where the system
        # does not say): figures of a loaded machine are noisier, its ratios less so.
        self.load = list(os.getloadavg()) if hasattr(os, "getloadavg") else None

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def prose(self, text: str) -> None:
        # Not at hyphens: words such as random-order and pure-Python stay whole.
        self.say(textwrap.fill(text, _WIDTH, break_on_hyphens=False))

    def error(self, message: str) -> None:
        self.errors.append(message)
        print(f"bench: {message}", file=sys.stderr, flush=True)

    def print_section(self, section: Section) -> None:
        self.sections.append(section)
        self.prose(section.title)
        self.say()
        missing = self.core_state if self.modules[CORE] is None else None
        key, statement, groups = columns(section, missing)
        for i, part in enumerate(_fit(key, statement, groups, _WIDTH)):
            if i:
                self.say()
            for line in _table(part):
                self.say(line)
        self.say()
        if section.legend:
            self.prose(section.legend)
            self.say()

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
                        lines.append(
                            f"{section.key} / {row.case}: {target.metric} = {shown},"
                            f" target {target.text()}"
                        )
        self.say(f"Targets: {met} met, {missed} missed, {unknown} not measured.")
        for line in lines:
            self.say(
                textwrap.fill(
                    line, _WIDTH, initial_indent="  ", subsequent_indent="    ",
                    break_on_hyphens=False,
                )
            )
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
                        "shown": t.shown, "value": _round(value), "met": ok,
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
                "twin_requested": _implementation.pure_python_requested(),
                "python": platform.python_version(),
                "python_implementation": platform.python_implementation(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "load_average": self.load,
                "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "quick": self.quick,
                "repeats": self.repeats,
                "statistic": "median of interleaved repeats",
                "repeat_seconds": self.min_time,
                **self.meta,
                "seconds": round(self.elapsed, 1),
                "errors": self.errors,
                "sources": self.sources,
                # How each section is laid out, so that its table can be made again from the
                # JSON alone (the README's, by ``markdown.tables``).
                "tables": {
                    section.key: {
                        "title": section.title, "unit": section.unit,
                        "figures": section.figure_columns, "ratios": section.ratio_columns,
                        "statements": section.show_stmt, "legend": section.legend,
                    }
                    for section in self.sections
                },
            },
            "sections": sections,
        }
