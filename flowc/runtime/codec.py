"""The value codec of the run store: every value type, exactly, as JSON text.

A resumed run must see exactly the values the first attempt saw, so the store
cannot keep JSON renderings (``values.to_json`` turns ``3u`` into ``3``, a
``duration`` into text, bytes into base64 text: a resumed run would then see
another type).  ``encode`` maps a value to JSON text and ``decode`` maps it
back to an equal value of the same type.

The encoding is JSON with a few tagged objects, each a one-key object whose
key starts with ``$``:

==============  ==================================  =====================
value           encoded as                          example
==============  ==================================  =====================
null, bool,     themselves                          ``true``, ``"a"``
string
int             a JSON integer                      ``-3``
float           a JSON number with a fraction or    ``1.0``, ``2.5e-08``
                exponent; ``{"$f": "nan"}`` for the
                three non-finite values
uint            ``{"$u": n}``                       ``{"$u": 3}``
bytes           ``{"$b": base64}``                  ``{"$b": "AAE="}``
duration        ``{"$d": nanoseconds}``             ``{"$d": 1500000000}``
timestamp       ``{"$t": ns since the epoch}``      ``{"$t": 0}``
type value      ``{"$type": CEL name}``             ``{"$type": "int"}``
list            a JSON array                        ``[1, {"$u": 2}]``
map             a JSON object when every key is a   ``{"id": 1}``
                string not starting with ``$``;
                else ``{"$m": [[key, value], ...]}``
bool map key    ``{"$k": true}`` (inside ``$m``)
==============  ==================================  =====================

A ``Secret`` is never encoded: ``encode`` raises ``SecretValue``, and the
journal then keeps the record without the value (the step runs again when the
run is resumed: a secret is re-read from where it came, never from the store).
"""

from __future__ import annotations

import base64
import json
import math
from typing import Any, Final

from flowc.common.errors import NO_BODY, FlowError
from flowc.common.values import (
    FALSE_KEY,
    TRUE_KEY,
    BoolKey,
    CelType,
    Duration,
    EvalError,
    Secret,
    Timestamp,
    UInt,
)
from flowc.common.values_core import INT64_MAX, INT64_MIN, TYPE_IDENTIFIERS


class SecretValue(ValueError):
    """The value holds a secret, which the store never keeps."""


class CodecError(ValueError):
    """Stored text that is not an encoded value (a damaged or foreign store)."""


_NON_FINITE: Final = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def encode(value: Any) -> str:
    """The JSON text of ``value``; ``SecretValue`` if it holds a secret."""
    return json.dumps(to_plain(value), separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def decode(text: str) -> Any:
    """The value ``encode`` made ``text`` from (one pass of the C JSON parser)."""
    try:
        return _DECODER.decode(text)
    except (ValueError, TypeError, RecursionError) as error:
        raise CodecError(f"not an encoded value: {error}") from None


def _untag(plain: dict[str, Any]) -> Any:
    """``json.loads``'s hook: a tagged object becomes its value (inner ones come first)."""
    if len(plain) == 1:
        ((tag, content),) = plain.items()
        if tag.startswith("$"):
            return _tagged(tag, content, decoded=True)
    return plain


_DECODER: Final = json.JSONDecoder(object_hook=_untag)  # made once, not per call


def to_plain(value: Any) -> Any:
    """``value`` as JSON-compatible Python data (the tagged form above)."""
    kind = type(value)
    if value is None or kind is str or kind is bool or kind is int:
        return value
    if kind is float:
        if math.isfinite(value):
            return value
        return {"$f": "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")}
    if kind is list:
        return [to_plain(item) for item in value]
    if kind is dict:
        return _map_to_plain(value)
    if kind is UInt:
        return {"$u": int(value)}
    if kind is bytes:
        return {"$b": base64.b64encode(value).decode("ascii")}
    if kind is Duration:
        return {"$d": value.nanos}
    if kind is Timestamp:
        return {"$t": value.nanos}
    if kind is CelType:
        return {"$type": value.name}
    if isinstance(value, Secret):
        raise SecretValue("a secret is never written to the store")
    raise TypeError(f"the store cannot hold a {kind.__name__}")


def _map_to_plain(value: dict[Any, Any]) -> Any:
    if all(type(key) is str and not key.startswith("$") for key in value):
        return {key: to_plain(item) for key, item in value.items()}
    return {"$m": [[_key_to_plain(key), to_plain(item)] for key, item in value.items()]}


def _key_to_plain(key: Any) -> Any:
    if isinstance(key, BoolKey):
        return {"$k": key.value}
    return to_plain(key)


def from_plain(plain: Any) -> Any:
    """The value of the tagged form ``plain``."""
    kind = type(plain)
    if kind is list:
        return [from_plain(item) for item in plain]
    if kind is int and not INT64_MIN <= plain <= INT64_MAX:
        raise CodecError("a damaged int value: out of int64 range")
    if kind is not dict:
        return plain
    if len(plain) == 1:
        ((tag, content),) = plain.items()
        if tag.startswith("$"):
            return _tagged(tag, content)
    return {key: from_plain(item) for key, item in plain.items()}


def _tagged(tag: str, content: Any, *, decoded: bool = False) -> Any:
    """The value of one tagged object; ``decoded`` when its content is already values."""
    try:
        if tag == "$u":
            return UInt(content)
        if tag == "$b":
            return base64.b64decode(content, validate=True)
        if tag == "$d":
            return Duration(content)
        if tag == "$t":
            return Timestamp(content)
        if tag == "$f":
            return _NON_FINITE[content]
        if tag == "$type":
            return TYPE_IDENTIFIERS[content]
        if tag == "$m":
            if decoded:
                return {key: item for key, item in content}
            return {_key_from_plain(key): from_plain(item) for key, item in content}
        if tag == "$k":
            return TRUE_KEY if content else FALSE_KEY
    except (ValueError, TypeError, KeyError, ArithmeticError, EvalError) as error:
        raise CodecError(f"a damaged {tag} value: {error}") from None
    raise CodecError(f"unknown tag {tag}")


def _key_from_plain(plain: Any) -> Any:
    if type(plain) is dict and set(plain) == {"$k"}:
        return TRUE_KEY if plain["$k"] else FALSE_KEY
    return from_plain(plain)


def error_to_plain(error: FlowError) -> dict[str, Any]:
    """A failure as the journal keeps it: the ``Error`` record, its payload and
    response body in the tagged form, and its ``cause`` nested (a secret payload,
    which the checker forbids, is dropped rather than stored)."""
    record: dict[str, Any] = error.record()
    for field in ("data", "body"):
        if field in record:
            try:
                record[field] = to_plain(record[field])
            except (SecretValue, TypeError):
                record[field] = None
    if error.cause is not None:
        record["cause"] = error_to_plain(error.cause)
    return record


def error_from_plain(record: dict[str, Any]) -> FlowError:
    """The ``FlowError`` ``error_to_plain`` made ``record`` from (already decoded)."""
    cause = record.get("cause")
    return FlowError(
        str(record.get("kind", "")),
        str(record.get("message", "")),
        step=str(record.get("step", "")),
        status=int(record.get("status", 0) or 0),
        attempt=int(record.get("attempt", 0) or 0),
        body=record.get("body", NO_BODY),
        data=record.get("data"),
        cause=error_from_plain(cause) if isinstance(cause, dict) else None,
    )
