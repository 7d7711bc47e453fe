"""HostSocketProvider against raw host sockets: echo, connect/accept/close, the reactor (issue 8).

Every provider case runs on both cores (the provider is pure Python; the core is the handle
table behind its upcalls); every raw-socket case, the floor of its group, runs once.  Compare
within a group: the ratio provider / raw is what the provider adds to the host's sockets.

- **Echo** (groups "provider echo 64 B" and "provider echo 64 KiB"): one round is one message
  sent by the client in the benchmark thread and the whole echo read back; an echo server in a
  background thread receives and sends back whatever arrives on the accepted socket.
  ``test_echo_provider[<core>-<size>]`` does it with blocking provider sockets (WSPSend, then
  WSPRecv until the message is back; the server WSPRecv + WSPSend), ``test_echo_raw[<size>]``
  with ``socket.socket`` (``sendall``, ``recv_into``), the same threading shape.  TCP_NODELAY
  on both ends of both, so that Nagle's delay does not decide the 64-byte figure.  The goal
  issue 8 sets: the provider adds at most 25% at 64 KiB (ratio <= 1.25).  The ratio of these
  two tests is not a robust measure of it: they run at different moments, and on a noisy
  2-CPU machine a two-thread ping-pong flips between wake-up modes over time, so that ratio
  was seen anywhere from 0.4x to 4.8x from one run to the next.  The goal is judged on the
  external interleaved figure below, the in-process interleaved one reported beside it.
- **Echo, interleaved** (groups "provider echo interleaved 64 B" and "... 64 KiB"):
  ``test_echo_interleaved[<core>-<size>]`` sets up both pairs at once, a raw one and a
  provider one, each with its echo server thread and the same round-trip code as the two
  tests above (``_raw_echo``, ``_provider_echo``), then runs rounds that each do one raw
  round trip and one provider round trip, each timed alone with ``time.perf_counter_ns``,
  its echoed bytes checked after its clock stops.  The order alternates: raw first in even
  rounds, provider first in odd ones (the sequence runs R P P R R P ..., so each side goes
  first, and follows either side, equally often).  The two round trips of a round follow
  each other directly (tens of microseconds apart), so whatever state the machine is in (its
  wake-up mode, the other load on the CPUs) is, in most rounds, the same for both, and the
  per-round ratio provider / raw cancels it: the median of that ratio is the figure to read
  (against issue 8's goal in the external test below, which runs the same way).  Rounds:
  ECHO_ROUNDS (3,000 at 64 B, 2,000 at 64 KiB) after ECHO_WARMUP_ROUNDS (50) untimed ones;
  SHORT_ECHO_ROUNDS (300) in the short mode (a ``--benchmark-max-time`` under
  conftest's SHORT_MAX_TIME, 0.1 s; the CI's is 0.02) and under ``--benchmark-disable``;
  ``WS2CORE_BENCH_ECHO_ROUNDS`` overrides both (at least 2).  The
  timed rounds are one pedantic round (``rounds=1, iterations=1``), so pytest-benchmark's
  table shows the time of the whole interleaved run, both sides of every round: not a
  per-round figure.  The figures are in ``extra_info``: ``raw_median_us`` and
  ``provider_median_us`` (the median round trip of each side), ``added_us`` (their
  difference), ``ratio_per_round_median``, ``ratio_per_round_p25`` and ``_p75`` (of the
  per-round ratios, p25/p75 by nearest rank), ``ratio_of_medians`` (provider median over raw
  median), ``ratio_per_round_median_raw_first`` and ``_provider_first`` (the median over the
  even rounds alone, over the odd ones alone), ``rounds`` and ``warmup_rounds``.
  Reading them: a per-round ratio is one paired comparison and its median the typical one;
  rounds whose two round trips met different states (one side slow, the other fast) fall
  into the tails, which move p25/p75 but the median little while they are a minority.  A
  narrow p25..p75 band says the rounds agree on the ratio; a wide one says they often
  disagreed, and the median is then less sure.  The ratio of medians compares the two sides'
  distributions instead of pairs; it is near the median ratio when the two distributions
  have the same shape, and a gap between them says one side spent more rounds than the other
  in a slow state.  The raw-first and provider-first medians should agree; a gap between
  them is what going first (or second) does to a round trip.
- **Echo, external** (groups "provider echo external 64 B" and "... 64 KiB"):
  ``test_echo_external[<core>-<size>]`` is ``test_echo_interleaved`` with the echo server in
  another process: one per module (the ``external_echo`` fixture), ``sys.executable -c
  EXTERNAL_SERVER``, plain ``socket`` code with a thread per connection, TCP_NODELAY,
  ``recv_into`` + ``sendall``, printing its port on its stdout (the fixture fails if no port
  comes within SERVER_START_TIMEOUT, 10 s; at teardown the server is killed and waited for,
  and whatever it wrote on its stderr fails the teardown).  Each test connects two clients
  to it, a blocking provider socket (TCP_NODELAY by WSPSetSockOpt) and a raw one, with the
  same client code as above, and interleaves them exactly as ``test_echo_interleaved`` does:
  the same warm-up, rounds, alternation, checks and ``extra_info``.  Both clients meet the
  same server, so its cost is in both sides of every ratio.  What this isolates is the
  provider's cost to a client: its Python time per WSPSend/WSPRecv (a few microseconds per
  call over ``socket``'s own), and nothing else.  In the in-process test both ends of each
  pair share this process and its GIL, as they would under an emulator serving both sides
  of a connection: every round trip then hands the GIL between the client thread and the
  server thread, and the provider's extra Python time, on both ends, widens the window in
  which the thread just woken by its data must wait for the GIL; that is what makes the
  in-process ratio larger (medians seen from 1.2x to 2.7x at 64 KiB, 1.2x to 4.4x at 64 B,
  where the external one was 1.1x to 1.25x at 64 KiB in most runs).  Issue 8's goal (<= 1.25
  at 64 KiB) is judged on the external median per-round ratio; the in-process one is
  reported beside it, for the emulator's case.  On a noisy 2-CPU machine even the external
  figure can flip between wake-up modes from one run to the next: often at 64 B, where a
  round trip is mostly wake-ups (medians seen from 0.45x to 3.1x), and now and then at 64
  KiB (0.76x once).  A ratio under 1 most likely means that the raw client slept and was
  woken for its echo more often than the provider's client, a few microseconds later to its
  WSPRecv, which more often found the echo already there.  Read the figure across runs, not
  from one.
- **Connect/accept/close** (group "provider connect/accept/close"): one round is CYCLES cycles
  (10,000; ``WS2CORE_BENCH_CYCLES`` overrides), each a new socket connected to a listener,
  accepted, and both closed: WSPSocket, WSPConnect, WSPAccept, WSPCloseSocket twice against
  socket(), connect, accept, close twice.  One round per test (pedantic, also in the short CI
  mode), so pytest-benchmark's figure is the whole run; ``extra_info["per_cycle_us"]`` is it
  divided by CYCLES.  The accepted side is closed first: the TIME_WAIT state is then left on
  the listener's side of each connection (local port = the listener's), which ties up no
  ephemeral port, so 10,000 cycles per test (and many runs in a row) never run out of client
  ports; no SO_LINGER is needed, and every close stays graceful.  The provider's test asserts
  that its handle table is empty at the end.
- **Reactor** (group "provider reactor event round"): one provider socket, connected to a raw
  peer and WSPEventSelect'ed (FD_READ | FD_CLOSE) on its own event; one round is the raw peer
  sending 64 bytes, ``up.WSAWaitForMultipleEvents`` on that event, WSPEnumNetworkEvents
  (FD_READ, exactly) and WSPRecv of the 64 bytes.  ``[<core>-0idle]`` has nothing else;
  ``[<core>-1kidle]`` has IDLE (1,000) more provider sockets connected to raw peers and
  event-selected the same way on one shared event, none of which ever sees traffic.  The
  ratio 1k idle / 0 idle is what idle sockets cost the reactor per wake-up: about 1 when the
  reactor's wait scales with the ready sockets, not the registered ones.  The floor
  ``test_reactor_raw`` is the same delivery with no provider and no thread hop: a raw send,
  ``selectors.DefaultSelector().select()`` on the receiving socket, ``recv_into``; the gap to
  it is the reactor thread's hand-off (recording FD_READ and setting the event) plus the
  provider's calls.  Each reactor test then sleeps IDLE_SECONDS (0.5 s) with its sockets
  registered and reports the CPU time the whole process burned meanwhile
  (``time.process_time``): ``idle_cpu_ms`` and ``idle_cpu_percent`` of the wall time.  It must
  be about 0: a reactor that spins burns all of it.  That is the one bound asserted that
  looks like a timing (under a quarter of the window): it tells a blocked reactor from a
  spinning one, a difference no machine's noise nears.  1,000 pairs need about 2,000 descriptors:
  the soft RLIMIT_NOFILE is raised (up to the hard limit) for the test, or it is skipped.

Derived figures: ``extra_info`` of each provider test gets ``provider_over_raw`` (its median
over its group's raw median; the echo tests also ``added_us``, the difference of the two
medians: what the provider adds per round trip), the 1k-idle reactor tests ``idle_1k_over_0``
(their median over the same core's 0-idle median).  All are computed at the end of the
session, when both sides have run (pytest orders the cases by core, so a provider case may
run before its floor), and a summary of them is printed then, before pytest-benchmark's
tables, with a line per size for the external echo and one for the in-process interleaved
echo: per core, the median per-round ratio with its p25 and p75, the ratio of medians, and
the two medians.  Under ``--benchmark-disable`` (every body run once, no medians) the
summary holds only those interleaved lines, which come from the tests' own samples; the
per-cycle and idle-CPU figures are still measured (into ``extra_info``) and the idle-CPU
bound still checked.

No timing is asserted; every round checks its result (bytes and counts, the echoed data, the
events recorded, the handle table at the end), so the short CI mode is a smoke test of the
provider's hot paths too.
"""

from __future__ import annotations

import math
import os
import select
import selectors
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import pytest

import ws2core
from ws2core import (
    AF_INET,
    FD_CLOSE,
    FD_READ,
    INVALID_SOCKET,
    IPPROTO_TCP,
    SOCK_STREAM,
    TCP_NODELAY,
    WSA_WAIT_EVENT_0,
)
from ws2core.provider import WSANETWORKEVENTS, HostSocketProvider

ECHO_SIZES = [64, 64 * 1024]
ECHO_ROUNDS = {64: 3000, 64 * 1024: 2000}  # timed rounds of the interleaved echo, full run
SHORT_ECHO_ROUNDS = 300  # the same in the short mode and under --benchmark-disable
ECHO_WARMUP_ROUNDS = 50  # untimed interleaved rounds first
_OVERRIDE = os.environ.get("WS2CORE_BENCH_ECHO_ROUNDS", "")
ECHO_ROUNDS_OVERRIDE = max(2, int(_OVERRIDE)) if _OVERRIDE else None  # both orders
CYCLES = int(os.environ.get("WS2CORE_BENCH_CYCLES", "10000"))
IDLE = 1_000  # idle sockets registered with the reactor
IDLE_COUNTS = [0, IDLE]
IDLE_SECONDS = 0.5  # the window whose CPU time is measured
SPIN_FRACTION = 0.25  # more CPU than this share of the window: the reactor spins
EVENT_MESSAGE = bytes(range(64))
WAIT_MS = 10_000  # a lost event or echo fails the round instead of hanging the run
JOIN_TIMEOUT = 10.0
SERVER_START_TIMEOUT = 10.0  # the external echo server prints its port within this
LOOPBACK = "127.0.0.1"

CYCLE_GROUP = "provider connect/accept/close"
REACTOR_GROUP = "provider reactor event round"


def _size_name(size: int) -> str:
    return f"{size // 1024} KiB" if size >= 1024 else f"{size} B"


def _echo_group(size: int) -> str:
    return f"provider echo {_size_name(size)}"


def _interleaved_group(size: int) -> str:
    return f"provider echo interleaved {_size_name(size)}"


def _external_group(size: int) -> str:
    return f"provider echo external {_size_name(size)}"


def _idle_name(idle: int) -> str:
    return f"{idle // 1000}k idle" if idle >= 1000 else f"{idle} idle"


def _core_name(core: ModuleType) -> str:
    return "python" if core.__name__ == "ws2core._handles_py" else "cython"


def _message(size: int) -> bytes:
    """``size`` bytes that are not all alike, so that a misplaced chunk shows in the echo."""
    return (bytes(range(256)) * (size // 256 + 1))[:size]


# --------------------------------------------------------------------------------------
# derived figures: kept as the tests end, computed and printed at the end of the session


@dataclass
class _Figure:
    median: float  # seconds per round
    extra_info: dict[str, Any]


_FIGURES: dict[tuple[str, str], _Figure] = {}  # (group, case) -> figure; case "raw" = the floor
EXTERNAL, IN_PROCESS = "external", "interleaved"  # the two interleaved echo tests
_INTERLEAVED: dict[tuple[str, int, str], dict[str, Any]] = {}  # (test, size, core) -> figures
CORE_ORDER = ("cython", "python")  # the order of the summary's figures


def _keep(benchmark: Any, case: str) -> None:
    """Remember this test's median (nothing under --benchmark-disable)."""
    if benchmark.enabled and benchmark.stats is not None:
        median = benchmark.stats.stats.median
        _FIGURES[(benchmark.group, case)] = _Figure(median, benchmark.extra_info)


def _ratio(group: str, case: str, over: str, key: str) -> float | None:
    """figure(case) / figure(over) in ``group``, stored in case's extra_info under ``key``."""
    top, bottom = _FIGURES.get((group, case)), _FIGURES.get((group, over))
    if top is None or bottom is None or bottom.median <= 0:
        return None
    ratio = top.median / bottom.median
    top.extra_info[key] = round(ratio, 3)
    return ratio


def _summary() -> list[str]:
    """The derived figures into extra_info; the lines that summarise them."""
    seen = {case.split()[0] for _, case in _FIGURES}
    cores = [core for core in CORE_ORDER if core in seen]
    lines = []
    echo = []
    for size in ECHO_SIZES:
        group, parts = _echo_group(size), []
        for core in cores:
            ratio = _ratio(group, core, "raw", "provider_over_raw")
            if ratio is not None:
                echoed, floor = _FIGURES[(group, core)], _FIGURES[(group, "raw")]
                added = (echoed.median - floor.median) * 1e6
                echoed.extra_info["added_us"] = round(added, 2)
                parts.append(f"{core} {ratio:.2f}x (+{added:.0f} us)")
        if parts:
            echo.append(f"{_size_name(size)}: {', '.join(parts)}")
    if echo:
        echoes = "; ".join(echo)
        lines.append(
            f"provider/raw echo round trip, separate runs: {echoes}"
            " (not a robust ratio; issue 8 is judged on echo external)"
        )
    for size in ECHO_SIZES:
        for test in (EXTERNAL, IN_PROCESS):
            keys = [(test, size, core) for core in CORE_ORDER]
            figures = [(key[2], _INTERLEAVED[key]) for key in keys if key in _INTERLEAVED]
            if not figures:
                continue
            parts = [
                f"{core} median {f['ratio_per_round_median']:.2f}x"
                f" [p25 {f['ratio_per_round_p25']:.2f}, p75 {f['ratio_per_round_p75']:.2f}],"
                f" of medians {f['ratio_of_medians']:.2f}x"
                f" (raw {f['raw_median_us']:.1f} us, provider {f['provider_median_us']:.1f} us)"
                for core, f in figures
            ]
            rounds = ", ".join(sorted({str(f["rounds"]) for _, f in figures}))
            goal = ""
            if size == max(ECHO_SIZES):
                goal = "; issue 8: <= 1.25x at 64 KiB" + (
                    ", judged here" if test == EXTERNAL else ", judged on echo external"
                )
            where = "server in another process" if test == EXTERNAL else "both ends in-process"
            lines.append(
                f"echo {test} {_size_name(size)} ({where}), provider/raw per round:"
                f" {'; '.join(parts)} ({rounds} rounds{goal})"
            )
    cycles = []
    for case in [*cores, "raw"]:
        cycled = _FIGURES.get((CYCLE_GROUP, case))
        if cycled is not None:
            ratio = _ratio(CYCLE_GROUP, case, "raw", "provider_over_raw") if case != "raw" else None
            text = f"{case} {cycled.median / CYCLES * 1e6:.1f} us"
            cycles.append(text + (f" ({ratio:.2f}x)" if ratio is not None else ""))
    if cycles:
        lines.append(f"connect/accept/close per cycle: {', '.join(cycles)}")
    reactor = []
    for core in cores:
        busy, quiet = f"{core} {_idle_name(IDLE)}", f"{core} {_idle_name(0)}"
        ratio = _ratio(REACTOR_GROUP, busy, quiet, "idle_1k_over_0")
        _ratio(REACTOR_GROUP, busy, "raw", "provider_over_raw")
        _ratio(REACTOR_GROUP, quiet, "raw", "provider_over_raw")
        loaded = _FIGURES.get((REACTOR_GROUP, busy))
        if ratio is not None and loaded is not None:
            reactor.append(
                f"{core} {ratio:.2f}x, idle CPU {loaded.extra_info['idle_cpu_ms']:.1f} ms"
                f" in {IDLE_SECONDS} s"
            )
    if reactor:
        lines.append(f"reactor event round, {_idle_name(IDLE)} / 0 idle: {'; '.join(reactor)}")
    return lines


@pytest.fixture(scope="session", autouse=True)
def _provider_summary(request: pytest.FixtureRequest) -> Iterator[None]:
    """At the end of the session: the ratios into extra_info, and a summary printed."""
    yield
    lines = _summary()
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if not lines or reporter is None or capture is None:
        return
    with capture.global_and_fixture_disabled():  # what capsys.disabled() does, at session scope
        reporter.write("\n")  # off the line of progress dots
        reporter.write_sep("-", "HostSocketProvider figures (benchmarks/test_bench_provider.py)")
        for line in lines:
            reporter.write_line(line)


# --------------------------------------------------------------------------------------
# the provider and raw sockets


@dataclass
class Provider:
    """A started HostSocketProvider over a fresh table of the core being timed."""

    p: HostSocketProvider
    up: ws2core.UpcallTable
    table: Any
    err: Any = field(default_factory=lambda: ws2core.Ref(0))

    def check(self, result: int, what: str) -> int:
        """``result`` of a WSP call, or an AssertionError naming the Winsock code."""
        if result == -1 or result == INVALID_SOCKET:
            raise AssertionError(f"{what} failed with Winsock error {self.err.value}")
        return result

    def socket(self) -> int:
        s = self.p.WSPSocket(AF_INET, SOCK_STREAM, 0, None, 0, 0, self.err)
        return self.check(s, "WSPSocket")

    def nodelay(self, s: int) -> None:
        self.check(self.p.WSPSetSockOpt(s, IPPROTO_TCP, TCP_NODELAY, 1, 4, self.err), "TCP_NODELAY")

    def listener(self) -> tuple[int, tuple[str, int]]:
        """A listening socket on the loopback and its address."""
        s = self.socket()
        self.check(self.p.WSPBind(s, (LOOPBACK, 0), 16, self.err), "WSPBind")
        name, namelen = ws2core.Ref(), ws2core.Ref(16)
        self.check(self.p.WSPGetSockName(s, name, namelen, self.err), "WSPGetSockName")
        self.check(self.p.WSPListen(s, 128, self.err), "WSPListen")
        return s, name.value

    def connect(self, s: int, address: tuple[str, int]) -> None:
        result = self.p.WSPConnect(s, address, 16, None, None, None, None, self.err)
        self.check(result, "WSPConnect")

    def accept(self, listener: int) -> int:
        return self.check(self.p.WSPAccept(listener, None, None, None, 0, self.err), "WSPAccept")

    def close(self, s: int) -> None:
        self.check(self.p.WSPCloseSocket(s, self.err), "WSPCloseSocket")

    def sockets(self) -> list[int]:
        """The socket handles still open in the table."""
        return [h for h in self.table if self.table.kind(h) == "socket"]


@pytest.fixture
def provider(core: ModuleType) -> Iterator[Provider]:
    table = core.HandleTable()
    up = ws2core.UpcallTable(table)
    p = HostSocketProvider()
    assert p.WSPStartup(up) == 0
    try:
        yield Provider(p, up, table)
    finally:
        p.close()  # every socket still open, and the reactor thread


def _raw_listener() -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((LOOPBACK, 0))
    listener.listen(128)
    return listener


def _raw_nodelay(sock: socket.socket) -> socket.socket:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


# --------------------------------------------------------------------------------------
# echo


class _Server:
    """``serve()`` in a thread; ``stop()`` joins it and re-raises what it raised.

    ``serve`` returns when its client closes the connection, and must close its own socket
    on the way out, whatever happens: a client waiting for an echo then sees the end of the
    stream and fails its round instead of hanging.
    """

    def __init__(self, serve: Callable[[], None]) -> None:
        self.error: BaseException | None = None

        def body() -> None:
            try:
                serve()
            except BaseException as exc:  # handed to the test by stop()
                self.error = exc

        self.thread = threading.Thread(target=body, name="ws2core-bench-echo", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.thread.join(JOIN_TIMEOUT)
        assert not self.thread.is_alive(), "the echo server did not end"
        if self.error is not None:
            raise self.error


def _provider_echo_server(pv: Provider, a: int) -> Callable[[], None]:
    p = pv.p

    def serve() -> None:
        buffer = bytearray(max(ECHO_SIZES))
        view = memoryview(buffer)
        got, sent, flags, err = ws2core.Ref(), ws2core.Ref(), ws2core.Ref(0), ws2core.Ref(0)
        try:
            while True:
                flags.value = 0
                if p.WSPRecv(a, [buffer], 1, got, flags, None, None, None, err):
                    raise AssertionError(f"server WSPRecv failed with {err.value}")
                count = got.value
                if not count:
                    return  # the client closed
                if p.WSPSend(a, [view[:count]], 1, sent, 0, None, None, None, err):
                    raise AssertionError(f"server WSPSend failed with {err.value}")
                if sent.value != count:
                    raise AssertionError(f"server WSPSend sent {sent.value} of {count} bytes")
        finally:
            p.WSPCloseSocket(a, err)

    return serve


def _raw_echo_server(a: socket.socket) -> Callable[[], None]:
    def serve() -> None:
        buffer = bytearray(max(ECHO_SIZES))
        view = memoryview(buffer)
        with a:
            while True:
                count = a.recv_into(buffer)
                if not count:
                    return
                a.sendall(view[:count])

    return serve


@dataclass
class _Echo:
    """An echo pair, its server running: ``round_trip()`` sends ``message`` once and reads the
    whole echo back into ``received``; it returns the bytes read (``len(message)``)."""

    round_trip: Callable[[], int]
    message: bytes
    received: bytearray


def _provider_client(pv: Provider, c: int, size: int) -> _Echo:
    """The client side of a provider echo pair: blocking WSPSend, then WSPRecv until the
    whole echo is back, on the connected provider socket ``c``."""
    p = pv.p
    message = _message(size)
    echo = bytearray(size)
    view = memoryview(echo)
    out = [message]
    sent, got, flags, err = ws2core.Ref(), ws2core.Ref(), ws2core.Ref(0), ws2core.Ref(0)
    send, recv = p.WSPSend, p.WSPRecv

    def round_trip() -> int:
        if send(c, out, 1, sent, 0, None, None, None, err) or sent.value != size:
            raise AssertionError(f"WSPSend: error {err.value}, {sent.value} of {size} bytes")
        total = 0
        while total < size:
            flags.value = 0
            if recv(c, [view[total:]], 1, got, flags, None, None, None, err):
                raise AssertionError(f"WSPRecv failed with {err.value}")
            if not got.value:
                raise AssertionError("the echo server closed the connection")
            total += got.value
        return total

    return _Echo(round_trip, message, echo)


def _raw_client(c: socket.socket, size: int) -> _Echo:
    """The client side of a raw echo pair: ``sendall``, then ``recv_into`` until the whole
    echo is back, on the connected socket ``c``."""
    message = _message(size)
    echo = bytearray(size)
    view = memoryview(echo)
    sendall, recv_into = c.sendall, c.recv_into

    def round_trip() -> int:
        sendall(message)
        total = 0
        while total < size:
            count = recv_into(view[total:])
            if not count:
                raise AssertionError("the echo server closed the connection")
            total += count
        return total

    return _Echo(round_trip, message, echo)


@contextmanager
def _provider_echo(pv: Provider, size: int) -> Iterator[_Echo]:
    """A provider client connected to an accepted provider socket that a thread echoes on.

    On the way out the client is closed and the server joined (what it raised, raised).
    """
    listener, address = pv.listener()
    c = pv.socket()
    pv.nodelay(c)
    pv.connect(c, address)
    a = pv.accept(listener)
    pv.nodelay(a)
    pv.close(listener)
    server = _Server(_provider_echo_server(pv, a))
    try:
        yield _provider_client(pv, c, size)
    finally:
        pv.close(c)
        server.stop()


@contextmanager
def _raw_echo(size: int) -> Iterator[_Echo]:
    """The floor: the same traffic and threads over socket.socket."""
    with _raw_listener() as listener:
        c = _raw_nodelay(socket.create_connection(listener.getsockname()))
        a = _raw_nodelay(listener.accept()[0])
    server = _Server(_raw_echo_server(a))
    try:
        yield _raw_client(c, size)
    finally:
        c.close()
        server.stop()


@pytest.mark.parametrize("size", ECHO_SIZES, ids=lambda size: _size_name(size).replace(" ", ""))
def test_echo_provider(benchmark: Any, core: ModuleType, provider: Provider, size: int) -> None:
    benchmark.group = _echo_group(size)
    with _provider_echo(provider, size) as echo:
        assert benchmark(echo.round_trip) == size
        assert echo.received == echo.message
    assert provider.sockets() == []
    _keep(benchmark, _core_name(core))


@pytest.mark.parametrize("size", ECHO_SIZES, ids=lambda size: _size_name(size).replace(" ", ""))
def test_echo_raw(benchmark: Any, size: int) -> None:
    """The floor: the same traffic and threads over socket.socket."""
    benchmark.group = _echo_group(size)
    with _raw_echo(size) as echo:
        assert benchmark(echo.round_trip) == size
        assert echo.received == echo.message
    _keep(benchmark, "raw")


# --------------------------------------------------------------------------------------
# echo, interleaved: raw and provider round trips alternating in one run


def _echo_rounds(short: bool, size: int) -> int:
    """Timed rounds of the interleaved echo: the override, the short count, or the full one."""
    if ECHO_ROUNDS_OVERRIDE is not None:
        return ECHO_ROUNDS_OVERRIDE
    return SHORT_ECHO_ROUNDS if short else ECHO_ROUNDS[size]


def _nearest_rank(samples: list[float], fraction: float) -> float:
    """The sample at ``fraction`` by nearest rank: a value that was really observed."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _interleave(
    benchmark: Any, size: int, rounds: int, raw: _Echo, echoed: _Echo
) -> tuple[list[int], list[int]]:
    """ECHO_WARMUP_ROUNDS untimed rounds, then ``rounds`` timed ones as one pedantic round:
    (raw ns, provider ns) per round, raw first in even rounds, every echo checked."""
    clock = time.perf_counter_ns

    def timed(echo: _Echo) -> int:
        """One round trip, in ns; its echo checked after the clock stops."""
        start = clock()
        count = echo.round_trip()
        elapsed = clock() - start
        if count != size or echo.received != echo.message:
            raise AssertionError(f"{count} of {size} bytes echoed, or not the bytes sent")
        return elapsed

    def run(count: int) -> tuple[list[int], list[int]]:
        """``count`` rounds: (raw ns, provider ns) per round, raw first in even rounds."""
        raw_ns: list[int] = []
        provider_ns: list[int] = []
        for i in range(count):
            if i & 1:
                provider_ns.append(timed(echoed))
                raw_ns.append(timed(raw))
            else:
                raw_ns.append(timed(raw))
                provider_ns.append(timed(echoed))
        return raw_ns, provider_ns

    run(ECHO_WARMUP_ROUNDS)
    raw_ns, provider_ns = benchmark.pedantic(run, args=(rounds,), rounds=1, iterations=1)
    assert len(raw_ns) == len(provider_ns) == rounds
    return raw_ns, provider_ns


def _interleaved_figures(rounds: int, raw_ns: list[int], provider_ns: list[int]) -> dict[str, Any]:
    """The figures of an interleaved run (see the module doc), for extra_info and the summary."""
    ratios = [p / r for p, r in zip(provider_ns, raw_ns)]
    raw_us, provider_us = statistics.median(raw_ns) / 1000, statistics.median(provider_ns) / 1000
    return {
        "rounds": rounds,
        "warmup_rounds": ECHO_WARMUP_ROUNDS,
        "raw_median_us": round(raw_us, 2),
        "provider_median_us": round(provider_us, 2),
        "added_us": round(provider_us - raw_us, 2),
        "ratio_per_round_median": round(statistics.median(ratios), 3),
        "ratio_per_round_p25": round(_nearest_rank(ratios, 0.25), 3),
        "ratio_per_round_p75": round(_nearest_rank(ratios, 0.75), 3),
        "ratio_of_medians": round(provider_us / raw_us, 3),
        "ratio_per_round_median_raw_first": round(statistics.median(ratios[0::2]), 3),
        "ratio_per_round_median_provider_first": round(statistics.median(ratios[1::2]), 3),
    }


@pytest.mark.parametrize("size", ECHO_SIZES, ids=lambda size: _size_name(size).replace(" ", ""))
def test_echo_interleaved(
    benchmark: Any, core: ModuleType, provider: Provider, size: int, short_mode: bool
) -> None:
    """Raw and provider round trips alternating, both pairs up at once: see the module doc."""
    benchmark.group = _interleaved_group(size)
    rounds = _echo_rounds(short_mode, size)
    with _raw_echo(size) as raw, _provider_echo(provider, size) as echoed:
        raw_ns, provider_ns = _interleave(benchmark, size, rounds, raw, echoed)
    assert provider.sockets() == []
    figures = _interleaved_figures(rounds, raw_ns, provider_ns)
    benchmark.extra_info.update(figures)
    _INTERLEAVED[(IN_PROCESS, size, _core_name(core))] = figures


# --------------------------------------------------------------------------------------
# echo, external: the same interleaved clients against an echo server in another process

# The server: plain sockets, a thread per connection; it prints its port once it listens,
# and ends when its stdin closes (the test process gone) if it was not killed first.  A
# connection reset ends that connection quietly; anything else it raises is printed on its
# stderr, which the fixture's teardown reports.
EXTERNAL_SERVER = f"""
import os, socket, sys, threading

def serve(c):
    with c:
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = bytearray({max(ECHO_SIZES)})
        view = memoryview(buffer)
        recv_into, sendall = c.recv_into, c.sendall
        try:
            while True:
                count = recv_into(buffer)
                if not count:
                    return
                sendall(view[:count])
        except ConnectionError:
            return

def orphaned():
    sys.stdin.buffer.read()
    os._exit(0)

threading.Thread(target=orphaned, daemon=True).start()
listener = socket.create_server(({LOOPBACK!r}, 0), backlog=16)
print(listener.getsockname()[1], flush=True)
while True:
    c, _ = listener.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""


@pytest.fixture(scope="module")
def external_echo() -> Iterator[tuple[str, int]]:
    """ONE echo server in another process (EXTERNAL_SERVER) for the module: its address.

    It must print its port within SERVER_START_TIMEOUT, or the test fails with what it
    wrote on stderr; at teardown it is killed and waited for, and anything it wrote on
    stderr (an exception in a connection's thread) fails the teardown.
    """
    command = [sys.executable, "-c", EXTERNAL_SERVER]
    pipe = subprocess.PIPE
    process = subprocess.Popen(command, stdin=pipe, stdout=pipe, stderr=pipe, text=True)

    def stop() -> str:
        """Kill and wait for the server; what it wrote on stderr."""
        process.kill()
        try:
            return process.communicate(timeout=JOIN_TIMEOUT)[1].strip()
        except subprocess.TimeoutExpired:
            return "(no stderr: the killed server did not end)"

    stdout = process.stdout
    assert stdout is not None
    ready = select.select([stdout], [], [], SERVER_START_TIMEOUT)[0]
    line = stdout.readline().strip() if ready else ""  # the port; "" if the server ended
    if not line.isdigit():
        try:
            ended = process.wait(1.0) if ready and not line else process.poll()
        except subprocess.TimeoutExpired:
            ended = None
        stderr = stop()
        if line:
            what = f"printed {line!r}, not a port"
        elif ended is not None:
            what = f"ended (exit status {ended}) without printing its port"
        else:
            what = f"printed no port within {SERVER_START_TIMEOUT} s"
        pytest.fail(f"the external echo server {what}; its stderr: {stderr!r}", pytrace=False)
    try:
        yield (LOOPBACK, int(line))
    finally:
        stderr = stop()
    assert not stderr, f"the external echo server wrote on stderr:\n{stderr}"


@contextmanager
def _provider_external(pv: Provider, address: tuple[str, int], size: int) -> Iterator[_Echo]:
    """A blocking provider client (TCP_NODELAY) connected to the external echo server."""
    c = pv.socket()
    try:
        pv.nodelay(c)
        pv.connect(c, address)
        yield _provider_client(pv, c, size)
    finally:
        pv.close(c)


@contextmanager
def _raw_external(address: tuple[str, int], size: int) -> Iterator[_Echo]:
    """A raw client (TCP_NODELAY) connected to the external echo server."""
    with _raw_nodelay(socket.create_connection(address)) as c:
        yield _raw_client(c, size)


@pytest.mark.parametrize("size", ECHO_SIZES, ids=lambda size: _size_name(size).replace(" ", ""))
def test_echo_external(
    benchmark: Any,
    core: ModuleType,
    provider: Provider,
    external_echo: tuple[str, int],
    size: int,
    short_mode: bool,
) -> None:
    """Interleaved like test_echo_interleaved, the server in another process: see the doc."""
    benchmark.group = _external_group(size)
    rounds = _echo_rounds(short_mode, size)
    with ExitStack() as stack:
        raw = stack.enter_context(_raw_external(external_echo, size))
        echoed = stack.enter_context(_provider_external(provider, external_echo, size))
        raw_ns, provider_ns = _interleave(benchmark, size, rounds, raw, echoed)
    assert provider.sockets() == []
    figures = _interleaved_figures(rounds, raw_ns, provider_ns)
    benchmark.extra_info.update(figures)
    _INTERLEAVED[(EXTERNAL, size, _core_name(core))] = figures


# --------------------------------------------------------------------------------------
# connect/accept/close


def _run_cycles(benchmark: Any, cycles: Callable[[], int]) -> None:
    """One round of CYCLES cycles (pedantic, also when disabled); per-cycle time reported."""
    elapsed: list[float] = []

    def timed() -> int:
        start = time.perf_counter()
        done = cycles()
        elapsed.append(time.perf_counter() - start)
        return done

    assert benchmark.pedantic(timed, rounds=1, iterations=1) == CYCLES
    benchmark.extra_info["cycles"] = CYCLES
    benchmark.extra_info["per_cycle_us"] = round(elapsed[-1] / CYCLES * 1e6, 2)


@pytest.mark.benchmark(group=CYCLE_GROUP)
def test_cycles_provider(benchmark: Any, core: ModuleType, provider: Provider) -> None:
    pv, p, err = provider, provider.p, provider.err
    listener, address = pv.listener()
    new, connect, accept, close = p.WSPSocket, p.WSPConnect, p.WSPAccept, p.WSPCloseSocket

    def cycles() -> int:
        for _ in range(CYCLES):
            c = new(AF_INET, SOCK_STREAM, 0, None, 0, 0, err)
            if c == INVALID_SOCKET:
                raise AssertionError(f"WSPSocket failed with {err.value}")
            if connect(c, address, 16, None, None, None, None, err):
                raise AssertionError(f"WSPConnect failed with {err.value}")
            a = accept(listener, None, None, None, 0, err)
            if a == INVALID_SOCKET:
                raise AssertionError(f"WSPAccept failed with {err.value}")
            if close(a, err) or close(c, err):  # the accepted side first: see the module doc
                raise AssertionError(f"WSPCloseSocket failed with {err.value}")
        return CYCLES

    _run_cycles(benchmark, cycles)
    assert pv.sockets() == [listener]
    pv.close(listener)
    assert len(pv.table) == 0
    _keep(benchmark, _core_name(core))


@pytest.mark.benchmark(group=CYCLE_GROUP)
def test_cycles_raw(benchmark: Any) -> None:
    """The floor: socket(), connect, accept, close both, as the provider's cycle does."""
    with _raw_listener() as listener:
        address = listener.getsockname()
        accept = listener.accept
        new = socket.socket

        def cycles() -> int:
            for _ in range(CYCLES):
                c = new(socket.AF_INET, socket.SOCK_STREAM)
                c.connect(address)
                a = accept()[0]
                a.close()
                c.close()
            return CYCLES

        _run_cycles(benchmark, cycles)
    _keep(benchmark, "raw")


# --------------------------------------------------------------------------------------
# the reactor


@dataclass
class _Pair:
    s: int  # the provider's socket, event-selected
    peer: socket.socket  # its raw peer


def _event_selected_pair(pv: Provider, listener: socket.socket, event: int) -> _Pair:
    s = pv.socket()
    pv.connect(s, listener.getsockname())
    peer = _raw_nodelay(listener.accept()[0])
    pv.check(pv.p.WSPEventSelect(s, event, FD_READ | FD_CLOSE, pv.err), "WSPEventSelect")
    return _Pair(s, peer)


@pytest.mark.parametrize("idle", IDLE_COUNTS, ids=lambda idle: _idle_name(idle).replace(" ", ""))
@pytest.mark.benchmark(group=REACTOR_GROUP)
def test_reactor_provider(
    benchmark: Any,
    core: ModuleType,
    provider: Provider,
    descriptors: Callable[[int], AbstractContextManager[None]],
    idle: int,
) -> None:
    pv, p, up, table = provider, provider.p, provider.up, provider.table
    with ExitStack() as stack:
        stack.enter_context(descriptors(2 * idle + 16))
        listener = stack.enter_context(_raw_listener())
        idle_event, event = table.create_event(), table.create_event()
        idle_pairs = []
        for _ in range(idle):
            pair = _event_selected_pair(pv, listener, idle_event)
            stack.callback(pair.peer.close)
            idle_pairs.append(pair)
        active = _event_selected_pair(pv, listener, event)
        stack.callback(active.peer.close)

        size = len(EVENT_MESSAGE)
        buffer = bytearray(4096)
        events, network = [event], WSANETWORKEVENTS()
        got, flags, err = ws2core.Ref(), ws2core.Ref(0), ws2core.Ref(0)
        s, send = active.s, active.peer.send
        wait, enum, recv = up.WSAWaitForMultipleEvents, p.WSPEnumNetworkEvents, p.WSPRecv

        def event_round() -> int:
            if send(EVENT_MESSAGE) != size:
                raise AssertionError("the raw peer sent part of the message")
            if wait(1, events, False, WAIT_MS, False) != WSA_WAIT_EVENT_0:
                raise AssertionError("the event was not set")
            if enum(s, event, network, err):
                raise AssertionError(f"WSPEnumNetworkEvents failed with {err.value}")
            if network.lNetworkEvents != FD_READ:
                raise AssertionError(f"network events {network.lNetworkEvents:#x}, not FD_READ")
            flags.value = 0
            if recv(s, [buffer], 1, got, flags, None, None, None, err):
                raise AssertionError(f"WSPRecv failed with {err.value}")
            return got.value  # type: ignore[no-any-return]

        assert benchmark(event_round) == size
        assert buffer[:size] == EVENT_MESSAGE

        # The idle window: the reactor has every socket registered and nothing to do.
        time.sleep(0.05)  # the last round's re-registration settles first
        cpu, wall = time.process_time(), time.perf_counter()
        time.sleep(IDLE_SECONDS)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        benchmark.extra_info["idle_sockets"] = idle
        benchmark.extra_info["idle_cpu_ms"] = round(cpu * 1000, 2)
        benchmark.extra_info["idle_cpu_percent"] = round(100 * cpu / wall, 2)
        spinning = f"{cpu * 1000:.0f} ms of CPU in {wall:.2f} s idle: the reactor spins"
        assert cpu < SPIN_FRACTION * wall, spinning

        # None of the idle sockets ever had an event recorded.
        assert not table.event_is_set(idle_event)
        for pair in idle_pairs:
            pv.check(enum(pair.s, 0, network, err), "WSPEnumNetworkEvents")
            assert network.lNetworkEvents == 0
        for pair in [*idle_pairs, active]:
            pv.close(pair.s)
        table.close_event(idle_event)
        table.close_event(event)
        assert len(table) == 0
    _keep(benchmark, f"{_core_name(core)} {_idle_name(idle)}")


@pytest.mark.benchmark(group=REACTOR_GROUP)
def test_reactor_raw(benchmark: Any) -> None:
    """The floor: raw send, select() on the receiving socket, recv_into; one thread."""
    with _raw_listener() as listener, selectors.DefaultSelector() as selector:
        with _raw_nodelay(socket.create_connection(listener.getsockname())) as peer:
            with listener.accept()[0] as s:
                s.setblocking(False)
                selector.register(s, selectors.EVENT_READ)
                size = len(EVENT_MESSAGE)
                buffer = bytearray(4096)
                send, select, recv_into = peer.send, selector.select, s.recv_into

                def event_round() -> int:
                    if send(EVENT_MESSAGE) != size:
                        raise AssertionError("the raw peer sent part of the message")
                    if not select(WAIT_MS / 1000):
                        raise AssertionError("the socket did not become readable")
                    return recv_into(buffer)

                assert benchmark(event_round) == size
                assert buffer[:size] == EVENT_MESSAGE
    _keep(benchmark, "raw")
