"""WSPSelect: waiting for readiness over fd_sets, and the fd_set arguments it reads and
rewrites; ``poll``, WSAPoll's wait over an array of WSAPOLLFD entries.

Membership is asked as a provider asks, WPUFDIsSet on the caller's set; the sets are then
rewritten in place through ``ws2core.structs.FD_SET_LAYOUTS`` in the layout they came in (an
FdSet's own ABI, a bare buffer the upcall table's).  The wait is the host's poll, in slices
of ``_CANCEL_CHECK`` so that a socket closed meanwhile ends it with WSAEINTR.
"""

from __future__ import annotations

import functools
import math
import select
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import index as _index
from typing import Any, Final, Literal

from .. import FdSet, Ref
from .. import upcalls as _upcalls
from .._shared import WinsockError, require_out_parameter
from ..constants import (
    POLLERR,
    POLLHUP,
    POLLNVAL,
    POLLRDBAND,
    POLLRDNORM,
    POLLWRBAND,
    POLLWRNORM,
    SOCKET_ERROR,
    WSAEINTR,
    WSAEINVAL,
    WSAENOTSOCK,
    WSANOTINITIALISED,
)
from ..structs import FD_SET_LAYOUTS
from .base import (
    _CANCEL_CHECK,
    CONNECTED,
    CONNECTING,
    DATAGRAM,
    LISTENING,
    UNCONNECTED,
    ProviderSocket,
)
from .errors import winsock_error
from .events import _Events

_Abi = Literal["x64", "x86"]


class _Select(_Events):
    """WSPSelect over the sockets of this provider."""

    def WSPSelect(self, nfds: Any, readfds: Any, writefds: Any, exceptfds: Any, timeout: Any,
                  lpErrno: Any, /) -> int:
        """Wait until sockets are ready: the count of ready entries, 0 on timeout, or SOCKET_ERROR.

        ``readfds``, ``writefds``, ``exceptfds``: None, a ``ws2core.FdSet`` or any writable
        buffer in the fd_set layout of the upcall table's ABI (x64 unless the table was made
        with ``abi="x86"``), each rewritten in place, as Windows does, to hold
        only its ready sockets, in their order (on timeout, emptied).  Read: data, a pending
        connection on a listener, or the peer closed or reset; write: connected and able to
        send (a non-blocking connect succeeded); except: a non-blocking connect failed.  A
        socket neither connected nor listening is never ready.  ``timeout``: None to wait
        without limit, a TIMEVAL or a number of seconds (negative: WSAEINVAL); on a thread
        with a ``blocking_limit``, at most that.  ``nfds`` is ignored, as on Windows.  No
        set, or only empty ones: WSAEINVAL; an entry that is not a socket of this provider:
        WSAENOTSOCK, with the sets untouched.
        """
        require_out_parameter(lpErrno, "lpErrno")
        upcalls = self.upcalls
        abi: _Abi = "x64" if upcalls is None else upcalls.table.abi
        sets = [_SelectSet(fds, abi) if fds is not None else None
                for fds in (readfds, writefds, exceptfds)]
        seconds = _select_timeout(timeout)
        if upcalls is None:
            lpErrno.value = WSANOTINITIALISED
            return SOCKET_ERROR
        if all(fds is None or not fds.entries for fds in sets) or (seconds is not None and seconds < 0):
            lpErrno.value = WSAEINVAL
            return SOCKET_ERROR
        if self._capped:
            cap = self.current_blocking_limit()
            if cap is not None and (seconds is None or seconds > cap):
                seconds = cap  # the thread's blocking_limit: a timeout like any other
        handles = list(dict.fromkeys(h for fds in sets if fds is not None for h in fds.entries))
        entered: list[ProviderSocket] = []
        try:
            for handle in handles:
                sock = self._enter(handle, lpErrno)
                if sock is None:
                    return SOCKET_ERROR
                entered.append(sock)
            try:
                ready = self._select(upcalls, entered, sets, seconds)
            except OSError as error:
                lpErrno.value = winsock_error(error)
                return SOCKET_ERROR
        finally:
            for sock in entered:
                self._leave(sock)
        count = 0
        for fds, ready_set in zip(sets, ready):
            if fds is not None:
                count += fds.keep(functools.partial(_is_member, upcalls, ready_set))
        return count

    def _select(self, upcalls: _upcalls.UpcallTable, socks: list[ProviderSocket],
                sets: list[_SelectSet | None], seconds: float | None) -> list[Any]:
        """The three fd_sets of ready sockets (ws2core.FdSet), after waiting if need be."""
        # Which sets each socket is in, asked as a provider asks: WPUFDIsSet on the set.
        membership = {
            sock: tuple(fds is not None and bool(upcalls.WPUFDIsSet(sock.handle, fds.buffer))
                        for fds in sets)
            for sock in socks
        }
        deadline = None if seconds is None else time.monotonic() + seconds
        while True:
            ready: list[list[int]] = [[], [], []]
            poller = select.poll()
            watched: dict[int, ProviderSocket] = {}
            for sock, (in_read, in_write, in_except) in membership.items():
                self._resolve_connect(sock)
                if in_except and sock.state == UNCONNECTED and sock.pending_error:
                    ready[2].append(sock.handle)  # a non-blocking connect that failed
                events = 0
                if in_read and sock.state in (CONNECTED, LISTENING, DATAGRAM):
                    events |= select.POLLIN
                if in_write and sock.state in (CONNECTED, DATAGRAM):
                    events |= select.POLLOUT
                if sock.state == CONNECTING and (in_write or in_except):
                    events |= select.POLLOUT  # the connect finishing, either way
                if in_except and sock.state == CONNECTED:
                    events |= select.POLLPRI
                if events:
                    poller.register(sock.host, events)
                    watched[sock.host.fileno()] = sock
            if deadline is None:
                budget = _CANCEL_CHECK
            else:
                budget = max(0.0, min(deadline - time.monotonic(), _CANCEL_CHECK))
            if any(ready):
                budget = 0.0
            if watched:
                found = poller.poll(budget * 1000)
            else:
                found = []
                if budget:  # nothing can become ready but by the clock; a zero timeout
                    time.sleep(budget)  # returns at once (sleep(0) would yield the CPU)
            for fd, revents in found:
                sock = watched[fd]
                in_read, in_write, in_except = membership[sock]
                if sock.state == CONNECTING:
                    self._resolve_connect(sock)
                    if sock.state == CONNECTED and in_write:
                        ready[1].append(sock.handle)
                    elif sock.state == UNCONNECTED and in_except:
                        ready[2].append(sock.handle)
                    continue
                if in_read and revents & (select.POLLIN | select.POLLHUP | select.POLLERR):
                    ready[0].append(sock.handle)
                if in_write and revents & select.POLLOUT:
                    ready[1].append(sock.handle)
                if in_except and revents & select.POLLPRI:
                    ready[2].append(sock.handle)
            if any(sock.closed for sock in socks):
                raise WinsockError(WSAEINTR, "a socket was closed during WSPSelect")
            if any(ready) or (deadline is not None and time.monotonic() >= deadline):
                return [FdSet(handles, capacity=max(1, len(handles))) for handles in ready]


def _is_member(upcalls: _upcalls.UpcallTable, fds: Any, handle: int) -> int:
    return upcalls.WPUFDIsSet(handle, fds)


class _SelectSet:
    """One fd_set argument of WSPSelect: its entries, read once, and its rewriting.

    An FdSet is read in its own layout, a bare buffer in the table's (``abi``).
    """

    def __init__(self, fds: Any, abi: _Abi) -> None:
        try:
            view = memoryview(fds)
        except TypeError:
            raise TypeError(f"an fd_set is a ws2core.FdSet or a buffer, not {type(fds).__name__}") from None
        if view.readonly:
            raise TypeError("WSPSelect rewrites its fd_sets: a read-only buffer cannot be one")
        if isinstance(fds, FdSet):
            abi = fds.abi
        self.layout = FD_SET_LAYOUTS[abi]
        self.buffer = fds
        # The core's reading: contiguity, fd_count within the buffer, the layout.
        self.entries = list(FdSet.from_buffer(fds, abi=abi))
        self.view = view.cast("B")

    def keep(self, ready: Callable[[int], int]) -> int:
        """Rewrite the set in place with the entries for which ``ready`` is true; their count."""
        kept = [handle for handle in self.entries if ready(handle)]
        self.layout.pack_into(self.view, kept)  # x64: the padding after fd_count is left alone
        return len(kept)


def _select_timeout(timeout: Any) -> float | None:
    """WSPSelect's timeout in seconds: None (no limit), a TIMEVAL-like, or a number."""
    if timeout is None:
        return None
    if hasattr(timeout, "tv_sec") and hasattr(timeout, "tv_usec"):
        seconds, micro = _index(timeout.tv_sec), _index(timeout.tv_usec)
        if seconds < 0 or micro < 0:
            return -1.0
        return seconds + micro / 1_000_000
    if isinstance(timeout, (int, float)) and not isinstance(timeout, bool):
        if timeout != timeout:
            return -1.0  # NaN: no timeout at all, refused as a negative one
        try:
            return float(timeout)
        except OverflowError:  # an int past every float: longer than any wait, or negative
            return math.inf if timeout > 0 else -1.0
    raise TypeError(f"timeout is None, a TIMEVAL or seconds, not {type(timeout).__name__}")


# --- WSAPoll: Ws2_32 serves it through the provider's WSPIoctl on Windows (an AFD poll, no
# WSP function of its own); here it is the provider's ``poll``, beside WSPSelect, which waits
# the same way.

_POLL_REQUESTS: Final = POLLRDNORM | POLLRDBAND | POLLWRNORM | POLLWRBAND


@dataclass
class WSAPOLLFD:
    """One entry of WSAPoll's array, in Python form: ``fd`` (a SOCKET), ``events`` (what is
    asked) and ``revents`` (what ``HostSocketProvider.poll`` answers, rewritten by it)."""

    fd: int
    events: int
    revents: int = 0


class _Poll(_Select):
    """poll: WSAPoll over the sockets of this provider."""

    def poll(self, fdArray: Sequence[WSAPOLLFD], timeout: Any, lpErrno: Any, /) -> int:
        """Wait until an entry of ``fdArray`` is ready: the count of entries whose ``revents``
        is nonzero, 0 on timeout, or SOCKET_ERROR.

        ``events`` may ask for POLLRDNORM (data, a pending connection, the end of the stream),
        POLLRDBAND (an urgent byte waiting), POLLWRNORM (able to send) and POLLWRBAND; any
        other bit (POLLPRI included, as Windows' own provider refuses it) is WSAEINVAL.
        ``revents`` gets what was asked and is ready, and without being asked POLLHUP (the
        peer closed or reset the connection; a failed connect), POLLERR (a failed connect)
        and POLLNVAL (the entry is no socket of this provider, and is not counted).  A
        socket neither connected, connecting, listening nor a datagram one is never ready.
        No entry that is a socket: WSAENOTSOCK.  (Both as Wine 8, whose WSAPoll was written
        against its tests on Windows; the documentation says WSAEINVAL for the second.)
        The end of the stream is POLLRDNORM (a receive returns 0), as in Wine 8; POLLHUP
        comes with the host's hangup (a reset, or both directions shut).  ``timeout`` in ms: negative waits without limit, 0 returns
        at once; on a thread with a ``blocking_limit``, at most that.  Every entry's
        ``revents`` is rewritten, 0 where nothing happened.
        """
        require_out_parameter(lpErrno, "lpErrno")
        entries = list(fdArray)
        milliseconds = _index(timeout)
        if self.upcalls is None:
            lpErrno.value = WSANOTINITIALISED
            return SOCKET_ERROR
        if any(_index(entry.events) & ~_POLL_REQUESTS & 0xFFFF for entry in entries):
            lpErrno.value = WSAEINVAL
            return SOCKET_ERROR
        seconds = None if milliseconds < 0 else milliseconds / 1000
        if self._capped:
            cap = self.current_blocking_limit()
            if cap is not None and (seconds is None or seconds > cap):
                seconds = cap
        entered: dict[int, ProviderSocket] = {}
        try:
            for entry in entries:
                handle = _index(entry.fd)
                if handle not in entered:
                    sock = self._enter(handle, Ref(0))
                    if sock is not None:
                        entered[handle] = sock
            if not entered:
                lpErrno.value = WSAENOTSOCK
                return SOCKET_ERROR
            try:
                answers = self._poll(entries, entered, seconds)
            except OSError as error:
                lpErrno.value = winsock_error(error)
                return SOCKET_ERROR
            except WinsockError as error:
                lpErrno.value = error.winerror
                return SOCKET_ERROR
        finally:
            for sock in entered.values():
                self._leave(sock)
        for entry, revents in zip(entries, answers):
            entry.revents = revents
        return sum(1 for revents in answers if revents & ~POLLNVAL)

    def _poll(self, entries: list[WSAPOLLFD], socks: dict[int, ProviderSocket],
              seconds: float | None) -> list[int]:
        deadline = None if seconds is None else time.monotonic() + seconds
        while True:
            poller = select.poll()
            watched: dict[int, ProviderSocket] = {}
            for sock in socks.values():
                self._resolve_connect(sock)
                if sock.state in (CONNECTED, LISTENING, DATAGRAM, CONNECTING):
                    poller.register(sock.host, select.POLLIN | select.POLLOUT | select.POLLPRI)
                    watched[sock.host.fileno()] = sock
            found = dict(poller.poll(0)) if watched else {}
            answers = [self._revents(entry, socks.get(_index(entry.fd)), found) for entry in entries]
            if any(sock.closed for sock in socks.values()):
                raise WinsockError(WSAEINTR, "a socket was closed during WSAPoll")
            if any(answers) or (deadline is not None and time.monotonic() >= deadline):
                return answers
            if deadline is None:
                budget = _CANCEL_CHECK
            else:
                budget = max(0.0, min(deadline - time.monotonic(), _CANCEL_CHECK))
            if watched:
                poller.poll(budget * 1000)  # wake on any change; the next round reads it
            else:
                time.sleep(budget)

    def _revents(self, entry: WSAPOLLFD, sock: ProviderSocket | None, found: dict[int, int]) -> int:
        """The Windows revents of one entry from the host's poll of its socket."""
        if sock is None:
            return POLLNVAL
        asked = _index(entry.events)
        if sock.state == CONNECTING:
            self._resolve_connect(sock)
        if sock.state == UNCONNECTED:
            return POLLHUP | POLLERR if sock.pending_error else 0  # a connect that failed
        host = found.get(sock.host.fileno(), 0) if sock.state != CONNECTING else 0
        ready = 0
        if host & select.POLLIN:
            ready |= POLLRDNORM
        if host & select.POLLPRI and sock.state == CONNECTED:
            ready |= POLLRDBAND
        if host & select.POLLOUT and sock.state in (CONNECTED, DATAGRAM):
            ready |= POLLWRNORM | POLLWRBAND
        revents = ready & asked
        if sock.state == CONNECTED and host & (select.POLLHUP | select.POLLERR):
            revents |= POLLHUP
        return revents
