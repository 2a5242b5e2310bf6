"""The live progress display of ``flowc run`` on a terminal, and its summary.

While a run executes, stderr shows what it is doing (drawn with rich's
``Live``): a headline (flow, time, steps done and in flight, attempts,
retries), the steps in flight — the longest-running first, each with its
method, attempt and elapsed time, and the reason when it waits to retry —,
each running ``for`` loop as a bar with ``done/total``, and the last few
retries with their reasons.  When the run ends the display is erased and a
one-screen summary takes its place: steps by outcome, attempts and retries,
the time, the loops and the slowest steps.

Batching.  The events only update a ``RunTally`` (``runtally.py``); a trio
task redraws from it every ``REFRESH`` seconds (ten times a second), so a
10,000-item parallel loop that emits tens of thousands of events still costs
at most ten redraws a second, each bounded by ``MAX_STEPS`` lines.

Lines printed while the display is up (``log`` lines, ``-v`` lines, warnings)
go through the display's console, which writes them above it.  Ctrl-C
cancels the run as it does without a display; the display is stopped in a
``finally`` (the cursor shown again, the screen left as it was) before the
final line is printed.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Final

from flowc.commands import messages
from flowc.commands.runtally import RunTally, duration

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.live import Live

REFRESH: Final = 0.1
"""Seconds between two redraws: at most ten a second."""
MAX_STEPS: Final = 8
"""Steps in flight shown; the rest are counted."""
MAX_LOOPS: Final = 4
BAR_WIDTH: Final = 24


def bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """``██████░░░░``: ``done`` of ``total`` as a bar of ``width`` cells."""
    filled = width if total <= 0 else min(width, done * width // total)
    return "█" * filled + "░" * (width - filled)


class ProgressDisplay:
    """A rich ``Live`` display of one run's ``RunTally`` on a console."""

    def __init__(self, tally: RunTally, console: Console) -> None:
        self.tally = tally
        self.console = console
        self.live: Live | None = None
        self.redraws = 0

    def start(self) -> None:
        from rich.live import Live

        self.live = Live(
            self.render(),
            console=self.console,
            auto_refresh=False,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=True,
        )
        self.live.start()

    async def refresh_forever(self) -> None:
        """Redraw every ``REFRESH`` seconds until cancelled."""
        import trio

        while True:
            await trio.sleep(REFRESH)
            self.redraw()

    def redraw(self) -> None:
        if self.live is not None:
            self.redraws += 1
            self.live.update(self.render(), refresh=True)

    def stop(self) -> None:
        if self.live is not None:
            live, self.live = self.live, None
            live.stop()

    def print(self, line: str) -> None:
        """A line above the display (or just a line, once it is stopped)."""
        from rich.text import Text

        self.console.print(Text(line), soft_wrap=True)

    # ------------------------------------------------------------ drawing

    def render(self) -> RenderableType:
        from rich.console import Group
        from rich.text import Text

        tally, now = self.tally, time.time()
        lines: list[RenderableType] = [Text(self._headline(now), style="bold")]
        lines.extend(self._steps(now))
        for loop in list(tally.loops.values())[:MAX_LOOPS]:
            lines.append(
                Text(
                    f"  {bar(loop.done, loop.total)} "
                    + messages.LOOP_LINE.format(loop=loop.loop, done=loop.done, total=loop.total)
                )
            )
        for retry in tally.retries:
            text = messages.RECENT_RETRY.format(
                step=retry.step, attempt=retry.attempt, reason=retry.reason
            )
            lines.append(Text(f"  {text}", style="yellow"))
        return Group(*lines)

    def _headline(self, now: float) -> str:
        tally = self.tally
        return messages.HEADLINE.format(
            flow=tally.flow or "…",
            elapsed=duration(tally.elapsed(now)),
            done=tally.steps(),
            running=len(tally.in_flight),
            attempts=tally.attempts,
            retries=tally.retried,
        )

    def _steps(self, now: float) -> list[RenderableType]:
        from rich.text import Text

        flying = list(self.tally.in_flight.values())
        shown = sorted(flying, key=lambda step: step.started)[:MAX_STEPS]
        lines: list[RenderableType] = []
        width = max((len(step.key) for step in shown), default=0)
        for step in shown:
            text = Text("  ")
            text.append(
                messages.IN_FLIGHT.format(
                    step=step.key.ljust(width),
                    method=step.method.ljust(4),
                    attempt=max(step.attempt, 1),
                    elapsed=duration(now - step.started),
                )
            )
            if step.retry:
                text.append(messages.IN_FLIGHT_RETRY.format(reason=step.retry), style="yellow")
            lines.append(text)
        if len(flying) > len(shown):
            more = messages.MORE_IN_FLIGHT.format(count=len(flying) - len(shown))
            lines.append(Text(f"  {more}", style="dim"))
        return lines


def summary(tally: RunTally) -> RenderableType:
    """The one-screen summary of a finished run."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    title = messages.SUMMARY_TITLE.format(
        flow=tally.flow or "run",
        status=tally.status or "ended",
        elapsed=duration(tally.elapsed()),
    )
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    steps = f"{tally.steps()}"
    if tally.outcomes:
        steps += f" ({tally.outcome_counts()})"
    grid.add_row(messages.SUMMARY_STEPS, steps)
    grid.add_row(
        messages.SUMMARY_ATTEMPTS,
        messages.SUMMARY_ATTEMPTS_DETAIL.format(attempts=tally.attempts, retries=tally.retried),
    )
    loops = [*tally.finished_loops, *tally.loops.values()]
    if loops:
        grid.add_row(
            messages.SUMMARY_LOOPS,
            ", ".join(f"{loop.loop} {loop.done}/{loop.total}" for loop in loops[:MAX_LOOPS]),
        )
    slowest = tally.slowest()
    grid.add_row(
        messages.SUMMARY_SLOWEST,
        "  ".join(f"{key} {duration(took)}" for took, key in slowest) or messages.SUMMARY_NONE,
    )
    return Group(Text(title, style="bold"), grid)
