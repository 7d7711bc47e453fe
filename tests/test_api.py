"""The public API as a whole: core parity, the core choice, version, package data, ``__all__``.

1. Parity (CONVENTIONS.md, Tests): both core modules present the same public names; for
   ``HandleTable``, ``FdSet`` and ``Ref`` the same public methods and attributes, and the same
   ``inspect.signature`` per method, module function and constructor wherever both expose one
   (a Cython callable without a signature is reported by its own test); every name
   ``_handles.pyi`` declares exists in both cores; the constants both cores carry agree.
2. The core choice (CONVENTIONS.md, WS2CORE_PURE_PYTHON): checked in subprocesses, never by
   re-importing ws2core here: unset, empty, ``0`` or anything but exactly ``1`` selects the
   Cython core, ``1`` the twin; ``ws2core``'s re-exports are the chosen core's objects.
3. ``ws2core.__version__`` is the installed distribution's version.
4. ``py.typed``, ``_handles.pyi`` and ``_handles.pxd`` ship beside the package.
5. ``ws2core.__all__`` resolves and holds the names DESIGN.md §2 makes public.
6. The pytest header reports ``IMPLEMENTATION``.
"""

from __future__ import annotations

import ast
import importlib
import importlib.metadata
import inspect
import os
import pydoc
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import ws2core
from ws2core import constants

try:  # pytest puts tests/ on sys.path (rootdir-based), so conftest imports as a module
    import conftest
    from conftest import CORE_MODULES, CORES, PURE_PYTHON_ONLY, load_core
except ImportError:  # pragma: no cover - run outside pytest's usual layout
    conftest = None  # type: ignore[assignment]
    from ws2core import _implementation

    CORE_MODULES = _implementation.CORE_MODULES
    PURE_PYTHON_ONLY = _implementation.pure_python_requested()
    CORES = _implementation.cores_under_test()

    def load_core(name: str) -> ModuleType:
        try:
            return _implementation.load(name)
        except ImportError as exc:
            pytest.fail(f"{name} core missing ({exc})", pytrace=False)


PACKAGE_DIR = Path(ws2core.__file__).resolve().parent
STUB = PACKAGE_DIR / "_handles.pyi"
CLASSES = ["HandleTable", "HotUpcalls", "FdSet", "Ref"]


def public(obj: Any) -> set[str]:
    return {name for name in dir(obj) if not name.startswith("_")}


def methods(cls: type) -> set[str]:
    return {name for name in public(cls) if callable(getattr(cls, name))}


def signature_text(obj: Any) -> str | None:
    """The signature's shape (names, kinds, defaults) as text; None when there is none.

    Annotations are dropped: the twin has them, compiled Cython functions do not, and the
    stub is where types live (mypy checks them there).
    """
    try:
        signature = inspect.signature(obj)
    except (ValueError, TypeError):
        return None
    bare = [parameter.replace(annotation=inspect.Parameter.empty) for parameter in signature.parameters.values()]
    return str(signature.replace(parameters=bare, return_annotation=inspect.Signature.empty))


def difference(cython: set[str], python: set[str]) -> str:
    return f"only in the Cython core: {sorted(cython - python)}; only in the twin: {sorted(python - cython)}"


@pytest.fixture(scope="module")
def cores() -> tuple[ModuleType, ModuleType]:
    """(Cython core, twin); the parity tests need both."""
    if "cython" not in CORES:
        pytest.skip("WS2CORE_PURE_PYTHON=1: the Cython core is not under test")
    return load_core("cython"), load_core("python")


def callables(cython: ModuleType, python: ModuleType) -> list[tuple[str, Any, Any]]:
    """(label, Cython object, twin object) for every public callable the two cores share.

    Module functions, each class itself (its constructor), and each class's public methods.
    """
    pairs = []
    for name in sorted(public(cython) & public(python)):
        a, b = getattr(cython, name), getattr(python, name)
        if callable(a) and callable(b) and a is not b:
            pairs.append((name, a, b))
    for cls in CLASSES:
        a, b = getattr(cython, cls), getattr(python, cls)
        for name in sorted(methods(a) & methods(b)):
            pairs.append((f"{cls}.{name}", getattr(a, name), getattr(b, name)))
    return pairs


# --- 1. parity -----------------------------------------------------------------------------


def test_same_public_module_names(cores: tuple[ModuleType, ModuleType]) -> None:
    """Both cores export the same names (``__all__``; a module's imports are not its API)."""
    cython, python = cores
    assert set(cython.__all__) == set(python.__all__), difference(set(cython.__all__), set(python.__all__))
    for core in cores:
        for name in core.__all__:
            assert getattr(core, name) is not None


@pytest.mark.parametrize("cls", CLASSES)
def test_same_public_methods(cores: tuple[ModuleType, ModuleType], cls: str) -> None:
    a, b = (getattr(core, cls) for core in cores)
    assert methods(a) == methods(b), difference(methods(a), methods(b))


@pytest.mark.parametrize("cls", CLASSES)
def test_same_public_attributes(cores: tuple[ModuleType, ModuleType], cls: str) -> None:
    """Properties and attributes too (capacity, max_handles, value), nothing more on one side."""
    a, b = (getattr(core, cls) for core in cores)
    assert public(a) == public(b), difference(public(a), public(b))


def test_same_signatures(cores: tuple[ModuleType, ModuleType]) -> None:
    mismatches = [
        f"{label}: Cython {sig_a}, twin {sig_b}"
        for label, a, b in callables(*cores)
        if (sig_a := signature_text(a)) is not None
        and (sig_b := signature_text(b)) is not None
        and sig_a != sig_b
    ]
    assert not mismatches, "signatures differ:\n" + "\n".join(mismatches)


def test_cython_callables_have_signatures(cores: tuple[ModuleType, ModuleType]) -> None:
    """CONVENTIONS.md: binding on, or embedsignature "clinic" where binding is off."""
    missing = [
        f"{label} (twin: {sig_b})"
        for label, a, b in callables(*cores)
        if signature_text(a) is None and (sig_b := signature_text(b)) is not None
    ]
    assert not missing, "inspect.signature() finds nothing for these Cython callables:\n" + "\n".join(missing)


# The constructors: a cdef class's __init__ is a slot wrapper, and help() shows
# "Initialize self.  See help(type(self))..." with (self, /, *args, **kwargs) unless its
# docstring carries its own signature.  (HotUpcalls is made by UpcallTable, through __new__.)
CONSTRUCTED = ["HandleTable", "FdSet", "Ref"]


@pytest.mark.parametrize("name", CORES)
@pytest.mark.parametrize("cls", CONSTRUCTED)
def test_constructors_are_documented_for_help(name: str, cls: str) -> None:
    init = getattr(load_core(name), cls).__init__
    doc = inspect.getdoc(init)
    assert doc and not doc.startswith("Initialize self"), f"help({cls}.__init__) says only {doc!r}"
    text = pydoc.render_doc(init, renderer=pydoc.plaintext)
    assert doc.splitlines()[0] in text
    assert signature_text(init) not in (None, "(self, /, *args, **kwargs)"), signature_text(init)


def test_constructors_have_the_same_signatures(cores: tuple[ModuleType, ModuleType]) -> None:
    for cls in CONSTRUCTED:
        cython, python = (getattr(core, cls).__init__ for core in cores)
        assert signature_text(cython) == signature_text(python), cls
        assert inspect.getdoc(cython) == inspect.getdoc(python), cls


def test_upcall_table_constructor_is_documented_for_help() -> None:
    doc = inspect.getdoc(ws2core.UpcallTable.__init__) or ""
    assert "max_handles" in doc and "HandleTable" in doc
    text = pydoc.render_doc(ws2core.UpcallTable.__init__, renderer=pydoc.plaintext)
    assert "object at 0x" not in text  # the defaults of the table options say what they are


# Buffer-protocol dunders exist as Python attributes from 3.12 on (PEP 688); before that
# the C slot is all there is, so neither core can show them.
UNSEEN_BEFORE_312 = {"__buffer__"}


def stub_names() -> dict[str | None, set[str]]:
    """Names ``_handles.pyi`` declares: module level under None, each class under its name."""
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    declared: dict[str | None, set[str]] = {None: set()}

    def names(body: list[ast.stmt]) -> set[str]:
        found = set()
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                found.add(node.name)
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                found.add(node.target.id)
        return found

    declared[None] = names(tree.body)
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            declared[node.name] = names(node.body)
    return declared


@pytest.mark.parametrize("name", CORES)
def test_core_has_every_name_the_stub_declares(name: str) -> None:
    core = load_core(name)
    missing = []
    for owner, declared in stub_names().items():
        target = core if owner is None else getattr(core, owner, None)
        if sys.version_info < (3, 12):
            declared = declared - UNSEEN_BEFORE_312
        missing += [f"{owner or core.__name__}.{attr}" for attr in sorted(declared) if not hasattr(target, attr)]
    assert not missing, f"declared in _handles.pyi, missing from {core.__name__}: {missing}"


@pytest.mark.parametrize("name", CORES)
@pytest.mark.parametrize("cls", CLASSES)
def test_classes_expose_nothing_the_stub_does_not_declare(name: str, cls: str) -> None:
    extra = public(getattr(load_core(name), cls)) - stub_names()[cls]
    assert not extra, f"{name} core's {cls} has public names _handles.pyi does not declare: {sorted(extra)}"


def test_core_constants(core: ModuleType) -> None:
    """DESIGN.md §1 (reuse delay, handle cap) and the decisions beside it."""
    assert core.REUSE_DELAY == 65536
    assert core.DEFAULT_MAX_HANDLES == 2**22
    assert core.MAX_MAX_HANDLES == 2**24


def test_core_windows_constants_match_constants_module(core: ModuleType) -> None:
    wrong = {
        name: (getattr(core, name), getattr(constants, name))
        for name in public(core)
        if name.isupper() and hasattr(constants, name) and getattr(core, name) != getattr(constants, name)
    }
    assert not wrong, f"core value != ws2core.constants value: {wrong}"


def test_cores_raise_the_one_winsock_error(core: ModuleType) -> None:
    if hasattr(core, "WinsockError"):
        assert core.WinsockError is ws2core.WinsockError
    with pytest.raises(ws2core.WinsockError):
        core.HandleTable().context(4)


# --- 2. the core choice --------------------------------------------------------------------


def implementation_in_subprocess(value: str | None) -> list[str]:
    """``ws2core.IMPLEMENTATION`` and ``HandleTable.__module__`` in a fresh interpreter."""
    env = dict(os.environ)
    env.pop("WS2CORE_PURE_PYTHON", None)
    if value is not None:
        env["WS2CORE_PURE_PYTHON"] = value
    # The same ws2core as this process imported (the source tree or an installed copy).
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_DIR.parent), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", "import ws2core; print(ws2core.IMPLEMENTATION, ws2core.HandleTable.__module__)"],
        cwd=PACKAGE_DIR.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, "cython"), ("", "cython"), ("0", "cython"), ("true", "cython"), (" 1", "cython"), ("1", "python")],
    ids=["unset", "empty", "0", "true", "space-1", "1"],
)
def test_core_choice_in_a_subprocess(value: str | None, expected: str) -> None:
    """Exactly "1" selects the twin; anything else the Cython core (CONVENTIONS.md)."""
    if expected == "cython" and PURE_PYTHON_ONLY:
        pytest.skip("WS2CORE_PURE_PYTHON=1: the Cython core is not under test (it may not be built)")
    assert implementation_in_subprocess(value) == [expected, CORE_MODULES[expected]]


def test_core_in_use_here_matches_the_environment() -> None:
    assert ws2core.IMPLEMENTATION == ("python" if PURE_PYTHON_ONLY else "cython")


# Imports one core, checks the other stayed out, imports it, then has each core read an x86
# FdSet of the other: 8 is its first entry as x86, but padding as x64.
CROSS_CORE_SCRIPT = """
import importlib, sys
first, second = sys.argv[1:]
a = importlib.import_module(first)
assert second not in sys.modules, f"importing {first} imported {second}"
b = importlib.import_module(second)
for reader, maker in ((a, b), (b, a)):
    fds = maker.FdSet([8], abi="x86")
    assert reader.FD_ISSET(8, fds) == 1, (reader.__name__, "read the set as x64")
    assert reader.FdSet.from_buffer(fds).abi == "x86"
    try:
        reader.FD_ISSET(8, fds, abi="x64")
    except ValueError:
        pass
    else:
        raise AssertionError(f"{reader.__name__} took abi='x64' for an x86 FdSet")
print("ok")
"""


@pytest.mark.parametrize("first", ["cython", "python"])
def test_a_core_imports_alone_and_reads_the_other_cores_sets(first: str) -> None:
    """Neither core imports the other (ws2core._shared registers their FdSet classes), yet each
    reads the other's FdSet in its own layout, whichever was imported first."""
    if PURE_PYTHON_ONLY:
        pytest.skip("WS2CORE_PURE_PYTHON=1: the Cython core is not under test (it may not be built)")
    second = "python" if first == "cython" else "cython"
    env = dict(os.environ)
    env.pop("WS2CORE_PURE_PYTHON", None)
    if first == "python":  # `import ws2core`, which comes first, then loads the twin alone
        env["WS2CORE_PURE_PYTHON"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PACKAGE_DIR.parent), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", CROSS_CORE_SCRIPT, CORE_MODULES[first], CORE_MODULES[second]],
        cwd=PACKAGE_DIR.parent, env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0 and result.stdout.split() == ["ok"], result.stderr


REEXPORTED = ["FdSet", "HandleTable", "Ref", "FD_SET", "FD_CLR", "FD_ZERO", "FD_ISSET",
              "REUSE_DELAY", "DEFAULT_MAX_HANDLES"]


@pytest.mark.parametrize("name", REEXPORTED)
def test_reexports_are_the_chosen_cores_objects(name: str) -> None:
    chosen = importlib.import_module(CORE_MODULES[ws2core.IMPLEMENTATION])
    assert getattr(ws2core, name) is getattr(chosen, name)


# --- 3. version ----------------------------------------------------------------------------


def test_version_matches_the_installed_metadata() -> None:
    assert isinstance(ws2core.__version__, str)
    assert re.fullmatch(r"\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?(\+[\w.]+)?", ws2core.__version__)
    try:
        installed = importlib.metadata.version("ws2core")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("ws2core is not installed (pip install -e .)")
    assert ws2core.__version__ == installed


# --- 4. package data -----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["py.typed", "_handles.pyi", "_handles.pxd"])
def test_package_data_beside_the_package(name: str) -> None:
    assert (PACKAGE_DIR / name).is_file(), f"{name} missing from {PACKAGE_DIR}"


# --- 5. __all__ ----------------------------------------------------------------------------

DESIGN_PUBLIC_NAMES = [
    # DESIGN.md §2
    "UpcallTable", "HandleTable", "FdSet", "FD_SET", "FD_CLR", "FD_ZERO", "FD_ISSET", "Ref",
    "WinsockError", "IMPLEMENTATION", "errorname", "__version__",
    "INVALID_SOCKET", "SOCKET_ERROR", "WSA_INVALID_EVENT", "FD_SETSIZE", "WSA_MAXIMUM_WAIT_EVENTS",
    "WSA_INFINITE", "WSA_WAIT_EVENT_0", "WSA_WAIT_TIMEOUT", "WSA_WAIT_FAILED", "WSA_WAIT_IO_COMPLETION",
    "WSAEFAULT", "WSAEINVAL", "WSAENOTSOCK", "WSAENOBUFS", "WSANOTINITIALISED", "WSAENETDOWN",
    "WSAEINPROGRESS", "WSA_INVALID_HANDLE", "ERROR_INVALID_HANDLE", "WSA_INVALID_PARAMETER",
    "WSA_NOT_ENOUGH_MEMORY",
]


def test_all_names_resolve() -> None:
    missing = [name for name in ws2core.__all__ if not hasattr(ws2core, name)]
    assert not missing, f"in ws2core.__all__ but not defined: {missing}"


def test_all_has_no_duplicates() -> None:
    duplicates = sorted({name for name in ws2core.__all__ if ws2core.__all__.count(name) > 1})
    assert not duplicates


@pytest.mark.parametrize("name", DESIGN_PUBLIC_NAMES)
def test_design_names_are_in_all(name: str) -> None:
    assert name in ws2core.__all__


def test_star_import() -> None:
    namespace: dict[str, Any] = {}
    exec("from ws2core import *", namespace)  # ws2core is already imported: nothing re-runs
    assert {name: namespace[name] for name in ws2core.__all__} == {name: getattr(ws2core, name) for name in ws2core.__all__}


# --- 6. the pytest header ------------------------------------------------------------------


def test_pytest_header_reports_the_implementation() -> None:
    if conftest is None:
        pytest.skip("conftest is not importable as a module here")
    lines = conftest.pytest_report_header(None)  # type: ignore[arg-type]
    text = "\n".join([lines] if isinstance(lines, str) else lines)
    assert "IMPLEMENTATION" in text
    assert ws2core.IMPLEMENTATION in text
