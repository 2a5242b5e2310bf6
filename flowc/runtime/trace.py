"""The trace file: a run's events as JSON lines (``flowc run --trace FILE``).

``JsonLinesSink`` is one hook among others (``runtime.hooks``): it writes each
event as one JSON object per line, ``{"event": <name>, "run": <id>, "time":
<epoch seconds>, ...fields}``.  Values are rendered with ``values.to_json``,
which never reveals a secret (a ``Secret`` becomes ``"***redacted***"``);
request headers are not in any event at all.
"""

from __future__ import annotations

import json
from typing import IO, Any

from flowc.common.values import to_json
from flowc.runtime.hooks import Event, event_fields

_RENAMED = {"run_id": "run"}


class JsonLinesSink:
    """Writes each event as one line of JSON."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def __call__(self, event: Event) -> None:
        self.stream.write(json.dumps(event_record(event), separators=(",", ":")) + "\n")
        self.stream.flush()


def event_record(event: Event) -> dict[str, Any]:
    """An event as a JSON-compatible, secret-free dictionary."""
    record: dict[str, Any] = {"event": event.name}
    for name, value in event_fields(event).items():
        record[_RENAMED.get(name, name)] = _safe(value)
    record["time"] = round(event.time, 6)
    return record


def _safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    try:
        return to_json(value)
    except Exception:
        return repr(type(value).__name__)
