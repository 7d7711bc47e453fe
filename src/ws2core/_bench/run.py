"""The whole run of ``python -m ws2core bench``: the sections in order, then the JSON and the
plot asked for.  ``bench()`` is what the command line calls."""

from __future__ import annotations

import json
import os
import platform
import sys
import time

from .cases import HOT_FIXTURE
from .memory import memory_section
from .plot import PLOT_INSTALL, plot, plot_available
from .report import CORE, CYTHON_CORE
from .sections import Bench
from .wakeup import wakeup_section


def _run(report: Bench) -> None:
    """The whole report, section by section, then the summary."""
    started = time.perf_counter()
    report.say(report.header)
    report.prose(
        f"Python {platform.python_version()} ({platform.python_implementation()}),"
        f" {platform.platform()}, {os.cpu_count()} CPUs"
    )
    if report.modules[CORE] is None:
        report.prose(f"Cython core {CYTHON_CORE}: {report.why_not}; only the twin's figures follow")
    report.prose(
        f"Figures are medians of {report.repeats} repeats, interleaved: each repeat times"
        " every cell of a table once, in turn, so a slow spell of the machine hits every"
        " column alike. A repeat is a loop of N runs of the statement, pasted into the loop"
        f" as timeit does, N chosen so that it lasts about {report.min_time * 1000:g} ms; gc"
        " is off while timing. floor: abs(h), one C call of one argument through the same"
        " loop. Compare ratios within this run; targets are ws2core's own, met (ok) or"
        " MISSED, and never change the exit status."
        + (" --quick: shorter repeats, smaller tiers and batches (said where)." if report.quick else "")
    )
    report.say()
    # In the order of the report's sections.  The memory probes run in fresh interpreters while nothing here
    # is timed; the big scaling tables are gone by then.
    report.names(HOT_FIXTURE)
    report.hot_path()
    report.fd_sizes()
    report.scaling()
    memory_section(report)
    report.creation()
    report.batches()
    report.polls()
    report.forget(HOT_FIXTURE)
    wakeup_section(report, 300 if report.quick else 2000)
    report.provider()
    report.elapsed = time.perf_counter() - started
    report.summary()


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
    run = Bench(quick, repeat if repeat is not None else (3 if quick else 5), out, header)
    _run(run)
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
            plot(plot_path, run)
        except Exception as exc:  # a plotting failure is reported, not a traceback
            print(f"bench: the plot failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        run.say(f"plot written to {plot_path}")
    return status
