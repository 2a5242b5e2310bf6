"""Per-service policy state, shared by every run of an engine.

A service's settings are evaluated once, when the engine first needs them —
its base URL, circuit breaker, rate limit and concurrency limit — and their
live state belongs to the engine, not to one run: the breaker counts failures
across every step of every run that uses the service, and the token bucket
and the ``trio.CapacityLimiter`` are shared likewise, so a hundred runs of
one flow respect one ``rate_limit``.  (With several worker processes the
limits hold per process.)

The settings are evaluated in a frame of their own (``new_frame``), never in
a flow's: a service's expressions can only see constants and built-ins.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import trio

from flowc.common import errors
from flowc.common.errors import FlowError
from flowc.common.values import EvalError
from flowc.compiler import ir
from flowc.runtime.oauth2 import ClientCredentials, credentials_of
from flowc.runtime.policies import (
    CircuitBreaker,
    CircuitOpen,
    RateLimited,
    RateLimiter,
    seconds_of,
)
from flowc.runtime.sigv4 import AwsCredentials
from flowc.runtime.sigv4 import credentials_of as aws_credentials_of


class ServiceState:
    def __init__(self, service: ir.ServiceIR) -> None:
        self.ir = service
        self._base_url: str | None = None
        self.breaker: CircuitBreaker | None = None
        self.rate: RateLimiter | None = None
        self.limiter: trio.CapacityLimiter | None = None
        self._oauth2: ClientCredentials | None = None
        self._sigv4: AwsCredentials | None = None
        frame = self.new_frame()
        evaluate = _evaluator(service.name)
        if service.circuit_breaker is not None:
            failures, window, cooldown = (evaluate(e, frame) for e in service.circuit_breaker)
            self.breaker = CircuitBreaker(
                failures,
                seconds_of(window, "the failure window"),
                seconds_of(cooldown, "the cooldown"),
            )
        if service.rate_limit is not None:
            count, period = (evaluate(e, frame) for e in service.rate_limit)
            self.rate = RateLimiter(count, seconds_of(period, "the rate-limit period"))
        if service.concurrency is not None:
            self.limiter = trio.CapacityLimiter(evaluate(service.concurrency, frame))

    def new_frame(self) -> list[Any]:
        return [None] * self.ir.frame_size

    def base_url(self) -> str:
        if self._base_url is None:
            assert self.ir.base_url is not None
            value = _evaluator(self.ir.name)(self.ir.base_url, self.new_frame())
            self._base_url = value.reveal() if hasattr(value, "reveal") else str(value)
        return self._base_url

    def oauth2(self, learn: Callable[[str], None]) -> ClientCredentials | None:
        """The service's OAuth 2.0 token holder (made on first use).  ``learn``
        (the asking run's ``Redactor.add``) is taught the client secret, whether
        or not it was written as a secret (the client id is no secret)."""
        auth = self.ir.auth
        if auth is None or auth[0] != ir.OAUTH2:
            return None
        if self._oauth2 is None:
            self._oauth2 = ClientCredentials(credentials_of(self._auth_values()))
        learn(self._oauth2.credentials.client_secret)
        return self._oauth2

    def sigv4(self, learn: Callable[[str], None]) -> AwsCredentials:
        """The service's AWS credentials (evaluated on first use); ``learn`` is
        taught the secret key and the session token (the access key id is no secret)."""
        if self._sigv4 is None:
            self._sigv4 = aws_credentials_of(self._auth_values())
        given = self._sigv4
        for text in (given.secret_key, given.session_token):
            if text is not None:
                learn(text)
        return given

    def _auth_values(self) -> list[Any]:
        assert self.ir.auth is not None
        evaluate = _evaluator(self.ir.name)
        frame = self.new_frame()
        return [evaluate(expr, frame) for expr in self.ir.auth[1]]

    async def before_call(self, fail: Callable[[str, str], FlowError], deadline: float) -> bool:
        """Ask the breaker and the rate limiter; True when this call is the half-open trial.

        ``fail(kind, message)`` makes the step's error.  A trial refused by the rate
        limiter gives its slot back at once; one cancelled later is reported by the
        caller (``record_cancelled``).
        """
        trial = False
        if self.breaker is not None:
            trial = self.breaker.state == "half_open"
            try:
                self.breaker.before_call()
            except CircuitOpen:
                raise fail(
                    errors.CIRCUIT_OPEN, f"the circuit of service `{self.ir.name}` is open"
                ) from None
        if self.rate is not None:
            try:
                await self.rate.acquire(deadline)
            except RateLimited:
                if trial and self.breaker is not None:
                    self.breaker.record_cancelled()
                raise fail(
                    errors.RATE_LIMITED,
                    f"the rate limit of service `{self.ir.name}` leaves no room before the timeout",
                ) from None
        return trial

    def record_failure(self) -> None:
        if self.breaker is not None:
            self.breaker.record_failure()

    def record_success(self) -> None:
        """An answer that says nothing against the service (a gRPC client error, say)."""
        if self.breaker is not None:
            self.breaker.record_success()

    def record_cancelled(self) -> None:
        """An admitted call ended without an outcome (its scope was cancelled)."""
        if self.breaker is not None:
            self.breaker.record_cancelled()

    def record_outcome(self, status: int) -> None:
        """Count a response: server errors and 429 are failures, the rest successes."""
        if self.breaker is None:
            return
        if status >= 500 or status == 429:
            self.breaker.record_failure()
        else:
            self.breaker.record_success()


def _evaluator(service: str) -> Callable[[ir.Expr, list[Any]], Any]:
    def evaluate(expr: ir.Expr, frame: list[Any]) -> Any:
        try:
            return expr.run(frame)
        except EvalError as error:
            raise FlowError(errors.EVAL, f"service `{service}`: {error}", span=expr.span) from None

    return evaluate
