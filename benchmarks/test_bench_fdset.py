"""FD_ISSET misses on full sets larger than FD_SETSIZE: 1,024 and 16,384 entries.

The figures of ``python -m ws2core bench``'s table 2 beyond 64 entries (test_bench_core.py has
the 64-entry set), each group holding both cores and the C-call floor: ``FD_ISSET miss 1024``
on a ``FdSet``, ``FD_ISSET miss 1024 ctypes`` on a foreign fd_set (a ctypes Structure with
``fd_count`` and a ``c_uint64`` array, read through the buffer protocol), and ``FD_ISSET miss
1024 x86`` on an ``FdSet(abi="x86")`` (4-byte SOCKETs: a 32-bit process's set).  The missing
socket is in no set, so every call scans all entries.
"""

from __future__ import annotations

import ctypes
import struct
from types import ModuleType
from typing import Any

import pytest

SIZES = [1024, 16384]
KINDS = ["FdSet", "ctypes", "x86"]


def _group(size: int, kind: str) -> str:
    return f"FD_ISSET miss {size}" + ("" if kind == "FdSet" else f" {kind}")


def _c_fd_set(capacity: int) -> type[ctypes.Structure]:
    fields = [("fd_count", ctypes.c_uint), ("fd_array", ctypes.c_uint64 * capacity)]
    return type(f"fd_set_{capacity}", (ctypes.Structure,), {"_fields_": fields})


@pytest.fixture(scope="module")
def sockets(core: ModuleType) -> tuple[Any, list[int]]:
    """A table with max(SIZES) + 1 live sockets: the members, then one outside every set."""
    table = core.HandleTable()
    return table, [table.create_socket(7) for _ in range(max(SIZES) + 1)]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("kind", KINDS)
def test_fd_isset_floor(benchmark: Any, size: int, kind: str) -> None:
    benchmark.group = _group(size, kind)
    assert benchmark(abs, 4) == 4


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("kind", KINDS)
def test_fd_isset_miss_large(
    benchmark: Any, core: ModuleType, sockets: tuple[Any, list[int]], size: int, kind: str
) -> None:
    benchmark.group = _group(size, kind)
    _, socks = sockets
    members, miss = socks[:size], socks[-1]
    packed = struct.pack(f"<II{size}Q", size, 0, *members)
    # One copy of the packed bytes: no `size` adds, each scanning for a duplicate (slow on the twin).
    if kind == "x86":
        fdset = core.FdSet.from_buffer(struct.pack(f"<I{size}I", size, *members), abi="x86")
    elif kind == "FdSet":
        fdset = core.FdSet.from_buffer(packed)
    else:
        fdset = _c_fd_set(size).from_buffer_copy(packed)
    assert core.FD_ISSET(members[-1], fdset) == 1
    assert benchmark(core.FD_ISSET, miss, fdset) == 0
