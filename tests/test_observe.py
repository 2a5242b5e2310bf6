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
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.cli_process import ROOT, child_environment
from tests.http_fixtures import DemoServer

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

flow outer(name: string) -> string {
    step inner = call greet(name: name)
    return inner.body
}

flow greet(name: string) -> string {
    step ping = GET demo "/delay/1"
    return "hi, ${name}"
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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Served:
    def __init__(self, url: str, process: subprocess.Popen[bytes], log: Path) -> None:
        self.url = url
        self.process = process
        self.log = log
        self.client = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30, trust_env=False
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

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


def start_serve(root: Path, demo: str, extra_env: dict[str, str]) -> Served:
    (root / "flows.flow").write_text(FLOWS)
    (root / "tokens").write_text(f"{TOKEN}\n")
    port = _free_port()
    log = root / "serve.log"
    environment = child_environment({"FLOWC_DEMO_URL": demo, **extra_env})
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "flowc.cli", "serve", str(root / "flows.flow"),
             "--store", f"sqlite:///{root / 'runs.db'}", "--port", str(port),
             "--token-file", str(root / "tokens"), "--grace", "1"],
            stdout=sink, stderr=subprocess.STDOUT, env=environment, cwd=ROOT,
        )  # fmt: skip
    served = Served(f"http://127.0.0.1:{port}", process, log)
    deadline = time.monotonic() + 60
    while True:
        try:
            if served.client.get("/healthz").status_code == 200:
                return served
        except httpx.TransportError:
            pass
        assert process.poll() is None, served.output()
        assert time.monotonic() < deadline, served.output()
        time.sleep(0.1)


def stop_serve(served: Served) -> None:
    served.process.terminate()
    served.process.wait(timeout=30)
    served.client.close()


@pytest.fixture(scope="module")
def served(demo_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    started = start_serve(tmp_path_factory.mktemp("observe"), demo_server, {})
    yield started
    stop_serve(started)


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
