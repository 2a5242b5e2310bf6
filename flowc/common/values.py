"""Run-time values of `.flow` expressions: the model, maps, equality and ordering.

This module is the public face of the value model: every name of it is
imported from here (``from flowc.common.values import Duration, to_text``).
It is split in three layers, each with its own essay:

* ``values_core.py``: the representation (which Python object stands for
  which CEL value; ``UInt``, ``Duration``, ``Timestamp``, ``CelType``,
  ``Secret``, ``BoolKey``), the limits and ``EvalError``;
* ``values_text.py``: text and JSON (``to_text``, ``interpolate``,
  ``to_json``, ``json_text``, ``from_json``, ``parse_json``, the formatting
  of doubles);
* this module: the operations below, plus a re-export of both layers.

Maps
====

A CEL map may have ``int``, ``uint``, ``bool`` and ``string`` keys, with
numeric keys compared by value across ``int``/``uint``, and lookups by an
integral ``double`` finding the numeric key (``{1u: 'a'}[1.0]``).  A plain
``dict`` gives all of this for free -- Python's ``1 == 1.0 == UInt(1)`` with
equal hashes -- except for ``bool``: ``True == 1`` in Python, so
``{true: 1, 1: 2}`` would collapse into one entry.  Boolean keys are therefore
*stored* as the two singletons ``TRUE_KEY``/``FALSE_KEY`` (``BoolKey``), which
equal nothing but themselves.  The common case, a string-keyed map or record,
is an ordinary ``dict`` with no wrapping at all, so field access is one dict
lookup.  Code that iterates map keys must unwrap them with ``user_key`` (or
use ``map_keys``/``map_items``); code that looks keys up should use
``map_lookup``/``map_contains``, or may index the dict directly with a ``str``.
``build_map`` validates key kinds and rejects repeated keys (``{0: 1, 0u: 2}``).

Equality and ordering
=====================

``equals`` is CEL's heterogeneous equality: numbers compare by value across
``int``/``uint``/``double``, lists and maps compare deeply, and values of
different kinds are simply unequal.  ``int`` against ``uint`` is exact; an
integer against a ``double`` is compared *after converting the integer to a
double*, as cel-spec's conformance data requires (its cases named
``..._lossy_double``: ``9223372036854775807 < 9223372036854775808.0`` is false
and ``>=`` is true).  Equality uses the same rule, so the ordering laws
(``a <= b`` iff ``a < b || a == b``) hold.  ``NaN`` equals nothing.  Map *lookups*
stay exact (a ``dict`` lookup): ``{9223372036854775807: 1}[9223372036854775808.0]``
is a missing key although the two numbers compare equal -- a corner case that
only arises above 2**53.
Comparing a ``Secret`` with anything is an error: an answer would say something
about it (the checker refuses such comparisons before a flow runs).
``compare`` orders numbers across kinds and same-kind strings, bytes, bools,
durations and timestamps; anything else is a ``no matching overload`` error.

Types, messages and bounds
==========================

``type_of`` is CEL's ``type(x)``; ``describe_type`` names a value's `.flow`
type for messages.  Error messages describe values through ``describe_value``,
which redacts secrets and truncates long text.  Results are bounded: a string,
bytes or list longer than ``MAX_SIZE`` / ``MAX_LIST_LENGTH`` is an
``EvalError("limit")`` (``check_str``, ``check_bytes``, ``check_list``,
``check_size``) rather than a memory blow-up; rendering bounds itself the same
way (``values_text.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Final, NoReturn

from flowc.common.values_core import (
    BOOL_TYPE,
    BYTES_TYPE,
    DIVISION_BY_ZERO,
    DOUBLE_TYPE,
    DURATION_MAX_NANOS,
    DURATION_MIN_NANOS,
    DURATION_TYPE,
    ENVIRONMENT,
    FALSE_KEY,
    FLOW_TYPE_NAMES,
    INT64_MAX,
    INT64_MIN,
    INT_TYPE,
    INVALID_ARGUMENT,
    LIMIT,
    LIST_TYPE,
    MAP_TYPE,
    MAX_DEPTH,
    MAX_LIST_LENGTH,
    MAX_SIZE,
    NANOS_PER_SECOND,
    NO_MATCHING_OVERLOAD,
    NO_SUCH_KEY,
    NULL_TYPE,
    OVERFLOW,
    PRIM_TYPE_VALUES,
    RANGE,
    REDACTED,
    SECRET_TYPE,
    SIZE_SYNTAX,
    STRING_TYPE,
    TIMESTAMP_MAX_NANOS,
    TIMESTAMP_MIN_NANOS,
    TIMESTAMP_TYPE,
    TRUE_KEY,
    TYPE_ERROR,
    TYPE_IDENTIFIERS,
    TYPE_TYPE,
    UINT64_MAX,
    UINT_TYPE,
    BoolKey,
    CelType,
    Duration,
    EvalError,
    Secret,
    Timestamp,
    UInt,
    bool_key,
    check_int,
    date_to_days,
    days_to_date,
    describe_text,
    fail,
    format_duration,
    format_timestamp,
    parse_byte_size,
    parse_duration,
    parse_timestamp,
)
from flowc.common.values_text import (
    JsonValue,
    NumberOutOfRange,
    contains_secret,
    decode_utf8,
    format_double,
    format_double_fixed,
    from_json,
    interpolate,
    json_text,
    load_json,
    parse_json,
    to_json,
    to_text,
)

__all__ = [
    "BOOL_TYPE",
    "BYTES_TYPE",
    "DIVISION_BY_ZERO",
    "DOUBLE_TYPE",
    "DURATION_MAX_NANOS",
    "DURATION_MIN_NANOS",
    "DURATION_TYPE",
    "ENVIRONMENT",
    "FALSE_KEY",
    "FLOW_TYPE_NAMES",
    "INT64_MAX",
    "INT64_MIN",
    "INT_TYPE",
    "INVALID_ARGUMENT",
    "LIMIT",
    "LIST_TYPE",
    "MAP_TYPE",
    "MAX_DEPTH",
    "MAX_LIST_LENGTH",
    "MAX_SIZE",
    "NANOS_PER_SECOND",
    "NO_MATCHING_OVERLOAD",
    "NO_SUCH_KEY",
    "NULL_TYPE",
    "OVERFLOW",
    "PRIM_TYPE_VALUES",
    "RANGE",
    "REDACTED",
    "SECRET_TYPE",
    "SIZE_SYNTAX",
    "STRING_TYPE",
    "TIMESTAMP_MAX_NANOS",
    "TIMESTAMP_MIN_NANOS",
    "TIMESTAMP_TYPE",
    "TRUE_KEY",
    "TYPE_ERROR",
    "TYPE_IDENTIFIERS",
    "TYPE_TYPE",
    "UINT64_MAX",
    "UINT_TYPE",
    "BoolKey",
    "CelType",
    "Duration",
    "EvalError",
    "JsonValue",
    "NumberOutOfRange",
    "Secret",
    "Timestamp",
    "UInt",
    "bool_key",
    "build_map",
    "check_bytes",
    "check_int",
    "check_list",
    "check_size",
    "check_str",
    "compare",
    "contains_secret",
    "date_to_days",
    "days_to_date",
    "decode_utf8",
    "describe_text",
    "describe_type",
    "describe_value",
    "equals",
    "fail",
    "format_double",
    "format_double_fixed",
    "format_duration",
    "format_timestamp",
    "from_json",
    "interpolate",
    "json_text",
    "load_json",
    "map_contains",
    "map_items",
    "map_keys",
    "map_lookup",
    "parse_byte_size",
    "parse_duration",
    "parse_json",
    "parse_timestamp",
    "storage_key",
    "to_json",
    "to_text",
    "type_of",
    "user_key",
]


# --------------------------------------------------------------------------- maps


def storage_key(key: object) -> object:
    """Validate a map key for insertion and return how the dict stores it."""
    kind = type(key)
    if kind is str or kind is int or kind is UInt:
        return key
    if kind is bool:
        return TRUE_KEY if key else FALSE_KEY
    raise EvalError(INVALID_ARGUMENT, f"unsupported map key type {describe_type(key)}")


def user_key(key: object) -> object:
    """The CEL value of a stored map key (unwraps ``BoolKey``)."""
    return key.value if type(key) is BoolKey else key


def build_map(entries: Iterable[tuple[object, object]]) -> dict[object, object]:
    """A map from key/value pairs; repeated keys (also ``0`` vs ``0u``) are errors."""
    result: dict[object, object] = {}
    for key, value in entries:
        stored = storage_key(key)
        if stored in result:
            raise EvalError(INVALID_ARGUMENT, f"repeated map key {describe_value(key)}")
        result[stored] = value
    return result


def map_contains(mapping: dict[object, object], key: object) -> bool:
    """CEL ``key in mapping``: numeric keys match across int/uint/double."""
    if type(key) is bool:
        key = TRUE_KEY if key else FALSE_KEY
    elif type(key) is Secret:  # whether it is a key would say what it is
        _refuse_secret_comparison()
    try:
        return key in mapping
    except TypeError:  # unhashable: a list or map is never a key
        return False


def map_lookup(mapping: dict[object, object], key: object) -> object:
    """CEL ``mapping[key]``; a missing key is ``EvalError("no such key")``."""
    if type(key) is Secret:
        _refuse_secret_comparison()
    try:
        return mapping[key if type(key) is not bool else (TRUE_KEY if key else FALSE_KEY)]
    except (KeyError, TypeError):
        raise EvalError(NO_SUCH_KEY, f"no such key: {describe_value(key)}") from None


def map_keys(mapping: dict[object, object]) -> list[object]:
    return [user_key(key) for key in mapping]


def map_items(mapping: dict[object, object]) -> Iterator[tuple[object, object]]:
    for key, value in mapping.items():
        yield user_key(key), value


# --------------------------------------------------------------------------- type_of


_TYPE_OF: Final[dict[type, CelType]] = {
    int: INT_TYPE,
    UInt: UINT_TYPE,
    float: DOUBLE_TYPE,
    bool: BOOL_TYPE,
    str: STRING_TYPE,
    bytes: BYTES_TYPE,
    type(None): NULL_TYPE,
    list: LIST_TYPE,
    dict: MAP_TYPE,
    CelType: TYPE_TYPE,
    Duration: DURATION_TYPE,
    Timestamp: TIMESTAMP_TYPE,
    Secret: SECRET_TYPE,
}


def type_of(value: object) -> CelType:
    """CEL's ``type(value)``."""
    result = _TYPE_OF.get(type(value))
    if result is None:
        raise EvalError(TYPE_ERROR, f"not a .flow value: {type(value).__name__}")
    return result


def describe_type(value: object) -> str:
    """The `.flow` type name of a value, for messages."""
    result = _TYPE_OF.get(type(value))
    return result.flow_name if result is not None else type(value).__name__


def describe_value(value: object, limit: int = 60) -> str:
    """A short rendering of a value for error messages; secrets are redacted."""
    if type(value) is str:
        return describe_text(value, limit)
    if isinstance(value, Secret):
        return REDACTED
    try:
        text = to_text(value)
    except EvalError:
        return describe_type(value)
    return text if len(text) <= limit else text[:limit] + "..."


# --------------------------------------------------------------------------- equality

_NUMERIC_TYPES: Final = frozenset({int, UInt, float})


def equals(left: object, right: object) -> bool:
    """CEL heterogeneous equality (``1 == 1u == 1.0``, ``NaN != NaN``, deep).

    A secret compares with nothing: whether it equals a guess is exactly what
    it must not tell.  The checker refuses such comparisons; this is the
    run-time guard behind it (for values that reach here as ``json``)."""
    left_type = type(left)
    if left_type is type(right) and left_type is not list and left_type is not dict:
        if left_type is Secret:
            _refuse_secret_comparison()
        return left == right
    try:
        return _equals(left, right)
    except RecursionError:
        raise EvalError(LIMIT, "values nested too deeply to compare") from None


def _equals(left: object, right: object) -> bool:
    left_type = type(left)
    right_type = type(right)
    if left_type is right_type:
        if left_type is list:
            return _lists_equal(left, right)  # type: ignore[arg-type]
        if left_type is dict:
            return _maps_equal(left, right)  # type: ignore[arg-type]
        return left == right
    if left_type in _NUMERIC_TYPES and right_type in _NUMERIC_TYPES:
        if left_type is float or right_type is float:
            return float(left) == float(right)  # type: ignore[arg-type]
        return left == right
    if left_type is Secret or right_type is Secret:
        if left is None or right is None:  # whether a secret is there at all is no secret
            return False
        _refuse_secret_comparison()
    return False


def _refuse_secret_comparison() -> NoReturn:
    raise EvalError(TYPE_ERROR, "a secret cannot be compared")


def _lists_equal(left: list[object], right: list[object]) -> bool:
    if len(left) != len(right):
        return False
    return all(_equals(a, b) for a, b in zip(left, right, strict=True))


def _maps_equal(left: dict[object, object], right: dict[object, object]) -> bool:
    if len(left) != len(right):
        return False
    for key, value in left.items():
        try:
            other = right[key]
        except KeyError:
            return False
        if not _equals(value, other):
            return False
    return True


_ORDERED_SAME_KIND: Final = frozenset({str, bytes, bool, Duration, Timestamp})


def compare(left: object, right: object) -> int:
    """Order two values: -1, 0 or 1.  Numbers compare across int/uint/double;
    strings, bytes, bools, durations and timestamps with their own kind."""
    left_type = type(left)
    right_type = type(right)
    numeric = left_type in _NUMERIC_TYPES and right_type in _NUMERIC_TYPES
    if not numeric and not (left_type is right_type and left_type in _ORDERED_SAME_KIND):
        raise EvalError(
            NO_MATCHING_OVERLOAD,
            f"cannot order {describe_type(left)} and {describe_type(right)}",
        )
    if numeric and (left != left or right != right):  # NaN is unordered
        raise EvalError(INVALID_ARGUMENT, "NaN values cannot be ordered")
    if numeric and left_type is not right_type and (left_type is float or right_type is float):
        left, right = float(left), float(right)  # type: ignore[arg-type]
    if left < right:  # type: ignore[operator]
        return -1
    if left > right:  # type: ignore[operator]
        return 1
    return 0


# --------------------------------------------------------------------------- size checks


def check_str(value: str) -> str:
    if len(value) > MAX_SIZE:
        raise EvalError(LIMIT, f"string longer than {MAX_SIZE} characters")
    return value


def check_bytes(value: bytes) -> bytes:
    if len(value) > MAX_SIZE:
        raise EvalError(LIMIT, f"bytes longer than {MAX_SIZE}")
    return value


def check_list(value: list[object]) -> list[object]:
    if len(value) > MAX_LIST_LENGTH:
        raise EvalError(LIMIT, f"list longer than {MAX_LIST_LENGTH} elements")
    return value


def check_size(size: int, what: str = "result") -> None:
    """Raise a limit error before building a string/bytes of ``size``."""
    if size > MAX_SIZE:
        raise EvalError(LIMIT, f"{what} larger than {MAX_SIZE}")
