"""CEL's operators: arithmetic, comparison, equality, indexing, ``in``, ``size``.

Integer arithmetic is done on Python's unbounded ints and range-checked once
at the end (``INT64_MIN <= r <= INT64_MAX``), which is both simpler and faster
in Python than predicting overflow the way Go does.  ``/`` truncates toward
zero and ``%`` takes the sign of the dividend (Go's and CEL's rules, not
Python's floor division); dividing or taking the modulus by zero is an
``EvalError("division by zero")``, and ``INT64_MIN / -1`` and ``INT64_MIN % -1``
are overflows.  ``uint`` results are wrapped in ``UInt``, whose constructor
raises the overflow (including ``0u - 1u``).  Doubles follow IEEE 754:
``x / 0.0`` is an infinity or NaN, never an error.

Durations and timestamps are integer nanoseconds; their constructors check
the ranges, so ``timestamp + duration`` past 9999-12-31 is a range error.

Ordering operators use Python's own comparisons (every comparison with NaN is
false).  ``int`` against ``uint`` is exact; an integer against a ``double`` is
compared after converting the integer to a double, as the conformance data
requires (``9223372036854775807 < 9223372036854775808.0`` is false).  The
mixed-kind overloads (``int < double``, ...) are declared as cel-go declares
them, so that ``1 < 1.5`` type-checks.

Equality is CEL's heterogeneous equality (``values.equals``) for every pair of
kinds; the declared signature ``(A, A)`` is what the checker enforces.

``&&``, ``||`` and ``?:`` are declared for the checker; their implementations
here are the strict versions, but the evaluator must special-case them (error
absorption and short-circuiting).
"""

from __future__ import annotations

import math
import operator
from typing import Final

from flowc.common.stdlib_core import DERIVE, Overload, carry, fn, method
from flowc.common.types import (
    BOOL,
    BYTES,
    DURATION,
    FLOAT,
    INT,
    STRING,
    TIMESTAMP,
    UINT,
    A,
    B,
    ListT,
    MapT,
)
from flowc.common.values import (
    DIVISION_BY_ZERO,
    INT64_MAX,
    INT64_MIN,
    INVALID_ARGUMENT,
    MAX_LIST_LENGTH,
    MAX_SIZE,
    OVERFLOW,
    Duration,
    EvalError,
    Timestamp,
    UInt,
    equals,
    map_contains,
    map_lookup,
)

LIST_A: Final = ListT(A)
MAP_AB: Final = MapT(A, B)


def _int_overflow() -> EvalError:
    return EvalError(OVERFLOW, "int overflow")


# --------------------------------------------------------------------------- int


def add_int(left: int, right: int) -> int:
    result = left + right
    if INT64_MIN <= result <= INT64_MAX:
        return result
    raise _int_overflow()


def subtract_int(left: int, right: int) -> int:
    result = left - right
    if INT64_MIN <= result <= INT64_MAX:
        return result
    raise _int_overflow()


def multiply_int(left: int, right: int) -> int:
    result = left * right
    if INT64_MIN <= result <= INT64_MAX:
        return result
    raise _int_overflow()


def divide_int(left: int, right: int) -> int:
    if right == 0:
        raise EvalError(DIVISION_BY_ZERO, "division by zero")
    if left == INT64_MIN and right == -1:
        raise _int_overflow()
    quotient = abs(left) // abs(right)
    return quotient if (left < 0) == (right < 0) else -quotient


def modulo_int(left: int, right: int) -> int:
    if right == 0:
        raise EvalError(DIVISION_BY_ZERO, "modulus by zero")
    if left == INT64_MIN and right == -1:
        raise _int_overflow()
    remainder = abs(left) % abs(right)
    return -remainder if left < 0 else remainder


def negate_int(value: int) -> int:
    if value == INT64_MIN:
        raise _int_overflow()
    return -value


# --------------------------------------------------------------------------- uint


def add_uint(left: UInt, right: UInt) -> UInt:
    return UInt(left + right)


def subtract_uint(left: UInt, right: UInt) -> UInt:
    return UInt(left - right)


def multiply_uint(left: UInt, right: UInt) -> UInt:
    return UInt(left * right)


def divide_uint(left: UInt, right: UInt) -> UInt:
    if right == 0:
        raise EvalError(DIVISION_BY_ZERO, "division by zero")
    return UInt(left // right)


def modulo_uint(left: UInt, right: UInt) -> UInt:
    if right == 0:
        raise EvalError(DIVISION_BY_ZERO, "modulus by zero")
    return UInt(left % right)


# --------------------------------------------------------------------------- double


def divide_double(left: float, right: float) -> float:
    try:
        return left / right
    except ZeroDivisionError:
        if left == 0 or left != left:
            return math.nan
        return math.copysign(math.inf, left) * math.copysign(1.0, right)


def negate_double(value: float) -> float:
    return -value


# --------------------------------------------------------------------------- sequences


def add_string(left: str, right: str) -> str:
    if len(left) + len(right) > MAX_SIZE:
        raise EvalError("limit", f"string longer than {MAX_SIZE} characters")
    return left + right


def add_bytes(left: bytes, right: bytes) -> bytes:
    if len(left) + len(right) > MAX_SIZE:
        raise EvalError("limit", f"bytes longer than {MAX_SIZE}")
    return left + right


def add_list(left: list[object], right: list[object]) -> list[object]:
    if len(left) + len(right) > MAX_LIST_LENGTH:
        raise EvalError("limit", f"list longer than {MAX_LIST_LENGTH} elements")
    return left + right


# --------------------------------------------------------------------------- time


def add_timestamp_duration(stamp: Timestamp, span: Duration) -> Timestamp:
    return Timestamp(stamp.nanos + span.nanos)


def add_duration_timestamp(span: Duration, stamp: Timestamp) -> Timestamp:
    return Timestamp(stamp.nanos + span.nanos)


def add_duration_duration(left: Duration, right: Duration) -> Duration:
    return Duration(left.nanos + right.nanos)


def subtract_timestamp_timestamp(left: Timestamp, right: Timestamp) -> Duration:
    return Duration(left.nanos - right.nanos)


def subtract_timestamp_duration(stamp: Timestamp, span: Duration) -> Timestamp:
    return Timestamp(stamp.nanos - span.nanos)


def subtract_duration_duration(left: Duration, right: Duration) -> Duration:
    return Duration(left.nanos - right.nanos)


# --------------------------------------------------------------------------- logic


def logical_not(value: bool) -> bool:
    return not value


def logical_and(left: bool, right: bool) -> bool:
    return left and right


def logical_or(left: bool, right: bool) -> bool:
    return left or right


def conditional(test: bool, when_true: object, when_false: object) -> object:
    return when_true if test else when_false


def not_equals(left: object, right: object) -> bool:
    return not equals(left, right)


# --------------------------------------------------------------------------- index, in


def less_lossy(left: float, right: float) -> bool:
    return float(left) < float(right)


def less_equals_lossy(left: float, right: float) -> bool:
    return float(left) <= float(right)


def greater_lossy(left: float, right: float) -> bool:
    return float(left) > float(right)


def greater_equals_lossy(left: float, right: float) -> bool:
    return float(left) >= float(right)


def index_list(items: list[object], index: int) -> object:
    if 0 <= index < len(items):
        return items[index]
    raise EvalError(INVALID_ARGUMENT, f"index out of range: {index}")


def index_list_double(items: list[object], index: float) -> object:
    if not index.is_integer():
        raise EvalError(INVALID_ARGUMENT, f"list index is not an integer: {index}")
    return index_list(items, int(index))


def in_list(value: object, items: list[object]) -> bool:
    if type(value) is str:
        return value in items
    return any(equals(value, item) for item in items)


def in_map(value: object, mapping: dict[object, object]) -> bool:
    return map_contains(mapping, value)


def size_of(value: str | bytes | list[object] | dict[object, object]) -> int:
    return len(value)


# --------------------------------------------------------------------------- table


def _arithmetic() -> list[Overload]:
    return [
        fn("add_int64", "_+_", (INT, INT), INT, add_int),
        fn("add_uint64", "_+_", (UINT, UINT), UINT, add_uint),
        fn("add_double", "_+_", (FLOAT, FLOAT), FLOAT, operator.add),
        fn("add_string", "_+_", (STRING, STRING), STRING, add_string, secrets=DERIVE),
        fn("add_bytes", "_+_", (BYTES, BYTES), BYTES, add_bytes, secrets=DERIVE),
        fn("add_list", "_+_", (LIST_A, LIST_A), LIST_A, add_list, secrets=carry("A")),
        fn(
            "add_timestamp_duration",
            "_+_",
            (TIMESTAMP, DURATION),
            TIMESTAMP,
            add_timestamp_duration,
        ),
        fn(
            "add_duration_timestamp",
            "_+_",
            (DURATION, TIMESTAMP),
            TIMESTAMP,
            add_duration_timestamp,
        ),
        fn("add_duration_duration", "_+_", (DURATION, DURATION), DURATION, add_duration_duration),
        fn("subtract_int64", "_-_", (INT, INT), INT, subtract_int),
        fn("subtract_uint64", "_-_", (UINT, UINT), UINT, subtract_uint),
        fn("subtract_double", "_-_", (FLOAT, FLOAT), FLOAT, operator.sub),
        fn(
            "subtract_timestamp_timestamp",
            "_-_",
            (TIMESTAMP, TIMESTAMP),
            DURATION,
            subtract_timestamp_timestamp,
        ),
        fn(
            "subtract_timestamp_duration",
            "_-_",
            (TIMESTAMP, DURATION),
            TIMESTAMP,
            subtract_timestamp_duration,
        ),
        fn(
            "subtract_duration_duration",
            "_-_",
            (DURATION, DURATION),
            DURATION,
            subtract_duration_duration,
        ),
        fn("multiply_int64", "_*_", (INT, INT), INT, multiply_int),
        fn("multiply_uint64", "_*_", (UINT, UINT), UINT, multiply_uint),
        fn("multiply_double", "_*_", (FLOAT, FLOAT), FLOAT, operator.mul),
        fn("divide_int64", "_/_", (INT, INT), INT, divide_int),
        fn("divide_uint64", "_/_", (UINT, UINT), UINT, divide_uint),
        fn("divide_double", "_/_", (FLOAT, FLOAT), FLOAT, divide_double),
        fn("modulo_int64", "_%_", (INT, INT), INT, modulo_int),
        fn("modulo_uint64", "_%_", (UINT, UINT), UINT, modulo_uint),
        fn("negate_int64", "-_", (INT,), INT, negate_int),
        fn("negate_double", "-_", (FLOAT,), FLOAT, negate_double),
    ]


_ORDER_OPERATORS: Final = (
    ("_<_", "less", operator.lt),
    ("_<=_", "less_equals", operator.le),
    ("_>_", "greater", operator.gt),
    ("_>=_", "greater_equals", operator.ge),
)
_ORDERED_KINDS: Final = (
    ("bool", BOOL, BOOL),
    ("int64", INT, INT),
    ("int64_double", INT, FLOAT),
    ("int64_uint64", INT, UINT),
    ("uint64", UINT, UINT),
    ("uint64_double", UINT, FLOAT),
    ("uint64_int64", UINT, INT),
    ("double", FLOAT, FLOAT),
    ("double_int64", FLOAT, INT),
    ("double_uint64", FLOAT, UINT),
    ("string", STRING, STRING),
    ("bytes", BYTES, BYTES),
    ("timestamp", TIMESTAMP, TIMESTAMP),
    ("duration", DURATION, DURATION),
)


_LOSSY_OPERATORS: Final = {
    "_<_": less_lossy,
    "_<=_": less_equals_lossy,
    "_>_": greater_lossy,
    "_>=_": greater_equals_lossy,
}


def _comparisons() -> list[Overload]:
    result = []
    for name, prefix, exact in _ORDER_OPERATORS:
        for suffix, left, right in _ORDERED_KINDS:
            mixed_double = left != right and FLOAT in (left, right)
            impl = _LOSSY_OPERATORS[name] if mixed_double else exact
            result.append(fn(f"{prefix}_{suffix}", name, (left, right), BOOL, impl))
    return result


def _logic_and_collections() -> list[Overload]:
    return [
        fn("logical_not", "!_", (BOOL,), BOOL, logical_not),
        fn("logical_and", "_&&_", (BOOL, BOOL), BOOL, logical_and),
        fn("logical_or", "_||_", (BOOL, BOOL), BOOL, logical_or),
        fn("conditional", "_?_:_", (BOOL, A, A), A, conditional, secrets=carry("A")),
        fn("equals", "_==_", (A, A), BOOL, equals),
        fn("not_equals", "_!=_", (A, A), BOOL, not_equals),
        fn("index_list", "_[_]", (LIST_A, INT), A, index_list, secrets=carry("A")),
        fn("index_map", "_[_]", (MAP_AB, A), B, map_lookup, secrets=carry("B")),
        fn("index_list_uint64", "_[_]", (LIST_A, UINT), A, index_list, dynamic_only=True),
        fn("index_list_double", "_[_]", (LIST_A, FLOAT), A, index_list_double, dynamic_only=True),
        fn("in_list", "@in", (A, LIST_A), BOOL, in_list),
        fn("in_map", "@in", (A, MAP_AB), BOOL, in_map),
        fn("size_string", "size", (STRING,), INT, size_of),
        fn("size_bytes", "size", (BYTES,), INT, size_of),
        fn("size_list", "size", (LIST_A,), INT, size_of, secrets=carry("A")),
        fn("size_map", "size", (MAP_AB,), INT, size_of, secrets=carry("A", "B")),
        method("string_size", "size", (STRING,), INT, size_of),
        method("bytes_size", "size", (BYTES,), INT, size_of),
        method("list_size", "size", (LIST_A,), INT, size_of, secrets=carry("A")),
        method("map_size", "size", (MAP_AB,), INT, size_of, secrets=carry("A", "B")),
    ]


def overloads() -> list[Overload]:
    return _arithmetic() + _comparisons() + _logic_and_collections()
