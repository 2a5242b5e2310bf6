"""Loop progress for the hooks: how far each ``for`` loop of a run has come.

A ``for`` loop knows how many items it iterates before it starts, so a sink
can show ``done/total`` (``flowc run``'s progress display, a web UI).  The
executor asks ``watch_loop`` for a ``LoopWatch`` when a loop starts; it is
``None`` when no hook listens, so an unwatched loop pays one attribute test.
The watch emits ``LoopStarted``, one ``LoopAdvanced`` per finished iteration
and ``LoopFinished`` however the loop ends (``break``, ``return``, a failure,
a cancellation).

A loop is named within its flow invocation by its line and the iterations
around it, the way a step key is (``for@12``, ``for@12[3]`` for the inner
loop in the fourth iteration of an outer one, ``checkout/for@12`` inside a
sub-flow call), so two executions of one loop are told apart.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowc.runtime import hooks as events

if TYPE_CHECKING:
    from flowc.compiler import ir
    from flowc.runtime.frames import Place
    from flowc.runtime.hooks import Hooks


class LoopWatch:
    """Reports one execution of one ``for`` loop to the run's hooks."""

    __slots__ = ("done", "flow", "hooks", "invocation", "loop", "run_id", "total")

    def __init__(
        self, hooks: Hooks, run_id: str, flow: str, invocation: int, loop: str, total: int
    ) -> None:
        self.hooks = hooks
        self.run_id = run_id
        self.flow = flow
        self.invocation = invocation
        self.loop = loop
        self.total = total
        self.done = 0

    def started(self, parallel: bool) -> None:
        self.hooks.emit(
            events.LoopStarted(
                run_id=self.run_id,
                flow=self.flow,
                invocation=self.invocation,
                loop=self.loop,
                total=self.total,
                parallel=parallel,
            )
        )

    def advance(self) -> None:
        self.done += 1
        self.hooks.emit(
            events.LoopAdvanced(
                run_id=self.run_id,
                flow=self.flow,
                invocation=self.invocation,
                loop=self.loop,
                done=self.done,
                total=self.total,
            )
        )

    def finished(self) -> None:
        self.hooks.emit(
            events.LoopFinished(
                run_id=self.run_id,
                flow=self.flow,
                invocation=self.invocation,
                loop=self.loop,
                done=self.done,
                total=self.total,
            )
        )


def watch_loop(
    hooks: Hooks,
    run_id: str,
    flow: str,
    invocation: int,
    loop: ir.ForNode,
    place: Place,
    total: int,
) -> LoopWatch | None:
    """A started watch over ``loop``, or ``None`` when no hook listens."""
    if not hooks.active:
        return None
    watch = LoopWatch(
        hooks, run_id, flow, invocation, place.step_key(f"for@{loop.span.line}"), total
    )
    watch.started(loop.parallel)
    return watch
