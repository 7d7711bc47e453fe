"""The ws2core pytest plugin: fixtures for testing a provider against ws2core.

Installing ws2core registers it (entry point ``pytest11``, name ``ws2core``); ``-p no:ws2core``
turns it off.  It gives two fixtures and a marker:

- ``ws2core_core``: the core module, once per core (ids ``[cython]`` and ``[python]``);
- ``upcall_table``: a fresh ``ws2core.UpcallTable`` per test, whose handles must all be closed
  by the end of the test, or the test errors at teardown;
- ``@pytest.mark.ws2core_allow_leaks``: no leak check for that test.

ws2core itself never imports pytest; only this module does.
"""

from __future__ import annotations

import reprlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

import ws2core
from ws2core import _implementation

__all__ = ["pytest_configure", "upcall_table", "ws2core_core"]

_CORE_MODULES = _implementation.CORE_MODULES
_MARKER = "ws2core_allow_leaks"
_MAX_REPORTED = 20  # leaked handles listed one per line; the rest are counted

_context_repr = reprlib.Repr()
_context_repr.maxother = _context_repr.maxstring = 60


def _cores() -> list[str]:
    # As ws2core and its own suite read it: exactly "1" means the twin alone.
    return _implementation.cores_under_test()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{_MARKER}: the upcall_table fixture does not fail the test for handles "
        "left open at teardown (it still closes them).",
    )


@pytest.fixture(scope="session", params=_cores())
def ws2core_core(request: pytest.FixtureRequest) -> ModuleType:
    """ws2core's core module: the test runs once per core, ids ``[cython]`` and ``[python]``.

    The value is ``ws2core._handles`` (the Cython core) or ``ws2core._handles_py`` (the
    pure-Python twin); build tables with ``ws2core_core.HandleTable()``.  Where the Cython
    core was not built (no C compiler at install time), ``[cython]`` is skipped, saying so.
    With ``WS2CORE_PURE_PYTHON=1`` there is no ``[cython]`` at all.  An ``upcall_table`` in
    the same test is over this core.  Session-scoped: pytest groups the tests by core.
    """
    name: str = request.param
    try:
        return _implementation.load(name)
    except ModuleNotFoundError as missing:
        if missing.name != _CORE_MODULES[name]:
            raise  # a module the core needs is missing: that is a broken install, say so
    pytest.skip(
        f"ws2core's Cython core ({_CORE_MODULES[name]}) is not built, e.g. no C compiler at "
        "install time; only the pure-Python twin is tested (WS2CORE_PURE_PYTHON=1 drops "
        "the [cython] tests)"
    )


@pytest.fixture
def upcall_table(request: pytest.FixtureRequest) -> Iterator[ws2core.UpcallTable]:
    """A fresh ``ws2core.UpcallTable`` for this test; every handle must be closed by its end.

    The table is over the core in use: the ``ws2core_core`` of the test when it (or a fixture
    it uses) asks for that, else ws2core's default core (``ws2core.IMPLEMENTATION``).
    ``upcall_table.table`` is its ``HandleTable``.  At teardown, handles still open make the
    test error, listing each leaked handle (value, kind, catalog entry and context of a socket,
    whether an event is signalled); ``@pytest.mark.ws2core_allow_leaks`` skips that check.
    Either way the table is then closed, so the leaked contexts are released.
    """
    table: Any
    if "ws2core_core" in request.fixturenames:
        table = request.getfixturevalue("ws2core_core").HandleTable()
    else:
        table = ws2core.HandleTable()
    up = ws2core.UpcallTable(table)
    yield up
    report = None
    try:
        if len(table) and request.node.get_closest_marker(_MARKER) is None:
            report = _leak_report(table)
    finally:
        table.close()  # before failing: the exception's traceback keeps this frame alive
    if report is not None:
        pytest.fail(report, pytrace=False)


def _leak_report(table: Any) -> str:
    handles = list(table)
    lines = [
        f"upcall_table: {len(handles)} handle{'' if len(handles) == 1 else 's'} still open at "
        f"teardown (close them, or mark the test @pytest.mark.{_MARKER}):"
    ]
    for h in handles[:_MAX_REPORTED]:
        kind = table.kind(h)
        if kind == "socket":
            detail = (
                f"socket, catalog entry {table.catalog_entry(h)}, "
                f"context {_context_repr.repr(table.context(h))}"
            )
        elif kind == "event":
            detail = f"event, {'signalled' if table.event_is_set(h) else 'not signalled'}"
        else:
            detail = "closed while the report was written"
        lines.append(f"  {h:#x}: {detail}")
    if len(handles) > _MAX_REPORTED:
        lines.append(f"  ... and {len(handles) - _MAX_REPORTED} more")
    return "\n".join(lines)
