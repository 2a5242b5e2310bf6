"""Run-time failures of flows.

Every failure a flow can observe — an HTTP status that is not accepted, a
timeout, a connection that could not be made, a body that does not match its
declared type, an open circuit, an expression error, ``assert`` and ``fail`` —
is a ``FlowError``.  ``fail kind "message" {status: N, data: D}`` raises one of
the flow's own kind with a structured payload (``data``); an error raised while
a ``catch`` block handles another keeps that one as its ``cause``.  It carries
the fields of the language's ``Error`` record (``kind``, ``message``, ``step``,
``status``, ``attempt``, ``data``; LANGUAGE.md §5) plus
where it happened (the flow and the source span) so the CLI can name the place
without a traceback. ``record()`` is the value a ``catch`` block or a ``retry ...
when`` predicate sees. A gRPC step's failure has the status code's number as
``status`` (``UNAVAILABLE`` is 14, kind ``unavailable``; ``DEADLINE_EXCEEDED`` 4,
kind ``timeout``; the others kind ``status``). A status error of a step against an
OpenAPI service also carries the response's ``body`` when it matches the type the
document declares for that failure; the record then has a ``body`` field (the
checker types it as optional, so reading it where it is absent gives null).

Messages never contain secrets: values are rendered with ``values.to_text``,
which redacts them.
"""

from __future__ import annotations

from typing import Final

from flowc.common.span import Span

STATUS: Final = "status"
TIMEOUT: Final = "timeout"
CONNECT: Final = "connect"
UNAVAILABLE: Final = "unavailable"  # gRPC UNAVAILABLE
PROTOCOL: Final = "protocol"
DECODE: Final = "decode"
CIRCUIT_OPEN: Final = "circuit_open"
RATE_LIMITED: Final = "rate_limited"
CANCELLED: Final = "cancelled"
ASSERT: Final = "assert"
FAIL: Final = "fail"
EVAL: Final = "eval"
LOOP_LIMIT: Final = "loop_limit"
BODY_LIMIT: Final = "body_limit"
CALL_DEPTH: Final = "call_depth"
INVALID_REQUEST: Final = "invalid_request"
AUTH: Final = "auth"  # no OAuth 2.0 token (runtime/oauth2.py)

NO_BODY: Final = object()  # a FlowError without a response body


class FlowError(Exception):
    """A failure inside a flow, as the language sees it."""

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        step: str = "",
        status: int = 0,
        attempt: int = 0,
        span: Span | None = None,
        flow: str = "",
        value: object = None,
        body: object = NO_BODY,
        data: object = None,
        cause: FlowError | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.step = step
        self.status = status
        self.attempt = attempt
        self.span = span
        self.flow = flow
        self.value = value
        self.body = body
        self.data = data
        self.cause = cause

    def record(self) -> dict[str, object]:
        """The ``Error`` record a ``catch`` block or ``when`` predicate sees."""
        record: dict[str, object] = {
            "kind": self.kind,
            "message": self.message,
            "step": self.step,
            "status": self.status,
            "attempt": self.attempt,
            "data": self.data,
        }
        if self.body is not NO_BODY:
            record["body"] = self.body
        return record

    def located(self, span: Span, flow: str) -> FlowError:
        """Fill in where the error happened, if not known yet."""
        if self.span is None:
            self.span = span
        if not self.flow:
            self.flow = flow
        return self

    def describe(self) -> str:
        """A one-line description for the CLI: flow, step, place, kind, status, attempts."""
        parts = [f"flow `{self.flow}` failed" if self.flow else "flow failed"]
        if self.step:
            parts.append(f"at step `{self.step}`")
        if self.span is not None:
            parts.append(f"({self.span})")
        head = " ".join(parts)
        detail = f"{self.kind}: {self.message}"
        if self.status and f"HTTP {self.status}" not in self.message:
            detail += f" (HTTP {self.status})"
        if self.attempt > 1:
            detail += f" after {self.attempt} attempts"
        return f"{head}: {detail}"
