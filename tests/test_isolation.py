"""The harness that keeps the network policy's tests off the network (tests/isolation.py and the
``isolated_network`` section of tests/conftest.py).

1. A test marked ``isolated_network`` runs in a network namespace of its own: only ``lo``, up;
   WS2CORE_ISOLATED_NETWORK=1; a UDP datagram to 192.0.2.1 fails with ENETUNREACH (checked
   only once the namespace is proven, so a broken harness sends nothing), and loopback TCP
   works.  An unmarked test is not in one (when the suite runs outside one).
2. ``host_calls`` records a connect to 192.0.2.1:9 (which fails there: nothing leaves) and a
   bind, with their addresses, from any thread; the record's shapes for every event and its
   filters are checked without a hook.
3. The outer test's outcome follows the inner one's: a pytest run (pytester) of marked tests
   that pass (parametrized, odd ids), fail, xfail and skip reports exactly that, and an
   unmarked test taking ``host_calls`` errors saying why.  Where no namespace can be made, a
   marked test skips saying why, and fails under CI=true.

Every test here that needs a namespace skips where none can be made (fails under CI=true).
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from isolation import (
    ENV_VAR,
    FALLBACK_TUNNELS,
    HostCall,
    HostCallRecorder,
    inside_isolated_namespace,
    interfaces,
    ipv6_loopback_unavailable,
    isolated_command,
    isolation_unavailable,
    stray_interfaces,
)
from support import missing

HERE = Path(__file__).resolve().parent
DOCUMENTATION_ADDRESS = "192.0.2.1"  # TEST-NET-1 (RFC 5737): never anyone's host
DISCARD_PORT = 9


def require_isolation() -> None:
    reason = isolation_unavailable()
    if reason is not None:
        missing(reason)


def own_interfaces() -> list[str]:
    return [name for name in interfaces() if name not in FALLBACK_TUNNELS]


def network_namespace(pid: int | str = "self") -> str:
    return os.readlink(f"/proc/{pid}/ns/net")


# ---------------------------------------------------------------------------------------------
# 1. Where the tests run


@pytest.mark.isolated_network
def test_marked_test_runs_in_a_namespace_of_its_own() -> None:
    assert os.environ.get(ENV_VAR) == "1"
    assert inside_isolated_namespace()
    assert own_interfaces() == ["lo"]
    assert stray_interfaces() == []
    # Not the namespace of the process that started this one (the outer pytest, or the shell
    # that ran tests/isolation.py): a new one.
    assert network_namespace() != network_namespace(os.getppid())


@pytest.mark.isolated_network
def test_marked_test_has_loopback_and_no_route_off_it() -> None:
    # Proven first, so that a harness that ran this outside sends nothing.
    assert inside_isolated_namespace() and own_interfaces() == ["lo"]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender, \
            pytest.raises(OSError) as excinfo:
        sender.sendto(b"x", (DOCUMENTATION_ADDRESS, DISCARD_PORT))
    assert excinfo.value.errno == errno.ENETUNREACH

    families = [(socket.AF_INET, "127.0.0.1")]
    if ipv6_loopback_unavailable() is None:
        families.append((socket.AF_INET6, "::1"))
    for family, address in families:
        with socket.socket(family, socket.SOCK_STREAM) as listener:
            listener.bind((address, 0))
            listener.listen()
            with socket.create_connection(listener.getsockname()[:2], timeout=10) as client:
                server, _ = listener.accept()
                with server:
                    client.sendall(b"ping")
                    assert server.recv(4) == b"ping"


def test_unmarked_test_is_not_in_a_namespace() -> None:
    if os.environ.get(ENV_VAR) == "1":
        pytest.skip("this whole run is inside a namespace of tests/isolation.py")
    assert not inside_isolated_namespace()


def test_isolated_command_runs_a_command_in_a_fresh_namespace() -> None:
    require_isolation()
    probe = (f"import json, os, socket; print(json.dumps([os.environ.get({ENV_VAR!r}), "
             "[name for _, name in socket.if_nameindex()], os.readlink('/proc/self/ns/net')]))")
    done = subprocess.run(isolated_command([sys.executable, "-c", probe]), check=False,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    variable, names, namespace = json.loads(done.stdout)
    assert variable == "1"
    assert [name for name in names if name not in FALLBACK_TUNNELS] == ["lo"]
    assert namespace != network_namespace()


# ---------------------------------------------------------------------------------------------
# 2. The record of host calls


@pytest.mark.isolated_network
def test_host_calls_records_a_connect_and_a_bind(host_calls: HostCallRecorder) -> None:
    assert inside_isolated_namespace() and own_interfaces() == ["lo"]
    assert host_calls.events == []  # cleared when the test began
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as bound:
        bound.bind(("127.0.0.1", 0))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client, \
            pytest.raises(OSError) as excinfo:
        client.connect((DOCUMENTATION_ADDRESS, DISCARD_PORT))
    assert excinfo.value.errno == errno.ENETUNREACH

    bind = HostCall("socket.bind", ("127.0.0.1", 0), "AF_INET", "SOCK_DGRAM")
    connect = HostCall("socket.connect", (DOCUMENTATION_ADDRESS, DISCARD_PORT), "AF_INET",
                       "SOCK_STREAM")
    assert host_calls.events == [bind, connect]
    assert host_calls.of("bind") == [bind]
    assert host_calls.to(DOCUMENTATION_ADDRESS) == [connect]
    assert host_calls.non_loopback() == [connect]
    assert json.loads(json.dumps(connect._asdict()))["address"] == [DOCUMENTATION_ADDRESS,
                                                                     DISCARD_PORT]


@pytest.mark.isolated_network
def test_host_calls_records_every_event_from_any_thread(host_calls: HostCallRecorder) -> None:
    assert inside_isolated_namespace() and own_interfaces() == ["lo"]

    def calls() -> None:  # numeric addresses only: no lookup reaches a resolver
        socket.getaddrinfo("127.0.0.1", 7, socket.AF_INET, socket.SOCK_DGRAM)
        socket.gethostbyname("127.0.0.1")
        socket.getnameinfo(("127.0.0.1", 7), socket.NI_NUMERICHOST | socket.NI_NUMERICSERV)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            udp.sendto(b"a", udp.getsockname())
            udp.sendmsg([b"b"], [], 0, udp.getsockname())
            udp.connect(udp.getsockname())
            udp.sendmsg([b"c"])

    worker = threading.Thread(target=calls)
    worker.start()
    worker.join(60)
    events = [call.event for call in host_calls.events]
    assert events == ["socket.getaddrinfo", "socket.gethostbyname", "socket.getnameinfo",
                      "socket.bind", "socket.sendto", "socket.sendmsg", "socket.connect",
                      "socket.sendmsg"]
    assert host_calls.events[0] == HostCall("socket.getaddrinfo", ("127.0.0.1", 7), "AF_INET",
                                            "SOCK_DGRAM")
    assert host_calls.events[-1].address is None  # sendmsg on a connected socket
    assert host_calls.non_loopback() == []


def test_host_call_shapes_and_filters() -> None:
    """The record of each event's arguments, fed to a recorder that is no audit hook."""
    recorder = HostCallRecorder()
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as udp6, \
            socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix:
        recorder.record("socket.__new__", (udp6, socket.AF_INET6, socket.SOCK_DGRAM, 0))
        recorder.record("open", ("/etc/hosts", "r", 0))
        recorder.record("socket.sendto", (udp6, ("2001:db8::1", 53, 0, 0)))
        recorder.record("socket.sendmsg", (udp6, ("::ffff:127.0.0.1", 53, 0, 0)))
        recorder.record("socket.sendmsg", (udp6, None))
        recorder.record("socket.bind", (udp6, ("::", 0, 0, 0)))
        recorder.record("socket.connect", (unix, "/run/some.sock"))
        recorder.record("socket.bind", (unix, b"\0abstract"))
    recorder.record("socket.getaddrinfo", (b"example.com", "http", 0, 0, 0))
    recorder.record("socket.getaddrinfo", (None, 80, socket.AF_INET, socket.SOCK_STREAM, 6))
    recorder.record("socket.gethostbyname", ("LocalHost",))
    recorder.record("socket.gethostbyaddr", ("192.0.2.7",))
    recorder.record("socket.getnameinfo", (("127.0.0.2", 80),))
    recorder.record("socket.connect", ("not a (socket, address) pair",))

    assert recorder.events == [
        HostCall("socket.sendto", ("2001:db8::1", 53, 0, 0), "AF_INET6", "SOCK_DGRAM"),
        HostCall("socket.sendmsg", ("::ffff:127.0.0.1", 53, 0, 0), "AF_INET6", "SOCK_DGRAM"),
        HostCall("socket.sendmsg", None, "AF_INET6", "SOCK_DGRAM"),
        HostCall("socket.bind", ("::", 0, 0, 0), "AF_INET6", "SOCK_DGRAM"),
        HostCall("socket.connect", "/run/some.sock", "AF_UNIX", "SOCK_STREAM"),
        HostCall("socket.bind", "\0abstract", "AF_UNIX", "SOCK_STREAM"),
        HostCall("socket.getaddrinfo", ("example.com", "http"), "AF_UNSPEC", None),
        HostCall("socket.getaddrinfo", (None, 80), "AF_INET", "SOCK_STREAM"),
        HostCall("socket.gethostbyname", ("LocalHost",), None, None),
        HostCall("socket.gethostbyaddr", ("192.0.2.7",), None, None),
        HostCall("socket.getnameinfo", ("127.0.0.2", 80), None, None),
        HostCall("socket.connect", "('not a (socket, address) pair',)", None, None),
    ]
    assert [call.loopback for call in recorder.events] == [
        False, True, None, False, True, True, False, True, True, False, True, False]
    assert [call.host for call in recorder.of("sendto", "socket.bind")] == [
        "2001:db8::1", "::", None]
    assert recorder.to("2001:DB8:0::1") == recorder.events[:1]
    assert recorder.to("localhost") == recorder.events[8:9]
    assert [call.event for call in recorder.non_loopback()] == [
        "socket.sendto", "socket.bind", "socket.getaddrinfo", "socket.gethostbyaddr",
        "socket.connect"]
    assert all(json.dumps(call._asdict()) for call in recorder.events)
    recorder.clear()
    assert recorder.events == []


# ---------------------------------------------------------------------------------------------
# 3. The outer outcome is the inner one's

MARKED = """
import os
import pytest

inside = os.environ.get("WS2CORE_ISOLATED_NETWORK") == "1"


@pytest.mark.isolated_network
@pytest.mark.parametrize("name", ["plain", "with space", "br[a]ck::ets"])
def test_passes(name):
    assert inside


@pytest.mark.isolated_network
def test_fails():
    print("printed inside")
    assert inside and 1 + 1 == 3


@pytest.mark.isolated_network
@pytest.mark.xfail(reason="known inside", strict=True)
def test_xfails():
    assert not inside


@pytest.mark.isolated_network
def test_skips():
    pytest.skip("skipped inside" if inside else "skipped outside")


def test_host_calls_unmarked(host_calls):
    pass
"""


def run_marked(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
               source: str, *args: str) -> pytest.RunResult:
    """A pytest run, in a subprocess, of ``source`` beside a copy of the suite's conftest."""
    pytester.makeconftest((HERE / "conftest.py").read_text())
    pytester.makepyfile(test_marked=source)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(HERE), *filter(None, [os.environ.get("PYTHONPATH")])]))
    monkeypatch.delenv(ENV_VAR, raising=False)
    # Without the plugins it needs not: the hypothesis plugin alone would double its cost.
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-p", "no:hypothesispytest",
                                         "-p", "no:benchmark", "-rA", *args)


def test_outer_outcome_is_the_inner_one(pytester: pytest.Pytester,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    if os.environ.get(ENV_VAR) == "1":
        pytest.skip("this whole run is inside a namespace: marked tests run directly")
    require_isolation()
    result = run_marked(pytester, monkeypatch, MARKED)
    result.assert_outcomes(passed=3, failed=1, xfailed=1, skipped=1, errors=1)
    output = result.stdout.str()
    assert "assert (True and (1 + 1) == 3)" in output
    assert "printed inside" in output
    assert "SKIPPED [1] test_marked.py:27: skipped inside" in output
    assert "XFAIL test_marked.py::test_xfails - known inside" in output
    assert "host_calls records only inside a network namespace" in output
    for name in ["plain", "with space", "br[a]ck::ets"]:
        assert f"PASSED test_marked.py::test_passes[{name}]" in output


@pytest.mark.parametrize("ci", ["", "true"])
def test_without_a_namespace_marked_tests_skip_or_fail_under_ci(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    if os.environ.get(ENV_VAR) == "1":
        pytest.skip("this whole run is inside a namespace: marked tests run directly")
    monkeypatch.setenv("PATH", str(pytester.mkdir("empty")))  # no unshare to be found
    monkeypatch.setenv("CI", ci)
    result = run_marked(pytester, monkeypatch, "import pytest\n\n\n"
                        "@pytest.mark.isolated_network\ndef test_marked():\n    pass\n")
    reason = "unshare is not installed (util-linux), so no network namespace can be made"
    if ci:
        result.assert_outcomes(failed=1)
        assert "CI=true: a missing tool fails instead of skipping" in result.stdout.str()
    else:
        result.assert_outcomes(skipped=1)
    assert reason in result.stdout.str()
