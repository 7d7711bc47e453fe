# ws2core's checks, one target per CI stage, so that one stage can be rerun alone
# (`make sanitize`, `make python-3.13`).  .ci/run calls them in this order on a fresh machine
# and times each; CONTRIBUTING.md says what each proves and what it costs.
#
#   make system-deps   mingw-w64 (x86_64, i686) and Wine from Debian's packages (root or sudo)
#   make venv          the README's install: $(VENV) with `pip install -e '.[test,speakeasy]'`
#   make test          the suite, both cores; the Windows programs' tests in a network namespace
#   make bench-smoke   the pytest-benchmark suite in a short mode (every case once, JSON kept)
#   make demo          --help, --version and the demo (the README's examples run in make test)
#   make bench         `python -m ws2core bench --quick --json`, then benchmarks/check.py
#   make readme-tables a full bench run into benchmarks/results/bench.json, and README's tables from it
#   make fuzz          the atheris harnesses (FUZZ_SECONDS each, the guest one FUZZ_GUEST_SECONDS)
#   make dev-mode      the suite under `python -X dev` with PYTHONMALLOC=debug
#   make sanitize      the suite against the core built with ASan + UBSan
#   make dist          the sdist and the wheel (python -m build), their contents checked
#   make python-3.10   install the sdist on that Python, run its tests from the unpacked sdist
#   make fallback      install the sdist with a broken C compiler: the twin, never silently
#   make qiling        the Windows programs under Qiling (x64, x86), in a venv of its own ('.[test,qiling]')
#
# Variables: VENV (.venv), PYTHON (python3, for new venvs), WORK (build/ci: throwaway venvs and
# unpacked sdists), RESULTS (ci-results: JSON and fuzz artefacts), FUZZ_SECONDS (30),
# FUZZ_GUEST_SECONDS (60).

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.ONESHELL:
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV ?= .venv
PY = $(abspath $(VENV))/bin/python
WORK ?= $(CURDIR)/build/ci
RESULTS ?= $(CURDIR)/ci-results
DIST = $(WORK)/dist
FUZZ_SECONDS ?= 30
FUZZ_GUEST_SECONDS ?= 60
# The Windows programs ran in `make test`; the later stages prove the core (memory, other
# Pythons, the fallback) and leave them out by their marker: a deselection named here, not a
# skip.  They would cost about a minute per stage.  So do the tests marked `waits`, whose cost
# is the clock running out (the blocking caps: ~25 s per run of sleeping on the same Python
# code on every interpreter and allocator, no code of the core's).
# The tests marked `qiling` need Qiling, which cannot share the environment of the others
# (unicorn 2 against Speakeasy's 1.0.2): `make qiling` runs them in a venv of their own.
NOT_EMULATOR = -m "not emulator and not qiling"
LATER_STAGES = -m "not emulator and not waits and not qiling"

.PHONY: help system-deps venv test bench-smoke demo bench readme-tables fuzz dev-mode sanitize dist fallback qiling

help:
	@sed -n '/^#   make/s/^#   //p' $(firstword $(MAKEFILE_LIST))

# The i386 architecture: `make qiling` downloads libwine:i386 (Wine's 32-bit PE DLLs), which
# apt knows of only then; its package lists add about a second to the update.
system-deps:
	root=(); [[ $$(id -u) -eq 0 ]] || root=(sudo -n)
	"$${root[@]}" dpkg --add-architecture i386
	"$${root[@]}" apt-get update -qq
	"$${root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    gcc-mingw-w64-x86-64-win32 gcc-mingw-w64-i686-win32 wine64 >/dev/null
	x86_64-w64-mingw32-gcc --version | head -n 1
	i686-w64-mingw32-gcc --version | head -n 1
	/usr/lib/wine/wine64 --version   # Debian keeps the 64-bit loader off PATH

venv:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --progress-bar off -e '.[test,speakeasy]'
	$(PY) tools/ci/check_core.py cython --from $(abspath $(VENV))

# The Windows programs' tests run apart, in a network namespace with only loopback up
# (tests/isolation.py; root): a program that reached past loopback through ws2core would fail
# there instead of sending.  Where no namespace can be made they run as they are, saying so,
# but not under CI=true.
test:
	$(PY) -m pytest $(NOT_EMULATOR)
	$(PY) tests/isolation.py --or-unisolated -- $(PY) -m pytest -m emulator

bench-smoke:
	mkdir -p $(RESULTS)
	$(PY) -m pytest benchmarks -q --benchmark-max-time=0.02 --benchmark-min-rounds=3 \
	    --benchmark-warmup=off --benchmark-json=$(RESULTS)/pytest-benchmark.json

demo:
	mkdir -p $(WORK)
	$(PY) -m ws2core --help >/dev/null
	$(PY) -m ws2core --version
	$(PY) -m ws2core demo >$(WORK)/demo.out
	cat $(WORK)/demo.out
	head -n 1 $(WORK)/demo.out | grep -q "core: cython" || { echo "the demo does not report the Cython core" >&2; exit 1; }

bench:
	mkdir -p $(RESULTS)
	$(PY) -m ws2core bench --quick --json $(RESULTS)/bench.json
	$(PY) benchmarks/check.py $(RESULTS)/bench.json

# Not a CI stage: run after changing a measured source (ws2core/_bench/sources.py lists them),
# and commit both files; the suite fails while the README's tables are of other sources.  A
# full run, not --quick: the README's figures are the report's own.
readme-tables:
	$(PY) -m ws2core bench --json benchmarks/results/bench.json
	$(PY) benchmarks/readme_tables.py benchmarks/results/bench.json README.md

# In a network namespace with only loopback up: the guest harness makes real host sockets.
fuzz:
	$(PY) -m pip install --progress-bar off -q -e '.[fuzz]'
	$(PY) tests/isolation.py --or-unisolated -- $(PY) fuzz/run.py --seconds $(FUZZ_SECONDS) \
	    --seconds-for guest=$(FUZZ_GUEST_SECONDS) --artifacts $(RESULTS)/fuzz

# The debug allocator checks memory that C code touches: the compiled core's tests alone (the
# twin's half runs on the same interpreter in `make test`; the comparisons of the cores stay).
dev-mode:
	WS2CORE_TEST_CORES=cython PYTHONMALLOC=debug $(PY) -X dev -m pytest -q -p no:cacheprovider $(LATER_STAGES)

sanitize:
	bash tools/sanitize.sh $(LATER_STAGES)

# The wheel is built from the sdist, as `python -m build` does by default: a file missing from
# the sdist fails here, not on a user's machine.
dist:
	rm -rf $(DIST)
	$(PY) -m build --outdir $(DIST)
	$(PY) tools/ci/check_dist.py $(DIST)

# A Python the package claims (requires-python), in a venv of its own, installs the sdist and
# runs the tests the sdist carries, from the unpacked sdist: its src/ is not importable there,
# so they test what pip installed.  --no-cache-dir: a wheel pip built from the same file name
# earlier (the fallback's, say) must not stand in for this build.  The newest Python tests the
# compiled core alone (CORES_3.13): what a new CPython changes is the C API the core is built
# against; the twin, plain Python, runs on the oldest one here and on the default in `make test`.
CORES_3.13 = cython
python-%:
	interpreter=$$(bash tools/ci/python_of.sh $*)
	if [[ -z "$$interpreter" ]]; then
	    echo "SKIPPED: no python$* on this machine" >&2
	    exit 0
	fi
	sdist=$$(bash tools/ci/sdist_of.sh $(DIST))
	rm -rf $(WORK)/py$*
	"$$interpreter" -m venv $(WORK)/py$*/venv
	$(WORK)/py$*/venv/bin/python -m pip install --progress-bar off -q --no-cache-dir "ws2core[test] @ file://$$sdist"
	tar -C $(WORK)/py$* -xzf "$$sdist"
	cd $(WORK)/py$*/ws2core-*/
	$(WORK)/py$*/venv/bin/python $(CURDIR)/tools/ci/check_core.py cython --from $(WORK)/py$*/venv
	WS2CORE_TEST_CORES=$(CORES_$*) $(WORK)/py$*/venv/bin/python -m pytest -q -p no:cacheprovider $(LATER_STAGES)

fallback:
	sdist=$$(bash tools/ci/sdist_of.sh $(DIST))
	rm -rf $(WORK)/fallback
	$(PYTHON) -m venv $(WORK)/fallback/venv
	FB=$(WORK)/fallback/venv/bin/python
	CC=false $$FB -m pip install --progress-bar off --no-cache-dir "ws2core[test] @ file://$$sdist"
	tar -C $(WORK)/fallback -xzf "$$sdist"
	cd $(WORK)/fallback/ws2core-*/
	bash $(CURDIR)/tools/ci/fallback.sh $$FB $(LATER_STAGES)

# Qiling needs unicorn 2 and Speakeasy pins 1.0.2: its tests (marked `qiling`: the Windows
# programs, x64 and x86, with Wine's PE DLLs as the rootfs, compared with Wine) get a venv of
# their own, and run in a network namespace with only loopback up as the other programs do.
# The x86 programs need Wine's 32-bit PE DLLs: libwine:i386 holds them all (a 95 MB .deb,
# ~2 s to download, ~4 s and 565 MB to extract), extracted here and never installed (wine32
# would install 314 i386 packages, 257 MB) and found through WS2CORE_WINE_ROOT; apt knows the
# package once `make system-deps` has added the i386 architecture.  No root needed here.
qiling:
	rm -rf $(WORK)/qiling
	mkdir -p $(WORK)/qiling/libwine
	(cd $(WORK)/qiling && apt-get download -qq libwine:i386) || {
	    echo "apt-get download libwine:i386 failed: make system-deps adds the i386 architecture" >&2
	    exit 1; }
	dpkg-deb -x $(WORK)/qiling/libwine_*_i386.deb $(WORK)/qiling/libwine
	rm $(WORK)/qiling/libwine_*_i386.deb
	$(PYTHON) -m venv $(WORK)/qiling/venv
	QL=$(WORK)/qiling/venv/bin/python
	$$QL -m pip install --progress-bar off -q -e '.[test,qiling]'
	$$QL -c "import qiling"   # the tests skip without it: here that must be a failure
	# The "register accessing on id 58 is deprecated" lines (~70, the first run) are unicorn
	# 2.1's, of CR8 on a 32-bit guest, which Qiling 1.4.6 reads with every register before a
	# DLL's entry point: harmless (its UC_IGNORE_REG_BREAK=1 would make them errors).
	WS2CORE_WINE_ROOT=$(WORK)/qiling/libwine \
	    $$QL tests/isolation.py --or-unisolated -- $$QL -m pytest tests/under_qiling -q -m qiling
	# The README's commands as a reader types them: the sample under Qiling, with the rootfs
	# built on first use where run() keeps it (~/.cache/ws2core/qiling-rootfs).
	x86_64-w64-mingw32-gcc -O2 -o $(WORK)/qiling/hello_winsock.exe examples/hello_winsock.c -lws2_32
	$$QL -m ws2core run --emulator qiling $(WORK)/qiling/hello_winsock.exe 2
