"""Tests of flowc.runtime.decode: response bodies, validation against declared
types, CLI inputs and request encoders."""

from __future__ import annotations

import contextlib
import json
import math
import urllib.parse
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowc.common import types as T
from flowc.common import values
from flowc.common.types import Field, ListT, MapT, OptionalT, RecordT, Type, TypeParam
from flowc.common.values import (
    FALSE_KEY,
    TRUE_KEY,
    Duration,
    EvalError,
    Secret,
    Timestamp,
    UInt,
    from_json,
)
from flowc.runtime.decode import (
    DecodeError,
    coerce_input,
    decode_body,
    form_encode,
    text_of,
    to_request_json,
    validate,
)


def same(left: object, right: object) -> bool:
    """Deep equality that also insists on the same Python types (1 is not 1.0
    nor UInt(1)) and treats NaN as equal to itself."""
    if type(left) is not type(right):
        return False
    if isinstance(left, float) and isinstance(right, float):
        return left == right or (math.isnan(left) and math.isnan(right))
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(same, left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(v, right[k]) for k, v in left.items())
    return left == right


def decode_error(call: Any, *args: object) -> DecodeError:
    with pytest.raises(DecodeError) as caught:
        call(*args)
    return caught.value


# --------------------------------------------------------------------------- DecodeError


def test_decode_error_text_is_path_then_message() -> None:
    error = DecodeError("$.items[3].id", "expected int, found string")
    assert str(error) == "$.items[3].id: expected int, found string"
    assert error.path == "$.items[3].id"
    assert error.message == "expected int, found string"
    assert "DecodeError" in repr(error)


# --------------------------------------------------------------------------- decode_body


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json; charset=utf-8",
        'Application/JSON; Charset="UTF-8"',
        "application/problem+json",
        "application/vnd.api+json",
        "text/json",
    ],
)
def test_json_bodies_become_flow_values(content_type: str) -> None:
    body = b'{"id": 7, "score": 1.5, "tags": ["a"], "ok": true, "none": null}'
    result = decode_body(body, content_type)
    assert same(result, {"id": 7, "score": 1.5, "tags": ["a"], "ok": True, "none": None})


def test_json_numbers_follow_from_json() -> None:
    assert same(
        decode_body(b"[1, 1.0, 9223372036854775808]", "application/json"), [1, 1.0, 2.0**63]
    )


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", None, "image/png"])
def test_empty_body_is_null(content_type: str | None) -> None:
    assert decode_body(b"", content_type) is None


def test_json_encoding_is_detected_without_charset() -> None:
    assert decode_body('{"a": "é"}'.encode("utf-16"), "application/json") == {"a": "é"}
    assert decode_body('["é"]'.encode("utf-8-sig"), "application/json") == ["é"]


def test_json_explicit_charset_is_honoured() -> None:
    assert decode_body('["é"]'.encode("latin-1"), "application/json; charset=iso-8859-1") == ["é"]
    assert decode_body('\ufeff["x"]'.encode(), "application/json; charset=utf-8") == ["x"]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b'{"a": 1,}', "line 1 column 9"),
        (b'{\n  "a": 1\n  "b": 2\n}', "line 3 column 3"),
        (b"nope", "line 1 column 1"),
        (b"[NaN]", "NaN"),
        (b"[Infinity]", "Infinity"),
        (b"\xff\xfe\xfa", "invalid JSON"),
    ],
)
def test_invalid_json_is_a_decode_error_at_the_root(body: bytes, fragment: str) -> None:
    error = decode_error(decode_body, body, "application/json")
    assert error.path == "$"
    assert error.message.startswith("invalid JSON")
    assert fragment in error.message


@pytest.mark.parametrize(
    "number",
    [
        b"9" * 309,  # the first integer length no double holds
        b"9" * 400,
        b"9" * 4300,  # Python's default limit for int()
        b"9" * 5000,  # beyond it: int() would talk about sys.set_int_max_str_digits()
        b"-" + b"9" * 1000,
        b"9" * 200_000,  # read in linear time, never by int()
        b"1e400",
        b"-1e400",
        b"1" + b"0" * 400 + b".5",
    ],
)
def test_numbers_no_double_holds_are_decode_errors(number: bytes) -> None:
    for document in (number, b'{"n": [1, ' + number + b"]}"):
        error = decode_error(decode_body, document, "application/json")
        assert error.path == "$"
        assert error.message == "a number out of the range of double (larger than about 1.8e308)"


@given(st.integers(min_value=1, max_value=6000), st.booleans(), st.sampled_from("0123456789"))
@settings(max_examples=60, deadline=None)
def test_integers_of_any_length_decode_or_fail_cleanly(
    digits: int, negative: bool, first: str
) -> None:
    text = ("-" if negative else "") + first.replace("0", "1") + "7" * (digits - 1)
    try:
        decoded = decode_body(f'{{"n": {text}}}'.encode(), "application/json")
    except DecodeError as error:
        assert digits >= 309 and "out of the range of double" in error.message
        return
    number = decoded["n"]  # type: ignore[index]
    if values.INT64_MIN <= int(text) <= values.INT64_MAX:
        assert type(number) is int and number == int(text)
    else:
        assert type(number) is float and number == float(text)


def test_validated_numbers_out_of_range_are_decode_errors() -> None:
    huge = decode_body(b'{"n": ' + b"9" * 30 + b"}", "application/json")
    error = decode_error(validate, huge, RecordT((Field("n", T.INT),)))
    assert error.path == "$.n"
    assert "out of int64 range" in error.message
    assert validate(huge, RecordT((Field("n", T.FLOAT),))) == {"n": 1e30}


def test_decoded_bodies_obey_the_value_caps() -> None:
    long_list = b"[" + b"0," * values.MAX_LIST_LENGTH + b"0]"
    assert "longer than 1000000" in decode_error(decode_body, long_list, "application/json").message
    wide_map = b"{" + b",".join(b'"%d":0' % i for i in range(values.MAX_LIST_LENGTH + 1)) + b"}"
    assert "more than 1000000" in decode_error(decode_body, wide_map, "application/json").message
    long_string = b'"' + b"a" * (values.MAX_SIZE + 1) + b'"'
    assert (
        "longer than 10000000" in decode_error(decode_body, long_string, "application/json").message
    )
    at_the_caps = b'[["' + b"a" * values.MAX_SIZE + b'"], [' + b"0," * 999_999 + b"0]]"
    decoded = decode_body(at_the_caps, "application/json")
    assert [len(part) for part in decoded] == [1, values.MAX_LIST_LENGTH]  # type: ignore[union-attr]


def test_json_decode_and_inputs_apply_the_same_number_rules() -> None:
    with pytest.raises(EvalError, match="out of the range of double"):
        values.parse_json("9" * 5000)
    with pytest.raises(EvalError, match="out of the range of double"):
        from_json(10**400)
    assert from_json(10**30) == 1e30
    error = decode_error(coerce_input, "9" * 5000, T.INT)
    assert error.message == "expected int, found an integer of 5000 digits (out of int64 range)"
    assert coerce_input("0" * 60 + "1_000", T.INT) == 1000
    error = decode_error(coerce_input, "[" + "9" * 400 + "]", T.JSON)
    assert "out of the range of double" in error.message


def test_json_nested_too_deeply_is_a_decode_error() -> None:
    moderately = b"[" * 200 + b"]" * 200  # deeper than values.MAX_DEPTH
    assert "nested deeper" in decode_error(decode_body, moderately, "application/json").message
    absurdly = b"[" * 100_000 + b"]" * 100_000  # deeper than Python's recursion limit
    assert "nested too deeply" in decode_error(decode_body, absurdly, "application/json").message


@pytest.mark.parametrize(
    ("content_type", "body", "expected"),
    [
        ("text/plain", "héllo".encode(), "héllo"),
        ("text/plain", "\ufeffhi".encode(), "hi"),  # a UTF-8 BOM is not content
        ("text/html; charset=ISO-8859-1", "héllo".encode("latin-1"), "héllo"),
        ("text/csv;charset=utf-16", "a,b".encode("utf-16"), "a,b"),
        ("application/xml", b"<a/>", "<a/>"),
        ("application/atom+xml", b"<feed/>", "<feed/>"),
        ("application/javascript", b"f()", "f()"),
        ("application/x-www-form-urlencoded", b"a=1&b=2", "a=1&b=2"),
        ("application/weird; charset=utf-8", b"text", "text"),
    ],
)
def test_text_bodies_become_strings(content_type: str, body: bytes, expected: str) -> None:
    assert decode_body(body, content_type) == expected


@pytest.mark.parametrize(
    "content_type", [None, "", "application/octet-stream", "image/png", "json"]
)
def test_other_bodies_stay_bytes(content_type: str | None) -> None:
    result = decode_body(b"\x00\x01{}", content_type)
    assert type(result) is bytes
    assert result == b"\x00\x01{}"


def test_text_that_is_not_valid_in_its_charset() -> None:
    error = decode_error(decode_body, b"caf\xe9", "text/plain")
    assert error.path == "$"
    assert "not valid utf-8" in error.message


@pytest.mark.parametrize("charset", ["klingon", "zlib", "hex", "rot13", "base64", "utf-8\x00"])
def test_unknown_or_non_text_charset(charset: str) -> None:
    error = decode_error(decode_body, b"abc", f"text/plain; charset={charset}")
    assert error.path == "$"


def test_oversized_text_and_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(values, "MAX_SIZE", 8)
    assert decode_body(b"12345678", "text/plain") == "12345678"
    assert "larger than" in decode_error(decode_body, b"123456789", "text/plain").message
    assert "larger than" in decode_error(decode_body, b"123456789", None).message


CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-16",
            "application/problem+json; charset=latin-1",
            "text/plain",
            "text/plain; charset=utf-32",
            "text/plain; charset=bogus",
            "text/plain; charset=idna",
            "text/plain; charset=punycode",
            "text/plain; charset=utf-7",
            "application/xml",
            "application/octet-stream",
            "+json",
            ";charset=",
        ]
    ),
    st.text(max_size=40),
)


@given(st.binary(max_size=200), CONTENT_TYPES)
@settings(max_examples=400)
def test_decode_body_raises_only_decode_errors(content: bytes, content_type: str | None) -> None:
    with contextlib.suppress(DecodeError):
        result = decode_body(content, content_type)
        assert result is None or type(result) in (str, bytes) or content_type is not None


JSON_TEXT_BYTES = st.recursive(
    st.sampled_from([b"null", b"1", b"-0.5e3", b'"x"', b"true", b"[", b"{", b"}", b"]", b","]),
    lambda inner: st.lists(inner, max_size=5).map(b"".join),
    max_leaves=20,
)


@given(JSON_TEXT_BYTES)
def test_decode_body_raises_only_decode_errors_on_json_like_bytes(content: bytes) -> None:
    with contextlib.suppress(DecodeError):
        result = decode_body(content, "application/json")
        assert same(result, from_json(json.loads(content)) if content else None)


# --------------------------------------------------------------------------- validate: scalars


@pytest.mark.parametrize(
    ("value", "expected_type", "expected"),
    [
        (3, T.INT, 3),
        (-(2**63), T.INT, -(2**63)),
        (1.0, T.INT, 1),
        (-4e3, T.INT, -4000),
        (3, T.UINT, UInt(3)),
        (3.0, T.UINT, UInt(3)),
        (UInt(5), T.UINT, UInt(5)),
        (UInt(5), T.INT, 5),
        (2, T.FLOAT, 2.0),
        (UInt(2), T.FLOAT, 2.0),
        (2.5, T.FLOAT, 2.5),
        ("Infinity", T.FLOAT, math.inf),
        ("-Infinity", T.FLOAT, -math.inf),
        ("NaN", T.FLOAT, math.nan),
        (True, T.BOOL, True),
        ("x", T.STRING, "x"),
        ("", T.STRING, ""),
        (None, T.NULL, None),
        ("aGk=", T.BYTES, b"hi"),
        ("aGk", T.BYTES, b"hi"),  # padding optional
        ("-_8=", T.BYTES, b"\xfb\xff"),  # URL-safe alphabet
        ("+/8=", T.BYTES, b"\xfb\xff"),
        ("", T.BYTES, b""),
        (b"raw", T.BYTES, b"raw"),
        ("1.5s", T.DURATION, Duration(1_500_000_000)),
        ("1m30s", T.DURATION, Duration(90 * 10**9)),
        (Duration(5), T.DURATION, Duration(5)),
        ("2024-05-01T12:00:00Z", T.TIMESTAMP, Timestamp.from_seconds(1_714_564_800)),
        ("2024-05-01T14:00:00.5+02:00", T.TIMESTAMP, Timestamp(1_714_564_800_500_000_000)),
        (Timestamp(0), T.TIMESTAMP, Timestamp(0)),
    ],
)
def test_scalars(value: object, expected_type: Type, expected: object) -> None:
    assert same(validate(value, expected_type), expected)


@pytest.mark.parametrize(
    ("value", "expected_type", "message"),
    [
        ("3", T.INT, "expected int, found string"),
        (1.5, T.INT, "expected int, found float 1.5"),
        (math.inf, T.INT, "expected int, found float +Inf"),
        (math.nan, T.INT, "expected int, found float NaN"),
        (True, T.INT, "expected int, found bool"),
        (None, T.INT, "expected int, found null"),
        (1e30, T.INT, "expected int, found 1e+30 (out of int64 range)"),
        (2.0**63, T.INT, "out of int64 range"),
        (-1, T.UINT, "expected uint, found negative number -1"),
        (-1.0, T.UINT, "expected uint, found negative number -1"),
        (2.0**64, T.UINT, "out of uint64 range"),
        ("1", T.FLOAT, "expected float, found string"),
        ("nan", T.FLOAT, "expected float, found string"),
        (False, T.FLOAT, "expected float, found bool"),
        ("true", T.BOOL, "expected bool, found string"),
        (1, T.BOOL, "expected bool, found int"),
        (1, T.STRING, "expected string, found int"),
        ([], T.STRING, "expected string, found list"),
        ({}, T.STRING, "expected string, found map"),
        (0, T.NULL, "expected null, found int"),
        ("not base64!", T.BYTES, "expected bytes (base64)"),
        ("abcde", T.BYTES, "expected bytes (base64)"),
        (5, T.BYTES, "expected bytes, found int"),
        ("soon", T.DURATION, "expected duration, found a string that is not a duration"),
        ("99999999999h", T.DURATION, "out of duration range"),
        (1.5, T.DURATION, "expected duration, found float"),
        ("yesterday", T.TIMESTAMP, "expected timestamp, found a string that is not a timestamp"),
        ("0000-01-01T00:00:00Z", T.TIMESTAMP, "out of timestamp range"),
        (0, T.TIMESTAMP, "expected timestamp, found int"),
        (5, T.SECRET, "expected secret, found int"),
    ],
)
def test_scalar_mismatches(value: object, expected_type: Type, message: str) -> None:
    error = decode_error(validate, value, expected_type)
    assert error.path == "$"
    assert message in error.message


def test_json_accepts_anything_unchanged() -> None:
    document = {"a": [1, None, {"b": 2.5}]}
    assert validate(document, T.JSON) is document
    assert validate(None, T.JSON) is None


def test_secret_wraps_the_string_without_showing_it() -> None:
    result = validate("hunter2", T.SECRET)
    assert type(result) is Secret
    assert result.reveal() == "hunter2"
    assert "hunter2" not in f"{result} {result!r}"
    assert validate(result, T.SECRET) is result


def test_types_that_cannot_be_decoded() -> None:
    assert "cannot decode" in decode_error(validate, 1, T.TYPE).message
    assert "cannot decode" in decode_error(validate, 1, TypeParam("A")).message


# --------------------------------------------------------------------------- validate: structures

USER = RecordT(
    (Field("id", T.INT), Field("name", T.STRING), Field("email", T.STRING, optional=True)),
    name="User",
)


def test_record_fills_absent_optional_fields_with_null() -> None:
    assert validate({"id": 1, "name": "Ada"}, USER) == {"id": 1, "name": "Ada", "email": None}


def test_record_accepts_null_for_an_optional_field() -> None:
    result = validate({"id": 1, "name": "Ada", "email": None}, USER)
    assert result == {"id": 1, "name": "Ada", "email": None}


def test_record_keeps_extra_fields() -> None:
    result = validate({"id": 1, "name": "Ada", "role": "admin", "email": "a@b"}, USER)
    assert result == {"id": 1, "name": "Ada", "role": "admin", "email": "a@b"}


def test_record_converts_its_fields() -> None:
    record = RecordT((Field("wait", T.DURATION), Field("count", T.UINT)))
    result = validate({"wait": "2s", "count": 3.0}, record)
    assert same(result, {"wait": Duration(2 * 10**9), "count": UInt(3)})


def test_record_does_not_modify_its_input() -> None:
    document: dict[object, object] = {"id": 1, "name": "Ada"}
    validate(document, USER)
    assert document == {"id": 1, "name": "Ada"}


def test_missing_required_field() -> None:
    error = decode_error(validate, {"name": "Ada"}, USER)
    assert str(error) == "$: missing field `id`"


def test_nullable_required_field_must_still_be_present() -> None:
    record = RecordT((Field("next", OptionalT(T.STRING)),))
    assert validate({"next": None}, record) == {"next": None}
    assert str(decode_error(validate, {}, record)) == "$: missing field `next`"


def test_record_mismatch_names_the_record() -> None:
    assert str(decode_error(validate, [1], USER)) == "$: expected User, found list"
    anonymous = RecordT((Field("a", T.INT), Field("b", T.STRING, optional=True)))
    assert (
        str(decode_error(validate, "x", anonymous))
        == "$: expected {a: int, b?: string}, found string"
    )


def test_optional_type() -> None:
    assert validate(None, OptionalT(T.INT)) is None
    assert validate(3, OptionalT(T.INT)) == 3
    assert str(decode_error(validate, "3", OptionalT(T.INT))) == "$: expected int, found string"


def test_list() -> None:
    assert same(validate([1, 2.0], ListT(T.INT)), [1, 2])
    assert str(decode_error(validate, {"a": 1}, ListT(T.INT))) == "$: expected list[int], found map"
    assert str(decode_error(validate, [1, "2"], ListT(T.INT))) == "$[1]: expected int, found string"


def test_nested_paths() -> None:
    page = RecordT((Field("items", ListT(RecordT((Field("id", T.INT),)))),))
    document = {"items": [{"id": 0}, {"id": 1}, {"id": 2}, {"id": "3"}]}
    error = decode_error(validate, document, page)
    assert str(error) == "$.items[3].id: expected int, found string"
    document["items"][3] = {}
    assert str(decode_error(validate, document, page)) == "$.items[3]: missing field `id`"
    document["items"][3] = {"id": None}
    assert str(decode_error(validate, document, page)) == "$.items[3].id: expected int, found null"


def test_field_names_that_are_not_identifiers_are_quoted_in_paths() -> None:
    record = RecordT((Field("content-type", T.STRING), Field("ok", T.BOOL)))
    error = decode_error(validate, {"content-type": 1, "ok": True}, record)
    assert error.path == '$["content-type"]'
    headers = MapT(T.STRING, T.INT)
    assert decode_error(validate, {"a b": "x"}, headers).path == '$["a b"]'


def test_map_with_string_keys() -> None:
    assert validate({"a": 1, "b": 2}, MapT(T.STRING, T.INT)) == {"a": 1, "b": 2}
    error = decode_error(validate, {"a": 1, "b": "2"}, MapT(T.STRING, T.INT))
    assert str(error) == "$.b: expected int, found string"
    assert "found list" in decode_error(validate, [], MapT(T.STRING, T.INT)).message


def test_map_keys_are_parsed_to_the_key_type() -> None:
    assert same(validate({"1": "a", "-2": "b"}, MapT(T.INT, T.STRING)), {1: "a", -2: "b"})
    assert same(validate({"3": True}, MapT(T.UINT, T.BOOL)), {UInt(3): True})
    booleans = validate({"true": 1, "false": 0}, MapT(T.BOOL, T.INT))
    assert booleans == {TRUE_KEY: 1, FALSE_KEY: 0}
    assert validate({"x": 1}, MapT(T.JSON, T.INT)) == {"x": 1}


def test_map_key_errors() -> None:
    error = decode_error(validate, {"one": "a"}, MapT(T.INT, T.STRING))
    assert str(error) == '$.one: invalid map key: expected int, found "one"'
    repeated = decode_error(validate, {"1": "a", "01": "b"}, MapT(T.INT, T.STRING))
    assert repeated.path == "$"
    assert "repeated map key" in repeated.message


def test_flow_maps_with_non_string_keys_pass() -> None:
    flow_map = values.build_map([(1, "a"), (True, "b")])
    assert validate(flow_map, MapT(T.JSON, T.STRING)) == flow_map
    assert same(validate({1: "a"}, MapT(T.INT, T.STRING)), {1: "a"})
    assert "invalid map key" in decode_error(validate, {1: "a"}, MapT(T.STRING, T.STRING)).message


def test_validation_messages_do_not_quote_received_text() -> None:
    record = RecordT((Field("token", T.INT), Field("card", ListT(T.INT))))
    for document in ({"token": "s3cr3t-value"}, {"token": 1, "card": ["4111-1111"]}):
        error = decode_error(validate, document, record)
        assert "s3cr3t" not in str(error)
        assert "4111" not in str(error)


# --------------------------------------------------------------------------- validate: properties

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=values.INT64_MIN, max_value=values.INT64_MAX),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=10),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=25,
)


def infer_type(value: object) -> Type:
    """The most precise semantic type of a JSON value."""
    if value is None:
        return T.NULL
    if type(value) is bool:
        return T.BOOL
    if type(value) is int:
        return T.INT
    if type(value) is float:
        return T.FLOAT
    if type(value) is str:
        return T.STRING
    if type(value) is list:
        element_types = {infer_type(item) for item in value}
        return ListT(element_types.pop() if len(element_types) == 1 else T.JSON)
    assert type(value) is dict
    return RecordT(tuple(Field(key, infer_type(item)) for key, item in value.items()))


@given(JSON_VALUES)
def test_json_values_validate_against_their_inferred_types(value: object) -> None:
    decoded = from_json(json.loads(json.dumps(value)))
    result = validate(decoded, infer_type(value))
    assert same(result, from_json(value))


FIELD_NAMES = st.sampled_from(["id", "name", "a b", "x-y", "ok", "é", ""])
KEY_TYPES = st.sampled_from([T.STRING, T.INT, T.UINT, T.BOOL])
SCALAR_TYPES = st.sampled_from(
    [
        T.INT,
        T.UINT,
        T.FLOAT,
        T.BOOL,
        T.STRING,
        T.BYTES,
        T.NULL,
        T.DURATION,
        T.TIMESTAMP,
        T.SECRET,
        T.JSON,
    ]
)


def records(inner: st.SearchStrategy[Type]) -> st.SearchStrategy[Type]:
    field = st.tuples(FIELD_NAMES, inner, st.booleans())
    return st.lists(field, max_size=4, unique_by=lambda f: f[0]).map(
        lambda fields: RecordT(tuple(Field(name, t, optional) for name, t, optional in fields))
    )


TYPES = st.recursive(
    SCALAR_TYPES,
    lambda inner: st.one_of(
        inner.map(ListT),
        st.builds(MapT, KEY_TYPES, inner),
        inner.map(OptionalT),
        records(inner),
    ),
    max_leaves=8,
)

SCALAR_VALUES: dict[Type, st.SearchStrategy[object]] = {
    T.INT: st.integers(min_value=values.INT64_MIN, max_value=values.INT64_MAX),
    # uints above int64 lose precision in from_json (they become floats)
    T.UINT: st.integers(min_value=0, max_value=values.INT64_MAX).map(UInt),
    T.FLOAT: st.floats(allow_nan=False),
    T.BOOL: st.booleans(),
    T.STRING: st.text(max_size=10),
    T.BYTES: st.binary(max_size=10),
    T.NULL: st.none(),
    T.DURATION: st.integers(min_value=values.INT64_MIN, max_value=values.INT64_MAX).map(Duration),
    T.TIMESTAMP: st.integers(
        min_value=values.TIMESTAMP_MIN_NANOS, max_value=values.TIMESTAMP_MAX_NANOS
    ).map(Timestamp),
    T.SECRET: st.text(max_size=10).map(Secret),
    T.JSON: JSON_VALUES.map(from_json),
}


def values_of(expected: Type) -> st.SearchStrategy[object]:
    """`.flow` values of a semantic type."""
    if expected in SCALAR_VALUES:
        return SCALAR_VALUES[expected]
    if isinstance(expected, ListT):
        return st.lists(values_of(expected.elem), max_size=3)
    if isinstance(expected, OptionalT):
        return st.none() | values_of(expected.inner)
    if isinstance(expected, MapT):
        entries = st.dictionaries(values_of(expected.key), values_of(expected.value), max_size=3)
        return entries.map(lambda mapping: values.build_map(mapping.items()))
    assert isinstance(expected, RecordT)
    required = {f.name: values_of(f.type) for f in expected.fields if not f.optional}
    optional = {f.name: st.none() | values_of(f.type) for f in expected.fields if f.optional}
    return st.fixed_dictionaries(required, optional=optional)


def with_absent_fields_filled(value: object, expected: Type) -> object:
    """What validation stores for ``value``: absent optional fields read null."""
    if value is None:
        return None
    if isinstance(expected, OptionalT):
        return with_absent_fields_filled(value, expected.inner)
    if isinstance(expected, ListT):
        return [with_absent_fields_filled(item, expected.elem) for item in value]  # type: ignore[attr-defined]
    if isinstance(expected, MapT):
        return {k: with_absent_fields_filled(v, expected.value) for k, v in value.items()}  # type: ignore[attr-defined]
    if isinstance(expected, RecordT):
        result = dict(value)  # type: ignore[call-overload]
        for f in expected.fields:
            result[f.name] = with_absent_fields_filled(result.get(f.name), f.type)
        return result
    return value


@given(st.data())
@settings(max_examples=300)
def test_request_json_round_trips_through_decode_and_validate(data: st.DataObject) -> None:
    expected_type = data.draw(TYPES, label="type")
    value = data.draw(values_of(expected_type), label="value")
    wire = to_request_json(value)
    decoded = decode_body(wire, "application/json")
    result = validate(decoded, expected_type)
    assert same(result, with_absent_fields_filled(value, expected_type))


# --------------------------------------------------------------------------- coerce_input


@pytest.mark.parametrize(
    ("text", "expected_type", "expected"),
    [
        ("3", T.INT, 3),
        (" -42 ", T.INT, -42),
        ("+7", T.INT, 7),
        ("1_000", T.INT, 1000),
        ("9223372036854775807", T.INT, 2**63 - 1),
        ("3", T.UINT, UInt(3)),
        ("3u", T.UINT, UInt(3)),
        ("18446744073709551615", T.UINT, UInt(2**64 - 1)),
        ("2.5", T.FLOAT, 2.5),
        ("3", T.FLOAT, 3.0),
        ("1e3", T.FLOAT, 1000.0),
        ("inf", T.FLOAT, math.inf),
        ("true", T.BOOL, True),
        ("False", T.BOOL, False),
        ("hello", T.STRING, "hello"),
        ('{"a": 1}', T.STRING, '{"a": 1}'),
        ('{"a": [1, "x"]}', T.JSON, {"a": [1, "x"]}),
        ("42", T.JSON, 42),
        ("hello world", T.JSON, "hello world"),  # not JSON at all: the text itself
        ("{oops", T.JSON, "{oops"),
        ("42", T.STRING, "42"),
        ("", T.STRING, ""),
        (" padded ", T.STRING, " padded "),
        ("héllo", T.BYTES, "héllo".encode()),
        ("null", T.NULL, None),
        ("2s", T.DURATION, Duration(2 * 10**9)),
        ("1m30s", T.DURATION, Duration(90 * 10**9)),
        ("2024-05-01T12:00:00Z", T.TIMESTAMP, Timestamp.from_seconds(1_714_564_800)),
        ('{"x": [1, 2]}', T.JSON, {"x": [1, 2]}),
        ("hello", OptionalT(T.STRING), "hello"),
        ("null", OptionalT(T.STRING), "null"),
        ("null", OptionalT(T.INT), None),
        ("5", OptionalT(T.INT), 5),
        ("[1, 2]", ListT(T.INT), [1, 2]),
        ('{"a": "1s"}', MapT(T.STRING, T.DURATION), {"a": Duration(10**9)}),
        ('{"1": true}', MapT(T.INT, T.BOOL), {1: True}),
        ('{"id": 1, "name": "Ada"}', USER, {"id": 1, "name": "Ada", "email": None}),
    ],
)
def test_coerce_input(text: str, expected_type: Type, expected: object) -> None:
    assert same(coerce_input(text, expected_type), expected)


def test_coerce_input_secret() -> None:
    result = coerce_input("hunter2", T.SECRET)
    assert type(result) is Secret
    assert result.reveal() == "hunter2"
    assert type(coerce_input("x", OptionalT(T.SECRET))) is Secret


@pytest.mark.parametrize(
    ("text", "expected_type", "message"),
    [
        ("abc", T.INT, 'expected int, found "abc"'),
        ("1.5", T.INT, 'expected int, found "1.5"'),
        ("", T.INT, 'expected int, found ""'),
        ("0x10", T.INT, 'expected int, found "0x10"'),
        ("9223372036854775808", T.INT, "out of int64 range"),
        ("-1", T.UINT, "expected uint, found negative number -1"),
        ("18446744073709551616", T.UINT, "out of uint64 range"),
        ("abc", T.FLOAT, 'expected float, found "abc"'),
        ("yes", T.BOOL, 'expected bool (true or false), found "yes"'),
        ("1", T.BOOL, "expected bool"),
        ("nil", T.NULL, 'expected null, found "nil"'),
        ("2", T.DURATION, 'expected duration (like "2s", "1m30s"), found "2"'),
        ("tomorrow", T.TIMESTAMP, 'found "tomorrow"'),
        ("a,b", ListT(T.STRING), "expected list[string] as JSON, found invalid JSON"),
        ("[" + "9" * 400 + "]", T.JSON, "expected json as JSON"),  # JSON, out of range
        ("abc", OptionalT(T.INT), 'expected int, found "abc"'),
    ],
)
def test_coerce_input_errors(text: str, expected_type: Type, message: str) -> None:
    error = decode_error(coerce_input, text, expected_type)
    assert error.path == "$"
    assert message in error.message


def test_coerce_input_validates_json_with_paths_under_the_given_name() -> None:
    with pytest.raises(DecodeError) as caught:
        coerce_input('{"id": "1", "name": "Ada"}', USER, "user")
    assert str(caught.value) == "user.id: expected int, found string"
    with pytest.raises(DecodeError) as caught:
        coerce_input("x", T.INT, "count")
    assert str(caught.value) == 'count: expected int, found "x"'


def test_coerce_input_bytes_keep_undecodable_command_line_bytes() -> None:
    argument = b"\xff\xfe".decode("utf-8", errors="surrogateescape")  # how Python passes argv
    assert coerce_input(argument, T.BYTES) == b"\xff\xfe"


# --------------------------------------------------------------------------- request encoders


def test_request_json_is_compact_utf8_and_reveals_secrets() -> None:
    value = {
        "token": Secret("hunter2"),
        "name": "Zoë",
        "wait": Duration(1_500_000_000),
        "at": Timestamp.from_seconds(0),
        "data": b"hi",
        "n": UInt(3),
        "ratio": math.inf,
        "nested": [Secret("s2"), None, True],
    }
    wire = to_request_json(value)
    assert (
        wire
        == (
            '{"token":"hunter2","name":"Zoë","wait":"1.5s","at":"1970-01-01T00:00:00Z",'
            '"data":"aGk=","n":3,"ratio":"Infinity","nested":["s2",null,true]}'
        ).encode()
    )
    assert values.REDACTED.encode() not in wire


def test_request_json_of_scalars() -> None:
    assert to_request_json(None) == b"null"
    assert to_request_json("x") == b'"x"'
    assert to_request_json(values.build_map([(1, "a"), (False, "b")])) == b'{"1":"a","false":"b"}'


def test_request_json_escapes_lone_surrogates() -> None:
    value = decode_body(b'["\\ud800x"]', "application/json")
    wire = to_request_json(value)
    assert wire == b'["\\ud800x"]'
    assert decode_body(wire, "application/json") == value


def test_request_json_errors_are_eval_errors() -> None:
    with pytest.raises(EvalError):
        to_request_json(object())


def test_form_encode() -> None:
    body = {
        "q": "a b&c=d",
        "tags": ["x", "y"],
        "n": 3,
        "ok": True,
        "missing": None,
        "token": Secret("p@ss word"),
        "wait": Duration(2 * 10**9),
        "é": "ü",
    }
    wire = form_encode(body)
    assert wire == (
        b"q=a+b%26c%3Dd&tags=x&tags=y&n=3&ok=true&token=p%40ss+word&wait=2s&%C3%A9=%C3%BC"
    )
    parsed = urllib.parse.parse_qs(wire.decode(), keep_blank_values=True)
    assert parsed["token"] == ["p@ss word"]
    assert "missing" not in parsed


def test_form_encode_of_non_string_keys_and_empty_map() -> None:
    assert form_encode(values.build_map([(1, "a"), (True, "b")])) == b"1=a&true=b"
    assert form_encode({}) == b""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"a": {"b": 1}}, "form field `a` must be a scalar or a list of scalars, found map"),
        ({"a": [[1]]}, "found list"),
        ([1, 2], "a form body must be a map, found list"),
        ("a=1", "a form body must be a map, found string"),
    ],
)
def test_form_encode_errors(body: object, message: str) -> None:
    with pytest.raises(EvalError) as caught:
        form_encode(body)
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain", "plain"),
        (Secret("hunter2"), "hunter2"),
        (42, "42"),
        (UInt(7), "7"),
        (1.5, "1.5"),
        (1e21, "1e+21"),
        (True, "true"),
        (None, "null"),
        (b"raw", "raw"),
        (Duration(90 * 10**9), "90s"),
        (Timestamp.from_seconds(1_714_564_800, 500_000_000), "2024-05-01T12:00:00.5Z"),
    ],
)
def test_text_of(value: object, expected: str) -> None:
    assert text_of(value) == expected


@pytest.mark.parametrize("value", [[1], {"a": 1}])
def test_text_of_rejects_containers(value: object) -> None:
    with pytest.raises(EvalError) as caught:
        text_of(value)
    assert "expected a scalar value" in caught.value.message


def test_only_request_encoders_reveal_secrets() -> None:
    token = validate("hunter2", T.SECRET)
    record = validate({"token": "hunter2"}, RecordT((Field("token", T.SECRET),)))
    for shown in (str(token), repr(token), values.to_text(record), values.json_text(record)):
        assert "hunter2" not in shown
    assert b"hunter2" in to_request_json(record)
    assert b"hunter2" in form_encode(record)
    assert text_of(token) == "hunter2"


def test_identifier_alphabet_for_paths() -> None:
    record = RecordT(tuple(Field(name, T.INT) for name in ["_ok", "A1", "1a"]))
    document = {"_ok": 1, "A1": 2, "1a": "x"}
    assert decode_error(validate, document, record).path == '$["1a"]'
