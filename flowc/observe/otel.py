"""OpenTelemetry traces: a sink of the instrumentation hooks, exported by OTLP.

``RunTracer`` turns a run's events into spans, timed by the events' own
clocks (``Event.time``), so a span measures what the run did, not when the
sink heard of it:

- a span per run (``run checkout``), the root of the run's trace, or a child
  of the caller's span when the run was started with a W3C ``traceparent``
  (``flowc serve`` keeps it in the run's journal, so whichever worker claims
  the run continues the caller's trace);
- a span per step (``step charge``) under its flow; a sub-flow call's flow
  gets a span (``flow reserve``) under the calling step, so sub-flows nest;
- a client span per HTTP attempt, with the HTTP client semantic conventions:
  ``http.request.method``, ``url.full`` (never a query string, never user
  information; the path's secrets were already scrubbed by the run's
  ``Redactor``), ``server.address``, ``server.port``,
  ``http.response.status_code``, ``error.type``, and
  ``http.request.resend_count`` for retries;
- retries as ``retry`` events on their step span (attempt, delay, error
  kind), ``retry`` blocks and ``catch`` as events on their flow's span, and
  each compensation as a span of its own (``compensate charge``) under
  which the compensation's steps nest.

The tracer is also a ``HeaderSource``: ``headers_for`` gives each HTTP
attempt the ``traceparent`` of its own span, so the services called see the
trace too.  ``start_tracing`` builds the SDK from the standard ``OTEL_*``
variables (exporter, endpoint, headers, service name and resource,
sampler, batch sizes); this module is imported only when tracing is asked
for (``observe/setup.py``).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import attrs
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event as SdkEvent
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.sampling import Decision
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from flowc import __version__
from flowc.observe import messages
from flowc.runtime import hooks as events

CLOSE_SECONDS: Final = 3.0
_RETRY_SUFFIX: Final = re.compile(r"~\d+$")
_PROPAGATOR: Final = TraceContextTextMapPropagator()
_UNSET: Final = Status(StatusCode.UNSET)


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


def _kind(error: dict[str, object] | None) -> str:
    return str((error or {}).get("kind", "")) or "error"


def _remote_parent(traceparent: str) -> SpanContext | None:
    """The caller's span context of a W3C ``traceparent``, if it is a valid one."""
    if not traceparent:
        return None
    context = trace.get_current_span(_PROPAGATOR.extract({"traceparent": traceparent}))
    found = context.get_span_context()
    return found if found.is_valid else None


def clean_url(url: str) -> str:
    """``url`` without user information, query string or fragment (``url.full``)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


_URL_PARTS: dict[str, tuple[str, str, int | None]] = {}
"""``url.full``, ``server.address`` and ``server.port`` by URL (a flow's URLs repeat)."""


def _url_parts(url: str) -> tuple[str, str, int | None]:
    found = _URL_PARTS.get(url)
    if found is None:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        found = (clean_url(url), parts.hostname or "", port)
        if len(_URL_PARTS) < 4096:
            _URL_PARTS[url] = found
    return found


def http_attributes(event: events.AttemptStarted) -> dict[str, Any]:
    full, host, port = _url_parts(event.url)
    attributes: dict[str, Any] = {"url.full": full, "server.address": host}
    if port is not None:
        attributes["server.port"] = port
    if event.method == "GRPC":
        attributes["rpc.system"] = "grpc"
    else:
        attributes["http.request.method"] = event.method
    if event.service:
        attributes["flowc.service"] = event.service
    if event.attempt > 1:
        attributes["http.request.resend_count"] = event.attempt - 1
    return attributes


@attrs.define(slots=True)
class _Span:
    """A span while it is open: plain data, made a ``ReadableSpan`` when it ends."""

    name: str
    span_id: int
    parent: SpanContext | None
    start: int
    attributes: dict[str, Any]
    kind: SpanKind = SpanKind.INTERNAL
    events: list[SdkEvent] = attrs.field(factory=list)
    status: Status = _UNSET

    def set_attribute(self, key: str, value: Any) -> None:
        self.attributes[key] = value

    def add_event(self, name: str, attributes: dict[str, Any], timestamp: int) -> None:
        self.events.append(SdkEvent(name, attributes, timestamp))

    def set_status(self, status: Status) -> None:
        self.status = status


@attrs.define
class _RunSpans:
    """The open spans of one run, by what their events name."""

    trace_id: int
    flags: TraceFlags
    run: _Span
    flows: dict[int, _Span] = attrs.field(factory=dict)
    steps: dict[tuple[int, str], _Span] = attrs.field(factory=dict)
    attempts: dict[tuple[int, str, int], _Span] = attrs.field(factory=dict)
    compensations: dict[tuple[int, str], _Span] = attrs.field(factory=dict)
    compensating: dict[int, _Span] = attrs.field(factory=dict)

    def flow(self, invocation: int) -> _Span:
        return self.compensating.get(invocation) or self.flows.get(invocation) or self.run

    def context(self, span: _Span) -> SpanContext:
        return SpanContext(self.trace_id, span.span_id, False, self.flags)

    def open_spans(self) -> list[_Span]:
        left = [*self.attempts.values(), *self.steps.values(), *self.compensations.values()]
        left += [span for number, span in self.flows.items() if number != 1]
        for table in (self.attempts, self.steps, self.compensations, self.flows):
            table.clear()
        return left


class RunTracer:
    """The hook that draws runs as spans, and the header source of their context.

    Spans are kept as plain ``_Span`` records while open (a trio run has one
    thread: no locks) and become the SDK's ``ReadableSpan`` when they end, handed
    to the span processor; the provider's sampler decides once per run, its id
    generator makes the ids.  That costs a fraction of the SDK's ``Span`` objects
    on the hot path of a step (``bench/observe.py``).
    """

    def __init__(self, provider: TracerProvider, processor: SpanProcessor) -> None:
        self.provider = provider
        self.processor = processor
        self.scope = InstrumentationScope("flowc", __version__)
        self.ids = provider.id_generator
        self.runs: dict[str, _RunSpans] = {}

    # ------------------------------------------------------------ the hook

    def __call__(self, event: events.Event) -> None:
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def _start(
        self,
        spans: _RunSpans,
        name: str,
        parent: _Span,
        at: float,
        attributes: dict[str, Any],
        kind: SpanKind = SpanKind.INTERNAL,
    ) -> _Span:
        return _Span(
            name, self.ids.generate_span_id(), spans.context(parent), _ns(at), attributes, kind
        )

    def _end(self, spans: _RunSpans, span: _Span, at: int) -> None:
        if not spans.flags.sampled:
            return
        self.processor.on_end(
            ReadableSpan(
                span.name,
                context=spans.context(span),
                parent=span.parent,
                resource=self.provider.resource,
                attributes=span.attributes,
                events=span.events,
                kind=span.kind,
                status=span.status,
                start_time=span.start,
                end_time=at,
                instrumentation_scope=self.scope,
            )
        )

    def _run_started(self, event: events.RunStarted) -> None:
        parent = _remote_parent(event.trace_parent)
        trace_id = parent.trace_id if parent is not None else self.ids.generate_trace_id()
        name = f"run {event.flow}"
        attributes: dict[str, Any] = {
            "flowc.run.id": event.run_id,
            "flowc.flow": event.flow,
            "flowc.run.attempt": event.attempt,
            "flowc.run.resumed": event.resumed,
        }
        context = None if parent is None else trace.set_span_in_context(NonRecordingSpan(parent))
        decision = self.provider.sampler.should_sample(
            context, trace_id, name, attributes=attributes
        )
        flags = TraceFlags(
            TraceFlags.SAMPLED if decision.decision is Decision.RECORD_AND_SAMPLE else 0
        )
        root = _Span(name, self.ids.generate_span_id(), parent, _ns(event.time), attributes)
        self.runs[event.run_id] = _RunSpans(trace_id, flags, root, {1: root})

    def _run_finished(self, event: events.RunFinished) -> None:
        spans = self.runs.pop(event.run_id, None)
        if spans is None:
            return
        end = _ns(event.time)
        for span in spans.open_spans():
            self._end(spans, span, end)
        spans.run.set_attribute("flowc.run.status", event.status)
        if event.status == "failed":
            spans.run.set_attribute("error.type", _kind(event.error))
            spans.run.set_status(Status(StatusCode.ERROR, event.message or None))
        self._end(spans, spans.run, end)

    def _flow_started(self, event: events.FlowStarted) -> None:
        spans = self.runs.get(event.run_id)
        if spans is None or event.invocation in spans.flows:
            return
        calling = _RETRY_SUFFIX.sub("", event.call_path.rstrip("/"))
        parent = spans.steps.get((event.parent or 0, calling)) or spans.flow(event.parent or 1)
        attributes: dict[str, Any] = {"flowc.flow": event.flow, "flowc.call_path": event.call_path}
        spans.flows[event.invocation] = self._start(
            spans, f"flow {event.flow}", parent, event.time, attributes
        )

    def _flow_finished(self, event: events.FlowFinished) -> None:
        spans = self.runs.get(event.run_id)
        if spans is None or event.invocation == 1:
            return
        span = spans.flows.pop(event.invocation, None)
        if span is not None:
            if event.error is not None:
                span.set_attribute("error.type", _kind(event.error))
                span.set_status(Status(StatusCode.ERROR))
            self._end(spans, span, _ns(event.time))

    def _step_started(self, event: events.StepStarted) -> None:
        spans = self.runs.get(event.run_id)
        if spans is None:
            return
        attributes: dict[str, Any] = {
            "flowc.step.key": event.step,
            "flowc.step.method": event.method,
        }
        if event.replayed:
            attributes["flowc.step.replayed"] = True
        name = f"step {event.step.rsplit('/', 1)[-1].split('[', 1)[0]}"
        spans.steps[(event.invocation, event.step)] = self._start(
            spans, name, spans.flow(event.invocation), event.time, attributes
        )

    def _step_finished(self, event: events.StepFinished) -> None:
        spans = self.runs.get(event.run_id)
        span = None if spans is None else spans.steps.pop((event.invocation, event.step), None)
        if spans is None or span is None:
            return
        span.set_attribute("flowc.step.outcome", event.outcome)
        span.set_attribute("flowc.step.attempts", event.attempts)
        if event.status:
            span.set_attribute("http.response.status_code", event.status)
        if event.error is not None:
            span.set_attribute("error.type", _kind(event.error))
            if event.outcome == "failed":
                span.set_status(Status(StatusCode.ERROR))
        self._end(spans, span, _ns(event.time))

    def _attempt_started(self, event: events.AttemptStarted) -> None:
        spans = self.runs.get(event.run_id)
        if spans is None:
            return
        parent = spans.steps.get((event.invocation, event.step)) or spans.flow(event.invocation)
        name = "grpc" if event.method == "GRPC" else event.method
        spans.attempts[(event.invocation, event.step, event.attempt)] = self._start(
            spans, name, parent, event.time, http_attributes(event), SpanKind.CLIENT
        )

    def _attempt_finished(self, event: events.AttemptFinished) -> None:
        spans = self.runs.get(event.run_id)
        key = (event.invocation, event.step, event.attempt)
        span = None if spans is None else spans.attempts.pop(key, None)
        if spans is None or span is None:
            return
        if event.status is not None and event.method != "GRPC":
            span.set_attribute("http.response.status_code", event.status)
        failed = event.error or (str(event.status) if (event.status or 0) >= 400 else "")
        if failed:
            span.set_attribute("error.type", failed)
            span.set_status(Status(StatusCode.ERROR))
        self._end(spans, span, _ns(event.time))

    def _retrying(self, event: events.StepRetrying) -> None:
        spans = self.runs.get(event.run_id)
        span = None if spans is None else spans.steps.get((event.invocation, event.step))
        if span is not None:
            attributes: dict[str, Any] = {
                "flowc.attempt": event.attempt,
                "flowc.retry.delay_s": event.delay,
                "error.type": _kind(event.error),
            }
            span.add_event("retry", attributes, timestamp=_ns(event.time))

    def _flow_event(self, event: events.BlockRetrying | events.Caught) -> None:
        spans = self.runs.get(event.run_id)
        if spans is not None:
            attributes: dict[str, Any] = {"error.type": _kind(event.error)}
            if isinstance(event, events.BlockRetrying):
                attributes["flowc.attempt"] = event.attempt
            name = "retry" if isinstance(event, events.BlockRetrying) else "caught"
            spans.flow(event.invocation).add_event(name, attributes, timestamp=_ns(event.time))

    def _compensation_started(self, event: events.CompensationStarted) -> None:
        spans = self.runs.get(event.run_id)
        if spans is None:
            return
        name = f"compensate {event.step.rsplit('/', 1)[-1].split('[', 1)[0]}"
        attributes: dict[str, Any] = {
            "flowc.step.key": event.step,
            "flowc.compensation.cause": event.cause,
        }
        parent = spans.flows.get(event.invocation) or spans.run
        span = self._start(spans, name, parent, event.time, attributes)
        spans.compensations[(event.invocation, event.step)] = span
        spans.compensating[event.invocation] = span

    def _compensation_finished(self, event: events.CompensationFinished) -> None:
        spans = self.runs.get(event.run_id)
        if spans is None:
            return
        span = spans.compensations.pop((event.invocation, event.step), None)
        if spans.compensating.get(event.invocation) is span:
            spans.compensating.pop(event.invocation, None)
        if span is None:
            return
        span.set_attribute("flowc.compensation.outcome", event.outcome)
        if event.outcome != "ran":
            span.set_status(Status(StatusCode.ERROR, event.detail or None))
        self._end(spans, span, _ns(event.time))

    def _slept(self, event: events.Slept) -> None:
        spans = self.runs.get(event.run_id)
        if spans is not None:
            attributes: dict[str, Any] = {
                "flowc.sleep.seconds": event.seconds,
                "flowc.sleep.site": event.site,
            }
            spans.flow(event.invocation).add_event("sleep", attributes, timestamp=_ns(event.time))

    # ------------------------------------------------------------ propagation

    def headers_for(self, event: events.AttemptStarted) -> Sequence[tuple[str, str]]:
        """The W3C ``traceparent`` of the attempt's span, for its request."""
        spans = self.runs.get(event.run_id)
        span = None if spans is None else spans.attempts.get(
            (event.invocation, event.step, event.attempt)
        )  # fmt: skip
        if spans is None or span is None:
            return ()
        flags = int(spans.flags)
        return (("traceparent", f"00-{spans.trace_id:032x}-{span.span_id:016x}-{flags:02x}"),)

    def close(self) -> None:
        """End what is still open and send every buffered span, waiting at most
        ``CLOSE_SECONDS`` (an unreachable collector must not hold the process)."""
        now = _ns(time.time())
        for spans in self.runs.values():
            for span in [*spans.open_spans(), spans.run]:
                self._end(spans, span, now)
        self.runs.clear()
        closing = threading.Thread(target=self.provider.shutdown, daemon=True)
        closing.start()
        closing.join(CLOSE_SECONDS)


_HANDLERS: Final[dict[type[events.Event], Callable[[RunTracer, Any], None]]] = {
    events.RunStarted: RunTracer._run_started,
    events.RunFinished: RunTracer._run_finished,
    events.FlowStarted: RunTracer._flow_started,
    events.FlowFinished: RunTracer._flow_finished,
    events.StepStarted: RunTracer._step_started,
    events.StepFinished: RunTracer._step_finished,
    events.AttemptStarted: RunTracer._attempt_started,
    events.AttemptFinished: RunTracer._attempt_finished,
    events.StepRetrying: RunTracer._retrying,
    events.BlockRetrying: RunTracer._flow_event,
    events.Caught: RunTracer._flow_event,
    events.CompensationStarted: RunTracer._compensation_started,
    events.CompensationFinished: RunTracer._compensation_finished,
    events.Slept: RunTracer._slept,
}


def _exporter(name: str) -> SpanExporter | None:
    if name in ("", "otlp"):
        protocol = os.environ.get(
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "")
        )
        if protocol.strip() not in ("", "http/protobuf"):
            print(messages.OTLP_PROTOCOL.format(protocol=protocol), file=sys.stderr, flush=True)
            return None
        from flowc.observe.otlp_wire import fast_exporter

        exporter: SpanExporter = fast_exporter()
        return exporter
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter(out=sys.stderr)
    print(messages.UNKNOWN_EXPORTER.format(name=name), file=sys.stderr, flush=True)
    return None


class _OneLine(logging.Formatter):
    """The SDK's own complaints (an unreachable collector) as flowc's warning lines."""

    def format(self, record: logging.LogRecord) -> str:
        return messages.SDK_WARNING.format(message=record.getMessage().splitlines()[0])


def _route_sdk_logs() -> None:
    logger = logging.getLogger("opentelemetry")
    if not any(isinstance(h.formatter, _OneLine) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_OneLine())
        logger.addHandler(handler)
        logger.propagate = False
        logger.setLevel(logging.WARNING)


def start_tracing(processor: SpanProcessor | None = None) -> RunTracer | None:
    """A tracer configured by the ``OTEL_*`` variables (or exporting to ``processor``)."""
    _route_sdk_logs()
    if processor is None:
        names = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower()
        exporter = _exporter(names.split(",")[0].strip())
        if exporter is None:
            return None
        processor = BatchSpanProcessor(exporter)
    attributes = {"service.version": __version__}
    named = os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    if not named:
        attributes["service.name"] = "flowc"
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(processor)
    return RunTracer(provider, processor)
