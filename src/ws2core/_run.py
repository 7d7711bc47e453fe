"""``python -m ws2core run PROGRAM.exe [ARG ...]``: a Windows console program under Speakeasy
(``ws2core.adapters.speakeasy.run``) or Qiling (``--emulator qiling``:
``ws2core.adapters.qiling.run``) with ws2core behind its Winsock, its output as it comes,
then how it ended.

The program's stdout and stderr go to this process's stdout and stderr unchanged, byte for
byte, as it writes them; everything ws2core says (the core line, the summary) goes to stderr
after a ``ws2core:`` prefix, so a pipe sees the program's own output.  ``--json`` prints one
JSON object on stdout at the end instead (the output inside it).  The exit status is the
program's (modulo 256, as a POSIX shell sees it) when it ended by exit or ExitProcess, and
``STOPPED`` (125) when the emulator stopped it: an unsupported call, a fault, the time limit.
The summary ends with the program's network attempts by verdict (``--network`` chooses the
policy, ``--network-log`` keeps the record as JSON lines).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, BinaryIO

from .constants import errorname

if TYPE_CHECKING:  # an adapter imports its emulator, which takes seconds: only when run
    from .adapters._common import ProgramRun
    from .policy import Attempt

EMULATORS = ("speakeasy", "qiling")
"""``--emulator``'s choices, each an adapter module of ``ws2core.adapters`` with ``run()``."""

NETWORKS = ("loopback", "sinkhole", "allow-all")
"""``--network``'s choices, each a ``ws2core.policy.NetworkPolicy`` factory."""

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
            core_line: str, network: str = "loopback", network_log: str | None = None,
            emulator: str = "speakeasy", rootfs: str | None = None) -> int:
    """Run the program and report; the return value is the exit status."""
    from .policy import NetworkPolicy

    if emulator not in EMULATORS:
        raise ValueError(f"emulator must be one of {EMULATORS}, not {emulator!r}")

    if network == "sinkhole":
        policy = NetworkPolicy.sinkhole()
    elif network == "allow-all":
        policy = NetworkPolicy.allow_all()
    else:
        policy = NetworkPolicy.loopback_only()

    stdout: BinaryIO = sys.stdout.buffer
    stderr: BinaryIO = sys.stderr.buffer

    def output(stream: int, data: bytes) -> None:
        target = stdout if stream == 1 else stderr
        target.write(data)
        target.flush()

    if not as_json:
        _say(core_line.replace("\n", "\nws2core: "))
    try:
        with policy:
            if emulator == "qiling":
                from .adapters import qiling
                run = qiling.run(program, args, environment=environment,
                                 output=None if as_json else output, winsock=winsock,
                                 policy=policy, timeout=timeout, max_block=max_block,
                                 rootfs=rootfs)
            else:
                from .adapters import speakeasy
                run = speakeasy.run(program, args, environment=environment,
                                    output=None if as_json else output, winsock=winsock,
                                    policy=policy, timeout=timeout, max_block=max_block)
            if network_log is not None:
                policy.write_jsonl(network_log)
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


def summary(run: ProgramRun) -> str:
    """How the run ended, in a line (or two when handles were left open)."""
    name = run.program.replace("\\", "/").rsplit("/", 1)[-1]
    how = (f"exited with code {run.exit_code}" if run.stopped is None
           else f"stopped: {run.stopped}")
    line = f"{name} ({run.abi}) {how}, after {run.seconds:.2f} s"
    if run.leaked:
        line += (f"\nws2core: it left {len(run.leaked)} socket or event handle(s) open,"
                 " closed after it")
    if run.network:
        line += "\nws2core: network: " + network_summary(run.network)
    return line


def network_summary(attempts: Sequence[Attempt]) -> str:
    """The attempts by verdict, the first of each named: ``3 attempts: 1 refused (connect
    192.0.2.1:80, WSAENETUNREACH), 2 allowed (...)``."""
    parts = []
    for verdict in ("refused", "redirected", "allowed"):
        chosen = [attempt for attempt in attempts if attempt.verdict == verdict]
        if chosen:
            first = chosen[0]
            what = f"{first.kind} {_where(first.address)}"
            if first.error:
                what += f", {errorname(first.error)}"
            more = f" and {len(chosen) - 1} more" if len(chosen) > 1 else ""
            parts.append(f"{len(chosen)} {verdict} ({what}{more})")
    count = len(attempts)
    return f"{count} attempt{'s' if count != 1 else ''}: " + ", ".join(parts)


def _where(address: tuple[object, ...]) -> str:
    """``host:port`` (``[host]:port`` for IPv6), or a looked-up name as it is."""
    if len(address) < 2:
        return str(address[0])
    host = str(address[0])
    return f"[{host}]:{address[1]}" if ":" in host else f"{host}:{address[1]}"


def _say(text: str) -> None:
    sys.stdout.flush()
    print(f"ws2core: {text}", file=sys.stderr, flush=True)
