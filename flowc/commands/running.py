"""Driving one run from the command line: the store, the signals, the outcome.

``flowc run``, ``flowc resume`` and ``flowc demo`` all end here.  ``drive``
opens the run store (unless the run is ephemeral), starts trio, hands an
``Engine`` to the command's ``start`` coroutine and turns what happens into
the process's output and exit status:

=========================  ======================================  ======
outcome                    stderr (stdout gets only a result)      status
=========================  ======================================  ======
the flow returned          (its result as JSON on stdout)          0
the flow failed            ``flowc: error: flow `f` failed ...``   1
interrupted                ``flowc: interrupted; ...``             130
the store failed           ``flowc: error: the run store ...``     1
refused, bad input         ``flowc: error: ...``                   2
unusable proxy settings    ``flowc: error: the proxy settings...`` 2
=========================  ======================================  ======

Everything printed is scrubbed by the run's ``Redactor`` (``runtime/redaction.py``),
which the command passes to the engine: a result or a message that would echo a
secret's text shows ``***`` in its place.

Interrupts.  SIGINT and SIGTERM get a handler of our own while trio runs
(trio's signal receivers only wake up when the loop runs, and a long
expression evaluation does not let it): the first one cancels the run, whose
compensations then run; CPU-bound evaluation notices it within a few
milliseconds through the evaluator's preemption test.  A second one stops the
compensations still running.  The final line says which compensations ran,
which failed and which did not finish.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Awaitable, Callable
from typing import IO, TYPE_CHECKING, Any, Final

import attrs
import click

from flowc.commands.output import OutputOptions, RunOutput
from flowc.commands.process import EXIT_FAILED, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from flowc.runtime.engine import Engine
    from flowc.runtime.hooks import Event, Hook
    from flowc.runtime.redaction import Redactor
    from flowc.runtime.resolve import HostMap
    from flowc.runtime.store import Store

EXIT_INTERRUPTED: Final = 130

Start = Callable[["Engine", list["Hook"], "Redactor"], Awaitable[Any]]
"""What a command runs: given the engine, the hooks and the redactor to pass, start or
resume a run."""


@attrs.define
class CompensationTally:
    """A hook that remembers what the compensations of a run did."""

    ran: list[str] = attrs.field(factory=list)
    failed: list[str] = attrs.field(factory=list)
    abandoned: list[str] = attrs.field(factory=list)
    started: list[str] = attrs.field(factory=list)

    def __call__(self, event: Event) -> None:
        from flowc.runtime.hooks import CompensationFinished, CompensationStarted

        if isinstance(event, CompensationStarted):
            self.started.append(event.step)
        elif isinstance(event, CompensationFinished):
            self.started.remove(event.step)
            {"ran": self.ran, "failed": self.failed}.get(event.outcome, self.abandoned).append(
                event.step
            )

    def summary(self) -> str:
        if not (self.ran or self.failed or self.abandoned or self.started):
            return "no compensation was needed"
        parts = []
        if self.ran:
            parts.append(f"compensations ran: {', '.join(self.ran)}")
        if self.failed:
            parts.append(f"failed: {', '.join(self.failed)}")
        unfinished = self.abandoned + self.started
        if unfinished:
            parts.append(f"did not finish: {', '.join(unfinished)}")
        return "; ".join(parts)


class Interrupts:
    """Counts SIGINT/SIGTERM during a run and tells the run what to do about them."""

    def __init__(self) -> None:
        self.count = 0
        self.cancel: Callable[[], None] = lambda: None
        self.abort: Callable[[], None] = lambda: None

    def install(self) -> Callable[[], None]:
        """Install the handlers inside ``trio.run``; returns the function that restores."""
        import trio

        token = trio.lowlevel.current_trio_token()

        def on_signal(signum: int, frame: object) -> None:
            self.count += 1
            token.run_sync_soon(self.cancel if self.count == 1 else self.abort)

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}

        def restore() -> None:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

        return restore


def preemption_test(interrupts: Interrupts) -> Callable[[], bool]:
    """The evaluator's "give way?" test: an interrupt arrived, or the deadline passed."""
    from flowc.runtime.preemption import deadline_passed

    def should_give_way() -> bool:
        return interrupts.count > 0 or deadline_passed()

    return should_give_way


def open_run_store(store_url: str | None, ephemeral: bool) -> Store | None:
    """The store a run journals to; ``None`` when ephemeral (``StoreError`` on failure)."""
    if ephemeral:
        return None
    from flowc.runtime.store import default_store_url, open_store

    return open_store(store_url or default_store_url())


def drive(
    start: Start,
    store: Store | None,
    trace: IO[str] | None,
    *,
    resolve: HostMap | None = None,
    output: RunOutput | None = None,
    envelope: dict[str, Any] | None = None,
) -> int:
    """Run ``start`` on trio with an engine over ``store``; the process's exit status.

    ``output`` (``output.py``) says what happens on stderr: its hooks watch the
    run, its ``watching`` context keeps a progress display up while it runs. With
    ``envelope`` (``--format envelope``; ``run_id`` is filled in when the run
    starts), stdout gets one JSON object whatever the outcome."""
    import trio

    from flowc.commands.process import end_of_startup
    from flowc.common.errors import FlowError
    from flowc.compiler.evaluator_support import set_preemption
    from flowc.observe.setup import observed_engine
    from flowc.runtime.engine import Engine, RunRefused
    from flowc.runtime.http import ProxyConfigError
    from flowc.runtime.programs import InputError
    from flowc.runtime.redaction import Redactor
    from flowc.runtime.store import StoreError
    from flowc.runtime.trace import JsonLinesSink

    if output is None:
        output = RunOutput(OutputOptions())
    interrupts = Interrupts()
    redactor = Redactor()
    tally = CompensationTally()
    hooks: list[Hook] = [tally, *output.hooks()]
    if trace is not None:
        hooks.append(JsonLinesSink(trace))
    observed = observed_engine(metrics=False)  # OTEL_* and SENTRY_DSN; nothing imported without
    hooks.extend(observed.hooks)
    outcome: dict[str, Any] = {}

    async def main() -> None:
        restore = interrupts.install()
        previous = set_preemption(preemption_test(interrupts))
        try:
            async with output.watching():
                await execute()
        finally:
            set_preemption(previous)
            restore()

    async def execute() -> None:
        try:
            async with Engine(
                store=store, resolve=resolve, header_sources=observed.header_sources
            ) as engine:
                with trio.CancelScope() as scope:
                    interrupts.cancel = scope.cancel
                    interrupts.abort = engine.abort_compensations
                    outcome["result"] = await start(engine, hooks, redactor)
                outcome["interrupted"] = scope.cancelled_caught
        except FlowError as error:
            outcome["error"] = error
        except (RunRefused, InputError, ProxyConfigError) as error:
            outcome["refused"] = str(error)
        except StoreError as error:
            outcome["store"] = str(error)

    end_of_startup()
    try:
        trio.run(main)
    finally:
        observed.close()
    code = _report(outcome, tally, redactor, output, quiet=envelope is not None)
    if envelope is not None:
        click.echo(envelope_text(envelope.get("run_id"), outcome, code, redactor))
    return code


def envelope_text(
    run_id: str | None, outcome: dict[str, Any], code: int, redactor: Redactor
) -> str:
    """The ``--format envelope`` object: the result, or the error's fields."""
    from flowc.common.values import EvalError, json_text

    status = {EXIT_OK: "succeeded", EXIT_INTERRUPTED: "interrupted"}.get(code, "failed")
    body: dict[str, Any] = {"run_id": run_id, "status": status}
    error = outcome.get("error")
    if code == EXIT_OK:
        body["result"] = outcome.get("result")
    elif error is not None:
        body["error"] = {
            "kind": error.kind,
            "message": error.message,
            "status": error.status,
            "step": error.step,
            "data": error.data,
        }
    else:
        message = outcome.get("refused") or outcome.get("store") or "interrupted"
        body["error"] = {"kind": status, "message": message, "status": 0, "step": "", "data": None}
    try:
        return json_text(redactor.redact_value(body))
    except EvalError as failure:
        body.pop("result", None)
        body["status"] = "failed"
        body["error"] = {"kind": "eval", "message": failure.message, "status": 0, "step": ""}
        return json_text(body)


def _report(
    outcome: dict[str, Any],
    tally: CompensationTally,
    redactor: Redactor,
    output: RunOutput,
    *,
    quiet: bool = False,
) -> int:
    from flowc.common.values import EvalError, json_text

    def error(text: str) -> None:
        output.error(redactor.redact(text))

    def notice(text: str) -> None:
        output.notice(redactor.redact(text))

    if "refused" in outcome:
        error(outcome["refused"])
        return EXIT_USAGE
    if "store" in outcome:
        error(outcome["store"])
        return EXIT_FAILED
    if "error" in outcome:
        error(outcome["error"].describe())
        if tally.ran or tally.failed or tally.abandoned:
            notice(tally.summary())
        return EXIT_FAILED
    if outcome.get("interrupted") or "result" not in outcome:
        notice(f"interrupted; {tally.summary()}")
        return EXIT_INTERRUPTED
    try:  # the strings are scrubbed, not the JSON text (a mask must not break an escape)
        text = json_text(redactor.redact_value(outcome["result"]))
    except EvalError as failure:
        error(f"the flow's result cannot be printed: {failure.message}")
        return EXIT_FAILED
    if not quiet:
        click.echo(text)
    return EXIT_OK


def open_trace(path: str | None) -> IO[str] | None:
    if path is None:
        return None
    return open(path, "w", encoding="utf-8")


def usage_error(message: str, output: RunOutput | None = None) -> int:
    if output is None:
        click.echo(f"flowc: error: {message}", err=True)
    else:
        output.error(message)
    return EXIT_USAGE


def parse_json_object(text: str, what: str) -> dict[str, Any]:
    """``text`` (or the file ``@path``) as a JSON object; ``InputError`` otherwise."""
    from flowc.runtime.programs import InputError

    if text.startswith("@"):
        try:
            with open(text[1:], encoding="utf-8") as handle:
                text = handle.read()
        except OSError as error:
            raise InputError(f"cannot read input file {text[1:]}: {error.strerror}") from None
    from flowc.common.values import load_json

    try:
        value = load_json(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"{what} is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise InputError(f"{what} nests too deeply") from None
    except ValueError as error:  # a number out of range, NaN or Infinity
        raise InputError(f"{what}: {error}") from None
    if not isinstance(value, dict):
        raise InputError(f"{what} must be a JSON object mapping parameter names to values")
    return value
