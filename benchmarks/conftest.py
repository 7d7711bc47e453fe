"""Fixtures for the benchmarks: each operation timed on both cores, as the tests run them.

The timed cases are the report's own (``ws2core._bench.cases``, the one list that ``python -m
ws2core bench`` reads too): a file here parametrizes over its section's cases and their floors
and hands each to ``time_case``; what only pytest-benchmark times (the provider's sockets, the
native table from C, the wake-up latencies) is written in its file.

Self-contained on purpose (tests/conftest.py is not imported): ``python -m pytest benchmarks``
must not depend on the test tree.  The core choice follows the same rule as setup.py,
ws2core/__init__.py and tests/conftest.py: WS2CORE_PURE_PYTHON=1 (exactly "1") times the twin
alone; otherwise a missing Cython core fails the run, so a benchmark never quietly compares the
twin with itself.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from types import ModuleType
from typing import Any

import pytest

import ws2core
from ws2core import _implementation
from ws2core._bench import timing
from ws2core._bench.cases import CYTHON, Case, floors

CORES = _implementation.cores_under_test()


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        f"ws2core {ws2core.__version__}: IMPLEMENTATION={ws2core.IMPLEMENTATION!r},"
        f" cores timed: {', '.join(CORES)}"
    ]


@pytest.fixture(scope="session", params=CORES)
def core(request: pytest.FixtureRequest) -> ModuleType:
    """The implementation module being timed: ws2core._handles or ws2core._handles_py."""
    try:
        return _implementation.load(request.param)
    except ImportError as exc:
        missing = exc
    # Failed outside the except block, so the report is the one line below, not a chain.
    pytest.fail(
        f"{request.param} core missing ({missing}); WS2CORE_PURE_PYTHON=1 times the twin alone",
        pytrace=False,
    )


@pytest.fixture
def table(core: ModuleType) -> Any:
    """A fresh HandleTable of the core being timed."""
    return core.HandleTable()


@pytest.fixture
def upcalls(table: Any) -> ws2core.UpcallTable:
    """An UpcallTable over ``table``: the drop-in path a provider calls."""
    return ws2core.UpcallTable(table)


TimeCase = Callable[..., None]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``case`` runs over the module's CASES, ``floor, group`` over their floors and groups."""
    cases: list[Case] = getattr(metafunc.module, "CASES", [])
    if "case" in metafunc.fixturenames:
        metafunc.parametrize("case", cases, ids=str)
    if "floor" in metafunc.fixturenames:
        metafunc.parametrize(("floor", "group"), floors(cases), ids=str)


@pytest.fixture(scope="module")
def case_names() -> Iterator[dict[tuple[str, str], dict[str, Any]]]:
    """The names each case fixture built, per core, shared by a file's cases as the report
    shares them by a table's (the scaling tiers are built once per core, not per test)."""
    built: dict[tuple[str, str], dict[str, Any]] = {}
    yield built
    built.clear()


@pytest.fixture
def time_case(benchmark: Any, case_names: dict[tuple[str, str], dict[str, Any]]) -> TimeCase:
    """``time_case(case, core)``: check the case on ``core``, time it, check it again;
    ``time_case(floor, None, group, beside)``: the floor over the twin's names in ``group``,
    through a wrapper function when a case of ``beside`` in that group needs one."""

    def run(case: Case, core: ModuleType | None, group: str = "", beside: list[Case] = []) -> None:
        if core is not None and case.applies == CYTHON and _implementation.name_of(core) != "cython":
            pytest.skip(f"{case.name}: the Cython core only")
        core = core or _implementation.load("python")  # a floor: the twin is always there
        key = (case.fixture.key, core.__name__)
        if key not in case_names:
            case_names[key] = case.fixture.build(core)
        names = case_names[key]
        if not case.available(names):
            pytest.skip(f"{core.__name__} has no {', '.join(case.needs)} yet")
        assert eval(case.check, dict(names)), f"{case.name}: {case.check}"  # noqa: S307
        benchmark.group = group or case.group_name
        wrap = any(timing.needs_wrapper(c) for c in beside if c.group_name == group)
        function, arguments = timing.benchmark_call(case, names, wrap)
        benchmark(function, *arguments)
        assert eval(case.check, dict(names)), f"{case.name} after timing: {case.check}"  # noqa: S307

    return run


@contextmanager
def _more_descriptors(needed: int) -> Iterator[None]:
    """At least ``needed`` more descriptors allowed (soft RLIMIT_NOFILE raised), or a skip."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        open_now = len(os.listdir("/proc/self/fd"))
    except OSError:
        open_now = 256  # a guess where /proc is missing
    wanted = open_now + needed
    if soft != resource.RLIM_INFINITY and soft < wanted:
        if hard != resource.RLIM_INFINITY and hard < wanted:
            pytest.skip(f"{needed} descriptors needed: RLIMIT_NOFILE's hard limit is {hard}")
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        try:
            yield
        finally:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    else:
        yield


@pytest.fixture
def descriptors() -> Callable[[int], AbstractContextManager[None]]:
    """``with descriptors(n):`` at least ``n`` more descriptors allowed for the block (the
    soft RLIMIT_NOFILE raised up to the hard limit, then put back), or the test skipped:
    for the tests that hold a thousand sockets."""
    return _more_descriptors


SHORT_MAX_TIME = 0.1  # a --benchmark-max-time under this (seconds) is the short mode


@pytest.fixture
def short_mode(benchmark: Any, request: pytest.FixtureRequest) -> bool:
    """The short mode: ``make bench-smoke`` (a ``--benchmark-max-time`` under SHORT_MAX_TIME;
    the CI's is 0.02) or ``--benchmark-disable``, where a test that sizes its own runs makes
    them small."""
    return not benchmark.enabled or float(
        request.config.getoption("benchmark_max_time")) < SHORT_MAX_TIME
