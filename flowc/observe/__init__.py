"""Observability sinks of the instrumentation hooks: metrics, traces, error reports.

Each module here turns the typed events of ``runtime.hooks`` into what an
operator's tools read, and imports its library only when asked to:

- ``metrics``: Prometheus counters, histograms and gauges, scraped at
  ``/metrics`` of ``flowc serve`` and of ``flowc worker --metrics-port``;
- ``otel``: OpenTelemetry spans per run, step and HTTP attempt, exported by
  OTLP when the standard ``OTEL_*`` variables ask for it, and the W3C
  ``traceparent`` of every outgoing request (a ``HeaderSource``);
- ``sentry``: an event per failed run, when ``SENTRY_DSN`` is set.

``setup`` (``observe/setup.py``) reads the environment and builds the sinks a
process wants; with none of the variables set it imports nothing.  The package
sits above the runtime and below the commands and the server.
"""
