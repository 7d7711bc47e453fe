"""Bad input, table-driven: every public entry point against every kind of wrong argument.

Entry points: the HandleTable methods (single and batch), HandleTable() itself, FdSet and
its methods, the module's FD_* functions, UpcallTable's fifteen upcalls with
WSAWaitForMultipleEvents and WSASetLastError, UpcallTable() / HotUpcalls(), and Ref.
Wrong arguments: wrong types (str, float, None, bytes, list, object()), out-of-range ints
(-1, -4, 2**32, 2**63, 2**64, 2**64+4, 2**100, -(2**100)), closed handles, handles of the
other kind, short, oversized and inconsistent fd_set buffers (0..7 bytes, an fd_count the
buffer cannot hold, 10,000 entries), read-only buffers where the call writes, non-contiguous
buffers, and out-parameters without ``.value`` (or a ctypes one that cannot hold the context).

Each row states its outcome: a WinsockError with the documented code, an upcall's failure
value with the documented code in ``lpErrno`` (or WSAGetLastError() for the wait), a
TypeError / ValueError (with its exact message where the row gives one: a non-int names the
call, the argument and the int it wants), or the documented result of a no-op.  After every row the table is
unchanged (``support.snapshot``), ``lpErrno`` is written only when an upcall reports a
failure through it, and a buffer the call failed on is unchanged.  Several hundred rows, each
run once per core (the exact count: ``pytest --collect-only -q tests/test_bad_input.py``).
"""

from __future__ import annotations

import asyncio
import ctypes
import struct
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Union

import pytest

import uuid

import ws2core
from ws2core.catalog import MSAFD_TCPIP
from ws2core.structs import GUID, WSATHREADID
from ws2core import (
    FALSE,
    INVALID_SOCKET,
    SOCKET_ERROR,
    WSA_INVALID_HANDLE,
    WSA_INVALID_PARAMETER,
    WSA_WAIT_FAILED,
    WSAEFAULT,
    WSAEINVAL,
    WSAENOBUFS,
    WSAENOTSOCK,
)

from support import Index, snapshot

SENTINEL = -12345  # lpErrno / the last error before each row: shows whether it was written
MAX_HANDLES = 8  # the env table's cap: four live handles, so a batch of five does not fit


# ------------------------------------------------------------------------------ the setup


@dataclass
class Env:
    """One table with live, closed and signalled handles of both kinds, for one row."""

    core: ModuleType
    table: Any
    up: ws2core.UpcallTable
    err: Any  # the core's Ref, holding SENTINEL
    s: int  # a live socket with an object context
    s_int: int  # a live socket with the int context 2**40
    e: int  # a live event, not signalled
    e_set: int  # a live event, signalled
    closed_s: int
    closed_e: int
    fds: Any  # the core's FdSet([s, s_int])
    port: int = 0  # a live completion port


@pytest.fixture
def env(core: ModuleType) -> Env:
    table = core.HandleTable(max_handles=MAX_HANDLES)
    up = ws2core.UpcallTable(table)
    up.WSASetLastError(SENTINEL)
    s = table.create_socket(1, object())
    s_int = table.create_socket(2, 2**40)
    e = table.create_event()
    e_set = table.create_event()
    table.set_event(e_set)
    closed_s = table.create_socket(3, object())
    closed_e = table.create_event()
    table.close_socket(closed_s)
    table.close_event(closed_e)
    return Env(core, table, up, core.Ref(SENTINEL), s, s_int, e, e_set, closed_s, closed_e,
               core.FdSet([s, s_int]), table.create_port())


# ------------------------------------------------------------------------------ outcomes


@dataclass(frozen=True)
class Raises:
    exc: type[BaseException]
    message: str | None = None  # the exact message, if given; {type}: the argument's type name


def not_an_int(function: str, argument: str, kind: str | None = None) -> Raises:
    """A non-int given for an int: the TypeError names the call, the argument (by its Windows
    name where it has one) and what the int stands for."""
    wanted = "an int" if kind is None else f"an int ({kind})"
    return Raises(TypeError, f"{function}() argument '{argument}' must be {wanted}, not {{type}}")


def not_an_int_operand(container: str, kind: str) -> Raises:
    """A non-int on the left of ``in``."""
    return Raises(TypeError, f"'in <{container}>' requires an int ({kind}) as left operand, not {{type}}")


@dataclass(frozen=True)
class Winsock:
    """WinsockError (exactly that class) with this winerror."""

    code: int


@dataclass(frozen=True)
class Upcall:
    """The upcall returns ``result`` and writes ``code`` to lpErrno."""

    result: int
    code: int


@dataclass(frozen=True)
class WaitFailed:
    """WSA_WAIT_FAILED, with ``code`` in WSAGetLastError()."""

    code: int


@dataclass(frozen=True)
class Returns:
    value: object


ANY = object()  # Returns(ANY): succeeds, whatever it returns
Expect = Union[Raises, Winsock, Upcall, WaitFailed, Returns]


@dataclass(frozen=True)
class Row:
    id: str
    call: Callable[[Env, Any], object]  # (env, the row's argument) -> result
    arg: Callable[[Env], Any]  # makes the argument from the env
    expect: Expect


def const(value: Any) -> Callable[[Env], Any]:
    return lambda v: value


# ------------------------------------------------------------------------------ the values

OBJ = object()
WRONG_TYPES: dict[str, object] = {
    "str": "4", "float": 4.0, "None": None, "bytes": b"\x04", "list": [4], "object": OBJ,
}
BAD_INTS: dict[str, int] = {
    "-1": -1, "-4": -4, "2**32": 2**32, "2**63": 2**63, "2**64": 2**64,
    "2**64+4": 2**64 + 4, "2**100": 2**100, "-(2**100)": -(2**100),
}
SOCKET_VALUE_OK = {"2**32", "2**63"}  # the bad ints a SOCKET (0..2**64-1) can hold
NOT_ITERABLE: dict[str, object] = {"None": None, "int": 4, "float": 4.0, "object": OBJ}
NO_VALUE: dict[str, object] = {"object": OBJ, "None": None, "int": 7, "str": "x", "list": [0]}


class FailingIndex:
    """An int-like whose __index__ fails: its own TypeError stands, not one naming the argument
    (only an object with no __index__ at all is "not an int")."""

    MESSAGE = "this __index__ fails on purpose"

    def __index__(self) -> int:
        raise TypeError(self.MESSAGE)


def handle_rows(
    name: str,
    call: Callable[[Env, Any], object],
    *,
    on_type: Expect,
    on_int: Expect,
    dead: dict[str, Callable[[Env], int]],
    on_dead: Expect,
    on_none: Expect | None = None,
) -> list[Row]:
    """A handle argument: wrong types, out-of-range ints, and dead or other-kind handles."""
    rows = [
        Row(f"{name}({label})", call, const(value),
            on_none if value is None and on_none is not None else on_type)
        for label, value in WRONG_TYPES.items()
    ]
    rows += [Row(f"{name}({label})", call, const(value), on_int) for label, value in BAD_INTS.items()]
    rows += [Row(f"{name}({label})", call, getter, on_dead) for label, getter in dead.items()]
    return rows


SOCKET_DEAD: dict[str, Callable[[Env], int]] = {
    "closed_socket": lambda v: v.closed_s,
    "closed_event": lambda v: v.closed_e,
    "event": lambda v: v.e,  # the other kind
    "event|3": lambda v: v.e | 3,  # an event's tagged name is not a socket either
    "socket+2**64": lambda v: v.s + 2**64,
    "-socket": lambda v: -v.s,
}
EVENT_DEAD: dict[str, Callable[[Env], int]] = {
    "closed_event": lambda v: v.closed_e,
    "closed_event|3": lambda v: v.closed_e | 3,
    "closed_socket": lambda v: v.closed_s,
    "socket": lambda v: v.s,  # the other kind
    "event+2**64": lambda v: v.e + 2**64,
    "event-2**64": lambda v: v.e - 2**64,
    "-event": lambda v: -v.e,
}


def socket_rows(name: str, call: Callable[[Env, Any], object], on_dead: Expect,
                on_type: Raises) -> list[Row]:
    return handle_rows(name, call, on_type=on_type, on_int=on_dead,
                       dead=SOCKET_DEAD, on_dead=on_dead)


def event_rows(name: str, call: Callable[[Env, Any], object], on_dead: Expect, on_type: Raises,
               on_none: Expect | None = None) -> list[Row]:
    return handle_rows(name, call, on_type=on_type, on_int=on_dead,
                       dead=EVENT_DEAD, on_dead=on_dead, on_none=on_none)


ROWS: list[Row] = []

# --- socket handles: HandleTable raises WSAENOTSOCK, the upcalls report it
NOTSOCK = Winsock(WSAENOTSOCK)
ROWS += socket_rows("context", lambda v, x: v.table.context(x), NOTSOCK,
                    not_an_int("HandleTable.context", "s", "a SOCKET"))
ROWS += socket_rows("catalog_entry", lambda v, x: v.table.catalog_entry(x), NOTSOCK,
                    not_an_int("HandleTable.catalog_entry", "s", "a SOCKET"))
ROWS += socket_rows("close_socket", lambda v, x: v.table.close_socket(x), NOTSOCK,
                    not_an_int("HandleTable.close_socket", "s", "a SOCKET"))
ROWS += socket_rows("contexts", lambda v, x: v.table.contexts([v.s, x]), NOTSOCK,
                    not_an_int("HandleTable.contexts", "handles[1]", "a SOCKET"))
ROWS += socket_rows("WPUQuerySocketHandleContext",
                    lambda v, x: v.up.WPUQuerySocketHandleContext(x, v.core.Ref(), v.err),
                    Upcall(SOCKET_ERROR, WSAENOTSOCK),
                    not_an_int("WPUQuerySocketHandleContext", "s", "a SOCKET"))
ROWS += socket_rows("WPUCloseSocketHandle", lambda v, x: v.up.WPUCloseSocketHandle(x, v.err),
                    Upcall(SOCKET_ERROR, WSAENOTSOCK), not_an_int("WPUCloseSocketHandle", "s", "a SOCKET"))
# close_sockets returns what it could not close, in order, and closes nothing else here
ROWS += handle_rows("close_sockets", lambda v, x: v.table.close_sockets([x, v.closed_s]),
                    on_type=not_an_int("HandleTable.close_sockets", "handles[0]", "a SOCKET"),
                    on_int=Returns(ANY), dead=SOCKET_DEAD, on_dead=Returns(ANY))

# --- event handles: WSA_INVALID_HANDLE, a socket handle included
BADHANDLE = Winsock(WSA_INVALID_HANDLE)
for method in ("set_event", "reset_event", "event_is_set", "close_event"):
    ROWS += event_rows(method, lambda v, x, method=method: getattr(v.table, method)(x), BADHANDLE,
                       not_an_int(f"HandleTable.{method}", "e", "a WSAEVENT"))
for upcall in ("WPUSetEvent", "WPUResetEvent", "WPUCloseEvent"):
    ROWS += event_rows(upcall, lambda v, x, upcall=upcall: getattr(v.up, upcall)(x, v.err),
                       Upcall(FALSE, WSA_INVALID_HANDLE), not_an_int(upcall, "hEvent", "a WSAEVENT"))
# a wait reads None as 0, which is no event
ROWS += event_rows("wait", lambda v, x: v.table.wait([v.e, x], timeout=0), BADHANDLE,
                   not_an_int("HandleTable.wait", "events[1]", "a WSAEVENT"), on_none=BADHANDLE)
ROWS += event_rows("wait_async", lambda v, x: asyncio.run(v.table.wait_async([v.e, x], timeout=0)),
                   BADHANDLE, not_an_int("HandleTable.wait_async", "events[1]", "a WSAEVENT"),
                   on_none=BADHANDLE)
ROWS += event_rows("WSAWaitForMultipleEvents",
                   lambda v, x: v.up.WSAWaitForMultipleEvents(2, [v.e_set, x], False, 0, False),
                   WaitFailed(WSA_INVALID_HANDLE),
                   not_an_int("WSAWaitForMultipleEvents", "lphEvents[1]", "a WSAEVENT"),
                   on_none=WaitFailed(WSA_INVALID_HANDLE))

# --- any handle: kind and `in` answer, a wrong type is a TypeError
ROWS += handle_rows("kind", lambda v, x: v.table.kind(x),
                    on_type=not_an_int("HandleTable.kind", "h", "a SOCKET or WSAEVENT"),
                    on_int=Returns(None), dead={"closed_socket": lambda v: v.closed_s,
                                                "closed_event": lambda v: v.closed_e},
                    on_dead=Returns(None))
ROWS += handle_rows("in", lambda v, x: x in v.table,
                    on_type=not_an_int_operand("HandleTable", "a SOCKET or WSAEVENT"),
                    on_int=Returns(False), dead={"closed_socket": lambda v: v.closed_s,
                                                 "closed_event": lambda v: v.closed_e},
                    on_dead=Returns(False))


# --- SOCKET values in fd_sets: any value 0..2**64-1 is fine; others never match, or are refused
def fd_value_rows(name: str, call: Callable[[Env, Any], object], *, on_type: Raises,
                  in_range: Expect, out_of_range: Expect) -> list[Row]:
    rows = [Row(f"{name}({label})", call, const(value), on_type)
            for label, value in WRONG_TYPES.items()]
    rows += [Row(f"{name}({label})", call, const(value),
                 in_range if label in SOCKET_VALUE_OK else out_of_range)
             for label, value in BAD_INTS.items()]
    return rows


ROWS += fd_value_rows("FD_ISSET", lambda v, x: v.core.FD_ISSET(x, v.fds),
                      on_type=not_an_int("FD_ISSET", "fd", "a SOCKET"), in_range=Returns(0),
                      out_of_range=Returns(0))
ROWS += fd_value_rows("FD_ISSET(buffer)", lambda v, x: v.core.FD_ISSET(x, bytes(v.fds)),
                      on_type=not_an_int("FD_ISSET", "fd", "a SOCKET"), in_range=Returns(0),
                      out_of_range=Returns(0))
ROWS += fd_value_rows("WPUFDIsSet", lambda v, x: v.up.WPUFDIsSet(x, v.fds),
                      on_type=not_an_int("WPUFDIsSet", "s", "a SOCKET"), in_range=Returns(0),
                      out_of_range=Returns(0))
ROWS += fd_value_rows("FdSet.__contains__", lambda v, x: x in v.fds,
                      on_type=not_an_int_operand("FdSet", "a SOCKET"), in_range=Returns(False),
                      out_of_range=Returns(False))
ROWS += fd_value_rows("FdSet.contains_each", lambda v, x: v.fds.contains_each([v.s, x]),
                      on_type=not_an_int("FdSet.contains_each", "handles[1]", "a SOCKET"),
                      in_range=Returns([True, False]), out_of_range=Returns([True, False]))
ROWS += fd_value_rows("FD_SET", lambda v, x: v.core.FD_SET(x, v.fds),
                      on_type=not_an_int("FD_SET", "fd", "a SOCKET"), in_range=Returns(None),
                      out_of_range=Raises(ValueError))
ROWS += fd_value_rows("FdSet.add", lambda v, x: v.fds.add(x),
                      on_type=not_an_int("FdSet.add", "fd", "a SOCKET"), in_range=Returns(None),
                      out_of_range=Raises(ValueError))
ROWS += fd_value_rows("FdSet", lambda v, x: v.core.FdSet([v.s, x]),
                      on_type=not_an_int("FdSet", "handles[1]", "a SOCKET"), in_range=Returns(ANY),
                      out_of_range=Raises(ValueError))
ROWS += fd_value_rows("FD_CLR", lambda v, x: v.core.FD_CLR(x, v.fds),
                      on_type=not_an_int("FD_CLR", "fd", "a SOCKET"), in_range=Returns(None),
                      out_of_range=Returns(None))
ROWS += fd_value_rows("FdSet.discard", lambda v, x: v.fds.discard(x),
                      on_type=not_an_int("FdSet.discard", "fd", "a SOCKET"), in_range=Returns(None),
                      out_of_range=Returns(None))


# --- catalog entry ids: a DWORD; anything else is a ValueError, a non-int a TypeError
def catalog_rows(name: str, call: Callable[[Env, Any], object], on_type: Raises) -> list[Row]:
    rows = [Row(f"{name}({label})", call, const(value), on_type)
            for label, value in WRONG_TYPES.items()]
    rows += [Row(f"{name}({label})", call, const(value), Raises(ValueError))
             for label, value in BAD_INTS.items()]
    return rows


ROWS += catalog_rows("create_socket", lambda v, x: v.table.create_socket(x, OBJ),
                     not_an_int("HandleTable.create_socket", "catalog_entry_id", "a DWORD"))
ROWS += catalog_rows("create_sockets", lambda v, x: v.table.create_sockets(x, [OBJ, None]),
                     not_an_int("HandleTable.create_sockets", "catalog_entry_id", "a DWORD"))
ROWS += catalog_rows("WPUCreateSocketHandle", lambda v, x: v.up.WPUCreateSocketHandle(x, OBJ, v.err),
                     not_an_int("WPUCreateSocketHandle", "dwCatalogEntryId", "a DWORD"))

# --- out-parameters without .value: a TypeError, before anything is done or written
OUT_PARAM_CALLS: dict[str, Callable[[Env, Any], object]] = {
    "WPUCreateSocketHandle.lpErrno": lambda v, o: v.up.WPUCreateSocketHandle(1, OBJ, o),
    "WPUQuerySocketHandleContext.lpContext": lambda v, o: v.up.WPUQuerySocketHandleContext(v.s, o, v.err),
    "WPUQuerySocketHandleContext.lpContext,closed":
        lambda v, o: v.up.WPUQuerySocketHandleContext(v.closed_s, o, v.err),
    "WPUQuerySocketHandleContext.lpErrno": lambda v, o: v.up.WPUQuerySocketHandleContext(v.s, v.core.Ref(), o),
    "WPUQuerySocketHandleContext.lpErrno,closed":
        lambda v, o: v.up.WPUQuerySocketHandleContext(v.closed_s, v.core.Ref(), o),
    "WPUCloseSocketHandle.lpErrno": lambda v, o: v.up.WPUCloseSocketHandle(v.s, o),
    "WPUCloseSocketHandle.lpErrno,closed": lambda v, o: v.up.WPUCloseSocketHandle(v.closed_s, o),
    "WPUCreateEvent.lpErrno": lambda v, o: v.up.WPUCreateEvent(o),
    "WPUSetEvent.lpErrno": lambda v, o: v.up.WPUSetEvent(v.e, o),
    "WPUSetEvent.lpErrno,closed": lambda v, o: v.up.WPUSetEvent(v.closed_e, o),
    "WPUResetEvent.lpErrno": lambda v, o: v.up.WPUResetEvent(v.e_set, o),
    "WPUCloseEvent.lpErrno": lambda v, o: v.up.WPUCloseEvent(v.e, o),
    "WPUCloseEvent.lpErrno,socket": lambda v, o: v.up.WPUCloseEvent(v.s, o),
    "WPUGetProviderPath.lpErrno": lambda v, o: v.up.WPUGetProviderPath(None, None, None, o),
    "WPUModifyIFSHandle.lpErrno": lambda v, o: v.up.WPUModifyIFSHandle(1, v.s, o),
    "WPUQueryBlockingCallback.lpErrno": lambda v, o: v.up.WPUQueryBlockingCallback(1, None, None, o),
    "WPUQueueApc.lpErrno": lambda v, o: v.up.WPUQueueApc(None, None, 0, o),
    "WPUOpenCurrentThread.lpErrno": lambda v, o: v.up.WPUOpenCurrentThread(None, o),
    "WPUOpenCurrentThread.lpErrno,live": lambda v, o: v.up.WPUOpenCurrentThread(WSATHREADID(), o),
    "WPUCloseThread.lpErrno": lambda v, o: v.up.WPUCloseThread(None, o),
}
ROWS += [Row(f"{name}({label})", call, const(value), Raises(TypeError))
         for name, call in OUT_PARAM_CALLS.items() for label, value in NO_VALUE.items()]

# a ctypes lpContext that cannot hold the context exactly: TypeError, nothing written
QUERY: Callable[[Env, Any], object] = lambda v, o: v.up.WPUQuerySocketHandleContext(v.s, o, v.err)
QUERY_INT: Callable[[Env, Any], object] = lambda v, o: v.up.WPUQuerySocketHandleContext(v.s_int, o, v.err)
ROWS += [
    # Named so that a user of an alias (c_int32, c_size_t on LP64 hosts) recognises the type.
    Row("lpContext(c_int,object context)", QUERY, lambda v: ctypes.c_int(5), Raises(TypeError,
        "lpContext, a ctypes.c_int (signed 32-bit; the same type as c_int32), cannot hold the "
        "context, of type object; use ws2core.Ref for object contexts")),
    Row("lpContext(c_size_t,object context)", QUERY, lambda v: ctypes.c_size_t(5), Raises(TypeError)),
    Row("lpContext(c_void_p,object context)", QUERY, lambda v: ctypes.c_void_p(5), Raises(TypeError)),
    Row("lpContext(c_double,object context)", QUERY, lambda v: ctypes.c_double(5), Raises(TypeError,
        "lpContext is a ctypes.c_double, which does not hold an integer; use ctypes.c_size_t or "
        "ctypes.c_uint64 for a DWORD_PTR")),
    Row("lpContext(c_int32,2**40)", QUERY_INT, lambda v: ctypes.c_int32(5), Raises(TypeError,
        "the context 1099511627776 does not fit lpContext, a ctypes.c_int (signed 32-bit; the "
        "same type as c_int32), which holds -2147483648..2147483647; use ctypes.c_size_t or "
        "ctypes.c_uint64 for a DWORD_PTR")),
    Row("lpContext(c_uint32,2**40)", QUERY_INT, lambda v: ctypes.c_uint32(5), Raises(TypeError)),
    Row("lpContext(c_uint8,2**40)", QUERY_INT, lambda v: ctypes.c_uint8(5), Raises(TypeError)),
    Row("lpContext(c_double,2**40)", QUERY_INT, lambda v: ctypes.c_double(5), Raises(TypeError)),
    Row("lpContext(c_char,2**40)", QUERY_INT, lambda v: ctypes.c_char(b"x"), Raises(TypeError)),
    Row("lpContext(c_uint64,2**40)", QUERY_INT, lambda v: ctypes.c_uint64(5), Returns(0)),
]

# --- WPUModifyIFSHandle: a proposed handle or catalog id that is no int is a TypeError, a
# catalog id outside DWORD a ValueError; any int that is no free value of the range WSAEINVAL.
ROWS += [Row(f"WPUModifyIFSHandle(ProposedHandle={label})",
             lambda v, x: v.up.WPUModifyIFSHandle(1, x, v.err), const(value), Raises(TypeError))
         for label, value in WRONG_TYPES.items()]
ROWS += [Row(f"WPUModifyIFSHandle(dwCatalogEntryId={label})",
             lambda v, x: v.up.WPUModifyIFSHandle(x, 2**20, v.err), const(value), Raises(TypeError))
         for label, value in WRONG_TYPES.items()]
ROWS += [Row(f"WPUModifyIFSHandle(dwCatalogEntryId={label})",
             lambda v, x: v.up.WPUModifyIFSHandle(x, 2**20, v.err), const(value), Raises(ValueError))
         for label, value in {"-1": -1, "2**32": 2**32}.items()]
ROWS += [Row(f"WPUModifyIFSHandle(ProposedHandle={label})",
             lambda v, x: v.up.WPUModifyIFSHandle(1, x, v.err), const(value), Upcall(INVALID_SOCKET, WSAEINVAL))
         for label, value in {"-1": -1, "-4": -4, "2**100": 2**100, "2**32": 2**32, "6": 6}.items()]

# --- WPUPostMessage: an hWnd, Msg, wParam or lParam that is no int is a TypeError (a None
# hWnd is NULL: FALSE); outside their C types a ValueError.
ROWS += [Row(f"WPUPostMessage(hWnd={label})", lambda v, x: v.up.WPUPostMessage(x, 1, 0, 0),
             const(value), Returns(FALSE) if value is None else Raises(TypeError))
         for label, value in WRONG_TYPES.items()]
ROWS += [Row(f"WPUPostMessage({argument}={label})",
             lambda v, x, i=i: v.up.WPUPostMessage(*[x if j == i else (6 if j == 0 else 0) for j in range(4)]),
             const(value), Raises(TypeError))
         for i, argument in enumerate(("hWnd", "Msg", "wParam", "lParam")) if i
         for label, value in WRONG_TYPES.items()]
ROWS += [Row("WPUPostMessage(hWnd=unknown)", lambda v, x: v.up.WPUPostMessage(x, 1, 0, 0), const(2**40), Returns(FALSE))]

# --- WPUQueryBlockingCallback: a catalog id that is no int is a TypeError, outside DWORD a
# ValueError; an out-parameter without .value a TypeError, None is WSAEFAULT.
ROWS += [Row(f"WPUQueryBlockingCallback(dwCatalogEntryId={label})",
             lambda v, x: v.up.WPUQueryBlockingCallback(x, v.core.Ref(), v.core.Ref(), v.err),
             const(value), Raises(TypeError))
         for label, value in WRONG_TYPES.items()]
ROWS += [Row(f"WPUQueryBlockingCallback(dwCatalogEntryId={label})",
             lambda v, x: v.up.WPUQueryBlockingCallback(x, v.core.Ref(), v.core.Ref(), v.err),
             const(value), Raises(ValueError))
         for label, value in {"-1": -1, "2**32": 2**32, "2**100": 2**100}.items()]
ROWS += [Row(f"WPUQueryBlockingCallback({argument}={label})",
             lambda v, x, i=i: v.up.WPUQueryBlockingCallback(
                 1001, *[x if j == i else v.core.Ref() for j in range(2)], v.err),
             const(value), Upcall(SOCKET_ERROR, WSAEFAULT) if value is None else Raises(TypeError))
         for i, argument in enumerate(("lplpfnCallback", "lpdwContext"))
         for label, value in NO_VALUE.items()]


# --- WPUGetProviderPath: a GUID of the wrong type, a path buffer it cannot write, a length
# that is no int are TypeErrors (ValueError: a buffer smaller than the length says); a GUID
# the catalog lacks (None included) is WSAEINVAL, a missing or short length WSAEFAULT.
def provider_path(guid: Any = MSAFD_TCPIP, path: Any = None, length: Any = 260) -> Callable[[Env, Any], object]:
    """WPUGetProviderPath with the row's argument in place of the one given as ARG."""
    def call(v: Env, x: Any) -> object:
        guid_, path_, length_ = (x if a is ARG else a for a in (guid, path, length))
        if path is None:  # the path received as a str
            path_ = v.core.Ref()
        if isinstance(length_, int):
            length_ = v.core.Ref(length_)
        return v.up.WPUGetProviderPath(guid_, path_, length_, v.err)
    return call


ARG = object()
ROWS += [Row(f"WPUGetProviderPath(lpProviderId={label})", provider_path(ARG), const(value), Raises(TypeError))
         for label, value in {**WRONG_TYPES, "int": 4}.items() if value is not None]
ROWS += [
    Row("WPUGetProviderPath(lpProviderId=None)", provider_path(ARG), const(None), Upcall(SOCKET_ERROR, WSAEINVAL)),
    Row("WPUGetProviderPath(lpProviderId=unknown)", provider_path(ARG),
        const(uuid.UUID(int=1)), Upcall(SOCKET_ERROR, WSAEINVAL)),
    Row("WPUGetProviderPath(lpProviderId=GUID())", provider_path(ARG), lambda v: GUID(), Upcall(SOCKET_ERROR, WSAEINVAL)),
    Row("WPUGetProviderPath(lpProviderDllPathLen=None)", provider_path(length=ARG), const(None),
        Upcall(SOCKET_ERROR, WSAEFAULT)),
    Row("WPUGetProviderPath(lpProviderDllPathLen=-1)", provider_path(length=-1), const(None),
        Upcall(SOCKET_ERROR, WSAEFAULT)),
    Row("WPUGetProviderPath(lpProviderDllPathLen=Ref(str))", provider_path(length=ARG),
        lambda v: v.core.Ref("4"), Raises(TypeError)),
    Row("WPUGetProviderPath(lpszProviderDllPath=bytes)", provider_path(path=ARG), const(bytes(520)),
        Raises(TypeError)),
    Row("WPUGetProviderPath(lpszProviderDllPath=short)", provider_path(path=ARG), lambda v: bytearray(518),
        Raises(ValueError)),
    Row("WPUGetProviderPath(lpszProviderDllPath=strided)", provider_path(path=ARG),
        lambda v: memoryview(bytearray(2080)).cast("H")[::2], Raises(ValueError)),
]
ROWS += [Row(f"WPUGetProviderPath(lpszProviderDllPath={label})", provider_path(path=ARG), const(value),
             Raises(TypeError)) for label, value in {"str": "4", "float": 4.0, "int": 4, "object": OBJ}.items()]
if ctypes.sizeof(ctypes.c_wchar) != 2:  # the host's wchar_t is no WCHAR: refused, not garbled
    ROWS.append(Row("WPUGetProviderPath(lpszProviderDllPath=c_wchar)", provider_path(path=ARG),
                    lambda v: ctypes.create_unicode_buffer(260), Raises(TypeError)))


# --- thread ids: a WSATHREADID whose ThreadHandle is no live thread handle is WSAEFAULT (a
# socket, an event, a closed thread, any bad int); anything that is no WSATHREADID (None aside,
# the NULL pointer: WSAEFAULT) is a TypeError, and nothing changes.
def thread_id(handle: int) -> WSATHREADID:
    return WSATHREADID(handle, 0)


class ThreadIdOf:
    """A WSATHREADID-like object holding any int, which ctypes' c_void_p would refuse."""

    def __init__(self, handle: int) -> None:
        self.ThreadHandle, self.Reserved = handle, 0


def closed_thread(table: Any) -> int:
    handle = table.open_thread()
    table.close_thread(handle)
    return handle  # type: ignore[no-any-return]


THREAD_CALLS: dict[str, Callable[[Env, Any], object]] = {
    "WPUQueueApc": lambda v, t: v.up.WPUQueueApc(t, print, 0, v.err),
    "WPUCloseThread": lambda v, t: v.up.WPUCloseThread(t, v.err),
}
NOT_THREADS: dict[str, Callable[[Env], Any]] = {
    "socket": lambda v: thread_id(v.s), "event": lambda v: thread_id(v.e),
    "closed_thread": lambda v: thread_id(closed_thread(v.table)), "NULL": lambda v: WSATHREADID(),
    "None": const(None), **{label: const(ThreadIdOf(value)) for label, value in BAD_INTS.items()},
}


ROWS += [Row(f"{name}(lpThreadId={label})", call, make, Upcall(SOCKET_ERROR, WSAEFAULT))
         for name, call in THREAD_CALLS.items() for label, make in NOT_THREADS.items()]
ROWS += [Row(f"{name}(lpThreadId={label})", call, const(value), Raises(TypeError))
         for name, call in {**THREAD_CALLS, "WPUOpenCurrentThread":
                            lambda v, t: v.up.WPUOpenCurrentThread(t, v.err)}.items()
         for label, value in WRONG_TYPES.items() if value is not None]
ROWS += [
    Row("WPUQueueApc(lpfnUserApc=None)", lambda v, t: v.up.WPUQueueApc(t, None, 0, v.err),
        lambda v: thread_id(v.table.open_thread()), Upcall(SOCKET_ERROR, WSAEFAULT)),
    Row("WPUQueueApc(lpfnUserApc=int)", lambda v, t: v.up.WPUQueueApc(t, 4, 0, v.err),
        lambda v: thread_id(v.table.open_thread()), Raises(TypeError)),
    Row("WPUOpenCurrentThread(lpThreadId=None)", lambda v, t: v.up.WPUOpenCurrentThread(t, v.err),
        const(None), Upcall(SOCKET_ERROR, WSAEFAULT)),
]


# --- completion ports: a port handle that is no live port is WSA_INVALID_HANDLE (a socket, an
# event, a closed port, any bad int); the socket of an association likewise; the socket of
# WPUCompleteOverlappedRequest is WSAEINVAL, its page's one error.
def closed_port(table: Any) -> int:
    handle = table.create_port()
    table.close_port(handle)
    return handle  # type: ignore[no-any-return]


PORT_DEAD: dict[str, Callable[[Env], int]] = {
    "closed_port": lambda v: closed_port(v.table),
    "closed_port|3": lambda v: closed_port(v.table) | 3,
    "socket": lambda v: v.s, "event": lambda v: v.e, "closed_socket": lambda v: v.closed_s,
    "-port": lambda v: -v.port, "port+2**64": lambda v: v.port + 2**64,
}
PORT_CALLS: dict[str, Callable[[Env, Any], object]] = {
    "close_port": lambda v, x: v.table.close_port(x),
    "post_completion": lambda v, x: v.table.post_completion(x, 1, 2, None),
    "get_completions": lambda v, x: v.table.get_completions(x, 1, 0),
    "associate_port(port)": lambda v, x: v.table.associate_port(v.s, x, 1),
}
for name, call in PORT_CALLS.items():
    ROWS += handle_rows(name, call, on_type=not_an_int(
        f"HandleTable.{name.split('(')[0]}", "port", "a port handle"), on_int=BADHANDLE,
        dead=PORT_DEAD, on_dead=BADHANDLE)
ROWS += handle_rows("associate_port(s)", lambda v, x: v.table.associate_port(x, v.port, 1),
                    on_type=not_an_int("HandleTable.associate_port", "s", "a SOCKET"),
                    on_int=BADHANDLE, dead=SOCKET_DEAD, on_dead=BADHANDLE)
ROWS += socket_rows("post_socket_completion", lambda v, x: v.table.post_socket_completion(x, None, 0, 1),
                    NOTSOCK, not_an_int("HandleTable.post_socket_completion", "s", "a SOCKET"))
ROWS += socket_rows("WPUCompleteOverlappedRequest",
                    lambda v, x: v.up.WPUCompleteOverlappedRequest(x, ws2core.structs.WSAOVERLAPPED(), 0, 1, v.err),
                    Upcall(SOCKET_ERROR, WSAEINVAL),
                    not_an_int("WPUCompleteOverlappedRequest", "s", "a SOCKET"))
ROWS += [
    Row(f"associate_port(key={label})", lambda v, x: v.table.associate_port(v.s, v.port, x),
        const(value), Raises(TypeError) if label in WRONG_TYPES else Raises(ValueError))
    for label, value in {**WRONG_TYPES, "-1": -1, "2**64": 2**64}.items()
] + [
    Row(f"WPUCompleteOverlappedRequest(lpOverlapped={label})",
        lambda v, x: v.up.WPUCompleteOverlappedRequest(v.s, x, 0, 1, v.err), const(value),
        Upcall(SOCKET_ERROR, WSAEFAULT) if value is None else Raises(TypeError))
    for label, value in WRONG_TYPES.items()
]


# --- fd_set buffers
def buffer_of(data: bytes, writable: bool) -> Callable[[Env], Any]:
    """A fresh bytearray per row where the call writes, the bytes themselves where it reads."""
    return (lambda v: bytearray(data)) if writable else const(data)


def fd_set_bytes(count: int, entries: list[int], size: int | None = None) -> bytes:
    """A Windows x64 fd_set: fd_count, padding, the entries; zero-padded to ``size`` bytes."""
    data = struct.pack(f"<II{len(entries)}Q", count, 0, *entries)
    return data if size is None else data.ljust(size, b"\0")


BIG_ENTRIES = [2**40 + 4 * i for i in range(10_000)]  # not handles of the table
BIG = fd_set_bytes(10_000, BIG_ENTRIES)

READERS: dict[str, Callable[[Env, Any], object]] = {
    "FD_ISSET": lambda v, b: v.core.FD_ISSET(v.s, b),
    "WPUFDIsSet": lambda v, b: v.up.WPUFDIsSet(v.s, b),
    "FdSet.from_buffer": lambda v, b: len(v.core.FdSet.from_buffer(b)),
}
WRITERS: dict[str, Callable[[Env, Any], object]] = {
    "FD_SET": lambda v, b: v.core.FD_SET(v.s, b),
    "FD_CLR": lambda v, b: v.core.FD_CLR(v.s, b),
    "FD_ZERO": lambda v, b: v.core.FD_ZERO(b),
}
NOT_BUFFERS: dict[str, object] = {
    "str": "x" * 520, "None": None, "list": [0] * 65, "object": OBJ, "float": 520.0, "int": 520,
}
# (label, the bytes, what a reader returns: ValueError when the fd_count does not fit)
OVERFULL: dict[str, bytes] = {
    "count65,cap64": fd_set_bytes(65, [], 520),
    "count2**32-1,cap64": fd_set_bytes(2**32 - 1, [], 520),
    "count1,cap0": fd_set_bytes(1, []),
    "count2,cap1+7bytes": fd_set_bytes(2, [4], 23),
    "count10001,cap10000": fd_set_bytes(10_001, BIG_ENTRIES),
}
for name, call in {**READERS, **WRITERS}.items():
    ROWS += [Row(f"{name}(set={label})", call, const(value), Raises(TypeError))
             for label, value in NOT_BUFFERS.items()]
    writes = name in WRITERS
    ROWS += [Row(f"{name}(set={n}bytes)", call,
                 buffer_of(bytes(n), writes), Raises(ValueError))
             for n in range(8)]
    ROWS.append(Row(f"{name}(set=non-contiguous)", call,
                    lambda v: memoryview(bytearray(1040))[::2], Raises(TypeError)))
    for label, data in OVERFULL.items():
        # FD_ZERO only writes fd_count: it accepts any fd_set of 8 bytes or more
        expect: Expect = Returns(None) if name == "FD_ZERO" else Raises(ValueError)
        ROWS.append(Row(f"{name}(set={label})", call,
                        buffer_of(data, writes), expect))
for name, call in WRITERS.items():
    ROWS += [
        Row(f"{name}(set=bytes)", call, const(bytes(520)), Raises(TypeError)),
        Row(f"{name}(set=readonly-memoryview)", call,
            lambda v: memoryview(bytearray(520)).toreadonly(), Raises(TypeError)),
        Row(f"{name}(set=readonly-FdSet-view)", call,
            lambda v: memoryview(v.fds).toreadonly(), Raises(TypeError)),
    ]
ROWS += [  # read-only buffers are fine where nothing is written
    Row("FD_ISSET(set=bytes)", READERS["FD_ISSET"], const(fd_set_bytes(1, [2**40], 520)), Returns(0)),
    Row("FD_ISSET(set=readonly-FdSet-view)", READERS["FD_ISSET"],
        lambda v: memoryview(v.fds).toreadonly(), Returns(1)),
    Row("WPUFDIsSet(set=readonly-memoryview)", READERS["WPUFDIsSet"],
        lambda v: memoryview(bytearray(fd_set_bytes(0, [], 520))).toreadonly(), Returns(0)),
    Row("FdSet.from_buffer(set=bytes8)", READERS["FdSet.from_buffer"], const(bytes(8)), Returns(0)),
    # 10,000 entries: all of fd_count is read, nothing past it; a full set takes nothing more
    Row("FD_ISSET(set=big)", READERS["FD_ISSET"], const(BIG), Returns(0)),
    Row("FD_ISSET(last,set=big)", lambda v, b: v.core.FD_ISSET(BIG_ENTRIES[-1], b), const(BIG), Returns(1)),
    Row("WPUFDIsSet(last,set=big)", lambda v, b: v.up.WPUFDIsSet(BIG_ENTRIES[-1], b), const(BIG), Returns(1)),
    Row("FdSet.from_buffer(set=big)", READERS["FdSet.from_buffer"], const(BIG), Returns(10_000)),
    Row("FD_SET(set=big,full)", lambda v, b: (v.core.FD_SET(v.s, b), bytes(b) == BIG)[1],
        lambda v: bytearray(BIG), Returns(True)),
    Row("FD_CLR(set=big,absent)", lambda v, b: (v.core.FD_CLR(v.s, b), bytes(b) == BIG)[1],
        lambda v: bytearray(BIG), Returns(True)),
    Row("FD_CLR(last,set=big)", lambda v, b: (v.core.FD_CLR(BIG_ENTRIES[-1], b), b[:4])[1],
        lambda v: bytearray(BIG), Returns(struct.pack("<I", 9_999))),
    Row("FdSet.contains_each(big)", lambda v, b: v.fds.contains_each(b).count(True),
        const(array("Q", BIG_ENTRIES)), Returns(0)),
]


# --- constructors
def ctor_rows(name: str, call: Callable[[Env, Any], object], ints: dict[str, int], on_int: Expect,
              on_type: Raises, none_is_default: bool = False) -> list[Row]:
    rows = [Row(f"{name}({label})", call, const(value), on_type)
            for label, value in WRONG_TYPES.items() if not (none_is_default and value is None)]
    rows += [Row(f"{name}({label})", call, const(value), on_int) for label, value in ints.items()]
    return rows


ROWS += ctor_rows("HandleTable(max_handles)", lambda v, x: v.core.HandleTable(max_handles=x),
                  {**BAD_INTS, "0": 0, "2**24+1": 2**24 + 1}, Raises(ValueError),
                  not_an_int("HandleTable", "max_handles"), none_is_default=True)
# UpcallTable makes a HandleTable with the options, and that call names the argument
ROWS += ctor_rows("UpcallTable(max_handles)", lambda v, x: ws2core.UpcallTable(max_handles=x),
                  {**BAD_INTS, "0": 0, "2**24+1": 2**24 + 1}, Raises(ValueError),
                  not_an_int("HandleTable", "max_handles"), none_is_default=True)
# handle_range: each bound is checked as max_handles is; a pair of them, both multiples of 4
ROWS += ctor_rows("HandleTable(handle_range=(x,2**20))",
                  lambda v, x: v.core.HandleTable(handle_range=(x, 2**20)),
                  {**BAD_INTS, "0": 0, "6": 6, "2**20+4": 2**20 + 4}, Raises(ValueError),
                  not_an_int("HandleTable", "handle_range[0]"))
ROWS += ctor_rows("HandleTable(handle_range=(4,x))", lambda v, x: v.core.HandleTable(handle_range=(4, x)),
                  {**BAD_INTS, "0": 0, "6": 6, "2**32-4+1": 2**32 - 3}, Raises(ValueError),
                  not_an_int("HandleTable", "handle_range[1]"))
ROWS += [Row(f"HandleTable(handle_range={label})", lambda v, x: v.core.HandleTable(handle_range=x),
             const(value), Raises(TypeError))
         for label, value in {"int": 4, "triple": (4, 8, 12), "single": (4,), "str": "48"}.items()]
ROWS += [
    # more live handles than the range has values
    Row("HandleTable(max_handles=3,handle_range=2-values)",
        lambda v, x: v.core.HandleTable(max_handles=3, handle_range=x), const((4, 8)), Raises(ValueError)),
    Row("HandleTable(max_handles=2,handle_range=2-values)",
        lambda v, x: v.core.HandleTable(max_handles=2, handle_range=x).reuse_delay,
        const((4, 8)), Returns(0)),
]
for label, call in {
    "HandleTable": lambda v, x: v.core.HandleTable(abi=x),
    "UpcallTable": lambda v, x: ws2core.UpcallTable(abi=x),
    "FdSet": lambda v, x: v.core.FdSet(abi=x),
    "FdSet.from_buffer": lambda v, x: v.core.FdSet.from_buffer(bytes(8), abi=x),
    "FD_ISSET": lambda v, x: v.core.FD_ISSET(v.s, bytearray(8), abi=x),
    "FD_SET": lambda v, x: v.core.FD_SET(v.s, bytearray(8), abi=x),
    "FD_CLR": lambda v, x: v.core.FD_CLR(v.s, bytearray(8), abi=x),
    "FD_ZERO": lambda v, x: v.core.FD_ZERO(bytearray(8), abi=x),
}.items():
    ROWS += [Row(f"{label}(abi={name})", call, const(value), Raises(kind)) for name, value, kind in (
        ("int", 64, TypeError), ("bytes", b"x86", TypeError), ("X86", "X86", ValueError),
        ("amd64", "amd64", ValueError), ("empty", "", ValueError))]
ROWS += [  # an FdSet carries its layout: a conflicting abi= is refused, never read the other way
    Row(f"{name}(FdSet,abi=x86)", call, lambda v: v.fds, Raises(ValueError))
    for name, call in {
        "FD_ISSET": lambda v, b: v.core.FD_ISSET(v.s, b, abi="x86"),
        "FD_SET": lambda v, b: v.core.FD_SET(v.s, b, abi="x86"),
        "FD_CLR": lambda v, b: v.core.FD_CLR(v.s, b, abi="x86"),
        "FD_ZERO": lambda v, b: v.core.FD_ZERO(b, abi="x86"),
    }.items()
]
ROWS += ctor_rows("FdSet(capacity)", lambda v, x: v.core.FdSet(capacity=x),
                  {**BAD_INTS, "0": 0}, Raises(ValueError), not_an_int("FdSet", "capacity"))
ROWS += [
    Row("HandleTable(positional)", lambda v, x: v.core.HandleTable(x), const(4), Raises(TypeError)),
    Row("HandleTable(max_handles=2**24)", lambda v, x: v.core.HandleTable(max_handles=x),
        const(2**24), Returns(ANY)),
    Row("UpcallTable(table,max_handles)", lambda v, x: ws2core.UpcallTable(v.table, max_handles=x),
        const(4), Raises(TypeError)),
    Row("Ref(two)", lambda v, x: v.core.Ref(x, x), const(1), Raises(TypeError)),
    Row("Ref(keyword)", lambda v, x: v.core.Ref(x=x), const(1), Raises(TypeError)),
    Row("Ref.other_attribute", lambda v, x: setattr(v.core.Ref(), "other", x), const(1),
        Raises(AttributeError)),
]
ROWS += [Row(f"UpcallTable(table={label})", lambda v, x: ws2core.UpcallTable(x), const(value), Raises(TypeError))
         for label, value in {**WRONG_TYPES, "int": 4, "FdSet": ws2core.FdSet()}.items() if value is not None]
ROWS += [Row(f"HotUpcalls(table={label})", lambda v, x: v.core.HotUpcalls(x), const(value), Raises(TypeError))
         for label, value in {**WRONG_TYPES, "int": 4}.items()]


# --- batches
def raising_iterable(v: Env) -> Iterator[object]:
    yield OBJ
    yield None
    raise RuntimeError("the iterable fails part-way")


def socket_entry(function: str, i: int, given: str) -> Raises:
    """A batch names the entry that is no int by its position."""
    return Raises(TypeError, f"{function}() argument 'handles[{i}]' must be an int (a SOCKET), not {given}")


BATCH_CALLS: dict[str, Callable[[Env, Any], object]] = {
    "create_sockets": lambda v, x: v.table.create_sockets(1, x),
    "contexts": lambda v, x: v.table.contexts(x),
    "close_sockets": lambda v, x: v.table.close_sockets(x),
    "FdSet.contains_each": lambda v, x: v.fds.contains_each(x),
    "FdSet": lambda v, x: v.core.FdSet(x),
    "wait": lambda v, x: v.table.wait(x, timeout=0),
    "WSAWaitForMultipleEvents": lambda v, x: v.up.WSAWaitForMultipleEvents(1, x, False, 0, False),
}
ROWS += [Row(f"{name}(iterable={label})", call, const(value), Raises(TypeError))
         for name, call in BATCH_CALLS.items() for label, value in NOT_ITERABLE.items()]
ROWS += [
    Row("create_sockets(raises part-way)", BATCH_CALLS["create_sockets"], raising_iterable,
        Raises(RuntimeError)),
    Row("create_sockets(more than fit)", BATCH_CALLS["create_sockets"],
        const([None] * (MAX_HANDLES - 3)), Winsock(WSAENOBUFS)),
    Row("create_sockets(far more than fit)", BATCH_CALLS["create_sockets"],
        const(range(10_000)), Winsock(WSAENOBUFS)),
    Row("contexts(socket,str)", BATCH_CALLS["contexts"], lambda v: [v.s, "x"],
        socket_entry("HandleTable.contexts", 1, "str")),
    Row("contexts(array d)", BATCH_CALLS["contexts"], lambda v: array("d", [float(v.s)]),
        socket_entry("HandleTable.contexts", 0, "float")),
    Row("contexts(array Q max)", BATCH_CALLS["contexts"], lambda v: array("Q", [v.s, 2**64 - 1]), NOTSOCK),
    Row("contexts(array q -1)", BATCH_CALLS["contexts"], lambda v: array("q", [v.s, -1]), NOTSOCK),
    Row("contexts(socket,event)", BATCH_CALLS["contexts"], lambda v: [v.s, v.e], NOTSOCK),
    Row("contexts(iterable=str)", BATCH_CALLS["contexts"], const("48"),
        socket_entry("HandleTable.contexts", 0, "str")),
    # a wrong type anywhere: nothing is closed, not even the live socket before it
    Row("close_sockets(socket,str)", BATCH_CALLS["close_sockets"], lambda v: [v.s, "x"],
        socket_entry("HandleTable.close_sockets", 1, "str")),
    Row("close_sockets(socket,None)", BATCH_CALLS["close_sockets"], lambda v: [v.s, None],
        socket_entry("HandleTable.close_sockets", 1, "NoneType")),
    Row("close_sockets(socket,float)", BATCH_CALLS["close_sockets"], lambda v: [v.s, 4.0],
        socket_entry("HandleTable.close_sockets", 1, "float")),
    Row("close_sockets(array d)", BATCH_CALLS["close_sockets"], lambda v: array("d", [float(v.s)]),
        socket_entry("HandleTable.close_sockets", 0, "float")),
    Row("close_sockets(dead,events)", lambda v, x: v.table.close_sockets(x) == x,
        lambda v: [v.closed_s, v.e, v.e_set, v.closed_e, -1, 2**100, v.s + 2**64], Returns(True)),
    Row("close_sockets(array Q max)", BATCH_CALLS["close_sockets"], const(array("Q", [2**64 - 1])),
        Returns([2**64 - 1])),
    Row("FdSet.contains_each(iterable=str)", BATCH_CALLS["FdSet.contains_each"], const("48"),
        socket_entry("FdSet.contains_each", 0, "str")),
    Row("FdSet.contains_each(array d)", BATCH_CALLS["FdSet.contains_each"], const(array("d", [4.0])),
        socket_entry("FdSet.contains_each", 0, "float")),
    Row("FdSet(iterable=str)", BATCH_CALLS["FdSet"], const("48"),
        socket_entry("FdSet", 0, "str")),
    # the ValueError of an earlier handle comes first, as add() one by one would raise it
    Row("FdSet(2**64,str)", BATCH_CALLS["FdSet"], const([4, 2**64, "x"]), Raises(ValueError)),
    Row("FdSet(str,2**64)", BATCH_CALLS["FdSet"], const([4, "x", 2**64]),
        socket_entry("FdSet", 1, "str")),
    Row("FdSet(more than capacity)", lambda v, x: v.core.FdSet(x, capacity=2), const([4, 8, 12]),
        Raises(ValueError)),
    # waits: the count, then each handle, then (wait-all) an event named twice
    Row("wait([])", BATCH_CALLS["wait"], const([]), Winsock(WSA_INVALID_PARAMETER)),
    Row("wait(65 events)", BATCH_CALLS["wait"], lambda v: [v.e_set] * 65, Winsock(WSA_INVALID_PARAMETER)),
    Row("wait(65 dead)", BATCH_CALLS["wait"], lambda v: [v.closed_e] * 65, Winsock(WSA_INVALID_PARAMETER)),
    Row("wait(iterable=str)", BATCH_CALLS["wait"], const("48"),
        Raises(TypeError, "HandleTable.wait() argument 'events[0]' must be an int (a WSAEVENT), not str")),
    Row("wait(all,twice)", lambda v, x: v.table.wait(x, wait_all=True, timeout=0), lambda v: [v.e_set, v.e_set],
        Winsock(WSA_INVALID_PARAMETER)),
    Row("wait(all,twice tagged)", lambda v, x: v.table.wait(x, wait_all=True, timeout=0),
        lambda v: [v.e_set, v.e_set | 3], Winsock(WSA_INVALID_PARAMETER)),
    Row("wait(all,dead before twice)", lambda v, x: v.table.wait(x, wait_all=True, timeout=0),
        lambda v: [v.e_set, v.e_set, v.closed_e], BADHANDLE),
]
TIMEOUTS: dict[str, tuple[object, type[BaseException]]] = {
    "-1": (-1, ValueError), "-0.5": (-0.5, ValueError), "nan": (float("nan"), ValueError),
    "-inf": (float("-inf"), ValueError), "str": ("1", TypeError), "bytes": (b"1", TypeError),
    "list": ([1], TypeError), "object": (OBJ, TypeError), "True": (True, TypeError),
}
ROWS += [Row(f"wait(timeout={label})", lambda v, x: v.table.wait([v.e], timeout=x), const(value), Raises(exc))
         for label, (value, exc) in TIMEOUTS.items()]

# WSAWaitForMultipleEvents: cEvents outside 1..64 is WSA_INVALID_PARAMETER (before the array
# is read); dwTimeout outside DWORD and an array shorter than cEvents are ValueErrors
ROWS += [Row(f"WSAWaitForMultipleEvents(cEvents={label})",
             lambda v, x: v.up.WSAWaitForMultipleEvents(x, [v.e_set], False, 0, False), const(value),
             not_an_int("WSAWaitForMultipleEvents", "cEvents", "a DWORD"))
         for label, value in WRONG_TYPES.items()]
ROWS += [Row(f"WSAWaitForMultipleEvents(cEvents={label})",
             lambda v, x: v.up.WSAWaitForMultipleEvents(x, [v.e_set], False, 0, False), const(value),
             WaitFailed(WSA_INVALID_PARAMETER))
         for label, value in {**BAD_INTS, "0": 0, "65": 65}.items()]
ROWS += [Row(f"WSAWaitForMultipleEvents(dwTimeout={label})",
             lambda v, x: v.up.WSAWaitForMultipleEvents(1, [v.e_set], False, x, False), const(value),
             not_an_int("WSAWaitForMultipleEvents", "dwTimeout", "a DWORD"))
         for label, value in WRONG_TYPES.items()]
ROWS += [Row(f"WSAWaitForMultipleEvents(dwTimeout={label})",
             lambda v, x: v.up.WSAWaitForMultipleEvents(1, [v.e_set], False, x, False), const(value),
             Raises(ValueError))
         for label, value in BAD_INTS.items() if value != 2**32 - 1]
ROWS += [
    Row("WSAWaitForMultipleEvents(short array)",
        lambda v, x: v.up.WSAWaitForMultipleEvents(3, x, False, 0, False), lambda v: [v.e_set, v.e],
        Raises(ValueError)),
    Row("WSAWaitForMultipleEvents(empty array)",
        lambda v, x: v.up.WSAWaitForMultipleEvents(1, x, False, 0, False), const([]), Raises(ValueError)),
    Row("WSAWaitForMultipleEvents(65 in array,cEvents=65)",
        lambda v, x: v.up.WSAWaitForMultipleEvents(65, x, False, 0, False), lambda v: [v.e_set] * 65,
        WaitFailed(WSA_INVALID_PARAMETER)),
    Row("WSAWaitForMultipleEvents(all,twice)",
        lambda v, x: v.up.WSAWaitForMultipleEvents(2, x, True, 0, False), lambda v: [v.e_set, v.e_set],
        WaitFailed(WSA_INVALID_PARAMETER)),
    Row("WSAWaitForMultipleEvents(dead past cEvents)",  # C reads cEvents entries, no more
        lambda v, x: v.up.WSAWaitForMultipleEvents(1, x, False, 0, False), lambda v: [v.e_set, v.closed_e],
        Returns(ws2core.WSA_WAIT_EVENT_0)),
    Row("WSAWaitForMultipleEvents(str past cEvents)",  # never read, so never converted
        lambda v, x: v.up.WSAWaitForMultipleEvents(1, x, False, 0, False), lambda v: [v.e_set, "x"],
        Returns(ws2core.WSA_WAIT_EVENT_0)),
    # the entries are converted in order: an __index__ of its own that fails first keeps its error
    Row("WSAWaitForMultipleEvents(failing __index__,str)",
        lambda v, x: v.up.WSAWaitForMultipleEvents(3, x, False, 0, False),
        lambda v: [v.e_set, FailingIndex(), "x"], Raises(TypeError, FailingIndex.MESSAGE)),
    Row("WSAWaitForMultipleEvents(__index__,str)",
        lambda v, x: v.up.WSAWaitForMultipleEvents(3, x, False, 0, False),
        lambda v: [Index(v.e_set), None, "x"],
        Raises(TypeError, "WSAWaitForMultipleEvents() argument 'lphEvents[2]' must be an int "
                          "(a WSAEVENT), not str")),
]
ROWS += [Row(f"WSASetLastError({label})", lambda v, x: v.up.WSASetLastError(x), const(value),
             not_an_int("WSASetLastError", "iError"))
         for label, value in WRONG_TYPES.items()]

# --- an __index__ of its own that fails raises its own error, wherever a handle or an int goes
ROWS += [Row(f"{name}(failing __index__)", call, lambda v: FailingIndex(), Raises(TypeError, FailingIndex.MESSAGE))
         for name, call in {
             "context": lambda v, x: v.table.context(x),
             "set_event": lambda v, x: v.table.set_event(x),
             "kind": lambda v, x: v.table.kind(x),
             "in": lambda v, x: x in v.table,
             "create_socket": lambda v, x: v.table.create_socket(x),
             "contexts": lambda v, x: v.table.contexts([v.s, x, "x"]),
             "wait": lambda v, x: v.table.wait([v.e, x, "x"], timeout=0),
             "WPUCreateSocketHandle": lambda v, x: v.up.WPUCreateSocketHandle(x, OBJ, v.err),
             "WPUQuerySocketHandleContext": lambda v, x: v.up.WPUQuerySocketHandleContext(x, v.core.Ref(), v.err),
             "WPUSetEvent": lambda v, x: v.up.WPUSetEvent(x, v.err),
             "WPUFDIsSet": lambda v, x: v.up.WPUFDIsSet(x, v.fds),
             "FdSet": lambda v, x: v.core.FdSet([v.s, x, "x"]),
             "FdSet.add": lambda v, x: v.fds.add(x),
             "FdSet.contains_each": lambda v, x: v.fds.contains_each([v.s, x, "x"]),
             "FdSet(capacity)": lambda v, x: v.core.FdSet(capacity=x),
             "HandleTable(max_handles)": lambda v, x: v.core.HandleTable(max_handles=x),
             "WSAWaitForMultipleEvents(dwTimeout)":
                 lambda v, x: v.up.WSAWaitForMultipleEvents(1, [v.e_set], False, x, False),
         }.items()]


class CFdSet2(ctypes.Structure):
    """A two-entry x64 fd_set as a C program declares it."""

    _fields_ = [("fd_count", ctypes.c_uint32), ("fd_array", ctypes.c_uint64 * 2)]


# --- FdSet(handles) takes SOCKET values: the bytes of an fd_set (any buffer of bytes) would be
# read as one SOCKET per byte, so they are refused, pointing to FdSet.from_buffer
FD_SET_BYTES = (
    "FdSet() argument 'handles' must be an iterable of SOCKET values, not {type}: use "
    "FdSet.from_buffer(...) for the bytes of an fd_set"
)
ROWS += [Row(f"FdSet(handles={label})", BATCH_CALLS["FdSet"], make, Raises(TypeError, FD_SET_BYTES))
         for label, make in {
             "bytes": lambda v: bytes(v.fds),
             "empty bytes": const(b""),
             "bytearray": lambda v: bytearray(bytes(v.fds)),
             "FdSet-view": lambda v: memoryview(v.fds),
             "ctypes fd_set": lambda v: CFdSet2.from_buffer_copy(bytes(v.fds)),
         }.items()]

IDS = [row.id for row in ROWS]
assert len(set(IDS)) == len(IDS), sorted({i for i in IDS if IDS.count(i) > 1})


# ------------------------------------------------------------------------------ the test


def buffer_bytes(obj: object) -> bytes | None:
    """The bytes of a buffer argument (to check that a failed call left it alone), or None."""
    if isinstance(obj, (str, int, float)) or obj is None:
        return None
    try:
        with memoryview(obj) as view:  # type: ignore[arg-type]
            return view.tobytes()
    except TypeError:
        return None


@pytest.mark.parametrize("row", ROWS, ids=IDS)
def test_bad_input(env: Env, row: Row) -> None:
    arg = row.arg(env)
    before = snapshot(env.table)
    arg_before = buffer_bytes(arg)
    fds_before = bytes(env.fds)
    expect = row.expect
    if isinstance(expect, Raises):
        with pytest.raises(expect.exc) as raised:
            row.call(env, arg)
        if expect.message is not None:
            assert str(raised.value) == expect.message.format(type=type(arg).__name__)
    elif isinstance(expect, Winsock):
        with pytest.raises(ws2core.WinsockError) as excinfo:
            row.call(env, arg)
        assert type(excinfo.value) is ws2core.WinsockError
        assert excinfo.value.winerror == expect.code, ws2core.errorname(excinfo.value.winerror)
    else:
        result = row.call(env, arg)
        if isinstance(expect, Upcall):
            assert (result, env.err.value) == (expect.result, expect.code)
        elif isinstance(expect, WaitFailed):
            assert (result, env.up.WSAGetLastError()) == (WSA_WAIT_FAILED, expect.code)
        elif expect.value is not ANY:
            assert result == expect.value
    if not isinstance(expect, Upcall):
        assert env.err.value == SENTINEL  # lpErrno is written only with a failure value
    if not isinstance(expect, WaitFailed):
        assert env.up.WSAGetLastError() == SENTINEL
    if isinstance(expect, (Raises, Winsock)):  # a failed call changes no buffer
        assert buffer_bytes(arg) == arg_before
        assert bytes(env.fds) == fds_before
    assert snapshot(env.table) == before
