"""Socket lifecycle: start-up and clean-up, making, binding, listening, accepting, connecting,
shutting down and closing sockets, and their names (WSPStartup ... WSPGetPeerName).

A socket's state (``ProviderSocket.state``) changes here, and each change is told to the
network-event side it inherits (FD_CONNECT and FD_ACCEPT records, the reactor's interest).
Sending and receiving are in ``transfer``.
"""

from __future__ import annotations

import contextlib
import errno
import select
import socket
import struct
import time
from collections.abc import Iterator
from operator import index as _index
from typing import Any, Final

from .. import Ref
from .. import upcalls as _upcalls
from .._shared import WinsockError, require_out_parameter
from ..constants import (
    AF_INET6,
    CF_ACCEPT,
    CF_DEFER,
    CF_REJECT,
    FD_ACCEPT,
    FD_CONNECT_BIT,
    INVALID_SOCKET,
    IPPROTO_TCP,
    IPPROTO_UDP,
    SD_BOTH,
    SD_RECEIVE,
    SD_SEND,
    SOCK_DGRAM,
    SOCK_STREAM,
    SOCKET_ERROR,
    WSA_FLAG_OVERLAPPED,
    WSAEADDRNOTAVAIL,
    WSAEAFNOSUPPORT,
    WSAEALREADY,
    WSAECONNREFUSED,
    WSAEFAULT,
    WSAEINTR,
    WSAEINVAL,
    WSAEISCONN,
    WSAENOTCONN,
    WSAENOTSOCK,
    WSAEOPNOTSUPP,
    WSAEPROTONOSUPPORT,
    WSAEPROTOTYPE,
    WSAESOCKTNOSUPPORT,
    WSAETIMEDOUT,
    WSAEWOULDBLOCK,
    WSATRY_AGAIN,
    WSANOTINITIALISED,
)
from .arguments import (
    _ANY_ADDRESS,
    _HOST_FAMILY,
    _check_address_out,
    _parse_address,
    _store_address,
    _unreachable,
    _windows_address,
)
from .base import (
    CONNECTED,
    CONNECTING,
    DATAGRAM,
    LISTENING,
    UNCONNECTED,
    CallerRaised,
    ProviderSocket,
)
from .errors import HOST_ERRORS, winsock_error
from .events import _Events
from .options import _set_host_timeouts
from .protocols import base_entry_id, fill_protocol_info

_HOST_TYPE: Final = {SOCK_STREAM: socket.SOCK_STREAM, SOCK_DGRAM: socket.SOCK_DGRAM}
_PROTOCOL_OF_TYPE: Final = {SOCK_STREAM: IPPROTO_TCP, SOCK_DGRAM: IPPROTO_UDP}
_SHUTDOWN_HOW: Final = {SD_RECEIVE: socket.SHUT_RD, SD_SEND: socket.SHUT_WR, SD_BOTH: socket.SHUT_RDWR}
# What a non-blocking connect may learn at once that Windows reports only later.
_LATE_CONNECT_ERRORS: Final = {errno.ECONNREFUSED, errno.ENETUNREACH, errno.EHOSTUNREACH,
                               errno.ETIMEDOUT}


class _Sockets(_Events):
    """Start-up, clean-up and each socket's life from WSPSocket to WSPCloseSocket."""

    # --- start-up and clean-up

    def WSPStartup(self, UpcallTable: _upcalls.UpcallTable, lpProtocolInfo: Any = None, /) -> int:
        """Start serving ``UpcallTable`` (a ``ws2core.UpcallTable``); returns 0.
        ``lpProtocolInfo``, the catalog entry a layer above starts it for, is not needed:
        this provider serves all its entries alike.

        As on Windows, start-ups are counted and each needs its WSPCleanup; a start-up with
        another table while one is served returns WSAEINVAL (the error code is the result:
        WSPStartup has no lpErrno).
        """
        if not isinstance(UpcallTable, _upcalls.UpcallTable):
            raise TypeError(f"WSPStartup takes a ws2core.UpcallTable, not {type(UpcallTable).__name__}")
        with self._lock:
            if self.upcalls is not None and self.upcalls is not UpcallTable:
                return WSAEINVAL
            self.upcalls = UpcallTable
            self._startups += 1
        return 0

    def WSPCleanup(self, lpErrno: Any, /) -> int:
        """End one WSPStartup; the last one closes every open socket and stops the reactor.

        0, or SOCKET_ERROR with WSANOTINITIALISED when there was no start-up to end.
        """
        require_out_parameter(lpErrno, "lpErrno")
        with self._lock:
            if self._startups == 0:
                lpErrno.value = WSANOTINITIALISED
                return SOCKET_ERROR
            self._startups -= 1
            last = self._startups == 0
        if last:
            self.close()
        return 0

    def close(self) -> None:
        """Close every socket this provider still has and stop its reactor, whatever the
        start-up count (what leaving a ``with`` block does)."""
        with self._lock:
            sockets = sorted(self._sockets, key=lambda sock: sock.handle)
        for sock in sockets:
            self._close(sock)
        with self._lock:
            reactor, self._reactor = self._reactor, None
            self.upcalls = None
            self._startups = 0
        if reactor is not None:
            reactor.stop()

    # --- WSP functions

    def WSPSocket(self, af: Any, type: Any, protocol: Any, lpProtocolInfo: Any, g: Any,
                  dwFlags: Any, lpErrno: Any, /) -> int:
        """Create a socket: a new SOCKET, or INVALID_SOCKET.

        ``af`` AF_INET or AF_INET6 (else WSAEAFNOSUPPORT); ``type`` SOCK_STREAM or SOCK_DGRAM
        (else WSAESOCKTNOSUPPORT); ``protocol`` 0 or the type's own (IPPROTO_TCP,
        IPPROTO_UDP; the other one: WSAEPROTOTYPE; anything else: WSAEPROTONOSUPPORT); ``g``
        0 (socket groups are not supported: WSAEINVAL).  ``lpProtocolInfo``: None, or a
        WSAPROTOCOL_INFO (``ws2core.structs``) whose dwProviderReserved, when not 0, names the
        socket WSPDuplicateSocket duplicated (the new socket is a second handle to it; one
        used already, or not given by this provider: WSAEINVAL); of ``dwFlags`` WSA_FLAG_OVERLAPPED is kept on the socket
        (``ProviderSocket.overlapped``, ``is_overlapped``), the other flags are ignored.  The handle comes from WPUCreateSocketHandle with the
        socket's ProviderSocket as its context and the catalog entry the socket is made for
        (``_entry_for``: lpProtocolInfo's dwCatalogEntryId, else the base entry of ``af``
        and ``type``); a full table gives WSAENOBUFS, and no host
        socket is left open.  The socket starts blocking.
        """
        require_out_parameter(lpErrno, "lpErrno")
        reserved = getattr(lpProtocolInfo, "dwProviderReserved", 0) if lpProtocolInfo is not None else 0
        if reserved:
            return self._duplicate(reserved, _index(dwFlags), lpErrno)
        family, kind, proto, group = _index(af), _index(type), _index(protocol), _index(g)
        upcalls = self.upcalls
        code = 0
        if upcalls is None:
            code = WSANOTINITIALISED
        elif family not in _HOST_FAMILY:
            code = WSAEAFNOSUPPORT
        elif kind not in _HOST_TYPE:
            code = WSAESOCKTNOSUPPORT
        elif proto not in (0, _PROTOCOL_OF_TYPE[kind]):
            code = WSAEPROTOTYPE if proto in _PROTOCOL_OF_TYPE.values() else WSAEPROTONOSUPPORT
        elif group != 0:
            code = WSAEINVAL
        else:
            entry = self._entry_for(family, kind, lpProtocolInfo)
            if not 0 <= entry <= 0xFFFFFFFF:
                code = WSAEINVAL
        if code:
            lpErrno.value = code
            return INVALID_SOCKET
        assert upcalls is not None
        try:
            host = socket.socket(_HOST_FAMILY[family], _HOST_TYPE[kind])
        except OSError as error:
            lpErrno.value = winsock_error(error)
            return INVALID_SOCKET
        if family == AF_INET6:  # Windows' default; Linux makes dual-stack sockets
            host.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock = ProviderSocket(self, host, family, kind, DATAGRAM if kind == SOCK_DGRAM else UNCONNECTED,
                              entry)
        sock.overlapped = bool(_index(dwFlags) & WSA_FLAG_OVERLAPPED)
        return self._adopt(upcalls, sock, lpErrno)

    def _entry_for(self, family: int, kind: int, info: Any) -> int:
        """The catalog entry a new socket is made for, which its handle carries: the
        dwCatalogEntryId of ``info`` (the lpProtocolInfo Ws2_32 passes, the entry it
        chose; a layer's, the entry below it), else the one entry this provider was made
        for (``catalog_entry_id``), else the base provider's entry for ``family`` and
        ``kind`` (``ws2core.catalog.BASE_PROTOCOLS``: 1002 for UDP/IPv4, 1004 for TCP/IPv6)."""
        given = getattr(info, "dwCatalogEntryId", None) if info is not None else None
        if given is not None:
            return _index(given)
        if self.catalog_entry_id is not None:
            return self.catalog_entry_id
        return base_entry_id(family, kind)

    def WSPDuplicateSocket(self, s: Any, dwProcessId: Any, lpProtocolInfo: Any,
                           lpErrno: Any, /) -> int:
        """Fill ``lpProtocolInfo`` (a ``ws2core.structs.WSAPROTOCOL_INFOW`` or ``…A``: what
        SO_PROTOCOL_INFO gives, ``ws2core.provider.protocols``, and in dwProviderReserved the
        key WSPSocket takes) for a second handle to socket ``s``:
        0, or SOCKET_ERROR (None: WSAEFAULT).  Within this process only: ``dwProcessId`` is
        Ws2_32's to check.  The duplicate is made over a duplicate of the host descriptor,
        so both handles reach one host socket (its address, connection, options and data
        waiting) and either may be closed first; they share their blocking mode, as on
        Windows, while ws2core's other records of a handle (its event selection, timeouts,
        a stream's state) are copied when the duplicate is made and are each handle's own.
        """
        return self._call(s, lpErrno, SOCKET_ERROR, self._fill_duplicate, lpProtocolInfo)

    def _fill_duplicate(self, sock: ProviderSocket, info: Any) -> int:
        if info is None:
            raise WinsockError(WSAEFAULT, "lpProtocolInfo is NULL")
        fill_protocol_info(info, sock.family, sock.type, sock.catalog_entry_id)
        with self._lock:
            key = self._next_duplicate
            self._next_duplicate += 1
            self._duplicates[key] = sock
        info.dwProviderReserved = key
        return 0

    def _duplicate(self, key: int, flags: int, lpErrno: Any) -> int:
        """WSPSocket of a protocol info WSPDuplicateSocket filled: a second handle."""
        upcalls = self.upcalls
        with self._lock:
            source = self._duplicates.pop(key, None)
        if upcalls is None:
            lpErrno.value = WSANOTINITIALISED
            return INVALID_SOCKET
        if source is None or source.closed:
            lpErrno.value = WSAEINVAL  # used already, or never given: nothing to duplicate
            return INVALID_SOCKET
        try:
            host = source.host.dup()
        except OSError as error:
            lpErrno.value = winsock_error(error)
            return INVALID_SOCKET
        sock = ProviderSocket(self, host, source.family, source.type, source.state,
                              source.catalog_entry_id)
        with self._lock:
            for name in ("nonblocking", "peer_closed", "shut_send", "shut_receive",
                         "receive_timeout", "send_timeout", "stream_error", "attempt",
                         "asked_peer", "wildcard"):
                setattr(sock, name, getattr(source, name))
            sock.destinations = dict(source.destinations)
            sock.replies = dict(source.replies)
            sock.overlapped = bool(flags & WSA_FLAG_OVERLAPPED)
            if source.sharing is None:
                source.sharing = [source]
            source.sharing.append(sock)
            sock.sharing = source.sharing
        return self._adopt(upcalls, sock, lpErrno)

    def is_overlapped(self, s: Any) -> bool:
        """Whether socket ``s`` was made with WSA_FLAG_OVERLAPPED (False for a handle that
        is no live socket of this provider): Ws2_32 ignores the lpOverlapped of a call on
        any other socket, as Windows does."""
        sock = self._enter(s, Ref(0))
        if sock is None:
            return False
        try:
            return sock.overlapped
        finally:
            self._leave(sock)

    def _adopt(self, upcalls: _upcalls.UpcallTable, sock: ProviderSocket, lpErrno: Any) -> int:
        """Give a new socket its handle from Ws2_32; on failure close the host socket."""
        try:
            handle = upcalls.WPUCreateSocketHandle(sock.catalog_entry_id, sock, lpErrno)
        except BaseException:
            sock.host.close()
            raise
        if handle == INVALID_SOCKET:
            sock.host.close()  # WSAENOBUFS is in lpErrno
            return INVALID_SOCKET
        sock.handle = handle
        with self._lock:
            self._sockets.add(sock)
        if sock.network_events:
            self._start_reactor()
            self._update_interest(sock)
        return handle

    def WSPBind(self, s: Any, name: Any, namelen: Any, lpErrno: Any, /) -> int:
        """Bind to a local address: 0, or SOCKET_ERROR.

        ``name`` is an address tuple or Windows sockaddr bytes (ws2core.provider's docstring).  Already
        bound: WSAEINVAL; another family or a malformed address: WSAEFAULT; in use:
        WSAEADDRINUSE; not an address of this host: WSAEADDRNOTAVAIL.
        """
        return self._call(s, lpErrno, SOCKET_ERROR, self._bind, name, namelen)

    def _bind(self, sock: ProviderSocket, name: Any, namelen: Any) -> int:
        address = _parse_address(name, namelen, sock.family, WSAEFAULT)
        if self._is_bound(sock):
            raise WinsockError(WSAEINVAL, "the socket is already bound")
        decision = self._decide(sock, "bind", address)
        if decision.error:
            raise WinsockError(decision.error, f"the network policy refuses a bind to {address[0]}")
        sock.host.bind(decision.target)
        if decision.verdict == "redirected":
            with self._lock:
                sock.wildcard = True  # confined to loopback; getsockname shows the any address
        return 0

    def WSPListen(self, s: Any, backlog: Any, lpErrno: Any, /) -> int:
        """Listen for connections: 0, or SOCKET_ERROR.

        A datagram socket: WSAEOPNOTSUPP; not bound: WSAEINVAL; connected: WSAEISCONN.
        Listening again changes the backlog only.  ``backlog`` is clamped as Windows clamps
        it (SOMAXCONN means the host's maximum).
        """
        depth = _index(backlog)
        return self._call(s, lpErrno, SOCKET_ERROR, self._listen, depth)

    def _require_connectable(self, sock: ProviderSocket, call: str) -> None:
        """The errors of a connect (``call`` names it) on a socket that is not ready for
        one: listening WSAEINVAL, connected WSAEISCONN, still connecting WSAEALREADY (a
        connect in progress is settled first)."""
        self._resolve_connect(sock)
        if sock.state == LISTENING:
            raise WinsockError(WSAEINVAL, f"{call} on a listening socket")
        if sock.state == CONNECTED:
            raise WinsockError(WSAEISCONN)
        if sock.state == CONNECTING:
            raise WinsockError(WSAEALREADY)

    def _listen(self, sock: ProviderSocket, backlog: int) -> int:
        if sock.type != SOCK_STREAM:
            raise WinsockError(WSAEOPNOTSUPP)
        self._resolve_connect(sock)
        if sock.state in (CONNECTED, CONNECTING):
            raise WinsockError(WSAEISCONN)
        if not self._is_bound(sock):
            raise WinsockError(WSAEINVAL, "listen before bind")
        sock.host.listen(max(0, min(backlog, socket.SOMAXCONN)))
        with self._lock:
            sock.state = LISTENING
        self._update_interest(sock)
        return 0

    def WSPAccept(self, s: Any, addr: Any, addrlen: Any, lpfnCondition: Any,
                  dwCallbackData: Any, lpErrno: Any, /) -> int:
        """Accept a connection: the new SOCKET, or INVALID_SOCKET.

        ``addr`` (None, a Ref, or a writable buffer) receives the peer's address and
        ``addrlen`` (None or a Ref) its size; a length below the family's sockaddr size is
        WSAEFAULT, found before any connection is taken.  ``lpfnCondition``: None, or a
        callable ``(lpCallerId, lpCallerData, lpSQOS, lpGQOS, lpCalleeId, lpCalleeData, g,
        dwCallbackData)`` given the peer's and the local address tuples (None for the data
        and QOS, a Ref for g), returning CF_ACCEPT, or CF_REJECT (the connection is dropped:
        WSAECONNREFUSED, the peer reset), CF_DEFER (WSATRY_AGAIN; the connection is reset
        too: the host has taken it off its queue, where Windows would keep it), anything
        else WSAEINVAL (reset); a WinsockError it raises fails the call with its code (reset).  Not listening: WSAEINVAL; a datagram socket: WSAEOPNOTSUPP;
        non-blocking with nothing pending: WSAEWOULDBLOCK; blocking, when SO_RCVTIMEO or
        the thread's ``blocking_limit`` runs out first: WSAETIMEDOUT.  The new socket has
        the listener's blocking mode and its WSPEventSelect or WSPAsyncSelect selection, as
        on Windows.
        """
        if lpfnCondition is not None and not callable(lpfnCondition):
            raise TypeError("lpfnCondition must be None or a callable")
        return self._call(s, lpErrno, INVALID_SOCKET, self._accept, addr, addrlen,
                          lpfnCondition, dwCallbackData, lpErrno)

    def _accept(self, sock: ProviderSocket, addr: Any, addrlen: Any, condition: Any,
                callback_data: Any, lpErrno: Any) -> int:
        if sock.type != SOCK_STREAM:
            raise WinsockError(WSAEOPNOTSUPP)
        if sock.state != LISTENING:
            raise WinsockError(WSAEINVAL, "the socket is not listening")
        _check_address_out(addr, addrlen, sock.family)
        capped = None
        if self._capped and not sock.nonblocking:
            capped = self._capped_seconds(sock.receive_timeout)
        try:
            if capped is not None:
                host, peer = self._accept_capped(sock, time.monotonic() + capped)
            else:
                while True:
                    try:
                        host, peer = sock.host.accept()
                        break
                    except ConnectionAbortedError:
                        continue  # the peer gave up before the accept: take the next one
                    except BlockingIOError:
                        raise WinsockError(WSAEWOULDBLOCK if sock.nonblocking else WSAETIMEDOUT) from None
        finally:
            self._reenable(sock, FD_ACCEPT)
        host.setblocking(not sock.nonblocking)
        if condition is not None:
            try:
                answer = condition(_windows_address(sock.family, peer), None, None, None,
                                   _windows_address(sock.family, host.getsockname()),
                                   None, Ref(0), callback_data)
            except WinsockError:
                _reset(host)  # the condition's own failure: the call fails with its code
                raise
            except BaseException as error:
                host.close()
                if isinstance(error, Exception):
                    raise CallerRaised(error) from None  # the caller's: _call lets it out
                raise
            if answer != CF_ACCEPT:
                # Refused, the peer sees a reset (WSAECONNREFUSED on Windows' side of it);
                # CF_DEFER would keep it queued on Windows (SO_CONDITIONAL_ACCEPT), but the
                # host has taken it off its queue already: it is reset too.
                _reset(host)
                raise WinsockError(WSAECONNREFUSED if answer == CF_REJECT
                                   else WSATRY_AGAIN if answer == CF_DEFER else WSAEINVAL)
        accepted = ProviderSocket(self, host, sock.family, SOCK_STREAM, CONNECTED,
                                  sock.catalog_entry_id)  # the listener's protocol
        _set_host_timeouts(host, sock.receive_timeout, sock.send_timeout)
        with self._lock:
            accepted.nonblocking = sock.nonblocking
            accepted.overlapped = sock.overlapped
            accepted.event = sock.event
            accepted.window = sock.window
            accepted.message = sock.message
            accepted.network_events = sock.network_events
            accepted.receive_timeout = sock.receive_timeout
            accepted.send_timeout = sock.send_timeout
            accepted.buffer_sizes = dict(sock.buffer_sizes)  # the host's accept inherits them too
        upcalls = self.upcalls
        if upcalls is None:
            host.close()
            raise WinsockError(WSANOTINITIALISED)
        handle = self._adopt(upcalls, accepted, lpErrno)
        if handle != INVALID_SOCKET:
            _store_address(addr, addrlen, sock.family, peer)
        return handle

    def _accept_capped(self, sock: ProviderSocket, deadline: float) -> tuple[socket.socket, Any]:
        """A blocking accept on a capped thread: a connection that comes before ``deadline``,
        else WinsockError(WSAETIMEDOUT)."""
        while True:
            if not self._wait_host(sock, select.POLLIN, deadline):
                raise WinsockError(WSAETIMEDOUT, "no connection came within the blocking limit")
            # Readable, but another thread may take the connection first: the accept itself
            # must not block, so the listener is non-blocking for that one host call.
            try:
                with self._host_nonblocking(sock):
                    return sock.host.accept()
            except (BlockingIOError, ConnectionAbortedError):
                continue

    @contextlib.contextmanager
    def _host_nonblocking(self, sock: ProviderSocket) -> Iterator[None]:
        """The host socket non-blocking for one host call of a capped thread, then in the
        Windows socket's mode again: the one FIONBIO set meanwhile, if another thread did."""
        with self._lock:
            sock.host.setblocking(False)
        try:
            yield
        finally:
            with self._lock:
                sock.host.setblocking(not sock.nonblocking)

    def WSPConnect(self, s: Any, name: Any, namelen: Any, lpCallerData: Any, lpCalleeData: Any,
                   lpSQOS: Any, lpGQOS: Any, lpErrno: Any, /) -> int:
        """Connect to ``name`` (an address tuple or sockaddr bytes): 0, or SOCKET_ERROR.

        Connect data and QOS (the four arguments after ``namelen``) are accepted and not
        used.  Blocking: waits for the outcome (refused: WSAECONNREFUSED), or until SO_SNDTIMEO
        or the thread's ``blocking_limit`` runs out (WSAETIMEDOUT; the host goes on trying,
        and later calls see a connect in progress).  Non-blocking:
        WSAEWOULDBLOCK, and the outcome shows later in WSPSelect (writefds on success,
        exceptfds on failure, SO_ERROR giving the code) or as FD_CONNECT; a second connect
        meanwhile: WSAEALREADY.  Listening: WSAEINVAL; connected: WSAEISCONN; the any
        address or port 0: WSAEADDRNOTAVAIL; another family: WSAEAFNOSUPPORT.  A datagram
        socket just sets its default peer.
        """
        return self._call(s, lpErrno, SOCKET_ERROR, self._connect, name, namelen)

    def _connect(self, sock: ProviderSocket, name: Any, namelen: Any) -> int:
        address = _parse_address(name, namelen, sock.family, WSAEAFNOSUPPORT)
        if _unreachable(sock.family, address):
            raise WinsockError(WSAEADDRNOTAVAIL, "cannot connect to the any address or port 0")
        if sock.type == SOCK_DGRAM:
            decision = self._decide(sock, "connect", address)
            if decision.error:
                raise WinsockError(decision.error, f"the network policy refuses {address[0]}")
            sock.host.connect(decision.target)
            with self._lock:
                sock.attempt = decision.attempt
                sock.asked_peer = address if decision.verdict == "redirected" else None
                self._record(sock, FD_CONNECT_BIT)
            return 0
        self._require_connectable(sock, "connect")
        decision = self._decide(sock, "connect", address)
        if decision.error and not sock.nonblocking:
            raise WinsockError(decision.error, f"the network policy refuses {address[0]}")
        with self._lock:
            sock.attempt = decision.attempt
            sock.asked_peer = address if decision.verdict == "redirected" else None
        if decision.error:  # a non-blocking connect: it fails later, as any failed connect
            with self._lock:
                sock.pending_error = decision.error
                self._record(sock, FD_CONNECT_BIT, decision.error)
            raise WinsockError(WSAEWOULDBLOCK)
        if not sock.nonblocking:
            return self._connect_blocking(sock, decision.target)
        code = sock.host.connect_ex(decision.target)
        if code == 0:
            with self._lock:
                sock.state = CONNECTED
                self._record(sock, FD_CONNECT_BIT)
            self._update_interest(sock)
            return 0
        if code in _LATE_CONNECT_ERRORS:
            # Windows reports the outcome of a non-blocking connect later, even when the
            # host knew at once: WSAEWOULDBLOCK now, then SO_ERROR, exceptfds, FD_CONNECT.
            with self._lock:
                sock.pending_error = HOST_ERRORS[code]
                self._record(sock, FD_CONNECT_BIT, sock.pending_error)
            raise WinsockError(WSAEWOULDBLOCK)
        if code not in (errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK):
            raise OSError(code, "connect")
        with self._lock:
            sock.state = CONNECTING
            sock.pending_error = 0
        self._update_interest(sock)
        raise WinsockError(WSAEWOULDBLOCK)

    def _connect_blocking(self, sock: ProviderSocket, address: tuple[Any, ...]) -> int:
        capped = self._capped_seconds(sock.send_timeout) if self._capped else None
        if capped is None:
            code = sock.host.connect_ex(address)  # sleeps in the host until it is settled
        else:
            code = self._connect_capped(sock, address, time.monotonic() + capped)
        if sock.closed:
            raise WinsockError(WSAEINTR, "the socket was closed during the call")
        if code in (errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK):
            with self._lock:  # SO_SNDTIMEO or the cap ran out; the host goes on trying
                sock.state = CONNECTING
            raise WinsockError(WSAETIMEDOUT)
        if code:
            raise OSError(code, "connect")
        with self._lock:
            sock.state = CONNECTED
            self._record(sock, FD_CONNECT_BIT)
        self._update_interest(sock)
        return 0

    def _connect_capped(self, sock: ProviderSocket, address: tuple[Any, ...], deadline: float) -> int:
        """A blocking connect on a capped thread: the host's outcome (an errno, 0: connected)
        if it comes before ``deadline``, else EINPROGRESS with the attempt going on."""
        with self._host_nonblocking(sock):  # a non-blocking connect returns at once
            code = sock.host.connect_ex(address)
        if code not in (errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK):
            return code
        if not self._wait_host(sock, select.POLLOUT, deadline):
            return errno.EINPROGRESS
        return sock.host.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)

    def WSPShutdown(self, s: Any, how: Any, lpErrno: Any, /) -> int:
        """Stop receiving (SD_RECEIVE), sending (SD_SEND) or both (SD_BOTH): 0, or SOCKET_ERROR.

        Another ``how``: WSAEINVAL; a stream socket that is not connected: WSAENOTCONN (a
        datagram socket needs no peer, as on Windows).  SD_SEND sends the peer of a stream a
        FIN: it sees the end of the stream, and FD_CLOSE.
        """
        direction = _index(how)
        return self._call(s, lpErrno, SOCKET_ERROR, self._shutdown, direction)

    def _shutdown(self, sock: ProviderSocket, how: int) -> int:
        if how not in _SHUTDOWN_HOW:
            raise WinsockError(WSAEINVAL, f"how must be SD_RECEIVE, SD_SEND or SD_BOTH, not {how}")
        if sock.type == SOCK_STREAM:
            self._resolve_connect(sock)
            if sock.state != CONNECTED:
                raise WinsockError(WSAENOTCONN)
            sock.host.shutdown(_SHUTDOWN_HOW[how])
        # A datagram socket, connected or not, only stops sending and receiving (its sends
        # and receives say WSAESHUTDOWN): nothing goes to a peer.  Linux would shut an
        # unconnected one down and still fail with ENOTCONN, after which it polls readable
        # while a receive would block.
        with self._lock:
            sock.shut_receive |= how in (SD_RECEIVE, SD_BOTH)
            sock.shut_send |= how in (SD_SEND, SD_BOTH)
        return 0

    def WSPCloseSocket(self, s: Any, lpErrno: Any, /) -> int:
        """Close a socket: 0, or SOCKET_ERROR (WSAENOTSOCK for a closed or unknown handle).

        The event association ends, the overlapped operations still pending complete with
        WSA_OPERATION_ABORTED (their completions reported as any other), the handle is
        closed with WPUCloseSocketHandle, and the host socket is closed (gracefully, unless SO_LINGER says otherwise) as soon as no
        other thread is inside a call on it; such a call returns WSAEINTR.
        """
        require_out_parameter(lpErrno, "lpErrno")
        sock = self._enter(s, lpErrno)
        if sock is None:
            return SOCKET_ERROR
        try:
            if not self._close(sock, lpErrno):
                return SOCKET_ERROR
            return 0
        finally:
            self._leave(sock)

    def _close(self, sock: ProviderSocket, lpErrno: Any = None) -> bool:
        """Close ``sock`` once: False (lpErrno WSAENOTSOCK) when another thread was first."""
        upcalls = self.upcalls
        with self._lock:
            if sock.closed:
                if lpErrno is not None:
                    lpErrno.value = WSAENOTSOCK
                return False
            sock.closed = True
            sock.network_events = 0
            if sock.sharing is not None:
                sock.sharing.remove(sock)
            for key in [key for key, source in self._duplicates.items() if source is sock]:
                del self._duplicates[key]   # a duplicate of a closed socket cannot be made
            self._sockets.discard(sock)
            others = len(sock.users) - (1 if lpErrno is not None else 0)
            cancelled = self._take_pending(sock)
        reactor = self._reactor
        if reactor is not None and sock.watched:
            reactor.forget(sock)
        # Before the handle goes: WPUCompleteOverlappedRequest takes a live socket handle,
        # and the aborted operations reach the socket's completion port through it.
        self._abort(cancelled)
        if upcalls is not None:
            upcalls.WPUCloseSocketHandle(sock.handle, Ref())
        if others:
            try:
                sock.host.shutdown(socket.SHUT_RDWR)  # wakes the calls blocked on it
            except OSError:
                pass
        elif lpErrno is None:
            self._close_host(sock)  # nobody inside a call: close it now (WSPCloseSocket's
            # own reference is dropped by its _leave, which closes it then)
        return True

    def WSPGetSockName(self, s: Any, name: Any, namelen: Any, lpErrno: Any, /) -> int:
        """The local address into ``name`` (a Ref or a writable buffer) and its size into
        ``namelen`` (a Ref): 0, or SOCKET_ERROR.  Not bound: WSAEINVAL; ``namelen`` None or
        its value below the sockaddr size: WSAEFAULT."""
        return self._call(s, lpErrno, SOCKET_ERROR, self._sockname, name, namelen, False)

    def WSPGetPeerName(self, s: Any, name: Any, namelen: Any, lpErrno: Any, /) -> int:
        """The peer's address, as WSPGetSockName: 0, or SOCKET_ERROR (not connected:
        WSAENOTCONN)."""
        return self._call(s, lpErrno, SOCKET_ERROR, self._sockname, name, namelen, True)

    def _sockname(self, sock: ProviderSocket, name: Any, namelen: Any, peer: bool) -> int:
        if name is None or namelen is None:
            raise WinsockError(WSAEFAULT, "name or namelen is NULL")
        _check_address_out(name, namelen, sock.family)
        if peer:
            if sock.type == SOCK_STREAM:
                self._resolve_connect(sock)
                if sock.state != CONNECTED:
                    raise WinsockError(WSAENOTCONN)
            address = sock.asked_peer or sock.host.getpeername()
        else:
            address = sock.host.getsockname()
            if not address[1]:
                raise WinsockError(WSAEINVAL, "the socket is not bound")
            if sock.wildcard and not self._has_peer(sock):
                # Confined to loopback by the policy; a connected socket shows its real
                # local address, as one bound to the any address does on Windows.
                address = (_ANY_ADDRESS[sock.family], *address[1:])
        _store_address(name, namelen, sock.family, address)
        return 0


def _reset(host: socket.socket) -> None:
    """Close an accepted connection so that the peer sees a reset (a zero linger), as a
    rejected conditional accept is on Windows."""
    with contextlib.suppress(OSError):
        host.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    host.close()
