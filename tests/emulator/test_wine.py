"""The Windows test programs under Wine, the stand-in here for what Windows does.

Every program is compiled for x86_64 and i686; the 64-bit builds run under wine64 (32-bit Wine
is not required, so the i686 builds are only inspected). Under Wine every check passes except

- the x_ checks, ws2core's deliberate departures from Windows (DESIGN.md section 1), and
- programs.WINE_DIFFERS: checks of documented Windows behaviour that Wine 8 does not share.
  They must still fail under Wine, so that a Wine which gets them right is noticed and the
  list shrinks; under ws2core they are ordinary checks.

The programs that name outside addresses (programs.OUTSIDE_ADDRESS_PROGRAMS) are not run
here: test_policy_programs.py runs them in a network namespace, and WinePrefix.run refuses
them anywhere else (checked below).

The programs only import what the emulator implements (programs.ALLOWED_IMPORTS) beyond what
mingw's C run-time start-up imports anyway; that is checked here too, for both arches.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import programs
from programs import WINE_DIFFERS, WINE_RUNS, Check, Result, WineRuns

pytest_plugins = ("programs",)  # the fixtures: built_programs, wine, wine_runs, echo_server

WSA_WAIT_TIMEOUT = 258


def test_every_source_is_a_listed_program() -> None:
    assert sorted(path.stem for path in programs.HERE.glob("*.c")) == sorted(
        programs.PROGRAMS + programs.OTHER_SOURCES)
    assert sorted(path.name for path in programs.HERE.glob("*.h")) == sorted(programs.HEADERS)


@pytest.mark.parametrize("label", sorted(WINE_RUNS))
def test_program_passes_under_wine(wine_runs: WineRuns, label: str) -> None:
    run = wine_runs.runs[label]
    assert not run.timed_out, run.describe()
    assert run.inconsistencies() == [], run.describe()
    assert programs.wine_problems(run, WINE_DIFFERS.get(WINE_RUNS[label], {})) == [], \
        run.describe()


def test_event_wake_prints_its_event_and_times_out_under_wine(wine_runs: WineRuns) -> None:
    """The EVENT line a host thread needs to wake the program; under Wine nothing can."""
    run = wine_runs.runs["event_wake"]
    event = programs.parse_value(run.stdout, "EVENT")
    assert event is not None and event > 0 and event % 4 == 0, run.describe()
    assert run.check("x_woken_by_host").got == WSA_WAIT_TIMEOUT, run.describe()


def test_echo_client_traffic_reached_the_host_server(wine_runs: WineRuns) -> None:
    assert wine_runs.connections == 2
    assert wine_runs.bytes_echoed == 2 * programs.ECHO_CLIENT_BYTES


def test_echo_client_without_a_port_says_so(wine: programs.WinePrefix,
                                            built_programs: dict[tuple[str, str], Path]
                                            ) -> None:
    run = wine.run(built_programs["echo_client", "x86_64"], env={"WS2CORE_ECHO_PORT": ""})
    assert run.checks == [Check("port_given", 0, 1, False)], run.describe()
    assert run.result == Result(0, 1) and run.returncode == 1, run.describe()


@pytest.mark.parametrize("arch", programs.ARCHES)
def test_programs_build_for_both_arches(built_programs: dict[tuple[str, str], Path],
                                        arch: str) -> None:
    for name in programs.PROGRAMS:
        pe = programs.read_pe(built_programs[name, arch])
        assert pe.arch == arch, name
        assert "ws2_32.dll" in pe.imports, name


@pytest.mark.parametrize("arch", programs.ARCHES)
def test_programs_import_only_what_the_emulator_implements(
        built_programs: dict[tuple[str, str], Path], program_cache: Path, arch: str) -> None:
    baseline = programs.startup_imports(arch, program_cache)
    assert "printf" not in baseline.get("msvcrt.dll", frozenset())
    outside = {name: programs.disallowed_imports(built_programs[name, arch], baseline)
               for name in programs.PROGRAMS}
    assert outside == {name: [] for name in programs.PROGRAMS}
    for name in programs.PROGRAMS:
        extra = programs.extra_imports(built_programs[name, arch], baseline)
        want = {"printf", "getenv"} if name == "echo_client" else {"printf"}
        assert extra.get("msvcrt.dll") == frozenset(want), (name, extra)


# --- programs.py itself: no compiler or Wine needed ----------------------------------------------

def test_parse_checks_reads_the_protocol() -> None:
    text = ("CHECK first 0 0 ok\r\n"
            "EVENT 48\r\n"
            "CHECK x_beyond 258 0 FAIL\r\n"
            "CHECK negative -1 -1 ok\r\n"
            "RESULT 2/3\r\n")
    checks, result = programs.parse_checks(text)
    assert checks == [Check("first", 0, 0, True), Check("x_beyond", 258, 0, False),
                      Check("negative", -1, -1, True)]
    assert [check.extension for check in checks] == [False, True, False]
    assert result == Result(2, 3)
    assert programs.inconsistencies(checks, result, 1) == []
    assert programs.inconsistencies(checks, result, 0) == ["exit status 0, want 1"]
    assert programs.inconsistencies(checks, Result(3, 3), 1) == [
        "RESULT 3/3, but the CHECK lines say 2/3"]
    assert programs.inconsistencies(checks, None, 1) == ["no RESULT line"]
    assert programs.inconsistencies([], Result(0, 0), 1) == ["no CHECK lines"]
    assert programs.parse_value(text, "EVENT") == 48
    assert programs.parse_value(text, "PORT") is None


@pytest.mark.parametrize("text", [
    "CHECK spaced name 0 0 ok\n",
    "CHECK hex 0x10 16 ok\n",
    "CHECK lying 1 0 ok\n",
    "CHECK lying 0 0 FAIL\n",
    "CHECK twice 0 0 ok\nCHECK twice 1 1 ok\n",
    "CHECK late 0 0 ok\nRESULT 1/1\nCHECK later 0 0 ok\n",
    "RESULT 1/1\nRESULT 1/1\n",
    "RESULT one/1\n",
])
def test_parse_checks_rejects_broken_output(text: str) -> None:
    with pytest.raises(ValueError):
        programs.parse_checks(text)


def test_missing_tool_skips_but_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception):
        programs.missing("no tool")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        programs.missing("no tool")


def test_wine_refuses_an_outside_address_program_outside_a_namespace(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Before anything starts: no prefix is booted, no wineserver runs."""
    loader = programs.find_wine64()
    prefix = programs.WinePrefix(tmp_path / "prefix", loader or "/nonexistent/wine64")
    exe = tmp_path / "net_policy-x86_64-0123abcd.exe"
    assert programs.program_name(exe) in programs.OUTSIDE_ADDRESS_PROGRAMS
    monkeypatch.setattr(programs, "inside_isolated_namespace", lambda: False)
    with pytest.raises(RuntimeError, match="network namespace"):
        prefix.run(exe)
    assert not prefix.path.exists()
    # And inside one, a prefix whose wineserver is not running here is refused too.
    with pytest.raises(RuntimeError, match="wineserver is in no network namespace"):
        prefix.require_server_here()
