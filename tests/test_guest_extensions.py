"""The extension functions for guests (``ws2core.guest.extensions``) and their pointers from
WSAIoctl (``ws2core.guest.control``), through the fake guest of guest_support, on both
cores and ABIs.

Covered: SIO_GET_EXTENSION_FUNCTION_POINTER giving ``Guest.export_address``'s address,
which reaches the same export; an emulator without one (WSAEINVAL) and a short output
(WSAEFAULT); AcceptEx pending until a host client connects, completing through a port,
its addresses in the guest's buffer and GetAcceptExSockaddrs' pointers into it; AcceptEx
waiting for the first data; ConnectEx with data (a DWORD argument with garbage above its 32
bits, as x64 registers hold); DisconnectEx; the errors before any effect (a socket that is
none, NULL lpOverlapped, unmapped guest memory: no connection taken).
"""

from __future__ import annotations

import socket
import struct

import ws2core
from ws2core.constants import (
    SIO_GET_EXTENSION_FUNCTION_POINTER,
    SO_UPDATE_ACCEPT_CONTEXT,
    SOL_SOCKET,
    WSA_INVALID_PARAMETER,
    WSA_IO_PENDING,
    WSAEFAULT,
    WSAEINVAL,
    WSAENOTSOCK,
    WSAID_ACCEPTEX,
    WSAID_CONNECTEX,
    WSAID_DISCONNECTEX,
    WSAID_GETACCEPTEXSOCKADDRS,
)

from guest_support import abi  # noqa: F401  (fixture)
from guest_support import Caller, listener, open_socket
from test_guest_overlapped import fields, overlapped
from test_guest_ports import Out, g, new_port  # noqa: F401  (g: the fixture)

ROOM = 32          # an IPv4 address area: SOCKADDR_IN and 16 bytes
UNMAPPED = 0x5000
FALSE = 0


def pointer_of(g: Caller, s: int, guid: object, room: int | None = None) -> tuple[int, int]:
    """WSAIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER): (its result, the pointer written)."""
    out = g.emu.alloc(b"\xee" * 8)
    returned = g.emu.alloc(4)
    result = g("WSAIoctl", s, SIO_GET_EXTENSION_FUNCTION_POINTER,
               g.emu.alloc(guid.bytes_le), 16, out,  # type: ignore[attr-defined]
               g.ptr_size if room is None else room, returned, 0, 0)
    if result == 0:
        assert g.emu.read_int(returned) == g.ptr_size
    return result, int.from_bytes(g.emu.mem_read(out, g.ptr_size), "little")


def port_of(g: Caller, name: int) -> int:
    return int(struct.unpack(">H", g.emu.mem_read(name + 2, 2))[0])


def test_pointers_reach_the_exports(g: Caller) -> None:
    s = open_socket(g)
    found = {}
    for guid, name in ((WSAID_ACCEPTEX, "AcceptEx"), (WSAID_CONNECTEX, "ConnectEx"),
                       (WSAID_DISCONNECTEX, "DisconnectEx"),
                       (WSAID_GETACCEPTEXSOCKADDRS, "GetAcceptExSockaddrs")):
        result, found[name] = pointer_of(g, s, guid)
        assert result == 0 and found[name] == g.emu.export_address("mswsock", name)
    assert len(set(found.values())) == 4
    # Through the pointer, the export: DisconnectEx on an unconnected socket.
    g.emu.thread.last_error = 0
    assert g.call_address(found["DisconnectEx"], s, 0, 0, 0) == FALSE
    assert g.last_error == ws2core.WSAENOTCONN
    g.fails(WSAEFAULT, "WSAIoctl", s, SIO_GET_EXTENSION_FUNCTION_POINTER,
            g.emu.alloc(WSAID_CONNECTEX.bytes_le), 16, g.emu.alloc(8), g.ptr_size - 1,
            g.emu.alloc(4), 0, 0)
    g.fails(WSAEINVAL, "WSAIoctl", s, SIO_GET_EXTENSION_FUNCTION_POINTER,
            g.emu.alloc(bytes(16)), 16, g.emu.alloc(8), 8, g.emu.alloc(4), 0, 0)
    g.emu.exports_have_addresses = False
    assert pointer_of(g, s, WSAID_CONNECTEX) == (0xFFFFFFFF, 0xEEEEEEEEEEEEEEEE
                                                 & ((1 << 8 * g.ptr_size) - 1))
    assert g.last_error == WSAEINVAL
    assert g("closesocket", s) == 0


def test_accept_ex_through_a_port(g: Caller) -> None:
    server, name = listener(g)
    port = new_port(g)
    assert g("CreateIoCompletionPort", server, port, 7, 0) == port
    accepted = open_socket(g)
    buffer = g.emu.alloc(b"\xee" * (2 * ROOM))
    received = g.emu.alloc(4)
    at = overlapped(g)
    g.fails(WSA_IO_PENDING, "AcceptEx", server, accepted, buffer, 0, ROOM, ROOM, received, at)
    peer = socket.create_connection(("127.0.0.1", port_of(g, name)))
    out = Out(g)
    assert out.get(port) == 1 and out.values() == (0, 7, at)
    assert fields(g, at) == (0, 0, 0, 0)
    listening = g.pointers(server)
    assert g("setsockopt", accepted, SOL_SOCKET, SO_UPDATE_ACCEPT_CONTEXT, listening,
             g.ptr_size) == 0
    outs = [g.emu.alloc(b"\xee" * 8) for _ in range(4)]
    assert g("GetAcceptExSockaddrs", buffer, 0, ROOM, ROOM, *outs) is None
    local, remote = (int.from_bytes(g.emu.mem_read(outs[n], g.ptr_size), "little")
                     for n in (0, 2))
    assert (local, remote) == (buffer + 4, buffer + ROOM + 4)   # into the guest's buffer
    assert [g.emu.read_int(outs[n]) for n in (1, 3)] == [16, 16]
    assert port_of(g, local) == port_of(g, name)
    assert port_of(g, remote) == peer.getsockname()[1]
    assert g.emu.mem_read(remote + 4, 4) == bytes([127, 0, 0, 1])
    assert g.emu.mem_read(buffer + ROOM + 20, ROOM - 20) == b"\xee" * (ROOM - 20)  # untouched
    peer.sendall(b"hi")
    data = g.emu.alloc(2)
    assert g("recv", accepted, data, 2, 0) == 2 and g.emu.mem_read(data, 2) == b"hi"
    peer.close()
    for handle in (accepted, server):
        assert g("closesocket", handle) == 0
    assert g("CloseHandle", port) == 1


def test_accept_ex_with_data_completes_by_event(g: Caller) -> None:
    server, name = listener(g)
    accepted = open_socket(g)
    event = g("WSACreateEvent")
    buffer = g.emu.alloc(b"\xee" * (4 + 2 * ROOM))
    at = overlapped(g, event)
    g.fails(WSA_IO_PENDING, "AcceptEx", server, accepted, buffer, 4, ROOM, ROOM, 0, at)
    with socket.create_connection(("127.0.0.1", port_of(g, name))) as peer:
        peer.sendall(b"data")
        assert g("WSAWaitForMultipleEvents", 1, g.pointers(event), 0, 5000, 0) == 0
        assert fields(g, at) == (0, 4, 0, 0)
        assert g.emu.mem_read(buffer, 4) == b"data"
        assert g.emu.read_int(buffer + 4) == 16   # the local area's length
    for handle in (accepted, server):
        assert g("closesocket", handle) == 0
    assert g("WSACloseEvent", event) == 1


def test_connect_ex_and_disconnect_ex(g: Caller) -> None:
    host = socket.create_server(("127.0.0.1", 0))
    s = open_socket(g)
    assert g("bind", s, g.sockaddr(0), 16) == 0
    port = new_port(g)
    assert g("CreateIoCompletionPort", s, port, 3, 0) == port
    _, connect_ex = pointer_of(g, s, WSAID_CONNECTEX)
    _, disconnect_ex = pointer_of(g, s, WSAID_DISCONNECTEX)
    at, sent = overlapped(g), g.emu.alloc(4)
    length = 5 | (0xABCD << 32) if g.ptr_size == 8 else 5   # garbage above a DWORD
    done = g.call_address(connect_ex, s, g.sockaddr(host.getsockname()[1]), 16,
                          g.emu.alloc(b"hello"), length, sent, at)
    assert done == 1 or g.last_error == WSA_IO_PENDING
    out = Out(g)
    assert out.get(port) == 1 and out.values() == (5, 3, at)
    peer, _ = host.accept()
    assert peer.recv(5) == b"hello"
    at = overlapped(g)
    assert g.call_address(disconnect_ex, s, at, 0, 0) == 1
    assert out.get(port) == 1 and out.values() == (0, 3, at)
    assert peer.recv(1) == b""
    peer.close()
    host.close()
    assert g("closesocket", s) == 0
    assert g("CloseHandle", port) == 1


def test_errors_before_any_effect(g: Caller) -> None:
    server, name = listener(g)
    accepted = open_socket(g)
    buffer, at = g.emu.alloc(2 * ROOM), overlapped(g)
    g.fails(WSAENOTSOCK, "AcceptEx", 0x1234, accepted, buffer, 0, ROOM, ROOM, 0, at)
    g.fails(WSA_INVALID_PARAMETER, "AcceptEx", server, accepted, buffer, 0, ROOM, ROOM, 0, 0)
    with socket.create_connection(("127.0.0.1", port_of(g, name))):
        g.fails(WSAEFAULT, "AcceptEx", server, accepted, UNMAPPED, 0, ROOM, ROOM, 0, at)
        g.fails(WSAEFAULT, "AcceptEx", server, accepted, buffer, 0, ROOM, ROOM, UNMAPPED, at)
        g.fails(WSAEFAULT, "AcceptEx", server, accepted, buffer, 0, ROOM, ROOM, 0, UNMAPPED)
        g.fails(WSAEFAULT, "AcceptEx", server, accepted, buffer, 0, ROOM, 8, 0, at)  # too small
        # The connection is still there for the accept that can take it.
        assert g("AcceptEx", server, accepted, buffer, 0, ROOM, ROOM, g.emu.alloc(4), at) == 1
    s = open_socket(g)
    assert g("bind", s, g.sockaddr(0), 16) == 0
    g.fails(WSAEFAULT, "ConnectEx", s, UNMAPPED, 16, 0, 0, 0, overlapped(g))
    g.fails(WSAEFAULT, "ConnectEx", s, g.sockaddr(1), 16, UNMAPPED, 4, 0, overlapped(g))
    g.fails(WSA_INVALID_PARAMETER, "ConnectEx", s, g.sockaddr(1), 16, 0, 0, 0, 0)
    g.fails(WSAENOTSOCK, "DisconnectEx", 0x1234, 0, 0, 0)
    # GetAcceptExSockaddrs writes nothing where it cannot write all.
    outs = [g.emu.alloc(b"\xee" * 8) for _ in range(3)]
    g("GetAcceptExSockaddrs", buffer, 0, ROOM, ROOM, *outs, UNMAPPED)
    assert all(g.emu.mem_read(out, 8) == b"\xee" * 8 for out in outs)
    g("GetAcceptExSockaddrs", UNMAPPED, 0, ROOM, ROOM, *outs, g.emu.alloc(4))
    assert all(g.emu.mem_read(out, 8) == b"\xee" * 8 for out in outs)
    for handle in (s, accepted, server):
        assert g("closesocket", handle) == 0
