"""The Guest protocol: what the exports need of an emulated process, and nothing more.

An emulator adapter (layer 5) implements it over its emulator's memory and threads; the
exports (this package, layer 4) use nothing else of the emulator.  Addresses and sizes are
guest values (unsigned ints); the exports check NULL and the address space themselves
(``ptr_size``), so an implementation only answers for what its emulator has mapped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class GuestFault(Exception):
    """A guest memory access that the emulator refused (an unmapped byte, say).

    ``Guest.read`` and ``Guest.write`` raise it and nothing else for a bad range; the exports
    turn it into WSAEFAULT."""


class GuestFunctionFault(GuestFault):
    """A guest function ``Guest.run_function`` ran did not return: it faulted (an unmapped
    read, an invalid instruction), called what the emulator stopped on, or ran out of time.

    The registers are as they were before the call; the export that ran it fails cleanly
    (``Exports.hook``: WSAEFAULT for a ws2_32 export, ERROR_NOACCESS for kernel32's, as
    for any guest memory fault), where Windows would raise the exception in the program."""


class Guest(Protocol):
    """One emulated process as one export call sees it."""

    @property
    def ptr_size(self) -> int:
        """4 (x86: 4-byte SOCKET, HANDLE and pointers, stdcall) or 8 (x64)."""
        ...

    def read(self, address: int, size: int) -> bytes:
        """``size`` bytes at ``address``; GuestFault unless every one is mapped."""
        ...

    def write(self, address: int, data: bytes) -> None:
        """Store ``data`` at ``address``; GuestFault unless every byte is mapped (an
        implementation should then write nothing)."""
        ...

    def readable(self, address: int, size: int) -> bool:
        """Whether the guest could read these bytes, as Windows would see it."""
        ...

    def writable(self, address: int, size: int) -> bool:
        """Whether the guest could write these bytes, as Windows would see it (the page's
        protection and, for a loaded image, its section's: emulators map images writable
        where Windows does not).  An implementation that knows only what is mapped says
        so in its documentation."""
        ...

    def allocate(self, size: int) -> int:
        """The address of ``size`` fresh zeroed bytes the guest can read and write (what
        Ws2_32 returns pointers to: a hostent, an addrinfo chain); GuestFault when the
        emulator has no room.  They stay until ``release``."""
        ...

    def release(self, address: int) -> None:
        """Give back memory ``allocate`` returned (an address it did not return: ignored)."""
        ...

    def thread_id(self) -> int:
        """The current guest thread's id (0 when the emulator has none yet)."""
        ...

    def get_last_error(self) -> int:
        """The current guest thread's Win32 last error (WSAGetLastError is GetLastError)."""
        ...

    def set_last_error(self, code: int) -> None:
        ...

    def arguments(self, count: int) -> Sequence[int]:
        """The raw values of the first ``count`` argument slots of the call being served,
        pointer-sized each (the registers and the stack of the guest's C calling
        convention): how a variadic function (printf) reads past its fixed parameters."""
        ...

    @property
    def runs_functions(self) -> bool:
        """Whether ``run_function`` can run guest code here (False: it raises
        NotImplementedError)."""
        ...

    def run_function(self, address: int, args: Sequence[int]) -> int:
        """Run the guest function at ``address`` with ``args`` (pointer-sized values) in the
        guest's calling convention, on the current guest thread, to its return, and give its
        result (eax/rax): an APC, a completion routine, WSAAccept's condition function.

        Every general register, the flags and the stack pointer are as they were afterwards,
        whether the function popped its arguments (stdcall) or not (cdecl); the function may
        call the hooked exports itself.  GuestFunctionFault when it does not return; an
        emulator that cannot run guest code raises NotImplementedError saying so."""
        ...

    def is_current_thread(self, handle: int) -> bool:
        """Whether ``handle`` names the current guest thread: GetCurrentThread's
        pseudo-handle (-2, pointer-sized) or a handle the emulator handed out for it."""
        ...

    def export_address(self, dll: str, name: str) -> int | None:
        """A guest address that, when the guest calls it, reaches this adapter's hook of
        ``dll``'s export ``name`` (an export of ``ws2core.guest.EXPORTS``), as
        GetProcAddress would give it; the same address each time.  None where the emulator
        cannot give one (the export that hands such addresses out then says so)."""
        ...
