"""HandleTable, the Pythonic core (DESIGN.md §1 "Handles", §2).

Covers sockets (create, context, catalog entry, close), events (create, set, reset, state,
close), the table as a whole (kind, len, ``in``, iteration in creation order, max_handles,
close() and ``with``, repr), WinsockError, handle values, bad values and wrong types (the
table is left unchanged), sockets and events not mixing, the two low tag bits of event
handles, and the reuse quarantine with its exact rule.  Every test runs once per core.
"""

from __future__ import annotations

import collections
import enum
import random
import re
from collections.abc import Callable
from typing import Any

import pytest

import ws2core
from ws2core import (
    INVALID_SOCKET,
    WSA_INVALID_EVENT,
    WSA_INVALID_HANDLE,
    WSA_NOT_ENOUGH_MEMORY,
    WSAENOBUFS,
    WSAENOTSOCK,
    errorname,
)

from support import Index, raises_winsock, snapshot

REUSE_DELAY = 65536  # DESIGN §1: a closed value stays dead for 65,536 further creations


class Color(enum.IntEnum):
    RED = 1000


def populated(table: Any) -> dict[str, int]:
    """A table with two live sockets, two live events (one set) and one closed of each."""
    h = {}
    h["s1"] = table.create_socket(1, object())
    h["e1"] = table.create_event()
    h["closed_s"] = table.create_socket(2, object())
    h["closed_e"] = table.create_event()
    h["s2"] = table.create_socket(3, object())
    h["e2"] = table.create_event()
    table.set_event(h["e2"])
    table.close_socket(h["closed_s"])
    table.close_event(h["closed_e"])
    return h


# --------------------------------------------------------------------------- sockets


def test_create_socket_records_context_and_catalog_entry(table: Any) -> None:
    ctx = object()
    s = table.create_socket(7, ctx)
    assert table.kind(s) == "socket"
    assert s in table
    assert table.context(s) is ctx
    assert table.catalog_entry(s) == 7
    assert len(table) == 1


def test_context_defaults_to_none(table: Any) -> None:
    s = table.create_socket(3)
    assert table.context(s) is None


def test_each_socket_keeps_its_own_context_and_catalog_entry(table: Any) -> None:
    contexts = [object() for _ in range(50)]
    sockets = [table.create_socket(i, ctx) for i, ctx in enumerate(contexts)]
    for i, (s, ctx) in enumerate(zip(sockets, contexts)):
        assert table.context(s) is ctx
        assert table.catalog_entry(s) == i


@pytest.mark.parametrize(
    "ctx",
    [0, 1, -1, 2**31, 2**32 - 1, 2**63, 2**64 - 1, 2**64, 2**100, -(2**70)],
    ids=repr,
)
def test_int_context_comes_back_as_the_same_int(table: Any, ctx: int) -> None:
    s = table.create_socket(1, ctx)
    got = table.context(s)
    assert got == ctx
    assert type(got) is int


@pytest.mark.parametrize("ctx", [True, False, Color.RED], ids=repr)
def test_int_subclass_context_keeps_its_type(table: Any, ctx: int) -> None:
    # dwContext may be any Python object (DESIGN §1): an int subclass is an object whose type
    # a Python provider relies on, so it must not come back as a plain int.
    s = table.create_socket(1, ctx)
    got = table.context(s)
    assert got == ctx
    assert type(got) is type(ctx)


def test_object_context_comes_back_as_the_same_object(table: Any) -> None:
    ctx = {"state": "listening"}
    s = table.create_socket(1, ctx)
    assert table.context(s) is ctx


def test_close_socket(table: Any) -> None:
    s = table.create_socket(1, object())
    other = table.create_socket(2, object())
    assert table.close_socket(s) is None
    assert s not in table
    assert table.kind(s) is None
    assert len(table) == 1
    assert list(table) == [other]
    raises_winsock(WSAENOTSOCK, table.context, s)
    raises_winsock(WSAENOTSOCK, table.catalog_entry, s)
    raises_winsock(WSAENOTSOCK, table.close_socket, s)  # closing twice is refused


@pytest.mark.parametrize(
    "catalog_entry_id, expected",
    [(0, 0), (1, 1), (2**32 - 1, 2**32 - 1), (True, 1), (False, 0), (Index(1001), 1001)],
    ids=["0", "1", "dword_max", "True", "False", "__index__"],
)
def test_catalog_entry_id_accepts_any_dword(table: Any, catalog_entry_id: Any, expected: int) -> None:
    s = table.create_socket(catalog_entry_id)
    got = table.catalog_entry(s)
    assert got == expected
    assert type(got) is int


@pytest.mark.parametrize(
    "catalog_entry_id, error",
    [
        (-1, ValueError),
        (2**32, ValueError),
        (2**64, ValueError),
        (-(2**100), ValueError),
        (Index(2**32), ValueError),
        ("1", TypeError),
        (1.0, TypeError),
        (None, TypeError),
        (b"\x01", TypeError),
    ],
    ids=["-1", "2**32", "2**64", "-2**100", "__index__2**32", "str", "float", "None", "bytes"],
)
def test_bad_catalog_entry_id_leaves_the_table_unchanged(
    core: Any, table: Any, catalog_entry_id: Any, error: type[Exception]
) -> None:
    populated(table)
    reference = core.HandleTable()
    populated(reference)
    before = snapshot(table)
    with pytest.raises(error):
        table.create_socket(catalog_entry_id, object())
    assert snapshot(table) == before
    # Not even a slot was spent: the next value is the one an untouched table gives.
    assert table.create_socket(1) == reference.create_socket(1)


# --------------------------------------------------------------------------- events


def test_create_event_is_live_and_not_signalled(table: Any) -> None:
    e = table.create_event()
    assert table.kind(e) == "event"
    assert e in table
    assert e != WSA_INVALID_EVENT
    assert table.event_is_set(e) is False
    assert len(table) == 1


def test_set_and_reset_event(table: Any) -> None:
    e = table.create_event()
    assert table.set_event(e) is None
    assert table.event_is_set(e) is True
    assert table.set_event(e) is None  # setting a signalled event changes nothing
    assert table.event_is_set(e) is True
    assert table.reset_event(e) is None
    assert table.event_is_set(e) is False
    assert table.reset_event(e) is None  # resetting a non-signalled event changes nothing
    assert table.event_is_set(e) is False


def test_events_have_independent_states(table: Any) -> None:
    events = [table.create_event() for _ in range(8)]
    for e in events[::2]:
        table.set_event(e)
    assert [table.event_is_set(e) for e in events] == [True, False] * 4


def test_close_event(table: Any) -> None:
    e = table.create_event()
    other = table.create_event()
    table.set_event(e)
    assert table.close_event(e) is None
    assert e not in table
    assert table.kind(e) is None
    assert list(table) == [other]
    for method in (table.set_event, table.reset_event, table.event_is_set, table.close_event):
        raises_winsock(WSA_INVALID_HANDLE, method, e)


# --------------------------------------------------------------------------- the table


def test_len_in_and_iteration_follow_creation_order(table: Any) -> None:
    assert len(table) == 0
    assert list(table) == []
    created = []
    for i in range(12):
        created.append(table.create_socket(i) if i % 3 else table.create_event())
    assert len(table) == 12
    assert list(table) == created
    assert all(h in table for h in created)
    # Closing from the middle keeps the others in creation order, and new ones go last.
    for h in created[3:9:2]:
        (table.close_socket if table.kind(h) == "socket" else table.close_event)(h)
    remaining = [h for h in created if h not in created[3:9:2]]
    newest = table.create_socket(99)
    assert list(table) == remaining + [newest]
    assert len(table) == len(remaining) + 1


def test_kind(table: Any) -> None:
    s = table.create_socket(1)
    e = table.create_event()
    assert table.kind(s) == "socket"
    assert table.kind(e) == "event"
    assert table.kind(Index(s)) == "socket"
    table.close_socket(s)
    assert table.kind(s) is None
    assert table.kind(0) is None


def test_handle_values_look_like_kernel_handles(table: Any) -> None:
    # Mix creations with closes so that values are handed out both fresh and (possibly)
    # from the free list; every live value must be unique at every moment.
    rng = random.Random(4)
    live: set[int] = set()
    for _ in range(3000):
        if live and rng.random() < 0.4:
            h = rng.choice(sorted(live))
            (table.close_socket if table.kind(h) == "socket" else table.close_event)(h)
            live.remove(h)
            continue
        h = table.create_socket(1) if rng.random() < 0.5 else table.create_event()
        assert type(h) is int
        assert 0 < h < 2**32
        assert h % 4 == 0
        assert h not in (INVALID_SOCKET, WSA_INVALID_EVENT)
        assert h not in live, "a live value was handed out twice"
        live.add(h)
    assert set(table) == live
    assert len(table) == len(live)


def test_hot_methods_take_handles_positionally(table: Any) -> None:
    s = table.create_socket(1)
    with pytest.raises(TypeError):
        table.context(s=s)
    with pytest.raises(TypeError):
        table.close_socket(s=s)
    assert s in table


# ----------------------------------------------------------------- bad values and types

# Values that are not a live handle of any kind.  Each is a function of the populated table
# so that closed handles and near misses of live ones are included.
NOT_LIVE = {
    "zero": lambda h: 0,
    "false": lambda h: False,
    "true": lambda h: True,
    "minus4": lambda h: -4,
    "minus1": lambda h: -1,
    "invalid_socket": lambda h: INVALID_SOCKET,
    "2**32": lambda h: 2**32,
    "2**64": lambda h: 2**64,
    "2**100": lambda h: 2**100,
    "-2**100": lambda h: -(2**100),
    "closed_socket": lambda h: h["closed_s"],
    "closed_event": lambda h: h["closed_e"],
    "closed_event|1": lambda h: h["closed_e"] | 1,
    "socket+2**32": lambda h: h["s1"] + 2**32,
    "socket+2**64": lambda h: h["s1"] + 2**64,
    "event+2**32": lambda h: h["e1"] + 2**32,
    "event+2**64": lambda h: h["e1"] + 2**64,
    "-socket": lambda h: -h["s1"],
    "-event": lambda h: -h["e1"],
    "never_made": lambda h: 2**32 - 4,
}
SOCKET_METHODS = ["context", "catalog_entry", "close_socket"]
EVENT_METHODS = ["set_event", "reset_event", "event_is_set", "close_event"]


@pytest.mark.parametrize("value", list(NOT_LIVE.values()), ids=list(NOT_LIVE))
@pytest.mark.parametrize("method", SOCKET_METHODS)
def test_socket_method_refuses_a_value_that_is_not_a_live_socket(
    table: Any, method: str, value: Callable[[dict[str, int]], int]
) -> None:
    handles = populated(table)
    before = snapshot(table)
    raises_winsock(WSAENOTSOCK, getattr(table, method), value(handles))
    assert snapshot(table) == before


@pytest.mark.parametrize("value", list(NOT_LIVE.values()), ids=list(NOT_LIVE))
@pytest.mark.parametrize("method", EVENT_METHODS)
def test_event_method_refuses_a_value_that_is_not_a_live_event(
    table: Any, method: str, value: Callable[[dict[str, int]], int]
) -> None:
    handles = populated(table)
    before = snapshot(table)
    raises_winsock(WSA_INVALID_HANDLE, getattr(table, method), value(handles))
    assert snapshot(table) == before


@pytest.mark.parametrize("value", list(NOT_LIVE.values()), ids=list(NOT_LIVE))
def test_kind_and_in_of_a_value_that_is_not_live(table: Any, value: Callable[[dict[str, int]], int]) -> None:
    handles = populated(table)
    before = snapshot(table)
    assert table.kind(value(handles)) is None
    assert value(handles) not in table
    assert snapshot(table) == before


WRONG_TYPES = {"str": "4", "None": None, "float": 4.0, "bytes": b"\x04"}
HANDLE_METHODS = SOCKET_METHODS + EVENT_METHODS + ["kind"]


@pytest.mark.parametrize("bad", list(WRONG_TYPES.values()), ids=list(WRONG_TYPES))
@pytest.mark.parametrize("method", HANDLE_METHODS)
def test_wrong_handle_type_is_a_type_error_and_changes_nothing(
    core: Any, table: Any, method: str, bad: Any
) -> None:
    populated(table)
    reference = core.HandleTable()
    populated(reference)
    before = snapshot(table)
    with pytest.raises(TypeError):
        getattr(table, method)(bad)
    assert snapshot(table) == before
    assert table.create_event() == reference.create_event()


@pytest.mark.parametrize("method", ["context", "catalog_entry", "kind"])
def test_handles_accept_index_objects(table: Any, method: str) -> None:
    s = table.create_socket(5, "ctx")
    assert getattr(table, method)(Index(s)) == getattr(table, method)(s)
    table.close_socket(Index(s))
    assert s not in table


def test_event_methods_accept_index_objects(table: Any) -> None:
    e = table.create_event()
    table.set_event(Index(e))
    assert table.event_is_set(Index(e)) is True
    table.reset_event(Index(e))
    assert table.event_is_set(e) is False
    table.close_event(Index(e))
    assert e not in table


# ----------------------------------------------------- sockets and events do not mix


@pytest.mark.parametrize("method", EVENT_METHODS)
def test_a_socket_is_not_an_event(table: Any, method: str) -> None:
    ctx = object()
    s = table.create_socket(1, ctx)
    raises_winsock(WSA_INVALID_HANDLE, getattr(table, method), s)
    assert table.kind(s) == "socket"
    assert table.context(s) is ctx


@pytest.mark.parametrize("method", SOCKET_METHODS)
def test_an_event_is_not_a_socket(table: Any, method: str) -> None:
    e = table.create_event()
    table.set_event(e)
    raises_winsock(WSAENOTSOCK, getattr(table, method), e)
    assert table.kind(e) == "event"
    assert table.event_is_set(e) is True


def test_sockets_and_events_share_one_namespace(table: Any) -> None:
    handles = []
    for i in range(200):
        handles.append(table.create_socket(i) if i % 2 else table.create_event())
    assert len(set(handles)) == len(handles)


# -------------------------------------------------------------------------- tag bits


@pytest.mark.parametrize("tag", [1, 2, 3])
def test_event_handles_ignore_the_two_low_tag_bits(table: Any, tag: int) -> None:
    e = table.create_event()
    tagged = e | tag
    assert tagged in table
    assert table.kind(tagged) == "event"
    table.set_event(tagged)
    assert table.event_is_set(e) is True
    assert table.event_is_set(tagged) is True
    table.reset_event(tagged)
    assert table.event_is_set(e) is False
    assert list(table) == [e]  # iteration gives the value as created, never a tagged one
    table.close_event(tagged)
    assert e not in table
    assert tagged not in table
    raises_winsock(WSA_INVALID_HANDLE, table.set_event, e)


@pytest.mark.parametrize("tag", [1, 2, 3])
def test_socket_handles_compare_by_their_full_value(table: Any, tag: int) -> None:
    ctx = object()
    s = table.create_socket(1, ctx)
    tagged = s | tag
    assert tagged not in table
    assert table.kind(tagged) is None
    raises_winsock(WSAENOTSOCK, table.context, tagged)
    raises_winsock(WSAENOTSOCK, table.catalog_entry, tagged)
    raises_winsock(WSAENOTSOCK, table.close_socket, tagged)
    # A tagged socket is not an event either (its untagged value names a socket).
    raises_winsock(WSA_INVALID_HANDLE, table.set_event, tagged)
    assert table.context(s) is ctx


# ----------------------------------------------------------------------- max_handles


def test_default_max_handles(core: Any, table: Any) -> None:
    assert core.DEFAULT_MAX_HANDLES == 2**22
    assert ws2core.DEFAULT_MAX_HANDLES == 2**22
    assert table.max_handles == core.DEFAULT_MAX_HANDLES


@pytest.mark.parametrize("value", [1, 2, 1000, 2**24])
def test_max_handles_accepts_1_to_2_24(core: Any, value: int) -> None:
    assert core.HandleTable(max_handles=value).max_handles == value
    assert core.MAX_MAX_HANDLES == 2**24


@pytest.mark.parametrize("value", [0, -1, 2**24 + 1, 2**64, -(2**100)])
def test_max_handles_out_of_range_is_a_value_error(core: Any, value: int) -> None:
    with pytest.raises(ValueError):
        core.HandleTable(max_handles=value)


@pytest.mark.parametrize("value", ["16", 16.0, b"16"], ids=["str", "float", "bytes"])
def test_max_handles_of_another_type_is_a_type_error(core: Any, value: Any) -> None:
    with pytest.raises(TypeError):
        core.HandleTable(max_handles=value)


def test_max_handles_none_is_the_default(core: Any) -> None:
    assert core.HandleTable(max_handles=None).max_handles == core.DEFAULT_MAX_HANDLES


def test_max_handles_is_keyword_only_and_read_only(core: Any, small_table: Any) -> None:
    with pytest.raises(TypeError):
        core.HandleTable(16)
    with pytest.raises(AttributeError):
        small_table.max_handles = 100
    assert small_table.max_handles == 4


def test_a_full_table_refuses_both_kinds_and_recovers_after_a_close(small_table: Any) -> None:
    t = small_table  # max_handles=4, sockets and events counted together
    s1, e1 = t.create_socket(1, "a"), t.create_event()
    s2, e2 = t.create_socket(2, "b"), t.create_event()
    before = snapshot(t)
    raises_winsock(WSAENOBUFS, t.create_socket, 3, object())
    raises_winsock(WSA_NOT_ENOUGH_MEMORY, t.create_event)
    assert snapshot(t) == before

    t.close_socket(s1)  # a socket's slot can go to an event ...
    e3 = t.create_event()
    assert t.kind(e3) == "event"
    raises_winsock(WSAENOBUFS, t.create_socket, 3)

    t.close_event(e1)  # ... and an event's to a socket
    s3 = t.create_socket(3, "c")
    assert t.context(s3) == "c"
    raises_winsock(WSA_NOT_ENOUGH_MEMORY, t.create_event)
    assert list(t) == [s2, e2, e3, s3]


def test_max_handles_one(core: Any) -> None:
    t = core.HandleTable(max_handles=1)
    s = t.create_socket(1)
    raises_winsock(WSA_NOT_ENOUGH_MEMORY, t.create_event)
    t.close_socket(s)
    e = t.create_event()
    raises_winsock(WSAENOBUFS, t.create_socket, 1)
    assert list(t) == [e]


# ----------------------------------------------------------------- close() and `with`


def test_close_closes_every_handle_and_the_table_stays_usable(table: Any) -> None:
    handles = populated(table)
    old = set(table)
    assert table.close() is None
    assert len(table) == 0
    assert list(table) == []
    raises_winsock(WSAENOTSOCK, table.context, handles["s1"])
    raises_winsock(WSA_INVALID_HANDLE, table.event_is_set, handles["e2"])
    assert table.close() is None  # closing an empty table is fine
    # Still usable, and the closed values are quarantined like any other closed value.
    s = table.create_socket(9, "new")
    e = table.create_event()
    assert table.context(s) == "new"
    assert list(table) == [s, e]
    assert not {s, e} & old


def test_with_returns_the_table_and_closes_it(core: Any) -> None:
    with core.HandleTable(max_handles=8) as t:
        assert isinstance(t, core.HandleTable)
        s = t.create_socket(1)
        t.create_event()
    assert len(t) == 0
    assert s not in t
    assert t.max_handles == 8
    t.create_socket(1)
    assert len(t) == 1


def test_with_closes_the_table_when_the_body_raises(core: Any) -> None:
    t = core.HandleTable()
    with pytest.raises(KeyError):
        with t:
            t.create_socket(1)
            t.create_event()
            raise KeyError("body failed")
    assert len(t) == 0


# ------------------------------------------------------------------------------ repr


def test_repr_says_what_the_table_holds(core: Any) -> None:
    t = core.HandleTable(max_handles=1234)
    sockets = [t.create_socket(i) for i in range(3)]
    t.create_event()
    text = repr(t)
    assert text.startswith("<HandleTable")
    assert re.search(r"\b3 sockets\b", text), text
    assert re.search(r"\b1 events?\b", text), text
    assert "1234" in text
    t.close_socket(sockets[0])
    t.create_event()
    text = repr(t)
    assert re.search(r"\b2 sockets\b", text), text
    assert re.search(r"\b2 events\b", text), text


def test_repr_shows_the_default_max(table: Any) -> None:
    assert str(table.max_handles) in repr(table)
    assert re.search(r"\b0 sockets\b", repr(table))


# ------------------------------------------------------------------------ WinsockError


@pytest.mark.parametrize(
    "method, code",
    [("context", WSAENOTSOCK), ("set_event", WSA_INVALID_HANDLE)],
)
def test_winsock_error(table: Any, method: str, code: int) -> None:
    error = raises_winsock(code, getattr(table, method), 4096)
    assert isinstance(error, OSError)
    assert error.winerror == code
    assert error.errno is None
    # "WSAENOTSOCK (10038): not a socket handle of this table"
    assert str(error).startswith(f"{errorname(code)} ({code})")
    assert errorname(code) != str(code)


def test_winsock_error_message_names_the_code() -> None:
    error = ws2core.WinsockError(WSAENOTSOCK)
    assert str(error) == "WSAENOTSOCK (10038): not a socket handle of this table"
    assert error.errno is None
    assert str(ws2core.WinsockError(WSAENOBUFS, "custom")) == "WSAENOBUFS (10055): custom"


def test_full_table_errors_are_winsock_errors(small_table: Any) -> None:
    for _ in range(4):
        small_table.create_event()
    raises_winsock(WSAENOBUFS, small_table.create_socket, 1)
    error = raises_winsock(WSA_NOT_ENOUGH_MEMORY, small_table.create_event)
    assert str(error).startswith(f"WSA_NOT_ENOUGH_MEMORY ({WSA_NOT_ENOUGH_MEMORY})")


# --------------------------------------------------------------------- the quarantine


def create_then_close(table: Any, use_socket: bool) -> int:
    if use_socket:
        h = table.create_socket(1)
        table.close_socket(h)
    else:
        h = table.create_event()
        table.close_event(h)
    return h


def test_reuse_delay(core: Any) -> None:
    assert core.REUSE_DELAY == REUSE_DELAY
    assert ws2core.REUSE_DELAY == REUSE_DELAY


@pytest.mark.parametrize("closed_kind", ["socket", "event"])
def test_a_closed_value_stays_dead_for_reuse_delay_creations(core: Any, closed_kind: str) -> None:
    # Small max_handles: the quarantine must not depend on a large cap, and creating then
    # closing keeps the table small while the creation count climbs.
    t = core.HandleTable(max_handles=4)
    witness = t.create_socket(0, "witness")
    x = t.create_socket(1) if closed_kind == "socket" else t.create_event()
    (t.close_socket if closed_kind == "socket" else t.close_event)(x)
    for i in range(REUSE_DELAY):
        # Sockets and events together: both kinds count as creations.
        h = create_then_close(t, use_socket=i % 2 == 0)
        assert h != x, f"closed value came back after {i + 1} creations"
        if closed_kind == "socket" and i % 16 == 0:  # use after close stays refused
            raises_winsock(WSAENOTSOCK, t.context, x)
    # The 65,537th creation after the close takes the head of the free list: x, now of the
    # other kind, and it is the newest handle in iteration order.
    if closed_kind == "socket":
        reused = t.create_event()
        assert t.kind(x) == "event"
        raises_winsock(WSAENOTSOCK, t.context, x)
    else:
        reused = t.create_socket(5, "new life")
        assert t.context(x) == "new life"
        raises_winsock(WSA_INVALID_HANDLE, t.event_is_set, x)
    assert reused == x
    assert list(t) == [witness, x]


def test_the_quarantine_counts_creations_not_closes(core: Any) -> None:
    # Close x, then close 65,536 more handles without creating any: a table that counted
    # closes would hand x out at once; the contract counts creations since x's close.
    t = core.HandleTable()
    x = t.create_socket(1)
    others = [t.create_event() for _ in range(REUSE_DELAY)]
    t.close_socket(x)
    for h in others:
        t.close_event(h)
    assert len(t) == 0
    for i in range(REUSE_DELAY):
        h = create_then_close(t, use_socket=i % 3 != 0)
        assert h != x, f"closed value came back after {i + 1} creations"
    assert t.create_socket(1) == x


class ReuseModel:
    """The exact reuse rule (HandleTable's docstring; DESIGN.md §1 asks for at least this bound).

    Fresh values are (n+1)*4 for the n-th fresh slot; each closed value joins a FIFO stamped
    with creation_count_at_close + REUSE_DELAY; a creation takes the FIFO head once
    creation_count >= its stamp, else a fresh value.  creation_count counts successful
    creations (sockets and events together) made before the one being decided; a creation
    refused by a full table does not count.
    """

    def __init__(self) -> None:
        self.creations = 0
        self.fresh = 0
        self.free: collections.deque[tuple[int, int]] = collections.deque()
        self.reused = 0

    def create(self) -> int:
        if self.free and self.creations >= self.free[0][1]:
            value = self.free.popleft()[0]
            self.reused += 1
        else:
            self.fresh += 1
            value = self.fresh * 4
        self.creations += 1
        return value

    def close(self, value: int) -> None:
        self.free.append((value, self.creations + REUSE_DELAY))


def test_handle_values_follow_the_exact_reuse_rule(core: Any) -> None:
    t = core.HandleTable(max_handles=64)
    model = ReuseModel()
    rng = random.Random(20240601)
    live: list[int] = []  # in creation order, like iteration
    refused = 0
    while model.creations < REUSE_DELAY + 6000:
        if len(live) == 64 and rng.random() < 0.3:
            # A creation refused by a full table is not a creation: the clock stays put.
            if rng.random() < 0.5:
                raises_winsock(WSAENOBUFS, t.create_socket, 1)
            else:
                raises_winsock(WSA_NOT_ENOUGH_MEMORY, t.create_event)
            refused += 1
        elif len(live) == 64 or (live and rng.random() < 0.5):
            h = live.pop(rng.randrange(len(live)))
            (t.close_socket if t.kind(h) == "socket" else t.close_event)(h)
            model.close(h)
        else:
            h = t.create_socket(1) if rng.random() < 0.5 else t.create_event()
            expected = model.create()
            assert h == expected, f"creation #{model.creations}: got {h}, rule says {expected}"
            live.append(h)
    assert model.reused > 2000  # the run did reach the reuse phase
    assert refused > 0  # and did meet a full table
    assert list(t) == live
    assert len(t) == len(live)


def test_range_errors_state_the_range(core: Any) -> None:
    """The bound in the message is the DWORD maximum, as a number (not a C int's -1)."""
    with pytest.raises(ValueError, match=r"\(0\.\.4294967295\), not -1"):
        core.HandleTable().create_socket(-1)
    with pytest.raises(ValueError, match=r"1\.\.4294967295, not 0"):
        core.FdSet(capacity=0)
