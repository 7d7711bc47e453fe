"""A network namespace of their own for the tests that name non-loopback addresses, and a record
of the socket calls made in it (DESIGN.md section 4: nothing leaves the machine unless someone
said so).

Tests of the network policy use the documentation ranges (192.0.2.0/24, 198.51.100.0/24,
203.0.113.0/24).  A policy bug that let one of them through would send real packets; in a
network namespace where only ``lo`` is up there is no route for them (ENETUNREACH), so the bug
fails a test instead of reaching a network.  The second wall is the record: an audit hook
(``sys.addaudithook``) sees each socket call before the host does, so a test can also assert
that a refused attempt made no host call at all.

Three uses:

- helpers, ``from isolation import ...`` (tests/ is not a package): ``isolation_unavailable()``,
  ``isolated_command(argv)``, ``inside_isolated_namespace()``, ``loopback_up()``, and
  ``HOST_CALLS``, the audit hook's record (``HostCallRecorder`` of ``HostCall``);
- a script, ``python tests/isolation.py -- COMMAND [ARG...]``: COMMAND runs in a fresh network
  namespace with ``lo`` up and WS2CORE_ISOLATED_NETWORK=1 in its environment (the Makefile runs
  the Windows programs' tests so).  ``--or-unisolated`` first: where no namespace can be made
  and CI is not true, COMMAND runs as it is, saying why on stderr;
- tests/conftest.py builds the pytest side on it: the ``isolated_network`` marker (a marked
  test runs in such a namespace, in a pytest subprocess when the suite is outside one) and the
  ``host_calls`` fixture.

The standard library only: the script starts every isolated run, and importing pytest would
add 0.15 s to each.  Linux only (network namespaces), and root: ``unshare --net`` needs
CAP_SYS_ADMIN.
"""

from __future__ import annotations

import errno
import fcntl
import functools
import ipaddress
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

SCRIPT = Path(__file__).resolve()
ENV_VAR = "WS2CORE_ISOLATED_NETWORK"  # "1" in the environment of a command run in a namespace
IN_NAMESPACE = "--in-namespace"       # the script's second step, already inside (see main)
OR_UNISOLATED = "--or-unisolated"

# Devices the kernel adds to every new network namespace while their module is loaded (ipip,
# sit, ip6_tunnel, ip_gre, ip_vti...): fallback tunnels, created down, that carry nothing until
# configured.  Tolerated when down; any other interface means this is not our namespace.
FALLBACK_TUNNELS = frozenset({"tunl0", "sit0", "ip6tnl0", "gre0", "gretap0", "erspan0",
                              "ip_vti0", "ip6_vti0", "ip6gre0"})

# <linux/sockios.h>, <net/if.h>
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1
IFF_RUNNING = 0x40
# struct ifreq: the name, then a union whose first member is the flags (short); 40 bytes on
# 64-bit Linux, more than the 32 bytes of 32-bit Linux, which the kernel reads no further than.
_IFREQ = struct.Struct("16sH22x")

IPV6_WAIT = 1.0  # ::1 on a loopback just brought up, in seconds (it is there at once, measured)


class IsolationError(RuntimeError):
    """A namespace is not what the helper promised (an interface besides lo, no 127.0.0.1)."""


# ---------------------------------------------------------------------------------------------
# The namespace


@functools.cache
def isolation_unavailable() -> str | None:
    """None when this machine can make a network namespace, else the sentence saying why not.
    Tried once per process (``unshare --net true``, a few milliseconds)."""
    if not sys.platform.startswith("linux"):
        return f"network namespaces are Linux's, and this is {sys.platform}"
    unshare = shutil.which("unshare")
    if unshare is None:
        return "unshare is not installed (util-linux), so no network namespace can be made"
    try:
        done = subprocess.run([unshare, "--net", "true"], check=False, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"`unshare --net true` could not run: {error}"
    if done.returncode != 0:
        who = "" if os.geteuid() == 0 else f"; it needs root, and this is uid {os.geteuid()}"
        said = done.stderr.strip() or f"exit status {done.returncode}"
        return f"`unshare --net true` failed ({said}){who}"
    return None


def isolated_command(argv: Sequence[str]) -> list[str]:
    """The command that runs ``argv`` in a fresh network namespace with only ``lo``, up, and
    WS2CORE_ISOLATED_NETWORK=1 set.  Each run has a namespace of its own, gone when its last
    process exits.  Check ``isolation_unavailable()`` first."""
    return [shutil.which("unshare") or "unshare", "--net", "--",
            sys.executable, str(SCRIPT), IN_NAMESPACE, "--", *argv]


def interfaces() -> list[str]:
    """The names of this network namespace's interfaces."""
    return [name for _, name in socket.if_nameindex()]


def _flags(probe: socket.socket, name: str) -> int:
    request = _IFREQ.pack(name.encode(), 0)
    return int(_IFREQ.unpack(fcntl.ioctl(probe, SIOCGIFFLAGS, request))[1])


def stray_interfaces() -> list[str]:
    """The interfaces here besides ``lo`` that could carry a packet (all but the kernel's
    fallback tunnels while they are down)."""
    others = [name for name in interfaces() if name != "lo"]
    if not others:
        return []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        return [name for name in others
                if name not in FALLBACK_TUNNELS or _flags(probe, name) & IFF_UP]


def inside_isolated_namespace() -> bool:
    """True when this process runs in a namespace made by this module (WS2CORE_ISOLATED_NETWORK
    is "1") and the namespace has no interface but ``lo`` that could carry a packet; the
    variable set where other interfaces exist is an IsolationError, not a no."""
    if os.environ.get(ENV_VAR) != "1":
        return False
    stray = stray_interfaces()
    if stray:
        raise IsolationError(
            f"{ENV_VAR}=1, but this network namespace has interfaces besides lo: "
            f"{', '.join(stray)}; it was not made by tests/isolation.py")
    return True


def loopback_up() -> str | None:
    """Brings ``lo`` up in this network namespace (a new one has it down: not even 127.0.0.1
    answers) with the SIOCSIFFLAGS ioctl, no ``ip`` tool needed.  An IsolationError if
    127.0.0.1 cannot be bound then; returns None when ::1 can be bound too, else the sentence
    saying why it cannot (IPv6 off in the kernel or for the namespace)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        flags = _flags(probe, "lo")
        # IFF_RUNNING is the kernel's to set (the link has a carrier); asking is harmless.
        fcntl.ioctl(probe, SIOCSIFFLAGS, _IFREQ.pack(b"lo", flags | IFF_UP | IFF_RUNNING))
        if not _flags(probe, "lo") & IFF_UP:
            raise IsolationError("lo is still down after SIOCSIFFLAGS")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", 0))
        except OSError as error:
            raise IsolationError(f"lo is up, but 127.0.0.1 cannot be bound: {error}") from None
    return ipv6_loopback_unavailable()


def ipv6_loopback_unavailable(wait: float = IPV6_WAIT) -> str | None:
    """None when ::1 can be bound here, else why not.  The kernel assigns ::1 when ``lo`` comes
    up; this waits up to ``wait`` seconds for it."""
    if not socket.has_ipv6:
        return "::1 is unavailable: this Python was built without IPv6"
    try:
        probe = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    except OSError as error:
        return f"::1 is unavailable: IPv6 is off in this kernel ({error.strerror})"
    deadline = time.monotonic() + wait
    with probe:
        while True:
            try:
                probe.bind(("::1", 0))
                return None
            except OSError as error:
                if error.errno != errno.EADDRNOTAVAIL:
                    return f"::1 is unavailable: binding it fails with {error}"
            if time.monotonic() >= deadline:
                break
            time.sleep(0.01)
    try:
        disabled = Path("/proc/sys/net/ipv6/conf/lo/disable_ipv6").read_text().strip()
    except OSError:
        disabled = ""
    if disabled == "1":
        return "::1 is unavailable: IPv6 is disabled on lo (net.ipv6.conf.lo.disable_ipv6 = 1)"
    return f"::1 is unavailable: lo has no ::1 {wait} s after coming up"


# ---------------------------------------------------------------------------------------------
# The record of host calls: an audit hook

# The audit events (CPython's table, "socket.*") of every call that names a host: the socket
# methods' arguments are (socket, address), the lookups' their own.  gethostbyname_ex raises
# socket.gethostbyname too; connect_ex raises socket.connect.
SOCKET_EVENTS = frozenset({"socket.bind", "socket.connect", "socket.sendto", "socket.sendmsg"})
LOOKUP_EVENTS = frozenset({"socket.getaddrinfo", "socket.gethostbyname",
                           "socket.gethostbyaddr", "socket.getnameinfo"})
RECORDED_EVENTS = SOCKET_EVENTS | LOOKUP_EVENTS

_LOCALHOST = frozenset({"localhost", "localhost."})


class HostCall(NamedTuple):
    """One socket call the host was asked to make, JSON-friendly (``json.dumps(call._asdict())``):
    strings, numbers, None and tuples; bytes decoded (UTF-8, backslash escapes)."""

    event: str          # the audit event: "socket.connect"
    address: Any        # what it names: the address as given to bind/connect/sendto/sendmsg
                        # (("192.0.2.1", 9); None: sendmsg without one), getnameinfo's sockaddr,
                        # (host, port) of getaddrinfo, (name,) of gethostbyname, (ip,) of
                        # gethostbyaddr
    family: str | None  # the socket's family ("AF_INET", "AF_UNIX"), getaddrinfo's argument
    type: str | None    # the socket's type ("SOCK_DGRAM"), getaddrinfo's argument (None if 0)

    @property
    def host(self) -> str | None:
        """The host the call names (an address or a name), None if it names none."""
        if self.family not in (None, "AF_INET", "AF_INET6", "AF_UNSPEC"):
            return None  # AF_UNIX paths, AF_NETLINK pairs: no host
        if isinstance(self.address, tuple) and self.address and isinstance(self.address[0], str):
            return self.address[0]
        return None

    @property
    def port(self) -> int | str | None:
        if self.host is not None and len(self.address) > 1:
            port: int | str | None = self.address[1]
            return port
        return None

    @property
    def loopback(self) -> bool | None:
        """True when the call can only reach this machine, False when it names anything else
        (an address off loopback, a wildcard, a broadcast, a name but localhost), None when it
        names no address (sendmsg on a connected socket)."""
        if self.family not in (None, "AF_INET", "AF_INET6", "AF_UNSPEC"):
            return True
        if self.address is None:
            return None
        if self.event in LOOKUP_EVENTS and self.host is None:
            return True  # getaddrinfo(None, port): the wildcard or loopback, no query made
        return self.host is not None and is_loopback_host(self.host)


def is_loopback_host(host: str) -> bool:
    """127.0.0.0/8, ::1 (also IPv4-mapped, or with a scope) and localhost; not "" (the
    wildcard), "<broadcast>" or any other name."""
    if host.lower() in _LOCALHOST:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _plain(value: Any) -> Any:
    """value made JSON-friendly: tuples kept (json writes them as lists), bytes decoded."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).decode("utf-8", "backslashreplace")
    if isinstance(value, (tuple, list)):
        return tuple(_plain(item) for item in value)
    return repr(value)


def _enum_name(kind: type[socket.AddressFamily | socket.SocketKind], value: Any) -> str | None:
    if not isinstance(value, int) or value == 0 and kind is socket.SocketKind:
        return None
    try:
        return kind(value).name
    except ValueError:
        return str(value)


def host_call(event: str, args: tuple[Any, ...]) -> HostCall:
    """The HostCall of one audit event of RECORDED_EVENTS and its arguments."""
    if event in SOCKET_EVENTS:
        sock, address = args
        return HostCall(event, _plain(address),
                        _enum_name(socket.AddressFamily, getattr(sock, "family", None)),
                        _enum_name(socket.SocketKind, getattr(sock, "type", None)))
    if event == "socket.getaddrinfo":
        host, port, family, kind, _protocol = args
        return HostCall(event, (_plain(host), _plain(port)),
                        _enum_name(socket.AddressFamily, family),
                        _enum_name(socket.SocketKind, kind))
    if event == "socket.getnameinfo":
        return HostCall(event, _plain(args[0]), None, None)
    return HostCall(event, _plain(args), None, None)  # gethostbyname (name,), gethostbyaddr (ip,)


class HostCallRecorder:
    """The socket calls of this process that name a host, in order, from any thread.  An audit
    hook cannot be removed, so there is one recorder per process (HOST_CALLS), installed at
    its first use and cleared by each test (the host_calls fixture)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[HostCall] = []
        self._installed = False

    def install(self) -> None:
        with self._lock:
            if not self._installed:
                sys.addaudithook(self.record)
                self._installed = True

    def record(self, event: str, args: tuple[Any, ...]) -> None:
        """The audit hook: keeps the events of RECORDED_EVENTS, ignores the others."""
        # Called for every audit event of the process (imports, opens...): return fast.
        if event not in RECORDED_EVENTS:
            return
        try:
            call = host_call(event, args)
        except Exception:  # noqa: BLE001 - raising here would fail the socket call itself
            call = HostCall(event, repr(args), None, None)
        with self._lock:
            self._calls.append(call)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    @property
    def events(self) -> list[HostCall]:
        """A snapshot of the calls recorded since the last clear()."""
        with self._lock:
            return list(self._calls)

    def of(self, *events: str) -> list[HostCall]:
        """The calls of these events ("socket.connect", or "connect" for short)."""
        wanted = {event if "." in event else f"socket.{event}" for event in events}
        return [call for call in self.events if call.event in wanted]

    def to(self, host: str) -> list[HostCall]:
        """The calls that name ``host`` (addresses compared as addresses: "::1" is
        "0:0:0:0:0:0:0:1"; names case-insensitively)."""
        wanted = _host_key(host)
        return [call for call in self.events
                if call.host is not None and _host_key(call.host) == wanted]

    def non_loopback(self) -> list[HostCall]:
        """The calls that name anything but this machine (HostCall.loopback is False)."""
        return [call for call in self.events if call.loopback is False]


def _host_key(host: str) -> object:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return host.lower()


HOST_CALLS = HostCallRecorder()


# ---------------------------------------------------------------------------------------------
# The script

USAGE = f"usage: {SCRIPT.name} [{OR_UNISOLATED}] -- COMMAND [ARG...]"


def _say(message: str) -> None:
    print(f"{SCRIPT.name}: {message}", file=sys.stderr, flush=True)


def _exec(command: Sequence[str]) -> int:
    try:
        os.execvp(command[0], list(command))
    except OSError as error:
        _say(f"cannot run {command[0]}: {error}")
    return 127


def main(argv: Sequence[str]) -> int:
    """Run COMMAND in a fresh network namespace: ``unshare --net`` runs this script again
    (IN_NAMESPACE), which brings lo up, sets WS2CORE_ISOLATED_NETWORK=1 and becomes COMMAND
    (exec: its exit status is COMMAND's)."""
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        _say(USAGE)
        return 2
    split = argv.index("--")
    options, command = list(argv[:split]), list(argv[split + 1:])
    if options == [IN_NAMESPACE]:
        stray = stray_interfaces()
        if stray:  # run by hand outside `unshare --net`
            _say(f"{IN_NAMESPACE}: this namespace has interfaces besides lo "
                 f"({', '.join(stray)}); run {USAGE.removeprefix('usage: ')}")
            return 125
        ipv6 = loopback_up()
        if ipv6 is not None:
            _say(ipv6)
        os.environ[ENV_VAR] = "1"
        return _exec(command)
    if options not in ([], [OR_UNISOLATED]):
        _say(USAGE)
        return 2
    reason = isolation_unavailable()
    if reason is None:
        return _exec(isolated_command(command))
    if options and os.environ.get("CI", "").lower() != "true":
        _say(f"{reason}: running {command[0]} without a network namespace of its own")
        return _exec(command)
    _say(f"{reason}" + (" (CI=true: no run without the namespace)" if options else ""))
    return 125


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
