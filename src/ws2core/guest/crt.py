"""The C run-time a console program needs, over guest memory: its command line and
environment, its console output, errno and its exit status (layer 4, beside the Ws2_32
exports).

Emulators of Windows programs stop a mingw-built console program long before its first
socket: Speakeasy 1.5.11 hands ``main`` no arguments (its ``__getmainargs`` writes nothing),
has no ``printf``, ``__iob_func`` or ``_errno``, and its ``GetEnvironmentVariable`` writes
past the caller's buffer.  ``CRuntime`` serves those calls for one process, from
``CRT_FUNCTIONS``, over the same ``Guest`` protocol as the Winsock exports, so any emulator
adapter can offer it:

- **the command line**: ``__getmainargs`` (msvcrt's, which mingw's start-up code calls) gives
  ``main`` its ``argc``, ``argv`` and ``envp``;
- **the environment**: ``getenv``, ``GetEnvironmentVariableA`` and ``GetEnvironmentVariableW``
  see the variables given to ``CRuntime`` and nothing of the host's (names compared without
  regard to case, as Windows does);
- **console output**: the printf family (``printf``, ``fprintf``, ``vprintf``, ``vfprintf``,
  ``sprintf``, ``_snprintf``, ``vsprintf``, ``_vsnprintf``) with msvcrt's conversions, and
  ``puts``, ``putchar``, ``fputs``, ``fputc``, ``putc``, ``fwrite`` and ``fflush`` on
  ``stdout`` and ``stderr``, the first three entries of the stream array that
  ``__iob_func`` returns (the x86 build's ``_iob`` data import is the same array: the
  adapter points the import at it).  What is written reaches ``output(stream, data)`` at
  once, as bytes: 1 is stdout, 2 stderr.  mingw's own printf (its default unless
  ``__USE_MINGW_ANSI_STDIO=0``) formats in the guest and writes through ``fputc`` and
  ``fwrite``;
- **arguments**: ``atoi``, the way console programs read a number from their command line;
- **errno**: ``_errno`` returns the process's one ``errno`` (one for all threads);
- **locks**: ``_lock`` and ``_unlock`` hold nothing (one guest thread runs at a time);
- **the exit status**: ``exit``, ``_exit`` and ``ExitProcess`` record it in
  ``exit_status`` before the emulator's own handler ends the process.

Strings cross as UTF-8 (a narrow string's bytes are passed through untouched; a wide one is
converted).  A guest pointer that is NULL where the C run-time would crash, or unmapped,
makes the call fail (-1, EOF or NULL) instead: the emulator is never the one to fail.
"""

from __future__ import annotations

import decimal
import logging
import math
import re
import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from . import _memory
from ._protocol import Guest, GuestFault

log: Final = logging.getLogger("ws2core.guest")

STDOUT: Final = 1
STDERR: Final = 2
EOF: Final = -1
ERROR_ENVVAR_NOT_FOUND: Final = 203

STRING_LIMIT: Final = 1 << 20
"""The longest guest string read (bytes, or characters of a wide string): a string without a
NUL in reach is cut there, so no guest pointer can make the host read without end."""

WRITE_LIMIT: Final = 1 << 24
"""The most bytes one ``fwrite`` passes on; the rest is reported as not written."""

FIELD_LIMIT: Final = 1 << 20
"""The widest field (a width or a precision) one conversion may ask for: beyond it the call
fails, so that a guest's ``%999999999d`` cannot make the host build a gigabyte."""



def file_size(ptr_size: int) -> int:
    """sizeof(FILE) in msvcrt's layout: 48 bytes on x64, 32 on x86 (its four pointers)."""
    return 48 if ptr_size == 8 else 32


# ---------------------------------------------------------------------------------------
# Guest memory, as the C run-time reads it


def read_string(guest: Guest, address: int, limit: int = STRING_LIMIT, wide: bool = False) -> bytes:
    """The string at ``address`` without its NUL: at most ``limit`` characters (a
    precision's worth, or STRING_LIMIT), as ``_memory.read_string`` reads it, through the
    emulator's own reads (a fault is the C run-time's to answer, not WSAEFAULT)."""
    return _memory.read_string(guest, address, limit=limit, wide=wide, reader=guest.read)


def wide_to_utf8(data: bytes) -> bytes:
    return data.decode("utf-16-le", "replace").encode("utf-8")


# ---------------------------------------------------------------------------------------
# Variadic arguments


class VarArgs:
    """The variadic arguments of one call, taken in order, in the guest's ABI.

    ``slots`` are the raw argument slots from the first variadic one on (the registers and
    the stack of a direct call, or the memory of a ``va_list``), each ``ptr_size`` bytes.
    On x64 every argument takes one slot (a double is passed in its integer register too,
    as the ABI requires of variadic calls); on x86 a 64-bit integer or a double takes two.
    """

    def __init__(self, slots: Sequence[int], ptr_size: int) -> None:
        self._slots = slots
        self._index = 0
        self.ptr_size = ptr_size
        self._mask = (1 << (8 * ptr_size)) - 1

    def _slot(self) -> int:
        if self._index >= len(self._slots):
            raise IndexError("more conversions than arguments read")
        value = self._slots[self._index] & self._mask
        self._index += 1
        return value

    def unsigned(self, size: int) -> int:
        """The next argument as an unsigned integer of ``size`` bytes (4 or 8)."""
        if size == 8 and self.ptr_size == 4:
            low = self._slot()
            return low | self._slot() << 32
        return self._slot() & ((1 << (8 * size)) - 1)

    def double(self) -> float:
        value: float = struct.unpack("<d", self.unsigned(8).to_bytes(8, "little"))[0]
        return value


def slots_needed(specs: Sequence[Spec], ptr_size: int) -> int:
    """How many argument slots ``specs`` consume (see VarArgs)."""
    total = 0
    for spec in specs:
        total += (spec.width == "*") + (spec.precision == "*")
        if spec.conversion != "%":
            total += 2 if spec.size(ptr_size) == 8 and ptr_size == 4 else 1
    return total


# ---------------------------------------------------------------------------------------
# The printf family's format: msvcrt's conversions

_SPEC: Final = re.compile(
    rb"%(?P<flags>[-+ #0]*)(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d*))?"
    rb"(?P<length>hh|h|ll|l|L|I64|I32|I|z|j|t|w|F|N)?(?P<conversion>.?)", re.S)
# F and N are the far and near size prefixes of 16-bit days there, not %F (which is C99's)
_CONVERSIONS: Final = b"diouxXcCsSpeEfgGaAn%"


@dataclass(frozen=True)
class Spec:
    """One conversion of a format: ``%[flags][width][.precision][length]conversion``."""

    flags: str
    width: str | None         # digits, "*" or None
    precision: str | None     # digits ("" is 0), "*" or None
    length: str
    conversion: str

    def size(self, ptr_size: int) -> int:
        """The bytes of its argument as the caller passed it (after default promotions)."""
        if self.conversion in "eEfFgGaA":
            return 8  # float promotes to double; long double is a double in msvcrt
        if self.conversion in "sSpn":
            return ptr_size
        if self.conversion in "cC" or self.conversion == "%":
            return 4
        if self.length in ("ll", "I64", "j"):
            return 8
        if self.length in ("I", "z", "t"):
            return ptr_size
        return 4


Piece = bytes | Spec


def parse_format(fmt: bytes) -> list[Piece]:
    """The literal text and the conversions of a format, in order.  A conversion character
    msvcrt does not know is written as it is, without the ``%`` and what came between
    (``%b`` is ``b``), and consumes no argument, as msvcrt does."""
    pieces: list[Piece] = []
    position = 0
    while (percent := fmt.find(b"%", position)) >= 0:
        if percent > position:
            pieces.append(fmt[position:percent])
        match = _SPEC.match(fmt, percent)
        assert match is not None  # every part of the pattern may be empty
        if match["conversion"] == b"" or match["conversion"] not in _CONVERSIONS:
            if match["conversion"]:
                pieces.append(match["conversion"])
            position = match.end()
            continue
        pieces.append(Spec(match["flags"].decode(), _text(match["width"]),
                           _text(match["precision"]), _text(match["length"]) or "",
                           match["conversion"].decode()))
        position = match.end()
    if position < len(fmt):
        pieces.append(fmt[position:])
    return pieces


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode()


def format_printf(guest: Guest, pieces: Sequence[Piece], args: VarArgs) -> bytes:
    """The bytes msvcrt's printf writes for ``pieces`` (from parse_format) with ``args``."""
    out = bytearray()
    for piece in pieces:
        if isinstance(piece, bytes):
            out += piece
        else:
            out += _convert(guest, piece, args)
    return bytes(out)


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) else value


def _convert(guest: Guest, spec: Spec, args: VarArgs) -> bytes:
    flags = spec.flags
    width = 0
    if spec.width == "*":
        width = _signed(args.unsigned(4), 32)
        if width < 0:  # a negative * width is the - flag and its absolute value
            flags += "-"
            width = -width
    elif spec.width:
        width = int(spec.width)
    precision: int | None = None
    if spec.precision == "*":
        precision = _signed(args.unsigned(4), 32)
        if precision < 0:
            precision = None  # a negative * precision is as if none were given
    elif spec.precision is not None:
        precision = int(spec.precision or "0")
    if width > FIELD_LIMIT or (precision or 0) > FIELD_LIMIT:
        raise ValueError(f"a field of {max(width, precision or 0)} characters (FIELD_LIMIT)")

    conversion = spec.conversion
    if conversion == "%":
        return b"%"
    if conversion in "diouxX":
        return _integer(spec, flags, width, precision, args)
    if conversion in "eEfFgGaA":
        return _floating(conversion, flags, width, precision, args.double())
    if conversion in "cC":
        code = args.unsigned(4)
        wide = conversion == "C" or spec.length in ("l", "w")
        text = chr(code & 0xFFFF).encode("utf-8", "replace") if wide else bytes([code & 0xFF])
        return _pad(text, width, flags, zeros=True)
    if conversion in "sS":
        address = args.unsigned(spec.size(guest.ptr_size))
        wide = conversion == "S" or spec.length in ("l", "w")
        limit = STRING_LIMIT if precision is None else min(precision, STRING_LIMIT)
        if address == 0:
            text = b"(null)"[:limit]
        elif wide:
            text = wide_to_utf8(read_string(guest, address, limit, wide=True))
        else:
            text = read_string(guest, address, limit)
        return _pad(text, width, flags, zeros=True)
    if conversion == "p":  # msvcrt: the whole pointer in upper-case hex digits, # adds 0X
        value = args.unsigned(guest.ptr_size)
        prefix = "0X" if "#" in flags else ""
        return _pad(f"{prefix}{value:0{2 * guest.ptr_size}X}".encode(), width, flags)
    # %n: msvcrt refuses it unless a program opts in (_set_printf_count_output), and a
    # write through a guest pointer is not console output: its pointer is passed over.
    args.unsigned(guest.ptr_size)
    return b""


def _integer(spec: Spec, flags: str, width: int, precision: int | None, args: VarArgs) -> bytes:
    size = spec.size(args.ptr_size)
    value = args.unsigned(size)
    bits = 8 * size
    if spec.length == "hh":
        value, bits = value & 0xFF, 8
    elif spec.length == "h":
        value, bits = value & 0xFFFF, 16
    sign = ""
    if spec.conversion in "di":
        value = _signed(value, bits)
        if value < 0:
            sign, value = "-", -value
        elif "+" in flags:
            sign = "+"
        elif " " in flags:
            sign = " "
    digits = {"o": f"{value:o}", "x": f"{value:x}", "X": f"{value:X}"}.get(spec.conversion,
                                                                           str(value))
    if precision is not None:
        digits = "" if precision == 0 and value == 0 else digits.rjust(precision, "0")
    prefix = ""
    if "#" in flags:
        if spec.conversion == "o" and not digits.startswith("0"):
            prefix = "0"
        elif spec.conversion in "xX" and value != 0:
            prefix = "0" + spec.conversion
    zeros = "0" in flags and "-" not in flags and precision is None
    return _pad_number(sign + prefix, digits, width, flags, zeros)


def _floating(conversion: str, flags: str, width: int, precision: int | None,
              value: float) -> bytes:
    sign = ""
    if math.copysign(1.0, value) < 0:
        sign, value = "-", -value
    elif "+" in flags:
        sign = "+"
    elif " " in flags:
        sign = " "
    if not math.isfinite(value):
        digits = _special(_special_name(value, sign), conversion,
                          6 if precision is None else precision, "#" in flags)
        return _pad_number("-" if sign == "-" and "IND" in digits.upper() else sign,
                           digits, width, flags, False)
    if precision is None:
        precision = 6
    if conversion in "aA":  # the shortest exact hex form; a precision is not applied
        digits = value.hex().removeprefix("0x")
        head, _, exponent = digits.partition("p")
        digits = f"0x{head.rstrip('0').rstrip('.')}p{exponent}"
        return _pad_number(sign, digits.upper() if conversion == "A" else digits, width, flags,
                           "0" in flags and "-" not in flags)
    if conversion in "fF":
        digits = _fixed(value, precision, "#" in flags)
    elif conversion in "eE":
        digits = _exponential(value, precision, "#" in flags, conversion)
    else:
        digits = _general(value, precision, "#" in flags, conversion)
    return _pad_number(sign, digits, width, flags, "0" in flags and "-" not in flags)


# msvcrt rounds the exact binary value half away from zero (2.5 -> "3" with %.0f, where
# glibc and Python round half to even), and writes at least three exponent digits (C99 and
# the UCRT: two).  decimal holds a double exactly: ~770 significant digits at most.
_EXACT: Final = decimal.Context(prec=1100, rounding=decimal.ROUND_HALF_UP)
MAX_PRECISION: Final = 512
"""Digits after the point beyond this are written as zeros: a double has no more."""


def _fixed(value: float, precision: int, alternate: bool) -> str:
    kept = min(precision, MAX_PRECISION)
    exact = decimal.Decimal(value).quantize(decimal.Decimal(1).scaleb(-kept), context=_EXACT)
    digits = f"{exact:f}" + "0" * (precision - kept)
    return digits + "." if alternate and precision == 0 else digits


def _scientific(value: float, precision: int) -> tuple[str, int]:
    """The mantissa rounded to ``precision`` digits after the point, and the exponent."""
    kept = min(precision, MAX_PRECISION)
    if value == 0:
        return "0" + ("." + "0" * precision if precision else ""), 0
    exact = decimal.Decimal(value)
    exponent = exact.adjusted()
    step = decimal.Decimal(1).scaleb(-kept)
    mantissa = exact.scaleb(-exponent, context=_EXACT).quantize(step, context=_EXACT)
    if mantissa >= 10:  # 9.99... rounded up to 10
        exponent += 1
        mantissa = exact.scaleb(-exponent, context=_EXACT).quantize(step, context=_EXACT)
    return f"{mantissa:f}" + "0" * (precision - kept), exponent


def _exponential(value: float, precision: int, alternate: bool, conversion: str) -> str:
    mantissa, exponent = _scientific(value, precision)
    if alternate and precision == 0:
        mantissa += "."
    return f"{mantissa}{conversion}{'-' if exponent < 0 else '+'}{abs(exponent):03d}"


def _general(value: float, precision: int, alternate: bool, conversion: str) -> str:
    significant = max(precision, 1)
    _, exponent = _scientific(value, significant - 1)
    if -4 <= exponent < significant:
        digits = _fixed(value, significant - 1 - exponent, alternate)
    else:
        digits = _exponential(value, significant - 1, alternate, "E" if conversion == "G" else "e")
    if not alternate:  # %g drops trailing zeros, and the point when nothing follows it
        mantissa, marker, exponent_text = digits.partition("e" if conversion == "g" else "E")
        if "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        digits = mantissa + marker + exponent_text
    return digits


def _special_name(value: float, sign: str) -> str:
    """msvcrt.dll's spelling of infinity and of the NaNs: the indefinite NaN that an invalid
    operation produces (0.0/0.0: sign set, quiet bit alone) is 1.#IND, another quiet NaN
    1.#QNAN, a signalling one 1.#SNAN."""
    if math.isinf(value):
        return "1.#INF"
    mantissa = struct.unpack("<Q", struct.pack("<d", value))[0] & ((1 << 52) - 1)
    if mantissa == 1 << 51 and sign == "-":
        return "1.#IND"
    return "1.#QNAN" if mantissa & (1 << 51) else "1.#SNAN"


def _special(text: str, conversion: str, precision: int, alternate: bool) -> str:
    """Infinity or a NaN as msvcrt writes it for ``conversion``: its digits cut or padded to
    the precision, rounded as a number's would be (1.#QNAN at precision 0 is 1, at 2 1.#R),
    with the exponent +000 for %e, and with trailing zeros dropped for %g."""
    if conversion in "gG":
        precision = max(precision, 1) - 1
    digits = _special_digits(text, precision)
    if conversion in "eE":
        digits += "e+000"
    elif conversion in "gG" and not alternate and "." in digits:
        digits = digits.rstrip("0").rstrip(".")
    return digits.upper() if conversion in "EGA" else digits


def _special_digits(text: str, precision: int) -> str:
    whole, fraction = text.split(".")
    if precision >= len(fraction):
        return f"{whole}.{fraction}{'0' * (precision - len(fraction))}"
    if precision == 0:
        return whole
    kept = fraction[:precision]
    if ord(fraction[precision]) >= ord("5"):  # what msvcrt's rounding does to the letters
        kept = kept[:-1] + chr(ord(kept[-1]) + 1)
    return f"{whole}.{kept}"


def _pad_number(head: str, digits: str, width: int, flags: str, zeros: bool) -> bytes:
    if zeros and len(head) + len(digits) < width:
        digits = digits.rjust(width - len(head), "0")
    return _pad((head + digits).encode(), width, flags)


def _pad(text: bytes, width: int, flags: str, zeros: bool = False) -> bytes:
    """``text`` in a field of ``width``: left-justified with ``-``; otherwise right-justified,
    with zeros when ``zeros`` allows the 0 flag (msvcrt pads %c and %s with them too)."""
    if len(text) >= width:
        return text
    if "-" in flags:
        return text.ljust(width)
    return text.rjust(width, b"0" if zeros and "0" in flags else b" ")


# ---------------------------------------------------------------------------------------
# The run-time of one process


CrtCall = Callable[["CRuntime", Guest, Sequence[int]], "int | None"]


@dataclass(frozen=True)
class CrtFunction:
    """One C run-time (or kernel32) function ``CRuntime`` serves.

    ``dll`` is the module a program imports it from, ``argc`` its fixed parameters (the
    variadic ones are read by the function itself), ``stdcall`` whether the callee cleans
    the stack (kernel32's WINAPI; the C run-time is cdecl).  ``then_exit``: after the call
    the emulator's own handler must run, to end the process.  ``failure``: the result when
    the call meets a guest fault.
    """

    dll: str
    name: str
    argc: int
    function: CrtCall
    failure: int | None = EOF
    stdcall: bool = False
    then_exit: bool = False


CRT_FUNCTIONS: list[CrtFunction] = []
"""Every function ``CRuntime`` serves, in registration order."""


def _serves(dll: str, name: str, argc: int, *, failure: int | None = EOF, stdcall: bool = False,
            then_exit: bool = False) -> Callable[[CrtCall], CrtCall]:
    def register(function: CrtCall) -> CrtCall:
        CRT_FUNCTIONS.append(CrtFunction(dll, name, argc, function, failure, stdcall, then_exit))
        return function

    return register


class CRuntime:
    """The C run-time state of one emulated console process.

    ``CRuntime(program, args, environment, ptr_size, output=None)``: ``program`` is
    ``argv[0]`` as the program sees it (a Windows path), ``args`` the rest of its command
    line, ``environment`` every variable it may read, ``output(stream, data)`` what receives
    its console output as it is written (1 stdout, 2 stderr; None: kept only).  Before the
    program runs, the adapter maps ``memory_size`` bytes of guest memory (readable and
    writable) and calls ``place(guest, address)``, which writes the process's ``argv``,
    ``envp``, stream array and ``errno`` there.

    ``written`` keeps everything written, by stream; ``exit_status`` is the status passed to
    ``exit``, ``_exit`` or ``ExitProcess`` (a DWORD), None until then.  ``call(function,
    guest, argv)`` serves one call of ``CRT_FUNCTIONS``.
    """

    def __init__(self, program: str, args: Sequence[str], environment: Mapping[str, str],
                 ptr_size: int, output: Callable[[int, bytes], None] | None = None) -> None:
        if ptr_size not in (4, 8):
            raise ValueError(f"a guest pointer of {ptr_size} bytes is neither x86 nor x64")
        for name in environment:
            if not name or "=" in name or "\0" in name:
                raise ValueError(f"{name!r} is not an environment variable's name")
        self.ptr_size = ptr_size
        self.argv: tuple[str, ...] = (program, *args)
        self.environment: dict[str, str] = dict(environment)
        self._output = output
        self.written: dict[int, bytearray] = {STDOUT: bytearray(), STDERR: bytearray()}
        self.exit_status: int | None = None
        self._argv_strings = [_narrow(text) for text in self.argv]
        self._env_strings = [_narrow(f"{name}={value}") for name, value in environment.items()]
        self.base: int | None = None
        self._files = self._errno = self._argv_array = self._envp_array = 0
        self._mb_cur_max = self._lconv = 0
        self._values: dict[str, int] = {}        # upper-case name -> its value's address

    # -- the process's memory

    @property
    def memory_size(self) -> int:
        """The bytes of guest memory ``place`` fills."""
        return sum(self._blocks()[1].values())

    def _blocks(self) -> tuple[list[str], dict[str, int]]:
        size = self.ptr_size
        blocks = {
            "files": 3 * file_size(size),
            "errno": size,
            "mb_cur_max": size,
            "lconv": _LCONV_POINTERS * size + _LCONV_CHARS + _LCONV_WIDE * size + 4,
            "argv": size * (len(self.argv) + 1),
            "envp": size * (len(self._env_strings) + 1),
            "strings": sum(len(s) + 1 for s in self._argv_strings + self._env_strings),
        }
        return list(blocks), blocks

    def place(self, guest: Guest, address: int) -> None:
        """Lay out the process's memory at ``address`` (``memory_size`` bytes, mapped)."""
        order, sizes = self._blocks()
        offsets: dict[str, int] = {}
        cursor = address
        for name in order:
            offsets[name] = cursor
            cursor += sizes[name]
        self.base = address
        self._files, self._errno = offsets["files"], offsets["errno"]
        self._mb_cur_max, self._lconv = offsets["mb_cur_max"], offsets["lconv"]
        guest.write(self._mb_cur_max, struct.pack("<i", 1))
        guest.write(self._lconv, self._c_locale(self._lconv))
        self._argv_array, self._envp_array = offsets["argv"], offsets["envp"]
        text = offsets["strings"]
        pointers = []
        for string in self._argv_strings + self._env_strings:
            guest.write(text, string + b"\0")
            pointers.append(text)
            text += len(string) + 1
        argv_pointers = pointers[: len(self._argv_strings)]
        env_pointers = pointers[len(self._argv_strings):]
        for name, pointer in zip(self.environment, env_pointers):
            self._values[name.upper()] = pointer + len(_narrow(name)) + 1
        guest.write(self._argv_array, self._pack([*argv_pointers, 0]))
        guest.write(self._envp_array, self._pack([*env_pointers, 0]))
        files = bytearray(3 * file_size(self.ptr_size))
        for number in range(3):  # the descriptor (FILE._file) of stdin, stdout, stderr
            field = 28 if self.ptr_size == 8 else 16
            struct.pack_into("<i", files, number * file_size(self.ptr_size) + field, number)
        guest.write(self._files, bytes(files))

    def _c_locale(self, address: int) -> bytes:
        """The "C" locale's struct lconv at ``address``: decimal_point ".", every other string
        empty, every char CHAR_MAX (msvcrt's fields, then the wide ones msvcrt adds after
        them; its strings are the last bytes of the block)."""
        strings = address + _LCONV_POINTERS * self.ptr_size + _LCONV_CHARS + _LCONV_WIDE * self.ptr_size
        point, empty = strings, strings + 1           # b".\0", then b"\0\0" (a wide "")
        narrow = [point] + [empty] * (_LCONV_POINTERS - 1)
        return (self._pack(narrow) + bytes([127]) * _LCONV_CHARS
                + self._pack([empty] * _LCONV_WIDE) + b".\0\0\0")

    def _pack(self, values: Sequence[int]) -> bytes:
        code = "Q" if self.ptr_size == 8 else "I"
        return struct.pack(f"<{len(values)}{code}", *values)

    @property
    def stream_array(self) -> int:
        """The guest address of stdin, stdout and stderr (``__iob_func()``, ``_iob``)."""
        self._require_placed()
        return self._files

    @property
    def mb_cur_max(self) -> int:
        """The guest address of ``__mb_cur_max`` (an int, 1)."""
        self._require_placed()
        return self._mb_cur_max

    def _require_placed(self) -> None:
        if self.base is None:
            raise RuntimeError("CRuntime.place() has not laid out the process's memory yet")

    # -- serving calls

    def call(self, function: CrtFunction, guest: Guest,
             argv: Sequence[int] | None = None) -> int | None:
        """Serve one call with its fixed arguments' raw values (None: read them with
        ``guest.arguments``); a guest fault or a bad format is the function's failure value,
        never an exception (the rest of the call's output is not written)."""
        self._require_placed()
        mask = (1 << (8 * guest.ptr_size)) - 1
        try:
            if argv is None:
                argv = guest.arguments(function.argc)
            return function.function(self, guest, [value & mask for value in argv])
        except (GuestFault, IndexError, ValueError, OverflowError) as error:
            log.warning("%s!%s failed: %s", function.dll, function.name, error)
        except Exception:  # a bug in ws2core: never the emulator's problem
            log.exception("%s!%s failed inside ws2core", function.dll, function.name)
        return function.failure

    def stream(self, file: int) -> int | None:
        """1 or 2 for the guest's stdout or stderr FILE pointer; None for anything else."""
        size = file_size(self.ptr_size)
        offset = file - self._files
        if offset in (STDOUT * size, STDERR * size):
            return offset // size
        return None

    def write(self, stream: int, data: bytes) -> None:
        if not data:
            return
        self.written[stream] += data
        if self._output is not None:
            self._output(stream, data)

    def value_of(self, name: bytes) -> int:
        """The guest address of a variable's value (after ``NAME=``), 0 if it is not set."""
        return self._values.get(name.decode("utf-8", "replace").upper(), 0)

    def formatted(self, guest: Guest, fmt: int, fixed: int, va_list: int | None) -> bytes:
        """The output of a printf-family call: its format at ``fmt``, its arguments after
        the ``fixed`` ones of a direct call, or in the ``va_list`` at that address."""
        pieces = parse_format(read_string(guest, fmt))
        specs = [piece for piece in pieces if isinstance(piece, Spec)]
        count = slots_needed(specs, self.ptr_size)
        if va_list is None:
            slots: Sequence[int] = list(guest.arguments(fixed + count))[fixed:]
        else:
            code = "Q" if self.ptr_size == 8 else "I"
            raw = guest.read(va_list, count * self.ptr_size) if count else b""
            slots = struct.unpack(f"<{count}{code}", raw)
        return format_printf(guest, pieces, VarArgs(slots, self.ptr_size))

    def print_to(self, stream: int | None, data: bytes) -> int:
        if stream is None:
            return EOF
        self.write(stream, data)
        return len(data)


_LCONV_POINTERS: Final = 10    # decimal_point ... negative_sign
_LCONV_CHARS: Final = 8        # int_frac_digits ... n_sign_posn
_LCONV_WIDE: Final = 5         # _W_decimal_point ... _W_negative_sign (msvcrt 10 on)


def _narrow(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _nonzero(address: int, what: str) -> int:
    if address == 0:
        raise ValueError(f"{what} is NULL")
    return address


# -- the command line and errno


@_serves("msvcrt", "__getmainargs", 5, failure=-1)
def _getmainargs(rt: CRuntime, g: Guest, argv: Sequence[int]) -> int:
    p_argc, p_argv, p_envp = argv[0], argv[1], argv[2]
    g.write(_nonzero(p_argc, "argc"), struct.pack("<i", len(rt.argv)))
    g.write(_nonzero(p_argv, "argv"), rt._pack([rt._argv_array]))
    g.write(_nonzero(p_envp, "envp"), rt._pack([rt._envp_array]))
    return 0


_C_SPACE: Final = b" \t\n\v\f\r"   # isspace in the "C" locale
ERANGE: Final = 34
INT_MIN, INT_MAX = -(1 << 31), (1 << 31) - 1


@_serves("msvcrt", "atoi", 1, failure=0)
def _atoi(rt: CRuntime, g: Guest, argv: Sequence[int]) -> int:
    """msvcrt's atoi: leading white space, a sign, decimal digits up to the first other
    character; a value out of an int's range is INT_MAX or INT_MIN with errno ERANGE (the
    atoi page).  (Wine's own reads msvcrt's locale, never set up under Qiling.)"""
    text = read_string(g, _nonzero(argv[0], "the string")).lstrip(_C_SPACE)
    sign = -1 if text[:1] == b"-" else 1
    digits = re.match(rb"[0-9]*", text[1:] if text[:1] in (b"-", b"+") else text)
    value = sign * int(digits.group() or b"0") if digits else 0
    if not INT_MIN <= value <= INT_MAX:
        g.write(rt._errno, struct.pack("<i", ERANGE))
        return INT_MAX if value > 0 else INT_MIN
    return value


@_serves("msvcrt", "_errno", 0, failure=0)
def _errno(rt: CRuntime, g: Guest, argv: Sequence[int]) -> int:
    return rt._errno


@_serves("msvcrt", "localeconv", 0, failure=0)
def _localeconv(rt: CRuntime, g: Guest, argv: Sequence[int]) -> int:
    return rt._lconv  # the "C" locale's: no program here calls setlocale


@_serves("msvcrt", "___lc_codepage_func", 0, failure=0)
def _lc_codepage(rt: CRuntime, g: Guest, argv: Sequence[int]) -> int:
    return 0  # the "C" locale's code page: none (msvcrt's 0, CP_ACP)


@_serves("msvcrt", "___mb_cur_max_func", 0, failure=1)
def _mb_cur_max(rt: CRuntime, g: Guest, argv: Sequence[int]) -> int:
    return 1  # the "C" locale: single-byte characters


@_serves("msvcrt", "__iob_func", 0, failure=0)
def _iob_func(rt: CRuntime, g: Guest, argv: Sequence[int]) -> int:
    return rt._files


# -- the environment


@_serves("msvcrt", "getenv", 1, failure=0)
def _getenv(rt: CRuntime, g: Guest, argv: Sequence[int]) -> int:
    return rt.value_of(read_string(g, _nonzero(argv[0], "the name")))


def _get_environment_variable(rt: CRuntime, g: Guest, argv: Sequence[int], wide: bool) -> int:
    """GetEnvironmentVariable's contract: the length without the NUL when the value fits
    (written with its NUL), the size needed with the NUL when it does not (nothing
    written), 0 and ERROR_ENVVAR_NOT_FOUND when the variable is not set; sizes in
    characters."""
    name_address, buffer, size = argv[0], argv[1], argv[2] & 0xFFFFFFFF
    name = read_string(g, _nonzero(name_address, "the name"), wide=wide)
    text = (name.decode("utf-16-le", "replace") if wide else name.decode("utf-8", "replace"))
    value = next((v for k, v in rt.environment.items() if k.upper() == text.upper()), None)
    if value is None:
        g.set_last_error(ERROR_ENVVAR_NOT_FOUND)
        return 0
    encoded = value.encode("utf-16-le") if wide else _narrow(value)
    length = len(encoded) // (2 if wide else 1)
    if size <= length:
        return length + 1
    g.write(_nonzero(buffer, "the buffer"), encoded + bytes(2 if wide else 1))
    return length


@_serves("kernel32", "GetEnvironmentVariableA", 3, failure=0, stdcall=True)
def _get_environment_variable_a(rt: CRuntime, g: Guest, argv: Sequence[int]) -> int:
    return _get_environment_variable(rt, g, argv, wide=False)


@_serves("kernel32", "GetEnvironmentVariableW", 3, failure=0, stdcall=True)
def _get_environment_variable_w(rt: CRuntime, g: Guest, argv: Sequence[int]) -> int:
    return _get_environment_variable(rt, g, argv, wide=True)


# -- the printf family


@_serves("msvcrt", "printf", 1)
def _printf(rt: CRuntime, g: Guest, argv: Sequence[int]) -> int:
    return rt.print_to(STDOUT, rt.formatted(g, _nonzero(argv[0], "the format"), 1, None))


@_serves("msvcrt", "vprintf", 2)
def _vprintf(rt: CRuntime, g: Guest, argv: Sequence[int]) -> int:
    return rt.print_to(STDOUT, rt.formatted(g, _nonzero(argv[0], "the format"), 0, argv[1]))


@_serves("msvcrt", "fprintf", 2)
def _fprintf(rt: CRuntime, g: Guest, argv: Sequence[int]) -> int:
    stream = rt.stream(argv[0])
    if stream is None:
        return EOF
    return rt.print_to(stream, rt.formatted(g, _nonzero(argv[1], "the format"), 2, None))


@_serves("msvcrt", "vfprintf", 3)
def _vfprintf(rt: CRuntime, g: Guest, argv: Sequence[int]) -> int:
    stream = rt.stream(argv[0])
    if stream is None:
        return EOF
    return rt.print_to(stream, rt.formatted(g, _nonzero(argv[1], "the format"), 0, argv[2]))


def _store(g: Guest, buffer: int, text: bytes, count: int | None) -> int:
    """sprintf's and _snprintf's result: with no ``count``, the text and its NUL; with one,
    msvcrt's _snprintf (the NUL only when it fits, and -1 when the text does not)."""
    if count is None:
        g.write(_nonzero(buffer, "the buffer"), text + b"\0")
        return len(text)
    if count == 0:
        return -1 if text else 0
    _nonzero(buffer, "the buffer")
    if len(text) < count:
        g.write(buffer, text + b"\0")
        return len(text)
    g.write(buffer, text[:count])
    return len(text) if len(text) == count else -1


@_serves("msvcrt", "sprintf", 2)
def _sprintf(rt: CRuntime, g: Guest, argv: Sequence[int]) -> int:
    return _store(g, argv[0], rt.formatted(g, _nonzero(argv[1], "the format"), 2, None), None)


@_serves("msvcrt", "vsprintf", 3)
def _vsprintf(rt: CRuntime, g: Guest, argv: Sequence[int]) -> int:
    return _store(g, argv[0], rt.formatted(g, _nonzero(argv[1], "the format"), 0, argv[2]), None)


@_serves("msvcrt", "_snprintf", 3)
def _snprintf(rt: CRuntime, g: Guest, argv: Sequence[int]) -> int:
    text = rt.formatted(g, _nonzero(argv[2], "the format"), 3, None)
    return _store(g, argv[0], text, argv[1])


@_serves("msvcrt", "_vsnprintf", 4)
def _vsnprintf(rt: CRuntime, g: Guest, argv: Sequence[int]) -> int:
    text = rt.formatted(g, _nonzero(argv[2], "the format"), 0, argv[3])
    return _store(g, argv[0], text, argv[1])


# -- the other console output


@_serves("msvcrt", "puts", 1)
def _puts(rt: CRuntime, g: Guest, argv: Sequence[int]) -> int:
    rt.write(STDOUT, read_string(g, _nonzero(argv[0], "the string")) + b"\n")
    return 0


@_serves("msvcrt", "putchar", 1)
def _putchar(rt: CRuntime, g: Guest, argv: Sequence[int]) -> int:
    rt.write(STDOUT, bytes([argv[0] & 0xFF]))
    return argv[0] & 0xFF


@_serves("msvcrt", "fputs", 2)
def _fputs(rt: CRuntime, g: Guest, argv: Sequence[int]) -> int:
    stream = rt.stream(argv[1])
    if stream is None:
        return EOF
    rt.write(stream, read_string(g, _nonzero(argv[0], "the string")))
    return 0


def _fputc(rt: CRuntime, g: Guest, argv: Sequence[int]) -> int:
    stream = rt.stream(argv[1])
    if stream is None:
        return EOF
    rt.write(stream, bytes([argv[0] & 0xFF]))
    return argv[0] & 0xFF


_serves("msvcrt", "fputc", 2)(_fputc)
_serves("msvcrt", "putc", 2)(_fputc)


@_serves("msvcrt", "fwrite", 4, failure=0)
def _fwrite(rt: CRuntime, g: Guest, argv: Sequence[int]) -> int:
    buffer, size, count, file = argv
    stream = rt.stream(file)
    if stream is None or size == 0 or count == 0:
        return 0
    whole = min(count, WRITE_LIMIT // size)  # whole items only, as fwrite counts them
    for start, length in _chunks(buffer, whole * size):
        rt.write(stream, g.read(start, length))
    return whole


def _chunks(address: int, size: int) -> Iterator[tuple[int, int]]:
    step = 1 << 16
    for offset in range(0, size, step):
        yield address + offset, min(step, size - offset)


@_serves("msvcrt", "fflush", 1)
def _fflush(rt: CRuntime, g: Guest, argv: Sequence[int]) -> int:
    return 0  # nothing is buffered: output() has every byte already


# -- msvcrt's locks


def _no_lock(rt: CRuntime, g: Guest, argv: Sequence[int]) -> None:
    """mingw's start-up takes msvcrt's lock around its exit-handler list.  The emulators run
    one guest thread at a time and the tables it guards are the emulator's, so there is
    nothing to hold; Wine's own _lock faults under Qiling 1.4.6 (it enters a critical section
    that msvcrt's initialisation, never run there, would have made)."""


_serves("msvcrt", "_lock", 1, failure=None)(_no_lock)
_serves("msvcrt", "_unlock", 1, failure=None)(_no_lock)


# -- the end of the process


def _record_exit(rt: CRuntime, g: Guest, argv: Sequence[int]) -> None:
    rt.exit_status = argv[0] & 0xFFFFFFFF


_serves("msvcrt", "exit", 1, failure=None, then_exit=True)(_record_exit)
_serves("msvcrt", "_exit", 1, failure=None, then_exit=True)(_record_exit)
_serves("kernel32", "ExitProcess", 1, failure=None, stdcall=True, then_exit=True)(_record_exit)


DATA_IMPORTS: Final[Mapping[str, str]] = {"_iob": "stream_array", "__mb_cur_max": "mb_cur_max"}
"""msvcrt's data imports served: the name -> the ``CRuntime`` attribute its import slot
must hold (the x86 build of a program reads ``stdout`` as ``&_iob[1]``)."""


__all__ = ["CRT_FUNCTIONS", "DATA_IMPORTS", "EOF", "FIELD_LIMIT", "STDERR", "STDOUT", "CRuntime",
           "CrtFunction", "Spec", "VarArgs", "file_size", "format_printf", "parse_format",
           "read_string", "slots_needed"]
