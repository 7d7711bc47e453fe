"""Write the README's performance tables from a bench JSON:

    python -m ws2core bench --json benchmarks/results/bench.json
    python benchmarks/readme_tables.py benchmarks/results/bench.json README.md

(``make readme-tables`` runs both.)  The tables go between the README's bench-tables markers;
``--check`` writes nothing and exits 1 when the README's tables are not those of the JSON.
The suite checks the committed pair (tests/test_readme_tables.py), and that the JSON was made
from the current sources.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ws2core._bench import markdown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/readme_tables.py",
        description="Write README.md's performance tables from a bench JSON.",
    )
    parser.add_argument("results", type=Path, metavar="RESULTS.json")
    parser.add_argument("readme", type=Path, metavar="README.md")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if they differ")
    args = parser.parse_args(argv)
    try:
        block = markdown.tables(json.loads(args.results.read_text(encoding="utf-8")))
        readme = args.readme.read_text(encoding="utf-8")
        updated = markdown.replace_block(readme, block)
    except (OSError, ValueError, KeyError) as exc:
        print(f"readme_tables: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if updated != readme:
            print(f"readme_tables: {args.readme}'s tables are not those of {args.results};"
                  " make readme-tables makes them", file=sys.stderr)
            return 1
        return 0
    args.readme.write_text(updated, encoding="utf-8")
    print(f"readme_tables: {args.readme} written from {args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
