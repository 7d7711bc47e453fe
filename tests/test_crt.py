"""The C run-time of ws2core.guest.crt, over ``guest_support.FakeGuest``, in both ABIs.

The printf family is checked against the host's C library: for the integer, character and
string conversions msvcrt and glibc agree (lengths translated: msvcrt's ``l`` is 32 bits,
``I64`` is ``ll``, ``I`` and ``z`` are the pointer's size), so ``format_printf`` must write
what glibc's ``snprintf`` writes, for examples and for formats hypothesis makes up.  Floats
are compared with glibc's too, after msvcrt.dll's documented difference (at least three
exponent digits); its spellings of infinity and NaN are checked as such.  Where msvcrt.dll
differs from glibc (rounding ties, infinity and NaN, the 0 flag on strings, unknown
conversions), the expected strings are msvcrt's as Wine's msvcrt.dll writes them.

Arguments reach a formatter as the guest passes them: slots of ``ptr_size`` bytes, where an
x86 64-bit integer or double takes two (low half first) and an x64 int leaves the upper half
of its slot undefined.  ``CRuntime`` is driven through ``call`` as an adapter's hook drives
it: the fixed arguments as ``argv``, every slot (fixed and variadic) as the guest's
``arguments``.
"""

from __future__ import annotations

import ctypes
import math
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ws2core.guest import GuestFault
from ws2core.guest.crt import (
    CRT_FUNCTIONS,
    EOF,
    FIELD_LIMIT,
    STDERR,
    STDOUT,
    CrtFunction,
    CRuntime,
    Spec,
    VarArgs,
    file_size,
    format_printf,
    parse_format,
    read_string,
    slots_needed,
)

from guest_support import PAGE, FakeGuest

ABIS = pytest.mark.parametrize("ptr_size", [4, 8], ids=["x86", "x64"])
ERROR_ENVVAR_NOT_FOUND = 203
MASK32 = 0xFFFFFFFF


# ---------------------------------------------------------------------------------------
# Arguments as the guest passes them, and as glibc takes them


@dataclass(frozen=True)
class Arg:
    """One variadic argument: ``kind`` is "int" (32 bits, after promotion), "int64",
    "size" (size_t: the pointer's size), "double", "str" (bytes, None for NULL), "wstr"
    (text, passed as UTF-16) or "ptr" (a pointer-sized raw value)."""

    kind: str
    value: Any


def I(value: int) -> Arg:
    return Arg("int", value)


def L(value: int) -> Arg:
    return Arg("int64", value)


def Z(value: int) -> Arg:
    return Arg("size", value)


def D(value: float) -> Arg:
    return Arg("double", value)


def S(value: bytes | None) -> Arg:
    return Arg("str", value)


def W(value: str) -> Arg:
    return Arg("wstr", value)


def P(value: int) -> Arg:
    return Arg("ptr", value)


def _kind(arg: Arg, ptr_size: int) -> str:
    if arg.kind == "size":
        return "int64" if ptr_size == 8 else "int"
    return arg.kind


def _double_bits(value: float) -> int:
    bits: int = struct.unpack("<Q", struct.pack("<d", value))[0]
    return bits


def to_slots(guest: FakeGuest, args: Sequence[Arg], high: int = 0) -> list[int]:
    """The argument slots of ``args`` in the guest's ABI, strings placed in guest memory.
    ``high``: what an x64 int's slot holds above the int (its register's undefined upper
    half)."""
    slots: list[int] = []
    for arg in args:
        kind = _kind(arg, guest.ptr_size)
        if kind == "int":
            value = int(arg.value) & MASK32
            slots.append(value | (high & MASK32) << 32 if guest.ptr_size == 8 else value)
        elif kind in ("int64", "double"):
            value = _double_bits(arg.value) if kind == "double" else int(arg.value) & (2**64 - 1)
            slots.extend([value & MASK32, value >> 32] if guest.ptr_size == 4 else [value])
        elif kind == "str":
            slots.append(0 if arg.value is None else guest.alloc(arg.value + b"\0"))
        elif kind == "wstr":
            slots.append(guest.alloc(str(arg.value).encode("utf-16-le") + b"\0\0"))
        else:
            slots.append(int(arg.value))
    return slots


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def to_ctypes(args: Sequence[Arg], ptr_size: int) -> list[Any]:
    out: list[Any] = []
    for arg in args:
        kind = _kind(arg, ptr_size)
        if kind == "int":
            out.append(ctypes.c_int(_signed(int(arg.value), 32)))
        elif kind == "int64":
            out.append(ctypes.c_longlong(_signed(int(arg.value), 64)))
        elif kind == "double":
            out.append(ctypes.c_double(arg.value))
        elif kind == "str":
            out.append(ctypes.c_char_p(arg.value))
        else:
            raise AssertionError(f"glibc is not given a {kind}")
    return out


_CONVERSION = re.compile(
    rb"%([-+ #0]*)(\*|\d+)?(\.(?:\*|\d*))?(hh|h|ll|l|I64|I32|I|z)?([diouxXcs%])")


def to_glibc(fmt: bytes, ptr_size: int) -> bytes:
    """``fmt`` (msvcrt's) as glibc spells it: msvcrt's ``l`` integer is an int, ``I64`` is
    ``ll``, ``I32`` an int, ``I`` and ``z`` the size of a pointer."""
    def translate(match: re.Match[bytes]) -> bytes:
        flags, width, precision, length, conversion = match.groups(b"")
        if conversion in b"diouxX":
            pointer = b"ll" if ptr_size == 8 else b""
            length = {b"l": b"", b"I64": b"ll", b"I32": b"", b"I": pointer,
                      b"z": pointer}.get(length, length)
        return b"%" + flags + width + precision + length + conversion

    return _CONVERSION.sub(translate, fmt)


_libc = ctypes.CDLL(None)


def glibc(fmt: bytes, args: Sequence[Arg], ptr_size: int) -> bytes:
    """What the host C library's snprintf writes for the translated ``fmt``."""
    glibc_fmt = to_glibc(fmt, ptr_size)
    c_args = to_ctypes(args, ptr_size)
    size = int(_libc.snprintf(None, ctypes.c_size_t(0), glibc_fmt, *c_args))
    assert size >= 0, glibc_fmt
    buffer = ctypes.create_string_buffer(size + 1)
    assert _libc.snprintf(buffer, ctypes.c_size_t(size + 1), glibc_fmt, *c_args) == size
    return buffer.raw[:size]


def msvcrt(guest: FakeGuest, fmt: bytes, args: Sequence[Arg], high: int = 0) -> bytes:
    """What crt.py formats for ``fmt`` from ``args`` passed as the guest passes them; the
    slots the format needs are exactly the ones passed."""
    pieces = parse_format(fmt)
    slots = to_slots(guest, args, high)
    specs = [piece for piece in pieces if isinstance(piece, Spec)]
    assert slots_needed(specs, guest.ptr_size) == len(slots)
    return format_printf(guest, pieces, VarArgs(slots, guest.ptr_size))


def three_digit_exponent(text: bytes) -> bytes:
    """glibc's float output as msvcrt.dll writes it: exponents of at least three digits."""
    return re.sub(rb"([eE][+-])(\d\d)(?!\d)", rb"\g<1>0\g<2>", text)


# ---------------------------------------------------------------------------------------
# 1. Integer, character and string conversions: msvcrt and glibc agree

INTEGER_CASES: list[tuple[bytes, list[Arg]]] = [
    (b"%d|%i|%u|%d|%u", [I(-42), I(42), I(-1), I(-2**31), I(2**32 - 1)]),
    (b"[%5d|%-5d|%05d|%+d|% d|%+ d|%-+6d|% 05d]", [I(42), I(42), I(-42), I(42), I(42), I(42),
                                                  I(42), I(-7)]),
    (b"%.3d|%.0d|%.d|%8.3d|%-8.3d|%08.3d|%.0d", [I(7), I(0), I(0), I(-7), I(7), I(7), I(5)]),
    (b"%o|%#o|%#o|%#.0o|%.0o|%#.3o|%#5o", [I(8), I(8), I(0), I(0), I(0), I(8), I(8)]),
    (b"%x|%X|%#x|%#X|%#x|%#010x|%-#10x|%#.0x|%#.4X", [I(255), I(255), I(255), I(255), I(0),
                                                      I(255), I(255), I(0), I(10)]),
    (b"%hd|%hu|%hhd|%hhu|%hx|%hho|%hi", [I(70000), I(-1), I(300), I(-1), I(0x12345), I(-1),
                                        I(-32769)]),
    (b"%ld|%lu|%lx|%lo|%li", [I(-2**31), I(2**32 - 1), I(0xDEADBEEF), I(-1), I(-5)]),
    (b"%lld|%llu|%I64d|%I64x|%#I64o|%I64X|%lli", [L(-2**63), L(2**64 - 1), L(-1),
                                                   L(0x123456789ABCDEF), L(2**40), L(-100),
                                                   L(2**63 - 1)]),
    (b"%+21.18I64d|%-25I64u|%025I64d|%#.20I64x", [L(-100), L(2**64 - 1), L(-2**62), L(1)]),
    (b"%I32d|%I32x|%I32u", [I(-5), I(0xABC), I(-1)]),
    (b"%zd|%zu|%Ix|%Iu|%Id|%zx", [Z(-3), Z(-1), Z(0xFEED), Z(12345), Z(-2**31), Z(2**31)]),
    (b"[%*d|%-*d|%*d|%*d]", [I(6), I(42), I(6), I(42), I(-6), I(42), I(0), I(42)]),
    (b"[%.*d|%.*d|%*.*d|%-*.*d|%0*d]", [I(5), I(42), I(-1), I(42), I(8), I(4), I(42), I(-8),
                                         I(-3), I(42), I(6), I(-42)]),
    (b"%c%c%c|%3c|%-3c|%c", [I(ord("a")), I(0x100 + ord("b")), I(0), I(ord("x")), I(ord("y")),
                             I(0xFF)]),
    (b"[%s|%10s|%-10s|%.2s|%10.2s|%*.*s|%.0s|%.10s|%s]",
     [S(b"hello"), S(b"hello"), S(b"hello"), S(b"hello"), S(b"hello"), I(-9), I(3), S(b"hello"),
      S(b"hello"), S(b"hi"), S(b"")]),
    (b"100%% %5s%%%d%%", [S(b"ab"), I(3)]),
    (b"%.*s|%*s", [I(-1), S(b"negative precision"), I(-5), S(b"foo")]),
    (b"no conversions at all", []),
    (b"%s \xc3\xa9\xff %s", [S(b"\xe2\x82\xac"), S(b"\x01\x7f\x80")]),
]


@ABIS
@pytest.mark.parametrize(("fmt", "args"), INTEGER_CASES,
                         ids=[fmt.decode("latin-1") for fmt, _ in INTEGER_CASES])
def test_integer_and_string_conversions_match_glibc(ptr_size: int, fmt: bytes,
                                                     args: list[Arg]) -> None:
    """Flags, widths, precisions (``*`` ones, negative ones), every length modifier and the
    d i u o x X c s % conversions write what the host's snprintf writes, with the
    arguments in the guest's slots (an x86 64-bit integer in two)."""
    assert msvcrt(FakeGuest(ptr_size), fmt, args) == glibc(fmt, args, ptr_size)


@ABIS
def test_int_argument_ignores_the_upper_half_of_its_slot(ptr_size: int) -> None:
    """A variadic int leaves the upper half of its x64 slot undefined: %d %x %c %hd and a
    ``*`` width read only the int."""
    args = [I(-5), I(0xABCDEF), I(ord("Q")), I(-2), I(4), I(7)]
    fmt = b"%d %x %c %hd [%*d]"
    assert msvcrt(FakeGuest(ptr_size), fmt, args, high=0xDEADBEEF) == b"-5 abcdef Q -2 [   7]"


@ABIS
def test_64_bit_argument_slots(ptr_size: int) -> None:
    """x86: a 64-bit integer takes two slots, low half first, and the next argument follows
    them; x64: one slot each."""
    g = FakeGuest(ptr_size)
    pieces = parse_format(b"%I64x %d %llu")
    specs = [piece for piece in pieces if isinstance(piece, Spec)]
    if ptr_size == 4:
        slots = [0x89ABCDEF, 0x01234567, 7, 0xFFFFFFFF, 0x7FFFFFFF]
        assert slots_needed(specs, 4) == 5
    else:
        slots = [0x0123456789ABCDEF, 7, 0x7FFFFFFFFFFFFFFF]
        assert slots_needed(specs, 8) == 3
    out = format_printf(g, pieces, VarArgs(slots, ptr_size))
    assert out == b"123456789abcdef 7 9223372036854775807"


@ABIS
def test_slots_needed_counts_each_abi(ptr_size: int) -> None:
    """Every ``*`` takes an int slot, ``%%`` none, and a double or 64-bit integer one slot on
    x64 and two on x86; a pointer-sized length (``I``, ``z``) one slot either way."""
    specs = [p for p in parse_format(b"%*.*d %% %f %lld %I64u %Id %zu %s %p %c %hhd %ls")
             if isinstance(p, Spec)]
    double = 2 if ptr_size == 4 else 1
    #        %*.*d  %f %lld %I64u  %Id %zu  %s %p  %c %hhd %ls
    assert slots_needed(specs, ptr_size) == 3 + 3 * double + 2 + 2 + 3


@ABIS
def test_pointer_is_upper_case_hex_of_pointer_width(ptr_size: int) -> None:
    """msvcrt's %p: the whole pointer, 2*ptr_size upper-case hex digits, no 0x; a width pads
    it with spaces."""
    g = FakeGuest(ptr_size)
    assert msvcrt(g, b"%p", [P(0xABCDEF)]) == b"0" * (2 * ptr_size - 6) + b"ABCDEF"
    assert msvcrt(g, b"%p", [P(0)]) == b"0" * (2 * ptr_size)
    top = (1 << (8 * ptr_size)) - 1
    assert msvcrt(g, b"%p", [P(top)]) == b"F" * (2 * ptr_size)
    assert msvcrt(g, b"[%20p]", [P(1)]) == b"[" + b"1".rjust(2 * ptr_size, b"0").rjust(20) + b"]"
    assert msvcrt(g, b"[%-20p]", [P(1)]) == b"[" + b"1".rjust(2 * ptr_size, b"0").ljust(20) + b"]"


def test_parse_format_pieces() -> None:
    """A format is its literal text and its conversions in order; an unknown conversion
    character is text without its ``%`` (its width too), a ``%`` at the end nothing, as
    Wine's msvcrt.dll writes them."""
    assert parse_format(b"a%-+08.3lldb%%c%*.*sd") == [
        b"a", Spec("-+0", "8", "3", "ll", "d"), b"b", Spec("", None, None, "", "%"), b"c",
        Spec("", "*", "*", "", "s"), b"d"]
    assert parse_format(b"%.d%I64x") == [Spec("", None, "", "", "d"),
                                         Spec("", None, None, "I64", "x")]
    assert parse_format(b"tail %") == [b"tail "]
    assert parse_format(b"a%5b|%-3y") == [b"a", b"b", b"|", b"y"]
    assert parse_format(b"%F]") == [b"]"]   # F: msvcrt's far-pointer size prefix
    assert parse_format(b"") == []


# The property test: formats hypothesis makes up

_LENGTHS = ["", "hh", "h", "l", "ll", "I64", "I32", "I", "z"]
_TEXT = ["", "a", " = ", "[", "%%", "x%%y"]


@st.composite
def formats(draw: st.DrawFn) -> tuple[bytes, list[Arg]]:
    """A format of one to four conversions among d i o u x X c s, with random flags, widths
    and precisions (``*`` ones negative too), and its arguments.  Left out: what C leaves
    undefined and msvcrt does otherwise than glibc (the 0 flag of %c and %s, a precision on
    %c, a length on %c and %s), and NULL strings."""
    text = bytearray()
    args: list[Arg] = []
    for _ in range(draw(st.integers(1, 4))):
        text += draw(st.sampled_from(_TEXT)).encode()
        conversion = draw(st.sampled_from("diouxXcs"))
        flags = "".join(draw(st.lists(st.sampled_from("-+ #0"), max_size=4)))
        if conversion in "cs":
            flags = flags.replace("0", "")
        spec = "%" + flags
        width = draw(st.sampled_from(["none", "digits", "star"]))
        if width == "digits":
            spec += str(draw(st.integers(1, 30)))
        elif width == "star":
            spec += "*"
            args.append(I(draw(st.integers(-30, 30))))
        if conversion != "c":
            precision = draw(st.sampled_from(["none", "dot", "digits", "star"]))
            if precision == "dot":
                spec += "."
            elif precision == "digits":
                spec += "." + str(draw(st.integers(0, 25)))
            elif precision == "star":
                spec += ".*"
                args.append(I(draw(st.integers(-5, 25))))
        if conversion == "c":
            args.append(I(draw(st.integers(0, MASK32))))
        elif conversion == "s":
            value = draw(st.binary(max_size=12)).replace(b"\0", b"\x01")
            args.append(S(value))
        else:
            length = draw(st.sampled_from(_LENGTHS))
            spec += length
            if length in ("ll", "I64"):
                args.append(L(draw(st.integers(-2**63, 2**64 - 1))))
            elif length in ("I", "z"):
                args.append(Z(draw(st.integers(-2**63, 2**64 - 1))))
            else:
                args.append(I(draw(st.integers(-2**31, MASK32))))
        text += (spec + conversion).encode()
    text += draw(st.sampled_from(_TEXT)).encode()
    return bytes(text), args


@ABIS
@settings(max_examples=400, deadline=None)
@given(case=formats(), high=st.integers(0, MASK32))
def test_random_formats_match_glibc(ptr_size: int, case: tuple[bytes, list[Arg]],
                                    high: int) -> None:
    """Any combination of flags, width, precision, length and integer, character or string
    conversion writes what the host's snprintf writes (an x64 int's slot carrying junk above
    the int)."""
    fmt, args = case
    assert msvcrt(FakeGuest(ptr_size), fmt, args, high) == glibc(fmt, args, ptr_size)


# ---------------------------------------------------------------------------------------
# 2. Floats

FLOAT_CASES: list[tuple[bytes, list[Arg]]] = [
    (b"%f|%.2f|%.0f|%10.3f|%-10.1f|%+f|% f|%010.2f|%#.0f|%.10f|%-+12.4f|%012f",
     [D(3.14159)] * 6 + [D(-3.14159), D(2.71828), D(7.0), D(0.1), D(2.71828), D(-0.001)]),
    (b"%e|%.2e|%E|%.0e|%#.0e|%+e|% .3e|%.1E|%.2e|%5e",
     [D(12345.678), D(-0.000123), D(6.02214076e23), D(4.0), D(7.0), D(1.0), D(-1e-300),
      D(1e100), D(-31.4), D(1.0)]),
    (b"%g|%G|%.3g|%g|%g|%#g|%g|%g|%G|%.0g|%g|%#.3g|%8g|%-8g|%08g",
     [D(0.0001), D(1e-5), D(123456.0), D(1234567.0), D(100.0), D(1.0), D(1e100), D(0.1),
      D(-1.23e-10), D(3.7), D(0.0), D(12.0), D(1.5), D(-1.5), D(-1.5)]),
    (b"%f|%e|%g|%f|%+.1f|% e", [D(0.0), D(0.0), D(-0.0), D(-0.0), D(0.0), D(0.0)]),
    (b"%*.*f|%-*.*f|%.*g|%.*e", [I(12), I(3), D(-1.5), I(-14), I(2), D(1.75), I(-1), D(0.3),
                                 I(2), D(0.3)]),
    (b"%f %d %e %I64d %g", [D(1.25), I(-9), D(1.25), L(-2**40), D(1.25)]),
]
"""Widths only where no exponent is written or none pads: glibc pads its two-digit
exponent form, so its padding is one wider than msvcrt.dll's (checked separately)."""


@ABIS
@pytest.mark.parametrize(("fmt", "args"), FLOAT_CASES,
                         ids=[fmt.decode() for fmt, _ in FLOAT_CASES])
def test_float_conversions_match_glibc_but_the_exponent(ptr_size: int, fmt: bytes,
                                                         args: list[Arg]) -> None:
    """%f %e %E %g %G with flags, widths and precisions write what glibc writes, but for
    msvcrt.dll's exponents of at least three digits (values chosen with no decimal tie and
    at most 17 significant digits, where msvcrt.dll rounds otherwise than glibc); doubles
    interleaved with ints and 64-bit integers are read from the right slots."""
    assert msvcrt(FakeGuest(ptr_size), fmt, args) == three_digit_exponent(glibc(fmt, args,
                                                                                ptr_size))


@ABIS
def test_exponent_has_at_least_three_digits(ptr_size: int) -> None:
    """msvcrt.dll's %e %E and exponent-form %g %G: three exponent digits, more when needed."""
    g = FakeGuest(ptr_size)
    assert msvcrt(g, b"%e", [D(15.0)]) == b"1.500000e+001"
    assert msvcrt(g, b"%E", [D(-15.0)]) == b"-1.500000E+001"
    assert msvcrt(g, b"%.1e", [D(1.5e-7)]) == b"1.5e-007"
    assert msvcrt(g, b"%g|%G", [D(1e-5), D(2.5e20)]) == b"1e-005|2.5E+020"
    assert msvcrt(g, b"%e|%g", [D(1e100), D(1e-300)]) == b"1.000000e+100|1e-300"
    assert msvcrt(g, b"%g", [D(100000.0)]) == b"100000"
    # a width pads the three-digit form
    assert msvcrt(g, b"[%14.3e|%-14.1E|%014.2e|%+12g]", [D(-1e-300), D(2.0), D(-31.4), D(1e-5)]) \
        == b"[   -1.000e-300|2.0E+000      |-00003.14e+001|     +1e-005]"


@ABIS
def test_infinity_and_nan_spellings(ptr_size: int) -> None:
    """%f of infinity and NaN in msvcrt.dll's spellings: 1.#INF00, -1.#INF00, 1.#QNAN0,
    cut to the precision with the last letter rounded as a digit (1.#J, 1.$, 1), padded to
    a width with spaces."""
    g = FakeGuest(ptr_size)
    inf, nan = math.inf, math.nan
    assert msvcrt(g, b"%f|%f|%f", [D(inf), D(-inf), D(nan)]) == b"1.#INF00|-1.#INF00|1.#QNAN0"
    assert msvcrt(g, b"%.2f|%.1f|%.0f|%.3f|%.4f", [D(inf)] * 5) == b"1.#J|1.$|1|1.#IO|1.#INF"
    assert msvcrt(g, b"%.2f|%.8f", [D(nan), D(nan)]) == b"1.#R|1.#QNAN000"
    assert msvcrt(g, b"[%10f|%-10f|%+f]", [D(inf), D(-inf), D(inf)]) == \
        b"[  1.#INF00|-1.#INF00 |+1.#INF00]"


@ABIS
def test_exponent_and_general_forms_of_infinity(ptr_size: int) -> None:
    """msvcrt.dll: %e of infinity is 1.#INF00e+000, %g is 1.#INF."""
    g = FakeGuest(ptr_size)
    assert msvcrt(g, b"%e|%e", [D(math.inf), D(-math.inf)]) == b"1.#INF00e+000|-1.#INF00e+000"
    assert msvcrt(g, b"%g|%g|%g", [D(math.inf), D(-math.inf), D(math.nan)]) == \
        b"1.#INF|-1.#INF|1.#QNAN"


@ABIS
def test_indefinite_nan(ptr_size: int) -> None:
    """The indefinite NaN (sign set, only the quiet bit) is msvcrt.dll's -1.#IND00."""
    indefinite = struct.unpack("<d", struct.pack("<Q", 0xFFF8000000000000))[0]
    assert msvcrt(FakeGuest(ptr_size), b"%f", [D(indefinite)]) == b"-1.#IND00"


@ABIS
def test_float_digits_as_msvcrt_rounds_them(ptr_size: int) -> None:
    """msvcrt rounds the exact binary value, a decimal tie half away from zero (glibc: to
    even), and writes every digit it is asked for.  Wine's msvcrt.dll writes these same
    strings (tests/emulator/console.c compares a few under Wine); old Windows builds of
    msvcrt.dll are said to stop at 17 significant digits, which Wine does not follow."""
    g = FakeGuest(ptr_size)
    assert msvcrt(g, b"%.0f|%.0f|%.2f|%.0f", [D(2.5), D(0.5), D(0.125), D(-2.5)]) == \
        b"3|1|0.13|-3"
    assert msvcrt(g, b"%.0f", [D(2.0**64)]) == b"18446744073709551616"
    assert msvcrt(g, b"%.20f", [D(0.1)]) == b"0.10000000000000000555"


@ABIS
def test_double_slots(ptr_size: int) -> None:
    """x86: a double takes two slots (its low word first) and the next argument follows;
    x64: one slot, the double's bits in the integer register."""
    g = FakeGuest(ptr_size)
    bits = _double_bits(-2.5)
    slots = [bits & MASK32, bits >> 32, 9] if ptr_size == 4 else [bits, 9]
    pieces = parse_format(b"%.1f %d")
    assert slots_needed([p for p in pieces if isinstance(p, Spec)], ptr_size) == len(slots)
    assert format_printf(g, pieces, VarArgs(slots, ptr_size)) == b"-2.5 9"


# ---------------------------------------------------------------------------------------
# 3. Strings in guest memory


@ABIS
def test_s_precision_reads_no_further(ptr_size: int) -> None:
    """%.3s of three bytes without a NUL that end just before an unmapped page reads them
    and nothing past them; %s of the same bytes runs into the unmapped page (a GuestFault)."""
    g = FakeGuest(ptr_size)
    text = g.alloc_at_end(b"abc")
    assert not g.readable(text + 3, 1)
    pieces = parse_format(b"[%.3s|%.2s|%5.3s|%.*s]")
    slots = [text, text, text, 3, text]
    assert format_printf(g, pieces, VarArgs(slots, ptr_size)) == b"[abc|ab|  abc|abc]"
    with pytest.raises(GuestFault):
        format_printf(g, parse_format(b"%s"), VarArgs([text], ptr_size))


@ABIS
def test_null_string(ptr_size: int) -> None:
    """A NULL %s is msvcrt's "(null)", cut to the precision and padded to the width; a NULL
    wide one too."""
    g = FakeGuest(ptr_size)
    assert msvcrt(g, b"%s|%.3s|%8s|%-8s|%ls|%S", [S(None)] * 4 + [P(0), P(0)]) == \
        b"(null)|(nu|  (null)|(null)  |(null)|(null)"


@ABIS
def test_wide_strings_and_characters_become_utf8(ptr_size: int) -> None:
    """%ls %ws %S read UTF-16 and write UTF-8 (a surrogate pair as one character); their
    precision counts UTF-16 units; %lc and %C write one wide character as UTF-8."""
    g = FakeGuest(ptr_size)
    text = "h\u00e9llo \u20ac\U0001F600"
    utf8 = text.encode("utf-8")
    assert msvcrt(g, b"%ls|%ws|%S", [W(text)] * 3) == b"|".join([utf8] * 3)
    assert msvcrt(g, b"[%.2ls|%.7ls|%8.2ls|%-6S]", [W(text), W(text), W("wide"), W("wide")]) == \
        "[h\u00e9|h\u00e9llo \u20ac|      wi|wide  ]".encode()
    assert msvcrt(g, b"%lc%C%wc", [I(0x20AC), I(0xE9), I(ord("x"))]) == "\u20ac\u00e9x".encode()


@ABIS
def test_unmapped_string_fails_the_call(ptr_size: int) -> None:
    """printf of an unmapped %s pointer returns -1 and writes nothing, not even the text
    before it; sprintf leaves its buffer untouched."""
    p = Process(ptr_size)
    unmapped = p.guest.next_free + 16 * PAGE
    fmt = p.guest.alloc(b"before %s after\0")
    assert p.call("printf", fmt, variadic=[unmapped]) == -1
    assert p.outputs == [] and p.rt.written == {STDOUT: bytearray(), STDERR: bytearray()}
    buffer = p.guest.alloc(b"\xAA" * 32)
    assert p.call("sprintf", buffer, fmt, variadic=[unmapped]) == -1
    assert p.guest.read(buffer, 32) == b"\xAA" * 32


@ABIS
def test_read_string_page_by_page(ptr_size: int) -> None:
    """read_string reads a string whose NUL is the last mapped byte, a string across a page
    boundary, at most ``limit`` characters, and faults when no NUL comes before the
    unmapped page."""
    g = FakeGuest(ptr_size)
    assert read_string(g, g.alloc_at_end(b"hello\0")) == b"hello"
    assert read_string(g, g.alloc_at_end(b"\0")) == b""
    long_text = bytes(range(1, 256)) * 40
    base = g.alloc(4 * PAGE)
    across = base + PAGE - 100
    g.write(across, long_text + b"\0")
    assert read_string(g, across) == long_text
    assert read_string(g, across, limit=150) == long_text[:150]
    assert read_string(g, across, limit=0) == b""
    assert read_string(g, g.alloc_at_end(b"abc"), limit=3) == b"abc"
    with pytest.raises(GuestFault):
        read_string(g, g.alloc_at_end(b"abc"))
    wide = "w\u00eede".encode("utf-16-le")
    assert read_string(g, g.alloc_at_end(wide + b"\0\0"), wide=True) == wide
    assert read_string(g, g.alloc_at_end(wide), limit=4, wide=True) == wide
    even = g.alloc(2 * PAGE) + PAGE - 4
    g.write(even, wide + b"\0\0")
    assert read_string(g, even, wide=True) == wide


@ABIS
def test_read_string_wide_at_an_odd_address_across_a_page(ptr_size: int) -> None:
    """A wide string at an odd address that crosses a page boundary reads whole."""
    g = FakeGuest(ptr_size)
    base = g.alloc(2 * PAGE)
    wide = "hello world".encode("utf-16-le")
    g.write(base + PAGE - 5, wide + b"\0\0")
    assert read_string(g, base + PAGE - 5, wide=True) == wide


@ABIS
def test_zero_flag_pads_characters_and_strings_with_zeros(ptr_size: int) -> None:
    """msvcrt's 0 flag on %c and %s: zeros on the left (not with -)."""
    g = FakeGuest(ptr_size)
    assert msvcrt(g, b"%04c|%-04c|%04s", [I(ord("1")), I(ord("1")), S(b"foo")]) == \
        b"0001|1   |0foo"


@ABIS
def test_unknown_conversion_character(ptr_size: int) -> None:
    """msvcrt: "%y=%d" of 5 is "y=5"."""
    assert msvcrt(FakeGuest(ptr_size), b"%b|%y=%d", [I(5)]) == b"b|y=5"


# ---------------------------------------------------------------------------------------
# 4. CRuntime

ENVIRONMENT = {"Path": "C:\\Windows;C:\\bin", "HOME": "C:\\Users\\me", "Wide": "a\u00e9\U0001F600b"}
PROGRAM = "C:\\prog\\t\u00e9st.exe"
ARGS = ["one", "two words", "\u20ac"]


def function(name: str) -> CrtFunction:
    matches = [f for f in CRT_FUNCTIONS if f.name == name]
    assert len(matches) == 1, name
    return matches[0]


class Process:
    """One CRuntime placed into a FakeGuest's memory (the block ends at an unmapped page, so
    ``place`` writing past ``memory_size`` would fault), its output collected."""

    def __init__(self, ptr_size: int) -> None:
        self.guest = FakeGuest(ptr_size)
        self.ptr_size = ptr_size
        self.outputs: list[tuple[int, bytes]] = []
        self.rt = CRuntime(PROGRAM, ARGS, ENVIRONMENT, ptr_size, output=self._output)
        self.base = self.guest.alloc_at_end(bytes(self.rt.memory_size))
        self.rt.place(self.guest, self.base)

    def _output(self, stream: int, data: bytes) -> None:
        self.outputs.append((stream, data))

    def call(self, name: str, *fixed: int, variadic: Sequence[int] = ()) -> int | None:
        """Call ``name`` with its fixed arguments; the guest's argument slots hold them and
        then ``variadic``."""
        self.guest.call_arguments = [*fixed, *variadic]
        return self.rt.call(function(name), self.guest, list(fixed))

    def pointer(self, address: int) -> int:
        value = int.from_bytes(self.guest.read(address, self.ptr_size), "little")
        return value

    def pointers(self, address: int) -> list[int]:
        """The NULL-terminated pointer array at ``address``."""
        found: list[int] = []
        while value := self.pointer(address + self.ptr_size * len(found)):
            found.append(value)
        return found

    def string(self, text: str | bytes) -> int:
        return self.guest.alloc((text.encode() if isinstance(text, str) else text) + b"\0")

    def wide(self, text: str) -> int:
        return self.guest.alloc(text.encode("utf-16-le") + b"\0\0")

    def stream(self, number: int) -> int:
        return self.rt.stream_array + number * file_size(self.ptr_size)

    def slots(self, *args: Arg) -> list[int]:
        return to_slots(self.guest, args)

    def inside(self, address: int, size: int = 1) -> bool:
        return self.base <= address and address + size <= self.base + self.rt.memory_size


@ABIS
def test_getmainargs(ptr_size: int) -> None:
    """__getmainargs writes argc and an argv whose strings (in the placed memory) read back
    as the program and its arguments, UTF-8, NULL-terminated."""
    p = Process(ptr_size)
    out = p.guest.alloc(3 * 8)
    argc, argv, envp = out, out + 8, out + 16
    assert p.call("__getmainargs", argc, argv, envp, 0, p.guest.alloc(4)) == 0
    assert p.guest.read_int(argc) == 4
    array = p.pointer(argv)
    assert p.inside(array)
    strings = p.pointers(array)
    assert [read_string(p.guest, s).decode() for s in strings] == [PROGRAM, *ARGS]
    assert all(p.inside(s) for s in strings)
    assert p.pointer(array + 4 * ptr_size) == 0


@ABIS
def test_getmainargs_envp(ptr_size: int) -> None:
    """envp: one NAME=VALUE string per variable, in order, NULL-terminated; a NULL out
    pointer fails the call (-1)."""
    p = Process(ptr_size)
    out = p.guest.alloc(3 * 8)
    assert p.call("__getmainargs", out, out + 8, out + 16, 0, 0) == 0
    envp = p.pointers(p.pointer(out + 16))
    assert [read_string(p.guest, s).decode() for s in envp] == \
        [f"{name}={value}" for name, value in ENVIRONMENT.items()]
    assert p.call("__getmainargs", out, 0, out + 16, 0, 0) == -1


@ABIS
def test_getenv(ptr_size: int) -> None:
    """getenv finds a variable whatever the case of its name and returns its value (the
    same address each time, inside envp's string); a missing or partial name is 0."""
    p = Process(ptr_size)
    value = p.call("getenv", p.string("PATH"))
    assert value and read_string(p.guest, value) == b"C:\\Windows;C:\\bin"
    assert p.call("getenv", p.string("path")) == value == p.call("getenv", p.string("Path"))
    assert p.inside(value)
    assert read_string(p.guest, p.call("getenv", p.string("wide")) or 0).decode() == \
        ENVIRONMENT["Wide"]
    for missing in ("PAT", "PATH=", "USERPROFILE", ""):
        assert p.call("getenv", p.string(missing)) == 0
    assert p.call("getenv", 0) == 0


@ABIS
def test_get_environment_variable_a(ptr_size: int) -> None:
    """GetEnvironmentVariableA: the length without the NUL, value and NUL written, when it
    fits; the size needed with the NUL and the buffer untouched when not (a size equal to
    the length included, NULL buffer and size 0 too); 0 and ERROR_ENVVAR_NOT_FOUND for a
    missing name."""
    p = Process(ptr_size)
    value = b"C:\\Windows;C:\\bin"
    buffer = p.guest.alloc(b"\xAA" * 64)
    assert p.call("GetEnvironmentVariableA", p.string("pAtH"), buffer, 64) == len(value)
    assert p.guest.read(buffer, 64) == value + b"\0" + b"\xAA" * (63 - len(value))
    exact = p.guest.alloc_at_end(b"\xAA" * (len(value) + 1))
    assert p.call("GetEnvironmentVariableA", p.string("PATH"), exact, len(value) + 1) == len(value)
    assert p.guest.read(exact, len(value) + 1) == value + b"\0"
    small = p.guest.alloc(b"\xAA" * 64)
    for size in (len(value), 1):
        assert p.call("GetEnvironmentVariableA", p.string("PATH"), small, size) == len(value) + 1
        assert p.guest.read(small, 64) == b"\xAA" * 64
    assert p.call("GetEnvironmentVariableA", p.string("PATH"), 0, 0) == len(value) + 1
    p.guest.set_last_error(0)
    assert p.call("GetEnvironmentVariableA", p.string("NOPE"), small, 64) == 0
    assert p.guest.get_last_error() == ERROR_ENVVAR_NOT_FOUND
    assert p.guest.read(small, 64) == b"\xAA" * 64
    assert function("GetEnvironmentVariableA").stdcall


@ABIS
def test_get_environment_variable_w(ptr_size: int) -> None:
    """GetEnvironmentVariableW: the same contract in UTF-16 units (a surrogate pair counts
    two), the name compared without regard to case."""
    p = Process(ptr_size)
    value = ENVIRONMENT["Wide"].encode("utf-16-le")
    units = len(value) // 2
    assert units == 5
    buffer = p.guest.alloc(b"\xAA" * 64)
    assert p.call("GetEnvironmentVariableW", p.wide("WIDE"), buffer, 32) == units
    assert p.guest.read(buffer, 64) == value + b"\0\0" + b"\xAA" * (62 - len(value))
    small = p.guest.alloc(b"\xAA" * 64)
    assert p.call("GetEnvironmentVariableW", p.wide("wide"), small, units) == units + 1
    assert p.guest.read(small, 64) == b"\xAA" * 64
    p.guest.set_last_error(0)
    assert p.call("GetEnvironmentVariableW", p.wide("Missing"), small, 32) == 0
    assert p.guest.get_last_error() == ERROR_ENVVAR_NOT_FOUND
    assert p.guest.read(small, 64) == b"\xAA" * 64


@ABIS
def test_printf_family_to_the_console(ptr_size: int) -> None:
    """printf writes to stdout and fprintf to the stream its FILE* names, at once through
    ``output`` and into ``written``; each returns the bytes written; fprintf to stdin or to
    any other pointer is EOF and writes nothing."""
    p = Process(ptr_size)
    fmt = p.string("%s=%d %I64u %.2f\n")
    args = p.slots(S(b"x"), I(-3), L(2**40), D(0.25))
    assert p.call("printf", fmt, variadic=args) == len(b"x=-3 1099511627776 0.25\n")
    assert p.call("fprintf", p.stream(2), p.string("err %c"), variadic=[ord("!")]) == 5
    assert p.call("fprintf", p.stream(1), p.string("%%out")) == 4
    assert p.outputs == [(STDOUT, b"x=-3 1099511627776 0.25\n"), (STDERR, b"err !"),
                         (STDOUT, b"%out")]
    assert p.rt.written == {STDOUT: bytearray(b"x=-3 1099511627776 0.25\n%out"),
                            STDERR: bytearray(b"err !")}
    for other in (p.stream(0), p.stream(3), p.stream(1) + 4, 0):
        assert p.call("fprintf", other, p.string("lost")) == EOF == -1
    assert len(p.outputs) == 3


@ABIS
def test_printf_failures(ptr_size: int) -> None:
    """printf with a NULL or unmapped format, or with fewer argument slots than the format
    needs (reading past the stack), returns -1 and writes nothing."""
    p = Process(ptr_size)
    assert p.call("printf", 0) == -1
    assert p.call("printf", p.guest.next_free + 64 * PAGE) == -1
    assert p.call("printf", p.string("%d %d"), variadic=[1]) == -1
    # a field wider than FIELD_LIMIT fails the call before anything is built or written
    assert p.call("printf", p.string("%999999999d"), variadic=[1]) == -1
    assert p.call("printf", p.string("%.999999999f"), variadic=[0, 0]) == -1
    assert p.call("printf", p.string("%*s"), variadic=[FIELD_LIMIT + 1, p.string("x")]) == -1
    assert p.outputs == []
    assert p.call("printf", p.string("%*d"), variadic=[FIELD_LIMIT, 7]) == FIELD_LIMIT


@ABIS
def test_stream_array(ptr_size: int) -> None:
    """__iob_func returns the stream array (``stream_array``, in the placed memory): stdin,
    stdout and stderr FILEs of file_size bytes each, their _file field 0, 1 and 2; fputs,
    fputc and putc write to stdout and stderr through those pointers."""
    p = Process(ptr_size)
    iob = p.call("__iob_func")
    assert iob == p.rt.stream_array and p.inside(iob or 0, 3 * file_size(ptr_size))
    assert file_size(ptr_size) == (48 if ptr_size == 8 else 32)
    field = 28 if ptr_size == 8 else 16
    assert [p.guest.read_int(p.stream(n) + field) for n in range(3)] == [0, 1, 2]
    assert p.rt.stream(p.stream(1)) == STDOUT and p.rt.stream(p.stream(2)) == STDERR
    assert p.rt.stream(p.stream(0)) is None
    assert p.call("fputs", p.string("out "), p.stream(1)) == 0
    assert p.call("fputs", p.string("err "), p.stream(2)) == 0
    assert p.call("fputc", 0x100 + ord("c"), p.stream(1)) == ord("c")
    assert p.call("putc", ord("e"), p.stream(2)) == ord("e")
    assert p.call("fputs", p.string("x"), p.stream(0)) == EOF
    assert p.call("fputc", ord("x"), 0) == EOF
    assert p.rt.written == {STDOUT: bytearray(b"out c"), STDERR: bytearray(b"err e")}


@ABIS
def test_puts_putchar_fflush(ptr_size: int) -> None:
    """puts writes the string and a newline, putchar one byte (returning it as an unsigned
    char), fflush succeeds: all on stdout."""
    p = Process(ptr_size)
    assert p.call("puts", p.string("line")) == 0
    assert p.call("putchar", 0x141) == 0x41
    assert p.call("fflush", p.stream(1)) == 0
    assert p.call("puts", 0) == EOF
    assert p.outputs == [(STDOUT, b"line\n"), (STDOUT, b"A")]


@ABIS
def test_fwrite(ptr_size: int) -> None:
    """fwrite returns the number of items and writes size*count bytes; a zero size or count,
    or a stream that is not stdout or stderr, writes nothing and returns 0."""
    p = Process(ptr_size)
    data = bytes(range(256)) * 3
    buffer = p.guest.alloc(data)
    assert p.call("fwrite", buffer, 4, 5, p.stream(1)) == 5
    assert p.call("fwrite", buffer, 1, len(data), p.stream(2)) == len(data)
    assert p.rt.written == {STDOUT: bytearray(data[:20]), STDERR: bytearray(data)}
    assert p.call("fwrite", buffer, 0, 5, p.stream(1)) == 0
    assert p.call("fwrite", buffer, 5, 0, p.stream(1)) == 0
    assert p.call("fwrite", buffer, 1, 5, p.stream(0)) == 0
    assert p.rt.written[STDOUT] == data[:20]


@ABIS
def test_sprintf(ptr_size: int) -> None:
    """sprintf writes the text and its NUL and returns the text's length."""
    p = Process(ptr_size)
    buffer = p.guest.alloc(b"\xAA" * 32)
    assert p.call("sprintf", buffer, p.string("%05d|%s"), variadic=p.slots(I(42), S(b"ok"))) == 8
    assert p.guest.read(buffer, 10) == b"00042|ok\0\xAA"
    assert p.outputs == []


@ABIS
@pytest.mark.parametrize(("text", "count", "result", "stored"), [
    (b"short", 8, 5, b"short\0"),          # fits: the text and its NUL
    (b"justfit", 7, 7, b"justfit"),         # exactly count: no NUL, returns count
    (b"muchlonger", 8, -1, b"muchlong"),    # too long: count bytes, no NUL, -1
    (b"x", 0, -1, b""),                     # no room at all
    (b"", 0, 0, b""),
    (b"", 4, 0, b"\0"),
])
def test_snprintf_truncation(ptr_size: int, text: bytes, count: int, result: int,
                             stored: bytes) -> None:
    """msvcrt's _snprintf: the NUL only when the text is shorter than count; -1 when the
    text does not fit; nothing past count bytes written."""
    p = Process(ptr_size)
    buffer = p.guest.alloc(b"\xAA" * 32)
    assert p.call("_snprintf", buffer, count, p.string("%s"), variadic=p.slots(S(text))) == result
    assert p.guest.read(buffer, 32) == stored + b"\xAA" * (32 - len(stored))


@ABIS
def test_va_list_functions(ptr_size: int) -> None:
    """vprintf, vfprintf, vsprintf and _vsnprintf read their arguments from a va_list in
    guest memory: slots of ptr_size bytes, a double or 64-bit integer in two on x86; they
    read nothing of the call's own argument slots past their fixed ones."""
    p = Process(ptr_size)
    code = "Q" if ptr_size == 8 else "I"
    slots = p.slots(I(-7), D(1.5), L(-2**33), S(b"str"), I(ord("c")))
    va_list = p.guest.alloc(struct.pack(f"<{len(slots)}{code}", *slots))
    fmt = p.string("%d %.1f %lld %s %c")
    expected = b"-7 1.5 -8589934592 str c"
    assert p.call("vprintf", fmt, va_list) == len(expected)
    assert p.call("vfprintf", p.stream(2), fmt, va_list) == len(expected)
    assert p.call("vfprintf", p.stream(0), fmt, va_list) == EOF
    assert p.outputs == [(STDOUT, expected), (STDERR, expected)]
    buffer = p.guest.alloc(b"\xAA" * 64)
    assert p.call("vsprintf", buffer, fmt, va_list) == len(expected)
    assert p.guest.read(buffer, len(expected) + 2) == expected + b"\0\xAA"
    small = p.guest.alloc(b"\xAA" * 64)
    assert p.call("_vsnprintf", small, 10, fmt, va_list) == -1
    assert p.guest.read(small, 11) == expected[:10] + b"\xAA"
    short = p.guest.alloc_at_end(struct.pack(f"<{len(slots) - 1}{code}", *slots[:-1]))
    assert p.call("vprintf", fmt, short) == -1      # the va_list runs into unmapped memory
    assert len(p.outputs) == 2


@ABIS
def test_exit_records_a_dword(ptr_size: int) -> None:
    """exit, _exit and ExitProcess record their status as a DWORD (exit(-1) is 0xFFFFFFFF
    whatever the slot's upper half) and then let the emulator end the process."""
    p = Process(ptr_size)
    assert p.rt.exit_status is None
    for name, status, recorded in [("exit", -1, 0xFFFFFFFF), ("_exit", 3, 3),
                                   ("ExitProcess", 0xC0000005, 0xC0000005),
                                   ("exit", (1 << (8 * ptr_size)) - 2, 0xFFFFFFFE)]:
        assert p.call(name, status) is None
        assert p.rt.exit_status == recorded
        assert function(name).then_exit
    assert function("ExitProcess").stdcall and not function("exit").stdcall


@ABIS
@pytest.mark.parametrize(("text", "value", "errno"), [
    (b"42", 42, 0), (b"  \t\n\v\f\r-17x", -17, 0), (b"+8", 8, 0), (b"007", 7, 0),
    (b"", 0, 0), (b"abc", 0, 0), (b"-", 0, 0), (b" - 5", 0, 0), (b"12 34", 12, 0),
    (b"2147483647", 2147483647, 0), (b"-2147483648", -2147483648, 0),
    (b"2147483648", 2147483647, 34), (b"-2147483649", -2147483648, 34),
    (b"99999999999999999999999", 2147483647, 34), (b"\xa05", 0, 0)])
def test_atoi(ptr_size: int, text: bytes, value: int, errno: int) -> None:
    """atoi as msvcrt's: "C" white space skipped, a sign, digits to the first other byte,
    out of range INT_MAX or INT_MIN with errno ERANGE (34); errno left alone otherwise."""
    p = Process(ptr_size)
    address = p.call("_errno") or 0
    assert p.call("atoi", p.string(text)) == value
    assert p.guest.read_int(address) == errno
    assert p.call("atoi", 0) == 0


@ABIS
def test_errno_and_locale(ptr_size: int) -> None:
    """_errno is one int in the placed memory, the same for every call, writable; localeconv
    is the "C" locale's lconv: decimal_point ".", thousands_sep and grouping ""."""
    p = Process(ptr_size)
    errno = p.call("_errno")
    assert errno and errno == p.call("_errno") and p.inside(errno, 4)
    p.guest.write(errno, struct.pack("<i", 22))
    assert p.guest.read_int(p.call("_errno") or 0) == 22
    lconv = p.call("localeconv") or 0
    assert p.inside(lconv, 3 * ptr_size)
    assert read_string(p.guest, p.pointer(lconv)) == b"."
    assert read_string(p.guest, p.pointer(lconv + ptr_size)) == b""
    assert read_string(p.guest, p.pointer(lconv + 2 * ptr_size)) == b""


@ABIS
@pytest.mark.parametrize("name", ["", "A=B", "=C:", "NUL\0"])
def test_bad_environment_name(ptr_size: int, name: str) -> None:
    """An environment variable's name must be non-empty, with no '=' or NUL."""
    with pytest.raises(ValueError):
        CRuntime("p.exe", [], {name: "value"}, ptr_size)


def test_bad_pointer_size() -> None:
    """Only x86's 4-byte and x64's 8-byte pointers."""
    with pytest.raises(ValueError):
        CRuntime("p.exe", [], {}, 2)


@ABIS
def test_call_before_place(ptr_size: int) -> None:
    """Until place() lays out its memory a CRuntime serves no call and has no stream array."""
    rt = CRuntime("p.exe", [], {}, ptr_size)
    g = FakeGuest(ptr_size)
    with pytest.raises(RuntimeError):
        rt.call(function("__iob_func"), g, [])
    with pytest.raises(RuntimeError):
        rt.stream_array  # noqa: B018


@ABIS
def test_place_fits_memory_size(ptr_size: int) -> None:
    """place() writes only inside its memory_size bytes (the block ends at an unmapped page
    and starts after unrelated bytes left alone), for an empty command line and
    environment too."""
    for environment in ({}, ENVIRONMENT):
        g = FakeGuest(ptr_size)
        rt = CRuntime("p", [], environment, ptr_size)
        block = g.alloc_at_end(b"\xAA" * (rt.memory_size + 8)) + 8
        rt.place(g, block)
        assert g.read(block - 8, 8) == b"\xAA" * 8
        assert rt.base == block
