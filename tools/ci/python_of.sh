#!/usr/bin/env bash
# python_of.sh 3.10: a working interpreter of that version, on PATH or in pyenv; nothing if none.
# A pyenv shim exists for every installed version but runs only the selected ones, so each
# candidate is tried.
for candidate in "$(command -v "python$1" || true)" \
    $(ls -d "${PYENV_ROOT:-$HOME/.pyenv}/versions/$1".*/bin/python 2>/dev/null | sort -V | tail -n 1); do
    if [[ -n "$candidate" ]] && "$candidate" -c pass 2>/dev/null; then
        echo "$candidate"
        exit 0
    fi
done
