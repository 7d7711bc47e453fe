"""Waiting on events: the one blocking loop and the one asyncio wait, for both cores.

A core supplies three primitives, each atomic under the GIL:

- ``table._wait_set(handles, wait_all, function)``: takes a list of handles (ints, None
  meaning 0), checks their types (a TypeError names ``function``, the method waiting), then
  the Windows conditions in the kernel's order (1..64 of them, else WSA_INVALID_PARAMETER;
  each a live event, else WSA_INVALID_HANDLE; then, for wait-all, no event twice, else
  WSA_INVALID_PARAMETER) and returns a wait set whose ``ready()`` gives the index the wait
  returns (wait-any: the lowest signalled; wait-all: 0 once all are signalled at once), or -1;
- ``table._wait_register(wait_set, wake)``: from now on a set of any of its events calls
  ``wake()`` (with the GIL held, after the event's state has changed);
- ``table._wait_unregister(wait_set)``.

Registering before the last readiness check means no set is ever missed: a set that comes
before it is seen by the check, one that comes after it calls ``wake``.  A wait holds its wait
set, which refers to the event objects themselves, not just their handle values: an event
closed during the wait keeps the state it had, and as nothing can set it any more, a wait that
still needs it ends when its timeout does, as on Windows.

APCs (DESIGN.md §6) live here too, once for both cores: each table holds an ``ApcQueues``
(``table._apcs``), the queues of its OS threads, and a core's ``queue_apc`` hands it the OS
thread a live thread handle names.  A queued APC runs on its thread, oldest first, only in an
alertable wait (``wait(..., alertable=True)``, ``sleep(..., alertable=True)``), which then
returns WSA_WAIT_IO_COMPLETION; an event already signalled wins over a pending APC, as on
Windows.  APCs run with no lock held and after the wait is unregistered, so an APC may use the
table, queue more APCs or wait again.  An APC that raises: the exception propagates out of
the wait (Windows has no such notion; swallowing it would hide a provider's bug, and the
caller of an alertable wait is the code that asked for APCs), and the APCs after it stay
queued, in order, for the next alertable wait.

Completion ports (DESIGN.md §6) live here too, once for both cores: a port handle's context
is a ``CompletionPort``, its FIFO of packets and the LIFO stack of the threads waiting on it,
and ``get_completions`` waits on one through the same blocking loop as an event wait (the
port stands where the table does: it has ``_wait_register`` and ``_wait_unregister``).  A
packet posted while threads wait goes straight to the one that started waiting last, as the
kernel's queue hands it; one posted while none waits joins the queue.
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from ._shared import WinsockError, as_index
from .constants import ERROR_ABANDONED_WAIT_0

if TYPE_CHECKING:
    import asyncio  # imported by wait_async when a coroutine first waits: not by `import ws2core`

# A blocking get() longer than this raises OverflowError; a wait loops instead.
_LONGEST_BLOCK = min(threading.TIMEOUT_MAX, 3600.0)

WSA_WAIT_IO_COMPLETION = 0xC0  # ws2core.constants has it too; the cores' waits return it

# What the blocking loop returns when the thread has APCs to run (never a wait's result).
_APCS_PENDING = -2


class ApcQueues:
    """The APCs queued to the OS threads of one table, and the wake-ups of the threads that
    wait alertably now.

    One instance per table (``table._apcs``).  Queues are keyed by OS thread id
    (``threading.get_ident()``, the same value C gets from ``PyThread_get_thread_ident``), not
    by thread handle: an APC belongs to the thread, so closing the handle it was queued
    through leaves it queued, as on Windows.  APCs queued to a thread that never waits
    alertably again stay queued until ``drop()`` (the table's ``close()``).  The lock is held
    only around the bookkeeping: no APC, and no finalizer of an APC or its context, runs
    under it.
    """

    __slots__ = ("_lock", "_queues", "_alertable")

    def __init__(self) -> None:
        # Re-entrant: a finalizer run by the cyclic GC inside a locked section may queue.
        self._lock = threading.RLock()
        self._queues: dict[int, deque[tuple[Any, Any]]] = {}
        self._alertable: dict[int, Callable[[], None]] = {}

    def queue(self, thread: int, function: Any, context: Any) -> None:
        """Queue ``function(context)`` to the OS thread ``thread``; wake it if it waits
        alertably."""
        with self._lock:
            self._queues.setdefault(thread, deque()).append((function, context))
            wake = self._alertable.get(thread)
        if wake is not None:
            wake()

    def pending(self, thread: int) -> int:
        """How many APCs wait for ``thread``."""
        queue = self._queues.get(thread)  # one dict read: atomic
        return len(queue) if queue else 0

    def run(self, thread: int, on_error: Callable[[BaseException], None] | None = None) -> bool:
        """Run, on the calling thread (which is ``thread``), the APCs queued to it when this is
        called, oldest first; True when at least one ran.

        APCs queued meanwhile (by an APC, say) wait for the next alertable wait, so an APC that
        queues itself cannot hold the thread forever.  Each is taken out of the queue before it
        runs; if it raises, the exception propagates and the later ones stay queued in order,
        unless ``on_error`` is given (a C caller's wait, which cannot receive an exception): it
        gets the exception and the run goes on.
        """
        ran = False
        for _ in range(self.pending(thread)):
            with self._lock:
                queue = self._queues.get(thread)
                if not queue:
                    break  # dropped meanwhile
                function, context = queue.popleft()
                if not queue:
                    del self._queues[thread]
            ran = True
            try:
                function(context)
            except Exception as error:
                if on_error is None:
                    raise
                on_error(error)
            del function, context  # their finalizers run here, outside the lock
        return ran

    def alert(self, thread: int, wake: Callable[[], None]) -> Callable[[], None] | None:
        """``thread`` waits alertably from now on: a queue() to it calls ``wake()``.  Returns
        the wake-up it replaces, for ``unalert``."""
        with self._lock:
            previous = self._alertable.get(thread)
            self._alertable[thread] = wake
        return previous

    def unalert(self, thread: int, previous: Callable[[], None] | None) -> None:
        with self._lock:
            if previous is None:
                self._alertable.pop(thread, None)
            else:
                self._alertable[thread] = previous

    def drop(self) -> None:
        """Forget every queued APC without running it (the table is closing)."""
        with self._lock:
            dropped = self._queues
            self._queues = {}
        del dropped  # the APCs and their contexts are released here, outside the lock

    def __len__(self) -> int:
        """The APCs queued, all threads together."""
        return sum(map(len, list(self._queues.values())))


_DWORD_MAX = 0xFFFFFFFF
_ULONG_PTR_MAX = 0xFFFFFFFFFFFFFFFF

# A completion packet: (bytes transferred, completion key, overlapped, Winsock/Win32 error).
Packet = tuple[int, int, Any, int]


def checked_packet_number(value: Any, function: str, argument: str, kind: str, top: int) -> int:
    """A packet's number (a byte count, a key, an error) as an int in 0..top; TypeError for
    a non-int, ValueError outside the range."""
    if value.__class__ is not int:
        value = as_index(value, function, argument, kind)
    if not 0 <= value <= top:
        raise ValueError(f"{argument} must be {kind} (0..{top}), not {value}")
    return value  # type: ignore[no-any-return]


def checked_key(key: Any, function: str) -> int:
    """A CompletionKey (ULONG_PTR) as an int."""
    return checked_packet_number(key, function, "key", "a ULONG_PTR", _ULONG_PTR_MAX)


class CompletionPort:
    """One completion port: its queue of packets (first in, first out) and the threads
    waiting on it (last in, first served), the context of a port handle in either core.

    A packet posted while a thread waits is handed to the thread that started waiting last,
    which the kernel's queue does to keep the fewest threads busy; one posted while none waits
    is queued.  ``close()`` (the port handle's close) drops the queued packets and wakes every
    waiter, which then fails with ERROR_ABANDONED_WAIT_0; a port closed takes no more packets
    (a socket still associated with it posts into nothing, as on Windows, where nobody can
    dequeue them any more).  Packets hold what was posted (an overlapped structure, any
    object), released outside the lock.
    """

    __slots__ = ("_lock", "_packets", "_waiters", "closed")

    def __init__(self) -> None:
        self._lock = threading.RLock()  # re-entrant: a finalizer run under it may post
        self._packets: deque[Packet] = deque()
        self._waiters: list[_PortWait] = []  # a stack: the newest waiter last
        self.closed = False

    def post(self, transferred: Any, key: Any, overlapped: Any, error: Any = 0,
             function: str = "CompletionPort.post") -> bool:
        """Queue a packet, or hand it to the newest waiter; False (nothing queued) once the
        port is closed."""
        packet = (
            checked_packet_number(transferred, function, "transferred", "a DWORD", _DWORD_MAX),
            checked_key(key, function), overlapped,
            checked_packet_number(error, function, "error", "a DWORD", _DWORD_MAX))
        with self._lock:
            if self.closed:
                return False
            if self._waiters:
                waiter = self._waiters.pop()
                waiter.packets.append(packet)
                wake = waiter.wake
            else:
                self._packets.append(packet)
                wake = None
        if wake is not None:
            wake()
        return True

    def close(self) -> None:
        """Drop the queued packets and wake every waiter (ERROR_ABANDONED_WAIT_0)."""
        with self._lock:
            self.closed = True
            dropped = self._packets
            self._packets = deque()
            waiters = self._waiters
            self._waiters = []
            for waiter in waiters:
                waiter.abandoned = True
        for waiter in waiters:
            if waiter.wake is not None:  # always, for a registered waiter
                waiter.wake()
        del dropped  # their overlapped objects are released here, outside the lock

    def __len__(self) -> int:
        """The packets queued and not yet dequeued."""
        return len(self._packets)

    # The registry of the blocking loop (_wait), as a table is for its event waits.

    def _wait_register(self, waiter: _PortWait, wake: Callable[[], None]) -> None:
        with self._lock:
            waiter.wake = wake
            if self.closed:
                waiter.abandoned = True
            else:
                self._waiters.append(waiter)

    def _wait_unregister(self, waiter: _PortWait) -> None:
        with self._lock:
            if waiter in self._waiters:  # a post that handed it a packet took it out already
                self._waiters.remove(waiter)


class _PortWait:
    """One thread's GetQueuedCompletionStatus(Ex): the packets it took, up to ``limit``."""

    __slots__ = ("port", "limit", "packets", "abandoned", "wake")

    def __init__(self, port: CompletionPort, limit: int) -> None:
        self.port = port
        self.limit = limit
        self.packets: list[Packet] = []
        self.abandoned = False
        self.wake: Callable[[], None] | None = None

    def ready(self) -> int:
        """0 once it holds packets (taken from the queue now, up to its limit) or its port
        was closed; else -1."""
        port = self.port
        with port._lock:
            queued = port._packets
            while queued and len(self.packets) < self.limit:
                self.packets.append(queued.popleft())
            if not self.packets and port.closed:
                self.abandoned = True
        return 0 if self.packets or self.abandoned else -1


def get_completions(
    table: Any, port: CompletionPort, limit: Any, timeout: Any, alertable: Any,
    on_apc_error: Callable[[BaseException], None] | None = None,
) -> list[Packet] | int:
    """HandleTable.get_completions: up to ``limit`` packets of ``port``, oldest first, once
    at least one is there; [] when ``timeout`` passes first; WSA_WAIT_IO_COMPLETION when,
    ``alertable``, the thread's APCs ran first; WinsockError(ERROR_ABANDONED_WAIT_0) when the
    port was closed before a packet came."""
    limit = checked_packet_number(limit, "HandleTable.get_completions", "limit",
                                  "a ULONG >= 1", _DWORD_MAX)
    if not limit:
        raise ValueError("limit must be a ULONG >= 1, not 0")
    seconds = checked_timeout(timeout)
    waiter = _PortWait(port, limit)
    result = _wait(port, waiter, seconds, table._apcs if alertable else None, on_apc_error)
    if waiter.packets:
        return waiter.packets
    if waiter.abandoned:
        raise WinsockError(ERROR_ABANDONED_WAIT_0, "the completion port was closed")
    return WSA_WAIT_IO_COMPLETION if result == WSA_WAIT_IO_COMPLETION else []


def checked_timeout(timeout: Any) -> float | None:
    """A wait's timeout in seconds: None (no limit) or a finite number >= 0."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds or None, not {type(timeout).__name__}")
    seconds = float(timeout)
    if math.isnan(seconds) or seconds < 0:
        raise ValueError(f"timeout must be a number of seconds >= 0 or None, not {timeout}")
    return seconds


def event_list(events: Iterable[Any]) -> list[Any]:
    """The handles of a wait as a list (a ctypes array is copied once, a list is taken as is)."""
    if type(events) is list:
        return events
    try:
        return list(events)
    except TypeError:
        raise TypeError(
            f"events must be a sequence of event handles, not {type(events).__name__}"
        ) from None


def _prepare(
    table: Any, events: Iterable[Any], wait_all: bool, timeout: Any, function: str
) -> tuple[Any, float | None]:
    """Argument checks, then (in the core) the Windows checks in the kernel's order."""
    timeout = checked_timeout(timeout)
    return table._wait_set(event_list(events), bool(wait_all), function), timeout


def _result(index: int) -> int | None:
    return None if index < 0 else index


def wait(
    table: Any, events: Iterable[Any], wait_all: bool, timeout: Any, alertable: Any = False,
    on_apc_error: Callable[[BaseException], None] | None = None,
) -> int | None:
    """HandleTable.wait: block the calling thread, without the GIL, until the events are ready
    or, when ``alertable``, until it has APCs to run (then WSA_WAIT_IO_COMPLETION).
    ``on_apc_error``: see ApcQueues.run."""
    wait_set, timeout = _prepare(table, events, wait_all, timeout, "HandleTable.wait")
    return _wait(table, wait_set, timeout, table._apcs if alertable else None, on_apc_error)


def sleep(
    table: Any, seconds: Any, alertable: Any = False,
    on_apc_error: Callable[[BaseException], None] | None = None,
) -> int:
    """HandleTable.sleep: SleepEx.  0 once ``seconds`` have passed (None: never), or, when
    ``alertable``, WSA_WAIT_IO_COMPLETION as soon as the thread's APCs have run."""
    timeout = checked_timeout(seconds)
    result = _wait(None, None, timeout, table._apcs if alertable else None, on_apc_error)
    return 0 if result is None else result


def _wait(
    registry: Any, wait_set: Any, timeout: float | None, apcs: ApcQueues | None,
    on_apc_error: Callable[[BaseException], None] | None,
) -> int | None:
    """The one blocking loop: ``wait_set`` None waits on nothing (a sleep).  ``registry``
    registers the wait (a table for its events, a CompletionPort for a port's packets);
    ``apcs``: the table's ApcQueues for an alertable wait, else None."""
    ready = -1 if wait_set is None else wait_set.ready()
    if ready >= 0:  # a signalled event (a packet) wins over pending APCs
        return ready
    thread = threading.get_ident()
    if apcs is not None and apcs.pending(thread) and apcs.run(thread, on_apc_error):
        return WSA_WAIT_IO_COMPLETION
    if timeout == 0:
        return None
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        ready = _block(registry, wait_set, deadline, apcs, thread)
        if ready >= 0:
            return ready
        if wait_set is not None:
            # Unregistered now: what came between its last check and then (a port hands a
            # packet to a registered waiter) is seen here, and wins.
            late: int = wait_set.ready()
            if late >= 0:
                return late
        if ready != _APCS_PENDING:
            return None  # the deadline passed
        # Run them only now, with the wait unregistered: an APC may wait again.
        if apcs.run(thread, on_apc_error):  # type: ignore[union-attr]
            return WSA_WAIT_IO_COMPLETION


def _block(
    registry: Any, wait_set: Any, deadline: float | None, apcs: ApcQueues | None, thread: int
) -> int:
    """Block until the wait set is ready (its index), the deadline passes (-1) or, with
    ``apcs``, the thread has APCs (_APCS_PENDING)."""
    # A SimpleQueue: put() is one atomic C call, safe from any thread and from a finalizer;
    # get() releases the GIL while it blocks.
    wakeups: queue.SimpleQueue[None] = queue.SimpleQueue()
    wake = partial(wakeups.put_nowait, None)
    if wait_set is not None:
        registry._wait_register(wait_set, wake)
    previous = None if apcs is None else apcs.alert(thread, wake)
    try:
        while True:
            # After registering: a set or a queue() from now on wakes this thread.
            ready = -1 if wait_set is None else wait_set.ready()
            if ready >= 0:
                return ready
            if apcs is not None and apcs.pending(thread):
                return _APCS_PENDING
            if deadline is None:
                block = _LONGEST_BLOCK
            else:
                block = deadline - time.monotonic()
                if block <= 0:
                    return -1
                block = min(block, _LONGEST_BLOCK)
            try:
                wakeups.get(timeout=block)
            except queue.Empty:
                pass
    finally:
        if apcs is not None:
            apcs.unalert(thread, previous)
        if wait_set is not None:
            registry._wait_unregister(wait_set)


def _wake_future(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def wait_async(table: Any, events: Iterable[Any], wait_all: bool, timeout: Any) -> int | None:
    """HandleTable.wait_async: the same wait as a coroutine.

    It has no alertable form: an APC belongs to an OS thread, and a coroutine does not own the
    thread it runs on (every task of the loop shares it), so no await is the loop thread's
    alertable wait; a coroutine that needs APCs delivered runs an alertable ``wait`` or
    ``sleep`` on a thread of its own (``loop.run_in_executor``), the thread its provider
    opened its thread handle on.  It takes no thread and no file descriptor of its own: a set, from any thread, schedules
    the wake-up through the running loop's own self-pipe (``call_soon_threadsafe``).
    Cancelling the task unregisters the wait.
    """
    wait_set, timeout = _prepare(table, events, wait_all, timeout, "HandleTable.wait_async")
    ready = wait_set.ready()
    if ready >= 0 or timeout == 0:
        return _result(ready)
    import asyncio  # here, not at the top: most users of ws2core never wait from a coroutine

    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    # The future the coroutine awaits now; a setter in another thread reads it in one step.
    pending: list[asyncio.Future[None] | None] = [None]

    def wake() -> None:
        future = pending[0]
        if future is not None:
            try:
                loop.call_soon_threadsafe(_wake_future, future)
            except RuntimeError:  # the loop is closed: nobody is left to wake
                pass

    table._wait_register(wait_set, wake)
    try:
        while True:
            ready = wait_set.ready()
            if ready >= 0:
                return ready  # type: ignore[no-any-return]
            future = loop.create_future()
            pending[0] = future
            # A set between the check above and this line would have found no future to
            # wake: check once more now that one is in place.
            ready = wait_set.ready()
            if ready >= 0:
                return ready  # type: ignore[no-any-return]
            if deadline is None:
                await future
            else:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return None
                try:
                    await asyncio.wait_for(future, remaining)
                except (asyncio.TimeoutError, TimeoutError):
                    pass
    finally:
        pending[0] = None
        table._wait_unregister(wait_set)
