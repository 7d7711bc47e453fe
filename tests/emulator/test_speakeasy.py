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

The programs that name addresses outside this machine (programs.OUTSIDE_ADDRESS_PROGRAMS) run
in test_policy_programs.py instead, in a network namespace.

Speakeasy 1.5.11 does not implement everything the programs' C run-time needs (printf, a
command line for main); both kinds of run go through ``ws2core.adapters.speakeasy.run``,
which serves it (``ws2core.guest.crt``) whether ws2core's Winsock is installed or not, so
the stock runs differ from the adapter runs in their Winsock alone.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

import pytest

import programs
import ws2core
from programs import CompletedRun
from ws2core.adapters.speakeasy import HANDLE_RANGE
from ws2core.adapters.speakeasy import run as speakeasy_run
from programs import WINE_DIFFERS, WineRuns

pytest_plugins = ("programs",)  # the compiled programs, the Wine runs and the echo server

ABIS = {"x64": "x86_64", "x86": "i686"}  # the adapter's ABI -> the programs' build arch
EVENT_WAKE_TIMEOUT = 5.0                 # event_wake's own wait, in seconds
WAKE_DELAY = 0.2                         # the host thread sets the event this long after EVENT
RUN_TIMEOUT = 60                         # Speakeasy's own limit for one run, in seconds


# --------------------------------------------------------------------------------------
# Running a program: ws2core.adapters.speakeasy.run, which also serves the C run-time that
# Speakeasy 1.5.11 lacks (printf, getenv, the command line, exit; test_run.py checks it).


class SpeakeasyRun(NamedTuple):
    run: CompletedRun     # stderr holds Speakeasy's error, if it reported one
    stopped: str | None   # that error, e.g. "unsupported call WS2_32.getsockname at 0x..."
    leaked: list[int]     # handles still in the table when the program ended (adapter runs)


def run_in_speakeasy(exe: Path, *, table: ws2core.UpcallTable | None,
                     args: tuple[str, ...] = (), environment: Mapping[str, str] | None = None,
                     on_line: Callable[[str], None] | None = None) -> SpeakeasyRun:
    """Runs exe in a fresh Speakeasy, with the adapter over ``table`` unless it is None;
    ``on_line`` sees each line the program prints, as it prints it."""
    pending = bytearray()

    def output(stream: int, data: bytes) -> None:
        if stream != 1 or on_line is None:
            return
        pending.extend(data)
        *lines, rest = pending.split(b"\n")
        pending[:] = rest
        for line in lines:
            on_line(line.decode())

    ended = speakeasy_run(exe, args, environment=environment, output=output,
                          winsock=table is not None, table=table, timeout=RUN_TIMEOUT)
    run = CompletedRun(exe, args, ended.exit_code, ended.stdout.decode(), ended.stopped or "",
                       ended.seconds)
    return SpeakeasyRun(run, ended.stopped, list(ended.leaked))


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
    # In the range install() gives its own tables: Speakeasy's handles stay Speakeasy's.
    table = ws2core.UpcallTable(core.HandleTable(abi=abi, handle_range=HANDLE_RANGE))
    waker = HostWaker(table)
    port = str(echo_server.port)
    before = echo_server.counts()
    result = run_in_speakeasy(exe, table=table, args=(port,),
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
@pytest.mark.parametrize("name", programs.SPEAKEASY_PROGRAMS)
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


@pytest.mark.parametrize("name", programs.SPEAKEASY_PROGRAMS)
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
    assert programs.compared_checks(ours, differs) == programs.compared_checks(wines, differs), \
        f"{ours.describe()}\n{wines.describe()}"
    assert all(ours.check(check).ok for check in differs), ours.describe()


def _default_core() -> ModuleType:
    """The core module ``import ws2core`` chose (ws2core.IMPLEMENTATION)."""
    return sys.modules[ws2core.HandleTable.__module__]


# --------------------------------------------------------------------------------------
# Stock Speakeasy: no adapter.


@pytest.mark.parametrize("abi", sorted(ABIS))
@pytest.mark.parametrize("name", programs.SPEAKEASY_PROGRAMS)
def test_stock_speakeasy(speakeasy: ModuleType, built_programs: dict[tuple[str, str], Path],
                         echo_server: programs.EchoServer, capsys: pytest.CaptureFixture[str],
                         name: str, abi: str) -> None:
    """Without the adapter, Speakeasy's fake Winsock passes few of the checks; the count is
    printed (the README's comparison comes from these lines)."""
    port = str(echo_server.port)
    stock = run_in_speakeasy(built_programs[name, ABIS[abi]], table=None,
                             args=(port,), environment={"WS2CORE_ECHO_PORT": port})
    run = stock.run
    with capsys.disabled():
        print(f"\n{programs.stock_summary(name, abi, run, stock.stopped)}")
    assert run.failed() or run.result is None, run.describe()
