"""The Windows test programs under Speakeasy, with ws2core behind their Winsock and without.

Each program runs in Speakeasy (speakeasy-emulator, ``pip install 'ws2core[speakeasy]'``) for
both ABIs (the x86_64 and i686 builds) over both cores, with ``ws2core.adapters.speakeasy``
installed:

- every check passes, the x_ checks included, and Speakeasy reports no error;
- no handle is left in the table when the program ends (before ``close()``);
- event_wake is woken by a host thread that sets the event it printed, well before its 5 s
  timeout; echo_client's traffic reaches the host echo server;
- the CHECK lines of the 64-bit builds are Wine's, line for line, but for the x_ checks and
  the checks Wine 8 gets wrong (programs.WINE_DIFFERS), which ws2core passes.

And once per program and ABI without the adapter ("stock"): the number of checks stock
Speakeasy passes is printed, and none of the programs passes there.

Speakeasy 1.5.11 does not implement everything the programs' C run-time needs, and the
test supplies it through the same public ``add_api_hook``, for both kinds of run: msvcrt's
``printf`` (the guest's output; Speakeasy only formats the UCRT's __stdio_common_vfprintf,
into its report), ``getenv`` (echo_client's port: Speakeasy's __getmainargs hands main no
arguments) and a hook on ``exit`` that records the exit status.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from importlib.metadata import version
from pathlib import Path
from types import ModuleType
from typing import Any, NamedTuple

import pytest

import programs
import ws2core
from programs import CompletedRun
from ws2core.adapters.speakeasy import install
from programs import WINE_DIFFERS, WineRuns

pytest_plugins = ("programs",)  # the compiled programs, the Wine runs and the echo server

ABIS = {"x64": "x86_64", "x86": "i686"}  # the adapter's ABI -> the programs' build arch
EVENT_WAKE_TIMEOUT = 5.0                 # event_wake's own wait, in seconds
WAKE_DELAY = 0.2                         # the host thread sets the event this long after EVENT
RUN_TIMEOUT = 60                         # Speakeasy's own limit for one run, in seconds


@pytest.fixture(scope="module")
def speakeasy() -> ModuleType:
    """The speakeasy package; a skip (a failure under CI) where it is not installed."""
    try:
        import speakeasy as module
    except ImportError as missing:
        programs.missing(f"Speakeasy is not installed ({missing}): "
                         "pip install 'ws2core[speakeasy]'")
    return module


# --------------------------------------------------------------------------------------
# What the programs need from the C run-time that Speakeasy does not provide.


_CONVERSION = re.compile(r"%(.)")


class Console:
    """msvcrt's printf, getenv and exit for one guest, through ``se.add_api_hook``.

    ``output`` is what the guest printed; ``on_line`` is called with each line as it is
    printed (while the guest runs); ``status`` is the exit status, None until ``exit``.
    printf understands the conversions the programs use: %s, %d, %i, %u, %x, %c and %%.
    """

    def __init__(self, se: Any, environment: Mapping[str, str],
                 on_line: Callable[[str], None] | None) -> None:
        from speakeasy.winenv import arch

        self._cdecl = arch.CALL_CONV_CDECL
        self._on_line = on_line
        self._pending = ""
        self.output = ""
        self.status: int | None = None
        self._environment: dict[str, int] = {}
        for name, value in environment.items():  # guest strings, made before the run
            data = value.encode() + b"\0"
            self._environment[name] = se.mem_alloc(len(data))
            se.mem_write(self._environment[name], data)
        se.add_api_hook(self._printf, "msvcrt", "printf", argc=1, call_conv=self._cdecl)
        se.add_api_hook(self._getenv, "msvcrt", "getenv", argc=1, call_conv=self._cdecl)
        se.add_api_hook(self._exit, "*", "exit")

    def _printf(self, emu: Any, api_name: str, original: Any, argv: list[int]) -> int:
        text = emu.read_mem_string(argv[0], 1)
        conversions = [c for c in _CONVERSION.findall(text) if c != "%"]
        args = iter(emu.get_func_argv(self._cdecl, 1 + len(conversions))[1:])

        def convert(match: re.Match[str]) -> str:
            kind = match[1]
            if kind == "%":
                return "%"
            value = next(args)
            if kind == "s":
                return str(emu.read_mem_string(value, 1))
            value &= 0xFFFFFFFF  # int-sized conversions: the low 32 bits of the slot
            if kind in "di":
                return str(value - (1 << 32) if value >> 31 else value)
            if kind == "u":
                return str(value)
            if kind == "x":
                return f"{value:x}"
            if kind == "c":
                return chr(value & 0xFF)
            raise ValueError(f"printf conversion %{kind} is not supported here: {text!r}")

        printed = _CONVERSION.sub(convert, text)
        self.output += printed
        self._pending += printed
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            if self._on_line is not None:
                self._on_line(line)
        return len(printed)

    def _getenv(self, emu: Any, api_name: str, original: Any, argv: list[int]) -> int:
        return self._environment.get(emu.read_mem_string(argv[0], 1), 0)

    def _exit(self, emu: Any, api_name: str, original: Any, argv: list[int]) -> Any:
        self.status = argv[0] & 0xFFFFFFFF
        return original(argv) if original is not None else None


# --------------------------------------------------------------------------------------
# Running a program.


class SpeakeasyRun(NamedTuple):
    run: CompletedRun     # stderr holds Speakeasy's error, if it reported one
    stopped: str | None   # that error, e.g. "unsupported_api WS2_32.getsockname"
    leaked: list[int]     # handles still in the table when the program ended (adapter runs)


def run_in_speakeasy(speakeasy: ModuleType, exe: Path, *, table: ws2core.UpcallTable | None,
                     args: tuple[str, ...] = (), environment: Mapping[str, str] | None = None,
                     on_line: Callable[[str], None] | None = None) -> SpeakeasyRun:
    """Runs exe in a fresh Speakeasy, with the adapter over ``table`` unless it is None;
    ``on_line`` sees each line the program prints, as it prints it."""
    se = speakeasy.Speakeasy(config=_config(speakeasy), argv=list(args))
    module = se.load_module(str(exe))
    console = Console(se, environment or {}, on_line)
    installation = None if table is None else install(se, table)
    try:
        started = time.monotonic()
        se.run_module(module)
        seconds = time.monotonic() - started
        leaked = [] if table is None else list(table.table)
    finally:
        if installation is not None:
            installation.close()
    stopped = _stopped(se.get_report())
    run = CompletedRun(exe, args, console.status, console.output, stopped or "", seconds)
    return SpeakeasyRun(run, stopped, leaked)


def _config(speakeasy: ModuleType) -> dict[str, Any]:
    """Speakeasy's default configuration with this test's time limit."""
    path = Path(speakeasy.__file__).parent / "configs" / "default.json"
    config: dict[str, Any] = json.loads(path.read_text())
    config["timeout"] = RUN_TIMEOUT
    return config


def _stopped(report: Mapping[str, Any]) -> str | None:
    """The error Speakeasy reported for the program's entry point, in a line, or None."""
    for entry in report.get("entry_points", ()):
        error = entry.get("error") or {}
        if error:
            return " ".join(str(error[key]) for key in ("type", "api_name", "pc") if key in error)
    return None


# --------------------------------------------------------------------------------------
# The adapter runs: each program once per ABI and core, shared by the tests below.


class AdapterRun(NamedTuple):
    result: SpeakeasyRun
    echoed: tuple[int, int]      # (connections, bytes) the echo server saw during the run
    woken_after: float | None    # event_wake: seconds from its EVENT line to the end of its wait


@pytest.fixture(scope="module")
def adapter_runs(speakeasy: ModuleType, built_programs: dict[tuple[str, str], Path],
                 echo_server: programs.EchoServer) -> Iterator[Callable[..., AdapterRun]]:
    """``get(name, abi, core)``: the program's run with the adapter, made once."""
    done: dict[tuple[str, str, str], AdapterRun] = {}

    def get(name: str, abi: str, core: ModuleType) -> AdapterRun:
        key = (name, abi, core.__name__)
        if key not in done:
            done[key] = _adapter_run(speakeasy, built_programs[name, ABIS[abi]], abi, core,
                                     echo_server)
        return done[key]

    yield get


def _adapter_run(speakeasy: ModuleType, exe: Path, abi: str, core: ModuleType,
                 echo_server: programs.EchoServer) -> AdapterRun:
    table = ws2core.UpcallTable(core.HandleTable(abi=abi))
    waker = HostWaker(table)
    port = str(echo_server.port)
    before = echo_server.counts()
    result = run_in_speakeasy(speakeasy, exe, table=table, args=(port,),
                              environment={"WS2CORE_ECHO_PORT": port}, on_line=waker.on_line)
    waker.join()
    after = echo_server.counts()
    return AdapterRun(result, (after[0] - before[0], after[1] - before[1]), waker.woken_after())


class HostWaker:
    """Sets, from a host thread, the event a program announces with "EVENT <handle>"."""

    def __init__(self, table: ws2core.UpcallTable) -> None:
        self._table = table
        self._thread: threading.Thread | None = None
        self._announced: float | None = None
        self.set_at: float | None = None
        self.error: BaseException | None = None

    def on_line(self, line: str) -> None:
        handle = programs.parse_value(line, "EVENT")
        if handle is None:
            return
        self._announced = time.monotonic()
        self._thread = threading.Thread(target=self._wake, args=(handle,), name="host-waker")
        self._thread.start()

    def _wake(self, handle: int) -> None:
        try:
            time.sleep(WAKE_DELAY)  # the guest is inside its wait by now
            assert self._table.table.kind(handle) == "event", f"{handle:#x} is no live event"
            self.set_at = time.monotonic()
            self._table.table.set_event(handle)
        except BaseException as error:  # reported by the test, not lost in the thread
            self.error = error

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=EVENT_WAKE_TIMEOUT * 2)

    def woken_after(self) -> float | None:
        if self.error is not None:
            raise self.error
        if self._announced is None or self.set_at is None:
            return None
        return self.set_at - self._announced


@pytest.mark.parametrize("abi", sorted(ABIS))
@pytest.mark.parametrize("name", programs.PROGRAMS)
def test_program_passes_with_the_adapter(adapter_runs: Callable[..., AdapterRun],
                                         ws2core_core: ModuleType, name: str, abi: str) -> None:
    outcome = adapter_runs(name, abi, ws2core_core)
    run = outcome.result.run
    assert outcome.result.stopped is None, run.describe()
    assert not run.timed_out and run.inconsistencies() == [], run.describe()
    assert run.failed() == [], run.describe()
    assert outcome.result.leaked == [], f"handles left open: {outcome.result.leaked}"
    if name == "echo_client":
        assert outcome.echoed == (1, programs.ECHO_CLIENT_BYTES)
    if name == "event_wake":
        # The host thread set the event WAKE_DELAY after the EVENT line, and the guest's
        # wait ended then, not at its 5 s timeout.
        assert outcome.woken_after is not None
        assert run.seconds < EVENT_WAKE_TIMEOUT, run.describe()


@pytest.mark.parametrize("name", programs.PROGRAMS)
def test_checks_match_wine(adapter_runs: Callable[..., AdapterRun], wine_runs: WineRuns,
                           name: str) -> None:
    """The 64-bit build's CHECK lines under Speakeasy with ws2core are Wine's, line for line,
    leaving out the x_ checks and the ones Wine 8 gets wrong (which pass here).

    Over the default core only: both cores pass every check (above), and a comparison per
    core would regroup the tests by core and run Wine once more for each.
    """
    ours = adapter_runs(name, "x64", _default_core()).result.run
    wines = wine_runs.runs[name]
    differs = WINE_DIFFERS.get(name, {})

    def compared(run: CompletedRun) -> list[programs.Check]:
        return [check for check in run.checks
                if not check.extension and check.name not in differs]

    assert compared(ours) == compared(wines), f"{ours.describe()}\n{wines.describe()}"
    assert all(ours.check(check).ok for check in differs), ours.describe()


def _default_core() -> ModuleType:
    """The core module ``import ws2core`` chose (ws2core.IMPLEMENTATION)."""
    return sys.modules[ws2core.HandleTable.__module__]


# --------------------------------------------------------------------------------------
# Stock Speakeasy: no adapter.


@pytest.mark.parametrize("abi", sorted(ABIS))
@pytest.mark.parametrize("name", programs.PROGRAMS)
def test_stock_speakeasy(speakeasy: ModuleType, built_programs: dict[tuple[str, str], Path],
                         echo_server: programs.EchoServer, capsys: pytest.CaptureFixture[str],
                         name: str, abi: str) -> None:
    """Without the adapter, Speakeasy's fake Winsock passes few of the checks; the count is
    printed (the README's comparison comes from these lines)."""
    port = str(echo_server.port)
    stock = run_in_speakeasy(speakeasy, built_programs[name, ABIS[abi]], table=None,
                             args=(port,), environment={"WS2CORE_ECHO_PORT": port})
    run = stock.run
    passed = sum(check.ok for check in run.checks)
    with capsys.disabled():
        print(f"\nstock Speakeasy {version('speakeasy-emulator')}, {name} ({abi}): "
              f"{passed} checks pass of {len(run.checks)} printed; "
              f"{'stopped: ' + stock.stopped if stock.stopped else 'ran to its end'}")
    assert run.failed() or run.result is None, run.describe()
