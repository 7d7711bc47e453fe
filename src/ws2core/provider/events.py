"""Network events: WSPEventSelect, WSPAsyncSelect, WSPEnumNetworkEvents, and the reactor
thread that records them.

How a socket's host readiness and state changes become FD_* records (``_record``,
``_observe``; a non-blocking connect settling, ``_resolve_connect``, records FD_CONNECT, so it
lives here too), when an event may be recorded again (``_reenable``), and the reactor: one
thread per provider, started by the first selection, that watches every socket with network
events selected.  The two selections share all of it: only the notice of a recorded event
differs (WSPEventSelect's event set, WSPAsyncSelect's message posted), in ``_record``.  The
other concerns call these as their operations change a socket.
"""

from __future__ import annotations

import select
import selectors
import socket
import threading
from operator import index as _index
from typing import Any

from .. import Ref
from .._shared import WinsockError
from ..constants import (
    FD_ACCEPT,
    FD_ACCEPT_BIT,
    FD_ALL_EVENTS,
    FD_CLOSE,
    FD_CLOSE_BIT,
    FD_CONNECT,
    FD_CONNECT_BIT,
    FD_MAX_EVENTS,
    FD_OOB,
    FD_READ,
    FD_READ_BIT,
    FD_WRITE,
    FD_WRITE_BIT,
    SOCKET_ERROR,
    WSAMAKESELECTREPLY,
    WSAEFAULT,
    WSAEINVAL,
    WSASYSCALLFAILURE,
)
from .base import (
    _CANCEL_CHECK,
    CONNECTED,
    CONNECTING,
    DATAGRAM,
    LISTENING,
    UNCONNECTED,
    ProviderSocket,
    _ProviderBase,
)
from .errors import HOST_ERRORS, winsock_error
from .overlapped import _Overlapped


class _Events(_Overlapped):
    """The network-event side of the provider, which every other concern reports to."""

    def _resolve_connect(self, sock: ProviderSocket) -> None:
        """Settle a non-blocking connect once the host has: CONNECTED, or UNCONNECTED with
        the error kept for SO_ERROR (and FD_CONNECT recorded either way)."""
        if sock.state != CONNECTING:
            return
        poller = select.poll()
        poller.register(sock.host, select.POLLOUT)
        if not poller.poll(0):
            return
        code = sock.host.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        error = HOST_ERRORS.get(code, WSASYSCALLFAILURE) if code else 0
        with self._lock:
            if sock.state != CONNECTING:
                return  # another thread settled it
            sock.state = UNCONNECTED if error else CONNECTED
            sock.pending_error = error
            self._record(sock, FD_CONNECT_BIT, error)
        self._update_interest(sock)

    # --- network events (WSPEventSelect, WSPAsyncSelect)

    def _record(self, sock: ProviderSocket, bit: int, error: int = 0) -> None:
        """Record one network event and give its notice (the lock is held): the socket's
        event set (WSPEventSelect), or its message posted (WSPAsyncSelect)."""
        event = 1 << bit
        if sock.held & event or sock.closed:
            return
        if not sock.network_events & event:
            if bit == FD_CONNECT_BIT:
                sock.connect_owed = error  # a connect finishes once: kept until wanted
            return
        sock.held |= event
        upcalls = self.upcalls
        if sock.window:
            # The message is the record: WSPEnumNetworkEvents has nothing to report.  A
            # window gone (FALSE) loses the message, as PostMessage to a destroyed window
            # does; the event stays held until its re-enabling call all the same.
            if upcalls is not None:
                upcalls.WPUPostMessage(sock.window, sock.message, sock.handle,
                                       WSAMAKESELECTREPLY(event, error))
            return
        sock.recorded |= event
        sock.error_codes[bit] = error
        if upcalls is not None:
            upcalls.WPUSetEvent(sock.event, Ref())  # a closed event: nothing left to signal

    def _reenable(self, sock: ProviderSocket, events: int) -> None:
        """A re-enabling call was made (recv: FD_READ/FD_OOB; send failing WSAEWOULDBLOCK:
        FD_WRITE; accept: FD_ACCEPT): those events may be recorded again."""
        if not sock.network_events:
            return
        with self._lock:
            sock.held &= ~events
            if events & FD_READ:
                sock.read_parked = False
        self._observe_now(sock)

    def _observe_now(self, sock: ProviderSocket) -> None:
        """Record at once what already holds.  Windows records a condition that is true when
        its event becomes wanted (at WSPEventSelect, at a re-enabling call: data still
        waiting after a receive is FD_READ again) without waiting for anything to change."""
        with self._lock:
            interest = 0 if sock.closed else self._interest(sock)
        readable = writable = False
        if interest:
            poller = select.poll()
            poller.register(sock.host, (select.POLLIN if interest & selectors.EVENT_READ else 0)
                            | (select.POLLOUT if interest & selectors.EVENT_WRITE else 0))
            for _, revents in poller.poll(0):
                readable = bool(revents & (select.POLLIN | select.POLLHUP | select.POLLERR))
                writable = bool(revents & (select.POLLOUT | select.POLLERR))
        self._observe(sock, readable, writable)

    def _update_interest(self, sock: ProviderSocket) -> None:
        """Tell the reactor what to watch for this socket now, if that changed."""
        reactor = self._reactor
        if reactor is None:
            return
        with self._lock:
            interest = 0 if sock.closed else self._interest(sock)
            if interest == sock.interest:
                return
            sock.interest = interest
            sock.watched = True
        reactor.update(sock)

    @staticmethod
    def _interest(sock: ProviderSocket) -> int:
        """Which host readiness can lead to a network event that may be recorded now, or let
        a pending overlapped operation go on (``overlapped``).

        By state, never by host readiness alone: a host reports an unconnected TCP socket
        ready (Linux: POLLHUP), Windows never does.
        """
        read, write = bool(sock.receives), bool(sock.sends)
        wanted = sock.network_events & ~sock.held
        if wanted:
            if sock.state == LISTENING:
                read |= bool(wanted & FD_ACCEPT)
            elif sock.state == CONNECTING:
                write = True  # the connect finishing (FD_CONNECT, then FD_WRITE)
            elif sock.state == CONNECTED:
                read |= (bool(wanted & (FD_READ | FD_CLOSE)) and not sock.read_parked
                         and not sock.peer_closed)
                write |= bool(wanted & FD_WRITE)
            elif sock.state == DATAGRAM:
                read |= bool(wanted & FD_READ) and not sock.read_parked
                write |= bool(wanted & FD_WRITE)
        return (selectors.EVENT_READ if read else 0) | (selectors.EVENT_WRITE if write else 0)

    def _observe(self, sock: ProviderSocket, readable: bool, writable: bool) -> None:
        """The host socket is ready (as the reactor or _observe_now saw): carry its pending
        overlapped operations on, then record what that means for its state."""
        if sock.receives or sock.sends:
            self._drive(sock)
        if sock.state == CONNECTING:
            self._resolve_connect(sock)
            if sock.state != CONNECTED:
                return
        with self._lock:
            if sock.closed:
                return
            # Peeked under the lock: a receive in another thread re-enables FD_READ under it
            # too, so a peek never reports data that receive has already taken.
            peek: bytes | int | None = None
            if readable and sock.state in (CONNECTED, DATAGRAM) and not sock.peer_closed:
                try:
                    peek = sock.host.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
                except BlockingIOError:
                    peek = None
                except OSError as error:
                    peek = winsock_error(error)
            if readable and sock.state == LISTENING:
                self._record(sock, FD_ACCEPT_BIT)
            if isinstance(peek, int):             # a reset: the connection is gone
                if sock.state == CONNECTED:
                    sock.peer_closed = True
                    sock.stream_error = peek      # the host told only this peek
                    self._record(sock, FD_CLOSE_BIT, peek)
                else:
                    self._record(sock, FD_READ_BIT)  # a datagram socket's error: recv says it
            elif peek == b"" and sock.state == CONNECTED:
                sock.peer_closed = True            # end of stream, all data read
                self._record(sock, FD_CLOSE_BIT, 0)
            elif peek is not None:
                if sock.network_events & ~sock.held & FD_READ:
                    self._record(sock, FD_READ_BIT)
                else:
                    sock.read_parked = True        # data waits: FD_CLOSE must wait for it
            if writable and sock.state in (CONNECTED, DATAGRAM):
                self._record(sock, FD_WRITE_BIT)
            if sock.peer_closed and sock.state == CONNECTED:
                # The end was seen first by a receive (or before WSPEventSelect): FD_CLOSE
                # is still owed, with the reset's code if it was one.
                self._record(sock, FD_CLOSE_BIT, sock.stream_error)
        self._update_interest(sock)

    def _start_reactor(self) -> _Reactor:
        with self._lock:
            if self._reactor is None:
                self._reactor = _Reactor(self)
            return self._reactor

    # --- WSP functions

    def WSPEventSelect(self, s: Any, hEventObject: Any, lNetworkEvents: Any, lpErrno: Any, /) -> int:
        """Associate an event with network events: 0, or SOCKET_ERROR.

        ``hEventObject`` must be a live event of the upcall table (else WSAEINVAL);
        ``lNetworkEvents`` the FD_* bits (0 ends the association).  The record of network
        events is cleared and the socket becomes non-blocking.  The provider's reactor
        thread then records FD_READ (data), FD_WRITE (connected or accepted, and after a
        send failed with WSAEWOULDBLOCK once there is room again), FD_ACCEPT (a pending
        connection), FD_CONNECT (a connect finished; its error in
        ``iErrorCode[FD_CONNECT_BIT]``) and FD_CLOSE (the peer closed, once all data was
        read: error 0; or reset: WSAECONNRESET), and sets the event with WPUSetEvent.  An
        event is recorded once until its re-enabling call: a receive for FD_READ, a send
        that failed WSAEWOULDBLOCK for FD_WRITE, an accept for FD_ACCEPT; FD_CONNECT and
        FD_CLOSE are recorded once.  A new WSPEventSelect re-enables nothing: an event
        recorded under an earlier association stays held until its re-enabling call (as
        Wine, whose socket tests pass on Windows, does).  A condition already true is
        recorded at once, a connect that finished before FD_CONNECT was wanted included.
        FD_OOB is accepted and never recorded.
        """
        mask = _index(lNetworkEvents)
        return self._call(s, lpErrno, SOCKET_ERROR, self._event_select, hEventObject, mask)

    def _event_select(self, sock: ProviderSocket, event: Any, mask: int) -> int:
        upcalls = self.upcalls
        assert upcalls is not None
        if mask & FD_ALL_EVENTS and upcalls.table.kind(event) != "event":
            raise WinsockError(WSAEINVAL, "hEventObject is not an event of this table")
        return self._select_events(sock, _index(event) if mask & FD_ALL_EVENTS else 0, 0, 0, mask)

    def WSPAsyncSelect(self, s: Any, hWnd: Any, wMsg: Any, lEvent: Any, lpErrno: Any, /) -> int:
        """Ask for a window message at each network event: 0, or SOCKET_ERROR.

        ``hWnd`` must be a window of the upcall table (``UpcallTable.register_window``; else
        WSAEINVAL, as for a handle that is no window), ``wMsg`` the message (a UINT),
        ``lEvent`` the FD_* bits (0 ends the selection, whatever ``hWnd``).  The events are
        those of WSPEventSelect, recorded by the same rules (once until their re-enabling
        call; a condition already true at once; FD_OOB accepted and never recorded), each
        one posted with WPUPostMessage(hWnd, wMsg, s, WSAMAKESELECTREPLY(FD_X, error)) in the
        order they happen (FD_CONNECT before the FD_WRITE of the same connect), so that
        WSPEnumNetworkEvents has nothing to report.  The socket becomes non-blocking (FIONBIO
        off is WSAEINVAL until the selection ends).  One selection per socket: this one
        replaces a WSPEventSelect's, and a WSPEventSelect replaces it; messages posted
        before stay posted.  An accepted socket has its listener's selection.  A message
        for a window unregistered since is lost, as PostMessage's to a destroyed window.
        A queue window's ``put`` is called with the provider's lock held (the posts of one
        socket stay in order): it must not call the provider; a callable window runs on its
        own delivery thread and may.
        """
        message = _index(wMsg)
        if not 0 <= message <= 0xFFFFFFFF:
            raise ValueError(f"wMsg must be a UINT (0..4294967295), not {message}")
        mask = _index(lEvent)
        return self._call(s, lpErrno, SOCKET_ERROR, self._async_select, hWnd, message, mask)

    def _async_select(self, sock: ProviderSocket, window: Any, message: int, mask: int) -> int:
        upcalls = self.upcalls
        assert upcalls is not None
        if not mask & FD_ALL_EVENTS:
            return self._select_events(sock, 0, 0, 0, mask)
        if not upcalls.is_window(window):
            raise WinsockError(WSAEINVAL, "hWnd is not a window of this table")
        return self._select_events(sock, 0, _index(window), message, mask)

    def _select_events(self, sock: ProviderSocket, event: int, window: int, message: int,
                       mask: int) -> int:
        """The selection both WSPEventSelect and WSPAsyncSelect make: the one before ends,
        the record is cleared and the socket made non-blocking; what already holds is
        recorded at once, and the reactor watches for the rest."""
        with self._lock:
            sock.event = event
            sock.window = window
            sock.message = message
            sock.network_events = mask & FD_ALL_EVENTS & ~FD_OOB
            sock.recorded = 0
            sock.error_codes = [0] * FD_MAX_EVENTS
            sock.read_parked = False
            self._set_nonblocking(sock, True)
            if sock.connect_owed >= 0 and sock.network_events & FD_CONNECT:
                self._record(sock, FD_CONNECT_BIT, sock.connect_owed)
                sock.connect_owed = -1
        if sock.network_events:
            self._start_reactor()
            self._observe_now(sock)
        else:
            self._update_interest(sock)
        return 0

    def WSPEnumNetworkEvents(self, s: Any, hEventObject: Any, lpNetworkEvents: Any,
                             lpErrno: Any, /) -> int:
        """Report and clear the network events recorded: 0, or SOCKET_ERROR.

        ``lpNetworkEvents`` (a WSANETWORKEVENTS, or any object with ``lNetworkEvents`` and a
        10-item ``iErrorCode``; None is WSAEFAULT) receives the record, which is then
        cleared; ``hEventObject``, if nonzero, is reset in the same step (WPUResetEvent;
        not a live event: WSAEINVAL, with the record kept).
        """
        if lpNetworkEvents is not None and not (
            hasattr(lpNetworkEvents, "lNetworkEvents") and hasattr(lpNetworkEvents, "iErrorCode")
        ):
            raise TypeError("lpNetworkEvents must be a WSANETWORKEVENTS (lNetworkEvents, iErrorCode)")
        return self._call(s, lpErrno, SOCKET_ERROR, self._enum_network_events, hEventObject,
                          lpNetworkEvents)

    def _enum_network_events(self, sock: ProviderSocket, event: Any, out: Any) -> int:
        if out is None:
            raise WinsockError(WSAEFAULT, "lpNetworkEvents is NULL")
        upcalls = self.upcalls
        assert upcalls is not None
        with self._lock:  # the reactor records under this lock: nothing falls in between
            if event is not None and _index(event) != 0:
                if not upcalls.WPUResetEvent(event, Ref()):
                    raise WinsockError(WSAEINVAL, "hEventObject is not an event of this table")
            recorded, codes = sock.recorded, sock.error_codes
            sock.recorded = 0
            sock.error_codes = [0] * FD_MAX_EVENTS
        out.lNetworkEvents = recorded
        for bit in range(FD_MAX_EVENTS):
            out.iErrorCode[bit] = codes[bit]
        return 0


# --------------------------------------------------------------------------------------
# The reactor: one thread per provider, on the standard selectors module.


class _Reactor:
    """Watches the host sockets of event-selected sockets and records their network events.

    Only this thread touches the selector.  Other threads say what changed (``update``: a
    socket's wanted readiness, ``forget``: a socket closing) and wake it through a socket
    pair; ``forget`` waits until the socket is out of the selector, so its host socket can
    then be closed without the selector ever watching a reused descriptor.
    """

    def __init__(self, provider: _Events) -> None:
        self._provider = provider
        self._selector = selectors.DefaultSelector()
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._wake_writer.setblocking(False)
        self._selector.register(self._wake_reader, selectors.EVENT_READ, None)
        self._lock = threading.Lock()
        self._changed: set[ProviderSocket] = set()
        self._forgotten: list[tuple[ProviderSocket, threading.Event]] = []
        self._woken = False
        self._stopping = False
        self._registered: dict[ProviderSocket, int] = {}
        self._thread = threading.Thread(target=self._run, name="ws2core provider reactor", daemon=True)
        self._thread.start()

    def update(self, sock: ProviderSocket) -> None:
        with self._lock:
            self._changed.add(sock)
            self._wake()

    def forget(self, sock: ProviderSocket) -> None:
        done = threading.Event()
        with self._lock:
            self._forgotten.append((sock, done))
            self._wake()
        if threading.current_thread() is self._thread:
            return
        while not done.wait(_CANCEL_CHECK):
            if not self._thread.is_alive():
                return  # stopped: nothing watches the socket any more

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._wake()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def _wake(self) -> None:  # with self._lock held
        if not self._woken:
            self._woken = True
            try:
                self._wake_writer.send(b"\0")
            except BlockingIOError:
                pass  # the pipe is full of wake-ups already

    def _run(self) -> None:
        try:
            while self._apply_changes():
                for key, events in self._selector.select():
                    if key.data is None:
                        self._drain()
                        continue
                    try:
                        self._provider._observe(key.data, bool(events & selectors.EVENT_READ),
                                                bool(events & selectors.EVENT_WRITE))
                    except Exception as error:  # reported, and the other sockets still served
                        threading.excepthook(threading.ExceptHookArgs(
                            (type(error), error, error.__traceback__, self._thread)))
        finally:
            self._selector.close()
            self._wake_reader.close()
            self._wake_writer.close()

    def _drain(self) -> None:
        try:
            while self._wake_reader.recv(4096):
                pass
        except BlockingIOError:
            pass

    def _apply_changes(self) -> bool:
        """Bring the selector up to date; False once stopping."""
        with self._lock:
            changed, self._changed = self._changed, set()
            forgotten, self._forgotten = self._forgotten, []
            stopping = self._stopping
            self._woken = False
        for sock, done in forgotten:
            if self._registered.pop(sock, 0):
                self._selector.unregister(sock.host)
            changed.discard(sock)
            done.set()
        for sock in changed:
            interest = 0 if sock.closed else sock.interest
            current = self._registered.get(sock, 0)
            if interest == current:
                continue
            if not current:
                self._selector.register(sock.host, interest, sock)
            elif not interest:
                self._selector.unregister(sock.host)
            else:
                self._selector.modify(sock.host, interest, sock)
            if interest:
                self._registered[sock] = interest
            else:
                self._registered.pop(sock, None)
        if stopping:
            for sock in list(self._registered):
                self._selector.unregister(sock.host)
            self._registered.clear()
        return not stopping
