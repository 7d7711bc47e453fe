"""ws2core.sink.Sink over loopback: what a sinkhole policy carries traffic to.

Plain host sockets play the program's side, so these tests need no provider (and no
namespace: the sink only ever listens on loopback; the addresses "asked for" are labels).

- TCP: an endpoint per asked destination (the same one again for the same destination), the
  bytes recorded under the destination asked for, a banner sent at accept, the canned
  answer sent once, after the first data; ``closed`` when the client leaves.
- UDP: each datagram recorded, the answer sent back from the same endpoint address.
- ``keep``: ``size`` counts every byte, ``data`` keeps the first ``keep``.
- ``max_endpoints``: the least recently used endpoint is closed (a connection made through it
  goes on); asking for its destination again makes a new one.
- ``close()``: idempotent, joins the serving thread, ends open connections; no thread before
  the first endpoint, none left after.
"""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from ws2core.sink import Arrival, Sink

from provider_support import IPV6, WAIT

ASKED = ("192.0.2.10", 80)     # labels: documentation addresses, never contacted
OTHER = ("198.51.100.20", 80)
# How long nothing must arrive: the sink answers over loopback in well under a millisecond, and
# the test budget is tight (provider_support's QUIET_MS is 0.3 s).
QUIET = 0.1


def sink_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "ws2core-sink" and t.is_alive()]


@pytest.fixture
def sinks() -> Iterator[Callable[..., Sink]]:
    """Makes sinks; each is closed after the test, and no sink thread may be left."""
    made: list[Sink] = []
    before = set(sink_threads())

    def make(*args: object, **kwargs: object) -> Sink:
        sink = Sink(*args, **kwargs)  # type: ignore[arg-type]
        made.append(sink)
        return sink

    yield make
    for sink in made:
        sink.close()
    assert set(sink_threads()) <= before, "a sink thread outlived close()"


def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"not within {WAIT} s: {what}"
        time.sleep(0.005)


def connect(address: tuple[str, int]) -> socket.socket:
    client = socket.socket(socket.AF_INET6 if ":" in address[0] else socket.AF_INET)
    client.settimeout(WAIT)
    try:
        client.connect(address)
    except BaseException:
        client.close()
        raise
    return client


def receive(client: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = client.recv(count - len(data))
        assert chunk, f"the sink closed after {data!r}"
        data += chunk
    return data


def quiet(client: socket.socket) -> None:
    """Nothing arrives on ``client`` within the quiet window."""
    readable, _, _ = select.select([client], [], [], QUIET)
    assert not readable, f"unexpected: {client.recv(100)!r}"


def arrival(sink: Sink, protocol: str, asked: tuple[str, int], size: int) -> Arrival:
    """The one arrival for ``asked``, once ``size`` bytes of it are in."""
    until(lambda: sum(a.size for a in sink.arrivals
                      if a.protocol == protocol and a.address == asked) >= size,
          f"{size} bytes for {asked}")
    (found,) = [a for a in sink.arrivals if a.protocol == protocol and a.address == asked]
    return found


def test_tcp_bytes_recorded_per_asked_destination(sinks: Callable[..., Sink]) -> None:
    sink = sinks()
    first = sink.endpoint("tcp", False, ASKED)
    assert first[0] == "127.0.0.1" and first[1] > 0
    assert sink.endpoint("tcp", False, ASKED) == first        # one endpoint per destination
    second = sink.endpoint("tcp", False, OTHER)
    assert second != first
    with connect(first) as a, connect(second) as b:
        a.sendall(b"to the first ")
        b.sendall(b"to the second")
        a.sendall(b"again")
        assert arrival(sink, "tcp", ASKED, 18).data == b"to the first again"
        assert arrival(sink, "tcp", OTHER, 13).data == b"to the second"
    assert sink.received("tcp", ASKED) == b"to the first again"
    assert sink.received("udp", ASKED) == b""
    until(lambda: all(a.closed for a in sink.arrivals), "both connections seen closed")
    assert {a.answered for a in sink.arrivals} == {0}          # no answer for port 80 here


def test_banner_at_accept_answer_once_after_first_data(sinks: Callable[..., Sink]) -> None:
    sink = sinks(answers={80: b"HTTP/1.0 200 OK\r\n\r\n"}, banners={21: b"220 ready\r\n"})
    with connect(sink.endpoint("tcp", False, ("192.0.2.10", 21))) as ftp:
        assert receive(ftp, 11) == b"220 ready\r\n"            # before the client says a thing
        quiet(ftp)                                             # no answer for port 21
    with connect(sink.endpoint("tcp", False, ASKED)) as web:
        quiet(web)                                             # no banner for port 80
        web.sendall(b"GET / HTTP/1.0\r\n\r\n")
        assert receive(web, 19) == b"HTTP/1.0 200 OK\r\n\r\n"
        web.sendall(b"more")
        quiet(web)                                             # the answer comes once
        record = arrival(sink, "tcp", ASKED, 22)
        assert (record.data, record.answered) == (b"GET / HTTP/1.0\r\n\r\nmore", 19)


def test_udp_reply_from_the_same_endpoint(sinks: Callable[..., Sink]) -> None:
    sink = sinks(answers={53: b"\x12\x34answer"})
    asked = ("198.51.100.53", 53)
    endpoint = sink.endpoint("udp", False, asked)
    assert sink.endpoint("udp", False, asked) == endpoint
    assert sink.endpoint("tcp", False, asked) != endpoint        # TCP has its own
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(WAIT)
        for query in (b"\x12\x34query", b"\x12\x34again"):
            client.sendto(query, endpoint)
            reply, source = client.recvfrom(100)
            assert (reply, source) == (b"\x12\x34answer", endpoint)
    records = [a for a in sink.arrivals if a.protocol == "udp"]
    assert [(a.address, a.data, a.size, a.answered) for a in records] == [
        (asked, b"\x12\x34query", 7, 8), (asked, b"\x12\x34again", 7, 8)]
    assert sink.received("udp", asked) == b"\x12\x34query\x12\x34again"


@pytest.mark.skipif(not IPV6, reason="no IPv6 loopback (::1) on this host")
def test_ipv6_endpoints_on_ipv6_loopback(sinks: Callable[..., Sink]) -> None:
    sink = sinks(answers={80: b"six"})
    endpoint = sink.endpoint("tcp", True, ("2001:db8::1", 80))
    assert endpoint[0] == "::1"
    with connect(endpoint) as client:
        client.sendall(b"hello")
        assert receive(client, 3) == b"six"
    assert arrival(sink, "tcp", ("2001:db8::1", 80), 5).data == b"hello"


def test_keep_limits_data_not_size(sinks: Callable[..., Sink]) -> None:
    sink = sinks(keep=4)
    with connect(sink.endpoint("tcp", False, ASKED)) as client:
        client.sendall(b"0123")
        client.sendall(b"456789")                    # past keep: counted, not kept
        record = arrival(sink, "tcp", ASKED, 10)
    assert (record.data, record.size) == (b"0123", 10)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.sendto(b"abcdefgh", sink.endpoint("udp", False, ASKED))
        datagram = arrival(sink, "udp", ASKED, 8)
    assert (datagram.data, datagram.size) == (b"abcd", 8)
    nothing = sinks(keep=0)
    with connect(nothing.endpoint("tcp", False, ASKED)) as client:
        client.sendall(b"xyz")
        assert (lambda a: (a.data, a.size))(arrival(nothing, "tcp", ASKED, 3)) == (b"", 3)


def test_argument_checks() -> None:
    with pytest.raises(ValueError, match="keep"):
        Sink(keep=-1)
    with pytest.raises(ValueError, match="max_endpoints"):
        Sink(max_endpoints=0)


def test_least_recently_used_endpoint_is_evicted(sinks: Callable[..., Sink]) -> None:
    sink = sinks(max_endpoints=2)
    a = sink.endpoint("tcp", False, ("192.0.2.1", 1))
    b = sink.endpoint("tcp", False, ("192.0.2.2", 2))
    through_b = connect(b)                     # accepted before B goes
    with through_b:
        through_b.sendall(b"early")
        arrival(sink, "tcp", ("192.0.2.2", 2), 5)
        assert sink.endpoint("tcp", False, ("192.0.2.1", 1)) == a      # A used again: B is older
        sink.endpoint("tcp", False, ("192.0.2.3", 3))                  # a third: B evicted
        with pytest.raises(ConnectionRefusedError):
            connect(b).close()                                       # its listener is gone
        with connect(a) as client:                                   # A still listens
            client.sendall(b"a")
            arrival(sink, "tcp", ("192.0.2.1", 1), 1)
        through_b.sendall(b" and late")                              # the connection goes on
        assert arrival(sink, "tcp", ("192.0.2.2", 2), 14).data == b"early and late"
    again = sink.endpoint("tcp", False, ("192.0.2.2", 2))            # a new endpoint for B
    with connect(again) as client:
        client.sendall(b"back")
        until(lambda: sink.received("tcp", ("192.0.2.2", 2)).endswith(b"back"), "B again")
    # Another protocol has a table of its own: the TCP endpoints are untouched by UDP ones.
    for port in range(3):
        sink.endpoint("udp", False, ("192.0.2.9", port))
    assert sink.endpoint("tcp", False, ("192.0.2.2", 2)) == again


def test_close_is_idempotent_joins_its_thread_and_ends_connections() -> None:
    sink = Sink(answers={80: b"x"})
    before = set(sink_threads())
    endpoint = sink.endpoint("tcp", False, ASKED)
    ours = set(sink_threads()) - before
    assert len(ours) == 1                       # one serving thread, started on first use
    client = connect(endpoint)
    with client:
        client.sendall(b"hi")
        assert receive(client, 1) == b"x"
        sink.close()
        assert not any(t.is_alive() for t in ours)     # joined by close()
        client.settimeout(WAIT)
        assert client.recv(10) == b""                  # the sink's end is closed
    sink.close()                                       # again: nothing happens
    with pytest.raises(OSError, match="closed"):
        sink.endpoint("tcp", False, OTHER)
    with pytest.raises(ConnectionRefusedError):
        connect(endpoint).close()                      # the endpoint is gone too


def test_a_sink_never_used_starts_no_thread() -> None:
    before = set(sink_threads())
    with Sink() as sink:
        assert set(sink_threads()) == before
        assert "0 endpoints" in repr(sink) and sink.arrivals == []
    assert set(sink_threads()) == before
