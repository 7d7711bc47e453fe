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
to the provider it makes, and ``Ws2_32.policy`` is the one its name lookups ask.  Not
Providers and the catalog: the base provider serves the default catalog's entries; a socket
whose catalog entry (the first in ``upcalls.catalog``'s order to match its triple, or the one
its lpProtocolInfo names) is a protocol chain is made by the chain's top layer, loaded and
started through the catalog (``ws2core.catalog.load_provider``; ``ws2core.provider
.LayeredProvider``), and every later call on it goes to the provider owning the catalog entry
its handle was made with.
"""

from __future__ import annotations

import builtins
import ipaddress
import math
import threading
import weakref
from collections.abc import Callable
from contextlib import AbstractContextManager
from operator import index as _index
from typing import Any, Final, Literal, NamedTuple, cast

from . import FdSet, Ref, UpcallTable, WinsockError, addresses
from .constants import (
    AF_INET,
    AF_INET6,
    AF_UNSPEC,
    AI_ALL,
    AI_CANONNAME,
    AI_FQDN,
    AI_NUMERICHOST,
    AI_NUMERICSERV,
    AI_PASSIVE,
    AI_V4MAPPED,
    FALSE,
    FIONREAD,
    FROM_PROTOCOL_INFO,
    INADDR_NONE,
    INVALID_SOCKET,
    SG_CONSTRAINED_GROUP,
    SG_UNCONSTRAINED_GROUP,
    SIOCATMARK,
    SOCKET_ERROR,
    STATUS_INVALID_PARAMETER,
    TRUE,
    WSA_FLAG_OVERLAPPED,
    WSA_INFINITE,
    WSA_INVALID_EVENT,
    WSAEAFNOSUPPORT,
    WSAEFAULT,
    WSAEINVAL,
    WSAENOTSOCK,
    WSAEOPNOTSUPP,
    WSAESOCKTNOSUPPORT,
    WSAHOST_NOT_FOUND,
    WSANO_DATA,
    WSANO_RECOVERY,
    WSANOTINITIALISED,
    WSATYPE_NOT_FOUND,
    WSAVERNOTSUPPORTED,
    NI_NAMEREQD,
    NI_NOFQDN,
    NI_NUMERICHOST,
    NI_NUMERICSERV,
)
from .catalog import HOST_PROVIDER_PATH, load_provider, register_provider, unload_providers
from .constants import BASE_PROTOCOL
from .policy import NetworkPolicy
from .provider import HostSocketProvider
from .structs import (
    SOCKADDR_SIZE,
    WSATHREADID,
    pack_sockaddr,
    sockaddr_family,
    unpack_sockaddr,
)

__all__ = ["ADDRINFO", "HIGHEST_VERSION", "HOSTENT", "WSADATA", "Ws2_32"]

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


class HOSTENT(NamedTuple):
    """What gethostbyname and gethostbyaddr answer, in Python form: ``h_addr_list`` holds
    the packed addresses (4 bytes each for AF_INET, 16 for AF_INET6).  ``ws2core.guest``
    lays it out in the guest's per-thread hostent."""

    h_name: str
    h_aliases: tuple[str, ...]
    h_addrtype: int
    h_length: int
    h_addr_list: tuple[bytes, ...]


class ADDRINFO(NamedTuple):
    """One getaddrinfo entry (ADDRINFOA/ADDRINFOW), or its hints, in Python form.

    ``ai_addr`` is the Windows sockaddr bytes (``ai_addrlen`` long) and ``ai_next`` is
    None in an answer, which is a list in order.  In hints, the last four must be 0 or None
    (a guest's non-NULL pointer is given as any other value): WSANO_RECOVERY otherwise."""

    ai_flags: int = 0
    ai_family: int = 0
    ai_socktype: int = 0
    ai_protocol: int = 0
    ai_addrlen: int = 0
    ai_canonname: str | None = None
    ai_addr: bytes | None = None
    ai_next: Any = None


class Ws2_32:
    """One process's Ws2_32: ``Ws2_32(upcalls=None, *, provider=None, policy=None)``.

    ``upcalls`` is the ``ws2core.UpcallTable`` holding the process's sockets and events
    (default: a new x64 one); ``provider`` the base ``HostSocketProvider``, behind every
    socket of the catalog's default entries (default: a new one, with ``policy``:
    ``NetworkPolicy.loopback_only()`` unless given), started with ``upcalls`` by each
    WSAStartup and cleaned up by each WSACleanup, as long as no other table holds it.  A
    socket whose catalog entry (``upcalls.catalog``) is a protocol chain goes to the layered
    provider the chain names (the module docstring); those are started on first use and
    cleaned up by the last WSACleanup.  ``close()`` (or leaving a ``with`` block) closes the
    providers' sockets and every handle left in the table, and forgets every WSAStartup.
    Thread-safe as its providers and table are.
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
        # The WSATHREADID opened for each thread that asked for a completion routine, by
        # threading.get_ident(), and the thread-local marker whose end closes it.
        self._threads: dict[int, WSATHREADID] = {}
        self._thread_end = threading.local()
        # The providers other than the base one, loaded for catalog entries: by the catalog
        # entry id their handles carry (a socket's owner), and by the entry each was started
        # for (one WSPStartup each, ended by the last WSACleanup).  Empty: every call goes to
        # the base provider without a look-up.
        self._owners: dict[int, Any] = {}
        self._started: dict[int, Any] = {}

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
        self._stop_layered(close=True)
        self.provider.close()
        self._close_threads()
        self.upcalls.table.close()

    def _close_threads(self) -> None:
        """Close every thread handle opened for completion routines; after the provider's
        sockets, whose close queues the routines of the operations it aborts."""
        for ident in list(self._threads):
            self._close_thread(ident)

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
        """``_call`` after the checks of a call on socket ``s``; ``function`` is the base
        provider's, and the same WSP function of the socket's owner is called instead when
        a layered provider is loaded."""
        code = self._socket_error(s)
        if code:
            return self._fail(failure, code)
        if self._owners:
            function = getattr(self._owner(s), function.__name__)
        return self._call(failure, function, s, *args)

    def _owner(self, s: Any) -> Any:
        """The provider owning socket ``s``: the one loaded for the catalog entry its handle
        was made with, else the base provider (which reports a handle that is no socket)."""
        owners = self._owners
        if not owners:
            return self.provider
        try:
            entry = self.upcalls.table.catalog_entry(s)
        except (WinsockError, TypeError, ValueError, OverflowError):
            return self.provider
        return owners.get(entry, self.provider)

    def is_overlapped(self, s: Any) -> bool:
        """Whether socket ``s`` was made with WSA_FLAG_OVERLAPPED, as the provider owning it
        (a layered one included) answers: False for what is no socket.  Only such a
        socket's calls use their lpOverlapped, as on Windows."""
        return bool(self._owner(s).is_overlapped(s))

    # --- providers loaded through the catalog

    def _socket_provider(self, af: Any, type: Any, protocol: Any, info: Any) -> Any:
        """The catalog entry a new socket is made for and its provider, started: ``info``
        naming a catalog entry (its dwCatalogEntryId) picks that entry, else the first that
        serves the triple; (None, the base provider) when none does (whose error the base
        provider then reports).  WinsockError when a provider does not load or start."""
        catalog = self.upcalls.catalog
        entry = None
        if info is not None:
            wanted = getattr(info, "dwCatalogEntryId", None)
            entry = catalog.entry(wanted) if wanted.__class__ is int else None
        if entry is None:
            try:
                entry = catalog.find(_index(af), _index(type), _index(protocol))
            except TypeError:
                entry = None  # the base provider's TypeError says it
        if entry is None or (entry.ProtocolChain.ChainLen == BASE_PROTOCOL
                             and catalog.provider_path(entry.ProviderId) == HOST_PROVIDER_PATH):
            return entry, self.provider
        return entry, self._start(entry)

    def _start(self, entry: Any) -> Any:
        """The provider of catalog entry ``entry`` (a chain: its top layer's), loaded and
        given WSPStartup(upcall table, entry) the first time the entry is used."""
        catalog_entry_id = entry.dwCatalogEntryId
        with self._lock:
            provider = self._started.get(catalog_entry_id)
            if provider is not None:
                return provider
            chain = entry.ProtocolChain
            top_id = chain.ChainEntries[0] if chain.ChainLen > BASE_PROTOCOL else catalog_entry_id
            top = self.upcalls.catalog.entry(top_id)
            if top is None:
                raise WinsockError(WSAEINVAL, f"the chain of entry {catalog_entry_id} names "
                                   f"no entry {top_id}")
            register_provider(self.upcalls, HOST_PROVIDER_PATH, self.provider)
            provider = load_provider(self.upcalls, top.ProviderId)
            code = provider.WSPStartup(self.upcalls, entry)
            if code:
                raise WinsockError(code, f"WSPStartup of the provider of entry {top_id}")
            self._started[catalog_entry_id] = provider
            self._owners[top_id] = provider
            self._owners.setdefault(catalog_entry_id, provider)
        return provider

    def _stop_layered(self, *, close: bool) -> None:
        """End each WSPStartup given to a loaded provider (``close``: close it, whatever its
        count) and forget the loaded providers; the sockets they made are then closed."""
        with self._lock:
            started, self._started = list(self._started.values()), {}
            self._owners = {}
        for provider in started:
            if close:
                provider.close()
            else:
                provider.WSPCleanup(Ref(0))
        if started:
            unload_providers(self.upcalls)

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
                if not self._startups:  # the process's version is its first WSAStartup's
                    self.upcalls.pseudo_blocking = version & 0xFF < 2
                self._startups += 1
        return code

    def WSACleanup(self) -> int:
        """End one WSAStartup: 0, or SOCKET_ERROR (WSANOTINITIALISED: none to end).  The
        provider's last WSPCleanup closes its sockets."""
        with self._lock:
            if not self._startups:
                return self._fail(SOCKET_ERROR, WSANOTINITIALISED)
            self._startups -= 1
            last = not self._startups
        if last:
            self._stop_layered(close=False)  # above the base provider: first
        result = self._call(SOCKET_ERROR, self.provider.WSPCleanup)
        if last:
            self._close_threads()  # Windows' Ws2_32 drops its per-thread data then
        return result

    # --- Winsock 1.1's pseudo-blocking (ReactOS bhook.c): a 2.x process gets WSAEOPNOTSUPP,
    # as the Windows Sockets 2 pages say these functions are gone for it.

    def _pseudo_blocking_error(self) -> int:
        if not self._startups:
            return WSANOTINITIALISED
        return 0 if self.upcalls.pseudo_blocking else WSAEOPNOTSUPP

    def WSASetBlockingHook(self, lpBlockFunc: Any) -> Any:
        """Install ``lpBlockFunc`` (a callable) as the calling thread's blocking hook: the
        previous one (None: none), or None with the last error WSANOTINITIALISED,
        WSAEOPNOTSUPP (a Winsock 2 process) or WSAEFAULT (not callable)."""
        code = self._pseudo_blocking_error() or (0 if callable(lpBlockFunc) else WSAEFAULT)
        if code:
            self.upcalls.WSASetLastError(code)
            return None
        return self.upcalls.set_blocking_hook(lpBlockFunc)

    def WSAUnhookBlockingHook(self) -> int:
        """Back to no blocking hook on the calling thread: 0, or SOCKET_ERROR with
        WSANOTINITIALISED or WSAEOPNOTSUPP (a Winsock 2 process)."""
        code = self._pseudo_blocking_error()
        if code:
            return self._fail(SOCKET_ERROR, code)
        self.upcalls.unhook_blocking_hook()
        return 0

    def WSACancelBlockingCall(self) -> int:
        """End the calling thread's blocking call (the provider then fails it with WSAEINTR):
        0, or SOCKET_ERROR with WSANOTINITIALISED, WSAEOPNOTSUPP (a Winsock 2 process) or
        WSAEINVAL (no blocking call in progress)."""
        code = self._pseudo_blocking_error()
        if code:
            return self._fail(SOCKET_ERROR, code)
        try:
            self.upcalls.cancel_blocking_call()
        except WinsockError as error:
            return self._fail(SOCKET_ERROR, error.winerror)
        return 0

    def WSAIsBlocking(self) -> int:
        """TRUE while the calling thread is in a blocking call (in its blocking hook), FALSE
        otherwise: always for a Winsock 2 process, which never pseudo-blocks."""
        return TRUE if self.upcalls.is_blocking() else FALSE

    def WSAGetLastError(self) -> int:
        """The calling thread's last error (the UpcallTable's)."""
        return self.upcalls.WSAGetLastError()

    def WSASetLastError(self, iError: int) -> None:
        self.upcalls.WSASetLastError(iError)

    # --- the catalog

    def WSAEnumProtocolsA(self, lpiProtocols: Any, lpProtocolBuffer: Any, lpdwBufferLength: Any) -> int:
        """The protocols an application may use, as WSAPROTOCOL_INFOA structures in
        ``lpProtocolBuffer`` (a writable buffer of ``lpdwBufferLength.value`` bytes): their
        count, or SOCKET_ERROR with the last error WSANOTINITIALISED, WSAENOBUFS (the buffer
        None or too small: the bytes needed written to ``lpdwBufferLength``) or WSAEFAULT
        (``lpdwBufferLength`` None).  ``lpiProtocols``: None (all) or iProtocol values ended
        by 0.  The upcall table's catalog (``ws2core.catalog.Catalog.enumerate``) answers:
        its entries without PFL_HIDDEN whose ChainLen is not 0."""
        return self._enum_protocols(lpiProtocols, lpProtocolBuffer, lpdwBufferLength, ansi=True)

    def WSAEnumProtocolsW(self, lpiProtocols: Any, lpProtocolBuffer: Any, lpdwBufferLength: Any) -> int:
        """WSAEnumProtocolsA with WSAPROTOCOL_INFOW structures (UTF-16 names)."""
        return self._enum_protocols(lpiProtocols, lpProtocolBuffer, lpdwBufferLength, ansi=False)

    def _enum_protocols(self, protocols: Any, buffer: Any, length: Any, ansi: bool) -> int:
        if not self._startups:
            return self._fail(SOCKET_ERROR, WSANOTINITIALISED)
        try:
            return self.upcalls.catalog.enumerate(protocols, buffer, length, hidden=False, ansi=ansi)
        except WinsockError as error:
            return self._fail(SOCKET_ERROR, error.winerror)

    # --- sockets

    def socket(self, af: int, type: int, protocol: int) -> int:
        """A new SOCKET, or INVALID_SOCKET."""
        if not self._startups:
            return self._fail(INVALID_SOCKET, WSANOTINITIALISED)
        # Windows' socket() makes an overlapped socket (WSASocket with WSA_FLAG_OVERLAPPED).
        return self._make_socket(af, type, protocol, None, 0, WSA_FLAG_OVERLAPPED)

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
        result = self._call(SOCKET_ERROR, self._owner(s).WSPSend, s, [data], 1, sent, flags,
                            None, None, None)
        return result if result == SOCKET_ERROR else int(sent.value)

    def recv(self, s: int, buf: Any, len: int, flags: int) -> int:
        """The number of bytes received into the first ``len`` bytes of ``buf`` (0: the peer
        closed), or SOCKET_ERROR; WSAEMSGSIZE fills the ``len`` bytes."""
        received, data = Ref(0), _first(buf, len)
        code = self._socket_error(s) or (WSAEFAULT if data is None else 0)
        if code:
            return self._fail(SOCKET_ERROR, code)
        result = self._call(SOCKET_ERROR, self._owner(s).WSPRecv, s, [data], 1, received,
                            Ref(flags), None, None, None)
        return result if result == SOCKET_ERROR else int(received.value)

    def shutdown(self, s: int, how: int) -> int:
        return self._on_socket(s, SOCKET_ERROR, self.provider.WSPShutdown, how)

    def ioctlsocket(self, s: int, cmd: int, argp: Any) -> int:
        """0, or SOCKET_ERROR.  ``argp`` (a Ref) is the command's u_long: FIONBIO reads it,
        FIONREAD writes the bytes waiting into it, SIOCATMARK whether no urgent byte waits
        (TRUE/FALSE); None is WSAEFAULT."""
        command = _index(cmd) & 0xFFFFFFFF
        if command in (FIONREAD, SIOCATMARK):
            return self._on_socket(s, SOCKET_ERROR, self.provider.WSPIoctl, command, None, 0,
                                   argp, 4, None, None, None, None)
        argument = None if argp is None else argp.value
        return self._on_socket(s, SOCKET_ERROR, self.provider.WSPIoctl, command, argument, 4,
                               None, 0, None, None, None, None)

    def getsockopt(self, s: int, level: int, optname: int, optval: Any, optlen: Any) -> int:
        """0, or SOCKET_ERROR.  ``optval``: a Ref (it gets an int, an ``(l_onoff,
        l_linger)`` tuple for SO_LINGER, a ``ws2core.structs.WSAPROTOCOL_INFOA`` / ``…W`` for
        SO_PROTOCOL_INFOA / W) or a writable buffer (the Windows bytes); ``optlen``:
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
        provider = self._first_owner(readfds, writefds, exceptfds) if self._owners else self.provider
        return self._call(SOCKET_ERROR, provider.WSPSelect, nfds, readfds, writefds,
                          exceptfds, timeout)

    def _first_owner(self, *sets: Any) -> Any:
        """The owner of the first socket in the fd_sets, which serves the whole select as
        Windows' Ws2_32 has it (the base provider when the sets cannot be read: it says why)."""
        for fds in sets:
            if fds is None:
                continue
            try:
                abi = fds.abi if isinstance(fds, FdSet) else self.upcalls.table.abi
                for handle in FdSet.from_buffer(fds, abi=abi):
                    return self._owner(handle)
            except (TypeError, ValueError, WinsockError):
                break
        return self.provider

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
        return self.upcalls.WSAWaitForMultipleEvents(cEvents, lphEvents, fWaitAll,
                                                     self.capped_timeout(dwTimeout), fAlertable)

    def capped_timeout(self, dwTimeout: Any) -> Any:
        """A wait's ``dwTimeout`` (milliseconds) on this thread: a longer one is the thread's
        ``blocking_limit``, rounded up (a wait never ends before the cap); anything that is
        not a DWORD is left for the wait's own checks."""
        cap = self.provider.current_blocking_limit()
        if cap is not None and dwTimeout.__class__ is int and 0 <= dwTimeout <= WSA_INFINITE:
            # WSA_INFINITE is the longest of all.
            dwTimeout = min(dwTimeout, math.ceil(cap * 1000)) if math.isfinite(cap) else dwTimeout
        return dwTimeout

    def WSAEventSelect(self, s: int, hEventObject: int, lNetworkEvents: int) -> int:
        return self._on_socket(s, SOCKET_ERROR, self.provider.WSPEventSelect, hEventObject,
                               lNetworkEvents)

    def WSAAsyncSelect(self, s: int, hWnd: int, wMsg: int, lEvent: int) -> int:
        """``HostSocketProvider.WSPAsyncSelect`` for the process: 0, or SOCKET_ERROR with
        WSANOTINITIALISED, WSAENOTSOCK, or WSAEINVAL (``hWnd`` no window of the table's
        ``register_window``) as the last error.  The messages go to the window's sink:
        ``(hWnd, wMsg, s, WSAMAKESELECTREPLY(FD_X, error))``."""
        return self._on_socket(s, SOCKET_ERROR, self.provider.WSPAsyncSelect, hWnd, wMsg, lEvent)

    def WSAEnumNetworkEvents(self, s: int, hEventObject: int, lpNetworkEvents: Any) -> int:
        """``lpNetworkEvents``: a ``ws2core.provider.WSANETWORKEVENTS`` (None: WSAEFAULT,
        after the socket's checks)."""
        return self._on_socket(s, SOCKET_ERROR, self.provider.WSPEnumNetworkEvents,
                               hEventObject, lpNetworkEvents)

    # --- addresses and host names (issue 19).  The conversions (inet_addr, inet_pton,
    # inet_ntop, the byte-order functions) need no WSAStartup and leave the last error alone
    # when they succeed, as on Windows; gethostname, GetHostNameW, WSAAddressToString and
    # WSAStringToAddress go through Ws2_32's catalog (WSANOTINITIALISED first).  Text
    # arguments: ``bytes`` for the A functions (ANSI), ``str`` for the W ones; out-buffers:
    # writable buffers, lengths ``Ref``s.  ``ws2core.addresses`` has the parsing rules.

    def gethostname(self, name: Any, namelen: int) -> int:
        """0 with the policy's ``hostname`` and its NUL in ``name`` (a writable buffer of at
        least ``namelen`` bytes), or SOCKET_ERROR: WSANOTINITIALISED, WSAEFAULT (``name``
        None, or ``namelen`` below the name and its NUL)."""
        return self._host_name(name, namelen, self.policy.hostname.encode("ascii") + b"\0", 1)

    def GetHostNameW(self, name: Any, namelen: int) -> int:
        """gethostname in UTF-16: ``namelen`` counts WCHARs."""
        return self._host_name(name, namelen, (self.policy.hostname + "\0").encode("utf-16-le"), 2)

    def _host_name(self, name: Any, namelen: int, text: bytes, unit: int) -> int:
        if not self._startups:
            return self._fail(SOCKET_ERROR, WSANOTINITIALISED)
        if name is None or _index(namelen) * unit < len(text):
            return self._fail(SOCKET_ERROR, WSAEFAULT)
        view = memoryview(name).cast("B")
        if view.nbytes < len(text):
            return self._fail(SOCKET_ERROR, WSAEFAULT)
        view[:len(text)] = text
        return 0

    def inet_addr(self, cp: bytes | str | None) -> int:
        """The u_long of the IPv4 address ``cp`` names (every form Windows takes: one to four
        parts, octal and hex, white space after it), INADDR_NONE for a bad one; None is
        INADDR_NONE with WSAEFAULT.  A result's bytes in memory are the address's, in
        order (little-endian: ``1.2.3.4`` is 0x04030201)."""
        if cp is None:
            return self._fail(INADDR_NONE, WSAEFAULT)
        return addresses.inet_addr(_text(cp))

    def inet_pton(self, Family: int, pszAddrString: bytes | str | None, pAddrBuf: Any) -> int:
        """1 with the address in ``pAddrBuf`` (a writable buffer: 4 bytes for AF_INET, 16 for
        AF_INET6), 0 for a string that is no address (the last error left alone; the
        address Windows reads before a bad terminator is written all the same), or -1:
        WSAEFAULT (``pszAddrString`` or ``pAddrBuf`` None), WSAEAFNOSUPPORT."""
        return self._pton(Family, pszAddrString, pAddrBuf, 0)

    def InetPtonW(self, Family: int, pszAddrString: str | None, pAddrBuf: Any) -> int:
        """inet_pton of a UTF-16 string, whose 0 sets WSAEINVAL."""
        return self._pton(Family, pszAddrString, pAddrBuf, WSAEINVAL)

    def _pton(self, family: int, string: bytes | str | None, buffer: Any, invalid: int) -> int:
        if string is None:
            return self._fail(-1, WSAEFAULT)
        if family not in (AF_INET, AF_INET6):
            return self._fail(-1, WSAEAFNOSUPPORT)
        if buffer is None:
            return self._fail(-1, WSAEFAULT)
        text = _text(string)
        parsed = (addresses.parse_ipv4(text, strict=True) if family == AF_INET
                  else addresses.parse_ipv6(text))
        if parsed.address is not None:
            memoryview(buffer).cast("B")[:len(parsed.address)] = parsed.address
            if parsed.end == len(text):
                return 1
        return self._fail(0, invalid) if invalid else 0

    def inet_ntop(self, Family: int, pAddr: Any, pStringBuf: Any, StringBufSize: int) -> str | None:
        """The text of ``pAddr`` (4 or 16 bytes) written with its NUL into ``pStringBuf``
        (a writable buffer) and returned, or None: WSAEAFNOSUPPORT, WSAEFAULT (``pAddr``
        None), STATUS_INVALID_PARAMETER (``pStringBuf`` None or ``StringBufSize`` below the
        text and its NUL; what Windows 8 and later set, their ntdll's status passed on)."""
        return self._ntop(Family, pAddr, pStringBuf, StringBufSize, wide=False)

    def InetNtopW(self, Family: int, pAddr: Any, pStringBuf: Any, StringBufSize: int) -> str | None:
        """inet_ntop into a UTF-16 buffer: ``StringBufSize`` counts WCHARs."""
        return self._ntop(Family, pAddr, pStringBuf, StringBufSize, wide=True)

    def _ntop(self, family: int, address: Any, buffer: Any, size: int, wide: bool) -> str | None:
        if family not in (AF_INET, AF_INET6):
            self._fail(0, WSAEAFNOSUPPORT)
            return None
        if address is None:
            self._fail(0, WSAEFAULT)
            return None
        data = bytes(memoryview(address).cast("B"))
        text = (addresses.format_ipv4(data[:4]) if family == AF_INET
                else addresses.format_ipv6(data[:16]))
        encoded = _encoded(text + "\0", wide)
        if buffer is None or _index(size) < len(text) + 1:
            self._fail(0, STATUS_INVALID_PARAMETER)
            return None
        memoryview(buffer).cast("B")[:len(encoded)] = encoded
        return text

    def WSAAddressToStringA(self, lpsaAddress: Any, dwAddressLength: int, lpProtocolInfo: Any,
                            lpszAddressString: Any, lpdwAddressStringLength: Any) -> int:
        """0 with the text of the sockaddr ``lpsaAddress`` (bytes: a SOCKADDR_IN or
        SOCKADDR_IN6, its port and scope id when not 0) and its NUL in
        ``lpszAddressString`` (a writable buffer) and its length with the NUL in
        ``lpdwAddressStringLength`` (a Ref holding the buffer's length), or SOCKET_ERROR:
        WSANOTINITIALISED, WSAEINVAL (``lpsaAddress`` or ``lpdwAddressStringLength`` None,
        ``dwAddressLength`` 0, another family), WSAEFAULT (``dwAddressLength`` short of the
        family's sockaddr; no buffer or one too short: the length needed is written back).
        ``lpProtocolInfo`` is not read (one provider)."""
        return self._address_to_string(lpsaAddress, dwAddressLength, lpszAddressString,
                                       lpdwAddressStringLength, wide=False)

    def WSAAddressToStringW(self, lpsaAddress: Any, dwAddressLength: int, lpProtocolInfo: Any,
                            lpszAddressString: Any, lpdwAddressStringLength: Any) -> int:
        """WSAAddressToStringA into a UTF-16 buffer: the lengths count WCHARs."""
        return self._address_to_string(lpsaAddress, dwAddressLength, lpszAddressString,
                                       lpdwAddressStringLength, wide=True)

    def _address_to_string(self, sockaddr: Any, length: int, buffer: Any, buffer_length: Any,
                           wide: bool) -> int:
        if not self._startups:
            return self._fail(SOCKET_ERROR, WSANOTINITIALISED)
        if sockaddr is None or buffer_length is None or not _index(length):
            return self._fail(SOCKET_ERROR, WSAEINVAL)   # the function's page says so
        data = bytes(memoryview(sockaddr).cast("B"))[:max(0, _index(length))]
        family = int.from_bytes(data[:2], "little") if len(data) >= 2 else None
        if family not in (AF_INET, AF_INET6):
            return self._fail(SOCKET_ERROR, WSAEFAULT if family is None else WSAEINVAL)
        text = addresses.format_sockaddr(data)
        if text is None:
            return self._fail(SOCKET_ERROR, WSAEFAULT)
        needed = len(text) + 1
        if buffer is None or _index(buffer_length.value) < needed:
            buffer_length.value = needed
            return self._fail(SOCKET_ERROR, WSAEFAULT)
        encoded = _encoded(text + "\0", wide)
        memoryview(buffer).cast("B")[:len(encoded)] = encoded
        buffer_length.value = needed
        return 0

    def WSAStringToAddressA(self, AddressString: bytes | str | None, AddressFamily: int,
                            lpProtocolInfo: Any, lpAddress: Any, lpAddressLength: Any) -> int:
        """0 with the SOCKADDR_IN (AF_INET) or SOCKADDR_IN6 (AF_INET6) ``AddressString``
        names in ``lpAddress`` (a writable buffer) and its size in ``lpAddressLength`` (a
        Ref holding the buffer's size), or SOCKET_ERROR: WSANOTINITIALISED, WSAEINVAL
        (another family; a bad string, which leaves the sockaddr zeroed but for the IPv4
        address Windows read), WSAEFAULT (an argument None; a buffer too small: the size
        needed is written back).  ``lpProtocolInfo`` is not read (one provider)."""
        return self._string_to_address(AddressString, AddressFamily, lpAddress, lpAddressLength)

    def WSAStringToAddressW(self, AddressString: str | None, AddressFamily: int,
                            lpProtocolInfo: Any, lpAddress: Any, lpAddressLength: Any) -> int:
        """WSAStringToAddressA of a UTF-16 string."""
        return self._string_to_address(AddressString, AddressFamily, lpAddress, lpAddressLength)

    def _string_to_address(self, string: bytes | str | None, family: int, buffer: Any,
                           length: Any) -> int:
        if not self._startups:
            return self._fail(SOCKET_ERROR, WSANOTINITIALISED)
        if family not in (AF_INET, AF_INET6):
            return self._fail(SOCKET_ERROR, WSAEINVAL)
        if string is None or length is None:
            return self._fail(SOCKET_ERROR, WSAEFAULT)
        needed = addresses.SOCKADDR_IN_SIZE if family == AF_INET else addresses.SOCKADDR_IN6_SIZE
        if buffer is None or _index(length.value) < needed:
            length.value = needed
            return self._fail(SOCKET_ERROR, WSAEFAULT)
        sockaddr, good = addresses.parse_sockaddr(_text(string), family)
        memoryview(buffer).cast("B")[:needed] = sockaddr
        if not good:
            return self._fail(SOCKET_ERROR, WSAEINVAL)
        length.value = needed
        return 0

    def adapters(self, family: int = 0) -> tuple[addresses.Adapter, ...]:
        """This machine's network adapters with their addresses of ``family`` (AF_UNSPEC 0,
        AF_INET, AF_INET6) as GetAdaptersAddresses gives them: the policy's view, which is
        the loopback adapter (127.0.0.1, ::1) under every policy, so that no sample learns
        the host's interfaces.  GetAdaptersInfo lists no loopback adapter on Windows: for it
        this machine has none (ERROR_NO_DATA)."""
        found = []
        for adapter in (addresses.LOOPBACK_ADAPTER,):
            kept = tuple(a for a in adapter.addresses if family in (0, a[0]))
            if kept:
                found.append(adapter._replace(addresses=kept))
        return tuple(found)

    # The byte-order functions: pure, no last error; a wider value is cut to the type's
    # width first, as the C function's parameter type does.

    @staticmethod
    def htons(hostshort: int) -> int:
        return int.from_bytes((_index(hostshort) & 0xFFFF).to_bytes(2, "little"), "big")

    ntohs = htons

    @staticmethod
    def htonl(hostlong: int) -> int:
        return int.from_bytes((_index(hostlong) & 0xFFFFFFFF).to_bytes(4, "little"), "big")

    ntohl = htonl

    # --- names: every lookup is the network policy's (DESIGN.md §4), never the host's resolver

    def gethostbyname(self, name: str | None) -> HOSTENT | None:
        """The IPv4 ``HOSTENT`` of ``name`` (a numeric IPv4 host is its own), or None with
        the last error: WSAHOST_NOT_FOUND (refused or unknown, on the policy's record; a
        numeric IPv6 host), WSANO_DATA (a name with IPv6 addresses only).  None or "" is
        the local host, whose name is "localhost" here."""
        if not self._startups:
            return self._fail_none(WSANOTINITIALISED)
        host = name or self.policy.hostname
        try:
            answers = self.policy.resolve(host)   # either family: IPv6 only is WSANO_DATA
        except WinsockError as error:
            return self._fail_none(error.winerror)
        four = tuple(_packed(a) for a in answers if ":" not in a)
        if not four:
            return self._fail_none(WSAHOST_NOT_FOUND if _is_numeric(host) else WSANO_DATA)
        self.upcalls.WSASetLastError(0)
        return HOSTENT(host, (), AF_INET, 4, four)

    def gethostbyaddr(self, addr: bytes | None, len: int, type: int) -> HOSTENT | None:
        """The ``HOSTENT`` of the address ``addr`` (``len`` bytes of an in_addr or in6_addr of
        family ``type``), from the policy's names, or None with the last error: WSAEFAULT
        (NULL or a length not the family's), WSAEAFNOSUPPORT, WSAHOST_NOT_FOUND."""
        if not self._startups:
            return self._fail_none(WSANOTINITIALISED)
        if type not in _ADDRESS_SIZES:
            return self._fail_none(WSAEAFNOSUPPORT)
        size = _ADDRESS_SIZES[type]
        if addr is None or len != size or builtins.len(addr) < size:
            return self._fail_none(WSAEFAULT)
        packed = bytes(addr[:size])
        try:
            name = self.policy.reverse(_numeric(type, packed))
        except WinsockError as error:
            return self._fail_none(error.winerror)
        self.upcalls.WSASetLastError(0)
        return HOSTENT(name, (), type, size, (packed,))

    def getaddrinfo(self, pNodeName: str | None, pServiceName: str | None,
                    pHints: ADDRINFO | None, ppResult: Any) -> int:
        """0, with ``ppResult.value`` the list of ``ADDRINFO`` entries (one per address, of
        the hints' socket type and protocol as given), or the error code, which is also the
        last error (and ``ppResult.value`` None): WSAHOST_NOT_FOUND (no node and no
        service, a name refused or unknown, AI_NUMERICHOST and a name), WSANO_RECOVERY
        (hints with an address, a name or a next entry), WSAEINVAL (AI_CANONNAME without a
        node, or with AI_FQDN), WSAEAFNOSUPPORT, WSAESOCKTNOSUPPORT, WSATYPE_NOT_FOUND (a
        service neither a port nor a well-known name).  The node "" is the local host."""
        try:
            entries = self._addrinfo(pNodeName, pServiceName, pHints)
        except WinsockError as error:
            if ppResult is not None:
                ppResult.value = None
            self.upcalls.WSASetLastError(error.winerror)
            return int(error.winerror)
        if ppResult is None:
            self.upcalls.WSASetLastError(WSAEFAULT)
            return WSAEFAULT
        ppResult.value = entries
        self.upcalls.WSASetLastError(0)
        return 0

    GetAddrInfoW = getaddrinfo  # the same lookup; only the guest's strings are wide

    def freeaddrinfo(self, pAddrInfo: Any) -> None:
        """Nothing to free in Python form (the guest layer frees what it built)."""

    FreeAddrInfoW = freeaddrinfo

    def _addrinfo(self, node: str | None, service: str | None,
                  hints: ADDRINFO | None) -> list[ADDRINFO]:
        if not self._startups:
            raise WinsockError(WSANOTINITIALISED)
        if node is None and service is None:
            raise WinsockError(WSAHOST_NOT_FOUND)
        hints = hints or ADDRINFO()
        if hints.ai_addrlen or hints.ai_canonname is not None or hints.ai_addr is not None \
                or hints.ai_next is not None:
            raise WinsockError(WSANO_RECOVERY, "hints' other members must be 0 or NULL")
        flags, family = hints.ai_flags, hints.ai_family
        if flags & AI_CANONNAME and (node is None or flags & AI_FQDN):
            raise WinsockError(WSAEINVAL)
        if family not in (AF_UNSPEC, AF_INET, AF_INET6):
            raise WinsockError(WSAEAFNOSUPPORT)
        if not 0 <= hints.ai_socktype <= _SOCK_SEQPACKET:
            raise WinsockError(WSAESOCKTNOSUPPORT)
        port = _service_port(service, bool(flags & AI_NUMERICSERV))
        addresses = self._node_addresses(node, family, flags)
        canonname = (node or self.policy.hostname) if flags & AI_CANONNAME else None
        entries: list[ADDRINFO] = []
        for address in addresses:
            six = ":" in address
            entries.append(ADDRINFO(
                0, AF_INET6 if six else AF_INET, hints.ai_socktype, hints.ai_protocol,
                SOCKADDR_SIZE[AF_INET6 if six else AF_INET],
                canonname if not entries else None,
                pack_sockaddr(AF_INET6, (address, port, 0, 0)) if six
                else pack_sockaddr(AF_INET, (address, port))))
        return entries

    def _node_addresses(self, node: str | None, family: int, flags: int) -> tuple[str, ...]:
        """The addresses a getaddrinfo node names for ``family``, asked of the policy."""
        if node is None:  # the wildcard for a listener, else loopback: IPv6 first, as Windows
            both = ("::", "0.0.0.0") if flags & AI_PASSIVE else ("::1", "127.0.0.1")
            return tuple(a for a in both if family == AF_UNSPEC or (":" in a) == (family == AF_INET6))
        host = node
        if host.startswith("[") and "]" in host:  # "[beef::cafe]" and "[beef::cafe]:80"
            inside, _, rest = host[1:].partition("]")
            if not (rest == "" or (rest[:1] == ":" and not flags & AI_NUMERICHOST)):
                raise WinsockError(WSAHOST_NOT_FOUND)
            host = inside
        if flags & AI_NUMERICHOST and not _is_numeric(host):
            raise WinsockError(WSAHOST_NOT_FOUND, f"{node!r} is not a numeric host")
        mapped = family == AF_INET6 and flags & AI_V4MAPPED
        answers = self.policy.resolve(host or self.policy.hostname,
                                      cast("_Family", AF_UNSPEC if mapped else family))
        if not mapped:
            return answers
        six = tuple(a for a in answers if ":" in a)
        four = tuple(f"::ffff:{a}" for a in answers if ":" not in a)
        found = six + four if flags & AI_ALL or not six else six
        if not found:
            raise WinsockError(WSAHOST_NOT_FOUND)
        return found

    def getnameinfo(self, pSockaddr: Any, SockaddrLength: int, pNodeBuffer: Any,
                    NodeBufferSize: int, pServiceBuffer: Any, ServiceBufferSize: int,
                    Flags: int) -> int:
        """0, with ``pNodeBuffer.value`` the host (a name from the policy's table, or the
        numeric form) and ``pServiceBuffer.value`` the service (a well-known name or the
        port), each a str that fits its buffer's size with its NUL; or the error code, also
        the last error: WSAEFAULT (no sockaddr, a length short of the family's, a buffer too
        small), WSAEAFNOSUPPORT, WSAHOST_NOT_FOUND (no buffer wanted at all, or NI_NAMEREQD
        and no name).  ``pSockaddr``: sockaddr bytes or an address tuple."""
        try:
            host, service = self._nameinfo(pSockaddr, SockaddrLength, pNodeBuffer,
                                           NodeBufferSize, pServiceBuffer, ServiceBufferSize,
                                           Flags)
        except WinsockError as error:
            self.upcalls.WSASetLastError(error.winerror)
            return int(error.winerror)
        if host is not None:
            pNodeBuffer.value = host
        if service is not None:
            pServiceBuffer.value = service
        self.upcalls.WSASetLastError(0)
        return 0

    GetNameInfoW = getnameinfo

    def _nameinfo(self, sockaddr: Any, length: int, node: Any, node_size: int, service: Any,
                  service_size: int, flags: int) -> tuple[str | None, str | None]:
        if not self._startups:
            raise WinsockError(WSANOTINITIALISED)
        if sockaddr is None:
            raise WinsockError(WSAEFAULT)
        data = pack_sockaddr(AF_INET6 if len(sockaddr) > 2 else AF_INET, sockaddr) \
            if isinstance(sockaddr, tuple) else bytes(sockaddr)
        family = sockaddr_family(data) if builtins.len(data) >= 2 else AF_UNSPEC
        if family not in SOCKADDR_SIZE:
            raise WinsockError(WSAEAFNOSUPPORT)
        if length < SOCKADDR_SIZE[family] or builtins.len(data) < SOCKADDR_SIZE[family]:
            raise WinsockError(WSAEFAULT)
        wants_node = node is not None and node_size > 0
        wants_service = service is not None and service_size > 0
        if not (wants_node or wants_service):
            raise WinsockError(WSAHOST_NOT_FOUND)
        address, port = unpack_sockaddr(data)[:2]
        host = None
        if wants_node:
            host = address
            if not flags & NI_NUMERICHOST:
                try:
                    host = self.policy.reverse(address)
                except WinsockError:
                    if flags & NI_NAMEREQD:
                        raise
                if flags & NI_NOFQDN and host != address:
                    host = host.split(".", 1)[0]
            if builtins.len(host) >= node_size:
                raise WinsockError(WSAEFAULT, f"{host!r} does not fit {node_size} characters")
        name = None
        if wants_service:
            name = str(port) if flags & NI_NUMERICSERV else _SERVICE_NAMES.get(port, str(port))
            if builtins.len(name) >= service_size:
                raise WinsockError(WSAEFAULT, f"{name!r} does not fit {service_size} characters")
        return host, name

    def inet_ntoa(self, in_: int | bytes) -> str:
        """The dotted form of an in_addr: 4 bytes, or the u_long holding them as it sits in
        memory (what the guest passes by value).  No WSAStartup needed, no last error."""
        packed = in_.to_bytes(4, "little") if isinstance(in_, int) else bytes(in_[:4])
        return ".".join(str(octet) for octet in packed)

    def _fail_none(self, code: int) -> HOSTENT | None:
        """None, the failure of gethostbyname and gethostbyaddr, with ``code`` the last error."""
        self.upcalls.WSASetLastError(code)
        return None

    # --- control: options, I/O controls, WSAPoll and the conditional accept

    def setsockopt(self, s: int, level: int, optname: int, optval: Any, optlen: int) -> int:
        """0, or SOCKET_ERROR.  ``optval``: an int, an ``(l_onoff, l_linger)`` tuple for
        SO_LINGER, or the Windows bytes, read as Windows reads them given ``optlen`` (a
        BOOL may be one byte); None is WSAEFAULT.  The options are the provider's
        (``WSPSetSockOpt``)."""
        return self._on_socket(s, SOCKET_ERROR, self.provider.WSPSetSockOpt, level, optname,
                               optval, optlen)

    def WSAIoctl(self, s: int, dwIoControlCode: int, lpvInBuffer: Any, cbInBuffer: int,
                 lpvOutBuffer: Any, cbOutBuffer: int, lpcbBytesReturned: Any,
                 lpOverlapped: Any, lpCompletionRoutine: Any) -> int:
        """0, or SOCKET_ERROR: the provider's ``WSPIoctl`` (FIONBIO, FIONREAD, SIOCATMARK;
        SIO_GET_EXTENSION_FUNCTION_POINTER: the provider's extension functions, Python
        callables, into a Ref).
        ``lpcbBytesReturned`` (a Ref) gets the output's size; None is WSAEFAULT, except
        for an overlapped call.  ``lpOverlapped`` and ``lpCompletionRoutine``: as WSASend's
        (ignored on a socket made without WSA_FLAG_OVERLAPPED); the provider's codes all
        complete at once, their completion reported all the same."""
        code = self._socket_error(s)
        if not code and lpcbBytesReturned is None and (
                lpOverlapped is None or not self.is_overlapped(s)):
            code = WSAEFAULT
        thread = None
        if not code:
            code, thread = self._completion_thread(lpOverlapped, lpCompletionRoutine)
        if code:
            return self._fail(SOCKET_ERROR, code)
        return self._call(SOCKET_ERROR, self._owner(s).WSPIoctl, s, dwIoControlCode,
                          lpvInBuffer, cbInBuffer, lpvOutBuffer, cbOutBuffer,
                          lpcbBytesReturned, lpOverlapped, lpCompletionRoutine, thread)

    def WSAPoll(self, fdArray: Any, fds: int, timeout: int) -> int:
        """The number of entries with a nonzero ``revents``, 0 on timeout, or SOCKET_ERROR.

        ``fdArray``: a sequence of ``ws2core.provider.WSAPOLLFD`` (``fd``, ``events``,
        ``revents``), of which the first ``fds`` are polled and their ``revents``
        rewritten; ``fds`` 0 is WSAEINVAL (whatever the array, as Wine 8), then None (or
        fewer entries than ``fds``) WSAEFAULT.  ``timeout`` in ms, negative for no limit
        (the thread's ``blocking_limit`` caps it).  The provider's ``poll`` says what is
        ready and what is refused."""
        if not self._startups:
            return self._fail(SOCKET_ERROR, WSANOTINITIALISED)
        count = _index(fds)
        if count <= 0:
            return self._fail(SOCKET_ERROR, WSAEINVAL)
        if fdArray is None or count > len(fdArray):
            return self._fail(SOCKET_ERROR, WSAEFAULT)
        entries = list(fdArray)[:count]
        provider = self._owner(getattr(entries[0], "fd", None)) if self._owners else self.provider
        return self._call(SOCKET_ERROR, provider.poll, entries, timeout)

    def WSAAccept(self, s: int, addr: Any, addrlen: Any, lpfnCondition: Any,
                  dwCallbackData: int) -> int:
        """accept with a condition function: the new SOCKET, or INVALID_SOCKET.

        ``lpfnCondition``: None (accept's behaviour) or a callable given Windows' eight
        arguments in the provider's Python forms (``WSPAccept``: the caller's and the
        callee's addresses as tuples for lpCallerId and lpCalleeId, None for the data and
        QOS, a Ref for g, ``dwCallbackData``), returning CF_ACCEPT, CF_REJECT (the peer is
        reset; WSAECONNREFUSED) or CF_DEFER (WSATRY_AGAIN; reset too, see WSPAccept); a
        WinsockError it raises fails the call with its code."""
        return self._on_socket(s, INVALID_SOCKET, self.provider.WSPAccept, addr, addrlen,
                               lpfnCondition, dwCallbackData)


    # --- sockets and data: WSASocket, sendto, recvfrom and the WSA transfer calls.
    # WSABUF arrays are sequences of buffers (bytes-like to send, writable to receive);
    # lpOverlapped is None, or on a socket made with WSA_FLAG_OVERLAPPED a
    # ws2core.structs.WSAOVERLAPPED (or a ctypes pointer to one): the call is then an
    # overlapped operation of the provider (ws2core.provider.overlapped): 0 when it finished
    # at once, else SOCKET_ERROR with WSA_IO_PENDING; its completion signals hEvent, or
    # queues lpCompletionRoutine(dwError, cbTransferred, lpOverlapped, dwFlags) to the
    # calling thread, run in that thread's next alertable wait; WSAGetOverlappedResult
    # reports it.  The buffers and the structure must live until the completion, as on
    # Windows.  On a socket made without the flag both are ignored, as on Windows.

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
        return self._make_socket(af, type, protocol, info, g, _index(flags) & 0xFFFFFFFF)

    def _make_socket(self, af: Any, type: Any, protocol: Any, info: Any, g: Any, flags: int) -> int:
        """WSPSocket of the provider the catalog picks (``_socket_provider``), given the
        caller's lpProtocolInfo when that names the entry picked (a WSADuplicateSocket's,
        whose dwProviderReserved is the provider's), else the entry itself: as ReactOS'
        WSASocketW does, so that every socket carries the entry it was made for."""
        try:
            entry, provider = self._socket_provider(af, type, protocol, info)
        except WinsockError as error:
            return self._fail(INVALID_SOCKET, error.winerror)
        if entry is not None and getattr(info, "dwCatalogEntryId", None) != entry.dwCatalogEntryId:
            info = entry
        return self._call(INVALID_SOCKET, provider.WSPSocket, af, type, protocol, info, g, flags)

    def _transfer_error(self, s: Any, lpBuffers: Any, dwBufferCount: int) -> int:
        """The error a transfer call fails with before it reaches the provider: the socket's
        checks, then WSAEFAULT for buffers C would read past (None with a count, fewer
        buffers than the count); 0 when the call can go on."""
        code = self._socket_error(s)
        if code:
            return code
        count = _index(dwBufferCount)
        if count and (lpBuffers is None or len(lpBuffers) < count):
            return WSAEFAULT
        return 0

    def _overlapped_call(self, s: Any, lpBuffers: Any, dwBufferCount: int, lpOverlapped: Any,
                         lpCompletionRoutine: Any) -> tuple[int, WSATHREADID | None]:
        """``_transfer_error``, then ``_completion_thread``: (error, lpThreadId)."""
        code = self._transfer_error(s, lpBuffers, dwBufferCount)
        if code:
            return code, None
        return self._completion_thread(lpOverlapped, lpCompletionRoutine)

    def _completion_thread(self, lpOverlapped: Any,
                           lpCompletionRoutine: Any) -> tuple[int, WSATHREADID | None]:
        """(0, the lpThreadId the provider gets), or (the error, None) when the calling
        thread's handle cannot be opened (WSAENOBUFS: the table is full).

        Windows' Ws2_32 hands every overlapped call the WSATHREADID it opened for the calling
        thread (WPUOpenCurrentThread) once, when the thread first used Winsock; the provider
        keeps its handle to queue the completion routine there.  Here it is opened on the
        thread's first call that names a completion routine (the provider reads lpThreadId
        for nothing else) and kept until the thread ends, the process's last WSACleanup, or
        ``close()``: one handle per thread, however many calls."""
        if lpOverlapped is None or lpCompletionRoutine is None:
            return 0, None
        ident = threading.get_ident()
        thread = self._threads.get(ident)
        if thread is None:
            thread = WSATHREADID()
            error = Ref(0)
            if self.upcalls.WPUOpenCurrentThread(thread, error):
                return error.value, None
            with self._lock:
                self._threads[ident] = thread
            # The thread's end drops its locals: _ThreadEnd then closes the handle.
            self._thread_end.marker = _ThreadEnd(self, ident, thread)
        return 0, thread

    def _close_thread(self, ident: int, thread: WSATHREADID | None = None) -> None:
        """Close the thread handle opened for thread ``ident`` (only if it is ``thread``,
        when given: a marker replaced after a WSACleanup must not close its successor).
        A handle the table's close() closed already is no error."""
        with self._lock:
            if thread is None or self._threads.get(ident) is thread:
                thread = self._threads.pop(ident, None)
            else:
                thread = None
        if thread is not None:
            self.upcalls.WPUCloseThread(thread, Ref(0))

    def WSASend(self, s: int, lpBuffers: Any, dwBufferCount: int, lpNumberOfBytesSent: Any,
                dwFlags: int, lpOverlapped: Any, lpCompletionRoutine: Any) -> int:
        """Send the first ``dwBufferCount`` buffers, in order: 0 with the count in
        ``lpNumberOfBytesSent`` (a Ref; None: WSAEFAULT), or SOCKET_ERROR.  ``dwFlags``:
        MSG_OOB (stream sockets), MSG_DONTROUTE; others WSAEOPNOTSUPP."""
        code, thread = self._overlapped_call(s, lpBuffers, dwBufferCount, lpOverlapped,
                                             lpCompletionRoutine)
        if code:
            return self._fail(SOCKET_ERROR, code)
        return self._call(SOCKET_ERROR, self._owner(s).WSPSend, s, lpBuffers or [],
                          dwBufferCount, lpNumberOfBytesSent, dwFlags, lpOverlapped,
                          lpCompletionRoutine, thread)

    def WSASendTo(self, s: int, lpBuffers: Any, dwBufferCount: int, lpNumberOfBytesSent: Any,
                  dwFlags: int, lpTo: Any, iTolen: int, lpOverlapped: Any,
                  lpCompletionRoutine: Any) -> int:
        """WSASend to ``lpTo`` (an address tuple or sockaddr bytes, checked against
        ``iTolen``; None: the connected peer).  Each datagram's destination goes through the
        network policy first: a refused one is the policy's error, with nothing sent."""
        code, thread = self._overlapped_call(s, lpBuffers, dwBufferCount, lpOverlapped,
                                             lpCompletionRoutine)
        if code:
            return self._fail(SOCKET_ERROR, code)
        return self._call(SOCKET_ERROR, self._owner(s).WSPSendTo, s, lpBuffers or [],
                          dwBufferCount, lpNumberOfBytesSent, dwFlags, lpTo, iTolen,
                          lpOverlapped, lpCompletionRoutine, thread)

    def WSARecv(self, s: int, lpBuffers: Any, dwBufferCount: int, lpNumberOfBytesRecvd: Any,
                lpFlags: Any, lpOverlapped: Any, lpCompletionRoutine: Any) -> int:
        """Receive into the first ``dwBufferCount`` buffers, in order: 0, or SOCKET_ERROR.
        ``lpNumberOfBytesRecvd`` (a Ref) gets the count; ``lpFlags`` (a Ref: MSG_PEEK,
        MSG_OOB, MSG_WAITALL) comes back 0 (UDP and TCP have no MSG_PARTIAL); None for either
        is WSAEFAULT.  A datagram larger than the buffers: WSAEMSGSIZE, the buffers filled
        (the rest of the datagram is lost, as on Windows)."""
        code, thread = self._overlapped_call(s, lpBuffers, dwBufferCount, lpOverlapped,
                                             lpCompletionRoutine)
        if code:
            return self._fail(SOCKET_ERROR, code)
        return self._call(SOCKET_ERROR, self._owner(s).WSPRecv, s, lpBuffers or [],
                          dwBufferCount, lpNumberOfBytesRecvd, lpFlags, lpOverlapped,
                          lpCompletionRoutine, thread)

    def WSARecvFrom(self, s: int, lpBuffers: Any, dwBufferCount: int,
                    lpNumberOfBytesRecvd: Any, lpFlags: Any, lpFrom: Any, lpFromlen: Any,
                    lpOverlapped: Any, lpCompletionRoutine: Any) -> int:
        """WSARecv, and on a datagram socket the sender's address into ``lpFrom`` (None, a
        Ref or a writable buffer) and its size into ``lpFromlen`` (a Ref); a length below
        the family's sockaddr is WSAEFAULT, before anything is received.  A stream socket
        ignores both."""
        code, thread = self._transfer_error(s, lpBuffers, dwBufferCount), None
        if not code and lpFrom is not None and lpFromlen is None:
            code = WSAEFAULT  # Windows needs the length to know the buffer
        if not code:
            code, thread = self._completion_thread(lpOverlapped, lpCompletionRoutine)
        if code:
            return self._fail(SOCKET_ERROR, code)
        return self._call(SOCKET_ERROR, self._owner(s).WSPRecvFrom, s, lpBuffers or [],
                          dwBufferCount, lpNumberOfBytesRecvd, lpFlags, lpFrom, lpFromlen,
                          lpOverlapped, lpCompletionRoutine, thread)

    def WSAGetOverlappedResult(self, s: int, lpOverlapped: Any, lpcbTransfer: Any, fWait: int,
                               lpdwFlags: Any) -> int:
        """The outcome of the overlapped operation ``lpOverlapped`` started on socket ``s``:
        TRUE, or FALSE with the reason in the last error.

        Completed: ``lpcbTransfer`` and ``lpdwFlags`` (Refs) get its byte count and flags (a
        receive's lpFlags result), and the result is TRUE, or FALSE with the operation's own
        error (WSA_OPERATION_ABORTED: a closesocket cancelled it).  Still pending: with
        ``fWait`` false, FALSE with WSA_IO_INCOMPLETE; with ``fWait`` true the call waits for
        the completion (Windows allows that for event completion only; here any completion
        ends the wait; a thread's ``blocking_limit`` ends it with WSA_IO_INCOMPLETE).  None for
        any of the three pointers: WSAEFAULT; before those, WSANOTINITIALISED and
        WSAENOTSOCK (the provider's ``WSPGetOverlappedResult`` answers the rest)."""
        return self._on_socket(s, FALSE, self.provider.WSPGetOverlappedResult, lpOverlapped,
                               lpcbTransfer, fWait, lpdwFlags)

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
        return self._call(SOCKET_ERROR, self._owner(s).WSPDuplicateSocket, s, process, info)

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


class _ThreadEnd:
    """Held in a thread's locals: when the thread ends, CPython drops them, and this closes
    the thread handle ``Ws2_32`` opened for it (a weak reference: a thread outliving its
    Ws2_32 keeps nothing alive)."""

    __slots__ = ("_ws2_32", "_ident", "_thread")

    def __init__(self, ws2_32: Ws2_32, ident: int, thread: WSATHREADID) -> None:
        self._ws2_32 = weakref.ref(ws2_32)
        self._ident = ident
        self._thread = thread

    def __del__(self) -> None:
        ws2_32 = self._ws2_32()
        if ws2_32 is not None:
            ws2_32._close_thread(self._ident, self._thread)


def _text(value: bytes | str) -> str:
    """A text argument as one character per ANSI byte (latin-1 keeps every byte one
    character, so no byte is lost or merged), or the W string itself."""
    return value.decode("latin-1") if isinstance(value, (bytes, bytearray)) else str(value)


def _encoded(text: str, wide: bool) -> bytes:
    return text.encode("utf-16-le") if wide else text.encode("latin-1")


def _first(buf: Any, length: int) -> memoryview | None:
    """The first ``length`` bytes of ``buf`` as a byte view; None when C would read past it."""
    view = memoryview(buf).cast("B")
    length = _index(length)
    if not 0 <= length <= view.nbytes:
        return None
    return view[:length]


_Family = Literal[0, 2, 23]            # what NetworkPolicy.resolve takes
_ADDRESS_SIZES: Final = {AF_INET: 4, AF_INET6: 16}
_SOCK_SEQPACKET: Final = 5   # the highest socket type getaddrinfo's hints may name
# The well-known services a getaddrinfo service or a getnameinfo port may be (Windows reads
# them from %SystemRoot%\\System32\\drivers\\etc\\services; these are its common ones).
_SERVICE_PORTS: Final[dict[str, int]] = {
    "echo": 7, "discard": 9, "daytime": 13, "ftp-data": 20, "ftp": 21, "ssh": 22, "telnet": 23,
    "smtp": 25, "domain": 53, "http": 80, "www": 80, "pop3": 110, "nntp": 119, "ntp": 123,
    "imap": 143, "snmp": 161, "ldap": 389, "https": 443, "imaps": 993, "pop3s": 995,
}
_SERVICE_NAMES: Final[dict[int, str]] = {}
for _name, _port in _SERVICE_PORTS.items():
    _SERVICE_NAMES.setdefault(_port, _name)


def _service_port(service: str | None, numeric_only: bool) -> int:
    """The port a getaddrinfo service names ("" and None: 0); WSATYPE_NOT_FOUND otherwise."""
    if not service:
        return 0
    if service.isascii() and service.isdigit():
        port = int(service)
        if port <= 0xFFFF:
            return port
    elif not numeric_only and service.lower() in _SERVICE_PORTS:
        return _SERVICE_PORTS[service.lower()]
    raise WinsockError(WSATYPE_NOT_FOUND, f"no service {service!r}")


def _is_numeric(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True


def _packed(address: str) -> bytes:
    return ipaddress.ip_address(address.split("%", 1)[0]).packed


def _numeric(family: int, packed: bytes) -> str:
    return str(ipaddress.IPv4Address(packed) if family == AF_INET else ipaddress.IPv6Address(packed))
