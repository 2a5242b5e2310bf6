"""Values as text and JSON: ``string(x)``, ``"${x}"``, ``json_encode`` and back.

``to_text`` is the text a value interpolates as (``"${x}"``) and what
``string(x)`` returns: ints in decimal, doubles the way CEL (Go's ``%g``)
prints them (``1e+06``, ``0.0045``, ``+Inf``), bytes decoded as UTF-8,
durations as seconds (``90s``, ``1.5s``), timestamps in RFC 3339 UTC, lists
and maps as compact JSON.  ``to_json`` maps values to JSON-ready Python
objects (durations and timestamps as their text, bytes as base64, non-finite
doubles as ``"NaN"``/``"Infinity"``, map keys as their text); ``from_json``
maps parsed JSON back (integral source numbers stay ``int``, others are
``float``; integers outside int64 become ``float``), and ``parse_json`` parses
JSON text, rejecting the ``NaN``/``Infinity`` literals Python would accept.

Numbers from outside.  ``load_json`` is the one JSON reader for text that comes
from outside (response bodies, ``json_decode``, ``--input``).  Python's ``int()``
refuses integers of more than 4,300 digits (with a message about
``sys.set_int_max_str_digits``); ``load_json`` reads those as doubles, in
linear time, and a number that no double can hold (a 400-digit integer,
``1e400``) is a ``NumberOutOfRange`` error, never an ``OverflowError``.
``from_json`` applies the same rule to parsed values (an int too large for a
double, an infinite float) and the value caps to strings, lists and maps
(``MAX_SIZE``, ``MAX_LIST_LENGTH``), so a decoded body is bounded like any
value an expression makes.

Doubles.  ``format_double`` takes the shortest decimal digits that round-trip
(Python's ``repr``) and places the point as Go's ``strconv.FormatFloat(v,
'g', -1)`` does: exponent form below 1e-4 and from 1e+06 on.
``format_double_fixed`` always writes positional digits (Go's ``'f', -1``).

Secrets never leak by accident: ``to_text``/``to_json`` write ``REDACTED`` in
place of a ``Secret`` unless the caller asks for ``reveal_secrets=True`` (only
the HTTP layer does, through ``to_json(..., reveal_secrets=True)``), and
``interpolate`` turns any interpolation that touches a secret into a new
``Secret``.  Revealed, a secret holding bytes renders as bytes do: base64 in
JSON, its UTF-8 text in text.

Bounds.  Rendering counts its output as it goes (a ``_Budget`` of
``MAX_SIZE`` characters) and refuses values nested deeper than ``MAX_DEPTH``,
so shared sub-values (``[x, x, x]`` nested repeatedly) cannot expand
exponentially and deep values raise ``EvalError("limit")`` rather than a
``RecursionError``.

The value classes come from ``values_core.py``; ``values.py`` re-exports
every public name here.
"""

from __future__ import annotations

import base64
import json
import math
import sys
from collections.abc import Sequence
from typing import Final, NoReturn, TypeAlias

from flowc.common.values_core import (
    INT64_MAX,
    INT64_MIN,
    INVALID_ARGUMENT,
    LIMIT,
    MAX_DEPTH,
    MAX_LIST_LENGTH,
    MAX_SIZE,
    RANGE,
    REDACTED,
    TYPE_ERROR,
    BoolKey,
    CelType,
    Duration,
    EvalError,
    Secret,
    Timestamp,
    UInt,
    format_duration,
    format_timestamp,
)

# --------------------------------------------------------------------------- doubles


def _shortest_digits(value: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of a finite non-zero ``abs(value)``
    and the number of them that stand before the decimal point."""
    import decimal  # on first use (start-up time)

    _, digit_tuple, exponent = decimal.Decimal(repr(abs(value))).as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exponent
    return digits.rstrip("0"), point


def format_double(value: float) -> str:
    """A double the way CEL prints it (Go's ``strconv.FormatFloat(v, 'g', -1)``):
    shortest digits, exponent form below 1e-4 and from 1e+06 on."""
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign = "-" if value < 0 else ""
    digits, point = _shortest_digits(value)
    exponent = point - 1
    if exponent < -4 or exponent >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    return sign + _place_point(digits, point)


def format_double_fixed(value: float) -> str:
    """Shortest digits always in positional form (Go's ``'f', -1``); non-finite
    values as ``NaN``/``Infinity``/``-Infinity``."""
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign = "-" if value < 0 else ""
    digits, point = _shortest_digits(value)
    return sign + _place_point(digits, point)


def _place_point(digits: str, point: int) -> str:
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


# --------------------------------------------------------------------------- text


class _Budget:
    """Counts rendered output so that rendering stays bounded."""

    __slots__ = ("remaining", "reveal", "saw_secret")

    def __init__(self, reveal: bool) -> None:
        self.remaining = MAX_SIZE
        self.saw_secret = False
        self.reveal = reveal

    def spend(self, amount: int) -> None:
        self.remaining -= amount
        if self.remaining < 0:
            raise EvalError(LIMIT, f"rendered value larger than {MAX_SIZE} characters")


def decode_utf8(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise EvalError(INVALID_ARGUMENT, "bytes are not valid UTF-8") from None


def _scalar_text(value: object, budget: _Budget) -> str | None:
    """Text of a non-container value, or ``None`` for lists and maps."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[return-value]
    if kind is int or kind is UInt:
        return int.__repr__(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is float:
        return format_double(value)  # type: ignore[arg-type]
    if kind is bytes:
        return decode_utf8(value)  # type: ignore[arg-type]
    if kind is Duration:
        return format_duration(value)  # type: ignore[arg-type]
    if kind is Timestamp:
        return format_timestamp(value)  # type: ignore[arg-type]
    if kind is CelType:
        return value.name  # type: ignore[attr-defined, no-any-return]
    if kind is Secret:
        budget.saw_secret = True
        if not budget.reveal:
            return REDACTED
        revealed = value.reveal()  # type: ignore[attr-defined]
        return revealed if type(revealed) is str else decode_utf8(revealed)
    if kind is list or kind is dict:
        return None
    raise EvalError(TYPE_ERROR, f"not a .flow value: {kind.__name__}")


def _render_text(value: object, budget: _Budget) -> str:
    text = _scalar_text(value, budget)
    if text is None:
        return _dump_json(_json_of(value, budget, 0))
    budget.spend(len(text))
    return text


def to_text(value: object) -> str:
    """The text form of a value (interpolation and ``string()``); secrets show
    as ``REDACTED``."""
    if type(value) is str:
        return value
    return _render_text(value, _Budget(reveal=False))


def contains_secret(value: object) -> bool:
    """Whether a secret occurs anywhere in the value."""
    kind = type(value)
    if kind is Secret:
        return True
    if kind is list:
        return any(contains_secret(item) for item in value)  # type: ignore[attr-defined]
    if kind is dict:
        return any(contains_secret(item) for item in value.values())  # type: ignore[attr-defined]
    return False


def interpolate(parts: Sequence[object]) -> str | Secret:
    """Join literal text and values as ``"a${x}b"`` does.  If any value is
    (or contains) a secret, the result is a ``Secret`` holding the real text."""
    budget = _Budget(reveal=True)
    pieces = [_render_text(part, budget) for part in parts]
    text = "".join(pieces)
    if budget.saw_secret:
        return Secret(text)
    return text


# --------------------------------------------------------------------------- JSON

JsonValue: TypeAlias = bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None


def _json_of(value: object, budget: _Budget, depth: int) -> JsonValue:
    if depth > MAX_DEPTH:
        raise EvalError(LIMIT, f"value nested deeper than {MAX_DEPTH} levels")
    budget.spend(1)
    kind = type(value)
    if kind is str:
        budget.spend(len(value))  # type: ignore[arg-type]
        return value  # type: ignore[return-value]
    if kind is bool or kind is int or value is None:
        return value  # type: ignore[return-value]
    if kind is UInt:
        return int(value)  # type: ignore[call-overload, no-any-return]
    if kind is float:
        if math.isfinite(value):  # type: ignore[arg-type]
            return value  # type: ignore[return-value]
        return format_double_fixed(value)  # type: ignore[arg-type]
    if kind is list:
        return [_json_of(item, budget, depth + 1) for item in value]  # type: ignore[attr-defined]
    if kind is dict:
        return {
            _json_key(key, budget): _json_of(item, budget, depth + 1)
            for key, item in value.items()  # type: ignore[attr-defined]
        }
    if kind is Secret and budget.reveal and value.is_bytes:  # type: ignore[attr-defined]
        budget.saw_secret = True
        value, kind = value.reveal(), bytes  # type: ignore[attr-defined]
    if kind is bytes:
        budget.spend(len(value) * 4 // 3)  # type: ignore[arg-type]
        return base64.b64encode(value).decode("ascii")  # type: ignore[arg-type]
    text = _scalar_text(value, budget)
    assert text is not None
    return text


def _json_key(key: object, budget: _Budget) -> str:
    if type(key) is str:
        return key
    if type(key) is BoolKey:
        return "true" if key.value else "false"
    text = _scalar_text(key, budget)
    assert text is not None
    return text


def to_json(value: object, *, reveal_secrets: bool = False) -> JsonValue:
    """A JSON-ready Python object for ``value``.

    Durations and timestamps become their CEL text, bytes base64, NaN and the
    infinities ``"NaN"``/``"Infinity"``/``"-Infinity"``, map keys their text.
    Secrets become ``REDACTED`` unless ``reveal_secrets`` (the HTTP layer
    building a request body).
    """
    return _json_of(value, _Budget(reveal=reveal_secrets), 0)


def _dump_json(value: JsonValue) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def json_text(value: object, *, reveal_secrets: bool = False) -> str:
    """Compact JSON text of a value (``json_encode``)."""
    return _dump_json(to_json(value, reveal_secrets=reveal_secrets))


def from_json(value: object, depth: int = 0) -> object:
    """A `.flow` value from a parsed JSON document (``json.loads`` output).

    Integers stay ``int`` when they fit in int64 and become ``float`` otherwise;
    tuples are accepted as arrays.  Anything that is not JSON is a type error.
    """
    if depth > MAX_DEPTH:
        raise EvalError(LIMIT, f"JSON nested deeper than {MAX_DEPTH} levels")
    kind = type(value)
    if kind is bool or value is None:
        return value
    if kind is str:
        if len(value) > MAX_SIZE:  # type: ignore[arg-type]
            raise EvalError(LIMIT, f"JSON string longer than {MAX_SIZE} characters")
        return value
    if kind is float:
        if value in _INFINITIES:
            raise EvalError(RANGE, NumberOutOfRange.MESSAGE)
        return value
    if kind is int:
        return value if INT64_MIN <= value <= INT64_MAX else _wide_int(value)  # type: ignore[operator, arg-type]
    if kind is list or kind is tuple:
        if len(value) > MAX_LIST_LENGTH:  # type: ignore[arg-type]
            raise EvalError(LIMIT, f"JSON array longer than {MAX_LIST_LENGTH} elements")
        return [from_json(item, depth + 1) for item in value]  # type: ignore[attr-defined]
    if kind is dict:
        if len(value) > MAX_LIST_LENGTH:  # type: ignore[arg-type]
            raise EvalError(LIMIT, f"JSON object with more than {MAX_LIST_LENGTH} members")
        result: dict[object, object] = {}
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str:
                raise EvalError(TYPE_ERROR, "JSON object keys must be strings")
            result[key] = from_json(item, depth + 1)
        return result
    raise EvalError(TYPE_ERROR, f"not a JSON value: {kind.__name__}")


_INFINITIES: Final = (math.inf, -math.inf)


def _wide_int(value: int) -> float:
    """An integer outside int64 as the double nearest to it (``from_json``'s rule)."""
    try:
        return float(value)
    except OverflowError:
        raise EvalError(RANGE, NumberOutOfRange.MESSAGE) from None


class NumberOutOfRange(ValueError):
    """A JSON number that no double can hold (``1e400``, a 400-digit integer)."""

    MESSAGE: Final = "a number out of the range of double (larger than about 1.8e308)"

    def __init__(self) -> None:
        super().__init__(self.MESSAGE)


class _NotJson(ValueError):
    """A ``NaN``/``Infinity`` literal, which Python's parser accepts and JSON does not."""


def _reject_constant(name: str) -> NoReturn:
    raise _NotJson(f"{name} is not valid JSON")


def _wide_json_int(text: str) -> int | float:
    """A JSON integer's value; one longer than any 64-bit integer is read as a double."""
    if len(text) <= _LONGEST_INT64_TEXT:
        return int(text)
    number = float(text)  # linear time, no digit limit
    if number in _INFINITIES:
        raise NumberOutOfRange()
    return number


_LONGEST_INT64_TEXT: Final = 20
"""Characters of the longest 64-bit integer (``-9223372036854775808``, 20 digits unsigned)."""
_PYTHON_DIGIT_LIMIT: Final = 4300
"""CPython's default ``sys.get_int_max_str_digits()``."""
_PLAIN_DECODER: Final = json.JSONDecoder(parse_constant=_reject_constant)
_WIDE_DECODER: Final = json.JSONDecoder(parse_constant=_reject_constant, parse_int=_wide_json_int)


def load_json(text: str) -> object:
    """``json.loads`` for text from outside, with the number rules above.

    Raises ``json.JSONDecodeError`` for malformed text, ``NumberOutOfRange``, a
    ``ValueError`` for ``NaN``/``Infinity`` and ``RecursionError`` for deep nesting.
    The plain C decoder reads the common document; Python's own limit on ``int()``
    (4,300 digits) keeps its cost linear, and a document it refuses is read again
    with a hook per integer.  Where an embedder lifted that limit, every document
    is read with the hook.
    """
    if not 0 < sys.get_int_max_str_digits() <= _PYTHON_DIGIT_LIMIT:
        return _WIDE_DECODER.decode(text)
    try:
        return _PLAIN_DECODER.decode(text)
    except (json.JSONDecodeError, _NotJson):
        raise
    except ValueError:  # an integer longer than int() converts
        return _WIDE_DECODER.decode(text)


def parse_json(text: str) -> object:
    """Parse JSON text into a `.flow` value (``json_decode``)."""
    try:
        document = load_json(text)
    except RecursionError:
        raise EvalError(LIMIT, "JSON nested too deeply") from None
    except NumberOutOfRange as error:
        raise EvalError(RANGE, str(error)) from None
    except ValueError as error:
        reason = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
        where = f" at offset {error.pos}" if isinstance(error, json.JSONDecodeError) else ""
        raise EvalError(INVALID_ARGUMENT, f"invalid JSON: {reason}{where}") from None
    return from_json(document)
