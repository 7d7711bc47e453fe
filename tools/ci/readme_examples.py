"""Run README.md's marked Python examples exactly as printed:  python tools/ci/readme_examples.py README.md

Each block that follows the marker below runs alone in a fresh namespace; at least three must
be there (the upcalls, the waits, the host-socket provider), so that none is lost unnoticed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

MARKER = "<!-- .ci/run executes the next code block -->"
EXPECTED_AT_LEAST = 3


def main(readme: str) -> int:
    parts = Path(readme).read_text(encoding="utf-8").split(MARKER)[1:]
    if len(parts) < EXPECTED_AT_LEAST:
        print(f"{readme} lost a marked example: {len(parts)} of {EXPECTED_AT_LEAST}", file=sys.stderr)
        return 1
    for number, part in enumerate(parts, 1):
        found = re.search(r"```python\n(.*?)```", part, re.S)
        if found is None:
            print(f"{readme}: marker {number} is not followed by a python block", file=sys.stderr)
            return 1
        exec(compile(found.group(1), f"{readme} (example {number})", "exec"), {"__name__": "__main__"})
    print(f"README examples: {len(parts)} ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
