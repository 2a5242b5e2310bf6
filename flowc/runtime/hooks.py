"""Instrumentation hooks: typed events of a run, for every tool that watches one.

A run tells the world what it does through events.  Each event is a small
frozen class — no ad-hoc dictionaries — and the start and end of anything that
takes time come in pairs (``FlowStarted``/``FlowFinished``,
``StepStarted``/``StepFinished``, ``AttemptStarted``/``AttemptFinished``,
``CompensationStarted``/``CompensationFinished``, ``LoopStarted``/``LoopFinished``
with a ``LoopAdvanced`` per iteration between them), so a sink can measure,
nest and draw them.  Every event carries the run id; flow-level events carry
the *invocation*, a number unique within the run for each flow invocation
(the root flow is 1), and its parent's, because two concurrent calls of one
sub-flow share a flow name but must be told apart; step keys carry the call
path (``checkout/charge[3]``).

A *hook* is any callable taking an ``Event``.  ``Hooks`` fans events out to
the hooks of the engine (metrics, OpenTelemetry, a web UI) and of the run (a
``--trace`` file, a test).  Emitting costs nothing when nobody listens: call
sites test ``hooks.active`` before building an event.  A hook must be fast and
must not raise; one that raises is dropped from the run with a warning rather
than failing the flow it watches.

Events never hold secrets in clear: values are rendered by the sinks with the
value model's secret-free renderers (``values.to_json``), request URLs are
recorded without their query strings, and ``Hooks.emit`` scrubs the text of
every event with the run's ``Redactor`` (``redaction.py``) before any hook
sees it, so a server that echoes a token cannot put it in a trace.

A *header source* (``HeaderSource``) is the one way back from a sink into a
request: asked with each HTTP attempt's ``AttemptStarted``, it returns extra
headers for that attempt (OpenTelemetry's ``traceparent``, ``flowc.observe``).
The runtime knows nothing of what they mean.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias

import attrs

if TYPE_CHECKING:
    from flowc.runtime.redaction import Redactor


def _now() -> float:
    return time.time()


@attrs.frozen(slots=True, kw_only=True)
class Event:
    """Base of every event: which run, and when (seconds since the epoch)."""

    run_id: str
    time: float = attrs.field(factory=_now)

    name: ClassVar[str] = "event"


@attrs.frozen(slots=True, kw_only=True)
class RunStarted(Event):
    flow: str
    attempt: int
    resumed: bool = False
    trace_parent: str = ""
    """The W3C ``traceparent`` of whoever started the run (``flowc serve``), if any."""
    name: ClassVar[str] = "run_started"


@attrs.frozen(slots=True, kw_only=True)
class RunFinished(Event):
    """The end of a run: ``status`` is completed, failed or interrupted."""

    flow: str
    status: str
    result: Any = None
    error: dict[str, object] | None = None
    message: str = ""
    name: ClassVar[str] = "run_finished"


@attrs.frozen(slots=True, kw_only=True)
class FlowStarted(Event):
    flow: str
    invocation: int
    parent: int | None
    call_path: str
    name: ClassVar[str] = "flow_started"


@attrs.frozen(slots=True, kw_only=True)
class FlowFinished(Event):
    flow: str
    invocation: int
    call_path: str
    error: dict[str, object] | None = None
    name: ClassVar[str] = "flow_finished"


@attrs.frozen(slots=True, kw_only=True)
class StepStarted(Event):
    flow: str
    invocation: int
    step: str
    method: str  # an HTTP method, or CALL for a sub-flow call
    replayed: bool = False
    name: ClassVar[str] = "step_started"


@attrs.frozen(slots=True, kw_only=True)
class StepFinished(Event):
    """A step's outcome: completed, failed, skipped, fallback or replayed."""

    flow: str
    invocation: int
    step: str
    outcome: str
    status: int = 0
    attempts: int = 0
    error: dict[str, object] | None = None
    name: ClassVar[str] = "step_finished"


@attrs.frozen(slots=True, kw_only=True)
class AttemptStarted(Event):
    flow: str
    invocation: int
    step: str
    attempt: int
    method: str
    url: str  # without its query string
    service: str = ""
    name: ClassVar[str] = "attempt_started"


@attrs.frozen(slots=True, kw_only=True)
class AttemptFinished(Event):
    """One try of a step: ``status`` when a response came, else ``error`` (a kind)."""

    flow: str
    invocation: int
    step: str
    attempt: int
    method: str
    url: str
    status: int | None
    error: str | None
    elapsed_ms: float
    service: str = ""
    name: ClassVar[str] = "step_attempt"


@attrs.frozen(slots=True, kw_only=True)
class StepRetrying(Event):
    flow: str
    invocation: int
    step: str
    attempt: int
    delay: float
    error: dict[str, object]
    name: ClassVar[str] = "step_retry"


@attrs.frozen(slots=True, kw_only=True)
class StepFailed(Event):
    """A step's final failure, before fallback or skip decide what it becomes."""

    flow: str
    invocation: int
    step: str
    attempts: int
    error: dict[str, object]
    name: ClassVar[str] = "step_failed"


@attrs.frozen(slots=True, kw_only=True)
class BlockRetrying(Event):
    flow: str
    invocation: int
    attempt: int
    error: dict[str, object]
    name: ClassVar[str] = "block_retry"


@attrs.frozen(slots=True, kw_only=True)
class Caught(Event):
    flow: str
    invocation: int
    error: dict[str, object]
    name: ClassVar[str] = "caught"


@attrs.frozen(slots=True, kw_only=True)
class CompensationStarted(Event):
    flow: str
    invocation: int
    step: str  # the step whose compensation this is
    cause: str  # the error kind that made the flow compensate, or "interrupted"
    name: ClassVar[str] = "compensation_started"


@attrs.frozen(slots=True, kw_only=True)
class CompensationFinished(Event):
    """``outcome``: ran, failed (``detail`` says why) or abandoned (a second interrupt)."""

    flow: str
    invocation: int
    step: str
    outcome: str
    detail: str = ""
    name: ClassVar[str] = "compensation_finished"


@attrs.frozen(slots=True, kw_only=True)
class Slept(Event):
    """A ``sleep`` statement: how long it waited (less than asked after a resume)."""

    flow: str
    invocation: int
    site: str
    seconds: float
    name: ClassVar[str] = "sleep"


@attrs.frozen(slots=True, kw_only=True)
class LoopStarted(Event):
    """A ``for`` loop over ``total`` items.  ``loop`` names this execution of it
    within its flow invocation: ``for@12`` for the loop on line 12, with the
    indices of the iterations around it (``for@12[3]``)."""

    flow: str
    invocation: int
    loop: str
    total: int
    parallel: bool
    name: ClassVar[str] = "loop_started"


@attrs.frozen(slots=True, kw_only=True)
class LoopAdvanced(Event):
    """One more iteration of a ``for`` loop ended: ``done`` of ``total``."""

    flow: str
    invocation: int
    loop: str
    done: int
    total: int
    name: ClassVar[str] = "loop_progress"


@attrs.frozen(slots=True, kw_only=True)
class LoopFinished(Event):
    """The end of a ``for`` loop, also by ``break``, ``return`` or a failure."""

    flow: str
    invocation: int
    loop: str
    done: int
    total: int
    name: ClassVar[str] = "loop_finished"


@attrs.frozen(slots=True, kw_only=True)
class LogLine(Event):
    flow: str
    message: str
    line: int
    name: ClassVar[str] = "log"


@attrs.frozen(slots=True, kw_only=True)
class Warned(Event):
    message: str
    name: ClassVar[str] = "warning"


Hook: TypeAlias = Callable[[Event], None]

HeaderSource: TypeAlias = Callable[[AttemptStarted], Sequence[tuple[str, str]]]
"""Extra headers for one HTTP attempt (a trace context's ``traceparent``), asked
right after its ``AttemptStarted`` was emitted; the request is sent with them."""


class Hooks:
    """The hooks one run reports to: the engine's and the run's own."""

    __slots__ = ("active", "header_sources", "hooks", "redactor")

    def __init__(
        self,
        hooks: Iterable[Hook] = (),
        redactor: Redactor | None = None,
        header_sources: Iterable[HeaderSource] = (),
    ) -> None:
        self.hooks: list[Hook] = list(hooks)
        self.active = bool(self.hooks)
        self.redactor = redactor
        self.header_sources: list[HeaderSource] = list(header_sources)

    def outgoing_headers(self, attempt: AttemptStarted) -> tuple[tuple[str, str], ...]:
        """The extra headers the header sources give ``attempt`` (usually none)."""
        extra: list[tuple[str, str]] = []
        for source in self.header_sources:
            try:
                extra.extend(source(attempt))
            except Exception:  # a broken propagator must not fail the step it decorates
                continue
        return tuple(extra)

    def add(self, hook: Hook) -> None:
        self.hooks.append(hook)
        self.active = True

    def emit(self, event: Event) -> None:
        if self.redactor is not None:
            event = self.redactor.redact_event(event)
        for hook in list(self.hooks):
            try:
                hook(event)
            except Exception as error:  # a broken sink must not fail the flow it watches
                self.hooks.remove(hook)
                self.active = bool(self.hooks)
                print(
                    f"flowc: warning: an event hook failed and was removed: "
                    f"{type(error).__name__}: {error}",
                    file=sys.stderr,
                    flush=True,
                )


def event_fields(event: Event) -> dict[str, Any]:
    """An event's fields by name (its class's ``name`` not included)."""
    return {field.name: getattr(event, field.name) for field in attrs.fields(type(event))}
