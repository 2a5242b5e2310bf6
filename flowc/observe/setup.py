"""Which observability sinks a process wants, read from its options and environment.

``observed_engine`` is what ``flowc serve``, ``flowc worker`` and ``flowc run``
call before they open an engine.  It builds

- the Prometheus sink when asked (``serve`` always, ``worker`` with
  ``--metrics-port``), if prometheus-client is installed;
- the OpenTelemetry sink when ``OTEL_EXPORTER_OTLP_ENDPOINT``,
  ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` or ``OTEL_TRACES_EXPORTER`` (other
  than ``none``) is set and ``OTEL_SDK_DISABLED`` is not ``true``;
- the Sentry sink when ``SENTRY_DSN`` is set,

and imports nothing at all when none of them is wanted, so start-up does
not grow.  ``Observed`` hands the engine its hooks and header sources,
watches the engine for the gauges, serves the worker's ``/metrics`` and
flushes the exporters at the end.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Final

import attrs

from flowc.observe import messages
from flowc.runtime.hooks import HeaderSource, Hook

if TYPE_CHECKING:
    from flowc.observe.metrics import FlowMetrics
    from flowc.runtime.engine import Engine

REFRESH_SECONDS: Final = 5.0
"""How often a worker counts the queue for its gauges (``serve`` counts per scrape)."""


class MetricsPortError(Exception):
    """The metrics endpoint cannot listen where it was asked (one line for the user)."""


@attrs.define
class Observed:
    hooks: list[Hook] = attrs.field(factory=list)
    header_sources: list[HeaderSource] = attrs.field(factory=list)
    metrics: FlowMetrics | None = None
    closers: list[Callable[[], None]] = attrs.field(factory=list)

    def watch(self, engine: Engine) -> None:
        if self.metrics is not None:
            self.metrics.watch(engine.service_states, lambda: len(engine.active), engine.store)

    def serve_metrics(self, host: str, port: int) -> int:
        """Serve ``/metrics`` on a thread of its own; the port it listens on."""
        if self.metrics is None:
            raise MetricsPortError(messages.NO_METRICS)
        from flowc.observe.metrics import start_metrics_server

        try:
            bound, stop = start_metrics_server(self.metrics, host, port)
        except OSError as error:
            text = messages.METRICS_PORT.format(host=host, port=port, reason=error.strerror)
            raise MetricsPortError(text) from None
        self.closers.append(stop)
        return bound

    async def refresh_loop(self) -> None:
        import trio

        if self.metrics is None:
            return
        while True:
            await self.metrics.refresh()
            await trio.sleep(REFRESH_SECONDS)

    def close(self) -> None:
        """Flush and stop every exporter (spans still buffered are sent now)."""
        for close in reversed(self.closers):
            try:
                close()
            except Exception:  # an exporter that cannot flush must not change the exit
                continue
        self.closers.clear()


def tracing_wanted(environ: Mapping[str, str]) -> bool:
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def observed_engine(*, metrics: bool, environ: Mapping[str, str] | None = None) -> Observed:
    environ = os.environ if environ is None else environ
    observed = Observed()
    if metrics:
        try:
            from flowc.observe.metrics import FlowMetrics
        except ModuleNotFoundError:
            pass  # the endpoint says how to install it
        else:
            observed.metrics = FlowMetrics()
            observed.hooks.append(observed.metrics)
    if tracing_wanted(environ):
        _add_tracing(observed)
    dsn = environ.get("SENTRY_DSN", "").strip()
    if dsn:
        _add_sentry(observed, dsn)
    return observed


def _add_tracing(observed: Observed) -> None:
    try:
        from flowc.observe.otel import start_tracing
    except ModuleNotFoundError:
        print(messages.NEEDS_OTEL, file=sys.stderr, flush=True)
        return
    tracer = start_tracing()
    if tracer is None:
        return
    observed.hooks.append(tracer)
    observed.header_sources.append(tracer.headers_for)
    observed.closers.append(tracer.close)


def _add_sentry(observed: Observed, dsn: str) -> None:
    try:
        from flowc.observe.sentry import start_reporting
    except ModuleNotFoundError:
        print(messages.NEEDS_SENTRY, file=sys.stderr, flush=True)
        return
    try:
        reporter = start_reporting(dsn)
    except Exception as error:  # sentry-sdk's BadDsn and kin: say so, run without reports
        print(messages.BAD_DSN.format(reason=error), file=sys.stderr, flush=True)
        return
    observed.hooks.append(reporter)
    observed.closers.append(reporter.close)
