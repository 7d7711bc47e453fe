"""The Windows test programs under Qiling with ws2core behind their Winsock (issue 20).

Qiling cannot share an environment with Speakeasy (unicorn 2 against Speakeasy's pinned
1.0.2), so these tests run in a virtual environment of their own (``make qiling``) and are
marked ``qiling``: the other stages deselect them by that marker, and where Qiling is not
installed the module skips (never a failure, under CI neither: the Speakeasy environment
has no Qiling by design).  The rootfs is ``windows_rootfs()`` of Wine's DLLs, built once
per architecture into pytest's cache folder.  (The folder is not named ``qiling``: tests/ is
on ``sys.path``, and a folder of that name would pass for the package where it is missing.)

Every test that runs a program runs for both ABIs (the ``abi`` fixture): x64 with Wine's
64-bit DLLs (wine64), x86 with its 32-bit ones, found installed (libwine:i386) or extracted
under ``$WS2CORE_WINE_ROOT`` (``make qiling`` extracts them there); without them the x86
tests skip saying what to install, and fail instead under CI=true.

Each program must pass every check under Qiling (the x_ checks included), as under
Speakeasy, and print the same CHECK lines as under Wine but for the x_ checks and
programs.WINE_DIFFERS.  Wine here is wine64 alone (no 32-bit Wine: 314 i386 packages), so
an x86 run is compared with Wine's run of the x64 build of the same program, whose CHECK
lines are the same but for the sizes of structures that hold pointers (programs.ARCH_DIFFERS).
Beside them: the stock runs (Qiling's own Winsock: the README's count), console.c's output
against Wine's, ``python -m ws2core run --emulator qiling``, what a guest may write in a
loaded image, and net_policy in a network namespace with only loopback up (marked
``isolated_network``, as under Speakeasy).
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

qiling = pytest.importorskip("qiling", reason="Qiling is not installed: pip install 'ws2core[qiling]' "
                             "(in an environment without Speakeasy)")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "emulator"))
import programs  # tests/emulator: the programs' build and CHECK protocol

import ws2core
from ws2core.adapters.qiling import HANDLE_RANGE, run, windows_rootfs

pytestmark = pytest.mark.qiling

# The ABI -> (the programs' build arch, windows_rootfs's arch).
ABIS: dict[str, tuple[str, str]] = {"x64": ("x86_64", "x8664"), "x86": ("i686", "x86")}
# A test of x64 alone (the stock counts: the README's table is of x64 runs).
X64_ONLY = pytest.mark.parametrize("abi", ["x64"], indirect=True)

# The programs proved under Qiling so far; the others are the next step (issue 20):
# kernel_handles stops at SetEvent on Qiling's own event (below); event_wake and echo_client
# have tests of their own.
QILING_PROGRAMS: tuple[str, ...] = (
    "select_fdset", "event_waits", "event_select", "event_reselect", "bad_input", "echo_self",
    "names", "addresses", "options", "transfer", "protocols", "overlapped_events", "apcs",
    "overlapped_routines", "iocp_echo", "async_select")


def run_under_qiling(exe: Path, rootfs: Path, args: tuple[str, ...] = ()) -> programs.CompletedRun:
    """One program under Qiling with ws2core (``ws2core.adapters.qiling.run``), as the
    CompletedRun of tests/emulator: the exception that stopped Qiling, if one did, as its
    stderr."""
    done = run(exe, args, rootfs=rootfs, max_block=2.0)
    return programs.CompletedRun(exe, args, done.exit_code, done.stdout.decode("utf-8", "replace"),
                                 done.stopped or "", done.seconds)


@pytest.fixture(scope="module", params=sorted(ABIS))
def abi(request: pytest.FixtureRequest) -> str:
    """Every test that takes it (or ``rootfs``) runs once per ABI, all of x64's first."""
    return str(request.param)


@pytest.fixture(scope="module")
def rootfs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           abi: str) -> Path:
    """The rootfs for ``abi``; a skip (a failure under CI) naming what to install when
    Wine's DLLs for it are not found."""
    cache = getattr(request.config, "cache", None)
    folder = (Path(cache.mkdir("ws2core-qiling-rootfs")) if cache is not None
              else tmp_path_factory.mktemp("rootfs"))
    try:
        return windows_rootfs(folder, arch=ABIS[abi][1])
    except FileNotFoundError as missing:
        programs.missing(str(missing))


def build(name: str, abi: str, cache: Path) -> Path:
    return programs.build(name, ABIS[abi][0], cache)


@pytest.fixture(scope="module")
def program_cache(request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/emulator's cache of compiled programs (the same key, so no second build)."""
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("ws2core-emulator-programs"))
    return tmp_path_factory.mktemp("programs")


@pytest.fixture(scope="module")
def wine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[programs.WinePrefix]:
    if programs.find_wine64() is None:
        programs.missing("wine64 is not installed (Debian: apt-get install wine64)")
    with programs.WinePrefix(tmp_path_factory.mktemp("wine") / "prefix") as prefix:
        prefix.start_boot()
        yield prefix


def test_rootfs_holds_the_dlls_and_hives(abi: str, rootfs: Path) -> None:
    system32 = rootfs / "Windows" / "System32"
    names = {path.name for path in system32.iterdir() if path.suffix == ".dll"}
    assert {"ntdll.dll", "kernel32.dll", "kernelbase.dll", "msvcrt.dll", "ws2_32.dll"} <= names
    assert not any((system32 / name).is_symlink() for name in names)
    assert windows_rootfs(rootfs.parent.parent, arch=ABIS[abi][1]) == rootfs   # reused
    machines = {name: programs.read_pe(system32 / name).arch for name in names}
    assert set(machines.values()) == {ABIS[abi][0]}, machines   # the ABI's DLLs alone


@pytest.mark.parametrize("name", QILING_PROGRAMS)
def test_program_passes_under_qiling_and_matches_wine(
        name: str, abi: str, rootfs: Path, program_cache: Path,
        wine: programs.WinePrefix) -> None:
    exe = build(name, abi, program_cache)
    run = run_under_qiling(exe, rootfs)
    assert run.inconsistencies() == [], run.describe()
    assert run.failed() == [], run.describe()
    assert run.returncode == 0, run.describe()
    under_wine = wine.run(build(name, "x64", program_cache))   # wine64 runs x64 alone
    by_size = programs.ARCH_DIFFERS.get(name, {}) if abi != "x64" else {}
    differs = {**programs.WINE_DIFFERS.get(name, {}), **by_size}
    assert programs.compared_checks(run, differs) == programs.compared_checks(under_wine, differs), \
        (run.describe(), under_wine.describe())
    # Each of ARCH_DIFFERS does differ (a name that no longer does must leave the list).
    assert all(run.check(check).got != under_wine.check(check).got for check in by_size), \
        (run.describe(), under_wine.describe())


def test_a_kernel_call_qiling_lacks_stops_the_run_loudly(abi: str, rootfs: Path,
                                                          program_cache: Path) -> None:
    """kernel_handles' last part: an event of Qiling's own (CreateEventA).  Its waits go to
    Qiling's handlers (WaitForMultipleObjectsEx, which Qiling lacks, to its
    WaitForMultipleObjects: the next test); SetEvent, which Qiling lacks, stops the run with
    an error rather than run Wine's code into a system call."""
    run = run_under_qiling(build("kernel_handles", abi, program_cache), rootfs)
    assert run.failed() == [], run.describe()
    assert run.check("kernel_event_wait_many_ex").ok, run.describe()
    assert "kernel_event_set" not in {check.name for check in run.checks}, run.describe()
    assert run.returncode is None, run.describe()
    assert re.match(r"NotServedByQiling: kernel32\.SetEvent\(0xa[0-9a-f]{7}\) on a handle that is "
                    r"not ws2core's: Qiling 1\.4\.6 has no SetEvent", run.stderr), run.describe()


def test_a_handover_returns_as_the_export_would(abi: str, rootfs: Path,
                                                program_cache: Path) -> None:
    """WaitForMultipleObjectsEx on a handle that is not ws2core's, called as a guest calls it
    on a loaded program: Qiling's WaitForMultipleObjects answers (0), and the call returns to
    its caller with the stack as the export leaves it, all five stdcall arguments popped on
    x86 where Qiling's handler pops four (a program does not notice a wrong stack pointer
    before it returns from main: kernel_handles stops earlier)."""
    from ws2core.adapters import qiling as adapter

    ql = qiling.Qiling([str(build("kernel_handles", abi, program_cache))], str(rootfs),
                       verbose=0, libcache=True)
    with adapter.install(ql) as installation:
        guest = adapter._Guest(ql, adapter._import_qiling(), installation.exports.ptr_size)
        handles = guest.allocate(8)            # one null handle: not ws2core's, nor Qiling's
        arguments = (1, handles, 0, 0, 0)      # nCount, lpHandles, bWaitAll, 0 ms, bAlertable
        return_address = 0x1234
        if abi == "x86":                       # stdcall: the arguments on the stack
            for value in reversed(arguments):
                ql.arch.stack_push(value)
        else:                                  # Microsoft x64: four in registers, the fifth
            ql.arch.stack_push(arguments[4])   # above the caller's 32-byte home space
            ql.arch.regs.arch_sp -= 32
            ql.arch.regs.rcx, ql.arch.regs.rdx, ql.arch.regs.r8, ql.arch.regs.r9 = arguments[:4]
        ql.arch.stack_push(return_address)
        at_call = ql.arch.regs.arch_sp
        hook = ql.os.user_defined_api[qiling.const.QL_INTERCEPT.CALL]["WaitForMultipleObjectsEx"]
        hook(ql, 0, "WaitForMultipleObjectsEx")
        assert ql.arch.regs.arch_pc == return_address
        assert ql.arch.regs.arch_sp == at_call + (4 + 5 * 4 if abi == "x86" else 8)
        assert ql.arch.regs.read("eax") == 0   # WAIT_OBJECT_0, Qiling's answer


def test_run_says_how_a_program_ended(abi: str, rootfs: Path, program_cache: Path) -> None:
    """Through ws2core's C run-time (install_runtime): echo_client without a port says so
    and exits with 1."""
    exe = build("echo_client", abi, program_cache)
    seen: list[tuple[int, bytes]] = []
    done = run(exe, rootfs=rootfs, environment={}, output=lambda *written: seen.append(written))
    assert done.exit_code == 1 and done.stopped is None and done.error == {}, done
    assert done.abi == abi and done.leaked == () and done.network == ()
    assert b"".join(data for stream, data in seen if stream == 1) == done.stdout
    checks, result = programs.parse_checks(done.stdout.decode())
    assert checks == [programs.Check("port_given", 0, 1, False)] and result == programs.Result(0, 1)


@pytest.mark.parametrize("through", ["argument", "environment"])
def test_echo_client_reaches_the_host_echo_server(abi: str, rootfs: Path, program_cache: Path,
                                                  through: str) -> None:
    exe = build("echo_client", abi, program_cache)
    with programs.EchoServer() as server:
        port = str(server.port)
        done = run(exe, (port,) if through == "argument" else (), rootfs=rootfs,
                   environment={"WS2CORE_ECHO_PORT": port} if through == "environment" else {})
        counts = server.counts()
    ours = programs.CompletedRun(exe, done.args, done.exit_code,
                                 done.stdout.decode("utf-8", "replace"), done.stopped or "",
                                 done.seconds)
    assert ours.inconsistencies() == [] and ours.failed() == [], ours.describe()
    assert counts == (1, programs.ECHO_CLIENT_BYTES), ours.describe()
    assert done.network and all(attempt.verdict == "allowed" for attempt in done.network)


# LastErrorValue's offset in the TEB (SPEC.md), and the TEB's pointer to itself
# (NT_TIB.Self), through which Wine's code finds it (fs:[0x18], gs:[0x30]).
TEB_LAST_ERROR = {"x64": 0x68, "x86": 0x34}
TEB_SELF = {"x64": 0x30, "x86": 0x18}


def test_the_guest_over_qiling(abi: str, rootfs: Path, program_cache: Path) -> None:
    """The Guest the hooks use, on a loaded program before it runs: memory through ql.mem
    (GuestFault off the map), the heap, and the last error where both readers look."""
    from ws2core.adapters import qiling as adapter
    from ws2core.guest import GuestFault

    exe = build("select_fdset", abi, program_cache)
    ql = qiling.Qiling([str(exe)], str(rootfs), verbose=0, libcache=True)
    ptr_size = ql.arch.bits // 8
    assert ptr_size == (8 if abi == "x64" else 4)
    guest = adapter._Guest(ql, adapter._import_qiling(), ptr_size)
    address = guest.allocate(24)
    assert guest.read(address, 24) == bytes(24)
    guest.write(address, b"ws2core")
    assert guest.read(address, 7) == b"ws2core"
    assert guest.readable(address, 24) and guest.writable(address, 24)
    unmapped = 0x10000   # below every mapping Qiling makes (its image bases: 0x140000000, 0x400000)
    assert not guest.readable(unmapped, 1) and not guest.writable(unmapped, 1)
    with pytest.raises(GuestFault):
        guest.read(unmapped, 4)
    with pytest.raises(GuestFault):
        guest.write(unmapped, b"x")
    guest.release(address)
    guest.set_last_error(10035)
    teb = ql.loader.TEB.TebAddress
    assert int.from_bytes(ql.mem.read(teb + TEB_SELF[abi], ptr_size), "little") == teb
    assert int.from_bytes(ql.mem.read(teb + TEB_LAST_ERROR[abi], 4), "little") == 10035
    assert ql.os.last_error == 10035 and guest.get_last_error() == 10035
    assert guest.thread_id() == ql.os.thread_manager.cur_thread.id
    with pytest.raises(NotImplementedError):
        guest.run_function(address, ())


def test_event_wake_is_woken_by_a_host_thread(abi: str, rootfs: Path, program_cache: Path) -> None:
    """event_wake prints its event's handle and waits 5 s on it; a host thread sets it
    0.2 s later through the table, and the guest's wait ends then (x_woken_by_host).  Not
    run under Wine here: there nothing wakes it, so it waits its 5 s (test_wine.py does)."""
    table = ws2core.UpcallTable(abi=abi, handle_range=HANDLE_RANGE)
    threads: list[threading.Thread] = []
    pending = bytearray()

    def output(stream: int, data: bytes) -> None:
        pending.extend(data)
        *lines, rest = pending.split(b"\n")
        pending[:] = rest
        for line in lines:
            handle = programs.parse_value(line.decode("utf-8", "replace"), "EVENT")
            if handle is not None:
                def wake(handle: int = handle) -> None:
                    time.sleep(0.2)
                    table.table.set_event(handle)
                threads.append(threading.Thread(target=wake, name="host-waker"))
                threads[-1].start()

    exe = build("event_wake", abi, program_cache)
    done = run(exe, rootfs=rootfs, table=table, output=output)
    for thread in threads:
        thread.join(timeout=10)
    ours = programs.CompletedRun(exe, (), done.exit_code, done.stdout.decode("utf-8", "replace"),
                                 done.stopped or "", done.seconds)
    assert len(threads) == 1 and ours.failed() == [] and ours.returncode == 0, ours.describe()
    assert done.seconds < 5.0, ours.describe()


def test_images_are_writable_only_in_their_writable_sections(abi: str, rootfs: Path,
                                                              program_cache: Path) -> None:
    """Qiling maps the program and every DLL read, write and execute; the Guest answers as
    Windows maps them: headers, .text and .rdata read-only, .data writable.  Through an
    export as well: getsockname into .rdata fails with WSAEFAULT and writes nothing."""
    import pefile

    from ws2core.adapters import qiling as adapter
    from ws2core.guest import EXPORTS, Exports
    from ws2core.ws2_32 import Ws2_32

    exe = build("select_fdset", abi, program_cache)
    ql = qiling.Qiling([str(exe)], str(rootfs), verbose=0, libcache=True)
    guest = adapter._Guest(ql, adapter._import_qiling(), ql.arch.bits // 8)
    images = {Path(image.path).name.lower(): image for image in ql.loader.images}
    for name in (exe.name.lower(), "ws2_32.dll", "kernel32.dll"):
        image = images[name]
        pe = pefile.PE(image.path, fast_load=True)
        sections = {section.Name.rstrip(b"\0").decode(): image.base + section.VirtualAddress
                    for section in pe.sections}
        assert guest.readable(image.base, 16), name
        for read_only in (image.base, sections[".text"], sections[".rdata"]):
            assert guest._covered_with(read_only, 16, adapter._import_qiling().write), name
            assert not guest.writable(read_only, 16), (name, hex(read_only))
        assert guest.writable(sections[".data"], 16), name
        before_data = max((section for section in pe.sections
                           if image.base + section.VirtualAddress < sections[".data"]),
                          key=lambda section: section.VirtualAddress)
        if not before_data.Characteristics & 0x80000000:   # IMAGE_SCN_MEM_WRITE
            assert not guest.writable(sections[".data"] - 8, 16), name   # straddles both

    exports = Exports(Ws2_32(ws2core.UpcallTable(abi=abi, handle_range=HANDLE_RANGE)))
    served = {export.name: exports.hook(export) for export in EXPORTS}
    scratch = guest.allocate(0x400)
    assert served["WSAStartup"](guest, [0x0202, scratch]) == 0
    s = served["socket"](guest, [ws2core.AF_INET, ws2core.SOCK_STREAM, 0])
    guest.write(scratch, bytes([2, 0, 0, 0, 127, 0, 0, 1]) + bytes(8))
    assert served["bind"](guest, [s, scratch, 16]) == 0
    rdata = images[exe.name.lower()].base + next(
        section.VirtualAddress for section in pefile.PE(str(exe), fast_load=True).sections
        if section.Name.startswith(b".rdata"))
    before = guest.read(rdata, 16)
    guest.write(scratch + 0x100, (16).to_bytes(4, "little"))
    assert served["getsockname"](guest, [s, rdata, scratch + 0x100]) == 0xFFFFFFFF
    assert guest.get_last_error() == ws2core.WSAEFAULT and guest.read(rdata, 16) == before
    assert served["getsockname"](guest, [s, scratch + 0x200, scratch + 0x100]) == 0
    assert served["closesocket"](guest, [s]) == 0 and served["WSACleanup"](guest, []) == 0


# ---------------------------------------------------------------------------------------
# Stock Qiling: its own Winsock (stubs over Wine's ws2_32), ws2core's C run-time alone


@X64_ONLY
@pytest.mark.parametrize("name", programs.LOOPBACK_PROGRAMS)
def test_stock_qiling(name: str, rootfs: Path, program_cache: Path,
                      capsys: pytest.CaptureFixture[str]) -> None:
    """Without the adapter, a program gets Qiling's WSAStartup stub and then Wine's ws2_32,
    which cannot work there: few checks pass.  The count is printed (the README's
    comparison comes from these lines)."""
    exe = programs.build(name, "x86_64", program_cache)
    # (Qiling's constructor asks sys.stdout for its fileno, which capsys's stand-in lacks.)
    with programs.EchoServer() as server, capsys.disabled():
        port = str(server.port)
        done = run(exe, (port,), rootfs=rootfs, winsock=False, timeout=30,
                   environment={"WS2CORE_ECHO_PORT": port})
    stock = programs.CompletedRun(exe, (port,), done.exit_code,
                                  done.stdout.decode("utf-8", "replace"), done.stopped or "",
                                  done.seconds)
    with capsys.disabled():
        print(f"\n{programs.stock_summary(name, 'x64', stock, done.stopped, 'Qiling')}")
    assert stock.failed() or stock.result is None, stock.describe()


# ---------------------------------------------------------------------------------------
# What a person reads: console.c against Wine, and `python -m ws2core run --emulator qiling`


@pytest.mark.parametrize("stdio", sorted(programs.CONSOLE_STDIO))
def test_console_output_is_wines(stdio: str, abi: str, rootfs: Path, program_cache: Path,
                                 wine: programs.WinePrefix) -> None:
    """ws2core's C run-time under Qiling (install_runtime) prints what Wine's msvcrt does,
    byte for byte but for text mode's line ends: with mingw's own printf and with msvcrt's
    (which Qiling's own printf would get wrong: ``%lld`` of -1).  On x86 the varargs are
    cdecl stack slots (a long long and a double take two); Wine's is the x64 build's output,
    console.c printing nothing whose width is the ABI's."""
    exe = programs.build_console(stdio, ABIS[abi][0], program_cache)
    done = run(exe, programs.CONSOLE_ARGS, rootfs=rootfs, environment=programs.CONSOLE_ENV)
    under_wine = wine.run(programs.build_console(stdio, "x86_64", program_cache),
                          programs.CONSOLE_ARGS, programs.CONSOLE_ENV, 60)
    assert done.stopped is None, done
    assert (done.exit_code, under_wine.returncode) == (programs.CONSOLE_EXIT,) * 2
    assert programs.unix_lines(done.stdout) == programs.unix_lines(under_wine.stdout)
    assert programs.unix_lines(done.stderr) == programs.unix_lines(under_wine.stderr)


def ws2core_run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ws2core", "run", "--emulator", "qiling",
                           *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "100"})


def test_run_command_runs_the_sample_under_qiling(abi: str, rootfs: Path,
                                                  tmp_path_factory: pytest.TempPathFactory
                                                  ) -> None:
    """The README's sample through ``python -m ws2core run --emulator qiling``: its echo
    rounds over real loopback sockets, ws2core's lines on stderr, the exit status its own."""
    exe = programs.build_sample(ABIS[abi][0], tmp_path_factory.mktemp("sample"))
    done = ws2core_run("--rootfs", str(rootfs), str(exe), "3")
    assert done.returncode == 0, done.stderr
    assert programs.sample_output_is(done.stdout, 3), done.stdout
    *_, ended, network = done.stderr.splitlines()
    assert re.fullmatch(rf"ws2core: hello_winsock-{ABIS[abi][0]}\.exe \({abi}\) exited with "
                        r"code 0, after \d+\.\d\d s", ended), done.stderr
    assert network == "ws2core: network: 2 attempts: 2 allowed (bind 127.0.0.1:0 and 1 more)"


def test_run_command_says_why_qiling_stopped(abi: str, rootfs: Path, program_cache: Path) -> None:
    """A program Qiling stops (kernel_handles at SetEvent on Qiling's own event): status
    125 and the reason, with the export named; ``--json`` says it too."""
    exe = build("kernel_handles", abi, program_cache)
    done = ws2core_run("--rootfs", str(rootfs), str(exe))
    assert done.returncode == 125, done.stderr
    assert re.search(rf"\({abi}\) stopped: NotServedByQiling: "
                     r"kernel32\.SetEvent\(0xa[0-9a-f]{7}\) on a handle that is not ws2core's",
                     done.stderr), done.stderr
    report = json.loads(ws2core_run("--json", "--rootfs", str(rootfs), str(exe)).stdout)
    assert report["exit_code"] is None and report["error"]["type"] == "NotServedByQiling"


# ---------------------------------------------------------------------------------------
# net_policy, which names outside addresses: only in a network namespace with only loopback up


@pytest.mark.isolated_network
@pytest.mark.parametrize("policy_name", ["default", "sinkhole"])
def test_net_policy_under_qiling(policy_name: str, abi: str, rootfs: Path, program_cache: Path,
                                 wine: programs.WinePrefix) -> None:
    """Under the adapter's default policy the program meets a machine without routes (its
    outside connects, bind and datagram refused, on record, and Wine in this namespace
    prints the same CHECK lines but for WINE_DIFFERS); under the sinkhole its connects reach
    the sink, which gets the program's request."""
    from ws2core.constants import WSAEADDRNOTAVAIL, WSAENETUNREACH
    from ws2core.policy import NetworkPolicy

    exe = build("net_policy", abi, program_cache)
    sinkhole = policy_name == "sinkhole"
    policy = NetworkPolicy.sinkhole(answers={80: programs.NET_POLICY_SINK_ANSWER}) \
        if sinkhole else None
    args = ("sinkhole",) if sinkhole else ()
    try:
        done = run(exe, args, rootfs=rootfs, policy=policy)
        received = policy.sink.received("tcp", ("192.0.2.1", 80)) if policy is not None else b""
    finally:
        if policy is not None:
            policy.close()
    ours = programs.CompletedRun(exe, args, done.exit_code, done.stdout.decode("utf-8", "replace"),
                                 done.stopped or "", done.seconds)
    assert ours.inconsistencies() == [] and ours.failed() == [], ours.describe()
    assert ours.returncode == 0 and done.leaked == (), ours.describe()
    outside = [attempt for attempt in done.network
               if attempt.kind != "resolve" and attempt.address[0] not in ("127.0.0.1", "0.0.0.0")]
    if sinkhole:
        assert received == programs.NET_POLICY_REQUEST
        assert [(a.kind, a.verdict) for a in outside if a.kind == "connect"] == \
            [("connect", "redirected")] * 3
        return
    assert [(a.kind, a.verdict, a.error) for a in outside] == [
        *[("connect", "refused", WSAENETUNREACH)] * 3, ("bind", "refused", WSAEADDRNOTAVAIL),
        ("sendto", "refused", WSAENETUNREACH)]
    wines = wine.run(build("net_policy", "x64", program_cache))   # wine64 runs x64 alone
    differs = programs.WINE_DIFFERS["net_policy"]
    assert programs.compared_checks(ours, differs) == programs.compared_checks(wines, differs), \
        (ours.describe(), wines.describe())


@pytest.mark.isolated_network
@X64_ONLY
def test_stock_qiling_net_policy(rootfs: Path, program_cache: Path,
                                 capsys: pytest.CaptureFixture[str]) -> None:
    """net_policy without the adapter, as test_stock_qiling's runs (the README's count)."""
    exe = programs.build("net_policy", "x86_64", program_cache)
    with capsys.disabled():   # (Qiling asks sys.stdout for its fileno: test_stock_qiling)
        done = run(exe, rootfs=rootfs, winsock=False, timeout=30)
        stock = programs.CompletedRun(exe, (), done.exit_code,
                                      done.stdout.decode("utf-8", "replace"), done.stopped or "",
                                      done.seconds)
        print(f"\n{programs.stock_summary('net_policy', 'x64', stock, done.stopped, 'Qiling')}")
    assert stock.failed() or stock.result is None, stock.describe()


# Guest functions for run_function (assembled from the comments): x64 rcx + 2*rdx + the fifth
# argument (on the stack above the home space); x86 stdcall a + 2*b + c, popping its three
# arguments; an invalid instruction (Qiling maps the page at 0, so a NULL read would not
# fault).
RUN_FUNCTION_CODE = {
    "x64": (bytes.fromhex("488d04514803442428c3"),   # lea rax,[rcx+rdx*2]; add rax,[rsp+40]; ret
            (1, 2, 3, 4, 100),
            bytes.fromhex("0f0bc3")),                 # ud2; ret
    "x86": (bytes.fromhex("8b4424048b5424088d04500344240cc20c00"),  # ...; ret 12
            (1, 2, 100),
            bytes.fromhex("0f0bc3")),                 # ud2; ret
}


def test_run_function_calls_in_the_abi_and_restores_registers(abi: str, rootfs: Path,
                                                               program_cache: Path) -> None:
    """run_function lays the arguments out in the guest's ABI (x64: registers, home space,
    then the stack; x86: the stack, a stdcall callee popping them), returns eax/rax, and
    leaves every saved register as it was; a function that faults is GuestFunctionFault,
    the registers as they were too."""
    from ws2core.adapters import qiling as adapter
    from ws2core.adapters._common import SAVED_REGISTERS, NestedCaller
    from ws2core.guest import GuestFunctionFault

    exe = build("select_fdset", abi, program_cache)
    ql = qiling.Qiling([str(exe)], str(rootfs), verbose=0, libcache=True)
    ptr_size = ql.arch.bits // 8
    caller = NestedCaller(ptr_size, lambda: adapter._map_return_page(ql))
    guest = adapter._Guest(ql, adapter._import_qiling(), ptr_size, caller)
    assert guest.runs_functions
    code, args, faulting = RUN_FUNCTION_CODE[abi]
    function = guest.allocate(0x1000)
    ql.mem.write(function, code)
    ql.mem.write(function + 0x100, faulting)
    constants = importlib.import_module("unicorn.x86_const")
    registers = [getattr(constants, f"UC_X86_REG_{name}") for name in SAVED_REGISTERS[ptr_size]]
    before = [ql.uc.reg_read(register) for register in registers]
    assert guest.run_function(function, args) == 105
    assert [ql.uc.reg_read(register) for register in registers] == before
    with pytest.raises(GuestFunctionFault):
        guest.run_function(function + 0x100, ())
    assert [ql.uc.reg_read(register) for register in registers] == before
    assert guest.run_function(function, args) == 105   # the engine still runs
    assert guest.is_current_thread(-2) and guest.is_current_thread(
        ql.os.thread_manager.cur_thread.id)


# A window procedure (hwnd, message, wParam, lParam) returning message + wParam: x64
# rdx + r8; x86 stdcall, popping its four arguments.
WINDOW_PROCEDURE_CODE = {
    "x64": bytes.fromhex("4a8d0402c3"),                  # lea rax,[rdx+r8]; ret
    "x86": bytes.fromhex("8b442408" "0344240c" "c21000"),  # mov eax,[esp+8]; add eax,[esp+12]; ret 16
}


def test_dispatch_message_runs_the_window_procedure(abi: str, rootfs: Path,
                                                   program_cache: Path) -> None:
    """DispatchMessage of a message for one of the guest's windows calls its class's window
    procedure with the message's hwnd, message, wParam and lParam (run_function) and returns
    its result; the async_select program leaves it out, as Speakeasy cannot run one."""
    import struct

    from ws2core.adapters import qiling as adapter
    from ws2core.adapters._common import NestedCaller
    from ws2core.guest import EXPORTS, Exports
    from ws2core.ws2_32 import Ws2_32

    exe = build("select_fdset", abi, program_cache)
    ql = qiling.Qiling([str(exe)], str(rootfs), verbose=0, libcache=True)
    ptr_size = ql.arch.bits // 8
    caller = NestedCaller(ptr_size, lambda: adapter._map_return_page(ql))
    guest = adapter._Guest(ql, adapter._import_qiling(), ptr_size, caller)
    exports = Exports(Ws2_32(ws2core.UpcallTable(abi=abi)), max_block=1.0)
    hooks = {export.name: exports.hook(export) for export in EXPORTS}
    memory = guest.allocate(0x400)
    procedure, name, window_class, msg = memory, memory + 0x100, memory + 0x200, memory + 0x300
    ql.mem.write(procedure, WINDOW_PROCEDURE_CODE[abi])
    ql.mem.write(name, b"ws2core_dispatch\0")
    word = "Q" if ptr_size == 8 else "I"
    ql.mem.write(window_class, struct.pack(f"<II{word}ii{word * 7}", 80 if ptr_size == 8 else 48,
                                           0, procedure, 0, 0, 0, 0, 0, 0, 0, name, 0))
    try:
        assert hooks["RegisterClassExA"](guest, [window_class]) >= 0xC000
        message_only = (1 << 8 * ptr_size) - 3
        hwnd = hooks["CreateWindowExA"](guest, [0, name, 0, 0, 0, 0, 0, 0, message_only, 0, 0, 0])
        assert hwnd and exports.ws2_32.upcalls.is_window(hwnd)
        assert hooks["PostMessageA"](guest, [hwnd, 0x401, 7, 9]) == 1
        assert hooks["GetMessageA"](guest, [msg, 0, 0, 0]) == 1
        assert hooks["DispatchMessageA"](guest, [msg]) == 0x401 + 7
    finally:
        exports.close()
        exports.ws2_32.close()
