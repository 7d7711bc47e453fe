"""ws2core.ws2_32.Ws2_32: the Windows API in Python forms, without any guest.

Covered, on both cores: the WSAStartup count (each success needs its WSACleanup; one more
fails), WSASocket's protocol info, groups and flags, sendto/recvfrom and the WSA transfer
calls over UDP (gather, scatter, MSG_PEEK, WSAEMSGSIZE, a short fromlen found before the
receive, lpOverlapped ignored unless the socket is overlapped, the policy asked per
datagram), the checks exposed for the guest layer (started? a socket of this process?), a
loopback connection through socket/bind/getsockname/listen/connect/accept/send/recv with
sockaddr tuples and Windows bytes, getsockopt (SO_ERROR of a failed non-blocking connect,
read once), WSAAsyncSelect's checks and a message, the last error per thread, and
``close()``.
"""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import uuid
from types import ModuleType

import pytest

import ws2core
from ws2core import (
    AF_INET,
    FD_ACCEPT,
    FD_READ,
    FD_WRITE,
    FIONBIO,
    FIONREAD,
    FROM_PROTOCOL_INFO,
    INVALID_SOCKET,
    IPPROTO_TCP,
    IPPROTO_UDP,
    MSG_PEEK,
    PFL_HIDDEN,
    SG_CONSTRAINED_GROUP,
    SO_ERROR,
    SO_PROTOCOL_INFOW,
    SO_TYPE,
    SOCK_DGRAM,
    SOCK_STREAM,
    SOCKET_ERROR,
    SOL_SOCKET,
    WSA_FLAG_OVERLAPPED,
    WSAEAFNOSUPPORT,
    WSAECONNREFUSED,
    WSAEFAULT,
    WSAEHOSTUNREACH,
    WSAEINVAL,
    WSAEMSGSIZE,
    WSAENOBUFS,
    WSAENOPROTOOPT,
    WSAENOTSOCK,
    WSAEOPNOTSUPP,
    WSAEWOULDBLOCK,
    WSANOTINITIALISED,
    WSAVERNOTSUPPORTED,
    WSA_IO_INCOMPLETE,
    WSA_IO_PENDING,
    WSA_OPERATION_ABORTED,
    WSA_WAIT_IO_COMPLETION,
    WSA_WAIT_TIMEOUT,
    WSAMAKESELECTREPLY,
    Ref,
    WinsockError,
)
from ws2core.constants import FALSE, TRUE, WSS_OPERATION_IN_PROGRESS
from ws2core.policy import NetworkPolicy
from ws2core.structs import WSAOVERLAPPED, WSAPROTOCOL_INFOA, WSAPROTOCOL_INFOW
from ws2core.ws2_32 import WSADATA, Ws2_32

from support import JOIN_TIMEOUT


@pytest.fixture
def ws(ws2core_core: ModuleType) -> Ws2_32:
    with Ws2_32(ws2core.UpcallTable(ws2core_core.HandleTable())) as api:
        yield api
        assert len(api.upcalls.table) == 0, "handles left open"


def test_wsastartup_counts(ws: Ws2_32) -> None:
    data = Ref()
    assert ws.WSAStartup(0x0202, data) == 0
    assert data.value == WSADATA(0x0202, 0x0202, 0, 0) and ws.startups == 1
    assert ws.WSAStartup(0x0101, data) == 0 and data.value.iMaxSockets == 32767
    assert ws.startups == 2
    assert ws.WSACleanup() == 0 and ws.WSACleanup() == 0
    assert ws.WSACleanup() == SOCKET_ERROR and ws.WSAGetLastError() == WSANOTINITIALISED
    assert ws.WSAStartup(0x0200, data) == WSAVERNOTSUPPORTED       # version 0.2
    assert ws.WSAStartup(0x0202, None) == WSAEFAULT
    assert ws.startups == 0


def test_checks_for_the_guest_layer(ws: Ws2_32) -> None:
    with pytest.raises(WinsockError) as raised:
        ws.check_socket(4)
    assert raised.value.winerror == WSANOTINITIALISED
    assert ws.socket(AF_INET, SOCK_STREAM, 0) == INVALID_SOCKET
    assert ws.WSAGetLastError() == WSANOTINITIALISED
    assert ws.WSAStartup(0x0202, Ref()) == 0
    ws.check_started()
    event = ws.WSACreateEvent()
    for handle in (event, 0x1234, INVALID_SOCKET, -1):
        with pytest.raises(WinsockError) as raised:
            ws.check_socket(handle)
        assert raised.value.winerror == WSAENOTSOCK
    s = ws.socket(AF_INET, SOCK_STREAM, 0)
    ws.check_socket(s)
    # Windows' order: the socket before the memory (here a buffer shorter than len).
    assert ws.send(event, b"", 10, 0) == SOCKET_ERROR and ws.WSAGetLastError() == WSAENOTSOCK
    assert ws.send(s, b"", 10, 0) == SOCKET_ERROR and ws.WSAGetLastError() == WSAEFAULT
    assert ws.closesocket(s) == 0 and ws.WSACloseEvent(event) == 1
    assert ws.WSACleanup() == 0


def test_loopback(ws: Ws2_32) -> None:
    assert ws.WSAStartup(0x0202, Ref()) == 0
    listener = ws.socket(AF_INET, SOCK_STREAM, 0)
    assert ws.bind(listener, ("127.0.0.1", 0), 16) == 0
    name, length = Ref(), Ref(16)
    assert ws.getsockname(listener, name, length) == 0 and length.value == 16
    assert ws.listen(listener, 5) == 0
    client = ws.socket(AF_INET, SOCK_STREAM, 0)
    raw = bytearray(16)     # the same address as Windows sockaddr_in bytes
    assert ws.getsockname(listener, raw, Ref(16)) == 0
    assert ws.connect(client, bytes(raw), 16) == 0
    peer, peer_length = Ref(), Ref(16)
    server = ws.accept(listener, peer, peer_length)
    assert server != INVALID_SOCKET and peer.value[0] == "127.0.0.1"
    assert ws.send(client, b"hello, host!", 5, 0) == 5          # the first len bytes only
    waiting = Ref(0)
    readfds = ws2core.FdSet([server])
    assert ws.select(0, readfds, None, None, 5.0) == 1
    assert ws.WSAFDIsSet(server, readfds) == 1
    assert getattr(ws, "__WSAFDIsSet")(server, readfds) == 1
    assert ws.ioctlsocket(server, FIONREAD, waiting) == 0 and waiting.value == 5
    buffer = bytearray(8)
    assert ws.recv(server, buffer, 8, 0) == 5 and buffer[:5] == b"hello"
    for s in (client, server, listener):
        assert ws.closesocket(s) == 0
    assert ws.WSACleanup() == 0


def test_getsockopt(ws: Ws2_32) -> None:
    assert ws.WSAStartup(0x0202, Ref()) == 0
    s = ws.socket(AF_INET, SOCK_STREAM, 0)
    value, length = Ref(), Ref(4)
    assert ws.getsockopt(s, SOL_SOCKET, SO_TYPE, value, length) == 0
    assert (value.value, length.value) == (SOCK_STREAM, 4)
    raw, length = bytearray(b"\xAA" * 8), Ref(8)     # a larger buffer gets the 4 bytes
    assert ws.getsockopt(s, SOL_SOCKET, SO_TYPE, raw, length) == 0
    assert (bytes(raw), length.value) == (SOCK_STREAM.to_bytes(4, "little") + b"\xAA" * 4, 4)
    assert ws.getsockopt(s, SOL_SOCKET, SO_TYPE, bytearray(2), Ref(2)) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSAEFAULT
    assert ws.getsockopt(s, SOL_SOCKET, 0x7777, Ref(), Ref(4)) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSAENOPROTOOPT
    assert ws.getsockopt(0x1234, SOL_SOCKET, SO_TYPE, Ref(), Ref(4)) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSAENOTSOCK

    # A non-blocking connect to a loopback port nobody listens on: its failure is SO_ERROR's,
    # once.
    closed = ws.socket(AF_INET, SOCK_STREAM, 0)
    assert ws.bind(closed, ("127.0.0.1", 0), 16) == 0
    name = Ref()
    assert ws.getsockname(closed, name, Ref(16)) == 0 and ws.closesocket(closed) == 0
    assert ws.ioctlsocket(s, FIONBIO, Ref(1)) == 0
    assert ws.connect(s, name.value, 16) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSAEWOULDBLOCK
    assert ws.select(0, None, None, ws2core.FdSet([s]), 5.0) == 1
    assert ws.getsockopt(s, SOL_SOCKET, SO_ERROR, value, Ref(4)) == 0
    assert value.value == WSAECONNREFUSED
    assert ws.getsockopt(s, SOL_SOCKET, SO_ERROR, value, Ref(4)) == 0 and value.value == 0
    assert ws.closesocket(s) == 0
    assert ws.WSACleanup() == 0


def test_last_error_per_thread(ws: Ws2_32) -> None:
    ws.WSASetLastError(1234)
    seen: list[int] = []

    def other() -> None:
        seen.append(ws.WSAGetLastError())
        ws.closesocket(0x1234)                      # WSANOTINITIALISED in this thread only
        seen.append(ws.WSAGetLastError())

    thread = threading.Thread(target=other)
    thread.start()
    thread.join(JOIN_TIMEOUT)
    assert seen == [0, WSANOTINITIALISED]
    assert ws.WSAGetLastError() == 1234
    assert ws.WSAGetLastError() == ws.upcalls.WSAGetLastError()   # the UpcallTable's


def test_socket_success_clears_the_last_error(ws: Ws2_32) -> None:
    """Windows sets 0 after a successful socket call (a stale code after a success misleads
    a program that reads it); an event call, kernel32's on Windows, leaves it alone."""
    assert ws.WSAStartup(0x0202, Ref()) == 0
    assert ws.closesocket(0x1234) == SOCKET_ERROR and ws.WSAGetLastError() == WSAENOTSOCK
    s = ws.socket(AF_INET, SOCK_STREAM, 0)
    assert s != INVALID_SOCKET and ws.WSAGetLastError() == 0
    ws.WSASetLastError(WSAEWOULDBLOCK)
    event = ws.WSACreateEvent()
    assert ws.WSASetEvent(event) and ws.WSACloseEvent(event)
    assert ws.WSAGetLastError() == WSAEWOULDBLOCK
    assert ws.ioctlsocket(s, FIONBIO, Ref(1)) == 0 and ws.WSAGetLastError() == 0
    assert ws.closesocket(s) == 0 and ws.WSACleanup() == 0


def test_close_forgets_the_startups(ws: Ws2_32) -> None:
    assert ws.WSAStartup(0x0202, Ref()) == 0
    ws.socket(AF_INET, SOCK_STREAM, 0)
    ws.close()
    assert ws.startups == 0 and len(ws.upcalls.table) == 0
    assert ws.socket(AF_INET, SOCK_STREAM, 0) == INVALID_SOCKET


def test_refuses_a_provider_of_another_table(ws2core_core: ModuleType) -> None:
    from ws2core.provider import HostSocketProvider

    with HostSocketProvider() as provider:
        provider.WSPStartup(ws2core.UpcallTable(ws2core_core.HandleTable()))
        with pytest.raises(ValueError, match="another"):
            Ws2_32(provider=provider)
    with pytest.raises(TypeError):
        Ws2_32(ws2core_core.HandleTable())  # type: ignore[arg-type]


def test_layers_import_only_what_is_below() -> None:
    """import ws2core loads none of the layers above it; ws2_32 and guest no emulator."""
    code = ("import sys, ws2core; loaded = set(sys.modules); "
            "assert not {'ws2core.ws2_32', 'ws2core.guest', 'ws2core.adapters'} & loaded; "
            "import ws2core.guest; assert 'speakeasy' not in sys.modules; "
            "assert 'unicorn' not in sys.modules; assert 'ws2core.adapters' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


# --- sockets and data: WSASocket, sendto, recvfrom and the WSA transfer calls


def _udp_pair(ws: Ws2_32, *, flags: int = 0) -> tuple[int, int, tuple[str, int]]:
    """A bound receiver (made by WSASocketA with ``flags``), a sender (socket(), so
    overlapped, as on Windows) and the receiver's address."""
    receiver = ws.WSASocketA(AF_INET, SOCK_DGRAM, IPPROTO_UDP, None, 0, flags)
    sender = ws.socket(AF_INET, SOCK_DGRAM, 0)
    assert ws.bind(receiver, ("127.0.0.1", 0), 16) == 0
    name, length = Ref(), Ref(16)
    assert ws.getsockname(receiver, name, length) == 0
    return receiver, sender, name.value


def test_wsasocket_takes_what_it_leaves_to_the_protocol_info(ws: Ws2_32) -> None:
    assert ws.WSASocketW(AF_INET, SOCK_STREAM, 0, None, 0, 0) == INVALID_SOCKET
    assert ws.WSAGetLastError() == WSANOTINITIALISED
    assert ws.WSAStartup(0x0202, Ref()) == 0
    info = WSAPROTOCOL_INFOA(iAddressFamily=AF_INET, iSocketType=SOCK_DGRAM,
                             iProtocol=IPPROTO_UDP)

    def kind(s: int) -> int:
        value = Ref(0)
        assert ws.getsockopt(s, SOL_SOCKET, SO_TYPE, value, Ref(4)) == 0
        assert ws.closesocket(s) == 0
        return int(value.value)

    infos = FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO
    assert kind(ws.WSASocketA(*infos, info, 0, 0)) == SOCK_DGRAM
    assert kind(ws.WSASocketW(0, 0, 0, WSAPROTOCOL_INFOW(iAddressFamily=AF_INET,
                                                         iSocketType=SOCK_STREAM), 0, 0)) \
        == SOCK_STREAM
    assert kind(ws.WSASocketA(AF_INET, SOCK_STREAM, IPPROTO_TCP, info, 0, 0)) == SOCK_STREAM
    unusable = WSAPROTOCOL_INFOA(iAddressFamily=-1, iSocketType=-1, iProtocol=-1)
    assert ws.WSASocketA(0, 0, IPPROTO_UDP, unusable, 0, 0) == INVALID_SOCKET
    assert ws.WSAGetLastError() == WSAEAFNOSUPPORT
    # Groups: the two reserved values make none; any other group does not exist.
    assert kind(ws.WSASocketA(AF_INET, SOCK_DGRAM, 0, None, SG_CONSTRAINED_GROUP, 0)) == SOCK_DGRAM
    assert ws.WSASocketA(AF_INET, SOCK_DGRAM, 0, None, 5, 0) == INVALID_SOCKET
    assert ws.WSAGetLastError() == WSAEINVAL
    # WSA_FLAG_OVERLAPPED is kept on the socket (socket() makes overlapped ones); unknown
    # flags are ignored, as Windows and Wine do.
    plain = ws.WSASocketA(AF_INET, SOCK_DGRAM, 0, None, 0, 0x10000000)
    overlapped = ws.WSASocketW(AF_INET, SOCK_DGRAM, 0, None, 0, WSA_FLAG_OVERLAPPED)
    made = ws.socket(AF_INET, SOCK_DGRAM, 0)
    assert [ws.provider.is_overlapped(s) for s in (plain, overlapped, made)] == [False, True, True]
    for s in (plain, overlapped, made):
        assert ws.closesocket(s) == 0


def test_udp_transfer(ws: Ws2_32) -> None:
    assert ws.WSAStartup(0x0202, Ref()) == 0
    receiver, sender, to = _udp_pair(ws)
    assert ws.sendto(sender, b"hello", 5, 0, to, 16) == 5
    buffer, source, length = bytearray(16), Ref(), Ref(16)
    assert ws.recvfrom(receiver, buffer, 16, 0, source, length) == 5
    assert bytes(buffer[:5]) == b"hello" and length.value == 16
    assert source.value[0] == "127.0.0.1"

    # Gathered into one datagram, peeked, then scattered over two buffers.
    sent = Ref(77)
    assert ws.WSASendTo(sender, [b"ab", b"cde"], 2, sent, 0, to, 16, None, None) == 0
    assert sent.value == 5
    received, flags = Ref(77), Ref(MSG_PEEK)
    assert ws.WSARecv(receiver, [bytearray(8)], 1, received, flags, None, None) == 0
    assert (received.value, flags.value) == (5, 0)
    first, second = bytearray(3), bytearray(4)
    assert ws.WSARecvFrom(receiver, [first, second], 2, received, Ref(0), None, None, None,
                          None) == 0
    assert (received.value, bytes(first), bytes(second[:2])) == (5, b"abc", b"de")

    # Too big: the buffer filled, the sender's address written, the rest lost.
    assert ws.sendto(sender, bytes(range(100)), 100, 0, to, 16) == 100
    buffer, source = bytearray(10), Ref()
    assert ws.recvfrom(receiver, buffer, 10, 0, source, Ref(16)) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSAEMSGSIZE
    assert bytes(buffer) == bytes(range(10)) and source.value is not None

    # A fromlen too small is found before anything is received: the datagram stays.
    assert ws.sendto(sender, b"kept", 4, 0, to, 16) == 4
    assert ws.recvfrom(receiver, bytearray(8), 8, 0, Ref(), Ref(15)) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSAEFAULT
    assert ws.recvfrom(receiver, bytearray(8), 8, 0, Ref(), None) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSAEFAULT
    assert ws.recvfrom(receiver, bytearray(8), 8, 0, None, None) == 4

    # Buffers C would read past, and the socket's checks before them.
    for buffers, count in ((None, 1), ([b"x"], 2)):
        assert ws.WSASendTo(sender, buffers, count, sent, 0, to, 16, None, None) == SOCKET_ERROR
        assert ws.WSAGetLastError() == WSAEFAULT
    assert ws.sendto(sender, b"x", 2, 0, to, 16) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSAEFAULT
    assert ws.WSARecv(0x1234, None, 1, received, flags, None, None) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSAENOTSOCK
    for s in (receiver, sender):
        assert ws.closesocket(s) == 0


def test_overlapped_is_ignored_unless_the_socket_is_overlapped(ws: Ws2_32) -> None:
    """Windows ignores lpOverlapped on a socket made without WSA_FLAG_OVERLAPPED (anything
    stands for it then); on an overlapped one the call is an overlapped operation, here one
    that completes at once and says so in its structure and event."""
    assert ws.WSAStartup(0x0202, Ref()) == 0
    receiver, sender, to = _udp_pair(ws)
    overlapped = WSAOVERLAPPED(hEvent=ws.WSACreateEvent())
    sent = Ref(0)
    assert ws.WSASendTo(sender, [b"x"], 1, sent, 0, to, 16, overlapped, None) == 0
    assert (sent.value, overlapped.Internal, overlapped.InternalHigh) == (1, 0, 1)
    assert ws.WSAWaitForMultipleEvents(1, [overlapped.hEvent], False, 0, False) == 0
    received = Ref(0)
    assert ws.WSARecv(receiver, [bytearray(4)], 1, received, Ref(0), object(), None) == 0
    assert received.value == 1
    assert ws.WSACloseEvent(overlapped.hEvent) == TRUE
    for s in (receiver, sender):
        assert ws.closesocket(s) == 0
    assert ws.WSACleanup() == 0


def test_sendto_asks_the_network_policy(ws2core_core: ModuleType) -> None:
    """Each datagram's destination goes through the policy: a refused one is its error,
    with no host call (the address is a documentation one: nothing may leave)."""
    with Ws2_32(ws2core.UpcallTable(ws2core_core.HandleTable()),
                policy=NetworkPolicy.loopback_only(refuse_error=WSAEHOSTUNREACH)) as ws:
        assert ws.WSAStartup(0x0202, Ref()) == 0
        s = ws.socket(AF_INET, SOCK_DGRAM, 0)
        assert ws.sendto(s, b"x", 1, 0, ("192.0.2.1", 9), 16) == SOCKET_ERROR
        assert ws.WSAGetLastError() == WSAEHOSTUNREACH
        assert ws.WSASendTo(s, [b"x"], 1, Ref(0), 0, ("192.0.2.1", 9), 16, None,
                            None) == SOCKET_ERROR
        assert ws.WSAGetLastError() == WSAEHOSTUNREACH
        assert [entry.verdict for entry in ws.policy.log][-1:] == ["refused"]
        assert ws.closesocket(s) == 0


def test_duplicate_socket_within_the_process(ws: Ws2_32) -> None:
    assert ws.WSAStartup(0x0202, Ref()) == 0
    receiver, sender, to = _udp_pair(ws)
    info = WSAPROTOCOL_INFOW()
    # Windows' order: the socket, the process (0 and -1 are no process), the structure.
    for s, process, structure, code in ((0x1234, 0, None, WSAENOTSOCK),
                                        (receiver, 0, None, WSAEINVAL),
                                        (receiver, 0xFFFFFFFF, info, WSAEINVAL),
                                        (receiver, 4242, None, WSAEFAULT)):
        assert ws.WSADuplicateSocketW(s, process, structure) == SOCKET_ERROR
        assert ws.WSAGetLastError() == code
    ws.process_id = 4242   # an emulator that knows its process's id
    assert ws.WSADuplicateSocketW(receiver, 4243, info) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSAEINVAL
    assert ws.WSADuplicateSocketW(receiver, 4242, info) == 0
    assert (info.iAddressFamily, info.iSocketType, info.iProtocol) == (AF_INET, SOCK_DGRAM,
                                                                      IPPROTO_UDP)
    assert info.dwCatalogEntryId == 1002  # MSAFD Tcpip [UDP/IP], the socket's own entry
    duplicate = ws.WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, info,
                              0, 0)
    assert duplicate not in (INVALID_SOCKET, receiver)
    assert ws.upcalls.table.catalog_entry(duplicate) == 1002
    assert ws.WSASocketW(0, 0, 0, info, 0, 0) == INVALID_SOCKET   # used once
    assert ws.WSAGetLastError() == WSAEINVAL

    # One socket: what is sent to it comes out of either handle, and the blocking mode is
    # one; closing the first handle leaves the second working.
    assert ws.sendto(sender, b"one", 3, 0, to, 16) == 3
    assert ws.recvfrom(duplicate, bytearray(8), 8, 0, None, None) == 3
    assert ws.ioctlsocket(receiver, FIONBIO, Ref(1)) == 0
    assert ws.recvfrom(duplicate, bytearray(8), 8, 0, None, None) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSAEWOULDBLOCK
    assert ws.closesocket(receiver) == 0
    assert ws.sendto(sender, b"two", 3, 0, to, 16) == 3
    assert ws.ioctlsocket(duplicate, FIONBIO, Ref(0)) == 0
    assert ws.recvfrom(duplicate, bytearray(8), 8, 0, None, None) == 3
    # A socket closed before its duplicate is made leaves nothing to duplicate.
    assert ws.WSADuplicateSocketW(duplicate, 4242, info) == 0
    for s in (duplicate, sender):
        assert ws.closesocket(s) == 0
    assert ws.WSASocketW(0, 0, 0, info, 0, 0) == INVALID_SOCKET
    assert ws.WSAGetLastError() == WSAEINVAL


# ------------------------------------------------------------------------------ the catalog


@pytest.mark.parametrize(("function", "size"), [("WSAEnumProtocolsA", 372), ("WSAEnumProtocolsW", 628)])
def test_wsaenumprotocols(ws: Ws2_32, function: str, size: int) -> None:
    """Wine's tests (which hold on Windows): a NULL buffer, then one too small, is WSAENOBUFS
    with the size needed; then the base provider's four entries; never before WSAStartup."""
    enum = getattr(ws, function)
    length = Ref(0)
    assert enum(None, None, length) == SOCKET_ERROR
    assert (ws.WSAGetLastError(), length.value) == (WSANOTINITIALISED, 0)
    ws.WSAStartup(0x0202, Ref())
    assert enum(None, None, length) == SOCKET_ERROR
    assert (ws.WSAGetLastError(), length.value) == (WSAENOBUFS, 4 * size)
    buffer = bytearray(4 * size)
    assert enum([IPPROTO_UDP, 0], buffer, length) == 2
    assert enum(None, buffer, length) == 4
    assert enum(None, buffer, None) == SOCKET_ERROR and ws.WSAGetLastError() == WSAEFAULT
    kind = WSAPROTOCOL_INFOA if size == 372 else WSAPROTOCOL_INFOW
    infos = [kind.from_buffer_copy(buffer, i * size) for i in range(4)]
    assert [i.dwCatalogEntryId for i in infos] == [1001, 1002, 1004, 1005]
    # Each entry makes sockets of its own: the handle and SO_PROTOCOL_INFO carry its id,
    # whether the entry is given (lpProtocolInfo) or found (socket's triple).
    for info in infos:
        for s in (ws.WSASocketW(FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO, FROM_PROTOCOL_INFO,
                                info, 0, 0),
                  ws.socket(info.iAddressFamily, info.iSocketType, 0)):
            assert ws.upcalls.table.catalog_entry(s) == info.dwCatalogEntryId
            said = Ref()
            assert ws.getsockopt(s, SOL_SOCKET, SO_PROTOCOL_INFOW, said, Ref(0)) == 0
            assert said.value.dwCatalogEntryId == info.dwCatalogEntryId
            assert ws.closesocket(s) == 0
    hidden = WSAPROTOCOL_INFOW()
    hidden.ProtocolChain.ChainLen, hidden.dwProviderFlags = 1, PFL_HIDDEN
    ws.upcalls.catalog.install(uuid.uuid4(), "hidden.dll", [hidden])
    assert enum(None, buffer, length) == 4  # the hidden entry stays out of the applications' view


# --- Winsock 1.1's blocking hooks: a 1.x process has them, a 2.x one gets WSAEOPNOTSUPP


def test_blocking_hooks_of_a_winsock_2_process() -> None:
    with Ws2_32() as ws:
        assert ws.WSASetBlockingHook(print) is None
        assert ws.WSAGetLastError() == WSANOTINITIALISED
        assert ws.WSAStartup(0x0202, Ref()) == 0
        assert ws.WSASetBlockingHook(print) is None and ws.WSAGetLastError() == WSAEOPNOTSUPP
        assert ws.WSAUnhookBlockingHook() == SOCKET_ERROR and ws.WSAGetLastError() == WSAEOPNOTSUPP
        assert ws.WSACancelBlockingCall() == SOCKET_ERROR and ws.WSAGetLastError() == WSAEOPNOTSUPP
        assert ws.WSAIsBlocking() == FALSE
        up = ws.upcalls
        callback, context, err = Ref(1), Ref(1), Ref(1)
        assert up.WPUQueryBlockingCallback(1001, callback, context, err) == 0
        assert callback.value is None


def test_blocking_hooks_of_a_winsock_1_process() -> None:
    with Ws2_32() as ws:
        assert ws.WSAStartup(0x0101, Ref()) == 0
        assert ws.WSAStartup(0x0202, Ref()) == 0  # the first WSAStartup's version stays
        up = ws.upcalls
        callback, context, err = Ref(), Ref(), Ref()
        assert up.WPUQueryBlockingCallback(1001, callback, context, err) == 0
        seen: list[int] = []

        def hook() -> None:
            seen.append(ws.WSAIsBlocking())
            assert ws.WSACancelBlockingCall() == 0

        assert ws.WSASetBlockingHook(hook) is None
        assert ws.WSAIsBlocking() == FALSE
        assert callback.value(context.value) == FALSE  # the provider ends its call
        assert seen == [TRUE]
        assert ws.WSACancelBlockingCall() == SOCKET_ERROR and ws.WSAGetLastError() == WSAEINVAL
        assert ws.WSASetBlockingHook(42) is None and ws.WSAGetLastError() == WSAEFAULT
        assert ws.WSAUnhookBlockingHook() == 0
        assert ws.WSASetBlockingHook(hook) is None


# --- overlapped I/O on overlapped sockets (socket() makes them, as on Windows)


def _tcp_pair(ws: Ws2_32) -> tuple[int, int]:
    """Two ends of a loopback TCP connection, both made by socket() (overlapped)."""
    listener = ws.socket(AF_INET, SOCK_STREAM, 0)
    assert ws.bind(listener, ("127.0.0.1", 0), 16) == 0 and ws.listen(listener, 1) == 0
    name = Ref()
    assert ws.getsockname(listener, name, Ref(16)) == 0
    client = ws.socket(AF_INET, SOCK_STREAM, 0)
    assert ws.connect(client, name.value, 16) == 0
    server = ws.accept(listener, None, None)
    assert server != INVALID_SOCKET and ws.closesocket(listener) == 0
    return client, server


def _thread_handles(ws: Ws2_32) -> int:
    return sum(ws.upcalls.table.kind(h) == "thread" for h in ws.upcalls.table)


def test_overlapped_receive_completed_by_event(ws: Ws2_32) -> None:
    """A receive with nothing to read goes pending; the peer's send completes it: the event
    is signalled, the structure holds the outcome and WSAGetOverlappedResult reports it.
    One that finds data completes at once, and its completion is still reported."""
    assert ws.WSAStartup(0x0202, Ref()) == 0
    client, server = _tcp_pair(ws)
    buffer, received, flags = bytearray(8), Ref(7), Ref(0)
    overlapped = WSAOVERLAPPED(hEvent=ws.WSACreateEvent())
    assert ws.WSARecv(server, [buffer], 1, received, flags, overlapped, None) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSA_IO_PENDING
    assert overlapped.Internal == WSS_OPERATION_IN_PROGRESS
    transferred, result_flags = Ref(99), Ref(99)
    assert ws.WSAGetOverlappedResult(server, overlapped, transferred, FALSE,
                                     result_flags) == FALSE
    assert ws.WSAGetLastError() == WSA_IO_INCOMPLETE and transferred.value == 99
    assert ws.WSAWaitForMultipleEvents(1, [overlapped.hEvent], False, 0, False) \
        == WSA_WAIT_TIMEOUT
    assert ws.send(client, b"hello", 5, 0) == 5
    assert ws.WSAWaitForMultipleEvents(1, [overlapped.hEvent], False, 5000, False) == 0
    assert (overlapped.Internal, overlapped.InternalHigh) == (0, 5)
    assert ws.WSAGetOverlappedResult(server, overlapped, transferred, FALSE,
                                     result_flags) == TRUE
    assert (transferred.value, result_flags.value, bytes(buffer[:5])) == (5, 0, b"hello")
    # Data already there: 0 at once, the count written, the completion reported too.
    assert ws.WSAResetEvent(overlapped.hEvent) == TRUE
    assert ws.send(client, b"again", 5, 0) == 5
    assert ws.WSAWaitForMultipleEvents(1, [overlapped.hEvent], False, 0, False) \
        == WSA_WAIT_TIMEOUT
    for _ in range(100):     # the bytes are on their way over loopback
        if ws.ioctlsocket(server, FIONREAD, waiting := Ref(0)) == 0 and waiting.value == 5:
            break
        threading.Event().wait(0.01)
    assert ws.WSARecv(server, [buffer], 1, received, flags, overlapped, None) == 0
    assert received.value == 5 and overlapped.InternalHigh == 5
    assert ws.WSAWaitForMultipleEvents(1, [overlapped.hEvent], False, 0, False) == 0
    # The send side completes at once, and WSAIoctl's overlapped form too.
    sent = Ref(0)
    assert ws.WSASend(client, [b"abc", b"de"], 2, sent, 0, overlapped, None) == 0
    assert sent.value == 5 and overlapped.InternalHigh == 5
    returned = Ref(0)
    assert ws.WSAIoctl(server, FIONREAD, None, 0, Ref(0), 4, None, overlapped, None) == 0
    assert overlapped.InternalHigh == 4
    assert ws.WSAIoctl(server, FIONREAD, None, 0, Ref(0), 4, None, None, None) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSAEFAULT    # not overlapped: lpcbBytesReturned needed
    assert ws.WSAIoctl(server, FIONREAD, None, 0, Ref(0), 4, returned, None, None) == 0
    assert ws.WSACloseEvent(overlapped.hEvent) == TRUE
    for s in (client, server):
        assert ws.closesocket(s) == 0
    assert ws.WSACleanup() == 0


def test_get_overlapped_result_waits(ws: Ws2_32) -> None:
    """fWait TRUE waits for the completion; its errors come in Windows' order; a thread's
    blocking_limit ends the wait with WSA_IO_INCOMPLETE."""
    assert ws.WSAStartup(0x0202, Ref()) == 0
    client, server = _tcp_pair(ws)
    buffer = bytearray(8)
    overlapped = WSAOVERLAPPED(hEvent=ws.WSACreateEvent())
    assert ws.WSARecv(server, [buffer], 1, None, Ref(0), overlapped, None) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSA_IO_PENDING
    transferred, flags = Ref(), Ref()
    with ws.blocking_limit(0.05):
        assert ws.WSAGetOverlappedResult(server, overlapped, transferred, TRUE, flags) == FALSE
        assert ws.WSAGetLastError() == WSA_IO_INCOMPLETE
    assert ws.WSAGetOverlappedResult(0x1234, None, None, TRUE, None) == FALSE
    assert ws.WSAGetLastError() == WSAENOTSOCK
    for arguments in ((None, transferred, flags), (overlapped, None, flags),
                      (overlapped, transferred, None)):
        assert ws.WSAGetOverlappedResult(server, arguments[0], arguments[1], TRUE,
                                         arguments[2]) == FALSE
        assert ws.WSAGetLastError() == WSAEFAULT
    timer = threading.Timer(0.05, ws.send, (client, b"late", 4, 0))
    timer.start()
    assert ws.WSAGetOverlappedResult(server, overlapped, transferred, TRUE, flags) == TRUE
    timer.join(JOIN_TIMEOUT)
    assert (transferred.value, bytes(buffer[:4])) == (4, b"late")
    assert ws.WSACloseEvent(overlapped.hEvent) == TRUE
    for s in (client, server):
        assert ws.closesocket(s) == 0
    assert ws.WSACleanup() == 0


def test_closesocket_aborts_pending_operations(ws: Ws2_32) -> None:
    """Closing the socket completes what is pending with WSA_OPERATION_ABORTED, each in
    its structure and event; the socket is then gone (WSAENOTSOCK)."""
    assert ws.WSAStartup(0x0202, Ref()) == 0
    client, server = _tcp_pair(ws)
    operations = [WSAOVERLAPPED(hEvent=ws.WSACreateEvent()) for _ in range(2)]
    for overlapped in operations:
        assert ws.WSARecv(server, [bytearray(4)], 1, None, Ref(0), overlapped,
                          None) == SOCKET_ERROR
        assert ws.WSAGetLastError() == WSA_IO_PENDING
    assert ws.closesocket(server) == 0
    events = [overlapped.hEvent for overlapped in operations]
    assert ws.WSAWaitForMultipleEvents(2, events, True, 5000, False) == 0
    assert [(o.Internal, o.OffsetHigh) for o in operations] \
        == [(0, WSA_OPERATION_ABORTED)] * 2
    assert ws.WSAGetOverlappedResult(server, operations[0], Ref(), FALSE, Ref()) == FALSE
    assert ws.WSAGetLastError() == WSAENOTSOCK
    for event in events:
        assert ws.WSACloseEvent(event) == TRUE
    assert ws.closesocket(client) == 0
    assert ws.WSACleanup() == 0


def test_completion_routine_runs_in_an_alertable_wait_of_the_calling_thread(ws: Ws2_32) -> None:
    """A routine given to an overlapped call runs on the thread that made the call, in its
    next alertable wait, and nowhere else; Ws2_32 opens one thread handle per thread for
    it, however many calls, and closes it when the thread ends or the last WSACleanup."""
    assert ws.WSAStartup(0x0202, Ref()) == 0
    client, server = _tcp_pair(ws)
    calls: list[tuple[int, int, int, object, int]] = []

    def routine(error: int, count: int, overlapped: object, flags: int) -> None:
        calls.append((threading.get_ident(), error, count, overlapped, flags))

    def receive_in_thread() -> None:
        overlapped = WSAOVERLAPPED()
        assert ws.WSARecv(server, [bytearray(8)], 1, None, Ref(0), overlapped,
                          routine) == SOCKET_ERROR
        assert ws.WSAGetLastError() == WSA_IO_PENDING
        assert _thread_handles(ws) == 1
        assert ws.send(client, b"one", 3, 0) == 3
        assert ws.WSAWaitForMultipleEvents(1, [idle], False, 5000, True) \
            == WSA_WAIT_IO_COMPLETION
        assert calls == [(threading.get_ident(), 0, 3, overlapped, 0)]

    idle = ws.WSACreateEvent()
    worker = threading.Thread(target=receive_in_thread)
    worker.start()
    worker.join(JOIN_TIMEOUT)
    assert len(calls) == 1
    assert _thread_handles(ws) == 0, "the thread's end closes its handle"
    # On this thread: many calls, one handle; nothing runs before the alertable wait.
    structures = [WSAOVERLAPPED() for _ in range(3)]
    for overlapped in structures:
        assert ws.WSARecv(server, [bytearray(8)], 1, None, Ref(0), overlapped,
                          routine) == SOCKET_ERROR
    assert _thread_handles(ws) == 1
    assert ws.send(client, b"two", 3, 0) == 3
    assert ws.WSAWaitForMultipleEvents(1, [idle], False, 100, False) == WSA_WAIT_TIMEOUT
    assert len(calls) == 1 and structures[0].Internal == 0
    assert ws.WSAWaitForMultipleEvents(1, [idle], False, 5000, True) == WSA_WAIT_IO_COMPLETION
    assert calls[1] == (threading.get_ident(), 0, 3, structures[0], 0)
    assert ws.closesocket(server) == 0      # the two others are aborted, routines queued
    assert ws.WSAWaitForMultipleEvents(1, [idle], False, 5000, True) == WSA_WAIT_IO_COMPLETION
    assert [call[1:3] for call in calls[2:]] == [(WSA_OPERATION_ABORTED, 0)] * 2
    assert ws.WSACloseEvent(idle) == TRUE and ws.closesocket(client) == 0
    assert ws.WSACleanup() == 0
    assert _thread_handles(ws) == 0


def test_wsaasyncselect(ws: Ws2_32) -> None:
    """WSAAsyncSelect's checks in Windows' order (started, a socket, then the provider's
    window check), its last error, and a message through the process's window."""
    inbox: queue.Queue[tuple[int, int, int, int]] = queue.Queue()
    hwnd = ws.upcalls.register_window(inbox)
    assert ws.WSAAsyncSelect(4, 0, 0, FD_READ) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSANOTINITIALISED
    assert ws.WSAStartup(0x0202, Ref()) == 0
    event = ws.WSACreateEvent()
    assert ws.WSAAsyncSelect(event, hwnd, 0x401, FD_READ) == SOCKET_ERROR
    assert ws.WSAGetLastError() == WSAENOTSOCK
    listener = ws.socket(AF_INET, SOCK_STREAM, 0)
    assert ws.bind(listener, ("127.0.0.1", 0), 16) == 0 and ws.listen(listener, 1) == 0
    address = Ref()
    assert ws.getsockname(listener, address, Ref(16)) == 0
    for window in (0, event, listener, hwnd + 4):
        assert ws.WSAAsyncSelect(listener, window, 0x401, FD_ACCEPT) == SOCKET_ERROR
        assert ws.WSAGetLastError() == WSAEINVAL
    assert ws.WSAAsyncSelect(listener, 0, 0, 0) == 0 and ws.WSAGetLastError() == 0
    ws.WSASetLastError(WSAEINVAL)
    assert ws.WSAAsyncSelect(listener, hwnd, 0x401, FD_ACCEPT | FD_WRITE) == 0
    assert ws.WSAGetLastError() == 0
    client = ws.socket(AF_INET, SOCK_STREAM, 0)
    assert ws.connect(client, address.value, 16) == 0
    reply = WSAMAKESELECTREPLY(FD_ACCEPT, 0)
    assert inbox.get(timeout=JOIN_TIMEOUT) == (hwnd, 0x401, listener, reply)
    server = ws.accept(listener, None, None)
    assert server != INVALID_SOCKET
    assert inbox.get(timeout=JOIN_TIMEOUT) == (hwnd, 0x401, server, WSAMAKESELECTREPLY(FD_WRITE, 0))
    for s in (client, server, listener):
        assert ws.closesocket(s) == 0
    assert ws.WSACloseEvent(event) == 1 and ws.WSACleanup() == 0
    ws.upcalls.unregister_window(hwnd)
