"""ws2core.adapters.speakeasy without a compiler: the hooks called as Speakeasy calls them.

``install()`` is given a stand-in for ``speakeasy.Speakeasy`` that records each
``add_api_hook``; the tests then call a hook as Speakeasy's import dispatcher does,
``cb(emu, "ws2_32.name", original, argv)``, with a stand-in emulator: guest memory in mapped
regions that raises unicorn's ``UcError`` elsewhere (as Speakeasy's emulator object does),
and guest threads whose last error the adapter keeps.  One test runs the same hooks over a
real Speakeasy emulator's memory, to prove which exception an unmapped address raises.

Covered, on both cores and both ABIs: the registration (names, argument counts, stdcall);
``install()``'s checks; a real Speakeasy emulator's faults as WSAEFAULT; ``close()``; the
ImportError naming the extra; the network policy (loopback only by default,
``install(policy=...)``, every attempt in Speakeasy's profiler until ``close()``; the refused
connect to an outside address runs in a network namespace and makes no host call).  What the exports do behind the hooks is tested without an
emulator, over ``guest_support.FakeGuest``, in test_guest_exports.py.
"""

from __future__ import annotations

import importlib.util
import struct
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

import ws2core
from ws2core import (
    AF_INET,
    SOCK_STREAM,
    WSA_WAIT_FAILED,
    WSA_WAIT_TIMEOUT,
    WSAEFAULT,
    WSAENETUNREACH,
    WSANOTINITIALISED,
)
from ws2core.adapters._common import checked_program
from ws2core.policy import NetworkPolicy
from ws2core.provider import HostSocketProvider

from ws2core.adapters.speakeasy import HOOKED_APIS, Installation, ProgramRun, install
from ws2core.guest import EXPORTS

from guest_support import abi, guest_table  # noqa: F401  (fixtures)
from guest_support import PAGE, Caller, FakeGuest, FakeThread, listener, open_socket, socket_port
from support import missing

# Speakeasy's unicorn is what raises for unmapped memory: these tests need the extra, like the
# Windows programs (and `-m "not emulator"` leaves both out).
pytestmark = pytest.mark.emulator


@pytest.fixture(autouse=True, scope="module")
def speakeasy_installed() -> None:
    """A skip where Speakeasy is missing; a failure under CI=true, as in tests/emulator."""
    if importlib.util.find_spec("speakeasy") is None:
        missing("Speakeasy is not installed: pip install 'ws2core[speakeasy]'")



# --------------------------------------------------------------------------------------
# Stand-ins for Speakeasy.


class FakeEmulator(FakeGuest):
    """What a hook receives as ``emu``: guest memory and the current guest thread.

    Memory is a set of mapped pages; any access that touches an unmapped byte raises
    ``unicorn.UcError`` with UC_ERR_READ_UNMAPPED / UC_ERR_WRITE_UNMAPPED, as Speakeasy's
    emulator object lets it through from unicorn.  ``get_current_thread``,
    ``get_last_error`` and ``set_last_error`` are Speakeasy's names too.
    """

    def fault(self, address: int, write: bool) -> Exception:
        import unicorn

        error: Exception = unicorn.UcError(
            unicorn.UC_ERR_WRITE_UNMAPPED if write else unicorn.UC_ERR_READ_UNMAPPED)
        return error

    def get_current_thread(self) -> FakeThread:
        return self.thread

    # Speakeasy's view of memory, as the adapter asks it what the guest may read and write:
    # unicorn's regions (one per mapped page here, with its protection), Speakeasy's own
    # record of what was asked (none here) and the loaded images (none here).
    @property
    def emu_eng(self) -> FakeEmulator:
        return self

    def mem_regions(self) -> list[tuple[int, int, int]]:
        import unicorn

        regions = []
        for page in sorted(self.pages):
            perms = 0 if page in self.unreadable else unicorn.UC_PROT_READ
            if page not in self.read_only and page not in self.unreadable:
                perms |= unicorn.UC_PROT_WRITE
            regions.append((page, page + PAGE - 1, perms))
        return regions

    def get_mem_maps(self) -> list[Any]:
        return []

    def get_user_modules(self) -> list[Any]:
        return []

    get_sys_modules = get_user_modules

    # Speakeasy's report of network activity, where the adapter puts the policy's record.
    def get_profiler(self) -> FakeProfiler:
        if not hasattr(self, "profiler"):
            self.profiler = FakeProfiler()
        return self.profiler

    def get_current_run(self) -> str:
        return "run 0"


class FakeProfiler:
    """Speakeasy's profiler as the adapter reports to it: ``log_network`` and ``log_dns``."""

    def __init__(self) -> None:
        self.network: list[tuple[Any, ...]] = []

    def log_network(self, run: str, server: str, port: int, typ: str = "unknown",
                    proto: str = "unknown", data: bytes = b"", method: str = "") -> None:
        self.network.append((run, server, port, typ, proto, method))

    def log_dns(self, run: str, domain: str, ip: str = "") -> None:
        self.network.append((run, domain, ip))


class FakeSpeakeasy:
    """A ``speakeasy.Speakeasy`` as install() uses it: get_ptr_size and add_api_hook."""

    def __init__(self, emu: FakeEmulator | None) -> None:
        self.emu = emu
        self.hooks: dict[str, tuple[Any, str, int, Any]] = {}

    def get_ptr_size(self) -> int:
        return self.emu.ptr_size  # type: ignore[union-attr]  # AttributeError before a load

    def add_api_hook(self, cb: Any, module: str = "", api_name: str = "", argc: int = 0,
                     call_conv: Any = None) -> None:
        self.hooks[api_name] = (cb, module, argc, call_conv)


class Guest(Caller):
    """One installed guest: call a hooked export as Speakeasy's dispatcher would."""

    def __init__(self, installation: Installation, se: FakeSpeakeasy) -> None:
        super().__init__(installation.exports, se.emu)  # type: ignore[arg-type]
        self.installation = installation
        self.se = se

    def __call__(self, name: str, *args: int) -> Any:
        cb = self.se.hooks[name][0]
        return cb(self.emu, f"ws2_32.{name}", None, list(args))


@pytest.fixture
def guest(guest_table: ws2core.UpcallTable, abi: str) -> Iterator[Guest]:
    """A started-up-able guest over ``guest_table``; every handle it made must be closed by
    the end of the test (checked before the installation closes what is left)."""
    se = FakeSpeakeasy(FakeEmulator(8 if abi == "x64" else 4))
    installation = install(se, guest_table, max_block=5.0)
    yield Guest(installation, se)
    leaked = [hex(h) for h in guest_table.table]
    installation.close()
    assert not leaked, f"handles left open: {leaked}"


# --------------------------------------------------------------------------------------
# Registration and installation.


def test_hooks_registered_with_argc_and_stdcall(guest: Guest) -> None:
    from speakeasy.winenv import arch

    assert sorted(guest.se.hooks) == sorted(HOOKED_APIS)
    expected_argc = {"WSAStartup": 2, "WSACleanup": 0, "socket": 3, "closesocket": 1,
                     "select": 5, "__WSAFDIsSet": 2, "WSAWaitForMultipleEvents": 5,
                     "WSAEnumNetworkEvents": 3, "WSAGetLastError": 0, "WSASetLastError": 1,
                     "recv": 4, "send": 4, "getsockname": 3, "ioctlsocket": 3,
                     "WaitForSingleObjectEx": 3, "WaitForMultipleObjectsEx": 5, "ReadFile": 5}
    dlls = {export.name: export.dll for export in EXPORTS}   # ws2_32's, iphlpapi's, kernel32's
    assert {"WaitForSingleObject", "CloseHandle", "ReadFile"} <= {
        name for name, dll in dlls.items() if dll == "kernel32"}
    for name, (cb, module, argc, call_conv) in guest.se.hooks.items():
        assert module == dlls[name] and call_conv == arch.CALL_CONV_STDCALL
        if name in expected_argc:
            assert argc == expected_argc[name], name


def test_installation_fields(guest: Guest, abi: str) -> None:
    installation = guest.installation
    assert installation.abi == abi and installation.table.table.abi == abi
    assert isinstance(installation.provider, HostSocketProvider)
    assert installation.max_block == 5.0
    assert abi in repr(installation)


def test_install_before_load_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="load_module"):
        install(FakeSpeakeasy(None))


def test_install_refuses_a_table_of_the_other_abi(ws2core_core: ModuleType) -> None:
    x86_table = ws2core.UpcallTable(ws2core_core.HandleTable(abi="x86"))
    with pytest.raises(ValueError, match="x86"):
        install(FakeSpeakeasy(FakeEmulator(8)), x86_table)
    with pytest.raises(TypeError):
        handle_table = ws2core_core.HandleTable()  # not an UpcallTable
        install(FakeSpeakeasy(FakeEmulator(8)), handle_table)


def test_install_refuses_a_provider_serving_another_table(ws2core_core: ModuleType) -> None:
    with HostSocketProvider() as provider:
        provider.WSPStartup(ws2core.UpcallTable(ws2core_core.HandleTable()))
        with pytest.raises(ValueError, match="another"):
            install(FakeSpeakeasy(FakeEmulator(8)), provider=provider)


@pytest.mark.parametrize("max_block", [-1.0, float("inf"), float("nan")])
def test_install_refuses_a_bad_max_block(max_block: float) -> None:
    with pytest.raises(ValueError, match="max_block"):
        install(FakeSpeakeasy(FakeEmulator(8)), max_block=max_block)


@pytest.mark.parametrize("timeout", [0.0, -1.0, float("inf"), float("nan")])
def test_run_refuses_a_bad_timeout_before_loading(tmp_path: Any, timeout: float) -> None:
    program = tmp_path / "program.exe"
    program.write_bytes(b"not loaded: the timeout is refused first")
    with pytest.raises(ValueError, match="timeout must be a finite number"):
        checked_program(program, timeout)


def test_run_refuses_a_missing_program(tmp_path: Any) -> None:
    with pytest.raises(FileNotFoundError, match="no program at"):
        checked_program(tmp_path / "missing.exe", 1.0)
    with pytest.raises(FileNotFoundError, match="no program at"):
        checked_program(tmp_path, 1.0)     # a directory is no program either


def test_import_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes an import fail as if the package were not installed.
    for name in ("speakeasy", "speakeasy.errors", "speakeasy.winenv", "speakeasy.winenv.arch",
                 "unicorn"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install 'ws2core\[speakeasy\]'"):
        install(FakeSpeakeasy(FakeEmulator(8)))


# --------------------------------------------------------------------------------------
# Speakeasy's memory: its faults are WSAEFAULT, never an exception.


def test_unmapped_memory_of_a_real_speakeasy_emulator(ws2core_core: ModuleType, abi: str) -> None:
    """Speakeasy's emulator raises unicorn's UcError for an unmapped address; every hook
    answers WSAEFAULT instead."""
    speakeasy = pytest.importorskip("speakeasy")
    se = speakeasy.Speakeasy()
    se.load_shellcode(None, "x86" if abi == "x86" else "x64", data=b"\xc3")
    recorder = FakeSpeakeasy(None)
    table = ws2core.UpcallTable(ws2core_core.HandleTable(abi=abi))
    installation = install(_Recording(se, recorder), table)
    try:
        def call(name: str, *args: int) -> Any:
            return recorder.hooks[name][0](se.emu, f"ws2_32.{name}", None, list(args))

        data = se.mem_alloc(0x1000)
        assert call("WSAStartup", 0x0202, data) == 0
        assert call("WSAStartup", 0x0202, 0x7FFF0000) == WSAEFAULT
        event = call("WSACreateEvent")
        events = se.mem_alloc(0x1000)
        se.mem_write(events, event.to_bytes(se.get_ptr_size(), "little"))
        assert call("WSAWaitForMultipleEvents", 1, events, 0, 0, 0) == WSA_WAIT_TIMEOUT
        assert call("WSAWaitForMultipleEvents", 1, 0x7FFF0000, 0, 0, 0) == WSA_WAIT_FAILED
        assert call("__WSAFDIsSet", 4, 0x7FFF0000) == 0
        assert call("WSACloseEvent", event) == 1
        assert call("WSACleanup") == 0
        assert len(installation.table.table) == 0
    finally:
        installation.close()


class _Recording:
    """A real Speakeasy whose add_api_hook calls are recorded (and still registered)."""

    def __init__(self, se: Any, recorder: FakeSpeakeasy) -> None:
        self._se, self._recorder = se, recorder

    def get_ptr_size(self) -> int:
        return int(self._se.get_ptr_size())

    @property
    def emu(self) -> Any:
        return self._se.emu

    def add_api_hook(self, cb: Any, module: str, api_name: str, argc: int = 0,
                     call_conv: Any = None) -> Any:
        self._recorder.add_api_hook(cb, module, api_name, argc, call_conv)
        return self._se.add_api_hook(cb, module, api_name, argc=argc, call_conv=call_conv)


# --------------------------------------------------------------------------------------
# Closing, through the hooks.


def test_close_leaves_no_handle(guest_table: ws2core.UpcallTable, abi: str) -> None:
    se = FakeSpeakeasy(FakeEmulator(8 if abi == "x64" else 4))
    with install(se, guest_table) as installation:
        g = Guest(installation, se).started()
        listener(g)
        open_socket(g)
        g("WSACreateEvent")
        assert len(guest_table.table) == 3
    assert len(guest_table.table) == 0
    g.fails(WSANOTINITIALISED, "socket", AF_INET, SOCK_STREAM, 0)   # the hooks stay


# --------------------------------------------------------------------------------------
# The network policy: the guest's attempts, refused or allowed, in Speakeasy's report.


def reported(se: FakeSpeakeasy) -> list[tuple[Any, ...]]:
    """What the adapter told the stand-in profiler of ``se``'s emulator."""
    assert se.emu is not None
    return se.emu.get_profiler().network


def test_default_policy_reports_to_the_profiler(guest: Guest) -> None:
    installation = guest.installation
    assert installation.policy is installation.provider.policy
    assert installation.policy.description == "loopback only"
    g = guest.started()
    s, _ = listener(g)                     # bound to 127.0.0.1: allowed, on record
    assert installation.policy.resolve("localhost") == ("127.0.0.1", "::1")
    assert reported(guest.se) == [
        ("run 0", "127.0.0.1", 0, "bind", "tcp", "ws2core.allowed"),
        ("run 0", "localhost", "127.0.0.1,::1")]        # a lookup goes to log_dns
    assert g("closesocket", s) == 0 and g("WSACleanup") == 0


@pytest.mark.isolated_network
def test_install_policy_refused_guest_connect_reaches_the_profiler(
        guest_table: ws2core.UpcallTable, abi: str, host_calls: Any) -> None:
    policy = NetworkPolicy.loopback_only()
    se = FakeSpeakeasy(FakeEmulator(8 if abi == "x64" else 4))
    with install(se, guest_table, policy=policy) as installation:
        assert installation.policy is policy and installation.provider.policy is policy
        g = Guest(installation, se).started()
        s = open_socket(g)
        outside = g.emu.alloc(struct.pack("<HH4s8x", AF_INET, socket_port(80),
                                          bytes([192, 0, 2, 1])))   # 192.0.2.1, TEST-NET-1
        g.fails(WSAENETUNREACH, "connect", s, outside, 16)
        assert host_calls.events == []
        assert reported(se) == [
            ("run 0", "192.0.2.1", 80, "connect", "tcp", "ws2core.refused")]
        assert g("closesocket", s) == 0 and g("WSACleanup") == 0
    policy.decide("connect", "tcp", ("192.0.2.1", 81))   # after close(): no longer reported
    assert len(reported(se)) == 1 and len(policy.log) == 2


def test_install_refuses_a_policy_other_than_the_providers() -> None:
    with HostSocketProvider(policy=NetworkPolicy.loopback_only()) as provider:
        with pytest.raises(ValueError, match="policy"):
            install(FakeSpeakeasy(FakeEmulator(8)), provider=provider,
                    policy=NetworkPolicy.allow_all())


def test_program_run_json_carries_the_network_record() -> None:
    policy = NetworkPolicy.loopback_only()
    attempt = policy.decide("connect", "tcp", ("192.0.2.1", 80)).attempt
    assert attempt is not None
    run = ProgramRun("a.exe", (), "x64", 0, None, {}, b"", b"", 0.5, (), (attempt,))
    assert run.to_json()["network"] == [attempt.as_json()]
