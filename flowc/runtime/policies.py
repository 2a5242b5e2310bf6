"""Resilience policies for steps and services: retry, backoff, Retry-After,
circuit breaker and rate limiter.

These are the pure building blocks the executor composes around each HTTP
call.  None of them performs I/O or knows about steps; every time is a trio
clock reading in seconds (a ``float``), and the two stateful classes take the
clock as a parameter so that tests drive them with ``trio.testing.MockClock``.

Retry (LANGUAGE.md section 7)
=============================

``retry N`` allows at most N retries after the first try.  Which errors are
retried is the ``when`` predicate's business; without one,
``default_should_retry`` decides: the error kinds ``timeout``, ``connect`` and
``protocol`` (the HTTP layer's kind for a connection that was reset or closed
mid-exchange -- as transient as a refused connection, and what curl's
``--retry`` and urllib3 retry too), and a ``status`` error whose status is
429, 502, 503 or 504.  Nothing else is retried by default: ``decode``,
``assert`` and ``fail`` will fail again, ``cancelled`` must not be resisted,
``circuit_open`` and ``rate_limited`` are this module's own fast failures,
and ``invalid_request`` is a mistake in the flow.

``backoff_delay`` computes the pause before retry number ``n`` (1 for the
first retry): ``fixed D`` waits ``D``, ``linear D`` waits ``D * n`` and
``exponential D`` waits ``D * factor ** (n - 1)`` (factor 2 unless given).
``max M`` caps the delay *before* jitter, and ``jitter`` is AWS's "full
jitter": a uniform draw from ``[0, delay]``.  A delay too large for a float
is infinite, so a cap still applies to it.

``parse_retry_after`` reads a ``Retry-After`` header: either delay-seconds
(``120``; a fraction such as ``1.5`` is accepted too) or an HTTP-date, taken
relative to the caller's wall clock.  A date in the past or a negative delay
means "now" (0).  Anything else is ignored (``None``).  The result is capped
at ``MAX_RETRY_AFTER`` (300 s): a misconfigured server answering
``Retry-After: 86400`` must not park a run for a day; the flow's own
timeouts and retry budget stay in charge of how long it may wait.  How the
executor combines it with the backoff (the longer of the two is the natural
choice) is not decided here.

Circuit breaker
===============

``CircuitBreaker(failures, window, cooldown)`` has three states:

* ``closed``: calls pass.  Each failure is time-stamped; once ``failures``
  of them fall within the last ``window`` seconds the breaker opens.  A
  success does not clear the count: the rule is "N failures within the
  window", not "N in a row", so a service failing every other call still
  trips it.
* ``open``: ``before_call`` raises ``CircuitOpen`` (whose ``retry_after``
  says how long the cooldown still runs) until ``cooldown`` seconds have
  passed since it opened.
* ``half_open``: the cooldown has passed.  Exactly one trial call is
  admitted at a time; concurrent callers get ``CircuitOpen`` with
  ``retry_after == 0`` (the trial's outcome is not known yet).  A success
  closes the breaker and forgets past failures; a failure re-opens it for
  another cooldown.  If the trial ends with neither (it was cancelled), the
  caller reports ``record_cancelled()`` so that the next caller may try;
  otherwise the breaker would stay half-open forever.

Outcomes are not tied to the call that reported them.  A call admitted while
the breaker was closed that finishes during half-open counts as the trial's
outcome (it is equally recent evidence about the service), and outcomes
reported while open are ignored (the cooldown is not extended by calls that
were already in flight when the breaker opened).

Rate limiter
============

``RateLimiter(count, period)`` is a token bucket: capacity ``count`` (the
burst), refilled continuously at ``count / period`` tokens per second,
starting full.  ``acquire`` takes a token, waiting for one if needed:

* fair: waiters are served strictly in arrival order.  Only the waiter at the
  head of the queue sleeps on the clock; the others wait for their turn, so a
  newcomer never overtakes someone already waiting, even when a token happens
  to be available at that instant;
* bounded: with a ``deadline`` (a trio clock time), a caller whose wait would
  end after the deadline gets ``RateLimited`` at once instead of waiting.
  The wait is computable exactly: the waiters ahead each take one token, and
  tokens arrive at a known rate;
* cancellation-safe: a token is taken only at the instant the head waiter is
  granted it, with no checkpoint in between, so a cancelled waiter consumes
  nothing and the one behind it moves up immediately.

100 acquisitions at 10 per second thus take 9 seconds: 10 at once (the
burst), then one every 100 ms.
"""

from __future__ import annotations

import datetime
import email.utils
import math
import random
import re
from collections import deque
from collections.abc import Callable
from typing import Final, Literal

import trio

from flowc.common import errors
from flowc.common.errors import FlowError
from flowc.common.values import Duration, to_text

Clock = Callable[[], float]
BreakerState = Literal["closed", "open", "half_open"]


def seconds_of(value: object, what: str) -> float:
    """A ``duration`` value in seconds; an ``eval`` error naming ``what`` otherwise."""
    if isinstance(value, Duration):
        return value.nanos / 1_000_000_000
    raise FlowError(errors.EVAL, f"{what} must be a duration, found {to_text(value)}")


# --------------------------------------------------------------------------- retry

#: Statuses retried when a retry clause has no ``when`` predicate.
DEFAULT_RETRY_STATUSES: Final[frozenset[int]] = frozenset({429, 502, 503, 504})

#: Error kinds (LANGUAGE.md section 5, plus the HTTP layer's ``protocol``)
#: retried when a retry clause has no ``when`` predicate.
DEFAULT_RETRY_KINDS: Final[frozenset[str]] = frozenset({"timeout", "connect", "protocol"})

#: The error kind of an unaccepted response status.
STATUS_KIND: Final = "status"

BACKOFF_KINDS: Final[frozenset[str]] = frozenset({"fixed", "linear", "exponential"})

#: Longest wait a ``Retry-After`` header can ask for, in seconds.
MAX_RETRY_AFTER: Final = 300.0

_DEFAULT_RNG: Final = random.Random()


def default_should_retry(kind: str, status: int) -> bool:
    """Whether an error is retried when the retry clause has no ``when``."""
    if kind in DEFAULT_RETRY_KINDS:
        return True
    return kind == STATUS_KIND and status in DEFAULT_RETRY_STATUSES


def backoff_delay(
    kind: str,
    base: float,
    retry_number: int,
    *,
    factor: float = 2.0,
    cap: float | None = None,
    jitter: bool = False,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number ``retry_number`` (1 for the first).

    ``kind`` is ``fixed``, ``linear`` or ``exponential``; ``cap`` applies
    before jitter; ``jitter`` draws uniformly from ``[0, delay]``.
    """
    _check_backoff_arguments(kind, base, retry_number, factor, cap)
    delay = _unjittered_delay(kind, base, retry_number, factor)
    if cap is not None:
        delay = min(delay, cap)
    if jitter and 0 < delay < math.inf:
        delay = (rng or _DEFAULT_RNG).uniform(0.0, delay)
    return delay


def _check_backoff_arguments(
    kind: str, base: float, retry_number: int, factor: float, cap: float | None
) -> None:
    if kind not in BACKOFF_KINDS:
        raise ValueError(f"unknown backoff kind {kind!r}")
    if retry_number < 1:
        raise ValueError(f"retry_number starts at 1, got {retry_number}")
    if not base >= 0:
        raise ValueError(f"backoff base must be >= 0, got {base}")
    if not factor > 0:
        raise ValueError(f"backoff factor must be > 0, got {factor}")
    if cap is not None and not cap >= 0:
        raise ValueError(f"backoff cap must be >= 0, got {cap}")


def _unjittered_delay(kind: str, base: float, retry_number: int, factor: float) -> float:
    base = float(base)
    if kind == "fixed":
        return base
    if kind == "linear":
        return base * retry_number
    if base == 0:  # 0 * inf is NaN; no base means no wait however large the growth
        return 0.0
    try:
        growth = float(factor) ** (retry_number - 1)
    except OverflowError:
        growth = math.inf
    return base * growth


_DELAY_SECONDS = re.compile(r"[+-]?[0-9]+(?:\.[0-9]+)?")
_MAX_HEADER_LENGTH: Final = 200


def parse_retry_after(value: str, now_epoch: float) -> float | None:
    """Seconds to wait according to a ``Retry-After`` header value.

    ``now_epoch`` is the current wall-clock time (Unix seconds), needed for
    the HTTP-date form.  Past dates and negative delays give 0, values above
    ``MAX_RETRY_AFTER`` give ``MAX_RETRY_AFTER``, unreadable values ``None``.
    """
    text = value.strip()
    if not text or len(text) > _MAX_HEADER_LENGTH:
        return None
    if _DELAY_SECONDS.fullmatch(text):
        seconds = float(text)
    else:
        when = _http_date_epoch(text)
        if when is None:
            return None
        seconds = when - now_epoch
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _http_date_epoch(text: str) -> float | None:
    """Unix time of an HTTP-date (RFC 9110 IMF-fixdate or the obsolete forms)."""
    try:
        moment = email.utils.parsedate_to_datetime(text)
        if moment.tzinfo is None:  # "-0000": no zone information; HTTP dates are GMT
            moment = moment.replace(tzinfo=datetime.UTC)
        return moment.timestamp()
    except (ValueError, TypeError, IndexError, OverflowError):
        return None


# --------------------------------------------------------------------------- circuit breaker


class CircuitOpen(Exception):
    """A call refused by an open (or busy half-open) circuit breaker."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"circuit open; retry in {retry_after:.3g}s")
        self.retry_after = retry_after


class CircuitBreaker:
    """Fails calls fast after ``failures`` failures within ``window`` seconds,
    for ``cooldown`` seconds, then lets one trial call decide."""

    def __init__(
        self,
        failures: int,
        window: float,
        cooldown: float,
        clock: Clock = trio.current_time,
    ) -> None:
        if failures < 1:
            raise ValueError(f"failures must be >= 1, got {failures}")
        if not window > 0:
            raise ValueError(f"window must be > 0, got {window}")
        if not cooldown >= 0:
            raise ValueError(f"cooldown must be >= 0, got {cooldown}")
        self.failures = failures
        self.window = window
        self.cooldown = cooldown
        self._clock = clock
        self._state: BreakerState = "closed"
        self._failure_times: deque[float] = deque()
        self._opened_at = 0.0
        self._trial_in_flight = False

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half_open`` (the cooldown has passed)."""
        self._end_cooldown_if_due(self._clock())
        return self._state

    def before_call(self) -> None:
        """Admit a call or raise ``CircuitOpen``."""
        now = self._clock()
        self._end_cooldown_if_due(now)
        if self._state == "open":
            raise CircuitOpen(self._opened_at + self.cooldown - now)
        if self._state == "half_open":
            if self._trial_in_flight:
                raise CircuitOpen(0.0)
            self._trial_in_flight = True

    def record_success(self) -> None:
        """An admitted call succeeded; a successful trial closes the breaker."""
        self._end_cooldown_if_due(self._clock())
        if self._state == "half_open":
            self._close()

    def record_failure(self) -> None:
        """An admitted call failed; may open (or re-open) the breaker."""
        now = self._clock()
        self._end_cooldown_if_due(now)
        if self._state == "half_open":
            self._open(now)
        elif self._state == "closed":
            self._count_failure(now)

    def record_cancelled(self) -> None:
        """An admitted call ended without an outcome: free the trial slot."""
        if self._state == "half_open":
            self._trial_in_flight = False

    def _count_failure(self, now: float) -> None:
        times = self._failure_times
        times.append(now)
        while times and times[0] <= now - self.window:
            times.popleft()
        if len(times) >= self.failures:
            self._open(now)

    def _end_cooldown_if_due(self, now: float) -> None:
        if self._state == "open" and now >= self._opened_at + self.cooldown:
            self._state = "half_open"
            self._trial_in_flight = False

    def _open(self, now: float) -> None:
        self._state = "open"
        self._opened_at = now
        self._trial_in_flight = False
        self._failure_times.clear()

    def _close(self) -> None:
        self._state = "closed"
        self._trial_in_flight = False
        self._failure_times.clear()

    def __repr__(self) -> str:
        return (
            f"CircuitBreaker({self.failures} failures within {self.window}s, "
            f"cooldown {self.cooldown}s, {self._state})"
        )


# --------------------------------------------------------------------------- rate limiter


class RateLimited(Exception):
    """A rate limiter could not grant a token before the caller's deadline."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"rate limited: the next token is {wait:.3g}s away")
        self.wait = wait


# Tokens are floats; a refill that lands a hair below 1.0 still counts as one.
_TOKEN_EPSILON: Final = 1e-9


class _Waiter:
    """A caller queued in ``RateLimiter.acquire``."""

    __slots__ = ("turn",)

    def __init__(self) -> None:
        self.turn = trio.Event()  # set when this waiter reaches the head of the queue


class RateLimiter:
    """A fair token bucket: ``count`` tokens per ``period`` seconds, burst ``count``."""

    def __init__(self, count: int, period: float, clock: Clock = trio.current_time) -> None:
        if count < 1:
            raise ValueError(f"count must be >= 1, got {count}")
        if not period > 0:
            raise ValueError(f"period must be > 0, got {period}")
        self.count = count
        self.period = period
        self._rate = count / period  # tokens per second
        self._clock = clock
        self._tokens = float(count)
        self._updated: float | None = None  # clock reading of the last refill
        self._queue: deque[_Waiter] = deque()

    @property
    def waiting(self) -> int:
        """How many callers are queued for a token."""
        return len(self._queue)

    async def acquire(self, deadline: float | None = None) -> None:
        """Take a token, waiting in FIFO order; ``RateLimited`` if the wait
        would end after ``deadline`` (a trio clock time)."""
        await trio.lowlevel.checkpoint_if_cancelled()
        now = self._refill()
        if not self._queue and self._tokens >= 1 - _TOKEN_EPSILON:
            self._take()
            await trio.lowlevel.cancel_shielded_checkpoint()
            return
        wait = self._wait_for_position(len(self._queue))
        if deadline is not None and now + wait > deadline:
            raise RateLimited(wait)
        await self._wait_in_queue()

    def _wait_for_position(self, ahead: int) -> float:
        """Seconds until a caller with ``ahead`` waiters before it gets a token."""
        missing = ahead + 1 - self._tokens
        return max(missing, 0.0) / self._rate

    async def _wait_in_queue(self) -> None:
        waiter = _Waiter()
        self._queue.append(waiter)
        try:
            if self._queue[0] is not waiter:
                await waiter.turn.wait()
            await self._sleep_until_token()
            self._take()
        finally:
            self._leave_queue(waiter)

    async def _sleep_until_token(self) -> None:
        while True:
            self._refill()
            if self._tokens >= 1 - _TOKEN_EPSILON:
                return
            await trio.sleep((1 - self._tokens) / self._rate)

    def _leave_queue(self, waiter: _Waiter) -> None:
        was_head = self._queue[0] is waiter
        self._queue.remove(waiter)
        if was_head and self._queue:
            self._queue[0].turn.set()

    def _refill(self) -> float:
        now = self._clock()
        if self._updated is not None and now > self._updated:
            earned = (now - self._updated) * self._rate
            self._tokens = min(float(self.count), self._tokens + earned)
        self._updated = now if self._updated is None else max(now, self._updated)
        return now

    def _take(self) -> None:
        self._tokens = max(self._tokens - 1, 0.0)

    def __repr__(self) -> str:
        return f"RateLimiter({self.count} per {self.period}s, {len(self._queue)} waiting)"
