"""The executor: runs lowered flows on trio.

A flow invocation (``FlowInvocation``) owns a *frame* — a list with one slot
per name (``ir.FlowIR.frame_size``) — and walks its IR blocks.
``exec_block`` runs the nodes of a block in program order, except inside the
block's *segments* (runs of pure computations and safe steps, see
``compiler/ir.py``), where a small dataflow scheduler starts each node as soon
as the nodes it depends on have finished; ``--sequential`` turns that off.

Control flow returns *signals* rather than raising: ``exec_block`` returns
``None`` when control falls off the end, or a ``Return``/``BREAK``/
``CONTINUE``, which each compound node passes up or consumes.  Failures are
``FlowError`` exceptions.

Structured concurrency: a ``parallel`` block, a parallel loop and an
overlapped segment are trio nurseries run by ``run_all``, which remembers the
first ``FlowError``, cancels the siblings and re-raises that error alone (no
exception groups reach the language).  A parallel loop runs at most ``limit``
worker tasks that take items from a shared counter — ``DEFAULT_PARALLEL_LIMIT``
when the loop names no limit — so a million items never means a million tasks.
Each iteration works on its own copy of the frame: the checker guarantees it
never writes an outer ``var``.

Timeouts are cancel scopes (``trio.move_on_after``); a cancelled scope becomes
a ``timeout`` error at the boundary that owns it, so an HTTP request in flight
is aborted.  Work that never waits on I/O still gives way: loops pass a trio
checkpoint at least every ``YIELD_INTERVAL`` seconds, and a long expression
evaluation is preempted (``preempt``) when its task's deadline has passed or
an interrupt is pending, so a timeout, a cancelled sibling or Ctrl-C takes
effect within about 50 ms.

Compensations: when a step with a ``compensate`` block succeeds, the block and
a snapshot of the frame are pushed on the invocation's stack; if an error or a
cancellation escapes the flow, the stack runs in reverse order, each
compensation shielded from the cancellation (so Ctrl-C still undoes what was
done) but not from a second interrupt (``Run.abort_compensations``).

Secrets: every ``FlowError`` leaving a statement has its message scrubbed
by the run's redactor (``redaction.py``), so a ``catch`` block, an enclosing
``retry`` and the final message never see a secret a server echoed.

Durable runs: every node is evaluated under its *site* (``CURRENT_SITE``), so
the ``now()``/``uuid()``/``env()`` values it draws are journaled by position;
a ``sleep`` journals its wake-up time and waits only what is left of it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final, overload

import attrs
import trio

from flowc.common import errors
from flowc.common.errors import FlowError
from flowc.common.values import EvalError, to_text
from flowc.compiler import ir
from flowc.compiler.evaluator_support import PREEMPTED
from flowc.runtime import hooks as events
from flowc.runtime.frames import BREAK, CONTINUE, Place, Return, Signal
from flowc.runtime.journal import CURRENT_SITE
from flowc.runtime.loopwatch import LoopWatch, watch_loop
from flowc.runtime.policies import seconds_of
from flowc.runtime.run import CompensationOutcome, Run
from flowc.runtime.signals import wait_signal
from flowc.runtime.stepexec import RetryDecider, run_step

DEFAULT_WHILE_BOUND: Final = 10_000
DEFAULT_PARALLEL_LIMIT: Final = 1_000
"""Iterations a parallel loop without a limit runs at once."""
MAX_CALL_DEPTH: Final = 64
"""Nested sub-flow calls a run may make (recursion is allowed, this deep)."""
YIELD_INTERVAL: Final = 0.02
"""Longest stretch, in seconds, a loop runs without letting other tasks in."""


def is_cancellation(error: BaseException) -> bool:
    """Whether ``error`` is trio's cancellation (alone or grouped by nurseries)."""
    if isinstance(error, trio.Cancelled):
        return True
    if isinstance(error, BaseExceptionGroup):
        return all(is_cancellation(inner) for inner in error.exceptions)
    return False


async def run_all(thunks: Sequence[Callable[[], Awaitable[None]]]) -> None:
    """Run thunks concurrently; the first FlowError cancels the rest and is raised."""
    if len(thunks) == 1:
        await thunks[0]()
        return
    failures: list[BaseException] = []

    async def guarded(thunk: Callable[[], Awaitable[None]], scope: trio.CancelScope) -> None:
        try:
            await thunk()
        except FlowError as error:
            if not failures:
                failures.append(error)
            scope.cancel()

    try:
        async with trio.open_nursery() as nursery:
            for thunk in thunks:
                nursery.start_soon(guarded, thunk, nursery.cancel_scope)
    except BaseExceptionGroup as group:
        if is_cancellation(group):  # cancelled from outside: one Cancelled goes on
            raise group.exceptions[0] from None
        raise
    if failures:
        raise failures[0]


class FlowInvocation:
    """One invocation of one flow."""

    def __init__(
        self,
        run: Run,
        flow: ir.FlowIR,
        prefix: str = "",
        parent: FlowInvocation | None = None,
    ) -> None:
        self.run = run
        self.flow = flow
        self.prefix = prefix  # the call path of a sub-flow: "caller_step/"
        self.parent = parent
        self.depth: int = 0 if parent is None else parent.depth + 1
        self.invocation = run.next_invocation()
        self.frame: list[Any] = [None] * flow.frame_size
        # (the invocation that registered it, the block, a frame snapshot, the place, step)
        self.compensations: list[tuple[FlowInvocation, ir.Block, list[Any], Place, str]] = []
        self._sites = site_numbers(run, flow) if run.durable else None
        self._yielded = time.perf_counter()
        # id(record) -> (record, error): what `fail e` re-raises for a caught `e`
        self._caught: dict[int, tuple[dict[str, Any], FlowError]] = {}
        self._handling: list[FlowError] = []  # the errors the running `catch` blocks handle

    # ----------------------------------------------------------- entry

    async def invoke(self, args: dict[str, Any]) -> Any:
        flow, run = self.flow, self.run
        self.frame[flow.run_slot] = {"id": run.run_id, "flow": flow.name, "attempt": run.attempt}
        self._bind_params(args)
        self._emit_flow(started=True)
        try:
            result = await self._run_body()
        except FlowError as error:
            error.located(flow.span, flow.name)
            await self.compensate(error.kind)
            self._emit_flow(started=False, error=error.record())
            raise
        except BaseException as error:
            if is_cancellation(error):
                await self.compensate("interrupted")
            raise
        self._emit_flow(started=False)
        return result

    def _emit_flow(self, *, started: bool, error: dict[str, object] | None = None) -> None:
        hooks = self.run.hooks
        if not hooks.active:
            return
        run_id, flow = self.run.run_id, self.flow.name
        if started:
            parent = None if self.parent is None else self.parent.invocation
            hooks.emit(
                events.FlowStarted(
                    run_id=run_id,
                    flow=flow,
                    invocation=self.invocation,
                    parent=parent,
                    call_path=self.prefix,
                )
            )
        else:
            hooks.emit(
                events.FlowFinished(
                    run_id=run_id,
                    flow=flow,
                    invocation=self.invocation,
                    call_path=self.prefix,
                    error=error,
                )
            )

    def _bind_params(self, args: dict[str, Any]) -> None:
        for param in self.flow.params:
            if param.name in args:
                self.frame[param.slot] = args[param.name]
            elif param.default is not None:
                self.frame[param.slot] = self.evaluate(param.default)
            else:
                raise FlowError(errors.EVAL, f"missing input `{param.name}`", flow=self.flow.name)

    async def _run_body(self) -> Any:
        flow = self.flow
        place = Place(prefix=self.prefix)
        if flow.timeout is None:
            signal = await self.exec_block(flow.body, self.frame, place)
        else:
            limit = seconds_of(self.evaluate(flow.timeout), "a flow timeout")
            with trio.move_on_after(limit) as scope:
                signal = await self.exec_block(flow.body, self.frame, place)
            if scope.cancelled_caught:
                raise FlowError(
                    errors.TIMEOUT,
                    f"flow `{flow.name}` timed out after {to_text(self.evaluate(flow.timeout))}",
                    span=flow.span,
                )
        return signal.value if isinstance(signal, Return) else None

    async def compensate(self, cause: str) -> None:
        """Run the compensations of completed steps, newest first."""
        if not self.compensations:
            return
        run = self.run
        run.journal.mark("compensated")
        while self.compensations:
            owner, block, frame, place, step = self.compensations.pop()
            scope = run.compensation_scope()
            self._emit_compensation(step, cause=cause)
            outcome = "ran"
            detail = ""
            with scope:
                try:
                    await owner.exec_block(block, frame, place)
                except FlowError as failure:
                    outcome, detail = "failed", failure.describe()
                    run.report(f"compensation failed in flow `{self.flow.name}`: {detail}")
            if scope.cancelled_caught:
                outcome = "abandoned"
            run.compensation_done(scope, CompensationOutcome(self.flow.name, step, outcome, detail))
            self._emit_compensation(step, outcome=outcome, detail=detail)

    def _emit_compensation(
        self, step: str, *, cause: str = "", outcome: str = "", detail: str = ""
    ) -> None:
        hooks = self.run.hooks
        if not hooks.active:
            return
        run_id, flow, invocation = self.run.run_id, self.flow.name, self.invocation
        if not outcome:
            hooks.emit(
                events.CompensationStarted(
                    run_id=run_id, flow=flow, invocation=invocation, step=step, cause=cause
                )
            )
        else:
            hooks.emit(
                events.CompensationFinished(
                    run_id=run_id,
                    flow=flow,
                    invocation=invocation,
                    step=step,
                    outcome=outcome,
                    detail=detail,
                )
            )

    def subflow(
        self, flow: ir.FlowIR, prefix: str, fail: Callable[[str, str], FlowError]
    ) -> FlowInvocation:
        """The invocation of a sub-flow called from this one (a ``call`` step, whose
        ``fail(kind, message)`` makes the error when the calls nest too deeply)."""
        if self.depth >= MAX_CALL_DEPTH or _python_stack_depth() > _STACK_HEADROOM_LIMIT():
            raise fail(
                errors.CALL_DEPTH,
                f"calling `{flow.name}` would nest sub-flow calls deeper than "
                f"{MAX_CALL_DEPTH} levels (a recursion that does not stop?)",
            )
        return FlowInvocation(self.run, flow, prefix, self)

    # ----------------------------------------------------------- expressions

    def evaluate(self, expr: ir.Expr, frame: list[Any] | None = None) -> Any:
        try:
            return expr.run(self.frame if frame is None else frame)
        except EvalError as error:
            if error.kind == PREEMPTED:
                raise Preempted() from None
            raise FlowError(errors.EVAL, str(error), span=expr.span, flow=self.flow.name) from None

    # ----------------------------------------------------------- blocks

    async def exec_block(self, block: ir.Block, frame: list[Any], place: Place) -> Signal:
        nodes = block.nodes
        if not block.segments or self.run.sequential:
            for node in nodes:
                signal = await self.exec_node(node, frame, place)
                if signal is not None:
                    return signal
            return None
        index = 0
        segments = iter(block.segments)
        segment = next(segments, None)
        while index < len(nodes):
            if segment is not None and index == segment[0]:
                await self._overlap(block, segment, frame, place)
                index = segment[1]
                segment = next(segments, None)
                continue
            signal = await self.exec_node(nodes[index], frame, place)
            if signal is not None:
                return signal
            index += 1
        return None

    async def _overlap(
        self, block: ir.Block, segment: tuple[int, int], frame: list[Any], place: Place
    ) -> None:
        """Run a segment as a dataflow graph: each node starts when its deps are done."""
        start, end = segment
        done = {i: trio.Event() for i in range(start, end)}

        def task(i: int) -> Callable[[], Awaitable[None]]:
            async def run_node() -> None:
                for dep in block.deps[i]:
                    if dep >= start:
                        await done[dep].wait()
                await self.exec_node(block.nodes[i], frame, place)
                done[i].set()

            return run_node

        await run_all([task(i) for i in range(start, end)])

    async def exec_node(self, node: ir.Node, frame: list[Any], place: Place) -> Signal:
        handler = _HANDLERS[type(node)]
        sites = self._sites
        token = None if sites is None else CURRENT_SITE.set(self.site_key(node, place))
        try:
            result: Signal = await handler(self, node, frame, place)
        except FlowError as error:  # a message may quote text that echoes a secret
            self.run.redactor.redact_error(error)
            raise
        except Preempted:
            await _give_way()  # the deadline or the interrupt is delivered here
            raise FlowError(
                errors.CANCELLED, "evaluation was preempted", span=node.span, flow=self.flow.name
            ) from None
        finally:
            if token is not None:
                # a node runs once at a place (loops and retry blocks nest the
                # place), so the ordinals of its site are not needed any more
                self.run.journal.forget_site(CURRENT_SITE.get())
                CURRENT_SITE.reset(token)
        return result

    def site_key(self, node: ir.Node, place: Place) -> str:
        """The journal position of ``node`` here: a step's key, else ``@n`` and indices."""
        if isinstance(node, ir.StepNode):
            return place.step_key(node.name)
        assert self._sites is not None
        return place.step_key(f"@{self._sites[id(node)]}")

    async def pause(self) -> None:
        """Let other tasks in if this one has run long without waiting (loops call it)."""
        now = time.perf_counter()
        if now - self._yielded >= YIELD_INTERVAL:
            self._yielded = now
            await trio.sleep(0)
        else:
            await trio.lowlevel.checkpoint_if_cancelled()

    # ----------------------------------------------------------- simple nodes

    async def _compute(self, node: ir.Compute, frame: list[Any], place: Place) -> Signal:
        frame[node.slot] = self.evaluate(node.value, frame)
        return None

    async def _step(self, node: ir.StepNode, frame: list[Any], place: Place) -> Signal:
        await run_step(self, node, frame, place)
        return None

    async def _sleep(self, node: ir.SleepNode, frame: list[Any], place: Place) -> Signal:
        length = max(seconds_of(self.evaluate(node.duration, frame), "`sleep`"), 0.0)
        run = self.run
        if not run.durable:
            await trio.sleep(length)
            return None
        site = CURRENT_SITE.get()
        wake = run.journal.wake_time(site, lambda: time.time() + length)
        await run.journal.flush()
        remaining = max(0.0, min(length, wake - time.time()))
        if run.hooks.active:
            run.hooks.emit(
                events.Slept(
                    run_id=run.run_id,
                    flow=self.flow.name,
                    invocation=self.invocation,
                    site=site,
                    seconds=round(remaining, 6),
                )
            )
        await trio.sleep(remaining)
        return None

    async def _wait_signal(self, node: ir.WaitSignalNode, frame: list[Any], place: Place) -> Signal:
        frame[node.slot] = await wait_signal(self, node, frame)
        return None

    async def _log(self, node: ir.LogNode, frame: list[Any], place: Place) -> Signal:
        value = self.evaluate(node.value, frame)
        text = value if isinstance(value, str) else to_text(value)
        self.run.log(self.flow.name, text, node.span)
        return None

    async def _assert(self, node: ir.AssertNode, frame: list[Any], place: Place) -> Signal:
        if self.evaluate(node.cond, frame) is True:
            return None
        message = f"assertion failed: {node.source}"
        if node.message is not None:
            value = self.evaluate(node.message, frame)
            message = value if isinstance(value, str) else to_text(value)
        raise FlowError(errors.ASSERT, message, span=node.span, flow=self.flow.name)

    async def _fail(self, node: ir.FailNode, frame: list[Any], place: Place) -> Signal:
        value = self.evaluate(node.value, frame)
        caught = self._caught.get(id(value)) if isinstance(value, dict) else None
        if node.kind is None and caught is not None and caught[0] is value:
            raise caught[1]  # a re-raise: kind, status, step, payload and cause unchanged
        message = value if isinstance(value, str) else to_text(value)
        cause = self._handling[-1] if self._handling else None
        if node.kind is None:
            data = None if isinstance(value, str) else value
            raise FlowError(
                errors.FAIL, message, span=node.span, flow=self.flow.name, value=value,
                data=data, cause=cause,
            )  # fmt: skip
        status = self.evaluate(node.status, frame) if node.status is not None else 0
        data = self.evaluate(node.data, frame) if node.data is not None else None
        raise FlowError(
            node.kind, self.run.redactor.redact(message), status=status, span=node.span,
            flow=self.flow.name, data=data, cause=cause,
        )  # fmt: skip

    async def _return(self, node: ir.ReturnNode, frame: list[Any], place: Place) -> Signal:
        if node.loop is not None:
            return Return(await self.run_loop_value(node.loop, frame, place))
        return Return(None if node.value is None else self.evaluate(node.value, frame))

    async def _break(self, node: ir.Node, frame: list[Any], place: Place) -> Signal:
        return BREAK

    async def _continue(self, node: ir.Node, frame: list[Any], place: Place) -> Signal:
        return CONTINUE

    async def _yield(self, node: ir.YieldNode, frame: list[Any], place: Place) -> Signal:
        value = self.evaluate(node.value, frame)
        if place.yields is not None:
            place.yields.append(value)
        return None

    # ----------------------------------------------------------- compound nodes

    async def _if(self, node: ir.IfNode, frame: list[Any], place: Place) -> Signal:
        for cond, body in node.arms:
            if self.evaluate(cond, frame) is True:
                return await self.exec_block(body, frame, place)
        if node.orelse is not None:
            return await self.exec_block(node.orelse, frame, place)
        return None

    async def _parallel(self, node: ir.ParallelNode, frame: list[Any], place: Place) -> Signal:
        def branch(block: ir.Block) -> Callable[[], Awaitable[None]]:
            async def run_branch() -> None:
                await self.exec_block(block, frame, place)

            return run_branch

        if node.branches:
            await run_all([branch(b) for b in node.branches])
        return None

    async def _try(self, node: ir.TryNode, frame: list[Any], place: Place) -> Signal:
        try:
            signal = await self.exec_block(node.body, frame, place)
        except FlowError as error:
            clause = self._matching_catch(node, error, frame)
            if clause is None:
                raise
            self._emit_caught(error)
            self._handling.append(error)
            try:
                signal = await self.exec_block(clause.body, frame, place)
            finally:
                self._handling.pop()
        finally:
            if node.finally_ is not None:
                # Cleanup runs even when the body was cancelled (a timeout block, a
                # failing sibling, Ctrl-C): shielded, bounded by its steps' own timeouts.
                with trio.CancelScope(shield=True):
                    final = await self.exec_block(node.finally_, frame, place)
                if isinstance(final, Return):
                    return final  # noqa: B012 - a `return` in `finally` wins, as in Python
        return signal

    def _matching_catch(
        self, node: ir.TryNode, error: FlowError, frame: list[Any]
    ) -> ir.CatchIR | None:
        """The first clause whose filter accepts ``error``, its variable bound."""
        for clause in node.catches:
            record = error.record()
            if clause.slot is not None:
                frame[clause.slot] = record
                self._caught[id(record)] = (record, error)
            if clause.when is None or self.evaluate(clause.when, frame) is True:
                return clause
        return None

    def _emit_caught(self, error: FlowError) -> None:
        hooks = self.run.hooks
        if hooks.active:
            hooks.emit(
                events.Caught(
                    run_id=self.run.run_id,
                    flow=self.flow.name,
                    invocation=self.invocation,
                    error=error.record(),
                )
            )

    async def _timeout(self, node: ir.TimeoutNode, frame: list[Any], place: Place) -> Signal:
        duration = self.evaluate(node.duration, frame)
        with trio.move_on_after(max(seconds_of(duration, "`timeout`"), 0.0)) as scope:
            signal = await self.exec_block(node.body, frame, place)
        if scope.cancelled_caught:
            raise FlowError(
                errors.TIMEOUT,
                f"timed out after {to_text(duration)}",
                span=node.span,
                flow=self.flow.name,
            )
        return signal

    async def _retry(self, node: ir.RetryNode, frame: list[Any], place: Place) -> Signal:
        decider = RetryDecider(self, node.retry, frame)
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self.exec_block(node.body, frame, place.retried(attempt))
            except FlowError as error:
                delay = decider.delay_after(error, attempt, retry_after=None)
                if delay is None:
                    raise
                hooks = self.run.hooks
                if hooks.active:
                    hooks.emit(
                        events.BlockRetrying(
                            run_id=self.run.run_id,
                            flow=self.flow.name,
                            invocation=self.invocation,
                            attempt=attempt,
                            error=error.record(),
                        )
                    )
                await trio.sleep(delay)

    # ----------------------------------------------------------- loops

    async def _loop_value(self, node: ir.LoopValueNode, frame: list[Any], place: Place) -> Signal:
        frame[node.slot] = await self.run_loop_value(node.loop, frame, place)
        return None

    async def run_loop_value(
        self, loop: ir.ForNode | ir.WhileNode, frame: list[Any], place: Place
    ) -> list[Any]:
        collected: list[Any] = []
        signal = await self._run_loop(loop, frame, place, collected)
        if isinstance(signal, Return):  # pragma: no cover - the checker forbids return here
            raise FlowError(errors.EVAL, "return inside a loop used as a value")
        return collected

    async def _for(self, node: ir.ForNode, frame: list[Any], place: Place) -> Signal:
        return await self._run_loop(node, frame, place, None)

    async def _while(self, node: ir.WhileNode, frame: list[Any], place: Place) -> Signal:
        return await self._run_loop(node, frame, place, None)

    async def _run_loop(
        self,
        loop: ir.ForNode | ir.WhileNode,
        frame: list[Any],
        place: Place,
        collected: list[Any] | None,
    ) -> Signal:
        if isinstance(loop, ir.WhileNode):
            return await self._run_while(loop, frame, place, collected)
        items = _iteration_items(self.evaluate(loop.iterable, frame), loop.index_slot is not None)
        run = self.run
        watch = watch_loop(
            run.hooks, run.run_id, self.flow.name, self.invocation, loop, place, len(items)
        )
        try:
            if loop.parallel:
                return await self._run_parallel_for(loop, items, frame, place, collected, watch)
            return await self._run_sequential_for(loop, items, frame, place, collected, watch)
        finally:
            if watch is not None:
                watch.finished()

    async def _run_sequential_for(
        self,
        loop: ir.ForNode,
        items: Sequence[tuple[Any, Any]],
        frame: list[Any],
        place: Place,
        collected: list[Any] | None,
        watch: LoopWatch | None,
    ) -> Signal:
        for position, (index, item) in enumerate(items):
            await self.pause()
            frame[loop.var_slot] = item
            if loop.index_slot is not None:
                frame[loop.index_slot] = index
            inner = place.nested(position, collected)
            signal = await self.exec_block(loop.body, frame, inner)
            if watch is not None:
                watch.advance()
            if signal is BREAK:
                break
            if isinstance(signal, Return):
                return signal
        return None

    async def _run_parallel_for(
        self,
        loop: ir.ForNode,
        items: Sequence[tuple[Any, Any]],
        frame: list[Any],
        place: Place,
        collected: list[Any] | None,
        watch: LoopWatch | None,
    ) -> Signal:
        results: list[list[Any] | None] = [None] * len(items) if collected is not None else []
        returned: list[Return] = []  # the first iteration to `return` ends the loop and the flow
        limit = DEFAULT_PARALLEL_LIMIT if loop.limit is None else self._parallel_limit(loop, frame)
        next_item = iter(range(len(items)))

        async def iteration(position: int) -> None:
            index, item = items[position]
            local = list(frame)
            local[loop.var_slot] = item
            if loop.index_slot is not None:
                local[loop.index_slot] = index
            sink: list[Any] | None = None
            if collected is not None:
                sink = results[position] = []
            signal = await self.exec_block(loop.body, local, place.nested(position, sink))
            if watch is not None:
                watch.advance()
            if isinstance(signal, Return) and not returned:
                returned.append(signal)
                cancel_scope.cancel()  # `return`: the other iterations are cancelled

        async def worker() -> None:
            for position in next_item:
                await iteration(position)
                await self.pause()

        cancel_scope = trio.CancelScope()
        with cancel_scope:
            await run_all([worker for _ in range(min(limit, max(len(items), 1)))])
        if returned:
            return returned[0]
        if collected is not None:
            for values in results:
                if values:
                    collected.extend(values)
        return None

    def _parallel_limit(self, loop: ir.ForNode, frame: list[Any]) -> int:
        assert loop.limit is not None
        limit = self.evaluate(loop.limit, frame)
        if type(limit) is not int or limit < 1:
            raise FlowError(
                errors.EVAL,
                f"the parallel limit must be a positive int, found {to_text(limit)}",
                span=loop.span,
                flow=self.flow.name,
            )
        return int(limit)

    async def _run_while(
        self, loop: ir.WhileNode, frame: list[Any], place: Place, collected: list[Any] | None
    ) -> Signal:
        bound = DEFAULT_WHILE_BOUND if loop.max is None else self.evaluate(loop.max, frame)
        count = 0
        while self.evaluate(loop.cond, frame) is True:
            if count >= bound:
                raise FlowError(
                    errors.LOOP_LIMIT,
                    f"`while` loop exceeded its bound of {bound} iterations",
                    span=loop.span,
                    flow=self.flow.name,
                )
            await self.pause()
            signal = await self.exec_block(loop.body, frame, place.nested(count, collected))
            count += 1
            if signal is BREAK:
                break
            if isinstance(signal, Return):
                return signal
        return None


def _python_stack_depth() -> int:
    frame, depth = sys._getframe(1), 0
    while frame is not None:
        frame, depth = frame.f_back, depth + 1  # type: ignore[assignment]
    return depth


def _STACK_HEADROOM_LIMIT() -> int:
    """Frames a run may use before a sub-flow call is refused rather than crash the
    interpreter: deeply nested blocks around a call cost frames too."""
    return sys.getrecursionlimit() - 400


RECURSION_LIMIT: Final = 12_000
"""The interpreter's recursion limit while an engine runs (64 nested calls inside
nested blocks need a few thousand frames; the default 1,000 would end them early)."""


class Preempted(Exception):
    """An expression evaluation gave way to a pending deadline or interrupt."""


async def _give_way() -> None:
    """Two checkpoints: the first lets a pending interrupt request cancellation,
    the second delivers it (or the passed deadline) as ``trio.Cancelled``."""
    await trio.sleep(0)
    await trio.sleep(0)


class _Positions(Sequence[tuple[int, Any]]):
    """A list's (position, element) pairs, made as they are asked for (a million-item loop
    need not hold a million tuples)."""

    __slots__ = ("_items",)

    def __init__(self, items: list[Any]) -> None:
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, position: int) -> tuple[int, Any]: ...

    @overload
    def __getitem__(self, position: slice) -> Sequence[tuple[int, Any]]: ...

    def __getitem__(self, position: int | slice) -> Any:
        if isinstance(position, slice):
            return list(enumerate(self._items))[position]
        return position, self._items[position]


def _iteration_items(value: Any, with_index: bool) -> Sequence[tuple[Any, Any]]:
    """(index, item) pairs: list position and element, or map key and value."""
    if isinstance(value, list):
        return _Positions(value)
    if isinstance(value, dict):
        from flowc.common.values import user_key

        if with_index:
            return [(user_key(k), v) for k, v in value.items()]
        return [(i, user_key(k)) for i, k in enumerate(value)]
    raise FlowError(errors.EVAL, f"cannot iterate over {to_text(value)}")


def site_numbers(run: Run, flow: ir.FlowIR) -> dict[int, int]:
    """A number for every node of ``flow``, in source order (cached per run)."""
    numbers = run.sites.get(id(flow))
    if numbers is None:
        numbers = run.sites[id(flow)] = {}
        _number_block(flow.body, numbers)
    return numbers


def _number_block(block: ir.Block, numbers: dict[int, int]) -> None:
    for node in block.nodes:
        _number_node(node, numbers)


def _number_node(node: ir.Node, numbers: dict[int, int]) -> None:
    numbers[id(node)] = len(numbers)
    for field in attrs.fields(type(node)):
        _number_inner(getattr(node, field.name), numbers)


def _number_inner(value: Any, numbers: dict[int, int]) -> None:
    if isinstance(value, ir.Block):
        _number_block(value, numbers)
    elif isinstance(value, ir.ForNode | ir.WhileNode):
        _number_node(value, numbers)
    elif isinstance(value, ir.CatchIR):
        _number_block(value.body, numbers)
    elif isinstance(value, list | tuple):
        for item in value:
            _number_inner(item, numbers)


_HANDLERS: Final[dict[type, Callable[..., Awaitable[Signal]]]] = {
    ir.Compute: FlowInvocation._compute,
    ir.StepNode: FlowInvocation._step,
    ir.SleepNode: FlowInvocation._sleep,
    ir.WaitSignalNode: FlowInvocation._wait_signal,
    ir.LogNode: FlowInvocation._log,
    ir.AssertNode: FlowInvocation._assert,
    ir.FailNode: FlowInvocation._fail,
    ir.ReturnNode: FlowInvocation._return,
    ir.BreakNode: FlowInvocation._break,
    ir.ContinueNode: FlowInvocation._continue,
    ir.YieldNode: FlowInvocation._yield,
    ir.IfNode: FlowInvocation._if,
    ir.ParallelNode: FlowInvocation._parallel,
    ir.TryNode: FlowInvocation._try,
    ir.TimeoutNode: FlowInvocation._timeout,
    ir.RetryNode: FlowInvocation._retry,
    ir.LoopValueNode: FlowInvocation._loop_value,
    ir.ForNode: FlowInvocation._for,
    ir.WhileNode: FlowInvocation._while,
}
