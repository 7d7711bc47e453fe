"""Overlapped I/O through Ws2_32: a completion's latency by each path, and a thousand
receives against a thousand event-selected sockets (issue 21's figures).

Everything goes through one ``Ws2_32`` (and its ``Kernel32`` for the completion port) over a
fresh table of the core being timed, as a Windows program's calls would; the peers are raw
host sockets (``socket.socket``, TCP_NODELAY) connected over the loopback.  The peer's send
is a host ``send`` from the benchmark thread rather than a Ws2_32 ``send``: it costs the same
few microseconds in every path and every floor, so what differs between them is the
receiving side alone, which is what is compared; a Ws2_32 send would add the provider's own
send time (about 3 µs of Python) to every figure alike and hide nothing, but say less.

- **Completion latency** (group "overlapped completion latency"),
  ``test_completion_latency[<core>]``: five receiving sockets, each with its raw peer, and
  one round of each path per round, in an order that rotates (round i starts with path
  i mod 5, so each path goes first, and follows each other, equally often).  A path's
  round: post its receive of 1 byte (the overlapped ones must go pending: SOCKET_ERROR with
  WSA_IO_PENDING), sleep SETTLE (200 µs, untimed; every path alike), start the clock, the
  peer sends 1 byte, and the clock stops when the waiting call has returned with the
  completion and its outcome is read.  The sleep lets the provider's reactor thread, woken
  by the post, register the socket before the data comes, so that what is timed is a
  receive that is really pending, as one waiting for a client is; without it the data
  races that registration, and the medians were some 15-35 µs higher on the 2-CPU machine
  where this was written.  The paths:

  - ``event``: WSARecv with ``hEvent``; WSAWaitForMultipleEvents on it (WSA_WAIT_EVENT_0),
    then WSAGetOverlappedResult (TRUE, 1 byte);
  - ``routine``: WSARecv with a completion routine; an alertable WSAWaitForMultipleEvents on
    an event nobody sets, which returns WSA_WAIT_IO_COMPLETION once the routine ran (the
    provider queues it with WPUQueueApc to this thread);
  - ``port``: WSARecv on a socket associated with a completion port (CreateIoCompletionPort,
    a key of its own); GetQueuedCompletionStatus returns (TRUE, 1, the key, the structure);
  - ``blocking``, the floor: a blocking ``recv`` of 1 byte on a socket made without
    WSA_FLAG_OVERLAPPED (WSASocketW, flags 0): the same provider, no completion machinery;
    the provider waits for the host socket in the calling thread, where the three paths
    above wait for the provider's reactor thread to complete the operation;
  - ``host``: the machine's floor, ``recv_into`` on a raw socket pair, no ws2core at all.

  Each round checks its byte (it changes from round to round) and count.  Rounds:
  LATENCY_ROUNDS (2,000) after LATENCY_WARMUP_ROUNDS (50) untimed ones; SHORT_LATENCY_ROUNDS
  (100) in the short mode (a ``--benchmark-max-time`` under conftest's SHORT_MAX_TIME, 0.1 s; the CI's
  is 0.02) and under ``--benchmark-disable``.  All rounds are one pedantic round, so
  pytest-benchmark's table shows the whole interleaved run (every path of every round), not
  a per-round figure.  The figures are in ``extra_info`` and printed: per path
  ``<path>_median_us``, ``_p25_us``, ``_p75_us`` (nearest rank), ``<path>_over_floor`` (the
  median of the per-round ratio path / blocking: the two were measured a few hundred
  microseconds apart, so a machine state shared by both cancels) and ``<path>_over_host``
  (the ratio of the medians, over the raw sockets).  Where an overlapped path's time goes
  (traced once, port path, medians from the start of the clock): the host send returns at
  about 16 µs (the loopback delivers in the sender's call), the reactor thread is running
  at 30, has tried the receive and reaches the completion at 41, has posted it at 55, and
  the waiting thread is back at 72: two thread wake-ups and the GIL handed over twice,
  where the blocking floor's thread polls the host socket itself.
- **A thousand sockets** (group "thousand sockets"), ``test_thousand_sockets[<core>]``:
  THOUSAND (1,000) overlapped sockets and THOUSAND event-selected ones, each with its raw
  peer, all up at once; a round of each model per round, alternating which goes first.  The
  clock runs from the peer's first write (1 byte to each of the N sockets of the model, in
  order) until the last byte has been taken:

  - ``overlapped``: every socket associated with one completion port (its index as the
    key), one pending 1-byte WSARecv each, posted before the clock starts (the posting time
    is reported apart, ``overlapped_post_ms``); the benchmark thread takes the completions
    with GetQueuedCompletionStatusEx, COMPLETION_BATCH (64) entries at most per call, until
    all N are in; each key comes exactly once, with 1 byte and no error;
  - ``event_select``: WSAEventSelect(FD_READ) on each socket with its own event.  One wait
    takes WSA_MAXIMUM_WAIT_EVENTS (64) events at most, so the sockets are split into groups
    of 64, each served by a thread of its own: the way the WaitForMultipleObjects page tells
    a program to wait on more handles than that, and the classic event-select server's
    design.  A group's thread waits on its events, takes the signalled socket's
    WSAEnumNetworkEvents (which resets the event) and, for FD_READ, ``recv``s its byte; it
    reports to the benchmark thread when every socket of its group has its byte.  (The other
    design, one event shared by every socket, costs a WSAEnumNetworkEvents on each of the N
    sockets per wake-up: it does not scale, and servers with many sockets do not use it.)

  ``extra_info``: ``sockets``, ``rounds``, ``overlapped_median_ms``,
  ``event_select_median_ms``, ``event_select_over_overlapped`` (the median per-round ratio),
  ``overlapped_post_ms``, ``event_select_threads``, and every round's time of each
  (``overlapped_rounds_ms``, ``event_select_rounds_ms``).  Rounds: THOUSAND_ROUNDS (7) after one
  untimed round of each; in the short mode and under ``--benchmark-disable``, one round of
  each with SHORT_THOUSAND (200) sockets and no warm-up.  4N descriptors are needed (the
  peers and the provider's host sockets): the soft RLIMIT_NOFILE is raised up to the hard
  limit for the test, or it is skipped.

No timing is asserted; every round checks its bytes and counts, and each test ends with the
table empty after WSACleanup, so the short CI mode is a smoke test of the three completion
paths and of a thousand-socket reactor too.
"""

from __future__ import annotations

import math
import queue
import socket
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

import ws2core
from ws2core import (
    AF_INET,
    FALSE,
    FD_READ,
    INVALID_SOCKET,
    SOCK_STREAM,
    SOCKET_ERROR,
    TRUE,
    WSA_IO_PENDING,
    WSA_MAXIMUM_WAIT_EVENTS,
    WSA_WAIT_EVENT_0,
    WSA_WAIT_IO_COMPLETION,
    WSA_WAIT_TIMEOUT,
    Ref,
)
from ws2core.kernel32 import Kernel32
from ws2core.provider import WSANETWORKEVENTS
from ws2core.structs import WSAOVERLAPPED
from ws2core.ws2_32 import Ws2_32

LATENCY_GROUP = "overlapped completion latency"
THOUSAND_GROUP = "thousand sockets"

PATHS = ("event", "routine", "port", "blocking", "host")
FLOOR = "blocking"
LATENCY_ROUNDS = 2000
SETTLE = 200e-6  # seconds between posting a receive and the peer's send (see the module doc)
LATENCY_WARMUP_ROUNDS = 50
SHORT_LATENCY_ROUNDS = 100

THOUSAND = 1000
SHORT_THOUSAND = 200
THOUSAND_ROUNDS = 7
COMPLETION_BATCH = 64  # entries per GetQueuedCompletionStatusEx
MODELS = ("overlapped", "event_select")

WAIT_MS = 10_000  # a lost completion fails the round instead of hanging the run
IDLE_WAIT_MS = 50  # a group thread's wait between rounds: how soon it sees the stop
JOIN_TIMEOUT = 10.0
LOOPBACK = "127.0.0.1"
PORT_KEY = 0x5EED


def _nearest_rank(samples: Sequence[float], fraction: float) -> float:
    """The sample at ``fraction`` by nearest rank: a value that was really observed."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def _core_name(core: ModuleType) -> str:
    return "python" if core.__name__ == "ws2core._handles_py" else "cython"


def _print(request: pytest.FixtureRequest, text: str) -> None:
    capsys: pytest.CaptureFixture[str] = request.getfixturevalue("capsys")
    with capsys.disabled():  # shown under -q too, between the progress dots
        print(f"\n  {request.node.name}: {text}")


@pytest.fixture
def ws(core: ModuleType) -> Iterator[Ws2_32]:
    """A started Ws2_32 over a fresh table of the core being timed; every handle gone at the
    end (the test closes its sockets, events and port; WSACleanup the thread handle that the
    completion routines needed)."""
    api = Ws2_32(ws2core.UpcallTable(core.HandleTable()))
    assert api.WSAStartup(0x0202, Ref()) == 0
    try:
        yield api
        assert api.WSACleanup() == 0
        assert len(api.upcalls.table) == 0, "handles left open"
    finally:
        api.close()


def _raw_listener() -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind((LOOPBACK, 0))
    listener.listen(128)
    return listener


def _connected(
    ws: Ws2_32, listener: socket.socket, overlapped: bool = True
) -> tuple[int, socket.socket]:
    """A Ws2_32 socket (socket(): overlapped; else WSASocketW without the flag) connected to
    ``listener``, and the raw peer accepted there (TCP_NODELAY: 1-byte sends go at once)."""
    if overlapped:
        s = ws.socket(AF_INET, SOCK_STREAM, 0)
    else:
        s = ws.WSASocketW(AF_INET, SOCK_STREAM, 0, None, 0, 0)
    assert s != INVALID_SOCKET, f"socket failed with {ws.WSAGetLastError()}"
    assert ws.provider.is_overlapped(s) == overlapped
    assert ws.connect(s, listener.getsockname(), 16) == 0, f"connect: {ws.WSAGetLastError()}"
    peer = listener.accept()[0]
    peer.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s, peer


def _pending(ws: Ws2_32, result: int, what: str) -> None:
    if result != SOCKET_ERROR or ws.WSAGetLastError() != WSA_IO_PENDING:
        raise AssertionError(f"{what} did not go pending: {result}, {ws.WSAGetLastError()}")


# --------------------------------------------------------------------------------------
# completion latency by path


@dataclass
class _Path:
    """One way of receiving the peer's byte: ``post()`` starts the receive (nothing for the
    floors), ``complete()`` is the waiting call, whose results must equal ``expected``;
    the byte lands in ``buffer``."""

    peer: socket.socket
    buffer: bytearray
    post: Callable[[], None]
    complete: Callable[[], Any]
    expected: Any

    def round(self, byte: bytes) -> int:
        """Post, settle, then the timed part: the peer's send and the waiting call; ns."""
        self.post()
        time.sleep(SETTLE)
        start = time.perf_counter_ns()
        self.peer.send(byte)
        outcome = self.complete()
        elapsed = time.perf_counter_ns() - start
        if outcome != self.expected or self.buffer != byte:
            raise AssertionError(
                f"{outcome!r}, not {self.expected!r}; {bytes(self.buffer)!r}, not {byte!r}"
            )
        return elapsed


def _latency_paths(ws: Ws2_32, k32: Kernel32, stack: ExitStack) -> dict[str, _Path]:
    """The five paths of the module doc, their sockets made and their cleanup on ``stack``."""
    listener = stack.enter_context(_raw_listener())
    flags = Ref(0)

    def pair(overlapped: bool = True) -> tuple[int, socket.socket]:
        s, peer = _connected(ws, listener, overlapped)
        stack.callback(peer.close)
        stack.callback(ws.closesocket, s)
        return s, peer

    def event() -> int:
        made = ws.WSACreateEvent()
        stack.callback(ws.WSACloseEvent, made)
        return made

    def event_path() -> _Path:
        s, peer = pair()
        overlapped, buffer = WSAOVERLAPPED(hEvent=event()), bytearray(1)
        buffers, events, transferred, result_flags = [buffer], [overlapped.hEvent], Ref(), Ref()

        def post() -> None:
            ws.WSAResetEvent(overlapped.hEvent)
            _pending(ws, ws.WSARecv(s, buffers, 1, None, flags, overlapped, None), "WSARecv")

        def complete() -> tuple[int, int, int]:
            waited = ws.WSAWaitForMultipleEvents(1, events, FALSE, WAIT_MS, FALSE)
            result = ws.WSAGetOverlappedResult(s, overlapped, transferred, FALSE, result_flags)
            return waited, result, transferred.value

        return _Path(peer, buffer, post, complete, (WSA_WAIT_EVENT_0, TRUE, 1))

    def routine_path() -> _Path:
        s, peer = pair()
        overlapped, buffer = WSAOVERLAPPED(), bytearray(1)
        buffers, events = [buffer], [event()]  # an event never set: the routine ends the wait
        ran: list[tuple[int, int, int]] = []

        def routine(error: int, count: int, lpOverlapped: Any, dwFlags: int) -> None:
            ran.append((error, count, dwFlags))

        def post() -> None:
            ran.clear()
            _pending(ws, ws.WSARecv(s, buffers, 1, None, flags, overlapped, routine), "WSARecv")

        def complete() -> tuple[int, list[tuple[int, int, int]]]:
            return ws.WSAWaitForMultipleEvents(1, events, FALSE, WAIT_MS, TRUE), ran

        return _Path(peer, buffer, post, complete, (WSA_WAIT_IO_COMPLETION, [(0, 1, 0)]))

    def port_path() -> _Path:
        s, peer = pair()
        port = k32.CreateIoCompletionPort(-1, None, 0, 0)
        assert port, f"CreateIoCompletionPort: {ws.WSAGetLastError()}"
        stack.callback(k32.CloseHandle, port)
        assert k32.CreateIoCompletionPort(s, port, PORT_KEY, 0) == port
        overlapped, buffer = WSAOVERLAPPED(), bytearray(1)
        buffers = [buffer]

        def post() -> None:
            _pending(ws, ws.WSARecv(s, buffers, 1, None, flags, overlapped, None), "WSARecv")

        def complete() -> tuple[int, int, int, Any]:
            return k32.GetQueuedCompletionStatus(port, WAIT_MS)

        # The structure compares by identity: the packet must carry this one.
        return _Path(peer, buffer, post, complete, (TRUE, 1, PORT_KEY, overlapped))

    def blocking_path() -> _Path:
        s, peer = pair(overlapped=False)
        buffer = bytearray(1)
        return _Path(peer, buffer, lambda: None, lambda: ws.recv(s, buffer, 1, 0), 1)

    def host_path() -> _Path:
        with _raw_listener() as raw_listener:
            peer = socket.create_connection(raw_listener.getsockname())
            s = raw_listener.accept()[0]
        stack.callback(peer.close)
        stack.callback(s.close)
        peer.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buffer = bytearray(1)
        return _Path(peer, buffer, lambda: None, lambda: s.recv_into(buffer, 1), 1)

    made = {
        "event": event_path,
        "routine": routine_path,
        "port": port_path,
        "blocking": blocking_path,
        "host": host_path,
    }
    assert tuple(made) == PATHS
    return {name: make() for name, make in made.items()}


def _interleave(paths: dict[str, _Path], rounds: int) -> dict[str, list[int]]:
    """``rounds`` rounds of every path, round i starting with path i mod 5: ns per round."""
    order = list(paths.values())
    samples: list[list[int]] = [[] for _ in order]
    for i in range(rounds):
        byte = bytes([i & 0xFF])
        first = i % len(order)
        for j in (*range(first, len(order)), *range(first)):
            samples[j].append(order[j].round(byte))
    return dict(zip(paths, samples))


def _latency_figures(samples: dict[str, list[int]]) -> dict[str, Any]:
    floor, host = samples[FLOOR], statistics.median(samples["host"])
    figures: dict[str, Any] = {"rounds": len(floor), "warmup_rounds": LATENCY_WARMUP_ROUNDS}
    for path, ns in samples.items():
        median = statistics.median(ns)
        figures[f"{path}_median_us"] = round(median / 1000, 2)
        figures[f"{path}_p25_us"] = round(_nearest_rank(ns, 0.25) / 1000, 2)
        figures[f"{path}_p75_us"] = round(_nearest_rank(ns, 0.75) / 1000, 2)
        if path != FLOOR:
            ratios = [a / b for a, b in zip(ns, floor)]
            figures[f"{path}_over_floor"] = round(statistics.median(ratios), 3)
        figures[f"{path}_over_host"] = round(median / host, 3)
    return figures


@pytest.mark.benchmark(group=LATENCY_GROUP)
def test_completion_latency(
    benchmark: Any, request: pytest.FixtureRequest, core: ModuleType, ws: Ws2_32, short_mode: bool
) -> None:
    """A pending receive's completion by event, routine and port, beside a blocking receive
    and raw sockets, interleaved round by round: see the module doc."""
    short = short_mode
    rounds = SHORT_LATENCY_ROUNDS if short else LATENCY_ROUNDS
    with ExitStack() as stack:
        paths = _latency_paths(ws, Kernel32(ws), stack)
        if not short:
            _interleave(paths, LATENCY_WARMUP_ROUNDS)
        samples = benchmark.pedantic(_interleave, args=(paths, rounds), rounds=1, iterations=1)
    assert all(len(ns) == rounds for ns in samples.values())
    figures = _latency_figures(samples)
    benchmark.extra_info.update(figures)
    parts = [
        f"{path} {figures[f'{path}_median_us']:.1f} us"
        f" [{figures[f'{path}_p25_us']:.1f}..{figures[f'{path}_p75_us']:.1f}]"
        + (f" {figures[f'{path}_over_floor']:.2f}x" if path != FLOOR else " (floor)")
        for path in PATHS
    ]
    _print(
        request,
        f"median [p25..p75] per-round ratio to blocking: {'; '.join(parts)} ({rounds} rounds)",
    )


# --------------------------------------------------------------------------------------
# a thousand sockets


class _Group:
    """A thread serving up to 64 event-selected sockets, each with its own event: it waits
    on their events, takes WSAEnumNetworkEvents of the signalled one and recv()s its byte;
    when every socket of the group has had its byte in this round, it puts its size on
    ``done`` and starts over.  Whatever it raises goes to ``done`` too."""

    def __init__(
        self,
        ws: Ws2_32,
        sockets: list[int],
        events: list[int],
        done: queue.SimpleQueue[Any],
        stop: threading.Event,
    ) -> None:
        self.ws, self.sockets, self.events, self.done, self.stop = ws, sockets, events, done, stop
        self.expected = b""
        self.thread = threading.Thread(target=self._serve, name="ws2core-bench-group", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            self._rounds()
        except BaseException as exc:  # handed to the test by _take
            self.done.put(exc)

    def _rounds(self) -> None:
        ws, sockets, events = self.ws, self.sockets, self.events
        count, network, buffer = len(sockets), WSANETWORKEVENTS(), bytearray(1)
        wait, enum, recv = ws.WSAWaitForMultipleEvents, ws.WSAEnumNetworkEvents, ws.recv
        remaining = set(range(count))
        while not self.stop.is_set():
            result = wait(count, events, FALSE, IDLE_WAIT_MS, FALSE)
            if result == WSA_WAIT_TIMEOUT:
                continue
            i = result - WSA_WAIT_EVENT_0
            if not 0 <= i < count:
                raise AssertionError(f"WSAWaitForMultipleEvents: {result}, {ws.WSAGetLastError()}")
            if enum(sockets[i], events[i], network):
                raise AssertionError(f"WSAEnumNetworkEvents: {ws.WSAGetLastError()}")
            if not network.lNetworkEvents & FD_READ:
                continue
            if recv(sockets[i], buffer, 1, 0) != 1 or buffer != self.expected or i not in remaining:
                raise AssertionError(
                    f"socket {i} of the group: {bytes(buffer)!r}, {ws.WSAGetLastError()}"
                )
            remaining.discard(i)
            if not remaining:
                remaining = set(range(count))
                self.done.put(count)


def _take(done: queue.SimpleQueue[Any]) -> int:
    try:
        answer = done.get(timeout=JOIN_TIMEOUT)
    except queue.Empty:
        raise AssertionError(
            f"a group thread did not finish its round within {JOIN_TIMEOUT} s"
        ) from None
    if isinstance(answer, BaseException):
        raise answer
    return int(answer)


@pytest.mark.benchmark(group=THOUSAND_GROUP)
def test_thousand_sockets(
    benchmark: Any,
    request: pytest.FixtureRequest,
    core: ModuleType,
    ws: Ws2_32,
    descriptors: Callable[[int], AbstractContextManager[None]],
    short_mode: bool,
) -> None:
    """N pending overlapped receives on one port against N event-selected sockets served
    64 to a thread, interleaved round by round: see the module doc."""
    short = short_mode
    n, rounds = (SHORT_THOUSAND, 1) if short else (THOUSAND, THOUSAND_ROUNDS)
    k32 = Kernel32(ws)
    clock = time.perf_counter_ns
    stop = threading.Event()
    done: queue.SimpleQueue[Any] = queue.SimpleQueue()
    with ExitStack() as stack:
        stack.enter_context(descriptors(4 * n + 64))
        listener = stack.enter_context(_raw_listener())

        def pairs() -> tuple[list[int], list[socket.socket]]:
            sockets, peers = [], []
            for _ in range(n):
                s, peer = _connected(ws, listener)
                stack.callback(peer.close)
                stack.callback(ws.closesocket, s)
                sockets.append(s)
                peers.append(peer)
            return sockets, peers

        # The overlapped model: one port, a key and a structure per socket.
        port_sockets, port_peers = pairs()
        port = k32.CreateIoCompletionPort(-1, None, 0, 0)
        assert port, f"CreateIoCompletionPort: {ws.WSAGetLastError()}"
        stack.callback(k32.CloseHandle, port)
        for key, s in enumerate(port_sockets):
            assert k32.CreateIoCompletionPort(s, port, key, 0) == port
        structures = [WSAOVERLAPPED() for _ in range(n)]
        port_buffers = [[bytearray(1)] for _ in range(n)]
        flags = Ref(0)
        post_ns: list[int] = []

        def overlapped_round(byte: bytes) -> int:
            start = clock()
            for s, buffers, structure in zip(port_sockets, port_buffers, structures):
                _pending(ws, ws.WSARecv(s, buffers, 1, None, flags, structure, None), "WSARecv")
            post_ns.append(clock() - start)
            seen = bytearray(n)
            taken = 0
            start = clock()
            for peer in port_peers:
                peer.send(byte)
            while taken < n:
                ok, entries = k32.GetQueuedCompletionStatusEx(
                    port, COMPLETION_BATCH, WAIT_MS, FALSE
                )
                if ok != TRUE:
                    raise AssertionError(f"GetQueuedCompletionStatusEx: {ws.WSAGetLastError()}")
                for key, structure, error, count in entries:
                    if error or count != 1 or seen[key] or structure is not structures[key]:
                        raise AssertionError(
                            f"completion of socket {key}: error {error}, {count} byte(s)"
                        )
                    seen[key] = 1
                taken += len(entries)
            elapsed = clock() - start
            if any(buffers[0] != byte for buffers in port_buffers):
                raise AssertionError("a receive's buffer does not hold the byte sent")
            return elapsed

        # The event-select model: an event per socket, a thread per 64.
        selected_sockets, selected_peers = pairs()
        events = []
        for s in selected_sockets:
            event = ws.WSACreateEvent()
            stack.callback(ws.WSACloseEvent, event)
            assert ws.WSAEventSelect(s, event, FD_READ) == 0
            events.append(event)
        size = WSA_MAXIMUM_WAIT_EVENTS
        groups = [
            _Group(ws, selected_sockets[i : i + size], events[i : i + size], done, stop)
            for i in range(0, n, size)
        ]

        def stop_groups() -> None:
            stop.set()
            for group in groups:
                group.thread.join(JOIN_TIMEOUT)
                assert not group.thread.is_alive(), "a group thread did not end"

        stack.callback(stop_groups)

        def event_select_round(byte: bytes) -> int:
            for group in groups:
                group.expected = byte
            start = clock()
            for peer in selected_peers:
                peer.send(byte)
            served = sum(_take(done) for _ in groups)
            elapsed = clock() - start
            if served != n:
                raise AssertionError(f"{served} of {n} sockets served")
            return elapsed

        models = {"overlapped": overlapped_round, "event_select": event_select_round}
        assert tuple(models) == MODELS

        def run(count: int) -> dict[str, list[int]]:
            samples: dict[str, list[int]] = {name: [] for name in MODELS}
            for i in range(count):
                byte = bytes([i & 0xFF])
                for name in MODELS if i % 2 == 0 else MODELS[::-1]:
                    samples[name].append(models[name](byte))
            return samples

        if not short:
            run(1)
            post_ns.clear()
        samples = benchmark.pedantic(run, args=(rounds,), rounds=1, iterations=1)
        threads = len(groups)
        stop_groups()
        assert done.empty(), "a group thread reported more than its rounds"
    overlapped_ns, selected_ns = samples["overlapped"], samples["event_select"]
    assert len(overlapped_ns) == len(selected_ns) == rounds
    ratio = statistics.median(e / o for e, o in zip(selected_ns, overlapped_ns))
    figures = {
        "sockets": n,
        "rounds": rounds,
        "overlapped_median_ms": round(statistics.median(overlapped_ns) / 1e6, 3),
        "event_select_median_ms": round(statistics.median(selected_ns) / 1e6, 3),
        "event_select_over_overlapped": round(ratio, 3),
        "overlapped_post_ms": round(statistics.median(post_ns) / 1e6, 3),
        "overlapped_rounds_ms": [round(ns / 1e6, 3) for ns in overlapped_ns],
        "event_select_rounds_ms": [round(ns / 1e6, 3) for ns in selected_ns],
        "event_select_threads": threads,
    }
    benchmark.extra_info.update(figures)
    _print(
        request,
        f"{n} sockets: overlapped {figures['overlapped_median_ms']:.2f} ms"
        f" (+{figures['overlapped_post_ms']:.2f} ms posting the receives),"
        f" event-select {figures['event_select_median_ms']:.2f} ms ({threads} threads);"
        f" event-select / overlapped {ratio:.2f}x ({rounds} rounds, median)",
    )
