"""fd_set: the Windows x64 layout, ``FdSet``, and FD_SET / FD_CLR / FD_ZERO / FD_ISSET / WPUFDIsSet.

What DESIGN.md §1 "fd_set" and §2 (``FdSet``) promise, with SPEC.md §13 behind them:

- the layout byte for byte: ``u_int fd_count`` (little-endian), 4 padding bytes, then
  ``SOCKET fd_array[capacity]`` as 8-byte little-endian values; 520 bytes for 64 entries and
  ``8 + 8 * capacity`` in general (capacities 1, 64 and 1024 included);
- the macros' exact semantics on every kind of buffer a provider may hand over (an
  ``FdSet``, a bytearray, a memoryview, an unaligned memoryview, a ctypes Structure; read-only
  bytes for FD_ISSET): FD_SET appends when absent and not full and is silent when full,
  FD_CLR removes the first occurrence keeping order and leaves the stale last slot as it was,
  FD_ZERO clears fd_count only, FD_ISSET / WPUFDIsSet return 1 or 0 scanning only the first
  fd_count entries; duplicates in a foreign set; INVALID_SOCKET as a member; the padding is
  neither read nor written;
- values no SOCKET can hold (negative, 2**64 and above) are never members and FD_SET refuses
  them; wrong types, read-only and non-contiguous buffers are TypeErrors; buffers shorter
  than 8 bytes and an fd_count above the capacity are ValueErrors, and nothing is read past
  the buffer;
- the Pythonic ``FdSet``: constructor, ``add`` / ``discard`` / ``clear`` / ``in`` / ``len`` /
  iteration, ``capacity``, equality, unhashable, ``repr``, ``bytes()``, ``from_buffer``; a
  ctypes Structure and an ``FdSet`` sharing memory see each other's changes.

Every test runs once per core (the ``core`` fixture and the fixtures derived from it).
"""

from __future__ import annotations

import ctypes
import struct
from array import array
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from ws2core.constants import FD_SETSIZE, INVALID_SOCKET

CAP = 4  #: capacity of most sets below: small enough to fill
PAD = 0xA5A5A5A5  #: padding of foreign sets: the macros must ignore it and leave it alone
UNREPRESENTABLE = [-1, -4, 2**64, 2**64 + 4, 2**100]  #: values no SOCKET can hold


class Index:
    """An int-like that is not an int (handle arguments accept anything with ``__index__``)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value


def layout(entries: Iterable[int] = (), count: int | None = None, capacity: int = CAP, pad: int = 0) -> bytes:
    """The Windows x64 bytes of an fd_set.

    ``entries`` fill fd_array from slot 0 (they may run past ``count``: stale slots); the rest
    of the array is zero.  ``count`` (fd_count) defaults to ``len(entries)``.
    """
    entries = list(entries)
    if count is None:
        count = len(entries)
    return struct.pack(f"<II{capacity}Q", count, pad, *entries, *[0] * (capacity - len(entries)))


def raw(buf: Any) -> bytes:
    """Every byte of a buffer: for an FdSet its whole capacity, not just ``bytes(fds)``."""
    with memoryview(buf) as view:
        return view.tobytes()


def poke(buf: Any, data: bytes, offset: int = 0) -> None:
    """Write ``data`` into ``buf`` through the buffer protocol, as a foreign writer would."""
    with memoryview(buf) as view, view.cast("B") as octets:
        octets[offset : offset + len(data)] = data


def fd_set_struct(capacity: int) -> Any:
    """A C ``fd_set`` as a ctypes Structure; the 4 padding bytes come from alignment."""
    return type(
        f"fd_set_{capacity}",
        (ctypes.Structure,),
        {"_fields_": [("fd_count", ctypes.c_uint), ("fd_array", ctypes.c_uint64 * capacity)]},
    )


def test_ctypes_model_of_the_layout() -> None:
    """The helpers agree with the C layout this file checks everything against."""
    assert ctypes.sizeof(fd_set_struct(FD_SETSIZE)) == 520 == len(layout(capacity=64))
    assert fd_set_struct(FD_SETSIZE).fd_array.offset == 8


# --- the kinds of buffer a provider may pass as an fd_set ---------------------------------


def _fdset(FdSet: Any, data: bytes) -> Any:
    fds = FdSet(capacity=(len(data) - 8) // 8)
    poke(fds, data)  # a foreign writer may put anything there: stale slots, padding
    return fds


def _unaligned(data: bytes) -> memoryview:
    view = memoryview(bytearray(len(data) + 1))[1:]  # fd_array no longer 8-byte aligned
    view[:] = data
    return view


WRITABLE: dict[str, Callable[[Any, bytes], Any]] = {
    "FdSet": _fdset,
    "bytearray": lambda FdSet, data: bytearray(data),
    "memoryview": lambda FdSet, data: memoryview(bytearray(data)),
    "unaligned memoryview": lambda FdSet, data: _unaligned(data),
    "ctypes Structure": lambda FdSet, data: fd_set_struct((len(data) - 8) // 8).from_buffer_copy(data),
}
READ_ONLY: dict[str, Callable[[Any, bytes], Any]] = {
    "bytes": lambda FdSet, data: bytes(data),
    "read-only memoryview": lambda FdSet, data: memoryview(bytearray(data)).toreadonly(),
}


@pytest.fixture(params=list(WRITABLE))
def writable(request: pytest.FixtureRequest, FdSet: Any) -> Callable[[bytes], Any]:
    """Build a writable fd_set of one kind from its Windows bytes."""
    make = WRITABLE[request.param]
    return lambda data: make(FdSet, data)


@pytest.fixture(params=list(WRITABLE) + list(READ_ONLY))
def readable(request: pytest.FixtureRequest, FdSet: Any) -> Callable[[bytes], Any]:
    """Build an fd_set of any kind, read-only ones included, from its Windows bytes."""
    make = {**WRITABLE, **READ_ONLY}[request.param]
    return lambda data: make(FdSet, data)


@pytest.fixture(params=["FD_ISSET", "HotUpcalls.WPUFDIsSet", "UpcallTable.WPUFDIsSet", "UpcallTable.lpWPUFDIsSet"])
def is_set(request: pytest.FixtureRequest, core: Any, upcalls: Any) -> Callable[[Any, Any], Any]:
    """A membership test with FD_ISSET's argument order: (fd, set)."""
    return {
        "FD_ISSET": core.FD_ISSET,
        "HotUpcalls.WPUFDIsSet": core.HotUpcalls(upcalls.table).WPUFDIsSet,
        "UpcallTable.WPUFDIsSet": upcalls.WPUFDIsSet,
        "UpcallTable.lpWPUFDIsSet": upcalls.lpWPUFDIsSet,
    }[request.param]


def call_macro(core: Any, macro: str, fd: Any, fds: Any) -> Any:
    return core.FD_ZERO(fds) if macro == "FD_ZERO" else getattr(core, macro)(fd, fds)


# --- the macros ----------------------------------------------------------------------------

# (macro, fd, (entries, fd_count) before, (entries, fd_count) after), capacity CAP = 4.
# Entries past fd_count are stale slots; the "after" column pins every byte of fd_array.
MACRO_CASES = [
    ("FD_SET", 12, ([4, 8], 2), ([4, 8, 12], 3), "FD_SET appends"),
    ("FD_SET", 4, ([], 0), ([4], 1), "FD_SET into an empty set"),
    ("FD_SET", 0, ([4], 1), ([4, 0], 2), "FD_SET socket 0"),
    ("FD_SET", INVALID_SOCKET, ([4], 1), ([4, INVALID_SOCKET], 2), "FD_SET INVALID_SOCKET"),
    ("FD_SET", 2**64 - 4, ([4], 1), ([4, 2**64 - 4], 2), "FD_SET a 64-bit value"),
    ("FD_SET", 8, ([4, 8], 2), ([4, 8], 2), "FD_SET of a member changes nothing"),
    ("FD_SET", 8, ([4, 8, 12, 16], 4), ([4, 8, 12, 16], 4), "FD_SET of a member of a full set"),
    ("FD_SET", 20, ([4, 8, 12, 16], 4), ([4, 8, 12, 16], 4), "FD_SET on a full set is silent"),
    ("FD_SET", 8, ([4, 12, 8], 1), ([4, 8, 8], 2), "FD_SET ignores a stale copy past fd_count"),
    ("FD_SET", 12, ([4, 9, 9, 9], 1), ([4, 12, 9, 9], 2), "FD_SET writes slot fd_count only"),
    ("FD_SET", 4, ([4, 4], 2), ([4, 4], 2), "FD_SET into a set holding duplicates"),
    ("FD_SET", 2**32 + 4, ([4], 1), ([4, 2**32 + 4], 2), "FD_SET compares all 64 bits"),
    ("FD_CLR", 4, ([4, 8, 12], 3), ([8, 12, 12], 2), "FD_CLR the first entry"),
    ("FD_CLR", 8, ([4, 8, 12], 3), ([4, 12, 12], 2), "FD_CLR a middle entry"),
    ("FD_CLR", 12, ([4, 8, 12], 3), ([4, 8, 12], 2), "FD_CLR the last entry leaves its slot"),
    ("FD_CLR", 4, ([4], 1), ([4], 0), "FD_CLR the only entry"),
    ("FD_CLR", 4, ([4, 8, 12, 16], 4), ([8, 12, 16, 16], 3), "FD_CLR on a full set"),
    ("FD_CLR", 4, ([4, 8, 4, 12], 4), ([8, 4, 12, 12], 3), "FD_CLR removes the first duplicate only"),
    ("FD_CLR", INVALID_SOCKET, ([INVALID_SOCKET, 4], 2), ([4, 4], 1), "FD_CLR INVALID_SOCKET"),
    ("FD_CLR", 16, ([4, 8], 2), ([4, 8], 2), "FD_CLR of a non-member is a no-op"),
    ("FD_CLR", 8, ([4, 8], 1), ([4, 8], 1), "FD_CLR ignores a stale copy past fd_count"),
    ("FD_CLR", 4, ([], 0), ([], 0), "FD_CLR on an empty set"),
    ("FD_CLR", 4, ([2**32 + 4], 1), ([2**32 + 4], 1), "FD_CLR compares all 64 bits"),
    ("FD_CLR", -1, ([4, INVALID_SOCKET], 2), ([4, INVALID_SOCKET], 2), "FD_CLR -1 is not INVALID_SOCKET"),
    ("FD_CLR", -4, ([4, 2**64 - 4], 2), ([4, 2**64 - 4], 2), "FD_CLR -4 is not 2**64-4"),
    ("FD_CLR", 2**64, ([0, 4], 2), ([0, 4], 2), "FD_CLR 2**64 is not 0"),
    ("FD_CLR", 2**64 + 4, ([0, 4], 2), ([0, 4], 2), "FD_CLR 2**64+4 is not 4"),
    ("FD_ZERO", None, ([4, 8, 12], 3), ([4, 8, 12], 0), "FD_ZERO clears fd_count only"),
    ("FD_ZERO", None, ([4, 8, 12, 16], 4), ([4, 8, 12, 16], 0), "FD_ZERO on a full set"),
    ("FD_ZERO", None, ([], 0), ([], 0), "FD_ZERO on an empty set"),
]


@pytest.mark.parametrize(
    ("macro", "fd", "before", "after"),
    [pytest.param(*case[:4], id=case[4]) for case in MACRO_CASES],
)
def test_macro_byte_for_byte(core: Any, writable: Any, macro: str, fd: Any, before: Any, after: Any) -> None:
    fds = writable(layout(*before, pad=PAD))
    assert call_macro(core, macro, fd, fds) is None
    # fd_count and every slot as the winsock2.h macro leaves them; the padding untouched.
    assert raw(fds) == layout(*after, pad=PAD)


# (fd, (entries, fd_count), expected), capacity CAP = 4.
IS_SET_CASES = [
    (4, ([4, 8, 12], 3), 1, "first entry"),
    (12, ([4, 8, 12], 3), 1, "last entry"),
    (16, ([4, 8, 12, 16], 4), 1, "last entry of a full set"),
    (16, ([4, 8, 12], 3), 0, "absent"),
    (4, ([], 0), 0, "empty set"),
    (0, ([], 0), 0, "0 is not a member of an empty, zeroed set"),
    (0, ([0], 1), 1, "socket 0"),
    (12, ([4, 8, 12], 2), 0, "a stale value past fd_count is not a member"),
    (4, ([4], 0), 0, "nothing is a member when fd_count is 0"),
    (4, ([8, 4, 4], 3), 1, "a set with duplicates is valid"),
    (INVALID_SOCKET, ([4, INVALID_SOCKET], 2), 1, "INVALID_SOCKET as a member"),
    (-1, ([4, INVALID_SOCKET], 2), 0, "-1 is not INVALID_SOCKET"),
    (-4, ([2**64 - 4], 1), 0, "-4 is not 2**64-4"),
    (2**64, ([0], 1), 0, "2**64 is not 0"),
    (2**64 + 4, ([4], 1), 0, "2**64+4 is not 4"),
    (2**100, ([0], 1), 0, "2**100"),
    (4, ([2**32 + 4], 1), 0, "all 64 bits are compared (low half)"),
    (2**32 + 4, ([4], 1), 0, "all 64 bits are compared (high half)"),
    (Index(8), ([4, 8], 2), 1, "an __index__ object"),
]


@pytest.mark.parametrize(
    ("fd", "contents", "expected"),
    [pytest.param(*case[:3], id=case[3]) for case in IS_SET_CASES],
)
def test_is_set(readable: Any, is_set: Any, fd: Any, contents: Any, expected: int) -> None:
    data = layout(*contents, pad=PAD)
    fds = readable(data)
    result = is_set(fd, fds)
    assert result == expected
    assert type(result) is int  # 1 or 0, an int as in C (not a bool)
    assert raw(fds) == data  # a pure read


def test_is_set_ignores_the_padding(core: Any) -> None:
    # All-ones padding: an implementation reading fd_count as 8 bytes would see a huge count.
    data = bytearray(layout([4], capacity=1, pad=0xFFFFFFFF))
    assert core.FD_ISSET(4, data) == 1


def test_wpufdisset_on_socket_handles(upcalls: Any, FdSet: Any) -> None:
    """DESIGN §2's example: a socket of the table is a member of an FdSet holding it."""
    s, other = (upcalls.table.create_socket(7, object()) for _ in range(2))
    fds = FdSet([s])
    assert upcalls.WPUFDIsSet(s, fds) == 1
    assert upcalls.WPUFDIsSet(other, fds) == 0
    upcalls.table.close_socket(s)
    assert upcalls.WPUFDIsSet(s, fds) == 1  # membership is about values, not liveness


def test_macros_accept_index_objects(core: Any, writable: Any) -> None:
    fds = writable(layout([4]))
    core.FD_SET(Index(8), fds)
    assert raw(fds) == layout([4, 8])
    core.FD_CLR(Index(4), fds)
    assert raw(fds) == layout([8, 8], count=1)


def test_capacity_comes_from_the_buffer_length(core: Any) -> None:
    """Capacity is (len - 8) // 8: a trailing partial entry does not count."""
    data = bytearray(layout([4, 8], capacity=2) + b"\x5a" * 7)
    before = bytes(data)
    core.FD_SET(12, data)  # full at 2 entries, silently
    assert data == before
    core.FD_CLR(4, data)
    assert data == layout([8, 8], count=1, capacity=2) + b"\x5a" * 7


def test_an_8_byte_set_has_room_for_nothing(core: Any) -> None:
    data = bytearray(layout(capacity=0, pad=PAD))
    core.FD_SET(4, data)
    assert data == layout(capacity=0, pad=PAD)
    assert core.FD_ISSET(4, data) == 0


def test_macros_past_fd_setsize_on_a_large_foreign_set(core: Any) -> None:
    """FD_SETSIZE sizes the default set only: a 1024-entry buffer takes 1024 sockets."""
    members = list(range(4, 4 * 101, 4))
    data = bytearray(layout(capacity=1024))
    for fd in members:
        core.FD_SET(fd, data)
    assert data == layout(members, capacity=1024)
    assert core.FD_ISSET(members[-1], data) == 1


# --- bad arguments -------------------------------------------------------------------------

# Everything that takes an fd_set, with fd 4 where an fd is needed.
SET_TAKERS: dict[str, Callable[[Any, Any, Any], Any]] = {
    "FD_SET": lambda core, up, fds: core.FD_SET(4, fds),
    "FD_CLR": lambda core, up, fds: core.FD_CLR(4, fds),
    "FD_ZERO": lambda core, up, fds: core.FD_ZERO(fds),
    "FD_ISSET": lambda core, up, fds: core.FD_ISSET(4, fds),
    "HotUpcalls.WPUFDIsSet": lambda core, up, fds: core.HotUpcalls(up.table).WPUFDIsSet(4, fds),
    "UpcallTable.WPUFDIsSet": lambda core, up, fds: up.WPUFDIsSet(4, fds),
    "FdSet.from_buffer": lambda core, up, fds: core.FdSet.from_buffer(fds),
}

BAD_SETS = [
    (lambda: None, TypeError, "None"),
    (lambda: 5, TypeError, "an int"),
    (lambda: "\0" * 520, TypeError, "a str (not a buffer)"),
    (lambda: [0] * 65, TypeError, "a list"),
    (lambda: memoryview(bytearray(layout([4], capacity=64) * 2))[::2], TypeError, "non-contiguous"),
    (lambda: bytearray(7), ValueError, "7 bytes"),
    (lambda: bytearray(), ValueError, "0 bytes"),
    # Empty is contiguous whatever the strides say (PyBuffer_IsContiguous): too short, not
    # non-contiguous.  Found by fuzz/fuzz_fdset.py, where the cores disagreed.
    (lambda: memoryview(bytearray())[::2], ValueError, "0 bytes, strided"),
    (lambda: memoryview(bytearray(8))[1:], ValueError, "7 bytes, unaligned"),
]


@pytest.mark.parametrize("operation", list(SET_TAKERS))
@pytest.mark.parametrize(("make", "error"), [pytest.param(*case[:2], id=case[2]) for case in BAD_SETS])
def test_bad_set(core: Any, upcalls: Any, operation: str, make: Any, error: type[Exception]) -> None:
    fds = make()
    before = bytes(fds) if isinstance(fds, (bytearray, memoryview)) else None
    with pytest.raises(error):
        SET_TAKERS[operation](core, upcalls, fds)
    if before is not None:
        assert bytes(fds) == before


OVERFULL_SETS = [
    (lambda: bytearray(layout([4, 8], count=3, capacity=2)), "fd_count one above the capacity"),
    (lambda: bytearray(layout([4, 8], count=2**32 - 1, capacity=2)), "fd_count 2**32-1"),
    (lambda: bytearray(struct.pack("<II", 1, 0)), "fd_count 1 in an 8-byte buffer"),
    (lambda: bytearray(struct.pack("<II", 1, 0) + b"\x04" + bytes(6)), "fd_count 1 over a 7-byte tail"),
    (lambda: memoryview(bytearray(b"\0" + layout([4], count=2, capacity=1)))[1:], "unaligned, one above"),
]


# FD_ZERO is left out: it does not read fd_count, and DESIGN.md does not say whether it
# should refuse an overfull set or clear it (C would clear it).
@pytest.mark.parametrize("operation", [name for name in SET_TAKERS if name != "FD_ZERO"])
@pytest.mark.parametrize("make", [pytest.param(case[0], id=case[1]) for case in OVERFULL_SETS])
def test_fd_count_above_capacity_is_a_value_error(core: Any, upcalls: Any, operation: str, make: Any) -> None:
    fds = make()
    before = bytes(fds)
    with pytest.raises(ValueError):
        SET_TAKERS[operation](core, upcalls, fds)
    assert bytes(fds) == before


@pytest.mark.parametrize("kind", list(READ_ONLY))
@pytest.mark.parametrize(("macro", "fd"), [("FD_SET", 12), ("FD_CLR", 4), ("FD_ZERO", None)])
def test_write_macros_refuse_read_only_buffers(core: Any, FdSet: Any, kind: str, macro: str, fd: Any) -> None:
    data = layout([4, 8])
    fds = READ_ONLY[kind](FdSet, data)
    with pytest.raises(TypeError):
        call_macro(core, macro, fd, fds)
    assert raw(fds) == data


FD_TAKERS: dict[str, Callable[[Any, Any, Any, Any], Any]] = {
    "FD_SET": lambda core, up, fd, fds: core.FD_SET(fd, fds),
    "FD_CLR": lambda core, up, fd, fds: core.FD_CLR(fd, fds),
    "FD_ISSET": lambda core, up, fd, fds: core.FD_ISSET(fd, fds),
    "HotUpcalls.WPUFDIsSet": lambda core, up, fd, fds: core.HotUpcalls(up.table).WPUFDIsSet(fd, fds),
    "UpcallTable.WPUFDIsSet": lambda core, up, fd, fds: up.WPUFDIsSet(fd, fds),
    "FdSet.add": lambda core, up, fd, fds: fds.add(fd),
    "FdSet.discard": lambda core, up, fd, fds: fds.discard(fd),
}


@pytest.mark.parametrize("operation", list(FD_TAKERS))
@pytest.mark.parametrize("fd", ["4", 4.0, None, b"4", [4]], ids=repr)
def test_non_int_fd_is_a_type_error(core: Any, upcalls: Any, FdSet: Any, operation: str, fd: Any) -> None:
    fds = FdSet([4, 8])
    before = raw(fds)
    with pytest.raises(TypeError):
        FD_TAKERS[operation](core, upcalls, fd, fds)
    assert raw(fds) == before


@pytest.mark.parametrize("fd", UNREPRESENTABLE)
def test_fd_set_refuses_values_no_socket_can_hold(core: Any, writable: Any, fd: int) -> None:
    # Members that a value wrapped modulo 2**64 would hit; room left for an append.
    data = layout([0, 4, INVALID_SOCKET], capacity=CAP, pad=PAD)
    fds = writable(data)
    with pytest.raises(ValueError):
        core.FD_SET(fd, fds)
    assert raw(fds) == data


# --- FdSet: construction and layout --------------------------------------------------------


def test_default_fdset(FdSet: Any) -> None:
    fds = FdSet()
    assert fds.capacity == FD_SETSIZE == 64
    assert len(fds) == 0
    assert list(fds) == []
    assert bytes(fds) == struct.pack("<II", 0, 0)
    assert raw(fds) == layout(capacity=64)  # a fresh set is zeroed: no stale memory shows


@pytest.mark.parametrize("capacity", [1, 2, 64, 1024])
def test_buffer_is_8_plus_8_bytes_per_entry(FdSet: Any, capacity: int) -> None:
    fds = FdSet(capacity=capacity)
    assert fds.capacity == capacity
    with memoryview(fds) as view:
        assert view.nbytes == 8 + 8 * capacity
        assert view.c_contiguous
        assert not view.readonly  # foreign writers (C providers) fill it in place
    assert raw(fds) == layout(capacity=capacity)


def test_layout_byte_for_byte(FdSet: Any) -> None:
    members = [4, 8, 0, 2**32 + 4, 2**63, INVALID_SOCKET]
    fds = FdSet(members)
    assert raw(fds) == struct.pack("<II64Q", 6, 0, *members, *[0] * 58)
    assert len(raw(fds)) == 520
    # bytes() is the Windows bytes of the fd_count entries only.
    assert bytes(fds) == struct.pack("<II6Q", 6, 0, *members)


@pytest.mark.parametrize(
    ("handles", "expected"),
    [
        (lambda: [], []),
        (lambda: [12, 4, 8], [12, 4, 8]),
        (lambda: [12, 4, 12, 8, 4], [12, 4, 8]),
        (lambda: (h for h in (8, 4)), [8, 4]),
        (lambda: range(4, 20, 4), [4, 8, 12, 16]),
        (lambda: [Index(8), 4], [8, 4]),
        (lambda: [INVALID_SOCKET, 0], [INVALID_SOCKET, 0]),
    ],
    ids=["empty", "order kept", "duplicates once", "generator", "range", "__index__", "extremes"],
)
def test_constructor(FdSet: Any, handles: Any, expected: list[int]) -> None:
    fds = FdSet(handles())
    assert list(fds) == expected
    assert len(fds) == len(expected)
    assert all(type(fd) is int for fd in fds)
    assert bytes(fds) == struct.pack(f"<II{len(expected)}Q", len(expected), 0, *expected)


def test_constructor_keywords(FdSet: Any) -> None:
    fds = FdSet(handles=[4, 8], capacity=2)
    assert (list(fds), fds.capacity) == ([4, 8], 2)


def test_duplicates_count_once_against_the_capacity(FdSet: Any) -> None:
    assert list(FdSet([4, 4, 4, 8], capacity=2)) == [4, 8]


@pytest.mark.parametrize(
    ("handles", "capacity"),
    [(range(4, 4 * 66, 4), 64), ([4, 8, 12], 2), ([4, 8], 1)],
    ids=["65 into 64", "3 into 2", "2 into 1"],
)
def test_constructor_refuses_handles_that_do_not_fit(FdSet: Any, handles: Any, capacity: int) -> None:
    with pytest.raises(ValueError):
        FdSet(handles, capacity)


@pytest.mark.parametrize(
    ("capacity", "error"),
    [(0, ValueError), (-1, ValueError), ("64", TypeError), (64.0, TypeError), (None, TypeError)],
    ids=repr,
)
def test_bad_capacity(FdSet: Any, capacity: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        FdSet(capacity=capacity)


@pytest.mark.parametrize(
    ("handles", "error"),
    [
        ([-1], ValueError),
        ([2**64], ValueError),
        ([4, 2**100], ValueError),
        (["4"], TypeError),
        ([None], TypeError),
        ([4.0], TypeError),
        (5, TypeError),
        (None, TypeError),
    ],
    ids=repr,
)
def test_bad_handles(FdSet: Any, handles: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        FdSet(handles)


@pytest.mark.parametrize(
    "as_buffer",
    [bytes, bytearray, memoryview, lambda data: array("B", data)],
    ids=["bytes", "bytearray", "memoryview", "array B"],
)
def test_the_bytes_of_an_fd_set_are_not_its_handles(FdSet: Any, as_buffer: Any) -> None:
    # Iterated, these would give one "SOCKET" per byte: FdSet(b"abc") == FdSet([97, 98, 99]).
    data = layout([4, 8], capacity=2)
    with pytest.raises(TypeError) as raised:
        FdSet(as_buffer(data))
    assert str(raised.value) == (
        f"FdSet() argument 'handles' must be an iterable of SOCKET values, not "
        f"{type(as_buffer(data)).__name__}: use FdSet.from_buffer(...) for the bytes of an fd_set")
    assert list(FdSet.from_buffer(as_buffer(data))) == [4, 8]  # what the bytes were for


def test_a_buffer_of_socket_values_is_handles(FdSet: Any) -> None:
    # Items wider than a byte iterate to the values themselves, as a list would.
    for handles in (array("Q", [4, 8]), array("i", [4, 8]), (ctypes.c_uint64 * 2)(4, 8),
                    memoryview(array("Q", [4, 8])), FdSet([4, 8])):
        assert list(FdSet(handles)) == [4, 8], handles


def test_capacity_is_read_only(FdSet: Any) -> None:
    fds = FdSet(capacity=2)
    with pytest.raises(AttributeError):
        fds.capacity = 64
    assert fds.capacity == 2


# --- FdSet: the Pythonic operations --------------------------------------------------------


def test_add_appends_in_order(FdSet: Any) -> None:
    fds = FdSet(capacity=CAP)
    for fd in (12, 4, INVALID_SOCKET):
        assert fds.add(fd) is None
    assert list(fds) == [12, 4, INVALID_SOCKET]
    assert raw(fds) == layout([12, 4, INVALID_SOCKET])


def test_add_a_member_adds_nothing_even_when_full(FdSet: Any) -> None:
    fds = FdSet([4, 8], capacity=2)
    fds.add(4)
    fds.add(Index(8))
    assert raw(fds) == layout([4, 8], capacity=2)


def test_add_to_a_full_set_raises_and_changes_nothing(FdSet: Any) -> None:
    fds = FdSet([4, 8], capacity=2)
    with pytest.raises(ValueError):
        fds.add(12)
    assert raw(fds) == layout([4, 8], capacity=2)


@pytest.mark.parametrize("fd", UNREPRESENTABLE)
def test_add_refuses_values_no_socket_can_hold(FdSet: Any, fd: int) -> None:
    fds = FdSet([0, 4, INVALID_SOCKET], capacity=CAP)
    with pytest.raises(ValueError):
        fds.add(fd)
    assert raw(fds) == layout([0, 4, INVALID_SOCKET])


@pytest.mark.parametrize(
    ("fd", "expected"),
    [
        (4, [8, 12]),
        (8, [4, 12]),
        (12, [4, 8]),
        (Index(8), [4, 12]),
        (16, [4, 8, 12]),
        (-1, [4, 8, 12]),
        (2**64 + 4, [4, 8, 12]),
    ],
    ids=["first", "middle", "last", "__index__", "absent", "-1", "2**64+4"],
)
def test_discard(FdSet: Any, fd: Any, expected: list[int]) -> None:
    fds = FdSet([4, 8, 12])
    assert fds.discard(fd) is None
    assert list(fds) == expected
    assert bytes(fds) == struct.pack(f"<II{len(expected)}Q", len(expected), 0, *expected)


def test_discard_removes_the_first_of_foreign_duplicates(FdSet: Any) -> None:
    fds = FdSet(capacity=CAP)
    poke(fds, layout([4, 8, 4]))
    fds.discard(4)
    assert list(fds) == [8, 4]


def test_clear(FdSet: Any) -> None:
    fds = FdSet([4, 8])
    assert fds.clear() is None
    assert (len(fds), list(fds), 4 in fds) == (0, [], False)
    assert bytes(fds) == struct.pack("<II", 0, 0)
    fds.add(12)
    assert list(fds) == [12]


@pytest.mark.parametrize(
    ("fd", "expected"),
    [(4, True), (INVALID_SOCKET, True), (0, True), (8, False), (12, False), (-1, False), (2**64, False)],
    ids=["member", "INVALID_SOCKET", "0", "absent", "stale", "-1", "2**64"],
)
def test_contains(FdSet: Any, fd: int, expected: bool) -> None:
    fds = FdSet(capacity=CAP)
    poke(fds, layout([4, INVALID_SOCKET, 0, 12], count=3))  # 12 is stale, past fd_count
    assert (fd in fds) is expected


def test_iteration_stops_at_fd_count(FdSet: Any) -> None:
    fds = FdSet(capacity=CAP)
    poke(fds, layout([4, 8, 12, 16], count=2))
    assert list(fds) == [4, 8]
    assert len(fds) == 2


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (([4, 8], 64), ([4, 8], 2), True),
        (([], 1), ([], 1024), True),
        (([4, 8], 64), ([8, 4], 64), False),
        (([4], 64), ([4, 8], 64), False),
        (([INVALID_SOCKET], 64), ([0], 64), False),
    ],
    ids=["capacity irrelevant", "empty", "order matters", "prefix", "values"],
)
def test_equality(FdSet: Any, a: Any, b: Any, equal: bool) -> None:
    left, right = FdSet(*a), FdSet(*b)
    assert (left == right) is equal
    assert (right == left) is equal
    assert (left != right) is not equal


def test_equality_ignores_stale_slots(FdSet: Any) -> None:
    left, right = FdSet(capacity=CAP), FdSet(capacity=CAP)
    poke(left, layout([4, 8, 12], count=1))
    poke(right, layout([4, 16, 20], count=1))
    assert left == right


@pytest.mark.parametrize("other", [[4], (4,), 4, None, b"\x01\0\0\0\0\0\0\0\x04\0\0\0\0\0\0\0"], ids=repr)
def test_not_equal_to_other_types(FdSet: Any, other: Any) -> None:
    fds = FdSet([4])
    assert not fds == other
    assert fds != other


def test_unhashable(FdSet: Any) -> None:
    with pytest.raises(TypeError):
        hash(FdSet([4]))
    with pytest.raises(TypeError):
        {FdSet()}  # noqa: B018


def test_repr_says_what_it_holds(FdSet: Any) -> None:
    members = [40004, 80008]
    text = repr(FdSet(members, capacity=8))
    assert "FdSet" in text
    for fd in members:
        assert str(fd) in text or hex(fd) in text
    assert repr(FdSet(capacity=8)) != text


def test_full_default_set(core: Any, FdSet: Any) -> None:
    members = [4 * (i + 1) for i in range(64)]
    fds = FdSet(members)
    assert len(fds) == fds.capacity == 64
    assert raw(fds) == struct.pack("<II64Q", 64, 0, *members)
    core.FD_SET(1000, fds)  # the macro: silent
    with pytest.raises(ValueError):  # the Pythonic form: loud
        fds.add(1000)
    fds.add(members[10])  # a member: nothing to add
    assert raw(fds) == struct.pack("<II64Q", 64, 0, *members)
    assert core.FD_ISSET(members[-1], fds) == 1
    assert core.FD_ISSET(1000, fds) == 0


def test_capacity_one(core: Any, FdSet: Any) -> None:
    fds = FdSet(capacity=1)
    assert raw(fds) == layout(capacity=1) and len(raw(fds)) == 16
    fds.add(4)
    assert raw(fds) == layout([4], capacity=1)
    with pytest.raises(ValueError):
        fds.add(8)
    core.FD_SET(8, fds)
    fds.add(4)
    assert raw(fds) == layout([4], capacity=1)
    core.FD_CLR(4, fds)
    assert raw(fds) == layout([4], count=0, capacity=1)
    core.FD_SET(8, fds)
    assert raw(fds) == layout([8], capacity=1)


def test_capacity_1024(core: Any, FdSet: Any) -> None:
    members = list(range(4, 4 * 1025, 4))
    fds = FdSet(capacity=1024)
    for fd in members:
        core.FD_SET(fd, fds)  # past FD_SETSIZE: the set's own capacity is the limit
    assert len(fds) == 1024
    assert raw(fds) == layout(members, capacity=1024)
    assert core.FD_ISSET(members[-1], fds) == 1
    core.FD_SET(8192, fds)
    with pytest.raises(ValueError):
        fds.add(8192)
    core.FD_CLR(members[0], fds)
    assert raw(fds) == layout([*members[1:], members[-1]], count=1023, capacity=1024)
    assert fds == FdSet(members[1:], capacity=1024)


# --- FdSet.from_buffer ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "capacity"),
    [(8, 1), (15, 1), (16, 1), (24, 2), (520, 64), (527, 64), (8200, 1024)],
)
def test_from_buffer_capacity(FdSet: Any, length: int, capacity: int) -> None:
    copy = FdSet.from_buffer(bytearray(length))
    assert copy.capacity == capacity
    assert len(copy) == 0


def test_from_buffer_copies_a_foreign_set(FdSet: Any, readable: Any) -> None:
    members = [4, 4, INVALID_SOCKET, 0]  # duplicates, as a Winsock 1.1 FD_SET leaves them
    source = readable(layout([*members, 99], count=4, capacity=6, pad=PAD))
    copy = FdSet.from_buffer(source)
    assert type(copy) is FdSet
    assert copy.capacity == 6
    assert list(copy) == members
    copied = bytes(copy)
    assert copied[:4] == struct.pack("<I", 4) and copied[8:] == struct.pack("<4Q", *members)


def test_from_buffer_is_a_copy(FdSet: Any) -> None:
    source = bytearray(layout([4, 8]))
    copy = FdSet.from_buffer(source)
    source[:] = layout([12])
    assert list(copy) == [4, 8]
    copy.add(16)
    assert source == layout([12])


def test_from_buffer_of_an_fdset(FdSet: Any) -> None:
    original = FdSet([4, 8], capacity=3)
    copy = FdSet.from_buffer(original)
    assert copy == original and copy is not original
    assert copy.capacity == 3
    copy.add(12)
    assert list(original) == [4, 8]


# --- an FdSet whose fd_count a foreign writer pushed past its capacity ---------------------

OVERFULL_OPERATIONS: dict[str, Callable[[Any, Any, Any], Any]] = {
    "len": lambda core, up, fds: len(fds),
    "iter": lambda core, up, fds: list(fds),
    "in": lambda core, up, fds: 4 in fds,
    "add": lambda core, up, fds: fds.add(12),
    **{name: SET_TAKERS[name] for name in SET_TAKERS if name != "FD_ZERO"},
}


@pytest.mark.parametrize("operation", list(OVERFULL_OPERATIONS))
@pytest.mark.parametrize("count", [CAP + 1, 2**32 - 1])
def test_overfull_fdset_is_a_value_error(core: Any, upcalls: Any, FdSet: Any, operation: str, count: int) -> None:
    fds = FdSet([4, 8, 12, 16], capacity=CAP)
    poke(fds, struct.pack("<I", count))
    before = raw(fds)
    with pytest.raises(ValueError):
        OVERFULL_OPERATIONS[operation](core, upcalls, fds)
    assert raw(fds) == before
    poke(fds, struct.pack("<I", 2))  # repaired: usable again
    assert list(fds) == [4, 8]


@pytest.mark.parametrize(
    "operation",
    [bytes, repr, lambda fds: fds == fds, lambda fds: fds.discard(4)],
    ids=["bytes", "repr", "==", "discard"],
)
def test_overfull_fdset_never_reads_past_its_buffer(FdSet: Any, operation: Any) -> None:
    """DESIGN.md names no result for these; either a ValueError or nothing beyond the buffer."""
    fds = FdSet([4, 8], capacity=2)
    poke(fds, struct.pack("<I", 2**32 - 1))
    try:
        result = operation(fds)
    except ValueError:
        return
    if isinstance(result, bytes):
        assert len(result) <= 8 + 8 * 2


# --- ctypes: a C fd_set and an FdSet sharing memory ----------------------------------------


def test_ctypes_view_of_an_fdset_sees_both_ways(core: Any, FdSet: Any) -> None:
    fds = FdSet([4, 8])
    view = fd_set_struct(64).from_buffer(fds)
    assert view.fd_count == 2 and list(view.fd_array[:2]) == [4, 8]
    fds.add(INVALID_SOCKET)
    assert view.fd_count == 3 and view.fd_array[2] == INVALID_SOCKET
    core.FD_CLR(4, fds)
    assert view.fd_count == 2 and list(view.fd_array[:3]) == [8, INVALID_SOCKET, INVALID_SOCKET]
    view.fd_array[2] = 12  # C code writes the set
    view.fd_count = 3
    assert list(fds) == [8, INVALID_SOCKET, 12]
    assert 12 in fds and core.FD_ISSET(12, fds) == 1
    core.FD_ZERO(fds)
    assert view.fd_count == 0 and view.fd_array[0] == 8
    del view


def test_macros_on_a_ctypes_fd_set(core: Any, upcalls: Any) -> None:
    fds = fd_set_struct(64)()
    core.FD_SET(4, fds)
    core.FD_SET(8, fds)
    core.FD_SET(4, fds)
    assert fds.fd_count == 2 and list(fds.fd_array[:3]) == [4, 8, 0]
    assert core.FD_ISSET(8, fds) == 1 and upcalls.WPUFDIsSet(8, fds) == 1
    core.FD_CLR(4, fds)
    assert fds.fd_count == 1 and list(fds.fd_array[:2]) == [8, 8]
    core.FD_ZERO(fds)
    assert fds.fd_count == 0 and fds.fd_array[0] == 8
    assert core.FD_ISSET(8, fds) == 0
