"""Executing a step that calls a gRPC method: its attempts, as HTTP steps do theirs.

``StepExecution.execute`` (``stepexec.py``) runs every kind of step the same way --
replay, settings, retries with backoff, ``fallback``, ``on error skip``, the journal,
the hooks -- and asks this module for the attempts of a gRPC step
(``grpc_attempts``).  Once per execution (so every attempt sends the same thing):

* **the request**: the step's field values (or its whole-message argument) are
  evaluated and encoded (``grpc_codec``); a value that does not fit its field is an
  ``invalid_request`` error, never retried;
* **the metadata**: the service's ``headers`` overlaid by the step's (names
  lower-cased, as gRPC requires; a null value removes one), the ``auth`` header, and
  an ``idempotency-key`` -- the step's clause, else, for a method not marked
  ``NO_SIDE_EFFECTS``, the run id and the step, as HTTP steps get.

Each attempt, inside one cancel scope bounded by the per-attempt timeout: the
circuit breaker and the rate limiter are asked (``ServiceState.before_call``), the
concurrency limiter is entered, an unsafe call first commits what the journal
holds, and the invoker sends with the time left as the call's deadline.  Then:

=========================  ==================================================
outcome                    step
=========================  ==================================================
``OK``                     ``status`` 0, ``body`` the decoded response, ``headers``
                           the response's metadata
``DEADLINE_EXCEEDED``, or  error kind ``timeout``
no answer in time
``UNAVAILABLE``            kind ``unavailable`` (retried by default, like
                           ``timeout``)
any other status           kind ``status``, ``error.status`` the code's number
                           (``NOT_FOUND`` is 5), the message its name and details
=========================  ==================================================

The breaker counts UNKNOWN, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL,
UNAVAILABLE and DATA_LOSS as failures of the service and everything else as a
success (the server answered).  Details quoted in a message have the secrets the
request carried redacted, and are cut at 200 characters.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import trio

from flowc.common import errors
from flowc.common.values import Duration, EvalError
from flowc.compiler import ir
from flowc.runtime import hooks as events
from flowc.runtime.grpc import (
    OK,
    SERVER_FAILURES,
    GrpcReply,
    Metadata,
    code_name,
    uses_tls,
)
from flowc.runtime.grpc_codec import CodecError
from flowc.runtime.requests import idempotency_key, request_headers

if TYPE_CHECKING:
    from flowc.runtime.grpc import GrpcInvoker
    from flowc.runtime.grpc_codec import MessageTypes
    from flowc.runtime.stepexec import StepExecution

DEADLINE_EXCEEDED = 4
UNAVAILABLE = 14
MAX_DETAILS = 200

Attempt = Callable[[int, float], Awaitable[dict[str, Any]]]


def grpc_attempts(step: StepExecution) -> Attempt:
    """The attempt function of a gRPC step, its request built once (module docstring)."""
    return GrpcAttempts(step).attempt


class GrpcAttempts:
    """One execution's request, and how to send it."""

    def __init__(self, step: StepExecution) -> None:
        node, service = step.node, step.service
        assert node.grpc is not None and service is not None and service.ir.grpc is not None
        self.step = step
        self.method: ir.GrpcMethod = node.grpc
        invoker: GrpcInvoker = step.invocation.run.engine.grpc
        target, tls = invoker.settings(service.ir, lambda: _channel_settings(step, service.ir))
        self.url = f"grpc://{target}{self.method.path}"
        self.invoker = invoker
        self.callable = invoker.method(target, tls, self.method.path)
        self.types: MessageTypes = invoker.types(service.ir.grpc.descriptors)
        self.request = self._request()
        self.metadata = self._metadata()
        self.unsafe = node.effect == "unsafe"

    # ----------------------------------------------------------- built once

    def _request(self) -> bytes:
        step, method = self.step, self.method
        if method.message is not None:
            value = step.evaluate(method.message)
        else:
            value = {name: step.evaluate(expr) for name, expr in method.fields}
        secrets: set[str] = set()
        try:
            encoded = self.types.encode(method.request, value, secrets)
        except CodecError as error:
            raise step.fail(errors.INVALID_REQUEST, f"the request: {error}") from None
        redactor = step.invocation.run.redactor
        for secret in secrets:
            redactor.add(secret)
        return encoded

    def _metadata(self) -> Metadata:
        step = self.step
        try:
            headers = request_headers(step)
        except EvalError as error:
            raise step.fail(errors.EVAL, str(error)) from None
        pairs: list[tuple[str, str | bytes]] = []
        for lowered, (name, value) in headers.items():
            if lowered != "idempotency-key":
                pairs.append((name.lower(), value))
        key = idempotency_key(step)
        if key is None and step.node.idempotency_key is None and self.method.idempotency is None:
            key = f"{step.invocation.run.run_id}/{step.key}"
        if key is not None:
            pairs.append(("idempotency-key", key))
        return tuple(pairs)

    # ----------------------------------------------------------- each attempt

    async def attempt(self, attempt: int, timeout: float) -> dict[str, Any]:
        step, service = self.step, self.step.service
        assert service is not None
        journal = step.invocation.run.journal
        if journal.unflushed and self.unsafe:
            await journal.flush()  # no unsafe call leaves with a value a resume could not repeat
        started = time.perf_counter()
        metadata = self._emit_started(attempt)
        reply: GrpcReply | None = None
        with trio.move_on_after(timeout) as scope:
            try:
                await service.before_call(step.fail, trio.current_time() + timeout)
                reply = await self._send(scope.deadline, metadata)
            except trio.Cancelled:
                service.record_cancelled()
                if not scope.cancel_called:  # cancelled from outside, not our timeout
                    self._emit_finished(attempt, started, None, errors.CANCELLED)
                raise
        if reply is None or scope.cancelled_caught:
            self._emit_finished(attempt, started, None, errors.TIMEOUT)
            service.record_failure()
            raise step.fail(errors.TIMEOUT, f"no response within {timeout:g}s", attempt=attempt)
        return self._outcome(reply, attempt, started)

    async def _send(self, deadline: float, metadata: Metadata) -> GrpcReply:
        service = self.step.service
        assert service is not None
        left = max(min(deadline, trio.current_effective_deadline()) - trio.current_time(), 0.0)
        if service.limiter is not None:
            async with service.limiter:
                return await self._unary(left, metadata)
        return await self._unary(left, metadata)

    async def _unary(self, timeout: float, metadata: Metadata) -> GrpcReply:
        try:
            return await self.invoker.unary(self.callable, self.request, timeout, metadata)
        except ValueError as error:  # grpcio refuses metadata it cannot send
            raise self.step.fail(errors.INVALID_REQUEST, f"gRPC metadata: {error}") from None

    def _outcome(self, reply: GrpcReply, attempt: int, started: float) -> dict[str, Any]:
        step, service = self.step, self.step.service
        assert service is not None
        self._emit_finished(attempt, started, reply.code, None)
        if reply.code in SERVER_FAILURES:
            service.record_failure()
        else:
            service.record_success()
        if reply.code != OK:
            raise step.fail(
                _kind_of(reply.code), self._message(reply), status=reply.code, attempt=attempt
            )
        assert reply.response is not None
        try:
            body = self.types.decode(self.method.response, reply.response)
        except CodecError as error:
            raise step.fail(errors.DECODE, str(error), attempt=attempt) from None
        elapsed = Duration(int((time.perf_counter() - step.started) * 1_000_000_000))
        return {
            "status": OK,
            "ok": True,
            "headers": _header_map(reply.metadata),
            "body": body,
            "elapsed": elapsed,
            "attempts": attempt,
            "error": None,
        }

    def _message(self, reply: GrpcReply) -> str:
        details = self.step.invocation.run.redactor.redact(reply.details)[:MAX_DETAILS].strip()
        name = code_name(reply.code)
        return f"gRPC {name}: {details}" if details and details.isprintable() else f"gRPC {name}"

    # ----------------------------------------------------------- hooks

    def _emit_started(self, attempt: int) -> Metadata:
        """Report the attempt; its metadata, with the header sources' (``traceparent``)."""
        step = self.step
        hooks = step.invocation.run.hooks
        if not hooks.active and not hooks.header_sources:
            return self.metadata
        event = events.AttemptStarted(
            run_id=step.invocation.run.run_id,
            flow=step.invocation.flow.name,
            invocation=step.invocation.invocation,
            step=step.key,
            attempt=attempt,
            method="GRPC",
            url=self.url,
            service=step.service_name(),
        )
        if hooks.active:
            hooks.emit(event)
        extra = hooks.outgoing_headers(event) if hooks.header_sources else ()
        return self.metadata + tuple((name.lower(), value) for name, value in extra)

    def _emit_finished(
        self, attempt: int, started: float, status: int | None, error: str | None
    ) -> None:
        step = self.step
        run = step.invocation.run
        if run.hooks.active:
            run.hooks.emit(
                events.AttemptFinished(
                    run_id=run.run_id,
                    flow=step.invocation.flow.name,
                    invocation=step.invocation.invocation,
                    step=step.key,
                    attempt=attempt,
                    method="GRPC",
                    url=self.url,
                    status=status,
                    error=error,
                    elapsed_ms=round((time.perf_counter() - started) * 1000, 3),
                    service=step.service_name(),
                )
            )


def _channel_settings(step: StepExecution, service_ir: ir.ServiceIR) -> tuple[str, bool]:
    """The service's target and TLS setting, evaluated in a service frame."""
    service, channel = step.service, service_ir.grpc
    assert service is not None and channel is not None
    frame = service.new_frame()
    target = step.invocation.evaluate(channel.target, frame)
    text = target.reveal() if hasattr(target, "reveal") else str(target)
    tls = None if channel.tls is None else step.invocation.evaluate(channel.tls, frame)
    return text, uses_tls(text, tls if isinstance(tls, bool) else None)


def _kind_of(code: int) -> str:
    if code == DEADLINE_EXCEEDED:
        return errors.TIMEOUT
    if code == UNAVAILABLE:
        return errors.UNAVAILABLE
    return errors.STATUS


def _header_map(metadata: Metadata) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, raw in metadata:
        value = raw if isinstance(raw, str) else base64.b64encode(raw).decode("ascii")
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers
