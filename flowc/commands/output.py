"""What ``flowc run``, ``flowc resume`` and ``flowc demo`` say on stderr, and how.

stdout carries a run's result and nothing else; everything else a run says
— its id, its ``log`` lines, warnings, progress, the final error — goes to
stderr through one ``RunOutput``, chosen by four options:

``--progress auto|always|never``
    the live display (``progress.py``); ``auto`` shows it only when stderr is
    a terminal (and not with ``--quiet``), so a pipe or a file gets nothing
    extra.
``-v``/``--verbose``
    one line per step attempt: the step, the attempt, the request line, the
    status (or the error kind) and the time.
``-q``/``--quiet``
    only errors: no run id, ``log`` lines, warnings or display.
``--log-format text|json``
    ``json`` (``jsonlog.py``) writes every line as one JSON object, for
    collectors such as ELK or Loki; the default is text for people.

A ``RunOutput`` gives the engine its hooks (the event sinks), its ``log`` and
``warn`` sinks and the ``started`` callback, and gives ``running.drive`` the
``watching`` context that keeps a display up while trio runs.  The texts it
writes are already scrubbed: events by ``Hooks.emit``, log lines and warnings
by the run, final messages by ``running.py``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator
from typing import IO, TYPE_CHECKING, Any

import attrs
import click

from flowc.commands import messages

if TYPE_CHECKING:
    from flowc.commands.progress import ProgressDisplay
    from flowc.common.span import Span
    from flowc.runtime.hooks import Event, Hook


@attrs.frozen
class OutputOptions:
    progress: str = "auto"
    log_format: str = "text"
    verbose: bool = False
    quiet: bool = False


def output_options(function: Any) -> Any:
    """``--progress``, ``--log-format``, ``-v`` and ``-q``."""
    options = [
        click.option(
            "--progress",
            type=click.Choice(["auto", "always", "never"]),
            default="auto",
            show_default=True,
            help="Live progress on stderr: auto shows it when stderr is a terminal.",
        ),
        click.option(
            "--log-format",
            type=click.Choice(["text", "json"]),
            default="text",
            show_default=True,
            help="json: every stderr line as one JSON object (for log collectors).",
        ),
        click.option("-v", "--verbose", is_flag=True, help="One line per step attempt."),
        click.option("-q", "--quiet", is_flag=True, help="Only errors on stderr."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def pop_output_options(options: dict[str, Any]) -> OutputOptions:
    """The output options among a command's keyword arguments (removed from them)."""
    return OutputOptions(
        progress=options.pop("progress", "auto"),
        log_format=options.pop("log_format", "text"),
        verbose=options.pop("verbose", False),
        quiet=options.pop("quiet", False),
    )


class RunOutput:
    """Plain text on stderr: the behaviour without any option."""

    def __init__(self, options: OutputOptions, stream: IO[str] | None = None) -> None:
        self.options = options
        self.stream = sys.stderr if stream is None else stream
        self.flow = ""

    def hooks(self) -> list[Hook]:
        return []

    def announce(self, run_id: str) -> None:
        if not self.options.quiet:
            self.line(f"flowc: {messages.RUN_STARTED.format(run_id=run_id)}")

    def log(self, flow: str, text: str, span: Span) -> None:
        if not self.options.quiet:
            self.line(f"[{flow}] {text}")

    def warn(self, text: str) -> None:
        if not self.options.quiet:
            self.line(f"flowc: warning: {text}")

    def error(self, text: str) -> None:
        """A final error: ``text`` without the ``flowc: error:`` prefix."""
        self.line(f"flowc: error: {text}")

    def notice(self, text: str) -> None:
        """A final line that is not an error (``interrupted; ...``); shown with -q too."""
        self.line(f"flowc: {text}")

    def diagnostics(self, error: Any) -> None:
        from flowc.commands.process import use_colour
        from flowc.compiler.diagnostics import render

        colour = use_colour(self.stream)
        for diagnostic in error.diagnostics:
            self.line(render(diagnostic, error.sources.get(diagnostic.span.file), colour=colour))

    def line(self, text: str) -> None:
        click.echo(text, file=self.stream)

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        """Inside ``trio.run``, around the run: keeps a display up, if any."""
        yield


class TextOutput(RunOutput):
    """Text, with the live display on a terminal and ``-v`` lines if asked."""

    def __init__(self, options: OutputOptions, stream: IO[str] | None = None) -> None:
        from flowc.commands.runtally import RunTally

        super().__init__(options, stream)
        self.tally = RunTally()
        self.display: ProgressDisplay | None = None
        if wants_display(options, self.stream):
            from flowc.commands.progress import ProgressDisplay

            self.display = ProgressDisplay(self.tally, _console(self.stream, options))

    def hooks(self) -> list[Hook]:
        hooks: list[Hook] = []
        if self.display is not None:
            hooks.append(self.tally)
        if self.options.verbose and not self.options.quiet:
            hooks.append(self._attempt_line)
        return hooks

    def line(self, text: str) -> None:
        if self.display is not None and self.display.live is not None:
            self.display.print(text)
        else:
            super().line(text)

    def _attempt_line(self, event: Event) -> None:
        from flowc.runtime.hooks import AttemptFinished

        if isinstance(event, AttemptFinished):
            self.line(f"flowc: {attempt_text(event)}")

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[None]:
        display = self.display
        if display is None:
            yield
            return
        import trio

        display.start()
        try:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(display.refresh_forever)
                try:
                    yield
                finally:
                    nursery.cancel_scope.cancel()
        finally:
            display.stop()
            if self.tally.run_id:
                from flowc.commands.progress import summary

                display.console.print(summary(self.tally))


def attempt_text(event: Any) -> str:
    """One attempt of a step, as ``-v`` prints it (an ``AttemptFinished``)."""
    from flowc.commands.runtally import duration

    outcome = str(event.status) if event.status is not None else (event.error or "no response")
    return messages.ATTEMPT.format(
        step=event.step,
        attempt=event.attempt,
        method=event.method,
        url=event.url,
        outcome=outcome,
        elapsed=duration(event.elapsed_ms / 1000),
    )


def wants_display(options: OutputOptions, stream: IO[str]) -> bool:
    if options.log_format != "text" or options.progress == "never":
        return False
    if options.progress == "always":
        return True
    isatty = getattr(stream, "isatty", None)
    return not options.quiet and bool(isatty and isatty())


def _console(stream: IO[str], options: OutputOptions) -> Any:
    from rich.console import Console

    from flowc.commands.process import use_colour

    return Console(
        file=stream,
        force_terminal=True if options.progress == "always" else None,
        no_color=not use_colour(stream),
        highlight=False,
        markup=False,
        emoji=False,
    )


def make_output(options: OutputOptions, stream: IO[str] | None = None) -> RunOutput:
    """The ``RunOutput`` the options ask for."""
    if options.log_format == "json":
        from flowc.commands.jsonlog import JsonOutput

        return JsonOutput(options, stream)
    if options.verbose or wants_display(options, sys.stderr if stream is None else stream):
        return TextOutput(options, stream)
    return RunOutput(options, stream)
