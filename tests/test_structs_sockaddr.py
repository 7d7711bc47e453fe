"""ws2core.structs: the socket-call structures and the sockaddr codecs, against Windows' bytes.

- TIMEVAL and WSANETWORKEVENTS have winsock2.h's sizes and field offsets;
- pack_sockaddr writes SOCKADDR_IN / SOCKADDR_IN6 as Windows does (family little-endian, port
  and flowinfo in network order, scope_id little-endian, sin_zero zero), dropping a host's
  "%scope" suffix; unpack_sockaddr reads them back, whatever follows the structure;
- unpack_sockaddr refuses another family or too few bytes with ValueError (the Winsock error
  for such an argument is each caller's to choose).
"""

from __future__ import annotations

import ctypes
from typing import Any

import pytest

from ws2core.constants import AF_INET, AF_INET6, FD_MAX_EVENTS
from ws2core.structs import (
    SOCKADDR_SIZE,
    TIMEVAL,
    WSANETWORKEVENTS,
    pack_sockaddr,
    sockaddr_family,
    unpack_sockaddr,
)

LOOPBACK_80 = bytes.fromhex("0200" "0050" "7f000001") + bytes(8)
LINK_LOCAL = (
    bytes.fromhex("1700" "1f90" "00012345")        # AF_INET6 (23), port 8080, flowinfo
    + bytes.fromhex("fe800000000000000000000000000001")
    + (7).to_bytes(4, "little")                    # scope_id
)


def test_timeval_and_wsanetworkevents_have_winsock2_layouts() -> None:
    assert ctypes.sizeof(TIMEVAL) == 8
    assert (TIMEVAL.tv_sec.offset, TIMEVAL.tv_usec.offset) == (0, 4)
    assert ctypes.sizeof(WSANETWORKEVENTS) == 4 + 4 * FD_MAX_EVENTS == 44
    assert WSANETWORKEVENTS.iErrorCode.offset == 4


def test_sockaddr_sizes_are_sockaddr_in_and_in6() -> None:
    assert SOCKADDR_SIZE == {AF_INET: 16, AF_INET6: 28}


@pytest.mark.parametrize(
    ("family", "address", "data"),
    [
        (AF_INET, ("127.0.0.1", 80), LOOPBACK_80),
        (AF_INET6, ("fe80::1", 8080, 0x12345, 7), LINK_LOCAL),
        (AF_INET6, ("::", 0, 0, 0), bytes.fromhex("1700") + bytes(26)),
    ],
    ids=["in", "in6", "in6-any"],
)
def test_pack_and_unpack_are_windows_bytes(family: int, address: tuple[Any, ...], data: bytes) -> None:
    assert pack_sockaddr(family, address) == data
    assert len(data) == SOCKADDR_SIZE[family]
    assert sockaddr_family(data) == family
    assert unpack_sockaddr(data) == address
    assert unpack_sockaddr(memoryview(data + b"tail")) == address  # a longer buffer: the same


def test_pack_drops_a_host_scope_suffix() -> None:
    assert pack_sockaddr(AF_INET6, ("fe80::1%lo", 8080, 0x12345, 7)) == LINK_LOCAL


@pytest.mark.parametrize(
    "data",
    [LOOPBACK_80[:15], LINK_LOCAL[:27], bytes.fromhex("0100") + bytes(14), b"\x02"],
    ids=["short-in", "short-in6", "af-unix", "no-family"],
)
def test_unpack_refuses_what_is_not_a_whole_sockaddr_in_or_in6(data: bytes) -> None:
    with pytest.raises(ValueError):
        unpack_sockaddr(data)
