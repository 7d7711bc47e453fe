"""ws2core.adapters.speakeasy without a compiler: the hooks called as Speakeasy calls them.

``install()`` is given a stand-in for ``speakeasy.Speakeasy`` that records each
``add_api_hook``; the tests then call a hook as Speakeasy's import dispatcher does,
``cb(emu, "ws2_32.name", original, argv)``, with a stand-in emulator: guest memory in mapped
regions that raises unicorn's ``UcError`` elsewhere (as Speakeasy's emulator object does),
and guest threads whose last error the adapter keeps.  One test runs the same hooks over a
real Speakeasy emulator's memory, to prove which exception an unmapped address raises.

Covered, on both cores and both ABIs: the registration (names, argument counts, stdcall);
WSAStartup's WSADATA in each layout and its version negotiation; NULL and unmapped pointers
as WSAEFAULT in every kind of argument (an fd_count that runs into unmapped memory included);
an unknown socket as WSAENOTSOCK and a closed event as WSA_INVALID_HANDLE; the failure values
in each ABI (INVALID_SOCKET is 0xFFFFFFFF on x86); the last error per guest thread; waits
capped at ``max_block`` and woken by a host thread; a loopback connection driven through
the hooks with the guest's fd_set layout; ``close()``; the ImportError naming the extra.
"""

from __future__ import annotations

import importlib.util
import struct
import sys
import threading
import time
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

import ws2core
from ws2core import (
    AF_INET,
    FD_READ,
    FIONBIO,
    SOCK_STREAM,
    WSA_INFINITE,
    WSA_INVALID_HANDLE,
    WSA_WAIT_EVENT_0,
    WSA_WAIT_FAILED,
    WSA_WAIT_TIMEOUT,
    WSAEFAULT,
    WSAEINVAL,
    WSAENOTSOCK,
    WSAEWOULDBLOCK,
    WSANOTINITIALISED,
    WSAVERNOTSUPPORTED,
)
from ws2core.provider import HostSocketProvider

from ws2core.adapters.speakeasy import HOOKED_APIS, Installation, install

from support import missing

# Speakeasy's unicorn is what raises for unmapped memory: these tests need the extra, like the
# Windows programs (and `-m "not emulator"` leaves both out).
pytestmark = pytest.mark.emulator


@pytest.fixture(autouse=True, scope="module")
def speakeasy_installed() -> None:
    """A skip where Speakeasy is missing; a failure under CI=true, as in tests/emulator."""
    if importlib.util.find_spec("speakeasy") is None:
        missing("Speakeasy is not installed: pip install 'ws2core[speakeasy]'")

ABIS = ["x64", "x86"]
PAGE = 0x1000
HEAP = 0x10000      # where FakeEmulator.alloc starts handing out guest memory
JOIN = 10.0         # seconds: the longest any helper thread may take


# --------------------------------------------------------------------------------------
# Stand-ins for Speakeasy.


class FakeThread:
    """A guest thread as Speakeasy keeps it: here only its Win32 last error."""

    def __init__(self) -> None:
        self.last_error = 0


class FakeEmulator:
    """What a hook receives as ``emu``: guest memory and the current guest thread.

    Memory is a set of mapped pages; any access that touches an unmapped byte raises
    ``unicorn.UcError`` with UC_ERR_READ_UNMAPPED / UC_ERR_WRITE_UNMAPPED, as Speakeasy's
    emulator object lets it through from unicorn.
    """

    def __init__(self, ptr_size: int) -> None:
        self.ptr_size = ptr_size
        self.pages: dict[int, bytearray] = {}
        self.next_free = HEAP
        self.thread = FakeThread()

    # the memory

    def alloc(self, data: bytes | int) -> int:
        """Map fresh pages holding ``data`` (or that many zero bytes); the address of the
        first byte.  The page after the block is left unmapped, so the block's end is a
        fault boundary."""
        content = bytes(data)
        pages = max(1, -(-len(content) // PAGE))
        address = self.next_free
        for n in range(pages):
            self.pages[address + n * PAGE] = bytearray(PAGE)
        self.next_free += (pages + 1) * PAGE
        self.mem_write(address, content)
        return address

    def alloc_at_end(self, data: bytes) -> int:
        """``data`` placed so that its last byte is the last mapped byte."""
        base = self.alloc(-(-len(data) // PAGE) * PAGE)
        address = base + (-len(data)) % PAGE
        self.mem_write(address, data)
        return address

    def _span(self, address: int, size: int, error: int) -> Iterator[tuple[bytearray, int, int]]:
        import unicorn

        end = address + size
        while address < end:
            page = self.pages.get(address - address % PAGE)
            if page is None:
                raise unicorn.UcError(error)
            offset = address % PAGE
            count = min(PAGE - offset, end - address)
            yield page, offset, count
            address += count

    def mem_read(self, address: int, size: int) -> bytearray:
        import unicorn

        out = bytearray()
        for page, offset, count in self._span(address, size, unicorn.UC_ERR_READ_UNMAPPED):
            out += page[offset : offset + count]
        return out

    def mem_write(self, address: int, data: bytes) -> None:
        import unicorn

        spans = list(self._span(address, len(data), unicorn.UC_ERR_WRITE_UNMAPPED))
        done = 0
        for page, offset, count in spans:
            page[offset : offset + count] = data[done : done + count]
            done += count

    def read_int(self, address: int) -> int:
        value: int = struct.unpack("<i", self.mem_read(address, 4))[0]
        return value

    # the current thread

    def get_current_thread(self) -> FakeThread:
        return self.thread

    def set_last_error(self, code: int) -> None:
        self.thread.last_error = code

    def get_last_error(self) -> int:
        return self.thread.last_error


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


class Guest:
    """One installed guest: call a hooked export as Speakeasy's dispatcher would."""

    def __init__(self, installation: Installation, se: FakeSpeakeasy) -> None:
        self.installation = installation
        self.se = se
        self.emu: FakeEmulator = se.emu  # type: ignore[assignment]
        self.ptr_size = self.emu.ptr_size
        self.invalid_socket = (1 << (8 * self.ptr_size)) - 1

    def __call__(self, name: str, *args: int) -> Any:
        cb = self.se.hooks[name][0]
        return cb(self.emu, f"ws2_32.{name}", None, list(args))

    @property
    def last_error(self) -> int:
        return self.emu.thread.last_error

    def fails(self, code: int, name: str, *args: int) -> None:
        """The call returns its failure value and sets exactly ``code`` as the last error."""
        self.emu.thread.last_error = 0
        result = self(name, *args)
        assert (result, ws2core.errorname(self.last_error)) == (
            failure_value(name, self.ptr_size), ws2core.errorname(code))

    def sockaddr(self, port: int = 0) -> int:
        loopback = bytes([127, 0, 0, 1])
        return self.emu.alloc(struct.pack("<HH4s8x", AF_INET, socket_port(port), loopback))

    def fd_set(self, *handles: int, count: int | None = None) -> int:
        """An fd_set in the guest's layout, with room for 64 entries."""
        return self.emu.alloc(fd_set_bytes(self.ptr_size, handles, count))

    def read_fd_set(self, address: int) -> list[int]:
        count = self.emu.read_int(address)
        header = 8 if self.ptr_size == 8 else 4
        data = self.emu.mem_read(address + header, count * self.ptr_size)
        return list(struct.unpack(f"<{count}{'Q' if self.ptr_size == 8 else 'I'}", data))

    def pointers(self, *values: int) -> int:
        kind = "Q" if self.ptr_size == 8 else "I"
        return self.emu.alloc(struct.pack(f"<{len(values)}{kind}", *values))

    def started(self) -> Guest:
        assert self("WSAStartup", 0x0202, self.emu.alloc(512)) == 0
        return self


def socket_port(port: int) -> int:
    return int.from_bytes(port.to_bytes(2, "big"), "little")  # sin_port is big-endian


def fd_set_bytes(ptr_size: int, handles: tuple[int, ...], count: int | None = None) -> bytes:
    header = struct.pack("<I4x", len(handles) if count is None else count) if ptr_size == 8 else \
        struct.pack("<I", len(handles) if count is None else count)
    entries = b"".join(h.to_bytes(ptr_size, "little") for h in handles)
    return header + entries.ljust(64 * ptr_size, b"\0")


def failure_value(name: str, ptr_size: int) -> int:
    """The documented failure result of each export, masked as the guest's register gets it."""
    if name in ("socket", "accept"):
        return (1 << (8 * ptr_size)) - 1            # INVALID_SOCKET
    if name in ("WSASetEvent", "WSAResetEvent", "WSACloseEvent", "WSACreateEvent", "__WSAFDIsSet"):
        return 0                                     # FALSE, WSA_INVALID_EVENT, not set
    return 0xFFFFFFFF                                # SOCKET_ERROR as an int, WSA_WAIT_FAILED


@pytest.fixture(params=ABIS)
def abi(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def guest_table(ws2core_core: ModuleType, abi: str) -> ws2core.UpcallTable:
    """An UpcallTable over the core under test, in the guest's ABI."""
    return ws2core.UpcallTable(ws2core_core.HandleTable(abi=abi))


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


def open_socket(g: Guest) -> int:
    s = g("socket", AF_INET, SOCK_STREAM, 0)
    assert s != g.invalid_socket, ws2core.errorname(g.last_error)
    return int(s)


def listener(g: Guest) -> tuple[int, int]:
    """A listening socket and the guest address of its sockaddr (port filled in)."""
    s = open_socket(g)
    name = g.sockaddr(0)
    assert g("bind", s, name, 16) == 0
    length = g.emu.alloc(struct.pack("<i", 16))
    assert g("getsockname", s, name, length) == 0
    assert g("listen", s, 5) == 0
    return s, name


# --------------------------------------------------------------------------------------
# Registration and installation.


def test_hooks_registered_with_argc_and_stdcall(guest: Guest) -> None:
    from speakeasy.winenv import arch

    assert sorted(guest.se.hooks) == sorted(HOOKED_APIS)
    expected_argc = {"WSAStartup": 2, "WSACleanup": 0, "socket": 3, "closesocket": 1,
                     "select": 5, "__WSAFDIsSet": 2, "WSAWaitForMultipleEvents": 5,
                     "WSAEnumNetworkEvents": 3, "WSAGetLastError": 0, "WSASetLastError": 1,
                     "recv": 4, "send": 4, "getsockname": 3, "ioctlsocket": 3}
    for name, (cb, module, argc, call_conv) in guest.se.hooks.items():
        assert module == "ws2_32" and call_conv == arch.CALL_CONV_STDCALL
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


def test_import_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # None in sys.modules makes an import fail as if the package were not installed.
    for name in ("speakeasy", "speakeasy.errors", "speakeasy.winenv", "speakeasy.winenv.arch",
                 "unicorn"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install 'ws2core\[speakeasy\]'"):
        install(FakeSpeakeasy(FakeEmulator(8)))


# --------------------------------------------------------------------------------------
# WSAStartup and WSACleanup.


def test_wsadata_x64_layout(ws2core_core: ModuleType) -> None:
    se = FakeSpeakeasy(FakeEmulator(8))
    installation = install(se, ws2core.UpcallTable(ws2core_core.HandleTable()))
    g = Guest(installation, se)
    data = g.emu.alloc(b"\xAA" * 408)
    assert g("WSAStartup", 0x0202, data) == 0
    raw = g.emu.mem_read(data, 408)
    version, high, max_sockets, max_datagram, vendor = struct.unpack_from("<HHHHQ", raw)
    assert (version, high, max_sockets, max_datagram, vendor) == (0x0202, 0x0202, 0, 0, 0)
    assert raw[16:28] == b"WinSock 2.0\0" and raw[273:281] == b"Running\0"
    assert g("WSACleanup") == 0
    installation.close()


def test_wsadata_x86_layout(ws2core_core: ModuleType) -> None:
    se = FakeSpeakeasy(FakeEmulator(4))
    installation = install(se, ws2core.UpcallTable(ws2core_core.HandleTable(abi="x86")))
    g = Guest(installation, se)
    data = g.emu.alloc(b"\xAA" * 400)
    assert g("WSAStartup", 0x0101, data) == 0
    raw = g.emu.mem_read(data, 400)
    assert struct.unpack_from("<HH", raw) == (0x0101, 0x0202)
    assert raw[4:16] == b"WinSock 2.0\0" and raw[261:269] == b"Running\0"
    assert struct.unpack_from("<HHI", raw, 390) == (32767, 65467, 0)   # a Winsock 1.1 caller
    assert g("WSACleanup") == 0
    installation.close()


@pytest.mark.parametrize(("requested", "version"), [
    (0x0202, 0x0202), (0x0002, 0x0002), (0x0101, 0x0101), (0x0302, 0x0202), (0x0003, 0x0202),
])
def test_wsastartup_negotiates_the_version(guest: Guest, requested: int, version: int) -> None:
    data = guest.emu.alloc(512)
    assert guest("WSAStartup", requested | 0xABCD0000, data) == 0   # a WORD: high bits ignored
    assert struct.unpack("<HH", guest.emu.mem_read(data, 4)) == (version, 0x0202)
    assert guest("WSACleanup") == 0


def test_wsastartup_failures_are_its_result(guest: Guest) -> None:
    guest.emu.thread.last_error = 1234
    assert guest("WSAStartup", 0x0200, guest.emu.alloc(512)) == WSAVERNOTSUPPORTED  # 0.2
    assert guest("WSAStartup", 0x0202, 0) == WSAEFAULT
    assert guest("WSAStartup", 0x0202, guest.emu.alloc_at_end(b"\0" * 100)) == WSAEFAULT
    assert guest.last_error == 1234  # WSAStartup reports through its result only
    guest.fails(WSANOTINITIALISED, "socket", AF_INET, SOCK_STREAM, 0)


def test_cleanup_without_startup(guest: Guest) -> None:
    guest.fails(WSANOTINITIALISED, "WSACleanup")
    guest.started()
    assert guest("WSACleanup") == 0
    guest.fails(WSANOTINITIALISED, "WSACleanup")


# --------------------------------------------------------------------------------------
# Bad pointers: WSAEFAULT, never an exception.


def test_null_and_unmapped_pointers_are_wsaefault(guest: Guest) -> None:
    g = guest.started()
    s, name = listener(g)
    unmapped = 0x7FFF0000
    edge = g.emu.alloc_at_end(b"\0" * 8)            # 8 mapped bytes, then unmapped
    g.fails(WSAEFAULT, "bind", s, 0, 16)
    g.fails(WSAEFAULT, "connect", s, unmapped, 16)
    g.fails(WSAEFAULT, "connect", s, edge, 16)      # the sockaddr runs off the mapping
    g.fails(WSAEFAULT, "send", s, unmapped, 10, 0)
    g.fails(WSAEFAULT, "send", s, 0, 10, 0)
    g.fails(WSAEFAULT, "send", s, edge, -1, 0)
    g.fails(WSAEFAULT, "recv", s, edge, 9, 0)
    g.fails(WSAEFAULT, "getsockname", s, name, unmapped)
    g.fails(WSAEFAULT, "getsockname", s, name, 0)
    g.fails(WSAEFAULT, "getsockname", s, unmapped, g.emu.alloc(struct.pack("<i", 16)))
    g.fails(WSAEFAULT, "ioctlsocket", s, FIONBIO, 0)
    g.fails(WSAEFAULT, "select", 0, unmapped, 0, 0, 0)
    g.fails(WSAEFAULT, "select", 0, g.fd_set(s), 0, 0, unmapped)
    g.fails(WSAEFAULT, "__WSAFDIsSet", s, 0)
    g.fails(WSAEFAULT, "__WSAFDIsSet", s, unmapped)
    g.fails(WSAEFAULT, "WSAWaitForMultipleEvents", 1, unmapped, 0, 0, 0)
    g.fails(WSAEFAULT, "WSAWaitForMultipleEvents", 2, edge + 8 - g.ptr_size, 0, 0, 0)
    g.fails(WSAEFAULT, "WSAEnumNetworkEvents", s, 0, unmapped)
    g.fails(WSAEFAULT, "WSAEnumNetworkEvents", s, 0, 0)
    # A pointer whose range passes the top of the address space.
    g.fails(WSAEFAULT, "send", s, (1 << (8 * g.ptr_size)) - 4, 8, 0)
    assert g("closesocket", s) == 0
    assert g("WSACleanup") == 0


def test_fd_count_running_into_unmapped_memory(guest: Guest) -> None:
    g = guest.started()
    s, _ = listener(g)
    # fd_count says 1000 entries; the mapping ends after the 64 that fit.
    header = 8 if g.ptr_size == 8 else 4
    raw = fd_set_bytes(g.ptr_size, (s,), count=1000)
    fds = g.emu.alloc_at_end(raw[: header + 64 * g.ptr_size])
    g.fails(WSAEFAULT, "__WSAFDIsSet", s, fds)
    g.fails(WSAEFAULT, "select", 0, fds, 0, 0, g.emu.alloc(8))
    # A garbage count near 2**32 fails the same way, without reading gigabytes.
    g.emu.mem_write(fds, struct.pack("<I", 0xFFFFFFF0))
    g.fails(WSAEFAULT, "select", 0, fds, 0, 0, g.emu.alloc(8))
    assert g("closesocket", s) == 0
    assert g("WSACleanup") == 0


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

    def add_api_hook(self, cb: Any, module: str, api_name: str, argc: int = 0,
                     call_conv: Any = None) -> Any:
        self._recorder.add_api_hook(cb, module, api_name, argc, call_conv)
        return self._se.add_api_hook(cb, module, api_name, argc=argc, call_conv=call_conv)


# --------------------------------------------------------------------------------------
# Windows' codes for handles that are not what they should be.


def test_unknown_socket_is_wsaenotsock(guest: Guest) -> None:
    g = guest.started()
    buffer = g.emu.alloc(64)
    for handle in (0x1234, 0, g.invalid_socket, 3):
        g.fails(WSAENOTSOCK, "closesocket", handle)
        g.fails(WSAENOTSOCK, "send", handle, buffer, 4, 0)
        g.fails(WSAENOTSOCK, "recv", handle, buffer, 4, 0)
        g.fails(WSAENOTSOCK, "listen", handle, 1)
        g.fails(WSAENOTSOCK, "accept", handle, 0, 0)
        g.fails(WSAENOTSOCK, "select", 0, g.fd_set(handle), 0, 0, g.emu.alloc(8))
    s = open_socket(g)
    assert g("closesocket", s) == 0
    g.fails(WSAENOTSOCK, "closesocket", s)        # a closed socket stays dead
    event = g("WSACreateEvent")
    g.fails(WSAENOTSOCK, "WSAEventSelect", event, event, FD_READ)   # an event is no socket
    assert g("WSACloseEvent", event) == 1
    assert g("WSACleanup") == 0


def test_closed_event_is_wsa_invalid_handle(guest: Guest) -> None:
    event = guest("WSACreateEvent")
    assert event != 0
    assert guest("WSASetEvent", event) == 1
    assert guest("WSACloseEvent", event) == 1
    for name in ("WSASetEvent", "WSAResetEvent", "WSACloseEvent"):
        guest.fails(WSA_INVALID_HANDLE, name, event)
    guest.fails(WSA_INVALID_HANDLE, "WSAWaitForMultipleEvents", 1, guest.pointers(event), 0, 0, 0)
    guest.fails(WSA_INVALID_HANDLE, "WSASetEvent", 0)


def test_wait_checks_the_count_before_the_array(guest: Guest) -> None:
    # The count is refused before the (NULL) array is read, as the kernel does.
    guest.fails(ws2core.WSA_INVALID_PARAMETER, "WSAWaitForMultipleEvents", 0, 0, 0, 0, 0)
    guest.fails(ws2core.WSA_INVALID_PARAMETER, "WSAWaitForMultipleEvents", 65, 0, 0, 0, 0)


def test_results_in_the_guest_abi(guest: Guest) -> None:
    """A failed socket() is INVALID_SOCKET of the guest's width; an int failure is -1 in 32 bits."""
    g = guest.started()
    g.fails(ws2core.WSAEAFNOSUPPORT, "socket", 1234, SOCK_STREAM, 0)
    assert g("socket", 1234, SOCK_STREAM, 0) == g.invalid_socket
    # A 32-bit argument arrives with garbage above it in a 64-bit register: ignored.
    s = g("socket", AF_INET | 0x5A5A5A5A00000000, SOCK_STREAM | 0xFFFFFFFF00000000, 0)
    assert s != g.invalid_socket
    assert g("closesocket", s) == 0
    assert g("WSACleanup") == 0


# --------------------------------------------------------------------------------------
# The last error, per guest thread.


def test_last_error_is_per_guest_thread(guest: Guest) -> None:
    main, other = guest.emu.thread, FakeThread()
    guest("WSASetLastError", WSAEWOULDBLOCK)
    assert guest("WSAGetLastError") == WSAEWOULDBLOCK
    guest.emu.thread = other
    assert guest("WSAGetLastError") == 0
    guest.fails(WSA_INVALID_HANDLE, "WSASetEvent", 0x1000)
    assert other.last_error == WSA_INVALID_HANDLE
    guest.emu.thread = main
    assert guest("WSAGetLastError") == WSAEWOULDBLOCK   # untouched by the other thread
    # Speakeasy's GetLastError reads the same slot: the two agree, as on Windows.
    assert guest.emu.get_last_error() == WSAEWOULDBLOCK


def test_success_leaves_the_last_error(guest: Guest) -> None:
    g = guest.started()
    g("WSASetLastError", 4321)
    s = open_socket(g)
    event = g("WSACreateEvent")
    assert g("WSAWaitForMultipleEvents", 1, g.pointers(event), 0, 0, 0) == WSA_WAIT_TIMEOUT
    assert g("closesocket", s) == 0 and g("WSACloseEvent", event) == 1
    assert g("WSAGetLastError") == 4321
    g("WSASetLastError", -1)
    assert g("WSAGetLastError") == 0xFFFFFFFF   # an int, as eax holds it
    assert g("WSACleanup") == 0


# --------------------------------------------------------------------------------------
# Waits: capped at max_block, woken by host threads.


def test_infinite_wait_is_capped(guest_table: ws2core.UpcallTable, abi: str) -> None:
    se = FakeSpeakeasy(FakeEmulator(8 if abi == "x64" else 4))
    installation = install(se, guest_table, max_block=0.2)
    g = Guest(installation, se).started()
    event = g("WSACreateEvent")
    started = time.monotonic()
    waited = g("WSAWaitForMultipleEvents", 1, g.pointers(event), 0, WSA_INFINITE, 0)
    assert waited == WSA_WAIT_TIMEOUT
    assert 0.15 <= time.monotonic() - started < 2.0
    s, _ = listener(g)
    started = time.monotonic()
    readable = g.fd_set(s)
    assert g("select", 0, readable, 0, 0, 0) == 0       # a NULL timeout: capped too
    assert 0.15 <= time.monotonic() - started < 2.0
    assert g.read_fd_set(readable) == []
    long_wait = g.emu.alloc(struct.pack("<ii", 3600, 0))
    assert g("select", 0, g.fd_set(s), 0, 0, long_wait) == 0
    assert g("closesocket", s) == 0 and g("WSACloseEvent", event) == 1
    assert g("WSACleanup") == 0
    installation.close()


def test_negative_select_timeout_is_wsaeinval(guest: Guest) -> None:
    g = guest.started()
    s, _ = listener(g)
    g.fails(WSAEINVAL, "select", 0, g.fd_set(s), 0, 0, g.emu.alloc(struct.pack("<ii", -1, 0)))
    assert g("closesocket", s) == 0
    assert g("WSACleanup") == 0


def test_host_thread_wakes_a_guest_wait(guest: Guest) -> None:
    event = guest("WSACreateEvent")
    timer = threading.Timer(0.1, guest.installation.table.table.set_event, (event,))
    timer.start()
    started = time.monotonic()
    waited = guest("WSAWaitForMultipleEvents", 1, guest.pointers(event), 0, WSA_INFINITE, 0)
    assert waited == WSA_WAIT_EVENT_0
    assert time.monotonic() - started < 2.0          # well before max_block (5 s)
    timer.join(JOIN)
    assert guest("WSACloseEvent", event) == 1


# --------------------------------------------------------------------------------------
# A connection through the hooks, in the guest's layouts.


def test_loopback_through_the_hooks(guest: Guest) -> None:
    g = guest.started()
    lst, name = listener(g)
    client = open_socket(g)
    assert g("connect", client, name, 16) == 0
    peer, peer_length = g.emu.alloc(32), g.emu.alloc(struct.pack("<i", 32))
    server = g("accept", lst, peer, peer_length)
    assert server != g.invalid_socket
    assert g.emu.read_int(peer_length) == 16
    family, _, host = struct.unpack_from("<HH4s", g.emu.mem_read(peer, 8))
    assert (family, host) == (AF_INET, bytes([127, 0, 0, 1]))

    message = g.emu.alloc(b"hello, guest")
    assert g("send", client, message, 12, 0) == 12
    sets = g.fd_set(lst, client, server)
    timeout = g.emu.alloc(struct.pack("<ii", 5, 0))
    assert g("select", 0, sets, 0, 0, timeout) == 1
    assert g.read_fd_set(sets) == [server]            # rewritten in the guest's layout
    assert g("__WSAFDIsSet", server, sets) == 1
    assert g("__WSAFDIsSet", client, sets) == 0
    received = g.emu.alloc(64)
    assert g("recv", server, received, 64, 0) == 12
    assert g.emu.mem_read(received, 12) == b"hello, guest"

    # Event select: FD_READ recorded, reported and cleared through the guest's structure.
    event = g("WSACreateEvent")
    assert g("WSAEventSelect", server, event, FD_READ) == 0
    assert g("send", client, message, 5, 0) == 5
    assert g("WSAWaitForMultipleEvents", 1, g.pointers(event), 0, 5000, 0) == WSA_WAIT_EVENT_0
    record = g.emu.alloc(44)
    assert g("WSAEnumNetworkEvents", server, event, record) == 0
    assert struct.unpack_from("<i", g.emu.mem_read(record, 4))[0] == FD_READ
    assert g("WSAWaitForMultipleEvents", 1, g.pointers(event), 0, 0, 0) == WSA_WAIT_TIMEOUT

    # WSAEventSelect made it non-blocking; FIONREAD counts what waits.
    count = g.emu.alloc(4)
    assert g("ioctlsocket", server, ws2core.FIONREAD, count) == 0
    assert g.emu.read_int(count) == 5
    assert g("recv", server, received, 64, 0) == 5
    g.fails(WSAEWOULDBLOCK, "recv", server, received, 64, 0)

    assert g("shutdown", client, ws2core.SD_SEND) == 0
    for s in (client, server, lst):
        assert g("closesocket", s) == 0
    assert g("WSACloseEvent", event) == 1
    assert g("WSACleanup") == 0


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
