"""Tests of flowc.runtime.policies: retry decisions, backoff, Retry-After,
circuit breaker and rate limiter (the last two on trio's MockClock)."""

from __future__ import annotations

import email.utils
import math
import random

import pytest
import trio
import trio.testing
from hypothesis import given
from hypothesis import strategies as st

from flowc.runtime.policies import (
    DEFAULT_RETRY_STATUSES,
    MAX_RETRY_AFTER,
    CircuitBreaker,
    CircuitOpen,
    RateLimited,
    RateLimiter,
    backoff_delay,
    default_should_retry,
    parse_retry_after,
)

# --------------------------------------------------------------------------- retry decision


@pytest.mark.parametrize("kind", ["timeout", "connect", "protocol"])
def test_transport_failures_are_retried_by_default(kind: str) -> None:
    assert default_should_retry(kind, 0)


@pytest.mark.parametrize("status", sorted(DEFAULT_RETRY_STATUSES))
def test_transient_statuses_are_retried_by_default(status: int) -> None:
    assert default_should_retry("status", status)


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422, 500, 501, 505])
def test_other_statuses_are_not_retried_by_default(status: int) -> None:
    assert not default_should_retry("status", status)


@pytest.mark.parametrize(
    "kind",
    ["decode", "circuit_open", "rate_limited", "cancelled", "assert", "fail", "invalid_request"],
)
def test_other_kinds_are_not_retried_even_with_a_transient_status(kind: str) -> None:
    assert not default_should_retry(kind, 503)
    assert not default_should_retry(kind, 0)


def test_default_retry_statuses() -> None:
    assert frozenset({429, 502, 503, 504}) == DEFAULT_RETRY_STATUSES


# --------------------------------------------------------------------------- backoff


def delays(kind: str, base: float, count: int, **options: object) -> list[float]:
    return [backoff_delay(kind, base, n, **options) for n in range(1, count + 1)]  # type: ignore[arg-type]


def test_fixed_backoff() -> None:
    assert delays("fixed", 1.0, 4) == [1.0, 1.0, 1.0, 1.0]


def test_linear_backoff() -> None:
    assert delays("linear", 0.5, 4) == [0.5, 1.0, 1.5, 2.0]


def test_exponential_backoff_doubles_by_default() -> None:
    assert delays("exponential", 0.1, 5) == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.6])


def test_exponential_backoff_with_factor() -> None:
    assert delays("exponential", 1.0, 4, factor=3.0) == [1.0, 3.0, 9.0, 27.0]


def test_cap_limits_every_kind() -> None:
    assert delays("exponential", 0.1, 7, cap=2.0) == pytest.approx(
        [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0]
    )
    assert delays("linear", 1.0, 4, cap=2.5) == [1.0, 2.0, 2.5, 2.5]
    assert delays("fixed", 3.0, 2, cap=2.0) == [2.0, 2.0]


def test_huge_exponential_backoff_does_not_overflow() -> None:
    assert backoff_delay("exponential", 1.0, 5000) == math.inf
    assert backoff_delay("exponential", 1.0, 5000, cap=30.0) == 30.0
    assert backoff_delay("exponential", 0.0, 5000) == 0.0
    assert backoff_delay("exponential", 1.0, 5000, cap=30.0, jitter=True) <= 30.0


def test_integer_arguments_give_float_delays() -> None:
    assert backoff_delay("exponential", 1, 3000, factor=2, cap=60) == 60.0
    assert type(backoff_delay("fixed", 2, 1)) is float
    assert backoff_delay("exponential", 1, 11, factor=2) == 1024.0


def test_jitter_is_seeded_and_within_bounds() -> None:
    first = delays("exponential", 0.1, 6, jitter=True, rng=random.Random(7))
    again = delays("exponential", 0.1, 6, jitter=True, rng=random.Random(7))
    plain = delays("exponential", 0.1, 6)
    assert first == again
    assert first != plain
    assert all(0.0 <= j <= p for j, p in zip(first, plain, strict=True))


def test_jitter_applies_after_the_cap() -> None:
    rng = random.Random(1)
    samples = [
        backoff_delay("exponential", 1.0, 10, cap=2.0, jitter=True, rng=rng) for _ in range(200)
    ]
    assert max(samples) <= 2.0
    assert max(samples) > 1.5  # drawn from [0, 2], not from [0, 512]
    assert min(samples) < 0.5


def test_jitter_without_rng_uses_a_default() -> None:
    assert 0.0 <= backoff_delay("fixed", 1.0, 1, jitter=True) <= 1.0


@given(
    kind=st.sampled_from(["fixed", "linear", "exponential"]),
    base=st.floats(min_value=0.0, max_value=60.0),
    retry_number=st.integers(min_value=1, max_value=2000),
    factor=st.floats(min_value=1.0, max_value=10.0),
    cap=st.none() | st.floats(min_value=0.0, max_value=3600.0),
    seed=st.integers(min_value=0, max_value=2**32),
)
def test_jittered_delay_is_between_zero_and_the_unjittered_delay(
    kind: str, base: float, retry_number: int, factor: float, cap: float | None, seed: int
) -> None:
    plain = backoff_delay(kind, base, retry_number, factor=factor, cap=cap)
    jittered = backoff_delay(
        kind, base, retry_number, factor=factor, cap=cap, jitter=True, rng=random.Random(seed)
    )
    assert plain >= 0.0
    assert 0.0 <= jittered <= plain


@pytest.mark.parametrize(
    ("args", "options"),
    [
        (("random", 1.0, 1), {}),
        (("fixed", 1.0, 0), {}),
        (("fixed", -1.0, 1), {}),
        (("fixed", math.nan, 1), {}),
        (("exponential", 1.0, 1), {"factor": 0.0}),
        (("fixed", 1.0, 1), {"cap": -1.0}),
    ],
)
def test_backoff_rejects_nonsense(args: tuple[str, float, int], options: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        backoff_delay(*args, **options)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- Retry-After

NOW = 1_445_412_480.0  # Wed, 21 Oct 2015 07:28:00 GMT


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("-5", 0.0),
        ("+3", 3.0),
        ("86400", MAX_RETRY_AFTER),
        ("9" * 150, MAX_RETRY_AFTER),
    ],
)
def test_retry_after_delay_seconds(value: str, expected: float) -> None:
    assert parse_retry_after(value, NOW) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),  # IMF-fixdate
        ("Wednesday, 21-Oct-15 07:29:00 GMT", 60.0),  # obsolete RFC 850
        ("Wed Oct 21 07:28:10 2015", 10.0),  # obsolete asctime (no zone: GMT)
        ("Wed, 21 Oct 2015 09:28:05 +0200", 5.0),
        ("Wed, 21 Oct 2015 07:28:10 -0000", 10.0),
        ("Wed, 21 Oct 2015 07:00:00 GMT", 0.0),  # in the past
        ("Thu, 22 Oct 2015 07:28:00 GMT", MAX_RETRY_AFTER),  # a day away
    ],
)
def test_retry_after_http_date(value: str, expected: float) -> None:
    assert parse_retry_after(value, NOW) == pytest.approx(expected)


def test_retry_after_formatted_by_email_utils() -> None:
    header = email.utils.formatdate(NOW + 42, usegmt=True)
    assert parse_retry_after(header, NOW) == pytest.approx(42.0)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "soon",
        "1e3",
        "1_000",
        "inf",
        "nan",
        "12s",
        "0x10",
        "Mon, 32 Oct 2015 07:28:00 GMT",
        "Mon, 1 Oct 99999 07:28:00 GMT",
        "5 apples",
        "x" * 1000,
    ],
)
def test_retry_after_garbage_is_ignored(value: str) -> None:
    assert parse_retry_after(value, NOW) is None


@given(st.text(max_size=60))
def test_retry_after_never_raises(value: str) -> None:
    result = parse_retry_after(value, NOW)
    assert result is None or 0.0 <= result <= MAX_RETRY_AFTER


# --------------------------------------------------------------------------- circuit breaker


class FakeClock:
    """A settable clock for the synchronous breaker tests."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def open_breaker(clock: FakeClock, failures: int = 3) -> CircuitBreaker:
    breaker = CircuitBreaker(failures, window=10.0, cooldown=5.0, clock=clock)
    for _ in range(failures):
        breaker.before_call()
        breaker.record_failure()
    assert breaker.state == "open"
    return breaker


def test_breaker_starts_closed_and_admits_calls() -> None:
    breaker = CircuitBreaker(3, 10.0, 5.0, clock=FakeClock())
    assert breaker.state == "closed"
    for _ in range(10):
        breaker.before_call()
        breaker.record_success()
    assert breaker.state == "closed"


def test_breaker_opens_after_n_failures_within_the_window() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(3, 10.0, 5.0, clock=clock)
    breaker.record_failure()
    clock.now += 4
    breaker.record_failure()
    assert breaker.state == "closed"
    clock.now += 4
    breaker.record_failure()
    assert breaker.state == "open"


def test_breaker_forgets_failures_outside_the_window() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(3, 10.0, 5.0, clock=clock)
    breaker.record_failure()
    clock.now += 6
    breaker.record_failure()
    clock.now += 4  # the first failure is now exactly `window` old: out
    breaker.record_failure()
    assert breaker.state == "closed"
    clock.now += 1
    breaker.record_failure()
    assert breaker.state == "open"


def test_successes_do_not_reset_the_failure_count() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(3, 10.0, 5.0, clock=clock)
    for _ in range(2):
        breaker.record_failure()
        breaker.record_success()
    breaker.record_failure()
    assert breaker.state == "open"


def test_open_breaker_fails_fast_with_the_remaining_cooldown() -> None:
    clock = FakeClock()
    breaker = open_breaker(clock)
    clock.now += 2
    with pytest.raises(CircuitOpen) as caught:
        breaker.before_call()
    assert caught.value.retry_after == pytest.approx(3.0)
    assert "circuit open" in str(caught.value)


def test_breaker_half_opens_after_the_cooldown_and_a_success_closes_it() -> None:
    clock = FakeClock()
    breaker = open_breaker(clock)
    clock.now += 5
    assert breaker.state == "half_open"
    breaker.before_call()
    breaker.record_success()
    assert breaker.state == "closed"
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "closed"  # past failures were forgotten


def test_failed_trial_reopens_for_another_cooldown() -> None:
    clock = FakeClock()
    breaker = open_breaker(clock)
    clock.now += 5
    breaker.before_call()
    clock.now += 1
    breaker.record_failure()
    assert breaker.state == "open"
    clock.now += 4.5
    with pytest.raises(CircuitOpen) as caught:
        breaker.before_call()
    assert caught.value.retry_after == pytest.approx(0.5)
    clock.now += 0.5
    assert breaker.state == "half_open"


def test_half_open_admits_one_trial_at_a_time() -> None:
    clock = FakeClock()
    breaker = open_breaker(clock)
    clock.now += 5
    breaker.before_call()
    for _ in range(3):
        with pytest.raises(CircuitOpen) as caught:
            breaker.before_call()
        assert caught.value.retry_after == 0.0
    assert breaker.state == "half_open"


def test_cancelled_trial_frees_the_slot() -> None:
    clock = FakeClock()
    breaker = open_breaker(clock)
    clock.now += 5
    breaker.before_call()
    breaker.record_cancelled()
    breaker.before_call()  # the next caller becomes the trial
    with pytest.raises(CircuitOpen):
        breaker.before_call()


def test_record_cancelled_outside_half_open_changes_nothing() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(1, 10.0, 5.0, clock=clock)
    breaker.record_cancelled()
    assert breaker.state == "closed"
    breaker.record_failure()
    breaker.record_cancelled()
    assert breaker.state == "open"


def test_late_outcomes_while_open_are_ignored() -> None:
    clock = FakeClock()
    breaker = open_breaker(clock)
    clock.now += 3
    breaker.record_success()
    breaker.record_failure()  # does not extend the cooldown
    assert breaker.state == "open"
    clock.now += 2
    assert breaker.state == "half_open"


def test_zero_cooldown_half_opens_immediately() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(1, 1.0, 0.0, clock=clock)
    breaker.record_failure()
    assert breaker.state == "half_open"


@pytest.mark.parametrize(
    ("failures", "window", "cooldown"), [(0, 1.0, 1.0), (1, 0.0, 1.0), (1, 1.0, -1.0)]
)
def test_breaker_rejects_nonsense(failures: int, window: float, cooldown: float) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(failures, window, cooldown)


def test_breaker_repr_names_its_state() -> None:
    assert "closed" in repr(CircuitBreaker(1, 1.0, 1.0, clock=FakeClock()))


async def test_breaker_on_the_trio_clock(autojump_clock: trio.testing.MockClock) -> None:
    breaker = CircuitBreaker(2, window=30.0, cooldown=15.0)  # default clock: trio.current_time
    breaker.record_failure()
    await trio.sleep(29)
    breaker.record_failure()
    assert breaker.state == "open"
    await trio.sleep(14.5)
    with pytest.raises(CircuitOpen) as caught:
        breaker.before_call()
    assert caught.value.retry_after == pytest.approx(0.5)
    await trio.sleep(0.5)
    assert breaker.state == "half_open"


async def test_only_one_concurrent_caller_is_the_trial(
    autojump_clock: trio.testing.MockClock,
) -> None:
    breaker = CircuitBreaker(1, window=10.0, cooldown=5.0)
    breaker.record_failure()
    await trio.sleep(5)
    admitted: list[int] = []
    refused: list[int] = []

    async def call(index: int) -> None:
        try:
            breaker.before_call()
        except CircuitOpen:
            refused.append(index)
            return
        admitted.append(index)
        await trio.sleep(1)  # the trial request is in flight
        breaker.record_success()

    async with trio.open_nursery() as nursery:
        for index in range(10):
            nursery.start_soon(call, index)
    assert len(admitted) == 1
    assert len(refused) == 9
    assert breaker.state == "closed"
    breaker.before_call()  # closed again: everyone passes


# --------------------------------------------------------------------------- rate limiter


async def test_burst_is_immediate(autojump_clock: trio.testing.MockClock) -> None:
    limiter = RateLimiter(5, 1.0)
    start = trio.current_time()
    for _ in range(5):
        await limiter.acquire()
    assert trio.current_time() == start


async def test_throughput_sequential(autojump_clock: trio.testing.MockClock) -> None:
    limiter = RateLimiter(10, 1.0)
    start = trio.current_time()
    for _ in range(100):
        await limiter.acquire()
    assert trio.current_time() - start == pytest.approx(9.0, abs=1e-6)


async def test_throughput_concurrent(autojump_clock: trio.testing.MockClock) -> None:
    limiter = RateLimiter(10, 1.0)
    start = trio.current_time()
    granted: list[float] = []

    async def worker() -> None:
        await limiter.acquire()
        granted.append(trio.current_time() - start)

    async with trio.open_nursery() as nursery:
        for _ in range(100):
            nursery.start_soon(worker)
    assert len(granted) == 100
    assert max(granted) == pytest.approx(9.0, abs=1e-6)
    # the token-bucket law: over any interval of length T, at most burst + rate * T grants
    granted.sort()
    for first in range(len(granted)):
        for last in range(first, len(granted)):
            elapsed = granted[last] - granted[first]
            assert last - first + 1 <= 10 + 10 * elapsed + 1e-6


async def test_tokens_refill_while_idle_up_to_the_burst(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limiter = RateLimiter(4, 2.0)  # one token every 0.5 s
    for _ in range(4):
        await limiter.acquire()
    await trio.sleep(100)  # refills to 4, not to 200
    start = trio.current_time()
    for _ in range(6):
        await limiter.acquire()
    assert trio.current_time() - start == pytest.approx(1.0, abs=1e-6)


async def test_waiters_are_served_in_arrival_order(autojump_clock: trio.testing.MockClock) -> None:
    limiter = RateLimiter(1, 1.0)
    await limiter.acquire()
    order: list[int] = []

    async def worker(index: int) -> None:
        await limiter.acquire()
        order.append(index)

    async with trio.open_nursery() as nursery:
        for index in range(20):
            nursery.start_soon(worker, index)
            await trio.testing.wait_all_tasks_blocked()  # arrival order == index
    assert order == list(range(20))


async def test_deadline_raises_at_once(autojump_clock: trio.testing.MockClock) -> None:
    limiter = RateLimiter(2, 1.0)  # one token every 0.5 s
    await limiter.acquire()
    await limiter.acquire()
    start = trio.current_time()
    with pytest.raises(RateLimited) as caught:
        await limiter.acquire(deadline=start + 0.4)
    assert trio.current_time() == start  # no waiting
    assert caught.value.wait == pytest.approx(0.5)
    await limiter.acquire(deadline=start + 0.5)  # exactly in time
    assert trio.current_time() - start == pytest.approx(0.5)


async def test_deadline_accounts_for_waiters_ahead(autojump_clock: trio.testing.MockClock) -> None:
    limiter = RateLimiter(1, 1.0)
    await limiter.acquire()
    start = trio.current_time()
    outcomes: dict[int, str] = {}

    async def worker(index: int) -> None:
        try:
            await limiter.acquire(deadline=start + 2.5)
        except RateLimited:
            outcomes[index] = "limited"
        else:
            outcomes[index] = f"granted at {trio.current_time() - start:.1f}"

    async with trio.open_nursery() as nursery:
        for index in range(4):
            nursery.start_soon(worker, index)
            await trio.testing.wait_all_tasks_blocked()
    assert outcomes == {
        0: "granted at 1.0",
        1: "granted at 2.0",
        2: "limited",
        3: "limited",
    }


async def test_deadline_is_irrelevant_when_a_token_is_free(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limiter = RateLimiter(1, 1.0)
    await limiter.acquire(deadline=trio.current_time() - 10)


async def test_cancelled_waiter_consumes_no_token(autojump_clock: trio.testing.MockClock) -> None:
    limiter = RateLimiter(1, 1.0)
    await limiter.acquire()
    start = trio.current_time()
    granted: dict[str, float] = {}
    middle = trio.CancelScope()

    async def worker(name: str) -> None:
        await limiter.acquire()
        granted[name] = trio.current_time() - start

    async def cancellable_worker(name: str) -> None:
        with middle:
            await worker(name)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(worker, "ahead")
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(cancellable_worker, "cancelled")
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(worker, "behind")
        await trio.testing.wait_all_tasks_blocked()
        assert limiter.waiting == 3
        await trio.sleep(0.5)
        middle.cancel()
    # "ahead" got the token due at 1.0; "behind" moved up and got the one due at 2.0
    assert granted == {"ahead": pytest.approx(1.0), "behind": pytest.approx(2.0)}
    assert limiter.waiting == 0


async def test_cancelled_head_waiter_hands_over_its_turn(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limiter = RateLimiter(1, 1.0)
    await limiter.acquire()
    start = trio.current_time()
    granted: dict[str, float] = {}
    head_scope = trio.CancelScope()

    async def worker(name: str) -> None:
        await limiter.acquire()
        granted[name] = trio.current_time() - start

    async def head() -> None:
        with head_scope:
            await worker("head")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(head)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(worker, "behind")
        await trio.testing.wait_all_tasks_blocked()
        await trio.sleep(0.5)
        head_scope.cancel()
    assert granted == {"behind": pytest.approx(1.0)}


async def test_newcomer_waits_behind_the_queue_even_when_a_token_is_free(
    autojump_clock: trio.testing.MockClock,
) -> None:
    offset = [0.0]
    limiter = RateLimiter(1, 1.0, clock=lambda: trio.current_time() + offset[0])
    await limiter.acquire()
    order: list[str] = []

    async def worker(name: str) -> None:
        await limiter.acquire()
        order.append(name)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(worker, "first")
        await trio.testing.wait_all_tasks_blocked()  # "first" sleeps until its token
        offset[0] += 10.0  # the limiter's clock says a token is free; "first" still sleeps
        nursery.start_soon(worker, "second")
        await trio.testing.wait_all_tasks_blocked()
        assert order == []  # "second" did not grab the free token
        assert limiter.waiting == 2
    assert order == ["first", "second"]


async def test_cancelled_before_waiting_takes_nothing(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limiter = RateLimiter(1, 1.0)
    with trio.CancelScope() as scope:
        scope.cancel()
        await limiter.acquire()
    start = trio.current_time()
    await limiter.acquire()  # the token is still there
    assert trio.current_time() == start


async def test_acquire_is_a_checkpoint(autojump_clock: trio.testing.MockClock) -> None:
    limiter = RateLimiter(100, 1.0)
    with trio.testing.assert_checkpoints():
        await limiter.acquire()


@pytest.mark.parametrize(("count", "period"), [(0, 1.0), (1, 0.0), (1, -1.0)])
def test_rate_limiter_rejects_nonsense(count: int, period: float) -> None:
    with pytest.raises(ValueError):
        RateLimiter(count, period)


def test_rate_limiter_can_be_built_outside_trio() -> None:
    limiter = RateLimiter(3, 1.0)  # the clock is read only when acquiring
    assert "3 per 1.0s" in repr(limiter)
