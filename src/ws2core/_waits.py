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
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import asyncio  # imported by wait_async when a coroutine first waits: not by `import ws2core`

# A blocking get() longer than this raises OverflowError; a wait loops instead.
_LONGEST_BLOCK = min(threading.TIMEOUT_MAX, 3600.0)


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


def wait(table: Any, events: Iterable[Any], wait_all: bool, timeout: Any) -> int | None:
    """HandleTable.wait: block the calling thread, without the GIL, until the events are ready."""
    wait_set, timeout = _prepare(table, events, wait_all, timeout, "HandleTable.wait")
    ready = wait_set.ready()
    if ready >= 0 or timeout == 0:
        return _result(ready)
    deadline = None if timeout is None else time.monotonic() + timeout
    # A SimpleQueue: put() is one atomic C call, safe from any thread and from a finalizer;
    # get() releases the GIL while it blocks.
    wakeups: queue.SimpleQueue[None] = queue.SimpleQueue()
    table._wait_register(wait_set, partial(wakeups.put_nowait, None))
    try:
        while True:
            ready = wait_set.ready()
            if ready >= 0:
                return ready  # type: ignore[no-any-return]
            if deadline is None:
                block = _LONGEST_BLOCK
            else:
                block = deadline - time.monotonic()
                if block <= 0:
                    return None
                block = min(block, _LONGEST_BLOCK)
            try:
                wakeups.get(timeout=block)
            except queue.Empty:
                pass
    finally:
        table._wait_unregister(wait_set)


def _wake_future(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def wait_async(table: Any, events: Iterable[Any], wait_all: bool, timeout: Any) -> int | None:
    """HandleTable.wait_async: the same wait as a coroutine.

    It takes no thread and no file descriptor of its own: a set, from any thread, schedules
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
