"""Observability: Prometheus metrics, OpenTelemetry traces and Sentry reports.

``flowc serve`` runs as a real process on SQLite against the demo API; the test
process hosts what the server reports to, each a real HTTP server on
127.0.0.1: an OTLP/HTTP receiver that decodes ``ExportTraceServiceRequest``
protobufs (``tests/observe_receivers.py``) and a Sentry endpoint that decodes
envelopes.  Metrics are scraped from ``/metrics`` and parsed with
prometheus-client's own parser; the Grafana dashboard's every metric must be in
the scrape.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event as SdkEvent
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from prometheus_client.parser import text_string_to_metric_families

from flowc.observe.otlp_wire import encode_request
from tests import serve_process
from tests.cli_process import ROOT, child_environment
from tests.grpc_fixtures import BillingServer, billing_server
from tests.http_fixtures import DemoServer
from tests.observe_receivers import HeaderRecorder, OtlpReceiver, ReceivedSpan, SentryReceiver

FLOWS = """
service demo env("FLOWC_DEMO_URL", "http://127.0.0.1:8765") {
    timeout 10s
}

service fragile env("FLOWC_DEMO_URL", "http://127.0.0.1:8765") {
    timeout 10s
    circuit_breaker 2 failures within 60s cooldown 600s
}

flow hello(name: string, token: secret) -> string {
    step first = GET demo "/delay/1" {
        headers {"X-Token": token}
    }
    step retried = GET demo "/flaky/${run.id}" {
        query {fail: 1, status: 503, api_key: "query-value-hidden"}
        retry 2 backoff fixed 10ms
    }
    return "hello, ${name}"
}

service recorder env("FLOWC_RECORDER_URL", "http://127.0.0.1:9") {
    timeout 10s
}

flow traced(name: string, token: secret) -> string {
    step lookup = GET recorder "/lookup/${name}" {
        headers {"Authorization": "Bearer ${token}"}
        query {api_key: "query-value-hidden"}
    }
    step inner = call greet(name: name)
    step retried = GET demo "/flaky/${run.id}" {
        query {fail: 1, status: 503}
        retry 2 backoff fixed 10ms
    }
    return inner.body
}

flow greet(name: string) -> string {
    step ping = GET recorder "/ping"
    return "hi, ${name}"
}

flow saga(token: secret) -> string {
    step order = POST recorder "/orders" {
        headers {"X-Token": token}
        compensate {
            step undo = DELETE recorder "/orders/1"
        }
    }
    step charge = POST recorder "/charge" {
        query {status: 500}
    }
    return "never"
}

flow broken() -> string {
    step down = GET fragile "/status/503" {
        retry 1 backoff fixed 10ms
    }
    return "never"
}
"""
TOKEN = "observe-token-value"
SECRET = "s3cr3t-observe-token"
__all__ = ["billing_server"]  # the fixture, imported for the test below
DASHBOARD = ROOT / "docs" / "grafana-flowc.json"
WANTED_FAMILIES = {
    "flowc_runs_started",
    "flowc_runs_finished",
    "flowc_step_attempts",
    "flowc_step_duration_seconds",
    "flowc_run_duration_seconds",
    "flowc_step_retries",
    "flowc_circuit_breaker_state",
    "flowc_runs_in_flight",
    "flowc_runs_parked",
    "flowc_runs_queued",
    "flowc_queue_lag_seconds",
}


class Served(serve_process.Served):
    """The server, with what these tests ask of it."""

    def start(self, flow: str, inputs: dict[str, object], **headers: str) -> dict[str, object]:
        response = self.client.post(f"/v1/flows/{flow}/runs?wait=30s", json=inputs, headers=headers)
        assert response.status_code == 200, response.text
        body: dict[str, object] = response.json()
        return body

    def scrape(self) -> dict[str, list[tuple[dict[str, str], float]]]:
        response = self.client.get("/metrics")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/plain")
        samples: dict[str, list[tuple[dict[str, str], float]]] = {}
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
        return samples


def start_serve(
    root: Path, demo: str, extra_env: dict[str, str], store: str | None = None, *extra: str
) -> Served:
    environment = {"FLOWC_DEMO_URL": demo, **extra_env}
    served = serve_process.start_serve(
        root, FLOWS, TOKEN, environment, *extra, store=store, served_type=Served
    )
    assert isinstance(served, Served)
    return served


@pytest.fixture(scope="module")
def otlp() -> Iterator[OtlpReceiver]:
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def sentry() -> Iterator[SentryReceiver]:
    receiver = SentryReceiver()
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def recorder() -> Iterator[HeaderRecorder]:
    server = HeaderRecorder()
    yield server
    server.close()


@pytest.fixture(scope="module")
def served(
    demo_server: str,
    tmp_path_factory: pytest.TempPathFactory,
    otlp: OtlpReceiver,
    sentry: SentryReceiver,
    recorder: HeaderRecorder,
) -> Iterator[Served]:
    environment = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_SERVICE_NAME": "flowc-under-test",
        "SENTRY_DSN": f"http://publickey@127.0.0.1:{sentry.port}/1",
        "FLOWC_RECORDER_URL": recorder.url,
    }
    started = start_serve(tmp_path_factory.mktemp("observe"), demo_server, environment)
    yield started
    serve_process.stop_serve(started)


def value(
    samples: dict[str, list[tuple[dict[str, str], float]]], name: str, **labels: str
) -> float:
    """The sum of ``name``'s samples whose labels include ``labels``."""
    return sum(
        v for have, v in samples.get(name, []) if all(have.get(k) == w for k, w in labels.items())
    )


# --------------------------------------------------------------------------- metrics


def test_metrics_count_real_runs(served: Served, demo: DemoServer) -> None:
    before = served.scrape()
    for name in ("ada", "bob"):
        assert served.start("hello", {"name": name, "token": SECRET})["status"] == "completed"
    assert served.start("broken", {})["status"] == "failed"
    after = served.scrape()

    def grew(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert grew("flowc_runs_started_total", flow="hello") == 2
    assert grew("flowc_runs_finished_total", flow="hello", status="completed") == 2
    assert grew("flowc_runs_finished_total", flow="broken", status="failed") == 1
    attempts = {"flow": "hello", "service": "demo"}
    assert grew("flowc_step_attempts_total", step="first", outcome="2xx", **attempts) == 2
    assert grew("flowc_step_attempts_total", step="retried", outcome="5xx", **attempts) == 2
    assert grew("flowc_step_attempts_total", step="retried", outcome="2xx", **attempts) == 2
    assert grew("flowc_step_retries_total", flow="hello", step="retried") == 2
    assert grew("flowc_step_attempts_total", flow="broken", service="fragile", outcome="5xx") == 2
    assert grew("flowc_step_duration_seconds_count", flow="hello", step="first") == 2
    assert grew("flowc_run_duration_seconds_count", flow="hello", status="completed") == 2
    assert grew("flowc_run_duration_seconds_sum", flow="hello") > 0
    assert value(after, "flowc_circuit_breaker_state", service="fragile") == 2  # open
    assert value(after, "flowc_runs_in_flight") == 0
    assert value(after, "flowc_runs_queued") == 0
    assert value(after, "flowc_queue_lag_seconds") == 0
    assert "flowc_runs_parked" in after
    text = served.client.get("/metrics").text
    assert SECRET not in text and "query-value-hidden" not in text


def test_metrics_need_the_token(served: Served) -> None:
    assert httpx.get(f"{served.url}/metrics", trust_env=False).status_code == 401


def _dashboard_metrics(dashboard: dict[str, object]) -> set[str]:
    names: set[str] = set()
    for panel in dashboard["panels"]:  # type: ignore[attr-defined]
        for target in panel.get("targets", []):
            names |= set(re.findall(r"\bflowc_[a-z_]+", target["expr"]))
    return names


def test_the_grafana_dashboard_uses_only_scraped_metrics(served: Served) -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    used = _dashboard_metrics(dashboard)
    scraped = set(served.scrape())
    assert used, "the dashboard queries no flowc metric"
    assert used <= scraped, sorted(used - scraped)
    families = {re.sub(r"_(total|bucket|count|sum)$", "", name) for name in used}
    assert families >= WANTED_FAMILIES, sorted(WANTED_FAMILIES - families)


# --------------------------------------------------------------------------- traces

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def _one(spans: list[ReceivedSpan], name: str) -> ReceivedSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, (name, [s.name for s in spans])
    return found[0]


def _children(spans: list[ReceivedSpan], parent: ReceivedSpan) -> list[ReceivedSpan]:
    return sorted((s for s in spans if s.parent_id == parent.span_id), key=lambda s: s.start)


def test_a_run_is_a_trace_that_continues_the_callers(
    served: Served, demo: DemoServer, otlp: OtlpReceiver, recorder: HeaderRecorder
) -> None:
    caller = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
    run = served.start("traced", {"name": "ada", "token": SECRET}, traceparent=caller)
    assert run["status"] == "completed", run
    spans = otlp.trace_of(str(run["id"]))
    assert {s.trace_id for s in spans} == {CALLER_TRACE}
    assert {s.service for s in spans} == {"flowc-under-test"}
    root = _one(spans, "run traced")
    assert root.parent_id == CALLER_SPAN
    assert root.attributes["flowc.run.status"] == "completed"
    steps = {s.name: s for s in _children(spans, root)}
    assert set(steps) == {"step lookup", "step inner", "step retried"}

    (lookup,) = _children(spans, steps["step lookup"])
    assert lookup.name == "GET" and lookup.kind == 3  # SPAN_KIND_CLIENT
    assert lookup.attributes["http.request.method"] == "GET"
    assert lookup.attributes["http.response.status_code"] == 200
    assert lookup.attributes["server.address"] == "127.0.0.1"
    assert lookup.attributes["server.port"] == recorder.inner.port
    url = lookup.attributes["url.full"]
    assert url == f"{recorder.url}/lookup/ada"

    (flow,) = _children(spans, steps["step inner"])  # the sub-flow nests under its call
    assert flow.name == "flow greet"
    (ping,) = _children(spans, flow)
    assert ping.name == "step ping" and [c.name for c in _children(spans, ping)] == ["GET"]

    retried = steps["step retried"]
    first, second = _children(spans, retried)
    assert first.attributes["error.type"] == "503" and first.status == 2  # STATUS_CODE_ERROR
    assert second.attributes["http.request.resend_count"] == 1
    assert second.attributes["http.response.status_code"] == 200
    assert [name for name, _ in retried.events] == ["retry"]
    assert retried.events[0][1]["error.type"] == "status"

    # every outgoing request carried its own attempt's span as traceparent
    sent = {r.path.split("/")[1]: r.headers.get("traceparent", "") for r in recorder.requests}
    assert sent["lookup"] == f"00-{CALLER_TRACE}-{lookup.span_id}-01"
    assert sent["ping"] == f"00-{CALLER_TRACE}-{_children(spans, ping)[0].span_id}-01"
    everything = b"".join(otlp.raw)
    assert SECRET.encode() not in everything
    assert b"query-value-hidden" not in everything and b"api_key" not in everything


def test_compensations_are_spans_and_failures_reach_sentry(
    served: Served, otlp: OtlpReceiver, sentry: SentryReceiver
) -> None:
    run = served.start("saga", {"token": SECRET})
    assert run["status"] == "failed", run
    run_id = str(run["id"])
    spans = otlp.trace_of(run_id)
    root = _one(spans, "run saga")
    assert root.parent_id == "" and root.status == 2
    assert root.attributes["error.type"] == "status"
    compensation = _one(spans, "compensate order")
    assert compensation.parent_id == root.span_id
    assert compensation.attributes["flowc.compensation.outcome"] == "ran"
    assert [s.name for s in _children(spans, compensation)] == ["step undo"]
    charge = _one(spans, "step charge")
    assert charge.status == 2 and charge.attributes["http.response.status_code"] == 500

    event = sentry.wait_for(lambda e: e.get("tags", {}).get("run_id") == run_id)
    assert event["tags"] == {
        "run_id": run_id, "flow": "saga", "step": "charge", "error_kind": "status"
    }  # fmt: skip
    assert event["level"] == "error" and "500" in event["message"]
    assert event["fingerprint"] == ["flowc", "saga", "charge", "status"]
    assert all(SECRET.encode() not in body for body in sentry.raw)


def test_a_completed_run_is_not_reported(served: Served, sentry: SentryReceiver) -> None:
    run = served.start("greet", {"name": "bo"})
    assert run["status"] == "completed"
    served.start("saga", {"token": SECRET})  # a later failure: its report arrives after
    sentry.wait_for(lambda e: e.get("tags", {}).get("flow") == "saga")
    assert not [e for e in sentry.events if e.get("tags", {}).get("run_id") == run["id"]]


# --------------------------------------------------------------------------- the OTLP writer

_ATTRIBUTE_VALUES = st.one_of(
    st.text(max_size=80),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.lists(st.text(max_size=10), max_size=3),
)
_ATTRIBUTES = st.dictionaries(st.text(min_size=1, max_size=20), _ATTRIBUTE_VALUES, max_size=6)


@st.composite
def _spans(draw: st.DrawFn) -> list[ReadableSpan]:
    resource = Resource.create({"service.name": draw(st.text(min_size=1, max_size=10))})
    scope = InstrumentationScope("flowc", "0.1.0")
    spans = []
    for _ in range(draw(st.integers(1, 4))):
        ids = st.integers(1, 2**64 - 1)
        trace_id = draw(st.integers(1, 2**128 - 1))
        context = SpanContext(trace_id, draw(ids), False, TraceFlags(1))
        parent = None
        if draw(st.booleans()):
            parent = SpanContext(trace_id, draw(ids), draw(st.booleans()))
        code = draw(st.sampled_from([StatusCode.UNSET, StatusCode.OK, StatusCode.ERROR]))
        description = draw(st.text(max_size=20)) if code is StatusCode.ERROR else None
        events = [
            SdkEvent(draw(st.text(max_size=10)), draw(_ATTRIBUTES), draw(st.integers(0, 2**63)))
            for _ in range(draw(st.integers(0, 2)))
        ]
        start = draw(st.integers(0, 2**63))
        spans.append(
            ReadableSpan(
                draw(st.text(max_size=30)),
                context=context,
                parent=parent,
                resource=resource,
                attributes=draw(_ATTRIBUTES),
                events=events,
                kind=draw(st.sampled_from(list(SpanKind))),
                status=Status(code, description),
                start_time=start,
                end_time=start + draw(st.integers(0, 10**12)),
                instrumentation_scope=scope,
            )
        )
    return spans


@settings(max_examples=150, deadline=None)
@given(_spans())
def test_the_otlp_writer_matches_the_sdks_encoding(spans: list[ReadableSpan]) -> None:
    written = encode_request(spans)
    assert written is not None
    ours, theirs = ExportTraceServiceRequest(), ExportTraceServiceRequest()
    ours.ParseFromString(written)
    theirs.ParseFromString(encode_spans(spans).SerializeToString())
    assert ours == theirs


def test_the_otlp_writer_declines_what_it_does_not_cover() -> None:
    context = SpanContext(1, 2, False, TraceFlags(1))
    linked = ReadableSpan("x", context=context, links=[Link(context)], resource=Resource({}))
    assert encode_request([linked]) is None
    assert encode_request([]) is None


# --------------------------------------------------------------------------- the worker's endpoint


def test_a_worker_serves_metrics_on_its_own_port(
    postgres_url: str, recorder: HeaderRecorder, tmp_path: Path
) -> None:
    from flowc.runtime.engine import queued_record
    from flowc.runtime.store import RunQuery
    from flowc.runtime.store.postgres import PostgresStore
    from flowc.server.catalog import load_catalog

    flows = tmp_path / "flows.flow"
    flows.write_text(FLOWS)
    store = PostgresStore(postgres_url)
    offered = load_catalog([str(flows)]).get("greet")
    assert offered is not None
    for index in range(3):
        inputs = offered.program.prepare_inputs(offered.flow, {"name": f"n{index}"})
        store.create_run(queued_record(f"run-{index}", "greet", offered.program.source, inputs))
    port = serve_process.free_port()
    log = tmp_path / "worker.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "flowc.cli", "worker", str(flows), "--store", postgres_url,
             "--metrics-port", str(port)],
            stdout=sink, stderr=subprocess.STDOUT, cwd=ROOT,
            env=child_environment({"FLOWC_RECORDER_URL": recorder.url}),
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while sum(r.ended for r in store.list_runs(RunQuery(limit=10))) < 3:
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", trust_env=False, timeout=10).text
        samples: dict[str, list[tuple[dict[str, str], float]]] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
        finished = value(samples, "flowc_runs_finished_total", flow="greet", status="completed")
        assert finished == 3
        assert value(samples, "flowc_step_attempts_total", step="ping", outcome="2xx") == 3
        assert value(samples, "flowc_runs_in_flight") == 0
        assert "flowc_runs_queued" in samples and "flowc_queue_lag_seconds" in samples
        assert "flowc: metrics on http://127.0.0.1:" in log.read_text()
    finally:
        process.terminate()
        process.wait(timeout=30)
        store.close()


def test_an_unreachable_collector_neither_holds_nor_breaks_a_run(tmp_path: Path) -> None:
    source = tmp_path / "tiny.flow"
    source.write_text("flow main() -> int {\n    return 1\n}\n")
    environment = child_environment(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{serve_process.free_port()}"}
    )
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "flowc.cli", "run", str(source)],
        capture_output=True, env=environment, cwd=ROOT, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.decode().strip() == "1"
    assert time.monotonic() - started < 15
    lines = done.stderr.decode().splitlines()
    assert lines and all(line.startswith("flowc: ") for line in lines), lines
    assert "Traceback" not in done.stderr.decode()


def test_serve_with_a_worker_on_postgres_continues_the_callers_trace(
    postgres_url: str, demo_server: str, otlp: OtlpReceiver, recorder: HeaderRecorder,
    tmp_path: Path,
) -> None:  # fmt: skip
    """A fenced store refuses the server's write; its worker writes the context once claimed."""
    environment = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "FLOWC_RECORDER_URL": recorder.url,
    }
    served = start_serve(tmp_path, demo_server, environment, postgres_url, "--worker")
    try:
        caller = f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"
        run = served.start("greet", {"name": "pg"}, traceparent=caller)
        assert run["status"] == "completed", run
        spans = otlp.trace_of(str(run["id"]))
        root = _one(spans, "run greet")
        assert (root.trace_id, root.parent_id) == (CALLER_TRACE, CALLER_SPAN)
    finally:
        serve_process.stop_serve(served)


async def test_grpc_attempts_are_client_spans_and_carry_the_traceparent(
    billing_server: BillingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from flowc.api import compile_file
    from flowc.observe.otel import start_tracing
    from flowc.runtime.engine import Engine

    monkeypatch.setenv("BILLING_ADDR", billing_server.target)
    program = compile_file(str(ROOT / "examples" / "grpc_billing.flow"))
    exported = InMemorySpanExporter()
    tracer = start_tracing(SimpleSpanProcessor(exported))
    assert tracer is not None
    async with Engine(hooks=[tracer], header_sources=[tracer.headers_for]) as engine:
        await engine.run(program, "invoice", {"customer": "ada", "sku": "A-1", "quantity": 2})
    clients = {
        f"{span.context.span_id:016x}": span
        for span in exported.get_finished_spans()
        if span.name == "grpc"
    }
    assert clients and all(s.attributes["rpc.system"] == "grpc" for s in clients.values())
    sent = [metadata.get("traceparent", "") for _, metadata in billing_server.calls]
    assert sent and all(value.split("-")[2] in clients for value in sent), sent
