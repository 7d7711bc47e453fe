"""Overlapped I/O for guests, completed by event or by completion routine: the records
behind the overlapped forms of WSASend, WSASendTo, WSARecv, WSARecvFrom and WSAIoctl, which
WSAGetOverlappedResult reads (``transfer`` serves the exports; ``Exports`` holds one
``GuestOverlapped``).

A guest passes the address of a WSAOVERLAPPED in its own memory, in its ABI
(``ws2core.structs.WSAOVERLAPPED_LAYOUTS``).  The provider completes operations on its
reactor thread, which never writes guest memory (the emulator may be running the guest, or
have unmapped the page, at that moment).  So each guest operation has a host-side
``_Record``: the host structure the provider writes (the record itself: it has the five
fields), the host buffers a receive fills, the guest's buffer list and from-address, the
guest OVERLAPPED's address, and the ``hEvent`` read from guest memory when the call was
made.  The record's ``Internal`` turning from WSS_OPERATION_IN_PROGRESS to anything else
(``structs.record_completion`` writes it last) puts the record on a queue, which is all
the reactor does here; for a socket associated with a completion port the provider then
posts the packet, holding the record, which ``ports`` gives the guest as the address of its
own structure, after copying the outcome.  The outcome is copied into guest memory on the
emulator's thread,
at safe points: when any served export returns (``Exports.hook``: one truth test of the
queue when nothing completed) and so in WSAGetOverlappedResult and after every wait.  The
copy writes the received bytes into the guest's buffers first (and a WSARecvFrom's
address), then InternalHigh (the byte count), Offset (the flags) and OffsetHigh (the
Winsock error), and Internal (0) last, the fields as the provider uses them
(``ws2core.provider.overlapped``).  A call that goes pending writes Internal =
STATUS_PENDING (0x103) into the guest's structure, as Windows does; one that completes at
once writes the outcome before it returns.

The guest's ``hEvent`` must be 0 or an event of ws2core's (WSACreateEvent, the low tag
bits ignored): the provider signals it when the operation completes, before the copy,
but the guest sees nothing of that before its next served call, whose return copies it.
Any other handle (one the emulator made, CreateEventA) is WSA_INVALID_HANDLE, before any
effect: nothing could signal it.

Limits, documented: a guest that polls its OVERLAPPED (HasOverlappedIoCompleted, a loop
on Internal) without calling any Winsock or kernel32 export that ws2core serves sees
nothing change until its next served call, since only then is the outcome copied.

A completion routine (a non-NULL ``lpCompletionRoutine`` with an ``lpOverlapped`` on an
overlapped socket) is guest code: Ws2_32 gets a ``_GuestRoutine`` for it, which the provider
queues as an APC to the calling thread, as for any caller; the guest's next alertable wait
served by ws2core (SleepEx, the Ex waits, WSAWaitForMultipleEvents: ``ws2core.guest.apcs``)
delivers it on the emulator's thread, copying the outcome into guest memory first, then
running the routine with ``Guest.run_function`` (dwError, cbTransferred, the guest's
WSAOVERLAPPED, dwFlags).  hEvent is then the program's, left alone.  Where the adapter
cannot run guest code (``Guest.runs_functions`` false: Speakeasy 1.5.11) the call fails
with WSAEOPNOTSUPP before any effect, so that no program waits for a routine that could
never run.  Closing the socket completes
its pending operations with WSA_OPERATION_ABORTED, copied at that closesocket's return like
any completion; ``Exports.close()`` (the process's end) drops what is left uncopied.
"""

from __future__ import annotations

import ctypes
import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Final

from .._shared import WinsockError
from ..constants import (
    WSA_INVALID_HANDLE,
    WSA_IO_PENDING,
    WSAEOPNOTSUPP,
    WSS_OPERATION_IN_PROGRESS,
)
from ..structs import WSAOVERLAPPED_LAYOUTS
from . import _memory
from ..ws2_32 import Ws2_32
from ._protocol import Guest

log: Final = logging.getLogger("ws2core.guest")

_TAG_BITS: Final = 3   # the kernel ignores a handle's two low bits (an event's included)


class _Record:
    """One guest overlapped operation; also the host WSAOVERLAPPED its provider writes."""

    __slots__ = ("_internal", "InternalHigh", "Offset", "OffsetHigh", "hEvent", "address",
                 "buffers", "data", "sender", "live", "_finished")

    def __init__(self, finished: deque[_Record], address: int, event: int, buffers: Any,
                 data: Any, sender: Any) -> None:
        self._internal = 0
        self.InternalHigh = 0
        self.Offset = 0
        self.OffsetHigh = 0
        self.hEvent = event or None
        self.address = address     # the guest's WSAOVERLAPPED
        self.buffers = buffers     # a receive's guest (buf, len) list, its host buffers and
        self.data = data           # its from-address out-parameters (transfer._Sender)
        self.sender = sender
        self.live = False          # pending: its outcome is still to be copied
        self._finished = finished

    @property
    def Internal(self) -> int:
        return self._internal

    @Internal.setter
    def Internal(self, value: int) -> None:
        self._internal = value
        if value != WSS_OPERATION_IN_PROGRESS:
            self._finished.append(self)  # the reactor's one act here: deque.append is atomic


class _GuestRoutine:
    """A guest's lpCompletionRoutine as the provider calls it: ``(dwError, cbTransferred,
    lpOverlapped, dwFlags)``, an APC queued to the thread that made the call.  It runs where
    every APC of that thread does, on the emulator's thread inside the alertable wait that
    delivers it: the outcome is copied into guest memory first (``flush``: the buffers, then
    the structure), then the guest function runs with the guest's WSAOVERLAPPED address in
    place of the record."""

    __slots__ = ("_overlapped", "address")

    def __init__(self, overlapped: GuestOverlapped, address: int) -> None:
        self._overlapped, self.address = overlapped, address

    def __call__(self, dwError: int, cbTransferred: int, lpOverlapped: _Record,
                 dwFlags: int) -> None:
        guest = self._overlapped.serving()
        self._overlapped.flush(guest)
        guest.run_function(self.address, (dwError & 0xFFFFFFFF, cbTransferred & 0xFFFFFFFF,
                                          lpOverlapped.address, dwFlags & 0xFFFFFFFF))


class GuestOverlapped:
    """The overlapped operations of one emulated process (``Exports.overlapped``), over its
    ``Ws2_32``, in the guest's ``abi``."""

    def __init__(self, ws2_32: Ws2_32, abi: str, serving: Callable[[], Guest]) -> None:
        self._ws2_32 = ws2_32
        self.serving = serving
        """The guest whose hooked call is in progress (``Exports.serving``): the one a
        completion routine runs on."""
        self.layout: type[ctypes.Structure] = WSAOVERLAPPED_LAYOUTS[abi]
        """The guest's WSAOVERLAPPED."""
        self.finished: deque[_Record] = deque()
        """Records whose host structure completed, in completion order, to copy."""
        self._pending: dict[int, _Record] = {}   # by guest address: the latest started there

    def check(self, g: Guest, s: int, lpOverlapped: int, lpCompletionRoutine: int) -> bool:
        """Ws2_32's checks of a call on socket ``s``; whether it is an overlapped one (an
        lpOverlapped on an overlapped socket).  A completion routine with it is guest code:
        WSAEOPNOTSUPP, before any effect, where the adapter cannot run any."""
        self._ws2_32.check_socket(s)
        overlapped = bool(lpOverlapped) and self._ws2_32.is_overlapped(s)
        if overlapped and lpCompletionRoutine and not g.runs_functions:
            raise WinsockError(WSAEOPNOTSUPP, "a completion routine is guest code, which this "
                                              "emulator's adapter cannot run")
        return overlapped

    def routine(self, record: _Record | None, lpCompletionRoutine: int) -> _GuestRoutine | None:
        """What Ws2_32 gets as the completion routine of a call whose ``record`` ``start``
        made (None: the call is not an overlapped one, or has no routine)."""
        if record is None or not lpCompletionRoutine:
            return None
        return _GuestRoutine(self, lpCompletionRoutine)

    def start(self, g: Guest, lpOverlapped: int, buffers: Any = None, data: Any = None,
              sender: Any = None, *, routine: int = 0) -> _Record:
        """A record for an overlapped call about to be made: the guest's structure checked
        writable (WSAEFAULT) and, unless the call has a completion ``routine`` (then hEvent
        is the program's own, any value, never signalled: the WSAOVERLAPPED page), its
        hEvent read and checked (WSA_INVALID_HANDLE), before any effect."""
        size = ctypes.sizeof(self.layout)
        _memory.require_writable(g, lpOverlapped, size)
        event = 0
        if not routine:
            event = self.layout.from_buffer_copy(_memory.read(g, lpOverlapped, size)).hEvent
            table = self._ws2_32.upcalls.table
            if event and table.kind(event & ~_TAG_BITS) != "event":
                raise WinsockError(WSA_INVALID_HANDLE,
                                   f"hEvent {event:#x} is not an event of ws2core's")
        return _Record(self.finished, lpOverlapped, event, buffers, data, sender)

    def begun(self, g: Guest, record: _Record, result: int) -> None:
        """After the call: a completion at once is written now (the caller writes its
        buffers and counts as for any call); a pending one is kept, with STATUS_PENDING in
        the guest's Internal; a failure reports no completion and leaves the structure."""
        if result == 0:
            self._write_outcome(g, record)
        elif self._ws2_32.WSAGetLastError() == WSA_IO_PENDING:
            record.live = True
            self._pending[record.address] = record
            self._write_field(g, record.address, "Internal", WSS_OPERATION_IN_PROGRESS)

    def pending(self, lpOverlapped: int) -> _Record | None:
        """The operation still pending on the guest's structure at ``lpOverlapped``."""
        return self._pending.get(lpOverlapped)

    def flush(self, g: Guest) -> None:
        """Copy every completed operation's outcome into guest memory (the emulator's thread
        only).  Memory the guest gave up meanwhile is skipped: its outcome is lost, as the
        guest broke Windows' rule that the buffers and the structure live until the end."""
        finished = self.finished
        while finished:
            record = finished.popleft()
            if not record.live:
                continue      # completed at once (written by begun), or failed at the start
            record.live = False
            if self._pending.get(record.address) is record:
                del self._pending[record.address]
            try:
                if record.buffers is not None:
                    write_received(g, record.buffers, record.data, record.InternalHigh)
                    record.sender.write_back()
                self._write_outcome(g, record)
            except WinsockError as error:
                log.debug("an overlapped completion at %#x not copied: %s", record.address, error)
            except Exception:  # a bug: never the emulator's problem, and the others still go
                log.exception("an overlapped completion at %#x not copied", record.address)

    def close(self) -> None:
        """Forget every operation (the process ended: nothing is copied any more)."""
        self._pending.clear()
        self.finished.clear()

    def _write_outcome(self, g: Guest, record: _Record) -> None:
        """InternalHigh, Offset and OffsetHigh, then Internal last."""
        layout = self.layout
        high = layout.InternalHigh
        word = high.size
        data = (record.InternalHigh.to_bytes(word, "little")
                + (record.Offset & 0xFFFFFFFF).to_bytes(4, "little")
                + (record.OffsetHigh & 0xFFFFFFFF).to_bytes(4, "little"))
        _memory.write(g, record.address + high.offset, data)
        self._write_field(g, record.address, "Internal", record.Internal)

    def _write_field(self, g: Guest, address: int, name: str, value: int) -> None:
        field = getattr(self.layout, name)
        _memory.write(g, address + field.offset, value.to_bytes(field.size, "little"))


def record_address(overlapped: Any) -> int | None:
    """The guest WSAOVERLAPPED's address behind ``overlapped`` when it is a guest
    operation's record (what a completion packet of one holds), else None."""
    return overlapped.address if isinstance(overlapped, _Record) else None


def write_received(guest: Guest, buffers: list[tuple[int, int]], data: list[bytearray],
                   count: int) -> None:
    """The ``count`` bytes received, spread over the guest's buffers in order."""
    for (buf, _), received in zip(buffers, data):
        if count <= 0:
            break
        _memory.write(guest, buf, bytes(received[:count]))
        count -= len(received)


__all__ = ["GuestOverlapped", "record_address", "write_received"]
