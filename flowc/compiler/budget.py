"""The deadline budget: worst-case durations against enclosing timeouts.

For every ``timeout D { ... }`` block and every flow with a ``timeout``
clause, the checker computes how long the guarded code can take in the worst
case and warns when that exceeds ``D``, showing the arithmetic.

A step's worst case is ``tries x per-try timeout + the backoff waits``:
``tries`` is one plus the retry count, the per-try timeout comes from the step,
else its service, else the run-time default (30 s), and the waits follow the
backoff kind — fixed ``D`` waits ``D`` each time, linear waits ``D, 2D, ...``,
exponential waits ``D·F^i`` capped at ``max``.  Full jitter never waits
longer than that, so it does not change the bound.

Statements combine as one would expect: a sequence adds, ``if`` and
``parallel`` take the maximum of their branches (an empty ``parallel`` costs
nothing), ``try`` adds body, handler and ``finally``, a ``retry`` block
multiplies, a nested ``timeout`` caps, a loop multiplies its body by its
iteration count when that is known statically (a list literal or
``range(N)``; a parallel loop runs ``ceil(n / limit)`` rounds) and is
otherwise left out — the bound is a lower bound on the worst case, so a
warning is never a false alarm.

A ``call`` step costs what the called flow costs (capped by the call's own
``timeout``, or the callee's).  Flows are measured callees first
(``callgraph.callees_first``, without recursion, however long the chain).  A
call that closes a cycle — recursion is allowed, bounded at run time by the
call-depth limit — makes the worst case *unbounded*, and a warning about it
says why in words ("`a` calls itself through `b`").

The arithmetic is safe for every count, factor and duration the grammar
admits: durations are integer nanoseconds, products and sums *saturate* at
``SATURATED`` (2**64 ns, some 584 years, longer than any timeout can be), an
exponential backoff is summed in at most ``MAX_EXACT_WAITS`` steps (the rest
are bounded from below by the last wait, or by the cap once it is reached),
and floating-point overflow becomes saturation, never an exception.  Every
shortcut rounds down, so the result stays a lower bound.

Durations and counts must be constants to be counted: literals, or names of
``const`` declarations holding literals.
"""

from __future__ import annotations

from typing import Final

import attrs

from flowc.compiler import ast, messages
from flowc.compiler.callgraph import CallOrder, call_actions, callees_first, describe_cycle
from flowc.compiler.scope import CheckInfo
from flowc.compiler.symbols import FlowInfo, ModuleSymbols, ServiceInfo

DEFAULT_STEP_TIMEOUT_NS: Final = 30_000_000_000
SECOND: Final = 1_000_000_000
#: Where worst cases stop growing: more than any `timeout` can say (int64 ns).
SATURATED: Final = 2**64
#: Backoff waits computed one by one before the rest are bounded in bulk.
MAX_EXACT_WAITS: Final = 1000
#: How many `const` names a duration may go through (`const A = B`).
MAX_CONST_CHAIN: Final = 64


def saturate(nanos: int) -> int:
    return min(nanos, SATURATED)


def format_duration(nanos: int) -> str:
    """``1m30s``, ``2.5s``, ``250ms`` — the shortest exact-enough form."""
    if nanos >= SATURATED:
        return "more than 584 years"
    if nanos == 0:
        return "0s"
    if nanos < SECOND:
        millis = nanos / 1_000_000
        return f"{millis:g}ms"
    seconds = nanos / SECOND
    if seconds < 60:
        return f"{seconds:.3g}s" if seconds != int(seconds) else f"{int(seconds)}s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{rest}s" if rest else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m" if minutes else f"{hours}h"


@attrs.define
class Cost:
    """A worst case: nanoseconds (saturating), the arithmetic that led there,
    and, when there is no bound at all, why (``unbounded``)."""

    nanos: int = 0
    parts: list[str] = attrs.field(factory=list)
    unbounded: str | None = None

    def add(self, other: Cost) -> None:
        self.nanos = saturate(self.nanos + other.nanos)
        self.parts.extend(other.parts)
        self.unbounded = self.unbounded or other.unbounded

    def times(self, count: int) -> int:
        return saturate(self.nanos * count)

    def describe(self) -> str:
        return "an unbounded time" if self.unbounded else format_duration(self.nanos)

    @property
    def matters(self) -> bool:
        return bool(self.nanos) or self.unbounded is not None


def worst(options: list[Cost]) -> Cost:
    """The slowest of several alternatives (nothing for no alternative)."""
    if not options:
        return Cost()
    unbounded = [c for c in options if c.unbounded]
    return unbounded[0] if unbounded else max(options, key=lambda c: c.nanos)


class FlowCosts:
    """The capped worst case of every flow, measured callees first."""

    def __init__(self, info: CheckInfo, order: CallOrder) -> None:
        self.info = info
        self.order = order
        self.costs: dict[int, Cost] = {}

    def measure_all(self) -> None:
        for flow in self.order.flows:
            checker = BudgetChecker(flow.module, self.info, self, flow)
            body = checker.block(flow.decl.body)
            limit = _flow_timeout(flow, checker)
            if limit is not None:
                checker.compare(flow.decl.span, body, limit, f"flow `{flow.name}`")
                body = _capped(body, limit)
            self.costs[id(flow)] = body

    def of_call(self, caller: FlowInfo | None, callee: FlowInfo) -> Cost:
        known = self.costs.get(id(callee))
        if known is not None:
            return known
        cycle = self.order.cycle(caller, callee) if caller is not None else None
        reason = describe_cycle(cycle) if cycle else f"`{callee.name}` is still being measured"
        return Cost(unbounded=reason)


class BudgetChecker:
    def __init__(
        self,
        module: ModuleSymbols,
        info: CheckInfo,
        flows: FlowCosts | None = None,
        flow: FlowInfo | None = None,
    ) -> None:
        self.module = module
        self.info = info
        self.flows = flows
        self.flow = flow

    # ----------------------------------------------------------- constants

    def constant(self, expr: ast.Expr | None) -> int | None:
        """The value of a duration (ns) or int constant expression, if known."""
        for _ in range(MAX_CONST_CHAIN):
            if isinstance(expr, ast.DurationLit):
                return expr.nanos
            if isinstance(expr, ast.Literal) and expr.kind in ("int", "uint"):
                return int(expr.value)  # type: ignore[arg-type]
            if not isinstance(expr, ast.Name):
                return None
            symbol = self.info.references.get(id(expr)) or self.module.lookup_value(expr.id)
            if (
                symbol is None
                or symbol.kind != "const"
                or not isinstance(symbol.node, ast.ConstDecl)
            ):
                return None
            expr = symbol.node.value
        return None

    # ----------------------------------------------------------- statements

    def block(self, stmts: tuple[ast.Stmt, ...]) -> Cost:
        total = Cost()
        for stmt in stmts:
            cost = self.stmt(stmt)
            if cost.matters:
                total.add(cost)
        return total

    def stmt(self, stmt: ast.Stmt) -> Cost:
        method = getattr(self, "_" + type(stmt).__name__, None)
        if method is None:
            return Cost()
        result: Cost = method(stmt)
        return result

    def _StepStmt(self, stmt: ast.StepStmt) -> Cost:
        clauses = {_key(c): c for c in stmt.clauses}
        target = self.info.step_targets.get(id(stmt.action))
        service_clauses = target.clauses if isinstance(target, ServiceInfo) else {}
        retry = clauses.get("retry") or service_clauses.get("retry")
        policy = retry.policy if isinstance(retry, ast.RetryClause) else None
        per_try = self._per_try(clauses, service_clauses, target)
        if per_try is None:
            return Cost()
        tries, waits = self.retry_cost(policy)
        if per_try.unbounded:
            callee = target.name if isinstance(target, FlowInfo) else "?"
            text = f"step `{stmt.name}`: calls `{callee}`, whose worst case has no bound"
            return Cost(parts=[text], unbounded=per_try.unbounded)
        nanos = saturate(per_try.times(tries) + waits)
        detail = format_duration(per_try.nanos)
        if tries > 1:
            detail = f"{tries} tries x {detail}"
        if waits:
            detail += f" + {format_duration(waits)} backoff"
        if (
            "timeout" not in clauses
            and "timeout" not in service_clauses
            and not isinstance(target, FlowInfo)
        ):
            detail += " (default timeout)"
        return Cost(nanos, [f"step `{stmt.name}`: {detail} = {format_duration(nanos)}"])

    def _per_try(
        self,
        clauses: dict[str, ast.Clause],
        service_clauses: dict[str, ast.Clause],
        target: object,
    ) -> Cost | None:
        timeout = clauses.get("timeout") or service_clauses.get("timeout")
        if isinstance(timeout, ast.ValueClause):
            nanos = self.constant(timeout.value)
            return None if nanos is None else Cost(nanos)
        if isinstance(target, FlowInfo):
            return self.flows.of_call(self.flow, target) if self.flows is not None else None
        return Cost(DEFAULT_STEP_TIMEOUT_NS)

    def retry_cost(self, policy: ast.RetryPolicy | None) -> tuple[int, int]:
        """(number of tries, total backoff wait in ns) of a retry policy."""
        if policy is None:
            return 1, 0
        count = max(self.constant(policy.count) or 0, 0)
        backoff = policy.backoff
        if backoff is None or count == 0:
            return count + 1, 0
        delay = max(self.constant(backoff.delay) or 0, 0)
        cap = self.constant(backoff.max) if backoff.max is not None else None
        return count + 1, backoff_waits(backoff.kind, delay, _factor(backoff.factor), count, cap)

    def _SleepStmt(self, stmt: ast.SleepStmt) -> Cost:
        nanos = self.constant(stmt.duration)
        return Cost(nanos, [f"sleep {format_duration(nanos)}"]) if nanos else Cost()

    def _LetStmt(self, stmt: ast.LetStmt) -> Cost:
        return self.wait_cost(stmt.value)

    def _AssignStmt(self, stmt: ast.AssignStmt) -> Cost:
        return self.wait_cost(stmt.value)

    def wait_cost(self, value: ast.Value) -> Cost:
        """A ``wait signal`` may take its whole timeout (other values cost nothing)."""
        if not isinstance(value, ast.WaitSignal):
            return Cost()
        nanos = self.constant(value.timeout)
        return Cost(nanos, [f"wait signal {format_duration(nanos)}"]) if nanos else Cost()

    def _IfStmt(self, stmt: ast.IfStmt) -> Cost:
        options = [self.block(arm.body) for arm in stmt.arms]
        if stmt.orelse is not None:
            options.append(self.block(stmt.orelse))
        return worst(options)

    def _ParallelStmt(self, stmt: ast.ParallelStmt) -> Cost:
        slowest = worst([self.block(b.body) for b in stmt.branches])
        if not slowest.matters:
            return Cost()
        text = f"parallel (slowest branch): {slowest.describe()}"
        return Cost(slowest.nanos, [text], slowest.unbounded)

    def _TryStmt(self, stmt: ast.TryStmt) -> Cost:
        total = self.block(stmt.body)
        for clause in stmt.catches:
            total.add(self.block(clause.body))
        total.add(self.block(stmt.finally_body or ()))
        return total

    def _RetryStmt(self, stmt: ast.RetryStmt) -> Cost:
        body = self.block(stmt.body)
        tries, waits = self.retry_cost(stmt.policy)
        nanos = saturate(body.times(tries) + waits)
        text = f"retry block: {tries} tries x {body.describe()} + {format_duration(waits)} backoff"
        return Cost(nanos, [text], body.unbounded)

    def _TimeoutStmt(self, stmt: ast.TimeoutStmt) -> Cost:
        body = self.block(stmt.body)
        limit = self.constant(stmt.duration)
        if limit is None:
            return body
        self.compare(stmt.span, body, limit, "this `timeout` block")
        capped = _capped(body, limit)
        return Cost(capped.nanos, [f"timeout block: at most {format_duration(capped.nanos)}"])

    def _LoopStmt(self, stmt: ast.LoopStmt) -> Cost:
        loop = stmt.loop
        if not isinstance(loop, ast.ForLoop):
            return Cost()
        count = self._iterations(loop.iterable)
        if count is None or count <= 0:
            return Cost()
        rounds = count
        if loop.parallel:
            limit = self.constant(loop.limit) if loop.limit is not None else count
            rounds = -(-count // limit) if limit and limit > 0 else 1
        body = self.block(loop.body)
        text = f"loop: {rounds} rounds x {body.describe()}"
        return Cost(body.times(rounds), [text], body.unbounded)

    def _iterations(self, iterable: ast.Expr) -> int | None:
        if isinstance(iterable, ast.ListLit):
            return len(iterable.items)
        if isinstance(iterable, ast.Call) and iterable.func == "range" and len(iterable.args) == 1:
            return self.constant(iterable.args[0])
        return None

    # ----------------------------------------------------------- warnings

    def compare(self, span: ast.Span, cost: Cost, limit: int, what: str) -> None:
        if cost.nanos <= limit and not cost.unbounded:
            return
        head = ast.Span(span.file, span.line, span.col, span.line, span.col + 1)
        arithmetic = "\n".join(cost.parts[:8])
        if cost.unbounded:
            total = f"the worst case is unbounded: {cost.unbounded}"
        else:
            total = f"total {format_duration(cost.nanos)} > {format_duration(limit)}"
        self.info.sink.add(
            messages.DEADLINE_EXCEEDED(
                head,
                what=what,
                worst=cost.describe(),
                limit=format_duration(limit),
                help=f"{arithmetic}\n{total}" if arithmetic else total,
            )
        )


def backoff_waits(kind: str, delay: int, factor: float, count: int, cap: int | None) -> int:
    """The total of ``count`` backoff waits (ns), saturating; a lower bound
    whenever a shortcut is taken."""
    if kind == "fixed":
        return saturate(_cap_each(delay, cap) * count)
    if kind == "linear":
        if cap is None or delay == 0:
            return saturate(delay * (count * (count + 1) // 2))
        uncapped = min(count, cap // delay)  # waits D, 2D, ... below the cap
        return saturate(delay * (uncapped * (uncapped + 1) // 2) + cap * (count - uncapped))
    return _exponential_waits(delay, factor, count, cap)


def _exponential_waits(delay: int, factor: float, count: int, cap: int | None) -> int:
    """``sum(min(delay * factor**i, cap) for i in range(count))``, computed as
    the runtime does (floats), saturating, in at most ``MAX_EXACT_WAITS`` steps."""
    if delay == 0:  # no base, no wait, however large the growth (0 * inf is NaN)
        return 0
    total = last = 0
    exact = min(count, MAX_EXACT_WAITS)
    for done in range(exact):
        try:
            last = _nanos(delay * factor**done)
        except OverflowError:
            last = SATURATED
        if cap is not None and last >= cap:
            if factor >= 1:  # every later wait is capped too
                return saturate(total + cap * (count - done))
            last = cap
        total += last
        if total >= SATURATED:
            return SATURATED
    if factor >= 1:  # each later wait is at least the last one computed
        total += last * (count - exact)
    return saturate(total)


def _cap_each(wait: int, cap: int | None) -> int:
    return wait if cap is None else min(wait, cap)


def _nanos(value: float) -> int:
    """A float wait as whole nanoseconds (rounded down), saturating."""
    if not value < SATURATED:  # also infinity and NaN
        return SATURATED if value == value else 0
    return max(int(value), 0)


def _capped(cost: Cost, limit: int) -> Cost:
    """What a timeout of ``limit`` lets ``cost`` take: at most the limit."""
    return Cost(min(cost.nanos, limit) if not cost.unbounded else limit, cost.parts)


def _key(clause: ast.Clause) -> str:
    from flowc.compiler.clausecheck import clause_keyword

    return clause_keyword(clause)


def _factor(expr: ast.Expr | None) -> float:
    if isinstance(expr, ast.Literal) and isinstance(expr.value, int | float):
        try:
            factor = float(expr.value)
        except OverflowError:  # an int literal too large for a float: out of range anyway
            return 2.0
        return factor if factor > 0 else 2.0
    return 2.0


def _flow_timeout(flow: FlowInfo, checker: BudgetChecker) -> int | None:
    for clause in flow.decl.clauses:
        if isinstance(clause, ast.ValueClause) and clause.keyword == "timeout":
            return checker.constant(clause.value)
    return None


def check_budgets(modules: dict[str, ModuleSymbols], info: CheckInfo) -> None:
    flows = [flow for module in modules.values() for flow in module.flows.values()]

    def callees(flow: FlowInfo) -> list[FlowInfo]:
        targets = (info.step_targets.get(id(action)) for action in call_actions(flow.decl.body))
        return [target for target in targets if isinstance(target, FlowInfo)]

    FlowCosts(info, callees_first(flows, callees)).measure_all()
