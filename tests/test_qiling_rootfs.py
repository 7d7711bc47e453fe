"""ws2core.adapters._rootfs without Qiling: where Wine's DLLs are found (an extracted package's
root), the cache key, the message without Wine, the empty hive.

(tests/under_qiling builds a whole rootfs and runs programs on it, in Qiling's own venv.)
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from ws2core.adapters import _rootfs
from ws2core.adapters._rootfs import (HIVES, WINE_ROOT_VARIABLE, WineMissing, empty_hive,
                                      windows_rootfs, wine_dll_dir, wine_roots, wine_version)


def test_without_wine_the_error_names_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.delenv(WINE_ROOT_VARIABLE, raising=False)
    monkeypatch.setitem(_rootfs.WINE_DLL_DIRS, "x86", (str(tmp_path / "nowhere"),))
    with pytest.raises(WineMissing) as raised:
        windows_rootfs(tmp_path / "rootfs", arch="x86")
    message = str(raised.value)
    assert isinstance(raised.value, FileNotFoundError)
    assert str(tmp_path / "nowhere") in message
    # Both routes: the installed package, and its DLLs extracted without installing anything.
    assert "dpkg --add-architecture i386" in message
    assert "apt-get install libwine:i386" in message
    assert "apt-get download libwine:i386 && dpkg-deb -x" in message
    assert f"{WINE_ROOT_VARIABLE}=ROOT" in message
    assert not (tmp_path / "rootfs").exists()   # nothing built
    with pytest.raises(WineMissing, match=r"apt-get install wine64"):
        monkeypatch.setitem(_rootfs.WINE_DLL_DIRS, "x8664", (str(tmp_path / "nowhere"),))
        windows_rootfs(tmp_path / "rootfs")
    with pytest.raises(ValueError, match="x8664"):
        windows_rootfs(tmp_path / "rootfs", arch="arm64")


def fake_wine(root: Path, version: bytes = b"wine-8.0 (Debian 8.0~repack-4)",
              ntdll: bytes = b"MZ ntdll") -> Path:
    """Debian's layout of libwine:i386 under ``root``, as ``dpkg-deb -x`` leaves it: the
    32-bit PE ntdll.dll, and beside its folder the Unix ntdll.so holding the version."""
    wine = root / "usr" / "lib" / "i386-linux-gnu" / "wine"
    (wine / "i386-windows").mkdir(parents=True)
    (wine / "i386-windows" / "ntdll.dll").write_bytes(ntdll)
    (wine / "i386-unix").mkdir()
    (wine / "i386-unix" / "ntdll.so").write_bytes(b"\x7fELF\0" + version + b"\0wine-9.9 too")
    return wine / "i386-windows"


def test_wine_dlls_are_found_under_the_root_named(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.delenv(WINE_ROOT_VARIABLE, raising=False)
    dlls = fake_wine(tmp_path / "extracted")
    assert wine_roots() == (Path("/"),)
    assert wine_roots(tmp_path / "extracted") == (tmp_path / "extracted", Path("/"))
    assert wine_dll_dir("x86", tmp_path / "extracted") == dlls
    monkeypatch.setenv(WINE_ROOT_VARIABLE, str(tmp_path / "extracted"))   # the default
    assert wine_dll_dir("x86") == dlls
    # The keyword wins over the variable (whose root is then not searched); a root without
    # the DLLs is passed over, and named in the message.
    monkeypatch.setitem(_rootfs.WINE_DLL_DIRS, "x86", (str(tmp_path / "layout"),))
    with pytest.raises(WineMissing) as raised:
        wine_dll_dir("x86", tmp_path / "empty")
    looked = str(raised.value)
    assert str(tmp_path / "empty") + str(tmp_path / "layout") in looked
    assert str(tmp_path / "extracted") not in looked


def test_the_cache_key_names_the_version_of_the_dlls_used(tmp_path: Path) -> None:
    """The version is the one of the Wine the DLLs belong to (its Unix ntdll beside them),
    not of whichever Wine is installed; ntdll.dll's size and time tell two builds apart."""
    dlls = fake_wine(tmp_path / "a")
    key = wine_version(dlls)
    assert key.startswith("wine-8.0-Debian-8.0-repack-4-"), key
    assert "/" not in key and " " not in key and "~" not in key
    other = fake_wine(tmp_path / "b", b"wine-7.22", ntdll=b"MZ another ntdll")
    assert wine_version(other).startswith("wine-7.22-")
    assert wine_version(other).removeprefix("wine-7.22") != key.removeprefix(
        "wine-8.0-Debian-8.0-repack-4")   # another ntdll.dll: another stamp
    (other.parent / "i386-unix" / "ntdll.so").unlink()
    assert wine_version(other).startswith("wine-") and "7.22" not in wine_version(other)


def test_an_empty_hive_is_a_regf_file_with_only_a_root_key() -> None:
    hive = empty_hive()
    assert len(hive) == 0x2000
    magic, sequence1, sequence2 = struct.unpack_from("<4sII", hive, 0)
    assert (magic, sequence1) == (b"regf", sequence2)
    root, bins_size = struct.unpack_from("<II", hive, 0x24)
    assert (root, bins_size) == (0x20, 0x1000)
    checksum = 0
    for (dword,) in struct.iter_unpack("<I", hive[:0x1FC]):
        checksum ^= dword
    assert struct.unpack_from("<I", hive, 0x1FC)[0] == checksum
    assert hive[0x1000:0x1004] == b"hbin"
    (cell,) = struct.unpack_from("<i", hive, 0x1000 + root)
    assert cell < 0   # allocated
    assert hive[0x1000 + root + 4:0x1000 + root + 6] == b"nk"
    subkeys, values = struct.unpack_from("<I", hive, 0x1000 + root + 4 + 0x14)[0], \
        struct.unpack_from("<I", hive, 0x1000 + root + 4 + 0x24)[0]
    assert (subkeys, values) == (0, 0)
    assert "NTUSER.DAT" in HIVES and "SYSTEM" in HIVES


def test_python_registry_reads_the_empty_hive(tmp_path: Path) -> None:
    """What Qiling's registry does with it (python-registry comes with Qiling)."""
    registry = pytest.importorskip("Registry.Registry")
    path = tmp_path / "SYSTEM"
    path.write_bytes(empty_hive())
    hive = registry.Registry(str(path))
    assert hive.root().name() == "ROOT"
    assert hive.root().subkeys() == []
    with pytest.raises(registry.RegistryKeyNotFoundException):
        hive.open("ControlSet001\\Control")


def test_a_rootfs_is_rebuilt_when_its_layout_changes(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    """The cache key holds what the rootfs is made of (ROOT_DLLS, HIVES) besides Wine's
    version: a ws2core that needs one more DLL must not reuse a rootfs built without it."""
    builds: list[Path] = []

    def build(folder: Path, dll_dir: Path) -> None:   # _build's shape, without pefile
        registry = folder / "Windows" / "registry"
        registry.mkdir(parents=True)
        for hive in HIVES:
            (registry / hive).write_bytes(empty_hive())
        builds.append(folder)

    monkeypatch.setattr(_rootfs, "_build", build)
    fake_wine(tmp_path / "wine")
    first = windows_rootfs(tmp_path / "rootfs", arch="x86", wine_root=tmp_path / "wine")
    assert windows_rootfs(tmp_path / "rootfs", arch="x86", wine_root=tmp_path / "wine") == first
    assert len(builds) == 1, "the same layout is reused"
    monkeypatch.setattr(_rootfs, "ROOT_DLLS", (*_rootfs.ROOT_DLLS, "another.dll"))
    second = windows_rootfs(tmp_path / "rootfs", arch="x86", wine_root=tmp_path / "wine")
    assert second != first and second.parent == first.parent and len(builds) == 2
    assert first.name.startswith("x86_windows-") and second.is_dir()
