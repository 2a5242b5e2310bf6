"""Retry decisions: whether, and after how long, to try a step or block again.

``RetryDecider`` applies one ``retry`` clause (a step's own, else its
service's) to the errors of successive attempts: the ``when`` predicate, or
the default (timeouts, connection failures, 429/502/503/504 —
``policies.default_should_retry``), the count, and the backoff with its cap
and jitter, honouring a ``Retry-After`` the server sent.  A service's clause
is evaluated in a service frame, a step's in the step's frame (where ``when``
sees ``error``).
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any, Final

from flowc.common import errors
from flowc.common.errors import FlowError
from flowc.common.values import to_text
from flowc.compiler import ir
from flowc.runtime.policies import backoff_delay, default_should_retry, seconds_of

if TYPE_CHECKING:
    from flowc.runtime.executor import FlowInvocation
    from flowc.runtime.services import ServiceState

_RNG: Final = random.Random()


class RetryDecider:
    """Whether (and after how long) to try again after an error."""

    def __init__(
        self,
        invocation: FlowInvocation,
        spec: ir.RetrySpec | None,
        frame: list[Any],
        service: ServiceState | None = None,
    ) -> None:
        self.invocation = invocation
        self.spec = spec
        self.frame = frame if service is None else service.new_frame()
        self.count = (
            0
            if spec is None
            else _non_negative(invocation.evaluate(spec.count, self.frame), "the retry count")
        )

    def delay_after(
        self, error: FlowError, attempt: int, retry_after: float | None
    ) -> float | None:
        spec = self.spec
        if spec is None or attempt > self.count or not self._wanted(spec, error):
            return None
        delay = 0.0
        if spec.backoff is not None:
            delay = self._backoff(spec.backoff, attempt, spec.jitter)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return delay

    def _wanted(self, spec: ir.RetrySpec, error: FlowError) -> bool:
        if spec.when is None:
            return default_should_retry(error.kind, error.status)
        if spec.error_slot is not None:
            self.frame[spec.error_slot] = error.record()
        return self.invocation.evaluate(spec.when, self.frame) is True

    def _backoff(self, backoff: ir.Backoff, retry_number: int, jitter: bool) -> float:
        base = seconds_of(self.invocation.evaluate(backoff.delay, self.frame), "the backoff delay")
        cap = (
            None
            if backoff.max is None
            else seconds_of(
                self.invocation.evaluate(backoff.max, self.frame), "the backoff maximum"
            )
        )
        factor = (
            2.0
            if backoff.factor is None
            else float(self.invocation.evaluate(backoff.factor, self.frame))
        )
        if not factor > 0:  # (a literal is checked statically; this one came from the run)
            raise FlowError(errors.EVAL, f"the backoff factor must be > 0, found {to_text(factor)}")
        return backoff_delay(
            backoff.kind, base, retry_number, factor=factor, cap=cap, jitter=jitter, rng=_RNG
        )


def _non_negative(value: Any, what: str) -> int:
    if not isinstance(value, int) or value < 0:
        raise FlowError(errors.EVAL, f"{what} must be a non-negative int, found {to_text(value)}")
    return value
