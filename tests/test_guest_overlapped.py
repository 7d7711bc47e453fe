"""Overlapped I/O for guests, completed by event (ws2core.guest._overlapped, transfer) over
``guest_support.FakeGuest``.

Covered, on both cores and both ABIs: a pending WSARecv (STATUS_PENDING in the guest's
Internal) completed by the peer's send, its outcome copied into guest memory by the wait
export that sees its event (the buffers, then InternalHigh, Offset, OffsetHigh and Internal),
and by nothing before a served call; a send completing at once; WSAGetOverlappedResult
with fWait FALSE (WSA_IO_INCOMPLETE) and TRUE, and after the copy; several receives
outstanding on one socket completing in call order; closesocket completing what is pending
with WSA_OPERATION_ABORTED; the reactor thread never writing guest memory; WSARecvFrom's
address; Exports.close() dropping what is left; a guest whose catalog installs a layered
provider, whose overlapped checks ask the socket's own provider.
"""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Iterator, Sequence
from types import ModuleType

import pytest
from guest_support import Caller as Guest
from guest_support import FakeGuest, abi, caller, guest_table, listener, open_socket, served  # noqa: F401
from test_guest_transfer import udp_pair, wsabufs

import ws2core
from ws2core import (
    FIONREAD,
    WAIT_IO_COMPLETION,
    WSA_IO_INCOMPLETE,
    WSA_IO_PENDING,
    WSA_OPERATION_ABORTED,
    WSA_WAIT_TIMEOUT,
    WSAEFAULT,
    WSAENOTSOCK,
    WSAEOPNOTSUPP,
    Ref,
)
from ws2core.catalog import Catalog
from ws2core.constants import WSS_OPERATION_IN_PROGRESS
from ws2core.guest import Exports
from ws2core.ws2_32 import Ws2_32
from ws2core.structs import WSAOVERLAPPED_LAYOUTS

PENDING = WSS_OPERATION_IN_PROGRESS     # STATUS_PENDING, what Windows leaves in Internal


@pytest.fixture
def guest(caller: Guest) -> Guest:
    return caller


def connected(g: Guest) -> tuple[int, int]:
    """A connected pair of the guest's (overlapped: socket() makes them)."""
    server, name = listener(g)
    client = open_socket(g)
    assert g("connect", client, name, 16) == 0
    accepted = g("accept", server, 0, 0)
    assert g("closesocket", server) == 0
    return client, accepted


def overlapped(g: Guest, event: int = 0) -> int:
    """A zeroed guest WSAOVERLAPPED with ``event`` as its hEvent."""
    layout = WSAOVERLAPPED_LAYOUTS["x64" if g.ptr_size == 8 else "x86"]
    return g.emu.alloc(bytes(layout(hEvent=event)))


def fields(g: Guest, address: int) -> tuple[int, int, int, int]:
    """Internal, InternalHigh, Offset and OffsetHigh as the guest reads them."""
    layout = WSAOVERLAPPED_LAYOUTS["x64" if g.ptr_size == 8 else "x86"]
    found = layout.from_buffer_copy(g.emu.mem_read(address, 32 if g.ptr_size == 8 else 20))
    return found.Internal, found.InternalHigh, found.Offset, found.OffsetHigh


def receive(g: Guest, s: int, size: int, at: int) -> tuple[int, int]:
    """An overlapped WSARecv into a new buffer of ``size``: (its result, the buffer)."""
    buffer = g.emu.alloc(bytes(size))
    flags = g.emu.alloc(4)
    return g("WSARecv", s, wsabufs(g, (buffer, size)), 1, 0, flags, at, 0), buffer


def arrive(g: Guest, s: int, size: int) -> None:
    """Wait (host side) until ``size`` bytes are readable on the guest's socket ``s``."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        waiting = g.emu.alloc(4)
        if g("ioctlsocket", s, FIONREAD, waiting) == 0 and g.emu.read_int(waiting) >= size:
            return
        time.sleep(0.005)
    raise AssertionError("the bytes did not arrive")


def test_pending_receive_completed_by_event(guest: Guest) -> None:
    g = guest.started()
    client, server = connected(g)
    event = g("WSACreateEvent")
    at = overlapped(g, event)
    result, buffer = receive(g, server, 16, at)
    assert (result, g.last_error) == (0xFFFFFFFF, WSA_IO_PENDING)
    assert fields(g, at) == (PENDING, 0, 0, 0)
    count, flags = g.emu.alloc(4), g.emu.alloc(4)
    g.fails(WSA_IO_INCOMPLETE, "WSAGetOverlappedResult", server, at, count, 0, flags)
    assert g("WSAWaitForMultipleEvents", 1, g.pointers(event), 0, 0, 0) == WSA_WAIT_TIMEOUT
    # The peer sends from the host: the provider completes the operation on its reactor,
    # but the guest's memory changes only when a served export returns.
    peer = g.ws2_32
    data = wsabufs(g, (g.emu.alloc(b"overlapped!"), 11))
    sent = Ref(0)
    assert peer.WSASend(client, [b"overlapped!"], 1, sent, 0, None, None) == 0
    assert sent.value == 11
    deadline = time.monotonic() + 5
    while not g.exports.overlapped.finished and time.monotonic() < deadline:
        time.sleep(0.002)
    assert fields(g, at) == (PENDING, 0, 0, 0), "nothing is copied outside a served call"
    assert g.emu.mem_read(buffer, 11) == bytes(11)
    assert g("WaitForSingleObject", event, 5000) == 0
    assert fields(g, at) == (0, 11, 0, 0)
    assert g.emu.mem_read(buffer, 11) == b"overlapped!"
    assert g("WSAGetOverlappedResult", server, at, count, 0, flags) == 1
    assert (g.emu.read_int(count), g.emu.read_int(flags), g.last_error) == (11, 0, 0)
    # A send completes at once: 0, its count, the structure written, the event signalled.
    assert g("WSAResetEvent", event) == 1
    sent_at = overlapped(g, event)
    assert g("WSASend", client, data, 1, count, 0, sent_at, 0) == 0
    assert g.emu.read_int(count) == 11 and fields(g, sent_at) == (0, 11, 0, 0)
    assert g("WSAWaitForMultipleEvents", 1, g.pointers(event), 0, 0, 0) == 0
    # Data already there: the receive completes at once too, NULL count allowed.
    arrive(g, server, 11)
    again = overlapped(g)
    result, buffer = receive(g, server, 16, again)
    assert result == 0 and fields(g, again) == (0, 11, 0, 0)
    assert g.emu.mem_read(buffer, 11) == b"overlapped!"
    assert g("WSACloseEvent", event) == 1
    for s in (client, server):
        assert g("closesocket", s) == 0


def test_get_overlapped_result_waits_and_checks(guest: Guest) -> None:
    g = guest.started()
    client, server = connected(g)
    at = overlapped(g, g("WSACreateEvent"))
    result, buffer = receive(g, server, 8, at)
    assert (result, g.last_error) == (0xFFFFFFFF, WSA_IO_PENDING)
    count, flags = g.emu.alloc(4), g.emu.alloc(4)
    g.fails(WSAENOTSOCK, "WSAGetOverlappedResult", 0x1234, at, count, 1, flags)
    for arguments in ((0, count, flags), (at, 0, flags), (at, count, 0)):
        g.fails(WSAEFAULT, "WSAGetOverlappedResult", server, *arguments[:2], 1, arguments[2])
    timer = threading.Timer(0.05, g.ws2_32.send, (client, b"late", 4, 0))
    timer.start()
    assert g("WSAGetOverlappedResult", server, at, count, 1, flags) == 1   # fWait TRUE
    timer.join(5)
    assert (g.emu.read_int(count), g.emu.mem_read(buffer, 4)) == (4, b"late")
    assert fields(g, at) == (0, 4, 0, 0)
    # Asked again once copied: answered from the structure.
    g.emu.mem_write(count, bytes(4))
    assert g("WSAGetOverlappedResult", server, at, count, 0, flags) == 1
    assert g.emu.read_int(count) == 4
    # A structure no operation started that says STATUS_PENDING: nothing will complete it.
    never = overlapped(g)
    g.emu.mem_write(never, struct.pack("<I", PENDING))
    g.fails(WSA_IO_INCOMPLETE, "WSAGetOverlappedResult", server, never, count, 1, flags)
    for s in (client, server):
        assert g("closesocket", s) == 0


def test_receives_complete_in_order_and_close_aborts(guest: Guest) -> None:
    g = guest.started()
    client, server = connected(g)
    event = g("WSACreateEvent")
    structures = [overlapped(g, event) for _ in range(3)]
    buffers = []
    for at in structures:
        result, buffer = receive(g, server, 4, at)
        assert (result, g.last_error) == (0xFFFFFFFF, WSA_IO_PENDING)
        buffers.append(buffer)
    assert g.ws2_32.send(client, b"abcd", 4, 0) == 4
    assert g("WaitForSingleObject", event, 5000) == 0
    assert g.ws2_32.send(client, b"efgh", 4, 0) == 4
    deadline = time.monotonic() + 5
    while fields(g, structures[1])[0] == PENDING and time.monotonic() < deadline:
        assert g("WSAGetLastError") is not None    # any served call is a safe point
        time.sleep(0.002)
    assert [fields(g, at)[:2] for at in structures] == [(0, 4), (0, 4), (PENDING, 0)]
    assert [g.emu.mem_read(b, 4) for b in buffers] == [b"abcd", b"efgh", bytes(4)]
    assert g("closesocket", server) == 0     # its return copies the aborted one
    assert fields(g, structures[2]) == (0, 0, 0, WSA_OPERATION_ABORTED)
    assert not g.exports.overlapped.finished and g.exports.overlapped.pending(structures[2]) is None
    assert g("WSACloseEvent", event) == 1 and g("closesocket", client) == 0


def test_reactor_never_writes_guest_memory(guest: Guest, monkeypatch: pytest.MonkeyPatch) -> None:
    g = guest.started()
    client, server = connected(g)
    writers: set[int] = set()
    write = FakeGuest.write

    def recording(self: FakeGuest, address: int, data: bytes) -> None:
        writers.add(threading.get_ident())
        write(self, address, data)

    monkeypatch.setattr(FakeGuest, "write", recording)
    at = overlapped(g, g("WSACreateEvent"))
    for _ in range(3):
        receive(g, server, 4, at)
        assert g.ws2_32.send(client, b"data", 4, 0) == 4
        assert g("WSAGetOverlappedResult", server, at, g.emu.alloc(4), 1, g.emu.alloc(4)) == 1
    assert writers == {threading.get_ident()}
    for s in (client, server):
        assert g("closesocket", s) == 0


def test_recvfrom_address_and_process_end(guest: Guest) -> None:
    g = guest.started()
    receiver, sender, to = udp_pair(g)
    g.ws2_32.closesocket(receiver)           # udp_pair's receiver is not overlapped
    receiver = g("socket", 2, 2, 17)
    assert g("bind", receiver, to, 16) == 0
    source, length = g.emu.alloc(16), g.emu.alloc(struct.pack("<i", 16))
    at, buffer, flags = overlapped(g), g.emu.alloc(8), g.emu.alloc(4)
    assert g("WSARecvFrom", receiver, wsabufs(g, (buffer, 8)), 1, 0, flags, source, length,
             at, 0) == 0xFFFFFFFF and g.last_error == WSA_IO_PENDING
    assert g("sendto", sender, g.emu.alloc(b"dgram"), 5, 0, to, 16) == 5
    assert g("WSAGetOverlappedResult", receiver, at, g.emu.alloc(4), 1, g.emu.alloc(4)) == 1
    assert g.emu.mem_read(buffer, 5) == b"dgram"
    assert g.emu.mem_read(source, 8)[:2] == b"\x02\x00" and g.emu.read_int(length) == 16
    # One left pending when the process ends: dropped, never written.
    last = overlapped(g)
    assert g("WSARecvFrom", receiver, wsabufs(g, (buffer, 8)), 1, 0, flags, 0, 0, last,
             0) == 0xFFFFFFFF
    g.ws2_32.close()
    g.exports.close()
    assert fields(g, last)[0] == PENDING
    assert not g.exports.overlapped.finished and g.exports.overlapped.pending(last) is None


class RoutineGuest(FakeGuest):
    """A FakeGuest that 'runs' a guest function by recording it, with what the guest's
    memory holds at that moment: the routine's view of its buffers and its WSAOVERLAPPED."""

    runs_functions = True

    def __init__(self, ptr_size: int) -> None:
        super().__init__(ptr_size)
        self.ran: list[tuple[int, tuple[int, ...], bytes]] = []
        self.watch = 0   # the guest address whose 16 bytes each run records

    def run_function(self, address: int, args: Sequence[int]) -> int:
        self.ran.append((address, tuple(args), self.mem_read(self.watch, 16)))
        return 0


ROUTINE = 0x401230   # the guest's completion routine: any address, RoutineGuest runs nothing


def test_completion_routine_runs_in_an_alertable_wait_after_the_copy(
        guest_table: ws2core.UpcallTable) -> None:
    emu = RoutineGuest(8 if guest_table.table.abi == "x64" else 4)
    g = Guest(Exports(Ws2_32(guest_table), max_block=5.0), emu).started()
    try:
        client, server = connected(g)
        at = overlapped(g, 0x1234567)   # with a routine, hEvent is the program's: unchecked
        buffer = g.emu.alloc(bytes(16))
        emu.watch = buffer
        flags = g.emu.alloc(4)
        result = g("WSARecv", server, wsabufs(g, (buffer, 16)), 1, 0, flags, at, ROUTINE)
        assert (result, g.last_error) == (0xFFFFFFFF, WSA_IO_PENDING)
        assert g.ws2_32.WSASend(client, [b"routine"], 1, Ref(0), 0, None, None) == 0
        arrive_done(g)
        # The routine sees its buffer filled (and its structure written) when it runs.
        assert g("SleepEx", 0, 1) == WAIT_IO_COMPLETION
        assert emu.ran == [(ROUTINE, (0, 7, at, 0), b"routine" + bytes(9))]
        assert fields(g, at) == (0, 7, 0, 0)
        # One that completes at once is still reported through its routine; an aborted
        # one gets WSA_OPERATION_ABORTED, in the order they completed.
        sent = g.emu.alloc(4)
        data = wsabufs(g, (g.emu.alloc(b"back"), 4))
        sent_at = overlapped(g)
        assert g("WSASend", server, data, 1, sent, 0, sent_at, ROUTINE + 16) == 0
        pending_at = overlapped(g)
        assert g("WSARecv", server, wsabufs(g, (buffer, 16)), 1, 0, flags, pending_at,
                 ROUTINE) == 0xFFFFFFFF
        assert g("closesocket", server) == 0
        assert g("SleepEx", 0, 0) == 0 and len(emu.ran) == 1, "not alertable: none runs"
        assert g("SleepEx", 0, 1) == WAIT_IO_COMPLETION
        assert [run[:2] for run in emu.ran[1:]] == [
            (ROUTINE + 16, (0, 4, sent_at, 0)),
            (ROUTINE, (WSA_OPERATION_ABORTED, 0, pending_at, 0))]
        assert fields(g, pending_at)[3] == WSA_OPERATION_ABORTED
        assert g("SleepEx", 0, 1) == 0, "each routine runs once"
        assert g("closesocket", client) == 0
    finally:
        g.ws2_32.close()


def test_completion_routine_refused_where_no_guest_code_runs(guest: Guest) -> None:
    g = guest.started()
    client, server = connected(g)
    at = overlapped(g)
    buffer = g.emu.alloc(bytes(16))
    g.fails(WSAEOPNOTSUPP, "WSARecv", server, wsabufs(g, (buffer, 16)), 1, 0, g.emu.alloc(4),
            at, ROUTINE)
    assert fields(g, at) == (0, 0, 0, 0), "refused before any effect"
    for s in (client, server):
        assert g("closesocket", s) == 0


def arrive_done(g: Guest) -> None:
    """Wait (host side) until an operation of the guest's has completed at the provider."""
    deadline = time.monotonic() + 5
    while not g.exports.overlapped.finished and time.monotonic() < deadline:
        time.sleep(0.002)
    assert g.exports.overlapped.finished, "the receive did not complete"


# --- a guest with a layered provider installed (the README's kind: tests/test_layered.py)


@pytest.fixture
def layered_guest(ws2core_core: ModuleType, abi: str) -> Iterator[Guest]:
    """A started guest whose catalog puts Counter's chain over TCP/IP first."""
    from test_layered import install_counter

    catalog = Catalog()
    install_counter(catalog)
    g = served(ws2core.UpcallTable(ws2core_core.HandleTable(abi=abi), catalog=catalog),
               max_block=5.0)
    try:
        yield g.started()
    finally:
        g.ws2_32.close()


def test_a_guest_runs_over_a_layered_provider(layered_guest: Guest) -> None:
    """The exports reach each socket's own provider: a guest's TCP sockets are the layer's,
    carry bytes through it, and an overlapped call on one (socket() makes them overlapped)
    goes through the layer as one: a pending receive completed by the peer's send, a send
    completing at once, each copied into the guest's WSAOVERLAPPED (taken for a call on a
    socket made without the flag, it would never be written)."""
    from test_layered import Counter

    g = layered_guest
    client, server = connected(g)
    layer = g.ws2_32._owner(client)
    assert isinstance(layer, Counter) and g.ws2_32._owner(server) is layer
    table = g.ws2_32.upcalls.table
    assert table.catalog_entry(client) == table.catalog_entry(server) != 1001
    assert g.ws2_32.is_overlapped(client) and not g.ws2_32.is_overlapped(0x1234)
    message = b"through the layer"
    assert g("send", client, g.emu.alloc(message), len(message), 0) == len(message)
    arrive(g, server, len(message))
    buffer = g.emu.alloc(64)
    assert g("recv", server, buffer, 64, 0) == len(message)
    assert g.emu.mem_read(buffer, len(message)) == message
    # An overlapped receive goes pending, and the send that completes it completes at once.
    event = g("WSACreateEvent")
    at = overlapped(g, event)
    result, buffer = receive(g, server, 16, at)
    assert (result, g.last_error) == (0xFFFFFFFF, WSA_IO_PENDING)
    assert fields(g, at) == (PENDING, 0, 0, 0)
    count = g.emu.alloc(4)
    sent_at = overlapped(g)
    data = wsabufs(g, (g.emu.alloc(b"overlapped!"), 11))
    assert g("WSASend", client, data, 1, count, 0, sent_at, 0) == 0
    assert g.emu.read_int(count) == 11 and fields(g, sent_at) == (0, 11, 0, 0)
    assert g("WaitForSingleObject", event, 5000) == 0
    assert fields(g, at) == (0, 11, 0, 0)
    assert g.emu.mem_read(buffer, 11) == b"overlapped!"
    assert g("WSACloseEvent", event) == 1
    for s in (client, server):
        assert g("closesocket", s) == 0
    assert layer.closed[client][0] == len(message) + 11
