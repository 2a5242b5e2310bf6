"""Every text the observability sinks say to users."""

from __future__ import annotations

from typing import Final

NO_METRICS: Final = "this process keeps no metrics (install prometheus-client: flowc[serve])"
METRICS_PORT: Final = "cannot serve metrics on {host}:{port}: {reason}"
OTLP_PROTOCOL: Final = (
    "flowc: warning: OTLP protocol {protocol!r} is not supported (only http/protobuf); "
    "traces are off"
)
UNKNOWN_EXPORTER: Final = (
    "flowc: warning: OTEL_TRACES_EXPORTER={name!r} is not supported (otlp, console); traces are off"
)
NEEDS_OTEL: Final = (
    "flowc: warning: the OTEL_* variables ask for traces, but OpenTelemetry is not "
    "installed: pip install 'flowc[otel]'"
)
NEEDS_SENTRY: Final = (
    "flowc: warning: SENTRY_DSN is set, but sentry-sdk is not installed: "
    "pip install 'flowc[sentry]'"
)
BAD_DSN: Final = "flowc: warning: SENTRY_DSN is not usable ({reason}); failed runs are not reported"
SDK_WARNING: Final = "flowc: warning: traces: {message}"
