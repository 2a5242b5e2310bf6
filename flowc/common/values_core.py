"""The representation of run-time values: the classes and limits the rest builds on.

This is the bottom layer of the value model (``values.py`` is the public face
and re-exports every name defined here; ``values_text.py`` renders values as
text and JSON).  It holds what has no dependency on rendering or comparison:
the limits, the error type, and one class per value kind Python does not
already represent the way CEL wants.

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
``map``        ``dict`` (see *Maps* in ``values.py``); records are string-keyed
``duration``   ``Duration``: frozen, integer nanoseconds, int64 range
``timestamp``  ``Timestamp``: frozen, integer nanoseconds since the Unix epoch,
               0001-01-01T00:00:00Z .. 9999-12-31T23:59:59.999999999Z
type values    ``CelType`` (``type(1) == int``, ``type(int) == type``)
``secret``     ``Secret``: a string (or, from ``bytes(secret)``, bytes) that
               never prints itself
errors         ``EvalError(kind, message)``, an exception
=============  ==============================================================

Because ``UInt`` is an ``int`` subclass that keeps ``int``'s ``__eq__`` and
``__hash__``, ``1 == UInt(1)`` and both hash alike: exactly CEL's rule that the
map keys ``0`` and ``0u`` are the *same* key.  Type dispatch therefore always
tests ``type(x) is int`` / ``type(x) is UInt`` and never ``isinstance(x, int)``
(which would also accept ``bool``).  ``BoolKey`` is how a ``bool`` map key is
stored, because ``True == 1`` would collide in a ``dict``.

Ranges.  Durations are limited to a signed 64-bit count of nanoseconds (about
+-292 years), as cel-spec's language definition states under *Overflow* and as
the conformance data checks (``timestamp('9999-12-31T23:59:59Z') -
timestamp('0001-01-01T00:00:00Z')`` is a range error).  The wider +-10000 year
range of ``google.protobuf.Duration`` is deliberately not used.  Durations
parse from Go/CEL syntax (``1m30s``) and print as seconds (``90s``);
timestamps parse from and print as RFC 3339 in UTC.

A ``Secret`` shows no characters through ``str``, ``repr`` or ``format``, and
refuses to be pickled; only ``reveal()`` returns its value: a ``str``, or the
``bytes`` of a secret converted with ``bytes()`` (the checker's ``secret`` and
``secret bytes``).  ``describe_text`` quotes and truncates user text for error
messages.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from typing import Final, NoReturn

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
        whole = whole.lstrip("0")
        if len(whole) > 20:  # out of range whatever the unit (and int() refuses 4,300 digits)
            raise EvalError(RANGE, "duration out of range")
        total += int(whole or "0") * scale
        if fraction:
            fraction = fraction[:30]  # digits further right change no nanosecond
            total += int(fraction) * scale // 10 ** len(fraction)
        if total > 2**63:
            raise EvalError(RANGE, "duration out of range")
        position = match.end()
    return Duration(-total if negative else total)


_SIZE = re.compile(r"\s*([0-9]+(?:_[0-9]+)*)(?:\.([0-9]+))?\s*([A-Za-z]*)\s*")
_SIZE_UNITS: Final = {
    "": 1,
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
}
SIZE_SYNTAX: Final = 'a size like "50MB", "512KiB" or "1.5GB"'


def parse_byte_size(text: str) -> int:
    """A number of bytes from ``"50MB"``, ``"512 KiB"``, ``"1.5GB"`` or ``"1000"``.

    Units (case-insensitive): ``B``, ``KB``/``MB``/``GB`` (powers of 1000) and
    ``KiB``/``MiB``/``GiB`` (powers of 1024); a fraction is rounded down.
    """
    match = _SIZE.fullmatch(text)
    scale = None if match is None else _SIZE_UNITS.get(match.group(3).lower())
    if match is None or scale is None or len(match.group(1)) > 20:
        raise EvalError(INVALID_ARGUMENT, f"expected {SIZE_SYNTAX}, found {describe_text(text)}")
    size = int(match.group(1)) * scale
    if match.group(2):
        fraction = match.group(2)[:20]
        size += int(fraction) * scale // 10 ** len(fraction)
    if not 0 < size <= INT64_MAX:
        raise EvalError(
            RANGE, f"a size must be between 1 byte and 2^63-1 bytes, found {text.strip()}"
        )
    return size


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

#: Checker primitive name (``flowc.common.types.Prim.name``) -> type value.
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
    """A string (or bytes) that may be sent to an API but never printed.

    ``str``, ``repr`` and ``format`` show no characters of the value; only
    ``reveal()`` returns it.  ``source`` names where it came from (the
    environment variable), which is safe to show.  Pickling is refused so
    a secret cannot slip into a journal or a cache by accident.  A secret
    holds bytes when it was made with ``bytes(secret)`` (or concatenated from
    such); the request encoders reveal those as the bytes they are.
    """

    __slots__ = ("_value", "source")

    def __init__(self, value: str | bytes, source: str | None = None) -> None:
        self._value = value
        self.source = source

    def reveal(self) -> str | bytes:
        """The secret value.  For building requests only."""
        return self._value

    @property
    def is_bytes(self) -> bool:
        return type(self._value) is bytes

    def __repr__(self) -> str:
        return f"Secret({self.source})" if self.source else "Secret(***)"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, spec: str) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        # Python equality, for tests and the host; the language cannot compare
        # secrets (the checker refuses it, ``values.equals`` raises).
        if isinstance(other, Secret):
            return self._value == other._value
        if type(other) is str or type(other) is bytes:
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


# --------------------------------------------------------------------------- map keys


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


# --------------------------------------------------------------------------- messages


def describe_text(text: str, limit: int = 60) -> str:
    """A quoted, truncated rendering of user text for messages."""
    if len(text) > limit:
        text = text[:limit] + "..."
    return json.dumps(text, ensure_ascii=False)
