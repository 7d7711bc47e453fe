"""Batch calls over 10,000 handles against one call per handle, both cores and a floor: the
report's table 6 (``ws2core._bench.cases``) as pytest-benchmark groups, one per operation.

``batch contexts`` holds ``test_case[cython-contexts]`` (one ``t.contexts(hsa)`` call),
``test_case[cython-contexts single]`` (a loop of 10,000 ``t.context(h)`` calls) and the floor
``test_floor[loop floor-batch contexts]`` (the same loop calling ``abs``), so every figure in
the group is per 10,000 handles.  A core without a batch call yet skips both, saying so.

hsa is the handles as the ``array('Q')`` that ``create_sockets`` returns; hs the same handles
as a list, which the single-call loops walk.  Building an FdSet one ``add`` at a time scans the
set for a duplicate at each add (as FD_SET does), so that single-call figure grows with the
square of the batch.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from ws2core._bench.cases import BATCH, BATCH_SIZE, PYTEST, Case, batch_cases, section

CASES = section(batch_cases(BATCH_SIZE), BATCH, PYTEST)


def test_case(time_case: Callable[..., None], core: ModuleType, case: Case) -> None:
    time_case(case, core)


def test_floor(time_case: Callable[..., None], floor: Case, group: str) -> None:
    time_case(floor, None, group, CASES)
