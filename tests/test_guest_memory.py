"""The guest layer's memory discipline: what Windows would refuse is WSAEFAULT, and a refused
call has had no effect.

An emulator's own memory access ignores page protections (unicorn's does), so the exports ask
``Guest.readable``/``Guest.writable`` first: over ``guest_support.FakeGuest``, whose
``protect`` makes pages read-only (PAGE_READONLY) or inaccessible (PAGE_NOACCESS) while its
``read``/``write`` still reach them, as unicorn's would.  Each test checks three things: the
call fails with WSAEFAULT, the protected bytes are unchanged, and the call's effect did not
happen (the data still waits, the connection is still pending, the record is not cleared,
WSAStartup did not count).  Also: Windows' check order (not started, then the handle, then
memory), and WSAEnumNetworkEvents writing only what Windows writes.  Both cores, both ABIs.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator

import pytest

import ws2core
from ws2core import (
    AF_INET,
    FD_ACCEPT,
    FD_READ,
    FIONBIO,
    FIONREAD,
    SO_ERROR,
    SOCK_STREAM,
    SOL_SOCKET,
    WSAEFAULT,
    WSAENOTSOCK,
    WSANOTINITIALISED,
)
from ws2core.guest import Exports
from ws2core.ws2_32 import Ws2_32

from guest_support import abi, guest_table  # noqa: F401  (fixtures)
from guest_support import Caller, FakeGuest, listener, open_socket

PAGE = 0x1000


@pytest.fixture
def g(guest_table: ws2core.UpcallTable) -> Iterator[Caller]:
    emu = FakeGuest(8 if guest_table.table.abi == "x64" else 4)
    caller = Caller(Exports(Ws2_32(guest_table), max_block=5.0), emu)
    yield caller
    caller.ws2_32.close()


def read_only(g: Caller, data: bytes) -> int:
    """``data`` on a page of its own that the guest may read and not write."""
    address = g.emu.alloc(data)
    g.emu.protect(address, len(data))
    return address


def unchanged(g: Caller, address: int, data: bytes) -> bool:
    return bytes(g.emu.mem_read(address, len(data))) == data


def connected(g: Caller) -> tuple[int, int, int]:
    """A listener, a client connected to it and the accepted server side."""
    s, name = listener(g)
    client = open_socket(g)
    assert g("connect", client, name, 16) == 0
    server = g("accept", s, 0, 0)
    assert server != g.invalid_socket
    return s, client, int(server)


def send(g: Caller, s: int, data: bytes) -> None:
    assert g("send", s, g.emu.alloc(data), len(data), 0) == len(data)


def wait_readable(g: Caller, s: int) -> None:
    fds = g.fd_set(s)
    assert g("select", 0, fds, 0, 0, g.emu.alloc(struct.pack("<ii", 5, 0))) == 1


def close_all(g: Caller, *sockets: int) -> None:
    for s in sockets:
        assert g("closesocket", s) == 0


# --- out-parameters on read-only pages ----------------------------------------------------


def test_wsastartup_into_read_only_memory_starts_nothing(g: Caller) -> None:
    size = 408 if g.ptr_size == 8 else 400
    data = read_only(g, b"\xAB" * size)
    assert g("WSAStartup", 0x0202, data) == WSAEFAULT        # WSAStartup returns its code
    assert unchanged(g, data, b"\xAB" * size)
    g.fails(WSANOTINITIALISED, "socket", AF_INET, SOCK_STREAM, 0)   # it did not count


def test_recv_into_read_only_memory_leaves_the_data_waiting(g: Caller) -> None:
    g.started()
    s, client, server = connected(g)
    send(g, client, b"kept")
    wait_readable(g, server)
    target = read_only(g, b"\0" * 16)
    g.fails(WSAEFAULT, "recv", server, target, 16, 0)
    assert unchanged(g, target, b"\0" * 16)
    good = g.emu.alloc(16)
    assert g("recv", server, good, 16, 0) == 4
    assert bytes(g.emu.mem_read(good, 4)) == b"kept"
    close_all(g, s, client, server)


@pytest.mark.parametrize("protected", ["addr", "addrlen"])
def test_accept_into_read_only_memory_leaves_the_connection_pending(g: Caller,
                                                                    protected: str) -> None:
    g.started()
    s, name = listener(g)
    client = open_socket(g)
    assert g("connect", client, name, 16) == 0
    addr = g.emu.alloc(16)
    addrlen = g.emu.alloc(struct.pack("<i", 16))
    before = bytes(g.emu.mem_read(addr if protected == "addr" else addrlen, 4))
    g.emu.protect(addr if protected == "addr" else addrlen, 4)
    g.fails(WSAEFAULT, "accept", s, addr, addrlen)
    assert unchanged(g, addr if protected == "addr" else addrlen, before)
    assert len(g.ws2_32.upcalls.table) == 2          # listener, client: none accepted
    server = g("accept", s, 0, 0)                     # which is still there to take
    assert server != g.invalid_socket
    close_all(g, s, client, int(server))


def test_getsockname_into_read_only_memory(g: Caller) -> None:
    g.started()
    s, _ = listener(g)
    name = read_only(g, b"\xAB" * 16)
    length = g.emu.alloc(struct.pack("<i", 16))
    g.fails(WSAEFAULT, "getsockname", s, name, length)
    assert unchanged(g, name, b"\xAB" * 16)
    close_all(g, s)


def test_ioctlsocket_fionread_needs_a_writable_argument_fionbio_does_not(g: Caller) -> None:
    g.started()
    s = open_socket(g)
    argp = read_only(g, struct.pack("<I", 1))
    g.fails(WSAEFAULT, "ioctlsocket", s, FIONREAD, argp)
    assert g("ioctlsocket", s, FIONBIO, argp) == 0     # FIONBIO only reads its argument
    close_all(g, s)


def test_select_on_a_read_only_fd_set_fails_before_waiting(g: Caller) -> None:
    g.started()
    s = open_socket(g)
    fds = g.fd_set(s)
    raw = bytes(g.emu.mem_read(fds, 16))
    g.emu.protect(fds, 16)
    started = time.monotonic()
    g.fails(WSAEFAULT, "select", 0, fds, 0, 0, g.emu.alloc(struct.pack("<ii", 3, 0)))
    assert time.monotonic() - started < 1.0           # refused, not waited on
    assert unchanged(g, fds, raw)
    close_all(g, s)


def test_wsaenumnetworkevents_into_read_only_memory_keeps_the_record(g: Caller) -> None:
    g.started()
    s, name = listener(g)
    event = g("WSACreateEvent")
    assert g("WSAEventSelect", s, event, FD_ACCEPT) == 0
    client = open_socket(g)
    assert g("connect", client, name, 16) == 0
    events = g.pointers(event)
    assert g("WSAWaitForMultipleEvents", 1, events, 0, 5000, 0) == 0
    record = read_only(g, b"\xAB" * 44)
    g.fails(WSAEFAULT, "WSAEnumNetworkEvents", s, event, record)
    assert unchanged(g, record, b"\xAB" * 44)
    good = g.emu.alloc(44)
    assert g("WSAEnumNetworkEvents", s, event, good) == 0
    assert g.emu.read_int(good) == FD_ACCEPT              # the record was not cleared
    server = g("accept", s, 0, 0)
    close_all(g, s, client, int(server))
    assert g("WSACloseEvent", event) == 1


def test_getsockopt_so_error_into_read_only_memory_does_not_clear_it(g: Caller) -> None:
    g.started()
    s = open_socket(g)
    optval = read_only(g, b"\xAB" * 4)
    optlen = g.emu.alloc(struct.pack("<i", 4))
    g.fails(WSAEFAULT, "getsockopt", s, SOL_SOCKET, SO_ERROR, optval, optlen)
    assert unchanged(g, optval, b"\xAB" * 4)
    close_all(g, s)


# --- inputs on pages the guest may not read -----------------------------------------------


def test_send_from_an_unreadable_page(g: Caller) -> None:
    g.started()
    s, client, server = connected(g)
    data = g.emu.alloc(b"secret")
    g.emu.protect(data, 6, read=False)
    g.fails(WSAEFAULT, "send", client, data, 6, 0)
    assert g("ioctlsocket", server, FIONREAD, g.emu.alloc(4)) == 0
    close_all(g, s, client, server)


def test_connect_to_an_unreadable_sockaddr(g: Caller) -> None:
    g.started()
    s = open_socket(g)
    name = g.sockaddr(80)
    g.emu.protect(name, 16, read=False)
    g.fails(WSAEFAULT, "connect", s, name, 16)
    close_all(g, s)


# --- the order of the checks ---------------------------------------------------------------


@pytest.mark.parametrize("call", [
    ("ioctlsocket", 0, FIONREAD, 0),
    ("recv", 0, 0, 16, 0),
    ("getsockname", 0, 0, 0),
    ("connect", 0, 0, 16),
    ("select", 0, 0x7FFF0000, 0, 0, 0),
])
def test_not_started_comes_before_the_handle_and_memory(g: Caller,
                                                        call: tuple[object, ...]) -> None:
    name, *args = call
    g.fails(WSANOTINITIALISED, str(name), *(int(a) for a in args))  # type: ignore[call-overload]


@pytest.mark.parametrize("call", [
    ("ioctlsocket", FIONREAD, 0),
    ("recv", 0, 16, 0),
    ("getsockname", 0, 0),
    ("connect", 0, 16),
    ("WSAEnumNetworkEvents", 0, 0),
])
def test_the_handle_comes_before_memory(g: Caller, call: tuple[object, ...]) -> None:
    g.started()
    name, *args = call
    g.fails(WSAENOTSOCK, str(name), 0x1234, *(int(a) for a in args))  # type: ignore[call-overload]


# --- writing back only what Windows writes -------------------------------------------------


def test_wsaenumnetworkevents_writes_only_the_events_it_reports(g: Caller) -> None:
    """lNetworkEvents and the iErrorCode entries of the bits set, nothing else: a program
    that fills the structure with 0xAB sees its other entries unchanged (as on Windows and
    on Wine)."""
    g.started()
    s, client, server = connected(g)
    event = g("WSACreateEvent")
    assert g("WSAEventSelect", server, event, FD_READ) == 0
    send(g, client, b"x")
    assert g("WSAWaitForMultipleEvents", 1, g.pointers(event), 0, 5000, 0) == 0
    record = g.emu.alloc(b"\xAB" * 44)
    assert g("WSAEnumNetworkEvents", server, event, record) == 0
    raw = bytes(g.emu.mem_read(record, 44))
    assert struct.unpack("<i", raw[:4])[0] == FD_READ
    codes = struct.unpack("<10i", raw[4:])
    assert codes[0] == 0                                       # FD_READ_BIT's code
    assert raw[8:] == b"\xAB" * 36                             # every other entry untouched
    assert codes.count(0) == 1
    close_all(g, s, client, server)
    assert g("WSACloseEvent", event) == 1
