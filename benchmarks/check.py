"""Fail on gross performance regressions in a ``python -m ws2core bench --json`` result.

    python -m ws2core bench --quick --json results.json
    python benchmarks/check.py results.json

Every target of the report (``"targets"`` of each case) is gated with a generous margin, so
that a noisy shared machine does not fail it and a real regression does: a speed-up target
(``>=``, e.g. twin/core >= 3) is gated at half of it (>= 1.5), a ceiling (``<=``, e.g.
core/floor <= 1.3, core batch/single <= 1/3, core/1k <= 1.3, bytes <= 32) at twice it
(<= 2.6, <= 2/3 ...).  The targets themselves are reported by the bench, not gated here.
A figure the run did not measure (a batch call a core lacks, a tier ``--quick`` left out) is
listed and skipped.

Exit status: 0 when every gate holds; 1 with the list of regressions, or when the file holds
no Cython figures (the twin alone was measured) unless ``--allow-twin-only`` is given; 2 when
the file cannot be read or is not a bench result.  Standard library only: it runs anywhere
the JSON can be copied to.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

FORMAT = "ws2core-bench/1"  # what ws2core/_bench/report.py writes


def gate(op: str, threshold: float) -> float:
    """The gate of a target: half a floor (>=), twice a ceiling (<=)."""
    return threshold / 2 if op == ">=" else threshold * 2


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _load(path: str) -> dict[str, Any] | str:
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    except json.JSONDecodeError as exc:
        return f"{path} is not JSON: {exc}"
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        return (
            f"{path} is not a ws2core bench result of format {FORMAT!r} (found {found!r});"
            " write one with: python -m ws2core bench --quick --json FILE"
        )
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/check.py",
        description=(
            "Fail on gross regressions in the JSON of `python -m ws2core bench --json FILE`:"
            " each target of the report is gated at half a speed-up target and twice a"
            " ceiling target. Prints every gate it checked."
        ),
    )
    parser.add_argument("results", metavar="RESULTS.json")
    parser.add_argument(
        "--allow-twin-only",
        action="store_true",
        help="exit 0 (with nothing gated) when the file holds no Cython figures",
    )
    args = parser.parse_args(argv)

    data = _load(args.results)
    if isinstance(data, str):
        print(f"check: {data}", file=sys.stderr)
        return 2
    meta = data.get("meta", {})
    print(
        f"{args.results}: ws2core {meta.get('ws2core')}, Python {meta.get('python')},"
        f" {meta.get('platform')}, {meta.get('date')}; {meta.get('repeats')} repeats"
        f"{' (--quick)' if meta.get('quick') else ''}"
    )
    for error in meta.get("errors", []):
        print(f"  note: the bench reported an error: {error}")

    if not meta.get("core_measured"):
        why = meta.get("cores", {}).get("core", "not measured")
        if args.allow_twin_only:
            print(f"no Cython figures (the core: {why}); --allow-twin-only: nothing is gated")
            return 0
        print(
            f"check: no Cython figures in {args.results} (the core: {why}); every gate is on"
            " the core's figures. Build it (python -m pip install -e .) and rerun the bench, or"
            " pass --allow-twin-only",
            file=sys.stderr,
        )
        return 1

    print("gates: speed-up targets (>=) halved, ceilings (<=) doubled")
    regressions: list[str] = []
    checked = unmeasured = 0
    for section, cases in data.get("sections", {}).items():
        for case, entry in cases.items():
            if not isinstance(entry, dict):
                continue
            for target in entry.get("targets", []):
                op, threshold, value = target["op"], float(target["threshold"]), target["value"]
                limit = gate(op, threshold)
                label = f"{section} / {case}: {target['metric']}"
                if value is None:
                    unmeasured += 1
                    print(f"  skipped    {label} (not measured in this run)")
                    continue
                checked += 1
                held = value <= limit if op == "<=" else value >= limit
                line = (
                    f"{label} = {_number(value)} (gate {op} {_number(limit)};"
                    f" target {op} {_number(threshold)})"
                )
                print(f"  {'ok' if held else 'REGRESSED':<9}  {line}")
                if not held:
                    regressions.append(line)
    print(f"{checked} gates checked, {unmeasured} skipped (not measured)")
    if not checked:
        print("check: no gate could be checked: the file holds no targets", file=sys.stderr)
        return 1
    if regressions:
        print(f"check: {len(regressions)} gross regression(s):", file=sys.stderr)
        for line in regressions:
            print(f"  {line}", file=sys.stderr)
        return 1
    print("no gross regression")
    return 0


if __name__ == "__main__":
    sys.exit(main())
