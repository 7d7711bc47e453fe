"""A small provider written against ws2core's public API, fully annotated.

tests/test_typing.py runs ``mypy --strict`` on this file (the proof that the public API, read
through ws2core/_handles.pyi, types cleanly for a user) and then runs it, so that it stays a
working program and not just a well-typed one.  It is not a test module itself (no ``test_``
prefix): pytest does not collect it.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field

import ws2core
from ws2core import (
    FD_CLR,
    FD_ISSET,
    FD_SET,
    FD_SETSIZE,
    FD_ZERO,
    INVALID_SOCKET,
    SOCKET_ERROR,
    WSA_INVALID_EVENT,
    WSA_INVALID_HANDLE,
    WSAENOTSOCK,
    FdSet,
    HandleTable,
    Ref,
    UpcallTable,
    WinsockError,
    errorname,
)


@dataclass
class SocketState:
    """What the provider keeps per socket; Ws2_32 holds it as the socket's context."""

    peer: str
    received: list[bytes] = field(default_factory=list)


class CFdSet(ctypes.Structure):
    """A C fd_set with the Windows x64 layout, as a provider written against winsock2.h sees it."""

    _fields_ = [("fd_count", ctypes.c_uint), ("fd_array", ctypes.c_uint64 * FD_SETSIZE)]


class Provider:
    """A minimal provider: its sockets' state lives in the Ws2_32 contexts, not in a dict."""

    def __init__(self, upcalls: UpcallTable, catalog_entry_id: int) -> None:
        self.upcalls = upcalls
        self.catalog_entry_id = catalog_entry_id

    def socket(self, peer: str) -> int:
        err = ctypes.c_int(0)
        s: int = self.upcalls.WPUCreateSocketHandle(self.catalog_entry_id, SocketState(peer), err)
        if s == INVALID_SOCKET:
            raise WinsockError(err.value, "WPUCreateSocketHandle failed")
        return s

    def state(self, s: int) -> SocketState | None:
        """The socket's state, or None for a handle that is not a live socket."""
        ctx: Ref = Ref()
        err = ctypes.c_int(0)
        rc: int = self.upcalls.WPUQuerySocketHandleContext(s, ctx, err)
        if rc == SOCKET_ERROR:
            assert err.value == WSAENOTSOCK, errorname(err.value)
            return None
        state = ctx.value
        assert isinstance(state, SocketState)
        return state

    def readable(self, candidates: FdSet) -> list[SocketState]:
        """The states of the sockets in ``candidates``, as WSPSelect would walk an fd_set."""
        states: list[SocketState] = []
        for s in candidates:
            member: int = self.upcalls.WPUFDIsSet(s, candidates)
            state = self.state(s) if member else None
            if state is not None:
                states.append(state)
        return states

    def close(self, s: int) -> int:
        """0, or the Windows error code the close failed with."""
        err = ctypes.c_int(0)
        rc: int = self.upcalls.WPUCloseSocketHandle(s, err)
        return err.value if rc == SOCKET_ERROR else 0


def events(up: UpcallTable) -> list[bool]:
    """Create, signal, reset and close an event through the upcalls; the states seen."""
    table: HandleTable = up.table
    err = ws2core.Ref(0)
    e = up.WPUCreateEvent(err)
    assert e != WSA_INVALID_EVENT
    seen = [table.event_is_set(e)]
    assert up.WPUSetEvent(e, err)
    seen.append(table.event_is_set(e))
    assert up.WPUResetEvent(e, err)
    seen.append(table.event_is_set(e))
    assert up.lpWPUCloseEvent(e, err)
    if not up.WPUSetEvent(e, err):
        assert err.value == WSA_INVALID_HANDLE
    return seen


def fd_macros(a: int, b: int) -> tuple[int, int, int]:
    """The FD_* macros over a C fd_set and over a bytearray: (count, a in, b in) at the end."""
    c_set = CFdSet()
    FD_ZERO(c_set)
    FD_SET(a, c_set)
    FD_SET(b, c_set)
    FD_SET(a, c_set)  # a duplicate is not added, as with the Winsock 2 macro
    FD_CLR(b, c_set)
    raw = bytearray(bytes(c_set))
    copied = FdSet.from_buffer(raw)
    return len(copied), FD_ISSET(a, raw), FD_ISSET(b, c_set)


def pythonic(max_handles: int) -> list[str]:
    """The HandleTable methods, which raise WinsockError where the upcalls set lpErrno."""
    report: list[str] = []
    with HandleTable(max_handles=max_handles) as table:
        s = table.create_socket(7, {"peer": "192.0.2.1:80"})
        e = table.create_event()
        report.append(f"{table.kind(s)} {table.kind(e)} {table.catalog_entry(s)} {len(table)}")
        table.close_socket(s)
        try:
            table.context(s)
        except WinsockError as error:
            report.append(f"{errorname(error.winerror)} {error.winerror == WSAENOTSOCK}")
        kind: str | None = table.kind(s)
        report.append(f"{kind} {s in table} {list(table) == [e]} {table.max_handles}")
    return report


def main() -> None:
    up = UpcallTable(max_handles=64)
    provider = Provider(up, catalog_entry_id=1001)
    a, b = provider.socket("192.0.2.10:80"), provider.socket("192.0.2.11:443")
    readfds = FdSet([a])
    readfds.add(b)
    readfds.discard(b)
    assert [state.peer for state in provider.readable(readfds)] == ["192.0.2.10:80"]
    assert len(bytes(readfds)) == 16 and bytes(readfds)[:4] == b"\x01\x00\x00\x00"
    assert provider.close(a) == 0 and provider.close(b) == 0
    assert provider.state(a) is None and provider.close(a) == WSAENOTSOCK
    assert events(up) == [False, True, False]
    assert fd_macros(8, 12) == (1, 1, 0)
    assert pythonic(4)[1:] == ["WSAENOTSOCK True", "None False True 4"]
    print(f"typed_usage: ok (core: {ws2core.IMPLEMENTATION})")


if __name__ == "__main__":
    main()
