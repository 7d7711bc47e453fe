"""The README's performance tables cannot go stale: they are what ``ws2core._bench.markdown``
makes of the committed bench JSON, and that JSON was made from the sources as they are.

Both fail with the one command that makes them right again, ``make readme-tables`` (a full
bench run, then the tables written from it); commit README.md and benchmarks/results/bench.json
together.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from ws2core._bench import markdown, sources

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "bench.json"
README = ROOT / "README.md"
PACKAGE = ROOT / "src" / "ws2core"  # the repository's sources, installed or not
REMAKE = "make readme-tables (a full bench run; commit README.md and benchmarks/results/bench.json)"


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(RESULTS.read_text(encoding="utf-8"))
    return data


def test_the_committed_run_is_a_full_one_without_errors(committed: dict[str, Any]) -> None:
    meta = committed["meta"]
    assert committed["format"] == "ws2core-bench/1"
    assert not meta["quick"], f"the README's figures come from a full run: {REMAKE}"
    assert meta["core_measured"] and not meta["errors"], meta["errors"]


def test_the_readme_tables_are_those_of_the_committed_run(committed: dict[str, Any]) -> None:
    block = markdown.current_block(README.read_text(encoding="utf-8"))
    assert block, f"README.md has no {markdown.BEGIN} ... {markdown.END} block"
    assert block == markdown.tables(committed), (
        f"README.md's performance tables are not those of {RESULTS.name}: {REMAKE}"
    )


def test_the_committed_run_measured_the_current_sources(committed: dict[str, Any]) -> None:
    recorded = committed["meta"]["sources"]
    current = sources.fingerprint(PACKAGE)
    changed = sources.changed(recorded, current)
    assert recorded["sha256"] == current["sha256"] and not changed, (
        "the README's performance figures were measured on other sources; changed since: "
        + ", ".join(changed) + f". Remake them: {REMAKE}"
    )


def test_every_module_the_bench_imports_is_fingerprinted() -> None:
    """In a fresh interpreter, as ``python -m ws2core bench`` starts: the bench, the twin, and
    the modules their imports bring; each source among them counts in the fingerprint."""
    script = textwrap.dedent(
        """
        import sys
        import ws2core._bench.run
        from ws2core import _implementation
        _implementation.load("python")
        for name, module in sorted(sys.modules.items()):
            path = getattr(module, "__file__", None) or ""
            if name.startswith("ws2core") and path.endswith(".py"):
                print(path)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    folder = Path(sources.package_folder())
    loaded = {Path(path).resolve().relative_to(folder).as_posix() for path in out}
    assert "_handles_py.py" in loaded and "_bench/cases.py" in loaded
    unlisted = loaded - set(sources.measured_files(folder)) - set(sources.NOT_MEASURED)
    assert not unlisted, f"add them to ws2core._bench.sources.MEASURED: {sorted(unlisted)}"


def test_a_changed_source_changes_the_fingerprint(tmp_path: Path) -> None:
    for name in ("_handles_hot.pxi", "upcalls.py", "_bench/cases.py", "_bench/plot.py",
                 "adapters/qiling.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    before = sources.fingerprint(tmp_path)
    assert set(before["files"]) == {"_handles_hot.pxi", "upcalls.py", "_bench/cases.py"}
    (tmp_path / "upcalls.py").write_text("x = 2\n")
    (tmp_path / "_handles_table.pxi").write_text("")
    (tmp_path / "_bench/cases.py").unlink()
    (tmp_path / "adapters/qiling.py").write_text("not measured\n")
    after = sources.fingerprint(tmp_path)
    assert after["sha256"] != before["sha256"]
    assert sources.changed(before, after) == [
        "_bench/cases.py (removed)", "_handles_table.pxi (added)", "upcalls.py (changed)",
    ]
    assert sources.changed(after, after) == []
