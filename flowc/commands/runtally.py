"""What a run is doing and has done, kept from its events for the terminal.

``RunTally`` is a hook (``runtime/hooks.py``) that folds the events of a run
into the little the progress display and the summary need: the steps in
flight (with their attempt, start time and the reason of a pending retry),
the ``for`` loops running (``done/total``), the last few retries, counters
of steps by outcome, attempts and retries, and each finished step's time.

Folding an event is a few dictionary operations, so a 10,000-item loop costs
little; drawing is somebody else's business (``progress.py`` draws at most
ten times a second, whatever the rate of events).  Step keys are unique
within a run except across sub-flow invocations, so steps in flight are
keyed by invocation and key.

The texts here (durations, error reasons) are built from scrubbed events:
``Hooks.emit`` redacted every secret before the tally sees them.
"""

from __future__ import annotations

import collections
import heapq
import time
from collections.abc import Callable
from typing import Any, Final

import attrs

from flowc.runtime import hooks as events

RECENT_RETRIES: Final = 4
SLOWEST: Final = 5


def duration(seconds: float) -> str:
    """``12 ms``, ``1.24 s``, ``2 m 05 s``: a duration for people."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} m {rest:02d} s"


def reason(error: dict[str, object] | None) -> str:
    """An error record as ``kind: message`` (``http_status: HTTP 503 ...``)."""
    if not error:
        return ""
    kind, message = error.get("kind", "error"), error.get("message", "")
    return f"{kind}: {message}" if message else str(kind)


@attrs.define(slots=True)
class InFlight:
    """One step that started and has not finished."""

    key: str
    method: str
    started: float
    attempt: int = 0
    retry: str = ""  # why it is waiting to try again, if it is


@attrs.define(slots=True)
class LoopState:
    loop: str
    done: int
    total: int


@attrs.define(slots=True)
class Retry:
    step: str
    attempt: int
    reason: str


@attrs.define
class RunTally:
    """A hook: the state of one run, for drawing it and summing it up."""

    flow: str = ""
    run_id: str = ""
    status: str = ""
    began: float = attrs.field(factory=time.time)
    ended: float | None = None
    in_flight: dict[tuple[int, str], InFlight] = attrs.field(factory=dict)
    loops: dict[tuple[int, str], LoopState] = attrs.field(factory=dict)
    finished_loops: list[LoopState] = attrs.field(factory=list)
    retries: collections.deque[Retry] = attrs.field(
        factory=lambda: collections.deque(maxlen=RECENT_RETRIES)
    )
    outcomes: collections.Counter[str] = attrs.field(factory=collections.Counter)
    attempts: int = 0
    retried: int = 0
    times: list[tuple[float, str]] = attrs.field(factory=list)

    def __call__(self, event: events.Event) -> None:
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    # ------------------------------------------------------------ folding

    def _run_started(self, event: events.RunStarted) -> None:
        self.flow, self.run_id, self.began = event.flow, event.run_id, event.time

    def _run_finished(self, event: events.RunFinished) -> None:
        self.status, self.ended = event.status, event.time

    def _step_started(self, event: events.StepStarted) -> None:
        if not event.replayed:
            self.in_flight[event.invocation, event.step] = InFlight(
                event.step, event.method, event.time
            )

    def _attempt_started(self, event: events.AttemptStarted) -> None:
        step = self.in_flight.get((event.invocation, event.step))
        if step is not None:
            step.attempt, step.retry = event.attempt, ""

    def _attempt_finished(self, event: events.AttemptFinished) -> None:
        self.attempts += 1

    def _retrying(self, event: events.StepRetrying) -> None:
        self.retried += 1
        why = reason(event.error)
        self.retries.append(Retry(event.step, event.attempt, why))
        step = self.in_flight.get((event.invocation, event.step))
        if step is not None:
            step.retry = f"{why} (in {duration(event.delay)})"

    def _step_finished(self, event: events.StepFinished) -> None:
        self.outcomes[event.outcome] += 1
        step = self.in_flight.pop((event.invocation, event.step), None)
        if step is not None:
            self.times.append((event.time - step.started, event.step))

    def _loop_started(self, event: events.LoopStarted) -> None:
        self.loops[event.invocation, event.loop] = LoopState(event.loop, 0, event.total)

    def _loop_advanced(self, event: events.LoopAdvanced) -> None:
        loop = self.loops.get((event.invocation, event.loop))
        if loop is not None:
            loop.done = event.done

    def _loop_finished(self, event: events.LoopFinished) -> None:
        loop = self.loops.pop((event.invocation, event.loop), None)
        if loop is not None:
            loop.done = event.done
            self.finished_loops.append(loop)

    # ------------------------------------------------------------ reading

    def elapsed(self, now: float | None = None) -> float:
        end = self.ended if self.ended is not None else time.time() if now is None else now
        return max(0.0, end - self.began)

    def steps(self) -> int:
        return sum(self.outcomes.values())

    def slowest(self, count: int = SLOWEST) -> list[tuple[float, str]]:
        return heapq.nlargest(count, self.times)

    def outcome_counts(self) -> str:
        """``3 completed, 1 failed``, in a fixed order."""
        order = ("completed", "fallback", "skipped", "failed", "replayed")
        known = [f"{self.outcomes[o]} {o}" for o in order if self.outcomes[o]]
        other = [f"{n} {o}" for o, n in sorted(self.outcomes.items()) if o not in order]
        return ", ".join(known + other)


_HANDLERS: Final[dict[type[events.Event], Callable[[RunTally, Any], None]]] = {
    events.RunStarted: RunTally._run_started,
    events.RunFinished: RunTally._run_finished,
    events.StepStarted: RunTally._step_started,
    events.AttemptStarted: RunTally._attempt_started,
    events.AttemptFinished: RunTally._attempt_finished,
    events.StepRetrying: RunTally._retrying,
    events.StepFinished: RunTally._step_finished,
    events.LoopStarted: RunTally._loop_started,
    events.LoopAdvanced: RunTally._loop_advanced,
    events.LoopFinished: RunTally._loop_finished,
}
