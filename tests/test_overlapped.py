"""Overlapped I/O in HostSocketProvider (DESIGN.md §6; issue 21, item 2), on both cores.

Over real loopback sockets through ``upcalls`` (the core under test):

- WSAOVERLAPPED's layouts (host, x64, x86);
- WSA_IO_PENDING, then completion: by event (WPUSetEvent), by completion routine (an APC run
  only in an alertable wait of the thread the call named), with the outcome in the structure
  (Internal, InternalHigh, Offset, OffsetHigh) and through WSPGetOverlappedResult, fWait
  false (WSA_IO_INCOMPLETE while pending) and true (blocks until the completion);
- an operation that finishes at once still reports its completion (event set, routine
  queued), as Windows does; receives complete in call order; a pending send completes once
  the peer made room; WSPRecvFrom's address is written at completion; WSPIoctl completes at
  once;
- closing the socket completes what is pending with WSA_OPERATION_ABORTED;
- on a socket made without WSA_FLAG_OVERLAPPED, lpOverlapped and the routine are ignored;
- bad arguments: their exact errors, nothing started;
- a thousand concurrent overlapped receives driven by the one reactor thread.
"""

from __future__ import annotations

import ctypes
import threading
import time
from typing import Any

import pytest

from ws2core import (
    AF_INET,
    FALSE,
    FIONREAD,
    MSG_WAITALL,
    SOCK_DGRAM,
    SOCK_STREAM,
    SOCKET_ERROR,
    TRUE,
    WSA_FLAG_OVERLAPPED,
    WSA_IO_INCOMPLETE,
    WSA_IO_PENDING,
    WSA_OPERATION_ABORTED,
    WSA_WAIT_IO_COMPLETION,
    WSAEFAULT,
    WSAENOTSOCK,
    WSAEOPNOTSUPP,
    WSAEWOULDBLOCK,
    Ref,
)
from ws2core.constants import WSS_OPERATION_IN_PROGRESS
from ws2core.structs import WSAOVERLAPPED, WSAOVERLAPPED_LAYOUTS, WSATHREADID
from provider_support import (
    LOOPBACK,
    SENTINEL,
    SOCKADDR_LEN,
    WAIT,
    WAIT_MS,
    Kit,
    Worker,
    call,
    host,
    nonblocking,
    ok,
    quiet,
    sockname,
    wait_event,
    wait_inside_ws2core,
    wait_readable,
)
from provider_support import kit, provider  # noqa: F401  (fixtures)


# --- helpers --------------------------------------------------------------------------------


def overlapped_socket(k: Kit, type: int = SOCK_STREAM) -> int:
    return k.add(ok(k.p.WSPSocket, AF_INET, type, 0, None, 0, WSA_FLAG_OVERLAPPED))


def overlapped_pair(k: Kit) -> tuple[int, int]:
    """(client, accepted), both made with WSA_FLAG_OVERLAPPED (the accepted one inherits it)."""
    listener = overlapped_socket(k)
    ok(k.p.WSPBind, listener, (LOOPBACK[AF_INET], 0), SOCKADDR_LEN[AF_INET])
    ok(k.p.WSPListen, listener, 4)
    client = overlapped_socket(k)
    k.connect(client, AF_INET, sockname(k.p, listener)[1])
    accepted = k.accept(listener)
    k.close(listener)
    return client, accepted


def send(k: Kit, s: int, data: bytes) -> None:
    """An ordinary (blocking) send: no lpOverlapped."""
    sent = Ref(0)
    ok(k.p.WSPSend, s, [data], 1, sent, 0, None, None, None)
    assert sent.value == len(data)


def with_event(k: Kit) -> tuple[WSAOVERLAPPED, int]:
    overlapped = WSAOVERLAPPED()
    event = k.event()
    overlapped.hEvent = event
    return overlapped, event


def recv_pending(k: Kit, s: int, buf: Any, overlapped: Any, routine: Any = None,
                 thread: Any = None) -> None:
    """An overlapped WSPRecv that must go pending, leaving the structure in progress."""
    flags = Ref(0)
    assert call(k.p.WSPRecv, s, [buf], 1, None, flags, overlapped, routine, thread) == WSA_IO_PENDING
    if isinstance(overlapped, ctypes._Pointer):
        overlapped = overlapped.contents
    assert overlapped.Internal == WSS_OPERATION_IN_PROGRESS


def result(k: Kit, s: int, overlapped: Any, wait: bool) -> tuple[int, int, int, int]:
    """WSPGetOverlappedResult: (result, lpErrno or SENTINEL, count, flags)."""
    count, flags, err = Ref(SENTINEL), Ref(SENTINEL), Ref(SENTINEL)
    answer = k.p.WSPGetOverlappedResult(s, overlapped, count, wait, flags, err)
    return answer, err.value, count.value, flags.value


def outcome(overlapped: Any) -> tuple[int, int, int, int]:
    """The structure's (Internal, InternalHigh, Offset, OffsetHigh)."""
    return (overlapped.Internal, overlapped.InternalHigh, overlapped.Offset, overlapped.OffsetHigh)


def open_thread(k: Kit) -> WSATHREADID:
    thread = WSATHREADID()
    assert k.p.upcalls.WPUOpenCurrentThread(thread, Ref(0)) == 0
    return thread


def close_thread(k: Kit, thread: WSATHREADID) -> None:
    assert k.p.upcalls.WPUCloseThread(thread, Ref(0)) == 0


def alertable_sleep(k: Kit, seconds: float) -> int:
    value: int = k.table.sleep(seconds, alertable=True)
    return value


# --- the structure --------------------------------------------------------------------------


def test_wsaoverlapped_layouts() -> None:
    host_words = ctypes.sizeof(ctypes.c_void_p)
    assert ctypes.sizeof(WSAOVERLAPPED) == 2 * host_words + 8 + host_words
    assert WSAOVERLAPPED.hEvent.offset == 2 * host_words + 8
    x64, x86 = WSAOVERLAPPED_LAYOUTS["x64"], WSAOVERLAPPED_LAYOUTS["x86"]
    assert (ctypes.sizeof(x64), ctypes.sizeof(x86)) == (32, 20)
    assert [getattr(x64, name).offset for name in ("Internal", "InternalHigh", "Offset",
                                                   "OffsetHigh", "hEvent")] == [0, 8, 16, 20, 24]
    assert [getattr(x86, name).offset for name in ("Internal", "InternalHigh", "Offset",
                                                   "OffsetHigh", "hEvent")] == [0, 4, 8, 12, 16]


# --- completion by event --------------------------------------------------------------------


def test_pending_receive_completes_by_event(kit: Kit) -> None:
    client, accepted = overlapped_pair(kit)
    overlapped, event = with_event(kit)
    buf = bytearray(16)
    recv_pending(kit, accepted, buf, overlapped)
    assert result(kit, accepted, overlapped, False) == (FALSE, WSA_IO_INCOMPLETE, SENTINEL, SENTINEL)
    quiet(kit.p, event)
    assert buf == bytearray(16)
    send(kit, client, b"hello")
    assert wait_event(kit.p, event)
    assert outcome(overlapped) == (0, 5, 0, 0)
    assert result(kit, accepted, overlapped, False) == (TRUE, SENTINEL, 5, 0)
    assert bytes(buf[:5]) == b"hello" and not any(buf[5:])


def test_get_overlapped_result_waits_with_fwait(kit: Kit) -> None:
    client, accepted = overlapped_pair(kit)
    overlapped, _ = with_event(kit)
    buf = bytearray(8)
    recv_pending(kit, accepted, buf, overlapped)
    worker = Worker(lambda: result(kit, accepted, overlapped, True), "fWait")
    wait_inside_ws2core(worker.thread)
    assert worker.thread.is_alive()
    send(kit, client, b"abc")
    assert worker.result() == (TRUE, SENTINEL, 3, 0)
    assert bytes(buf[:3]) == b"abc"


def test_receive_that_finishes_at_once_still_sets_its_event(kit: Kit) -> None:
    client, accepted = overlapped_pair(kit)
    send(kit, client, b"ready")
    wait_readable(kit.p, accepted)
    overlapped, event = with_event(kit)
    buf, received, flags = bytearray(8), Ref(0), Ref(0)
    ok(kit.p.WSPRecv, accepted, [buf], 1, received, flags, overlapped, None, None)
    assert (received.value, flags.value, bytes(buf[:5])) == (5, 0, b"ready")
    assert wait_event(kit.p, event, 0)
    assert outcome(overlapped) == (0, 5, 0, 0)
    assert result(kit, accepted, overlapped, False) == (TRUE, SENTINEL, 5, 0)


def test_send_that_finishes_at_once_sets_its_event(kit: Kit) -> None:
    client, accepted = overlapped_pair(kit)
    overlapped, event = with_event(kit)
    sent = Ref(0)
    ok(kit.p.WSPSend, client, [b"ab", b"cd"], 2, sent, 0, overlapped, None, None)
    assert sent.value == 4
    assert wait_event(kit.p, event, 0)
    assert outcome(overlapped) == (0, 4, 0, 0)
    wait_readable(kit.p, accepted)
    assert host(kit.p, accepted).recv(16) == b"abcd"


def test_receives_complete_in_call_order(kit: Kit) -> None:
    client, accepted = overlapped_pair(kit)
    buffers = [bytearray(4) for _ in range(3)]
    structures = [with_event(kit) for _ in buffers]
    for buf, (overlapped, _) in zip(buffers, structures):
        recv_pending(kit, accepted, buf, overlapped)
    send(kit, client, b"aaaabbbbcccc")
    for _, event in structures:
        assert wait_event(kit.p, event)
    assert [bytes(buf) for buf in buffers] == [b"aaaa", b"bbbb", b"cccc"]
    assert [outcome(overlapped) for overlapped, _ in structures] == [(0, 4, 0, 0)] * 3


def test_pending_send_completes_once_the_peer_makes_room(kit: Kit) -> None:
    client, accepted = overlapped_pair(kit)
    data = bytes(range(256)) * (16 * 1024)  # 4 MiB: more than loopback's buffers hold
    overlapped, event = with_event(kit)
    assert call(kit.p.WSPSend, client, [data], 1, None, 0, overlapped, None, None) == WSA_IO_PENDING
    quiet(kit.p, event)
    peer, got = host(kit.p, accepted), bytearray()
    deadline = time.monotonic() + 4 * WAIT
    while len(got) < len(data):
        assert time.monotonic() < deadline, f"received {len(got)} of {len(data)} bytes"
        wait_readable(kit.p, accepted)
        got += peer.recv(1 << 20)
    assert got == data
    assert wait_event(kit.p, event)
    assert outcome(overlapped) == (0, len(data), 0, 0)


def test_recvfrom_pending_writes_the_sender_at_completion(kit: Kit) -> None:
    receiver = overlapped_socket(kit, SOCK_DGRAM)
    ok(kit.p.WSPBind, receiver, (LOOPBACK[AF_INET], 0), 16)
    sender = kit.udp()
    ok(kit.p.WSPBind, sender, (LOOPBACK[AF_INET], 0), 16)
    overlapped, event = with_event(kit)
    buf, length = bytearray(8), Ref(16)
    source: Any = Ref(None)
    assert call(kit.p.WSPRecvFrom, receiver, [buf], 1, None, Ref(0), source, length, overlapped,
                None, None) == WSA_IO_PENDING
    assert (source.value, length.value) == (None, 16)  # written at completion only
    ok(kit.p.WSPSendTo, sender, [b"dgram"], 1, Ref(0), 0, sockname(kit.p, receiver), 16, None,
       None, None)
    assert wait_event(kit.p, event)
    assert (bytes(buf[:5]), source.value, length.value) == (b"dgram", sockname(kit.p, sender), 16)
    assert outcome(overlapped) == (0, 5, 0, 0)


def test_ioctl_completes_at_once_and_reports_it(kit: Kit) -> None:
    client, accepted = overlapped_pair(kit)
    send(kit, client, b"xyz")
    wait_readable(kit.p, accepted)
    overlapped, event = with_event(kit)
    answer, returned = Ref(None), Ref(0)
    ok(kit.p.WSPIoctl, accepted, FIONREAD, None, 0, answer, 4, returned, overlapped, None, None)
    assert (answer.value, returned.value) == (3, 4)
    assert wait_event(kit.p, event, 0)
    assert outcome(overlapped) == (0, 4, 0, 0)


# --- completion routines ---------------------------------------------------------------------


def test_completion_routine_runs_in_an_alertable_wait_of_its_thread(kit: Kit) -> None:
    client, accepted = overlapped_pair(kit)
    thread = open_thread(kit)
    calls: list[tuple[Any, ...]] = []
    overlapped, buf = WSAOVERLAPPED(), bytearray(8)
    recv_pending(kit, accepted, buf, overlapped, lambda *args: calls.append(args), thread)
    send(kit, client, b"apc")
    deadline = time.monotonic() + WAIT
    while overlapped.Internal == WSS_OPERATION_IN_PROGRESS:
        assert time.monotonic() < deadline, "the receive never completed"
        time.sleep(0.01)
    assert kit.table.sleep(0.05) == 0 and calls == []  # not alertable: nothing runs
    # Another thread's alertable wait does not run it either.
    other = Worker(lambda: kit.table.sleep(0.05, alertable=True), "other")
    assert other.result() == 0 and calls == []
    up = kit.p.upcalls
    event = kit.event()  # never signalled: the wait ends with the APC
    assert up.WSAWaitForMultipleEvents(1, [event], False, WAIT_MS, True) == WSA_WAIT_IO_COMPLETION
    assert len(calls) == 1
    assert calls[0][:2] == (0, 3) and calls[0][2] is overlapped and calls[0][3] == 0
    assert bytes(buf[:3]) == b"apc"
    close_thread(kit, thread)


def test_routine_of_an_operation_that_finishes_at_once_is_queued(kit: Kit) -> None:
    client, accepted = overlapped_pair(kit)
    send(kit, client, b"now")
    wait_readable(kit.p, accepted)
    thread = open_thread(kit)
    calls: list[tuple[Any, ...]] = []
    overlapped, buf, received = WSAOVERLAPPED(), bytearray(8), Ref(0)
    ok(kit.p.WSPRecv, accepted, [buf], 1, received, Ref(0), overlapped,
       lambda *args: calls.append(args), thread)
    assert received.value == 3 and calls == []  # queued, not run
    assert alertable_sleep(kit, WAIT) == WSA_WAIT_IO_COMPLETION
    assert [call[:2] for call in calls] == [(0, 3)]
    close_thread(kit, thread)


def test_a_thread_waiting_alertably_is_woken_by_a_completion(kit: Kit) -> None:
    client, accepted = overlapped_pair(kit)
    calls: list[tuple[Any, ...]] = []
    started = threading.Event()
    overlapped, buf = WSAOVERLAPPED(), bytearray(8)

    def waiter() -> int:
        thread = open_thread(kit)
        recv_pending(kit, accepted, buf, overlapped, lambda *args: calls.append(args), thread)
        started.set()
        try:
            return alertable_sleep(kit, 4 * WAIT)
        finally:
            close_thread(kit, thread)

    worker = Worker(waiter, "alertable")
    assert started.wait(WAIT)
    wait_inside_ws2core(worker.thread)
    send(kit, client, b"wake")
    assert worker.result() == WSA_WAIT_IO_COMPLETION
    assert [call[:2] for call in calls] == [(0, 4)]


# --- cancellation, and sockets without the flag ---------------------------------------------


def test_close_aborts_pending_operations(kit: Kit) -> None:
    client, accepted = overlapped_pair(kit)
    thread = open_thread(kit)
    calls: list[tuple[Any, ...]] = []
    by_event, event = with_event(kit)
    by_routine = WSAOVERLAPPED()
    recv_pending(kit, accepted, bytearray(8), by_event)
    recv_pending(kit, accepted, bytearray(8), by_routine, lambda *args: calls.append(args), thread)
    kit.close(accepted)
    assert wait_event(kit.p, event)
    assert outcome(by_event) == (0, 0, 0, WSA_OPERATION_ABORTED)
    assert outcome(by_routine) == (0, 0, 0, WSA_OPERATION_ABORTED)
    assert alertable_sleep(kit, WAIT) == WSA_WAIT_IO_COMPLETION
    assert [call[:2] for call in calls] == [(WSA_OPERATION_ABORTED, 0)] and calls[0][2] is by_routine
    # The handle is gone: WSPGetOverlappedResult needs a live socket.
    assert result(kit, accepted, by_event, False)[:2] == (FALSE, WSAENOTSOCK)
    close_thread(kit, thread)


def test_a_waiting_get_overlapped_result_sees_the_abort(kit: Kit) -> None:
    _, accepted = overlapped_pair(kit)
    overlapped, _ = with_event(kit)
    recv_pending(kit, accepted, bytearray(8), overlapped)
    worker = Worker(lambda: result(kit, accepted, overlapped, True), "fWait")
    wait_inside_ws2core(worker.thread)
    kit.close(accepted)
    assert worker.result() == (FALSE, WSA_OPERATION_ABORTED, 0, 0)


def test_lp_overlapped_is_ignored_on_a_socket_without_the_flag(kit: Kit) -> None:
    client, accepted = kit.pair()  # made with dwFlags 0
    overlapped, event = with_event(kit)
    send(kit, client, b"plain")
    wait_readable(kit.p, accepted)
    buf, received = bytearray(8), Ref(0)
    # Whatever the structure and routine are, they are not looked at.
    ok(kit.p.WSPRecv, accepted, [buf], 1, received, Ref(0), overlapped, "not callable", None)
    assert received.value == 5
    assert outcome(overlapped) == (0, 0, 0, 0)
    assert not wait_event(kit.p, event, 0)
    nonblocking(kit.p, accepted)  # nothing to read: an ordinary WSAEWOULDBLOCK, no pending
    assert call(kit.p.WSPRecv, accepted, [buf], 1, received, Ref(0), overlapped, None,
                None) == WSAEWOULDBLOCK
    assert outcome(overlapped) == (0, 0, 0, 0)
    sent = Ref(0)
    ok(kit.p.WSPSend, client, [b"x"], 1, sent, 0, ctypes.c_byte(1), None, None)
    assert sent.value == 1


# --- bad arguments --------------------------------------------------------------------------


def test_bad_arguments_start_nothing(kit: Kit) -> None:
    client, accepted = overlapped_pair(kit)
    p, buf = kit.p, bytearray(8)
    with pytest.raises(TypeError, match="lpOverlapped must be a WSAOVERLAPPED"):
        p.WSPRecv(accepted, [buf], 1, None, Ref(0), ctypes.c_byte(0), None, None, Ref(0))
    with pytest.raises(TypeError, match="lpCompletionRoutine must be None or a callable"):
        p.WSPRecv(accepted, [buf], 1, None, Ref(0), WSAOVERLAPPED(), 5, None, Ref(0))
    overlapped = WSAOVERLAPPED()
    # A routine without lpThreadId; None for lpFlags; MSG_WAITALL: refused before anything.
    assert call(p.WSPRecv, accepted, [buf], 1, None, Ref(0), overlapped, print, None) == WSAEFAULT
    assert call(p.WSPRecv, accepted, [buf], 1, None, None, overlapped, None, None) == WSAEFAULT
    assert call(p.WSPRecv, accepted, [buf], 1, None, Ref(MSG_WAITALL), overlapped, None,
                None) == WSAEOPNOTSUPP
    assert call(p.WSPRecv, accepted, [b"read-only"], 1, None, Ref(0), overlapped, None,
                None) == WSAEFAULT
    assert outcome(overlapped) == (0, 0, 0, 0)
    # Nothing went pending: data sent now is there for an ordinary receive.
    send(kit, client, b"z")
    wait_readable(kit.p, accepted)
    assert host(p, accepted).recv(8) == b"z"
    # WSPGetOverlappedResult: NULL pointers, a handle that is no socket.
    for args in ((None, Ref(0), False, Ref(0)), (overlapped, None, False, Ref(0)),
                 (overlapped, Ref(0), False, None)):
        err = Ref(SENTINEL)
        assert p.WSPGetOverlappedResult(accepted, *args, err) == FALSE and err.value == WSAEFAULT
    err = Ref(SENTINEL)
    assert p.WSPGetOverlappedResult(kit.event(), overlapped, Ref(0), False, Ref(0), err) == FALSE
    assert err.value == WSAENOTSOCK
    with pytest.raises(TypeError, match="lpOverlapped must be a WSAOVERLAPPED"):
        p.WSPGetOverlappedResult(accepted, b"\0" * 32, Ref(0), False, Ref(0), Ref(0))
    with pytest.raises(TypeError, match="lpcbTransfer"):
        p.WSPGetOverlappedResult(accepted, overlapped, 5, False, Ref(0), Ref(0))


def test_a_ctypes_pointer_is_taken_for_the_structure(kit: Kit) -> None:
    client, accepted = overlapped_pair(kit)
    overlapped, event = with_event(kit)
    recv_pending(kit, accepted, bytearray(4), ctypes.pointer(overlapped))
    send(kit, client, b"ptr")
    assert wait_event(kit.p, event)
    count, flags, err = Ref(0), Ref(0), Ref(SENTINEL)
    assert kit.p.WSPGetOverlappedResult(accepted, ctypes.pointer(overlapped), count, False,
                                        flags, err) == TRUE
    assert (count.value, err.value) == (3, SENTINEL)


# --- scale: one reactor, no thread per operation --------------------------------------------


def test_a_thousand_concurrent_receives_on_one_reactor(kit: Kit) -> None:
    count = 1000
    threads_before = threading.active_count()
    sockets, structures, buffers = [], [], []
    event = kit.event()  # one manual-reset event for all: completion is read in the structures
    for _ in range(count):
        s = overlapped_socket(kit, SOCK_DGRAM)
        ok(kit.p.WSPBind, s, (LOOPBACK[AF_INET], 0), 16)
        overlapped, buf = WSAOVERLAPPED(), bytearray(8)
        overlapped.hEvent = event
        recv_pending(kit, s, buf, overlapped)
        sockets.append(s)
        structures.append(overlapped)
        buffers.append(buf)
    assert threading.active_count() <= threads_before + 1  # the reactor, nothing per operation
    import socket as host_socket

    with host_socket.socket(host_socket.AF_INET, host_socket.SOCK_DGRAM) as sender:
        for i, s in enumerate(sockets):
            sender.sendto(i.to_bytes(4, "little"), sockname(kit.p, s))
    deadline = time.monotonic() + 4 * WAIT
    while any(o.Internal == WSS_OPERATION_IN_PROGRESS for o in structures):
        assert time.monotonic() < deadline, sum(
            o.Internal == WSS_OPERATION_IN_PROGRESS for o in structures)
        time.sleep(0.01)
    assert threading.active_count() <= threads_before + 1
    assert [outcome(o) for o in structures] == [(0, 4, 0, 0)] * count
    assert [int.from_bytes(buf[:4], "little") for buf in buffers] == list(range(count))
    assert wait_event(kit.p, event, 0)
