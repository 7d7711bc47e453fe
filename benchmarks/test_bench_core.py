"""The hot operations and HandleTable(), each timed on both cores with a C-call floor in the
same group: the report's tables 1 and 5 (``ws2core._bench.cases``), as pytest-benchmark groups.

Run ``python -m pytest benchmarks`` and compare within a group: ``test_case[cython-x]`` against
``test_case[python-x]`` gives the speed-up, and either against ``test_floor[floor-x]`` (``abs``
on an int: the cheapest call CPython makes, through the same benchmark loop) says how close to
"free" the operation is.  A statement that is one call is timed as that call; anything else (a
create+close pair) through a function of its own, and the floor of its group through the same
shape of function, so subtract the floor before comparing the cores closely.  Every case is
checked before and after timing, so ``--benchmark-disable`` (each body run once) is a smoke
test of the operations as well as of the suite.  The report's "alone" upcalls are not here:
their untimed half (a thousand closes or creates) cannot be left out of a pytest-benchmark round.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from ws2core._bench.cases import CREATION, HOT, PYTEST, Case, all_cases, section

CASES = [*section(all_cases(), HOT, PYTEST), *section(all_cases(), CREATION, PYTEST)]


def test_case(time_case: Callable[..., None], core: ModuleType, case: Case) -> None:
    time_case(case, core)


def test_floor(time_case: Callable[..., None], floor: Case, group: str) -> None:
    time_case(floor, None, group, CASES)
