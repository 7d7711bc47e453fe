"""Hostile guests' processes: guest memory laid out to catch an export that writes where it
must not, under a real Speakeasy or Qiling emulator or over ``guest_support.FakeGuest``.

Shared by ``tests/test_guest_hostile.py`` (the findings of ``fuzz/fuzz_guest.py``, kept as
regression tests), ``tests/under_qiling/test_qiling_hostile.py`` and the fuzzer itself, so
that a finding replays in a test exactly as the fuzzer saw it.  A plain module beside the
tests (``from hostile_support import ...``).

Each process has the same regions at the same addresses on both ABIs: four read-write pages
whose end is followed by unmapped memory, a read-only page, a no-access page (over FakeGuest
and under Qiling) and (under an emulator) a loaded image whose header, ``.text`` and
``.rdata`` Windows would map read-only and whose ``.data`` it would map writable.
``Region.protected`` is what Windows would refuse to write, ``Region.readable`` what it
would let the guest read; an emulator's own access ignores both (unicorn's host-side reads
and writes do), which is exactly what the exports must not rely on.  Speakeasy 1.5.11
cannot tell a no-access page from memory it keeps no protection for (it maps PAGE_NOACCESS
accessible in unicorn and records no protection; ``ws2core.adapters.speakeasy`` documents
the limit), so its process has no no-access page; Qiling's has one, mapped with no
permission (unicorn 2's UC_PROT_NONE).

``SpeakeasyProcess(abi)``: a ``speakeasy.Speakeasy`` with ``tiny_pe`` loaded and run to its
end (its entry point is one ``ret``), which leaves the process and its main thread current,
as they are while a hook serves a call: the last error then has a thread to live in.
``serve(core, max_block)`` installs ws2core (``ws2core.adapters.speakeasy.install``) with
a fresh table and returns a ``Served``, whose ``call(name, argv)`` calls the adapter's hook
for that export as Speakeasy's dispatcher does, ``cb(emu, "ws2_32.name", None, argv)``,
without running guest code.

``QilingProcess(abi)``: a ``qiling.Qiling`` with ``tiny_pe`` (written to a temporary file)
loaded over ``windows_rootfs()`` (x64; x86 only where Wine's 32-bit DLLs are installed,
else WineMissing), not run: its loader leaves the TEB a hook's last error lives in.
``serve`` installs ws2core with ``ws2core.adapters.qiling.install`` and takes the hooks it
registered from ``ql.os.user_defined_api`` (by name, so a fresh installation replaces the
last, nothing piles up); ``call(name, argv)`` does what a guest's call and Qiling's
dispatcher do: the arguments laid out by Qiling's own stdcall convention on a scratch stack
under a return address, ``hook(ql, address, name)``, the result read from rax/eax.  It also
checks what the hook must leave for the caller: pc at the return address and the stack
unwound (stdcall's arguments popped on x86), else ``StackUnwound``; the TEB's last error and
Qiling's own equal, else ``LastErrorsDisagree`` (the fuzzer reports either as an exception
escaping the hook).  The last error a call leaves is the TEB's, which Wine's GetLastError
reads.

``StandInProcess(abi)`` is the same over ``FakeGuest`` through
``ws2core.guest.Exports.hook`` (no adapter), many times faster.

A kernel32 call on a handle that is not ws2core's is handed over (``NotServed``): ``call``
then returns ``HANDED_OVER``, under Speakeasy when the adapter called the ``original`` it was
given (a stand-in for Speakeasy's own handler, which is Speakeasy's business) or, for a
function Speakeasy lacks (GetQueuedCompletionStatus), stopped the run as Speakeasy does
(the stop undone here), under Qiling
when it called Qiling's own ``hook_<name>`` (a stand-in too: while ``install`` runs, the
adapter sees ``qiling.os.windows.dlls`` through ``_HandedOver``) or raised
``NotServedByQiling`` (no handler of Qiling's for that call), over FakeGuest when the export
raised ``NotServed``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType, ModuleType
from typing import Any

import ws2core
from ws2core.guest import EXPORTS, Exports, NotServed

HANDED_OVER: Any = "handed over"
"""What ``Served.call`` returns for a call handed to the emulator's own handler."""
_EXPORT = {export.name: export for export in EXPORTS}
_DLL = {export.name: export.dll for export in EXPORTS}

PAGE = 0x1000
REGION_BASE = 0x20000000   # below 2 GB: the same addresses on both ABIs
RW_PAGES = 4
IMAGE_SCN_MEM_WRITE = 0x80000000

# The regions a process maps (name, offset from REGION_BASE, pages, protected); each is
# followed by at least one unmapped page.  Under Speakeasy, "image.*" (image.header,
# image.text, image.rdata, image.data) come from the loaded image.
_PLAIN_REGIONS = (("rw", 0x0000, RW_PAGES, False),
                  ("ro", 0x10000, 1, True),
                  ("noaccess", 0x12000, 1, True))
UNMAPPED_PAGE = REGION_BASE + 0x30000     # never mapped: a pointer that faults


@dataclass(frozen=True)
class Region:
    """A range of guest memory the fuzzer watches; ``protected``: Windows would refuse a
    write there (a read-only or no-access page, an image section without
    IMAGE_SCN_MEM_WRITE), ``readable``: Windows would allow a read."""

    name: str
    base: int
    size: int
    protected: bool
    readable: bool = True

    @property
    def end(self) -> int:
        return self.base + self.size

    def overlaps(self, address: int, size: int) -> bool:
        return size > 0 and address < self.end and self.base < address + size


def tiny_pe(ptr_size: int) -> bytes:
    """A minimal Windows console image (PE32 for 4, PE32+ for 8) with no imports: ``.text``
    (read and execute) whose entry point is ``ret``, ``.rdata`` (read only) and ``.data``
    (read-write), one page each, at the default image base."""
    x64 = ptr_size == 8
    base = 0x140000000 if x64 else 0x400000
    sections = ((b".text", 0x1000, b"\xc3".ljust(0x200, b"\xcc"), 0x60000020),
                (b".rdata", 0x2000, b"ws2core rdata".ljust(0x200, b"\x11"), 0x40000040),
                (b".data", 0x3000, b"ws2core data".ljust(0x200, b"\x22"), 0xC0000040))
    optional_size = 0xF0 if x64 else 0xE0
    headers = 0x200
    dos = b"MZ" + b"\0" * 0x3A + struct.pack("<I", 0x40)
    coff = struct.pack("<HHIIIHH", 0x8664 if x64 else 0x14C, len(sections), 0, 0, 0,
                       optional_size, 0x0022 if x64 else 0x0102)
    # Magic, linker version, code/data sizes, entry point, BaseOfCode (+ BaseOfData on PE32)
    if x64:
        optional = struct.pack("<HBBIIIII", 0x20B, 14, 0, 0x200, 0x400, 0, 0x1000, 0x1000)
        image = "Q"
    else:
        optional = struct.pack("<HBBIIIIII", 0x10B, 14, 0, 0x200, 0x400, 0, 0x1000, 0x1000, 0x2000)
        image = "I"
    size = "Q" if x64 else "I"
    # ImageBase, alignments, versions, SizeOfImage, SizeOfHeaders, checksum, console
    # subsystem, DllCharacteristics (NX, terminal-server aware), stack and heap, 16 directories
    optional += struct.pack(f"<{image}IIHHHHHHIIIIHH{size * 4}II", base, 0x1000, 0x200, 6, 0,
                            0, 0, 6, 0, 0, 0x4000, headers, 0, 3, 0x8100, 0x100000, 0x1000,
                            0x100000, 0x1000, 0, 16)
    optional += b"\0" * (16 * 8)
    assert len(optional) == optional_size
    table = b""
    body = b""
    raw = headers
    for name, rva, data, characteristics in sections:
        table += struct.pack("<8sIIIIIIHHI", name, len(data), rva, len(data), raw, 0, 0, 0, 0,
                             characteristics)
        raw += len(data)
        body += data
    return (dos + b"PE\0\0" + coff + optional + table).ljust(headers, b"\0") + body


class Served:
    """ws2core serving one process's guest with a fresh table: ``call(name, argv)`` is one
    export's hook; ``ws2_32``, ``table`` (the UpcallTable) and ``provider`` what it serves
    from; ``close()`` closes every socket and handle left."""

    def __init__(self, ws2_32: Any, call: Callable[[str, Sequence[int]], int | None],
                 close: Callable[[], None]) -> None:
        self.ws2_32 = ws2_32
        self.table = ws2_32.upcalls
        self.provider = ws2_32.provider
        self.call = call
        self.close = close


class _Process:
    """What every process shares: the regions, reads and writes that bypass page protections
    (the set-up's, not the guest's), the image's regions and the reset to the start."""

    abi: str
    ptr_size: int
    regions: dict[str, Region]
    unmapped: list[int]
    _image: Mapping[str, bytes] = MappingProxyType({})   # each image region's bytes as loaded

    def _raw_read(self, address: int, size: int) -> bytes:
        raise NotImplementedError

    def poke(self, address: int, data: bytes) -> None:
        """Store ``data`` whatever the page's protection (the set-up of a call)."""
        raise NotImplementedError

    def peek(self, address: int, size: int) -> bytes | None:
        """The bytes at ``address``, None unless all are mapped."""
        try:
            return self._raw_read(address, size)
        except Exception:  # noqa: BLE001 - the emulator's own fault, whatever its type
            return None

    def snapshot(self) -> list[bytes]:
        """Every region's bytes, in ``regions``' order."""
        return [self._raw_read(region.base, region.size) for region in self.regions.values()]

    def reset(self, fill: int = 0xA5) -> None:
        """The regions as at the start: the plain ones filled, the image as loaded."""
        for name, region in self.regions.items():
            self.poke(region.base, self._image.get(name, bytes([fill]) * region.size))

    def last_error(self) -> int:
        raise NotImplementedError

    def set_last_error(self, code: int) -> None:
        raise NotImplementedError

    def _map_plain_regions(self, perms: dict[str, int],
                           map_pages: Callable[[str, int, int, int], int]) -> None:
        """The plain regions ``perms`` has a protection for, mapped by ``map_pages(name,
        base, size, perms)`` (which returns the base it mapped)."""
        self.regions = {}
        for name, offset, pages, protected in _PLAIN_REGIONS:
            if name not in perms:
                continue
            base = map_pages(name, REGION_BASE + offset, pages * PAGE, perms[name])
            assert base == REGION_BASE + offset, f"{name} mapped at {base:#x}"
            self.regions[name] = Region(name, base, pages * PAGE, protected,
                                        readable=name != "noaccess")

    def _add_image(self, base: int, sections: Sequence[Any]) -> None:
        """The loaded image's regions (its header and each section of ``sections``, pefile's
        SectionStructures), protected where Windows maps them read-only; their bytes kept
        for ``reset``; then the unmapped addresses, found once everything is mapped."""
        self.regions["image.header"] = Region("image.header", base, PAGE, True)
        for section in sections:
            name = "image" + section.Name.rstrip(b"\0").decode("ascii")   # image.text
            size = -(-max(section.Misc_VirtualSize, 1) // PAGE) * PAGE
            self.regions[name] = Region(name, base + section.VirtualAddress, size,
                                        not section.Characteristics & IMAGE_SCN_MEM_WRITE)
        self.unmapped = self._find_unmapped()
        self._image = {name: self._raw_read(region.base, region.size)
                       for name, region in self.regions.items() if name.startswith("image.")}

    def _fresh_table(self, core: ModuleType) -> Any:
        """A fresh UpcallTable of ``core``, its handles where an adapter's ``install()``
        puts them (``HANDLE_RANGE``: the kernel32 calls tell ws2core's handles from the
        emulator's by value)."""
        from ws2core.adapters._common import HANDLE_RANGE

        return ws2core.UpcallTable(core.HandleTable(abi=self.abi, handle_range=HANDLE_RANGE))

    def _find_unmapped(self) -> list[int]:
        candidates = [UNMAPPED_PAGE, UNMAPPED_PAGE + PAGE - 1, 0x7FFF0000, 0x80000000,
                      0xFFFF0000, 0xFFFFFFFC, 0x10]
        if self.ptr_size == 8:
            candidates += [0x00007FFFFFFF0000, 0x0000800000000000, 0xFFFF800000000000,
                           0xFFFFFFFFFFFFFFF8, 0x100000000]
        return [address for address in candidates if self.peek(address, 1) is None]


class SpeakeasyProcess(_Process):
    """A real Speakeasy emulator (x86 or x64) in the state a hook sees, with the regions."""

    def __init__(self, abi: str) -> None:
        import speakeasy
        from speakeasy import common

        self.abi = abi
        self.ptr_size = 8 if abi == "x64" else 4
        self.se = speakeasy.Speakeasy()
        self.module = self.se.load_module(data=tiny_pe(self.ptr_size))
        # Its one `ret`: Speakeasy then has the process and main thread a hook runs in.
        self.se.run_module(self.module)
        self.emu = self.se.emu
        # No no-access page: Speakeasy cannot say so (the module's docstring).
        self._map_plain_regions(
            {"rw": common.PERM_MEM_RW, "ro": common.PERM_MEM_READ},
            lambda name, base, size, perms: int(self.emu.mem_map(
                size, base=base, perms=perms, tag=f"ws2core.hostile.{name}")))
        self._add_image(self.module.get_base(), self.module.sections)

    def _raw_read(self, address: int, size: int) -> bytes:
        return bytes(self.emu.mem_read(address, size))

    def poke(self, address: int, data: bytes) -> None:
        if data:
            self.emu.mem_write(address, data)   # unicorn's own writes ignore protections

    def last_error(self) -> int:
        return int(self.emu.get_last_error() or 0)

    def set_last_error(self, code: int) -> None:
        self.emu.set_last_error(code)

    def serve(self, core: ModuleType, max_block: float) -> Served:
        from ws2core.adapters.speakeasy import install

        recorder = _Recorder(self.se)
        installation = install(recorder, self._fresh_table(core), max_block=max_block)
        hooks, emu = recorder.hooks, self.emu

        def call(name: str, argv: Sequence[int]) -> int | None:
            dll = _DLL[name]
            # As the dispatcher does: an original for the functions Speakeasy implements.
            implemented = dll == "kernel32" and emu.api.get_export_func_handler(dll, name)[1]
            original = (lambda args: HANDED_OVER) if implemented else None
            run = emu.curr_run
            before = run.error
            result: int | None = hooks[name](emu, f"{dll}.{name}", original, list(argv))
            if run.error is not before and (run.error or {}).get("type") == "unsupported_api":
                # Handed over to a function Speakeasy lacks: the adapter stopped the run as
                # Speakeasy stops one that calls it (a program's end, not the fuzzer's).
                run.error = before
                return HANDED_OVER  # type: ignore[no-any-return]
            return result

        return Served(installation.ws2_32, call, installation.close)


class _Recorder:
    """A ``speakeasy.Speakeasy`` as ``install()`` sees it, whose hooks are kept here instead of
    registered (a fresh installation per fuzz input must not pile hooks up in Speakeasy)."""

    def __init__(self, se: Any) -> None:
        self._se = se
        self.hooks: dict[str, Callable[..., int | None]] = {}

    def get_ptr_size(self) -> int:
        return int(self._se.get_ptr_size())

    @property
    def emu(self) -> Any:
        return self._se.emu

    def add_api_hook(self, cb: Callable[..., int | None], module: str = "", api_name: str = "",
                     argc: int = 0, call_conv: Any = None) -> None:
        self.hooks[api_name] = cb


TEB_LAST_ERROR = {8: 0x68, 4: 0x34}
"""LastErrorValue's offset in the TEB (x64, x86), where Windows' GetLastError reads it."""
SCRATCH_STACK = REGION_BASE + 0x20000     # QilingProcess's stack for a call, outside regions
SCRATCH_PAGES = 4
RETURN_ADDRESS = REGION_BASE + 0x2F000     # where a call "returns": mapped, never run


class StackUnwound(Exception):
    """A Qiling hook left the stack or pc where its caller would not find them (the
    return address not taken, or the wrong number of stdcall arguments popped)."""


class LastErrorsDisagree(Exception):
    """A Qiling hook left the TEB's last error and Qiling's own (``ql.os.last_error``)
    different: GetLastError would answer differently by who serves it."""


class QilingProcess(_Process):
    """A real Qiling emulator (x64; x86 where ``windows_rootfs(arch="x86")`` finds Wine's
    32-bit DLLs) with ``tiny_pe`` loaded, in the state a hook sees, with the regions (the
    no-access page too: unicorn 2 maps a page with no permission)."""

    def __init__(self, abi: str, rootfs: str | None = None) -> None:
        import tempfile

        import unicorn
        from qiling import Qiling
        from qiling.const import QL_VERBOSE

        from ws2core.adapters.qiling import windows_rootfs

        self.abi = abi
        self.ptr_size = 8 if abi == "x64" else 4
        if rootfs is None:   # WineMissing (a FileNotFoundError) names what to install
            rootfs = str(windows_rootfs(arch="x8664" if abi == "x64" else "x86"))
        self._folder = tempfile.TemporaryDirectory(prefix="ws2core-hostile-")
        program = f"{self._folder.name}/tiny.exe"
        with open(program, "wb") as image:
            image.write(tiny_pe(self.ptr_size))
        self.ql = ql = Qiling([program], rootfs, verbose=QL_VERBOSE.DISABLED)
        read, write = unicorn.UC_PROT_READ, unicorn.UC_PROT_WRITE
        self._map_plain_regions(
            {"rw": read | write, "ro": read, "noaccess": unicorn.UC_PROT_NONE},
            lambda name, base, size, perms: self._map(base, size, perms, name))
        self._map(SCRATCH_STACK, SCRATCH_PAGES * PAGE, read | write, "stack")
        self._map(RETURN_ADDRESS, PAGE, read | unicorn.UC_PROT_EXEC, "return")
        image = next(image for image in ql.loader.images if image.path == program)
        self._add_image(image.base, _sections(tiny_pe(self.ptr_size)))

    def _map(self, base: int, size: int, perms: int, name: str) -> int:
        self.ql.mem.map(base, size, perms=perms, info=f"[ws2core.hostile.{name}]")
        return base

    def _raw_read(self, address: int, size: int) -> bytes:
        return bytes(self.ql.mem.read(address, size))

    def poke(self, address: int, data: bytes) -> None:
        if data:
            self.ql.mem.write(address, data)   # unicorn's own writes ignore protections

    def _last_error_slot(self) -> int:
        return int(self.ql.loader.TEB.TebAddress) + TEB_LAST_ERROR[self.ptr_size]

    def last_error(self) -> int:
        """The TEB's LastErrorValue, which Wine's GetLastError returns."""
        return int.from_bytes(self._raw_read(self._last_error_slot(), 4), "little")

    def set_last_error(self, code: int) -> None:
        self.ql.os.last_error = code
        self.poke(self._last_error_slot(), code.to_bytes(4, "little"))

    def serve(self, core: ModuleType, max_block: float) -> Served:
        """ws2core installed with ``ws2core.adapters.qiling.install``: its hooks are the
        ones it registered in ``ql.os.user_defined_api`` (by name: a fresh installation
        replaces the last one's), each called as Qiling's dispatcher calls it."""
        from qiling.const import QL_INTERCEPT
        from qiling.os.windows.fncc import STDCALL

        from ws2core.adapters import qiling as adapter

        # Qiling's own handlers (hook_<name>) are Qiling's business: while install() takes
        # them, stand-ins that only say a call was handed over, as under Speakeasy.
        real = adapter._import_qiling
        adapter._import_qiling = lambda: real()._replace(api=_HandedOver(real().api))
        try:
            installation = adapter.install(self.ql, self._fresh_table(core), max_block=max_block)
        finally:
            adapter._import_qiling = real
        ql, ptr = self.ql, self.ptr_size
        hooks = ql.os.user_defined_api[QL_INTERCEPT.CALL]
        cc = ql.os.fcall_select(STDCALL).cc
        mask = (1 << (8 * ptr)) - 1
        top = SCRATCH_STACK + SCRATCH_PAGES * PAGE - 0x100   # room for the stack arguments

        def call(name: str, argv: Sequence[int]) -> int | None:
            export = _EXPORT[name]
            ql.arch.regs.arch_sp = top
            ql.mem.write(top, RETURN_ADDRESS.to_bytes(ptr, "little"))
            for index, value in enumerate(argv):
                cc.setRawParam(index, value & mask)   # what a register or stack slot holds
            ql.arch.regs.arch_pc = 0
            try:
                result = hooks[name](ql, RETURN_ADDRESS, name)
            except adapter.NotServedByQiling:
                return HANDED_OVER  # type: ignore[no-any-return]
            if result is HANDED_OVER:
                return HANDED_OVER  # type: ignore[no-any-return]
            # stdcall: the callee pops its arguments (x64: the caller does, only ret's pop)
            popped = ptr + (4 * len(export.params) if ptr == 4 else 0)
            where = (ql.arch.regs.arch_pc, ql.arch.regs.arch_sp)
            if where != (RETURN_ADDRESS, top + popped):
                raise StackUnwound(f"{name}: pc {where[0]:#x}, sp {where[1]:#x}; expected "
                                   f"{RETURN_ADDRESS:#x}, {top + popped:#x}")
            if self.last_error() != ql.os.last_error & 0xFFFFFFFF:
                raise LastErrorsDisagree(f"{name}: TEB {self.last_error():#x}, Qiling "
                                         f"{ql.os.last_error:#x}")
            return None if export.result == "v" else int(cc.getReturnValue())

        return Served(installation.ws2_32, call, installation.close)


class _HandedOver:
    """Qiling's ``qiling.os.windows.dlls`` as the adapter sees it in ``QilingProcess``: each
    ``hook_<name>`` Qiling has is a stand-in returning HANDED_OVER; the others are missing
    as there."""

    def __init__(self, api: ModuleType) -> None:
        self._api = api

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if not name.startswith("hook_") or not hasattr(self._api, name):
            raise AttributeError(name)
        return lambda ql, address, api_name: HANDED_OVER


def _sections(image: bytes) -> Sequence[Any]:
    """pefile's section table of ``image``."""
    import pefile  # Qiling's and Speakeasy's own dependency

    return list(pefile.PE(data=image, fast_load=True).sections)


class StandInProcess(_Process):
    """The same regions over ``guest_support.FakeGuest``, served through ``Exports.hook``, the
    read-only and no-access pages protected with ``FakeGuest.protect`` (``models_protection``
    False: plain pages, as a FakeGuest without protections had)."""

    models_protection = True

    def __init__(self, abi: str) -> None:
        from guest_support import FakeGuest

        self.abi = abi
        self.ptr_size = 8 if abi == "x64" else 4
        self.guest = FakeGuest(self.ptr_size)
        # A FakeGuest from before page protections (another branch's tests/) has no protect.
        modelled = self.models_protection and hasattr(self.guest, "protect")
        self.regions = {}
        for name, offset, pages, protected in _PLAIN_REGIONS:
            base = REGION_BASE + offset
            for n in range(pages):
                self.guest.pages[base + n * PAGE] = bytearray(PAGE)
            if protected and modelled:
                self.guest.protect(base, pages * PAGE, read=name != "noaccess")
            self.regions[name] = Region(name, base, pages * PAGE, protected and modelled,
                                        name != "noaccess" or not modelled)
        self.unmapped = self._find_unmapped()

    def _raw_read(self, address: int, size: int) -> bytes:
        return bytes(self.guest.mem_read(address, size))

    def poke(self, address: int, data: bytes) -> None:
        if data:
            self.guest.mem_write(address, data)

    def last_error(self) -> int:
        return int(self.guest.get_last_error())

    def set_last_error(self, code: int) -> None:
        self.guest.set_last_error(code)

    def serve(self, core: ModuleType, max_block: float) -> Served:
        from ws2core.ws2_32 import Ws2_32

        ws2_32 = Ws2_32(ws2core.UpcallTable(core.HandleTable(abi=self.abi)))
        exports = Exports(ws2_32, max_block=max_block)
        hooks = {export.name: exports.hook(export) for export in EXPORTS}
        guest = self.guest

        def call(name: str, argv: Sequence[int]) -> int | None:
            try:
                return hooks[name](guest, list(argv))
            except NotServed:
                return HANDED_OVER  # type: ignore[no-any-return]

        return Served(ws2_32, call, ws2_32.close)


__all__ = ["HANDED_OVER", "PAGE", "REGION_BASE", "UNMAPPED_PAGE", "LastErrorsDisagree",
           "QilingProcess", "Region", "Served", "SpeakeasyProcess", "StackUnwound",
           "StandInProcess", "tiny_pe"]
