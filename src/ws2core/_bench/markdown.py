"""The README's performance tables, made from a bench JSON alone: every section the report
printed (``meta["tables"]`` says how each was laid out) becomes a Markdown table with the
report's own cells, under a line saying how and where the run was made.

``benchmarks/readme_tables.py`` writes them into README.md between ``BEGIN`` and ``END``;
``tests/test_readme_tables.py`` fails when the README's block is not what this makes of the
committed JSON.  A section the bench gains becomes a table here with no change.  The wake-up
latency (table 7b) is no such section (percentiles of rounds, not rows of cases) and is left
out.
"""

from __future__ import annotations

import re
from typing import Any

from .cases import Target
from .report import Row, Section, columns

BEGIN = "<!-- bench-tables: begin (made by `make readme-tables`; edits here are overwritten) -->"
END = "<!-- bench-tables: end -->"



def sections(data: dict[str, Any]) -> list[Section]:
    """The report's sections as they were printed, rebuilt from the JSON."""
    layouts = data["meta"].get("tables", {})
    rebuilt = []
    for key, layout in layouts.items():
        cases = data["sections"].get(key, {})
        figure_keys = [*layout["figures"], "floor"]
        rows = []
        for name, entry in cases.items():
            rows.append(
                Row(
                    name,
                    entry.get("statement", ""),
                    {k: entry[k] for k in dict.fromkeys(figure_keys) if k in entry},
                    dict(entry.get("ratios", {})),
                    [
                        Target(t["metric"], t["op"], t["threshold"], t.get("shown", ""))
                        for t in entry.get("targets", [])
                    ],
                    note=entry.get("note", ""),
                )
            )
        rebuilt.append(
            Section(
                key, layout["title"], layout["unit"], list(layout["figures"]),
                list(layout["ratios"]), rows, layout.get("legend", ""),
                show_stmt=layout.get("statements", True),
            )
        )
    return rebuilt


def _escape(text: str) -> str:
    """Prose as Markdown shows it literally (``_x``, ``fds<n>``, ``|``)."""
    return re.sub(r"([\\`*_<>|\[\]])", r"\\\1", text)


def _code(text: str) -> str:
    # A pipe ends a table cell even inside a code span unless escaped (GitHub's tables).
    return f"`{text}`".replace("|", "\\|") if text else ""


def table(section: Section, core_missing: str | None) -> list[str]:
    """One section's Markdown lines: its title, the table, its legend."""
    key, statement, groups = columns(section, core_missing)
    shown = [key, *([statement] if statement is not None else []), *(c for g in groups for c in g)]
    lines = [f"**{_escape(section.title)}**", ""]
    lines.append("| " + " | ".join(column.name for column in shown) + " |")
    lines.append("|" + "|".join("---:" if column.align == ">" else "---" for column in shown) + "|")
    for r in range(len(section.rows)):
        cells = []
        for column in shown:
            cell = column.cells[r]
            if column is statement:
                cells.append("<br>".join(_code(line) for line in cell))
            else:
                cells.append("<br>".join(_escape(line) for line in cell))
        lines.append("| " + " | ".join(cells) + " |")
    if section.legend:
        lines += ["", _escape(section.legend)]
    return lines


def settings(data: dict[str, Any]) -> str:
    """The line above the tables: where, how and on what code the run was made."""
    meta = data["meta"]
    verdicts = [
        t["met"] for cases in data["sections"].values() if isinstance(cases, dict)
        for entry in cases.values() if isinstance(entry, dict)
        for t in entry.get("targets", [])
    ]
    met, missed = verdicts.count(True), verdicts.count(False)
    quick = ", --quick" if meta.get("quick") else ""
    load = meta.get("load_average")
    busy = f", load average {load[0]:.1f} as it started" if load else ""
    return (
        f"One run of `python -m ws2core bench --json` ({meta['date']}{quick}: medians of"
        f" {meta['repeats']} interleaved repeats of about {meta['repeat_seconds'] * 1000:g} ms"
        f" each) on a shared and noisy machine ({meta['cpus']} CPUs{busy}, {meta['platform']},"
        f" Python {meta['python']}, {meta['implementation']} core; ratios within the run are what"
        f" compare), of the sources whose fingerprint is {meta['sources']['sha256']}; the"
        f" targets: {met} met, {missed} missed. The tables are made from"
        " benchmarks/results/bench.json by `make readme-tables`, which runs the bench again."
    )


def tables(data: dict[str, Any]) -> str:
    """The README's block, markers included."""
    missing = None if data["meta"].get("core_measured") else "not measured"
    lines = [BEGIN, "", settings(data)]
    for section in sections(data):
        lines += ["", *table(section, missing)]
    lines += ["", END]
    return "\n".join(lines)


def replace_block(readme: str, block: str) -> str:
    """``readme`` with its block between the markers replaced by ``block``."""
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise ValueError(f"no block between {BEGIN!r} and {END!r} in the README")
    return readme[:start] + block + readme[end + len(END):]


def current_block(readme: str) -> str:
    """The README's block as it stands, markers included ("" if it has none)."""
    start, end = readme.find(BEGIN), readme.find(END)
    return readme[start:end + len(END)] if 0 <= start < end else ""
