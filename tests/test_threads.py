"""Many threads on one table (DESIGN.md §3 thread model: every operation is safe from many
threads).

Several threads create, query and close sockets and events at once, through the Pythonic
methods and the upcalls.  Checked: no two threads ever hold the same live handle (a global
registry of owners, and each thread finds its own unique context before closing), each
thread's events keep the states it gave them, max_handles holds under contention, a reader
iterating the table meanwhile never fails, and at the end len() and iteration agree with
what the threads left open.  Iteration counts are bounded so the file stays within seconds.
"""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest

import ws2core
from ws2core import INVALID_SOCKET, WSA_INVALID_EVENT, WSA_NOT_ENOUGH_MEMORY, WSAENOBUFS, UpcallTable

from support import run_threads

THREADS = 6
ITERATIONS = 10000
JOIN_TIMEOUT = 60.0  # a deadlock fails the test instead of hanging the suite


pytestmark = pytest.mark.usefixtures("frequent_switches")  # from conftest.py


class Token:
    """A context that only its owning thread knows: identity proves ownership."""

    __slots__ = ("owner", "serial")

    def __init__(self, owner: int, serial: int) -> None:
        self.owner = owner
        self.serial = serial


def test_threads_never_share_a_live_handle(table: Any) -> None:
    up = UpcallTable(table)
    registry: dict[int, int] = {}  # live handle -> owning thread
    registry_lock = threading.Lock()
    left_open: dict[int, dict[int, Any]] = {}  # thread -> its live handles (socket: token)

    def claim(h: int, me: int) -> None:
        with registry_lock:
            owner = registry.get(h)
            assert owner is None, f"handle {h} handed to thread {me} while thread {owner} holds it"
            registry[h] = me

    def release(h: int) -> None:
        # Forget the owner before the close: after the close the value is free to be reissued.
        with registry_lock:
            del registry[h]

    def worker(me: int) -> None:
        rng = random.Random(me)
        err = ws2core.Ref(0)
        out = ws2core.Ref()
        sockets: dict[int, Token] = {}
        events: dict[int, bool] = {}  # event -> the state this thread gave it
        for i in range(ITERATIONS):
            roll = rng.random()
            if roll < 0.25 or not sockets:
                token = Token(me, i)
                if i % 2:
                    s = table.create_socket(me, token)
                else:
                    s = up.WPUCreateSocketHandle(me, token, err)
                    assert s != INVALID_SOCKET, err.value
                claim(s, me)
                sockets[s] = token
            elif roll < 0.4:
                e = table.create_event() if i % 2 else up.WPUCreateEvent(err)
                assert e != WSA_INVALID_EVENT, err.value
                claim(e, me)
                events[e] = False
            elif roll < 0.6:
                s = rng.choice(list(sockets))
                assert table.context(s) is sockets[s]
                assert up.WPUQuerySocketHandleContext(s, out, err) == 0
                assert out.value is sockets[s]
                assert table.catalog_entry(s) == me
                assert table.kind(s) == "socket"
            elif roll < 0.75 and events:
                e = rng.choice(list(events))
                assert table.event_is_set(e) is events[e]  # nobody else touched my event
                if events[e]:
                    table.reset_event(e)
                else:
                    up.WPUSetEvent(e, err)
                events[e] = not events[e]
                assert table.event_is_set(e) is events[e]
            elif roll < 0.9:
                s = rng.choice(list(sockets))
                token = sockets.pop(s)
                assert table.context(s) is token  # still mine, right up to the close
                release(s)
                if i % 2:
                    table.close_socket(s)
                else:
                    assert up.WPUCloseSocketHandle(s, err) == 0
            elif events:
                e = rng.choice(list(events))
                assert table.event_is_set(e) is events.pop(e)
                release(e)
                table.close_event(e)
        left_open[me] = {**sockets, **{e: None for e in events}}

    errors = run_threads(THREADS, worker)
    assert not errors, "\n".join(errors)

    expected: dict[int, Any] = {}
    for handles in left_open.values():
        assert not expected.keys() & handles.keys()
        expected.update(handles)
    assert registry.keys() == expected.keys()
    listed = list(table)
    assert len(table) == len(listed) == len(expected)
    assert set(listed) == expected.keys()
    for h, token in expected.items():
        if token is None:
            assert table.kind(h) == "event"
        else:
            assert table.context(h) is token
            assert table.catalog_entry(h) == token.owner


def test_readers_see_a_consistent_table_while_writers_work(table: Any) -> None:
    # One reader iterates, counts and queries while the others create and close: iteration
    # must never fail (e.g. "dict changed size") and must only list well-formed handles.
    writers = THREADS - 1
    done = threading.Event()
    observed_lengths: list[int] = []
    left_open: dict[int, list[int]] = {}

    def writer(me: int) -> None:
        rng = random.Random(100 + me)
        live: list[int] = []
        left_open[me] = live
        for i in range(ITERATIONS):
            if live and rng.random() < 0.5:
                h = live.pop(rng.randrange(len(live)))
                if table.kind(h) == "socket":
                    table.close_socket(h)
                else:
                    table.close_event(h)
            else:
                live.append(table.create_socket(me, Token(me, i)) if i % 3 else table.create_event())

    def reader() -> None:
        while not done.is_set():
            handles = list(table)
            assert len(set(handles)) == len(handles)
            for h in handles:
                assert type(h) is int and h > 0 and h % 4 == 0
                assert table.kind(h) in ("socket", "event", None)  # None: closed meanwhile
            observed_lengths.append(len(table))
            repr(table)

    # The reader stops once every writer is done.
    counter = {"done": 0}
    counter_lock = threading.Lock()

    def body(i: int) -> None:
        if i == writers:
            reader()
            return
        try:
            writer(i)
        finally:
            with counter_lock:
                counter["done"] += 1
                if counter["done"] == writers:
                    done.set()

    errors = run_threads(writers + 1, body)
    assert not errors, "\n".join(errors)
    assert observed_lengths, "the reader never ran"
    listed = list(table)
    assert len(listed) == len(table)
    assert sorted(listed) == sorted(h for live in left_open.values() for h in live)
    assert all(table.kind(h) in ("socket", "event") for h in listed)


def test_max_handles_holds_under_contention(core: Any) -> None:
    cap = 16
    table = core.HandleTable(max_handles=cap)
    up = UpcallTable(table)
    held: dict[int, list[int]] = {}
    refusals: list[int] = []

    def worker(me: int) -> None:
        rng = random.Random(200 + me)
        err = ws2core.Ref(0)
        mine: list[int] = []
        for i in range(ITERATIONS):
            if mine and rng.random() < 0.3:
                h = mine.pop(rng.randrange(len(mine)))
                if table.kind(h) == "socket":
                    table.close_socket(h)
                else:
                    table.close_event(h)
                continue
            if i % 2:
                s = up.WPUCreateSocketHandle(me, None, err)
                if s == INVALID_SOCKET:
                    assert err.value == WSAENOBUFS
                    refusals.append(me)
                else:
                    mine.append(s)
            else:
                e = up.WPUCreateEvent(err)
                if e == WSA_INVALID_EVENT:
                    assert err.value == WSA_NOT_ENOUGH_MEMORY
                    refusals.append(me)
                else:
                    mine.append(e)
            assert len(mine) <= cap
            assert len(table) <= cap
        held[me] = mine

    errors = run_threads(THREADS, worker)
    assert not errors, "\n".join(errors)
    assert refusals, "the table never filled up: the test did not exercise the cap"
    total = [h for handles in held.values() for h in handles]
    assert len(set(total)) == len(total)
    assert len(total) <= cap
    assert sorted(table) == sorted(total)
    assert len(table) == len(total)
