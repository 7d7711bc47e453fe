"""Kernel32's calls on ws2core's handles: sockets and events are kernel handles (layer 3).

On Windows a SOCKET and a WSAEVENT are kernel handles, so a program may wait on its events
with WaitForSingleObject(Ex) and WaitForMultipleObjects(Ex), set, reset and close them with
SetEvent, ResetEvent and CloseHandle, and read and write a connected socket with ReadFile
and WriteFile, and serve its overlapped sockets with a completion port
(CreateIoCompletionPort, GetQueuedCompletionStatus(Ex), PostQueuedCompletionStatus).
``Kernel32(ws2_32)`` serves those calls on the handles of one ``Ws2_32``'s
table, beside it rather than inside it: they are kernel32's exports, not ws2_32's, so they
keep kernel32's rules:

- a success leaves the last error alone (ws2_32's socket calls set it to 0): a ReadFile
  served by ``Ws2_32.recv`` puts back the last error recv cleared;
- a failure is a Win32 code, ERROR_INVALID_HANDLE (6) for a value that is not a live handle
  of the right kind, ERROR_INVALID_PARAMETER (87) for a bad count or a repeated handle in a
  wait-all (the same numbers as WSA_INVALID_HANDLE and WSA_INVALID_PARAMETER); a socket call
  that fails under ReadFile or WriteFile has its Winsock code turned into the Win32 code of
  the NTSTATUS behind it (``win32_error``), the others passed through unchanged.

Which handles are ws2core's: ``owns(handle)``, every value in the table's ``handle_range``
(the two tag bits the kernel ignores aside), live or not, so that a closed socket or event
still fails here with ERROR_INVALID_HANDLE, as on Windows.  A value outside that range
belongs to whoever else hands out handles in the process (an emulator's files, threads and
its own events): the guest layer gives those calls to the emulator unchanged, which works
only if the table's range and the emulator's never meet (the Speakeasy adapter makes its
table in a range Speakeasy never reaches).

What goes beyond Windows, or stops short of it:

- a wait on a socket handle fails with ERROR_INVALID_HANDLE (Windows waits on the socket's
  file object, which says little: it is signalled while no I/O is in progress);
- ``bAlertable`` (``fAlertable``) makes the wait deliver the calling thread's APCs, a
  completion routine's among them, through the table's alertable wait (DESIGN.md §6), then
  return WAIT_IO_COMPLETION; for a guest they run on the emulator's thread
  (``ws2core.guest.apcs``);
- ReadFile and WriteFile are a blocking ``recv`` and ``send`` with no flags; an
  ``lpOverlapped`` (overlapped I/O, DESIGN.md §6) fails with ERROR_NOT_SUPPORTED;
- completion ports are handles of the table (``kind() == "port"``, the HandleTable's
  ``create_port`` ... ``get_completions``): GetQueuedCompletionStatus and its Ex form return
  a Python form of what C gets through its pointers; ``NumberOfConcurrentThreads`` is
  accepted and not enforced (every waiting thread may take a packet: the kernel's limit on
  the threads a port keeps running is a scheduling matter Python threads cannot follow); a
  full table fails with ERROR_NOT_ENOUGH_MEMORY;
- CloseHandle on a socket closes it as closesocket does (the handle and, being the last one,
  the socket: ws2core duplicates no handle); the CloseHandle page tells programs to use
  closesocket instead, but Windows (and Wine) close the socket's handle all the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import index as _index
from typing import Any, Final, NamedTuple

from . import Ref, WinsockError
from .constants import (
    ERROR_CONNECTION_ABORTED,
    ERROR_INVALID_PARAMETER,
    ERROR_NOT_ENOUGH_MEMORY,
    INFINITE,
    WAIT_IO_COMPLETION,
    WAIT_TIMEOUT,
    WSAENOBUFS,
    ERROR_INVALID_HANDLE,
    ERROR_NETNAME_DELETED,
    ERROR_NOACCESS,
    ERROR_NOT_SUPPORTED,
    ERROR_SEM_TIMEOUT,
    FALSE,
    SOCKET_ERROR,
    TRUE,
    WSAECONNABORTED,
    WSAECONNRESET,
    WSAEFAULT,
    WSAETIMEDOUT,
)
from .ws2_32 import Ws2_32

__all__ = ["Kernel32", "OverlappedEntry", "win32_error"]

_TAG_BITS: Final = 3   # the low bits of a handle value the kernel ignores
# INVALID_HANDLE_VALUE, (HANDLE)-1, as each ABI's HANDLE holds it.
_INVALID_HANDLE_VALUE: Final = {"x64": 2**64 - 1, "x86": 2**32 - 1}

# What ReadFile and WriteFile say for a socket call that failed: the Win32 code of the
# NTSTATUS the socket driver completes the request with (RtlNtStatusToDosError), where
# Winsock reports it as a WSA code: a reset connection is STATUS_CONNECTION_RESET, which is
# ERROR_NETNAME_DELETED (the code IOCP servers see for a peer that went away).
_WIN32_ERRORS: Final = {
    WSAECONNRESET: ERROR_NETNAME_DELETED,
    WSAECONNABORTED: ERROR_CONNECTION_ABORTED,
    WSAETIMEDOUT: ERROR_SEM_TIMEOUT,
    WSAEFAULT: ERROR_NOACCESS,
}


class OverlappedEntry(NamedTuple):
    """One OVERLAPPED_ENTRY of GetQueuedCompletionStatusEx, in its field order.  ``Internal``
    holds the operation's error as a Win32 code (0: success; Windows keeps an NTSTATUS there,
    which the page reserves)."""

    lpCompletionKey: int
    lpOverlapped: Any
    Internal: int
    dwNumberOfBytesTransferred: int


def win32_error(code: int) -> int:
    """The Win32 code a kernel32 call reports for a socket call's Winsock ``code``: the
    four above translated, any other passed through (a Win32 code stays itself)."""
    return _WIN32_ERRORS.get(code, code)


class Kernel32:
    """The kernel32 calls a program makes on the handles of ``ws2_32``'s table.

    Results, argument order and names are kernel32's; the last error is ``ws2_32``'s (one
    per thread, as GetLastError and WSAGetLastError are one on Windows).
    """

    def __init__(self, ws2_32: Ws2_32) -> None:
        if not isinstance(ws2_32, Ws2_32):
            raise TypeError(f"ws2_32 must be a ws2core.ws2_32.Ws2_32, not {type(ws2_32).__name__}")
        self.ws2_32 = ws2_32
        self._table = ws2_32.upcalls.table
        self._first, self._last = self._table.handle_range

    def __repr__(self) -> str:
        return f"<ws2core Kernel32 over {self.ws2_32!r}>"

    def owns(self, handle: Any) -> bool:
        """Whether ``handle`` is a value of this table's range (live or not, either tag bits):
        a kernel32 call on it is answered here."""
        value = _index(handle) & ~_TAG_BITS
        return self._first <= value <= self._last

    def _fail(self, failure: int, code: int) -> int:
        self.ws2_32.WSASetLastError(code)
        return failure

    # --- waits

    def WaitForMultipleObjectsEx(self, nCount: int, lpHandles: Sequence[Any], bWaitAll: int,
                                 dwMilliseconds: int, bAlertable: int) -> int:
        """WAIT_OBJECT_0 + the index of a signalled event (wait-all: WAIT_OBJECT_0),
        WAIT_TIMEOUT, or WAIT_FAILED with ERROR_INVALID_PARAMETER (a count outside 1..64, a
        handle twice in a wait-all) or ERROR_INVALID_HANDLE (not a live event, in the
        kernel's order); capped by ``Ws2_32.blocking_limit`` as WSAWaitForMultipleEvents."""
        return self.ws2_32.WSAWaitForMultipleEvents(nCount, lpHandles, bWaitAll, dwMilliseconds,
                                                    bAlertable)

    def WaitForMultipleObjects(self, nCount: int, lpHandles: Sequence[Any], bWaitAll: int,
                               dwMilliseconds: int) -> int:
        return self.WaitForMultipleObjectsEx(nCount, lpHandles, bWaitAll, dwMilliseconds, FALSE)

    def WaitForSingleObjectEx(self, hHandle: Any, dwMilliseconds: int, bAlertable: int) -> int:
        return self.WaitForMultipleObjectsEx(1, (hHandle,), FALSE, dwMilliseconds, bAlertable)

    def WaitForSingleObject(self, hHandle: Any, dwMilliseconds: int) -> int:
        return self.WaitForMultipleObjectsEx(1, (hHandle,), FALSE, dwMilliseconds, FALSE)

    # --- events and handles

    def SetEvent(self, hEvent: Any) -> int:
        """TRUE, or FALSE with ERROR_INVALID_HANDLE (not a live event: a socket included)."""
        return self.ws2_32.WSASetEvent(hEvent)

    def ResetEvent(self, hEvent: Any) -> int:
        return self.ws2_32.WSAResetEvent(hEvent)

    def CloseHandle(self, hObject: Any) -> int:
        """TRUE: an event or a completion port closed, or a socket closed as closesocket
        closes it; FALSE with ERROR_INVALID_HANDLE for any other value."""
        handle = _index(hObject) & ~_TAG_BITS
        kind = self._table.kind(handle)
        if kind == "event":
            return self.ws2_32.WSACloseEvent(handle)
        if kind == "port":
            self._table.close_port(handle)  # its waiters wake with ERROR_ABANDONED_WAIT_0
            return TRUE
        if kind != "socket":
            return self._fail(FALSE, ERROR_INVALID_HANDLE)
        return self._on_socket(handle, self.ws2_32.closesocket)

    # --- completion ports

    def CreateIoCompletionPort(self, FileHandle: Any, ExistingCompletionPort: Any,
                               CompletionKey: Any, NumberOfConcurrentThreads: Any) -> int:
        """INVALID_HANDLE_VALUE (-1, or the ABI's all-ones value) and a NULL (0 or None) port:
        a new port's handle (``CompletionKey`` ignored).  A socket and a port: the socket is
        associated with that port and ``CompletionKey``, and the port is returned; a socket
        and NULL: with a new port, returned.  NULL (0) with ERROR_INVALID_PARAMETER for
        INVALID_HANDLE_VALUE with a port or a socket associated already (a handle has one
        port for its life), ERROR_INVALID_HANDLE when ``FileHandle`` is not a live socket or
        ``ExistingCompletionPort`` not a live port, ERROR_NOT_ENOUGH_MEMORY when the table is
        full.  ``NumberOfConcurrentThreads`` is not enforced."""
        table = self._table
        key = _index(CompletionKey)
        file = _index(FileHandle)
        existing = 0 if ExistingCompletionPort is None else _index(ExistingCompletionPort)
        if file in (-1, _INVALID_HANDLE_VALUE[table.abi]):
            if existing:
                return self._fail(0, ERROR_INVALID_PARAMETER)
            return self._new_port()
        if table.kind(file) != "socket":
            return self._fail(0, ERROR_INVALID_HANDLE)
        port = existing or self._new_port()
        if not port:
            return 0
        try:
            table.associate_port(file, port, key)
        except WinsockError as error:
            if not existing:
                table.close_port(port)
            return self._fail(0, error.winerror)
        return port

    def _new_port(self) -> int:
        try:
            return self._table.create_port()
        except WinsockError as error:
            return self._fail(0, ERROR_NOT_ENOUGH_MEMORY if error.winerror == WSAENOBUFS
                              else error.winerror)

    def PostQueuedCompletionStatus(self, CompletionPort: Any, dwNumberOfBytesTransferred: Any,
                                   dwCompletionKey: Any, lpOverlapped: Any) -> int:
        """TRUE with the packet queued (``lpOverlapped`` any object, None for NULL), or FALSE
        with ERROR_INVALID_HANDLE when ``CompletionPort`` is not a live port."""
        try:
            self._table.post_completion(CompletionPort, dwNumberOfBytesTransferred,
                                        dwCompletionKey, lpOverlapped)
        except WinsockError as error:
            return self._fail(FALSE, error.winerror)
        return TRUE

    def GetQueuedCompletionStatus(self, CompletionPort: Any,
                                  dwMilliseconds: Any) -> tuple[int, int, int, Any]:
        """``(result, lpNumberOfBytesTransferred, lpCompletionKey, lpOverlapped)``.

        A packet of an operation that succeeded (or a posted one): TRUE and its three values,
        the last error left alone.  A packet of an operation that failed: FALSE with its three
        values, and its error in the last error (as a Win32 code, ``win32_error``).  No packet
        within ``dwMilliseconds`` (INFINITE: no limit; capped by ``Ws2_32.blocking_limit``):
        ``(FALSE, 0, 0, None)`` with WAIT_TIMEOUT; the port closed during the wait:
        ERROR_ABANDONED_WAIT_0; not a live port: ERROR_INVALID_HANDLE.
        """
        result = self._get_completions(CompletionPort, 1, dwMilliseconds, False)
        if isinstance(result, int):
            return FALSE, 0, 0, None
        transferred, key, overlapped, error = result[0]
        if error:
            return self._fail(FALSE, win32_error(error)), transferred, key, overlapped
        return TRUE, transferred, key, overlapped

    def GetQueuedCompletionStatusEx(self, CompletionPort: Any, ulCount: Any, dwMilliseconds: Any,
                                    fAlertable: Any) -> tuple[int, list[OverlappedEntry]]:
        """``(result, entries)``: TRUE with 1..``ulCount`` OverlappedEntry, oldest first, as
        soon as a packet is there (failed operations too: their error is in ``Internal`` and
        in their overlapped structure); FALSE and [] with WAIT_TIMEOUT, with
        WAIT_IO_COMPLETION when ``fAlertable`` and the thread's APCs ran first, with
        ERROR_ABANDONED_WAIT_0 or ERROR_INVALID_HANDLE as GetQueuedCompletionStatus, with
        ERROR_INVALID_PARAMETER for a ``ulCount`` of 0."""
        if not _index(ulCount):
            return self._fail(FALSE, ERROR_INVALID_PARAMETER), []
        result = self._get_completions(CompletionPort, ulCount, dwMilliseconds, fAlertable)
        if isinstance(result, int):
            return FALSE, []
        return TRUE, [OverlappedEntry(key, overlapped, win32_error(error), transferred)
                      for transferred, key, overlapped, error in result]

    def _get_completions(self, port: Any, count: Any, milliseconds: Any,
                         alertable: Any) -> list[tuple[int, int, Any, int]] | int:
        """The table's packets, or the last error set and returned."""
        milliseconds = self.ws2_32.capped_timeout(_index(milliseconds))
        if not 0 <= milliseconds <= INFINITE:
            raise ValueError(f"dwMilliseconds must be a DWORD (0..{INFINITE}), not {milliseconds}")
        try:
            result = self._table.get_completions(
                port, count, None if milliseconds == INFINITE else milliseconds / 1000,
                bool(alertable))
        except WinsockError as error:  # ERROR_INVALID_HANDLE, ERROR_ABANDONED_WAIT_0
            return self._fail(error.winerror, error.winerror)
        if isinstance(result, int):
            return self._fail(WAIT_IO_COMPLETION, WAIT_IO_COMPLETION)
        if not result:
            return self._fail(WAIT_TIMEOUT, WAIT_TIMEOUT)
        return result

    # --- sockets as files

    def ReadFile(self, hFile: Any, lpBuffer: Any, nNumberOfBytesToRead: int,
                 lpNumberOfBytesRead: Any, lpOverlapped: Any) -> int:
        """TRUE with the bytes received in ``lpBuffer`` and their count in
        ``lpNumberOfBytesRead`` (a Ref, or None: not written), 0 when the peer has closed;
        FALSE with ERROR_INVALID_HANDLE (not a live socket), ERROR_NOT_SUPPORTED (an
        ``lpOverlapped``) or the failed recv's code (``win32_error``)."""
        return self._transfer(self.ws2_32.recv, hFile, lpBuffer, nNumberOfBytesToRead,
                              lpNumberOfBytesRead, lpOverlapped)

    def WriteFile(self, hFile: Any, lpBuffer: Any, nNumberOfBytesToWrite: int,
                  lpNumberOfBytesWritten: Any, lpOverlapped: Any) -> int:
        """TRUE with the count of the bytes sent in ``lpNumberOfBytesWritten``; FALSE as
        ReadFile's."""
        return self._transfer(self.ws2_32.send, hFile, lpBuffer, nNumberOfBytesToWrite,
                              lpNumberOfBytesWritten, lpOverlapped)

    def check_file(self, hFile: Any, lpOverlapped: Any = None) -> None:
        """The checks ReadFile and WriteFile make before they touch the caller's buffer:
        WinsockError(ERROR_INVALID_HANDLE) unless ``hFile`` is a live socket,
        WinsockError(ERROR_NOT_SUPPORTED) for an ``lpOverlapped``."""
        code = self._file_error(hFile, lpOverlapped)
        if code:
            raise WinsockError(code)

    def _file_error(self, hFile: Any, lpOverlapped: Any) -> int:
        if self._table.kind(_index(hFile) & ~_TAG_BITS) != "socket":
            return ERROR_INVALID_HANDLE
        return ERROR_NOT_SUPPORTED if lpOverlapped is not None else 0

    def _transfer(self, call: Any, hFile: Any, buffer: Any, size: int, done: Any,
                  overlapped: Any) -> int:
        handle = _index(hFile) & ~_TAG_BITS
        code = self._file_error(handle, overlapped)
        if code:
            return self._fail(FALSE, code)
        if done is not None:
            done.value = 0   # written first, as kernel32 does, whatever comes of the call
        count = Ref(0)

        def transfer(s: int) -> int:
            result: int = call(s, buffer, size, 0)
            if result != SOCKET_ERROR:
                count.value = result
                return 0
            return SOCKET_ERROR

        if not self._on_socket(handle, transfer):
            return FALSE
        if done is not None:
            done.value = count.value
        return TRUE

    def _on_socket(self, handle: int, call: Any) -> int:
        """``call(handle)``, a ws2_32 socket call returning 0 or SOCKET_ERROR, as a kernel32
        call: TRUE with the last error as it was, or FALSE with its code as a Win32 one."""
        before = self.ws2_32.WSAGetLastError()
        if call(handle) == SOCKET_ERROR:
            return self._fail(FALSE, win32_error(self.ws2_32.WSAGetLastError()))
        self.ws2_32.WSASetLastError(before)
        return TRUE

