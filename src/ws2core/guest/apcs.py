"""Guest APCs and alertable waits: QueueUserAPC and SleepEx over ws2core's table.

A guest APC is a queued item of the table (``HandleTable.queue_apc``) like a host one: its
body, a ``GuestCall``, runs the guest function ``(address, args)`` through
``Guest.run_function`` when the emulator's thread waits alertably, on that thread, inside
the wait, in queue order with the host's APCs (a completion routine the provider queues
from its reactor thread wakes the wait as any APC does).  Every alertable wait served here
delivers them: SleepEx, WaitForSingleObjectEx and WaitForMultipleObjectsEx on ws2core's
handles, WSAWaitForMultipleEvents, each then returning WAIT_IO_COMPLETION
(WSA_WAIT_IO_COMPLETION); a wait that is not alertable never runs one.

``queue_guest_call(exports, thread, address, args)`` is the entry another module uses (a
guest completion routine ``lpCompletionRoutine(dwError, cbTransferred, lpOverlapped,
dwFlags)`` queued the same way): callable from any host thread, it queues to the thread
that table thread handle names (``HandleTable.open_thread`` on the emulator's thread, as
WPUOpenCurrentThread gives a provider); ``GuestCall`` is the APC body itself, for a caller
that queues through the table (or WPUQueueApc) on its own.  QueueUserAPC needs no handle of
its own: it opens one, queues and closes it (an APC belongs to its thread, not to the handle
it came through), so no handle of the table outlives the call.

QueueUserAPC is served for the current thread (GetCurrentThread's pseudo-handle, or the
handle the emulator gives for it: ``Guest.is_current_thread``) when the adapter can run
guest code (``Guest.runs_functions``); any other thread, or an emulator that cannot, is
handed to the emulator's own QueueUserAPC (``NotServed``), and so is SleepEx to an
emulator's that cannot (it could have no guest APC to deliver).  SleepEx sleeps for real
(capped by ``max_block``) and returns 0, or WAIT_IO_COMPLETION once APCs ran.  An alertable wait on the
emulator's own handles with APCs pending delivers them and returns WAIT_IO_COMPLETION
without asking the emulator (which cannot see ws2core's queue, and whose waits say
nothing of an object's state that could win over them); with none pending it is the
emulator's.  A guest APC that faults fails the wait that ran it (``Exports.hook``:
WAIT_FAILED with ERROR_NOACCESS), where Windows would raise the exception in the program;
the APCs after it stay queued.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..constants import INFINITE, WAIT_FAILED
from ._exports import Exports, NotServed, export
from ._protocol import Guest


class GuestCall:
    """An APC body (``function(context)`` for ``HandleTable.queue_apc``) that runs the guest
    function at ``address`` with ``args`` on the guest the delivering wait serves."""

    __slots__ = ("address", "args", "exports")

    def __init__(self, exports: Exports, address: int, args: Sequence[int]) -> None:
        self.exports, self.address, self.args = exports, address, tuple(args)

    def __call__(self, context: Any) -> None:
        self.exports.serving().run_function(self.address, self.args)

    def __repr__(self) -> str:
        return f"<guest call {self.address:#x}{self.args}>"


def queue_guest_call(exports: Exports, thread: int, address: int, args: Sequence[int]) -> None:
    """Queue the guest function ``address(*args)`` as an APC to the thread that ``thread``
    (a thread handle of the table) names; it runs in that thread's next alertable wait, on
    the guest that wait serves.  From any host thread; WinsockError(WSAEFAULT) when
    ``thread`` is not a live thread handle."""
    exports.ws2_32.upcalls.table.queue_apc(thread, GuestCall(exports, address, args), None)


def deliver(ex: Exports) -> bool:
    """Run the APCs pending for the calling (emulator's) thread now; whether any ran."""
    return bool(ex.ws2_32.upcalls.table.sleep(0, True))


@export("QueueUserAPC", "ppp", "i", 0, clears_last_error=False, dll="kernel32")
def QueueUserAPC(ex: Exports, g: Guest, pfnAPC: int, hThread: int, dwData: int) -> int:
    if not (g.runs_functions and g.is_current_thread(hThread)):
        raise NotServed()
    table = ex.ws2_32.upcalls.table
    thread = table.open_thread()   # this thread: the emulator's
    try:
        queue_guest_call(ex, thread, pfnAPC, (dwData,))
    finally:
        table.close_thread(thread)
    return 1


@export("SleepEx", "uu", "i", WAIT_FAILED, clears_last_error=False, dll="kernel32")
def SleepEx(ex: Exports, g: Guest, dwMilliseconds: int, bAlertable: int) -> int:
    if not g.runs_functions:   # no guest APC can be queued: the emulator's own SleepEx
        raise NotServed(("Sleep", (dwMilliseconds,)))
    milliseconds = ex.ws2_32.capped_timeout(dwMilliseconds)
    return ex.ws2_32.upcalls.table.sleep(
        None if milliseconds == INFINITE else milliseconds / 1000, bool(bAlertable))
