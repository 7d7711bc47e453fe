"""FD_ISSET on full sets of 64, 1,024 and 16,384 entries, both cores and a C-call floor: the
report's table 2 (``ws2core._bench.cases``) as pytest-benchmark groups, one per case.

``FD_ISSET miss 1,024`` is an ``FdSet``, ``... ctypes`` a foreign fd_set (a ctypes Structure
with ``fd_count`` and a ``c_uint64`` array, read through the buffer protocol), and ``... x86``
(here only, not in the report) an ``FdSet(abi="x86")`` with 4-byte SOCKETs: a 32-bit process's
set.  The missing socket is in no set, so every call scans all entries.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

from ws2core._bench.cases import FD, PYTEST, Case, all_cases, section

CASES = section(all_cases(), FD, PYTEST)


def test_case(time_case: Callable[..., None], core: ModuleType, case: Case) -> None:
    time_case(case, core)


def test_floor(time_case: Callable[..., None], floor: Case, group: str) -> None:
    time_case(floor, None, group, CASES)
