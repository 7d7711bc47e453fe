"""UpcallTable: the WSPUPCALLTABLE upcalls with their Windows names and signatures.

The four hot upcalls (WPUCreateSocketHandle, WPUQuerySocketHandleContext,
WPUCloseSocketHandle, WPUFDIsSet) are the core's own methods, bound per instance, so a call
through ``UpcallTable`` costs no Python frame over the core.  The cold, Windows-shaped parts
live here once for both cores: the event upcalls' BOOL/lpErrno wrapping and the seven
upcalls that are not implemented yet.
"""

from __future__ import annotations

from typing import Any

from . import _handles_py
from ._shared import WinsockError, require_out_parameter
from .constants import (
    FALSE,
    INVALID_SOCKET,
    SOCKET_ERROR,
    TRUE,
    WSA_INVALID_EVENT,
    WSAEFAULT,
    WSAEINVAL,
    WSANOTINITIALISED,
)

try:
    from ._handles import HandleTable as _CythonHandleTable
except ImportError:  # the twin alone; ws2core/__init__ says so through IMPLEMENTATION
    _TABLE_TYPES: tuple[type, ...] = (_handles_py.HandleTable,)
else:
    _TABLE_TYPES = (_CythonHandleTable, _handles_py.HandleTable)


def _default_table_type() -> type:
    from . import HandleTable  # the core ws2core chose

    return HandleTable


_UNSET: Any = object()


class UpcallTable:
    """A Ws2_32 instance as a provider sees it: the fifteen WSPUPCALLTABLE upcalls.

    ``UpcallTable(table=None, *, max_handles=...)`` wraps ``table`` (a ``HandleTable``) or makes
    its own; ``.table`` is the ``HandleTable`` underneath, so Python code and providers share
    one state.  Every upcall takes positional arguments in ws2spi.h's order and returns what
    the Windows function returns; failures are reported through ``lpErrno`` (any object with
    a writable ``.value``: ``ctypes.c_int``, ``ws2core.Ref``), which is written only when the
    upcall returns its failure value.  A wrong argument *type* is a TypeError and changes
    nothing.  Each upcall is also reachable under its WSPUPCALLTABLE field name
    (``up.lpWPUCloseSocketHandle is up.WPUCloseSocketHandle``).
    """

    __slots__ = (
        "table",
        "WPUCreateSocketHandle",
        "lpWPUCreateSocketHandle",
        "WPUQuerySocketHandleContext",
        "lpWPUQuerySocketHandleContext",
        "WPUCloseSocketHandle",
        "lpWPUCloseSocketHandle",
        "WPUFDIsSet",
        "lpWPUFDIsSet",
        "__weakref__",
    )

    table: Any

    def __init__(self, table: Any = None, *, max_handles: Any = _UNSET) -> None:
        if table is None:
            table_type = _default_table_type()
            table = table_type() if max_handles is _UNSET else table_type(max_handles=max_handles)
        elif max_handles is not _UNSET:
            raise TypeError("give UpcallTable a table or max_handles, not both")
        elif not isinstance(table, _TABLE_TYPES):
            raise TypeError(f"table must be a ws2core.HandleTable, not {type(table).__name__}")
        self.table = table
        # The core supplies the hot upcalls' bodies; binding them here keeps the facade free.
        self.WPUCreateSocketHandle = self.lpWPUCreateSocketHandle = table.WPUCreateSocketHandle
        self.WPUQuerySocketHandleContext = self.lpWPUQuerySocketHandleContext = (
            table.WPUQuerySocketHandleContext
        )
        self.WPUCloseSocketHandle = self.lpWPUCloseSocketHandle = table.WPUCloseSocketHandle
        self.WPUFDIsSet = self.lpWPUFDIsSet = table.WPUFDIsSet

    def __repr__(self) -> str:
        return f"<UpcallTable over {self.table!r}>"

    # --- events: the Pythonic methods raise WinsockError; the upcalls report through lpErrno

    def WPUCreateEvent(self, lpErrno: Any, /) -> int:
        """Create a manual-reset, non-signalled event.

        Returns the new WSAEVENT, or WSA_INVALID_EVENT (0) with WSA_NOT_ENOUGH_MEMORY in
        ``lpErrno`` when the table holds ``max_handles`` live handles.
        """
        require_out_parameter(lpErrno, "lpErrno")
        try:
            return self.table.create_event()  # type: ignore[no-any-return]
        except WinsockError as error:
            lpErrno.value = error.winerror
            return WSA_INVALID_EVENT

    def WPUSetEvent(self, hEvent: Any, lpErrno: Any, /) -> int:
        """Signal an event; every waiter is released.  TRUE, or FALSE with WSA_INVALID_HANDLE."""
        return self._event_call(self.table.set_event, hEvent, lpErrno)

    def WPUResetEvent(self, hEvent: Any, lpErrno: Any, /) -> int:
        """Make an event non-signalled.  TRUE, or FALSE with WSA_INVALID_HANDLE."""
        return self._event_call(self.table.reset_event, hEvent, lpErrno)

    def WPUCloseEvent(self, hEvent: Any, lpErrno: Any, /) -> int:
        """Close an event handle.  TRUE, or FALSE with WSA_INVALID_HANDLE (a socket handle too)."""
        return self._event_call(self.table.close_event, hEvent, lpErrno)

    @staticmethod
    def _event_call(operation: Any, hEvent: Any, lpErrno: Any) -> int:
        require_out_parameter(lpErrno, "lpErrno")
        try:
            operation(hEvent)
        except WinsockError as error:
            lpErrno.value = error.winerror
            return FALSE
        return TRUE

    # --- the seven upcalls ws2core does not implement yet: each fails the same way on
    # every call, with a code from its own documentation page.

    def WPUGetProviderPath(
        self, lpProviderId: Any, lpszProviderDllPath: Any, lpProviderDllPathLen: Any, lpErrno: Any, /
    ) -> int:
        """Not implemented: there is no provider catalog, so no provider id is known.

        Always SOCKET_ERROR with WSAEINVAL.
        """
        return _fail(lpErrno, SOCKET_ERROR, WSAEINVAL)

    def WPUModifyIFSHandle(self, dwCatalogEntryId: Any, ProposedHandle: Any, lpErrno: Any, /) -> int:
        """Not implemented: ws2core makes no IFS handles.  Always INVALID_SOCKET with WSAEINVAL."""
        return _fail(lpErrno, INVALID_SOCKET, WSAEINVAL)

    def WPUPostMessage(self, hWnd: Any, Msg: Any, wParam: Any, lParam: Any, /) -> int:
        """Not implemented: there are no windows to post to.  Always FALSE (it has no lpErrno)."""
        return FALSE

    def WPUQueryBlockingCallback(
        self, dwCatalogEntryId: Any, lplpfnCallback: Any, lpdwContext: Any, lpErrno: Any, /
    ) -> int:
        """Not implemented: there is no provider catalog.  Always SOCKET_ERROR with WSAEINVAL."""
        return _fail(lpErrno, SOCKET_ERROR, WSAEINVAL)

    def WPUQueueApc(self, lpThreadId: Any, lpfnUserApc: Any, dwContext: Any, lpErrno: Any, /) -> int:
        """Not implemented: ws2core queues no APCs.  Always SOCKET_ERROR with WSAEFAULT."""
        return _fail(lpErrno, SOCKET_ERROR, WSAEFAULT)

    def WPUOpenCurrentThread(self, lpThreadId: Any, lpErrno: Any, /) -> int:
        """Not implemented.  Always SOCKET_ERROR with WSANOTINITIALISED."""
        return _fail(lpErrno, SOCKET_ERROR, WSANOTINITIALISED)

    def WPUCloseThread(self, lpThreadId: Any, lpErrno: Any, /) -> int:
        """Not implemented.  Always SOCKET_ERROR with WSANOTINITIALISED."""
        return _fail(lpErrno, SOCKET_ERROR, WSANOTINITIALISED)

    # WSPUPCALLTABLE field names for the upcalls defined above (the hot four are bound in
    # __init__).
    lpWPUCreateEvent = WPUCreateEvent
    lpWPUSetEvent = WPUSetEvent
    lpWPUResetEvent = WPUResetEvent
    lpWPUCloseEvent = WPUCloseEvent
    lpWPUGetProviderPath = WPUGetProviderPath
    lpWPUModifyIFSHandle = WPUModifyIFSHandle
    lpWPUPostMessage = WPUPostMessage
    lpWPUQueryBlockingCallback = WPUQueryBlockingCallback
    lpWPUQueueApc = WPUQueueApc
    lpWPUOpenCurrentThread = WPUOpenCurrentThread
    lpWPUCloseThread = WPUCloseThread


# The fifteen WSPUPCALLTABLE fields in ws2spi.h's declaration order.
UPCALL_FIELDS = (
    "lpWPUCloseEvent",
    "lpWPUCloseSocketHandle",
    "lpWPUCreateEvent",
    "lpWPUCreateSocketHandle",
    "lpWPUFDIsSet",
    "lpWPUGetProviderPath",
    "lpWPUModifyIFSHandle",
    "lpWPUPostMessage",
    "lpWPUQueryBlockingCallback",
    "lpWPUQuerySocketHandleContext",
    "lpWPUQueueApc",
    "lpWPUResetEvent",
    "lpWPUSetEvent",
    "lpWPUOpenCurrentThread",
    "lpWPUCloseThread",
)


def _fail(lpErrno: Any, result: int, code: int) -> int:
    require_out_parameter(lpErrno, "lpErrno")
    lpErrno.value = code
    return result
