"""Which core an install gave, said before a thousand tests would say it less clearly.

    python tools/ci/check_core.py cython|python --from VENV

Exits 1 unless ``import ws2core`` gives that core, from VENV's files (an editable install's
source folder counts as VENV's): a failed compile installs the twin without an error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("core", choices=("cython", "python"))
    parser.add_argument("--from", dest="venv", type=Path, required=True,
                        help="the virtual environment whose ws2core must be imported")
    args = parser.parse_args()
    import ws2core

    where = Path(ws2core.__file__).resolve()
    prefix = Path(sys.prefix).resolve()
    if prefix != args.venv.resolve():
        print(f"check_core: running in {prefix}, not {args.venv}", file=sys.stderr)
        return 1
    if ws2core.IMPLEMENTATION != args.core:
        hint = ("reinstall with `python -m pip install -v -e .` to see the compiler error"
                if args.core == "cython" else "")
        print(f"check_core: IMPLEMENTATION={ws2core.IMPLEMENTATION!r}, expected {args.core!r}; {hint}",
              file=sys.stderr)
        return 1
    built = sorted(p.name for p in where.parent.glob("_handles*.so"))
    if args.core == "python" and built:
        print(f"check_core: an extension was installed despite the twin: {built}", file=sys.stderr)
        return 1
    print(f"ws2core {ws2core.__version__} from {where}: core {ws2core.IMPLEMENTATION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
