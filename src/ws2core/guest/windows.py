"""User32's window and message calls over guest memory: what a program that takes
WSAAsyncSelect's messages through a message-only window needs.

RegisterClassA/W, RegisterClassExA/W, UnregisterClassA/W, CreateWindowExA/W, DestroyWindow,
IsWindow, PostMessageA/W, PeekMessageA/W, GetMessageA/W, TranslateMessage,
DispatchMessageA/W, DefWindowProcA/W and PostQuitMessage.

Every guest window is a window of the upcall table (``UpcallTable.register_window``) whose
sink is the process's one message queue (``_windows``: one guest thread runs at a time), so
the provider's WSPAsyncSelect posts (WPUPostMessage) straight into what GetMessage and
PeekMessage read, and WSAAsyncSelect is Ws2_32's own.  An HWND ws2core did not make is an
invalid window (ERROR_INVALID_WINDOW_HANDLE), whoever made it: the emulators serve no window
a program could post to, nor read from.

These are user32's calls: a success leaves the last error alone, a failure sets a Win32
code, and a guest structure that cannot be read or written is ERROR_NOACCESS (where Windows
would raise an access violation in the program, mostly).  Structures, both ABIs (mingw-w64's
winuser.h): MSG (x64: 48 bytes, hwnd, message at 8, wParam 16, lParam 24, time 32, pt 36;
x86: 28), WNDCLASS (x64 72 bytes, lpfnWndProc at 8, lpszClassName at 64; x86 40: 4, 36) and
WNDCLASSEX (x64 80: cbSize, lpfnWndProc at 8, lpszClassName at 64; x86 48: 8, 40).  A class
name is read up to 256 characters (an atom's name holds 255: a longer one is
ERROR_INSUFFICIENT_BUFFER, as Wine 8 answers it), or is an atom (MAKEINTATOM: a value below
0x10000, which RegisterClass takes as the class's atom).

Where ws2core stops short of Windows:

- CreateWindowEx makes a window that only queues messages, whatever its parent (NULL,
  HWND_MESSAGE or one of the guest's windows; another is ERROR_INVALID_WINDOW_HANDLE) and
  style; it sends no creation messages (WM_NCCREATE, WM_CREATE) to the window procedure, and
  a class's hInstance is not part of its identity (one module registers classes here).
- GetMessage waits no longer than the exports' ``max_block`` (the emulator runs no other
  guest thread meanwhile): a wait that runs out returns -1 with ERROR_TIMEOUT, where Windows
  would go on waiting.
- DispatchMessage calls the class's window procedure with ``Guest.run_function`` where the
  adapter runs guest code (Qiling) and returns its result; where it cannot (Speakeasy), it
  returns 0 without calling it.  DefWindowProc returns 0 for every message (a message-only
  window has nothing to paint, size or close by default); PostMessage to HWND_BROADCAST is
  an invalid window.
"""

from __future__ import annotations

import struct
from typing import Final

from .._shared import WinsockError
from ..constants import (
    ERROR_INSUFFICIENT_BUFFER,
    ERROR_INVALID_PARAMETER,
    ERROR_INVALID_WINDOW_HANDLE,
    ERROR_NOT_ENOUGH_MEMORY,
    ERROR_TIMEOUT,
    FALSE,
    HWND_MESSAGE,
    INFINITE,
    PM_REMOVE,
    TRUE,
    WM_QUIT,
)
from . import _memory
from ._exports import Exports, export
from ._protocol import Guest
from ._windows import Message
from .kernel import _guest_memory

CLASS_NAME_LIMIT: Final = 256
"""The longest class name Windows accepts, in characters (255) and one more to see past."""

# Offsets (x64, x86) of what is read of WNDCLASS and WNDCLASSEX: (size, lpfnWndProc,
# lpszClassName).
WNDCLASS: Final = {8: (72, 8, 64), 4: (40, 4, 36)}
WNDCLASSEX: Final = {8: (80, 8, 64), 4: (48, 8, 40)}
MSG_SIZE: Final = {8: 48, 4: 28}
KEY_MESSAGES: Final = frozenset((0x100, 0x101, 0x104, 0x105))
"""WM_KEYDOWN, WM_KEYUP, WM_SYSKEYDOWN, WM_SYSKEYUP: TranslateMessage's nonzero ones."""


def _signed(g: Guest, value: int) -> int:
    bits = 8 * g.ptr_size
    return value - (1 << bits) if value >> (bits - 1) else value


def _class_name(g: Guest, address: int, wide: bool) -> str | int:
    """A class name argument: an atom (below 0x10000) or the string there."""
    if address < 0x10000:
        if address == 0:
            raise WinsockError(ERROR_INVALID_PARAMETER, "a NULL class name")
        return address
    with _guest_memory():
        raw = _memory.read_string(g, address, limit=CLASS_NAME_LIMIT, wide=wide)
    if len(raw) // (2 if wide else 1) >= CLASS_NAME_LIMIT:   # Wine's code for it
        raise WinsockError(ERROR_INSUFFICIENT_BUFFER, "a class name of more than 255 characters")
    return raw.decode("utf-16-le" if wide else "latin-1", "replace")


def _register(ex: Exports, g: Guest, lpWndClass: int, wide: bool, extended: bool) -> int:
    size, procedure_at, name_at = (WNDCLASSEX if extended else WNDCLASS)[g.ptr_size]
    with _guest_memory():
        if extended and _memory.read_int(g, lpWndClass) != size:   # cbSize, read alone first
            raise WinsockError(ERROR_INVALID_PARAMETER, "WNDCLASSEX's cbSize is not its size")
        data = _memory.read(g, lpWndClass, size)
    word = "<Q" if g.ptr_size == 8 else "<I"
    procedure, = struct.unpack_from(word, data, procedure_at)
    name, = struct.unpack_from(word, data, name_at)
    return ex.windows.register_class(_class_name(g, name, wide), procedure)


def _registrar(name: str, wide: bool, extended: bool) -> None:
    @export(name, "p", "i", 0, last_error=True, clears_last_error=False, dll="user32",
            internal=ERROR_NOT_ENOUGH_MEMORY)
    def register(ex: Exports, g: Guest, lpWndClass: int) -> int:
        return _register(ex, g, lpWndClass, wide, extended)


for _name, _wide, _extended in (("RegisterClassA", False, False), ("RegisterClassW", True, False),
                                ("RegisterClassExA", False, True),
                                ("RegisterClassExW", True, True)):
    _registrar(_name, _wide, _extended)


def _unregistrar(name: str, wide: bool) -> None:
    @export(name, "pp", "i", FALSE, last_error=True, clears_last_error=False, dll="user32",
            internal=ERROR_NOT_ENOUGH_MEMORY)
    def unregister(ex: Exports, g: Guest, lpClassName: int, hInstance: int) -> int:
        ex.windows.unregister_class(_class_name(g, lpClassName, wide))
        return TRUE


_unregistrar("UnregisterClassA", False)
_unregistrar("UnregisterClassW", True)


def _creator(name: str, wide: bool) -> None:
    @export(name, "uppuiiiipppp", "p", 0, last_error=True, clears_last_error=False,
            dll="user32", internal=ERROR_NOT_ENOUGH_MEMORY)
    def create(ex: Exports, g: Guest, dwExStyle: int, lpClassName: int, lpWindowName: int,
               dwStyle: int, X: int, Y: int, nWidth: int, nHeight: int, hWndParent: int,
               hMenu: int, hInstance: int, lpParam: int) -> int:
        parent = _signed(g, hWndParent)
        if parent not in (0, HWND_MESSAGE) and not ex.windows.is_window(hWndParent):
            raise WinsockError(ERROR_INVALID_WINDOW_HANDLE, f"parent {hWndParent:#x}")
        return ex.windows.create(_class_name(g, lpClassName, wide))


_creator("CreateWindowExA", False)
_creator("CreateWindowExW", True)


@export("DestroyWindow", "p", "i", FALSE, last_error=True, clears_last_error=False,
        dll="user32", internal=ERROR_NOT_ENOUGH_MEMORY)
def DestroyWindow(ex: Exports, g: Guest, hWnd: int) -> int:
    ex.windows.destroy(hWnd)
    return TRUE


@export("IsWindow", "p", "i", None, last_error=False, clears_last_error=False, dll="user32")
def IsWindow(ex: Exports, g: Guest, hWnd: int) -> int:
    return TRUE if ex.windows.is_window(hWnd) else FALSE


def _poster(name: str) -> None:
    @export(name, "pupp", "i", FALSE, last_error=True, clears_last_error=False, dll="user32",
            internal=ERROR_NOT_ENOUGH_MEMORY)
    def post(ex: Exports, g: Guest, hWnd: int, Msg: int, wParam: int, lParam: int) -> int:
        # NULL posts to the thread itself (PostThreadMessage to the current thread).
        if hWnd:
            ex.windows.window_class(hWnd)
        if not ex.windows.queue.post(hWnd, Msg, wParam, lParam):
            raise WinsockError(ERROR_NOT_ENOUGH_MEMORY, "the message queue is full")
        return TRUE


_poster("PostMessageA")
_poster("PostMessageW")


def _filter_window(ex: Exports, g: Guest, hWnd: int) -> int:
    """A hWnd filter: 0 any, -1 the thread's own messages, else one of the guest's windows."""
    if _signed(g, hWnd) == -1:
        return -1
    if hWnd:
        ex.windows.window_class(hWnd)
    return hWnd


def _write_msg(g: Guest, lpMsg: int, found: Message) -> None:
    """The MSG at ``lpMsg``: the message, its time, and a cursor position of (0, 0)."""
    mask = (1 << 8 * g.ptr_size) - 1
    layout = "<QI4xQQIii4x" if g.ptr_size == 8 else "<IIIIIii"
    data = struct.pack(layout, found.hwnd & mask, found.message, found.wparam & mask,
                       found.lparam & mask, found.time, 0, 0)
    with _guest_memory():
        _memory.write(g, lpMsg, data)


def _peeker(name: str) -> None:
    @export(name, "ppuuu", "i", FALSE, last_error=False, clears_last_error=False,
            dll="user32", internal=ERROR_NOT_ENOUGH_MEMORY)
    def peek(ex: Exports, g: Guest, lpMsg: int, hWnd: int, wMsgFilterMin: int,
             wMsgFilterMax: int, wRemoveMsg: int) -> int:
        window = _filter_window(ex, g, hWnd)
        with _guest_memory():
            _memory.require_writable(g, lpMsg, MSG_SIZE[g.ptr_size])
        found = ex.windows.queue.take(window, wMsgFilterMin, wMsgFilterMax,
                                      bool(wRemoveMsg & PM_REMOVE))
        if found is None:
            return FALSE
        _write_msg(g, lpMsg, found)
        return TRUE


_peeker("PeekMessageA")
_peeker("PeekMessageW")


def _getter(name: str) -> None:
    @export(name, "ppuu", "i", -1, last_error=True, clears_last_error=False, dll="user32",
            internal=ERROR_NOT_ENOUGH_MEMORY)
    def get(ex: Exports, g: Guest, lpMsg: int, hWnd: int, wMsgFilterMin: int,
            wMsgFilterMax: int) -> int:
        window = _filter_window(ex, g, hWnd)
        with _guest_memory():
            _memory.require_writable(g, lpMsg, MSG_SIZE[g.ptr_size])
        milliseconds = ex.ws2_32.capped_timeout(INFINITE)
        found = ex.windows.queue.take(window, wMsgFilterMin, wMsgFilterMax, True,
                                      None if milliseconds == INFINITE else milliseconds / 1000)
        if found is None:
            raise WinsockError(ERROR_TIMEOUT, "no message within the exports' max_block")
        _write_msg(g, lpMsg, found)
        return FALSE if found.message == WM_QUIT else TRUE


_getter("GetMessageA")
_getter("GetMessageW")


def _read_msg(g: Guest, lpMsg: int) -> tuple[int, int, int, int]:
    """hwnd, message, wParam and lParam of the MSG at ``lpMsg``."""
    with _guest_memory():
        data = _memory.read(g, lpMsg, MSG_SIZE[g.ptr_size])
    if g.ptr_size == 8:
        hwnd, message, wparam, lparam = struct.unpack_from("<QI4xQQ", data)
    else:
        hwnd, message, wparam, lparam = struct.unpack_from("<IIII", data)
    return hwnd, message, wparam, lparam


@export("TranslateMessage", "p", "i", FALSE, last_error=False, clears_last_error=False,
        dll="user32", internal=ERROR_NOT_ENOUGH_MEMORY)
def TranslateMessage(ex: Exports, g: Guest, lpMsg: int) -> int:
    # Nothing here is a keystroke to translate; the key messages answer TRUE regardless.
    return TRUE if _read_msg(g, lpMsg)[1] in KEY_MESSAGES else FALSE


def _dispatcher(name: str) -> None:
    @export(name, "p", "p", 0, last_error=False, clears_last_error=False, dll="user32",
            internal=ERROR_NOT_ENOUGH_MEMORY)
    def dispatch(ex: Exports, g: Guest, lpMsg: int) -> int:
        hwnd, message, wparam, lparam = _read_msg(g, lpMsg)
        if not hwnd:   # a thread message: no window procedure to call
            return 0
        procedure = ex.windows.window_class(hwnd).procedure
        if not g.runs_functions:   # Speakeasy: the module docstring's deviation
            return 0
        return g.run_function(procedure, (hwnd, message, wparam, lparam))


_dispatcher("DispatchMessageA")
_dispatcher("DispatchMessageW")


def _default(name: str) -> None:
    @export(name, "pupp", "p", None, last_error=False, clears_last_error=False, dll="user32")
    def default(ex: Exports, g: Guest, hWnd: int, Msg: int, wParam: int, lParam: int) -> int:
        return 0


_default("DefWindowProcA")
_default("DefWindowProcW")


@export("PostQuitMessage", "i", "v", None, last_error=False, clears_last_error=False,
        dll="user32")
def PostQuitMessage(ex: Exports, g: Guest, nExitCode: int) -> None:
    ex.windows.queue.post_quit(nExitCode & INFINITE)
