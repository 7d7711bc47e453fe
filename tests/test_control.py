"""The control family at its three layers: the provider's options, SIOCATMARK and poll
(layer 2), Ws2_32's setsockopt, WSAIoctl, WSAPoll and WSAAccept (layer 3), and their guest
exports over guest memory (layer 4, both ABIs).

What Windows does comes from Wine's dlls/ws2_32/tests/sock.c (test_set_getsockopt's option
sizes, which hold on Windows) and the functions' documentation; tests/emulator/options.c
checks the same under Speakeasy and Wine.
"""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

import pytest
from guest_support import Caller as Guest
from guest_support import FakeGuest, abi, caller, guest_table, listener, open_socket  # noqa: F401  (fixtures)
from provider_support import Kit, call, kit, ok, provider  # noqa: F401  (fixtures)

import ws2core
from ws2core import Ref
from ws2core.constants import (
    AF_INET,
    AF_INET6,
    CF_ACCEPT,
    CF_DEFER,
    CF_REJECT,
    FIONBIO,
    FIONREAD,
    IP_ADD_MEMBERSHIP,
    IP_HDRINCL,
    IP_TTL,
    IPPROTO_IP,
    IPPROTO_IPV6,
    IPPROTO_TCP,
    IPV6_V6ONLY,
    MSG_OOB,
    POLLNVAL,
    POLLPRI,
    POLLRDBAND,
    POLLRDNORM,
    POLLWRNORM,
    SIO_GET_EXTENSION_FUNCTION_POINTER,
    SIOCATMARK,
    SO_DONTLINGER,
    SO_ERROR,
    SO_EXCLUSIVEADDRUSE,
    SO_LINGER,
    SO_MAX_MSG_SIZE,
    SO_PROTOCOL_INFOA,
    SO_PROTOCOL_INFOW,
    SO_RCVBUF,
    SO_REUSEADDR,
    SOCKET_ERROR,
    SOL_SOCKET,
    TCP_NODELAY,
    WSAECONNREFUSED,
    WSAEFAULT,
    WSAEINVAL,
    WSAENOBUFS,
    WSAENOPROTOOPT,
    WSAENOTSOCK,
    WSAEOPNOTSUPP,
    WSANOTINITIALISED,
    WSATRY_AGAIN,
    XP1_CONNECTIONLESS,
    XP1_EXPEDITED_DATA,
    XP1_GRACEFUL_CLOSE,
    XP1_GUARANTEED_DELIVERY,
    XP1_GUARANTEED_ORDER,
    XP1_IFS_HANDLES,
    XP1_MESSAGE_ORIENTED,
    XP1_SUPPORT_BROADCAST,
    XP1_SUPPORT_MULTIPOINT,
)
from ws2core.provider import WSAPOLLFD
from ws2core.structs import WSAOVERLAPPED, WSAPROTOCOL_INFOA, WSAPROTOCOL_INFOW
from ws2core.ws2_32 import Ws2_32

# --- layer 2: the provider ---------------------------------------------------------------


def _get_bytes(p: Any, s: int, level: int, name: int, room: int) -> tuple[bytes, int]:
    buffer, length = bytearray(b"\xaa" * 8), Ref(room)
    ok(p.WSPGetSockOpt, s, level, name, buffer, length)
    return bytes(buffer), length.value


def test_one_byte_bools(provider: Any, kit: Kit) -> None:
    """TCP_NODELAY takes any optlen from 1 and reads one byte (0x100 is FALSE); getsockopt
    writes one byte and optlen 1 whatever the room."""
    p, s = provider, kit.tcp()
    ok(p.WSPSetSockOpt, s, IPPROTO_TCP, TCP_NODELAY, b"\x01", 1)
    assert _get_bytes(p, s, IPPROTO_TCP, TCP_NODELAY, 8) == (b"\x01" + b"\xaa" * 7, 1)
    ok(p.WSPSetSockOpt, s, IPPROTO_TCP, TCP_NODELAY, struct.pack("<I", 0x100), 4)
    assert _get_bytes(p, s, IPPROTO_TCP, TCP_NODELAY, 4)[0][0] == 0
    assert call(p.WSPSetSockOpt, s, IPPROTO_TCP, TCP_NODELAY, b"\x01", 0) == WSAEFAULT
    assert call(p.WSPSetSockOpt, s, IPPROTO_TCP, TCP_NODELAY, b"\x01", -1) == WSAENOBUFS


def test_sol_socket_bool_lengths(provider: Any, kit: Kit) -> None:
    """A SOL_SOCKET BOOL: one byte is enough to set it, optlen 0 succeeds; getsockopt with
    room for 2 writes both and says 1, with room for 4 says 4."""
    p, s = provider, kit.tcp()
    ok(p.WSPSetSockOpt, s, SOL_SOCKET, SO_REUSEADDR, b"\x01", 1)
    assert _get_bytes(p, s, SOL_SOCKET, SO_REUSEADDR, 4) == (b"\x01\0\0\0" + b"\xaa" * 4, 4)
    assert _get_bytes(p, s, SOL_SOCKET, SO_REUSEADDR, 2) == (b"\x01\0" + b"\xaa" * 6, 1)
    ok(p.WSPSetSockOpt, s, SOL_SOCKET, SO_REUSEADDR, b"", 0)
    # A negative optlen at SOL_SOCKET reads the value whole.
    ok(p.WSPSetSockOpt, s, SOL_SOCKET, SO_RCVBUF, struct.pack("<i", 8192), -1)
    assert call(p.WSPGetSockOpt, s, SOL_SOCKET, SO_RCVBUF, bytearray(4), Ref(-1)) == WSAEFAULT


def test_ip_byte_options(provider: Any, kit: Kit) -> None:
    p, s = provider, kit.udp()
    ok(p.WSPSetSockOpt, s, IPPROTO_IP, IP_TTL, struct.pack("<I", 0xFFFF0021), 1)
    assert _get_bytes(p, s, IPPROTO_IP, IP_TTL, 4)[0][:4] == struct.pack("<I", 0x21)
    assert _get_bytes(p, s, IPPROTO_IP, IP_TTL, 2) == (b"\x21" + b"\xaa" * 7, 1)
    assert call(p.WSPSetSockOpt, s, IPPROTO_IP, IP_TTL, 0x100, 4) == WSAEINVAL
    assert call(p.WSPSetSockOpt, s, IPPROTO_IP, IP_HDRINCL, 1, 4) == WSAEINVAL
    assert call(p.WSPGetSockOpt, s, IPPROTO_IP, IP_HDRINCL, Ref(None), Ref(4)) == WSAEINVAL
    assert call(p.WSPSetSockOpt, s, IPPROTO_IPV6, IPV6_V6ONLY, 1, 4) == WSAEINVAL  # IPv4
    value, length = Ref(None), Ref(4)
    ok(p.WSPGetSockOpt, s, SOL_SOCKET, SO_MAX_MSG_SIZE, value, length)
    assert (value.value, length.value) == (65507, 4)


# Windows' dwServiceFlags1 for TCP and UDP (Wine's protocol.c, test_service_flags).
_TCP_FLAGS = (XP1_GUARANTEED_DELIVERY | XP1_GUARANTEED_ORDER | XP1_GRACEFUL_CLOSE
              | XP1_EXPEDITED_DATA | XP1_IFS_HANDLES)
_UDP_FLAGS = (XP1_CONNECTIONLESS | XP1_MESSAGE_ORIENTED | XP1_SUPPORT_BROADCAST
              | XP1_SUPPORT_MULTIPOINT | XP1_IFS_HANDLES)
_INFO_A, _INFO_W = 372, 628  # sizeof(WSAPROTOCOL_INFOA), sizeof(WSAPROTOCOL_INFOW)
_NAME_AT = WSAPROTOCOL_INFOA.szProtocol.offset


def test_protocol_info(provider: Any, kit: Kit) -> None:
    """SO_PROTOCOL_INFOA/W: Windows' base provider entry for the socket; A and W the same
    but for szProtocol; a short optlen is WSAEFAULT with the size written back, a larger one
    stays (Wine's tests, which hold on Windows)."""
    p = provider
    tcp, udp6 = kit.tcp(), kit.udp(AF_INET6)
    value, length = Ref(None), Ref(0)
    ok(p.WSPGetSockOpt, tcp, SOL_SOCKET, SO_PROTOCOL_INFOA, value, length)
    info = value.value
    assert isinstance(info, WSAPROTOCOL_INFOA) and length.value == _INFO_A
    assert (info.iAddressFamily, info.iSocketType, info.iProtocol) == (AF_INET, 1, 6)
    assert (info.iMaxSockAddr, info.iMinSockAddr, info.dwMessageSize) == (16, 16, 0)
    assert (info.dwServiceFlags1, info.dwCatalogEntryId) == (_TCP_FLAGS, 1001)  # MSAFD Tcpip [TCP/IP]
    assert (info.iVersion, info.ProtocolChain.ChainLen, info.dwProviderReserved) == (2, 1, 0)
    assert info.szProtocol == b"MSAFD Tcpip [TCP/IP]"
    # The buffer form: the same bytes, nothing past the structure, optlen left as it was.
    buffer = bytearray(b"\xaa" * 800)
    length = Ref(800)
    ok(p.WSPGetSockOpt, tcp, SOL_SOCKET, SO_PROTOCOL_INFOA, buffer, length)
    assert bytes(buffer) == bytes(info) + b"\xaa" * (800 - _INFO_A) and length.value == 800
    short = Ref(_INFO_A - 1)
    assert call(p.WSPGetSockOpt, tcp, SOL_SOCKET, SO_PROTOCOL_INFOA, bytearray(_INFO_A),
                short) == WSAEFAULT
    assert short.value == _INFO_A
    # A length the buffer does not have is WSAEFAULT too, optlen untouched.
    length = Ref(_INFO_W)
    assert call(p.WSPGetSockOpt, tcp, SOL_SOCKET, SO_PROTOCOL_INFOW, bytearray(_INFO_A),
                length) == WSAEFAULT
    assert length.value == _INFO_W
    assert call(p.WSPSetSockOpt, tcp, SOL_SOCKET, SO_PROTOCOL_INFOA, bytes(_INFO_A),
                _INFO_A) == WSAENOPROTOOPT
    wide, ansi = Ref(None), Ref(None)
    ok(p.WSPGetSockOpt, udp6, SOL_SOCKET, SO_PROTOCOL_INFOW, wide, Ref(_INFO_W))
    ok(p.WSPGetSockOpt, udp6, SOL_SOCKET, SO_PROTOCOL_INFOA, ansi, Ref(_INFO_A))
    assert isinstance(wide.value, WSAPROTOCOL_INFOW)
    assert bytes(wide.value)[:_NAME_AT] == bytes(ansi.value)[:_NAME_AT]
    assert "".join(map(chr, wide.value.szProtocol)).rstrip("\0") == "MSAFD Tcpip [UDP/IPv6]"
    assert (wide.value.iAddressFamily, wide.value.iSocketType, wide.value.iProtocol) == (23, 2, 17)
    assert (wide.value.iMaxSockAddr, wide.value.dwServiceFlags1) == (28, _UDP_FLAGS)
    assert wide.value.dwMessageSize != 0
    # WSPDuplicateSocket fills the same structure, and its key.
    duplicate = WSAPROTOCOL_INFOW()
    ok(p.WSPDuplicateSocket, udp6, 1, duplicate)
    assert duplicate.dwProviderReserved != 0
    duplicate.dwProviderReserved = 0
    assert bytes(duplicate) == bytes(wide.value)


def test_buffer_sizes_read_back_as_set(provider: Any, kit: Kit) -> None:
    """Windows reads SO_RCVBUF back as set (Wine's test: 4096, and 0); Linux doubles it."""
    p = provider
    listening, port = kit.listener()
    for size in (4096, 0):
        ok(p.WSPSetSockOpt, listening, SOL_SOCKET, SO_RCVBUF, size, 4)
        value = Ref(None)
        ok(p.WSPGetSockOpt, listening, SOL_SOCKET, SO_RCVBUF, value, Ref(4))
        assert value.value == size
    ok(p.WSPSetSockOpt, listening, SOL_SOCKET, SO_RCVBUF, 8192, 4)
    client = kit.tcp()
    kit.connect(client, AF_INET, port)
    accepted = kit.accept(listening)   # inherits the listener's, as the host's accept does
    value = Ref(None)
    ok(p.WSPGetSockOpt, accepted, SOL_SOCKET, SO_RCVBUF, value, Ref(4))
    assert value.value == 8192


def test_exclusive_address_and_linger(provider: Any, kit: Kit) -> None:
    p, s = provider, kit.tcp()
    ok(p.WSPSetSockOpt, s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 1, 4)
    assert call(p.WSPSetSockOpt, s, SOL_SOCKET, SO_REUSEADDR, 1, 4) == WSAEINVAL
    ok(p.WSPSetSockOpt, s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 0, 4)
    ok(p.WSPSetSockOpt, s, SOL_SOCKET, SO_REUSEADDR, 1, 4)
    assert call(p.WSPSetSockOpt, s, SOL_SOCKET, SO_EXCLUSIVEADDRUSE, 1, 4) == WSAEINVAL
    ok(p.WSPSetSockOpt, s, SOL_SOCKET, SO_LINGER, (1, 9), 4)
    value = Ref(None)
    ok(p.WSPGetSockOpt, s, SOL_SOCKET, SO_DONTLINGER, value, Ref(4))
    assert value.value == 0
    ok(p.WSPSetSockOpt, s, SOL_SOCKET, SO_DONTLINGER, 1, 4)
    ok(p.WSPGetSockOpt, s, SOL_SOCKET, SO_LINGER, value, Ref(4))
    assert value.value == (0, 9)   # l_linger kept for the next SO_DONTLINGER FALSE
    ok(p.WSPSetSockOpt, s, SOL_SOCKET, SO_ERROR, 1234, 4)
    ok(p.WSPGetSockOpt, s, SOL_SOCKET, SO_ERROR, value, Ref(4))
    assert value.value == 1234


def test_multicast_join_is_the_policys(provider: Any, kit: Kit) -> None:
    """The default policy (loopback only) refuses a join with its error, on record, and
    nothing reaches the host."""
    p, s = provider, kit.udp()
    mreq = socket.inet_aton("239.255.0.1") + socket.inet_aton("127.0.0.1")
    assert call(p.WSPSetSockOpt, s, IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq, 8) == p.policy.refuse_error
    assert p.policy.log[-1].address[0] == "239.255.0.1"
    assert call(p.WSPSetSockOpt, s, IPPROTO_IP, IP_ADD_MEMBERSHIP, mreq, 4) == WSAEFAULT


def test_siocatmark(provider: Any, kit: Kit) -> None:
    p = provider
    client, server = kit.pair()
    answer = Ref(None)
    ok(p.WSPIoctl, server, SIOCATMARK, None, 0, answer, 4, Ref(0), None, None, None)
    assert answer.value == 1
    sent = Ref(0)
    ok(p.WSPSend, client, [b"!"], 1, sent, MSG_OOB, None, None, None)
    deadline = time.monotonic() + 5
    while answer.value and time.monotonic() < deadline:
        ok(p.WSPIoctl, server, SIOCATMARK, None, 0, answer, 4, Ref(0), None, None, None)
    assert answer.value == 0
    assert call(p.WSPIoctl, server, SIOCATMARK, None, 0, bytearray(2), 2, Ref(0),
                None, None, None) == WSAEFAULT


def test_poll(provider: Any, kit: Kit) -> None:
    p = provider
    client, server = kit.pair()
    entries = [WSAPOLLFD(client, POLLRDNORM | POLLWRNORM), WSAPOLLFD(0x12344, POLLRDNORM),
               WSAPOLLFD(server, POLLRDNORM, revents=0x7FFF)]
    error = Ref(0)
    assert p.poll(entries, 0, error) == 1   # POLLNVAL is not counted (Wine 8)
    assert [entry.revents for entry in entries] == [POLLWRNORM, POLLNVAL, 0]
    assert p.poll([WSAPOLLFD(0x12344, POLLRDNORM)], 0, error) == SOCKET_ERROR
    assert error.value == WSAENOTSOCK
    assert p.poll([WSAPOLLFD(client, POLLPRI)], 0, error) == SOCKET_ERROR
    assert error.value == WSAEINVAL
    ok(p.WSPSend, server, [b"x"], 1, Ref(0), MSG_OOB, None, None, None)
    urgent = [WSAPOLLFD(client, POLLRDBAND)]
    assert p.poll(urgent, 5000, error) == 1 and urgent[0].revents == POLLRDBAND
    # A negative timeout waits without limit, but never past the thread's blocking limit.
    quiet = [WSAPOLLFD(server, POLLRDNORM)]
    started = time.monotonic()
    with p.blocking_limit(0.1):
        assert p.poll(quiet, -1, error) == 0
    assert 0.05 < time.monotonic() - started < 2


def test_conditional_accept_defer_and_raise(provider: Any, kit: Kit) -> None:
    """CF_DEFER is WSATRY_AGAIN, a WinsockError from the condition its code; either way the
    peer sees a reset and the listener stays usable."""
    p = provider
    listener_s, port = kit.listener()
    for condition, code in ((lambda *args: CF_DEFER, WSATRY_AGAIN),
                            (_raises_winsock_error, WSAEOPNOTSUPP)):
        peer = socket.create_connection(("127.0.0.1", port))
        try:
            assert call(p.WSPAccept, listener_s, None, None, condition, 0) == code
            peer.settimeout(5)
            with pytest.raises(ConnectionResetError):
                peer.recv(1)
        finally:
            peer.close()


def _raises_winsock_error(*args: Any) -> int:
    raise ws2core.WinsockError(WSAEOPNOTSUPP)


# --- layer 3: Ws2_32 ----------------------------------------------------------------------


@pytest.fixture
def ws(ws2core_core: ModuleType) -> Iterator[Ws2_32]:
    with Ws2_32(ws2core.UpcallTable(ws2core_core.HandleTable())) as api:
        yield api


def _pair(ws: Ws2_32) -> tuple[int, int, int]:
    listening = ws.socket(AF_INET, 1, 6)
    assert ws.bind(listening, ("127.0.0.1", 0), 16) == 0 and ws.listen(listening, 4) == 0
    name, length = Ref(None), Ref(16)
    assert ws.getsockname(listening, name, length) == 0
    client = ws.socket(AF_INET, 1, 6)
    assert ws.connect(client, name.value, 16) == 0
    return listening, client, name.value[1]


def test_ws2_32_control_calls(ws: Ws2_32) -> None:
    assert ws.WSAPoll([], 0, 0) == SOCKET_ERROR and ws.WSAGetLastError() == WSANOTINITIALISED
    assert ws.WSAStartup(0x0202, Ref()) == 0
    listening, client, _ = _pair(ws)
    assert ws.setsockopt(client, IPPROTO_TCP, TCP_NODELAY, b"\x01", 1) == 0
    assert ws.WSAGetLastError() == 0
    value, length = Ref(None), Ref(4)
    assert ws.getsockopt(client, IPPROTO_TCP, TCP_NODELAY, value, length) == 0
    assert (value.value, length.value) == (1, 1)
    assert ws.setsockopt(client, SOL_SOCKET, SO_LINGER, None, 4) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSAEFAULT
    length = Ref(10)
    assert ws.getsockopt(client, SOL_SOCKET, SO_PROTOCOL_INFOW, bytearray(10), length) == SOCKET_ERROR
    assert (ws.WSAGetLastError(), length.value) == (WSAEFAULT, _INFO_W)
    assert ws.getsockopt(client, SOL_SOCKET, SO_PROTOCOL_INFOW, value, length) == 0
    assert (value.value.iProtocol, ws.WSAGetLastError()) == (6, 0)
    # WSAIoctl: lpcbBytesReturned is required without overlapped I/O; an overlapped call on
    # this overlapped socket (socket() made it) completes at once, in its structure too.
    available, returned = Ref(None), Ref(None)
    assert ws.WSAIoctl(client, FIONREAD, None, 0, available, 4, None, None, None) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSAEFAULT
    overlapped = WSAOVERLAPPED(Internal=0x103)
    assert ws.WSAIoctl(client, FIONREAD, None, 0, available, 4, returned, overlapped, None) == 0
    assert (available.value, returned.value) == (0, 4)
    assert (overlapped.Internal, overlapped.InternalHigh) == (0, 4)
    assert ws.WSAIoctl(client, FIONBIO, 1, 4, None, 0, returned, None, None) == 0
    assert returned.value == 0
    assert ws.WSAIoctl(client, SIO_GET_EXTENSION_FUNCTION_POINTER, bytes(16), 16,
                       bytearray(8), 8, returned, None, None) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSAEINVAL
    entries = [WSAPOLLFD(listening, POLLRDNORM), WSAPOLLFD(client, POLLRDNORM)]
    assert ws.WSAPoll(entries, 1, 5000) == 1 and entries[0].revents == POLLRDNORM
    assert entries[1].revents == 0   # beyond fds: not polled
    assert ws.WSAPoll(None, 1, 0) == SOCKET_ERROR and ws.WSAGetLastError() == WSAEFAULT
    assert ws.WSAPoll(None, 0, 0) == SOCKET_ERROR and ws.WSAGetLastError() == WSAEINVAL
    seen: list[tuple[Any, ...]] = []

    def reject(caller: Any, caller_data: Any, sqos: Any, gqos: Any, callee: Any,
               callee_data: Any, group: Any, data: int) -> int:
        seen.append((caller[0], callee[0], data))
        return CF_REJECT

    assert ws.WSAAccept(listening, None, None, reject, 77) == ws2core.INVALID_SOCKET
    assert ws.WSAGetLastError() == WSAECONNREFUSED
    assert seen == [("127.0.0.1", "127.0.0.1", 77)]
    for s in (listening, client):
        assert ws.closesocket(s) == 0


# --- layer 4: the guest exports -----------------------------------------------------------


@pytest.fixture
def guest(caller: Guest) -> Guest:
    return caller


def test_guest_options(guest: Guest) -> None:
    g = guest.started()
    s = open_socket(g)
    # One byte at the very end of mapped memory is enough for a BOOL Windows reads one of.
    edge = g.emu.alloc_at_end(b"\x01")
    assert g("setsockopt", s, IPPROTO_TCP, TCP_NODELAY, edge, 4) == 0
    value, length = g.emu.alloc(b"\xaa" * 4), g.emu.alloc(struct.pack("<i", 4))
    assert g("getsockopt", s, IPPROTO_TCP, TCP_NODELAY, value, length) == 0
    assert (g.emu.mem_read(value, 4), g.emu.read_int(length)) == (b"\x01\xaa\xaa\xaa", 1)
    g.fails(WSAEFAULT, "setsockopt", s, SOL_SOCKET, SO_RCVBUF, edge, 4)
    g.fails(WSAEFAULT, "setsockopt", s, SOL_SOCKET, SO_DONTLINGER, 0, 0)
    g.fails(WSAEINVAL, "setsockopt", s, 0x1234, SO_RCVBUF, value, 4)
    g.fails(WSAENOTSOCK, "setsockopt", 0x12344, SOL_SOCKET, SO_RCVBUF, value, 4)
    assert g("closesocket", s) == 0


def test_guest_protocol_info(guest: Guest) -> None:
    """getsockopt SO_PROTOCOL_INFOA/W writes the whole structure into guest memory (the
    same bytes in both ABIs), leaves a larger optlen as it was, and writes the size into a
    short one; optval must be writable for the structure before the call."""
    g = guest.started()
    s = open_socket(g)
    value, length = g.emu.alloc(b"\xaa" * 700), g.emu.alloc(struct.pack("<i", 700))
    assert g("getsockopt", s, SOL_SOCKET, SO_PROTOCOL_INFOW, value, length) == 0
    info = WSAPROTOCOL_INFOW.from_buffer_copy(g.emu.mem_read(value, _INFO_W))
    assert (info.iAddressFamily, info.iSocketType, info.iMaxSockAddr) == (AF_INET, 1, 16)
    assert g.emu.mem_read(value + _INFO_W, 700 - _INFO_W) == b"\xaa" * (700 - _INFO_W)
    assert g.emu.read_int(length) == 700
    short = g.emu.alloc(struct.pack("<i", 100))
    g.fails(WSAEFAULT, "getsockopt", s, SOL_SOCKET, SO_PROTOCOL_INFOA, value, short)
    assert g.emu.read_int(short) == _INFO_A
    # optlen says 372, but the guest has fewer bytes mapped: nothing is written.
    edge, room = g.emu.alloc_at_end(bytes(200)), g.emu.alloc(struct.pack("<i", _INFO_A))
    g.fails(WSAEFAULT, "getsockopt", s, SOL_SOCKET, SO_PROTOCOL_INFOA, edge, room)
    assert (g.emu.mem_read(edge, 200), g.emu.read_int(room)) == (bytes(200), _INFO_A)
    assert g("closesocket", s) == 0


def test_guest_wsaioctl(guest: Guest) -> None:
    g = guest.started()
    s = open_socket(g)
    out, returned = g.emu.alloc(b"\xaa" * 8), g.emu.alloc(b"\xaa" * 4)
    assert g("WSAIoctl", s, FIONREAD, 0, 0, out, 8, returned, 0, 0) == 0
    assert (g.emu.mem_read(out, 8), g.emu.read_int(returned)) == (bytes(4) + b"\xaa" * 4, 4)
    g.fails(WSAEFAULT, "WSAIoctl", s, FIONREAD, 0, 0, out, 8, 0, 0, 0)
    g.fails(WSAEFAULT, "WSAIoctl", s, FIONREAD, 0, 0, out, 2, returned, 0, 0)
    g.fails(WSAEFAULT, "WSAIoctl", s, FIONREAD, 0, 0, g.emu.alloc_at_end(b"\0\0"), 4,
            returned, 0, 0)
    on = g.emu.alloc(struct.pack("<I", 1))
    # Overlapped (socket() made s so): completes at once, into the guest's structure too;
    # lpcbBytesReturned may be NULL then; a completion routine is refused by a guest that
    # cannot run guest code (test_guest_overlapped runs one).
    overlapped = g.emu.alloc(bytes([0xAA]) * 8 + bytes(24))
    assert g("WSAIoctl", s, FIONBIO, on, 4, 0, 0, returned, overlapped, 0) == 0
    assert g.emu.read_int(returned) == 0 and g.emu.mem_read(overlapped, 8) == bytes(8)
    assert g("WSAIoctl", s, FIONREAD, 0, 0, out, 8, 0, overlapped, 0) == 0
    assert g.emu.read_int(overlapped + g.ptr_size) == 4      # InternalHigh: the size
    g.fails(WSAEOPNOTSUPP, "WSAIoctl", s, FIONREAD, 0, 0, out, 8, returned, overlapped, 0x1000)
    # A GUID shorter than 16 bytes, then one no provider knows (test_guest_extensions has
    # the GUIDs that give a pointer).
    g.fails(WSAEFAULT, "WSAIoctl", s, SIO_GET_EXTENSION_FUNCTION_POINTER, on, 4, out, 8,
            returned, 0, 0)
    g.fails(WSAEINVAL, "WSAIoctl", s, SIO_GET_EXTENSION_FUNCTION_POINTER, g.emu.alloc(16), 16,
            out, 8, returned, 0, 0)
    g.fails(WSAENOTSOCK, "WSAIoctl", 0x12344, FIONREAD, 0, 0, out, 8, returned, 0, 0)
    assert g("closesocket", s) == 0


def _poll_array(g: Guest, entries: Sequence[tuple[int, int]]) -> int:
    layout = "<QhhI" if g.ptr_size == 8 else "<Ihh"
    extra = (0xA5A5A5A5,) if g.ptr_size == 8 else ()
    return g.emu.alloc(b"".join(struct.pack(layout, fd, events, 0x7FFF, *extra)
                                for fd, events in entries))


def test_guest_wsapoll(guest: Guest) -> None:
    """WSAPoll rewrites each entry's revents in the guest's layout and nothing else."""
    g = guest.started()
    s, name = listener(g)
    size = 16 if g.ptr_size == 8 else 8
    array = _poll_array(g, [(s, POLLRDNORM), (0x12344, POLLRDNORM)])
    before = g.emu.mem_read(array, 2 * size)
    assert g("WSAPoll", array, 2, 0) == 0
    after = g.emu.mem_read(array, 2 * size)
    revents_at = 10 if g.ptr_size == 8 else 6
    assert struct.unpack_from("<H", after, revents_at)[0] == 0
    assert struct.unpack_from("<H", after, size + revents_at)[0] == POLLNVAL
    unchanged = bytearray(after)
    for entry in range(2):
        unchanged[entry * size + revents_at: entry * size + revents_at + 2] = \
            before[entry * size + revents_at: entry * size + revents_at + 2]
    assert bytes(unchanged) == before   # fd, events and the x64 padding untouched
    g.fails(WSAEFAULT, "WSAPoll", 0, 1, 0)
    g.fails(WSAENOTSOCK, "WSAPoll", _poll_array(g, [(0x12344, POLLRDNORM)]), 1, 0)
    assert g("closesocket", s) == 0


def test_guest_wsaaccept(guest: Guest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a condition function WSAAccept is accept; with one, the emulator runs it on
    WSABUFs of the two addresses; an emulator that cannot (FakeGuest) fails the call with
    WSAEOPNOTSUPP and the peer is reset."""
    g = guest.started()
    s, name = listener(g)
    port = struct.unpack(">H", g.emu.mem_read(name + 2, 2))[0]
    peer = socket.create_connection(("127.0.0.1", port))
    try:
        assert g("WSAAccept", s, 0, 0, 0x401000, 5) == g.invalid_socket
        assert g.last_error == WSAEOPNOTSUPP
        peer.settimeout(5)
        with pytest.raises(ConnectionResetError):
            peer.recv(1)
    finally:
        peer.close()
    calls: list[tuple[int, list[int], bytes]] = []

    def run_function(address: int, args: Sequence[int]) -> int:
        wsabuf = g.emu.mem_read(args[0], 2 * g.ptr_size)
        length = struct.unpack_from("<I", wsabuf)[0]
        pointer = int.from_bytes(wsabuf[g.ptr_size:], "little")
        calls.append((address, list(args), g.emu.mem_read(pointer, length)))
        return CF_ACCEPT

    monkeypatch.setattr(g.emu, "run_function", run_function)
    peer = socket.create_connection(("127.0.0.1", port))
    try:
        addr, addrlen = g.emu.alloc(bytes(16)), g.emu.alloc(struct.pack("<i", 16))
        accepted = g("WSAAccept", s, addr, addrlen, 0x401000, 5)
        assert accepted != g.invalid_socket and g.emu.read_int(addrlen) == 16
        [(address, args, caller)] = calls
        assert address == 0x401000 and args[7] == 5 and args[1:4] == [0, 0, 0]
        assert caller[:2] == struct.pack("<H", AF_INET) and caller[4:8] == bytes([127, 0, 0, 1])
        assert caller == g.emu.mem_read(addr, 16)
        assert g("closesocket", accepted) == 0
    finally:
        peer.close()
    assert g("closesocket", s) == 0
