#!/usr/bin/env python3
"""Run every ws2core fuzz harness for a fixed time; exit non-zero on any finding.

    python fuzz/run.py --seconds 60                 # atheris when installed, else the fallback
    python fuzz/run.py --seconds 60 --fallback      # force the plain-Python driver
    python fuzz/run.py --harness fdset --corpus-dir fuzz/corpus
    python fuzz/run.py --seconds 30 --seconds-for guest=60   # one harness longer than the rest

Per harness it prints the driver, the executions and (atheris) the coverage figures libFuzzer
reports (``cov``: edges of the instrumented Python code in ws2core, i.e. ws2core.upcalls,
ws2core._handles_py and friends; the Cython extension is not instrumented, ``ft``: features).
Reproducers go to ``--artifacts`` (default fuzz/artifacts/); replay one with
``python fuzz/fuzz_<name>.py <file>``.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HARNESSES = {"fdset": "fuzz_fdset.py", "upcalls": "fuzz_upcalls.py", "guest": "fuzz_guest.py"}


def have_atheris() -> str | None:
    try:
        from importlib.metadata import version

        import atheris  # noqa: F401

        return version("atheris")
    except Exception:  # noqa: BLE001 - missing or broken: either way, the fallback
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60, help="time per harness (default 60)")
    parser.add_argument("--seconds-for", action="append", default=[], metavar="NAME=SECONDS",
                        help="this harness's time instead of --seconds (repeatable)")
    parser.add_argument("--harness", action="append", choices=sorted(HARNESSES), help="run only these")
    parser.add_argument("--fallback", action="store_true", help="use the plain-Python driver even with atheris")
    parser.add_argument("--seed", type=int, default=0, help="fallback driver seed (atheris: -seed)")
    parser.add_argument("--artifacts", default=os.path.join(HERE, "artifacts"), help="where reproducers go")
    parser.add_argument("--corpus-dir", help="atheris: keep a corpus per harness under this folder")
    args = parser.parse_args()
    seconds = dict.fromkeys(HARNESSES, args.seconds)
    for item in args.seconds_for:
        name, _, value = item.partition("=")
        if name not in HARNESSES or not value.isdigit():
            parser.error(f"--seconds-for {item!r}: NAME=SECONDS with NAME one of {sorted(HARNESSES)}")
        seconds[name] = int(value)

    version = None if args.fallback else have_atheris()
    if version:
        print(f"driver: atheris {version}")
    else:
        print("driver: fallback (random.Random bytes)" + ("" if args.fallback else " -- atheris is not installed"))
    os.makedirs(args.artifacts, exist_ok=True)
    env = dict(os.environ)

    failed = []
    summary = []
    for name in args.harness or sorted(HARNESSES):
        script = os.path.join(HERE, HARNESSES[name])
        prefix = os.path.join(args.artifacts, f"{name}-")
        if version:
            cmd = [sys.executable, script, f"-max_total_time={seconds[name]}", f"-artifact_prefix={prefix}",
                   "-print_final_stats=1", f"-seed={args.seed}" if args.seed else "-seed=0"]
            if args.corpus_dir:
                corpus = os.path.join(args.corpus_dir, name)
                os.makedirs(corpus, exist_ok=True)
                cmd.append(corpus)
        else:
            cmd = [sys.executable, script, "--fallback", f"--seconds={seconds[name]}", f"--seed={args.seed}",
                   f"--artifact-prefix={prefix}"]
        print(f"\n=== {name}: {' '.join(cmd)}", flush=True)
        start = time.monotonic()
        proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        elapsed = time.monotonic() - start
        out = proc.stdout
        runs = re.findall(r"Done (\d+) runs in (\d+) second", out) or re.findall(
            r"stat::number_of_executed_units: (\d+)()", out)
        execs = runs[-1][0] if runs else "?"
        if execs == "?":  # a crash: libFuzzer's last status line has the count
            status = re.findall(r"^#(\d+)\s", out, re.M)
            execs = status[-1] if status else "?"
        cov = re.findall(r"cov: (\d+) ft: (\d+)", out)
        coverage = f"cov {cov[-1][0]} ft {cov[-1][1]}" if cov else "n/a (fallback driver)" if not version else "?"
        artifacts = re.findall(r"(?:Test unit written to|reproducer written to) (\S+)", out)
        # Findings a regression test already tracks (fuzz_guest's KNOWN): shown, not fatal.
        known = re.findall(r"^==KNOWN== (.*)$", out, re.M)
        for finding in known:
            print(f"  known finding: {finding}")
        ok = proc.returncode == 0
        if not ok:
            failed.append(name)
            tail = "\n".join(out.splitlines()[-60:])
            print(tail)
        line = (f"{name}: {'ok' if ok else 'FINDING'} executions={execs} coverage={coverage} "
                f"time={elapsed:.0f}s" + (f" reproducer={artifacts[-1]}" if artifacts else "")
                + (f" known-findings={len(known)}" if known else ""))
        summary.append(line)
        print(line, flush=True)

    print("\n=== summary")
    print("\n".join(summary))
    if failed:
        print(f"findings in: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
