"""The network policy in HostSocketProvider and Ws2_32, on both cores (DESIGN.md section 4).

Every connect, bind and datagram destination asks the policy before any host call.  Tests
that name an address off loopback (the documentation ranges 192.0.2.0/24, 198.51.100.0/24,
2001:db8::/32 only) are marked ``isolated_network``: they run in a network namespace with only
loopback up, where a leak could reach nothing, and the ``host_calls`` audit record shows that
a refused attempt made no host call at all and that a sinkhole only ever touched loopback.

- Refusals, as a machine without the route says them: a blocking connect WSAENETUNREACH (or
  the policy's refuse_error, or a rule's error), IPv4 and IPv6 and through an IPv4-mapped
  address; a non-blocking one WSAEWOULDBLOCK, then exceptfds and SO_ERROR in WSPSelect /
  WSPGetSockOpt, or FD_CONNECT with the code; sendto WSAENETUNREACH; a bind to an outside
  address WSAEADDRNOTAVAIL; the socket usable afterwards.  Each on record.
- Confinement without outside addresses: a wildcard bind binds the host socket to 127.0.0.1
  / ::1 while getsockname shows the wildcard (the real address once connected); an unbound
  UDP socket's first sendto binds it to loopback, not to every interface.
- Loopback traffic allowed and counted: a connection's record counts exactly the bytes
  sent and received; datagrams have one record per (socket, destination); a connected UDP
  socket's connect is decided as "connect" of "udp".
- Sinkhole: a TCP connection (getpeername shows the address asked for, the sink gets exactly
  the request, the canned answer comes back) and a datagram (recvfrom shows the address the
  program sent to), with redirected records and exact byte counts.
- ``Ws2_32``: loopback only by default, ``Ws2_32(policy=...)``, and the ValueError when its
  provider has another policy.

The provider fixture takes its policy from ``make_policy`` (provider_support.py); the Speakeasy
adapter's ``install(policy=...)`` is tested in test_adapter_unit.py, beside its stand-ins.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

import ws2core
from ws2core import (
    AF_INET,
    AF_INET6,
    FD_CONNECT,
    FD_CONNECT_BIT,
    FD_WRITE,
    SO_ERROR,
    SOCK_DGRAM,
    SOCK_STREAM,
    SOCKET_ERROR,
    SOL_SOCKET,
    WSAEADDRNOTAVAIL,
    WSAECONNREFUSED,
    WSAEHOSTUNREACH,
    WSAEINVAL,
    WSAENETUNREACH,
    WSAENOTCONN,
    WSAETIMEDOUT,
    WSAEWOULDBLOCK,
    Ref,
)
from ws2core.policy import Attempt, NetworkPolicy, Rule
from ws2core.provider import TIMEVAL, HostSocketProvider
from ws2core.sink import Sink
from ws2core.ws2_32 import Ws2_32

from provider_support import (  # noqa: F401  (provider and kit are fixtures)
    FAMILIES,
    LOOPBACK,
    SOCKADDR_LEN,
    WAIT,
    Kit,
    address,
    fails,
    gather,
    getopt,
    host,
    kit,
    needs_ipv6,
    nonblocking,
    ok,
    provider,
    recv_exact,
    send_all,
    sockaddr_in,
    sockname,
    wait_readable,
)

OUTSIDE = {AF_INET: "192.0.2.1", AF_INET6: "2001:db8::1"}   # documentation: nobody's
OTHER = "198.51.100.7"
WILDCARD = {AF_INET: "0.0.0.0", AF_INET6: "::"}
isolated = pytest.mark.isolated_network


@pytest.fixture
def make_policy(request: pytest.FixtureRequest) -> Callable[[], NetworkPolicy]:
    """How the ``provider`` fixture makes its policy: loopback only unless a test asks for
    another through ``@pytest.mark.parametrize("make_policy", [...], indirect=True)``."""
    return getattr(request, "param", NetworkPolicy.loopback_only)


pytestmark = pytest.mark.usefixtures("make_policy")


def sinkhole_with(**kwargs: Any) -> Any:
    """A parameter of ``make_policy``: a sinkhole with these answers and banners."""
    return pytest.param(lambda: NetworkPolicy.sinkhole(**kwargs), id="sinkhole")


def to(af: int, host: str, port: int) -> tuple[Any, ...]:
    return (host, port) if af == AF_INET else (host, port, 0, 0)


def connect_args(af: int, host: str, port: int) -> tuple[Any, ...]:
    return (to(af, host, port), SOCKADDR_LEN[af], None, None, None, None)


def peername(p: Any, s: int) -> tuple[Any, ...]:
    name, length = Ref(None), Ref(64)
    ok(p.WSPGetPeerName, s, name, length)
    return name.value  # type: ignore[no-any-return]


def sendto(p: Any, s: int, data: bytes, af: int, host: str, port: int) -> None:
    sent = Ref(0)
    ok(p.WSPSendTo, s, [data], 1, sent, 0, to(af, host, port), SOCKADDR_LEN[af], None, None, None)
    assert sent.value == len(data)


def recvfrom(p: Any, s: int, size: int = 2048) -> tuple[bytes, tuple[Any, ...]]:
    wait_readable(p, s)
    buf, got, flags, source = bytearray(size), Ref(0), Ref(0), Ref(None)
    ok(p.WSPRecvFrom, s, [buf], 1, got, flags, source, Ref(64), None, None, None)
    return bytes(buf[:got.value]), source.value


def records(p: Any, kind: str | None = None) -> list[Attempt]:
    return [a for a in p.policy.log if kind is None or a.kind == kind]


def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"not within {WAIT} s: {what}"
        time.sleep(0.005)


# --- refusals (outside addresses: in a namespace) -------------------------------------------


@isolated
@pytest.mark.parametrize("af", FAMILIES)
def test_blocking_connect_refused_without_a_host_call(provider: Any, kit: Kit, af: int,
                                                     host_calls: Any) -> None:
    p = provider
    s = kit.tcp(af)
    fails(WSAENETUNREACH, p.WSPConnect, s, *connect_args(af, OUTSIDE[af], 80))
    if af == AF_INET6:  # the same address in IPv4-mapped form: no way around the rule
        fails(WSAENETUNREACH, p.WSPConnect, s, *connect_args(af, f"::ffff:{OUTSIDE[AF_INET]}", 80))
    assert host_calls.events == []
    refused = records(p)
    assert [(a.kind, a.protocol, a.address[1], a.verdict, a.error) for a in refused] == [
        ("connect", "tcp", 80, "refused", WSAENETUNREACH)] * len(refused)
    assert refused[0].address == (OUTSIDE[af], 80) and refused[0].redirected_to is None
    # Nothing changed for the socket: not connected, and it may still connect on loopback.
    fails(WSAENOTCONN, p.WSPGetPeerName, s, Ref(None), Ref(64))
    listener, port = kit.listener(af)
    kit.connect(s, af, port)
    assert peername(p, s) == address(af, port)
    assert host_calls.non_loopback() == []


@isolated
@pytest.mark.parametrize("make_policy, code", [
    pytest.param(lambda: NetworkPolicy.loopback_only(refuse_error=WSAECONNREFUSED),
                 WSAECONNREFUSED, id="refuse_error"),
    pytest.param(lambda: NetworkPolicy([Rule("refuse", ports=80, error=WSAETIMEDOUT),
                                        Rule("allow", network="127.0.0.0/8")],
                                       refuse_error=WSAEHOSTUNREACH),
                 WSAETIMEDOUT, id="rule"),
], indirect=["make_policy"])
def test_the_policys_refusal_code_is_what_connect_says(provider: Any, kit: Kit, code: int,
                                                      host_calls: Any) -> None:
    p = provider
    fails(code, p.WSPConnect, kit.tcp(), *connect_args(AF_INET, OUTSIDE[AF_INET], 80))
    late = kit.tcp()
    nonblocking(p, late)
    fails(WSAEWOULDBLOCK, p.WSPConnect, late, *connect_args(AF_INET, OUTSIDE[AF_INET], 80))
    assert getopt(p, late, SOL_SOCKET, SO_ERROR) == code
    assert host_calls.events == []
    assert [a.error for a in records(p)] == [code, code]


@isolated
@pytest.mark.parametrize("af", FAMILIES)
def test_nonblocking_connect_refused_in_exceptfds_and_so_error(provider: Any, kit: Kit,
                                                              af: int, host_calls: Any) -> None:
    p = provider
    s = kit.tcp(af)
    nonblocking(p, s)
    fails(WSAEWOULDBLOCK, p.WSPConnect, s, *connect_args(af, OUTSIDE[af], 80))
    writable, failed = ws2core.FdSet([s]), ws2core.FdSet([s])
    assert ok(p.WSPSelect, 0, None, writable, failed, TIMEVAL(tv_sec=5, tv_usec=0)) == 1
    assert (list(writable), list(failed)) == ([], [s])
    assert getopt(p, s, SOL_SOCKET, SO_ERROR) == WSAENETUNREACH
    assert getopt(p, s, SOL_SOCKET, SO_ERROR) == 0      # read once, as any failed connect
    assert host_calls.events == []
    assert [(a.kind, a.verdict, a.error) for a in records(p)] == [
        ("connect", "refused", WSAENETUNREACH)]


@isolated
def test_nonblocking_connect_refused_as_fd_connect(provider: Any, kit: Kit,
                                                  host_calls: Any) -> None:
    p = provider
    s = kit.tcp()
    e = kit.event()
    ok(p.WSPEventSelect, s, e, FD_CONNECT | FD_WRITE)   # makes the socket non-blocking
    fails(WSAEWOULDBLOCK, p.WSPConnect, s, *connect_args(AF_INET, OUTSIDE[AF_INET], 80))
    mask, codes = gather(p, s, e, FD_CONNECT | FD_WRITE, timeout=0.15)
    assert (mask, codes[FD_CONNECT_BIT]) == (FD_CONNECT, WSAENETUNREACH)  # never writable
    assert host_calls.events == []


@isolated
@pytest.mark.parametrize("af", FAMILIES)
def test_sendto_refused_without_a_host_call(provider: Any, kit: Kit, af: int,
                                           host_calls: Any) -> None:
    p = provider
    u = kit.udp(af)
    for _ in range(2):   # each datagram refused; the record keeps one per destination
        fails(WSAENETUNREACH, p.WSPSendTo, u, [b"x"], 1, Ref(0), 0, to(af, OUTSIDE[af], 53),
              SOCKADDR_LEN[af], None, None, None)
    assert host_calls.events == []      # not even the implicit bind: nothing was sent
    assert [(a.kind, a.protocol, a.address, a.verdict) for a in records(p)] == [
        ("sendto", "udp", (OUTSIDE[af], 53), "refused")]
    fails(WSAEINVAL, p.WSPGetSockName, u, Ref(None), Ref(64))    # still unbound
    # A connected UDP socket is decided as a connect of udp.
    fails(WSAENETUNREACH, p.WSPConnect, u, *connect_args(af, OUTSIDE[af], 53))
    assert (records(p)[-1].kind, records(p)[-1].protocol) == ("connect", "udp")
    assert host_calls.events == []


@isolated
@pytest.mark.parametrize("af", FAMILIES)
@pytest.mark.parametrize("type_", [SOCK_STREAM, SOCK_DGRAM], ids=["tcp", "udp"])
def test_bind_to_an_outside_address_refused(provider: Any, kit: Kit, af: int, type_: int,
                                           host_calls: Any) -> None:
    p = provider
    s = kit.socket(af, type_)
    fails(WSAEADDRNOTAVAIL, p.WSPBind, s, to(af, OUTSIDE[af], 8080), SOCKADDR_LEN[af])
    assert host_calls.events == []
    (attempt,) = records(p)
    assert (attempt.kind, attempt.address, attempt.verdict, attempt.error) == (
        "bind", (OUTSIDE[af], 8080), "refused", WSAEADDRNOTAVAIL)
    ok(p.WSPBind, s, to(af, LOOPBACK[af], 0), SOCKADDR_LEN[af])   # still unbound before
    assert host_calls.non_loopback() == []


# --- confinement and loopback (no outside address) ------------------------------------------


@pytest.mark.parametrize("af", FAMILIES)
@pytest.mark.parametrize("type_", [SOCK_STREAM, SOCK_DGRAM], ids=["tcp", "udp"])
def test_wildcard_bind_is_loopback_at_the_host(provider: Any, kit: Kit, af: int,
                                               type_: int) -> None:
    p = provider
    s = kit.socket(af, type_)
    ok(p.WSPBind, s, to(af, WILDCARD[af], 0), SOCKADDR_LEN[af])
    port = host(p, s).getsockname()[1]
    assert host(p, s).getsockname()[0] == LOOPBACK[af]      # nobody outside can reach it
    assert sockname(p, s) == to(af, WILDCARD[af], port)     # the program sees the wildcard
    (attempt,) = records(p)
    assert (attempt.kind, attempt.address, attempt.verdict, attempt.redirected_to) == (
        "bind", (WILDCARD[af], 0), "redirected", (LOOPBACK[af], 0))


def test_wildcard_bind_of_windows_bytes_and_a_fixed_port(provider: Any, kit: Kit) -> None:
    p = provider
    probe = kit.tcp()
    ok(p.WSPBind, probe, (LOOPBACK[AF_INET], 0), 16)
    port = sockname(p, probe)[1]
    kit.close(probe)     # a port free a moment ago: the wildcard bind keeps it
    s = kit.tcp()
    ok(p.WSPBind, s, sockaddr_in("0.0.0.0", port), 16)
    assert host(p, s).getsockname() == ("127.0.0.1", port)
    name = bytearray(16)
    ok(p.WSPGetSockName, s, name, Ref(16))
    assert bytes(name) == sockaddr_in("0.0.0.0", port)


@pytest.mark.parametrize("af", FAMILIES)
def test_wildcard_bound_sockets_once_connected_show_their_address(provider: Any, kit: Kit,
                                                                  af: int) -> None:
    p = provider
    listener = kit.tcp(af)
    ok(p.WSPBind, listener, to(af, WILDCARD[af], 0), SOCKADDR_LEN[af])
    ok(p.WSPListen, listener, 4)
    port = sockname(p, listener)[1]
    assert sockname(p, listener) == to(af, WILDCARD[af], port)     # listening: still so
    client = kit.tcp(af)
    ok(p.WSPBind, client, to(af, WILDCARD[af], 0), SOCKADDR_LEN[af])
    kit.connect(client, af, port)          # a wildcard listener is reached on loopback
    accepted = kit.accept(listener)
    assert sockname(p, client) == address(af, sockname(p, client)[1])   # the real one now
    assert sockname(p, accepted) == address(af, port)
    assert peername(p, accepted) == sockname(p, client)


@pytest.mark.parametrize("af", FAMILIES)
def test_first_sendto_binds_an_unbound_udp_socket_to_loopback(provider: Any, kit: Kit,
                                                              af: int) -> None:
    p = provider
    receiver, port = kit.bound(af, SOCK_DGRAM)
    u = kit.udp(af)
    sendto(p, u, b"ping", af, LOOPBACK[af], port)
    assert host(p, u).getsockname()[0] == LOOPBACK[af]    # not every interface
    own_port = host(p, u).getsockname()[1]
    assert sockname(p, u) == to(af, WILDCARD[af], own_port)
    assert recvfrom(p, receiver) == (b"ping", address(af, own_port))
    # The implicit bind is the provider's step, not the program's: not on record.
    assert [a.kind for a in records(p)] == ["bind", "sendto"]


@pytest.mark.parametrize("af", FAMILIES)
def test_loopback_connection_allowed_and_its_bytes_counted(provider: Any, kit: Kit,
                                                           af: int) -> None:
    p = provider
    client, accepted = kit.pair(af)
    port = peername(p, client)[1]
    request, answer = b"q" * 70000, b"a" * 1234
    send_all(p, client, request, nbufs=3)
    assert recv_exact(p, accepted, len(request)) == request
    send_all(p, accepted, answer)
    assert recv_exact(p, client, len(answer)) == answer
    bind, connect = records(p)
    assert (bind.kind, bind.verdict, bind.address) == ("bind", "allowed", (LOOPBACK[af], 0))
    assert (connect.kind, connect.protocol, connect.address, connect.verdict) == (
        "connect", "tcp", (LOOPBACK[af], port), "allowed")
    # Exact, and once: the accepted side has no record of its own to count the same bytes.
    assert (connect.bytes_sent, connect.bytes_received) == (len(request), len(answer))


def test_datagrams_one_record_per_destination_with_counts(provider: Any, kit: Kit) -> None:
    p = provider
    a, port_a = kit.bound(AF_INET, SOCK_DGRAM)
    b, port_b = kit.bound(AF_INET, SOCK_DGRAM)
    u = kit.udp()
    for size in (10, 20, 30):
        sendto(p, u, b"x" * size, AF_INET, "127.0.0.1", port_a)
    sendto(p, u, b"y" * 5, AF_INET, "127.0.0.1", port_b)
    for _ in range(3):
        recvfrom(p, a)
    data, source = recvfrom(p, b)
    sendto(p, a, b"reply", AF_INET, *source)     # A answers u
    sendto(p, b, b"r", AF_INET, *source)
    assert sorted([recvfrom(p, u), recvfrom(p, u)]) == [
        (b"r", ("127.0.0.1", port_b)), (b"reply", ("127.0.0.1", port_a))]
    # One record per (socket, destination), not per datagram, counting both ways.
    to_a = [r for r in records(p, "sendto") if r.address == ("127.0.0.1", port_a)]
    to_b = [r for r in records(p, "sendto") if r.address == ("127.0.0.1", port_b)]
    assert [(r.bytes_sent, r.bytes_received) for r in to_a + to_b] == [(60, 5), (5, 1)]


def test_connected_udp_is_a_connect_of_udp_and_counts(provider: Any, kit: Kit) -> None:
    p = provider
    peer, port = kit.bound(AF_INET, SOCK_DGRAM)
    u = kit.udp()
    kit.connect(u, AF_INET, port)
    sent = Ref(0)
    ok(p.WSPSend, u, [b"hello"], 1, sent, 0, None, None, None)
    (connect,) = records(p, "connect")
    assert (connect.protocol, connect.verdict, connect.bytes_sent) == ("udp", "allowed", 5)
    assert records(p, "sendto") == []


# --- the sinkhole (outside addresses: in a namespace) ---------------------------------------

ANSWER = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"
REQUEST = b"GET / HTTP/1.0\r\nHost: www.example.test\r\n\r\n"


@isolated
@pytest.mark.parametrize("make_policy", [sinkhole_with(answers={80: ANSWER})], indirect=True)
@pytest.mark.parametrize("af", FAMILIES)
def test_sinkhole_carries_a_connection_to_the_sink(provider: Any, kit: Kit, af: int,
                                                   host_calls: Any) -> None:
    p = provider
    s = kit.tcp(af)
    ok(p.WSPConnect, s, *connect_args(af, OUTSIDE[af], 80))
    assert peername(p, s) == to(af, OUTSIDE[af], 80)          # what the program asked for
    send_all(p, s, REQUEST)
    assert recv_exact(p, s, len(ANSWER)) == ANSWER
    sink = p.policy.sink
    until(lambda: sink.received("tcp", (OUTSIDE[af], 80)) == REQUEST, "the request at the sink")
    (attempt,) = records(p)
    assert (attempt.kind, attempt.address, attempt.verdict) == (
        "connect", (OUTSIDE[af], 80), "redirected")
    assert attempt.redirected_to == (LOOPBACK[af], host(p, s).getpeername()[1])
    assert (attempt.bytes_sent, attempt.bytes_received) == (len(REQUEST), len(ANSWER))
    # The host only ever saw loopback: the sink's listener and the redirected connect.
    assert host_calls.non_loopback() == []
    assert [c.address[:2] for c in host_calls.of("connect")] == [attempt.redirected_to]


@isolated
@pytest.mark.parametrize("make_policy", [
    sinkhole_with(answers={53: b"\x00\x01answer"}),
    # A policy of one's own that redirects everything: the implicit bind goes to loopback too.
    pytest.param(lambda: NetworkPolicy(default="redirect",
                                       sink=Sink(answers={53: b"\x00\x01answer"})),
                 id="default-redirect"),
], indirect=True)
@pytest.mark.parametrize("af", FAMILIES)
def test_sinkhole_carries_a_datagram_and_its_reply(provider: Any, kit: Kit, af: int,
                                                   host_calls: Any) -> None:
    p = provider
    asked = OTHER if af == AF_INET else "2001:db8::53"
    u = kit.udp(af)
    sendto(p, u, b"\x00\x01query", af, asked, 53)
    assert recvfrom(p, u) == (b"\x00\x01answer", to(af, asked, 53))   # from the address asked
    sendto(p, u, b"\x00\x01again", af, asked, 53)
    assert recvfrom(p, u) == (b"\x00\x01answer", to(af, asked, 53))
    assert host(p, u).getsockname()[0] == LOOPBACK[af]             # the implicit bind too
    (attempt,) = records(p)
    assert (attempt.kind, attempt.protocol, attempt.address, attempt.verdict) == (
        "sendto", "udp", (asked, 53), "redirected")
    assert (attempt.bytes_sent, attempt.bytes_received) == (14, 16)
    until(lambda: len(p.policy.sink.arrivals) == 2, "both datagrams at the sink")
    assert [(a.protocol, a.address, a.data) for a in p.policy.sink.arrivals] == [
        ("udp", (asked, 53), b"\x00\x01query"), ("udp", (asked, 53), b"\x00\x01again")]
    assert host_calls.non_loopback() == []


@isolated
@pytest.mark.parametrize("make_policy", [
    pytest.param(lambda: NetworkPolicy(default="redirect", sink=Sink(
        answers={53: b"reply"}, max_endpoints=1)), id="one-endpoint-sink"),
], indirect=True)
def test_datagrams_outlive_their_sink_endpoint(provider: Any, kit: Kit, host_calls: Any) -> None:
    """A sink keeps a bounded number of endpoints: once a destination's is closed for
    another's, the next datagram to it gets a new one, arrives, is counted on the same
    record, and its reply still shows the address asked for."""
    p = provider
    first, second = ("192.0.2.53", 53), ("198.51.100.53", 53)
    u = kit.udp(AF_INET)
    for destination in (first, second, first):            # the second evicts the first
        sendto(p, u, b"ask " + destination[0].encode(), AF_INET, *destination)
        assert recvfrom(p, u) == (b"reply", destination)
    until(lambda: len(p.policy.sink.arrivals) == 3, "three datagrams at the sink")
    assert [a.address for a in p.policy.sink.arrivals] == [first, second, first]
    assert [(a.address, a.bytes_sent, a.bytes_received) for a in records(p)] == [
        (first, 2 * 14, 2 * 5), (second, 17, 5)]
    assert host_calls.non_loopback() == []


# --- Ws2_32 ---------------------------------------------------------------------------------


@isolated
def test_ws2_32_refuses_by_default(upcalls: ws2core.UpcallTable, host_calls: Any) -> None:
    with Ws2_32(upcalls) as ws:
        assert ws.policy is ws.provider.policy and ws.policy.description == "loopback only"
        assert ws.WSAStartup(0x0202, Ref()) == 0
        s = ws.socket(AF_INET, SOCK_STREAM, 0)
        assert ws.connect(s, (OUTSIDE[AF_INET], 443), 16) == SOCKET_ERROR
        assert ws.WSAGetLastError() == WSAENETUNREACH
        assert ws.bind(s, (OUTSIDE[AF_INET], 0), 16) == SOCKET_ERROR
        assert ws.WSAGetLastError() == WSAEADDRNOTAVAIL
        assert host_calls.events == []
        assert [(a.kind, a.verdict) for a in ws.policy.log] == [
            ("connect", "refused"), ("bind", "refused")]
        assert ws.closesocket(s) == 0 and ws.WSACleanup() == 0


@isolated
def test_ws2_32_with_a_policy(upcalls: ws2core.UpcallTable, host_calls: Any) -> None:
    policy = NetworkPolicy.loopback_only(refuse_error=WSAEHOSTUNREACH)
    with Ws2_32(upcalls, policy=policy) as ws:
        assert ws.policy is policy and ws.provider.policy is policy
        assert ws.WSAStartup(0x0202, Ref()) == 0
        s = ws.socket(AF_INET, SOCK_STREAM, 0)
        assert ws.connect(s, (OUTSIDE[AF_INET], 443), 16) == SOCKET_ERROR
        assert ws.WSAGetLastError() == WSAEHOSTUNREACH
        assert ws.closesocket(s) == 0 and ws.WSACleanup() == 0
    assert host_calls.events == [] and len(policy.log) == 1


def test_ws2_32_policy_and_provider_must_agree(upcalls: ws2core.UpcallTable) -> None:
    mine, other = NetworkPolicy.loopback_only(), NetworkPolicy.allow_all()
    with HostSocketProvider(policy=mine) as provider_:
        with pytest.raises(ValueError, match="policy"):
            Ws2_32(upcalls, provider=provider_, policy=other)
        with Ws2_32(upcalls, provider=provider_, policy=mine) as ws:   # the same: fine
            assert ws.policy is mine
        with Ws2_32(upcalls, provider=provider_) as ws:               # none: the provider's
            assert ws.policy is mine
    with pytest.raises(TypeError, match="NetworkPolicy"):
        HostSocketProvider(policy="loopback")  # type: ignore[arg-type]
    assert HostSocketProvider().policy.description == "loopback only"
