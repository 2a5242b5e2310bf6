"""Unit and property tests of the run-time value model (``flowc.common.values``)."""

from __future__ import annotations

import copy
import math
import pickle
from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from flowc.common.values import (
    DOUBLE_TYPE,
    DURATION_TYPE,
    FALSE_KEY,
    INT64_MAX,
    INT64_MIN,
    INT_TYPE,
    LIST_TYPE,
    MAP_TYPE,
    MAX_SIZE,
    NULL_TYPE,
    REDACTED,
    TIMESTAMP_MAX_NANOS,
    TIMESTAMP_MIN_NANOS,
    TIMESTAMP_TYPE,
    TRUE_KEY,
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
    build_map,
    check_int,
    compare,
    contains_secret,
    describe_value,
    equals,
    format_double,
    format_double_fixed,
    format_duration,
    format_timestamp,
    from_json,
    interpolate,
    json_text,
    map_contains,
    map_items,
    map_keys,
    map_lookup,
    parse_duration,
    parse_json,
    parse_timestamp,
    to_json,
    to_text,
    type_of,
    user_key,
)

# --------------------------------------------------------------------------- uint, int


def test_uint_is_an_int_with_range_check() -> None:
    assert UInt(5) == 5
    assert hash(UInt(5)) == hash(5)
    assert repr(UInt(5)) == "5u"
    assert str(UInt(5)) == "5"
    assert UInt(UINT64_MAX) == 2**64 - 1
    with pytest.raises(EvalError) as caught:
        UInt(-1)
    assert caught.value.kind == "overflow"
    with pytest.raises(EvalError):
        UInt(2**64)


def test_check_int_bounds() -> None:
    assert check_int(INT64_MAX) == INT64_MAX
    assert check_int(INT64_MIN) == INT64_MIN
    with pytest.raises(EvalError, match="overflow"):
        check_int(INT64_MAX + 1)
    with pytest.raises(EvalError, match="overflow"):
        check_int(INT64_MIN - 1)


# --------------------------------------------------------------------------- equality


def test_heterogeneous_numeric_equality() -> None:
    assert equals(1, UInt(1))
    assert equals(1, 1.0)
    assert equals(UInt(1), 1.0)
    assert not equals(2, UInt(1))
    assert equals(2**63 - 1, 9223372036854775808.0)  # CEL: the int becomes a double first
    assert equals(2**53 + 1, float(2**53))
    assert not equals(2**53 + 1, UInt(2**53))  # int against uint is exact


def test_nan_is_not_equal_to_itself() -> None:
    nan = float("nan")
    assert not equals(nan, nan)
    assert not equals(1, nan)
    assert not equals([nan], [nan])


def test_different_kinds_are_unequal_not_errors() -> None:
    assert not equals(1, True)
    assert not equals(True, 1)
    assert not equals(0, None)
    assert not equals("1", 1)
    assert not equals(b"a", "a")
    assert not equals([], {})
    assert not equals(Duration(0), 0)
    assert not equals(1, [1])


def test_deep_list_and_map_equality() -> None:
    assert equals([1.0, 2.0, 3], [UInt(1), 2, UInt(3)])
    assert not equals([1.0, 2.1], [UInt(1), 2])
    assert equals(build_map([(1, 1.0), (UInt(2), UInt(3))]), build_map([(UInt(1), 1), (2, 3.0)]))
    assert not equals(build_map([("k", "v")]), build_map([("k", "v"), ("k1", "v1")]))
    assert not equals(build_map([(True, 1)]), build_map([(1, 1)]))
    assert equals([[]], [[]])


def test_a_secret_compares_with_nothing_but_null() -> None:
    for left, right in [
        (Secret("abc"), "abc"),
        ("abc", Secret("abc")),
        (Secret("abc"), Secret("abc")),
        (Secret("1"), 1),
        ([Secret("abc")], ["abc"]),
        ({"k": Secret("abc")}, {"k": "abc"}),
    ]:
        with pytest.raises(EvalError, match="a secret cannot be compared"):
            equals(left, right)
    assert not equals(Secret("abc"), None) and not equals(None, Secret("abc"))
    with pytest.raises(EvalError, match="a secret cannot be compared"):
        map_lookup({"abc": 1}, Secret("abc"))
    with pytest.raises(EvalError, match="a secret cannot be compared"):
        map_contains({"abc": 1}, Secret("abc"))


def test_compare_across_numeric_kinds() -> None:
    assert compare(1, UInt(2)) == -1
    assert compare(-1, UInt(0)) == -1
    assert compare(UInt(2**64 - 1), 1.8446744073709590e19) == -1
    assert compare(9223372036854775807, 9223372036854775808.0) == 0  # lossy, as CEL
    assert compare(9223372036854775807, 9223372036854777857.0) == -1
    assert compare(2.0, 2) == 0
    assert compare("a", "b") == -1
    assert compare(b"b", b"a") == 1
    assert compare(False, True) == -1
    assert compare(Duration(5), Duration(3)) == 1
    with pytest.raises(EvalError) as caught:
        compare("a", 1)
    assert caught.value.kind == "no matching overload"
    with pytest.raises(EvalError):
        compare([1], [2])
    with pytest.raises(EvalError):
        compare(float("nan"), 1.0)


# --------------------------------------------------------------------------- maps


def test_bool_and_int_keys_stay_distinct() -> None:
    mapping = build_map([(True, 1), (1, 2)])
    assert len(mapping) == 2
    assert map_lookup(mapping, True) == 1
    assert map_lookup(mapping, 1) == 2
    assert map_keys(mapping) == [True, 1]
    assert type(map_keys(mapping)[0]) is bool
    assert TRUE_KEY in mapping
    assert list(map_items(mapping)) == [(True, 1), (1, 2)]


def test_repeated_keys_are_errors_across_int_and_uint() -> None:
    with pytest.raises(EvalError, match="repeated"):
        build_map([(0, 1), (UInt(0), 2)])
    with pytest.raises(EvalError, match="repeated"):
        build_map([(True, 1), (False, 2), (True, 3)])


def test_unsupported_key_kinds() -> None:
    for key in (1.5, None, b"x", [1], Duration(1)):
        with pytest.raises(EvalError, match="unsupported map key"):
            build_map([(key, 1)])


def test_numeric_lookups_cross_kinds() -> None:
    mapping = build_map([(UInt(1), 1.0), (2, 2.0), (UInt(3), 3.0)])
    assert map_lookup(mapping, 3.0) == 3.0
    assert map_lookup(mapping, UInt(2)) == 2.0
    assert map_lookup(mapping, 1) == 1.0
    assert not map_contains(mapping, 3.1)
    assert not map_contains(mapping, float("nan"))
    assert not map_contains(mapping, [1])
    with pytest.raises(EvalError) as caught:
        map_lookup(mapping, 3.1)
    assert caught.value.kind == "no such key"
    with pytest.raises(EvalError):
        map_lookup(mapping, [1])


def test_bool_keys_pickle_to_the_singletons() -> None:
    assert pickle.loads(pickle.dumps(TRUE_KEY)) is TRUE_KEY
    assert user_key(FALSE_KEY) is False
    assert isinstance(FALSE_KEY, BoolKey)


# --------------------------------------------------------------------------- types


def test_type_of_every_kind() -> None:
    assert type_of(1) == INT_TYPE
    assert type_of(UInt(1)) == UINT_TYPE
    assert type_of(1.0) == DOUBLE_TYPE
    assert type_of(None) == NULL_TYPE
    assert type_of([1]) == LIST_TYPE
    assert type_of({}) == MAP_TYPE
    assert type_of(INT_TYPE) == TYPE_TYPE
    assert type_of(TYPE_TYPE) == TYPE_TYPE
    assert type_of(Duration(1)) == DURATION_TYPE
    assert type_of(parse_timestamp("2009-02-13T23:31:30Z")) == TIMESTAMP_TYPE
    assert type_of(True).name == "bool"
    with pytest.raises(EvalError):
        type_of(object())


def test_type_names_cel_and_flow() -> None:
    assert str(DOUBLE_TYPE) == "double"
    assert DOUBLE_TYPE.flow_name == "float"
    assert DURATION_TYPE.name == "google.protobuf.Duration"
    assert DURATION_TYPE.flow_name == "duration"
    assert NULL_TYPE.flow_name == "null"
    assert TYPE_IDENTIFIERS["float"] == TYPE_IDENTIFIERS["double"] == DOUBLE_TYPE
    assert CelType("int") == INT_TYPE


# --------------------------------------------------------------------------- durations


@pytest.mark.parametrize(
    ("text", "nanos"),
    [
        ("1m30s", 90 * 10**9),
        ("-1.5h", -5400 * 10**9),
        ("0", 0),
        ("+5s", 5 * 10**9),
        ("1h34us", 3600 * 10**9 + 34_000),
        ("250ms", 250_000_000),
        ("1.5s", 1_500_000_000),
        (".5s", 500_000_000),
        ("1\u00b5s", 1000),
        ("2h45m", (2 * 3600 + 45 * 60) * 10**9),
        ("-9223372036854775808ns", INT64_MIN),
    ],
)
def test_parse_duration(text: str, nanos: int) -> None:
    assert parse_duration(text).nanos == nanos


@pytest.mark.parametrize("text", ["", "-", "1", "1d", "s", ".s", "1.5.5s", "1h-1m", " 1s", "1 s"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(EvalError):
        parse_duration(text)


def test_duration_range_is_int64_nanoseconds() -> None:
    with pytest.raises(EvalError) as caught:
        parse_duration("320000000000s")
    assert caught.value.kind == "range"
    with pytest.raises(EvalError):
        Duration(INT64_MAX + 1)
    assert Duration(INT64_MAX).nanos == INT64_MAX


def test_format_duration() -> None:
    assert format_duration(parse_duration("1m1ms")) == "60.001s"
    assert format_duration(Duration(-1_500_000_000)) == "-1.5s"
    assert format_duration(Duration(0)) == "0s"
    assert format_duration(Duration(1)) == "0.000000001s"
    assert format_duration(parse_duration("1000000s")) == "1000000s"
    assert repr(Duration(10**9)) == "Duration('1s')"


@given(st.integers(min_value=INT64_MIN, max_value=INT64_MAX))
def test_duration_text_round_trip(nanos: int) -> None:
    value = Duration(nanos)
    assert parse_duration(format_duration(value)) == value


# --------------------------------------------------------------------------- timestamps


def test_timestamp_parse_and_format() -> None:
    stamp = parse_timestamp("2009-02-13T23:31:30Z")
    assert stamp.seconds == 1234567890
    assert format_timestamp(stamp) == "2009-02-13T23:31:30Z"
    offset = parse_timestamp("2009-02-13T23:31:30.5+01:00")
    assert format_timestamp(offset) == "2009-02-13T22:31:30.5Z"
    assert parse_timestamp("1972-01-01T10:00:20.021-05:00") == parse_timestamp(
        "1972-01-01T15:00:20.021Z"
    )
    top = parse_timestamp("9999-12-31T23:59:59.999999999Z")
    assert top.nanos == TIMESTAMP_MAX_NANOS
    assert format_timestamp(top) == "9999-12-31T23:59:59.999999999Z"
    assert parse_timestamp("0001-01-01T00:00:00Z").nanos == TIMESTAMP_MIN_NANOS
    assert parse_timestamp("1969-12-31T23:59:59.5Z").nanos == -500_000_000


@pytest.mark.parametrize(
    "text",
    [
        "0000-01-01T00:00:00Z",
        "10000-01-01T00:00:00Z",
        "2009-02-30T00:00:00Z",
        "2009-02-13 23:31:30Z",
        "2009-02-13T24:00:00Z",
        "2009-02-13T23:31:60Z",
        "2009-02-13T23:31:30",
        "0001-01-01T00:00:00+01:00",
        "2009-02-13T23:31:30+25:00",
    ],
)
def test_timestamp_parse_rejects(text: str) -> None:
    with pytest.raises(EvalError):
        parse_timestamp(text)


def test_timestamp_range() -> None:
    with pytest.raises(EvalError) as caught:
        Timestamp(TIMESTAMP_MAX_NANOS + 1)
    assert caught.value.kind == "range"
    with pytest.raises(EvalError):
        Timestamp.from_seconds(-62135596801)


def test_timestamp_datetime_bridge() -> None:
    stamp = parse_timestamp("2009-02-13T23:31:30.123456789Z")
    moment = stamp.to_datetime()
    assert moment.isoformat() == "2009-02-13T23:31:30.123456+00:00"
    assert Timestamp.from_datetime(moment).nanos == stamp.nanos - 789


@given(st.integers(min_value=TIMESTAMP_MIN_NANOS, max_value=TIMESTAMP_MAX_NANOS))
def test_timestamp_text_round_trip(nanos: int) -> None:
    stamp = Timestamp(nanos)
    assert parse_timestamp(format_timestamp(stamp)) == stamp


# --------------------------------------------------------------------------- text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1e6, "1e+06"),
        (123456.0, "123456"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-4.5e-3, "-0.0045"),
        (123.456, "123.456"),
        (100.0, "100"),
        (1e21, "1e+21"),
        (0.0, "0"),
        (-0.0, "-0"),
        (float("inf"), "+Inf"),
        (float("-inf"), "-Inf"),
        (float("nan"), "NaN"),
        (9223372036854775807.0, "9.223372036854776e+18"),
    ],
)
def test_format_double_like_cel(value: float, text: str) -> None:
    assert format_double(value) == text


def test_format_double_fixed() -> None:
    assert format_double_fixed(1e21) == "1000000000000000000000"
    assert format_double_fixed(1.5e-7) == "0.00000015"
    assert format_double_fixed(float("inf")) == "Infinity"
    assert format_double_fixed(float("-inf")) == "-Infinity"


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_format_double_round_trips(value: float) -> None:
    assert float(format_double(value)) == value
    assert float(format_double_fixed(value)) == value


def test_to_text_of_every_kind() -> None:
    assert to_text("x") == "x"
    assert to_text(42) == "42"
    assert to_text(UInt(7)) == "7"
    assert to_text(1.5) == "1.5"
    assert to_text(True) == "true"
    assert to_text(None) == "null"
    assert to_text(b"caf\xc3\xa9") == "café"
    assert to_text(parse_duration("1.5s")) == "1.5s"
    assert to_text(parse_timestamp("2009-02-13T23:31:30Z")) == "2009-02-13T23:31:30Z"
    assert to_text(INT_TYPE) == "int"
    assert to_text([1, "a", None]) == '[1,"a",null]'
    assert to_text(build_map([("k", [True]), (1, 2.5)])) == '{"k":[true],"1":2.5}'
    with pytest.raises(EvalError):
        to_text(b"\xff")


def test_secrets_never_print() -> None:
    token = Secret("hunter2", source="TOKEN")
    assert "hunter2" not in str(token)
    assert "hunter2" not in repr(token)
    assert "hunter2" not in f"{token}"
    assert "hunter2" not in f"{token!r}"
    assert "hunter2" not in to_text(token)
    assert "hunter2" not in to_text([token])
    assert "hunter2" not in json_text({"t": token})
    assert "hunter2" not in describe_value(token)
    assert to_json(token) == REDACTED
    assert to_json(token, reveal_secrets=True) == "hunter2"
    assert token.reveal() == "hunter2"
    with pytest.raises(TypeError):
        pickle.dumps(token)
    assert copy.deepcopy(token) is token


def test_interpolation_with_a_secret_is_a_secret() -> None:
    token = Secret("hunter2")
    result = interpolate(["Bearer ", token])
    assert isinstance(result, Secret)
    assert result.reveal() == "Bearer hunter2"
    nested = interpolate(["x=", {"a": [token]}])
    assert isinstance(nested, Secret)
    assert nested.reveal() == 'x={"a":["hunter2"]}'
    plain = interpolate(["n=", 3, " f=", 2.5, " d=", parse_duration("90s")])
    assert plain == "n=3 f=2.5 d=90s"
    assert contains_secret({"a": [token]})
    assert not contains_secret({"a": ["x"]})


def test_rendering_is_bounded_even_with_shared_values() -> None:
    big = "x" * 1_000_000
    value: object = [big] * 4
    for _ in range(4):
        value = [value, value, value]
    with pytest.raises(EvalError) as caught:
        to_text(value)
    assert caught.value.kind == "limit"
    with pytest.raises(EvalError):
        json_text(value)


def test_deep_nesting_is_a_limit_error_not_a_crash() -> None:
    value: object = []
    for _ in range(2000):
        value = [value]
    with pytest.raises(EvalError) as caught:
        to_text(value)
    assert caught.value.kind == "limit"
    with pytest.raises(EvalError):
        parse_json("[" * 100_000 + "]" * 100_000)


def test_describe_value_truncates() -> None:
    assert describe_value("x" * 500).endswith('..."')
    assert len(describe_value("x" * 500)) < 80
    assert describe_value(MAX_SIZE) == str(MAX_SIZE)


# --------------------------------------------------------------------------- JSON


def test_to_json_mapping() -> None:
    assert to_json(
        {
            "i": 1,
            "u": UInt(2),
            "f": 1.5,
            "nan": float("nan"),
            "inf": float("-inf"),
            "b": b"hello",
            "d": parse_duration("1m"),
            "t": parse_timestamp("2009-02-13T23:31:30Z"),
            "n": None,
            "l": [True],
        }
    ) == {
        "i": 1,
        "u": 2,
        "f": 1.5,
        "nan": "NaN",
        "inf": "-Infinity",
        "b": "aGVsbG8=",
        "d": "60s",
        "t": "2009-02-13T23:31:30Z",
        "n": None,
        "l": [True],
    }
    assert to_json(build_map([(1, "a"), (True, "b")])) == {"1": "a", "true": "b"}
    assert type(to_json(UInt(2))) is int


def test_from_json_numbers() -> None:
    assert parse_json("1") == 1 and type(parse_json("1")) is int
    assert type(parse_json("1.0")) is float
    assert type(parse_json("1e2")) is float
    assert parse_json("18446744073709551616") == 1.8446744073709552e19
    assert parse_json('{"a": [1, "x", null, true]}') == {"a": [1, "x", None, True]}
    for bad in ["NaN", "Infinity", "{", "[1,]", "'x'"]:
        with pytest.raises(EvalError) as caught:
            parse_json(bad)
        assert caught.value.kind == "invalid argument"
    with pytest.raises(EvalError):
        from_json({1: 2})
    with pytest.raises(EvalError):
        from_json(object())


_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=INT64_MIN, max_value=INT64_MAX)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    _json_scalars,
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=25,
)


@given(json_values)
def test_json_round_trip(value: object) -> None:
    assert equals(parse_json(json_text(value)), value)
    assert parse_json(json_text(value)) == to_json(value)


cel_values = st.recursive(
    _json_scalars
    | st.builds(UInt, st.integers(min_value=0, max_value=UINT64_MAX))
    | st.binary(max_size=8)
    | st.floats(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(
            st.tuples(st.one_of(st.text(max_size=3), st.integers(-3, 3), st.booleans()), children),
            max_size=4,
        ).map(lambda pairs: build_map(pairs) if _distinct_keys(pairs) else {})
    ),
    max_leaves=20,
)


def _distinct_keys(pairs: Sequence[tuple[object, object]]) -> bool:
    try:
        build_map(pairs)
    except EvalError:
        return False
    return True


def _has_nan(value: object) -> bool:
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, list):
        return any(_has_nan(item) for item in value)
    if isinstance(value, dict):
        return any(_has_nan(item) for item in value.values())
    return False


@given(cel_values)
def test_equals_is_reflexive_except_nan(value: object) -> None:
    assert equals(value, value) is not _has_nan(value)


@given(cel_values, cel_values)
def test_equals_is_symmetric(left: object, right: object) -> None:
    assert equals(left, right) is equals(right, left)
