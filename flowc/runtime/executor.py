"""The executor: runs lowered flows on trio.

A flow invocation (``FlowRun``) owns a *frame* — a list with one slot per name
(``ir.FlowIR.frame_size``) — and walks its IR blocks.  ``exec_block`` runs the
nodes of a block in program order, except inside the block's *segments*
(runs of pure computations and safe steps, see ``compiler/ir.py``), where a
small dataflow scheduler starts each node as soon as the nodes it depends on
have finished; ``--sequential`` turns that off.

Control flow returns *signals* rather than raising: ``exec_block`` returns
``None`` when control falls off the end, or a ``Return``/``BREAK``/
``CONTINUE``, which each compound node passes up or consumes.  Failures are
``FlowError`` exceptions.

Structured concurrency: a ``parallel`` block, a parallel loop and an
overlapped segment are trio nurseries run by ``run_all``, which remembers the
first ``FlowError``, cancels the siblings and re-raises that error alone (no
exception groups reach the language).  A parallel loop with a limit runs
``limit`` worker tasks that take items from a shared counter, so 10,000 items
never means 10,000 tasks.  Each iteration of a parallel loop works on its own
copy of the frame: the checker guarantees it never writes an outer ``var``.

Timeouts are cancel scopes (``trio.move_on_after``); a cancelled scope becomes
a ``timeout`` error at the boundary that owns it, so an HTTP request in flight
is aborted.  Compensations: when a step with a ``compensate`` block succeeds,
the block and a snapshot of the frame are pushed on the invocation's stack;
if an error escapes the flow, the stack runs in reverse order (shielded from
cancellation, so Ctrl-C still undoes what was done), then the error goes on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

import attrs
import trio

from flowc.common import errors
from flowc.common.errors import FlowError
from flowc.common.values import Duration, EvalError, to_text
from flowc.compiler import ir

if TYPE_CHECKING:
    from flowc.runtime.session import RunSession

DEFAULT_WHILE_BOUND: Final = 10_000
#: Sub-flow calls nested deeper than this fail with a ``call_depth`` error
#: (recursion is allowed; one that does not stop ends here, not in a crash).
MAX_CALL_DEPTH: Final = 64


@attrs.frozen
class Return:
    value: Any


class _Jump:
    def __init__(self, name: str) -> None:
        self.name = name


BREAK: Final = _Jump("break")
CONTINUE: Final = _Jump("continue")
Signal = Return | _Jump | None


@attrs.define
class Place:
    """Where execution is: the call path and loop indices (which make a step's
    stable key, e.g. ``checkout/charge[3]``) and the current yield collector."""

    indices: tuple[int, ...] = ()
    yields: list[Any] | None = None
    prefix: str = ""

    def step_key(self, name: str) -> str:
        return self.prefix + name + "".join(f"[{i}]" for i in self.indices)

    def nested(self, position: int, yields: list[Any] | None) -> Place:
        """The place of one iteration of a loop."""
        return Place((*self.indices, position), yields, self.prefix)


def seconds(value: Any, what: str) -> float:
    if isinstance(value, Duration):
        return value.nanos / 1_000_000_000
    raise FlowError(errors.EVAL, f"{what} must be a duration, found {to_text(value)}")


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

    async with trio.open_nursery() as nursery:
        for thunk in thunks:
            nursery.start_soon(guarded, thunk, nursery.cancel_scope)
    if failures:
        raise failures[0]


class FlowRun:
    """One invocation of one flow."""

    def __init__(self, session: RunSession, flow: ir.FlowIR, prefix: str = "") -> None:
        self.session = session
        self.flow = flow
        self.prefix = prefix  # the call path of a sub-flow: "caller_step/"
        self.frame: list[Any] = [None] * flow.frame_size
        # (the invocation that registered it, the block, a frame snapshot, the place)
        self.compensations: list[tuple[FlowRun, ir.Block, list[Any], Place]] = []

    # ----------------------------------------------------------- entry

    async def run(self, args: dict[str, Any]) -> Any:
        flow = self.flow
        self.frame[flow.run_slot] = {
            "id": self.session.run_id,
            "flow": flow.name,
            "attempt": self.session.attempt,
        }
        self._bind_params(args)
        self.session.tracer.emit("flow_started", flow=flow.name)
        try:
            result = await self._run_body()
        except FlowError as error:
            error.located(flow.span, flow.name)
            await self.compensate(error)
            self.session.tracer.emit("flow_failed", flow=flow.name, error=error.record())
            raise
        except trio.Cancelled:
            await self.compensate(None)
            raise
        self.session.tracer.emit("flow_finished", flow=flow.name)
        return result

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
        if flow.timeout is None:
            signal = await self.exec_block(flow.body, self.frame, Place(prefix=self.prefix))
        else:
            limit = seconds(self.evaluate(flow.timeout), "a flow timeout")
            with trio.move_on_after(limit) as scope:
                signal = await self.exec_block(flow.body, self.frame, Place(prefix=self.prefix))
            if scope.cancelled_caught:
                raise FlowError(
                    errors.TIMEOUT,
                    f"flow `{flow.name}` timed out after {to_text(self.evaluate(flow.timeout))}",
                    span=flow.span,
                )
        return signal.value if isinstance(signal, Return) else None

    async def compensate(self, error: FlowError | None) -> None:
        """Run the compensations of completed steps, newest first."""
        if not self.compensations:
            return
        with trio.CancelScope(shield=True):
            while self.compensations:
                owner, block, frame, place = self.compensations.pop()
                self.session.tracer.emit(
                    "compensation_started",
                    flow=self.flow.name,
                    cause=error.kind if error else "cancelled",
                )
                try:
                    await owner.exec_block(block, frame, place)
                except FlowError as failure:
                    self.session.report(
                        f"compensation failed in flow `{self.flow.name}`: {failure.describe()}"
                    )

    # ----------------------------------------------------------- expressions

    def evaluate(self, expr: ir.Expr, frame: list[Any] | None = None) -> Any:
        try:
            return expr.run(self.frame if frame is None else frame)
        except EvalError as error:
            raise FlowError(errors.EVAL, str(error), span=expr.span, flow=self.flow.name) from None

    # ----------------------------------------------------------- blocks

    async def exec_block(self, block: ir.Block, frame: list[Any], place: Place) -> Signal:
        nodes = block.nodes
        if not block.segments or self.session.sequential:
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
        result: Signal = await handler(self, node, frame, place)
        return result

    # ----------------------------------------------------------- simple nodes

    async def _compute(self, node: ir.Compute, frame: list[Any], place: Place) -> Signal:
        frame[node.slot] = self.evaluate(node.value, frame)
        return None

    async def _step(self, node: ir.StepNode, frame: list[Any], place: Place) -> Signal:
        from flowc.runtime.stepexec import run_step

        await run_step(self, node, frame, place)
        return None

    async def _sleep(self, node: ir.SleepNode, frame: list[Any], place: Place) -> Signal:
        await trio.sleep(max(seconds(self.evaluate(node.duration, frame), "`sleep`"), 0.0))
        return None

    async def _log(self, node: ir.LogNode, frame: list[Any], place: Place) -> Signal:
        value = self.evaluate(node.value, frame)
        text = value if isinstance(value, str) else to_text(value)
        self.session.log(self.flow.name, text, node.span)
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
        message = value if isinstance(value, str) else to_text(value)
        raise FlowError(errors.FAIL, message, span=node.span, flow=self.flow.name, value=value)

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

        await run_all([branch(b) for b in node.branches])
        return None

    async def _try(self, node: ir.TryNode, frame: list[Any], place: Place) -> Signal:
        try:
            signal = await self.exec_block(node.body, frame, place)
        except FlowError as error:
            if node.catch is None:
                raise
            if node.catch_slot is not None:
                frame[node.catch_slot] = error.record()
            self.session.tracer.emit("caught", flow=self.flow.name, error=error.record())
            signal = await self.exec_block(node.catch, frame, place)
        finally:
            if node.finally_ is not None:
                # Cleanup runs even when the body was cancelled (a timeout block, a
                # failing sibling, Ctrl-C): shielded, bounded by its steps' own timeouts.
                with trio.CancelScope(shield=True):
                    final = await self.exec_block(node.finally_, frame, place)
                if isinstance(final, Return):
                    return final  # noqa: B012 - a `return` in `finally` wins, as in Python
        return signal

    async def _timeout(self, node: ir.TimeoutNode, frame: list[Any], place: Place) -> Signal:
        duration = self.evaluate(node.duration, frame)
        with trio.move_on_after(max(seconds(duration, "`timeout`"), 0.0)) as scope:
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
        from flowc.runtime.stepexec import RetryDecider

        decider = RetryDecider(self, node.retry, frame)
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self.exec_block(node.body, frame, place)
            except FlowError as error:
                delay = decider.delay_after(error, attempt, retry_after=None)
                if delay is None:
                    raise
                self.session.tracer.emit(
                    "block_retry", flow=self.flow.name, attempt=attempt, error=error.record()
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
        if loop.parallel:
            return await self._run_parallel_for(loop, items, frame, place, collected)
        return await self._run_sequential_for(loop, items, frame, place, collected)

    async def _run_sequential_for(
        self,
        loop: ir.ForNode,
        items: list[tuple[Any, Any]],
        frame: list[Any],
        place: Place,
        collected: list[Any] | None,
    ) -> Signal:
        for position, (index, item) in enumerate(items):
            frame[loop.var_slot] = item
            if loop.index_slot is not None:
                frame[loop.index_slot] = index
            inner = place.nested(position, collected)
            signal = await self.exec_block(loop.body, frame, inner)
            if signal is BREAK:
                break
            if isinstance(signal, Return):
                return signal
        return None

    async def _run_parallel_for(
        self,
        loop: ir.ForNode,
        items: list[tuple[Any, Any]],
        frame: list[Any],
        place: Place,
        collected: list[Any] | None,
    ) -> Signal:
        results: list[list[Any]] = [[] for _ in items] if collected is not None else []
        returned: list[Return] = []  # the first iteration to `return` ends the loop and the flow
        limit = len(items)
        if loop.limit is not None:
            limit = self.evaluate(loop.limit, frame)
            if not isinstance(limit, int) or limit < 1:
                raise FlowError(
                    errors.EVAL,
                    f"the parallel limit must be a positive int, found {to_text(limit)}",
                    span=loop.span,
                    flow=self.flow.name,
                )
        next_item = iter(range(len(items)))

        async def iteration(position: int) -> None:
            index, item = items[position]
            local = list(frame)
            local[loop.var_slot] = item
            if loop.index_slot is not None:
                local[loop.index_slot] = index
            sink = results[position] if collected is not None else None
            signal = await self.exec_block(loop.body, local, place.nested(position, sink))
            if isinstance(signal, Return) and not returned:
                returned.append(signal)
                cancel_scope.cancel()  # `return`: the other iterations are cancelled

        async def worker() -> None:
            for position in next_item:
                await iteration(position)

        with trio.CancelScope() as cancel_scope:
            await run_all([worker for _ in range(min(limit, max(len(items), 1)))])
        if returned:
            return returned[0]
        if collected is not None:
            for values in results:
                collected.extend(values)
        return None

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
            signal = await self.exec_block(loop.body, frame, place.nested(count, collected))
            count += 1
            if signal is BREAK:
                break
            if isinstance(signal, Return):
                return signal
        return None


def _iteration_items(value: Any, with_index: bool) -> list[tuple[Any, Any]]:
    """(index, item) pairs: list position and element, or map key and value."""
    if isinstance(value, list):
        return list(enumerate(value))
    if isinstance(value, dict):
        from flowc.common.values import user_key

        if with_index:
            return [(user_key(k), v) for k, v in value.items()]
        return [(i, user_key(k)) for i, k in enumerate(value)]
    raise FlowError(errors.EVAL, f"cannot iterate over {to_text(value)}")


_HANDLERS: Final[dict[type, Callable[..., Awaitable[Signal]]]] = {
    ir.Compute: FlowRun._compute,
    ir.StepNode: FlowRun._step,
    ir.SleepNode: FlowRun._sleep,
    ir.LogNode: FlowRun._log,
    ir.AssertNode: FlowRun._assert,
    ir.FailNode: FlowRun._fail,
    ir.ReturnNode: FlowRun._return,
    ir.BreakNode: FlowRun._break,
    ir.ContinueNode: FlowRun._continue,
    ir.YieldNode: FlowRun._yield,
    ir.IfNode: FlowRun._if,
    ir.ParallelNode: FlowRun._parallel,
    ir.TryNode: FlowRun._try,
    ir.TimeoutNode: FlowRun._timeout,
    ir.RetryNode: FlowRun._retry,
    ir.LoopValueNode: FlowRun._loop_value,
    ir.ForNode: FlowRun._for,
    ir.WhileNode: FlowRun._while,
}
