"""kernel32's calls on ws2core's handles (``ws2core.guest.kernel`` over ``ws2core.kernel32``),
through the fake guest of guest_support, on both cores and ABIs; and the Speakeasy adapter's
handover of the handles that are not ws2core's to Speakeasy's own handlers.

The C program tests/emulator/kernel_handles.c checks the same calls under Speakeasy and Wine.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

import ws2core
from ws2core.adapters.speakeasy import HANDLE_RANGE, install
from ws2core.constants import (
    ERROR_INVALID_HANDLE,
    ERROR_INVALID_PARAMETER,
    ERROR_NETNAME_DELETED,
    ERROR_NOACCESS,
    ERROR_NOT_SUPPORTED,
    WAIT_OBJECT_0,
    WAIT_TIMEOUT,
    WSAECONNRESET,
    WSAEWOULDBLOCK,
)
from ws2core.guest import Exports, NotServed
from ws2core.kernel32 import win32_error
from ws2core.ws2_32 import Ws2_32

from guest_support import abi  # noqa: F401  (fixture)
from guest_support import Caller, FakeGuest, listener, open_socket

FOREIGN = 0x220   # a Speakeasy event handle: below HANDLE_RANGE


@pytest.fixture
def g(ws2core_core: ModuleType, abi: str) -> Iterator[Caller]:
    table = ws2core.UpcallTable(ws2core_core.HandleTable(abi=abi, handle_range=HANDLE_RANGE))
    caller = Caller(Exports(Ws2_32(table), max_block=2.0), FakeGuest(8 if abi == "x64" else 4))
    yield caller
    leaked = [hex(h) for h in table.table]
    caller.ws2_32.close()
    assert not leaked, f"handles left open: {leaked}"


def test_waits_set_reset_close(g: Caller) -> None:
    events = [g("WSACreateEvent") for _ in range(3)]
    array = g.pointers(*events)
    g.emu.thread.last_error = WSAEWOULDBLOCK
    assert g("WaitForSingleObject", events[0], 0) == WAIT_TIMEOUT
    assert g("SetEvent", events[2]) == 1
    assert g("WaitForSingleObjectEx", events[2], 0, 1) == WAIT_OBJECT_0
    assert g("WaitForMultipleObjects", 3, array, 0, 0) == WAIT_OBJECT_0 + 2
    assert g("WaitForMultipleObjectsEx", 3, array, 1, 0, 1) == WAIT_TIMEOUT
    assert g("ResetEvent", events[2]) == 1
    assert g("WaitForSingleObject", events[2] | 3, 0) == WAIT_TIMEOUT   # tag bits ignored
    assert g.last_error == WSAEWOULDBLOCK   # kernel32's successes leave it alone
    g.fails(ERROR_INVALID_PARAMETER, "WaitForMultipleObjects", 0, array, 0, 0)
    g.fails(ERROR_INVALID_PARAMETER, "WaitForMultipleObjectsEx", 65, 0, 0, 0, 0)
    g.fails(ERROR_INVALID_PARAMETER, "WaitForMultipleObjects", 2, g.pointers(events[0], events[0]),
            1, 0)
    g.fails(ERROR_NOACCESS, "WaitForMultipleObjects", 2, 0, 0, 0)
    for event in events:
        assert g("CloseHandle", event) == 1
    g.fails(ERROR_INVALID_HANDLE, "WaitForSingleObject", events[0], 0)
    g.fails(ERROR_INVALID_HANDLE, "SetEvent", events[1])
    g.fails(ERROR_INVALID_HANDLE, "CloseHandle", events[2])


def test_foreign_handles_are_not_served(g: Caller) -> None:
    event = g("WSACreateEvent")
    before = g.emu.thread.last_error = 1234
    for name, args in [("WaitForSingleObject", (FOREIGN, 0)), ("SetEvent", (FOREIGN,)),
                       ("ResetEvent", (FOREIGN,)), ("CloseHandle", (FOREIGN,)),
                       ("ReadFile", (FOREIGN, 0, 4, 0, 0)), ("WriteFile", (FOREIGN, 0, 4, 0, 0)),
                       ("WaitForMultipleObjects", (2, g.pointers(event, FOREIGN), 0, 0))]:
        with pytest.raises(NotServed) as handover:
            g(name, *args)
        assert handover.value.instead is None
    with pytest.raises(NotServed) as handover:
        g("WaitForSingleObjectEx", FOREIGN, 7, 1)
    assert handover.value.instead == ("WaitForSingleObject", (FOREIGN, 7))
    assert g.emu.thread.last_error == before
    assert g("CloseHandle", event) == 1


def test_read_and_write_file_on_a_connected_pair(g: Caller) -> None:
    g.started()
    server, name = listener(g)
    client = open_socket(g)
    assert g("connect", client, name, 16) == 0
    accepted = g("accept", server, 0, 0)
    count = g.emu.alloc(4)
    g.emu.thread.last_error = WSAEWOULDBLOCK
    assert g("WriteFile", client, g.emu.alloc(b"hello"), 5, count, 0) == 1
    assert g.emu.read_int(count) == 5
    buffer = g.emu.alloc(16)
    assert g("ReadFile", accepted, buffer, 16, count, 0) == 1
    assert (g.emu.read_int(count), bytes(g.emu.mem_read(buffer, 5))) == (5, b"hello")
    assert g.last_error == WSAEWOULDBLOCK
    g.fails(ERROR_NOT_SUPPORTED, "ReadFile", accepted, buffer, 16, count, g.emu.alloc(32))
    g.fails(ERROR_NOACCESS, "ReadFile", accepted, 0, 16, count, 0)
    event = g("WSACreateEvent")
    g.fails(ERROR_INVALID_HANDLE, "ReadFile", event, buffer, 16, count, 0)
    g.fails(ERROR_INVALID_HANDLE, "SetEvent", accepted)
    assert g("CloseHandle", event) == 1
    assert g("CloseHandle", client) == 1      # closes the socket, as closesocket would
    assert g("ReadFile", accepted, buffer, 16, count, 0) == 1
    assert g.emu.read_int(count) == 0         # the peer's end: TRUE with 0 bytes
    g.fails(ERROR_INVALID_HANDLE, "WriteFile", client, buffer, 1, count, 0)
    for s in (accepted, server):
        assert g("closesocket", s) == 0
    assert g("WSACleanup") == 0


def test_win32_error_translates_the_socket_codes_files_report() -> None:
    assert win32_error(WSAECONNRESET) == ERROR_NETNAME_DELETED
    assert win32_error(WSAEWOULDBLOCK) == WSAEWOULDBLOCK
    assert win32_error(ERROR_INVALID_HANDLE) == ERROR_INVALID_HANDLE


# --- the Speakeasy adapter's handover


class _Emulator(FakeGuest):
    """What a hook's ``emu`` needs here: memory, the last error, and Speakeasy's handler
    table (``api.get_export_func_handler``) and unsupported-call stop."""

    def __init__(self, ptr_size: int) -> None:
        super().__init__(ptr_size)
        self.api = self
        self.stopped: list[Any] = []
        self.handlers = True
        self.curr_run = type("Run", (), {"error": None})()

    def get_last_error(self) -> int:
        return self.thread.last_error

    def get_export_func_handler(self, dll: str, name: str) -> tuple[Any, Any]:
        if name != "WaitForSingleObject" or not self.handlers:
            return None, None
        return "kernel32-module", ("WaitForSingleObject",
                                   lambda module, emu, argv, ctx: ("speakeasy's", module, argv), 2,
                                   None, None)

    def get_error_info(self, kind: str, pc: int) -> dict[str, Any]:
        return {"type": kind}

    def get_pc(self) -> int:
        return 0

    def on_run_complete(self) -> None:
        self.stopped.append(self.curr_run.error)


class _Speakeasy:
    def __init__(self, emu: _Emulator) -> None:
        self.emu = emu
        self.hooks: dict[tuple[str, str], Any] = {}

    def get_ptr_size(self) -> int:
        return self.emu.ptr_size

    def add_api_hook(self, cb: Any, module: str = "", api_name: str = "", argc: int = 0,
                     call_conv: Any = None) -> None:
        self.hooks[module, api_name] = cb


# install() imports Speakeasy's own modules (its calling conventions, its faults): a test of the
# adapter, so it runs where the adapter's others do (`-m emulator`, with the speakeasy extra).
@pytest.mark.emulator
def test_adapter_hands_foreign_handles_to_speakeasy(abi: str) -> None:
    emu = _Emulator(8 if abi == "x64" else 4)
    se = _Speakeasy(emu)
    with install(se) as installation:
        assert installation.table.table.handle_range[0] == HANDLE_RANGE[0]
        event = installation.ws2_32.WSACreateEvent()

        def hook(name: str, original: Any, *argv: int) -> Any:
            return se.hooks["kernel32", name](emu, f"kernel32.{name}", original, list(argv))

        original = lambda argv: ("original", argv)
        assert hook("WaitForSingleObject", original, event, 0) == WAIT_TIMEOUT   # ours
        assert hook("WaitForSingleObject", original, FOREIGN, 5) == ("original", [FOREIGN, 5])
        assert hook("CloseHandle", original, FOREIGN) == ("original", [FOREIGN])
        # Speakeasy lacks the Ex form: its WaitForSingleObject answers in its place.
        assert hook("WaitForSingleObjectEx", None, FOREIGN, 5, 1) == (
            "speakeasy's", "kernel32-module", [FOREIGN, 5])
        assert hook("WaitForSingleObjectEx", None, event, 0, 1) == WAIT_TIMEOUT
        # With no handler of the equivalent either, the run stops as on any call Speakeasy
        # lacks.
        emu.handlers = False
        assert hook("WaitForSingleObjectEx", None, FOREIGN, 5, 1) is None
        assert emu.stopped == [{"type": "unsupported_api",
                                "api_name": "kernel32.WaitForSingleObjectEx"}]
        assert hook("CloseHandle", original, event) == 1
