"""The shipped C header <ws2core/ws2spi.h>: it compiles cleanly in every language mode a
provider may use, alone and after the host's own headers, and its layout and constants are
the Windows ones that ws2core.constants and UpcallTable also state.

These tests need a C compiler (and a C++ compiler for the C++17 case); without one they are
skipped with the reason.  A compiler that exists but rejects the header is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import ws2core
from ws2core import constants
from ws2core.upcalls import UPCALL_FIELDS

HEADER = Path(ws2core.get_include()) / "ws2core" / "ws2spi.h"
WARNINGS = ["-Wall", "-Wextra", "-pedantic", "-Werror"]
HOST_HEADERS = "#include <stdlib.h>\n#include <sys/types.h>\n#include <sys/select.h>\n"
C_COMPILER = os.environ.get("CC", "cc")
CXX_COMPILER = os.environ.get("CXX", "c++")

# (language flag, compiler, source suffix)
MODES = {
    "c99": (["-std=c99"], C_COMPILER, ".c"),
    "gnu17": (["-std=gnu17"], C_COMPILER, ".c"),
    "c++17": (["-std=c++17"], CXX_COMPILER, ".cpp"),
}


def require(compiler: str) -> str:
    found = shutil.which(compiler)
    if found is None:
        pytest.skip(f"no compiler {compiler!r} on PATH (set CC / CXX to use another)")
    return found


def build_and_run(tmp_path: Path, source: str, mode: str) -> str:
    flags, compiler, suffix = MODES[mode]
    path = tmp_path / f"check{suffix}"
    path.write_text(source)
    binary = tmp_path / "check"
    result = subprocess.run(
        [require(compiler), *flags, *WARNINGS, "-I", ws2core.get_include(), str(path), "-o", str(binary)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, f"{mode} compile failed:\n{result.stderr}"
    return subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout


def layout_program(prelude: str) -> str:
    offsets = "\n".join(
        f'    printf("{field} %u\\n", (unsigned)offsetof(WSPUPCALLTABLE, {field}));'
        for field in UPCALL_FIELDS
    )
    return f"""{prelude}#include <ws2core/ws2spi.h>
#include <stddef.h>
#include <stdio.h>
int main(void) {{
    fd_set set;
    set.fd_count = 0;
    printf("sizeof_table %u\\n", (unsigned)sizeof(WSPUPCALLTABLE));
    printf("sizeof_fd_set %u\\n", (unsigned)sizeof(set));
    printf("fd_array %u\\n", (unsigned)offsetof(ws2core_fd_set, fd_array));
    printf("sizeof_socket %u\\n", (unsigned)sizeof(SOCKET));
    printf("sizeof_dword %u\\n", (unsigned)sizeof(DWORD));
    printf("sizeof_wchar %u\\n", (unsigned)sizeof(WCHAR));
    printf("sizeof_threadid %u\\n", (unsigned)sizeof(WSATHREADID));
{offsets}
    return (int)set.fd_count;
}}
"""


def parse(output: str) -> dict[str, int]:
    return {name: int(value) for name, value in (line.split() for line in output.splitlines())}


@pytest.mark.parametrize("after_host_headers", [False, True], ids=["alone", "after-host-headers"])
@pytest.mark.parametrize("mode", list(MODES))
def test_header_compiles_cleanly_with_the_windows_layout(
    tmp_path: Path, mode: str, after_host_headers: bool
) -> None:
    layout = parse(build_and_run(tmp_path, layout_program(HOST_HEADERS if after_host_headers else ""), mode))
    pointer = layout["sizeof_socket"]  # SOCKET is UINT_PTR: the host's pointer size
    assert layout["sizeof_table"] == len(UPCALL_FIELDS) * pointer == (120 if pointer == 8 else 60)
    # The fields in ws2spi.h's order: field i at i pointers.
    assert [layout[field] for field in UPCALL_FIELDS] == [i * pointer for i in range(15)]
    assert layout["sizeof_dword"] == 4 and layout["sizeof_wchar"] == 2
    assert layout["sizeof_threadid"] == 2 * pointer
    if pointer == 8:  # the Windows x64 fd_set: fd_count, 4 bytes of padding, 64 SOCKETs
        assert layout["fd_array"] == 8
        assert layout["sizeof_fd_set"] == 8 + 8 * constants.FD_SETSIZE


def test_the_host_fd_set_stays_usable_with_the_opt_out_macro(tmp_path: Path) -> None:
    source = """#include <ws2core/ws2spi.h>
#include <stdio.h>
#include <sys/select.h>  /* after ws2spi.h: needs WS2CORE_NO_FD_SET_MACRO */
int main(void) {
    fd_set host;            /* the host's */
    ws2core_fd_set windows; /* the Windows layout */
    FD_ZERO(&host);
    FD_SET(3, &host);
    windows.fd_count = 1;
    windows.fd_array[0] = 3;
    printf("%d %u\\n", FD_ISSET(3, &host) ? 1 : 0, windows.fd_count);
    return 0;
}
"""
    out = build_and_run(tmp_path, "#define WS2CORE_NO_FD_SET_MACRO\n" + source, "c99")
    assert out.split() == ["1", "1"]


def header_constants() -> list[str]:
    """The names the header defines under #ifndef guards (its constants and error codes)."""
    names = re.findall(r"^#ifndef (\w+)\n#define \1 ", HEADER.read_text(), re.M)
    return [name for name in names if not name.startswith("WS2CORE_") and name not in ("WSPAPI", "CALLBACK")]


def test_header_constants_equal_ws2core_constants(tmp_path: Path) -> None:
    names = header_constants()
    assert {"INVALID_SOCKET", "SOCKET_ERROR", "WSAENOTSOCK", "WSAENOBUFS", "WSA_INVALID_HANDLE"} <= set(names)
    lines = "\n".join(
        f'    printf("{name} %lld\\n", (long long)(intptr_t){name});' if name == "WSA_INVALID_EVENT"
        else f'    printf("{name} %llu\\n", (unsigned long long){name});' if name == "INVALID_SOCKET"
        else f'    printf("{name} %lld\\n", (long long){name});'
        for name in names
    )
    source = f"#include <ws2core/ws2spi.h>\n#include <stdio.h>\nint main(void) {{\n{lines}\n    return 0;\n}}\n"
    values = parse(build_and_run(tmp_path, source, "c99"))
    for name in names:
        assert values[name] == getattr(constants, name), name


def test_the_readme_c_example_compiles_without_a_warning(tmp_path: Path) -> None:
    """The README's C example as shown (tests/test_readme.py builds and calls it with the
    README's own command), compiled here with every warning this suite asks of C."""
    readme = (Path(__file__).parent.parent / "README.md").read_text()
    blocks = re.findall(r"```c\n(.*?)```", readme, re.S)
    assert len(blocks) == 1, "README.md has no C example, or more than one"
    source = blocks[0]
    path = tmp_path / "example.c"
    path.write_text(source)
    result = subprocess.run(
        [require(C_COMPILER), "-std=c99", *WARNINGS, "-I", ws2core.get_include(), "-c", str(path),
         "-o", str(tmp_path / "example.o")],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr
