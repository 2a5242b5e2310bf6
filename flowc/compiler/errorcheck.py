"""Checking structured errors: ``fail KIND "message"`` and filtered ``catch`` clauses.

A flow raises an error of its own kind with ``fail out_of_stock "no stock"
{status: 409, data: {sku: sku}}``; ``fail e`` with a caught error ``e`` re-raises it
unchanged.  A ``try`` takes several ``catch`` clauses, each with an optional
``when`` filter; the first whose filter holds runs, and an error no clause
takes goes on.

The checker knows which kinds a ``try`` body can raise: every built-in kind
(an HTTP step's ``status``, ``timeout``, ``connect``, ...; a failed ``assert``;
an expression's ``eval``; the run-time limits), plus the kinds named by the
``fail KIND`` statements in the body and in every flow it calls, transitively
(the call graph of ``callgraph.call_actions``).  A filter that compares
``e.kind`` with a string literal naming none of them gets a warning (W0304): a
misspelt kind would otherwise silently catch nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from flowc.common import errors
from flowc.compiler import ast, messages
from flowc.compiler.callgraph import call_actions

if TYPE_CHECKING:
    from flowc.compiler.symbols import ModuleSymbols

BUILTIN_KINDS: Final = frozenset(
    {
        errors.STATUS,
        errors.TIMEOUT,
        errors.CONNECT,
        errors.UNAVAILABLE,
        errors.PROTOCOL,
        errors.DECODE,
        errors.CIRCUIT_OPEN,
        errors.RATE_LIMITED,
        errors.CANCELLED,
        errors.ASSERT,
        errors.FAIL,
        errors.EVAL,
        errors.LOOP_LIMIT,
        errors.BODY_LIMIT,
        errors.CALL_DEPTH,
        errors.INVALID_REQUEST,
    }
)
RESERVED_KINDS: Final = frozenset({errors.CANCELLED})
"""Kinds a flow may not raise itself: they mean the run is being stopped."""


def fail_kinds(stmts: tuple[ast.Stmt, ...]) -> set[str]:
    """The kinds the ``fail KIND`` statements in ``stmts`` raise (not in called flows)."""
    found: set[str] = set()
    for stmt in stmts:
        for node in ast.walk(stmt):
            if isinstance(node, ast.FailStmt) and node.kind is not None:
                found.add(node.kind)
    return found


def raisable_kinds(stmts: tuple[ast.Stmt, ...], module: ModuleSymbols) -> set[str]:
    """Every kind ``stmts`` can raise: built-in ones, their own and their callees'."""
    kinds = set(BUILTIN_KINDS)
    seen: set[int] = set()
    pending: list[tuple[tuple[ast.Stmt, ...], ModuleSymbols]] = [(stmts, module)]
    while pending:
        body, owner = pending.pop()
        kinds |= fail_kinds(body)
        for action in call_actions(body):
            target = owner.find_flow(action.flow, action.module)
            if target is not None and id(target) not in seen:
                seen.add(id(target))
                pending.append((target.decl.body, target.module))
    return kinds


def filtered_kinds(cond: ast.Expr, name: str) -> list[tuple[str, ast.Span]]:
    """The string literals ``cond`` compares ``name.kind`` with (``==``, ``in [...]``)."""
    found: list[tuple[str, ast.Span]] = []
    for node in ast.walk(cond):
        if not isinstance(node, ast.Binary) or node.op not in ("==", "in"):
            continue
        left, right = node.left, node.right
        if node.op == "==" and _is_kind_of(right, name):
            left, right = right, left
        if not _is_kind_of(left, name):
            continue
        literals = right.items if isinstance(right, ast.ListLit) else (right,)
        for item in literals:
            if isinstance(item, ast.Literal) and isinstance(item.value, str):
                found.append((item.value, item.span))
    return found


def _is_kind_of(expr: ast.Expr, name: str) -> bool:
    return (
        isinstance(expr, ast.Select)
        and expr.field == "kind"
        and isinstance(expr.operand, ast.Name)
        and expr.operand.id == name
    )


def check_filters(
    stmt: ast.TryStmt, module: ModuleSymbols, report: Callable[[object], None]
) -> None:
    """Warn about filters naming kinds nothing raises, and about shadowed clauses."""
    kinds: set[str] | None = None
    catch_all = False
    for clause in stmt.catches:
        if catch_all:
            report(messages.CATCH_SHADOWED(clause.span))
        if clause.when is None:
            catch_all = True
            continue
        for kind, span in filtered_kinds(clause.when, clause.name or "error"):
            if kinds is None:
                kinds = raisable_kinds(stmt.body, module)
            if kind not in kinds:
                report(messages.UNRAISED_ERROR_KIND(span, kind=kind))


def check_kind(stmt: ast.FailStmt, report: Callable[[object], None]) -> None:
    """``fail KIND``: a kind of the run-time's own that means something else is refused."""
    if stmt.kind in RESERVED_KINDS:
        why = "it means the run is being stopped"
        report(messages.BAD_ERROR_KIND(stmt.span, kind=stmt.kind, why=why))
