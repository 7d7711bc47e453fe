"""Scaling: the hot operations in tables holding many live sockets, both cores and a floor.

The figures of ``python -m ws2core bench``'s table 3 as pytest-benchmark groups, one group per
operation and tier: ``scaling lookup 100k`` holds ``test_scaling_lookup[cython-100k]``,
``[python-100k]`` and ``test_scaling_floor[lookup-100k]``.  Each tier is a table of N live
sockets (1,000 and 100,000; 1,000,000 too with ``WS2CORE_BENCH_1M=1``, left out of the default
run because building it takes about a second on the twin and the random walk over it a second
per round).  The fixed-handle operations look up the same handle in every tier (the table's
first socket), so a tier's figure against the 1k tier's is the cost of the table's size alone;
the random-order walk visits all N handles in a shuffled order, one call each, so it pays for
the table's (and the handles') memory falling out of the caches.  Compare within a group.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

import ws2core

TIERS = [1_000, 100_000]
if os.environ.get("WS2CORE_BENCH_1M", "") == "1":
    TIERS.append(1_000_000)


def _name(live: int) -> str:
    return f"{live // 1_000_000}M" if live >= 1_000_000 else f"{live // 1000}k"


@dataclass
class Tier:
    """A table of ``live`` sockets, all with the context ``obj``."""

    live: int
    table: Any
    obj: object
    h0: int  # the first socket: the same value in every tier
    fds: Any  # a full FdSet of 64 of the sockets
    miss: int  # a socket not in fds
    shuffled: list[int]  # every live socket, in a fixed random order


@pytest.fixture(scope="module", params=TIERS, ids=_name)
def tier(request: pytest.FixtureRequest, core: ModuleType) -> Tier:
    live: int = request.param
    table = core.HandleTable()
    obj = object()
    create = table.create_socket
    handles = [create(7, obj) for _ in range(live)]
    fds = core.FdSet(handles[1 : 1 + ws2core.FD_SETSIZE])
    shuffled = handles[:]
    random.Random(live).shuffle(shuffled)
    return Tier(live, table, obj, handles[0], fds, handles[1 + ws2core.FD_SETSIZE], shuffled)


def _walk(call: Callable[[Any], Any], handles: list[int]) -> Callable[[], Any]:
    """One call per handle, in the list's order; the last result."""

    def walk() -> Any:
        result = None
        for h in handles:
            result = call(h)
        return result

    return walk


OPERATIONS = ["lookup", "create+close", "FD_ISSET miss 64", "random-order lookup"]


@pytest.mark.parametrize("live", TIERS, ids=_name)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_scaling_floor(benchmark: Any, operation: str, live: int) -> None:
    """abs: one call for the fixed-handle groups, a walk over ``live`` ints for the random one."""
    benchmark.group = f"scaling {operation} {_name(live)}"
    if operation != "random-order lookup":
        assert benchmark(abs, 4) == 4
        return
    handles = list(range(4, 4 * live + 4, 4))
    random.Random(live).shuffle(handles)
    assert benchmark(_walk(abs, handles)) == handles[-1]


def test_scaling_lookup(benchmark: Any, tier: Tier) -> None:
    benchmark.group = f"scaling lookup {_name(tier.live)}"
    assert benchmark(tier.table.context, tier.h0) is tier.obj
    assert len(tier.table) == tier.live


def test_scaling_create_close(benchmark: Any, tier: Tier) -> None:
    benchmark.group = f"scaling create+close {_name(tier.live)}"
    create, close, obj = tier.table.create_socket, tier.table.close_socket, tier.obj

    def create_close() -> int:
        h: int = create(7, obj)
        close(h)
        return h

    h = benchmark(create_close)
    assert h and h % 4 == 0 and h not in tier.table
    assert len(tier.table) == tier.live


def test_scaling_fd_isset_miss(benchmark: Any, core: ModuleType, tier: Tier) -> None:
    benchmark.group = f"scaling FD_ISSET miss 64 {_name(tier.live)}"
    assert len(tier.fds) == ws2core.FD_SETSIZE
    assert benchmark(core.FD_ISSET, tier.miss, tier.fds) == 0


def test_scaling_random_lookup(benchmark: Any, tier: Tier) -> None:
    benchmark.group = f"scaling random-order lookup {_name(tier.live)}"
    assert len(tier.shuffled) == tier.live == len(tier.table)
    assert benchmark(_walk(tier.table.context, tier.shuffled)) is tier.obj
