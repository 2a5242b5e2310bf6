"""String functions: CEL's ``contains``/``startsWith``/``endsWith``/``matches``
and the CEL strings extension (``charAt``, ``indexOf``, ``lastIndexOf``,
``lowerAscii``, ``upperAscii``, ``replace``, ``split``, ``substring``, ``trim``,
``join``, ``strings.quote``, ``format``, ``reverse``).

Indices count Unicode code points, which is what Python's ``str`` indexes, so
the extension's rune arithmetic maps onto slicing directly.  Offsets follow
cel-go: ``charAt(len)`` and ``substring(len)`` are allowed and give ``''``,
an ``indexOf``/``lastIndexOf`` offset must lie inside the string (except with
an empty search string, which returns the offset), ``lastIndexOf(s, off)``
finds the last match *starting* at or before ``off``.  ``split``/``replace``
with a count follow Go's ``SplitN``/``Replace`` (0: nothing, negative: all).
``trim`` removes Unicode ``White_Space`` characters exactly as Go's
``strings.TrimSpace`` does (not Python's wider ``isspace`` set).

``matches`` uses RE2 (the ``google-re2`` package): linear-time matching, so a
pattern such as ``(a+)+$`` can never hang, and RE2 syntax exactly as CEL
specifies (no backreferences or lookaround).  Compiled patterns are cached.
``regex.extract(s, re)`` and ``regex.extractAll(s, re)`` (cel-go's regex
extension names) use the same compiled patterns, so they are linear-time too:
a pattern has at most one capture group, whose text is the result (the whole
match when there is none); ``extract`` gives null when nothing matches, and
``extractAll`` leaves out matches where an optional group took no part.

``format`` implements the extension's clauses ``%s %d %f %e %b %o %x %X`` with
optional precision (``%.3f``) and ``%%``, rendering ``%s`` the way cel-go's
second formatter does (lists as ``[a, 1, null]``, maps sorted by key text,
durations as seconds, timestamps in RFC 3339).

Results that can grow (``replace``, ``join``, ``format``) are size-checked
*before* they are built.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Final

from flowc.common.stdlib_core import Overload, fn, method
from flowc.common.types import BOOL, INT, JSON, STRING, ListT, OptionalT
from flowc.common.values import (
    INVALID_ARGUMENT,
    MAX_LIST_LENGTH,
    NO_MATCHING_OVERLOAD,
    BoolKey,
    CelType,
    Duration,
    EvalError,
    Timestamp,
    UInt,
    check_size,
    describe_type,
    format_double_fixed,
    format_duration,
    format_timestamp,
)

# --------------------------------------------------------------------------- core


def contains(text: str, part: str) -> bool:
    return part in text


def starts_with(text: str, prefix: str) -> bool:
    return text.startswith(prefix)


def ends_with(text: str, suffix: str) -> bool:
    return text.endswith(suffix)


_RE2: Any = None  # (module, options), made on first use: importing RE2 costs start-up time


def _re2() -> tuple[Any, Any]:
    global _RE2
    if _RE2 is None:
        import re2  # type: ignore[import-untyped]

        options = re2.Options()
        options.log_errors = False
        _RE2 = (re2, options)
    return _RE2  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=512)
def compile_regex(pattern: str) -> object:
    """Compile an RE2 pattern (cached); a bad pattern is an ``EvalError``."""
    re2, options = _re2()
    try:
        return re2.compile(pattern, options=options)
    except re2.error as error:
        reason = error.args[0] if error.args else "syntax error"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise EvalError(INVALID_ARGUMENT, f"invalid regular expression: {reason}") from None


def matches(text: str, pattern: str) -> bool:
    """RE2 search: true if the pattern matches any substring of ``text``."""
    compiled = compile_regex(pattern)
    return compiled.search(text) is not None  # type: ignore[attr-defined]


def _capture_group(compiled: Any, function: str) -> int:
    """cel-go's rule: the one capture group, or the whole match if there is none."""
    if compiled.groups > 1:
        raise EvalError(
            INVALID_ARGUMENT, f"{function}: the pattern may have at most one capture group"
        )
    return int(compiled.groups)


def regex_extract(text: str, pattern: str) -> str | None:
    """The first match (its capture group if it has one), or null."""
    compiled: Any = compile_regex(pattern)
    group = _capture_group(compiled, "regex.extract")
    found = compiled.search(text)
    return None if found is None else found.group(group)


def regex_extract_all(text: str, pattern: str) -> list[object]:
    """Every non-overlapping match, in order; a group that took no part is left out."""
    compiled: Any = compile_regex(pattern)
    group = _capture_group(compiled, "regex.extractAll")
    result: list[object] = []
    for found in compiled.finditer(text):
        value = found.group(group)
        if value is None:
            continue
        if len(result) >= MAX_LIST_LENGTH:
            raise EvalError("limit", f"regex.extractAll: more than {MAX_LIST_LENGTH} matches")
        result.append(value)
    return result


# --------------------------------------------------------------------------- positions


def _out_of_range(index: int) -> EvalError:
    return EvalError(INVALID_ARGUMENT, f"index out of range: {index}")


def char_at(text: str, index: int) -> str:
    if index < 0 or index > len(text):
        raise _out_of_range(index)
    return text[index : index + 1]


def index_of(text: str, part: str) -> int:
    return text.find(part)


def index_of_from(text: str, part: str, offset: int) -> int:
    if not part:
        return offset
    if offset < 0 or offset >= len(text):
        raise _out_of_range(offset)
    return text.find(part, offset)


def last_index_of(text: str, part: str) -> int:
    return text.rfind(part)


def last_index_of_from(text: str, part: str, offset: int) -> int:
    if not part:
        return offset
    if offset < 0 or offset >= len(text):
        raise _out_of_range(offset)
    return text.rfind(part, 0, offset + len(part))


def substring_from(text: str, start: int) -> str:
    if start < 0 or start > len(text):
        raise _out_of_range(start)
    return text[start:]


def substring_range(text: str, start: int, end: int) -> str:
    if start > end:
        raise EvalError(INVALID_ARGUMENT, f"invalid substring range. start: {start}, end: {end}")
    if start < 0 or start > len(text):
        raise _out_of_range(start)
    if end < 0 or end > len(text):
        raise _out_of_range(end)
    return text[start:end]


# --------------------------------------------------------------------------- transforms

_ASCII_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ASCII_UPPER: Final = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
#: Go's unicode.IsSpace set (Unicode White_Space), which strings.TrimSpace uses.
WHITESPACE: Final = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def lower_ascii(text: str) -> str:
    return text.translate(_ASCII_LOWER)


def upper_ascii(text: str) -> str:
    return text.translate(_ASCII_UPPER)


def trim(text: str) -> str:
    return text.strip(WHITESPACE)


def reverse(text: str) -> str:
    return text[::-1]


def replace_all(text: str, old: str, new: str) -> str:
    return replace_count(text, old, new, -1)


def replace_count(text: str, old: str, new: str, count: int) -> str:
    if count == 0:
        return text
    if len(new) > len(old):
        occurrences = text.count(old) if old else len(text) + 1
        if count > 0:
            occurrences = min(occurrences, count)
        check_size(len(text) + occurrences * (len(new) - len(old)), "string")
    return text.replace(old, new, count if count > 0 else -1)


def split_all(text: str, separator: str) -> list[str]:
    return split_count(text, separator, -1)


def split_count(text: str, separator: str, count: int) -> list[str]:
    if count == 0:
        return []
    if separator:
        parts = text.split(separator, count - 1 if count > 0 else -1)
    elif count < 0 or count >= len(text):
        parts = list(text)
    else:
        parts = [*text[: count - 1], text[count - 1 :]]
    if len(parts) > MAX_LIST_LENGTH:
        raise EvalError("limit", f"list longer than {MAX_LIST_LENGTH} elements")
    return parts


def join(items: list[object], separator: str = "") -> str:
    total = 0
    for item in items:
        if type(item) is not str:
            raise EvalError(NO_MATCHING_OVERLOAD, f"join: element is {describe_type(item)}")
        total += len(item) + len(separator)
    check_size(total, "string")
    return separator.join(items)  # type: ignore[arg-type]


_QUOTE_ESCAPES: Final = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def quote(text: str) -> str:
    """``strings.quote``: double quotes, CEL escapes for controls, ``\\`` and ``"``."""
    check_size(2 * len(text) + 2, "string")
    pieces = ['"']
    for char in text:
        escaped = _QUOTE_ESCAPES.get(char)
        if escaped is not None:
            pieces.append(escaped)
        elif 0xD800 <= ord(char) <= 0xDFFF:
            pieces.append("\ufffd")
        else:
            pieces.append(char)
    pieces.append('"')
    return "".join(pieces)


# --------------------------------------------------------------------------- format


def _format_error(message: str) -> EvalError:
    return EvalError(INVALID_ARGUMENT, f"error during formatting: {message}")


def _is_integer(value: object) -> bool:
    return type(value) is int or type(value) is UInt


def _non_finite(value: float) -> str | None:
    if math.isfinite(value):
        return None
    return format_double_fixed(value)


def format_plain(value: object) -> str:
    """``%s`` rendering of any value (cel-go's formatter, version 2)."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[return-value]
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is UInt:
        return int.__repr__(value)
    if kind is float:
        return format_double_fixed(value)  # type: ignore[arg-type]
    if kind is bytes:
        return value.decode("utf-8", "replace")  # type: ignore[attr-defined, no-any-return]
    if value is None:
        return "null"
    if kind is Duration:
        return format_duration(value)  # type: ignore[arg-type]
    if kind is Timestamp:
        return format_timestamp(value)  # type: ignore[arg-type]
    if kind is CelType:
        return value.name  # type: ignore[attr-defined, no-any-return]
    if kind is list:
        return "[" + ", ".join(format_plain(item) for item in value) + "]"  # type: ignore[attr-defined]
    if kind is dict:
        entries = sorted(
            (format_plain(key.value if type(key) is BoolKey else key), format_plain(item))
            for key, item in value.items()  # type: ignore[attr-defined]
        )
        return "{" + ", ".join(f"{key}: {item}" for key, item in entries) + "}"
    raise _format_error(
        "string clause can only be used on strings, bools, bytes, ints, doubles, maps, lists, "
        f"types, durations, and timestamps, was given {describe_type(value)}"
    )


def _format_decimal(value: object) -> str:
    if _is_integer(value):
        return int.__repr__(value)
    if type(value) is float:
        return format_double_fixed(value)
    raise _format_error(
        f"decimal clause can only be used on ints, uints, and doubles, was given "
        f"{describe_type(value)}"
    )


def _format_number(value: object, precision: int, style: str, clause: str) -> str:
    if _is_integer(value):
        value = float(value)  # type: ignore[arg-type]
    if type(value) is not float:
        raise _format_error(
            f"{clause} clause can only be used on ints, uints, and doubles, was given "
            f"{describe_type(value)}"
        )
    special = _non_finite(value)
    if special is not None:
        return special
    check_size(precision + 400, "formatted number")
    return f"{value:.{precision}{style}}"


def _format_binary(value: object) -> str:
    if type(value) is bool:
        return "1" if value else "0"
    if _is_integer(value):
        return format(int(value), "b")  # type: ignore[call-overload]
    raise _format_error(
        f"only ints, uints, and bools can be formatted as binary, was given {describe_type(value)}"
    )


def _format_octal(value: object) -> str:
    if _is_integer(value):
        return format(int(value), "o")  # type: ignore[call-overload]
    raise _format_error(
        f"octal clause can only be used on ints and uints, was given {describe_type(value)}"
    )


def _format_hex(value: object, upper: bool) -> str:
    if _is_integer(value):
        text = format(int(value), "x")  # type: ignore[call-overload]
    elif type(value) is str:
        text = value.encode("utf-8", "replace").hex()
    elif type(value) is bytes:
        text = value.hex()
    else:
        raise _format_error(
            "only ints, uints, bytes, and strings can be formatted as hex, was given "
            f"{describe_type(value)}"
        )
    return text.upper() if upper else text


def _format_clause(verb: str, precision: int | None, value: object) -> str:
    digits = 6 if precision is None else precision
    if verb == "s":
        return format_plain(value)
    if verb == "d":
        return _format_decimal(value)
    if verb == "f":
        return _format_number(value, digits, "f", "fixed-point")
    if verb == "e":
        return _format_number(value, digits, "e", "scientific")
    if verb == "b":
        return _format_binary(value)
    if verb == "o":
        return _format_octal(value)
    if verb in "xX":
        return _format_hex(value, verb == "X")
    raise EvalError(
        INVALID_ARGUMENT,
        f'could not parse formatting clause: unrecognized formatting clause "{verb}"',
    )


def _parse_precision(template: str, position: int) -> tuple[int | None, int]:
    """Parse ``.digits`` at ``position``; return (precision, next position)."""
    if position >= len(template) or template[position] != ".":
        return None, position
    end = position + 1
    while end < len(template) and template[end].isascii() and template[end].isdigit():
        end += 1
    if end >= len(template):
        raise EvalError(INVALID_ARGUMENT, "could not find end of precision specifier")
    if end == position + 1 or end - position > 4:
        raise EvalError(INVALID_ARGUMENT, "invalid precision specifier")
    return int(template[position + 1 : end]), end


def format_string(template: str, args: list[object]) -> str:
    """The strings extension's ``template.format([args])``."""
    pieces: list[str] = []
    size = 0
    position = 0
    next_arg = 0
    while position < len(template):
        percent = template.find("%", position)
        if percent < 0:
            pieces.append(template[position:])
            break
        pieces.append(template[position:percent])
        if template.startswith("%%", percent):
            pieces.append("%")
            position = percent + 2
            continue
        if percent + 1 >= len(template):
            raise EvalError(INVALID_ARGUMENT, "unexpected end of string")
        if next_arg >= len(args):
            raise EvalError(INVALID_ARGUMENT, f"index {next_arg} out of range")
        precision, position = _parse_precision(template, percent + 1)
        piece = _format_clause(template[position], precision, args[next_arg])
        size += len(piece)
        check_size(size + len(template), "formatted string")
        pieces.append(piece)
        position += 1
        next_arg += 1
    return "".join(pieces)


# --------------------------------------------------------------------------- table


def overloads() -> list[Overload]:
    list_string = ListT(STRING)
    return [
        method("contains_string", "contains", (STRING, STRING), BOOL, contains),
        method("starts_with_string", "startsWith", (STRING, STRING), BOOL, starts_with),
        method("ends_with_string", "endsWith", (STRING, STRING), BOOL, ends_with),
        fn("matches", "matches", (STRING, STRING), BOOL, matches),
        method("matches_string", "matches", (STRING, STRING), BOOL, matches),
        fn("regex_extract", "regex.extract", (STRING, STRING), OptionalT(STRING), regex_extract),
        fn(
            "regex_extract_all",
            "regex.extractAll",
            (STRING, STRING),
            list_string,
            regex_extract_all,
        ),
        method("string_char_at_int", "charAt", (STRING, INT), STRING, char_at),
        method("string_index_of_string", "indexOf", (STRING, STRING), INT, index_of),
        method("string_index_of_string_int", "indexOf", (STRING, STRING, INT), INT, index_of_from),
        method("string_last_index_of_string", "lastIndexOf", (STRING, STRING), INT, last_index_of),
        method(
            "string_last_index_of_string_int",
            "lastIndexOf",
            (STRING, STRING, INT),
            INT,
            last_index_of_from,
        ),
        method("string_lower_ascii", "lowerAscii", (STRING,), STRING, lower_ascii),
        method("string_upper_ascii", "upperAscii", (STRING,), STRING, upper_ascii),
        method(
            "string_replace_string_string", "replace", (STRING, STRING, STRING), STRING, replace_all
        ),
        method(
            "string_replace_string_string_int",
            "replace",
            (STRING, STRING, STRING, INT),
            STRING,
            replace_count,
        ),
        method("string_split_string", "split", (STRING, STRING), list_string, split_all),
        method("string_split_string_int", "split", (STRING, STRING, INT), list_string, split_count),
        method("string_substring_int", "substring", (STRING, INT), STRING, substring_from),
        method(
            "string_substring_int_int", "substring", (STRING, INT, INT), STRING, substring_range
        ),
        method("string_trim", "trim", (STRING,), STRING, trim),
        method("string_reverse", "reverse", (STRING,), STRING, reverse),
        method("list_join", "join", (list_string,), STRING, join),
        method("list_join_string", "join", (list_string, STRING), STRING, join),
        fn("strings_quote", "strings.quote", (STRING,), STRING, quote),
        method("string_format", "format", (STRING, ListT(JSON)), STRING, format_string),
    ]
