"""Error reports: a failed run becomes a Sentry event, when ``SENTRY_DSN`` is set.

``RunReporter`` is a hook that watches for ``RunFinished`` with status
*failed* and sends one event per failed run (an interrupted run is not an
error; a failed step that a fallback, ``skip`` or ``catch`` absorbed is
not one either, since the run went on).  The event's message is the run's
one-line error; its tags are the run id, the flow, the failing step and the
error kind (``status``, ``timeout``, ``connect``, ...), and its fingerprint
groups failures by flow, step and kind, so one broken service is one issue
in Sentry however many runs it fails.

Nothing else is sent: the SDK starts without its default integrations (no
logging, excepthook or thread hooks of its own), with ``send_default_pii``
off, and the event's text has already been scrubbed by the run's
``Redactor`` (``Hooks.emit``) — no input value, no secret, no response body
travels.  ``SENTRY_ENVIRONMENT`` and ``SENTRY_RELEASE`` are honoured by the
SDK as usual.  The SDK sends from a thread of its own; ``close`` flushes it.
"""

from __future__ import annotations

import os
from typing import Any, Final

import sentry_sdk

from flowc import __version__
from flowc.runtime import hooks as events

FLUSH_SECONDS: Final = 5.0


def failure_event(event: events.RunFinished) -> dict[str, Any]:
    """The Sentry event of one failed run (tags, fingerprint, the scrubbed message)."""
    error = event.error or {}
    kind = str(error.get("kind", "") or "error")
    step = str(error.get("step", "") or "")
    message = event.message or f"run {event.run_id} of flow {event.flow} failed ({kind})"
    tags = {"run_id": event.run_id, "flow": event.flow, "error_kind": kind}
    if step:
        tags["step"] = step
    return {
        "message": message,
        "level": "error",
        "logger": "flowc.run",
        "tags": tags,
        "fingerprint": ["flowc", event.flow, step, kind],
        "contexts": {
            "flowc": {
                "run_id": event.run_id,
                "flow": event.flow,
                "step": step,
                "error_kind": kind,
                "status": error.get("status", 0),
                "attempt": error.get("attempt", 0),
            }
        },
    }


class RunReporter:
    """The hook that reports failed runs."""

    def __call__(self, event: events.Event) -> None:
        if isinstance(event, events.RunFinished) and event.status == "failed":
            sentry_sdk.capture_event(failure_event(event))  # type: ignore[arg-type]

    def close(self) -> None:
        client = sentry_sdk.get_client()
        client.flush(timeout=FLUSH_SECONDS)
        client.close(timeout=FLUSH_SECONDS)


def start_reporting(dsn: str) -> RunReporter:
    sentry_sdk.init(
        dsn=dsn,
        default_integrations=False,
        auto_enabling_integrations=False,
        send_default_pii=False,
        include_local_variables=False,
        max_breadcrumbs=0,
        release=os.environ.get("SENTRY_RELEASE") or f"flowc@{__version__}",
    )
    return RunReporter()
