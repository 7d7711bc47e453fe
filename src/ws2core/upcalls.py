"""UpcallTable: the WSPUPCALLTABLE upcalls with their Windows names and signatures.

The four hot upcalls (WPUCreateSocketHandle, WPUQuerySocketHandleContext,
WPUCloseSocketHandle, WPUFDIsSet) are the core's own methods, bound per instance, so a call
through ``UpcallTable`` costs no Python frame over the core.  The cold, Windows-shaped parts
live here once for both cores: the event and thread upcalls' result/lpErrno wrapping,
WPUGetProviderPath over the table's catalog (``ws2core.catalog``), WPUModifyIFSHandle, the
windows WPUPostMessage posts to and Winsock 1.1's blocking callback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, SupportsIndex, cast

import ctypes
import queue
import sys
import threading
from operator import index as _index

from . import _implementation, _waits

if TYPE_CHECKING:
    from ._handles import HandleTable
    from .catalog import Catalog
from ._shared import (
    WinsockError,
    as_index,
    has_index,
    not_an_int,
    require_out_parameter,
)
from .constants import (
    FALSE,
    INVALID_SOCKET,
    INVALID_SOCKET_X86,
    SOCKET_ERROR,
    TRUE,
    WSA_INFINITE,
    WSA_INVALID_EVENT,
    WSA_INVALID_HANDLE,
    WSA_INVALID_PARAMETER,
    WSA_MAXIMUM_WAIT_EVENTS,
    WSA_WAIT_EVENT_0,
    WSA_WAIT_FAILED,
    WSA_WAIT_IO_COMPLETION,
    WSA_WAIT_TIMEOUT,
    WSAEFAULT,
    WSAEINVAL,
    WSAENOBUFS,
)
from .structs import overlapped_structure, record_completion


_DEFAULT_CATALOG_LOCK = threading.Lock()


class _Unset:
    """The default of UpcallTable's table options: left out, each is the HandleTable's own."""

    def __repr__(self) -> str:  # as help(UpcallTable.__init__) shows the defaults
        return "<the HandleTable default>"


_UNSET: Any = _Unset()

# The hot upcalls each core implements in its HotUpcalls class.
_HOT_UPCALLS = (
    "WPUCreateSocketHandle",
    "WPUQuerySocketHandleContext",
    "WPUCloseSocketHandle",
    "WPUFDIsSet",
)


class UpcallTable:
    """A Ws2_32 instance as a provider sees it: the fifteen WSPUPCALLTABLE upcalls.

    ``UpcallTable(table=None, *, max_handles=None, handle_range=None, abi="x64",
    catalog=None)`` wraps ``table`` (a ``HandleTable``) or makes its own with those options;
    ``.table`` is the ``HandleTable`` underneath, so Python code and providers share one
    state.  ``.catalog`` is the process's Winsock catalog (``ws2core.catalog.Catalog``;
    default: a new one holding Windows' base provider entries), which WPUGetProviderPath reads.  Every upcall takes positional arguments in ws2spi.h's order and returns what
    the Windows function returns; failures are reported through ``lpErrno`` (any object with
    a writable ``.value``: ``ctypes.c_int``, ``ws2core.Ref``), which is written only when the
    upcall returns its failure value.  A wrong argument *type* is a TypeError and changes
    nothing.  Each upcall is also reachable under its WSPUPCALLTABLE field name
    (``up.lpWPUCloseSocketHandle == up.WPUCloseSocketHandle``).

    The instance is of a subclass that also derives from the table's core's ``HotUpcalls``:
    the hot upcalls (create, query, close, FD_ISSET) are the core's own methods, so a call
    costs no Python frame over the core.  This class holds the cold, Windows-shaped parts
    once for both cores.
    """

    __slots__ = ()

    table: HandleTable
    _catalog: Catalog | None   # the catalog given, or the default one once asked for
    _last_error: threading.local  # per thread, as WSAGetLastError is on Windows
    _windows: _Windows
    _blocking: _Blocking

    def __new__(
        cls,
        table: Any = None,
        *,
        max_handles: int | None = _UNSET,
        handle_range: tuple[int, int] | None = _UNSET,
        abi: str = _UNSET,
        catalog: Catalog | None = None,
    ) -> UpcallTable:
        table_options: dict[str, Any] = {
            name: value
            for name, value in (
                ("max_handles", max_handles), ("handle_range", handle_range), ("abi", abi))
            if value is not _UNSET
        }
        if table is None:
            from . import HandleTable  # the core ws2core chose

            table = HandleTable(**table_options)
        elif table_options:
            raise TypeError(
                f"give UpcallTable a table or the options of a new one "
                f"({', '.join(sorted(table_options))}), not both"
            )
        if catalog is not None:
            from .catalog import Catalog

            if not isinstance(catalog, Catalog):
                raise TypeError(
                    f"catalog must be a ws2core.catalog.Catalog, not {type(catalog).__name__}")
        core = _implementation.core_of(table)
        if core is not None and isinstance(table, core.HandleTable):
            concrete = _CONCRETE.get(core) or _CONCRETE.setdefault(core, _concrete_class(core))
            self = cast(UpcallTable, core.HotUpcalls.__new__(concrete, table))
            # setattr: the slot is the concrete class's (this class keeps __slots__ empty so
            # it can sit beside a core's HotUpcalls), which mypy cannot see from here.
            setattr(self, "_last_error", threading.local())
            setattr(self, "_catalog", catalog)
            setattr(self, "_windows", _Windows(table))
            setattr(self, "_blocking", _Blocking())
            return self
        raise TypeError(f"table must be a ws2core.HandleTable, not {type(table).__name__}")

    def __init__(
        self,
        table: Any = None,
        *,
        max_handles: int | None = _UNSET,
        handle_range: tuple[int, int] | None = _UNSET,
        abi: str = _UNSET,
        catalog: Catalog | None = None,
    ) -> None:
        """A Ws2_32 instance over ``table``, a ``HandleTable`` that Python code may share, or
        over a new one made with ``max_handles``, ``handle_range`` and ``abi`` (see
        ``help(ws2core.HandleTable)``; left out, the table's defaults), with ``catalog`` (a
        ``ws2core.catalog.Catalog``, which several tables may share; default: a new default
        catalog).  Giving both a table and options is a TypeError."""
        # __new__ did the work: the hot base binds the table when it is allocated.

    def __repr__(self) -> str:
        return f"<UpcallTable over {self.table!r}>"

    @property
    def catalog(self) -> Catalog:
        """The process's Winsock catalog (``ws2core.catalog.Catalog``): the one given, or a
        default catalog made when first asked for (most tables never are: the catalog and
        the uuid module it needs stay unloaded)."""
        catalog = self._catalog
        if catalog is None:
            with _DEFAULT_CATALOG_LOCK:   # one default catalog per table, whoever asks first
                catalog = self._catalog
                if catalog is None:
                    from .catalog import Catalog

                    catalog = Catalog()
                    setattr(self, "_catalog", catalog)
        return catalog

    # The hot upcalls, as the concrete classes inherit them from the core (declared here for
    # type checkers and readers; see HotUpcalls in ws2core/_handles_hot.pxi for the bodies).
    if TYPE_CHECKING:

        def WPUCreateSocketHandle(self, dwCatalogEntryId: SupportsIndex, dwContext: Any, lpErrno: Any, /) -> int: ...
        def WPUQuerySocketHandleContext(self, s: SupportsIndex, lpContext: Any, lpErrno: Any, /) -> int: ...
        def WPUCloseSocketHandle(self, s: SupportsIndex, lpErrno: Any, /) -> int: ...
        def WPUFDIsSet(self, s: SupportsIndex, fdset: Any, /) -> int: ...
        def native_table(self) -> int: ...
        def native_capsule(self) -> object: ...
        def native_wait_table(self) -> int: ...

        lpWPUCreateSocketHandle = WPUCreateSocketHandle
        lpWPUQuerySocketHandleContext = WPUQuerySocketHandleContext
        lpWPUCloseSocketHandle = WPUCloseSocketHandle
        lpWPUFDIsSet = WPUFDIsSet

    # --- events: the Pythonic methods raise WinsockError; the upcalls report through lpErrno

    def WPUCreateEvent(self, lpErrno: Any, /) -> int:
        """Create a manual-reset, non-signalled event.

        Returns the new WSAEVENT, or WSA_INVALID_EVENT (0) with WSA_NOT_ENOUGH_MEMORY in
        ``lpErrno`` when the table holds ``max_handles`` live handles.
        """
        require_out_parameter(lpErrno, "lpErrno")
        try:
            return self.table.create_event()
        except WinsockError as error:
            lpErrno.value = error.winerror
            return WSA_INVALID_EVENT

    def WPUSetEvent(self, hEvent: Any, lpErrno: Any, /) -> int:
        """Signal an event; every waiter is released.  TRUE, or FALSE with WSA_INVALID_HANDLE."""
        return self._event_call(self.table.set_event, hEvent, lpErrno, "WPUSetEvent")

    def WPUResetEvent(self, hEvent: Any, lpErrno: Any, /) -> int:
        """Make an event non-signalled.  TRUE, or FALSE with WSA_INVALID_HANDLE."""
        return self._event_call(self.table.reset_event, hEvent, lpErrno, "WPUResetEvent")

    def WPUCloseEvent(self, hEvent: Any, lpErrno: Any, /) -> int:
        """Close an event handle.  TRUE, or FALSE with WSA_INVALID_HANDLE (a socket handle too)."""
        return self._event_call(self.table.close_event, hEvent, lpErrno, "WPUCloseEvent")

    @staticmethod
    def _event_call(operation: Any, hEvent: Any, lpErrno: Any, upcall: str) -> int:
        require_out_parameter(lpErrno, "lpErrno")
        try:
            operation(hEvent)
        except WinsockError as error:
            lpErrno.value = error.winerror
            return FALSE
        except TypeError:
            # The table's message names its own method; the provider called the upcall.
            if not has_index(hEvent):
                raise not_an_int(hEvent, upcall, "hEvent", "a WSAEVENT") from None
            raise
        return TRUE

    # --- waiting, and the calling thread's last error

    def WSAWaitForMultipleEvents(
        self, cEvents: Any, lphEvents: Any, fWaitAll: Any, dwTimeout: Any, fAlertable: Any, /
    ) -> int:
        """Wait for one or all of ``cEvents`` events of ``lphEvents`` (a list, a ctypes array).

        Returns WSA_WAIT_EVENT_0 + the lowest index of a signalled event (wait-all:
        WSA_WAIT_EVENT_0 once all are signalled at the same time), WSA_WAIT_TIMEOUT after
        ``dwTimeout`` milliseconds (0: poll; WSA_INFINITE: no limit), or WSA_WAIT_FAILED with
        the reason in WSAGetLastError(), checked in the kernel's order: cEvents outside
        1..WSA_MAXIMUM_WAIT_EVENTS (WSA_INVALID_PARAMETER), then each handle in order (not a
        live event, a socket included: WSA_INVALID_HANDLE), then, for wait-all only, an event
        named twice (WSA_INVALID_PARAMETER).  Event handles ignore their two low tag bits;
        None in the array means 0.  ``fAlertable``: the APCs queued to the calling thread
        (WPUQueueApc) run in the wait, which then returns WSA_WAIT_IO_COMPLETION; an event
        already signalled wins over them (see ``HandleTable.wait``; an APC that raises
        propagates).  Success, timeout and WSA_WAIT_IO_COMPLETION leave the last error as it was.  An array shorter than cEvents, or a dwTimeout outside DWORD, is a
        ValueError (C would read past the array); the thread blocks without the GIL.
        """
        # A class test first: a call of as_index would cost the poll more than the check.
        count = cEvents if cEvents.__class__ is int else as_index(
            cEvents, "WSAWaitForMultipleEvents", "cEvents", "a DWORD")
        timeout_ms = dwTimeout if dwTimeout.__class__ is int else as_index(
            dwTimeout, "WSAWaitForMultipleEvents", "dwTimeout", "a DWORD")
        if not 0 <= timeout_ms <= WSA_INFINITE:
            raise ValueError(f"dwTimeout must be a DWORD (0..{WSA_INFINITE}), not {timeout_ms}")
        given = _waits.event_list(lphEvents)
        if not 1 <= count <= WSA_MAXIMUM_WAIT_EVENTS:
            # The kernel refuses the count before it reads the array.
            self._last_error.code = WSA_INVALID_PARAMETER
            return WSA_WAIT_FAILED
        if len(given) < count:
            raise ValueError(f"lphEvents holds {len(given)} handles, cEvents says {count}")
        try:
            index = self.table.wait(
                given[:count],  # C reads cEvents entries, no more
                bool(fWaitAll),
                None if timeout_ms == WSA_INFINITE else timeout_ms / 1000,
                bool(fAlertable),
            )
        except WinsockError as error:
            self._last_error.code = error.winerror
            return WSA_WAIT_FAILED
        except TypeError:
            # The table's message names its own method; the provider called the upcall.  The
            # table converts the entries in order, so the one that failed is the first that is
            # no int at all, unless an __index__ before it failed (its own error stands).
            for i, handle in enumerate(given[:count]):
                if handle is None or isinstance(handle, int):
                    continue
                if not has_index(handle):
                    raise not_an_int(
                        handle, "WSAWaitForMultipleEvents", "lphEvents", "a WSAEVENT", i) from None
                try:
                    _index(handle)
                except TypeError:
                    break
            raise
        if index is None:
            return WSA_WAIT_TIMEOUT
        return index if index == WSA_WAIT_IO_COMPLETION else WSA_WAIT_EVENT_0 + index

    def WSAGetLastError(self) -> int:
        """The calling thread's last error in this Ws2_32 instance (0 if none was set)."""
        code: int = getattr(self._last_error, "code", 0)
        return code

    def WSASetLastError(self, iError: Any, /) -> None:
        """Set the calling thread's last error in this Ws2_32 instance."""
        self._last_error.code = iError if iError.__class__ is int else as_index(
            iError, "WSASetLastError", "iError")

    # --- WPUCompleteOverlappedRequest: an export of Ws2_32, not a WSPUPCALLTABLE field

    def WPUCompleteOverlappedRequest(self, s: Any, lpOverlapped: Any, dwError: Any,
                                     cbTransferred: Any, lpErrno: Any, /) -> int:
        """Report the completion of an overlapped operation on socket ``s`` that was not
        asked for with a completion routine (those are the provider's, through WPUQueueApc).

        Records the outcome in ``lpOverlapped`` (a WSAOVERLAPPED or a ctypes pointer to one:
        ``InternalHigh`` = ``cbTransferred``, ``OffsetHigh`` = ``dwError``, then ``Internal``
        = 0; ``Offset``, the flags, is the provider's), signals its ``hEvent`` if it has one,
        and, when ``s`` is associated with a completion port (``HandleTable.associate_port``,
        kernel32's CreateIoCompletionPort), posts the packet there with the socket's key,
        unless the low bit of ``hEvent`` is set (the GetQueuedCompletionStatus page: such an
        event keeps the completion off the port).  Returns 0, or SOCKET_ERROR with WSAEINVAL
        in ``lpErrno`` when ``s`` is not a live socket of this table (the page's one error),
        or WSAEFAULT for a None ``lpOverlapped``.  Nothing is written on a failure.
        """
        overlapped = overlapped_structure(lpOverlapped)
        error = _waits.checked_packet_number(
            dwError, "WPUCompleteOverlappedRequest", "dwError", "a DWORD", 0xFFFFFFFF)
        count = _waits.checked_packet_number(
            cbTransferred, "WPUCompleteOverlappedRequest", "cbTransferred", "a DWORD", 0xFFFFFFFF)
        require_out_parameter(lpErrno, "lpErrno")
        if s.__class__ is not int:
            s = as_index(s, "WPUCompleteOverlappedRequest", "s", "a SOCKET")
        if overlapped is None:
            lpErrno.value = WSAEFAULT
            return SOCKET_ERROR
        if self.table.kind(s) != "socket":
            lpErrno.value = WSAEINVAL
            return SOCKET_ERROR
        record_completion(overlapped, error, count)
        event = overlapped.hEvent
        event = 0 if event is None else _index(event)
        if event:
            try:
                self.table.set_event(event)
            except WinsockError:
                pass  # a closed event: nothing to signal, as WPUSetEvent would say
        if not event & 1:
            try:
                self.table.post_socket_completion(s, overlapped, error, count)
            except WinsockError:  # closed meanwhile (by another thread): no port to post to
                pass
        return 0

    # --- threads and APCs: the Pythonic methods raise WinsockError; the upcalls report through
    # lpErrno.  A WSATHREADID is ws2core.structs.WSATHREADID (or a ctypes pointer to one, or
    # any object with ThreadHandle and Reserved attributes); None stands for a NULL pointer.

    def WPUOpenCurrentThread(self, lpThreadId: Any, lpErrno: Any, /) -> int:
        """Open a thread handle for the calling thread, for WPUQueueApc.

        Returns 0 with the handle in ``lpThreadId.ThreadHandle`` (and 0 in ``Reserved``), or
        SOCKET_ERROR with WSAENOBUFS in ``lpErrno`` when the table is full (a thread handle
        is a handle of the table, ``kind() == "thread"``), or WSAEFAULT for a None
        ``lpThreadId``.  Each handle is closed by WPUCloseThread (or the table's close()).
        """
        target = _thread_id(lpThreadId, "WPUOpenCurrentThread", writable=True)
        require_out_parameter(lpErrno, "lpErrno")
        if target is None:
            lpErrno.value = WSAEFAULT
            return SOCKET_ERROR
        try:
            handle = self.table.open_thread()
        except WinsockError as error:
            lpErrno.value = error.winerror
            return SOCKET_ERROR
        try:
            target.ThreadHandle = handle
            target.Reserved = 0
        except BaseException:  # an object that refuses the write: no handle is left behind
            self.table.close_thread(handle)
            raise
        return 0

    def WPUCloseThread(self, lpThreadId: Any, lpErrno: Any, /) -> int:
        """Close a thread handle WPUOpenCurrentThread opened.

        Returns 0, or SOCKET_ERROR with WSAEFAULT in ``lpErrno`` when ``lpThreadId`` (None
        included) does not hold a live thread handle of this table.  APCs already queued to
        the thread stay queued: they belong to the thread, not to the handle.
        """
        return self._thread_call(self.table.close_thread, lpThreadId, (), lpErrno, "WPUCloseThread")

    def WPUQueueApc(self, lpThreadId: Any, lpfnUserApc: Any, dwContext: Any, lpErrno: Any, /) -> int:
        """Queue ``lpfnUserApc(dwContext)`` to the thread ``lpThreadId`` names.

        ``lpfnUserApc``: any callable (None stands for a NULL pointer); ``dwContext``: any
        object, passed as it is.  The APC runs on that thread, after those queued before it,
        in its next alertable wait (WSAWaitForMultipleEvents with fAlertable, or the table's
        ``wait``/``sleep`` with ``alertable=True``); a thread waiting alertably now is woken.
        Returns 0, or SOCKET_ERROR with WSAEFAULT in ``lpErrno`` when ``lpThreadId`` does not
        hold a live thread handle of this table or either pointer is None.
        """
        if lpfnUserApc is not None and not callable(lpfnUserApc):
            raise TypeError(
                f"WPUQueueApc() argument 'lpfnUserApc' must be callable, not "
                f"{type(lpfnUserApc).__name__}")
        return self._thread_call(
            self.table.queue_apc, lpThreadId, (lpfnUserApc, dwContext), lpErrno, "WPUQueueApc")

    def _thread_call(self, operation: Any, lpThreadId: Any, arguments: tuple[Any, ...],
                     lpErrno: Any, upcall: str) -> int:
        """``operation(handle, *arguments)`` on the thread handle ``lpThreadId`` holds; a None
        pointer among them (the thread id, an APC) is WSAEFAULT."""
        target = _thread_id(lpThreadId, upcall, writable=False)
        require_out_parameter(lpErrno, "lpErrno")
        handle = None if target is None else _thread_handle(target, upcall)
        try:
            if handle is None or None in arguments[:1]:
                raise WinsockError(WSAEFAULT)
            operation(handle, *arguments)
        except WinsockError as error:
            lpErrno.value = error.winerror
            return SOCKET_ERROR
        return 0

    # --- the catalog

    def WPUGetProviderPath(
        self, lpProviderId: Any, lpszProviderDllPath: Any, lpProviderDllPathLen: Any, lpErrno: Any, /
    ) -> int:
        """The path the catalog holds for the provider ``lpProviderId`` (a ``uuid.UUID`` or a
        ``ws2core.structs.GUID``): a DLL path for a native provider, ``"module:attribute"`` for
        a Python one.

        ``lpszProviderDllPath``: a writable buffer of ``lpProviderDllPathLen.value`` WCHARs
        (``(ctypes.c_uint16 * n)()``, a bytearray of 2n bytes), which receives the path in
        UTF-16-LE with its NUL, or an object with a writable ``.value`` (``ws2core.Ref``), which
        receives it as a str.  ``lpProviderDllPathLen`` (a Ref) holds the buffer's size in
        WCHARs and receives the path's length without its NUL.  Returns 0, or SOCKET_ERROR
        with ``lpErrno``: WSAEINVAL when the catalog holds no such provider (None included),
        WSAEFAULT when ``lpProviderDllPathLen`` is None, or smaller than the path and its NUL
        (the WCHARs needed are then written to it), or when ``lpszProviderDllPath`` is None.
        The lengths are ReactOS's (WSCGetProviderPath, enumprot.c); the codes the page's.
        TypeError for arguments of the wrong type; ValueError for a buffer smaller than
        ``lpProviderDllPathLen`` says (C would write past it).  Nothing is written on failure
        but the needed length and ``lpErrno``.
        """
        from .catalog import guid_of

        guid = guid_of(lpProviderId, "WPUGetProviderPath", "lpProviderId")
        require_out_parameter(lpErrno, "lpErrno")
        buffer = _path_buffer(lpszProviderDllPath)
        if lpProviderDllPathLen is not None:
            require_out_parameter(lpProviderDllPathLen, "lpProviderDllPathLen")
            given = lpProviderDllPathLen.value
            declared = given if given.__class__ is int else as_index(
                given, "WPUGetProviderPath", "lpProviderDllPathLen", "an INT")
            if buffer is not None and buffer.nbytes < 2 * declared:
                raise ValueError(f"lpszProviderDllPath holds {buffer.nbytes // 2} WCHARs, "
                                 f"lpProviderDllPathLen says {declared}")
        try:
            path = self.catalog.provider_path(guid) if guid is not None else None
        except WinsockError:
            path = None
        if path is None:
            lpErrno.value = WSAEINVAL
            return SOCKET_ERROR
        if lpProviderDllPathLen is None:
            lpErrno.value = WSAEFAULT
            return SOCKET_ERROR
        encoded = path.encode("utf-16-le") + b"\0\0"
        needed = len(encoded) // 2
        if declared < needed:
            lpProviderDllPathLen.value = needed
            lpErrno.value = WSAEFAULT
            return SOCKET_ERROR
        if lpszProviderDllPath is None:
            lpErrno.value = WSAEFAULT
            return SOCKET_ERROR
        if buffer is None:
            lpszProviderDllPath.value = path
        else:
            buffer[:len(encoded)] = encoded
        lpProviderDllPathLen.value = needed - 1
        return 0

    # --- IFS handles

    def WPUModifyIFSHandle(self, dwCatalogEntryId: Any, ProposedHandle: Any, lpErrno: Any, /) -> int:
        """Register ``ProposedHandle``, a handle an IFS provider (or a layered provider passing
        its base provider's handle up) made, as a socket of this table for the provider
        ``dwCatalogEntryId``, without a context (``HandleTable.adopt_socket``).

        Returns the handle, unchanged, or INVALID_SOCKET (INVALID_SOCKET_X86 on an x86 table)
        with WSAEINVAL in ``lpErrno``, the page's one code, when it is not a multiple of 4 in
        the table's ``handle_range`` that no live handle holds and that is out of quarantine,
        and also when the table is full.  ValueError for a catalog entry id outside DWORD;
        TypeError for arguments of the wrong type.
        """
        require_out_parameter(lpErrno, "lpErrno")
        try:
            return self.table.adopt_socket(dwCatalogEntryId, ProposedHandle)
        except WinsockError:
            lpErrno.value = WSAEINVAL
            return INVALID_SOCKET_X86 if self.table.abi == "x86" else INVALID_SOCKET
        except TypeError:
            if not has_index(ProposedHandle):
                raise not_an_int(ProposedHandle, "WPUModifyIFSHandle", "ProposedHandle", "a SOCKET") from None
            if not has_index(dwCatalogEntryId):
                raise not_an_int(dwCatalogEntryId, "WPUModifyIFSHandle", "dwCatalogEntryId", "a DWORD") from None
            raise

    # --- window messages

    def register_window(self, sink: Any, /) -> int:
        """A new window of this Ws2_32 instance, for WPUPostMessage: returns its HWND.

        ``sink``: a callable ``sink(hWnd, Msg, wParam, lParam)``, or a queue (an object with
        ``put``, such as ``queue.Queue``), which receives each message as the tuple
        ``(hWnd, Msg, wParam, lParam)``.  HWNDs are ≡ 2 (mod 4) and lie above the table's
        ``handle_range``, so no socket, event, thread or port handle (tag bits included) is
        ever an HWND; they are not reused.  WinsockError(WSAENOBUFS) when an x86 table has no
        32-bit value left for one.
        """
        return self._windows.register(sink)

    def unregister_window(self, hWnd: Any, /) -> None:
        """Forget the window ``hWnd``: later posts to it return FALSE; a callable sink still
        gets the messages posted before.  WinsockError(WSA_INVALID_HANDLE) for an HWND that
        is not a registered window."""
        self._windows.unregister(hWnd)

    def is_window(self, hWnd: Any, /) -> bool:
        """Whether ``hWnd`` is a window of this table (registered, not unregistered), as
        user32's IsWindow answers a provider that checks its caller's window (WSPAsyncSelect).
        Anything that is no int is not a window."""
        return self._windows.registered(hWnd)

    def WPUPostMessage(self, hWnd: Any, Msg: Any, wParam: Any, lParam: Any, /) -> int:
        """Post a message to the window ``hWnd`` (``register_window``), as PostMessage does:
        without waiting for the window to handle it.

        A queue sink gets ``(hWnd, Msg, wParam, lParam)`` at once (``put_nowait`` when it has
        one); a callable sink is called on the window's own delivery thread, in posting order,
        so a provider never runs the window's code, nor waits for it, inside its own call.
        Returns TRUE, or FALSE (there is no lpErrno) for an HWND that is no registered window
        (None, 0 included) or a full queue.  ``Msg`` is a UINT, ``wParam`` a WPARAM
        (0..2**64-1), ``lParam`` an LPARAM (-2**63..2**63-1): ValueError outside, TypeError
        for a non-int.
        """
        window = 0 if hWnd is None else _checked_int(hWnd, "WPUPostMessage", "hWnd", "an HWND", 0, _UINT64_MAX)
        message = _checked_int(Msg, "WPUPostMessage", "Msg", "a UINT", 0, 0xFFFFFFFF)
        first = _checked_int(wParam, "WPUPostMessage", "wParam", "a WPARAM", 0, _UINT64_MAX)
        second = _checked_int(lParam, "WPUPostMessage", "lParam", "an LPARAM", -(2**63), 2**63 - 1)
        return TRUE if self._windows.post(window, message, first, second) else FALSE

    # --- Winsock 1.1's pseudo-blocking: the blocking callback, its hook and cancelling

    @property
    def pseudo_blocking(self) -> bool:
        """Whether this Ws2_32 serves a Winsock 1.1 program (``Ws2_32`` sets it at a 1.x
        WSAStartup): only then does WPUQueryBlockingCallback hand out ``blocking_callback``;
        a Winsock 2 program gets NULL, as on Windows."""
        return self._blocking.enabled

    @pseudo_blocking.setter
    def pseudo_blocking(self, enabled: bool) -> None:
        self._blocking.enabled = bool(enabled)

    def blocking_callback(self, dwContext: Any, /) -> int:
        """The blocking callback (LPBLOCKINGCALLBACK) a provider calls, on the blocking
        thread, while it serves a blocking call: runs that thread's blocking hook
        (``set_blocking_hook``; none by default: ws2core has no message loop to pump), with
        the thread counted as blocking meanwhile (``is_blocking``).  Returns TRUE to keep
        waiting, or FALSE once, when ``cancel_blocking_call`` asked for it on this thread.
        ``dwContext`` is what WPUQueryBlockingCallback gave (the caller's catalog entry id)."""
        state = self._blocking.thread()
        if not state.cancelled:
            state.blocking = True
            try:
                if state.hook is not None:
                    state.hook()
            finally:
                state.blocking = False
        if state.cancelled:
            state.cancelled = False
            return FALSE
        return TRUE

    def set_blocking_hook(self, hook: Any, /) -> Any:
        """WSASetBlockingHook for the calling thread: ``hook`` (a callable of no argument) runs
        in each call of ``blocking_callback`` on it; returns the previous one (None: none)."""
        if not callable(hook):
            raise TypeError(f"a blocking hook must be callable, not {type(hook).__name__}")
        state = self._blocking.thread()
        previous, state.hook = state.hook, hook
        return previous

    def unhook_blocking_hook(self) -> None:
        """WSAUnhookBlockingHook for the calling thread: back to no hook."""
        self._blocking.thread().hook = None

    def is_blocking(self) -> bool:
        """WSAIsBlocking: whether the calling thread is inside a blocking call, that is, in
        its blocking hook, the only code of a Winsock 1.1 thread that runs meanwhile."""
        return self._blocking.thread().blocking

    def cancel_blocking_call(self) -> None:
        """WSACancelBlockingCall for the calling thread: the blocking callback returns FALSE
        once the hook returns, so the provider ends the call (WSAEINTR).
        WinsockError(WSAEINVAL) when the thread is in no blocking call."""
        state = self._blocking.thread()
        if not state.blocking:
            raise WinsockError(WSAEINVAL, "no blocking call is in progress on this thread")
        state.cancelled = True

    def WPUQueryBlockingCallback(
        self, dwCatalogEntryId: Any, lplpfnCallback: Any, lpdwContext: Any, lpErrno: Any, /
    ) -> int:
        """The blocking callback a provider calls while it serves a blocking call, and its
        context: 0 with ``blocking_callback`` in ``lplpfnCallback`` and ``dwCatalogEntryId``
        in ``lpdwContext`` when this Ws2_32 serves a Winsock 1.1 program
        (``pseudo_blocking``), else with None (NULL: block with the native synchronisation
        objects, the page says) and 0.  ``lpErrno`` receives 0 on success too (ReactOS
        fills it).  SOCKET_ERROR with ``lpErrno``: WSAEFAULT for a None ``lplpfnCallback``
        or ``lpdwContext``, WSAEINVAL when there is a callback and ``dwCatalogEntryId`` names
        no entry of the catalog (ReactOS looks it up only then).  ValueError for a catalog
        entry id outside DWORD; TypeError for an out-parameter without ``.value``, or a
        ctypes integer given the callable (a NULL callback is 0 there).
        """
        catalog_entry_id = _checked_int(
            dwCatalogEntryId, "WPUQueryBlockingCallback", "dwCatalogEntryId", "a DWORD", 0, 0xFFFFFFFF)
        require_out_parameter(lpErrno, "lpErrno")
        for target, name in ((lplpfnCallback, "lplpfnCallback"), (lpdwContext, "lpdwContext")):
            if target is not None:
                require_out_parameter(target, name)
        if lplpfnCallback is None or lpdwContext is None:
            lpErrno.value = WSAEFAULT
            return SOCKET_ERROR
        callback: Any = None
        context = 0
        if self._blocking.enabled:
            if not any(info.dwCatalogEntryId == catalog_entry_id for info in self.catalog.protocols()):
                lpErrno.value = WSAEINVAL
                return SOCKET_ERROR
            callback, context = self.blocking_callback, catalog_entry_id
        try:
            lplpfnCallback.value = callback
        except TypeError:
            if callback is not None:  # a ctypes integer cannot hold a Python callable
                raise
            lplpfnCallback.value = 0  # NULL, in a ctypes integer
        lpdwContext.value = context
        lpErrno.value = 0
        return 0

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


_UINT64_MAX = 2**64 - 1


def _checked_int(value: Any, function: str, argument: str, kind: str, low: int, high: int) -> int:
    """``value`` as an int in low..high: TypeError for a non-int, ValueError outside."""
    number = value if value.__class__ is int else as_index(value, function, argument, kind)
    if not low <= number <= high:
        raise ValueError(f"{argument} must be {kind} ({low}..{high}), not {number}")
    return number


class _Windows:
    """The windows of one UpcallTable: HWND -> its sink (a queue's ``put``, or a callable's
    delivery queue, drained by the window's own thread)."""

    __slots__ = ("_lock", "_sinks", "_next", "_limit")

    def __init__(self, table: Any) -> None:
        self._lock = threading.Lock()
        self._sinks: dict[int, Any] = {}
        # Above every value the table's handles (with their tag bits) can take; ≡ 2 mod 4.
        self._next = table.handle_range[1] + 6
        self._limit = 2**32 if table.abi == "x86" else 2**64

    def register(self, sink: Any) -> int:
        put = getattr(sink, "put_nowait", None) or getattr(sink, "put", None)
        if put is None and not callable(sink):
            raise TypeError(f"a window's sink must be callable or have put(), not {type(sink).__name__}")
        with self._lock:
            if self._next >= self._limit:
                raise WinsockError(WSAENOBUFS, "no HWND value left for this table's ABI")
            hwnd: int = self._next
            self._next += 4
            if put is None:
                deliveries: queue.SimpleQueue[Any] = queue.SimpleQueue()
                threading.Thread(target=_deliver, args=(sink, deliveries), daemon=True,
                                 name=f"ws2core window {hwnd:#x}").start()
                put = deliveries.put
            self._sinks[hwnd] = put
        return hwnd

    def unregister(self, hwnd: Any) -> None:
        hwnd = hwnd if hwnd.__class__ is int else as_index(hwnd, "UpcallTable.unregister_window", "hWnd", "an HWND")
        with self._lock:
            put = self._sinks.pop(hwnd, None)
        if put is None:
            raise WinsockError(WSA_INVALID_HANDLE, "not a window of this table")
        if getattr(put, "__self__", None).__class__ is queue.SimpleQueue:
            put(None)  # the delivery thread ends after what was posted before

    def registered(self, hwnd: Any) -> bool:
        if hwnd.__class__ is not int:
            if isinstance(hwnd, bool) or not hasattr(type(hwnd), "__index__"):
                return False
            hwnd = _index(hwnd)
        return hwnd in self._sinks  # one dict read: no lock

    def post(self, hwnd: int, message: int, wparam: int, lparam: int) -> bool:
        put = self._sinks.get(hwnd)  # one dict read: no lock
        if put is None:
            return False
        try:
            put((hwnd, message, wparam, lparam))
        except queue.Full:
            return False
        return True


class _ThreadBlocking:
    """One thread's pseudo-blocking state: its hook, whether it is in a blocking call, and
    whether WSACancelBlockingCall asked to end it."""

    __slots__ = ("hook", "blocking", "cancelled")

    def __init__(self) -> None:
        self.hook: Any = None
        self.blocking = False
        self.cancelled = False


class _Blocking:
    """Winsock 1.1's pseudo-blocking in one UpcallTable: on or off, and per thread."""

    __slots__ = ("enabled", "_threads")

    def __init__(self) -> None:
        self.enabled = False
        self._threads = threading.local()

    def thread(self) -> _ThreadBlocking:
        state: _ThreadBlocking | None = getattr(self._threads, "state", None)
        if state is None:
            state = self._threads.state = _ThreadBlocking()
        return state


def _deliver(sink: Any, deliveries: queue.SimpleQueue[Any]) -> None:
    """A callable window's delivery thread: its messages in order, until the None of
    unregister_window; a sink that raises is reported as an unraisable error."""
    while (item := deliveries.get()) is not None:
        try:
            sink(*item)
        except BaseException as failure:
            sys.unraisablehook(_Unraisable(failure, sink))  # type: ignore[arg-type]
        del item


class _Unraisable:
    """What sys.unraisablehook reads (its own UnraisableHookArgs cannot be made)."""

    def __init__(self, failure: BaseException, sink: Any) -> None:
        self.exc_type = type(failure)
        self.exc_value = failure
        self.exc_traceback = failure.__traceback__
        self.err_msg = "Exception ignored in a window's sink called by WPUPostMessage"
        self.object = sink


def _thread_id(lpThreadId: Any, upcall: str, writable: bool) -> Any:
    """The WSATHREADID an upcall was given (a ctypes pointer's target), or None for a NULL one.

    TypeError for anything without the two fields, checked before anything changes.
    """
    if isinstance(lpThreadId, ctypes._Pointer):
        lpThreadId = lpThreadId.contents if lpThreadId else None
    if lpThreadId is None:
        return None
    if not (hasattr(lpThreadId, "ThreadHandle") and (not writable or hasattr(lpThreadId, "Reserved"))):
        raise TypeError(
            f"{upcall}() argument 'lpThreadId' must be a WSATHREADID (ws2core.structs.WSATHREADID, "
            f"a pointer to one, or None), not {type(lpThreadId).__name__}")
    return lpThreadId


def _thread_handle(thread_id: Any, upcall: str) -> int:
    """The ThreadHandle of a WSATHREADID as an int (a NULL c_void_p reads as None: 0)."""
    handle = thread_id.ThreadHandle
    if handle is None:
        return 0
    if handle.__class__ is not int:
        handle = as_index(handle, upcall, "lpThreadId.ThreadHandle", "a HANDLE")
    return handle


def _path_buffer(target: Any) -> memoryview | None:
    """WPUGetProviderPath's lpszProviderDllPath as bytes to write UTF-16-LE into, or None
    for None and for an out-parameter that receives a str."""
    if target is None:
        return None
    if isinstance(target, ctypes.Array) and target._type_ is ctypes.c_wchar and ctypes.sizeof(ctypes.c_wchar) != 2:
        raise TypeError(
            "lpszProviderDllPath is a ctypes.c_wchar array, whose characters are "
            f"{ctypes.sizeof(ctypes.c_wchar)} bytes on this host, not a WCHAR's 2: use "
            "(ctypes.c_uint16 * n)(), a bytearray, or a ws2core.Ref for a str")
    try:
        view = memoryview(target)
    except TypeError:
        if hasattr(target, "value"):
            return None
        raise TypeError(
            f"WPUGetProviderPath() argument 'lpszProviderDllPath' must be a writable buffer, an "
            f"out-parameter with a writable .value, or None, not {type(target).__name__}") from None
    if view.readonly:
        raise TypeError("lpszProviderDllPath is a read-only buffer")
    if not view.c_contiguous:
        raise ValueError("lpszProviderDllPath must be a contiguous buffer")
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


def _concrete_class(core: Any) -> type:
    """UpcallTable's class for one core: the cold upcalls here, the hot ones from the core."""
    name = f"{_implementation.name_of(core).capitalize()}UpcallTable"  # CythonUpcallTable
    namespace: dict[str, Any] = {
        "__slots__": ("_last_error", "_catalog", "_windows", "_blocking"), "__module__": __name__, "__qualname__": name,
    }
    for upcall in _HOT_UPCALLS:  # the WSPUPCALLTABLE field names of the hot four
        namespace["lp" + upcall] = getattr(core.HotUpcalls, upcall)
    return type(name, (UpcallTable, core.HotUpcalls), namespace)


# Core module -> the UpcallTable subclass serving its tables, made when a table of that core
# first gets an UpcallTable: both cores can be served in one process (the test suite drives
# each through the same facade), and a core nobody uses is never imported for it.
_CONCRETE: dict[Any, type] = {}
