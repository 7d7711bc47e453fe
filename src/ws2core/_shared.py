"""What both cores share: the one WinsockError class, the out-parameter rules, the
table's bounds (its ABI, its handle range, its quarantine), the registry of the cores' FdSet
classes.

Both ``_handles`` (Cython) and ``_handles_py`` (the twin) import from here, so
``except ws2core.WinsockError`` catches either core, and an out-parameter is judged by one
piece of code whichever core writes it.  Neither core imports the other: what one must know
of the other (its FdSet class) is registered here.
"""

from __future__ import annotations

import ctypes
from operator import index as _index
from typing import Any, NamedTuple

from .constants import (
    WSA_INVALID_HANDLE,
    WSA_INVALID_PARAMETER,
    WSA_NOT_ENOUGH_MEMORY,
    WSAEFAULT,
    WSAENOBUFS,
    WSAENOTSOCK,
    errorname,
)

# The detail a WinsockError carries when the raiser gives none: what the code means here.
_DEFAULT_DETAIL = {
    WSAENOTSOCK: "not a socket handle of this table",
    WSAENOBUFS: "the handle table is full (max_handles live handles)",
    WSA_INVALID_HANDLE: "not an event handle of this table",
    WSA_NOT_ENOUGH_MEMORY: "the handle table is full (max_handles live handles)",
    WSA_INVALID_PARAMETER: "invalid parameter",
    WSAEFAULT: "not a thread handle of this table",
}


class WinsockError(OSError):
    """A Windows Sockets error, raised by the Pythonic ``HandleTable`` methods.

    ``winerror`` is the Windows code (``ws2core.WSAENOTSOCK`` ...), ``errno`` is None (a
    Windows code is not a host errno), and the message names the code:
    ``WSAENOTSOCK (10038): not a socket handle of this table``.
    """

    winerror: int
    detail: str | None

    def __init__(self, winerror: int, detail: str | None = None) -> None:
        if detail is None:
            detail = _DEFAULT_DETAIL.get(winerror)
        message = f"{errorname(winerror)} ({winerror})"
        if detail:
            message = f"{message}: {detail}"
        super().__init__(message)
        self.args = (winerror, detail)
        self.winerror = winerror
        self.detail = detail
        self._message = message

    def __str__(self) -> str:
        return self._message

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.winerror, self.detail))


# ---------------------------------------------------------------------------------------
# Arguments of the wrong type.  Python's own message ("'str' object cannot be interpreted as an
# integer") names neither the call nor the argument.  The cores take a plain int at C speed
# (the twin after one class test) and come here only for anything else, so naming costs the
# hot path nothing; one function words the message, so both cores say the same.

def not_an_int(
    value: object, function: str, argument: str | None, kind: str | None = None,
    item: int | None = None,
) -> TypeError:
    """The TypeError for ``value``, given where ``function`` takes an int ``argument``.

    ``kind`` says what the int stands for, in Windows' terms (``"a SOCKET"``); ``item`` is the
    position of ``value`` when ``argument`` is a sequence.  An ``argument`` of None stands for
    the left operand of ``in``, ``function`` then being the container's class:
    ``'in <FdSet>' requires an int (a SOCKET) as left operand, not str``.
    """
    wanted = "an int" if kind is None else f"an int ({kind})"
    given = type(value).__name__
    if argument is None:
        return TypeError(f"'in <{function}>' requires {wanted} as left operand, not {given}")
    if item is not None:
        argument = f"{argument}[{item}]"
    return TypeError(f"{function}() argument '{argument}' must be {wanted}, not {given}")


def has_index(value: object) -> bool:
    """Whether ``value`` can be an int at all (its type has ``__index__``), as the C API's
    PyIndex_Check, which the Cython core asks.  An ``__index__`` of its own that fails is the
    object's error, and keeps its own message."""
    return hasattr(type(value), "__index__")


def as_index(
    value: Any, function: str, argument: str | None, kind: str | None = None,
    item: int | None = None,
) -> int:
    """``operator.index(value)``, failing with ``not_an_int``'s TypeError when ``value`` has no
    ``__index__``."""
    try:
        return _index(value)
    except TypeError:
        if has_index(value):
            raise
        raise not_an_int(value, function, argument, kind, item) from None


# ---------------------------------------------------------------------------------------
# Out-parameters.  Upcalls write lpErrno / lpContext through any object with a writable
# ``.value`` (ctypes.c_int, ctypes.c_size_t, ws2core.Ref ...).  The cores write their own
# Ref directly; everything else comes through here.

# ctypes type codes that hold integers, and whether they are signed.  "P" is c_void_p,
# whose NULL reads back as None.
_CTYPES_INTEGER_CODES = {
    "b": True, "h": True, "i": True, "l": True, "q": True,
    "B": False, "H": False, "I": False, "L": False, "Q": False, "P": False,
}


def require_out_parameter(out: object, name: str) -> None:
    """TypeError unless ``out`` can be an out-parameter (it has a ``.value``)."""
    if not hasattr(out, "value"):
        raise TypeError(
            f"{name} must be an out-parameter with a writable .value "
            f"(ctypes.c_int, ctypes.c_size_t, ws2core.Ref), not {type(out).__name__}"
        )


def _describe_ctypes(kind: type) -> str:
    """A ctypes type as a message names it.

    The class name alone misleads: on LP64 hosts ``ctypes.c_size_t`` *is* ``c_ulong`` (and
    ``c_uint64``, ``c_ulonglong``), so a c_size_t reports itself as a c_ulong.  An integer type
    is described by its size and signedness too, and every ctypes name of the class is given.
    """
    name = kind.__name__
    if kind.__module__ == "ctypes":
        name = f"ctypes.{name}"
    aliases = sorted(
        alias for alias, value in vars(ctypes).items()
        if value is kind and alias.startswith("c_") and alias != kind.__name__
    )
    facts = []
    code = getattr(kind, "_type_", None)
    signed = _CTYPES_INTEGER_CODES.get(code) if isinstance(code, str) else None
    if signed is not None:
        facts.append(f"{'signed' if signed else 'unsigned'} {8 * ctypes.sizeof(kind)}-bit")
    if aliases:
        listed = ", ".join(aliases[:-1]) + (" and " if len(aliases) > 1 else "") + aliases[-1]
        facts.append(f"the same type as {listed}")
    return f"{name} ({'; '.join(facts)})" if facts else name


def _check_ctypes_fit(out: ctypes._SimpleCData[Any], value: object) -> None:
    """TypeError unless ``value`` would read back from ``out`` exactly as it went in."""
    code = getattr(type(out), "_type_", None)
    if code == "O":                       # ctypes.py_object holds any object unchanged
        return
    signed = _CTYPES_INTEGER_CODES.get(code) if isinstance(code, str) else None
    if signed is None:
        raise TypeError(
            f"lpContext is a {_describe_ctypes(type(out))}, which does not hold an integer; "
            "use ctypes.c_size_t or ctypes.c_uint64 for a DWORD_PTR"
        )
    if value is None and code == "P":     # a NULL c_void_p reads back as None
        return
    if not isinstance(value, int):
        raise TypeError(
            f"lpContext, a {_describe_ctypes(type(out))}, cannot hold the context, of type "
            f"{type(value).__name__}; use ws2core.Ref for object contexts"
        )
    bits = 8 * ctypes.sizeof(out)
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not low <= value <= high:
        # c_size_t is the advice only for a value it holds: for any other it may be the very
        # type that failed.
        advice = (
            "use ctypes.c_size_t or ctypes.c_uint64 for a DWORD_PTR" if 0 <= value < 1 << 64
            else "no DWORD_PTR (0..2**64-1) holds it either: use ws2core.Ref for such a context"
        )
        raise TypeError(
            f"the context {value} does not fit lpContext, a {_describe_ctypes(type(out))}, "
            f"which holds {low}..{high}; {advice}"
        )


def store_context(out: Any, context: object) -> None:
    """Write ``context`` to the lpContext out-parameter ``out``.

    A ctypes out-parameter that would change the context (truncation, sign, a non-int in an
    integer type, any non-integer type) is a TypeError raised before anything is written.
    """
    if isinstance(out, ctypes._SimpleCData):
        _check_ctypes_fit(out, context)
    out.value = context


# ---------------------------------------------------------------------------------------
# A table's bounds.  Both cores take their constructor arguments through here: the checks and
# the defaults are cold, and one piece of code keeps the two cores' handle values identical.

DEFAULT_MAX_HANDLES = 1 << 22
"""max_handles when none is given: large, but not unbounded."""
MAX_MAX_HANDLES = 1 << 24
"""The largest max_handles a table accepts (Wine's handle table stops near here too)."""
REUSE_DELAY = 65536
"""A closed handle value is not handed out again by the next REUSE_DELAY creations (less in a
table whose handle range is too small for it: see ``HandleTable.reuse_delay``)."""
ABIS = ("x64", "x86")
"""The ABIs an emulated process may have, by ``x86`` (False, True)."""
_HANDLE_LIMIT = 1 << 32  # handle values fit in 32 bits, as kernel handles do


def checked_abi(abi: object) -> bool:
    """True for ``"x86"``, False for ``"x64"``; ValueError (TypeError) for anything else."""
    if not isinstance(abi, str):
        raise TypeError(f"abi must be 'x64' or 'x86', not {type(abi).__name__}")
    if abi not in ABIS:
        raise ValueError(f"abi must be 'x64' or 'x86', not {abi!r}")
    return abi == "x86"


def bounds_note(handle_range: tuple[int, int], reuse_delay: int, x86: bool) -> str:
    """What a table's repr adds for a handle range that constrains it, and for the x86 ABI."""
    first, last = handle_range
    ranged = first != 4 or reuse_delay != REUSE_DELAY
    note = f", handles {first:#x}..{last:#x}" if ranged else ""
    return note + (", x86" if x86 else "")


def kinds_note(threads: int, ports: int) -> str:
    """What a table's repr says of its thread and port handles: nothing of a kind it has
    none of."""
    return "".join(
        f"{count} {noun}{'' if count == 1 else 's'}, "
        for count, noun in ((threads, "thread"), (ports, "port")) if count)


class TableBounds(NamedTuple):
    first: int          # the lowest handle value; the n-th slot's value is first + 4 * n
    last: int           # the highest value the range allows
    max_handles: int
    reuse_delay: int    # a closed value stays out for at least this many creations


def table_bounds(max_handles: Any, handle_range: Any) -> TableBounds:
    """The checked bounds of a table made with ``max_handles`` (None: the default) and
    ``handle_range`` (None: 4 up to 2**32 - 4).

    Handle values are handed out from ``first`` upwards, and a table never uses more than
    ``max_handles + reuse_delay`` values: that many always leaves a closed value due when the
    fresh ones run out.  A range holding fewer values shrinks the quarantine to what is left
    over ``max_handles``; with max_handles left to its default, the range is split so that the
    quarantine keeps at least half of it (up to REUSE_DELAY).
    """
    if handle_range is None:
        if max_handles is None and _DEFAULT_BOUNDS is not None:
            return _DEFAULT_BOUNDS   # a table made with no arguments checks nothing
        first, last = 4, _HANDLE_LIMIT - 4
    else:
        try:
            first, last = handle_range
        except (TypeError, ValueError):
            raise TypeError(
                f"handle_range must be a pair (first, last), not {handle_range!r}") from None
        if first.__class__ is not int:
            first = as_index(first, "HandleTable", "handle_range", None, 0)
        if last.__class__ is not int:
            last = as_index(last, "HandleTable", "handle_range", None, 1)
        if not (0 < first <= last < _HANDLE_LIMIT and first % 4 == 0 and last % 4 == 0):
            raise ValueError(
                f"handle_range must be (first, last) with 4 <= first <= last < 2**32, both "
                f"multiples of 4, not ({first:#x}, {last:#x})"
            )
    values = (last - first) // 4 + 1
    if max_handles is None:
        max_handles = min(DEFAULT_MAX_HANDLES, values - min(REUSE_DELAY, values // 2))
    else:
        if max_handles.__class__ is not int:
            max_handles = as_index(max_handles, "HandleTable", "max_handles")
        if not 1 <= max_handles <= MAX_MAX_HANDLES:
            raise ValueError(f"max_handles must be 1..{MAX_MAX_HANDLES}, not {max_handles}")
        if max_handles > values:
            raise ValueError(
                f"max_handles {max_handles} exceeds the {values} handle values of "
                f"handle_range ({first:#x}, {last:#x})"
            )
    return TableBounds(first, last, max_handles, min(REUSE_DELAY, values - max_handles))


_DEFAULT_BOUNDS: TableBounds | None = None
_DEFAULT_BOUNDS = table_bounds(None, None)


# ---------------------------------------------------------------------------------------
# The cores' FdSet classes.  An FdSet is read in its own layout whichever core's FD_* function
# or WPUFDIsSet reads it (a provider holding ws2core.FdSet may serve a table of the other
# core), so each core must recognise the other's sets without importing it: a core never
# imported has made no FdSet, and importing one core must not load the other.

_OTHER_FD_SETS: dict[type, list[type]] = {}  # a core's FdSet -> the other cores' FdSets


def register_fd_set(cls: type) -> list[type]:
    """Register a core's FdSet class (each core does, at its import); returns the FdSet classes
    of the other cores.

    The list returned is the registry's own and grows as other cores register, so a core keeps
    it and reads it at each call: the Cython core walks it with a C subtype test.
    """
    others = _OTHER_FD_SETS.get(cls)
    if others is None:
        others = list(_OTHER_FD_SETS)
        for registered in _OTHER_FD_SETS.values():
            registered.append(cls)
        _OTHER_FD_SETS[cls] = others
    return others


def fd_set_bytes_error(handles: object) -> TypeError | None:
    """The TypeError for the bytes of an fd_set given to ``FdSet()`` as its handles; None when
    ``handles`` is no such thing.

    FdSet(handles) iterates ``handles``, and a bytes-like object iterates to its bytes:
    ``FdSet(b"...")`` would quietly hold one SOCKET per byte.  A buffer is taken as handles
    only when it is a one-dimensional array of items wider than a byte (an ``array('Q')``, a
    ctypes array of c_uint64), whose iteration gives the values themselves, or when it is an
    FdSet (of either core), which iterates to its members.  Anything else that exports a
    buffer (bytes, a bytearray, a memoryview of bytes, a ctypes fd_set) is refused, pointing to
    ``FdSet.from_buffer``.
    """
    if isinstance(handles, tuple(_OTHER_FD_SETS)):
        return None
    try:
        view = memoryview(handles)  # type: ignore[arg-type]
    except (TypeError, BufferError):
        return None
    with view:
        if view.ndim == 1 and view.itemsize > 1:
            return None
    return TypeError(
        f"FdSet() argument 'handles' must be an iterable of SOCKET values, not "
        f"{type(handles).__name__}: use FdSet.from_buffer(...) for the bytes of an fd_set"
    )
