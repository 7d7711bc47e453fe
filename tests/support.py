"""Helpers that several test files share: int-likes, error checks, table snapshots, threads.

A plain module beside the tests (tests/ is not a package): ``from support import ...``.
"""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Callable
from typing import Any, NoReturn

import pytest

import ws2core
from ws2core import errorname

JOIN_TIMEOUT = 60.0  # a deadlock fails the test instead of hanging the suite


class Index:
    """An int-like that is not an int: handle and id arguments take anything with __index__."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


def raises_winsock(code: int, method: Callable[..., Any], *args: Any) -> ws2core.WinsockError:
    """Call ``method``; it must raise exactly ws2core.WinsockError with ``code``."""
    with pytest.raises(ws2core.WinsockError) as excinfo:
        method(*args)
    # One class for both cores (DESIGN §2), not a per-core subclass.
    assert type(excinfo.value) is ws2core.WinsockError
    assert excinfo.value.winerror == code, errorname(excinfo.value.winerror)
    return excinfo.value


def snapshot(table: Any) -> tuple[Any, ...]:
    """Everything observable about a table: len, handles in order, kinds, contexts (by
    identity), catalog entries, event states, repr (socket, event and thread counts) and the
    APCs queued."""
    detail: list[tuple[Any, ...]] = []
    for h in list(table):
        kind = table.kind(h)
        if kind == "socket":
            detail.append((h, "socket", id(table.context(h)), table.catalog_entry(h)))
        elif kind == "event":
            detail.append((h, "event", table.event_is_set(h)))
        else:
            detail.append((h, kind))
    return len(table), list(table), detail, repr(table), len(table._apcs)


def assert_consistent(table: Any) -> list[int]:
    """len agrees with iteration, no duplicates, and every handle answers as its kind."""
    handles = list(table)
    assert len(handles) == len(table)
    assert len(set(handles)) == len(handles)
    for h in handles:
        assert h in table
        kind = table.kind(h)
        if kind == "socket":
            table.context(h)
            table.catalog_entry(h)
        elif kind == "event":
            table.event_is_set(h)
        elif kind == "port":
            table.post_completion(h, 0, 0, None)  # answers as a port (the packet is harmless)
        else:
            assert kind == "thread"
    return handles


def run_threads(count: int, target: Callable[[int], None]) -> list[str]:
    """Run ``target(i)`` in ``count`` threads started together; return their failures."""
    errors: list[str] = []
    barrier = threading.Barrier(count)

    def body(i: int) -> None:
        try:
            barrier.wait()
            target(i)
        except BaseException:  # noqa: BLE001 - reported by the main thread
            errors.append(f"thread {i}:\n{traceback.format_exc()}")

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"threads did not finish (deadlock?): {stuck}"
    return errors


def missing(reason: str) -> NoReturn:
    """Skip the test for want of a tool; under CI (CI=true) fail instead, so that a CI run
    cannot pass by skipping what it was meant to test."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: a missing tool fails instead of skipping)",
                    pytrace=False)
    pytest.skip(reason)
