"""The pure-Python twin of ws2core._handles.

Same names, same behaviour, same errors and the same handle values as the Cython core: it is
the reference the core is tested against (in lockstep, by tests/test_differential.py), the
fallback where no compiler exists, and the baseline of every benchmark.  It is written as a
Python programmer would write it (a dict of live handles, a deque of closed values), not as a
transliteration of the C arrays; the methods come in the core's order, with its docstrings.
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
from typing import Any, ClassVar

from . import _waits
from . import constants as _constants
from ._shared import WinsockError, require_out_parameter, store_context

# Private aliases, as the core's C statics: the module's public names are its API alone.
_FD_SETSIZE = _constants.FD_SETSIZE
_INVALID_SOCKET = _constants.INVALID_SOCKET
_SOCKET_ERROR = _constants.SOCKET_ERROR
_WSA_INVALID_HANDLE = _constants.WSA_INVALID_HANDLE
_WSA_NOT_ENOUGH_MEMORY = _constants.WSA_NOT_ENOUGH_MEMORY
_WSAENOBUFS = _constants.WSAENOBUFS
_WSAENOTSOCK = _constants.WSAENOTSOCK
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

DEFAULT_MAX_HANDLES = 1 << 22
"""max_handles when none is given: large, but not unbounded."""
MAX_MAX_HANDLES = 1 << 24
"""The largest max_handles a table accepts (Wine's handle table stops near here too)."""
REUSE_DELAY = 65536
"""A closed handle value is not handed out again by the next REUSE_DELAY creations."""

_DWORD_MAX = 0xFFFFFFFF
_SOCKET_MAX = _INVALID_SOCKET  # 2**64 - 1: the largest value a SOCKET holds
_TAG_BITS = 3                 # the low handle bits the kernel ignores (OBJ_HANDLE_TAGBITS)
_HEADER = struct.Struct("<I")  # fd_count; 4 bytes of padding follow, then the SOCKETs
_SOCKET = struct.Struct("<Q")
_FD_ARRAY_OFFSET = 8


def _socket_value(fd: Any) -> int:
    """``fd`` as an int (TypeError for a non-int); -1 when no SOCKET can hold it."""
    if fd.__class__ is not int:
        fd = _index(fd)
    return fd if 0 <= fd <= _SOCKET_MAX else -1


_JUST_INT = frozenset({int})
_INTEGER_TYPECODES = frozenset("bBhHiIlLqQ")


def _batch(handles: Iterable[Any]) -> tuple[list[Any], list[int]]:
    """The items of a batch and their int values, every one converted before the table is read.

    TypeError for a non-int.  An array is read whole; when every item is an int, the two lists
    are one.
    """
    if isinstance(handles, array):
        given = handles.tolist()
        if handles.typecode in _INTEGER_TYPECODES:
            return given, given
    else:
        given = list(handles)
    if _JUST_INT.issuperset(map(type, given)):
        return given, given
    return given, [item if item.__class__ is int else _index(item) for item in given]


def _not_a_socket(given: list[Any], i: int) -> str:
    """The detail of a batch's WSAENOTSOCK: which entry, and its value."""
    item = given[i]
    shown = f"{item:#x}" if isinstance(item, int) else repr(item)
    return f"handles[{i}] = {shown} is not a live socket of this table"


class Ref:
    """A minimal out-parameter holder: upcalls write ``.value``.

    ``ws2core.Ref()`` stands for a C out-parameter (``int *lpErrno``, ``DWORD_PTR
    *lpContext``): the upcall stores its result in ``.value``.  The cores write their own Ref
    without an attribute lookup; any object with a writable ``.value`` works as well.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any = None) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"Ref({self.value!r})"


# --------------------------------------------------------------------------------------
# fd_set


class _FdSetHeader(ctypes.Structure):
    # A ctypes Structure so that FdSet exports its memory through the buffer protocol on
    # every supported Python (a class-level __buffer__ needs 3.12); FdSet.__init__ resizes it
    # to the whole fd_set.  Private field names keep ctypes' attributes out of the public API.
    _fields_ = [("_fd_count", ctypes.c_uint32), ("_padding", ctypes.c_uint32)]


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
        # (the core's check) has it; it is then refused for being shorter than 8 bytes.
        if not view.c_contiguous and view.nbytes:
            raise TypeError("fdset must be a C-contiguous buffer")
        if writable and view.readonly:
            raise TypeError("fdset is a read-only buffer; FD_SET, FD_CLR and FD_ZERO write to it")
        return view.cast("B") if view.nbytes else memoryview(b"")


def _checked_count(data: memoryview) -> int:
    """fd_count of ``data``; ValueError when the buffer is too short or fd_count exceeds it."""
    if data.nbytes < _FD_ARRAY_OFFSET:
        raise ValueError(f"an fd_set buffer needs at least 8 bytes, this one has {data.nbytes}")
    count: int = _HEADER.unpack_from(data, 0)[0]
    capacity = (data.nbytes - _FD_ARRAY_OFFSET) >> 3
    if count > capacity:
        raise ValueError(
            f"fd_count {count} exceeds the {capacity} SOCKETs this {data.nbytes}-byte fd_set holds"
        )
    return count


def _members(data: memoryview, count: int) -> tuple[int, ...]:
    return struct.unpack_from(f"<{count}Q", data, _FD_ARRAY_OFFSET)


def _fd_isset(value: int, data: memoryview) -> int:
    count = _checked_count(data)
    return 1 if value >= 0 and value in _members(data, count) else 0


def _fd_set(value: int, data: memoryview) -> bool:
    """Append ``value`` unless present or full (winsock2.h FD_SET); True when it is a member."""
    count = _checked_count(data)
    if value in _members(data, count):
        return True
    if count >= (data.nbytes - _FD_ARRAY_OFFSET) >> 3:
        return False
    _SOCKET.pack_into(data, _FD_ARRAY_OFFSET + 8 * count, value)
    _HEADER.pack_into(data, 0, count + 1)
    return True


def _fill(data: memoryview, handles: Iterable[Any], capacity: int) -> None:
    """FdSet(handles): what ``add`` does for each handle in turn (the same errors at the same
    handle), without its quadratic duplicate scan on big batches."""
    seen: set[int] = set()
    count = 0
    try:
        for fd in handles:
            value = _socket_value(fd)
            if value < 0:
                raise ValueError(f"{fd} is not a SOCKET value (0..2**64-1)")
            if value in seen:
                continue
            if count == capacity:
                raise ValueError(f"the fd_set is full ({capacity} SOCKETs); {fd} was not added")
            seen.add(value)
            _SOCKET.pack_into(data, _FD_ARRAY_OFFSET + 8 * count, value)
            count += 1
    finally:
        _HEADER.pack_into(data, 0, count)  # what was added before an error stays, as with add


def _fd_clr(value: int, data: memoryview) -> None:
    """Remove the first occurrence, keeping the order (winsock2.h FD_CLR).

    The old last slot keeps a stale copy of the former last entry, as the macro leaves it.
    """
    count = _checked_count(data)
    members = _members(data, count)
    if value < 0 or value not in members:
        return
    position = members.index(value)
    later = members[position + 1:]
    struct.pack_into(f"<{len(later)}Q", data, _FD_ARRAY_OFFSET + 8 * position, *later)
    _HEADER.pack_into(data, 0, count - 1)


class FdSet(_FdSetHeader):
    """A Windows x64 fd_set: ``u_int fd_count``, 4 bytes of padding, ``SOCKET fd_array[capacity]``.

    The object exports exactly those ``8 + 8 * capacity`` bytes through the buffer protocol
    (520 for the default FD_SETSIZE of 64), so ctypes, emulated guest memory and the FD_*
    functions all see the Windows layout.  Its memory never moves (the capacity is fixed), so
    views exported to C stay valid.  The Pythonic methods refuse to lose a handle (``add`` on a
    full set raises ValueError); the module's FD_* functions keep the macros' silence.
    Two FdSets are equal when their first fd_count entries are, in order.
    """

    __hash__: ClassVar[None]  # type: ignore[assignment]
    __hash__ = None  # mutable, like set

    def __init__(self, handles: Iterable[Any] = (), capacity: int = _FD_SETSIZE) -> None:
        capacity = _index(capacity)
        if not 1 <= capacity <= _DWORD_MAX:
            raise ValueError(f"capacity must be 1..{_DWORD_MAX}, not {capacity}")
        super().__init__()
        ctypes.resize(self, _FD_ARRAY_OFFSET + 8 * capacity)
        data = memoryview(self).cast("B")
        if _checked_count(data) != 0:  # __init__ called again on a used set: one by one
            for fd in handles:
                self.add(fd)
            return
        _fill(data, handles, capacity)

    @classmethod
    def from_buffer(cls, buffer: Any, /) -> FdSet:
        """A new FdSet holding a copy of a foreign fd_set (capacity: the buffer's, at least 1)."""
        with _acquire(buffer, writable=False) as data:
            count = _checked_count(data)
            fds = cls(capacity=max(1, (data.nbytes - _FD_ARRAY_OFFSET) >> 3))
            used = _FD_ARRAY_OFFSET + 8 * count
            memoryview(fds).cast("B")[:used] = data[:used]
        return fds

    @property
    def capacity(self) -> int:
        """How many SOCKETs the set can hold."""
        return (ctypes.sizeof(self) - _FD_ARRAY_OFFSET) >> 3

    def add(self, fd: Any, /) -> None:
        """Add ``fd`` unless present; ValueError if the set is full or no SOCKET holds ``fd``."""
        value = _socket_value(fd)
        if value < 0:
            raise ValueError(f"{fd} is not a SOCKET value (0..2**64-1)")
        if not _fd_set(value, memoryview(self).cast("B")):
            raise ValueError(f"the fd_set is full ({self.capacity} SOCKETs); {fd} was not added")

    def discard(self, fd: Any, /) -> None:
        """Remove ``fd`` if present (FD_CLR)."""
        _fd_clr(_socket_value(fd), memoryview(self).cast("B"))

    def clear(self) -> None:
        """Empty the set (FD_ZERO: fd_count = 0)."""
        self._fd_count = 0

    def __contains__(self, fd: object, /) -> bool:
        return _fd_isset(_socket_value(fd), memoryview(self).cast("B")) == 1

    def contains_each(self, handles: Iterable[Any], /) -> list[bool]:
        """For each of ``handles``, whether it is in the set (as ``in``): FD_ISSET for many."""
        values = _batch(handles)[1]
        data = memoryview(self).cast("B")
        # Members are 0..2**64-1, so a value no SOCKET holds (negative, huge) is never found.
        members = set(_members(data, _checked_count(data)))
        return list(map(members.__contains__, values))

    def __len__(self) -> int:
        return _checked_count(memoryview(self).cast("B"))

    def __iter__(self) -> Iterator[int]:
        data = memoryview(self).cast("B")
        return iter(_members(data, _checked_count(data)))

    def __eq__(self, other: object, /) -> bool:
        if not isinstance(other, FdSet):
            return NotImplemented
        return list(self) == list(other)

    def __bytes__(self) -> bytes:
        data = memoryview(self).cast("B")
        return bytes(data[: _FD_ARRAY_OFFSET + 8 * _checked_count(data)])

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (list(self), self.capacity))

    def __repr__(self) -> str:
        return f"FdSet({list(self)!r}, capacity={self.capacity})"


def FD_SET(fd: Any, set: Any, /) -> None:
    """winsock2.h FD_SET: append ``fd`` unless present; silently nothing when the set is full.

    ValueError for a value no SOCKET can hold (the macro would store a different number).
    """
    value = _socket_value(fd)
    with _acquire(set, writable=True) as data:
        if value < 0:
            raise ValueError(f"{fd} is not a SOCKET value (0..2**64-1)")
        _fd_set(value, data)


def FD_CLR(fd: Any, set: Any, /) -> None:
    """winsock2.h FD_CLR: remove the first occurrence of ``fd``, keeping the order."""
    value = _socket_value(fd)
    with _acquire(set, writable=True) as data:
        _fd_clr(value, data)


def FD_ZERO(set: Any, /) -> None:
    """winsock2.h FD_ZERO: fd_count = 0; the array is left as it was."""
    with _acquire(set, writable=True) as data:
        if data.nbytes < _FD_ARRAY_OFFSET:
            raise ValueError(f"an fd_set buffer needs at least 8 bytes, this one has {data.nbytes}")
        _HEADER.pack_into(data, 0, 0)


def FD_ISSET(fd: Any, set: Any, /) -> int:
    """winsock2.h FD_ISSET (__WSAFDIsSet): 1 if ``fd`` is among the first fd_count entries, else 0."""
    value = _socket_value(fd)
    with _acquire(set, writable=False) as data:
        return _fd_isset(value, data)


# --------------------------------------------------------------------------------------
# The handle table


class _SocketSlot:
    """A live socket: the provider's catalog entry id and context."""

    __slots__ = ("catalog_entry_id", "context")

    def __init__(self, catalog_entry_id: int, context: Any) -> None:
        self.catalog_entry_id = catalog_entry_id
        self.context = context


_CONTEXT_OF = attrgetter("context")  # a _SocketSlot's context; AttributeError for anything else


class _EventSlot:
    """An event: manual-reset, so its state changes only by set and reset.

    A wait holds these objects, not handle values: after a close the object keeps its last
    state, and nothing can reach it to change that.
    """

    __slots__ = ("signalled",)

    def __init__(self) -> None:
        self.signalled = False


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


def _checked_max_handles(max_handles: Any) -> int:
    max_handles = _index(max_handles)
    if not 1 <= max_handles <= MAX_MAX_HANDLES:
        raise ValueError(f"max_handles must be 1..{MAX_MAX_HANDLES}, not {max_handles}")
    return max_handles  # type: ignore[no-any-return]


def _checked_catalog_entry_id(catalog_entry_id: Any) -> int:
    catalog_entry_id = _index(catalog_entry_id)
    if not 0 <= catalog_entry_id <= _DWORD_MAX:
        raise ValueError(f"dwCatalogEntryId must be a DWORD (0..{_DWORD_MAX}), not {catalog_entry_id}")
    return catalog_entry_id  # type: ignore[no-any-return]


class HandleTable:
    """One Ws2_32 handle namespace: socket and event handles, their contexts and states.

    Sockets and events share one value space, as kernel handles do in a Windows process.
    Values are nonzero multiples of 4 below 2**32, never INVALID_SOCKET or WSA_INVALID_EVENT.
    Event handles ignore their two low tag bits (``e | 3`` names ``e``); socket handles
    compare by their full value.

    Reuse: Windows hands a closed value out again at once; ws2core does not.  Closed values
    wait in a FIFO, each stamped with the creation count at which it may return, so a value
    closed at any point is not handed out again by the next REUSE_DELAY (65,536) creations in
    this table, sockets and events together: a provider that uses a socket after closing it
    gets WSAENOTSOCK instead of silently reaching another socket.  Fresh values are taken in
    order (4, 8, 12, ...) while no closed value is due.

    At most ``max_handles`` handles are live at once (default 2**22, at most 2**24); beyond
    that creation fails with WSAENOBUFS (sockets) or WSA_NOT_ENOUGH_MEMORY (events).  Memory
    grows with the handles in use, not with ``max_handles``.

    Contexts are held (a strong reference) until their socket is closed, and released only
    once the table is consistent again, so a context's ``__del__`` may use the table.  Every
    operation is safe from many threads.
    """

    __slots__ = (
        "_max_handles", "_live", "_closed", "_fresh", "_creations", "_sockets", "_lock",
        "_waiters", "__weakref__",
    )

    def __init__(self, *, max_handles: int = DEFAULT_MAX_HANDLES) -> None:
        self._max_handles = _checked_max_handles(max_handles)
        # handle -> _SocketSlot | _EventSlot, oldest first: one dict read is atomic, so
        # lookups need no lock; creation and closing take it.
        self._live: dict[int, _SocketSlot | _EventSlot] = {}
        self._closed: deque[tuple[int, int]] = deque()  # (creation count it may return at, value)
        self._fresh = 0          # fresh slots handed out so far; the next is (_fresh + 1) * 4
        self._creations = 0      # handles created so far, the clock of the quarantine
        self._sockets = 0
        # Re-entrant: a finalizer run by the cyclic GC inside a locked section may call back.
        self._lock = threading.RLock()
        # Waits in progress: event handle -> list of _WaitSet.
        self._waiters: dict[int, list[_WaitSet]] = {}

    @property
    def max_handles(self) -> int:
        """The cap on live handles, sockets and events together."""
        return self._max_handles

    # --- allocation

    def _create(self, slot: _SocketSlot | _EventSlot) -> int:
        """Give ``slot`` a handle value; 0 when the table is full."""
        with self._lock:
            if len(self._live) >= self._max_handles:
                return 0
            closed = self._closed
            if closed and closed[0][0] <= self._creations:
                handle = closed.popleft()[1]
            else:
                self._fresh += 1
                handle = self._fresh << 2
            self._creations += 1
            self._live[handle] = slot
            if slot.__class__ is _SocketSlot:
                self._sockets += 1
            return handle

    def _release(self, handle: int) -> _SocketSlot | _EventSlot:
        """Forget a live handle; the caller drops the returned slot once the lock is free."""
        entry = (self._creations + REUSE_DELAY, handle)
        slot = self._live.pop(handle)
        self._closed.append(entry)
        if slot.__class__ is _SocketSlot:
            self._sockets -= 1
        return slot

    # --- sockets

    def create_socket(self, catalog_entry_id: Any, context: Any = None) -> int:
        """A new socket handle for the provider ``catalog_entry_id`` (a DWORD), holding ``context``.

        WinsockError(WSAENOBUFS) when the table is full; ValueError for a catalog entry id
        outside 0..2**32-1.
        """
        slot = _SocketSlot(_checked_catalog_entry_id(catalog_entry_id), context)
        handle = self._create(slot)
        if not handle:
            raise WinsockError(_WSAENOBUFS)
        return handle

    def context(self, s: Any, /) -> Any:
        """The context of socket ``s``; WinsockError(WSAENOTSOCK) if ``s`` is not a live socket."""
        if s.__class__ is not int:
            s = _index(s)
        slot = self._live.get(s)
        if slot.__class__ is not _SocketSlot:
            raise WinsockError(_WSAENOTSOCK)
        return slot.context

    def catalog_entry(self, s: Any, /) -> int:
        """The catalog entry id socket ``s`` was created with; WinsockError(WSAENOTSOCK)."""
        if s.__class__ is not int:
            s = _index(s)
        slot = self._live.get(s)
        if slot.__class__ is not _SocketSlot:
            raise WinsockError(_WSAENOTSOCK)
        return slot.catalog_entry_id

    def close_socket(self, s: Any, /) -> None:
        """Close socket ``s`` and release its context; WinsockError(WSAENOTSOCK)."""
        if s.__class__ is not int:
            s = _index(s)
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
        catalog = _checked_catalog_entry_id(catalog_entry_id)
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
        given, values = _batch(handles)
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
        given, values = _batch(handles)
        failed: list[Any] = []
        released: list[_SocketSlot | _EventSlot] = []
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

    def _event_slot(self, e: Any) -> _EventSlot:
        if e.__class__ is not int:
            e = _index(e)
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
            e = _index(e)
        self._event_slot(e).signalled = True
        if self._waiters:
            self._notify(e & ~_TAG_BITS)

    def reset_event(self, e: Any, /) -> None:
        """Make event ``e`` non-signalled; WinsockError(WSA_INVALID_HANDLE)."""
        self._event_slot(e).signalled = False

    def event_is_set(self, e: Any, /) -> bool:
        """Whether event ``e`` is signalled; WinsockError(WSA_INVALID_HANDLE)."""
        return self._event_slot(e).signalled

    def close_event(self, e: Any, /) -> None:
        """Close event ``e``; WinsockError(WSA_INVALID_HANDLE), for a socket handle too."""
        if e.__class__ is not int:
            e = _index(e)
        e &= ~_TAG_BITS
        with self._lock:
            if self._live.get(e).__class__ is not _EventSlot:
                raise WinsockError(_WSA_INVALID_HANDLE)
            self._release(e)

    # --- waits (the loop itself is ws2core._waits, shared by both cores)

    def wait(self, events: Iterable[Any], wait_all: bool = False, timeout: float | None = None) -> int | None:
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
        """
        return _waits.wait(self, events, wait_all, timeout)

    def wait_async(
        self, events: Iterable[Any], wait_all: bool = False, timeout: float | None = None
    ) -> Coroutine[Any, Any, int | None]:
        """``await table.wait_async(...)``: the same wait, without blocking the event loop.

        It spends no thread and no file descriptor of its own: a set from any thread wakes it
        through the running loop.  Cancelling the awaiting task removes the wait.
        """
        return _waits.wait_async(self, events, wait_all, timeout)

    def _wait_set(self, handles: list[Any], wait_all: bool) -> _WaitSet:
        """The events of a wait, checked in the kernel's order (see ws2core._waits)."""
        values = [0 if handle is None else _index(handle) for handle in handles]
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

    # --- the table as a whole

    def kind(self, h: Any, /) -> str | None:
        """``"socket"``, ``"event"``, or None when ``h`` is not a live handle of this table."""
        if h.__class__ is not int:
            h = _index(h)
        if self._live.get(h).__class__ is _SocketSlot:
            return "socket"
        if self._live.get(h & ~_TAG_BITS).__class__ is _EventSlot:
            return "event"
        return None

    def __len__(self) -> int:
        return len(self._live)

    def __contains__(self, h: object, /) -> bool:
        return self.kind(h) is not None

    def __iter__(self) -> Iterator[int]:
        """The live handles, sockets and events, oldest first (a snapshot)."""
        return iter(list(self._live))

    def close(self) -> None:
        """Close every live handle, releasing every context; the table stays usable.

        The closed values are quarantined like any other.  Contexts are released after the
        table is consistent, so their finalizers may create or close handles.
        """
        with self._lock:
            released = self._live
            due = self._creations + REUSE_DELAY
            entries = [(due, handle) for handle in released]
            self._live = {}
            self._closed.extend(entries)
            self._sockets = 0
        del released  # contexts are released here

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
        events = len(self._live) - sockets
        return (
            f"<HandleTable {sockets} socket{'' if sockets == 1 else 's'}, "
            f"{events} event{'' if events == 1 else 's'}, max {self._max_handles}>"
        )

    def __reduce__(self) -> Any:
        raise TypeError("a HandleTable cannot be pickled: its handles belong to this process")


_NO_NATIVE_TABLE = (
    "a native WSPUPCALLTABLE needs the Cython core (ws2core._handles); this table belongs to "
    "the pure-Python twin, which has no C entry points"
)


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
            dwCatalogEntryId = _index(dwCatalogEntryId)
        if lpErrno.__class__ is not Ref:
            require_out_parameter(lpErrno, "lpErrno")
        slot = _SocketSlot(_checked_catalog_entry_id(dwCatalogEntryId), dwContext)
        handle = table._create(slot)
        if not handle:
            lpErrno.value = _WSAENOBUFS
            return _INVALID_SOCKET
        return handle

    def WPUQuerySocketHandleContext(self, s: Any, lpContext: Any, lpErrno: Any, /) -> int:
        """WPUQuerySocketHandleContext: store the context of socket ``s`` in ``lpContext``.

        Returns 0, or SOCKET_ERROR with WSAENOTSOCK in ``lpErrno``.  ``lpContext`` is written
        only on success, ``lpErrno`` only on failure.  A ctypes ``lpContext`` that cannot hold
        the context exactly is a TypeError, raised before anything is written.
        """
        table = self.table
        if s.__class__ is not int:
            s = _index(s)
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
            s = _index(s)
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

        ``fdset`` is a ws2core.FdSet or any C-contiguous buffer with the Windows x64 fd_set
        layout; an fd_count beyond the buffer is a ValueError (nothing past it is read).
        """
        value = _socket_value(s)
        with _acquire(fdset, writable=False) as data:
            return _fd_isset(value, data)
