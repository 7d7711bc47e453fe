"""``python -m ws2core run PROGRAM.exe [ARG ...]``: a Windows console program under Speakeasy
with ws2core behind its Winsock (``ws2core.adapters.speakeasy.run``), its output as it comes,
then how it ended.

The program's stdout and stderr go to this process's stdout and stderr unchanged, byte for
byte, as it writes them; everything ws2core says (the core line, the summary) goes to stderr
after a ``ws2core:`` prefix, so a pipe sees the program's own output.  ``--json`` prints one
JSON object on stdout at the end instead (the output inside it).  The exit status is the
program's (modulo 256, as a POSIX shell sees it) when it ended by exit or ExitProcess, and
``STOPPED`` (125) when the emulator stopped it: an unsupported call, a fault, the time limit.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:  # the adapter imports Speakeasy, which takes seconds: only when run
    from .adapters import speakeasy

STOPPED = 125
"""The exit status when the program did not end by itself (as ``git bisect run`` reads it:
"this could not be run to a verdict")."""


def parse_environment(assignments: Sequence[str]) -> dict[str, str]:
    """``NAME=VALUE`` strings -> a mapping; ValueError naming the first malformed one."""
    environment: dict[str, str] = {}
    for assignment in assignments:
        name, equals, value = assignment.partition("=")
        if not equals or not name:
            raise ValueError(f"--env takes NAME=VALUE, not {assignment!r}")
        environment[name] = value
    return environment


def command(program: str, args: Sequence[str], environment: Mapping[str, str], *,
            as_json: bool, timeout: float, max_block: float, winsock: bool,
            core_line: str) -> int:
    """Run the program and report; the return value is the exit status."""
    from .adapters import speakeasy

    stdout: BinaryIO = sys.stdout.buffer
    stderr: BinaryIO = sys.stderr.buffer

    def output(stream: int, data: bytes) -> None:
        target = stdout if stream == 1 else stderr
        target.write(data)
        target.flush()

    if not as_json:
        _say(core_line.replace("\n", "\nws2core: "))
    try:
        run = speakeasy.run(program, args, environment=environment,
                            output=None if as_json else output, winsock=winsock,
                            timeout=timeout, max_block=max_block)
    except (ImportError, OSError, ValueError) as error:
        _say(f"cannot run {program}: {error}")
        return STOPPED
    if as_json:
        json.dump(run.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        _say(summary(run))
    if run.stopped is not None or run.exit_code is None:
        return STOPPED
    return run.exit_code & 0xFF


def summary(run: speakeasy.ProgramRun) -> str:
    """How the run ended, in a line (or two when handles were left open)."""
    name = run.program.replace("\\", "/").rsplit("/", 1)[-1]
    how = (f"exited with code {run.exit_code}" if run.stopped is None
           else f"stopped: {run.stopped}")
    line = f"{name} ({run.abi}) {how}, after {run.seconds:.2f} s"
    if run.leaked:
        line += (f"\nws2core: it left {len(run.leaked)} socket or event handle(s) open,"
                 " closed after it")
    return line


def _say(text: str) -> None:
    sys.stdout.flush()
    print(f"ws2core: {text}", file=sys.stderr, flush=True)
