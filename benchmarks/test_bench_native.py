"""The native WSPUPCALLTABLE timed from C, beside the same operations from Python.

The C figures come from a loop inside the test provider (tests/native/provider.c, compiled
here against the shipped header), timed in C with CLOCK_MONOTONIC on a pthread Python never
created: ns per context lookup (lock-free), per WPUFDIsSet miss on a full 64-entry set, per
create+close pair (both upcalls take the GIL) and per PyGILState_Ensure/Release pair, the
price every entry point would pay under the other thread model.  The Python figures are
direct loops (as timeit runs them) in the same process and run.  ``-s`` prints the table:

    python -m pytest benchmarks/test_bench_native.py -s

Each figure is the median of ROUNDS runs.  The contended row repeats the C run while a Python
thread computes (holding the GIL between switch intervals): the lock-free lookup does not
notice, a GIL round trip waits for the interpreter to hand the GIL over.
"""

from __future__ import annotations

import ctypes
import importlib.util
import statistics
import sys
import threading
import timeit
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import ws2core

ROUNDS = 5
ITERATIONS = 2_000_000  # lookups and FD_ISSET misses per C run; create+close and GIL: 1/20


def _load_build() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "tests" / "native" / "build.py"
    spec = importlib.util.spec_from_file_location("ws2core_native_build", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    if ws2core.IMPLEMENTATION != "cython":
        pytest.skip("the native table needs the Cython core")
    build = _load_build()
    try:
        lib: ctypes.CDLL = build.build_provider(tmp_path_factory.mktemp("native_bench"))
    except build.NoCompiler as missing:
        pytest.skip(f"no C compiler: {missing}")
    return lib


def c_run(provider: ctypes.CDLL, address: int, iterations: int) -> dict[str, float]:
    figures = [ctypes.c_double() for _ in range(4)]
    status = provider.provider_bench(address, iterations, *(ctypes.byref(f) for f in figures))
    assert status == 0, f"provider_bench failed at step {status}"
    names = ("lookup", "FD_ISSET miss 64", "create+close", "GIL round trip")
    lookup, create_close, miss, gil = (f.value for f in figures)
    return dict(zip(names, (lookup, miss, create_close, gil)))


def medians(runs: list[dict[str, float]]) -> dict[str, float]:
    return {name: statistics.median(run[name] for run in runs) for name in runs[0]}


def python_ns(statement: str, namespace: dict[str, Any], number: int = 500_000) -> float:
    timer = timeit.Timer(statement, globals=namespace)
    return min(timer.repeat(ROUNDS, number)) / number * 1e9


def test_native_from_c(benchmark: Any, provider: ctypes.CDLL) -> None:
    up = ws2core.UpcallTable()
    address = up.native_table()
    benchmark.group = "native table, timed in C"
    iterations = ITERATIONS if benchmark.enabled else 20_000
    rounds = ROUNDS if benchmark.enabled else 1
    runs: list[dict[str, float]] = []
    benchmark.pedantic(lambda: runs.append(c_run(provider, address, iterations)), rounds=rounds, iterations=1)
    native = medians(runs)

    # The same table's Python paths, in the same process and run.
    h = up.table.create_socket(7, object())
    namespace = {"t": up.table, "up": up, "h": h, "ref": ws2core.Ref(), "err": ws2core.Ref(0)}
    python = {
        "C-call floor abs(h)": python_ns("abs(h)", namespace),
        "t.context(h)": python_ns("t.context(h)", namespace),
        "up.WPUQuerySocketHandleContext": python_ns("up.WPUQuerySocketHandleContext(h, ref, err)", namespace),
        "create+close": python_ns("t.close_socket(t.create_socket(7, h))", namespace, 200_000),
    }

    # The same C run while a Python thread keeps the interpreter busy.
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(100))

    spinner = threading.Thread(target=spin)
    spinner.start()
    try:
        contended = medians([c_run(provider, address, iterations // 10) for _ in range(rounds)])
    finally:
        stop.set()
        spinner.join()

    benchmark.extra_info.update({f"C {k} ns": v for k, v in native.items()})
    benchmark.extra_info.update({f"C {k} ns, Python thread busy": v for k, v in contended.items()})
    benchmark.extra_info.update({f"Python {k} ns": v for k, v in python.items()})
    print(f"\nnative table, ns per operation, median of {rounds} C runs "
          f"({iterations:,} lookups each) on {sys.implementation.name} {sys.version.split()[0]}")
    print(f"{'operation':<34}{'from C':>10}{'C, Python busy':>16}")
    for name in native:
        print(f"{name:<34}{native[name]:>10.1f}{contended[name]:>16.1f}")
    print(f"{'from Python (best of ' + str(ROUNDS) + ')':<34}")
    for name, value in python.items():
        print(f"{name:<34}{value:>10.1f}")
    assert all(value > 0 for value in native.values() if value != -1)
