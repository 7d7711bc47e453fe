"""Host errors -> Winsock error codes: the one table every provider concern reports through.

Mapped by name, never by arithmetic: the Winsock codes are 10000 + the BSD numbers, which are
not Linux's (ECONNREFUSED is 111).  What the host's socket module raises that is no OSError
(OverflowError, ValueError for a value it refuses) is the calling convention's to answer
(``base._ProviderBase._call``: WSAEINVAL, logged), after the arguments' own checks have
turned every such value they know of into Windows' answer.
"""

from __future__ import annotations

import errno
from typing import Final

from .. import constants
from .._shared import WinsockError
from ..constants import WSASYSCALLFAILURE

__all__ = ["HOST_ERRORS", "winsock_error"]

_HOST_ERROR_NAMES: Final = {
    "EWOULDBLOCK": "WSAEWOULDBLOCK",
    "EAGAIN": "WSAEWOULDBLOCK",
    "EINPROGRESS": "WSAEWOULDBLOCK",   # a non-blocking connect says WSAEWOULDBLOCK on Windows
    "EALREADY": "WSAEALREADY",
    "EINTR": "WSAEINTR",
    "EBADF": "WSAENOTSOCK",
    "ENOTSOCK": "WSAENOTSOCK",
    "EACCES": "WSAEACCES",
    "EPERM": "WSAEACCES",
    "EFAULT": "WSAEFAULT",
    "EINVAL": "WSAEINVAL",
    "EMFILE": "WSAEMFILE",
    "ENFILE": "WSAEMFILE",
    "EDESTADDRREQ": "WSAEDESTADDRREQ",
    "EMSGSIZE": "WSAEMSGSIZE",
    "EPROTOTYPE": "WSAEPROTOTYPE",
    "ENOPROTOOPT": "WSAENOPROTOOPT",
    "EPROTONOSUPPORT": "WSAEPROTONOSUPPORT",
    "ESOCKTNOSUPPORT": "WSAESOCKTNOSUPPORT",
    "EOPNOTSUPP": "WSAEOPNOTSUPP",
    "EPFNOSUPPORT": "WSAEPFNOSUPPORT",
    "EAFNOSUPPORT": "WSAEAFNOSUPPORT",
    "EADDRINUSE": "WSAEADDRINUSE",
    "EADDRNOTAVAIL": "WSAEADDRNOTAVAIL",
    "ENETDOWN": "WSAENETDOWN",
    "ENETUNREACH": "WSAENETUNREACH",
    "ENETRESET": "WSAENETRESET",
    "ECONNABORTED": "WSAECONNABORTED",
    "ECONNRESET": "WSAECONNRESET",
    "EPIPE": "WSAECONNRESET",          # the peer is gone (a local shutdown is caught first)
    "ENOBUFS": "WSAENOBUFS",
    "ENOMEM": "WSAENOBUFS",
    "EISCONN": "WSAEISCONN",
    "ENOTCONN": "WSAENOTCONN",
    "ESHUTDOWN": "WSAESHUTDOWN",
    "ETIMEDOUT": "WSAETIMEDOUT",
    "ECONNREFUSED": "WSAECONNREFUSED",
    "EHOSTDOWN": "WSAEHOSTDOWN",
    "EHOSTUNREACH": "WSAEHOSTUNREACH",
}


def _host_error_table() -> dict[int, int]:
    table: dict[int, int] = {}
    for host_name, winsock_name in _HOST_ERROR_NAMES.items():
        number = getattr(errno, host_name, None)
        if number is not None:  # not every host has every name
            table.setdefault(number, getattr(constants, winsock_name))
    return table


HOST_ERRORS: Final[dict[int, int]] = _host_error_table()
"""Host ``errno`` value -> the Winsock error code the provider reports for it.  A host error
missing from the table is reported as WSASYSCALLFAILURE."""


def winsock_error(error: OSError) -> int:
    """The Winsock code for a host OSError (HOST_ERRORS; WSASYSCALLFAILURE if unmapped)."""
    if isinstance(error, WinsockError):
        return error.winerror
    return HOST_ERRORS.get(error.errno or 0, WSASYSCALLFAILURE)

