#!/usr/bin/env bash
# sdist_of.sh DIST: the one sdist `make dist` left in DIST, or a failure saying to build it.
shopt -s nullglob
found=("$1"/ws2core-*.tar.gz)
if [[ ${#found[@]} -ne 1 ]]; then
    echo "expected one sdist in $1, found ${#found[@]}: run \`make dist\` first" >&2
    exit 1
fi
echo "$(cd "$(dirname "${found[0]}")" && pwd)/$(basename "${found[0]}")"
