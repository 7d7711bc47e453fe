"""The address and host-name exports over guest memory: gethostname, GetHostNameW, inet_addr,
inet_pton, InetPtonW, inet_ntop, InetNtopW, WSAAddressToStringA/W, WSAStringToAddressA/W and
the byte-order functions htons, ntohs, htonl, ntohl; and iphlpapi's GetAdaptersAddresses and
GetAdaptersInfo, which describe this machine as the network policy sees it (the loopback
adapter alone: ``Ws2_32.adapters``).

Speakeasy 1.5.11 has its own inet_addr, inet_pton, inet_ntop, gethostname and byte-order
functions; these replace them: its byte-order functions raise OverflowError (the emulation
stops) when the argument's register or stack slot holds bits above the C type's width, which
a compiler leaves there for a u_short or (on x64) a u_long; its inet_addr is the host C
library's inet_aton (it takes what Windows refuses, and a NULL string raises); its
inet_pton and inet_ntop serve AF_INET alone, and its inet_ntop writes past a short buffer;
its gethostname gives its own configured name, without WSANOTINITIALISED or WSAEFAULT.

The conversions need no WSAStartup and leave the last error alone when they succeed (Wine's
test_inet_addr and test_inet_pton, which pass on Windows, check it); so do gethostname,
WSAAddressToString and WSAStringToAddress here, since no test or page says their success
sets it.  Each reads its strings up to their NUL, checks every out-parameter writable before
it writes any, and writes only what Windows writes.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from .. import Ref
from .._shared import WinsockError
from ..addresses import Adapter
from ..constants import (
    AF_INET,
    AF_INET6,
    ERROR_BUFFER_OVERFLOW,
    ERROR_INVALID_PARAMETER,
    ERROR_NO_DATA,
    ERROR_NOACCESS,
    ERROR_NOT_ENOUGH_MEMORY,
    INADDR_NONE,
    SOCKET_ERROR,
    WSAEINVAL,
)
from . import _memory
from ._exports import Exports, export
from ._protocol import Guest

_TEXT_LIMIT = 4096
"""The most characters of a string argument read: an address is far shorter, and a string
without a NUL in reach is cut there."""

_ADDRESS_SIZE = {AF_INET: 4, AF_INET6: 16}


def read_text(g: Guest, address: int, wide: bool) -> str | None:
    """The NUL-terminated string at ``address`` (None for NULL): ANSI bytes one character
    each, or UTF-16; each page checked readable (WSAEFAULT); cut at _TEXT_LIMIT characters."""
    if not address:
        return None
    return _decoded(_memory.read_string(g, address, limit=_TEXT_LIMIT, wide=wide), wide)


def _decoded(data: bytes, wide: bool) -> str:
    return data.decode("utf-16-le", "replace") if wide else data.decode("latin-1")


# --- the machine's name


def _host_name(ex: Exports, g: Guest, name: int, namelen: int, wide: bool) -> int:
    ex.ws2_32.check_started()
    unit = 2 if wide else 1
    buffer = bytearray(max(0, min(namelen, _TEXT_LIMIT)) * unit)
    call = ex.ws2_32.GetHostNameW if wide else ex.ws2_32.gethostname
    result = call(buffer if name else None, namelen)
    if result == 0:
        _memory.write(g, name, bytes(buffer[:(len(ex.ws2_32.policy.hostname) + 1) * unit]))
    return result


@export("gethostname", "pi", "i", SOCKET_ERROR, clears_last_error=False)
def gethostname(ex: Exports, g: Guest, name: int, namelen: int) -> int:
    return _host_name(ex, g, name, namelen, wide=False)


@export("GetHostNameW", "pi", "i", SOCKET_ERROR, clears_last_error=False)
def GetHostNameW(ex: Exports, g: Guest, name: int, namelen: int) -> int:
    return _host_name(ex, g, name, namelen, wide=True)


# --- text to address and back


@export("inet_addr", "p", "i", INADDR_NONE, last_error=False, clears_last_error=False)
def inet_addr(ex: Exports, g: Guest, cp: int) -> int:
    # NULL is WSAEFAULT (read_text's None goes on to Ws2_32, which says so); a bad string's
    # INADDR_NONE is an answer, which leaves the last error alone.
    text = read_text(g, cp, wide=False)
    result = ex.ws2_32.inet_addr(text)
    if text is None:
        g.set_last_error(ex.ws2_32.WSAGetLastError())
    return result


def _pton(ex: Exports, g: Guest, family: int, string: int, buffer: int, wide: bool) -> int:
    text = read_text(g, string, wide)
    size = _ADDRESS_SIZE.get(family, 0)
    scratch = None
    if text is not None and size and buffer:
        _memory.require_writable(g, buffer, size)
        scratch = bytearray(_memory.read(g, buffer, size))
    before = bytes(scratch or b"")
    call = ex.ws2_32.InetPtonW if wide else ex.ws2_32.inet_pton
    result = call(family, text, scratch)
    if scratch is not None and bytes(scratch) != before:
        _memory.write(g, buffer, bytes(scratch))   # also a failed parse's address, as Windows
    if result == 0 and wide:
        g.set_last_error(WSAEINVAL)
    return result


@export("inet_pton", "ipp", "i", SOCKET_ERROR, clears_last_error=False)
def inet_pton(ex: Exports, g: Guest, Family: int, pszAddrString: int, pAddrBuf: int) -> int:
    return _pton(ex, g, Family, pszAddrString, pAddrBuf, wide=False)


@export("InetPtonW", "ipp", "i", SOCKET_ERROR, clears_last_error=False)
def InetPtonW(ex: Exports, g: Guest, Family: int, pszAddrString: int, pAddrBuf: int) -> int:
    return _pton(ex, g, Family, pszAddrString, pAddrBuf, wide=True)


def _ntop(ex: Exports, g: Guest, family: int, address: int, buffer: int, size: int,
          wide: bool) -> int:
    data = None
    if family in _ADDRESS_SIZE and address:
        data = _memory.read(g, address, _ADDRESS_SIZE[family])
    unit = 2 if wide else 1
    scratch = bytearray(max(0, min(size, 64)) * unit)   # the longest text is 46 characters
    call = ex.ws2_32.InetNtopW if wide else ex.ws2_32.inet_ntop
    text = call(family, data, scratch if buffer else None, size)
    if text is None:
        return 0
    _memory.write(g, buffer, bytes(scratch[:(len(text) + 1) * unit]))
    return buffer


@export("inet_ntop", "ippp", "p", 0, clears_last_error=False)
def inet_ntop(ex: Exports, g: Guest, Family: int, pAddr: int, pStringBuf: int,
              StringBufSize: int) -> int:
    return _ntop(ex, g, Family, pAddr, pStringBuf, StringBufSize, wide=False)


@export("InetNtopW", "ippp", "p", 0, clears_last_error=False)
def InetNtopW(ex: Exports, g: Guest, Family: int, pAddr: int, pStringBuf: int,
              StringBufSize: int) -> int:
    return _ntop(ex, g, Family, pAddr, pStringBuf, StringBufSize, wide=True)


def _address_to_string(ex: Exports, g: Guest, sockaddr: int, length: int, string: int,
                       string_length: int, wide: bool) -> int:
    ex.ws2_32.check_started()
    data = _memory.read_sockaddr(g, sockaddr, length) if sockaddr else None
    capacity = Ref(_memory.read_int(g, string_length) & _memory.INT32) if string_length else None
    unit = 2 if wide else 1
    scratch = bytearray(min(capacity.value, 128) * unit) if capacity is not None else None
    given = None if capacity is None else capacity.value
    call = ex.ws2_32.WSAAddressToStringW if wide else ex.ws2_32.WSAAddressToStringA
    result = call(data, length, None, scratch if string else None, capacity)
    if capacity is None or scratch is None:
        return result
    needed = capacity.value
    if result == 0:
        # Both out-parameters checked before either is written.
        _memory.require_writable(g, string, needed * unit)
        _memory.require_writable(g, string_length, 4)
        _memory.write(g, string, bytes(scratch[:needed * unit]))
    if result == 0 or needed != given:
        _memory.write_int(g, string_length, needed)   # the length, or the length needed
    return result


@export("WSAAddressToStringA", "puppp", "i", SOCKET_ERROR, clears_last_error=False)
def WSAAddressToStringA(ex: Exports, g: Guest, lpsaAddress: int, dwAddressLength: int,
                        lpProtocolInfo: int, lpszAddressString: int,
                        lpdwAddressStringLength: int) -> int:
    return _address_to_string(ex, g, lpsaAddress, dwAddressLength, lpszAddressString,
                              lpdwAddressStringLength, wide=False)


@export("WSAAddressToStringW", "puppp", "i", SOCKET_ERROR, clears_last_error=False)
def WSAAddressToStringW(ex: Exports, g: Guest, lpsaAddress: int, dwAddressLength: int,
                        lpProtocolInfo: int, lpszAddressString: int,
                        lpdwAddressStringLength: int) -> int:
    return _address_to_string(ex, g, lpsaAddress, dwAddressLength, lpszAddressString,
                              lpdwAddressStringLength, wide=True)


def _string_to_address(ex: Exports, g: Guest, string: int, family: int, sockaddr: int,
                       length: int, wide: bool) -> int:
    ex.ws2_32.check_started()
    text = read_text(g, string, wide) if family in _ADDRESS_SIZE else ""
    size = Ref(_memory.read_int(g, length)) if length else None
    given = None if size is None else size.value
    needed = 16 if family == AF_INET else 28
    scratch = None
    if size is not None and size.value >= needed and family in _ADDRESS_SIZE and sockaddr:
        _memory.require_writable(g, sockaddr, needed)
        _memory.require_writable(g, length, 4)
        scratch = bytearray(needed)
    call = ex.ws2_32.WSAStringToAddressW if wide else ex.ws2_32.WSAStringToAddressA
    result = call(text, family, None, scratch, size)
    if scratch is not None and (result == 0 or ex.ws2_32.WSAGetLastError() == WSAEINVAL):
        _memory.write(g, sockaddr, bytes(scratch))   # a bad string leaves zeros, as Windows
    if size is not None and (result == 0 or size.value != given):
        _memory.write_int(g, length, size.value)     # the size, or the size needed
    return result


@export("WSAStringToAddressA", "pippp", "i", SOCKET_ERROR, clears_last_error=False)
def WSAStringToAddressA(ex: Exports, g: Guest, AddressString: int, AddressFamily: int,
                        lpProtocolInfo: int, lpAddress: int, lpAddressLength: int) -> int:
    return _string_to_address(ex, g, AddressString, AddressFamily, lpAddress, lpAddressLength,
                              wide=False)


@export("WSAStringToAddressW", "pippp", "i", SOCKET_ERROR, clears_last_error=False)
def WSAStringToAddressW(ex: Exports, g: Guest, AddressString: int, AddressFamily: int,
                        lpProtocolInfo: int, lpAddress: int, lpAddressLength: int) -> int:
    return _string_to_address(ex, g, AddressString, AddressFamily, lpAddress, lpAddressLength,
                              wide=True)


# --- byte order: pure, no last error; the hook's "u" reads 32 bits, the functions cut a
# u_short's 16 themselves


@export("htons", "u", "i", None, last_error=False, clears_last_error=False)
def htons(ex: Exports, g: Guest, hostshort: int) -> int:
    return ex.ws2_32.htons(hostshort)


@export("ntohs", "u", "i", None, last_error=False, clears_last_error=False)
def ntohs(ex: Exports, g: Guest, netshort: int) -> int:
    return ex.ws2_32.ntohs(netshort)


@export("htonl", "u", "i", None, last_error=False, clears_last_error=False)
def htonl(ex: Exports, g: Guest, hostlong: int) -> int:
    return ex.ws2_32.htonl(hostlong)


@export("ntohl", "u", "i", None, last_error=False, clears_last_error=False)
def ntohl(ex: Exports, g: Guest, netlong: int) -> int:
    return ex.ws2_32.ntohl(netlong)


# --- iphlpapi: this machine's adapters.  They return an error code and leave the last error
# alone; a pointer that faults is ERROR_NOACCESS (Windows' own code would fault in the
# caller's process).

GAA_FLAG_SKIP_UNICAST = 0x0001
GAA_FLAG_SKIP_FRIENDLY_NAME = 0x0020
_IP_ADAPTER_IPV4_ENABLED = 0x80
_IP_ADAPTER_IPV6_ENABLED = 0x100


class _AdapterLayout:
    """IP_ADAPTER_ADDRESSES_LH and IP_ADAPTER_UNICAST_ADDRESS_LH in one ABI: each field's
    offset (iptypes.h, as mingw-w64 lays them out for x86_64 and i686)."""

    def __init__(self, ptr_size: int) -> None:
        wide = ptr_size == 8
        self.ptr = "Q" if wide else "I"
        self.size = 448 if wide else 376
        names = ("Next", "AdapterName", "FirstUnicastAddress", "FirstAnycastAddress",
                 "FirstMulticastAddress", "FirstDnsServerAddress", "DnsSuffix", "Description",
                 "FriendlyName")
        self.pointers = {name: 8 + ptr_size * n for n, name in enumerate(names)}
        self.fields = ({"PhysicalAddressLength": 88, "Flags": 92, "Mtu": 96, "IfType": 100,
                        "OperStatus": 104, "Ipv6IfIndex": 108, "ZoneIndices": 112,
                        "TransmitLinkSpeed": 184, "ReceiveLinkSpeed": 192, "Ipv4Metric": 216,
                        "Ipv6Metric": 220, "Luid": 224, "CompartmentId": 248,
                        "ConnectionType": 268} if wide else
                       {"PhysicalAddressLength": 52, "Flags": 56, "Mtu": 60, "IfType": 64,
                        "OperStatus": 68, "Ipv6IfIndex": 72, "ZoneIndices": 76,
                        "TransmitLinkSpeed": 144, "ReceiveLinkSpeed": 152, "Ipv4Metric": 168,
                        "Ipv6Metric": 172, "Luid": 176, "CompartmentId": 192,
                        "ConnectionType": 212})
        self.unicast_size = 64 if wide else 48
        self.unicast_next = 8
        self.unicast_address = 16 if wide else 12      # SOCKET_ADDRESS: pointer, then length
        self.unicast_rest = 32 if wide else 20         # PrefixOrigin .. OnLinkPrefixLength


def _align(offset: int) -> int:
    return (offset + 7) & ~7


def _sockaddr(family: int, address: bytes) -> bytes:
    if family == AF_INET:
        return struct.pack("<H", AF_INET) + bytes(2) + address + bytes(8)
    return struct.pack("<H", AF_INET6) + bytes(6) + address + bytes(4)


def pack_adapter_addresses(adapters: Sequence[Adapter], flags: int, base: int,
                           ptr_size: int) -> bytes:
    """The IP_ADAPTER_ADDRESSES list GetAdaptersAddresses writes at ``base``: each adapter,
    its unicast addresses and their sockaddrs, then its strings, every pointer into the
    same buffer (as Windows lays it out); its length is the size the call needs."""
    lay = _AdapterLayout(ptr_size)
    out = bytearray()
    previous_next: int | None = None
    for adapter in adapters:
        start = _align(len(out))
        out += bytes(start - len(out)) + bytes(lay.size)
        if previous_next is not None:
            struct.pack_into(f"<{lay.ptr}", out, previous_next, base + start)
        previous_next = start + lay.pointers["Next"]
        struct.pack_into("<II", out, start, lay.size, adapter.if_index)
        unicast_next = start + lay.pointers["FirstUnicastAddress"]
        for family, address, prefix in (() if flags & GAA_FLAG_SKIP_UNICAST else adapter.addresses):
            entry = _align(len(out))
            sockaddr = _sockaddr(family, address)
            out += bytes(entry - len(out)) + bytes(lay.unicast_size)
            struct.pack_into(f"<{lay.ptr}", out, unicast_next, base + entry)
            unicast_next = entry + lay.unicast_next
            at = _align(len(out))
            out += bytes(at - len(out)) + sockaddr
            struct.pack_into("<II", out, entry, lay.unicast_size, 0)
            struct.pack_into(f"<{lay.ptr}i", out, entry + lay.unicast_address, base + at,
                             len(sockaddr))
            # Well-known prefix and suffix, preferred, lifetimes infinite (loopback's).
            struct.pack_into("<iiiIIIB", out, entry + lay.unicast_rest, 2, 2, 4, 0xFFFFFFFF,
                             0xFFFFFFFF, 0xFFFFFFFF, prefix)
        friendly = "" if flags & GAA_FLAG_SKIP_FRIENDLY_NAME else adapter.friendly_name
        for field, text in (("AdapterName", adapter.name.encode("ascii") + b"\0"),
                            ("DnsSuffix", "\0".encode("utf-16-le")),
                            ("Description", (adapter.description + "\0").encode("utf-16-le")),
                            ("FriendlyName", (friendly + "\0").encode("utf-16-le"))):
            at = _align(len(out))
            out += bytes(at - len(out)) + text
            struct.pack_into(f"<{lay.ptr}", out, start + lay.pointers[field], base + at)
        families = {family for family, _, _ in adapter.addresses}
        f = lay.fields
        struct.pack_into("<I", out, start + f["Flags"],
                         (_IP_ADAPTER_IPV4_ENABLED if AF_INET in families else 0)
                         | (_IP_ADAPTER_IPV6_ENABLED if AF_INET6 in families else 0))
        struct.pack_into("<IIII", out, start + f["Mtu"], adapter.mtu, adapter.if_type, 1,
                         adapter.if_index)          # OperStatus: IfOperStatusUp
        struct.pack_into("<QQ", out, start + f["TransmitLinkSpeed"], 1 << 30, 1 << 30)
        struct.pack_into("<II", out, start + f["Ipv4Metric"], 75, 75)
        struct.pack_into("<Q", out, start + f["Luid"], adapter.if_type << 48)
        struct.pack_into("<I", out, start + f["CompartmentId"], 1)
        struct.pack_into("<I", out, start + f["ConnectionType"], 1)   # dedicated
    return bytes(out)


@export("GetAdaptersAddresses", "uuppp", "i", None, last_error=False, clears_last_error=False,
        internal=ERROR_NOT_ENOUGH_MEMORY, dll="iphlpapi")
def GetAdaptersAddresses(ex: Exports, g: Guest, Family: int, Flags: int, Reserved: int,
                         AdapterAddresses: int, SizePointer: int) -> int:
    if not SizePointer or Family not in (0, AF_INET, AF_INET6):
        return ERROR_INVALID_PARAMETER
    adapters = ex.ws2_32.adapters(Family)
    if not adapters:
        return ERROR_NO_DATA
    try:
        size = _memory.read_int(g, SizePointer) & _memory.INT32
        needed = len(pack_adapter_addresses(adapters, Flags, 0, g.ptr_size))
        if not AdapterAddresses or size < needed:
            _memory.write_int(g, SizePointer, needed)     # the size it needs
            return ERROR_BUFFER_OVERFLOW
        # The whole buffer first: a buffer that runs past the address space has no
        # addresses to lay the list out at (the list's pointers point into it).
        _memory.require_writable(g, AdapterAddresses, needed)
        _memory.write(g, AdapterAddresses,
                      pack_adapter_addresses(adapters, Flags, AdapterAddresses, g.ptr_size))
    except WinsockError:
        return ERROR_NOACCESS
    return 0


@export("GetAdaptersInfo", "pp", "i", None, last_error=False, clears_last_error=False,
        internal=ERROR_NOT_ENOUGH_MEMORY, dll="iphlpapi")
def GetAdaptersInfo(ex: Exports, g: Guest, AdapterInfo: int, SizePointer: int) -> int:
    # Windows leaves the loopback adapter out of GetAdaptersInfo, and the policy's machine
    # (Ws2_32.adapters) has no other: no adapter, so no IP_ADAPTER_INFO to write.
    if not SizePointer:
        return ERROR_INVALID_PARAMETER
    return ERROR_NO_DATA

__all__ = ["pack_adapter_addresses", "read_text"]
