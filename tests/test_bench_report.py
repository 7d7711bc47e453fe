"""``python -m ws2core bench``: the report's layout and its plot, on made-up figures.

The whole report runs as the command runs it (every section's own titles, columns, legends and
summary), with the measuring left out: no fixture is built, every cell gets a figure derived
from its case's name, the memory probes answer without a process and the wake-up section runs
a few rounds.  The figures span 10 ns to tens of ms, wider than real ones, so a layout that
fits them fits a real run.
"""

from __future__ import annotations

import importlib
import io
import json
import re
import subprocess
import textwrap
import zlib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ws2core._bench import cases, markdown, memory, plot, report, run, sections, wakeup
from ws2core._bench.report import CORE, _format_figure, _format_ratio
from ws2core._bench.sections import Bench
from ws2core._bench.timing import Cell, Timer

WIDTH = 100  # what the report promises; not report._WIDTH, so that changing it is noticed


def _made_up_ns(key: str) -> float:
    """10 ns to ~30 ms, the same for the same key in every run."""
    u = zlib.crc32(key.encode()) / 2**32
    return float(10 ** (1 + 5.5 * u))


def _cell(self: Bench, case: cases.Case, names: dict[str, Any], label: str, section: str) -> Cell:
    cell = Cell(None, per=case.per)  # type: ignore[arg-type]  # never timed
    cell.number = 1
    cell.times = [_made_up_ns(f"{case.name}/{label}") * case.per / 1e9]
    return cell


class _Probe:
    """A memory probe's process, answering at once."""

    def __init__(self, argv: list[str], **_: Any) -> None:
        self.returncode = 0
        self._answer = {
            "bytes": _made_up_ns(" ".join(argv[-3:])),
            "getsizeof": 4096,
            "method": "RSS from /proc/self/statm",
        }

    def communicate(self, timeout: float | None = None) -> tuple[str, str]:
        return json.dumps(self._answer), ""

    def kill(self) -> None:
        pass


@pytest.fixture(params=[True, False], ids=["quick", "full"])
def quick(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture(params=[True, False], ids=["both-cores", "twin-alone"])
def made_up_run(
    request: pytest.FixtureRequest, quick: bool, monkeypatch: pytest.MonkeyPatch
) -> tuple[Bench, str]:
    if not request.param:
        monkeypatch.setattr(
            sections, "load_core",
            lambda: (None, "missing (No module named 'ws2core._handles'); build it with:"
                           " python -m pip install -e ."),
        )
    monkeypatch.setattr(Bench, "names", lambda self, fixture: {
        label: {} for label in self.present()
    })
    monkeypatch.setattr(Bench, "checked_cell", _cell)
    monkeypatch.setattr(sections, "run_cells", lambda cells, min_time, repeats: [])
    monkeypatch.setattr(cases.Case, "available", lambda self, names: True)
    # Only the memory section's processes: platform.platform() may start its own.
    monkeypatch.setattr(memory, "subprocess", SimpleNamespace(
        Popen=_Probe, PIPE=subprocess.PIPE, TimeoutExpired=subprocess.TimeoutExpired
    ))
    monkeypatch.setattr(
        run, "wakeup_section", lambda bench, rounds: wakeup.wakeup_section(bench, 5)
    )
    out = io.StringIO()
    bench = Bench(quick, 3, out, "ws2core, made-up figures")
    run._run(bench)
    return bench, out.getvalue()


def test_every_line_fits_in_100_columns(made_up_run: tuple[Bench, str]) -> None:
    bench, text = made_up_run
    if bench.modules[CORE] is not None:
        # The made-up figures miss targets, so the summary's line per miss is checked too.
        assert re.search(r"^Targets: \d+ met, [1-9]\d* missed", text, re.M)
    wide = [line for line in text.splitlines() if len(line) > WIDTH]
    assert not wide, f"{len(wide)} line(s) over {WIDTH} columns, the widest:\n" + max(wide, key=len)


def test_every_figure_ratio_and_target_is_printed(made_up_run: tuple[Bench, str]) -> None:
    """Fitting the width drops nothing: each row's figures, ratios, statement and targets are
    in the text, each target and the statement whole on one line (a batch row's two parts,
    either side of its |, on a line each)."""
    bench, text = made_up_run
    lines = text.splitlines()
    words = set(re.findall(r"\S+", text))
    assert len(bench.sections) == 9
    for section in bench.sections:
        for row in section.rows:
            assert any(line.startswith(row.case) for line in lines), row.case
            if section.show_stmt:
                for part in row.stmt.split(" | "):
                    assert any(part in line for line in lines), part
            for value in row.figures.values():
                if value is not None:
                    assert _format_figure(value, section.unit) in words, (row.case, value)
            for metric in section.ratio_columns:
                value = row.ratios.get(metric)
                if value is not None:
                    assert _format_ratio(metric, value) in words, (row.case, metric)
            for target, _, met in row.verdicts():
                verdict = "n/a" if met is None else "ok" if met else "MISSED"
                assert re.search(rf"{re.escape(target.text())}\s+{verdict}$", text, re.M), target
    if bench.modules[CORE] is None:
        # why the core's columns are empty: "missing (...)", or, where WS2CORE_PURE_PYTHON=1
        # leaves it out, "not measured: ..." (both-cores runs then have no core either)
        assert bench.why_not and bench.why_not in " ".join(text.split())


def _scaling_series(bench: Bench) -> list[plot.Series]:
    return plot.series(next(s for s in bench.sections if s.key == "scaling"))


def test_plot_tells_every_line_apart(made_up_run: tuple[Bench, str]) -> None:
    bench, _ = made_up_run
    lines = _scaling_series(bench)
    labels = [line.label for line in lines]
    assert len(set(labels)) == len(labels)
    # Not by line style alone: in the legend a marker covers most of a dashed swatch.
    looks = [(line.style["color"], line.style["marker"], line.style["fillstyle"]) for line in lines]
    assert len(set(looks)) == len(looks), looks
    # And consistent: one colour per operation, one line style and marker per core.
    colours: dict[str, set[str]] = {}
    styles: dict[str, set[tuple[str, str, str]]] = {}
    for line in lines:
        if line.label.startswith("floor"):
            continue
        match = re.fullmatch(r"(.+) \((\w+)\)", line.label)
        assert match, line.label
        operation, core = match.groups()
        colours.setdefault(operation, set()).add(line.style["color"])
        styles.setdefault(core, set()).add(
            (line.style["linestyle"], line.style["marker"], line.style["fillstyle"])
        )
    assert set(colours) == {operation for operation, *_ in cases.SCALING_OPERATIONS}
    assert set(styles) == ({"cython", "twin"} if bench.modules[CORE] is not None else {"twin"})
    assert all(len(found) == 1 for found in colours.values())
    assert all(len(found) == 1 for found in styles.values())


def test_plot_says_why_quick_has_no_1m_point(made_up_run: tuple[Bench, str], quick: bool) -> None:
    bench, _ = made_up_run
    walks = [line for line in _scaling_series(bench) if line.label.startswith("random-order")]
    assert walks
    note = plot.footnote(bench)
    if quick:
        assert all(max(line.xs) == 100_000 for line in walks)
        assert note.startswith("random-order lookup has no point at 1M: with --quick,")
    else:
        assert all(max(line.xs) == 1_000_000 for line in walks)
        assert note == ""


def test_plot_draws_the_lines_and_the_note(
    made_up_run: tuple[Bench, str], tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib", reason="--plot's extra: pip install 'ws2core[plot]'")
    bench, _ = made_up_run
    figure = plot.draw(bench)
    try:
        drawn = [
            (line.get_label(), line.get_color(), line.get_linestyle(), line.get_marker(),
             line.get_fillstyle())
            for line in figure.axes[0].get_lines()
        ]
        texts = [text.get_text() for text in figure.texts]
        legend = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    finally:
        importlib.import_module("matplotlib.pyplot").close(figure)
    lines = _scaling_series(bench)
    assert [d[0] for d in drawn] == legend == [line.label for line in lines]
    assert len({d[1:] for d in drawn}) == len(drawn)
    note = plot.footnote(bench)
    assert texts == ([note] if note else [])
    path = tmp_path / "scaling.png"
    plot.plot(str(path), bench)
    assert path.read_bytes().startswith(b"\x89PNG")


def test_provider_case_times_a_live_pair_and_closes_it(core: Any) -> None:
    """Table 8's names on each core: the case and its floor give the right answer before and
    after a timed loop (the loops leave nothing waiting on the pair), and the fixture's close
    closes the provider's sockets and their host sockets."""
    fixture = cases.PROVIDER_FIXTURE
    names = fixture.build(core)
    try:
        for case in cases.PROVIDER_CASES:
            assert case.floor is not None
            for timed in (case, case.floor):
                assert eval(timed.check, dict(names)), timed.check
                assert Timer(timed, names).timeit(100) > 0
                assert eval(timed.check, dict(names)), timed.check
        assert len(names["t"]) == 2  # the pair; the listener was closed once it accepted
    finally:
        assert fixture.close is not None
        fixture.close(names)
    assert len(names["t"]) == 0
    assert names["hsend"].__self__.fileno() == -1
    assert names["hrecv"].__self__.fileno() == -1


# Names a statement may use that its table's notes need not explain: Python's own, ws2core's
# exports, and the floor's h (the report's opening lines define the floor).
_KNOWN = {"abs", "for", "in", "list", "FD_ISSET", "FdSet", "HandleTable", "capacity", "timeout"}


def test_each_tables_notes_name_what_its_statements_use(
    made_up_run: tuple[Bench, str]
) -> None:
    """The legend under a table defines every name its statements use, and the text printed
    right after the table is that legend (the notes follow the table they describe)."""
    bench, text = made_up_run
    for section in bench.sections:
        statements = [row.stmt for row in section.rows if row.case != "C-call floor"]
        names = set()
        for stmt in statements:
            if section.key == "drop-in breakdown":
                continue  # differences of table 1's rows, named by them
            bound = set(re.findall(r"\bfor (\w+) in\b", stmt))
            used = set(re.findall(r"(?<![.\w])[A-Za-z_]\w*(?!\w)", stmt))
            names |= used - bound - _KNOWN
            names -= {word for word in used if word.isdigit()}
        if not names:
            continue
        legend_words = set(re.findall(r"[A-Za-z_]\w*(?:<n>)?", section.legend))
        unexplained = {
            name for name in names
            if name not in legend_words and re.sub(r"\d+$", "<n>", name) not in legend_words
        }
        assert not unexplained, (section.key, sorted(unexplained))
        # The legend is printed after its table and before the next table's title.
        def printed(prose: str) -> str:  # its first line as the report wraps it
            return textwrap.fill(prose, WIDTH, break_on_hyphens=False).splitlines()[0]

        after = text.index(printed(section.title))
        legend_at = text.index(printed(section.legend), after)
        next_titles = [
            text.find(printed(s.title), after + 1) for s in bench.sections if s is not section
        ]
        assert all(not after < i < legend_at for i in next_titles), section.key


def test_readme_tables_show_every_sections_rows_as_the_report_does(
    made_up_run: tuple[Bench, str]
) -> None:
    """The README's tables, made from the JSON alone: a table per printed section with its
    title, a row per case in order, the report's own figure, ratio and target texts; the
    statements as code (a pipe escaped) and no cell of the core's when it was not measured."""
    bench, _ = made_up_run
    data = json.loads(json.dumps(bench.to_json()))  # as read back from the file
    block = markdown.tables(data)
    assert block.startswith(markdown.BEGIN) and block.endswith(markdown.END)
    # The line above the tables says how the run was made and of which sources.
    meta = data["meta"]
    settings = block.splitlines()[2]
    for said in (meta["date"], f"medians of {meta['repeats']} interleaved repeats",
                 f"{meta['cpus']} CPUs", meta["sources"]["sha256"], "noisy"):
        assert said in settings, said
    assert (", --quick" in settings) == meta["quick"]
    lines = block.splitlines()
    for section in bench.sections:
        title = lines.index(f"**{markdown._escape(section.title)}**")
        rows = []
        for line in lines[title + 4:]:
            if not line.startswith("| "):
                break
            rows.append(re.split(r"(?<!\\)\|", line.strip("|")))
        assert [cells[0].strip() for cells in rows] == [
            markdown._escape(row.case) for row in section.rows
        ], section.key
        for row, cells in zip(section.rows, rows):
            joined = "|".join(cells)
            def kept(value: float) -> float:  # the JSON keeps 4 significant digits
                rounded = report._round(value)
                assert rounded is not None
                return rounded

            shown = [row.figures.get(column) for column in section.figure_columns]
            measured = any(value is not None for value in shown)
            for value in shown if measured else row.figures.values():  # the floor's own row
                if value is not None:
                    assert _format_figure(kept(value), section.unit) in joined
            for metric in section.ratio_columns:
                value = row.ratios.get(metric)
                if value is not None:
                    assert _format_ratio(metric, kept(value)) in joined, (row.case, metric)
            for target, _, _ in row.verdicts():
                assert markdown._escape(target.text()) in joined
            if section.show_stmt and row.stmt:
                first = row.stmt.split(" | ")[0]
                assert f"`{first}`" in joined, row.stmt
        if section.legend:
            assert markdown._escape(section.legend) in lines, section.key
    if bench.modules[CORE] is None:
        assert "| not measured |" in block
    assert "`t.close_sockets(t.create_sockets(7, ctxs))`<br>`\\| for _x in hs:" in block


def test_a_new_section_becomes_a_readme_table(made_up_run: tuple[Bench, str]) -> None:
    """A section the bench gains is in the README's tables with no change to the generator."""
    bench, _ = made_up_run
    row = report.Row(
        "echo 64 B", "p.WSPSend(s, bufs, 1, sent, 0, None, None, None, err)",
        {CORE: 1234.0, "raw": 987.0}, {"core/raw": 1.25},
        [cases.Target("core/raw", "<=", 1.3)],
    )
    bench.print_section(
        report.Section("provider", "8. The provider: ns per call", "ns", [CORE, "raw"],
                       ["core/raw"], [row], "p: a provider over host sockets.")
    )
    block = markdown.tables(json.loads(json.dumps(bench.to_json())))
    assert "**8. The provider: ns per call**" in block
    assert "| case | statement | cython | raw | core/raw | target | ok |" in block
    assert ("| echo 64 B | `p.WSPSend(s, bufs, 1, sent, 0, None, None, None, err)` | 1,234"
            " | 987.0 | 1.25 | core/raw ≤ 1.3 | ok |") in block


def test_the_readme_block_is_replaced_between_its_markers() -> None:
    readme = f"intro\n{markdown.BEGIN}\nold\n{markdown.END}\nrest\n"
    assert markdown.replace_block(readme, "NEW") == "intro\nNEW\nrest\n"
    assert markdown.current_block(readme) == f"{markdown.BEGIN}\nold\n{markdown.END}"
    with pytest.raises(ValueError, match="no block between"):
        markdown.replace_block("intro\n", "NEW")
    assert markdown.current_block("intro\n") == ""
