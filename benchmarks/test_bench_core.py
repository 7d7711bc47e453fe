"""The hot operations, each timed on both cores with a C-call floor in the same group.

Run ``python -m pytest benchmarks`` and compare within a group: ``test_x[cython]`` against
``test_x[python]`` gives the speed-up, and either against ``test_floor[<group>]`` (``abs`` on
an int: the cheapest call CPython makes, through the same benchmark loop) says how close to
"free" the operation is.  Every body checks its result, so ``--benchmark-disable`` (each body
run once) is a smoke test of the operations as well as of the suite.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

import ws2core

GROUPS = [
    "context lookup",
    "drop-in context lookup",
    "create+close",
    "FD_ISSET hit 64",
    "FD_ISSET miss 64",
    "HandleTable()",
]


@pytest.mark.parametrize("group", GROUPS)
def test_floor(benchmark: Any, group: str) -> None:
    """The C-call floor, once per group so each table shows it beside the operations."""
    benchmark.group = group  # what @pytest.mark.benchmark(group=...) sets, per parameter
    assert benchmark(abs, 4) == 4


@pytest.mark.benchmark(group="context lookup")
def test_context_lookup(benchmark: Any, table: Any) -> None:
    ctx = object()
    h = table.create_socket(7, ctx)
    assert benchmark(table.context, h) is ctx


@pytest.mark.benchmark(group="drop-in context lookup")
def test_dropin_context_lookup(
    benchmark: Any, core: ModuleType, upcalls: ws2core.UpcallTable
) -> None:
    # The core's own Ref: the out-parameter it writes without going through setattr.
    ctx, ref, err = object(), core.Ref(), core.Ref(0)
    h = upcalls.WPUCreateSocketHandle(7, ctx, err)
    assert benchmark(upcalls.WPUQuerySocketHandleContext, h, ref, err) == 0
    assert ref.value is ctx and err.value == 0


def _create_close(table: Any, ctx: object) -> Callable[[], int]:
    create, close = table.create_socket, table.close_socket

    def create_close() -> int:
        h: int = create(7, ctx)
        close(h)
        return h

    return create_close


@pytest.mark.benchmark(group="create+close")
def test_create_close(benchmark: Any, table: Any) -> None:
    # A pair is two calls, so it needs a wrapper function; its cost (one Python frame) is the
    # same for both cores and shows in test_create_close_wrapper_floor, so subtract it before
    # comparing the cores closely.
    h = benchmark(_create_close(table, object()))
    assert h and h % 4 == 0 and len(table) == 0


@pytest.mark.benchmark(group="create+close")
def test_create_close_wrapper_floor(benchmark: Any) -> None:
    """The create+close wrapper's shape around two abs calls: the floor for a pair."""
    two_calls = abs

    def wrapper() -> int:
        return two_calls(two_calls(4))

    assert benchmark(wrapper) == 4


@pytest.mark.benchmark(group="FD_ISSET hit 64")
def test_fd_isset_hit(benchmark: Any, core: ModuleType, full_set: tuple[Any, int, int]) -> None:
    fds, hit, _ = full_set
    assert len(fds) == ws2core.FD_SETSIZE
    assert benchmark(core.FD_ISSET, hit, fds) == 1


@pytest.mark.benchmark(group="FD_ISSET miss 64")
def test_fd_isset_miss(benchmark: Any, core: ModuleType, full_set: tuple[Any, int, int]) -> None:
    fds, _, miss = full_set
    assert len(fds) == ws2core.FD_SETSIZE
    assert benchmark(core.FD_ISSET, miss, fds) == 0


@pytest.mark.benchmark(group="HandleTable()")
def test_handle_table_creation(benchmark: Any, core: ModuleType) -> None:
    """An empty table, created and dropped: what a short-lived Ws2_32 instance costs."""
    table = benchmark(core.HandleTable)
    assert len(table) == 0 and isinstance(table, core.HandleTable)
