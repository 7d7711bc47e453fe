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
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

qiling = pytest.importorskip("qiling", reason="Qiling is not installed: pip install 'ws2core[qiling]' "
                             "(in an environment without Speakeasy)")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "emulator"))
import programs  # noqa: E402  (tests/emulator: the programs' build and CHECK protocol)

from ws2core.adapters.qiling import install, windows_rootfs  # noqa: E402

pytestmark = pytest.mark.qiling

# The programs proved under Qiling so far; the others are the next step (issue 20):
# kernel_handles stops at SetEvent on Qiling's own event (below), event_wake needs a host
# thread to set its event and echo_client the echo server (test_speakeasy.py does both).
QILING_PROGRAMS: tuple[str, ...] = (
    "select_fdset", "event_waits", "event_select", "event_reselect", "bad_input", "echo_self",
    "names", "addresses", "options", "transfer")


class _Output:
    """A stream for ``ql.os.stdout``: Qiling writes bytes to it."""

    def __init__(self) -> None:
        self.data = bytearray()

    def write(self, data: bytes | str) -> int:
        self.data += data.encode() if isinstance(data, str) else data
        return len(data)

    def flush(self) -> None:
        pass


def run_under_qiling(exe: Path, rootfs: Path, *, libcache: bool = True, timeout: float = 60.0,
                     ) -> tuple[programs.CompletedRun, float]:
    """One program under Qiling with ws2core installed: its run (stdout, exit status: None
    when it did not call exit, the error that stopped Qiling as its stderr) and Qiling's
    load time in seconds (the constructor: every DLL loaded, or restored from Qiling's
    library cache with ``libcache``)."""
    from qiling.const import QL_INTERCEPT, QL_VERBOSE

    started = time.monotonic()
    ql = qiling.Qiling([str(exe)], str(rootfs), verbose=QL_VERBOSE.DISABLED, libcache=libcache)
    loaded = time.monotonic() - started
    output = _Output()
    ql.os.stdout = output
    status: list[int] = []

    def exiting(ql: Any, address: int, params: Any) -> None:
        # Qiling's exit and ExitProcess stop the emulation and keep no status.
        status.append(ql.os.fcall_select(2).cc.getRawParam(0) & 0xFFFFFFFF)

    for name in ("exit", "ExitProcess"):
        ql.os.set_api(name, exiting, QL_INTERCEPT.ENTER)
    started = time.monotonic()
    error = ""
    with install(ql):
        try:
            ql.run(timeout=int(timeout * 1_000_000))
        except Exception as stopped:  # what Qiling raised: the test says what it expects
            error = f"{type(stopped).__name__}: {stopped}"
    seconds = time.monotonic() - started
    return programs.CompletedRun(exe, (), status[0] if status else None,
                                 output.data.decode("utf-8", "replace"), error, seconds), loaded


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
    run, _ = run_under_qiling(exe, rootfs)
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
    run, _ = run_under_qiling(programs.build("kernel_handles", "x86_64", program_cache), rootfs)
    assert run.failed() == [], run.describe()
    assert run.check("kernel_event_wait_many_ex").ok, run.describe()
    assert "kernel_event_set" not in {check.name for check in run.checks}, run.describe()
    assert run.returncode is None and "QlErrorSyscallError" in run.stderr, run.describe()


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
