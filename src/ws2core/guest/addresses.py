"""The address and host-name exports over guest memory: gethostname, GetHostNameW, inet_addr,
inet_pton, InetPtonW, inet_ntop, InetNtopW, WSAAddressToStringA/W, WSAStringToAddressA/W and
the byte-order functions htons, ntohs, htonl, ntohl.

Speakeasy 1.5.11 has its own inet_addr, inet_pton, inet_ntop, gethostname and byte-order
functions; these replace them: its byte-order functions raise OverflowError (the emulation
stops) when the argument's register or stack slot holds bits above the C type's width, which
a compiler leaves there for a u_short or (on x64) a u_long; its inet_addr is the host C
library's inet_aton (it takes what Windows refuses, and a NULL string raises); its
inet_pton and inet_ntop serve AF_INET alone; its gethostname gives its own configured name.

The conversions need no WSAStartup and leave the last error alone when they succeed (Wine's
test_inet_addr and test_inet_pton, which pass on Windows, check it); so do gethostname,
WSAAddressToString and WSAStringToAddress, whose success no test shows setting it (ReactOS's
do not).  Each reads its strings up to their NUL, checks every out-parameter writable before
it writes any, and writes only what Windows writes.
"""

from __future__ import annotations

from .. import Ref
from ..constants import AF_INET, AF_INET6, INADDR_NONE, SOCKET_ERROR, WSAEINVAL
from . import _memory
from ._exports import Exports, export
from ._protocol import Guest

_PAGE = 0x1000
_TEXT_LIMIT = 4096
"""The most characters of a string argument read: an address is far shorter, and a string
without a NUL in reach is cut there."""

_ADDRESS_SIZE = {AF_INET: 4, AF_INET6: 16}


def read_text(g: Guest, address: int, wide: bool) -> str | None:
    """The NUL-terminated string at ``address`` (None for NULL): ANSI bytes one character
    each, or UTF-16; read page by page, each page checked readable (WSAEFAULT)."""
    if not address:
        return None
    unit = 2 if wide else 1
    most = _TEXT_LIMIT * unit
    found = bytearray()
    while len(found) < most:
        at = address + len(found)
        found += _memory.read(g, at, min(_PAGE - at % _PAGE, most - len(found)))
        for offset in range(0, len(found) - len(found) % unit, unit):
            if not any(found[offset:offset + unit]):
                return _decoded(bytes(found[:offset]), wide)
    return _decoded(bytes(found[:most]), wide)


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


__all__ = ["read_text"]
