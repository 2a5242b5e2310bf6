"""A run: what every flow invocation of one run shares.

The engine (``engine.py``) owns what outlives a run; a ``Run`` owns what one
run needs while it executes: its id and attempt number, the program, its
journal (replay and recording, ``journal.py``), the hooks it reports to, the
execution options, and the record of what its compensations did.  Each flow
invocation in it (the root flow, every sub-flow call) is an
``executor.FlowInvocation`` holding a frame and a compensation stack; they
find everything else here.

The engine drives a run (``engine.execute_run``): it installs the
journaling effects (so ``now()``, ``uuid()`` and ``env()`` are recorded and
replayed by site), emits ``RunStarted`` and ``RunFinished``, and reports a
cancellation (Ctrl-C, SIGTERM, a cancel request) as an interrupted run after
the compensations ran.

Secrets.  ``redactor`` (``redaction.py``) learns the text of every secret the
run handles; the run's log lines, warnings and events (``hooks``) are
scrubbed with it on their way out.

Interrupts.  A run is cancelled through trio's cancellation; the
compensations of completed steps then run shielded from it.  A second
interrupt (``abort_compensations``) cancels those shielded scopes too, so a
compensation that hangs cannot keep the process alive; ``compensations``
lists what ran, what failed and what was abandoned, for the final message.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs
import trio

from flowc.common.span import Span
from flowc.compiler import ir
from flowc.runtime import hooks as events
from flowc.runtime.hooks import Hooks
from flowc.runtime.journal import RunJournal
from flowc.runtime.redaction import Redactor

if TYPE_CHECKING:
    from flowc.runtime.engine import Engine
    from flowc.runtime.http import HttpInvoker
    from flowc.runtime.services import ServiceState

LogSink = Callable[[str, str, Span], None]
"""Where a run's ``log`` lines go: given the flow, the (scrubbed) text and its place."""
WarnSink = Callable[[str], None]
"""Where a run's warnings go (a compensation that failed), scrubbed."""


def stderr_log(flow: str, text: str, span: Span) -> None:
    print(f"[{flow}] {text}", file=sys.stderr, flush=True)


def stderr_warning(text: str) -> None:
    print(f"flowc: warning: {text}", file=sys.stderr, flush=True)


@attrs.define
class CompensationOutcome:
    """What one compensation did: ran, failed (with why) or abandoned."""

    flow: str
    step: str
    outcome: str
    detail: str = ""


class Run:
    def __init__(
        self,
        engine: Engine,
        program: ir.ProgramIR,
        run_id: str,
        journal: RunJournal,
        hooks: Hooks,
        *,
        sequential: bool = False,
        attempt: int = 1,
        log: LogSink = stderr_log,
        warn: WarnSink = stderr_warning,
        redactor: Redactor | None = None,
    ) -> None:
        self.engine = engine
        self.program = program
        self.run_id = run_id
        self.journal = journal
        self.redactor = Redactor() if redactor is None else redactor
        self.hooks = hooks
        hooks.redactor = self.redactor
        self.sequential = sequential
        self.attempt = attempt
        self._log = log
        self._warn = warn
        self.invocations = 0
        self.sites: dict[int, dict[int, int]] = {}  # id(FlowIR) -> its node numbers
        self.compensations: list[CompensationOutcome] = []
        self._compensation_scopes: set[trio.CancelScope] = set()
        self.aborting = False

    @property
    def durable(self) -> bool:
        return self.journal.durable

    @property
    def invoker(self) -> HttpInvoker:
        return self.engine.invoker

    def service_state(self, service: ir.ServiceIR) -> ServiceState:
        return self.engine.service_state(service)

    def next_invocation(self) -> int:
        self.invocations += 1
        return self.invocations

    # ------------------------------------------------------------ reporting

    def log(self, flow: str, text: str, span: Span) -> None:
        text = self.redactor.redact(text)
        self._log(flow, text, span)
        if self.hooks.active:
            self.hooks.emit(
                events.LogLine(run_id=self.run_id, flow=flow, message=text, line=span.line)
            )

    def report(self, text: str) -> None:
        text = self.redactor.redact(text)
        self._warn(text)
        if self.hooks.active:
            self.hooks.emit(events.Warned(run_id=self.run_id, message=text))

    # ------------------------------------------------------------ compensations

    def compensation_scope(self) -> trio.CancelScope:
        """A shielded scope for one compensation, which a second interrupt cancels."""
        scope = trio.CancelScope(shield=True)
        if self.aborting:
            scope.cancel()
        self._compensation_scopes.add(scope)
        return scope

    def compensation_done(self, scope: trio.CancelScope, outcome: CompensationOutcome) -> None:
        self._compensation_scopes.discard(scope)
        self.compensations.append(outcome)

    def abort_compensations(self) -> None:
        """Stop the compensations in flight and those not started yet."""
        self.aborting = True
        for scope in list(self._compensation_scopes):
            scope.cancel()
