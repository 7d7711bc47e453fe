"""The ws2_32 exports of ws2core.guest, run as an emulator adapter's hook runs them.

Each test calls an export by name with raw argument values, over ``guest_support.FakeGuest``
(a ``ws2core.guest.Guest`` with paged memory that faults outside its mappings, and guest
threads whose last error the exports keep), so no emulator is needed; the Speakeasy
adapter's own tests (test_adapter_unit.py) cover only what it adds.

Covered, on both cores and both ABIs: WSAStartup's WSADATA in each layout and its version
negotiation; NULL and unmapped pointers as WSAEFAULT in every kind of argument (an fd_count
that runs into unmapped memory included); an unknown socket as WSAENOTSOCK and a closed
event as WSA_INVALID_HANDLE; the failure values in each ABI (INVALID_SOCKET is 0xFFFFFFFF on
x86); the last error per guest thread; waits capped at ``max_block`` and woken by a host
thread; a loopback connection driven through the exports with the guest's fd_set layout;
getsockopt's out-parameters checked before SO_ERROR is read (and cleared).
"""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Iterator
from types import ModuleType

import pytest

import ws2core
from ws2core import (
    AF_INET,
    FD_ACCEPT,
    FD_READ,
    FIONBIO,
    SO_ERROR,
    SO_TYPE,
    SOCK_STREAM,
    SOL_SOCKET,
    WSAECONNREFUSED,
    WSAENOPROTOOPT,
    WSA_INFINITE,
    WSA_INVALID_HANDLE,
    WSA_WAIT_EVENT_0,
    WSA_WAIT_TIMEOUT,
    WSAEFAULT,
    WSAEINVAL,
    WSAENOTSOCK,
    WSAEWOULDBLOCK,
    WSANOTINITIALISED,
    WSAVERNOTSUPPORTED,
)

from guest_support import abi, guest_table  # noqa: F401  (fixtures)
from guest_support import Caller as Guest
from guest_support import FakeThread, fd_set_bytes, listener, open_socket, served

JOIN = 10.0         # seconds: the longest any helper thread may take


@pytest.fixture
def guest(guest_table: ws2core.UpcallTable) -> Iterator[Guest]:
    """A started-up-able guest over ``guest_table``; every handle it made must be closed by
    the end of the test (checked before its Ws2_32 closes what is left)."""
    g = served(guest_table, max_block=5.0)
    yield g
    leaked = [hex(h) for h in guest_table.table]
    g.ws2_32.close()
    assert not leaked, f"handles left open: {leaked}"


def test_wsadata_x64_layout(ws2core_core: ModuleType) -> None:
    g = served(ws2core.UpcallTable(ws2core_core.HandleTable()))
    data = g.emu.alloc(b"\xAA" * 408)
    assert g("WSAStartup", 0x0202, data) == 0
    raw = g.emu.mem_read(data, 408)
    version, high, max_sockets, max_datagram, vendor = struct.unpack_from("<HHHHQ", raw)
    assert (version, high, max_sockets, max_datagram, vendor) == (0x0202, 0x0202, 0, 0, 0)
    assert raw[16:28] == b"WinSock 2.0\0" and raw[273:281] == b"Running\0"
    assert g("WSACleanup") == 0
    g.ws2_32.close()


def test_wsadata_x86_layout(ws2core_core: ModuleType) -> None:
    g = served(ws2core.UpcallTable(ws2core_core.HandleTable(abi="x86")))
    data = g.emu.alloc(b"\xAA" * 400)
    assert g("WSAStartup", 0x0101, data) == 0
    raw = g.emu.mem_read(data, 400)
    assert struct.unpack_from("<HH", raw) == (0x0101, 0x0202)
    assert raw[4:16] == b"WinSock 2.0\0" and raw[261:269] == b"Running\0"
    assert struct.unpack_from("<HHI", raw, 390) == (32767, 65467, 0)   # a Winsock 1.1 caller
    assert g("WSACleanup") == 0
    g.ws2_32.close()


@pytest.mark.parametrize(("requested", "version"), [
    (0x0202, 0x0202), (0x0002, 0x0002), (0x0101, 0x0101), (0x0302, 0x0202), (0x0003, 0x0202),
])
def test_wsastartup_negotiates_the_version(guest: Guest, requested: int, version: int) -> None:
    data = guest.emu.alloc(512)
    assert guest("WSAStartup", requested | 0xABCD0000, data) == 0   # a WORD: high bits ignored
    assert struct.unpack("<HH", guest.emu.mem_read(data, 4)) == (version, 0x0202)
    assert guest("WSACleanup") == 0


def test_wsastartup_failures_are_its_result(guest: Guest) -> None:
    guest.emu.thread.last_error = 1234
    assert guest("WSAStartup", 0x0200, guest.emu.alloc(512)) == WSAVERNOTSUPPORTED  # 0.2
    assert guest("WSAStartup", 0x0202, 0) == WSAEFAULT
    assert guest("WSAStartup", 0x0202, guest.emu.alloc_at_end(b"\0" * 100)) == WSAEFAULT
    assert guest.last_error == 1234  # WSAStartup reports through its result only
    guest.fails(WSANOTINITIALISED, "socket", AF_INET, SOCK_STREAM, 0)


def test_cleanup_without_startup(guest: Guest) -> None:
    guest.fails(WSANOTINITIALISED, "WSACleanup")
    guest.started()
    assert guest("WSACleanup") == 0
    guest.fails(WSANOTINITIALISED, "WSACleanup")


def test_null_and_unmapped_pointers_are_wsaefault(guest: Guest) -> None:
    g = guest.started()
    s, name = listener(g)
    unmapped = 0x7FFF0000
    edge = g.emu.alloc_at_end(b"\0" * 8)            # 8 mapped bytes, then unmapped
    g.fails(WSAEFAULT, "bind", s, 0, 16)
    g.fails(WSAEFAULT, "connect", s, unmapped, 16)
    g.fails(WSAEFAULT, "connect", s, edge, 16)      # the sockaddr runs off the mapping
    g.fails(WSAEFAULT, "send", s, unmapped, 10, 0)
    g.fails(WSAEFAULT, "send", s, 0, 10, 0)
    g.fails(WSAEFAULT, "send", s, edge, -1, 0)
    g.fails(WSAEFAULT, "recv", s, edge, 9, 0)
    g.fails(WSAEFAULT, "getsockname", s, name, unmapped)
    g.fails(WSAEFAULT, "getsockname", s, name, 0)
    g.fails(WSAEFAULT, "getsockname", s, unmapped, g.emu.alloc(struct.pack("<i", 16)))
    g.fails(WSAEFAULT, "ioctlsocket", s, FIONBIO, 0)
    g.fails(WSAEFAULT, "select", 0, unmapped, 0, 0, 0)
    g.fails(WSAEFAULT, "select", 0, g.fd_set(s), 0, 0, unmapped)
    g.fails(WSAEFAULT, "__WSAFDIsSet", s, 0)
    g.fails(WSAEFAULT, "__WSAFDIsSet", s, unmapped)
    g.fails(WSAEFAULT, "WSAWaitForMultipleEvents", 1, unmapped, 0, 0, 0)
    g.fails(WSAEFAULT, "WSAWaitForMultipleEvents", 2, edge + 8 - g.ptr_size, 0, 0, 0)
    g.fails(WSAEFAULT, "WSAEnumNetworkEvents", s, 0, unmapped)
    g.fails(WSAEFAULT, "WSAEnumNetworkEvents", s, 0, 0)
    # A pointer whose range passes the top of the address space.
    g.fails(WSAEFAULT, "send", s, (1 << (8 * g.ptr_size)) - 4, 8, 0)
    assert g("closesocket", s) == 0
    assert g("WSACleanup") == 0


def test_fd_count_running_into_unmapped_memory(guest: Guest) -> None:
    g = guest.started()
    s, _ = listener(g)
    # fd_count says 1000 entries; the mapping ends after the 64 that fit.
    header = 8 if g.ptr_size == 8 else 4
    raw = fd_set_bytes(g.ptr_size, (s,), count=1000)
    fds = g.emu.alloc_at_end(raw[: header + 64 * g.ptr_size])
    g.fails(WSAEFAULT, "__WSAFDIsSet", s, fds)
    g.fails(WSAEFAULT, "select", 0, fds, 0, 0, g.emu.alloc(8))
    # A garbage count near 2**32 fails the same way, without reading gigabytes.
    g.emu.mem_write(fds, struct.pack("<I", 0xFFFFFFF0))
    g.fails(WSAEFAULT, "select", 0, fds, 0, 0, g.emu.alloc(8))
    assert g("closesocket", s) == 0
    assert g("WSACleanup") == 0


def test_unknown_socket_is_wsaenotsock(guest: Guest) -> None:
    g = guest.started()
    buffer = g.emu.alloc(64)
    for handle in (0x1234, 0, g.invalid_socket, 3):
        g.fails(WSAENOTSOCK, "closesocket", handle)
        g.fails(WSAENOTSOCK, "send", handle, buffer, 4, 0)
        g.fails(WSAENOTSOCK, "recv", handle, buffer, 4, 0)
        g.fails(WSAENOTSOCK, "listen", handle, 1)
        g.fails(WSAENOTSOCK, "accept", handle, 0, 0)
        g.fails(WSAENOTSOCK, "select", 0, g.fd_set(handle), 0, 0, g.emu.alloc(8))
    s = open_socket(g)
    assert g("closesocket", s) == 0
    g.fails(WSAENOTSOCK, "closesocket", s)        # a closed socket stays dead
    event = g("WSACreateEvent")
    g.fails(WSAENOTSOCK, "WSAEventSelect", event, event, FD_READ)   # an event is no socket
    assert g("WSACloseEvent", event) == 1
    assert g("WSACleanup") == 0


def test_closed_event_is_wsa_invalid_handle(guest: Guest) -> None:
    event = guest("WSACreateEvent")
    assert event != 0
    assert guest("WSASetEvent", event) == 1
    assert guest("WSACloseEvent", event) == 1
    for name in ("WSASetEvent", "WSAResetEvent", "WSACloseEvent"):
        guest.fails(WSA_INVALID_HANDLE, name, event)
    guest.fails(WSA_INVALID_HANDLE, "WSAWaitForMultipleEvents", 1, guest.pointers(event), 0, 0, 0)
    guest.fails(WSA_INVALID_HANDLE, "WSASetEvent", 0)


def test_wait_checks_the_count_before_the_array(guest: Guest) -> None:
    # The count is refused before the (NULL) array is read, as the kernel does.
    guest.fails(ws2core.WSA_INVALID_PARAMETER, "WSAWaitForMultipleEvents", 0, 0, 0, 0, 0)
    guest.fails(ws2core.WSA_INVALID_PARAMETER, "WSAWaitForMultipleEvents", 65, 0, 0, 0, 0)


def test_results_in_the_guest_abi(guest: Guest) -> None:
    """A failed socket() is INVALID_SOCKET of the guest's width; an int failure is -1 in 32 bits."""
    g = guest.started()
    g.fails(ws2core.WSAEAFNOSUPPORT, "socket", 1234, SOCK_STREAM, 0)
    assert g("socket", 1234, SOCK_STREAM, 0) == g.invalid_socket
    # A 32-bit argument arrives with garbage above it in a 64-bit register: ignored.
    s = g("socket", AF_INET | 0x5A5A5A5A00000000, SOCK_STREAM | 0xFFFFFFFF00000000, 0)
    assert s != g.invalid_socket
    assert g("closesocket", s) == 0
    assert g("WSACleanup") == 0


def test_last_error_is_per_guest_thread(guest: Guest) -> None:
    main, other = guest.emu.thread, FakeThread()
    guest("WSASetLastError", WSAEWOULDBLOCK)
    assert guest("WSAGetLastError") == WSAEWOULDBLOCK
    guest.emu.thread = other
    assert guest("WSAGetLastError") == 0
    guest.fails(WSA_INVALID_HANDLE, "WSASetEvent", 0x1000)
    assert other.last_error == WSA_INVALID_HANDLE
    guest.emu.thread = main
    assert guest("WSAGetLastError") == WSAEWOULDBLOCK   # untouched by the other thread
    # Speakeasy's GetLastError reads the same slot: the two agree, as on Windows.
    assert guest.emu.get_last_error() == WSAEWOULDBLOCK


def test_socket_success_clears_the_last_error_and_event_success_leaves_it(guest: Guest) -> None:
    """A read of WSAGetLastError() after a success must not see an earlier failure's code
    (Windows: 0 after a socket call; Wine's tests check send, recv, setsockopt, WSASendTo);
    the event calls are kernel32's, which leave it alone when they succeed."""
    g = guest.started()
    g("WSASetLastError", 4321)
    event = g("WSACreateEvent")
    assert g("WSAWaitForMultipleEvents", 1, g.pointers(event), 0, 0, 0) == WSA_WAIT_TIMEOUT
    assert g("WSASetEvent", event) == 1 and g("WSACloseEvent", event) == 1
    assert g("WSAGetLastError") == 4321
    g.fails(WSAENOTSOCK, "closesocket", 0x7FF0)
    s = open_socket(g)
    assert g("WSAGetLastError") == 0
    g.fails(WSAENOTSOCK, "listen", 0x7FF0, 1)
    assert g("bind", s, g.sockaddr(), 16) == 0 and g("WSAGetLastError") == 0
    assert g("listen", s, 1) == 0 and g("WSAGetLastError") == 0
    g("WSASetLastError", 77)
    assert g("closesocket", s) == 0 and g("WSAGetLastError") == 0
    g("WSASetLastError", -1)
    assert g("WSAGetLastError") == 0xFFFFFFFF   # an int, as eax holds it
    assert g("WSACleanup") == 0


def test_infinite_wait_is_capped(guest_table: ws2core.UpcallTable, abi: str) -> None:
    g = served(guest_table, max_block=0.2).started()
    event = g("WSACreateEvent")
    started = time.monotonic()
    waited = g("WSAWaitForMultipleEvents", 1, g.pointers(event), 0, WSA_INFINITE, 0)
    assert waited == WSA_WAIT_TIMEOUT
    assert 0.15 <= time.monotonic() - started < 2.0
    s, _ = listener(g)
    started = time.monotonic()
    readable = g.fd_set(s)
    assert g("select", 0, readable, 0, 0, 0) == 0       # a NULL timeout: capped too
    assert 0.15 <= time.monotonic() - started < 2.0
    assert g.read_fd_set(readable) == []
    long_wait = g.emu.alloc(struct.pack("<ii", 3600, 0))
    assert g("select", 0, g.fd_set(s), 0, 0, long_wait) == 0
    assert g("closesocket", s) == 0 and g("WSACloseEvent", event) == 1
    assert g("WSACleanup") == 0
    g.ws2_32.close()


def test_negative_select_timeout_is_wsaeinval(guest: Guest) -> None:
    g = guest.started()
    s, _ = listener(g)
    g.fails(WSAEINVAL, "select", 0, g.fd_set(s), 0, 0, g.emu.alloc(struct.pack("<ii", -1, 0)))
    assert g("closesocket", s) == 0
    assert g("WSACleanup") == 0


def test_host_thread_wakes_a_guest_wait(guest: Guest) -> None:
    event = guest("WSACreateEvent")
    timer = threading.Timer(0.1, guest.ws2_32.upcalls.table.set_event, (event,))
    timer.start()
    started = time.monotonic()
    waited = guest("WSAWaitForMultipleEvents", 1, guest.pointers(event), 0, WSA_INFINITE, 0)
    assert waited == WSA_WAIT_EVENT_0
    assert time.monotonic() - started < 2.0          # well before max_block (5 s)
    timer.join(JOIN)
    assert guest("WSACloseEvent", event) == 1


def test_loopback_through_the_hooks(guest: Guest) -> None:
    g = guest.started()
    lst, name = listener(g)
    client = open_socket(g)
    assert g("connect", client, name, 16) == 0
    peer, peer_length = g.emu.alloc(32), g.emu.alloc(struct.pack("<i", 32))
    server = g("accept", lst, peer, peer_length)
    assert server != g.invalid_socket
    assert g.emu.read_int(peer_length) == 16
    family, _, host = struct.unpack_from("<HH4s", g.emu.mem_read(peer, 8))
    assert (family, host) == (AF_INET, bytes([127, 0, 0, 1]))

    message = g.emu.alloc(b"hello, guest")
    assert g("send", client, message, 12, 0) == 12
    sets = g.fd_set(lst, client, server)
    timeout = g.emu.alloc(struct.pack("<ii", 5, 0))
    assert g("select", 0, sets, 0, 0, timeout) == 1
    assert g.read_fd_set(sets) == [server]            # rewritten in the guest's layout
    assert g("__WSAFDIsSet", server, sets) == 1
    assert g("__WSAFDIsSet", client, sets) == 0
    received = g.emu.alloc(64)
    assert g("recv", server, received, 64, 0) == 12
    assert g.emu.mem_read(received, 12) == b"hello, guest"

    # Event select: FD_READ recorded, reported and cleared through the guest's structure.
    event = g("WSACreateEvent")
    assert g("WSAEventSelect", server, event, FD_READ) == 0
    assert g("send", client, message, 5, 0) == 5
    assert g("WSAWaitForMultipleEvents", 1, g.pointers(event), 0, 5000, 0) == WSA_WAIT_EVENT_0
    record = g.emu.alloc(44)
    assert g("WSAEnumNetworkEvents", server, event, record) == 0
    assert struct.unpack_from("<i", g.emu.mem_read(record, 4))[0] == FD_READ
    assert g("WSAWaitForMultipleEvents", 1, g.pointers(event), 0, 0, 0) == WSA_WAIT_TIMEOUT

    # WSAEventSelect made it non-blocking; FIONREAD counts what waits.
    count = g.emu.alloc(4)
    assert g("ioctlsocket", server, ws2core.FIONREAD, count) == 0
    assert g.emu.read_int(count) == 5
    assert g("recv", server, received, 64, 0) == 5
    g.fails(WSAEWOULDBLOCK, "recv", server, received, 64, 0)

    assert g("shutdown", client, ws2core.SD_SEND) == 0
    for s in (client, server, lst):
        assert g("closesocket", s) == 0
    assert g("WSACloseEvent", event) == 1
    assert g("WSACleanup") == 0


def test_getsockopt_through_the_hooks(guest: Guest) -> None:
    g = guest.started()
    s = open_socket(g)
    value, length = g.emu.alloc(b"\xAA" * 8), g.emu.alloc(struct.pack("<i", 8))
    assert g("getsockopt", s, SOL_SOCKET, SO_TYPE, value, length) == 0
    assert g.emu.mem_read(value, 8) == SOCK_STREAM.to_bytes(4, "little") + b"\xAA" * 4
    assert g.emu.read_int(length) == 4
    short = g.emu.alloc(struct.pack("<i", 3))
    g.fails(WSAEFAULT, "getsockopt", s, SOL_SOCKET, SO_TYPE, value, short)
    assert g.emu.read_int(short) == 3
    g.fails(WSAEFAULT, "getsockopt", s, SOL_SOCKET, SO_TYPE, value, 0)
    g.fails(WSAEFAULT, "getsockopt", s, SOL_SOCKET, SO_TYPE, 0, length)
    g.fails(WSAENOPROTOOPT, "getsockopt", s, SOL_SOCKET, 0x7777, value, length)
    g.fails(WSAENOTSOCK, "getsockopt", 0x1234, SOL_SOCKET, SO_TYPE, value, length)

    # A failed non-blocking connect: an optval that cannot take the value is WSAEFAULT
    # before SO_ERROR is read, so the error is still there for a call that can.
    closed, name = listener(g)
    assert g("closesocket", closed) == 0
    assert g("ioctlsocket", s, FIONBIO, g.emu.alloc(struct.pack("<I", 1))) == 0
    g.fails(WSAEWOULDBLOCK, "connect", s, name, 16)
    timeout = g.emu.alloc(struct.pack("<ii", 5, 0))
    assert g("select", 0, 0, 0, g.fd_set(s), timeout) == 1
    edge = g.emu.alloc_at_end(b"\0" * 2)
    g.fails(WSAEFAULT, "getsockopt", s, SOL_SOCKET, SO_ERROR, edge,
            g.emu.alloc(struct.pack("<i", 4)))
    assert g("getsockopt", s, SOL_SOCKET, SO_ERROR, value, length) == 0
    assert g.emu.read_int(value) == WSAECONNREFUSED
    assert g("getsockopt", s, SOL_SOCKET, SO_ERROR, value, length) == 0
    assert g.emu.read_int(value) == 0
    assert g("closesocket", s) == 0
    assert g("WSACleanup") == 0


def test_wsaasyncselect_has_no_window_to_post_to(guest: Guest) -> None:
    """A guest's HWND is its emulator's, never a window of the table: selecting events is
    WSAEINVAL (after Windows' WSANOTINITIALISED and WSAENOTSOCK) and changes nothing;
    cancelling succeeds, ends an event selection and leaves the socket non-blocking."""
    hwnd = 0x10042  # what an emulator's CreateWindowEx hands out
    guest.fails(WSANOTINITIALISED, "WSAAsyncSelect", 4, hwnd, 0x401, FD_READ)
    g = guest.started()
    event = g("WSACreateEvent")
    g.fails(WSAENOTSOCK, "WSAAsyncSelect", event, hwnd, 0x401, FD_READ)
    s, _ = listener(g)
    for window in (hwnd, 0, event, s):
        g.fails(WSAEINVAL, "WSAAsyncSelect", s, window, 0x401, FD_ACCEPT)
    off, on = g.emu.alloc(struct.pack("<I", 0)), g.emu.alloc(struct.pack("<I", 1))
    assert g("ioctlsocket", s, FIONBIO, off) == 0  # still blocking: nothing was selected
    assert g("WSAEventSelect", s, event, FD_ACCEPT) == 0
    g.fails(WSAEINVAL, "WSAAsyncSelect", s, hwnd, 0x401, FD_ACCEPT)
    g.fails(WSAEINVAL, "ioctlsocket", s, FIONBIO, off)  # the event selection stays
    g.emu.thread.last_error = WSAEINVAL
    assert g("WSAAsyncSelect", s, hwnd, 0x401, 0) == 0 and g.last_error == 0
    g.fails(WSAEWOULDBLOCK, "accept", s, 0, 0)  # the cancel left it non-blocking
    assert g("ioctlsocket", s, FIONBIO, off) == 0  # and no selection is left
    assert g("ioctlsocket", s, FIONBIO, on) == 0
    assert g("closesocket", s) == 0 and g("WSACloseEvent", event) == 1
    assert g("WSACleanup") == 0
