"""Overlapped I/O: operations that finish later, completed the Windows way (DESIGN.md §6).

A call with an ``lpOverlapped`` on a socket made with WSA_FLAG_OVERLAPPED becomes an
``_Operation``: it is tried at once, without blocking; what cannot finish then waits in its
socket's queue (``ProviderSocket.receives`` or ``.sends``, in call order) and the call fails
with WSA_IO_PENDING.  The provider's one reactor thread watches every socket with a queue
and, when the host socket is ready, tries the oldest operation again (``_drive``): there is
no thread per operation.  On a socket made without the flag ``lpOverlapped`` and the
completion routine are ignored and the call is an ordinary one, as the WSPRecv page says.

The WSAOVERLAPPED's fields, as the WSAOVERLAPPED page of the SAN service provider interface
describes a provider's use of them (a non-IFS provider is free to use Internal and
InternalHigh; Offset and OffsetHigh are the provider's): ``Internal`` is
WSS_OPERATION_IN_PROGRESS from the start of the operation until it completes, then 0;
``InternalHigh`` the byte count, ``Offset`` the flags (a receive's lpFlags result: 0) and
``OffsetHigh`` the Winsock error (0: success), all written before ``Internal`` changes, so
that whoever sees the operation complete reads its outcome (``structs.record_completion``:
WPUCompleteOverlappedRequest writes them the same way).  ``hEvent`` is the caller's and
is read when the operation starts.

Completion (``_complete``), for an operation that went pending and for one that finished at
once alike (the WSPRecv page: "the completion routine, if specified, will have already been
queued"): with a completion routine, ``lpCompletionRoutine(dwError, cbTransferred,
lpOverlapped, dwFlags)`` is queued with WPUQueueApc to the thread ``lpThreadId`` named when
the call was made (the provider keeps the WSATHREADID's handle, not the structure, as the
page asks); without one, the completion goes to Ws2_32's WPUCompleteOverlappedRequest,
which records the outcome, signals ``hEvent`` (if not NULL) and, for a socket associated
with a completion port, posts a packet there (a non-IFS provider cannot know whether the
socket has a port, so every completion that is not an APC goes through it).  An
operation that fails when it starts fails the call with its code, and no completion is
reported ("no completion indication will occur").  Closing the socket completes every
operation still pending with WSA_OPERATION_ABORTED.

The buffers of a pending operation are held by the operation (memoryviews) until it
completes: a receive writes into them when the data comes, as Windows writes into the
caller's buffers, and nothing is written after the completion is reported.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable
from operator import index as _index
from typing import Any

from .. import Ref
from .._shared import WinsockError, require_out_parameter
from ..constants import (
    FALSE,
    TRUE,
    WSA_IO_INCOMPLETE,
    WSA_OPERATION_ABORTED,
    WSAEFAULT,
    WSAEINTR,
    WSS_OPERATION_IN_PROGRESS,
)
from ..structs import WSATHREADID, overlapped_structure, record_completion
from .base import _CANCEL_CHECK, OverlappedOutcome, ProviderSocket, _ProviderBase, log

# An attempt's outcome: (Winsock error, bytes transferred, flags), or None: it would block.
Outcome = tuple[int, int, int]

class _Request:
    """How one overlapped call reports its completion: the structure, and the routine with
    its thread or the event."""

    __slots__ = ("handle", "overlapped", "routine", "thread", "event", "done")

    def __init__(self, handle: int, overlapped: Any, routine: Any, thread: int, event: int) -> None:
        self.handle = handle      # the socket's, for WPUCompleteOverlappedRequest
        self.overlapped = overlapped
        self.routine = routine
        self.thread = thread      # the WSATHREADID's ThreadHandle when the call was made
        self.event = event        # hEvent as read when the call was made (0: none)
        self.done = False         # completed (or cancelled): reported once, under the lock


class _Operation:
    """A pending transfer: its request and ``attempt``, one non-blocking try at the host that
    returns the Outcome or None (would block; the operation keeps what it did so far)."""

    __slots__ = ("request", "attempt")

    def __init__(self, request: _Request, attempt: Callable[[], Outcome | None]) -> None:
        self.request = request
        self.attempt = attempt


def _run_completion_routine(context: tuple[Any, int, int, Any, int]) -> None:
    """The APC that calls a completion routine with Windows' four arguments."""
    routine, error, count, overlapped, flags = context
    routine(error, count, overlapped, flags)


def overlapped_request(handle: int, lpOverlapped: Any, lpCompletionRoutine: Any,
                       lpThreadId: Any) -> _Request | None:
    """The request of an overlapped call on ``handle``, or None when ``lpOverlapped`` is
    NULL; the routine's checks are ``completion_thread``'s.  ``hEvent`` is read now."""
    overlapped = overlapped_structure(lpOverlapped)
    if overlapped is None:
        return None
    thread = completion_thread(lpCompletionRoutine, lpThreadId)
    event = overlapped.hEvent
    return _Request(handle, overlapped, lpCompletionRoutine, thread,
                    0 if event is None else _index(event))


def completion_thread(lpCompletionRoutine: Any, lpThreadId: Any) -> int:
    """The thread handle a completion routine is to be queued to (0: no routine): the
    WSATHREADID's ThreadHandle (a ctypes pointer to one too).  A routine that is not
    callable is a TypeError; one given with no lpThreadId (a NULL pointer) is WSAEFAULT."""
    if lpCompletionRoutine is None:
        return 0
    if not callable(lpCompletionRoutine):
        raise TypeError("lpCompletionRoutine must be None or a callable")
    if isinstance(lpThreadId, ctypes._Pointer):
        lpThreadId = lpThreadId.contents if lpThreadId else None
    if lpThreadId is None:
        raise WinsockError(WSAEFAULT, "a completion routine needs lpThreadId")
    handle = lpThreadId.ThreadHandle
    return 0 if handle is None else _index(handle)


def report_completion(upcalls: Any, request: _Request, error: int, count: int, flags: int) -> None:
    """Record an operation's outcome in its structure and report it the way the caller chose.

    A completion routine is the provider's to queue (WPUQueueApc); any other completion
    goes through Ws2_32's WPUCompleteOverlappedRequest, which records it, signals hEvent
    and posts to the socket's completion port if it has one: a provider that is not an
    IFS provider cannot know whether the socket has a port, so it hands Ws2_32 every
    completion that is not an APC (the WPUCompleteOverlappedRequest page).
    """
    overlapped = request.overlapped
    overlapped.Offset = flags  # the provider's field; the others are recorded below
    code = Ref(0)
    if (upcalls is not None and request.routine is None
            and not upcalls.WPUCompleteOverlappedRequest(request.handle, overlapped, error,
                                                         count, code)):
        return  # recorded, signalled and posted by Ws2_32
    if code.value:
        # The handle closed between the operation's end and now (a close racing the
        # reactor): no port can get it any more; the event still tells the caller.
        log.debug("completion on a closed handle %#x: error %d", request.handle, code.value)
    record_completion(overlapped, error, count)
    if upcalls is not None and request.routine is not None:
        thread_id = WSATHREADID()
        thread_id.ThreadHandle = request.thread
        if upcalls.WPUQueueApc(thread_id, _run_completion_routine,
                               (request.routine, error, count, overlapped, flags), code):
            log.warning("a completion routine could not be queued (thread handle %#x "
                        "closed?): error %d", request.thread, code.value)
    elif upcalls is not None and request.event:
        upcalls.WPUSetEvent(request.event, Ref(0))  # a closed event: nothing to signal


class _Overlapped(_ProviderBase):
    """Overlapped operations' requests, completion, driving and cancelling (starting one is
    its concern's: ``transfer._Transfer._start``; the reactor drives them from
    ``events._Events._observe``)."""

    def _request(self, sock: ProviderSocket, lpOverlapped: Any, lpCompletionRoutine: Any,
                 lpThreadId: Any) -> _Request | None:
        """The overlapped request of a call, or None for an ordinary call (no lpOverlapped,
        or a socket made without WSA_FLAG_OVERLAPPED: both arguments are ignored then).

        A completion routine that is not callable is a TypeError; one given with no
        lpThreadId (a NULL pointer) is WSAEFAULT.
        """
        if not sock.overlapped:
            return None  # ignored, whatever they are
        return overlapped_request(sock.handle, lpOverlapped, lpCompletionRoutine, lpThreadId)

    def _complete(self, request: _Request, error: int, count: int, flags: int) -> None:
        """Report the outcome (``report_completion``) and wake WSPGetOverlappedResult's waits."""
        report_completion(self.upcalls, request, error, count, flags)
        with self._completions:
            self._completions.notify_all()

    def _finish_at_once(self, request: _Request, count: int, flags: int = 0) -> None:
        """Report the completion of an operation that succeeded when it started."""
        request.done = True
        self._complete(request, 0, count, flags)

    def _drive(self, sock: ProviderSocket) -> None:
        """Try the oldest pending operations of ``sock`` again, in order, until one would
        block.  One thread at a time drives a socket (the reactor, or a re-enabling call's
        _observe_now): two would take data for a later operation before an earlier one."""
        with self._lock:
            if sock.driving:
                return
            sock.driving = True
        try:
            for queue in (sock.receives, sock.sends):
                while True:
                    with self._lock:
                        if sock.closed or not queue:
                            break
                        operation = queue[0]
                    outcome = operation.attempt()
                    if outcome is None:
                        break
                    request = operation.request
                    with self._lock:
                        if queue and queue[0] is operation:
                            queue.popleft()
                        cancelled = request.done
                        request.done = True
                    if not cancelled:
                        self._complete(request, *outcome)
        finally:
            with self._lock:
                sock.driving = False

    def _take_pending(self, sock: ProviderSocket) -> list[_Request]:
        """Every request still pending on ``sock``, now owned by the caller (the lock is
        held: the socket is closing)."""
        taken = []
        for queue in (sock.receives, sock.sends):
            for operation in queue:
                if not operation.request.done:
                    operation.request.done = True
                    taken.append(operation.request)
            queue.clear()
        return taken

    def _abort(self, requests: list[_Request]) -> None:
        """Complete operations cancelled by a close: WSA_OPERATION_ABORTED, nothing moved."""
        for request in requests:
            self._complete(request, WSA_OPERATION_ABORTED, 0, 0)

    # --- WSP function

    def WSPGetOverlappedResult(self, s: Any, lpOverlapped: Any, lpcbTransfer: Any, fWait: Any,
                               lpdwFlags: Any, lpErrno: Any, /) -> int:
        """The outcome of an overlapped operation started on socket ``s``: TRUE, or FALSE.

        ``lpOverlapped``: the WSAOVERLAPPED given to the operation (a ctypes pointer to one
        too); ``lpcbTransfer`` and ``lpdwFlags`` (Refs) receive its byte count and flags (a
        receive's lpFlags result) once it has completed, whether it succeeded or not.  None
        for any of the three: WSAEFAULT.  Completed: TRUE, or FALSE with the operation's error
        in ``lpErrno`` (WSA_OPERATION_ABORTED for one a close cancelled).  Still pending:
        with ``fWait`` false, FALSE with WSA_IO_INCOMPLETE; with ``fWait`` true, the call
        waits until it completes (whichever way it reports its completion; Windows allows
        fWait only for event-based completion, and waits on hEvent); on a thread with a
        ``blocking_limit``, at most that long, then FALSE with WSA_IO_INCOMPLETE.  Not a live
        socket: WSAENOTSOCK.
        """
        overlapped = overlapped_structure(lpOverlapped)
        for out, name in ((lpcbTransfer, "lpcbTransfer"), (lpdwFlags, "lpdwFlags")):
            if out is not None:
                require_out_parameter(out, name)
        return self._call(s, lpErrno, FALSE, self._overlapped_result, overlapped, lpcbTransfer,
                          bool(fWait), lpdwFlags)

    def _overlapped_result(self, sock: ProviderSocket, overlapped: Any, transferred: Any,
                           wait: bool, flags: Any) -> int:
        if overlapped is None or transferred is None or flags is None:
            raise WinsockError(WSAEFAULT, "lpOverlapped, lpcbTransfer or lpdwFlags is NULL")
        if overlapped.Internal == WSS_OPERATION_IN_PROGRESS:
            if not wait:
                raise WinsockError(WSA_IO_INCOMPLETE)
            closing = False
            cap = self.current_blocking_limit()
            deadline = None if cap is None else time.monotonic() + cap
            with self._completions:
                while overlapped.Internal == WSS_OPERATION_IN_PROGRESS:
                    # A close completes every pending operation (aborted) just after it marks
                    # the socket closed: one more slice for that, then the wait is over.
                    if sock.closed:
                        if closing:
                            raise WinsockError(WSAEINTR, "the socket was closed during the call")
                        closing = True
                    left = _CANCEL_CHECK if deadline is None else deadline - time.monotonic()
                    if left <= 0:
                        raise WinsockError(WSA_IO_INCOMPLETE, "the thread's blocking limit ran out")
                    self._completions.wait(min(left, _CANCEL_CHECK))
        transferred.value = overlapped.InternalHigh
        flags.value = overlapped.Offset
        if overlapped.OffsetHigh:
            raise OverlappedOutcome(overlapped.OffsetHigh)
        return TRUE

