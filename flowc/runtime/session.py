"""A run: the per-run state shared by every flow invocation in it.

``RunSession`` holds what one ``flowc run`` (or one ``Program.run`` call from
Python) shares across flows and sub-flows: the run id, the HTTP invoker (one
connection pool per run), the journal, the tracer, the execution options
(``sequential``) and one ``ServiceState`` per service used.

``ServiceState`` evaluates a service's settings once per run — base URL,
circuit breaker, rate limit, concurrency limit — and keeps their live state:
the breaker counts failures across every step that uses the service, the
token bucket and the ``trio.CapacityLimiter`` are shared likewise.

``execute`` is the entry point: it opens the invoker, installs the
journaling ``Effects`` (so ``now()``/``uuid()`` are recorded) and runs one
flow with validated inputs.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import trio

from flowc.common import errors
from flowc.common.errors import FlowError
from flowc.common.values import Timestamp, format_timestamp, parse_timestamp, to_text
from flowc.compiler import ir
from flowc.compiler.ast import Span
from flowc.runtime.executor import FlowRun, seconds
from flowc.runtime.journal import Journal, MemoryJournal, StepOutcome, Tracer

if TYPE_CHECKING:
    from flowc.runtime.http import HttpInvoker
    from flowc.runtime.stepexec import _StepExecution

LogSink = Callable[[str, str, Span], None]


def stderr_log(flow: str, text: str, span: Span) -> None:
    print(f"[{flow}] {text}", file=sys.stderr, flush=True)


class ServiceState:
    def __init__(self, session: RunSession, service: ir.ServiceIR) -> None:
        from flowc.runtime.policies import CircuitBreaker, RateLimiter

        self.session = session
        self.ir = service
        self._base_url: str | None = None
        self.breaker: CircuitBreaker | None = None
        self.rate: RateLimiter | None = None
        self.limiter: trio.CapacityLimiter | None = None
        frame = self.new_frame()
        evaluate = _evaluator(service.name)
        if service.circuit_breaker is not None:
            failures, window, cooldown = (evaluate(e, frame) for e in service.circuit_breaker)
            self.breaker = CircuitBreaker(
                failures, seconds(window, "the failure window"), seconds(cooldown, "the cooldown")
            )
        if service.rate_limit is not None:
            count, period = (evaluate(e, frame) for e in service.rate_limit)
            self.rate = RateLimiter(count, seconds(period, "the rate-limit period"))
        if service.concurrency is not None:
            self.limiter = trio.CapacityLimiter(evaluate(service.concurrency, frame))

    def new_frame(self) -> list[Any]:
        return [None] * self.ir.frame_size

    def base_url(self, step: _StepExecution) -> str:
        if self._base_url is None:
            assert self.ir.base_url is not None
            value = step.run.evaluate(self.ir.base_url, self.new_frame())
            self._base_url = value.reveal() if hasattr(value, "reveal") else str(value)
        return self._base_url

    async def before_call(self, step: _StepExecution, deadline: float) -> bool:
        """Ask the breaker and the rate limiter; True when this call is the half-open trial.

        A trial refused by the rate limiter gives its slot back at once; one that is
        cancelled later is reported by the caller (``record_cancelled``).
        """
        from flowc.runtime.policies import CircuitOpen, RateLimited

        trial = False
        if self.breaker is not None:
            trial = self.breaker.state == "half_open"
            try:
                self.breaker.before_call()
            except CircuitOpen:
                raise step.fail(
                    errors.CIRCUIT_OPEN, f"the circuit of service `{self.ir.name}` is open"
                ) from None
        if self.rate is not None:
            try:
                await self.rate.acquire(deadline)
            except RateLimited:
                self.call_cancelled(trial)
                raise step.fail(
                    errors.RATE_LIMITED,
                    f"the rate limit of service `{self.ir.name}` leaves no room before the timeout",
                ) from None
        return trial

    def call_cancelled(self, trial: bool) -> None:
        """A call admitted by the breaker ended without an outcome."""
        if trial and self.breaker is not None:
            self.breaker.record_cancelled()

    def record_failure(self) -> None:
        if self.breaker is not None:
            self.breaker.record_failure()

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
    from flowc.common.values import EvalError

    def evaluate(expr: ir.Expr, frame: list[Any]) -> Any:
        try:
            return expr.run(frame)
        except EvalError as error:
            raise FlowError(errors.EVAL, f"service `{service}`: {error}", span=expr.span) from None

    return evaluate


class JournalingEffects:
    """``now()``/``uuid()``/``env()``/``secret()`` that record (and replay) their values."""

    def __init__(self, session: RunSession) -> None:
        from flowc.common.stdlib import current_effects

        self.session = session
        self.base = current_effects()
        self.counts: dict[str, int] = {}

    def _recorded(self, kind: str, produce: Callable[[], str]) -> str:
        index = self.counts.get(kind, 0)
        self.counts[kind] = index + 1
        journal, run_id = self.session.journal, self.session.run_id
        replayed = journal.replay_effect(run_id, kind, index)
        if replayed is not None:
            return replayed
        value = produce()
        journal.record_effect(run_id, kind, value)
        return value

    def now(self) -> Timestamp:
        return parse_timestamp(self._recorded("now", lambda: format_timestamp(self.base.now())))

    def uuid(self) -> str:
        return self._recorded("uuid", self.base.uuid)

    def getenv(self, name: str) -> str | None:
        return self.base.getenv(name)

    def getsecret(self, name: str) -> str | None:
        return self.base.getsecret(name)


class RunSession:
    def __init__(
        self,
        program: ir.ProgramIR,
        invoker: HttpInvoker,
        *,
        run_id: str | None = None,
        journal: Journal | None = None,
        tracer: Tracer | None = None,
        sequential: bool = False,
        log: LogSink = stderr_log,
        attempt: int = 1,
    ) -> None:
        self.program = program
        self.invoker = invoker
        self.run_id = run_id or str(uuid.uuid4())
        self.journal: Journal = journal if journal is not None else MemoryJournal()
        self.tracer = tracer if tracer is not None else Tracer(self.run_id)
        self.sequential = sequential
        self._log = log
        self.attempt = attempt
        self.services: dict[int, ServiceState] = {}
        self._settled: set[str] = set()  # step keys executed or replayed in this session

    def replayed_step(self, key: str) -> StepOutcome | None:
        """The journaled outcome of step ``key`` from an earlier attempt of this run.

        Only a step this session has not executed (or replayed) yet is replayed: a
        step key met again in the same session — a ``retry`` block's next try, a
        sub-flow called twice, a retried ``call`` — is run again, not answered
        with the outcome of its previous execution.
        """
        if key in self._settled:
            return None
        outcome = self.journal.completed_step(self.run_id, key)
        if outcome is not None:
            self._settled.add(key)
        return outcome

    def step_completed(self, outcome: StepOutcome) -> None:
        self._settled.add(outcome.key)
        self.journal.step_completed(self.run_id, outcome)

    def service_state(self, service: ir.ServiceIR) -> ServiceState:
        state = self.services.get(id(service))
        if state is None:
            state = self.services[id(service)] = ServiceState(self, service)
        return state

    def log(self, flow: str, text: str, span: Span) -> None:
        self._log(flow, text, span)
        self.tracer.emit("log", flow=flow, message=text, line=span.line)

    def report(self, text: str) -> None:
        print(f"flowc: warning: {text}", file=sys.stderr, flush=True)
        self.tracer.emit("warning", message=text)

    async def execute(self, flow: ir.FlowIR, inputs: dict[str, Any]) -> Any:
        from flowc.common.stdlib import use_effects

        self.tracer.emit("run_started", flow=flow.name)
        with use_effects(JournalingEffects(self)):
            try:
                result = await FlowRun(self, flow).run(inputs)
            except FlowError as error:
                self.tracer.emit(
                    "run_failed",
                    flow=flow.name,
                    error=error.record(),
                    message=to_text(error.message),
                )
                raise
        self.tracer.emit("run_finished", flow=flow.name, result=result)
        return result
