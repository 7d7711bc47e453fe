"""The per-thread cap on blocking (``HostSocketProvider.blocking_limit``) and ``max_block``.

An emulator that runs one guest thread at a time (Speakeasy) cannot let a call wait for a peer
that only another guest thread could be.  Covered, on both cores, over loopback only:

- each blocking path under a cap ends within it, with what running out of its Windows
  timeout gives: recv and recvfrom WSAETIMEDOUT with nothing taken (MSG_WAITALL: what came),
  a 32 MiB send to a peer that never reads the bytes that went (then WSAETIMEDOUT once
  nothing more goes, and the peer gets exactly what was reported), connect to a listener
  whose backlog is full WSAETIMEDOUT with the attempt going on (what later calls see), accept
  with nothing pending WSAETIMEDOUT with the listener still listening, select 0, a lingering
  close at most the cap rounded up to a second; a shorter SO_RCVTIMEO still wins;
- the cap is the calling thread's: another thread's call on the same provider waits as
  long as it must; caps nest (the shorter holds); without one nothing changed;
- a close from another thread still ends a capped call at once, with WSAEINTR (in
  test_provider.py, beside the uncapped case);
- through the guest layer (``guest_support.FakeGuest``, ``Exports(max_block=...)``): each
  export that can block returns its documented failure and last error within max_block.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import ws2core
from ws2core import (
    AF_INET,
    MSG_WAITALL,
    SO_ERROR,
    SO_LINGER,
    SO_RCVTIMEO,
    SOCK_DGRAM,
    SOL_SOCKET,
    WSA_INFINITE,
    WSA_WAIT_TIMEOUT,
    WSAEALREADY,
    WSAEISCONN,
    WSAENOTCONN,
    WSAETIMEDOUT,
    Ref,
    errorname,
)
from ws2core.guest import Exports
from ws2core.ws2_32 import Ws2_32
from guest_support import abi, guest_table  # noqa: F401  (fixtures)
from guest_support import Caller, FakeGuest, listener, open_socket
from provider_support import (
    LOOPBACK,
    Kit,
    Worker,
    call,
    fails,
    getopt,
    host,
    ok,
    recv_exact,
    send_all,
)
from provider_support import kit, provider  # noqa: F401  (fixtures)

# Each test waits for a cap to run out: make test runs them, the later CI stages (sanitizers,
# other Pythons, the fallback) leave them out by this marker (the Makefile's LATER_STAGES).
pytestmark = pytest.mark.waits

CAP = 0.25           # seconds: the cap the tests put on a thread
LATE = 1.5           # how much later than the cap a loaded machine may return
BIG = 32 << 20       # a send no loopback peer's buffers take whole


def recv_args(s: int, size: int = 16, flags: int = 0) -> tuple[Any, ...]:
    return (s, [bytearray(size)], 1, Ref(0), Ref(flags), None, None, None)


def within_cap(seconds: float, cap: float = CAP) -> None:
    """A capped call took about ``cap``: not less, and not much more."""
    assert cap - 0.02 <= seconds < cap + LATE, f"took {seconds:.3f} s for a cap of {cap} s"


@pytest.fixture
def timed() -> Callable[..., tuple[int, float]]:
    """``timed(code, fn, *args)``: ``fails``/``ok`` (code 0) and the seconds it took."""

    def run(code: int, fn: Callable[..., Any], *args: Any) -> tuple[int, float]:
        started = time.monotonic()
        if code:
            fails(code, fn, *args)
            result = code
        else:
            result = ok(fn, *args)
        return result, time.monotonic() - started

    return run


def drain(p: Any, s: int, seconds: float = 0.5) -> bytes:
    """Everything ``s`` receives until it has been quiet for ``seconds`` (host socket)."""
    sock = host(p, s)
    out = bytearray()
    while True:
        sock.settimeout(seconds)
        try:
            chunk = sock.recv(1 << 20)
        except TimeoutError:
            break
        finally:
            sock.setblocking(True)
        if not chunk:
            break
        out += chunk
    return bytes(out)


# --- each blocking path under a cap ----------------------------------------------------------


@pytest.mark.parametrize("kind", ["stream", "datagram"])
def test_capped_recv_times_out_and_loses_nothing(provider: Any, kit: Kit, timed: Any,
                                                 kind: str) -> None:
    p = provider
    if kind == "stream":
        s, peer = kit.pair()
    else:
        s, port = kit.bound(type=SOCK_DGRAM)
        peer = kit.udp()
    with p.blocking_limit(CAP):
        _, took = timed(WSAETIMEDOUT, p.WSPRecvFrom, s, [bytearray(16)], 1, Ref(0), Ref(0),
                        Ref(None), Ref(16), None, None, None)
        within_cap(took)
        if kind == "stream":
            send_all(p, peer, b"late")
        else:
            ok(p.WSPSendTo, peer, [b"late"], 1, Ref(0), 0, (LOOPBACK[AF_INET], port), 16,
               None, None, None)
        buf, got = bytearray(16), Ref(0)
        _, took = timed(0, p.WSPRecv, s, [buf], 1, got, Ref(0), None, None, None)
    assert bytes(buf[:got.value]) == b"late" and took < CAP   # what came after is all there


def test_capped_recv_waitall_returns_what_came(provider: Any, kit: Kit, timed: Any) -> None:
    p = provider
    c, a = kit.pair()
    send_all(p, a, b"half")
    buf, got = bytearray(8), Ref(0)
    with p.blocking_limit(CAP):
        _, took = timed(0, p.WSPRecv, c, [buf], 1, got, Ref(MSG_WAITALL), None, None, None)
    within_cap(took)
    assert bytes(buf[:got.value]) == b"half"


def test_a_shorter_so_rcvtimeo_still_wins(provider: Any, kit: Kit, timed: Any) -> None:
    p = provider
    c, _ = kit.pair()
    ok(p.WSPSetSockOpt, c, SOL_SOCKET, SO_RCVTIMEO, 100, 4)
    with p.blocking_limit(5.0):
        _, took = timed(WSAETIMEDOUT, p.WSPRecv, *recv_args(c))
    within_cap(took, 0.1)


def test_capped_send_reports_what_went(provider: Any, kit: Kit, timed: Any) -> None:
    """The fuzzer's case: a blocking 32 MiB send to a peer that never reads."""
    p = provider
    c, a = kit.pair()
    data = bytes(range(256)) * (BIG // 256)
    sent = Ref(0)
    with p.blocking_limit(CAP):
        _, took = timed(0, p.WSPSend, c, [data], 1, sent, 0, None, None, None)
        within_cap(took)
        assert 0 < sent.value < BIG
        went = sent.value
        # Sending on until the host takes nothing more: then WSAETIMEDOUT, nothing went.
        for _ in range(50):
            code = call(p.WSPSend, c, [data[went:]], 1, sent, 0, None, None, None)
            if code:
                break
            went += sent.value
        assert code == WSAETIMEDOUT, errorname(code)
    assert drain(p, a) == data[:went]   # exactly what was reported, in order


def test_capped_connect_times_out_and_goes_on(provider: Any, kit: Kit, timed: Any) -> None:
    p = provider
    lst, port = kit.full_listener()
    s = kit.tcp()
    target = (LOOPBACK[AF_INET], port)
    with p.blocking_limit(CAP):
        _, took = timed(WSAETIMEDOUT, p.WSPConnect, s, target, 16, None, None, None, None)
    within_cap(took)
    # The attempt goes on, as after a non-blocking connect.
    fails(WSAEALREADY, p.WSPConnect, s, target, 16, None, None, None, None)
    fails(WSAENOTCONN, p.WSPSend, s, [b"x"], 1, Ref(0), 0, None, None, None)
    kit.accept(lst)                       # room in the queue: the next SYN gets in
    writable = ws2core.FdSet([s])
    assert ok(p.WSPSelect, 0, None, writable, None, 5.0) == 1
    assert getopt(p, s, SOL_SOCKET, SO_ERROR) == 0
    fails(WSAEISCONN, p.WSPConnect, s, target, 16, None, None, None, None)
    server = kit.accept(lst)
    send_all(p, s, b"through")
    assert recv_exact(p, server, 7) == b"through"


def test_capped_accept_times_out_and_keeps_listening(provider: Any, kit: Kit, timed: Any) -> None:
    p = provider
    lst, port = kit.listener()
    with p.blocking_limit(CAP):
        _, took = timed(WSAETIMEDOUT, p.WSPAccept, lst, None, None, None, 0)
        within_cap(took)
        c = kit.tcp()
        kit.connect(c, AF_INET, port)
        accepted, took = timed(0, p.WSPAccept, lst, None, None, None, 0)
    kit.add(accepted)
    assert took < CAP
    send_all(p, c, b"ok")
    assert recv_exact(p, accepted, 2) == b"ok"


def test_capped_select_is_a_timeout(provider: Any, kit: Kit, timed: Any) -> None:
    p = provider
    lst, _ = kit.listener()
    readable = ws2core.FdSet([lst])
    with p.blocking_limit(CAP):
        _, took = timed(0, p.WSPSelect, 0, readable, None, None, None)   # no limit asked
        within_cap(took)
        _, took = timed(0, p.WSPSelect, 0, ws2core.FdSet([lst]), None, None, 0.05)
    within_cap(took, 0.05)                                             # a shorter one holds
    assert list(readable) == []


def test_capped_close_lingers_at_most_a_second(provider: Any, kit: Kit) -> None:
    """A close that SO_LINGER makes wait (the peer's window is shut) waits for the cap,
    rounded up to the second Linux counts the linger in, instead of 30 s."""
    p = provider
    c, _ = kit.pair()
    ok(p.WSPSetSockOpt, c, SOL_SOCKET, SO_LINGER, (1, 30), 4)
    data = bytes(BIG)
    with p.blocking_limit(CAP):
        while call(p.WSPSend, c, [data], 1, Ref(0), 0, None, None, None) == 0:
            pass                                           # until nothing more goes
        started = time.monotonic()
        kit.close(c)
    assert time.monotonic() - started < 1 + LATE


# --- one thread's cap, nesting, and no cap ---------------------------------------------------


def test_the_cap_is_the_calling_threads_only(provider: Any, kit: Kit) -> None:
    p = provider
    mine, _ = kit.pair()
    theirs, their_peer = kit.pair()

    def uncapped() -> tuple[float | None, bytes, float]:
        started = time.monotonic()
        buf, got = bytearray(8), Ref(0)
        ok(p.WSPRecv, theirs, [buf], 1, got, Ref(0), None, None, None)
        return p.current_blocking_limit(), bytes(buf[:got.value]), time.monotonic() - started

    with p.blocking_limit(CAP):
        assert p.current_blocking_limit() == CAP
        worker = Worker(uncapped, "uncapped-recv")
        fails(WSAETIMEDOUT, p.WSPRecv, *recv_args(mine))   # this thread: capped
        time.sleep(2 * CAP)                               # the other waits on, past the cap
        send_all(p, their_peer, b"late")
        limit, data, took = worker.result()
    assert (limit, data) == (None, b"late") and took >= 2 * CAP


def test_caps_nest_and_none_adds_none(provider: Any) -> None:
    p = provider
    assert p.current_blocking_limit() is None
    with p.blocking_limit(None):
        assert p.current_blocking_limit() is None
    with p.blocking_limit(2.0):
        with p.blocking_limit(10.0):
            assert p.current_blocking_limit() == 2.0      # an inner cap never lifts an outer
        with p.blocking_limit(0.5), p.blocking_limit(None):
            assert p.current_blocking_limit() == 0.5
        assert p.current_blocking_limit() == 2.0
    assert p.current_blocking_limit() is None
    for bad in (-1.0, float("nan")):
        with pytest.raises(ValueError, match="blocking limit"), p.blocking_limit(bad):
            pass
    assert p._capped == 0


def test_without_a_cap_a_call_waits_as_long_as_it_must(provider: Any, kit: Kit) -> None:
    p = provider
    c, a = kit.pair()
    with p.blocking_limit(CAP):
        pass                                              # a cap come and gone
    timer = threading.Timer(2 * CAP, send_all, (p, a, b"later"))
    timer.start()
    started = time.monotonic()
    buf, got = bytearray(8), Ref(0)
    ok(p.WSPRecv, c, [buf], 1, got, Ref(0), None, None, None)
    timer.join()
    assert bytes(buf[:got.value]) == b"later" and time.monotonic() - started >= 1.5 * CAP


# --- through the guest layer: Exports(max_block=...) -----------------------------------------


@pytest.fixture
def capped_guest(guest_table: ws2core.UpcallTable) -> Iterator[Caller]:
    """A started guest whose exports are capped at CAP; its handles are closed after."""
    emu = FakeGuest(8 if guest_table.table.abi == "x64" else 4)
    g = Caller(Exports(Ws2_32(guest_table), max_block=CAP), emu).started()
    yield g
    g.ws2_32.close()


def guest_connected(g: Caller) -> tuple[int, int]:
    lst, name = listener(g)
    client = open_socket(g)
    assert g("connect", client, name, 16) == 0
    server = g("accept", lst, 0, 0)
    assert server != g.invalid_socket
    assert g("closesocket", lst) == 0
    return client, server


def guest_timed(g: Caller, code: int, name: str, *args: int) -> float:
    started = time.monotonic()
    g.fails(code, name, *args)
    took = time.monotonic() - started
    within_cap(took)
    return took


def test_guest_recv_accept_connect_are_capped(capped_guest: Caller) -> None:
    g = capped_guest
    client, _ = guest_connected(g)
    guest_timed(g, WSAETIMEDOUT, "recv", client, g.emu.alloc(64), 64, 0)
    lst, _ = listener(g)
    guest_timed(g, WSAETIMEDOUT, "accept", lst, 0, 0)
    full, name = listener(g)
    assert g("listen", full, 0) == 0
    filler = open_socket(g)
    assert g("connect", filler, name, 16) == 0
    guest_timed(g, WSAETIMEDOUT, "connect", open_socket(g), name, 16)


def test_guest_send_of_32_mib_returns_what_went(capped_guest: Caller) -> None:
    g = capped_guest
    client, _ = guest_connected(g)
    data = g.emu.alloc(BIG)
    started = time.monotonic()
    sent = g("send", client, data, BIG, 0)
    within_cap(time.monotonic() - started)
    assert 0 < sent < BIG


def test_guest_waits_are_capped_by_the_hook(capped_guest: Caller) -> None:
    g = capped_guest
    event = g("WSACreateEvent")
    started = time.monotonic()
    assert g("WSAWaitForMultipleEvents", 1, g.pointers(event), 0, WSA_INFINITE, 0) == WSA_WAIT_TIMEOUT
    within_cap(time.monotonic() - started)
    lst, _ = listener(g)
    started = time.monotonic()
    assert g("select", 0, g.fd_set(lst), 0, 0, 0) == 0                  # NULL: no limit asked
    within_cap(time.monotonic() - started)
    assert g.ws2_32.provider.current_blocking_limit() is None          # only inside a hook
