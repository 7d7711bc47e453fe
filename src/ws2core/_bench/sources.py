"""The fingerprint of the code a bench run measured: a hash of each source file the timed
statements run through, recorded in the JSON's metadata (``meta["sources"]``), so that a
figure kept with the repository (the README's tables, made from ``benchmarks/results/bench.json``)
can be told apart from one of other code.

The files, relative to the package folder:

- the Cython core's sources (the .pyx, its .pxi parts, the .pxd and the C headers): what the
  compiled module is built from; the module itself differs from machine to machine;
- the twin, ``_handles_py.py``, and the package's modules that the timed statements call
  (``upcalls``, ``_waits``, ``_shared``, ``structs``, ``constants``, ``_implementation``, and
  ``__init__``, whose exports the cases use);
- ``provider/``: the socket provider over host sockets, which the bench times too;
- ``_bench/``: the cases, the loop that times them and the report that rounds them (not the
  plot, nor the Markdown made from the JSON: the test compares that with the README itself).

Left out: the guest layer, the adapters, ``ws2_32`` and the command line, which no timed
statement reaches, so that an edit there does not make the committed figures stale.
``tests/test_readme_tables.py`` checks that every module the bench imports is in the list.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import ws2core

MEASURED = (
    "_handles.pyx", "_handles_*.pxi", "*.pxd", "csrc/*.h", "include/ws2core/*.h",
    "_handles_py.py", "upcalls.py", "_waits.py", "_shared.py", "structs.py", "constants.py",
    "_implementation.py", "__init__.py",
    "provider/*.py",
    "_bench/*.py",
)
NOT_MEASURED = ("_bench/markdown.py", "_bench/plot.py")


def package_folder() -> Path:
    return Path(ws2core.__file__).resolve().parent


def measured_files(folder: Path) -> list[str]:
    """The measured sources present under ``folder``, as sorted POSIX paths relative to it
    (an installed wheel carries no .pyx: its fingerprint is of what is there)."""
    found = {path for pattern in MEASURED for path in folder.glob(pattern) if path.is_file()}
    names = {path.relative_to(folder).as_posix() for path in found}
    return sorted(names.difference(NOT_MEASURED))


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def fingerprint(folder: Path | None = None) -> dict[str, Any]:
    """``{"sha256": the whole, "files": {path: its own hash}}`` of the measured sources."""
    folder = package_folder() if folder is None else folder
    files = {name: _digest((folder / name).read_bytes()) for name in measured_files(folder)}
    whole = _digest("".join(f"{name} {digest}\n" for name, digest in files.items()).encode())
    return {"sha256": whole, "files": files}


def changed(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The files whose hash differs between two fingerprints, or that only one of them has,
    each with what happened to it ("_handles_hot.pxi (changed)")."""
    before, now = recorded.get("files", {}), current.get("files", {})
    return [
        f"{name} ({'added' if name not in before else 'removed' if name not in now else 'changed'})"
        for name in sorted(set(before) | set(now))
        if before.get(name) != now.get(name)
    ]
