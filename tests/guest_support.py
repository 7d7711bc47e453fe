"""A fake emulated process for the guest layer's tests: ``ws2core.guest.Guest`` over paged
memory, and a caller that runs an export as an emulator adapter's hook would.

A plain module beside the tests (``from guest_support import ...``), so that every emulator
adapter's tests can drive the same exports without that emulator: memory is a set of mapped
pages, and any access that touches an unmapped byte raises ``GuestFault`` (an adapter turns
its emulator's own fault into that); guest threads are switched by assigning ``thread``, and
the argument slots of the call being served (what ``arguments`` reads) by assigning
``call_arguments``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence
from types import ModuleType
from typing import Any

import pytest

import ws2core
from ws2core.constants import AF_INET, SOCK_STREAM
from ws2core.guest import EXPORTS, Exports, GuestFault
from ws2core.ws2_32 import Ws2_32

PAGE = 0x1000
HEAP = 0x10000      # where FakeGuest.alloc starts handing out guest memory
EXPORTS_AT = 0x7FF00000   # where FakeGuest.export_address places exports (never mapped)


class FakeThread:
    """A guest thread: its id and its Win32 last error."""

    _next_id = 4

    def __init__(self) -> None:
        self.last_error = 0
        self.tid = FakeThread._next_id
        FakeThread._next_id += 4


class FakeGuest:
    """A ``ws2core.guest.Guest``: paged memory and the current guest thread."""

    def __init__(self, ptr_size: int) -> None:
        self.ptr_size = ptr_size
        self.pages: dict[int, bytearray] = {}
        # Pages the guest may not read or write, as VirtualProtect (or a loaded image's
        # section) says: an emulator's own memory access ignores them, as unicorn's host-side
        # access does, so only ``readable``/``writable`` tell.
        self.unreadable: set[int] = set()
        self.read_only: set[int] = set()
        self.next_free = HEAP
        self.thread = FakeThread()
        self.call_arguments: list[int] = []   # the served call's argument slots: arguments()
        self.allocated: dict[int, int] = {}   # allocate()'s blocks still held: address -> size
        self.export_addresses: dict[tuple[str, str], int] = {}   # export_address()'s
        self.exports_have_addresses = True

    # the memory, as the tests set it up

    def alloc(self, data: bytes | int) -> int:
        """Map fresh pages holding ``data`` (or that many zero bytes); the address of the
        first byte.  The page after the block is left unmapped, so the block's end is a
        fault boundary."""
        content = bytes(data)
        pages = max(1, -(-len(content) // PAGE))
        address = self.next_free
        for n in range(pages):
            self.pages[address + n * PAGE] = bytearray(PAGE)
        self.next_free += (pages + 1) * PAGE
        self.mem_write(address, content)
        return address

    def protect(self, address: int, size: int, *, read: bool = True, write: bool = False) -> None:
        """Give the pages of ``address``..``address + size`` a protection: read-only by
        default (PAGE_READONLY), ``read=False`` for no access (PAGE_NOACCESS)."""
        for page in range(address - address % PAGE, address + size, PAGE):
            (self.read_only.add if not write else self.read_only.discard)(page)
            (self.unreadable.discard if read else self.unreadable.add)(page)

    def alloc_at_end(self, data: bytes) -> int:
        """``data`` placed so that its last byte is the last mapped byte."""
        base = self.alloc(-(-len(data) // PAGE) * PAGE)
        address = base + (-len(data)) % PAGE
        self.mem_write(address, data)
        return address

    def fault(self, address: int, write: bool) -> Exception:
        """What an access to unmapped ``address`` raises (an emulator's stand-in: its own)."""
        return GuestFault(f"{address:#x} is not mapped")

    def _span(self, address: int, size: int,
              write: bool = False) -> Iterator[tuple[bytearray, int, int]]:
        end = address + size
        while address < end:
            page = self.pages.get(address - address % PAGE)
            if page is None:
                raise self.fault(address, write)
            offset = address % PAGE
            count = min(PAGE - offset, end - address)
            yield page, offset, count
            address += count

    def mem_read(self, address: int, size: int) -> bytearray:
        out = bytearray()
        for page, offset, count in self._span(address, size):
            out += page[offset : offset + count]
        return out

    def mem_write(self, address: int, data: bytes) -> None:
        spans = list(self._span(address, len(data), True))  # all mapped, or nothing written
        done = 0
        for page, offset, count in spans:
            page[offset : offset + count] = data[done : done + count]
            done += count

    def read_int(self, address: int) -> int:
        value: int = struct.unpack("<i", self.mem_read(address, 4))[0]
        return value

    # the Guest protocol

    def read(self, address: int, size: int) -> bytes:
        return bytes(self.mem_read(address, size))

    def write(self, address: int, data: bytes) -> None:
        self.mem_write(address, data)

    def readable(self, address: int, size: int) -> bool:
        return self._allowed(address, size, self.unreadable)

    def writable(self, address: int, size: int) -> bool:
        return self._allowed(address, size, self.read_only | self.unreadable)

    def _allowed(self, address: int, size: int, refused: set[int]) -> bool:
        try:
            spans = list(self._span(address, size))
        except GuestFault:
            return False
        first = address - address % PAGE  # each span is one page, in order
        return all(first + n * PAGE not in refused for n in range(len(spans)))

    def allocate(self, size: int) -> int:
        address = self.alloc(size)
        self.allocated[address] = size
        return address

    def release(self, address: int) -> None:
        size = self.allocated.pop(address, None)
        if size is not None:
            for n in range(max(1, -(-size // PAGE))):
                del self.pages[address + n * PAGE]

    def thread_id(self) -> int:
        return self.thread.tid

    def get_last_error(self) -> int:
        return self.thread.last_error

    def set_last_error(self, code: int) -> None:
        self.thread.last_error = code

    def arguments(self, count: int) -> Sequence[int]:
        """The first ``count`` of ``call_arguments``; more is a GuestFault, as reading past
        the mapped stack would be."""
        if count > len(self.call_arguments):
            raise GuestFault(f"argument slot {len(self.call_arguments)} is past the stack")
        return self.call_arguments[:count]

    runs_functions = False

    def run_function(self, address: int, args: Sequence[int]) -> int:
        raise NotImplementedError("FakeGuest runs no guest code")

    def is_current_thread(self, handle: int) -> bool:
        return handle & ((1 << (8 * self.ptr_size)) - 1) == (-2) & ((1 << (8 * self.ptr_size)) - 1)

    def export_address(self, dll: str, name: str) -> int | None:
        """An address of its own for each export asked for, the same each time (None for
        every one once ``exports_have_addresses`` is False: an emulator that cannot);
        ``Caller.call_address`` calls the export found there."""
        if not self.exports_have_addresses:
            return None
        key = (dll.lower(), name)
        if key not in self.export_addresses:
            self.export_addresses[key] = EXPORTS_AT + 16 * len(self.export_addresses)
        return self.export_addresses[key]


class Caller:
    """One guest served by ``exports``: call an export by name with raw argument values."""

    def __init__(self, exports: Exports, emu: FakeGuest) -> None:
        self.exports = exports
        self.ws2_32 = exports.ws2_32
        self.emu = emu
        self.ptr_size = emu.ptr_size
        self.invalid_socket = (1 << (8 * self.ptr_size)) - 1
        self._hooks = {export.name: exports.hook(export) for export in EXPORTS}

    def __call__(self, name: str, *args: int) -> Any:
        return self._hooks[name](self.emu, list(args))

    def call_address(self, address: int, *args: int) -> Any:
        """Call the export whose address ``FakeGuest.export_address`` gave as ``address``, as
        the guest's call through a function pointer reaches its hook."""
        names = {at: name for (_, name), at in self.emu.export_addresses.items()}
        return self._hooks[names[address]](self.emu, list(args))

    @property
    def last_error(self) -> int:
        return self.emu.thread.last_error

    def fails(self, code: int, name: str, *args: int) -> None:
        """The call returns its failure value and sets exactly ``code`` as the last error."""
        self.emu.thread.last_error = 0
        result = self(name, *args)
        assert (result, ws2core.errorname(self.last_error)) == (
            failure_value(name, self.ptr_size), ws2core.errorname(code))

    def sockaddr(self, port: int = 0) -> int:
        loopback = bytes([127, 0, 0, 1])
        return self.emu.alloc(struct.pack("<HH4s8x", AF_INET, socket_port(port), loopback))

    def fd_set(self, *handles: int, count: int | None = None) -> int:
        """An fd_set in the guest's layout, with room for 64 entries."""
        return self.emu.alloc(fd_set_bytes(self.ptr_size, handles, count))

    def read_fd_set(self, address: int) -> list[int]:
        count = self.emu.read_int(address)
        header = 8 if self.ptr_size == 8 else 4
        data = self.emu.mem_read(address + header, count * self.ptr_size)
        return list(struct.unpack(f"<{count}{'Q' if self.ptr_size == 8 else 'I'}", data))

    def pointers(self, *values: int) -> int:
        kind = "Q" if self.ptr_size == 8 else "I"
        return self.emu.alloc(struct.pack(f"<{len(values)}{kind}", *values))

    def started(self) -> Caller:
        assert self("WSAStartup", 0x0202, self.emu.alloc(512)) == 0
        return self


def open_socket(g: Caller) -> int:
    s = g("socket", AF_INET, SOCK_STREAM, 0)
    assert s != g.invalid_socket, ws2core.errorname(g.last_error)
    return int(s)


def listener(g: Caller) -> tuple[int, int]:
    """A listening socket and the guest address of its sockaddr (port filled in)."""
    s = open_socket(g)
    name = g.sockaddr(0)
    assert g("bind", s, name, 16) == 0
    length = g.emu.alloc(struct.pack("<i", 16))
    assert g("getsockname", s, name, length) == 0
    assert g("listen", s, 5) == 0
    return s, name


def socket_port(port: int) -> int:
    return int.from_bytes(port.to_bytes(2, "big"), "little")  # sin_port is big-endian


def fd_set_bytes(ptr_size: int, handles: tuple[int, ...], count: int | None = None) -> bytes:
    header = struct.pack("<I4x", len(handles) if count is None else count) if ptr_size == 8 else \
        struct.pack("<I", len(handles) if count is None else count)
    entries = b"".join(h.to_bytes(ptr_size, "little") for h in handles)
    return header + entries.ljust(64 * ptr_size, b"\0")


def failure_value(name: str, ptr_size: int) -> int:
    """The documented failure result of each export, masked as the guest's register gets it."""
    if name in ("socket", "accept", "WSASocketA", "WSASocketW"):
        return (1 << (8 * ptr_size)) - 1            # INVALID_SOCKET
    if name in ("WSASetEvent", "WSAResetEvent", "WSACloseEvent", "WSACreateEvent", "__WSAFDIsSet",
                "SetEvent", "ResetEvent", "CloseHandle", "ReadFile", "WriteFile",
                "WSAGetOverlappedResult", "CreateIoCompletionPort", "GetQueuedCompletionStatus",
                "GetQueuedCompletionStatusEx", "PostQueuedCompletionStatus", "AcceptEx",
                "ConnectEx", "DisconnectEx"):
        return 0                                     # FALSE, NULL, WSA_INVALID_EVENT, not set
    if name in ("gethostbyname", "gethostbyaddr"):
        return 0                                     # a NULL hostent
    return 0xFFFFFFFF                                # SOCKET_ERROR as an int, WSA_WAIT_FAILED


# Fixtures shared by the guest layer's tests and each adapter's: import them by name.
ABIS = ["x64", "x86"]


@pytest.fixture(params=ABIS)
def abi(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def guest_table(ws2core_core: ModuleType, abi: str) -> ws2core.UpcallTable:
    """An UpcallTable over the core under test, in the guest's ABI."""
    return ws2core.UpcallTable(ws2core_core.HandleTable(abi=abi))


def served(table: ws2core.UpcallTable, *, max_block: float | None = 10.0) -> Caller:
    """A fresh guest of the table's ABI, its exports served by a new Ws2_32 over ``table``."""
    emu = FakeGuest(8 if table.table.abi == "x64" else 4)
    return Caller(Exports(Ws2_32(table), max_block=max_block), emu)


@pytest.fixture
def caller(guest_table: ws2core.UpcallTable) -> Iterator[Caller]:
    """``served(guest_table, max_block=5.0)``, its Ws2_32 closed at the end of the test."""
    guest = served(guest_table, max_block=5.0)
    yield guest
    guest.ws2_32.close()
