"""Build ws2core._handles from src/ws2core/_handles.pyx, its .pxi parts and its C in csrc/.

A failed C compile installs the pure-Python twin instead (ws2core.IMPLEMENTATION then says
"python", and the test suite refuses to pass unless WS2CORE_PURE_PYTHON=1 asks for the twin
alone); a Cython error in the .pyx stays fatal, since that is a bug in this repository.
WS2CORE_PURE_PYTHON=1 (exactly "1") skips the extension altogether.
"""

import importlib.util
import sys
from glob import glob
from pathlib import Path

from setuptools import Extension, setup


def _implementation():
    """ws2core/_implementation.py, the one reader of WS2CORE_PURE_PYTHON, loaded by path: the
    package itself cannot be imported before it is built."""
    path = Path(__file__).resolve().parent / "src" / "ws2core" / "_implementation.py"
    spec = importlib.util.spec_from_file_location("_ws2core_implementation", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def extensions() -> list[Extension]:
    if _implementation().pure_python_requested() or sys.implementation.name != "cpython":
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("ws2core: no Cython, installing the pure-Python core only", file=sys.stderr)
        return []
    compiled = cythonize(
        [Extension(
            "ws2core._handles",
            ["src/ws2core/_handles.pyx"],
            # <ws2core/ws2spi.h>, shipped for providers too; the core's own C, which is not
            include_dirs=["src/ws2core/include", "src/ws2core/csrc"],
            # Listed so that an edit to any part rebuilds, and so that the sdist carries them
            # (the .pyx too: cythonize() swaps it for the generated .c among the sources).
            depends=sorted(
                glob("src/ws2core/_handles_*.pxi") + glob("src/ws2core/csrc/*.h")
                + ["src/ws2core/include/ws2core/ws2spi.h", "src/ws2core/ws2spi.pxd",
                   "src/ws2core/_handles.pxd", "src/ws2core/_handles.pyx"]
            ),
        )],
        compiler_directives={"language_level": "3"},
    )
    for ext in compiled:
        ext.optional = True  # cythonize() returns new Extension objects without this flag
    return compiled


setup(ext_modules=extensions())
