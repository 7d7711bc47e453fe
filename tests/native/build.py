"""Build tests/native/provider.c against ws2core's shipped header and load it with ctypes.

Used by tests/test_native.py and by the benchmarks; it is loaded by path (tests/ is not a
package), so it imports nothing relative::

    spec = importlib.util.spec_from_file_location("native_build", ".../tests/native/build.py")
    build = importlib.util.module_from_spec(spec); spec.loader.exec_module(build)
    provider = build.build_provider(tmp_dir)          # NoCompiler when there is no C compiler
    up = build.WSPUPCALLTABLE.from_address(upcalls.native_table())

``build_provider`` raises ``NoCompiler`` when no C compiler can be run (callers skip), and
``CompileError`` when one ran and failed (callers fail: the header or provider.c is broken).
It also has ctypes mirrors of the header's types: ``WSPUPCALLTABLE`` (CFUNCTYPE fields, so
each upcall can be called from Python through the address) and ``FD_SET``.
"""

from __future__ import annotations

import ctypes
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import ws2core

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "provider.c"

CFLAGS = [
    "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fPIC", "-shared", "-pthread",
]
LIBS = ["-ldl"]  # dlsym: part of libc on glibc >= 2.34 and macOS, harmless there

__all__ = [
    "CompileError",
    "FD_SET",
    "NoCompiler",
    "SOCKET",
    "WSPUPCALLTABLE",
    "build_provider",
    "compiler_command",
    "UPCALL_FIELDS",
    "load_provider",
    "native_upcalls",
]


class NoCompiler(RuntimeError):
    """No C compiler could be run (CC unset and no ``cc``, or CC names nothing runnable)."""


class CompileError(RuntimeError):
    """A compiler ran and rejected provider.c (or the header): a real failure, not a skip."""


def compiler_command() -> list[str]:
    """The C compiler to use: ``$CC`` (split like a shell would), else ``cc``.

    NoCompiler when its program cannot be found.
    """
    command = shlex.split(os.environ.get("CC", "cc") or "cc")
    if not command or shutil.which(command[0]) is None:
        raise NoCompiler(f"{command[0] if command else '$CC'!r} not found on PATH (set CC)")
    return command


# --------------------------------------------------------------------------------------
# ctypes mirrors of <ws2core/ws2spi.h>

SOCKET = ctypes.c_size_t  # UINT_PTR
DWORD = ctypes.c_uint32
DWORD_PTR = ctypes.c_size_t  # ULONG_PTR
BOOL = ctypes.c_int
LPINT = ctypes.POINTER(ctypes.c_int)
WSAEVENT = ctypes.c_void_p
FD_SETSIZE = 64


class FD_SET(ctypes.Structure):
    """ws2core_fd_set: ``u_int fd_count``, padding to SOCKET alignment, ``SOCKET fd_array[64]``."""

    _fields_ = [("fd_count", ctypes.c_uint), ("fd_array", SOCKET * FD_SETSIZE)]


# CFUNCTYPE, not PYFUNCTYPE: ctypes drops the GIL around each call, as a C caller would not
# hold it.  Pointer parameters the upcalls ignore are plain void pointers.
_UPCALL_TYPES: list[tuple[str, Any]] = [
    ("lpWPUCloseEvent", ctypes.CFUNCTYPE(BOOL, WSAEVENT, LPINT)),
    ("lpWPUCloseSocketHandle", ctypes.CFUNCTYPE(ctypes.c_int, SOCKET, LPINT)),
    ("lpWPUCreateEvent", ctypes.CFUNCTYPE(WSAEVENT, LPINT)),
    ("lpWPUCreateSocketHandle", ctypes.CFUNCTYPE(SOCKET, DWORD, DWORD_PTR, LPINT)),
    ("lpWPUFDIsSet", ctypes.CFUNCTYPE(ctypes.c_int, SOCKET, ctypes.c_void_p)),
    ("lpWPUGetProviderPath", ctypes.CFUNCTYPE(
        ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, LPINT, LPINT)),
    ("lpWPUModifyIFSHandle", ctypes.CFUNCTYPE(SOCKET, DWORD, SOCKET, LPINT)),
    ("lpWPUPostMessage", ctypes.CFUNCTYPE(
        BOOL, ctypes.c_void_p, ctypes.c_uint, ctypes.c_size_t, ctypes.c_ssize_t)),
    ("lpWPUQueryBlockingCallback", ctypes.CFUNCTYPE(
        ctypes.c_int, DWORD, ctypes.c_void_p, ctypes.POINTER(DWORD_PTR), LPINT)),
    ("lpWPUQuerySocketHandleContext", ctypes.CFUNCTYPE(
        ctypes.c_int, SOCKET, ctypes.POINTER(DWORD_PTR), LPINT)),
    ("lpWPUQueueApc", ctypes.CFUNCTYPE(
        ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, DWORD_PTR, LPINT)),
    ("lpWPUResetEvent", ctypes.CFUNCTYPE(BOOL, WSAEVENT, LPINT)),
    ("lpWPUSetEvent", ctypes.CFUNCTYPE(BOOL, WSAEVENT, LPINT)),
    ("lpWPUOpenCurrentThread", ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, LPINT)),
    ("lpWPUCloseThread", ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, LPINT)),
]


class WSPUPCALLTABLE(ctypes.Structure):
    """The fifteen upcalls in ws2spi.h's order; ``WSPUPCALLTABLE.from_address(addr)``."""

    _fields_ = _UPCALL_TYPES


UPCALL_FIELDS = tuple(name for name, _ in _UPCALL_TYPES)


# --------------------------------------------------------------------------------------
# Building and loading

_P = ctypes.c_void_p  # a const WSPUPCALLTABLE *
_LPDWORD_PTR = ctypes.POINTER(DWORD_PTR)
_SIGNATURES: dict[str, tuple[Any, list[Any]]] = {
    "provider_check_all": (ctypes.c_int, [_P, ctypes.c_char_p, ctypes.c_size_t]),
    "provider_layout": (None, [ctypes.POINTER(ctypes.c_size_t)] * 5),
    "provider_create_socket": (SOCKET, [_P, DWORD, DWORD_PTR, LPINT]),
    "provider_query_context": (ctypes.c_int, [_P, SOCKET, _LPDWORD_PTR, LPINT]),
    "provider_close_socket": (ctypes.c_int, [_P, SOCKET, LPINT]),
    "provider_layer_wrap": (SOCKET, [_P, DWORD, SOCKET, LPINT]),
    "provider_layer_lower": (SOCKET, [_P, SOCKET, LPINT]),
    "provider_layer_unwrap": (SOCKET, [_P, SOCKET, LPINT]),
    "provider_create_event": (WSAEVENT, [_P, LPINT]),
    "provider_set_event": (BOOL, [_P, WSAEVENT, LPINT]),
    "provider_reset_event": (BOOL, [_P, WSAEVENT, LPINT]),
    "provider_close_event": (BOOL, [_P, WSAEVENT, LPINT]),
    "provider_fd_isset_built": (ctypes.c_int, [_P, SOCKET, ctypes.POINTER(SOCKET), ctypes.c_uint]),
    "provider_fd_isset": (ctypes.c_int, [_P, SOCKET, ctypes.c_void_p]),
    "provider_set_event_after": (ctypes.c_int, [_P, WSAEVENT, ctypes.c_uint]),
    "provider_join_setter": (ctypes.c_int, [ctypes.c_int, LPINT]),
    "provider_check_apcs": (ctypes.c_int, [_P, _P, ctypes.c_char_p, ctypes.c_size_t,
                                           ctypes.POINTER(ctypes.c_double)]),
    "provider_open_thread_and_sleep": (ctypes.c_int, [_P, _P, ctypes.c_void_p, ctypes.c_uint]),
    "provider_join_sleeper": (DWORD, [LPINT]),
    "provider_hammer_c_tag": (ctypes.c_uint, []),
    "provider_hammer_py_tag": (ctypes.c_uint, []),
    "provider_hammer": (ctypes.c_long, [_P, ctypes.c_int, ctypes.c_long, DWORD]),
    "provider_hammer_report": (None, [ctypes.c_char_p, ctypes.c_size_t]),
    "provider_bench": (ctypes.c_int, [_P, ctypes.c_long] + [ctypes.POINTER(ctypes.c_double)] * 4),
}


def load_provider(path: str | os.PathLike[str]) -> ctypes.CDLL:
    """Load a built provider library with argtypes/restype set for every exported function.

    ctypes.CDLL, not PyDLL: each call drops the GIL, so the provider's upcalls (which take it)
    and its threads run as they would in a real provider.
    """
    lib = ctypes.CDLL(os.fspath(path))
    for name, (restype, argtypes) in _SIGNATURES.items():
        function = getattr(lib, name)
        function.restype = restype
        function.argtypes = argtypes
    return lib


def build_provider(tmp_dir: str | os.PathLike[str]) -> ctypes.CDLL:
    """Compile provider.c into ``tmp_dir`` against ``ws2core.get_include()`` and load it.

    NoCompiler when no compiler can be run; CompileError (with the compiler's output) when it
    ran and failed.
    """
    command = compiler_command()
    suffix = ".dylib" if sys.platform == "darwin" else ".so"
    output = Path(tmp_dir) / f"ws2core_test_provider{suffix}"
    argv = [*command, *CFLAGS, "-I", ws2core.get_include(), str(SOURCE), "-o", str(output), *LIBS]
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    except FileNotFoundError as missing:  # which() saw it, but it cannot be executed
        raise NoCompiler(f"{command[0]!r} cannot be run: {missing}") from None
    except PermissionError as denied:
        raise NoCompiler(f"{command[0]!r} cannot be run: {denied}") from None
    if result.returncode != 0 or not output.exists():
        raise CompileError(
            f"compiling {SOURCE.name} failed (exit {result.returncode}):\n$ {shlex.join(argv)}\n"
            f"{result.stdout}{result.stderr}"
        )
    return load_provider(output)


def native_upcalls(address: int) -> WSPUPCALLTABLE:
    """The WSPUPCALLTABLE at ``address`` (``UpcallTable.native_table()``), seen through ctypes."""
    return WSPUPCALLTABLE.from_address(address)
