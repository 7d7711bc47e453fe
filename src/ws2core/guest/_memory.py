"""Guest memory as the exports read and write it: every bad range is WSAEFAULT.

Each helper checks the whole range before it touches the guest: NULL, a range past the
address space (``Guest.ptr_size``), a byte the guest could not read (for a read) or write
(for a write) as Windows would enforce it (``Guest.readable``/``Guest.writable``: the page's
protection and a loaded image's section, which an emulator's own memory access ignores), or
any byte the emulator refuses is ``WinsockError(WSAEFAULT)``, so nothing from the emulator
escapes an export, nothing is written where the guest could not write, and no guest size
can make the host allocate more than the guest has.  An out-parameter is checked with
``require_writable`` before the call that fills it has any effect, so a failed call loses
nothing.  The guest's structures whose layout depends on its ABI are read here too: fd_sets
through ``ws2core.structs``.
"""

from __future__ import annotations

import functools
import struct
from collections.abc import Callable
from typing import Final

from .._shared import WinsockError
from ..constants import WSAEFAULT
from ..structs import FD_SET_LAYOUTS, FdSetLayout
from ._protocol import Guest, GuestFault

INT32: Final = 0xFFFFFFFF
_PAGE: Final = 0x1000
SOCKADDR_STORAGE: Final = 128  # the largest sockaddr a call reads or writes


def layout(guest: Guest) -> FdSetLayout:
    """The guest's fd_set layout (its SOCKET size and struct code, for handle arrays too)."""
    return FD_SET_LAYOUTS["x64" if guest.ptr_size == 8 else "x86"]


def _check(guest: Guest, address: int, size: int) -> None:
    if address == 0:
        raise WinsockError(WSAEFAULT, "a NULL pointer")
    if size < 0 or address + size > 1 << (8 * guest.ptr_size):
        raise WinsockError(WSAEFAULT, f"{size} bytes at {address:#x} do not fit the address space")


def read(guest: Guest, address: int, size: int) -> bytes:
    """``size`` bytes at ``address`` (none for size 0, whatever the address)."""
    if size == 0:
        return b""
    _check(guest, address, size)
    if not guest.readable(address, size):
        raise WinsockError(WSAEFAULT, f"{size} bytes at {address:#x} are not all readable")
    try:
        return guest.read(address, size)
    except GuestFault:
        raise WinsockError(WSAEFAULT, f"{size} bytes at {address:#x} are not all mapped") from None


def read_string(guest: Guest, address: int, *, limit: int, wide: bool = False,
                reader: Callable[[int, int], bytes] | None = None) -> bytes:
    """The NUL-terminated string at ``address``, without its NUL: at most ``limit``
    characters (a longer one is cut there: the caller says what that means), UTF-16LE bytes
    when ``wide`` (its characters counted from ``address``, whatever a page boundary
    splits).  Read page by page, so that a string ending just before an unmapped page is
    read whole and nothing past its NUL is touched.  ``reader(address, size)``: how to read
    (default: this module's ``read``, WSAEFAULT for a byte the guest could not read; the C
    run-time passes the emulator's own)."""
    if reader is None:
        reader = functools.partial(read, guest)
    unit = 2 if wide else 1
    most = limit * unit
    found = bytearray()
    scanned = 0
    while len(found) < most:
        at = address + len(found)
        found += reader(at, min(_PAGE - at % _PAGE, most - len(found)))
        whole = len(found) - len(found) % unit
        for offset in range(scanned, whole, unit):
            if not any(found[offset:offset + unit]):
                return bytes(found[:offset])
        scanned = whole
    return bytes(found[:most])


def write(guest: Guest, address: int, data: bytes) -> None:
    if not data:
        return
    require_writable(guest, address, len(data))
    try:
        guest.write(address, data)
    except GuestFault:
        raise WinsockError(WSAEFAULT, f"{len(data)} bytes at {address:#x} are not all mapped"
                           ) from None


def require_writable(guest: Guest, address: int, size: int) -> None:
    """WSAEFAULT unless an out-parameter can take ``size`` bytes: checked before any side
    effect, so that a failed call loses nothing (no data received and dropped)."""
    if size == 0:
        return
    _check(guest, address, size)
    if not guest.writable(address, size):
        raise WinsockError(WSAEFAULT, f"{size} bytes at {address:#x} are not writable")


def read_int(guest: Guest, address: int) -> int:
    """The 32-bit signed int at ``address`` (an int or long out-parameter)."""
    value: int = struct.unpack("<i", read(guest, address, 4))[0]
    return value


def write_int(guest: Guest, address: int, value: int) -> None:
    write(guest, address, struct.pack("<I", value & INT32))


def read_fd_set(guest: Guest, address: int) -> bytearray | None:
    """The guest's fd_set at ``address`` (None for NULL), in the guest's layout: fd_count, the
    padding on x64, and fd_count SOCKETs, no more (a program may define a larger
    FD_SETSIZE; Windows reads fd_count entries)."""
    if not address:
        return None
    count = read_int(guest, address) & INT32
    return bytearray(read(guest, address, layout(guest).size(count)))


def write_fd_set(guest: Guest, address: int, fds: bytearray) -> None:
    """Write back a set that select rewrote: its fd_count and its remaining entries."""
    count = int.from_bytes(fds[:4], "little")
    write(guest, address, bytes(fds[: layout(guest).size(count)]))


def read_sockaddr(guest: Guest, name: int, namelen: int) -> bytes:
    """A sockaddr argument's bytes, for the provider to parse with their length."""
    if namelen < 0:
        raise WinsockError(WSAEFAULT, f"namelen {namelen}")
    return read(guest, name, min(namelen, SOCKADDR_STORAGE))
