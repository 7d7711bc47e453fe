"""The report's output: rows and sections, the tables printed, the summary and the JSON.

Every figure is shown for the Cython core and the twin beside a floor, with its ratios and
targets (met: ``ok``, or ``MISSED``; the exit status depends on errors only, never on
timings).  The JSON (``FORMAT``) is what ``benchmarks/check.py`` reads: section -> case ->
{figures, ratios, targets, met} and the run's metadata.
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

CYTHON_CORE = "ws2core._handles"
TWIN = "ws2core._handles_py"
FORMAT = "ws2core-bench/1"  # the JSON's "format": benchmarks/check.py reads this version

# The report's keys for the two cores (JSON and code) and their column headers.
CORE, TWIN_KEY = "core", "twin"
HEADERS = {CORE: "cython", TWIN_KEY: "twin", "floor": "floor"}

_WIDTH = 100  # the width prose is wrapped to


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
    return f"{value:,.1f}" if abs(value) < 10_000 else f"{value:,.0f}"


def _format_ratio(metric: str, value: float) -> str:
    if metric.startswith("twin/core"):
        return f"{value:,.1f}x" if value < 1000 else f"{value:,.0f}x"
    if value < 0.1:
        return f"{value:.3f}"
    return f"{value:.2f}" if value < 100 else f"{value:,.0f}"


def _round(value: float | None) -> float | None:
    return None if value is None else float(f"{value:.4g}")


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

    def say(self, text: str = "") -> None:
        print(text, file=self.out, flush=True)

    def prose(self, text: str) -> None:
        self.say(textwrap.fill(text, _WIDTH))

    def error(self, message: str) -> None:
        self.errors.append(message)
        print(f"bench: {message}", file=sys.stderr, flush=True)

    def print_section(self, section: Section) -> None:
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
                "twin_requested": _implementation.pure_python_requested(),
                "python": platform.python_version(),
                "python_implementation": platform.python_implementation(),
                "platform": platform.platform(),
                "cpus": os.cpu_count(),
                "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "quick": self.quick,
                "repeats": self.repeats,
                "statistic": "median of interleaved repeats",
                "repeat_seconds": self.min_time,
                **self.meta,
                "seconds": round(self.elapsed, 1),
                "errors": self.errors,
            },
            "sections": sections,
        }
