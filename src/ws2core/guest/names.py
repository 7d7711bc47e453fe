"""The name exports over guest memory: gethostbyname, gethostbyaddr, getaddrinfo,
GetAddrInfoW, freeaddrinfo, FreeAddrInfoW, getnameinfo, GetNameInfoW and inet_ntoa.

Every lookup is ``Ws2_32``'s, which asks the network policy (never the host's resolver).
What Windows hands back is built in memory the guest is given (``Guest.allocate``):

- a hostent (gethostbyname, gethostbyaddr) lives in one block per guest thread, reused by
  the thread's next call, which overwrites it, as Windows' per-thread hostent is; laid out
  as Windows lays it (Wine's test_dns): the HOSTENT, then h_aliases' pointers, then
  h_addr_list's, then the addresses, then the name;
- inet_ntoa's string likewise lives in a per-thread buffer;
- an addrinfo chain (ADDRINFOA for getaddrinfo, ADDRINFOW for GetAddrInfoW) is one block per
  call (the entries, their sockaddrs, the canonical name), until freeaddrinfo or
  FreeAddrInfoW of its first entry releases it; freeing NULL or any other pointer does
  nothing.

getaddrinfo and getnameinfo return their error code and set the last error too, 0 on
success (Wine's protocol.c tests, which hold on Windows), so they set the guest's last error
themselves (their Export has no failure value).
"""

from __future__ import annotations

import struct
import weakref
from dataclasses import dataclass, field
from typing import Final

from .. import Ref
from .._shared import WinsockError
from ..constants import WSA_NOT_ENOUGH_MEMORY, WSAEFAULT
from ..ws2_32 import ADDRINFO, HOSTENT
from . import _memory
from ._exports import Exports, export
from ._protocol import Guest, GuestFault

# The longest string an export reads from the guest (a name, a service): DNS names are at most
# 255 characters and Windows' own buffers are NI_MAXHOST; a longer string is WSAEFAULT.
MAX_STRING: Final = 0x1000
_HOSTENT_BLOCK: Final = 0x400      # a thread's hostent block: enough for every table answer
_NTOA_BUFFER: Final = 16           # "255.255.255.255" and its NUL


@dataclass
class _NameState:
    """What one process's name exports handed out: per-thread blocks and addrinfo chains."""

    hostents: dict[int, tuple[int, int]] = field(default_factory=dict)   # tid -> (address, size)
    ntoa: dict[int, int] = field(default_factory=dict)                   # tid -> address
    chains: set[int] = field(default_factory=set)                        # addrinfo heads


_STATES: Final[weakref.WeakKeyDictionary[Exports, _NameState]] = weakref.WeakKeyDictionary()


def _state(ex: Exports) -> _NameState:
    state = _STATES.get(ex)
    if state is None:
        state = _STATES[ex] = _NameState()
    return state


# --- strings


def read_string(g: Guest, address: int, wide: bool = False) -> str:
    """The NUL-terminated string at ``address`` (ANSI, or UTF-16 when ``wide``); WSAEFAULT
    when NULL, unreadable, or longer than MAX_STRING characters."""
    data = _memory.read_string(g, address, limit=MAX_STRING + 1, wide=wide)
    if len(data) > MAX_STRING * (2 if wide else 1):
        raise WinsockError(WSAEFAULT, f"no string end within {MAX_STRING} characters")
    return data.decode("utf-16-le" if wide else "latin-1", "replace")


def _encode(text: str, wide: bool) -> bytes:
    return (text.encode("utf-16-le", "replace") + b"\0\0" if wide
            else text.encode("latin-1", "replace") + b"\0")


def _allocate(g: Guest, size: int) -> int:
    """Guest memory for an answer; WSA_NOT_ENOUGH_MEMORY (EAI_MEMORY) when there is none."""
    try:
        return g.allocate(size)
    except GuestFault:
        raise WinsockError(WSA_NOT_ENOUGH_MEMORY, f"no guest memory for {size} bytes") from None


def _pointer(g: Guest, value: int) -> bytes:
    return value.to_bytes(g.ptr_size, "little")


# --- hostent


def _hostent_bytes(g: Guest, base: int, host: HOSTENT) -> bytes:
    """``host`` laid out at ``base``: HOSTENT, h_aliases, h_addr_list, addresses, name."""
    p = g.ptr_size
    head = 32 if p == 8 else 16
    aliases = base + head
    addr_list = aliases + p * (len(host.h_aliases) + 1)
    addresses = addr_list + p * (len(host.h_addr_list) + 1)
    names = addresses + sum(len(a) for a in host.h_addr_list)
    strings = [_encode(host.h_name, False)] + [_encode(a, False) for a in host.h_aliases]
    string_at = [names]
    for text in strings[:-1]:
        string_at.append(string_at[-1] + len(text))
    if p == 8:
        header = struct.pack("<QQhh4xQ", string_at[0], aliases, host.h_addrtype,
                             host.h_length, addr_list)
    else:
        header = struct.pack("<IIhhI", string_at[0], aliases, host.h_addrtype,
                             host.h_length, addr_list)
    out = bytearray(header)
    out += b"".join(_pointer(g, a) for a in string_at[1:]) + _pointer(g, 0)
    offset = addresses
    for address in host.h_addr_list:
        out += _pointer(g, offset)
        offset += len(address)
    out += _pointer(g, 0) + b"".join(host.h_addr_list) + b"".join(strings)
    return bytes(out)


def _thread_hostent(ex: Exports, g: Guest, host: HOSTENT | None) -> int:
    """The guest address of the thread's hostent, now holding ``host`` (0 for None)."""
    if host is None:
        return 0
    state, tid = _state(ex), g.thread_id()
    address, size = state.hostents.get(tid, (0, 0))
    needed = len(_hostent_bytes(g, 0, host))
    if needed > size:  # a bigger answer than the block holds: a bigger block
        if address:
            g.release(address)
        size = max(_HOSTENT_BLOCK, needed)
        state.hostents.pop(tid, None)
        address = _allocate(g, size)
        state.hostents[tid] = (address, size)
    _memory.write(g, address, _hostent_bytes(g, address, host).ljust(size, b"\0"))
    return address


@export("gethostbyname", "p", "p", 0)
def gethostbyname(ex: Exports, g: Guest, name: int) -> int:
    ex.ws2_32.check_started()
    text = read_string(g, name) if name else None
    return _thread_hostent(ex, g, ex.ws2_32.gethostbyname(text))


@export("gethostbyaddr", "pii", "p", 0)
def gethostbyaddr(ex: Exports, g: Guest, addr: int, len: int, type: int) -> int:
    ex.ws2_32.check_started()
    # Read only the bytes of a well-formed call; Ws2_32 says what is wrong with another.
    data = _memory.read(g, addr, len) if addr and len in (4, 16) else None
    return _thread_hostent(ex, g, ex.ws2_32.gethostbyaddr(data, len, type))


# --- addrinfo


def _read_hints(g: Guest, hints: int) -> ADDRINFO | None:
    if not hints:
        return None
    p = g.ptr_size
    raw = _memory.read(g, hints, 16 + 4 * p)
    flags, family, socktype, protocol = struct.unpack_from("<iiii", raw)
    addrlen, canonname, addr, next_ = struct.unpack_from("<4Q" if p == 8 else "<4I", raw, 16)
    # A non-NULL pointer member is only told apart from NULL: Ws2_32 refuses any.
    return ADDRINFO(flags, family, socktype, protocol, addrlen,
                    "" if canonname else None, b"" if addr else None, next_ or None)


def _chain_bytes(g: Guest, base: int, entries: list[ADDRINFO], wide: bool) -> bytes:
    """The entries as an addrinfo chain at ``base``: every entry, then every sockaddr, then
    the canonical names."""
    p = g.ptr_size
    size = 16 + 4 * p
    addr_at = base + size * len(entries)
    name_at = addr_at + sum(len(e.ai_addr or b"") for e in entries)
    structs, tail_addrs, tail_names = bytearray(), bytearray(), bytearray()
    for index, entry in enumerate(entries):
        name = 0
        if entry.ai_canonname is not None:
            name = name_at + len(tail_names)
            tail_names += _encode(entry.ai_canonname, wide)
        following = base + size * (index + 1) if index + 1 < len(entries) else 0
        address = addr_at + len(tail_addrs)
        tail_addrs += entry.ai_addr or b""
        structs += struct.pack("<iiii", entry.ai_flags, entry.ai_family, entry.ai_socktype,
                               entry.ai_protocol)
        structs += struct.pack("<4Q" if p == 8 else "<4I", entry.ai_addrlen, name, address,
                               following)
    return bytes(structs + tail_addrs + tail_names)


def _getaddrinfo(ex: Exports, g: Guest, node: int, service: int, hints: int, result: int,
                 wide: bool) -> int:
    try:
        ex.ws2_32.check_started()
        node_name = read_string(g, node, wide) if node else None
        service_name = read_string(g, service, wide) if service else None
        parsed = _read_hints(g, hints)
        _memory.require_writable(g, result, g.ptr_size)
        answer = Ref(None)
        code = ex.ws2_32.getaddrinfo(node_name, service_name, parsed, answer)
        head = 0
        if code == 0:
            entries: list[ADDRINFO] = answer.value
            head = _allocate(g, len(_chain_bytes(g, 0, entries, wide)))
            _state(ex).chains.add(head)
            _memory.write(g, head, _chain_bytes(g, head, entries, wide))
        _memory.write(g, result, _pointer(g, head))
    except WinsockError as error:
        code = error.winerror
    g.set_last_error(code)
    return code


@export("getaddrinfo", "pppp", "i", None, last_error=False)
def getaddrinfo(ex: Exports, g: Guest, pNodeName: int, pServiceName: int, pHints: int,
                ppResult: int) -> int:
    return _getaddrinfo(ex, g, pNodeName, pServiceName, pHints, ppResult, False)


@export("GetAddrInfoW", "pppp", "i", None, last_error=False)
def GetAddrInfoW(ex: Exports, g: Guest, pNodeName: int, pServiceName: int, pHints: int,
                 ppResult: int) -> int:
    return _getaddrinfo(ex, g, pNodeName, pServiceName, pHints, ppResult, True)


def _free(ex: Exports, g: Guest, head: int) -> None:
    state = _state(ex)
    if head in state.chains:
        state.chains.discard(head)
        g.release(head)


@export("freeaddrinfo", "p", "v", None, last_error=False, clears_last_error=False)
def freeaddrinfo(ex: Exports, g: Guest, pAddrInfo: int) -> None:
    _free(ex, g, pAddrInfo)


@export("FreeAddrInfoW", "p", "v", None, last_error=False, clears_last_error=False)
def FreeAddrInfoW(ex: Exports, g: Guest, pAddrInfo: int) -> None:
    _free(ex, g, pAddrInfo)


# --- getnameinfo


def _getnameinfo(ex: Exports, g: Guest, sa: int, salen: int, host: int, hostlen: int,
                 serv: int, servlen: int, flags: int, wide: bool) -> int:
    unit = 2 if wide else 1
    try:
        ex.ws2_32.check_started()
        address = _memory.read_sockaddr(g, sa, salen)
        node = Ref(None) if host and hostlen else None
        service = Ref(None) if serv and servlen else None
        # Both buffers must take their size before the lookup, which goes on record.
        if node is not None:
            _memory.require_writable(g, host, hostlen * unit)
        if service is not None:
            _memory.require_writable(g, serv, servlen * unit)
        code = ex.ws2_32.getnameinfo(address, salen, node, hostlen, service, servlen, flags)
        if code == 0:
            if node is not None:
                _memory.write(g, host, _encode(node.value, wide))
            if service is not None:
                _memory.write(g, serv, _encode(service.value, wide))
    except WinsockError as error:
        code = error.winerror
    g.set_last_error(code)
    return code


@export("getnameinfo", "pipupui", "i", None, last_error=False)
def getnameinfo(ex: Exports, g: Guest, pSockaddr: int, SockaddrLength: int, pNodeBuffer: int,
                NodeBufferSize: int, pServiceBuffer: int, ServiceBufferSize: int,
                Flags: int) -> int:
    return _getnameinfo(ex, g, pSockaddr, SockaddrLength, pNodeBuffer, NodeBufferSize,
                        pServiceBuffer, ServiceBufferSize, Flags, False)


@export("GetNameInfoW", "pipupui", "i", None, last_error=False)
def GetNameInfoW(ex: Exports, g: Guest, pSockaddr: int, SockaddrLength: int, pNodeBuffer: int,
                 NodeBufferSize: int, pServiceBuffer: int, ServiceBufferSize: int,
                 Flags: int) -> int:
    return _getnameinfo(ex, g, pSockaddr, SockaddrLength, pNodeBuffer, NodeBufferSize,
                        pServiceBuffer, ServiceBufferSize, Flags, True)


# --- inet_ntoa


@export("inet_ntoa", "u", "p", 0, last_error=False, clears_last_error=False)
def inet_ntoa(ex: Exports, g: Guest, in_: int) -> int:
    """The in_addr comes by value (its 4 bytes in the argument's low 32 bits); the string
    goes to the thread's buffer, which the thread's next call overwrites."""
    state, tid = _state(ex), g.thread_id()
    buffer = state.ntoa.get(tid)
    if buffer is None:
        buffer = state.ntoa[tid] = _allocate(g, _NTOA_BUFFER)
    _memory.write(g, buffer, _encode(ex.ws2_32.inet_ntoa(in_), False).ljust(_NTOA_BUFFER, b"\0"))
    return buffer


__all__ = ["MAX_STRING", "read_string"]
