"""The guest's window classes, windows and message queue (the state ``windows`` serves).

One emulated process runs one guest thread at a time, so it has one message queue: every
window of the guest is a window of the upcall table (``UpcallTable.register_window``) whose
sink is that queue, so WPUPostMessage (the provider's WSPAsyncSelect) and the guest's own
PostMessage append to the same place, and GetMessage and PeekMessage take from it in posting
order.  The provider posts from its reactor thread: the queue is a condition variable's.
"""

from __future__ import annotations

import collections
import queue
import threading
import time
from dataclasses import dataclass
from typing import Final

from .._shared import WinsockError
from ..constants import (
    ERROR_CANNOT_FIND_WND_CLASS,
    ERROR_CLASS_ALREADY_EXISTS,
    ERROR_CLASS_DOES_NOT_EXIST,
    ERROR_CLASS_HAS_WINDOWS,
    ERROR_INVALID_WINDOW_HANDLE,
    WM_QUIT,
)
from ..upcalls import UpcallTable

FIRST_ATOM: Final = 0xC000
"""RegisterClass's first atom: Windows' string atoms run from 0xC000 to 0xFFFF."""

QUEUE_LIMIT: Final = 10000
"""Posted messages a queue holds (Windows' USERPostMessageLimit default): a post beyond
fails, as PostMessage fails with ERROR_NOT_ENOUGH_QUOTA there."""


@dataclass(frozen=True)
class WindowClass:
    name: str          # as registered; compared case-insensitively, as Windows does
    atom: int
    procedure: int     # lpfnWndProc: a guest address


@dataclass(frozen=True)
class Message:
    hwnd: int
    message: int
    wparam: int
    lparam: int
    time: int          # milliseconds, as GetTickCount counts


class MessageQueue:
    """The guest thread's posted messages; a window's sink (it has ``put_nowait``)."""

    def __init__(self) -> None:
        self._ready = threading.Condition(threading.Lock())
        self._messages: collections.deque[Message] = collections.deque()
        self.quit: int | None = None   # PostQuitMessage's exit code, until GetMessage takes it

    def put_nowait(self, item: tuple[int, int, int, int]) -> None:
        """WPUPostMessage's post: ``(hWnd, Msg, wParam, lParam)``; queue.Full when the queue
        is, which WPUPostMessage answers with FALSE."""
        if not self.post(*item):
            raise queue.Full

    def post(self, hwnd: int, message: int, wparam: int, lparam: int) -> bool:
        """Append a message; False when the queue is full."""
        with self._ready:
            if len(self._messages) >= QUEUE_LIMIT:
                return False
            self._messages.append(Message(hwnd, message, wparam, lparam,
                                          int(time.monotonic() * 1000) & 0xFFFFFFFF))
            self._ready.notify_all()
        return True

    def post_quit(self, code: int) -> None:
        with self._ready:
            self.quit = code
            self._ready.notify_all()

    def take(self, hwnd: int, first: int, last: int, remove: bool,
             timeout: float | None = 0.0) -> Message | None:
        """The first message for ``hwnd`` (0: any; -1, as a pointer-sized value or not:
        those posted to no window) in ``first``..``last`` (both 0: all; ``first`` above
        ``last``: all, as Wine's server filters), removed when ``remove``; once none is
        queued, WM_QUIT if PostQuitMessage asked for it and the filter lets it through
        (Windows hands it out when the queue holds nothing else for the caller).  Waits up
        to ``timeout`` seconds (None: for ever) for one; None if none came."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._ready:
            while True:
                for index, message in enumerate(self._messages):
                    if _matches(message.hwnd, message.message, hwnd, first, last):
                        if remove:
                            del self._messages[index]
                        return message
                if self.quit is not None and _matches(0, WM_QUIT, hwnd, first, last):
                    code = self.quit
                    if remove:
                        self.quit = None
                    return Message(0, WM_QUIT, code, 0, int(time.monotonic() * 1000) & 0xFFFFFFFF)
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return None
                self._ready.wait(left)

    def discard(self, hwnd: int) -> None:
        """Drop the messages of a destroyed window, as Windows does."""
        with self._ready:
            self._messages = collections.deque(m for m in self._messages if m.hwnd != hwnd)

    def __len__(self) -> int:
        return len(self._messages)


def _matches(posted_to: int, message: int, hwnd: int, first: int, last: int) -> bool:
    if hwnd == -1:
        if posted_to != 0:
            return False
    elif hwnd and posted_to != hwnd:
        return False
    return first > last or (first == last == 0) or first <= message <= last


class GuestWindows:
    """The window classes and windows of one emulated process, over its upcall table."""

    def __init__(self, upcalls: UpcallTable) -> None:
        self._upcalls = upcalls
        self._lock = threading.Lock()
        self.queue = MessageQueue()
        self._classes: dict[str, WindowClass] = {}       # casefolded name -> class
        self._windows: dict[int, WindowClass] = {}       # HWND -> its class
        self._next_atom = FIRST_ATOM

    def register_class(self, name: str | int, procedure: int) -> int:
        """The new class's atom; ERROR_CLASS_ALREADY_EXISTS for a name taken.  ``name`` an
        int: an atom (MAKEINTATOM), which names the class by that number."""
        key = _key(name)
        with self._lock:
            if key in self._classes:
                raise WinsockError(ERROR_CLASS_ALREADY_EXISTS, f"class {name!r} exists")
            if isinstance(name, int):
                atom = name
            else:
                if self._next_atom > 0xFFFF:
                    raise WinsockError(ERROR_CLASS_ALREADY_EXISTS, "no class atom left")
                atom, self._next_atom = self._next_atom, self._next_atom + 1
            window_class = WindowClass(str(name), atom, procedure)
            self._classes[key] = window_class
            if not isinstance(name, int):   # a class is named by its atom too
                self._classes[_key(atom)] = window_class
        return atom

    def unregister_class(self, name: str | int) -> None:
        with self._lock:
            window_class = self._classes.get(_key(name))
            if window_class is None:
                raise WinsockError(ERROR_CLASS_DOES_NOT_EXIST, f"no class {name!r}")
            if any(owner is window_class for owner in self._windows.values()):
                raise WinsockError(ERROR_CLASS_HAS_WINDOWS, f"class {name!r} has windows")
            for key in [key for key, found in self._classes.items() if found is window_class]:
                del self._classes[key]

    def create(self, class_name: str | int) -> int:
        """A new window of the class: its HWND, a window of the upcall table posting into
        the queue; ERROR_CANNOT_FIND_WND_CLASS for a class not registered."""
        with self._lock:
            window_class = self._classes.get(_key(class_name))
            if window_class is None:
                raise WinsockError(ERROR_CANNOT_FIND_WND_CLASS, f"no class {class_name!r}")
            hwnd = self._upcalls.register_window(self.queue)
            self._windows[hwnd] = window_class
        return hwnd

    def destroy(self, hwnd: int) -> None:
        with self._lock:
            if self._windows.pop(hwnd, None) is None:
                raise WinsockError(ERROR_INVALID_WINDOW_HANDLE, f"{hwnd:#x} is no window")
            self._upcalls.unregister_window(hwnd)
        self.queue.discard(hwnd)

    def window_class(self, hwnd: int) -> WindowClass:
        """The class of the window ``hwnd``; ERROR_INVALID_WINDOW_HANDLE if it is none of
        the guest's."""
        found = self._windows.get(hwnd)
        if found is None:
            raise WinsockError(ERROR_INVALID_WINDOW_HANDLE, f"{hwnd:#x} is no window")
        return found

    def is_window(self, hwnd: int) -> bool:
        return hwnd in self._windows

    def close(self) -> None:
        """Unregister every window from the table (the process has ended)."""
        with self._lock:
            windows, self._windows = list(self._windows), {}
        for hwnd in windows:
            self._upcalls.unregister_window(hwnd)


def _key(name: str | int) -> str:
    return f"#{name}" if isinstance(name, int) else name.casefold()
