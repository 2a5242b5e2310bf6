"""``--log-format json``: every stderr line of a run as one JSON object.

For log collectors (ELK, Loki, CloudWatch): each line is a JSON object with
the same leading fields, in this order, whatever it reports::

    {"time": "2026-12-03T11:58:01.234Z", "level": "info", "run_id": "…",
     "flow": "checkout", "step": "charge", "trace_id": null,
     "message": "`charge` attempt 1: POST http://… -> 200 in 12 ms",
     "event": "step_attempt", …}

``time`` is UTC (ISO 8601, milliseconds); ``level`` is ``info``,
``warning`` or ``error``; ``step`` is the step key (``charge[3]``) or null;
``trace_id`` is the OpenTelemetry trace id when tracing is on, else null;
``event`` names what the record is (the hook event's name, ``log``,
``warning``, ``error``, ``diagnostic``, ``summary``), and a few fields of the
event follow (``attempt``, ``status``, ``elapsed_ms``, ``done``, ``total``…).

What is written: the run's id, its ``log`` lines, warnings, one record per
step attempt, retry (with its reason), failed step and loop start and end
(and a loop's progress at most once a second), the run's end with a summary,
and the final error.  A check error of the flow is one ``diagnostic`` record
each, with ``path``, ``line``, ``col``, ``code`` and ``message``.  ``-q``
keeps only the ``error`` records.  Records are built from scrubbed events and
messages, so no secret reaches them.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import IO, TYPE_CHECKING, Any, Final

from flowc.commands import messages
from flowc.commands.output import OutputOptions, RunOutput, attempt_text
from flowc.commands.runtally import RunTally, duration, reason
from flowc.runtime import hooks as events

if TYPE_CHECKING:
    from flowc.common.span import Span
    from flowc.runtime.hooks import Hook

LOOP_PROGRESS_INTERVAL: Final = 1.0
"""Seconds between two progress records of one loop."""


def timestamp(seconds: float) -> str:
    """``2026-12-03T11:58:01.234Z``: epoch seconds as UTC ISO 8601."""
    moment = datetime.datetime.fromtimestamp(seconds, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonOutput(RunOutput):
    """Writes one JSON object per line on stderr."""

    def __init__(self, options: OutputOptions, stream: IO[str] | None = None) -> None:
        super().__init__(options, stream)
        self.run_id: str | None = None
        self.tally = RunTally()
        self._loop_written: dict[tuple[int, str], float] = {}

    # ------------------------------------------------------------ writing

    def record(
        self,
        level: str,
        message: str,
        event: str,
        *,
        at: float | None = None,
        flow: str | None = None,
        step: str | None = None,
        run_id: str | None = None,
        **extra: Any,
    ) -> None:
        if self.options.quiet and level != "error":
            return
        line = {
            "time": timestamp(time.time() if at is None else at),
            "level": level,
            "run_id": run_id or self.run_id,
            "flow": flow or self.flow or None,
            "step": step,
            "trace_id": None,
            "message": message,
            "event": event,
            **extra,
        }
        self.stream.write(json.dumps(line, separators=(",", ":"), default=str) + "\n")
        self.stream.flush()

    # ------------------------------------------------------------ RunOutput

    def hooks(self) -> list[Hook]:
        return [self.tally, self._event]

    def announce(self, run_id: str) -> None:
        self.run_id = run_id
        self.record("info", messages.RUN_STARTED.format(run_id=run_id), "run_id")

    def log(self, flow: str, text: str, span: Span) -> None:
        """Nothing: the ``LogLine`` event that follows is written, with its time."""

    def warn(self, text: str) -> None:
        self.record("warning", text, "warning")

    def error(self, text: str) -> None:
        self.record("error", text, "error")

    def notice(self, text: str) -> None:
        self.record(messages.NOTICE_LEVEL, text, "outcome")

    def diagnostics(self, error: Any) -> None:
        for diagnostic in error.diagnostics:
            span = diagnostic.span
            self.record(
                diagnostic.severity,
                diagnostic.message,
                "diagnostic",
                path=span.file,
                line=span.line,
                col=span.col,
                code=diagnostic.code,
            )

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if self.tally.run_id:
                self._summary()

    # ------------------------------------------------------------ events

    def _event(self, event: events.Event) -> None:
        writer = _WRITERS.get(type(event))
        if writer is not None:
            if self.run_id is None:
                self.run_id = event.run_id
            writer(self, event)

    def _run_started(self, event: events.RunStarted) -> None:
        self.flow = event.flow
        if event.resumed or event.attempt > 1:
            text = messages.RUN_RESUMED.format(run_id=event.run_id, attempt=event.attempt)
            self.record("info", text, event.name, at=event.time, run_id=event.run_id)

    def _run_finished(self, event: events.RunFinished) -> None:
        text = messages.RUN_FINISHED.format(
            run_id=event.run_id, status=event.status, elapsed=duration(self.tally.elapsed())
        )
        self.record("info", text, event.name, at=event.time, status=event.status)

    def _attempt(self, event: events.AttemptFinished) -> None:
        failed = event.error is not None or (event.status or 0) >= 400
        self.record(
            "warning" if failed else "info",
            attempt_text(event),
            event.name,
            at=event.time,
            flow=event.flow,
            step=event.step,
            attempt=event.attempt,
            method=event.method,
            url=event.url,
            status=event.status,
            error=event.error,
            elapsed_ms=round(event.elapsed_ms, 3),
        )

    def _retrying(self, event: events.StepRetrying) -> None:
        why = reason(event.error)
        text = messages.RETRYING.format(
            step=event.step, attempt=event.attempt, delay=duration(event.delay), reason=why
        )
        self.record(
            "warning",
            text,
            event.name,
            at=event.time,
            flow=event.flow,
            step=event.step,
            attempt=event.attempt,
            delay=event.delay,
            reason=why,
        )

    def _failed(self, event: events.StepFailed) -> None:
        attempts = f"{event.attempts} attempt" + ("s" if event.attempts != 1 else "")
        text = messages.STEP_FAILED.format(
            step=event.step, attempts=attempts, reason=reason(event.error)
        )
        self.record(
            "error", text, event.name, at=event.time, flow=event.flow, step=event.step,
            attempts=event.attempts,
        )  # fmt: skip

    def _log(self, event: events.LogLine) -> None:
        self.record("info", event.message, event.name, at=event.time, flow=event.flow,
                    line=event.line)  # fmt: skip

    def _loop(self, event: events.LoopStarted | events.LoopAdvanced | events.LoopFinished) -> None:
        key = (event.invocation, event.loop)
        if isinstance(event, events.LoopStarted):
            template, done = messages.LOOP_STARTED, 0
        elif isinstance(event, events.LoopFinished):
            template, done = messages.LOOP_FINISHED, event.done
            self._loop_written.pop(key, None)
        else:
            if event.time - self._loop_written.get(key, 0.0) < LOOP_PROGRESS_INTERVAL:
                return
            template, done = messages.LOOP_PROGRESS, event.done
        if not isinstance(event, events.LoopFinished):
            self._loop_written[key] = event.time
        text = template.format(loop=event.loop, done=done, total=event.total)
        self.record("info", text, event.name, at=event.time, flow=event.flow, loop=event.loop,
                    done=done, total=event.total)  # fmt: skip

    def _summary(self) -> None:
        tally = self.tally
        elapsed = tally.elapsed()
        text = messages.SUMMARY_JSON.format(
            steps=tally.steps(), attempts=tally.attempts, elapsed=duration(elapsed)
        )
        self.record(
            "info",
            text,
            "summary",
            run_id=tally.run_id,
            status=tally.status or None,
            steps=dict(tally.outcomes),
            attempts=tally.attempts,
            retries=tally.retried,
            elapsed_ms=round(elapsed * 1000, 3),
            slowest=[{"step": key, "ms": round(took * 1000, 3)} for took, key in tally.slowest()],
        )


_WRITERS: Final[dict[type[events.Event], Callable[[JsonOutput, Any], None]]] = {
    events.RunStarted: JsonOutput._run_started,
    events.RunFinished: JsonOutput._run_finished,
    events.AttemptFinished: JsonOutput._attempt,
    events.StepRetrying: JsonOutput._retrying,
    events.StepFailed: JsonOutput._failed,
    events.LogLine: JsonOutput._log,
    events.LoopStarted: JsonOutput._loop,
    events.LoopAdvanced: JsonOutput._loop,
    events.LoopFinished: JsonOutput._loop,
}
