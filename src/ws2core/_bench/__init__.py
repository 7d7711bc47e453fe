"""``python -m ws2core bench``: ws2core's performance report, with its targets.

Every figure is given for the Cython core (``ws2core._handles``) and for the pure-Python twin
(``ws2core._handles_py``), beside a C-call floor, ``abs(h)``: the cheapest call CPython makes.
Compare ratios within one run, never absolute figures across machines.  The sections, each a
table with its targets beside the figures:

1. the hot path: context lookup, the drop-in query and every hot upcall of ``UpcallTable``,
   and how the drop-in query's cost over ``t.context(h)`` splits;
2. FD_ISSET misses on full sets of 64, 1,024 and 16,384 entries, an ``FdSet`` and a ctypes
   ``fd_set``;
3. scaling: lookup, create+close and FD_ISSET in tables of 1,000, 100,000 and 1,000,000 live
   sockets, and lookups in random order over all of them;
4. memory per live handle (RSS delta in a fresh interpreter per core) and per empty table;
5. ``HandleTable()`` creation time;
6. batch operations against the same work done one call at a time;
7. polls of 64 events and the wake-up latency of a wait.

A private package of the command (``_bench``, as the module it replaces: nothing here is API,
and ``import ws2core`` never imports it), one concern per module:

- ``cases``: the one list of timed cases, also read by ``benchmarks/`` (pytest-benchmark);
- ``timing``: a case's statement in a timeit-style loop, interleaved repeats, medians;
- ``report``: rows, tables, the summary and the JSON (format ``ws2core-bench/1``);
- ``sections``: the timed tables (1, 1b, 2, 3, 5, 6, 7); ``memory``: table 4 and its probe
  (``python -m ws2core._bench memory ...``); ``wakeup``: table 7b;
- ``plot``: ``--plot`` (matplotlib, imported only then); ``run``: the run, ``bench()``;
- ``sources``: the fingerprint of the measured sources, in the JSON; ``markdown``: the
  README's tables made from a JSON (``make readme-tables``).
"""

from .plot import PLOT_INSTALL
from .run import bench

__all__ = ["PLOT_INSTALL", "bench"]
