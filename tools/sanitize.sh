#!/usr/bin/env bash
# Build the Cython core with AddressSanitizer and UndefinedBehaviorSanitizer and run the test
# suite against it, all but the Windows programs (below):  bash tools/sanitize.sh [pytest arguments...]
#
# CPython itself is not instrumented, so the ASan runtime is preloaded (LD_PRELOAD) into an
# ordinary interpreter, and PYTHONMALLOC=malloc routes Python's own allocations through malloc,
# so that a read past an object the core got from Python is caught too.  Leak detection is off
# (ASAN_OPTIONS=detect_leaks=0): the interpreter keeps its own allocations alive at exit by
# design, and leaks of ours are the leak tests' business, measured with tracemalloc and RSS.
# Any ASan or UBSan report ends the run with a failure (halt_on_error, exitcode 86).
#
# SANITIZE_KEEP=1 keeps the work folder (the build and any reports) for a closer look.
# It builds from a pristine copy of the tree into a throwaway virtual environment, so the
# source tree's own (uninstrumented) extension is untouched.  Needs gcc's libasan/libubsan
# (Debian: gcc's own runtimes; CC=clang works with clang's).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
CC="${CC:-gcc}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/ws2core-sanitize.XXXXXX")"
cleanup() {
    if [[ -n "${SANITIZE_KEEP:-}" ]]; then echo "sanitize.sh: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

runtime() {  # the shared runtime library of a sanitizer, as the compiler ships it
    local path
    path="$("$CC" -print-file-name="$1")"
    [[ -f "$path" ]] || { echo "sanitize.sh: $CC has no $1 (install its sanitizer runtimes)" >&2; exit 2; }
    echo "$path"
}
ASAN_LIB="$(runtime libasan.so)"
UBSAN_LIB="$(runtime libubsan.so)"

[[ -f "$ROOT/pyproject.toml" && -f "$ROOT/src/ws2core/_handles.pyx" ]] ||
    { echo "sanitize.sh: $ROOT is not the ws2core tree (run tools/sanitize.sh from it)" >&2; exit 2; }
# The project's files only (tracked, and untracked but not ignored): no build products of the
# tree, so the compile happens here, instrumented.
mkdir "$WORK/src"
git -C "$ROOT" ls-files -z --cached --others --exclude-standard |
    tar -C "$ROOT" --null -T - -cf - | tar -C "$WORK/src" -xf -
"$PYTHON" -m venv "$WORK/venv"
SANITIZE="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined"
CC="$CC" CFLAGS="$SANITIZE -g -O1" LDFLAGS="$SANITIZE" \
    "$WORK/venv/bin/python" -m pip install --progress-bar off -q -e "$WORK/src[test]" 2>&1 |
    grep -v "^WARNING: Location" || true

cd "$WORK/src"
# From here on every interpreter runs with the runtimes preloaded: the extension cannot even be
# imported without them.
export LD_PRELOAD="$ASAN_LIB:$UBSAN_LIB"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:exitcode=86"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:exitcode=86"
export PYTHONMALLOC=malloc
export WS2CORE_SANITIZED=1   # tests/test_leaks.py: ASan's quarantine keeps freed memory resident
# The sanitizers see only compiled code (CPython is not instrumented): the pure-Python twin's
# half of the suite would run here at ASan's cost and could find nothing, so it is left to the
# other stages.  The comparisons of the two cores (test_differential) still run.
export WS2CORE_TEST_CORES=cython
"$WORK/venv/bin/python" - <<'PY'
import ws2core
assert ws2core.IMPLEMENTATION == "cython", "the sanitized Cython core was not built"
PY
echo "sanitize.sh: running the suite with $ASAN_LIB and $UBSAN_LIB preloaded"
# --capture=sys: pytest captures Python's own output only, so a report the sanitizers write to
# file descriptor 2 reaches the terminal even as the process dies with it.
# The Windows programs (marker `emulator`) cannot run here: Speakeasy loads its disassembler
# (capstone) with RTLD_DEEPBIND, which the sanitizer runtime refuses (google/sanitizers#611).
# They are left out unless the arguments choose with -m themselves, and so are the tests marked
# `qiling`, which need an environment of their own (`make qiling`).
selection=(-m "not emulator and not qiling")
for argument in "$@"; do [[ "$argument" == -m ]] && selection=(); done
"$WORK/venv/bin/python" -m pytest -q -p no:cacheprovider --capture=sys "${selection[@]}" "$@"
