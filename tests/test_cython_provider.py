"""A provider written in Cython against ws2core/ws2spi.pxd, compiled at test time: it reaches
the table through the native WSPUPCALLTABLE as plain C calls, without the GIL.

Needs Cython (in the test extra) and a C compiler; without either the tests are skipped with
the reason.  A compile error is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from types import ModuleType

import pytest

import ws2core
from conftest import PURE_PYTHON_ONLY
from ws2core import INVALID_SOCKET, SOCKET_ERROR, WSAENOTSOCK

SOURCE = Path(__file__).parent / "cython_provider" / "provider.pyx"

pytestmark = pytest.mark.skipif(
    PURE_PYTHON_ONLY, reason="WS2CORE_PURE_PYTHON=1: the native table needs the Cython core"
)


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    pytest.importorskip("Cython", reason="Cython is needed to build the Cython provider")
    compiler = shutil.which(os.environ.get("CC", "cc"))
    if compiler is None:
        pytest.skip("no C compiler to build the Cython provider (set CC)")
    where = tmp_path_factory.mktemp("cython_provider")
    c_file = where / "provider.c"
    package_root = Path(ws2core.__file__).resolve().parent.parent  # where ws2core/ws2spi.pxd lives
    translated = subprocess.run(
        [sys.executable, "-m", "cython", "-3", "-I", str(package_root), str(SOURCE), "-o", str(c_file)],
        capture_output=True, text=True,
    )
    assert translated.returncode == 0, translated.stderr
    module_path = where / ("provider" + sysconfig.get_config_var("EXT_SUFFIX"))
    built = subprocess.run(
        [compiler, "-shared", "-fPIC", "-O2", "-Wall", "-I", sysconfig.get_paths()["include"],
         "-I", ws2core.get_include(), str(c_file), "-o", str(module_path)],
        capture_output=True, text=True,
    )
    assert built.returncode == 0, built.stderr
    spec = importlib.util.spec_from_file_location("provider", module_path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def up() -> ws2core.UpcallTable:
    return ws2core.UpcallTable(importlib.import_module("ws2core._handles").HandleTable())


def test_cython_provider_shares_the_table_with_python(provider: ModuleType, up: ws2core.UpcallTable) -> None:
    capsule = up.native_capsule()
    s, _ = provider.create(capsule, 9, 2**64 - 2)
    assert s != INVALID_SOCKET and up.table.kind(s) == "socket"
    assert up.table.context(s) == 2**64 - 2 and up.table.catalog_entry(s) == 9
    from_python = up.table.create_socket(1, 123456789)
    assert provider.query(capsule, from_python) == (0, 123456789, 0)
    up.table.close_socket(s)
    result, _, error = provider.query(capsule, s)
    assert (result, error) == (SOCKET_ERROR, WSAENOTSOCK)


def test_cython_provider_churns_without_the_gil(provider: ModuleType, up: ws2core.UpcallTable) -> None:
    keep = up.table.create_socket(1, "kept")
    assert provider.churn(up.native_capsule(), 20000, 4) == 0
    assert list(up.table) == [keep] and up.table.context(keep) == "kept"
