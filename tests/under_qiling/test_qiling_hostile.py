"""The hostile guest through the Qiling adapter: tests/test_guest_hostile.py's memory checks
and a short fuzz/fuzz_guest.py run, over ``hostile_support.QilingProcess`` (a real Qiling with
``tiny_pe`` loaded, each hook called as Qiling's dispatcher calls it).

The checks are test_guest_hostile's own test functions, imported here: pytest runs them
with this module's ``guest`` and ``no_access_guest`` fixtures, which serve a Qiling process
instead of a Speakeasy one or FakeGuest.  Qiling maps a page with no permission (unicorn 2),
so the no-access in-parameters are checked under a real emulator here, as Speakeasy cannot.
x64 and x86, as the rest of tests/under_qiling: x86 skips without Wine's 32-bit DLLs
(installed, or extracted under ``$WS2CORE_WINE_ROOT`` as ``make qiling`` does), and fails
instead under CI=true.  Marked ``qiling`` (``make qiling``); the module skips where Qiling is
not installed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from support import missing

pytest.importorskip("qiling", reason="Qiling is not installed: pip install 'ws2core[qiling]' "
                    "(in an environment without Speakeasy)")

import unicorn
from hostile_support import (
    PAGE,
    REGION_BASE,
    RW_PAGES,
    LastErrorsDisagree,
    QilingProcess,
    StackUnwound,
)
from test_fuzz_guest import findings, harness
from test_guest_hostile import (  # noqa: F401 - pytest runs them with this module's fixtures
    Guest,
    served,
    test_no_access_in_parameter_fails_as_unmapped,
    test_read_only_out_parameter_fails_with_wsaefault,
)

from ws2core.adapters import qiling as adapter

pytestmark = pytest.mark.qiling

_PROCESSES: dict[str, QilingProcess] = {}
INPUTS = 120   # the short fuzz run's: some 4000 calls, 5 s


@pytest.fixture(params=["x64", "x86"])
def abi(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def qiling_process(abi: str) -> QilingProcess:
    """One Qiling per ABI for the session (2 s to load), a fresh table each test."""
    if abi not in _PROCESSES:
        try:
            _PROCESSES[abi] = QilingProcess(abi)
        except FileNotFoundError as error:   # WineMissing: x86 without Wine's 32-bit DLLs
            missing(f"Qiling cannot run {abi} here: {error}")
    return _PROCESSES[abi]


@pytest.fixture
def guest(abi: str, ws2core_core: ModuleType) -> Iterator[Guest]:
    """A guest of a real Qiling emulator."""
    yield from served(qiling_process(abi), ws2core_core)


@pytest.fixture
def no_access_guest(guest: Guest) -> Guest:
    """The same guest: Qiling's process has a no-access page."""
    return guest


def test_the_regions_are_as_qiling_maps_them() -> None:
    """What the checks take for read-only or no-access is what Qiling's memory map says,
    and what the adapter refuses: the plain pages as mapped, the image's header, .text and
    .rdata read-only where Qiling maps the whole image writable."""
    process = qiling_process("x64")
    perms = {begin: perm for begin, _, perm, *_ in process.ql.mem.map_info}
    read, write = unicorn.UC_PROT_READ, unicorn.UC_PROT_WRITE
    assert perms[REGION_BASE] == read | write
    assert perms[process.regions["ro"].base] == read
    assert perms[process.regions["noaccess"].base] == unicorn.UC_PROT_NONE
    assert process.peek(REGION_BASE + RW_PAGES * PAGE, 1) is None   # past rw: unmapped
    guest = adapter._Guest(process.ql, adapter._import_qiling(), 8)
    for name, region in process.regions.items():
        assert guest.writable(region.base, region.size) is not region.protected, name
        assert guest.readable(region.base, region.size) is region.readable, name
    assert {name for name in process.regions if name.startswith("image.")} == {
        "image.header", "image.text", "image.rdata", "image.data"}


def _stack_left(monkeypatch: pytest.MonkeyPatch) -> None:
    from qiling.cc.intel import QlIntelBaseCC

    # the return address taken without popping it: pc right, the stack not unwound
    monkeypatch.setattr(QlIntelBaseCC, "unwind", lambda self, slots: self.arch.stack_read(0))


def _teb_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    teb_only = adapter._Guest.set_last_error

    def forgetting(self: Any, code: int) -> None:
        last = self._ql.os.last_error
        teb_only(self, code)
        self._ql.os.last_error = last
    monkeypatch.setattr(adapter._Guest, "set_last_error", forgetting)


@pytest.mark.parametrize(("breakage", "caught"), [(_stack_left, StackUnwound),
                                                  (_teb_alone, LastErrorsDisagree)])
def test_a_hook_leaving_its_caller_wrong_is_caught(
        guest: Guest, monkeypatch: pytest.MonkeyPatch, breakage: Any, caught: type) -> None:
    """What QilingProcess.call checks after a hook (its stack unwound and pc at the return
    address; one last error for every reader) it sees broken, as the fuzzer would."""
    guest.start()
    breakage(monkeypatch)
    with pytest.raises(caught):
        guest("closesocket", 0x4)   # fails: WSAENOTSOCK, a last error to set


@pytest.fixture(scope="module")
def fg() -> Iterator[ModuleType]:
    """fuzz/fuzz_guest.py serving every input from Qiling (x64)."""
    with harness(max_block=0.01, emulator="qiling", mode="real", abi="x64") as fuzz_guest:
        yield fuzz_guest


def test_a_short_fuzz_run_finds_nothing(fg: ModuleType) -> None:
    """A few hundred hostile calls through the Qiling adapter break no invariant (the figures
    of a long run: fuzz_guest.py --emulator qiling)."""
    rng = random.Random(7)
    calls = 0
    for _ in range(INPUTS):
        run = fg.Run(fg._forced(rng.randbytes(rng.randint(64, 1024))), collect=True).execute()
        assert isinstance(run.process, QilingProcess)
        assert not run.findings, "\n".join(f"{found.export}: {found.invariant}: "
                                           f"{found.detail} at {found.call}"
                                           for found in run.findings)
        calls += sum(run.counts.values())
    assert calls > 20 * INPUTS


def _mapped(self: Any, address: int, size: int) -> bool:
    return bool(self._ql.mem.is_mapped(address, max(size, 1)))


def test_the_fuzz_run_sees_qilings_protections(fg: ModuleType,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """With the adapter taking every mapped page for readable and writable, as unicorn's own
    access does, the same harness finds writes into read-only memory and reads of no-access
    memory: a clean run above is not a run that could see nothing."""
    monkeypatch.setattr(adapter._Guest, "writable", _mapped)
    monkeypatch.setattr(adapter._Guest, "readable", _mapped)
    wanted = {fg.READ_ONLY, fg.UNREADABLE}
    found = findings(fg, inputs=400, hostility=1,
                     until=lambda keys: wanted <= {invariant for invariant, _ in keys})
    assert wanted <= {invariant for invariant, _ in found}
