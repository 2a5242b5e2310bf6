"""Request bodies, headers and query values: `.flow` values on the wire.

``to_request_json`` and ``form_encode`` build request bodies and
``text_of`` header and query values.  Unlike anything in ``decode.py``, they
reveal secrets: they produce what is sent to the API, which is where a secret
is meant to go.

* ``to_request_json`` is compact UTF-8 JSON (``values.json_text`` with
  secrets revealed); a lone surrogate, which UTF-8 cannot carry, is kept as a
  ``\\uXXXX`` escape instead by writing ASCII-only JSON.
* ``text_of`` is a scalar's text (``values.to_text``), a secret's real text,
  and an error for a list or map.
* ``form_encode`` writes ``application/x-www-form-urlencoded`` from a map or
  record of scalars: lists as repeated keys, null fields left out (as
  ``requests`` does), ``+`` for spaces.

Their errors are ``EvalError``s (a value too deep or too large, a map where
a scalar belongs), because they are about the flow's values, not about
received data.  ``decode.py`` re-exports the three functions.
"""

from __future__ import annotations

import json
import urllib.parse

from flowc.common import values
from flowc.common.values import EvalError, Secret


def to_request_json(value: object) -> bytes:
    """Compact UTF-8 JSON of a `.flow` value for a request body (secrets revealed)."""
    text = values.json_text(value, reveal_secrets=True)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (from a "\ud800" escape): keep it escaped
        document = values.to_json(value, reveal_secrets=True)
        return json.dumps(document, separators=(",", ":"), allow_nan=False).encode("ascii")


def text_of(value: object) -> str:
    """The text of a scalar in a header or a query string (secrets revealed)."""
    if type(value) is str:
        return value
    if type(value) is Secret:
        revealed = value.reveal()
        return revealed if type(revealed) is str else values.decode_utf8(revealed)  # type: ignore[arg-type]
    if type(value) is list or type(value) is dict:
        raise EvalError(
            values.TYPE_ERROR, f"expected a scalar value, found {values.describe_type(value)}"
        )
    return values.to_text(value)


def form_encode(value: object) -> bytes:
    """``application/x-www-form-urlencoded`` of a map or record of scalars.

    Lists become repeated keys, null fields are left out, secrets are revealed.
    """
    if type(value) is not dict:
        raise EvalError(
            values.TYPE_ERROR, f"a form body must be a map, found {values.describe_type(value)}"
        )
    pairs: list[tuple[str, str]] = []
    for key, item in values.map_items(value):
        name = text_of(key)
        elements: list[object] = item if type(item) is list else [item]
        pairs.extend((name, _form_field_text(name, e)) for e in elements if e is not None)
    return urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote_plus).encode("ascii")


def _form_field_text(name: str, value: object) -> str:
    if type(value) is list or type(value) is dict:
        raise EvalError(
            values.TYPE_ERROR,
            f"form field `{name}` must be a scalar or a list of scalars, "
            f"found {values.describe_type(value)}",
        )
    return text_of(value)
