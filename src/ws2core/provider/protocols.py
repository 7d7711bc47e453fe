"""What a socket's WSAPROTOCOL_INFO says, for getsockopt's SO_PROTOCOL_INFOA/W
(``WSPGetSockOpt``) and ``WSPDuplicateSocket`` (which adds its dwProviderReserved key), and
the catalog entry a socket made without one is made for (``WSPSocket``).

The entries are the default catalog's (``ws2core.catalog.BASE_PROTOCOLS``: Windows' base
provider for TCP and UDP over IPv4 and IPv6, with their sources): the one table of their
contents, which this module reads and does not copy.
"""

from __future__ import annotations

from typing import Any

from ..catalog import BASE_PROTOCOLS, fill_base_protocol_info


def fill_protocol_info(info: Any, family: int, kind: int, catalog_entry_id: int) -> None:
    """Fill ``info`` (a ``ws2core.structs.WSAPROTOCOL_INFOA`` or ``…W``) as Windows describes
    a socket of ``family`` and ``kind`` (SOCK_STREAM, SOCK_DGRAM) from the provider's
    catalog entry ``catalog_entry_id``: every field, dwProviderReserved 0 (WSPDuplicateSocket
    sets its own)."""
    fill_base_protocol_info(info, family, kind, catalog_entry_id)


def base_entry_id(family: int, kind: int) -> int:
    """The dwCatalogEntryId of the base provider's entry for ``family`` and ``kind``: the
    entry a socket made without a WSAPROTOCOL_INFO is made for."""
    return BASE_PROTOCOLS[(family, kind)].catalog_entry_id
