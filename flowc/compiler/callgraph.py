"""The call graph of flows: who calls whom, callees first, and the cycles.

Two checker phases need flows in callee-first order: the type checker (a
caller needs the inferred result type of a flow it calls) and the deadline
budget (a caller's worst case includes its callees').  Both used to get that
order by recursing from caller to callee, which a chain of a few hundred
flows, each calling the next, turned into a ``RecursionError``.  This module
computes the order with an explicit stack instead, so the length of a call
chain costs memory, never interpreter stack.

``callees_first(roots, callees)`` is an iterative depth-first search that
returns every flow reachable from ``roots`` in *post-order* (each flow after
every flow it calls, except along a cycle) and the *back edges* it met: a
call from a flow to one of its own callers, still on the search path.  Each
back edge carries that path, from the called flow to the caller, which is
exactly the cycle, so a message can say "`a` calls itself through `b`".

Calls appear only as step actions (``step r = call f(...)``), so finding a
flow's callees walks statements and their blocks — compensation blocks
included — and never expressions (``call_actions``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import attrs

from flowc.compiler import ast
from flowc.compiler.symbols import FlowInfo


@attrs.define(eq=False)
class CallOrder:
    """Flows callees-first, and the calls that close a cycle."""

    flows: list[FlowInfo]
    #: (id(caller), id(callee)) -> the cycle, from the callee round to the caller
    back_edges: dict[tuple[int, int], list[FlowInfo]]

    def cycle(self, caller: FlowInfo, callee: FlowInfo) -> list[FlowInfo] | None:
        """The cycle a call from ``caller`` to ``callee`` closes, if it closes one."""
        return self.back_edges.get((id(caller), id(callee)))


def callees_first(
    roots: Iterable[FlowInfo], callees: Callable[[FlowInfo], Sequence[FlowInfo]]
) -> CallOrder:
    """Every flow reachable from ``roots``, each after the flows it calls."""
    order: list[FlowInfo] = []
    back_edges: dict[tuple[int, int], list[FlowInfo]] = {}
    finished: set[int] = set()
    for root in roots:
        if id(root) in finished:
            continue
        path: list[FlowInfo] = [root]
        on_path: dict[int, int] = {id(root): 0}  # id(flow) -> its index in ``path``
        pending: list[list[FlowInfo]] = [list(reversed(callees(root)))]
        while pending:
            if not pending[-1]:
                done = path.pop()
                pending.pop()
                del on_path[id(done)]
                finished.add(id(done))
                order.append(done)
                continue
            callee = pending[-1].pop()
            caller = path[-1]
            if id(callee) in on_path:
                back_edges[(id(caller), id(callee))] = path[on_path[id(callee)] :]
            elif id(callee) not in finished:
                on_path[id(callee)] = len(path)
                path.append(callee)
                pending.append(list(reversed(callees(callee))))
    return CallOrder(order, back_edges)


def describe_cycle(cycle: Sequence[FlowInfo]) -> str:
    """```a` calls itself`` or ```a` calls itself through `b` and `c```."""
    head = f"`{cycle[0].name}` calls itself"
    others = [f"`{flow.name}`" for flow in cycle[1:]]
    if not others:
        return head
    if len(others) == 1:
        return f"{head} through {others[0]}"
    return f"{head} through {', '.join(others[:-1])} and {others[-1]}"


def call_actions(stmts: tuple[ast.Stmt, ...]) -> list[ast.CallAction]:
    """The ``call`` actions in a statement list, walking statements only."""
    found: list[ast.CallAction] = []
    pending: list[tuple[ast.Stmt, ...]] = [stmts]
    while pending:
        for stmt in pending.pop():
            if isinstance(stmt, ast.StepStmt):
                if isinstance(stmt.action, ast.CallAction):
                    found.append(stmt.action)
                pending += [c.body for c in stmt.clauses if isinstance(c, ast.CompensateClause)]
            else:
                pending += _bodies(stmt)
    return found


def _bodies(stmt: ast.Stmt) -> list[tuple[ast.Stmt, ...]]:
    if isinstance(stmt, ast.IfStmt):
        return [arm.body for arm in stmt.arms] + ([stmt.orelse] if stmt.orelse else [])
    if isinstance(stmt, ast.LoopStmt):
        return [stmt.loop.body]
    if isinstance(stmt, ast.LetStmt | ast.AssignStmt | ast.ReturnStmt):
        value = stmt.value
        return [value.body] if isinstance(value, ast.ForLoop | ast.WhileLoop) else []
    if isinstance(stmt, ast.ParallelStmt):
        return [branch.body for branch in stmt.branches]
    if isinstance(stmt, ast.TryStmt):
        bodies = [stmt.body, *(clause.body for clause in stmt.catches), stmt.finally_body]
        return [b for b in bodies if b is not None]
    if isinstance(stmt, ast.RetryStmt | ast.TimeoutStmt):
        return [stmt.body]
    return []
