"""Name lookups (issue 19): ``Ws2_32``'s gethostbyname, gethostbyaddr, getaddrinfo,
getnameinfo and inet_ntoa in Python forms (layer 3), and the exports of
``ws2core.guest.names`` over a fake guest on both ABIs (layer 4).

Every lookup is the network policy's: a name it refuses or does not know is WSAHOST_NOT_FOUND
and on its record, a sinkhole answers with its documentation address, a reverse lookup
answers from the policy's table.  The guest's structures are checked byte by byte in each
ABI's layout (HOSTENT, ADDRINFOA, ADDRINFOW), as are the per-thread hostent and inet_ntoa
buffers and the release of an addrinfo chain.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from types import ModuleType

import pytest

import ws2core
from ws2core import Ref
from ws2core.constants import (
    AF_INET,
    AF_INET6,
    AI_ALL,
    AI_CANONNAME,
    AI_NUMERICHOST,
    AI_PASSIVE,
    AI_V4MAPPED,
    IPPROTO_TCP,
    NI_NAMEREQD,
    NI_NUMERICHOST,
    NI_NUMERICSERV,
    SOCK_DGRAM,
    SOCK_STREAM,
    WSA_NOT_ENOUGH_MEMORY,
    WSAEAFNOSUPPORT,
    WSAEFAULT,
    WSAEINVAL,
    WSAESOCKTNOSUPPORT,
    WSAHOST_NOT_FOUND,
    WSANO_DATA,
    WSANO_RECOVERY,
    WSANOTINITIALISED,
    WSATYPE_NOT_FOUND,
)
from ws2core.guest import Exports, GuestFault
from ws2core.policy import NetworkPolicy
from ws2core.ws2_32 import ADDRINFO, HOSTENT, Ws2_32

from guest_support import abi, guest_table  # noqa: F401  (fixtures)
from guest_support import Caller, FakeGuest

LOOPBACK = bytes([127, 0, 0, 1])


# --- layer 3


@pytest.fixture
def ws(ws2core_core: ModuleType) -> Iterator[Ws2_32]:
    with Ws2_32(ws2core.UpcallTable(ws2core_core.HandleTable())) as api:
        assert api.WSAStartup(0x0202, Ref()) == 0
        yield api


def test_lookups_need_wsastartup(ws2core_core: ModuleType) -> None:
    with Ws2_32(ws2core.UpcallTable(ws2core_core.HandleTable())) as ws:
        assert ws.gethostbyname("localhost") is None
        assert ws.WSAGetLastError() == WSANOTINITIALISED
        result = Ref(1)
        assert ws.getaddrinfo("localhost", None, None, result) == WSANOTINITIALISED
        assert result.value is None and ws.WSAGetLastError() == WSANOTINITIALISED
        assert ws.getnameinfo(("127.0.0.1", 80), 16, Ref(), 64, None, 0,
                              NI_NUMERICHOST) == WSANOTINITIALISED
        assert ws.inet_ntoa(LOOPBACK) == "127.0.0.1"   # a conversion: no start-up needed
        assert len(ws.policy.log) == 0


def test_gethostbyname_asks_the_policy(ws: Ws2_32) -> None:
    assert ws.gethostbyname("LocalHost.") == HOSTENT("LocalHost.", (), AF_INET, 4, (LOOPBACK,))
    assert ws.WSAGetLastError() == 0
    assert ws.gethostbyname("192.0.2.7").h_addr_list == (bytes([192, 0, 2, 7]),)
    assert ws.gethostbyname(None).h_name == ws.policy.hostname   # the local host's name
    assert ws.gethostbyname("").h_addr_list == (LOOPBACK,)
    assert ws.gethostbyname("nonexistent.invalid") is None
    assert ws.WSAGetLastError() == WSAHOST_NOT_FOUND
    assert ws.gethostbyname("::1") is None and ws.WSAGetLastError() == WSAHOST_NOT_FOUND
    record = [(a.address, a.verdict, a.error) for a in ws.policy.log]
    local = (ws.policy.hostname,)
    assert record == [(("LocalHost.",), "allowed", 0), (local, "allowed", 0), (local, "allowed", 0),
                      (("nonexistent.invalid",), "refused", WSAHOST_NOT_FOUND)]


def test_gethostbyname_of_an_ipv6_only_name_is_wsano_data(ws2core_core: ModuleType) -> None:
    policy = NetworkPolicy.loopback_only(names={"six.test": ("2001:db8::5",)})
    with Ws2_32(ws2core.UpcallTable(ws2core_core.HandleTable()), policy=policy) as ws:
        ws.WSAStartup(0x0202, Ref())
        assert ws.gethostbyname("six.test") is None and ws.WSAGetLastError() == WSANO_DATA
        result = Ref()
        assert ws.getaddrinfo("six.test", None, None, result) == 0
        assert _addresses(result.value) == [("2001:db8::5", 0)]


def test_gethostbyaddr_answers_from_the_table(ws: Ws2_32) -> None:
    assert ws.gethostbyaddr(LOOPBACK, 4, AF_INET) == HOSTENT("localhost", (), AF_INET, 4,
                                                             (LOOPBACK,))
    six = bytes(15) + b"\1"
    assert ws.gethostbyaddr(six, 16, AF_INET6).h_addr_list == (six,)
    assert ws.gethostbyaddr(bytes([192, 0, 2, 1]), 4, AF_INET) is None
    assert ws.WSAGetLastError() == WSAHOST_NOT_FOUND
    assert ws.policy.log[-1].address == ("192.0.2.1",) and ws.policy.log[-1].verdict == "refused"
    for args, code in [((LOOPBACK, 3, AF_INET), WSAEFAULT), ((None, 4, AF_INET), WSAEFAULT),
                       ((LOOPBACK, 4, 99), WSAEAFNOSUPPORT), ((LOOPBACK, 4, AF_INET6), WSAEFAULT)]:
        assert ws.gethostbyaddr(*args) is None and ws.WSAGetLastError() == code, args


def _addresses(entries: list[ADDRINFO]) -> list[tuple[object, ...]]:
    return [ws2core.structs.unpack_sockaddr(e.ai_addr)[:2] for e in entries if e.ai_addr]


def test_getaddrinfo_entries(ws: Ws2_32) -> None:
    result = Ref()
    assert ws.getaddrinfo("localhost", "http", None, result) == 0 and ws.WSAGetLastError() == 0
    assert _addresses(result.value) == [("127.0.0.1", 80), ("::1", 80)]
    assert [(e.ai_family, e.ai_socktype, e.ai_protocol, e.ai_addrlen) for e in result.value] \
        == [(AF_INET, 0, 0, 16), (AF_INET6, 0, 0, 28)]
    hints = ADDRINFO(AI_CANONNAME, AF_INET, SOCK_STREAM, IPPROTO_TCP)
    assert ws.getaddrinfo("localhost", "8080", hints, result) == 0
    [entry] = result.value
    assert (entry.ai_canonname, entry.ai_socktype, entry.ai_protocol) == (
        "localhost", SOCK_STREAM, IPPROTO_TCP)
    assert ws.getaddrinfo(None, "0", ADDRINFO(AI_PASSIVE), result) == 0
    assert _addresses(result.value) == [("::", 0), ("0.0.0.0", 0)]
    assert ws.getaddrinfo(None, "0", ADDRINFO(0, AF_INET), result) == 0
    assert _addresses(result.value) == [("127.0.0.1", 0)]
    assert ws.getaddrinfo("[::1]:80", None, ADDRINFO(0, AF_INET6), result) == 0
    assert _addresses(result.value) == [("::1", 0)]
    mapped = ADDRINFO(AI_V4MAPPED, AF_INET6)
    assert ws.getaddrinfo("127.0.0.1", None, mapped, result) == 0
    assert _addresses(result.value) == [("::ffff:127.0.0.1", 0)]
    assert ws.getaddrinfo("localhost", None, mapped._replace(ai_flags=AI_V4MAPPED | AI_ALL),
                          result) == 0
    assert _addresses(result.value) == [("::1", 0), ("::ffff:127.0.0.1", 0)]


@pytest.mark.parametrize(("node", "service", "hints", "code"), [
    (None, None, None, WSAHOST_NOT_FOUND),
    ("nonexistent.invalid", None, None, WSAHOST_NOT_FOUND),
    ("localhost", None, ADDRINFO(AI_NUMERICHOST), WSAHOST_NOT_FOUND),
    ("[::1", None, ADDRINFO(AI_NUMERICHOST), WSAHOST_NOT_FOUND),
    ("::1", None, ADDRINFO(0, AF_INET), WSAHOST_NOT_FOUND),
    ("localhost", None, ADDRINFO(ai_addrlen=16), WSANO_RECOVERY),
    ("localhost", None, ADDRINFO(ai_next=object()), WSANO_RECOVERY),
    (None, "80", ADDRINFO(AI_CANONNAME), WSAEINVAL),
    ("localhost", None, ADDRINFO(0, 99), WSAEAFNOSUPPORT),
    ("localhost", None, ADDRINFO(0, 0, 999), WSAESOCKTNOSUPPORT),
    (None, "nonexistentservice", None, WSATYPE_NOT_FOUND),
    (None, "65536", None, WSATYPE_NOT_FOUND),
])
def test_getaddrinfo_errors(ws: Ws2_32, node: str | None, service: str | None,
                            hints: ADDRINFO | None, code: int) -> None:
    result = Ref(1)
    assert ws.getaddrinfo(node, service, hints, result) == code
    assert result.value is None and ws.WSAGetLastError() == code


def test_sinkhole_answers_every_name(ws2core_core: ModuleType) -> None:
    with Ws2_32(ws2core.UpcallTable(ws2core_core.HandleTable()),
                policy=NetworkPolicy.sinkhole()) as ws:
        ws.WSAStartup(0x0202, Ref())
        result = Ref()
        assert ws.getaddrinfo("example.com", "80", ADDRINFO(0, AF_INET), result) == 0
        assert _addresses(result.value) == [("198.51.100.1", 80)]
        assert ws.gethostbyname("example.com").h_addr_list == (bytes([198, 51, 100, 1]),)
        assert [a.verdict for a in ws.policy.log] == ["redirected", "redirected"]
        ws.policy.close()


def test_getnameinfo(ws: Ws2_32) -> None:
    host, service = Ref(), Ref()
    assert ws.getnameinfo(("127.0.0.1", 80), 16, host, 1025, service, 32, 0) == 0
    assert (host.value, service.value) == ("localhost", "http")
    assert ws.getnameinfo(("127.0.0.1", 80), 16, host, 1025, service, 32,
                          NI_NUMERICHOST | NI_NUMERICSERV) == 0
    assert (host.value, service.value) == ("127.0.0.1", "80")
    assert ws.getnameinfo(("192.0.2.1", 1), 16, host, 1025, None, 0, 0) == 0
    assert host.value == "192.0.2.1"                           # no name: the numeric form
    address = ("192.0.2.1", 1)
    for args, code in [((address, 16, host, 1025, None, 0, NI_NAMEREQD), WSAHOST_NOT_FOUND),
                       ((address, 16, None, 0, None, 0, 0), WSAHOST_NOT_FOUND),
                       ((address, 15, host, 1025, None, 0, 0), WSAEFAULT),
                       ((None, 16, host, 1025, None, 0, 0), WSAEFAULT),
                       ((address, 16, host, 9, None, 0, NI_NUMERICHOST), WSAEFAULT),
                       ((b"\x63\x00" + bytes(14), 16, host, 64, None, 0, 0), WSAEAFNOSUPPORT)]:
        assert ws.getnameinfo(*args) == code and ws.WSAGetLastError() == code, args
    assert ws.policy.log[-1].verdict == "refused"


# --- layer 4


@pytest.fixture
def g(guest_table: ws2core.UpcallTable) -> Iterator[Caller]:
    caller = Caller(Exports(Ws2_32(guest_table)), FakeGuest(8 if guest_table.table.abi == "x64"
                                                           else 4))
    yield caller.started()
    caller.ws2_32.close()


def _ptr(g: Caller, address: int) -> int:
    return int.from_bytes(g.emu.mem_read(address, g.ptr_size), "little")


def _text(g: Caller, address: int, wide: bool = False) -> str:
    unit = 2 if wide else 1
    data = bytearray()
    while (char := g.emu.mem_read(address + len(data), unit)) != bytes(unit):
        data += char
    return data.decode("utf-16-le" if wide else "latin-1")


def test_hostent_layout_and_one_per_thread(g: Caller) -> None:
    host = g("gethostbyname", g.emu.alloc(b"localhost\0"))
    p = g.ptr_size
    head = 32 if p == 8 else 16
    name, aliases = _ptr(g, host), _ptr(g, host + p)
    addrtype, length = struct.unpack("<hh", g.emu.mem_read(host + 2 * p, 4))
    addr_list = _ptr(g, host + head - p)
    assert (addrtype, length, aliases) == (AF_INET, 4, host + head)
    assert _ptr(g, aliases) == 0 and addr_list == aliases + p
    assert _ptr(g, addr_list) == addr_list + 2 * p and _ptr(g, addr_list + p) == 0
    assert g.emu.mem_read(addr_list + 2 * p, 4) == LOOPBACK and _text(g, name) == "localhost"
    assert g.last_error == 0
    # The thread's next call overwrites it; another thread has its own.
    assert g("gethostbyaddr", g.emu.alloc(LOOPBACK), 4, AF_INET) == host
    first_thread = g.emu.thread
    g.emu.thread = type(first_thread)()
    other = g("gethostbyname", g.emu.alloc(b"127.0.0.2\0"))
    assert other not in (0, host) and g.emu.mem_read(_ptr(g, _ptr(g, other + head - p)), 4) == \
        bytes([127, 0, 0, 2])
    g.emu.thread = first_thread
    g.fails(WSAHOST_NOT_FOUND, "gethostbyname", g.emu.alloc(b"nonexistent.invalid\0"))
    g.fails(WSAEFAULT, "gethostbyname", 0x7000)                  # unmapped
    g.fails(WSAEFAULT, "gethostbyaddr", g.emu.alloc(LOOPBACK), 3, AF_INET)
    g.fails(WSAEAFNOSUPPORT, "gethostbyaddr", 0, 4, 99)
    assert len(g.emu.allocated) == 2                              # one block per thread


@pytest.mark.parametrize("wide", [False, True], ids=["getaddrinfo", "GetAddrInfoW"])
def test_addrinfo_chain_layout_and_release(g: Caller, wide: bool) -> None:
    def text(value: str) -> int:
        return g.emu.alloc(value.encode("utf-16-le") + b"\0\0" if wide else value.encode() + b"\0")

    p = g.ptr_size
    hints = g.emu.alloc(struct.pack("<iiii", AI_CANONNAME, 0, SOCK_DGRAM, 0) + bytes(4 * p))
    out = g.emu.alloc(p)
    call, free = ("GetAddrInfoW", "FreeAddrInfoW") if wide else ("getaddrinfo", "freeaddrinfo")
    g.emu.thread.last_error = 5
    assert g(call, text("localhost"), text("53"), hints, out) == 0 and g.last_error == 0
    entry, seen = _ptr(g, out), []
    while entry:
        flags, family, socktype, protocol = struct.unpack("<iiii", g.emu.mem_read(entry, 16))
        addrlen, canonname, addr, following = (_ptr(g, entry + 16 + n * p) for n in range(4))
        host, port = ws2core.structs.unpack_sockaddr(bytes(g.emu.mem_read(addr, addrlen)))[:2]
        seen.append((family, socktype, host, port, canonname and _text(g, canonname, wide)))
        entry = following
    assert seen == [(AF_INET, SOCK_DGRAM, "127.0.0.1", 53, "localhost"),
                    (AF_INET6, SOCK_DGRAM, "::1", 53, 0)]
    assert list(g.emu.allocated) == [_ptr(g, out)]
    assert g(free, 0) is None and g(free, out) is None            # NULL, no chain: nothing
    assert g(free, _ptr(g, out)) is None and g.emu.allocated == {}
    g.emu.mem_write(out, b"\xa5" * p)
    g.emu.thread.last_error = 0
    assert g(call, text("nonexistent.invalid"), 0, 0, out) == WSAHOST_NOT_FOUND
    assert g.last_error == WSAHOST_NOT_FOUND and _ptr(g, out) == 0
    assert g(call, 0, 0, 0, out) == WSAHOST_NOT_FOUND
    assert g(call, text("localhost"), 0, 0, 0) == WSAEFAULT and g.last_error == WSAEFAULT
    assert g(call, text("localhost"), 0, 0x7000, out) == WSAEFAULT   # unmapped hints
    read_only = g.emu.alloc(p)
    g.emu.protect(read_only, p)
    assert g(call, text("localhost"), 0, 0, read_only) == WSAEFAULT
    assert g.emu.allocated == {} and g.ws2_32.policy.log[-1].address == ("nonexistent.invalid",)


def test_getaddrinfo_before_startup(guest_table: ws2core.UpcallTable) -> None:
    g = Caller(Exports(Ws2_32(guest_table)), FakeGuest(4))
    out = g.emu.alloc(4)
    assert g("getaddrinfo", g.emu.alloc(b"localhost\0"), 0, 0, out) == WSANOTINITIALISED
    assert g.last_error == WSANOTINITIALISED
    g.fails(WSANOTINITIALISED, "gethostbyname", 0)


@pytest.mark.parametrize("wide", [False, True], ids=["getnameinfo", "GetNameInfoW"])
def test_getnameinfo_writes_both_buffers(g: Caller, wide: bool) -> None:
    unit = 2 if wide else 1
    name = "GetNameInfoW" if wide else "getnameinfo"
    sa = g.emu.alloc(struct.pack("<H", AF_INET) + struct.pack(">H", 443) + LOOPBACK + bytes(8))
    host, serv = g.emu.alloc(64 * unit), g.emu.alloc(32 * unit)
    assert g(name, sa, 16, host, 64, serv, 32, 0) == 0 and g.last_error == 0
    assert (_text(g, host, wide), _text(g, serv, wide)) == ("localhost", "https")
    assert g(name, sa, 16, host, 64, serv, 32, NI_NUMERICHOST | NI_NUMERICSERV) == 0
    assert (_text(g, host, wide), _text(g, serv, wide)) == ("127.0.0.1", "443")
    assert g(name, sa, 16, host, 9, 0, 0, NI_NUMERICHOST) == WSAEFAULT    # 10 with the NUL
    assert g(name, 0, 16, host, 64, 0, 0, 0) == WSAEFAULT and g.last_error == WSAEFAULT
    short = g.emu.alloc_at_end(bytes(8))
    assert g(name, short, 16, host, 64, 0, 0, 0) == WSAEFAULT
    read_only = g.emu.alloc(64 * unit)
    g.emu.protect(read_only, 64 * unit)
    log = len(g.ws2_32.policy.log)
    assert g(name, sa, 16, read_only, 64, 0, 0, 0) == WSAEFAULT
    assert len(g.ws2_32.policy.log) == log                   # refused before the lookup


def test_inet_ntoa_per_thread_buffer(g: Caller) -> None:
    value = int.from_bytes(socket.inet_aton("192.168.10.255"), "little")
    g.emu.thread.last_error = 7
    text = g("inet_ntoa", value)
    assert _text(g, text) == "192.168.10.255" and g.last_error == 7   # no last error
    assert g("inet_ntoa", 0x0100007F | 0xDEAD00000000 if g.ptr_size == 8 else 0x0100007F) == text
    assert _text(g, text) == "127.0.0.1"


def test_no_guest_memory_is_wsa_not_enough_memory(g: Caller) -> None:
    def no_room(size: int) -> int:
        raise GuestFault("no room")

    g.emu.allocate = no_room  # type: ignore[method-assign]
    assert g("getaddrinfo", g.emu.alloc(b"localhost\0"), 0, 0, g.emu.alloc(g.ptr_size)) == \
        WSA_NOT_ENOUGH_MEMORY and g.last_error == WSA_NOT_ENOUGH_MEMORY
    g.fails(WSA_NOT_ENOUGH_MEMORY, "gethostbyname", g.emu.alloc(b"localhost\0"))
    assert g("inet_ntoa", 0x0100007F) == 0 and g.last_error == WSA_NOT_ENOUGH_MEMORY
