"""Scaling: the hot operations in tables holding many live sockets, both cores and a floor: the
report's table 3 (``ws2core._bench.cases``) as pytest-benchmark groups, one per operation and
tier: ``scaling lookup 100k`` holds ``test_case[cython-lookup, 100k live]``, its twin's and
``test_floor[C-call floor-scaling lookup 100k]``.

Each tier is a table of N live sockets (1,000 and 100,000; 1,000,000 too with
``WS2CORE_BENCH_1M=1``, left out of the default run because building it takes about a second on
the twin and the random walk over it a second per round).  The fixed-handle operations look up
the same handle in every tier (the table's first socket), so a tier's figure against the 1k
tier's is the cost of the table's size alone; the random-order walk visits all N handles in a
shuffled order, one call each (one benchmark round is the whole walk, its floor the same walk
calling ``abs``), so it pays for the table's (and the handles') memory falling out of the
caches.  Compare within a group.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType

from ws2core._bench.cases import PYTEST, SCALING, Case, scaling_cases, section

TIERS = (1_000, 100_000, *((1_000_000,) if os.environ.get("WS2CORE_BENCH_1M", "") == "1" else ()))
CASES = section(scaling_cases(TIERS), SCALING, PYTEST)


def test_case(time_case: Callable[..., None], core: ModuleType, case: Case) -> None:
    time_case(case, core)


def test_floor(time_case: Callable[..., None], floor: Case, group: str) -> None:
    time_case(floor, None, group, CASES)
