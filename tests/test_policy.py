"""ws2core.policy on its own: rules, decisions, names and the record (DESIGN.md section 4).

No traffic here: ``decide()`` and ``resolve()`` make no host call (the one exception, a
sinkhole's redirect, starts its sink on loopback), and the host's resolver is a stand-in
(``socket.getaddrinfo`` monkeypatched), so no name ever leaves the machine.  The one test
that checks "no host call" with the audit hook runs in a network namespace.

- ``Rule``: every malformed argument is a ValueError or TypeError that names it; matching by
  operation, protocol, CIDR network and port range; normalised fields.
- ``NetworkPolicy``: its own argument checks; the first matching rule wins, then the
  default; the three policies' verdicts (loopback_only allows exactly 127.0.0.0/8 and ::1,
  a property over every IPv4 address); an IPv4-mapped IPv6 address meets the IPv4 rules,
  so ``::ffff:192.0.2.1`` is no way around a refusal; the refusal codes per kind, per rule
  and per ``refuse_error``; a redirect to the other family is refused.
- ``resolve``: numeric hosts, the names table (case, trailing dot, family), the host's
  resolver only under allow_all, the sinkhole's answers, WSAHOST_NOT_FOUND on record.
- The record: complete under many deciding threads, subscribers (a raising one is logged
  and harmless), ``write_jsonl`` and ``stream_to``/``log_path`` (a line per decision, as
  decided), frozen ``Attempt`` records and their JSON form, byte counters.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ws2core import (
    WSAEADDRNOTAVAIL,
    WSAECONNREFUSED,
    WSAEHOSTUNREACH,
    WSAENETUNREACH,
    WSAETIMEDOUT,
    WSAHOST_NOT_FOUND,
    WinsockError,
)
from ws2core.policy import KINDS, Attempt, NetworkPolicy, Rule
from ws2core.sink import Sink

from support import raises_winsock, run_threads

OUTSIDE = "192.0.2.1"          # TEST-NET-1 (RFC 5737): documentation, nobody's host
OUTSIDE_NET = "192.0.2.0/24"
OTHER = "198.51.100.7"         # TEST-NET-2
OUTSIDE6 = "2001:db8::7"       # the IPv6 documentation prefix (RFC 3849)

# Shared by the property tests: their decisions are made without a record, so keep nothing.
LOOPBACK_ONLY = NetworkPolicy.loopback_only()
MAPPED_POLICY = NetworkPolicy([Rule("refuse", network=OUTSIDE_NET, error=WSAEHOSTUNREACH)],
                              default="allow")

ipv4_addresses = st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))


@pytest.fixture
def policies() -> Iterator[list[NetworkPolicy]]:
    """Policies made by a test; each is closed after it (a sinkhole runs a sink thread)."""
    made: list[NetworkPolicy] = []
    yield made
    for policy in made:
        policy.close()


@pytest.fixture
def no_host_resolver(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """socket.getaddrinfo replaced by a stand-in that records the names asked for (and has
    no answer): a policy that must not ask the host leaves the list empty."""
    asked: list[str] = []

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "stand-in resolver: no such name")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


def verdict(policy: NetworkPolicy, kind: str, host: str, port: int = 80,
            protocol: str = "tcp") -> tuple[str, int]:
    decision = policy.decide(kind, protocol, (host, port), record=False)  # type: ignore[arg-type]
    return decision.verdict, decision.error


# --- Rule -----------------------------------------------------------------------------------


def ids(cases: list[tuple[dict[str, Any], type[Exception], str]]) -> list[str]:
    return [",".join(f"{key}={value!r}" for key, value in case[0].items()) for case in cases]


BAD_RULES: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"action": "block"}, ValueError, "action"),
    ({"action": None}, ValueError, "action"),
    ({"operation": "resolve"}, ValueError, "operations"),       # names are the table's
    ({"operation": ()}, ValueError, "operations"),
    ({"operation": ("connect", "listen")}, ValueError, "listen"),
    ({"operation": 5}, TypeError, "operation"),
    ({"operation": ("connect", 5)}, TypeError, "operation"),
    ({"protocol": "icmp"}, ValueError, "protocol"),
    ({"protocol": "TCP"}, ValueError, "protocol"),
    ({"network": "not a network"}, ValueError, "network"),
    ({"network": "192.0.2.0/33"}, ValueError, "network"),
    ({"network": 3221225985}, TypeError, "network"),
    ({"ports": (10, 5)}, ValueError, "ports"),
    ({"ports": 65536}, ValueError, "ports"),
    ({"ports": -1}, ValueError, "ports"),
    ({"ports": (1, 2, 3)}, ValueError, "ports"),
    ({"ports": (80,)}, ValueError, "ports"),
    ({"ports": "80"}, TypeError, "ports"),
    ({"ports": 80.0}, TypeError, "ports"),
    ({"ports": True}, TypeError, "ports"),
    ({"ports": (1, "2")}, TypeError, "ports"),
    ({"error": WSAENETUNREACH}, ValueError, "refusing rule"),   # an allow has no error
    ({"action": "refuse", "error": 5}, ValueError, "Winsock code"),
    ({"action": "refuse", "error": 12000}, ValueError, "Winsock code"),
    ({"action": "refuse", "error": "WSAENETUNREACH"}, TypeError, "Winsock code"),
    ({"action": "refuse", "error": float(WSAENETUNREACH)}, TypeError, "Winsock code"),
    ({"to": "127.0.0.1"}, ValueError, "redirecting rule"),      # an allow has no target
    ({"action": "redirect", "to": OUTSIDE}, ValueError, "loopback"),
    ({"action": "redirect", "to": ("0.0.0.0", 80)}, ValueError, "loopback"),
    ({"action": "redirect", "to": "localhost"}, ValueError, "numeric"),
    ({"action": "redirect", "to": ("127.0.0.1", 65536)}, ValueError, "port"),
    ({"action": "redirect", "to": ("127.0.0.1",)}, ValueError, "to"),
    ({"action": "redirect", "to": 5}, TypeError, "to"),
    ({"action": "redirect", "to": b"127.0.0.1"}, TypeError, "to"),
    ({"action": "redirect", "to": ("127.0.0.1", "80")}, TypeError, "target"),
]


@pytest.mark.parametrize("arguments, error, says", BAD_RULES, ids=ids(BAD_RULES))
def test_rule_rejects_each_bad_argument(arguments: dict[str, Any], error: type[Exception],
                                        says: str) -> None:
    arguments = {"action": "allow", **arguments}
    with pytest.raises(error, match=says):
        Rule(**arguments)


def test_rule_normalises_its_fields() -> None:
    rule = Rule("allow", operation=["sendto", "connect"], network="192.0.2.77/24", ports=53)
    assert rule.operation == frozenset({"connect", "sendto"})
    assert rule.network == ipaddress.ip_network(OUTSIDE_NET)   # host bits dropped
    assert rule.ports == (53, 53)
    assert Rule("allow", operation="bind").operation == frozenset({"bind"})
    # An ipaddress address object, as the docstring allows (the annotation says networks).
    single = Rule("allow", network=ipaddress.ip_address("::1"))  # type: ignore[arg-type]
    assert single.network == ipaddress.ip_network("::1/128")
    assert Rule("redirect", to="::1").to == ("::1", 0)              # port 0: the one asked
    assert Rule("redirect", to=("127.0.0.2", 8080)).to == ("127.0.0.2", 8080)
    assert Rule("refuse", error=WSAECONNREFUSED).error == WSAECONNREFUSED
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.action = "refuse"  # type: ignore[misc]


def test_rule_matches_on_each_field() -> None:
    ip = ipaddress.ip_address(OUTSIDE)
    rule = Rule("allow", operation=("connect", "sendto"), protocol="udp",
                network=OUTSIDE_NET, ports=(50, 60))
    assert rule.matches("connect", "udp", ip, 50) and rule.matches("sendto", "udp", ip, 60)
    assert not rule.matches("bind", "udp", ip, 55)                          # operation
    assert not rule.matches("connect", "tcp", ip, 55)                       # protocol
    assert not rule.matches("connect", "udp", ipaddress.ip_address(OTHER), 55)  # network
    assert not rule.matches("connect", "udp", ip, 49)                       # ports, each end
    assert not rule.matches("connect", "udp", ip, 61)
    everything = Rule("refuse")
    assert all(everything.matches(kind, protocol, ip, port) for kind in KINDS[:3]
               for protocol in ("tcp", "udp") for port in (0, 65535))


@given(port=st.integers(0, 65535), first=st.integers(0, 65535), width=st.integers(0, 65535))
@settings(max_examples=60, deadline=None)
def test_rule_port_range_is_inclusive(port: int, first: int, width: int) -> None:
    last = min(first + width, 65535)
    policy = NetworkPolicy([Rule("allow", ports=(first, last))])
    assert verdict(policy, "connect", OUTSIDE, port)[0] == (
        "allowed" if first <= port <= last else "refused")


# --- NetworkPolicy: construction and decisions ----------------------------------------------


BAD_POLICIES: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"rules": ["allow"]}, TypeError, "Rule"),
    ({"default": "deny"}, ValueError, "default"),
    ({"refuse_error": WSAEADDRNOTAVAIL}, ValueError, "refuse_error"),   # a bind's, not a route's
    ({"refuse_error": 0}, ValueError, "refuse_error"),
    ({"resolver": "dns"}, ValueError, "resolver"),
    ({"names": {"printer.test": ["not an address"]}}, ValueError, "not an address"),
]


@pytest.mark.parametrize("arguments, error, says", BAD_POLICIES, ids=ids(BAD_POLICIES))
def test_policy_rejects_bad_arguments(arguments: dict[str, Any], error: type[Exception],
                                      says: str) -> None:
    with pytest.raises(error, match=says):
        NetworkPolicy(**arguments)


@pytest.mark.parametrize("code", [WSAENETUNREACH, WSAEHOSTUNREACH, WSAECONNREFUSED, WSAETIMEDOUT])
def test_refuse_error_chooses_the_connect_and_sendto_code_not_binds(code: int) -> None:
    for policy in (NetworkPolicy(refuse_error=code),
                   NetworkPolicy.loopback_only(refuse_error=code)):
        assert policy.refuse_error == code
        assert verdict(policy, "connect", OUTSIDE) == ("refused", code)
        assert verdict(policy, "sendto", OUTSIDE, protocol="udp") == ("refused", code)
        assert verdict(policy, "bind", OUTSIDE, 0) == ("refused", WSAEADDRNOTAVAIL)


def test_defaults_refuse_with_wsaenetunreach_and_wsaeaddrnotavail() -> None:
    policy = NetworkPolicy()   # no rules: the default, refuse, decides everything
    assert (policy.default, policy.refuse_error) == ("refuse", WSAENETUNREACH)
    assert verdict(policy, "connect", "127.0.0.1") == ("refused", WSAENETUNREACH)
    assert verdict(policy, "bind", "127.0.0.1", 0) == ("refused", WSAEADDRNOTAVAIL)
    assert verdict(NetworkPolicy(default="allow"), "connect", OUTSIDE) == ("allowed", 0)


def test_first_matching_rule_wins_then_the_default() -> None:
    policy = NetworkPolicy([
        Rule("refuse", ports=25, error=WSAECONNREFUSED),             # no mail, anywhere
        Rule("allow", network=OUTSIDE_NET),
        Rule("refuse", network="192.0.2.0/28", error=WSAETIMEDOUT),  # shadowed by the one above
        Rule("allow", operation="sendto", protocol="udp", ports=53),
    ], default="refuse", refuse_error=WSAEHOSTUNREACH)
    assert verdict(policy, "connect", OUTSIDE, 25) == ("refused", WSAECONNREFUSED)
    assert verdict(policy, "connect", OUTSIDE, 80) == ("allowed", 0)
    assert verdict(policy, "connect", "192.0.2.3", 80) == ("allowed", 0)   # not WSAETIMEDOUT
    assert verdict(policy, "sendto", OTHER, 53, "udp") == ("allowed", 0)
    assert verdict(policy, "connect", OTHER, 53, "udp") == ("refused", WSAEHOSTUNREACH)
    assert verdict(policy, "sendto", OTHER, 53, "tcp") == ("refused", WSAEHOSTUNREACH)
    assert verdict(policy, "connect", OTHER, 80) == ("refused", WSAEHOSTUNREACH)


def test_a_rules_error_applies_to_every_kind_it_refuses() -> None:
    policy = NetworkPolicy([Rule("refuse", network=OUTSIDE_NET, error=WSAETIMEDOUT)],
                           default="allow")
    for kind in ("connect", "sendto", "bind"):
        assert verdict(policy, kind, OUTSIDE) == ("refused", WSAETIMEDOUT), kind
    assert verdict(policy, "bind", OTHER) == ("allowed", 0)


@given(host=ipv4_addresses, port=st.integers(0, 65535), kind=st.sampled_from(["connect", "sendto"]),
       protocol=st.sampled_from(["tcp", "udp"]))
@settings(max_examples=200, deadline=None)
def test_loopback_only_allows_exactly_127_slash_8(host: str, port: int, kind: str,
                                                  protocol: str) -> None:
    policy = LOOPBACK_ONLY
    expected = ("allowed", 0) if host.startswith("127.") else ("refused", WSAENETUNREACH)
    assert verdict(policy, kind, host, port, protocol) == expected
    # The same address written as IPv4-mapped IPv6, as an IPv6 socket may send to it.
    assert verdict(policy, kind, f"::ffff:{host}", port, protocol) == expected



@given(host=ipv4_addresses)
@settings(max_examples=200, deadline=None)
def test_an_ipv4_mapped_address_meets_the_ipv4_rules(host: str) -> None:
    """A policy that refuses one IPv4 network and allows the rest: no way around the refusal
    through ::ffff:a.b.c.d (nor a scope id), and no refusal of what the IPv4 form may reach."""
    policy = MAPPED_POLICY
    plain = verdict(policy, "connect", host)
    assert plain == (("refused", WSAEHOSTUNREACH) if host.startswith("192.0.2.")
                     else ("allowed", 0))
    assert verdict(policy, "connect", f"::ffff:{host}") == plain
    assert verdict(policy, "connect", f"::ffff:{host}%1") == plain



def test_mapped_outside_address_is_refused_and_recorded_as_asked() -> None:
    policy = NetworkPolicy.loopback_only()
    decision = policy.decide("connect", "tcp", (f"::ffff:{OUTSIDE}", 80, 0, 0))
    assert (decision.verdict, decision.error) == ("refused", WSAENETUNREACH)
    assert policy.log[0].address == (f"::ffff:{OUTSIDE}", 80)
    assert verdict(policy, "connect", "::ffff:127.0.0.1") == ("allowed", 0)


def test_loopback_only_ipv6_and_wildcard_binds() -> None:
    policy = NetworkPolicy.loopback_only()
    assert verdict(policy, "connect", "::1") == ("allowed", 0)
    assert verdict(policy, "connect", OUTSIDE6) == ("refused", WSAENETUNREACH)
    assert verdict(policy, "connect", "::") == ("refused", WSAENETUNREACH)
    # A wildcard bind listens on loopback (same port); a specific outside address is refused.
    v4 = policy.decide("bind", "tcp", ("0.0.0.0", 4444))
    v6 = policy.decide("bind", "udp", ("::", 4444, 0, 0))
    assert (v4.verdict, v4.target, v4.attempt and v4.attempt.redirected_to) == (
        "redirected", ("127.0.0.1", 4444), ("127.0.0.1", 4444))
    assert (v6.verdict, v6.target) == ("redirected", ("::1", 4444, 0, 0))  # flow, scope kept
    assert verdict(policy, "bind", "127.0.0.5", 0) == ("allowed", 0)
    assert verdict(policy, "bind", OUTSIDE, 0) == ("refused", WSAEADDRNOTAVAIL)
    assert verdict(policy, "bind", OUTSIDE6, 0) == ("refused", WSAEADDRNOTAVAIL)


def test_allow_all_allows_everything() -> None:
    policy = NetworkPolicy.allow_all()
    for kind in ("connect", "sendto", "bind"):
        for host in (OUTSIDE, OUTSIDE6, "255.255.255.255", "0.0.0.0"):
            assert verdict(policy, kind, host) == ("allowed", 0), (kind, host)


def test_decide_takes_numeric_hosts_only() -> None:
    with pytest.raises(ValueError):
        NetworkPolicy.allow_all().decide("connect", "tcp", ("example.test", 80))


def test_redirect_rules_targets_and_the_other_family(policies: list[NetworkPolicy]) -> None:
    policy = NetworkPolicy([Rule("redirect", network=OUTSIDE_NET, ports=80, to=("127.0.0.1", 8080)),
                            Rule("redirect", network=OUTSIDE_NET, to="127.0.0.2"),
                            Rule("redirect", network=OTHER, to="::1")],
                           refuse_error=WSAEHOSTUNREACH)
    policies.append(policy)
    to_port = policy.decide("connect", "tcp", (OUTSIDE, 80))
    same_port = policy.decide("connect", "tcp", (OUTSIDE, 443))
    assert (to_port.verdict, to_port.target) == ("redirected", ("127.0.0.1", 8080))
    assert (same_port.verdict, same_port.target) == ("redirected", ("127.0.0.2", 443))
    # An IPv4 socket cannot go to ::1: refused, with the policy's code, and on record so.
    other = policy.decide("connect", "tcp", (OTHER, 80))
    assert (other.verdict, other.error, other.target) == ("refused", WSAEHOSTUNREACH, (OTHER, 80))
    assert [a.verdict for a in policy.log] == ["redirected", "redirected", "refused"]
    assert policy.log[0].redirected_to == ("127.0.0.1", 8080)
    assert policy.log[2].redirected_to is None


def test_redirect_without_a_target_goes_to_the_sink(policies: list[NetworkPolicy]) -> None:
    with Sink() as sink:
        policy = NetworkPolicy(default="redirect", sink=sink)
        policies.append(policy)
        assert policy.sink is sink
        first = policy.decide("connect", "tcp", (OUTSIDE, 80))
        again = policy.decide("connect", "tcp", (OUTSIDE, 80))
        other = policy.decide("connect", "tcp", (OUTSIDE, 81))
        datagram = policy.decide("sendto", "udp", (OUTSIDE, 80))
        assert first.verdict == "redirected" and first.target[0] == "127.0.0.1"
        assert again.target == first.target                      # one endpoint per destination
        assert len({first.target, other.target, datagram.target}) == 3
        assert first.attempt is not None and first.attempt.redirected_to == first.target


def test_a_redirected_bind_without_a_target_stays_on_loopback(
        policies: list[NetworkPolicy]) -> None:
    """The sink's endpoints are for outbound traffic (and in use): a bind that a policy
    redirects without a target is confined to loopback, at the port asked for."""
    threads = {t.name for t in threading.enumerate()}
    policy = NetworkPolicy(default="redirect")
    policies.append(policy)
    assert policy.decide("bind", "udp", ("0.0.0.0", 0)).target == ("127.0.0.1", 0)
    assert policy.decide("bind", "tcp", ("::", 8080, 0, 0)).target == ("::1", 8080, 0, 0)
    assert policy.decide("bind", "tcp", (OUTSIDE, 25)).target == ("127.0.0.1", 25)
    assert "ws2core-sink" not in {t.name for t in threading.enumerate()} - threads


def test_sinkhole_verdicts(policies: list[NetworkPolicy]) -> None:
    policy = NetworkPolicy.sinkhole()
    policies.append(policy)
    tcp = policy.decide("connect", "tcp", (OUTSIDE, 80))
    six = policy.decide("sendto", "udp", (OUTSIDE6, 53, 0, 0))
    assert (tcp.verdict, tcp.target[0]) == ("redirected", "127.0.0.1")
    assert (six.verdict, six.target[0], six.target[2:]) == ("redirected", "::1", (0, 0))
    assert verdict(policy, "connect", "127.0.0.1") == ("allowed", 0)      # loopback as itself
    for host in ("255.255.255.255", "224.0.0.251", "ff02::1"):           # no broadcasts
        assert verdict(policy, "sendto", host, 5353, "udp") == ("refused", WSAENETUNREACH)
    assert verdict(policy, "bind", OUTSIDE, 0) == ("refused", WSAEADDRNOTAVAIL)
    assert policy.decide("bind", "tcp", ("0.0.0.0", 0), record=False).target == ("127.0.0.1", 0)


@pytest.mark.isolated_network
def test_decisions_make_no_host_call_but_the_sinks_loopback_binds(
        host_calls: Any, policies: list[NetworkPolicy]) -> None:
    loopback, everything, sinkhole = (NetworkPolicy.loopback_only(), NetworkPolicy.allow_all(),
                                      NetworkPolicy.sinkhole())
    policies += [loopback, everything, sinkhole]
    for policy in (loopback, everything):
        for kind in ("connect", "sendto", "bind"):
            for host in (OUTSIDE, OUTSIDE6, "127.0.0.1"):
                policy.decide(kind, "udp", (host, 53))
        policy.resolve("localhost")
    assert host_calls.events == []
    sinkhole.decide("connect", "tcp", (OUTSIDE, 80))
    sinkhole.decide("sendto", "udp", (OTHER, 53))
    sinkhole.resolve("example.test")
    assert [call.event for call in host_calls.events] == ["socket.bind", "socket.bind"]
    assert host_calls.non_loopback() == []


# --- names ----------------------------------------------------------------------------------


def test_numeric_hosts_answer_themselves_without_a_record(no_host_resolver: list[str]) -> None:
    policy = NetworkPolicy.loopback_only()
    assert policy.resolve(OUTSIDE) == (OUTSIDE,)          # not a lookup, whatever the rules
    assert policy.resolve(OUTSIDE, 2) == (OUTSIDE,)
    assert policy.resolve(OUTSIDE6, 23) == (OUTSIDE6,)
    assert policy.resolve(f"::ffff:{OUTSIDE}", 23) == (f"::ffff:{OUTSIDE}",)
    for name, family in ((OUTSIDE, 23), (OUTSIDE6, 2), (f"::ffff:{OUTSIDE}", 2)):
        raises_winsock(WSAHOST_NOT_FOUND, policy.resolve, name, family)
    assert len(policy.log) == 0 and no_host_resolver == []


def test_names_table_case_trailing_dot_and_family(no_host_resolver: list[str]) -> None:
    policy = NetworkPolicy.loopback_only(names={"Printer.Test.": ["127.0.0.9", "::1"]})
    assert policy.resolve("localhost") == ("127.0.0.1", "::1")
    assert policy.resolve("LOCALHOST.") == ("127.0.0.1", "::1")
    assert policy.resolve("printer.test") == ("127.0.0.9", "::1")
    assert policy.resolve("PRINTER.TEST.", 2) == ("127.0.0.9",)
    assert policy.resolve("printer.test", 23) == ("::1",)
    only_v4 = NetworkPolicy.loopback_only(names={"v4.test": ["127.0.0.9"]})
    raises_winsock(WSAHOST_NOT_FOUND, only_v4.resolve, "v4.test", 23)
    assert only_v4.log[-1].verdict == "refused"
    # localhost may be overridden.
    assert NetworkPolicy(names={"localhost": ["127.0.0.2"]}).resolve("localhost") == ("127.0.0.2",)
    assert no_host_resolver == []


def test_resolve_argument_errors() -> None:
    policy = NetworkPolicy.loopback_only()
    with pytest.raises(TypeError):
        policy.resolve(b"localhost")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="family"):
        policy.resolve("localhost", 17)  # type: ignore[arg-type]
    assert len(policy.log) == 0


def test_unknown_name_is_wsahost_not_found_on_record(no_host_resolver: list[str]) -> None:
    policy = NetworkPolicy.loopback_only()
    error = raises_winsock(WSAHOST_NOT_FOUND, policy.resolve, "example.test")
    assert "example.test" in str(error)
    (attempt,) = policy.log
    assert (attempt.kind, attempt.protocol, attempt.address, attempt.verdict, attempt.error,
            attempt.answers) == ("resolve", "", ("example.test",), "refused",
                                 WSAHOST_NOT_FOUND, ())
    assert no_host_resolver == []   # the host's resolver was never asked


def test_only_allow_all_asks_the_hosts_resolver(monkeypatch: pytest.MonkeyPatch,
                                               policies: list[NetworkPolicy]) -> None:
    asked: list[Any] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        asked.append(host)
        if host != "www.example.test":
            raise socket.gaierror(socket.EAI_NONAME, "no such name")
        tcp, udp = socket.SOCK_STREAM, socket.SOCK_DGRAM
        return [(socket.AF_INET, tcp, 6, "", ("203.0.113.5", 0)),
                (socket.AF_INET, udp, 17, "", ("203.0.113.5", 0)),   # a duplicate, once
                (socket.AF_INET6, tcp, 6, "", ("2001:db8::5", 0, 0, 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    sinkhole = NetworkPolicy.sinkhole()
    policies.append(sinkhole)
    for policy in (NetworkPolicy.loopback_only(), NetworkPolicy(), sinkhole):
        try:
            policy.resolve("www.example.test")
        except WinsockError:
            pass
    assert asked == []
    everything = NetworkPolicy.allow_all()
    assert everything.resolve("www.example.test") == ("203.0.113.5", "2001:db8::5")
    assert everything.resolve("www.example.test", 2) == ("203.0.113.5",)
    assert everything.resolve("localhost") == ("127.0.0.1", "::1")   # the table first
    raises_winsock(WSAHOST_NOT_FOUND, everything.resolve, "nowhere.example.test")
    assert asked == ["www.example.test", "www.example.test", "nowhere.example.test"]
    assert [(a.verdict, a.answers) for a in everything.log] == [
        ("allowed", ("203.0.113.5", "2001:db8::5")), ("allowed", ("203.0.113.5",)),
        ("allowed", ("127.0.0.1", "::1")), ("refused", ())]


def test_sinkhole_answers_every_name(no_host_resolver: list[str],
                                     policies: list[NetworkPolicy]) -> None:
    policy = NetworkPolicy.sinkhole(names={"update.example.test": ["127.0.0.3"]})
    policies.append(policy)
    answers = policy.resolve("evil.example.test")
    assert answers == ("198.51.100.1", "2001:db8::1")
    documentation = ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
    for address in answers:  # documentation addresses: nobody's, so never a real host
        assert any(ipaddress.ip_address(address) in ipaddress.ip_network(net)
                   for net in documentation)
    assert policy.resolve("evil.example.test", 23) == ("2001:db8::1",)
    assert policy.resolve("update.example.test") == ("127.0.0.3",)
    first = policy.log[0]
    assert (first.kind, first.verdict, first.redirected_to, first.answers) == (
        "resolve", "redirected", answers, answers)
    assert policy.log[2].verdict == "allowed"      # from the table: no redirect
    assert no_host_resolver == []


# --- the record -----------------------------------------------------------------------------


def test_record_fields_and_frozen_attempts() -> None:
    policy = NetworkPolicy.loopback_only()
    refused = policy.decide("connect", "tcp", (OUTSIDE6, 443, 0, 0)).attempt
    assert refused is policy.log[0]
    assert (refused.kind, refused.protocol, refused.address, refused.verdict,
            refused.redirected_to, refused.error, refused.answers) == (
        "connect", "tcp", (OUTSIDE6, 443), "refused", None, WSAENETUNREACH, ())
    assert (refused.bytes_sent, refused.bytes_received) == (0, 0)
    assert abs(refused.time - time.time()) < 60
    for name in ("kind", "verdict", "error", "address"):
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(refused, name, None)
    assert policy.decide("bind", "tcp", ("0.0.0.0", 0), record=False).attempt is None
    assert len(policy.log) == 1
    assert isinstance(policy.log[-1], Attempt) and policy.log[0:1] == [refused]


def test_as_json_keys_and_values() -> None:
    policy = NetworkPolicy.loopback_only()
    attempt = policy.decide("sendto", "udp", (OUTSIDE, 53)).attempt
    assert attempt is not None
    data = attempt.as_json()
    assert set(data) == {"time", "kind", "protocol", "address", "verdict", "redirected_to",
                         "error", "error_name", "answers", "bytes_sent", "bytes_received"}
    assert data["address"] == [OUTSIDE, 53] and data["error_name"] == "WSAENETUNREACH"
    assert json.loads(json.dumps(data)) == data
    allowed = policy.decide("bind", "udp", ("0.0.0.0", 0)).attempt
    assert allowed is not None
    assert allowed.as_json()["error_name"] is None
    assert allowed.as_json()["redirected_to"] == ["127.0.0.1", 0]


def test_byte_counters_add_up_from_many_threads() -> None:
    attempt = NetworkPolicy.allow_all().decide("connect", "tcp", (OUTSIDE, 80)).attempt
    assert attempt is not None

    def count(i: int) -> None:
        for _ in range(1000):
            attempt.count(sent=1, received=2)

    assert run_threads(8, count) == []
    assert (attempt.bytes_sent, attempt.bytes_received) == (8000, 16000)
    assert attempt.as_json()["bytes_received"] == 16000


def test_record_is_complete_under_many_deciding_threads(frequent_switches: None,
                                                        tmp_path: Path) -> None:
    path = tmp_path / "attempts.jsonl"
    policy = NetworkPolicy.loopback_only(log_path=path)
    seen: list[Attempt] = []
    policy.log.subscribe(seen.append)
    threads, each = 8, 250

    def decide(i: int) -> None:
        for j in range(each):
            policy.decide("connect", "tcp", (OUTSIDE if j % 2 else "127.0.0.1", i * 1000 + j))

    assert run_threads(threads, decide) == []
    policy.close()
    ports = sorted(attempt.address[1] for attempt in policy.log)
    assert ports == sorted(i * 1000 + j for i in range(threads) for j in range(each))
    assert len(seen) == len(policy.log) and set(map(id, seen)) == set(map(id, policy.log))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert sorted(json.loads(line)["address"][1] for line in lines) == ports
    refused = [a for a in policy.log if a.verdict == "refused"]
    assert len(refused) == threads * each // 2 and all(a.address[0] == OUTSIDE for a in refused)


def test_subscribe_and_unsubscribe() -> None:
    policy = NetworkPolicy.loopback_only()
    seen: list[tuple[str, Any]] = []
    first = policy.log.subscribe(lambda attempt: seen.append(("first", attempt.address[1])))
    second = policy.log.subscribe(lambda attempt: seen.append(("second", attempt.address[1])))
    policy.decide("connect", "tcp", (OUTSIDE, 1))
    first()
    policy.decide("connect", "tcp", (OUTSIDE, 2))
    second()
    second()   # a second unsubscribe does nothing
    policy.decide("connect", "tcp", (OUTSIDE, 3))
    assert seen == [("first", 1), ("second", 1), ("second", 2)]
    assert len(policy.log) == 3


def test_a_raising_subscriber_is_logged_and_harmless(caplog: pytest.LogCaptureFixture) -> None:
    policy = NetworkPolicy.loopback_only()
    later: list[Attempt] = []

    def broken(attempt: Attempt) -> None:
        raise RuntimeError("subscriber bug")

    policy.log.subscribe(broken)
    policy.log.subscribe(later.append)
    with caplog.at_level(logging.ERROR, logger="ws2core.policy"):
        decision = policy.decide("connect", "tcp", (OUTSIDE, 80))
    assert (decision.verdict, decision.error) == ("refused", WSAENETUNREACH)
    assert later == [decision.attempt] and list(policy.log) == [decision.attempt]
    (record,) = [r for r in caplog.records if r.name == "ws2core.policy"]
    assert record.exc_info is not None and "subscriber bug" in str(record.exc_info[1])


def test_write_jsonl_round_trip(tmp_path: Path) -> None:
    policy = NetworkPolicy.loopback_only()
    connect = policy.decide("connect", "tcp", ("127.0.0.1", 80)).attempt
    policy.decide("sendto", "udp", (OUTSIDE, 53))
    with pytest.raises(WinsockError):
        policy.resolve("example.test")
    assert connect is not None
    connect.count(sent=5, received=7)     # counts as they are at the time of writing
    path = tmp_path / "log.jsonl"
    assert policy.log.write_jsonl(path) == 3
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [a.as_json() for a in policy.log]
    assert json.loads(lines[0])["bytes_sent"] == 5
    assert policy.log.write_jsonl(path) == 3       # overwritten, not appended
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3


def test_log_path_streams_a_line_per_decision_as_decided(tmp_path: Path) -> None:
    path = tmp_path / "stream.jsonl"
    path.write_text('{"earlier": true}\n', encoding="utf-8")   # appended to, not replaced
    with NetworkPolicy.loopback_only(log_path=path) as policy:
        for port in (1, 2):
            policy.decide("connect", "tcp", (OUTSIDE, port))
            lines = path.read_text(encoding="utf-8").splitlines()
            assert len(lines) == 1 + port          # written at once, not at close
            assert json.loads(lines[-1])["address"] == [OUTSIDE, port]
    policy.decide("connect", "tcp", (OUTSIDE, 3))  # closed: no longer streamed
    assert len(path.read_text(encoding="utf-8").splitlines()) == 3


def test_stream_to_switches_and_stops(tmp_path: Path) -> None:
    policy = NetworkPolicy.loopback_only()
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    policy.decide("connect", "tcp", (OUTSIDE, 1))      # before streaming: not in any file
    policy.log.stream_to(first)
    policy.decide("connect", "tcp", (OUTSIDE, 2))
    policy.log.stream_to(second)
    policy.decide("connect", "tcp", (OUTSIDE, 3))
    policy.log.stream_to(None)
    policy.decide("connect", "tcp", (OUTSIDE, 4))
    ports = [[json.loads(line)["address"][1] for line in p.read_text().splitlines()]
             for p in (first, second)]
    assert ports == [[2], [3]]


def test_repr_and_log_sequence() -> None:
    policy = NetworkPolicy.loopback_only()
    assert "loopback only" in repr(policy)
    policy.decide("connect", "tcp", (OUTSIDE, 1))
    assert "1 attempts" in repr(policy.log) and len(policy.log) == 1
    snapshot = iter(policy.log)
    policy.decide("connect", "tcp", (OUTSIDE, 2))
    assert len(list(snapshot)) == 1        # iteration sees the log as it was


def test_run_summary_line_counts_attempts_by_verdict(no_host_resolver: list[str],
                                                     policies: list[NetworkPolicy]) -> None:
    """The last line of ``python -m ws2core run`` (ws2core._run.network_summary)."""
    from ws2core._run import network_summary

    policy = NetworkPolicy.loopback_only()
    policy.decide("sendto", "udp", (OUTSIDE6, 53, 0, 0))
    policy.decide("connect", "tcp", (OUTSIDE, 80))
    policy.decide("bind", "tcp", ("127.0.0.1", 0))
    with pytest.raises(WinsockError):
        policy.resolve("example.test")
    assert network_summary(policy.log) == (
        "4 attempts: 3 refused (sendto [2001:db8::7]:53, WSAENETUNREACH and 2 more),"
        " 1 allowed (bind 127.0.0.1:0)")
    sinkhole = NetworkPolicy.sinkhole()
    policies.append(sinkhole)
    sinkhole.resolve("example.test")
    assert network_summary(sinkhole.log) == "1 attempt: 1 redirected (resolve example.test)"
