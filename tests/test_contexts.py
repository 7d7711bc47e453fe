"""Context lifetimes (DESIGN.md §1 "The eight upcalls", §2, §3 thread model).

The table holds a strong reference to each socket's context until the socket is closed.
Covers: contexts released by close_socket, WPUCloseSocketHandle, close(), and when the table
is dropped (weakrefs go dead; a context referring back to its table forms a cycle that the
garbage collector frees); no reference leaked by failing calls (``sys.getrefcount``); and a
context whose ``__del__`` closes or creates handles of the same table while it is released,
which must find the table consistent and leave it so.
"""

from __future__ import annotations

import ctypes
import gc
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any

import pytest

import ws2core
from ws2core import INVALID_SOCKET, SOCKET_ERROR, UpcallTable

from support import assert_consistent


class Context:
    """A provider's per-socket state: weak-referenceable, optionally pointing at its table."""

    def __init__(self, table: Any = None) -> None:
        self.table = table


# ------------------------------------------------------------------- releasing contexts

RELEASES: dict[str, Callable[[Any, int], None]] = {
    "close_socket": lambda table, s: table.close_socket(s),
    "WPUCloseSocketHandle": lambda table, s: UpcallTable(table).WPUCloseSocketHandle(s, ws2core.Ref()),
    "close": lambda table, s: table.close(),
    "with": lambda table, s: table.__exit__(None, None, None),
}


@pytest.mark.parametrize("release", list(RELEASES.values()), ids=list(RELEASES))
def test_closing_releases_the_context(core: Any, release: Callable[[Any, int], None]) -> None:
    table = core.HandleTable()
    keep = Context()
    kept = table.create_socket(1, keep)
    ctx = Context()
    s = table.create_socket(1, ctx)
    ref = weakref.ref(ctx)
    del ctx
    assert ref() is not None  # the table's reference keeps it alive
    release(table, s)
    assert ref() is None
    if kept in table:  # close_socket of s leaves the other socket's context in place
        assert table.context(kept) is keep


def test_failed_close_keeps_the_context(table: Any) -> None:
    ctx = Context()
    s = table.create_socket(1, ctx)
    ref = weakref.ref(ctx)
    del ctx
    with pytest.raises(ws2core.WinsockError):
        table.close_socket(s + 4096)
    with pytest.raises(ws2core.WinsockError):
        table.close_event(s)  # a socket is not an event: refused, context kept
    assert UpcallTable(table).WPUCloseEvent(s, ws2core.Ref()) == ws2core.FALSE
    assert ref() is not None
    assert table.context(s) is ref()


def test_dropping_the_table_releases_its_contexts(core: Any) -> None:
    table = core.HandleTable()
    refs = []
    for i in range(10):
        ctx = Context()
        refs.append(weakref.ref(ctx))
        table.create_socket(i, ctx)
    del ctx
    table.create_event()
    assert all(r() is not None for r in refs)
    del table  # no gc.collect(): a table without cycles is freed by reference counting
    assert all(r() is None for r in refs)


def test_dropping_an_upcall_table_releases_its_contexts(core: Any) -> None:
    up = UpcallTable(core.HandleTable())
    ctx = Context()
    ref = weakref.ref(ctx)
    assert up.WPUCreateSocketHandle(1, ctx, ws2core.Ref()) != INVALID_SOCKET
    del ctx
    del up
    assert ref() is None


def test_a_context_referring_to_its_table_is_collected(core: Any) -> None:
    # table -> context -> table: only the cycle collector can free it, so the table must hold
    # contexts where the collector sees them (DESIGN §3).
    table = core.HandleTable()
    ctx = Context(table)
    table.create_socket(1, ctx)
    table_ref, ctx_ref = weakref.ref(table), weakref.ref(ctx)
    del table, ctx
    gc.collect()
    assert ctx_ref() is None
    assert table_ref() is None


def test_a_cycle_through_an_upcall_table_is_collected(core: Any) -> None:
    up = UpcallTable(core.HandleTable())
    ctx = Context(up)
    up.WPUCreateSocketHandle(1, ctx, ws2core.Ref())
    up_ref, ctx_ref = weakref.ref(up), weakref.ref(ctx)
    del up, ctx
    gc.collect()
    assert ctx_ref() is None
    assert up_ref() is None


# ------------------------------------------------------------------- no leaked references


def refcount(obj: Any) -> int:
    gc.collect()  # cycles (tracebacks, frames) are not leaks; free them before counting
    return sys.getrefcount(obj)


def outcome(call: Callable[[], Any]) -> Any:
    """The call's result, or its exception type (the exception object itself is dropped)."""
    try:
        return call()
    except Exception as exc:  # noqa: BLE001 - the type is the point
        return type(exc)


# Each failing call gets (upcalls, table, the context of a live socket, that socket, a
# handle that is not live) and returns what it should: an exception type or a result.
FAILING_CALLS: dict[str, tuple[Callable[..., Any], Any]] = {
    "query_bad_errno": (
        lambda up, t, ctx, s, dead: up.WPUQuerySocketHandleContext(s, ws2core.Ref(), None), TypeError),
    "query_bad_context_out": (
        lambda up, t, ctx, s, dead: up.WPUQuerySocketHandleContext(s, object(), ws2core.Ref()), TypeError),
    "query_ctypes_c_size_t": (
        lambda up, t, ctx, s, dead: up.WPUQuerySocketHandleContext(s, ctypes.c_size_t(), ws2core.Ref()),
        TypeError),
    "query_ctypes_c_int": (
        lambda up, t, ctx, s, dead: up.WPUQuerySocketHandleContext(s, ctypes.c_int(), ws2core.Ref()),
        TypeError),
    "query_ctypes_c_double": (
        lambda up, t, ctx, s, dead: up.WPUQuerySocketHandleContext(s, ctypes.c_double(), ws2core.Ref()),
        TypeError),
    "query_unknown": (
        lambda up, t, ctx, s, dead: up.WPUQuerySocketHandleContext(dead, ws2core.Ref(), ws2core.Ref()),
        SOCKET_ERROR),
    "context_unknown": (lambda up, t, ctx, s, dead: t.context(dead), ws2core.WinsockError),
    "context_wrong_type": (lambda up, t, ctx, s, dead: t.context(str(s)), TypeError),
    "create_socket_catalog_range": (lambda up, t, ctx, s, dead: t.create_socket(2**32, ctx), ValueError),
    "create_socket_catalog_type": (lambda up, t, ctx, s, dead: t.create_socket("1", ctx), TypeError),
    "create_socket_full": (lambda up, t, ctx, s, dead: t.create_socket(1, ctx), ws2core.WinsockError),
    "upcall_create_catalog_range": (
        lambda up, t, ctx, s, dead: up.WPUCreateSocketHandle(-1, ctx, ws2core.Ref()), ValueError),
    "upcall_create_bad_errno": (
        lambda up, t, ctx, s, dead: up.WPUCreateSocketHandle(1, ctx, None), TypeError),
    "upcall_create_full": (
        lambda up, t, ctx, s, dead: up.WPUCreateSocketHandle(1, ctx, ws2core.Ref()), INVALID_SOCKET),
    "close_bad_errno": (lambda up, t, ctx, s, dead: up.WPUCloseSocketHandle(s, None), TypeError),
    "close_event_on_socket": (lambda up, t, ctx, s, dead: t.close_event(s), ws2core.WinsockError),
}


@pytest.mark.parametrize("call, expected", list(FAILING_CALLS.values()), ids=list(FAILING_CALLS))
def test_failing_calls_do_not_leak_the_context(core: Any, call: Callable[..., Any], expected: Any) -> None:
    table = core.HandleTable(max_handles=2)
    up = UpcallTable(table)
    ctx = Context()
    s = table.create_socket(1, ctx)
    dead = table.create_socket(1)
    table.close_socket(dead)
    table.create_event()  # the table is now full (max_handles=2)
    baseline = refcount(ctx)
    for _ in range(200):
        assert outcome(lambda: call(up, table, ctx, s, dead)) == expected
    assert refcount(ctx) == baseline
    assert table.context(s) is ctx


def test_successful_queries_do_not_leak_the_context(core: Any, Ref: Any) -> None:
    table = core.HandleTable()
    up = UpcallTable(table)
    ctx = Context()
    s = up.WPUCreateSocketHandle(1, ctx, Ref())
    baseline = refcount(ctx)
    out, err = Ref(), Ref()
    for _ in range(200):
        assert up.WPUQuerySocketHandleContext(s, out, err) == 0
        assert table.context(s) is ctx
    assert out.value is ctx
    out.value = None
    assert refcount(ctx) == baseline


def test_closing_drops_exactly_the_tables_reference(core: Any) -> None:
    table = core.HandleTable()
    ctx = Context()
    before = refcount(ctx)
    sockets = [table.create_socket(1, ctx) for _ in range(5)]  # one context, five sockets
    assert refcount(ctx) > before
    for s in sockets:
        table.close_socket(s)
    assert refcount(ctx) == before


# ------------------------------------------------------- re-entrant __del__ while releasing


class Reentrant:
    """A context whose ``__del__`` runs ``action(table)`` and logs what it saw.

    It records whether its own handle was still in the table (it must not be: the context is
    released only once the table is consistent again) and any exception, since an exception
    in ``__del__`` would otherwise be swallowed.
    """

    def __init__(self, table: Any, action: Callable[[Any], Any], log: list[Any]) -> None:
        self.table = table
        self.action = action
        self.log = log
        self.handle: int | None = None

    def __del__(self) -> None:
        try:
            self.log.append(("own handle live", self.handle in self.table))
            self.log.append(("consistent", assert_consistent(self.table)))
            self.log.append(("result", self.action(self.table)))
        except BaseException as exc:  # noqa: BLE001 - reported by the test, not swallowed
            self.log.append(("error", exc))


def setup_reentrant(core: Any, action_name: str) -> tuple[Any, dict[str, int], list[Any]]:
    """A table [s1 (re-entrant context), s2, e1, s3]; the action targets s2 / e1 / new handles."""
    table = core.HandleTable()
    log: list[Any] = []
    handles: dict[str, int] = {}

    def close_s2(t: Any) -> None:
        t.close_socket(handles["s2"])

    def close_e1(t: Any) -> None:
        t.close_event(handles["e1"])

    def create(t: Any) -> tuple[int, int]:
        handles["new_s"] = t.create_socket(9, "born in __del__")
        handles["new_e"] = t.create_event()
        return handles["new_s"], handles["new_e"]

    def close_table(t: Any) -> None:
        t.close()

    actions = {
        "close_socket": close_s2, "close_event": close_e1, "create": create, "close_table": close_table,
    }
    ctx = Reentrant(table, actions[action_name], log)
    handles["s1"] = table.create_socket(1, ctx)
    ctx.handle = handles["s1"]
    del ctx  # the table holds the only reference
    handles["s2"] = table.create_socket(2, "s2")
    handles["e1"] = table.create_event()
    handles["s3"] = table.create_socket(3, "s3")
    return table, handles, log


def by_kind(log: list[Any], key: str) -> list[Any]:
    return [value for k, value in log if k == key]


SINGLE_RELEASES = {
    "close_socket": lambda table, s: table.close_socket(s),
    "WPUCloseSocketHandle": lambda table, s: UpcallTable(table).WPUCloseSocketHandle(s, ws2core.Ref()),
}


@pytest.mark.parametrize("action", ["close_socket", "close_event", "create", "close_table"])
@pytest.mark.parametrize("release", list(SINGLE_RELEASES.values()), ids=list(SINGLE_RELEASES))
def test_del_that_uses_the_table_during_close_socket(
    core: Any, release: Callable[[Any, int], Any], action: str
) -> None:
    table, h, log = setup_reentrant(core, action)
    release(table, h["s1"])
    assert by_kind(log, "error") == []
    assert by_kind(log, "own handle live") == [False]  # __del__ ran once, after the close
    expected = {
        "close_socket": [h["e1"], h["s3"]],
        "close_event": [h["s2"], h["s3"]],
        "create": [h["s2"], h["e1"], h["s3"], h.get("new_s"), h.get("new_e")],
        "close_table": [],
    }[action]
    assert assert_consistent(table) == expected
    if action == "create":
        assert table.context(h["new_s"]) == "born in __del__"
        assert table.kind(h["new_e"]) == "event"
        assert h["new_s"] != h["s1"]  # the value just closed is quarantined
    assert table.create_socket(1) not in h.values()  # still usable afterwards


@pytest.mark.parametrize("action", ["close_socket", "close_event", "create", "close_table"])
def test_del_that_uses_the_table_during_close(core: Any, action: str) -> None:
    table, h, log = setup_reentrant(core, action)
    old = set(table)
    table.close()
    errors = by_kind(log, "error")
    if action in ("close_socket", "close_event"):
        # The handle may already be closed by close() when __del__ runs: the refusal is a
        # WinsockError, which the provider's __del__ would expect; anything else is a bug.
        assert all(type(e) is ws2core.WinsockError for e in errors), errors
    else:
        assert errors == []
    assert by_kind(log, "own handle live") == [False]
    handles = assert_consistent(table)
    assert not set(handles) & old  # every handle live before close() is gone
    if action == "create":
        # Whether close() also closes what __del__ created is the table's choice; either way
        # the new handles are new values and, if live, whole.
        assert h["new_s"] not in old and h["new_e"] not in old
        assert set(handles) <= {h["new_s"], h["new_e"]}
        if h["new_s"] in table:
            assert table.context(h["new_s"]) == "born in __del__"
    assert table.create_event() not in old


def chain_of_sockets(table: Any, count: int, log: list[Any]) -> list[int]:
    """``count`` sockets whose contexts' ``__del__`` each close the next socket."""
    sockets: list[int] = []

    def close_next(index: int) -> Callable[[Any], None]:
        def action(t: Any) -> None:
            if index + 1 < len(sockets):
                t.close_socket(sockets[index + 1])
        return action

    for i in range(count):
        ctx = Reentrant(table, close_next(i), log)
        sockets.append(table.create_socket(i, ctx))
        ctx.handle = sockets[-1]
        del ctx
    return sockets


def test_chain_of_contexts_closing_each_other_during_close(core: Any) -> None:
    # Each context's __del__ closes the next socket: close() must survive every such call.
    table = core.HandleTable()
    log: list[Any] = []
    chain_of_sockets(table, 6, log)
    table.close()
    assert by_kind(log, "own handle live") == [False] * 6
    assert all(type(e) is ws2core.WinsockError for e in by_kind(log, "error"))
    assert assert_consistent(table) == []


def test_chain_of_contexts_released_by_close_socket(core: Any) -> None:
    # Closing the first socket releases its context, whose __del__ closes the second, and so
    # on: a nested release at every level, each finding the table consistent.
    table = core.HandleTable()
    log: list[Any] = []
    sockets = chain_of_sockets(table, 20, log)
    survivor = table.create_event()
    table.close_socket(sockets[0])
    assert by_kind(log, "error") == []
    assert by_kind(log, "own handle live") == [False] * 20
    assert assert_consistent(table) == [survivor]


RELEASES_FOR_HANDOFF = {
    "close_socket": lambda table, s: table.close_socket(s),
    "WPUCloseSocketHandle": lambda table, s: UpcallTable(table).WPUCloseSocketHandle(s, ws2core.Ref()),
    "close": lambda table, s: table.close(),
}


@pytest.mark.parametrize("release", list(RELEASES_FOR_HANDOFF.values()), ids=list(RELEASES_FOR_HANDOFF))
def test_del_may_wait_for_another_thread_that_uses_the_table(
    core: Any, release: Callable[[Any, int], Any]
) -> None:
    # "Arbitrary Python" in __del__ (DESIGN §3) includes handing cleanup to another thread
    # and waiting for it: a table that released the context while still holding its own lock
    # would block that thread, and the wait would time out.
    table = core.HandleTable()
    log: list[Any] = []

    def cleanup_elsewhere(t: Any) -> bool:
        worker = threading.Thread(target=lambda: log.append(("created", t.create_socket(1, "w"))))
        worker.start()
        worker.join(5.0)
        return not worker.is_alive()

    ctx = Reentrant(table, cleanup_elsewhere, log)
    s = table.create_socket(1, ctx)
    ctx.handle = s
    del ctx
    release(table, s)
    assert by_kind(log, "error") == []
    assert by_kind(log, "result") == [True], "the other thread could not use the table"
    (created,) = by_kind(log, "created")
    assert table.context(created) == "w"
    assert assert_consistent(table) == [created]


def test_sockets_without_contexts_beside_sockets_with_them(table: Any) -> None:
    """Contexts are kept only as far as one was ever stored (the Cython core's list ends
    there): every mix of with and without, fresh and reused slots, reads back exactly."""
    bare = [table.create_socket(1) for _ in range(100)]
    marked = object()
    late = table.create_socket(2, marked)           # the first context, after 100 without
    assert table.context(late) is marked
    assert all(table.context(s) is None for s in bare)
    assert table.contexts(bare + [late]) == [None] * 100 + [marked]
    tail = [table.create_socket(3) for _ in range(50)]  # past the last stored context again
    assert table.contexts(tail) == [None] * 50
    assert table.close_sockets(tail[::2]) == []
    table.close_socket(late)
    assert all(table.context(s) is None for s in bare + tail[1::2])
    # Slots come back from the quarantine after REUSE_DELAY creations, with their new contexts.
    fresh = table.create_sockets(4, [None] * ws2core.REUSE_DELAY)
    table.close_sockets(fresh)
    again = [table.create_socket(5, index) for index in range(len(tail[::2]) + 1)]
    assert [table.context(s) for s in again] == list(range(len(again)))
    assert set(again) & set(tail[::2] + [late])  # some of them reuse the closed values
    assert_consistent(table)
