"""Helpers for the HostSocketProvider tests (test_provider.py, test_provider_events.py).

A plain module beside the tests, as support.py: ``from provider_support import ...``.  The two
fixtures, ``provider`` and ``kit``, live here and are imported into each test module (pytest
only sees fixtures in a test module's namespace or a conftest).

- ``provider``: ``HostSocketProvider()`` started over ``upcalls`` (the core under test).  At
  teardown it checks the test closed every socket and event it made, calls WSPCleanup (0), and
  checks the provider left nothing behind: no socket handle in the table, no host fd, no
  thread of its own (the reactor stops), no exception in any thread.  The leak checks are
  skipped when the test itself already failed, so a failure is reported once.  A per-test
  alarm fails a test whose main thread hangs (a blocked host call included).  A test module
  may give the provider a network policy: a fixture ``make_policy`` returning a callable
  that makes one (called inside the leak checks' window; the policy is closed, its sink with
  it, after WSPCleanup).
- ``kit``: a ``Kit`` that makes sockets (listener, connected pair, UDP, ...) and events through
  the provider and closes whatever the test did not close itself.

Calls: ``ok(p.WSPxxx, *args)`` appends a sentinel lpErrno, checks success (0, or a live socket
handle for WSPSocket/WSPAccept, a count for WSPSelect) and that lpErrno was not written;
``fails(code, p.WSPxxx, *args)`` checks SOCKET_ERROR/INVALID_SOCKET, the exact code and that the
table's socket count did not change; ``call`` returns 0 or the code, for loops that may meet
WSAEWOULDBLOCK.  Every wait has a deadline; nothing here blocks without one.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import ws2core
from ws2core import (
    AF_INET,
    AF_INET6,
    FIONBIO,
    INVALID_SOCKET,
    SOCK_DGRAM,
    SOCK_STREAM,
    SOCKET_ERROR,
    WSA_WAIT_EVENT_0,
    WSA_WAIT_TIMEOUT,
    WSAEWOULDBLOCK,
    Ref,
    errorname,
)
from ws2core.provider import WSANETWORKEVENTS, HostSocketProvider
from support import JOIN_TIMEOUT

SENTINEL = 12345     # pre-set in lpErrno: a write on success shows
TIME_LIMIT = 30.0    # per test: a hung main thread fails the test instead of the suite
WAIT = 5.0           # seconds to wait for something that must happen
WAIT_MS = int(WAIT * 1000)
QUIET_MS = 300       # the window in which something must NOT happen
FD_SETSIZE_X64 = 64  # the fd_set of winsock2.h: u_int fd_count, (padding), SOCKET fd_array[64]

LOOPBACK = {AF_INET: "127.0.0.1", AF_INET6: "::1"}
SOCKADDR_LEN = {AF_INET: 16, AF_INET6: 28}
_SOCKET_RETURNING = {"WSPSocket", "WSPAccept"}


def _ipv6_loopback() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


IPV6 = _ipv6_loopback()
needs_ipv6 = pytest.mark.skipif(not IPV6, reason="no IPv6 loopback (::1) on this host")
needs_proc_fd = pytest.mark.skipif(
    not os.path.isdir("/proc/self/fd"), reason="counting open fds needs /proc/self/fd (Linux)"
)
FAMILIES = [pytest.param(AF_INET, id="v4"), pytest.param(AF_INET6, id="v6", marks=needs_ipv6)]


# --- addresses ------------------------------------------------------------------------------


def address(af: int, port: int) -> tuple[Any, ...]:
    """The loopback address as the provider returns it: (host, port) / (host, port, 0, 0)."""
    return (LOOPBACK[af], port) if af == AF_INET else (LOOPBACK[af], port, 0, 0)


def sockaddr_in(host: str, port: int) -> bytes:
    """A Windows SOCKADDR_IN: family u16 LE, port u16 BE, 4 address bytes, 8 zero bytes."""
    return struct.pack("<H", AF_INET) + struct.pack(">H", port) + socket.inet_aton(host) + bytes(8)


def sockaddr_in6(host: str, port: int) -> bytes:
    """A Windows SOCKADDR_IN6: family 23, port BE, flowinfo 0, 16 address bytes, scope_id 0."""
    return (struct.pack("<H", AF_INET6) + struct.pack(">H", port) + bytes(4)
            + socket.inet_pton(socket.AF_INET6, host) + bytes(4))


@contextlib.contextmanager
def refused_port(af: int = AF_INET) -> Iterator[int]:
    """A loopback port that refuses connections: held by a host socket bound, never listening."""
    family = socket.AF_INET if af == AF_INET else socket.AF_INET6
    with socket.socket(family, socket.SOCK_STREAM) as holder:
        holder.bind((LOOPBACK[af], 0))
        yield holder.getsockname()[1]


# --- calls ----------------------------------------------------------------------------------


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__name__", repr(fn))


def _table(fn: Callable[..., Any]) -> Any:
    """The provider's table, or None before WSPStartup / after WSPCleanup if it let go."""
    upcalls = getattr(getattr(fn, "__self__", None), "upcalls", None)
    return getattr(upcalls, "table", None)


def socket_handles(table: Any) -> list[int]:
    return [h for h in list(table) if table.kind(h) == "socket"]


def ok(fn: Callable[..., Any], *args: Any) -> int:
    """``fn(*args, lpErrno)`` must succeed, leaving the sentinel in lpErrno; returns its result."""
    err = Ref(SENTINEL)
    result = fn(*args, err)
    name = _name(fn)
    assert err.value == SENTINEL, (
        f"{name} returned {result!r} and wrote lpErrno = {err.value!r} ({errorname(err.value)})"
        if isinstance(err.value, int) else f"{name} wrote lpErrno = {err.value!r}")
    if name in _SOCKET_RETURNING:
        assert isinstance(result, int) and result != INVALID_SOCKET, f"{name} returned {result!r}"
        table = _table(fn)
        assert table is None or table.kind(result) == "socket", f"{name} returned {result}, not a live socket"
    elif name == "WSPSelect":
        assert isinstance(result, int) and result >= 0, f"WSPSelect returned {result!r}"
    else:
        assert result == 0, f"{name} returned {result!r}"
    return result  # type: ignore[no-any-return]


def fails(code: int, fn: Callable[..., Any], *args: Any) -> None:
    """``fn(*args, lpErrno)`` must fail with exactly ``code``; the table's sockets unchanged."""
    table = _table(fn)
    before = None if table is None else len(socket_handles(table))
    err = Ref(SENTINEL)
    result = fn(*args, err)
    name = _name(fn)
    expected = INVALID_SOCKET if name in _SOCKET_RETURNING else SOCKET_ERROR
    got = errorname(err.value) if isinstance(err.value, int) else repr(err.value)
    assert (result, err.value) == (expected, code), (
        f"{name}: expected {expected} with {errorname(code)}, got {result!r} with {got}")
    if table is not None:
        assert len(socket_handles(table)) == before, f"{name} failed but changed the socket count"


def call(fn: Callable[..., Any], *args: Any) -> int:
    """``fn(*args, lpErrno)``: 0 on success (lpErrno untouched), else the error code."""
    err = Ref(SENTINEL)
    result = fn(*args, err)
    name = _name(fn)
    if err.value == SENTINEL:
        assert result not in (SOCKET_ERROR, INVALID_SOCKET) or name == "WSPSelect" and result >= 0, (
            f"{name} returned {result!r} without an error code")
        return 0
    expected = INVALID_SOCKET if name in _SOCKET_RETURNING else SOCKET_ERROR
    assert result == expected, f"{name} wrote lpErrno={err.value} but returned {result!r}"
    return err.value  # type: ignore[no-any-return]


def connect_args(af: int, port: int) -> tuple[Any, ...]:
    """WSPConnect's arguments after the socket, to loopback ``port``, with no data or QOS."""
    return ((LOOPBACK[af], port), SOCKADDR_LEN[af], None, None, None, None)


def recv_into(p: Any, s: int, size: int) -> tuple[int, bytes]:
    """One WSPRecv: (0 or the error code, the bytes)."""
    buf, got = bytearray(size), Ref(0)
    code = call(p.WSPRecv, s, [buf], 1, got, Ref(0), None, None, None)
    return code, bytes(buf[:got.value]) if code == 0 else b""


def host(p: Any, s: int) -> socket.socket:
    """The host socket under a provider socket (the contract: its context has ``.host``)."""
    sock: socket.socket = p.upcalls.table.context(s).host
    return sock


def wait_readable(p: Any, s: int, timeout: float = WAIT) -> None:
    """Wait on the host socket itself (not through the provider) for readability."""
    r, _, _ = select.select([host(p, s)], [], [], timeout)
    assert r, f"socket {s}: nothing to read within {timeout} s"


def wait_writable(p: Any, s: int, timeout: float = WAIT) -> None:
    _, w, _ = select.select([], [host(p, s)], [], timeout)
    assert w, f"socket {s}: not writable within {timeout} s"


def wait_pending(p: Any, s: int, count: int, timeout: float = WAIT) -> None:
    """Wait until the host socket holds ``count`` unread bytes (peeked, nothing consumed)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            have = len(host(p, s).recv(count + 1, socket.MSG_PEEK | socket.MSG_DONTWAIT))
        except BlockingIOError:
            have = 0
        if have >= count:
            assert have == count, f"socket {s} holds {have} bytes, expected {count}"
            return
        assert time.monotonic() < deadline, f"socket {s}: {have} of {count} bytes arrived"
        time.sleep(0.005)


def split(data: bytes, parts: int) -> list[bytes]:
    """``data`` as ``parts`` consecutive pieces (some empty when data is short)."""
    cuts = [len(data) * i // parts for i in range(parts + 1)]
    return [data[cuts[i]:cuts[i + 1]] for i in range(parts)]


def send_all(p: Any, s: int, data: bytes, nbufs: int = 1, timeout: float = WAIT) -> None:
    """WSPSend ``data`` as ``nbufs`` WSABUFs until all is sent (waiting out WSAEWOULDBLOCK)."""
    deadline = time.monotonic() + timeout
    view = memoryview(data)
    while True:
        sent = Ref(0)
        bufs = split(view.tobytes(), nbufs) if nbufs > 1 else [view]
        code = call(p.WSPSend, s, bufs, len(bufs), sent, 0, None, None, None)
        if code == 0:
            assert 0 <= sent.value <= len(view), sent.value
            view = view[sent.value:]
            if not view:
                return
        else:
            assert code == WSAEWOULDBLOCK, f"WSPSend: {errorname(code)}"
            wait_writable(p, s, max(0.0, deadline - time.monotonic()))
        assert time.monotonic() < deadline, f"sent {len(data) - len(view)} of {len(data)} bytes"


def recv_some(p: Any, s: int, size: int) -> bytes:
    """One blocking-safe WSPRecv of up to ``size`` bytes (waits for readability first)."""
    wait_readable(p, s)
    buf = bytearray(size)
    got, flags = Ref(0), Ref(0)
    ok(p.WSPRecv, s, [buf], 1, got, flags, None, None, None)
    assert 0 <= got.value <= size
    return bytes(buf[:got.value])


def recv_exact(p: Any, s: int, count: int, sizes: tuple[int, ...] = (65536,),
               timeout: float = 4 * WAIT) -> bytes:
    """WSPRecv until ``count`` bytes came, into len(sizes) buffers of those sizes per call.

    The buffers of one call must be filled in order; a spare buffer past dwBufferCount must
    never be touched; the byte count is never more than asked for.
    """
    deadline = time.monotonic() + timeout
    out = bytearray()
    while len(out) < count:
        assert time.monotonic() < deadline, f"received {len(out)} of {count} bytes"
        wait_readable(p, s, max(0.0, deadline - time.monotonic()))
        bufs = [bytearray(n) for n in sizes]
        spare = bytearray(b"\xaa" * 16)
        got, flags = Ref(0), Ref(0)
        code = call(p.WSPRecv, s, [*bufs, spare], len(bufs), got, flags, None, None, None)
        if code == WSAEWOULDBLOCK:
            continue
        assert code == 0, f"WSPRecv: {errorname(code)}"
        assert spare == b"\xaa" * 16, "WSPRecv wrote past dwBufferCount"
        assert flags.value == 0, flags.value
        n = got.value
        assert 0 < n <= sum(sizes), f"WSPRecv got {n} bytes (0: the peer closed)"
        joined = b"".join(bufs)
        out += joined[:n]
        assert not any(joined[n:]), "WSPRecv wrote past the bytes it reports"
    assert len(out) == count, f"received {len(out)} bytes, expected {count}"
    return bytes(out)


def nonblocking(p: Any, s: int, on: bool = True) -> None:
    ok(p.WSPIoctl, s, FIONBIO, 1 if on else 0, 4, None, 0, Ref(0), None, None, None)


# The options Windows reads and writes as one byte (Wine's test_set_getsockopt): level, name.
ONE_BYTE_OPTIONS = {(0xFFFF, 0x0008), (0xFFFF, 0x0010), (6, 0x0001), (41, 27)}


def getopt(p: Any, s: int, level: int, name: int) -> Any:
    """WSPGetSockOpt into a Ref; optlen (64 in) must come back as the option's Windows size
    (1 for ONE_BYTE_OPTIONS, else 4)."""
    value, length = Ref(None), Ref(64)
    ok(p.WSPGetSockOpt, s, level, name, value, length)
    size = 1 if (level, name) in ONE_BYTE_OPTIONS else 4
    assert length.value == size, f"optlen came back as {length.value}"
    return value.value


def sockname(p: Any, s: int) -> tuple[Any, ...]:
    name, length = Ref(None), Ref(64)
    ok(p.WSPGetSockName, s, name, length)
    assert length.value == (16 if len(name.value) == 2 else 28), (name.value, length.value)
    return name.value  # type: ignore[no-any-return]


# --- events ---------------------------------------------------------------------------------


def wait_event(p: Any, e: int, ms: int = WAIT_MS) -> bool:
    """True if ``e`` was (or became) signalled within ``ms``."""
    result: int = p.upcalls.WSAWaitForMultipleEvents(1, [e], False, ms, False)
    assert result in (WSA_WAIT_EVENT_0, WSA_WAIT_TIMEOUT), f"wait failed: {result}"
    return bool(result == WSA_WAIT_EVENT_0)


def quiet(p: Any, e: int, ms: int = QUIET_MS) -> None:
    assert not wait_event(p, e, ms), f"event {e} was signalled"


def enum(p: Any, s: int, e: int) -> tuple[int, list[int]]:
    """WSPEnumNetworkEvents: (lNetworkEvents, iErrorCode as a list)."""
    events = WSANETWORKEVENTS()
    ok(p.WSPEnumNetworkEvents, s, e, events)
    return events.lNetworkEvents, list(events.iErrorCode)


def gather(p: Any, s: int, e: int, want: int, timeout: float = WAIT) -> tuple[int, list[int]]:
    """Wait on ``e`` and enumerate until every bit of ``want`` was recorded (or the deadline).

    Returns every event recorded meanwhile and, per bit, the error code of its first record.
    """
    deadline = time.monotonic() + timeout
    mask, codes = 0, [0] * 10
    while mask & want != want:
        left = int((deadline - time.monotonic()) * 1000)
        if left <= 0 or not wait_event(p, e, left):
            break
        got, errors = enum(p, s, e)
        for bit in range(10):
            if got & (1 << bit) and not mask & (1 << bit):
                codes[bit] = errors[bit]
        mask |= got
    return mask, codes


# --- fd_sets in three forms -----------------------------------------------------------------


class FD_SET(ctypes.Structure):
    """winsock2.h's fd_set on x64: 520 bytes, fd_array at offset 8."""

    _fields_ = [("fd_count", ctypes.c_uint32), ("fd_array", ctypes.c_uint64 * FD_SETSIZE_X64)]


SET_KINDS = ["FdSet", "bytearray", "ctypes"]


def make_set(kind: str, handles: list[int]) -> Any:
    if kind == "FdSet":
        return ws2core.FdSet(handles)
    if kind == "bytearray":
        buf = bytearray(8 + 8 * FD_SETSIZE_X64)
        struct.pack_into("<I", buf, 0, len(handles))
        for i, h in enumerate(handles):
            struct.pack_into("<Q", buf, 8 + 8 * i, h)
        return buf
    assert kind == "ctypes"
    fds = FD_SET()
    fds.fd_count = len(handles)
    for i, h in enumerate(handles):
        fds.fd_array[i] = h
    return fds


def read_set(fds: Any) -> list[int]:
    if isinstance(fds, bytearray):
        (count,) = struct.unpack_from("<I", fds, 0)
        return [struct.unpack_from("<Q", fds, 8 + 8 * i)[0] for i in range(count)]
    if isinstance(fds, FD_SET):
        return list(fds.fd_array[:fds.fd_count])
    return list(fds)


# --- threads --------------------------------------------------------------------------------


class Worker:
    """Runs ``target()`` in a daemon thread; ``result()`` joins it and returns or re-raises."""

    def __init__(self, target: Callable[[], Any], name: str = "worker") -> None:
        self._outcome: tuple[bool, Any] | None = None
        self.thread = threading.Thread(target=self._run, args=(target,), name=name, daemon=True)
        self.thread.start()

    def _run(self, target: Callable[[], Any]) -> None:
        try:
            self._outcome = (True, target())
        except BaseException as exc:  # noqa: BLE001 - re-raised by result()
            self._outcome = (False, exc)

    def result(self, timeout: float = JOIN_TIMEOUT) -> Any:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"{self.thread.name} did not finish within {timeout} s"
        assert self._outcome is not None
        good, value = self._outcome
        if not good:
            raise value
        return value


def wait_inside_ws2core(thread: threading.Thread, settle: float = 0.1) -> None:
    """Wait until ``thread`` has stayed inside ws2core code (a provider call) for ``settle`` s.

    The observable fact that a call is blocked, instead of a bare sleep.
    """
    package = os.path.dirname(os.path.abspath(ws2core.__file__)) + os.sep
    deadline = time.monotonic() + WAIT
    since = None
    while True:
        frame = sys._current_frames().get(thread.ident or -1)
        inside = False
        while frame is not None:
            if os.path.abspath(frame.f_code.co_filename).startswith(package):
                inside = True
                break
            frame = frame.f_back
        now = time.monotonic()
        if inside:
            since = now if since is None else since
            if now - since >= settle:
                return
        else:
            since = None
        assert thread.is_alive(), "the call returned instead of blocking"
        assert now < deadline, "the thread never blocked inside the provider"
        time.sleep(0.005)


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


# --- the kit and the fixtures ---------------------------------------------------------------


class Kit:
    """Sockets and events made through the provider; ``close_all`` closes what is left."""

    def __init__(self, p: Any) -> None:
        self.p = p
        self.table = p.upcalls.table
        self.sockets: list[int] = []
        self.events: list[int] = []
        self._lock = threading.Lock()

    def add(self, s: int) -> int:
        with self._lock:
            self.sockets.append(s)
        return s

    def socket(self, af: int = AF_INET, type: int = SOCK_STREAM, protocol: int = 0) -> int:
        return self.add(ok(self.p.WSPSocket, af, type, protocol, None, 0, 0))

    def tcp(self, af: int = AF_INET) -> int:
        return self.socket(af, SOCK_STREAM)

    def udp(self, af: int = AF_INET) -> int:
        return self.socket(af, SOCK_DGRAM)

    def bound(self, af: int = AF_INET, type: int = SOCK_STREAM) -> tuple[int, int]:
        s = self.socket(af, type)
        ok(self.p.WSPBind, s, (LOOPBACK[af], 0), SOCKADDR_LEN[af])
        port = sockname(self.p, s)[1]
        assert port > 0
        return s, port

    def listener(self, af: int = AF_INET, backlog: int = 16) -> tuple[int, int]:
        s, port = self.bound(af)
        ok(self.p.WSPListen, s, backlog)
        return s, port

    def full_listener(self, af: int = AF_INET) -> tuple[int, int]:
        """A listener whose backlog is full: listen(0) queues one connection (made here and
        never accepted), so the host drops the next SYN and a connect waits for its
        retransmission (a second, then three more)."""
        s, port = self.listener(af, backlog=0)
        filler = self.tcp(af)
        self.connect(filler, af, port)
        return s, port

    def connect(self, s: int, af: int, port: int) -> None:
        ok(self.p.WSPConnect, s, (LOOPBACK[af], port), SOCKADDR_LEN[af], None, None, None, None)

    def accept(self, listener: int) -> int:
        wait_readable(self.p, listener)
        return self.add(ok(self.p.WSPAccept, listener, None, None, None, 0))

    def pair(self, af: int = AF_INET) -> tuple[int, int]:
        """(client, accepted) connected through the provider; the listener is closed again."""
        listener, port = self.listener(af)
        client = self.tcp(af)
        self.connect(client, af, port)
        accepted = self.accept(listener)
        self.close(listener)
        return client, accepted

    def close(self, s: int) -> None:
        ok(self.p.WSPCloseSocket, s)
        self.forget(s)

    def forget(self, s: int) -> None:
        with self._lock:
            self.sockets.remove(s)

    def event(self) -> int:
        e: int = self.table.create_event()
        with self._lock:
            self.events.append(e)
        return e

    def close_event(self, e: int) -> None:
        self.table.close_event(e)
        with self._lock:
            self.events.remove(e)

    def close_all(self) -> None:
        # No assertion here: a socket that will not close stays in the table, and the
        # provider fixture reports it (unless the test already failed).
        for s in reversed(self.sockets):
            self.p.WSPCloseSocket(s, Ref(0))
        for e in self.events:
            if self.table.kind(e) == "event":
                self.table.close_event(e)
        self.sockets.clear()
        self.events.clear()


@pytest.fixture
def provider(upcalls: ws2core.UpcallTable, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A started HostSocketProvider over ``upcalls``; teardown = WSPCleanup and leak checks."""
    fds_before = open_fds() if os.path.isdir("/proc/self/fd") else None
    threads_before = set(threading.enumerate())
    failed_before = request.session.testsfailed
    thread_errors: list[str] = []
    previous_hook = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        thread_errors.append(f"{args.thread.name if args.thread else '?'}: "
                             + "".join(traceback.format_exception(args.exc_value)))

    threading.excepthook = hook
    make_policy = (request.getfixturevalue("make_policy")
                   if "make_policy" in request.fixturenames else None)
    policy = make_policy() if make_policy is not None else None
    p = HostSocketProvider(policy=policy)
    assert p.WSPStartup(upcalls) == 0
    assert p.upcalls is upcalls
    alarm = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if alarm:
        def expired(signum: int, frame: Any) -> None:
            pytest.fail(f"the test did not finish within {TIME_LIMIT} s (a call hangs?)")

        previous_signal = signal.signal(signal.SIGALRM, expired)
        signal.setitimer(signal.ITIMER_REAL, TIME_LIMIT)
    try:
        yield p
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous_signal)
    table = upcalls.table
    problems: list[str] = []
    leaked = socket_handles(table)
    if leaked:
        problems.append(f"the test left sockets open: {leaked}")
    err = Ref(SENTINEL)
    result = p.WSPCleanup(err)
    if (result, err.value) != (0, SENTINEL):
        problems.append(f"WSPCleanup returned {result} with lpErrno {err.value}")
    if socket_handles(table):
        problems.append(f"WSPCleanup left socket handles: {socket_handles(table)}")
    if policy is not None:
        policy.close()  # its sink: a thread and loopback endpoints the test made
    events = [h for h in list(table) if table.kind(h) == "event"]
    if events:
        problems.append(f"the test left events open: {events}")
        for e in events:
            table.close_event(e)
    deadline = time.monotonic() + WAIT
    while True:
        extra = [t for t in threading.enumerate() if t not in threads_before and t.is_alive()]
        if not extra or time.monotonic() > deadline:
            break
        time.sleep(0.01)
    threading.excepthook = previous_hook
    if extra:
        problems.append(f"threads still running after WSPCleanup: {[t.name for t in extra]}")
    if fds_before is not None:
        fds_after = open_fds()
        if fds_after != fds_before:
            problems.append(f"open fds: {fds_before} before WSPStartup, {fds_after} after WSPCleanup")
    problems.extend(f"exception in thread {text}" for text in thread_errors)
    if request.session.testsfailed == failed_before:  # the test passed: report what it left
        assert not problems, "\n".join(problems)


@pytest.fixture
def kit(provider: Any) -> Iterator[Kit]:
    """A Kit over ``provider``; its sockets and events are closed after the test."""
    k = Kit(provider)
    try:
        yield k
    finally:
        k.close_all()
