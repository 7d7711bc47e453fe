"""What both cores share: the one WinsockError class and the out-parameter rules.

Both ``_handles`` (Cython) and ``_handles_py`` (the twin) import from here, so
``except ws2core.WinsockError`` catches either core, and an out-parameter is judged by one
piece of code whichever core writes it.
"""

from __future__ import annotations

import ctypes
from typing import Any

from .constants import (
    WSA_INVALID_HANDLE,
    WSA_INVALID_PARAMETER,
    WSA_NOT_ENOUGH_MEMORY,
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


def _check_ctypes_fit(out: ctypes._SimpleCData[Any], value: object) -> None:
    """TypeError unless ``value`` would read back from ``out`` exactly as it went in."""
    code = getattr(type(out), "_type_", None)
    if code == "O":                       # ctypes.py_object holds any object unchanged
        return
    signed = _CTYPES_INTEGER_CODES.get(code) if isinstance(code, str) else None
    if signed is None:
        raise TypeError(
            f"lpContext is a ctypes {type(out).__name__}, which does not hold an integer; "
            "use ctypes.c_size_t or ctypes.c_uint64 for a DWORD_PTR"
        )
    if value is None and code == "P":     # a NULL c_void_p reads back as None
        return
    if not isinstance(value, int):
        raise TypeError(
            f"the context is a {type(value).__name__}, which a ctypes "
            f"{type(out).__name__} cannot hold; use ws2core.Ref for object contexts"
        )
    bits = 8 * ctypes.sizeof(out)
    low, high = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    if not low <= value <= high:
        raise TypeError(
            f"the context {value} does not fit a ctypes {type(out).__name__} "
            f"({low}..{high}); use ctypes.c_size_t or ctypes.c_uint64 for a DWORD_PTR"
        )


def store_context(out: Any, context: object) -> None:
    """Write ``context`` to the lpContext out-parameter ``out``.

    A ctypes out-parameter that would change the context (truncation, sign, a non-int in an
    integer type, any non-integer type) is a TypeError raised before anything is written.
    """
    if isinstance(out, ctypes._SimpleCData):
        _check_ctypes_fit(out, context)
    out.value = context
