"""The pure-Python twin of ws2core._handles.

Same names, same behaviour, same errors and the same handle values as the Cython core: it is
the reference the core is tested against (in lockstep, by tests/test_differential.py), the
fallback where no compiler exists, and the baseline of every benchmark.  It is written as a
Python programmer would write it (a dict of live handles, a deque of closed values), not as a
transliteration of the C arrays; the methods come in the core's order, with its docstrings.
Its sections are the core's parts (``_handles_<concern>.pxi``), in their order and under
their headers: conversions, batches, fd_set, the handle table, out-parameters and the hot
upcalls, the native table.
"""

from __future__ import annotations

import ctypes
import struct
import threading
from array import array
from collections import deque
from collections.abc import Coroutine, Iterable, Iterator
from operator import attrgetter
from operator import index as _index
from types import TracebackType
from typing import Any, ClassVar, cast

from . import _waits
from . import constants as _constants
from ._shared import (  # the bounds' constants are decided there, for both cores
    ABIS,
    DEFAULT_MAX_HANDLES,
    MAX_MAX_HANDLES,
    REUSE_DELAY,
    WinsockError,
    as_index,
    bounds_note,
    kinds_note as _kinds_note,
    checked_abi,
    fd_set_bytes_error,
    has_index,
    not_an_int,
    register_fd_set,
    require_out_parameter,
    store_context,
    table_bounds,
)
from .structs import FD_COUNT as _COUNT
from .structs import FD_SET_LAYOUTS

# Private aliases, as the core's C statics: the module's public names are its API alone.
_FD_SETSIZE = _constants.FD_SETSIZE
_INVALID_SOCKET = _constants.INVALID_SOCKET
_INVALID_SOCKET_X86 = _constants.INVALID_SOCKET_X86
_SOCKET_ERROR = _constants.SOCKET_ERROR
_WSA_INVALID_HANDLE = _constants.WSA_INVALID_HANDLE
_WSA_NOT_ENOUGH_MEMORY = _constants.WSA_NOT_ENOUGH_MEMORY
_WSAENOBUFS = _constants.WSAENOBUFS
_WSAENOTSOCK = _constants.WSAENOTSOCK
_WSAEINVAL = _constants.WSAEINVAL
_WSAEFAULT = _constants.WSAEFAULT
_WSA_INVALID_PARAMETER = _constants.WSA_INVALID_PARAMETER
_WSA_MAXIMUM_WAIT_EVENTS = _constants.WSA_MAXIMUM_WAIT_EVENTS

__all__ = [
    "DEFAULT_MAX_HANDLES",
    "FD_CLR",
    "FD_ISSET",
    "FD_SET",
    "FD_ZERO",
    "MAX_MAX_HANDLES",
    "REUSE_DELAY",
    "FdSet",
    "HandleTable",
    "HotUpcalls",
    "Ref",
]

_DWORD_MAX = 0xFFFFFFFF
_SOCKET_MAX = _INVALID_SOCKET  # 2**64 - 1: the largest value a SOCKET holds
_TAG_BITS = 3                 # the low handle bits the kernel ignores (OBJ_HANDLE_TAGBITS)


# --------------------------------------------------------------------------------------
# Conversions
#
# A Python int as a handle value or as a SOCKET value; anything with __index__ is taken as an
# int, and anything else is a TypeError that names the call and the argument.


def _socket_value(fd: Any, function: str, argument: str | None, item: int | None = None) -> int:
    """``fd`` as an int; -1 when no SOCKET can hold it.  A non-int is a TypeError naming
    ``argument`` of ``function`` (its ``item``-th entry, if given)."""
    if fd.__class__ is not int:
        fd = as_index(fd, function, argument, "a SOCKET", item)
    return fd if 0 <= fd <= _SOCKET_MAX else -1


def _entry_value(entry: Any, entries: list[Any], function: str, argument: str, kind: str) -> int:
    """``entry``, one of ``entries`` and not a plain int, as an int; a TypeError names its
    position, which is the first entry that is this very object (an earlier one would have
    failed first).  Sequences convert their plain ints inline and call this for the rest, so
    the common case pays for no counter."""
    try:
        return _index(entry)
    except TypeError:
        if has_index(entry):
            raise
        position = next(i for i, other in enumerate(entries) if other is entry)
        raise not_an_int(entry, function, argument, kind, position) from None


# --------------------------------------------------------------------------------------
# Batches
#
# Many handles given at once (contains_each, FdSet(handles), contexts, close_sockets):
# converted once, all of them before the table is read.


_JUST_INT = frozenset({int})
_INTEGER_TYPECODES = frozenset("bBhHiIlLqQ")


def _batch(handles: Iterable[Any], function: str) -> tuple[list[Any], list[int]]:
    """The items of a batch and their int values, every one converted before the table is read.

    TypeError for a non-int, naming its position in the argument ``handles`` of ``function``.
    An array is read whole; when every item is an int, the two lists are one.
    """
    if isinstance(handles, array):
        given = handles.tolist()
        if handles.typecode in _INTEGER_TYPECODES:
            return given, given
    else:
        given = list(handles)
    if _JUST_INT.issuperset(map(type, given)):
        return given, given
    return given, [
        item if item.__class__ is int
        else _entry_value(item, given, function, "handles", "a SOCKET")
        for item in given
    ]


def _not_a_socket(given: list[Any], i: int) -> str:
    """The detail of a batch's WSAENOTSOCK: which entry, and its value."""
    item = given[i]
    shown = f"{item:#x}" if isinstance(item, int) else repr(item)
    return f"handles[{i}] = {shown} is not a live socket of this table"


# --------------------------------------------------------------------------------------
# fd_set
#
# Two layouts, chosen per set: x64 (u_int fd_count, 4 bytes of padding, 8-byte SOCKETs) and
# x86 (u_int fd_count, 4-byte SOCKETs, no padding).  In both the header is one entry wide, so
# entry i starts at width * (i + 1).


class _FdSetHeader(ctypes.Structure):
    # A ctypes Structure so that FdSet exports its memory through the buffer protocol on
    # every supported Python (a class-level __buffer__ needs 3.12); FdSet.__init__ resizes it
    # to the whole fd_set.  Only fd_count: an x86 fd_set has no padding after it.  A private
    # field name keeps ctypes' attributes out of the public API.
    _fields_ = [("_fd_count", ctypes.c_uint32)]


# The layouts by x86, as ABIS has them.  What the functions below read on every call is bound
# here once, so that they index a tuple instead of calling a layout's method.
_LAYOUTS = tuple(FD_SET_LAYOUTS[abi] for abi in ABIS)
_WIDTH = tuple(layout.socket_size for layout in _LAYOUTS)  # a SOCKET, and the header before it
_SOCKET_CODE = tuple(layout.socket_code for layout in _LAYOUTS)  # struct's code of one SOCKET


def _fits(value: int, x86: bool) -> bool:
    """Whether a SOCKET of the layout holds ``value`` (a SOCKET value, or -1 for none)."""
    return value >= 0 and (not x86 or value <= _DWORD_MAX)


def _not_a_socket_value(fd: Any, x86: bool) -> str:
    return f"{fd} is not a SOCKET value (0..2**{32 if x86 else 64}-1)"


def _other_core_layout(fdset: Any) -> bool | None:
    """Whether ``fdset``, an FdSet of another core (the Cython core), is x86; None for any
    other object.

    So that an FdSet is read in its own layout whichever core reads it (a provider holding
    ``ws2core.FdSet`` may serve a table of the twin).  The other cores' FdSet classes are
    those registered in ws2core._shared (none until the Cython core is imported: a core never
    imported has made no FdSet).
    """
    for other in _OTHER_FD_SETS:
        if isinstance(fdset, other):
            return fdset.abi == "x86"  # type: ignore[no-any-return]
    return None


def _abi_of(fdset: Any, abi: Any, default_x86: bool = False) -> bool:
    """True for the x86 layout, False for x64: an FdSet's own (of either core), else ``abi``
    (None: ``default_x86``); ValueError when ``abi`` contradicts an FdSet."""
    own = fdset._x86 if isinstance(fdset, FdSet) else _other_core_layout(fdset)
    if abi is None:
        return default_x86 if own is None else own
    x86 = checked_abi(abi)
    if own is not None and own != x86:
        raise ValueError(f"abi={abi!r} for an FdSet of the other ABI, {ABIS[own]!r}")
    return x86


def _acquire(fdset: Any, writable: bool) -> memoryview:
    """A byte view of a foreign fd_set, checked: never read past the buffer.

    Callers release it with ``with``, so a bytearray is not left locked against resizing by a
    view that an exception's traceback keeps alive.
    """
    try:
        view = memoryview(fdset)
    except TypeError:
        raise TypeError(
            f"fdset must be a ws2core.FdSet or a buffer with the Windows fd_set layout, "
            f"not {type(fdset).__name__}"
        ) from None
    with view:
        # An empty buffer is contiguous whatever its strides say, as PyBuffer_IsContiguous
        # (the core's check) has it; it is then refused for being shorter than the header.
        if not view.c_contiguous and view.nbytes:
            raise TypeError("fdset must be a C-contiguous buffer")
        if writable and view.readonly:
            raise TypeError("fdset is a read-only buffer; FD_SET, FD_CLR and FD_ZERO write to it")
        return view.cast("B") if view.nbytes else memoryview(b"")


def _check_header(nbytes: int, x86: bool) -> None:
    if nbytes < _WIDTH[x86]:
        raise ValueError(
            f"an {ABIS[x86]} fd_set buffer needs at least {_WIDTH[x86]} bytes, this one has {nbytes}")


def _checked_count(data: memoryview, x86: bool) -> int:
    """fd_count of ``data``; ValueError when the buffer is too short or fd_count exceeds it."""
    _check_header(data.nbytes, x86)
    count: int = _COUNT.unpack_from(data, 0)[0]
    capacity = data.nbytes // _WIDTH[x86] - 1  # _LAYOUTS[x86].capacity, without a call
    if count > capacity:
        raise ValueError(
            f"fd_count {count} exceeds the {capacity} SOCKETs this {data.nbytes}-byte "
            f"{ABIS[x86]} fd_set holds"
        )
    return count


def _members(data: memoryview, count: int, x86: bool) -> tuple[int, ...]:
    return struct.unpack_from(f"<{count}{_SOCKET_CODE[x86]}", data, _WIDTH[x86])


def _store_entries(data: memoryview, i: int, values: Any, x86: bool) -> None:
    """Write ``values`` as SOCKETs from entry ``i`` on."""
    struct.pack_into(f"<{len(values)}{_SOCKET_CODE[x86]}", data, _WIDTH[x86] * (i + 1), *values)


def _fd_isset(value: int, data: memoryview, x86: bool) -> int:
    count = _checked_count(data, x86)
    return 1 if _fits(value, x86) and value in _members(data, count, x86) else 0


def _fd_set(value: int, data: memoryview, x86: bool) -> bool:
    """Append ``value`` (which fits the layout) unless present or full (winsock2.h FD_SET);
    True when it is a member."""
    count = _checked_count(data, x86)
    if value in _members(data, count, x86):
        return True
    if count >= data.nbytes // _WIDTH[x86] - 1:
        return False
    _store_entries(data, count, (value,), x86)
    _COUNT.pack_into(data, 0, count + 1)
    return True


def _fd_clr(value: int, data: memoryview, x86: bool) -> None:
    """Remove the first occurrence, keeping the order (winsock2.h FD_CLR).

    The old last slot keeps a stale copy of the former last entry, as the macro leaves it.
    """
    count = _checked_count(data, x86)
    members = _members(data, count, x86)
    if not _fits(value, x86) or value not in members:
        return
    position = members.index(value)
    _store_entries(data, position, members[position + 1:], x86)
    _COUNT.pack_into(data, 0, count - 1)


class FdSet(_FdSetHeader):
    """A Windows fd_set.  x64 (the default): ``u_int fd_count``, 4 bytes of padding,
    ``SOCKET fd_array[capacity]`` of 8-byte SOCKETs; ``abi="x86"``: ``u_int fd_count`` then
    4-byte SOCKETs, no padding.

    The object exports exactly those bytes through the buffer protocol (520 for the default
    FD_SETSIZE of 64 in x64, 260 in x86), so ctypes, emulated guest memory and the FD_*
    functions all see the Windows layout.  Its memory never moves (the capacity is fixed), so
    views exported to C stay valid.  The Pythonic methods refuse to lose a handle (``add`` on a
    full set raises ValueError, as does a value the ABI's SOCKET cannot hold); the module's
    FD_* functions keep the macros' silence.  Two FdSets are equal when their first fd_count
    entries are, in order.
    """

    __hash__: ClassVar[None]  # type: ignore[assignment]
    __hash__ = None  # mutable, like set
    _x86: bool

    def __init__(self, handles: Iterable[Any] = (), capacity: int = _FD_SETSIZE, *,
                 abi: str = "x64") -> None:
        """An fd_set holding ``handles``, with room for ``capacity`` SOCKETs, in the layout ``abi``.

        ``handles``: SOCKET values (any iterable of ints; an ``array('Q')`` is read without
        making an int per handle), added in order as ``add`` adds them: a handle given twice is
        added once, and a value the layout's SOCKET cannot hold, or more handles than
        ``capacity``, is a ValueError.  The bytes of an fd_set are not handles (bytes, a
        bytearray, a memoryview are a TypeError): ``FdSet.from_buffer(buf)`` copies them.
        ``capacity``: 1..2**32-1 SOCKETs (default FD_SETSIZE, 64), fixed for the set's life.
        ``abi``: ``"x64"`` (the default: 8-byte SOCKETs after 4 bytes of padding) or ``"x86"``
        (4-byte SOCKETs, no padding).
        """
        x86 = checked_abi(abi)
        if capacity.__class__ is not int:
            capacity = as_index(capacity, "FdSet", "capacity")
        if not 1 <= capacity <= _DWORD_MAX:
            raise ValueError(f"capacity must be 1..{_DWORD_MAX}, not {capacity}")
        if "_x86" in self.__dict__:  # __init__ called again on a set: it keeps its layout
            data = memoryview(self).cast("B")
        else:
            super().__init__()
            self._x86 = x86
            ctypes.resize(self, _LAYOUTS[x86].size(capacity))
            data = memoryview(self).cast("B")
        if handles.__class__ is not list and handles.__class__ is not tuple:  # no buffer in these
            _refuse_fd_set_bytes(handles)
        if _checked_count(data, self._x86) != 0:  # called again on a used set: one by one
            for fd in handles:
                self.add(fd)
            return
        _fill(self, data, handles, self.capacity)

    @classmethod
    def from_buffer(cls, buffer: Any, /, *, abi: str | None = None) -> FdSet:
        """A new FdSet holding a copy of a foreign fd_set (capacity: the buffer's, at least 1),
        in the same layout: an FdSet's own, else ``abi`` (None: ``"x64"``)."""
        x86 = _abi_of(buffer, abi)
        with _acquire(buffer, writable=False) as data:
            count = _checked_count(data, x86)
            layout = _LAYOUTS[x86]
            fds = cls(capacity=max(1, layout.capacity(data.nbytes)), abi=ABIS[x86])
            used = layout.size(count)
            memoryview(fds).cast("B")[:used] = data[:used]
        return fds

    @property
    def capacity(self) -> int:
        """How many SOCKETs the set can hold."""
        return _LAYOUTS[self._x86].capacity(ctypes.sizeof(self))

    @property
    def abi(self) -> str:
        """The layout: ``"x64"`` or ``"x86"``."""
        return ABIS[self._x86]

    def add(self, fd: Any, /) -> None:
        """Add ``fd`` unless present; ValueError if the set is full or its SOCKET cannot hold ``fd``."""
        value = _socket_value(fd, "FdSet.add", "fd")
        if not _fits(value, self._x86):
            raise ValueError(_not_a_socket_value(fd, self._x86))
        if not _fd_set(value, memoryview(self).cast("B"), self._x86):
            raise ValueError(f"the fd_set is full ({self.capacity} SOCKETs); {fd} was not added")

    def discard(self, fd: Any, /) -> None:
        """Remove ``fd`` if present (FD_CLR)."""
        _fd_clr(_socket_value(fd, "FdSet.discard", "fd"), memoryview(self).cast("B"), self._x86)

    def clear(self) -> None:
        """Empty the set (FD_ZERO: fd_count = 0)."""
        self._fd_count = 0

    def __contains__(self, fd: object, /) -> bool:
        value = _socket_value(fd, "FdSet", None)  # the left operand of `in`
        return _fd_isset(value, memoryview(self).cast("B"), self._x86) == 1

    def contains_each(self, handles: Iterable[Any], /) -> list[bool]:
        """For each of ``handles``, whether it is in the set (as ``in``): FD_ISSET for many."""
        values = _batch(handles, "FdSet.contains_each")[1]
        data = memoryview(self).cast("B")
        # Members fit the layout, so a value no SOCKET of it holds (negative, huge) is never found.
        members = set(_members(data, _checked_count(data, self._x86), self._x86))
        return list(map(members.__contains__, values))

    def __len__(self) -> int:
        return _checked_count(memoryview(self).cast("B"), self._x86)

    def __iter__(self) -> Iterator[int]:
        data = memoryview(self).cast("B")
        return iter(_members(data, _checked_count(data, self._x86), self._x86))

    def __eq__(self, other: object, /) -> bool:
        if not isinstance(other, FdSet):
            return NotImplemented
        return list(self) == list(other)

    def __bytes__(self) -> bytes:
        data = memoryview(self).cast("B")
        return bytes(data[: _LAYOUTS[self._x86].size(_checked_count(data, self._x86))])

    def __reduce__(self) -> tuple[Any, ...]:
        if self._x86:
            return (_fd_set_of_abi, (list(self), self.capacity, "x86"))
        return (type(self), (list(self), self.capacity))

    def __repr__(self) -> str:
        abi = ", abi='x86'" if self._x86 else ""
        return f"FdSet({list(self)!r}, capacity={self.capacity}{abi})"


def _fd_set_of_abi(handles: Any, capacity: int, abi: str) -> FdSet:
    """Unpickles an FdSet of a non-default ABI (a pickle passes no keywords)."""
    return FdSet(handles, capacity, abi=abi)


# The other cores' FdSet classes, a list ws2core._shared keeps up to date as they register.
_OTHER_FD_SETS: list[type[Any]] = register_fd_set(FdSet)


def _refuse_fd_set_bytes(handles: Any) -> None:
    """TypeError for the bytes of an fd_set given as FdSet's handles, which would otherwise be
    read as one SOCKET per byte (ws2core._shared.fd_set_bytes_error says which buffers)."""
    error = fd_set_bytes_error(handles)
    if error is not None:
        raise error


def _fill(fds: FdSet, data: memoryview, handles: Iterable[Any], capacity: int) -> None:
    """FdSet(handles): what ``add`` does for each handle in turn (the same errors at the same
    handle), without its quadratic duplicate scan on big batches."""
    x86 = fds._x86
    seen: set[int] = set()
    count = 0
    try:
        for i, fd in enumerate(handles):
            value = _socket_value(fd, "FdSet", "handles", i)
            if not _fits(value, x86):
                raise ValueError(_not_a_socket_value(fd, x86))
            if value in seen:
                continue
            if count == capacity:
                raise ValueError(f"the fd_set is full ({capacity} SOCKETs); {fd} was not added")
            seen.add(value)
            _store_entries(data, count, (value,), x86)
            count += 1
    finally:
        _COUNT.pack_into(data, 0, count)  # what was added before an error stays, as with add


def FD_SET(fd: Any, set: Any, /, *, abi: str | None = None) -> None:
    """winsock2.h FD_SET: append ``fd`` unless present; silently nothing when the set is full.

    ``set`` is an FdSet (its own layout) or a writable buffer in the layout ``abi`` (None:
    ``"x64"``).  ValueError for a value the layout's SOCKET cannot hold (the macro would store
    a different number).
    """
    value = _socket_value(fd, "FD_SET", "fd")
    x86 = _abi_of(set, abi)
    with _acquire(set, writable=True) as data:
        if not _fits(value, x86):
            raise ValueError(_not_a_socket_value(fd, x86))
        _fd_set(value, data, x86)


def FD_CLR(fd: Any, set: Any, /, *, abi: str | None = None) -> None:
    """winsock2.h FD_CLR: remove the first occurrence of ``fd``, keeping the order.

    ``set``: an FdSet, or a writable buffer in the layout ``abi`` (None: ``"x64"``).
    """
    value = _socket_value(fd, "FD_CLR", "fd")
    x86 = _abi_of(set, abi)
    with _acquire(set, writable=True) as data:
        _fd_clr(value, data, x86)


def FD_ZERO(set: Any, /, *, abi: str | None = None) -> None:
    """winsock2.h FD_ZERO: fd_count = 0; the array is left as it was.

    ``set``: an FdSet, or a writable buffer in the layout ``abi`` (None: ``"x64"``).
    """
    x86 = _abi_of(set, abi)
    with _acquire(set, writable=True) as data:
        _check_header(data.nbytes, x86)
        _COUNT.pack_into(data, 0, 0)


def _fd_isset_any(fd: Any, set: Any, x86: bool, function: str, argument: str) -> int:
    """FD_ISSET over an FdSet or a foreign buffer in the layout ``x86`` (_abi_of's answer):
    the body of FD_ISSET and WPUFDIsSet, named ``function`` with ``fd`` as ``argument``."""
    value = _socket_value(fd, function, argument)
    with _acquire(set, writable=False) as data:
        return _fd_isset(value, data, x86)


def FD_ISSET(fd: Any, set: Any, /, *, abi: str | None = None) -> int:
    """winsock2.h FD_ISSET (__WSAFDIsSet): 1 if ``fd`` is among the first fd_count entries, else 0.

    ``set``: an FdSet (its own layout), or a buffer in the layout ``abi`` (None: ``"x64"``).
    """
    return _fd_isset_any(fd, set, _abi_of(set, abi), "FD_ISSET", "fd")


# --------------------------------------------------------------------------------------
# The handle table


class _SocketSlot:
    """A live socket: the provider's catalog entry id and context, and the completion port
    it is associated with (the port and the key, or None).  The association lives in the
    slot, so it ends with the socket: a later socket with the same value starts without."""

    __slots__ = ("catalog_entry_id", "context", "port")

    def __init__(self, catalog_entry_id: int, context: Any) -> None:
        self.catalog_entry_id = catalog_entry_id
        self.context = context
        self.port: tuple[_waits.CompletionPort, int] | None = None


_CONTEXT_OF = attrgetter("context")  # a _SocketSlot's context; AttributeError for anything else


class _EventSlot:
    """An event: manual-reset, so its state changes only by set and reset.

    A wait holds these objects, not handle values: after a close the object keeps its last
    state, and nothing can reach it to change that.
    """

    __slots__ = ("signalled",)

    def __init__(self) -> None:
        self.signalled = False


class _ThreadSlot:
    """A thread handle: the OS thread (``threading.get_ident()``) that opened it, to which the
    APCs queued through it go."""

    __slots__ = ("thread",)

    def __init__(self, thread: int) -> None:
        self.thread = thread


class _PortSlot:
    """A completion port handle: its packets and waiters (ws2core._waits.CompletionPort)."""

    __slots__ = ("port",)

    def __init__(self, port: _waits.CompletionPort) -> None:
        self.port = port


_Slot = _SocketSlot | _EventSlot | _ThreadSlot | _PortSlot


class _WaitSet:
    """The events of one wait, as objects, so a close cannot redirect it."""

    __slots__ = ("keys", "slots", "wait_all", "wake")

    def __init__(self, keys: list[int], slots: list[_EventSlot], wait_all: bool) -> None:
        self.keys = keys
        self.slots = slots
        self.wait_all = wait_all
        self.wake: Any = None

    def ready(self) -> int:
        """The index the wait returns now (wait-any: lowest signalled; wait-all: 0), or -1."""
        if self.wait_all:
            return 0 if all(slot.signalled for slot in self.slots) else -1
        for i, slot in enumerate(self.slots):
            if slot.signalled:
                return i
        return -1


def _checked_catalog_entry_id(catalog_entry_id: Any, function: str, argument: str) -> int:
    if catalog_entry_id.__class__ is not int:
        catalog_entry_id = as_index(catalog_entry_id, function, argument, "a DWORD")
    if not 0 <= catalog_entry_id <= _DWORD_MAX:
        raise ValueError(f"dwCatalogEntryId must be a DWORD (0..{_DWORD_MAX}), not {catalog_entry_id}")
    return catalog_entry_id  # type: ignore[no-any-return]


class HandleTable:
    """One Ws2_32 handle namespace: socket and event handles, their contexts and states.

    Sockets and events share one value space, as kernel handles do in a Windows process.
    Values are nonzero multiples of 4 below 2**32, never INVALID_SOCKET or WSA_INVALID_EVENT,
    taken from ``handle_range`` = (first, last) when one is given (default: 4 up to
    2**32 - 4), so that an emulator's own kernel objects can keep out of the table's way.
    Event handles ignore their two low tag bits (``e | 3`` names ``e``); socket handles
    compare by their full value.

    Reuse: Windows hands a closed value out again at once; ws2core does not.  Closed values
    wait in a FIFO, each stamped with the creation count at which it may return, so a value
    closed at any point is not handed out again by the next ``reuse_delay`` creations in this
    table, sockets and events together: a provider that uses a socket after closing it gets
    WSAENOTSOCK instead of silently reaching another socket.  ``reuse_delay`` is REUSE_DELAY
    (65,536) unless the range is too small: a table never uses more than max_handles +
    reuse_delay values, so a range of n values gives min(65,536, n - max_handles).  Fresh
    values are taken in order (first, first + 4, ...) while no closed value is due.

    At most ``max_handles`` handles are live at once (default 2**22, at most 2**24 and at most
    the range's values; with a small range and no max_handles, the range is split so that
    the quarantine keeps at least half of it, up to 65,536); beyond that creation fails with
    WSAENOBUFS (sockets) or WSA_NOT_ENOUGH_MEMORY (events).  Memory grows with the handles in
    use, not with ``max_handles``.

    ``abi`` is the emulated process's: ``"x64"`` (the default) or ``"x86"``, where SOCKET is
    4 bytes.  It decides the fd_set layout WPUFDIsSet reads from a bare buffer and the
    INVALID_SOCKET WPUCreateSocketHandle fails with (INVALID_SOCKET_X86 = 2**32 - 1).

    Contexts are held (a strong reference) until their socket is closed, and released only
    once the table is consistent again, so a context's ``__del__`` may use the table.  Every
    operation is safe from many threads.
    """

    __slots__ = (
        "_max_handles", "_first", "_reuse_delay", "_x86", "_live", "_closed", "_fresh",
        "_creations", "_sockets", "_threads", "_ports", "_lock", "_waiters", "_apc_queues",
        "__weakref__",
    )
    _max_handles: int
    _first: int
    _reuse_delay: int
    _x86: bool

    def __init__(self, *, max_handles: int | None = None,
                 handle_range: tuple[int, int] | None = None, abi: str = "x64") -> None:
        """A table of at most ``max_handles`` live handles, valued within ``handle_range``, for a
        process of the ABI ``abi``.

        ``max_handles``: 1..2**24 (None: 2**22, or less with a small ``handle_range``).
        ``handle_range``: ``(first, last)``, multiples of 4 with 4 <= first <= last < 2**32
        (None: 4..2**32-4).  ``abi``: ``"x64"`` (the default) or ``"x86"``, where SOCKET is 4
        bytes.  See the class's docstring for how they bound the table; calling __init__ again
        on a table cannot change them (RuntimeError).
        """
        x86 = checked_abi(abi)
        bounds = table_bounds(max_handles, handle_range)
        if hasattr(self, "_first"):
            if (bounds.first, bounds.max_handles, bounds.reuse_delay, x86) != (
                    self._first, self._max_handles, self._reuse_delay, self._x86):
                # Handle values and the quarantine's invariant rest on them.
                raise RuntimeError("HandleTable.__init__ cannot change the bounds or ABI of a table")
            return
        self._x86 = x86
        self._first = bounds.first
        self._max_handles = bounds.max_handles
        self._reuse_delay = bounds.reuse_delay
        # handle -> _SocketSlot | _EventSlot | _ThreadSlot | _PortSlot, oldest first: one dict
        # read is atomic, so lookups need no lock; creation and closing take it.
        self._live: dict[int, _Slot] = {}
        self._closed: deque[tuple[int, int]] = deque()  # (creation count it may return at, value)
        self._fresh = 0          # fresh values handed out so far; the next is first + 4 * _fresh
        self._creations = 0      # handles created so far, the clock of the quarantine
        self._sockets = 0
        self._threads = 0
        self._ports = 0
        # Re-entrant: a finalizer run by the cyclic GC inside a locked section may call back.
        self._lock = threading.RLock()
        # Waits in progress: event handle -> list of _WaitSet.
        self._waiters: dict[int, list[_WaitSet]] = {}
        # The APCs queued to the OS threads of this table (ApcQueues, shared with the Cython
        # core), made when first needed: the _apcs property.
        self._apc_queues: _waits.ApcQueues | None = None

    @property
    def _apcs(self) -> _waits.ApcQueues:
        """The table's ApcQueues (ws2core._waits reads it), made when first asked for: most
        tables never queue an APC, and an ApcQueues costs half of a bare table's making."""
        queues = self._apc_queues
        if queues is None:
            made = _waits.ApcQueues()
            with self._lock:   # two first askers get the same one
                if self._apc_queues is None:
                    self._apc_queues = made
                queues = self._apc_queues
        return queues

    @property
    def max_handles(self) -> int:
        """The cap on live handles, sockets and events together."""
        return self._max_handles

    @property
    def handle_range(self) -> tuple[int, int]:
        """``(first, last)``: the handle values this table hands out lie in first..last."""
        return (self._first, self._first + 4 * (self._max_handles + self._reuse_delay - 1))

    @property
    def reuse_delay(self) -> int:
        """The quarantine this table gives: a closed value is not handed out again by the next
        ``reuse_delay`` creations (REUSE_DELAY, unless the handle range is too small for it)."""
        return self._reuse_delay

    @property
    def abi(self) -> str:
        """The emulated process's ABI, ``"x64"`` or ``"x86"``: the fd_set layout WPUFDIsSet
        reads, and the INVALID_SOCKET WPUCreateSocketHandle fails with."""
        return ABIS[self._x86]

    # --- allocation

    def _create(self, slot: _Slot) -> int:
        """Give ``slot`` a handle value; 0 when the table is full."""
        with self._lock:
            if len(self._live) >= self._max_handles:
                return 0
            closed = self._closed
            # Past the last value of the range (only when adopted sockets were closed faster
            # than handles were created: an adoption is no creation) the oldest closed value
            # returns early.
            if closed and (closed[0][0] <= self._creations
                           or self._fresh >= self._max_handles + self._reuse_delay):
                handle = closed.popleft()[1]
            else:
                handle = self._first + 4 * self._fresh
                self._fresh += 1
            self._creations += 1
            self._live[handle] = slot
            if slot.__class__ is _SocketSlot:
                self._sockets += 1
            elif slot.__class__ is _ThreadSlot:
                self._threads += 1
            elif slot.__class__ is _PortSlot:
                self._ports += 1
            return handle

    def _adopt(self, handle: int, slot: _SocketSlot) -> int:
        """Give ``slot`` the value ``handle`` a provider proposes (WPUModifyIFSHandle): 0, or
        WSAENOBUFS when the table is full, WSAEINVAL when ``handle`` is not a value of the
        table's range that is free and out of quarantine.

        The fresh values below a fresh ``handle`` join the front of the closed FIFO, due at
        once (no handle ever had them), so they are the next ones handed out; adopting is no
        creation for the quarantine's clock.  The search stops at the first value not yet
        due: the due values lead the FIFO.
        """
        index, tag = divmod(handle - self._first, 4)
        if tag or not 0 <= index < self._max_handles + self._reuse_delay:
            return _WSAEINVAL
        with self._lock:
            if len(self._live) >= self._max_handles:
                return _WSAENOBUFS
            closed = self._closed
            if index >= self._fresh:
                skipped = range(self._first + 4 * (index - 1), self._first + 4 * self._fresh - 4, -4)
                closed.extendleft((self._creations, value) for value in skipped)
                self._fresh = index + 1
            else:
                for position, (due, value) in enumerate(closed):
                    if due > self._creations:
                        return _WSAEINVAL
                    if value == handle:
                        del closed[position]
                        break
                else:
                    return _WSAEINVAL
            self._live[handle] = slot
            self._sockets += 1
            return 0

    def _release(self, handle: int) -> _Slot:
        """Forget a live handle; the caller drops the returned slot once the lock is free."""
        entry = (self._creations + self._reuse_delay, handle)
        slot = self._live.pop(handle)
        self._closed.append(entry)
        if slot.__class__ is _SocketSlot:
            self._sockets -= 1
        elif slot.__class__ is _ThreadSlot:
            self._threads -= 1
        elif slot.__class__ is _PortSlot:
            self._ports -= 1
        return slot

    # --- sockets

    def create_socket(self, catalog_entry_id: Any, context: Any = None) -> int:
        """A new socket handle for the provider ``catalog_entry_id`` (a DWORD), holding ``context``.

        WinsockError(WSAENOBUFS) when the table is full; ValueError for a catalog entry id
        outside 0..2**32-1.
        """
        catalog = _checked_catalog_entry_id(
            catalog_entry_id, "HandleTable.create_socket", "catalog_entry_id")
        slot = _SocketSlot(catalog, context)
        handle = self._create(slot)
        if not handle:
            raise WinsockError(_WSAENOBUFS)
        return handle

    def adopt_socket(self, catalog_entry_id: Any, s: Any, /) -> int:
        """Make ``s``, a value a provider proposes (WPUModifyIFSHandle), a socket of this table
        for the provider ``catalog_entry_id``, without a context; returns ``s``.

        ``s`` must be a multiple of 4 in ``handle_range`` that no live handle holds and that
        is out of quarantine (or was never handed out): otherwise WinsockError(WSAEINVAL), and
        WinsockError(WSAENOBUFS) when the table is full.  ValueError for a catalog entry id
        outside 0..2**32-1.  Adopting a value far above those in use grows the table to it.
        An adoption is no creation for the quarantine's clock, so where adopted sockets close
        faster than handles are created, a table whose range runs out hands its oldest closed
        value out before its quarantine ends.
        """
        catalog = _checked_catalog_entry_id(
            catalog_entry_id, "HandleTable.adopt_socket", "catalog_entry_id")
        if s.__class__ is not int:
            s = as_index(s, "HandleTable.adopt_socket", "s", "a SOCKET")
        code = self._adopt(s, _SocketSlot(catalog, None))
        if code:
            raise WinsockError(code)
        return s  # type: ignore[no-any-return]

    def context(self, s: Any, /) -> Any:
        """The context of socket ``s``; WinsockError(WSAENOTSOCK) if ``s`` is not a live socket."""
        if s.__class__ is not int:
            s = as_index(s, "HandleTable.context", "s", "a SOCKET")
        slot = self._live.get(s)
        if slot.__class__ is not _SocketSlot:
            raise WinsockError(_WSAENOTSOCK)
        return slot.context

    def catalog_entry(self, s: Any, /) -> int:
        """The catalog entry id socket ``s`` was created with; WinsockError(WSAENOTSOCK)."""
        if s.__class__ is not int:
            s = as_index(s, "HandleTable.catalog_entry", "s", "a SOCKET")
        slot = self._live.get(s)
        if slot.__class__ is not _SocketSlot:
            raise WinsockError(_WSAENOTSOCK)
        return slot.catalog_entry_id

    def close_socket(self, s: Any, /) -> None:
        """Close socket ``s`` and release its context; WinsockError(WSAENOTSOCK)."""
        if s.__class__ is not int:
            s = as_index(s, "HandleTable.close_socket", "s", "a SOCKET")
        with self._lock:
            if self._live.get(s).__class__ is not _SocketSlot:
                raise WinsockError(_WSAENOTSOCK)
            slot = self._release(s)
        del slot  # the context's __del__, if any, runs now, with the table consistent

    # --- sockets by the batch

    def create_sockets(self, catalog_entry_id: Any, contexts: Iterable[Any], /) -> array[int]:
        """Create one socket for each item of ``contexts``, all for the provider ``catalog_entry_id``.

        Returns the new handles in order, as an ``array('Q')``.  ``contexts`` is any iterable (a
        None item: no context).  All or nothing: WinsockError(WSAENOBUFS), and no socket
        created, when the table cannot hold them all; ValueError for a catalog entry id outside
        0..2**32-1.  Each socket is the one ``create_socket`` would have made next.
        """
        catalog = _checked_catalog_entry_id(
            catalog_entry_id, "HandleTable.create_sockets", "catalog_entry_id")
        # Iteration runs Python code and the slots are allocated: all of it before the table
        # is read.
        slots = [_SocketSlot(catalog, context) for context in contexts]
        handles = array("Q")
        with self._lock:
            if len(slots) > self._max_handles - len(self._live):
                raise WinsockError(_WSAENOBUFS)
            create = self._create
            try:
                for slot in slots:
                    handle = create(slot)
                    if not handle:  # a finalizer filled the table meanwhile
                        raise WinsockError(_WSAENOBUFS)
                    handles.append(handle)
            except BaseException:  # undo, so that it stays all or nothing
                undone = [self._release(handle) for handle in handles]
                raise
        return handles

    def contexts(self, handles: Iterable[Any], /) -> list[Any]:
        """The contexts of many sockets, in order; ``handles`` is any iterable of ints (an
        ``array('Q')`` is read without making an int per handle).

        WinsockError(WSAENOTSOCK) naming the first that is not a live socket.
        """
        given, values = _batch(handles, "HandleTable.contexts")
        get = self._live.get
        try:
            return list(map(_CONTEXT_OF, map(get, values)))
        except AttributeError:  # None or an _EventSlot: find which, in order
            pass
        found = []
        for i, value in enumerate(values):
            slot = get(value)
            if slot.__class__ is not _SocketSlot:
                raise WinsockError(_WSAENOTSOCK, _not_a_socket(given, i))
            found.append(slot.context)
        return found

    def close_sockets(self, handles: Iterable[Any], /) -> list[Any]:
        """Close many sockets: those that are live sockets are closed, the others are returned.

        Returns the handles that were not live sockets (a closed one, an event, an unknown value,
        a second mention of one closed here), in order; an empty list when all were closed.  The
        contexts are released after the table is consistent again, so their finalizers may use it.
        """
        given, values = _batch(handles, "HandleTable.close_sockets")
        failed: list[Any] = []
        released: list[_Slot] = []
        with self._lock:
            live = self._live
            for item, value in zip(given, values):
                if live.get(value).__class__ is _SocketSlot:
                    released.append(self._release(value))
                else:
                    failed.append(item)
        del released  # the contexts' __del__, if any, run now, with the table consistent
        return failed

    # --- events

    def _event_slot(self, e: int) -> _EventSlot:
        """The live event the int ``e`` names (its tag bits ignored); WSA_INVALID_HANDLE."""
        slot = self._live.get(e & ~_TAG_BITS)
        if slot.__class__ is not _EventSlot:
            raise WinsockError(_WSA_INVALID_HANDLE)
        return slot

    def create_event(self) -> int:
        """A new manual-reset, non-signalled event; WinsockError(WSA_NOT_ENOUGH_MEMORY) when full."""
        handle = self._create(_EventSlot())
        if not handle:
            raise WinsockError(_WSA_NOT_ENOUGH_MEMORY)
        return handle

    def _notify(self, key: int) -> None:
        """Wake the waits on the event ``key``; its new state is already in place."""
        wait_sets = self._waiters.get(key)
        if wait_sets:
            for wait_set in tuple(wait_sets):  # a wake may end a wait: iterate a snapshot
                wait_set.wake()

    def set_event(self, e: Any, /) -> None:
        """Signal event ``e`` (no change if it is signalled); WinsockError(WSA_INVALID_HANDLE)."""
        if e.__class__ is not int:
            e = as_index(e, "HandleTable.set_event", "e", "a WSAEVENT")
        self._event_slot(e).signalled = True
        if self._waiters:
            self._notify(e & ~_TAG_BITS)

    def reset_event(self, e: Any, /) -> None:
        """Make event ``e`` non-signalled; WinsockError(WSA_INVALID_HANDLE)."""
        if e.__class__ is not int:
            e = as_index(e, "HandleTable.reset_event", "e", "a WSAEVENT")
        self._event_slot(e).signalled = False

    def event_is_set(self, e: Any, /) -> bool:
        """Whether event ``e`` is signalled; WinsockError(WSA_INVALID_HANDLE)."""
        if e.__class__ is not int:
            e = as_index(e, "HandleTable.event_is_set", "e", "a WSAEVENT")
        return self._event_slot(e).signalled

    def close_event(self, e: Any, /) -> None:
        """Close event ``e``; WinsockError(WSA_INVALID_HANDLE), for a socket handle too."""
        self._close_tagged(e, _EventSlot, _WSA_INVALID_HANDLE, "HandleTable.close_event", "e",
                           "a WSAEVENT")

    def _close_tagged(self, h: Any, slot_class: type, code: int, function: str, argument: str,
                      kind: str) -> None:
        """Close the live handle of ``slot_class`` that ``h`` names, its tag bits ignored (an
        event, a thread); WinsockError(code) when there is none."""
        if h.__class__ is not int:
            h = as_index(h, function, argument, kind)
        h &= ~_TAG_BITS
        with self._lock:
            if self._live.get(h).__class__ is not slot_class:
                raise WinsockError(code)
            self._release(h)

    # --- waits (the loop itself is ws2core._waits, shared by both cores)

    def wait(self, events: Iterable[Any], wait_all: bool = False, timeout: float | None = None,
             alertable: bool = False) -> int | None:
        """Wait until one of ``events`` is signalled (or all of them, with ``wait_all``).

        Returns the index of the lowest signalled event (wait-all: 0), or None when
        ``timeout`` seconds pass first (None: no limit; 0: poll).  1..64 events; the checks and
        their WinsockError codes follow WSAWaitForMultipleEvents: the count
        (WSA_INVALID_PARAMETER), then each handle in order (not a live event:
        WSA_INVALID_HANDLE), then for wait-all an event named twice (WSA_INVALID_PARAMETER).
        The GIL is released while the thread blocks; a set from any thread wakes it.
        Manual-reset events stay signalled after the wait.  An event closed during the wait
        keeps, for this wait, the state it had when closed: nothing can set it any more, so a
        wait that still needs it ends when its timeout does.

        ``alertable``: the APCs queued to the calling thread (``queue_apc``) run in this wait,
        oldest first, and it returns WSA_WAIT_IO_COMPLETION (192) after running them; an event
        already signalled wins over a pending APC.  An APC that raises: the exception
        propagates out of the wait, and the APCs after it stay queued.  Without
        ``alertable`` no APC ever runs.
        """
        return _waits.wait(self, events, wait_all, timeout, alertable)

    def sleep(self, seconds: float | None, alertable: bool = False) -> int:
        """SleepEx: block the calling thread for ``seconds`` (None: forever); returns 0.

        ``alertable``: returns WSA_WAIT_IO_COMPLETION (192) as soon as the APCs queued to the
        calling thread have run (at once if some are pending), as ``wait`` does.
        """
        return _waits.sleep(self, seconds, alertable)

    def wait_async(
        self, events: Iterable[Any], wait_all: bool = False, timeout: float | None = None
    ) -> Coroutine[Any, Any, int | None]:
        """``await table.wait_async(...)``: the same wait, without blocking the event loop.

        It spends no thread and no file descriptor of its own: a set from any thread wakes it
        through the running loop.  Cancelling the awaiting task removes the wait.  There is no
        alertable form (see ws2core._waits.wait_async for why).
        """
        return _waits.wait_async(self, events, wait_all, timeout)

    def _wait_set(self, handles: list[Any], wait_all: bool, function: str) -> _WaitSet:
        """The events of a wait, checked in the kernel's order (see ws2core._waits);
        ``function`` is the method waiting, for the messages."""
        values = [
            0 if handle is None else handle if handle.__class__ is int
            else _entry_value(handle, handles, function, "events", "a WSAEVENT")
            for handle in handles
        ]
        if not 1 <= len(values) <= _WSA_MAXIMUM_WAIT_EVENTS:
            raise WinsockError(
                _WSA_INVALID_PARAMETER,
                f"a wait takes 1..{_WSA_MAXIMUM_WAIT_EVENTS} events, not {len(values)}",
            )
        keys = [value & ~_TAG_BITS for value in values]
        slots = [self._event_slot(key) for key in keys]
        if wait_all and len(set(keys)) != len(keys):
            raise WinsockError(_WSA_INVALID_PARAMETER, "wait-all names an event twice")
        return _WaitSet(keys, slots, wait_all)

    def _wait_register(self, wait_set: _WaitSet, wake: Any) -> None:
        """From now on a set of any of the wait's events calls ``wake()``."""
        wait_set.wake = wake
        with self._lock:
            for key in wait_set.keys:
                self._waiters.setdefault(key, []).append(wait_set)

    def _wait_unregister(self, wait_set: _WaitSet) -> None:
        with self._lock:
            for key in wait_set.keys:
                wait_sets = self._waiters.get(key)
                if wait_sets is not None:
                    wait_sets.remove(wait_set)
                    if not wait_sets:
                        del self._waiters[key]

    # --- threads and APCs (the queues themselves are ws2core._waits.ApcQueues, shared)

    def _thread_slot(self, h: Any, function: str) -> _ThreadSlot:
        """The live thread handle ``h`` names (its tag bits ignored); WSAEFAULT."""
        if h.__class__ is not int:
            h = as_index(h, function, "h", "a thread handle")
        slot = self._live.get(h & ~_TAG_BITS)
        if slot.__class__ is not _ThreadSlot:
            raise WinsockError(_WSAEFAULT)
        return slot

    def open_thread(self) -> int:
        """A new thread handle naming the calling OS thread; WinsockError(WSAENOBUFS) when full.

        APCs queued through it (``queue_apc``) run on that thread, in its alertable waits.
        """
        handle = self._create(_ThreadSlot(threading.get_ident()))
        if not handle:
            raise WinsockError(_WSAENOBUFS)
        return handle

    def close_thread(self, h: Any, /) -> None:
        """Close thread handle ``h``; WinsockError(WSAEFAULT) if it is not a live thread handle.

        APCs already queued to its thread stay queued: they belong to the thread.
        """
        self._close_tagged(h, _ThreadSlot, _WSAEFAULT, "HandleTable.close_thread", "h",
                           "a thread handle")

    def queue_apc(self, h: Any, function: Any, context: Any = None, /) -> None:
        """Queue ``function(context)`` to the thread that thread handle ``h`` names.

        It runs on that thread, after the APCs queued before it, in the next alertable wait
        there (``wait(..., alertable=True)`` or ``sleep(..., alertable=True)``); a thread
        waiting alertably now is woken.  WinsockError(WSAEFAULT) if ``h`` is not a live thread
        handle; TypeError if ``function`` is not callable.
        """
        if not callable(function):
            raise TypeError(f"an APC must be callable, not {type(function).__name__}")
        self._apcs.queue(self._thread_slot(h, "HandleTable.queue_apc").thread, function, context)

    # --- completion ports (the queues themselves are ws2core._waits.CompletionPort, shared)

    def _port(self, h: Any, function: str) -> _waits.CompletionPort:
        """The port of the live port handle ``h`` (its tag bits ignored); WSA_INVALID_HANDLE."""
        if h.__class__ is not int:
            h = as_index(h, function, "port", "a port handle")
        slot = self._live.get(h & ~_TAG_BITS)
        if slot.__class__ is not _PortSlot:
            raise WinsockError(_WSA_INVALID_HANDLE, "not a completion port of this table")
        return slot.port

    def create_port(self) -> int:
        """A new completion port, with no packet and no socket; WinsockError(WSAENOBUFS) when
        the table is full."""
        handle = self._create(_PortSlot(_waits.CompletionPort()))
        if not handle:
            raise WinsockError(_WSAENOBUFS)
        return handle

    def close_port(self, port: Any, /) -> None:
        """Close port handle ``port``: its queued packets are dropped and the threads waiting
        on it fail with ERROR_ABANDONED_WAIT_0; WinsockError(WSA_INVALID_HANDLE)."""
        if port.__class__ is not int:
            port = as_index(port, "HandleTable.close_port", "port", "a port handle")
        port &= ~_TAG_BITS
        with self._lock:
            if self._live.get(port).__class__ is not _PortSlot:
                raise WinsockError(_WSA_INVALID_HANDLE, "not a completion port of this table")
            slot = cast(_PortSlot, self._release(port))
        slot.port.close()  # wakes the waiters: with the table consistent

    def associate_port(self, s: Any, port: Any, key: Any, /) -> None:
        """Associate socket ``s`` with completion port ``port``: the completions
        ``post_socket_completion`` reports for it are queued there with ``key`` (a ULONG_PTR).

        WinsockError(WSA_INVALID_HANDLE) when ``s`` is not a live socket or ``port`` not a
        live port; WinsockError(WSA_INVALID_PARAMETER) when ``s`` is associated already (a
        handle has one port for its life).  The association ends when the socket closes.
        """
        key = _waits.checked_key(key, "HandleTable.associate_port")
        if s.__class__ is not int:
            s = as_index(s, "HandleTable.associate_port", "s", "a SOCKET")
        target = self._port(port, "HandleTable.associate_port")
        with self._lock:
            slot = self._live.get(s)
            if slot.__class__ is not _SocketSlot:
                raise WinsockError(_WSA_INVALID_HANDLE, "not a socket handle of this table")
            if slot.port is not None:
                raise WinsockError(_WSA_INVALID_PARAMETER,
                                   "the socket is associated with a completion port already")
            slot.port = (target, key)

    def post_completion(self, port: Any, transferred: Any, key: Any, overlapped: Any, /) -> None:
        """PostQueuedCompletionStatus: queue the packet (``transferred`` bytes, ``key``,
        ``overlapped``, no error) to ``port``; WinsockError(WSA_INVALID_HANDLE)."""
        self._port(port, "HandleTable.post_completion").post(
            transferred, key, overlapped, 0, "HandleTable.post_completion")

    def post_socket_completion(self, s: Any, overlapped: Any, error: Any, transferred: Any, /) -> bool:
        """Queue the completion of an overlapped operation on socket ``s`` to the port it is
        associated with, with its key: True, or False when it has no port (or its port was
        closed).  WinsockError(WSAENOTSOCK) when ``s`` is not a live socket."""
        if s.__class__ is not int:
            s = as_index(s, "HandleTable.post_socket_completion", "s", "a SOCKET")
        slot = self._live.get(s)
        if slot.__class__ is not _SocketSlot:
            raise WinsockError(_WSAENOTSOCK)
        association = slot.port
        if association is None:
            return False
        target, key = association
        return target.post(transferred, key, overlapped, error, "HandleTable.post_socket_completion")

    def get_completions(self, port: Any, limit: Any = 1, timeout: float | None = None,
                        alertable: bool = False) -> list[tuple[int, int, Any, int]] | int:
        """GetQueuedCompletionStatus(Ex): up to ``limit`` packets of ``port`` as
        ``(transferred, key, overlapped, error)``, oldest first, as soon as there is one.

        ``timeout`` seconds (None: no limit; 0: poll) without a packet: []; ``alertable``:
        the calling thread's APCs run if it has some before a packet comes, and the call
        returns WSA_WAIT_IO_COMPLETION (192).  Threads waiting on one port are served last
        come, first served.  WinsockError(WSA_INVALID_HANDLE) when ``port`` is not a live
        port, WinsockError(ERROR_ABANDONED_WAIT_0) when it is closed during the wait.  The
        GIL is released while the thread blocks.
        """
        return _waits.get_completions(
            self, self._port(port, "HandleTable.get_completions"), limit, timeout, alertable)

    # --- the table as a whole

    def kind(self, h: Any, /) -> str | None:
        """``"socket"``, ``"event"``, ``"thread"``, ``"port"``, or None when ``h`` is not a
        live handle of this table."""
        if h.__class__ is not int:
            h = as_index(h, "HandleTable.kind", "h", "a SOCKET or WSAEVENT")
        if self._live.get(h).__class__ is _SocketSlot:
            return "socket"
        slot_class = self._live.get(h & ~_TAG_BITS).__class__
        if slot_class is _EventSlot:
            return "event"
        if slot_class is _ThreadSlot:
            return "thread"
        if slot_class is _PortSlot:
            return "port"
        return None

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, h: object, /) -> bool:
        if h.__class__ is not int:
            h = as_index(h, "HandleTable", None, "a SOCKET or WSAEVENT")
        return self.kind(h) is not None

    def __iter__(self) -> Iterator[int]:
        """The live handles, sockets, events, threads and ports, oldest first (a snapshot)."""
        return iter(list(self._live))

    def close(self) -> None:
        """Close every live handle, releasing every context; the table stays usable.

        The closed values are quarantined like any other.  APCs queued and not yet run are
        dropped, never run (their threads' handles are gone with the rest); ports are closed
        as ``close_port`` closes them.  Contexts and APCs are released after the table is
        consistent, so their finalizers may create or close handles.
        """
        with self._lock:
            released = self._live
            due = self._creations + self._reuse_delay
            entries = [(due, handle) for handle in released]
            self._live = {}
            self._closed.extend(entries)
            self._sockets = 0
            self._threads = 0
            self._ports = 0
        ports = [slot.port for slot in released.values() if slot.__class__ is _PortSlot]
        del released  # contexts are released here
        for port in ports:
            port.close()
        if self._apc_queues is not None:
            self._apc_queues.drop()

    def __enter__(self) -> HandleTable:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        sockets = self._sockets
        threads = self._threads
        ports = self._ports
        events = len(self._live) - sockets - threads - ports
        return (
            f"<HandleTable {sockets} socket{'' if sockets == 1 else 's'}, "
            f"{events} event{'' if events == 1 else 's'}, "
            f"{_kinds_note(threads, ports)}max {self._max_handles}"
            f"{bounds_note(self.handle_range, self._reuse_delay, self._x86)}>"
        )

    def __reduce__(self) -> Any:
        raise TypeError("a HandleTable cannot be pickled: its handles belong to this process")


# --------------------------------------------------------------------------------------
# Out-parameters and the hot upcalls
#
# Ref, the writes through an out-parameter (the core's own Ref without an attribute lookup),
# and HotUpcalls: the four upcalls a provider calls most, with their Windows signatures.


class Ref:
    """A minimal out-parameter holder: upcalls write ``.value``.

    ``ws2core.Ref()`` stands for a C out-parameter (``int *lpErrno``, ``DWORD_PTR
    *lpContext``): the upcall stores its result in ``.value``.  The cores write their own Ref
    without an attribute lookup; any object with a writable ``.value`` works as well.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any = None) -> None:
        """An out-parameter holding ``value`` until an upcall writes ``.value``."""
        self.value = value

    def __repr__(self) -> str:
        return f"Ref({self.value!r})"


class HotUpcalls:
    """The four hot upcalls over one HandleTable, with their Windows signatures.

    ``ws2core.UpcallTable`` derives from this class, so a provider's call such as
    ``up.WPUQuerySocketHandleContext(s, ctx, err)`` reaches the core's code directly, with no
    facade frame in between.  ``table`` is the HandleTable served.
    """

    __slots__ = ("table", "__weakref__")
    table: HandleTable

    def __new__(cls, table: HandleTable) -> HotUpcalls:
        if not isinstance(table, HandleTable):
            raise TypeError(
                f"table must be a HandleTable of {__name__}, not {type(table).__module__}."
                f"{type(table).__qualname__}"
            )
        self = object.__new__(cls)
        self.table = table
        return self

    def native_table(self) -> int:
        """The address of a WSPUPCALLTABLE (``<ws2core/ws2spi.h>``) serving this table, as an int.

        For providers written in C, through ctypes or cffi.  Its fifteen function pointers
        are this object's own entry points (each object that asks takes one of 64 sets; more
        is a RuntimeError), valid while this object lives.  They may be called from any thread,
        without the GIL: a context lookup reads the table lock-free, the other upcalls take
        the GIL.  See the README's "Providers written in C" for what C sees of a context.
        """
        raise RuntimeError(_NO_NATIVE_TABLE)

    def native_wait_table(self) -> int:
        """The address of a WS2COREWAITTABLE (``<ws2core/ws2spi.h>``) serving this table: the
        alertable waits a C thread calls to receive its APCs (ws2core's own entry points, from
        the same set as ``native_table()`` and valid as long as it)."""
        raise RuntimeError(_NO_NATIVE_TABLE)

    def native_capsule(self) -> Any:
        """The same WSPUPCALLTABLE pointer in a PyCapsule named ``"ws2core.WSPUPCALLTABLE"``.

        For C extensions (``PyCapsule_GetPointer``); the capsule keeps this object, and so the
        entry points, alive.
        """
        raise RuntimeError(_NO_NATIVE_TABLE)

    def WPUCreateSocketHandle(self, dwCatalogEntryId: Any, dwContext: Any, lpErrno: Any, /) -> int:
        """WPUCreateSocketHandle: a new socket handle holding ``dwContext``.

        Returns the handle, or INVALID_SOCKET with WSAENOBUFS in ``lpErrno`` when the table
        is full.  ``lpErrno`` is written only on failure.
        """
        table = self.table
        if dwCatalogEntryId.__class__ is not int:
            dwCatalogEntryId = as_index(
                dwCatalogEntryId, "WPUCreateSocketHandle", "dwCatalogEntryId", "a DWORD")
        if lpErrno.__class__ is not Ref:
            require_out_parameter(lpErrno, "lpErrno")
        catalog = _checked_catalog_entry_id(
            dwCatalogEntryId, "WPUCreateSocketHandle", "dwCatalogEntryId")
        slot = _SocketSlot(catalog, dwContext)
        handle = table._create(slot)
        if not handle:
            lpErrno.value = _WSAENOBUFS
            return _INVALID_SOCKET_X86 if table._x86 else _INVALID_SOCKET
        return handle

    def WPUQuerySocketHandleContext(self, s: Any, lpContext: Any, lpErrno: Any, /) -> int:
        """WPUQuerySocketHandleContext: store the context of socket ``s`` in ``lpContext``.

        Returns 0, or SOCKET_ERROR with WSAENOTSOCK in ``lpErrno``.  ``lpContext`` is written
        only on success, ``lpErrno`` only on failure.  A ctypes ``lpContext`` that cannot hold
        the context exactly is a TypeError, raised before anything is written.
        """
        table = self.table
        if s.__class__ is not int:
            s = as_index(s, "WPUQuerySocketHandleContext", "s", "a SOCKET")
        if lpContext.__class__ is not Ref:
            require_out_parameter(lpContext, "lpContext")
        if lpErrno.__class__ is not Ref:
            require_out_parameter(lpErrno, "lpErrno")
        slot = table._live.get(s)
        if slot.__class__ is not _SocketSlot:
            lpErrno.value = _WSAENOTSOCK
            return _SOCKET_ERROR
        if lpContext.__class__ is Ref:
            lpContext.value = slot.context
        else:
            store_context(lpContext, slot.context)
        return 0

    def WPUCloseSocketHandle(self, s: Any, lpErrno: Any, /) -> int:
        """WPUCloseSocketHandle: close socket ``s``, dropping the table's reference to its context.

        Returns 0, or SOCKET_ERROR with WSAENOTSOCK in ``lpErrno``.  Freeing what the context
        stands for stays the provider's job, as on Windows.
        """
        table = self.table
        if s.__class__ is not int:
            s = as_index(s, "WPUCloseSocketHandle", "s", "a SOCKET")
        if lpErrno.__class__ is not Ref:
            require_out_parameter(lpErrno, "lpErrno")
        with table._lock:
            if table._live.get(s).__class__ is not _SocketSlot:
                lpErrno.value = _WSAENOTSOCK
                return _SOCKET_ERROR
            slot = table._release(s)
        del slot  # the context's __del__, if any, runs now, with the table consistent
        return 0

    def WPUFDIsSet(self, s: Any, fdset: Any, /) -> int:
        """WPUFDIsSet: 1 if socket ``s`` is among the first fd_count entries of ``fdset``, else 0.

        ``fdset`` is a ws2core.FdSet (read in its own layout) or any C-contiguous buffer with
        the Windows fd_set layout of the table's ABI; an fd_count beyond the buffer is a
        ValueError (nothing past it is read).
        """
        return _fd_isset_any(s, fdset, _abi_of(fdset, None, self.table._x86), "WPUFDIsSet", "s")


# --------------------------------------------------------------------------------------
# Native table
#
# The twin has none: a native WSPUPCALLTABLE needs C entry points, which only the Cython core
# has.  HotUpcalls.native_table and native_capsule say so.


_NO_NATIVE_TABLE = (
    "a native WSPUPCALLTABLE needs the Cython core (ws2core._handles); this table belongs to "
    "the pure-Python twin, which has no C entry points"
)
