"""What the sdist and the wheel carry:  python tools/ci/check_dist.py DIST

The sdist builds the core and proves an install: the Cython sources (.pyx, .pxi, .pxd), the C
headers (the provider header and the core's own), the tests and README.md (tests compile its C
example), and the bench run the README's tables were made from (tests compare them); not the
generated C (the build cythonizes) nor any build product.  The wheel carries
what runs and what providers build against (.pxd, the header, the stub, py.typed), not the
build's inputs.
"""

from __future__ import annotations

import sys
import tarfile
import zipfile
from fnmatch import fnmatch
from pathlib import Path

SDIST_MUST = ["src/ws2core/_handles.pyx", "src/ws2core/*.pxd", "src/ws2core/include/ws2core/ws2spi.h",
              "src/ws2core/py.typed", "tests/conftest.py", "tests/emulator/*.c", "tests/native/*.c",
              "examples/hello_winsock.c", "tools/sanitize.sh", "benchmarks/results/bench.json",
              "README.md", "LICENSE", "pyproject.toml", "setup.py", "MANIFEST.in"]
SDIST_MUST_NOT = ["src/ws2core/_handles.c", "*.so", "*.pyc"]
WHEEL_MUST = ["ws2core/_handles.*.so", "ws2core/_handles.pxd", "ws2core/ws2spi.pxd",
              "ws2core/_handles.pyi", "ws2core/py.typed", "ws2core/include/ws2core/ws2spi.h",
              "ws2core/__init__.py", "ws2core/_handles_py.py"]
WHEEL_MUST_NOT = ["*.c", "*.pyx", "*.pxi", "ws2core/csrc/*", "tests/*"]


def check(kind: str, names: list[str], must: list[str], must_not: list[str]) -> list[str]:
    problems = [f"{kind} lacks {pattern}" for pattern in must
                if not any(fnmatch(name, pattern) for name in names)]
    problems += [f"{kind} carries {name} ({pattern})" for pattern in must_not
                 for name in names if fnmatch(name, pattern)]
    return problems


def main(dist: Path) -> int:
    (sdist,) = dist.glob("ws2core-*.tar.gz")
    (wheel,) = dist.glob("ws2core-*.whl")
    with tarfile.open(sdist) as archive:
        # Without the top folder, ws2core-0.1.0/
        sdist_names = [name.partition("/")[2] for name in archive.getnames()]
    with zipfile.ZipFile(wheel) as archive:
        wheel_names = archive.namelist()
    problems = (check(sdist.name, sdist_names, SDIST_MUST, SDIST_MUST_NOT)
                + check(wheel.name, wheel_names, WHEEL_MUST, WHEEL_MUST_NOT))
    for problem in problems:
        print(f"check_dist: {problem}", file=sys.stderr)
    if not problems:
        print(f"check_dist: {sdist.name} ({len(sdist_names)} entries) and {wheel.name} "
              f"({len(wheel_names)} entries) carry what they should")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])))
