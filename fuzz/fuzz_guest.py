#!/usr/bin/env python3
"""Fuzz harness: a hostile guest calling every ws2_32 export through the guest layer and an
emulator adapter (Speakeasy's or Qiling's), x86 and x64, with the guest layer's invariants
checked on every call.

Each input is one emulated process's life: a fresh ``Installation`` (real mode: a real
emulator's hooks, ``Installation._hook``, called as its dispatcher calls them; stand-in
mode: ``Exports.hook`` over ``guest_support.FakeGuest``, many times faster) over either
core, then up to 48 steps.  Real mode's emulator is ``--emulator``: ``speakeasy``,
``qiling``, or ``auto`` (the default), Speakeasy where it is installed, else Qiling.  The two
never share a virtual environment (unicorn 1 against 2), so ``auto`` lets one command line
fuzz whichever adapter the environment has; naming one makes a run say what it tested, and
stops at once where that emulator is missing instead of quietly fuzzing the stand-in.
Qiling runs x64 only unless Wine's 32-bit DLLs are installed; elsewhere its x86 inputs go
to the stand-in (said once; a run forced to ``--mode real --abi x86`` stops instead).  A
reproducer's header says real or stand-in, not which emulator: it replays on the
environment's.  A step is a call of one of ``ws2core.guest.EXPORTS``
with arguments drawn from the input, or something a peer does (a host socket on 127.0.0.1
connects to a guest listener, sends, closes).  Arguments:

* pointers: a fresh copy of the argument's structure in read-write memory (a sockaddr of
  either family with hostile fields, an fd_set of live, closed and random handles, a
  TIMEVAL, an int, an out-buffer), at odd offsets, or running off the end of the mapped
  pages; NULL; unmapped addresses (x64's non-canonical and kernel ones too); a read-only
  page; a no-access page (stand-in and Qiling: Speakeasy cannot tell one); the loaded
  image's header, ``.text``, ``.rdata`` (read-only on Windows) and ``.data`` (real mode);
  random addresses
  (``tests/hostile_support.py`` lays the memory out);
* integers: good values of the parameter, boundaries (0, 1, 0x7fffffff, 0x80000000,
  0xffffffff, 2**63, 2**64-1, huge lengths) and, on x64, garbage above a 32-bit argument;
* handles: live sockets and events, closed ones, the wrong kind, tag bits, random;
* calls before WSAStartup and after WSACleanup, because the input decides whether to start.

Addresses outside loopback are documentation ranges only (192.0.2.0/24, 198.51.100.0/24,
203.0.113.0/24, 2001:db8::/32), under the default loopback-only network policy; run it in
a network namespace (``python tests/isolation.py -- python fuzz/fuzz_guest.py ...``).  Every
blocking call is capped by ``max_block`` (the exports' cap), so guest sockets stay as the
guest set them; ``--nonblocking`` makes every one non-blocking after each call instead (the
harness of the days before the cap, faster per call).

Checked after every call (a broken one is a finding, its name in ``INVARIANTS``): nothing
escaped the hook; no exception reached the guard; the result is an int of the export's width
(None for a void one); the call took less than ``max_block`` + ``MARGIN``; no byte changed
outside the call's out-parameters; nothing was written into read-only memory; a call that
succeeded had no out-parameter in read-only memory and read no in-parameter from no-access
or unmapped memory; a failure left a nonzero last error (cleared before each call); every
socket of the table is a live ``ProviderSocket`` of the provider and vice versa, and the guest
was given each one's handle; no host call named an address off loopback.  At the end of an input every WSAStartup is undone (``WSACleanup``),
and then no socket may be left, in the table, the provider or the host.

Three ways to run it::

    python fuzz/fuzz_guest.py --calls 100000 --abi x86 --seed 1    # figures and findings
    python fuzz/fuzz_guest.py --calls 20000 --abi x64 --mode real --emulator qiling
    python fuzz/fuzz_guest.py -max_total_time=60                    # atheris (fuzz/run.py)
    python fuzz/fuzz_guest.py fuzz/artifacts/guest-<...>            # replay, with its call log

``--calls`` runs random inputs (the fallback driver's bytes) until that many export calls
were made, collects every finding, shrinks one reproducer per group (export and invariant)
and prints the calls, exports, calls per export, the findings and the time.  The findings
still open are in ``KNOWN`` with the regression test that tracks each: atheris and the
fallback driver report them once and go on (``--strict``: a finding like any other).
"""

from __future__ import annotations

import argparse
import collections
import faulthandler
import hashlib
import logging
import os
import random
import socket
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
import _common  # noqa: E402
from _common import Finding, Reader  # noqa: E402

# Imported under atheris' instrumentation (the layers this harness drives).
MODULES = ("ws2core.ws2_32", "ws2core.kernel32", "ws2core.guest", "ws2core.provider", "ws2core.policy",
           "ws2core.adapters.speakeasy", "ws2core.adapters.qiling")

MAX_BLOCK = 0.05       # seconds: the exports' cap on a wait, small so that waits cost little
MARGIN = 0.5           # seconds a call may take beyond max_block before it is called slow
HANG = 30.0            # seconds after which a call is a hang: its input is saved, the run ends
MAX_STEPS = 48
FILL = 0xA5            # what out-buffers and fresh memory hold, so that any write shows
PEERS = 32             # host-side peer sockets kept per input
GOOD = (15, 12, 9, 5)  # in 16: how often an argument is a good one, by the input's hostility

# The invariants, as findings name them.
ESCAPED = "exception escaped the hook"
GUARDED = "exception inside ws2core (answered by the guard)"
RESULT = "result not an int of the export's width"
SLOW = "call took longer than max_block + margin"
READ_ONLY = "read-only memory written"
OUTSIDE = "written outside the out-parameters"
RO_SUCCESS = "succeeded with an out-parameter in read-only memory"
UNREADABLE = "succeeded reading no-access or unmapped memory"
LAST_ERROR = "failure without a last error"
TABLE = "table and provider disagree"
ORPHAN = "socket in the table whose handle the guest never received"
LEFT = "socket left after the last WSACleanup"
OFF_LOOPBACK = "host call off loopback"
INVARIANTS = (ESCAPED, GUARDED, RESULT, SLOW, READ_ONLY, OUTSIDE, RO_SUCCESS, UNREADABLE,
              LAST_ERROR, TABLE, ORPHAN, LEFT, OFF_LOOPBACK)

# Findings still open, each tracked by a regression test that fails until its fix
# (tests/test_guest_hostile.py, xfail strict): reported, not fatal, unless --strict.  An
# entry: (invariant, exports, a text its detail contains, the test).  Remove it with the
# test's xfail mark when the fix lands.
_HOSTILE = "tests/test_guest_hostile.py::"
KNOWN: tuple[tuple[str, tuple[str, ...], str, str], ...] = ()


def known(found: Found) -> str | None:
    """The test that tracks this finding, None if it is new."""
    for invariant, exports, contains, test in KNOWN:
        if found.invariant == invariant and found.export in exports and contains in found.detail:
            return test
    return None


BOUNDARY = (0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFF, 0x10000,
            0x100000000, 2**63, 2**64 - 1)
DOC_V4 = ("192.0.2.1", "198.51.100.7", "203.0.113.255")
V4_HOSTS = ("127.0.0.1", "127.0.0.1", "127.0.0.1", "127.0.0.2", "0.0.0.0") + DOC_V4
V6_HOSTS = ("::1", "::1", "::", "::ffff:127.0.0.1", "::ffff:192.0.2.1", "::ffff:0.0.0.0",
            "2001:db8::1", "::127.0.0.1")

# Windows values, written out where ws2core.constants has no name for them.
SIOCATMARK = 0x40047307
SO_PROTOCOL_INFOA = 0x2004
SO_PROTOCOL_INFOW = 0x2005
# The options getsockopt answers with a structure (SOL_SOCKET): name -> its size, which a
# success writes whole (a WSAPROTOCOL_INFOA or W).
STRUCTURE_OPTIONS = {SO_PROTOCOL_INFOA: 372, SO_PROTOCOL_INFOW: 628}

W: Any = None          # the ws2core names the harness uses, once loaded (see _load)
STRICT = False
ALLOW_BLOCKING = True
FORCE: dict[str, str] = {}   # "abi", "mode": what --abi / --mode fix in every input
EMULATORS = ("speakeasy", "qiling")   # real mode's, in the order "auto" tries them
EMULATOR = "auto"            # --emulator


def i32(value: int) -> int:
    """A raw argument as the C int the export sees."""
    return ((value & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000


@dataclass
class Found:
    """One broken invariant: where (the export, the step), what, and the call."""

    invariant: str
    export: str
    detail: str
    call: str
    step: int
    end: int          # the input's bytes up to here reproduce it

    @property
    def key(self) -> tuple[str, str]:
        return (self.invariant, self.export)


class _StopRun(Exception):
    """Ends a run once the finding it was replayed for shows (a reproducer's shrinking)."""


class _GuardLog(logging.Handler):
    """The ``ws2core.guest`` logger's records: the guard logs each exception it answers."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class _Watchdog:
    """Ends the process when one call has run for HANG seconds, after saving the input."""

    def __init__(self) -> None:
        self.deadline: float | None = None
        self.label = ""
        self.data = b""
        self.log: list[str] = []     # the run's calls so far, shown with the hang
        self.prefix = ""
        threading.Thread(target=self._watch, name="fuzz_guest watchdog", daemon=True).start()

    def _watch(self) -> None:
        while True:
            time.sleep(0.25)
            deadline = self.deadline
            if deadline is not None and time.monotonic() > deadline:
                path = f"{self.prefix}hang-{hashlib.sha1(self.data).hexdigest()}"
                with open(path, "wb") as f:
                    f.write(self.data)
                print(f"==HANG== {self.label} has not returned for {HANG} s; input saved to "
                      f"{path} (replay: python {sys.argv[0]} {path})\nthe calls before it:\n    "
                      + "\n    ".join(self.log[-24:]), flush=True)
                faulthandler.dump_traceback(all_threads=True)
                os._exit(3)


class _Env:
    """What outlives one input: the emulated processes, the host-side listeners the guest's
    sockets may connect to, the guard's log, the watchdog and the record of host calls."""

    def __init__(self) -> None:
        import hostile_support
        from isolation import HOST_CALLS

        self.support = hostile_support
        self.processes: dict[tuple[str, str], Any] = {}
        self.listeners: list[socket.socket] = []
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            try:
                listener = socket.create_server((host, 0), family=family, backlog=512)
            except OSError:
                continue  # no ::1 here: the guest's IPv6 connects find nobody
            listener.setblocking(False)
            self.listeners.append(listener)
        self.ports = {listener.family: listener.getsockname()[1] for listener in self.listeners}
        self.guard = _GuardLog()
        logging.getLogger("ws2core.guest").addHandler(self.guard)
        self.host_calls = HOST_CALLS
        HOST_CALLS.install()
        self.watchdog = _Watchdog()
        self.known_reported: set[tuple[str, str]] = set()
        self.emulator = _emulator(EMULATOR)
        if self.emulator is None:
            print("fuzz_guest: neither Speakeasy (pip install 'ws2core[speakeasy]') nor Qiling "
                  "('ws2core[qiling]', in a venv of its own) is installed: the stand-in serves "
                  "every input", flush=True)
        self.real = self.emulator is not None
        self.unavailable: dict[str, str] = {}    # abi -> why the emulator cannot run it

    def process(self, mode: str, abi: str) -> Any:
        """The process for ``mode`` and ``abi``, made once; None where the emulator cannot
        run that ABI (Qiling's x86 without Wine's 32-bit DLLs)."""
        key = (mode, abi)
        if key not in self.processes:
            if mode == "stand-in":
                self.processes[key] = self.support.StandInProcess(abi)
            elif self.emulator == "speakeasy":
                self.processes[key] = self.support.SpeakeasyProcess(abi)
            else:
                try:
                    self.processes[key] = self.support.QilingProcess(abi)
                except FileNotFoundError as missing:   # WineMissing: no rootfs for the ABI
                    if FORCE.get("mode") == "real" and FORCE.get("abi") == abi:
                        sys.exit(f"fuzz_guest: Qiling cannot run {abi}: {missing}")
                    print(f"fuzz_guest: Qiling cannot run {abi} ({missing}): the stand-in "
                          f"serves its inputs", flush=True)
                    self.processes[key] = None
        return self.processes[key]


def _emulator(asked: str) -> str | None:
    """The emulator real mode uses: ``asked`` (exiting when it is not installed), or for
    "auto" the first of EMULATORS that is, None when neither is."""
    import importlib.util

    for name in EMULATORS if asked == "auto" else (asked,):
        if importlib.util.find_spec(name) is not None:
            return name
    if asked != "auto":
        sys.exit(f"fuzz_guest: --emulator {asked}, but {asked} is not installed "
                 f"(pip install 'ws2core[{asked}]')")
    return None


ENV: _Env | None = None


def shutdown() -> None:
    """Close what outlives the inputs (a test's clean-up; the process's end does it too)."""
    global ENV
    if ENV is not None:
        logging.getLogger("ws2core.guest").removeHandler(ENV.guard)
        for listener in ENV.listeners:
            listener.close()
        ENV = None


def _load() -> _Env:
    """The ws2core names (after _common.load, so that atheris instruments them) and the Env."""
    global W, ENV
    if ENV is None:
        _common.load(instrument=False, modules=MODULES)
        import ws2core
        from ws2core import constants
        from ws2core.guest import EXPORTS
        from ws2core.provider import ProviderSocket

        W = argparse.Namespace(ws2core=ws2core, c=constants, EXPORTS=EXPORTS,
                               EXPORT={export.name: export for export in EXPORTS},
                               ProviderSocket=ProviderSocket)
        missing = sorted(set(W.EXPORT) - set(SPECS)), sorted(set(SPECS) - set(W.EXPORT))
        if any(missing):
            sys.exit(f"fuzz_guest: exports without a spec {missing[0]}, specs without an "
                     f"export {missing[1]}: give each export its arguments here")
        ENV = _Env()
    return ENV


# ---------------------------------------------------------------------------------------
# One input: one process's life


class Run:
    """One emulated process served from a fresh table, driven by one input."""

    def __init__(self, data: bytes, *, collect: bool = False,
                 stop_at: tuple[str, str] | None = None) -> None:
        env = _load()
        self.env = env
        self.data = data
        self.r = Reader(data)
        head = self.r.byte()
        self.abi = FORCE.get("abi") or ("x86" if head & 1 else "x64")
        self.mode = FORCE.get("mode") or ("stand-in" if head & 2 else "real")
        if self.mode == "real" and not env.real:
            self.mode = "stand-in"
        self.core = _common.CORES[(head >> 2) & 1]
        self.hostility = (head >> 3) & 3
        self.collect = collect
        self.stop_at = stop_at
        # What overlapped calls may write at any later call's return (their structure, and
        # a receive's buffers and from-address): the guest layer copies completions then.
        self.lingering: list[Out] = []
        self.process = env.process(self.mode, self.abi)
        if self.process is None:   # the emulator cannot run this ABI
            self.mode = "stand-in"
            self.process = env.process(self.mode, self.abi)
        self.process.reset(FILL)
        self.regions = self.process.regions
        self.ordered = list(self.regions.values())
        self.ptr = self.process.ptr_size
        self.mask = (1 << (8 * self.ptr)) - 1
        self.served = self.process.serve(self.core, MAX_BLOCK)
        self.handles = self.served.table.table
        self.returned: set[int] = set()     # socket handles the guest was given
        self.known: list[int] = []          # every handle the guest was given, closed or not
        self.windows: list[int] = []        # every HWND the guest was given, destroyed or not
        self.seen: dict[int, Any] = {}      # every ProviderSocket seen, by id
        self.table_problems: set[str] = set()
        self.peers: list[socket.socket] = []
        self.log: list[str] = []
        self.notes: list[str] = []
        self.cursor: dict[str, int] = {}
        self.findings: list[Found] = []
        self.counts: collections.Counter[str] = collections.Counter()
        self.successes: collections.Counter[str] = collections.Counter()
        self.positions: list[int] = []
        self.prelude_at = 0

    # --- the run

    def execute(self) -> Run:
        try:
            self.prelude()
            while not self.r.exhausted and len(self.positions) < MAX_STEPS:
                self.positions.append(self.r.pos)
                self.step()
            self.finish()
        except _StopRun:
            pass
        finally:
            self.teardown()
        return self

    def prelude(self) -> None:
        """What most programs do first, each part chosen by a bit: WSAStartup, a guest
        listener on loopback, a client connecting to the host's listener, an event, a bound
        UDP socket, an IPv6 socket (the input's steps then have something to work on)."""
        c = W.c
        self.prelude_at = self.r.pos
        bits = self.r.byte()
        mode = f"real ({self.env.emulator})" if self.mode == "real" else self.mode
        self.log.append(f"[prelude {bits:#04x}: {mode} {self.abi} "
                        f"{'python' if self.core is _common.CORES[1] else 'cython'} core, "
                        f"hostility {self.hostility}]")
        if bits % 8:
            self.fresh_call()
            size = self.wsadata_size
            data = self.place("rw", bytes([FILL]) * size)
            self.invoke("WSAStartup", [0x0202, data], [(data, size, size)], [])
        if bits & 0x08:
            s = self.good_socket(c.AF_INET, c.SOCK_STREAM)
            self.fresh_call()
            name = self.place("rw", self.sockaddr_v4("127.0.0.1", 0))
            self.invoke("bind", [s, name, 16], [], [(name, 16)])
            self.invoke("listen", [s, 5], [], [])
        if bits & 0x10:
            s = self.good_socket(c.AF_INET, c.SOCK_STREAM)
            self.fresh_call()
            name = self.place("rw", self.sockaddr_v4("127.0.0.1", self.env.ports[socket.AF_INET]))
            self.invoke("connect", [s, name, 16], [], [(name, 16)])
        if bits & 0x20:
            self.fresh_call()
            self.invoke("WSACreateEvent", [], [], [])
        if bits & 0x40:
            s = self.good_socket(c.AF_INET, c.SOCK_DGRAM)
            self.fresh_call()
            name = self.place("rw", self.sockaddr_v4("127.0.0.1", 0))
            self.invoke("bind", [s, name, 16], [], [(name, 16)])
        if bits & 0x80:
            self.good_socket(c.AF_INET6, c.SOCK_STREAM)

    def good_socket(self, af: int, kind: int) -> int:
        self.fresh_call()
        result = self.invoke("socket", [af, kind, 0], [], [])
        return result if isinstance(result, int) else 0

    def step(self) -> None:
        # Two bytes: the steps outgrew 256 entries, and one byte never reached the last ones
        # (the peer's actions among them).
        op = STEPS[self.r.uint(2) % len(STEPS)]
        if isinstance(op, str):
            self.fresh_call()
            argv, outs, ins = SPECS[op](self)
            self.invoke(op, argv, outs, ins)
        else:
            op(self)

    def finish(self) -> None:
        """Undo every WSAStartup through the hook; then no socket may be left anywhere."""
        for _ in range(self.served.ws2_32.startups + 1):
            if not self.served.ws2_32.startups:
                break
            self.fresh_call()
            self.invoke("WSACleanup", [], [], [])
        if self.served.ws2_32.startups:
            return  # WSACleanup failed to end them: already a finding
        left = [f"{h:#x}" for h in self.handles if self.handles.kind(h) == "socket"]
        if left:
            self.report(LEFT, "WSACleanup", f"handles {left} still in the table", "(end)")
        with self.served.provider._lock:
            alive = list(self.served.provider._sockets)
        if alive:
            self.report(LEFT, "WSACleanup", f"the provider still has {alive}", "(end)")
        open_hosts = [repr(sock) for sock in self.seen.values() if sock.host.fileno() != -1]
        if open_hosts:
            self.report(LEFT, "WSACleanup", f"host sockets still open: {open_hosts}", "(end)")

    def teardown(self) -> None:
        self.env.watchdog.deadline = None
        try:
            self.served.close()
        finally:
            for peer in self.peers:
                peer.close()
            self.peers.clear()
            self.drain(keep=False)

    # --- one call and its checks

    def fresh_call(self) -> None:
        self.notes = []
        self.cursor = {}

    def invoke(self, name: str, argv: list[int], outs: list[Out],
               ins: list[tuple[int, int]]) -> int | None:
        """Call export ``name`` with raw ``argv`` through the hook and check every invariant;
        ``outs`` are its out-parameters (``Out``: as sized before the call), ``ins`` ranges it
        must read to succeed."""
        export = W.EXPORT[name]
        process, served, env = self.process, self.served, self.env
        if name != "WSAGetLastError":  # which would then read only what this harness set
            process.set_last_error(0)
            served.ws2_32.WSASetLastError(0)
        before = process.snapshot()
        env.guard.records.clear()
        env.host_calls.clear()
        text = f"{name}({', '.join(self.describe(value) for value in argv)})"
        env.watchdog.label, env.watchdog.data, env.watchdog.log = text, self.data, self.log
        escaped: BaseException | None = None
        result: Any = None
        started = time.monotonic()
        env.watchdog.deadline = started + HANG
        try:
            result = served.call(name, argv)
        except Exception as error:  # noqa: BLE001 - the finding
            escaped = error
        elapsed = time.monotonic() - started
        env.watchdog.deadline = None
        after = process.snapshot()
        self.counts[name] += 1
        if result is env.support.HANDED_OVER:
            # A kernel32 call on a handle that is not ws2core's, answered by the emulator's
            # own handler: its result is the emulator's; ws2core must have changed nothing.
            shown = f"{text} -> handed over"
            self.log.append(shown)
            self.check_memory(name, before, after, [], shown)
            self.check_table(name, None, argv, shown)
            return None
        shown = f"{text} -> {self.show_result(result)}"
        if self.notes:
            shown += "   where " + "; ".join(self.notes)
        self.log.append(shown)

        if escaped is not None:
            self.report(ESCAPED, name, "".join(traceback.format_exception_only(escaped)).strip(),
                        shown)
        for record in env.guard.records:
            detail = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                detail = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
                frames = traceback.extract_tb(record.exc_info[2])
                if frames:
                    detail += f" at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno}"
            self.report(GUARDED, name, detail, shown)
        width = {"p": self.mask, "i": 0xFFFFFFFF}.get(export.result)
        if escaped is None and (result is not None if width is None
                                else type(result) is not int or not 0 <= result <= width):
            self.report(RESULT, name, f"returned {result!r}", shown)
        if elapsed > MAX_BLOCK + MARGIN:
            self.report(SLOW, name, f"took {elapsed:.3f} s", shown)
        self.check_memory(name, before, after, outs + self.lingering, shown)
        succeeded = self.succeeded(export, result)
        if succeeded:
            self.successes[name] += 1
            for address, _, size in outs:
                for region in self.protected(address, size):
                    self.report(RO_SUCCESS, name, f"{size} bytes at {self.describe(address)} "
                                f"(in {region.name})", shown)
            for address, size in ins:
                where = self.unreadable(address, size)
                if where:
                    self.report(UNREADABLE, name, f"{size} bytes at {self.describe(address)} "
                                f"({where})", shown)
        if (succeeded is False and export.last_error and export.failure is not None
                and not process.last_error()):
            self.report(LAST_ERROR, name, "the last error is 0", shown)
        self.check_table(name, result, argv, shown)
        stray = env.host_calls.non_loopback()
        if stray:
            self.report(OFF_LOOPBACK, name, ", ".join(f"{call.event} {call.address}"
                                                      for call in stray), shown)
        self.settle()
        return result if isinstance(result, int) else None

    def succeeded(self, export: Any, result: Any) -> bool | None:
        """Whether the call succeeded (None: it cannot tell, or cannot fail)."""
        if type(result) is not int:
            return None
        if export.name == "WSAStartup":
            return result == 0
        if export.failure is None or not export.last_error:
            return None
        width = self.mask if export.result == "p" else 0xFFFFFFFF
        return bool(result != export.failure & width)

    def check_memory(self, name: str, before: list[bytes], after: list[bytes],
                     outs: list[Out], shown: str) -> None:
        for region, old, new in zip(self.ordered, before, after):
            if old == new:
                continue
            for start, end in _changes(old, new):
                address = region.base + start
                change = f"{end - start} bytes at {region.name}+{start:#x}: " \
                         f"{old[start:end][:16].hex()} -> {new[start:end][:16].hex()}"
                if region.protected:
                    self.report(READ_ONLY, name, change, shown)
                    continue
                stray = _uncovered(address, end - start, outs)
                if stray:
                    self.report(OUTSIDE, name, f"{change} (outside: {', '.join(self.describe(a) + f'+{n}' for a, n in stray)})", shown)

    def protected(self, address: int, size: int) -> list[Any]:
        return [region for region in self.ordered
                if region.protected and region.overlaps(address, min(size, 1 << 32))]

    def unreadable(self, address: int, size: int) -> str:
        if size <= 0:
            return ""
        for region in self.ordered:
            if not region.readable and region.overlaps(address, size):
                return f"in {region.name}"
        if address == 0 or address + size > 1 << (8 * self.ptr):
            return "not in the address space"
        if size <= 1 << 16 and self.process.peek(address, size) is None:
            return "unmapped"
        return ""

    def check_table(self, name: str, result: Any, argv: list[int], shown: str) -> None:
        """The table and the provider agree; the guest was given every socket's handle."""
        handles, provider = self.handles, self.served.provider
        if name in SOCKET_MAKERS and self.succeeded(W.EXPORT[name], result):
            self.returned.add(result)
            self.known.append(result)
        elif name in ("WSACreateEvent", "CreateIoCompletionPort") and result:
            self.known.append(result)
        elif name in ("CreateWindowExA", "CreateWindowExW") and result:
            self.windows.append(result)
        problems = []
        in_table = set()
        for h in list(handles):
            if handles.kind(h) != "socket":
                continue
            sock = handles.context(h)
            in_table.add(id(sock))
            self.seen.setdefault(id(sock), sock)
            if type(sock) is not W.ProviderSocket or sock.provider is not provider:
                problems.append(f"{h:#x} holds {sock!r}, not a socket of this provider")
            elif sock.closed or sock.handle != h:
                problems.append(f"{h:#x} holds {sock!r}")
            if h not in self.returned:
                self.report(ORPHAN, name, f"{h:#x} ({sock!r})", shown)
                self.returned.add(h)   # once
        with provider._lock:
            sockets = list(provider._sockets)
        for sock in sockets:
            if id(sock) not in in_table:
                problems.append(f"the provider's {sock!r} is not in the table")
        new = [problem for problem in problems if problem not in self.table_problems]
        if new:  # once each: a disagreement stays until the input ends
            self.table_problems.update(new)
            self.report(TABLE, name, "; ".join(new), shown)
        self.returned &= {h for h in handles if handles.kind(h) == "socket"}

    def settle(self) -> None:
        """Between calls: every socket non-blocking under --nonblocking, the host listeners'
        new connections taken as peers."""
        if not ALLOW_BLOCKING:
            for h in list(self.handles):
                if self.handles.kind(h) == "socket":
                    sock = self.handles.context(h)
                    if type(sock) is W.ProviderSocket and not sock.nonblocking:
                        self.served.ws2_32.ioctlsocket(h, W.c.FIONBIO, W.ws2core.Ref(1))
        self.drain()

    def drain(self, keep: bool = True) -> None:
        for listener in self.env.listeners:
            while True:
                try:
                    peer, _ = listener.accept()
                except OSError:
                    break
                if keep and len(self.peers) < PEERS:
                    peer.setblocking(False)
                    self.peers.append(peer)
                else:
                    _reset(peer)

    def report(self, invariant: str, export: str, detail: str, shown: str) -> None:
        found = Found(invariant, export, detail, shown, len(self.positions) - 1, self.r.pos)
        if self.stop_at is not None:
            if found.key == self.stop_at:
                self.findings.append(found)
                raise _StopRun
            return
        if self.collect:
            self.findings.append(found)
            return
        test = known(found)
        if test and not STRICT:
            if found.key not in self.env.known_reported:
                self.env.known_reported.add(found.key)
                print(f"==KNOWN== {export}: {invariant} ({test}): "
                      f"{detail}", flush=True)
            return
        tail = "\n    ".join(self.log[-12:])
        raise Finding(f"{export}: {invariant}: {detail}\n  call: {shown}\n  the input's last "
                      f"calls:\n    {tail}")

    # --- describing values

    def describe(self, value: int) -> str:
        for region in self.ordered:
            if region.base <= value < region.end:
                return f"{region.name}+{value - region.base:#x}"
        return f"{value:#x}"

    def show_result(self, result: Any) -> str:
        if type(result) is not int:
            return repr(result)
        error = self.process.last_error()
        return f"{result:#x}" + (f" [{W.ws2core.errorname(error)}]" if error else "")

    # --- drawing arguments

    @property
    def wsadata_size(self) -> int:
        return 408 if self.ptr == 8 else 400

    def good(self) -> bool:
        """Whether the next argument is a good one: how often depends on the input's
        hostility (its header), so that some inputs reach deep states (connected sockets
        with data waiting) and others are hostile throughout."""
        return self.r.below(16) < GOOD[self.hostility]

    def int_arg(self, good: Sequence[int], odd: Sequence[int] = ()) -> int:
        """A raw 32-bit argument: a good value of the parameter, else an odd one, a boundary,
        random bits, or (x64) a good value with garbage above its 32 bits, as a register
        may hold."""
        r = self.r
        if self.good():
            return good[r.below(len(good))] & 0xFFFFFFFF
        k = r.below(5)
        if k < 2 and odd:
            return odd[r.below(len(odd))] & 0xFFFFFFFF
        if k < 3:
            return BOUNDARY[r.below(len(BOUNDARY))]
        if k == 3 or self.ptr == 4:
            return r.uint(4)
        return (good[r.below(len(good))] & 0xFFFFFFFF) | (r.uint(4) << 32)

    def handle(self, prefer: str) -> int:
        """A SOCKET or WSAEVENT argument: ``prefer`` is "event", "socket" or the state a
        socket should be in ("connected", "listening", "unconnected"); a good draw is a live
        one of that kind (mostly in that state), a bad one a live one of the other kind, a
        closed one, one with tag bits, INVALID_SOCKET and friends, small or random values."""
        r, handles = self.r, self.handles
        # Thread handles too: Ws2_32 keeps one per thread that named a completion routine.
        live: dict[str | None, list[int]] = {"socket": [], "event": [], "port": [],
                                             "thread": []}
        for h in handles:
            live[handles.kind(h)].append(h)
        kind = prefer if prefer in ("event", "port") else "socket"
        other = ("socket", "event", "port")[(("socket", "event", "port").index(kind)
                                             + 1 + r.below(2)) % 3]
        if self.good():
            states = STATES.get(prefer)
            if states and r.below(4):
                pool = [h for h in live["socket"] if handles.context(h).state in states]
                if pool:
                    return pool[r.below(len(pool))]
            if live[kind]:
                return live[kind][r.below(len(live[kind]))]
        k = r.below(8)
        if k < 2 and live[other]:
            return live[other][r.below(len(live[other]))]
        closed = [h for h in self.known if h not in handles]
        if k < 4 and closed:
            return closed[r.below(len(closed))]
        everything = live["socket"] + live["event"] + live["port"]
        if k == 4 and everything:
            return everything[r.below(len(everything))] | (1 + r.below(3))
        if k == 5:
            return (0, self.mask, self.mask - 1, 4, 0xFFFFFFFF, 2**32 + 4)[r.below(6)]
        if k == 6:
            return r.uint(self.ptr)
        return 4 * r.below(64)

    def place(self, name: str, content: bytes, misalign: int = 0) -> int:
        """``content`` written at the next free offset of region ``name`` (plus
        ``misalign``), whatever its protection; its guest address."""
        region = self.regions.get(name) or self.regions["ro"]
        offset = self.cursor.get(region.name, 0) + misalign
        if offset + len(content) > region.size:
            offset = misalign
        content = content[: region.size - offset]
        self.cursor[region.name] = (offset + len(content) + 15) & ~7
        self.process.poke(region.base + offset, content)
        return int(region.base + offset)

    def pointer(self, content: bytes, what: str) -> int:
        """Where an argument's bytes are: mostly a fresh copy of ``content`` in read-write
        memory; else NULL, unmapped, running off the end of the mapped pages, in read-only or
        no-access memory, in the image's sections, anywhere in the regions, random."""
        r = self.r
        k = 0 if self.good() else r.below(16) + 16
        if k < 17:
            address = self.place("rw", content, misalign=r.below(8) if k == 16 else 0)
        elif k < 19:   # its last `cut` bytes fall off the mapped memory
            cut = min(len(content), (0, 0, 1, 2, 4, 8, max(1, len(content) // 2))[r.below(7)])
            region = self.regions["rw"]
            address = region.end - len(content) + cut
            self.process.poke(address, content[: len(content) - cut])
        elif k == 19:
            return 0
        elif k < 22:
            return int(self.process.unmapped[r.below(len(self.process.unmapped))])
        elif k < 25:
            address = self.place("ro", content)
        elif k < 28:
            address = self.place(("image.rdata", "image.text", "image.header")[r.below(3)], content)
        elif k == 28:
            address = self.place("noaccess", content)
        elif k == 29:
            address = self.place("image.data", content)
        elif k == 30:
            region = self.ordered[r.below(len(self.ordered))]
            return int(region.base + r.uint(2) % region.size)
        else:
            return r.uint(self.ptr)
        self.notes.append(f"{self.describe(address)}: {what}")
        return address

    def out_buffer(self, size: int, what: str) -> int:
        return self.pointer(bytes([FILL]) * max(0, min(size, 0x2000)), what)

    def int_pointer(self, good: Sequence[int], odd: Sequence[int], what: str) -> int:
        value = self.int_arg(good, odd) & 0xFFFFFFFF
        return self.pointer(struct.pack("<I", value), f"{what} {i32(value)}")

    def read_int(self, address: int) -> int | None:
        """The int at ``address`` as the call will find it (None if unmapped)."""
        data = self.process.peek(address, 4) if address else None
        return None if data is None else struct.unpack("<i", data)[0]

    # --- structures

    def port(self) -> tuple[int, str]:
        r = self.r
        k = r.below(8)
        listeners = [sock for sock in self.guest_sockets() if sock.state == "listening"]
        if k < 3:
            family = (socket.AF_INET, socket.AF_INET6)[r.below(2)]
            if family in self.env.ports:
                return self.env.ports[family], "host listener"
        if k < 5 and listeners:
            sock = listeners[r.below(len(listeners))]
            try:
                return sock.host.getsockname()[1], f"guest listener {sock.handle:#x}"
            except OSError:
                pass
        return (0, 0, 1, 65535, r.uint(2))[r.below(5)], "port"

    @staticmethod
    def sockaddr_v4(host: str, port: int, zero: bytes = bytes(8)) -> bytes:
        return struct.pack("<H", W.c.AF_INET) + struct.pack(">H", port) + \
            socket.inet_aton(host) + zero

    def sockaddr(self) -> tuple[bytes, str]:
        """A SOCKADDR_IN or SOCKADDR_IN6 with hostile fields, a hostile family, or a cut one."""
        r = self.r
        k = r.below(16)
        port, whose = self.port()
        if k < 8:
            host = V4_HOSTS[r.below(len(V4_HOSTS))]
            zero = bytes(8) if r.below(4) else r.take(8).ljust(8, b"\xff")
            return self.sockaddr_v4(host, port, zero), f"sockaddr_in {host}:{port} ({whose})"
        if k < 13:
            host = V6_HOSTS[r.below(len(V6_HOSTS))]
            flowinfo = (0, 0, 0, 1 << 20, 0xFFFFFFFF, r.uint(4))[r.below(6)]
            scope = (0, 0, 0, 1, 0xFFFFFFFF, r.uint(4))[r.below(6)]
            data = struct.pack("<H", W.c.AF_INET6) + struct.pack(">H", port) + \
                struct.pack("<I", flowinfo) + socket.inet_pton(socket.AF_INET6, host) + \
                struct.pack("<I", scope)
            return data, f"sockaddr_in6 [{host}]:{port} flowinfo {flowinfo:#x} scope {scope:#x}"
        if k < 15:
            family = (W.c.AF_UNSPEC, 1, 10, 0xFFFF, 0x0102, r.uint(2))[r.below(6)]
            body = r.take(r.below(40))
            return struct.pack("<H", family) + body, f"family {family} + {len(body)} bytes"
        whole, what = self.sockaddr()
        cut = r.below(max(1, len(whole)))
        return whole[:cut], f"{what} cut to {cut} bytes"

    def fd_set(self) -> tuple[bytes, str]:
        r = self.r
        n = r.below(5)
        handles = [self.handle("socket") & self.mask for _ in range(n)]
        count = n if self.good() else (0, 64, 65, 0x7FFFFFFF, 0xFFFFFFFF, r.uint(4))[r.below(6)]
        header = struct.pack("<I4x" if self.ptr == 8 else "<I", count)
        code = "Q" if self.ptr == 8 else "I"
        entries = struct.pack(f"<{n}{code}", *handles)
        room = (n, 64)[r.below(2)] * self.ptr
        return header + entries.ljust(room, b"\0"), \
            f"fd_set count {count} [{', '.join(f'{h:#x}' for h in handles)}]"

    def timeval(self) -> tuple[bytes, str]:
        r = self.r
        if self.good():
            seconds, micro = ((0, 0), (0, 1000), (0, 999999), (1, 0))[r.below(4)]
        else:
            seconds, micro = ((0, 1000000), (-1, 0), (0, -1), (0x7FFFFFFF, 999999), (-(2**31), 0),
                              (i32(r.uint(4)), i32(r.uint(4))))[r.below(6)]
        return struct.pack("<ii", seconds, micro), f"timeval {seconds} s {micro} us"

    def guest_sockets(self) -> list[Any]:
        handles = self.handles
        return [handles.context(h) for h in list(handles) if handles.kind(h) == "socket"]


def _changes(old: bytes, new: bytes) -> list[tuple[int, int]]:
    """The [start, end) runs of bytes that differ."""
    runs: list[tuple[int, int]] = []
    for chunk in range(0, len(old), 256):
        if old[chunk : chunk + 256] == new[chunk : chunk + 256]:
            continue
        for i in range(chunk, min(chunk + 256, len(old))):
            if old[i] != new[i]:
                if runs and runs[-1][1] == i:
                    runs[-1] = (runs[-1][0], i + 1)
                else:
                    runs.append((i, i + 1))
    return runs


def _uncovered(address: int, size: int, outs: list[Out]) -> list[tuple[int, int]]:
    """The parts of [address, address + size) that no out-parameter may write."""
    pieces = [(address, address + size)]
    for start, length, _ in outs:
        if length <= 0:
            continue
        end = start + length
        pieces = [part for a, b in pieces for part in
                  ((a, min(b, start)), (max(a, end), b)) if part[0] < part[1]]
    return [(a, b - a) for a, b in pieces]


def _reset(peer: socket.socket) -> None:
    """Close with a reset, leaving no TIME_WAIT behind on the fuzzer's side."""
    try:
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    peer.close()


# ---------------------------------------------------------------------------------------
# Each export's arguments: (raw argv, the ranges it may write, the ranges it must read)

# (address, may, must): the call may write ``may`` bytes there, and where it succeeds it had
# to be able to write the first ``must`` (Windows probes them, or writes them for sure).
Out = tuple[int, int, int]
Args = tuple[list[int], list[Out], list[tuple[int, int]]]
Spec = Callable[[Run], Args]


def _startup(run: Run) -> Args:
    version = run.int_arg((0x0202, 0x0202, 0x0101, 0x0002, 0x0102),
                          (0x0000, 0x0100, 0x0203, 0x0303, 0xFFFF, 0x0001, 0x0200))
    size = run.wsadata_size
    data = run.out_buffer(size, "WSADATA")
    return [version, data], [(data, size, size)], []


def _socket(run: Run) -> Args:
    c = W.c
    af = run.int_arg((c.AF_INET,) * 3 + (c.AF_INET6,), (c.AF_UNSPEC, 1, 10, 6, 17, 32))
    kind = run.int_arg((c.SOCK_STREAM,) * 2 + (c.SOCK_DGRAM,), (3, 4, 5, 0, 10))
    protocol = run.int_arg((0, 0, 0, c.IPPROTO_TCP, c.IPPROTO_UDP), (1, 58, 255, 256, 41))
    return [af, kind, protocol], [], []


def _one_handle(kind: str) -> Spec:
    def spec(run: Run) -> Args:
        return [run.handle(kind)], [], []
    return spec


def _address_in(run: Run) -> Args:  # bind, connect
    s = run.handle("socket")
    content, what = run.sockaddr()
    name = run.pointer(content, what)
    namelen = run.int_arg((len(content),) * 3 + (16, 28, 128), (0, 1, 15, 27, 8))
    size = i32(namelen)
    return [s, name, namelen], [], [(name, min(size, 16))] if size > 0 else []


def _listen(run: Run) -> Args:
    backlog = run.int_arg((5, 1, 128, W.c.SOMAXCONN), (0, 0xFFFFFFFF, 0x80000000))
    return [run.handle("unconnected"), backlog], [], []


def _address_out(prefer: str) -> Spec:  # accept, getsockname, getpeername
    def spec(run: Run) -> Args:
        return _address_call(run, run.handle(prefer))
    return spec


def _address_call(run: Run, s: int) -> Args:
    length = run.int_arg((16, 28, 128), (0, 8, 2, 15, 0xFFFFFFFF, 0x7FFFFFFF)) & 0xFFFFFFFF
    addr = 0 if run.r.below(5) == 0 else run.out_buffer(max(0, min(i32(length), 256)), "name")
    addrlen = 0 if run.r.below(8) == 0 else run.pointer(struct.pack("<I", length),
                                                        f"namelen {i32(length)}")
    before = run.read_int(addrlen)
    outs = []
    if addr and addrlen and before is not None:
        outs = [(addrlen, 4, 4), (addr, max(0, before), min(max(0, before), 16))]
    return [s, addr, addrlen], outs, [(addrlen, 4)] if addr else []


LENGTHS = (16, 1, 100, 1000, 0x2000)
ODD_LENGTHS = (0, 0x7FFFFFFF, 0xFFFFFFFF, 0x80000000, 0x10000)


def _send(run: Run) -> Args:
    s = run.handle("connected")
    length = run.int_arg(LENGTHS, ODD_LENGTHS)
    size = i32(length)
    content = bytes([run.r.byte()]) * max(0, min(size, 0x2000))
    buf = run.pointer(content, f"{len(content)} bytes to send")
    flags = run.int_arg((0, 0, 0, W.c.MSG_DONTROUTE), (W.c.MSG_OOB, W.c.MSG_PEEK, 0x8000))
    return [s, buf, length, flags], [], [(buf, size)] if size > 0 else []


def _recv(run: Run) -> Args:
    c = W.c
    s = run.handle("connected")
    length = run.int_arg(LENGTHS, ODD_LENGTHS)
    size = i32(length)
    buf = run.out_buffer(size, "receive buffer")
    flags = run.int_arg((0, 0, 0, c.MSG_PEEK), (c.MSG_OOB, c.MSG_WAITALL, c.MSG_PEEK | c.MSG_WAITALL))
    return [s, buf, length, flags], [(buf, size, size)] if size > 0 else [], []


def _shutdown(run: Run) -> Args:
    return [run.handle("connected"), run.int_arg((0, 1, 2), (3, 0xFFFFFFFF))], [], []


def _ioctlsocket(run: Run) -> Args:
    c = W.c
    s = run.handle("socket")
    cmd = run.int_arg((c.FIONBIO, c.FIONREAD, c.FIONREAD, SIOCATMARK), (0, 0x98000001, 0x8004667F))
    argp = run.int_pointer((1, 0), (0xFFFFFFFF, 2), "u_long")
    command = cmd & 0xFFFFFFFF
    outs = [(argp, 4, 4)] if command in (c.FIONREAD, SIOCATMARK) else []
    return [s, cmd, argp], outs, [(argp, 4)] if command == c.FIONBIO else []


def _getsockopt(run: Run) -> Args:
    c = W.c
    s = run.handle("socket")
    level = run.int_arg((c.SOL_SOCKET,) * 4 + (c.IPPROTO_TCP,),
                        (c.IPPROTO_IP, c.IPPROTO_IPV6, c.IPPROTO_UDP, 0xFFFE))
    name = run.int_arg((c.SO_ERROR, c.SO_TYPE, c.SO_RCVBUF, c.SO_SNDBUF, c.SO_KEEPALIVE,
                        c.SO_REUSEADDR, c.SO_LINGER, c.SO_ACCEPTCONN, c.SO_BROADCAST,
                        c.SO_RCVTIMEO, c.SO_EXCLUSIVEADDRUSE, c.TCP_NODELAY, c.SO_OOBINLINE,
                        SO_PROTOCOL_INFOA),
                       (c.SO_DEBUG, SO_PROTOCOL_INFOW, 0, 0x7FFFFFFF))
    length = run.int_arg((4, 4, 8, 16, 372, 628), (0, 1, 3, 371, 0x7FFFFFFF, 0xFFFFFFFF)) & 0xFFFFFFFF
    optval = run.out_buffer(max(0, min(i32(length), 1024)), "optval")
    optlen = run.pointer(struct.pack("<I", length), f"optlen {i32(length)}")
    before = run.read_int(optlen)
    # What a success writes: a structure whole, any other value in at most 4 bytes.
    written = STRUCTURE_OPTIONS.get(name, 4) if level == c.SOL_SOCKET else 4
    outs = [] if before is None else [(optlen, 4, 4),
                                      (optval, max(0, before), min(max(0, before), written))]
    return [s, level, name, optval, optlen], outs, [(optlen, 4)]


def _setsockopt(run: Run) -> Args:
    c = W.c
    s = run.handle("socket")
    level = run.int_arg((c.SOL_SOCKET,) * 4 + (c.IPPROTO_TCP, c.IPPROTO_IP, c.IPPROTO_IPV6),
                        (c.IPPROTO_UDP, 0xFFFE, 0x1234))
    name = run.int_arg((c.SO_REUSEADDR, c.SO_EXCLUSIVEADDRUSE, c.SO_KEEPALIVE, c.SO_LINGER,
                        c.SO_DONTLINGER & 0xFFFFFFFF, c.SO_RCVBUF, c.SO_RCVTIMEO, c.SO_ERROR,
                        c.TCP_NODELAY, c.IP_TTL, c.IP_MULTICAST_LOOP, c.IP_ADD_MEMBERSHIP,
                        c.IPV6_V6ONLY, c.IPV6_UNICAST_HOPS),
                       (c.SO_TYPE, c.IP_HDRINCL, 0, 0x7FFFFFFF))
    length = run.int_arg((4, 4, 1, 8), (0, 2, 0xFFFFFFFF, 0x7FFFFFFF, 0x10000))
    content = bytes(run.r.byte() for _ in range(8))
    optval = run.pointer(content, f"optval {content.hex()}")
    return [s, level, name, optval, length], [], []


def _wsaioctl(run: Run) -> Args:
    c = W.c
    s = run.handle("socket")
    code = run.int_arg((c.FIONBIO, c.FIONREAD, c.FIONREAD, SIOCATMARK),
                       (c.SIO_GET_EXTENSION_FUNCTION_POINTER, 0, 0x98000001))
    in_size = run.int_arg((4, 4, 8), (0, 2, 0xFFFFFFFF))
    in_buffer = run.pointer(_guid(run), "GUID") \
        if code & 0xFFFFFFFF == c.SIO_GET_EXTENSION_FUNCTION_POINTER and run.r.below(2) \
        else run.int_pointer((1, 0), (0xFFFFFFFF, 2), "lpvInBuffer")
    out_size = run.int_arg((4, 4, 8), (0, 2, 0xFFFFFFFF, 0x7FFFFFFF))
    out_buffer = run.out_buffer(max(0, min(i32(out_size), 16)), "lpvOutBuffer")
    returned = 0 if run.r.below(8) == 0 else run.out_buffer(4, "lpcbBytesReturned")
    overlapped = 0 if run.r.below(4) else run.out_buffer(32, "lpOverlapped")
    if overlapped:
        run.lingering.append((overlapped, 32, 32))
    command = code & 0xFFFFFFFF
    outs: list[Out] = []
    if returned:
        outs.append((returned, 4, 4))
        if command in (c.FIONREAD, SIOCATMARK):
            room = min(out_size & 0xFFFFFFFF, 4)   # a DWORD: 0xFFFFFFFF is room enough
            outs.append((out_buffer, room, room))
        elif command == c.SIO_GET_EXTENSION_FUNCTION_POINTER:
            outs.append((out_buffer, run.ptr, run.ptr))   # the function's guest address
    ins = [(in_buffer, 4)] if command == c.FIONBIO and returned and in_size & 0xFFFFFFFF >= 4 else []
    return [s, code, in_buffer, in_size, out_buffer, out_size, returned, overlapped, 0], outs, ins


def _wsapoll(run: Run) -> Args:
    c = W.c
    count = run.r.below(4)
    size = 16 if run.ptr == 8 else 8
    layout = "<QhhI" if run.ptr == 8 else "<Ihh"
    entries = []
    for _ in range(count):
        fd = run.handle("socket") & run.mask
        events = run.int_arg((c.POLLRDNORM, c.POLLWRNORM, c.POLLRDNORM | c.POLLWRNORM, c.POLLIN),
                             (c.POLLPRI, 0xFFFF, 0)) & 0xFFFF
        entries.append(struct.pack(layout, fd, events - (events >> 15 << 16), -1,
                                   *((FILL * 0x01010101,) if run.ptr == 8 else ())))
    array = run.pointer(b"".join(entries), f"WSAPOLLFD[{count}]")
    fds = run.int_arg((count,) * 3, (count + 1, 0xFFFFFFFF, 0))
    timeout = run.int_arg((0, 0, 1, 10), (0xFFFFFFFF,))
    n = fds & 0xFFFFFFFF
    # Every entry of the n the guest names may get its revents, those past the array too.
    outs: list[Out] = [(array, n * size, n * size)] if n <= 64 else []
    return [array, fds, timeout], outs, [(array, n * size)] if 0 < n <= 64 else []


def _wsaaccept(run: Run) -> Args:
    argv, outs, ins = _address_call(run, run.handle("listening"))
    # A condition function is guest code: the fuzzer's emulators cannot run it (WSAEOPNOTSUPP).
    condition = 0 if run.r.below(4) else 0x401000
    return [*argv, condition, run.int_arg((0, 1), (0xFFFFFFFF,))], outs, ins


def _select(run: Run) -> Args:
    nfds = run.int_arg((0, 1, 64), (0xFFFFFFFF,))
    sets = []
    for _ in range(3):
        if run.r.below(2) == 0:
            sets.append(0)
        else:
            content, what = run.fd_set()
            sets.append(run.pointer(content, what))
    if run.r.below(4) == 0:
        timeout = 0
    else:
        content, what = run.timeval()
        timeout = run.pointer(content, what)
    outs: list[Out] = []
    ins: list[tuple[int, int]] = []
    header = 8 if run.ptr == 8 else 4
    for address in sets:
        if address:
            count = run.read_int(address)
            if count is not None:
                outs.append((address, header + (count & 0xFFFFFFFF) * run.ptr, 4))
            ins.append((address, 4))
    if timeout:
        ins.append((timeout, 8))
    return [nfds, *sets, timeout], outs, ins


def _fd_is_set(run: Run) -> Args:
    fd = run.handle("socket")
    content, what = run.fd_set()
    return [fd, run.pointer(content, what)], [], []


def _create_event(run: Run) -> Args:
    return [], [], []


def _wait(run: Run) -> Args:
    count = run.int_arg((1, 1, 2, 3, 64), (0, 65, 0xFFFFFFFF))
    c = count & 0xFFFFFFFF   # a DWORD
    n = c if 1 <= c <= 64 else run.r.below(3)
    handles = [run.handle("event") & run.mask for _ in range(n)]
    code = "Q" if run.ptr == 8 else "I"
    array = run.pointer(struct.pack(f"<{n}{code}", *handles),
                        f"events [{', '.join(f'{h:#x}' for h in handles)}]")
    wait_all = run.int_arg((0, 1), (2,))
    timeout = run.int_arg((0, 0, 1, 10, W.c.WSA_INFINITE), (0x7FFFFFFF,))
    alertable = run.int_arg((0, 1), (2,))
    ins = [(array, c * run.ptr)] if 1 <= c <= 64 else []
    return [count, array, wait_all, timeout, alertable], [], ins


def _kernel_wait(ex: bool, single: bool) -> Spec:
    """WaitForSingleObject(Ex), WaitForMultipleObjects(Ex): WSAWaitForMultipleEvents' draws."""
    def spec(run: Run) -> Args:
        argv, outs, ins = _wait(run)
        count, array, wait_all, timeout, alertable = argv
        if single:
            handle = run.handle("event")
            return [handle, timeout, alertable] if ex else [handle, timeout], [], []
        return ([count, array, wait_all, timeout, alertable] if ex
                else [count, array, wait_all, timeout]), outs, ins
    return spec


def _queue_user_apc(run: Run) -> Args:
    """QueueUserAPC: a routine that returns at once (``ret``; x86's pops its one argument),
    now and then random bits; the current thread's pseudo-handle mostly; any dwData."""
    if run.good():
        function = run.pointer(b"\xc2\x04\x00" if run.ptr == 4 else b"\xc3", "APC routine")
    else:
        function = run.r.uint(run.ptr)
    current = (1 << 8 * run.ptr) - 2   # GetCurrentThread()
    thread = current if run.good() else run.r.uint(run.ptr)
    return [function, thread, run.r.uint(run.ptr)], [], []


def _sleep_ex(run: Run) -> Args:
    """SleepEx: a short sleep, alertable or not (the cap bounds a long one)."""
    return [run.int_arg((0, 1, 10)), run.int_arg((0, 1), (2, 0xFFFFFFFF))], [], []


def _file(read: bool) -> Spec:
    """ReadFile, WriteFile: recv's and send's draws, an lpNumberOfBytes pointer and (rarely)
    an lpOverlapped."""
    def spec(run: Run) -> Args:
        argv, outs, ins = (_recv if read else _send)(run)
        s, buf, length, _ = argv
        count = run.out_buffer(4, "lpNumberOfBytes") if run.r.below(6) else 0
        overlapped = run.out_buffer(32, "OVERLAPPED") if run.r.below(8) == 0 else 0
        if count:
            outs = [*outs, (count, 4, 4)]
        return [s, buf, length, count, overlapped], outs, ins
    return spec


def _event_select(run: Run) -> Args:
    c = W.c
    s = run.handle("socket")
    event = run.handle("event")
    events = run.int_arg((c.FD_ALL_EVENTS, c.FD_READ | c.FD_WRITE | c.FD_CLOSE, c.FD_ACCEPT,
                          c.FD_CONNECT | c.FD_WRITE, 0, c.FD_READ, c.FD_OOB), (0xFFFFFFFF, 0x400))
    return [s, event, events], [], []


def _async_select(run: Run) -> Args:
    c = W.c
    s = run.handle("socket")
    # One of the guest's windows (ws2core.guest.windows) mostly: the provider posts into
    # its queue; any other HWND fails WSAEINVAL or, with lEvent 0, cancels.
    window = _window(run)
    message = run.int_arg((0x400, 0x8000, 0), (0xFFFFFFFF,))
    events = run.int_arg((c.FD_ALL_EVENTS, c.FD_READ | c.FD_CLOSE, c.FD_ACCEPT, 0),
                         (0xFFFFFFFF, 0x400))
    return [s, window, message, events], [], []


def _enum_network_events(run: Run) -> Args:
    s = run.handle("socket")
    event = 0 if run.r.below(4) == 0 else run.handle("event")
    record = run.out_buffer(44, "WSANETWORKEVENTS")
    return [s, event, record], [(record, 44, 44)] if record else [], []


# --- sockets and data (issue 19)

WSABUF_COUNTS = (1, 1, 2, 3)
ODD_COUNTS = (0, 0xFFFFFFFF, 0x10000, 1025)


def _array(run: Run, content: bytes, what: str) -> int:
    """Where a WSABUF array is: read-write memory, or (hostile) NULL, unmapped, no-access,
    read-only, cut off by the end of the mapped pages; never memory whose bytes are not
    ``content`` (whose entries would point anywhere, a call writing there no finding)."""
    r = run.r
    k = 0 if run.good() else r.below(5)
    if k == 1:
        return 0
    if k == 2:
        return int(run.process.unmapped[r.below(len(run.process.unmapped))])
    if k == 3:
        address = run.place(("ro", "noaccess")[r.below(2)], content)
    elif k == 4 and content:
        cut = 1 + r.below(len(content))
        region = run.regions["rw"]
        address = region.end - len(content) + cut
        run.process.poke(address, content[: len(content) - cut])
    else:
        address = run.place("rw", content)
    run.notes.append(f"{run.describe(address)}: {what}")
    return address


def _wsabufs(run: Run, receive: bool) -> tuple[int, int, list[Out], list[tuple[int, int]]]:
    """(lpBuffers, dwBufferCount, outs, ins) of a WSABUF array of buffers to send or to
    receive into."""
    count = run.int_arg(WSABUF_COUNTS, ODD_COUNTS)
    c = count & 0xFFFFFFFF
    n = c if 1 <= c <= 4 else run.r.below(3)
    code = "<I4xQ" if run.ptr == 8 else "<II"
    entries, outs = b"", []
    for index in range(n):
        length = run.int_arg(LENGTHS, ODD_LENGTHS) & 0xFFFFFFFF
        size = max(0, min(length, 0x2000))
        if receive:
            buf = run.out_buffer(size, f"WSABUF {index} to receive into")
            if index < c:
                outs.append((buf, size, size))
        else:
            buf = run.pointer(bytes([run.r.byte()]) * size, f"WSABUF {index} to send")
        entries += struct.pack(code, length, buf & run.mask)
    array = _array(run, entries, f"WSABUF[{n}]")
    ins = [(array, len(entries) // max(n, 1) * c)] if 1 <= c <= n else []
    return array, count, outs, ins


def _overlapped(run: Run, outs: list[Out]) -> list[int]:
    """lpOverlapped and lpCompletionRoutine: mostly NULL (ignored on a socket made without
    WSA_FLAG_OVERLAPPED; with a routine refused on another, before any effect).  An
    overlapped call may write its structure and ``outs`` at any later call's return."""
    if run.r.below(4):
        return [0, 0]
    overlapped = run.pointer(bytes(32), "WSAOVERLAPPED")
    if overlapped:
        run.lingering.extend([(overlapped, 32, 32), *outs])
    return [overlapped, (0, 0x401000, run.r.uint(run.ptr))[run.r.below(3)]]


def _count_out(run: Run, what: str) -> tuple[int, list[Out]]:
    address = 0 if run.r.below(10) == 0 else run.out_buffer(4, what)
    return address, [(address, 4, 4)] if address else []


def _address_to(run: Run) -> tuple[list[int], list[tuple[int, int]]]:
    if run.r.below(4) == 0:
        return [0, run.int_arg((0, 16), (28, 0xFFFFFFFF))], []
    content, what = run.sockaddr()
    to = run.pointer(content, what)
    tolen = run.int_arg((len(content),) * 3 + (16, 28), (0, 1, 15, 27, 0xFFFFFFFF))
    size = i32(tolen)
    return [to, tolen], [(to, min(size, 16))] if to and size > 0 else []


def _address_from(run: Run) -> tuple[list[int], list[Out], list[tuple[int, int]]]:
    length = run.int_arg((16, 28, 128), (0, 8, 15, 0xFFFFFFFF, 0x7FFFFFFF)) & 0xFFFFFFFF
    source = 0 if run.r.below(4) == 0 else run.out_buffer(max(0, min(i32(length), 256)), "from")
    fromlen = 0 if run.r.below(5) == 0 else run.pointer(struct.pack("<I", length),
                                                         f"fromlen {i32(length)}")
    before = run.read_int(fromlen)
    outs: list[Out] = []
    if fromlen and before is not None:
        outs.append((fromlen, 4, 4))
        if source:
            outs.append((source, max(0, before), min(max(0, before), 16)))
    return [source, fromlen], outs, [(fromlen, 4)] if fromlen else []


def _protocol_info_in(size: int) -> Spec:
    def spec(run: Run) -> Args:
        c = W.c
        af = run.int_arg((c.AF_INET, c.AF_INET6, 0, 0xFFFFFFFF), (1, 10))
        kind = run.int_arg((c.SOCK_STREAM, c.SOCK_DGRAM, 0, 0xFFFFFFFF), (3, 5))
        protocol = run.int_arg((0, c.IPPROTO_TCP, c.IPPROTO_UDP, 0xFFFFFFFF), (1, 255))
        info = 0
        if run.r.below(2):
            values = (run.int_arg((c.AF_INET, c.AF_INET6), (0, -1, 7)),
                      run.int_arg((c.SOCK_STREAM, c.SOCK_DGRAM), (0, -1, 3)),
                      run.int_arg((0, c.IPPROTO_TCP, c.IPPROTO_UDP), (-1, 58)),
                      run.int_arg((0, 0, 1, 2), (0xFFFFFFFF,)))
            fields = struct.pack("<III", *(value & 0xFFFFFFFF for value in values[:3]))
            reserved = struct.pack("<I", values[3] & 0xFFFFFFFF)
            content = bytes(76) + fields + bytes(24) + reserved + bytes(size - 116)
            info = run.pointer(content, f"WSAPROTOCOL_INFO ({size} bytes)")
        group = run.int_arg((0, 0, 1, 2), (3, 0xFFFFFFFF))
        flags = run.int_arg((0, c.WSA_FLAG_OVERLAPPED), (0x80, 0xFFFFFFFF))
        return [af, kind, protocol, info, group, flags], [], [(info, size)] if info else []
    return spec


def _enum_protocols(size: int) -> Spec:
    def spec(run: Run) -> Args:
        c = W.c
        protocols, ins = 0, []
        if run.r.below(2):
            values = [run.int_arg((c.IPPROTO_TCP, c.IPPROTO_UDP), (0xFFFFFFFF, 255, 1))
                      for _ in range(run.r.below(3))]
            content = struct.pack(f"<{len(values) + 1}I", *(v & 0xFFFFFFFF for v in values), 0)
            protocols = run.pointer(content, f"lpiProtocols {values}")
            if protocols:   # NULL is all the protocols, nothing read
                ins.append((protocols, len(content)))
        length = run.int_arg((4 * size, 8 * size, size),
                             (0, 1, size - 1, 0x7FFFFFFF, 0xFFFFFFFF)) & 0xFFFFFFFF
        buffer = run.out_buffer(min(length, 8 * size), "lpProtocolBuffer") if run.r.below(4) else 0
        length_at = run.pointer(struct.pack("<I", length), f"lpdwBufferLength {i32(length)}")
        before = run.read_int(length_at)
        # A success writes the entries (how many, the catalog says), a WSAENOBUFS the length.
        outs = [] if before is None else [(length_at, 4, 0), (buffer, before & 0xFFFFFFFF, 0)]
        return [protocols, buffer, length_at], outs, [*ins, (length_at, 4)]
    return spec


def _duplicate(size: int) -> Spec:
    def spec(run: Run) -> Args:
        s = run.handle("socket")
        process = run.int_arg((0x1000, 8, 4242), (0, 0xFFFFFFFF))
        info = run.out_buffer(size, "WSAPROTOCOL_INFO")
        return [s, process, info], [(info, size, size)] if info else [], []
    return spec


def _sendto(run: Run) -> Args:
    argv, _, ins = _send(run)
    to, to_ins = _address_to(run)
    return [*argv, *to], [], ins + to_ins


def _recvfrom(run: Run) -> Args:
    argv, outs, _ = _recv(run)
    source, source_outs, source_ins = _address_from(run)
    return [*argv, *source], outs + source_outs, source_ins


def _wsa_send(to: bool) -> Spec:
    def spec(run: Run) -> Args:
        s = run.handle("connected")
        array, count, _, ins = _wsabufs(run, receive=False)
        sent, outs = _count_out(run, "lpNumberOfBytesSent")
        flags = run.int_arg((0, 0, 0, W.c.MSG_DONTROUTE), (W.c.MSG_OOB, W.c.MSG_PEEK, 0x8000))
        destination, to_ins = _address_to(run) if to else ([], [])
        return ([s, array, count, sent, flags, *destination, *_overlapped(run, [])],
                outs, ins + to_ins)
    return spec


def _wsa_recv(source: bool) -> Spec:
    def spec(run: Run) -> Args:
        c = W.c
        s = run.handle("connected")
        array, count, outs, ins = _wsabufs(run, receive=True)
        received, count_outs = _count_out(run, "lpNumberOfBytesRecvd")
        flags = 0 if run.r.below(10) == 0 else run.int_pointer(
            (0, 0, c.MSG_PEEK), (c.MSG_OOB, c.MSG_WAITALL, c.MSG_PARTIAL, 0xFFFFFFFF), "flags")
        flag_outs, flag_ins = ([(flags, 4, 4)], [(flags, 4)]) if flags else ([], [])
        addresses, source_outs, source_ins = _address_from(run) if source else ([], [], [])
        overlapped = _overlapped(run, outs + source_outs)
        return ([s, array, count, received, flags, *addresses, *overlapped],
                outs + count_outs + flag_outs + source_outs, ins + flag_ins + source_ins)
    return spec


def _get_overlapped_result(run: Run) -> Args:
    s = run.handle("connected")
    structure = run.lingering[run.r.below(len(run.lingering))][0] \
        if run.lingering and run.r.below(2) else run.pointer(bytes(32), "WSAOVERLAPPED")
    transferred, transferred_outs = _count_out(run, "lpcbTransfer")
    flags, flag_outs = _count_out(run, "lpdwFlags")
    wait = run.int_arg((0, 1), (0xFFFFFFFF,))
    return ([s, structure, transferred, wait, flags], transferred_outs + flag_outs,
            [(structure, 3 * run.ptr + 8)])


# --- completion ports (ws2core.guest.ports) and the extension functions (.extensions)

def _guid(run: Run) -> bytes:
    """An extension function's GUID, or one no provider knows."""
    c = W.c
    guids = (c.WSAID_ACCEPTEX, c.WSAID_CONNECTEX, c.WSAID_DISCONNECTEX,
             c.WSAID_GETACCEPTEXSOCKADDRS)
    return guids[run.r.below(4)].bytes_le if run.r.below(5) else bytes(16)


ADDRESS_ROOM = 32   # an AcceptEx address area for IPv4: SOCKADDR_IN and 16


def _create_port(run: Run) -> Args:
    file = run.mask if run.r.below(2) else run.handle("socket")
    existing = 0 if run.r.below(2) else run.handle("port")
    key = run.int_arg((0, 1, 0x1234), (0xFFFFFFFF,))
    return [file, existing, key, run.int_arg((0, 1), (0xFFFFFFFF,))], [], []


def _pointer_out(run: Run, size: int, what: str) -> tuple[int, list[Out]]:
    address = 0 if run.r.below(10) == 0 else run.out_buffer(size, what)
    return address, [(address, size, size)] if address else []


def _get_port(run: Run) -> Args:
    port = run.handle("port")
    count, count_outs = _pointer_out(run, 4, "lpNumberOfBytesTransferred")
    key, key_outs = _pointer_out(run, run.ptr, "lpCompletionKey")
    overlapped, overlapped_outs = _pointer_out(run, run.ptr, "lpOverlapped")
    milliseconds = run.int_arg((0, 0, 1), (0xFFFFFFFF,))
    return [port, count, key, overlapped, milliseconds], count_outs + key_outs + overlapped_outs, []


def _get_port_ex(run: Run) -> Args:
    port = run.handle("port")
    count = run.int_arg((1, 2, 4), (0, 0xFFFFFFFF, 0x10000))
    size = (32 if run.ptr == 8 else 16) * min(count & 0xFFFFFFFF, 8)
    entries = run.out_buffer(size, "OVERLAPPED_ENTRY[]")
    removed, removed_outs = _pointer_out(run, 4, "ulNumEntriesRemoved")
    milliseconds = run.int_arg((0, 0, 1), (0xFFFFFFFF,))
    alertable = run.int_arg((0, 1), (0xFFFFFFFF,))
    return ([port, entries, count, removed, milliseconds, alertable],
            [(entries, size, 0), *removed_outs], [])


def _post_port(run: Run) -> Args:
    return [run.handle("port"), run.int_arg((0, 5, 1000), (0xFFFFFFFF,)),
            run.int_arg((0, 7), (0xFFFFFFFF,)), run.r.uint(run.ptr)], [], []


def _accept_ex(run: Run) -> Args:
    listening, accepting = run.handle("listening"), run.handle("unconnected")
    data = run.int_arg((0, 0, 4, 16), (0xFFFFFFFF, 0x7FFFFFFF))
    local = run.int_arg((ADDRESS_ROOM, ADDRESS_ROOM, 44), (0, 16, 0xFFFFFFFF))
    remote = run.int_arg((ADDRESS_ROOM, ADDRESS_ROOM, 44), (0, 16, 0xFFFFFFFF))
    size = sum(min(n & 0xFFFFFFFF, 0x2000) for n in (data, local, remote))
    output = run.out_buffer(size, "lpOutputBuffer")
    received, received_outs = _count_out(run, "lpdwBytesReceived")
    outs: list[Out] = [(output, size, 0)]
    overlapped = 0 if run.r.below(8) == 0 else run.pointer(bytes(32), "WSAOVERLAPPED")
    if overlapped:
        run.lingering.extend([(overlapped, 32, 32), (output, size, 0)])
    return ([listening, accepting, output, data, local, remote, received, overlapped],
            outs + received_outs, [])


def _accept_ex_sockaddrs(run: Run) -> Args:
    data = run.int_arg((0, 4), (0xFFFFFFFF,))
    local = run.int_arg((ADDRESS_ROOM,), (0, 0xFFFFFFFF))
    remote = run.int_arg((ADDRESS_ROOM,), (0, 0xFFFFFFFF))
    content = struct.pack("<i", 16) + bytes(ADDRESS_ROOM - 4)
    buffer = run.pointer(bytes(data & 0xF) + content * 2, "AcceptEx's buffer")
    argv, outs = [buffer, data, local, remote], []
    for size, what in ((run.ptr, "LocalSockaddr"), (4, "LocalSockaddrLength"),
                       (run.ptr, "RemoteSockaddr"), (4, "RemoteSockaddrLength")):
        address, out = _pointer_out(run, size, what)
        argv.append(address)
        outs += out
    return argv, outs, []


def _connect_ex(run: Run) -> Args:
    s = run.handle("unconnected")
    content, what = run.sockaddr()
    name = run.pointer(content, what)
    namelen = run.int_arg((len(content),) * 3 + (16, 28), (0, 1, 15, 0xFFFFFFFF))
    length = run.int_arg((0, 5, 100), (0xFFFFFFFF, 0x7FFFFFFF))
    data = 0 if run.r.below(3) == 0 else run.pointer(
        bytes([run.r.byte()]) * min(length & 0xFFFFFFFF, 0x2000), "lpSendBuffer")
    sent, outs = _count_out(run, "lpdwBytesSent")
    overlapped = 0 if run.r.below(8) == 0 else run.pointer(bytes(32), "WSAOVERLAPPED")
    if overlapped:
        run.lingering.append((overlapped, 32, 32))
    return [s, name, namelen, data, length, sent, overlapped], outs, []


def _disconnect_ex(run: Run) -> Args:
    s = run.handle("connected")
    overlapped = 0 if run.r.below(2) else run.pointer(bytes(32), "WSAOVERLAPPED")
    if overlapped:
        run.lingering.append((overlapped, 32, 32))
    flags = run.int_arg((0, 0, W.c.TF_REUSE_SOCKET), (1, 0xFFFFFFFF))
    return [s, overlapped, flags, run.int_arg((0,), (1, 0xFFFFFFFF))], [], []


def _no_arguments(run: Run) -> Args:
    return [], [], []


def _set_last_error(run: Run) -> Args:
    return [run.int_arg((0, W.c.WSAEWOULDBLOCK, W.c.WSAEFAULT, 10054), (0xFFFFFFFF, 1))], [], []


# --- names (ws2core.guest.names): lookups the policy answers, never the host's resolver
NAMES = ("localhost", "127.0.0.1", "::1", "[::1]:80", "", "nonexistent.invalid",
         "192.0.2.1", "LOCALHOST.", "x" * 300)
SERVICES = ("80", "http", "", "0", "65536", "nonexistentservice")


def _text(run: Run, choices: Sequence[str], wide: bool, what: str) -> tuple[int, int]:
    """A string argument (NULL now and then) and its size with the NUL."""
    if run.r.below(6) == 0:
        return 0, 0
    text = choices[run.r.below(len(choices))]
    data = text.encode("utf-16-le") + b"\0\0" if wide else text.encode() + b"\0"
    return run.pointer(data, f"{what} {text[:20]!r}"), len(data)


def _gethostbyname(run: Run) -> Args:
    name, size = _text(run, NAMES, False, "name")
    return [name], [], [(name, size)] if name else []


def _gethostbyaddr(run: Run) -> Args:
    c = W.c
    content = (bytes([127, 0, 0, 1]), bytes(15) + b"\1", bytes([192, 0, 2, 1]))[run.r.below(3)]
    addr = run.pointer(content, f"{len(content)} address bytes")
    length = run.int_arg((4, 16), (0, 3, 5, 0x7FFFFFFF, 0xFFFFFFFF))
    kind = run.int_arg((c.AF_INET, c.AF_INET6), (0, 99, 0xFFFF))
    return [addr, length, kind], [], [(addr, i32(length))] if i32(length) in (4, 16) else []


def _getaddrinfo(wide: bool) -> Spec:
    def spec(run: Run) -> Args:
        c = W.c
        node, _ = _text(run, NAMES, wide, "node")
        service, _ = _text(run, SERVICES, wide, "service")
        hints = 0
        if run.r.below(3):
            flags = run.int_arg((0, c.AI_PASSIVE, c.AI_CANONNAME, c.AI_NUMERICHOST,
                                 c.AI_V4MAPPED | c.AI_ALL), (0xFFFFFFFF, c.AI_FQDN))
            family = run.int_arg((0, c.AF_INET, c.AF_INET6), (99, 0xFFFFFFFF))
            socktype = run.int_arg((0, c.SOCK_STREAM, c.SOCK_DGRAM), (999, 0xFFFFFFFF))
            protocol = run.int_arg((0, c.IPPROTO_TCP, c.IPPROTO_UDP), (999,))
            tail = bytes(4 * run.ptr) if run.good() else bytes([run.r.byte()]) * (4 * run.ptr)
            fields = (value & 0xFFFFFFFF for value in (flags, family, socktype, protocol))
            hints = run.pointer(struct.pack("<IIII", *fields) + tail, "hints")
        result = run.out_buffer(run.ptr, "ppResult")
        return [node, service, hints, result], [(result, run.ptr, run.ptr)], []
    return spec


def _freeaddrinfo(run: Run) -> Args:
    # Freeing NULL or a pointer that is no chain does nothing (the chains the calls made are
    # released with the process).
    return [0 if run.r.below(2) else run.out_buffer(64, "no addrinfo")], [], []


def _getnameinfo(wide: bool) -> Spec:
    def spec(run: Run) -> Args:
        c = W.c
        content, what = run.sockaddr()
        sa = run.pointer(content, what)
        salen = run.int_arg((16, 28), (0, 8, 0x7FFFFFFF, 0xFFFFFFFF))
        unit = 2 if wide else 1
        outs: list[Out] = []
        argv = [sa, salen]
        for limit in (c.NI_MAXHOST, c.NI_MAXSERV):
            size = run.int_arg((limit, 16, 1), (0, 0x7FFFFFFF, 0xFFFFFFFF))
            buffer = 0 if run.r.below(5) == 0 else run.out_buffer(
                max(0, min(i32(size), 0x800)) * unit, "name buffer")
            argv += [buffer, size]
            if buffer:
                outs.append((buffer, max(0, i32(size)) * unit, 0))
        flags = run.int_arg((0, c.NI_NUMERICHOST, c.NI_NUMERICSERV, c.NI_NAMEREQD,
                             c.NI_NUMERICHOST | c.NI_NUMERICSERV), (0xFFFFFFFF, c.NI_DGRAM))
        return [*argv, flags], outs, []
    return spec


def _inet_ntoa(run: Run) -> Args:
    return [run.int_arg((0x0100007F, 0x0102A8C0), (0, 0xFFFFFFFF))], [], []


# The address and host-name exports (issue 19): text in, text or addresses out.
ADDRESS_TEXTS = ("127.0.0.1", "127.1", "0x7f.1", "::1", "[::1]:80", "[fe80::1%3]:8",
                 "127.0.0.1:80", "::ffff:127.0.0.1", "1::2::3", "", " ", "127.0.0.256",
                 "::0:a:b:c:d:e:f", "1.2.3.4 junk", "%", "[", "0x123456789")


def _address_text(run: Run, wide: bool) -> int:
    text = ADDRESS_TEXTS[run.r.below(len(ADDRESS_TEXTS))]
    if not run.good():
        text = "".join(chr(32 + run.r.below(95)) for _ in range(run.r.below(48)))
    data = (text + "\0").encode("utf-16-le" if wide else "latin-1")
    return run.pointer(data, f"text {text!r}")


def _host_name(wide: bool) -> Spec:
    def spec(run: Run) -> Args:
        length = run.int_arg((256, 64, 16), (0, 1, 15, 0xFFFFFFFF, 0x7FFFFFFF))
        size = max(0, min(i32(length), 512)) * (2 if wide else 1)
        name = run.out_buffer(size, "name")
        return [name, length], [(name, size, 0)], []
    return spec


def _inet_addr(run: Run) -> Args:
    return [_address_text(run, wide=False)], [], []


def _pton(wide: bool) -> Spec:
    def spec(run: Run) -> Args:
        c = W.c
        family = run.int_arg((c.AF_INET, c.AF_INET6), (c.AF_UNSPEC, 1, 0xFFFFFFFF))
        buf = run.out_buffer(16, "address")
        text = _address_text(run, wide)
        return [family, text, buf], [(buf, 16, 0)], [(text, 2 if wide else 1)]
    return spec


def _ntop(wide: bool) -> Spec:
    def spec(run: Run) -> Args:
        c = W.c
        family = run.int_arg((c.AF_INET, c.AF_INET6), (c.AF_UNSPEC, 1, 0xFFFFFFFF))
        address = run.pointer(bytes(run.r.byte() for _ in range(16)), "address")
        size = run.int_arg((64, 46, 16), (0, 1, 9, 0xFFFFFFFF))
        if run.ptr == 8 and not run.good():
            size |= run.r.uint(4) << 32     # a size_t
        unit = 2 if wide else 1
        buf = run.out_buffer(64 * unit, "text")
        read = 16 if family & 0xFFFFFFFF == c.AF_INET6 else 4
        return [family, address, buf, size], [(buf, min(size, 64) * unit, 0)], [(address, read)]
    return spec


def _address_to_string(wide: bool) -> Spec:
    def spec(run: Run) -> Args:
        content, what = run.sockaddr()
        sockaddr = run.pointer(content, what)
        length = run.int_arg((len(content), 16, 28), (0, 1, 15, 27, 0xFFFFFFFF))
        count = run.int_arg((64, 64, 8), (0, 1, 0xFFFFFFFF)) & 0xFFFFFFFF
        unit = 2 if wide else 1
        text = 0 if run.r.below(8) == 0 else run.out_buffer(max(0, min(count, 128)) * unit, "text")
        counter = run.pointer(struct.pack("<I", count), f"length {count}")
        before = run.read_int(counter)
        outs: list[Out] = [(counter, 4, 0)]
        if before is not None:
            outs.append((text, max(0, min(before & 0xFFFFFFFF, 128)) * unit, 0))
        return [sockaddr, length, 0, text, counter], outs, [(counter, 4), (sockaddr, 16)]
    return spec


def _string_to_address(wide: bool) -> Spec:
    def spec(run: Run) -> Args:
        c = W.c
        family = run.int_arg((c.AF_INET, c.AF_INET6), (c.AF_UNSPEC, 1, 0xFFFFFFFF))
        size = run.int_arg((28, 16, 64), (0, 15, 27, 0xFFFFFFFF)) & 0xFFFFFFFF
        out = run.out_buffer(max(0, min(i32(size), 64)), "sockaddr")
        counter = run.pointer(struct.pack("<I", size), f"length {i32(size)}")
        before = run.read_int(counter)
        outs: list[Out] = [(counter, 4, 0)]
        if before is not None:
            outs.append((out, max(0, min(before, 28)), 0))
        text = _address_text(run, wide)
        return [text, family, 0, out, counter], outs, [(text, 2 if wide else 1), (counter, 4)]
    return spec


def _adapter_addresses(run: Run) -> Args:
    c = W.c
    family = run.int_arg((c.AF_UNSPEC, c.AF_INET, c.AF_INET6), (1, 0xFFFFFFFF))
    flags = run.int_arg((0, 0x1, 0x20, 0x8), (0xFFFFFFFF,))
    size = run.int_arg((0x2000, 0, 792), (1, 0xFFFFFFFF)) & 0xFFFFFFFF
    buf = 0 if run.r.below(4) == 0 else run.out_buffer(min(size, 0x2000), "adapters")
    counter = run.pointer(struct.pack("<I", size), f"size {size}")
    before = run.read_int(counter)
    outs: list[Out] = [(counter, 4, 0)]
    if before is not None:
        outs.append((buf, min(before & 0xFFFFFFFF, 0x2000), 0))
    return [family, flags, 0, buf, counter], outs, []


def _adapters_info(run: Run) -> Args:
    size = run.int_arg((0x2000, 0), (1, 0xFFFFFFFF)) & 0xFFFFFFFF
    buf = run.out_buffer(min(size, 0x2000), "IP_ADAPTER_INFO")
    counter = run.pointer(struct.pack("<I", size), f"size {size}")
    return [buf, counter], [(counter, 4, 0)], []


def _byte_order(run: Run) -> Args:
    return [run.int_arg((0x1234, 0x12345678, 0, 0xFFFF), (0xFFFFFFFF,))], [], []


ADDRESS_SPECS: dict[str, Spec] = {
    "gethostname": _host_name(False), "GetHostNameW": _host_name(True), "inet_addr": _inet_addr,
    "inet_pton": _pton(False), "InetPtonW": _pton(True), "inet_ntop": _ntop(False),
    "InetNtopW": _ntop(True), "WSAAddressToStringA": _address_to_string(False),
    "WSAAddressToStringW": _address_to_string(True),
    "WSAStringToAddressA": _string_to_address(False),
    "WSAStringToAddressW": _string_to_address(True), "htons": _byte_order,
    "ntohs": _byte_order, "htonl": _byte_order, "ntohl": _byte_order,
    "GetAdaptersAddresses": _adapter_addresses, "GetAdaptersInfo": _adapters_info,
}


# --- user32's windows and messages (ws2core.guest.windows)

CLASS_NAMES = ("ws2core_a", "WS2CORE_A", "ws2core_b", "", "x" * 300)


def _class_name(run: Run, wide: bool) -> tuple[int, list[tuple[int, int]]]:
    """A class name argument: a string, an atom (MAKEINTATOM) now and then; and what a
    success must have read."""
    if run.r.below(6) == 0:
        return (0xC000 + run.r.below(4), 1, 0xFFFF)[run.r.below(3)], []
    name, size = _text(run, CLASS_NAMES, wide, "class")
    return name, [(name, size)] if name >= 0x10000 else []


def _window(run: Run) -> int:
    """An HWND: mostly one the guest was given (destroyed or not), else HWND_MESSAGE, -1,
    NULL, a live handle of the table, random bits."""
    if run.windows and run.good():
        return run.windows[run.r.below(len(run.windows))]
    k = run.r.below(5)
    if k == 0:
        return (0, run.mask - 2, run.mask, 0xFFFF)[run.r.below(4)]
    if k == 1:
        return run.handle("event")
    return run.r.uint(run.ptr) if k == 2 else 2 + 4 * run.r.below(1 << 20)


def _procedure(run: Run) -> int:
    """A window procedure that returns at once (x86's pops its four arguments)."""
    return run.pointer(b"\xc2\x10\x00" if run.ptr == 4 else b"\xc3", "window procedure")


def _register_class(wide: bool, extended: bool) -> Spec:
    """RegisterClass(Ex)A/W: a WNDCLASS(EX) in the guest's layout, cbSize good or not."""
    def spec(run: Run) -> Args:
        name, ins = _class_name(run, wide)
        word = "Q" if run.ptr == 8 else "I"
        if extended:
            size = 80 if run.ptr == 8 else 48
            cb = run.int_arg((size,), (0, size - 1, size + 4, 0xFFFFFFFF)) & 0xFFFFFFFF
            body = struct.pack(f"<II{word}ii{word * 7}", cb, 0, _procedure(run), 0, 0,
                               0, 0, 0, 0, 0, name, 0)
        else:
            size = 72 if run.ptr == 8 else 40
            layout = f"<I4x{word}ii{word * 6}" if run.ptr == 8 else f"<I{word}ii{word * 6}"
            body = struct.pack(layout, 0, _procedure(run), 0, 0, 0, 0, 0, 0, 0, name)
        structure = run.pointer(body, "WNDCLASSEX" if extended else "WNDCLASS")
        return [structure], [], [(structure, size), *ins]
    return spec


def _unregister_class(wide: bool) -> Spec:
    def spec(run: Run) -> Args:
        name, ins = _class_name(run, wide)
        return [name, run.r.uint(run.ptr) if run.r.below(4) == 0 else 0], [], ins
    return spec


def _create_window(wide: bool) -> Spec:
    def spec(run: Run) -> Args:
        name, ins = _class_name(run, wide)
        parent = run.mask - 2 if run.good() else _window(run)    # HWND_MESSAGE
        title = 0 if run.r.below(2) else run.r.uint(run.ptr)     # never read
        sizes = [run.int_arg((0,), (0x80000000, 0xFFFFFFFF)) for _ in range(4)]
        return [run.int_arg((0,)), name, title, run.int_arg((0,)), *sizes, parent, 0, 0,
                0], [], ins
    return spec


def _message_number(run: Run) -> int:
    """A UINT message number (x64: now and then with garbage above its 32 bits)."""
    return run.int_arg((0x401, 0x402, 0x0012, 0), (0xFFFFFFFF, 0x10000))


def _post_message(run: Run) -> Args:
    return [_window(run), _message_number(run), run.r.uint(run.ptr), run.r.uint(run.ptr)], [], []


def _msg_out(run: Run) -> tuple[int, int]:
    size = 48 if run.ptr == 8 else 28
    return run.out_buffer(size, "MSG"), size


def _peek_message(run: Run) -> Args:
    msg, size = _msg_out(run)
    window = 0 if run.good() else _window(run)
    low, high = _message_number(run), _message_number(run)
    return [msg, window, low, high, run.int_arg((0, 1), (2, 3, 0x10001))], \
        [(msg, size, size)] if msg else [], []


def _get_message(run: Run) -> Args:
    argv, outs, _ = _peek_message(run)
    return argv[:4], outs, []


def _msg_in(run: Run) -> int:
    """A MSG to translate or dispatch, for one of the guest's windows mostly."""
    word = "Q" if run.ptr == 8 else "I"
    layout = f"<{word}I4x{word}{word}I8x4x" if run.ptr == 8 else f"<{word}I{word}{word}I8x"
    return run.pointer(struct.pack(layout, _window(run), _message_number(run) & 0xFFFFFFFF,
                                   run.r.uint(run.ptr), run.r.uint(run.ptr), 0), "MSG")


def _msg_argument(run: Run) -> Args:
    return [_msg_in(run)], [], []


def _def_window_proc(run: Run) -> Args:
    return [_window(run), _message_number(run), run.r.uint(run.ptr), run.r.uint(run.ptr)], [], []


def _window_argument(run: Run) -> Args:
    return [_window(run)], [], []


def _post_quit(run: Run) -> Args:
    return [run.int_arg((0, 3), (0xFFFFFFFF,))], [], []


WINDOW_SPECS: dict[str, Spec] = {
    "RegisterClassA": _register_class(False, False), "RegisterClassW": _register_class(True, False),
    "RegisterClassExA": _register_class(False, True),
    "RegisterClassExW": _register_class(True, True),
    "UnregisterClassA": _unregister_class(False), "UnregisterClassW": _unregister_class(True),
    "CreateWindowExA": _create_window(False), "CreateWindowExW": _create_window(True),
    "DestroyWindow": _window_argument, "IsWindow": _window_argument,
    "PostMessageA": _post_message, "PostMessageW": _post_message,
    "PeekMessageA": _peek_message, "PeekMessageW": _peek_message,
    "GetMessageA": _get_message, "GetMessageW": _get_message,
    "TranslateMessage": _msg_argument, "DispatchMessageA": _msg_argument,
    "DispatchMessageW": _msg_argument, "DefWindowProcA": _def_window_proc,
    "DefWindowProcW": _def_window_proc, "PostQuitMessage": _post_quit,
}


SPECS: dict[str, Spec] = {
    "WSAStartup": _startup, "WSACleanup": _no_arguments, "WSAGetLastError": _no_arguments,
    "WSASetLastError": _set_last_error, "socket": _socket,
    "closesocket": _one_handle("socket"), "bind": _address_in, "connect": _address_in,
    "listen": _listen, "accept": _address_out("listening"),
    "getsockname": _address_out("socket"), "getpeername": _address_out("connected"), "send": _send, "recv": _recv, "shutdown": _shutdown,
    "ioctlsocket": _ioctlsocket, "getsockopt": _getsockopt, "select": _select,
    "setsockopt": _setsockopt, "WSAIoctl": _wsaioctl, "WSAPoll": _wsapoll,
    "WSAAccept": _wsaaccept,
    "__WSAFDIsSet": _fd_is_set, "WSACreateEvent": _create_event,
    "WSASetEvent": _one_handle("event"), "WSAResetEvent": _one_handle("event"),
    "WSACloseEvent": _one_handle("event"), "WSAWaitForMultipleEvents": _wait,
    "WSAEventSelect": _event_select, "WSAEnumNetworkEvents": _enum_network_events,
    "WSAAsyncSelect": _async_select,
    # kernel32's calls on ws2core's handles
    "WaitForSingleObject": _kernel_wait(False, True),
    "WaitForSingleObjectEx": _kernel_wait(True, True),
    "WaitForMultipleObjects": _kernel_wait(False, False),
    "WaitForMultipleObjectsEx": _kernel_wait(True, False),
    "QueueUserAPC": _queue_user_apc, "SleepEx": _sleep_ex,
    "SetEvent": _one_handle("event"), "ResetEvent": _one_handle("event"),
    "CloseHandle": _one_handle("event"), "ReadFile": _file(True), "WriteFile": _file(False),
    "gethostbyname": _gethostbyname, "gethostbyaddr": _gethostbyaddr,
    "getaddrinfo": _getaddrinfo(False), "GetAddrInfoW": _getaddrinfo(True),
    "freeaddrinfo": _freeaddrinfo, "FreeAddrInfoW": _freeaddrinfo,
    "getnameinfo": _getnameinfo(False), "GetNameInfoW": _getnameinfo(True),
    "inet_ntoa": _inet_ntoa,
    **ADDRESS_SPECS,
    "WSASocketA": _protocol_info_in(372), "WSASocketW": _protocol_info_in(628),
    "WSADuplicateSocketA": _duplicate(372), "WSADuplicateSocketW": _duplicate(628),
    "WSAEnumProtocolsA": _enum_protocols(372), "WSAEnumProtocolsW": _enum_protocols(628),
    "sendto": _sendto, "recvfrom": _recvfrom, "WSASend": _wsa_send(False),
    "WSASendTo": _wsa_send(True), "WSARecv": _wsa_recv(False), "WSARecvFrom": _wsa_recv(True),
    "WSAGetOverlappedResult": _get_overlapped_result,
    "CreateIoCompletionPort": _create_port, "GetQueuedCompletionStatus": _get_port,
    "GetQueuedCompletionStatusEx": _get_port_ex, "PostQueuedCompletionStatus": _post_port,
    "AcceptEx": _accept_ex, "GetAcceptExSockaddrs": _accept_ex_sockaddrs,
    "ConnectEx": _connect_ex, "DisconnectEx": _disconnect_ex,
    **WINDOW_SPECS,
}
# The exports that return a new socket (the guest is given its handle).
SOCKET_MAKERS = ("socket", "accept", "WSAAccept", "WSASocketA", "WSASocketW")
# How often each export is called, relatively (WSAStartup and WSACleanup rarely: each
# WSACleanup that ends the last start-up leaves the rest of the input failing early).
WEIGHTS = {"WSAStartup": 2, "WSACleanup": 1, "WSAGetLastError": 2, "WSASetLastError": 2,
           "socket": 6, "bind": 5, "connect": 6, "listen": 4, "accept": 6, "send": 8,
           "recv": 8, "select": 6, "getsockopt": 5, "ioctlsocket": 5}
# The address exports touch no socket: a share or two each (of the sockets' 3 to 8) keep most
# steps on the sockets' states; two for those that read an argument a success needs.
WEIGHTS.update({name: 1 if name in ("inet_addr", "gethostname", "GetHostNameW", "htons",
                                    "ntohs", "htonl", "ntohl", "GetAdaptersInfo")
                else 2 for name in ADDRESS_SPECS})
# The window calls: one share each, WSAAsyncSelect's window and its messages to read.
WEIGHTS.update({name: 1 for name in WINDOW_SPECS})
# What handle(prefer) looks for first, by the state of the socket behind it.
STATES = {"connected": ("connected", "connecting", "datagram"), "listening": ("listening",),
          "unconnected": ("unconnected",)}


# ---------------------------------------------------------------------------------------
# What the guest's peers do between its calls (host sockets on loopback)


def _peer_connect(run: Run) -> None:
    """A host socket connects to one of the guest's listeners (non-blocking)."""
    listeners = [sock for sock in run.guest_sockets() if sock.state == "listening"]
    if not listeners or len(run.peers) >= PEERS:
        return
    sock = listeners[run.r.below(len(listeners))]
    try:
        address = sock.host.getsockname()
        peer = socket.socket(sock.host.family, socket.SOCK_STREAM)
    except OSError:
        return
    peer.setblocking(False)
    peer.connect_ex(address)
    run.peers.append(peer)
    run.log.append(f"[a peer connects to {sock!r}]")


def _peer_send(run: Run) -> None:
    size = (1, 16, 1000, 70000)[run.r.below(4)]
    if not run.peers:
        return
    peer = run.peers[run.r.below(len(run.peers))]
    try:
        sent = f"{peer.send(b'p' * size)} sent"
    except OSError as error:
        sent = f"errno {error.errno}"
    run.log.append(f"[a peer sends {size} bytes: {sent}]")


def _peer_close(run: Run) -> None:
    how = run.r.below(2)
    if not run.peers:
        return
    peer = run.peers.pop(run.r.below(len(run.peers)))
    if how:
        _reset(peer)
    else:
        peer.close()
    run.log.append(f"[a peer closes{' with a reset' if how else ''}]")


def _pause(run: Run) -> None:
    pause = 0.001 * (1 + run.r.below(4))
    time.sleep(pause)   # loopback delivery, the reactor
    run.drain()
    run.log.append(f"[{pause * 1000:.0f} ms pass]")


def _open_window(run: Run) -> None:
    """What a program does before WSAAsyncSelect: a class registered (once) and a
    message-only window of it, both with good arguments, so that later steps have a window
    to select into, post to and read from."""
    word = "Q" if run.ptr == 8 else "I"
    name = run.place("rw", b"ws2core_a\0")
    procedure = run.place("rw", b"\xc2\x10\x00" if run.ptr == 4 else b"\xc3")
    size = 80 if run.ptr == 8 else 48
    structure = run.place("rw", struct.pack(f"<II{word}ii{word * 7}", size, 0, procedure, 0, 0,
                                            0, 0, 0, 0, 0, name, 0))
    run.fresh_call()
    run.invoke("RegisterClassExA", [structure], [], [(structure, size), (name, 10)])
    run.invoke("CreateWindowExA", [0, name, 0, 0, 0, 0, 0, 0, run.mask - 2, 0, 0, 0], [],
               [(name, 10)])


ACTIONS: tuple[Callable[[Run], None], ...] = (_peer_connect, _peer_send, _peer_close, _pause,
                                              _open_window)
ACTION_WEIGHTS = (4, 6, 2, 3, 3)
STEPS: tuple[str | Callable[[Run], None], ...] = tuple(
    [name for name in SPECS for _ in range(WEIGHTS.get(name, 3))]
    + [action for action, weight in zip(ACTIONS, ACTION_WEIGHTS) for _ in range(weight)])


# ---------------------------------------------------------------------------------------
# The drivers


def _forced(data: bytes) -> bytes:
    """``data`` with the header byte saying what --abi / --mode fix (so that the reproducer
    replays the same way anywhere)."""
    if not FORCE or not data:
        return data
    head = data[0]
    if "abi" in FORCE:
        head = (head & ~1) | (FORCE["abi"] == "x86")
    if "mode" in FORCE:
        head = (head & ~2) | (2 if FORCE["mode"] == "stand-in" else 0)
    return bytes([head]) + data[1:]


def TestOneInput(data: bytes) -> None:
    """atheris' entry point (and the fallback driver's): a finding not in KNOWN raises."""
    Run(_forced(data)).execute()


def shrink(data: bytes, found: Found, budget: int = 80) -> bytes:
    """A shorter input with the same finding: cut after its step, then drop whole steps and
    prelude parts while it still shows."""
    def shows(candidate: bytes) -> Run | None:
        run = Run(candidate, stop_at=found.key).execute()
        return run if run.findings else None

    best = data[: max(found.end, 3)]
    run = shows(best)
    if run is None:
        return data
    tries = 0
    i = 0
    while i < len(run.positions) and tries < budget:
        starts = run.positions + [len(best)]
        candidate = best[: starts[i]] + best[starts[i + 1]:]
        tries += 1
        shorter = shows(candidate)
        if shorter is not None:
            best, run = candidate, shorter
        else:
            i += 1
    bit = 1
    while bit < 0x100 and run.prelude_at < len(best) and tries < budget:
        at = run.prelude_at
        if best[at] & bit:
            candidate = best[:at] + bytes([best[at] & ~bit]) + best[at + 1:]
            tries += 1
            shorter = shows(candidate)
            if shorter is not None:
                best, run = candidate, shorter
        bit <<= 1
    return best


def drive(calls: int, seed: int, max_len: int, artifacts: str, verbose: bool) -> int:
    """Random inputs until ``calls`` export calls were made; every finding collected and
    grouped; the figures printed.  Exit status 1 on a finding not in KNOWN (any, --strict)."""
    env = _load()
    env.watchdog.prefix = os.path.join(artifacts, "guest-")
    os.makedirs(artifacts, exist_ok=True)
    rng = random.Random(seed)
    counts: collections.Counter[str] = collections.Counter()
    successes: collections.Counter[str] = collections.Counter()
    groups: dict[tuple[str, str], list[tuple[Found, bytes]]] = {}
    inputs = 0
    started = time.monotonic()
    next_report = 10_000
    while sum(counts.values()) < calls:
        data = _forced(rng.randbytes(rng.randint(8, max_len)))
        run = Run(data, collect=True).execute()
        inputs += 1
        counts.update(run.counts)
        successes.update(run.successes)
        for found in run.findings:
            groups.setdefault(found.key, []).append((found, data))
        total = sum(counts.values())
        if verbose and total >= next_report:
            print(f"  {total} calls, {inputs} inputs, {len(groups)} finding groups, "
                  f"{time.monotonic() - started:.0f} s", flush=True)
            next_report += 10_000
    elapsed = time.monotonic() - started
    total = sum(counts.values())
    exports = [export.name for export in W.EXPORTS]
    where = (f"mode {FORCE.get('mode', 'both')}, emulator {env.emulator or 'none'}, "
             f"abi {FORCE.get('abi', 'both')}")
    print(f"\n=== fuzz_guest: {where}, seed {seed}, max_block {MAX_BLOCK} s, "
          f"{'blocking allowed' if ALLOW_BLOCKING else 'sockets kept non-blocking'}")
    print(f"calls: {total} in {inputs} inputs, {elapsed:.1f} s ({total / elapsed:.0f} calls/s)")
    exercised = [name for name in exports if counts[name]]
    print(f"exports exercised: {len(exercised)}/{len(exports)}")
    print("calls per export (of which succeeded, where a call can fail): " + ", ".join(
        f"{name} {counts[name]}" + (f" ({successes[name]})" if name in successes or
                                    _can_fail(name) else "") for name in exports))
    unknown = 0
    print(f"findings: {len(groups)} group(s), {sum(map(len, groups.values()))} in all")
    for key, items in sorted(groups.items(), key=lambda item: (item[0][1], item[0][0])):
        invariant, export = key
        tracked = {known(item[0]) for item in items}
        if None in tracked or STRICT:
            unknown += 1
        # a reproducer of a new one where there is one, else of the first
        found, data = next((item for item in items if known(item[0]) is None), items[0])
        small = shrink(data, found)
        slug = "".join(ch if ch.isalnum() else "-" for ch in f"{export}-{invariant}")[:60]
        path = os.path.join(artifacts, f"guest-{slug}-{hashlib.sha1(small).hexdigest()[:10]}")
        with open(path, "wb") as f:
            f.write(small)
        replay = Run(small, stop_at=key).execute()
        label = "NEW" if None in tracked else f"known: {', '.join(sorted(map(str, tracked)))}"
        print(f"\n* {export}: {invariant}: {len(items)} time(s)  [{label}]")
        details = collections.Counter(item[0].detail for item in items)
        for detail, n in details.most_common(3):
            print(f"    e.g. {detail}" + (f"  (x{n})" if n > 1 else ""))
        print(f"    reproducer ({len(small)} bytes): {path}")
        for line in replay.log:
            print(f"      {line}")
    return 1 if unknown else 0


def _can_fail(name: str) -> bool:
    export = W.EXPORT[name]
    return name == "WSAStartup" or (export.failure is not None and export.last_error)


def replay(paths: Sequence[str]) -> int:
    """Each file's run, its call log and every finding (none is fatal here)."""
    _load()
    status = 0
    for path in paths:
        with open(path, "rb") as f:
            data = f.read()
        run = Run(data, collect=True).execute()
        print(f"replaying {path} ({len(data)} bytes):")
        for line in run.log:
            print(f"  {line}")
        for found in run.findings:
            status = 1
            print(f"FINDING {found.export}: {found.invariant}: {found.detail}\n  at {found.call}")
    print("replay: " + ("finding(s)" if status else "no finding"))
    return status


def main() -> None:
    global MAX_BLOCK, STRICT, ALLOW_BLOCKING, EMULATOR
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], add_help=True)
    parser.add_argument("--calls", type=int, help="run until this many export calls, print figures")
    parser.add_argument("--abi", choices=("x86", "x64", "both"), default="both")
    parser.add_argument("--mode", choices=("real", "stand-in", "both"), default="both",
                        help="real: an emulator's hooks (--emulator); stand-in: FakeGuest")
    parser.add_argument("--emulator", choices=("auto", *EMULATORS), default="auto",
                        help="real mode's emulator (auto: Speakeasy if installed, else Qiling)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-len", type=int, default=1024, help="--calls: input size bound")
    parser.add_argument("--artifacts", default=os.path.join(HERE, "artifacts"),
                        help="--calls: where reproducers go")
    parser.add_argument("--max-block", type=float, default=MAX_BLOCK)
    parser.add_argument("--strict", action="store_true", help="KNOWN findings count too")
    parser.add_argument("--nonblocking", action="store_true",
                        help="make every guest socket non-blocking after each call")
    parser.add_argument("--verbose", action="store_true")
    args, rest = parser.parse_known_args()
    # The guard's records are this harness's to report: a traceback per call would drown them.
    logging.getLogger("ws2core.guest").propagate = False
    MAX_BLOCK, STRICT, ALLOW_BLOCKING = args.max_block, args.strict, not args.nonblocking
    EMULATOR = args.emulator
    if args.abi != "both":
        FORCE["abi"] = args.abi
    if args.mode != "both":
        FORCE["mode"] = args.mode
    files = [path for path in rest if os.path.isfile(path)]
    if args.calls is not None:
        sys.exit(drive(args.calls, args.seed, args.max_len, args.artifacts, args.verbose))
    if files:
        sys.exit(replay(files))
    prefix = next((flag.split("=", 1)[1] for flag in rest
                   if flag.startswith(("-artifact_prefix=", "--artifact-prefix="))), "")
    # The fallback driver's own --seed and --max-len (libFuzzer ignores flags with "--").
    sys.argv = [sys.argv[0], *rest, f"--seed={args.seed}", f"--max-len={args.max_len}"]
    _common.main(_instrumented(prefix), modules=MODULES)


def _instrumented(prefix: str) -> Callable[[bytes], None]:
    def test_one_input(data: bytes) -> None:
        env = _load()
        env.watchdog.prefix = prefix
        TestOneInput(data)
    return test_one_input


if __name__ == "__main__":
    main()
