"""net_policy.c, the program that reaches out, under ws2core's network policies and under Wine.

The program connects to documentation addresses (RFC 5737), blocking and non-blocking, binds
to one, and listens on the wildcard (its comment says what each check expects). Every test
here is marked ``isolated_network``: it runs in a network namespace with only loopback up
(tests/isolation.py), where no packet can leave, whatever a bug lets through.

- Under Speakeasy with ``ws2core.adapters.speakeasy``, both ABIs and both cores:
  - the default policy (loopback only, ``install``'s default): every check passes (a machine
    without routes); ``policy.log`` holds each refused connect (WSAENETUNREACH) and bind
    (WSAEADDRNOTAVAIL), the wildcard bind confined to loopback and the loopback connect
    allowed; and the host was asked for nothing but loopback (the audit hook's record of
    bind, connect, sendto and the lookups): a refused attempt made no host call at all;
  - ``NetworkPolicy.sinkhole()``, the program told so (``net_policy.exe sinkhole``): the
    outside connects succeed, the sink received the HTTP request the program sent (and
    answered it), the record says "redirected", and the host saw only loopback.
- Under stock Speakeasy (no adapter), as in test_speakeasy.py: the count of checks passed
  is printed for the README, and the program does not pass.
- Under Wine 8 (the 64-bit build), whose wineserver runs in the namespace too: a machine
  without routes, the witness of what Windows reports. Its CHECK lines are ws2core's, line for
  line, but for the x_ checks and programs.WINE_DIFFERS (a non-blocking connect fails at
  once under Wine; Windows says WSAEWOULDBLOCK and reports the failure later), which must
  still fail under Wine.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import NamedTuple

import pytest

import programs
import ws2core
from isolation import HOST_CALLS, HostCall
from programs import WINE_DIFFERS, CompletedRun
from ws2core.adapters.speakeasy import run as speakeasy_run
from ws2core.constants import WSAEADDRNOTAVAIL, WSAENETUNREACH, WSAHOST_NOT_FOUND
from ws2core.policy import Attempt, NetworkPolicy

pytest_plugins = ("programs",)  # the compiled programs and the Wine prefix
pytestmark = pytest.mark.isolated_network

PROGRAM = "net_policy"
ABIS = {"x64": "x86_64", "x86": "i686"}  # the adapter's ABI -> the program's build arch
RUN_TIMEOUT = 60                         # Speakeasy's own limit for one run, in seconds

REQUEST, SINK_ANSWER = programs.NET_POLICY_REQUEST, programs.NET_POLICY_SINK_ANSWER

# The outside addresses the program connects to, in its order, and the one it binds to.
OUTSIDE_CONNECTS = [("192.0.2.1", 80), ("198.51.100.1", 443), ("203.0.113.7", 8080)]
OUTSIDE_BIND = ("203.0.113.5", 0)
OUTSIDE_DATAGRAM = ("192.0.2.1", 53)   # sendto: asked about per destination


@pytest.fixture(scope="module")
def exes(program_cache: Path) -> dict[str, Path]:
    """The program for both arches, by arch (only this one: an isolated run outside the
    session's cache compiles it apart)."""
    built = programs.build_all(program_cache, (PROGRAM,))
    return {arch: built[PROGRAM, arch] for arch in programs.ARCHES}


class PolicyRun(NamedTuple):
    run: CompletedRun              # stderr holds Speakeasy's error, if it reported one
    stopped: str | None
    leaked: tuple[int, ...]
    network: tuple[Attempt, ...]   # the policy's record of the run
    host_calls: list[HostCall]     # what the host was asked during the run (audit hook)
    received: bytes                # what reached the sink for 192.0.2.1:80 (sinkhole)


@pytest.fixture(scope="module")
def policy_runs(exes: dict[str, Path]) -> Iterator[Callable[[str, str, ModuleType], PolicyRun]]:
    """``get(policy, abi, core)``: the program's run under Speakeasy with the adapter, made
    once; ``policy`` "default" (install()'s own) or "sinkhole"."""
    done: dict[tuple[str, str, str], PolicyRun] = {}

    def get(policy: str, abi: str, core: ModuleType) -> PolicyRun:
        key = (policy, abi, core.__name__)
        if key not in done:
            done[key] = _policy_run(exes[ABIS[abi]], policy, abi, core)
        return done[key]

    yield get


def _policy_run(exe: Path, policy_name: str, abi: str, core: ModuleType) -> PolicyRun:
    table = ws2core.UpcallTable(core.HandleTable(abi=abi))
    policy = NetworkPolicy.sinkhole(answers={80: SINK_ANSWER}) if policy_name == "sinkhole" \
        else None
    args = ("sinkhole",) if policy is not None else ()
    HOST_CALLS.install()
    before = len(HOST_CALLS.events)
    try:
        ended = speakeasy_run(exe, args, table=table, policy=policy, timeout=RUN_TIMEOUT)
        received = b"" if policy is None else policy.sink.received("tcp", ("192.0.2.1", 80))
    finally:
        if policy is not None:
            policy.close()
    calls = HOST_CALLS.events[before:]
    run = CompletedRun(exe, args, ended.exit_code, ended.stdout.decode(), ended.stopped or "",
                       ended.seconds)
    return PolicyRun(run, ended.stopped, ended.leaked, ended.network, calls, received)


def _assert_passes(outcome: PolicyRun) -> None:
    run = outcome.run
    assert outcome.stopped is None, run.describe()
    assert not run.timed_out and run.inconsistencies() == [], run.describe()
    assert run.failed() == [], run.describe()
    assert outcome.leaked == (), f"handles left open: {outcome.leaked}"


def _record(attempt: Attempt) -> tuple[object, ...]:
    return (attempt.kind, attempt.protocol, attempt.address, attempt.verdict, attempt.error)


def _host_calls(outcome: PolicyRun) -> list[tuple[str, object]]:
    """What the host was asked during the run: (event, address) of each call."""
    assert [call for call in outcome.host_calls if call.loopback is False] == []
    return [(call.event, call.address) for call in outcome.host_calls]


@pytest.mark.parametrize("abi", sorted(ABIS))
def test_default_policy_is_a_machine_without_routes(
        policy_runs: Callable[[str, str, ModuleType], PolicyRun], ws2core_core: ModuleType,
        abi: str) -> None:
    outcome = policy_runs("default", abi, ws2core_core)
    _assert_passes(outcome)
    network = [attempt for attempt in outcome.network if attempt.kind != "resolve"]
    loopback_connect = network[-1]
    assert [_record(attempt) for attempt in network] == [
        *(("connect", "tcp", address, "refused", WSAENETUNREACH)
          for address in OUTSIDE_CONNECTS),
        ("bind", "tcp", OUTSIDE_BIND, "refused", WSAEADDRNOTAVAIL),
        ("sendto", "udp", OUTSIDE_DATAGRAM, "refused", WSAENETUNREACH),
        ("bind", "tcp", ("0.0.0.0", 0), "redirected", 0),
        ("connect", "tcp", ("127.0.0.1", loopback_connect.address[1]), "allowed", 0),
    ]
    assert network[5].redirected_to == ("127.0.0.1", 0)
    # The name lookups, last: refused, on record, and no host call (no resolver asked).
    assert [_record(a) for a in outcome.network if a.kind == "resolve"] == [
        ("resolve", "", ("www.example.com",), "refused", WSAHOST_NOT_FOUND)] * 2
    # The refusals made no host call; the listener's host socket is on loopback.
    assert _host_calls(outcome) == [("socket.bind", ("127.0.0.1", 0)),
                                    ("socket.connect", loopback_connect.address)]


@pytest.mark.parametrize("abi", sorted(ABIS))
def test_sinkhole_carries_the_connects_to_the_sink(
        policy_runs: Callable[[str, str, ModuleType], PolicyRun], ws2core_core: ModuleType,
        abi: str) -> None:
    outcome = policy_runs("sinkhole", abi, ws2core_core)
    _assert_passes(outcome)
    assert outcome.run.check("blocking_answer_length").got == len(SINK_ANSWER)
    assert outcome.received == REQUEST
    connects = [attempt for attempt in outcome.network if attempt.kind == "connect"]
    assert [(attempt.address, attempt.verdict) for attempt in connects] == [
        *((address, "redirected") for address in OUTSIDE_CONNECTS),
        (("127.0.0.1", connects[-1].address[1]), "allowed")]
    assert (connects[0].bytes_sent, connects[0].bytes_received) == (
        len(REQUEST), len(SINK_ANSWER))
    assert [(a.address, a.verdict, a.answers) for a in outcome.network if a.kind == "resolve"] \
        == [(("www.example.com",), "redirected", ("198.51.100.1",)),       # AF_INET hints
            (("www.example.com",), "redirected", ("198.51.100.1", "2001:db8::1"))]
    # A bind to an outside address is refused here too; the wildcard one is confined.
    binds = [_record(attempt) for attempt in outcome.network if attempt.kind == "bind"]
    assert binds == [("bind", "tcp", OUTSIDE_BIND, "refused", WSAEADDRNOTAVAIL),
                     ("bind", "tcp", ("0.0.0.0", 0), "redirected", 0)]
    # The host connected to the sink's endpoints (each bound on loopback) and to the
    # program's own listener, nothing else.
    calls = _host_calls(outcome)
    assert [address for event, address in calls if event == "socket.connect"] == [
        *(attempt.redirected_to for attempt in connects[:3]), connects[-1].address]
    assert {address for event, address in calls if event == "socket.bind"} == {
        ("127.0.0.1", 0)}


def test_checks_match_wine_without_routes(
        policy_runs: Callable[[str, str, ModuleType], PolicyRun], wine: programs.WinePrefix,
        exes: dict[str, Path]) -> None:
    """Wine in this namespace (WinePrefix.run checks that its server is here too) is a
    machine without routes: its CHECK lines are ws2core's under the default policy, but for
    the x_ checks and WINE_DIFFERS, which must still fail under Wine. Over the default core
    only, as test_speakeasy.py compares."""
    wines = wine.run(exes["x86_64"])
    assert not wines.timed_out and wines.inconsistencies() == [], wines.describe()
    differs = WINE_DIFFERS[PROGRAM]
    assert programs.wine_problems(wines, differs) == [], wines.describe()
    ours = policy_runs("default", "x64", _default_core()).run
    assert programs.compared_checks(ours, differs) == programs.compared_checks(wines, differs), \
        f"{ours.describe()}\n{wines.describe()}"
    assert all(ours.check(name).ok for name in differs), ours.describe()


@pytest.mark.parametrize("abi", sorted(ABIS))
def test_stock_speakeasy(exes: dict[str, Path], capsys: pytest.CaptureFixture[str],
                         abi: str) -> None:
    """Without the adapter, as test_speakeasy.py's stock runs (the README's count)."""
    ended = speakeasy_run(exes[ABIS[abi]], winsock=False, timeout=RUN_TIMEOUT)
    run = CompletedRun(exes[ABIS[abi]], (), ended.exit_code, ended.stdout.decode(),
                       ended.stopped or "", ended.seconds)
    with capsys.disabled():
        print(f"\n{programs.stock_summary(PROGRAM, abi, run, ended.stopped)}")
    assert run.failed() or run.result is None, run.describe()


def _default_core() -> ModuleType:
    """The core module ``import ws2core`` chose (ws2core.IMPLEMENTATION)."""
    return sys.modules[ws2core.HandleTable.__module__]
