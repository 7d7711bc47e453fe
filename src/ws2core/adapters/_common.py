"""What every emulator adapter shares: the installation object and memory-map arithmetic.

An adapter (``ws2core.adapters.speakeasy``, ``ws2core.adapters.qiling``) subclasses
``Installation`` with its emulator's hook registration and reporting; the rest (the table,
the provider, the policy, closing) is the same everywhere.
"""

from __future__ import annotations

import importlib
import math
import os
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from ..guest import Exports
from ..policy import Attempt

__all__ = ["CALL_GAP", "HANDLE_RANGE", "SAVED_REGISTERS", "Installation", "NestedCaller",
           "ProgramRun", "call_frame", "checked_program", "covered", "point_imports",
           "writable_sections"]

_Self = TypeVar("_Self", bound="Installation")

HANDLE_RANGE: Final = (0x10000000, 0x1FFFFFFC)
"""The handle values of the table an adapter's ``install()`` makes: a range neither
Speakeasy (small counters from 0x80 to 0x2800, pseudo-handles from the top) nor Qiling
(1.4.6: from 0xa0000000 up, pseudo-handles from the top) hands out, so a kernel32 call tells
ws2core's handles from the emulator's by value, on x86 as on x64."""


SAVED_REGISTERS: Final[Mapping[int, tuple[str, ...]]] = {
    8: ("RAX", "RBX", "RCX", "RDX", "RSI", "RDI", "RBP", "RSP", "R8", "R9", "R10", "R11",
        "R12", "R13", "R14", "R15", "RIP", "EFLAGS"),
    4: ("EAX", "EBX", "ECX", "EDX", "ESI", "EDI", "EBP", "ESP", "EIP", "EFLAGS"),
}
"""The registers ``run_function`` saves and puts back, by pointer size (unicorn's names
after ``UC_X86_REG_``): every general register, the instruction pointer and the flags, so
that the hooked call's caller finds them as they were whatever the guest function did
(a faulting one included).  The vector registers are the callee's to preserve, by its ABI."""

CALL_GAP: Final = 0x100
"""Bytes left untouched below the guest's stack pointer when ``run_function`` builds a call
frame: the hooked call's caller owns nothing there (Windows has no red zone), the margin is
only against an emulator's own use of the top of the stack."""


def call_frame(ptr_size: int, sp: int, args: Sequence[int],
               return_address: int) -> tuple[int, bytes, tuple[int, ...]]:
    """The frame of a nested guest call below ``sp``: ``(new_sp, stack, registers)``.

    ``stack`` is what goes at ``new_sp``: the return address, then the arguments as the
    callee finds them (x86 stdcall and cdecl alike: all of them on the stack; x64: the
    32-byte home space, then the fifth argument on); ``registers`` the values of rcx, rdx,
    r8 and r9 (x64; empty on x86).  The stack pointer at the call (before the return address
    is pushed) is 16-byte aligned, as both ABIs want.  Whether the callee pops its arguments
    (stdcall) or not (cdecl) does not matter: the caller of ``run_function`` restores its
    stack pointer itself."""
    mask = (1 << (8 * ptr_size)) - 1
    values = [value & mask for value in args]
    registers: tuple[int, ...] = ()
    if ptr_size == 8:
        registers = tuple(values[:4]) + (0,) * (4 - min(len(values), 4))
        values = list(registers) + values[4:]   # the home space holds the register arguments
    words = [return_address & mask, *values]
    code = "<Q" if ptr_size == 8 else "<I"
    stack = b"".join(struct.pack(code, word) for word in words)
    at_call = (sp - CALL_GAP - (len(stack) - ptr_size)) & ~0xF
    return at_call - ptr_size, stack, registers


class NestedCaller:
    """``Guest.run_function`` over a unicorn 2 engine: a nested ``emu_start`` from inside the
    hook serving an export, from ``call_frame``'s frame to a return address on a page of its
    own (``map_page()`` maps one, executable, on first use), every ``SAVED_REGISTERS``
    register saved before and put back after, so the hooked call's caller finds them as
    they were.  The emulator's hooks stay in force, so the function's own calls of hooked
    exports are served as usual (re-entrantly).  A fault, or a stop before the return,
    is GuestFunctionFault.

    Unicorn 2 supports an ``emu_start`` nested in a hook; unicorn 1 (Speakeasy 1.5.11's)
    does not: its outer run fails afterwards (``ws2core.adapters.speakeasy`` says how)."""

    __slots__ = ("_arguments", "_map_page", "_registers", "_return", "_sp", "_unicorn",
                 "ptr_size")

    def __init__(self, ptr_size: int, map_page: Callable[[], int]) -> None:
        self._unicorn = importlib.import_module("unicorn")
        constants = importlib.import_module("unicorn.x86_const")
        self.ptr_size = ptr_size
        self._map_page = map_page
        names = SAVED_REGISTERS[ptr_size]
        self._registers = [getattr(constants, f"UC_X86_REG_{name}") for name in names]
        self._sp = self._registers[names.index("RSP" if ptr_size == 8 else "ESP")]
        self._arguments = [getattr(constants, f"UC_X86_REG_{name}")
                           for name in ("RCX", "RDX", "R8", "R9")] if ptr_size == 8 else []
        self._return = 0

    def run(self, engine: Any, address: int, args: Sequence[int]) -> int:
        """Run ``address(*args)`` on ``engine`` (a ``unicorn.Uc``); its eax/rax."""
        from ..guest import GuestFunctionFault

        if not self._return:
            self._return = self._map_page()
        saved = [engine.reg_read(register) for register in self._registers]
        sp, stack, registers = call_frame(self.ptr_size, saved[self._registers.index(self._sp)],
                                          args, self._return)
        pc, why = 0, ""
        try:
            engine.mem_write(sp, stack)
            engine.reg_write(self._sp, sp)
            for register, value in zip(self._arguments, registers):
                engine.reg_write(register, value)
            engine.emu_start(address, self._return)
            pc = engine.reg_read(self._registers[-2])
            result = int(engine.reg_read(self._registers[0]))
        except self._unicorn.UcError as fault:
            why = str(fault)
        finally:
            for register, value in zip(self._registers, saved):
                engine.reg_write(register, value)
        if why or pc != self._return:
            raise GuestFunctionFault(f"the guest function at {address:#x} did not return "
                                     f"({why or f'stopped at {pc:#x}'})")
        return result & ((1 << (8 * self.ptr_size)) - 1)


class Installation:
    """ws2core serving one emulated process: what an adapter's ``install()`` returns.

    ``table`` is the ``ws2core.UpcallTable`` that holds the guest's sockets and events
    (``table.table`` its HandleTable, in the guest's ABI: ``abi`` is ``"x64"`` or
    ``"x86"``); ``provider`` the ``HostSocketProvider`` behind its sockets, started by the
    guest's WSAStartup (the base provider: a layered provider the table's catalog installs
    sits above it, and the exports reach each socket's own through ``ws2_32``); ``policy`` its ``ws2core.policy.NetworkPolicy`` (whose ``log`` holds
    every network attempt); ``ws2_32`` the ``ws2core.ws2_32.Ws2_32`` the exports call and
    ``exports`` the ``ws2core.guest.Exports`` the hooks serve; ``max_block`` the longest a
    hook waits, in seconds.  ``close()`` (or leaving a ``with`` block) closes the provider's
    sockets and every handle left in the table.  Made by ``install()``, which checks the
    arguments.
    """

    emulator: str = "emulator"   # the adapter's emulator, for repr

    def __init__(self, exports: Exports) -> None:
        self.exports = exports
        self.ws2_32 = exports.ws2_32
        self.table = self.ws2_32.upcalls
        self.provider = self.ws2_32.provider
        self.policy = self.ws2_32.policy
        self._unsubscribe: Callable[[], None] | None = None
        self.max_block: float = exports.max_block if exports.max_block is not None else math.inf
        self.abi = exports.abi

    def __repr__(self) -> str:
        return f"<ws2core {self.emulator} installation ({self.abi}) over {self.table!r}>"

    def __enter__(self: _Self) -> _Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every socket of the provider and every handle left in the table; later
        network attempts of the policy no longer go to the emulator's report."""
        self.ws2_32.close()
        self.exports.close()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None


def covered(start: int, end: int, spans: Sequence[tuple[int, int]]) -> bool:
    """Whether ``spans`` (half-open ``(begin, end)`` pairs) cover ``start``..``end``."""
    for begin, stop in spans:   # most often one span holds it all: no sort needed
        if begin <= start and end <= stop:
            return True
    reached = start
    for begin, stop in sorted(spans):
        if begin > reached:
            break
        reached = max(reached, stop)
        if reached >= end:
            return True
    return reached >= end


_SCN_MEM_WRITE: Final = 0x80000000   # IMAGE_SCN_MEM_WRITE, a section's Characteristics


def writable_sections(image: Any, base: int) -> list[tuple[int, int]]:
    """The spans of ``image`` (a pefile PE, mapped at ``base``) that Windows maps writable:
    its sections with IMAGE_SCN_MEM_WRITE, each to its section alignment.  Emulators map a
    whole image writable; Windows maps its headers, .text and .rdata read-only."""
    alignment = max(1, int(getattr(image.OPTIONAL_HEADER, "SectionAlignment", 0x1000) or 0x1000))
    spans = []
    for section in image.sections:
        if section.Characteristics & _SCN_MEM_WRITE:
            size = max(section.Misc_VirtualSize, section.SizeOfRawData)
            start = base + section.VirtualAddress
            spans.append((start, start + -(-size // alignment) * alignment))
    return spans


def point_imports(image: Any, base: int, dll: str, targets: Mapping[str, int], ptr_size: int,
                  write: Callable[[int, bytes], None]) -> None:
    """Make ``image``'s import slots (a pefile PE with its import directory parsed, mapped at
    ``base``) of the names in ``targets`` imported from ``dll`` hold ``targets``' addresses:
    ``write(address, data)`` writes the guest's memory.  The run-time's own data in place of
    msvcrt's, where the emulator's loader filled the slots with something else."""
    loaded_at = base - image.OPTIONAL_HEADER.ImageBase   # pefile's addresses: the preferred base
    for entry in getattr(image, "DIRECTORY_ENTRY_IMPORT", ()):
        if entry.dll.decode("ascii", "replace").lower() != dll:
            continue
        for imported in entry.imports:
            target = targets.get((imported.name or b"").decode("ascii", "replace"))
            if target is not None:
                write(imported.address + loaded_at, target.to_bytes(ptr_size, "little"))


@dataclass(frozen=True)
class ProgramRun:
    """How one program's run ended: what ``run()`` returns.

    ``exit_code`` is the status it passed to exit or ExitProcess (a DWORD), None when it did
    not end that way; ``stopped`` says why the emulator stopped it instead, in a line (an
    unsupported call and where, a fault, the time limit), None when it ended by itself;
    ``error`` is the emulator's report of that (Speakeasy's, trimmed to its fields without
    the registers and the stack; Qiling's exception).  ``stdout`` and ``stderr`` are what it wrote; ``seconds`` how long it ran;
    ``leaked`` the socket and event handles it left open (closed after the run);
    ``network`` every network attempt it made, as the policy recorded it.
    """

    program: str
    args: tuple[str, ...]
    abi: str
    exit_code: int | None
    stopped: str | None
    error: Mapping[str, str]
    stdout: bytes
    stderr: bytes
    seconds: float
    leaked: tuple[int, ...]
    network: tuple[Attempt, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The run as JSON-ready values (the output decoded as UTF-8, bad bytes replaced)."""
        return {
            "program": self.program, "args": list(self.args), "abi": self.abi,
            "exit_code": self.exit_code, "stopped": self.stopped, "error": dict(self.error),
            "stdout": self.stdout.decode("utf-8", "replace"),
            "stderr": self.stderr.decode("utf-8", "replace"),
            "seconds": round(self.seconds, 6), "leaked": [f"{h:#x}" for h in self.leaked],
            "network": [attempt.as_json() for attempt in self.network],
        }


def checked_program(program: str | os.PathLike[str], timeout: float) -> Path:
    """The program a ``run()`` was given, as a Path, once both arguments are known good:
    FileNotFoundError when it is not a file, ValueError for a ``timeout`` that is not a
    finite number of seconds above 0 (before the emulator loads anything)."""
    path = Path(program)
    if not path.is_file():
        raise FileNotFoundError(f"no program at {str(path)!r}")
    if not (math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a finite number of seconds > 0, not {timeout}")
    return path
