"""Windows structures, described once, for every layer that reads or writes them.

The fd_set layouts of the two ABIs a process can have (winsock2.h): ``u_int fd_count``, then
``SOCKET fd_array[]``, the count padded to the SOCKETs' alignment.  On x64 that is 4 bytes of
padding before 8-byte SOCKETs, on x86 none before 4-byte ones, so in both the header is one
SOCKET wide and entry ``i`` starts at ``socket_size * (i + 1)``.  The Cython core knows the
same layouts in C (its tests check that the two agree); everything written in Python reads
them here.

Below them: the structures socket calls take (TIMEVAL, WSANETWORKEVENTS, WSAPROTOCOL_INFOA/W,
WSATHREADID, WSAOVERLAPPED, as ctypes; ``overlapped_structure`` and ``record_completion``
for a WSAOVERLAPPED given as a pointer or an object) and the sockaddr codecs (``SOCKADDR_SIZE``, ``sockaddr_family``, ``pack_sockaddr``, ``unpack_sockaddr``).
"""

from __future__ import annotations

import ctypes
import struct
from typing import Any, Final, NamedTuple

from .constants import (
    AF_INET,
    AF_INET6,
    FD_MAX_EVENTS,
    MAX_PROTOCOL_CHAIN,
    WSAPROTOCOL_LEN,
)

FD_COUNT = struct.Struct("<I")
"""``u_int fd_count``: the first 4 bytes of an fd_set in both layouts."""


class FdSetLayout(NamedTuple):
    """One ABI's fd_set: ``socket_size`` bytes per SOCKET, the header as wide as one."""

    abi: str
    socket_size: int
    socket_code: str  # the struct module's code of one SOCKET, little-endian

    def size(self, capacity: int) -> int:
        """Bytes of an fd_set holding up to ``capacity`` SOCKETs."""
        return self.socket_size * (capacity + 1)

    def capacity(self, nbytes: int) -> int:
        """How many SOCKETs a buffer of ``nbytes`` holds after the header (-1: not even that)."""
        return nbytes // self.socket_size - 1

    def offset(self, index: int) -> int:
        """Where entry ``index`` of fd_array starts."""
        return self.socket_size * (index + 1)

    def pack(self, sockets: list[int] | tuple[int, ...]) -> bytes:
        """An fd_set holding exactly ``sockets``, in order (padding zero)."""
        header = FD_COUNT.pack(len(sockets)) + bytes(self.socket_size - FD_COUNT.size)
        return header + struct.pack(f"<{len(sockets)}{self.socket_code}", *sockets)

    def pack_into(self, buffer: memoryview, sockets: list[int] | tuple[int, ...]) -> None:
        """Rewrite fd_count and the first entries of ``buffer`` (padding and the rest untouched)."""
        FD_COUNT.pack_into(buffer, 0, len(sockets))
        struct.pack_into(f"<{len(sockets)}{self.socket_code}", buffer, self.socket_size, *sockets)

    def ctypes_type(self, capacity: int) -> type[ctypes.Structure]:
        """A ctypes Structure with this layout and ``capacity`` entries (ctypes pads x64)."""
        socket = ctypes.c_uint64 if self.socket_size == 8 else ctypes.c_uint32
        return type(
            f"fd_set_{self.abi}_{capacity}",
            (ctypes.Structure,),
            {"_fields_": [("fd_count", ctypes.c_uint), ("fd_array", socket * capacity)]},
        )


FD_SET_LAYOUTS = {
    "x64": FdSetLayout("x64", 8, "Q"),
    "x86": FdSetLayout("x86", 4, "I"),
}


# --------------------------------------------------------------------------------------
# The structures of socket calls, in the host's ABI (both fields are 32-bit on every Windows,
# so these ctypes layouts are also the guest's).


class TIMEVAL(ctypes.Structure):
    """winsock2.h's ``struct timeval`` (two 32-bit longs, as on Windows), for select and WSPSelect."""

    _fields_ = [("tv_sec", ctypes.c_int32), ("tv_usec", ctypes.c_int32)]


class WSANETWORKEVENTS(ctypes.Structure):
    """winsock2.h's WSANETWORKEVENTS (44 bytes), filled by WSPEnumNetworkEvents.

    ``lNetworkEvents`` holds the FD_* bits recorded; ``iErrorCode[FD_X_BIT]`` the error code
    that came with FD_X (0, or WSAECONNREFUSED for a failed FD_CONNECT, say).
    """

    _fields_ = [
        ("lNetworkEvents", ctypes.c_int32),
        ("iErrorCode", ctypes.c_int32 * FD_MAX_EVENTS),
    ]



class GUID(ctypes.Structure):
    """guiddef.h's GUID (16 bytes)."""

    _fields_ = [("Data1", ctypes.c_uint32), ("Data2", ctypes.c_uint16),
                ("Data3", ctypes.c_uint16), ("Data4", ctypes.c_uint8 * 8)]


class WSAPROTOCOLCHAIN(ctypes.Structure):
    """winsock2.h's WSAPROTOCOLCHAIN (32 bytes): ChainLen and 7 catalog entry ids."""

    _fields_ = [("ChainLen", ctypes.c_int32),
                ("ChainEntries", ctypes.c_uint32 * MAX_PROTOCOL_CHAIN)]


_PROTOCOL_INFO_FIELDS: Final = [
    ("dwServiceFlags1", ctypes.c_uint32), ("dwServiceFlags2", ctypes.c_uint32),
    ("dwServiceFlags3", ctypes.c_uint32), ("dwServiceFlags4", ctypes.c_uint32),
    ("dwProviderFlags", ctypes.c_uint32), ("ProviderId", GUID),
    ("dwCatalogEntryId", ctypes.c_uint32), ("ProtocolChain", WSAPROTOCOLCHAIN),
    ("iVersion", ctypes.c_int32), ("iAddressFamily", ctypes.c_int32),
    ("iMaxSockAddr", ctypes.c_int32), ("iMinSockAddr", ctypes.c_int32),
    ("iSocketType", ctypes.c_int32), ("iProtocol", ctypes.c_int32),
    ("iProtocolMaxOffset", ctypes.c_int32), ("iNetworkByteOrder", ctypes.c_int32),
    ("iSecurityScheme", ctypes.c_int32), ("dwMessageSize", ctypes.c_uint32),
    ("dwProviderReserved", ctypes.c_uint32),
]


class WSAPROTOCOL_INFOA(ctypes.Structure):
    """winsock2.h's WSAPROTOCOL_INFOA (372 bytes): WSASocketA's lpProtocolInfo and what
    WSADuplicateSocketA fills.  Only 32-bit fields and characters: the same layout in both
    ABIs (no pointer, no padding)."""

    _fields_ = [*_PROTOCOL_INFO_FIELDS, ("szProtocol", ctypes.c_char * (WSAPROTOCOL_LEN + 1))]


class WSAPROTOCOL_INFOW(ctypes.Structure):
    """winsock2.h's WSAPROTOCOL_INFOW (628 bytes): WSAPROTOCOL_INFOA with a UTF-16
    szProtocol (two bytes per character on Windows, whatever the host's wchar_t)."""

    _fields_ = [*_PROTOCOL_INFO_FIELDS,
                ("szProtocol", ctypes.c_uint16 * (WSAPROTOCOL_LEN + 1))]


def _thread_id_type(name: str, word: type[ctypes._SimpleCData[int]], doc: str) -> type[ctypes.Structure]:
    return type(name, (ctypes.Structure,), {
        "__doc__": doc, "_fields_": [("ThreadHandle", word), ("Reserved", word)]})


WSATHREADID_LAYOUTS: Final[dict[str, type[ctypes.Structure]]] = {
    abi: _thread_id_type(f"WSATHREADID_{abi}", word, f"WSATHREADID in the {abi} layout.")
    for abi, word in (("x64", ctypes.c_uint64), ("x86", ctypes.c_uint32))
}
"""ws2spi.h's WSATHREADID in each ABI (``HANDLE ThreadHandle; DWORD_PTR Reserved``: two
pointer-sized words, 16 bytes on x64, 8 on x86), for memory in an emulated process's layout."""


class WSATHREADID(ctypes.Structure):
    """ws2spi.h's WSATHREADID in the host's ABI: what WPUOpenCurrentThread fills in and
    WPUQueueApc and WPUCloseThread take (through the native table too, where C sees the same
    bytes).

    ``ThreadHandle``: a thread handle of the table (NULL reads as None, as ctypes has it);
    ``Reserved``: ws2core writes 0 and reads nothing from it.
    """

    _fields_ = [("ThreadHandle", ctypes.c_void_p), ("Reserved", ctypes.c_size_t)]


def _overlapped_type(name: str, word: type[ctypes._SimpleCData[int]], doc: str) -> type[ctypes.Structure]:
    return type(name, (ctypes.Structure,), {
        "__doc__": doc,
        "_fields_": [("Internal", word), ("InternalHigh", word), ("Offset", ctypes.c_uint32),
                     ("OffsetHigh", ctypes.c_uint32), ("hEvent", word)]})


WSAOVERLAPPED_LAYOUTS: Final[dict[str, type[ctypes.Structure]]] = {
    abi: _overlapped_type(f"WSAOVERLAPPED_{abi}", word, f"WSAOVERLAPPED in the {abi} layout.")
    for abi, word in (("x64", ctypes.c_uint64), ("x86", ctypes.c_uint32))
}
"""winsock2.h's WSAOVERLAPPED (the OVERLAPPED of minwinbase.h) in each ABI: ``ULONG_PTR
Internal, InternalHigh``, two DWORDs ``Offset, OffsetHigh`` (a union with a pointer in
OVERLAPPED, the same bytes) and ``HANDLE hEvent``: 32 bytes on x64, 20 on x86."""


class WSAOVERLAPPED(ctypes.Structure):
    """winsock2.h's WSAOVERLAPPED in the host's ABI: what an overlapped WSPSend, WSPRecv,
    WSPSendTo, WSPRecvFrom or WSPIoctl takes, and WSPGetOverlappedResult reads.

    ``hEvent`` is the caller's (a WSAEVENT signalled at completion when no completion routine
    was given; NULL reads as None, as ctypes has it).  The other four fields belong to whoever
    implements the overlapped I/O; HostSocketProvider uses them as the WSAOVERLAPPED page of
    the SAN service provider interface describes (``ws2core.provider.overlapped``):
    ``Internal`` is WSS_OPERATION_IN_PROGRESS (0x103) while the operation is pending and 0
    once it completed, ``InternalHigh`` the byte count, ``Offset`` the flags and
    ``OffsetHigh`` the Winsock error of the completed operation.
    """

    _fields_ = [("Internal", ctypes.c_size_t), ("InternalHigh", ctypes.c_size_t),
                ("Offset", ctypes.c_uint32), ("OffsetHigh", ctypes.c_uint32),
                ("hEvent", ctypes.c_void_p)]


_OVERLAPPED_FIELDS: Final = ("Internal", "InternalHigh", "Offset", "OffsetHigh", "hEvent")


def overlapped_structure(lpOverlapped: Any) -> Any:
    """The WSAOVERLAPPED a call was given (a ctypes pointer's target), or None for NULL.

    Anything without the five fields is a TypeError, raised before the call has any effect.
    """
    if isinstance(lpOverlapped, ctypes._Pointer):
        lpOverlapped = lpOverlapped.contents if lpOverlapped else None
    if lpOverlapped is None:
        return None
    if not all(hasattr(lpOverlapped, name) for name in _OVERLAPPED_FIELDS):
        raise TypeError(
            "lpOverlapped must be a WSAOVERLAPPED (ws2core.structs.WSAOVERLAPPED, a pointer to "
            f"one, or None), not {type(lpOverlapped).__name__}")
    return lpOverlapped


def record_completion(overlapped: Any, error: int, transferred: int) -> None:
    """Record an overlapped operation's outcome in its WSAOVERLAPPED as ws2core uses the
    fields (see WSAOVERLAPPED): the byte count in ``InternalHigh``, the error in
    ``OffsetHigh``, then ``Internal`` 0, last, so that whoever sees the operation complete
    reads its outcome.  ``Offset`` (the flags) is the provider's, written before."""
    overlapped.InternalHigh = transferred
    overlapped.OffsetHigh = error
    overlapped.Internal = 0

# --------------------------------------------------------------------------------------
# sockaddr codecs: Windows SOCKADDR_IN / SOCKADDR_IN6 bytes <-> Python address tuples, ``(host,
# port)`` for AF_INET and ``(host, port, flowinfo, scope_id)`` for AF_INET6, with a numeric host.
# The family is little-endian as every Windows field, the port and flowinfo in network order.
# These only encode and decode; which Winsock error a malformed argument gets is the caller's
# (each WSP function says its own).

SOCKADDR_SIZE: Final[dict[int, int]] = {AF_INET: 16, AF_INET6: 28}
"""Windows address family -> bytes of its sockaddr (SOCKADDR_IN, SOCKADDR_IN6)."""


def sockaddr_family(data: bytes | memoryview) -> int:
    """The address family a sockaddr names in its first field (``u_short sa_family``)."""
    return int.from_bytes(data[0:2], "little")


def pack_sockaddr(family: int, address: tuple[Any, ...]) -> bytes:
    """The Windows SOCKADDR_IN / SOCKADDR_IN6 bytes of an address tuple (a host's IPv6 tuple
    may name its scope after the host, ``"fe80::1%eth0"``: Windows has it in scope_id only)."""
    import socket  # here: the twin reads this module, and `import ws2core` loads no socket

    port: bytes = address[1].to_bytes(2, "big")
    if family == AF_INET:
        packed = socket.inet_pton(socket.AF_INET, address[0])
        return struct.pack("<H", AF_INET) + port + packed + bytes(8)
    host = address[0].split("%", 1)[0]
    packed = socket.inet_pton(socket.AF_INET6, host)
    flowinfo: bytes = address[2].to_bytes(4, "big")
    return struct.pack("<H", AF_INET6) + port + flowinfo + packed + struct.pack("<I", address[3])


def unpack_sockaddr(data: bytes | memoryview) -> tuple[Any, ...]:
    """The address tuple of a SOCKADDR_IN or SOCKADDR_IN6, of the family its first field names.

    ValueError for another family, or fewer bytes than the family's sockaddr.
    """
    import socket  # as in pack_sockaddr

    family = sockaddr_family(data)
    if family not in SOCKADDR_SIZE or len(data) < SOCKADDR_SIZE[family]:
        raise ValueError(f"not a SOCKADDR_IN or SOCKADDR_IN6: family {family}, {len(data)} bytes")
    port = int.from_bytes(data[2:4], "big")
    if family == AF_INET:
        return (socket.inet_ntop(socket.AF_INET, data[4:8]), port)
    flowinfo = int.from_bytes(data[4:8], "big")
    scope_id = int.from_bytes(data[24:28], "little")
    return (socket.inet_ntop(socket.AF_INET6, data[8:24]), port, flowinfo, scope_id)
