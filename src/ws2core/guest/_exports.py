"""The export table and its guard: how one guest call becomes one ``Ws2_32`` call.

Each family module registers its exports with ``@export(name, params, result, failure)``;
``Exports`` serves them to one emulated process.  Its ``hook(export)`` is what an adapter
hands its emulator: it reads the raw argument values in the guest's ABI, calls the export,
turns its failure into the guest thread's last error, and lets no exception out (the one
guard per export: an unexpected one is logged on the ``ws2core.guest`` logger and answered
with the export's documented failure), but for ``NotServed``, which a kernel32 export raises
for a handle that is not ws2core's and the adapter answers with its emulator's own handler.
The same hook caps every export's blocking at
``max_block``, once, through ``Ws2_32.blocking_limit``: no export needs to know; and as it
returns it copies the overlapped operations that completed meanwhile into guest memory
(``_overlapped``), so that every export, a wait above all, is a safe point for that.
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from .._shared import WinsockError
from ..constants import ERROR_NOACCESS, WSAEFAULT, WSAENETDOWN
from ..kernel32 import Kernel32
from ..ws2_32 import Ws2_32
from ._memory import INT32
from ._overlapped import GuestOverlapped
from ._protocol import Guest, GuestFunctionFault
from ._windows import GuestWindows

log: Final = logging.getLogger("ws2core.guest")

_Function = TypeVar("_Function", bound=Callable[..., Any])


@dataclass(frozen=True)
class Export:
    """One ws2_32 export served to a guest.

    ``params`` has a letter per C parameter, saying how to read the raw value an emulator
    hands over (a register on x64 holds garbage above a 32-bit argument): ``p`` a pointer,
    SOCKET or HANDLE (pointer-sized, unsigned), ``i`` an int or long (32-bit, signed), ``u``
    a DWORD, WORD, u_int or BOOL (32-bit, unsigned).  ``result`` is ``"p"`` (pointer-sized:
    SOCKET, WSAEVENT), ``"i"`` (32 bits: int, BOOL, DWORD) or ``"v"`` (void).  ``failure``
    is returned when the export raises WinsockError, whose code becomes the guest thread's
    last error; None for the exports without a failure value (WSAStartup returns the code
    itself; WSAGetLastError and WSASetLastError cannot fail).  ``last_error``: a result
    equal to ``failure`` is a failure, with the code in ``Ws2_32``'s last error when the
    export returned it (user32's exports only raise theirs; not so for __WSAFDIsSet, whose
    0 is an answer).  ``clears_last_error``: any other result is a
    success, which sets the guest thread's last error to 0 as Windows' socket functions do
    (False for the event functions, kernel32's calls on Windows, which leave it alone).
    ``internal``: the code an unexpected exception is answered with.  ``dll``: the module
    that exports it (ws2_32; kernel32 for a kernel call made on ws2core's handles; mswsock
    for the extension functions; user32 for the window and message calls).
    """

    name: str
    function: Callable[..., int | None]
    params: str
    result: str
    failure: int | None
    last_error: bool = True
    internal: int = WSAENETDOWN
    clears_last_error: bool = True
    dll: str = "ws2_32"


class NotServed(Exception):
    """A kernel32 call on handles that are not ws2core's (a file, a thread, the emulator's
    own event): the emulator's own handler must answer it, with the same arguments.

    ``Exports.hook``'s call lets it out, having touched nothing (no guest memory written, no
    last error set); the adapter catches it.  ``instead``: ``(name, args)``, the call of the
    same DLL that means the same for those handles, for an emulator that lacks this one
    (WaitForSingleObjectEx without an APC to deliver is WaitForSingleObject); None when
    there is none.
    """

    def __init__(self, instead: tuple[str, tuple[int, ...]] | None = None) -> None:
        super().__init__(f"not ws2core's handle{'' if instead is None else '; as ' + instead[0]}")
        self.instead = instead


WINSOCK_DLLS: Final = frozenset(("ws2_32", "mswsock"))
"""The DLLs whose exports report a guest memory fault as WSAEFAULT (the others, Win32's
ERROR_NOACCESS)."""

REGISTERED: list[Export] = []
"""Every export, in registration order (filled as the family modules are imported)."""


def export(name: str, params: str, result: str, failure: int | None, *, last_error: bool = True,
           internal: int = WSAENETDOWN, clears_last_error: bool = True, dll: str = "ws2_32",
           ) -> Callable[[_Function], _Function]:
    """Register the decorated ``function(exports, guest, *args)`` as ``dll``'s ``name``."""

    def register(function: _Function) -> _Function:
        REGISTERED.append(Export(name, function, params, result, failure, last_error, internal,
                                 clears_last_error, dll))
        return function

    return register


class Exports:
    """The ws2_32 exports of one emulated process, over its ``Ws2_32``.

    ``Exports(ws2_32, *, max_block=None)``: the guest's ABI is the Ws2_32's table's;
    ``max_block`` caps, in seconds, how long any export may block (an infinite wait
    included), for an emulator that runs no other guest thread meanwhile (None: no cap).
    Each hook call runs inside ``ws2_32.blocking_limit(max_block)``, on the emulator's
    thread only: a capped call returns what running out of its Windows timeout returns
    (``HostSocketProvider.blocking_limit`` lists them: select 0, WSAWaitForMultipleEvents
    WSA_WAIT_TIMEOUT, recv, connect and accept WSAETIMEDOUT, send the bytes that went or
    WSAETIMEDOUT).
    """

    def __init__(self, ws2_32: Ws2_32, *, max_block: float | None = None) -> None:
        if max_block is not None and not (math.isfinite(max_block) and max_block >= 0):
            raise ValueError(f"max_block must be a finite number of seconds >= 0, not {max_block}")
        self.ws2_32 = ws2_32
        self.kernel32 = Kernel32(ws2_32)   # the kernel32 exports' calls on the same handles
        self.max_block = max_block
        self.abi: str = ws2_32.upcalls.table.abi
        self.ptr_size = 8 if self.abi == "x64" else 4
        self._ptr_mask = (1 << (8 * self.ptr_size)) - 1
        self.overlapped = GuestOverlapped(ws2_32, self.abi, self.serving)
        """The guest's overlapped operations, whose completions each hook copies into guest
        memory as it returns (``ws2core.guest._overlapped``)."""
        self.windows = GuestWindows(ws2_32.upcalls)
        """The guest's window classes, windows and message queue (``ws2core.guest.windows``)."""
        self._serving: Guest | None = None   # the guest of the hook call in progress

    def close(self) -> None:
        """Forget the guest's overlapped operations: the process has ended, and nothing is
        written to its memory any more, and its windows leave the table (``Installation.close``
        calls it)."""
        self.overlapped.close()
        self.windows.close()

    def serving(self) -> Guest:
        """The guest of the hook call in progress on the emulator's thread (a guest APC
        runs inside one: ``ws2core.guest.apcs``); RuntimeError outside any."""
        if self._serving is None:
            raise RuntimeError("a guest function runs only inside a hooked call")
        return self._serving

    def __repr__(self) -> str:
        return f"<ws2core guest exports ({self.abi}) over {self.ws2_32!r}>"

    def hook(self, export: Export) -> Callable[[Guest, Sequence[int]], int | None]:
        """``call(guest, argv)`` for one export: ``argv`` the raw argument values, the result
        what goes to the guest's eax/rax (None: left alone); ``NotServed`` when the
        emulator's own handler is to answer instead."""
        function, failure, ws2_32 = export.function, export.failure, self.ws2_32
        mask = {"p": self._ptr_mask, "i": INT32, "v": 0}[export.result]
        failed = None if failure is None else failure & mask
        decoders = [self._decoder(kind) for kind in export.params]
        limit, max_block = ws2_32.blocking_limit, self.max_block
        clears = export.clears_last_error and export.last_error and failed is not None
        finished, flush = self.overlapped.finished, self.overlapped.flush

        def call(guest: Guest, argv: Sequence[int]) -> int | None:
            args = [decode(value) for decode, value in zip(decoders, argv)]
            outer, self._serving = self._serving, guest   # nested: a guest function's call
            try:
                try:
                    with limit(max_block):
                        result = function(self, guest, *args)
                    if result is None:
                        return None
                    result &= mask
                    if export.last_error and result == failed:
                        guest.set_last_error(ws2_32.WSAGetLastError())
                    elif clears:
                        guest.set_last_error(0)
                    return result
                except WinsockError as error:
                    code = error.winerror
                except GuestFunctionFault:
                    log.warning("%s.%s: a guest function it ran faulted", export.dll,
                                export.name, exc_info=True)
                    code = WSAEFAULT if export.dll in WINSOCK_DLLS else ERROR_NOACCESS
                except NotServed:
                    raise
                except Exception:  # a bug, in ws2core or below: never the emulator's problem
                    log.exception("ws2_32.%s failed inside ws2core", export.name)
                    code = export.internal
                if failed is None:   # WSAStartup's code is its result; a void leaves eax
                    return None if export.result == "v" else code & mask
                with contextlib.suppress(Exception):
                    guest.set_last_error(code)
                return failed
            finally:
                self._serving = outer
                # A safe point: the guest runs nothing until this returns.  The one cost
                # when nothing completed is this truth test.
                if finished:
                    flush(guest)

        return call

    def _decoder(self, kind: str) -> Callable[[int], int]:
        if kind == "p":
            return lambda value: value & self._ptr_mask
        if kind == "u":
            return lambda value: value & INT32
        if kind == "i":
            return lambda value: ((value & INT32) ^ 0x80000000) - 0x80000000
        raise ValueError(f"unknown parameter kind {kind!r}")


__all__ = ["REGISTERED", "Export", "Exports", "NotServed", "export", "log"]
