"""``python -m ws2core``: the command line, and nothing else: its arguments, and which of the
three commands runs.

``demo`` (ws2core/demo.py) plays a small provider against ``ws2core.UpcallTable`` and prints
each upcall with its result, then ``ws2core.provider.HostSocketProvider`` serves echo clients
on 127.0.0.1 through the upcalls.
``bench`` is the performance report (the package ws2core/_bench/ holds it): the hot operations, FD_ISSET
on large sets, scaling to a million live sockets, memory, batch calls and waits, on the Cython
core and on the pure-Python twin next to a plain C call, each table with its targets, so a
reader can tell whether the extension is built, what it buys and where it falls short.
``run`` (ws2core/_run.py) runs a Windows console program under Speakeasy with ws2core behind
its Winsock.  All print ``ws2core.IMPLEMENTATION`` first: a failed extension build installs the twin
without an error (setup.py), and this is one of the places where that must show.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import textwrap
from collections.abc import Sequence

import ws2core
from ws2core import _bench, _implementation, _run, demo


def _core_line() -> str:
    """The first line(s) of every command: the version and the core in use, and why the twin."""
    line = f"ws2core {ws2core.__version__}, core: {ws2core.IMPLEMENTATION}"
    if ws2core.IMPLEMENTATION == "python":
        if _implementation.pure_python_requested():
            line += "\n  (the pure-Python twin, because WS2CORE_PURE_PYTHON=1 asks for it)"
        else:
            line += (
                "\n  (the pure-Python twin: the Cython core ws2core._handles is not built, so"
                " everything works,\n  only slower; build it with a C compiler present:"
                " python -m pip install -e .)"
            )
    return line


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's own wrapping to the terminal's width, keeping what a long description needs
    to read well: its paragraphs (a blank line between them), and its indented lines, each an
    item of its own (a numbered list, examples of commands) wrapped under its first word.

    argparse's default joins all of a description into one paragraph; its RawDescription
    formatter keeps every line as written, wider than the terminal.  Neither breaks at
    hyphens here, so names such as per-socket and pure-Python stay whole.
    """

    _MARKER = re.compile(r"(\d+\.|-) ")  # a list item's number or dash

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for paragraph in re.split(r"\n\s*\n", textwrap.dedent(text).strip("\n")):
            # each item: (its indent, where its text starts, where its wrapped lines go, words)
            items: list[tuple[int, int, int, list[str]]] = []
            for line in paragraph.splitlines():
                depth = len(line) - len(line.lstrip())
                # A line goes on with the item above when it starts where that item's text
                # does: under a list item's text, or at the margin of a plain paragraph.
                if items and depth == items[-1][1] and (depth == 0 or items[-1][0] < depth):
                    items[-1][3].append(line.strip())
                    continue
                marker = self._MARKER.match(line.strip())
                start = depth + len(marker.group(0)) if marker else depth
                # A command (indented, no marker) too long for a line goes on 4 deeper.
                going_on = start if marker or not depth else depth + 4
                items.append((depth, start, going_on, [line.strip()]))
            paragraphs.append(
                "\n".join(
                    textwrap.fill(
                        " ".join(" ".join(words).split()),
                        width,
                        initial_indent=indent + " " * depth,
                        subsequent_indent=indent + " " * going_on,
                        break_on_hyphens=False,
                    )
                    for depth, _, going_on, words in items
                )
            )
        return "\n\n".join(paragraphs)

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ws2core",
        formatter_class=_HelpFormatter,
        description=(
            "ws2core emulates the Ws2_32 side of the Winsock 2 SPI upcall table"
            " (WSPUPCALLTABLE). Every command first prints the version and the core in use"
            " (cython, or python: the pure-Python twin, used when the extension was not"
            " built or WS2CORE_PURE_PYTHON=1)."
        ),
        epilog="""\
            examples:
              python -m ws2core demo
              python -m ws2core bench --quick
              python -m ws2core run hello_winsock.exe 2
            """,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"ws2core {ws2core.__version__} (core: {ws2core.IMPLEMENTATION})",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "demo",
        formatter_class=_HelpFormatter,
        help=(
            "walk a small provider through the upcalls, then run an echo server over host"
            " sockets on 127.0.0.1 through them, printing each call and its result"
        ),
        description="""\
            Walk a small provider through ws2core.UpcallTable: create sockets with per-socket
            state as contexts, look the state up again, test fd_set membership (and show the
            520-byte Windows layout), set and reset an event, close everything, and show a
            stale handle refused with WSAENOTSOCK.

            Then ws2core.provider.HostSocketProvider, on a new upcall table (its handle values
            start again), serves three echo clients on 127.0.0.1: the server in its own thread
            waits with WSAWaitForMultipleEvents on events set by WSPEventSelect, two clients
            block, one is driven by WSPSelect; at the end that table is checked for leaked
            handles (exit status 1 if any).

            Only the handle values vary between runs.
            """,
    )
    bench_parser = commands.add_parser(
        "bench",
        help=(
            "the performance report: ns per operation for the Cython core, the pure-Python"
            " twin and a C-call floor, with ws2core's targets marked met or missed"
        ),
        formatter_class=_HelpFormatter,
        description="""\
            ws2core's performance report. Every figure is given for the Cython core and the
            pure-Python twin beside a C-call floor, abs(h), with the ratios twin/core and
            core/floor, and each table marks ws2core's performance targets ok or MISSED.
            Each operation is a statement pasted into a plain loop, as timeit does; figures
            are medians of interleaved repeats (5, 3 with --quick).

              1. the hot path: t.context(h), the drop-in WPUQuerySocketHandleContext (with the
                 core's Ref, a plain .value object, a ctypes c_size_t), create+close, every
                 hot upcall alone (WPUCreateSocketHandle, WPUCloseSocketHandle, WPUFDIsSet),
                 and where the drop-in query's time goes
              2. FD_ISSET misses on full sets of 64, 1,024 and 16,384 entries (FdSet, ctypes)
              3. scaling: lookup, create+close and FD_ISSET in tables of 1k, 100k and 1M live
                 sockets, and lookups in random order over all of them (with --quick: over
                 1k and 100k only)
              4. memory: bytes per live socket and event (RSS delta over 1,000,000 handles in
                 a fresh interpreter per core; 200,000 with --quick), bytes per empty table
              5. HandleTable() creation time
              6. batch calls (create_sockets + close_sockets, contexts, FdSet(handles),
                 contains_each) over 10,000 handles against one call per handle
              7. polls of 64 events, and the wake-up latency from WPUSetEvent in one thread
                 to a thread blocked in WSAWaitForMultipleEvents (2,000 rounds; 300)

            It takes about 1.5 minutes (--quick: about 12 s) on a 2-CPU machine, and about
            400 MB of memory for the 1M tier. The exit status is 1 after an error (a
            wrong answer, a failed probe), never because of a timing or a missed target.
            With the twin alone (WS2CORE_PURE_PYTHON=1, or the extension not built) the
            twin's figures are shown and the core's columns say why they are empty.
            """,
        epilog="""\
            examples:
              python -m ws2core bench --quick --json results.json
              python benchmarks/check.py results.json
              python -m ws2core bench --plot scaling.png
            """,
    )
    bench_parser.add_argument(
        "--quick",
        action="store_true",
        help=(
            "short runs: a repeat lasts 20 ms, not 100 ms; 3 repeats, not 5; no random walk"
            " over the 1M tier; batches of 2,000; memory over 200,000 handles. Noisier figures"
        ),
    )
    bench_parser.add_argument(
        "--repeat",
        type=_positive_int,
        metavar="N",
        help="repeats per figure, the median is shown (default 5, 3 with --quick)",
    )
    bench_parser.add_argument(
        "--json",
        metavar="FILE",
        help=(
            "also write every figure as JSON to FILE (- for stdout; the report then goes to"
            " stderr): section -> case -> {core, twin, floor, ratios, target, met}, and"
            " metadata. benchmarks/check.py reads it"
        ),
    )
    bench_parser.add_argument(
        "--plot",
        metavar="FILE.png",
        help=(
            "also draw the cost per operation against live handles (the scaling tiers, both"
            f" cores) to FILE.png; needs matplotlib: {_bench.PLOT_INSTALL}"
        ),
    )
    run_parser = commands.add_parser(
        "run",
        formatter_class=_HelpFormatter,
        help=(
            "run a Windows console program (.exe, x64 or x86) under Speakeasy or Qiling with"
            " ws2core behind its Winsock, its output as it comes, then how it ended"
        ),
        description=(
            "Run a Windows console program under the Speakeasy emulator (pip install"
            " 'ws2core[speakeasy]') or, with --emulator qiling, under Qiling (pip install"
            " 'ws2core[qiling]', in another environment: the two need different unicorns;"
            " Wine's own DLLs are its Windows folder) with ws2core behind its Winsock: its"
            " sockets are real sockets of this machine. The C run-time calls a mingw-built"
            " program needs are supplied by ws2core (its command line, getenv and"
            " GetEnvironmentVariable, the printf family and the other console output, exit)."
            " The program's stdout and stderr are passed through as it writes them; ws2core's"
            " own lines go to stderr, prefixed 'ws2core:'. The exit status is the program's"
            f" (modulo 256), or {_run.STOPPED} when the emulator stopped it (an unsupported"
            " call, a fault, the time limit): the last line says which, and where. The"
            " options below go before PROGRAM.exe: what follows it is the program's own"
            " command line."
        ),
        epilog="""\
            example, the sample program in the repository:
              x86_64-w64-mingw32-gcc -O2 -o hello_winsock.exe examples/hello_winsock.c -lws2_32
              python -m ws2core run hello_winsock.exe 3
              python -m ws2core run --emulator qiling hello_winsock.exe 3
            """,
    )
    run_parser.add_argument("program", metavar="PROGRAM.exe", help="the program to run")
    run_parser.add_argument("args", nargs=argparse.REMAINDER, metavar="ARG",
                            help="its command line after its name")
    run_parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE",
        help=(
            "a variable the program can read (repeat for more); it sees none of this"
            " machine's environment"
        ),
    )
    run_parser.add_argument(
        "--json", action="store_true",
        help="print one JSON object at the end (the output inside it) instead of streaming",
    )
    run_parser.add_argument(
        "--timeout", type=_positive_int, default=60, metavar="SECONDS",
        help="stop the program after this long (default 60)",
    )
    run_parser.add_argument(
        "--max-block", type=float, default=10.0, metavar="SECONDS",
        help=(
            "the longest one call (connect, accept, recv, send, select,"
            " WSAWaitForMultipleEvents) may block the emulator, which runs one guest thread"
            " at a time (default 10)"
        ),
    )
    run_parser.add_argument(
        "--network", choices=_run.NETWORKS, default="loopback", metavar="POLICY",
        help=(
            "what the program may reach (default loopback): 'loopback' this machine's"
            " loopback only, anything else refused as a network without that route;"
            " 'sinkhole' every connection and datagram carried to a recording sink on"
            " loopback; 'allow-all' everything, for real"
        ),
    )
    run_parser.add_argument(
        "--network-log", metavar="PATH",
        help=(
            "write every network attempt (what was asked, the verdict, the bytes) to PATH as"
            " JSON lines when the program ends"
        ),
    )
    run_parser.add_argument(
        "--emulator", choices=_run.EMULATORS, default="speakeasy", metavar="NAME",
        help=(
            "'speakeasy' (the default) or 'qiling', whose Windows folder (its rootfs) is"
            " built from Wine's installed DLLs on first use and kept in ~/.cache/ws2core"
        ),
    )
    run_parser.add_argument(
        "--rootfs", metavar="FOLDER",
        help="with --emulator qiling: this rootfs instead of the one built from Wine's DLLs",
    )
    run_parser.add_argument(
        "--stock", action="store_true",
        help="leave the emulator's own Winsock in place (for a comparison)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; the return value is the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            return demo.run(_core_line())
        if args.command == "run":
            try:
                environment = _run.parse_environment(args.env)
            except ValueError as error:
                parser.error(str(error))
            if args.rootfs is not None and args.emulator != "qiling":
                parser.error("--rootfs is Qiling's: give --emulator qiling too")
            return _run.command(args.program, args.args, environment, as_json=args.json,
                                timeout=args.timeout, max_block=args.max_block,
                                winsock=not args.stock, network=args.network,
                                network_log=args.network_log, core_line=_core_line(),
                                emulator=args.emulator, rootfs=args.rootfs)
        if args.command == "bench":
            return _bench.bench(
                args.quick, args.repeat, _core_line(), json_path=args.json, plot_path=args.plot
            )
    except BrokenPipeError:
        # The reader stopped reading (`| head`): not an error worth a traceback.  Point stdout
        # at /dev/null so the interpreter's final flush does not raise again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    parser.print_help()
    return 2


if __name__ == "__main__":
    sys.exit(main())
