"""Build the Windows test programs in this folder, run them under Wine, and read their output.

The programs are C sources compiled at test time with mingw-w64 (Debian:
``apt-get install gcc-mingw-w64-x86-64 gcc-mingw-w64-i686 wine64``), for x86_64 and i686.
Each prints its findings in the protocol of checks.h::

    CHECK <name> <got> <want> ok|FAIL
    RESULT <passed>/<total>

and exits with 0 when every check passed, 1 otherwise. A check whose name begins with ``x_``
exercises a place where ws2core deliberately goes beyond Windows (DESIGN.md section 1);
comparisons against Windows behaviour (Wine here) leave those out.

tests/ is not a package: pytest puts this folder on ``sys.path`` for the test files in it,
which ``import programs``. The module is also their pytest plugin (the last section): a test
file here declares ``pytest_plugins = ("programs",)`` and gets the fixtures ``built_programs``,
``program_cache``, ``wine``, ``wine_runs``, ``echo_server`` and ``speakeasy``; every test in this folder is
marked ``emulator``. (PYTEST_DONT_REWRITE: the test files import this module before pytest
loads it as a plugin, too late for pytest to rewrite its asserts, and it has none to rewrite.)
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import os
import re
import shlex
import shutil
import socket
import socketserver
import struct
import subprocess
import tempfile
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from types import ModuleType, TracebackType
from typing import NamedTuple

import pytest

from isolation import inside_isolated_namespace
from support import missing

HERE = Path(__file__).resolve().parent

# Every program in this folder; each is HERE / f"{name}.c".
PROGRAMS: tuple[str, ...] = (
    "select_fdset",
    "event_waits",
    "event_wake",
    "event_select",
    "event_reselect",
    "echo_self",
    "echo_client",
    "bad_input",
    "net_policy",
    "kernel_handles",
    "names",
    "addresses",
    "options",
    "transfer",
    "protocols",
    "overlapped_events",
    "apcs",
    "overlapped_routines",
    "iocp_echo",
    "async_select",
)
# The programs that name addresses outside this machine (documentation addresses, RFC 5737):
# run only in a network namespace with only loopback up (tests/isolation.py), where no packet
# can leave, and under ws2core's network policy; never in the runs of test_speakeasy.py and
# test_wine.py, which are outside one. test_policy_programs.py runs them.
OUTSIDE_ADDRESS_PROGRAMS: tuple[str, ...] = ("net_policy",)
# What net_policy sends to 192.0.2.1:80 and what the sink answers it: net_policy.c's REQUEST
# and SINK_ANSWER.
NET_POLICY_REQUEST = b"GET / HTTP/1.0\r\n\r\n"
NET_POLICY_SINK_ANSWER = b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"

# The others: loopback only, run anywhere.
LOOPBACK_PROGRAMS: tuple[str, ...] = tuple(
    name for name in PROGRAMS if name not in OUTSIDE_ADDRESS_PROGRAMS)
# The programs whose checks need guest code run from inside a hooked call (APCs:
# Guest.run_function), which the Speakeasy adapter cannot (ws2core.adapters.speakeasy says
# why): Wine and Qiling run them, Speakeasy the rest.
GUEST_CODE_PROGRAMS: tuple[str, ...] = ("apcs", "overlapped_routines")
SPEAKEASY_PROGRAMS: tuple[str, ...] = tuple(
    name for name in LOOPBACK_PROGRAMS if name not in GUEST_CODE_PROGRAMS)
HEADERS: tuple[str, ...] = ("checks.h", "loopback.h")
# The other C sources here, which are no CHECK program: test_run.py builds console its own
# way; call_costs is benchmarks/test_bench_adapter.py's loops of calls to time.
OTHER_SOURCES: tuple[str, ...] = ("console", "call_costs")

ARCHES: tuple[str, ...] = ("x86_64", "i686")
COMPILERS: dict[str, str] = {"x86_64": "x86_64-w64-mingw32-gcc", "i686": "i686-w64-mingw32-gcc"}
# __USE_MINGW_ANSI_STDIO=0 keeps printf the msvcrt import instead of mingw's own stdio.
CFLAGS: tuple[str, ...] = ("-O1", "-D__USE_MINGW_ANSI_STDIO=0", "-Wall", "-Wextra", "-Werror")
LIBS: tuple[str, ...] = ("-lws2_32", "-lmswsock", "-liphlpapi", "-luser32")

EXTENSION_PREFIX = "x_"

# What a program may import beyond what mingw's C run-time start-up code imports anyway
# (startup_imports): the Winsock functions the adapter serves, and two C run-time functions,
# which Speakeasy 1.5.11 lacks and ws2core.guest.crt serves: printf, and getenv for
# echo_client, whose port comes as its argument or through the environment.
ALLOWED_IMPORTS: dict[str, frozenset[str]] = {
    "ws2_32.dll": frozenset({
        "WSAStartup", "WSACleanup", "socket", "closesocket", "bind", "getsockname", "listen",
        "connect", "accept", "send", "recv", "select", "__WSAFDIsSet", "WSACreateEvent",
        "getpeername", "ioctlsocket", "getsockopt",
        "WSASetEvent", "WSAResetEvent", "WSACloseEvent", "WSAWaitForMultipleEvents",
        "WSAEventSelect", "WSAEnumNetworkEvents", "WSAGetLastError", "WSASetLastError",
        "htons", "htonl", "ntohs",
        "gethostbyname", "gethostbyaddr", "getaddrinfo", "GetAddrInfoW", "freeaddrinfo",
        "FreeAddrInfoW", "getnameinfo", "GetNameInfoW", "inet_ntoa",
        "ntohl", "inet_addr", "inet_pton", "InetPtonW", "inet_ntop", "InetNtopW",
        "WSAAddressToStringA", "WSAAddressToStringW", "WSAStringToAddressA",
        "WSAStringToAddressW", "gethostname", "GetHostNameW",
        "setsockopt", "WSAIoctl", "WSAPoll", "WSAAccept", "shutdown",
        "WSASocketA", "WSASocketW", "sendto", "recvfrom", "WSASend", "WSARecv", "WSASendTo",
        "WSARecvFrom", "WSADuplicateSocketA", "WSADuplicateSocketW",
        "WSAEnumProtocolsA", "WSAEnumProtocolsW", "WSAGetOverlappedResult", "WSAAsyncSelect",
    }),
    "msvcrt.dll": frozenset({"printf", "getenv"}),
    # kernel32's calls on ws2core's handles (ws2core.guest.kernel), and CreateEventA, whose
    # event Speakeasy serves itself (kernel_handles checks the handover).
    "kernel32.dll": frozenset({
        "WaitForSingleObject", "WaitForSingleObjectEx", "WaitForMultipleObjects",
        "WaitForMultipleObjectsEx", "SetEvent", "ResetEvent", "CloseHandle", "ReadFile",
        "WriteFile", "CreateEventA",
        "GetCurrentProcessId",  # transfer: WSADuplicateSocket's process
        "QueueUserAPC", "SleepEx", "GetCurrentThread",   # apcs
        "CreateIoCompletionPort", "GetQueuedCompletionStatus", "GetQueuedCompletionStatusEx",
        "PostQueuedCompletionStatus",
    }),
    # The extension functions mswsock exports (ws2core.guest.extensions).
    "mswsock.dll": frozenset({"AcceptEx", "GetAcceptExSockaddrs"}),
    "iphlpapi.dll": frozenset({"GetAdaptersAddresses", "GetAdaptersInfo"}),
    # The window and message calls of a message-only window (ws2core.guest.windows).
    "user32.dll": frozenset({
        "RegisterClassExA", "UnregisterClassA", "CreateWindowExA", "DestroyWindow", "IsWindow",
        "PostMessageA", "PeekMessageA", "GetMessageA", "TranslateMessage", "DefWindowProcA",
        "PostQuitMessage",
    }),
}

# Wine: the 64-bit loader. Debian keeps it out of PATH (/usr/bin/wine is a wrapper that
# prefers the 32-bit loader when one is installed); Wine 9's new WoW64 has only `wine`.
WINE_LOADERS: tuple[str, ...] = (
    "/usr/lib/wine/wine64", "/usr/lib64/wine/wine64", "/opt/wine-stable/bin/wine64",
)
WINE_ENV: dict[str, str] = {
    "WINEDEBUG": "-all",
    # No Mono or Gecko installer, and no desktop menu entries written into $HOME.
    "WINEDLLOVERRIDES": "mscoree,mshtml=;winemenubuilder.exe=d",
}
# Removed from the environment of every Wine process: nothing may open a window, and the
# sanitizer runtimes tools/sanitize.sh preloads into the test interpreter stay out of Wine
# (not ours to check, and its loader's fixed memory reservations collide with ASan's shadow
# memory: wineboot fails).
WINE_UNSET: tuple[str, ...] = ("DISPLAY", "WAYLAND_DISPLAY", "LD_PRELOAD", "ASAN_OPTIONS",
                                   "UBSAN_OPTIONS")


class BuildError(Exception):
    """A compiler ran and failed: the program or a header is broken (not a missing tool)."""


# ---------------------------------------------------------------------------------------------
# Building


def compiler(arch: str) -> str | None:
    """The mingw-w64 C compiler for arch ("x86_64" or "i686"), or None if it is not installed."""
    return shutil.which(COMPILERS[arch])


def require_compiler(arch: str) -> str:
    """compiler(arch), or a skip (a failure under CI) naming the package to install."""
    found = compiler(arch)
    if found is None:
        missing(f"{COMPILERS[arch]} not found "
                f"(Debian: apt-get install gcc-mingw-w64-{arch.replace('_', '-')})")
    return found


def _build_key(sources: Sequence[Path], cc: str, cflags: Sequence[str]) -> str:
    """Names a build by everything that goes into it, so a cached .exe is never stale (and
    a checkout that leaves old timestamps cannot fool it)."""
    digest = hashlib.sha256()
    resolved = Path(cc).resolve()
    digest.update(f"{resolved}:{resolved.stat().st_mtime_ns}\0".encode())
    digest.update("\0".join((*cflags, *LIBS)).encode())
    for path in sources:
        digest.update(b"\0" + path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _compile(source_text: Path, stem: str, arch: str, cache_dir: Path,
             inputs: Sequence[Path], cflags: Sequence[str] = CFLAGS) -> Path:
    cc = require_compiler(arch)
    cache_dir.mkdir(parents=True, exist_ok=True)
    exe = cache_dir / f"{stem}-{arch}-{_build_key(inputs, cc, cflags)}.exe"
    if exe.exists():
        return exe
    # Built under a unique name and renamed: concurrent sessions never see half an .exe.
    partial = exe.with_name(f"{exe.stem}.{os.getpid()}.{threading.get_ident()}.partial")
    command = [cc, *cflags, "-o", str(partial), str(source_text), *LIBS]
    done = subprocess.run(command, capture_output=True, text=True, cwd=HERE)
    if done.returncode != 0:
        partial.unlink(missing_ok=True)
        raise BuildError(f"{' '.join(command)} failed ({done.returncode}):\n"
                         f"{done.stdout}{done.stderr}")
    os.replace(partial, exe)
    for old in cache_dir.glob(f"{stem}-{arch}-*.exe"):
        if old != exe:
            old.unlink(missing_ok=True)
    return exe


def build(name: str, arch: str, cache_dir: Path) -> Path:
    """Compiles HERE/<name>.c for arch into cache_dir (unless an identical build is there) and
    returns the .exe. Skips (fails under CI) without the compiler; BuildError if it fails."""
    source = HERE / f"{name}.c"
    inputs = [source, *(HERE / header for header in HEADERS)]
    return _compile(source, name, arch, cache_dir, inputs)


def build_source(source: Path, stem: str, arch: str, cache_dir: Path,
                 cflags: Sequence[str]) -> Path:
    """Compiles one C file of its own (no header of this folder) with ``cflags``, cached as
    build() does under the name ``stem``."""
    return _compile(source, stem, arch, cache_dir, [source], cflags)


def build_all(cache_dir: Path, names: Iterable[str] = PROGRAMS,
              arches: Iterable[str] = ARCHES) -> dict[tuple[str, str], Path]:
    """Every program for every arch, compiled in parallel: {(name, arch): exe}."""
    arches = tuple(arches)
    for arch in arches:
        require_compiler(arch)
    jobs = [(name, arch) for name in names for arch in arches]
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {job: pool.submit(build, job[0], job[1], cache_dir) for job in jobs}
        return {job: future.result() for job, future in futures.items()}


STARTUP_PROBE = "int main(void)\n{\n    return 0;\n}\n"


def startup_imports(arch: str, cache_dir: Path) -> dict[str, frozenset[str]]:
    """What an empty program imports: the C run-time start-up code's own needs, which every
    program has whatever it calls."""
    source = cache_dir / "startup_probe.c"
    cache_dir.mkdir(parents=True, exist_ok=True)
    if not source.exists() or source.read_text() != STARTUP_PROBE:
        source.write_text(STARTUP_PROBE)
    return pe_imports(_compile(source, "startup_probe", arch, cache_dir, [source]))


# ---------------------------------------------------------------------------------------------
# Reading a PE file

PE_MACHINES: dict[int, str] = {0x8664: "x86_64", 0x14C: "i686"}


class PeFile(NamedTuple):
    arch: str  # "x86_64", "i686", or the machine number in hex
    imports: dict[str, frozenset[str]]  # lower-case DLL name -> imported names ("#n": ordinal)


def read_pe(path: Path) -> PeFile:
    """The machine and import table of a PE image, read directly (no objdump needed)."""
    data = path.read_bytes()
    (pe_offset,) = struct.unpack_from("<I", data, 0x3C)
    if data[:2] != b"MZ" or data[pe_offset:pe_offset + 4] != b"PE\0\0":
        raise ValueError(f"{path} is not a PE image")
    machine, sections, _, _, _, optional_size, _ = struct.unpack_from("<HHIIIHH", data,
                                                                      pe_offset + 4)
    optional = pe_offset + 24
    (magic,) = struct.unpack_from("<H", data, optional)
    wide = magic == 0x20B  # PE32+: 8-byte thunks, data directories 16 bytes further on
    (import_rva,) = struct.unpack_from("<I", data, optional + (120 if wide else 104))
    table = optional + optional_size
    spans: list[tuple[int, int, int]] = []
    for index in range(sections):
        size, address, raw_size, raw_offset = struct.unpack_from("<IIII", data,
                                                                 table + 40 * index + 8)
        spans.append((int(address), int(max(size, raw_size)), int(raw_offset)))

    def offset(rva: int) -> int:
        for address, size, raw_offset in spans:
            if address <= rva < address + size:
                return rva - address + raw_offset
        raise ValueError(f"{path}: RVA {rva:#x} is in no section")

    def text(rva: int) -> str:
        start = offset(rva)
        return data[start:data.index(b"\0", start)].decode("ascii")

    imports: dict[str, set[str]] = {}
    descriptor = offset(import_rva) if import_rva else None
    while descriptor is not None:
        lookup, _, _, name_rva, first_thunk = struct.unpack_from("<IIIII", data, descriptor)
        if name_rva == 0:
            break
        names = imports.setdefault(text(name_rva).lower(), set())
        thunk = offset(lookup or first_thunk)
        thunk_format, ordinal_flag = ("<Q", 1 << 63) if wide else ("<I", 1 << 31)
        while True:
            (entry,) = struct.unpack_from(thunk_format, data, thunk)
            if entry == 0:
                break
            if entry & ordinal_flag:
                names.add(f"#{entry & 0xFFFF}")
            else:  # the RVA of a hint (2 bytes) and the name
                names.add(text((entry & 0x7FFFFFFF) + 2))
            thunk += 8 if wide else 4
        descriptor += 20
    arch = PE_MACHINES.get(machine, f"{machine:#x}")
    return PeFile(arch, {dll: frozenset(names) for dll, names in imports.items()})


def pe_imports(path: Path) -> dict[str, frozenset[str]]:
    return read_pe(path).imports


def extra_imports(exe: Path, baseline: Mapping[str, frozenset[str]]) -> dict[str, frozenset[str]]:
    """What exe imports beyond baseline (see startup_imports)."""
    extra = {}
    for dll, names in pe_imports(exe).items():
        beyond = names - baseline.get(dll, frozenset())
        if beyond:
            extra[dll] = beyond
    return extra


def disallowed_imports(exe: Path, baseline: Mapping[str, frozenset[str]]) -> list[str]:
    """The "dll!name" imports of exe outside the C run-time start-up and ALLOWED_IMPORTS."""
    return sorted(f"{dll}!{name}"
                  for dll, names in extra_imports(exe, baseline).items()
                  for name in names - ALLOWED_IMPORTS.get(dll, frozenset()))


# ---------------------------------------------------------------------------------------------
# Reading the output

class Check(NamedTuple):
    name: str
    got: int
    want: int
    ok: bool

    @property
    def extension(self) -> bool:
        """A check of ws2core's behaviour beyond Windows: left out of Windows comparisons."""
        return self.name.startswith(EXTENSION_PREFIX)


class Result(NamedTuple):
    passed: int
    total: int


_CHECK = re.compile(r"CHECK (\S+) (-?\d+) (-?\d+) (ok|FAIL)")
_RESULT = re.compile(r"RESULT (\d+)/(\d+)")


def _lines(text: str) -> list[str]:
    # The C run-time writes "\r\n" in text mode; an emulator may write "\n".
    return [line.rstrip("\r") for line in text.split("\n")]


def parse_checks(text: str) -> tuple[list[Check], Result | None]:
    """The CHECK lines of a program's output, in order, and its RESULT line (None if absent).

    Other lines (EVENT, a crash report) are ignored. A CHECK or RESULT line that does not
    follow the protocol, a check whose verdict disagrees with its numbers, or a name used
    twice is a ValueError: the output itself is broken (a mangling printf, say), and that
    must not pass for a program's verdict.
    """
    checks: list[Check] = []
    result: Result | None = None
    for line in _lines(text):
        if line.startswith("CHECK"):
            match = _CHECK.fullmatch(line)
            if match is None:
                raise ValueError(f"malformed CHECK line: {line!r}")
            name, got, want, verdict = match[1], int(match[2]), int(match[3]), match[4]
            if (verdict == "ok") != (got == want):
                raise ValueError(f"verdict disagrees with the numbers: {line!r}")
            if any(earlier.name == name for earlier in checks):
                raise ValueError(f"check {name!r} reported twice")
            if result is not None:
                raise ValueError(f"CHECK after RESULT: {line!r}")
            checks.append(Check(name, got, want, verdict == "ok"))
        elif line.startswith("RESULT"):
            match = _RESULT.fullmatch(line)
            if match is None or result is not None:
                raise ValueError(f"malformed or repeated RESULT line: {line!r}")
            result = Result(int(match[1]), int(match[2]))
    return checks, result


def inconsistencies(checks: Sequence[Check], result: Result | None,
                    returncode: int | None) -> list[str]:
    """Where the RESULT line or the exit status disagrees with the checks (empty if none)."""
    problems = []
    passed = sum(check.ok for check in checks)
    if not checks:
        problems.append("no CHECK lines")
    if result is None:
        problems.append("no RESULT line")
    elif result != (passed, len(checks)):
        problems.append(f"RESULT {result.passed}/{result.total}, "
                        f"but the CHECK lines say {passed}/{len(checks)}")
    want_status = 0 if checks and passed == len(checks) else 1
    if returncode != want_status:
        problems.append(f"exit status {returncode}, want {want_status}")
    return problems


def parse_value(text: str, keyword: str) -> int | None:
    """The integer of the first "<keyword> <integer>" line (event_wake prints "EVENT <h>")."""
    for line in _lines(text):
        parts = line.split(" ")
        if len(parts) == 2 and parts[0] == keyword and re.fullmatch(r"-?\d+", parts[1]):
            return int(parts[1])
    return None


def stock_summary(name: str, abi: str, run: CompletedRun, stopped: str | None,
                  emulator: str = "Speakeasy") -> str:
    """The line a stock run prints (``emulator``'s own Winsock, no adapter): how many checks
    passed (the README's count)."""
    passed = sum(check.ok for check in run.checks)
    distribution = {"Speakeasy": "speakeasy-emulator", "Qiling": "qiling"}[emulator]
    return (f"stock {emulator} {version(distribution)}, {name} ({abi}): {passed} checks "
            f"pass of {len(run.checks)} printed; "
            f"{'stopped: ' + stopped if stopped else 'ran to its end'}")


@dataclass(frozen=True)
class CompletedRun:
    """One run of a program: its exit status (None if it timed out), output and checks."""

    exe: Path
    args: tuple[str, ...]
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float
    checks: list[Check] = field(init=False)
    result: Result | None = field(init=False)

    def __post_init__(self) -> None:
        checks, result = parse_checks(self.stdout)
        object.__setattr__(self, "checks", checks)
        object.__setattr__(self, "result", result)

    @property
    def timed_out(self) -> bool:
        return self.returncode is None

    def inconsistencies(self) -> list[str]:
        return inconsistencies(self.checks, self.result, self.returncode)

    def failed(self, *, extensions: bool = True) -> list[Check]:
        """The failed checks; extensions=False leaves out the x_ checks."""
        return [check for check in self.checks
                if not check.ok and (extensions or not check.extension)]

    def check(self, name: str) -> Check:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"{self.exe.name} printed no check {name!r}")

    def describe(self) -> str:
        """The whole run, for an assertion message."""
        status = "timed out" if self.timed_out else f"exit status {self.returncode}"
        return (f"{self.exe.name} {' '.join(self.args)}: {status} after {self.seconds:.2f} s\n"
                f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}")


# ---------------------------------------------------------------------------------------------
# Wine

def find_wine64() -> str | None:
    """A Wine loader that runs 64-bit programs, or None."""
    found = shutil.which("wine64")
    if found:
        return found
    for candidate in WINE_LOADERS:
        if os.access(candidate, os.X_OK):
            return candidate
    return shutil.which("wine")


class WinePrefix:
    """A Wine prefix (its own C: drive and registry) and the wineserver behind it.

    boot() creates it in seconds (2.5 s to 8 s measured, warm and cold disk cache); run()
    runs any number of programs, also concurrently, at a few tens of milliseconds each; close()
    removes it. The wineserver is started first and kept alive until close(): left to itself
    it exits 3 s after its last program, and every run after that would start it again along
    with Wine's background services (about 1.5 s a run).
    """

    def __init__(self, path: Path, wine64: str | None = None) -> None:
        loader = wine64 or find_wine64()
        if loader is None:
            missing("wine64 not found (Debian: apt-get install wine64)")
        self.path = path
        self.wine64 = loader
        sibling = Path(loader).resolve().parent / "wineserver"
        self.wineserver = str(sibling) if sibling.exists() else shutil.which("wineserver")
        self.boot_log = path.with_name(path.name + "-boot.log")
        # Wine keeps its server's socket directory under TMPDIR and leaves it behind: here it
        # goes away with the prefix.
        self.tmpdir = path.with_name(path.name + "-tmp")
        self.boot_seconds: float | None = None
        self._boot: subprocess.Popen[bytes] | None = None
        self._boot_started = 0.0
        self._server_started = False

    def env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if key not in WINE_UNSET}
        env.update(WINE_ENV)
        env["WINEPREFIX"] = str(self.path)
        env["TMPDIR"] = str(self.tmpdir)
        env.update(extra or {})
        return env

    def start_boot(self) -> None:
        """Starts creating the prefix in the background; wait_booted() finishes it."""
        if self._boot is not None or self.boot_seconds is not None:
            return
        self.path.mkdir(parents=True, exist_ok=True)
        self.tmpdir.mkdir(exist_ok=True)
        self._boot_started = time.monotonic()
        if self.wineserver is not None:
            # Forks a persistent server into the background and returns.
            subprocess.run([self.wineserver, "--persistent"], env=self.env(),
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=60, check=True)
            self._server_started = True
        # Output to a file, not a pipe: Wine's background services inherit it and would
        # hold a pipe open long after wineboot is done.
        with open(self.boot_log, "wb") as log:
            self._boot = subprocess.Popen([self.wine64, "wineboot", "--init"], env=self.env(),
                                          stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT)

    def wait_booted(self, timeout: float = 180) -> None:
        self.start_boot()
        if self._boot is None:
            return
        try:
            status = self._boot.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._boot.kill()
            self._boot.wait()
            status = None
        self._boot = None
        if status != 0:
            log = self.boot_log.read_text(errors="replace")
            raise RuntimeError(f"wineboot --init: {'timed out' if status is None else status}"
                               f"\n{log}")
        self.boot_seconds = time.monotonic() - self._boot_started

    def boot(self) -> None:
        self.start_boot()
        self.wait_booted()

    def run(self, exe: Path, args: Sequence[str] = (), env: Mapping[str, str] | None = None,
            timeout: float = 60) -> CompletedRun:
        """Runs exe to its end (or kills it after timeout seconds: returncode None). A program
        of OUTSIDE_ADDRESS_PROGRAMS runs only in a network namespace of tests/isolation.py,
        and only with the prefix's wineserver in it too (a RuntimeError otherwise)."""
        outside = program_name(exe) in OUTSIDE_ADDRESS_PROGRAMS
        if outside and not inside_isolated_namespace():
            raise RuntimeError(f"{exe.name} names outside addresses: Wine runs it only in a "
                               f"network namespace of tests/isolation.py")
        self.wait_booted()
        if outside:
            self.require_server_here()
        command = [self.wine64, str(exe), *args]
        started = time.monotonic()
        # Files rather than pipes, for the same reason as in start_boot: a crashing program
        # starts winedbg, which would keep a pipe open.
        with tempfile.TemporaryFile() as stdout, tempfile.TemporaryFile() as stderr:
            returncode: int | None
            try:
                returncode = subprocess.run(command, env=self.env(env), stdin=subprocess.DEVNULL,
                                            stdout=stdout, stderr=stderr, timeout=timeout,
                                            cwd=exe.parent).returncode
            except subprocess.TimeoutExpired:
                returncode = None
            seconds = time.monotonic() - started
            stdout.seek(0)
            stderr.seek(0)
            out, err = stdout.read(), stderr.read()
        return CompletedRun(exe, tuple(args), returncode, out.decode("utf-8", "replace"),
                            err.decode("utf-8", "replace"), seconds)

    def server_namespaces(self) -> set[str]:
        """The network namespaces ("net:[4026532174]") of this prefix's running wineservers:
        the processes whose working directory is in its TMPDIR (a wineserver works in its
        socket directory there)."""
        found: set[str] = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if Path(os.readlink(entry / "cwd")).is_relative_to(self.tmpdir.resolve()):
                    found.add(os.readlink(entry / "ns" / "net"))
            except OSError:  # gone meanwhile, or not ours to read
                continue
        return found

    def require_server_here(self) -> None:
        """A RuntimeError unless the prefix's wineserver runs in this process's network
        namespace: Wine's server makes a program's sockets and connects them (server/sock.c),
        so its namespace, not the program's, is the network a connect reaches."""
        ours, servers = os.readlink("/proc/self/ns/net"), self.server_namespaces()
        if servers != {ours}:
            raise RuntimeError(f"the prefix's wineserver is in {sorted(servers) or 'no'} "
                               f"network namespace, not in this one ({ours})")

    def close(self) -> None:
        """Stops the prefix's wineserver (and with it any program still running) and removes
        the prefix: it is about 700 MB."""
        if self._boot is not None:
            self._boot.kill()
            self._boot.wait()
            self._boot = None
        if self.wineserver is not None and (self._server_started or self.path.exists()):
            subprocess.run([self.wineserver, "--kill"], env=self.env(),
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
            self._server_started = False
        shutil.rmtree(self.path, ignore_errors=True)
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.boot_log.unlink(missing_ok=True)

    def __enter__(self) -> WinePrefix:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def program_name(exe: Path) -> str:
    """The program a build is of: "net_policy" for net_policy-x86_64-<hash>.exe."""
    return exe.stem.split("-", 1)[0]


def run_under_wine(exe: Path, args: Sequence[str] = (), env: Mapping[str, str] | None = None,
                   timeout: float = 60, *, prefix: WinePrefix) -> CompletedRun:
    """prefix.run(...): one program under Wine in a prefix made by WinePrefix."""
    return prefix.run(exe, args, env, timeout)


# Checks of documented Windows behaviour that Wine 8 does not share: under Wine they must fail
# (so that a Wine which gets them right is noticed and the list shrinks), under ws2core pass.
_DUPLICATE_WAIT = (
    "WaitForMultipleObjects rejects the same handle twice in a wait-all with "
    "ERROR_INVALID_PARAMETER (its page: the array 'may not contain multiple copies of the same "
    "handle'; The Old New Thing, 2011-02-25, 'Why does WaitForMultipleObjects return "
    "ERROR_INVALID_PARAMETER when all the parameters look valid to me?'); Wine 8 waits"
)
_NONBLOCKING_UNREACHABLE = (
    "a non-blocking connect without a route says WSAEWOULDBLOCK and fails later, as any failed "
    "connect: select's exceptfds, SO_ERROR, FD_CONNECT with WSAENETUNREACH (connect's page: "
    "with a nonblocking socket 'the connection attempt cannot be completed immediately', "
    "connect returns SOCKET_ERROR and WSAGetLastError WSAEWOULDBLOCK; CAsyncSocket::OnConnect's "
    "page lists WSAENETUNREACH among the codes the completion reports); Wine 8's server "
    "passes Linux's immediate ENETUNREACH through (server/sock.c: connect() < 0 with errno "
    "other than EINPROGRESS is the call's error), so nothing is pending afterwards"
)
_NAMES_NEED_STARTUP = (
    "getaddrinfo before WSAStartup fails with WSANOTINITIALISED, its code and its last error "
    "(ReactOS dll/win32/ws2_32/src/addrinfo.c: getaddrinfo begins with WsQuickProlog); Wine 8 "
    "answers it")
_GETHOSTBYADDR_SHORT = (
    "gethostbyaddr with a len too small for the type is WSAEFAULT (its documentation: 'the "
    "len parameter is too small'); Wine 8 says WSAEAFNOSUPPORT")
_ONE_ENTRY_PER_ADDRESS = (
    "getaddrinfo without hints gives one entry per address, of socket type 0 and protocol 0 "
    "(Wine's protocol.c hinttests: the hints' type and protocol come back as given, 0 "
    "included); Wine 8 gives one per socket type (stream, datagram, raw) from the host's "
    "resolver")
_NAMEINFO_LAST_ERROR = (
    "getnameinfo's error code is also the last error (ReactOS addrinfo.c: GetNameInfoW sets "
    "it; the GetNameInfoW page: 'retrieved by calling WSAGetLastError'); Wine 8 returns it "
    "and leaves the last error alone")

_UNSTARTED = (
    "gethostname, WSAAddressToString and WSAStringToAddress fail with WSANOTINITIALISED before "
    "WSAStartup (each function's page lists it: 'A successful WSAStartup call must occur "
    "before using this function'); Wine 8 serves them unstarted"
)
_ADDRESS_TO_STRING_NULL = (
    "WSAAddressToString's page: WSAEINVAL 'is returned if the lpsaAddress, dwAddressLength, or "
    "lpdwAddressStringLength parameter are NULL'; Wine 8 returns SOCKET_ERROR without setting "
    "an error"
)
_GAP_THEN_SEVEN = (
    "inet_pton refuses '::' followed by seven groups (Wine's own test_inet_pton, which runs on "
    "Windows: '::0:a:b:c:d:e:f' returns 0, 'incorrectly parsed by windows'); Wine 8 takes it"
)
_SETSOCKOPT_STARTED = (
    "setsockopt before WSAStartup is WSANOTINITIALISED (setsockopt's page: 'A successful "
    "WSAStartup call must occur before using this function'); Wine 8 answers WSAENOTSOCK"
)
_SO_ERROR_SET = (
    "setsockopt(SO_ERROR) sets the pending error that getsockopt(SO_ERROR) reads back (Wine's "
    "dlls/ws2_32/tests/sock.c test_set_getsockopt, marked todo_wine: it holds on Windows); "
    "Wine 8 reads 0"
)
_MREQ_SHORT = (
    "an optlen too small is WSAEFAULT (setsockopt's page: 'the optlen parameter is too "
    "small'); Wine 8 passes Linux's EINVAL through for an ip_mreq of 4 bytes"
)
_EXTENSION_POINTER_SHORT = (
    "SIO_GET_EXTENSION_FUNCTION_POINTER with a cbOutBuffer below a pointer's size is "
    "WSAEFAULT (WSAIoctl's page: 'the cbInBuffer or cbOutBuffer parameter is too small'); "
    "Wine 8 writes the pointer all the same, past the buffer"
)
_POLLPRI = (
    "POLLPRI in events makes WSAPoll fail with WSAEINVAL (WSAPoll's page: 'If the POLLPRI "
    "flag is set on a socket for the Microsoft Winsock provider, the WSAPoll function will "
    "fail'); Wine 8 accepts it"
)
_ATMARK_READ = (
    "SIOCATMARK is TRUE once no urgent byte waits (ioctlsocket's page: 'If no OOB data is "
    "waiting to be read, the operation returns TRUE'); Wine 8 inverts Linux's at-mark, which "
    "stays true after the urgent byte is read"
)
_SHORT_FROMLEN = (
    "recvfrom with a fromlen below the sockaddr's size fails with WSAEFAULT before anything is "
    "received (recvfrom's page: WSAEFAULT when 'the fromlen parameter is too small to "
    "accommodate the source address of the peer address'); Wine 8 goes on to receive (here "
    "WSAEWOULDBLOCK, nothing being there; with a datagram waiting it takes it and writes -1 "
    "into fromlen)"
)
_ENUM_PROTOCOLS_UNSTARTED = (
    "WSAEnumProtocols without WSAStartup in force is WSANOTINITIALISED (its page: 'A successful "
    "WSAStartup call must first occur before using this function'; ReactOS's starts with the "
    "start-up check); Wine 8 enumerates anyway (after WSACleanup it answers the catalog)"
)
_ROUTINE_ABORTED = (
    "a pending receive cancelled by closesocket completes with WSA_OPERATION_ABORTED, the "
    "dwError its completion routine gets (WSARecv's page: 'The overlapped operation has been "
    "canceled due to the closure of the socket'); Wine 8 gives the routine WSAEINVAL"
)
WINE_DIFFERS: dict[str, dict[str, str]] = {
    "overlapped_routines": {"cancel_error": _ROUTINE_ABORTED},
    "options": {
        "extension_pointer_short": _EXTENSION_POINTER_SHORT,
        "extension_pointer_short_error": _EXTENSION_POINTER_SHORT,
        "setsockopt_before_startup_error": _SETSOCKOPT_STARTED,
        "error_as_set_value": _SO_ERROR_SET,
        "add_membership_short_error": _MREQ_SHORT,
        "poll_pollpri": _POLLPRI,
        "poll_pollpri_error": _POLLPRI,
        "atmark_read_value": _ATMARK_READ,
    },
    "event_waits": {
        "wait_all_duplicate": _DUPLICATE_WAIT,
        "wait_all_duplicate_error": _DUPLICATE_WAIT,
    },
    "kernel_handles": {
        "wait_all_duplicate": _DUPLICATE_WAIT,
        "wait_all_duplicate_error": _DUPLICATE_WAIT,
    },
    "names": {
        "getaddrinfo_before_startup": _NAMES_NEED_STARTUP,
        "getaddrinfo_before_startup_error": _NAMES_NEED_STARTUP,
        "gethostbyaddr_short_error": _GETHOSTBYADDR_SHORT,
        "getaddrinfo_localhost_has_127": _ONE_ENTRY_PER_ADDRESS,
        "getaddrinfo_localhost_socktype": _ONE_ENTRY_PER_ADDRESS,
        "getaddrinfo_localhost_protocol": _ONE_ENTRY_PER_ADDRESS,
        "getnameinfo_bad_family_error": _NAMEINFO_LAST_ERROR,
    },
    "net_policy": {name: _NONBLOCKING_UNREACHABLE for name in (
        "nonblocking_connect_error", "nonblocking_select", "nonblocking_failed",
        "nonblocking_so_error", "event_connect_error", "event_wait", "event_bits",
        "event_connect_code")},
    "addresses": {
        **{name: _UNSTARTED for name in (
            "gethostname_unstarted", "gethostname_unstarted_error", "a2s_unstarted",
            "a2s_unstarted_error", "s2a_unstarted", "s2a_unstarted_error")},
        **{name: _ADDRESS_TO_STRING_NULL for name in (
            "a2s4_null_length_error", "a2s4_null_address_error",
            "a2s4_zero_address_length_error")},
        "pton6_gap_then_seven": _GAP_THEN_SEVEN,
        "gaa_bad_family": (
            "GetAdaptersAddresses with a family other than AF_UNSPEC, AF_INET and AF_INET6 is "
            "ERROR_INVALID_PARAMETER (its page: 'the Family parameter was not AF_INET, "
            "AF_INET6, or AF_UNSPEC'); Wine 8 answers it as AF_UNSPEC"),
    },
    "transfer": {"recvfrom_short_fromlen_error": _SHORT_FROMLEN},
    "protocols": {name: _ENUM_PROTOCOLS_UNSTARTED for name in (
        "before_startup_error", "after_cleanup", "after_cleanup_error")},
    "async_select": {
        **{name: (
            "WSAAsyncSelect with a window handle that names no window is WSAEINVAL (its page: "
            "'the window handle not referring to an existing window'); Wine 8 accepts any "
            "handle") for name in ("select_bad_window", "select_bad_window_error")},
        "create_unknown_class_error": (
            "CreateWindowEx of a class never registered is ERROR_CANNOT_FIND_WND_CLASS (1407, "
            "'Cannot find window class'); Wine 8 gives ERROR_CLASS_DOES_NOT_EXIST (1411)"),
        "destroy_twice_error": (
            "DestroyWindow of a window destroyed already is ERROR_INVALID_WINDOW_HANDLE (its "
            "handle is no window any more); Wine 8 gives ERROR_ACCESS_DENIED"),
    },
}

# The checks whose values differ between a program's i686 and x86_64 builds, both right: a
# structure's size, which its pointers make larger on x64.  Where an x86 run is compared with
# an x64 one (Wine here runs x64 alone) they are left out as WINE_DIFFERS are; each build's
# own run still checks them against its own sizeof.
_POINTER_RETURNED = ("SIO_GET_EXTENSION_FUNCTION_POINTER returns a function pointer's size: 4 "
                     "bytes on x86, 8 on x64")
ARCH_DIFFERS: dict[str, dict[str, str]] = {
    "options": {"extension_pointer_returned": _POINTER_RETURNED},
    "iocp_echo": {"connectex_pointer_size": _POINTER_RETURNED},
    "addresses": {
        "gaa_loopback_length": "IP_ADAPTER_ADDRESSES.Length is its size: 376 bytes on x86, "
                               "448 on x64",
        "gaa_unicast_length": "IP_ADAPTER_UNICAST_ADDRESS.Length is its size: 48 bytes on "
                              "x86, 64 on x64",
    },
}


def compared_checks(run: CompletedRun, differs: Collection[str] = ()) -> list[Check]:
    """The checks of a run that a comparison with Wine looks at: all but the x_ checks and
    ``differs`` (the program's WINE_DIFFERS)."""
    return [check for check in run.checks
            if not check.extension and check.name not in differs]


def wine_problems(run: CompletedRun, differs: Collection[str] = ()) -> list[str]:
    """Where a run under Wine is not what it must be (empty when it is): a check that failed,
    the x_ checks and ``differs`` aside, or one of ``differs`` that passed, which means Wine
    now gives the Windows behaviour and the name must leave WINE_DIFFERS (noticed, so that
    the list shrinks)."""
    problems = [f"{check.name}: got {check.got}, want {check.want}"
                for check in run.failed(extensions=False) if check.name not in differs]
    problems += [f"Wine now gives the Windows behaviour for {name}: remove it from "
                 f"programs.WINE_DIFFERS" for name in differs if run.check(name).ok]
    return problems


# The runs of run_all_under_wine: label -> program. echo_client runs twice, its port given as
# the argument and through the environment (an emulator may start it without a command line).
# The programs of OUTSIDE_ADDRESS_PROGRAMS are not among them: see test_policy_programs.py.
WINE_RUNS: dict[str, str] = {**{name: name for name in LOOPBACK_PROGRAMS},
                             "echo_client_env": "echo_client"}


class WineRuns(NamedTuple):
    runs: dict[str, CompletedRun]  # by WINE_RUNS label
    connections: int  # what the echo server saw during the runs
    bytes_echoed: int


def run_all_under_wine(wine: WinePrefix, built: Mapping[tuple[str, str], Path],
                       echo: EchoServer) -> WineRuns:
    """Every 64-bit program under Wine, all at once: each takes a few tens of milliseconds
    but event_wake, which waits 5 s for a wake-up that only ws2core can deliver."""
    port = str(echo.port)
    jobs: dict[str, tuple[Path, tuple[str, ...], Mapping[str, str] | None]] = {
        label: (built[name, "x86_64"], (), None) for label, name in WINE_RUNS.items()
    }
    jobs["echo_client"] = (jobs["echo_client"][0], (port,), None)
    jobs["echo_client_env"] = (jobs["echo_client_env"][0], (), {"WS2CORE_ECHO_PORT": port})
    connections, echoed = echo.counts()
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = {label: pool.submit(wine.run, exe, args, env, 60)
                   for label, (exe, args, env) in jobs.items()}
        runs = {label: future.result() for label, future in futures.items()}
    connections_after, echoed_after = echo.counts()
    return WineRuns(runs, connections_after - connections, echoed_after - echoed)


# ---------------------------------------------------------------------------------------------
# console.c and the README's sample: programs that print what a person reads (test_run.py,
# and the Qiling tests), not CHECK lines

ROOT = HERE.parent.parent
SAMPLE = ROOT / "examples" / "hello_winsock.c"
CONSOLE = HERE / "console.c"
CONSOLE_ARGS: tuple[str, ...] = ("one", "two words")
CONSOLE_ENV: dict[str, str] = {"WS2CORE_GREETING": "hello"}
CONSOLE_EXIT = 7
# console.c passes conversions that only one of the two format checkers (gnu_printf for
# mingw's printf, ms_printf for msvcrt's) knows: -Wno-format, and no -Werror for that.
CONSOLE_STDIO: dict[str, tuple[str, ...]] = {
    "mingw": ("-O1", "-Wno-format"),
    "msvcrt": ("-O1", "-Wno-format", "-D__USE_MINGW_ANSI_STDIO=0")}


def build_console(stdio: str, arch: str, cache_dir: Path) -> Path:
    """console.c built with ``stdio``'s printf ("mingw" or "msvcrt") for ``arch``."""
    return build_source(CONSOLE, f"console_{stdio}", arch, cache_dir, CONSOLE_STDIO[stdio])


def unix_lines(data: bytes | str) -> str:
    """Output as text with Windows line ends made "\\n" (msvcrt's text mode writes "\\r\\n"
    under Wine; ws2core's run-time passes the program's bytes on unchanged)."""
    text = data.decode() if isinstance(data, bytes) else data
    return text.replace("\r\n", "\n")


def sample_command() -> list[str]:
    """The x86_64 build command in the sample's own header, as a reader would copy it."""
    for line in SAMPLE.read_text().splitlines():
        if "x86_64-w64-mingw32-gcc" in line:
            return shlex.split(line.strip(" */"))
    raise AssertionError(f"{SAMPLE} no longer says how to build it")


def build_sample(arch: str, out: Path) -> Path:
    """The sample built into ``out`` with the command its header gives (``arch``'s compiler
    in place of x86_64's), run from the repository's root as the header assumes."""
    require_compiler(arch)
    command = [word.replace("x86_64", arch) if word.endswith("-gcc") else word
               for word in sample_command()]
    exe = out / f"hello_winsock-{arch}.exe"
    command[command.index("-o") + 1] = str(exe)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)}:\n{done.stdout}{done.stderr}")
    return exe


_SAMPLE_ROUND = re.compile(r"round (\d+): the server got 22 bytes: hello (\d+) from the guest")


def sample_output_is(text: str, rounds: int) -> bool:
    """Whether ``text`` is the sample's output after ``rounds`` echo rounds (its port
    varies)."""
    lines = unix_lines(text).splitlines()
    return (len(lines) == rounds + 2
            and re.fullmatch(r"listening on 127\.0\.0\.1:\d+", lines[0]) is not None
            and all(_SAMPLE_ROUND.fullmatch(line) is not None for line in lines[1:-1])
            and lines[-1] == "done")


# ---------------------------------------------------------------------------------------------
# The host side of echo_client

class EchoServer:
    """A TCP echo server on 127.0.0.1 at a port the system chose, one thread per connection,
    until close(). It counts connections and echoed bytes, so a test can tell that a
    program's traffic really reached the host."""

    def __init__(self) -> None:
        server = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                connection: socket.socket = self.request
                connection.settimeout(60)  # a client that stops talking ends, not hangs
                server._count(connections=1)
                while data := connection.recv(65536):
                    connection.sendall(data)
                    server._count(echoed=len(data))

        self._lock = threading.Lock()
        self.connections = 0
        self.bytes_echoed = 0
        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        name="echo-server", daemon=True)
        self._thread.start()

    def _count(self, connections: int = 0, echoed: int = 0) -> None:
        with self._lock:
            self.connections += connections
            self.bytes_echoed += echoed

    def counts(self) -> tuple[int, int]:
        """(connections, bytes echoed) so far."""
        with self._lock:
            return self.connections, self.bytes_echoed

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> EchoServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


# The bytes echo_client sends (and must get back) in one run.
ECHO_CLIENT_BYTES = 5 + 1 + 3000 + 20000


# ---------------------------------------------------------------------------------------------
# The pytest plugin of the test files in this folder: pytest_plugins = ("programs",)
#
# Not a conftest.py: test files in tests/ import the suite's conftest by name (`from conftest
# import ...`), and every conftest.py outside a package is module "conftest", so a second one
# would take the first one's place in sys.modules.

_early_wine: WinePrefix | None = None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "emulator: runs a Windows test program of tests/emulator (mingw-w64; Wine or Speakeasy)")


@pytest.hookimpl(tryfirst=True)  # before `-m` selects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.parent == HERE:
            item.add_marker("emulator")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Starts booting the Wine prefix as soon as a collected test needs it: that takes
    seconds, and so does compiling the programs, which runs meanwhile (`wine` waits for
    both)."""
    global _early_wine
    if _early_wine is None and any("wine" in getattr(item, "fixturenames", ())
                                   for item in session.items):
        loader = find_wine64()
        if loader is not None:  # without one the fixture skips (fails under CI)
            path = Path(tempfile.mkdtemp(prefix="ws2core-wine-")) / "prefix"
            _early_wine = WinePrefix(path, loader)
            _early_wine.start_boot()


def pytest_sessionfinish(session: pytest.Session) -> None:
    # Also when no test got as far as the `wine` fixture (after -x, or a failed build).
    global _early_wine
    if _early_wine is not None:
        _early_wine.close()
        with contextlib.suppress(OSError):  # the mkdtemp directory, empty without the prefix
            _early_wine.path.parent.rmdir()
        _early_wine = None


def cache_folder(config: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where compiled programs are kept: pytest's cache directory (.pytest_cache), so an
    unchanged program is not compiled again next session (a build is named by a hash of its
    inputs, so it is never stale); a session directory under -p no:cacheprovider."""
    cache = getattr(config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("ws2core-emulator-programs"))
    return tmp_path_factory.mktemp("programs")


@pytest.fixture(scope="session")
def program_cache(request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``cache_folder``: where compiled programs are kept."""
    return cache_folder(request.config, tmp_path_factory)


@pytest.fixture(scope="session")
def built_programs(program_cache: Path) -> dict[tuple[str, str], Path]:
    """Every program for both arches: {(name, arch): exe}, arch "x86_64" or "i686"."""
    return build_all(program_cache)


@pytest.fixture(scope="session")
def wine(built_programs: dict[tuple[str, str], Path],
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[WinePrefix]:
    """A booted Wine prefix for the 64-bit programs (no 32-bit Wine is needed)."""
    prefix = _early_wine
    if prefix is None:
        prefix = WinePrefix(tmp_path_factory.mktemp("wine") / "prefix")
        prefix.start_boot()
    prefix.wait_booted()
    try:
        yield prefix
    finally:
        prefix.close()


@pytest.fixture(scope="session")
def wine_runs(wine: WinePrefix, built_programs: dict[tuple[str, str], Path],
              echo_server: EchoServer) -> WineRuns:
    """run_all_under_wine, once per session: the Wine side of every comparison."""
    return run_all_under_wine(wine, built_programs, echo_server)


@pytest.fixture(scope="session")
def echo_server() -> Iterator[EchoServer]:
    """An echo server on 127.0.0.1 for echo_client: pass str(echo_server.port) as its
    argument or as WS2CORE_ECHO_PORT in its environment."""
    with EchoServer() as server:
        yield server


@pytest.fixture(scope="session")
def speakeasy() -> ModuleType:
    """The speakeasy package; a skip (a failure under CI) where it is not installed."""
    try:
        import speakeasy as module
    except ImportError as error:
        missing(f"Speakeasy is not installed ({error}): pip install 'ws2core[speakeasy]'")
    return module
