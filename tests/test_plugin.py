"""The pytest plugin (ws2core/pytest_plugin.py), through pytest runs of small test files.

Each run is a fresh ``python -m pytest`` process (pytester's ``runpytest_subprocess``): the
plugin is found the way a user's pytest finds it, through the installed distribution's
``pytest11`` entry point, and nothing an inner run does (a leaked handle, a core made to look
unbuilt) reaches this process.

1. A test that leaks handles through ``upcall_table`` passes its body and errors at teardown,
   naming each leaked handle in hex, its kind, a socket's catalog entry and a truncated
   context, an event's state; a test that closes everything passes; the
   ``ws2core_allow_leaks`` marker (registered: the run uses ``--strict-markers``) suppresses
   the error; either way the table is closed and the leaked contexts are released.
2. ``ws2core_core`` runs a test once per core, ids ``[cython]`` and ``[python]`` (``[python]``
   alone under WS2CORE_PURE_PYTHON=1); ``upcall_table`` is over that core when the test, or a
   fixture it uses, asks for ``ws2core_core``, else over ws2core's default core.
3. Where the Cython core cannot be imported, ``[cython]`` is skipped with the reason.
4. The plugin is registered under the name ``ws2core``; ``-p no:ws2core`` removes its fixtures;
   ``--fixtures`` shows them with their docstrings.
"""

from __future__ import annotations


import pytest

from ws2core import _implementation

# Asked of ws2core, as tests/conftest.py does (not imported from it: under `pytest .` the name
# `conftest` may be benchmarks/conftest.py).
PURE_PYTHON_ONLY = _implementation.pure_python_requested()
CORES = _implementation.cores_under_test()

LEAKS = """
import weakref
from pathlib import Path

import pytest
import ws2core

RELEASED = []  # weakrefs to the contexts the tests below leak
TABLES = []    # the fixture's tables, to look at after their teardown


class Context:
    def __repr__(self):
        return "Context(" + "x" * 200 + ")"


def test_leaks(upcall_table):
    err = ws2core.Ref()
    context = Context()
    RELEASED.append(weakref.ref(context))
    s = upcall_table.WPUCreateSocketHandle(1001, context, err)
    signalled = upcall_table.WPUCreateEvent(err)
    assert upcall_table.WPUSetEvent(signalled, err)
    quiet = upcall_table.WPUCreateEvent(err)
    TABLES.append(upcall_table)
    Path({handles_file!r}).write_text(f"{{s:#x}} {{signalled:#x}} {{quiet:#x}}")


def test_closes_everything(upcall_table):
    assert len(upcall_table.table) == 0  # a fresh table, though the test before leaked
    err = ws2core.Ref()
    s = upcall_table.WPUCreateSocketHandle(7, None, err)
    e = upcall_table.WPUCreateEvent(err)
    assert upcall_table.WPUCloseSocketHandle(s, err) == 0
    assert upcall_table.WPUCloseEvent(e, err)


@pytest.mark.ws2core_allow_leaks
def test_allowed_to_leak(upcall_table):
    context = Context()
    RELEASED.append(weakref.ref(context))
    upcall_table.table.create_socket(1002, context)
    upcall_table.table.create_event()
    TABLES.append(upcall_table)


def test_leaked_contexts_released():
    assert len(RELEASED) == 2 and [r() for r in RELEASED] == [None, None]
    assert [len(up.table) for up in TABLES] == [0, 0]
"""

CORE_CHOICE = """
import pytest
import ws2core
import ws2core.pytest_plugin

MODULES = {"cython": "ws2core._handles", "python": "ws2core._handles_py"}


@pytest.fixture
def provider_core(ws2core_core):
    return ws2core_core.__name__


def test_core(ws2core_core, upcall_table, request):
    assert ws2core_core.__name__ == MODULES[request.node.callspec.params["ws2core_core"]]
    assert type(upcall_table.table).__module__ == ws2core_core.__name__


def test_table_asked_first(upcall_table, ws2core_core):
    assert type(upcall_table.table).__module__ == ws2core_core.__name__


def test_core_through_a_fixture(upcall_table, provider_core):
    assert type(upcall_table.table).__module__ == provider_core


def test_default_core(upcall_table):
    assert type(upcall_table.table) is ws2core.HandleTable
    assert type(upcall_table.table).__module__ == MODULES[ws2core.IMPLEMENTATION]


def test_registered_as_ws2core(pytestconfig):
    assert pytestconfig.pluginmanager.get_plugin("ws2core") is ws2core.pytest_plugin
"""


@pytest.fixture(autouse=True)
def plugins_autoload(monkeypatch: pytest.MonkeyPatch) -> None:
    """The inner runs find the plugin through its entry point, as a user's pytest does."""
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)


def test_leaks_fail_at_teardown_and_contexts_are_released(pytester: pytest.Pytester) -> None:
    handles_file = pytester.path / "handles.txt"
    pytester.makepyfile(test_leaks=LEAKS.format(handles_file=str(handles_file)))
    result = pytester.runpytest_subprocess("-v", "--strict-markers", "-p", "no:randomly", timeout=60)
    result.assert_outcomes(passed=4, errors=1)
    socket, signalled, quiet = handles_file.read_text().split()
    result.stdout.fnmatch_lines(
        [
            "*test_leaks.py::test_leaks PASSED*",
            "*test_leaks.py::test_leaks ERROR*",
            "*test_leaks.py::test_closes_everything PASSED*",
            "*test_leaks.py::test_allowed_to_leak PASSED*",
            "*test_leaks.py::test_leaked_contexts_released PASSED*",
            "*ERROR at teardown of test_leaks*",
            "upcall_table: 3 handles still open at teardown (close them, or mark the test "
            "@pytest.mark.ws2core_allow_leaks):",
            f"  {socket}: socket, catalog entry 1001, context Context(xxx*...*xxx)",
            f"  {signalled}: event, signalled",
            f"  {quiet}: event, not signalled",
        ]
    )
    assert "x" * 100 not in result.stdout.str()  # the context's repr is cut short
    assert int(socket, 16) and int(signalled, 16) and int(quiet, 16)


def test_core_param_and_table_over_that_core(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_cores=CORE_CHOICE)
    result = pytester.runpytest_subprocess("-v", timeout=60)
    result.assert_outcomes(passed=3 * len(CORES) + 2)
    out = result.stdout.str()
    for name in ("test_core", "test_table_asked_first", "test_core_through_a_fixture"):
        for core in ("cython", "python"):
            assert (f"test_cores.py::{name}[{core}] PASSED" in out) == (core in CORES), core


def test_cython_core_missing_is_a_skip(pytester: pytest.Pytester,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(_implementation.TEST_CORES_VARIABLE, raising=False)  # both cores here
    pytester.makeconftest(
        """
        import sys
        sys.modules["ws2core._handles"] = None  # imports of the Cython core fail, as if unbuilt
        """
    )
    pytester.makepyfile(
        """
        def test_core(ws2core_core):
            assert ws2core_core.__name__ == "ws2core._handles_py"
        """
    )
    result = pytester.runpytest_subprocess("-v", "-rs", timeout=60)
    if PURE_PYTHON_ONLY:
        result.assert_outcomes(passed=1)
        assert "[cython]" not in result.stdout.str()
    else:
        result.assert_outcomes(passed=1, skipped=1)
        result.stdout.fnmatch_lines(
            [
                "*::test_core[[]cython[]] SKIPPED*",
                "*::test_core[[]python[]] PASSED*",
                "SKIPPED [[]1[]] *: ws2core's Cython core (ws2core._handles) is not built*",
            ]
        )


def test_p_no_ws2core_removes_the_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def test_table(upcall_table):
            pass

        def test_core(ws2core_core):
            pass
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:ws2core", timeout=60)
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        ["*fixture 'upcall_table' not found*", "*fixture 'ws2core_core' not found*"]
    )


def test_fixtures_listed_with_their_docstrings(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess("--fixtures", "-v", timeout=60)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "*fixtures defined from ws2core.pytest_plugin*",
            "ws2core_core [[]session scope[]] -- *pytest_plugin.py:*",
            "    ws2core's core module: the test runs once per core*",
            "upcall_table -- *pytest_plugin.py:*",
            "    A fresh ``ws2core.UpcallTable`` for this test; every handle must be closed*",
        ]
    )
