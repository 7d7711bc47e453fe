"""What each public module loads when imported alone, in a fresh interpreter.

``import ws2core`` loads one core (the one in use: the twin only when it is that core) and none
of the upper layers (provider, ws2_32, guest, adapters, the bench) nor asyncio, which only a
coroutine that waits needs.  Each upper layer loads the layers below it and nothing above: the
layering of DESIGN.md §3, checked where a stray import would break it.  Each case runs in a
subprocess, since this process has long imported everything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ws2core import _implementation

CORE_MODULES = set(_implementation.CORE_MODULES.values())
TOOLS = ("ws2core._bench", "ws2core.demo")  # the command line's, never a library's
EMULATORS = ("speakeasy", "unicorn")
UPPER_LAYERS = ("ws2core.provider", "ws2core.ws2_32", "ws2core.kernel32", "ws2core.guest",
                "ws2core.adapters", *TOOLS)

# module imported alone -> prefixes of the modules it must not load.  Every submodule runs
# ws2core/__init__.py first, so each of them loads the core in use too, and only that one.
MUST_NOT_LOAD = {
    # The catalog and the uuid module its GUIDs need load when a catalog is first asked for
    # (on Python 3.10 uuid loads subprocess and selectors too).
    "ws2core": (*UPPER_LAYERS, "asyncio", "socket", "selectors", "uuid", "ws2core.catalog"),
    "ws2core.constants": (*UPPER_LAYERS, "asyncio"),
    "ws2core.structs": (*UPPER_LAYERS, "asyncio"),
    "ws2core.upcalls": (*UPPER_LAYERS, "asyncio"),
    "ws2core.catalog": (*UPPER_LAYERS, "asyncio", "socket"),
    "ws2core.provider": ("ws2core.ws2_32", "ws2core.guest", "ws2core.adapters", *TOOLS, *EMULATORS),
    "ws2core.ws2_32": ("ws2core.kernel32", "ws2core.guest", "ws2core.adapters", *TOOLS,
                       *EMULATORS),
    "ws2core.kernel32": ("ws2core.guest", "ws2core.adapters", *TOOLS, *EMULATORS),
    "ws2core.guest": ("ws2core.adapters", *TOOLS, *EMULATORS),
    "ws2core.adapters.speakeasy": TOOLS,
    "ws2core.pytest_plugin": (*UPPER_LAYERS, "asyncio"),
}

PROBE = """
import json, sys
before = set(sys.modules)
import importlib
importlib.import_module(sys.argv[1])
print(json.dumps(sorted(set(sys.modules) - before)))
"""


def loaded_by(module: str, pure_python: bool) -> list[str]:
    env = dict(os.environ)
    env.pop(_implementation.ENVIRONMENT_VARIABLE, None)
    if pure_python:
        env[_implementation.ENVIRONMENT_VARIABLE] = "1"
    out = subprocess.run([sys.executable, "-c", PROBE, module], env=env, check=True,
                         capture_output=True, text=True).stdout
    loaded: list[str] = json.loads(out)
    return loaded


def _matches(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize("pure_python", [False, True], ids=["default", "pure_python"])
@pytest.mark.parametrize("module", sorted(MUST_NOT_LOAD))
def test_a_module_alone_loads_one_core_and_nothing_above_it(module: str, pure_python: bool) -> None:
    if not pure_python and _implementation.pure_python_requested():
        pytest.skip("WS2CORE_PURE_PYTHON=1: the Cython core is not under test (it may not be built)")
    loaded = loaded_by(module, pure_python)
    assert module in loaded
    stray = [name for name in loaded for prefix in MUST_NOT_LOAD[module]
             if _matches(name, prefix)]
    assert stray == [], f"import {module} loaded {stray}"
    cores = sorted(CORE_MODULES.intersection(loaded))
    assert cores == [_implementation.CORE_MODULES["python" if pure_python else "cython"]]


def test_a_table_loads_its_catalog_when_first_asked() -> None:
    probe = """
import sys
import ws2core
up = ws2core.UpcallTable()
assert "ws2core.catalog" not in sys.modules and "uuid" not in sys.modules
catalog = up.catalog
assert catalog is up.catalog and "ws2core.catalog" in sys.modules
assert len(catalog.protocols()) == 4
assert str(ws2core.WSAID_CONNECTEX) == "25a207b9-ddf3-4660-8ee9-76e58c74063e"
assert ws2core.WSAID_CONNECTEX is ws2core.constants.WSAID_CONNECTEX
assert "WSAID_ACCEPTEX" in dir(ws2core.constants)
"""
    subprocess.run([sys.executable, "-c", probe], check=True)


def test_waits_without_a_coroutine_never_load_asyncio() -> None:
    """wait_async imports asyncio when a coroutine first waits; threads and upcalls never do."""
    probe = """
import sys
from pathlib import Path
import ws2core
up = ws2core.UpcallTable()
err = ws2core.Ref()
e = up.WPUCreateEvent(err)
assert up.table.wait([e], timeout=0) is None
up.WPUSetEvent(e, err)
assert up.WSAWaitForMultipleEvents(1, [e], False, 0, False) == ws2core.WSA_WAIT_EVENT_0
assert "asyncio" not in sys.modules, sorted(m for m in sys.modules if m.startswith("asyncio"))
"""
    subprocess.run([sys.executable, "-c", probe], check=True)


def test_a_clone_named_ws2core_in_the_working_folder_does_not_shadow_the_package(
    tmp_path: Path,
) -> None:
    """A clone's top folder has no __init__.py (the package is under src/): Python sees a
    namespace package at most, and the installed regular package wins over it."""
    clone = tmp_path / "ws2core"
    (clone / "src" / "ws2core").mkdir(parents=True)
    (clone / "README.md").write_text("a clone of ws2core\n")
    probe = "import ws2core; print(ws2core.__file__); print(ws2core.IMPLEMENTATION)"
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, check=True,
                         capture_output=True, text=True).stdout.split()
    assert out[0] != "None" and not out[0].startswith(str(clone))
    assert out[1] in _implementation.CORE_MODULES


@pytest.mark.parametrize(("chosen", "pure_python", "expected"), [
    ("", False, ["cython", "python"]),
    ("cython", False, ["cython"]),
    (" python ,cython", False, ["cython", "python"]),   # the cores' own order, not the list's
    ("python", True, ["python"]),
    ("", True, ["python"]),
    ("cython", True, ["python"]),   # nothing left to test: the twin asked for stands
])
def test_test_cores_narrows_the_cores_under_test(monkeypatch: pytest.MonkeyPatch, chosen: str,
                                                 pure_python: bool, expected: list[str]) -> None:
    monkeypatch.setenv(_implementation.TEST_CORES_VARIABLE, chosen)
    monkeypatch.setenv(_implementation.ENVIRONMENT_VARIABLE, "1" if pure_python else "")
    assert _implementation.cores_under_test() == expected


@pytest.mark.parametrize(("chosen", "pure_python"), [("cyton", False), ("python,pyton", True)])
def test_test_cores_refuses_a_name_that_is_no_core(monkeypatch: pytest.MonkeyPatch, chosen: str,
                                             pure_python: bool) -> None:
    monkeypatch.setenv(_implementation.TEST_CORES_VARIABLE, chosen)
    monkeypatch.setenv(_implementation.ENVIRONMENT_VARIABLE, "1" if pure_python else "")
    with pytest.raises(ValueError, match="pyton" if pure_python else chosen):
        _implementation.cores_under_test()
