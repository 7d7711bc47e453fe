"""Build ws2core._handles from ws2core/_handles.pyx.

A failed C compile installs the pure-Python twin instead (ws2core.IMPLEMENTATION then says
"python", and the test suite refuses to pass unless WS2CORE_PURE_PYTHON=1 asks for the twin
alone); a Cython error in the .pyx stays fatal, since that is a bug in this repository.
WS2CORE_PURE_PYTHON=1 (exactly "1") skips the extension altogether.
"""

import os
import sys

from setuptools import Extension, setup


def extensions() -> list[Extension]:
    if os.environ.get("WS2CORE_PURE_PYTHON", "") == "1" or sys.implementation.name != "cpython":
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("ws2core: no Cython, installing the pure-Python core only", file=sys.stderr)
        return []
    compiled = cythonize(
        [Extension(
            "ws2core._handles",
            ["ws2core/_handles.pyx"],
            include_dirs=["ws2core/include"],  # <ws2core/ws2spi.h>, shipped for providers too
            depends=["ws2core/include/ws2core/ws2spi.h", "ws2core/ws2spi.pxd"],
        )],
        compiler_directives={"language_level": "3"},
    )
    for ext in compiled:
        ext.optional = True  # cythonize() returns new Extension objects without this flag
    return compiled


setup(ext_modules=extensions())
