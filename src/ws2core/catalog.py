"""The Winsock catalog of one process (layer 1, beside the upcall table; DESIGN.md §7).

A ``Catalog`` holds protocol entries, each a ``ws2core.structs.WSAPROTOCOL_INFOW`` (catalog
entry id, provider GUID, protocol chain, family, type, protocol, name...), in the order they
were installed, and per provider GUID the provider's path: a DLL path for a native provider,
``"module:attribute"`` for a Python one.  It answers WSCInstallProvider, WSCDeinstallProvider
and WSCEnumProtocols in their Windows forms, the enumeration that Ws2_32's WSAEnumProtocolsA/W
make (``Catalog.enumerate``) and the path WPUGetProviderPath reads (``Catalog.provider_path``).

The default catalog holds the entries of Windows' base provider (MSAFD) for TCP and UDP over
IPv4 and IPv6, the four protocols ``ws2core.provider.HostSocketProvider`` serves
(``BASE_PROTOCOLS``; that provider's SO_PROTOCOL_INFO reads them from here).  Sources:

- the provider GUIDs, {E70F1AA0-AB8B-11CF-8CA3-00805F48A192} for IPv4 and
  {F9EAB0C0-26D4-11D0-BBBF-00AA006C34E4} for IPv6, the catalog entry ids (1001 TCP/IP,
  1002 UDP/IP, 1004 TCP/IPv6, 1005 UDP/IPv6: 1003 is Windows' hidden RAW/IP entry, which
  ws2core does not serve), dwProviderFlags PFL_MATCHES_PROTOCOL_ZERO, ChainLen 1, iVersion 2
  and a UDP dwMessageSize of 0xFFBB: Wine's dlls/ws2_32/socket.c (supported_protocols),
  whose table mirrors Windows' catalog; no Windows dump was at hand to compare;
- dwServiceFlags1: Wine's dlls/ws2_32/tests/protocol.c (test_service_flags, which holds on
  Windows for TCP and UDP over IPv4 and IPv6, XP1_QOS_SUPPORTED aside, set when QoS is
  installed);
- the names ("MSAFD Tcpip [TCP/IP]"...): Windows' own, as its catalog lists them (Wine
  names the entries "TCP/IP"...; its tests require only a name, the same in A and W);
- catalog entry ids handed out on install: ReactOS's dll/win32/ws2_32/src/dcatalog.c keeps
  Next_Catalog_Entry_ID, 1001 in a new catalog, and gives each installed entry the next one;
  ids are never reused.  Here the counter starts after the default entries (1006).

What the enumerations return follows the WSCEnumProtocols and WSAEnumProtocols pages:
WSCEnumProtocols reports every entry, WSAEnumProtocols only those without PFL_HIDDEN whose
ChainLen is not 0 (base protocols and chains, not an LSP's own layered entry); an
``lpiProtocols`` list (ended by 0; None: all) selects the entries whose iProtocol ..
iProtocol + iProtocolMaxOffset holds one of its values (the ReactOS rule, enumprot.c), and
a buffer too small (or None) is WSAENOBUFS with the bytes needed written to
``lpdwBufferLength`` (Wine's tests of WSAEnumProtocols; ReactOS).  A filter that selects
nothing returns 0, with or without a buffer (ReactOS).
"""

from __future__ import annotations

import ctypes
import importlib
import threading
import uuid
import weakref
from collections.abc import Callable, Sequence
from typing import Any, Final, NamedTuple

from ._shared import WinsockError, as_index, require_out_parameter
from .constants import (
    AF_INET,
    AF_INET6,
    BASE_PROTOCOL,
    BIGENDIAN,
    IPPROTO_TCP,
    IPPROTO_UDP,
    LAYERED_PROTOCOL,
    MAX_PROTOCOL_CHAIN,
    PFL_HIDDEN,
    PFL_MATCHES_PROTOCOL_ZERO,
    SECURITY_PROTOCOL_NONE,
    SOCK_DGRAM,
    SOCK_STREAM,
    SOCKET_ERROR,
    WSAEFAULT,
    WSAEINVAL,
    WSAENOBUFS,
    WSAEPROVIDERFAILEDINIT,
    WSANO_RECOVERY,
    WSAPROTOCOL_LEN,
    XP1_CONNECTIONLESS,
    XP1_EXPEDITED_DATA,
    XP1_GRACEFUL_CLOSE,
    XP1_GUARANTEED_DELIVERY,
    XP1_GUARANTEED_ORDER,
    XP1_IFS_HANDLES,
    XP1_MESSAGE_ORIENTED,
    XP1_SUPPORT_BROADCAST,
    XP1_SUPPORT_MULTIPOINT,
)
from .structs import GUID, SOCKADDR_SIZE, WSAPROTOCOL_INFOA, WSAPROTOCOL_INFOW

MSAFD_TCPIP: Final = uuid.UUID("e70f1aa0-ab8b-11cf-8ca3-00805f48a192")
"""The provider GUID of Windows' base provider for IPv4 (TCP/IP, UDP/IP)."""
MSAFD_TCPIP6: Final = uuid.UUID("f9eab0c0-26d4-11d0-bbbf-00aa006c34e4")
"""The provider GUID of Windows' base provider for IPv6 (TCP/IPv6, UDP/IPv6)."""
HOST_PROVIDER_PATH: Final = "ws2core.provider:HostSocketProvider"
"""The path of the default entries' provider: the Python provider that serves them (Windows
answers ``%SystemRoot%\\system32\\mswsock.dll`` for MSAFD)."""


class BaseProtocol(NamedTuple):
    """One entry of Windows' base provider: what differs between TCP and UDP, IPv4 and IPv6."""

    catalog_entry_id: int    # dwCatalogEntryId in Windows' catalog
    name: str                # szProtocol
    provider_id: uuid.UUID   # ProviderId: MSAFD's GUID for the family
    protocol: int            # iProtocol
    service_flags: int       # dwServiceFlags1
    message_size: int        # dwMessageSize: 0 for a stream (no message)


# XP1_IFS_HANDLES is Windows' answer, kept so that a program sees its own Windows; a program
# that takes it to mean ReadFile works on the socket will find the emulator's kernel32 answer.
_TCP_FLAGS: Final = (XP1_GUARANTEED_DELIVERY | XP1_GUARANTEED_ORDER | XP1_GRACEFUL_CLOSE
                     | XP1_EXPEDITED_DATA | XP1_IFS_HANDLES)
_UDP_FLAGS: Final = (XP1_CONNECTIONLESS | XP1_MESSAGE_ORIENTED | XP1_SUPPORT_BROADCAST
                     | XP1_SUPPORT_MULTIPOINT | XP1_IFS_HANDLES)
_UDP_MESSAGE: Final = 0xFFBB  # 65467: Wine's figure, mirroring Windows'

BASE_PROTOCOLS: Final[dict[tuple[int, int], BaseProtocol]] = {
    (AF_INET, SOCK_STREAM): BaseProtocol(
        1001, "MSAFD Tcpip [TCP/IP]", MSAFD_TCPIP, IPPROTO_TCP, _TCP_FLAGS, 0),
    (AF_INET, SOCK_DGRAM): BaseProtocol(
        1002, "MSAFD Tcpip [UDP/IP]", MSAFD_TCPIP, IPPROTO_UDP, _UDP_FLAGS, _UDP_MESSAGE),
    (AF_INET6, SOCK_STREAM): BaseProtocol(
        1004, "MSAFD Tcpip [TCP/IPv6]", MSAFD_TCPIP6, IPPROTO_TCP, _TCP_FLAGS, 0),
    (AF_INET6, SOCK_DGRAM): BaseProtocol(
        1005, "MSAFD Tcpip [UDP/IPv6]", MSAFD_TCPIP6, IPPROTO_UDP, _UDP_FLAGS, _UDP_MESSAGE),
}
"""(address family, socket type) -> its entry in Windows' base provider, in catalog order."""

_NEXT_CATALOG_ENTRY_ID: Final = 1006  # after the default entries (ReactOS starts a new catalog at 1001)
_DWORD_MAX: Final = 0xFFFFFFFF


def fill_base_protocol_info(info: Any, family: int, kind: int,
                            catalog_entry_id: int | None = None) -> None:
    """Fill ``info`` (a ``WSAPROTOCOL_INFOA`` or ``…W``) with the base provider's entry for
    ``family`` and ``kind`` (SOCK_STREAM, SOCK_DGRAM): every field, dwProviderReserved 0;
    dwCatalogEntryId ``catalog_entry_id``, or the entry's own when None."""
    entry = BASE_PROTOCOLS[(family, kind)]
    wide = WSAPROTOCOL_INFOW()
    wide.dwServiceFlags1 = entry.service_flags
    wide.dwProviderFlags = PFL_MATCHES_PROTOCOL_ZERO
    set_guid(wide.ProviderId, entry.provider_id)
    wide.dwCatalogEntryId = entry.catalog_entry_id if catalog_entry_id is None else catalog_entry_id
    wide.ProtocolChain.ChainLen = BASE_PROTOCOL
    wide.iVersion, wide.iAddressFamily = 2, family
    wide.iMaxSockAddr = wide.iMinSockAddr = SOCKADDR_SIZE[family]
    wide.iSocketType, wide.iProtocol = kind, entry.protocol
    wide.iNetworkByteOrder, wide.iSecurityScheme = BIGENDIAN, SECURITY_PROTOCOL_NONE
    wide.dwMessageSize = entry.message_size
    set_protocol_name(wide, entry.name)
    source = wide if isinstance(info, WSAPROTOCOL_INFOW) else to_ansi(wide)
    ctypes.memmove(ctypes.addressof(info), ctypes.addressof(source), ctypes.sizeof(info))


# ---------------------------------------------------------------------------------------
# Conversions: GUIDs, names, the A form.


def set_guid(target: GUID, value: uuid.UUID) -> None:
    """Write ``value`` into the GUID structure ``target`` (Data1..3 little-endian fields)."""
    ctypes.memmove(ctypes.addressof(target), value.bytes_le, 16)


def guid_of(value: Any, function: str, argument: str) -> uuid.UUID | None:
    """The GUID a caller gave: a ``uuid.UUID``, a ``ws2core.structs.GUID`` (or a ctypes
    pointer to one), None for a NULL pointer; TypeError for anything else."""
    if isinstance(value, ctypes._Pointer):
        value = value.contents if value else None
    if value is None or isinstance(value, uuid.UUID):
        return value
    if isinstance(value, GUID):
        return uuid.UUID(bytes_le=bytes(value))
    raise TypeError(f"{function}() argument '{argument}' must be a uuid.UUID or a GUID "
                    f"(ws2core.structs.GUID, a pointer to one, or None), not {type(value).__name__}")


def protocol_name(info: WSAPROTOCOL_INFOW) -> str:
    """szProtocol of a W entry, up to its NUL, as Python text (UTF-16 pairs joined)."""
    units = bytes(info.szProtocol)
    end = next((i for i in range(0, len(units), 2) if units[i:i + 2] == b"\0\0"), len(units))
    return units[:end].decode("utf-16-le", "replace")


def set_protocol_name(info: WSAPROTOCOL_INFOW, name: str) -> None:
    """Write ``name`` to szProtocol, cut to WSAPROTOCOL_LEN UTF-16 units, NUL-terminated."""
    encoded = name.encode("utf-16-le")[: 2 * (len(info.szProtocol) - 1)]
    ctypes.memset(ctypes.addressof(info.szProtocol), 0, ctypes.sizeof(info.szProtocol))
    ctypes.memmove(ctypes.addressof(info.szProtocol), encoded, len(encoded))


def to_ansi(info: WSAPROTOCOL_INFOW) -> WSAPROTOCOL_INFOA:
    """The A form of a W entry: the same fields, szProtocol in the ANSI code page (cp1252,
    a character it lacks as "?", as WideCharToMultiByte's default character)."""
    ansi = WSAPROTOCOL_INFOA()
    fixed = WSAPROTOCOL_INFOW.szProtocol.offset
    ctypes.memmove(ctypes.addressof(ansi), ctypes.addressof(info), fixed)
    ansi.szProtocol = protocol_name(info).encode("cp1252", "replace")[:WSAPROTOCOL_LEN]
    return ansi


def _copy(info: WSAPROTOCOL_INFOW) -> WSAPROTOCOL_INFOW:
    return WSAPROTOCOL_INFOW.from_buffer_copy(info)


# ---------------------------------------------------------------------------------------
# The catalog.


class Catalog:
    """The Winsock catalog of one process: ``Catalog()`` holds the default entries (Windows'
    base provider for TCP and UDP over IPv4 and IPv6, served by HostSocketProvider),
    ``Catalog(base_provider=False)`` none.

    ``protocols()`` lists the entries, ``provider_path(guid)`` gives a provider's path; the
    Windows forms (``WSCInstallProvider``, ``WSCDeinstallProvider``, ``WSCEnumProtocols``)
    take ws2spi.h's arguments in Python forms and report through ``lpErrno``, as the upcalls
    do.  A GUID is a ``uuid.UUID`` or a ``ws2core.structs.GUID``.  Thread-safe: one lock
    orders installs, removals and reads.
    """

    def __init__(self, *, base_provider: bool = True) -> None:
        self._lock = threading.Lock()
        self._entries: list[WSAPROTOCOL_INFOW] = []
        self._paths: dict[uuid.UUID, str] = {}
        self._next_id = _NEXT_CATALOG_ENTRY_ID if base_provider else 1001
        if base_provider:
            for family, kind in BASE_PROTOCOLS:
                info = WSAPROTOCOL_INFOW()
                fill_base_protocol_info(info, family, kind)
                self._entries.append(info)
                self._paths[BASE_PROTOCOLS[(family, kind)].provider_id] = HOST_PROVIDER_PATH

    def __repr__(self) -> str:
        with self._lock:
            return f"<ws2core Catalog: {len(self._entries)} entries, {len(self._paths)} providers>"

    # --- Pythonic reads

    def protocols(self, *, hidden: bool = True) -> list[WSAPROTOCOL_INFOW]:
        """Copies of the entries in catalog order: all of them (WSCEnumProtocols' view), or
        with ``hidden=False`` those WSAEnumProtocols reports."""
        with self._lock:
            return [_copy(info) for info in self._entries if hidden or _listed(info)]

    def provider_path(self, provider_id: Any) -> str:
        """The path installed for ``provider_id``; WinsockError(WSAEINVAL) for a GUID the
        catalog does not hold (None included)."""
        guid = guid_of(provider_id, "Catalog.provider_path", "provider_id")
        with self._lock:
            path = self._paths.get(guid) if guid is not None else None
        if path is None:
            raise WinsockError(WSAEINVAL, f"no provider {guid} in the catalog")
        return path

    def entry(self, catalog_entry_id: int) -> WSAPROTOCOL_INFOW | None:
        """A copy of the entry ``catalog_entry_id`` names, hidden and layered ones included;
        None when the catalog holds none."""
        with self._lock:
            for info in self._entries:
                if info.dwCatalogEntryId == catalog_entry_id:
                    return _copy(info)
        return None

    def find(self, af: int, type: int, protocol: int) -> WSAPROTOCOL_INFOW | None:
        """A copy of the entry socket(``af``, ``type``, ``protocol``) is served by: the first,
        in catalog order, of those WSAEnumProtocols lists whose family and type are
        ``af`` and ``type`` and whose protocols hold ``protocol`` (0: an entry with
        PFL_MATCHES_PROTOCOL_ZERO); None when none does (the WSASocket page: the first
        transport in the catalog supporting the triple)."""
        with self._lock:
            for info in self._entries:
                if (_listed(info) and info.iAddressFamily == af and info.iSocketType == type
                        and (_matches(info, [protocol]) if protocol
                             else info.dwProviderFlags & PFL_MATCHES_PROTOCOL_ZERO)):
                    return _copy(info)
        return None

    def write_order(self, catalog_entry_ids: Sequence[int]) -> None:
        """Put the entries in the order ``catalog_entry_ids`` gives, which must name every
        entry exactly once (WSCWriteProviderOrder's rule); WinsockError(WSAEINVAL) and no
        change otherwise."""
        with self._lock:
            by_id = {info.dwCatalogEntryId: info for info in self._entries}
            if len(catalog_entry_ids) != len(by_id) or set(catalog_entry_ids) != set(by_id):
                raise WinsockError(WSAEINVAL, "the order must name every catalog entry once")
            self._entries = [by_id[catalog_entry_id] for catalog_entry_id in catalog_entry_ids]

    # --- installing and removing providers

    def install(self, provider_id: Any, path: Any, entries: Any, count: Any = None) -> list[int]:
        """Install a provider: its ``path`` and its protocol ``entries`` (WSAPROTOCOL_INFOW
        structures: one, a sequence, or a buffer holding ``count`` of them), each given the
        next catalog entry id and ``provider_id`` as its ProviderId.  Returns the ids.

        WinsockError: WSAEFAULT for a None argument; WSAEINVAL for no entries or a ChainLen
        outside 0..MAX_PROTOCOL_CHAIN; WSANO_RECOVERY when the provider is installed already
        (the WSCInstallProvider page).  TypeError / ValueError for arguments of the wrong
        type, or fewer entries than ``count``.  Nothing changes on any failure.
        """
        guid = guid_of(provider_id, "WSCInstallProvider", "lpProviderId")
        if path is not None and not isinstance(path, str):
            raise TypeError(f"WSCInstallProvider() argument 'lpszProviderDllPath' must be a str "
                            f"or None, not {type(path).__name__}")
        if path is not None and "\0" in path:
            raise ValueError("lpszProviderDllPath holds a NUL: C would read the path up to it")
        infos = None if entries is None else _protocol_infos(entries, count)
        if guid is None or path is None or infos is None:
            raise WinsockError(WSAEFAULT, "a NULL argument")
        if not infos:
            raise WinsockError(WSAEINVAL, "no protocol entries")
        for info in infos:
            if not LAYERED_PROTOCOL <= info.ProtocolChain.ChainLen <= MAX_PROTOCOL_CHAIN:
                raise WinsockError(
                    WSAEINVAL, f"ChainLen {info.ProtocolChain.ChainLen} is outside 0..{MAX_PROTOCOL_CHAIN}")
        with self._lock:
            if guid in self._paths:
                raise WinsockError(WSANO_RECOVERY, f"provider {guid} is installed already")
            if self._next_id + len(infos) - 1 > _DWORD_MAX:
                raise WinsockError(WSANO_RECOVERY, "no catalog entry ids left")
            ids = list(range(self._next_id, self._next_id + len(infos)))
            for info, catalog_entry_id in zip(infos, ids):
                set_guid(info.ProviderId, guid)
                info.dwCatalogEntryId = catalog_entry_id
            self._entries.extend(infos)
            self._paths[guid] = path
            self._next_id += len(infos)
        return ids

    def deinstall(self, provider_id: Any) -> None:
        """Remove a provider's path and all its entries.  WinsockError: WSAEFAULT for None,
        WSAEINVAL for a provider the catalog does not hold."""
        guid = guid_of(provider_id, "WSCDeinstallProvider", "lpProviderId")
        if guid is None:
            raise WinsockError(WSAEFAULT, "a NULL lpProviderId")
        with self._lock:
            if self._paths.pop(guid, None) is None:
                raise WinsockError(WSAEINVAL, f"no provider {guid} in the catalog")
            self._entries = [info for info in self._entries
                             if uuid.UUID(bytes_le=bytes(info.ProviderId)) != guid]

    # --- the enumeration both WSCEnumProtocols and WSAEnumProtocolsA/W make

    def enumerate(self, lpiProtocols: Any, lpProtocolBuffer: Any, lpdwBufferLength: Any, *,
                  hidden: bool, ansi: bool = False) -> int:
        """Write the entries that ``lpiProtocols`` selects to ``lpProtocolBuffer`` (a writable
        buffer holding ``lpdwBufferLength.value`` bytes) as WSAPROTOCOL_INFOW, or with
        ``ansi`` WSAPROTOCOL_INFOA, structures; returns how many.  ``hidden``: include the
        entries WSAEnumProtocols leaves out (WSCEnumProtocols does).

        ``lpiProtocols``: None (all) or iProtocol values, ended by 0 or by the sequence's
        end.  WinsockError(WSAEFAULT) when ``lpdwBufferLength`` is None;
        WinsockError(WSAENOBUFS) with the bytes needed in ``lpdwBufferLength`` when the
        buffer is None or smaller than they; a success leaves ``lpdwBufferLength`` alone.
        ValueError for a buffer smaller than ``lpdwBufferLength`` says (C would write past
        it) or a length outside DWORD, TypeError for arguments of the wrong type.
        """
        wanted = None if lpiProtocols is None else _protocol_filter(lpiProtocols)
        if lpdwBufferLength is not None:
            require_out_parameter(lpdwBufferLength, "lpdwBufferLength")
        view = None if lpProtocolBuffer is None else _writable(lpProtocolBuffer, "lpProtocolBuffer")
        if lpdwBufferLength is None:
            raise WinsockError(WSAEFAULT, "a NULL lpdwBufferLength")
        declared = _dword(lpdwBufferLength.value, "lpdwBufferLength")
        if view is not None and view.nbytes < declared:
            raise ValueError(f"lpProtocolBuffer holds {view.nbytes} bytes, lpdwBufferLength "
                             f"says {declared}")
        with self._lock:
            chosen = [info for info in self._entries
                      if (hidden or _listed(info)) and _matches(info, wanted)]
            records = [bytes(to_ansi(info) if ansi else info) for info in chosen]
        needed = sum(map(len, records))
        if needed and (view is None or declared < needed):
            lpdwBufferLength.value = needed
            raise WinsockError(WSAENOBUFS, f"{needed} bytes needed")
        if records:
            assert view is not None
            view[:needed] = b"".join(records)
        return len(records)

    # --- the Windows forms (ws2spi.h), reporting through lpErrno

    def WSCInstallProvider(self, lpProviderId: Any, lpszProviderDllPath: Any,
                           lpProtocolInfoList: Any, dwNumberOfEntries: Any, lpErrno: Any, /) -> int:
        """``install`` in Windows' form: 0, or SOCKET_ERROR with WSAEFAULT, WSAEINVAL or
        WSANO_RECOVERY in ``lpErrno``.  ``lpProtocolInfoList``: a WSAPROTOCOL_INFOW, a
        sequence of them or a buffer, holding at least ``dwNumberOfEntries``."""
        require_out_parameter(lpErrno, "lpErrno")
        count = as_index(dwNumberOfEntries, "WSCInstallProvider", "dwNumberOfEntries", "a DWORD")
        _dword(count, "dwNumberOfEntries")

        def install() -> int:
            self.install(lpProviderId, lpszProviderDllPath, lpProtocolInfoList, count)
            return 0
        return _reported(lpErrno, install)

    def WSCDeinstallProvider(self, lpProviderId: Any, lpErrno: Any, /) -> int:
        """``deinstall`` in Windows' form: 0, or SOCKET_ERROR with WSAEFAULT or WSAEINVAL."""
        require_out_parameter(lpErrno, "lpErrno")

        def deinstall() -> int:
            self.deinstall(lpProviderId)
            return 0
        return _reported(lpErrno, deinstall)

    def WSCWriteProviderOrder(self, lpwdCatalogEntryId: Any, dwNumberOfEntries: Any, /) -> int:
        """``write_order`` in Windows' (sporder.h) form: 0 (ERROR_SUCCESS), or the error code
        itself: WSAEINVAL when the first ``dwNumberOfEntries`` ids of ``lpwdCatalogEntryId``
        (a sequence of ints; None: WSAEINVAL) do not name every entry exactly once, nothing
        changed.
        ValueError for fewer ids than ``dwNumberOfEntries``."""
        count = _dword(as_index(dwNumberOfEntries, "WSCWriteProviderOrder", "dwNumberOfEntries",
                                "a DWORD"), "dwNumberOfEntries")
        if lpwdCatalogEntryId is None:
            return WSAEINVAL
        ids = [as_index(value, "WSCWriteProviderOrder", "lpwdCatalogEntryId", "a DWORD", i)
               for i, value in enumerate(list(lpwdCatalogEntryId)[:count])]
        if len(ids) < count:
            raise ValueError(f"lpwdCatalogEntryId holds {len(ids)} ids, dwNumberOfEntries "
                             f"says {count}")
        return self._reorder(ids)

    def _reorder(self, ids: list[int]) -> int:
        try:
            self.write_order(ids)
        except WinsockError as error:
            return error.winerror
        return 0

    def WSCEnumProtocols(self, lpiProtocols: Any, lpProtocolBuffer: Any, lpdwBufferLength: Any,
                         lpErrno: Any, /) -> int:
        """Every entry ``lpiProtocols`` selects, hidden and layered ones included, as
        WSAPROTOCOL_INFOW structures (see ``enumerate``): their count, or SOCKET_ERROR with
        WSAENOBUFS (the bytes needed written back) or WSAEFAULT in ``lpErrno``."""
        require_out_parameter(lpErrno, "lpErrno")
        return _reported(lpErrno, lambda: self.enumerate(
            lpiProtocols, lpProtocolBuffer, lpdwBufferLength, hidden=True))


def _reported(lpErrno: Any, operation: Callable[[], int]) -> int:
    """``operation()``'s result, or SOCKET_ERROR with the WinsockError's code in lpErrno."""
    try:
        result: int = operation()
    except WinsockError as error:
        lpErrno.value = error.winerror
        return SOCKET_ERROR
    return result


def _listed(info: WSAPROTOCOL_INFOW) -> bool:
    """Whether WSAEnumProtocols reports the entry: no PFL_HIDDEN, a ChainLen other than 0."""
    return not info.dwProviderFlags & PFL_HIDDEN and info.ProtocolChain.ChainLen != LAYERED_PROTOCOL


def _matches(info: WSAPROTOCOL_INFOW, wanted: list[int] | None) -> bool:
    if wanted is None:
        return True
    low = info.iProtocol
    return any(low <= protocol <= low + info.iProtocolMaxOffset for protocol in wanted)


def _protocol_filter(lpiProtocols: Any) -> list[int]:
    """The iProtocol values of a filter, up to its 0."""
    try:
        if isinstance(lpiProtocols, (str, bytes)):
            raise TypeError
        values = iter(lpiProtocols)  # a ctypes array iterates, though it is no Iterable
    except TypeError:
        raise TypeError(f"lpiProtocols must be a sequence of ints ended by 0, or None, not "
                        f"{type(lpiProtocols).__name__}") from None
    wanted = []
    for i, value in enumerate(values):
        protocol = as_index(value, "WSAEnumProtocols", "lpiProtocols", "an INT", i)
        if protocol == 0:
            break
        wanted.append(protocol)
    return wanted


def _dword(value: Any, argument: str) -> int:
    number = value if value.__class__ is int else as_index(value, "WSAEnumProtocols", argument, "a DWORD")
    if not 0 <= number <= _DWORD_MAX:
        raise ValueError(f"{argument} must be a DWORD (0..{_DWORD_MAX}), not {number}")
    return number


def _writable(buffer: Any, argument: str) -> memoryview:
    try:
        view = memoryview(buffer)
    except TypeError:
        raise TypeError(f"{argument} must be a writable buffer or None, not "
                        f"{type(buffer).__name__}") from None
    if view.readonly:
        raise TypeError(f"{argument} is read-only")
    if not view.c_contiguous:
        raise ValueError(f"{argument} must be contiguous")
    return view.cast("B") if view.format != "B" or view.ndim != 1 else view


def _protocol_infos(entries: Any, count: Any) -> list[WSAPROTOCOL_INFOW]:
    """Copies of the ``count`` entries an install was given (all of a sequence when None)."""
    if isinstance(entries, WSAPROTOCOL_INFOW):
        given: Sequence[Any] = [entries]
    elif isinstance(entries, Sequence) and not isinstance(entries, (bytes, bytearray, str)):
        given = entries
    else:
        try:
            view = memoryview(entries).cast("B")
        except TypeError:
            raise TypeError(f"lpProtocolInfoList must be WSAPROTOCOL_INFOW structures, not "
                            f"{type(entries).__name__}") from None
        size = ctypes.sizeof(WSAPROTOCOL_INFOW)
        if count is None:
            count = view.nbytes // size
        if view.nbytes < count * size:
            raise ValueError(f"lpProtocolInfoList holds {view.nbytes} bytes, "
                             f"{count} entries need {count * size}")
        return [WSAPROTOCOL_INFOW.from_buffer_copy(view[i * size:(i + 1) * size])
                for i in range(count)]
    if count is None:
        count = len(given)
    if len(given) < count:
        raise ValueError(f"lpProtocolInfoList holds {len(given)} entries, dwNumberOfEntries says {count}")
    infos = []
    for i, info in enumerate(given[:count]):
        if not isinstance(info, WSAPROTOCOL_INFOW):
            raise TypeError(f"lpProtocolInfoList[{i}] must be a WSAPROTOCOL_INFOW, not "
                            f"{type(info).__name__}")
        infos.append(_copy(info))
    return infos


# ---------------------------------------------------------------------------------------
# Loading providers: what LoadLibrary and GetProcAddress("WSPStartup") are to a native one.

# Per process (its upcall table): path -> the provider loaded from it.  Made when the first
# provider other than Ws2_32's own is loaded, dropped by unload_providers (Ws2_32's last
# WSACleanup or close): the providers hold the table, so only that drop frees it.
_LOADED: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_LOADED_LOCK = threading.Lock()


def register_provider(upcalls: Any, path: str, provider: Any) -> None:
    """Make ``provider`` what ``path`` loads for the process of ``upcalls`` (an UpcallTable):
    Ws2_32 registers its own base provider, so that the layer that names it below itself
    gets that instance, as a DLL is loaded once per process."""
    with _LOADED_LOCK:
        _LOADED.setdefault(upcalls, {}).setdefault(path, provider)


def load_provider(upcalls: Any, provider_id: Any) -> Any:
    """The instance of provider ``provider_id`` (its GUID) in the process of ``upcalls``.

    Its path is read from ``upcalls.catalog``; a ``"module:attribute"`` path is imported and
    the attribute called with no arguments the first time that path is loaded in the
    process, and the same instance given afterwards (the entries and chains that name it
    share it, as the entries of one DLL share its globals).  WinsockError: WSAEINVAL for a
    provider the catalog does not hold; WSAEPROVIDERFAILEDINIT for a path that is no Python
    provider (a DLL path) or whose module or attribute does not load."""
    path = upcalls.catalog.provider_path(provider_id)
    with _LOADED_LOCK:
        loaded = _LOADED.setdefault(upcalls, {})
        provider = loaded.get(path)
        if provider is None:
            provider = loaded[path] = _instantiate(path)
    return provider


def unload_providers(upcalls: Any) -> None:
    """Forget the providers loaded for the process of ``upcalls`` (FreeLibrary of each)."""
    with _LOADED_LOCK:
        _LOADED.pop(upcalls, None)


def _instantiate(path: str) -> Any:
    module_name, colon, attribute = path.partition(":")
    if not colon or not module_name or not attribute:
        raise WinsockError(WSAEPROVIDERFAILEDINIT, f"{path!r} is no Python provider path "
                           "(\"module:attribute\")")
    try:
        factory: Any = importlib.import_module(module_name)
        for name in attribute.split("."):
            factory = getattr(factory, name)
        return factory()
    except (ImportError, AttributeError, TypeError) as error:
        raise WinsockError(WSAEPROVIDERFAILEDINIT, f"provider {path!r} does not load: {error}") from error
