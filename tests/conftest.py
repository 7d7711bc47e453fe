"""Fixtures: every behavioural test runs once per core (Cython and the pure-Python twin).

Test bodies never name a core: they take ``core`` (the implementation module) or a fixture
derived from it, so ids read ``test_close_twice[cython]`` / ``test_close_twice[python]``.
The Cython core missing is a failure, not a skip, unless WS2CORE_PURE_PYTHON=1 asks for the
twin alone (exactly "1", as in setup.py and ws2core/__init__.py).

Tests marked ``isolated_network`` (the last section) run in a network namespace with only
loopback up (tests/isolation.py), and may take the ``host_calls`` fixture, the record of the
socket calls they made of the host.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Generator, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, NamedTuple

import pytest
from isolation import (
    HOST_CALLS,
    HostCallRecorder,
    IsolationError,
    inside_isolated_namespace,
    isolated_command,
    isolation_unavailable,
)
from support import missing

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


# ---------------------------------------------------------------------------------------------
# Tests marked isolated_network (DESIGN.md section 4)
#
# Inside a namespace made by tests/isolation.py (WS2CORE_ISOLATED_NETWORK=1) a marked test runs
# as any other.  Outside one, collection puts an IsolatedTest in its place: at the first one's
# turn, every marked test the session selected runs in ONE pytest subprocess in a fresh
# namespace, which writes each test's reports to a file (pytest_runtest_logreport below), and
# each IsolatedTest then passes, fails, skips or xfails as its twin did inside.  None of a
# marked test's code runs out here, its fixtures' neither (which a pytest_pyfunc_call hook
# could not prevent: fixtures are set up before it is called).

ISOLATED_MARKER = "isolated_network"
REPORT_ENV = "WS2CORE_ISOLATED_REPORT"  # where an isolated run writes its reports (JSON lines)
ISOLATED_TIMEOUT = 900.0                # the whole isolated run, in seconds: a hang fails, late
OUTPUT_LIMIT = 20_000                   # characters of the isolated run's output in a failure
# Plugins an isolated run leaves out unless one of its tests needs them: loading the hypothesis
# plugin alone takes 0.65 s (it imports hypothesis), three quarters of a run's start-up.
OPTIONAL_PLUGINS = ("hypothesispytest", "benchmark")
INSIDE = pytest.StashKey[bool]()
RUN = pytest.StashKey["IsolatedRun"]()
_report_path: str | None = None  # set inside an isolated run that IsolatedRun started


def pytest_configure(config: pytest.Config) -> None:
    global _report_path
    if not any(line.startswith(f"{ISOLATED_MARKER}:") for line in config.getini("markers")):
        # pyproject.toml declares it; this is for a run without it (a pytester run).
        config.addinivalue_line("markers", f"{ISOLATED_MARKER}: runs in a network namespace")
    try:
        config.stash[INSIDE] = inside_isolated_namespace()
    except IsolationError as error:
        raise pytest.UsageError(str(error)) from None
    # Taken out of the environment, so that a pytest run started by a test (pytester) does not
    # write its reports into this run's file.
    path = os.environ.pop(REPORT_ENV, None)
    _report_path = path if config.stash[INSIDE] else None


@pytest.hookimpl(trylast=True)  # after -m, -k and --deselect: only what will run goes inside
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.stash[INSIDE]:
        return
    for index, item in enumerate(items):
        if item.get_closest_marker(ISOLATED_MARKER) is not None and item.parent is not None:
            items[index] = IsolatedTest.from_parent(item.parent, name=item.name, original=item)


class Verdict(NamedTuple):
    """What a test did inside: its outcome, the reason of its xfail mark for an xfail or an
    XPASS, and for a skip where and why ((path, line, "Skipped: reason"), as pytest says)."""

    outcome: Literal["passed", "failed", "skipped"]
    wasxfail: str | None = None
    skipped: tuple[str, int, str] | None = None


class IsolatedTest(pytest.Item):
    """A test marked isolated_network in a run outside a namespace: it reports what the same
    test (the same node id) did in the session's IsolatedRun."""

    def __init__(self, *, original: pytest.Item, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inner_nodeid = original.nodeid
        self._reportinfo = original.reportinfo()
        # Its skip and xfail marks are evaluated inside, where the test runs; the others stay
        # for what reads them out here.
        self.own_markers.extend(mark for mark in original.own_markers
                                if mark.name not in ("skip", "skipif", "xfail"))
        self.plugins = {name for name, needed in [
            ("hypothesispytest", getattr(getattr(original, "obj", None), "is_hypothesis_test",
                                         False)),
            ("benchmark", "benchmark" in getattr(original, "fixturenames", ()))] if needed}
        self.verdict: Verdict | None = None

    def reportinfo(self) -> tuple[os.PathLike[str] | str, int | None, str]:
        return self._reportinfo

    def runtest(self) -> None:
        reason = isolation_unavailable()
        if reason is not None:
            missing(f"{reason}; tests marked {ISOLATED_MARKER} run in one (tests/isolation.py)")
        run = self.config.stash.get(RUN, None)
        if run is None:
            run = self.config.stash[RUN] = IsolatedRun(self.config)
            batch = [item for item in self.session.items if isinstance(item, IsolatedTest)]
            run.run([item.inner_nodeid for item in batch],
                    set().union(*(item.plugins for item in batch)))
        self.verdict = verdict = run.verdict(self.inner_nodeid)
        if verdict.outcome == "failed":
            pytest.fail(run.failure(self.inner_nodeid), pytrace=False)
        if verdict.outcome == "skipped" and verdict.wasxfail is not None:
            pytest.xfail(verdict.wasxfail)
        if verdict.outcome == "skipped":
            pytest.skip((verdict.skipped or ("", 0, ""))[2].removeprefix("Skipped: "))


@pytest.hookimpl(wrapper=True, tryfirst=True)  # outermost: after the xfail marks' plugin
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if not isinstance(item, IsolatedTest) or call.when != "call":
        return report
    verdict = item.verdict
    if verdict is not None:
        # The twin's outcome, whatever marks out here made of it: a module's xfail mark would
        # turn the twin's XPASS(strict) failure into an xfail, and an XPASS has no mark left
        # on the item to show it by.
        report.outcome = verdict.outcome
        if verdict.wasxfail is not None:
            report.wasxfail = verdict.wasxfail
        elif hasattr(report, "wasxfail"):
            del report.wasxfail
        if verdict.outcome == "passed":
            report.longrepr = None
    if report.skipped and isinstance(report.longrepr, tuple):
        # Skipped where the twin was, or (no namespace) at the test; not in this file.
        path, line, _ = item.reportinfo()
        report.longrepr = (verdict.skipped if verdict is not None and verdict.skipped
                           else (os.fspath(path), (line or 0) + 1, report.longrepr[2]))
    return report


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Inside an isolated run started by IsolatedRun: each report, as one JSON line."""
    if _report_path is None:
        return
    line = {"nodeid": report.nodeid, "when": report.when, "outcome": report.outcome,
            "wasxfail": getattr(report, "wasxfail", None),
            "skipped": report.longrepr if report.skipped and isinstance(report.longrepr, tuple)
            else None,
            "longrepr": report.longreprtext, "sections": report.sections}
    # A line per report, appended at once: a crash keeps the reports before it.
    with open(_report_path, "a", encoding="utf-8") as file:
        file.write(json.dumps(line) + "\n")


class IsolatedRun:
    """The session's marked tests, run together in a pytest subprocess in a fresh network
    namespace (one subprocess, not one per test: its start-up is most of the cost)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.reports: dict[str, list[dict[str, Any]]] = {}
        self.command: list[str] = []
        self.returncode: int | None = None
        self.output = ""
        self.seconds = 0.0
        self.count = 0

    def run(self, nodeids: list[str], plugins: set[str]) -> None:
        """Runs the tests ``nodeids``; of OPTIONAL_PLUGINS only ``plugins`` are loaded."""
        config = self.config
        # The interpreter's -X dev goes along (make dev-mode); the environment does as it is,
        # WS2CORE_PURE_PYTHON and PYTHONMALLOC with it.  --maxfail=0 undoes an -x that
        # PYTEST_ADDOPTS would bring: every test of the batch must report.
        flags = ["-X", "dev"] if sys.flags.dev_mode else []
        ini = ["-c", str(config.inipath)] if config.inipath is not None else []
        left_out = [f"no:{name}" for name in OPTIONAL_PLUGINS if name not in plugins]
        self.command = isolated_command([
            sys.executable, *flags, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "-p", "no:randomly", *(option for name in left_out for option in ("-p", name)),
            "--maxfail=0", "--rootdir", str(config.rootpath), *ini, *nodeids])
        self.count = len(nodeids)
        handle, path = tempfile.mkstemp(prefix="ws2core-isolated-", suffix=".jsonl")
        os.close(handle)
        started = time.monotonic()
        try:
            try:
                done = subprocess.run(self.command, check=False, cwd=config.rootpath,
                                      env={**os.environ, REPORT_ENV: path},
                                      stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True, errors="replace",
                                      timeout=ISOLATED_TIMEOUT)
                self.returncode, self.output = done.returncode, done.stdout
            except subprocess.TimeoutExpired as error:
                partial = error.stdout or b""
                self.output = (partial.decode(errors="replace") if isinstance(partial, bytes)
                               else partial) + f"\n[timed out after {ISOLATED_TIMEOUT:.0f} s]"
            except OSError as error:  # each test then fails saying so
                self.output = f"{self.command[0]} could not start: {error}"
            for line in Path(path).read_text(encoding="utf-8").splitlines():
                try:
                    report = json.loads(line)
                except json.JSONDecodeError:  # the last line of a run killed while writing it
                    continue
                self.reports.setdefault(report["nodeid"], []).append(report)
        finally:
            Path(path).unlink(missing_ok=True)
            self.seconds = time.monotonic() - started

    def verdict(self, nodeid: str) -> Verdict:
        reports = {report["when"]: report for report in self.reports.get(nodeid, [])}
        if any(report["outcome"] == "failed" for report in reports.values()):
            return Verdict("failed")
        for report in reports.values():  # at setup (a skip mark), or at call
            if report["outcome"] == "skipped":
                where = report["skipped"]
                return Verdict("skipped", report["wasxfail"],
                               None if where is None else (str(where[0]), int(where[1]),
                                                           str(where[2])))
        if "call" not in reports:  # nothing reported: it crashed, or was never collected
            return Verdict("failed")
        return Verdict("passed", reports["call"]["wasxfail"])

    def describe(self) -> str:
        status = "timed out" if self.returncode is None else f"exit status {self.returncode}"
        return (f"(the isolated run of {self.count} test(s): {status} after "
                f"{self.seconds:.1f} s; to run one so: python tests/isolation.py -- "
                f"python -m pytest NODEID)")

    def failure(self, nodeid: str) -> str:
        """The twin's failure as the run reported it, or the run's output if it reported
        nothing of the test (a collection error, a crash, "no tests collected")."""
        reports = self.reports.get(nodeid, [])
        failed = [report for report in reports if report["outcome"] == "failed"]
        if failed:
            parts = []
            for report in failed:
                parts.append(f"--- {report['when']}, inside the network namespace:\n"
                             f"{report['longrepr']}")
                parts += [f"--- {title}\n{text}" for title, text in report["sections"]]
            return "\n".join([*parts, self.describe()])
        output = self.output
        if len(output) > OUTPUT_LIMIT:
            output = (f"[... the first {len(output) - OUTPUT_LIMIT} characters left out]\n"
                      + output[-OUTPUT_LIMIT:])
        said = "no call" if reports else "nothing"
        return (f"the isolated run reported {said} of this test {self.describe()}; its "
                f"output:\n{output}")


@pytest.fixture
def host_calls() -> Iterator[HostCallRecorder]:
    """The socket calls this test has made of the host (bind, connect, sendto, sendmsg and the
    name lookups), through an audit hook: ``.events`` (HostCall tuples), ``.of("connect")``,
    ``.to("192.0.2.1")``, ``.non_loopback()``.  Only in a test marked isolated_network."""
    if not inside_isolated_namespace():
        pytest.fail(
            f"host_calls records only inside a network namespace of tests/isolation.py: mark "
            f"the test @pytest.mark.{ISOLATED_MARKER} (run outside one, it then runs inside)",
            pytrace=False)
    HOST_CALLS.install()
    HOST_CALLS.clear()
    yield HOST_CALLS
