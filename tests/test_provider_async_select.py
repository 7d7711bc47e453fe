"""ws2core.provider.HostSocketProvider: WSPAsyncSelect, network events as window messages.

Over real loopback sockets, on both cores through ``upcalls``; every message is waited for on
the queue of a window of the table (``register_window``), with a deadline, so these tests also
check that the reactor posts with WPUPostMessage:

- each FD_* posted as ``(hWnd, wMsg, socket, WSAMAKESELECTREPLY(FD_X, error))``: FD_CONNECT
  (0 or WSAECONNREFUSED) before FD_WRITE, FD_ACCEPT, FD_READ, FD_CLOSE (0 or WSAECONNRESET), and
  on a datagram socket FD_WRITE and FD_READ;
- the re-enabling rules WSPEventSelect has: FD_READ once until a recv (again at once when data
  is left), FD_ACCEPT until an accept, FD_WRITE again after a send failed WSAEWOULDBLOCK,
  FD_CONNECT and FD_CLOSE once;
- lEvent 0 ends the selection (the socket may then be made blocking); WSPEventSelect replaces
  it and it replaces WSPEventSelect; WSPEnumNetworkEvents has nothing to report for it;
- an accepted socket posts to its listener's window with its listener's message;
- a window that is none: WSAEINVAL, nothing changed; a window unregistered after the
  selection: its messages are lost, and the provider serves the other sockets on;
- one window serving many connections as an event loop, each socket's messages in order.

Quiet checks (no message may come) wait QUIET_MS; helpers and fixtures: provider_support.py.
"""

from __future__ import annotations

import queue
import time
from typing import Any

import pytest

from ws2core import (
    AF_INET,
    FD_ACCEPT,
    FD_CLOSE,
    FD_CONNECT,
    FD_OOB,
    FD_READ,
    FD_WRITE,
    FIONBIO,
    SO_LINGER,
    SO_RCVBUF,
    SO_SNDBUF,
    SOCK_DGRAM,
    SOL_SOCKET,
    WSAECONNREFUSED,
    WSAECONNRESET,
    WSAEINVAL,
    WSAENOTSOCK,
    WSAEWOULDBLOCK,
    WSAGETSELECTERROR,
    WSAGETSELECTEVENT,
    WSAMAKESELECTREPLY,
    Ref,
    errorname,
)
from provider_support import (
    FAMILIES,
    QUIET_MS,
    WAIT,
    Kit,
    call,
    connect_args,
    enum,
    fails,
    nonblocking,
    ok,
    quiet,
    recv_exact,
    recv_into,
    refused_port,
    send_all,
    wait_event,
    wait_pending,
)
from provider_support import kit, provider  # noqa: F401  (fixtures)

WM_SOCKET = 0x0400 + 7  # WM_USER + 7: any message number of the program's choosing
ALL = FD_READ | FD_WRITE | FD_ACCEPT | FD_CONNECT | FD_CLOSE


class Window:
    """A window of the provider's table whose messages come to a queue."""

    def __init__(self, p: Any) -> None:
        self.p = p
        self.inbox: queue.Queue[tuple[int, int, int, int]] = queue.Queue()
        self.hwnd: int = p.upcalls.register_window(self.inbox)

    def next(self, timeout: float = WAIT) -> tuple[int, int, int]:
        """The next message as (socket, FD_X, error); fails after ``timeout``."""
        try:
            hwnd, message, wparam, lparam = self.inbox.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no message within {timeout} s") from None
        assert hwnd == self.hwnd
        assert message == WM_SOCKET, message
        assert lparam >> 32 == 0 and WSAMAKESELECTREPLY(
            WSAGETSELECTEVENT(lparam), WSAGETSELECTERROR(lparam)) == lparam, f"{lparam:#x}"
        return wparam, WSAGETSELECTEVENT(lparam), WSAGETSELECTERROR(lparam)

    def expect(self, s: int, event: int, error: int = 0) -> None:
        got = self.next()
        assert got == (s, event, error), (
            f"expected ({s}, {event:#x}, {errorname(error)}), got "
            f"({got[0]}, {got[1]:#x}, {errorname(got[2])})")

    def quiet(self, ms: int = QUIET_MS) -> None:
        try:
            got = self.inbox.get(timeout=ms / 1000)
        except queue.Empty:
            return
        raise AssertionError(f"unexpected message {got}")


@pytest.fixture
def window(provider: Any) -> Any:
    w = Window(provider)
    yield w
    if provider.upcalls.is_window(w.hwnd):
        provider.upcalls.unregister_window(w.hwnd)


def select(p: Any, s: int, w: Window, mask: int) -> None:
    ok(p.WSPAsyncSelect, s, w.hwnd, WM_SOCKET, mask)


# --- every event, as a message ------------------------------------------------------------


@pytest.mark.parametrize("af", FAMILIES)
def test_fd_connect_then_fd_write(provider: Any, kit: Kit, window: Window, af: int) -> None:
    p = provider
    listener, port = kit.listener(af)
    s = kit.tcp(af)
    select(p, s, window, ALL)
    window.quiet()  # nothing holds before the connect
    fails(WSAEWOULDBLOCK, p.WSPConnect, s, *connect_args(af, port))
    window.expect(s, FD_CONNECT)
    window.expect(s, FD_WRITE)
    kit.accept(listener)
    window.quiet()


def test_fd_connect_refused(provider: Any, kit: Kit, window: Window) -> None:
    p = provider
    s = kit.tcp()
    select(p, s, window, ALL)
    with refused_port() as port:
        fails(WSAEWOULDBLOCK, p.WSPConnect, s, *connect_args(AF_INET, port))
        window.expect(s, FD_CONNECT, WSAECONNREFUSED)
    window.quiet()  # no FD_WRITE for a connection that failed


def test_fd_accept_until_accept(provider: Any, kit: Kit, window: Window) -> None:
    p = provider
    listener, port = kit.listener()
    select(p, listener, window, FD_ACCEPT)
    clients = [kit.tcp(), kit.tcp()]
    for c in clients:
        kit.connect(c, AF_INET, port)
    window.expect(listener, FD_ACCEPT)
    window.quiet()  # a second connection waits: FD_ACCEPT is held until an accept
    kit.add(ok(p.WSPAccept, listener, None, None, None, 0))
    window.expect(listener, FD_ACCEPT)  # the accept re-enabled it, and one still waits
    kit.add(ok(p.WSPAccept, listener, None, None, None, 0))
    window.quiet()


def test_fd_read_once_until_recv(provider: Any, kit: Kit, window: Window) -> None:
    p = provider
    c, a = kit.pair()
    select(p, a, window, FD_READ)
    window.quiet()
    send_all(p, c, b"one")
    window.expect(a, FD_READ)
    send_all(p, c, b"two")
    wait_pending(p, a, 6)
    window.quiet()  # recorded once until the recv
    assert recv_into(p, a, 2) == (0, b"on")
    window.expect(a, FD_READ)  # data left after the recv: posted again at once
    assert recv_into(p, a, 8) == (0, b"etwo")
    window.quiet()  # the recv that took the rest re-enabled it, with nothing to post
    send_all(p, c, b"three")
    window.expect(a, FD_READ)
    assert recv_into(p, a, 8) == (0, b"three")


@pytest.mark.parametrize("with_data", [False, True], ids=["no data", "data first"])
def test_fd_close_graceful_once(provider: Any, kit: Kit, window: Window, with_data: bool) -> None:
    p = provider
    c, a = kit.pair()
    select(p, a, window, FD_READ | FD_CLOSE)
    if with_data:
        send_all(p, c, b"bye")
    kit.close(c)
    if with_data:
        window.expect(a, FD_READ)
        window.quiet()  # FD_CLOSE waits until the data was read
        assert recv_into(p, a, 16) == (0, b"bye")
    window.expect(a, FD_CLOSE)
    assert recv_into(p, a, 16) == (0, b"")
    window.quiet()


def test_fd_close_on_reset(provider: Any, kit: Kit, window: Window) -> None:
    p = provider
    c, a = kit.pair()
    select(p, a, window, FD_READ | FD_CLOSE)
    ok(p.WSPSetSockOpt, c, SOL_SOCKET, SO_LINGER, (1, 0), 4)
    kit.close(c)
    window.expect(a, FD_CLOSE, WSAECONNRESET)
    window.quiet()


def test_fd_write_again_after_wouldblock(provider: Any, kit: Kit, window: Window) -> None:
    p = provider
    c, a = kit.pair()
    ok(p.WSPSetSockOpt, c, SOL_SOCKET, SO_SNDBUF, 8192, 4)
    ok(p.WSPSetSockOpt, a, SOL_SOCKET, SO_RCVBUF, 8192, 4)
    select(p, c, window, FD_WRITE)
    window.expect(c, FD_WRITE)  # connected and writable: posted at once
    chunk, total, sent = bytes(65536), 0, Ref(0)
    deadline = time.monotonic() + 10
    while (code := call(p.WSPSend, c, [chunk], 1, sent, 0, None, None, None)) == 0:
        total += sent.value
        assert time.monotonic() < deadline, f"sent {total} bytes and never met WSAEWOULDBLOCK"
    assert code == WSAEWOULDBLOCK, errorname(code)
    window.quiet(50)  # successful sends re-enable nothing
    assert recv_exact(p, a, total) == bytes(total)
    window.expect(c, FD_WRITE)
    window.quiet()


def test_datagram_write_and_read(provider: Any, kit: Kit, window: Window) -> None:
    p = provider
    s, port = kit.bound(AF_INET, SOCK_DGRAM)
    peer = kit.udp()
    select(p, s, window, FD_READ | FD_WRITE | FD_OOB)
    window.expect(s, FD_WRITE)
    ok(p.WSPSendTo, peer, [b"datagram"], 1, Ref(0), 0, ("127.0.0.1", port), 16, None, None, None)
    window.expect(s, FD_READ)
    window.quiet()
    assert recv_into(p, s, 16) == (0, b"datagram")
    window.quiet()


# --- one selection per socket -------------------------------------------------------------


def test_zero_events_end_the_selection(provider: Any, kit: Kit, window: Window) -> None:
    p = provider
    c, a = kit.pair()
    select(p, a, window, FD_READ | FD_CLOSE)
    fails(WSAEINVAL, p.WSPIoctl, a, FIONBIO, 0, 4, None, 0, Ref(0), None, None, None)
    ok(p.WSPAsyncSelect, a, 0, 0, 0)  # any hWnd will do to end it
    send_all(p, c, b"x")
    wait_pending(p, a, 1)
    kit.close(c)
    window.quiet()
    nonblocking(p, a, False)  # allowed again once nothing is selected
    assert recv_into(p, a, 4) == (0, b"x")


def test_the_socket_becomes_nonblocking(provider: Any, kit: Kit, window: Window) -> None:
    p = provider
    c, a = kit.pair()
    select(p, a, window, FD_READ)
    fails(WSAEWOULDBLOCK, p.WSPRecv, a, [bytearray(8)], 1, Ref(0), Ref(0), None, None, None)


def test_event_select_replaces_it_and_back(provider: Any, kit: Kit, window: Window) -> None:
    p = provider
    c, a = kit.pair()
    e = kit.event()
    select(p, a, window, FD_READ)
    ok(p.WSPEventSelect, a, e, FD_READ)
    send_all(p, c, b"1")
    assert wait_event(p, e)
    window.quiet()  # the event selection replaced the window's
    assert enum(p, a, e)[0] == FD_READ
    assert recv_into(p, a, 4) == (0, b"1")
    select(p, a, window, FD_READ)
    send_all(p, c, b"2")
    window.expect(a, FD_READ)
    quiet(p, e)  # and the window's replaced the event's
    assert enum(p, a, e)[0] == 0  # the message is the record: nothing to enumerate
    assert recv_into(p, a, 4) == (0, b"2")


def test_accepted_sockets_post_to_the_listeners_window(provider: Any, kit: Kit,
                                                       window: Window) -> None:
    p = provider
    listener, port = kit.listener()
    select(p, listener, window, FD_ACCEPT | FD_READ | FD_WRITE | FD_CLOSE)
    c = kit.tcp()
    kit.connect(c, AF_INET, port)
    window.expect(listener, FD_ACCEPT)
    a = kit.add(ok(p.WSPAccept, listener, None, None, None, 0))
    window.expect(a, FD_WRITE)
    fails(WSAEINVAL, p.WSPIoctl, a, FIONBIO, 0, 4, None, 0, Ref(0), None, None, None)
    send_all(p, c, b"ping")
    window.expect(a, FD_READ)
    assert recv_into(p, a, 8) == (0, b"ping")
    kit.close(c)
    window.expect(a, FD_CLOSE)
    window.quiet()


# --- windows that are none ----------------------------------------------------------------


def test_a_window_that_is_none(provider: Any, kit: Kit, window: Window) -> None:
    p = provider
    c, a = kit.pair()
    e = kit.event()
    ok(p.WSPEventSelect, a, e, FD_READ)
    for hwnd in (0, e, a, window.hwnd + 4):
        fails(WSAEINVAL, p.WSPAsyncSelect, a, hwnd, WM_SOCKET, FD_READ)
    send_all(p, c, b"!")  # the event selection is still in force
    assert wait_event(p, e)
    fails(WSAENOTSOCK, p.WSPAsyncSelect, e, window.hwnd, WM_SOCKET, FD_READ)
    with pytest.raises(ValueError):
        p.WSPAsyncSelect(a, window.hwnd, 2**32, FD_READ, Ref(0))
    with pytest.raises(TypeError):
        p.WSPAsyncSelect(a, window.hwnd, "WM_USER", FD_READ, Ref(0))


def test_a_window_unregistered_loses_its_messages(provider: Any, kit: Kit,
                                                   window: Window) -> None:
    p = provider
    c1, a1 = kit.pair()
    c2, a2 = kit.pair()
    other = Window(p)
    select(p, a1, window, FD_READ)
    select(p, a2, other, FD_READ)
    p.upcalls.unregister_window(window.hwnd)
    send_all(p, c1, b"lost")
    wait_pending(p, a1, 4)
    send_all(p, c2, b"kept")
    other.expect(a2, FD_READ)  # the reactor goes on serving
    window.quiet()
    assert recv_into(p, a1, 8) == (0, b"lost")
    p.upcalls.unregister_window(other.hwnd)


# --- an event loop over messages ----------------------------------------------------------


def test_one_window_serves_many_connections_in_order(provider: Any, kit: Kit,
                                                     window: Window) -> None:
    """The way a WSAAsyncSelect server runs: one loop over the window's messages, which
    come in each socket's order (FD_WRITE on accept, FD_READ until the data is in, FD_CLOSE
    last), the sockets interleaved."""
    p = provider
    count = 20
    listener, port = kit.listener(backlog=count)
    select(p, listener, window, FD_ACCEPT | FD_READ | FD_WRITE | FD_CLOSE)
    clients = [kit.tcp() for _ in range(count)]
    for i, c in enumerate(clients):
        kit.connect(c, AF_INET, port)
        send_all(p, c, b"client %02d" % i)
        kit.close(c)
    seen: dict[int, list[int]] = {}
    received: dict[int, bytes] = {}
    deadline = time.monotonic() + 20
    while sum(1 for events in seen.values() if events[-1:] == [FD_CLOSE]) < count:
        assert time.monotonic() < deadline, f"closed: {sum(e[-1:] == [FD_CLOSE] for e in seen.values())}"
        s, event, error = window.next()
        assert error == 0, errorname(error)
        if s == listener:
            assert event == FD_ACCEPT
            while call(p.WSPAccept, listener, None, None, None, 0) == 0:
                pass  # accepted with kit.add below: the loop accepts all that wait
            continue
        if s not in seen:
            kit.add(s)
            seen[s], received[s] = [], b""
        assert not seen[s][-1:] == [FD_CLOSE], f"socket {s}: {event:#x} after FD_CLOSE"
        seen[s].append(event)
        if event == FD_READ:
            code, data = recv_into(p, s, 64)
            assert code in (0, WSAEWOULDBLOCK)
            received[s] += data
    for s, events in seen.items():  # FD_WRITE once (before or after FD_READ), FD_CLOSE last
        assert events.count(FD_WRITE) == 1 and events[-1] == FD_CLOSE, (s, events)
        assert set(events[:-1]) == {FD_READ, FD_WRITE}, (s, events)
    assert sorted(received.values()) == [b"client %02d" % i for i in range(count)]
    window.quiet()
