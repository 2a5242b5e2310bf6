"""Crossing the wire: response bodies in, request bodies out, CLI inputs.

The executor meets untyped data in three places: the body of an HTTP
response, the ``-i key=value`` inputs of ``flowc run``, and the values it
must put on the wire.  This module turns each into the other side's terms;
the last, request bodies and header values, is ``encode.py``'s part
(``to_request_json``, ``form_encode``, ``text_of``, re-exported here).

Responses
=========

``decode_body(content, content_type)`` picks a representation from the
media type, the way a user of ``requests`` or ``fetch`` expects:

* an empty body is ``null``, whatever its type claims;
* ``application/json``, any ``*/*+json`` (``application/problem+json``) and
  the legacy ``text/json``, ``text/x-json``, ``application/x-json`` are
  parsed as JSON into `.flow` values (``values.from_json``).  JSON without a
  ``charset`` is decoded as RFC 8259 says (UTF-8, or UTF-16/32 detected from
  the first bytes, a BOM tolerated); an explicit ``charset`` is honoured.
  ``NaN``/``Infinity`` literals, which Python's parser would accept, are
  rejected: they are not JSON;
* ``text/*``, XML (``application/xml``, ``*/*+xml``),
  ``application/javascript``, ``application/x-www-form-urlencoded`` and any
  type that carries a ``charset`` parameter are text: a ``string`` decoded
  with that charset (UTF-8 by default; a UTF-8 byte-order mark is dropped);
* anything else, including a missing ``Content-Type``, is ``bytes``.

It never raises anything but ``DecodeError``: malformed JSON (with line and
column), text that is not valid in its charset, an unknown charset, JSON
nested deeper than ``values.MAX_DEPTH`` and text or bytes larger than
``values.MAX_SIZE`` are all decode errors at path ``$``.

Validation against a declared type
==================================

``validate(value, type)`` checks a decoded JSON value against the semantic
type of a step's ``-> T`` (or a flow input) and returns the value to store.
JSON has fewer kinds than `.flow`, so validation also *converts*:

=============  ==============================================================
expected       accepted JSON (and the `.flow` value stored)
=============  ==============================================================
``int``        an integer; a float with an integral value (``1.0`` -> ``1``,
               as JavaScript producers emit them); not ``1.5``, not a bool,
               nothing outside int64
``uint``       the same, non-negative, stored as ``UInt``
``float``      any number (integers become floats), and the strings ``NaN``,
               ``Infinity``, ``-Infinity`` that ``to_json`` writes for the
               non-finite doubles
``bool``       ``true``/``false`` only (no ``"true"``, no ``0``/``1``)
``string``     a string only (a number is not silently stringified)
``bytes``      a base64 string (standard or URL-safe alphabet, padding
               optional), as ``to_json`` writes bytes
``null``       ``null``
``duration``   a duration string (``"1.5s"``, ``"1m30s"``) -> ``Duration``
``timestamp``  an RFC 3339 string -> ``Timestamp``
``json``       anything, unchanged
``secret``     a string -> ``Secret``
``list[T]``    an array whose every element is a ``T``
``map[K, V]``  an object; keys are parsed as ``K`` (``"3"`` for an ``int``
               key, ``"true"`` for a ``bool`` one), values must be ``V``
records        an object with every required field; an optional field may be
               absent or ``null`` and reads ``null`` either way (absent ones
               are filled in with ``null``); extra fields are *kept*, because
               records are structural and a wider record is a subtype
``T?``         ``null`` or a ``T``
=============  ==============================================================

Values that are already `.flow` values of the expected kind (a ``Duration``
for ``duration``, ``bytes`` for ``bytes``, ...) pass unchanged, so the same
function can check a ``fallback`` value or a journaled one.

The first mismatch raises ``DecodeError(path, message)`` where ``path`` is a
JSONPath-like location (``$.items[3].id``, ``$["content-type"]``) and the
message says what was expected and what was found in `.flow`'s own type
names (``expected int, found string``, ``missing field `id```).  Messages
name kinds, not contents: a response body may hold personal data, so the only
values quoted are numbers that had the right kind but the wrong range.

CLI inputs
==========

``coerce_input(text, type)`` reads the text of ``-i key=value``: ``string``
parameters receive the text verbatim (even ``"42"`` or ``{...}``), and so do
``secret`` and ``string?``; ``int``/``uint`` accept decimal digits with
optional ``_`` separators (and a ``u`` suffix for ``uint``; a number of any
length outside the 64-bit range is a range error), ``float`` whatever Python's
``float()`` reads, ``bool`` ``true``/``false`` in any case, ``bytes`` the UTF-8
of the text, ``duration`` and ``timestamp`` their literal syntax, ``null`` and
``T?`` the word ``null``; ``json``, lists, maps and records parse the text as
JSON (``values.load_json``: numbers out of the range of double are errors) and
then validate it.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import functools
import json
import math
import re
from collections.abc import Callable
from typing import Final, NoReturn

from flowc.common import types as ftypes
from flowc.common import values
from flowc.common.types import ListT, MapT, OptionalT, Prim, RecordT, Type
from flowc.common.values import Duration, EvalError, Secret, Timestamp, UInt
from flowc.runtime.encode import form_encode, text_of, to_request_json

__all__ = [
    "DEFAULT_CHARSET",
    "JSON_MEDIA_TYPES",
    "ROOT",
    "TEXT_MEDIA_TYPES",
    "DecodeError",
    "coerce_input",
    "decode_body",
    "form_encode",
    "text_of",
    "to_request_json",
    "validate",
]

ROOT: Final = "$"


class DecodeError(Exception):
    """Received data that does not fit: ``path`` says where, ``message`` what."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"

    def __repr__(self) -> str:
        return f"DecodeError({self.path!r}, {self.message!r})"


# --------------------------------------------------------------------------- media types

JSON_MEDIA_TYPES: Final = frozenset(
    {"application/json", "text/json", "text/x-json", "application/x-json"}
)
TEXT_MEDIA_TYPES: Final = frozenset(
    {
        "application/xml",
        "application/javascript",
        "application/ecmascript",
        "application/x-www-form-urlencoded",
    }
)
DEFAULT_CHARSET: Final = "utf-8"


@functools.lru_cache(maxsize=64)
def _parse_content_type(content_type: str | None) -> tuple[str, str | None]:
    """The lower-cased media type and the ``charset`` parameter, if any.

    Cached: a run sees the same few Content-Type values over and over.
    """
    if not content_type:
        return "", None
    media, _, parameters = content_type.partition(";")
    charset = None
    for parameter in parameters.split(";"):
        name, _, raw = parameter.partition("=")
        if name.strip().lower() == "charset":
            charset = raw.strip().strip('"').strip() or None
    return media.strip().lower(), charset


def _is_json_media(media: str) -> bool:
    return media in JSON_MEDIA_TYPES or (media.endswith("+json") and "/" in media)


def _is_text_media(media: str, charset: str | None) -> bool:
    return (
        media.startswith("text/")
        or media in TEXT_MEDIA_TYPES
        or (media.endswith("+xml") and "/" in media)
        or charset is not None
    )


# --------------------------------------------------------------------------- decode_body


def decode_body(content: bytes, content_type: str | None) -> object:
    """The `.flow` value of a response body: JSON, text, bytes or ``None``."""
    if not content:
        return None
    media, charset = _parse_content_type(content_type)
    if _is_json_media(media):
        return _decode_json_body(content, charset)
    if _is_text_media(media, charset):
        return _decode_text(content, charset or DEFAULT_CHARSET)
    _check_body_size(len(content))
    return bytes(content)


def _check_body_size(size: int) -> None:
    if size > values.MAX_SIZE:
        raise DecodeError(ROOT, f"body larger than {values.MAX_SIZE} bytes")


def _decode_text(content: bytes, charset: str) -> str:
    _check_body_size(len(content))
    try:
        codec = codecs.lookup(charset)
    except (LookupError, ValueError, TypeError):
        raise DecodeError(ROOT, f"unknown charset {values.describe_text(charset)}") from None
    encoding = "utf-8-sig" if codec.name == "utf-8" else codec.name  # drop a leading BOM
    try:
        return content.decode(encoding)
    except (LookupError, ValueError, TypeError) as error:  # UnicodeDecodeError is a ValueError
        raise DecodeError(ROOT, f"body is not valid {codec.name} text: {error}") from None


def _decode_json_body(content: bytes, charset: str | None) -> object:
    if charset is None:
        document: str | bytes = content
    else:
        document = _decode_text(content, charset).removeprefix("\ufeff")
    return _parse_json_document(document)


def _parse_json_document(document: str | bytes) -> object:
    try:
        if isinstance(document, bytes):  # as json.loads does: UTF-8/16/32 by the first bytes
            document = document.decode(json.detect_encoding(document), "surrogatepass")
        parsed = values.load_json(document)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise DecodeError(ROOT, f"invalid JSON: {error.msg} at {where}") from None
    except UnicodeDecodeError as error:
        raise DecodeError(ROOT, f"invalid JSON: body is not valid UTF-8 ({error})") from None
    except RecursionError:
        raise DecodeError(ROOT, "invalid JSON: nested too deeply") from None
    except values.NumberOutOfRange as error:
        raise DecodeError(ROOT, str(error)) from None
    except ValueError as error:  # the NaN and Infinity literals
        raise DecodeError(ROOT, f"invalid JSON: {error}") from None
    try:
        return values.from_json(parsed)
    except EvalError as error:
        raise DecodeError(ROOT, error.message) from None


# --------------------------------------------------------------------------- paths

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _field_path(path: str, name: str) -> str:
    if _IDENTIFIER.fullmatch(name):
        return f"{path}.{name}"
    return f"{path}[{json.dumps(name, ensure_ascii=False)}]"


def _index_path(path: str, index: int) -> str:
    return f"{path}[{index}]"


def _key_path(path: str, key: object) -> str:
    if type(key) is str:
        return _field_path(path, key)
    return f"{path}[{values.describe_value(key)}]"


# --------------------------------------------------------------------------- validate


def _found(value: object) -> str:
    """What a value is, for ``found ...``: its `.flow` kind, never its content."""
    return values.describe_type(value)


def _mismatch(path: str, expected: Type | str, value: object) -> NoReturn:
    raise DecodeError(path, f"expected {expected}, found {_found(value)}")


def validate(value: object, expected: Type, path: str = ROOT) -> object:
    """Check ``value`` against ``expected`` and return the `.flow` value to store."""
    if isinstance(expected, Prim):
        return _validate_prim(value, expected, path)
    if isinstance(expected, OptionalT):
        return None if value is None else validate(value, expected.inner, path)
    if isinstance(expected, ListT):
        return _validate_list(value, expected, path)
    if isinstance(expected, MapT):
        return _validate_map(value, expected, path)
    if isinstance(expected, RecordT):
        return _validate_record(value, expected, path)
    raise DecodeError(path, f"cannot decode a value of type {expected}")


def _validate_list(value: object, expected: ListT, path: str) -> list[object]:
    if type(value) is not list:
        _mismatch(path, expected, value)
    return [validate(item, expected.elem, _index_path(path, i)) for i, item in enumerate(value)]


def _validate_map(value: object, expected: MapT, path: str) -> dict[object, object]:
    if type(value) is not dict:
        _mismatch(path, expected, value)
    entries: list[tuple[object, object]] = []
    for stored_key, item in value.items():
        key = values.user_key(stored_key)
        item_path = _key_path(path, key)
        entries.append(
            (_map_key(key, expected.key, item_path), validate(item, expected.value, item_path))
        )
    try:
        return values.build_map(entries)
    except EvalError as error:
        raise DecodeError(path, error.message) from None


def _map_key(key: object, expected: Type, path: str) -> object:
    """A map key as the key type wants it; JSON keys are always strings."""
    if type(key) is not str or expected in (ftypes.STRING, ftypes.JSON):
        return _validate_key_value(key, expected, path)
    try:
        return coerce_input(key, expected, path)
    except DecodeError as error:
        raise DecodeError(path, f"invalid map key: {error.message}") from None


def _validate_key_value(key: object, expected: Type, path: str) -> object:
    try:
        return validate(key, expected, path)
    except DecodeError as error:
        raise DecodeError(path, f"invalid map key: {error.message}") from None


def _validate_record(value: object, expected: RecordT, path: str) -> dict[object, object]:
    if type(value) is not dict:
        _mismatch(path, expected, value)
    result: dict[object, object] = dict(value)
    for field in expected.fields:
        field_path = _field_path(path, field.name)
        if field.name in value:
            item = value[field.name]
            if field.optional and item is None:
                continue
            result[field.name] = validate(item, field.type, field_path)
        elif field.optional:
            result[field.name] = None
        else:
            raise DecodeError(path, f"missing field `{field.name}`")
    return result


# --------------------------------------------------------------------------- primitives


def _integral(value: object, expected: Prim, path: str) -> int:
    """An ``int`` from an integer or an integral float; range checked by the caller."""
    if type(value) is int or type(value) is UInt:
        return int(value)
    if type(value) is float:
        if not math.isfinite(value) or not value.is_integer():
            raise DecodeError(
                path, f"expected {expected}, found float {values.format_double(value)}"
            )
        return int(value)
    _mismatch(path, expected, value)


def _out_of_range(path: str, expected: str, value: object) -> NoReturn:
    shown = values.describe_value(value)
    raise DecodeError(path, f"expected {expected}, found {shown} (out of {expected}64 range)")


def _validate_int(value: object, path: str) -> int:
    number = _integral(value, ftypes.INT, path)
    if not values.INT64_MIN <= number <= values.INT64_MAX:
        _out_of_range(path, "int", value)
    return number


def _validate_uint(value: object, path: str) -> UInt:
    number = _integral(value, ftypes.UINT, path)
    if number < 0:
        raise DecodeError(path, f"expected uint, found negative number {number}")
    if number > values.UINT64_MAX:
        _out_of_range(path, "uint", value)
    return UInt(number)


_NON_FINITE: Final[dict[str, float]] = {
    "NaN": math.nan,
    "Infinity": math.inf,
    "-Infinity": -math.inf,
}


def _validate_float(value: object, path: str) -> float:
    if type(value) is float:
        return value
    if type(value) is int or type(value) is UInt:
        return float(value)
    if type(value) is str and value in _NON_FINITE:
        return _NON_FINITE[value]
    _mismatch(path, ftypes.FLOAT, value)


def _exactly(kind: type, name: Prim) -> Callable[[object, str], object]:
    def check(value: object, path: str) -> object:
        if type(value) is not kind:
            _mismatch(path, name, value)
        return value

    return check


def _validate_bytes(value: object, path: str) -> bytes:
    if type(value) is bytes:
        return value
    if type(value) is not str:
        _mismatch(path, ftypes.BYTES, value)
    decoded = _base64_decode(value)
    if decoded is None:
        raise DecodeError(path, "expected bytes (base64), found a string that is not base64")
    return decoded


def _base64_decode(text: str) -> bytes | None:
    standard = text.replace("-", "+").replace("_", "/")
    padded = standard + "=" * (-len(standard) % 4)
    try:
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def _unparsable(kind: str, error: EvalError) -> str:
    if error.kind == values.RANGE:
        return f"expected {kind}, found a string out of {kind} range"
    return f"expected {kind}, found a string that is not a {kind}"


def _parsed_from_text(
    kind: str, cls: type, expected: Type, parse: Callable[[str], object]
) -> Callable[[object, str], object]:
    """A validator for a value sent as text and parsed (``"1m30s"``, RFC 3339)."""

    def validate_text(value: object, path: str) -> object:
        if type(value) is cls:
            return value
        if type(value) is not str:
            _mismatch(path, expected, value)
        try:
            return parse(value)
        except EvalError as error:
            raise DecodeError(path, _unparsable(kind, error)) from None

    return validate_text


_validate_duration: Final = _parsed_from_text(
    "duration", Duration, ftypes.DURATION, values.parse_duration
)
_validate_timestamp: Final = _parsed_from_text(
    "timestamp", Timestamp, ftypes.TIMESTAMP, values.parse_timestamp
)


def _validate_secret(value: object, path: str) -> Secret:
    if type(value) is Secret:
        return value
    if type(value) is not str:
        _mismatch(path, ftypes.SECRET, value)
    return Secret(value)


def _validate_json(value: object, path: str) -> object:
    return value


_PRIM_VALIDATORS: Final[dict[str, Callable[[object, str], object]]] = {
    "int": _validate_int,
    "uint": _validate_uint,
    "float": _validate_float,
    "bool": _exactly(bool, ftypes.BOOL),
    "string": _exactly(str, ftypes.STRING),
    "null": _exactly(type(None), ftypes.NULL),
    "bytes": _validate_bytes,
    "duration": _validate_duration,
    "timestamp": _validate_timestamp,
    "secret": _validate_secret,
    "json": _validate_json,
}


def _validate_prim(value: object, expected: Prim, path: str) -> object:
    validator = _PRIM_VALIDATORS.get(expected.name)
    if validator is None:
        raise DecodeError(path, f"cannot decode a value of type {expected}")
    return validator(value, path)


# --------------------------------------------------------------------------- CLI inputs

_INTEGER_TEXT = re.compile(r"[+-]?[0-9]+(?:_[0-9]+)*")
_MOST_INTEGER_DIGITS: Final = 20
"""An integer of more significant digits is out of every 64-bit range."""
_STRING_LIKE: Final = frozenset({ftypes.STRING, ftypes.SECRET})


def coerce_input(text: str, expected: Type, path: str = ROOT) -> object:
    """The value of a CLI input ``-i key=text`` for a parameter of type ``expected``.

    ``path`` prefixes error messages (the CLI passes the input's name).
    """
    if expected == ftypes.STRING:
        return text
    if expected == ftypes.SECRET:
        return Secret(text)
    if isinstance(expected, OptionalT):
        if expected.inner not in _STRING_LIKE and text.strip() == "null":
            return None
        return coerce_input(text, expected.inner, path)
    if isinstance(expected, Prim) and expected.name in _SCALAR_READERS:
        return _SCALAR_READERS[expected.name](text, path)
    return _coerce_json_input(text, expected, path)


def _bad_input(path: str, expected: str, text: str) -> NoReturn:
    raise DecodeError(path, f"expected {expected}, found {values.describe_text(text)}")


def _read_integer(text: str, path: str, expected: Prim) -> int:
    body = text.strip()
    if expected == ftypes.UINT:
        body = body.removesuffix("u").removesuffix("U")
    if not _INTEGER_TEXT.fullmatch(body):
        _bad_input(path, str(expected), text)
    digits = body.lstrip("+-").replace("_", "").lstrip("0")
    if len(digits) > _MOST_INTEGER_DIGITS:  # out of range (and int() refuses 4,300 digits)
        raise DecodeError(
            path,
            f"expected {expected}, found an integer of {len(digits)} digits "
            f"(out of {expected}64 range)",
        )
    return int(body)


def _read_int(text: str, path: str) -> object:
    number = _read_integer(text, path, ftypes.INT)
    if not values.INT64_MIN <= number <= values.INT64_MAX:
        raise DecodeError(path, f"expected int, found {text.strip()} (out of int64 range)")
    return number


def _read_uint(text: str, path: str) -> object:
    return _validate_uint(_read_integer(text, path, ftypes.UINT), path)


def _read_float(text: str, path: str) -> object:
    try:
        return float(text.strip())
    except ValueError:
        _bad_input(path, "float", text)


def _read_bool(text: str, path: str) -> object:
    word = text.strip().lower()
    if word not in ("true", "false"):
        _bad_input(path, "bool (true or false)", text)
    return word == "true"


def _read_null(text: str, path: str) -> object:
    if text.strip() != "null":
        _bad_input(path, "null", text)
    return None


def _read_bytes(text: str, path: str) -> object:
    return text.encode("utf-8", errors="surrogateescape")


def _read_duration(text: str, path: str) -> object:
    try:
        return values.parse_duration(text.strip())
    except EvalError:
        _bad_input(path, 'duration (like "2s", "1m30s")', text)


def _read_timestamp(text: str, path: str) -> object:
    try:
        return values.parse_timestamp(text.strip())
    except EvalError:
        _bad_input(path, 'timestamp (RFC 3339, like "2024-05-01T12:00:00Z")', text)


_SCALAR_READERS: Final[dict[str, Callable[[str, str], object]]] = {
    "int": _read_int,
    "uint": _read_uint,
    "float": _read_float,
    "bool": _read_bool,
    "null": _read_null,
    "bytes": _read_bytes,
    "duration": _read_duration,
    "timestamp": _read_timestamp,
}


def _coerce_json_input(text: str, expected: Type, path: str) -> object:
    if expected == ftypes.JSON and not _is_json_syntax(text):
        return text  # `-i note=hello` for a `json` parameter: the text itself
    try:
        document = values.parse_json(text)
    except EvalError as error:
        raise DecodeError(path, f"expected {expected} as JSON, found {error.message}") from None
    return validate(document, expected, path)


def _is_json_syntax(text: str) -> bool:
    """Whether ``text`` is JSON at all (its values may still be out of range)."""
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    except ValueError:  # e.g. too many digits: JSON, but not a value flowc reads
        return True
    return True
