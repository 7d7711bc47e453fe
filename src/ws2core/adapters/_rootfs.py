"""A Windows rootfs for Qiling made of Wine's own PE DLLs (``windows_rootfs``).

Qiling emulates a Windows program over a folder that stands for the C: drive: its DLLs in
``Windows/System32`` and registry hives in ``Windows/registry``.  Nobody may copy those from
a Windows installation; Wine's PE DLLs (Debian's wine64 installs them under
``/usr/lib/x86_64-linux-gnu/wine/x86_64-windows/``, libwine:i386 the 32-bit ones under
``/usr/lib/i386-linux-gnu/wine/i386-windows/``) are free and load in Qiling (1.4.6
checked).  This module copies the import closure of the DLLs a mingw-built console program
needs into such a folder and writes empty registry hives, without importing Qiling; the
Qiling adapter (``ws2core.adapters.qiling``) re-exports ``windows_rootfs``.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import shutil
import struct
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

__all__ = ["HIVES", "ROOT_DLLS", "WINE_DLL_DIRS", "WINE_ROOT_VARIABLE", "WineMissing",
           "empty_hive", "import_closure", "windows_rootfs", "wine_dll_dir", "wine_roots",
           "wine_version"]

ROOT_DLLS: Final[tuple[str, ...]] = (
    "ntdll.dll", "kernel32.dll", "kernelbase.dll", "msvcrt.dll", "ucrtbase.dll", "user32.dll",
    "ws2_32.dll", "advapi32.dll", "iphlpapi.dll", "mswsock.dll",
)
"""The DLLs a mingw-built Winsock console program loads; the rootfs holds their import
closure (Qiling loads every DLL an image imports, recursively, before the program runs)."""

WINE_DLL_DIRS: Final[dict[str, tuple[str, ...]]] = {
    # Debian and Ubuntu (multiarch), then the layouts of Fedora and WineHQ's packages.
    "x8664": ("/usr/lib/x86_64-linux-gnu/wine/x86_64-windows", "/usr/lib64/wine/x86_64-windows",
              "/opt/wine-stable/lib64/wine/x86_64-windows", "/usr/lib/wine/x86_64-windows"),
    "x86": ("/usr/lib/i386-linux-gnu/wine/i386-windows", "/usr/lib/wine/i386-windows",
            "/opt/wine-stable/lib/wine/i386-windows"),
}
WINE_ROOT_VARIABLE: Final = "WS2CORE_WINE_ROOT"
"""The environment variable naming a folder Wine's packages were installed or extracted
into, searched before ``/`` (``windows_rootfs``'s ``wine_root``)."""

_INSTALL_HINT: Final[dict[str, str]] = {
    "x8664": "apt-get install wine64 (Debian, Ubuntu) or your distribution's 64-bit Wine",
    # libwine:i386 holds the 32-bit PE DLLs alone (95 MB); wine32 would bring 314 packages.
    "x86": ("dpkg --add-architecture i386 && apt-get update && apt-get install libwine:i386 "
            "(Debian, Ubuntu; wine32 has them too), or, installing nothing: apt-get download "
            f"libwine:i386 && dpkg-deb -x libwine_*_i386.deb ROOT, then {WINE_ROOT_VARIABLE}=ROOT "
            "(or windows_rootfs(wine_root=ROOT))"),
}
# Where the version string of the Wine a PE DLL folder belongs to is: the Unix half of its
# ntdll, in the sibling folder (x86_64-windows beside x86_64-unix), in every package layout
# of WINE_DLL_DIRS (Wine 6 and later).
_UNIX_NTDLL: Final = "ntdll.so"
_VERSION_STRING: Final = re.compile(rb"wine-\d+(?:\.\d+)+(?: \([^\0)]{1,80}\))?")

HIVES: Final[tuple[str, ...]] = ("SECURITY", "SAM", "SOFTWARE", "SYSTEM", "HARDWARE",
                                 "NTUSER.DAT")
"""The hive files Qiling (1.4.6, ``qiling/os/windows/registry.py``: ``RegHive``) opens in
``Windows/registry`` and refuses to start without."""


class WineMissing(FileNotFoundError):
    """Wine's PE DLLs for the asked architecture are not installed; the message says what
    to install."""


def wine_roots(wine_root: str | os.PathLike[str] | None = None) -> tuple[Path, ...]:
    """The folders Wine's DLLs are looked for under, in order: ``wine_root`` (default: the
    environment's ``WINE_ROOT_VARIABLE``, if set), then ``/``."""
    if wine_root is None:
        wine_root = os.environ.get(WINE_ROOT_VARIABLE) or None
    return (Path("/"),) if wine_root is None else (Path(wine_root), Path("/"))


def wine_dll_dir(arch: str, wine_root: str | os.PathLike[str] | None = None) -> Path:
    """The folder of Wine's PE DLLs for ``arch`` ("x8664" or "x86"): the first of
    ``WINE_DLL_DIRS[arch]`` holding ntdll.dll, under each of ``wine_roots(wine_root)`` in
    turn; WineMissing, naming what to install, if none."""
    if arch not in WINE_DLL_DIRS:
        raise ValueError(f"arch is 'x8664' or 'x86', not {arch!r}")
    candidates = [root / folder.lstrip("/") for root in wine_roots(wine_root)
                  for folder in WINE_DLL_DIRS[arch]]
    for folder in candidates:
        if (folder / "ntdll.dll").is_file():
            return folder
    raise WineMissing(
        f"Wine's {'64' if arch == 'x8664' else '32'}-bit PE DLLs are not installed (looked in "
        f"{', '.join(map(str, candidates))}): {_INSTALL_HINT[arch]}")


def wine_version(dll_dir: Path) -> str:
    """A name for the Wine ``dll_dir`` belongs to, safe as a folder name: the rootfs cache
    is keyed by it (``wine-8.0-Debian-8.0-repack-4-2dde6b-63f14e2b``).  The version is read
    from the Unix half of that Wine's ntdll beside the folder, so it is the version of
    these DLLs, installed or only extracted, whichever Wine the system runs; ntdll.dll's
    size and time (the rest) tell builds apart where it is missing and guard against a Wine
    upgraded in place."""
    unix = dll_dir.with_name(dll_dir.name.replace("-windows", "-unix")) / _UNIX_NTDLL
    try:
        found = _VERSION_STRING.search(unix.read_bytes())
    except OSError:
        found = None
    version = found.group().decode("ascii", "replace") if found else ""
    stat = (dll_dir / "ntdll.dll").stat()
    stamp = f"{stat.st_size:x}-{int(stat.st_mtime):x}"
    name = re.sub(r"[^A-Za-z0-9.]+", "-", version).strip("-") or "wine"
    return f"{name}-{stamp}"


def _imports(path: Path) -> list[str]:
    """The DLL names ``path`` imports (its import directory; delay-loaded ones are not
    loaded by Qiling up front), lower case."""
    # A dependency of Qiling, imported here so that ws2core never needs it (import_module:
    # pefile ships no type information).
    pefile = importlib.import_module("pefile")
    pe = pefile.PE(str(path), fast_load=True)
    try:
        pe.parse_data_directories(directories=[
            pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_IMPORT"]])
        return [entry.dll.decode("ascii", "replace").lower()
                for entry in getattr(pe, "DIRECTORY_ENTRY_IMPORT", ())]
    finally:
        pe.close()


def import_closure(dll_dir: Path, roots: Iterable[str] = ROOT_DLLS) -> list[str]:
    """The names of ``roots`` and every DLL of ``dll_dir`` they import, recursively (the
    api-ms-win-* API sets are left out: Qiling resolves their imports in ntdll, kernelbase
    and ucrtbase and never loads them)."""
    pending, seen = [name.lower() for name in roots], set()
    while pending:
        name = pending.pop()
        if name in seen or name.startswith(("api-ms-win-", "ext-ms-")):
            continue
        if not (dll_dir / name).is_file():
            continue  # Qiling says so itself if a program needs it
        seen.add(name)
        pending.extend(_imports(dll_dir / name))
    return sorted(seen)


def empty_hive(name: str = "ROOT") -> bytes:
    """A registry hive file (regf) with one key, its root, and nothing else: 8 KiB.

    The layout (a 4 KiB base block, then one 4 KiB hive bin holding the root key's nk cell
    and one free cell) is the regf format python-registry (Qiling's reader) parses; the
    base block's checksum is the XOR of its first 127 dwords."""
    key = name.encode("ascii")
    nk = struct.pack("<2sHQIIIIIIIIIIIIIIIHH", b"nk", 0x2C,   # KEY_HIVE_ENTRY|NO_DELETE|COMP_NAME
                     0, 0, 0,                                  # time, access bits, parent
                     0, 0, 0xFFFFFFFF, 0xFFFFFFFF,             # no subkeys (lists: none)
                     0, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF,    # no values, security, class
                     0, 0, 0, 0, 0,                            # maxima, work var
                     len(key), 0) + key
    cell_size = -(-(4 + len(nk)) // 8) * 8
    bin_size = 0x1000
    hbin = bytearray(bin_size)
    struct.pack_into("<4sII", hbin, 0, b"hbin", 0, bin_size)
    struct.pack_into("<i", hbin, 0x20, -cell_size)            # negative: allocated
    hbin[0x24:0x24 + len(nk)] = nk
    struct.pack_into("<i", hbin, 0x20 + cell_size, bin_size - 0x20 - cell_size)  # free
    base = bytearray(0x1000)
    struct.pack_into("<4sIIQIIIIIII", base, 0, b"regf", 1, 1, 0, 1, 5, 0, 1, 0x20, bin_size, 1)
    checksum = 0
    for (dword,) in struct.iter_unpack("<I", bytes(base[:0x1FC])):
        checksum ^= dword
    struct.pack_into("<I", base, 0x1FC, checksum)
    return bytes(base + hbin)


def _layout() -> str:
    """What a rootfs holds besides Wine's DLLs themselves, as part of its cache key."""
    return hashlib.sha256("\n".join((*ROOT_DLLS, "", *HIVES)).encode()).hexdigest()[:8]


def _cache_home() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME")
    return (Path(cache) if cache else Path.home() / ".cache") / "ws2core" / "qiling-rootfs"


def windows_rootfs(path: str | os.PathLike[str] | None = None, *, arch: str = "x8664",
                   wine_root: str | os.PathLike[str] | None = None) -> Path:
    """The folder to give Qiling as its ``rootfs`` for a Windows program of ``arch``
    ("x8664" or "x86"), made of Wine's PE DLLs; built the first time, then reused.

    ``wine_root``: a folder Wine's packages were installed or extracted into, looked in
    before ``/`` (``wine_dll_dir``), with the same layouts (for Debian's 32-bit DLLs,
    extracted without installing anything: ``apt-get download libwine:i386 && dpkg-deb -x
    libwine_*_i386.deb ROOT``; WineMissing's message says so).  Default: the environment
    variable ``WS2CORE_WINE_ROOT`` (``WINE_ROOT_VARIABLE``), if set: a root rather than a
    DLL folder, so that one setting serves both architectures (both packages extract into
    one root), and a variable, so that it reaches every caller (``run()``, the command
    line) without being passed down.

    ``path``: where the rootfs goes (default: ``$XDG_CACHE_HOME/ws2core/qiling-rootfs/`` or
    ``~/.cache/ws2core/qiling-rootfs/``, in a folder named after the Wine the DLLs come
    from, ``wine_version``, so an upgrade builds a new one).  Returns
    ``<path>/<wine version>/<arch>_windows-<layout>``, the layout a digest of ``ROOT_DLLS``
    and ``HIVES`` (so that a ws2core that needs another DLL builds a new rootfs rather than
    reuse one without it), which holds ``Windows/System32`` (the import
    closure of ``ROOT_DLLS``: real copies, since Qiling re-roots a symlink's absolute
    target inside the rootfs) and ``Windows/registry`` (``HIVES``, each an empty hive).
    Building happens in a temporary folder renamed into place, so concurrent callers never
    see half a rootfs.  WineMissing (a FileNotFoundError) saying what to install when
    Wine's DLLs are not found.
    (``ws2core.adapters.qiling.windows_rootfs`` also puts its loader fix in place.)
    """
    dll_dir = wine_dll_dir(arch, wine_root)
    top = (Path(path) if path is not None else _cache_home()) / wine_version(dll_dir)
    rootfs = top / f"{arch}_windows-{_layout()}"
    if not (rootfs / "Windows" / "registry" / HIVES[-1]).is_file():
        top.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{arch}_windows.", dir=top))
        try:
            _build(partial, dll_dir)
            try:
                os.rename(partial, rootfs)
            except OSError:
                if not (rootfs / "Windows" / "registry" / HIVES[-1]).is_file():
                    raise   # not a concurrent build that won the race
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return rootfs


def _build(rootfs: Path, dll_dir: Path, dlls: Sequence[str] | None = None) -> None:
    system32 = rootfs / "Windows" / "System32"
    system32.mkdir(parents=True)
    for name in dlls if dlls is not None else import_closure(dll_dir):
        shutil.copyfile(dll_dir / name, system32 / name)   # a file, never a symlink
    registry = rootfs / "Windows" / "registry"
    registry.mkdir()
    for hive in HIVES:
        (registry / hive).write_bytes(empty_hive())
    os.chmod(rootfs, 0o755)
