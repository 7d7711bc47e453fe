#!/usr/bin/env bash
# fallback.sh PYTHON [pytest arguments...]: the fallback is never silent.  Run from the unpacked
# sdist that PYTHON's venv installed with a broken C compiler (`make fallback`): the install
# gave the twin, the demo says so, the suite FAILS without WS2CORE_PURE_PYTHON=1 (saying the
# core is missing) and passes with it.
set -euo pipefail
FB="$1"
shift
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
"$FB" "$here/check_core.py" python --from "$(dirname "$(dirname "$FB")")"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
"$FB" -m ws2core demo >"$out/demo"
head -n 3 "$out/demo"
head -n 3 "$out/demo" | grep -q "core: python" || { echo "the fallback demo hides the twin" >&2; exit 1; }
grep -q "not built" "$out/demo" || { echo "the fallback demo does not say the core is not built" >&2; exit 1; }
set +e
# The first failure is proof enough (-x): the whole suite failing would cost ~2 min more.
"$FB" -m pytest -q -x -p no:cacheprovider "$@" >"$out/pytest" 2>&1
status=$?
set -e
# Its summary, prefixed so that no log reader takes this expected failure for the verdict.
echo "twin alone, WS2CORE_PURE_PYTHON unset, pytest said: $(tail -n 1 "$out/pytest")"
# 1 is "tests failed"; 5 (nothing collected), 2, 3 or 4 (usage or internal errors) would mean
# the suite did not run at all, which proves nothing.
[[ $status -eq 1 ]] || { echo "pytest on the twin alone exited $status, expected 1" >&2; exit 1; }
grep -q "core missing" "$out/pytest" || { echo "the failures do not say the core is missing" >&2; exit 1; }
echo "as expected: without WS2CORE_PURE_PYTHON=1 the suite fails when the Cython core is missing"
WS2CORE_PURE_PYTHON=1 "$FB" -m pytest -q -p no:cacheprovider "$@"
