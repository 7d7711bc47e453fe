"""``python -m ws2core run`` and ``ws2core.adapters.speakeasy.run``: Windows console programs
run to their end under Speakeasy, with ws2core's C run-time and Winsock behind them.

- console.c, built with mingw's own printf and with msvcrt's, for x86_64 and i686: its
  output (command line, environment, the printf family, the other console output) is Wine's
  byte for byte, but for the line ends Wine's msvcrt writes in text mode, and it exits 7;
- examples/hello_winsock.c, the README's sample, built with the command in its own header:
  its echo rounds over real sockets, the same lines as under Wine but for the port;
- the command line: the program's output unchanged on stdout, streamed while it runs,
  ws2core's lines on stderr, the program's exit status, 125 and the reason (the unsupported
  call and where) when the emulator stopped it, ``--json``, bad arguments;
- the _initterm loop the adapter puts in the guest is its listing, assembled.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import programs
from programs import WinePrefix
from ws2core.adapters import speakeasy as adapter

pytest_plugins = ("programs",)

SAMPLE = programs.SAMPLE
CONSOLE_ARGS, CONSOLE_ENV, CONSOLE_EXIT = programs.CONSOLE_ARGS, programs.CONSOLE_ENV, programs.CONSOLE_EXIT
STDIO = programs.CONSOLE_STDIO
STOPPED = 125


@pytest.fixture(scope="module")
def console_builds(program_cache: Path) -> dict[tuple[str, str], Path]:
    """console.c for both stdio implementations and both arches: {(stdio, arch): exe}."""
    return {(stdio, arch): programs.build_console(stdio, arch, program_cache)
            for stdio in STDIO for arch in programs.ARCHES}


@pytest.fixture(scope="module")
def sample_builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The sample built with the command its header gives (and its i686 twin): {arch: exe}."""
    out = tmp_path_factory.mktemp("sample")
    return {arch: programs.build_sample(arch, out) for arch in programs.ARCHES}


def ws2core_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ws2core", "run", *args], capture_output=True,
                          text=True, timeout=120)


# ---------------------------------------------------------------------------------------
# console.c: the C run-time against Wine's


@pytest.fixture(scope="module")
def wine_console(wine: WinePrefix, console_builds: dict[tuple[str, str], Path]
                 ) -> dict[str, programs.CompletedRun]:
    """console.c's 64-bit builds under Wine: {stdio: run}."""
    return {stdio: wine.run(console_builds[stdio, "x86_64"], CONSOLE_ARGS, CONSOLE_ENV, 60)
            for stdio in STDIO}


@pytest.mark.parametrize("arch", programs.ARCHES)
@pytest.mark.parametrize("stdio", sorted(STDIO))
def test_console_output_is_wines(speakeasy: ModuleType,
                                 console_builds: dict[tuple[str, str], Path],
                                 wine_console: dict[str, programs.CompletedRun], stdio: str,
                                 arch: str) -> None:
    chunks: list[tuple[int, bytes]] = []
    run = adapter.run(console_builds[stdio, arch], CONSOLE_ARGS, environment=CONSOLE_ENV,
                      output=lambda stream, data: chunks.append((stream, data)))
    wine = wine_console[stdio]
    assert run.stopped is None, run
    assert (run.exit_code, wine.returncode) == (CONSOLE_EXIT, CONSOLE_EXIT)
    assert programs.unix_lines(run.stdout) == programs.unix_lines(wine.stdout)
    assert programs.unix_lines(run.stderr) == programs.unix_lines(wine.stderr) == "to stderr: 1\n"
    # what reached output() is what the run kept, stream by stream, in order
    for stream, kept in ((1, run.stdout), (2, run.stderr)):
        assert b"".join(data for number, data in chunks if number == stream) == kept
    assert run.abi == ("x64" if arch == "x86_64" else "x86")


def test_environment_is_only_what_was_given(speakeasy: ModuleType,
                                            console_builds: dict[tuple[str, str], Path],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """The host's variables stay out of the guest: only ``environment`` is there."""
    monkeypatch.setenv("WS2CORE_GREETING", "from the host")
    run = adapter.run(console_builds["msvcrt", "x86_64"], CONSOLE_ARGS)
    assert b"getenv: NULL NULL NULL\n" in run.stdout
    assert b"GetEnvironmentVariableA unset: 0 203\n" in run.stdout


# ---------------------------------------------------------------------------------------
# The sample


@pytest.mark.parametrize("arch", programs.ARCHES)
def test_sample_runs_to_its_end(speakeasy: ModuleType, sample_builds: dict[str, Path],
                                arch: str) -> None:
    done = ws2core_command(str(sample_builds[arch]), "3")
    assert done.returncode == 0, done.stderr
    assert programs.sample_output_is(done.stdout, 3), done.stdout
    assert done.stderr.startswith("ws2core: ws2core ")
    *_, ended, network = done.stderr.splitlines()
    assert ended.startswith(
        f"ws2core: hello_winsock-{arch}.exe ({'x64' if arch == 'x86_64' else 'x86'})"
        " exited with code 0, after ")
    # The sample binds its listener to loopback and connects to it: both on record, allowed.
    assert network == "ws2core: network: 2 attempts: 2 allowed (bind 127.0.0.1:0 and 1 more)"


def test_sample_under_wine_says_the_same(wine: WinePrefix,
                                         sample_builds: dict[str, Path]) -> None:
    """The sample's lines under Wine are the ones checked above: the check is not of a
    program that says something else on Windows."""
    wine_run = wine.run(sample_builds["x86_64"], ("2",), None, 60)
    assert wine_run.returncode == 0, wine_run.describe()
    assert programs.sample_output_is(wine_run.stdout, 2), wine_run.stdout


def test_output_is_streamed_while_the_program_runs(speakeasy: ModuleType,
                                                   sample_builds: dict[str, Path]) -> None:
    """The "listening on" line arrives while the guest's listener is open on the host (its
    port cannot be bound), not after the program ended."""
    seen: list[bool] = []
    written = bytearray()  # mingw's printf writes a character per fputc: gather the line

    def output(stream: int, data: bytes) -> None:
        written.extend(data)
        found = re.fullmatch(rb"listening on 127\.0\.0\.1:(\d+)\n", written)
        if found:
            probe = socket.socket()
            try:
                probe.bind(("127.0.0.1", int(found[1])))
                seen.append(False)
            except OSError:
                seen.append(True)
            finally:
                probe.close()

    run = adapter.run(sample_builds["x86_64"], ("1",), output=output)
    assert run.exit_code == 0 and run.leaked == ()
    assert seen == [True]


# ---------------------------------------------------------------------------------------
# The command line


def test_command_passes_output_and_exit_status(speakeasy: ModuleType,
                                               console_builds: dict[tuple[str, str], Path],
                                               wine_console: dict[str, programs.CompletedRun]
                                               ) -> None:
    exe = console_builds["mingw", "x86_64"]
    done = ws2core_command("--env", "WS2CORE_GREETING=hello", str(exe), *CONSOLE_ARGS)
    assert done.returncode == CONSOLE_EXIT
    assert done.stdout == programs.unix_lines(wine_console["mingw"].stdout)  # nothing of ws2core's
    lines = done.stderr.splitlines()
    assert lines[0].startswith("ws2core: ws2core ") and "core: " in lines[0]
    assert "to stderr: 1" in lines
    assert re.fullmatch(rf"ws2core: {re.escape(exe.name)} \(x64\) exited with code 7, "
                        r"after \d+\.\d\d s", lines[-1])


def test_command_json(speakeasy: ModuleType,
                      console_builds: dict[tuple[str, str], Path]) -> None:
    exe = console_builds["msvcrt", "i686"]
    done = ws2core_command("--json", "--env", "WS2CORE_GREETING=hello", str(exe), "one")
    assert done.returncode == CONSOLE_EXIT, done.stderr
    report = json.loads(done.stdout)
    assert report["program"] == str(exe) and report["args"] == ["one"]
    assert (report["abi"], report["exit_code"], report["stopped"]) == ("x86", 7, None)
    assert report["stdout"].startswith("argc 2\nargv[1] one\ngetenv: hello hello NULL\n")
    assert report["stderr"] == "to stderr: 1\n" and report["leaked"] == []
    assert done.stderr == ""


def test_command_network_log(speakeasy: ModuleType, sample_builds: dict[str, Path],
                             tmp_path: Path) -> None:
    """--network-log keeps the record as JSON lines, with the byte counts at the end: the
    sample's listener bind and its client's connect, both on loopback, and the greeting the
    client sends each round ("hello N from the guest", 22 bytes; the server only reads)."""
    log = tmp_path / "network.jsonl"
    done = ws2core_command("--json", "--network-log", str(log), str(sample_builds["i686"]), "2")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert json.loads(done.stdout)["network"] == lines
    assert [(a["kind"], a["protocol"], a["address"][0], a["verdict"]) for a in lines] == [
        ("bind", "tcp", "127.0.0.1", "allowed"), ("connect", "tcp", "127.0.0.1", "allowed")]
    connect = lines[1]
    assert connect["error"] == 0 and connect["redirected_to"] is None
    assert (connect["bytes_sent"], connect["bytes_received"]) == (2 * 22, 0)


STOPS_AT_A_CALL = r"""
#include <windows.h>
#include <stdio.h>
int main(void)
{
    printf("before\n");
    fflush(stdout);
    CreateMailslotA("\\\\.\\mailslot\\ws2core", 0, 0, NULL);   /* not in Speakeasy 1.5.11 */
    printf("after\n");
    return 0;
}
"""


@pytest.fixture(scope="module")
def stops_at_a_call(tmp_path_factory: pytest.TempPathFactory, program_cache: Path) -> Path:
    source = tmp_path_factory.mktemp("stops") / "stops_at_a_call.c"
    source.write_text(STOPS_AT_A_CALL)
    return programs.build_source(source, "stops_at_a_call", "x86_64", program_cache, ("-O1",))


def test_command_names_the_unsupported_call(speakeasy: ModuleType,
                                            stops_at_a_call: Path) -> None:
    done = ws2core_command(str(stops_at_a_call))
    assert done.returncode == STOPPED
    assert done.stdout == "before\n"
    assert re.fullmatch(r"ws2core: stops_at_a_call-x86_64-\w+\.exe \(x64\) stopped: unsupported"
                        r" call KERNEL32\.CreateMailslotA at 0x[0-9a-f]+, after \d+\.\d\d s",
                        done.stderr.splitlines()[-1]), done.stderr
    report = json.loads(ws2core_command("--json", str(stops_at_a_call)).stdout)
    assert report["exit_code"] is None
    assert report["error"]["type"] == "unsupported_api"
    assert report["error"]["api_name"] == "KERNEL32.CreateMailslotA"


@pytest.mark.parametrize(("args", "status", "message"), [
    (("no-such-program.exe",), STOPPED, "ws2core: cannot run no-such-program.exe: no program at"),
    ((str(SAMPLE),), STOPPED, "hello_winsock.c': Target file is not a PE"),
    (("--env", "NOEQUALS", "x.exe"), 2, "--env takes NAME=VALUE, not 'NOEQUALS'"),
    (("--env", "=value", "x.exe"), 2, "--env takes NAME=VALUE, not '=value'"),
    (("--timeout", "0", "x.exe"), 2, "must be at least 1, not 0"),
    (("--rootfs", "/tmp", "x.exe"), 2, "--rootfs is Qiling's: give --emulator qiling too"),
    (("--emulator", "bochs", "x.exe"), 2, "invalid choice: 'bochs'"),
    # Qiling cannot be installed beside Speakeasy: the extra to install, in a sentence
    (("--emulator", "qiling", "x.exe"), STOPPED,
     "ws2core: cannot run x.exe: ws2core.adapters.qiling needs Qiling: pip install "
     "'ws2core[qiling]'"),
])
def test_command_refuses_bad_arguments(speakeasy: ModuleType, args: tuple[str, ...],
                                       status: int, message: str) -> None:
    done = ws2core_command(*args)
    assert done.returncode == status
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_command_help_says_what_it_does() -> None:
    done = subprocess.run([sys.executable, "-m", "ws2core", "run", "--help"],
                          capture_output=True, text=True, env={**os.environ, "COLUMNS": "80"})
    assert done.returncode == 0
    for needed in ("PROGRAM.exe", "--env", "--json", "--timeout", "125", "Speakeasy",
                   "--emulator", "Qiling", "--rootfs"):
        assert needed in done.stdout


# ---------------------------------------------------------------------------------------
# The _initterm loop


# ---------------------------------------------------------------------------------------
# call_costs.c: the loops benchmarks/test_bench_adapter.py times

CALL_COST_LOOPS = ("empty", "GetCurrentProcessId", "GetLastError", "WSAGetLastError", "select",
                   "send_recv")


@pytest.mark.parametrize("arch", programs.ARCHES)
def test_call_cost_loops(speakeasy: ModuleType, program_cache: Path, arch: str) -> None:
    """Under ws2core every call of call_costs' loops returns what a working Winsock does
    (select 0 on a quiet connected pair, send and recv 4); Speakeasy alone runs every loop
    on its fake sockets but WSAGetLastError, which it lacks: what the benchmark compares."""
    exe = programs.build("call_costs", arch, program_cache)
    served = adapter.run(exe, ["5", "pair", *CALL_COST_LOOPS])
    assert (served.exit_code, served.stopped) == (0, None), served.stderr
    assert served.stdout.decode().splitlines() == [
        f"UNEXPECTED {loop} 0" for loop in CALL_COST_LOOPS]
    stock_loops = [loop for loop in CALL_COST_LOOPS if loop != "WSAGetLastError"]
    stock = adapter.run(exe, ["5", "plain", *stock_loops], winsock=False)
    assert (stock.exit_code, stock.stopped) == (0, None), stock.stderr
    assert len(stock.stdout.decode().splitlines()) == len(stock_loops)
    lacking = adapter.run(exe, ["5", "plain", "WSAGetLastError"], winsock=False)
    assert lacking.stopped is not None and "WSAGetLastError" in lacking.stopped


@pytest.mark.parametrize("ptr_size", [8, 4])
def test_initterm_code_is_its_listing(ptr_size: int, tmp_path: Path) -> None:
    arch = "x86_64" if ptr_size == 8 else "i686"
    assembler = programs.require_compiler(arch)  # gcc assembles a .s file too
    source = tmp_path / "initterm.s"
    source.write_text("    .intel_syntax noprefix\n    .text\n"
                      + adapter.INITTERM_SOURCE[ptr_size] + "\n")  # '#' comments: gas's
    objdump = assembler.replace("-gcc", "-objcopy")
    subprocess.run([assembler, "-c", "-o", str(tmp_path / "initterm.o"), str(source)],
                   check=True, capture_output=True)
    subprocess.run([objdump, "-O", "binary", "-j", ".text", str(tmp_path / "initterm.o"),
                    str(tmp_path / "initterm.bin")], check=True, capture_output=True)
    code = (tmp_path / "initterm.bin").read_bytes().rstrip(b"\x90")  # the section's padding
    assert code == adapter.INITTERM_CODE[ptr_size]
