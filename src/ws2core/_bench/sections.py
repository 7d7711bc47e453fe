"""The report's timed tables: each times its cases of ``cases.py`` on both cores beside their
floor, then turns the cells into rows (the hot path and its breakdown, FD_ISSET on large sets,
scaling, HandleTable(), batches, polls).

The cases' names, statements, checks and targets come from the one list; what is here is how
each table reads them: which ratios it shows, its title and legend.  Memory and the wake-up
latency are not statements in a loop and live in ``memory.py`` and ``wakeup.py``.
"""

from __future__ import annotations

import gc
import time
from types import ModuleType
from typing import IO, Any

from ws2core import _implementation

from . import cases as C
from .cases import Case, Fixture, Target
from .report import CORE, HEADERS, TWIN_KEY, Report, Row, Section, difference, ratio
from .timing import Cell, Timer, run_cells

HOT_LEGEND = (
    "t: a HandleTable holding 65 sockets; h: one of them, obj its context; up: an UpcallTable"
    " over t; ref, err: the core's own Ref; box: a SimpleNamespace with a .value (any object"
    " with a writable .value is an out-parameter); c_err: a ctypes.c_int (the README's lpErrno);"
    " c_ctx: a ctypes.c_size_t, c_vp a ctypes.c_void_p, hi a socket whose context is the int"
    " 12345; fds: a full FdSet of 64 of the sockets, miss the 65th; c_fds:"
    " the same set copied into a ctypes fd_set Structure. 'alone': upc is an UpcallTable over a"
    " spare empty table; create is timed in loops of 1,000 each followed by closing them"
    " untimed, close is timed over 1,000 sockets _x created untimed before each loop."
    " twin/core: how many times slower the twin is; core/floor: the core's time in floors (the"
    " loop's own cost is in both). Target: the core's figure."
)

FD_LEGEND = (
    "fds<n>: a full FdSet of n live sockets; c_fds<n>: the same fd_set copied into a ctypes"
    " Structure (fd_count and a c_uint64 array, read through the buffer protocol); miss: a"
    " socket in none of them, so every call scans all n entries; hit: the 64th entry of fds64."
)


def load_core() -> tuple[ModuleType | None, str]:
    """The Cython core, or None and why it is not measured."""
    if _implementation.pure_python_requested():
        return None, "not measured: WS2CORE_PURE_PYTHON=1"
    try:
        return _implementation.load("cython"), ""
    except ImportError as exc:
        return None, f"missing ({exc}); build it with: python -m pip install -e ."


class Bench(Report):
    """One run of the report: its settings and cases, the names built for each core."""

    def __init__(self, quick: bool, repeats: int, out: IO[str], header: str) -> None:
        super().__init__(quick, repeats, out, header)
        core, self.why_not = load_core()
        self.modules = {CORE: core, TWIN_KEY: _implementation.load("python")}
        self.tiers = C.TIERS
        self.walk_limit = 100_000 if quick else 1_000_000  # the random walk's largest tier
        self.batch = 2_000 if quick else C.BATCH_SIZE
        self.memory_count = 200_000 if quick else 1_000_000
        self.cases = C.all_cases(self.tiers, self.batch)
        self.meta = {
            "tiers": list(self.tiers),
            "batch": self.batch,
            "memory_handles": self.memory_count,
            "memory_method": "",
        }
        self._names: dict[str, dict[str, dict[str, Any]]] = {}

    def walk_left_out(self) -> str:
        """Why the random-order walk has no figure in the largest tier ("" if it has one):
        said under the scaling table and on the plot."""
        if self.walk_limit >= max(self.tiers):
            return ""
        return (
            f"the random-order walk over all {max(self.tiers):,} handles is left out (a repeat"
            " there lasts ~1 s on the twin); run without --quick for it"
        )

    def present(self) -> dict[str, ModuleType]:
        return {key: mod for key, mod in self.modules.items() if mod is not None}

    def section_cases(self, key: str) -> list[Case]:
        return C.section(self.cases, key)

    # --- the names each fixture builds, once per core while a table needs them

    def names(self, fixture: Fixture) -> dict[str, dict[str, Any]]:
        if fixture.key not in self._names:
            self._names[fixture.key] = {
                label: fixture.build(mod) for label, mod in self.present().items()
            }
        return self._names[fixture.key]

    def forget(self, fixture: Fixture) -> None:
        built = self._names.pop(fixture.key, None)
        if built is not None and fixture.close is not None:
            for names in built.values():
                fixture.close(names)

    # --- timing a table of cases

    def checked_cell(self, case: Case, names: dict[str, Any], label: str, section: str) -> Cell:
        cell = Cell(Timer(case, names), per=case.per)
        try:
            ok = eval(case.check, dict(names))  # noqa: S307 (our own constant strings)
        except Exception as exc:
            ok, why = False, f"raises {type(exc).__name__}: {exc}"
        else:
            why = "gives a wrong answer"
        if not ok:
            cell.error = why
            self.error(f"{section}: the {HEADERS[label]} core {why} in {case.name} ({case.check})")
        return cell

    def core_cells(self, case: Case, section: str) -> dict[str, Cell]:
        """The case's cells, one per core it applies to (checked, not yet timed)."""
        names = self.names(case.fixture)
        labels = [CORE] if case.applies == C.CYTHON else list(names)
        return {
            label: self.checked_cell(case, names[label], label, section)
            for label in labels if label in names
        }

    def floor_cell(self, floor: Case, section: str) -> Cell:
        """The floor's cell, over the twin's names (the twin is always there)."""
        return self.checked_cell(floor, self.names(floor.fixture)[TWIN_KEY], TWIN_KEY, section)

    def time_cases(
        self, section: str, cases: list[Case]
    ) -> tuple[Cell, dict[str, dict[str, Cell]]]:
        """Check every case on each core, then time all and their floor, interleaved."""
        assert cases[0].floor is not None
        floor_cell = self.floor_cell(cases[0].floor, section)
        cells = {case.name: self.core_cells(case, section) for case in cases}
        everything = [floor_cell, *(cell for row in cells.values() for cell in row.values())]
        for message in run_cells(everything, self.min_time, self.repeats):
            self.error(f"{section}: {message}")
        return floor_cell, cells

    def simple_rows(
        self, cases: list[Case], floor_cell: Cell, cells: dict[str, dict[str, Cell]],
        scale: float = 1.0,
    ) -> list[Row]:
        """Rows of core, twin and floor figures with twin/core and core/floor."""
        floor_case = cases[0].floor
        assert floor_case is not None
        floor = None if floor_cell.ns is None else floor_cell.ns * scale
        rows = [
            Row(
                floor_case.name, floor_case.stmt, {"floor": floor},
                info={"loops": {"floor": floor_cell.number}},
            )
        ]
        for case in cases:
            got = cells[case.name]
            core = got.get(CORE)
            twin = got[TWIN_KEY]
            core_ns = None if core is None or core.ns is None else core.ns * scale
            twin_ns = None if twin.ns is None else twin.ns * scale
            failed = any(cell.error for cell in got.values())
            rows.append(
                Row(
                    case.name,
                    case.stmt,
                    {CORE: core_ns, TWIN_KEY: twin_ns, "floor": floor},
                    {"twin/core": ratio(twin_ns, core_ns), "core/floor": ratio(core_ns, floor)},
                    list(case.targets),
                    note="error" if failed else "",
                    info={"loops": {label: cell.number for label, cell in got.items()}},
                )
            )
        return rows

    def simple_section(
        self, key: str, title: str, unit: str, legend: str = "", scale: float = 1.0
    ) -> list[Row]:
        cases = self.section_cases(key)
        floor_cell, cells = self.time_cases(key, cases)
        rows = self.simple_rows(cases, floor_cell, cells, scale)
        self.print_section(
            Section(key, title, unit, [CORE, TWIN_KEY], ["twin/core", "core/floor"], rows, legend)
        )
        return rows

    # --- the sections

    def hot_path(self) -> None:
        rows = self.simple_section(C.HOT, "1. The hot path: ns per operation", "ns", HOT_LEGEND)
        by_case = {row.case: row for row in rows}
        context = by_case["context lookup"]
        query = by_case["drop-in query (core's Ref)"]
        parts = [
            ("query(Ref) - t.context(h)", query, context),
            ("query(.value) - query(Ref)", by_case["drop-in query (plain .value)"], query),
            ("query(c_int err) - query(Ref)", by_case["drop-in query (c_int lpErrno)"], query),
            ("query(c_size_t) - query(Ref)", by_case["drop-in query (c_size_t)"], query),
            ("query(c_void_p) - query(Ref)", by_case["drop-in query (c_void_p)"], query),
        ]
        breakdown = []
        for label, a, b in parts:
            core_ns = difference(a.figures.get(CORE), b.figures.get(CORE))
            twin_ns = difference(a.figures.get(TWIN_KEY), b.figures.get(TWIN_KEY))
            floor = a.figures.get("floor")
            breakdown.append(
                Row(
                    label, f"{a.stmt} - {b.stmt}", {CORE: core_ns, TWIN_KEY: twin_ns},
                    {"core/floor": ratio(core_ns, floor)},
                )
            )
        self.print_section(
            Section(
                "drop-in breakdown",
                "1b. Where the drop-in query's time goes: differences of rows of table 1, ns",
                "ns",
                [CORE, TWIN_KEY],
                ["core/floor"],
                breakdown,
                "query(Ref) - t.context(h): what the Windows-shaped call costs over the Pythonic"
                " one when lpContext is the core's own Ref: parsing 3 positional arguments instead"
                " of 1, checking the two out-parameters' types, the store into the Ref (one"
                " pointer write) and the int result. query(.value) - query(Ref): what a plain"
                " object's .value (a SimpleNamespace: the out-parameter check and a Python"
                " attribute store) costs over the Ref. query(c_int err) - query(Ref): a ctypes"
                " c_int as lpErrno, known by its type (no attribute check). query(c_size_t) -"
                " query(Ref), query(c_void_p) - query(Ref): the same for a ctypes c_size_t or"
                " c_void_p as lpContext (the check that the context fits, then the ctypes"
                " store).",
                show_stmt=False,
            )
        )

    def fd_sizes(self) -> None:
        self.simple_section(C.FD, "2. FD_ISSET misses on full sets: ns per call", "ns", FD_LEGEND)
        self.forget(C.FD_FIXTURE)

    def creation(self) -> None:
        self.simple_section(
            C.CREATION,
            "5. HandleTable() creation: µs per table (created and dropped in the loop)",
            "µs",
            scale=1e-3,
        )

    def polls(self) -> None:
        self.simple_section(
            C.WAITS,
            "7. Polls of 64 events (timeout 0): ns per call",
            "ns",
            "t, up: as in table 1; ev: 64 events of t, none signalled; ev_last: the same"
            " but the 64th signalled (both polls scan all 64).",
        )

    def provider(self) -> None:
        cases = self.section_cases(C.PROVIDER)
        try:
            floor_cell, cells = self.time_cases(C.PROVIDER, cases)
        finally:
            self.forget(C.PROVIDER_FIXTURE)
        rows = self.simple_rows(cases, floor_cell, cells, scale=1e-3)
        timed = rows[1]
        floor = timed.figures["floor"]
        rows.append(
            Row(
                "per WSP call over the host", "(pair - floor) / 2",
                {key: None if (over := difference(timed.figures[key], floor)) is None
                 else over / 2 for key in (CORE, TWIN_KEY)},
            )
        )
        self.print_section(
            Section(
                C.PROVIDER,
                "8. HostSocketProvider: WSPSend + WSPRecv of 64 bytes against the host's send +"
                " recv_into: µs per pair",
                "µs",
                [CORE, TWIN_KEY],
                ["twin/core", "core/floor"],
                rows,
                f"{timed.case}: {timed.stmt}, where p is a HostSocketProvider over a fresh"
                " table of each core, c and a a TCP pair it connected on the loopback (c"
                " TCP_NODELAY, both blocking), send and recv p's WSPSend and WSPRecv, out ="
                " [msg] and into = [buf] (64 bytes), sent, got, flags and err Refs. floor:"
                f" {rows[0].stmt} on the same pair's host sockets (hsend: c's send, hrecv: a's"
                " recv_into), in one thread. cython, twin: the table behind the provider's"
                " upcalls (the provider itself is Python on both). per WSP call over the host:"
                " (pair - floor) / 2, what the provider adds to each call. Target: the provider"
                " within 1.3x of the host (about 1 µs of Python per call).",
                show_stmt=False,
            )
        )

    def scaling(self) -> None:
        # Every tier is built first and all their cells are timed in one interleaved run: the
        # ratios between tiers then come from interleaved repeats, as every other ratio does.
        cases = [
            case for case in self.section_cases(C.SCALING)
            if not case.detail("walk") or case.detail("live") <= self.walk_limit
        ]
        fixtures = list(dict.fromkeys(case.fixture for case in cases))
        built: dict[str, float] = {}
        for fixture in fixtures:
            started = time.perf_counter()
            self.names(fixture)
            built[fixture.key] = time.perf_counter() - started
        floors: dict[Case, Cell] = {}
        for case in cases:
            assert case.floor is not None
            if case.floor not in floors:
                floors[case.floor] = self.floor_cell(case.floor, "scaling")
        cells = {case: self.core_cells(case, "scaling") for case in cases}
        everything = [*floors.values(), *(cell for got in cells.values() for cell in got.values())]
        for message in run_cells(everything, self.min_time, self.repeats):
            self.error(f"scaling: {message}")
        for fixture in fixtures:
            self.forget(fixture)
        gc.collect()
        ordered: list[Row] = []
        for operation, stmt, _, walk in C.SCALING_OPERATIONS:
            base: Row | None = None
            for case, got in cells.items():
                if case.detail("operation") != operation:
                    continue
                live = case.detail("live")
                assert case.floor is not None
                floor = floors[case.floor].ns
                core = got.get(CORE)
                core_ns = None if core is None else core.ns
                twin_ns = got[TWIN_KEY].ns
                row = Row(
                    case.name,
                    ("for _x in hs: " if walk else "") + stmt,
                    {CORE: core_ns, TWIN_KEY: twin_ns, "floor": floor},
                    {"twin/core": ratio(twin_ns, core_ns), "core/floor": ratio(core_ns, floor)},
                    note="error" if any(cell.error for cell in got.values()) else "",
                    info={
                        "live": live,
                        "operation": operation,
                        "build_s": round(built[case.fixture.key], 3),
                        "loops": {key: cell.number for key, cell in got.items()},
                    },
                )
                base = base or row
                for key in (CORE, TWIN_KEY):
                    row.ratios[f"{key}/1k"] = ratio(row.figures[key], base.figures[key])
                if live == 1_000_000 and not walk:
                    row.targets = [Target("core/1k", "<=", 1.3)]
                ordered.append(row)
        left_out = self.walk_left_out()
        note = f" --quick: {left_out}." if left_out else ""
        self.print_section(
            Section(
                "scaling",
                "3. Scaling: ns per operation in tables of N live sockets",
                "ns",
                [CORE, TWIN_KEY, "floor"],
                ["twin/core", "core/floor", "core/1k", "twin/1k"],
                ordered,
                "Each tier is a fresh table t per core holding N live sockets (and nothing"
                " else, obj the context of each), all tiers built first and timed in one"
                " interleaved run; h0 is the first socket of each, the same handle value in"
                " every tier; fds a full FdSet of 64 of its"
                " sockets, miss another. random-order lookup walks a shuffled list hs of all N"
                " live handles (for _x in hs: ctx(_x), ctx = t.context; per handle), its floor"
                " the same walk calling abs (which also pays for reading the scattered int"
                " objects). core/1k, twin/1k: the figure over the same operation's in the 1,000"
                " tier. Target: the fixed-handle operations' 1M figure within 1.3x of their 1k"
                " figure." + note,
            )
        )

    def batches(self) -> None:
        n = self.batch
        cases = self.section_cases(C.BATCH)
        floor = cases[0].floor
        assert floor is not None
        floor_cell = self.floor_cell(floor, "batch")
        all_cells: list[Cell] = [floor_cell]
        # operation -> core -> (batch cell, single cell), None where the core lacks the call
        planned: dict[str, dict[str, list[Cell] | None]] = {}
        pairs: dict[str, list[Case]] = {}  # operation -> [batch case, single case]
        for case in cases:
            operation = case.detail("operation")
            per_core = planned.setdefault(operation, {})
            pairs.setdefault(operation, []).append(case)
            for key, ns in self.names(case.fixture).items():
                if not case.available(ns):
                    per_core[key] = None  # not in this core yet
                    continue
                cell = self.checked_cell(case, ns, key, "batch")
                got = per_core.setdefault(key, [])
                if got is not None:
                    got.append(cell)
                all_cells.append(cell)
        for message in run_cells(all_cells, self.min_time, self.repeats):
            self.error(f"batch: {message}")
        self.forget(floor.fixture)
        rows = []
        for operation, per_core in planned.items():
            batch, single = pairs[operation]
            figures: dict[str, float | None] = {}
            missing = []
            for key in (CORE, TWIN_KEY):
                pair = per_core.get(key)
                if pair is None and key in per_core:
                    missing.append(HEADERS[key])
                figures[key] = None if pair is None else pair[0].ns
                figures[f"{key} single"] = None if pair is None else pair[1].ns
            figures["floor"] = floor_cell.ns
            failed = any(c.error for pair in per_core.values() if pair for c in pair)
            rows.append(
                Row(
                    operation,
                    f"{batch.stmt} | for _x in hs: {single.stmt}",
                    figures,
                    {
                        "core batch/single": ratio(figures[CORE], figures["core single"]),
                        "twin batch/single": ratio(figures[TWIN_KEY], figures["twin single"]),
                        "twin/core": ratio(figures[TWIN_KEY], figures[CORE]),
                    },
                    list(batch.targets),
                    note="error" if failed else ("n/a" if missing else ""),
                    info={
                        "batch": n,
                        "not_available_in": missing,
                        "loops": {
                            key: [pair[0].number, pair[1].number]
                            for key, pair in per_core.items() if pair
                        },
                    },
                )
            )
        quick = " --quick: batches of 2,000; 10,000 without it." if self.quick else ""
        self.print_section(
            Section(
                "batch",
                f"6. Batches of {n:,} handles against one call per handle: ns per handle",
                "ns",
                [CORE, "core single", TWIN_KEY, "twin single", "floor"],
                ["core batch/single", "twin batch/single", "twin/core"],
                rows,
                f"t: a table holding the n = {n:,} sockets hs (a list; hsa: the same handles as"
                " the array('Q') create_sockets returns), ctxs their contexts; ctx, create, close:"
                " t's bound methods; _add: the add method of an empty FdSet(capacity=n); fds64:"
                " a full FdSet of the first 64. cython, twin: the batch call (the statement left"
                " of |) per handle; single: the loop of single calls (right of |) per handle,"
                " over the same handles; floor: that loop calling abs. Building an FdSet one"
                " add at a time scans the set for"
                " a duplicate at each add, as FD_SET does. n/a: the core has no such batch"
                " call yet. Target: the core's batch at most a third of its single calls; the"
                " twin's ratio is shown for reference." + quick,
            )
        )
