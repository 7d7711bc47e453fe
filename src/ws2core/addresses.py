"""Windows' address text, both ways: what inet_addr, inet_pton, inet_ntop, WSAStringToAddress
and WSAAddressToString parse and print (no guest memory, no policy: pure functions).

Windows parses with ntdll's RtlIpv4StringToAddress and RtlIpv6StringToAddress, whose rules
differ from the host's C library's and from Python's ``ipaddress`` in the corners a program
(or a hostile sample) may reach: the facts here are Wine's conformance tests, which pass on
Windows (dlls/ws2_32/tests/protocol.c: test_inet_addr, test_inet_pton, test_addr_to_print,
test_WSAAddressToString, test_WSAStringToAddress; dlls/ntdll/tests/rtl.c:
test_RtlIpv6AddressToString).

- IPv4, lax (inet_addr, WSAStringToAddress): one to four parts, each decimal, octal (a
  leading 0) or hexadecimal (0x); the last part fills the bytes left; a part past its bytes
  fails; parts accumulate in 32 bits (``0x123456789`` is 0x23456789).
- IPv4, strict (inet_pton): four decimal parts of at most 255, no leading zero.
- IPv6: groups of one to four hex digits, one ``::`` standing for at least one zero group, an
  IPv4 tail of four decimal parts (up to three digits each); ``::`` followed by seven groups
  fails, as on Windows.
- Printing IPv6: lowercase groups, the longest run of two or more zero groups (the first of
  equal runs) as ``::``, an IPv4 tail for the IPv4-compatible (``::a.b.c.d``, not ``::`` or
  ``::x``), mapped (``::ffff:a.b.c.d``), translated (``::ffff:0:a.b.c.d``) and ISATAP
  (``...:0:5efe:a.b.c.d``, ``...:200:5efe:a.b.c.d``) forms.

A parse returns how far it got (the terminator's index) and the address when the parts
before the terminator made one: Windows writes that address out even when the caller then
refuses the terminator (inet_pton of ``"1.1.1.1 "`` writes 1.1.1.1 and returns 0).
"""

from __future__ import annotations

import struct
from typing import Final, NamedTuple

from .constants import AF_INET, AF_INET6, INADDR_NONE

__all__ = ["LOOPBACK_ADAPTER", "Adapter", "Parsed", "format_ipv4", "format_ipv6",
           "format_sockaddr", "inet_addr", "parse_ipv4", "parse_ipv6", "parse_port",
           "parse_sockaddr"]

_SPACE: Final = " \t\n\v\f\r"   # C's isspace in the "C" locale
_HEX: Final = "0123456789abcdefABCDEF"
SOCKADDR_IN_SIZE: Final = 16
SOCKADDR_IN6_SIZE: Final = 28


class Parsed(NamedTuple):
    """A parse's outcome: ``address`` (4 or 16 bytes, network order) or None when the parts
    made no address, and ``end``, the index of the first character not taken."""

    address: bytes | None
    end: int


def _char(text: str, index: int) -> str:
    return text[index] if index < len(text) else ""


def _lax_part(text: str, index: int) -> tuple[int, int] | None:
    """One part of a lax IPv4 address at ``index``: (value mod 2**32, end), or None."""
    if text.startswith(("0x", "0X"), index):
        start = end = index + 2
        while _char(text, end) and _char(text, end) in _HEX:
            end += 1
        if end == start:
            return None
        return int(text[start:end], 16) & 0xFFFFFFFF, end
    if _char(text, index) == "0":
        end = index + 1
        if _char(text, end) in ("8", "9"):   # "08" fails outright; "008" stops at the 8
            return None
        while _char(text, end) and _char(text, end) in "01234567":
            end += 1
        return int(text[index:end], 8) & 0xFFFFFFFF, end
    end = index
    while _char(text, end).isdigit() and _char(text, end).isascii():
        end += 1
    if end == index:
        return None
    return int(text[index:end]) & 0xFFFFFFFF, end


def _strict_part(text: str, index: int, digits: int | None = None) -> tuple[int, int] | None:
    """One decimal part of a strict IPv4 address: at most 255; no leading zero (inet_pton),
    or (``digits`` given: an IPv6 tail's part) at most that many digits, zeros allowed."""
    end = index
    while _char(text, end) and _char(text, end) in "0123456789":
        end += 1
    if end == index:
        return None
    if digits is None:
        if text[index] == "0" and (end > index + 1 or _char(text, end) in ("x", "X")):
            return None
    elif end - index > digits:
        return None
    value = int(text[index:end])
    return (value, end) if value <= 255 else None


def parse_ipv4(text: str, strict: bool, start: int = 0) -> Parsed:
    """The IPv4 address at ``text[start:]`` as RtlIpv4StringToAddress reads it (``strict``:
    four decimal parts, inet_pton's rule; else inet_addr's)."""
    parts: list[int] = []
    index = start
    while True:
        part = _strict_part(text, index) if strict else _lax_part(text, index)
        if part is None:
            return Parsed(None, index)
        value, index = part
        parts.append(value)
        if _char(text, index) != ".":
            break
        if len(parts) == 4:    # a fifth part: no address at all ("3.4.5.6.7")
            return Parsed(None, index)
        index += 1
    if strict and len(parts) != 4:
        return Parsed(None, index)
    *leading, last = parts
    if any(value > 255 for value in leading) or last >= 1 << (8 * (5 - len(parts))):
        return Parsed(None, index)
    number = last
    for position, value in enumerate(leading):
        number |= value << (24 - 8 * position)
    return Parsed(number.to_bytes(4, "big"), index)


def inet_addr(text: str) -> int:
    """What inet_addr returns for ``text``: the address as the u_long a program reads
    (network order in memory, so little-endian here), or INADDR_NONE.  A terminator may be
    white space, whatever follows it; a lone space is 0.0.0.0, as on Windows."""
    if text == " ":
        return 0
    parsed = parse_ipv4(text, strict=False)
    if parsed.address is None or _char(text, parsed.end) not in ("", *_SPACE):
        return INADDR_NONE
    return int.from_bytes(parsed.address, "little")


def parse_ipv6(text: str, start: int = 0) -> Parsed:
    """The IPv6 address at ``text[start:]`` as RtlIpv6StringToAddress reads it."""
    head: list[int] = []
    tail: list[int] | None = None     # the groups after "::", once there is one
    index = start
    if text.startswith("::", index):
        tail, index = [], index + 2
    while True:
        groups = head if tail is None else tail
        end = index
        while _char(text, end) and _char(text, end) in _HEX and end - index <= 4:
            end += 1
        if _char(text, end) == ".":               # an IPv4 tail ends the address
            v4 = _ipv6_tail(text, index)
            if v4 is None:
                return Parsed(None, index)
            value, index = v4
            groups.extend(struct.unpack(">HH", value))
            break
        if end == index:
            if tail == [] and text[index - 2:index] == "::":
                break                              # "1::" ends after its "::"
            return Parsed(None, index)
        if end - index > 4 or len(head) + len(tail or ()) == 8:
            return Parsed(None, index)
        groups.append(int(text[index:end], 16))
        index = end
        if text.startswith("::", index):
            if tail is not None:
                return Parsed(None, index)         # a second "::"
            tail, index = [], index + 2
        elif _char(text, index) == ":":
            index += 1                             # a group must follow
        else:
            break
    if tail is None:
        if len(head) != 8:
            return Parsed(None, index)
        words = head
    else:
        missing = 8 - len(head) - len(tail)
        if missing < 1 or (not head and len(tail) == 7):   # Windows refuses "::" + 7 groups
            return Parsed(None, index)
        words = head + [0] * missing + tail
    return Parsed(struct.pack(">8H", *words), index)


def _ipv6_tail(text: str, index: int) -> tuple[bytes, int] | None:
    """The four-part IPv4 tail of an IPv6 address: (its 4 bytes, end), or None."""
    parts = []
    for number in range(4):
        part = _strict_part(text, index, digits=3)
        if part is None:
            return None
        value, index = part
        parts.append(value)
        if number < 3:
            if _char(text, index) != ".":
                return None
            index += 1
    return bytes(parts), index


def format_ipv4(address: bytes) -> str:
    return ".".join(str(b) for b in address)


def format_ipv6(address: bytes) -> str:
    """RtlIpv6AddressToString's text of 16 bytes."""
    words = list(struct.unpack(">8H", address))
    compatible = words[:4] == [0, 0, 0, 0] and words[6] != 0 and (
        words[4:6] in ([0, 0], [0, 0xFFFF], [0xFFFF, 0]))
    isatap = words[5] == 0x5EFE and words[4] in (0, 0x0200)
    v4 = address[12:] if compatible or isatap else None
    groups = words[:6] if v4 is not None else words
    best_start, best_length, run_start = -1, 1, -1
    for position in range(len(groups) + 1):
        if position < len(groups) and groups[position] == 0:
            if run_start < 0:
                run_start = position
        elif run_start >= 0:
            if position - run_start > best_length:
                best_start, best_length = run_start, position - run_start
            run_start = -1
    hexes = [f"{g:x}" for g in groups]
    if best_start >= 0:
        before = ":".join(hexes[:best_start])
        after = ":".join(hexes[best_start + best_length:])
        text = f"{before}::{after}"
        if v4 is not None and after:
            text += ":"
    else:
        text = ":".join(hexes) + (":" if v4 is not None else "")
    return text + format_ipv4(v4) if v4 is not None else text


def parse_port(text: str, index: int) -> int | None:
    """The port after a ':' at ``text[index:]`` to the end: decimal, octal or hex, 1 to
    65535 (Windows refuses port 0 written out), or None."""
    part = _lax_part(text, index)
    if part is None:
        return None
    value, end = part
    if end != len(text) or not 0 < value <= 0xFFFF:
        return None
    return value


def _sockaddr_in(address: bytes, port: int) -> bytes:
    return struct.pack("<H", AF_INET) + struct.pack(">H", port) + address + bytes(8)


def _sockaddr_in6(address: bytes, port: int, scope: int) -> bytes:
    return (struct.pack("<H", AF_INET6) + struct.pack(">H", port) + bytes(4) + address
            + struct.pack("<I", scope))


def parse_sockaddr(text: str, family: int) -> tuple[bytes, bool]:
    """WSAStringToAddress: the SOCKADDR_IN (16 bytes, AF_INET: a lax IPv4 address and
    ``:port``) or SOCKADDR_IN6 (28 bytes, AF_INET6: an address, ``%scope``, ``[...]:port``
    in brackets) that ``text`` names, and whether it is good.  A bad string leaves zeros
    (family 0), with the IPv4 address of the parts Windows read before it failed."""
    if family == AF_INET:
        parsed = parse_ipv4(text, strict=False)
        port: int | None = 0
        if parsed.address is None:
            return bytes(SOCKADDR_IN_SIZE), False
        if parsed.end < len(text):
            port = parse_port(text, parsed.end + 1) if text[parsed.end] == ":" else None
        if port is None:
            return bytes(4) + parsed.address + bytes(8), False
        return _sockaddr_in(parsed.address, port), True
    failed = bytes(SOCKADDR_IN6_SIZE), False
    bracket = text.startswith("[")
    parsed = parse_ipv6(text, 1 if bracket else 0)
    if parsed.address is None:
        return failed
    index, scope, port = parsed.end, 0, 0
    if _char(text, index) == "%":
        end = index + 1
        while _char(text, end) and _char(text, end) in "0123456789":
            end += 1
        if end == index + 1 or int(text[index + 1:end]) > 0xFFFFFFFF:
            return failed
        scope, index = int(text[index + 1:end]), end
    if bracket:
        if _char(text, index) != "]":
            return failed
        index += 1
        if index < len(text):
            found = parse_port(text, index + 1) if text[index] == ":" else None
            if found is None:
                return failed
            port, index = found, len(text)
    if index != len(text):
        return failed
    return _sockaddr_in6(parsed.address, port, scope), True


def format_sockaddr(sockaddr: bytes) -> str | None:
    """WSAAddressToString's text of a SOCKADDR_IN or SOCKADDR_IN6 (its port when not 0, an
    IPv6 address in brackets then, its scope id when not 0), or None for another family
    or a sockaddr too short for its family."""
    if len(sockaddr) < 2:
        return None
    family = struct.unpack_from("<H", sockaddr)[0]
    if family == AF_INET and len(sockaddr) >= SOCKADDR_IN_SIZE:
        port = struct.unpack_from(">H", sockaddr, 2)[0]
        text = format_ipv4(sockaddr[4:8])
        return f"{text}:{port}" if port else text
    if family == AF_INET6 and len(sockaddr) >= SOCKADDR_IN6_SIZE:
        port = struct.unpack_from(">H", sockaddr, 2)[0]
        scope = struct.unpack_from("<I", sockaddr, 24)[0]
        text = format_ipv6(sockaddr[8:24])
        if scope:
            text += f"%{scope}"
        return f"[{text}]:{port}" if port else text
    return None


# --- this machine's adapters (iphlpapi), as the network policy's view has them


class Adapter(NamedTuple):
    """One network adapter as GetAdaptersAddresses describes it: ``addresses`` are
    ``(family, address bytes, prefix length)``."""

    if_index: int
    name: str            # AdapterName: the interface's GUID, in braces
    description: str
    friendly_name: str
    if_type: int
    mtu: int
    addresses: tuple[tuple[int, bytes, int], ...]


IF_TYPE_SOFTWARE_LOOPBACK: Final = 24

LOOPBACK_ADAPTER: Final = Adapter(
    1, "{6C2B1DA4-3F1E-4E0B-9C51-7753C0A52E01}", "Software Loopback Interface 1",
    "Loopback Pseudo-Interface 1", IF_TYPE_SOFTWARE_LOOPBACK, 0xFFFFFFFF,
    ((AF_INET, bytes([127, 0, 0, 1]), 8), (AF_INET6, bytes(15) + b"\1", 128)))
"""Windows' loopback adapter (its names and type as Windows gives them; the GUID is made up):
the only adapter of this machine in the network policy's view, whatever the policy, since
the policy's machine reaches nothing but loopback on its own."""
