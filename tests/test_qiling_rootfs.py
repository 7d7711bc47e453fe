"""ws2core.adapters._rootfs without Qiling: the message without Wine, the empty hive.

(tests/under_qiling builds a whole rootfs and runs programs on it, in Qiling's own venv.)
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from ws2core.adapters import _rootfs
from ws2core.adapters._rootfs import HIVES, WineMissing, empty_hive, windows_rootfs


def test_without_wine_the_error_names_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                      tmp_path: Path) -> None:
    monkeypatch.setitem(_rootfs.WINE_DLL_DIRS, "x86", (str(tmp_path / "nowhere"),))
    with pytest.raises(WineMissing, match=r"apt-get install wine32") as raised:
        windows_rootfs(tmp_path / "rootfs", arch="x86")
    assert isinstance(raised.value, FileNotFoundError)
    assert str(tmp_path / "nowhere") in str(raised.value)
    assert not (tmp_path / "rootfs").exists()   # nothing built
    with pytest.raises(ValueError, match="x8664"):
        windows_rootfs(tmp_path / "rootfs", arch="arm64")


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
