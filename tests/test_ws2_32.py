"""ws2core.ws2_32.Ws2_32: the Windows API in Python forms, without any guest.

Covered, on both cores: the WSAStartup count (each success needs its WSACleanup; one more
fails), the checks exposed for the guest layer (started? a socket of this process?), a
loopback connection through socket/bind/getsockname/listen/connect/accept/send/recv with
sockaddr tuples and Windows bytes, getsockopt (SO_ERROR of a failed non-blocking connect,
read once), the last error per thread, and ``close()``.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from types import ModuleType

import pytest

import ws2core
from ws2core import (
    AF_INET,
    FIONBIO,
    FIONREAD,
    INVALID_SOCKET,
    SO_ERROR,
    SO_TYPE,
    SOCK_STREAM,
    SOCKET_ERROR,
    SOL_SOCKET,
    WSAECONNREFUSED,
    WSAEFAULT,
    WSAENOPROTOOPT,
    WSAENOTSOCK,
    WSAEWOULDBLOCK,
    WSANOTINITIALISED,
    WSAVERNOTSUPPORTED,
    Ref,
    WinsockError,
)
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
