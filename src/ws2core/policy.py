"""The network policy: nothing leaves this machine unless someone said so (DESIGN.md §4).

A provider over host sockets turns a program's Winsock calls into real traffic, and a program
under an emulator is often hostile.  ``NetworkPolicy`` is the one gate: every host-facing step
of a provider (connect, a datagram's destination, bind) and every name lookup asks it first,
before any host system call, and every attempt goes on its record, ``policy.log``.

Three policies cover what people need; each is a list of ``Rule`` objects and a default, so a
policy of one's own is a few lines:

- ``NetworkPolicy.loopback_only()``, the default everywhere: loopback (127.0.0.0/8, ::1) is
  allowed, everything else refused; a wildcard bind listens on loopback only; names are
  answered from the policy's own table (``localhost``), never by the host's resolver, whose
  DNS query would itself leave the machine.
- ``NetworkPolicy.allow_all()``: the explicit opt-out; names go to the host's resolver.
- ``NetworkPolicy.sinkhole()``: every outbound TCP connection and UDP datagram is carried to a
  ``ws2core.sink.Sink`` on loopback, which records what arrives and can answer with canned
  bytes per port; every name resolves to an address of the policy's own (a documentation
  address).  The program sees the address it asked for; the host only ever sees loopback.

A refusal looks like a network without that route, never like a permission error:
WSAENETUNREACH for connect and sendto (``refuse_error`` may choose WSAEHOSTUNREACH,
WSAECONNREFUSED or WSAETIMEDOUT), WSAEADDRNOTAVAIL for a bind, WSAHOST_NOT_FOUND for a name.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Final, Literal, NamedTuple, TypeGuard, Union, cast

from ._shared import WinsockError
from .constants import (
    WSAEADDRNOTAVAIL,
    WSAECONNREFUSED,
    WSAEHOSTUNREACH,
    WSAENETUNREACH,
    WSAETIMEDOUT,
    WSAHOST_NOT_FOUND,
    errorname,
)

__all__ = ["KINDS", "Attempt", "AttemptLog", "Decision", "NetworkPolicy", "Rule"]

Kind = Literal["connect", "sendto", "bind", "resolve"]
Action = Literal["allow", "refuse", "redirect"]
Verdict = Literal["allowed", "refused", "redirected"]
Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]  # noqa: UP007 (a runtime alias on 3.10)

KINDS: Final[tuple[str, ...]] = ("connect", "sendto", "bind", "resolve")
"""The operations a policy decides: ``Attempt.kind`` and ``Rule(operation=...)``."""

_logger: Final = logging.getLogger("ws2core.policy")
_ACTIONS: Final = ("allow", "refuse", "redirect")
_VERDICT_OF: Final[Mapping[str, Verdict]] = {
    "allow": "allowed", "refuse": "refused", "redirect": "redirected"}
_PROTOCOLS: Final = ("tcp", "udp")
# What a refused connect or sendto may look like: the failures of a machine without a route.
REFUSE_ERRORS: Final = frozenset({WSAENETUNREACH, WSAEHOSTUNREACH, WSAECONNREFUSED, WSAETIMEDOUT})
_LOOPBACK: Final = ("127.0.0.0/8", "::1/128")
_MULTICAST_AND_BROADCAST: Final = ("224.0.0.0/4", "255.255.255.255/32", "ff00::/8")
_WILDCARD_TO_LOOPBACK: Final = (("0.0.0.0/32", "127.0.0.1"), ("::/128", "::1"))
# Where a sinkhole says every name is: documentation addresses (RFC 5737, RFC 3849), which
# are nobody's, so an answer can never send anything to a real host by mistake.
SINK_NAME_ANSWERS: Final = ("198.51.100.1", "2001:db8::1")
DEFAULT_NAMES: Final[Mapping[str, tuple[str, ...]]] = {"localhost": ("127.0.0.1", "::1")}
# The machine's name a program reads (gethostname): a made-up one, so that no sample learns
# the host's real name unless someone passes it; it resolves to loopback (LOCAL_ADDRESSES),
# the only addresses the policy's view of this machine has, under every policy.
DEFAULT_HOSTNAME: Final = "DESKTOP-WS2CORE"
LOCAL_ADDRESSES: Final[tuple[str, ...]] = ("127.0.0.1", "::1")


def _network(value: Any) -> Network:
    if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return value
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return ipaddress.ip_network(value)
    if not isinstance(value, str):
        raise TypeError(f"a network is a CIDR string such as '192.0.2.0/24', not {value!r}")
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"not an address or CIDR network: {value!r}") from None


def host_address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The address a host string names, an IPv4-mapped IPv6 address as its IPv4 one (so that
    ``::ffff:192.0.2.1`` meets the rules of 192.0.2.1), a scope id dropped."""
    address = ipaddress.ip_address(host.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _pair(value: Any, what: str, form: str) -> tuple[Any, Any]:
    """``value`` as the two items of a rule's ``what``, or a clear error saying ``form``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"a rule's {what} must be {form}, not {value!r}")
    items = tuple(value)
    if len(items) != 2:
        raise ValueError(f"a rule's {what} must be {form}, not {value!r}")
    return items[0], items[1]


@dataclass(frozen=True)
class Rule:
    """One line of a policy: what it matches, and what happens then.

    ``Rule(action, *, operation=None, protocol=None, network=None, ports=None, error=None,
    to=None)``.  ``action``: "allow", "refuse" or "redirect".  The matchers, each None for
    "any": ``operation`` one of ``KINDS`` but "resolve" (or a tuple of them), ``protocol``
    "tcp" or "udp", ``network`` an address or CIDR network (a string or an ipaddress
    object), ``ports`` a port or an inclusive ``(first, last)`` range.  ``error``: a
    refusal's Winsock code (default: the policy's, by operation).  ``to``: a redirect's
    target, a loopback host or ``(host, port)`` (port 0: the port asked for); None carries
    it to the policy's sink (a bind: to loopback, the port asked for).  A redirect to a host of the other family is refused.
    """

    action: Action
    operation: frozenset[str] | str | Sequence[str] | None = None
    protocol: str | None = None
    network: Network | str | None = None
    ports: tuple[int, int] | int | None = None
    error: int | None = None
    to: tuple[str, int] | str | None = None

    def __post_init__(self) -> None:
        if self.action not in _ACTIONS:
            raise ValueError(f"a rule's action is one of {_ACTIONS}, not {self.action!r}")
        operation = self.operation
        if operation is not None:
            if not isinstance(operation, str) and not (
                    isinstance(operation, Iterable) and all(isinstance(n, str) for n in operation)):
                raise TypeError("a rule's operation is a name or a sequence of names, not "
                                f"{operation!r}")
            names = frozenset([operation] if isinstance(operation, str) else operation)
            unknown = names - {"connect", "sendto", "bind"}
            if unknown or not names:
                raise ValueError(f"a rule's operations are among connect, sendto and bind, not "
                                 f"{sorted(unknown) or 'none'} (names are the policy's table)")
            object.__setattr__(self, "operation", names)
        if self.protocol is not None and self.protocol not in _PROTOCOLS:
            raise ValueError(f"a rule's protocol is 'tcp', 'udp' or None, not {self.protocol!r}")
        if self.network is not None:
            object.__setattr__(self, "network", _network(self.network))
        ports = self.ports
        if ports is not None:
            first, last = ((ports, ports) if _is_int(ports)
                           else _pair(ports, "ports", "a port or (first, last)"))
            if not (_is_int(first) and _is_int(last)):
                raise TypeError(f"a rule's ports are a port or (first, last) of ints, not {ports!r}")
            if not 0 <= first <= last <= 0xFFFF:
                raise ValueError(f"a rule's ports are a port or (first, last) in 0-65535, not {ports!r}")
            object.__setattr__(self, "ports", (first, last))
        if self.error is not None:
            if self.action != "refuse":
                raise ValueError("only a refusing rule has an error")
            if not _is_int(self.error):
                raise TypeError(f"a refusal's error is a Winsock code (an int), not {self.error!r}")
            if not 10000 <= self.error <= 11999:
                raise ValueError(f"a refusal's error is a Winsock code, not {self.error}")
        to = self.to
        if to is not None:
            if self.action != "redirect":
                raise ValueError("only a redirecting rule has a target")
            host, port = ((to, 0) if isinstance(to, str)
                          else _pair(to, "to", "a host or (host, port)"))
            if not isinstance(host, str) or not _is_int(port):
                raise TypeError(f"a redirect's target is a host or (host, port), not {to!r}")
            try:
                loopback = host_address(host).is_loopback
            except ValueError:
                raise ValueError(
                    f"a redirect's target is a numeric loopback address, not {host!r}") from None
            if not loopback:
                raise ValueError(f"a redirect goes to loopback, not {host!r}")
            if not 0 <= port <= 0xFFFF:
                raise ValueError(f"a redirect's port is 0-65535, not {port}")
            object.__setattr__(self, "to", (host, port))

    def matches(self, kind: str, protocol: str,
                address: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> bool:
        """Whether this rule applies to ``kind`` of ``protocol`` at ``address``, ``port``."""
        operation = self.operation
        if operation is not None and kind not in operation:
            return False
        if self.protocol is not None and protocol != self.protocol:
            return False
        network = self.network
        if network is not None and address not in network:
            return False
        if self.ports is not None:
            first, last = cast("tuple[int, int]", self.ports)
            if not first <= port <= last:
                return False
        return True


@dataclass(frozen=True)
class Attempt:
    """One attempt on record: what a program asked for and what the policy did.

    ``time`` (seconds since the epoch), ``kind`` (one of ``KINDS``), ``protocol`` ("tcp",
    "udp"; "" for a name), ``address`` (what the program asked for: ``(host, port)``, or
    ``(name,)`` for a lookup), ``verdict`` ("allowed", "refused", "redirected"),
    ``redirected_to`` (the loopback address the host used instead, or for a lookup the
    addresses answered in its place), ``error`` (a refusal's Winsock code, else 0),
    ``answers`` (a lookup's addresses).  ``bytes_sent`` and ``bytes_received`` count the
    traffic the policy saw on a connection (or, for datagrams, to and from one destination
    of one socket) as it flows.
    """

    time: float
    kind: str
    protocol: str
    address: tuple[Any, ...]
    verdict: Verdict
    redirected_to: tuple[Any, ...] | None = None
    error: int = 0
    answers: tuple[str, ...] = ()
    _traffic: list[int] = field(default_factory=lambda: [0, 0], repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def bytes_sent(self) -> int:
        return self._traffic[0]

    @property
    def bytes_received(self) -> int:
        return self._traffic[1]

    def count(self, sent: int = 0, received: int = 0) -> None:
        """Add traffic seen on this attempt's connection or destination."""
        with self._lock:
            self._traffic[0] += sent
            self._traffic[1] += received

    def as_json(self) -> dict[str, Any]:
        """The record as a JSON object (``error_name`` spells the code)."""
        return {
            "time": self.time, "kind": self.kind, "protocol": self.protocol,
            "address": list(self.address), "verdict": self.verdict,
            "redirected_to": None if self.redirected_to is None else list(self.redirected_to),
            "error": self.error, "error_name": errorname(self.error) if self.error else None,
            "answers": list(self.answers),
            "bytes_sent": self.bytes_sent, "bytes_received": self.bytes_received,
        }


class AttemptLog(Sequence[Attempt]):
    """``policy.log``: every attempt in the order decided; a thread-safe sequence.

    Indexing and iteration see a snapshot; ``subscribe(callback)`` calls ``callback(attempt)``
    for each new record, in the deciding thread, and returns the function that stops it.
    """

    def __init__(self) -> None:
        self._records: list[Attempt] = []
        self._lock = threading.Lock()
        self._subscribers: list[Callable[[Attempt], None]] = []
        self._stream: IO[str] | None = None

    def __len__(self) -> int:
        return len(self._records)

    def __getitem__(self, index: Any) -> Any:
        with self._lock:
            return self._records[index]

    def __iter__(self) -> Iterator[Attempt]:
        with self._lock:
            return iter(list(self._records))

    def __repr__(self) -> str:
        return f"<ws2core AttemptLog of {len(self._records)} attempts>"

    def subscribe(self, callback: Callable[[Attempt], None]) -> Callable[[], None]:
        with self._lock:
            self._subscribers.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._subscribers:
                    self._subscribers.remove(callback)

        return unsubscribe

    def add(self, attempt: Attempt) -> Attempt:
        with self._lock:
            self._records.append(attempt)
            if self._stream is not None:
                self._stream.write(json.dumps(attempt.as_json()) + "\n")
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(attempt)
            except Exception:  # a subscriber's bug must not fail the call being decided
                _logger.exception("a subscriber of the network record failed on %r", attempt)
        return attempt

    def write_jsonl(self, path: str | os.PathLike[str]) -> int:
        """Write every record so far, with its byte counts as they are now, one JSON object
        per line; the number of records written."""
        records = list(self)
        with open(path, "w", encoding="utf-8") as out:
            out.writelines(json.dumps(attempt.as_json()) + "\n" for attempt in records)
        return len(records)

    def stream_to(self, path: str | os.PathLike[str] | None) -> None:
        """Append each new record to ``path`` as it is decided (None: stop).  A streamed line
        is written before the connection carries anything, so its byte counts are 0;
        ``write_jsonl`` at the end gives the final counts."""
        stream = None if path is None else open(path, "a", encoding="utf-8", buffering=1)
        with self._lock:
            old, self._stream = self._stream, stream
        if old is not None:
            old.close()


class Decision(NamedTuple):
    """What the policy decided for one connect, sendto or bind.

    ``verdict``; ``target``: the host address to use (the one asked for, or the redirect's);
    ``error``: a refusal's Winsock code (0 otherwise); ``attempt``: its record (None when
    the decision was asked without one); ``sink_key``: how the sink knows the destination,
    when the target is a sink endpoint (``NetworkPolicy.retarget`` asks it again)."""

    verdict: Verdict
    target: tuple[Any, ...]
    error: int
    attempt: Attempt | None
    sink_key: tuple[str, bool, tuple[str, int]] | None = None


class NetworkPolicy:
    """The gate between a program's Winsock calls and the host's network.

    ``NetworkPolicy(rules=(), *, default="refuse", refuse_error=WSAENETUNREACH, names=None,
    resolver="table", sink=None, log_path=None, hostname=DEFAULT_HOSTNAME)``: ``rules`` are
    tried in order, the first that matches decides, then ``default`` ("allow", "refuse" or "redirect").  A refusal of
    connect or sendto fails with ``refuse_error``, of bind with WSAEADDRNOTAVAIL, unless the
    rule names its own.  Names: ``names`` maps a name (case-insensitive, a trailing dot
    ignored) to its addresses (``localhost`` is there unless overridden); a name not in it
    goes to ``resolver``: "table" refuses it (WSAHOST_NOT_FOUND), "host" asks the host's
    resolver, "sink" answers with ``SINK_NAME_ANSWERS``.  ``sink``: the ``ws2core.sink.Sink`` that redirects without a
    target go to (default: one made on first use).  ``log_path``: stream the record there as
    JSON lines.  ``hostname``: the machine's name a program reads (gethostname; a made-up
    one unless given, never the host's own); it resolves to ``LOCAL_ADDRESSES`` (loopback)
    under every policy, allow_all included, unless ``names`` maps it.  ``close()`` (or a
    ``with`` block) stops the sink and the stream.  Policies are immutable and may be shared by providers; the record is shared with them.
    """

    def __init__(self, rules: Iterable[Rule] = (), *, default: Action = "refuse",
                 refuse_error: int = WSAENETUNREACH,
                 names: Mapping[str, Sequence[str]] | None = None,
                 resolver: Literal["table", "host", "sink"] = "table",
                 sink: Any = None, log_path: str | os.PathLike[str] | None = None,
                 description: str = "custom", hostname: str = DEFAULT_HOSTNAME) -> None:
        self.rules: tuple[Rule, ...] = tuple(rules)
        for rule in self.rules:
            if not isinstance(rule, Rule):
                raise TypeError(f"a policy's rules are ws2core.policy.Rule, not {type(rule).__name__}")
        if default not in _ACTIONS:
            raise ValueError(f"default is one of {_ACTIONS}, not {default!r}")
        if refuse_error not in REFUSE_ERRORS:
            raise ValueError("refuse_error is what a machine without the route says: "
                             f"{', '.join(sorted(map(errorname, REFUSE_ERRORS)))}; not {refuse_error}")
        if resolver not in ("table", "host", "sink"):
            raise ValueError(f"resolver is 'table', 'host' or 'sink', not {resolver!r}")
        table = dict(DEFAULT_NAMES)
        for name, addresses in (names or {}).items():
            answers = tuple(addresses)
            for address in answers:
                host_address(address)  # a ValueError names a bad one now, not at lookup
            table[name] = answers
        self.default: Action = default
        self.refuse_error = refuse_error
        if not (isinstance(hostname, str) and hostname.isascii() and hostname.strip(".")
                and not any(c.isspace() or c == "\0" for c in hostname)):
            raise ValueError(f"hostname is a non-empty ASCII name without spaces, not {hostname!r}")
        self.hostname = hostname
        table.setdefault(hostname, LOCAL_ADDRESSES)
        self.names: Mapping[str, tuple[str, ...]] = {
            k.rstrip(".").lower(): v for k, v in table.items()}
        self.resolver = resolver
        self.description = description
        self.log = AttemptLog()
        self._sink = sink
        self._sink_lock = threading.Lock()
        if log_path is not None:
            self.log.stream_to(log_path)

    # --- the three policies

    @classmethod
    def loopback_only(cls, *, refuse_error: int = WSAENETUNREACH,
                      names: Mapping[str, Sequence[str]] | None = None,
                      log_path: str | os.PathLike[str] | None = None,
                      hostname: str = DEFAULT_HOSTNAME) -> NetworkPolicy:
        """Loopback only (the default everywhere): 127.0.0.0/8 and ::1 allowed, a wildcard
        bind confined to loopback, every other address refused, names from the table."""
        return cls(_confine_wildcard() + [Rule("allow", network=net) for net in _LOOPBACK],
                   refuse_error=refuse_error, names=names, log_path=log_path,
                   description="loopback only", hostname=hostname)

    @classmethod
    def allow_all(cls, *, log_path: str | os.PathLike[str] | None = None,
                  hostname: str = DEFAULT_HOSTNAME) -> NetworkPolicy:
        """Everything allowed, names from the host's resolver: the explicit opt-out (still
        recorded)."""
        return cls(default="allow", resolver="host", log_path=log_path,
                   description="allow all", hostname=hostname)

    @classmethod
    def sinkhole(cls, *, answers: Mapping[int, bytes] | None = None,
                 banners: Mapping[int, bytes] | None = None,
                 names: Mapping[str, Sequence[str]] | None = None,
                 log_path: str | os.PathLike[str] | None = None,
                 hostname: str = DEFAULT_HOSTNAME) -> NetworkPolicy:
        """Everything outbound carried to a sink on loopback, which records what arrives.

        ``answers`` maps a port (as the program asked for it) to the bytes the sink sends back
        after a connection's first data, or in reply to each datagram; ``banners`` to the
        bytes it sends as soon as it accepts a connection.  Names resolve to
        ``SINK_NAME_ANSWERS`` (or ``names``); loopback is reached as itself; broadcast and
        multicast are refused; a wildcard bind is confined to loopback.
        """
        from .sink import Sink

        rules = _confine_wildcard() + [Rule("allow", network=net) for net in _LOOPBACK]
        rules += [Rule("refuse", operation=("connect", "sendto"), network=net)
                  for net in _MULTICAST_AND_BROADCAST]
        rules += [Rule("refuse", operation="bind")]
        return cls(rules, default="redirect", names=names, resolver="sink",
                   sink=Sink(answers=answers, banners=banners), log_path=log_path,
                   description="sinkhole", hostname=hostname)

    def __repr__(self) -> str:
        return f"<ws2core NetworkPolicy {self.description}: {len(self.rules)} rules, default {self.default}>"

    def __enter__(self) -> NetworkPolicy:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the sink (if this policy started one) and the JSON-lines stream."""
        with self._sink_lock:
            sink = self._sink
        if sink is not None:
            sink.close()
        self.log.stream_to(None)

    def write_jsonl(self, path: str | os.PathLike[str]) -> int:
        """Write the record so far to ``path`` as JSON lines, byte counts as they are now
        (``AttemptLog.write_jsonl``); the number of attempts written."""
        return self.log.write_jsonl(path)

    @property
    def sink(self) -> Any:
        """The ``ws2core.sink.Sink`` that target-less redirects go to (made on first use)."""
        with self._sink_lock:
            if self._sink is None:
                from .sink import Sink

                self._sink = Sink()
            return self._sink

    # --- deciding

    def decide(self, kind: Kind, protocol: str, address: tuple[Any, ...], *,
               record: bool = True) -> Decision:
        """Decide a connect, sendto or bind of ``protocol`` ("tcp", "udp") to ``address``
        (a host tuple with a numeric host), and put it on record (``record=False``: a step
        the program did not ask for, such as a socket's implicit bind).  Makes no host
        call, unless a redirect starts the sink (on loopback)."""
        host, port = address[0], address[1]
        ip = host_address(host)
        action: Action = self.default
        rule = None
        for candidate in self.rules:
            if candidate.matches(kind, protocol, ip, port):
                rule, action = candidate, candidate.action
                break
        target: tuple[Any, ...] = address
        error = 0
        sink_key = None
        if action == "redirect":
            redirect = self._redirect(rule, kind, protocol, address)
            if redirect is None:
                action = "refuse"
            else:
                target, sink_key = redirect
        if action == "refuse":
            error = (rule.error if rule is not None and rule.error is not None
                     else WSAEADDRNOTAVAIL if kind == "bind" else self.refuse_error)
        verdict = _VERDICT_OF[action]
        attempt = None
        if record:
            attempt = self.log.add(Attempt(
                time.time(), kind, protocol, _plain(address), verdict,
                _plain(target) if verdict == "redirected" else None, error))
        return Decision(verdict, target, error, attempt, sink_key)

    def retarget(self, decision: Decision) -> Decision:
        """``decision`` with its sink endpoint asked for again: the sink keeps a bounded
        number of endpoints and closes the least recently used, so a datagram socket that
        sends to one destination for long asks before each datagram (which also keeps the
        endpoint recent); a new endpoint, when the old one was closed, gives a new target."""
        if decision.sink_key is None:
            return decision
        endpoint = self.sink.endpoint(*decision.sink_key)
        if endpoint == decision.target[:2]:
            return decision
        return decision._replace(target=(*endpoint, *decision.target[2:]))

    def _redirect(self, rule: Rule | None, kind: str, protocol: str, address: tuple[Any, ...]
                  ) -> tuple[tuple[Any, ...], tuple[str, bool, tuple[str, int]] | None] | None:
        """The host address a redirect goes to, and the sink's key for it when it is a sink
        endpoint; None when it cannot be of the socket's family."""
        six = ":" in address[0]
        if rule is not None and rule.to is not None:
            host, port = cast("tuple[str, int]", rule.to)
            if (":" in host) != six:
                return None
            return (host, port or address[1], *address[2:]), None
        if kind == "bind":  # the sink's endpoints are in use: a bind there could only fail
            return ("::1" if six else "127.0.0.1", *address[1:]), None
        key = (protocol, six, cast("tuple[str, int]", _plain(address)))
        endpoint: tuple[Any, ...] = self.sink.endpoint(*key)
        return (*endpoint, *address[2:]), key

    # --- names

    def resolve(self, name: str, family: Literal[0, 2, 23] = 0) -> tuple[str, ...]:
        """The addresses of ``name`` for ``family`` (AF_UNSPEC 0, AF_INET 2, AF_INET6 23, as
        Windows numbers them), on record; WinsockError(WSAHOST_NOT_FOUND) when refused or
        unknown.  A numeric host is its own answer, without a record (it is no lookup), or
        WSAHOST_NOT_FOUND when it is of the other family; another ``family``: ValueError."""
        if not isinstance(name, str):
            raise TypeError(f"a name is a str, not {type(name).__name__}")
        if family not in (0, 2, 23):
            raise ValueError(
                f"family is 0 (AF_UNSPEC), 2 (AF_INET) or 23 (AF_INET6), not {family!r}")
        try:
            host_address(name)
        except ValueError:
            pass
        else:
            if not _of_family(name, family):  # 192.0.2.1 has no IPv6 address, as on Windows
                raise WinsockError(WSAHOST_NOT_FOUND,
                                   f"{name!r} is not an address of family {family}")
            return (name,)
        key = name.rstrip(".").lower()
        verdict: Verdict = "allowed"
        answers: tuple[str, ...] = ()
        if key in self.names:
            answers = self.names[key]
        elif self.resolver == "host":
            answers = _host_lookup(name)
        elif self.resolver == "sink":
            answers, verdict = SINK_NAME_ANSWERS, "redirected"
        answers = tuple(a for a in answers if _of_family(a, family))
        if not answers:
            self.log.add(Attempt(time.time(), "resolve", "", (name,), "refused", None,
                                 WSAHOST_NOT_FOUND))
            raise WinsockError(WSAHOST_NOT_FOUND, f"the policy has no address for {name!r}")
        self.log.add(Attempt(time.time(), "resolve", "", (name,), verdict,
                             answers if verdict == "redirected" else None, 0, answers))
        return answers

    def reverse(self, address: str) -> str:
        """The name of the numeric ``address`` (a reverse lookup: gethostbyaddr, getnameinfo),
        on record as a "resolve" of ``(address,)``: the first name of the table that maps to
        it, or with resolver "host" the host's answer; WinsockError(WSAHOST_NOT_FOUND)
        otherwise (a sinkhole answers names, not addresses).  ValueError for no address."""
        wanted = ipaddress.ip_address(address.split("%", 1)[0])
        name = next((key for key, answers in self.names.items()
                     if any(ipaddress.ip_address(a.split("%", 1)[0]) == wanted for a in answers)),
                    None)
        if name is None and self.resolver == "host":
            name = _host_reverse(address)
        if name is None:
            self.log.add(Attempt(time.time(), "resolve", "", (address,), "refused", None,
                                 WSAHOST_NOT_FOUND))
            raise WinsockError(WSAHOST_NOT_FOUND, f"the policy has no name for {address!r}")
        self.log.add(Attempt(time.time(), "resolve", "", (address,), "allowed", None, 0, (name,)))
        return name


def _confine_wildcard() -> list[Rule]:
    """A bind to the any address listens on loopback instead (same port)."""
    return [Rule("redirect", operation="bind", network=any_address, to=loopback)
            for any_address, loopback in _WILDCARD_TO_LOOPBACK]


def _of_family(host: str, family: int) -> bool:
    """Whether the numeric ``host`` is of ``family`` as written (``::ffff:192.0.2.1`` is an
    IPv6 address here, whatever rules it meets)."""
    version = ipaddress.ip_address(host.split("%", 1)[0]).version
    return family == 0 or (family == 2) == (version == 4)


def _plain(address: tuple[Any, ...]) -> tuple[Any, ...]:
    """(host, port) of an address tuple: what the record keeps."""
    return (address[0], address[1])


def _host_lookup(name: str) -> tuple[str, ...]:
    try:
        found = socket.getaddrinfo(name, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return ()
    return tuple(dict.fromkeys(str(info[4][0]) for info in found))


def _host_reverse(address: str) -> str | None:
    try:
        return socket.gethostbyaddr(address)[0]
    except (OSError, UnicodeError):
        return None
