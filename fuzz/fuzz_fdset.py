#!/usr/bin/env python3
"""Fuzz harness: arbitrary bytes as a Windows fd_set, x64 or x86, on both cores in lockstep.

The input is split into a buffer (raw bytes, or a plausible fd_set: a small fd_count, slots
of small handle-like values, a ragged tail) and a list of operations, each with a SOCKET value
drawn from the input (small, interesting, arbitrary 64-bit, huge, negative, __index__, a wrong
type).  Each input is read in one ABI, drawn from it: the x64 layout or the x86 one (4-byte
SOCKETs, no padding), passed as ``abi=`` and served by an ``UpcallTable`` of that ABI.  The
operations, on every buffer flavour (bytes, bytearray, memoryview slices at odd offsets, a
non-contiguous view, an FdSet):

* ``UpcallTable(core.HandleTable(abi=abi)).WPUFDIsSet(s, buf)`` and
  ``core.FD_ISSET(s, buf, abi=abi)``;
* ``core.FdSet.from_buffer(buf, abi=abi)`` and everything observable about the result;
* ``core.FD_SET / FD_CLR (s, copy)`` and ``core.FD_ZERO(copy)`` on writable copies (a
  bytearray, or a memoryview slice of one at an odd offset), comparing the result and every
  byte of the copy afterwards; on a read-only buffer too.

Both cores must agree on every result, on every exception type and winerror; an exception
other than TypeError / ValueError / WinsockError is a finding.

    python fuzz/fuzz_fdset.py -max_total_time=60            # atheris
    python fuzz/fuzz_fdset.py --fallback --seconds 60       # plain Python
    python fuzz/fuzz_fdset.py crash-<sha1>                  # replay a reproducer
"""

from __future__ import annotations

import os
import struct
import sys
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _common  # noqa: E402
from _common import Reader, both, draw_int  # noqa: E402

SIDES: list[Any] = []


ABIS = ("x64", "x86")


def sides() -> list[Any]:
    if not SIDES:
        for core in _common.CORES:
            ups = {abi: _common.ws2core.UpcallTable(core.HandleTable(max_handles=8, abi=abi))
                   for abi in ABIS}
            SIDES.append(SimpleNamespace(core=core, ups=ups))
    return SIDES


def make_buffer(r: Reader, abi: str) -> bytes:
    mode = r.below(4)
    if mode == 0:  # the raw bytes, whatever they hold, of a length drawn from the input
        return r.take(r.byte() * 2 + r.below(8))
    # a plausible fd_set: a few slots, fd_count at, below or past them
    n = r.below(10)
    count = r.below(n + 3) if r.byte() % 8 else r.uint(4)
    slots = [draw_int(r, wrong_types=False) for _ in range(n)]
    if abi == "x86":  # 4-byte SOCKETs straight after fd_count
        packed = b"".join(struct.pack("<I", (s if isinstance(s, int) else 0) % 2**32) for s in slots)
        return struct.pack("<I", count) + packed + r.take(r.below(8))
    packed = b"".join(struct.pack("<Q", (s if isinstance(s, int) else 0) % 2**64) for s in slots)
    padding = r.take(4) if r.byte() & 1 else b"\0\0\0\0"
    return struct.pack("<I", count) + padding.ljust(4, b"\0") + packed + r.take(r.below(8))


def read_only_view(buf: bytes, how: int, offset: int) -> Any:
    """A read-only flavour of ``buf`` (the same bytes, differently held)."""
    if how == 0:
        return buf
    if how == 1:
        return bytearray(buf)
    if how == 2:  # a memoryview slice at an odd offset into a bigger bytes object
        return memoryview(b"\xa5" * offset + buf + b"\x5a" * 3)[offset : offset + len(buf)]
    if how == 3:  # the same, of a bytearray (writable, but used read-only here)
        return memoryview(bytearray(b"\xa5" * offset + buf))[offset:]
    if how == 4:  # non-contiguous: every other byte of a doubled buffer
        doubled = bytes(b for pair in zip(buf, b"\xee" * len(buf)) for b in pair)
        return memoryview(doubled)[::2]
    if how == 5:  # a multi-byte format view (cast), when the length allows it
        view = memoryview(buf)
        return view.cast("Q") if len(buf) % 8 == 0 and len(buf) else view
    return buf


def fdset_state(fds: Any) -> tuple[Any, ...]:
    """Everything observable about an FdSet, as plain values (the classes differ per core)."""
    return tuple(
        _common.outcome(look, fds)
        for look in (list, len, repr, bytes, lambda f: f.capacity, lambda f: f.abi,
                     lambda f: memoryview(f).tobytes(),
                     lambda f: f.contains_each([0, 4, 8, 2**64 - 1, 2**32 + 4, -1]))
    )


def TestOneInput(data: bytes) -> None:
    r = Reader(data)
    abi = ABIS[r.below(2)]
    buf = make_buffer(r, abi)
    pair = sides()
    for _ in range(1 + r.below(6)):
        s = draw_int(r)
        op = r.below(7)
        how = r.below(7)
        offset = 1 + r.below(15)
        if op == 0:
            both(f"WPUFDIsSet({s!r}, {how=} {offset=}, {abi} {buf.hex()})",
                 lambda side: side.ups[abi].WPUFDIsSet(s, read_only_view(buf, how, offset)), pair)
        elif op == 1:
            both(f"FD_ISSET({s!r}, {how=} {offset=}, {abi} {buf.hex()})",
                 lambda side: side.core.FD_ISSET(s, read_only_view(buf, how, offset), abi=abi), pair)
        elif op == 2:
            both(f"FdSet.from_buffer({how=} {offset=}, {abi} {buf.hex()})",
                 lambda side: fdset_state(
                     side.core.FdSet.from_buffer(read_only_view(buf, how, offset), abi=abi)), pair)
        elif op in (3, 4, 5):
            macro = ("FD_SET", "FD_CLR", "FD_ZERO")[op - 3]
            writable = r.below(3)  # 0 bytearray, 1 odd-offset memoryview of a bytearray, 2 bytes

            def call(side: Any) -> tuple[Any, ...]:
                holder = bytearray(b"\xa5" * offset + buf + b"\x5a" * 3)
                if writable == 0:
                    target: Any = bytearray(buf)
                elif writable == 1:
                    target = memoryview(holder)[offset : offset + len(buf)]
                else:
                    target = bytes(buf)
                function = getattr(side.core, macro)
                result = function(target, abi=abi) if macro == "FD_ZERO" else function(s, target, abi=abi)
                return result, bytes(target), bytes(holder)

            both(f"{macro}({s!r}, {writable=} {offset=}, {abi} {buf.hex()})", call, pair)
        else:  # the upcall on an FdSet built from the buffer (when it is a valid fd_set)
            both(f"WPUFDIsSet({s!r}, FdSet.from_buffer({abi} {buf.hex()}))",
                 lambda side: side.ups[abi].WPUFDIsSet(s, side.core.FdSet.from_buffer(buf, abi=abi)), pair)
        if r.byte() & 1:  # sometimes carry on with the buffer one core's FD_SET/FD_CLR made
            grown = bytearray(buf)
            try:
                getattr(_common.CORES[1], r.choice(["FD_SET", "FD_CLR"]))(
                    draw_int(r, wrong_types=False), grown, abi=abi)
            except _common.EXPECTED:
                pass
            buf = bytes(grown)


if __name__ == "__main__":
    _common.main(TestOneInput)
