"""Memory per live handle and per empty table: probes in fresh interpreters, and their table.

A figure is the growth of the resident set over creating many handles in one table, so each is
taken in an interpreter of its own (``python -m ws2core._bench memory MODULE KIND COUNT``
prints one JSON line), started by the report while nothing is timed.
"""

from __future__ import annotations

import gc
import importlib
import itertools
import json
import os
import subprocess
import sys
from typing import TYPE_CHECKING, Any

import ws2core

from .cases import Target
from .report import CORE, CYTHON_CORE, TWIN, TWIN_KEY, Row, Section, ratio

if TYPE_CHECKING:
    from .sections import Bench


def memory_section(bench: Bench) -> None:
    """Section 4: the probes, two at a time, then their table."""
    count = bench.memory_count
    probes: dict[tuple[str, str], subprocess.Popen[str]] = {}
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(ws2core.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH", "")]))
    kinds = (("sockets", count), ("events", count), ("table", 1000))
    pending = [
        (key, module, kind, number)
        for key, module in ((CORE, CYTHON_CORE), (TWIN_KEY, TWIN))
        if bench.modules[key] is not None
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
            bench.error(f"memory probe {' '.join(done)} failed (exit {process.returncode}): {last}")
            continue
        results[done] = json.loads(stdout)
    method = next((r["method"] for r in results.values() if "rss" in r["method"].lower()), "")
    bench.meta["memory_method"] = method

    def figure(key: str, kind: str, field_name: str = "bytes") -> float | None:
        got = results.get((key, kind))
        return None if got is None else float(got[field_name])

    rows = []
    for label, kind, field_name, targets in (
        ("socket handle, no context", "sockets", "bytes", [Target(CORE, "<=", 32)]),
        ("event handle", "events", "bytes", []),
        ("empty HandleTable(), tracemalloc", "table", "bytes", [Target(CORE, "<=", 4096, "4 KiB")]),
        ("empty HandleTable(), sys.getsizeof", "table", "getsizeof", []),
    ):
        core_b, twin_b = figure(CORE, kind, field_name), figure(TWIN_KEY, kind, field_name)
        rows.append(
            Row(
                label, "", {CORE: core_b, TWIN_KEY: twin_b},
                {"twin/core": ratio(twin_b, core_b)}, targets,
                info={
                    "count": count if kind != "table" else 1000,
                    "method": "tracemalloc" if kind == "table" else method,
                },
            )
        )
    quick = " (--quick: 200,000; 1,000,000 without it)" if bench.quick else ""
    bench.print_section(
        Section(
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


def probe_main(argv: list[str]) -> int:
    """The probe's command line: one figure as one JSON line on stdout."""
    if len(argv) != 4 or argv[0] != "memory" or argv[2] not in ("sockets", "events", "table"):
        print(
            "usage: python -m ws2core._bench memory MODULE {sockets,events,table} COUNT",
            file=sys.stderr,
        )
        return 2
    print(json.dumps(memory_probe(argv[1], argv[2], int(argv[3]))))
    return 0
