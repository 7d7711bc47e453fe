"""Thread stress: eight threads on one table, every kind of operation mixed, invariants at the end.

Each thread runs a seeded random mix of socket creation (with a context only it knows), its own
lookups through the Pythonic method, the drop-in upcall and a batch, closes (one by one and in
batches), events (create, set, a zero-timeout wait, reset, close), FD_ISSET over an FdSet of
its own sockets and probes of handles that are not its own.  At the end: no handle is live
twice, the table holds exactly what the threads left open, each with its own context (so every
context is reachable exactly once), and len(), iteration and kind() agree.

The default size keeps the file within seconds on both cores; ``WS2CORE_LONG=1`` runs the long
stress: eight threads of 1,000,000 operations each.  The native table's stress from C threads
is in tests/test_native.py (test_hammer_c_and_python_threads), scaled the same way.
"""

from __future__ import annotations

import os
import random
from typing import Any

import pytest

import ws2core
from ws2core import WSAENOTSOCK

from support import assert_consistent, run_threads

pytestmark = pytest.mark.usefixtures("frequent_switches")  # from conftest.py

LONG = os.environ.get("WS2CORE_LONG", "") == "1"
THREADS = 8
OPERATIONS = 1_000_000 if LONG else 25_000  # per thread


class Token:
    """A context only its thread holds: identity proves which thread a socket belongs to."""

    __slots__ = ("thread", "serial")

    def __init__(self, thread: int, serial: int) -> None:
        self.thread = thread
        self.serial = serial


def test_eight_threads_of_mixed_operations(core: Any) -> None:
    table = core.HandleTable()
    up = ws2core.UpcallTable(table)
    left_open: dict[int, dict[int, Token]] = {}

    def work(me: int) -> None:
        rng = random.Random(me)
        mine: dict[int, Token] = {}
        ref, err = core.Ref(), core.Ref()
        serial = 0
        done = 0
        while done < OPERATIONS:
            choice = rng.random()
            if choice < 0.25 or not mine:  # create, one or a few
                count = 1 if rng.random() < 0.8 else rng.randrange(2, 9)
                tokens = []
                for _ in range(count):
                    serial += 1
                    tokens.append(Token(me, serial))
                handles = (
                    [table.create_socket(me, tokens[0])] if count == 1
                    else list(table.create_sockets(me, tokens))
                )
                for h, token in zip(handles, tokens):
                    assert h not in mine, f"{h:#x} handed out twice to thread {me}"
                    mine[h] = token
                done += count
            elif choice < 0.55:  # look up my own, three ways
                h = rng.choice(list(mine))
                assert table.context(h) is mine[h]
                assert up.WPUQuerySocketHandleContext(h, ref, err) == 0 and ref.value is mine[h]
                sample = rng.sample(list(mine), min(len(mine), 4))
                assert table.contexts(sample) == [mine[s] for s in sample]
                done += 3
            elif choice < 0.75:  # close, one or a batch
                victims = rng.sample(list(mine), min(len(mine), rng.randrange(1, 4)))
                if len(victims) == 1:
                    assert up.WPUCloseSocketHandle(victims[0], err) == 0
                else:
                    assert table.close_sockets(victims) == []
                for v in victims:
                    del mine[v]
                done += len(victims)
            elif choice < 0.85:  # an event's life
                e = table.create_event()
                table.set_event(e)
                assert table.wait([e], timeout=0) == 0
                table.reset_event(e)
                assert table.wait([e], timeout=0) is None
                table.close_event(e)
                done += 5
            elif choice < 0.93:  # FD_ISSET over a set of my own sockets
                members = rng.sample(list(mine), min(len(mine), 64))
                fds = core.FdSet(members, capacity=64)
                assert all(core.FD_ISSET(h, fds) == 1 for h in members[:4])
                assert fds.contains_each(members) == [True] * len(members)
                done += 2
            else:  # someone else's handle, or nothing: never one of mine, never a crash
                probe = 4 * rng.randrange(1, 4 * THREADS * 64)
                try:
                    seen = table.context(probe)
                except ws2core.WinsockError as exc:
                    assert exc.winerror == WSAENOTSOCK
                else:
                    assert probe in mine or not isinstance(seen, Token) or seen.thread != me
                done += 1
            if len(mine) > 200:  # keep the table from growing without bound
                victims = list(mine)[:100]
                assert table.close_sockets(victims) == []
                for v in victims:
                    del mine[v]
        left_open[me] = mine

    assert not run_threads(THREADS, work)

    handles = assert_consistent(table)
    expected = {h: token for mine in left_open.values() for h, token in mine.items()}
    assert len(left_open) == THREADS
    assert len(table) == len(expected) and set(handles) == set(expected)
    assert all(table.kind(h) == "socket" for h in handles)
    for h, token in expected.items():
        assert table.context(h) is token and table.catalog_entry(h) == token.thread
