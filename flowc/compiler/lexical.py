r"""Lexical decoding: number, duration and string literal tokens to values.

The grammar recognises a literal as one token; this module gives it meaning.

* Integers may use ``_`` separators and ``0x`` hex; a ``u`` suffix makes a
  uint.  Range checks happen in the checker, which knows whether a literal is
  the operand of a unary minus (``-9223372036854775808`` is a valid int).
* Durations are sums of ``<number><unit>`` parts (``1m30s``, ``1.5s``), kept
  as integer nanoseconds so that no precision is lost.
* Strings are decoded with CEL's escapes (``\n``, ``\x41``, ``\101``,
  ``\u00e9``, ``\U0001F600``; in bytes, ``\x``/octal give raw bytes) plus
  ``\$`` for a literal dollar.  Raw strings (``r"..."``) take their text
  as is.  In a non-raw, non-bytes string each ``${...}`` is handed back to the
  parser (through ``StringContext.parse_embedded``) together with its absolute
  file position, so embedded expressions get exact spans.  The result is a
  ``Literal`` when nothing was interpolated, else a ``Template`` whose parts
  alternate text and expressions.
"""

from __future__ import annotations

import re
from typing import Final, Protocol

from lark import Token

from flowc.compiler import ast, messages
from flowc.compiler.diagnostics import ParseFailure


class StringContext(Protocol):
    """What the string decoder needs from the parser that found the token."""

    file: str

    def token_span(self, token: Token) -> ast.Span: ...

    def absolute_position(self, token: Token, offset: int) -> tuple[int, int, int]: ...

    def parse_embedded(self, text: str, line: int, col: int, pos: int) -> ast.Expr: ...


DURATION_UNITS: Final = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
DURATION_PART: Final = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)")

_SIMPLE_ESCAPES: Final = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "?": "?",
    '"': '"',
    "'": "'",
    "`": "`",
    "$": "$",
}
_HEX_ESCAPE_LENGTH: Final = {"x": 2, "X": 2, "u": 4, "U": 8}
_ESCAPE_OR_DOLLAR: Final = re.compile(r"[\\$]")


#: Decimal digits read exactly: more than any 64-bit literal has.  A longer
#: number stands for ``10**MAX_DIGITS``, which the checker reports as out of
#: range, and Python is never asked to convert thousands of digits (it refuses).
MAX_DIGITS: Final = 40


def int_value(token: Token, text: str | None = None) -> int:
    digits = (text if text is not None else str(token)).replace("_", "")
    if digits[:2] in ("0x", "0X"):
        return int(digits[2:], 16)
    return _decimal(digits)


def _decimal(digits: str) -> int:
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= MAX_DIGITS else 10**MAX_DIGITS


def scaled(number: str, unit_nanos: int) -> int:
    if "." not in number:
        return _decimal(number) * unit_nanos
    whole, fraction = number.split(".")
    fraction = fraction[:MAX_DIGITS]  # far below a nanosecond
    scale: int = 10 ** len(fraction)
    return _decimal(whole) * unit_nanos + _decimal(fraction) * unit_nanos // scale


class StringDecoder:
    """Decodes one STRING token into a ``Literal`` or a ``Template``."""

    def __init__(self, builder: StringContext, token: Token) -> None:
        self.builder = builder
        self.token = token
        text = str(token)
        prefix_length = 0
        while text[prefix_length] not in "\"'":
            prefix_length += 1
        prefix = text[:prefix_length].lower()
        self.raw = "r" in prefix
        self.is_bytes = "b" in prefix
        quote_length = 3 if text[prefix_length : prefix_length + 3] in ('"""', "'''") else 1
        self.start = prefix_length + quote_length
        self.stop = len(text) - quote_length
        self.text = text

    def decode(self) -> ast.Expr:
        span = self.builder.token_span(self.token)
        body = self.text[self.start : self.stop]
        if self.raw:
            value: str | bytes = body.encode("utf-8") if self.is_bytes else body
            return ast.Literal(
                "bytes" if self.is_bytes else "string", value, raw=self.text, span=span
            )
        parts = self._parts()
        if self.is_bytes:
            return ast.Literal("bytes", self._to_bytes(parts), raw=self.text, span=span)
        if all(isinstance(p, str) for p in parts):
            return ast.Literal("string", "".join(parts), raw=self.text, span=span)  # type: ignore[arg-type]
        return ast.Template(tuple(_merge_text(parts)), raw=self.text, span=span)

    def _to_bytes(self, parts: list[str | ast.Expr | bytes]) -> bytes:
        out = bytearray()
        for part in parts:
            if isinstance(part, bytes):
                out += part
            elif isinstance(part, str):
                out += part.encode("utf-8")
        return bytes(out)

    def _parts(self) -> list[str | ast.Expr | bytes]:
        parts: list[str | ast.Expr | bytes] = []
        text, i, stop = self.text, self.start, self.stop
        run_start = i
        while i < stop:
            ch = text[i]
            if ch == "\\":
                parts.append(text[run_start:i])
                decoded, i = self._escape(i)
                parts.append(decoded)
                run_start = i
            elif ch == "$" and text.startswith("${", i) and not self.is_bytes:
                parts.append(text[run_start:i])
                expr, i = self._interpolation(i)
                parts.append(expr)
                run_start = i
            else:  # jump to the next `\` or `$`: long plain runs stay fast
                found = _ESCAPE_OR_DOLLAR.search(text, i + 1, stop)
                i = found.start() if found else stop
        parts.append(text[run_start:stop])
        return [p for p in parts if not (isinstance(p, str | bytes) and len(p) == 0)]

    def _escape(self, i: int) -> tuple[str | bytes, int]:
        text = self.text
        letter = text[i + 1] if i + 1 < len(text) else ""
        if letter in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[letter], i + 2
        if letter in _HEX_ESCAPE_LENGTH:
            return self._hex_escape(i, letter)
        if letter in "0123":
            digits = text[i + 1 : i + 4]
            if len(digits) == 3 and all(d in "01234567" for d in digits):
                return self._code_unit(int(digits, 8)), i + 4
        raise self._bad_escape(i, 2)

    def _hex_escape(self, i: int, letter: str) -> tuple[str | bytes, int]:
        length = _HEX_ESCAPE_LENGTH[letter]
        digits = self.text[i + 2 : i + 2 + length]
        if len(digits) != length or not all(d in "0123456789abcdefABCDEF" for d in digits):
            raise self._bad_escape(i, 2 + len(digits))
        value = int(digits, 16)
        if letter in "xX":
            return self._code_unit(value), i + 2 + length
        if value > 0x10FFFF or 0xD800 <= value <= 0xDFFF:
            raise self._bad_escape(i, 2 + length)
        return chr(value), i + 2 + length

    def _code_unit(self, value: int) -> str | bytes:
        return bytes([value]) if self.is_bytes else chr(value)

    def _bad_escape(self, i: int, width: int) -> ParseFailure:
        line, col, pos = self.builder.absolute_position(self.token, i)
        escape = self.text[i : i + width]
        span = ast.Span(
            self.builder.file, line, col, line, col + len(escape), pos, pos + len(escape)
        )
        return ParseFailure(messages.INVALID_ESCAPE(span, escape=escape))

    def _interpolation(self, i: int) -> tuple[ast.Expr, int]:
        end = _matching_brace(self.text, i + 2, self.stop)
        line, col, pos = self.builder.absolute_position(self.token, i + 2)
        opening = ast.Span(self.builder.file, line, col - 2, line, col, pos - 2, pos)
        if end < 0:
            quote = self.text[self.stop]
            other = "'" if quote == '"' else '"'
            raise ParseFailure(
                messages.BAD_INTERPOLATION(
                    opening,
                    problem="this `${` is never closed",
                    help=f"add the `}}`; strings inside `${{...}}` of a {quote}...{quote} string "
                    f"use {other}...{other}",
                )
            )
        inner = self.text[i + 2 : end]
        if not inner.strip():
            raise ParseFailure(
                messages.BAD_INTERPOLATION(opening, problem="`${}` holds no expression")
            )
        return self.builder.parse_embedded(inner, line, col, pos), end + 1


def _matching_brace(text: str, i: int, stop: int) -> int:
    """Index of the ``}`` closing an interpolation whose body starts at ``i``, or -1."""
    depth = 0
    quote = ""
    while i < stop:
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1


def _merge_text(parts: list[str | ast.Expr | bytes]) -> list[str | ast.Expr]:
    merged: list[str | ast.Expr] = []
    for part in parts:
        if isinstance(part, bytes):
            part = part.decode("latin-1")
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return merged


def duration_nanos(text: str) -> int:
    """The length of a duration literal such as ``1m30s``, in nanoseconds."""
    nanos = 0
    for number, unit in DURATION_PART.findall(text):
        nanos += scaled(number, DURATION_UNITS[unit])
    return nanos
