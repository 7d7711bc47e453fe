"""The extension functions of HostSocketProvider (issue 21, item 4), on both cores.

Over real loopback sockets through ``upcalls`` (the core under test):

- WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER): the four GUIDs in each Python form, their
  values as mswsock.h spells them, and its argument checks;
- AcceptEx: at once when a connection waits, pending until a host client connects (and,
  with a data length, until it sends), the output buffer's layout read by
  GetAcceptExSockaddrs, the accept socket becoming the connection under its own handle,
  SO_UPDATE_ACCEPT_CONTEXT, a close aborting it, and a listener without
  WSA_FLAG_OVERLAPPED, where the call waits;
- ConnectEx: to a loopback listener with data to send, on record with the policy, and
  SO_UPDATE_CONNECT_CONTEXT; to a documentation address, refused by the default policy with
  no host connect (in the isolated namespace);
- DisconnectEx: the peer sees the end, the socket shut or (TF_REUSE_SOCKET) fresh again;
- bad arguments, table-driven as tests/test_bad_input.py: each row its exact code, nothing
  started;
- a server of many pending AcceptEx calls driven by the one reactor thread.
"""

from __future__ import annotations

import ctypes
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from ws2core import (
    AF_INET,
    FALSE,
    SIO_GET_EXTENSION_FUNCTION_POINTER,
    SO_UPDATE_ACCEPT_CONTEXT,
    SO_UPDATE_CONNECT_CONTEXT,
    SOCK_DGRAM,
    SOCK_STREAM,
    SOL_SOCKET,
    TF_DISCONNECT,
    TF_REUSE_SOCKET,
    TRUE,
    WSA_FLAG_OVERLAPPED,
    WSA_INVALID_PARAMETER,
    WSA_IO_PENDING,
    WSA_OPERATION_ABORTED,
    WSAEADDRNOTAVAIL,
    WSAEFAULT,
    WSAEINVAL,
    WSAEISCONN,
    WSAENETUNREACH,
    WSAENOPROTOOPT,
    WSAENOTCONN,
    WSAENOTSOCK,
    WSAEOPNOTSUPP,
    WSAESHUTDOWN,
    WSAID_ACCEPTEX,
    WSAID_CONNECTEX,
    WSAID_DISCONNECTEX,
    WSAID_GETACCEPTEXSOCKADDRS,
    Ref,
)
from ws2core.constants import WSS_OPERATION_IN_PROGRESS
from ws2core.structs import GUID, WSAOVERLAPPED
from provider_support import (
    LOOPBACK,
    SENTINEL,
    WAIT,
    Kit,
    Worker,
    call,
    fails,
    host,
    ok,
    quiet,
    recv_exact,
    send_all,
    sockname,
    wait_event,
    wait_inside_ws2core,
    wait_readable,
)
from provider_support import kit, provider  # noqa: F401  (fixtures)

ROOM = 16 + 16  # an IPv4 address area: SOCKADDR_IN and the 16 bytes AcceptEx asks for
OUTSIDE = "192.0.2.1"  # documentation: nobody's


# --- helpers --------------------------------------------------------------------------------


def function(k: Kit, s: int, guid: Any) -> Callable[..., int]:
    """The extension function of ``guid`` through WSPIoctl on socket ``s``."""
    out, returned = Ref(None), Ref(0)
    ok(k.p.WSPIoctl, s, SIO_GET_EXTENSION_FUNCTION_POINTER, guid, 16, out, 8, returned, None,
       None, None)
    assert returned.value == ctypes.sizeof(ctypes.c_void_p) and callable(out.value)
    return out.value  # type: ignore[no-any-return]


def ext(k: Kit, fn: Callable[..., int], *args: Any) -> int:
    """An extension function's call: 0 for TRUE (the last error untouched), else the last
    error it set (with FALSE)."""
    up = k.p.upcalls
    up.WSASetLastError(SENTINEL)
    result = fn(*args)
    code: int = up.WSAGetLastError()
    if result == TRUE:
        assert code == SENTINEL, f"TRUE with the last error set to {code}"
        return 0
    assert result == FALSE and code != SENTINEL, (result, code)
    return code


def overlapped_socket(k: Kit, type: int = SOCK_STREAM, flags: int = WSA_FLAG_OVERLAPPED) -> int:
    return k.add(ok(k.p.WSPSocket, AF_INET, type, 0, None, 0, flags))


def listening(k: Kit, flags: int = WSA_FLAG_OVERLAPPED) -> tuple[int, int]:
    s = overlapped_socket(k, flags=flags)
    ok(k.p.WSPBind, s, (LOOPBACK[AF_INET], 0), 16)
    ok(k.p.WSPListen, s, 64)
    return s, sockname(k.p, s)[1]


def accept_ex_kit(k: Kit) -> tuple[int, int, Callable[..., int], int]:
    """(listener, its port, AcceptEx, a fresh overlapped accept socket)."""
    listener, port = listening(k)
    return listener, port, function(k, listener, WSAID_ACCEPTEX), overlapped_socket(k)


def with_event(k: Kit) -> tuple[WSAOVERLAPPED, int]:
    overlapped = WSAOVERLAPPED()
    overlapped.hEvent = k.event()
    return overlapped, overlapped.hEvent


def outcome(overlapped: WSAOVERLAPPED) -> tuple[int, int, int]:
    """(Internal, InternalHigh: the byte count, OffsetHigh: the error)."""
    return overlapped.Internal, overlapped.InternalHigh, overlapped.OffsetHigh


def peername(k: Kit, s: int) -> tuple[Any, ...]:
    name = Ref(None)
    ok(k.p.WSPGetPeerName, s, name, Ref(16))
    return name.value  # type: ignore[no-any-return]


def connects(k: Kit) -> list[Any]:
    """The policy's records of connects (binds are on record too)."""
    return [attempt for attempt in k.p.policy.log if attempt.kind == "connect"]


def client(port: int) -> socket.socket:
    return socket.create_connection((LOOPBACK[AF_INET], port), timeout=WAIT)


# --- SIO_GET_EXTENSION_FUNCTION_POINTER ------------------------------------------------------


def test_the_guids_are_mswsocks() -> None:
    def guid(d1: int, d2: int, d3: int, d4: tuple[int, ...]) -> uuid.UUID:
        g = GUID(d1, d2, d3, (ctypes.c_uint8 * 8)(*d4))
        return uuid.UUID(bytes_le=bytes(g))

    tail = (0x95, 0xCA, 0x00, 0x80, 0x5F, 0x48, 0xA1, 0x92)
    assert WSAID_ACCEPTEX == guid(0xB5367DF1, 0xCBAC, 0x11CF, tail)
    assert WSAID_GETACCEPTEXSOCKADDRS == guid(0xB5367DF2, 0xCBAC, 0x11CF, tail)
    assert WSAID_CONNECTEX == guid(0x25A207B9, 0xDDF3, 0x4660,
                                   (0x8E, 0xE9, 0x76, 0xE5, 0x8C, 0x74, 0x06, 0x3E))
    assert WSAID_DISCONNECTEX == guid(0x7FDA2E11, 0x8630, 0x436F,
                                      (0xA0, 0x31, 0xF5, 0x36, 0xA6, 0xEE, 0xC1, 0x57))


def test_each_guid_gives_its_function_in_every_form(kit: Kit) -> None:
    s = kit.tcp()
    p = kit.p
    for guid, name in ((WSAID_ACCEPTEX, "AcceptEx"), (WSAID_CONNECTEX, "ConnectEx"),
                       (WSAID_DISCONNECTEX, "DisconnectEx"),
                       (WSAID_GETACCEPTEXSOCKADDRS, "GetAcceptExSockaddrs")):
        structure = GUID.from_buffer_copy(guid.bytes_le)
        for form in (guid, structure, ctypes.pointer(structure), guid.bytes_le,
                     bytearray(guid.bytes_le) + b"spare"):
            assert function(kit, s, form) == getattr(p, name), (name, form)
    # Overlapped, it completes at once and says so.
    o = overlapped_socket(kit)
    overlapped, event = with_event(kit)
    out = Ref(None)
    ok(p.WSPIoctl, o, SIO_GET_EXTENSION_FUNCTION_POINTER, WSAID_CONNECTEX, 16, out, 8, Ref(0),
       overlapped, None, None)
    assert out.value == p.ConnectEx and wait_event(p, event, 0)
    assert outcome(overlapped) == (0, 8, 0)


def test_pointer_argument_checks(kit: Kit) -> None:
    s, p = kit.tcp(), kit.p
    code = SIO_GET_EXTENSION_FUNCTION_POINTER
    out = Ref("untouched")
    fails(WSAEINVAL, p.WSPIoctl, s, code, uuid.UUID(int=1), 16, out, 8, Ref(0), None, None, None)
    fails(WSAEFAULT, p.WSPIoctl, s, code, None, 16, out, 8, Ref(0), None, None, None)
    fails(WSAEFAULT, p.WSPIoctl, s, code, WSAID_ACCEPTEX.bytes_le, 15, out, 8, Ref(0), None,
          None, None)
    fails(WSAEFAULT, p.WSPIoctl, s, code, WSAID_ACCEPTEX.bytes_le[:15], 16, out, 8, Ref(0),
          None, None, None)
    fails(WSAEFAULT, p.WSPIoctl, s, code, WSAID_ACCEPTEX, 16, None, 8, Ref(0), None, None, None)
    assert out.value == "untouched"
    with pytest.raises(TypeError, match="receives a Python callable"):
        p.WSPIoctl(s, code, WSAID_ACCEPTEX, 16, bytearray(8), 8, Ref(0), None, None, None, Ref(0))
    with pytest.raises(TypeError, match="uuid.UUID, a ws2core.structs.GUID or 16 bytes"):
        p.WSPIoctl(s, code, "b5367df1", 16, out, 8, Ref(0), None, None, None, Ref(0))


# --- AcceptEx ---------------------------------------------------------------------------------


def test_accept_ex_at_once_when_a_connection_waits(kit: Kit) -> None:
    listener, port, accept_ex, target = accept_ex_kit(kit)
    peer = client(port)
    wait_readable(kit.p, listener)
    overlapped, event = with_event(kit)
    buf, received = bytearray(2 * ROOM), Ref(SENTINEL)
    assert ext(kit, accept_ex, listener, target, buf, 0, ROOM, ROOM, received, overlapped) == 0
    assert received.value == 0 and wait_event(kit.p, event, 0)  # reported all the same
    assert outcome(overlapped) == (0, 0, 0)
    local, local_length, remote, remote_length = kit.p.GetAcceptExSockaddrs(buf, 0, ROOM, ROOM)
    assert (local, remote) == (peer.getpeername(), peer.getsockname())
    assert local_length == remote_length == 16
    # The accept socket, under its own handle, is the connection (no SO_UPDATE_ACCEPT_CONTEXT
    # needed for its names), and the option is accepted with its listener.
    assert peername(kit, target) == peer.getsockname()
    assert sockname(kit.p, target) == peer.getpeername()
    ok(kit.p.WSPSetSockOpt, target, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, listener, 8)
    send_all(kit.p, target, b"to the client")
    assert peer.recv(64) == b"to the client"
    peer.sendall(b"to the server")
    assert recv_exact(kit.p, target, 13) == b"to the server"
    peer.close()


def test_accept_ex_pends_until_a_client_connects_and_sends(kit: Kit) -> None:
    listener, port, accept_ex, target = accept_ex_kit(kit)
    overlapped, event = with_event(kit)
    buf = bytearray(b"\xaa" * (32 + 2 * ROOM))
    assert ext(kit, accept_ex, listener, target, buf, 32, ROOM, ROOM, None,
               overlapped) == WSA_IO_PENDING
    assert overlapped.Internal == WSS_OPERATION_IN_PROGRESS
    peer = client(port)
    quiet(kit.p, event)  # connected, but AcceptEx waits for the first block of data
    assert overlapped.Internal == WSS_OPERATION_IN_PROGRESS
    peer.sendall(b"first block")
    assert wait_event(kit.p, event)
    assert outcome(overlapped) == (0, 11, 0)
    assert bytes(buf[:11]) == b"first block" and buf[11:32] == b"\xaa" * 21
    local, _, remote, _ = kit.p.GetAcceptExSockaddrs(buf, 32, ROOM, ROOM)
    assert (local, remote) == (peer.getpeername(), peer.getsockname())
    count, flags, err = Ref(0), Ref(0), Ref(SENTINEL)
    assert kit.p.WSPGetOverlappedResult(listener, overlapped, count, False, flags, err) == TRUE
    assert count.value == 11
    peer.close()


@pytest.mark.parametrize("data", [0, 32], ids=["no_data", "first_block"])
def test_accept_ex_completes_on_the_listeners_completion_port(kit: Kit, data: int) -> None:
    """An AcceptEx is the listener's operation: a port associated with the listener gets
    its completion, with the listener's key, whether it waited for a first block of data
    on the accepted connection or not."""
    listener, port, accept_ex, target = accept_ex_kit(kit)
    table = kit.p.upcalls.table
    completion_port = table.create_port()
    try:
        table.associate_port(listener, completion_port, 7)
        overlapped = WSAOVERLAPPED()
        buf = bytearray(data + 2 * ROOM)
        assert ext(kit, accept_ex, listener, target, buf, data, ROOM, ROOM, None,
                   overlapped) == WSA_IO_PENDING
        with client(port) as peer:
            peer.sendall(b"hello")
            packets = table.get_completions(completion_port, 1, WAIT)
        assert [(key, got is overlapped, error) for _, key, got, error in packets] == \
            [(7, True, 0)]
        assert packets[0][0] == (5 if data else 0)
    finally:
        table.close_port(completion_port)


def test_accept_ex_of_a_waiting_connection_pends_for_its_data(kit: Kit) -> None:
    listener, port, accept_ex, target = accept_ex_kit(kit)
    peer = client(port)
    wait_readable(kit.p, listener)
    overlapped, event = with_event(kit)
    buf, received = bytearray(8 + 2 * ROOM), Ref(SENTINEL)
    # The connection is taken at once; the data it waits for comes on the accept socket.
    assert ext(kit, accept_ex, listener, target, buf, 8, ROOM, ROOM, received,
               overlapped) == WSA_IO_PENDING
    assert peername(kit, target) == peer.getsockname() and received.value == SENTINEL
    quiet(kit.p, event)
    peer.sendall(b"late")
    assert wait_event(kit.p, event)
    assert outcome(overlapped) == (0, 4, 0) and bytes(buf[:4]) == b"late"
    # Closing the accept socket aborts such a receive like any other.
    second_target, second_overlapped = overlapped_socket(kit), WSAOVERLAPPED()
    other = client(port)
    wait_readable(kit.p, listener)
    assert ext(kit, accept_ex, listener, second_target, buf, 8, ROOM, ROOM, None,
               second_overlapped) == WSA_IO_PENDING
    kit.close(second_target)
    assert outcome(second_overlapped) == (0, 0, WSA_OPERATION_ABORTED)
    peer.close()
    other.close()


def test_closing_the_listener_aborts_a_pending_accept_ex(kit: Kit) -> None:
    listener, _, accept_ex, target = accept_ex_kit(kit)
    overlapped, event = with_event(kit)
    assert ext(kit, accept_ex, listener, target, bytearray(2 * ROOM), 0, ROOM, ROOM, None,
               overlapped) == WSA_IO_PENDING
    kit.close(listener)
    assert wait_event(kit.p, event)
    assert outcome(overlapped) == (0, 0, WSA_OPERATION_ABORTED)
    # The accept socket is free for another AcceptEx.
    second, port = listening(kit)
    peer = client(port)
    wait_readable(kit.p, second)
    assert ext(kit, accept_ex, second, target, bytearray(2 * ROOM), 0, ROOM, ROOM, None,
               WSAOVERLAPPED()) == 0
    assert peername(kit, target) == peer.getsockname()
    peer.close()


def test_accept_ex_on_a_listener_without_the_flag_waits(kit: Kit) -> None:
    listener, port = listening(kit, flags=0)
    accept_ex = function(kit, listener, WSAID_ACCEPTEX)
    target = kit.tcp()
    overlapped, event = with_event(kit)
    buf, received = bytearray(8 + 2 * ROOM), Ref(SENTINEL)
    worker = Worker(lambda: ext(kit, accept_ex, listener, target, buf, 8, ROOM, ROOM, received,
                                overlapped), "AcceptEx")
    wait_inside_ws2core(worker.thread)
    peer = client(port)
    peer.sendall(b"sync")
    assert worker.result() == 0
    assert received.value == 4 and bytes(buf[:4]) == b"sync"
    assert wait_event(kit.p, event, 0) and outcome(overlapped) == (0, 4, 0)
    peer.close()


# --- ConnectEx --------------------------------------------------------------------------------


def test_connect_ex_to_a_loopback_listener_sends_its_data(kit: Kit) -> None:
    listener, port = kit.listener()
    s = overlapped_socket(kit)
    connect_ex = function(kit, s, WSAID_CONNECTEX)
    # Not bound: WSAEINVAL, as the page says, and nothing asked of the policy.
    overlapped, event = with_event(kit)
    assert ext(kit, connect_ex, s, (LOOPBACK[AF_INET], port), 16, b"hello", 5, None,
               overlapped) == WSAEINVAL
    assert connects(kit) == []
    ok(kit.p.WSPBind, s, (LOOPBACK[AF_INET], 0), 16)
    sent = Ref(SENTINEL)
    code = ext(kit, connect_ex, s, (LOOPBACK[AF_INET], port), 16, b"hello, server", 5, sent,
               overlapped)
    assert code in (0, WSA_IO_PENDING)
    assert wait_event(kit.p, event)
    assert outcome(overlapped) == (0, 5, 0)
    if code == 0:
        assert sent.value == 5
    accepted = kit.accept(listener)
    assert recv_exact(kit.p, accepted, 5) == b"hello"
    assert peername(kit, s) == (LOOPBACK[AF_INET], port)
    ok(kit.p.WSPSetSockOpt, s, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, None, 0)
    [record] = connects(kit)
    assert (record.kind, record.address, record.verdict, record.bytes_sent) == (
        "connect", (LOOPBACK[AF_INET], port), "allowed", 5)
    # Connected now: a second ConnectEx is WSAEISCONN.
    assert ext(kit, connect_ex, s, (LOOPBACK[AF_INET], port), 16, None, 0, None,
               WSAOVERLAPPED()) == WSAEISCONN


@pytest.mark.isolated_network
def test_connect_ex_off_loopback_is_refused_without_a_host_connect(kit: Kit,
                                                                   host_calls: Any) -> None:
    s = overlapped_socket(kit)
    ok(kit.p.WSPBind, s, (LOOPBACK[AF_INET], 0), 16)
    connect_ex = function(kit, s, WSAID_CONNECTEX)
    overlapped, event = with_event(kit)
    assert ext(kit, connect_ex, s, (OUTSIDE, 80), 16, b"GET /", 5, None,
               overlapped) == WSAENETUNREACH
    assert not wait_event(kit.p, event, 0)  # failed when it started: no completion
    assert host_calls.of("connect") == [] and host_calls.non_loopback() == []
    [record] = connects(kit)
    assert (record.kind, record.address, record.verdict, record.error) == (
        "connect", (OUTSIDE, 80), "refused", WSAENETUNREACH)


# --- DisconnectEx ------------------------------------------------------------------------------


def test_disconnect_ex_reuse_makes_the_socket_fresh_for_accept_ex(kit: Kit) -> None:
    listener, port = listening(kit)
    accept_ex = function(kit, listener, WSAID_ACCEPTEX)
    disconnect_ex = function(kit, listener, WSAID_DISCONNECTEX)
    target = overlapped_socket(kit)
    first = client(port)
    wait_readable(kit.p, listener)
    assert ext(kit, accept_ex, listener, target, bytearray(2 * ROOM), 0, ROOM, ROOM, None,
               WSAOVERLAPPED()) == 0
    # A receive pending on the connection is aborted by the reuse.
    pending, buf = WSAOVERLAPPED(), bytearray(8)
    assert call(kit.p.WSPRecv, target, [buf], 1, None, Ref(0), pending, None,
                None) == WSA_IO_PENDING
    overlapped, event = with_event(kit)
    assert ext(kit, disconnect_ex, target, overlapped, TF_REUSE_SOCKET, 0) == 0
    assert wait_event(kit.p, event, 0) and outcome(overlapped) == (0, 0, 0)
    assert outcome(pending) == (0, 0, WSA_OPERATION_ABORTED)
    first.settimeout(WAIT)
    assert first.recv(8) == b""  # the end of the stream, gracefully
    fails(WSAENOTCONN, kit.p.WSPGetPeerName, target, Ref(None), Ref(16))
    # The same handle accepts the next connection.
    second = client(port)
    wait_readable(kit.p, listener)
    assert ext(kit, accept_ex, listener, target, bytearray(2 * ROOM), 0, ROOM, ROOM, None,
               WSAOVERLAPPED()) == 0
    assert peername(kit, target) == second.getsockname()
    first.close()
    second.close()


def test_disconnect_ex_without_reuse_shuts_the_socket(kit: Kit) -> None:
    client_socket, accepted = kit.pair()
    disconnect_ex = function(kit, client_socket, WSAID_DISCONNECTEX)
    assert ext(kit, disconnect_ex, client_socket, None, 0, 0) == 0  # synchronous
    wait_readable(kit.p, accepted)
    assert host(kit.p, accepted).recv(8) == b""
    fails(WSAESHUTDOWN, kit.p.WSPSend, client_socket, [b"x"], 1, Ref(0), 0, None, None, None)
    assert ext(kit, disconnect_ex, accepted, None, TF_DISCONNECT, 0) == WSAEINVAL


# --- bad arguments ----------------------------------------------------------------------------


def test_bad_arguments_each_their_code_and_nothing_started(kit: Kit) -> None:
    p = kit.p
    listener, port = listening(kit)
    accept_ex = function(kit, listener, WSAID_ACCEPTEX)
    connect_ex = function(kit, listener, WSAID_CONNECTEX)
    disconnect_ex = function(kit, listener, WSAID_DISCONNECTEX)
    target, bound = overlapped_socket(kit), overlapped_socket(kit)
    ok(p.WSPBind, bound, (LOOPBACK[AF_INET], 0), 16)
    udp, unlistening = overlapped_socket(kit, SOCK_DGRAM), kit.tcp()
    connected, _ = kit.pair()
    buf, o = bytearray(64 + 2 * ROOM), WSAOVERLAPPED()
    rows: list[tuple[str, Callable[..., int], tuple[Any, ...], int]] = [
        ("AcceptEx lpOverlapped NULL", accept_ex,
         (listener, target, buf, 0, ROOM, ROOM, None, None), WSA_INVALID_PARAMETER),
        ("AcceptEx lpOutputBuffer NULL", accept_ex,
         (listener, target, None, 0, ROOM, ROOM, None, o), WSAEINVAL),
        ("AcceptEx local area 31", accept_ex,
         (listener, target, buf, 0, ROOM - 1, ROOM, None, o), WSAEFAULT),
        ("AcceptEx remote area 0", accept_ex,
         (listener, target, buf, 0, ROOM, 0, None, o), WSAEFAULT),
        ("AcceptEx buffer shorter than the lengths", accept_ex,
         (listener, target, buf, 65, ROOM, ROOM, None, o), WSAEFAULT),
        ("AcceptEx listener not listening", accept_ex,
         (unlistening, target, buf, 0, ROOM, ROOM, None, o), WSAEINVAL),
        ("AcceptEx datagram listener", accept_ex,
         (udp, target, buf, 0, ROOM, ROOM, None, o), WSAEOPNOTSUPP),
        ("AcceptEx accept socket bound", accept_ex,
         (listener, bound, buf, 0, ROOM, ROOM, None, o), WSAEINVAL),
        ("AcceptEx accept socket connected", accept_ex,
         (listener, connected, buf, 0, ROOM, ROOM, None, o), WSAEINVAL),
        ("AcceptEx accept socket is the listener", accept_ex,
         (listener, listener, buf, 0, ROOM, ROOM, None, o), WSAEINVAL),
        ("AcceptEx accept handle an event", accept_ex,
         (listener, kit.event(), buf, 0, ROOM, ROOM, None, o), WSAENOTSOCK),
        ("AcceptEx listener an event", accept_ex,
         (kit.event(), target, buf, 0, ROOM, ROOM, None, o), WSAENOTSOCK),
        ("ConnectEx lpOverlapped NULL", connect_ex,
         (bound, (LOOPBACK[AF_INET], port), 16, None, 0, None, None), WSA_INVALID_PARAMETER),
        ("ConnectEx datagram", connect_ex,
         (udp, (LOOPBACK[AF_INET], port), 16, None, 0, None, o), WSAEOPNOTSUPP),
        ("ConnectEx the any address", connect_ex,
         (bound, ("0.0.0.0", port), 16, None, 0, None, o), WSAEADDRNOTAVAIL),
        ("ConnectEx listening", connect_ex,
         (listener, (LOOPBACK[AF_INET], port), 16, None, 0, None, o), WSAEINVAL),
        ("ConnectEx send length past the buffer", connect_ex,
         (bound, (LOOPBACK[AF_INET], port), 16, b"abc", 4, None, o), WSAEFAULT),
        ("DisconnectEx reserved", disconnect_ex, (connected, None, 0, 1), WSAEINVAL),
        ("DisconnectEx unknown flag", disconnect_ex, (connected, None, 0x10, 0), WSAEINVAL),
        ("DisconnectEx not connected", disconnect_ex, (target, None, 0, 0), WSAENOTCONN),
        ("DisconnectEx datagram", disconnect_ex, (udp, None, 0, 0), WSAEOPNOTSUPP),
    ]
    for label, fn, args, code in rows:
        assert ext(kit, fn, *args) == code, label
        assert outcome(o) == (0, 0, 0), label
    with pytest.raises(TypeError, match="lpOverlapped must be a WSAOVERLAPPED"):
        accept_ex(listener, target, buf, 0, ROOM, ROOM, None, b"\0" * 32)
    with pytest.raises(ValueError, match="holds 63 bytes"):
        p.GetAcceptExSockaddrs(bytearray(63), 0, ROOM, ROOM)
    with pytest.raises(ValueError, match="holds no address"):
        p.GetAcceptExSockaddrs(bytearray(2 * ROOM), 0, ROOM, ROOM)
    fails(WSAENOTCONN, p.WSPSetSockOpt, target, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, listener, 8)
    fails(WSAEINVAL, p.WSPSetSockOpt, connected, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, bound, 8)
    fails(WSAENOTSOCK, p.WSPSetSockOpt, connected, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT,
          kit.event(), 8)
    fails(WSAENOTCONN, p.WSPSetSockOpt, target, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT, None, 0)
    fails(WSAENOPROTOOPT, p.WSPGetSockOpt, connected, SOL_SOCKET, SO_UPDATE_CONNECT_CONTEXT,
          Ref(None), Ref(4))
    # Nothing started: the waiting connection is there for an ordinary accept, the accept
    # socket for an AcceptEx, and a second AcceptEx of a pending one's socket is refused.
    peer = client(port)
    assert ext(kit, accept_ex, listener, target, buf, 0, ROOM, ROOM, None, o) == 0
    assert peername(kit, target) == peer.getsockname()
    other = overlapped_socket(kit)
    assert ext(kit, accept_ex, listener, other, buf, 0, ROOM, ROOM, None,
               WSAOVERLAPPED()) == WSA_IO_PENDING
    assert ext(kit, accept_ex, listener, other, buf, 0, ROOM, ROOM, None,
               WSAOVERLAPPED()) == WSAEINVAL
    peer.close()


# --- scale: one reactor -----------------------------------------------------------------------


def test_a_server_of_many_pending_accept_ex_on_one_reactor(kit: Kit) -> None:
    count = 100
    threads_before = threading.active_count()
    listener, port = listening(kit)
    accept_ex = function(kit, listener, WSAID_ACCEPTEX)
    event = kit.event()  # one for all: the structures say which completed
    pending = []
    for _ in range(count):
        target = overlapped_socket(kit)
        overlapped, buf = WSAOVERLAPPED(), bytearray(4 + 2 * ROOM)
        overlapped.hEvent = event
        assert ext(kit, accept_ex, listener, target, buf, 4, ROOM, ROOM, None,
                   overlapped) == WSA_IO_PENDING
        pending.append((target, overlapped, buf))
    assert threading.active_count() <= threads_before + 1  # the reactor, nothing per call
    clients = [client(port) for _ in range(count)]
    for index, peer in enumerate(clients):
        peer.sendall(index.to_bytes(4, "little"))
    deadline = time.monotonic() + 4 * WAIT
    while any(o.Internal == WSS_OPERATION_IN_PROGRESS for _, o, _ in pending):
        assert time.monotonic() < deadline, sum(
            o.Internal == WSS_OPERATION_IN_PROGRESS for _, o, _ in pending)
        time.sleep(0.01)
    assert threading.active_count() <= threads_before + 1
    assert [outcome(o) for _, o, _ in pending] == [(0, 4, 0)] * count
    by_address = {peer.getsockname(): index for index, peer in enumerate(clients)}
    for target, _, buf in pending:
        _, _, remote, _ = kit.p.GetAcceptExSockaddrs(buf, 4, ROOM, ROOM)
        index = int.from_bytes(buf[:4], "little")
        assert by_address.pop(remote) == index  # each connection's data in its own buffer
        assert peername(kit, target) == remote
    assert by_address == {}
    for peer in clients:
        peer.close()
