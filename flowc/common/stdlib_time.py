"""Timestamp and duration accessors: ``getFullYear``, ``getMonth``, ``getDate``,
``getDayOfMonth``, ``getDayOfWeek``, ``getDayOfYear``, ``getHours``,
``getMinutes``, ``getSeconds``, ``getMilliseconds``.

A timestamp is an instant (UTC nanoseconds); the calendar fields depend on a
time zone, UTC unless one is given.  A zone is either an IANA name
(``Europe/Paris``, ``US/Central``, ``UTC``), resolved with ``zoneinfo`` and
cached, or a fixed offset written ``[+-]HH:MM`` -- parsed the way cel-go does,
so ``02:00`` means +2h and ``-02:30`` means -2h30m.

Computation: the zone's UTC offset at the instant is looked up once, added to
the Unix seconds, and the local calendar fields are derived with integer
arithmetic (days since the epoch -> proleptic Gregorian date), so no
``datetime`` arithmetic can overflow at the edges of the timestamp range.
Months, days of month, days of year and weekdays are zero-based as CEL
specifies (Sunday is 0); ``getDate`` is the one-based day of the month.

On a duration, ``getHours``/``getMinutes``/``getSeconds`` convert the whole
duration (truncating toward zero) and ``getMilliseconds`` is the millisecond
*part* (``duration('1.234s').getMilliseconds() == 234``).
"""

from __future__ import annotations

import datetime as _dt
import functools
import re
from collections.abc import Callable
from typing import Final, NamedTuple

from flowc.common.stdlib_core import Overload, method
from flowc.common.types import DURATION, INT, STRING, TIMESTAMP
from flowc.common.values import (
    INVALID_ARGUMENT,
    NANOS_PER_SECOND,
    Duration,
    EvalError,
    Timestamp,
    days_to_date,
    describe_text,
)

_SECONDS_PER_DAY: Final = 86_400
_FIXED_OFFSET = re.compile(r"([+-]?[0-9]+):([0-9]+)")


class LocalTime(NamedTuple):
    """Calendar fields of an instant in some zone (CEL's zero-based fields)."""

    year: int
    month: int  # 0..11
    day: int  # 1..31
    day_of_year: int  # 0..365
    day_of_week: int  # 0 = Sunday
    hour: int
    minute: int
    second: int
    millisecond: int


@functools.lru_cache(maxsize=256)
def zone_offset_function(zone: str) -> Callable[[int], int]:
    """A function from Unix seconds to the zone's UTC offset in seconds."""
    match = _FIXED_OFFSET.fullmatch(zone)
    if match is not None:
        hours, minutes = int(match.group(1)), int(match.group(2))
        total = hours * 60 - minutes if zone.startswith("-") else hours * 60 + minutes
        return lambda _seconds: total * 60
    if ":" in zone:
        raise EvalError(INVALID_ARGUMENT, f"invalid time zone {describe_text(zone)}")
    import zoneinfo  # on first use: it reads the time-zone database paths at import

    try:
        info = zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise EvalError(INVALID_ARGUMENT, f"unknown time zone {describe_text(zone)}") from None
    return functools.partial(_zone_offset, info)


_EPOCH: Final = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_EDGE_SHIFT: Final = _dt.timedelta(days=2)


def _zone_offset(info: _dt.tzinfo, seconds: int) -> int:
    instant = _EPOCH + _dt.timedelta(seconds=seconds)
    try:
        local = instant.astimezone(info)
    except OverflowError:  # within a day of year 1 or 9999: offsets are constant there
        shifted = instant + (_EDGE_SHIFT if instant.year == 1 else -_EDGE_SHIFT)
        local = shifted.astimezone(info)
    offset = local.utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def local_time(stamp: Timestamp, zone: str = "UTC") -> LocalTime:
    """The calendar fields of ``stamp`` in ``zone``."""
    seconds, nanos = divmod(stamp.nanos, NANOS_PER_SECOND)
    if zone != "UTC":
        seconds += zone_offset_function(zone)(seconds)
    days, second_of_day = divmod(seconds, _SECONDS_PER_DAY)
    date = days_to_date(days)
    hour, rest = divmod(second_of_day, 3600)
    minute, second = divmod(rest, 60)
    return LocalTime(
        year=date.year,
        month=date.month - 1,
        day=date.day,
        day_of_year=date.timetuple().tm_yday - 1,
        day_of_week=(days + 4) % 7,  # 1970-01-01 was a Thursday
        hour=hour,
        minute=minute,
        second=second,
        millisecond=nanos // 1_000_000,
    )


def _getter(field: str) -> Callable[..., int]:
    def get(stamp: Timestamp, zone: str = "UTC") -> int:
        value: int = getattr(local_time(stamp, zone), field)
        return value

    get.__name__ = f"timestamp_{field}"
    return get


def get_date(stamp: Timestamp, zone: str = "UTC") -> int:
    return local_time(stamp, zone).day


def get_day_of_month(stamp: Timestamp, zone: str = "UTC") -> int:
    return local_time(stamp, zone).day - 1


def _truncating_div(value: int, unit: int) -> int:
    quotient = abs(value) // unit
    return quotient if value >= 0 else -quotient


def duration_hours(span: Duration) -> int:
    return _truncating_div(span.nanos, 3600 * NANOS_PER_SECOND)


def duration_minutes(span: Duration) -> int:
    return _truncating_div(span.nanos, 60 * NANOS_PER_SECOND)


def duration_seconds(span: Duration) -> int:
    return _truncating_div(span.nanos, NANOS_PER_SECOND)


def duration_milliseconds(span: Duration) -> int:
    milliseconds = _truncating_div(span.nanos, 1_000_000)
    part = abs(milliseconds) % 1000
    return part if milliseconds >= 0 else -part


_TIMESTAMP_GETTERS: Final = (
    ("getFullYear", "timestamp_to_year", _getter("year")),
    ("getMonth", "timestamp_to_month", _getter("month")),
    ("getDayOfYear", "timestamp_to_day_of_year", _getter("day_of_year")),
    ("getDayOfMonth", "timestamp_to_day_of_month", get_day_of_month),
    ("getDate", "timestamp_to_day_of_month_1_based", get_date),
    ("getDayOfWeek", "timestamp_to_day_of_week", _getter("day_of_week")),
    ("getHours", "timestamp_to_hours", _getter("hour")),
    ("getMinutes", "timestamp_to_minutes", _getter("minute")),
    ("getSeconds", "timestamp_to_seconds", _getter("second")),
    ("getMilliseconds", "timestamp_to_milliseconds", _getter("millisecond")),
)
_DURATION_GETTERS: Final = (
    ("getHours", "duration_to_hours", duration_hours),
    ("getMinutes", "duration_to_minutes", duration_minutes),
    ("getSeconds", "duration_to_seconds", duration_seconds),
    ("getMilliseconds", "duration_to_milliseconds", duration_milliseconds),
)


def overloads() -> list[Overload]:
    result: list[Overload] = []
    for name, overload_id, impl in _TIMESTAMP_GETTERS:
        result.append(method(overload_id, name, (TIMESTAMP,), INT, impl))
        result.append(method(f"{overload_id}_with_tz", name, (TIMESTAMP, STRING), INT, impl))
    for name, overload_id, impl in _DURATION_GETTERS:
        result.append(method(overload_id, name, (DURATION,), INT, impl))
    return result
