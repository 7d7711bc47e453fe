"""fuzz/fuzz_guest.py sees what it says it checks: each of its invariants, broken on purpose
in a patched ws2core, is a finding of a short run, and a run of the unpatched package has no
finding that a regression test does not already track.

The runs are the harness's own (``Run``), over the stand-in (``FakeGuest``, no emulator), whose
read-only and no-access pages the harness checks as it checks the emulator's; where an
invariant is about them, FakeGuest is made to forget its protections (as the Speakeasy adapter
did before hostile-memory), so that the guest layer reads and writes what it must not.  A
harness that saw nothing would let a fuzz run pass for nothing.  The harness is not in the sdist (fuzz/ is
not shipped) and needs both cores (it loads them as the other harnesses do): elsewhere these
tests skip.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import random
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from guest_support import FakeGuest

from ws2core import _implementation
from ws2core.guest import Exports, _memory
from ws2core.policy import NetworkPolicy
from ws2core.provider import HostSocketProvider
from ws2core.ws2_32 import Ws2_32

FUZZ = Path(__file__).resolve().parent.parent / "fuzz"


def import_harness() -> ModuleType:
    """fuzz/fuzz_guest.py as a module (without atheris); a skip where it cannot run."""
    if not (FUZZ / "fuzz_guest.py").is_file():
        pytest.skip("fuzz/ is not here (the sdist does not carry it)")
    if _implementation.pure_python_requested() or importlib.util.find_spec("ws2core._handles") is None:
        pytest.skip("the harness loads both cores; only the twin is here")
    sys.path.insert(0, str(FUZZ))
    # Without atheris (None in sys.modules: an ImportError): its libFuzzer has no business in
    # the suite, least of all beside the sanitizers' runtime (make sanitize).
    hidden = "atheris" not in sys.modules
    if hidden:
        sys.modules["atheris"] = None  # type: ignore[assignment]
    try:
        import fuzz_guest
    finally:
        sys.path.remove(str(FUZZ))
        if hidden:
            del sys.modules["atheris"]
    return fuzz_guest


@contextlib.contextmanager
def harness(max_block: float = 0.002, emulator: str = "auto",
            **force: str) -> Iterator[ModuleType]:
    """The harness with ``force`` (FORCE's "mode", "abi") fixed in every input, real mode's
    ``emulator`` and a short ``max_block`` (waits cost little in a test), all restored and
    the harness shut down afterwards."""
    fuzz_guest = import_harness()
    fuzz_guest.FORCE.update(force)
    fuzz_guest.EMULATOR = emulator
    saved, fuzz_guest.MAX_BLOCK = fuzz_guest.MAX_BLOCK, max_block
    try:
        yield fuzz_guest
    finally:
        fuzz_guest.MAX_BLOCK = saved
        fuzz_guest.FORCE.clear()
        fuzz_guest.EMULATOR = "auto"
        fuzz_guest.shutdown()


@pytest.fixture(scope="module")
def fg() -> Iterator[ModuleType]:
    """The harness module, serving every input from the stand-in."""
    with harness(mode="stand-in") as fuzz_guest:
        yield fuzz_guest


def findings(fg: ModuleType, inputs: int = 40, seed: int = 1, hostility: int = 0,
             until: Callable[[set[tuple[str, str]]], bool] | None = None,
             ) -> set[tuple[str, str]]:
    """The (invariant, export) of every finding of ``inputs`` random inputs; hostility 0: good
    arguments mostly, deep states, so that a broken invariant shows soon.  ``until``: stop
    as soon as the findings so far satisfy it (so that a test of a rarer finding can allow
    many inputs, whatever the mix of exports the harness draws from)."""
    rng = random.Random(seed)
    keys: set[tuple[str, str]] = set()
    for _ in range(inputs):
        data = bytearray(rng.randbytes(rng.randint(64, 1024)))
        data[0] = data[0] & ~0x18 | hostility << 3
        run = fg.Run(fg._forced(bytes(data)), collect=True).execute()
        keys |= {found.key for found in run.findings}
        if until is not None and until(keys):
            break
    return keys


@pytest.fixture
def no_protections(monkeypatch: pytest.MonkeyPatch) -> None:
    """FakeGuest says what is mapped is readable and writable, whatever its protection."""
    mapped = FakeGuest._allowed
    monkeypatch.setattr(FakeGuest, "readable", lambda self, a, n: mapped(self, a, n, set()))
    monkeypatch.setattr(FakeGuest, "writable", lambda self, a, n: mapped(self, a, n, set()))


def test_an_unpatched_run_finds_only_what_tests_track(fg: ModuleType) -> None:
    rng = random.Random(2)
    for _ in range(40):
        run = fg.Run(fg._forced(rng.randbytes(rng.randint(8, 1024))), collect=True).execute()
        new = [found for found in run.findings if fg.known(found) is None]
        assert not new, f"{new[0].export}: {new[0].invariant}: {new[0].detail} at {new[0].call}"
        assert sum(run.counts.values()) > 0


def _once(function: Callable[..., Any], before: Callable[[], None]) -> Callable[..., Any]:
    done: list[bool] = []

    def patched(*args: Any) -> Any:
        if not done:
            done.append(True)
            before()
        return function(*args)
    return patched


def _raise() -> None:
    raise RuntimeError("injected")


def test_a_failure_without_a_last_error(fg: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Ws2_32, "listen", lambda self, s, backlog: -1)
    assert (fg.LAST_ERROR, "listen") in findings(fg)


def test_a_write_past_an_out_parameter(fg: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    write = _memory.write
    monkeypatch.setattr(_memory, "write", lambda g, address, data: write(g, address, data + b"!"))
    assert (fg.OUTSIDE, "WSAStartup") in findings(fg)


def test_a_socket_the_guest_never_gets(fg: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    socket = Ws2_32.socket

    def orphaning(self: Ws2_32, *args: int) -> int:
        socket(self, *args)
        return -1
    monkeypatch.setattr(Ws2_32, "socket", orphaning)
    assert (fg.ORPHAN, "socket") in findings(fg)


def test_an_exception_the_guard_answers(fg: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Ws2_32, "WSACreateEvent", lambda self: _raise())
    assert (fg.GUARDED, "WSACreateEvent") in findings(fg)


def test_an_exception_out_of_the_hook(fg: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    hook = Exports.hook

    def escaping(self: Exports, export: Any) -> Any:
        call = hook(self, export)
        return (lambda guest, argv: _raise()) if export.name == "listen" else call
    monkeypatch.setattr(Exports, "hook", escaping)
    assert (fg.ESCAPED, "listen") in findings(fg)


def test_a_result_too_wide(fg: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    hook = Exports.hook

    def widening(self: Exports, export: Any) -> Any:
        call = hook(self, export)
        return (lambda guest, argv: 1 << 40) if export.name == "listen" else call
    monkeypatch.setattr(Exports, "hook", widening)
    assert (fg.RESULT, "listen") in findings(fg)


def test_a_slow_call(fg: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Ws2_32, "WSACreateEvent",
                        _once(Ws2_32.WSACreateEvent, lambda: time.sleep(fg.MAX_BLOCK + fg.MARGIN + 0.1)))
    assert (fg.SLOW, "WSACreateEvent") in findings(fg)


def test_a_socket_the_table_keeps_alone(fg: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    def forgetting(self: HostSocketProvider, s: int, lpErrno: Any) -> int:
        assert self.upcalls is not None
        self.upcalls.table.close_socket(s)   # the provider still has it
        return 0
    monkeypatch.setattr(HostSocketProvider, "WSPCloseSocket", forgetting)
    assert (fg.TABLE, "closesocket") in findings(fg)


def test_a_socket_left_after_cleanup(fg: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    def keeping(self: HostSocketProvider, lpErrno: Any) -> int:
        with self._lock:
            self._startups -= 1
        return 0
    monkeypatch.setattr(HostSocketProvider, "WSPCleanup", keeping)
    assert (fg.LEFT, "WSACleanup") in findings(fg)


def test_read_only_memory_written(fg: ModuleType, no_protections: None) -> None:
    wanted = {(fg.READ_ONLY, "WSAStartup"), (fg.RO_SUCCESS, "WSAStartup")}
    found = findings(fg, inputs=1000, until=wanted.issubset)
    assert (fg.READ_ONLY, "WSAStartup") in found and (fg.RO_SUCCESS, "WSAStartup") in found


def test_no_access_memory_read(fg: ModuleType, no_protections: None) -> None:
    assert fg.UNREADABLE in {invariant for invariant, _ in findings(
        fg, inputs=1000, hostility=1,
        until=lambda found: any(invariant == fg.UNREADABLE for invariant, _ in found))}


@pytest.mark.isolated_network
def test_a_host_call_off_loopback(fg: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    init = HostSocketProvider.__init__

    def allowing(self: HostSocketProvider, catalog_entry_id: int | None = None, *,
                 policy: NetworkPolicy | None = None) -> None:
        init(self, catalog_entry_id, policy=NetworkPolicy.allow_all())
    monkeypatch.setattr(HostSocketProvider, "__init__", allowing)
    wanted = {(fg.OFF_LOOPBACK, "bind"), (fg.OFF_LOOPBACK, "connect")}
    assert findings(fg, inputs=400, until=lambda found: bool(found & wanted)) & wanted


def test_the_guard_log_is_left_as_found(fg: ModuleType) -> None:
    fg._load()
    assert logging.getLogger("ws2core.guest").propagate
