"""The CEL math extension: ``math.greatest``, ``math.least``, rounding
(``ceil``, ``floor``, ``round``, ``trunc``), ``abs``, ``sign``, ``isNaN``,
``isInf``, ``isFinite`` and the bit operations.

``math.greatest``/``math.least`` take one or more numbers (any mix of ``int``,
``uint``, ``double``) or one list of numbers, and return the extreme element
*unchanged* (``math.greatest(1, 2.5)`` is the double ``2.5``,
``math.greatest(5u, -7)`` the uint ``5u``); elements compare on one number
line.  cel-go implements the variadic form as a parse-time macro; here it is
a ``variadic`` overload, so no parser support is needed.

``math.round`` rounds half away from zero (Go's ``math.Round``), not Python's
half-to-even.  ``math.abs(-2**63)`` is an overflow.

Bit operations work on the 64-bit two's complement pattern: shifts by 64 or
more give 0, a negative shift count is an error, and ``bitShiftRight`` on an
``int`` is a *logical* shift (``math.bitShiftRight(-1024, 3)`` is
``2305843009213693824``), as the conformance data requires.
"""

from __future__ import annotations

import math
from typing import Final

from flowc.common.stdlib_core import Overload, fn
from flowc.common.types import BOOL, FLOAT, INT, JSON, UINT, A, ListT
from flowc.common.values import (
    INT64_MIN,
    INVALID_ARGUMENT,
    NO_MATCHING_OVERLOAD,
    OVERFLOW,
    EvalError,
    UInt,
    compare,
    describe_type,
)

_MASK64: Final = 2**64 - 1
_NUMERIC: Final = frozenset({int, UInt, float})


def _as_signed(pattern: int) -> int:
    return pattern - 2**64 if pattern >= 2**63 else pattern


# --------------------------------------------------------------------------- extremes


def _extreme(values: list[object] | tuple[object, ...], name: str, sign: int) -> object:
    if not values:
        raise EvalError(INVALID_ARGUMENT, f"{name}(list) argument must not be empty")
    for value in values:
        if type(value) not in _NUMERIC:
            raise EvalError(NO_MATCHING_OVERLOAD, f"{name}: not a number: {describe_type(value)}")
    best = values[0]
    for value in values[1:]:
        if compare(value, best) == sign:
            best = value
    return best


def greatest(*values: object) -> object:
    return _extreme(values, "math.greatest", 1)


def least(*values: object) -> object:
    return _extreme(values, "math.least", -1)


def greatest_of_list(values: list[object]) -> object:
    return _extreme(values, "math.greatest", 1)


def least_of_list(values: list[object]) -> object:
    return _extreme(values, "math.least", -1)


# --------------------------------------------------------------------------- rounding


def _signed_zero(result: float, like: float) -> float:
    return math.copysign(0.0, like) if result == 0 else result


def ceil(value: float) -> float:
    if not math.isfinite(value):
        return value
    return _signed_zero(float(math.ceil(value)), value)


def floor(value: float) -> float:
    if not math.isfinite(value):
        return value
    return _signed_zero(float(math.floor(value)), value)


def trunc(value: float) -> float:
    if not math.isfinite(value):
        return value
    return _signed_zero(float(math.trunc(value)), value)


def round_half_away(value: float) -> float:
    if not math.isfinite(value):
        return value
    whole = float(math.trunc(value))
    if abs(value - whole) >= 0.5:
        whole += math.copysign(1.0, value)
    return _signed_zero(whole, value)


# --------------------------------------------------------------------------- sign


def abs_int(value: int) -> int:
    if value == INT64_MIN:
        raise EvalError(OVERFLOW, "int overflow")
    return abs(value)


def abs_double(value: float) -> float:
    return abs(value)


def identity_uint(value: UInt) -> UInt:
    return value


def sign_int(value: int) -> int:
    return (value > 0) - (value < 0)


def sign_uint(value: UInt) -> UInt:
    return UInt(1 if value else 0)


def sign_double(value: float) -> float:
    if value != value:
        return value
    if value > 0:
        return 1.0
    if value < 0:
        return -1.0
    return 0.0


def is_nan(value: float) -> bool:
    return value != value


def is_inf(value: float) -> bool:
    return math.isinf(value)


def is_finite(value: float) -> bool:
    return math.isfinite(value)


# --------------------------------------------------------------------------- bits


def bit_and_int(left: int, right: int) -> int:
    return left & right


def bit_or_int(left: int, right: int) -> int:
    return left | right


def bit_xor_int(left: int, right: int) -> int:
    return left ^ right


def bit_and_uint(left: UInt, right: UInt) -> UInt:
    return UInt(left & right)


def bit_or_uint(left: UInt, right: UInt) -> UInt:
    return UInt(left | right)


def bit_xor_uint(left: UInt, right: UInt) -> UInt:
    return UInt(left ^ right)


def bit_not_int(value: int) -> int:
    return ~value


def bit_not_uint(value: UInt) -> UInt:
    return UInt(_MASK64 ^ value)


def _check_shift(count: int, name: str) -> None:
    if count < 0:
        raise EvalError(INVALID_ARGUMENT, f"math.{name}() negative offset: {count}")


def shift_left_int(value: int, count: int) -> int:
    _check_shift(count, "bitShiftLeft")
    if count >= 64:
        return 0
    return _as_signed((value << count) & _MASK64)


def shift_left_uint(value: UInt, count: int) -> UInt:
    _check_shift(count, "bitShiftLeft")
    if count >= 64:
        return UInt(0)
    return UInt((value << count) & _MASK64)


def shift_right_int(value: int, count: int) -> int:
    _check_shift(count, "bitShiftRight")
    if count >= 64:
        return 0
    return _as_signed((value & _MASK64) >> count)


def shift_right_uint(value: UInt, count: int) -> UInt:
    _check_shift(count, "bitShiftRight")
    if count >= 64:
        return UInt(0)
    return UInt(value >> count)


# --------------------------------------------------------------------------- table


def _extremes() -> list[Overload]:
    result: list[Overload] = []
    for name, variadic_impl, list_impl in (
        ("math.greatest", greatest, greatest_of_list),
        ("math.least", least, least_of_list),
    ):
        key = name.removeprefix("math.")
        result += [
            fn(f"math_{key}_int", name, (INT,), INT, variadic_impl),
            fn(f"math_{key}_uint", name, (UINT,), UINT, variadic_impl),
            fn(f"math_{key}_double", name, (FLOAT,), FLOAT, variadic_impl),
            fn(f"math_{key}_list", name, (ListT(A),), A, list_impl),
            fn(f"math_{key}_int_int", name, (INT, INT), INT, variadic_impl, variadic=True),
            fn(f"math_{key}_uint_uint", name, (UINT, UINT), UINT, variadic_impl, variadic=True),
            fn(
                f"math_{key}_double_double",
                name,
                (FLOAT, FLOAT),
                FLOAT,
                variadic_impl,
                variadic=True,
            ),
            fn(f"math_{key}_dyn_dyn", name, (JSON, JSON), JSON, variadic_impl, variadic=True),
        ]
    return result


def _rounding_and_sign() -> list[Overload]:
    return [
        fn("math_ceil_double", "math.ceil", (FLOAT,), FLOAT, ceil),
        fn("math_floor_double", "math.floor", (FLOAT,), FLOAT, floor),
        fn("math_round_double", "math.round", (FLOAT,), FLOAT, round_half_away),
        fn("math_trunc_double", "math.trunc", (FLOAT,), FLOAT, trunc),
        fn("math_isInf_double", "math.isInf", (FLOAT,), BOOL, is_inf),
        fn("math_isNaN_double", "math.isNaN", (FLOAT,), BOOL, is_nan),
        fn("math_isFinite_double", "math.isFinite", (FLOAT,), BOOL, is_finite),
        fn("math_abs_int", "math.abs", (INT,), INT, abs_int),
        fn("math_abs_uint", "math.abs", (UINT,), UINT, identity_uint),
        fn("math_abs_double", "math.abs", (FLOAT,), FLOAT, abs_double),
        fn("math_sign_int", "math.sign", (INT,), INT, sign_int),
        fn("math_sign_uint", "math.sign", (UINT,), UINT, sign_uint),
        fn("math_sign_double", "math.sign", (FLOAT,), FLOAT, sign_double),
    ]


def _bits() -> list[Overload]:
    return [
        fn("math_bitAnd_int_int", "math.bitAnd", (INT, INT), INT, bit_and_int),
        fn("math_bitAnd_uint_uint", "math.bitAnd", (UINT, UINT), UINT, bit_and_uint),
        fn("math_bitOr_int_int", "math.bitOr", (INT, INT), INT, bit_or_int),
        fn("math_bitOr_uint_uint", "math.bitOr", (UINT, UINT), UINT, bit_or_uint),
        fn("math_bitXor_int_int", "math.bitXor", (INT, INT), INT, bit_xor_int),
        fn("math_bitXor_uint_uint", "math.bitXor", (UINT, UINT), UINT, bit_xor_uint),
        fn("math_bitNot_int", "math.bitNot", (INT,), INT, bit_not_int),
        fn("math_bitNot_uint", "math.bitNot", (UINT,), UINT, bit_not_uint),
        fn("math_bitShiftLeft_int_int", "math.bitShiftLeft", (INT, INT), INT, shift_left_int),
        fn("math_bitShiftLeft_uint_int", "math.bitShiftLeft", (UINT, INT), UINT, shift_left_uint),
        fn("math_bitShiftRight_int_int", "math.bitShiftRight", (INT, INT), INT, shift_right_int),
        fn(
            "math_bitShiftRight_uint_int", "math.bitShiftRight", (UINT, INT), UINT, shift_right_uint
        ),
    ]


def overloads() -> list[Overload]:
    return _extremes() + _rounding_and_sign() + _bits()
