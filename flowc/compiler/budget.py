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
``parallel`` take the maximum of their branches, ``try`` adds body, handler
and ``finally``, a ``retry`` block multiplies, a nested ``timeout`` caps, a
loop multiplies its body by its iteration count when that is known statically
(a list literal or ``range(N)``; a parallel loop runs ``ceil(n / limit)``
rounds) and is otherwise left out — the bound is a lower bound on the worst
case, so a warning is never a false alarm.

Durations and counts must be constants to be counted: literals, or names of
``const`` declarations holding literals.
"""

from __future__ import annotations

import math
from typing import Final

import attrs

from flowc.compiler import ast, messages
from flowc.compiler.scope import CheckInfo
from flowc.compiler.symbols import FlowInfo, ModuleSymbols, ServiceInfo

DEFAULT_STEP_TIMEOUT_NS: Final = 30_000_000_000
SECOND: Final = 1_000_000_000


def format_duration(nanos: int) -> str:
    """``1m30s``, ``2.5s``, ``250ms`` — the shortest exact-enough form."""
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
    nanos: int = 0
    parts: list[str] = attrs.field(factory=list)

    def add(self, other: Cost) -> None:
        self.nanos += other.nanos
        self.parts.extend(other.parts)


class BudgetChecker:
    def __init__(self, module: ModuleSymbols, info: CheckInfo) -> None:
        self.module = module
        self.info = info
        self.flow_costs: dict[int, Cost] = {}

    # ----------------------------------------------------------- constants

    def constant(self, expr: ast.Expr | None) -> int | None:
        """The value of a duration (ns) or int constant expression, if known."""
        if isinstance(expr, ast.DurationLit):
            return expr.nanos
        if isinstance(expr, ast.Literal) and expr.kind in ("int", "uint"):
            return int(expr.value)  # type: ignore[arg-type]
        if isinstance(expr, ast.Name):
            symbol = self.module.lookup_value(expr.id)
            if (
                symbol is not None
                and symbol.kind == "const"
                and isinstance(symbol.node, ast.ConstDecl)
            ):
                return self.constant(symbol.node.value)
        return None

    # ----------------------------------------------------------- statements

    def block(self, stmts: tuple[ast.Stmt, ...]) -> Cost:
        total = Cost()
        for stmt in stmts:
            cost = self.stmt(stmt)
            if cost.nanos:
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
        per_try = self._per_try(stmt, clauses, service_clauses, target)
        if per_try is None:
            return Cost()
        tries, waits = self.retry_cost(policy)
        nanos = tries * per_try + waits
        detail = format_duration(per_try)
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
        stmt: ast.StepStmt,
        clauses: dict[str, ast.Clause],
        service_clauses: dict[str, ast.Clause],
        target: object,
    ) -> int | None:
        timeout = clauses.get("timeout") or service_clauses.get("timeout")
        if isinstance(timeout, ast.ValueClause):
            return self.constant(timeout.value)
        if isinstance(target, FlowInfo):
            return self.flow_cost(target).nanos
        return DEFAULT_STEP_TIMEOUT_NS

    def retry_cost(self, policy: ast.RetryPolicy | None) -> tuple[int, int]:
        """(number of tries, total backoff wait in ns) of a retry policy."""
        if policy is None:
            return 1, 0
        count = self.constant(policy.count) or 0
        backoff = policy.backoff
        if backoff is None or count == 0:
            return count + 1, 0
        delay = self.constant(backoff.delay) or 0
        cap = self.constant(backoff.max) if backoff.max is not None else None
        factor = _factor(backoff.factor)
        waits = [_wait(backoff.kind, delay, factor, i) for i in range(count)]
        if cap is not None:
            waits = [min(w, cap) for w in waits]
        return count + 1, sum(waits)

    def _SleepStmt(self, stmt: ast.SleepStmt) -> Cost:
        nanos = self.constant(stmt.duration)
        return Cost(nanos, [f"sleep {format_duration(nanos)}"]) if nanos else Cost()

    def _IfStmt(self, stmt: ast.IfStmt) -> Cost:
        options = [self.block(arm.body) for arm in stmt.arms]
        if stmt.orelse is not None:
            options.append(self.block(stmt.orelse))
        return max(options, key=lambda c: c.nanos)

    def _ParallelStmt(self, stmt: ast.ParallelStmt) -> Cost:
        worst = max((self.block(b.body) for b in stmt.branches), key=lambda c: c.nanos)
        return Cost(worst.nanos, [f"parallel (slowest branch): {format_duration(worst.nanos)}"])

    def _TryStmt(self, stmt: ast.TryStmt) -> Cost:
        total = self.block(stmt.body)
        total.add(self.block(stmt.catch_body or ()))
        total.add(self.block(stmt.finally_body or ()))
        return total

    def _RetryStmt(self, stmt: ast.RetryStmt) -> Cost:
        body = self.block(stmt.body)
        tries, waits = self.retry_cost(stmt.policy)
        nanos = tries * body.nanos + waits
        return Cost(
            nanos,
            [
                f"retry block: {tries} tries x {format_duration(body.nanos)}"
                f" + {format_duration(waits)} backoff"
            ],
        )

    def _TimeoutStmt(self, stmt: ast.TimeoutStmt) -> Cost:
        body = self.block(stmt.body)
        limit = self.constant(stmt.duration)
        if limit is None:
            return body
        self.compare(stmt.span, body, limit, "this `timeout` block")
        capped = min(body.nanos, limit)
        return Cost(capped, [f"timeout block: at most {format_duration(capped)}"])

    def _LoopStmt(self, stmt: ast.LoopStmt) -> Cost:
        loop = stmt.loop
        if not isinstance(loop, ast.ForLoop):
            return Cost()
        count = self._iterations(loop.iterable)
        if count is None:
            return Cost()
        rounds = count
        if loop.parallel:
            limit = self.constant(loop.limit) if loop.limit is not None else count
            rounds = math.ceil(count / limit) if limit else 1
        body = self.block(loop.body)
        return Cost(rounds * body.nanos, [f"loop: {rounds} rounds x {format_duration(body.nanos)}"])

    def _iterations(self, iterable: ast.Expr) -> int | None:
        if isinstance(iterable, ast.ListLit):
            return len(iterable.items)
        if isinstance(iterable, ast.Call) and iterable.func == "range" and len(iterable.args) == 1:
            return self.constant(iterable.args[0])
        return None

    # ----------------------------------------------------------- flows

    def flow_cost(self, flow: FlowInfo) -> Cost:
        key = id(flow)
        if key not in self.flow_costs:
            self.flow_costs[key] = Cost()  # recursion guard
            body = BudgetChecker(flow.module, self.info).block(flow.decl.body)
            limit = _flow_timeout(flow, self)
            if limit is not None:
                body = Cost(min(body.nanos, limit), body.parts)
            self.flow_costs[key] = body
        return self.flow_costs[key]

    def check_flow(self, flow: FlowInfo) -> None:
        body = self.block(flow.decl.body)
        limit = _flow_timeout(flow, self)
        if limit is not None:
            self.compare(flow.decl.span, body, limit, f"flow `{flow.name}`")

    def compare(self, span: ast.Span, cost: Cost, limit: int, what: str) -> None:
        if cost.nanos <= limit:
            return
        head = ast.Span(span.file, span.line, span.col, span.line, span.col + 1)
        arithmetic = "\n".join(cost.parts[:8])
        total = f"total {format_duration(cost.nanos)} > {format_duration(limit)}"
        self.info.sink.add(
            messages.DEADLINE_EXCEEDED(
                head,
                what=what,
                worst=format_duration(cost.nanos),
                limit=format_duration(limit),
                help=f"{arithmetic}\n{total}",
            )
        )


def _key(clause: ast.Clause) -> str:
    from flowc.compiler.clausecheck import clause_keyword

    return clause_keyword(clause)


def _factor(expr: ast.Expr | None) -> float:
    if isinstance(expr, ast.Literal) and isinstance(expr.value, int | float):
        return float(expr.value)
    return 2.0


def _wait(kind: str, delay: int, factor: float, attempt: int) -> int:
    if kind == "fixed":
        return delay
    if kind == "linear":
        return delay * (attempt + 1)
    return int(delay * factor**attempt)


def _flow_timeout(flow: FlowInfo, checker: BudgetChecker) -> int | None:
    for clause in flow.decl.clauses:
        if isinstance(clause, ast.ValueClause) and clause.keyword == "timeout":
            return checker.constant(clause.value)
    return None


def check_budgets(modules: dict[str, ModuleSymbols], info: CheckInfo) -> None:
    for module in modules.values():
        checker = BudgetChecker(module, info)
        for flow in module.flows.values():
            checker.check_flow(flow)
