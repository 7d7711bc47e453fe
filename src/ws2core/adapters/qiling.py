"""ws2core behind a Qiling guest's Winsock, with Wine's own DLLs as the Windows rootfs.

Qiling (``pip install 'ws2core[qiling]'``, 1.4.6 checked) emulates a Windows program over a
folder of Windows DLLs; ``windows_rootfs()`` makes one from Wine's installed PE DLLs.  Its
Winsock is a set of stubs, and Wine's ws2_32 cannot work under it (its sockets are
NtOpenFile on \\Device\\Afd and system calls into Wine's Unix side), so ``install(ql)``
serves every export of ``ws2core.guest.EXPORTS`` from ws2core, through Qiling's public
``ql.os.set_api``::

    from qiling import Qiling
    from ws2core.adapters.qiling import install, windows_rootfs

    ql = Qiling(["client.exe", "127.0.0.1"], str(windows_rootfs()))
    with install(ql) as installation:     # after Qiling(): the guest's bits pick the ABI
        ql.run()

To run a whole console program, ``run(program, args)`` does all of it and returns the
Speakeasy adapter's ``ProgramRun``; it also serves the program's C run-time from
``ws2core.guest.crt`` (``install_runtime``), in place of Qiling's (whose printf ignores
sizes and signs) and Wine's msvcrt (whose getenv reads an environment Qiling never set up),
and runs mingw's start-up initializers, which Qiling's ``_initterm`` skips.

Qiling and Speakeasy cannot share one environment (Speakeasy 1.5.11 pins unicorn 1.0.2,
Qiling needs unicorn 2): the extras ``ws2core[qiling]`` and ``ws2core[speakeasy]`` go in
separate virtual environments.

**Loading Wine's ntdll.**  Qiling's PE loader (1.4.6: ``qiling.loader.pe.Process
.init_imports``) walks ``pe.DIRECTORY_ENTRY_IMPORT`` of every DLL whose import directory
is present; Wine's ntdll.dll has one that holds only its terminator, for which pefile
records no ``DIRECTORY_ENTRY_IMPORT`` at all, and the loader raises AttributeError.  Importing
this module (or calling ``windows_rootfs()``) wraps that method, once, so that such an image
imports nothing; Qiling's installed files are never edited.  The loader runs inside
``Qiling()``'s constructor, so the fix must be in place before it: it is, once this module
is imported.

What the adapter assumes of Qiling (1.4.6):

- **Hooks by name.** ``ql.os.set_api`` replaces a function by its export name, whichever
  DLL exports it (kernel32's CloseHandle and kernelbase's are one hook); the hook reads its
  arguments from the registers and stack (stdcall on x86, the Microsoft x64 convention on
  x64), sets eax/rax and returns to the caller itself.
- **Qiling's handles stay Qiling's.**  The kernel32 exports (WaitForSingleObject(Ex),
  WaitForMultipleObjects(Ex), SetEvent, ResetEvent, CloseHandle, ReadFile, WriteFile)
  answer for ws2core's handles (``HANDLE_RANGE``; Qiling's own start at 0xa0000000); a call
  on any other handle goes to Qiling's own implementation of it (``hook_<name>`` in
  ``qiling.os.windows.dlls``: WaitForSingleObject(Ex), WaitForMultipleObjects,
  CloseHandle, ReadFile, WriteFile), or to its implementation of the equivalent call
  (WaitForMultipleObjects for WaitForMultipleObjectsEx, which it lacks; the waits of
  Qiling 1.4.6 answer at once).  Where Qiling has neither (SetEvent, ResetEvent in 1.4.6),
  Wine's own code would end in a system call that Qiling cannot serve, so the call fails
  loudly instead: ``NotServedByQiling``, naming the export, stops the run (Qiling reports
  it as "Windows API Implementation Error" with this exception logged).  On x86 the
  equivalent call's handler pops its own stdcall arguments, the adapter the rest.
- **One guest thread at a time**, as under Speakeasy: no hooked call blocks longer than
  ``max_block`` seconds (``ws2core.adapters.speakeasy`` lists what each call returns then).
- **Last error.**  Windows keeps it in the thread's TEB (LastErrorValue: TEB+0x68 on x64,
  +0x34 on x86), where Wine's GetLastError reads it; Qiling's own GetLastError returns
  ``ql.os.last_error``.  The adapter writes both, so every reader agrees.  Qiling has one
  TEB (its loader's); a guest thread Qiling starts shares it here.
- **Memory.**  ``readable``/``writable`` follow Qiling's memory map (``ql.mem.map_info``:
  a page's UC_PROT_READ and UC_PROT_WRITE).  Qiling maps images read, write and execute;
  inside one (``ql.loader.images``: the program and each DLL), a range is writable only
  where the image file's section table has IMAGE_SCN_MEM_WRITE, as Windows maps it (the
  headers, .text and .rdata read-only), so an export asked to write there fails as on
  Windows.
- **Guest functions run.** ``Guest.run_function`` (WSAAccept's condition function, APCs:
  ``ws2core.guest.apcs``) is a nested ``emu_start`` on Qiling's unicorn 2 from inside the
  hook (``_common.NestedCaller``): a call frame in the guest's ABI below the stack pointer,
  a return address on a page of the adapter's (``[ws2core.return]`` in the memory map),
  every general register, the flags and the stack pointer put back afterwards; the
  function's own calls of the hooked exports are served re-entrantly.  A function that
  faults or never returns to that page fails the hooked call (GuestFunctionFault).
  QueueUserAPC is served for the current thread (GetCurrentThread's pseudo-handle, or what
  Qiling 1.4.6's GetCurrentThread returns: the thread's id); Qiling has no QueueUserAPC of
  its own, so one for another thread stops the run (``NotServedByQiling``).  SleepEx is
  served when alertable; otherwise it is Qiling's Sleep.  DispatchMessage runs the window
  procedure of one of the guest's windows the same way (``ws2core.guest.windows``: Qiling
  1.4.6's CreateWindowEx returns NULL and it serves no message call, so user32's window and
  message calls are all ws2core's).
- **Extension functions' addresses.** ``Guest.export_address`` (what WSAIoctl's
  SIO_GET_EXTENSION_FUNCTION_POINTER hands out) is the export in the loaded DLL (mswsock.dll,
  in the rootfs: ``ROOT_DLLS``), which ``set_api``'s hook answers; for a function it does not
  export (ConnectEx, DisconnectEx) a stub of ws2core's, a few bytes of guest memory entered
  in the loader's ``import_symbols`` under the name, so Qiling's dispatcher hooks it too
  (the one place the adapter writes into the loader's tables).
"""

from __future__ import annotations

import functools
import importlib
import os
import struct
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, NamedTuple

from .. import UpcallTable
from ..guest import EXPORTS, Export, Exports, GuestFault, NotServed
from ..guest.crt import CRT_FUNCTIONS, DATA_IMPORTS, STDERR, STDOUT, CrtFunction, CRuntime
from ..policy import NetworkPolicy
from ..provider import HostSocketProvider
from ..ws2_32 import Ws2_32
from . import _rootfs
from ._common import HANDLE_RANGE, NestedCaller, ProgramRun
from ._common import Installation as _Installation
from ._common import covered as _covered
from ._common import checked_program, point_imports, writable_sections
from ._rootfs import HIVES, ROOT_DLLS, WineMissing
from .speakeasy import INITTERM_CODE  # guest code: importing it imports no Speakeasy

__all__ = ["CHECKED_VERSION", "EXTRA", "HANDLE_RANGE", "HIVES", "HOOKED_APIS", "ROOT_DLLS",
           "RUN_TIMEOUT", "Installation", "NotServedByQiling", "ProgramRun", "WineMissing",
           "install", "install_runtime", "run", "windows_rootfs"]

EXTRA: Final = "ws2core[qiling]"
"""The pip extra that installs Qiling beside ws2core (in an environment without Speakeasy)."""

CHECKED_VERSION: Final = "1.4.6"
"""The Qiling version the loader fix and the hooks were checked on."""

HOOKED_APIS: Final[tuple[str, ...]] = tuple(export.name for export in EXPORTS)
"""The exports ``install()`` hooks (ws2_32's, iphlpapi's, kernel32's calls on ws2core's
handles, mswsock's, and user32's window and message calls)."""

CURRENT_THREAD: Final = -2
"""GetCurrentThread's pseudo-handle."""

TEB_LAST_ERROR: Final = {8: 0x68, 4: 0x34}
"""LastErrorValue's offset in the TEB, by pointer size."""

_STDCALL: Final = 1      # qiling.os.windows.fncc.STDCALL (x64: always the MS64 convention)
_CDECL: Final = 2        # qiling.os.windows.fncc.CDECL


class NotServedByQiling(NotImplementedError):
    """A kernel32 call on a handle that is not ws2core's, for a function Qiling does not
    implement (Wine's code for it would make a system call Qiling cannot serve)."""


class _Qiling(NamedTuple):
    module: Any                                  # the qiling package
    api: Any                                     # qiling.os.windows.dlls: its hook_<name>
    call: Any                                    # QL_INTERCEPT.CALL
    stopped: Any                                 # QL_STATE.STOPPED
    faults: tuple[type[BaseException], ...]      # what ql.mem's access raises
    read: int                                    # UC_PROT_READ, UC_PROT_WRITE
    write: int


def _import_qiling() -> _Qiling:
    """The qiling package and what the adapter uses of it; ImportError naming the extra."""
    try:
        # import_module: Qiling ships no complete type information, and ws2core is checked
        # with mypy --strict wherever it is installed or not.
        package = importlib.import_module("qiling")
        const = importlib.import_module("qiling.const")
        api = importlib.import_module("qiling.os.windows.dlls")
        unicorn = importlib.import_module("unicorn")
    except ImportError as missing:
        raise ImportError(f"ws2core.adapters.qiling needs Qiling: pip install '{EXTRA}' "
                          f"(not beside ws2core[speakeasy]: they need different unicorns)  "
                          f"[{missing}]") from missing
    _fix_loader()
    return _Qiling(package, api, const.QL_INTERCEPT.CALL, const.QL_STATE.STOPPED,
                   (unicorn.UcError,), unicorn.UC_PROT_READ, unicorn.UC_PROT_WRITE)


@functools.cache
def _fix_loader() -> bool:
    """Let Qiling's PE loader load an image whose import directory is empty (Wine's
    ntdll.dll): the module's docstring.  Idempotent; False when Qiling is not importable
    or has no such method (another version: nothing is changed)."""
    try:
        loader = importlib.import_module("qiling.loader.pe")
    except ImportError:
        return False
    process = getattr(loader, "Process", None)
    original = getattr(process, "init_imports", None)
    if original is None or getattr(original, "_ws2core_fixed", False):
        return original is not None

    @functools.wraps(original)
    def init_imports(self: Any, pe: Any, is_driver: bool) -> Any:
        # pefile leaves the attribute out when the directory holds only its terminator;
        # for any other image the loader's own full_load() sets it over this default.
        if not hasattr(pe, "DIRECTORY_ENTRY_IMPORT"):
            pe.DIRECTORY_ENTRY_IMPORT = []
        return original(self, pe, is_driver)

    init_imports._ws2core_fixed = True  # type: ignore[attr-defined]
    process.init_imports = init_imports  # type: ignore[union-attr]
    return True


def windows_rootfs(path: str | os.PathLike[str] | None = None, *, arch: str = "x8664",
                   wine_root: str | os.PathLike[str] | None = None) -> Path:
    """The rootfs folder to give ``Qiling(argv, rootfs)`` for a Windows program of ``arch``
    ("x8664" or "x86"): Wine's PE DLLs and empty registry hives, built once and reused
    (``ws2core.adapters._rootfs.windows_rootfs`` says where and how, and where Wine's DLLs
    are looked for: ``wine_root``, by default ``$WS2CORE_WINE_ROOT``, then ``/``).  WineMissing (a
    FileNotFoundError) naming the package to install without Wine.  Also puts the loader
    fix in place (the module's docstring) when Qiling is importable."""
    _fix_loader()
    return _rootfs.windows_rootfs(path, arch=arch, wine_root=wine_root)


class _Guest:
    """A ``ws2core.guest.Guest`` over the ``Qiling`` object of one hook call."""

    __slots__ = ("_caller", "_qiling", "_ql", "ptr_size")

    def __init__(self, ql: Any, qiling: _Qiling, ptr_size: int,
                 caller: NestedCaller | None = None) -> None:
        self._ql = ql
        self._qiling = qiling
        self.ptr_size = ptr_size
        self._caller = caller

    def read(self, address: int, size: int) -> bytes:
        if not self._ql.mem.is_mapped(address, max(size, 1)):
            raise GuestFault(f"{size} bytes at {address:#x} are not all mapped")
        try:
            return bytes(self._ql.mem.read(address, size))
        except self._qiling.faults:
            raise GuestFault(f"{size} bytes at {address:#x} are not all mapped") from None

    def write(self, address: int, data: bytes) -> None:
        if not self._ql.mem.is_mapped(address, max(len(data), 1)):
            raise GuestFault(f"{len(data)} bytes at {address:#x} are not all mapped")
        try:
            self._ql.mem.write(address, bytes(data))
        except self._qiling.faults:
            raise GuestFault(f"{len(data)} bytes at {address:#x} are not all mapped") from None

    def _covered_with(self, address: int, size: int, permission: int) -> bool:
        return _covered(address, address + size, [
            (begin, end) for begin, end, perms, *_ in self._ql.mem.map_info
            if perms & permission])

    def readable(self, address: int, size: int) -> bool:
        """Every page mapped readable in Qiling's memory map."""
        return self._covered_with(address, size, self._qiling.read)

    def writable(self, address: int, size: int) -> bool:
        """Every page mapped writable in Qiling's memory map and, inside a loaded image (the
        program or a DLL), in a section with IMAGE_SCN_MEM_WRITE: Qiling maps images
        writable, Windows maps their headers, .text and .rdata read-only."""
        if not self._covered_with(address, size, self._qiling.write):
            return False
        end = address + size
        for image in self._ql.loader.images:
            if image.base < end and image.end > address and not _covered(
                    max(address, image.base), min(end, image.end),
                    _image_writable_spans(image.path, image.base)):
                return False
        return True

    def allocate(self, size: int) -> int:
        """Zeroed bytes from Qiling's process heap (``ql.os.heap``)."""
        address: int = self._ql.os.heap.alloc(max(size, 1))
        if not address:
            raise GuestFault(f"no room for {size} bytes")
        self._ql.mem.write(address, bytes(size))
        return address

    def release(self, address: int) -> None:
        self._ql.os.heap.free(address)   # False (ignored) for an address it did not give

    def thread_id(self) -> int:
        thread = getattr(self._ql.os.thread_manager, "cur_thread", None)
        return 0 if thread is None else int(getattr(thread, "id", 0))

    def _teb_last_error(self) -> int | None:
        teb = getattr(self._ql.loader, "TEB", None)
        if teb is None:
            return None
        return int(teb.TebAddress) + TEB_LAST_ERROR[self.ptr_size]

    def get_last_error(self) -> int:
        """The TEB's LastErrorValue (Qiling's own value when there is no TEB)."""
        slot = self._teb_last_error()
        if slot is None:
            return int(self._ql.os.last_error)
        return int.from_bytes(self._ql.mem.read(slot, 4), "little")

    def set_last_error(self, code: int) -> None:
        code &= 0xFFFFFFFF
        self._ql.os.last_error = code
        slot = self._teb_last_error()
        if slot is not None:
            self._ql.mem.write(slot, code.to_bytes(4, "little"))

    def arguments(self, count: int) -> Sequence[int]:
        """The first ``count`` argument slots of the call being served: x64's four registers,
        then the stack.  Read from the stack here rather than through Qiling's calling
        convention, which (1.4.6) reads 16 slots at most: a printf of eight doubles on x86
        takes more."""
        registers = 4 if self.ptr_size == 8 else 0
        in_registers = min(count, registers)
        cc = self._ql.os.fcall_select(_CDECL).cc
        # Above the return address; on x64 above the caller's home space too, one slot for
        # each register argument.
        stacked = self._ql.arch.regs.arch_sp + self.ptr_size * (1 + registers)
        try:
            data = self.read(stacked, (count - in_registers) * self.ptr_size)
        except GuestFault:
            raise GuestFault(f"{count} arguments are not all on mapped stack") from None
        code = "Q" if self.ptr_size == 8 else "I"
        return [*(cc.getRawParam(index) for index in range(in_registers)),
                *struct.unpack(f"<{count - in_registers}{code}", data)]

    @property
    def runs_functions(self) -> bool:
        return self._caller is not None

    def run_function(self, address: int, args: Sequence[int]) -> int:
        """A nested run on Qiling's unicorn (``_common.NestedCaller``)."""
        if self._caller is None:
            raise NotImplementedError("this Qiling guest serves the C run-time, not Winsock")
        return self._caller.run(self._ql.uc, address, args)

    def is_current_thread(self, handle: int) -> bool:
        """GetCurrentThread's pseudo-handle, or what Qiling's GetCurrentThread returns for
        the current thread (1.4.6: the thread's id)."""
        mask = (1 << (8 * self.ptr_size)) - 1
        thread = getattr(self._ql.os.thread_manager, "cur_thread", None)
        return handle & mask == CURRENT_THREAD & mask or (
            thread is not None and handle & mask == int(thread.id) & mask)

    def export_address(self, dll: str, name: str) -> int | None:
        """The export's address in the loaded DLL (``ql.loader.import_address_table``), where
        ``set_api``'s hook answers it; for a DLL not loaded, or a name it does not export
        (mswsock exports no ConnectEx), a stub of ws2core's: a few bytes of executable guest
        memory entered in ``ql.loader.import_symbols`` under the name, which Qiling's
        dispatcher then hooks as any export."""
        loader = self._ql.loader
        table = loader.import_address_table.get(f"{dll}.dll".casefold()) or {}
        address = table.get(name.encode("ascii"))
        if address is not None:
            return int(address)
        stubs = _STUBS.get(loader)
        if stubs is None:
            stubs = _STUBS[loader] = _Stubs(self._ql)
        return stubs.address(dll, name)


class _Stubs:
    """``export_address``'s stubs in one Qiling process: a page of its memory, 16 bytes a
    stub, each entered in the loader's ``import_symbols`` under its export's name."""

    SIZE: Final = 16
    BASE: Final = 0x10000000   # where the page is looked for: low enough for an x86 guest

    def __init__(self, ql: Any) -> None:
        self._ql = ql
        self._page: int | None = None
        self._at: dict[tuple[str, str], int] = {}

    def address(self, dll: str, name: str) -> int | None:
        """The stub of ``dll``'s ``name``, made on first use (None once the page is full)."""
        found = self._at.get((dll, name))
        if found is not None:
            return found
        if self._page is None:
            self._page = int(self._ql.mem.find_free_space(_PAGE, minaddr=self.BASE))
            self._ql.mem.map(self._page, _PAGE, info="[ws2core exports]")
        at = self._page + self.SIZE * len(self._at)
        if at + self.SIZE > self._page + _PAGE:
            return None
        self._ql.mem.write(at, b"\xc3" * self.SIZE)   # ret: never run, the hook returns first
        self._ql.loader.import_symbols[at] = {"name": name.encode("ascii"), "ordinal": 0,
                                              "dll": dll}
        self._at[dll, name] = at
        return at


_STUBS: weakref.WeakKeyDictionary[Any, _Stubs] = weakref.WeakKeyDictionary()   # by loader
_PAGE: Final = 0x1000


@functools.lru_cache(maxsize=64)
def _image_writable_spans(path: str, base: int) -> list[tuple[int, int]]:
    """``writable_sections`` of the image file at ``path`` loaded at ``base`` (Qiling keeps
    no parsed image once loaded, and none at all from its library cache); an image that
    cannot be read or parsed restricts nothing."""
    try:
        pefile = importlib.import_module("pefile")   # Qiling's own dependency
        image = pefile.PE(path, fast_load=True)
    except Exception:   # pefile raises PEFormatError, OSError, and worse on bad files
        return [(base, 1 << 64)]
    try:
        return writable_sections(image, base)
    finally:
        image.close()


class Installation(_Installation):
    __doc__ = _Installation.__doc__
    emulator = "Qiling"

    def __init__(self, exports: Exports, qiling: _Qiling) -> None:
        super().__init__(exports)
        self._qiling = qiling
        self._caller: NestedCaller | None = None   # install() makes it, over its Qiling
        self.not_served: NotServedByQiling | None = None
        """The NotServedByQiling that stopped the run, if one did (Qiling logs it and
        raises its own QlErrorSyscallError, which names no call)."""

    def _hook(self, export: Export) -> Callable[[Any, int, str], Any]:
        """The ``set_api`` handler ``hook(ql, address, api_name)`` for one export: reads the
        arguments, serves the call, sets eax/rax and returns to the caller; a kernel32 call
        on a handle that is not ws2core's goes to Qiling's own handler, or, where Qiling
        has none, raises NotServedByQiling (the module's docstring)."""
        call = self.exports.hook(export)
        qiling, ptr_size, count = self._qiling, self.exports.ptr_size, len(export.params)
        caller = self._caller
        own = getattr(qiling.api, f"hook_{export.name}", None)

        def hook(ql: Any, address: int, api_name: str) -> Any:
            cc = ql.os.fcall_select(_STDCALL).cc
            argv = [cc.getRawParam(index) for index in range(count)]
            try:
                result = call(_Guest(ql, qiling, ptr_size, caller), argv)
            except NotServed as handover:
                return self._hand_over(ql, address, api_name, export, own, handover, argv)
            if result is not None:
                cc.setReturnValue(result)
            return_address = cc.unwind(count)
            # Qiling's own dispatcher leaves pc alone once the emulation has stopped (a
            # unicorn issue: it would go on running).
            if ql.emu_state is not qiling.stopped:
                ql.arch.regs.arch_pc = return_address
            return result

        return hook

    def _hand_over(self, ql: Any, address: int, api_name: str, export: Export, own: Any,
                   handover: NotServed, argv: Sequence[int]) -> Any:
        """A kernel32 call on a handle that is not ws2core's: Qiling's own handler answers
        it; for a function Qiling lacks, its handler of the call the export names instead
        (``NotServed.instead``: WaitForMultipleObjects for WaitForMultipleObjectsEx, whose
        arguments begin with the same ones), else NotServedByQiling."""
        if own is not None:
            return own(ql, address, api_name)
        if handover.instead is not None:
            name, args = handover.instead
            other = getattr(self._qiling.api, f"hook_{name}", None)
            if other is not None:
                cc = ql.os.fcall_select(_STDCALL).cc
                for index, value in enumerate(args):
                    cc.setRawParam(index, value)
                result = other(ql, address, name)
                # x86: the handler popped its own (fewer) stdcall arguments; pop the rest.
                if self.exports.ptr_size == 4 and ql.emu_state is not self._qiling.stopped:
                    ql.arch.regs.arch_sp += 4 * (len(export.params) - len(args))
                return result
        self.not_served = NotServedByQiling(
            f"{export.dll}.{export.name}({', '.join(hex(value) for value in argv)}) on a handle "
            f"that is not ws2core's: Qiling {CHECKED_VERSION} has no {export.name}, and "
            f"Wine's would make a system call")
        raise self.not_served from None


def install(ql: Any, table: UpcallTable | None = None, provider: HostSocketProvider | None = None,
            *, policy: NetworkPolicy | None = None, max_block: float = 10.0) -> Installation:
    """Serve the Winsock calls of ``ql``'s guest (a ``qiling.Qiling`` of a Windows program)
    from ws2core.

    Call it after ``Qiling(...)``: the guest's bits choose the ABI.  ``table``,
    ``provider``, ``policy``, ``max_block``: as for ``ws2core.adapters.speakeasy.install``
    (the default table's handles in ``HANDLE_RANGE``, the default policy loopback only).
    Registers one ``ql.os.set_api(name, hook, QL_INTERCEPT.CALL)`` per ``HOOKED_APIS``
    export.  Returns the ``Installation``; ImportError naming the extra ``ws2core[qiling]``
    when Qiling is missing.
    """
    qiling = _import_qiling()
    bits = int(ql.arch.bits)
    if bits not in (32, 64):
        raise ValueError(f"a {bits}-bit guest is neither x86 nor x64")
    abi = "x64" if bits == 64 else "x86"
    if table is None:
        table = UpcallTable(abi=abi, handle_range=HANDLE_RANGE)
    elif isinstance(table, UpcallTable) and table.table.abi != abi:
        raise ValueError(f"the table's ABI is {table.table.abi!r}; the guest is {abi}")
    exports = Exports(Ws2_32(table, provider=provider, policy=policy), max_block=float(max_block))
    installation = Installation(exports, qiling)
    installation._caller = NestedCaller(
        exports.ptr_size, lambda: _map_return_page(ql))
    for export in EXPORTS:
        ql.os.set_api(export.name, installation._hook(export), qiling.call)
    return installation


def _map_return_page(ql: Any) -> int:
    """A page for run_function's return address, executable, holding hlt (never reached:
    the nested run stops at its first byte)."""
    page = 0x1000
    address = int(ql.mem.find_free_space(page))
    ql.mem.map(address, page, info="[ws2core.return]")
    ql.mem.write(address, b"\xf4" * page)
    return address


RUN_TIMEOUT: Final = 60.0
"""``run()``'s default limit on one program, in seconds."""


def install_runtime(ql: Any, args: Sequence[str] = (),
                    environment: Mapping[str, str] | None = None,
                    output: Callable[[int, bytes], None] | None = None) -> CRuntime:
    """Serve the C run-time calls of a mingw-built console program (``ws2core.guest.crt``:
    its command line, environment, console output and exit status) to ``ql``'s guest, in
    place of Qiling's own and Wine's msvcrt: Qiling's printf ignores sizes and signs
    (``%lld`` of -1 prints 18446744073709551615), and Wine's getenv reads an environment
    Qiling never set up.  ``ws2core.adapters.speakeasy.install_runtime``'s counterpart;
    ``args``, ``environment`` and ``output`` as there.  Returns the ``CRuntime``, whose
    ``exit_status`` and ``written`` say how the program ended and what it wrote."""
    qiling = _import_qiling()
    ptr_size = int(ql.arch.bits) // 8
    program = str(getattr(ql, "argv", ["program.exe"])[0])
    runtime = CRuntime(program, tuple(args), dict(environment or {}), ptr_size, output)
    guest = _Guest(ql, qiling, ptr_size)
    runtime.place(guest, guest.allocate(runtime.memory_size))
    _point_data_imports(ql, runtime, ptr_size)
    for function in CRT_FUNCTIONS:
        ql.os.set_api(function.name, _runtime_hook(runtime, function, qiling, ptr_size),
                      qiling.call)
    # Qiling's _initterm returns at once, so mingw's start-up would never run the
    # initializers that fetch main's arguments (__getmainargs), and Wine's own faults under
    # Qiling (its msvcrt calls through a pointer Qiling's loader left unset): the call goes
    # to the Speakeasy adapter's loop instead, as guest code.
    code = INITTERM_CODE[ptr_size]
    initterm = guest.allocate(len(code))
    guest.write(initterm, code)

    def jump_to_initterm(ql: Any, address: int, api_name: str) -> None:
        ql.arch.regs.arch_pc = initterm   # its arguments and return address are in place

    ql.os.set_api("_initterm", jump_to_initterm, qiling.call)
    return runtime


def _point_data_imports(ql: Any, runtime: CRuntime, ptr_size: int) -> None:
    """The program's import slots of msvcrt's data (``DATA_IMPORTS``: the x86 build reads
    ``stdout`` as ``&_iob[1]``, where x64's calls ``__iob_func``) hold the run-time's own
    variables: Qiling's loader put Wine's msvcrt's there, which the run-time's console
    functions do not know (the x86 build's output would be lost)."""
    pefile = importlib.import_module("pefile")   # Qiling's own dependency
    image = pefile.PE(str(ql.path), fast_load=True)
    image.parse_data_directories(
        directories=[pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_IMPORT"]])
    targets = {name: getattr(runtime, attribute) for name, attribute in DATA_IMPORTS.items()}
    point_imports(image, int(ql.loader.pe_image_address), "msvcrt.dll", targets, ptr_size,
                  ql.mem.write)


def _runtime_hook(runtime: CRuntime, function: CrtFunction, qiling: _Qiling,
                  ptr_size: int) -> Callable[[Any, int, str], Any]:
    pointer_mask = (1 << (8 * ptr_size)) - 1
    own = getattr(qiling.api, f"hook_{function.name}", None)
    convention = _STDCALL if function.stdcall else _CDECL

    def hook(ql: Any, address: int, api_name: str) -> Any:
        result = runtime.call(function, _Guest(ql, qiling, ptr_size), None)
        if function.then_exit and own is not None:   # Qiling's own ends the emulation
            return own(ql, address, api_name)
        cc = ql.os.fcall_select(convention).cc
        if result is not None:
            # A negative result is an int's (EOF, -1): eax, not all of rax.
            cc.setReturnValue(result & 0xFFFFFFFF if result < 0 else result & pointer_mask)
        return_address = cc.unwind(function.argc if function.stdcall else 0)
        if ql.emu_state is not qiling.stopped:
            ql.arch.regs.arch_pc = return_address
        return result

    return hook


def run(program: str | os.PathLike[str], args: Sequence[str] = (), *,
        environment: Mapping[str, str] | None = None,
        output: Callable[[int, bytes], None] | None = None, winsock: bool = True,
        table: UpcallTable | None = None, provider: HostSocketProvider | None = None,
        policy: NetworkPolicy | None = None, max_block: float = 10.0,
        timeout: float = RUN_TIMEOUT, rootfs: str | os.PathLike[str] | None = None,
        libcache: bool = True) -> ProgramRun:
    """Run a Windows console program (x64, or x86 where Wine's 32-bit DLLs are found:
    ``windows_rootfs``) in Qiling with ws2core behind its Winsock, to its end:
    ``ws2core.adapters.speakeasy.run``'s counterpart, with the same arguments and result.

    ``rootfs``: Qiling's rootfs (default: ``windows_rootfs()`` for the program's
    architecture).  ``libcache``: Qiling's library cache (a pickle of each loaded DLL beside
    it in the rootfs: 0.1-0.3 s to load a program instead of 1.4-2.5 s; the cache files are
    written without a lock, so two processes building them at once may collide).  The
    program's console output is what Qiling's C run-time writes (its printf: right for
    ``%s``, not for every format).  ``exit_code`` is the status the program gave exit or
    ExitProcess (Qiling keeps none, so an ENTER hook on each reads it); ``stopped`` and
    ``error`` name the exception that stopped Qiling instead.
    """
    qiling = _import_qiling()
    path = checked_program(program, timeout)
    const = importlib.import_module("qiling.const")
    if rootfs is None:
        rootfs = windows_rootfs(arch="x86" if _pe_bits(path) == 32 else "x8664")
    ql = qiling.module.Qiling([str(path), *args], str(rootfs), env=dict(environment or {}),
                              verbose=const.QL_VERBOSE.DISABLED, libcache=libcache)
    runtime = install_runtime(ql, args, environment, output)
    installation = (install(ql, table, provider, policy=policy, max_block=max_block)
                    if winsock else None)
    error: dict[str, str] = {}
    started = time.monotonic()
    try:
        ql.run(timeout=int(timeout * 1_000_000))
    except Exception as stopped:  # Qiling's report of a fault or a failed hook
        cause: BaseException = stopped
        if installation is not None and installation.not_served is not None:
            cause = installation.not_served
        error = {"type": type(cause).__name__, "message": str(cause)}
    finally:
        seconds = time.monotonic() - started
        leaked = tuple(installation.table.table) if installation is not None else ()
        if installation is not None:
            installation.close()
    exit_code = runtime.exit_status
    if not error and exit_code is None and seconds >= timeout:
        error = {"type": "timeout", "seconds": str(timeout)}
    if error.get("type") == "timeout":
        why: str | None = f"the time limit of {timeout} s was reached"
    elif error:
        why = f"{error['type']}: {error['message']}"
    else:
        why = None if exit_code is not None else "returned without calling exit"
    return ProgramRun(str(path), tuple(args), "x64" if int(ql.arch.bits) == 64 else "x86",
                      exit_code, why, error, bytes(runtime.written[STDOUT]),
                      bytes(runtime.written[STDERR]),
                      seconds, leaked,
                      tuple(installation.policy.log) if installation is not None else ())


def _pe_bits(path: Path) -> int:
    """32 or 64: the PE image's optional header magic (0x10b PE32, 0x20b PE32+)."""
    with path.open("rb") as image:
        header = image.read(0x400)
    offset = int.from_bytes(header[0x3C:0x40], "little")
    magic = int.from_bytes(header[offset + 24:offset + 26], "little")
    return 64 if magic == 0x20B else 32


_fix_loader()   # the loader runs inside Qiling(): the fix must come first
