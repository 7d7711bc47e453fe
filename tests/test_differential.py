"""Differential test: the Cython core and the pure-Python twin driven in lockstep.

A hypothesis ``RuleBasedStateMachine`` holds, for each core, a ``HandleTable`` with a small
``max_handles`` (so "full" happens), of either ABI, sometimes with a ``handle_range`` only a few
values wider (so closed values come back), an ``UpcallTable`` over it and two ``FdSet`` slots
of either layout, all in one process.  Every rule runs the same operation with the same arguments on both sides and
asserts identical results, or identical exception types and ``.winerror``, including what the
upcalls leave in their out-parameters (core ``Ref``, ``ws2core.Ref`` and ctypes ones).  The
operations:

- the ``HandleTable`` methods (create_socket with catalog ids in and out of DWORD range and
  random context objects, create_event, context, catalog_entry, close_socket, set_event,
  reset_event, event_is_set, close_event, kind, ``in``, close), on handle values ever
  returned (live or closed), those values with tag bits ``|1 |2 |3``, arbitrary ints
  (negative, huge) and wrong types; keyword calls of the positional-only methods; the
  constructor with good and bad ``max_handles``;
- the eight upcalls through ``ws2core.UpcallTable(table)`` (and their ``lpWPU…`` aliases);
- ``FdSet`` (construction, add, discard, clear, ``in``, ``==``, from_buffer) and the module's
  FD_SET / FD_CLR / FD_ZERO / FD_ISSET, on each core's sets and crosswise (one core's macros
  on the other core's FdSet), plus a foreign writer poking fd_count and slots, past the
  capacity too.

Invariants after every step: ``len``, ``list`` (iteration), ``repr`` and ``max_handles`` of
the tables agree, as does ``kind`` of every value seen; the FdSets agree in ``list``, ``len``,
``repr``, ``capacity``, ``bytes()`` and every byte of their buffers.

The whole module is skipped when the Cython core is not under test (WS2CORE_PURE_PYTHON=1).
"""

from __future__ import annotations

import ctypes
import operator
import struct
import weakref
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

import ws2core
from ws2core.constants import INVALID_SOCKET

from support import Index

try:  # pytest puts tests/ on sys.path (rootdir-based), so conftest imports as a module
    from conftest import CORES, load_core
except ImportError:  # pragma: no cover - run outside pytest's usual layout

    from ws2core import _implementation

    CORES = _implementation.cores_under_test()

    def load_core(name: str) -> Any:
        try:
            return _implementation.load(name)
        except ImportError as exc:
            pytest.fail(f"{name} core missing ({exc})", pytrace=False)


pytestmark = pytest.mark.skipif(
    "cython" not in CORES,
    reason="WS2CORE_PURE_PYTHON=1: only the pure-Python twin is under test, nothing to compare it with",
)

SIDES = ("cython", "python")  # order of the per-core objects below


class Context:
    """A provider's per-socket state object."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"Context({self.name!r})"


# --- value pools: the same objects go to both cores ----------------------------------------

WRONG_TYPES = st.sampled_from(["4", None, 4.0, b"4", [4]])
ABIS = st.sampled_from(["x64", "x86"])
INTERESTING_INTS = [0, 1, 2, 3, 4, 8, -1, -4, 2**31, 2**32 - 4, 2**32, 2**32 + 4, 2**63,
                    2**64 - 4, INVALID_SOCKET, 2**64, 2**64 + 4]
ARBITRARY_INTS = st.one_of(
    st.sampled_from(INTERESTING_INTS),
    st.integers(0, 40).map(lambda n: 4 * n),
    st.integers(-(2**70), 2**70),
)
CATALOG_IDS = st.one_of(
    st.integers(0, 2**32 - 1),
    st.sampled_from([0, 7, 2**32 - 1, -1, 2**32, 2**64]),
    st.integers(0, 10).map(Index),
    WRONG_TYPES,
)
CONTEXTS = st.one_of(
    st.sampled_from([None, 0, 1, -1, 2**31, 2**32 - 1, 2**63, 2**64 - 1, 2**64, "state", b"raw", 3.5]),
    st.integers(-(2**66), 2**66),
    st.text(max_size=3).map(Context),
)
MAX_HANDLES_VALUES = st.one_of(
    st.integers(1, 8),
    st.sampled_from([-1, 0, 2**24, 2**24 + 1, 2**64, "8", 8.0, None, True]),
    st.integers(1, 8).map(Index),
)
FDSET_CAPACITIES = st.one_of(st.integers(1, 8), st.sampled_from([64, 0, -1, "4", 4.0, None]))

# Out-parameters: (kind, initial value).  Each side gets a fresh one of the same kind.
UNTOUCHED = object()
ERRNO_KINDS = ["Ref", "ws2core.Ref", "c_int", "c_long", "no .value"]
CONTEXT_KINDS = ["Ref", "ws2core.Ref", "c_size_t", "c_uint64", "c_void_p", "c_int", "c_int64",
                 "c_uint8", "c_double", "py_object", "no .value"]
CTYPES_INITIAL = {"c_int": -7, "c_long": -7, "c_size_t": 7, "c_uint64": 7, "c_void_p": 7,
                  "c_int64": -7, "c_uint8": 7, "c_double": 0.5}


def out_parameter(kind: str, side: Any) -> Any:
    if kind == "Ref":
        return side.core.Ref(UNTOUCHED)
    if kind == "ws2core.Ref":
        return ws2core.Ref(UNTOUCHED)
    if kind == "py_object":
        return ctypes.py_object(UNTOUCHED)
    if kind == "no .value":
        return SimpleNamespace()
    return getattr(ctypes, kind)(CTYPES_INITIAL[kind])


NO_VALUE = "<no .value>"


def read(out: Any) -> Any:
    return getattr(out, "value", NO_VALUE)


# --- comparing the two sides ---------------------------------------------------------------


def outcome(operation: Any, side: Any) -> tuple[Any, ...]:
    """What ``operation(side)`` did: ("returned", value) or ("raised", type, winerror)."""
    try:
        return ("returned", operation(side))
    except Exception as error:  # noqa: BLE001 - comparing what each core raises is the point
        return ("raised", type(error), getattr(error, "winerror", None))


def same(a: Any, b: Any) -> bool:
    """Identical results: same type and equal value (identity for objects such as contexts)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(map(same, a, b))
    return a is b or a == b


def fdset_state(fds: Any) -> tuple[Any, ...]:
    """Everything observable about an FdSet, as plain values (the classes differ per core)."""
    return tuple(
        outcome(look, fds)
        for look in (list, len, repr, bytes, lambda f: f.capacity, lambda f: f.abi, lambda f: memoryview(f).tobytes())
    )


def poke(buf: Any, data: bytes, offset: int) -> None:
    with memoryview(buf) as view, view.cast("B") as octets:
        octets[offset : offset + len(data)] = data


MACROS = ["FD_SET", "FD_CLR", "FD_ISSET"]
FDSET_METHODS = {
    "add": lambda fds, fd: fds.add(fd),
    "discard": lambda fds, fd: fds.discard(fd),
    "in": lambda fds, fd: fd in fds,
}
# What the APCs queued to each table recorded, in the order they ran.
APCS_RAN: weakref.WeakKeyDictionary[Any, list[Any]] = weakref.WeakKeyDictionary()
HANDLE_METHODS = {
    "context": lambda t, h: t.context(h),
    "catalog_entry": lambda t, h: t.catalog_entry(h),
    "close_socket": lambda t, h: t.close_socket(h),
    "set_event": lambda t, h: t.set_event(h),
    "reset_event": lambda t, h: t.reset_event(h),
    "event_is_set": lambda t, h: t.event_is_set(h),
    "close_event": lambda t, h: t.close_event(h),
    "close_thread": lambda t, h: t.close_thread(h),
    # queued to this thread; the rule below runs them (apc_wait), so each side records its own
    "queue_apc": lambda t, h: t.queue_apc(h, APCS_RAN[t].append, h),
    "close_port": lambda t, h: t.close_port(h),
    "post_completion": lambda t, h: t.post_completion(h, h & 0xFFFF, h, f"ov{h}"),
    "get_completions": lambda t, h: t.get_completions(h, 3, 0),
    # the socket's port: its packets show in get_completions on either side alike
    "post_socket_completion": lambda t, h: t.post_socket_completion(h, "ov", 995, 1),
    "kind": lambda t, h: t.kind(h),
    "in": lambda t, h: operator.contains(t, h),
}
# The kind of handle each method succeeds on.
METHOD_KINDS = {"context": "socket", "catalog_entry": "socket", "close_socket": "socket",
                "set_event": "event", "reset_event": "event", "event_is_set": "event", "close_event": "event",
                "close_thread": "thread", "queue_apc": "thread",
                "close_port": "port", "post_completion": "port", "get_completions": "port",
                "post_socket_completion": "socket",
                "WPUQuerySocketHandleContext": "socket", "WPUCloseSocketHandle": "socket",
                "WPUSetEvent": "event", "WPUResetEvent": "event", "WPUCloseEvent": "event"}
# The positional-only parameter name of each one-handle method, as the stub spells it.
KEYWORD_NAMES = {"context": "s", "catalog_entry": "s", "close_socket": "s", "set_event": "e",
                 "reset_event": "e", "event_is_set": "e", "close_event": "e", "kind": "h"}
EVENT_UPCALLS = ["WPUSetEvent", "WPUResetEvent", "WPUCloseEvent"]


def alias(name: str, use_field_name: bool) -> str:
    return "lp" + name if use_field_name else name


class Lockstep(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.sides: list[SimpleNamespace] = [SimpleNamespace(core=load_core(name)) for name in SIDES]
        self.seen: list[int] = []  # every handle value either core returned, live or closed
        self.ready = False

    # --- helpers

    def both(self, label: str, operation: Any) -> tuple[Any, ...]:
        """Run ``operation(side)`` on both cores; they must agree.  Returns the outcome."""
        results = [outcome(operation, side) for side in self.sides]
        assert same(*results), f"{label}: cython {results[0]!r} != python {results[1]!r}"
        kind = "returned" if results[0][0] == "returned" else f"{results[0][1].__name__} {results[0][2] or ''}"
        event(f"{label.split('(')[0]}: {kind}")  # --hypothesis-show-statistics shows the mix
        return results[0]

    def remember(self, result: tuple[Any, ...], value: Any = None) -> None:
        handle = result[1] if value is None else value
        if result[0] == "returned" and isinstance(handle, int) and handle not in self.seen:
            self.seen.append(handle)

    def handles(self, prefer: str | None = None) -> st.SearchStrategy[Any]:
        """Handle arguments: values a core returned (live ones of the ``prefer`` kind weighted
        up, so success paths run often), with tag bits, as __index__ objects, arbitrary ints,
        wrong types.  The source is drawn first, from a weighted list."""
        sources: dict[str, st.SearchStrategy[Any]] = {"arbitrary": ARBITRARY_INTS, "wrong type": WRONG_TYPES}
        if self.seen:
            known = st.sampled_from(self.seen)
            sources["seen"] = known
            sources["tagged"] = st.tuples(known, st.integers(1, 3)).map(lambda p: p[0] | p[1])
            sources["__index__"] = known.map(Index)
        if self.ready:
            twin = self.sides[1].table  # the sides agree (invariant), so either one will do
            live = [h for h in twin if prefer is None or twin.kind(h) == prefer]
            if live:
                sources["live"] = st.sampled_from(live)
        weights = {"live": 6, "seen": 2}
        names = [name for name in sources for _ in range(weights.get(name, 1))]
        return st.sampled_from(names).flatmap(lambda name: sources[name])

    def fds_values(self) -> st.SearchStrategy[Any]:
        small = st.sampled_from([0, 4, 8, 12, 16, INVALID_SOCKET])
        options = [small, small, ARBITRARY_INTS, WRONG_TYPES, small.map(Index)]
        if self.seen:
            options.append(st.sampled_from(self.seen))
        return st.one_of(options)

    # --- setup

    @initialize(max_handles=st.integers(1, 8), abi=ABIS,
                range_at=st.one_of(st.none(), st.tuples(st.integers(1, 2**30 - 64), st.integers(0, 12))))
    def make_tables(self, max_handles: int, abi: str, range_at: tuple[int, int] | None) -> None:
        # A range only a few values wider than max_handles: the quarantine shrinks to fit and
        # closed values come back soon, so reuse happens within a run.
        handle_range = None
        if range_at is not None:
            first = 4 * range_at[0]
            handle_range = (first, first + 4 * (max_handles + range_at[1] - 1))
        for side in self.sides:
            side.table = side.core.HandleTable(max_handles=max_handles, handle_range=handle_range, abi=abi)
            APCS_RAN[side.table] = []
            side.up = ws2core.UpcallTable(side.table)
            side.fdsets = [side.core.FdSet(capacity=4, abi=abi), side.core.FdSet()]
        self.ready = True

    # --- the HandleTable

    @rule(catalog=CATALOG_IDS, context=CONTEXTS, keyword=st.booleans())
    def create_socket(self, catalog: Any, context: Any, keyword: bool) -> None:
        if keyword:
            result = self.both("create_socket", lambda side: side.table.create_socket(catalog, context=context))
        else:
            result = self.both("create_socket", lambda side: side.table.create_socket(catalog, context))
        self.remember(result)

    @rule()
    def create_event(self) -> None:
        self.remember(self.both("create_event", lambda side: side.table.create_event()))

    def handle_methods(self, data: st.DataObject, methods: list[str]) -> None:
        for method in methods:
            h = data.draw(self.handles(METHOD_KINDS.get(method)), label="handle")
            self.both(f"{method}({h!r})", lambda side: HANDLE_METHODS[method](side.table, h))

    # Three rules rather than one: hypothesis enables a random subset of rules per example
    # (swarm testing), so more rules here means these paths run in more examples.
    @rule(data=st.data(), methods=st.lists(st.sampled_from(["context", "catalog_entry", "close_socket"]),
                                           min_size=1, max_size=4))
    def socket_methods(self, data: st.DataObject, methods: list[str]) -> None:
        self.handle_methods(data, methods)

    @rule(data=st.data(), methods=st.lists(st.sampled_from(["set_event", "reset_event", "event_is_set", "close_event"]),
                                           min_size=1, max_size=4))
    def event_methods(self, data: st.DataObject, methods: list[str]) -> None:
        self.handle_methods(data, methods)

    @rule()
    def open_thread(self) -> None:
        self.remember(self.both("open_thread", lambda side: side.table.open_thread()))

    @rule(data=st.data(), methods=st.lists(st.sampled_from(["close_thread", "queue_apc"]),
                                           min_size=1, max_size=4))
    def thread_methods(self, data: st.DataObject, methods: list[str]) -> None:
        self.handle_methods(data, methods)

    @rule()
    def create_port(self) -> None:
        self.remember(self.both("create_port", lambda side: side.table.create_port()))

    @rule(data=st.data(), methods=st.lists(st.sampled_from(
        ["close_port", "post_completion", "get_completions", "post_socket_completion"]),
        min_size=1, max_size=4))
    def port_methods(self, data: st.DataObject, methods: list[str]) -> None:
        self.handle_methods(data, methods)

    @rule(data=st.data(), key=st.integers(0, 2**64 - 1))
    def associate_port(self, data: st.DataObject, key: int) -> None:
        s, port = data.draw(self.handles(), label="s"), data.draw(self.handles(), label="port")
        self.both(f"associate_port({s!r}, {port!r}, {key})",
                  lambda side: side.table.associate_port(s, port, key))

    @rule(alertable=st.booleans())
    def apc_wait(self, alertable: bool) -> None:
        """An alertable sleep runs what was queued, in order; a plain one never does."""
        self.both(f"sleep(0, alertable={alertable})",
                  lambda side: (side.table.sleep(0, alertable), list(APCS_RAN[side.table])))

    @rule(data=st.data(), methods=st.lists(st.sampled_from(["kind", "in"]), min_size=1, max_size=4))
    def table_queries(self, data: st.DataObject, methods: list[str]) -> None:
        self.handle_methods(data, methods)

    @rule(data=st.data(), method=st.sampled_from(sorted(KEYWORD_NAMES)))
    def keyword_call(self, data: st.DataObject, method: str) -> None:
        h = data.draw(self.handles(), label="handle")
        self.both(f"{method}({KEYWORD_NAMES[method]}={h!r})",
                  lambda side: getattr(side.table, method)(**{KEYWORD_NAMES[method]: h}))

    @rule()
    def close_all(self) -> None:
        self.both("close()", lambda side: side.table.close())

    @rule(max_handles=MAX_HANDLES_VALUES, positional=st.booleans())
    def construct(self, max_handles: Any, positional: bool) -> None:
        if positional:
            self.both(f"HandleTable({max_handles!r})", lambda side: side.core.HandleTable(max_handles).max_handles)
        else:
            self.both(f"HandleTable(max_handles={max_handles!r})",
                      lambda side: repr(side.core.HandleTable(max_handles=max_handles)))

    # --- the upcalls

    @rule(catalog=CATALOG_IDS, context=CONTEXTS, errno=st.sampled_from(ERRNO_KINDS), lp=st.booleans())
    def up_create_socket(self, catalog: Any, context: Any, errno: str, lp: bool) -> None:
        def call(side: Any) -> tuple[Any, ...]:
            err = out_parameter(errno, side)
            return getattr(side.up, alias("WPUCreateSocketHandle", lp))(catalog, context, err), read(err)

        result = self.both(f"WPUCreateSocketHandle({catalog!r}, {context!r}, {errno})", call)
        if result[0] == "returned" and result[1][0] != INVALID_SOCKET:
            self.remember(result, result[1][0])

    @rule(data=st.data(), context=st.sampled_from(CONTEXT_KINDS), errno=st.sampled_from(ERRNO_KINDS),
          lp=st.booleans())
    def up_query(self, data: st.DataObject, context: str, errno: str, lp: bool) -> None:
        s = data.draw(self.handles("socket"), label="s")

        def call(side: Any) -> tuple[Any, ...]:
            ctx, err = out_parameter(context, side), out_parameter(errno, side)
            result = getattr(side.up, alias("WPUQuerySocketHandleContext", lp))(s, ctx, err)
            return result, read(ctx), read(err)

        self.both(f"WPUQuerySocketHandleContext({s!r}, {context}, {errno})", call)

    @rule(data=st.data(), errno=st.sampled_from(ERRNO_KINDS), lp=st.booleans())
    def up_close_socket(self, data: st.DataObject, errno: str, lp: bool) -> None:
        s = data.draw(self.handles("socket"), label="s")

        def call(side: Any) -> tuple[Any, ...]:
            err = out_parameter(errno, side)
            return getattr(side.up, alias("WPUCloseSocketHandle", lp))(s, err), read(err)

        self.both(f"WPUCloseSocketHandle({s!r}, {errno})", call)

    @rule(errno=st.sampled_from(ERRNO_KINDS), lp=st.booleans())
    def up_create_event(self, errno: str, lp: bool) -> None:
        def call(side: Any) -> tuple[Any, ...]:
            err = out_parameter(errno, side)
            return getattr(side.up, alias("WPUCreateEvent", lp))(err), read(err)

        result = self.both(f"WPUCreateEvent({errno})", call)
        if result[0] == "returned" and result[1][0] != 0:
            self.remember(result, result[1][0])

    @rule(data=st.data(), upcall=st.sampled_from(EVENT_UPCALLS), errno=st.sampled_from(ERRNO_KINDS),
          lp=st.booleans())
    def up_event(self, data: st.DataObject, upcall: str, errno: str, lp: bool) -> None:
        h = data.draw(self.handles("event"), label="hEvent")

        def call(side: Any) -> tuple[Any, ...]:
            err = out_parameter(errno, side)
            return getattr(side.up, alias(upcall, lp))(h, err), read(err)

        self.both(f"{upcall}({h!r}, {errno})", call)

    @rule(data=st.data(), slot=st.integers(0, 1), as_bytes=st.booleans(), lp=st.booleans())
    def up_fd_is_set(self, data: st.DataObject, slot: int, as_bytes: bool, lp: bool) -> None:
        s = data.draw(st.one_of(self.handles(), self.fds_values()), label="s")

        def call(side: Any) -> Any:
            fds = side.fdsets[slot]
            return getattr(side.up, alias("WPUFDIsSet", lp))(s, memoryview(fds).tobytes() if as_bytes else fds)

        self.both(f"WPUFDIsSet({s!r}, slot {slot})", call)

    # --- FdSet and the FD_* functions

    @rule(slot=st.integers(0, 1), handles=st.lists(st.sampled_from([0, 4, 8, 12, 16, INVALID_SOCKET]), max_size=9),
          extra=st.sampled_from([(), (), (), (-1,), (2**64,), ("4",), (None,), (Index(8),)]),
          capacity=FDSET_CAPACITIES, abi=ABIS)
    def new_fdset(self, slot: int, handles: list[Any], extra: tuple[Any, ...], capacity: Any, abi: str) -> None:
        handles = [*handles, *extra]

        def call(side: Any) -> tuple[Any, ...]:
            side.made = side.core.FdSet(handles, capacity, abi=abi)
            return fdset_state(side.made)

        if self.both(f"FdSet({handles!r}, {capacity!r}, abi={abi!r})", call)[0] == "returned":
            for side in self.sides:
                side.fdsets[slot] = side.made

    @rule(data=st.data(), slot=st.integers(0, 1), method=st.sampled_from(sorted(FDSET_METHODS)))
    def fdset_method(self, data: st.DataObject, slot: int, method: str) -> None:
        fd = data.draw(self.fds_values(), label="fd")
        self.both(f"slot {slot}.{method}({fd!r})", lambda side: FDSET_METHODS[method](side.fdsets[slot], fd))

    @rule(slot=st.integers(0, 1))
    def fdset_clear(self, slot: int) -> None:
        self.both(f"slot {slot}.clear()", lambda side: side.fdsets[slot].clear())

    @rule(data=st.data(), slot=st.integers(0, 1), macro=st.sampled_from(MACROS), crosswise=st.booleans())
    def fd_macro(self, data: st.DataObject, slot: int, macro: str, crosswise: bool) -> None:
        """A macro on each side's set; crosswise, each core's macro on the other core's FdSet."""
        fd = data.draw(self.fds_values(), label="fd")
        targets = [side.fdsets[slot] for side in self.sides]
        if crosswise:
            targets.reverse()
        results = [outcome(lambda side, fds=fds: getattr(side.core, macro)(fd, fds), side)
                   for side, fds in zip(self.sides, targets)]
        assert same(*results), f"{macro}({fd!r}, slot {slot}, crosswise={crosswise}): {results}"

    @rule(slot=st.integers(0, 1), crosswise=st.booleans())
    def fd_zero(self, slot: int, crosswise: bool) -> None:
        targets = [side.fdsets[slot] for side in self.sides]
        if crosswise:
            targets.reverse()
        results = [outcome(lambda side, fds=fds: side.core.FD_ZERO(fds), side) for side, fds in zip(self.sides, targets)]
        assert same(*results), f"FD_ZERO(slot {slot}, crosswise={crosswise}): {results}"

    @rule(data=st.data(), slot=st.integers(0, 1), macro=st.sampled_from([*MACROS, "FD_ZERO"]))
    def fd_macro_on_bytearray(self, data: st.DataObject, slot: int, macro: str) -> None:
        """A macro on a bytearray copy of the set: the same bytes in, the same bytes out."""
        fd = data.draw(self.fds_values(), label="fd")

        def call(side: Any) -> tuple[Any, ...]:
            abi = side.fdsets[slot].abi  # a bare buffer says nothing of its layout
            buf = bytearray(memoryview(side.fdsets[slot]).tobytes())
            function = getattr(side.core, macro)
            result = function(buf, abi=abi) if macro == "FD_ZERO" else function(fd, buf, abi=abi)
            return result, bytes(buf)

        self.both(f"{macro}({fd!r}, bytearray of slot {slot})", call)

    @rule(target_slot=st.integers(0, 1), source_slot=st.integers(0, 1),
          source=st.sampled_from(["FdSet", "bytes", "bytearray", "bytes[:n]"]), cut=st.integers(0, 80))
    def from_buffer(self, target_slot: int, source_slot: int, source: str, cut: int) -> None:
        def call(side: Any) -> tuple[Any, ...]:
            fds = side.fdsets[source_slot]
            buffer = {"FdSet": lambda: fds, "bytes": lambda: memoryview(fds).tobytes(),
                      "bytearray": lambda: bytearray(memoryview(fds).tobytes()),
                      "bytes[:n]": lambda: memoryview(fds).tobytes()[:cut]}[source]()
            side.made = side.core.FdSet.from_buffer(buffer, abi=fds.abi)
            return fdset_state(side.made)

        if self.both(f"FdSet.from_buffer({source} of slot {source_slot})", call)[0] == "returned":
            for side in self.sides:
                side.fdsets[target_slot] = side.made

    @rule()
    def fdsets_equal(self) -> None:
        self.both("slot 0 == slot 1", lambda side: (side.fdsets[0] == side.fdsets[1], side.fdsets[0] != side.fdsets[1]))

    @rule(slot=st.integers(0, 1), data=st.data())
    def foreign_write(self, slot: int, data: st.DataObject) -> None:
        """A C writer changes fd_count (past the capacity too) or one slot of fd_array."""
        capacity = self.sides[1].fdsets[slot].capacity
        x86 = self.sides[1].fdsets[slot].abi == "x86"
        if data.draw(st.booleans(), label="write fd_count"):
            count = data.draw(st.one_of(st.integers(0, capacity + 1), st.just(2**32 - 1)), label="fd_count")
            patch, offset = struct.pack("<I", count), 0
        else:
            index = data.draw(st.integers(0, capacity - 1), label="slot")
            value = data.draw(st.sampled_from([0, 4, 8, 12, INVALID_SOCKET]), label="value")
            if x86:  # the low half of the value: what a 32-bit writer stores
                patch, offset = struct.pack("<I", value & 0xFFFFFFFF), 4 + 4 * index
            else:
                patch, offset = struct.pack("<Q", value), 8 + 8 * index
        for side in self.sides:
            poke(side.fdsets[slot], patch, offset)

    # --- invariants

    @invariant()
    def tables_agree(self) -> None:
        if not self.ready:
            return
        for label, look in [("len", len), ("list", list), ("repr", repr), ("max_handles", lambda t: t.max_handles),
                            ("bounds", lambda t: (t.handle_range, t.reuse_delay, t.abi))]:
            self.both(f"table {label}", lambda side: look(side.table))
        self.both("kinds of every value seen", lambda side: [side.table.kind(h) for h in self.seen])

    @invariant()
    def fdsets_agree(self) -> None:
        if not self.ready:
            return
        for slot in (0, 1):
            states = [fdset_state(side.fdsets[slot]) for side in self.sides]
            assert same(*states), f"FdSet slot {slot}: cython {states[0]!r} != python {states[1]!r}"


TestLockstep = Lockstep.TestCase
TestLockstep.settings = settings(
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
