"""What a socket's WSAPROTOCOL_INFO says: the one builder of its contents, for
getsockopt's SO_PROTOCOL_INFOA/W (``WSPGetSockOpt``) and for ``WSPDuplicateSocket`` (which
adds its dwProviderReserved key).

The values are those of the entries Windows' base provider (MSAFD) has in the Winsock catalog
for TCP and UDP over IPv4 and IPv6, the four protocols HostSocketProvider serves.  They live
in ``BASE_PROTOCOLS`` alone: the catalog of DESIGN.md §7 is to take that table over as its
default entries (and their catalog entry ids), and this builder to read the socket's entry
from it.

Sources: dwServiceFlags1 from Wine's dlls/ws2_32/tests/protocol.c (test_service_flags, which
holds on Windows for TCP and UDP over IPv4 and IPv6, XP1_QOS_SUPPORTED aside, set when QoS
is installed); the sockaddr sizes, family, type and protocol from sock.c's SO_PROTOCOL_INFO
tests; the meaning of every field from the WSAPROTOCOL_INFO page; the names ("MSAFD Tcpip
[TCP/IP]"...) and the provider GUIDs as Windows' catalog has them (SPEC.md §18: the GUIDs
are not verified here yet; Wine's tests only require a name, the same in A and W).
"""

from __future__ import annotations

import ctypes
import uuid
from typing import Any, Final, NamedTuple

from ..constants import (
    AF_INET,
    AF_INET6,
    BASE_PROTOCOL,
    BIGENDIAN,
    IPPROTO_TCP,
    IPPROTO_UDP,
    PFL_MATCHES_PROTOCOL_ZERO,
    SECURITY_PROTOCOL_NONE,
    SOCK_DGRAM,
    SOCK_STREAM,
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
from ..structs import SOCKADDR_SIZE, WSAPROTOCOL_INFOA, WSAPROTOCOL_INFOW


class BaseProtocol(NamedTuple):
    """One entry of Windows' base provider: what differs between TCP and UDP, IPv4 and IPv6."""

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
_MSAFD_IPV4: Final = uuid.UUID("e70f1aa0-ab8b-11cf-8ca3-00805f48a192")
_MSAFD_IPV6: Final = uuid.UUID("f9eab0c0-26d4-11d0-bbbf-00aa006c34e4")
# dwMessageSize of a UDP entry: Wine 8's figure; Windows' own has no source here (it is some
# nonzero size there too: only a stream protocol's is 0, WSAPROTOCOL_INFO's page).
_UDP_MESSAGE: Final = 65467

BASE_PROTOCOLS: Final[dict[tuple[int, int], BaseProtocol]] = {
    (AF_INET, SOCK_STREAM): BaseProtocol("MSAFD Tcpip [TCP/IP]", _MSAFD_IPV4, IPPROTO_TCP, _TCP_FLAGS, 0),
    (AF_INET, SOCK_DGRAM): BaseProtocol("MSAFD Tcpip [UDP/IP]", _MSAFD_IPV4, IPPROTO_UDP, _UDP_FLAGS,
                                        _UDP_MESSAGE),
    (AF_INET6, SOCK_STREAM): BaseProtocol("MSAFD Tcpip [TCP/IPv6]", _MSAFD_IPV6, IPPROTO_TCP,
                                          _TCP_FLAGS, 0),
    (AF_INET6, SOCK_DGRAM): BaseProtocol("MSAFD Tcpip [UDP/IPv6]", _MSAFD_IPV6, IPPROTO_UDP,
                                         _UDP_FLAGS, _UDP_MESSAGE),
}
"""(address family, socket type) -> its base provider entry (the future default catalog's)."""


def fill_protocol_info(info: Any, family: int, kind: int, catalog_entry_id: int) -> None:
    """Fill ``info`` (a ``ws2core.structs.WSAPROTOCOL_INFOA`` or ``…W``) as Windows describes
    a socket of ``family`` and ``kind`` (SOCK_STREAM, SOCK_DGRAM) from the provider's
    catalog entry ``catalog_entry_id``: every field, dwProviderReserved 0 (WSPDuplicateSocket
    sets its own)."""
    entry = BASE_PROTOCOLS[(family, kind)]
    ctypes.memset(ctypes.addressof(info), 0, ctypes.sizeof(info))
    info.dwServiceFlags1 = entry.service_flags
    info.dwProviderFlags = PFL_MATCHES_PROTOCOL_ZERO
    guid = entry.provider_id
    info.ProviderId.Data1, info.ProviderId.Data2 = guid.time_low, guid.time_mid
    info.ProviderId.Data3 = guid.time_hi_version
    info.ProviderId.Data4[:] = list(guid.bytes[8:])
    info.dwCatalogEntryId = catalog_entry_id
    info.ProtocolChain.ChainLen = BASE_PROTOCOL
    info.iVersion, info.iAddressFamily = 2, family
    info.iMaxSockAddr = info.iMinSockAddr = SOCKADDR_SIZE[family]
    info.iSocketType, info.iProtocol = kind, entry.protocol
    info.iNetworkByteOrder, info.iSecurityScheme = BIGENDIAN, SECURITY_PROTOCOL_NONE
    info.dwMessageSize = entry.message_size
    if isinstance(info, WSAPROTOCOL_INFOW):
        info.szProtocol[: len(entry.name)] = [ord(character) for character in entry.name]
    else:
        info.szProtocol = entry.name.encode("ascii")

