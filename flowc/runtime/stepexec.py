"""Executing steps: HTTP requests and sub-flow calls, with their policies.

``run_step`` turns a ``StepNode`` into a step *value* (the record of
LANGUAGE.md §5: ``status``, ``ok``, ``headers``, ``body``, ``elapsed``,
``attempts``, ``error``) stored in the step's slot.  For an HTTP step:

1. **Replay.**  In a resumed run, a step the journal holds is not sent again:
   its journaled value is bound (or its journaled failure raised again), and
   a successful one registers its compensation as it did the first time.
2. **Settings** come from the step's clauses, else its service's, else the
   defaults (30 s per attempt, no retries, statuses 200..299 accepted).
3. **The request** is built once per execution (``requests.py``), so every
   attempt carries the same ``Idempotency-Key`` and the same ``uuid()``s.
4. **Each attempt** runs inside one cancel scope bounded by the per-attempt
   timeout: the circuit breaker is asked first (an open circuit fails fast),
   then the rate limiter and the service's concurrency limiter, then the
   invoker sends.  An accepted status is decoded by Content-Type and, with
   ``-> T``, validated against ``T`` (a ``decode`` error names the JSON path).
   In a durable run, every value the run has recorded is committed before an
   unsafe request leaves.
5. **Retries**: ``retrying.RetryDecider`` applies the ``when`` predicate (or
   the default) and the backoff, honouring ``Retry-After``.
6. **The outcome** is journaled (and committed before the value is used),
   and reported to the hooks.  A final failure becomes the ``fallback`` body,
   a skipped step (``on error skip``), or a ``FlowError``.  A successful step
   with a ``compensate`` block registers it with a snapshot of the frame.

A step that calls a gRPC method runs the same way; its attempts are
``grpc_step.py``'s.

A ``call`` step runs the callee as a nested ``FlowInvocation`` under the same
retry and timeout rules; its value's ``body`` is the callee's result.  It is
never answered from the journal as a whole: on resume the callee runs again
and its own steps replay, so the sub-flow's compensations are registered
again exactly as the first time.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

import attrs
import trio

from flowc.common import errors
from flowc.common.errors import FlowError
from flowc.common.values import Duration
from flowc.compiler import ir
from flowc.runtime import codec
from flowc.runtime import hooks as events
from flowc.runtime.frames import Place
from flowc.runtime.journal import (
    COMPLETED,
    FAILED,
    FALLBACK,
    SKIPPED,
    StepRecord,
    error_from_record,
)
from flowc.runtime.oauth2 import TokenError
from flowc.runtime.policies import seconds_of
from flowc.runtime.requests import UNSAFE_METHODS, build_request
from flowc.runtime.retrying import RetryDecider
from flowc.runtime.sigv4 import sign

if TYPE_CHECKING:
    from flowc.runtime.executor import FlowInvocation
    from flowc.runtime.http import HttpRequest, HttpResponse
    from flowc.runtime.redaction import Redactor

__all__ = ["RetryDecider", "StepExecution", "run_step"]

DEFAULT_TIMEOUT: Final = 30.0
DEFAULT_ACCEPT: Final = ((200, 299),)


# --------------------------------------------------------------------------- entry


async def run_step(
    invocation: FlowInvocation, node: ir.StepNode, frame: list[Any], place: Place
) -> None:
    key = place.step_key(node.name)
    journal = invocation.run.journal
    if journal.durable and node.method != "CALL":
        replayed = journal.replay_step(key)
        if replayed is not None:
            _replay(invocation, node, frame, place, replayed)
            return
    step = StepExecution(invocation, node, frame, key)
    try:
        value = await step.execute()
    except FlowError as error:
        if journal.durable:
            journal.record_step(step.record(FAILED, None, error))
            await journal.flush()
        step.finished(FAILED, error)
        raise
    outcome = COMPLETED if value["ok"] else (SKIPPED if node.skip_on_error else FALLBACK)
    if journal.durable:
        journal.record_step(step.record(outcome, value, None))
        await journal.flush()
    frame[node.slot] = value
    step.finished(outcome, None, value)
    _register_compensation(invocation, node, frame, place, value["ok"])


def _replay(
    invocation: FlowInvocation,
    node: ir.StepNode,
    frame: list[Any],
    place: Place,
    record: StepRecord,
) -> None:
    run = invocation.run
    if run.hooks.active:
        flow, number = invocation.flow.name, invocation.invocation
        run.hooks.emit(
            events.StepStarted(
                run_id=run.run_id,
                flow=flow,
                invocation=number,
                step=record.key,
                method=node.method,
                replayed=True,
            )
        )
        run.hooks.emit(
            events.StepFinished(
                run_id=run.run_id,
                flow=flow,
                invocation=number,
                step=record.key,
                outcome="replayed",
                status=record.status,
                attempts=record.attempts,
                error=record.error,
            )
        )
    if record.outcome == FAILED:
        error = error_from_record(record.error or {})
        raise error.located(node.span, invocation.flow.name)
    frame[node.slot] = record.value
    _register_compensation(invocation, node, frame, place, record.ok)


def _register_compensation(
    invocation: FlowInvocation, node: ir.StepNode, frame: list[Any], place: Place, ok: bool
) -> None:
    if node.compensate is not None and ok:
        invocation.compensations.append(
            (invocation, node.compensate, list(frame), place, place.step_key(node.name))
        )


def _value(
    status: int,
    ok: bool,
    headers: dict[str, str],
    body: Any,
    elapsed: float,
    attempts: int,
    error: FlowError | None,
) -> dict[str, Any]:
    return {
        "status": status,
        "ok": ok,
        "headers": headers,
        "body": body,
        "elapsed": Duration(int(elapsed * 1_000_000_000)),
        "attempts": attempts,
        "error": None if error is None else codec.error_to_plain(error),
    }


class StepExecution:
    """One execution of one step: its attempts, its retries, its outcome."""

    def __init__(
        self, invocation: FlowInvocation, node: ir.StepNode, frame: list[Any], key: str
    ) -> None:
        self.invocation: FlowInvocation = invocation
        self.node = node
        self.frame = frame
        self.key = key
        run = invocation.run
        self.service = None if node.service is None else run.service_state(node.service)
        self.started = time.perf_counter()
        self.started_at = time.time()
        self.attempts = 0
        if run.hooks.active:
            run.hooks.emit(
                events.StepStarted(
                    run_id=run.run_id,
                    flow=invocation.flow.name,
                    invocation=invocation.invocation,
                    step=key,
                    method=node.method,
                )
            )

    def evaluate(self, expr: ir.Expr) -> Any:
        return self.invocation.evaluate(expr, self.frame)

    def fail(self, kind: str, message: str, *, status: int = 0, attempt: int = 0) -> FlowError:
        return FlowError(
            kind,
            self.invocation.run.redactor.redact(message),
            step=self.key,
            status=status,
            attempt=attempt,
            span=self.node.span,
            flow=self.invocation.flow.name,
        )

    def record(
        self, outcome: str, value: dict[str, Any] | None, error: FlowError | None
    ) -> StepRecord:
        """The journal's record of this execution.

        A value that would reveal a secret (a server echoing a token) is withheld
        from the store, as one holding a ``Secret`` is: the step runs again on resume.
        """
        return StepRecord(
            key=self.key,
            flow=self.invocation.flow.name,
            outcome=outcome,
            attempts=value["attempts"] if value is not None else (error.attempt if error else 0),
            status=value["status"] if value is not None else (error.status if error else 0),
            value=value,
            error=codec.error_to_plain(error) if error is not None else (value or {}).get("error"),
            started=self.started_at,
            finished=time.time(),
            withheld=self.invocation.run.redactor.reveals_value(value),
        )

    def finished(
        self, outcome: str, error: FlowError | None, value: dict[str, Any] | None = None
    ) -> None:
        run = self.invocation.run
        if not run.hooks.active:
            return
        run.hooks.emit(
            events.StepFinished(
                run_id=run.run_id,
                flow=self.invocation.flow.name,
                invocation=self.invocation.invocation,
                step=self.key,
                outcome=outcome,
                status=(value or {}).get("status", error.status if error else 0),
                attempts=(value or {}).get("attempts", error.attempt if error else 0),
                error=None if error is None else codec.error_to_plain(error),
            )
        )

    async def execute(self) -> dict[str, Any]:
        node = self.node
        service = self.service
        own_retry = node.retry is not None
        retry_spec = node.retry if own_retry else (service.ir.retry if service else None)
        decider = RetryDecider(
            self.invocation, retry_spec, self.frame, None if own_retry else service
        )
        timeout = self._timeout()
        try:
            attempt_once = (
                self._call_attempt
                if node.method == "CALL"
                else _grpc_attempts(self)
                if node.grpc is not None
                else self._http_attempt_factory()
            )
        except FlowError as error:  # the request cannot be built: the first attempt failed
            error.attempt = error.attempt or 1
            return self._final_failure(error, 1)
        attempt = 0
        while True:
            attempt += 1
            try:
                return await attempt_once(attempt, timeout)
            except FlowError as error:
                error.attempt = error.attempt or attempt
                if not error.step:
                    error.step = self.key
                delay = decider.delay_after(error, attempt, getattr(error, "retry_after", None))
                if delay is None:
                    return self._final_failure(error, attempt)
                self._emit_retry(attempt, delay, error)
                await trio.sleep(delay)

    def _emit_retry(self, attempt: int, delay: float, error: FlowError) -> None:
        run = self.invocation.run
        if run.hooks.active:
            run.hooks.emit(
                events.StepRetrying(
                    run_id=run.run_id,
                    flow=self.invocation.flow.name,
                    invocation=self.invocation.invocation,
                    step=self.key,
                    attempt=attempt,
                    delay=round(delay, 6),
                    error=codec.error_to_plain(error),
                )
            )

    def setting(self, name: str) -> tuple[Any, list[Any]] | None:
        """A clause's value and the frame to evaluate it in: the step's own clause,
        else its service's (evaluated in a service frame), else ``None``."""
        own = getattr(self.node, name)
        if own is not None:
            return own, self.frame
        if self.service is not None and getattr(self.service.ir, name) is not None:
            return getattr(self.service.ir, name), self.service.new_frame()
        return None

    def _timeout(self) -> float:
        setting = self.setting("timeout")
        if setting is None:
            return DEFAULT_TIMEOUT
        expr, frame = setting
        return max(seconds_of(self.invocation.evaluate(expr, frame), "`timeout`"), 0.0)

    def _final_failure(self, error: FlowError, attempts: int) -> dict[str, Any]:
        node = self.node
        elapsed = time.perf_counter() - self.started
        run = self.invocation.run
        if run.hooks.active:
            run.hooks.emit(
                events.StepFailed(
                    run_id=run.run_id,
                    flow=self.invocation.flow.name,
                    invocation=self.invocation.invocation,
                    step=self.key,
                    attempts=attempts,
                    error=codec.error_to_plain(error),
                )
            )
        if node.fallback is not None:
            body = self.evaluate(node.fallback)
            return _value(error.status, False, {}, body, elapsed, attempts, error)
        if node.skip_on_error:
            return _value(error.status, False, {}, None, elapsed, attempts, error)
        raise error

    # ----------------------------------------------------------- sub-flow calls

    async def _call_attempt(self, attempt: int, timeout: float) -> dict[str, Any]:
        node = self.node
        if node.flow is None:  # pragma: no cover - the checker resolves every call
            raise self.fail(errors.EVAL, f"flow `{node.flow_key}` is not available")
        args = {name: self.evaluate(value) for name, value in node.args}
        # each try of a retried call has its own call path, so a resume replays each in place
        path = self.key if attempt == 1 else f"{self.key}~{attempt}"
        callee = self.invocation.subflow(
            node.flow, path + "/", lambda kind, message: self.fail(kind, message, attempt=attempt)
        )
        started = time.perf_counter()
        if node.timeout is None:
            result = await callee.invoke(args)
        else:
            with trio.move_on_after(timeout) as scope:
                result = await callee.invoke(args)
            if scope.cancelled_caught:
                raise self.fail(
                    errors.TIMEOUT, f"call of `{node.flow.name}` timed out", attempt=attempt
                )
        # Nested sagas: what the sub-flow completed is undone if this flow fails later.
        self.invocation.compensations.extend(callee.compensations)
        return _value(0, True, {}, result, time.perf_counter() - started, attempt, None)

    # ----------------------------------------------------------- HTTP

    def _http_attempt_factory(self) -> Callable[[int, float], Awaitable[dict[str, Any]]]:
        request = build_request(self)

        async def attempt_once(attempt: int, timeout: float) -> dict[str, Any]:
            return await self._http_attempt(request, attempt, timeout)

        return attempt_once

    async def _http_attempt(
        self, request: HttpRequest, attempt: int, timeout: float
    ) -> dict[str, Any]:
        from flowc.runtime.http import TransportError

        service = self.service
        journal = self.invocation.run.journal
        if journal.unflushed and request.method in UNSAFE_METHODS:
            await journal.flush()  # no unsafe request leaves with a value a resume could not repeat
        started = time.perf_counter()
        request = self._emit_attempt_started(request, attempt)
        response = None
        with trio.move_on_after(timeout) as scope:
            try:
                if service is not None:
                    await service.before_call(self._failure, trio.current_time() + timeout)
                response = await self._send(request)
            except TransportError as failure:
                self._trace_attempt(request, attempt, started, failure.status or None, failure.kind)
                if service is not None and failure.status:
                    service.record_outcome(failure.status)  # it answered (too much: body_limit)
                elif service is not None and failure.kind != "invalid_request":
                    service.record_failure()
                raise self.fail(
                    failure.kind, failure.message, status=failure.status, attempt=attempt
                ) from None
            except trio.Cancelled:
                if service is not None:
                    service.record_cancelled()
                if not scope.cancel_called:  # cancelled from outside, not our timeout
                    self._trace_attempt(request, attempt, started, None, errors.CANCELLED)
                raise
        if response is None or scope.cancelled_caught:
            self._trace_attempt(request, attempt, started, None, errors.TIMEOUT)
            if service is not None:
                service.record_failure()
            raise self.fail(errors.TIMEOUT, f"no response within {timeout:g}s", attempt=attempt)
        return self._handle_response(request, response, attempt, started)

    def _failure(self, kind: str, message: str) -> FlowError:
        return self.fail(kind, message)

    async def _send(self, request: HttpRequest) -> HttpResponse:
        """Send, with the service's OAuth 2.0 token if the step's auth is that."""
        service = self.service
        auth = self.setting("auth")
        if service is None or auth is None or auth[0][0] not in ir.SIGNING_SCHEMES:
            return await self._send_plain(request)
        redactor = self.invocation.run.redactor
        if auth[0][0] == ir.AWS_SIGV4:
            signed = sign(request, service.sigv4(redactor.add))
            redactor.add(dict(signed.headers)["Authorization"])
            return await self._send_plain(signed)
        tokens = service.oauth2(redactor.add)
        assert tokens is not None
        try:
            return await tokens.send(
                request, self._send_plain, self.invocation.run.invoker.send, redactor.add
            )
        except TokenError as failure:
            raise self.fail(errors.AUTH, failure.message, status=failure.status) from None

    async def _send_plain(self, request: HttpRequest) -> HttpResponse:
        service = self.service
        invoker = self.invocation.run.invoker
        if service is not None and service.limiter is not None:
            async with service.limiter:
                return await invoker.send(request)
        return await invoker.send(request)

    def _handle_response(
        self, request: HttpRequest, response: HttpResponse, attempt: int, started: float
    ) -> dict[str, Any]:
        status = response.status
        accepted = (
            self.node.accept or (self.service.ir.accept if self.service else None) or DEFAULT_ACCEPT
        )
        self._trace_attempt(request, attempt, started, status, None)
        if not any(low <= status <= high for low, high in accepted):
            if self.service is not None:
                self.service.record_outcome(status)
            error = self.fail(
                errors.STATUS,
                _status_message(response, self.invocation.run.redactor),
                status=status,
                attempt=attempt,
            )
            error.retry_after = _retry_after(response)  # type: ignore[attr-defined]
            if self.node.error_type is not None:
                error.body = _declared_error_body(response, self.node.error_type)
            raise error
        if self.service is not None:
            self.service.record_outcome(status)
        body = self._decode(response, attempt)
        headers = _header_map(response)
        return _value(
            status, True, headers, body, time.perf_counter() - self.started, attempt, None
        )

    def _decode(self, response: HttpResponse, attempt: int) -> Any:
        from flowc.common.typerel import contains_secret
        from flowc.runtime.decode import DecodeError, decode_body, validate

        declared = self.node.result_type
        try:
            body = decode_body(response.body, response.header("content-type"))
            if declared is not None:
                body = validate(body, declared)
        except DecodeError as error:
            raise self.fail(
                errors.DECODE, f"response body {error}", status=response.status, attempt=attempt
            ) from None
        if declared is not None and contains_secret(declared):
            self.invocation.run.redactor.note(body)  # secrets a server hands out
        return body

    def _emit_attempt_started(self, request: HttpRequest, attempt: int) -> HttpRequest:
        """Report the attempt; the request to send, with the header sources' extra headers."""
        hooks = self.invocation.run.hooks
        if not hooks.active and not hooks.header_sources:
            return request
        event = events.AttemptStarted(
            run_id=self.invocation.run.run_id,
            flow=self.invocation.flow.name,
            invocation=self.invocation.invocation,
            step=self.key,
            attempt=attempt,
            method=request.method,
            url=request.url.split("?", 1)[0],
            service=self.service_name(),
        )
        if hooks.active:
            hooks.emit(event)
        if not hooks.header_sources:
            return request
        extra = hooks.outgoing_headers(event)
        return attrs.evolve(request, headers=request.headers + extra) if extra else request

    def service_name(self) -> str:
        return "" if self.node.service is None else self.node.service.name

    def _trace_attempt(
        self,
        request: HttpRequest,
        attempt: int,
        started: float,
        status: int | None,
        error: str | None,
    ) -> None:
        run = self.invocation.run
        if run.hooks.active:
            run.hooks.emit(
                events.AttemptFinished(
                    run_id=run.run_id,
                    flow=self.invocation.flow.name,
                    invocation=self.invocation.invocation,
                    step=self.key,
                    attempt=attempt,
                    method=request.method,
                    url=request.url.split("?", 1)[0],
                    status=status,
                    error=error,
                    elapsed_ms=round((time.perf_counter() - started) * 1000, 3),
                    service=self.service_name(),
                )
            )


def _grpc_attempts(step: StepExecution) -> Callable[[int, float], Awaitable[dict[str, Any]]]:
    """A gRPC step's attempts (``grpc_step.py``; grpcio is imported on first use)."""
    from flowc.runtime.grpc_step import grpc_attempts

    return grpc_attempts(step)


# --------------------------------------------------------------------------- responses


def _header_map(response: HttpResponse) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in response.headers:
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _status_message(response: HttpResponse, redactor: Redactor) -> str:
    from http import HTTPStatus

    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = "unknown status"
    message = f"HTTP {response.status} {reason}"
    # A server may echo what it received (a rejected token, say, transformed): redact
    # the run's secrets before cutting the quote to length.
    snippet = redactor.redact(response.body[:4096].decode("utf-8", "replace"))[:200].strip()
    if snippet and response.status >= 400 and snippet.isprintable():
        message += f": {snippet}"
    return message


def _declared_error_body(response: HttpResponse, expected: Any) -> object:
    """A failing response's body when it fits the type its OpenAPI document declares
    for failures (``error.body``); otherwise none, which reads as null."""
    from flowc.runtime.decode import DecodeError, decode_body, validate

    try:
        return validate(decode_body(response.body, response.header("content-type")), expected)
    except DecodeError:
        return errors.NO_BODY


def _retry_after(response: HttpResponse) -> float | None:
    from flowc.runtime.policies import parse_retry_after

    value = response.header("retry-after")
    return None if value is None else parse_retry_after(value, time.time())
