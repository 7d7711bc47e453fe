"""The x86 ABI (4-byte SOCKETs, the x86 fd_set) and handle ranges, on both cores.

An emulated 32-bit program lays its fd_set out as ``u_int fd_count`` then 4-byte SOCKETs with
no padding, and its INVALID_SOCKET is 2**32 - 1.  An emulator whose own kernel objects live in
part of the 32-bit handle space gives the table a ``handle_range`` to keep out of their way.
"""

from __future__ import annotations

import ctypes
import pickle
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ws2core
from ws2core import INVALID_SOCKET, INVALID_SOCKET_X86, SOCKET_ERROR, WSAENOBUFS, WSAENOTSOCK
from ws2core.structs import FD_SET_LAYOUTS

from support import raises_winsock


def x86_fd_set(count: int, entries: list[int], capacity: int = 64) -> bytearray:
    """An x86 fd_set as a 32-bit program lays it out, built here independently of ws2core."""
    data = bytearray(4 + 4 * capacity)
    struct.pack_into("<I", data, 0, count)
    struct.pack_into(f"<{len(entries)}I", data, 4, *entries)
    return data


class X86FdSet(ctypes.Structure):
    """winsock2.h's fd_set as a 32-bit compiler sees it."""

    _fields_ = [("fd_count", ctypes.c_uint32), ("fd_array", ctypes.c_uint32 * 64)]


# --- the layout


def test_an_x86_fd_set_is_a_count_then_4_byte_sockets(core: Any) -> None:
    fds = core.FdSet([4, 8, 0xFFFFFFF0], abi="x86")
    assert fds.abi == "x86" and fds.capacity == 64
    raw = memoryview(fds).tobytes()
    assert len(raw) == 260 == ctypes.sizeof(X86FdSet)
    assert raw[:16] == struct.pack("<4I", 3, 4, 8, 0xFFFFFFF0)
    assert bytes(fds) == raw[:16]
    assert core.FdSet(capacity=3, abi="x86").capacity == 3
    assert memoryview(core.FdSet(capacity=3, abi="x86")).nbytes == 16
    assert core.FdSet().abi == "x64" and memoryview(core.FdSet()).nbytes == 520


def test_macros_agree_with_a_ctypes_x86_fd_set(core: Any) -> None:
    c_set = X86FdSet()
    for fd in (12, 4, 12, 40):
        core.FD_SET(fd, c_set, abi="x86")
    assert c_set.fd_count == 3 and list(c_set.fd_array[:3]) == [12, 4, 40]
    core.FD_CLR(4, c_set, abi="x86")
    assert c_set.fd_count == 2 and list(c_set.fd_array[:3]) == [12, 40, 40]  # stale copy kept
    assert core.FD_ISSET(40, c_set, abi="x86") == 1
    assert core.FD_ISSET(4, c_set, abi="x86") == 0
    core.FD_ZERO(c_set, abi="x86")
    assert c_set.fd_count == 0 and core.FD_ISSET(12, c_set, abi="x86") == 0


def test_a_bare_buffer_is_read_as_x64_unless_told(core: Any) -> None:
    data = x86_fd_set(3, [8, 12, 16])
    # As x64, 8 sits in the padding and 12 and 16 make one SOCKET: neither 8 nor 12 is there.
    for abi in (None, "x64"):
        assert core.FD_ISSET(8, data, abi=abi) == 0
        assert core.FD_ISSET(12, data, abi=abi) == 0
        assert core.FD_ISSET(16 << 32 | 12, data, abi=abi) == 1
    assert [core.FD_ISSET(fd, data, abi="x86") for fd in (8, 12, 16, 20)] == [1, 1, 1, 0]


def test_an_fd_set_carries_its_layout(core: Any) -> None:
    x86 = core.FdSet([8], abi="x86")
    x64 = core.FdSet([8])
    for fds in (x86, x64):
        assert core.FD_ISSET(8, fds) == 1  # no abi: the set's own
        assert core.FD_ISSET(8, fds, abi=fds.abi) == 1
        other = "x64" if fds.abi == "x86" else "x86"
        with pytest.raises(ValueError, match="abi"):
            core.FD_ISSET(8, fds, abi=other)


@pytest.mark.parametrize("abi", ["x64", "x86"])
def test_fd_sets_have_the_layouts_of_structs(core: Any, abi: str) -> None:
    """Each core's FdSet and FD_* functions agree with ws2core.structs.FD_SET_LAYOUTS, which
    every Python layer reads (the Cython core knows the layouts in C, the twin reads them)."""
    layout = FD_SET_LAYOUTS[abi]
    for capacity in (1, 3, 64):
        assert memoryview(core.FdSet(capacity=capacity, abi=abi)).nbytes == layout.size(capacity)
        assert layout.capacity(layout.size(capacity)) == capacity
    members = [4, 8, 0xFFFFFFF0]
    fds = core.FdSet(members, capacity=5, abi=abi)
    raw = memoryview(fds).tobytes()
    assert raw == layout.pack(members) + bytes(layout.size(5) - layout.size(3))
    assert bytes(fds) == layout.pack(members)
    for i, fd in enumerate(members):
        entry = raw[layout.offset(i):layout.offset(i) + layout.socket_size]
        assert int.from_bytes(entry, "little") == fd
    # The other way: sets packed by the layout are read by the core, as buffers and as ctypes.
    assert list(core.FdSet.from_buffer(layout.pack(members), abi=abi)) == members
    c_set = layout.ctypes_type(5)()
    assert ctypes.sizeof(c_set) == layout.size(5)
    for fd in members:
        core.FD_SET(fd, c_set, abi=abi)
    assert bytes(c_set)[:layout.size(3)] == layout.pack(members)
    assert [core.FD_ISSET(fd, c_set, abi=abi) for fd in (8, 12)] == [1, 0]


@pytest.mark.parametrize("value", [2**32, 2**32 + 8, 2**63, INVALID_SOCKET, -1])
def test_a_value_no_x86_socket_holds_is_never_a_member(core: Any, value: int) -> None:
    # 2**32 + 8 truncated to 32 bits would be 8, which is in the set: it must not match.
    data = x86_fd_set(2, [8, 0xFFFFFFFF])
    assert core.FD_ISSET(value, data, abi="x86") == 0
    before = bytes(data)
    core.FD_CLR(value, data, abi="x86")
    assert bytes(data) == before
    with pytest.raises(ValueError, match=r"2\*\*32-1"):
        core.FD_SET(value, data, abi="x86")
    assert bytes(data) == before
    fds = core.FdSet([8], abi="x86")
    with pytest.raises(ValueError, match=r"2\*\*32-1"):
        fds.add(value)
    with pytest.raises(ValueError):
        core.FdSet([8, value], abi="x86")
    assert value not in fds
    assert fds.contains_each([value, 8]) == [False, True]


def test_the_largest_x86_socket_value_fits(core: Any) -> None:
    fds = core.FdSet([INVALID_SOCKET_X86], abi="x86")
    assert INVALID_SOCKET_X86 in fds and list(fds) == [2**32 - 1]


def test_x86_bounds_are_checked_against_the_4_byte_layout(core: Any) -> None:
    assert core.FD_ISSET(4, bytes(4), abi="x86") == 0  # the header alone: an empty set
    with pytest.raises(ValueError, match="x64 fd_set buffer needs at least 8 bytes"):
        core.FD_ISSET(4, bytes(4))
    with pytest.raises(ValueError, match="x86 fd_set buffer needs at least 4 bytes"):
        core.FD_ISSET(4, bytes(3), abi="x86")
    # 3 entries claimed, room for 2: nothing past the buffer is read
    with pytest.raises(ValueError, match="fd_count 3 exceeds the 2 SOCKETs"):
        core.FD_ISSET(4, x86_fd_set(3, [4, 8], capacity=2), abi="x86")
    full = x86_fd_set(2, [4, 8], capacity=2)
    core.FD_SET(12, full, abi="x86")  # full: silently nothing, as the macro
    assert full == x86_fd_set(2, [4, 8], capacity=2)


def test_x86_sets_copy_pickle_and_compare(core: Any) -> None:
    fds = core.FdSet([4, 8, 12], capacity=5, abi="x86")
    copy = core.FdSet.from_buffer(x86_fd_set(3, [4, 8, 12], capacity=5), abi="x86")
    assert copy == fds and copy.capacity == 5 and copy.abi == "x86"
    assert repr(fds) == "FdSet([4, 8, 12], capacity=5, abi='x86')"
    again = pickle.loads(pickle.dumps(fds))
    assert again == fds and again.abi == "x86" and again.capacity == 5
    assert memoryview(again).tobytes() == memoryview(fds).tobytes()
    # Equality is by entries, whatever the layout.
    assert core.FdSet([4, 8, 12]) == fds
    assert core.FdSet.from_buffer(fds).abi == "x86"  # an FdSet is copied in its own layout
    with pytest.raises(ValueError, match="x64"):  # bare bytes are x64 unless told: 3 can't fit
        core.FdSet.from_buffer(bytes(fds))
    assert list(core.FdSet.from_buffer(bytes(fds), abi="x86")) == [4, 8, 12]


# --- the table's ABI


def test_wpufdisset_reads_the_layout_of_its_tables_abi(core: Any) -> None:
    up86 = ws2core.UpcallTable(core.HandleTable(abi="x86"))
    up64 = ws2core.UpcallTable(core.HandleTable())
    s = up86.table.create_socket(1)
    data = x86_fd_set(3, [s + 4, s + 8, s])
    assert up86.WPUFDIsSet(s, data) == 1
    assert up64.WPUFDIsSet(s, data) == 0  # x64 sees (s << 32 | s + 8), then zeros
    assert up64.WPUFDIsSet((s << 32) | (s + 8), data) == 1
    # An FdSet is read in its own layout by either table.
    assert up86.WPUFDIsSet(s, core.FdSet([s])) == 1
    assert up64.WPUFDIsSet(s, core.FdSet([s], abi="x86")) == 1


def test_a_full_x86_table_fails_with_the_x86_invalid_socket(core: Any) -> None:
    for abi, invalid in (("x86", INVALID_SOCKET_X86), ("x64", INVALID_SOCKET)):
        up = ws2core.UpcallTable(max_handles=1, abi=abi)
        err = ws2core.Ref(-1)
        assert up.WPUCreateSocketHandle(1, None, err) == 4
        assert err.value == -1
        assert up.WPUCreateSocketHandle(1, None, err) == invalid
        assert err.value == WSAENOBUFS
        assert up.table.abi == abi


def test_upcall_table_passes_the_options_through(core: Any) -> None:
    up = ws2core.UpcallTable(max_handles=3, handle_range=(0x4000, 0x4FFC), abi="x86")
    assert (up.table.max_handles, up.table.abi) == (3, "x86")
    assert up.table.handle_range == (0x4000, 0x4000 + 4 * (3 + up.table.reuse_delay - 1))
    with pytest.raises(TypeError, match="abi"):
        ws2core.UpcallTable(up.table, abi="x86")
    with pytest.raises(TypeError, match="handle_range"):
        ws2core.UpcallTable(up.table, handle_range=None)


def test_bounds_and_abi_cannot_change_under_a_table(core: Any) -> None:
    table = core.HandleTable(max_handles=4, handle_range=(0x100, 0x1FC), abi="x86")
    s = table.create_socket(1, "kept")
    table.__init__(max_handles=4, handle_range=(0x100, 0x1FC), abi="x86")  # the same: no change
    for changed in ({"max_handles": 5}, {"handle_range": (0x200, 0x2FC)}, {"abi": "x64"}):
        options: dict[str, Any] = {"max_handles": 4, "handle_range": (0x100, 0x1FC), "abi": "x86"}
        with pytest.raises(RuntimeError):
            table.__init__(**{**options, **changed})
    assert table.context(s) == "kept" and table.abi == "x86" and table.max_handles == 4


# --- handle ranges


def test_repr_names_a_constraining_range_and_the_x86_abi(core: Any) -> None:
    assert repr(core.HandleTable(max_handles=8)) == "<HandleTable 0 sockets, 0 events, max 8>"
    ranged = core.HandleTable(max_handles=2, handle_range=(4, 16), abi="x86")
    assert repr(ranged) == "<HandleTable 0 sockets, 0 events, max 2, handles 0x4..0x10, x86>"
    moved = core.HandleTable(max_handles=8, handle_range=(0x1000, 2**32 - 4))
    assert repr(moved).endswith(f"max 8, handles 0x1000..{0x1000 + 4 * (8 + 65536 - 1):#x}>")


def test_values_start_at_the_first_of_the_range(core: Any) -> None:
    table = core.HandleTable(handle_range=(0x10000, 0x1FFFC))
    s = table.create_socket(1)
    e = table.create_event()
    assert (s, e) == (0x10000, 0x10004)
    assert table.kind(e | 3) == "event"
    for below in (0, 4, 0xFFFC, 0xFFFF):
        assert table.kind(below) is None
        raises_winsock(WSAENOTSOCK, table.context, below)
    up = ws2core.UpcallTable(table)
    err = ws2core.Ref(-1)
    assert up.WPUCloseSocketHandle(0xFFFC, err) == SOCKET_ERROR and err.value == WSAENOTSOCK


def test_a_small_range_shrinks_the_quarantine_to_what_is_left(core: Any) -> None:
    table = core.HandleTable(max_handles=4, handle_range=(0x100, 0x100 + 4 * 9))  # ten values
    assert table.reuse_delay == 6
    assert table.handle_range == (0x100, 0x124)
    live = [table.create_socket(1) for _ in range(4)]
    closed = live.pop(0)
    table.close_socket(closed)
    # Six creations go by (fresh values, each closed again at once) before `closed` is due.
    for _ in range(6):
        fresh = table.create_socket(1)
        assert fresh != closed and 0x100 <= fresh <= 0x124
        table.close_socket(fresh)
    assert table.create_socket(1) == closed


def test_default_max_handles_leaves_half_a_small_range_to_the_quarantine(core: Any) -> None:
    table = core.HandleTable(handle_range=(4, 4 * 1000))  # 1,000 values
    assert (table.max_handles, table.reuse_delay) == (500, 500)
    assert core.HandleTable(handle_range=(4, 4)).max_handles == 1
    assert core.HandleTable(handle_range=(4, 4)).reuse_delay == 0
    big = core.HandleTable()
    assert (big.max_handles, big.reuse_delay) == (core.DEFAULT_MAX_HANDLES, core.REUSE_DELAY)
    assert big.handle_range == (4, 4 * (core.DEFAULT_MAX_HANDLES + core.REUSE_DELAY))


def test_a_range_at_the_top_of_the_32_bit_space(core: Any) -> None:
    table = core.HandleTable(max_handles=2, handle_range=(2**32 - 16, 2**32 - 4))
    made = [table.create_event() for _ in range(2)]
    assert made == [2**32 - 16, 2**32 - 12]
    raises_winsock(ws2core.WSA_NOT_ENOUGH_MEMORY, table.create_event)
    for e in made:
        table.close_event(e)
    assert sorted(table.create_event() for _ in range(2)) == [2**32 - 8, 2**32 - 4]
    assert all(h < 2**32 and h != INVALID_SOCKET_X86 for h in table)


@settings(max_examples=60, deadline=None)
@given(
    max_handles=st.integers(1, 6),
    extra=st.integers(0, 10),
    first=st.integers(1, 2**30 - 32).map(lambda k: 4 * k),
    steps=st.lists(st.tuples(st.booleans(), st.integers(0, 5)), max_size=150),
)
def test_ranged_tables_keep_their_promises(core: Any, max_handles: int, extra: int, first: int,
                                           steps: list[tuple[bool, int]]) -> None:
    """Whatever the order of creates and closes: every value lies in the range, no value is
    live twice, a closed value stays out for reuse_delay creations, and creation only fails
    when max_handles are live."""
    last = first + 4 * (max_handles + extra - 1)
    table = core.HandleTable(max_handles=max_handles, handle_range=(first, last))
    delay = table.reuse_delay
    assert delay == min(core.REUSE_DELAY, max_handles + extra - max_handles)
    live: list[int] = []
    closed_at: dict[int, int] = {}  # value -> creations when it was closed
    creations = 0
    for create, pick in steps:
        if create:
            if len(live) == max_handles:
                raises_winsock(WSAENOBUFS, table.create_socket, 1)
                continue
            h = table.create_socket(1)
            assert first <= h <= last and h % 4 == 0 and h not in live
            if h in closed_at:
                assert creations - closed_at.pop(h) >= delay
            creations += 1
            live.append(h)
        elif live:
            h = live.pop(pick % len(live))
            table.close_socket(h)
            closed_at[h] = creations
    assert sorted(table) == sorted(live)
