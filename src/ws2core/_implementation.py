"""The one place that decides which core ws2core uses, and loads it.

Two cores implement layer 0 (the handle table, FdSet, the FD_* functions): the Cython
extension ``ws2core._handles`` and its pure-Python twin ``ws2core._handles_py``.
``WS2CORE_PURE_PYTHON=1`` (exactly "1"; unset, empty or "0" mean no) asks for the twin
everywhere: the build skips the extension (setup.py loads this file by path), ``import
ws2core`` uses the twin, and the test suite, the pytest plugin, the bench and the fuzzers run
the twin alone.  Nothing else reads the variable: they all ask this module.  The test
suite and the pytest plugin also read ``WS2CORE_TEST_CORES`` (a comma-separated list,
"cython" or "python"), which narrows the cores a run tests without changing which one
``import ws2core`` uses: a sanitizer run, say, which only the compiled core can benefit from.

A core is imported only when it is used (``chosen()``, ``load(name)``), so ``import ws2core``
loads one core; ``core_of(obj)`` names the core an object came from without importing the
other one.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

ENVIRONMENT_VARIABLE = "WS2CORE_PURE_PYTHON"
TEST_CORES_VARIABLE = "WS2CORE_TEST_CORES"

# The cores by name, as ws2core.IMPLEMENTATION and test ids (test_x[cython]) spell them.
CORE_MODULES = {"cython": "ws2core._handles", "python": "ws2core._handles_py"}
_CORE_NAMES = {module: name for name, module in CORE_MODULES.items()}


def pure_python_requested() -> bool:
    """Whether WS2CORE_PURE_PYTHON=1 asks for the pure-Python twin alone."""
    return os.environ.get(ENVIRONMENT_VARIABLE, "") == "1"


def cores_under_test() -> list[str]:
    """The cores a test suite or benchmark runs against: both, or the twin alone when asked
    (WS2CORE_PURE_PYTHON=1), narrowed to those WS2CORE_TEST_CORES names.  A narrowing that
    would leave no core (cython where only the twin is: a test's subprocess asking for the
    twin inherits the variable) is ignored; a name that is no core is a ValueError."""
    available = ["python"] if pure_python_requested() else ["cython", "python"]
    chosen = [name.strip() for name in os.environ.get(TEST_CORES_VARIABLE, "").split(",")
              if name.strip()]
    unknown = [name for name in chosen if name not in CORE_MODULES]
    if unknown:
        raise ValueError(f"{TEST_CORES_VARIABLE} names {', '.join(unknown)}: the cores are "
                         f"{', '.join(CORE_MODULES)}")
    return [name for name in available if name in chosen] or available


def load(name: str) -> ModuleType:
    """The core called ``name`` ("cython" or "python"), imported on first use.

    ImportError (ModuleNotFoundError naming ``ws2core._handles``) when the Cython core was
    not built; KeyError for any other name.
    """
    return importlib.import_module(CORE_MODULES[name])


def chosen() -> ModuleType:
    """The core ``import ws2core`` uses: the Cython core, or the twin when asked or unbuilt.

    A Cython core that is present but fails to import (a broken build, a missing symbol) is
    an error, not a reason to fall back: a broken build should be loud, not slow.
    """
    if pure_python_requested():
        return load("python")
    try:
        # import_module, not `from . import`: only it raises ModuleNotFoundError naming the
        # missing module, which tells an absent extension from a broken one.
        return load("cython")
    except ModuleNotFoundError as missing:
        if missing.name != CORE_MODULES["cython"]:
            raise
        return load("python")


def name_of(core: ModuleType) -> str:
    """"cython" or "python" for a core module; ValueError for any other module."""
    try:
        return _CORE_NAMES[core.__name__]
    except KeyError:
        raise ValueError(f"{core.__name__} is not a ws2core core") from None


def core_of(obj: object) -> ModuleType | None:
    """The core module whose class ``obj`` is an instance of (a subclass's too), or None.

    Reads only the class's own ``__module__`` chain: it never imports a core, since a core
    that was never imported made no object.
    """
    for cls in type(obj).__mro__:
        if cls.__module__ in _CORE_NAMES:
            return importlib.import_module(cls.__module__)
    return None
