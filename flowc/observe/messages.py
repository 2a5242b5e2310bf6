"""Every text the observability sinks say to users."""

from __future__ import annotations

from typing import Final

NO_METRICS: Final = "this process keeps no metrics (install prometheus-client: flowc[serve])"
METRICS_PORT: Final = "cannot serve metrics on {host}:{port}: {reason}"
