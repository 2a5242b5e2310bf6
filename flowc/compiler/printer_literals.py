r"""Spelling literals: numbers, durations, strings and bytes as `.flow` source.

The printer asks this module how to write a literal value so that the parser
reads back exactly the same value (the round-trip ``parse(print(t)) == t``).

Numbers.  Ints print in decimal, uints with a ``u`` suffix, floats with
``repr`` (shortest text that reads back to the same double, and always with a
``.`` or an exponent so it stays a float: ``1.0``, ``1e-07``); infinity is
``1e999``, which the parser reads as infinity.  A NaN has no spelling and is
refused.  A *negative* literal value is never produced by the parser (``-5``
parses as a unary minus applied to ``5``); this module spells it with a
leading ``-`` and reports it as negative so that the printer gives it the
precedence of a unary expression.  Reading it back therefore yields
``Unary("-", Literal(5))``: the same value, a different (canonical) tree.

Durations print as a sum of units from hours down to nanoseconds
(``1m30s``, ``250ms``, ``0s``).

Strings.  Canonical form: a single-line string in double quotes, or single
quotes when the text contains ``"`` but no ``'``.  Backslash, the quote, and
control characters are escaped (``\n``, ``\t``, ``\x00``, ``\u200b``), and
inside ``${...}`` so are the quotes of the enclosing strings;
everything else printable is written as is.  ``$`` is escaped when a ``{``
follows it, since ``${`` would start an interpolation.  Triple-quoted text
keeps its newlines and escapes a quote only where it would end the string.
Bytes print printable ASCII as is and every other byte as ``\xNN``.

Source spelling.  A literal parsed from a file remembers its text (``raw``);
it is reused when re-parsing it gives back the same literal, so ``0x1F``,
``1_000``, ``1e-3``, ``90s``, raw strings ``r"\d+"`` and triple-quoted strings
survive formatting.  For ordinary strings only the escapes survive: the quote
kind is normalised to the canonical one.
"""

from __future__ import annotations

import math
from typing import Final

from flowc.compiler import ast
from flowc.compiler.diagnostics import ParseFailure

_ESCAPES: Final = {
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\v": "\\v",
}
_BYTE_ESCAPES: Final = {ord(k): v for k, v in _ESCAPES.items()}

DURATION_UNITS: Final = (
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
)


# --------------------------------------------------------------------------- numbers


def number_text(literal: ast.Literal) -> str:
    """The canonical spelling of an int, uint or float literal (maybe with a ``-``)."""
    value = literal.value
    if literal.kind == "uint":
        assert isinstance(value, int)
        return f"-{-value}u" if value < 0 else f"{value}u"
    if literal.kind == "float":
        assert isinstance(value, float | int)
        return _float_text(float(value))
    assert isinstance(value, int)
    return str(value)


def _float_text(value: float) -> str:
    if math.isnan(value):
        raise ValueError("NaN has no spelling in .flow source")
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    magnitude = abs(value)
    return sign + ("1e999" if math.isinf(magnitude) else repr(magnitude))


def duration_text(nanos: int) -> str:
    """``90_000_000_000`` -> ``1m30s``; a negative length gets a leading ``-``."""
    if nanos < 0:
        return "-" + duration_text(-nanos)
    parts = []
    for unit, size in DURATION_UNITS:
        count, nanos = divmod(nanos, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


# --------------------------------------------------------------------------- strings


def preferred_quote(texts: list[str]) -> str:
    """``"`` unless the text holds ``"`` and no ``'``."""
    joined = "".join(texts)
    return "'" if '"' in joined and "'" not in joined else '"'


def other_quote(quote: str) -> str:
    return "'" if quote == '"' else '"'


def escape_text(
    text: str, quote: str, *, triple: bool = False, at_end: bool = True, also: str = ""
) -> str:
    """``text`` as the body of a string in ``quote``; ``at_end``: nothing follows it.

    ``also`` lists further quote characters to escape: those of the strings
    that enclose this one, when it is written inside ``${...}``.
    """
    out: list[str] = []
    last = len(text) - 1
    for i, ch in enumerate(text):
        if ch == "\n" and triple:
            out.append(ch)
        elif ch in _ESCAPES and not (triple and ch == "\t"):
            out.append(_ESCAPES[ch])
        elif ch in also or (
            ch == quote and _quote_needs_escape(text, i, triple, at_end and i == last)
        ):
            out.append("\\" + ch)
        elif ch == "$" and text.startswith("{", i + 1):
            out.append("\\$")
        elif not ch.isprintable() and not (triple and ch == "\t"):
            out.append(_unicode_escape(ch))
        else:
            out.append(ch)
    return "".join(out)


def _quote_needs_escape(text: str, i: int, triple: bool, is_last: bool) -> bool:
    if not triple:
        return True
    return is_last or text.startswith(text[i], i + 1)


def _unicode_escape(ch: str) -> str:
    code = ord(ch)
    if 0xD800 <= code <= 0xDFFF:
        raise ValueError("a lone surrogate cannot be written in a .flow string")
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def string_text(value: str, quote: str, also: str = "") -> str:
    return quote + escape_text(value, quote, also=also) + quote


def bytes_text(value: bytes, quote: str, also: str = "") -> str:
    escaped = {ord(c) for c in quote + also}
    out: list[str] = []
    for i, byte in enumerate(value):
        if byte in _BYTE_ESCAPES:
            out.append(_BYTE_ESCAPES[byte])
        elif byte in escaped or (byte == ord("$") and value[i + 1 : i + 2] == b"{"):
            out.append("\\" + chr(byte))
        elif 0x20 <= byte < 0x7F:
            out.append(chr(byte))
        else:
            out.append(f"\\x{byte:02x}")
    return "b" + quote + "".join(out) + quote


def bytes_quote(value: bytes) -> str:
    return "'" if b'"' in value and b"'" not in value else '"'


# --------------------------------------------------------------------------- source spelling


def reusable_raw(node: ast.Literal | ast.DurationLit, *, from_parser: bool = False) -> str | None:
    """The literal's source text, when it is still an acceptable spelling of it.

    A spelling is re-parsed to prove it still means the node's value (trees made
    or edited by program can carry any ``raw``), unless ``from_parser`` says the
    node came straight from the parser, where it reads back by construction.
    """
    raw = node.raw
    if raw is None or not raw or raw[0] == "-":
        return None
    is_string = isinstance(node, ast.Literal) and node.kind in ("string", "bytes")
    if is_string and not _string_raw_acceptable(raw, node):  # type: ignore[arg-type]
        return None
    return raw if from_parser or _reads_back(raw, node) else None


def _string_raw_acceptable(raw: str, node: ast.Literal) -> bool:
    body = raw.lstrip("rb")
    if raw[: len(raw) - len(body)] not in ("", "r", "b", "rb", "br"):
        return False
    if body.startswith(('"""', "'''")) or "r" in raw[:2]:
        return True
    if isinstance(node.value, bytes):
        return body[0] == bytes_quote(node.value)
    return body[0] == preferred_quote([str(node.value)])


def _reads_back(raw: str, node: ast.Expr) -> bool:
    from flowc.compiler.parser import parse_expression  # only the formatter needs this

    try:
        return parse_expression(raw) == node
    except ParseFailure:
        return False
