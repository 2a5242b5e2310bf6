"""Signing, hashing and binary-text encodings: ``hmac_sha256``,
``hmac_sha512``, ``sha256``, ``hex.encode``/``hex.decode``,
``base64url.encode``/``base64url.decode``, and the map merge ``merge``.

HMAC keys may be secrets, and the signature is *not* one.  This is the only
place the library lets a plain value be computed from a secret, and it is safe
for HMAC specifically: HMAC is a pseudo-random function keyed by the secret,
so its output reveals nothing usable about the key (recovering the key from
signatures is exactly what HMAC's security rests on being infeasible), and a
webhook signature is meant to be sent and compared in the open.  The rule is
``stdlib_core.declassify(0)``: only the *key* position may hold a secret.  A
secret *message* is refused, as is ``sha256`` of a secret: an unkeyed hash of a
low-entropy secret (a PIN, a short password) can be reversed by trying every
candidate, and an HMAC under a known key is no better.

The names are namespaced like CEL's ``base64.encode``/``base64.decode`` (a
bare ``hex(b)`` would collide with nothing today, but the encoder/decoder pair
reads best as a pair).  ``hex.encode`` writes lower case; ``hex.decode``
accepts either case.  ``base64url`` is RFC 4648 section 5 without padding on
output (the JWT and webhook convention); the decoder accepts it with or
without ``=``.

``merge(a, b)`` returns a new map with ``b``'s entries over ``a``'s (the right
one wins, as in JavaScript's spread or Python's ``|``).  It is a function
rather than an operator because ``+`` on maps would read as commutative and
CEL gives maps no ``+``; a function also keeps the overload table the single
description of the language's operations.  Records are maps at run time, and
the checker types ``merge`` on records as on maps of their joined field type.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

from flowc.common.stdlib_core import Overload, carry, declassify, fn
from flowc.common.types import BYTES, STRING, A, B, MapT
from flowc.common.values import INVALID_ARGUMENT, MAX_LIST_LENGTH, EvalError, check_size


def _octets(value: str | bytes) -> bytes:
    return value.encode("utf-8") if type(value) is str else value  # type: ignore[return-value]


def hmac_sha256(key: str | bytes, message: str | bytes) -> bytes:
    return hmac.digest(_octets(key), _octets(message), "sha256")


def hmac_sha512(key: str | bytes, message: str | bytes) -> bytes:
    return hmac.digest(_octets(key), _octets(message), "sha512")


def sha256(data: str | bytes) -> bytes:
    return hashlib.sha256(_octets(data)).digest()


def hex_encode(data: bytes) -> str:
    check_size(len(data) * 2, "hex text")
    return data.hex()


def hex_decode(text: str) -> bytes:
    """Pairs of hex digits, either case, nothing else (no spaces, no ``0x``)."""
    if len(text) % 2 or not all(c in _HEX_DIGITS for c in text):
        return _bad("hex")
    return bytes.fromhex(text)


_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")


def base64url_encode(data: bytes) -> str:
    check_size(len(data) * 4 // 3 + 4, "base64url text")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def base64url_decode(text: str) -> bytes:
    """URL-safe alphabet, with or without ``=`` padding."""
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = padded.encode("ascii")
        if any(c in raw for c in b"+/"):
            return _bad("base64url")
        return base64.b64decode(raw, altchars=b"-_", validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return _bad("base64url")


def _bad(encoding: str) -> bytes:
    raise EvalError(INVALID_ARGUMENT, f"invalid {encoding} text")


def merge(left: dict[object, object], right: dict[object, object]) -> dict[object, object]:
    """The entries of both; a key of ``right`` replaces the same key of ``left``."""
    merged = dict(left)
    merged.update(right)
    if len(merged) > MAX_LIST_LENGTH:
        raise EvalError("limit", f"merge: the map is larger than {MAX_LIST_LENGTH} entries")
    return merged


def overloads() -> list[Overload]:
    key = declassify(0)
    signing = [
        fn(f"{name}_{k.name}_{m.name}", name, (k, m), BYTES, impl, secrets=key)
        for name, impl in (("hmac_sha256", hmac_sha256), ("hmac_sha512", hmac_sha512))
        for k in (STRING, BYTES)
        for m in (STRING, BYTES)
    ]
    return [
        *signing,
        fn("sha256_bytes", "sha256", (BYTES,), BYTES, sha256),
        fn("sha256_string", "sha256", (STRING,), BYTES, sha256),
        fn("hex_encode_bytes", "hex.encode", (BYTES,), STRING, hex_encode),
        fn("hex_decode_string", "hex.decode", (STRING,), BYTES, hex_decode),
        fn("base64url_encode_bytes", "base64url.encode", (BYTES,), STRING, base64url_encode),
        fn("base64url_decode_string", "base64url.decode", (STRING,), BYTES, base64url_decode),
        fn(
            "merge_map_map",
            "merge",
            (MapT(A, B), MapT(A, B)),
            MapT(A, B),
            merge,
            secrets=carry("A", "B"),
        ),
    ]
