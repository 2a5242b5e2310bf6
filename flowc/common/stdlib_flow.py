"""`.flow`'s own built-ins (LANGUAGE.md section 2) and the CEL encoders.

``env(name)``, ``env(name, default)``, ``secret(name)``, ``now()`` and
``uuid()`` are the only functions that look outside the expression.  They do
so through an ``Effects`` object, never directly, because a durable run must
journal what they returned so that a resumed run sees the same values:

* ``SystemEffects`` is the default: the process environment, the system clock
  and random UUIDs;
* the runtime installs its own (journaling or replaying) implementation with
  ``use_effects(effects)`` around a run.  The current one lives in a
  ``contextvars.ContextVar``, which trio copies into every child task, so
  parallel branches see the effects of the run they belong to.

``Effects.getsecret`` is separate from ``getenv`` so that a journal can record
*that* a secret was read without storing its value.  A missing variable is an
``EvalError("environment")`` that names the variable, never a value.

The collection helpers (``keys``, ``values``, ``range``, ``sum``) and the
string helpers (``lower``, ``upper``, ``trim``, ``split``, ``join``,
``replace``) are global-call functions; they coexist with CEL's receiver-style
``s.trim()``, ``s.split(sep)``, ``l.join(sep)`` and ``s.replace(a, b)`` because
the receiver flag is part of an overload's identity.  ``lower``/``upper`` are
full Unicode case mappings (CEL's ``lowerAscii``/``upperAscii`` are ASCII-only).

``json_encode`` writes compact JSON (``values.json_text``).  The checker
refuses a secret argument (a request's ``json`` clause is how a secret goes
into JSON); should one arrive hidden in a ``json`` value anyway, the result is
itself a ``Secret`` (it may be sent, not printed).  ``json_decode`` parses JSON
into `.flow` values (``values.parse_json``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import contextvars
import os
import time
from collections.abc import Callable, Iterator
from typing import Final, Protocol

from flowc.common.stdlib_core import DERIVE, Overload, carry, fn
from flowc.common.stdlib_strings import join, replace_all, split_all, trim
from flowc.common.types import (
    BYTES,
    FLOAT,
    INT,
    JSON,
    SECRET,
    STRING,
    TIMESTAMP,
    UINT,
    A,
    B,
    ListT,
    MapT,
)
from flowc.common.values import (
    ENVIRONMENT,
    INVALID_ARGUMENT,
    MAX_LIST_LENGTH,
    NO_MATCHING_OVERLOAD,
    EvalError,
    Secret,
    Timestamp,
    UInt,
    check_int,
    check_size,
    contains_secret,
    describe_text,
    describe_type,
    json_text,
    map_keys,
    parse_json,
)

# --------------------------------------------------------------------------- effects


class Effects(Protocol):
    """The non-deterministic inputs of expression evaluation."""

    def now(self) -> Timestamp: ...

    def uuid(self) -> str: ...

    def getenv(self, name: str) -> str | None: ...

    def getsecret(self, name: str) -> str | None: ...


class SystemEffects:
    """Process environment, system clock, random (version 4) UUIDs."""

    def now(self) -> Timestamp:
        return Timestamp(time.time_ns())

    def uuid(self) -> str:
        import uuid  # on first use: it imports `platform`, costly at start-up

        return str(uuid.uuid4())

    def getenv(self, name: str) -> str | None:
        return os.environ.get(name)

    def getsecret(self, name: str) -> str | None:
        return os.environ.get(name)


SYSTEM_EFFECTS: Final = SystemEffects()
_CURRENT_EFFECTS: contextvars.ContextVar[Effects] = contextvars.ContextVar(
    "flowc_effects", default=SYSTEM_EFFECTS
)


def current_effects() -> Effects:
    return _CURRENT_EFFECTS.get()


@contextlib.contextmanager
def use_effects(effects: Effects) -> Iterator[Effects]:
    """Make ``effects`` the source of ``now``/``uuid``/``env``/``secret`` here."""
    token = _CURRENT_EFFECTS.set(effects)
    try:
        yield effects
    finally:
        _CURRENT_EFFECTS.reset(token)


# --------------------------------------------------------------------------- callbacks

CallbackMinter = Callable[[str], str]
"""The callback URL of a signal name, for the run being evaluated."""

NO_CALLBACKS: Final = (
    "callback_url() needs `flowc serve` (or `flowc worker` with FLOWC_PUBLIC_URL set): "
    "nothing here takes callbacks"
)
_CALLBACKS: contextvars.ContextVar[CallbackMinter | None] = contextvars.ContextVar(
    "flowc_callbacks", default=None
)


@contextlib.contextmanager
def use_callbacks(minter: CallbackMinter | None) -> Iterator[None]:
    """Make ``minter`` the source of ``callback_url()`` here (None: there is none)."""
    token = _CALLBACKS.set(minter)
    try:
        yield
    finally:
        _CALLBACKS.reset(token)


def callback_url(name: str) -> str:
    minter = _CALLBACKS.get()
    if minter is None:
        raise EvalError(ENVIRONMENT, NO_CALLBACKS)
    return minter(name)


# --------------------------------------------------------------------------- environment


def env(name: str) -> str:
    value = current_effects().getenv(name)
    if value is None:
        raise EvalError(ENVIRONMENT, f"environment variable {describe_text(name)} is not set")
    return value


def env_or_default(name: str, default: str) -> str:
    value = current_effects().getenv(name)
    return default if value is None else value


def secret(name: str) -> Secret:
    value = current_effects().getsecret(name)
    if value is None:
        raise EvalError(
            ENVIRONMENT, f"secret {describe_text(name)} is not set (no environment variable)"
        )
    return Secret(value, source=name)


def now() -> Timestamp:
    return current_effects().now()


def new_uuid() -> str:
    return current_effects().uuid()


# --------------------------------------------------------------------------- JSON, text


def json_encode(value: object) -> str | Secret:
    if contains_secret(value):
        return Secret(json_text(value, reveal_secrets=True))
    text = json_text(value)
    check_size(len(text), "JSON text")
    return text


def lower(text: str) -> str:
    result = text.lower()
    check_size(len(result), "string")
    return result


def upper(text: str) -> str:
    result = text.upper()
    check_size(len(result), "string")
    return result


def join_with(items: list[object], separator: str) -> str:
    return join(items, separator)


# --------------------------------------------------------------------------- collections


def map_values(mapping: dict[object, object]) -> list[object]:
    return list(mapping.values())


def int_range(count: int) -> list[int]:
    if count > MAX_LIST_LENGTH:
        raise EvalError("limit", f"range({count}) is longer than {MAX_LIST_LENGTH} elements")
    return list(range(max(count, 0)))


def _total(items: list[object]) -> object:
    kind = type(items[0])
    if kind not in (int, UInt, float) or any(type(item) is not kind for item in items):
        kinds = sorted({describe_type(item) for item in items})
        raise EvalError(
            NO_MATCHING_OVERLOAD,
            f"sum: elements must be numbers of one kind, got {', '.join(kinds)}",
        )
    if kind is float:
        total = 0.0
        for item in items:
            total += item  # type: ignore[operator]
        return total
    whole = 0
    for item in items:
        whole += item  # type: ignore[operator]
    return UInt(whole) if kind is UInt else check_int(whole)


def sum_int(items: list[object]) -> object:
    return _total(items) if items else 0


def sum_uint(items: list[object]) -> object:
    return _total(items) if items else UInt(0)


def sum_double(items: list[object]) -> object:
    return _total(items) if items else 0.0


# --------------------------------------------------------------------------- encoders


def base64_encode(data: bytes) -> str:
    check_size(len(data) * 4 // 3 + 4, "base64 text")
    return base64.b64encode(data).decode("ascii")


def base64_decode(text: str) -> bytes:
    """Standard alphabet, with or without ``=`` padding (as cel-go accepts)."""
    padded = text + "=" * (-len(text) % 4)
    try:
        return base64.b64decode(padded.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise EvalError(INVALID_ARGUMENT, "invalid base64 text") from None


# --------------------------------------------------------------------------- table


def overloads() -> list[Overload]:
    list_string = ListT(STRING)
    return [
        fn("env_string", "env", (STRING,), STRING, env),
        fn("env_string_string", "env", (STRING, STRING), STRING, env_or_default),
        fn("secret_string", "secret", (STRING,), SECRET, secret),
        fn("now", "now", (), TIMESTAMP, now),
        fn("uuid", "uuid", (), STRING, new_uuid),
        fn("callback_url_string", "callback_url", (STRING,), STRING, callback_url),
        fn("json_encode", "json_encode", (JSON,), STRING, json_encode),
        fn("json_decode", "json_decode", (STRING,), JSON, parse_json),
        fn("lower_string", "lower", (STRING,), STRING, lower),
        fn("upper_string", "upper", (STRING,), STRING, upper),
        fn("trim_string", "trim", (STRING,), STRING, trim),
        fn("split_string_string", "split", (STRING, STRING), list_string, split_all),
        fn("join_list_string", "join", (list_string, STRING), STRING, join_with),
        fn(
            "replace_string_string_string", "replace", (STRING, STRING, STRING), STRING, replace_all
        ),
        fn("keys_map", "keys", (MapT(A, B),), ListT(A), map_keys, secrets=carry("A", "B")),
        fn("values_map", "values", (MapT(A, B),), ListT(B), map_values, secrets=carry("A", "B")),
        fn("range_int", "range", (INT,), ListT(INT), int_range),
        fn("sum_list_int", "sum", (ListT(INT),), INT, sum_int),
        fn("sum_list_uint", "sum", (ListT(UINT),), UINT, sum_uint),
        fn("sum_list_double", "sum", (ListT(FLOAT),), FLOAT, sum_double),
        fn("base64_encode_bytes", "base64.encode", (BYTES,), STRING, base64_encode, secrets=DERIVE),
        fn("base64_decode_string", "base64.decode", (STRING,), BYTES, base64_decode),
    ]
