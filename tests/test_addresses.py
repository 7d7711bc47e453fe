"""Addresses and host names: ``ws2core.addresses`` (the text rules), ``Ws2_32``'s
gethostname, inet_*, WSAAddressToString and WSAStringToAddress (layer 3) and the same
exports over guest memory (layer 4), and the policy's ``hostname``.

The parsing and printing rules are checked against Wine's conformance tables, which pass on
Windows (dlls/ws2_32/tests/protocol.c, dlls/ntdll/tests/rtl.c), and, for the canonical
forms, against the host's socket.inet_pton and inet_ntop as the oracle (hypothesis).
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ws2core
from ws2core import addresses
from ws2core.constants import (
    AF_INET,
    AF_INET6,
    INADDR_NONE,
    SOCKET_ERROR,
    STATUS_INVALID_PARAMETER,
    WSAEAFNOSUPPORT,
    WSAEFAULT,
    WSAEINVAL,
    WSANOTINITIALISED,
)
from ws2core.policy import DEFAULT_HOSTNAME, NetworkPolicy
from ws2core.ws2_32 import Ws2_32

from guest_support import abi, caller, guest_table  # noqa: F401  (fixtures)
from guest_support import Caller

# --------------------------------------------------------------------------------------
# The text rules (no core involved)

INET_ADDR = [  # test_inet_addr: the input and the u_long inet_addr returns
    ("1.2.3.4", 0x04030201), ("1 2 3 4", 0x01000000), ("1.2.3. 4", INADDR_NONE),
    ("1.2.3 .4", 0x03000201), ("1.2.3 \xfe\xff", 0x03000201), ("3.4.5.6.7", INADDR_NONE),
    ("3.4.5.6  7", 0x06050403), (" 3.4.5.6", INADDR_NONE), ("\t3.4.5.6", INADDR_NONE),
    ("3.4.5.6 ", 0x06050403), ("3 .4.5.6", 0x03000000), (".1.2.3", INADDR_NONE),
    ("", INADDR_NONE), (" 0", INADDR_NONE), ("0xa1a2b3b4 ", 0xb4b3a2a1), (" ", 0),
    ("\t", INADDR_NONE), ("  ", INADDR_NONE), ("127.127.127.255:123", INADDR_NONE),
    ("1.2.3.0xaA", 0xaa030201), ("1.1.1.0x", INADDR_NONE), ("1.2.3.010", 0x08030201),
    ("1.2.3.0a", INADDR_NONE), ("1", 0x01000000), ("1.2", 0x02000001),
    ("203569230", 0x4e38220c), ("[0.1.2.3]", INADDR_NONE), ("0x2134", 0x34210000),
    ("1234BEEF", INADDR_NONE), ("017700000001", 0x0100007f), ("0777", 0xff010000),
    ("::1", INADDR_NONE),
]


@pytest.mark.parametrize(("text", "want"), INET_ADDR)
def test_inet_addr_as_windows(text: str, want: int) -> None:
    assert addresses.inet_addr(text) == want


PTON4 = [  # test_inet_pton: the result and what the address holds after (None: untouched)
    ("1.1.1.1", 1, "1.1.1.1"), ("127.127.127.255:123", 0, "127.127.127.255"),
    ("1.1.1.0xaA", 0, None), ("1.1.1.010", 0, None), ("1.1.1.00", 0, None),
    ("1.1.1.0a", 0, "1.1.1.0"), ("1.1.1.0o10", 0, "1.1.1.0"), ("1.2.3", 0, None),
    ("3.4.5.6.7", 0, None), ("3.4.5.6 ", 0, "3.4.5.6"), ("", 0, None), ("::1", 0, None),
]


@pytest.mark.parametrize(("text", "result", "written"), PTON4)
def test_strict_ipv4_writes_what_windows_writes(text: str, result: int, written: str | None
                                                ) -> None:
    parsed = addresses.parse_ipv4(text, strict=True)
    assert (parsed.address is not None and parsed.end == len(text)) == bool(result)
    assert parsed.address == (None if written is None else socket.inet_aton(written))


PTON6 = [  # test_inet_pton: whether inet_pton takes the whole string
    ("0:0:0:0:0:0:0::", True), ("1111:2222:3333:4444:5555::123.123.123.123", True),
    ("1::001.2.3.4", True), ("1::0001.2.3.4", False), ("::0:0:0:0:0:0", True),
    ("::0:0:0:0:0:0:0", False), ("1111::3333:4444:5555:6666:7777:8888", True),
    ("1111:2222:3333:4444:5555:6666::7777:8888", False), ("::%16", False), ("[::]", False),
    ("1111:2222:3333:4444:5555:6666::1.2.3.4", False), ("1111::5555:", False),
    ("1111:2222:::", False), ("12345::6:7:8", False), ("1.2.3.4", False), ("::01234", False),
    ("2001::CE49:7601:2CAD:DFFF:7C94:FFFE", True), ("1::1.2.3.4::1", False), ("::", True),
]


@pytest.mark.parametrize(("text", "good"), PTON6)
def test_ipv6_parse_as_windows(text: str, good: bool) -> None:
    parsed = addresses.parse_ipv6(text)
    assert (parsed.address is not None and parsed.end == len(text)) == good


NTOP6 = [  # test_RtlIpv6AddressToString: the text and the 8 words as in memory
    ("::13.1.68.3", (0, 0, 0, 0, 0, 0, 0x10d, 0x344)), ("::ffff", (0, 0, 0, 0, 0, 0, 0, 0xffff)),
    ("::ffff:13.1.68.3", (0, 0, 0, 0, 0, 0xffff, 0x10d, 0x344)),
    ("::ffff:0:4403", (0, 0, 0, 0, 0, 0xffff, 0, 0x344)),
    ("::ffff:0:13.1.68.3", (0, 0, 0, 0, 0xffff, 0, 0x10d, 0x344)),
    ("::5efe:0.0.0.0", (0, 0, 0, 0, 0, 0xfe5e, 0, 0)),
    ("1111:2222:3333:4444:0:5efe:129.144.52.38",
     (0x1111, 0x2222, 0x3333, 0x4444, 0, 0xfe5e, 0x9081, 0x2634)),
    ("::300:5efe:8190:3426", (0, 0, 0, 0, 3, 0xfe5e, 0x9081, 0x2634)),
    ("::200:5efe:129.144.52.38", (0, 0, 0, 0, 2, 0xfe5e, 0x9081, 0x2634)),
    ("1111:2222:3333:4444:5555:6666:0:8888",
     (0x1111, 0x2222, 0x3333, 0x4444, 0x5555, 0x6666, 0, 0x8888)),
    ("3ffe:b00::1:0:0:a", (0xfe3f, 0xb, 0, 0, 0x100, 0, 0, 0xa00)), ("::", (0,) * 8),
]


@pytest.mark.parametrize(("text", "words"), NTOP6)
def test_ipv6_text_as_windows(text: str, words: tuple[int, ...]) -> None:
    assert addresses.format_ipv6(struct.pack("<8H", *words)) == text


STRING_TO_ADDRESS4 = [  # test_WSAStringToAddress: (address, port) or None for WSAEINVAL
    ("127.127.127.127:123", (0x7f7f7f7f, 123)), ("127.127.127.127:0", None),
    ("127.127.127.127:0xAbCd", (0x7f7f7f7f, 43981)), ("127.127.127.127:010", (0x7f7f7f7f, 8)),
    ("127.127.127.127:08", None), ("127.127.127.127:65537", None), ("1.1.1.08", None),
    ("1:1", (1, 1)), ("1.2:1", (0x01000002, 1)), ("1.223756", (0x01036a0c, 0)),
    ("3.4.65536", None), ("0x123456789", (0x23456789, 0)), ("3.4.5.6 ", None),
    ("2001::1", None), ("-1", None), ("0777:10", (0x1ff, 10)),
]


@pytest.mark.parametrize(("text", "want"), STRING_TO_ADDRESS4)
def test_string_to_sockaddr_in(text: str, want: tuple[int, int] | None) -> None:
    sockaddr, good = addresses.parse_sockaddr(text, AF_INET)
    assert len(sockaddr) == 16 and good == (want is not None)
    if want is not None:
        family = struct.unpack_from("<H", sockaddr)[0]
        port, address = struct.unpack_from(">HI", sockaddr, 2)
        assert (family, address, port) == (AF_INET, *want)
    else:
        assert sockaddr[:4] == bytes(4)    # family and port zero, as Windows leaves them


@pytest.mark.parametrize(("text", "good"), [
    ("::1", True), ("[::1]", True), ("[::1]:65535", True), ("::1]:65535", False),
    ("001::1", True), ("::1:2:3:4:5:6:7", False), ("1.2.3.4", False), ("1:2:3:", False),
    ("", False), ("[::1%5]:80", True), ("[::1", False), ("[::1]:0", False)])
def test_string_to_sockaddr_in6(text: str, good: bool) -> None:
    sockaddr, ok = addresses.parse_sockaddr(text, AF_INET6)
    assert len(sockaddr) == 28 and ok == good


def test_sockaddr_text_round_trip() -> None:
    for text, family in (("127.0.0.1", AF_INET), ("127.0.0.1:80", AF_INET), ("::1", AF_INET6),
                         ("[::1]:80", AF_INET6), ("fe80::1%3", AF_INET6),
                         ("[fe80::1%3]:8", AF_INET6)):
        sockaddr, good = addresses.parse_sockaddr(text, family)
        assert good and addresses.format_sockaddr(sockaddr) == text


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=16, max_size=16))
def test_ipv6_round_trips_with_the_host(raw: bytes) -> None:
    """Our text is an address the host reads back; the host's text is one we read."""
    ours = addresses.format_ipv6(raw)
    assert socket.inet_pton(socket.AF_INET6, ours) == raw
    assert addresses.parse_ipv6(ours) == (raw, len(ours))
    theirs = socket.inet_ntop(socket.AF_INET6, raw)
    assert addresses.parse_ipv6(theirs) == (raw, len(theirs))


@settings(max_examples=100, deadline=None)
@given(st.binary(min_size=4, max_size=4))
def test_ipv4_round_trips_with_the_host(raw: bytes) -> None:
    text = addresses.format_ipv4(raw)
    assert text == socket.inet_ntop(socket.AF_INET, raw)
    assert addresses.parse_ipv4(text, strict=True) == (raw, len(text))
    assert addresses.inet_addr(text) == int.from_bytes(raw, "little")


# --------------------------------------------------------------------------------------
# The policy's name for this machine


def test_hostname_is_made_up_and_resolves_to_loopback() -> None:
    for policy in (NetworkPolicy.loopback_only(), NetworkPolicy.allow_all(),
                   NetworkPolicy.sinkhole()):
        with policy:
            assert policy.hostname == DEFAULT_HOSTNAME != socket.gethostname()
            assert policy.resolve(policy.hostname.lower() + ".") == ("127.0.0.1", "::1")
    named = NetworkPolicy.loopback_only(hostname="lab-pc", names={"lab-pc": ["127.0.0.2"]})
    assert named.hostname == "lab-pc" and named.resolve("LAB-PC", 2) == ("127.0.0.2",)
    for bad in ("", "two words", "nul\0", "naïve"):
        with pytest.raises(ValueError):
            NetworkPolicy(hostname=bad)


# --------------------------------------------------------------------------------------
# Layer 3: Ws2_32


@pytest.fixture
def ws(ws2core_core: ModuleType) -> Iterator[Ws2_32]:
    with Ws2_32(ws2core.UpcallTable(ws2core_core.HandleTable()),
                policy=NetworkPolicy.loopback_only(hostname="guest-pc")) as api:
        yield api


def test_gethostname(ws: Ws2_32) -> None:
    name = bytearray(b"\xa5" * 16)
    assert ws.gethostname(name, 16) == SOCKET_ERROR and ws.WSAGetLastError() == WSANOTINITIALISED
    assert ws.WSAStartup(0x0202, ws2core.Ref()) == 0
    ws.WSASetLastError(1234)
    assert ws.gethostname(name, 9) == 0 and name[:10] == b"guest-pc\0\xa5"
    assert ws.WSAGetLastError() == 1234                 # a success leaves it alone
    assert ws.gethostname(name, 8) == SOCKET_ERROR and ws.WSAGetLastError() == WSAEFAULT
    assert ws.gethostname(None, 16) == SOCKET_ERROR and ws.WSAGetLastError() == WSAEFAULT
    wide = bytearray(32)
    assert ws.GetHostNameW(wide, 8) == SOCKET_ERROR and ws.WSAGetLastError() == WSAEFAULT
    assert ws.GetHostNameW(wide, 9) == 0 and wide[:18] == "guest-pc\0".encode("utf-16-le")


def test_conversions_need_no_startup(ws: Ws2_32) -> None:
    ws.WSASetLastError(1234)
    assert ws.inet_addr(b"127.1") == 0x0100007f and ws.inet_addr("bad") == INADDR_NONE
    assert ws.WSAGetLastError() == 1234
    assert ws.inet_addr(None) == INADDR_NONE and ws.WSAGetLastError() == WSAEFAULT
    buffer = bytearray(16)
    ws.WSASetLastError(1234)
    assert ws.inet_pton(AF_INET6, b"::1", buffer) == 1 and buffer[15] == 1
    assert ws.inet_pton(AF_INET, b"1.2.3.4 ", buffer) == 0 and buffer[:4] == b"\1\2\3\4"
    assert ws.WSAGetLastError() == 1234
    assert ws.InetPtonW(AF_INET, "1.2.3", buffer) == 0 and ws.WSAGetLastError() == WSAEINVAL
    assert ws.inet_pton(0, b"1.2.3.4", buffer) == -1 and ws.WSAGetLastError() == WSAEAFNOSUPPORT
    assert ws.inet_pton(0, None, buffer) == -1 and ws.WSAGetLastError() == WSAEFAULT
    text = bytearray(64)
    assert ws.inet_ntop(AF_INET, b"\x7f\0\0\1", text, 10) == "127.0.0.1"
    assert text[:10] == b"127.0.0.1\0"
    assert ws.inet_ntop(AF_INET, b"\x7f\0\0\1", text, 9) is None
    assert ws.WSAGetLastError() == STATUS_INVALID_PARAMETER
    assert ws.InetNtopW(AF_INET6, bytes(15) + b"\1", text, 4) == "::1"
    assert text[:8] == "::1\0".encode("utf-16-le")
    assert ws.inet_ntop(1, b"\0" * 4, text, 64) is None and ws.WSAGetLastError() == WSAEAFNOSUPPORT
    assert (ws.htons(0xABCD1234), ws.ntohl(0x1_78563412)) == (0x3412, 0x12345678)


def test_address_to_string(ws: Ws2_32) -> None:
    sockaddr = struct.pack("<H", AF_INET) + struct.pack(">H", 80) + bytes([127, 0, 0, 1, *[0] * 8])
    length, text = ws2core.Ref(64), bytearray(64)
    assert ws.WSAAddressToStringA(sockaddr, 16, None, text, length) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSANOTINITIALISED
    assert ws.WSAStartup(0x0202, ws2core.Ref()) == 0
    assert ws.WSAAddressToStringA(sockaddr, 16, None, text, length) == 0
    assert (text[:13], length.value) == (b"127.0.0.1:80\0", 13)
    length.value = 12
    assert ws.WSAAddressToStringW(sockaddr, 16, None, text, length) == SOCKET_ERROR
    assert (ws.WSAGetLastError(), length.value) == (WSAEFAULT, 13)
    for args in ((None, 16, None, text, length), (sockaddr, 0, None, text, length),
                 (sockaddr, 16, None, text, None)):
        assert ws.WSAAddressToStringA(*args) == SOCKET_ERROR and ws.WSAGetLastError() == WSAEINVAL
    assert ws.WSAAddressToStringA(sockaddr, 15, None, text, length) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSAEFAULT
    assert ws.WSAAddressToStringA(b"\1\0" + sockaddr[2:], 16, None, text, length) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSAEINVAL


def test_string_to_address(ws: Ws2_32) -> None:
    assert ws.WSAStartup(0x0202, ws2core.Ref()) == 0
    out, length = bytearray(b"\xab" * 28), ws2core.Ref(28)
    assert ws.WSAStringToAddressA(b"[::1%2]:80", AF_INET6, None, out, length) == 0
    assert length.value == 28 and addresses.format_sockaddr(bytes(out)) == "[::1%2]:80"
    length.value = 10
    assert ws.WSAStringToAddressW("1.2.3.4", AF_INET, None, out, length) == SOCKET_ERROR
    assert (ws.WSAGetLastError(), length.value) == (WSAEFAULT, 16)
    out[:] = b"\xab" * 28
    assert ws.WSAStringToAddressA(b"1.2.3.4 ", AF_INET, None, out, ws2core.Ref(26)) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSAEINVAL
    assert out[:16] == bytes(4) + b"\1\2\3\4" + bytes(8) and out[16:] == b"\xab" * 12
    assert ws.WSAStringToAddressA(b"1.2.3.4", 1, None, out, length) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSAEINVAL


# --------------------------------------------------------------------------------------
# Layer 4: the exports over guest memory


@pytest.fixture
def guest(caller: Caller) -> Caller:
    return caller


def test_gethostname_export(guest: Caller) -> None:
    name = guest.emu.alloc(b"\xa5" * 32)
    guest.fails(WSANOTINITIALISED, "gethostname", name, 32)
    guest.started()
    guest.emu.thread.last_error = 1234
    assert guest("gethostname", name, 32) == 0 and guest.last_error == 1234
    assert guest.emu.mem_read(name, 17) == DEFAULT_HOSTNAME.encode() + b"\0\xa5"
    guest.fails(WSAEFAULT, "gethostname", name, len(DEFAULT_HOSTNAME))
    guest.fails(WSAEFAULT, "gethostname", 0, 32)
    read_only = guest.emu.alloc(b"\xa5" * 32)
    guest.emu.protect(read_only, 32)
    guest.fails(WSAEFAULT, "gethostname", read_only, 32)
    assert guest.emu.mem_read(read_only, 32) == b"\xa5" * 32
    wide = guest.emu.alloc(64)
    assert guest("GetHostNameW", wide, 32) == 0
    assert guest.emu.mem_read(wide, 32) == (DEFAULT_HOSTNAME + "\0").encode("utf-16-le")


def test_conversion_exports(guest: Caller) -> None:
    guest.emu.thread.last_error = 1234
    assert guest("inet_addr", guest.emu.alloc(b"0x7f.1\0")) == 0x0100007f
    assert guest("inet_addr", guest.emu.alloc(b"junk\0")) == INADDR_NONE
    assert guest.last_error == 1234
    assert guest("inet_addr", 0) == INADDR_NONE and guest.last_error == WSAEFAULT
    guest.emu.thread.last_error = 0
    assert guest("inet_addr", guest.emu.alloc_at_end(b"1.2.3.4")) == INADDR_NONE  # no NUL
    assert guest.last_error == WSAEFAULT
    out = guest.emu.alloc(b"\xab" * 16)
    assert guest("inet_pton", AF_INET, guest.emu.alloc(b"127.0.0.2 \0"), out) == 0
    assert guest.emu.mem_read(out, 5) == b"\x7f\0\0\2\xab"     # written, then refused
    assert guest("InetPtonW", AF_INET6, guest.emu.alloc("::1\0".encode("utf-16-le")), out) == 1
    assert guest.emu.mem_read(out, 16) == bytes(15) + b"\1"
    assert guest("InetPtonW", AF_INET6, guest.emu.alloc("::1x\0".encode("utf-16-le")), out) == 0
    assert guest.last_error == WSAEINVAL
    assert guest("inet_pton", 0, guest.emu.alloc(b"::1\0"), out) == 0xFFFFFFFF
    assert guest.last_error == WSAEAFNOSUPPORT
    text = guest.emu.alloc(64)
    source = guest.emu.alloc(b"\x7f\0\0\1")
    assert guest("inet_ntop", AF_INET, source, text, 64) == text
    assert guest.emu.mem_read(text, 10) == b"127.0.0.1\0"
    assert guest("inet_ntop", AF_INET, source, text, 9) == 0
    assert guest.last_error == STATUS_INVALID_PARAMETER
    assert guest("InetNtopW", AF_INET, source, text, 10) == text
    assert guest.emu.mem_read(text, 20) == "127.0.0.1\0".encode("utf-16-le")
    high = 0xFFFFFFFF_00000000 if guest.ptr_size == 8 else 0   # what a register may hold
    assert guest("htons", high | 0xABCD1234) == 0x3412
    assert guest("ntohs", 0xABCD3412) == 0x1234
    assert guest("htonl", high | 0x12345678) == 0x78563412
    assert guest("ntohl", 0x78563412) == 0x12345678


def test_address_string_exports(guest: Caller) -> None:
    guest.started()
    sockaddr = guest.sockaddr(80)
    text, length = guest.emu.alloc(64), guest.emu.alloc(struct.pack("<I", 64))
    assert guest("WSAAddressToStringA", sockaddr, 16, 0, text, length) == 0
    assert guest.emu.mem_read(text, 13) == b"127.0.0.1:80\0" and guest.emu.read_int(length) == 13
    guest.emu.mem_write(length, struct.pack("<I", 5))
    guest.fails(WSAEFAULT, "WSAAddressToStringW", sockaddr, 16, 0, text, length)
    assert guest.emu.read_int(length) == 13                    # the length needed
    read_only = guest.emu.alloc(64)
    guest.emu.protect(read_only, 64)
    guest.emu.mem_write(length, struct.pack("<I", 64))
    guest.fails(WSAEFAULT, "WSAAddressToStringA", sockaddr, 16, 0, read_only, length)
    assert guest.emu.read_int(length) == 64                    # nothing written
    guest.fails(WSAEINVAL, "WSAAddressToStringA", 0, 16, 0, text, length)
    out, size = guest.emu.alloc(b"\xab" * 28), guest.emu.alloc(struct.pack("<i", 28))
    string = guest.emu.alloc(b"[::1]:443\0")
    assert guest("WSAStringToAddressA", string, AF_INET6, 0, out, size) == 0
    assert guest.emu.read_int(size) == 28
    assert addresses.format_sockaddr(bytes(guest.emu.mem_read(out, 28))) == "[::1]:443"
    guest.emu.mem_write(size, struct.pack("<i", 16))
    guest.fails(WSAEFAULT, "WSAStringToAddressW", guest.emu.alloc("::1\0".encode("utf-16-le")),
                AF_INET6, 0, out, size)
    assert guest.emu.read_int(size) == 28
    guest.fails(WSAEINVAL, "WSAStringToAddressA", guest.emu.alloc(b"1.2.3.4:0\0"), AF_INET, 0,
                out, size)
    assert guest.emu.read_int(size) == 28 and guest.emu.mem_read(out, 4) == bytes(4)
    guest.fails(WSAEFAULT, "WSAStringToAddressA", 0x7000_0000, AF_INET, 0, out, size)


# --------------------------------------------------------------------------------------
# iphlpapi: this machine's adapters, as the policy sees it


def test_adapters_are_loopback_alone(ws: Ws2_32) -> None:
    (adapter,) = ws.adapters()
    assert adapter.if_type == 24 and [a[0] for a in adapter.addresses] == [AF_INET, AF_INET6]
    assert [a[1] for a in ws.adapters(AF_INET6)[0].addresses] == [bytes(15) + b"\1"]
    assert [(a[1], a[2]) for a in ws.adapters(AF_INET)[0].addresses] == [(b"\x7f\0\0\1", 8)]


def _walk(g: Caller, address: int) -> list[tuple[int, list[tuple[int, bytes]], str]]:
    """(IfType, [(family, address bytes)], FriendlyName) of each adapter in the list."""
    ptr = "<Q" if g.ptr_size == 8 else "<I"
    p = g.ptr_size
    found = []
    while address:
        length = g.emu.read_int(address)
        assert length == (448 if p == 8 else 376)
        if_type = g.emu.read_int(address + (100 if p == 8 else 64))
        unicast = struct.unpack(ptr, g.emu.mem_read(address + 8 + 2 * p, p))[0]
        addresses = []
        while unicast:
            address_field = unicast + (16 if p == 8 else 12)     # SOCKET_ADDRESS
            sockaddr, size = struct.unpack(ptr + "i", g.emu.mem_read(address_field, p + 4))
            data = bytes(g.emu.mem_read(sockaddr, size))
            family = struct.unpack_from("<H", data)[0]
            addresses.append((family, data[4:8] if family == AF_INET else data[8:24]))
            unicast = struct.unpack(ptr, g.emu.mem_read(unicast + 8, p))[0]
        name = struct.unpack(ptr, g.emu.mem_read(address + 8 + 8 * p, p))[0]
        friendly = bytes(g.emu.mem_read(name, 64)).decode("utf-16-le").split("\0")[0]
        found.append((if_type, addresses, friendly))
        address = struct.unpack(ptr, g.emu.mem_read(address + 8, p))[0]
    return found


def test_get_adapters_addresses_export(guest: Caller) -> None:
    size = guest.emu.alloc(struct.pack("<I", 0x7FFFFFFF))
    assert guest("GetAdaptersAddresses", 0, 0, 0, 0, 0) == 87          # ERROR_INVALID_PARAMETER
    guest.emu.thread.last_error = 1234
    assert guest("GetAdaptersAddresses", 0, 0, 0, 0, size) == 111      # ERROR_BUFFER_OVERFLOW
    assert guest.last_error == 1234                                    # an error code, no more
    needed = guest.emu.read_int(size)
    buffer = guest.emu.alloc(needed)
    guest.emu.mem_write(size, struct.pack("<I", needed - 1))
    assert guest("GetAdaptersAddresses", 0, 0, 0, buffer, size) == 111
    assert guest.emu.read_int(size) == needed
    assert guest("GetAdaptersAddresses", 1, 0, 0, buffer, size) == 87  # AF_UNIX
    assert guest("GetAdaptersAddresses", 0, 0, 0, buffer, size) == 0
    assert _walk(guest, buffer) == [(24, [(AF_INET, b"\x7f\0\0\1"), (AF_INET6, bytes(15) + b"\1")],
                                     "Loopback Pseudo-Interface 1")]
    assert guest("GetAdaptersAddresses", AF_INET6, 0x21, 0, buffer, size) == 0  # skip both
    assert _walk(guest, buffer) == [(24, [], "")]
    read_only = guest.emu.alloc(needed)
    guest.emu.protect(read_only, needed)
    assert guest("GetAdaptersAddresses", 0, 0, 0, read_only, size) == 998   # ERROR_NOACCESS
    assert guest.emu.mem_read(read_only, needed) == bytes(needed)
    # A buffer running past the end of the address space (found by the guest fuzzer: the
    # list's pointers were packed before the range was checked).
    top = (1 << (8 * guest.ptr_size)) - 8
    assert guest("GetAdaptersAddresses", 0, 0, 0, top, size) == 998


def test_get_adapters_info_export(guest: Caller) -> None:
    assert guest("GetAdaptersInfo", 0, 0) == 87
    size = guest.emu.alloc(struct.pack("<I", 0))
    assert guest("GetAdaptersInfo", 0, size) == 232                    # ERROR_NO_DATA
    assert guest.emu.read_int(size) == 0
