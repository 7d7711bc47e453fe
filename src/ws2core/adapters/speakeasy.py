"""ws2core behind a Speakeasy guest's Winsock: real sockets on the host for emulated programs.

Speakeasy (Mandiant's Windows emulator, ``pip install 'ws2core[speakeasy]'``) answers a
guest's Winsock calls with a fake network: ``__WSAFDIsSet`` always says 1, sends vanish and
waits return at once.  ``install(se)`` replaces those answers, through Speakeasy's public
``Speakeasy.add_api_hook`` and nothing else, with ws2core: an ``UpcallTable`` that holds the
guest's sockets and events, and a ``HostSocketProvider`` that turns its sockets into host
sockets (on 127.0.0.1, say)::

    import speakeasy
    from ws2core.adapters.speakeasy import install

    se = speakeasy.Speakeasy(argv=["127.0.0.1", "5000"])
    module = se.load_module("client.exe")
    with install(se) as installation:       # after load_module: the guest's pointer size
        se.run_module(module)               # picks the ABI (x64 or x86)
    # every socket closed, every handle gone from installation.table

The hooked functions are ``HOOKED_APIS``: WSAStartup, WSACleanup, socket, closesocket, bind,
getsockname, getpeername, listen, connect, accept, send, recv, shutdown, ioctlsocket
(FIONBIO, FIONREAD), select, __WSAFDIsSet, WSACreateEvent, WSASetEvent, WSAResetEvent,
WSACloseEvent, WSAWaitForMultipleEvents, WSAEventSelect, WSAEnumNetworkEvents,
WSAGetLastError and WSASetLastError.  Each returns what Windows returns; a failure returns
the documented failure value (SOCKET_ERROR, INVALID_SOCKET, WSA_INVALID_EVENT, FALSE,
WSA_WAIT_FAILED; WSAStartup its error code) and sets the calling guest thread's last error.
A NULL or unmapped guest pointer is WSAEFAULT, never an exception in the emulator; a value
that is not a live socket of the table is WSAENOTSOCK, and one that is not a live event
WSA_INVALID_HANDLE, as on Windows.

What the adapter assumes of Speakeasy (1.5.11 is tested; 2.x has the same ``add_api_hook``):

- **One process.** A ``Speakeasy`` object emulates one process, which gets one UpcallTable
  (one Ws2_32 instance).  Child processes emulated with ``emulate_children=True`` reach the
  same hooks, so they share that table, unlike separate Windows processes.
- **One guest thread at a time.** Speakeasy runs guest threads one after the other in the
  thread that called ``run_module``, and a hook blocks it: while a guest thread waits, no
  other guest thread can run to wake it.  So every wait is capped at ``max_block`` seconds
  (WSAWaitForMultipleEvents then returns WSA_WAIT_TIMEOUT, select 0, even for an infinite
  wait).  Host threads still run meanwhile, the provider's reactor thread among them, and
  ws2core's waits are real: an event set from a host thread wakes the guest at once.  A
  blocking connect, accept or recv waits for the host's answer without a cap: its peer
  must be outside the emulator (or the socket made non-blocking).
- **Last error.** The last error is the current guest thread's Win32 last error, which
  Speakeasy keeps per thread (``emu.set_last_error``), so the guest's GetLastError agrees
  with WSAGetLastError, as on Windows (where WSAGetLastError is GetLastError).  Speakeasy's
  own GetLastError clears the value after reading it; WSAGetLastError here does not.
- **Hooks stay.** Speakeasy cannot remove a hook; after ``close()`` the hooks still answer,
  with WSANOTINITIALISED until the next WSAStartup.
- **Memory.** A guest range is readable and writable when Speakeasy has it mapped: its
  emulator maps a loaded image writable where Windows would not, and this adapter does not
  look at page protections, so a write into a read-only section succeeds here.
- **No guest function runs.** ``Guest.run_function`` (APCs, completion routines) raises
  NotImplementedError: nothing served yet needs it.

This module is only the Speakeasy side (layer 5): the hooks and a ``ws2core.guest.Guest``
over Speakeasy's emulator.  The exports live in ``ws2core.guest`` (layer 4), the API they
call in ``ws2core.ws2_32.Ws2_32`` (layer 3).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from typing import Any, Final

from .. import UpcallTable
from ..guest import EXPORTS, Export, Exports, GuestFault
from ..provider import HostSocketProvider
from ..ws2_32 import Ws2_32

__all__ = ["EXTRA", "HOOKED_APIS", "Installation", "install"]

EXTRA: Final = "ws2core[speakeasy]"
"""The pip extra that installs Speakeasy beside ws2core."""

HOOKED_APIS: Final[tuple[str, ...]] = tuple(export.name for export in EXPORTS)
"""The ws2_32 exports ``install()`` hooks."""


def _import_speakeasy() -> tuple[int, tuple[type[BaseException], ...]]:
    """Speakeasy's stdcall constant and the exceptions its guest memory access raises.

    Speakeasy's emulator object (what a hook receives) lets unicorn's ``UcError`` through
    for an unmapped address (UC_ERR_READ_UNMAPPED, UC_ERR_WRITE_UNMAPPED); the
    ``Speakeasy`` wrapper turns it into ``SpeakeasyError``.  Both are a GuestFault here.
    """
    try:
        # import_module: neither package ships type information, and ws2core is checked
        # with mypy --strict wherever they are installed or not.
        errors = importlib.import_module("speakeasy.errors")
        arch = importlib.import_module("speakeasy.winenv.arch")
        unicorn = importlib.import_module("unicorn")
    except ImportError as missing:
        raise ImportError(
            "ws2core.adapters.speakeasy needs Speakeasy (the speakeasy-emulator package): "
            f"pip install '{EXTRA}'  [{missing}]"
        ) from missing
    stdcall: int = arch.CALL_CONV_STDCALL
    return stdcall, (unicorn.UcError, errors.SpeakeasyError)


class _Guest:
    """A ``ws2core.guest.Guest`` over the emulator object one hook call receives."""

    __slots__ = ("_emu", "_faults", "ptr_size")

    def __init__(self, emu: Any, faults: tuple[type[BaseException], ...], ptr_size: int) -> None:
        self._emu = emu
        self._faults = faults
        self.ptr_size = ptr_size

    def read(self, address: int, size: int) -> bytes:
        try:
            # The far end first: a range that ends unmapped is refused before a large copy.
            self._emu.mem_read(address + size - 1, 1)
            return bytes(self._emu.mem_read(address, size))
        except self._faults:
            raise GuestFault(f"{size} bytes at {address:#x} are not all mapped") from None

    def write(self, address: int, data: bytes) -> None:
        try:
            self._emu.mem_write(address, data)
        except self._faults:
            raise GuestFault(f"{len(data)} bytes at {address:#x} are not all mapped") from None

    def readable(self, address: int, size: int) -> bool:
        try:
            self.read(address, size)
        except GuestFault:
            return False
        return True

    writable = readable  # what is mapped (the module's docstring says what that misses)

    def thread_id(self) -> int:
        thread = self._emu.get_current_thread()
        return 0 if thread is None else int(getattr(thread, "tid", 0))

    def get_last_error(self) -> int:
        """The current guest thread's last error (0 when Speakeasy has no current thread)."""
        code = self._emu.get_last_error()
        return 0 if code is None else int(code)

    def set_last_error(self, code: int) -> None:
        self._emu.set_last_error(code)

    def run_function(self, address: int, args: Sequence[int]) -> int:
        raise NotImplementedError("the Speakeasy adapter runs no guest function yet")


class Installation:
    """ws2core serving one Speakeasy guest: what ``install()`` returns.

    ``table`` is the ``ws2core.UpcallTable`` that holds the guest's sockets and events
    (``table.table`` its HandleTable, in the guest's ABI: ``abi`` is ``"x64"`` or
    ``"x86"``); ``provider`` the ``HostSocketProvider`` behind its sockets, started by the
    guest's WSAStartup; ``ws2_32`` the ``ws2core.ws2_32.Ws2_32`` the exports call and
    ``exports`` the ``ws2core.guest.Exports`` the hooks serve; ``max_block`` the longest a
    hook waits, in seconds.  ``close()`` (or leaving a ``with`` block) closes the provider's
    sockets and every handle left in the table.  Made by ``install()``, which checks the
    arguments.
    """

    def __init__(self, exports: Exports, faults: tuple[type[BaseException], ...]) -> None:
        self.exports = exports
        self.ws2_32 = exports.ws2_32
        self.table = self.ws2_32.upcalls
        self.provider = self.ws2_32.provider
        self.max_block: float = exports.max_block if exports.max_block is not None else math.inf
        self.abi = exports.abi
        self._faults = faults

    def __repr__(self) -> str:
        return f"<ws2core Speakeasy installation ({self.abi}) over {self.table!r}>"

    def __enter__(self) -> Installation:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every socket of the provider and every handle left in the table."""
        self.ws2_32.close()

    def _hook(self, export: Export) -> Callable[[Any, str, Any, list[int]], int | None]:
        """The Speakeasy callback ``cb(emu, api_name, original, argv)`` for one export.

        ``emu`` is Speakeasy's emulator object, ``argv`` the raw argument values; the result
        goes to the guest's eax/rax (None: left alone).  Speakeasy's own handler
        (``original``, None for the exports Speakeasy lacks) is never called.
        """
        call = self.exports.hook(export)
        faults, ptr_size = self._faults, self.exports.ptr_size

        def hook(emu: Any, api_name: str, original: Any, argv: list[int]) -> int | None:
            return call(_Guest(emu, faults, ptr_size), argv)

        return hook


def install(se: Any, table: UpcallTable | None = None, provider: HostSocketProvider | None = None,
            *, max_block: float = 10.0) -> Installation:
    """Serve the Winsock calls of ``se``'s guest (a ``speakeasy.Speakeasy``) from ws2core.

    Call it after ``se.load_module()`` (or ``load_shellcode``): the guest's pointer size
    chooses the ABI, ``"x64"`` or ``"x86"``.  ``table``: the ``ws2core.UpcallTable`` to serve
    from, in that ABI (default: a new one); ``provider``: the ``HostSocketProvider`` behind
    its sockets, not started with another table (default: a new one).  ``max_block``: the
    longest, in seconds, that one call may block the emulator in a wait
    (WSAWaitForMultipleEvents, select), since no other guest thread runs meanwhile.

    Registers one hook per ``HOOKED_APIS`` export of ws2_32 with ``se.add_api_hook``, with
    the export's argument count and stdcall (WSAAPI), which Speakeasy uses to clean a 32-bit
    guest's stack for the exports it does not implement itself.  Returns the
    ``Installation``; ImportError naming the extra ``ws2core[speakeasy]`` when Speakeasy is
    missing.
    """
    stdcall, faults = _import_speakeasy()
    try:
        ptr_size = se.get_ptr_size()
    except AttributeError:
        raise RuntimeError(
            "install() goes after se.load_module() (or load_shellcode()): the guest's pointer "
            "size chooses the ABI") from None
    if ptr_size not in (4, 8):
        raise ValueError(f"a guest pointer of {ptr_size} bytes is neither x86 nor x64")
    abi = "x64" if ptr_size == 8 else "x86"
    if table is None:
        table = UpcallTable(abi=abi)
    elif isinstance(table, UpcallTable) and table.table.abi != abi:
        raise ValueError(f"the table's ABI is {table.table.abi!r}; the guest is {abi}")
    exports = Exports(Ws2_32(table, provider=provider), max_block=float(max_block))
    installation = Installation(exports, faults)
    for export in EXPORTS:
        se.add_api_hook(installation._hook(export), "ws2_32", export.name,
                        argc=len(export.params), call_conv=stdcall)
    return installation
