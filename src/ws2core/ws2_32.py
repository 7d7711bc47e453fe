"""Ws2_32: the Windows Sockets API one process calls, as Python methods (layer 3).

``Ws2_32`` is what ws2_32.dll's exports do once their arguments are in hand: the WSAStartup
count, the per-thread last error, the checks Windows makes before it touches a caller's
memory, and the dispatch of each socket call to the provider behind it.  It owns no guest
memory (``ws2core.guest`` reads and writes that, layer 4) and no host socket (the provider
does, layer 2).  Names, argument order and results are Windows'; the arguments take Python
forms, as ``HostSocketProvider``'s WSP functions do: a sockaddr is an address tuple or
Windows sockaddr bytes, a buffer any buffer, an fd_set a ``ws2core.FdSet`` or a buffer in
the upcall table's ABI, an out-parameter a ``ws2core.Ref`` (or anything with ``.value``).

A failure returns the function's failure value (SOCKET_ERROR, INVALID_SOCKET,
WSA_INVALID_EVENT, FALSE, WSA_WAIT_FAILED) and sets the calling thread's last error, which
``WSAGetLastError()`` reads: the UpcallTable's, one per thread and per Ws2_32, as on
Windows.  A success leaves the last error alone (what the Speakeasy adapter has always
done; Windows sets 0 after most successful calls, DESIGN.md §5).

The network policy (``ws2core.policy``) is the provider's: ``Ws2_32(policy=...)`` hands it
to the provider it makes, and ``Ws2_32.policy`` is the one its name lookups will ask.  Not
here yet: the catalog (``Ws2_32(upcalls, *, catalog=None, ...)`` in DESIGN.md §5) comes with
its own issue; until then one provider serves every socket.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from operator import index as _index
from typing import Any, Final, NamedTuple

from . import Ref, UpcallTable, WinsockError
from .constants import (
    FALSE,
    FIONREAD,
    FROM_PROTOCOL_INFO,
    INVALID_SOCKET,
    SG_CONSTRAINED_GROUP,
    SG_UNCONSTRAINED_GROUP,
    SOCKET_ERROR,
    WSA_FLAG_OVERLAPPED,
    WSA_INFINITE,
    WSA_INVALID_EVENT,
    WSAEFAULT,
    WSAEINVAL,
    WSAENOTSOCK,
    WSAEOPNOTSUPP,
    WSANOTINITIALISED,
    WSAVERNOTSUPPORTED,
)
from .policy import NetworkPolicy
from .provider import HostSocketProvider

__all__ = ["HIGHEST_VERSION", "WSADATA", "Ws2_32"]

HIGHEST_VERSION: Final = 0x0202
"""Winsock 2.2, MAKEWORD(2, 2): the highest version WSAStartup grants."""


class WSADATA(NamedTuple):
    """What WSAStartup writes into its WSADATA, in Python form (lpVendorInfo is NULL).

    ``ws2core.guest`` packs it in the guest's layout (the pointer moves on x64)."""

    wVersion: int
    wHighVersion: int
    iMaxSockets: int
    iMaxUdpDg: int
    szDescription: bytes = b"WinSock 2.0"
    szSystemStatus: bytes = b"Running"


class Ws2_32:
    """One process's Ws2_32: ``Ws2_32(upcalls=None, *, provider=None, policy=None)``.

    ``upcalls`` is the ``ws2core.UpcallTable`` holding the process's sockets and events
    (default: a new x64 one); ``provider`` the ``HostSocketProvider`` behind every socket
    (default: a new one, with ``policy``: ``NetworkPolicy.loopback_only()`` unless given),
    started with ``upcalls`` by each WSAStartup and cleaned up by each WSACleanup, as long as
    no other table holds it.  ``close()`` (or leaving a ``with``
    block) closes the provider's sockets and every handle left in the table, and forgets
    every WSAStartup.  Thread-safe as its provider and table are.
    """

    def __init__(self, upcalls: UpcallTable | None = None, *,
                 provider: HostSocketProvider | None = None,
                 policy: NetworkPolicy | None = None) -> None:
        if upcalls is None:
            upcalls = UpcallTable()
        elif not isinstance(upcalls, UpcallTable):
            raise TypeError(f"table must be a ws2core.UpcallTable, not {type(upcalls).__name__}")
        if provider is None:
            provider = HostSocketProvider(policy=policy)
        elif not isinstance(provider, HostSocketProvider):
            raise TypeError(f"provider must be a HostSocketProvider, not {type(provider).__name__}")
        elif provider.upcalls is not None and provider.upcalls is not upcalls:
            raise ValueError("the provider already serves another UpcallTable")
        elif policy is not None and provider.policy is not policy:
            raise ValueError("the provider has a network policy of its own: give the policy "
                             "to the provider, or give Ws2_32 no provider")
        self.upcalls = upcalls
        self.provider = provider
        self.policy: NetworkPolicy = provider.policy
        self._startups = 0
        self._lock = threading.Lock()
        self.process_id: int | None = None
        """The id WSADuplicateSocket takes as this process's (GetCurrentProcessId of the
        guest), if the emulator says it; None: any id but 0 and 0xFFFFFFFF."""

    def __repr__(self) -> str:
        return f"<ws2core Ws2_32, {self._startups} WSAStartup(s), over {self.upcalls!r}>"

    def __enter__(self) -> Ws2_32:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every socket of the provider and every handle left in the table; the
        process is then not started (WSANOTINITIALISED until the next WSAStartup)."""
        with self._lock:
            self._startups = 0
        self.provider.close()
        self.upcalls.table.close()

    # --- the checks Windows makes before it touches the caller's memory (ReactOS ws2_32:
    # WsApiProlog, then WsSockGetSocket, then the provider).  The guest layer makes them
    # first, so that a call with a bad handle and a bad pointer fails as on Windows.

    @property
    def startups(self) -> int:
        """How many WSAStartup calls no WSACleanup has ended yet."""
        return self._startups

    def check_started(self) -> None:
        """WinsockError(WSANOTINITIALISED) unless a WSAStartup is in force."""
        if not self._startups:
            raise WinsockError(WSANOTINITIALISED)

    def check_socket(self, s: Any) -> None:
        """check_started(), then WinsockError(WSAENOTSOCK) unless ``s`` is a live socket
        handle of this process."""
        code = self._socket_error(s)
        if code:
            raise WinsockError(code)

    def _socket_error(self, s: Any) -> int:
        if not self._startups:
            return WSANOTINITIALISED
        return 0 if self.upcalls.table.kind(s) == "socket" else WSAENOTSOCK

    @staticmethod
    def negotiate(wVersionRequested: int) -> int:
        """The version WSAStartup grants for ``wVersionRequested`` (a WORD: the low byte is
        the major version); WinsockError(WSAVERNOTSUPPORTED) for major version 0."""
        requested = _index(wVersionRequested) & 0xFFFF
        major, minor = requested & 0xFF, requested >> 8
        if major == 0:
            raise WinsockError(WSAVERNOTSUPPORTED)
        return requested if (major, minor) <= (2, 2) else HIGHEST_VERSION

    # --- blocking

    def blocking_limit(self, seconds: float | None) -> AbstractContextManager[None]:
        """Within the ``with`` block, no call of this thread blocks longer than ``seconds``:
        the provider's calls (``HostSocketProvider.blocking_limit`` says what each returns
        when it runs out) and WSAWaitForMultipleEvents (WSA_WAIT_TIMEOUT, WSA_INFINITE
        included).  Other threads are not capped; None adds no cap.  What the guest layer
        wraps every export in, for an emulator that runs one guest thread at a time."""
        return self.provider.blocking_limit(seconds)

    # --- reporting

    def _fail(self, failure: int, code: int) -> int:
        self.upcalls.WSASetLastError(code)
        return failure

    def _call(self, failure: int, function: Callable[..., int], *args: Any) -> int:
        """``function(*args, lpErrno)``: its result with the last error 0, or ``failure`` with
        lpErrno (written only on failure) as the last error."""
        error = Ref(0)
        result = function(*args, error)
        self.upcalls.WSASetLastError(error.value)
        return failure if error.value else result

    def _call_kernel(self, failure: int, function: Callable[..., int], *args: Any) -> int:
        """``_call`` for an event function: a kernel32 call on Windows, whose success leaves
        the last error alone."""
        error = Ref(0)
        result = function(*args, error)
        if error.value:
            return self._fail(failure, error.value)
        return result

    def _on_socket(self, s: Any, failure: int, function: Callable[..., int], *args: Any) -> int:
        """``_call`` after the checks of a call on socket ``s``."""
        code = self._socket_error(s)
        if code:
            return self._fail(failure, code)
        return self._call(failure, function, s, *args)

    # --- start-up and the last error

    def WSAStartup(self, wVersionRequested: int, lpWSAData: Any) -> int:
        """Start using Winsock: 0, or the error code (WSAStartup has no last error).

        ``lpWSAData`` (a Ref) receives a ``WSADATA`` once the version is agreed, before the
        provider starts (a provider's refusal leaves it written, as it always was); None is
        WSAEFAULT.  Each success counts, and needs its WSACleanup.
        """
        try:
            version = self.negotiate(wVersionRequested)
        except WinsockError as error:
            return error.winerror
        if lpWSAData is None:
            return WSAEFAULT
        # iMaxSockets and iMaxUdpDg are for Winsock 1.1 callers; Windows gives 2.x callers 0.
        limits = (0, 0) if version & 0xFF >= 2 else (32767, 65467)
        lpWSAData.value = WSADATA(version, HIGHEST_VERSION, *limits)
        with self._lock:
            code: int = self.provider.WSPStartup(self.upcalls)
            if not code:
                self._startups += 1
        return code

    def WSACleanup(self) -> int:
        """End one WSAStartup: 0, or SOCKET_ERROR (WSANOTINITIALISED: none to end).  The
        provider's last WSPCleanup closes its sockets."""
        with self._lock:
            if not self._startups:
                return self._fail(SOCKET_ERROR, WSANOTINITIALISED)
            self._startups -= 1
        return self._call(SOCKET_ERROR, self.provider.WSPCleanup)

    def WSAGetLastError(self) -> int:
        """The calling thread's last error (the UpcallTable's)."""
        return self.upcalls.WSAGetLastError()

    def WSASetLastError(self, iError: int) -> None:
        self.upcalls.WSASetLastError(iError)

    # --- sockets

    def socket(self, af: int, type: int, protocol: int) -> int:
        """A new SOCKET, or INVALID_SOCKET."""
        if not self._startups:
            return self._fail(INVALID_SOCKET, WSANOTINITIALISED)
        # Windows' socket() makes an overlapped socket (WSASocket with WSA_FLAG_OVERLAPPED).
        return self._call(INVALID_SOCKET, self.provider.WSPSocket, af, type, protocol, None, 0,
                          WSA_FLAG_OVERLAPPED)

    def closesocket(self, s: int) -> int:
        return self._on_socket(s, SOCKET_ERROR, self.provider.WSPCloseSocket)

    def bind(self, s: int, name: Any, namelen: int) -> int:
        """``name``: an address tuple, or sockaddr bytes checked against ``namelen``."""
        return self._on_socket(s, SOCKET_ERROR, self.provider.WSPBind, name, namelen)

    def connect(self, s: int, name: Any, namelen: int) -> int:
        return self._on_socket(s, SOCKET_ERROR, self.provider.WSPConnect, name, namelen,
                               None, None, None, None)

    def listen(self, s: int, backlog: int) -> int:
        return self._on_socket(s, SOCKET_ERROR, self.provider.WSPListen, backlog)

    def accept(self, s: int, addr: Any, addrlen: Any) -> int:
        """The new SOCKET, or INVALID_SOCKET; ``addr`` (None, a Ref or a writable buffer)
        gets the peer's address and ``addrlen`` (None or a Ref) its size."""
        return self._on_socket(s, INVALID_SOCKET, self.provider.WSPAccept, addr, addrlen, None, 0)

    def getsockname(self, s: int, name: Any, namelen: Any) -> int:
        """``name`` (a Ref or a writable buffer) and ``namelen`` (a Ref) as accept's."""
        return self._on_socket(s, SOCKET_ERROR, self.provider.WSPGetSockName, name, namelen)

    def getpeername(self, s: int, name: Any, namelen: Any) -> int:
        return self._on_socket(s, SOCKET_ERROR, self.provider.WSPGetPeerName, name, namelen)

    def send(self, s: int, buf: Any, len: int, flags: int) -> int:
        """The number of bytes sent from the first ``len`` bytes of ``buf``, or SOCKET_ERROR
        (``len`` negative or past the buffer: WSAEFAULT)."""
        sent, data = Ref(0), _first(buf, len)
        code = self._socket_error(s) or (WSAEFAULT if data is None else 0)
        if code:
            return self._fail(SOCKET_ERROR, code)
        result = self._call(SOCKET_ERROR, self.provider.WSPSend, s, [data], 1, sent, flags,
                            None, None, None)
        return result if result == SOCKET_ERROR else int(sent.value)

    def recv(self, s: int, buf: Any, len: int, flags: int) -> int:
        """The number of bytes received into the first ``len`` bytes of ``buf`` (0: the peer
        closed), or SOCKET_ERROR; WSAEMSGSIZE fills the ``len`` bytes."""
        received, data = Ref(0), _first(buf, len)
        code = self._socket_error(s) or (WSAEFAULT if data is None else 0)
        if code:
            return self._fail(SOCKET_ERROR, code)
        result = self._call(SOCKET_ERROR, self.provider.WSPRecv, s, [data], 1, received,
                            Ref(flags), None, None, None)
        return result if result == SOCKET_ERROR else int(received.value)

    def shutdown(self, s: int, how: int) -> int:
        return self._on_socket(s, SOCKET_ERROR, self.provider.WSPShutdown, how)

    def ioctlsocket(self, s: int, cmd: int, argp: Any) -> int:
        """0, or SOCKET_ERROR.  ``argp`` (a Ref) is the command's u_long: FIONBIO reads it,
        FIONREAD writes the bytes waiting into it; None is WSAEFAULT."""
        command = _index(cmd) & 0xFFFFFFFF
        if command == FIONREAD:
            return self._on_socket(s, SOCKET_ERROR, self.provider.WSPIoctl, command, None, 0,
                                   argp, 4, None, None, None, None)
        argument = None if argp is None else argp.value
        return self._on_socket(s, SOCKET_ERROR, self.provider.WSPIoctl, command, argument, 4,
                               None, 0, None, None, None, None)

    def getsockopt(self, s: int, level: int, optname: int, optval: Any, optlen: Any) -> int:
        """0, or SOCKET_ERROR.  ``optval``: a Ref (it gets an int, or an ``(l_onoff,
        l_linger)`` tuple for SO_LINGER) or a writable buffer (the Windows bytes); ``optlen``:
        a Ref holding the buffer's size, set to the value's.  The options are the provider's
        (``WSPGetSockOpt``); SO_ERROR gives the pending error and clears it."""
        return self._on_socket(s, SOCKET_ERROR, self.provider.WSPGetSockOpt, level, optname,
                               optval, optlen)

    # --- select and fd_sets

    def select(self, nfds: int, readfds: Any, writefds: Any, exceptfds: Any, timeout: Any) -> int:
        """The number of ready entries, 0 on timeout, or SOCKET_ERROR; each set (None, an
        FdSet or a buffer in the table's ABI) is rewritten to hold its ready sockets.
        ``timeout``: None (no limit), a TIMEVAL or seconds."""
        if not self._startups:
            return self._fail(SOCKET_ERROR, WSANOTINITIALISED)
        return self._call(SOCKET_ERROR, self.provider.WSPSelect, nfds, readfds, writefds,
                          exceptfds, timeout)

    def WSAFDIsSet(self, fd: int, set: Any) -> int:
        """The export ``__WSAFDIsSet`` (FD_ISSET): nonzero if ``fd`` is in ``set``.  Also
        reachable under the export's name with getattr (a class body would mangle it)."""
        return int(self.upcalls.WPUFDIsSet(fd, set))

    # --- events: kernel objects on Windows, so no WSAStartup is needed for them

    def WSACreateEvent(self) -> int:
        return self._call_kernel(WSA_INVALID_EVENT, self.upcalls.WPUCreateEvent)

    def WSASetEvent(self, hEvent: int) -> int:
        return self._call_kernel(FALSE, self.upcalls.WPUSetEvent, hEvent)

    def WSAResetEvent(self, hEvent: int) -> int:
        return self._call_kernel(FALSE, self.upcalls.WPUResetEvent, hEvent)

    def WSACloseEvent(self, hEvent: int) -> int:
        return self._call_kernel(FALSE, self.upcalls.WPUCloseEvent, hEvent)

    def WSAWaitForMultipleEvents(self, cEvents: int, lphEvents: Any, fWaitAll: int,
                                 dwTimeout: int, fAlertable: int) -> int:
        """As ``UpcallTable.WSAWaitForMultipleEvents``, whose last error is this one; on a
        thread with a ``blocking_limit``, a longer ``dwTimeout`` is that limit."""
        cap = self.provider.current_blocking_limit()
        if cap is not None and dwTimeout.__class__ is int and 0 <= dwTimeout <= WSA_INFINITE:
            # Rounded up: a wait never ends before the cap (WSA_INFINITE is the longest of all).
            dwTimeout = min(dwTimeout, math.ceil(cap * 1000)) if math.isfinite(cap) else dwTimeout
        return self.upcalls.WSAWaitForMultipleEvents(cEvents, lphEvents, fWaitAll, dwTimeout,
                                                     fAlertable)

    def WSAEventSelect(self, s: int, hEventObject: int, lNetworkEvents: int) -> int:
        return self._on_socket(s, SOCKET_ERROR, self.provider.WSPEventSelect, hEventObject,
                               lNetworkEvents)

    def WSAEnumNetworkEvents(self, s: int, hEventObject: int, lpNetworkEvents: Any) -> int:
        """``lpNetworkEvents``: a ``ws2core.provider.WSANETWORKEVENTS`` (None: WSAEFAULT,
        after the socket's checks)."""
        return self._on_socket(s, SOCKET_ERROR, self.provider.WSPEnumNetworkEvents,
                               hEventObject, lpNetworkEvents)


    # --- sockets and data: WSASocket, sendto, recvfrom and the WSA transfer calls.
    # WSABUF arrays are sequences of buffers (bytes-like to send, writable to receive);
    # lpOverlapped is None or any object standing for a WSAOVERLAPPED: ignored on a socket
    # made without WSA_FLAG_OVERLAPPED, as on Windows; on an overlapped socket overlapped
    # I/O is not served yet (WSAEOPNOTSUPP, before any effect), so that no program waits
    # for a completion that would never be signalled.

    def WSASocketA(self, af: int, type: int, protocol: int, lpProtocolInfo: Any, g: int,
                   dwFlags: int) -> int:
        """A new SOCKET, or INVALID_SOCKET.  ``lpProtocolInfo``: None or a
        ``ws2core.structs.WSAPROTOCOL_INFOA`` (anything with its fields): an ``af``,
        ``type`` or ``protocol`` that is FROM_PROTOCOL_INFO or 0 is its iAddressFamily,
        iSocketType or iProtocol, as on Windows; one WSADuplicateSocketA filled makes a
        second handle to its socket (once).  ``g``: 0, or SG_UNCONSTRAINED_GROUP or
        SG_CONSTRAINED_GROUP, which make no group (reserved on Windows; Wine ignores them
        too); any other group is WSAEINVAL.  ``dwFlags``: WSA_FLAG_OVERLAPPED is kept on
        the socket; the other flags are accepted and ignored, as Windows and Wine do."""
        return self._socket_from(af, type, protocol, lpProtocolInfo, g, dwFlags)

    def WSASocketW(self, af: int, type: int, protocol: int, lpProtocolInfo: Any, g: int,
                   dwFlags: int) -> int:
        """WSASocketA with a ``WSAPROTOCOL_INFOW`` (the fields read are the same)."""
        return self._socket_from(af, type, protocol, lpProtocolInfo, g, dwFlags)

    def _socket_from(self, af: int, type: int, protocol: int, info: Any, g: int,
                     flags: int) -> int:
        if not self._startups:
            return self._fail(INVALID_SOCKET, WSANOTINITIALISED)
        if info is not None:
            # Windows takes the structure's value for an argument left to it: -1 or 0.
            af = info.iAddressFamily if af in (FROM_PROTOCOL_INFO, 0) else af
            type = info.iSocketType if type in (FROM_PROTOCOL_INFO, 0) else type
            protocol = info.iProtocol if protocol in (FROM_PROTOCOL_INFO, 0) else protocol
        if g in (SG_UNCONSTRAINED_GROUP, SG_CONSTRAINED_GROUP):
            g = 0
        return self._call(INVALID_SOCKET, self.provider.WSPSocket, af, type, protocol, info, g,
                          _index(flags) & 0xFFFFFFFF)

    def _transfer_error(self, s: Any, lpBuffers: Any, dwBufferCount: int,
                        lpOverlapped: Any) -> int:
        """The error a transfer call fails with before it reaches the provider: the socket's
        checks, then WSAEFAULT for buffers C would read past (None with a count, fewer
        buffers than the count), then WSAEOPNOTSUPP for overlapped I/O on an overlapped
        socket; 0 when the call can go on, with no overlapped I/O."""
        code = self._socket_error(s)
        if code:
            return code
        count = _index(dwBufferCount)
        if count and (lpBuffers is None or len(lpBuffers) < count):
            return WSAEFAULT
        if lpOverlapped is not None and self.provider.is_overlapped(s):
            return WSAEOPNOTSUPP
        return 0

    def WSASend(self, s: int, lpBuffers: Any, dwBufferCount: int, lpNumberOfBytesSent: Any,
                dwFlags: int, lpOverlapped: Any, lpCompletionRoutine: Any) -> int:
        """Send the first ``dwBufferCount`` buffers, in order: 0 with the count in
        ``lpNumberOfBytesSent`` (a Ref; None: WSAEFAULT), or SOCKET_ERROR.  ``dwFlags``:
        MSG_OOB (stream sockets), MSG_DONTROUTE; others WSAEOPNOTSUPP."""
        code = self._transfer_error(s, lpBuffers, dwBufferCount, lpOverlapped)
        if code:
            return self._fail(SOCKET_ERROR, code)
        return self._call(SOCKET_ERROR, self.provider.WSPSend, s, lpBuffers or [],
                          dwBufferCount, lpNumberOfBytesSent, dwFlags, None, None, None)

    def WSASendTo(self, s: int, lpBuffers: Any, dwBufferCount: int, lpNumberOfBytesSent: Any,
                  dwFlags: int, lpTo: Any, iTolen: int, lpOverlapped: Any,
                  lpCompletionRoutine: Any) -> int:
        """WSASend to ``lpTo`` (an address tuple or sockaddr bytes, checked against
        ``iTolen``; None: the connected peer).  Each datagram's destination goes through the
        network policy first: a refused one is the policy's error, with nothing sent."""
        code = self._transfer_error(s, lpBuffers, dwBufferCount, lpOverlapped)
        if code:
            return self._fail(SOCKET_ERROR, code)
        return self._call(SOCKET_ERROR, self.provider.WSPSendTo, s, lpBuffers or [],
                          dwBufferCount, lpNumberOfBytesSent, dwFlags, lpTo, iTolen, None,
                          None, None)

    def WSARecv(self, s: int, lpBuffers: Any, dwBufferCount: int, lpNumberOfBytesRecvd: Any,
                lpFlags: Any, lpOverlapped: Any, lpCompletionRoutine: Any) -> int:
        """Receive into the first ``dwBufferCount`` buffers, in order: 0, or SOCKET_ERROR.
        ``lpNumberOfBytesRecvd`` (a Ref) gets the count; ``lpFlags`` (a Ref: MSG_PEEK,
        MSG_OOB, MSG_WAITALL) comes back 0 (UDP and TCP have no MSG_PARTIAL); None for either
        is WSAEFAULT.  A datagram larger than the buffers: WSAEMSGSIZE, the buffers filled
        (the rest of the datagram is lost, as on Windows)."""
        code = self._transfer_error(s, lpBuffers, dwBufferCount, lpOverlapped)
        if code:
            return self._fail(SOCKET_ERROR, code)
        return self._call(SOCKET_ERROR, self.provider.WSPRecv, s, lpBuffers or [],
                          dwBufferCount, lpNumberOfBytesRecvd, lpFlags, None, None, None)

    def WSARecvFrom(self, s: int, lpBuffers: Any, dwBufferCount: int,
                    lpNumberOfBytesRecvd: Any, lpFlags: Any, lpFrom: Any, lpFromlen: Any,
                    lpOverlapped: Any, lpCompletionRoutine: Any) -> int:
        """WSARecv, and on a datagram socket the sender's address into ``lpFrom`` (None, a
        Ref or a writable buffer) and its size into ``lpFromlen`` (a Ref); a length below
        the family's sockaddr is WSAEFAULT, before anything is received.  A stream socket
        ignores both."""
        code = self._transfer_error(s, lpBuffers, dwBufferCount, lpOverlapped)
        if not code and lpFrom is not None and lpFromlen is None:
            code = WSAEFAULT  # Windows needs the length to know the buffer
        if code:
            return self._fail(SOCKET_ERROR, code)
        return self._call(SOCKET_ERROR, self.provider.WSPRecvFrom, s, lpBuffers or [],
                          dwBufferCount, lpNumberOfBytesRecvd, lpFlags, lpFrom, lpFromlen,
                          None, None, None)

    def check_process(self, dwProcessId: int) -> None:
        """WinsockError(WSAEINVAL) unless ``dwProcessId`` names this process (``process_id``;
        when that is None, any id but 0 and 0xFFFFFFFF): WSADuplicateSocket serves this
        process only."""
        pid = _index(dwProcessId) & 0xFFFFFFFF
        if self.process_id is None:
            ours = pid not in (0, 0xFFFFFFFF)
        else:
            ours = pid == self.process_id
        if not ours:
            raise WinsockError(WSAEINVAL, f"process {pid} is not this process")

    def WSADuplicateSocketA(self, s: int, dwProcessId: int, lpProtocolInfo: Any) -> int:
        """0, or SOCKET_ERROR: ``lpProtocolInfo`` (a ``ws2core.structs.WSAPROTOCOL_INFOA``;
        None: WSAEFAULT) filled for WSASocketA to make a second handle to ``s`` in this
        process (another ``dwProcessId``: WSAEINVAL, checked first, as on Windows).  Closing
        either handle leaves the other working (``HostSocketProvider.WSPDuplicateSocket``)."""
        return self._duplicate_socket(s, dwProcessId, lpProtocolInfo)

    def WSADuplicateSocketW(self, s: int, dwProcessId: int, lpProtocolInfo: Any) -> int:
        """WSADuplicateSocketA with a ``WSAPROTOCOL_INFOW``."""
        return self._duplicate_socket(s, dwProcessId, lpProtocolInfo)

    def _duplicate_socket(self, s: int, process: int, info: Any) -> int:
        code = self._socket_error(s)
        if not code:
            try:
                self.check_process(process)
            except WinsockError as error:
                code = error.winerror
        if code:
            return self._fail(SOCKET_ERROR, code)
        return self._call(SOCKET_ERROR, self.provider.WSPDuplicateSocket, s, process, info)

    def sendto(self, s: int, buf: Any, len: int, flags: int, to: Any, tolen: int) -> int:
        """The number of bytes sent from the first ``len`` bytes of ``buf`` to ``to`` (as
        WSASendTo's ``lpTo``), or SOCKET_ERROR; a datagram too large: WSAEMSGSIZE."""
        data = _first(buf, len)
        if data is None and not self._socket_error(s):
            return self._fail(SOCKET_ERROR, WSAEFAULT)
        sent = Ref(0)
        result = self.WSASendTo(s, [data], 1, sent, flags, to, tolen, None, None)
        return result if result == SOCKET_ERROR else int(sent.value)

    def recvfrom(self, s: int, buf: Any, len: int, flags: int, from_: Any, fromlen: Any) -> int:
        """The number of bytes received into the first ``len`` bytes of ``buf``, or
        SOCKET_ERROR; ``from_`` and ``fromlen`` as WSARecvFrom's ``lpFrom`` and
        ``lpFromlen`` (C's ``from``, a Python keyword).  A datagram larger than ``len``:
        WSAEMSGSIZE, with the ``len`` bytes filled and the sender's address written."""
        data = _first(buf, len)
        if data is None and not self._socket_error(s):
            return self._fail(SOCKET_ERROR, WSAEFAULT)
        received = Ref(0)
        result = self.WSARecvFrom(s, [data], 1, received, Ref(_index(flags)), from_, fromlen,
                                  None, None)
        return result if result == SOCKET_ERROR else int(received.value)

setattr(Ws2_32, "__WSAFDIsSet", Ws2_32.WSAFDIsSet)


def _first(buf: Any, length: int) -> memoryview | None:
    """The first ``length`` bytes of ``buf`` as a byte view; None when C would read past it."""
    view = memoryview(buf).cast("B")
    length = _index(length)
    if not 0 <= length <= view.nbytes:
        return None
    return view[:length]
