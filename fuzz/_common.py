"""Shared machinery for the ws2core fuzz harnesses.

* ``load()``: imports ws2core (instrumented by atheris when atheris is present) and both
  cores, ``ws2core._handles`` (Cython) and ``ws2core._handles_py`` (the pure-Python twin).
* ``Reader``: turns the fuzzer's bytes into choices.  The harnesses use it in both modes
  (atheris and the fallback driver), so a reproducer saved by atheris replays under plain
  Python too, and vice versa.
* ``outcome`` / ``same`` / ``both``: the lockstep comparison of tests/test_differential.py:
  identical results (same type, equal value or the same object), or identical exception type
  and ``winerror``.  An exception outside ``EXPECTED`` is a finding even when both cores agree.
* ``main``: the driver.  ``python fuzz/fuzz_x.py [libFuzzer flags] [corpus dirs | files]``
  runs atheris; ``--fallback --seconds N --seed S`` (or atheris missing) runs a plain
  ``random.Random(seed)`` loop for N seconds.  A file argument replays that input.
"""

from __future__ import annotations

import os
import random
import sys
import time
import traceback
from collections.abc import Sequence
from typing import Any, Callable

try:
    import atheris  # type: ignore[import-not-found]
except ImportError:  # pragma: no cover - depends on the environment
    atheris = None

ws2core: Any = None
CORES: list[Any] = []  # [cython core, python twin]
SIDES = ("cython", "python")
EXPECTED: tuple[type[BaseException], ...] = ()


def load(instrument: bool = True, modules: Sequence[str] = ()) -> None:
    """Import ws2core and both cores (under atheris' import instrumentation when available),
    and ``modules`` of ws2core beside them (a harness of the upper layers names its own)."""
    global ws2core, EXPECTED
    if ws2core is not None:
        return
    from ws2core import _implementation  # before the instrumented import: it is not fuzzed

    if _implementation.pure_python_requested():
        sys.exit("fuzz: WS2CORE_PURE_PYTHON=1 leaves only the twin; the harnesses compare two cores")
    import importlib

    def _import() -> None:
        global ws2core
        ws2core = importlib.import_module("ws2core")
        importlib.import_module("ws2core.upcalls")
        importlib.import_module("ws2core._handles_py")
        for module in modules:
            importlib.import_module(module)

    if atheris is not None and instrument:
        with atheris.instrument_imports(include=["ws2core"]):
            _import()
    else:
        _import()
    try:
        cython = importlib.import_module("ws2core._handles")
    except ImportError as exc:
        sys.exit(f"fuzz: the Cython core ws2core._handles is not built ({exc}); nothing to compare the twin with")
    CORES[:] = [cython, importlib.import_module("ws2core._handles_py")]
    # What the API documents raising on bad input: a wrong type, a bad value, a Winsock error.
    EXPECTED = (TypeError, ValueError, ws2core.WinsockError)


class Finding(AssertionError):
    """A disagreement between the cores, or an unexpected exception."""


# --- bytes -> choices ----------------------------------------------------------------------


class Reader:
    """Consumes the input bytes; once they run out every draw returns 0 / empty."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    @property
    def exhausted(self) -> bool:
        return self.pos >= len(self.data)

    def byte(self) -> int:
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def take(self, n: int) -> bytes:
        chunk = self.data[self.pos : self.pos + n]
        self.pos += len(chunk)
        return chunk

    def uint(self, nbytes: int) -> int:
        return int.from_bytes(self.take(nbytes).ljust(nbytes, b"\0"), "little")

    def choice(self, options: Any) -> Any:
        options = list(options) if not isinstance(options, (list, tuple)) else options
        return options[self.byte() % len(options)]

    def below(self, n: int) -> int:
        return self.byte() % n if n > 0 else 0

    def rest(self) -> bytes:
        return self.take(len(self.data) - self.pos)


class Index:
    """An object with __index__ (as tests/support.Index): accepted wherever an int is."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value

    def __repr__(self) -> str:
        return f"Index({self.value!r})"


INVALID_SOCKET = 2**64 - 1
INTERESTING_INTS = [0, 1, 2, 3, 4, 8, 12, 16, -1, -4, 2**31, 2**32 - 4, 2**32, 2**32 + 4, 2**63,
                    2**64 - 4, INVALID_SOCKET, 2**64, 2**64 + 4, -(2**63), -(2**64)]
WRONG_TYPES = ["4", None, 4.0, b"4", [4], True]


def draw_int(r: Reader, known: list[int] | None = None, wrong_types: bool = True) -> Any:
    """A handle/SOCKET argument: small handle-like, interesting, known (with tag bits),
    arbitrary 8-byte, huge, negative, an __index__ object or (rarely) a wrong type."""
    known = known or []
    kind = r.byte() % 16
    if kind <= 3 and known:
        return known[r.below(len(known))]
    if kind <= 5:
        return 4 * r.below(48)
    if kind <= 7:
        return INTERESTING_INTS[r.below(len(INTERESTING_INTS))]
    if kind == 8 and known:
        return known[r.below(len(known))] | (1 + r.below(3))
    if kind == 9:
        return r.uint(8)
    if kind == 10:
        return r.uint(8) - 2**63
    if kind == 11:
        return r.uint(12) * (-1 if r.byte() & 1 else 1)
    if kind == 12:
        return Index(draw_int(r, known, wrong_types=False))
    if kind == 13 and wrong_types:
        return WRONG_TYPES[r.below(len(WRONG_TYPES))]
    return r.byte()


# --- lockstep comparison -------------------------------------------------------------------


def outcome(operation: Callable[[Any], Any], side: Any) -> tuple[Any, ...]:
    """("returned", value) or ("raised", type, winerror).  Unexpected exceptions propagate."""
    try:
        return ("returned", operation(side))
    except EXPECTED as error:
        return ("raised", type(error), getattr(error, "winerror", None))
    except Exception as error:  # noqa: BLE001 - anything else is a finding
        raise Finding(f"unexpected {type(error).__name__} from the {side_name(side)} core: {error!r}") from error


def side_name(side: Any) -> str:
    for name, core in zip(SIDES, CORES):
        if side is core or getattr(side, "core", None) is core:
            return name
    return "?"


def same(a: Any, b: Any) -> bool:
    """Identical results: same type and equal value (identity for objects such as contexts)."""
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same, a, b))
    if type(a) is not type(b):
        return False
    return a is b or a == b



def both(label: str, operation: Callable[[Any], Any], sides: list[Any]) -> tuple[Any, ...]:
    """Run ``operation(side)`` on both sides; they must agree.  Returns the first outcome."""
    results = [outcome(operation, side) for side in sides]
    if not same(results[0], results[1]):
        raise Finding(f"{label}: cython {results[0]!r} != python {results[1]!r}")
    return results[0]


# --- the driver ----------------------------------------------------------------------------


def _fallback(test_one_input: Callable[[bytes], None], seconds: float, seed: int, max_len: int,
              artifact_prefix: str) -> int:
    rng = random.Random(seed)
    start = time.monotonic()
    runs = 0
    while time.monotonic() - start < seconds:
        data = rng.randbytes(rng.randint(0, max_len))
        try:
            test_one_input(data)
        except Exception:
            traceback.print_exc()
            path = f"{artifact_prefix}crash-fallback-seed{seed}-run{runs}"
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            print(f"==FINDING== reproducer written to {path} (replay: python {sys.argv[0]} {path})")
            print(f"fallback: Done {runs + 1} runs in {time.monotonic() - start:.0f} second(s) (finding)")
            return 1
        runs += 1
    print(f"fallback: Done {runs} runs in {time.monotonic() - start:.0f} second(s) (seed {seed}, no finding)")
    return 0


def main(test_one_input: Callable[[bytes], None], modules: Sequence[str] = ()) -> None:
    """Fuzz ``test_one_input`` (atheris, or the fallback driver), or replay the files given;
    ``modules``: as for ``load``."""
    argv = list(sys.argv)
    use_fallback = "--fallback" in argv or atheris is None
    if use_fallback:
        import argparse

        parser = argparse.ArgumentParser(description="fallback driver (no atheris)")
        parser.add_argument("--fallback", action="store_true")
        parser.add_argument("--seconds", type=float, default=10.0)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--max-len", type=int, default=512)
        parser.add_argument("--artifact-prefix", default="")
        parser.add_argument("inputs", nargs="*", help="files to replay instead of fuzzing")
        args, unknown = parser.parse_known_args(argv[1:])
        if atheris is None:
            print("fuzz: atheris is not installed; using the fallback driver (random bytes)")
        # libFuzzer-style flags given to the fallback: honour the two the runner uses
        for flag in unknown:
            if flag.startswith("-max_total_time="):
                args.seconds = float(flag.split("=", 1)[1])
            elif flag.startswith("-artifact_prefix="):
                args.artifact_prefix = flag.split("=", 1)[1]
        load(instrument=False, modules=modules)
        files = [p for p in args.inputs if os.path.isfile(p)]
        if files:
            for path in files:
                with open(path, "rb") as f:
                    data = f.read()
                print(f"replaying {path} ({len(data)} bytes)")
                test_one_input(data)  # a finding raises and shows its traceback
            print("replay: no finding")
            sys.exit(0)
        sys.exit(_fallback(test_one_input, args.seconds, args.seed, args.max_len, args.artifact_prefix))
    load(modules=modules)
    atheris.Setup(argv, test_one_input)
    atheris.Fuzz()
