"""ws2core.provider.HostSocketProvider: WSPEventSelect, WSPEnumNetworkEvents and the reactor.

Over real loopback sockets, on both cores through ``upcalls``; every network event is waited
for with the table's own WSAWaitForMultipleEvents, so these tests also check that the reactor
signals with WPUSetEvent:

- one thread serving 63 clients on 64 events (the listener's and one per accepted socket),
  each client echoed its own bytes, 63 graceful FD_CLOSE;
- FD_CONNECT with WSAECONNREFUSED / 0, FD_CLOSE with WSAECONNRESET on an abortive close and 0
  on a graceful close or the peer's SD_SEND (only after the data was read);
- FD_WRITE on connect and accept, and again once a send that failed WSAEWOULDBLOCK can go on;
- the one-record rule: FD_READ is recorded once until a recv re-enables it, FD_ACCEPT until an
  accept; conditions already true are recorded at WSPEventSelect time;
- WSPEnumNetworkEvents copies and clears the record and resets the event (not a zero event;
  a dead event is WSAEINVAL and keeps the record); WSPEventSelect(s, e, 0) cancels; a new
  association replaces the old; accepted sockets inherit the listener's association and mode;
- closing a socket while another thread waits on its event: the wait times out, the handle is
  gone, and the reactor goes on serving the other sockets.

Quiet checks (something must not happen) wait QUIET_MS; everything else waits on events with a
deadline.  Helpers and fixtures: provider_support.py.
"""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from ws2core import (
    AF_INET,
    FD_ACCEPT,
    FD_ACCEPT_BIT,
    FD_CLOSE,
    FD_CLOSE_BIT,
    FD_CONNECT,
    FD_CONNECT_BIT,
    FD_READ,
    FD_READ_BIT,
    FD_WRITE,
    FD_WRITE_BIT,
    FIONBIO,
    SD_SEND,
    SO_LINGER,
    SO_RCVBUF,
    SO_SNDBUF,
    SOCKET_ERROR,
    SOL_SOCKET,
    WSA_MAXIMUM_WAIT_EVENTS,
    WSA_WAIT_EVENT_0,
    WSA_WAIT_TIMEOUT,
    WSAECONNREFUSED,
    WSAECONNRESET,
    WSAEINVAL,
    WSAENOTSOCK,
    WSAEWOULDBLOCK,
    Ref,
    errorname,
)
from ws2core.provider import WSANETWORKEVENTS
from provider_support import (
    FAMILIES,
    QUIET_MS,
    Kit,
    Worker,
    call,
    connect_args,
    enum,
    fails,
    gather,
    nonblocking,
    ok,
    quiet,
    recv_exact,
    recv_into,
    recv_some,
    refused_port,
    send_all,
    wait_event,
    wait_pending,
    wait_readable,
)
from provider_support import kit, provider  # noqa: F401  (fixtures)
from support import run_threads


# --- one thread, 64 events ------------------------------------------------------------------


def test_one_thread_serves_63_clients_on_64_events(provider: Any, kit: Kit) -> None:
    p, up = provider, provider.upcalls
    clients = WSA_MAXIMUM_WAIT_EVENTS - 1
    listener, port = kit.listener(backlog=clients + 1)
    accept_event = kit.event()
    ok(p.WSPEventSelect, listener, accept_event, FD_ACCEPT)
    seen: dict[str, Any] = {"accepted": 0, "closes": [], "most_events": 0, "echoed": 0,
                            "deadline": time.monotonic() + 20}

    def serve() -> None:
        sockets, events = [listener], [accept_event]
        while len(seen["closes"]) < clients:
            assert time.monotonic() < seen["deadline"], f"server state: {seen}"
            seen["most_events"] = max(seen["most_events"], len(events))
            woken = up.WSAWaitForMultipleEvents(len(events), events, False, 1000, False)
            if woken == WSA_WAIT_TIMEOUT:
                continue
            first = woken - WSA_WAIT_EVENT_0
            assert 0 <= first < len(events), f"wait failed: {woken}, {up.WSAGetLastError()}"
            for s, e in list(zip(sockets, events))[first:]:
                mask, codes = enum(p, s, e)
                if mask & FD_ACCEPT:
                    assert s == listener and codes[FD_ACCEPT_BIT] == 0
                    while True:
                        err = Ref(0)
                        a = p.WSPAccept(listener, None, None, None, 0, err)
                        if err.value == WSAEWOULDBLOCK:
                            break
                        assert err.value == 0, errorname(err.value)
                        kit.add(a)
                        own = kit.event()  # the accepted socket inherits (accept_event, FD_ACCEPT)
                        ok(p.WSPEventSelect, a, own, FD_READ | FD_CLOSE)
                        sockets.append(a)
                        events.append(own)
                        seen["accepted"] += 1
                if s != listener and mask & (FD_READ | FD_CLOSE):
                    while True:  # read everything there is (non-blocking: event-selected)
                        code, data = recv_into(p, s, 4096)
                        if code == WSAEWOULDBLOCK or (code == 0 and not data):
                            break
                        assert code == 0, errorname(code)
                        send_all(p, s, data)
                        seen["echoed"] += len(data)
                if mask & FD_CLOSE:
                    seen["closes"].append(codes[FD_CLOSE_BIT])
                    index = sockets.index(s)
                    kit.close(s)
                    kit.close_event(e)
                    del sockets[index], events[index]

    server = Worker(serve, "one-thread-server")
    messages = [f"client {i:02d} says {'x' * i}".encode() for i in range(clients)]
    received: dict[int, bytes] = {}
    all_echoed = threading.Barrier(clients)  # no client closes before all 63 are served

    def client(i: int) -> None:
        s = kit.tcp()
        kit.connect(s, AF_INET, port)
        send_all(p, s, messages[i])
        received[i] = recv_exact(p, s, len(messages[i]))
        all_echoed.wait(20)
        kit.close(s)

    errors = run_threads(clients, client)
    # every client has closed: the last FD_CLOSE records are due now
    seen["deadline"] = min(seen["deadline"], time.monotonic() + 5)
    assert not errors, errors[0]
    server.result()
    assert received == dict(enumerate(messages))
    assert seen["accepted"] == clients
    assert seen["most_events"] == WSA_MAXIMUM_WAIT_EVENTS  # one wait on 64 events
    assert seen["closes"] == [0] * clients  # 63 graceful FD_CLOSE
    assert seen["echoed"] == sum(map(len, messages))


# --- FD_CONNECT, FD_CLOSE -------------------------------------------------------------------


@pytest.mark.parametrize("af", FAMILIES)
def test_fd_connect_refused(provider: Any, kit: Kit, af: int) -> None:
    p = provider
    s = kit.tcp(af)
    e = kit.event()
    ok(p.WSPEventSelect, s, e, FD_CONNECT | FD_WRITE | FD_READ | FD_CLOSE)
    with refused_port(af) as port:
        fails(WSAEWOULDBLOCK, p.WSPConnect, s, *connect_args(af, port))
        mask, codes = gather(p, s, e, FD_CONNECT)
    assert mask & FD_CONNECT, f"no FD_CONNECT (recorded: {mask:#x})"
    assert codes[FD_CONNECT_BIT] == WSAECONNREFUSED, errorname(codes[FD_CONNECT_BIT])
    assert not mask & FD_WRITE, "FD_WRITE for a connection that failed"


@pytest.mark.parametrize("af", FAMILIES)
def test_fd_connect_and_fd_write_on_success(provider: Any, kit: Kit, af: int) -> None:
    p = provider
    listener, port = kit.listener(af)
    s = kit.tcp(af)
    e = kit.event()
    ok(p.WSPEventSelect, s, e, FD_CONNECT | FD_WRITE)
    quiet(p, e)  # nothing to record before the connect
    fails(WSAEWOULDBLOCK, p.WSPConnect, s, *connect_args(af, port))
    mask, codes = gather(p, s, e, FD_CONNECT | FD_WRITE)
    assert mask == FD_CONNECT | FD_WRITE, f"{mask:#x}"
    assert codes[FD_CONNECT_BIT] == codes[FD_WRITE_BIT] == 0
    kit.accept(listener)


def test_fd_close_on_reset(provider: Any, kit: Kit) -> None:
    p = provider
    c, a = kit.pair()
    e = kit.event()
    ok(p.WSPEventSelect, c, e, FD_READ | FD_CLOSE)
    ok(p.WSPSetSockOpt, a, SOL_SOCKET, SO_LINGER, (1, 0), 4)
    kit.close(a)
    mask, codes = gather(p, c, e, FD_CLOSE)
    assert mask & FD_CLOSE, f"no FD_CLOSE (recorded: {mask:#x})"
    assert codes[FD_CLOSE_BIT] == WSAECONNRESET, errorname(codes[FD_CLOSE_BIT])


@pytest.mark.parametrize("with_data", [False, True], ids=["no data", "data first"])
@pytest.mark.parametrize("how", ["shutdown", "close"])
def test_fd_close_graceful(provider: Any, kit: Kit, how: str, with_data: bool) -> None:
    p = provider
    c, a = kit.pair()
    e = kit.event()
    ok(p.WSPEventSelect, c, e, FD_READ | FD_CLOSE)
    if with_data:
        send_all(p, a, b"bye")
    if how == "shutdown":
        ok(p.WSPShutdown, a, SD_SEND)
    else:
        kit.close(a)
    if with_data:
        mask, codes = gather(p, c, e, FD_READ)
        assert mask == FD_READ, f"{mask:#x}: FD_CLOSE must wait until the data was read"
        assert recv_into(p, c, 16) == (0, b"bye")
    mask, codes = gather(p, c, e, FD_CLOSE)
    assert mask & FD_CLOSE, f"no FD_CLOSE (recorded: {mask:#x})"
    assert codes[FD_CLOSE_BIT] == 0, errorname(codes[FD_CLOSE_BIT])
    assert recv_into(p, c, 16) == (0, b"")  # graceful: 0 bytes
    quiet(p, e)  # FD_CLOSE is recorded once


def test_fd_close_recorded_after_recv_saw_the_end_of_stream(provider: Any, kit: Kit) -> None:
    """A recv that meets the end of the stream before the reactor does: FD_CLOSE still comes
    (the peer closed, all data was read), as on Windows."""
    p = provider
    c, a = kit.pair()
    e = kit.event()
    ok(p.WSPEventSelect, c, e, FD_READ | FD_CLOSE)
    send_all(p, a, b"last words")
    kit.close(a)
    assert gather(p, c, e, FD_READ)[0] & FD_READ
    assert recv_into(p, c, 64) == (0, b"last words")
    assert recv_into(p, c, 64) == (0, b"")  # the end of the stream, read at once
    mask, codes = gather(p, c, e, FD_CLOSE)
    assert mask & FD_CLOSE, f"no FD_CLOSE once the application read the end of the stream ({mask:#x})"
    assert codes[FD_CLOSE_BIT] == 0


@pytest.mark.parametrize("read_first", [False, True], ids=["unread", "end read"])
def test_fd_close_recorded_at_event_select_time(provider: Any, kit: Kit, read_first: bool) -> None:
    """The peer closed before the association: an already-true FD_CLOSE (all data read, or
    nothing sent), recorded at WSPEventSelect time, with error 0."""
    p = provider
    c, a = kit.pair()
    kit.close(a)
    wait_readable(p, c)
    if read_first:
        assert recv_into(p, c, 8) == (0, b"")
    e = kit.event()
    ok(p.WSPEventSelect, c, e, FD_READ | FD_CLOSE)
    mask, codes = gather(p, c, e, FD_CLOSE)
    assert mask & FD_CLOSE, f"no FD_CLOSE for a connection the peer had closed ({mask:#x})"
    assert codes[FD_CLOSE_BIT] == 0


# --- FD_WRITE ---------------------------------------------------------------------------------


def test_fd_write_again_after_wouldblock(provider: Any, kit: Kit) -> None:
    p = provider
    c, a = kit.pair()
    ok(p.WSPSetSockOpt, c, SOL_SOCKET, SO_SNDBUF, 8192, 4)
    ok(p.WSPSetSockOpt, a, SOL_SOCKET, SO_RCVBUF, 8192, 4)
    e = kit.event()
    ok(p.WSPEventSelect, c, e, FD_WRITE)
    mask, _ = gather(p, c, e, FD_WRITE)  # connected and writable: recorded at once
    assert mask == FD_WRITE
    chunk, total, sent = bytes(65536), 0, Ref(0)
    deadline = time.monotonic() + 10
    while True:
        code = call(p.WSPSend, c, [chunk], 1, sent, 0, None, None, None)
        if code:
            assert code == WSAEWOULDBLOCK, errorname(code)
            break
        assert 0 < sent.value <= len(chunk)
        total += sent.value
        assert time.monotonic() < deadline, f"sent {total} bytes and never met WSAEWOULDBLOCK"
    assert total > 0
    assert recv_exact(p, a, total) == bytes(total)  # drain the peer
    mask, codes = gather(p, c, e, FD_WRITE)
    assert mask & FD_WRITE, "FD_WRITE not recorded again once the send buffer had room"
    assert codes[FD_WRITE_BIT] == 0


def test_fd_write_on_accept_through_inherited_association(provider: Any, kit: Kit) -> None:
    p = provider
    listener, port = kit.listener()
    e = kit.event()
    ok(p.WSPEventSelect, listener, e, FD_ACCEPT | FD_WRITE | FD_READ)
    c = kit.tcp()
    kit.connect(c, AF_INET, port)
    mask, _ = gather(p, listener, e, FD_ACCEPT)
    assert mask == FD_ACCEPT
    a = kit.add(ok(p.WSPAccept, listener, None, None, None, 0))
    # inherited: the listener's event and mask, and its non-blocking mode
    mask, _ = gather(p, a, e, FD_WRITE)
    assert mask == FD_WRITE
    fails(WSAEWOULDBLOCK, p.WSPRecv, a, [bytearray(8)], 1, Ref(0), Ref(0), None, None, None)
    fails(WSAEINVAL, p.WSPIoctl, a, FIONBIO, 0, 4, None, 0, Ref(0), None, None, None)
    send_all(p, c, b"ping")
    mask, _ = gather(p, a, e, FD_READ)
    assert mask == FD_READ
    assert recv_into(p, a, 8) == (0, b"ping")


# --- the one-record rule ----------------------------------------------------------------------


def test_fd_read_recorded_once_until_recv(provider: Any, kit: Kit) -> None:
    p = provider
    c, a = kit.pair()
    e = kit.event()
    ok(p.WSPEventSelect, a, e, FD_READ)
    quiet(p, e)
    send_all(p, c, b"1")
    assert gather(p, a, e, FD_READ)[0] == FD_READ
    send_all(p, c, b"2")  # a second send before any recv: no second FD_READ
    wait_pending(p, a, 2)
    quiet(p, e)
    assert enum(p, a, e)[0] == 0
    assert recv_into(p, a, 1) == (0, b"1")  # a partial recv: data remains, FD_READ again
    assert gather(p, a, e, FD_READ)[0] == FD_READ
    assert recv_into(p, a, 1) == (0, b"2")  # nothing remains: re-enabled, not recorded
    quiet(p, e)
    send_all(p, c, b"3")
    assert gather(p, a, e, FD_READ)[0] == FD_READ
    assert recv_into(p, a, 8) == (0, b"3")


def test_fd_read_recorded_at_event_select_time(provider: Any, kit: Kit) -> None:
    p = provider
    c, a = kit.pair()
    send_all(p, c, b"waiting")
    wait_pending(p, a, 7)
    e = kit.event()
    ok(p.WSPEventSelect, a, e, FD_READ)
    at_once = kit.table.event_is_set(e)
    mask, _ = gather(p, a, e, FD_READ)
    assert mask == FD_READ
    assert at_once, "data was waiting: FD_READ must be recorded at WSPEventSelect time"


def test_fd_accept_at_event_select_time_and_reenabled_by_accept(provider: Any, kit: Kit) -> None:
    p = provider
    listener, port = kit.listener()
    for _ in range(2):
        kit.connect(kit.tcp(), AF_INET, port)
    wait_readable(p, listener)
    e = kit.event()
    ok(p.WSPEventSelect, listener, e, FD_ACCEPT)
    at_once = kit.table.event_is_set(e)
    mask, codes = gather(p, listener, e, FD_ACCEPT)
    assert (mask, codes[FD_ACCEPT_BIT]) == (FD_ACCEPT, 0)
    quiet(p, e)  # recorded once, although two are pending
    kit.add(ok(p.WSPAccept, listener, None, None, None, 0))
    assert gather(p, listener, e, FD_ACCEPT)[0] == FD_ACCEPT  # one more is pending
    kit.add(ok(p.WSPAccept, listener, None, None, None, 0))
    quiet(p, e)  # none left
    fails(WSAEWOULDBLOCK, p.WSPAccept, listener, None, None, None, 0)
    assert at_once, "a connection was pending: FD_ACCEPT must be recorded at WSPEventSelect time"


def test_enum_copies_clears_and_resets(provider: Any, kit: Kit) -> None:
    p = provider
    c, a = kit.pair()
    e = kit.event()
    ok(p.WSPEventSelect, a, e, FD_READ | FD_WRITE)
    send_all(p, c, b"x")
    mask, _ = gather(p, a, e, FD_READ | FD_WRITE)
    assert mask == FD_READ | FD_WRITE
    assert not kit.table.event_is_set(e)  # reset by WSPEnumNetworkEvents
    events = WSANETWORKEVENTS()
    events.lNetworkEvents = -1
    for i in range(10):
        events.iErrorCode[i] = -1
    ok(p.WSPEnumNetworkEvents, a, e, events)  # the record is empty now
    assert (events.lNetworkEvents, list(events.iErrorCode)) == (0, [0] * 10)
    assert recv_into(p, a, 8) == (0, b"x")


def test_enum_with_zero_event_does_not_reset_and_duck_typed_struct(provider: Any, kit: Kit) -> None:
    p = provider
    c, a = kit.pair()
    e = kit.event()
    ok(p.WSPEventSelect, a, e, FD_READ)
    send_all(p, c, b"x")
    assert wait_event(p, e)
    events = SimpleNamespace(lNetworkEvents=0, iErrorCode=[7] * 10)
    ok(p.WSPEnumNetworkEvents, a, 0, events)
    assert events.lNetworkEvents == FD_READ and events.iErrorCode[FD_READ_BIT] == 0
    assert kit.table.event_is_set(e), "hEventObject 0: no event is reset"
    assert enum(p, a, 0)[0] == 0  # but the record was cleared


def test_enum_with_dead_event_keeps_the_record(provider: Any, kit: Kit) -> None:
    p = provider
    c, a = kit.pair()
    e = kit.event()
    ok(p.WSPEventSelect, a, e, FD_READ)
    send_all(p, c, b"x")
    assert wait_event(p, e)
    dead = kit.event()
    kit.close_event(dead)
    fails(WSAEINVAL, p.WSPEnumNetworkEvents, a, dead, WSANETWORKEVENTS())
    fails(WSAEINVAL, p.WSPEnumNetworkEvents, a, c, WSANETWORKEVENTS())  # a socket is no event
    assert enum(p, a, e)[0] == FD_READ


def test_event_select_zero_cancels(provider: Any, kit: Kit) -> None:
    p = provider
    c, a = kit.pair()
    e = kit.event()
    ok(p.WSPEventSelect, a, e, FD_READ | FD_CLOSE)
    send_all(p, c, b"x")
    assert wait_event(p, e)
    ok(p.WSPEventSelect, a, e, 0)  # cancels, and clears the record
    kit.table.reset_event(e)
    assert enum(p, a, e)[0] == 0
    send_all(p, c, b"y")
    kit.close(c)
    quiet(p, e)
    assert enum(p, a, e)[0] == 0
    nonblocking(p, a, False)  # allowed again once the association is gone
    assert recv_exact(p, a, 2) == b"xy"


def test_event_select_replaces_the_association(provider: Any, kit: Kit) -> None:
    p = provider
    c, a = kit.pair()
    first, second = kit.event(), kit.event()
    ok(p.WSPEventSelect, a, first, FD_READ)
    ok(p.WSPEventSelect, a, second, FD_READ)
    send_all(p, c, b"x")
    assert gather(p, a, second, FD_READ)[0] == FD_READ
    assert not kit.table.event_is_set(first)


# A new WSPEventSelect re-enables nothing, and an event that happened before it was wanted is
# recorded by the first selection that wants it: what Wine 8 does (tests/emulator's
# event_reselect compares the two line by line).


def test_fd_connect_of_a_finished_connect_is_recorded_by_the_first_selection_wanting_it(
        provider: Any, kit: Kit) -> None:
    p = provider
    c, a = kit.pair()  # a blocking connect, finished before any selection
    e = kit.event()
    ok(p.WSPEventSelect, c, e, FD_READ)
    quiet(p, e)
    assert enum(p, c, e)[0] == 0
    ok(p.WSPEventSelect, c, e, FD_READ | FD_CONNECT | FD_WRITE)
    mask, codes = gather(p, c, e, FD_CONNECT | FD_WRITE)
    assert (mask, codes[FD_CONNECT_BIT]) == (FD_CONNECT | FD_WRITE, 0)
    e2 = kit.event()
    ok(p.WSPEventSelect, a, e2, FD_CONNECT | FD_WRITE)  # accepted: it never connected
    assert gather(p, a, e2, FD_CONNECT | FD_WRITE, timeout=QUIET_MS / 1000)[0] == FD_WRITE


@pytest.mark.parametrize("event", ["FD_CONNECT|FD_WRITE", "FD_ACCEPT", "FD_READ", "FD_CLOSE"])
def test_reselecting_does_not_record_a_reported_event_again(provider: Any, kit: Kit,
                                                             event: str) -> None:
    p = provider
    c, a = kit.pair()
    if event == "FD_ACCEPT":
        s, port = kit.listener()
        kit.connect(kit.tcp(), AF_INET, port)
        want = FD_ACCEPT
    elif event == "FD_READ":
        send_all(p, a, b"xy")
        s, want = c, FD_READ
    elif event == "FD_CLOSE":
        kit.close(a)
        s, want = c, FD_CLOSE
    else:
        s, want = c, FD_CONNECT | FD_WRITE
    first, second = kit.event(), kit.event()
    ok(p.WSPEventSelect, s, first, want)
    assert gather(p, s, first, want)[0] == want
    ok(p.WSPEventSelect, s, second, want)
    quiet(p, second)
    assert enum(p, s, second)[0] == 0
    if event == "FD_READ":  # recv re-enables it: a byte is left
        assert recv_some(p, s, 1) == b"x"
        assert gather(p, s, second, FD_READ)[0] == FD_READ


def test_fd_close_waits_for_unread_data_across_a_new_selection(provider: Any, kit: Kit) -> None:
    p = provider
    c, a = kit.pair()
    send_all(p, a, b"xy")
    e = kit.event()
    ok(p.WSPEventSelect, c, e, FD_READ)
    assert gather(p, c, e, FD_READ)[0] == FD_READ
    kit.close(a)
    ok(p.WSPEventSelect, c, e, FD_READ | FD_CLOSE)
    quiet(p, e)  # FD_READ held until a recv, FD_CLOSE owed until the data is read
    assert recv_exact(p, c, 2) == b"xy"
    assert gather(p, c, e, FD_CLOSE)[0] & FD_CLOSE


def test_event_select_makes_the_socket_nonblocking(provider: Any, kit: Kit) -> None:
    p = provider
    c, a = kit.pair()
    ok(p.WSPEventSelect, a, kit.event(), FD_READ)
    fails(WSAEWOULDBLOCK, p.WSPRecv, a, [bytearray(8)], 1, Ref(0), Ref(0), None, None, None)
    fails(WSAEINVAL, p.WSPIoctl, a, FIONBIO, 0, 4, None, 0, Ref(0), None, None, None)
    nonblocking(p, a, True)  # asking for non-blocking again is fine


# --- closing under a waiter -------------------------------------------------------------------


def test_close_while_another_thread_waits_on_its_event(provider: Any, kit: Kit) -> None:
    p, up = provider, provider.upcalls
    c, a = kit.pair()
    e = kit.event()
    ok(p.WSPEventSelect, c, e, FD_READ | FD_CLOSE)
    waiting = threading.Event()

    def waiter() -> int:
        waiting.set()
        return up.WSAWaitForMultipleEvents(1, [e], False, 1500, False)  # type: ignore[no-any-return]

    worker = Worker(waiter, "event-waiter")
    assert waiting.wait(5)
    kit.close(c)
    assert worker.result() == WSA_WAIT_TIMEOUT  # nothing sets it: the association is gone
    err = Ref(0)
    assert up.WPUQuerySocketHandleContext(c, Ref(None), err) == SOCKET_ERROR
    assert err.value == WSAENOTSOCK
    fails(WSAENOTSOCK, p.WSPEnumNetworkEvents, c, e, WSANETWORKEVENTS())
    # the reactor lives on: another socket's events still come
    d, b = kit.pair()
    other = kit.event()
    ok(p.WSPEventSelect, b, other, FD_READ)
    send_all(p, d, b"still here")
    assert gather(p, b, other, FD_READ)[0] == FD_READ


def test_close_many_event_selected_sockets_while_traffic_flows(provider: Any, kit: Kit) -> None:
    """The reactor must survive sockets closed under it, in another thread, mid-traffic."""
    p = provider
    pairs = [kit.pair() for _ in range(8)]
    events = [kit.event() for _ in pairs]
    for (c, a), e in zip(pairs, events):
        ok(p.WSPEventSelect, a, e, FD_READ | FD_CLOSE)

    def churn(i: int) -> None:
        c, a = pairs[i]
        for _ in range(20):
            send_all(p, c, b"z")
        kit.close(a)
        kit.close(c)

    assert not run_threads(len(pairs), churn)
    for e in events:
        kit.table.reset_event(e)
    d, b = kit.pair()
    other = kit.event()
    ok(p.WSPEventSelect, b, other, FD_READ)
    send_all(p, d, b"after the churn")
    assert gather(p, b, other, FD_READ)[0] == FD_READ
