"""Completion ports for guests (``ws2core.guest.ports`` over ``ws2core.kernel32``), through
the fake guest of guest_support, on both cores and ABIs.

Covered: a new port and a socket associated with a key; a guest overlapped WSARecv
completing through the port with the guest's own OVERLAPPED as lpOverlapped, its outcome in
guest memory before the packet's values are written (the ordering rule); a failed
operation's packet (FALSE, its error, the structure); PostQueuedCompletionStatus's pointer
value coming back as posted; an empty port (WAIT_TIMEOUT, lpOverlapped NULL); the Ex form's
OVERLAPPED_ENTRY array in each ABI's layout; CloseHandle of a port; the emulator's handles
handed over (NotServed); bad handles (ERROR_INVALID_HANDLE) and bad guest pointers
(ERROR_NOACCESS, the packet kept); a host object in a packet given as NULL.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
from collections.abc import Iterator
from types import ModuleType

import pytest

import ws2core
from ws2core.adapters.speakeasy import HANDLE_RANGE
from ws2core.constants import (
    ERROR_INVALID_HANDLE,
    ERROR_INVALID_PARAMETER,
    ERROR_NOACCESS,
    ERROR_NOT_SUPPORTED,
    WAIT_TIMEOUT,
    WSA_IO_PENDING,
    WSA_OPERATION_ABORTED,
    WSAEWOULDBLOCK,
)
from ws2core.guest import Exports, NotServed
from ws2core.structs import WSAOVERLAPPED
from ws2core.ws2_32 import Ws2_32

from guest_support import abi  # noqa: F401  (fixture)
from guest_support import Caller, FakeGuest, listener, open_socket
from test_guest_overlapped import connected, fields, overlapped, receive
from test_guest_transfer import wsabufs

FOREIGN = 0x220   # a Speakeasy handle: below HANDLE_RANGE
UNMAPPED = 0x5000


@pytest.fixture
def g(ws2core_core: ModuleType, abi: str) -> Iterator[Caller]:
    """A started guest over a table in ``HANDLE_RANGE`` (so that FOREIGN is the emulator's)."""
    table = ws2core.UpcallTable(ws2core_core.HandleTable(abi=abi, handle_range=HANDLE_RANGE))
    caller = Caller(Exports(Ws2_32(table), max_block=5.0), FakeGuest(8 if abi == "x64" else 4))
    caller.started()
    yield caller
    caller.ws2_32.close()


def invalid_handle_value(g: Caller) -> int:
    return (1 << (8 * g.ptr_size)) - 1


def new_port(g: Caller) -> int:
    port = g("CreateIoCompletionPort", invalid_handle_value(g), 0, 0, 0)
    assert port and g.ws2_32.upcalls.table.kind(port) == "port"
    return int(port)


class Out:
    """GetQueuedCompletionStatus's three out-parameters, preset to garbage."""

    def __init__(self, g: Caller) -> None:
        self.g = g
        self.count = g.emu.alloc(b"\xee" * 4)
        self.key = g.emu.alloc(b"\xee" * g.ptr_size)
        self.overlapped = g.emu.alloc(b"\xee" * g.ptr_size)

    def get(self, port: int, milliseconds: int = 5000) -> int:
        return int(self.g("GetQueuedCompletionStatus", port, self.count, self.key,
                          self.overlapped, milliseconds))

    def values(self) -> tuple[int, int, int]:
        read = self.g.emu.mem_read
        return (int.from_bytes(read(self.count, 4), "little"),
                int.from_bytes(read(self.key, self.g.ptr_size), "little"),
                int.from_bytes(read(self.overlapped, self.g.ptr_size), "little"))


def test_posted_packets_and_an_empty_port(g: Caller) -> None:
    port = new_port(g)
    out = Out(g)
    g.emu.thread.last_error = WSAEWOULDBLOCK
    assert out.get(port, 0) == 0 and g.last_error == WAIT_TIMEOUT
    assert out.values()[2] == 0   # lpOverlapped NULL: no packet
    pointer = 0xDEADBEE0 if g.ptr_size == 4 else 0x7FFE_DEADBEE0   # never read
    key = (1 << (8 * g.ptr_size)) - 2
    g.emu.thread.last_error = WSAEWOULDBLOCK
    assert g("PostQueuedCompletionStatus", port, 77, key, pointer) == 1
    assert g("PostQueuedCompletionStatus", port, 0, 5, 0) == 1
    assert g.last_error == WSAEWOULDBLOCK   # kernel32's successes leave it alone
    assert out.get(port) == 1 and out.values() == (77, key, pointer)
    assert out.get(port) == 1 and out.values() == (0, 5, 0)
    assert g.last_error == WSAEWOULDBLOCK
    assert g("CloseHandle", port) == 1
    g.fails(ERROR_INVALID_HANDLE, "PostQueuedCompletionStatus", port, 0, 0, 0)
    g.fails(ERROR_INVALID_HANDLE, "GetQueuedCompletionStatus", port, out.count, out.key,
            out.overlapped, 0)
    assert out.values()[2] == 0   # written NULL first, whatever comes next


def host_peer(g: Caller) -> tuple[socket.socket, int]:
    """A host socket connected to a socket of the guest's."""
    server, name = listener(g)
    port = struct.unpack_from(">H", g.emu.mem_read(name + 2, 2))[0]
    peer = socket.create_connection(("127.0.0.1", port))
    accepted = g("accept", server, 0, 0)
    assert g("closesocket", server) == 0
    return peer, int(accepted)


def test_receive_completes_through_the_port_after_its_copy(g: Caller) -> None:
    peer, server = host_peer(g)
    port = new_port(g)
    assert g("CreateIoCompletionPort", server, port, 0x51, 0) == port
    at = overlapped(g)
    result, buffer = receive(g, server, 16, at)
    assert (result, g.last_error) == (0xFFFFFFFF, WSA_IO_PENDING)
    out = Out(g)
    writes: list[int] = []
    write = g.emu.mem_write

    def recording(address: int, data: bytes) -> None:
        writes.append(address)
        write(address, data)

    g.emu.mem_write = recording   # type: ignore[method-assign]
    # The host peer sends while the guest waits in GetQueuedCompletionStatus: the
    # completion comes during the call, which copies it before it writes the packet.
    sender = threading.Timer(0.2, peer.sendall, (b"hello",))
    sender.start()
    try:
        assert out.get(port) == 1
    finally:
        sender.join()
    assert out.values() == (5, 0x51, at)
    assert fields(g, at) == (0, 5, 0, 0)
    assert g.emu.mem_read(buffer, 5) == b"hello"
    assert writes.index(buffer) < writes.index(at) < writes.index(out.count)
    assert writes[-1] == out.overlapped
    # An operation that completes at once posts its packet too.
    sent = g.emu.alloc(4)
    send_at = overlapped(g)
    assert g("WSASend", server, wsabufs(g, (g.emu.alloc(b"abc"), 3)), 1, sent, 0, send_at, 0) == 0
    assert out.get(port) == 1 and out.values() == (3, 0x51, send_at)
    assert peer.recv(3) == b"abc"
    peer.close()
    assert g("closesocket", server) == 0
    assert g("CloseHandle", port) == 1


def test_failed_operation_packet(g: Caller) -> None:
    client, server = connected(g)
    port = g("CreateIoCompletionPort", server, 0, 9, 0)   # a new port with the socket
    assert g.ws2_32.upcalls.table.kind(port) == "port"
    at = overlapped(g)
    receive(g, server, 8, at)
    assert g("closesocket", server) == 0   # aborts the receive
    out = Out(g)
    g.fails(WSA_OPERATION_ABORTED, "GetQueuedCompletionStatus", port, out.count, out.key,
            out.overlapped, 5000)
    assert out.values() == (0, 9, at)
    assert fields(g, at) == (0, 0, 0, WSA_OPERATION_ABORTED)
    assert g("closesocket", client) == 0
    assert g("CloseHandle", port) == 1


def test_ex_entries_in_the_guest_layout(g: Caller) -> None:
    port = new_port(g)
    for n in range(3):
        assert g("PostQueuedCompletionStatus", port, 10 + n, 20 + n, 0x1000 * (n + 1)) == 1
    size = 32 if g.ptr_size == 8 else 16
    entries = g.emu.alloc(b"\xee" * (4 * size))
    removed = g.emu.alloc(b"\xee" * 4)
    g.fails(ERROR_INVALID_PARAMETER, "GetQueuedCompletionStatusEx", port, entries, 0, removed,
            0, 0)
    assert g("GetQueuedCompletionStatusEx", port, entries, 2, removed, 0, 0) == 1
    assert g.emu.read_int(removed) == 2
    code = "<QQQI4x" if g.ptr_size == 8 else "<IIII"
    found = [struct.unpack_from(code, g.emu.mem_read(entries, 4 * size), n * size)
             for n in range(3)]
    assert found[:2] == [(20, 0x1000, 0, 10), (21, 0x2000, 0, 11)]
    assert found[2] == struct.unpack(code, b"\xee" * size)   # not written
    assert g("GetQueuedCompletionStatusEx", port, entries, 4, removed, 0, 0) == 1
    assert g.emu.read_int(removed) == 1
    assert struct.unpack_from(code, g.emu.mem_read(entries, size)) == (22, 0x3000, 0, 12)
    g.fails(WAIT_TIMEOUT, "GetQueuedCompletionStatusEx", port, entries, 4, removed, 0, 0)
    assert g("CloseHandle", port) == 1


def test_bad_guest_pointers_lose_no_packet(g: Caller) -> None:
    port = new_port(g)
    out = Out(g)
    assert g("PostQueuedCompletionStatus", port, 1, 2, 3) == 1
    g.fails(ERROR_NOACCESS, "GetQueuedCompletionStatus", port, UNMAPPED, out.key,
            out.overlapped, 0)
    g.fails(ERROR_NOACCESS, "GetQueuedCompletionStatus", port, out.count, 0, out.overlapped, 0)
    g.fails(ERROR_NOACCESS, "GetQueuedCompletionStatus", port, out.count, out.key, 0, 0)
    read_only = g.emu.alloc(8)
    g.emu.protect(read_only, 8)
    g.fails(ERROR_NOACCESS, "GetQueuedCompletionStatus", port, out.count, out.key, read_only, 0)
    removed = g.emu.alloc(4)
    g.fails(ERROR_NOACCESS, "GetQueuedCompletionStatusEx", port, UNMAPPED, 1, removed, 0, 0)
    g.fails(ERROR_NOACCESS, "GetQueuedCompletionStatusEx", port, g.emu.alloc(64), 1, 0, 0, 0)
    assert out.get(port, 0) == 1 and out.values() == (1, 2, 3)   # still there
    assert g("CloseHandle", port) == 1


def test_handles_not_ports(g: Caller) -> None:
    s = open_socket(g)
    out = Out(g)
    g.fails(ERROR_INVALID_HANDLE, "GetQueuedCompletionStatus", s, out.count, out.key,
            out.overlapped, 0)
    g.fails(ERROR_INVALID_HANDLE, "PostQueuedCompletionStatus", s, 0, 0, 0)
    event = g("WSACreateEvent")
    g.fails(ERROR_INVALID_HANDLE, "CreateIoCompletionPort", event, 0, 0, 0)
    g.fails(ERROR_INVALID_HANDLE, "CreateIoCompletionPort", s, event, 0, 0)
    port = new_port(g)
    g.fails(ERROR_INVALID_PARAMETER, "CreateIoCompletionPort", invalid_handle_value(g), port, 0, 0)
    assert g("CreateIoCompletionPort", s, port, 1, 0) == port
    g.fails(ERROR_INVALID_PARAMETER, "CreateIoCompletionPort", s, port, 1, 0)   # one port a life
    # The emulator's handles are its own, but on a port of ws2core's, which nothing of the
    # emulator's would ever post to.
    for name, args in (("CreateIoCompletionPort", (FOREIGN, 0, 0, 0)),
                       ("CreateIoCompletionPort", (FOREIGN, FOREIGN + 4, 0, 0)),
                       ("GetQueuedCompletionStatus", (FOREIGN, 0, 0, 0, 0)),
                       ("GetQueuedCompletionStatusEx", (FOREIGN, 0, 1, 0, 0, 0)),
                       ("PostQueuedCompletionStatus", (FOREIGN, 0, 0, 0))):
        with pytest.raises(NotServed):
            g(name, *args)
    g.fails(ERROR_NOT_SUPPORTED, "CreateIoCompletionPort", FOREIGN, port, 0, 0)
    for handle in (s, port, event):
        assert g("CloseHandle", handle) == 1


def test_a_host_structure_in_a_packet_is_null_to_the_guest(
        g: Caller, caplog: pytest.LogCaptureFixture) -> None:
    port = new_port(g)
    g.ws2_32.upcalls.table.post_completion(port, 4, 8, WSAOVERLAPPED())
    out = Out(g)
    with caplog.at_level(logging.WARNING, logger="ws2core.guest"):
        assert out.get(port, 0) == 1
    assert out.values() == (4, 8, 0)
    assert "no guest structure" in caplog.text
    assert g("CloseHandle", port) == 1
