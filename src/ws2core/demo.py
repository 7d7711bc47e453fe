"""``python -m ws2core demo``: a walk-through of the upcall table, then a provider at work.

It plays a small provider against ``ws2core.UpcallTable`` and prints each upcall with its
result, so a reader sees the Windows calling convention (results, ``lpErrno``) at work; then
``ws2core.provider.HostSocketProvider``, on a new upcall table, serves echo clients on 127.0.0.1
through the upcalls, and that table is checked for leaked handles at the end (the exit status
says so).
"""

from __future__ import annotations

import ctypes
import queue
import threading
from dataclasses import dataclass
from typing import Any

import ws2core
from ws2core.structs import FD_SET_LAYOUTS

_X64 = FD_SET_LAYOUTS["x64"]  # the layout the demo prints: an FdSet's own


@dataclass
class Connection:
    """What a provider keeps per socket; Python providers hand it to Ws2_32 as the context."""

    peer: str


def _hex(h: int) -> str:
    return f"{h:#x}"


def _dump(data: bytes) -> str:
    """fd_count and padding, then one SOCKET per group, so the layout reads off the dump."""
    first = _X64.offset(0)
    groups = [data[0:4].hex(), data[4:first].hex()]
    groups += [data[i : i + _X64.socket_size].hex() for i in range(first, len(data), _X64.socket_size)]
    return " ".join(groups)


def run(header: str) -> int:
    """Walk a provider through the upcalls, then serve echo clients through a provider; the
    exit status: 1 if a handle leaked or the server thread did not end, else 0.  Every line
    but the handle values is deterministic; ``header`` comes first."""
    print(header)
    print()
    print("1. Ws2_32 hands the provider its upcall table (a fresh Ws2_32 instance):")
    up = ws2core.UpcallTable()
    print(f"     up = ws2core.UpcallTable()  ->  {up!r}")

    print()
    print("2. The provider creates sockets, each with its own state as the context:")
    err = ctypes.c_int(0)  # LPINT lpErrno, as a C provider would pass it
    print("     err = ctypes.c_int(0)")
    catalog_entry_id = 1001
    conns = [Connection("192.0.2.10:80"), Connection("192.0.2.11:443"), Connection("192.0.2.12:25")]
    socks = []
    for n, conn in enumerate(conns, 1):
        s = up.WPUCreateSocketHandle(catalog_entry_id, conn, err)
        socks.append(s)
        print(
            f"     s{n} = WPUCreateSocketHandle({catalog_entry_id}, {conn!r}, err)  ->  {_hex(s)}"
        )
    s1, s2, s3 = socks
    print(f"     err.value = {err.value}: lpErrno is written only when an upcall fails")

    print()
    print("3. Later calls find the state again from the handle alone:")
    ctx = ws2core.Ref()
    rc = up.WPUQuerySocketHandleContext(s2, ctx, err)
    print("     ctx = ws2core.Ref()")
    print(f"     WPUQuerySocketHandleContext(s2, ctx, err)  ->  {rc}")
    print(
        f"     ctx.value = {ctx.value!r}; the very object given at creation: {ctx.value is conns[1]}"
    )

    print()
    print("4. select() hands the provider an fd_set holding s1 and s3:")
    fds = ws2core.FdSet([s1, s3])
    print(f"     fds = ws2core.FdSet([s1, s3])  ->  {len(fds)} of {fds.capacity} entries used")
    print(f"     WPUFDIsSet(s1, fds)  ->  {up.WPUFDIsSet(s1, fds)}   (a member)")
    print(f"     WPUFDIsSet(s2, fds)  ->  {up.WPUFDIsSet(s2, fds)}   (not a member)")
    layout = bytes(memoryview(fds))
    print(
        f"     its Windows x64 layout, {len(layout)} bytes"
        " (u_int fd_count, 4 padding bytes, SOCKET fd_array[64], little-endian); the first 32:"
    )
    print(f"       {_dump(layout[:32])} ...")
    c_fds = _X64.ctypes_type(ws2core.FD_SETSIZE).from_buffer_copy(layout)
    print(
        f"     a C fd_set (ctypes Structure, {ctypes.sizeof(c_fds)} bytes) reads the same:"
        f" WPUFDIsSet(s3, c_fds)  ->  {up.WPUFDIsSet(s3, c_fds)}"
    )

    print()
    print("5. An event: manual-reset, created non-signalled:")
    e = up.WPUCreateEvent(err)
    print(
        f"     e = WPUCreateEvent(err)  ->  {_hex(e)}; event_is_set(e) = {up.table.event_is_set(e)}"
    )
    rc = up.WPUSetEvent(e, err)
    print(
        f"     WPUSetEvent(e, err)      ->  {rc} (TRUE); event_is_set(e) = {up.table.event_is_set(e)}"
    )
    rc = up.WPUResetEvent(e, err)
    print(
        f"     WPUResetEvent(e, err)    ->  {rc} (TRUE); event_is_set(e) = {up.table.event_is_set(e)}"
    )

    print()
    print("6. Close everything (the contexts are the provider's again; the table lets them go):")
    for n, s in enumerate(socks, 1):
        print(f"     WPUCloseSocketHandle(s{n}, err)  ->  {up.WPUCloseSocketHandle(s, err)}")
    print(f"     WPUCloseEvent(e, err)  ->  {up.WPUCloseEvent(e, err)} (TRUE)")
    print(f"     {up.table!r}")

    print()
    print("7. A stale handle is refused, never taken for another socket:")
    ctx = ws2core.Ref("untouched")
    rc = up.WPUQuerySocketHandleContext(s2, ctx, err)
    name = "SOCKET_ERROR" if rc == ws2core.SOCKET_ERROR else "?"
    print(f"     WPUQuerySocketHandleContext(s2, ctx, err)  ->  {rc} ({name})")
    print(
        f"     err.value = {err.value} ({ws2core.errorname(err.value)}); ctx.value = {ctx.value!r}"
    )
    err.value = 0
    rc = up.WPUSetEvent(e, err)
    print(
        f"     WPUSetEvent(e, err)  ->  {rc} (FALSE);"
        f" err.value = {err.value} ({ws2core.errorname(err.value)})"
    )
    s4 = up.WPUCreateSocketHandle(catalog_entry_id, Connection("192.0.2.13:22"), err)
    print(
        f"     s4 = WPUCreateSocketHandle(...)  ->  {_hex(s4)}; one of s1..s3 again: {s4 in socks}"
        f" (a closed value stays dead for {ws2core.REUSE_DELAY:,} creations)"
    )
    try:
        up.table.context(s2)
    except ws2core.WinsockError as error:
        print(
            f"     the Pythonic table raises instead: up.table.context(s2)  ->  WinsockError: {error}"
        )
    print(f"     WPUCloseSocketHandle(s4, err)  ->  {up.WPUCloseSocketHandle(s4, err)}")
    return _provider_demo()


def _provider_demo() -> int:
    """A provider over host sockets on 127.0.0.1: an echo server driven by WSPEventSelect and
    WSAWaitForMultipleEvents in its own thread, two blocking clients, one client driven by
    WSPSelect, and the table checked for leaked handles at the end."""
    from ws2core.provider import TIMEVAL, WSANETWORKEVENTS, HostSocketProvider

    print()
    print(
        "8. A provider over the host's sockets (ws2core.provider.HostSocketProvider),"
        " on a new table:"
    )
    up = ws2core.UpcallTable()
    # Said, because step 7 has just shown closed values staying dead: without it, the listener
    # below, 0x4 again, reads as s1's value reused.
    print(f"     up = ws2core.UpcallTable()  ->  {up!r}")
    print(
        "     a second Ws2_32 instance, as another program would have, so its handles start again"
        " at 0x4:\n     the listener's 0x4 below is not s1 reused, and step 11's leak check counts"
        " this part alone"
    )
    provider = HostSocketProvider(catalog_entry_id=1001)
    print(f"     provider.WSPStartup(up)  ->  {provider.WSPStartup(up)}")
    err = ws2core.Ref(0)
    listener = provider.WSPSocket(ws2core.AF_INET, ws2core.SOCK_STREAM, 0, None, 0, 0, err)
    provider.WSPBind(listener, ("127.0.0.1", 0), 16, err)
    address, length = ws2core.Ref(), ws2core.Ref(16)
    provider.WSPGetSockName(listener, address, length, err)
    provider.WSPListen(listener, ws2core.SOMAXCONN, err)
    print(
        f"     listener {_hex(listener)}: WSPSocket(AF_INET, SOCK_STREAM), WSPBind, WSPListen"
        f" on {address.value[0]}:<port>"
    )
    print(
        "     its context is the provider's state:"
        f" {type(up.table.context(listener)).__name__} ({up.table.context(listener).state})"
    )
    stop = up.WPUCreateEvent(err)
    print(
        f"     stop = WPUCreateEvent(err)  ->  {_hex(stop)}; the server thread starts: it waits on"
        " stop (set in\n     step 11) and on an event of its own for the listener's FD_ACCEPT"
    )
    log: queue.SimpleQueue[str] = queue.SimpleQueue()
    server = threading.Thread(
        target=_echo_server, args=(provider, up, listener, stop, log), name="demo echo server"
    )
    server.start()

    def server_says(count: int) -> None:
        for _ in range(count):
            print(f"       server: {log.get(timeout=10)}")

    print()
    print("9. Two blocking clients; the server thread waits on its events and echoes:")
    clients = []
    for name in ("alpha", "beta"):
        client = provider.WSPSocket(ws2core.AF_INET, ws2core.SOCK_STREAM, 0, None, 0, 0, err)
        provider.WSPConnect(client, address.value, 16, None, None, None, None, err)
        sent = ws2core.Ref()
        message = f"hello from {name}".encode()
        provider.WSPSend(client, [message], 1, sent, 0, None, None, None, err)
        echo = _receive_exactly(provider, client, len(message))
        print(
            f"     client {_hex(client)}: WSPConnect, WSPSend {sent.value} bytes,"
            f" WSPRecv  ->  {echo!r}"
        )
        server_says(2)
        clients.append(client)

    print()
    print("10. A non-blocking client driven by WSPSelect:")
    client = provider.WSPSocket(ws2core.AF_INET, ws2core.SOCK_STREAM, 0, None, 0, 0, err)
    provider.WSPIoctl(client, ws2core.FIONBIO, 1, 4, None, 0, None, None, None, None, err)
    rc = provider.WSPConnect(client, address.value, 16, None, None, None, None, err)
    print(
        f"     WSPIoctl(FIONBIO, 1); WSPConnect  ->  {rc} (SOCKET_ERROR),"
        f" err = {ws2core.errorname(err.value)}"
    )
    writable = ws2core.FdSet([client])
    ready = provider.WSPSelect(0, None, writable, None, TIMEVAL(5, 0), err)
    print(f"     WSPSelect(writefds=[{_hex(client)}], 5 s)  ->  {ready}; connected")
    server_says(1)
    sent = ws2core.Ref()
    provider.WSPSend(client, [b"hello from gamma"], 1, sent, 0, None, None, None, err)
    readable = ws2core.FdSet([client, clients[0]])
    ready = provider.WSPSelect(0, readable, None, None, TIMEVAL(5, 0), err)
    print(
        f"     WSPSend {sent.value} bytes; WSPSelect(readfds=[{_hex(client)},"
        f" {_hex(clients[0])}])  ->  {ready}; readfds rewritten in place to"
        f" [{', '.join(map(_hex, readable))}]"
    )
    server_says(1)
    echo = _receive_exactly(provider, client, len(b"hello from gamma"))
    print(f"     WSPRecv  ->  {echo!r}")
    clients.append(client)

    print()
    print("11. The clients close; the server sees FD_CLOSE and closes its side:")
    for client in clients:
        provider.WSPCloseSocket(client, err)
        print(f"     WSPCloseSocket({_hex(client)})")
        server_says(1)
    up.WPUSetEvent(stop, err)
    server.join(10)
    server_says(1)
    provider.WSPCloseSocket(listener, err)
    up.WPUCloseEvent(stop, err)
    print(
        f"     provider.policy: {provider.policy.description} (the default), whose record says"
        " what this part\n     asked of the network (loopback allowed; anything else would"
        " have been refused, on record):"
    )
    for attempt in provider.policy.log:
        traffic = (f", {attempt.bytes_sent} bytes sent, {attempt.bytes_received} received"
                   if attempt.kind == "connect" else "")
        print(f"       {attempt.kind} {attempt.protocol} {attempt.address[0]}:<port>"
              f"  {attempt.verdict}{traffic}")
    print(f"     provider.WSPCleanup(err)  ->  {provider.WSPCleanup(err)}")
    leaked = [f"{_hex(h)} ({up.table.kind(h)})" for h in up.table]
    print(f"     {up.table!r}: {'no leaked handle' if not leaked else 'LEAKED ' + ', '.join(leaked)}")
    return 1 if leaked or server.is_alive() else 0


def _receive_exactly(provider: Any, s: int, size: int) -> bytes:
    """WSPRecv until ``size`` bytes came (TCP may deliver them in parts)."""
    data = bytearray()
    err, received, flags = ws2core.Ref(0), ws2core.Ref(), ws2core.Ref(0)
    chunk = bytearray(size)
    while len(data) < size:
        flags.value = 0
        rc = provider.WSPRecv(s, [chunk], 1, received, flags, None, None, None, err)
        if rc == ws2core.SOCKET_ERROR and err.value == ws2core.WSAEWOULDBLOCK:
            provider.WSPSelect(0, ws2core.FdSet([s]), None, None, None, err)
            continue
        if rc != 0 or received.value == 0:
            raise RuntimeError(f"WSPRecv failed: {ws2core.errorname(err.value)}")
        data += chunk[: received.value]
    return bytes(data)


def _echo_server(provider: Any, up: Any, listener: int, stop: int, log: Any) -> None:
    """Serve echo clients from one thread: WSAWaitForMultipleEvents over the stop event, the
    listener's event and one event per connection; WSPEnumNetworkEvents says what happened."""
    from ws2core.provider import WSANETWORKEVENTS

    err = ws2core.Ref(0)
    accept_event = up.WPUCreateEvent(err)
    provider.WSPEventSelect(listener, accept_event, ws2core.FD_ACCEPT, err)
    sockets, events = [0, listener], [stop, accept_event]
    buffer = bytearray(4096)
    while True:
        index = up.WSAWaitForMultipleEvents(len(events), events, False, 10_000, False)
        if index in (0, ws2core.WSA_WAIT_TIMEOUT):
            log.put("the stop event is set: done" if index == 0 else "timed out")
            break
        s, event = sockets[index], events[index]
        happened = WSANETWORKEVENTS()
        provider.WSPEnumNetworkEvents(s, event, happened, err)
        if happened.lNetworkEvents & ws2core.FD_ACCEPT:
            peer, length = ws2core.Ref(), ws2core.Ref(16)
            accepted = provider.WSPAccept(listener, peer, length, None, 0, err)
            accepted_event = up.WPUCreateEvent(err)
            provider.WSPEventSelect(
                accepted, accepted_event, ws2core.FD_READ | ws2core.FD_CLOSE, err
            )
            sockets.append(accepted)
            events.append(accepted_event)
            log.put(
                f"FD_ACCEPT: WSPAccept  ->  {_hex(accepted)};"
                f" WSPEventSelect(FD_READ | FD_CLOSE) on its own event"
            )
        if happened.lNetworkEvents & ws2core.FD_READ:
            received, flags, sent = ws2core.Ref(), ws2core.Ref(0), ws2core.Ref()
            if provider.WSPRecv(s, [buffer], 1, received, flags, None, None, None, err) == 0:
                data = bytes(buffer[: received.value])
                provider.WSPSend(s, [data], 1, sent, 0, None, None, None, err)
                log.put(f"FD_READ on {_hex(s)}: WSPRecv {data!r}, WSPSend it back")
        if happened.lNetworkEvents & ws2core.FD_CLOSE:
            code = happened.iErrorCode[ws2core.FD_CLOSE_BIT]
            provider.WSPCloseSocket(s, err)
            up.WPUCloseEvent(event, err)
            del sockets[index], events[index]
            log.put(f"FD_CLOSE on {_hex(s)} (iErrorCode {code}): WSPCloseSocket, WPUCloseEvent")
    up.WPUCloseEvent(accept_event, err)
