"""The Speakeasy adapter's share of a guest's Winsock call, beside Speakeasy's own handlers.

tests/emulator/call_costs.c runs loops of cheap calls in a Speakeasy guest (x86_64), each
loop after a marker call (``OutputDebugStringA(<loop>)``) that a hook here answers with the
host's clock; the program times nothing itself.  Two runs of it, interleaved ROUNDS times:

- **adapter**: ws2core installed (``ws2core.adapters.speakeasy.install``), a connected
  loopback pair: WSAGetLastError, select with a zero timeout on a read set of both sockets,
  send + recv of 4 bytes (every call checked: the program counts what a working Winsock
  would not have returned, and that count must be 0);
- **stock**: plain Speakeasy, its own ws2_32 handlers (fakes: select counts the sets,
  send swallows, recv answers from its config) on two unconnected sockets.  Speakeasy has
  no WSAGetLastError, so that row's stock figure is its GetLastError, which is what
  WSAGetLastError is on Windows.

Both runs also time GetCurrentProcessId, a kernel32 call Speakeasy answers itself (the
trivial call), and an empty loop, the guest's own loop overhead (Speakeasy keeps a Python
code hook on each instruction after an API call, so guest instructions are not free):
a call's time is (loop time - empty loop time) / iterations / calls per iteration, the
median over the rounds.  The clock is the process's CPU time (``time.process_time``), host
threads included: what the emulation costs, without the waits for a CPU that other load
on the machine makes (on a busy 2-CPU machine, wall-clock figures doubled between runs).

The same guest code runs around a call in both runs (FD_ZERO and FD_SET around select), so
adapter - stock is what ws2core adds to a call, and (adapter - stock) / adapter the part
of its cost that is the adapter's (ws2core and the host's socket calls under it), the rest
being Speakeasy's dispatch (an unmapped fetch, a page mapped and unmapped, unicorn's
translations flushed, the arguments read, the call logged).  That difference of two runs
is noisy (the kernel32 call, the same in both, differed by up to a third between pairs of
runs), so the adapter's run also clocks the time its calls spend inside ws2core's hooks
(each hook ``install()`` registers, wrapped): the **share** is that time over the call's,
both from the same run, with (adapter - stock) / adapter printed beside it.  Which run
goes first alternates from round to round.  ``-s`` prints the table:

    python -m pytest benchmarks/test_bench_adapter.py -s

ITERATIONS per loop and ROUNDS pairs of runs; in the short mode (``make bench-smoke``, a
``--benchmark-max-time`` under conftest's SHORT_MAX_TIME, or ``--benchmark-disable``)
SHORT_ITERATIONS and one round.  Skipped without Speakeasy (``pip install
'ws2core[speakeasy]'``) or mingw-w64.
"""

from __future__ import annotations

import importlib
import itertools
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import pytest

pytest.importorskip("speakeasy", reason="the adapter benchmark needs Speakeasy: "
                    "pip install 'ws2core[speakeasy]'")

TESTS = Path(__file__).resolve().parent.parent / "tests"
ROUNDS = 3
ITERATIONS = 500
SHORT_ITERATIONS = 40
RUN_TIMEOUT = 300.0

# The loops of each run (call_costs.c's names), and per figure: the loop, its calls per
# iteration.  WSAGetLastError's stock figure is GetLastError's (the module's docstring).
ADAPTER_LOOPS = ("empty", "GetCurrentProcessId", "GetLastError", "WSAGetLastError", "select",
                 "send_recv")
STOCK_LOOPS = tuple(loop for loop in ADAPTER_LOOPS if loop != "WSAGetLastError")
ROWS: tuple[tuple[str, str, str, int], ...] = (
    # (row, adapter run's loop, stock run's loop, calls per iteration)
    ("WSAGetLastError", "WSAGetLastError", "GetLastError", 1),
    ("select (2 sockets, 0 timeout)", "select", "select", 1),
    ("send / recv 4 B (per call)", "send_recv", "send_recv", 2),
)
TRIVIAL = "GetCurrentProcessId"


def _programs() -> ModuleType:
    """tests/emulator/programs.py, which builds and caches the test programs (tests/ is no
    package: its folders go on sys.path, as pytest puts them there for the tests)."""
    for folder in (TESTS, TESTS / "emulator"):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    return importlib.import_module("programs")


@pytest.fixture(scope="module")
def call_costs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """call_costs.c built for x86_64, kept where the emulator tests keep their builds."""
    programs = _programs()
    exe: Path = programs.build("call_costs", "x86_64",
                               programs.cache_folder(request.config, tmp_path_factory))
    return exe


class Loop(NamedTuple):
    """One loop of one run, in seconds per iteration: all of it, and what of it went inside
    ws2core's hooks (0 in the stock run)."""
    total: float
    in_hooks: float


def timed_run(exe: Path, iterations: int, adapter: bool) -> dict[str, Loop]:
    """One run of call_costs: each loop's times (the adapter's run on a loopback pair, the
    stock one on Speakeasy's fake sockets)."""
    from ws2core.adapters import speakeasy as adapter_module

    loops = ADAPTER_LOOPS if adapter else STOCK_LOOPS
    args = [str(iterations), "pair" if adapter else "plain", *loops]
    speakeasy = adapter_module._import_speakeasy()
    se, module, _ = adapter_module._loaded(speakeasy, exe, args, RUN_TIMEOUT)
    written: list[bytes] = []
    runtime = adapter_module.install_runtime(se, module, args,
                                             output=lambda stream, data: written.append(data))
    in_hooks = [0.0]
    installation = None
    if adapter:
        add_api_hook = se.add_api_hook

        def add_timed_hook(callback: Any, *args: Any, **kwargs: Any) -> Any:
            def timed(*hook_args: Any) -> Any:
                started = time.process_time()
                try:
                    return callback(*hook_args)
                finally:
                    in_hooks[0] += time.process_time() - started
            return add_api_hook(timed, *args, **kwargs)

        se.add_api_hook = add_timed_hook   # install()'s hooks alone: the markers' come after
        try:
            installation = adapter_module.install(se)
        finally:
            del se.add_api_hook
    marks: list[tuple[str, float, float]] = []

    def marker(emu: Any, api_name: str, original: Any, argv: list[int]) -> None:
        now = time.process_time()   # first: what follows is the marker's cost, not a loop's
        marks.append((emu.read_mem_string(argv[0]), now, in_hooks[0]))

    se.add_api_hook(marker, "kernel32", "OutputDebugStringA", argc=1,
                    call_conv=speakeasy.stdcall)
    try:
        se.run_module(module)
    finally:
        if installation is not None:
            installation.close()
    output = b"".join(written).decode(errors="replace")
    assert runtime.exit_status == 0, output
    assert [mark[0] for mark in marks] == [*loops, "end"], output
    if adapter:   # every call answered as a working Winsock answers it
        assert output.split("\n")[:-1] == [f"UNEXPECTED {loop} 0" for loop in loops], output
    return {name: Loop((end - start) / iterations, (hooked_end - hooked) / iterations)
            for (name, start, hooked), (_, end, hooked_end) in itertools.pairwise(marks)}


class Call(NamedTuple):
    """One call's cost in one run, in microseconds: all of it, and ws2core's hook's part."""
    total: float
    in_hooks: float


def per_call(run: dict[str, Loop], loop: str, calls: int) -> Call:
    """A call of ``loop`` (``calls`` per iteration), the guest's own loop overhead (the empty
    loop's) taken off."""
    return Call((run[loop].total - run["empty"].total) / calls * 1e6,
                run[loop].in_hooks / calls * 1e6)


def interleaved(exe: Path, iterations: int, rounds: int) -> Iterator[tuple[dict[str, Loop],
                                                                          dict[str, Loop]]]:
    """``rounds`` pairs of runs (adapter, stock), the one that goes first alternating."""
    for round_number in range(rounds):
        if round_number % 2:
            stock = timed_run(exe, iterations, adapter=False)
            yield timed_run(exe, iterations, adapter=True), stock
        else:
            adapter = timed_run(exe, iterations, adapter=True)
            yield adapter, timed_run(exe, iterations, adapter=False)


def test_adapter_share(benchmark: Any, call_costs: Path, short_mode: bool) -> None:
    iterations, rounds = (SHORT_ITERATIONS, 1) if short_mode else (ITERATIONS, ROUNDS)
    benchmark.group = "Speakeasy adapter, per guest call"
    runs: list[tuple[dict[str, Loop], dict[str, Loop]]] = []
    benchmark.pedantic(lambda: runs.extend(interleaved(call_costs, iterations, rounds)),
                       rounds=1, iterations=1)

    print(f"\nSpeakeasy guest (x86_64), us per call: median of {rounds} interleaved pair(s) "
          f"of runs, {iterations:,} iterations per loop")
    print(f"{'call':<40}{'adapter':>9}{'in ws2core':>12}{'share':>7}{'stock':>9}"
          f"{'(a-s)/a':>9}")
    print("(share: in ws2core / adapter, from one run; (a-s)/a: from two runs' difference, as "
          "noisy as the trivial call's row shows)")
    rows = [*ROWS, (f"{TRIVIAL} (kernel32, trivial)", TRIVIAL, TRIVIAL, 1)]
    for row, adapter_loop, stock_loop, calls in rows:
        adapter = [per_call(run, adapter_loop, calls) for run, _ in runs]
        stock = statistics.median(per_call(run, stock_loop, calls).total for _, run in runs)
        total = statistics.median(call.total for call in adapter)
        in_hooks = statistics.median(call.in_hooks for call in adapter)
        share = statistics.median(call.in_hooks / call.total for call in adapter)
        print(f"{row:<40}{total:>9.1f}{in_hooks:>12.1f}{share:>7.0%}{stock:>9.1f}"
              f"{(total - stock) / total:>9.0%}")
        benchmark.extra_info.update({f"{adapter_loop} adapter us": total,
                                     f"{adapter_loop} in ws2core us": in_hooks,
                                     f"{adapter_loop} adapter share": share,
                                     f"{adapter_loop} stock us": stock})
        assert total > 0 and stock > 0
        if adapter_loop == TRIVIAL:   # Speakeasy's own in both runs: no ws2core hook ran
            assert in_hooks == 0
        else:
            assert in_hooks > 0
