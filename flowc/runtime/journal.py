"""The run journal and the trace: what happened in a run, step by step.

Two consumers want to know what a run did, for different reasons:

* the **journal** keeps each step's *outcome* (keyed by the step's stable
  name, with loop indices: ``fetch[3]``) and the non-deterministic values the
  run observed (``now()``, ``uuid()``), so that a resumed run can replay them
  instead of sending requests again (LANGUAGE.md §7).  ``Journal`` is the
  interface; ``MemoryJournal`` keeps everything in memory for one process.
  Durable stores (SQLite, PostgreSQL) implement the same interface.
* the **trace** is a stream of events — run and flow start and end, every
  step attempt, logs, compensations — for people and tools.  ``Tracer`` fans
  events out to sinks; ``JsonLinesSink`` writes one JSON object per line
  (``flowc run --trace FILE``).

Secrets never reach either: event payloads are rendered with
``values.to_json`` without revealing secrets, so a ``Secret`` becomes
``"***redacted***"``; request headers are not recorded at all.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import IO, Any, Protocol

import attrs

from flowc.common.values import to_json


@attrs.define
class StepOutcome:
    """The journaled result of one step (after all its attempts)."""

    key: str
    flow: str
    ok: bool
    attempts: int
    value: Any  # the step value record
    error: dict[str, object] | None = None


class Journal(Protocol):
    def step_completed(self, run_id: str, outcome: StepOutcome) -> None: ...

    def completed_step(self, run_id: str, key: str) -> StepOutcome | None: ...

    def record_effect(self, run_id: str, kind: str, value: str) -> None: ...

    def replay_effect(self, run_id: str, kind: str, index: int) -> str | None: ...


class MemoryJournal:
    """A journal that lives as long as the process."""

    def __init__(self) -> None:
        self.steps: dict[tuple[str, str], StepOutcome] = {}
        self.effects: dict[tuple[str, str], list[str]] = {}

    def step_completed(self, run_id: str, outcome: StepOutcome) -> None:
        self.steps[(run_id, outcome.key)] = outcome

    def completed_step(self, run_id: str, key: str) -> StepOutcome | None:
        return self.steps.get((run_id, key))

    def record_effect(self, run_id: str, kind: str, value: str) -> None:
        self.effects.setdefault((run_id, kind), []).append(value)

    def replay_effect(self, run_id: str, kind: str, index: int) -> str | None:
        recorded = self.effects.get((run_id, kind), [])
        return recorded[index] if index < len(recorded) else None


# --------------------------------------------------------------------------- trace


Sink = Callable[[dict[str, Any]], None]


class Tracer:
    """Sends trace events to every registered sink."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.sinks: list[Sink] = []
        self.started = time.time()

    @property
    def active(self) -> bool:
        return bool(self.sinks)

    def emit(self, event: str, **fields: Any) -> None:
        if not self.sinks:
            return
        record = {"event": event, "run": self.run_id, "time": round(time.time(), 6)}
        record.update({key: _safe(value) for key, value in fields.items()})
        for sink in self.sinks:
            sink(record)


def _safe(value: Any) -> Any:
    """A JSON-compatible, secret-free rendering of a trace field."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    try:
        return to_json(value)
    except Exception:
        return repr(type(value).__name__)


class JsonLinesSink:
    """Writes each event as one line of JSON."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def __call__(self, record: dict[str, Any]) -> None:
        self.stream.write(json.dumps(record, separators=(",", ":"), default=str) + "\n")
        self.stream.flush()
