"""CEL's type conversions: ``int``, ``uint``, ``double``, ``string``, ``bytes``,
``bool``, ``duration``, ``timestamp``, ``type`` and ``dyn``.

The rules are cel-go's (which the conformance data encodes):

* ``int(double)`` truncates toward zero and is a range error unless
  ``-2**63 < x < 2**63`` (both ends exclusive, so ``int(-9223372036854775808.0)``
  fails); ``uint(double)`` needs ``0 <= x < 2**64``; NaN and infinities fail.
* ``int(uint)`` fails above ``2**63 - 1``; ``uint(int)`` fails below zero.
* ``int(string)``/``uint(string)`` accept optional sign (int only) and ASCII
  decimal digits, nothing else (no blanks, no ``_``, no ``0x``), like Go's
  ``strconv.ParseInt``/``ParseUint``.
* ``double(string)`` accepts decimal and exponent forms, ``inf``/``infinity``/
  ``nan`` in any case, and hexadecimal floats with a ``p`` exponent; a finite
  literal that overflows to infinity is a range error (Go's ``ParseFloat``).
* ``bool(string)`` accepts ``1 t T TRUE true True`` and ``0 f F FALSE false
  False`` only.
* ``string(double)`` prints like Go's ``%g`` (``values.format_double``);
  ``string(bytes)`` requires valid UTF-8; ``string(timestamp)`` is RFC 3339
  UTC; ``string(duration)`` is seconds with an ``s`` suffix.
* ``int(timestamp)`` is Unix seconds (rounded down), ``int(duration)`` and
  ``duration(int)`` nanoseconds, ``timestamp(int)`` Unix seconds.

`.flow` extensions: ``string(list)`` and ``string(map)`` give the JSON text of
the value (the same text interpolation uses), and ``float(...)`` is an alias
of ``double(...)`` (registered by ``stdlib``).
"""

from __future__ import annotations

import math
import re
from typing import Final

from flowc.common.stdlib_core import DERIVE, Overload, fn
from flowc.common.types import (
    BOOL,
    BYTES,
    DURATION,
    FLOAT,
    INT,
    JSON,
    STRING,
    TIMESTAMP,
    TYPE,
    UINT,
    A,
    B,
    ListT,
    MapT,
)
from flowc.common.values import (
    INT64_MAX,
    INT64_MIN,
    INVALID_ARGUMENT,
    RANGE,
    Duration,
    EvalError,
    Timestamp,
    UInt,
    check_size,
    decode_utf8,
    describe_text,
    format_double,
    format_duration,
    format_timestamp,
    parse_duration,
    parse_timestamp,
    to_text,
    type_of,
)

_TWO_TO_63: Final = 9_223_372_036_854_775_808.0
_TWO_TO_64: Final = 18_446_744_073_709_551_616.0

_SIGNED_DECIMAL = re.compile(r"[+-]?[0-9]+")
_UNSIGNED_DECIMAL = re.compile(r"[0-9]+")
_DECIMAL_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_HEX_FLOAT = re.compile(
    r"[+-]?0[xX](?:[0-9a-fA-F]+(?:\.[0-9a-fA-F]*)?|\.[0-9a-fA-F]+)[pP][+-]?[0-9]+"
)
_SPECIAL_FLOAT = re.compile(r"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)

_TRUE_TEXT: Final = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE_TEXT: Final = frozenset({"0", "f", "F", "FALSE", "false", "False"})


def _range_error(target: str) -> EvalError:
    return EvalError(RANGE, f"value out of {target} range")


def _conversion_error(text: str, target: str) -> EvalError:
    return EvalError(INVALID_ARGUMENT, f"cannot convert {describe_text(text)} to {target}")


def identity(value: object) -> object:
    return value


# --------------------------------------------------------------------------- int


def uint_to_int(value: UInt) -> int:
    if value > INT64_MAX:
        raise _range_error("int")
    return int(value)


def double_to_int(value: float) -> int:
    if not -_TWO_TO_63 < value < _TWO_TO_63:
        raise _range_error("int")
    return int(value)


def string_to_int(text: str) -> int:
    if _SIGNED_DECIMAL.fullmatch(text) is None:
        raise _conversion_error(text, "int")
    if len(text) > 25:
        raise _range_error("int")
    result = int(text)
    if not INT64_MIN <= result <= INT64_MAX:
        raise _range_error("int")
    return result


def timestamp_to_int(value: Timestamp) -> int:
    return value.seconds


def duration_to_int(value: Duration) -> int:
    return value.nanos


# --------------------------------------------------------------------------- uint


def int_to_uint(value: int) -> UInt:
    if value < 0:
        raise _range_error("uint")
    return UInt(value)


def double_to_uint(value: float) -> UInt:
    if not 0 <= value < _TWO_TO_64:
        raise _range_error("uint")
    return UInt(int(value))


def string_to_uint(text: str) -> UInt:
    if _UNSIGNED_DECIMAL.fullmatch(text) is None:
        raise _conversion_error(text, "uint")
    if len(text) > 25:
        raise _range_error("uint")
    result = int(text)
    if result > 2**64 - 1:
        raise _range_error("uint")
    return UInt(result)


# --------------------------------------------------------------------------- double


def int_to_double(value: int) -> float:
    return float(value)


def string_to_double(text: str) -> float:
    if _SPECIAL_FLOAT.fullmatch(text) is not None:
        return float(text)
    if _DECIMAL_FLOAT.fullmatch(text) is not None:
        if len(text) > 1000:
            raise _conversion_error(text, "double")
        result = float(text)
    elif _HEX_FLOAT.fullmatch(text) is not None:
        try:
            result = float.fromhex(text)
        except OverflowError:
            raise _range_error("double") from None
    else:
        raise _conversion_error(text, "double")
    if math.isinf(result):
        raise _range_error("double")
    return result


# --------------------------------------------------------------------------- text kinds


def int_to_string(value: int) -> str:
    return int.__repr__(value)


def bool_to_string(value: bool) -> str:
    return "true" if value else "false"


def string_to_bytes(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise EvalError(INVALID_ARGUMENT, "string is not valid Unicode") from None


def string_to_bool(text: str) -> bool:
    if text in _TRUE_TEXT:
        return True
    if text in _FALSE_TEXT:
        return False
    raise _conversion_error(text, "bool")


def aggregate_to_string(value: object) -> str:
    text = to_text(value)
    check_size(len(text), "string")
    return text


# --------------------------------------------------------------------------- time


def int_to_duration(value: int) -> Duration:
    return Duration(value)


def int_to_timestamp(value: int) -> Timestamp:
    return Timestamp.from_seconds(value)


# --------------------------------------------------------------------------- table


def overloads() -> list[Overload]:
    list_a = ListT(A)
    map_ab = MapT(A, B)
    return [
        fn("type", "type", (A,), TYPE, type_of),
        fn("to_dyn", "dyn", (A,), JSON, identity),
        fn("int64_to_int64", "int", (INT,), INT, identity),
        fn("uint64_to_int64", "int", (UINT,), INT, uint_to_int),
        fn("double_to_int64", "int", (FLOAT,), INT, double_to_int),
        fn("string_to_int64", "int", (STRING,), INT, string_to_int),
        fn("timestamp_to_int64", "int", (TIMESTAMP,), INT, timestamp_to_int),
        fn("duration_to_int64", "int", (DURATION,), INT, duration_to_int),
        fn("uint64_to_uint64", "uint", (UINT,), UINT, identity),
        fn("int64_to_uint64", "uint", (INT,), UINT, int_to_uint),
        fn("double_to_uint64", "uint", (FLOAT,), UINT, double_to_uint),
        fn("string_to_uint64", "uint", (STRING,), UINT, string_to_uint),
        fn("double_to_double", "double", (FLOAT,), FLOAT, identity),
        fn("int64_to_double", "double", (INT,), FLOAT, int_to_double),
        fn("uint64_to_double", "double", (UINT,), FLOAT, int_to_double),
        fn("string_to_double", "double", (STRING,), FLOAT, string_to_double),
        fn("string_to_string", "string", (STRING,), STRING, identity, secrets=DERIVE),
        fn("int64_to_string", "string", (INT,), STRING, int_to_string),
        fn("uint64_to_string", "string", (UINT,), STRING, int_to_string),
        fn("double_to_string", "string", (FLOAT,), STRING, format_double),
        fn("bytes_to_string", "string", (BYTES,), STRING, decode_utf8),
        fn("bool_to_string", "string", (BOOL,), STRING, bool_to_string),
        fn("timestamp_to_string", "string", (TIMESTAMP,), STRING, format_timestamp),
        fn("duration_to_string", "string", (DURATION,), STRING, format_duration),
        fn("list_to_string", "string", (list_a,), STRING, aggregate_to_string),
        fn("map_to_string", "string", (map_ab,), STRING, aggregate_to_string),
        fn("bytes_to_bytes", "bytes", (BYTES,), BYTES, identity, secrets=DERIVE),
        fn("string_to_bytes", "bytes", (STRING,), BYTES, string_to_bytes, secrets=DERIVE),
        fn("bool_to_bool", "bool", (BOOL,), BOOL, identity),
        fn("string_to_bool", "bool", (STRING,), BOOL, string_to_bool),
        fn("duration_to_duration", "duration", (DURATION,), DURATION, identity),
        fn("string_to_duration", "duration", (STRING,), DURATION, parse_duration),
        fn("int64_to_duration", "duration", (INT,), DURATION, int_to_duration),
        fn("timestamp_to_timestamp", "timestamp", (TIMESTAMP,), TIMESTAMP, identity),
        fn("string_to_timestamp", "timestamp", (STRING,), TIMESTAMP, parse_timestamp),
        fn("int64_to_timestamp", "timestamp", (INT,), TIMESTAMP, int_to_timestamp),
    ]
