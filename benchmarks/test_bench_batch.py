"""Batch calls over 10,000 handles against one call per handle, both cores and a floor.

The figures of ``python -m ws2core bench``'s table 6 as pytest-benchmark groups, one per
operation: ``batch contexts`` holds ``test_batch[contexts-cython]`` (one ``t.contexts(hsa)``
call), ``test_single[contexts-cython]`` (a loop of 10,000 ``t.context(h)`` calls) and the
floor ``test_batch_floor[contexts]`` (the same loop calling ``abs``), so every figure in the
group is per 10,000 handles.  A core without a batch call yet skips its test, saying so.

hsa is the handles as the ``array('Q')`` that ``create_sockets`` returns; hs the same handles
as a list, which the single-call loops walk.  Building an FdSet one ``add`` at a time scans the
set for a duplicate at each add (as FD_SET does), so that single-call figure grows with the
square of the batch: it runs a fixed 3 rounds.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import pytest

import ws2core

N = 10_000
OPERATIONS = ["create+close", "contexts", "FdSet build", "contains_each"]
# What each batch operation needs: (on the table or on FdSet, attribute names).
NEEDS = {
    "create+close": ("HandleTable", ("create_sockets", "close_sockets")),
    "contexts": ("HandleTable", ("contexts",)),
    "FdSet build": ("FdSet", ()),
    "contains_each": ("FdSet", ("contains_each",)),
}


@dataclass
class Batch:
    table: Any
    contexts: list[object]
    hs: list[int]
    hsa: array[int]
    fds64: Any  # a full FdSet of the first 64 of hs


@pytest.fixture
def batch(core: ModuleType, table: Any) -> Batch:
    contexts = [object() for _ in range(N)]
    hs = [table.create_socket(7, c) for c in contexts]
    return Batch(table, contexts, hs, array("Q", hs), core.FdSet(hs[: ws2core.FD_SETSIZE]))


def _require(core: ModuleType, operation: str) -> None:
    owner, attributes = NEEDS[operation]
    missing = [a for a in attributes if not hasattr(getattr(core, owner), a)]
    if missing:
        pytest.skip(f"{core.__name__}.{owner} has no {', '.join(missing)} yet")


def _loop(call: Callable[[Any], Any], items: list[Any]) -> Callable[[], Any]:
    def loop() -> Any:
        result = None
        for item in items:
            result = call(item)
        return result

    return loop


@pytest.mark.parametrize("operation", OPERATIONS)
def test_batch_floor(benchmark: Any, operation: str) -> None:
    """A loop of N abs calls: the floor of the single-call loops, and of N handles in a batch."""
    benchmark.group = f"batch {operation}"
    items = list(range(4, 4 * N + 4, 4))
    assert benchmark(_loop(abs, items)) == items[-1]


@pytest.mark.parametrize("operation", OPERATIONS)
def test_batch(benchmark: Any, core: ModuleType, batch: Batch, operation: str) -> None:
    benchmark.group = f"batch {operation}"
    _require(core, operation)
    t = batch.table
    if operation == "create+close":
        create_sockets, close_sockets, contexts = t.create_sockets, t.close_sockets, batch.contexts

        def create_close() -> list[Any]:
            failed: list[Any] = close_sockets(create_sockets(7, contexts))
            return failed

        assert benchmark(create_close) == []
        assert len(t) == N
    elif operation == "contexts":
        found = benchmark(t.contexts, batch.hsa)
        assert len(found) == N and all(a is b for a, b in zip(found, batch.contexts))
    elif operation == "FdSet build":
        built = benchmark(core.FdSet, batch.hsa, capacity=N)
        assert len(built) == N and list(built) == batch.hs
    else:
        found = benchmark(batch.fds64.contains_each, batch.hsa)
        assert found == [True] * ws2core.FD_SETSIZE + [False] * (N - ws2core.FD_SETSIZE)


@pytest.mark.parametrize("operation", OPERATIONS)
def test_single(benchmark: Any, core: ModuleType, batch: Batch, operation: str) -> None:
    benchmark.group = f"batch {operation}"
    _require(core, operation)  # no batch to compare with: no point timing the loop
    t = batch.table
    if operation == "create+close":
        create, close, contexts = t.create_socket, t.close_socket, batch.contexts

        def create_close() -> int:  # the pair inline: no extra frame per handle
            h = 0
            for c in contexts:
                h = create(7, c)
                close(h)
            return h

        assert benchmark(create_close) % 4 == 0
        assert len(t) == N
    elif operation == "contexts":
        assert benchmark(_loop(t.context, batch.hs)) is batch.contexts[-1]
    elif operation == "FdSet build":

        def one_by_one() -> Any:
            fds = core.FdSet(capacity=N)
            add = fds.add
            for h in batch.hs:
                add(h)
            return fds

        built = benchmark.pedantic(one_by_one, rounds=3, iterations=1)
        assert list(built) == batch.hs
    else:
        fds64 = batch.fds64
        assert benchmark(_loop(fds64.__contains__, batch.hs)) is False
