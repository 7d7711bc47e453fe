"""The Windows test programs under Qiling with ws2core behind their Winsock (issue 20).

Qiling cannot share an environment with Speakeasy (unicorn 2 against Speakeasy's pinned
1.0.2), so these tests run in a virtual environment of their own (``make qiling``) and are
marked ``qiling``: the other stages deselect them by that marker, and where Qiling is not
installed the module skips (never a failure, under CI neither: the Speakeasy environment
has no Qiling by design).  The rootfs is ``windows_rootfs()`` of Wine's installed DLLs,
built once into pytest's cache folder.  (The folder is not named ``qiling``: tests/ is on
``sys.path``, and a folder of that name would pass for the package where it is missing.)  x64 only: Debian's 32-bit Wine DLLs need i386
multiarch.

Each program must pass every check under Qiling (the x_ checks included), as under
Speakeasy, and print the same CHECK lines as under Wine but for the x_ checks and
programs.WINE_DIFFERS.
"""

from __future__ import annotations

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

# The programs proved under Qiling so far; the others are the next step (issue 20):
# kernel_handles stops at SetEvent on Qiling's own event (below); event_wake and echo_client
# have tests of their own.
QILING_PROGRAMS: tuple[str, ...] = (
    "select_fdset", "event_waits", "event_select", "event_reselect", "bad_input", "echo_self",
    "names", "addresses", "options", "transfer")


def run_under_qiling(exe: Path, rootfs: Path, args: tuple[str, ...] = ()) -> programs.CompletedRun:
    """One program under Qiling with ws2core (``ws2core.adapters.qiling.run``), as the
    CompletedRun of tests/emulator: the exception that stopped Qiling, if one did, as its
    stderr."""
    done = run(exe, args, rootfs=rootfs, max_block=2.0)
    return programs.CompletedRun(exe, args, done.exit_code, done.stdout.decode("utf-8", "replace"),
                                 done.stopped or "", done.seconds)


@pytest.fixture(scope="module")
def rootfs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = getattr(request.config, "cache", None)
    folder = (Path(cache.mkdir("ws2core-qiling-rootfs")) if cache is not None
              else tmp_path_factory.mktemp("rootfs"))
    try:
        return windows_rootfs(folder)
    except FileNotFoundError as missing:
        programs.missing(str(missing))


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


def test_rootfs_holds_the_dlls_and_hives(rootfs: Path) -> None:
    system32 = rootfs / "Windows" / "System32"
    names = {path.name for path in system32.iterdir() if path.suffix == ".dll"}
    assert {"ntdll.dll", "kernel32.dll", "kernelbase.dll", "msvcrt.dll", "ws2_32.dll"} <= names
    assert not any((system32 / name).is_symlink() for name in names)
    assert windows_rootfs(rootfs.parent.parent) == rootfs   # reused, not built again


@pytest.mark.parametrize("name", QILING_PROGRAMS)
def test_program_passes_under_qiling_and_matches_wine(
        name: str, rootfs: Path, program_cache: Path, wine: programs.WinePrefix) -> None:
    exe = programs.build(name, "x86_64", program_cache)
    run = run_under_qiling(exe, rootfs)
    assert run.inconsistencies() == [], run.describe()
    assert run.failed() == [], run.describe()
    assert run.returncode == 0, run.describe()
    under_wine = wine.run(exe)
    differs = programs.WINE_DIFFERS.get(name, {})
    assert programs.compared_checks(run, differs) == programs.compared_checks(under_wine, differs), \
        (run.describe(), under_wine.describe())


def test_a_kernel_call_qiling_lacks_stops_the_run_loudly(rootfs: Path,
                                                          program_cache: Path) -> None:
    """kernel_handles' last part: an event of Qiling's own (CreateEventA).  Its waits go to
    Qiling's handlers (WaitForMultipleObjectsEx, which Qiling lacks, to its
    WaitForMultipleObjects); SetEvent, which Qiling lacks, stops the run with an error
    rather than run Wine's code into a system call."""
    run = run_under_qiling(programs.build("kernel_handles", "x86_64", program_cache), rootfs)
    assert run.failed() == [], run.describe()
    assert run.check("kernel_event_wait_many_ex").ok, run.describe()
    assert "kernel_event_set" not in {check.name for check in run.checks}, run.describe()
    assert run.returncode is None and "QlErrorSyscallError" in run.stderr, run.describe()


def test_run_says_how_a_program_ended(rootfs: Path, program_cache: Path) -> None:
    """Through ws2core's C run-time (install_runtime): echo_client without a port says so
    and exits with 1."""
    exe = programs.build("echo_client", "x86_64", program_cache)
    seen: list[tuple[int, bytes]] = []
    done = run(exe, rootfs=rootfs, environment={}, output=lambda *written: seen.append(written))
    assert done.exit_code == 1 and done.stopped is None and done.error == {}, done
    assert done.abi == "x64" and done.leaked == () and done.network == ()
    assert b"".join(data for stream, data in seen if stream == 1) == done.stdout
    checks, result = programs.parse_checks(done.stdout.decode())
    assert checks == [programs.Check("port_given", 0, 1, False)] and result == programs.Result(0, 1)


@pytest.mark.parametrize("through", ["argument", "environment"])
def test_echo_client_reaches_the_host_echo_server(rootfs: Path, program_cache: Path,
                                                  through: str) -> None:
    exe = programs.build("echo_client", "x86_64", program_cache)
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


def test_the_guest_over_qiling(rootfs: Path, program_cache: Path) -> None:
    """The Guest the hooks use, on a loaded program before it runs: memory through ql.mem
    (GuestFault off the map), the heap, and the last error where both readers look."""
    from ws2core.adapters import qiling as adapter
    from ws2core.guest import GuestFault

    exe = programs.build("select_fdset", "x86_64", program_cache)
    ql = qiling.Qiling([str(exe)], str(rootfs), verbose=0, libcache=True)
    guest = adapter._Guest(ql, adapter._import_qiling(), 8)
    address = guest.allocate(24)
    assert guest.read(address, 24) == bytes(24)
    guest.write(address, b"ws2core")
    assert guest.read(address, 7) == b"ws2core"
    assert guest.readable(address, 24) and guest.writable(address, 24)
    unmapped = 0x10000   # below every mapping Qiling makes (its image base is 0x140000000)
    assert not guest.readable(unmapped, 1) and not guest.writable(unmapped, 1)
    with pytest.raises(GuestFault):
        guest.read(unmapped, 4)
    with pytest.raises(GuestFault):
        guest.write(unmapped, b"x")
    guest.release(address)
    guest.set_last_error(10035)
    teb = ql.loader.TEB.TebAddress
    assert int.from_bytes(ql.mem.read(teb + 0x68, 4), "little") == 10035
    assert ql.os.last_error == 10035 and guest.get_last_error() == 10035
    assert guest.thread_id() == ql.os.thread_manager.cur_thread.id
    with pytest.raises(NotImplementedError):
        guest.run_function(address, ())


def test_event_wake_is_woken_by_a_host_thread(rootfs: Path, program_cache: Path) -> None:
    """event_wake prints its event's handle and waits 5 s on it; a host thread sets it
    0.2 s later through the table, and the guest's wait ends then (x_woken_by_host).  Not
    run under Wine here: there nothing wakes it, so it waits its 5 s (test_wine.py does)."""
    table = ws2core.UpcallTable(abi="x64", handle_range=HANDLE_RANGE)
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

    exe = programs.build("event_wake", "x86_64", program_cache)
    done = run(exe, rootfs=rootfs, table=table, output=output)
    for thread in threads:
        thread.join(timeout=10)
    ours = programs.CompletedRun(exe, (), done.exit_code, done.stdout.decode("utf-8", "replace"),
                                 done.stopped or "", done.seconds)
    assert len(threads) == 1 and ours.failed() == [] and ours.returncode == 0, ours.describe()
    assert done.seconds < 5.0, ours.describe()


def test_images_are_writable_only_in_their_writable_sections(rootfs: Path,
                                                              program_cache: Path) -> None:
    """Qiling maps the program and every DLL read, write and execute; the Guest answers as
    Windows maps them: headers, .text and .rdata read-only, .data writable.  Through an
    export as well: getsockname into .rdata fails with WSAEFAULT and writes nothing."""
    import pefile

    from ws2core.adapters import qiling as adapter
    from ws2core.guest import EXPORTS, Exports
    from ws2core.ws2_32 import Ws2_32

    exe = programs.build("select_fdset", "x86_64", program_cache)
    ql = qiling.Qiling([str(exe)], str(rootfs), verbose=0, libcache=True)
    guest = adapter._Guest(ql, adapter._import_qiling(), 8)
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

    exports = Exports(Ws2_32(ws2core.UpcallTable(abi="x64", handle_range=HANDLE_RANGE)))
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
