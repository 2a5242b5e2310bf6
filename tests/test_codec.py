"""The store's value codec: every value type round-trips exactly, secrets never encode.

Hypothesis generates values of every kind the value model has — int (64-bit), uint,
double (NaN and the infinities included), bool, string, bytes, null, duration,
timestamp, type values, lists, and maps with string, int, uint and bool keys, nested —
and checks that ``decode(encode(v))`` is the same value *with the same types*
(``3u`` stays a uint, ``1.0`` stays a double, ``b"x"`` stays bytes).  A value holding a
secret anywhere is refused; damaged text is a ``CodecError``, never another exception.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowc.common.values import (
    DURATION_MAX_NANOS,
    DURATION_MIN_NANOS,
    INT64_MAX,
    INT64_MIN,
    TIMESTAMP_MAX_NANOS,
    TIMESTAMP_MIN_NANOS,
    BoolKey,
    Duration,
    Secret,
    Timestamp,
    UInt,
    bool_key,
)
from flowc.common.values_core import TYPE_IDENTIFIERS
from flowc.runtime import codec

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(INT64_MIN, INT64_MAX),
    st.integers(0, 2**64 - 1).map(UInt),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.binary(),
    st.integers(DURATION_MIN_NANOS, DURATION_MAX_NANOS).map(Duration),
    st.integers(TIMESTAMP_MIN_NANOS, TIMESTAMP_MAX_NANOS).map(Timestamp),
    st.sampled_from(sorted(set(TYPE_IDENTIFIERS.values()), key=str)),
)
keys = st.one_of(
    st.text(),
    st.text().map(lambda t: "$" + t),  # keys that look like the codec's tags
    st.integers(INT64_MIN, INT64_MAX),
    st.integers(0, 2**64 - 1).map(UInt),
    st.booleans().map(bool_key),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(keys, inner, max_size=5),
    ),
    max_leaves=30,
)


def same(left: Any, right: Any) -> bool:
    """Equal values of the same types, all the way down (NaN is the same as NaN)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, float):
        return (math.isnan(left) and math.isnan(right)) or left == right
    if isinstance(left, list):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right, strict=True))
    if isinstance(left, dict):
        if len(left) != len(right):
            return False
        right_items = {_key_identity(k): (k, v) for k, v in right.items()}
        for key, value in left.items():
            match = right_items.get(_key_identity(key))
            if match is None or not same(key, match[0]) or not same(value, match[1]):
                return False
        return True
    return bool(left == right)


def _key_identity(key: Any) -> Any:
    return ("bool", key.value) if isinstance(key, BoolKey) else (type(key).__name__, key)


@settings(max_examples=400, deadline=None)
@given(values)
def test_every_value_round_trips_exactly(value: Any) -> None:
    text = codec.encode(value)
    json.loads(text)  # the encoding is standard JSON (no NaN literals)
    assert same(codec.decode(text), value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (UInt(3), '{"$u":3}'),
        (1.0, "1.0"),
        (1, "1"),
        (b"\x00\x01", '{"$b":"AAE="}'),
        (Duration(1_500_000_000), '{"$d":1500000000}'),
        (float("-inf"), '{"$f":"-inf"}'),
        ({"$u": 1}, '{"$m":[["$u",1]]}'),
        ({1: "a", bool_key(True): "b"}, '{"$m":[[1,"a"],[{"$k":true},"b"]]}'),
    ],
)
def test_the_encoding_is_the_documented_one(value: Any, text: str) -> None:
    assert codec.encode(value) == text
    assert same(codec.decode(text), value)


@pytest.mark.parametrize(
    "value",
    [Secret("hunter2"), [1, Secret("s")], {"a": {"b": [Secret("s")]}}, {Secret("k"): 1}],
)
def test_a_secret_anywhere_is_refused(value: Any) -> None:
    with pytest.raises(codec.SecretValue):
        codec.encode(value)


@pytest.mark.parametrize(
    "text",
    ["{", '{"$u":-1}', '{"$b":"%%%"}', '{"$d":1e40}', '{"$q":1}', '{"$type":"nope"}',
     '{"$m":[[1]]}', '{"$f":"big"}'],
)  # fmt: skip
def test_damaged_text_is_a_codec_error(text: str) -> None:
    with pytest.raises(codec.CodecError):
        codec.decode(text)
