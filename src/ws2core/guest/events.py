"""The WSA event exports over guest memory: WSACreateEvent, WSASetEvent, WSAResetEvent,
WSACloseEvent, WSAWaitForMultipleEvents, WSAEventSelect, WSAEnumNetworkEvents, and
WSAAsyncSelect.

Events are kernel objects on Windows: none of these needs a WSAStartup but those that
name a socket, and those that are kernel32's event calls on Windows leave the last error
alone when they succeed (the socket functions set it to 0).  Waits are capped at the exports'
``max_block`` by the hook, as every export.

WSAAsyncSelect is Ws2_32's own: its messages go to a window of the upcall table
(``UpcallTable.register_window``), and every window the guest makes is one
(``ws2core.guest.windows``: user32's class, window and message calls, over one message queue
per process), so the provider's posts (WPUPostMessage) land where the guest's GetMessage and
PeekMessage read, wParam the socket and lParam WSAMAKESELECTREPLY(event, error).  An HWND
that is not one of the guest's windows (its emulator's, or any other value) fails as Windows
documents for a window handle that is no window, WSAEINVAL (after WSANOTINITIALISED and
WSAENOTSOCK); a cancel (``lEvent`` 0) succeeds whatever the window, and the socket stays
non-blocking until it, as on Windows.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Sequence

from ..constants import (
    FALSE,
    FD_MAX_EVENTS,
    SOCKET_ERROR,
    WSA_INVALID_EVENT,
    WSA_MAXIMUM_WAIT_EVENTS,
    WSA_WAIT_FAILED,
)
from ..structs import WSANETWORKEVENTS
from . import _memory
from ._exports import Exports, export
from ._protocol import Guest


@export("WSACreateEvent", "", "p", WSA_INVALID_EVENT, clears_last_error=False)
def WSACreateEvent(ex: Exports, g: Guest) -> int:
    return ex.ws2_32.WSACreateEvent()


@export("WSASetEvent", "p", "i", FALSE, clears_last_error=False)
def WSASetEvent(ex: Exports, g: Guest, hEvent: int) -> int:
    return ex.ws2_32.WSASetEvent(hEvent)


@export("WSAResetEvent", "p", "i", FALSE, clears_last_error=False)
def WSAResetEvent(ex: Exports, g: Guest, hEvent: int) -> int:
    return ex.ws2_32.WSAResetEvent(hEvent)


@export("WSACloseEvent", "p", "i", FALSE, clears_last_error=False)
def WSACloseEvent(ex: Exports, g: Guest, hEvent: int) -> int:
    return ex.ws2_32.WSACloseEvent(hEvent)


@export("WSAWaitForMultipleEvents", "upuuu", "i", WSA_WAIT_FAILED, clears_last_error=False)
def WSAWaitForMultipleEvents(ex: Exports, g: Guest, cEvents: int, lphEvents: int, fWaitAll: int,
                             dwTimeout: int, fAlertable: int) -> int:
    handles: Sequence[int] = ()
    if 1 <= cEvents <= WSA_MAXIMUM_WAIT_EVENTS:  # else Ws2_32 refuses the count unread
        code = _memory.layout(g).socket_code  # a WSAEVENT is as wide as a SOCKET
        data = _memory.read(g, lphEvents, cEvents * g.ptr_size)
        handles = struct.unpack(f"<{cEvents}{code}", data)
    return ex.ws2_32.WSAWaitForMultipleEvents(cEvents, handles, fWaitAll, dwTimeout, fAlertable)


@export("WSAEventSelect", "ppi", "i", SOCKET_ERROR)
def WSAEventSelect(ex: Exports, g: Guest, s: int, hEventObject: int, lNetworkEvents: int) -> int:
    return ex.ws2_32.WSAEventSelect(s, hEventObject, lNetworkEvents)


@export("WSAEnumNetworkEvents", "ppp", "i", SOCKET_ERROR)
def WSAEnumNetworkEvents(ex: Exports, g: Guest, s: int, hEventObject: int,
                         lpNetworkEvents: int) -> int:
    ex.ws2_32.check_socket(s)
    events = WSANETWORKEVENTS()
    if lpNetworkEvents:
        # Checked before the call, which clears the record: it must not be lost.
        _memory.require_writable(g, lpNetworkEvents, ctypes.sizeof(events))
    # NULL goes on as None: Ws2_32's WSAEFAULT.
    result = ex.ws2_32.WSAEnumNetworkEvents(s, hEventObject, events if lpNetworkEvents else None)
    if result == 0:
        # What Windows writes: lNetworkEvents and the iErrorCode entries of the events it
        # reports; a program's other entries keep what it put there.
        happened = events.lNetworkEvents
        _memory.write_int(g, lpNetworkEvents, happened)
        codes = lpNetworkEvents + WSANETWORKEVENTS.iErrorCode.offset
        for bit in range(FD_MAX_EVENTS):
            if happened >> bit & 1:
                _memory.write_int(g, codes + 4 * bit, events.iErrorCode[bit])
    return result


@export("WSAAsyncSelect", "ppui", "i", SOCKET_ERROR)
def WSAAsyncSelect(ex: Exports, g: Guest, s: int, hWnd: int, wMsg: int, lEvent: int) -> int:
    # A guest window is a window of the table; any other HWND is WSAEINVAL (module docstring).
    return ex.ws2_32.WSAAsyncSelect(s, hWnd, wMsg, lEvent)
