"""The exports of sockets and data (ws2core.guest.transfer) over ``guest_support.FakeGuest``.

Covered, on both cores and both ABIs: WSASocketA/W reading a WSAPROTOCOL_INFO from guest
memory (its fields used for the arguments left to it; unmapped: WSAEFAULT, after the
WSAStartup check); WSABUF arrays in the guest's layout, gathered and scattered; the byte
count, the flags and the from-address written back on success, and on WSAEMSGSIZE only the
buffers (filled) and the from-address; every out-parameter checked before the receive, so a
WSAEFAULT takes no datagram; the check order (WSANOTINITIALISED, then WSAENOTSOCK, before
any pointer); an lpOverlapped ignored on a socket made without WSA_FLAG_OVERLAPPED, and on
an overlapped one checked before any effect (a completion routine, the structure, its
hEvent; tests/test_guest_overlapped.py has the rest);
WSADuplicateSocketA/W (the process checked before the structure, which is written whole) and
the second handle WSASocketA makes of its structure; WSAEnumProtocolsA/W.
"""

from __future__ import annotations

import ctypes
import struct

import pytest
from guest_support import Caller as Guest
from guest_support import FakeGuest, abi, caller, guest_table  # noqa: F401  (fixtures)

from ws2core import (
    AF_INET,
    FROM_PROTOCOL_INFO,
    IPPROTO_UDP,
    MSG_PEEK,
    SO_TYPE,
    SOCK_DGRAM,
    SOCK_STREAM,
    SOL_SOCKET,
    WSAEFAULT,
    WSAEINVAL,
    WSAEMSGSIZE,
    WSAENOBUFS,
    WSAENOTSOCK,
    WSAEOPNOTSUPP,
    WSANOTINITIALISED,
    WSA_INVALID_HANDLE,
    FIONREAD,
    Ref,
)
from ws2core.guest.transfer import WSABUF_LAYOUTS
from ws2core.structs import WSAPROTOCOL_INFOA, WSAPROTOCOL_INFOW

UNMAPPED = 0x7000


@pytest.fixture
def guest(caller: Guest) -> Guest:
    return caller


def wsabufs(g: Guest, *buffers: tuple[int, int]) -> int:
    """A WSABUF array in the guest's layout: (address, length) each."""
    code = WSABUF_LAYOUTS[g.ptr_size].code
    return g.emu.alloc(b"".join(struct.pack(code, length, buf) for buf, length in buffers))


def udp_pair(g: Guest) -> tuple[int, int, int]:
    """A receiver bound on loopback (WSASocketA, not overlapped), a sender (socket()) and the
    guest address of the receiver's sockaddr."""
    receiver = g("WSASocketA", AF_INET, SOCK_DGRAM, IPPROTO_UDP, 0, 0, 0)
    sender = g("socket", AF_INET, SOCK_DGRAM, 0)
    name = g.sockaddr(0)
    assert g("bind", receiver, name, 16) == 0
    assert g("getsockname", receiver, name, g.emu.alloc(struct.pack("<i", 16))) == 0
    return receiver, sender, name


def socket_type(g: Guest, s: int) -> int:
    value = g.emu.alloc(4)
    assert g("getsockopt", s, SOL_SOCKET, SO_TYPE, value, g.emu.alloc(struct.pack("<i", 4))) == 0
    assert g("closesocket", s) == 0
    return g.emu.read_int(value)


def test_wsabuf_layouts() -> None:
    assert {size: layout.size for size, layout in WSABUF_LAYOUTS.items()} == {4: 8, 8: 16}
    assert ctypes.sizeof(WSAPROTOCOL_INFOA) == 372 and ctypes.sizeof(WSAPROTOCOL_INFOW) == 628
    assert WSAPROTOCOL_INFOA.iAddressFamily.offset == 76
    assert WSAPROTOCOL_INFOW.dwProviderReserved.offset == 112


def test_wsasocket_reads_the_protocol_info(guest: Guest) -> None:
    g = guest
    guest.fails(WSANOTINITIALISED, "WSASocketA", FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                FROM_PROTOCOL_INFO, UNMAPPED, 0, 0)
    g.started()
    info_a = g.emu.alloc(bytes(WSAPROTOCOL_INFOA(iAddressFamily=AF_INET, iSocketType=SOCK_DGRAM,
                                                 iProtocol=IPPROTO_UDP)))
    minus = FROM_PROTOCOL_INFO & 0xFFFFFFFF  # as the guest's register holds it
    assert socket_type(g, g("WSASocketA", minus, minus, minus, info_a, 0, 0)) == SOCK_DGRAM
    info_w = g.emu.alloc(bytes(WSAPROTOCOL_INFOW(iAddressFamily=AF_INET,
                                                 iSocketType=SOCK_STREAM)))
    assert socket_type(g, g("WSASocketW", 0, 0, 0, info_w, 0, 0)) == SOCK_STREAM
    g.fails(WSAEFAULT, "WSASocketW", 0, 0, 0, UNMAPPED, 0, 0)
    g.fails(WSAEFAULT, "WSASocketA", 0, 0, 0, g.emu.alloc_at_end(bytes(371)), 0, 0)
    assert g.last_error == WSAEFAULT
    assert socket_type(g, g("WSASocketA", AF_INET, SOCK_DGRAM, 0, 0, 0, 1)) == SOCK_DGRAM
    assert g.last_error == 0


def test_datagrams_through_the_hooks(guest: Guest) -> None:
    g = guest.started()
    receiver, sender, to = udp_pair(g)
    count = g.emu.alloc(4)
    sent = wsabufs(g, (g.emu.alloc(b"ab"), 2), (g.emu.alloc(b"cde"), 3))
    assert g("WSASendTo", sender, sent, 2, count, 0, to, 16, 0, 0) == 0
    assert g.emu.read_int(count) == 5

    # Peeked whole, then scattered over two buffers with the sender's address.
    peek = g.emu.alloc(16)
    flags = g.emu.alloc(struct.pack("<I", MSG_PEEK))
    assert g("WSARecv", receiver, wsabufs(g, (peek, 16)), 1, count, flags, 0, 0) == 0
    assert (g.emu.read_int(count), g.emu.read_int(flags)) == (5, 0)
    assert g.emu.mem_read(peek, 5) == b"abcde"
    first, second = g.emu.alloc(b"\xee" * 3), g.emu.alloc(b"\xee" * 4)
    source, length = g.emu.alloc(b"\xee" * 32), g.emu.alloc(struct.pack("<i", 32))
    buffers = wsabufs(g, (first, 3), (second, 4))
    assert g("WSARecvFrom", receiver, buffers, 2, count, flags, source, length, 0, 0) == 0
    assert g.emu.mem_read(first, 3) + g.emu.mem_read(second, 4) == b"abcde\xee\xee"
    assert g.emu.read_int(length) == 16
    family, port, host = struct.unpack("<HH4s", g.emu.mem_read(source, 8))
    assert (family, host) == (AF_INET, bytes([127, 0, 0, 1])) and port != 0
    assert g.emu.mem_read(source + 16, 16) == b"\xee" * 16   # only the sockaddr written

    # sendto and recvfrom; a datagram too big fills the buffer and writes the address, but
    # neither the count nor the flags.
    data = g.emu.alloc(bytes(range(100)))
    assert g("sendto", sender, data, 100, 0, to, 16) == 100
    small, source = g.emu.alloc(10), g.emu.alloc(16)
    length = g.emu.alloc(struct.pack("<i", 16))
    g.fails(WSAEMSGSIZE, "recvfrom", receiver, small, 10, 0, source, length)
    assert g.emu.mem_read(small, 10) == bytes(range(10))
    assert struct.unpack("<H", g.emu.mem_read(source, 2))[0] == AF_INET
    assert g("sendto", sender, data, 100, 0, to, 16) == 100
    g.emu.mem_write(count, struct.pack("<i", 77))
    g.emu.mem_write(flags, struct.pack("<I", MSG_PEEK))
    g.fails(WSAEMSGSIZE, "WSARecv", receiver, wsabufs(g, (small, 10)), 1, count, flags, 0, 0)
    assert (g.emu.read_int(count), g.emu.read_int(flags)) == (77, MSG_PEEK)
    g.emu.mem_write(flags, bytes(4))
    g.fails(WSAEMSGSIZE, "WSARecv", receiver, wsabufs(g, (small, 10)), 1, count, flags, 0, 0)
    for s in (receiver, sender):
        assert g("closesocket", s) == 0


def test_no_datagram_is_lost_to_a_bad_out_parameter(guest: Guest) -> None:
    g = guest.started()
    receiver, sender, to = udp_pair(g)
    assert g("sendto", sender, g.emu.alloc(b"kept"), 4, 0, to, 16) == 4
    buffer, count, flags = g.emu.alloc(16), g.emu.alloc(4), g.emu.alloc(4)
    read_only = g.emu.alloc(16)
    g.emu.protect(read_only, 16)
    good = wsabufs(g, (buffer, 16))
    for args in ((wsabufs(g, (read_only, 16)), 1, count, flags, 0, 0),
                 (good, 1, read_only, flags, 0, 0),
                 (good, 1, count, read_only, 0, 0),
                 (good, 1, 0, flags, 0, 0),
                 (good, 1, count, 0, 0, 0),
                 (good, 1, count, flags, read_only, g.emu.alloc(struct.pack("<i", 16))),
                 (good, 1, count, flags, g.emu.alloc(16), read_only),
                 (good, 1, count, flags, g.emu.alloc(16), g.emu.alloc(struct.pack("<i", 15))),
                 (good, 1, count, flags, g.emu.alloc(16), 0),
                 (UNMAPPED, 1, count, flags, 0, 0),
                 (g.emu.alloc_at_end(bytes(WSABUF_LAYOUTS[g.ptr_size].size)), 2, count, flags,
                  0, 0)):
        g.fails(WSAEFAULT, "WSARecvFrom", receiver, *args, 0, 0)
    g.fails(WSAEFAULT, "recvfrom", receiver, read_only, 16, 0, 0, 0)
    g.fails(WSAEFAULT, "recvfrom", receiver, buffer, -1, 0, 0, 0)
    assert g("recvfrom", receiver, buffer, 16, 0, 0, 0) == 4
    assert g.emu.mem_read(buffer, 4) == b"kept"
    for s in (receiver, sender):
        assert g("closesocket", s) == 0


def test_check_order_and_overlapped(guest: Guest) -> None:
    g = guest
    # Not started, then not a socket: both before any pointer is read.
    for name, args in (("sendto", (UNMAPPED, 4, 0, UNMAPPED, 16)),
                       ("recvfrom", (UNMAPPED, 4, 0, UNMAPPED, UNMAPPED)),
                       ("WSASend", (UNMAPPED, 1, UNMAPPED, 0, 0, 0)),
                       ("WSARecv", (UNMAPPED, 1, UNMAPPED, UNMAPPED, 0, 0)),
                       ("WSASendTo", (UNMAPPED, 1, UNMAPPED, 0, UNMAPPED, 16, 0, 0)),
                       ("WSARecvFrom", (UNMAPPED, 1, UNMAPPED, UNMAPPED, UNMAPPED, UNMAPPED,
                                        0, 0))):
        g.fails(WSANOTINITIALISED, name, 0x1234, *args)
    g.started()
    for name, args in (("sendto", (UNMAPPED, 4, 0, UNMAPPED, 16)),
                       ("WSARecv", (UNMAPPED, 1, UNMAPPED, UNMAPPED, 0, 0))):
        g.fails(WSAENOTSOCK, name, 0x1234, *args)

    receiver, sender, to = udp_pair(g)
    count, overlapped = g.emu.alloc(4), g.emu.alloc(32)
    one = wsabufs(g, (g.emu.alloc(b"x"), 1))
    # On an overlapped socket, before any effect: a completion routine (guest code, which
    # this guest cannot run), a structure the guest cannot write, an hEvent that is no
    # event of ws2core's.
    g.fails(WSAEOPNOTSUPP, "WSASendTo", sender, one, 1, count, 0, to, 16, overlapped, 0x401000)
    g.fails(WSAEFAULT, "WSASendTo", sender, one, 1, count, 0, to, 16, UNMAPPED, 0)
    g.emu.protect(overlapped, 32, write=False)
    g.fails(WSAEFAULT, "WSASendTo", sender, one, 1, count, 0, to, 16, overlapped, 0)
    g.emu.protect(overlapped, 32, write=True)
    event_at = 24 if g.ptr_size == 8 else 16     # hEvent, after the four other fields
    g.emu.mem_write(overlapped + event_at, struct.pack("<I", sender))
    g.fails(WSA_INVALID_HANDLE, "WSASendTo", sender, one, 1, count, 0, to, 16, overlapped, 0)
    assert g.emu.mem_read(overlapped, event_at) == bytes(event_at)
    assert g.ws2_32.ioctlsocket(receiver, FIONREAD, waiting := Ref(0)) == 0
    assert waiting.value == 0, "a refused call sent nothing"
    receiver_name = g.emu.alloc(g.emu.mem_read(to, 16))
    plain = g("WSASocketW", AF_INET, SOCK_DGRAM, 0, 0, 0, 0)
    ignored = g.emu.alloc(32)
    assert g("WSASendTo", plain, one, 1, count, 0, receiver_name, 16, ignored, 0x401000) == 0
    flags = g.emu.alloc(4)
    assert g("WSARecv", receiver, wsabufs(g, (g.emu.alloc(4), 4)), 1, count, flags,
             ignored, 0x401000) == 0
    assert g.emu.read_int(count) == 1
    assert g.emu.mem_read(ignored, 32) == bytes(32)   # not touched: the sockets are not overlapped
    for s in (receiver, sender, plain):
        assert g("closesocket", s) == 0



def test_duplicate_socket_through_the_hooks(guest: Guest) -> None:
    g = guest.started()
    receiver, sender, to = udp_pair(g)
    info = g.emu.alloc(ctypes.sizeof(WSAPROTOCOL_INFOA))
    g.fails(WSAENOTSOCK, "WSADuplicateSocketA", 0x1234, 0, UNMAPPED)
    g.fails(WSAEINVAL, "WSADuplicateSocketA", receiver, 0, UNMAPPED)  # the process first
    g.fails(WSAEFAULT, "WSADuplicateSocketA", receiver, 8, g.emu.alloc_at_end(bytes(371)))
    read_only = g.emu.alloc(ctypes.sizeof(WSAPROTOCOL_INFOW))
    g.emu.protect(read_only, ctypes.sizeof(WSAPROTOCOL_INFOW))
    g.fails(WSAEFAULT, "WSADuplicateSocketW", receiver, 8, read_only)
    assert g("WSADuplicateSocketA", receiver, 8, info) == 0
    filled = WSAPROTOCOL_INFOA.from_buffer_copy(g.emu.mem_read(info, 372))
    assert (filled.iAddressFamily, filled.iSocketType, filled.iProtocol) == (
        AF_INET, SOCK_DGRAM, IPPROTO_UDP)
    duplicate = g("WSASocketA", 0, 0, 0, info, 0, 0)
    assert duplicate not in (g.invalid_socket, receiver)
    assert g("closesocket", receiver) == 0
    assert g("sendto", sender, g.emu.alloc(b"dup"), 3, 0, to, 16) == 3
    buffer = g.emu.alloc(8)
    assert g("recvfrom", duplicate, buffer, 8, 0, 0, 0) == 3
    for s in (duplicate, sender):
        assert g("closesocket", s) == 0


@pytest.mark.parametrize("structure", [WSAPROTOCOL_INFOA, WSAPROTOCOL_INFOW])
def test_enum_protocols_through_the_hooks(guest: Guest, structure: type[ctypes.Structure]) -> None:
    """WSAEnumProtocolsA/W over guest memory (one layout for both ABIs: no pointers): the size
    query writes the bytes needed, a big enough buffer gets the entries (only them: the bytes
    after stay), lpiProtocols is read up to its 0, and a buffer claimed longer than it is
    mapped is fine as long as the entries fit; an unreadable lpiProtocols or length, or a
    buffer the entries do not fit in, is WSAEFAULT."""
    g = guest
    name = "WSAEnumProtocolsA" if structure is WSAPROTOCOL_INFOA else "WSAEnumProtocolsW"
    size = ctypes.sizeof(structure)
    length = g.emu.alloc(struct.pack("<I", 0))
    g.fails(WSANOTINITIALISED, name, 0, 0, length)
    g.started()
    g.fails(WSAENOBUFS, name, 0, 0, length)
    assert g.emu.read_int(length) == 4 * size                   # the base provider's four
    buffer = g.emu.alloc(b"\xa5" * (5 * size))
    g.emu.mem_write(length, struct.pack("<I", 5 * size))
    assert g(name, 0, buffer, length) == 4
    assert g.emu.read_int(length) == 5 * size                   # left alone on success
    entries = [structure.from_buffer_copy(g.emu.mem_read(buffer + i * size, size))
               for i in range(4)]
    assert [(e.iAddressFamily, e.iSocketType, e.iProtocol) for e in entries] == [
        (AF_INET, SOCK_STREAM, 6), (AF_INET, SOCK_DGRAM, IPPROTO_UDP),
        (23, SOCK_STREAM, 6), (23, SOCK_DGRAM, IPPROTO_UDP)]
    assert g.emu.mem_read(buffer + 4 * size, size) == b"\xa5" * size
    udp = g.emu.alloc(struct.pack("<iii", IPPROTO_UDP, 0, 6))   # ends at its 0: UDP alone
    assert g(name, udp, buffer, length) == 2
    assert {structure.from_buffer_copy(g.emu.mem_read(buffer + i * size, size)).iProtocol
            for i in range(2)} == {IPPROTO_UDP}
    g.emu.mem_write(length, struct.pack("<I", 0xFFFFFFFF))      # more than is mapped
    assert g(name, 0, g.emu.alloc_at_end(bytes(4 * size)), length) == 4
    g.fails(WSAEFAULT, name, 0, g.emu.alloc_at_end(bytes(4 * size - 1)), length)
    g.fails(WSAEFAULT, name, UNMAPPED, buffer, length)
    g.fails(WSAEFAULT, name, g.emu.alloc_at_end(struct.pack("<i", IPPROTO_UDP)), buffer, length)
    g.fails(WSAEFAULT, name, 0, buffer, UNMAPPED)
    g.fails(WSAEFAULT, name, 0, buffer, 0)                      # the documented WSAEFAULT
    read_only = g.emu.alloc(struct.pack("<I", 0))
    g.emu.protect(read_only, 4)
    g.fails(WSAEFAULT, name, 0, 0, read_only)                   # checked before the call
