"""The sink a sinkhole policy carries traffic to: listeners on loopback that record what arrives.

``NetworkPolicy.sinkhole()`` redirects each outbound TCP connection and UDP datagram here, as
FakeNet-NG's and INetSim's listeners take a diverted sample's traffic.  Each destination a
program asks for gets an endpoint of its own on loopback (a listener, or a datagram socket),
made on first use, so the sink knows which destination every byte was meant for and a reply
comes back from an address the provider can show as the one asked for.  At most
``max_endpoints`` are kept per protocol and family; past that the least recently used one is
closed (its open connections go on), as a NAT table forgets an idle mapping.

One daemon thread serves every endpoint through a selector; it starts with the first
endpoint and stops at ``close()``.  What arrives is in ``arrivals``: one ``Arrival`` per
connection (its bytes accumulating, the first ``keep`` of them kept) or per datagram.
"""

from __future__ import annotations

import collections
import selectors
import socket
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

__all__ = ["Arrival", "Sink"]

_READ_SIZE: Final = 65536


@dataclass
class Arrival:
    """What reached the sink for one connection (``protocol`` "tcp") or one datagram ("udp").

    ``address`` is the destination the program asked for, ``(host, port)``; ``data`` the bytes
    that arrived (for a connection, the first ``Sink.keep`` of them; ``size`` counts all);
    ``answered`` the bytes the sink sent back; ``closed``: the connection ended.
    """

    time: float
    protocol: str
    address: tuple[str, int]
    data: bytes = b""
    size: int = 0
    answered: int = 0
    closed: bool = False


@dataclass
class _Connection:
    arrival: Arrival
    pending: bytearray = field(default_factory=bytearray)   # answer bytes not yet sent
    answer: bytes = b""                                       # sent after the first data


class Sink:
    """Loopback endpoints standing in for every outside destination.

    ``Sink(answers=None, banners=None, *, keep=1 MiB, max_endpoints=256)``: ``answers``
    maps a destination port to the bytes sent after a connection's first data or in reply
    to each datagram; ``banners`` a port to the bytes sent when a connection is accepted.
    Thread-safe; ``close()`` (or a ``with`` block) stops it.
    """

    def __init__(self, answers: Mapping[int, bytes] | None = None,
                 banners: Mapping[int, bytes] | None = None, *, keep: int = 1 << 20,
                 max_endpoints: int = 256) -> None:
        self.answers = {int(port): bytes(data) for port, data in (answers or {}).items()}
        self.banners = {int(port): bytes(data) for port, data in (banners or {}).items()}
        if keep < 0 or max_endpoints < 1:
            raise ValueError("keep is at least 0 and max_endpoints at least 1")
        self.keep = keep
        self.max_endpoints = max_endpoints
        self._lock = threading.Lock()
        # (protocol, IPv6?) -> destination asked for -> (its endpoint, the endpoint's address)
        self._endpoints: dict[tuple[str, bool], collections.OrderedDict[
            tuple[str, int], tuple[socket.socket, tuple[str, int]]]] = {}
        self._arrivals: list[Arrival] = []
        self._selector: selectors.BaseSelector | None = None
        self._thread: threading.Thread | None = None
        self._wake_read, self._wake_write = socket.socketpair()
        self._closed = False

    def __repr__(self) -> str:
        count = sum(len(table) for table in self._endpoints.values())
        return f"<ws2core Sink: {count} endpoints, {len(self._arrivals)} arrivals>"

    def __enter__(self) -> Sink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def arrivals(self) -> list[Arrival]:
        """Everything that arrived so far, in order (a snapshot list of live records)."""
        with self._lock:
            return list(self._arrivals)

    def received(self, protocol: str, address: tuple[str, int]) -> bytes:
        """All bytes kept for ``address`` (as asked) over ``protocol``, in arrival order."""
        return b"".join(arrival.data for arrival in self.arrivals
                        if arrival.protocol == protocol and arrival.address == tuple(address))

    def endpoint(self, protocol: str, six: bool, asked: tuple[str, int]) -> tuple[str, int]:
        """The loopback address standing in for ``asked`` (``six``: an IPv6 destination)."""
        key = (protocol, six)
        asked = (asked[0], int(asked[1]))
        with self._lock:
            if self._closed:
                raise OSError("the sink is closed")
            table = self._endpoints.setdefault(key, collections.OrderedDict())
            known = table.get(asked)
            if known is not None:
                table.move_to_end(asked)
                return known[1]
            sock = self._listen(protocol, six)
            address: tuple[str, int] = sock.getsockname()[:2]
            table[asked] = (sock, address)
            evicted = table.popitem(last=False) if len(table) > self.max_endpoints else None
            self._start()
            assert self._selector is not None
            self._selector.register(sock, selectors.EVENT_READ, ("endpoint", protocol, asked))
            if evicted is not None:
                evicted_asked, (evicted_sock, _) = evicted
                self._selector.unregister(evicted_sock)
                if protocol == "udp":  # what it holds unread is on record before it goes
                    while self._datagram(evicted_sock, evicted_asked):
                        pass
                evicted_sock.close()
            self._wake()
            return address

    @staticmethod
    def _listen(protocol: str, six: bool) -> socket.socket:
        family = socket.AF_INET6 if six else socket.AF_INET
        kind = socket.SOCK_STREAM if protocol == "tcp" else socket.SOCK_DGRAM
        sock = socket.socket(family, kind)
        try:
            sock.bind(("::1" if six else "127.0.0.1", 0))
            if kind == socket.SOCK_STREAM:
                sock.listen(64)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    def _start(self) -> None:
        if self._thread is None:
            self._selector = selectors.DefaultSelector()
            self._selector.register(self._wake_read, selectors.EVENT_READ, ("wake",))
            self._thread = threading.Thread(target=self._serve, name="ws2core-sink", daemon=True)
            self._thread.start()

    def _wake(self) -> None:
        try:
            self._wake_write.send(b"\0")
        except (BlockingIOError, OSError):
            pass  # a wake-up is pending already, or the sink is closing

    def close(self) -> None:
        """Stop serving and close every endpoint and connection (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
        self._wake()
        if thread is not None:
            thread.join(10.0)
        with self._lock:
            for table in self._endpoints.values():
                for sock, _ in table.values():
                    sock.close()
            self._endpoints.clear()
        self._wake_read.close()
        self._wake_write.close()

    # --- the serving thread

    def _serve(self) -> None:
        selector = self._selector
        assert selector is not None
        try:
            while not self._closed:
                for key, events in selector.select(1.0):
                    with self._lock:
                        if self._closed:
                            break
                        self._handle(selector, key, events)
        finally:
            for key in list(selector.get_map().values()):
                if key.data[0] == "connection":
                    key.fileobj.close()  # type: ignore[union-attr]
            selector.close()

    def _handle(self, selector: selectors.BaseSelector, key: selectors.SelectorKey,
                events: int) -> None:
        sock: socket.socket = key.fileobj  # type: ignore[assignment]
        what = key.data[0]
        if what == "wake":
            try:
                sock.recv(4096)
            except BlockingIOError:
                pass
        elif what == "endpoint" and key.data[1] == "tcp":
            self._accept(selector, sock, key.data[2])
        elif what == "endpoint":
            self._datagram(sock, key.data[2])
        else:
            self._connection(selector, sock, key.data[1], events)

    def _accept(self, selector: selectors.BaseSelector, listener: socket.socket,
                asked: tuple[str, int]) -> None:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        connection.setblocking(False)
        arrival = Arrival(time.time(), "tcp", asked)
        self._arrivals.append(arrival)
        state = _Connection(arrival, bytearray(self.banners.get(asked[1], b"")),
                            self.answers.get(asked[1], b""))
        selector.register(connection, self._interest(state), ("connection", state))
        self._flush(connection, state)

    @staticmethod
    def _interest(state: _Connection) -> int:
        return selectors.EVENT_READ | (selectors.EVENT_WRITE if state.pending else 0)

    def _connection(self, selector: selectors.BaseSelector, sock: socket.socket,
                    state: _Connection, events: int) -> None:
        if events & selectors.EVENT_READ:
            try:
                data = sock.recv(_READ_SIZE)
            except BlockingIOError:
                data = None
            except OSError:
                data = b""
            if data == b"":
                state.arrival.closed = True
                selector.unregister(sock)
                sock.close()
                return
            if data:
                arrival = state.arrival
                room = max(0, self.keep - len(arrival.data))
                if room:
                    arrival.data += data[:room]
                arrival.size += len(data)
                if state.answer:
                    state.pending += state.answer
                    state.answer = b""
        self._flush(sock, state)
        selector.modify(sock, self._interest(state), ("connection", state))

    @staticmethod
    def _flush(sock: socket.socket, state: _Connection) -> None:
        if state.pending:
            try:
                sent = sock.send(state.pending)
            except (BlockingIOError, OSError):
                return
            del state.pending[:sent]
            state.arrival.answered += sent

    def _datagram(self, sock: socket.socket, asked: tuple[str, int]) -> bool:
        """Take one datagram (False: none was waiting)."""
        try:
            data, source = sock.recvfrom(_READ_SIZE)
        except OSError:
            return False
        arrival = Arrival(time.time(), "udp", asked, data[: self.keep], len(data))
        self._arrivals.append(arrival)
        answer = self.answers.get(asked[1])
        if answer:
            try:
                arrival.answered = sock.sendto(answer, source)
            except OSError:
                pass
        return True
