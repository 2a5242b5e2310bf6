"""Prometheus metrics: a sink of the instrumentation hooks, scraped at ``/metrics``.

``FlowMetrics`` is an engine-wide hook (``runtime.hooks``).  Counters and
histograms are updated as events arrive; the gauges that describe a moment
(runs in flight, parked, queued, the queue's lag, each circuit breaker) are
read when Prometheus scrapes: ``refresh`` asks the store for the queue, and
the engine's own state answers the rest.  Every metric lives in the sink's own
``CollectorRegistry``, so two engines in one process (or two tests) never
share counts.

Labels stay few and bounded, as Prometheus wants: a step is named by its call
path without loop indices or retry suffixes (``checkout/charge``, never
``checkout/charge[3]``), an attempt's outcome is its status class (``2xx``,
``5xx``) or its error kind (``timeout``, ``connect``), and run ids never
appear.  No value of a flow is ever a label, so no secret can be one.

========================================  =========  ==============================
metric                                    type       labels
========================================  =========  ==============================
``flowc_runs_started_total``              counter    flow
``flowc_runs_finished_total``             counter    flow, status
``flowc_run_duration_seconds``            histogram  flow, status
``flowc_step_attempts_total``             counter    flow, step, service, outcome
``flowc_step_duration_seconds``           histogram  flow, step, outcome
``flowc_step_retries_total``              counter    flow, step
``flowc_circuit_breaker_state``           gauge      service (0 closed, 1 half-open,
                                                     2 open)
``flowc_runs_in_flight``                  gauge
``flowc_runs_parked``                     gauge      (in a durable ``sleep``)
``flowc_runs_queued``                     gauge
``flowc_queue_lag_seconds``               gauge      (age of the oldest queued run)
========================================  =========  ==============================
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Final

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

from flowc.runtime import hooks as events
from flowc.runtime.store import AsyncStore, RunQuery, RunStatus, StoreError

if TYPE_CHECKING:
    from flowc.runtime.services import ServiceState

CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
QUEUE_SCAN: Final = 10_000
"""Most queued runs a scrape reads to count the queue and find its oldest run."""
BREAKER_STATES: Final = {"closed": 0.0, "half_open": 1.0, "open": 2.0}
STEP_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
RUN_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
_INDICES: Final = re.compile(r"\[[^\]]*\]|~\d+")


def step_label(key: str) -> str:
    """A step key without loop indices and retry suffixes (bounded label values)."""
    return _INDICES.sub("", key) if "[" in key or "~" in key else key


def attempt_outcome(status: int | None, error: str | None) -> str:
    if error:
        return error
    return f"{(status or 0) // 100}xx"


class _Moment(Collector):
    """The gauges read at scrape time: breakers, runs in flight and parked."""

    def __init__(self, sink: FlowMetrics) -> None:
        self.sink = sink

    def collect(self) -> Iterator[Metric]:
        sink = self.sink
        breakers = GaugeMetricFamily(
            "flowc_circuit_breaker_state",
            "Circuit breaker state per service: 0 closed, 1 half-open, 2 open.",
            labels=["service"],
        )
        for state in sink.services():
            if state.breaker is not None:
                breakers.add_metric([state.ir.name], BREAKER_STATES.get(state.breaker.state, 0.0))
        yield breakers
        yield GaugeMetricFamily(
            "flowc_runs_in_flight", "Runs this process executes now.", value=sink.in_flight()
        )
        now = time.time()
        parked = sum(1 for wake in sink.sleeping.values() if wake > now)
        yield GaugeMetricFamily(
            "flowc_runs_parked", "Runs of this process waiting in a durable sleep.", value=parked
        )


class FlowMetrics:
    """The hook that counts what runs do, and the registry Prometheus scrapes."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.runs_started = Counter(
            "flowc_runs_started", "Runs started (resumes included).", ["flow"], registry=r
        )
        self.runs_finished = Counter(
            "flowc_runs_finished",
            "Runs ended: completed, failed or interrupted.",
            ["flow", "status"],
            registry=r,
        )
        self.run_seconds = Histogram(
            "flowc_run_duration_seconds",
            "Run latency, from its start (or resume) to its end.",
            ["flow", "status"],
            buckets=RUN_BUCKETS,
            registry=r,
        )
        self.attempts = Counter(
            "flowc_step_attempts",
            "Step attempts (HTTP and gRPC requests) by outcome: status class or error kind.",
            ["flow", "step", "service", "outcome"],
            registry=r,
        )
        self.step_seconds = Histogram(
            "flowc_step_duration_seconds",
            "Step latency, retries and their waits included.",
            ["flow", "step", "outcome"],
            buckets=STEP_BUCKETS,
            registry=r,
        )
        self.retries = Counter(
            "flowc_step_retries", "Retries of a step after a failed attempt.", ["flow", "step"],
            registry=r,
        )  # fmt: skip
        self.queued = Gauge("flowc_runs_queued", "Runs waiting for a worker.", registry=r)
        self.queue_lag = Gauge(
            "flowc_queue_lag_seconds", "Age of the oldest queued run.", registry=r
        )
        self.services: Callable[[], list[ServiceState]] = list
        self.in_flight: Callable[[], int] = lambda: len(self._runs)
        self.store: AsyncStore | None = None
        self.sleeping: dict[str, float] = {}
        self._runs: dict[str, float] = {}
        self._steps: dict[tuple[str, int, str], float] = {}
        self._children: dict[tuple[object, ...], Any] = {}
        r.register(_Moment(self))

    def _child(self, metric: Counter | Histogram, *labels: str) -> Any:
        """``metric.labels(*labels)``, remembered: the library's lookup is the hot cost."""
        key = (id(metric), *labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def watch(
        self,
        services: Callable[[], list[ServiceState]],
        in_flight: Callable[[], int],
        store: AsyncStore | None,
    ) -> None:
        """Read the breakers, the runs in flight and the queue from these at scrape time."""
        self.services, self.in_flight, self.store = services, in_flight, store

    # ------------------------------------------------------------ the hook

    def __call__(self, event: events.Event) -> None:
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def _run_started(self, event: events.RunStarted) -> None:
        self._child(self.runs_started, event.flow).inc()
        self._runs[event.run_id] = event.time

    def _run_finished(self, event: events.RunFinished) -> None:
        self._child(self.runs_finished, event.flow, event.status).inc()
        started = self._runs.pop(event.run_id, None)
        self.sleeping.pop(event.run_id, None)
        if started is not None:
            self._child(self.run_seconds, event.flow, event.status).observe(event.time - started)

    def _step_started(self, event: events.StepStarted) -> None:
        if not event.replayed:
            self._steps[(event.run_id, event.invocation, event.step)] = event.time

    def _step_finished(self, event: events.StepFinished) -> None:
        started = self._steps.pop((event.run_id, event.invocation, event.step), None)
        if started is not None:
            label = step_label(event.step)
            self.step_seconds.labels(event.flow, label, event.outcome).observe(event.time - started)

    def _attempt(self, event: events.AttemptFinished) -> None:
        outcome = attempt_outcome(event.status, event.error)
        self._child(self.attempts, event.flow, step_label(event.step), event.service, outcome).inc()

    def _retry(self, event: events.StepRetrying) -> None:
        self._child(self.retries, event.flow, step_label(event.step)).inc()

    def _slept(self, event: events.Slept) -> None:
        self.sleeping[event.run_id] = event.time + event.seconds

    # ------------------------------------------------------------ scraping

    async def refresh(self) -> None:
        """Count the queue in the store (at most ``QUEUE_SCAN`` runs are read)."""
        if self.store is None:
            return
        try:
            queued = await self.store.list_runs(
                RunQuery(status=RunStatus.QUEUED.value, limit=QUEUE_SCAN)
            )
        except StoreError:
            return  # the gauges keep their last values; the store's trouble is logged elsewhere
        self.queued.set(len(queued))
        oldest = min((record.created_at for record in queued), default=None)
        self.queue_lag.set(0.0 if oldest is None else max(0.0, time.time() - oldest))

    def render(self) -> bytes:
        return generate_latest(self.registry)


_HANDLERS: Final[dict[type[events.Event], Callable[[FlowMetrics, events.Event], None]]] = {
    events.RunStarted: FlowMetrics._run_started,  # type: ignore[dict-item]
    events.RunFinished: FlowMetrics._run_finished,  # type: ignore[dict-item]
    events.StepStarted: FlowMetrics._step_started,  # type: ignore[dict-item]
    events.StepFinished: FlowMetrics._step_finished,  # type: ignore[dict-item]
    events.AttemptFinished: FlowMetrics._attempt,  # type: ignore[dict-item]
    events.StepRetrying: FlowMetrics._retry,  # type: ignore[dict-item]
    events.Slept: FlowMetrics._slept,  # type: ignore[dict-item]
}


def start_metrics_server(sink: FlowMetrics, host: str, port: int) -> tuple[int, Callable[[], None]]:
    """Serve the sink's registry at ``http://host:port/metrics`` (a daemon thread);
    the port bound (``port`` 0 picks one) and a function that stops it."""
    server, thread = start_http_server(port, host, registry=sink.registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return int(server.server_address[1]), stop
