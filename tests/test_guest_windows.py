"""user32's window and message calls (``ws2core.guest.windows``) through the fake guest of
guest_support, on both cores and ABIs: window classes, message-only windows that are windows
of the upcall table, the guest's message queue as WSAAsyncSelect, PostMessage, GetMessage and
PeekMessage use it, the MSG structure in guest memory, and DispatchMessage with and without
an adapter that runs guest code.

The C program tests/emulator/async_select.c checks the same calls under Speakeasy, Qiling
and Wine.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator, Sequence
from types import ModuleType

import pytest
from guest_support import (
    Caller,
    FakeGuest,
    abi,  # noqa: F401  (fixture)
    listener,
)

import ws2core
from ws2core.constants import (
    ERROR_CANNOT_FIND_WND_CLASS,
    ERROR_CLASS_ALREADY_EXISTS,
    ERROR_CLASS_DOES_NOT_EXIST,
    ERROR_CLASS_HAS_WINDOWS,
    ERROR_INSUFFICIENT_BUFFER,
    ERROR_INVALID_PARAMETER,
    ERROR_INVALID_WINDOW_HANDLE,
    ERROR_NOACCESS,
    ERROR_TIMEOUT,
    FD_ACCEPT,
    FD_READ,
    FIONBIO,
    SOCKET_ERROR,
    WM_QUIT,
    WM_USER,
    WSAEINVAL,
)
from ws2core.guest import Exports
from ws2core.guest._windows import QUEUE_LIMIT
from ws2core.ws2_32 import Ws2_32

PROCEDURE = 0x401500   # the guest's window procedure: any address, nothing runs it here
WM_SOCKET = WM_USER + 1
PM_NOREMOVE, PM_REMOVE = 0, 1


class ProcedureGuest(FakeGuest):
    """A FakeGuest that 'runs' a guest function by recording it and returning ``answer``."""

    runs_functions = True

    def __init__(self, ptr_size: int) -> None:
        super().__init__(ptr_size)
        self.ran: list[tuple[int, tuple[int, ...]]] = []
        self.answer = 0x55

    def run_function(self, address: int, args: Sequence[int]) -> int:
        self.ran.append((address, tuple(args)))
        return self.answer


def make(table: ws2core.UpcallTable, guest: FakeGuest | None = None,
         max_block: float = 5.0) -> Caller:
    emu = guest or FakeGuest(8 if table.table.abi == "x64" else 4)
    return Caller(Exports(Ws2_32(table), max_block=max_block), emu)


@pytest.fixture
def g(ws2core_core: ModuleType, abi: str) -> Iterator[Caller]:
    caller = make(ws2core.UpcallTable(ws2core_core.HandleTable(abi=abi)))
    yield caller
    caller.exports.close()
    caller.ws2_32.close()


def pointer(g: Caller, value: int) -> int:
    return value & ((1 << 8 * g.ptr_size) - 1)


def text(g: Caller, value: str, wide: bool = False) -> int:
    return g.emu.alloc((value + "\0").encode("utf-16-le" if wide else "latin-1"))


def wndclassex(g: Caller, name: int, procedure: int = PROCEDURE, size: int | None = None) -> int:
    """A WNDCLASSEX in the guest's layout (mingw-w64's winuser.h)."""
    if g.ptr_size == 8:
        data = struct.pack("<IIQiiQQQQQQQ", 80 if size is None else size, 0, procedure, 0, 0,
                           0, 0, 0, 0, 0, name, 0)
        assert len(data) == 80
    else:
        data = struct.pack("<IIIiiIIIIIII", 48 if size is None else size, 0, procedure, 0, 0,
                           0, 0, 0, 0, 0, name, 0)
        assert len(data) == 48
    return g.emu.alloc(data)


def wndclass(g: Caller, name: int, procedure: int = PROCEDURE) -> int:
    """A WNDCLASS (no cbSize) in the guest's layout."""
    if g.ptr_size == 8:
        data = struct.pack("<I4xQiiQQQQQQ", 0, procedure, 0, 0, 0, 0, 0, 0, 0, name)
        assert len(data) == 72
    else:
        data = struct.pack("<IIiiIIIIII", 0, procedure, 0, 0, 0, 0, 0, 0, 0, name)
        assert len(data) == 40
    return g.emu.alloc(data)


def register(g: Caller, name: str = "ws2core_test", procedure: int = PROCEDURE) -> int:
    atom = g("RegisterClassExA", wndclassex(g, text(g, name), procedure))
    assert atom >= 0xC000, ws2core.errorname(g.last_error)
    return int(atom)


def create(g: Caller, class_name: int, parent: int = -3, wide: bool = False) -> int:
    return int(g("CreateWindowExW" if wide else "CreateWindowExA", 0, class_name, 0, 0, 0, 0,
                 0, 0, pointer(g, parent), 0, 0, 0))


def window(g: Caller, name: str = "ws2core_test") -> int:
    register(g, name)
    hwnd = create(g, text(g, name))
    assert hwnd, ws2core.errorname(g.last_error)
    return hwnd


def read_msg(g: Caller, at: int) -> tuple[int, int, int, int]:
    """hwnd, message, wParam and lParam (signed) of the MSG at ``at``."""
    if g.ptr_size == 8:
        return struct.unpack_from("<QI4xQq", g.emu.mem_read(at, 48))
    return struct.unpack_from("<IIIi", g.emu.mem_read(at, 28))


def msg_buffer(g: Caller) -> int:
    return g.emu.alloc(bytes([0xCC]) * 64)


# --- classes


def test_a_class_registers_once_by_name_whatever_its_case(g: Caller) -> None:
    atom = register(g, "Ws2core_Test")
    assert g("RegisterClassExA", wndclassex(g, text(g, "WS2CORE_test"))) == 0
    assert g.last_error == ERROR_CLASS_ALREADY_EXISTS
    # The W forms read UTF-16, the atom names the class too.
    assert g("RegisterClassExW", wndclassex(g, text(g, "ws2core_TEST", wide=True))) == 0
    assert g.last_error == ERROR_CLASS_ALREADY_EXISTS
    assert create(g, atom) != 0


def test_register_class_reads_wndclass_and_wndclassex_in_the_guests_layout(g: Caller) -> None:
    g.emu = ProcedureGuest(g.ptr_size)
    assert g("RegisterClassW", wndclass(g, text(g, "plain", wide=True), 0x401111)) >= 0xC000
    assert g("RegisterClassExW", wndclassex(g, text(g, "extended", wide=True), 0x402222)) >= 0xC000
    for name, procedure in (("plain", 0x401111), ("extended", 0x402222)):
        hwnd = create(g, text(g, name, wide=True), wide=True)
        at = msg_buffer(g)
        assert g("PostMessageW", hwnd, WM_USER, 1, 2) == 1
        assert g("GetMessageW", at, hwnd, 0, 0) == 1
        assert g("DispatchMessageW", at) == 0x55
        assert g.emu.ran[-1] == (procedure, (hwnd, WM_USER, 1, 2))


def test_an_atom_names_a_class(g: Caller) -> None:
    """MAKEINTATOM: a class name below 0x10000 is the class's atom, registered as such and
    found by it (Wine 8 answers RegisterClassEx of 0x1234 with the atom 0x1234)."""
    assert g("RegisterClassExA", wndclassex(g, 0x1234)) == 0x1234
    assert g("RegisterClassExA", wndclassex(g, 0x1234)) == 0
    assert g.last_error == ERROR_CLASS_ALREADY_EXISTS
    assert create(g, 0x1234) != 0
    assert create(g, 0x1235) == 0 and g.last_error == ERROR_CANNOT_FIND_WND_CLASS


@pytest.mark.parametrize("size", [0, 79, 81, 48 - 1, 48 + 4])
def test_register_class_ex_wants_its_own_size_in_cbsize(g: Caller, size: int) -> None:
    assert g("RegisterClassExA", wndclassex(g, text(g, "sized"), size=size)) == 0
    assert g.last_error == ERROR_INVALID_PARAMETER


def test_class_names_are_bounded_and_read_as_guest_memory(g: Caller) -> None:
    assert g("RegisterClassExA", wndclassex(g, text(g, "x" * 256))) == 0
    assert g.last_error == ERROR_INSUFFICIENT_BUFFER
    assert g("RegisterClassExA", wndclassex(g, text(g, "x" * 255))) >= 0xC000
    unreadable = g.emu.alloc(b"secret\0")
    g.emu.protect(unreadable, 8, read=False)
    assert g("RegisterClassExA", wndclassex(g, unreadable)) == 0
    assert g.last_error == ERROR_NOACCESS
    assert g("RegisterClassExA", 0) == 0 and g.last_error == ERROR_NOACCESS
    assert g("CreateWindowExA", 0, 0, 0, 0, 0, 0, 0, 0, pointer(g, -3), 0, 0, 0) == 0
    assert g.last_error == ERROR_INVALID_PARAMETER


def test_unregister_class_waits_for_its_windows(g: Caller) -> None:
    hwnd = window(g, "going")
    assert g("UnregisterClassA", text(g, "GOING"), 0) == 0
    assert g.last_error == ERROR_CLASS_HAS_WINDOWS
    assert g("DestroyWindow", hwnd) == 1
    assert g("UnregisterClassA", text(g, "going"), 0) == 1
    assert g("UnregisterClassA", text(g, "going"), 0) == 0
    assert g.last_error == ERROR_CLASS_DOES_NOT_EXIST
    assert create(g, text(g, "going")) == 0
    assert g.last_error == ERROR_CANNOT_FIND_WND_CLASS


# --- windows


def test_a_guest_window_is_a_window_of_the_upcall_table(g: Caller) -> None:
    hwnd = window(g)
    assert g.ws2_32.upcalls.is_window(hwnd)
    assert g("IsWindow", hwnd) == 1
    # Its parent: NULL, HWND_MESSAGE or a window of the guest's; anything else is invalid.
    assert create(g, text(g, "ws2core_test"), parent=0) != 0
    assert create(g, text(g, "ws2core_test"), parent=hwnd) != 0
    assert create(g, text(g, "ws2core_test"), parent=0x10010) == 0
    assert g.last_error == ERROR_INVALID_WINDOW_HANDLE
    assert create(g, text(g, "no_such_class")) == 0
    assert g.last_error == ERROR_CANNOT_FIND_WND_CLASS
    assert g("DestroyWindow", hwnd) == 1
    assert not g.ws2_32.upcalls.is_window(hwnd)
    assert g("IsWindow", hwnd) == 0
    assert g("DestroyWindow", hwnd) == 0
    assert g.last_error == ERROR_INVALID_WINDOW_HANDLE


def test_closing_the_exports_takes_the_windows_out_of_the_table(g: Caller) -> None:
    hwnd = window(g)
    g.exports.close()
    assert not g.ws2_32.upcalls.is_window(hwnd)


def test_a_full_queue_refuses_the_providers_posts(g: Caller) -> None:
    """WPUPostMessage into a guest window whose queue holds QUEUE_LIMIT messages is FALSE
    (the post lost, as PostMessage's beyond Windows' quota), and TRUE again once one is taken."""
    hwnd = window(g)
    up = g.ws2_32.upcalls
    for number in range(QUEUE_LIMIT):
        assert up.WPUPostMessage(hwnd, 0x400, number, 0) == 1
    assert up.WPUPostMessage(hwnd, 0x400, QUEUE_LIMIT, 0) == 0
    assert g.exports.windows.queue.take(hwnd, 0, 0, True) is not None
    assert up.WPUPostMessage(hwnd, 0x400, QUEUE_LIMIT, 0) == 1


def test_a_window_the_guest_did_not_make_is_no_window(g: Caller) -> None:
    foreign = g.ws2_32.upcalls.register_window(lambda *message: None)   # the host's
    at = msg_buffer(g)
    for hwnd in (foreign, 0x10010, pointer(g, -3), 0xFFFF):
        assert g("IsWindow", hwnd) == 0
        g.emu.thread.last_error = 0
        assert g("PostMessageA", hwnd, WM_USER, 0, 0) == 0
        assert g.last_error == ERROR_INVALID_WINDOW_HANDLE
        assert g("GetMessageA", at, hwnd, 0, 0) == 0xFFFFFFFF
        assert g.last_error == ERROR_INVALID_WINDOW_HANDLE
        assert g("PeekMessageA", at, hwnd, 0, 0, PM_REMOVE) == 0
        assert g.last_error == ERROR_INVALID_WINDOW_HANDLE
    assert g.emu.mem_read(at, 8) == bytes([0xCC]) * 8


# --- the queue


def test_wsaasyncselect_posts_into_the_guests_queue(g: Caller) -> None:
    g.started()
    hwnd = window(g)
    s, name = listener(g)
    assert g("WSAAsyncSelect", s, hwnd, WM_SOCKET, FD_ACCEPT) == 0
    # Non-blocking now: FIONBIO off is refused until a cancel.
    off = g.emu.alloc(4)
    assert g("ioctlsocket", s, FIONBIO, off) == SOCKET_ERROR & 0xFFFFFFFF and g.last_error == WSAEINVAL
    port = int.from_bytes(g.emu.mem_read(name + 2, 2), "big")
    with socket.create_connection(("127.0.0.1", port)):
        at = msg_buffer(g)
        assert g("GetMessageA", at, hwnd, WM_SOCKET, WM_SOCKET) == 1
        assert read_msg(g, at) == (hwnd, WM_SOCKET, s, FD_ACCEPT)   # WSAMAKESELECTREPLY
    assert g("WSAAsyncSelect", s, hwnd, 0, 0) == 0
    assert g("ioctlsocket", s, FIONBIO, off) == 0
    # A window that is not the guest's: WSAEINVAL, as before any window existed.
    assert g("DestroyWindow", hwnd) == 1
    assert g("WSAAsyncSelect", s, hwnd, WM_SOCKET, FD_READ) == SOCKET_ERROR & 0xFFFFFFFF
    assert g.last_error == WSAEINVAL


def test_msg_is_written_whole_in_the_guests_layout(g: Caller) -> None:
    hwnd = window(g)
    wparam = (1 << 8 * g.ptr_size) - 2
    assert g("PostMessageA", hwnd, WM_USER + 9, wparam, pointer(g, -9)) == 1
    at = msg_buffer(g)
    assert g("PeekMessageA", at, 0, 0, 0, PM_REMOVE) == 1
    size = 48 if g.ptr_size == 8 else 28
    data = g.emu.mem_read(at, 64)
    assert data[size:] == bytes([0xCC]) * (64 - size)   # nothing past the MSG
    assert read_msg(g, at) == (hwnd, WM_USER + 9, wparam, -9)
    if g.ptr_size == 8:
        assert data[12:16] == bytes(4) and data[44:48] == bytes(4)   # padding: zeros
        when, x, y = struct.unpack_from("<Iii", data, 32)
    else:
        when, x, y = struct.unpack_from("<Iii", data, 16)
    assert (x, y) == (0, 0)
    assert ((int(time.monotonic() * 1000) - when) & 0xFFFFFFFF) < 5000   # a tick count


def test_peek_filters_by_window_and_range_and_may_leave_the_message(g: Caller) -> None:
    first, second = window(g, "one"), create(g, text(g, "one"))
    for hwnd, message in ((first, WM_USER + 1), (second, WM_USER + 2), (0, WM_USER + 3),
                          (first, WM_USER + 4)):
        assert g("PostMessageA", hwnd, message, message, 0) == 1
    at = msg_buffer(g)
    assert g("PeekMessageA", at, second, 0, 0, PM_NOREMOVE) == 1
    assert read_msg(g, at)[:2] == (second, WM_USER + 2)
    assert g("PeekMessageA", at, pointer(g, -1), 0, 0, PM_REMOVE) == 1   # the thread's own
    assert read_msg(g, at)[:2] == (0, WM_USER + 3)
    assert g("PeekMessageA", at, first, WM_USER + 3, WM_USER + 9, PM_REMOVE) == 1
    assert read_msg(g, at)[:2] == (first, WM_USER + 4)
    assert g("PeekMessageA", at, first, WM_USER + 3, WM_USER + 9, PM_REMOVE) == 0
    # A minimum above the maximum filters nothing; the order is the posting order.
    assert g("PeekMessageA", at, 0, WM_USER + 9, WM_USER, PM_REMOVE) == 1
    assert read_msg(g, at)[:2] == (first, WM_USER + 1)
    assert g("PeekMessageA", at, 0, 0, 0, PM_REMOVE) == 1
    assert read_msg(g, at)[:2] == (second, WM_USER + 2)
    assert g("PeekMessageA", at, 0, 0, 0, PM_REMOVE) == 0


def test_get_message_quits_with_zero_and_the_exit_code(g: Caller) -> None:
    hwnd = window(g)
    assert g("PostMessageA", hwnd, WM_USER, 0, 0) == 1
    assert g("PostQuitMessage", 7) is None
    at = msg_buffer(g)
    assert g("GetMessageA", at, 0, 0, 0) == 1    # the posted message comes first
    assert g("GetMessageA", at, 0, 0, 0) == 0
    assert read_msg(g, at)[:3] == (0, WM_QUIT, 7)
    assert g("PeekMessageA", at, 0, 0, 0, PM_REMOVE) == 0   # taken once


def test_get_message_with_a_bad_msg_fails_and_keeps_the_message(g: Caller) -> None:
    hwnd = window(g)
    assert g("PostMessageA", hwnd, WM_USER, 0, 0) == 1
    read_only = g.emu.alloc(64)
    g.emu.protect(read_only, 64, write=False)
    for at in (0, read_only):
        assert g("GetMessageA", at, 0, 0, 0) == 0xFFFFFFFF
        assert g.last_error == ERROR_NOACCESS
        assert g("PeekMessageA", at, 0, 0, 0, PM_REMOVE) == 0
        assert g.last_error == ERROR_NOACCESS
    assert g("PeekMessageA", msg_buffer(g), 0, 0, 0, PM_REMOVE) == 1


def test_get_message_waits_for_a_post_and_no_longer_than_max_block(
        ws2core_core: ModuleType, abi: str) -> None:
    g = make(ws2core.UpcallTable(ws2core_core.HandleTable(abi=abi)), max_block=0.3)
    try:
        hwnd = window(g)
        at = msg_buffer(g)
        started = time.monotonic()
        assert g("GetMessageA", at, hwnd, 0, 0) == 0xFFFFFFFF
        assert 0.25 < time.monotonic() - started < 2
        assert g.last_error == ERROR_TIMEOUT
        # A post from another thread (the provider's reactor) ends the wait.
        timer = threading.Timer(0.1, g.ws2_32.upcalls.WPUPostMessage, (hwnd, WM_USER, 1, 2))
        timer.start()
        assert g("GetMessageA", at, hwnd, 0, 0) == 1
        timer.join()
        assert read_msg(g, at) == (hwnd, WM_USER, 1, 2)
    finally:
        g.exports.close()
        g.ws2_32.close()


def test_a_destroyed_windows_messages_go_with_it(g: Caller) -> None:
    hwnd = window(g)
    assert g("PostMessageA", hwnd, WM_USER, 0, 0) == 1
    assert g("DestroyWindow", hwnd) == 1
    assert g.ws2_32.upcalls.WPUPostMessage(hwnd, WM_USER, 0, 0) == 0
    assert g("PeekMessageA", msg_buffer(g), 0, 0, 0, PM_REMOVE) == 0


# --- dispatching


def test_dispatch_runs_the_window_procedure_where_the_adapter_can(
        ws2core_core: ModuleType, abi: str) -> None:
    emu = ProcedureGuest(8 if abi == "x64" else 4)
    g = make(ws2core.UpcallTable(ws2core_core.HandleTable(abi=abi)), emu)
    try:
        register(g, "proc", 0x403333)
        hwnd = create(g, text(g, "proc"))
        at = msg_buffer(g)
        assert g("PostMessageA", hwnd, WM_USER, 5, pointer(g, -6)) == 1
        assert g("GetMessageA", at, 0, 0, 0) == 1
        assert g("TranslateMessage", at) == 0
        assert g("DispatchMessageA", at) == 0x55
        assert emu.ran == [(0x403333, (hwnd, WM_USER, 5, pointer(g, -6)))]
        # A thread message has no procedure; a window that is gone is invalid.
        g.emu.mem_write(at, bytes(g.ptr_size))
        assert g("DispatchMessageA", at) == 0 and len(emu.ran) == 1
        g.emu.mem_write(at, (0x10010).to_bytes(g.ptr_size, "little"))
        assert g("DispatchMessageA", at) == 0
        assert g.last_error == ERROR_INVALID_WINDOW_HANDLE and len(emu.ran) == 1
    finally:
        g.exports.close()
        g.ws2_32.close()


def test_dispatch_without_guest_code_returns_zero_and_runs_nothing(g: Caller) -> None:
    hwnd = window(g)
    at = msg_buffer(g)
    assert g("PostMessageA", hwnd, WM_USER, 0, 0) == 1
    assert g("GetMessageA", at, 0, 0, 0) == 1
    g.emu.thread.last_error = 0
    assert g("DispatchMessageA", at) == 0
    assert g.last_error == 0
    assert g("DefWindowProcA", hwnd, WM_USER, 0, 0) == 0


@pytest.mark.parametrize("message, translated", [(0x100, 1), (0x101, 1), (0x104, 1),
                                                 (0x105, 1), (0x102, 0), (WM_USER, 0)])
def test_translate_message_answers_the_key_messages(g: Caller, message: int,
                                                    translated: int) -> None:
    layout = "<QI44x" if g.ptr_size == 8 else "<II20x"
    assert g("TranslateMessage", g.emu.alloc(struct.pack(layout, 0, message))) == translated
