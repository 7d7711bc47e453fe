#!/usr/bin/env python3
"""Fuzz harness: arbitrary operation sequences on one HandleTable + UpcallTable + FdSet per
core, driven in lockstep.

The input picks ``max_handles`` (often tiny, so the "table full" paths run), sometimes a
``handle_range`` only a few values wider (so closed values come back soon) and the x86 ABI,
an FdSet capacity, then a sequence of operations with arguments drawn from the input: handle values
previously returned (live or closed, with tag bits), small handle-like ints, negative, huge,
__index__ objects, wrong types; catalog ids in and out of DWORD range; context objects shared
by both sides (so ``context()`` must return the very object); out-parameters of several kinds
(each core's Ref, ws2core.Ref, ctypes c_int / c_size_t / py_object, an object without
``.value``).  Operations:

* HandleTable: create_socket, close_socket, context, catalog_entry, create_event, set_event,
  reset_event, event_is_set, close_event, kind, ``in``, len, iteration, create_sockets,
  contexts, close_sockets, wait (poll, timeout 0), close;
* UpcallTable: WPUCreateSocketHandle, WPUQuerySocketHandleContext, WPUCloseSocketHandle,
  WPUCreateEvent, WPUSetEvent, WPUResetEvent, WPUCloseEvent, WPUFDIsSet, the stubs,
  WSAGetLastError, via the WPU names and the lpWPU aliases;
* FdSet: add, discard, ``in``, contains_each, clear.

Every result, exception type and winerror, and what the out-parameters hold afterwards, must
agree; at the end the whole observable state (len, list, repr, kind of every value seen,
contexts of the live sockets, event states, the FdSet) must agree too.  An exception other
than TypeError / ValueError / WinsockError is a finding.

    python fuzz/fuzz_upcalls.py -max_total_time=60          # atheris
    python fuzz/fuzz_upcalls.py --fallback --seconds 60     # plain Python
"""

from __future__ import annotations

import ctypes
import os
import sys
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402
from _common import INVALID_SOCKET, Index, Reader, both, draw_int  # noqa: E402


class Context:
    """A provider's per-socket state object (compared by identity)."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __repr__(self) -> str:
        return f"Context({self.n})"


UNTOUCHED = object()
OUT_KINDS = ["Ref", "ws2core.Ref", "c_int", "c_size_t", "py_object", "c_uint8", "no .value"]
MAX_HANDLES = [1, 2, 3, 4, 5, 8, 16, 1024, 0, -1, 2**24 + 1, "4", None, Index(3)]


def out_parameter(kind: str, side: Any) -> Any:
    if kind == "Ref":
        return side.core.Ref(UNTOUCHED)
    if kind == "ws2core.Ref":
        return _common.ws2core.Ref(UNTOUCHED)
    if kind == "py_object":
        return ctypes.py_object(UNTOUCHED)
    if kind == "no .value":
        return SimpleNamespace()
    return getattr(ctypes, kind)(7)


def read(out: Any) -> Any:
    return getattr(out, "value", "<no .value>")


def draw_catalog(r: Reader) -> Any:
    k = r.below(8)
    if k <= 3:
        return r.below(16)
    if k == 4:
        return r.uint(4)
    if k == 5:
        return r.choice([-1, 2**32, 2**32 - 1, 2**64, -(2**40)])
    if k == 6:
        return Index(r.below(16))
    return r.choice(_common.WRONG_TYPES)


def draw_context(r: Reader, pool: list[Any]) -> Any:
    k = r.below(6)
    if k <= 2:
        return pool[r.below(len(pool))]
    if k == 3:
        return r.uint(9) - 2**71
    if k == 4:
        return r.choice([None, 0, -1, 2**64 - 1, 2**64, "state", b"raw", 3.5])
    return Context(r.byte())


class Run:
    def __init__(self, r: Reader) -> None:
        self.r = r
        self.seen: list[int] = []
        self.pool = [Context(i) for i in range(4)]
        max_handles = MAX_HANDLES[r.below(len(MAX_HANDLES))] if r.byte() & 3 else 8
        handle_range = None
        if r.byte() & 1:  # first and width from the input; a bad pair is a ValueError on both
            first = 4 * (1 + r.below(1 << 16))
            handle_range = (first, first + 4 * (r.below(24) - 1))
        abi = "x86" if r.byte() & 1 else "x64"
        capacity = r.choice([1, 2, 4, 64])
        self.sides = [SimpleNamespace(core=core) for core in _common.CORES]

        def make(side: Any) -> str:
            side.table = side.core.HandleTable(max_handles=max_handles, handle_range=handle_range,
                                               abi=abi)
            side.up = _common.ws2core.UpcallTable(side.table)
            side.fds = side.core.FdSet(capacity=capacity, abi=abi)
            return repr(side.table)

        self.ok = both(f"HandleTable(max_handles={max_handles!r}, handle_range={handle_range}, "
                       f"abi={abi!r})", make, self.sides)[0] == "returned"

    def remember(self, value: Any) -> None:
        if isinstance(value, int) and value not in (0, INVALID_SOCKET) and value not in self.seen:
            self.seen.append(value)

    def h(self) -> Any:
        r = self.r
        if self.seen and r.byte() & 1:  # favour live handles so the success paths run
            live = list(self.sides[1].table)
            if live and r.byte() & 1:
                return live[r.below(len(live))]
        return draw_int(r, self.seen)

    def handles(self) -> list[Any]:
        return [self.h() for _ in range(self.r.below(6))]

    def both(self, label: str, operation: Any) -> tuple[Any, ...]:
        return both(label, operation, self.sides)

    def step(self) -> None:
        r = self.r
        op = r.below(24)
        lp = "lp" if r.byte() & 1 else ""
        if op == 0:
            catalog, context = draw_catalog(r), draw_context(r, self.pool)
            res = self.both(f"create_socket({catalog!r}, {context!r})",
                            lambda s: s.table.create_socket(catalog, context))
            if res[0] == "returned":
                self.remember(res[1])
        elif op in (1, 2, 3):
            method = ("close_socket", "context", "catalog_entry")[op - 1]
            h = self.h()
            self.both(f"{method}({h!r})", lambda s: getattr(s.table, method)(h))
        elif op == 4:
            res = self.both("create_event()", lambda s: s.table.create_event())
            if res[0] == "returned":
                self.remember(res[1])
        elif op in (5, 6):
            method = r.choice(["set_event", "reset_event", "close_event", "event_is_set"])
            h = self.h()
            self.both(f"{method}({h!r})", lambda s: getattr(s.table, method)(h))
        elif op == 7:
            h = self.h()
            self.both(f"kind/in({h!r})", lambda s: (s.table.kind(h), h in s.table))
        elif op == 8:
            self.both("len/list", lambda s: (len(s.table), list(s.table)))
        elif op == 9:
            catalog = draw_catalog(r)
            contexts = [draw_context(r, self.pool) for _ in range(r.below(6))]
            if r.byte() % 8 == 0:
                contexts = iter(contexts)  # type: ignore[assignment]  # an iterator, once
                label_contexts: Any = "iter"
            else:
                label_contexts = contexts

            def create_many(s: Any, c: Any = contexts) -> Any:
                given = list(c) if isinstance(c, list) else c
                arr = s.table.create_sockets(catalog, given)
                return arr.typecode, arr.tolist()

            if not isinstance(contexts, list):  # each side needs its own iterator
                items = list(contexts)
                res = self.both(f"create_sockets({catalog!r}, iter {items!r})",
                                lambda s: create_many(s, iter(items)))
            else:
                res = self.both(f"create_sockets({catalog!r}, {label_contexts!r})", create_many)
            if res[0] == "returned":
                for value in res[1][1]:
                    self.remember(value)
        elif op == 10:
            hs = self.handles()
            self.both(f"contexts({hs!r})", lambda s: s.table.contexts(hs))
        elif op == 11:
            hs = self.handles()
            self.both(f"close_sockets({hs!r})", lambda s: s.table.close_sockets(hs))
        elif op == 12:
            catalog, context, errno = draw_catalog(r), draw_context(r, self.pool), r.choice(OUT_KINDS)

            def create(s: Any) -> Any:
                err = out_parameter(errno, s)
                return getattr(s.up, lp + "WPUCreateSocketHandle")(catalog, context, err), read(err)

            res = self.both(f"WPUCreateSocketHandle({catalog!r}, {context!r}, {errno})", create)
            if res[0] == "returned":
                self.remember(res[1][0])
        elif op == 13:
            h, ctxkind, errno = self.h(), r.choice(OUT_KINDS), r.choice(OUT_KINDS)

            def query(s: Any) -> Any:
                ctx, err = out_parameter(ctxkind, s), out_parameter(errno, s)
                result = getattr(s.up, lp + "WPUQuerySocketHandleContext")(h, ctx, err)
                return result, read(ctx), read(err)

            self.both(f"WPUQuerySocketHandleContext({h!r}, {ctxkind}, {errno})", query)
        elif op == 14:
            h, errno = self.h(), r.choice(OUT_KINDS)

            def close(s: Any) -> Any:
                err = out_parameter(errno, s)
                return getattr(s.up, lp + "WPUCloseSocketHandle")(h, err), read(err)

            self.both(f"WPUCloseSocketHandle({h!r}, {errno})", close)
        elif op == 15:
            errno = r.choice(OUT_KINDS)

            def create_event(s: Any) -> Any:
                err = out_parameter(errno, s)
                return getattr(s.up, lp + "WPUCreateEvent")(err), read(err)

            res = self.both(f"WPUCreateEvent({errno})", create_event)
            if res[0] == "returned":
                self.remember(res[1][0])
        elif op == 16:
            upcall, h, errno = r.choice(["WPUSetEvent", "WPUResetEvent", "WPUCloseEvent"]), self.h(), r.choice(OUT_KINDS)

            def event_call(s: Any) -> Any:
                err = out_parameter(errno, s)
                return getattr(s.up, lp + upcall)(h, err), read(err)

            self.both(f"{upcall}({h!r}, {errno})", event_call)
        elif op == 17:
            h, flavour = self.h(), r.below(3)

            def is_set(s: Any) -> Any:
                fds = (s.fds, bytes(memoryview(s.fds)), bytearray(memoryview(s.fds)))[flavour]
                return getattr(s.up, lp + "WPUFDIsSet")(h, fds)

            self.both(f"WPUFDIsSet({h!r}, flavour {flavour})", is_set)
        elif op == 18:
            method, h = r.choice(["add", "discard", "in", "contains_each", "clear"]), self.h()
            hs = [h, *self.handles()]
            calls = {"add": lambda s: s.fds.add(h), "discard": lambda s: s.fds.discard(h),
                     "in": lambda s: h in s.fds, "contains_each": lambda s: s.fds.contains_each(hs),
                     "clear": lambda s: s.fds.clear()}
            self.both(f"FdSet.{method}({h!r}, {hs!r})", lambda s: (calls[method](s), bytes(s.fds), len(s.fds)))
        elif op == 19:
            stub, errno = r.choice(["WPUGetProviderPath", "WPUModifyIFSHandle", "WPUPostMessage",
                                    "WPUQueryBlockingCallback", "WPUQueueApc", "WPUOpenCurrentThread",
                                    "WPUCloseThread"]), r.choice(OUT_KINDS)
            arity = {"WPUGetProviderPath": 3, "WPUModifyIFSHandle": 2, "WPUPostMessage": 4,
                     "WPUQueryBlockingCallback": 3, "WPUQueueApc": 3, "WPUOpenCurrentThread": 1,
                     "WPUCloseThread": 1}[stub]
            args = [self.h() for _ in range(arity)]

            def call_stub(s: Any) -> Any:
                err = out_parameter(errno, s)
                full = args if stub == "WPUPostMessage" else [*args, err]
                return getattr(s.up, lp + stub)(*full), read(err), s.up.WSAGetLastError()

            self.both(f"{stub}({args!r}, {errno})", call_stub)
        elif op == 20:
            events, wait_all = self.handles(), bool(r.byte() & 1)
            self.both(f"wait({events!r}, {wait_all}, timeout=0)",
                      lambda s: s.table.wait(events, wait_all, 0))
        elif op == 21:
            if r.byte() % 4 == 0:
                self.both("close()", lambda s: s.table.close())
        elif op == 22:
            self.both("WSAGetLastError", lambda s: s.up.WSAGetLastError())
        else:
            h = self.h()
            self.both(f"{h!r} in table, kind", lambda s: (h in s.table, s.table.kind(h), len(s.table)))

    def final_state(self) -> None:
        def state(s: Any) -> Any:
            table = s.table
            live = list(table)
            out = [len(table), live, repr(table), [table.kind(h) for h in self.seen],
                   _common.outcome(lambda t: t.contexts([h for h in live if t.kind(h) == "socket"]), table),
                   [table.event_is_set(h) for h in live if table.kind(h) == "event"],
                   bytes(s.fds), list(s.fds), repr(s.fds), s.up.WSAGetLastError()]
            for h in live:
                if table.kind(h) == "socket":
                    out.append((table.context(h), table.catalog_entry(h)))
            return out

        self.both("final state", state)


def TestOneInput(data: bytes) -> None:
    r = Reader(data)
    run = Run(r)
    if not run.ok:
        return
    steps = 0
    while not r.exhausted and steps < 64:
        run.step()
        steps += 1
    run.final_state()


if __name__ == "__main__":
    _common.main(TestOneInput)
