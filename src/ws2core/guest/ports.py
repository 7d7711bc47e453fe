"""Completion ports over guest memory: kernel32's CreateIoCompletionPort,
GetQueuedCompletionStatus, GetQueuedCompletionStatusEx and PostQueuedCompletionStatus
(CloseHandle of a port is ``kernel``'s, which closes every handle kind of the table).

A port is a handle of ws2core's table (``ws2core.kernel32`` says what each call does and
where ws2core stops short); these exports are kernel32's, with its rules: a success leaves
the last error alone, a failure is a Win32 code, a guest buffer that cannot be written is
ERROR_NOACCESS (where kernel32 would write it and Windows raise an access violation in the
program), checked before the wait so that no packet is taken and lost.  A call on a port
that is not ws2core's (``Kernel32.owns``) is the emulator's (``NotServed``): it touches
nothing.  CreateIoCompletionPort on a handle of the emulator's (a file) with no port of
ws2core's is the emulator's too; with one of ws2core's it fails with ERROR_NOT_SUPPORTED, as
nothing would ever post that file's completions there.

The packets' lpOverlapped: a guest's overlapped operation is a host-side record
(``_overlapped``) whose completion the provider posts to the socket's port; the guest gets
the address of its own WSAOVERLAPPED, the record's ``address``.  The record's outcome is
copied into guest memory before the packet's values are written, in the same call, so a
guest that reads the structure once GetQueuedCompletionStatus returns finds the operation
complete (its byte count and error as the packet's).  The completion wrote the record,
which queued it for the copy, before it posted the packet, so the copy here always finds
it.  A PostQueuedCompletionStatus from the guest posts its lpOverlapped as a number, given
back as it is; a packet that holds anything else (a host program's structure posted to the
same table: never a guest's own doing) comes out with a NULL lpOverlapped, logged.
"""

from __future__ import annotations

import struct
from typing import Any, Final

from .._shared import WinsockError
from ..constants import ERROR_INVALID_PARAMETER, ERROR_NOT_SUPPORTED, FALSE
from ..kernel32 import OverlappedEntry
from . import _memory
from ._exports import Exports, NotServed, export, log
from ._overlapped import record_address
from ._protocol import Guest
from .kernel import _guest_memory

ENTRIES_LIMIT: Final = 4096
"""The most OVERLAPPED_ENTRY a GetQueuedCompletionStatusEx fills in one call (and checks
writable first): a larger ulCount takes no more (the function removes "up to" ulCount)."""


def _entry_format(g: Guest) -> struct.Struct:
    """OVERLAPPED_ENTRY in the guest's layout: lpCompletionKey, lpOverlapped, Internal (three
    pointer-sized fields), dwNumberOfBytesTransferred, padded to the pointer's alignment."""
    return struct.Struct("<QQQI4x" if g.ptr_size == 8 else "<IIII")


def _guest_pointer(ex: Exports, overlapped: Any) -> int:
    """A packet's lpOverlapped as the guest reads it."""
    if overlapped is None:
        return 0
    if isinstance(overlapped, int):
        return overlapped   # posted by the guest: its own value
    address = record_address(overlapped)
    if address is None:
        log.warning("a completion packet holds %r, no guest structure: NULL given to the guest",
                    type(overlapped).__name__)
        return 0
    return address


def _port(ex: Exports, port: int) -> None:
    """NotServed unless ``port`` is ws2core's handle."""
    if not ex.kernel32.owns(port):
        raise NotServed()


@export("CreateIoCompletionPort", "pppu", "p", 0, clears_last_error=False, dll="kernel32")
def CreateIoCompletionPort(ex: Exports, g: Guest, FileHandle: int, ExistingCompletionPort: int,
                           CompletionKey: int, NumberOfConcurrentThreads: int) -> int:
    """A new port (FileHandle INVALID_HANDLE_VALUE), or a socket of ws2core's associated with
    a port and its key: ``Kernel32.CreateIoCompletionPort``."""
    new_port = FileHandle == (1 << (8 * g.ptr_size)) - 1
    ours = ex.kernel32.owns(FileHandle)
    if not new_port and not ours:
        if ExistingCompletionPort and ex.kernel32.owns(ExistingCompletionPort):
            raise WinsockError(ERROR_NOT_SUPPORTED,
                               "a handle of the emulator's on a completion port of ws2core's")
        raise NotServed()
    return ex.kernel32.CreateIoCompletionPort(FileHandle, ExistingCompletionPort, CompletionKey,
                                              NumberOfConcurrentThreads)


@export("GetQueuedCompletionStatus", "ppppu", "i", FALSE, clears_last_error=False,
        dll="kernel32")
def GetQueuedCompletionStatus(ex: Exports, g: Guest, CompletionPort: int,
                              lpNumberOfBytesTransferred: int, lpCompletionKey: int,
                              lpOverlapped: int, dwMilliseconds: int) -> int:
    """TRUE with the packet's count, key and lpOverlapped written; FALSE with lpOverlapped
    NULL when no packet came (WAIT_TIMEOUT, ERROR_ABANDONED_WAIT_0, ERROR_INVALID_HANDLE),
    or FALSE with the three values of a failed operation's packet and its error as the last
    error.  lpOverlapped is set to NULL first, as kernel32 does, whatever comes next."""
    _port(ex, CompletionPort)
    with _guest_memory():
        _memory.require_writable(g, lpNumberOfBytesTransferred, 4)
        _memory.require_writable(g, lpCompletionKey, g.ptr_size)
        _memory.require_writable(g, lpOverlapped, g.ptr_size)
        _memory.write(g, lpOverlapped, bytes(g.ptr_size))
    result, transferred, key, overlapped = ex.kernel32.GetQueuedCompletionStatus(
        CompletionPort, dwMilliseconds)
    if overlapped is None and not result:
        return result   # no packet: nothing more is written
    ex.overlapped.flush(g)   # the guest's structure first: its outcome is the packet's
    _memory.write_int(g, lpNumberOfBytesTransferred, transferred)
    _memory.write(g, lpCompletionKey, key.to_bytes(g.ptr_size, "little"))
    _memory.write(g, lpOverlapped, _guest_pointer(ex, overlapped).to_bytes(g.ptr_size, "little"))
    return result


@export("GetQueuedCompletionStatusEx", "ppupuu", "i", FALSE, clears_last_error=False,
        dll="kernel32")
def GetQueuedCompletionStatusEx(ex: Exports, g: Guest, CompletionPort: int,
                                lpCompletionPortEntries: int, ulCount: int,
                                ulNumEntriesRemoved: int, dwMilliseconds: int,
                                fAlertable: int) -> int:
    """TRUE with up to ``ulCount`` (at most ENTRIES_LIMIT) OVERLAPPED_ENTRY written, oldest
    first, and their number in ``ulNumEntriesRemoved``; FALSE as
    ``Kernel32.GetQueuedCompletionStatusEx`` says, with nothing written.  The entries and
    the count are checked writable first (ERROR_NOACCESS)."""
    _port(ex, CompletionPort)
    if not ulCount:
        raise WinsockError(ERROR_INVALID_PARAMETER, "ulCount is 0")
    count = min(ulCount, ENTRIES_LIMIT)
    entry = _entry_format(g)
    with _guest_memory():
        _memory.require_writable(g, lpCompletionPortEntries, count * entry.size)
        _memory.require_writable(g, ulNumEntriesRemoved, 4)
    result, entries = ex.kernel32.GetQueuedCompletionStatusEx(CompletionPort, count,
                                                              dwMilliseconds, fAlertable)
    if not result:
        return result
    ex.overlapped.flush(g)
    _memory.write(g, lpCompletionPortEntries, b"".join(
        _pack_entry(ex, entry, found) for found in entries))
    _memory.write_int(g, ulNumEntriesRemoved, len(entries))
    return result


def _pack_entry(ex: Exports, entry: struct.Struct, found: OverlappedEntry) -> bytes:
    return entry.pack(found.lpCompletionKey, _guest_pointer(ex, found.lpOverlapped),
                      found.Internal, found.dwNumberOfBytesTransferred)


@export("PostQueuedCompletionStatus", "pupp", "i", FALSE, clears_last_error=False,
        dll="kernel32")
def PostQueuedCompletionStatus(ex: Exports, g: Guest, CompletionPort: int,
                               dwNumberOfBytesTransferred: int, dwCompletionKey: int,
                               lpOverlapped: int) -> int:
    """TRUE with the packet queued; its lpOverlapped, any pointer value, comes back as it
    is (nothing is read there)."""
    _port(ex, CompletionPort)
    return ex.kernel32.PostQueuedCompletionStatus(CompletionPort, dwNumberOfBytesTransferred,
                                                  dwCompletionKey, lpOverlapped or None)


__all__ = ["ENTRIES_LIMIT", "CreateIoCompletionPort", "GetQueuedCompletionStatus",
           "GetQueuedCompletionStatusEx", "PostQueuedCompletionStatus"]
