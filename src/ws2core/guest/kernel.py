"""Kernel32's calls on ws2core's handles over guest memory: WaitForSingleObject(Ex),
WaitForMultipleObjects(Ex), SetEvent, ResetEvent, CloseHandle, ReadFile and WriteFile.

Sockets and events are kernel handles on Windows (``ws2core.kernel32``, layer 3, says what
each call does on them and where ws2core stops short).  These exports are kernel32's: a
success leaves the last error alone, a failure is a Win32 code, and a guest buffer that
cannot be read or written is ERROR_NOACCESS (Windows' STATUS_ACCESS_VIOLATION; where
kernel32 itself would touch the bad memory, as with the handle array of a wait or the count
of ReadFile, Windows raises an access violation in the program instead).

A handle that is not ws2core's (``Kernel32.owns``: outside the table's handle range) is the
emulator's: the export raises ``NotServed`` before touching anything, and the adapter hands
the call to the emulator's own handler.  A wait on several handles is served when all of
them are ws2core's (or the count is bad, which Windows refuses before looking at any
handle), and handed over whole otherwise: a wait on a mix of ws2core's and the emulator's
handles is the emulator's to answer, which cannot see ws2core's events (a limit).  An
alertable wait (the Ex forms) delivers the thread's APCs (``ws2core.guest.apcs``): on
ws2core's handles through the table's alertable wait; on the emulator's, the ones pending
when it is called, returning WAIT_IO_COMPLETION, before the handover.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterator, Sequence

from .. import Ref
from .._shared import WinsockError
from ..constants import FALSE, MAXIMUM_WAIT_OBJECTS, WAIT_FAILED, WAIT_IO_COMPLETION
from ..kernel32 import win32_error
from . import _memory, apcs
from ._exports import Exports, NotServed, export
from ._protocol import Guest


def _mine(ex: Exports, handle: int, instead: tuple[str, tuple[int, ...]] | None = None) -> None:
    """NotServed unless ``handle`` is ws2core's."""
    if not ex.kernel32.owns(handle):
        raise NotServed(instead)


@contextlib.contextmanager
def _guest_memory() -> Iterator[None]:
    """A guest memory failure (WSAEFAULT) as kernel32 reports it (ERROR_NOACCESS)."""
    try:
        yield
    except WinsockError as error:
        raise WinsockError(win32_error(error.winerror), str(error)) from None


def _handles(ex: Exports, g: Guest, nCount: int, lpHandles: int) -> Sequence[int]:
    """The handle array of a wait: empty for a count Windows refuses unread."""
    if not 1 <= nCount <= MAXIMUM_WAIT_OBJECTS:
        return ()
    with _guest_memory():
        data = _memory.read(g, lpHandles, nCount * g.ptr_size)
    return struct.unpack(f"<{nCount}{_memory.layout(g).socket_code}", data)


@export("WaitForSingleObject", "pu", "i", WAIT_FAILED, clears_last_error=False, dll="kernel32")
def WaitForSingleObject(ex: Exports, g: Guest, hHandle: int, dwMilliseconds: int) -> int:
    _mine(ex, hHandle)
    return ex.kernel32.WaitForSingleObject(hHandle, dwMilliseconds)


@export("WaitForSingleObjectEx", "puu", "i", WAIT_FAILED, clears_last_error=False,
        dll="kernel32")
def WaitForSingleObjectEx(ex: Exports, g: Guest, hHandle: int, dwMilliseconds: int,
                          bAlertable: int) -> int:
    # For the emulator's handles: its WaitForSingleObject, should it lack the Ex form, once
    # no APC is left to deliver (ws2core.guest.apcs).
    if not ex.kernel32.owns(hHandle):
        if bAlertable and apcs.deliver(ex):
            return WAIT_IO_COMPLETION
        raise NotServed(("WaitForSingleObject", (hHandle, dwMilliseconds)))
    return ex.kernel32.WaitForSingleObjectEx(hHandle, dwMilliseconds, bAlertable)


@export("WaitForMultipleObjects", "upuu", "i", WAIT_FAILED, clears_last_error=False,
        dll="kernel32")
def WaitForMultipleObjects(ex: Exports, g: Guest, nCount: int, lpHandles: int, bWaitAll: int,
                           dwMilliseconds: int) -> int:
    handles = _handles(ex, g, nCount, lpHandles)
    if not all(ex.kernel32.owns(handle) for handle in handles):
        raise NotServed()
    return ex.kernel32.WaitForMultipleObjects(nCount, handles, bWaitAll, dwMilliseconds)


@export("WaitForMultipleObjectsEx", "upuuu", "i", WAIT_FAILED, clears_last_error=False,
        dll="kernel32")
def WaitForMultipleObjectsEx(ex: Exports, g: Guest, nCount: int, lpHandles: int, bWaitAll: int,
                             dwMilliseconds: int, bAlertable: int) -> int:
    handles = _handles(ex, g, nCount, lpHandles)
    if not all(ex.kernel32.owns(handle) for handle in handles):
        if bAlertable and apcs.deliver(ex):
            return WAIT_IO_COMPLETION
        raise NotServed(("WaitForMultipleObjects", (nCount, lpHandles, bWaitAll, dwMilliseconds)))
    return ex.kernel32.WaitForMultipleObjectsEx(nCount, handles, bWaitAll, dwMilliseconds,
                                                bAlertable)


@export("SetEvent", "p", "i", FALSE, clears_last_error=False, dll="kernel32")
def SetEvent(ex: Exports, g: Guest, hEvent: int) -> int:
    _mine(ex, hEvent)
    return ex.kernel32.SetEvent(hEvent)


@export("ResetEvent", "p", "i", FALSE, clears_last_error=False, dll="kernel32")
def ResetEvent(ex: Exports, g: Guest, hEvent: int) -> int:
    _mine(ex, hEvent)
    return ex.kernel32.ResetEvent(hEvent)


@export("CloseHandle", "p", "i", FALSE, clears_last_error=False, dll="kernel32")
def CloseHandle(ex: Exports, g: Guest, hObject: int) -> int:
    _mine(ex, hObject)
    return ex.kernel32.CloseHandle(hObject)


@export("ReadFile", "ppupp", "i", FALSE, clears_last_error=False, dll="kernel32")
def ReadFile(ex: Exports, g: Guest, hFile: int, lpBuffer: int, nNumberOfBytesToRead: int,
             lpNumberOfBytesRead: int, lpOverlapped: int) -> int:
    _mine(ex, hFile)
    with _guest_memory():
        if lpNumberOfBytesRead:
            _memory.write_int(g, lpNumberOfBytesRead, 0)   # kernel32's first step
        ex.kernel32.check_file(hFile, lpOverlapped or None)   # the handle before the buffer
        # The buffer must exist before anything is taken from the socket.
        _memory.require_writable(g, lpBuffer, nNumberOfBytesToRead)
    data, count = bytearray(nNumberOfBytesToRead), Ref(0)
    result = ex.kernel32.ReadFile(hFile, data, nNumberOfBytesToRead, count,
                                  lpOverlapped or None)
    if result:
        _memory.write(g, lpBuffer, bytes(data[: count.value]))
        if lpNumberOfBytesRead:
            _memory.write_int(g, lpNumberOfBytesRead, count.value)
    return result


@export("WriteFile", "ppupp", "i", FALSE, clears_last_error=False, dll="kernel32")
def WriteFile(ex: Exports, g: Guest, hFile: int, lpBuffer: int, nNumberOfBytesToWrite: int,
              lpNumberOfBytesWritten: int, lpOverlapped: int) -> int:
    _mine(ex, hFile)
    with _guest_memory():
        if lpNumberOfBytesWritten:
            _memory.write_int(g, lpNumberOfBytesWritten, 0)
        ex.kernel32.check_file(hFile, lpOverlapped or None)
        data = _memory.read(g, lpBuffer, nNumberOfBytesToWrite)
    count = Ref(0)
    result = ex.kernel32.WriteFile(hFile, data, nNumberOfBytesToWrite, count, lpOverlapped or None)
    if result and lpNumberOfBytesWritten:
        _memory.write_int(g, lpNumberOfBytesWritten, count.value)
    return result
