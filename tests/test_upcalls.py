"""ws2core.UpcallTable, the drop-in WSPUPCALLTABLE (DESIGN.md §1 "The eight upcalls", §2).

Covers every upcall's success and failure with the exact Windows results and error codes,
out-parameters (lpErrno written only on failure, lpContext only on success, any object with a
``.value``; one without is a TypeError that changes nothing), the ctypes lpContext rules, int
and object contexts, the ``lpWPU…`` field-name aliases, positional-only calls, the seven
stubs, the constructor, ``errorname`` and the constants' Windows values (SPEC.md §1).
"""

from __future__ import annotations

import ctypes
import inspect
import random
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ws2core
from ws2core import (
    FALSE,
    INVALID_SOCKET,
    SOCKET_ERROR,
    TRUE,
    WSA_INVALID_EVENT,
    WSA_INVALID_HANDLE,
    WSA_NOT_ENOUGH_MEMORY,
    WSAEFAULT,
    WSAEINVAL,
    WSAENOBUFS,
    WSAENOTSOCK,
    UpcallTable,
    errorname,
)
from ws2core import _implementation, constants
from ws2core.structs import WSATHREADID
from ws2core.upcalls import UPCALL_FIELDS

SENTINEL = 12345  # pre-set in every out-parameter, so an unwanted write shows


class Holder:
    """An arbitrary out-parameter: anything with a writable ``.value`` will do."""

    def __init__(self, value: Any = None) -> None:
        self.value = value


OUT_PARAMETERS = ["c_int", "c_size_t", "c_uint64", "c_void_p", "core_Ref", "ws2core_Ref", "holder"]


@pytest.fixture(params=OUT_PARAMETERS)
def make_out(request: pytest.FixtureRequest, Ref: Any) -> Callable[[Any], Any]:
    """A factory for one kind of out-parameter, called with its initial value."""
    return {  # type: ignore[no-any-return]
        "c_int": ctypes.c_int,
        "c_size_t": ctypes.c_size_t,
        "c_uint64": ctypes.c_uint64,
        "c_void_p": ctypes.c_void_p,
        "core_Ref": Ref,
        "ws2core_Ref": ws2core.Ref,
        "holder": Holder,
    }[request.param]


def snapshot(table: Any) -> tuple[Any, ...]:
    """len, handles in order, and each handle's kind and context or state."""
    handles = list(table)
    detail = [
        (h, table.context(h), table.catalog_entry(h))
        if table.kind(h) == "socket"
        else (h, table.event_is_set(h))
        for h in handles
    ]
    return len(table), handles, detail


# Values that are never a live handle in the tests below (fresh tables hand out small
# multiples of 4; see test_handles.py for closed handles and near misses).
UNKNOWN = {
    "zero": 0,
    "minus4": -4,
    "invalid_socket": INVALID_SOCKET,
    "2**64": 2**64,
    "2**100": 2**100,
    "never_made": 2**32 - 4,
}


# ----------------------------------------------------------------- WPUCreateSocketHandle


def test_create_socket_handle(upcalls: Any, table: Any, make_out: Any) -> None:
    err = make_out(SENTINEL)
    ctx = object()
    s = upcalls.WPUCreateSocketHandle(7, ctx, err)
    assert type(s) is int
    assert s not in (INVALID_SOCKET, 0)
    assert err.value == SENTINEL  # lpErrno untouched on success
    assert table.kind(s) == "socket"
    assert table.context(s) is ctx
    assert table.catalog_entry(s) == 7


def test_create_socket_handle_on_a_full_table(core: Any, make_out: Any) -> None:
    up = UpcallTable(core.HandleTable(max_handles=2))
    err = make_out(SENTINEL)
    up.WPUCreateSocketHandle(1, "a", err)
    up.WPUCreateEvent(err)  # sockets and events count together
    before = snapshot(up.table)
    assert up.WPUCreateSocketHandle(1, object(), err) == INVALID_SOCKET
    assert err.value == WSAENOBUFS
    assert snapshot(up.table) == before


@pytest.mark.parametrize("catalog_entry_id", [-1, 2**32, 2**64])
def test_create_socket_handle_catalog_entry_outside_dword(
    upcalls: Any, table: Any, catalog_entry_id: int
) -> None:
    err = ws2core.Ref(SENTINEL)
    with pytest.raises(ValueError):
        upcalls.WPUCreateSocketHandle(catalog_entry_id, object(), err)
    assert err.value == SENTINEL
    assert len(table) == 0


@pytest.mark.parametrize("catalog_entry_id", ["1", 1.0, None])
def test_create_socket_handle_catalog_entry_of_another_type(
    upcalls: Any, table: Any, catalog_entry_id: Any
) -> None:
    err = ws2core.Ref(SENTINEL)
    with pytest.raises(TypeError):
        upcalls.WPUCreateSocketHandle(catalog_entry_id, object(), err)
    assert err.value == SENTINEL
    assert len(table) == 0


# ---------------------------------------------------------- WPUQuerySocketHandleContext


def test_query_socket_handle_context_int(upcalls: Any, make_out: Any) -> None:
    err = make_out(SENTINEL)
    context_out = make_out(SENTINEL)
    ctx = 0x12345678  # fits every out-parameter kind, c_int included
    s = upcalls.WPUCreateSocketHandle(1, ctx, err)
    assert upcalls.WPUQuerySocketHandleContext(s, context_out, err) == 0
    assert context_out.value == ctx
    assert err.value == SENTINEL


@pytest.mark.parametrize("ctx", [0, 1, 2**63, 2**64 - 1, 2**64, 2**100, -1, -(2**70)], ids=repr)
def test_query_socket_handle_context_any_int_through_a_ref(upcalls: Any, Ref: Any, ctx: int) -> None:
    err = Ref(SENTINEL)
    context_out = Ref(SENTINEL)
    s = upcalls.WPUCreateSocketHandle(1, ctx, err)
    assert upcalls.WPUQuerySocketHandleContext(s, context_out, err) == 0
    assert context_out.value == ctx
    assert type(context_out.value) is int


@pytest.mark.parametrize("out_kind", ["core_Ref", "ws2core_Ref", "holder", "py_object"])
def test_query_socket_handle_context_object(upcalls: Any, Ref: Any, out_kind: str) -> None:
    make = {"core_Ref": Ref, "ws2core_Ref": ws2core.Ref, "holder": Holder, "py_object": ctypes.py_object}
    ctx = {"provider": "state"}
    err = Ref(SENTINEL)
    context_out = make[out_kind](SENTINEL)
    s = upcalls.WPUCreateSocketHandle(1, ctx, err)
    assert upcalls.WPUQuerySocketHandleContext(s, context_out, err) == 0
    assert context_out.value is ctx
    assert err.value == SENTINEL


@pytest.mark.parametrize("value", list(UNKNOWN.values()), ids=list(UNKNOWN))
def test_query_socket_handle_context_unknown(upcalls: Any, make_out: Any, value: int) -> None:
    err = make_out(SENTINEL)
    context_out = make_out(SENTINEL)
    upcalls.WPUCreateSocketHandle(1, object(), err)
    assert upcalls.WPUQuerySocketHandleContext(value, context_out, err) == SOCKET_ERROR
    assert err.value == WSAENOTSOCK
    assert context_out.value == SENTINEL  # lpContext untouched on failure


def test_query_socket_handle_context_closed_socket(upcalls: Any, Ref: Any) -> None:
    err, context_out = Ref(SENTINEL), Ref(SENTINEL)
    s = upcalls.WPUCreateSocketHandle(1, object(), err)
    upcalls.WPUCloseSocketHandle(s, err)
    assert upcalls.WPUQuerySocketHandleContext(s, context_out, err) == SOCKET_ERROR
    assert (err.value, context_out.value) == (WSAENOTSOCK, SENTINEL)


@pytest.mark.parametrize("tag", [0, 1, 3])
def test_query_socket_handle_context_of_an_event(upcalls: Any, Ref: Any, tag: int) -> None:
    err, context_out = Ref(SENTINEL), Ref(SENTINEL)
    e = upcalls.WPUCreateEvent(err)
    assert upcalls.WPUQuerySocketHandleContext(e | tag, context_out, err) == SOCKET_ERROR
    assert (err.value, context_out.value) == (WSAENOTSOCK, SENTINEL)


def test_query_socket_handle_context_with_tag_bits(upcalls: Any, Ref: Any) -> None:
    err, context_out = Ref(SENTINEL), Ref(SENTINEL)
    s = upcalls.WPUCreateSocketHandle(1, object(), err)
    assert upcalls.WPUQuerySocketHandleContext(s | 1, context_out, err) == SOCKET_ERROR
    assert (err.value, context_out.value) == (WSAENOTSOCK, SENTINEL)


# ------------------------------------------------------------ ctypes lpContext rules

OBJECT = object()  # stands for "a context that is not an int"

# (ctypes type, context) pairs whose context reads back exactly.
FITS = [
    (ctypes.c_int, 2**31 - 1),
    (ctypes.c_int, -(2**31)),
    (ctypes.c_uint, 2**32 - 1),
    (ctypes.c_ubyte, 255),
    (ctypes.c_int64, -(2**63)),
    (ctypes.c_uint64, 2**64 - 1),
    (ctypes.c_size_t, 2**64 - 1),
    (ctypes.c_size_t, 0),
    (ctypes.c_ulonglong, 2**64 - 1),  # the core writes 64-bit unsigned types on a fast path
    (ctypes.c_ulonglong, 2**40),
    (ctypes.c_void_p, 2**64 - 1),
    (ctypes.c_void_p, 5),
    (ctypes.c_void_p, None),  # a NULL c_void_p reads back as None: the None context round-trips
    (ctypes.py_object, OBJECT),  # py_object holds anything
    (ctypes.py_object, 2**100),
    (ctypes.py_object, None),
]

# (ctypes type, context) pairs that would change the context: TypeError, nothing written.
MISFITS = [
    (ctypes.c_int, 2**31),  # truncation
    (ctypes.c_int, -(2**31) - 1),
    (ctypes.c_uint, -1),  # sign
    (ctypes.c_uint, 2**32),
    (ctypes.c_ubyte, 256),
    (ctypes.c_int64, 2**63),
    (ctypes.c_size_t, -1),
    (ctypes.c_size_t, 2**64),
    (ctypes.c_size_t, OBJECT),  # a non-int context in a ctypes int
    (ctypes.c_size_t, None),
    (ctypes.c_ulonglong, -(2**40)),
    (ctypes.c_ulonglong, 2**64),
    (ctypes.c_uint64, "text"),
    (ctypes.c_int, "text"),
    (ctypes.c_void_p, -1),
    (ctypes.c_void_p, 2**64),
    (ctypes.c_void_p, OBJECT),
    (ctypes.c_double, 5),  # non-integer ctypes types, even for an int context
    (ctypes.c_float, 5),
    (ctypes.c_char_p, 5),
    (ctypes.c_wchar_p, 5),
]


# Every integer type ctypes names (aliases once), with the range it holds: what the core's C
# check of a context's fit (its fast path for these exact types) must agree with.
CTYPES_INTEGERS = sorted(
    {kind for name, kind in vars(ctypes).items()
     if name.startswith("c_") and isinstance(kind, type) and issubclass(kind, ctypes._SimpleCData)
     and getattr(kind, "_type_", None) in ("b", "B", "h", "H", "i", "I", "l", "L", "q", "Q", "P")},
    key=lambda kind: kind.__name__)


def ctypes_range(kind: type) -> tuple[int, int]:
    bits = 8 * ctypes.sizeof(kind)
    if kind._type_ in "bhilq":  # type: ignore[attr-defined]
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def _edges() -> list[int]:
    edges = {0, 1, -1}
    for bits in (8, 16, 32, 64):
        for edge in (1 << bits, 1 << (bits - 1)):
            edges.update((edge - 1, edge, edge + 1, -edge, -edge - 1, -edge + 1))
    return sorted(edges)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=300)
@given(kind=st.sampled_from(CTYPES_INTEGERS),
       context=st.one_of(st.sampled_from(_edges()), st.integers(-(2**70), 2**70)))
def test_a_ctypes_integer_holds_exactly_the_contexts_in_its_range(
        upcalls: Any, Ref: Any, kind: type, context: int) -> None:
    err = Ref(SENTINEL)
    s = upcalls.WPUCreateSocketHandle(1, context, err)
    out = fresh_out(kind)
    before = bytes(out)
    low, high = ctypes_range(kind)
    if low <= context <= high:
        assert upcalls.WPUQuerySocketHandleContext(s, out, err) == 0
        assert (out.value or 0) == context   # a NULL c_void_p reads back as None
    else:
        with pytest.raises(TypeError, match="does not fit lpContext"):
            upcalls.WPUQuerySocketHandleContext(s, out, err)
        assert bytes(out) == before
    assert err.value == SENTINEL
    upcalls.WPUCloseSocketHandle(s, err)


@pytest.mark.parametrize("kind", CTYPES_INTEGERS, ids=lambda kind: kind.__name__)
def test_a_ctypes_lpcontext_over_foreign_memory_gets_exactly_its_bytes(
        upcalls: Any, Ref: Any, kind: type) -> None:
    """The Cython core writes a ctypes integer's bytes itself (not through ctypes' setter): into
    the memory the instance views, the type's width and no more, as the setter would."""
    width = ctypes.sizeof(kind)
    low, high = ctypes_range(kind)
    memory = bytearray(b"\xa5" * (3 * width))
    out = kind.from_buffer(memory, width)          # the middle third
    err = Ref(SENTINEL)
    for context in (high, low + 1, 0x5A & high):
        s = upcalls.WPUCreateSocketHandle(1, context, err)
        assert upcalls.WPUQuerySocketHandleContext(s, out, err) == 0
        assert bytes(memory) == b"\xa5" * width + bytes(kind(context)) + b"\xa5" * width
        upcalls.WPUCloseSocketHandle(s, err)
    assert err.value == SENTINEL


def test_a_subclass_of_a_ctypes_integer_is_written_through_its_own_setter(
        upcalls: Any, Ref: Any) -> None:
    """Only ctypes' own classes are written directly: a subclass may define .value."""
    class Recording(ctypes.c_size_t):
        seen: list[int] = []

        @property  # type: ignore[override]
        def value(self) -> int:
            return int(ctypes.c_size_t.value.__get__(self))  # type: ignore[attr-defined]

        @value.setter
        def value(self, new: int) -> None:
            self.seen.append(new)
            ctypes.c_size_t.value.__set__(self, new)  # type: ignore[attr-defined]

    err = Ref(SENTINEL)
    s = upcalls.WPUCreateSocketHandle(1, 4242, err)
    out = Recording(0)
    assert upcalls.WPUQuerySocketHandleContext(s, out, err) == 0
    assert Recording.seen == [4242] and out.value == 4242


@pytest.mark.parametrize("kind", CTYPES_INTEGERS, ids=lambda kind: kind.__name__)
def test_every_ctypes_integer_is_an_lperrno(upcalls: Any, Ref: Any, kind: type) -> None:
    err = kind(0)
    assert upcalls.WPUQuerySocketHandleContext(4, Ref(), err) == constants.SOCKET_ERROR
    assert err.value == constants.WSAENOTSOCK & ((1 << 8 * ctypes.sizeof(kind)) - 1)
    ok = kind(SENTINEL & 0x7F)
    s = upcalls.WPUCreateSocketHandle(1, "context", ok)
    assert upcalls.WPUQuerySocketHandleContext(s, Ref(), ok) == 0
    assert ok.value == SENTINEL & 0x7F     # written only on failure


def ctypes_id(pair: tuple[type, Any]) -> str:
    ctype, ctx = pair
    shown = "object" if ctx is OBJECT else repr(ctx)
    return f"{ctype.__name__}-{shown}"


def fresh_out(ctype: type) -> Any:
    """An instance of ``ctype`` holding a recognisable value (so any write shows in its bytes)."""
    initial = {ctypes.c_double: 77.0, ctypes.c_float: 77.0, ctypes.c_char_p: b"keep",
               ctypes.c_wchar_p: "keep", ctypes.py_object: OBJECT}
    return ctype(initial.get(ctype, 77))


@pytest.mark.parametrize("ctype, ctx", FITS, ids=[ctypes_id(p) for p in FITS])
def test_ctypes_context_that_fits_round_trips(upcalls: Any, Ref: Any, ctype: type, ctx: Any) -> None:
    err = Ref(SENTINEL)
    context_out = fresh_out(ctype)
    s = upcalls.WPUCreateSocketHandle(1, ctx, err)
    assert upcalls.WPUQuerySocketHandleContext(s, context_out, err) == 0
    if ctx is None or ctx is OBJECT:
        assert context_out.value is ctx
    else:
        assert context_out.value == ctx
    assert err.value == SENTINEL


@pytest.mark.parametrize("ctype, ctx", MISFITS, ids=[ctypes_id(p) for p in MISFITS])
def test_ctypes_context_that_would_change_is_a_type_error(
    upcalls: Any, table: Any, Ref: Any, ctype: type, ctx: Any
) -> None:
    err = Ref(SENTINEL)
    context_out = fresh_out(ctype)
    raw_before = bytes(context_out)
    s = upcalls.WPUCreateSocketHandle(1, ctx, err)
    before = snapshot(table)
    with pytest.raises(TypeError):
        upcalls.WPUQuerySocketHandleContext(s, context_out, err)
    assert bytes(context_out) == raw_before  # raised before anything was written
    assert err.value == SENTINEL
    assert snapshot(table) == before
    assert table.context(s) is ctx


# A c_size_t reports itself by its class, which on LP64 hosts is c_ulong: the message must
# describe lpContext so that a c_size_t user recognises it, and not advise c_size_t to them.
@pytest.mark.parametrize("ctx", [-1, 2**64, OBJECT, None], ids=["-1", "2**64", "object", "None"])
def test_a_c_size_t_lpcontext_is_named_as_one(upcalls: Any, Ref: Any, ctx: Any) -> None:
    err = Ref(SENTINEL)
    s = upcalls.WPUCreateSocketHandle(1, ctx, err)
    with pytest.raises(TypeError) as raised:
        upcalls.WPUQuerySocketHandleContext(s, ctypes.c_size_t(), err)
    message = str(raised.value)
    described = re.search(
        r"lpContext, a ctypes\.(\w+) \((unsigned \d+-bit)(?:; the same type as ([^)]*))?\)", message)
    assert described, message
    assert described[2] == f"unsigned {8 * ctypes.sizeof(ctypes.c_size_t)}-bit"
    assert described[1] == "c_size_t" or "c_size_t" in (described[3] or ""), message
    assert "use ctypes.c_size_t" not in message


@pytest.mark.parametrize(
    "ctype, ctx, expected",
    [
        (ctypes.c_uint32, -1, "the context -1 does not fit lpContext, a ctypes.c_uint (unsigned "
         "32-bit; the same type as c_uint32), which holds 0..4294967295; no DWORD_PTR "
         "(0..2**64-1) holds it either: use ws2core.Ref for such a context"),
        (ctypes.c_int8, 2**40, "the context 1099511627776 does not fit lpContext, a ctypes.c_byte "
         "(signed 8-bit; the same type as c_int8), which holds -128..127; use ctypes.c_size_t or "
         "ctypes.c_uint64 for a DWORD_PTR"),
        (ctypes.c_float, 5, "lpContext is a ctypes.c_float, which does not hold an integer; use "
         "ctypes.c_size_t or ctypes.c_uint64 for a DWORD_PTR"),
    ],
    ids=["c_uint32,-1", "c_int8,2**40", "c_float,5"],
)
def test_ctypes_misfit_messages(upcalls: Any, Ref: Any, ctype: type, ctx: Any, expected: str) -> None:
    err = Ref(SENTINEL)
    s = upcalls.WPUCreateSocketHandle(1, ctx, err)
    with pytest.raises(TypeError) as raised:
        upcalls.WPUQuerySocketHandleContext(s, ctype(), err)
    assert str(raised.value) == expected


def test_a_signed_64_bit_lpcontext_is_advised_an_unsigned_one(upcalls: Any, Ref: Any) -> None:
    err = Ref(SENTINEL)
    s = upcalls.WPUCreateSocketHandle(1, 2**63, err)
    with pytest.raises(TypeError) as raised:
        upcalls.WPUQuerySocketHandleContext(s, ctypes.c_int64(), err)
    message = str(raised.value)
    assert "(signed 64-bit; the same type as " in message and "c_int64" in message
    assert message.endswith(
        "which holds -9223372036854775808..9223372036854775807; use ctypes.c_size_t or "
        "ctypes.c_uint64 for a DWORD_PTR")


@pytest.mark.parametrize("ctype", [ctypes.c_int, ctypes.c_ubyte])
def test_ctypes_context_is_checked_only_after_the_lookup(
    upcalls: Any, Ref: Any, ctype: type
) -> None:
    # An unknown socket has no context to misfit: the Windows error, not a TypeError.
    err = Ref(SENTINEL)
    upcalls.WPUCreateSocketHandle(1, 2**40, err)  # a live socket whose context would misfit
    context_out = fresh_out(ctype)
    raw_before = bytes(context_out)
    assert upcalls.WPUQuerySocketHandleContext(4096, context_out, err) == SOCKET_ERROR
    assert err.value == WSAENOTSOCK
    assert bytes(context_out) == raw_before


# ---------------------------------------------------------------- WPUCloseSocketHandle


def test_close_socket_handle(upcalls: Any, table: Any, make_out: Any) -> None:
    err = make_out(SENTINEL)
    s = upcalls.WPUCreateSocketHandle(1, object(), err)
    other = upcalls.WPUCreateSocketHandle(2, object(), err)
    assert upcalls.WPUCloseSocketHandle(s, err) == 0
    assert err.value == SENTINEL
    assert s not in table
    assert list(table) == [other]
    assert upcalls.WPUCloseSocketHandle(s, err) == SOCKET_ERROR  # twice: refused
    assert err.value == WSAENOTSOCK
    assert list(table) == [other]


@pytest.mark.parametrize(
    "value", [*UNKNOWN.values(), "socket|1", "event"], ids=[*UNKNOWN, "socket|1", "event"]
)
def test_close_socket_handle_refuses_what_is_not_a_live_socket(
    upcalls: Any, table: Any, make_out: Any, value: Any
) -> None:
    err = make_out(SENTINEL)
    s = upcalls.WPUCreateSocketHandle(1, object(), err)
    e = upcalls.WPUCreateEvent(err)
    value = {"socket|1": s | 1, "event": e}.get(value, value)
    before = snapshot(table)
    assert upcalls.WPUCloseSocketHandle(value, err) == SOCKET_ERROR
    assert err.value == WSAENOTSOCK
    assert snapshot(table) == before


# -------------------------------------------------------------------------- WPUFDIsSet


def test_fd_is_set(upcalls: Any, FdSet: Any, Ref: Any) -> None:
    err = Ref(SENTINEL)
    a = upcalls.WPUCreateSocketHandle(1, None, err)
    b = upcalls.WPUCreateSocketHandle(1, None, err)
    fds = FdSet([a])
    assert upcalls.WPUFDIsSet(a, fds) == 1
    assert upcalls.WPUFDIsSet(b, fds) == 0
    assert upcalls.WPUFDIsSet(a, FdSet()) == 0
    assert upcalls.WPUFDIsSet(a, ws2core.FdSet([b, a])) == 1


# ---------------------------------------------------------------------- event upcalls


def test_create_event(upcalls: Any, table: Any, make_out: Any) -> None:
    err = make_out(SENTINEL)
    e = upcalls.WPUCreateEvent(err)
    assert type(e) is int
    assert e != WSA_INVALID_EVENT
    assert err.value == SENTINEL
    assert table.kind(e) == "event"
    assert table.event_is_set(e) is False  # manual-reset, created non-signalled


def test_create_event_on_a_full_table(core: Any, make_out: Any) -> None:
    up = UpcallTable(core.HandleTable(max_handles=2))
    err = make_out(SENTINEL)
    up.WPUCreateEvent(err)
    up.WPUCreateSocketHandle(1, None, err)
    before = snapshot(up.table)
    assert up.WPUCreateEvent(err) == WSA_INVALID_EVENT
    assert err.value == WSA_NOT_ENOUGH_MEMORY
    assert snapshot(up.table) == before


def test_set_and_reset_event(upcalls: Any, table: Any, make_out: Any) -> None:
    err = make_out(SENTINEL)
    e = upcalls.WPUCreateEvent(err)
    assert upcalls.WPUSetEvent(e, err) == TRUE
    assert table.event_is_set(e) is True
    assert upcalls.WPUSetEvent(e, err) == TRUE  # already set: still TRUE, no change
    assert table.event_is_set(e) is True
    assert upcalls.WPUResetEvent(e, err) == TRUE
    assert table.event_is_set(e) is False
    assert upcalls.WPUResetEvent(e, err) == TRUE
    assert table.event_is_set(e) is False
    assert err.value == SENTINEL


def test_close_event(upcalls: Any, table: Any, make_out: Any) -> None:
    err = make_out(SENTINEL)
    e = upcalls.WPUCreateEvent(err)
    assert upcalls.WPUCloseEvent(e, err) == TRUE
    assert err.value == SENTINEL
    assert e not in table
    for upcall in (upcalls.WPUSetEvent, upcalls.WPUResetEvent, upcalls.WPUCloseEvent):
        err.value = SENTINEL
        assert upcall(e, err) == FALSE
        assert err.value == WSA_INVALID_HANDLE


@pytest.mark.parametrize("tag", [1, 2, 3])
def test_event_upcalls_ignore_tag_bits(upcalls: Any, table: Any, Ref: Any, tag: int) -> None:
    err = Ref(SENTINEL)
    e = upcalls.WPUCreateEvent(err)
    assert upcalls.WPUSetEvent(e | tag, err) == TRUE
    assert table.event_is_set(e) is True
    assert upcalls.WPUResetEvent(e | tag, err) == TRUE
    assert table.event_is_set(e) is False
    assert upcalls.WPUCloseEvent(e | tag, err) == TRUE
    assert e not in table
    assert err.value == SENTINEL


EVENT_UPCALLS = ["WPUSetEvent", "WPUResetEvent", "WPUCloseEvent"]


@pytest.mark.parametrize(
    "value", [*UNKNOWN.values(), "socket", "socket|1", "closed_event"],
    ids=[*UNKNOWN, "socket", "socket|1", "closed_event"],
)
@pytest.mark.parametrize("name", EVENT_UPCALLS)
def test_event_upcall_refuses_what_is_not_a_live_event(
    upcalls: Any, table: Any, make_out: Any, name: str, value: Any
) -> None:
    err = make_out(SENTINEL)
    s = upcalls.WPUCreateSocketHandle(1, object(), err)
    closed = upcalls.WPUCreateEvent(err)
    upcalls.WPUCloseEvent(closed, err)
    live = upcalls.WPUCreateEvent(err)
    upcalls.WPUSetEvent(live, err)
    value = {"socket": s, "socket|1": s | 1, "closed_event": closed}.get(value, value)
    before = snapshot(table)
    assert getattr(upcalls, name)(value, err) == FALSE
    assert err.value == WSA_INVALID_HANDLE
    assert snapshot(table) == before


def test_close_event_refuses_a_socket(upcalls: Any, table: Any, Ref: Any) -> None:
    err = Ref(SENTINEL)
    ctx = object()
    s = upcalls.WPUCreateSocketHandle(1, ctx, err)
    assert upcalls.WPUCloseEvent(s, err) == FALSE
    assert err.value == WSA_INVALID_HANDLE
    assert table.kind(s) == "socket"
    assert table.context(s) is ctx


# ----------------------------------------------------- out-parameters without .value

NOT_OUT_PARAMETERS = {"None": None, "int": 5, "object": object()}


def bad_out_calls() -> dict[str, Callable[[Any, dict[str, int], Any], Any]]:
    """Upcalls given an out-parameter without ``.value``: (upcalls, live handles, bad) -> call."""
    good = ws2core.Ref
    return {
        "create_socket_errno": lambda up, h, bad: up.WPUCreateSocketHandle(1, object(), bad),
        "query_errno": lambda up, h, bad: up.WPUQuerySocketHandleContext(h["s"], good(SENTINEL), bad),
        "query_errno_unknown": lambda up, h, bad: up.WPUQuerySocketHandleContext(4096, good(SENTINEL), bad),
        "query_context": lambda up, h, bad: up.WPUQuerySocketHandleContext(h["s"], bad, good(SENTINEL)),
        "query_context_unknown": lambda up, h, bad: up.WPUQuerySocketHandleContext(4096, bad, good(SENTINEL)),
        "close_socket": lambda up, h, bad: up.WPUCloseSocketHandle(h["s"], bad),
        "close_socket_unknown": lambda up, h, bad: up.WPUCloseSocketHandle(4096, bad),
        "create_event": lambda up, h, bad: up.WPUCreateEvent(bad),
        "set_event": lambda up, h, bad: up.WPUSetEvent(h["e"], bad),
        "set_event_unknown": lambda up, h, bad: up.WPUSetEvent(4096, bad),
        "reset_event": lambda up, h, bad: up.WPUResetEvent(h["set"], bad),
        "close_event": lambda up, h, bad: up.WPUCloseEvent(h["e"], bad),
        "close_event_unknown": lambda up, h, bad: up.WPUCloseEvent(4096, bad),
        "get_provider_path": lambda up, h, bad: up.WPUGetProviderPath(None, None, good(0), bad),
        "modify_ifs_handle": lambda up, h, bad: up.WPUModifyIFSHandle(1, 4, bad),
        "query_blocking_callback": lambda up, h, bad: up.WPUQueryBlockingCallback(1, good(), good(), bad),
        "queue_apc": lambda up, h, bad: up.WPUQueueApc(WSATHREADID(), print, 0, bad),
        "open_current_thread": lambda up, h, bad: up.WPUOpenCurrentThread(WSATHREADID(), bad),
        "close_thread": lambda up, h, bad: up.WPUCloseThread(WSATHREADID(), bad),
    }


BAD_OUT_CALLS = bad_out_calls()


@pytest.mark.parametrize("bad", list(NOT_OUT_PARAMETERS.values()), ids=list(NOT_OUT_PARAMETERS))
@pytest.mark.parametrize("call", list(BAD_OUT_CALLS.values()), ids=list(BAD_OUT_CALLS))
def test_out_parameter_without_value_is_a_type_error_and_changes_nothing(
    core: Any, call: Callable[..., Any], bad: Any
) -> None:
    def build() -> tuple[Any, dict[str, int]]:
        up = UpcallTable(core.HandleTable())
        table = up.table
        handles = {"s": table.create_socket(1, object()), "e": table.create_event(),
                   "set": table.create_event()}
        table.set_event(handles["set"])
        return up, handles

    up, handles = build()
    reference, _ = build()
    before = snapshot(up.table)
    with pytest.raises(TypeError):
        call(up, handles, bad)
    assert snapshot(up.table) == before
    # Not even a handle value was spent.
    assert up.table.create_socket(1) == reference.table.create_socket(1)


def test_query_with_bad_errno_does_not_write_the_context(upcalls: Any, Ref: Any) -> None:
    context_out = Ref(SENTINEL)
    s = upcalls.WPUCreateSocketHandle(1, "ctx", Ref())
    with pytest.raises(TypeError):
        upcalls.WPUQuerySocketHandleContext(s, context_out, None)
    assert context_out.value == SENTINEL


@pytest.mark.parametrize("bad", ["4", None, 4.0, b"\x04"], ids=["str", "None", "float", "bytes"])
@pytest.mark.parametrize(
    "name, extra",
    [
        ("WPUQuerySocketHandleContext", 2),
        ("WPUCloseSocketHandle", 1),
        ("WPUSetEvent", 1),
        ("WPUResetEvent", 1),
        ("WPUCloseEvent", 1),
    ],
)
def test_handle_of_another_type_is_a_type_error(
    upcalls: Any, table: Any, Ref: Any, name: str, extra: int, bad: Any
) -> None:
    upcalls.WPUCreateSocketHandle(1, object(), Ref())
    upcalls.WPUCreateEvent(Ref())
    outs = [Ref(SENTINEL) for _ in range(extra)]
    before = snapshot(table)
    with pytest.raises(TypeError):
        getattr(upcalls, name)(bad, *outs)
    assert [o.value for o in outs] == [SENTINEL] * extra
    assert snapshot(table) == before


README = Path(__file__).resolve().parent.parent / "README.md"
# | 7 | `lpWPUModifyIFSHandle` | implemented | the proposed handle ... | `INVALID_SOCKET`, `WSAEINVAL` (why) |
README_ROW = re.compile(r"^\| (\d+) \| `(lpWPU\w+)` \| (\w+) \| [^|]* \| ([^|]*) \|$")


@pytest.mark.skipif(not README.exists(), reason="no README.md beside the tests (an installed copy)")
def test_readme_upcall_table_lists_all_fifteen_implemented() -> None:
    """Every row of README.md's upcall table, in ws2spi.h's order, says "implemented" and
    names its failure with constants that exist."""
    rows = [README_ROW.match(line) for line in README.read_text(encoding="utf-8").splitlines()]
    table = [(int(m[1]), m[2], m[3], m[4].strip()) for m in rows if m]
    assert [(number, field) for number, field, _, _ in table] == list(
        enumerate(UPCALL_FIELDS, start=1))
    assert {status for _, _, status, _ in table} == {"implemented"}
    for _, field, _, failure in table:  # the constants a failure names exist
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", failure):
            assert hasattr(constants, name), (field, name)


# ------------------------------------------------------------- WPUModifyIFSHandle


def test_modify_ifs_handle_adopts_a_fresh_value(upcalls: Any, table: Any, make_out: Any) -> None:
    """A fresh multiple of 4 of the range comes back unchanged as a socket without context;
    the fresh values it skipped are the next ones handed out, in order."""
    first = table.create_socket(1)
    proposed = first + 4 * 10
    err = make_out(SENTINEL)
    assert upcalls.WPUModifyIFSHandle(7, proposed, err) == proposed
    assert err.value == SENTINEL
    assert table.kind(proposed) == "socket" and table.context(proposed) is None
    assert table.catalog_entry(proposed) == 7
    assert [table.create_socket(1) for _ in range(10)] == [first + 4 * i for i in range(1, 10)] + [proposed + 4]
    table.close_socket(proposed)  # an adopted socket closes like any other


def test_modify_ifs_handle_adopts_a_due_closed_value(core: Any, Ref: Any) -> None:
    """A closed value out of quarantine is taken out of the closed FIFO, wherever it is."""
    table = core.HandleTable(max_handles=4, handle_range=(4, 4 * 8))  # a quarantine of 4
    up = ws2core.UpcallTable(table)
    handles = [table.create_socket(1) for _ in range(4)]
    for h in handles:
        table.close_socket(h)
    err = Ref(SENTINEL)
    assert up.WPUModifyIFSHandle(1, handles[0], err) == INVALID_SOCKET  # quarantined
    assert err.value == WSAEINVAL
    fresh = [table.create_socket(1) for _ in range(4)]  # the clock moves past the quarantine
    assert not set(fresh) & set(handles)
    for h in fresh:
        table.close_socket(h)
    assert up.WPUModifyIFSHandle(1, handles[2], err) == handles[2]
    others = [table.create_socket(1) for _ in range(3)]
    assert others == [handles[0], handles[1], handles[3]]  # the FIFO's order, without it


@pytest.mark.parametrize("case", ["tagged", "below", "above", "live socket", "event", "zero", "negative", "huge"])
def test_modify_ifs_handle_refuses(upcalls: Any, table: Any, make_out: Any, case: str) -> None:
    live = table.create_socket(1, object())
    event = table.create_event()
    first, last = table.handle_range
    proposed = {"tagged": live + 4 + 1, "below": first - 4, "above": last + 4, "live socket": live,
                "event": event, "zero": 0, "negative": -4, "huge": 2**64 - 4}[case]
    before = snapshot(table)
    err = make_out(SENTINEL)
    assert upcalls.WPUModifyIFSHandle(1, proposed, err) == INVALID_SOCKET
    assert err.value == WSAEINVAL
    assert snapshot(table) == before


def test_modify_ifs_handle_on_a_full_table_and_x86(core: Any, Ref: Any) -> None:
    table = core.HandleTable(max_handles=1, handle_range=(4, 4 * 8), abi="x86")
    up = ws2core.UpcallTable(table)
    table.create_socket(1)
    err = Ref(SENTINEL)
    assert up.WPUModifyIFSHandle(1, 16, err) == constants.INVALID_SOCKET_X86
    assert err.value == WSAEINVAL
    with pytest.raises(ws2core.WinsockError) as raised:
        table.adopt_socket(1, 16)
    assert raised.value.winerror == constants.WSAENOBUFS


def test_modify_ifs_handle_keeps_the_quarantine_of_skipped_values(core: Any) -> None:
    """Values adopted far ahead leave no gap: each is handed out once, none twice."""
    table = core.HandleTable(max_handles=64, handle_range=(4, 4 * 200))
    seen = {table.adopt_socket(1, 4 * 50), table.adopt_socket(1, 4 * 20)}
    for _ in range(62):
        h = table.create_socket(1)
        assert h not in seen
        seen.add(h)
    assert len(table) == 64


# ------------------------------------------------------ WPUQueryBlockingCallback


def test_a_winsock_2_process_gets_no_blocking_callback(upcalls: Any, make_out: Any) -> None:
    """The page: NULL means no hook is installed (block with the native objects); lpErrno is
    written with 0 on success, as ReactOS does; the catalog id is not looked up then."""
    callback, context, err = make_out(5), make_out(5), make_out(SENTINEL)
    assert upcalls.WPUQueryBlockingCallback(12345, callback, context, err) == 0
    assert [out.value or 0 for out in (callback, context, err)] == [0, 0, 0]  # a NULL c_void_p: None


def test_a_winsock_1_process_gets_the_callback_and_cancels_through_it(upcalls: Any, Ref: Any) -> None:
    upcalls.pseudo_blocking = True
    entry = upcalls.catalog.protocols()[0].dwCatalogEntryId
    callback, context, err = Ref(None), Ref(None), Ref(SENTINEL)
    assert upcalls.WPUQueryBlockingCallback(entry, callback, context, err) == 0
    assert err.value == 0 and context.value == entry
    assert callback.value(context.value) == TRUE  # no hook: keep waiting
    calls: list[bool] = []

    def hook() -> None:
        calls.append(upcalls.is_blocking())
        if len(calls) == 2:
            upcalls.cancel_blocking_call()

    assert upcalls.set_blocking_hook(hook) is None
    assert not upcalls.is_blocking()
    assert callback.value(entry) == TRUE
    assert callback.value(entry) == FALSE  # cancelled inside the hook: the call ends
    assert callback.value(entry) == TRUE   # once
    assert calls == [True, True, True]
    with pytest.raises(ws2core.WinsockError) as raised:
        upcalls.cancel_blocking_call()  # outside a blocking call
    assert raised.value.winerror == WSAEINVAL
    assert upcalls.set_blocking_hook(print) is hook
    upcalls.unhook_blocking_hook()
    assert upcalls.set_blocking_hook(hook) is None


def test_blocking_state_is_per_thread(upcalls: Any) -> None:
    upcalls.pseudo_blocking = True
    upcalls.set_blocking_hook(lambda: None)
    other: list[Any] = []
    thread = threading.Thread(target=lambda: other.append(upcalls.set_blocking_hook(print)))
    thread.start()
    thread.join()
    assert other == [None]


@pytest.mark.parametrize("case", ["unknown entry", "NULL callback", "NULL context"])
def test_query_blocking_callback_failures(upcalls: Any, Ref: Any, case: str) -> None:
    upcalls.pseudo_blocking = True
    entry = 999 if case == "unknown entry" else upcalls.catalog.protocols()[0].dwCatalogEntryId
    callback = None if case == "NULL callback" else Ref(SENTINEL)
    context = None if case == "NULL context" else Ref(SENTINEL)
    err = Ref(SENTINEL)
    assert upcalls.WPUQueryBlockingCallback(entry, callback, context, err) == SOCKET_ERROR
    assert err.value == (WSAEINVAL if case == "unknown entry" else WSAEFAULT)
    for target in (callback, context):
        assert target is None or target.value == SENTINEL


# ----------------------------------------------------------- aliases and call shape


def test_upcall_fields_in_ws2spi_order() -> None:
    # SPEC.md §3: declaration order of WSPUPCALLTABLE (not alphabetical at the end).
    assert UPCALL_FIELDS == (
        "lpWPUCloseEvent", "lpWPUCloseSocketHandle", "lpWPUCreateEvent",
        "lpWPUCreateSocketHandle", "lpWPUFDIsSet", "lpWPUGetProviderPath",
        "lpWPUModifyIFSHandle", "lpWPUPostMessage", "lpWPUQueryBlockingCallback",
        "lpWPUQuerySocketHandleContext", "lpWPUQueueApc", "lpWPUResetEvent",
        "lpWPUSetEvent", "lpWPUOpenCurrentThread", "lpWPUCloseThread",
    )


HOT = ["WPUCreateSocketHandle", "WPUQuerySocketHandleContext", "WPUCloseSocketHandle", "WPUFDIsSet"]


@pytest.mark.parametrize("field", UPCALL_FIELDS)
def test_field_name_is_an_alias(upcalls: Any, field: str) -> None:
    alias = getattr(upcalls, field)
    assert callable(alias)
    assert alias == getattr(upcalls, field[2:])
    # The same function, not a wrapper (CONVENTIONS "Naming"): both names find one object.
    assert inspect.getattr_static(upcalls, field) is inspect.getattr_static(upcalls, field[2:])


@pytest.mark.parametrize("name", HOT)
def test_hot_upcalls_are_the_cores_own_methods(core: Any, upcalls: Any, name: str) -> None:
    # DESIGN §3: a hot upcall costs no Python frame over the core, so what the facade offers
    # under both names is the core's own HotUpcalls method.
    own = inspect.getattr_static(core.HotUpcalls, name)
    assert inspect.getattr_static(upcalls, name) is own
    assert inspect.getattr_static(upcalls, "lp" + name) is own


def test_aliases_act_on_the_same_table(upcalls: Any, table: Any, Ref: Any) -> None:
    err = Ref(SENTINEL)
    s = upcalls.lpWPUCreateSocketHandle(1, "ctx", err)
    out = Ref()
    assert upcalls.lpWPUQuerySocketHandleContext(s, out, err) == 0 and out.value == "ctx"
    e = upcalls.lpWPUCreateEvent(err)
    assert upcalls.lpWPUSetEvent(e, err) == TRUE and table.event_is_set(e)
    assert upcalls.lpWPUResetEvent(e, err) == TRUE and not table.event_is_set(e)
    assert upcalls.lpWPUCloseEvent(e, err) == TRUE
    assert upcalls.lpWPUCloseSocketHandle(s, err) == 0
    assert len(table) == 0
    assert err.value == SENTINEL


# Each upcall with valid positional arguments (given the upcall table, a live socket and event)
# and the ws2spi.h name of its last parameter, which the keyword call below passes by name.
KEYWORD_CALLS = {
    "WPUCloseEvent": (lambda s, e: (e, ws2core.Ref()), "lpErrno"),
    "WPUCloseSocketHandle": (lambda s, e: (s, ws2core.Ref()), "lpErrno"),
    "WPUCreateEvent": (lambda s, e: (ws2core.Ref(),), "lpErrno"),
    "WPUCreateSocketHandle": (lambda s, e: (1, None, ws2core.Ref()), "lpErrno"),
    "WPUFDIsSet": (lambda s, e: (s, ws2core.FdSet([s])), "fdset"),
    "WPUGetProviderPath": (lambda s, e: (None, None, ws2core.Ref(0), ws2core.Ref()), "lpErrno"),
    "WPUModifyIFSHandle": (lambda s, e: (1, 4, ws2core.Ref()), "lpErrno"),
    "WPUPostMessage": (lambda s, e: (0, 0, 0, 0), "lParam"),
    "WPUQueryBlockingCallback": (lambda s, e: (1, ws2core.Ref(), ws2core.Ref(), ws2core.Ref()), "lpErrno"),
    "WPUQuerySocketHandleContext": (lambda s, e: (s, ws2core.Ref(), ws2core.Ref()), "lpErrno"),
    "WPUQueueApc": (lambda s, e: (WSATHREADID(), None, 0, ws2core.Ref()), "lpErrno"),
    "WPUResetEvent": (lambda s, e: (e, ws2core.Ref()), "lpErrno"),
    "WPUSetEvent": (lambda s, e: (e, ws2core.Ref()), "lpErrno"),
    "WPUOpenCurrentThread": (lambda s, e: (WSATHREADID(), ws2core.Ref()), "lpErrno"),
    "WPUCloseThread": (lambda s, e: (WSATHREADID(), ws2core.Ref()), "lpErrno"),
}


def test_keyword_calls_cover_every_field() -> None:
    assert sorted("lp" + name for name in KEYWORD_CALLS) == sorted(UPCALL_FIELDS)


@pytest.mark.parametrize("name", list(KEYWORD_CALLS))
def test_upcalls_are_positional_only(upcalls: Any, table: Any, name: str) -> None:
    make_args, last = KEYWORD_CALLS[name]
    s = table.create_socket(1, object())
    e = table.create_event()
    table.set_event(e)
    args = make_args(s, e)
    before = snapshot(table)
    for upcall in (getattr(upcalls, name), getattr(upcalls, "lp" + name)):
        with pytest.raises(TypeError):
            upcall(*args[:-1], **{last: args[-1]})
    assert snapshot(table) == before
    getattr(upcalls, name)(*args)  # the same arguments, positionally, are accepted


# ------------------------------------------------------------------------- constructor


def test_table_is_the_wrapped_table(table: Any) -> None:
    up = UpcallTable(table)
    assert up.table is table
    s = up.WPUCreateSocketHandle(1, "shared", ws2core.Ref())
    assert table.context(s) == "shared"  # Python code and providers share one state
    assert UpcallTable(table=table).table is table


def test_table_and_max_handles_together_is_a_type_error(table: Any) -> None:
    with pytest.raises(TypeError):
        UpcallTable(table, max_handles=10)
    with pytest.raises(TypeError):
        UpcallTable(table=table, max_handles=10)


@pytest.mark.parametrize("not_a_table", [object(), "table", 5, {}], ids=["object", "str", "int", "dict"])
def test_table_of_another_type_is_a_type_error(not_a_table: Any) -> None:
    with pytest.raises(TypeError):
        UpcallTable(not_a_table)


def test_own_table_with_max_handles() -> None:
    up = UpcallTable(max_handles=2)
    assert isinstance(up.table, ws2core.HandleTable)
    assert up.table.max_handles == 2
    err = ws2core.Ref(SENTINEL)
    up.WPUCreateSocketHandle(1, None, err)
    up.WPUCreateSocketHandle(1, None, err)
    assert up.WPUCreateSocketHandle(1, None, err) == INVALID_SOCKET
    assert err.value == WSAENOBUFS


def test_own_table_by_default() -> None:
    up = UpcallTable()
    assert isinstance(up.table, ws2core.HandleTable)
    assert up.table.max_handles == ws2core.DEFAULT_MAX_HANDLES
    assert UpcallTable().table is not up.table  # each UpcallTable is its own Ws2_32


@pytest.mark.parametrize("value", [0, 2**24 + 1])
def test_own_table_max_handles_out_of_range(value: int) -> None:
    with pytest.raises(ValueError):
        UpcallTable(max_handles=value)


# ------------------------------------------------------------- errorname and constants


@pytest.mark.parametrize(
    "code, name",
    [
        (6, "WSA_INVALID_HANDLE"),
        (8, "WSA_NOT_ENOUGH_MEMORY"),
        (87, "WSA_INVALID_PARAMETER"),
        (10014, "WSAEFAULT"),
        (10022, "WSAEINVAL"),
        (10038, "WSAENOTSOCK"),
        (10055, "WSAENOBUFS"),
        (10093, "WSANOTINITIALISED"),
    ],
)
def test_errorname(code: int, name: str) -> None:
    assert errorname(code) == name
    assert getattr(ws2core, name) == code


@pytest.mark.parametrize("code", [424242, 0, -7])
def test_errorname_of_an_unknown_code_is_its_number(code: int) -> None:
    assert errorname(code) == str(code)


def test_errorname_takes_anything_with_index() -> None:
    class Code:
        def __index__(self) -> int:
            return 10038

    assert errorname(Code()) == "WSAENOTSOCK"  # type: ignore[arg-type]


# A bool is refused although it is an int: an error code is never a truth value, and a bool
# here is a BOOL result or a flag passed by mistake (errorname(True) used to answer "True").
@pytest.mark.parametrize("code", ["x", "10038", 10038.0, None, b"\x06", True, False], ids=repr)
def test_errorname_of_a_non_int_is_a_type_error(code: Any) -> None:
    with pytest.raises(TypeError) as raised:
        errorname(code)
    assert str(raised.value) == (
        f"errorname() argument 'code' must be an int (a Windows error code), not {type(code).__name__}")


# SPEC.md §1, the x64 values.
CONSTANTS = {
    "INVALID_SOCKET": 2**64 - 1,
    "SOCKET_ERROR": -1,
    "WSA_INVALID_EVENT": 0,
    "TRUE": 1,
    "FALSE": 0,
    "FD_SETSIZE": 64,
    "WSA_MAXIMUM_WAIT_EVENTS": 64,
    "WSA_WAIT_EVENT_0": 0,
    "WSA_WAIT_IO_COMPLETION": 0xC0,
    "WSA_WAIT_TIMEOUT": 258,
    "WSA_WAIT_FAILED": 0xFFFFFFFF,
    "WSA_INFINITE": 0xFFFFFFFF,
    "WSA_INVALID_HANDLE": 6,
    "ERROR_INVALID_HANDLE": 6,
    "WSA_NOT_ENOUGH_MEMORY": 8,
    "WSA_INVALID_PARAMETER": 87,
    "WSA_OPERATION_ABORTED": 995,
    "WSA_IO_INCOMPLETE": 996,
    "WSA_IO_PENDING": 997,
    "WSAEINTR": 10004,
    "WSAEBADF": 10009,
    "WSAEACCES": 10013,
    "WSAEFAULT": 10014,
    "WSAEINVAL": 10022,
    "WSAEMFILE": 10024,
    "WSAEWOULDBLOCK": 10035,
    "WSAEINPROGRESS": 10036,
    "WSAENOTSOCK": 10038,
    "WSAENETDOWN": 10050,
    "WSAENOBUFS": 10055,
    "WSANOTINITIALISED": 10093,
}


@pytest.mark.parametrize("name, value", CONSTANTS.items(), ids=list(CONSTANTS))
def test_constant_has_its_windows_value(name: str, value: int) -> None:
    assert getattr(ws2core, name) == value
    assert getattr(ws2core.constants, name) == value
    assert name in ws2core.__all__


def test_adoption_runs_in_lockstep_on_both_cores() -> None:
    """Creates, closes and adoptions (fresh, closed, quarantined, refused) drawn at random give
    the same handles and refusals on both cores."""
    cores = _implementation.cores_under_test()
    if len(cores) < 2:
        pytest.skip("one core under test: nothing to compare")
    tables = [_implementation.load(name).HandleTable(max_handles=16, handle_range=(4, 4 * 40))
              for name in cores]
    chooser = random.Random(22)
    for _ in range(2000):
        action, value = chooser.choice(("create", "close", "adopt")), 4 * chooser.randrange(-1, 45)
        outcomes = []
        for table in tables:
            try:
                if action == "create":
                    outcomes.append(table.create_socket(1))
                elif action == "close":
                    outcomes.append(table.close_socket(value))
                else:
                    outcomes.append(table.adopt_socket(2, value))
            except ws2core.WinsockError as error:
                outcomes.append(error.winerror)
        assert outcomes[0] == outcomes[1], (action, value)
        assert list(tables[0]) == list(tables[1])
