"""Fixtures: every behavioural test runs once per core (Cython and the pure-Python twin).

Test bodies never name a core: they take ``core`` (the implementation module) or a fixture
derived from it, so ids read ``test_close_twice[cython]`` / ``test_close_twice[python]``.
The Cython core missing is a failure, not a skip, unless WS2CORE_PURE_PYTHON=1 asks for the
twin alone (exactly "1", as in setup.py and ws2core/__init__.py).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

import ws2core
from ws2core import _implementation

pytest_plugins = ("pytester",)  # tests/test_plugin.py runs pytest on small test files

CORE_MODULES = _implementation.CORE_MODULES
PURE_PYTHON_ONLY = _implementation.pure_python_requested()
CORES = _implementation.cores_under_test()


def pytest_report_header(config: pytest.Config) -> list[str]:
    return [
        f"ws2core {ws2core.__version__}: IMPLEMENTATION={ws2core.IMPLEMENTATION!r}, "
        f"cores under test: {', '.join(CORES)}"
    ]


def load_core(name: str) -> ModuleType:
    try:
        return _implementation.load(name)
    except ImportError as exc:
        missing = exc
    # Outside the except block, so the report is one line, not a chained traceback.
    pytest.fail(
        f"{name} core missing ({missing}); build it with `pip install -e '.[test]'`, "
        "or set WS2CORE_PURE_PYTHON=1 to test the twin alone",
        pytrace=False,
    )


@pytest.fixture(scope="session", params=CORES)
def core(request: pytest.FixtureRequest) -> ModuleType:
    """The implementation module under test: ws2core._handles or ws2core._handles_py."""
    return load_core(request.param)


@pytest.fixture
def table(core: ModuleType) -> Any:
    """A fresh HandleTable of the core under test."""
    return core.HandleTable()


@pytest.fixture
def small_table(core: ModuleType) -> Any:
    """A HandleTable of the core under test with max_handles=4."""
    return core.HandleTable(max_handles=4)


@pytest.fixture
def upcalls(table: Any) -> ws2core.UpcallTable:
    """An UpcallTable over a fresh HandleTable of the core under test."""
    return ws2core.UpcallTable(table)


@pytest.fixture
def Ref(core: ModuleType) -> Any:
    """The core's own out-parameter holder (the one it writes at C speed)."""
    return core.Ref


@pytest.fixture
def FdSet(core: ModuleType) -> Any:
    """The core's FdSet class."""
    return core.FdSet


@pytest.fixture
def frequent_switches() -> Iterator[None]:
    """Make the interpreter switch threads often, so operations interleave finely."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(old)
