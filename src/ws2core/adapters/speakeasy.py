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

To run a whole console program, ``run(program, args)`` does all of it (what
``python -m ws2core run`` calls)::

    from ws2core.adapters.speakeasy import run

    result = run("hello_winsock.exe", ["2"], output=lambda stream, data: print(data))
    result.exit_code, result.stopped, result.stdout

It also serves the C run-time a mingw-built program needs and Speakeasy 1.5.11 lacks
(``install_runtime``: ``ws2core.guest.crt`` over this adapter's ``Guest``), and fixes two of
Speakeasy's loader's gaps through the program's import slots: its ``_initterm`` runs none of
the start-up initializers (the one that fetches ``main``'s arguments among them), so the
program's import of it is pointed at a working loop (``INITTERM_CODE``), and msvcrt's ``_iob``
and ``__mb_cur_max`` data imports at the run-time's own.

The hooked functions are ``HOOKED_APIS``: WSAStartup, WSACleanup, socket, closesocket, bind,
getsockname, getpeername, listen, connect, accept, send, recv, shutdown, setsockopt,
getsockopt, ioctlsocket and WSAIoctl (FIONBIO, FIONREAD, SIOCATMARK, the extension
functions' pointers), WSAPoll, WSAAccept, select, __WSAFDIsSet, WSACreateEvent, WSASetEvent, WSAResetEvent,
WSACloseEvent, WSAWaitForMultipleEvents, WSAEventSelect, WSAEnumNetworkEvents,
WSAAsyncSelect (to a window of the guest's own: ``ws2core.guest.events``), WSAGetLastError and WSASetLastError, the address functions of ``ws2core.guest.addresses``
(gethostname, inet_addr, inet_pton, inet_ntop, WSAAddressToString, WSAStringToAddress, the
byte-order functions; iphlpapi's GetAdaptersAddresses and GetAdaptersInfo, hooked under
iphlpapi), the name lookups of ``ws2core.guest.names``, and kernel32's calls on ws2core's
handles (WaitForSingleObject(Ex), WaitForMultipleObjects(Ex), SetEvent, ResetEvent,
CloseHandle, ReadFile, WriteFile, the completion ports' calls: ``ws2core.kernel32``), and
mswsock's extension functions (AcceptEx, GetAcceptExSockaddrs, ConnectEx, DisconnectEx),
and user32's window and message calls a message-only window needs (RegisterClass(Ex),
CreateWindowEx, DestroyWindow, GetMessage, PeekMessage, PostMessage, DispatchMessage and the
rest of ``ws2core.guest.windows``; Speakeasy's own never deliver a message), hooked under
user32.  Each returns what Windows returns;
a failure returns
the documented failure value (SOCKET_ERROR, INVALID_SOCKET, WSA_INVALID_EVENT, FALSE,
WSA_WAIT_FAILED; WSAStartup its error code) and sets the calling guest thread's last error.
A NULL, unmapped, too short or read-only guest buffer (below: Memory) is WSAEFAULT, never an
exception in the emulator; a value
that is not a live socket of the table is WSAENOTSOCK, and one that is not a live event
WSA_INVALID_HANDLE, as on Windows.

**The network: loopback only unless you say otherwise.**  Speakeasy alone fakes every
connection; with the adapter they are real host sockets, so every host call that could leave
the machine goes through a ``ws2core.policy.NetworkPolicy`` first (``install(se,
policy=...)``).  The default, ``NetworkPolicy.loopback_only()``, lets a guest reach 127.0.0.0/8
and ::1 and nothing else: a connect elsewhere fails with WSAENETUNREACH (a non-blocking one
with WSAEWOULDBLOCK, then as a failed connect), a bind to an outside address with
WSAEADDRNOTAVAIL, and a bind to the any address listens on loopback only (getsockname still
shows the any address).  ``NetworkPolicy.sinkhole()`` carries every outbound connection to a
recording sink on loopback instead, and ``NetworkPolicy.allow_all()`` lets everything through.
Every attempt is in ``installation.policy.log`` and in Speakeasy's report (its network events:
``log_network`` with the method ``ws2core.<verdict>``).  Not served yet: sendto and name
lookups (Speakeasy's own fakes still answer those; its DNS says 10.1.2.3 for any name, which
the policy then refuses to connect to).

**Speakeasy's handles stay Speakeasy's.**  The kernel32 calls answer for every value of the
table's handle range (a closed socket or event included: ERROR_INVALID_HANDLE), which
``install()`` puts where Speakeasy never hands out a handle (``HANDLE_RANGE``).  A call on
any other handle (a file, a thread, an event from CreateEventA) is handed to Speakeasy's own
handler with the same arguments; WaitForSingleObjectEx and WaitForMultipleObjectsEx, which
Speakeasy lacks, go to its WaitForSingleObject and WaitForMultipleObjects (the same calls
while no APC can be queued), and without those the run stops as on any function it lacks.
A wait on a mix of both kinds of handle is handed over whole: Speakeasy cannot see
ws2core's events (a limit; its waits answer at once anyway).  That handover of a function
Speakeasy lacks is the one place the adapter reaches past ``add_api_hook``: into the
emulator's handler table (``emu.api.get_export_func_handler``) and its unsupported-call
stop (``get_error_info``, ``curr_run``, ``on_run_complete``), as its own dispatcher does.

What the adapter assumes of Speakeasy (1.5.11 is tested; 2.x has the same ``add_api_hook``):

- **One process.** A ``Speakeasy`` object emulates one process, which gets one UpcallTable
  (one Ws2_32 instance).  Child processes emulated with ``emulate_children=True`` reach the
  same hooks, so they share that table, unlike separate Windows processes.
- **One guest thread at a time.** Speakeasy runs guest threads one after the other in the
  thread that called ``run_module``, and a hook blocks it: while a guest thread waits, no
  other guest thread can run to wake it, nor be the peer that would answer it.  So no
  hooked call blocks the emulator longer than ``max_block`` seconds, whatever it waits
  for, and a call the cap ends returns what the running out of its Windows timeout
  returns (``HostSocketProvider.blocking_limit``):

  - select: 0, and WSAWaitForMultipleEvents: WSA_WAIT_TIMEOUT, an infinite wait included;
  - recv: SOCKET_ERROR with WSAETIMEDOUT (as an expired SO_RCVTIMEO); nothing is taken,
    so what comes later is all there for the next recv;
  - send: the count of the bytes that went, fewer than asked (the program sends the rest:
    nothing is lost without it being told), or SOCKET_ERROR with WSAETIMEDOUT when none
    could go;
  - connect: SOCKET_ERROR with WSAETIMEDOUT (as an expired SO_SNDTIMEO); the attempt goes
    on at the host, so a second connect says WSAEALREADY, and select's writefds or
    exceptfds and SO_ERROR tell its outcome, as after a non-blocking connect;
  - accept: INVALID_SOCKET with WSAETIMEDOUT (Windows' accept has no timeout; this is what
    ws2core answers when SO_RCVTIMEO runs out at the host); the socket goes on listening,
    and a connection that comes later waits for the next accept;
  - closesocket of a socket whose SO_LINGER would make it wait: at most ``max_block``,
    rounded up to a second, while the host goes on sending what is left.

  The cap is the emulator thread's only: host threads run meanwhile without one (the
  provider's reactor, a server a test runs), and ws2core's waits are real, so an event set
  or data sent from a host thread wakes the guest at once.  A close from another host
  thread still ends a capped call with WSAEINTR.
- **Last error.** The last error is the current guest thread's Win32 last error, which
  Speakeasy keeps per thread (``emu.set_last_error``), so the guest's GetLastError agrees
  with WSAGetLastError, as on Windows (where WSAGetLastError is GetLastError).  Speakeasy's
  own GetLastError clears the value after reading it; WSAGetLastError here does not.
- **Hooks stay.** Speakeasy cannot remove a hook; after ``close()`` the hooks still answer,
  with WSANOTINITIALISED until the next WSAStartup.
- **Memory.** Unicorn's host-side access ignores page protections, so the adapter tells
  what the guest may read and write as Windows would: a range is readable when every page
  of it is mapped readable, writable when every page is mapped writable by the protection
  the program asked for (VirtualAlloc, VirtualProtect: Speakeasy's record of it, which is
  finer than what it gives unicorn) and, inside a loaded image (the program, or one of
  Speakeasy's decoy DLLs), lies in a section with IMAGE_SCN_MEM_WRITE: Speakeasy maps
  images writable, Windows maps their headers, .text and .rdata read-only.  Limit of
  Speakeasy 1.5.11: PAGE_NOACCESS memory is mapped readable and writable in unicorn and
  recorded with no protection at all, like some of Speakeasy's own allocations, so it reads
  as accessible here.
- **No guest function runs.** ``Guest.run_function`` (APCs, completion routines, WSAAccept's
  condition function) raises NotImplementedError.  Speakeasy 1.5.11 pins unicorn 1.0.2,
  and there an ``emu_start`` nested in a hook (the route the Qiling adapter takes on
  unicorn 2) runs the function and returns its result, but breaks the outer run: Speakeasy
  serves an import from unicorn's unmapped-fetch hook, and after a nested run unicorn 1
  retries the outer fetch against a stale memory map (x64: the run stops with
  UC_ERR_FETCH_UNMAPPED at the import's address; x86: qemu's ``phys_section_add``
  assertion aborts the whole process), a plain function without any call of its own
  included.  Speakeasy's own ``setup_callback`` runs a function only after the hook has
  returned, so no result comes back to the hooked call.  So WSAAccept with a condition
  function fails with WSAEOPNOTSUPP (the peer reset) rather than accept unvetted, and
  QueueUserAPC and SleepEx stay Speakeasy's own (its QueueUserAPC runs the APC as a new
  run after the program's, its SleepEx returns 0 at once): ``ws2core.guest.apcs``; and
  DispatchMessage returns 0 without calling the window procedure (a program reads its
  socket messages with GetMessage or PeekMessage instead): ``ws2core.guest.windows``.
- **Extension functions' addresses.** ``Guest.export_address`` is Speakeasy's
  ``get_proc``, what its GetProcAddress gives: an address whose call Speakeasy dispatches
  by the DLL's and the function's names, so to the hook of mswsock's AcceptEx, ConnectEx,
  DisconnectEx or GetAcceptExSockaddrs (mswsock has no module of Speakeasy's: its hooks
  answer every call).

This module is only the Speakeasy side (layer 5): the hooks and a ``ws2core.guest.Guest``
over Speakeasy's emulator.  The exports live in ``ws2core.guest`` (layer 4), the API they
call in ``ws2core.ws2_32.Ws2_32`` (layer 3).
"""

from __future__ import annotations

import importlib
import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, NamedTuple

from .. import UpcallTable
from ..guest import EXPORTS, Export, Exports, GuestFault, NotServed
from ..guest.crt import (
    CRT_FUNCTIONS,
    DATA_IMPORTS,
    STDERR,
    STDOUT,
    CrtFunction,
    CRuntime,
)
from ..policy import Attempt, NetworkPolicy
from ..provider import HostSocketProvider
from ..ws2_32 import Ws2_32
from ._common import HANDLE_RANGE, ProgramRun
from ._common import Installation as _Installation
from ._common import covered as _covered
from ._common import checked_program, point_imports, writable_sections

__all__ = ["EXTRA", "HANDLE_RANGE", "HOOKED_APIS", "RUN_TIMEOUT", "Installation", "ProgramRun", "install",
           "install_runtime", "run"]

EXTRA: Final = "ws2core[speakeasy]"
"""The pip extra that installs Speakeasy beside ws2core."""

HOOKED_APIS: Final[tuple[str, ...]] = tuple(export.name for export in EXPORTS)
"""The exports ``install()`` hooks (ws2_32's, kernel32's calls on ws2core's handles, mswsock's,
iphlpapi's and user32's window and message calls)."""

# HANDLE_RANGE (from ._common): Speakeasy (1.5.11) hands out its own handles from small
# counters (objects from 0x220, files from 0x80, registry keys from 0x180, kernel32's from
# 0x1800, advapi32's from 0x2800, each up by 4) and pseudo-handles from the top (-1, -2), so
# no Speakeasy handle reaches the range before some 67 million creations, and a kernel32
# call tells ws2core's handles from Speakeasy's by value.


class _Speakeasy(NamedTuple):
    module: Any                                 # the speakeasy package
    stdcall: int                                # its calling-convention constants
    cdecl: int
    esp: int                                    # its register number of x86's esp
    faults: tuple[type[BaseException], ...]     # what its guest memory access raises
    read: int                                   # unicorn's UC_PROT_READ, UC_PROT_WRITE
    write: int
    read_asked: int                             # Speakeasy's PERM_MEM_READ, PERM_MEM_WRITE
    write_asked: int                            # (a MemMap's prot: what the program asked)
    read_write: int                             # its PERM_MEM_RW, for allocations


def _import_speakeasy() -> _Speakeasy:
    """The speakeasy package, its calling conventions and what its memory access raises.

    Speakeasy's emulator object (what a hook receives) lets unicorn's ``UcError`` through
    for an unmapped address (UC_ERR_READ_UNMAPPED, UC_ERR_WRITE_UNMAPPED); the
    ``Speakeasy`` wrapper turns it into ``SpeakeasyError``.  Both are a GuestFault here.
    """
    try:
        # import_module: neither package ships type information, and ws2core is checked
        # with mypy --strict wherever they are installed or not.
        package = importlib.import_module("speakeasy")
        errors = importlib.import_module("speakeasy.errors")
        arch = importlib.import_module("speakeasy.winenv.arch")
        unicorn = importlib.import_module("unicorn")
    except ImportError as missing:
        raise ImportError(
            "ws2core.adapters.speakeasy needs Speakeasy (the speakeasy-emulator package): "
            f"pip install '{EXTRA}'  [{missing}]"
        ) from missing
    common = importlib.import_module("speakeasy.common")
    return _Speakeasy(package, arch.CALL_CONV_STDCALL, arch.CALL_CONV_CDECL, arch.X86_REG_ESP,
                      (unicorn.UcError, errors.SpeakeasyError), unicorn.UC_PROT_READ,
                      unicorn.UC_PROT_WRITE, common.PERM_MEM_READ, common.PERM_MEM_WRITE,
                      common.PERM_MEM_RW)


class _Layout(NamedTuple):
    """The guest's memory as ``_Guest.readable`` and ``writable`` see it: half-open spans."""
    readable: list[tuple[int, int]]            # mapped readable in unicorn
    writable: list[tuple[int, int]]            # mapped writable in unicorn
    not_asked_readable: list[tuple[int, int]]  # Speakeasy's maps the program asked unreadable
    not_asked_writable: list[tuple[int, int]]  # ... and unwritable
    images: list[tuple[int, int]]              # Speakeasy's maps of loaded images


def _meets(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    """Whether any of ``spans`` overlaps ``start``..``end``."""
    return any(base < end and top > start for base, top in spans)


class _Guest:
    """A ``ws2core.guest.Guest`` over the emulator object one hook call receives.

    ``one_call``: the object serves one hook call, during which the guest's memory layout
    changes only through its own ``allocate`` and ``release`` (the guest does not run, and
    no other thread maps its memory), so the layout that ``readable`` and ``writable`` check
    against is read once and kept until either changes it: select checks five ranges.
    """

    __slots__ = ("_cdecl", "_emu", "_faults", "_layout", "_one_call", "_speakeasy", "ptr_size")

    def __init__(self, emu: Any, speakeasy: _Speakeasy, ptr_size: int, *,
                 one_call: bool = False) -> None:
        self._emu = emu
        self._faults = speakeasy.faults
        self._cdecl = speakeasy.cdecl
        self._speakeasy = speakeasy
        self.ptr_size = ptr_size
        self._one_call = one_call
        self._layout: _Layout | None = None

    def _memory_layout(self) -> _Layout:
        """What ``readable`` and ``writable`` check against, read from the emulator now (or
        kept from earlier in the same hook call: ``one_call``)."""
        layout = self._layout
        if layout is None:
            speakeasy = self._speakeasy
            regions = list(self._emu.emu_eng.mem_regions())
            maps = [(mapping.base, mapping.base + mapping.size, mapping.prot, mapping.tag)
                    for mapping in self._emu.get_mem_maps()]
            layout = _Layout(
                [(begin, last + 1) for begin, last, perms in regions if perms & speakeasy.read],
                [(begin, last + 1) for begin, last, perms in regions if perms & speakeasy.write],
                # 0 is no record at all: unicorn's word stands
                [(base, top) for base, top, prot, _ in maps
                 if prot and not prot & speakeasy.read_asked],
                [(base, top) for base, top, prot, _ in maps
                 if prot and not prot & speakeasy.write_asked],
                [(base, top) for base, top, _, tag in maps
                 if str(tag).startswith("emu.module.")])
            if self._one_call:
                self._layout = layout
        return layout

    def read(self, address: int, size: int) -> bytes:
        try:
            # A large range's far end first: one that ends unmapped is refused before a large
            # copy (a short one is refused by the copy itself, which fails as well).
            if size > _PAGE:
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
        """Mapped readable in unicorn and asked readable of Speakeasy."""
        end = address + size
        layout = self._memory_layout()
        return _covered(address, end, layout.readable) and not _meets(address, end,
                                                                      layout.not_asked_readable)

    def writable(self, address: int, size: int) -> bool:
        """Mapped writable in unicorn, asked writable of Speakeasy and, in a loaded image,
        in a writable section (the module's docstring)."""
        end = address + size
        layout = self._memory_layout()
        if not _covered(address, end, layout.writable) or _meets(address, end,
                                                                  layout.not_asked_writable):
            return False
        for base, top in layout.images:
            if top <= address or base >= end:
                continue
            image = self._image_at(base)
            if image is not None and not _covered(
                    max(address, base), min(end, top), writable_sections(image, base)):
                return False
        return True

    def _image_at(self, base: int) -> Any:
        """The loaded image (the program's, or a decoy DLL) mapped at ``base``, if known."""
        emu = self._emu
        for entry in getattr(emu, "modules", ()):
            image = entry[0] if isinstance(entry, tuple) else entry
            if image.get_base() == base:
                return image
        for image in (*emu.get_user_modules(), *emu.get_sys_modules()):
            if image.get_base() == base:
                return image
        return None

    def allocate(self, size: int) -> int:
        """Fresh pages of Speakeasy's, tagged ``ws2core.guest`` (its memory map shows them).
        Whole pages: Speakeasy packs a smaller block into a page shared with other blocks and
        unmaps it only when all are free, so released memory would stay readable."""
        pages = -(-max(size, 1) // _PAGE) * _PAGE
        self._layout = None
        try:
            address: int = self._emu.mem_map(pages, perms=self._speakeasy.read_write,
                                             tag="ws2core.guest")
            self._emu.mem_write(address, bytes(size))
        except self._faults:
            raise GuestFault(f"no room for {size} bytes") from None
        return address

    def release(self, address: int) -> None:
        mapping = self._emu.get_address_map(address)
        # Speakeasy appends the base to a mapping's tag: "ws2core.guest.0x4000".
        if mapping is not None and mapping.base == address and \
                str(mapping.tag).startswith("ws2core.guest."):
            self._layout = None
            self._emu.mem_free(address)

    def thread_id(self) -> int:
        thread = self._emu.get_current_thread()
        return 0 if thread is None else int(getattr(thread, "tid", 0))

    def get_last_error(self) -> int:
        """The current guest thread's last error (0 when Speakeasy has no current thread)."""
        code = self._emu.get_last_error()
        return 0 if code is None else int(code)

    def set_last_error(self, code: int) -> None:
        self._emu.set_last_error(code)

    def arguments(self, count: int) -> Sequence[int]:
        try:
            return list(self._emu.get_func_argv(self._cdecl, count))
        except self._faults:
            raise GuestFault(f"{count} arguments are not all on mapped stack") from None

    runs_functions = False

    def run_function(self, address: int, args: Sequence[int]) -> int:
        raise NotImplementedError(
            "Speakeasy 1.5.11 runs on unicorn 1.0.2, which cannot nest an emulation in a hook "
            "(the module's docstring)")

    def is_current_thread(self, handle: int) -> bool:
        """GetCurrentThread's pseudo-handle, or the handle Speakeasy's GetCurrentThread
        gives (the current thread's object handle)."""
        mask = (1 << (8 * self.ptr_size)) - 1
        if handle & mask == CURRENT_THREAD & mask:
            return True
        thread = self._emu.get_current_thread()
        if thread is None:
            return False
        own = self._emu.get_object_handle(self._emu.om.get_object_from_addr(thread.address))
        return bool(own) and handle & mask == own & mask

    def export_address(self, dll: str, name: str) -> int | None:
        """What Speakeasy's GetProcAddress gives (``get_proc``): an address it keeps for a
        function resolved at run time, whose call it dispatches by the DLL's and the
        function's names, so to the hook registered under them."""
        return int(self._emu.get_proc(dll, name))


_PAGE: Final = 0x1000
CURRENT_THREAD: Final = -2
"""GetCurrentThread's pseudo-handle."""


class Installation(_Installation):
    __doc__ = _Installation.__doc__
    emulator = "Speakeasy"

    def __init__(self, exports: Exports, speakeasy: _Speakeasy) -> None:
        super().__init__(exports)
        self._speakeasy = speakeasy

    def _report_network(self, se: Any) -> None:
        """Put each attempt of the policy into Speakeasy's report, where its own Winsock
        handlers put theirs (a policy shared by two installations reports to both)."""
        emulator = se.emu

        def report(attempt: Attempt) -> None:
            profiler = emulator.get_profiler()
            if not profiler:
                return
            run = emulator.get_current_run()
            if attempt.kind == "resolve":
                profiler.log_dns(run, attempt.address[0], ",".join(attempt.answers))
            else:
                profiler.log_network(run, attempt.address[0], attempt.address[1],
                                     typ=attempt.kind, proto=attempt.protocol,
                                     method=f"ws2core.{attempt.verdict}")

        self._unsubscribe = self.policy.log.subscribe(report)

    def _hook(self, export: Export) -> Callable[[Any, str, Any, list[int]], int | None]:
        """The Speakeasy callback ``cb(emu, api_name, original, argv)`` for one export.

        ``emu`` is Speakeasy's emulator object, ``argv`` the raw argument values; the result
        goes to the guest's eax/rax (None: left alone).  Speakeasy's own handler
        (``original``, None for the exports Speakeasy lacks) answers the kernel32 calls on
        handles that are not ws2core's (``_hand_over``), and nothing else.
        """
        call = self.exports.hook(export)
        speakeasy, ptr_size = self._speakeasy, self.exports.ptr_size

        def hook(emu: Any, api_name: str, original: Any, argv: list[int]) -> int | None:
            try:
                return call(_Guest(emu, speakeasy, ptr_size, one_call=True), argv)
            except NotServed as handover:
                return _hand_over(emu, export, api_name, original, argv, handover)

        return hook


def _hand_over(emu: Any, export: Export, api_name: str, original: Any, argv: list[int],
               handover: NotServed) -> int | None:
    """A kernel32 call on a handle that is not ws2core's, answered as Speakeasy answers it
    without ws2core: by its own handler (``original``, with the same arguments, which
    Speakeasy read by its own declaration of the function); for a function it lacks, by its
    handler of the equivalent call the export names (``NotServed.instead``:
    WaitForSingleObject for WaitForSingleObjectEx), or else as Speakeasy ends a program that
    calls a function it does not implement (an ``unsupported_api`` error, the run stopped).
    """
    if original is not None:
        return original(argv)  # type: ignore[no-any-return]
    if handover.instead is not None:
        name, args = handover.instead
        module, attributes = emu.api.get_export_func_handler(export.dll, name)
        if attributes:
            function = attributes[1]
            return function(module, emu, list(args), {"func_name": f"{export.dll}.{name}"})  # type: ignore[no-any-return]
    error = emu.get_error_info("unsupported_api", emu.get_pc())
    error["api_name"] = api_name
    emu.curr_run.error = error
    emu.on_run_complete()
    return None


def install(se: Any, table: UpcallTable | None = None, provider: HostSocketProvider | None = None,
            *, policy: NetworkPolicy | None = None, max_block: float = 10.0) -> Installation:
    """Serve the Winsock calls of ``se``'s guest (a ``speakeasy.Speakeasy``) from ws2core.

    Call it after ``se.load_module()`` (or ``load_shellcode``): the guest's pointer size
    chooses the ABI, ``"x64"`` or ``"x86"``.  ``table``: the ``ws2core.UpcallTable`` to serve
    from, in that ABI (default: a new one, its handles in ``HANDLE_RANGE``; a table given
    here should be made with ``handle_range=HANDLE_RANGE`` too: the kernel32 calls answer
    for every value of the table's range, so a range that meets Speakeasy's handles hides
    them); ``provider``: the ``HostSocketProvider`` behind
    its sockets, not started with another table (default: a new one).  ``policy``: the
    ``ws2core.policy.NetworkPolicy`` its sockets go through (default: the provider's, which
    unless it was given one is ``NetworkPolicy.loopback_only()``: the guest reaches loopback
    and nothing else; the module's docstring says what each policy lets through).  ``max_block``: the
    longest, in seconds, that one hooked call may block the emulator (connect, accept, recv,
    send, select, WSAWaitForMultipleEvents, a lingering closesocket), since no other guest
    thread runs meanwhile; the module's docstring says what each returns when it runs out.

    Registers one hook per ``HOOKED_APIS`` export with ``se.add_api_hook`` under its dll
    (ws2_32, iphlpapi, kernel32, mswsock or user32), with the export's argument count and stdcall
    (WSAAPI, WINAPI), which Speakeasy uses to clean a 32-bit guest's stack for the exports it does
    not implement itself.  Returns the
    ``Installation``; ImportError naming the extra ``ws2core[speakeasy]`` when Speakeasy is
    missing.
    """
    speakeasy = _import_speakeasy()
    ptr_size = _ptr_size(se)
    abi = "x64" if ptr_size == 8 else "x86"
    if table is None:
        table = UpcallTable(abi=abi, handle_range=HANDLE_RANGE)
    elif isinstance(table, UpcallTable) and table.table.abi != abi:
        raise ValueError(f"the table's ABI is {table.table.abi!r}; the guest is {abi}")
    exports = Exports(Ws2_32(table, provider=provider, policy=policy), max_block=float(max_block))
    installation = Installation(exports, speakeasy)
    installation._report_network(se)
    for export in EXPORTS:
        se.add_api_hook(installation._hook(export), export.dll, export.name,
                        argc=len(export.params), call_conv=speakeasy.stdcall)
    return installation


def _ptr_size(se: Any) -> int:
    try:
        ptr_size: int = se.get_ptr_size()
    except AttributeError:
        raise RuntimeError(
            "install() goes after se.load_module() (or load_shellcode()): the guest's pointer "
            "size chooses the ABI") from None
    if ptr_size not in (4, 8):
        raise ValueError(f"a guest pointer of {ptr_size} bytes is neither x86 nor x64")
    return ptr_size


# ---------------------------------------------------------------------------------------
# A whole console program: its C run-time, then its run


def install_runtime(se: Any, module: Any, args: Sequence[str] = (),
                    environment: Mapping[str, str] | None = None,
                    output: Callable[[int, bytes], None] | None = None) -> CRuntime:
    """Serve the C run-time calls a mingw-built console program needs (``ws2core.guest.crt``:
    its command line, environment, console output and exit status) to ``se``'s guest.

    ``module`` is what ``se.load_module()`` returned: its path is the program's ``argv[0]``
    and its import table says where the x86 build's ``_iob`` lives.  ``args``: the rest of
    its command line; ``environment``: all it may read with getenv and
    GetEnvironmentVariable (default: nothing, not the host's); ``output(stream, data)``
    receives its console output as it is written (1 stdout, 2 stderr).  Returns the
    ``ws2core.guest.crt.CRuntime``, whose ``exit_status`` and ``written`` say how it ended
    and what it wrote.
    """
    speakeasy = _import_speakeasy()
    ptr_size = _ptr_size(se)
    program = str(module.get_emu_path())
    runtime = CRuntime(program, tuple(args), dict(environment or {}), ptr_size, output)
    runtime.place(_Guest(se.emu, speakeasy, ptr_size), se.mem_alloc(runtime.memory_size,
                                                                tag="ws2core.crt"))
    for function in CRT_FUNCTIONS:
        convention = speakeasy.stdcall if function.stdcall else speakeasy.cdecl
        se.add_api_hook(_runtime_hook(runtime, function, speakeasy, ptr_size), function.dll,
                        function.name, argc=function.argc, call_conv=convention)
    _point_imports(se, module, runtime, ptr_size)
    return runtime


# The C run-time functions whose Speakeasy (1.5.11) handler is declared stdcall: Speakeasy
# returns from one of its own functions by its own declaration, so on x86 it pops the
# arguments that a cdecl caller pops again.  The hook lowers esp by as much first, with the
# return address copied to the new top (Speakeasy returns only when it finds it there).
SPEAKEASY_STDCALL_CDECL: Final[Mapping[str, int]] = {"__getmainargs": 5}


def _runtime_hook(runtime: CRuntime, function: CrtFunction, speakeasy: _Speakeasy,
                  ptr_size: int) -> Callable[[Any, str, Any, list[int]], int | None]:
    popped = 4 * SPEAKEASY_STDCALL_CDECL.get(function.name, 0) if ptr_size == 4 else 0
    pointer_mask = (1 << (8 * ptr_size)) - 1

    def hook(emu: Any, api_name: str, original: Any, argv: list[int]) -> int | None:
        # argv=None: read by our own declaration.  For a function Speakeasy implements, its
        # argv follows Speakeasy's (sprintf and _snprintf take "variable arguments" there,
        # and argv comes empty).
        result = runtime.call(function, _Guest(emu, speakeasy, ptr_size, one_call=True), None)
        if popped and original is not None:
            top = emu.reg_read(speakeasy.esp)
            emu.mem_write(top - popped, bytes(emu.mem_read(top, 4)))
            emu.reg_write(speakeasy.esp, top - popped)
        if function.then_exit:  # Speakeasy's own handler ends the process
            return original(argv) if original is not None else None
        if result is None:
            return None
        if result < 0:  # a negative result is an int's (EOF, -1): eax, not all of rax
            return result & 0xFFFFFFFF
        return result & pointer_mask
    return hook


# msvcrt's _initterm(begin, end): call each non-NULL function pointer in [begin, end).
# Speakeasy's own returns at once, so mingw's start-up never runs the initializers that
# fetch main's arguments (__getmainargs) and set up its C run-time; this is the loop, as
# guest code, which the program's import of _initterm is pointed at.  INITTERM_CODE is
# INITTERM_SOURCE assembled (tests/emulator assembles it with mingw-w64's and compares).
INITTERM_SOURCE: Final[Mapping[int, str]] = {
    8: """
        push rbx
        push rsi
        sub rsp, 40             # the shadow space, and rsp 16-byte aligned at each call
        mov rbx, rcx
        mov rsi, rdx
    1:  cmp rbx, rsi
        jae 3f
        mov rax, [rbx]
        test rax, rax
        jz 2f
        call rax
    2:  add rbx, 8
        jmp 1b
    3:  add rsp, 40
        pop rsi
        pop rbx
        ret
    """,
    4: """
        push ebx
        push esi
        mov ebx, [esp+12]
        mov esi, [esp+16]
    1:  cmp ebx, esi
        jae 3f
        mov eax, [ebx]
        test eax, eax
        jz 2f
        call eax
    2:  add ebx, 4
        jmp 1b
    3:  pop esi
        pop ebx
        ret
    """,
}
INITTERM_CODE: Final[Mapping[int, bytes]] = {
    8: bytes.fromhex("53564883ec284889cb4889d64839f37310488b034885c07402ffd04883c308ebeb"
                     "4883c4285e5bc3"),
    4: bytes.fromhex("53568b5c240c8b74241039f3730d8b0385c07402ffd083c304ebef5e5bc3"),
}


def _point_imports(se: Any, module: Any, runtime: CRuntime, ptr_size: int) -> None:
    """Make the program's import slots of msvcrt's ``_initterm`` and data (``DATA_IMPORTS``)
    hold what the loader would have put there: the addresses of a working ``_initterm``
    and of the run-time's own variables.

    Speakeasy fills every import slot with a stand-in address, serves a call through it
    with its handler and a read through it only for the data it knows (``_iob`` is not
    among them).
    """
    code = INITTERM_CODE[ptr_size]
    initterm = se.mem_alloc(len(code), tag="ws2core.crt._initterm")
    se.mem_write(initterm, code)
    targets = {"_initterm": initterm}
    for name, attribute in DATA_IMPORTS.items():
        targets[name] = getattr(runtime, attribute)
    point_imports(module, module.get_base(), "msvcrt.dll", targets, ptr_size, se.mem_write)


RUN_TIMEOUT: Final = 60.0
"""``run()``'s default limit on one program, in seconds."""


def run(program: str | os.PathLike[str], args: Sequence[str] = (), *,
        environment: Mapping[str, str] | None = None,
        output: Callable[[int, bytes], None] | None = None, winsock: bool = True,
        table: UpcallTable | None = None, provider: HostSocketProvider | None = None,
        policy: NetworkPolicy | None = None, max_block: float = 10.0,
        timeout: float = RUN_TIMEOUT) -> ProgramRun:
    """Run a Windows console program (an .exe, x64 or x86) in Speakeasy with ws2core behind
    its Winsock, to its end; what ``python -m ws2core run`` does.

    ``args`` is its command line after ``argv[0]``; ``environment`` all it may read (default:
    nothing); ``output(stream, data)`` sees its console output as it is written (1 stdout,
    2 stderr).  ``winsock=False`` leaves Speakeasy's own fake Winsock in place (the C
    run-time is still served): a comparison.  ``table``, ``provider``, ``policy``,
    ``max_block``: as for ``install()`` (the default policy: loopback only).  ``timeout``: Speakeasy's limit on the run, in seconds (rounded up to a whole
    second).  Every socket and
    handle the program left is closed when it ends.  Returns a ``ProgramRun``;
    FileNotFoundError if ``program`` is not a file, ValueError if Speakeasy cannot load it
    (not a PE image), ImportError naming the extra without Speakeasy.
    """
    speakeasy = _import_speakeasy()
    path = checked_program(program, timeout)
    se, module, config = _loaded(speakeasy, path, args, timeout)
    runtime = install_runtime(se, module, args, environment, output)
    installation = (install(se, table, provider, policy=policy, max_block=max_block)
                    if winsock else None)
    started = time.monotonic()
    try:
        se.run_module(module)
        seconds = time.monotonic() - started
        leaked = tuple(installation.table.table) if installation is not None else ()
    finally:
        if installation is not None:
            installation.close()
    error = _error(se.get_report())
    if not error and runtime.exit_status is None and seconds >= config["timeout"]:
        error = {"type": "timeout", "seconds": str(config["timeout"])}
    return ProgramRun(str(path), tuple(args), "x64" if _ptr_size(se) == 8 else "x86",
                      runtime.exit_status, _stopped(error, runtime.exit_status), error,
                      bytes(runtime.written[STDOUT]), bytes(runtime.written[STDERR]), seconds,
                      leaked, tuple(installation.policy.log) if installation is not None else ())


def _loaded(speakeasy: _Speakeasy, path: Path, args: Sequence[str],
            timeout: float) -> tuple[Any, Any, dict[str, Any]]:
    """A ``Speakeasy`` configured for a whole program's run, the program loaded in it:
    ``(se, module, config)`` (``benchmarks/test_bench_adapter.py`` runs one this way too)."""
    config = json.loads((Path(speakeasy.module.__file__).parent / "configs" / "default.json")
                        .read_text(encoding="utf-8"))
    config["timeout"] = math.ceil(timeout)  # whole seconds: unicorn takes an integer
    # Speakeasy stops a run after this many API calls (10,000 by default): a program that
    # prints through mingw's printf makes one per character.
    config["max_api_count"] = 1 << 62
    se = speakeasy.module.Speakeasy(config=config, argv=list(args))
    try:
        module = se.load_module(str(path))
    except speakeasy.faults as refused:  # "Target file is not a PE", say
        raise ValueError(f"Speakeasy cannot load {str(path)!r}: {refused}") from None
    return se, module, config


def _error(report: Mapping[str, Any]) -> dict[str, str]:
    """The error Speakeasy reported for the program's entry point, without the registers
    and the stack ({} when there is none)."""
    for entry in report.get("entry_points", ()):
        error = entry.get("error") or {}
        if error:
            return {key: str(value) for key, value in error.items()
                    if key not in ("regs", "stack")}
    return {}


def _stopped(error: Mapping[str, str], exit_status: int | None) -> str | None:
    if not error:
        return None if exit_status is not None else "returned without calling exit"
    kind = error.get("type", "error")
    if kind == "timeout":
        return f"the time limit of {error.get('seconds', '?')} s was reached"
    if kind == "unsupported_api":
        return f"unsupported call {error.get('api_name', '?')} at {error.get('pc', '?')}"
    where = " ".join(f"{key} {error[key]}" for key in ("api_name", "pc", "address")
                     if key in error)
    return f"{kind.replace('_', ' ')}{' at ' + where if where else ''}"
