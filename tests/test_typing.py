"""The public API types cleanly under ``mypy --strict``, and the typed example program runs.

mypy runs in a subprocess from the folder above this one: in the repository that is the root,
so mypy reads the source tree (and pyproject's [tool.mypy]), resolving ws2core's cores through
the TYPE_CHECKING branch of ws2core/__init__.py, i.e. from ws2core/_handles.pyi.  Run from a
copy of tests/ beside an installed ws2core, the same commands check the installed package,
which proves the wheel carries _handles.pyi and py.typed.
"""

from __future__ import annotations

import importlib.util
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
USAGE = HERE / "typed_usage.py"


def mypy(*args: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec("mypy") is None:
        pytest.fail(
            "mypy is not installed; it comes with the test extra: pip install -e '.[test]'",
            pytrace=False,
        )
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def check_clean(result: subprocess.CompletedProcess[str]) -> None:
    """Fail with mypy's own report (not a repr of the process) when it found anything."""
    if result.returncode != 0:
        command = " ".join(["python", *result.args[1:]])
        pytest.fail(
            f"{command} exited {result.returncode}:\n{result.stdout}{result.stderr}", pytrace=False
        )


def test_typed_usage_is_clean_under_mypy_strict() -> None:
    # follow-imports=silent: ws2core's own modules are still read for their types, but an error
    # inside them is the next test's to report; this one is about what a user's code sees.
    check_clean(mypy("--follow-imports=silent", str(USAGE.relative_to(ROOT))))


def test_package_is_clean_under_mypy_strict() -> None:
    import ws2core

    package = Path(ws2core.__file__).parent
    if package.parent != ROOT / "src":
        # An installed copy: mypy does not report errors inside site-packages, so say so
        # rather than pass without having looked.
        pytest.skip(f"ws2core is imported from {package}, not from a source tree beside the tests")
    check_clean(mypy("-p", "ws2core"))


def test_typed_usage_runs(capsys: pytest.CaptureFixture[str]) -> None:
    runpy.run_path(str(USAGE), run_name="__main__")
    assert capsys.readouterr().out.startswith("typed_usage: ok")


def test_stub_matches_the_built_core() -> None:
    """mypy.stubtest: every name and signature in _handles.pyi against the compiled module."""
    from conftest import PURE_PYTHON_ONLY

    if PURE_PYTHON_ONLY:
        pytest.skip("WS2CORE_PURE_PYTHON=1: there is no compiled core to compare the stub with")
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "ws2core._handles",
         "--allowlist", str(HERE / "stubtest_allowlist.txt"), "--ignore-unused-allowlist"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    if result.returncode != 0:
        pytest.fail(f"stubtest found differences:\n{result.stdout}{result.stderr}", pytrace=False)
