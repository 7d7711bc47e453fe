"""What every concern of the provider shares: the per-socket state and the calling convention.

``ProviderSocket`` is the context each SOCKET carries in the upcall table; ``_ProviderBase``
holds the provider-wide state (the table it serves, its lock, its sockets, its reactor) and
finds the socket behind a handle for a WSP call (``_enter``/``_leave``/``_call``), mapping a
WinsockError or host OSError to the call's failure.  The concerns are mixins over it
(sockets, transfer, options, select, events), assembled in ``ws2core.provider``.

It also holds the per-thread cap on blocking (``blocking_limit``): an emulator that runs
every guest thread on one host thread (Speakeasy) cannot let one call sleep until a peer
that only another guest thread could be answers; each blocking path asks
``_capped_seconds`` and, under a cap, waits in ``_wait_host`` instead of in the host's
kernel.
"""

from __future__ import annotations

import contextlib
import logging
import math
import select
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager
from operator import index as _index
from typing import TYPE_CHECKING, Any, Final

from .. import Ref
from .. import upcalls as _upcalls
from .._shared import WinsockError, require_out_parameter
from ..constants import (
    AF_INET,
    FD_MAX_EVENTS,
    INVALID_SOCKET,
    SOCK_STREAM,
    WSAEINTR,
    WSAEINVAL,
    WSAENOTSOCK,
    WSANOTINITIALISED,
)
from ..policy import Attempt, Decision, Kind, NetworkPolicy
from .arguments import _ANY_ADDRESS
from .errors import winsock_error

if TYPE_CHECKING:
    from .events import _Reactor
    from .overlapped import _Operation, _Request

_CANCEL_CHECK: Final = 0.5  # seconds: how often a blocked call looks whether it was closed

log: Final = logging.getLogger("ws2core.provider")

# Connection states of a stream socket (a datagram socket is always DATAGRAM).
UNCONNECTED: Final = "unconnected"
CONNECTING: Final = "connecting"
CONNECTED: Final = "connected"
LISTENING: Final = "listening"
DATAGRAM: Final = "datagram"


class ProviderSocket:
    """What the provider keeps per socket: the context of its SOCKET in the upcall table.

    ``host`` is the host socket, in the Windows socket's blocking mode (a blocking call
    sleeps in the host's kernel, with SO_RCVTIMEO and SO_SNDTIMEO as the program set them,
    unless the calling thread has a ``blocking_limit``); ``state`` one of "unconnected",
    "connecting", "connected", "listening" (stream) or "datagram".  The event-select fields
    follow WSAEventSelect and WSAAsyncSelect: ``event`` (WSPEventSelect's) or ``window``
    and ``message`` (WSPAsyncSelect's; one of the two is 0) and ``network_events`` (the
    FD_* mask) as selected, ``recorded`` and ``error_codes`` as WSPEnumNetworkEvents will
    report them (an event selection's only), and ``held``: events recorded and not yet
    re-enabled by their re-enabling call (a new selection does not re-enable them); ``connect_owed``: the error of a connect that
    finished while FD_CONNECT was not wanted (-1: none), recorded when it is.  What the
    network policy decided: ``attempt`` is the connection's record (its byte counts),
    ``asked_peer`` the address the program connected to when the host went elsewhere (a
    redirect), ``wildcard`` true when a bind to the any address was confined to loopback
    (getsockname still shows the any address), ``destinations`` a datagram socket's
    decision per destination and ``replies``, per host address it sends to, the address asked
    for (when redirected, so that a reply shows the address the program sent to) and the
    record that counts its traffic.  ``overlapped``: made with WSA_FLAG_OVERLAPPED (an
    accepted socket has its listener's), which only such a socket's calls may use;
    ``receives`` and ``sends``: its pending overlapped operations, oldest first
    (``ws2core.provider.overlapped``), ``driving``: a thread is trying them again now.
    ``accepting``: the request of the last AcceptEx given this socket as its accept socket
    (``extensions``): while it is not done, no other AcceptEx may take the socket.  ``sharing``: for a socket WSPDuplicateSocket duplicated, every ProviderSocket over the
    same host socket (each over its own host descriptor), which share its blocking mode.
    """

    __slots__ = (
        "provider", "handle", "host", "family", "type", "state", "nonblocking", "closed",
        "users", "peer_closed", "shut_send", "shut_receive", "pending_error",
        "receive_timeout", "send_timeout", "event", "window", "message", "network_events", "recorded",
        "error_codes", "held", "connect_owed", "read_parked", "interest", "watched",
        "stream_error", "attempt", "asked_peer", "wildcard", "destinations", "replies",
        "exclusive_address", "buffer_sizes", "overlapped", "sharing", "receives", "sends",
        "driving", "accepting", "bound", "catalog_entry_id", "__weakref__",
    )

    def __init__(self, provider: _ProviderBase, host: socket.socket, family: int,
                 type: int, state: str, catalog_entry_id: int) -> None:
        self.provider = provider
        self.handle = INVALID_SOCKET
        self.catalog_entry_id = catalog_entry_id  # the entry it was made for: its handle's
        self.host = host
        self.family = family
        self.type = type
        self.state = state
        self.nonblocking = False
        self.overlapped = False    # made with WSA_FLAG_OVERLAPPED (socket() makes them so)
        self.sharing: list[ProviderSocket] | None = None  # the handles of a duplicated socket
        self.receives: deque[_Operation] = deque()  # pending overlapped receives, in order
        self.sends: deque[_Operation] = deque()
        self.driving = False
        self.accepting: _Request | None = None
        self.closed = False
        # WSP calls in progress, an item each: counted without the lock, list.append and
        # list.pop being atomic (see _enter); the host socket closes when none is left.
        self.users: list[None] = []
        self.peer_closed = False   # end of stream or reset seen
        self.shut_send = False
        self.shut_receive = False
        self.pending_error = 0     # SO_ERROR: a failed non-blocking connect's code
        self.receive_timeout = 0   # SO_RCVTIMEO, ms; 0 = none
        self.send_timeout = 0
        self.event = 0
        self.window = 0            # WSPAsyncSelect's HWND and message (0: no window)
        self.message = 0
        self.network_events = 0
        self.recorded = 0
        self.error_codes = [0] * FD_MAX_EVENTS
        self.held = 0
        self.connect_owed = -1
        self.read_parked = False   # readable, but nothing to record until the next receive
        self.interest = 0          # selector events the reactor should watch
        self.watched = False       # ever handed to the reactor: it must let go before close
        self.stream_error = 0      # a reset the reactor saw first; receives report it
        self.attempt: Attempt | None = None
        self.asked_peer: tuple[Any, ...] | None = None
        self.wildcard = False
        self.destinations: dict[tuple[Any, ...], Decision] = {}
        self.replies: dict[tuple[Any, ...], tuple[tuple[Any, ...] | None, Attempt | None]] = {}
        self.exclusive_address = False  # SO_EXCLUSIVEADDRUSE: the provider's (no host twin)
        self.buffer_sizes: dict[int, int] = {}  # SO_RCVBUF/SO_SNDBUF as set (Linux doubles them)
        self.bound = False  # seen bound by _is_bound (which asks the host until it is)

    def __repr__(self) -> str:
        kind = "TCP" if self.type == SOCK_STREAM else "UDP"
        family = "IPv4" if self.family == AF_INET else "IPv6"
        flags = " closed" if self.closed else ""
        return f"<ProviderSocket {self.handle:#x} {kind}/{family} {self.state}{flags}>"



class _BlockingLimit:
    """``blocking_limit``'s block for one cap: a class rather than a generator, since the
    guest layer enters one around every export call, and this costs half as much."""

    __slots__ = ("_cap", "_outer", "_provider")

    def __init__(self, provider: _ProviderBase, cap: float) -> None:
        self._provider = provider
        self._cap = cap
        self._outer: float | None = None

    def __enter__(self) -> None:
        provider = self._provider
        local = provider._limits
        outer: float | None = getattr(local, "seconds", None)
        self._outer = outer
        local.seconds = self._cap if outer is None else min(self._cap, outer)
        with provider._lock:
            provider._capped += 1

    def __exit__(self, *exc_info: object) -> None:
        provider = self._provider
        provider._limits.seconds = self._outer
        with provider._lock:
            provider._capped -= 1


_NO_LIMIT: Final = contextlib.nullcontext()
"""``blocking_limit(None)``: no cap added."""


class _ProviderBase:
    """The provider's own state, and a WSP call's way to the socket behind its handle."""

    def __init__(self, catalog_entry_id: int | None = None, *,
                 policy: NetworkPolicy | None = None) -> None:
        self.catalog_entry_id = None if catalog_entry_id is None else _index(catalog_entry_id)
        if self.catalog_entry_id is not None and not 0 <= self.catalog_entry_id <= 0xFFFFFFFF:
            raise ValueError(f"catalog_entry_id must be a DWORD, not {self.catalog_entry_id}")
        if policy is None:
            policy = NetworkPolicy.loopback_only()
        elif not isinstance(policy, NetworkPolicy):
            raise TypeError(f"policy must be a ws2core.policy.NetworkPolicy, not {type(policy).__name__}")
        self.policy = policy
        self.upcalls: _upcalls.UpcallTable | None = None
        self._startups = 0
        self._lock = threading.Lock()
        self._sockets: set[ProviderSocket] = set()
        self._reactor: _Reactor | None = None
        self._completions = threading.Condition()  # notified at each overlapped completion
        self._limits = threading.local()  # .seconds: the calling thread's cap, if any
        self._capped = 0  # caps in force, every thread's: 0 keeps the hot path off the local
        self._duplicates: dict[int, ProviderSocket] = {}  # WSPDuplicateSocket's, until used
        self._next_duplicate = 1

    def __repr__(self) -> str:
        with self._lock:
            count, reactor = len(self._sockets), self._reactor is not None
        where = "not started" if self.upcalls is None else f"{count} sockets"
        entries = ("the base entries" if self.catalog_entry_id is None
                   else f"catalog entry {self.catalog_entry_id}")
        return (f"<HostSocketProvider of {entries}: {where}"
                f"{', reactor running' if reactor else ''}, network {self.policy.description}>")

    # --- the per-thread cap on blocking

    def blocking_limit(self, seconds: float | None) -> AbstractContextManager[None]:
        """Within the ``with`` block, no call of this thread blocks longer than ``seconds``.

        For an emulator that runs its guest threads one at a time on the host thread that
        runs the emulation (Speakeasy): a guest's blocking call must not wait for a peer
        that only another guest thread could be.  The cap holds for the calling thread only;
        other threads' calls on the same provider are not capped.  A nested cap never lifts
        an outer one (the shorter holds); None adds no cap.  A capped call that runs out
        returns what the running out of the matching Windows timeout returns:

        - WSPRecv, WSPRecvFrom: WSAETIMEDOUT, as an expired SO_RCVTIMEO; nothing is taken
          from the socket (with MSG_WAITALL, what came so far is returned as a success);
        - WSPSend, WSPSendTo: WSAETIMEDOUT when nothing went; when part went, success with
          the count of the bytes that went, as a non-blocking send reports them (the rest
          is for the program to send again: nothing is lost unreported);
        - WSPConnect: WSAETIMEDOUT, as an expired SO_SNDTIMEO; the host goes on trying, so
          the socket is connecting: another WSPConnect is WSAEALREADY, and once the attempt
          is over WSPSelect, SO_ERROR and the other calls see its outcome, as after a
          non-blocking connect;
        - WSPAccept (whose Windows form has no timeout): WSAETIMEDOUT, the answer it already
          gives when SO_RCVTIMEO runs out at the host; the listener goes on listening and a
          connection that comes later waits for the next accept;
        - WSPSelect: 0, its own timeout, with the sets emptied;
        - WSPGetOverlappedResult with fWait: FALSE with WSA_IO_INCOMPLETE, what it says
          without fWait of an operation still pending;
        - WSPCloseSocket of a socket lingering (SO_LINGER) longer than the cap: it waits at
          most the cap, rounded up to a second (the host goes on sending what is left).

        A close from another thread still ends a capped call at once, with WSAEINTR.
        Negative or NaN ``seconds``: ValueError.
        """
        if seconds is None:
            return _NO_LIMIT
        cap = float(seconds)
        if not cap >= 0:
            raise ValueError(f"a blocking limit is a number of seconds >= 0, not {seconds!r}")
        return _BlockingLimit(self, cap)

    def current_blocking_limit(self) -> float | None:
        """The calling thread's cap on blocking, in seconds (``blocking_limit``), or None."""
        seconds: float | None = getattr(self._limits, "seconds", None)
        return seconds

    def _capped_seconds(self, timeout_ms: int) -> float | None:
        """How long a blocking call of this thread may wait when it is capped: the cap, or
        the socket's own timeout (SO_RCVTIMEO, SO_SNDTIMEO, in ms; 0: none) if shorter.
        None: not capped, the call blocks in the host as the program asked."""
        cap: float | None = getattr(self._limits, "seconds", None)
        if cap is None or math.isinf(cap):
            return None
        if timeout_ms and timeout_ms / 1000 < cap:
            return timeout_ms / 1000
        return cap

    @staticmethod
    def _wait_host(sock: ProviderSocket, events: int, deadline: float) -> bool:
        """Wait until ``sock``'s host socket has one of the poll ``events`` (or an error or
        hang-up), or the monotonic ``deadline`` passes: True when it is ready.  A close from
        another thread ends the wait with WinsockError(WSAEINTR): its shutdown wakes the
        poll, and a slice of ``_CANCEL_CHECK`` bounds the wait if that were missed."""
        poller = select.poll()
        poller.register(sock.host, events)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:  # a host that says ready and then would block again cannot
                return False  # keep a capped call past its cap
            ready = poller.poll(min(left, _CANCEL_CHECK) * 1000)
            if sock.closed:
                raise WinsockError(WSAEINTR, "the socket was closed during the call")
            if ready:
                return True
            if left <= _CANCEL_CHECK:
                return False

    # --- finding a socket: the context of its handle

    def _enter(self, s: Any, lpErrno: Any) -> ProviderSocket | None:
        """The socket behind handle ``s``, counted as in use; None with lpErrno written."""
        upcalls = self.upcalls
        if upcalls is None:
            lpErrno.value = WSANOTINITIALISED
            return None
        context = Ref()
        if upcalls.WPUQuerySocketHandleContext(s, context, lpErrno) != 0:
            return None  # WSAENOTSOCK is in lpErrno already
        sock = context.value
        if sock.__class__ is not ProviderSocket or sock.provider is not self:
            lpErrno.value = WSAENOTSOCK  # another provider's socket
            return None
        # No lock (two of them cost a third of a call's Python): the call is counted first,
        # then ``closed`` is read.  _close sets ``closed`` first, then counts the calls
        # (under the lock); so either it counts this call, and shuts the host socket down
        # rather than closing it (the last call to leave closes it), or this call sees
        # ``closed`` and leaves at once, touching nothing.
        sock.users.append(None)
        if sock.closed:
            self._leave(sock)
            lpErrno.value = WSAENOTSOCK  # closing now
            return None
        return sock

    def _leave(self, sock: ProviderSocket) -> None:
        users = sock.users
        users.pop()
        if sock.closed and not users:
            # More than one call may get here (and _close too) as they leave together:
            # closing a closed host socket does nothing.
            self._close_host(sock)

    def _close_host(self, sock: ProviderSocket) -> None:
        """Close the host socket; on a capped thread, a linger (SO_LINGER) longer than the
        cap is shortened to it first (Linux lingers in close() whatever the socket's mode,
        and then goes on sending in the background: nothing is lost by waiting less)."""
        if self._capped and not sock.nonblocking:
            cap = self._capped_seconds(0)
            if cap is not None:
                try:
                    onoff, seconds = struct.unpack(
                        "ii", sock.host.getsockopt(socket.SOL_SOCKET, socket.SO_LINGER, 8))
                    if onoff and seconds > cap:
                        sock.host.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                             struct.pack("ii", 1, max(1, math.ceil(cap))))
                except OSError:
                    pass  # the close itself will say what is wrong, if anything
        sock.host.close()

    @staticmethod
    def _set_nonblocking(sock: ProviderSocket, on: bool) -> None:
        """The Windows socket's blocking mode, and its host socket's, under the lock: one
        mode for every handle of a duplicated socket, whose host descriptors share it."""
        for each in sock.sharing or (sock,):
            each.nonblocking = on
        sock.host.setblocking(not on)

    @staticmethod
    def _is_bound(sock: ProviderSocket) -> bool:
        # Every bound socket has a port, and stays bound: once seen, the host is not asked
        # again (a datagram receive asks each time, a system call).
        if not sock.bound:
            sock.bound = bool(sock.host.getsockname()[1])
        return sock.bound

    @staticmethod
    def _has_peer(sock: ProviderSocket) -> bool:
        try:
            sock.host.getpeername()
        except OSError:
            return False
        return True

    # --- the network policy: asked before every host call that could leave the machine

    def _decide(self, sock: ProviderSocket, kind: Kind, address: tuple[Any, ...]) -> Decision:
        """The policy's decision (on record) for ``kind`` of ``sock`` to ``address``; a
        redirect's target is remembered so that replies show the address asked for."""
        decision = self.policy.decide(kind, "tcp" if sock.type == SOCK_STREAM else "udp", address)
        if sock.type != SOCK_STREAM and kind != "bind" and not decision.error:
            with self._lock:
                sock.replies[decision.target[:2]] = (
                    address if decision.verdict == "redirected" else None, decision.attempt)
        return decision

    def _bind_implicitly(self, sock: ProviderSocket) -> None:
        """Bind an unbound datagram socket before its first send, as the host would, but
        where the policy confines the any address (on loopback): otherwise the host binds it
        to every interface, and anyone could send to it."""
        if self._is_bound(sock):
            return
        any_address = (_ANY_ADDRESS[sock.family], 0)
        decision = self.policy.decide("bind", "udp", any_address, record=False)
        if decision.verdict == "redirected":
            sock.host.bind(decision.target)
            with self._lock:
                sock.wildcard = True

    def _datagram_decision(self, sock: ProviderSocket, address: tuple[Any, ...]) -> Decision:
        """The decision for datagrams from ``sock`` to ``address``: one per destination and
        socket, decided and recorded on the first, which binds an unbound socket unless
        refused (a refused datagram makes no host call at all)."""
        decision = sock.destinations.get(address)
        if decision is None:
            decision = self._decide(sock, "sendto", address)
            if not decision.error:
                self._bind_implicitly(sock)
            with self._lock:
                decision = sock.destinations.setdefault(address, decision)
        elif decision.sink_key is not None:
            current = self.policy.retarget(decision)
            if current is not decision:  # the sink closed the old endpoint: a new one
                with self._lock:
                    sock.destinations[address] = current
                    sock.replies[current.target[:2]] = (address, current.attempt)
                decision = current
        return decision

    # Blocking: the host socket is in the Windows socket's mode, so a blocking call sleeps in
    # the host's kernel without the GIL, as a raw socket would (unless the thread is capped:
    # blocking_limit).  A close from another thread shuts the host socket down, which wakes
    # it; the call then reports WSAEINTR, here.

    def _call(self, s: Any, lpErrno: Any, failure: int, body: Callable[..., int], *args: Any) -> int:
        """Run ``body(sock, *args)`` on the socket behind ``s``; a WinsockError or a host
        OSError becomes ``failure`` with its code in lpErrno.

        The backstop: a ValueError or ArithmeticError (OverflowError) is the host socket
        module refusing a value that no check before it caught, which Windows, whose fields
        are C integers and bytes, would have taken or refused with an error code: it becomes
        WSAEINVAL, logged on the ``ws2core.provider`` logger.  A TypeError stays an exception
        (the caller passed the wrong kind of Python object), and so does whatever the
        caller's own code raises (a WSPAccept condition function: ``CallerRaised``).
        """
        if lpErrno.__class__ is not Ref:  # a Ref needs no look (the usual lpErrno)
            require_out_parameter(lpErrno, "lpErrno")
        sock = self._enter(s, lpErrno)
        if sock is None:
            return failure
        try:
            return body(sock, *args)
        except OSError as error:
            # A host error after a close in another thread is that close's doing; an
            # overlapped operation's own answer stands (the close completes it, aborted).
            closed = sock.closed and not isinstance(error, OverlappedOutcome)
            lpErrno.value = WSAEINTR if closed else winsock_error(error)
            return failure
        except CallerRaised as raised:
            raise raised.error from raised.error.__cause__
        except (ValueError, ArithmeticError):
            log.warning("%s: the host refused an argument; answered WSAEINVAL",
                        getattr(body, "__name__", "a call"), exc_info=True)
            lpErrno.value = WSAEINTR if sock.closed else WSAEINVAL
            return failure
        finally:
            self._leave(sock)


class OverlappedOutcome(WinsockError):
    """An overlapped call's answer (WSA_IO_PENDING, or an operation's error that
    WSPGetOverlappedResult reports): ``_call`` reports it as it is, even when the socket was
    closed meanwhile."""


class CallerRaised(Exception):
    """The exception of the caller's own code (a WSPAccept condition function) on its way out
    of a WSP call: ``_call`` raises ``error`` again, never taking it for the host's."""

    def __init__(self, error: Exception) -> None:
        super().__init__(error)
        self.error = error
