"""LayeredProvider: the base class of a layered service provider (LSP) written in Python.

The documented LSP model (the WSPStartup, WSCInstallProvider and WPUCreateSocketHandle pages
of ws2spi): an LSP installs a layered entry (ChainLen 0, LAYERED_PROTOCOL) and protocol
chains (ChainLen >= 2: its layered entry's id, then the entries below, down to a base
protocol).  Ws2_32 loads the provider at the top of a chain and calls its WSPStartup with the
upcall table and the chain's WSAPROTOCOL_INFOW; the layer finds itself in the chain, loads
the next entry's provider through the catalog and starts it in turn (with the chain when
that is a layer too, with its own entry when it is the base).  This layer makes no host
sockets: a non-IFS LSP's WSPSocket asks the layer below for a socket, then makes the handle
the application sees with WPUCreateSocketHandle(its layered entry id, its context), so that
Ws2_32 sends every later call on that handle here; each call finds the lower socket again
through WPUQuerySocketHandleContext and forwards.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable, Sequence
from operator import index as _index
from typing import Any

from .. import FdSet, Ref
from .. import upcalls as _upcalls
from .._shared import WinsockError, require_out_parameter
from ..catalog import load_provider
from ..constants import (
    BASE_PROTOCOL,
    FALSE,
    FD_ALL_EVENTS,
    INVALID_SOCKET,
    LAYERED_PROTOCOL,
    SIO_GET_EXTENSION_FUNCTION_POINTER,
    SOCKET_ERROR,
    TRUE,
    WSA_IO_INCOMPLETE,
    WSA_IO_PENDING,
    WSA_OPERATION_ABORTED,
    WSAEINVAL,
    WSAENOTSOCK,
    WSANOTINITIALISED,
    WSS_OPERATION_IN_PROGRESS,
)
from ..structs import WSAOVERLAPPED, WSAPROTOCOL_INFOW, overlapped_structure
from .base import _CANCEL_CHECK
from .overlapped import _Request, overlapped_request, report_completion
from .select import WSAPOLLFD, _SelectSet

__all__ = ["LayeredProvider", "LayeredSocket"]


class _Layer:
    """This provider's place in one protocol chain: the next layer and what it is given."""

    __slots__ = ("entry_id", "chain", "lower", "lower_info")

    def __init__(self, entry_id: int, chain: WSAPROTOCOL_INFOW, lower: Any,
                 lower_info: WSAPROTOCOL_INFOW) -> None:
        self.entry_id = entry_id      # the layered entry whose id this layer's handles carry
        self.chain = chain            # the chain's entry, as WSPStartup got it
        self.lower = lower            # the next layer's provider
        self.lower_info = lower_info  # the lpProtocolInfo its WSPSocket gets


_LAYERED_EXTENSIONS = frozenset(("AcceptEx", "ConnectEx", "DisconnectEx"))
"""The extension functions that take sockets: the layer hands out its own."""


class _Pending:
    """An overlapped operation forwarded with this layer's own structure (``proxy``): the
    application's request, reported once (``done``) when the proxy's completion comes."""

    __slots__ = ("sock", "proxy", "request", "done")

    def __init__(self, sock: LayeredSocket, request: _Request) -> None:
        self.sock = sock
        self.proxy = WSAOVERLAPPED()
        self.request = request
        self.done = False


class LayeredSocket:
    """A layered handle's context: ``handle`` (what the application holds), ``lower`` (the
    socket of the layer below) and ``provider`` (that layer's provider).  An LSP may keep
    its own per-socket data as further attributes."""

    def __init__(self, layer: _Layer, lower: int) -> None:
        self.layer = layer
        self.lower = lower
        self.provider: Any = layer.lower
        self.handle = INVALID_SOCKET
        self.window = 0  # the application's window while a WSPAsyncSelect is in force
        self.on_port = False  # the lower socket is associated with the layer's port


class LayeredProvider:
    """A Python LSP that forwards every call to the layer below it; derive from it and
    override the WSP functions the layer changes, calling ``super()`` to forward.

    Installed in a ``ws2core.catalog.Catalog`` with its path (``"module:attribute"``, the
    attribute called with no arguments once per process) and a layered entry plus chains
    over the entries below; ``Ws2_32`` then loads it for the sockets a chain serves.  The
    WSP functions take ``HostSocketProvider``'s arguments and return its results; a handle
    that is no socket of this layer is WSAENOTSOCK.  ``WSPStartup(UpcallTable,
    lpProtocolInfo)`` is counted per chain, each ended by a ``WSPCleanup``; ``close()``
    closes every socket of the layer and cleans the lower layers up.

    Overlapped operations go down with a structure of the layer's own and no routine; the
    lower socket is associated with the layer's completion port, whose thread reports each
    completion to the application the way it asked (``report_completion``: its routine
    queued to its thread, or WPUCompleteOverlappedRequest on the layer's handle: its event,
    its port), as a non-IFS LSP does; so do the extension functions, which
    SIO_GET_EXTENSION_FUNCTION_POINTER hands out as this layer's (AcceptEx, ConnectEx,
    DisconnectEx: they translate the handles).  WSPDuplicateSocket duplicates the lower
    socket and wraps the duplicate.  WSPEventSelect forwards (the event is the application's;
    WSPEnumNetworkEvents asks the lower socket); WSPSelect and ``poll`` translate their
    handles; WSPAsyncSelect selects the lower socket for a window of this layer's, which
    re-posts each message to the application's window with this layer's handle.

    The handle bookkeeping is three steps a subclass may override together, to keep its
    handles another way (in C through the native table, say) while the forwarding stays
    this class's: ``create_handle`` (WPUCreateSocketHandle with the layered entry's id),
    ``find_socket`` (WPUQuerySocketHandleContext) and ``close_handle``
    (WPUCloseSocketHandle).  Whatever they do, the layer records each handle it made with
    its LayeredSocket, and ``recorded_socket`` answers from that record.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.upcalls: _upcalls.UpcallTable | None = None
        self._layers: dict[int, _Layer] = {}      # by chain entry id
        self._startups = 0
        self._sockets: dict[int, LayeredSocket] = {}
        self._lowers: dict[int, LayeredSocket] = {}  # by lower socket, for the messages
        # WSPDuplicateSocket's keys (dwProviderReserved): the layer and the lower one's key
        self._duplicates: dict[int, tuple[_Layer, int]] = {}
        self._next_duplicate = 1
        # Held while a message is translated, and by an accept on a socket with a window
        # until the new socket is known: the messages the lower layer posts for it at once
        # (its FD_WRITE) wait for that instead of being lost.
        self._messages = threading.RLock()
        self._window = 0                              # this layer's, made on first use
        self._port = 0                                # this layer's, made on first use
        self._pump: threading.Thread | None = None    # the port's thread
        self._pending: dict[int, _Pending] = {}       # by id() of the proxy structure
        self._completed = threading.Condition()       # a report made; guards ``done``

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {len(self._layers)} chains, {len(self._sockets)} sockets>"

    # --- start-up and clean-up

    def WSPStartup(self, UpcallTable: _upcalls.UpcallTable, lpProtocolInfo: Any, /) -> int:
        """Start serving the chain ``lpProtocolInfo`` (a WSAPROTOCOL_INFOW of ChainLen >= 2)
        for ``UpcallTable``: the first time, load the next layer and start it.  Start-ups
        are counted, each ended by a WSPCleanup.  0, or the error code: WSAEINVAL
        for no chain, a chain this provider is not in, or another table; the code of a
        layer below that does not load or start."""
        if not isinstance(UpcallTable, _upcalls.UpcallTable):
            raise TypeError(f"WSPStartup takes a ws2core.UpcallTable, not {type(UpcallTable).__name__}")
        if not isinstance(lpProtocolInfo, WSAPROTOCOL_INFOW):
            return WSAEINVAL
        chain_id = lpProtocolInfo.dwCatalogEntryId
        with self._lock:
            if self.upcalls is not None and self.upcalls is not UpcallTable:
                return WSAEINVAL
            if chain_id not in self._layers:
                try:
                    self._layers[chain_id] = self._load_next(UpcallTable, lpProtocolInfo)
                except WinsockError as error:
                    return error.winerror
            self.upcalls = UpcallTable
            self._startups += 1
        return 0

    def _load_next(self, upcalls: _upcalls.UpcallTable, info: WSAPROTOCOL_INFOW) -> _Layer:
        """Find this provider in the chain (the entry whose provider loads as this instance),
        then load and start the entry after it."""
        catalog = upcalls.catalog
        chain = info.ProtocolChain
        entries = [catalog.entry(chain.ChainEntries[i]) for i in range(min(chain.ChainLen, len(chain.ChainEntries)))]
        if chain.ChainLen <= BASE_PROTOCOL or any(entry is None for entry in entries):
            raise WinsockError(WSAEINVAL, "not a chain of entries the catalog holds")
        for position, entry in enumerate(entries[:-1]):
            assert entry is not None
            if load_provider(upcalls, entry.ProviderId) is self:
                below = entries[position + 1]
                assert below is not None
                base = below.ProtocolChain.ChainLen != LAYERED_PROTOCOL
                lower_info = below if base else info
                lower = load_provider(upcalls, below.ProviderId)
                code = lower.WSPStartup(upcalls, lower_info)
                if code:
                    raise WinsockError(code)
                return _Layer(entry.dwCatalogEntryId, info, lower, lower_info)
        raise WinsockError(WSAEINVAL, "this provider is not in the chain")

    def WSPCleanup(self, lpErrno: Any, /) -> int:
        """End one WSPStartup; the last closes this layer's sockets and ends the start-up of
        each layer below (``close``).  SOCKET_ERROR with WSANOTINITIALISED: none to end."""
        require_out_parameter(lpErrno, "lpErrno")
        with self._lock:
            if not self._startups:
                lpErrno.value = WSANOTINITIALISED
                return SOCKET_ERROR
            self._startups -= 1
            last = not self._startups
        if last:
            self.close()
        return 0

    def close(self) -> None:
        """Close every socket of this layer (its own handle and the lower socket), end the
        start-up of every layer below, and forget the table."""
        with self._lock:
            sockets = sorted(self._sockets.values(), key=lambda sock: sock.handle)
        for sock in sockets:
            self._close(sock, Ref(0))
        with self._lock:
            layers, self._layers = list(self._layers.values()), {}
            self._startups = 0
            upcalls, self.upcalls = self.upcalls, None
            window, self._window = self._window, 0
            port, self._port = self._port, 0
            pump, self._pump = self._pump, None
        if window and upcalls is not None:
            upcalls.unregister_window(window)
        if port and upcalls is not None:
            upcalls.table.close_port(port)  # ends the pump's wait
        if pump is not None and pump is not threading.current_thread():
            pump.join()
        for layer in layers:
            layer.lower.WSPCleanup(Ref(0))

    # --- the handles this layer makes

    def socket_of(self, s: Any, lpErrno: Any) -> LayeredSocket | None:
        """The LayeredSocket of this layer's handle ``s`` (``find_socket``); None with
        WSAENOTSOCK in ``lpErrno`` when ``s`` is no socket of this layer."""
        if self.upcalls is None:
            lpErrno.value = WSANOTINITIALISED
            return None
        sock = self.find_socket(s, lpErrno)
        if sock is None:
            return None
        if not isinstance(sock, LayeredSocket) or self._sockets.get(sock.handle) is not sock:
            lpErrno.value = WSAENOTSOCK
            return None
        return sock

    def recorded_socket(self, s: Any) -> LayeredSocket | None:
        """This layer's record of its open handle ``s`` (None for any other value), kept
        whichever way the handles are made: what a ``find_socket`` that reads no Python
        context maps a handle back with."""
        return self._sockets.get(s) if s.__class__ is int else None

    # The three steps of the handle bookkeeping, overridable together (the class docstring).

    def create_handle(self, sock: LayeredSocket, lpErrno: Any) -> int:
        """The application's handle for ``sock`` (``sock.layer.entry_id`` is the layered
        entry it belongs to, ``sock.lower`` the lower socket), or INVALID_SOCKET with the
        code in ``lpErrno``: WPUCreateSocketHandle with ``sock`` as the context."""
        upcalls = self.upcalls
        if upcalls is None:
            lpErrno.value = WSANOTINITIALISED
            return INVALID_SOCKET
        return upcalls.WPUCreateSocketHandle(sock.layer.entry_id, sock, lpErrno)

    def find_socket(self, s: Any, lpErrno: Any) -> LayeredSocket | None:
        """The LayeredSocket behind handle ``s``, or None with the code in ``lpErrno``:
        WPUQuerySocketHandleContext.  ``socket_of`` checks the answer against the record."""
        upcalls = self.upcalls
        if upcalls is None:
            lpErrno.value = WSANOTINITIALISED
            return None
        context = Ref()
        if upcalls.WPUQuerySocketHandleContext(s, context, lpErrno):
            return None
        sock = context.value
        if not isinstance(sock, LayeredSocket):  # a handle of another provider
            lpErrno.value = WSAENOTSOCK
            return None
        return sock

    def close_handle(self, sock: LayeredSocket) -> None:
        """Release the application's handle of ``sock`` (WPUCloseSocketHandle); the layer
        closes the lower socket after it."""
        upcalls = self.upcalls
        if upcalls is not None:
            upcalls.WPUCloseSocketHandle(sock.handle, Ref(0))

    def _wrap(self, layer: _Layer, lower: int, lpErrno: Any) -> int:
        """The handle the application gets for the lower socket ``lower`` (``create_handle``);
        on failure the lower socket is closed and INVALID_SOCKET returned (WSAENOBUFS in
        lpErrno)."""
        sock = LayeredSocket(layer, lower)
        handle = self.create_handle(sock, lpErrno)
        if handle == INVALID_SOCKET:
            layer.lower.WSPCloseSocket(lower, Ref(0))
            return INVALID_SOCKET
        sock.handle = handle
        with self._lock:
            self._sockets[handle] = sock
            self._lowers[lower] = sock
        return handle

    def _close(self, sock: LayeredSocket, lpErrno: Any) -> int:
        with self._lock:
            if self._sockets.pop(sock.handle, None) is not sock:
                lpErrno.value = WSAENOTSOCK  # another thread closed it first
                return SOCKET_ERROR
            if self._lowers.get(sock.lower) is sock:
                del self._lowers[sock.lower]
        self.close_handle(sock)
        result: int = sock.provider.WSPCloseSocket(sock.lower, lpErrno)
        # The close ended every pending operation below; one whose completion did not reach
        # the port (the lower handle went first) is reported from its structure, or aborted.
        with self._completed:
            pending = [item for item in self._pending.values() if item.sock is sock]
        for item in pending:
            proxy = item.proxy
            if proxy.Internal == WSS_OPERATION_IN_PROGRESS:
                self._finish(item, WSA_OPERATION_ABORTED, 0, 0)
            else:
                self._finish(item, proxy.OffsetHigh, proxy.InternalHigh, proxy.Offset)
        return result

    def WSPSocket(self, af: Any, type: Any, protocol: Any, lpProtocolInfo: Any, g: Any,
                  dwFlags: Any, lpErrno: Any, /) -> int:
        """A socket of the layer below, wrapped in a handle of this layer's entry.
        ``lpProtocolInfo`` is the chain Ws2_32 picked (one this layer was started for:
        WSAEINVAL otherwise)."""
        require_out_parameter(lpErrno, "lpErrno")
        layer = self._layers.get(getattr(lpProtocolInfo, "dwCatalogEntryId", None))  # type: ignore[arg-type]
        if layer is None:
            lpErrno.value = WSAEINVAL if self.upcalls is not None else WSANOTINITIALISED
            return INVALID_SOCKET
        lower_info = layer.lower_info
        key = getattr(lpProtocolInfo, "dwProviderReserved", 0)
        if key:  # a WSPDuplicateSocket's: the layer below makes its own duplicate
            with self._lock:
                duplicate = self._duplicates.pop(key, None)
            if duplicate is None or duplicate[0] is not layer:
                lpErrno.value = WSAEINVAL  # used already, or never given
                return INVALID_SOCKET
            lower_info = WSAPROTOCOL_INFOW.from_buffer_copy(lower_info)
            lower_info.dwProviderReserved = duplicate[1]
        lower: int = layer.lower.WSPSocket(af, type, protocol, lower_info, g, dwFlags, lpErrno)
        if lower == INVALID_SOCKET:
            return INVALID_SOCKET
        return self._wrap(layer, lower, lpErrno)

    def WSPAccept(self, s: Any, addr: Any, addrlen: Any, lpfnCondition: Any,
                  dwCallbackData: Any, lpErrno: Any, /) -> int:
        """The lower socket's accept, its new socket wrapped in a handle of this layer."""
        sock = self.socket_of(s, lpErrno)
        if sock is None:
            return INVALID_SOCKET
        if not sock.window:
            return self._accept(sock, addr, addrlen, lpfnCondition, dwCallbackData, lpErrno)
        # The accepted socket has its listener's selection (and the listener is non-blocking:
        # this does not wait): its first messages wait until it is known here.
        with self._messages:
            handle = self._accept(sock, addr, addrlen, lpfnCondition, dwCallbackData, lpErrno)
            if handle != INVALID_SOCKET:
                self._sockets[handle].window = sock.window
            return handle

    def _accept(self, sock: LayeredSocket, addr: Any, addrlen: Any, lpfnCondition: Any,
                dwCallbackData: Any, lpErrno: Any) -> int:
        lower: int = sock.provider.WSPAccept(sock.lower, addr, addrlen, lpfnCondition,
                                             dwCallbackData, lpErrno)
        if lower == INVALID_SOCKET:
            return INVALID_SOCKET
        return self._wrap(sock.layer, lower, lpErrno)

    def WSPCloseSocket(self, s: Any, lpErrno: Any, /) -> int:
        """Close this layer's handle (WPUCloseSocketHandle), then the lower socket."""
        require_out_parameter(lpErrno, "lpErrno")
        sock = self.socket_of(s, lpErrno)
        if sock is None:
            return SOCKET_ERROR
        return self._close(sock, lpErrno)

    # --- the calls forwarded as they are, on the lower socket

    def _forward(self, name: str, s: Any, args: tuple[Any, ...], failure: int = SOCKET_ERROR) -> int:
        lpErrno = args[-1]
        require_out_parameter(lpErrno, "lpErrno")
        sock = self.socket_of(s, lpErrno)
        if sock is None:
            return failure
        result: int = getattr(sock.provider, name)(sock.lower, *args)
        return result

    def _forward_overlapped(self, name: str, s: Any, lpOverlapped: Any, args: tuple[Any, ...]) -> int:
        """A call whose last four arguments are lpOverlapped, lpCompletionRoutine, lpThreadId
        and lpErrno: as it is when it is an ordinary one (no structure, or a socket made
        without WSA_FLAG_OVERLAPPED: the layer below ignores both); else with the layer's own
        structure and no routine, its completion reported from the layer's port."""
        lpErrno = args[-1]
        require_out_parameter(lpErrno, "lpErrno")
        sock = self.socket_of(s, lpErrno)
        if sock is None:
            return SOCKET_ERROR
        function = getattr(sock.provider, name)
        if lpOverlapped is None or not sock.provider.is_overlapped(sock.lower):
            result: int = function(sock.lower, *args)
            return result
        try:
            request = overlapped_request(sock.handle, lpOverlapped, args[-3], args[-2])
        except WinsockError as error:
            lpErrno.value = error.winerror
            return SOCKET_ERROR
        if request is None:  # a NULL pointer: an ordinary call
            result = function(sock.lower, *args)
            return result
        pending = self._pending_on(sock, request, lpErrno)
        if pending is None:
            return SOCKET_ERROR
        result = function(sock.lower, *args[:-4], pending.proxy, None, None, lpErrno)
        self._settle(pending, result == 0, lpErrno.value == WSA_IO_PENDING)
        return result

    def _pending_on(self, sock: LayeredSocket, request: _Request, lpErrno: Any) -> _Pending | None:
        """A forwarded operation's record, the lower socket on the layer's port; None with
        the code in ``lpErrno`` when the port cannot be had."""
        if not self._on_port(sock, lpErrno):
            return None
        pending = _Pending(sock, request)
        with self._completed:
            self._pending[id(pending.proxy)] = pending
        return pending

    def _settle(self, pending: _Pending, done: bool, started: bool) -> None:
        """After the lower call: ``done`` at once (its completion is recorded in the proxy
        already: reported now), ``started`` (pending below: the application's structure says
        so until the report), or neither (failed as it started: no completion comes)."""
        proxy = pending.proxy
        if done:
            self._finish(pending, proxy.OffsetHigh, proxy.InternalHigh, proxy.Offset)
        elif started:
            with self._completed:
                if not pending.done:
                    pending.request.overlapped.Internal = WSS_OPERATION_IN_PROGRESS
        else:
            with self._completed:
                self._pending.pop(id(proxy), None)

    def _on_port(self, sock: LayeredSocket, lpErrno: Any) -> bool:
        """Associate the lower socket with the layer's port (made, with its thread, on first
        use); False with the code in ``lpErrno`` when the table has no room for the port."""
        if sock.on_port:
            return True
        upcalls = self.upcalls
        assert upcalls is not None  # socket_of found the socket through it
        try:
            with self._lock:
                if not self._port:
                    self._port = upcalls.table.create_port()
                    self._pump = threading.Thread(
                        target=self._report_completions, args=(upcalls.table, self._port),
                        name=f"ws2core LSP {type(self).__name__} completions", daemon=True)
                    self._pump.start()
                upcalls.table.associate_port(sock.lower, self._port, 0)
                sock.on_port = True
        except WinsockError as error:
            lpErrno.value = error.winerror
            return False
        return True

    def _report_completions(self, table: Any, port: int) -> None:
        """The port's thread: each packet of the layer below reported to the application,
        until the port is closed."""
        while True:
            try:
                packets = table.get_completions(port, 64, None, False)
            except WinsockError:
                return  # closed: the layer is closing
            for transferred, _key, proxy, error in packets:
                with self._completed:
                    pending = self._pending.get(id(proxy))
                if pending is not None and pending.proxy is proxy:
                    self._finish(pending, error, transferred, proxy.Offset)

    def _finish(self, pending: _Pending, error: int, count: int, flags: int) -> None:
        """Report ``pending``'s outcome to the application once, whoever sees it first: the
        caller (done at once), the port's thread, or a close."""
        with self._completed:
            if pending.done:
                return
            pending.done = True
            self._pending.pop(id(pending.proxy), None)
            report_completion(self.upcalls, pending.request, error, count, flags)
            self._completed.notify_all()

    def WSPBind(self, s: Any, name: Any, namelen: Any, lpErrno: Any, /) -> int:
        return self._forward("WSPBind", s, (name, namelen, lpErrno))

    def WSPListen(self, s: Any, backlog: Any, lpErrno: Any, /) -> int:
        return self._forward("WSPListen", s, (backlog, lpErrno))

    def WSPConnect(self, s: Any, name: Any, namelen: Any, lpCallerData: Any, lpCalleeData: Any,
                   lpSQOS: Any, lpGQOS: Any, lpErrno: Any, /) -> int:
        return self._forward("WSPConnect", s, (name, namelen, lpCallerData, lpCalleeData,
                                               lpSQOS, lpGQOS, lpErrno))

    def WSPShutdown(self, s: Any, how: Any, lpErrno: Any, /) -> int:
        return self._forward("WSPShutdown", s, (how, lpErrno))

    def WSPGetSockName(self, s: Any, name: Any, namelen: Any, lpErrno: Any, /) -> int:
        return self._forward("WSPGetSockName", s, (name, namelen, lpErrno))

    def WSPGetPeerName(self, s: Any, name: Any, namelen: Any, lpErrno: Any, /) -> int:
        return self._forward("WSPGetPeerName", s, (name, namelen, lpErrno))

    def WSPGetSockOpt(self, s: Any, level: Any, optname: Any, optval: Any, optlen: Any,
                      lpErrno: Any, /) -> int:
        return self._forward("WSPGetSockOpt", s, (level, optname, optval, optlen, lpErrno))

    def WSPSetSockOpt(self, s: Any, level: Any, optname: Any, optval: Any, optlen: Any,
                      lpErrno: Any, /) -> int:
        return self._forward("WSPSetSockOpt", s, (level, optname, optval, optlen, lpErrno))

    def WSPEventSelect(self, s: Any, hEventObject: Any, lNetworkEvents: Any, lpErrno: Any, /) -> int:
        result = self._forward("WSPEventSelect", s, (hEventObject, lNetworkEvents, lpErrno))
        if result == 0:
            sock = self.socket_of(s, Ref(0))
            if sock is not None:
                sock.window = 0  # an event selection replaces a window's
        return result

    def WSPEnumNetworkEvents(self, s: Any, hEventObject: Any, lpNetworkEvents: Any,
                             lpErrno: Any, /) -> int:
        return self._forward("WSPEnumNetworkEvents", s, (hEventObject, lpNetworkEvents, lpErrno))

    def WSPGetOverlappedResult(self, s: Any, lpOverlapped: Any, lpcbTransfer: Any, fWait: Any,
                               lpdwFlags: Any, lpErrno: Any, /) -> int:
        """The layer below reads the outcome from the application's structure, which this
        layer records; with ``fWait``, the wait for that report is this layer's (at most the
        thread's blocking limit below, then WSA_IO_INCOMPLETE)."""
        require_out_parameter(lpErrno, "lpErrno")
        sock = self.socket_of(s, lpErrno)
        if sock is None:
            return FALSE
        overlapped = overlapped_structure(lpOverlapped)
        if (fWait and overlapped is not None and lpcbTransfer is not None and lpdwFlags is not None
                and not self._wait_reported(sock, overlapped)):
            lpErrno.value = WSA_IO_INCOMPLETE
            return FALSE
        return self._forward("WSPGetOverlappedResult", s,
                             (lpOverlapped, lpcbTransfer, False, lpdwFlags, lpErrno), FALSE)

    def _wait_reported(self, sock: LayeredSocket, overlapped: Any) -> bool:
        limit = getattr(sock.provider, "current_blocking_limit", lambda: None)()
        deadline = None if limit is None else time.monotonic() + limit
        with self._completed:
            while overlapped.Internal == WSS_OPERATION_IN_PROGRESS:
                if self._sockets.get(sock.handle) is not sock:
                    return True  # closed meanwhile: the call below says so
                left = _CANCEL_CHECK if deadline is None else deadline - time.monotonic()
                if left <= 0:
                    return False
                self._completed.wait(min(left, _CANCEL_CHECK))
        return True

    def current_blocking_limit(self) -> float | None:
        """The calling thread's cap on blocking: the base provider's (Ws2_32 sets it there)."""
        for layer in self._layers.values():
            below = getattr(layer.lower, "current_blocking_limit", None)
            if below is not None:
                limit: float | None = below()
                return limit
        return None

    def WSPSend(self, s: Any, lpBuffers: Any, dwBufferCount: Any, lpNumberOfBytesSent: Any,
                dwFlags: Any, lpOverlapped: Any, lpCompletionRoutine: Any, lpThreadId: Any,
                lpErrno: Any, /) -> int:
        return self._forward_overlapped("WSPSend", s, lpOverlapped, (
            lpBuffers, dwBufferCount, lpNumberOfBytesSent, dwFlags, lpOverlapped,
            lpCompletionRoutine, lpThreadId, lpErrno))

    def WSPSendTo(self, s: Any, lpBuffers: Any, dwBufferCount: Any, lpNumberOfBytesSent: Any,
                  dwFlags: Any, lpTo: Any, iTolen: Any, lpOverlapped: Any,
                  lpCompletionRoutine: Any, lpThreadId: Any, lpErrno: Any, /) -> int:
        return self._forward_overlapped("WSPSendTo", s, lpOverlapped, (
            lpBuffers, dwBufferCount, lpNumberOfBytesSent, dwFlags, lpTo, iTolen, lpOverlapped,
            lpCompletionRoutine, lpThreadId, lpErrno))

    def WSPRecv(self, s: Any, lpBuffers: Any, dwBufferCount: Any, lpNumberOfBytesRecvd: Any,
                lpFlags: Any, lpOverlapped: Any, lpCompletionRoutine: Any, lpThreadId: Any,
                lpErrno: Any, /) -> int:
        return self._forward_overlapped("WSPRecv", s, lpOverlapped, (
            lpBuffers, dwBufferCount, lpNumberOfBytesRecvd, lpFlags, lpOverlapped,
            lpCompletionRoutine, lpThreadId, lpErrno))

    def WSPRecvFrom(self, s: Any, lpBuffers: Any, dwBufferCount: Any, lpNumberOfBytesRecvd: Any,
                    lpFlags: Any, lpFrom: Any, lpFromlen: Any, lpOverlapped: Any,
                    lpCompletionRoutine: Any, lpThreadId: Any, lpErrno: Any, /) -> int:
        return self._forward_overlapped("WSPRecvFrom", s, lpOverlapped, (
            lpBuffers, dwBufferCount, lpNumberOfBytesRecvd, lpFlags, lpFrom, lpFromlen,
            lpOverlapped, lpCompletionRoutine, lpThreadId, lpErrno))

    def WSPIoctl(self, s: Any, dwIoControlCode: Any, lpvInBuffer: Any, cbInBuffer: Any,
                 lpvOutBuffer: Any, cbOutBuffer: Any, lpcbBytesReturned: Any, lpOverlapped: Any,
                 lpCompletionRoutine: Any, lpThreadId: Any, lpErrno: Any, /) -> int:
        """Forwarded; SIO_GET_EXTENSION_FUNCTION_POINTER's answer (the layer below checked the
        GUID and the buffers) is replaced by this layer's function of that name, which takes
        this layer's handles (GetAcceptExSockaddrs, which takes none, stays the lower one)."""
        result = self._forward_overlapped("WSPIoctl", s, lpOverlapped, (
            dwIoControlCode, lpvInBuffer, cbInBuffer, lpvOutBuffer, cbOutBuffer,
            lpcbBytesReturned, lpOverlapped, lpCompletionRoutine, lpThreadId, lpErrno))
        if result == 0 and dwIoControlCode == SIO_GET_EXTENSION_FUNCTION_POINTER:
            name = getattr(lpvOutBuffer.value, "__name__", None)
            if name in _LAYERED_EXTENSIONS:
                lpvOutBuffer.value = getattr(self, name)
        return result

    def is_overlapped(self, s: Any) -> bool:
        """Whether the lower socket of ``s`` was made with WSA_FLAG_OVERLAPPED."""
        sock = self.socket_of(s, Ref(0))
        return sock is not None and bool(sock.provider.is_overlapped(sock.lower))

    # --- the extension functions (mswsock's): Windows' arguments and results, as the base
    # provider's (ws2core.provider.extensions); the handles translated, the structure the
    # layer's own, the last error the thread's in the upcall table

    def AcceptEx(self, sListenSocket: Any, sAcceptSocket: Any, lpOutputBuffer: Any,
                 dwReceiveDataLength: Any, dwLocalAddressLength: Any,
                 dwRemoteAddressLength: Any, lpdwBytesReceived: Any, lpOverlapped: Any,
                 /) -> int:
        """The layer below's AcceptEx on the two lower sockets; its completion is the
        listener's (a port associated with this layer's listener gets it)."""
        code = Ref(0)
        accept = self.socket_of(sAcceptSocket, code)
        if accept is None:
            return self._extension_failed(code.value)
        return self._extension("AcceptEx", sListenSocket, lpOverlapped, lambda overlapped: (
            accept.lower, lpOutputBuffer, dwReceiveDataLength, dwLocalAddressLength,
            dwRemoteAddressLength, lpdwBytesReceived, overlapped))

    def ConnectEx(self, s: Any, name: Any, namelen: Any, lpSendBuffer: Any,
                  dwSendDataLength: Any, lpdwBytesSent: Any, lpOverlapped: Any, /) -> int:
        """The layer below's ConnectEx on the lower socket."""
        return self._extension("ConnectEx", s, lpOverlapped, lambda overlapped: (
            name, namelen, lpSendBuffer, dwSendDataLength, lpdwBytesSent, overlapped))

    def DisconnectEx(self, s: Any, lpOverlapped: Any, dwFlags: Any, dwReserved: Any, /) -> int:
        """The layer below's DisconnectEx on the lower socket."""
        return self._extension("DisconnectEx", s, lpOverlapped, lambda overlapped: (
            overlapped, dwFlags, dwReserved))

    def _extension(self, name: str, s: Any, lpOverlapped: Any,
                   arguments: Callable[[Any], tuple[Any, ...]]) -> int:
        """Call the layer below's extension function ``name`` on the lower socket of ``s``
        with ``arguments(structure)`` after it; a WSAOVERLAPPED goes down as the
        layer's own, its completion reported as a WSP call's.  TRUE, or FALSE with the code as
        the calling thread's last error."""
        code = Ref(0)
        sock = self.socket_of(s, code)
        if sock is None:
            return self._extension_failed(code.value)
        function = getattr(sock.provider, name)
        try:
            request = overlapped_request(sock.handle, lpOverlapped, None, None)
        except WinsockError as error:
            return self._extension_failed(error.winerror)
        if request is None:  # NULL: the layer below says what that is
            result: int = function(sock.lower, *arguments(lpOverlapped))
            return result
        pending = self._pending_on(sock, request, code)
        if pending is None:
            return self._extension_failed(code.value)
        result = function(sock.lower, *arguments(pending.proxy))
        upcalls = self.upcalls
        self._settle(pending, result == TRUE,
                     upcalls is not None and upcalls.WSAGetLastError() == WSA_IO_PENDING)
        return result

    def _extension_failed(self, code: int) -> int:
        upcalls = self.upcalls
        if upcalls is not None:
            upcalls.WSASetLastError(code)
        return FALSE

    # --- window messages: the lower socket posts to this layer's window, which re-posts

    def WSPAsyncSelect(self, s: Any, hWnd: Any, wMsg: Any, lEvent: Any, lpErrno: Any, /) -> int:
        """The lower socket's WSPAsyncSelect, for this layer's window when ``hWnd`` is a
        window: each message it posts there, ``(wMsg, lower socket, lParam)``, is posted on
        to ``hWnd`` as ``(wMsg, s, lParam)`` (WPUPostMessage), in order.  Any other hWnd goes
        down as it is, so the layer below decides (WSAEINVAL, or lEvent 0 ending the
        selection whatever the window), with its rules and codes."""
        require_out_parameter(lpErrno, "lpErrno")
        sock = self.socket_of(s, lpErrno)
        if sock is None:
            return SOCKET_ERROR
        upcalls = self.upcalls
        assert upcalls is not None  # socket_of found the socket through it
        window = _index(hWnd) if upcalls.is_window(hWnd) else 0
        with self._messages:  # no message is translated with the window half changed
            previous = sock.window
            sock.window = window if _index(lEvent) & FD_ALL_EVENTS else 0
            try:
                result: int = sock.provider.WSPAsyncSelect(
                    sock.lower, self._own_window(upcalls) if window else hWnd, wMsg, lEvent,
                    lpErrno)
            except BaseException:
                sock.window = previous
                raise
            if result != 0:
                sock.window = previous
        return result

    def _own_window(self, upcalls: _upcalls.UpcallTable) -> int:
        with self._lock:
            if not self._window:
                self._window = upcalls.register_window(self._repost)
            return self._window

    def _repost(self, hWnd: int, Msg: int, wParam: int, lParam: int) -> None:
        """A message of the layer below (on this layer's window's delivery thread), posted on
        to the application's window with this layer's handle.  A socket closed or no longer
        selected for a window: the message is dropped, as a closed socket's would be."""
        with self._messages:
            sock = self._lowers.get(wParam)
            upcalls = self.upcalls
            if sock is not None and sock.window and upcalls is not None:
                upcalls.WPUPostMessage(sock.window, Msg, sock.handle, lParam)

    def WSPDuplicateSocket(self, s: Any, dwProcessId: Any, lpProtocolInfo: Any,
                           lpErrno: Any, /) -> int:
        """The layer below fills ``lpProtocolInfo`` for its socket; this layer then makes it
        name the chain (dwCatalogEntryId, ProtocolChain: Ws2_32 brings the WSPSocket made
        from it here) with a key of its own in dwProviderReserved, which that WSPSocket
        turns back into the lower key, so the duplicate is a layered handle over the lower
        layer's duplicate."""
        require_out_parameter(lpErrno, "lpErrno")
        sock = self.socket_of(s, lpErrno)
        if sock is None:
            return SOCKET_ERROR
        result: int = sock.provider.WSPDuplicateSocket(sock.lower, dwProcessId, lpProtocolInfo,
                                                       lpErrno)
        if result != 0:
            return result
        with self._lock:
            key = self._next_duplicate
            self._next_duplicate += 1
            self._duplicates[key] = (sock.layer, lpProtocolInfo.dwProviderReserved)
        chain = sock.layer.chain
        lpProtocolInfo.dwCatalogEntryId = chain.dwCatalogEntryId
        ctypes.memmove(ctypes.addressof(lpProtocolInfo.ProtocolChain),
                       ctypes.addressof(chain.ProtocolChain), ctypes.sizeof(chain.ProtocolChain))
        lpProtocolInfo.dwProviderReserved = key
        return 0

    # --- waits over many sockets: the handles translated both ways

    def WSPSelect(self, nfds: Any, readfds: Any, writefds: Any, exceptfds: Any, timeout: Any,
                  lpErrno: Any, /) -> int:
        """The lower provider's WSPSelect over the lower sockets of the sets' handles, each
        set then rewritten to hold this layer's handles that are ready."""
        require_out_parameter(lpErrno, "lpErrno")
        upcalls = self.upcalls
        if upcalls is None:
            lpErrno.value = WSANOTINITIALISED
            return SOCKET_ERROR
        sets = [None if fds is None else _SelectSet(fds, upcalls.table.abi)
                for fds in (readfds, writefds, exceptfds)]
        socks: dict[int, LayeredSocket] = {}
        for fds in sets:
            for handle in fds.entries if fds is not None else ():
                sock = socks.get(handle) or self.socket_of(handle, lpErrno)
                if sock is None:
                    return SOCKET_ERROR
                socks[handle] = sock
        if not socks:
            lpErrno.value = WSAEINVAL
            return SOCKET_ERROR
        lower = next(iter(socks.values())).provider
        lower_sets = [None if fds is None else FdSet([socks[h].lower for h in fds.entries],
                                                     capacity=max(1, len(fds.entries)),
                                                     abi=upcalls.table.abi)
                      for fds in sets]
        result: int = lower.WSPSelect(nfds, *lower_sets, timeout, lpErrno)
        if result == SOCKET_ERROR:
            return result
        count = 0
        for fds, lower_fds in zip(sets, lower_sets):
            if fds is not None and lower_fds is not None:
                ready = set(lower_fds)
                count += fds.keep(lambda handle, ready=ready: socks[handle].lower in ready)  # type: ignore[misc]
        return count

    def poll(self, fdArray: Sequence[WSAPOLLFD], timeout: Any, lpErrno: Any, /) -> int:
        """The lower provider's ``poll`` over the lower sockets, each ``revents`` copied
        back; an entry that is no socket of this layer is given to it as it is (a socket
        of that provider, or one it answers POLLNVAL)."""
        require_out_parameter(lpErrno, "lpErrno")
        entries = list(fdArray)
        lower_entries = []
        lower = None
        for entry in entries:
            sock = self.socket_of(entry.fd, Ref(0))
            if sock is not None:
                lower = lower or sock.provider
            lower_entries.append(WSAPOLLFD(sock.lower if sock is not None else entry.fd,
                                           entry.events))
        if lower is None:
            lpErrno.value = WSAENOTSOCK
            return SOCKET_ERROR
        result: int = lower.poll(lower_entries, timeout, lpErrno)
        if result != SOCKET_ERROR:
            for entry, lower_entry in zip(entries, lower_entries):
                entry.revents = lower_entry.revents
        return result
