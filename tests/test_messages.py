"""Windows and WPUPostMessage on both cores: queue and callable sinks, posting order, the
delivery thread, unknown windows (is_window), HWND values apart from the table's handles and
argument checks (the native table's WPUPostMessage: tests/test_native.py); the WSAAsyncSelect
reply macros (WSPAsyncSelect itself: tests/test_provider_async_select.py)."""

from __future__ import annotations

import queue
import threading
from typing import Any

import pytest

import ws2core
from ws2core.constants import (
    FALSE,
    FD_CLOSE,
    FD_READ,
    TRUE,
    WSA_INVALID_HANDLE,
    WSAECONNRESET,
    WSAENOBUFS,
    WSAGETSELECTERROR,
    WSAGETSELECTEVENT,
    WSAMAKESELECTREPLY,
)


def test_a_queue_window_receives_tuples_in_order(upcalls: Any) -> None:
    inbox: queue.Queue[Any] = queue.Queue()
    hwnd = upcalls.register_window(inbox)
    for i in range(5):
        assert upcalls.WPUPostMessage(hwnd, 0x400 + i, i, -i) == TRUE
    assert [inbox.get_nowait() for _ in range(5)] == [(hwnd, 0x400 + i, i, -i) for i in range(5)]


def test_a_full_queue_refuses_the_post(upcalls: Any) -> None:
    inbox: queue.Queue[Any] = queue.Queue(maxsize=1)
    hwnd = upcalls.register_window(inbox)
    assert upcalls.WPUPostMessage(hwnd, 1, 0, 0) == TRUE
    assert upcalls.WPUPostMessage(hwnd, 2, 0, 0) == FALSE  # never blocks the provider
    assert inbox.get_nowait() == (hwnd, 1, 0, 0)


def test_a_callable_runs_on_its_delivery_thread_without_blocking_the_post(upcalls: Any) -> None:
    release = threading.Event()
    done = threading.Event()
    seen: list[tuple[int, tuple[Any, ...]]] = []

    def window(*message: Any) -> None:
        release.wait(10)
        seen.append((threading.get_ident(), message))
        if len(seen) == 3:
            done.set()

    hwnd = upcalls.register_window(window)
    for i in range(3):
        assert upcalls.WPUPostMessage(hwnd, 7, i, 0) == TRUE  # returns while the sink waits
    assert not seen
    release.set()
    assert done.wait(10)
    assert [m for _, m in seen] == [(hwnd, 7, i, 0) for i in range(3)]
    assert {t for t, _ in seen} != {threading.get_ident()}
    upcalls.unregister_window(hwnd)


def test_a_raising_sink_is_reported_and_keeps_its_window(upcalls: Any, monkeypatch: Any) -> None:
    reported: list[Any] = []
    monkeypatch.setattr("sys.unraisablehook", reported.append)
    done = threading.Event()

    def window(hwnd: int, msg: int, w: int, l: int) -> None:
        if msg == 1:
            raise RuntimeError("window failed")
        done.set()

    hwnd = upcalls.register_window(window)
    assert upcalls.WPUPostMessage(hwnd, 1, 0, 0) == TRUE
    assert upcalls.WPUPostMessage(hwnd, 2, 0, 0) == TRUE
    assert done.wait(10)
    assert isinstance(reported[0].exc_value, RuntimeError)


def test_unknown_and_unregistered_windows(upcalls: Any) -> None:
    inbox: queue.Queue[Any] = queue.Queue()
    hwnd = upcalls.register_window(inbox)
    other = upcalls.register_window(inbox)
    assert other != hwnd
    upcalls.unregister_window(hwnd)
    assert upcalls.WPUPostMessage(hwnd, 1, 0, 0) == FALSE
    for unknown in (None, 0, 4, hwnd + 8, 2**64 - 1):
        assert upcalls.WPUPostMessage(unknown, 1, 0, 0) == FALSE
    with pytest.raises(ws2core.WinsockError) as raised:
        upcalls.unregister_window(hwnd)
    assert raised.value.winerror == WSA_INVALID_HANDLE
    assert upcalls.register_window(inbox) not in (hwnd, other)  # never reused
    assert inbox.empty()


def test_is_window(upcalls: Any, table: Any) -> None:
    hwnd = upcalls.register_window(queue.Queue())
    assert upcalls.is_window(hwnd) is True
    assert upcalls.is_window(_Index(hwnd)) is True  # anything with __index__, as an HWND
    handles = [table.create_socket(1), table.create_event()]
    for other in (None, 0, hwnd + 4, hwnd - 4, "hwnd", float(hwnd), True, *handles):
        assert upcalls.is_window(other) is False, other
    upcalls.unregister_window(hwnd)
    assert upcalls.is_window(hwnd) is False


class _Index:
    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


def test_select_reply_macros() -> None:
    """WSAMAKESELECTREPLY is MAKELONG(event, error); the two getters take it apart again."""
    reply = WSAMAKESELECTREPLY(FD_CLOSE, WSAECONNRESET)
    assert reply == FD_CLOSE | WSAECONNRESET << 16 == 0x27460020
    assert (WSAGETSELECTEVENT(reply), WSAGETSELECTERROR(reply)) == (FD_CLOSE, WSAECONNRESET)
    assert WSAMAKESELECTREPLY(FD_READ, 0) == FD_READ
    assert WSAMAKESELECTREPLY(0x1FFFF, 0x1FFFF) == 0xFFFFFFFF  # each a WORD, as MAKELONG's
    assert WSAGETSELECTEVENT(2**40 + 5) == 5 and WSAGETSELECTERROR(2**40 + (7 << 16)) == 7
    assert ws2core.WSAMAKESELECTREPLY is WSAMAKESELECTREPLY


def test_hwnds_are_no_handle_of_the_table(upcalls: Any, table: Any) -> None:
    handles = [table.create_socket(1), table.create_event()]
    hwnds = [upcalls.register_window(queue.Queue()) for _ in range(4)]
    last = table.handle_range[1]
    for hwnd in hwnds:
        assert hwnd % 4 == 2 and hwnd > last + 3
        assert table.kind(hwnd) is None and hwnd not in table
    assert all(upcalls.WPUPostMessage(h, 1, 0, 0) == FALSE for h in handles)


def test_an_x86_table_without_room_for_an_hwnd(core: Any) -> None:
    table = core.HandleTable(handle_range=(2**32 - 4 * 70000, 2**32 - 4), abi="x86")
    up = ws2core.UpcallTable(table)
    with pytest.raises(ws2core.WinsockError) as raised:
        up.register_window(queue.Queue())
    assert raised.value.winerror == WSAENOBUFS


@pytest.mark.parametrize("args, error", [
    (("x", 1, 0, 0), TypeError), ((2, "x", 0, 0), TypeError), ((2, 1, 1.5, 0), TypeError),
    ((2, 1, 0, None), TypeError), ((2, -1, 0, 0), ValueError), ((2, 2**32, 0, 0), ValueError),
    ((2, 1, -1, 0), ValueError), ((2, 1, 2**64, 0), ValueError), ((2, 1, 0, 2**63), ValueError),
    ((-2, 1, 0, 0), ValueError),
])
def test_post_message_argument_checks(upcalls: Any, args: tuple[Any, ...], error: type) -> None:
    with pytest.raises(error):
        upcalls.WPUPostMessage(*args)


def test_a_sink_must_be_callable_or_a_queue(upcalls: Any) -> None:
    with pytest.raises(TypeError):
        upcalls.register_window(42)
