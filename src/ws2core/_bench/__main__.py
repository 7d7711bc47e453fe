"""``python -m ws2core._bench memory MODULE KIND COUNT``: the memory probe the report starts in
a fresh interpreter for each figure of its section 4 (it prints one JSON line)."""

import sys

from .memory import probe_main

if __name__ == "__main__":
    sys.exit(probe_main(sys.argv[1:]))
