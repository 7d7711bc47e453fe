"""Fixtures for the benchmarks: each operation timed on both cores, as the tests run them.

Self-contained on purpose (tests/conftest.py is not imported): ``python -m pytest benchmarks``
must not depend on the test tree.  The core choice follows the same rule as setup.py,
ws2core/__init__.py and tests/conftest.py: WS2CORE_PURE_PYTHON=1 (exactly "1") times the twin
alone; otherwise a missing Cython core fails the run, so a benchmark never quietly compares the
twin with itself.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

import ws2core
from ws2core import _implementation

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


@pytest.fixture
def full_set(core: ModuleType, table: Any) -> tuple[Any, int, int]:
    """(a full 64-entry FdSet of live sockets, its 64th entry, a live socket not in it).

    The hit is the last entry so that hit and miss both scan the whole set: the figures then
    compare the scan, not where the match happens to sit.
    """
    socks = [table.create_socket(7) for _ in range(ws2core.FD_SETSIZE + 1)]
    return core.FdSet(socks[:-1]), socks[-2], socks[-1]
