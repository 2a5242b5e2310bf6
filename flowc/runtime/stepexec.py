"""Executing steps: HTTP requests and sub-flow calls, with their policies.

``run_step`` turns a ``StepNode`` into a step *value* (the record of
LANGUAGE.md §5: ``status``, ``ok``, ``headers``, ``body``, ``elapsed``,
``attempts``, ``error``) stored in the step's slot.  For an HTTP step:

1. **Settings** come from the step's clauses, else its service's, else the
   defaults (30 s per attempt, no retries, statuses 200..299 accepted).
2. **The request** is built once: the service's base URL joined with the
   path (or the step's full URL), service headers overlaid by step headers,
   authentication, ``Idempotency-Key``, the query string, and a body encoded
   by kind (``json``, ``form`` or raw ``body``).  Secrets are revealed here
   and only here, on their way into the request.
3. **Each attempt** runs inside one cancel scope bounded by the per-attempt
   timeout: the circuit breaker is asked first (an open circuit fails fast),
   then the rate limiter and the service's concurrency limiter, then the
   invoker sends.  An accepted status is decoded by Content-Type and, with
   ``-> T``, validated against ``T`` (a ``decode`` error names the JSON path).
4. **Retries**: ``RetryDecider`` applies the ``when`` predicate (or the
   default: timeouts, connection failures, 429/502/503/504) and the backoff,
   honouring ``Retry-After``.
5. **The outcome** is journaled and traced.  A final failure becomes the
   ``fallback`` body, a skipped step (``on error skip``), or a ``FlowError``.
   A successful step with a ``compensate`` block registers it with a
   snapshot of the frame.

A ``call`` step runs the callee as a nested ``FlowRun`` under the same retry
and timeout rules; its value's ``body`` is the callee's result.
"""

from __future__ import annotations

import base64
import random
import re
import time
from collections.abc import Awaitable, Callable, Collection, Iterator
from typing import TYPE_CHECKING, Any, Final

import trio

from flowc.common import errors
from flowc.common.errors import FlowError
from flowc.common.values import Duration, EvalError, Secret, to_text
from flowc.compiler import ir
from flowc.runtime.executor import MAX_CALL_DEPTH, FlowRun, Place, seconds
from flowc.runtime.journal import StepOutcome

if TYPE_CHECKING:
    from flowc.runtime.http import HttpRequest, HttpResponse
    from flowc.runtime.session import ServiceState

DEFAULT_TIMEOUT: Final = 30.0
DEFAULT_ACCEPT: Final = ((200, 299),)
_RNG: Final = random.Random()


# --------------------------------------------------------------------------- retry decisions


class RetryDecider:
    """Whether (and after how long) to try again after an error."""

    def __init__(
        self,
        run: FlowRun,
        spec: ir.RetrySpec | None,
        frame: list[Any],
        service: ServiceState | None = None,
    ) -> None:
        self.run = run
        self.spec = spec
        self.frame = frame if service is None else service.new_frame()
        self.count = (
            0
            if spec is None
            else _non_negative(run.evaluate(spec.count, self.frame), "the retry count")
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
        from flowc.runtime.policies import default_should_retry

        if spec.when is None:
            return default_should_retry(error.kind, error.status)
        if spec.error_slot is not None:
            self.frame[spec.error_slot] = error.record()
        return self.run.evaluate(spec.when, self.frame) is True

    def _backoff(self, backoff: ir.Backoff, retry_number: int, jitter: bool) -> float:
        from flowc.runtime.policies import backoff_delay

        base = seconds(self.run.evaluate(backoff.delay, self.frame), "the backoff delay")
        cap = (
            None
            if backoff.max is None
            else seconds(self.run.evaluate(backoff.max, self.frame), "the backoff maximum")
        )
        factor = (
            2.0 if backoff.factor is None else float(self.run.evaluate(backoff.factor, self.frame))
        )
        return backoff_delay(
            backoff.kind, base, retry_number, factor=factor, cap=cap, jitter=jitter, rng=_RNG
        )


def _non_negative(value: Any, what: str) -> int:
    if not isinstance(value, int) or value < 0:
        raise FlowError(errors.EVAL, f"{what} must be a non-negative int, found {to_text(value)}")
    return value


# --------------------------------------------------------------------------- entry


async def run_step(run: FlowRun, node: ir.StepNode, frame: list[Any], place: Place) -> None:
    key = place.step_key(node.name)
    session = run.session
    replayed = session.replayed_step(key)
    if replayed is not None:
        frame[node.slot] = replayed.value
        _register_compensation(run, node, frame, place, replayed.ok)
        return
    step = _StepExecution(run, node, frame, key)
    value = await step.execute()
    frame[node.slot] = value
    session.step_completed(
        StepOutcome(key, run.flow.name, value["ok"], value["attempts"], value, value["error"])
    )
    _register_compensation(run, node, frame, place, value["ok"])


def _register_compensation(
    run: FlowRun, node: ir.StepNode, frame: list[Any], place: Place, ok: bool
) -> None:
    if node.compensate is not None and ok:
        run.compensations.append((run, node.compensate, list(frame), place))


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
        "error": None if error is None else error.record(),
    }


class _StepExecution:
    def __init__(self, run: FlowRun, node: ir.StepNode, frame: list[Any], key: str) -> None:
        self.run = run
        self.node = node
        self.frame = frame
        self.key = key
        self.session = run.session
        self.service = None if node.service is None else self.session.service_state(node.service)
        self.started = time.perf_counter()
        self.sensitive: set[str] = set()  # secret texts this step's request carries

    def evaluate(self, expr: ir.Expr) -> Any:
        return self.run.evaluate(expr, self.frame)

    def fail(self, kind: str, message: str, *, status: int = 0, attempt: int = 0) -> FlowError:
        return FlowError(
            kind,
            message,
            step=self.key,
            status=status,
            attempt=attempt,
            span=self.node.span,
            flow=self.run.flow.name,
        )

    async def execute(self) -> dict[str, Any]:
        node = self.node
        retry_spec = node.retry or (
            self.service.ir.retry if self.service and node.retry is None else None
        )
        decider = RetryDecider(
            self.run,
            retry_spec,
            self.frame,
            self.service if node.retry is None and self.service else None,
        )
        timeout = self._timeout()
        try:
            attempt_once = (
                self._call_attempt if node.method == "CALL" else self._http_attempt_factory()
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
                self.session.tracer.emit(
                    "step_retry",
                    flow=self.run.flow.name,
                    step=self.key,
                    attempt=attempt,
                    delay=round(delay, 6),
                    error=error.record(),
                )
                await trio.sleep(delay)

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
        return max(seconds(self.run.evaluate(expr, frame), "`timeout`"), 0.0)

    def _final_failure(self, error: FlowError, attempts: int) -> dict[str, Any]:
        node = self.node
        elapsed = time.perf_counter() - self.started
        self.session.tracer.emit(
            "step_failed",
            flow=self.run.flow.name,
            step=self.key,
            attempts=attempts,
            error=error.record(),
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
        if self.run.prefix.count("/") >= MAX_CALL_DEPTH:  # the caller's depth: one per "/"
            raise self.fail(
                errors.CALL_DEPTH,
                f"calling `{node.flow.name}` would nest sub-flow calls deeper than "
                f"{MAX_CALL_DEPTH} levels (a recursion that does not stop?)",
                attempt=attempt,
            )
        args = {name: self.evaluate(value) for name, value in node.args}
        callee = FlowRun(self.session, node.flow, prefix=self.key + "/")
        started = time.perf_counter()
        if node.timeout is None:
            result = await callee.run(args)
        else:
            with trio.move_on_after(timeout) as scope:
                result = await callee.run(args)
            if scope.cancelled_caught:
                raise self.fail(
                    errors.TIMEOUT, f"call of `{node.flow.name}` timed out", attempt=attempt
                )
        # Nested sagas: what the sub-flow completed is undone if this flow fails later.
        self.run.compensations.extend(callee.compensations)
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
        started = time.perf_counter()
        response = None
        with trio.move_on_after(timeout) as scope:
            try:
                if service is not None:
                    await service.before_call(self, trio.current_time() + timeout)
                response = await self._send(request)
            except TransportError as failure:
                self._trace_attempt(request, attempt, started, None, failure.kind)
                if service is not None and failure.kind != "invalid_request":
                    service.record_failure()
                kind = errors.INVALID_REQUEST if failure.kind == "invalid_request" else failure.kind
                raise self.fail(kind, failure.message, attempt=attempt) from None
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

    async def _send(self, request: HttpRequest) -> HttpResponse:
        service = self.service
        invoker = self.session.invoker
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
                _status_message(response, self.sensitive),
                status=status,
                attempt=attempt,
            )
            error.retry_after = _retry_after(response)  # type: ignore[attr-defined]
            raise error
        if self.service is not None:
            self.service.record_outcome(status)
        body = self._decode(response, attempt)
        headers = _header_map(response)
        return _value(
            status, True, headers, body, time.perf_counter() - self.started, attempt, None
        )

    def _decode(self, response: HttpResponse, attempt: int) -> Any:
        from flowc.runtime.decode import DecodeError, decode_body, validate

        try:
            body = decode_body(response.body, response.header("content-type"))
            if self.node.result_type is not None:
                body = validate(body, self.node.result_type)
        except DecodeError as error:
            raise self.fail(
                errors.DECODE, f"response body {error}", status=response.status, attempt=attempt
            ) from None
        return body

    def _trace_attempt(
        self,
        request: HttpRequest,
        attempt: int,
        started: float,
        status: int | None,
        error: str | None,
    ) -> None:
        tracer = self.session.tracer
        if tracer.active:
            tracer.emit(
                "step_attempt",
                flow=self.run.flow.name,
                step=self.key,
                attempt=attempt,
                method=request.method,
                url=request.url.split("?", 1)[0],
                status=status,
                error=error,
                elapsed_ms=round((time.perf_counter() - started) * 1000, 3),
            )


# --------------------------------------------------------------------------- requests


def build_request(step: _StepExecution) -> HttpRequest:
    from flowc.runtime.http import HttpRequest

    try:
        url = _url(step)
        headers = _headers(step)
        params = _query(step)
        content = _content(step, headers)
    except EvalError as error:
        raise step.fail(errors.EVAL, str(error)) from None
    return HttpRequest(step.node.method, url, tuple(headers.values()), params, content)


def _url(step: _StepExecution) -> str:
    target = step.evaluate(step.node.target) if step.node.target is not None else ""
    text = target.reveal() if hasattr(target, "reveal") else str(target)
    if step.service is None:
        if not text.startswith(("http://", "https://")):
            raise step.fail(
                errors.INVALID_REQUEST,
                f"the URL must start with http:// or https://, found {text!r}",
            )
        return text
    base = step.service.base_url(step)
    if not text:
        return base
    return base.rstrip("/") + ("" if text.startswith(("/", "?")) else "/") + text


def _headers(step: _StepExecution) -> dict[str, tuple[str, str]]:
    from flowc.runtime.decode import text_of

    merged: dict[str, tuple[str, str]] = {}
    for name, value in _layered(step, "headers"):
        if value is None:  # a null header is left out (and removes a service default)
            merged.pop(name.lower(), None)
            continue
        merged[name.lower()] = (name, text_of(value))
        _note_secrets(step, value)
    auth = step.setting("auth")
    if auth is not None:
        name, value = _auth_header(auth[0], step, auth[1])
        merged[name.lower()] = (name, value)
        _note_secrets(step, Secret(value))  # credentials, even when written as plain text
    if step.node.idempotency_key is not None:
        merged["idempotency-key"] = (
            "Idempotency-Key",
            text_of(step.evaluate(step.node.idempotency_key)),
        )
    return merged


def _auth_header(
    auth: tuple[str, tuple[ir.Expr, ...]], step: _StepExecution, frame: list[Any]
) -> tuple[str, str]:
    from flowc.runtime.decode import text_of

    scheme, exprs = auth
    evaluated = [step.run.evaluate(e, frame) for e in exprs]
    for value in evaluated[1:] if scheme == "header" else evaluated:
        _note_secrets(step, value)
    values = [text_of(value) for value in evaluated]
    if scheme == "bearer":
        return "Authorization", f"Bearer {values[0]}"
    if scheme == "basic":
        token = base64.b64encode(f"{values[0]}:{values[1]}".encode()).decode("ascii")
        return "Authorization", f"Basic {token}"
    return values[0], values[1]


def _query(step: _StepExecution) -> tuple[tuple[str, str], ...]:
    from flowc.runtime.decode import text_of

    pairs: list[tuple[str, str]] = []
    for name, value in _layered(step, "query"):
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        pairs += [(name, text_of(item)) for item in items]
    return tuple(pairs)


def _layered(step: _StepExecution, clause: str) -> Iterator[tuple[str, Any]]:
    """The entries of a map clause (``headers``, ``query``): the service's first,
    then the step's own, which therefore win where the caller merges by name."""
    service = step.service
    if service is not None and getattr(service.ir, clause) is not None:
        yield from _pairs(step.run.evaluate(getattr(service.ir, clause), service.new_frame()))
    own = getattr(step.node, clause)
    if own is not None:
        yield from _pairs(step.evaluate(own))


def _content(step: _StepExecution, headers: dict[str, tuple[str, str]]) -> bytes | None:
    from flowc.runtime.decode import form_encode, to_request_json

    node = step.node
    if node.body is None:
        return None
    value = step.evaluate(node.body)
    _note_secrets(step, value)
    if node.body_kind == "json":
        headers.setdefault("content-type", ("Content-Type", "application/json"))
        return to_request_json(value)
    if node.body_kind == "form":
        headers.setdefault("content-type", ("Content-Type", "application/x-www-form-urlencoded"))
        return form_encode(value)
    if isinstance(value, Secret):  # revealed here, on its way into the request
        value = value.reveal()
    if isinstance(value, bytes):
        headers.setdefault("content-type", ("Content-Type", "application/octet-stream"))
        return value
    text = value if isinstance(value, str) else str(value)
    headers.setdefault("content-type", ("Content-Type", "text/plain; charset=utf-8"))
    return text.encode("utf-8")


def _pairs(value: Any) -> list[tuple[str, Any]]:
    if not isinstance(value, dict):
        raise EvalError("type", f"expected a map, found {to_text(value)}")
    from flowc.common.values import user_key

    return [(str(user_key(k)), v) for k, v in value.items()]


def _header_map(response: HttpResponse) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in response.headers:
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


def _note_secrets(step: _StepExecution, value: Any) -> None:
    """Remember the text of every secret in ``value`` (and its words) for redaction."""
    if isinstance(value, Secret):
        revealed = value.reveal()
        text = revealed if isinstance(revealed, str) else revealed.decode("utf-8", "replace")
        step.sensitive.update(
            w for w in _WORDS.split(text) if len(w) >= 4 and w.lower() not in _SCHEMES
        )
        if text:
            step.sensitive.add(text)
    elif isinstance(value, dict):
        for item in value.values():
            _note_secrets(step, item)
    elif isinstance(value, list):
        for item in value:
            _note_secrets(step, item)


_WORDS: Final = re.compile(r"[\s:=,;]+")
_SCHEMES: Final = frozenset({"bearer", "basic", "token", "digest"})  # words that are no secret


def _redact(text: str, sensitive: Collection[str]) -> str:
    """``text`` with every secret (longest first) replaced by ``***``."""
    for secret in sorted(sensitive, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _status_message(response: HttpResponse, sensitive: Collection[str] = ()) -> str:
    from http import HTTPStatus

    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = "unknown status"
    message = f"HTTP {response.status} {reason}"
    # A server may echo what it received (a rejected token, say): redact the secrets
    # this request carried before quoting the start of the body.
    snippet = _redact(response.body[:4096].decode("utf-8", "replace"), sensitive)[:200].strip()
    if snippet and response.status >= 400 and snippet.isprintable():
        message += f": {snippet}"
    return message


def _retry_after(response: HttpResponse) -> float | None:
    from flowc.runtime.policies import parse_retry_after

    value = response.header("retry-after")
    return None if value is None else parse_retry_after(value, time.time())
