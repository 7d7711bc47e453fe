"""Moving data: WSPSend, WSPSendTo, WSPRecv and WSPRecvFrom over the host's sendmsg/recvmsg.

WSABUF arrays go to the host as they are (no copy), at most ``_MAX_IOV`` buffers per host
call.  A send failing WSAEWOULDBLOCK re-enables FD_WRITE and every receive FD_READ, as on
Windows; the end or reset of a stream seen here is kept on the socket for FD_CLOSE.  On a
socket made with WSA_FLAG_OVERLAPPED a call with an lpOverlapped is an overlapped operation
(``overlapped``): the same host calls, never blocking, tried again by the reactor.
"""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Callable
from operator import index as _index
from typing import Any, Final

from .. import Ref
from .._shared import WinsockError, require_out_parameter
from ..constants import (
    FD_OOB,
    FD_READ,
    FD_WRITE,
    MSG_DONTROUTE,
    MSG_OOB,
    MSG_PEEK,
    MSG_WAITALL,
    SOCK_STREAM,
    SOCKET_ERROR,
    WSAEADDRNOTAVAIL,
    WSAEAFNOSUPPORT,
    WSAECONNRESET,
    WSAEDESTADDRREQ,
    WSAEFAULT,
    WSAEINTR,
    WSAEINVAL,
    WSAEMSGSIZE,
    WSAENOTCONN,
    WSAEOPNOTSUPP,
    WSAESHUTDOWN,
    WSAETIMEDOUT,
    WSA_IO_PENDING,
    WSAEWOULDBLOCK,
    WSS_OPERATION_IN_PROGRESS,
)
from .arguments import (
    _buffer_list,
    _check_address_out,
    _parse_address,
    _store_address,
    _unreachable,
)
from .base import CONNECTED, OverlappedOutcome, ProviderSocket
from .errors import winsock_error
from .events import _Events
from .overlapped import Outcome, _Operation, _Request

# The host's MSG_* flags as plain ints: socket's are IntFlag members, whose & and | run Python
# code (a microsecond each time a datagram's flags were tested).
_HOST_OOB: Final = int(socket.MSG_OOB)
_HOST_WAIT_ALL: Final = int(socket.MSG_WAITALL)
_HOST_MSG: Final = {MSG_OOB: _HOST_OOB, MSG_PEEK: int(socket.MSG_PEEK),
                    MSG_DONTROUTE: int(socket.MSG_DONTROUTE), MSG_WAITALL: _HOST_WAIT_ALL}
_NO_SIGNAL: Final = int(getattr(socket, "MSG_NOSIGNAL", 0))  # SIGPIPE is ignored by Python anyway
_DONT_WAIT: Final = int(socket.MSG_DONTWAIT)  # one host call that must not block (a capped thread)
_TRUNCATED: Final = int(socket.MSG_TRUNC)
_MAX_IOV: Final = 1024      # buffers per host sendmsg/recvmsg call (Linux's IOV_MAX)
_CONNECTED_PEER: Final = object()  # WSPSend's destination: the connected peer


def _host_flags(flags: int) -> int:
    """The host's MSG_* bits for Windows ones (the callers have refused any others)."""
    host = _NO_SIGNAL
    for bit, host_bit in _HOST_MSG.items():
        if flags & bit:
            host |= host_bit
    return host


class _Transfer(_Events):
    """The data calls; each finds its socket through ``_call`` and checks its state itself."""

    def _start(self, sock: ProviderSocket, queue_name: str, operation: _Operation) -> Outcome:
        """Try ``operation`` at once unless older ones of its kind wait: its Outcome when it
        finished then (the caller fails the call, with no completion, when that is an
        error, and otherwise reports the completion: ``_finish_at_once``), or
        OverlappedOutcome(WSA_IO_PENDING) once it is queued for the reactor."""
        operation.request.overlapped.Internal = WSS_OPERATION_IN_PROGRESS
        queue = getattr(sock, queue_name)
        if not queue:
            outcome = operation.attempt()
            if outcome is not None:
                if outcome[0]:
                    operation.request.done = True
                    operation.request.overlapped.Internal = 0  # no operation is in progress
                return outcome
        with self._lock:
            if sock.closed:
                raise WinsockError(WSAEINTR, "the socket was closed during the call")
            queue.append(operation)
        self._start_reactor()
        self._update_interest(sock)
        raise OverlappedOutcome(WSA_IO_PENDING)

    def WSPSend(self, s: Any, lpBuffers: Any, dwBufferCount: Any, lpNumberOfBytesSent: Any,
                dwFlags: Any, lpOverlapped: Any, lpCompletionRoutine: Any, lpThreadId: Any,
                lpErrno: Any, /) -> int:
        """Send the first ``dwBufferCount`` buffers of ``lpBuffers``, in order: 0, or SOCKET_ERROR.

        The byte count goes to ``lpNumberOfBytesSent`` (a Ref; None is WSAEFAULT).  A
        blocking socket sends everything, unless SO_SNDTIMEO or the thread's
        ``blocking_limit`` runs out first: then what went, or WSAETIMEDOUT when nothing did;
        a non-blocking one sends what fits, or fails with WSAEWOULDBLOCK (which re-enables
        FD_WRITE).  ``dwFlags``: 0, MSG_OOB, MSG_DONTROUTE
        (others: WSAEOPNOTSUPP).  Not connected: WSAENOTCONN; after WSPShutdown(SD_SEND):
        WSAESHUTDOWN; the peer gone: WSAECONNRESET.

        Overlapped (``lpOverlapped`` a ``ws2core.structs.WSAOVERLAPPED`` on a socket made
        with WSA_FLAG_OVERLAPPED; on any other socket ``lpOverlapped``,
        ``lpCompletionRoutine`` and ``lpThreadId`` are ignored): whatever the blocking mode,
        0 when everything went at once (its completion reported all the same), else
        SOCKET_ERROR with WSA_IO_PENDING, and the reactor sends the rest as room comes; the
        completion (all the bytes, or an error) is reported by ``hEvent`` or by
        ``lpCompletionRoutine`` queued to ``lpThreadId`` (a WSATHREADID; None with a routine:
        WSAEFAULT), see ``ws2core.provider.overlapped``.  ``lpNumberOfBytesSent`` may then be
        None.  The buffers must not change until the completion.
        """
        views = _buffer_list(lpBuffers, dwBufferCount)
        return self._call(s, lpErrno, SOCKET_ERROR, self._send, views, lpNumberOfBytesSent,
                          dwFlags, _CONNECTED_PEER, lpOverlapped, lpCompletionRoutine, lpThreadId)

    def WSPSendTo(self, s: Any, lpBuffers: Any, dwBufferCount: Any, lpNumberOfBytesSent: Any,
                  dwFlags: Any, lpTo: Any, iTolen: Any, lpOverlapped: Any,
                  lpCompletionRoutine: Any, lpThreadId: Any, lpErrno: Any, /) -> int:
        """As WSPSend, to ``lpTo`` (an address tuple or sockaddr bytes; ignored on a stream
        socket).  A datagram socket with no ``lpTo`` and no connected peer:
        WSAEDESTADDRREQ; a datagram too large for the host: WSAEMSGSIZE."""
        views = _buffer_list(lpBuffers, dwBufferCount)
        return self._call(s, lpErrno, SOCKET_ERROR, self._send, views, lpNumberOfBytesSent,
                          dwFlags, (lpTo, iTolen), lpOverlapped, lpCompletionRoutine, lpThreadId)

    def _send(self, sock: ProviderSocket, views: list[memoryview], sent_out: Any, dwFlags: Any,
              destination: Any, overlapped: Any, completion: Any, thread_id: Any) -> int:
        """WSPSend (``destination`` is _CONNECTED_PEER) and WSPSendTo ((lpTo, iTolen)).

        Its hot path (a connected stream socket, one buffer, no flags, a Ref for the count)
        skips each check whose answer is known there, in the order the checks are made."""
        request = (None if overlapped is None or not sock.overlapped
                   else self._request(sock, overlapped, completion, thread_id))
        if sent_out.__class__ is not Ref:  # a Ref needs no look
            if sent_out is None and request is None:
                raise WinsockError(WSAEFAULT, "lpNumberOfBytesSent is NULL")
            if sent_out is not None:
                require_out_parameter(sent_out, "lpNumberOfBytesSent")
        flags = dwFlags if dwFlags.__class__ is int else _index(dwFlags)
        if flags:
            if flags & ~(MSG_OOB | MSG_DONTROUTE) or (flags & MSG_OOB
                                                      and sock.type != SOCK_STREAM):
                raise WinsockError(WSAEOPNOTSUPP, f"send flags {flags:#x}")
            host_flags = _host_flags(flags)
        else:
            host_flags = _NO_SIGNAL
        address = None
        if sock.state == CONNECTED:
            pass  # the hot path: a stream socket ready to send
        elif sock.type == SOCK_STREAM:
            self._resolve_connect(sock)
            if sock.state != CONNECTED:
                raise WinsockError(WSAENOTCONN)
        elif destination is not _CONNECTED_PEER and destination[0] is not None:
            to, tolen = destination
            address = _parse_address(to, tolen, sock.family, WSAEAFNOSUPPORT)
            if _unreachable(sock.family, address):
                raise WinsockError(WSAEADDRNOTAVAIL, "cannot send to the any address or port 0")
        elif not self._has_peer(sock):
            raise WinsockError(WSAENOTCONN if destination is _CONNECTED_PEER else WSAEDESTADDRREQ)
        if sock.shut_send:
            raise WinsockError(WSAESHUTDOWN)
        attempt = sock.attempt
        if address is not None:
            decision = self._datagram_decision(sock, address)
            if decision.error:
                raise WinsockError(decision.error, f"the network policy refuses {address[0]}")
            address, attempt = decision.target, decision.attempt
        if request is not None:
            return self._send_overlapped(sock, request, views, host_flags, address, attempt,
                                         sent_out)
        if self._capped and not sock.nonblocking:
            capped = self._capped_seconds(sock.send_timeout)
            if capped is not None:
                total = self._send_capped(sock, views, host_flags, address, capped)
                if attempt is not None:
                    attempt.count(sent=total)
                sent_out.value = total
                return 0
        total = 0
        batches = (views,) if len(views) <= _MAX_IOV else (
            views[first : first + _MAX_IOV] for first in range(0, len(views), _MAX_IOV))
        for batch in batches:
            try:
                if address is not None:
                    count = sock.host.sendmsg(batch, (), host_flags, address)
                elif len(batch) == 1:
                    count = sock.host.send(batch[0], host_flags)
                else:
                    count = sock.host.sendmsg(batch, (), host_flags)
            except BlockingIOError:
                if total:
                    break  # part went: a success, on Windows too
                if not sock.nonblocking:
                    raise WinsockError(WSAETIMEDOUT) from None  # SO_SNDTIMEO ran out
                self._reenable(sock, FD_WRITE)
                raise WinsockError(WSAEWOULDBLOCK) from None
            total += count
            if len(batch) == 1 and count == len(batch[0]):
                continue
            if count < sum(map(len, batch)):
                if sock.closed:  # the close's shutdown cut a blocking send short
                    raise WinsockError(WSAEINTR, "the socket was closed during the call")
                break  # the host took part of it (non-blocking, or a timeout)
        if attempt is not None:
            attempt.count(sent=total)
        sent_out.value = total
        return 0

    def _send_capped(self, sock: ProviderSocket, views: list[memoryview], host_flags: int,
                     address: tuple[Any, ...] | None, seconds: float) -> int:
        """A blocking send on a capped thread: what went within ``seconds``.

        Each host call is non-blocking and the waits between them are the provider's, so the
        cap can end the send: WSAETIMEDOUT when nothing went, else the count of what went
        (reported, so that the program sends the rest; a datagram goes whole or not at all).
        """
        deadline = time.monotonic() + seconds
        flags = host_flags | _DONT_WAIT
        pending = views
        total = 0
        while True:
            count, pending = self._send_ready(sock, pending, flags, address)
            total += count
            if not pending:
                return total
            if self._wait_host(sock, select.POLLOUT, deadline):
                continue
            if total:
                return total
            raise WinsockError(WSAETIMEDOUT, "nothing could be sent within the blocking limit")

    @staticmethod
    def _send_ready(sock: ProviderSocket, views: list[memoryview], flags: int,
                    address: tuple[Any, ...] | None) -> tuple[int, list[memoryview]]:
        """Send with ``flags`` (which hold MSG_DONTWAIT) until the host would block: the
        count sent and what is left (nothing: all went; one empty datagram goes too)."""
        total = 0
        while True:
            batch = views[:_MAX_IOV]
            try:  # the hot path's dispatch: send() raises no audit event, sendmsg() does
                if address is not None:
                    count = sock.host.sendmsg(batch, (), flags, address)
                elif len(batch) == 1:
                    count = sock.host.send(batch[0], flags)
                else:
                    count = sock.host.sendmsg(batch, (), flags)
            except BlockingIOError:
                return total, views
            total += count
            views = _after(views, count)
            if not views:
                return total, views

    def _send_overlapped(self, sock: ProviderSocket, request: _Request,
                         views: list[memoryview], host_flags: int,
                         address: tuple[Any, ...] | None, record: Any, sent_out: Any) -> int:
        """An overlapped send: complete once every byte went (a datagram goes whole)."""
        attempt = self._send_attempt(sock, views, host_flags, address, record)
        error, count, _ = self._start(sock, "sends", _Operation(request, attempt))
        if error:
            raise WinsockError(error)
        if sent_out is not None:
            sent_out.value = count
        self._finish_at_once(request, count)
        return 0

    def _send_attempt(self, sock: ProviderSocket, views: list[memoryview], host_flags: int,
                      address: tuple[Any, ...] | None,
                      record: Any) -> Callable[[], Outcome | None]:
        """One overlapped send's attempt (an ``_Operation``'s): what the host takes without
        blocking, the Outcome once every byte went (counted on the policy's ``record``), or
        None while some is left; a failure's Outcome counts what went before it."""
        flags = host_flags | _DONT_WAIT
        pending = views
        total = 0

        def attempt() -> Outcome | None:
            nonlocal pending, total
            try:
                count, pending = self._send_ready(sock, pending, flags, address)
            except OSError as error:
                return (winsock_error(error), total, 0)
            total += count
            if pending:
                return None
            if record is not None:
                record.count(sent=total)
            return (0, total, 0)

        return attempt

    def WSPRecv(self, s: Any, lpBuffers: Any, dwBufferCount: Any, lpNumberOfBytesRecvd: Any,
                lpFlags: Any, lpOverlapped: Any, lpCompletionRoutine: Any, lpThreadId: Any,
                lpErrno: Any, /) -> int:
        """Receive into the first ``dwBufferCount`` writable buffers, in order: 0, or SOCKET_ERROR.

        ``lpNumberOfBytesRecvd`` (a Ref) gets the count, 0 when the peer closed gracefully;
        ``lpFlags`` (a Ref) gives MSG_PEEK, MSG_OOB, MSG_WAITALL (blocking stream sockets)
        and comes back 0.  None for either, or a read-only buffer: WSAEFAULT.  Not connected:
        WSAENOTCONN; an unbound datagram socket: WSAEINVAL; non-blocking with nothing to
        read: WSAEWOULDBLOCK; blocking, when SO_RCVTIMEO or the thread's ``blocking_limit``
        runs out first: WSAETIMEDOUT; reset: WSAECONNRESET; after SD_RECEIVE: WSAESHUTDOWN; a
        datagram larger than the buffers: WSAEMSGSIZE, with the buffers filled and the
        count written.  Every call re-enables FD_READ.

        Overlapped (``lpOverlapped`` a ``ws2core.structs.WSAOVERLAPPED`` on a socket made
        with WSA_FLAG_OVERLAPPED; on any other socket ``lpOverlapped``,
        ``lpCompletionRoutine`` and ``lpThreadId`` are ignored): whatever the blocking mode,
        0 when data was there (its completion reported all the same), else SOCKET_ERROR
        with WSA_IO_PENDING: the buffers (which the caller keeps, as on Windows) are filled
        when data comes, receives complete in call order, and the completion is reported by
        ``hEvent`` or by ``lpCompletionRoutine`` queued to ``lpThreadId`` (a WSATHREADID;
        None with a routine: WSAEFAULT), see ``ws2core.provider.overlapped``.
        ``lpNumberOfBytesRecvd`` may then be None; MSG_WAITALL is WSAEOPNOTSUPP.
        """
        views = _buffer_list(lpBuffers, dwBufferCount)
        return self._call(s, lpErrno, SOCKET_ERROR, self._receive, views, lpNumberOfBytesRecvd,
                          lpFlags, None, None, lpOverlapped, lpCompletionRoutine, lpThreadId)

    def WSPRecvFrom(self, s: Any, lpBuffers: Any, dwBufferCount: Any, lpNumberOfBytesRecvd: Any,
                    lpFlags: Any, lpFrom: Any, lpFromlen: Any, lpOverlapped: Any,
                    lpCompletionRoutine: Any, lpThreadId: Any, lpErrno: Any, /) -> int:
        """As WSPRecv, and the sender's address into ``lpFrom`` (None, a Ref or a writable
        buffer) and its size into ``lpFromlen`` (None or a Ref; below the sockaddr size:
        WSAEFAULT, before anything is read)."""
        views = _buffer_list(lpBuffers, dwBufferCount)
        return self._call(s, lpErrno, SOCKET_ERROR, self._receive, views, lpNumberOfBytesRecvd,
                          lpFlags, lpFrom, lpFromlen, lpOverlapped, lpCompletionRoutine,
                          lpThreadId)

    def _receive(self, sock: ProviderSocket, views: list[memoryview], received_out: Any,
                 flags_inout: Any, source: Any, sourcelen: Any, overlapped: Any,
                 completion: Any, thread_id: Any) -> int:
        """WSPRecv (``source`` and ``sourcelen`` None) and WSPRecvFrom.

        Its hot path (a connected stream socket, no flags, Refs for the count and the flags)
        skips each check whose answer is known there, in the order the checks are made."""
        request = (None if overlapped is None or not sock.overlapped
                   else self._request(sock, overlapped, completion, thread_id))
        if received_out.__class__ is not Ref or flags_inout.__class__ is not Ref:
            if (received_out is None and request is None) or flags_inout is None:
                raise WinsockError(WSAEFAULT, "lpNumberOfBytesRecvd or lpFlags is NULL")
            if received_out is not None:
                require_out_parameter(received_out, "lpNumberOfBytesRecvd")
            require_out_parameter(flags_inout, "lpFlags")
        for view in views:
            if view.readonly:
                raise WinsockError(WSAEFAULT, "a receive buffer is read-only")
        flags = flags_inout.value
        stream = sock.type == SOCK_STREAM
        if flags:
            flags = flags if flags.__class__ is int else _index(flags)
            if flags & ~(MSG_OOB | MSG_PEEK | MSG_WAITALL) or (
                flags & MSG_WAITALL and (not stream or sock.nonblocking or flags & MSG_PEEK
                                         or request is not None)
            ) or (flags & MSG_OOB and not stream):
                raise WinsockError(WSAEOPNOTSUPP, f"receive flags {flags:#x}")
        if stream:  # which ignores lpFrom and lpFromlen, as on Windows
            if sock.state != CONNECTED:
                self._resolve_connect(sock)
                if sock.state != CONNECTED:
                    raise WinsockError(WSAENOTCONN)
        else:
            _check_address_out(source, sourcelen, sock.family)
            if not self._is_bound(sock):
                raise WinsockError(WSAEINVAL, "receive on an unbound datagram socket")
        if sock.shut_receive:
            raise WinsockError(WSAESHUTDOWN)
        host_flags = _host_flags(flags) if flags else 0
        if request is not None:
            return self._receive_overlapped(sock, request, views, host_flags, source, sourcelen,
                                            received_out, flags_inout)
        capped = (self._capped_seconds(sock.receive_timeout)
                  if self._capped and not sock.nonblocking else None)
        try:
            count, error = self._receive_once(sock, views, host_flags, source, sourcelen, capped)
        except BlockingIOError:
            raise WinsockError(WSAEWOULDBLOCK if sock.nonblocking else WSAETIMEDOUT) from None
        received_out.value = count
        if error:
            raise WinsockError(error, "the datagram did not fit the buffers")
        flags_inout.value = 0
        return 0

    def _receive_once(self, sock: ProviderSocket, views: list[memoryview], host_flags: int,
                      source: Any, sourcelen: Any, capped: float | None) -> tuple[int, int]:
        """One receive at the host (``capped``: the seconds a capped blocking call may wait):
        (count, 0), or (count, WSAEMSGSIZE) for a datagram cut short; BlockingIOError when
        nothing came, WinsockError or OSError for a failure.  FD_READ is re-enabled."""
        stream = sock.type == SOCK_STREAM
        peer: Any = None
        try:
            try:
                if capped is not None:
                    count, message_flags, peer = self._receive_capped(
                        sock, views[:_MAX_IOV], host_flags, capped)
                elif stream and len(views) == 1:
                    count = sock.host.recv_into(views[0], 0, host_flags)
                    message_flags = 0
                else:
                    count, _, message_flags, peer = sock.host.recvmsg_into(
                        views[:_MAX_IOV], 0, host_flags)
            except ConnectionResetError:
                with self._lock:
                    sock.peer_closed = True
                    sock.stream_error = WSAECONNRESET  # every later receive says so too
                raise
            if sock.closed:  # the close's shutdown woke the host call: whatever it returned
                raise WinsockError(WSAEINTR, "the socket was closed during the call")
            if stream and count == 0 and any(len(view) for view in views):
                with self._lock:
                    sock.peer_closed = True  # the peer closed: FD_CLOSE may follow
                if sock.stream_error:
                    raise WinsockError(sock.stream_error)  # it was a reset, not a close
            attempt = sock.attempt
            if not stream and sock.replies and peer is not None:
                reply = sock.replies.get(peer[:2])
                if reply is not None:
                    # From a destination on record; a redirect's target shows as the
                    # address the program sent to.
                    peer = reply[0] or peer
                    attempt = reply[1]
            if attempt is not None:
                attempt.count(received=count)
            if not stream:
                if source is not None or sourcelen is not None:
                    _store_address(source, sourcelen, sock.family, peer)
                if message_flags & _TRUNCATED:
                    return count, WSAEMSGSIZE
            return count, 0
        finally:
            if sock.network_events:  # _reenable's own test, saving the call when unselected
                self._reenable(sock, FD_READ | FD_OOB)

    def _receive_overlapped(self, sock: ProviderSocket, request: _Request,
                            views: list[memoryview], host_flags: int, source: Any,
                            sourcelen: Any, received_out: Any, flags_inout: Any) -> int:
        """An overlapped receive: complete with whatever one host receive brings."""
        flags = host_flags | _DONT_WAIT

        def attempt() -> Outcome | None:
            try:
                count, error = self._receive_once(sock, views, flags, source, sourcelen, None)
            except BlockingIOError:
                return None
            except OSError as failure:
                return (winsock_error(failure), 0, 0)
            return (error, count, 0)

        error, count, _ = self._start(sock, "receives", _Operation(request, attempt))
        if received_out is not None:
            received_out.value = count
        if error:
            raise WinsockError(error)
        flags_inout.value = 0
        self._finish_at_once(request, count)
        return 0

    def _receive_capped(self, sock: ProviderSocket, views: list[memoryview], host_flags: int,
                        seconds: float) -> tuple[int, int, Any]:
        """A blocking receive on a capped thread: (count, message flags, sender) of what came
        within ``seconds``, else WinsockError(WSAETIMEDOUT) with nothing taken.

        MSG_WAITALL gathers until the buffers are full, the stream ends or the time is up;
        what came by then is the result (as when SO_RCVTIMEO ends such a receive at the host).
        """
        deadline = time.monotonic() + seconds
        wait_all = host_flags & _HOST_WAIT_ALL
        flags = (host_flags & ~_HOST_WAIT_ALL) | _DONT_WAIT
        events = select.POLLIN | (select.POLLPRI if host_flags & _HOST_OOB else 0)
        pending = views
        total = 0
        while True:
            try:
                count, _, message_flags, peer = sock.host.recvmsg_into(pending, 0, flags)
            except BlockingIOError:
                if self._wait_host(sock, events, deadline):
                    continue
                if total:
                    return total, 0, None
                raise WinsockError(WSAETIMEDOUT, "nothing came within the blocking limit") from None
            total += count
            if not wait_all or count == 0:
                return total, message_flags, peer
            pending = _after(pending, count)
            if not pending:
                return total, message_flags, peer


def _after(views: list[memoryview], count: int) -> list[memoryview]:
    """What is left of ``views`` once the first ``count`` bytes are done."""
    for index, view in enumerate(views):
        if count < len(view):
            return [view[count:], *views[index + 1 :]]
        count -= len(view)
    return []
