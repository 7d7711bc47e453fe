"""Windows structures, described once, for every layer that reads or writes them.

The fd_set layouts of the two ABIs a process can have (winsock2.h): ``u_int fd_count``, then
``SOCKET fd_array[]``, the count padded to the SOCKETs' alignment.  On x64 that is 4 bytes of
padding before 8-byte SOCKETs, on x86 none before 4-byte ones, so in both the header is one
SOCKET wide and entry ``i`` starts at ``socket_size * (i + 1)``.  The Cython core knows the
same layouts in C (its tests check that the two agree); everything written in Python reads
them here.
"""

from __future__ import annotations

import ctypes
import struct
from typing import NamedTuple


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
        header = struct.pack(f"<I{self.socket_size - 4}x", len(sockets))
        return header + struct.pack(f"<{len(sockets)}{self.socket_code}", *sockets)

    def pack_into(self, buffer: memoryview, sockets: list[int] | tuple[int, ...]) -> None:
        """Rewrite fd_count and the first entries of ``buffer`` (padding and the rest untouched)."""
        struct.pack_into("<I", buffer, 0, len(sockets))
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
