"""The Python forms of the C arguments that WSP functions take, read and written once for all.

A ``sockaddr`` coming in is an address tuple or Windows bytes, checked as C checks it (each
function says which error an address of another family gets); one going out goes to a Ref (a
tuple) or a writable buffer (Windows bytes, ws2core.structs' codecs) with its length to a Ref.
A WSABUF array is a sequence of buffers (a WSAOVERLAPPED is read in ``overlapped``).

An AF_INET6 address's sin6_flowinfo is a ULONG that Windows takes whatever its value: what it
carries beyond the 20-bit flow label (the traffic class, and 4 bits no header has) is dropped
here, since the host's socket module refuses it (OverflowError) where its kernel would not.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from operator import index as _index
from typing import Any, Final

from .._shared import WinsockError, require_out_parameter
from ..constants import AF_INET, AF_INET6, WSAEAFNOSUPPORT, WSAEFAULT
from ..structs import SOCKADDR_SIZE, pack_sockaddr, sockaddr_family, unpack_sockaddr

_HOST_FAMILY: Final = {AF_INET: socket.AF_INET, AF_INET6: socket.AF_INET6}
_ANY_ADDRESS: Final = {AF_INET: "0.0.0.0", AF_INET6: "::"}
_FLOW_LABEL: Final = 0xFFFFF  # the part of sin6_flowinfo the host's socket module takes


def _parse_address(name: Any, namelen: Any, socket_family: int, wrong_family: int) -> tuple[Any, ...]:
    """The host address tuple for a ``sockaddr`` argument (see ws2core.provider's docstring).

    An address of another family than the socket's fails with ``wrong_family`` (WSAEFAULT
    for WSPBind, WSAEAFNOSUPPORT for WSPConnect and WSPSendTo), a malformed one with
    WSAEFAULT.
    """
    if isinstance(name, tuple):
        if not name or not isinstance(name[0], str):
            raise TypeError(f"an address tuple starts with a numeric host string, not {name!r}")
        host = name[0]
        family = socket_family if host == "" else _family_of(host)
        if family is None:
            raise WinsockError(WSAEFAULT, f"not a numeric address: {host!r}")
        if family != socket_family:
            raise WinsockError(wrong_family, f"{host!r} is not an address of the socket's family")
        expected = (2,) if family == AF_INET else (2, 4)
        if len(name) not in expected:
            raise WinsockError(WSAEFAULT, f"an address tuple of {len(name)} items: {name!r}")
        rest = tuple(_index(part) for part in name[1:])
        if not 0 <= rest[0] <= 0xFFFF or any(not 0 <= part <= 0xFFFFFFFF for part in rest[1:]):
            raise WinsockError(WSAEFAULT, f"a port or field out of range: {name!r}")
        return _with_flow_label((host or _ANY_ADDRESS[family], *rest))
    try:
        data = memoryview(name).cast("B")
    except TypeError:
        raise TypeError(
            "an address is a tuple or bytes in the Windows sockaddr layout, "
            f"not {type(name).__name__}"
        ) from None
    length = _index(namelen)
    if length > len(data) or length < 2:
        raise WinsockError(WSAEFAULT, f"namelen {length} for a sockaddr of {len(data)} bytes")
    family = sockaddr_family(data)
    if family not in SOCKADDR_SIZE:
        raise WinsockError(WSAEAFNOSUPPORT if wrong_family == WSAEAFNOSUPPORT else WSAEFAULT)
    if length < SOCKADDR_SIZE[family]:
        raise WinsockError(WSAEFAULT, f"namelen {length} is too small for the address family")
    if family != socket_family:
        raise WinsockError(wrong_family, "the address is not of the socket's family")
    return _with_flow_label(unpack_sockaddr(data))


def _with_flow_label(address: tuple[Any, ...]) -> tuple[Any, ...]:
    """``address`` with only the flow label of its sin6_flowinfo (see the module's docstring).

    Windows documents no check of the field (SOCKADDR_IN6: "IPv6 flow information", a ULONG);
    Wine hands it to the host unchanged (ntdll's sockaddr_to_unix), whose kernel ignores it
    unless IPV6_FLOWINFO_SEND is on, which this provider never sets.
    """
    if len(address) == 4 and address[2] > _FLOW_LABEL:
        return (address[0], address[1], address[2] & _FLOW_LABEL, address[3])
    return address


def _unreachable(family: int, address: tuple[Any, ...]) -> bool:
    """Port 0 or the any address, which Windows refuses as a destination (a host may take
    them for its loopback)."""
    return address[1] == 0 or not any(socket.inet_pton(_HOST_FAMILY[family], address[0]))


def _family_of(host: str) -> int | None:
    for family, host_family in _HOST_FAMILY.items():
        try:
            socket.inet_pton(host_family, host)
        except (OSError, ValueError):  # ValueError: a NUL inside, UnicodeError: a lone surrogate
            continue
        return family
    return None


def _windows_address(family: int, address: tuple[Any, ...]) -> tuple[Any, ...]:
    """The tuple an out-address Ref receives: (host, port) or (host, port, flowinfo, scope_id)."""
    if family == AF_INET:
        return (address[0], address[1])
    return (address[0].split("%", 1)[0], address[1], address[2], address[3])


def _check_address_out(name: Any, namelen: Any, family: int) -> None:
    """Before the operation: WSAEFAULT if the out-address cannot hold the family's sockaddr."""
    size = SOCKADDR_SIZE[family]
    if namelen is not None:
        require_out_parameter(namelen, "the address length")
        capacity = namelen.value
        if capacity is not None and _index(capacity) < size:
            raise WinsockError(WSAEFAULT, f"the address length {capacity} is below {size}")
    if name is not None and not hasattr(name, "value"):
        view = _writable(name, "the address")
        if len(view) < size:
            raise WinsockError(WSAEFAULT, f"a {len(view)}-byte buffer for a {size}-byte sockaddr")


def _store_address(name: Any, namelen: Any, family: int, address: tuple[Any, ...]) -> None:
    """Write an address the operation produced (checked beforehand by _check_address_out)."""
    if name is not None:
        if hasattr(name, "value"):
            name.value = _windows_address(family, address)
        else:
            encoded = pack_sockaddr(family, address)
            _writable(name, "the address")[: len(encoded)] = encoded
    if namelen is not None:
        namelen.value = SOCKADDR_SIZE[family]


def _writable(buffer: Any, what: str) -> memoryview:
    try:
        view = memoryview(buffer)
    except TypeError:
        raise TypeError(f"{what} must be a Ref or a writable buffer, not {type(buffer).__name__}") from None
    if view.readonly:
        raise WinsockError(WSAEFAULT, f"{what} is a read-only buffer")
    return view.cast("B")


def _buffer_list(lpBuffers: Any, dwBufferCount: Any) -> list[memoryview]:
    """The first dwBufferCount buffers of a WSABUF array, as byte views.

    A sequence shorter than its count is a ValueError (C would read past the array); an
    item that is not a buffer is a TypeError.
    """
    items: Sequence[Any]
    if dwBufferCount.__class__ is int and dwBufferCount == 1 and lpBuffers.__class__ is list \
            and lpBuffers:
        items = lpBuffers[:1]  # the usual call, one buffer in a list: nothing to check
    else:
        count = dwBufferCount if dwBufferCount.__class__ is int else _index(dwBufferCount)
        if count < 0:
            raise ValueError(f"dwBufferCount must be a DWORD, not {count}")
        if lpBuffers.__class__ is list or isinstance(lpBuffers, Sequence):
            items = lpBuffers[:count]
        else:
            items = list(lpBuffers)[:count]
        if len(items) < count:
            raise ValueError(f"lpBuffers holds {len(items)} buffers, dwBufferCount says {count}")
    views = []
    for item in items:
        try:
            view = memoryview(item)
        except TypeError:
            raise TypeError(f"a WSABUF is a buffer, not {type(item).__name__}") from None
        if view.ndim != 1 or view.format != "B":
            view = view.cast("B")
        views.append(view)
    return views
