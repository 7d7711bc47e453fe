"""The native WSPUPCALLTABLE (``UpcallTable.native_table()`` / ``native_capsule()``), from C.

tests/native/provider.c is a small provider compiled at test time against the shipped header
``<ws2core/ws2spi.h>`` (tests/native/build.py); ctypes drops the GIL around each call into it,
so its upcalls run as a real provider's would.  Covered:

- provider_check_all: every entry point, return value and error code, checked in C;
- the ctypes mirror of the header against the C compiler's layout, and every upcall called
  through it compared with the Python facade (``ws2core.UpcallTable``) on the same inputs;
- addresses: stable per UpcallTable, one set per UpcallTable, tables kept apart;
- one handle space: sockets and events made in C seen from Python and the reverse, the
  context mapping (ints, negative ints, None, objects, big ints), closes across the boundary;
- WPUFDIsSet on a ws2core.FdSet's buffer, a ctypes fd_set, a C fd_set, a NULL set;
- a full table (WSAENOBUFS, WSA_NOT_ENOUGH_MEMORY);
- a pthread Python never made sets an event a Python thread / an asyncio task waits on;
- hammer: C pthreads and Python threads on one table at once;
- the pool of 64 entry-point sets, the capsule's hold on its UpcallTable;
- contexts: closing from C drops the table's reference, and a context's __del__ that uses the
  table (from Python and through C) leaves it consistent;
- after interpreter shutdown starts, the upcalls fail with WSANOTINITIALISED (a subprocess).

Everything here needs the Cython core (the twin has no C entry points: one test checks that it
says so) and a C compiler; without them the tests skip and say why.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import importlib
import importlib.util
import os
import random
import subprocess
import sys
import textwrap
import threading
import time
import traceback
import uuid
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import ws2core
from ws2core.catalog import BASE_PROTOCOLS, HOST_PROVIDER_PATH, MSAFD_TCPIP6, Catalog
from ws2core import (
    FALSE,
    INVALID_SOCKET,
    SOCKET_ERROR,
    TRUE,
    WSA_INVALID_HANDLE,
    WSA_NOT_ENOUGH_MEMORY,
    WSAEFAULT,
    WSAEINVAL,
    WSAENOBUFS,
    WSAENOTSOCK,
    WSANOTINITIALISED,
    WinsockError,
)
from ws2core import _implementation
from ws2core.provider import LayeredProvider, LayeredSocket, ProviderSocket
from ws2core.structs import GUID, WSAPROTOCOL_INFOW, WSATHREADID
from ws2core.upcalls import UPCALL_FIELDS
from ws2core.ws2_32 import Ws2_32

from test_layered import connected_pair, install_layer

PURE_PYTHON_ONLY = _implementation.pure_python_requested()
BUILD_PY = Path(__file__).resolve().parent / "native" / "build.py"
JOIN_TIMEOUT = 60.0 if os.environ.get("WS2CORE_LONG", "") != "1" else 3600.0  # a deadlock fails, not hangs
NATIVE_SETS = 64
CAPSULE_NAME = b"ws2core.WSPUPCALLTABLE"
SENTINEL_ERR = 0x5A5A
SENTINEL_CTX = 0xDEADBEEF
MSAFD_TCPIP_ENTRY = BASE_PROTOCOLS[(2, 1)].catalog_entry_id  # AF_INET, SOCK_STREAM


def _load_build() -> ModuleType:
    """tests/native/build.py by path: tests/ is not a package."""
    spec = importlib.util.spec_from_file_location("ws2core_tests_native_build", BUILD_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _load_build()
c_int = ctypes.c_int
byref = ctypes.byref


# --------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def ccore() -> ModuleType:
    """The Cython core: the only one with C entry points."""
    if PURE_PYTHON_ONLY:
        pytest.skip("native WSPUPCALLTABLE needs the Cython core; WS2CORE_PURE_PYTHON=1 tests "
                    "the pure-Python twin alone")
    try:
        return _implementation.load("cython")
    except ImportError as exc:
        missing = exc
    pytest.fail(f"cython core missing ({missing}); build it with `pip install -e '.[test]'`, or "
                "set WS2CORE_PURE_PYTHON=1 to test the twin alone", pytrace=False)


@pytest.fixture(scope="session")
def provider(ccore: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    """tests/native/provider.c, built once per session against ws2core.get_include()."""
    try:
        library: ctypes.CDLL = build.build_provider(tmp_path_factory.mktemp("native_provider"))
        return library
    except build.NoCompiler as exc:
        pytest.skip(f"no C compiler: {exc}")
    except build.CompileError as exc:  # the compiler ran: a broken header or provider is a bug
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def table(ccore: ModuleType) -> Any:
    return ccore.HandleTable()


@pytest.fixture
def up(table: Any, provider: ctypes.CDLL) -> ws2core.UpcallTable:
    """An UpcallTable over ``table`` (Cython core); asks for the provider so a test skips first."""
    return ws2core.UpcallTable(table)


@pytest.fixture
def addr(up: ws2core.UpcallTable) -> int:
    """``up``'s native table (the fixture ``up`` keeps its entry points alive)."""
    return up.native_table()


@pytest.fixture
def native(addr: int) -> Any:
    """``up``'s native table through the ctypes mirror of WSPUPCALLTABLE."""
    return build.native_upcalls(addr)


# --------------------------------------------------------------------------------------
# Helpers: each upcall through the native table (ctypes) and through the facade, as
# comparable tuples.


def c_query(native: Any, s: int, *, with_errno: bool = True) -> tuple[int, int | None, int | None]:
    """(rc, context or None, lpErrno or None) of the native WPUQuerySocketHandleContext."""
    ctx = build.DWORD_PTR(SENTINEL_CTX)
    err = c_int(SENTINEL_ERR)
    rc = native.lpWPUQuerySocketHandleContext(s, byref(ctx), byref(err) if with_errno else None)
    if rc == 0:
        assert err.value == SENTINEL_ERR, "lpErrno written on success"
        return rc, ctx.value, None
    assert ctx.value == SENTINEL_CTX, "lpContext written on failure"
    return rc, None, err.value if with_errno else None


def f_query(up: ws2core.UpcallTable, s: int) -> tuple[int, Any, int | None]:
    """The same tuple from the facade."""
    ctx = ws2core.Ref(SENTINEL_CTX)
    err = ws2core.Ref(SENTINEL_ERR)
    rc = up.WPUQuerySocketHandleContext(s, ctx, err)
    return (rc, ctx.value, None) if rc == 0 else (rc, None, err.value)


def c_errno_call(function: Callable[..., Any], *args: Any) -> tuple[Any, int | None]:
    """(result, lpErrno or None if untouched) of a native upcall whose last parameter is lpErrno."""
    err = c_int(SENTINEL_ERR)
    result = function(*args, byref(err))
    return result, None if err.value == SENTINEL_ERR else err.value


def f_errno_call(function: Callable[..., Any], *args: Any) -> tuple[Any, int | None]:
    err = ws2core.Ref(SENTINEL_ERR)
    result = function(*args, err)
    return result, None if err.value == SENTINEL_ERR else err.value


def c_create(provider: ctypes.CDLL, addr: int, catalog: int, context: int) -> int:
    err = c_int(SENTINEL_ERR)
    s = provider.provider_create_socket(addr, catalog, context, byref(err))
    assert s != INVALID_SOCKET, f"create from C failed: {err.value}"
    assert err.value == SENTINEL_ERR
    return int(s)


def c_create_event(provider: ctypes.CDLL, addr: int) -> int:
    err = c_int(SENTINEL_ERR)
    e = provider.provider_create_event(addr, byref(err))
    assert e, f"create event from C failed: {err.value}"
    return int(e)


def c_wrapped_query(provider: ctypes.CDLL, addr: int, s: int) -> tuple[int, int | None, int | None]:
    ctx = build.DWORD_PTR(SENTINEL_CTX)
    err = c_int(SENTINEL_ERR)
    rc = provider.provider_query_context(addr, s, byref(ctx), byref(err))
    return (rc, ctx.value, None) if rc == 0 else (rc, None, err.value)


def winerror(call: Callable[[], Any]) -> int:
    with pytest.raises(WinsockError) as info:
        call()
    return int(info.value.winerror)


def capsule_pointer(capsule: object) -> int:
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    pointer = get(capsule, CAPSULE_NAME)
    assert pointer
    return int(pointer)


def as_c_sees(context: Any) -> int:
    """The DWORD_PTR C reads for a context given from Python (README "Contexts")."""
    if context is None:
        return 0
    if isinstance(context, int):
        if 0 <= context < 2**64:
            return int(context)
        if -(2**63) <= context < 0:
            return int(context) + 2**64
    return id(context)


def field_address(native: Any, name: str) -> int:
    return int(ctypes.cast(getattr(native, name), ctypes.c_void_p).value or 0)


# --------------------------------------------------------------------------------------
# The twin (needs neither the Cython core nor a compiler)


def test_twin_upcall_table_has_no_native_table() -> None:
    twin_up = ws2core.UpcallTable(importlib.import_module("ws2core._handles_py").HandleTable())
    with pytest.raises(RuntimeError, match="Cython core"):
        twin_up.native_table()
    with pytest.raises(RuntimeError, match="Cython core"):
        twin_up.native_capsule()
    # Refusing changed nothing: the twin's upcalls still work.
    err = ws2core.Ref()
    s = twin_up.WPUCreateSocketHandle(1, "ctx", err)
    assert twin_up.table.context(s) == "ctx"


# --------------------------------------------------------------------------------------
# Layout and the C-side checks


def test_ctypes_mirror_matches_the_compiled_header(provider: ctypes.CDLL) -> None:
    sizes = [ctypes.c_size_t() for _ in range(5)]
    provider.provider_layout(*[byref(v) for v in sizes])
    table_size, fd_set_size, fd_array_offset, socket_size, query_offset = (v.value for v in sizes)
    assert table_size == ctypes.sizeof(build.WSPUPCALLTABLE) == 15 * ctypes.sizeof(ctypes.c_void_p)
    assert fd_set_size == ctypes.sizeof(build.FD_SET)
    assert fd_array_offset == build.FD_SET.fd_array.offset == 8  # the Windows x64 fd_set
    assert socket_size == ctypes.sizeof(build.SOCKET) == ctypes.sizeof(ctypes.c_void_p)
    assert query_offset == build.WSPUPCALLTABLE.lpWPUQuerySocketHandleContext.offset
    assert build.UPCALL_FIELDS == UPCALL_FIELDS  # the facade's field order is the header's
    # A ws2core.FdSet exports the same bytes as the C fd_set.
    assert len(bytes(memoryview(ws2core.FdSet()))) == fd_set_size


@pytest.mark.parametrize("prefilled", [0, 3000], ids=["empty table", "3000 Python handles"])
def test_provider_check_all(provider: ctypes.CDLL, table: Any, up: ws2core.UpcallTable,
                            prefilled: int) -> None:
    made: dict[int, int | None] = {}
    for i in range(prefilled):  # enough to grow the slot array a few times before the C checks
        if i % 3:
            made[table.create_socket(i, i * 7)] = i * 7
        else:
            made[table.create_event()] = None
    report = ctypes.create_string_buffer(16384)
    failures = provider.provider_check_all(up.native_table(), report, len(report))
    assert failures == 0, f"{failures} checks failed in provider.c:\n{report.value.decode()}"
    # provider_check_all closes what it makes; the Python handles are untouched.
    assert len(table) == prefilled
    assert sorted(table) == sorted(made)
    for h, ctx in made.items():
        if ctx is not None:
            assert table.context(h) == ctx


def test_check_all_reports_failures(provider: ctypes.CDLL, up: ws2core.UpcallTable) -> None:
    """The checker can fail: on a doctored copy of the table it names what is wrong."""
    doctored = build.WSPUPCALLTABLE.from_buffer_copy(build.native_upcalls(up.native_table()))
    # WPUCreateSocketHandle answering as WPUModifyIFSHandle does (the same C shape): every
    # socket the checker asks for is refused with WSAEINVAL.
    doctored.lpWPUCreateSocketHandle = ctypes.cast(doctored.lpWPUModifyIFSHandle,
                                                   type(doctored.lpWPUCreateSocketHandle))
    report = ctypes.create_string_buffer(4096)
    failures = provider.provider_check_all(ctypes.addressof(doctored), report, len(report))
    assert failures >= 1
    assert b"create #1: INVALID_SOCKET, err 10022" in report.value
    assert b"WPUGetProviderPath" not in report.value
    assert len(up.table) == 0


# --------------------------------------------------------------------------------------
# Addresses and sets


def test_address_is_stable_per_upcall_table(provider: ctypes.CDLL, table: Any) -> None:
    first = ws2core.UpcallTable(table)
    address = first.native_table()
    assert address == first.native_table() == first.native_table()
    capsule = first.native_capsule()
    assert capsule_pointer(capsule) == address
    assert capsule_pointer(first.native_capsule()) == address
    second = ws2core.UpcallTable(table)  # the same HandleTable, another UpcallTable
    assert second.native_table() != address
    # The entry points that reach a table are the set's own: C signatures carry no table pointer.
    a, b = build.native_upcalls(address), build.native_upcalls(second.native_table())
    for name in ("lpWPUCloseEvent", "lpWPUCloseSocketHandle", "lpWPUCreateEvent",
                 "lpWPUCreateSocketHandle", "lpWPUQuerySocketHandleContext", "lpWPUResetEvent",
                 "lpWPUSetEvent"):
        assert field_address(a, name) != field_address(b, name), name
    for name in UPCALL_FIELDS:
        assert field_address(a, name) and field_address(b, name), f"{name} is NULL"
    # Two UpcallTables over one HandleTable: one handle space.
    s = c_create(provider, address, 1, 111)
    assert c_query(b, s) == (0, 111, None)
    assert b.lpWPUCloseSocketHandle(s, None) == 0
    assert c_query(a, s) == (SOCKET_ERROR, None, WSAENOTSOCK)


def test_two_handle_tables_do_not_see_each_others_handles(
        provider: ctypes.CDLL, ccore: ModuleType) -> None:
    up_a = ws2core.UpcallTable(ccore.HandleTable())
    up_b = ws2core.UpcallTable(ccore.HandleTable())
    a, b = up_a.native_table(), up_b.native_table()
    assert a != b
    sa = c_create(provider, a, 1, 0xAAAA)
    sb = c_create(provider, b, 2, 0xBBBB)
    assert sa == sb  # both tables are fresh: the same first value...
    assert c_wrapped_query(provider, a, sa) == (0, 0xAAAA, None)  # ...with its own context
    assert c_wrapped_query(provider, b, sb) == (0, 0xBBBB, None)
    only_a = c_create(provider, a, 1, 0xA2)
    assert c_wrapped_query(provider, b, only_a) == (SOCKET_ERROR, None, WSAENOTSOCK)
    e = c_create_event(provider, a)
    assert up_b.table.kind(e) is None and up_a.table.kind(e) == "event"
    err = c_int(0)
    assert provider.provider_set_event(b, e, byref(err)) == FALSE
    assert err.value == WSA_INVALID_HANDLE
    assert not up_a.table.event_is_set(e)
    err.value = 0
    assert provider.provider_close_socket(b, only_a, byref(err)) == SOCKET_ERROR
    assert err.value == WSAENOTSOCK
    assert up_a.table.context(only_a) == 0xA2
    assert (len(up_a.table), len(up_b.table)) == (3, 1)
    assert up_a.table.catalog_entry(sa) == 1 and up_b.table.catalog_entry(sb) == 2


def test_a_ranged_table_through_the_native_table(provider: ctypes.CDLL, ccore: ModuleType) -> None:
    """C sees the table's handle range: values from its first, and nothing below it."""
    table = ccore.HandleTable(max_handles=2, handle_range=(0x20000, 0x2FFFC), abi="x86")
    up = ws2core.UpcallTable(table)
    addr = up.native_table()
    s = c_create(provider, addr, 7, 0x1234)
    assert s == 0x20000 and table.context(s) == 0x1234
    assert c_wrapped_query(provider, addr, s) == (0, 0x1234, None)
    for outside in (4, 0x1FFFC, s | 1, s + 4):
        assert c_wrapped_query(provider, addr, outside) == (SOCKET_ERROR, None, WSAENOTSOCK)
    e = c_create_event(provider, addr)
    assert e == 0x20004 and table.kind(e) == "event"
    err = c_int(0)
    assert provider.provider_set_event(addr, e | 3, byref(err)) != FALSE  # tag bits ignored
    assert table.event_is_set(e)
    assert provider.provider_close_socket(addr, s, byref(err)) == 0
    assert c_wrapped_query(provider, addr, s) == (SOCKET_ERROR, None, WSAENOTSOCK)


def _claim_all(ccore: ModuleType) -> list[ws2core.UpcallTable]:
    """Claim native sets until the pool is empty; the UpcallTables that got one."""
    claimed: list[ws2core.UpcallTable] = []
    while True:
        u = ws2core.UpcallTable(ccore.HandleTable())
        try:
            u.native_table()
        except RuntimeError:
            return claimed
        claimed.append(u)
        assert len(claimed) <= NATIVE_SETS, "more native sets than the pool has"


def _free_sets(ccore: ModuleType) -> int:
    gc.collect()
    claimed = _claim_all(ccore)
    count = len(claimed)
    del claimed
    gc.collect()
    return count


def test_pool_of_64_sets(provider: ctypes.CDLL, ccore: ModuleType) -> None:
    gc.collect()
    # Other live UpcallTables of the Cython core (none in a clean run) may hold sets.
    elsewhere = sum(1 for o in gc.get_objects() if isinstance(o, ccore.HotUpcalls))
    # Every UpcallTable made here lives in `ups` only, emptied at the end even on failure, so a
    # failing assertion (its traceback keeps this frame) does not starve later tests of sets.
    ups = [ws2core.UpcallTable(ccore.HandleTable()) for _ in range(NATIVE_SETS + 1)]
    try:
        addresses: list[int] = []
        message = ""
        for i in range(len(ups)):
            try:
                addresses.append(ups[i].native_table())
            except RuntimeError as exc:
                message = str(exc)
                break
        else:
            pytest.fail(f"{NATIVE_SETS + 1} UpcallTables all got a native table")
        n = len(addresses)
        assert NATIVE_SETS - elsewhere <= n <= NATIVE_SETS
        assert str(NATIVE_SETS) in message and "native" in message and "collected" in message
        assert len(set(addresses)) == n
        with pytest.raises(RuntimeError):  # refusing is repeatable, and so is the capsule's
            ups[n].native_capsule()
        del ups[n:]

        # Each set reaches its own table and no other: a C socket with context i in table i.
        handles = [c_create(provider, a, i, 1000 + i) for i, a in enumerate(addresses)]
        for i in range(n):
            assert ups[i].table.context(handles[i]) == 1000 + i
            assert ups[i].table.catalog_entry(handles[i]) == i
            assert len(ups[i].table) == 1
            assert c_wrapped_query(provider, addresses[i], handles[i]) == (0, 1000 + i, None)

        # Collecting UpcallTables returns their sets; a stale pointer then fails cleanly.
        victims = (0, 17, n - 1)
        for i in sorted(victims, reverse=True):
            del ups[i]
        gc.collect()
        for i in victims:
            assert c_wrapped_query(provider, addresses[i], handles[i]) == \
                (SOCKET_ERROR, None, WSANOTINITIALISED)
            err = c_int(SENTINEL_ERR)
            assert provider.provider_create_socket(addresses[i], 1, 1, byref(err)) == INVALID_SOCKET
            assert err.value == WSANOTINITIALISED
        ups.extend(ws2core.UpcallTable(ccore.HandleTable()) for _ in victims)
        reclaimed = {ups[-k].native_table(): ups[-k] for k in (1, 2, 3)}
        assert set(reclaimed) == {addresses[i] for i in victims}
        with pytest.raises(RuntimeError):
            ws2core.UpcallTable(ccore.HandleTable()).native_table()
        # A reclaimed set serves its new table only.
        assert c_wrapped_query(provider, addresses[17], handles[17]) == \
            (SOCKET_ERROR, None, WSAENOTSOCK)
        s = c_create(provider, addresses[17], 9, 0x17)
        assert reclaimed[addresses[17]].table.context(s) == 0x17
        reclaimed.clear()
    finally:
        ups.clear()
    assert _free_sets(ccore) == n


def test_capsule_keeps_its_upcall_table_alive(provider: ctypes.CDLL, ccore: ModuleType) -> None:
    table = ccore.HandleTable()
    u = ws2core.UpcallTable(table)
    capsules = [u.native_capsule(), u.native_capsule()]
    address = u.native_table()
    assert all(capsule_pointer(c) == address for c in capsules)
    assert type(capsules[0]).__name__ == "PyCapsule"
    free_before = _free_sets(ccore)
    del u
    gc.collect()
    # Only the capsules hold the UpcallTable now: its entry points still reach the table.
    s = c_create(provider, address, 6, 4242)
    assert table.context(s) == 4242
    assert _free_sets(ccore) == free_before
    del capsules[0]
    gc.collect()
    assert c_wrapped_query(provider, address, s) == (0, 4242, None)  # one capsule is enough
    assert _free_sets(ccore) == free_before
    del capsules[0]
    gc.collect()
    # The last capsule gone: the set is back in the pool, the stale pointer fails cleanly.
    assert c_wrapped_query(provider, address, s) == (SOCKET_ERROR, None, WSANOTINITIALISED)
    assert _free_sets(ccore) == free_before + 1
    assert table.context(s) == 4242  # the HandleTable itself lives on


# --------------------------------------------------------------------------------------
# One handle space: C and Python


@pytest.mark.parametrize(("catalog", "context"), [
    (0, 0), (7, 1), (2**32 - 1, 0xB0B0), (1001, 2**63 - 1), (1, 2**63), (2, 2**64 - 1),
])
def test_socket_created_in_c_seen_from_python(provider: ctypes.CDLL, table: Any,
                                              up: ws2core.UpcallTable, addr: int,
                                              catalog: int, context: int) -> None:
    s = c_create(provider, addr, catalog, context)
    assert s % 4 == 0 and s != 0
    seen = table.context(s)
    assert type(seen) is int and seen == context
    assert table.catalog_entry(s) == catalog
    assert table.kind(s) == "socket" and s in table and list(table) == [s]
    assert f_query(up, s) == (0, context, None)
    assert c_wrapped_query(provider, addr, s) == (0, context, None)  # and back to C unchanged


class Opaque:
    """A context object: C sees its address."""


PYTHON_CONTEXTS = [
    ("0", lambda: 0), ("1", lambda: 1), ("2**63-1", lambda: 2**63 - 1), ("2**63", lambda: 2**63),
    ("2**64-1", lambda: 2**64 - 1), ("-1", lambda: -1), ("-12345", lambda: -12345),
    ("-2**63", lambda: -(2**63)), ("True", lambda: True), ("None", lambda: None),
    ("object", Opaque), ("str", lambda: "a context"), ("2**64", lambda: 2**64),
    ("2**70", lambda: 2**70), ("-2**63-1", lambda: -(2**63) - 1), ("float", lambda: 1.5),
]


@pytest.mark.parametrize("make", [c[1] for c in PYTHON_CONTEXTS],
                         ids=[c[0] for c in PYTHON_CONTEXTS])
@pytest.mark.parametrize("via", ["create_socket", "WPUCreateSocketHandle"])
def test_socket_created_in_python_seen_from_c(provider: ctypes.CDLL, table: Any,
                                              up: ws2core.UpcallTable, native: Any, addr: int,
                                              make: Callable[[], Any], via: str) -> None:
    context = make()
    if via == "create_socket":
        s = table.create_socket(3, context)
    else:
        s = up.WPUCreateSocketHandle(3, context, ws2core.Ref())
    expected = as_c_sees(context)
    if context is not None and (not isinstance(context, int) or not -(2**63) <= context < 2**64):
        assert expected == id(context)
    assert c_query(native, s) == (0, expected, None)
    assert c_query(native, s, with_errno=False) == (0, expected, None)
    assert c_wrapped_query(provider, addr, s) == (0, expected, None)
    assert table.context(s) is context  # Python still sees its own object
    del context
    gc.collect()
    # The table holds the context, so an address C was given stays that object's.
    assert c_query(native, s) == (0, expected, None)
    assert as_c_sees(table.context(s)) == expected


def test_close_across_the_boundary(provider: ctypes.CDLL, table: Any, up: ws2core.UpcallTable,
                                   addr: int) -> None:
    from_python = table.create_socket(1, "py")
    from_c = c_create(provider, addr, 2, 0xC)
    err = c_int(SENTINEL_ERR)
    assert provider.provider_close_socket(addr, from_python, byref(err)) == 0
    assert err.value == SENTINEL_ERR
    assert winerror(lambda: table.context(from_python)) == WSAENOTSOCK
    assert from_python not in table
    assert f_query(up, from_python) == (SOCKET_ERROR, None, WSAENOTSOCK)
    table.close_socket(from_c)
    assert c_wrapped_query(provider, addr, from_c) == (SOCKET_ERROR, None, WSAENOTSOCK)
    for s in (from_python, from_c):  # closed on either side: closed for both
        assert provider.provider_close_socket(addr, s, byref(err)) == SOCKET_ERROR
        assert err.value == WSAENOTSOCK
        assert winerror(lambda: table.close_socket(s)) == WSAENOTSOCK
    assert len(table) == 0


def test_events_across_the_boundary(provider: ctypes.CDLL, table: Any, up: ws2core.UpcallTable,
                                    addr: int) -> None:
    err = c_int(SENTINEL_ERR)
    from_c = c_create_event(provider, addr)
    assert table.kind(from_c) == "event" and not table.event_is_set(from_c)
    table.set_event(from_c)
    assert table.event_is_set(from_c)
    assert provider.provider_reset_event(addr, from_c, byref(err)) == TRUE
    assert not table.event_is_set(from_c)
    assert up.WPUSetEvent(from_c, ws2core.Ref()) == TRUE
    assert table.event_is_set(from_c)
    table.close_event(from_c)
    assert provider.provider_set_event(addr, from_c, byref(err)) == FALSE
    assert err.value == WSA_INVALID_HANDLE

    from_python = table.create_event()
    err.value = SENTINEL_ERR
    assert provider.provider_set_event(addr, from_python, byref(err)) == TRUE
    assert err.value == SENTINEL_ERR
    assert table.event_is_set(from_python)
    assert table.wait([from_python], timeout=0) == 0
    assert provider.provider_reset_event(addr, from_python, byref(err)) == TRUE
    assert table.wait([from_python], timeout=0) is None
    assert provider.provider_close_event(addr, from_python, byref(err)) == TRUE
    assert table.kind(from_python) is None
    assert winerror(lambda: table.set_event(from_python)) == WSA_INVALID_HANDLE
    assert len(table) == 0


# --------------------------------------------------------------------------------------
# ctypes over the address: every upcall against the facade


def test_every_upcall_through_ctypes_matches_the_facade(table: Any, up: ws2core.UpcallTable,
                                                        native: Any) -> None:
    for name in UPCALL_FIELDS:
        assert getattr(native, name), f"{name} is NULL"
    # An empty table (no slot array yet): nothing is a socket or an event.
    assert c_query(native, 4) == f_query(up, 4) == (SOCKET_ERROR, None, WSAENOTSOCK)
    assert c_errno_call(native.lpWPUSetEvent, 4) == f_errno_call(up.WPUSetEvent, 4) == \
        (FALSE, WSA_INVALID_HANDLE)

    # WPUCreateSocketHandle / WPUCreateEvent: a new handle of the right kind on both sides.
    f_s, f_err = f_errno_call(up.WPUCreateSocketHandle, 9, 0x77)
    c_s, c_err = c_errno_call(native.lpWPUCreateSocketHandle, 9, 0x77)
    assert f_err is None and c_err is None
    for s in (f_s, c_s):
        assert s % 4 == 0 and s not in (0, INVALID_SOCKET)
        assert table.kind(s) == "socket" and table.context(s) == 0x77
        assert table.catalog_entry(s) == 9
    assert f_s != c_s
    f_e, f_err = f_errno_call(up.WPUCreateEvent)
    c_e, c_err = c_errno_call(native.lpWPUCreateEvent)
    assert f_err is None and c_err is None
    for e in (f_e, c_e):
        assert table.kind(e) == "event" and not table.event_is_set(e)

    closed_socket = table.create_socket(1, 5)
    table.close_socket(closed_socket)
    closed_event = table.create_event()
    table.close_event(closed_event)
    live, event = f_s, f_e
    probes = [live, c_s, event, c_e, closed_socket, closed_event, 0, 1, 2, 3, live + 1, live + 2,
              live | 3, event | 1, event | 3, 4 * 10**6, 2**31, 2**32, 2**32 + 4, 2**63,
              2**63 + 4, 2**64 - 4, 2**64 - 1]

    # WPUQuerySocketHandleContext
    for h in probes:
        assert c_query(native, h) == f_query(up, h), f"query {h:#x}"

    # WPUSetEvent / WPUResetEvent (idempotent: the same table answers both sides)
    for name in ("WPUSetEvent", "WPUResetEvent"):
        for h in probes:
            want = f_errno_call(getattr(up, name), h)
            got = c_errno_call(getattr(native, "lp" + name), h)
            assert got[0] in (TRUE, FALSE)
            assert (got[0], got[1]) == want, f"{name}({h:#x})"
        # Tag bits name the same event on both sides.
        assert c_errno_call(getattr(native, "lp" + name), c_e | 2) == (TRUE, None)
    table.set_event(c_e)
    assert c_errno_call(native.lpWPUResetEvent, c_e | 1) == (TRUE, None)
    assert not table.event_is_set(c_e)

    # WPUCloseSocketHandle / WPUCloseEvent on what is not theirs: no change, same answer.
    not_sockets = [h for h in probes if h not in (live, c_s)]
    not_events = [h for h in probes if h not in (event, c_e, event | 1, event | 3)]
    before = sorted(table)
    for h in not_sockets:
        assert c_errno_call(native.lpWPUCloseSocketHandle, h) == \
            f_errno_call(up.WPUCloseSocketHandle, h) == (SOCKET_ERROR, WSAENOTSOCK), hex(h)
    for h in not_events:
        assert c_errno_call(native.lpWPUCloseEvent, h) == \
            f_errno_call(up.WPUCloseEvent, h) == (FALSE, WSA_INVALID_HANDLE), hex(h)
    assert sorted(table) == before
    # ... and on what is: each side closes its own, then both refuse a second close.
    assert f_errno_call(up.WPUCloseSocketHandle, f_s) == (0, None)
    assert c_errno_call(native.lpWPUCloseSocketHandle, c_s) == (0, None)
    assert f_errno_call(up.WPUCloseEvent, f_e | 3) == (TRUE, None)
    assert c_errno_call(native.lpWPUCloseEvent, c_e | 1) == (TRUE, None)
    for s in (f_s, c_s):
        assert c_errno_call(native.lpWPUCloseSocketHandle, s) == \
            f_errno_call(up.WPUCloseSocketHandle, s)
    for e in (f_e, c_e):
        assert c_errno_call(native.lpWPUCloseEvent, e) == f_errno_call(up.WPUCloseEvent, e)
    assert len(table) == 0

    # WPUGetProviderPath of no provider, WPUModifyIFSHandle of a value with tag bits,
    # WPUQueryBlockingCallback with NULL pointers and the thread upcalls given NULL pointers:
    # the facade's answers, NULL lpErrno allowed.
    refusals: list[tuple[str, tuple[Any, ...]]] = [
        ("WPUGetProviderPath", (None, None, None)),
        ("WPUModifyIFSHandle", (1, 6)),
        ("WPUQueryBlockingCallback", (1, None, None)),
        ("WPUQueueApc", (None, None, 0)),
        ("WPUOpenCurrentThread", (None,)),
        ("WPUCloseThread", (None,)),
    ]
    for name, args in refusals:
        want = f_errno_call(getattr(up, name), *args)
        assert want[1] is not None  # each fails with a code
        assert c_errno_call(getattr(native, "lp" + name), *args) == want, name
        assert getattr(native, "lp" + name)(*args, None) == want[0], f"{name}, NULL lpErrno"
    assert native.lpWPUPostMessage(None, 0x400, 1, -1) == up.WPUPostMessage(None, 0x400, 1, -1)
    assert up.WPUPostMessage(None, 0, 0, 0) == FALSE


def test_fd_isset_on_fdset_buffers_and_c_sets(provider: ctypes.CDLL, table: Any,
                                              up: ws2core.UpcallTable, native: Any,
                                              addr: int) -> None:
    members = [table.create_socket(1, i) for i in range(5)] + [12345, 2**64 - 2]
    absent = [table.create_socket(1, None), 0, 8 * 10**6, 2**63, INVALID_SOCKET]
    fds = ws2core.FdSet(members)
    raw = (ctypes.c_char * len(memoryview(fds))).from_buffer(fds)  # the FdSet's own memory
    pointer = ctypes.addressof(raw)
    for s in members + absent:
        want = up.WPUFDIsSet(s, fds)
        assert want == ws2core.FD_ISSET(s, fds) == (1 if s in members else 0)
        assert native.lpWPUFDIsSet(s, pointer) == want, hex(s)
        assert provider.provider_fd_isset(addr, s, pointer) == want, hex(s)
        handles = (build.SOCKET * len(members))(*members)
        assert provider.provider_fd_isset_built(addr, s, handles, len(members)) == want
    # C reads the set in place: a change through Python is seen at once.
    ws2core.FD_CLR(members[2], fds)
    assert native.lpWPUFDIsSet(members[2], pointer) == up.WPUFDIsSet(members[2], fds) == 0
    ws2core.FD_ZERO(fds)
    assert native.lpWPUFDIsSet(members[0], pointer) == 0  # fd_count 0, the array unchanged
    assert native.lpWPUFDIsSet(members[0], None) == 0  # NULL set
    del raw  # release the FdSet's buffer export

    # A ctypes fd_set in the header's layout; the facade reads the same memory as a buffer.
    cset = build.FD_SET()
    cset.fd_count = 3
    cset.fd_array[:4] = [members[0], members[1], 4 * 999, members[3]]
    for s in (members[0], members[1], 4 * 999, members[3], members[4]):
        assert native.lpWPUFDIsSet(s, byref(cset)) == up.WPUFDIsSet(s, cset) == \
            (1 if s in (members[0], members[1], 4 * 999) else 0)

    # WPUFDIsSet trusts fd_count, as Windows does: a provider's larger FD_SETSIZE works.
    class BigFdSet(ctypes.Structure):
        _fields_ = [("fd_count", ctypes.c_uint), ("fd_array", build.SOCKET * 200)]

    big = BigFdSet()
    big.fd_count = 200
    big.fd_array[:] = [4 * (i + 1) for i in range(200)]
    assert native.lpWPUFDIsSet(4 * 200, byref(big)) == up.WPUFDIsSet(4 * 200, big) == 1
    assert native.lpWPUFDIsSet(4 * 201, byref(big)) == up.WPUFDIsSet(4 * 201, big) == 0


def test_full_table_from_c(provider: ctypes.CDLL, ccore: ModuleType) -> None:
    table = ccore.HandleTable(max_handles=3)
    u = ws2core.UpcallTable(table)
    native = build.native_upcalls(u.native_table())
    s1 = c_create(provider, u.native_table(), 1, 1)
    e1 = c_create_event(provider, u.native_table())
    s2 = table.create_socket(1, 2)
    assert len(table) == 3
    assert c_errno_call(native.lpWPUCreateSocketHandle, 1, 3) == \
        f_errno_call(u.WPUCreateSocketHandle, 1, 3) == (INVALID_SOCKET, WSAENOBUFS)
    got = c_errno_call(native.lpWPUCreateEvent)
    assert (got[0] or 0, got[1]) == f_errno_call(u.WPUCreateEvent) == (0, WSA_NOT_ENOUGH_MEMORY)
    err = c_int(SENTINEL_ERR)
    assert provider.provider_create_event(u.native_table(), byref(err)) is None
    assert err.value == WSA_NOT_ENOUGH_MEMORY
    assert provider.provider_create_socket(u.native_table(), 1, 3, None) == INVALID_SOCKET
    assert sorted(table) == sorted([s1, e1, s2])  # the failures changed nothing
    # A close from C makes room for a create from C.
    assert native.lpWPUCloseEvent(e1, None) == TRUE
    s3, err3 = c_errno_call(native.lpWPUCreateSocketHandle, 4, 44)
    assert err3 is None and table.context(s3) == 44 and table.catalog_entry(s3) == 4
    assert c_errno_call(native.lpWPUCreateSocketHandle, 1, 3) == (INVALID_SOCKET, WSAENOBUFS)


# --------------------------------------------------------------------------------------
# A pthread Python never created wakes Python waiters

DELAY_MS = 200


@pytest.mark.parametrize("made_in", ["C", "Python"])
def test_c_thread_wakes_a_blocked_python_thread(provider: ctypes.CDLL, table: Any, addr: int,
                                                made_in: str) -> None:
    other = table.create_event()
    e = c_create_event(provider, addr) if made_in == "C" else table.create_event()
    outcome: list[Any] = []

    def waiter() -> None:
        try:
            started = time.monotonic()
            outcome.append((table.wait([other, e], timeout=20.0), time.monotonic() - started))
        except BaseException:  # noqa: BLE001 - reported below
            outcome.append(traceback.format_exc())

    thread = threading.Thread(target=waiter, daemon=True)
    t0 = time.monotonic()
    setter = provider.provider_set_event_after(addr, e, DELAY_MS)
    assert setter >= 0, "pthread_create failed"
    thread.start()
    thread.join(JOIN_TIMEOUT)
    assert not thread.is_alive(), "the waiter was never woken"
    elapsed = time.monotonic() - t0
    err = c_int(SENTINEL_ERR)
    assert provider.provider_join_setter(setter, byref(err)) == TRUE
    assert err.value == 0  # lpErrno untouched by the successful set (the setter zeroes it)
    assert len(outcome) == 1 and not isinstance(outcome[0], str), outcome
    index, waited = outcome[0]
    assert index == 1  # `e`, the second event
    assert elapsed >= DELAY_MS / 1000 - 0.02, "the wait ended before the C thread set the event"
    assert waited < 10.0, "woken by the timeout, not the set"
    assert table.event_is_set(e) and not table.event_is_set(other)


def test_c_thread_wakes_an_asyncio_waiter(provider: ctypes.CDLL, table: Any, addr: int) -> None:
    e = c_create_event(provider, addr)

    async def main() -> tuple[int | None, float]:
        started = time.monotonic()
        setter = provider.provider_set_event_after(addr, e, DELAY_MS)
        assert setter >= 0
        ticks = 0

        async def ticker() -> None:  # the loop stays free while the task waits
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        tick_task = asyncio.create_task(ticker())
        try:
            index = await asyncio.wait_for(table.wait_async([e], timeout=20.0), JOIN_TIMEOUT)
        finally:
            tick_task.cancel()
        elapsed = time.monotonic() - started
        err = c_int(SENTINEL_ERR)
        assert provider.provider_join_setter(setter, byref(err)) == TRUE
        assert ticks >= 3, "the event loop was blocked during the wait"
        return index, elapsed

    index, elapsed = asyncio.run(main())
    assert index == 0
    assert DELAY_MS / 1000 - 0.02 <= elapsed < 10.0
    assert table.event_is_set(e)


# --------------------------------------------------------------------------------------
# Hammer: C pthreads and Python threads on one table

# WS2CORE_LONG=1: the long stress, eight C threads beside eight Python threads.
LONG = os.environ.get("WS2CORE_LONG", "") == "1"
C_THREADS = 8 if LONG else 4
C_ITERATIONS = 1_000_000 if LONG else 20000
PY_THREADS = 8 if LONG else 3
PY_MIN_ITERATIONS = 2000


def test_hammer_c_and_python_threads(provider: ctypes.CDLL, table: Any, up: ws2core.UpcallTable,
                                     addr: int, frequent_switches: None) -> None:
    c_tag = provider.provider_hammer_c_tag()
    py_tag = provider.provider_hammer_py_tag()
    native = build.native_upcalls(addr)
    c_done = threading.Event()
    c_result: list[Any] = []
    errors: list[str] = []
    left_open: dict[int, dict[int, int]] = {}
    start = threading.Barrier(PY_THREADS + 1)

    def plausible(ctx: int) -> bool:
        tag, thread, serial = ctx >> 48, (ctx >> 32) & 0xFFFF, ctx & 0xFFFFFFFF
        if tag == c_tag:
            return thread < C_THREADS and serial < C_ITERATIONS
        return tag == py_tag and thread < PY_THREADS

    def hammer_in_c() -> None:
        try:
            start.wait()
            c_result.append(provider.provider_hammer(addr, C_THREADS, C_ITERATIONS, 77))
        except BaseException:  # noqa: BLE001
            errors.append(f"C hammer:\n{traceback.format_exc()}")
        finally:
            c_done.set()

    def python_worker(me: int) -> None:
        rng = random.Random(me)
        mine: dict[int, int] = {}
        err = ws2core.Ref()
        out = ws2core.Ref()
        serial = 0
        try:
            start.wait()
            while serial < PY_MIN_ITERATIONS or not c_done.is_set():
                serial += 1
                ctx = (py_tag << 48) | (me << 32) | serial
                if serial % 2:
                    s = table.create_socket(100 + me, ctx)
                else:
                    s = up.WPUCreateSocketHandle(100 + me, ctx, err)
                    assert s != INVALID_SOCKET, err.value
                assert s not in mine, f"{s:#x} handed out twice to thread {me}"
                mine[s] = ctx
                own = rng.choice(list(mine))
                assert table.context(own) == mine[own]
                assert up.WPUQuerySocketHandleContext(own, out, err) == 0 and out.value == mine[own]
                if serial % 8 == 0:  # a Python thread through the lock-free C lookup
                    assert c_query(native, own) == (0, mine[own], None)
                # Someone else's socket, or nothing: WSAENOTSOCK or a well-formed context.
                probe = 4 * rng.randrange(1, 70000)
                try:
                    seen = table.context(probe)
                except WinsockError as exc:
                    assert exc.winerror == WSAENOTSOCK
                else:
                    assert isinstance(seen, int) and plausible(seen), f"{probe:#x}: {seen!r}"
                if serial % 16 == 0:
                    e = table.create_event()
                    table.set_event(e)
                    assert table.wait([e], timeout=0) == 0
                    table.close_event(e)
                if len(mine) > 40 or rng.random() < 0.4:
                    victim = rng.choice(list(mine))
                    if rng.random() < 0.5:
                        table.close_socket(victim)
                    else:
                        assert up.WPUCloseSocketHandle(victim, err) == 0
                    del mine[victim]
            left_open[me] = mine
        except BaseException:  # noqa: BLE001
            errors.append(f"Python thread {me}:\n{traceback.format_exc()}")

    threads = [threading.Thread(target=hammer_in_c, daemon=True)]
    threads += [threading.Thread(target=python_worker, args=(i,), daemon=True)
                for i in range(PY_THREADS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + JOIN_TIMEOUT
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"threads did not finish (deadlock?): {stuck}"
    assert not errors, "\n".join(errors)

    report = ctypes.create_string_buffer(1024)
    provider.provider_hammer_report(report, len(report))
    assert c_result == [0], f"C hammer: {c_result} violations; first: {report.value.decode()}"

    # The table holds exactly what the Python threads left open, each once, with its context.
    expected = {s: ctx for mine in left_open.values() for s, ctx in mine.items()}
    assert len(left_open) == PY_THREADS
    handles = list(table)
    assert len(handles) == len(set(handles)), "a handle is live twice"
    assert len(table) == len(expected) == len(handles)
    assert set(handles) == set(expected)
    for s, ctx in expected.items():
        assert table.context(s) == ctx
        assert c_query(native, s) == (0, ctx, None)
    # The table is still sound for new work from both sides.
    s = c_create(provider, addr, 5, 55)
    assert s not in expected and table.context(s) == 55


# --------------------------------------------------------------------------------------
# Contexts' lifetimes


def test_close_from_c_releases_the_context(provider: ctypes.CDLL, table: Any, native: Any,
                                           addr: int) -> None:
    obj = Opaque()
    ref = weakref.ref(obj)
    s = table.create_socket(1, obj)
    expected = id(obj)
    del obj
    gc.collect()
    assert ref() is not None, "the table holds its context"
    assert c_query(native, s) == (0, expected, None)
    assert c_errno_call(native.lpWPUCloseSocketHandle, s) == (0, None)
    assert ref() is None, "closing from C left the context alive"
    # The same through the wrapper, and for a context made by the facade.
    obj2 = Opaque()
    ref2 = weakref.ref(obj2)
    s2 = ws2core.UpcallTable(table).WPUCreateSocketHandle(2, obj2, ws2core.Ref())
    del obj2
    err = c_int(SENTINEL_ERR)
    assert provider.provider_close_socket(addr, s2, byref(err)) == 0
    assert ref2() is None
    assert len(table) == 0


def test_context_del_that_uses_the_table_when_closed_from_c(
        provider: ctypes.CDLL, table: Any, native: Any, addr: int) -> None:
    bystander = table.create_socket(1, "bystander")
    victim = table.create_socket(1, "victim")
    victim_event = c_create_event(provider, addr)
    made: dict[int, Any] = {}
    seen_in_del: list[Any] = []

    class Reentrant:
        def __init__(self) -> None:
            self.handle = 0

        def __del__(self) -> None:
            # Runs inside the native close (GIL held): the table must already be consistent.
            seen_in_del.append(c_query(native, self.handle))  # already closed
            seen_in_del.append(table.kind(self.handle))
            made[table.create_socket(2, "made in __del__")] = "made in __del__"
            # Back into C from here: nested GIL round trips through the native table.
            err = c_int(SENTINEL_ERR)
            seen_in_del.append(provider.provider_close_socket(addr, victim, byref(err)))
            seen_in_del.append(provider.provider_close_event(addr, victim_event, byref(err)))
            made[c_create(provider, addr, 3, 0xDE1)] = 0xDE1
            made[c_create_event(provider, addr)] = None
            seen_in_del.append(len(table))

    unraisable: list[Any] = []
    old_hook = sys.unraisablehook
    sys.unraisablehook = unraisable.append
    try:
        ctx = Reentrant()
        s = table.create_socket(1, ctx)
        ctx.handle = s
        del ctx
        assert c_errno_call(native.lpWPUCloseSocketHandle, s) == (0, None)
    finally:
        sys.unraisablehook = old_hook
    assert not unraisable, [u.exc_value for u in unraisable]
    assert seen_in_del[:4] == [(SOCKET_ERROR, None, WSAENOTSOCK), None, 0, TRUE]
    assert seen_in_del[4] == 1 + len(made)  # bystander + what __del__ made
    assert len(made) == 3
    assert sorted(table) == sorted([bystander, *made])
    assert len(set(table)) == len(table) == 4
    assert table.context(bystander) == "bystander"
    assert c_query(native, bystander) == (0, id(table.context(bystander)), None)
    for h, ctx_made in made.items():
        if ctx_made is None:
            assert table.kind(h) == "event"
        else:
            assert table.context(h) == ctx_made
            assert c_query(native, h)[0] == 0
    for h in (s, victim):
        assert c_query(native, h) == (SOCKET_ERROR, None, WSAENOTSOCK)
    assert table.kind(victim_event) is None
    # Still sound: new handles from both sides are fresh.
    fresh = {table.create_socket(4, 1), c_create(provider, addr, 4, 2), table.create_event()}
    assert len(fresh) == 3 and not fresh & {bystander, s, victim, victim_event, *made}
    table.close()
    assert len(table) == 0 and list(table) == []


# --------------------------------------------------------------------------------------
# Interpreter shutdown


SHUTDOWN_SCRIPT = r"""
import atexit, ctypes, importlib.util, sys

def after_ws2core():
    # atexit runs last-registered first: this was registered before ws2core was imported,
    # so ws2core's own handler has run by now.
    err = ctypes.c_int(0)
    ctx = ctypes.c_size_t(0)
    def code(result, name):
        print(name, int(result or 0), err.value, flush=True)
        err.value = 0
    code(native.lpWPUQuerySocketHandleContext(s, ctypes.byref(ctx), ctypes.byref(err)), "query")
    code(native.lpWPUCreateSocketHandle(1, 5, ctypes.byref(err)), "create")
    code(native.lpWPUCloseSocketHandle(s, ctypes.byref(err)), "close")
    code(native.lpWPUCreateEvent(ctypes.byref(err)), "create_event")
    code(native.lpWPUSetEvent(e, ctypes.byref(err)), "set_event")
    code(native.lpWPUResetEvent(e, ctypes.byref(err)), "reset_event")
    code(native.lpWPUCloseEvent(e, ctypes.byref(err)), "close_event")
    code(native.lpWPUOpenCurrentThread(None, ctypes.byref(err)), "open_thread")
    fds = build.FD_SET(); fds.fd_count = 1; fds.fd_array[0] = s
    print("fd_isset", native.lpWPUFDIsSet(s, ctypes.byref(fds)), 0, flush=True)
    # A thread Python never created, calling in during shutdown.
    setter = provider.provider_set_event_after(address, e, 0)
    code(provider.provider_join_setter(setter, ctypes.byref(err)), "c_thread_set_event")
    print("done", 0, 0, flush=True)

atexit.register(after_ws2core)

spec = importlib.util.spec_from_file_location("native_build", sys.argv[1])
build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build)
provider = build.load_provider(sys.argv[2])

import ws2core, ws2core._handles
up = ws2core.UpcallTable(ws2core._handles.HandleTable())
address = up.native_table()
native = build.native_upcalls(address)
s = up.table.create_socket(1, 77)
e = up.table.create_event()
err = ctypes.c_int(0)
ctx = ctypes.c_size_t(0)
print("before_query", native.lpWPUQuerySocketHandleContext(s, ctypes.byref(ctx), ctypes.byref(err)), ctx.value, flush=True)
print("before_set_event", native.lpWPUSetEvent(e, ctypes.byref(err)), err.value, flush=True)
"""


def test_native_upcalls_fail_cleanly_once_shutdown_starts(provider: ctypes.CDLL,
                                                          tmp_path: Path) -> None:
    script = tmp_path / "shutdown.py"
    script.write_text(textwrap.dedent(SHUTDOWN_SCRIPT))
    env = dict(os.environ)
    env.pop("WS2CORE_PURE_PYTHON", None)
    result = subprocess.run(
        [sys.executable, str(script), str(BUILD_PY), provider._name],
        capture_output=True, text=True, timeout=JOIN_TIMEOUT, env=env,
    )
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    lines = {name: (int(a), int(b)) for name, a, b in
             (line.split() for line in result.stdout.splitlines())}
    assert lines["before_query"] == (0, 77)  # the table worked before shutdown
    assert lines["before_set_event"] == (TRUE, 0)
    for name, failure in [("query", SOCKET_ERROR), ("create", INVALID_SOCKET),
                          ("close", SOCKET_ERROR), ("create_event", 0), ("set_event", FALSE),
                          ("reset_event", FALSE), ("close_event", FALSE),
                          ("c_thread_set_event", FALSE)]:
        assert lines[name] == (failure, WSANOTINITIALISED), (name, result.stdout)
    # Entry points that touch no table answer as before.
    assert lines["open_thread"] == (SOCKET_ERROR, WSANOTINITIALISED)
    assert lines["fd_isset"] == (1, 0)
    assert "done" in lines
    assert "Traceback" not in result.stderr, result.stderr


def test_provider_called_with_the_gil_held_may_call_back(provider: ctypes.CDLL, table: Any,
                                                          addr: int) -> None:
    """ctypes.PyDLL keeps the GIL across the call: the upcalls that take it must nest."""
    held = build.load_provider(provider._name)  # CDLL; rebind its functions through PyDLL
    with_gil = ctypes.PyDLL(provider._name)
    for name in ("provider_create_socket", "provider_close_socket", "provider_check_all"):
        function = getattr(with_gil, name)
        function.restype = getattr(held, name).restype
        function.argtypes = getattr(held, name).argtypes
    err = c_int(SENTINEL_ERR)
    s = with_gil.provider_create_socket(addr, 3, 333, byref(err))
    assert s != INVALID_SOCKET and table.context(s) == 333
    assert with_gil.provider_close_socket(addr, s, byref(err)) == 0 and s not in table
    report = ctypes.create_string_buffer(4096)
    assert with_gil.provider_check_all(addr, report, len(report)) == 0, report.value.decode()


# ---------------------------------------------------------------------------------------
# Thread handles, APCs and the alertable waits of WS2COREWAITTABLE, from C


def test_apcs_from_c(provider: ctypes.CDLL, table: Any, up: ws2core.UpcallTable) -> None:
    """provider.c's checks: thread ids, C APCs in queue order on their own pthread only in its
    alertable waits, a signalled event winning over them, the waits' failures, and a pthread
    asleep alertably woken by an APC another thread queued."""
    report = ctypes.create_string_buffer(16384)
    wake_ms = ctypes.c_double()
    failures = provider.provider_check_apcs(
        up.native_table(), up.native_wait_table(), report, len(report), byref(wake_ms))
    assert failures == 0, f"{failures} checks failed in provider.c:\n{report.value.decode()}"
    assert wake_ms.value < 1000, "the sleeper was not woken by the APC"
    assert len(table) == 0 and len(table._apcs) == 0  # every id closed, every APC run


def test_python_apc_runs_on_a_c_thread(provider: ctypes.CDLL, table: Any,
                                       up: ws2core.UpcallTable) -> None:
    """A Python callable queued with the facade's WPUQueueApc to a thread id a pthread opened
    runs on that pthread, in its alertable SleepEx from the wait table, which it wakes."""
    thread_id = WSATHREADID()
    assert provider.provider_open_thread_and_sleep(
        up.native_table(), up.native_wait_table(), ctypes.addressof(thread_id), 20000) == 0
    assert table.kind(thread_id.ThreadHandle) == "thread"
    ran_on: list[int] = []
    err = ws2core.Ref()
    time.sleep(0.05)
    assert up.WPUQueueApc(thread_id, lambda context: ran_on.append(
        (threading.get_ident(), context)), "ctx", err) == 0
    started = time.monotonic()
    code = c_int(SENTINEL_ERR)
    assert provider.provider_join_sleeper(byref(code)) == ws2core.WSA_WAIT_IO_COMPLETION
    assert time.monotonic() - started < 10
    assert len(ran_on) == 1 and ran_on[0][1] == "ctx" and ran_on[0][0] != threading.get_ident()
    assert up.WPUCloseThread(thread_id, err) == 0


def test_python_apc_that_raises_in_a_c_thread_is_unraisable(
        provider: ctypes.CDLL, table: Any, up: ws2core.UpcallTable) -> None:
    """No C caller can receive a Python exception: it is reported through
    sys.unraisablehook, and the C thread's wait still returns WSA_WAIT_IO_COMPLETION."""
    thread_id = WSATHREADID()
    assert provider.provider_open_thread_and_sleep(
        up.native_table(), up.native_wait_table(), ctypes.addressof(thread_id), 20000) == 0
    seen: list[Any] = []

    def fail(context: Any) -> None:
        raise ValueError(f"APC {context} fails on purpose")

    previous = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: seen.append(unraisable.exc_value)
    try:
        err = ws2core.Ref()
        assert up.WPUQueueApc(thread_id, fail, 7, err) == 0
        code = c_int(SENTINEL_ERR)
        assert provider.provider_join_sleeper(byref(code)) == ws2core.WSA_WAIT_IO_COMPLETION
    finally:
        sys.unraisablehook = previous
    assert [str(error) for error in seen] == ["APC 7 fails on purpose"]
    assert up.WPUCloseThread(thread_id, ws2core.Ref()) == 0


def test_native_thread_handles_count_and_fill_the_table(
        provider: ctypes.CDLL, ccore: ModuleType) -> None:
    u = ws2core.UpcallTable(ccore.HandleTable(max_handles=2))
    native = build.native_upcalls(u.native_table())
    ids = [WSATHREADID(), WSATHREADID(), WSATHREADID()]
    err = c_int(SENTINEL_ERR)
    assert native.lpWPUOpenCurrentThread(ctypes.addressof(ids[0]), byref(err)) == 0
    assert native.lpWPUOpenCurrentThread(ctypes.addressof(ids[1]), byref(err)) == 0
    assert err.value == SENTINEL_ERR
    assert native.lpWPUOpenCurrentThread(ctypes.addressof(ids[2]), byref(err)) == SOCKET_ERROR
    assert err.value == ws2core.WSAENOBUFS and ids[2].ThreadHandle is None
    assert sorted(u.table) == sorted(i.ThreadHandle for i in ids[:2])
    assert {u.table.kind(h) for h in u.table} == {"thread"}
    u.table.close()
    err.value = SENTINEL_ERR
    assert native.lpWPUCloseThread(ctypes.addressof(ids[0]), byref(err)) == SOCKET_ERROR
    assert err.value == ws2core.WSAEFAULT


def test_provider_path_through_the_native_table(up: ws2core.UpcallTable, native: Any) -> None:
    """WPUGetProviderPath from C: the catalog's path in UTF-16 with its NUL, the lengths as the
    facade gives them (the needed WCHARs on WSAEFAULT, the path's without NUL on success); a
    provider installed after the table was handed out is seen; NULL lpErrno allowed."""
    guid = GUID()
    ctypes.memmove(ctypes.addressof(guid), MSAFD_TCPIP6.bytes_le, 16)
    path = HOST_PROVIDER_PATH
    length = c_int(3)
    buffer = (ctypes.c_uint16 * 64)(*([0xFFFF] * 64))
    assert c_errno_call(native.lpWPUGetProviderPath, byref(guid), buffer, byref(length)) == \
        (SOCKET_ERROR, WSAEFAULT)
    assert length.value == len(path) + 1 and buffer[0] == 0xFFFF  # nothing written but the length
    assert c_errno_call(native.lpWPUGetProviderPath, byref(guid), None, byref(length)) == \
        (SOCKET_ERROR, WSAEFAULT)
    assert c_errno_call(native.lpWPUGetProviderPath, byref(guid), buffer, None) == \
        (SOCKET_ERROR, WSAEFAULT)
    assert c_errno_call(native.lpWPUGetProviderPath, byref(guid), buffer, byref(length)) == (0, None)
    assert length.value == len(path)
    assert bytes(buffer)[:2 * len(path) + 4] == (path + "\0").encode("utf-16-le") + b"\xff\xff"

    ours = uuid.UUID("6b1d0bd5-3c8e-4d4b-9b1e-0d2f0a5a1c01")
    installed = "C:\\lsp\\\u00e9t\u00e9.dll"  # a non-ASCII path survives the trip
    entry = WSAPROTOCOL_INFOW()
    entry.ProtocolChain.ChainLen = 0
    up.catalog.install(ours, installed, [entry])
    ctypes.memmove(ctypes.addressof(guid), ours.bytes_le, 16)
    length.value = 64
    assert native.lpWPUGetProviderPath(byref(guid), buffer, byref(length), None) == 0
    assert length.value == len(installed)
    assert bytes(buffer)[:2 * len(installed) + 2].decode("utf-16-le") == installed + "\0"
    up.catalog.deinstall(ours)
    assert c_errno_call(native.lpWPUGetProviderPath, byref(guid), buffer, byref(length)) == \
        (SOCKET_ERROR, WSAEINVAL)


def test_native_post_message(ccore: Any) -> None:
    """A C provider posts through its native table to the same windows (64-bit WPARAM and a
    negative LPARAM intact)."""
    up = ws2core.UpcallTable(ccore.HandleTable())
    import queue

    inbox: queue.Queue[Any] = queue.Queue()
    hwnd = up.register_window(inbox)
    post_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_size_t, ctypes.c_ssize_t)
    field = ws2core.upcalls.UPCALL_FIELDS.index("lpWPUPostMessage")
    address = ctypes.c_void_p.from_address(up.native_table() + field * ctypes.sizeof(ctypes.c_void_p)).value
    post = post_type(address)
    assert post(hwnd, 0x401, 2**64 - 1, -5) == TRUE
    assert inbox.get_nowait() == (hwnd, 0x401, 2**64 - 1, -5)
    assert post(None, 1, 0, 0) == FALSE and post(hwnd + 4, 1, 0, 0) == FALSE


def test_native_modify_ifs_handle(ccore: Any) -> None:
    """A C provider's proposed handle becomes a socket of the table, with the catalog entry id
    it gave; a live or tagged value is INVALID_SOCKET with WSAEINVAL."""
    up = ws2core.UpcallTable(ccore.HandleTable())
    modify_type = ctypes.CFUNCTYPE(ctypes.c_uint64, ctypes.c_uint32, ctypes.c_uint64, ctypes.POINTER(c_int))
    field = ws2core.upcalls.UPCALL_FIELDS.index("lpWPUModifyIFSHandle")
    address = ctypes.c_void_p.from_address(up.native_table() + field * ctypes.sizeof(ctypes.c_void_p)).value
    modify = modify_type(address)
    err = c_int(SENTINEL_ERR)
    assert modify(9, 400, byref(err)) == 400 and err.value == SENTINEL_ERR
    assert up.table.kind(400) == "socket" and up.table.catalog_entry(400) == 9
    for refused in (400, 402, 0):
        err = c_int(SENTINEL_ERR)
        assert modify(9, refused, byref(err)) == INVALID_SOCKET and err.value == WSAEINVAL


def test_native_blocking_callback(ccore: Any) -> None:
    """A Winsock 1.1 process: a C provider gets a C blocking callback, which runs the calling
    thread's hook and returns FALSE once the hook cancels; a Winsock 2 one gets NULL."""
    up = ws2core.UpcallTable(ccore.HandleTable())
    callback_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_size_t)
    query_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_uint32, ctypes.POINTER(ctypes.c_void_p),
                                  ctypes.POINTER(ctypes.c_size_t), ctypes.POINTER(c_int))
    field = UPCALL_FIELDS.index("lpWPUQueryBlockingCallback")
    query = query_type(ctypes.c_void_p.from_address(up.native_table() + field * ctypes.sizeof(ctypes.c_void_p)).value)
    entry = up.catalog.protocols()[0].dwCatalogEntryId
    pointer, context, err = ctypes.c_void_p(1), ctypes.c_size_t(7), c_int(SENTINEL_ERR)
    assert query(entry, byref(pointer), byref(context), byref(err)) == 0
    assert pointer.value is None and context.value == 0 and err.value == 0
    up.pseudo_blocking = True
    err = c_int(SENTINEL_ERR)
    assert query(entry, byref(pointer), byref(context), byref(err)) == 0
    assert pointer.value and context.value == entry and err.value == 0
    callback = callback_type(pointer.value)
    assert callback(context.value) == TRUE
    up.set_blocking_hook(up.cancel_blocking_call)
    assert callback(context.value) == FALSE
    err = c_int(SENTINEL_ERR)
    assert query(4242, byref(pointer), byref(context), byref(err)) == SOCKET_ERROR
    assert err.value == WSAEINVAL


# --------------------------------------------------------------------------------------
# A layered provider whose handles are kept in C, in a chain carrying loopback traffic


NATIVE_LAYER_ID = uuid.UUID("8f3e2d1c-4b5a-4c6d-8e7f-9a0b1c2d3e4f")
NATIVE_LAYER_PATH = f"{__name__}:NativeHandleLayer"


class NativeHandleLayer(LayeredProvider):
    """A non-IFS layer whose handle bookkeeping is C's (provider.c's provider_layer_*,
    through the native table, the GIL dropped): C makes each application handle with the
    layered entry's id and the lower socket as its context, maps a handle back to the lower
    socket, and releases it; the forwarding is LayeredProvider's."""

    library: ctypes.CDLL | None = None  # provider.c, given by the test

    def __init__(self) -> None:
        super().__init__()
        self.made: dict[int, int] = {}       # handle -> the lower socket, as C made them
        self.released: dict[int, int] = {}   # handle -> the lower socket C read releasing it

    def _native(self) -> tuple[ctypes.CDLL, int]:
        assert self.library is not None and self.upcalls is not None
        return self.library, self.upcalls.native_table()

    def create_handle(self, sock: LayeredSocket, lpErrno: Any) -> int:
        library, table = self._native()
        err = c_int(0)
        handle: int = library.provider_layer_wrap(table, sock.layer.entry_id, sock.lower, byref(err))
        if handle == INVALID_SOCKET:
            lpErrno.value = err.value
        else:
            self.made[handle] = sock.lower
        return handle

    def find_socket(self, s: Any, lpErrno: Any) -> LayeredSocket | None:
        if s.__class__ is not int or not 0 <= s < 2**64:  # poll hands any fd over
            lpErrno.value = WSAENOTSOCK
            return None
        library, table = self._native()
        err = c_int(0)
        lower = library.provider_layer_lower(table, s, byref(err))
        if lower == INVALID_SOCKET:
            lpErrno.value = err.value
            return None
        sock = self.recorded_socket(s)
        if sock is None or sock.lower != lower:  # a handle of another provider
            lpErrno.value = WSAENOTSOCK
            return None
        return sock

    def close_handle(self, sock: LayeredSocket) -> None:
        library, table = self._native()
        self.released[sock.handle] = library.provider_layer_unwrap(table, sock.handle, byref(c_int(0)))


@pytest.fixture
def native_layered(table: Any, provider: ctypes.CDLL,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Ws2_32, int]]:
    """(Ws2_32, layered entry id) with NativeHandleLayer's chain over TCP/IP ordered first."""
    monkeypatch.setattr(NativeHandleLayer, "library", provider)
    catalog = Catalog()
    layered_id, _ = install_layer(catalog, NATIVE_LAYER_ID, NATIVE_LAYER_PATH, "Native handles")
    ws = Ws2_32(ws2core.UpcallTable(table, catalog=catalog))
    assert ws.WSAStartup(0x0202, ws2core.Ref()) == 0
    try:
        yield ws, layered_id
    finally:
        ws.close()


def _layer_lower(provider: ctypes.CDLL, address: int, s: int) -> tuple[int, int]:
    err = c_int(SENTINEL_ERR)
    return provider.provider_layer_lower(address, s, byref(err)), err.value


def test_a_layer_keeping_its_handles_in_c_carries_loopback_traffic(
        native_layered: Any, provider: ctypes.CDLL) -> None:
    ws, layered_id = native_layered
    table, address = ws.upcalls.table, ws.upcalls.native_table()
    listener, client, accepted = connected_pair(ws)
    layer = ws._owner(client)
    assert isinstance(layer, NativeHandleLayer)
    # The application holds the handles C made: the layered entry's, whose context (read by
    # C and by Python) is the base provider's socket below.
    assert sorted(layer.made) == sorted((listener, client, accepted))
    for s in (listener, client, accepted):
        lower = layer.made[s]
        assert lower != s and table.catalog_entry(s) == layered_id
        assert _layer_lower(provider, address, s) == (lower, SENTINEL_ERR)
        assert table.context(s) == lower
        assert table.catalog_entry(lower) == MSAFD_TCPIP_ENTRY
        assert isinstance(table.context(lower), ProviderSocket)
        # A handle of the base provider is no socket of the layer.
        err = ws2core.Ref(0)
        assert layer.socket_of(lower, err) is None and err.value == WSAENOTSOCK
    for message in (b"through C's handles", bytes(range(256)) * 40):
        for sender, receiver in ((client, accepted), (accepted, client)):
            assert ws.send(sender, message, len(message), 0) == len(message)
            arrived = bytearray()
            while len(arrived) < len(message):
                buffer = bytearray(65536)
                got = ws.recv(receiver, buffer, len(buffer), 0)
                assert got > 0, ws.WSAGetLastError()
                arrived += buffer[:got]
            assert bytes(arrived) == message
    # Closing releases the layer's handle in C (which read the lower socket back) and the
    # lower socket; C then finds neither.
    for s in (client, accepted, listener):
        lower = layer.made[s]
        assert ws.closesocket(s) == 0
        assert layer.released[s] == lower
        assert table.kind(s) is None and table.kind(lower) is None
        assert _layer_lower(provider, address, s) == (INVALID_SOCKET, WSAENOTSOCK)
    assert ws.closesocket(client) == SOCKET_ERROR and ws.WSAGetLastError() == WSAENOTSOCK
    assert len(table) == 0


def test_cleanup_releases_the_c_made_handles(native_layered: Any) -> None:
    ws, _ = native_layered
    _, client, _ = connected_pair(ws)
    layer = ws._owner(client)
    assert ws.WSACleanup() == 0
    assert layer.released == layer.made and len(layer.made) == 3
    assert len(ws.upcalls.table) == 0
