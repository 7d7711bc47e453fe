"""The extension functions of mswsock.h: AcceptEx, ConnectEx, DisconnectEx and
GetAcceptExSockaddrs, which WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER) hands out
(``options``) for their GUIDs (``ws2core.constants.WSAID_*``).

They are Python callables with Windows' arguments in the provider's Python forms (the
package's docstring), and Windows' results: TRUE, or FALSE with the code as the calling
thread's last error in the upcall table (``UpcallTable.WSAGetLastError``), since Windows
gives them no lpErrno.  FALSE with WSA_IO_PENDING (ERROR_IO_PENDING) means the operation
started and completes later.

They are overlapped operations (``overlapped``), completed the same way: by ``hEvent``
(WPUSetEvent), with the outcome in the WSAOVERLAPPED and through WSPGetOverlappedResult, and
cancelled by a close.  AcceptEx and ConnectEx need an ``lpOverlapped`` (their pages: it
"cannot be NULL"); on a socket made without WSA_FLAG_OVERLAPPED the call waits for the
completion and reports it all the same, as Windows does for a handle opened for synchronous
I/O.  DisconnectEx completes at once, with or without one.

AcceptEx is an operation of the listening socket (in its queue of receives: a connection
makes the listener readable); once it has taken a connection, the accept socket's host
socket is replaced by the accepted one, so that its handle, context and options stay.  When
it also waits for the first block of data, the operation moves on to the accept socket's
queue (its request handed on to a receive there): a listener never waits for a client's
data.
"""

from __future__ import annotations

import errno
import socket
import struct
from operator import index as _index
from typing import Any, Final

from .. import Ref
from .._shared import WinsockError, require_out_parameter
from ..constants import (
    AF_INET6,
    FALSE,
    FD_ACCEPT,
    SOCK_STREAM,
    TF_REUSE_SOCKET,
    TRUE,
    WSA_INVALID_PARAMETER,
    WSA_IO_PENDING,
    WSA_OPERATION_ABORTED,
    WSAEADDRNOTAVAIL,
    WSAEAFNOSUPPORT,
    WSAECONNREFUSED,
    WSAEFAULT,
    WSAEINVAL,
    WSAENOTCONN,
    WSAEOPNOTSUPP,
    WSS_OPERATION_IN_PROGRESS,
)
from ..structs import (
    SOCKADDR_SIZE,
    overlapped_structure,
    pack_sockaddr,
    unpack_sockaddr,
)
from .arguments import _parse_address, _unreachable, _writable
from .base import (
    CONNECTED,
    CONNECTING,
    LISTENING,
    UNCONNECTED,
    OverlappedOutcome,
    ProviderSocket,
)
from .errors import winsock_error
from .options import _set_host_timeouts
from .overlapped import Outcome, _Operation, _Request
from .sockets import _reset, _Sockets
from .transfer import _DONT_WAIT, _NO_SIGNAL, _Transfer

ADDRESS_SLACK: Final = 16
"""AcceptEx's address areas hold the family's sockaddr and at least this many bytes more
(the AcceptEx page: "at least 16 bytes more than the maximum address length")."""

_LENGTH: Final = struct.Struct("<i")
ADDRESS_OFFSET: Final = _LENGTH.size
"""Where the sockaddr of an AcceptEx address area begins: after the area's int length, the
sockaddr's size (the layout ``get_accept_ex_sockaddrs`` reads)."""
_CONNECTING_ERRORS: Final = (errno.EINPROGRESS, errno.EAGAIN, errno.EWOULDBLOCK)


def _dword(value: Any, name: str) -> int:
    number = _index(value)
    if not 0 <= number <= 0xFFFFFFFF:
        raise ValueError(f"{name} must be a DWORD, not {number}")
    return number


def get_accept_ex_sockaddrs(lpOutputBuffer: Any, dwReceiveDataLength: Any,
                            dwLocalAddressLength: Any, dwRemoteAddressLength: Any, /
                            ) -> tuple[tuple[Any, ...], int, tuple[Any, ...], int]:
    """GetAcceptExSockaddrs: the local and remote addresses AcceptEx wrote into
    ``lpOutputBuffer`` (any buffer), given the three lengths AcceptEx was given:
    ``(local, local_length, remote, remote_length)``, each address a tuple as the provider's
    out-addresses are (``(host, port)``, or ``(host, port, flowinfo, scope_id)``), each
    length its sockaddr's size.

    Windows returns pointers into the buffer; Python returns the values.  Each address area
    holds a 4-byte length and then the sockaddr, as Wine lays it out (Windows calls its own
    layout internal and documents only this function to read it).  A buffer shorter than the
    three lengths, or an area that holds no address AcceptEx wrote: ValueError (C would read
    what is not there).
    """
    view = memoryview(lpOutputBuffer).cast("B")
    data = _dword(dwReceiveDataLength, "dwReceiveDataLength")
    local_room = _dword(dwLocalAddressLength, "dwLocalAddressLength")
    remote_room = _dword(dwRemoteAddressLength, "dwRemoteAddressLength")
    if len(view) < data + local_room + remote_room:
        raise ValueError(f"lpOutputBuffer holds {len(view)} bytes, the lengths say "
                         f"{data + local_room + remote_room}")
    local, local_length = _read_area(view[data : data + local_room])
    remote, remote_length = _read_area(view[data + local_room : data + local_room + remote_room])
    return local, local_length, remote, remote_length


def _read_area(area: memoryview) -> tuple[tuple[Any, ...], int]:
    if len(area) < _LENGTH.size:
        raise ValueError("an address area too short for its length field")
    (length,) = _LENGTH.unpack_from(area)
    if not 0 < length <= len(area) - _LENGTH.size:
        raise ValueError(f"an address area holds no address (length {length})")
    return unpack_sockaddr(area[_LENGTH.size : _LENGTH.size + length]), length


def _write_area(area: memoryview, family: int, address: tuple[Any, ...]) -> None:
    encoded = pack_sockaddr(family, address)
    area[: _LENGTH.size + len(encoded)] = _LENGTH.pack(len(encoded)) + encoded


class _Extensions(_Sockets, _Transfer):
    """AcceptEx, ConnectEx, DisconnectEx and GetAcceptExSockaddrs over the overlapped
    machinery."""

    GetAcceptExSockaddrs = staticmethod(get_accept_ex_sockaddrs)

    # --- calling: a WSP call whose code becomes the last error

    def _extension(self, s: Any, body: Any, *args: Any) -> int:
        """``body(sock, *args)`` on the socket behind ``s`` as a WSP call: TRUE, or FALSE with
        the code as the calling thread's last error (none is set before WSPStartup)."""
        error = Ref(0)
        if self._call(s, error, FALSE, body, *args) != FALSE:
            return TRUE
        upcalls = self.upcalls
        if upcalls is not None:
            upcalls.WSASetLastError(error.value)
        return FALSE

    def _extension_request(self, sock: ProviderSocket, lpOverlapped: Any) -> _Request:
        """The request of an AcceptEx or ConnectEx on ``sock`` (AcceptEx's listener, whose
        completion it is: a completion port associated with the listener gets it): always
        one (NULL: WSA_INVALID_PARAMETER, as Wine answers; something that is no
        WSAOVERLAPPED: TypeError)."""
        overlapped = overlapped_structure(lpOverlapped)
        if overlapped is None:
            raise WinsockError(WSA_INVALID_PARAMETER, "lpOverlapped is NULL")
        event = overlapped.hEvent
        return _Request(sock.handle, overlapped, None, 0, 0 if event is None else _index(event))

    def _run(self, sock: ProviderSocket, queue: str, operation: _Operation,
             count_out: Any) -> int:
        """Start ``operation``: TRUE when it finished at once (its count in ``count_out``, its
        completion reported), else OverlappedOutcome(WSA_IO_PENDING), or on a socket made
        without WSA_FLAG_OVERLAPPED, the wait for its completion and its outcome."""
        request = operation.request
        try:
            error, count, _ = self._start(sock, queue, operation)
            if error:
                raise WinsockError(error)
            if request.done:  # handed on to another operation, which completes it
                raise OverlappedOutcome(WSA_IO_PENDING)
            self._finish_at_once(request, count)
        except OverlappedOutcome:
            if sock.overlapped:
                raise
            transferred = Ref(0)
            self._overlapped_result(sock, request.overlapped, transferred, True, Ref(0))
            count = transferred.value
        if count_out is not None:
            count_out.value = count
        return TRUE

    # --- AcceptEx

    def AcceptEx(self, sListenSocket: Any, sAcceptSocket: Any, lpOutputBuffer: Any,
                 dwReceiveDataLength: Any, dwLocalAddressLength: Any,
                 dwRemoteAddressLength: Any, lpdwBytesReceived: Any, lpOverlapped: Any,
                 /) -> int:
        """Accept a connection on listening socket ``sListenSocket`` into ``sAcceptSocket``
        (a socket of this provider, of the listener's family, neither bound nor connected),
        and receive its first block of data: TRUE, or FALSE with the last error.

        ``lpOutputBuffer`` (a writable buffer of at least the three lengths together)
        receives up to ``dwReceiveDataLength`` bytes of data at offset 0 (0: the accept
        completes as the connection comes, without waiting for data; otherwise once the
        first data or the peer's close comes), then the local and the remote address, in
        areas of ``dwLocalAddressLength`` and ``dwRemoteAddressLength`` bytes, each at least
        the family's sockaddr and 16 (else WSAEFAULT, as a short buffer); read them with
        ``GetAcceptExSockaddrs``.  ``lpdwBytesReceived`` (None or a Ref) gets the data's
        byte count when the call completes at once.  ``lpOverlapped``: a WSAOVERLAPPED
        (``ws2core.structs``; None: WSA_INVALID_PARAMETER); FALSE with WSA_IO_PENDING until a
        connection comes, then the completion (the data's byte count) by its event.

        The accept socket becomes the connection: the same handle, its host socket replaced
        by the accepted one, with its own blocking mode, timeouts and WSPEventSelect
        association.  getsockname and getpeername answer at once (Windows answers them only
        after setsockopt(SO_UPDATE_ACCEPT_CONTEXT), which is accepted here and checks its
        listener).  NULL ``lpOutputBuffer``: WSAEINVAL; the listener not listening, the accept
        socket bound, connected, of another family or kind, or in another pending AcceptEx:
        WSAEINVAL; a datagram listener: WSAEOPNOTSUPP; either handle no socket: WSAENOTSOCK.
        Closing the listener or the accept socket completes a pending AcceptEx with
        WSA_OPERATION_ABORTED.
        """
        return self._extension(sListenSocket, self._accept_ex, sAcceptSocket, lpOutputBuffer,
                               dwReceiveDataLength, dwLocalAddressLength, dwRemoteAddressLength,
                               lpdwBytesReceived, lpOverlapped)

    def _accept_ex(self, listener: ProviderSocket, accept_handle: Any, output: Any,
                   data_length: Any, local_length: Any, remote_length: Any, received_out: Any,
                   lpOverlapped: Any) -> int:
        request = self._extension_request(listener, lpOverlapped)
        if received_out is not None:
            require_out_parameter(received_out, "lpdwBytesReceived")
        lengths = (_dword(data_length, "dwReceiveDataLength"),
                   _dword(local_length, "dwLocalAddressLength"),
                   _dword(remote_length, "dwRemoteAddressLength"))
        code = Ref(0)
        target = self._enter(accept_handle, code)
        if target is None:
            raise WinsockError(code.value, "sAcceptSocket")
        try:
            return self._accept_into(listener, target, output, lengths, received_out, request)
        finally:
            self._leave(target)

    def _accept_into(self, listener: ProviderSocket, target: ProviderSocket, output: Any,
                     lengths: tuple[int, int, int], received_out: Any, request: _Request) -> int:
        data_length, local_length, remote_length = lengths
        if output is None:
            raise WinsockError(WSAEINVAL, "lpOutputBuffer is NULL")
        view = _writable(output, "lpOutputBuffer")
        room = SOCKADDR_SIZE[listener.family] + ADDRESS_SLACK
        if local_length < room or remote_length < room:
            raise WinsockError(WSAEFAULT, f"an address area of {min(local_length, remote_length)}"
                                          f" bytes, below {room}")
        if len(view) < sum(lengths):
            raise WinsockError(WSAEFAULT, f"lpOutputBuffer holds {len(view)} bytes of {sum(lengths)}")
        if listener.type != SOCK_STREAM:
            raise WinsockError(WSAEOPNOTSUPP)
        if listener.state != LISTENING:
            raise WinsockError(WSAEINVAL, "sListenSocket is not listening")
        if (target is listener or target.type != SOCK_STREAM or target.family != listener.family
                or target.sharing is not None or self._is_bound(target)):
            raise WinsockError(WSAEINVAL, "sAcceptSocket must be a fresh socket of the listener's kind")
        with self._lock:
            reserved = target.accepting
            if (reserved is not None and not reserved.done) or target.state != UNCONNECTED:
                raise WinsockError(WSAEINVAL, "sAcceptSocket is connected or in another AcceptEx")
            target.accepting = request  # until it is done: completed, failed or cancelled
        data = view[:data_length]
        local_area = view[data_length : data_length + local_length]
        remote_area = view[data_length + local_length : sum(lengths)]

        def receive() -> Outcome | None:
            """The first block of data, on the accepted connection."""
            try:
                count, _ = self._receive_once(target, [data], _DONT_WAIT, None, None, None)
            except BlockingIOError:
                return None
            except OSError as failure:
                return (winsock_error(failure), 0, 0)
            return (0, count, 0)

        def accept() -> Outcome | None:
            with self._lock:
                if request.done or target.closed:  # cancelled by a close
                    return (WSA_OPERATION_ABORTED, 0, 0)
            try:
                with self._host_nonblocking(listener):
                    host, peer = listener.host.accept()
            except (BlockingIOError, ConnectionAbortedError):
                return None  # nothing yet, or a peer that gave up first: wait for the next
            except OSError as failure:
                return (winsock_error(failure), 0, 0)
            finally:
                self._reenable(listener, FD_ACCEPT)
            host.setblocking(not target.nonblocking)
            _set_host_timeouts(host, target.receive_timeout, target.send_timeout)
            _write_area(local_area, listener.family, host.getsockname())
            _write_area(remote_area, listener.family, peer)
            with self._lock:
                adopted = not (request.done or target.closed)
                if adopted:
                    old, target.host = target.host, host
                    target.state = CONNECTED
            if not adopted:
                _reset(host)  # the AcceptEx was cancelled meanwhile: the peer sees a reset
                return (WSA_OPERATION_ABORTED, 0, 0)
            old.close()  # fresh and unbound: nothing was ever on it
            if target.network_events:
                self._start_reactor()
                self._observe_now(target)
            if not data_length:
                return (0, 0, 0)
            outcome = receive()
            if outcome is not None:
                return outcome
            # Hand the request on to a receive of the accept socket, where the data will come.
            follow = _Request(request.handle, request.overlapped, None, 0, request.event)
            with self._lock:
                if request.done or target.closed:
                    return (WSA_OPERATION_ABORTED, 0, 0)
                request.done = True  # popped from the listener's queue without a completion
                target.receives.append(_Operation(follow, receive))
            self._start_reactor()
            self._update_interest(target)
            return (0, 0, 0)

        return self._run(listener, "receives", _Operation(request, accept), received_out)

    # --- ConnectEx

    def ConnectEx(self, s: Any, name: Any, namelen: Any, lpSendBuffer: Any,
                  dwSendDataLength: Any, lpdwBytesSent: Any, lpOverlapped: Any, /) -> int:
        """Connect bound stream socket ``s`` to ``name`` (an address tuple or sockaddr bytes,
        as WSPConnect takes), then send ``dwSendDataLength`` bytes of ``lpSendBuffer`` (None,
        or a buffer; ignored when None): TRUE, or FALSE with the last error.

        The network policy decides the connection first, as for WSPConnect: a refusal fails
        the call with the policy's code (WSAENETUNREACH by default, as a machine without the
        route) and makes no host call; it is on record with the others.  ``lpdwBytesSent``
        (None or a Ref) gets the bytes sent when the call completes at once.
        ``lpOverlapped``: a WSAOVERLAPPED (None: WSA_INVALID_PARAMETER); FALSE with
        WSA_IO_PENDING while connecting, then the completion (the bytes sent, or the
        connect's error, such as WSAECONNREFUSED) by its event.  Not bound, or listening:
        WSAEINVAL (the page: "an unbound or a listening socket"); connected: WSAEISCONN; a
        connect in progress: WSAEALREADY; a datagram socket: WSAEOPNOTSUPP (the page: only
        connection-oriented sockets); the any address or port 0: WSAEADDRNOTAVAIL; another
        family: WSAEAFNOSUPPORT.  setsockopt(SO_UPDATE_CONNECT_CONTEXT) is accepted once
        connected; the socket answers every call as a connected one without it.
        """
        return self._extension(s, self._connect_ex, name, namelen, lpSendBuffer,
                               dwSendDataLength, lpdwBytesSent, lpOverlapped)

    def _connect_ex(self, sock: ProviderSocket, name: Any, namelen: Any, send_buffer: Any,
                    send_length: Any, sent_out: Any, lpOverlapped: Any) -> int:
        request = self._extension_request(sock, lpOverlapped)
        if sent_out is not None:
            require_out_parameter(sent_out, "lpdwBytesSent")
        pending: list[memoryview] = []
        if send_buffer is not None:
            view = memoryview(send_buffer).cast("B")
            length = _dword(send_length, "dwSendDataLength")
            if length > len(view):
                raise WinsockError(WSAEFAULT, f"lpSendBuffer holds {len(view)} bytes of {length}")
            if length:
                pending.append(view[:length])
        if sock.type != SOCK_STREAM:
            raise WinsockError(WSAEOPNOTSUPP, "ConnectEx needs a stream socket")
        address = _parse_address(name, namelen, sock.family, WSAEAFNOSUPPORT)
        if _unreachable(sock.family, address):
            raise WinsockError(WSAEADDRNOTAVAIL, "cannot connect to the any address or port 0")
        self._require_connectable(sock, "ConnectEx")
        if not self._is_bound(sock):
            raise WinsockError(WSAEINVAL, "ConnectEx needs a bound socket")
        decision = self._decide(sock, "connect", address)
        if decision.error:
            raise WinsockError(decision.error, f"the network policy refuses {address[0]}")
        with self._lock:
            sock.attempt = decision.attempt
            sock.asked_peer = address if decision.verdict == "redirected" else None
        with self._host_nonblocking(sock):
            code = sock.host.connect_ex(decision.target)
        if code and code not in _CONNECTING_ERRORS:
            raise OSError(code, "connect")  # refused at once: the call fails, no completion
        with self._lock:
            sock.state = CONNECTING  # settled by _resolve_connect, which records FD_CONNECT
            sock.pending_error = 0
        send = self._send_attempt(sock, pending, _NO_SIGNAL, None, decision.attempt) \
            if pending else None

        def attempt() -> Outcome | None:
            if sock.state == CONNECTING:
                self._resolve_connect(sock)
                if sock.state == CONNECTING:
                    return None
            if sock.state != CONNECTED:
                return (sock.pending_error or WSAECONNREFUSED, 0, 0)
            return (0, 0, 0) if send is None else send()

        return self._run(sock, "sends", _Operation(request, attempt), sent_out)

    # --- DisconnectEx

    def DisconnectEx(self, s: Any, lpOverlapped: Any, dwFlags: Any, dwReserved: Any, /) -> int:
        """Close the connection of stream socket ``s`` gracefully (the peer sees the end of
        the stream): TRUE, or FALSE with the last error.

        ``dwFlags`` 0: the socket then only sends and receives WSAESHUTDOWN, and is for
        closing; TF_REUSE_SOCKET: it becomes a fresh unbound socket (its host socket
        replaced, its handle, blocking mode and timeouts kept) for AcceptEx or ConnectEx
        (and WSPBind, WSPConnect), its overlapped operations still pending completed with
        WSA_OPERATION_ABORTED (without it, a pending receive completes with the end of the
        stream, 0 bytes).  It completes at once: with an ``lpOverlapped``
        (a WSAOVERLAPPED, or None for a synchronous call, as the page allows), its
        completion is reported too.  Another flag or a nonzero ``dwReserved``: WSAEINVAL;
        not connected: WSAENOTCONN; a datagram socket: WSAEOPNOTSUPP.
        """
        return self._extension(s, self._disconnect_ex, lpOverlapped, dwFlags, dwReserved)

    def _disconnect_ex(self, sock: ProviderSocket, lpOverlapped: Any, flags: Any,
                       reserved: Any) -> int:
        overlapped = overlapped_structure(lpOverlapped)
        request = None if overlapped is None else self._extension_request(sock, overlapped)
        flag_bits = _dword(flags, "dwFlags")
        if _dword(reserved, "dwReserved") or flag_bits & ~TF_REUSE_SOCKET:
            raise WinsockError(WSAEINVAL, f"dwFlags {flag_bits:#x}, dwReserved {reserved}")
        if sock.type != SOCK_STREAM:
            raise WinsockError(WSAEOPNOTSUPP, "DisconnectEx needs a stream socket")
        self._resolve_connect(sock)
        if sock.state != CONNECTED:
            raise WinsockError(WSAENOTCONN)
        reuse = bool(flag_bits & TF_REUSE_SOCKET)
        cancelled = []
        with self._lock:
            if reuse:  # taken first: the shutdown would let a receive complete empty
                cancelled = self._take_pending(sock)
            sock.shut_send = sock.shut_receive = True
        try:
            sock.host.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # the peer reset it first: it is over all the same
        if reuse:
            self._renew(sock)
        self._abort(cancelled)
        if request is not None:
            request.overlapped.Internal = WSS_OPERATION_IN_PROGRESS
            self._finish_at_once(request, 0)
        return TRUE

    def _renew(self, sock: ProviderSocket) -> None:
        """Give ``sock`` a fresh unbound host socket in place of its finished connection."""
        family = socket.AF_INET6 if sock.family == AF_INET6 else socket.AF_INET
        fresh = socket.socket(family, socket.SOCK_STREAM)
        if sock.family == AF_INET6:
            fresh.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        fresh.setblocking(not sock.nonblocking)
        _set_host_timeouts(fresh, sock.receive_timeout, sock.send_timeout)
        with self._lock:
            watched = sock.watched
        reactor = self._reactor
        if reactor is not None and watched:
            reactor.forget(sock)  # out of the selector before its host socket changes
        with self._lock:
            old, sock.host = sock.host, fresh
            sock.state = UNCONNECTED
            sock.interest = 0
            sock.watched = False
            sock.peer_closed = sock.shut_send = sock.shut_receive = sock.read_parked = False
            sock.pending_error = sock.stream_error = 0
            sock.attempt = sock.asked_peer = None
            sock.wildcard = False
        old.close()
