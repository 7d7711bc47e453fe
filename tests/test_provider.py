"""ws2core.provider.HostSocketProvider over real loopback sockets: the calls and WSPSelect.

Against the contract (the provider's API notes), on both cores through ``upcalls``:

- startup, the catalog entry and the ``.host`` context, ``with``, WSPCleanup closing every
  socket, and WSANOTINITIALISED for every call before WSPStartup and after WSPCleanup;
- TCP echo of 1 B .. 1 MiB, one WSABUF or scatter/gather (3 to send, 2 to receive, a spare
  buffer past the count never touched), IPv4 and IPv6;
- UDP: WSPSendTo/WSPRecvFrom with the sender's address in Ref and Windows-bytes form, a datagram
  larger than the buffers (WSAEMSGSIZE, buffers filled), no destination, unbound receive;
- WSPSelect over ws2core.FdSet, a bytearray and a ctypes fd_set: readiness as Windows has it
  (an unconnected socket is never ready, a failed non-blocking connect is in exceptfds),
  sets rewritten in order, the count, timeouts (one-sided), argument errors;
- connection refused, peer reset, shutdown, non-blocking mode and FIONREAD, a call blocked in
  one thread ended with WSAEINTR by a close in another, SO_RCVTIMEO;
- every function with an unknown handle (WSAENOTSOCK), wrong states, bad addresses, lengths,
  options, ioctls and socket() triples with their exact codes, the
  table's socket count unchanged after each failure and lpErrno untouched on every success;
- sockaddr forms (tuples, SOCKADDR_IN/SOCKADDR_IN6 bytes) and socket options.

Event-select behaviour (the reactor, FD_* records) is in test_provider_events.py; the helpers
and the ``provider`` / ``kit`` fixtures (with their leak checks) are in provider_support.py.
"""

from __future__ import annotations

import ctypes
import random
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

import ws2core
from ws2core import (
    AF_INET,
    AF_INET6,
    CF_ACCEPT,
    CF_DEFER,
    CF_REJECT,
    FD_CLOSE,
    FD_READ,
    FIONBIO,
    FIONREAD,
    INVALID_SOCKET,
    IPPROTO_IPV6,
    IPPROTO_TCP,
    IPPROTO_UDP,
    IPV6_V6ONLY,
    MSG_PEEK,
    MSG_WAITALL,
    SD_BOTH,
    SD_RECEIVE,
    SD_SEND,
    SO_ACCEPTCONN,
    SO_BROADCAST,
    SO_DONTROUTE,
    SO_ERROR,
    SO_KEEPALIVE,
    SO_LINGER,
    SO_OOBINLINE,
    SO_RCVBUF,
    SO_RCVTIMEO,
    SO_REUSEADDR,
    SO_SNDBUF,
    SO_TYPE,
    SOCK_DGRAM,
    SOCK_STREAM,
    SOCKET_ERROR,
    SOL_SOCKET,
    TCP_NODELAY,
    WSAEADDRINUSE,
    WSAEADDRNOTAVAIL,
    WSAEAFNOSUPPORT,
    WSAECONNABORTED,
    WSAECONNREFUSED,
    WSAECONNRESET,
    WSAEDESTADDRREQ,
    WSAEFAULT,
    WSAEINTR,
    WSAEINVAL,
    WSAEISCONN,
    WSAEMSGSIZE,
    WSAENOBUFS,
    WSAENOPROTOOPT,
    WSAENOTCONN,
    WSAENOTSOCK,
    WSAEOPNOTSUPP,
    WSAEPROTONOSUPPORT,
    WSAEPROTOTYPE,
    WSAESHUTDOWN,
    WSAESOCKTNOSUPPORT,
    WSAETIMEDOUT,
    WSAEWOULDBLOCK,
    WSANOTINITIALISED,
    WSATRY_AGAIN,
    Ref,
    errorname,
)
from ws2core.provider import TIMEVAL, WSANETWORKEVENTS, HostSocketProvider
from provider_support import (
    FAMILIES,
    LOOPBACK,
    SENTINEL,
    SET_KINDS,
    SOCKADDR_LEN,
    Kit,
    Worker,
    address,
    call,
    fails,
    getopt,
    host,
    make_set,
    needs_ipv6,
    needs_proc_fd,
    nonblocking,
    ok,
    open_fds,
    read_set,
    recv_exact,
    recv_some,
    refused_port,
    send_all,
    sockaddr_in,
    sockaddr_in6,
    socket_handles,
    sockname,
    split,
    wait_inside_ws2core,
    wait_pending,
    wait_readable,
)
from provider_support import kit, provider  # noqa: F401  (fixtures)
from support import snapshot



def recv_args(s: int, size: int = 8) -> tuple[Any, ...]:
    return (s, [bytearray(size)], 1, Ref(0), Ref(0), None, None, None)


def send_args(s: int, data: bytes = b"x") -> tuple[Any, ...]:
    return (s, [data], 1, Ref(0), 0, None, None, None)


# --- startup, context, cleanup --------------------------------------------------------------


def test_startup_catalog_entry_and_host_context(upcalls: ws2core.UpcallTable) -> None:
    p = HostSocketProvider(catalog_entry_id=4242)
    assert p.WSPStartup(upcalls) == 0
    assert p.upcalls is upcalls
    table = upcalls.table
    s = ok(p.WSPSocket, AF_INET, SOCK_STREAM, IPPROTO_TCP, None, 0, 0)
    u = ok(p.WSPSocket, AF_INET, SOCK_DGRAM, IPPROTO_UDP, None, 0, 0)
    assert table.catalog_entry(s) == table.catalog_entry(u) == 4242
    context = Ref(None)
    assert upcalls.WPUQuerySocketHandleContext(s, context, Ref(0)) == 0
    assert context.value is table.context(s)
    tcp, udp = host(p, s), host(p, u)
    assert isinstance(tcp, socket.socket) and (tcp.family, tcp.type) == (socket.AF_INET, socket.SOCK_STREAM)
    assert (udp.family, udp.type) == (socket.AF_INET, socket.SOCK_DGRAM)
    ok(p.WSPCloseSocket, s)
    assert tcp.fileno() == -1 and s not in table
    ok(p.WSPCloseSocket, u)
    assert p.WSPCleanup(Ref(SENTINEL)) == 0
    assert len(table) == 0


def test_default_catalog_entry_and_protocol_zero(provider: Any, kit: Kit) -> None:
    """Each socket carries the base entry of its protocol (catalog.py's BASE_PROTOCOLS), in
    its handle and in what SO_PROTOCOL_INFOA/W say."""
    from ws2core.constants import SO_PROTOCOL_INFOA, SO_PROTOCOL_INFOW

    for af, type_, protocol, entry in [
            (AF_INET, SOCK_STREAM, 0, 1001), (AF_INET, SOCK_DGRAM, 0, 1002),
            (AF_INET, SOCK_STREAM, IPPROTO_TCP, 1001), (AF_INET, SOCK_DGRAM, IPPROTO_UDP, 1002),
            (AF_INET6, SOCK_STREAM, 0, 1004), (AF_INET6, SOCK_DGRAM, IPPROTO_UDP, 1005)]:
        s = kit.socket(af, type_, protocol)
        assert kit.table.catalog_entry(s) == entry
        assert getopt(provider, s, SOL_SOCKET, SO_TYPE) == type_
        for option in (SO_PROTOCOL_INFOA, SO_PROTOCOL_INFOW):
            info, length = Ref(None), Ref(0)
            ok(provider.WSPGetSockOpt, s, SOL_SOCKET, option, info, length)
            assert (info.value.dwCatalogEntryId, info.value.iSocketType) == (entry, type_)


def test_a_socket_carries_the_entry_it_was_made_for(provider: Any, kit: Kit) -> None:
    """lpProtocolInfo's dwCatalogEntryId is the socket's entry; an accepted socket has its
    listener's, a duplicate its source's (WSPDuplicateSocket reports it)."""
    from ws2core.structs import WSAPROTOCOL_INFOW

    chosen = WSAPROTOCOL_INFOW()
    chosen.dwCatalogEntryId = 1007  # an entry of another catalog, over this provider
    listener = kit.add(ok(provider.WSPSocket, AF_INET, SOCK_STREAM, 0, chosen, 0, 0))
    assert kit.table.catalog_entry(listener) == 1007
    ok(provider.WSPBind, listener, ("127.0.0.1", 0), 16)
    ok(provider.WSPListen, listener, 1)
    client = kit.tcp()
    ok(provider.WSPConnect, client, sockname(provider, listener), 16, None, None, None, None)
    accepted = kit.add(ok(provider.WSPAccept, listener, None, None, None, 0))
    assert kit.table.catalog_entry(accepted) == 1007 and kit.table.catalog_entry(client) == 1001
    udp6 = kit.udp(AF_INET6)
    duplicated = WSAPROTOCOL_INFOW()
    ok(provider.WSPDuplicateSocket, udp6, 1, duplicated)
    assert duplicated.dwCatalogEntryId == 1005 and duplicated.dwProviderReserved
    duplicate = kit.add(ok(provider.WSPSocket, AF_INET6, SOCK_DGRAM, 0, duplicated, 0, 0))
    assert kit.table.catalog_entry(duplicate) == 1005
    # An entry id that is no DWORD is refused before any host socket is made.
    fails(WSAEINVAL, provider.WSPSocket, AF_INET, SOCK_STREAM, 0,
          type("Info", (), {"dwCatalogEntryId": 2**32})(), 0, 0)


def test_lperrno_ctypes_written_only_on_failure(provider: Any, kit: Kit) -> None:
    err = ctypes.c_int(SENTINEL)
    s = kit.add(provider.WSPSocket(AF_INET, SOCK_STREAM, 0, None, 0, 0, err))
    assert err.value == SENTINEL
    assert provider.WSPListen(s, 5, err) == SOCKET_ERROR  # not bound
    assert err.value == WSAEINVAL


def test_with_statement_calls_cleanup(upcalls: ws2core.UpcallTable) -> None:
    with HostSocketProvider() as p:
        assert p.WSPStartup(upcalls) == 0
        s = ok(p.WSPSocket, AF_INET, SOCK_STREAM, 0, None, 0, 0)
        hs = host(p, s)
    assert socket_handles(upcalls.table) == []
    assert hs.fileno() == -1
    fails(WSANOTINITIALISED, p.WSPSocket, AF_INET, SOCK_STREAM, 0, None, 0, 0)


@needs_proc_fd
def test_cleanup_closes_every_socket(upcalls: ws2core.UpcallTable) -> None:
    fds = open_fds()
    p = HostSocketProvider()
    assert p.WSPStartup(upcalls) == 0
    k = Kit(p)
    listener, _ = k.listener()
    c, a = k.pair()
    u, _ = k.bound(type=SOCK_DGRAM)
    e = k.event()
    ok(p.WSPEventSelect, c, e, FD_READ | FD_CLOSE)
    hosts = [host(p, s) for s in (listener, c, a, u)]
    err = Ref(SENTINEL)
    assert p.WSPCleanup(err) == 0 and err.value == SENTINEL
    assert socket_handles(upcalls.table) == []
    assert [h.fileno() for h in hosts] == [-1] * 4
    assert upcalls.table.kind(e) == "event"  # the test's event is not the provider's to close
    for name, args in [("WSPSocket", (AF_INET, SOCK_STREAM, 0, None, 0, 0)), ("WSPRecv", recv_args(c)),
                       ("WSPCloseSocket", (c,)), ("WSPCleanup", ())]:
        fails(WSANOTINITIALISED, getattr(p, name), *args)
    upcalls.table.close_event(e)
    assert len(upcalls.table) == 0
    deadline = time.monotonic() + 5
    while open_fds() != fds and time.monotonic() < deadline:
        time.sleep(0.01)
    assert open_fds() == fds, "host fds (sockets, the reactor's selector) left open"


# --- TCP echo -------------------------------------------------------------------------------


def echo(p: Any, kit: Kit, af: int, size: int, layout: str) -> None:
    data = random.Random(size).randbytes(size)
    c, a = kit.pair(af)

    def server() -> int:
        echoed = 0
        while echoed < size:
            chunk = recv_some(p, a, 65536)
            assert chunk, "the client closed early"
            send_all(p, a, chunk)
            echoed += len(chunk)
        return echoed

    def sender() -> int:
        sent = Ref(0)
        if layout == "scatter":
            first, middle, last = split(data, 3)
            # three WSABUFs of three kinds; the fourth lies past dwBufferCount: never sent
            bufs = [first, memoryview(bytearray(middle)), bytearray(last), b"NOT SENT"]
            ok(p.WSPSend, c, bufs, 3, sent, 0, None, None, None)
        else:
            ok(p.WSPSend, c, [data], 1, sent, 0, None, None, None)
        return sent.value  # type: ignore[no-any-return]

    echoing = Worker(server, "echo-server")
    sending = Worker(sender, "client-sender")
    got = recv_exact(p, c, size, (700, 4096) if layout == "scatter" else (65536,))
    assert sending.result() == size  # a blocking socket sends everything
    assert echoing.result() == size
    assert got == data
    ok(p.WSPShutdown, c, SD_SEND)
    assert recv_some(p, a, 16) == b""  # and not one byte more (the spare buffer was not sent)


@pytest.mark.parametrize("layout", ["one", "scatter"])
@pytest.mark.parametrize("size", [1, 1000, 65536, 1 << 20])
def test_tcp_echo(provider: Any, kit: Kit, size: int, layout: str) -> None:
    echo(provider, kit, AF_INET, size, layout)


@needs_ipv6
@pytest.mark.parametrize("size", [1000, 1 << 20])
def test_tcp_echo_ipv6(provider: Any, kit: Kit, size: int) -> None:
    echo(provider, kit, AF_INET6, size, "scatter")


def test_sendto_on_tcp_ignores_the_address(provider: Any, kit: Kit) -> None:
    c, a = kit.pair()
    sent = Ref(0)
    ok(provider.WSPSendTo, c, [b"abc"], 1, sent, 0, ("127.0.0.1", 9), 16, None, None, None)
    assert sent.value == 3
    assert recv_exact(provider, a, 3) == b"abc"


# --- UDP ------------------------------------------------------------------------------------


@pytest.mark.parametrize("af", FAMILIES)
def test_udp_round_trip(provider: Any, kit: Kit, af: int) -> None:
    p = provider
    a, port_a = kit.bound(af, SOCK_DGRAM)
    b, port_b = kit.bound(af, SOCK_DGRAM)
    sent = Ref(0)
    ok(p.WSPSendTo, a, [b"ping", b"-", b"pong"], 3, sent, 0, (LOOPBACK[af], port_b), SOCKADDR_LEN[af],
       None, None, None)
    assert sent.value == 9
    wait_readable(p, b)
    buf, got, flags, sender, fromlen = bytearray(64), Ref(0), Ref(0), Ref(None), Ref(64)
    ok(p.WSPRecvFrom, b, [buf], 1, got, flags, sender, fromlen, None, None, None)
    assert (got.value, bytes(buf[:9]), any(buf[9:])) == (9, b"ping-pong", False)
    assert sender.value == address(af, port_a)
    assert fromlen.value == SOCKADDR_LEN[af]
    assert flags.value == 0
    # the reply to the address received, and the sender's address as Windows bytes
    ok(p.WSPSendTo, b, [b"pong"], 1, sent, 0, sender.value, SOCKADDR_LEN[af], None, None, None)
    wait_readable(p, a)
    raw, rawlen = bytearray(SOCKADDR_LEN[af]), Ref(SOCKADDR_LEN[af])
    ok(p.WSPRecvFrom, a, [buf], 1, got, flags, raw, rawlen, None, None, None)
    assert (got.value, bytes(buf[:4])) == (4, b"pong")
    expected = sockaddr_in(LOOPBACK[af], port_b) if af == AF_INET else sockaddr_in6(LOOPBACK[af], port_b)
    assert bytes(raw) == expected
    assert rawlen.value == SOCKADDR_LEN[af]


def test_udp_connected_send_and_recv(provider: Any, kit: Kit) -> None:
    a, _ = kit.bound(type=SOCK_DGRAM)
    b, port_b = kit.bound(type=SOCK_DGRAM)
    kit.connect(a, AF_INET, port_b)
    ok(provider.WSPSend, *send_args(a, b"over a connected UDP socket"))
    assert recv_some(provider, b, 64) == b"over a connected UDP socket"
    ok(provider.WSPSend, *send_args(a, b"again"))
    wait_readable(provider, b)
    buf, got = bytearray(8), Ref(0)
    ok(provider.WSPRecvFrom, b, [buf], 1, got, Ref(0), None, None, None, None, None)  # no address wanted
    assert bytes(buf[:got.value]) == b"again"


@pytest.mark.parametrize("name", ["WSPRecv", "WSPRecvFrom"])
def test_udp_datagram_larger_than_buffers(provider: Any, kit: Kit, name: str) -> None:
    p = provider
    a, _ = kit.bound(type=SOCK_DGRAM)
    b, port_b = kit.bound(type=SOCK_DGRAM)
    data = bytes(range(100))
    ok(p.WSPSendTo, a, [data], 1, Ref(0), 0, ("127.0.0.1", port_b), 16, None, None, None)
    wait_readable(p, b)
    first, second, got = bytearray(10), bytearray(6), Ref(0)
    extra = (Ref(None), Ref(16)) if name == "WSPRecvFrom" else ()
    fails(WSAEMSGSIZE, getattr(p, name), b, [first, second], 2, got, Ref(0), *extra, None, None, None)
    assert (bytes(first), bytes(second)) == (data[:10], data[10:16])
    assert got.value == 16


def test_udp_sendto_too_large(provider: Any, kit: Kit) -> None:
    a, _ = kit.bound(type=SOCK_DGRAM)
    fails(WSAEMSGSIZE, provider.WSPSendTo, a, [bytes(70000)], 1, Ref(0), 0, ("127.0.0.1", 9), 16,
          None, None, None)


def test_udp_sendto_without_address(provider: Any, kit: Kit) -> None:
    for s in (kit.udp(), kit.bound(type=SOCK_DGRAM)[0]):
        fails(WSAEDESTADDRREQ, provider.WSPSendTo, s, [b"x"], 1, Ref(0), 0, None, 0, None, None, None)


@pytest.mark.parametrize("name", ["WSPRecv", "WSPRecvFrom"])
def test_udp_receive_unbound(provider: Any, kit: Kit, name: str) -> None:
    s = kit.udp()
    nonblocking(provider, s)  # a wrong answer is then WSAEWOULDBLOCK, not a hang
    extra = (Ref(None), Ref(16)) if name == "WSPRecvFrom" else ()
    fails(WSAEINVAL, getattr(provider, name), s, [bytearray(8)], 1, Ref(0), Ref(0), *extra, None, None, None)


# --- WSPSelect ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", SET_KINDS)
def test_select_listener_with_pending_connection(provider: Any, kit: Kit, kind: str) -> None:
    idle, _ = kit.listener()
    listener, port = kit.listener()
    c = kit.tcp()
    kit.connect(c, AF_INET, port)
    readable = make_set(kind, [idle, listener])
    assert ok(provider.WSPSelect, 0, readable, None, None, TIMEVAL(tv_sec=5, tv_usec=0)) == 1
    assert read_set(readable) == [listener]
    kit.accept(listener)


@pytest.mark.parametrize("kind", SET_KINDS)
def test_select_data_readable_connected_writable_order_kept(provider: Any, kit: Kit, kind: str) -> None:
    p = provider
    c, a = kit.pair()
    fresh = kit.tcp()
    sets = [make_set(kind, [a, c, fresh]), make_set(kind, [fresh, c, a]), make_set(kind, [c, a, fresh])]
    assert ok(p.WSPSelect, 0, *sets, TIMEVAL(tv_sec=0, tv_usec=0)) == 2
    assert [read_set(x) for x in sets] == [[], [c, a], []]
    send_all(p, a, b"hello")
    wait_pending(p, c, 5)
    sets = [make_set(kind, [a, fresh, c]), make_set(kind, [fresh, c, a]), make_set(kind, [fresh, c])]
    assert ok(p.WSPSelect, 0, *sets, 0) == 3  # c counts twice: readable and writable
    assert [read_set(x) for x in sets] == [[c], [c, a], []]


def test_select_in_a_32_bit_process_reads_and_rewrites_x86_fd_sets(core: Any) -> None:
    """Over an x86 table, a bare fd_set is the 32-bit layout; an FdSet keeps its own."""
    up = ws2core.UpcallTable(core.HandleTable(abi="x86", handle_range=(0x8000, 0xFFFC)))
    with HostSocketProvider() as p:
        assert p.WSPStartup(up) == 0
        k = Kit(p)
        idle, _ = k.listener()
        listener, port = k.listener()
        c = k.tcp()
        k.connect(c, AF_INET, port)
        assert 0x8000 <= min(idle, listener, c) and max(idle, listener, c) <= 0xFFFC
        readable = bytearray(4 + 4 * 64)
        struct.pack_into("<3I", readable, 0, 2, idle, listener)
        assert ok(p.WSPSelect, 0, readable, None, None, TIMEVAL(tv_sec=5, tv_usec=0)) == 1
        assert struct.unpack_from("<2I", readable) == (1, listener)
        as_x64 = ws2core.FdSet([idle, listener])
        assert ok(p.WSPSelect, 0, as_x64, None, None, TIMEVAL(tv_sec=5, tv_usec=0)) == 1
        assert list(as_x64) == [listener]
        # An x64-sized buffer holding x86 entries past a bogus count is refused, not misread.
        too_many = bytearray(8)
        struct.pack_into("<2I", too_many, 0, 2, listener)
        with pytest.raises(ValueError, match="x86"):
            p.WSPSelect(0, too_many, None, None, 0, Ref(0))
        k.accept(listener)
        k.close_all()
    assert len(up.table) == 0


def test_select_unconnected_socket_never_ready(provider: Any, kit: Kit) -> None:
    fresh = kit.tcp()
    bound, _ = kit.bound()  # bound but neither listening nor connected: Linux says ready
    sets = [ws2core.FdSet([fresh, bound]) for _ in range(3)]
    assert ok(provider.WSPSelect, 0, *sets, TIMEVAL(tv_sec=0, tv_usec=100000)) == 0
    assert [len(x) for x in sets] == [0, 0, 0]


def test_select_failed_nonblocking_connect_in_exceptfds(provider: Any, kit: Kit) -> None:
    p = provider
    s = kit.tcp()
    nonblocking(p, s)
    with refused_port() as port:
        fails(WSAEWOULDBLOCK, p.WSPConnect, s, ("127.0.0.1", port), 16, None, None, None, None)
        writable, failed = ws2core.FdSet([s]), ws2core.FdSet([s])
        assert ok(p.WSPSelect, 0, None, writable, failed, TIMEVAL(tv_sec=5, tv_usec=0)) == 1
    assert (list(writable), list(failed)) == ([], [s])
    assert getopt(p, s, SOL_SOCKET, SO_ERROR) == WSAECONNREFUSED
    assert getopt(p, s, SOL_SOCKET, SO_ERROR) == 0  # cleared by reading


def test_select_nonblocking_connect_completes_writable(provider: Any, kit: Kit) -> None:
    p = provider
    listener, port = kit.listener()
    s = kit.tcp()
    nonblocking(p, s)
    fails(WSAEWOULDBLOCK, p.WSPConnect, s, ("127.0.0.1", port), 16, None, None, None, None)
    writable, failed = ws2core.FdSet([s]), ws2core.FdSet([s])
    assert ok(p.WSPSelect, 0, None, writable, failed, TIMEVAL(tv_sec=5, tv_usec=0)) == 1
    assert (list(writable), list(failed)) == ([s], [])
    kit.accept(listener)
    fails(WSAEISCONN, p.WSPConnect, s, ("127.0.0.1", port), 16, None, None, None, None)


TIMEOUTS: dict[str, Callable[[], Any]] = {
    "timeval": lambda: TIMEVAL(tv_sec=0, tv_usec=200000), "seconds": lambda: 0.2}


@pytest.mark.parametrize("form", sorted(TIMEOUTS))
def test_select_timeout_honoured(provider: Any, kit: Kit, form: str) -> None:
    c, a = kit.pair()
    readable = ws2core.FdSet([c, a])
    start = time.monotonic()
    assert ok(provider.WSPSelect, 0, readable, None, None, TIMEOUTS[form]()) == 0
    assert time.monotonic() - start >= 0.15
    assert len(readable) == 0


@pytest.mark.parametrize("timeout", ["timeval", "zero"])
def test_select_timeout_zero_polls(provider: Any, kit: Kit, timeout: str) -> None:
    c, a = kit.pair()
    readable = make_set("bytearray", [c, a])
    start = time.monotonic()
    value = TIMEVAL(tv_sec=0, tv_usec=0) if timeout == "timeval" else 0
    assert ok(provider.WSPSelect, 0, readable, None, None, value) == 0
    assert time.monotonic() - start < 5
    assert read_set(readable) == []


@pytest.mark.parametrize("case", ["all None", "all empty", "negative seconds", "negative TIMEVAL"])
def test_select_invalid_arguments(provider: Any, kit: Kit, case: str) -> None:
    c, a = kit.pair()
    args = {
        "all None": (None, None, None, None),
        "all empty": (ws2core.FdSet(), ws2core.FdSet(), make_set("bytearray", []), None),
        "negative seconds": (ws2core.FdSet([c]), None, None, -1),
        "negative TIMEVAL": (ws2core.FdSet([c]), None, None, TIMEVAL(tv_sec=-1, tv_usec=0)),
    }[case]
    fails(WSAEINVAL, provider.WSPSelect, 0, *args)


@pytest.mark.parametrize("bad", ["closed", "event"])
@pytest.mark.parametrize("kind", SET_KINDS)
def test_select_not_a_socket_leaves_sets_untouched(provider: Any, kit: Kit, kind: str, bad: str) -> None:
    c, a = kit.pair()
    send_all(provider, a, b"x")
    wait_pending(provider, c, 1)  # c would be ready
    if bad == "closed":
        h = kit.tcp()
        kit.close(h)
    else:
        h = kit.event()
    readable, writable = make_set(kind, [c, h]), make_set(kind, [a, c])
    before = bytes(readable), bytes(writable)
    fails(WSAENOTSOCK, provider.WSPSelect, 0, readable, writable, None, TIMEVAL(tv_sec=0, tv_usec=0))
    assert (bytes(readable), bytes(writable)) == before


@pytest.mark.parametrize("how", ["graceful", "reset"])
def test_select_peer_closed_is_readable(provider: Any, kit: Kit, how: str) -> None:
    p = provider
    c, a = kit.pair()
    if how == "reset":
        ok(p.WSPSetSockOpt, a, SOL_SOCKET, SO_LINGER, (1, 0), 4)
    kit.close(a)
    readable = ws2core.FdSet([c])
    assert ok(p.WSPSelect, 0, readable, None, None, TIMEVAL(tv_sec=5, tv_usec=0)) == 1
    assert list(readable) == [c]


# --- connect, reset, shutdown ---------------------------------------------------------------


@pytest.mark.parametrize("af", FAMILIES)
def test_connect_refused_blocking(provider: Any, kit: Kit, af: int) -> None:
    s = kit.tcp(af)
    with refused_port(af) as port:
        fails(WSAECONNREFUSED, provider.WSPConnect, s, (LOOPBACK[af], port), SOCKADDR_LEN[af],
              None, None, None, None)


@pytest.mark.parametrize("af", FAMILIES)
def test_connect_accept_and_names(provider: Any, kit: Kit, af: int) -> None:
    p = provider
    listener, port = kit.listener(af)
    c = kit.tcp(af)
    kit.connect(c, af, port)
    local = sockname(p, c)
    assert local[0] == LOOPBACK[af] and local[1] > 0 and local[2:] == (() if af == AF_INET else (0, 0))
    peer, length = Ref(None), Ref(SOCKADDR_LEN[af] + 4)
    ok(p.WSPGetPeerName, c, peer, length)
    assert (peer.value, length.value) == (address(af, port), SOCKADDR_LEN[af])
    wait_readable(p, listener)
    addr, addrlen = Ref(None), Ref(64)
    a = kit.add(ok(p.WSPAccept, listener, addr, addrlen, None, 0))
    assert (addr.value, addrlen.value) == (local, SOCKADDR_LEN[af])
    assert sockname(p, a) == address(af, port)
    ok(p.WSPGetPeerName, a, peer, Ref(None))
    assert peer.value == local


@pytest.mark.parametrize("op", ["recv", "send"])
def test_peer_reset(provider: Any, kit: Kit, op: str) -> None:
    p = provider
    c, a = kit.pair()
    ok(p.WSPSetSockOpt, a, SOL_SOCKET, SO_LINGER, (1, 0), 4)
    kit.close(a)  # an abortive close: RST
    wait_readable(p, c)
    if op == "recv":
        fails(WSAECONNRESET, p.WSPRecv, *recv_args(c))
    else:
        code = call(p.WSPSend, *send_args(c))
        assert code in (WSAECONNRESET, WSAECONNABORTED), errorname(code)


@pytest.mark.parametrize("how", [SD_SEND, SD_BOTH])
def test_shutdown_send_then_send_fails_peer_reads_eof(provider: Any, kit: Kit, how: int) -> None:
    p = provider
    c, a = kit.pair()
    ok(p.WSPShutdown, c, how)
    fails(WSAESHUTDOWN, p.WSPSend, *send_args(c, b"late"))
    wait_readable(p, a)
    buf, got = bytearray(b"\xaa" * 8), Ref(SENTINEL)
    ok(p.WSPRecv, a, [buf], 1, got, Ref(0), None, None, None)
    assert (got.value, bytes(buf)) == (0, b"\xaa" * 8)
    if how == SD_SEND:  # the other direction still works
        send_all(p, a, b"reply")
        assert recv_exact(p, c, 5) == b"reply"
    else:
        fails(WSAESHUTDOWN, p.WSPRecv, *recv_args(c))


def test_shutdown_receive(provider: Any, kit: Kit) -> None:
    p = provider
    c, a = kit.pair()
    ok(p.WSPShutdown, c, SD_RECEIVE)
    fails(WSAESHUTDOWN, p.WSPRecv, *recv_args(c))
    send_all(p, c, b"still sends")
    assert recv_exact(p, a, 11) == b"still sends"


@pytest.mark.parametrize("how", [3, -1, 99])
def test_shutdown_bad_how(provider: Any, kit: Kit, how: int) -> None:
    c, _ = kit.pair()
    fails(WSAEINVAL, provider.WSPShutdown, c, how)


@pytest.mark.parametrize("how", [SD_RECEIVE, SD_SEND, SD_BOTH])
def test_shutdown_unconnected(provider: Any, kit: Kit, how: int) -> None:
    fails(WSAENOTCONN, provider.WSPShutdown, kit.tcp(), how)


# --- non-blocking mode, FIONREAD, blocked calls, timeouts ------------------------------------


def test_nonblocking_recv_and_accept_would_block(provider: Any, kit: Kit) -> None:
    p = provider
    c, a = kit.pair()
    listener, port = kit.listener()
    nonblocking(p, c)
    nonblocking(p, listener)
    fails(WSAEWOULDBLOCK, p.WSPRecv, *recv_args(c))
    fails(WSAEWOULDBLOCK, p.WSPAccept, listener, None, None, None, 0)
    d = kit.tcp()
    kit.connect(d, AF_INET, port)
    accepted = kit.accept(listener)
    fails(WSAEWOULDBLOCK, p.WSPRecv, *recv_args(accepted))  # the listener's mode is inherited
    send_all(p, a, b"now")
    assert recv_exact(p, c, 3) == b"now"
    nonblocking(p, c, False)  # and back to blocking


def test_fionread(provider: Any, kit: Kit) -> None:
    p = provider
    c, a = kit.pair()

    def pending() -> int:
        out = Ref(None)
        ok(p.WSPIoctl, c, FIONREAD, None, 0, out, 4, Ref(0), None, None, None)
        return out.value  # type: ignore[no-any-return]

    assert pending() == 0
    out = Ref(None)
    ok(p.WSPIoctl, c, FIONREAD, None, 0, out, 4, None, None, None, None)  # lpcbBytesReturned None
    assert out.value == 0
    send_all(p, a, bytes(range(123)))
    wait_pending(p, c, 123)
    assert pending() == 123
    assert recv_exact(p, c, 23, (23,)) == bytes(range(23))
    assert pending() == 100


def test_recv_flags_peek_and_waitall(provider: Any, kit: Kit) -> None:
    p = provider
    c, a = kit.pair()
    send_all(p, a, b"peek")
    wait_pending(p, c, 4)
    buf, got, flags = bytearray(8), Ref(0), Ref(MSG_PEEK)
    ok(p.WSPRecv, c, [buf], 1, got, flags, None, None, None)
    assert (bytes(buf[:got.value]), flags.value) == (b"peek", 0)  # peeked, lpFlags back to 0
    assert recv_exact(p, c, 4) == b"peek"  # still there

    send_all(p, a, b"first half, ")
    wait_pending(p, c, 12)
    main = threading.current_thread()

    def later() -> None:  # the rest once the receive is waiting for it
        wait_inside_ws2core(main)
        send_all(p, a, b"second half")

    sender = Worker(later, "second-half-sender")
    buf, got, flags = bytearray(23), Ref(0), Ref(MSG_WAITALL)
    ok(p.WSPRecv, c, [buf], 1, got, flags, None, None, None)
    sender.result()
    assert (bytes(buf), got.value) == (b"first half, second half", 23)


@pytest.mark.parametrize("capped", [False, True], ids=["blocking", "capped"])
@pytest.mark.parametrize("op", ["recv", "recvfrom", "accept", "send", "connect"])
def test_close_in_another_thread_ends_blocked_call_with_wsaeintr(provider: Any, kit: Kit, op: str,
                                                                 capped: bool) -> None:
    """Whether the call sleeps in the host's kernel or, on a thread with a blocking_limit,
    in the provider's own wait: the close wakes it at once."""
    p = provider
    if op == "recv":
        s, _ = kit.pair()
        fn, args, failure = p.WSPRecv, recv_args(s), SOCKET_ERROR
    elif op == "recvfrom":
        s, _ = kit.bound(type=SOCK_DGRAM)
        fn, args, failure = p.WSPRecvFrom, (s, [bytearray(8)], 1, Ref(0), Ref(0), Ref(None), Ref(16),
                                            None, None, None), SOCKET_ERROR
    elif op == "accept":
        s, _ = kit.listener()
        fn, args, failure = p.WSPAccept, (s, None, None, None, 0), INVALID_SOCKET
    elif op == "send":  # more than the peer, who never reads, can take
        s, _ = kit.pair()
        fn, args, failure = p.WSPSend, (s, [bytes(32 << 20)], 1, Ref(0), 0, None, None, None), SOCKET_ERROR
    else:  # to a listener whose backlog is full: the host drops the SYN
        _, port = kit.full_listener()
        s = kit.tcp()
        fn, args, failure = p.WSPConnect, (s, (LOOPBACK[AF_INET], port), 16, None, None, None,
                                           None), SOCKET_ERROR

    def blocked() -> tuple[int, int]:
        err = Ref(SENTINEL)
        with p.blocking_limit(20.0 if capped else None):
            return fn(*args, err), err.value

    worker = Worker(blocked, f"blocked-{op}")
    wait_inside_ws2core(worker.thread)
    closed = time.monotonic()
    kit.close(s)
    result, code = worker.result(timeout=10)
    assert (result, code) == (failure, WSAEINTR), errorname(code)
    assert time.monotonic() - closed < 2.0


def test_close_while_calls_keep_coming_closes_the_host_socket_once_they_leave(
        provider: Any, kit: Kit) -> None:
    """The use count has no lock: threads calling WSPSend and WSPRecv in a loop while another
    closes the socket see WSAEINTR (a call the close caught inside) or WSAENOTSOCK and no
    other code, and the host socket is closed once the last call has left, whichever thread
    that was (the close only shuts it down while calls are inside)."""
    p = provider
    c, a = kit.pair()
    nonblocking(p, c)
    under = host(p, c)
    started = threading.Barrier(5)

    def hammer(receive: bool) -> set[int]:
        seen, err, count, flags = set(), Ref(0), Ref(0), Ref(0)
        started.wait()
        while True:
            flags.value = 0
            result = (p.WSPRecv(c, [bytearray(64)], 1, count, flags, None, None, None, err)
                      if receive else p.WSPSend(c, [b"x" * 64], 1, count, 0, None, None, None, err))
            if result == 0 or err.value == WSAEWOULDBLOCK:
                continue
            seen.add(err.value)
            if err.value == WSAENOTSOCK:
                return seen

    workers = [Worker(lambda receive=i % 2 == 1: hammer(receive), f"hammer-{i}") for i in range(4)]
    started.wait()
    time.sleep(0.05)
    kit.close(c)
    codes = set().union(*(worker.result(timeout=10) for worker in workers))
    assert codes <= {WSAENOTSOCK, WSAEINTR}, [errorname(code) for code in codes]
    assert under.fileno() == -1


def test_so_rcvtimeo_blocking_recv_times_out(provider: Any, kit: Kit) -> None:
    p = provider
    c, _ = kit.pair()
    ok(p.WSPSetSockOpt, c, SOL_SOCKET, SO_RCVTIMEO, 200, 4)
    start = time.monotonic()
    fails(WSAETIMEDOUT, p.WSPRecv, *recv_args(c))
    assert time.monotonic() - start >= 0.15


# --- WSPAccept's condition function ---------------------------------------------------------


@pytest.mark.parametrize("verdict, code", [(CF_ACCEPT, 0), (CF_REJECT, WSAECONNREFUSED),
                                           (CF_DEFER, WSATRY_AGAIN), (99, WSAEINVAL)],
                         ids=["CF_ACCEPT", "CF_REJECT", "CF_DEFER", "99"])
def test_accept_condition_function(provider: Any, kit: Kit, verdict: int, code: int) -> None:
    p = provider
    listener, port = kit.listener()
    c = kit.tcp()
    kit.connect(c, AF_INET, port)
    seen: list[tuple[Any, ...]] = []

    def condition(caller_id: Any, caller_data: Any, sqos: Any, gqos: Any, callee_id: Any,
                  callee_data: Any, g: Any, callback_data: Any) -> int:
        seen.append((caller_id, caller_data, sqos, gqos, callee_id, callee_data, hasattr(g, "value"),
                     callback_data))
        return verdict

    wait_readable(p, listener)
    if code == 0:
        a = kit.add(ok(p.WSPAccept, listener, None, None, condition, 77))
        send_all(p, c, b"hi")
        assert recv_exact(p, a, 2) == b"hi"
    else:
        fails(code, p.WSPAccept, listener, None, None, condition, 77)
        wait_readable(p, c)  # the connection was reset, as Windows resets a rejected one
        got = Ref(0)
        result = call(p.WSPRecv, c, [bytearray(8)], 1, got, Ref(0), None, None, None)
        assert (result, got.value) == (WSAECONNRESET, 0), errorname(result)
    assert seen == [(sockname(p, c), None, None, None, ("127.0.0.1", port), None, True, 77)]


# --- bad input ------------------------------------------------------------------------------

# Each function taking a SOCKET, with valid-looking other arguments (s and a live event e).
SOCKET_CALLS: dict[str, Callable[[int, int], tuple[Any, ...]]] = {
    "WSPAccept": lambda s, e: (s, None, None, None, 0),
    "WSPBind": lambda s, e: (s, ("127.0.0.1", 0), 16),
    "WSPCloseSocket": lambda s, e: (s,),
    "WSPConnect": lambda s, e: (s, ("127.0.0.1", 9), 16, None, None, None, None),
    "WSPEnumNetworkEvents": lambda s, e: (s, e, WSANETWORKEVENTS()),
    "WSPEventSelect": lambda s, e: (s, e, FD_READ),
    "WSPGetPeerName": lambda s, e: (s, Ref(None), Ref(16)),
    "WSPGetSockName": lambda s, e: (s, Ref(None), Ref(16)),
    "WSPGetSockOpt": lambda s, e: (s, SOL_SOCKET, SO_TYPE, Ref(0), Ref(4)),
    "WSPIoctl": lambda s, e: (s, FIONBIO, 1, 4, None, 0, Ref(0), None, None, None),
    "WSPListen": lambda s, e: (s, 5),
    "WSPRecv": lambda s, e: recv_args(s),
    "WSPRecvFrom": lambda s, e: (s, [bytearray(8)], 1, Ref(0), Ref(0), Ref(None), Ref(16), None, None, None),
    "WSPSend": lambda s, e: send_args(s),
    "WSPSendTo": lambda s, e: (s, [b"x"], 1, Ref(0), 0, ("127.0.0.1", 9), 16, None, None, None),
    "WSPSetSockOpt": lambda s, e: (s, SOL_SOCKET, SO_REUSEADDR, 1, 4),
    "WSPShutdown": lambda s, e: (s, SD_BOTH),
}
OTHER_CALLS: dict[str, Callable[[int, int], tuple[Any, ...]]] = {
    "WSPSocket": lambda s, e: (AF_INET, SOCK_STREAM, 0, None, 0, 0),
    "WSPSelect": lambda s, e: (0, ws2core.FdSet([s]), None, None, 0),
    "WSPCleanup": lambda s, e: (),
}


@pytest.mark.parametrize("bad", ["closed", "event", "unissued", "INVALID_SOCKET"])
@pytest.mark.parametrize("name", sorted(SOCKET_CALLS))
def test_unknown_handle_is_wsaenotsock(provider: Any, kit: Kit, name: str, bad: str) -> None:
    e = kit.event()
    if bad == "closed":
        h = kit.tcp()
        kit.close(h)
    elif bad == "event":
        h = kit.event()
    elif bad == "unissued":
        h = max(list(kit.table)) + 0x10000
    else:
        h = INVALID_SOCKET
    before = snapshot(kit.table)
    fails(WSAENOTSOCK, getattr(provider, name), *SOCKET_CALLS[name](h, e))
    assert snapshot(kit.table) == before


@pytest.mark.parametrize("phase", ["before WSPStartup", "after WSPCleanup"])
@pytest.mark.parametrize("name", sorted(SOCKET_CALLS) + sorted(OTHER_CALLS))
def test_not_initialised(upcalls: ws2core.UpcallTable, phase: str, name: str) -> None:
    p = HostSocketProvider()
    table = upcalls.table
    e = table.create_event()
    if phase == "after WSPCleanup":
        assert p.WSPStartup(upcalls) == 0
        s = ok(p.WSPSocket, AF_INET, SOCK_STREAM, 0, None, 0, 0)
        assert p.WSPCleanup(Ref(SENTINEL)) == 0
    else:
        s = table.create_socket(1001)  # a live socket the provider has never seen
    before = snapshot(table)
    fails(WSANOTINITIALISED, getattr(p, name), *{**SOCKET_CALLS, **OTHER_CALLS}[name](s, e))
    assert snapshot(table) == before
    if s in table:
        table.close_socket(s)
    table.close_event(e)


def _pending(k: Kit) -> int:
    """A connected socket with 4 bytes waiting, non-blocking (a wrong answer cannot hang)."""
    c, a = k.pair()
    send_all(k.p, a, b"data")
    wait_pending(k.p, c, 4)
    nonblocking(k.p, c)
    return c


def _listener_pending(k: Kit) -> int:
    listener, port = k.listener()
    k.connect(k.tcp(), AF_INET, port)
    wait_readable(k.p, listener)
    nonblocking(k.p, listener)
    return listener


def _udp_pending(k: Kit) -> int:
    a, _ = k.bound(type=SOCK_DGRAM)
    b, port = k.bound(type=SOCK_DGRAM)
    ok(k.p.WSPSendTo, a, [b"dgram"], 1, Ref(0), 0, ("127.0.0.1", port), 16, None, None, None)
    wait_readable(k.p, b)
    nonblocking(k.p, b)
    return b


def _in_use(k: Kit) -> tuple[Any, ...]:
    _, port = k.listener()
    return (k.tcp(), ("127.0.0.1", port), 16)


def _event_selected(k: Kit) -> int:
    c, _ = k.pair()
    ok(k.p.WSPEventSelect, c, k.event(), FD_READ)
    return c


def _dead_event(k: Kit) -> int:
    e = k.event()
    k.close_event(e)
    return e


def _bound_twice(k: Kit) -> tuple[Any, ...]:
    s, _ = k.bound()
    return (s, ("127.0.0.1", 0), 16)


def _socket(*args: int) -> Callable[[Kit], tuple[str, tuple[Any, ...]]]:
    return lambda k: ("WSPSocket", (*args[:3], None, args[3] if len(args) > 3 else 0, 0))


V6_BYTES = sockaddr_in6("::1", 9)
# name -> (expected code, function name, builder of the arguments from a Kit)
STATE_CASES: dict[str, tuple[int, str, Callable[[Kit], tuple[Any, ...]]]] = {
    "recv before connect": (WSAENOTCONN, "WSPRecv", lambda k: recv_args(k.tcp())),
    "send before connect": (WSAENOTCONN, "WSPSend", lambda k: send_args(k.tcp())),
    "listen on UDP": (WSAEOPNOTSUPP, "WSPListen", lambda k: (k.bound(type=SOCK_DGRAM)[0], 5)),
    "listen unbound": (WSAEINVAL, "WSPListen", lambda k: (k.tcp(), 5)),
    "listen connected": (WSAEISCONN, "WSPListen", lambda k: (k.pair()[0], 5)),
    "accept not listening": (WSAEINVAL, "WSPAccept", lambda k: (k.bound()[0], None, None, None, 0)),
    "accept on UDP": (WSAEOPNOTSUPP, "WSPAccept", lambda k: (k.bound(type=SOCK_DGRAM)[0], None, None, None, 0)),
    "bind twice": (WSAEINVAL, "WSPBind", _bound_twice),
    "bind in use": (WSAEADDRINUSE, "WSPBind", _in_use),
    "bind not local": (WSAEADDRNOTAVAIL, "WSPBind", lambda k: (k.tcp(), ("192.0.2.1", 0), 16)),
    "bind IPv6 tuple on IPv4": (WSAEFAULT, "WSPBind", lambda k: (k.tcp(), ("::1", 0), 16)),
    "bind IPv6 bytes on IPv4": (WSAEFAULT, "WSPBind", lambda k: (k.tcp(), V6_BYTES, 28)),
    "bind unparsable host": (WSAEFAULT, "WSPBind", lambda k: (k.tcp(), ("not an address", 0), 16)),
    "bind bytes namelen short": (WSAEFAULT, "WSPBind", lambda k: (k.tcp(), sockaddr_in("127.0.0.1", 0), 8)),
    "connect on listener": (WSAEINVAL, "WSPConnect",
                            lambda k: (k.listener()[0], ("127.0.0.1", 9), 16, None, None, None, None)),
    "connect when connected": (WSAEISCONN, "WSPConnect",
                               lambda k: (k.pair()[0], ("127.0.0.1", 9), 16, None, None, None, None)),
    "connect any address": (WSAEADDRNOTAVAIL, "WSPConnect",
                            lambda k: (k.tcp(), ("0.0.0.0", 9), 16, None, None, None, None)),
    "connect port 0": (WSAEADDRNOTAVAIL, "WSPConnect",
                       lambda k: (k.tcp(), ("127.0.0.1", 0), 16, None, None, None, None)),
    "connect other family": (WSAEAFNOSUPPORT, "WSPConnect",
                             lambda k: (k.tcp(), V6_BYTES, 28, None, None, None, None)),
    "connect bytes namelen short": (WSAEFAULT, "WSPConnect",
                                    lambda k: (k.tcp(), sockaddr_in("127.0.0.1", 9), 15, None, None, None, None)),
    "sendto other family": (WSAEAFNOSUPPORT, "WSPSendTo",
                            lambda k: (k.udp(), [b"x"], 1, Ref(0), 0, V6_BYTES, 28, None, None, None)),
    "getsockname unbound": (WSAEINVAL, "WSPGetSockName", lambda k: (k.tcp(), Ref(None), Ref(16))),
    "getpeername unconnected": (WSAENOTCONN, "WSPGetPeerName", lambda k: (k.bound()[0], Ref(None), Ref(16))),
    "getsockname namelen 4": (WSAEFAULT, "WSPGetSockName", lambda k: (k.bound()[0], Ref(None), Ref(4))),
    "getsockname buffer namelen 4": (WSAEFAULT, "WSPGetSockName",
                                     lambda k: (k.bound()[0], bytearray(16), Ref(4))),
    "getpeername namelen 4": (WSAEFAULT, "WSPGetPeerName", lambda k: (k.pair()[0], Ref(None), Ref(4))),
    "accept addrlen 4": (WSAEFAULT, "WSPAccept", lambda k: (_listener_pending(k), Ref(None), Ref(4), None, 0)),
    "recvfrom fromlen 4": (WSAEFAULT, "WSPRecvFrom", lambda k: (
        _udp_pending(k), [bytearray(8)], 1, Ref(0), Ref(0), Ref(None), Ref(4), None, None, None)),
    "send MSG_PEEK": (WSAEOPNOTSUPP, "WSPSend", lambda k: (k.pair()[0], [b"x"], 1, Ref(0), MSG_PEEK,
                                                           None, None, None)),
    "send count None": (WSAEFAULT, "WSPSend", lambda k: (k.pair()[0], [b"x"], 1, None, 0, None, None, None)),
    "recv count None": (WSAEFAULT, "WSPRecv", lambda k: (_pending(k), [bytearray(8)], 1, None, Ref(0),
                                                          None, None, None)),
    "recv flags None": (WSAEFAULT, "WSPRecv", lambda k: (_pending(k), [bytearray(8)], 1, Ref(0), None,
                                                         None, None, None)),
    "recv read-only buffer": (WSAEFAULT, "WSPRecv", lambda k: (_pending(k), [b"readonly"], 1, Ref(0), Ref(0),
                                                               None, None, None)),
    "ioctl unknown code": (WSAEOPNOTSUPP, "WSPIoctl", lambda k: (k.tcp(), 0x12345678, None, 0, Ref(None), 4, Ref(0),
                                                             None, None, None)),
    "setsockopt unknown option": (WSAENOPROTOOPT, "WSPSetSockOpt", lambda k: (k.tcp(), SOL_SOCKET, 0x7777, 1, 4)),
    "getsockopt unknown option": (WSAENOPROTOOPT, "WSPGetSockOpt",
                                  lambda k: (k.tcp(), SOL_SOCKET, 0x7777, Ref(None), Ref(4))),
    "setsockopt unknown level": (WSAEINVAL, "WSPSetSockOpt", lambda k: (k.tcp(), 0x1234, SO_REUSEADDR, 1, 4)),
    "getsockopt unknown level": (WSAEINVAL, "WSPGetSockOpt",
                                 lambda k: (k.tcp(), 0x1234, SO_REUSEADDR, Ref(None), Ref(4))),
    "setsockopt bytes optlen short": (WSAEFAULT, "WSPSetSockOpt",
                                      lambda k: (k.tcp(), SOL_SOCKET, SO_RCVBUF, struct.pack("<i", 1), 2)),
    "getsockopt buffer optlen short": (WSAEFAULT, "WSPGetSockOpt",
                                       lambda k: (k.tcp(), SOL_SOCKET, SO_RCVBUF, bytearray(4), Ref(2))),
    "getsockopt optlen None": (WSAEFAULT, "WSPGetSockOpt",
                               lambda k: (k.tcp(), SOL_SOCKET, SO_REUSEADDR, Ref(None), None)),
    "socket af 99": (WSAEAFNOSUPPORT, "WSPSocket", lambda k: (99, SOCK_STREAM, 0, None, 0, 0)),
    "socket af host AF_INET6 (10)": (WSAEAFNOSUPPORT, "WSPSocket", lambda k: (10, SOCK_STREAM, 0, None, 0, 0)),
    "socket type raw": (WSAESOCKTNOSUPPORT, "WSPSocket", lambda k: (AF_INET, 3, 0, None, 0, 0)),
    "socket type 99": (WSAESOCKTNOSUPPORT, "WSPSocket", lambda k: (AF_INET, 99, 0, None, 0, 0)),
    "socket protocol 99": (WSAEPROTONOSUPPORT, "WSPSocket", lambda k: (AF_INET, SOCK_STREAM, 99, None, 0, 0)),
    "socket UDP protocol on stream": (WSAEPROTOTYPE, "WSPSocket",
                                      lambda k: (AF_INET, SOCK_STREAM, IPPROTO_UDP, None, 0, 0)),
    "socket TCP protocol on dgram": (WSAEPROTOTYPE, "WSPSocket",
                                     lambda k: (AF_INET, SOCK_DGRAM, IPPROTO_TCP, None, 0, 0)),
    "socket group": (WSAEINVAL, "WSPSocket", lambda k: (AF_INET, SOCK_STREAM, 0, None, 1, 0)),
    "event select closed event": (WSAEINVAL, "WSPEventSelect", lambda k: (k.tcp(), _dead_event(k), FD_READ)),
    "event select socket as event": (WSAEINVAL, "WSPEventSelect", lambda k: (k.tcp(), k.tcp(), FD_READ)),
    "enum events None": (WSAEFAULT, "WSPEnumNetworkEvents", lambda k: (k.tcp(), k.event(), None)),
    "FIONBIO 0 while event-selected": (WSAEINVAL, "WSPIoctl", lambda k: (
        _event_selected(k), FIONBIO, 0, 4, None, 0, Ref(0), None, None, None)),
}


@pytest.mark.parametrize("case", list(STATE_CASES))
def test_wrong_state_and_bad_arguments(provider: Any, kit: Kit, case: str) -> None:
    code, name, build = STATE_CASES[case]
    args = build(kit)
    fails(code, getattr(provider, name), *args)


@pytest.mark.parametrize("error, name, build", [
    (ValueError, "WSPSend", lambda c: (c, [b"x"], 2, Ref(0), 0, None, None, None)),
    (ValueError, "WSPRecv", lambda c: (c, [bytearray(1)], 2, Ref(0), Ref(0), None, None, None)),
    (TypeError, "WSPSend", lambda c: (c, [12345], 1, Ref(0), 0, None, None, None)),
    (TypeError, "WSPListen", lambda c: (c, "5")),
    (TypeError, "WSPShutdown", lambda c: (c, None)),
    (TypeError, "WSPSocket", lambda c: ("2", SOCK_STREAM, 0, None, 0, 0)),
], ids=["send count > buffers", "recv count > buffers", "send int buffer", "listen str", "shutdown None",
        "socket str"])
def test_python_type_and_length_errors(provider: Any, kit: Kit, error: type, name: str,
                                       build: Callable[[int], tuple[Any, ...]]) -> None:
    c, a = kit.pair()
    before = snapshot(kit.table)
    err = Ref(SENTINEL)
    with pytest.raises(error):
        getattr(provider, name)(*build(c), err)
    assert err.value == SENTINEL
    assert snapshot(kit.table) == before


@needs_proc_fd
def test_table_full_wsaenobufs_leaves_no_host_socket(core: Any) -> None:
    upcalls = ws2core.UpcallTable(core.HandleTable(max_handles=3))
    p = HostSocketProvider()
    assert p.WSPStartup(upcalls) == 0
    made = [ok(p.WSPSocket, AF_INET, SOCK_STREAM, 0, None, 0, 0) for _ in range(3)]
    for type_ in (SOCK_STREAM, SOCK_DGRAM):
        fds = open_fds()
        fails(WSAENOBUFS, p.WSPSocket, AF_INET, type_, 0, None, 0, 0)
        assert open_fds() == fds, "the host socket of the failed WSPSocket is still open"
    for s in made:
        ok(p.WSPCloseSocket, s)
    ok(p.WSPCleanup)
    assert len(upcalls.table) == 0


# --- sockaddr forms -------------------------------------------------------------------------


def test_sockaddr_in_bytes(provider: Any, kit: Kit) -> None:
    p = provider
    listener = kit.tcp()
    ok(p.WSPBind, listener, sockaddr_in("127.0.0.1", 0), 16)
    buf, length = bytearray(16), Ref(16)
    ok(p.WSPGetSockName, listener, buf, length)
    (port,) = struct.unpack(">H", buf[2:4])
    assert port > 0 and length.value == 16
    assert bytes(buf) == sockaddr_in("127.0.0.1", port)
    assert sockname(p, listener) == ("127.0.0.1", port)
    big, length = bytearray(b"\xee" * 24), Ref(24)  # a larger buffer: 16 bytes written, length 16
    ok(p.WSPGetSockName, listener, big, length)
    assert (bytes(big), length.value) == (sockaddr_in("127.0.0.1", port) + b"\xee" * 8, 16)
    ok(p.WSPListen, listener, 4)
    c = kit.tcp()
    ok(p.WSPConnect, c, memoryview(sockaddr_in("127.0.0.1", port)), 16, None, None, None, None)
    peer = bytearray(16)
    ok(p.WSPGetPeerName, c, peer, Ref(16))
    assert bytes(peer) == sockaddr_in("127.0.0.1", port)
    wait_readable(p, listener)
    addr, addrlen = bytearray(16), Ref(16)
    kit.add(ok(p.WSPAccept, listener, addr, addrlen, None, 0))
    assert (bytes(addr), addrlen.value) == (sockaddr_in("127.0.0.1", sockname(p, c)[1]), 16)


def test_sockaddr_any_address_and_out_forms(provider: Any, kit: Kit) -> None:
    p = provider
    s = kit.tcp()
    ok(p.WSPBind, s, ("", 0), 16)
    name = sockname(p, s)
    assert name[0] == "0.0.0.0" and name[1] > 0
    out = Ref(None)
    ok(p.WSPGetSockName, s, out, Ref(None))  # a length Ref holding None is allowed
    assert out.value == name


@pytest.mark.parametrize("name", ["WSPGetSockName", "WSPGetPeerName"])
def test_name_out_parameters_may_not_be_none(provider: Any, kit: Kit, name: str) -> None:
    """getsockname and getpeername need both pointers (WSAEFAULT on Windows); only
    WSPAccept's and WSPRecvFrom's out-address and length may be NULL."""
    c, _ = kit.pair()
    fails(WSAEFAULT, getattr(provider, name), c, None, None)
    fails(WSAEFAULT, getattr(provider, name), c, Ref(None), None)
    fails(WSAEFAULT, getattr(provider, name), c, None, Ref(16))


@needs_ipv6
def test_sockaddr_in6_forms(provider: Any, kit: Kit) -> None:
    p = provider
    listener = kit.tcp(AF_INET6)
    ok(p.WSPBind, listener, ("::1", 0, 0, 0), 28)
    name, length = Ref(None), Ref(28)
    ok(p.WSPGetSockName, listener, name, length)
    port = name.value[1]
    assert (name.value, length.value) == (("::1", port, 0, 0), 28)
    raw, length = bytearray(28), Ref(28)
    ok(p.WSPGetSockName, listener, raw, length)
    assert (bytes(raw), length.value) == (sockaddr_in6("::1", port), 28)
    fails(WSAEFAULT, p.WSPGetSockName, listener, Ref(None), Ref(16))  # 16 < 28
    ok(p.WSPListen, listener, 4)
    c = kit.tcp(AF_INET6)
    ok(p.WSPConnect, c, ("::1", port), 28, None, None, None, None)
    peer = Ref(None)
    ok(p.WSPGetPeerName, c, peer, Ref(28))
    assert peer.value == ("::1", port, 0, 0)
    kit.accept(listener)
    u = kit.udp(AF_INET6)
    ok(p.WSPBind, u, sockaddr_in6("::1", 0), 28)
    assert sockname(p, u)[0] == "::1"
    fails(WSAEFAULT, p.WSPBind, kit.udp(AF_INET6), sockaddr_in6("::1", 0), 16)
    fails(WSAEFAULT, p.WSPBind, kit.udp(AF_INET6), ("127.0.0.1", 0), 28)  # the other family
    any6 = kit.tcp(AF_INET6)
    ok(p.WSPBind, any6, ("", 0), 28)
    assert sockname(p, any6)[0] == "::" and sockname(p, any6)[2:] == (0, 0)


# --- socket options -------------------------------------------------------------------------

ROUND_TRIPS = [
    pytest.param(SOL_SOCKET, SO_REUSEADDR, AF_INET, SOCK_STREAM, [1, 0], id="SO_REUSEADDR"),
    pytest.param(SOL_SOCKET, SO_KEEPALIVE, AF_INET, SOCK_STREAM, [1, 0], id="SO_KEEPALIVE"),
    pytest.param(SOL_SOCKET, SO_BROADCAST, AF_INET, SOCK_DGRAM, [1, 0], id="SO_BROADCAST"),
    pytest.param(SOL_SOCKET, SO_OOBINLINE, AF_INET, SOCK_STREAM, [1, 0], id="SO_OOBINLINE"),
    pytest.param(SOL_SOCKET, SO_DONTROUTE, AF_INET, SOCK_STREAM, [1, 0], id="SO_DONTROUTE"),
    pytest.param(IPPROTO_TCP, TCP_NODELAY, AF_INET, SOCK_STREAM, [1, 0], id="TCP_NODELAY"),
    pytest.param(SOL_SOCKET, SO_LINGER, AF_INET, SOCK_STREAM, [(1, 5), (1, 0), (0, 0)], id="SO_LINGER"),
    pytest.param(IPPROTO_IPV6, IPV6_V6ONLY, AF_INET6, SOCK_STREAM, [1, 0], id="IPV6_V6ONLY",
                 marks=needs_ipv6),
]


@pytest.mark.parametrize("level, name, af, type_, values", ROUND_TRIPS)
def test_sockopt_round_trip(provider: Any, kit: Kit, level: int, name: int, af: int, type_: int,
                            values: list[Any]) -> None:
    s = kit.socket(af, type_)
    for value in values:
        ok(provider.WSPSetSockOpt, s, level, name, value, 4)
        assert getopt(provider, s, level, name) == value


def test_sockopt_windows_byte_layouts(provider: Any, kit: Kit) -> None:
    p = provider
    s = kit.tcp()
    ok(p.WSPSetSockOpt, s, SOL_SOCKET, SO_REUSEADDR, struct.pack("<i", 1), 4)
    buf, length = bytearray(8), Ref(8)
    ok(p.WSPGetSockOpt, s, SOL_SOCKET, SO_REUSEADDR, buf, length)
    assert (struct.unpack_from("<i", buf)[0], length.value) == (1, 4)
    ok(p.WSPSetSockOpt, s, SOL_SOCKET, SO_LINGER, struct.pack("<HH", 1, 7), 4)
    buf, length = bytearray(4), Ref(4)
    ok(p.WSPGetSockOpt, s, SOL_SOCKET, SO_LINGER, buf, length)
    assert (struct.unpack("<HH", buf), length.value) == ((1, 7), 4)
    assert getopt(p, s, SOL_SOCKET, SO_LINGER) == (1, 7)


def test_sockopt_type_acceptconn_error(provider: Any, kit: Kit) -> None:
    p = provider
    listener, port = kit.listener()
    c = kit.tcp()
    kit.connect(c, AF_INET, port)
    a = kit.accept(listener)
    u = kit.udp()
    assert [getopt(p, s, SOL_SOCKET, SO_TYPE) for s in (listener, c, u)] == [SOCK_STREAM, SOCK_STREAM, SOCK_DGRAM]
    assert [getopt(p, s, SOL_SOCKET, SO_ACCEPTCONN) for s in (listener, c, a, kit.tcp())] == [1, 0, 0, 0]
    assert getopt(p, c, SOL_SOCKET, SO_ERROR) == 0


@pytest.mark.parametrize("name, host_name", [(SO_RCVBUF, socket.SO_RCVBUF), (SO_SNDBUF, socket.SO_SNDBUF)],
                         ids=["SO_RCVBUF", "SO_SNDBUF"])
def test_sockopt_buffer_sizes_reach_the_host(provider: Any, kit: Kit, name: int, host_name: int) -> None:
    """The host gets the size (Linux reports it doubled); getsockopt reads back what was set,
    as Windows does."""
    s = kit.tcp()
    ok(provider.WSPSetSockOpt, s, SOL_SOCKET, name, 32768, 4)
    assert host(provider, s).getsockopt(socket.SOL_SOCKET, host_name) >= 32768
    assert getopt(provider, s, SOL_SOCKET, name) == 32768
