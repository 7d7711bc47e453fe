"""The one list of timed cases, read by ``python -m ws2core bench`` and by ``benchmarks/``.

A case is a statement timed over names that its fixture prepares for one core (the Cython
core or the twin), the check that the statement gives the right answer there, its targets,
and where it applies and runs:

- ``applies``: ``"cores"`` (timed on each core), ``"floor"`` (timed once, over the twin's
  names: the C-call floor the cores are measured against), ``"cython"`` (the Cython core only);
- ``runs``: the report (``python -m ws2core bench``), pytest-benchmark (``benchmarks/``), or
  both.  A case runs in one of them only when the other cannot time it honestly: the report's
  "alone" upcalls close or create a thousand handles untimed around each timed loop, which a
  pytest-benchmark round cannot leave out of its timing; the x86 sets, a ctypes event array
  and the signalled ``table.wait`` poll were never rows of the report, whose tables and JSON
  ``benchmarks/check.py`` reads.

Each case names its ``floor`` (itself a case), so both runners put the same floor beside it.
The report's tables, legends and targets keep to the case names here (the JSON is keyed by
them); pytest-benchmark groups are ``group``.  Sizes that differ between runs (the batch, the
scaling tiers) are arguments of :func:`all_cases`.
"""

from __future__ import annotations

import ctypes
import random
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from types import ModuleType, SimpleNamespace
from typing import Any

import ws2core
from ws2core.structs import FD_SET_LAYOUTS

REPORT, PYTEST = "report", "pytest"
BOTH = frozenset({REPORT, PYTEST})

# Where a case applies: the two cores, the floor (no core), or the Cython core alone.
CORES, FLOOR, CYTHON = "cores", "floor", "cython"

_FD_SETSIZE = ws2core.FD_SETSIZE
_X64, _X86 = FD_SET_LAYOUTS["x64"], FD_SET_LAYOUTS["x86"]

# The report's sections (its JSON keys), in the order it prints them.
HOT, FD, SCALING, CREATION, BATCH, WAITS, PROVIDER = (
    "hot path", "FD_ISSET", "scaling", "HandleTable()", "batch", "waits", "provider",
)

TIERS = (1_000, 100_000, 1_000_000)  # live sockets per scaling tier
BATCH_SIZE = 10_000  # handles per batch call
FD_SIZES = (64, 1024, 16384)


@dataclass(frozen=True)
class Target:
    """``metric op threshold``: metric names a figure or a ratio of the report's row."""

    metric: str
    op: str  # "<=" or ">="
    threshold: float
    shown: str = ""  # how the threshold reads (1/3 rather than 0.333333)

    def text(self) -> str:
        sign = "≤" if self.op == "<=" else "≥"
        return f"{self.metric} {sign} {self.shown or format(self.threshold, 'g')}"

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return value <= self.threshold if self.op == "<=" else value >= self.threshold


@dataclass(frozen=True)
class Fixture:
    """What a group of cases is timed over: ``build(core)`` gives the names, ``key`` says
    which cases share one build (a runner builds each key once per core); ``close(names)``,
    if any, releases what a build holds beyond memory (sockets), when the names are dropped."""

    key: str
    build: Callable[[ModuleType], dict[str, Any]] = field(compare=False, repr=False)
    close: Callable[[dict[str, Any]], None] | None = field(default=None, compare=False,
                                                           repr=False)


@dataclass(frozen=True)
class Case:
    """A timed statement over the names ``fixture`` prepares for a core."""

    name: str
    section: str  # the report's table (its JSON key)
    fixture: Fixture
    stmt: str
    check: str  # evaluated before timing: the statement must give the right answer
    targets: tuple[Target, ...] = ()
    group: str = ""  # the pytest-benchmark group; the name if empty
    floor: Case | None = None  # the floor timed beside it
    applies: str = CORES
    runs: frozenset[str] = BOTH
    # The timing loop runs ``stmt`` in chunks of ``chunk`` runs (0: one chunk), each after
    # ``setup`` and before ``teardown``, both untimed; ``_x`` walks ``_it`` (setup may set it).
    setup: str = ""
    teardown: str = ""
    chunk: int = 0
    per: int = 1  # operations in one run of ``stmt`` (a batch call is ``per`` handles)
    needs: tuple[str, ...] = ()  # "name.attribute" a core must have, or the case is n/a there
    info: tuple[tuple[str, Any], ...] = ()  # what the report's row says of it (tier ...)

    def __str__(self) -> str:  # pytest's id
        return self.name

    @property
    def group_name(self) -> str:
        return self.group or self.name

    def available(self, names: dict[str, Any]) -> bool:
        """Whether the core behind ``names`` has every attribute the case needs."""
        return all(hasattr(names[owner], attr) for owner, attr in
                   (need.split(".", 1) for need in self.needs))

    def detail(self, key: str, default: Any = None) -> Any:
        return dict(self.info).get(key, default)


class Context:
    """What a provider keeps per socket: the context the timed sockets hold."""

    __slots__ = ("peer",)

    def __init__(self, peer: str) -> None:
        self.peer = peer


# --------------------------------------------------------------------------------------
# fixtures: the names each core's cases are timed over


def hot_names(core: ModuleType) -> dict[str, Any]:
    """The names of the hot path, HandleTable() and the polls (see the report's legends)."""
    table = core.HandleTable()
    obj = Context("192.0.2.10:80")
    socks = [table.create_socket(7, obj) for _ in range(_FD_SETSIZE + 1)]
    fds = core.FdSet(socks[:-1])
    c_fds = _X64.ctypes_type(_FD_SETSIZE).from_buffer_copy(bytes(memoryview(fds)))
    events = [table.create_event() for _ in range(ws2core.WSA_MAXIMUM_WAIT_EVENTS + 1)]
    table.set_event(events[-1])
    spare = core.HandleTable()
    return {
        "t": table,
        "up": ws2core.UpcallTable(table),
        "ref": core.Ref(),  # the core's own Ref: the one it writes at C speed
        "err": core.Ref(),
        "box": SimpleNamespace(value=None),
        "c_ctx": ctypes.c_size_t(0),
        "c_vp": ctypes.c_void_p(0),
        "c_err": ctypes.c_int(0),  # lpErrno as the README's first example writes it
        "obj": obj,
        "h": socks[0],
        "hi": table.create_socket(7, 12345),
        "hit": socks[-2],  # the 64th entry: a hit that scans the whole set
        "miss": socks[-1],
        "fds": fds,
        "c_fds": c_fds,
        # Both scan all 64 entries: none signalled (a timeout), or only the last.
        "ev": events[:-1],
        "ev_last": events[:-2] + events[-1:],
        "c_ev": (ctypes.c_void_p * ws2core.WSA_MAXIMUM_WAIT_EVENTS)(*events[:-1]),
        "tc": spare,
        "upc": ws2core.UpcallTable(spare),
        "HandleTable": core.HandleTable,
        "FD_ISSET": core.FD_ISSET,
        "abs": abs,
        "_keep": socks,
    }


def fd_names(core: ModuleType) -> dict[str, Any]:
    """Per size n: fds<n> a full FdSet of n live sockets, c_fds<n> a ctypes copy, x86_fds<n>
    the same set in a 32-bit process's layout; miss: in none of them."""
    table = core.HandleTable()
    socks = [table.create_socket(7) for _ in range(max(FD_SIZES) + 1)]
    names: dict[str, Any] = {
        "FD_ISSET": core.FD_ISSET, "abs": abs, "h": socks[0], "miss": socks[-1],
        "hit": socks[_FD_SETSIZE - 1], "_keep": (table, socks),
    }
    for n in FD_SIZES:
        packed = _X64.pack(socks[:n])
        # One copy of the packed bytes: no n adds, each scanning for a duplicate on the twin.
        names[f"fds{n}"] = core.FdSet.from_buffer(packed)
        names[f"c_fds{n}"] = _X64.ctypes_type(n).from_buffer_copy(packed)
        names[f"x86_fds{n}"] = core.FdSet.from_buffer(_X86.pack(socks[:n]), abi="x86")
    return names


def tier_names(core: ModuleType, live: int) -> dict[str, Any]:
    """A table of ``live`` sockets: h0 its first (the same value in every tier), fds a full
    FdSet of 64 others, miss one more, hs all of them shuffled."""
    table = core.HandleTable()
    obj = Context("192.0.2.10:80")
    create = table.create_socket
    hs = [create(7, obj) for _ in range(live)]
    names = {
        "t": table,
        "obj": obj,
        "h0": hs[0],
        "fds": core.FdSet(hs[1 : 1 + _FD_SETSIZE]),
        "miss": hs[1 + _FD_SETSIZE],
        "ctx": table.context,
        "FD_ISSET": core.FD_ISSET,
        "abs": abs,
    }
    random.Random(live).shuffle(hs)
    names["hs"] = hs
    return names


def batch_names(core: ModuleType, n: int) -> dict[str, Any]:
    """A table of ``n`` sockets hs (hsa: as array('Q')), their contexts ctxs, fds64."""
    table = core.HandleTable()
    ctxs = [Context(f"192.0.2.{i % 256}:{i}") for i in range(n)]
    hs = [table.create_socket(7, c) for c in ctxs]
    return {
        "t": table, "ctxs": ctxs, "hs": hs, "hsa": array("Q", hs), "n": n,
        "FdSet": core.FdSet, "fds64": core.FdSet(hs[:_FD_SETSIZE]),
        "ctx": table.context, "create": table.create_socket, "close": table.close_socket,
        "abs": abs, "expected64": [True] * _FD_SETSIZE + [False] * (n - _FD_SETSIZE),
    }


PROVIDER_MESSAGE = bytes(range(64))


def provider_names(core: ModuleType) -> dict[str, Any]:
    """A started HostSocketProvider over a fresh table of ``core`` (``p``), a TCP pair it
    connected on the loopback (``c`` the client, TCP_NODELAY; ``a`` the accepted end), and the
    same pair's host sockets' ``hsend`` (c's send) and ``hrecv`` (a's recv_into)."""
    from ws2core.provider import HostSocketProvider  # the tables above need no provider

    up = ws2core.UpcallTable(core.HandleTable())
    p = HostSocketProvider()
    err = ws2core.Ref(0)

    def check(result: int, what: str) -> int:
        if result in (ws2core.SOCKET_ERROR, ws2core.INVALID_SOCKET):
            p.close()
            raise RuntimeError(f"{what} failed with Winsock error {err.value}")
        return result

    check(p.WSPStartup(up), "WSPStartup")
    listener = check(p.WSPSocket(ws2core.AF_INET, ws2core.SOCK_STREAM, 0, None, 0, 0, err),
                     "WSPSocket")
    name, namelen = ws2core.Ref(), ws2core.Ref(16)
    check(p.WSPBind(listener, ("127.0.0.1", 0), 16, err), "WSPBind")
    check(p.WSPGetSockName(listener, name, namelen, err), "WSPGetSockName")
    check(p.WSPListen(listener, 1, err), "WSPListen")
    c = check(p.WSPSocket(ws2core.AF_INET, ws2core.SOCK_STREAM, 0, None, 0, 0, err), "WSPSocket")
    check(p.WSPConnect(c, name.value, 16, None, None, None, None, err), "WSPConnect")
    a = check(p.WSPAccept(listener, None, None, None, 0, err), "WSPAccept")
    check(p.WSPCloseSocket(listener, err), "WSPCloseSocket")
    check(p.WSPSetSockOpt(c, ws2core.IPPROTO_TCP, ws2core.TCP_NODELAY, 1, 4, err), "TCP_NODELAY")
    context = ws2core.Ref()
    hosts = []
    for s in (c, a):
        check(up.WPUQuerySocketHandleContext(s, context, err), "WPUQuerySocketHandleContext")
        hosts.append(context.value.host)
    buf = bytearray(len(PROVIDER_MESSAGE))
    return {
        "p": p, "t": up.table, "c": c, "a": a, "send": p.WSPSend, "recv": p.WSPRecv,
        "msg": PROVIDER_MESSAGE, "out": [PROVIDER_MESSAGE], "buf": buf, "into": [buf],
        "sent": ws2core.Ref(), "got": ws2core.Ref(), "flags": ws2core.Ref(0), "err": err,
        "hsend": hosts[0].send, "hrecv": hosts[1].recv_into,
    }


def _close_provider(names: dict[str, Any]) -> None:
    names["p"].close()  # its sockets, host ones included


HOT_FIXTURE = Fixture("hot", hot_names)
FD_FIXTURE = Fixture("fd", fd_names)
PROVIDER_FIXTURE = Fixture("provider", provider_names, _close_provider)


def tier_name(live: int) -> str:
    return f"{live // 1_000_000}M" if live >= 1_000_000 else f"{live // 1000}k"


# --------------------------------------------------------------------------------------
# the cases

C_CALL_FLOOR = Case("C-call floor", HOT, HOT_FIXTURE, "abs(h)", "abs(h) == h", applies=FLOOR)

_AT_LEAST_3X = (Target("twin/core", ">=", 3),)
_AT_LEAST_5X = (Target("twin/core", ">=", 5),)

# Creating in a timed loop, then closing untimed (every 1,000), and the other way round: each
# chunk opens with an empty spare table ``tc``, so neither figure grows the table.
_CLOSE_ALL_OF_TC = "for _y in list(tc):\n    upc.WPUCloseSocketHandle(_y, err)"
_CREATE_K_IN_TC = (
    "_it = []\n_append = _it.append\n_create = upc.WPUCreateSocketHandle\n"
    "for _y in _repeat(None, _k):\n    _append(_create(7, obj, err))"
)
_CREATE_CLOSE_TC_CHECK = (
    "upc.WPUCloseSocketHandle(upc.WPUCreateSocketHandle(7, obj, err), err) == 0 and len(tc) == 0"
)


def _hot(name: str, stmt: str, check: str, targets: tuple[Target, ...] = (), **more: Any) -> Case:
    return Case(name, HOT, HOT_FIXTURE, stmt, check, targets, floor=C_CALL_FLOOR, **more)


HOT_CASES = [
    _hot("context lookup", "t.context(h)", "t.context(h) is obj", (Target("core/floor", "<=", 1.3),)),
    _hot(
        "drop-in query (core's Ref)",
        "up.WPUQuerySocketHandleContext(h, ref, err)",
        "up.WPUQuerySocketHandleContext(h, ref, err) == 0 and ref.value is obj and err.value is None",
        (Target("core/floor", "<=", 2.5), Target("twin/core", ">=", 3)),
    ),
    _hot(
        "drop-in query (plain .value)",
        "up.WPUQuerySocketHandleContext(h, box, err)",
        "up.WPUQuerySocketHandleContext(h, box, err) == 0 and box.value is obj and err.value is None",
    ),
    _hot(
        "drop-in query (c_int lpErrno)",
        "up.WPUQuerySocketHandleContext(h, ref, c_err)",
        "up.WPUQuerySocketHandleContext(h, ref, c_err) == 0 and ref.value is obj"
        " and c_err.value == 0",
        (Target("core/floor", "<=", 2.5),),
    ),
    _hot(
        "drop-in query (c_size_t)",
        "up.WPUQuerySocketHandleContext(hi, c_ctx, err)",
        "up.WPUQuerySocketHandleContext(hi, c_ctx, err) == 0 and c_ctx.value == 12345"
        " and err.value is None",
        (Target("core/floor", "<=", 2.5),),
    ),
    _hot(
        "drop-in query (c_void_p)",
        "up.WPUQuerySocketHandleContext(hi, c_vp, err)",
        "up.WPUQuerySocketHandleContext(hi, c_vp, err) == 0 and c_vp.value == 12345"
        " and err.value is None",
        (Target("core/floor", "<=", 2.5),),
    ),
    _hot(
        "create+close (Pythonic)",
        "t.close_socket(t.create_socket(7, obj))",
        # a handle as Windows makes them, and the table no bigger for it
        "(_n := len(t)) >= 0 and (_h := t.create_socket(7, obj)) % 4 == 0"
        " and t.close_socket(_h) is None and len(t) == _n",
    ),
    _hot(
        "WPUCreate+WPUCloseSocketHandle",
        "up.WPUCloseSocketHandle(up.WPUCreateSocketHandle(7, obj, err), err)",
        "up.WPUCloseSocketHandle(up.WPUCreateSocketHandle(7, obj, err), err) == 0",
        _AT_LEAST_3X,
    ),
    # Report only: pytest-benchmark would time the untimed half (1,000 closes or creates) too.
    _hot(
        "WPUCreateSocketHandle alone", "upc.WPUCreateSocketHandle(7, obj, err)",
        _CREATE_CLOSE_TC_CHECK, _AT_LEAST_3X, teardown=_CLOSE_ALL_OF_TC, chunk=1000,
        runs=frozenset({REPORT}),
    ),
    _hot(
        "WPUCloseSocketHandle alone", "upc.WPUCloseSocketHandle(_x, err)",
        _CREATE_CLOSE_TC_CHECK, _AT_LEAST_3X, setup=_CREATE_K_IN_TC, chunk=1000,
        runs=frozenset({REPORT}),
    ),
    _hot("WPUFDIsSet miss 64", "up.WPUFDIsSet(miss, fds)", "up.WPUFDIsSet(miss, fds) == 0",
         _AT_LEAST_5X),
    _hot("WPUFDIsSet miss 64 ctypes", "up.WPUFDIsSet(miss, c_fds)",
         "up.WPUFDIsSet(miss, c_fds) == 0", _AT_LEAST_5X),
]

FD_FLOOR = replace(C_CALL_FLOOR, section=FD, fixture=FD_FIXTURE)


def _fd_cases() -> list[Case]:
    cases = [Case("FD_ISSET hit 64", FD, FD_FIXTURE, "FD_ISSET(hit, fds64)",
                  "FD_ISSET(hit, fds64) == 1", floor=FD_FLOOR)]
    for n in FD_SIZES:
        targets = _AT_LEAST_5X if n == _FD_SETSIZE else ()
        for suffix, name, runs in (
            ("", f"fds{n}", BOTH),
            (" ctypes", f"c_fds{n}", BOTH),
            # A 32-bit process's set: pytest-benchmark's, never a row of the report.
            (" x86", f"x86_fds{n}", frozenset({PYTEST})),
        ):
            if n == _FD_SETSIZE and suffix == " x86":
                continue
            cases.append(
                Case(
                    f"FD_ISSET miss {n:,}{suffix}", FD, FD_FIXTURE,
                    f"FD_ISSET(miss, {name})",
                    f"FD_ISSET(miss, {name}) == 0 and FD_ISSET(h, {name}) == 1",
                    targets, floor=FD_FLOOR, runs=runs,
                )
            )
    return cases


FD_CASES = _fd_cases()

CREATION_CASES = [
    Case(
        "HandleTable()", CREATION, HOT_FIXTURE, "HandleTable()",
        "type(_t := HandleTable()) is type(t) and len(_t) == 0",
        (Target("core", "<=", 5, "5 µs"),), floor=replace(C_CALL_FLOOR, section=CREATION),
    ),
]

_POLL_FLOOR = replace(C_CALL_FLOOR, section=WAITS)
_POLL_GROUP = "WSAWaitForMultipleEvents poll 64"


def _poll(name: str, stmt: str, check: str, runs: frozenset[str] = BOTH) -> Case:
    return Case(name, WAITS, HOT_FIXTURE, stmt, check, group=_POLL_GROUP, floor=_POLL_FLOOR,
                runs=runs)


# A poll (timeout 0) of 64 events: the Pythonic wait, then the upcall (cEvents, lphEvents,
# fWaitAll, dwTimeout, fAlertable) getting WSA_WAIT_TIMEOUT, then WSA_WAIT_EVENT_0 + 63.
POLL_CASES = [
    _poll("wait poll 64", "t.wait(ev, timeout=0)", "t.wait(ev, timeout=0) is None"),
    _poll("wait poll 64 last set", "t.wait(ev_last, timeout=0)",
          "t.wait(ev_last, timeout=0) == 63", frozenset({PYTEST})),
    _poll("WSAWait poll 64", "up.WSAWaitForMultipleEvents(64, ev, 0, 0, 0)",
          
          "up.WSAWaitForMultipleEvents(64, ev, 0, 0, 0) == 258 and up.WSAGetLastError() == 0"),
    _poll("WSAWait poll 64 last set", "up.WSAWaitForMultipleEvents(64, ev_last, 0, 0, 0)",
          
          "up.WSAWaitForMultipleEvents(64, ev_last, 0, 0, 0) == 63 and up.WSAGetLastError() == 0"),
    # The handles in a C WSAEVENT[64], as a C caller holds them.
    _poll("WSAWait poll 64 ctypes", "up.WSAWaitForMultipleEvents(64, c_ev, 0, 0, 0)",
          "up.WSAWaitForMultipleEvents(64, c_ev, 0, 0, 0) == 258", frozenset({PYTEST})),
]

# One WSPSend and one WSPRecv of 64 bytes on a connected pair, beside send and recv_into on the
# same pair's host sockets (each statement leaves nothing waiting: the next one finds the same).
PROVIDER_CASES = [
    Case(
        "WSPSend + WSPRecv, 64 B", PROVIDER, PROVIDER_FIXTURE,
        "send(c, out, 1, sent, 0, None, None, None, err); "
        "recv(a, into, 1, got, flags, None, None, None, err)",
        "send(c, out, 1, sent, 0, None, None, None, err) == 0 and sent.value == 64"
        " and recv(a, into, 1, got, flags, None, None, None, err) == 0 and got.value == 64"
        " and buf == msg",
        (Target("core/floor", "<=", 1.3),),
        floor=Case("host send + recv_into, 64 B", PROVIDER, PROVIDER_FIXTURE,
                   "hsend(msg); hrecv(buf)", "hsend(msg) == 64 and hrecv(buf) == 64 and buf == msg",
                   applies=FLOOR, runs=frozenset({REPORT})),
        # pytest-benchmark times the provider in benchmarks/test_bench_provider.py
        runs=frozenset({REPORT}),
    ),
]

# (operation, statement, check, a walk over all live handles)
SCALING_OPERATIONS = (
    ("lookup", "t.context(h0)", "t.context(h0) is obj", False),
    ("create+close", "t.close_socket(t.create_socket(7, obj))",
     "t.close_socket(t.create_socket(7, obj)) is None", False),
    ("FD_ISSET miss 64", "FD_ISSET(miss, fds)", "FD_ISSET(miss, fds) == 0", False),
    ("random-order lookup", "ctx(_x)",
     "all(ctx(x) is obj for x in hs[:1000]) and len(hs) == len(t)", True),
)


def scaling_cases(tiers: tuple[int, ...] = TIERS) -> list[Case]:
    """Per tier: the fixed-handle operations over ``h0`` beside ``abs(h0)``, and the walk over
    every live handle in random order beside the same walk calling ``abs``."""
    cases = []
    for live in tiers:
        fixture = Fixture(f"tier {live}", partial(tier_names, live=live))
        floor = Case("C-call floor", SCALING, fixture, "abs(h0)", "abs(h0) == h0", applies=FLOOR,
                     info=(("live", live),))
        walk_floor = Case("loop floor", SCALING, fixture, "abs(_x)", "all(abs(x) == x for x in hs)",
                          applies=FLOOR, setup="_it = hs", chunk=live, info=(("live", live),))
        for operation, stmt, check, walk in SCALING_OPERATIONS:
            cases.append(
                Case(
                    f"{operation}, {tier_name(live)} live", SCALING, fixture, stmt, check,
                    group=f"scaling {operation} {tier_name(live)}",
                    floor=walk_floor if walk else floor,
                    setup="_it = hs" if walk else "", chunk=live if walk else 0,
                    info=(("live", live), ("operation", operation), ("walk", walk)),
                )
            )
    return cases


# (operation, what the batch needs, batch, batch check, single, single setup, single check)
BATCH_OPERATIONS = (
    (
        "create+close",
        ("t.create_sockets", "t.close_sockets"),
        "t.close_sockets(t.create_sockets(7, ctxs))",
        "t.close_sockets(t.create_sockets(7, ctxs)) == [] and len(t) == n",
        "close(create(7, _x))",
        "_it = ctxs",
        "close(create(7, ctxs[0])) is None and len(t) == n",
    ),
    (
        "contexts",
        ("t.contexts",),
        "t.contexts(hsa)",
        "all(a is b for a, b in zip(t.contexts(hsa), ctxs)) and len(t.contexts(hs)) == n",
        "ctx(_x)",
        "_it = hs",
        "ctx(hs[-1]) is ctxs[-1]",
    ),
    (
        "FdSet build",
        (),
        "FdSet(hsa, capacity=n)",
        "list(FdSet(hsa, capacity=n)) == hs",
        "_add(_x)",
        "_it = hs\n_add = FdSet(capacity=n).add",
        "(lambda f: [f.add(x) for x in hs[:100]] and list(f) == hs[:100])(FdSet(capacity=n))",
    ),
    (
        "contains_each, 64-entry set",
        ("fds64.contains_each",),
        "fds64.contains_each(hsa)",
        "fds64.contains_each(hsa) == expected64",
        "_x in fds64",
        "_it = hs",
        "hs[0] in fds64 and hs[-1] not in fds64",
    ),
)


def batch_cases(n: int = BATCH_SIZE) -> list[Case]:
    """Per operation: one batch call over ``n`` handles (per handle), and the loop of ``n``
    single calls (per handle), beside the same loop calling ``abs``."""
    fixture = Fixture(f"batch {n}", partial(batch_names, n=n))
    floor = Case("loop floor", BATCH, fixture, "abs(_x)", "abs(hs[0]) == hs[0]", applies=FLOOR,
                 setup="_it = hs", chunk=n)
    target = (Target("core batch/single", "<=", 1 / 3, "1/3"),)
    cases = []
    for operation, needs, batch, batch_check, single, setup, single_check in BATCH_OPERATIONS:
        group = f"batch {operation}"
        cases.append(Case(operation, BATCH, fixture, batch, batch_check, target, group=group,
                          floor=floor, per=n, needs=needs,
                          info=(("operation", operation), ("role", "batch"))))
        cases.append(Case(f"{operation} single", BATCH, fixture, single, single_check,
                          group=group, floor=floor, setup=setup, chunk=n, needs=needs,
                          info=(("operation", operation), ("role", "single"))))
    return cases


def all_cases(tiers: tuple[int, ...] = TIERS, batch: int = BATCH_SIZE) -> list[Case]:
    """Every case, in the report's order of sections (floors are reached through ``floor``)."""
    return [*HOT_CASES, *FD_CASES, *scaling_cases(tiers), *CREATION_CASES, *batch_cases(batch),
            *POLL_CASES, *PROVIDER_CASES]


def section(cases: list[Case], key: str, runs: str = REPORT) -> list[Case]:
    """The cases of one section that run in ``runs``, in their order."""
    return [case for case in cases if case.section == key and runs in case.runs]


def floors(cases: list[Case]) -> list[tuple[Case, str]]:
    """Each floor of ``cases`` with each group it stands beside, once (pytest-benchmark shows
    a floor in every group, as the report shows one in every table)."""
    return list(dict.fromkeys((c.floor, c.group_name) for c in cases if c.floor is not None))
