"""``--plot``: the cost per operation against live handles (the scaling tiers, both cores).

matplotlib is imported here only, and only when a plot is asked for; without it the command
says how to install it (``PLOT_INSTALL``) before anything is timed.
"""

from __future__ import annotations

import importlib
import importlib.util
import platform

import ws2core

from .cases import SCALING_OPERATIONS
from .report import CORE, HEADERS, TWIN_KEY, Report


PLOT_INSTALL = "pip install 'ws2core[plot]'"


def plot_available() -> bool:
    """Whether matplotlib can be imported, found without importing it."""
    try:
        return importlib.util.find_spec("matplotlib") is not None
    except (ImportError, ValueError):  # a broken install, or a None left in sys.modules
        return False


def plot(path: str, bench: Report) -> None:
    """The scaling section's figures against live handles, to ``path`` (a PNG)."""
    matplotlib = importlib.import_module("matplotlib")
    matplotlib.use("Agg")  # a file, no display
    pyplot = importlib.import_module("matplotlib.pyplot")
    section = next(s for s in bench.sections if s.key == "scaling")
    figure, axes = pyplot.subplots(figsize=(11, 5.5))
    colours = {label: f"C{i}" for i, (label, *_) in enumerate(SCALING_OPERATIONS)}
    for (label, *_) in SCALING_OPERATIONS:
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
