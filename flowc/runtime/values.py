"""Run-time values of `.flow` expressions: representation, equality, text and JSON.

Representation
==============

Values are plain Python objects wherever Python's own semantics agree with
CEL's, and small dedicated classes where they do not:

=============  ==============================================================
CEL / .flow    Python
=============  ==============================================================
``int``        ``int`` (never ``bool``); every operation range-checks 64 bits
``uint``       ``UInt``, an ``int`` subclass whose constructor enforces
               ``0 <= v < 2**64`` and raises ``EvalError("overflow")``
``double``     ``float`` (IEEE 754; ``.flow`` spells the type ``float``)
``bool``       ``bool``
``string``     ``str``
``bytes``      ``bytes``
``null``       ``None``
``list``       ``list`` (never mutated once built)
``map``        ``dict`` (see *Maps* below); records are string-keyed maps
``duration``   ``Duration``: frozen, integer nanoseconds, int64 range
``timestamp``  ``Timestamp``: frozen, integer nanoseconds since the Unix epoch,
               0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z
type values    ``CelType`` (``type(1) == int``, ``type(int) == type``)
``secret``     ``Secret``: a string that never prints itself
errors         ``EvalError(kind, message)``, an exception
=============  ==============================================================

Because ``UInt`` is an ``int`` subclass that keeps ``int``'s ``__eq__`` and
``__hash__``, ``1 == UInt(1)`` and both hash alike: exactly CEL's rule that the
map keys ``0`` and ``0u`` are the *same* key.  Type dispatch therefore always
tests ``type(x) is int`` / ``type(x) is UInt`` and never ``isinstance(x, int)``
(which would also accept ``bool``).

Ranges.  Durations are limited to a signed 64-bit count of nanoseconds (about
+-292 years), as cel-spec's language definition states under *Overflow* and as
the conformance data checks (``timestamp('9999-12-31T23:59:59Z') -
timestamp('0001-01-01T00:00:00Z')`` is a range error).  The wider +-10000 year
range of ``google.protobuf.Duration`` is deliberately not used.

Maps
====

A CEL map may have ``int``, ``uint``, ``bool`` and ``string`` keys, with
numeric keys compared by value across ``int``/``uint``, and lookups by an
integral ``double`` finding the numeric key (``{1u: 'a'}[1.0]``).  A plain
``dict`` gives all of this for free -- Python's ``1 == 1.0 == UInt(1)`` with
equal hashes -- except for ``bool``: ``True == 1`` in Python, so
``{true: 1, 1: 2}`` would collapse into one entry.  Boolean keys are therefore
*stored* as the two singletons ``TRUE_KEY``/``FALSE_KEY`` (``BoolKey``), which
equal nothing but themselves.  The common case, a string-keyed map or record,
is an ordinary ``dict`` with no wrapping at all, so field access is one dict
lookup.  Code that iterates map keys must unwrap them with ``user_key`` (or
use ``map_keys``/``map_items``); code that looks keys up should use
``map_lookup``/``map_contains``, or may index the dict directly with a ``str``.
``build_map`` validates key kinds and rejects repeated keys (``{0: 1, 0u: 2}``).

Equality and ordering
=====================

``equals`` is CEL's heterogeneous equality: numbers compare by value across
``int``/``uint``/``double``, lists and maps compare deeply, and values of
different kinds are simply unequal.  ``int`` against ``uint`` is exact; an
integer against a ``double`` is compared *after converting the integer to a
double*, as cel-spec's conformance data requires (its cases named
``..._lossy_double``: ``9223372036854775807 < 9223372036854775808.0`` is false
and ``>=`` is true).  Equality uses the same rule, so the ordering laws
(``a <= b`` iff ``a < b || a == b``) hold.  ``NaN`` equals nothing.  Map *lookups*
stay exact (a ``dict`` lookup): ``{9223372036854775807: 1}[9223372036854775808.0]``
is a missing key although the two numbers compare equal -- a corner case that
only arises above 2**53.
A ``Secret`` equals a ``str`` or ``Secret`` with the same characters.
``compare`` orders numbers across kinds and same-kind strings, bytes, bools,
durations and timestamps; anything else is a ``no matching overload`` error.

Text and JSON
=============

``to_text`` is the text a value interpolates as (``"${x}"``) and what
``string(x)`` returns: ints in decimal, doubles the way CEL (Go's ``%g``)
prints them (``1e+06``, ``0.0045``, ``+Inf``), bytes decoded as UTF-8,
durations as seconds (``90s``, ``1.5s``), timestamps in RFC 3339 UTC, lists
and maps as compact JSON.  ``to_json`` maps values to JSON-ready Python
objects (durations and timestamps as their text, bytes as base64, non-finite
doubles as ``"NaN"``/``"Infinity"``, map keys as their text); ``from_json``
maps parsed JSON back (integral source numbers stay ``int``, others are
``float``; integers outside int64 become ``float``).

Secrets never leak by accident: ``str``/``repr``/``format`` of a ``Secret``
show no characters, ``to_text``/``to_json`` write ``REDACTED`` in its place
unless the caller asks for ``reveal_secrets=True`` (only the HTTP layer does,
through ``Secret.reveal`` or ``to_json(..., reveal_secrets=True)``), and
``interpolate`` turns any interpolation that touches a secret into a new
``Secret``.  Error messages describe values through ``describe_value``, which
redacts secrets and truncates long text.

Bounds
======

Results are bounded: a string, bytes or list longer than ``MAX_SIZE`` /
``MAX_LIST_LENGTH``, or a value nested deeper than ``MAX_DEPTH``, is an
``EvalError("limit")`` rather than a memory blow-up or a ``RecursionError``.
Rendering (text, JSON) counts its output as it goes, so shared sub-values
(``[x, x, x]`` nested repeatedly) cannot expand exponentially.
"""

from __future__ import annotations

import base64
import datetime as _dt
import decimal
import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Final, NoReturn, TypeAlias

import attrs

# --------------------------------------------------------------------------- limits

INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
UINT64_MAX: Final = 2**64 - 1

#: Longest string (code points) or bytes value an expression may produce.
MAX_SIZE: Final = 10_000_000
#: Longest list an expression may produce.
MAX_LIST_LENGTH: Final = 1_000_000
#: Deepest nesting of lists/maps that rendering and JSON conversion accept.
MAX_DEPTH: Final = 100

NANOS_PER_SECOND: Final = 1_000_000_000
DURATION_MIN_NANOS: Final = INT64_MIN
DURATION_MAX_NANOS: Final = INT64_MAX
#: 0001-01-01T00:00:00Z and 9999-12-31T23:59:59.999999999Z in Unix nanoseconds.
TIMESTAMP_MIN_NANOS: Final = -62_135_596_800 * NANOS_PER_SECOND
TIMESTAMP_MAX_NANOS: Final = 253_402_300_799 * NANOS_PER_SECOND + 999_999_999

#: What a secret looks like wherever it must not appear.
REDACTED: Final = "***redacted***"

# --------------------------------------------------------------------------- errors

OVERFLOW: Final = "overflow"
DIVISION_BY_ZERO: Final = "division by zero"
NO_SUCH_KEY: Final = "no such key"
NO_MATCHING_OVERLOAD: Final = "no matching overload"
INVALID_ARGUMENT: Final = "invalid argument"
TYPE_ERROR: Final = "type"
RANGE: Final = "range"
LIMIT: Final = "limit"
ENVIRONMENT: Final = "environment"


class EvalError(Exception):
    """An expression evaluation error: a ``kind`` (one of the constants above)
    and a human-readable ``message``.  Messages never contain secret values."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"EvalError({self.kind!r}, {self.message!r})"


def fail(kind: str, message: str) -> NoReturn:
    """Raise ``EvalError(kind, message)``; handy in expressions."""
    raise EvalError(kind, message)


# --------------------------------------------------------------------------- uint


class UInt(int):
    """A CEL ``uint``: an ``int`` in ``[0, 2**64)``.

    It keeps ``int``'s equality and hash (so ``UInt(1) == 1`` and they are the
    same map key) and only changes how it prints.  Arithmetic on two ``UInt``
    with Python operators returns a plain ``int``; the library wraps results.
    """

    __slots__ = ()

    def __new__(cls, value: int) -> UInt:
        if not 0 <= value <= UINT64_MAX:
            raise EvalError(OVERFLOW, "uint overflow")
        return super().__new__(cls, value)

    def __repr__(self) -> str:
        return f"{int(self)}u"

    def __str__(self) -> str:
        return int.__repr__(self)


def check_int(value: int) -> int:
    """Return ``value`` if it fits in int64, else raise an overflow error."""
    if INT64_MIN <= value <= INT64_MAX:
        return value
    raise EvalError(OVERFLOW, "int overflow")


# --------------------------------------------------------------------------- calendar

_EPOCH_ORDINAL: Final = _dt.date(1970, 1, 1).toordinal()
_SECONDS_PER_DAY: Final = 86_400


def days_to_date(days: int) -> _dt.date:
    """The calendar date ``days`` days after 1970-01-01 (years 1..9999)."""
    try:
        return _dt.date.fromordinal(days + _EPOCH_ORDINAL)
    except (ValueError, OverflowError):
        raise EvalError(RANGE, "date out of range") from None


def date_to_days(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to the given date (validated)."""
    try:
        return _dt.date(year, month, day).toordinal() - _EPOCH_ORDINAL
    except ValueError:
        raise EvalError(RANGE, f"invalid date {year:04d}-{month:02d}-{day:02d}") from None


# --------------------------------------------------------------------------- duration


@attrs.frozen(slots=True, order=True, repr=False)
class Duration:
    """A CEL ``duration``: a signed count of nanoseconds in the int64 range."""

    nanos: int

    def __attrs_post_init__(self) -> None:
        if not DURATION_MIN_NANOS <= self.nanos <= DURATION_MAX_NANOS:
            raise EvalError(RANGE, "duration out of range")

    @classmethod
    def from_seconds(cls, seconds: int, nanos: int = 0) -> Duration:
        return cls(seconds * NANOS_PER_SECOND + nanos)

    @classmethod
    def parse(cls, text: str) -> Duration:
        return parse_duration(text)

    def total_seconds(self) -> float:
        return self.nanos / NANOS_PER_SECOND

    def __str__(self) -> str:
        return format_duration(self)

    def __repr__(self) -> str:
        return f"Duration({format_duration(self)!r})"


_DURATION_UNITS: Final[dict[str, int]] = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": NANOS_PER_SECOND,
    "m": 60 * NANOS_PER_SECOND,
    "h": 3600 * NANOS_PER_SECOND,
}
_DURATION_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")


def parse_duration(text: str) -> Duration:
    """Parse Go/CEL duration syntax: ``[-+]?(number unit)+`` or ``0``.

    Units are ``h m s ms us ns``; numbers may be fractional (``1.5h``) and
    parts compound (``1m30s``, ``-1h2m3.5s``).
    """
    negative = text.startswith("-")
    body = text[1:] if text.startswith(("-", "+")) else text
    if body == "0":
        return Duration(0)
    if not body:
        raise EvalError(INVALID_ARGUMENT, f"invalid duration {describe_text(text)}")
    total = 0
    position = 0
    while position < len(body):
        match = _DURATION_PART.match(body, position)
        assert match is not None  # the pattern matches the empty string
        whole, fraction, unit = match.group(1), match.group(2), match.group(3)
        scale = _DURATION_UNITS.get(unit)
        if (not whole and not fraction) or scale is None:
            raise EvalError(INVALID_ARGUMENT, f"invalid duration {describe_text(text)}")
        total += int(whole or "0") * scale
        if fraction:
            total += int(fraction) * scale // 10 ** len(fraction)
        if total > 2**63:
            raise EvalError(RANGE, "duration out of range")
        position = match.end()
    return Duration(-total if negative else total)


def format_duration(value: Duration) -> str:
    """CEL's text for a duration: seconds with a minimal fraction, ``s`` suffix."""
    sign = "-" if value.nanos < 0 else ""
    seconds, nanos = divmod(abs(value.nanos), NANOS_PER_SECOND)
    if nanos:
        return f"{sign}{seconds}.{nanos:09d}".rstrip("0") + "s"
    return f"{sign}{seconds}s"


# --------------------------------------------------------------------------- timestamp


@attrs.frozen(slots=True, order=True, repr=False)
class Timestamp:
    """A CEL ``timestamp``: nanoseconds since 1970-01-01T00:00:00Z (UTC)."""

    nanos: int

    def __attrs_post_init__(self) -> None:
        if not TIMESTAMP_MIN_NANOS <= self.nanos <= TIMESTAMP_MAX_NANOS:
            raise EvalError(RANGE, "timestamp out of range")

    @classmethod
    def from_seconds(cls, seconds: int, nanos: int = 0) -> Timestamp:
        return cls(seconds * NANOS_PER_SECOND + nanos)

    @classmethod
    def parse(cls, text: str) -> Timestamp:
        return parse_timestamp(text)

    @classmethod
    def from_datetime(cls, value: _dt.datetime) -> Timestamp:
        """An aware ``datetime`` (naive ones are taken as UTC)."""
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.UTC)
        offset = value.utcoffset() or _dt.timedelta(0)
        days = value.toordinal() - _EPOCH_ORDINAL
        seconds = days * _SECONDS_PER_DAY + value.hour * 3600 + value.minute * 60 + value.second
        seconds -= int(offset.total_seconds())
        return cls(seconds * NANOS_PER_SECOND + value.microsecond * 1000)

    @property
    def seconds(self) -> int:
        """Whole seconds since the epoch, rounded down (``int(timestamp)``)."""
        return self.nanos // NANOS_PER_SECOND

    def to_datetime(self) -> _dt.datetime:
        """The instant as an aware UTC ``datetime`` (microsecond precision)."""
        seconds, nanos = divmod(self.nanos, NANOS_PER_SECOND)
        days, second_of_day = divmod(seconds, _SECONDS_PER_DAY)
        date = days_to_date(days)
        return _dt.datetime(date.year, date.month, date.day, tzinfo=_dt.UTC) + _dt.timedelta(
            seconds=second_of_day, microseconds=nanos // 1000
        )

    def __str__(self) -> str:
        return format_timestamp(self)

    def __repr__(self) -> str:
        return f"Timestamp({format_timestamp(self)!r})"


_RFC3339 = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]+))?(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))",
)


def parse_timestamp(text: str) -> Timestamp:
    """Parse an RFC 3339 timestamp (``2009-02-13T23:31:30.5+01:00``)."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise EvalError(INVALID_ARGUMENT, f"invalid timestamp {describe_text(text)}")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    if hour > 23 or minute > 59 or second > 59:
        raise EvalError(INVALID_ARGUMENT, f"invalid timestamp {describe_text(text)}")
    fraction = (match.group(7) or "")[:9]
    nanos = int(fraction.ljust(9, "0")) if fraction else 0
    offset = 0
    if match.group(9):
        offset_hours, offset_minutes = int(match.group(10)), int(match.group(11))
        if offset_hours > 24 or offset_minutes > 59:
            raise EvalError(INVALID_ARGUMENT, f"invalid timestamp {describe_text(text)}")
        offset = (offset_hours * 3600 + offset_minutes * 60) * (-1 if match.group(9) == "-" else 1)
    if year == 0:
        raise EvalError(RANGE, "timestamp out of range")
    days = date_to_days(year, month, day)
    seconds = days * _SECONDS_PER_DAY + hour * 3600 + minute * 60 + second - offset
    return Timestamp(seconds * NANOS_PER_SECOND + nanos)


def format_timestamp(value: Timestamp) -> str:
    """RFC 3339 in UTC with a minimal fraction (Go's ``RFC3339Nano``)."""
    seconds, nanos = divmod(value.nanos, NANOS_PER_SECOND)
    days, second_of_day = divmod(seconds, _SECONDS_PER_DAY)
    date = days_to_date(days)
    hour, rest = divmod(second_of_day, 3600)
    minute, second = divmod(rest, 60)
    text = f"{date.year:04d}-{date.month:02d}-{date.day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    if nanos:
        text += f".{nanos:09d}".rstrip("0")
    return text + "Z"


# --------------------------------------------------------------------------- type values


@attrs.frozen(slots=True, repr=False)
class CelType:
    """A type as a value (``type(1) == int``).  ``name`` is CEL's name, which
    is how the value prints; ``flow_name`` is what `.flow` calls it."""

    name: str

    @property
    def flow_name(self) -> str:
        return FLOW_TYPE_NAMES.get(self.name, self.name)

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return f"CelType({self.name!r})"


INT_TYPE: Final = CelType("int")
UINT_TYPE: Final = CelType("uint")
DOUBLE_TYPE: Final = CelType("double")
BOOL_TYPE: Final = CelType("bool")
STRING_TYPE: Final = CelType("string")
BYTES_TYPE: Final = CelType("bytes")
NULL_TYPE: Final = CelType("null_type")
LIST_TYPE: Final = CelType("list")
MAP_TYPE: Final = CelType("map")
TYPE_TYPE: Final = CelType("type")
DURATION_TYPE: Final = CelType("google.protobuf.Duration")
TIMESTAMP_TYPE: Final = CelType("google.protobuf.Timestamp")
SECRET_TYPE: Final = CelType("secret")

#: CEL type name -> the name `.flow` (and the checker's messages) use.
FLOW_TYPE_NAMES: Final[dict[str, str]] = {
    "double": "float",
    "null_type": "null",
    "google.protobuf.Duration": "duration",
    "google.protobuf.Timestamp": "timestamp",
}

#: Identifiers that denote type values in expressions (``type(x) == int``).
#: Both CEL's spellings and `.flow`'s (``float``, ``duration``) are accepted.
TYPE_IDENTIFIERS: Final[dict[str, CelType]] = {
    "int": INT_TYPE,
    "uint": UINT_TYPE,
    "double": DOUBLE_TYPE,
    "float": DOUBLE_TYPE,
    "bool": BOOL_TYPE,
    "string": STRING_TYPE,
    "bytes": BYTES_TYPE,
    "null_type": NULL_TYPE,
    "list": LIST_TYPE,
    "map": MAP_TYPE,
    "type": TYPE_TYPE,
    "google.protobuf.Duration": DURATION_TYPE,
    "google.protobuf.Timestamp": TIMESTAMP_TYPE,
    "duration": DURATION_TYPE,
    "timestamp": TIMESTAMP_TYPE,
    "secret": SECRET_TYPE,
}

#: Checker primitive name (``flowc.compiler.types.Prim.name``) -> type value.
PRIM_TYPE_VALUES: Final[dict[str, CelType]] = {
    "int": INT_TYPE,
    "uint": UINT_TYPE,
    "float": DOUBLE_TYPE,
    "bool": BOOL_TYPE,
    "string": STRING_TYPE,
    "bytes": BYTES_TYPE,
    "null": NULL_TYPE,
    "duration": DURATION_TYPE,
    "timestamp": TIMESTAMP_TYPE,
    "type": TYPE_TYPE,
    "secret": SECRET_TYPE,
}


# --------------------------------------------------------------------------- secrets


class Secret:
    """A string that may be sent to an API but never printed.

    ``str``, ``repr`` and ``format`` show no characters of the value; only
    ``reveal()`` returns it.  ``source`` names where it came from (the
    environment variable), which is safe to show.  Pickling is refused so
    a secret cannot slip into a journal or a cache by accident.
    """

    __slots__ = ("_value", "source")

    def __init__(self, value: str, source: str | None = None) -> None:
        self._value = value
        self.source = source

    def reveal(self) -> str:
        """The secret text.  For the HTTP layer only."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({self.source})" if self.source else "Secret(***)"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, spec: str) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Secret):
            return self._value == other._value
        if type(other) is str:
            return self._value == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> NoReturn:
        raise TypeError("secrets cannot be pickled")

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: object) -> Secret:
        return self


# --------------------------------------------------------------------------- maps


class BoolKey:
    """How a ``bool`` map key is stored (``True == 1`` would collide in a dict)."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "true" if self.value else "false"

    def __reduce__(self) -> tuple[object, ...]:
        return (bool_key, (self.value,))


TRUE_KEY: Final = BoolKey(True)
FALSE_KEY: Final = BoolKey(False)


def bool_key(value: bool) -> BoolKey:
    return TRUE_KEY if value else FALSE_KEY


def storage_key(key: object) -> object:
    """Validate a map key for insertion and return how the dict stores it."""
    kind = type(key)
    if kind is str or kind is int or kind is UInt:
        return key
    if kind is bool:
        return TRUE_KEY if key else FALSE_KEY
    raise EvalError(INVALID_ARGUMENT, f"unsupported map key type {describe_type(key)}")


def user_key(key: object) -> object:
    """The CEL value of a stored map key (unwraps ``BoolKey``)."""
    return key.value if type(key) is BoolKey else key


def build_map(entries: Iterable[tuple[object, object]]) -> dict[object, object]:
    """A map from key/value pairs; repeated keys (also ``0`` vs ``0u``) are errors."""
    result: dict[object, object] = {}
    for key, value in entries:
        stored = storage_key(key)
        if stored in result:
            raise EvalError(INVALID_ARGUMENT, f"repeated map key {describe_value(key)}")
        result[stored] = value
    return result


def map_contains(mapping: dict[object, object], key: object) -> bool:
    """CEL ``key in mapping``: numeric keys match across int/uint/double."""
    if type(key) is bool:
        key = TRUE_KEY if key else FALSE_KEY
    try:
        return key in mapping
    except TypeError:  # unhashable: a list or map is never a key
        return False


def map_lookup(mapping: dict[object, object], key: object) -> object:
    """CEL ``mapping[key]``; a missing key is ``EvalError("no such key")``."""
    try:
        return mapping[key if type(key) is not bool else (TRUE_KEY if key else FALSE_KEY)]
    except (KeyError, TypeError):
        raise EvalError(NO_SUCH_KEY, f"no such key: {describe_value(key)}") from None


def map_keys(mapping: dict[object, object]) -> list[object]:
    return [user_key(key) for key in mapping]


def map_items(mapping: dict[object, object]) -> Iterator[tuple[object, object]]:
    for key, value in mapping.items():
        yield user_key(key), value


# --------------------------------------------------------------------------- type_of


_TYPE_OF: Final[dict[type, CelType]] = {
    int: INT_TYPE,
    UInt: UINT_TYPE,
    float: DOUBLE_TYPE,
    bool: BOOL_TYPE,
    str: STRING_TYPE,
    bytes: BYTES_TYPE,
    type(None): NULL_TYPE,
    list: LIST_TYPE,
    dict: MAP_TYPE,
    CelType: TYPE_TYPE,
    Duration: DURATION_TYPE,
    Timestamp: TIMESTAMP_TYPE,
    Secret: SECRET_TYPE,
}


def type_of(value: object) -> CelType:
    """CEL's ``type(value)``."""
    result = _TYPE_OF.get(type(value))
    if result is None:
        raise EvalError(TYPE_ERROR, f"not a .flow value: {type(value).__name__}")
    return result


def describe_type(value: object) -> str:
    """The `.flow` type name of a value, for messages."""
    result = _TYPE_OF.get(type(value))
    return result.flow_name if result is not None else type(value).__name__


def describe_text(text: str, limit: int = 60) -> str:
    """A quoted, truncated rendering of user text for messages."""
    if len(text) > limit:
        text = text[:limit] + "..."
    return json.dumps(text, ensure_ascii=False)


def describe_value(value: object, limit: int = 60) -> str:
    """A short rendering of a value for error messages; secrets are redacted."""
    if type(value) is str:
        return describe_text(value, limit)
    if isinstance(value, Secret):
        return REDACTED
    try:
        text = to_text(value)
    except EvalError:
        return describe_type(value)
    return text if len(text) <= limit else text[:limit] + "..."


# --------------------------------------------------------------------------- equality

_NUMERIC_TYPES: Final = frozenset({int, UInt, float})


def equals(left: object, right: object) -> bool:
    """CEL heterogeneous equality (``1 == 1u == 1.0``, ``NaN != NaN``, deep)."""
    left_type = type(left)
    if left_type is type(right) and left_type is not list and left_type is not dict:
        return left == right
    try:
        return _equals(left, right)
    except RecursionError:
        raise EvalError(LIMIT, "values nested too deeply to compare") from None


def _equals(left: object, right: object) -> bool:
    left_type = type(left)
    right_type = type(right)
    if left_type is right_type:
        if left_type is list:
            return _lists_equal(left, right)  # type: ignore[arg-type]
        if left_type is dict:
            return _maps_equal(left, right)  # type: ignore[arg-type]
        return left == right
    if left_type in _NUMERIC_TYPES and right_type in _NUMERIC_TYPES:
        if left_type is float or right_type is float:
            return float(left) == float(right)  # type: ignore[arg-type]
        return left == right
    if left_type is Secret or right_type is Secret:
        textual = (left_type is str or left_type is Secret) and (
            right_type is str or right_type is Secret
        )
        return textual and left == right
    return False


def _lists_equal(left: list[object], right: list[object]) -> bool:
    if len(left) != len(right):
        return False
    return all(_equals(a, b) for a, b in zip(left, right, strict=True))


def _maps_equal(left: dict[object, object], right: dict[object, object]) -> bool:
    if len(left) != len(right):
        return False
    for key, value in left.items():
        try:
            other = right[key]
        except KeyError:
            return False
        if not _equals(value, other):
            return False
    return True


_ORDERED_SAME_KIND: Final = frozenset({str, bytes, bool, Duration, Timestamp})


def compare(left: object, right: object) -> int:
    """Order two values: -1, 0 or 1.  Numbers compare across int/uint/double;
    strings, bytes, bools, durations and timestamps with their own kind."""
    left_type = type(left)
    right_type = type(right)
    numeric = left_type in _NUMERIC_TYPES and right_type in _NUMERIC_TYPES
    if not numeric and not (left_type is right_type and left_type in _ORDERED_SAME_KIND):
        raise EvalError(
            NO_MATCHING_OVERLOAD,
            f"cannot order {describe_type(left)} and {describe_type(right)}",
        )
    if numeric and (left != left or right != right):  # NaN is unordered
        raise EvalError(INVALID_ARGUMENT, "NaN values cannot be ordered")
    if numeric and left_type is not right_type and (left_type is float or right_type is float):
        left, right = float(left), float(right)  # type: ignore[arg-type]
    if left < right:  # type: ignore[operator]
        return -1
    if left > right:  # type: ignore[operator]
        return 1
    return 0


# --------------------------------------------------------------------------- doubles


def _shortest_digits(value: float) -> tuple[str, int]:
    """Shortest round-trip decimal digits of a finite non-zero ``abs(value)``
    and the number of them that stand before the decimal point."""
    _, digit_tuple, exponent = decimal.Decimal(repr(abs(value))).as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(map(str, digit_tuple))
    point = len(digits) + exponent
    return digits.rstrip("0"), point


def format_double(value: float) -> str:
    """A double the way CEL prints it (Go's ``strconv.FormatFloat(v, 'g', -1)``):
    shortest digits, exponent form below 1e-4 and from 1e+06 on."""
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign = "-" if value < 0 else ""
    digits, point = _shortest_digits(value)
    exponent = point - 1
    if exponent < -4 or exponent >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    return sign + _place_point(digits, point)


def format_double_fixed(value: float) -> str:
    """Shortest digits always in positional form (Go's ``'f', -1``); non-finite
    values as ``NaN``/``Infinity``/``-Infinity``."""
    if value != value:
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign = "-" if value < 0 else ""
    digits, point = _shortest_digits(value)
    return sign + _place_point(digits, point)


def _place_point(digits: str, point: int) -> str:
    if point <= 0:
        return "0." + "0" * -point + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


# --------------------------------------------------------------------------- size checks


def check_str(value: str) -> str:
    if len(value) > MAX_SIZE:
        raise EvalError(LIMIT, f"string longer than {MAX_SIZE} characters")
    return value


def check_bytes(value: bytes) -> bytes:
    if len(value) > MAX_SIZE:
        raise EvalError(LIMIT, f"bytes longer than {MAX_SIZE}")
    return value


def check_list(value: list[object]) -> list[object]:
    if len(value) > MAX_LIST_LENGTH:
        raise EvalError(LIMIT, f"list longer than {MAX_LIST_LENGTH} elements")
    return value


def check_size(size: int, what: str = "result") -> None:
    """Raise a limit error before building a string/bytes of ``size``."""
    if size > MAX_SIZE:
        raise EvalError(LIMIT, f"{what} larger than {MAX_SIZE}")


# --------------------------------------------------------------------------- text


class _Budget:
    """Counts rendered output so that rendering stays bounded."""

    __slots__ = ("remaining", "reveal", "saw_secret")

    def __init__(self, reveal: bool) -> None:
        self.remaining = MAX_SIZE
        self.saw_secret = False
        self.reveal = reveal

    def spend(self, amount: int) -> None:
        self.remaining -= amount
        if self.remaining < 0:
            raise EvalError(LIMIT, f"rendered value larger than {MAX_SIZE} characters")


def decode_utf8(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise EvalError(INVALID_ARGUMENT, "bytes are not valid UTF-8") from None


def _scalar_text(value: object, budget: _Budget) -> str | None:
    """Text of a non-container value, or ``None`` for lists and maps."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[return-value]
    if kind is int or kind is UInt:
        return int.__repr__(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is float:
        return format_double(value)  # type: ignore[arg-type]
    if kind is bytes:
        return decode_utf8(value)  # type: ignore[arg-type]
    if kind is Duration:
        return format_duration(value)  # type: ignore[arg-type]
    if kind is Timestamp:
        return format_timestamp(value)  # type: ignore[arg-type]
    if kind is CelType:
        return value.name  # type: ignore[attr-defined, no-any-return]
    if kind is Secret:
        budget.saw_secret = True
        return value.reveal() if budget.reveal else REDACTED  # type: ignore[attr-defined]
    if kind is list or kind is dict:
        return None
    raise EvalError(TYPE_ERROR, f"not a .flow value: {kind.__name__}")


def _render_text(value: object, budget: _Budget) -> str:
    text = _scalar_text(value, budget)
    if text is None:
        return _dump_json(_json_of(value, budget, 0))
    budget.spend(len(text))
    return text


def to_text(value: object) -> str:
    """The text form of a value (interpolation and ``string()``); secrets show
    as ``REDACTED``."""
    if type(value) is str:
        return value
    return _render_text(value, _Budget(reveal=False))


def contains_secret(value: object) -> bool:
    """Whether a secret occurs anywhere in the value."""
    kind = type(value)
    if kind is Secret:
        return True
    if kind is list:
        return any(contains_secret(item) for item in value)  # type: ignore[attr-defined]
    if kind is dict:
        return any(contains_secret(item) for item in value.values())  # type: ignore[attr-defined]
    return False


def interpolate(parts: Sequence[object]) -> str | Secret:
    """Join literal text and values as ``"a${x}b"`` does.  If any value is
    (or contains) a secret, the result is a ``Secret`` holding the real text."""
    budget = _Budget(reveal=True)
    pieces = [_render_text(part, budget) for part in parts]
    text = "".join(pieces)
    if budget.saw_secret:
        return Secret(text)
    return text


# --------------------------------------------------------------------------- JSON

JsonValue: TypeAlias = bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None


def _json_of(value: object, budget: _Budget, depth: int) -> JsonValue:
    if depth > MAX_DEPTH:
        raise EvalError(LIMIT, f"value nested deeper than {MAX_DEPTH} levels")
    budget.spend(1)
    kind = type(value)
    if kind is str:
        budget.spend(len(value))  # type: ignore[arg-type]
        return value  # type: ignore[return-value]
    if kind is bool or kind is int or value is None:
        return value  # type: ignore[return-value]
    if kind is UInt:
        return int(value)  # type: ignore[call-overload, no-any-return]
    if kind is float:
        if math.isfinite(value):  # type: ignore[arg-type]
            return value  # type: ignore[return-value]
        return format_double_fixed(value)  # type: ignore[arg-type]
    if kind is list:
        return [_json_of(item, budget, depth + 1) for item in value]  # type: ignore[attr-defined]
    if kind is dict:
        return {
            _json_key(key, budget): _json_of(item, budget, depth + 1)
            for key, item in value.items()  # type: ignore[attr-defined]
        }
    if kind is bytes:
        budget.spend(len(value) * 4 // 3)  # type: ignore[arg-type]
        return base64.b64encode(value).decode("ascii")  # type: ignore[arg-type]
    text = _scalar_text(value, budget)
    assert text is not None
    return text


def _json_key(key: object, budget: _Budget) -> str:
    if type(key) is str:
        return key
    if type(key) is BoolKey:
        return "true" if key.value else "false"
    text = _scalar_text(key, budget)
    assert text is not None
    return text


def to_json(value: object, *, reveal_secrets: bool = False) -> JsonValue:
    """A JSON-ready Python object for ``value``.

    Durations and timestamps become their CEL text, bytes base64, NaN and the
    infinities ``"NaN"``/``"Infinity"``/``"-Infinity"``, map keys their text.
    Secrets become ``REDACTED`` unless ``reveal_secrets`` (the HTTP layer
    building a request body).
    """
    return _json_of(value, _Budget(reveal=reveal_secrets), 0)


def _dump_json(value: JsonValue) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def json_text(value: object, *, reveal_secrets: bool = False) -> str:
    """Compact JSON text of a value (``json_encode``)."""
    return _dump_json(to_json(value, reveal_secrets=reveal_secrets))


def from_json(value: object, depth: int = 0) -> object:
    """A `.flow` value from a parsed JSON document (``json.loads`` output).

    Integers stay ``int`` when they fit in int64 and become ``float`` otherwise;
    tuples are accepted as arrays.  Anything that is not JSON is a type error.
    """
    if depth > MAX_DEPTH:
        raise EvalError(LIMIT, f"JSON nested deeper than {MAX_DEPTH} levels")
    kind = type(value)
    if kind is str or kind is bool or kind is float or value is None:
        return value
    if kind is int:
        return value if INT64_MIN <= value <= INT64_MAX else float(value)  # type: ignore[operator, arg-type]
    if kind is list or kind is tuple:
        return [from_json(item, depth + 1) for item in value]  # type: ignore[attr-defined]
    if kind is dict:
        result: dict[object, object] = {}
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str:
                raise EvalError(TYPE_ERROR, "JSON object keys must be strings")
            result[key] = from_json(item, depth + 1)
        return result
    raise EvalError(TYPE_ERROR, f"not a JSON value: {kind.__name__}")


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def parse_json(text: str) -> object:
    """Parse JSON text into a `.flow` value (``json_decode``)."""
    try:
        document = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise EvalError(LIMIT, "JSON nested too deeply") from None
    except ValueError as error:
        reason = error.msg if isinstance(error, json.JSONDecodeError) else str(error)
        where = f" at offset {error.pos}" if isinstance(error, json.JSONDecodeError) else ""
        raise EvalError(INVALID_ARGUMENT, f"invalid JSON: {reason}{where}") from None
    return from_json(document)
