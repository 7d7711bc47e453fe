"""``--plot``: the cost per operation against live handles (the scaling tiers, both cores).

matplotlib is imported here only, and only when a plot is asked for; without it the command
says how to install it (``PLOT_INSTALL``) before anything is timed.
"""

from __future__ import annotations

import importlib
import importlib.util
import platform
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import ws2core

from .cases import SCALING_OPERATIONS, tier_name
from .report import CORE, HEADERS, TWIN_KEY, Row, Section

if TYPE_CHECKING:
    from .sections import Bench


PLOT_INSTALL = "pip install 'ws2core[plot]'"


def plot_available() -> bool:
    """Whether matplotlib can be imported, found without importing it."""
    try:
        return importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):  # a broken install, or a None left in sys.modules
        return False


# One colour per operation (matplotlib's own cycle, C0, C1 ...) and one look per core.  The
# cores differ in marker too, not in line style alone: in the legend a marker covers most of a
# short dashed swatch, and the twin's entries read as the core's.
CORE_STYLES: dict[str, dict[str, str]] = {
    CORE: {"linestyle": "-", "marker": "o", "fillstyle": "full"},
    TWIN_KEY: {"linestyle": "--", "marker": "s", "fillstyle": "none"},
}
FLOOR_STYLE = {"linestyle": ":", "marker": "", "fillstyle": "full", "color": "grey"}


@dataclass
class Series:
    """One line of the plot: its legend label, its points and its matplotlib style."""

    label: str
    xs: list[int]
    ys: list[float]
    style: dict[str, str]


def _points(rows: list[Row], key: str) -> tuple[list[int], list[float]]:
    """Live handles and the figure under ``key``, for the rows that have one."""
    xs, ys = [], []
    for row in rows:
        value = row.figures.get(key)
        if value:
            xs.append(row.info["live"])
            ys.append(value)
    return xs, ys


def series(section: Section) -> list[Series]:
    """The scaling section's lines: each operation on each core, then the floor."""
    lines = []
    for i, (operation, *_) in enumerate(SCALING_OPERATIONS):
        rows = [row for row in section.rows if row.info.get("operation") == operation]
        for key, style in CORE_STYLES.items():
            xs, ys = _points(rows, key)
            if xs:
                label = f"{operation} ({HEADERS[key]})"
                lines.append(Series(label, xs, ys, {**style, "color": f"C{i}"}))
    lookups = [row for row in section.rows if row.info.get("operation") == "lookup"]
    xs, ys = _points(lookups, "floor")
    if xs:
        lines.append(Series("floor: abs(h)", xs, ys, FLOOR_STYLE))
    return lines


def footnote(bench: Bench) -> str:
    """What the plot leaves out and why ("" if nothing): the points --quick does not time."""
    left_out = bench.walk_left_out()
    if not left_out:
        return ""
    return (
        f"random-order lookup has no point at {tier_name(max(bench.tiers))}: with --quick,"
        f" {left_out}."
    )


def draw(bench: Bench) -> Any:
    """The plot, as a matplotlib Figure (matplotlib imported here)."""
    matplotlib = importlib.import_module("matplotlib")
    matplotlib.use("Agg")  # a file, no display
    pyplot = importlib.import_module("matplotlib.pyplot")
    section = next(s for s in bench.sections if s.key == "scaling")
    figure, axes = pyplot.subplots(figsize=(11, 5.5))
    for line in series(section):
        axes.plot(line.xs, line.ys, label=line.label, **line.style)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("live sockets in the table")
    axes.set_ylabel("ns per operation (median)")
    axes.set_title(
        f"ws2core {ws2core.__version__}: cost per operation against live handles\n"
        "colour: operation; solid, filled circles: Cython core; dashed, open squares:"
        f" pure-Python twin\nPython {platform.python_version()}, {bench.repeats} repeats"
    )
    axes.grid(True, which="both", alpha=0.3)
    # Long swatches, so that each shows its line style as well as its marker.
    axes.legend(
        fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0,
        handlelength=4,
    )
    note = footnote(bench)
    if note:
        figure.text(0.01, 0.01, note, fontsize="small", ha="left", va="bottom", wrap=True)
        figure.tight_layout(rect=(0, 0.05, 1, 1))  # room for the note under the axes
    else:
        figure.tight_layout()
    return figure


def plot(path: str, bench: Bench) -> None:
    """The scaling section's figures against live handles, to ``path`` (a PNG)."""
    figure = draw(bench)
    figure.savefig(path, dpi=120)
    importlib.import_module("matplotlib.pyplot").close(figure)
