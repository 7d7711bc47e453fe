"""What a Speakeasy guest may write, as Windows would enforce it, through the adapter's Guest.

Speakeasy maps a loaded image writable and unicorn's own memory access ignores protections,
so the adapter answers ``writable`` from the image's sections (IMAGE_SCN_MEM_WRITE) and from
the protection the program asked for.  Over a real Speakeasy emulator with one of
tests/emulator's programs loaded (both ABIs): getsockname into its headers, .text or .rdata
fails (WSAEFAULT, which the guest-layer tests check over a stand-in: before a run Speakeasy
has no guest thread to keep a last error) with the bytes unchanged, into .data it succeeds, and a page mapped read-only
(what VirtualAlloc(PAGE_READONLY) maps) is WSAEFAULT too.  Nothing runs in the emulator.
"""

from __future__ import annotations

import struct
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import ws2core
from ws2core import AF_INET, SOCK_STREAM
from ws2core.adapters.speakeasy import install

pytest_plugins = ("programs",)

ARCHES = ("x86_64", "i686")


@pytest.mark.parametrize("arch", ARCHES)
def test_image_sections_and_read_only_pages(speakeasy: ModuleType,
                                            built_programs: dict[tuple[str, str], Path],
                                            ws2core_core: ModuleType, arch: str) -> None:
    se = speakeasy.Speakeasy()
    module = se.load_module(str(built_programs["select_fdset", arch]))
    abi = "x64" if arch == "x86_64" else "x86"
    hooks: dict[str, Any] = {}
    recorder = _Recording(se, hooks)
    table = ws2core.UpcallTable(ws2core_core.HandleTable(abi=abi))
    with install(recorder, table):
        def call(name: str, *args: int) -> int:
            return int(hooks[name](se.emu, f"ws2_32.{name}", None, list(args)))

        assert call("WSAStartup", 0x0202, se.mem_alloc(0x1000)) == 0
        s = call("socket", AF_INET, SOCK_STREAM, 0)
        name = se.mem_alloc(0x1000)
        se.mem_write(name, struct.pack("<HH4s8x", AF_INET, 0, bytes([127, 0, 0, 1])))
        assert call("bind", s, name, 16) == 0
        length = se.mem_alloc(0x1000)
        sections = {section.Name.rstrip(b"\0").decode(): module.get_base() + section.VirtualAddress
                    for section in module.sections}
        for where, address in [("headers", module.get_base()), (".text", sections[".text"]),
                               (".rdata", sections[".rdata"])]:
            before = bytes(se.mem_read(address, 16))
            se.mem_write(length, struct.pack("<i", 16))
            # (No guest thread runs yet, so Speakeasy keeps no last error: the result says it.)
            assert call("getsockname", s, address, length) == 0xFFFFFFFF, where
            assert bytes(se.mem_read(address, 16)) == before, where
        se.mem_write(length, struct.pack("<i", 16))
        assert call("getsockname", s, sections[".data"], length) == 0
        assert struct.unpack("<H", bytes(se.mem_read(sections[".data"], 2)))[0] == AF_INET
        read_only = se.emu.mem_map(0x1000, perms=speakeasy.common.PERM_MEM_READ, tag="test.ro")
        se.mem_write(length, struct.pack("<i", 16))
        assert call("getsockname", s, read_only, length) == 0xFFFFFFFF
        assert bytes(se.mem_read(read_only, 16)) == bytes(16)
        assert call("closesocket", s) == 0
        assert call("WSACleanup") == 0


class _Recording:
    """A real Speakeasy whose hooks are also kept by name, to be called directly."""

    def __init__(self, se: Any, hooks: dict[str, Any]) -> None:
        self._se, self._hooks = se, hooks

    @property
    def emu(self) -> Any:
        return self._se.emu

    def get_ptr_size(self) -> int:
        return int(self._se.get_ptr_size())

    def add_api_hook(self, cb: Any, module: str, api_name: str, argc: int = 0,
                     call_conv: Any = None) -> Any:
        self._hooks[api_name] = cb
        return self._se.add_api_hook(cb, module, api_name, argc=argc, call_conv=call_conv)


@pytest.mark.parametrize("arch", ARCHES)
def test_allocate_and_release(speakeasy: ModuleType, built_programs: dict[tuple[str, str], Path],
                              ws2core_core: ModuleType, arch: str) -> None:
    """Guest.allocate gives fresh zeroed memory the guest may read and write, tagged
    ``ws2core.guest`` in Speakeasy's memory map (which appends the base address to a tag);
    release unmaps it (and ignores an address it
    did not give).  Through the exports: getaddrinfo's chain is such a block, freeaddrinfo
    releases it."""
    from ws2core.adapters.speakeasy import _Guest, _import_speakeasy

    se = speakeasy.Speakeasy()
    se.load_module(str(built_programs["names", arch]))
    ptr_size = 8 if arch == "x86_64" else 4
    guest = _Guest(se.emu, _import_speakeasy(), ptr_size)
    address = guest.allocate(100)
    assert guest.read(address, 100) == bytes(100)
    assert guest.readable(address, 100) and guest.writable(address, 100)
    assert se.emu.get_address_map(address).tag.startswith("ws2core.guest.")
    guest.write(address, b"ws2core")
    assert guest.read(address, 7) == b"ws2core"
    guest.release(address + 8)                 # not an address allocate gave: ignored
    assert guest.readable(address, 100)
    guest.release(address)
    assert not guest.readable(address, 1) and not guest.writable(address, 1)

    hooks: dict[str, Any] = {}
    table = ws2core.UpcallTable(ws2core_core.HandleTable(abi="x64" if ptr_size == 8 else "x86"))
    with install(_Recording(se, hooks), table):
        def call(name: str, *args: int) -> Any:
            return hooks[name](se.emu, f"ws2_32.{name}", None, list(args))

        assert call("WSAStartup", 0x0202, se.mem_alloc(0x1000)) == 0
        strings = se.mem_alloc(0x1000)
        se.mem_write(strings, b"localhost\0")
        out = strings + 0x100
        assert call("getaddrinfo", strings, 0, 0, out) == 0
        chain = int.from_bytes(bytes(se.mem_read(out, ptr_size)), "little")
        assert se.emu.get_address_map(chain).tag.startswith("ws2core.guest.")
        assert call("freeaddrinfo", chain) is None
        assert not guest.readable(chain, 1)
        assert call("WSACleanup") == 0
