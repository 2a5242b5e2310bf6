"""Symbols, scopes, null-check narrowing, and what the checker records.

A ``Symbol`` is anything a name can mean: a parameter, a ``let``/``var``, a
step, a loop or catch variable, a constant, an imported module alias.  Flows,
services and types live in their own namespaces (``ModuleEnv``) because the
grammar never confuses them with values.

``Scope`` is a chain of dictionaries, innermost first, ending at the module's
environment.  Besides names it holds *narrowings*: after ``x != null`` (or
``has(x.f)``) the checker knows that the path ``x`` (``x.f``) is not null in
the guarded code, so a child scope maps that path to the non-optional type.
Only paths rooted at immutable bindings are narrowed — a ``var`` could be
reassigned between the check and the use.

``CheckInfo`` is the checker's output besides diagnostics, keyed by the
``id()`` of AST nodes (nodes are immutable and shared, so identity is the
only sound key): expression types, the symbol each name refers to, and the
overload chosen for each call.  Lowering, the evaluator and the language
server read it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

import attrs

from flowc.common.typerel import strip_optional
from flowc.common.types import Type
from flowc.compiler import ast
from flowc.compiler.diagnostics import DiagnosticSink

if TYPE_CHECKING:
    from flowc.common.stdlib_core import Overload


@attrs.define(eq=False)
class Symbol:
    name: str
    kind: str  # param let var step loop catch macro const module builtin error
    type: Type
    span: ast.Span
    module_path: str
    node: ast.Node | None = None
    mutable: bool = False
    parallel_level: int = 0
    uses: int = 0


class ModuleEnv(Protocol):
    """The module-level namespace a flow's scopes end in."""

    path: str

    def lookup_value(self, name: str) -> Symbol | None: ...

    def member(self, alias: str, name: str) -> Symbol | None: ...

    def value_names(self) -> Iterable[str]: ...


@attrs.define(eq=False)
class CheckInfo:
    sink: DiagnosticSink
    expr_types: dict[int, Type] = attrs.field(factory=dict)
    references: dict[int, Symbol] = attrs.field(factory=dict)
    overloads: dict[int, Overload] = attrs.field(factory=dict)
    negated_literals: set[int] = attrs.field(factory=set)
    symbols: list[Symbol] = attrs.field(factory=list)
    annotation_types: dict[int, Type] = attrs.field(factory=dict)  # id(TypeExpr) -> Type
    step_targets: dict[int, Any] = attrs.field(
        factory=dict
    )  # id(Http/CallAction) -> Service/FlowInfo
    step_body_types: dict[int, Type] = attrs.field(factory=dict)  # id(StepStmt) -> body type
    loop_types: dict[int, Type] = attrs.field(factory=dict)  # id(loop used as a value) -> list[T]
    call_arg_names: dict[int, str] = attrs.field(factory=dict)  # id(Arg) -> parameter name
    error_symbols: dict[int, Symbol] = attrs.field(
        factory=dict
    )  # id(RetryPolicy/TryStmt) -> `error`
    type_references: dict[int, ast.TypeDecl] = attrs.field(
        factory=dict
    )  # id(TypeName) -> its declaration
    step_contracts: dict[int, Any] = attrs.field(
        factory=dict
    )  # id(StepStmt) -> openapi_check.StepContract, for steps against OpenAPI services
    document_sources: dict[str, str] = attrs.field(
        factory=dict
    )  # display path -> text of OpenAPI documents that diagnostics point into

    def type_of(self, expr: ast.Expr) -> Type | None:
        return self.expr_types.get(id(expr))


class Scope:
    """One level of the scope chain."""

    def __init__(self, env: ModuleEnv, parent: Scope | None = None) -> None:
        self.env = env
        self.parent = parent
        self.names: dict[str, Symbol] = {}
        self.narrowings: dict[str, Type] = {}

    @property
    def module_path(self) -> str:
        return self.env.path

    def child(self) -> Scope:
        return Scope(self.env, self)

    def lookup_local(self, name: str) -> Symbol | None:
        scope: Scope | None = self
        while scope is not None:
            found = scope.names.get(name)
            if found is not None:
                return found
            scope = scope.parent
        return None

    def lookup(self, name: str) -> Symbol | None:
        return self.lookup_local(name) or self.env.lookup_value(name)

    def declare(self, symbol: Symbol) -> None:
        self.names[symbol.name] = symbol

    def module_member(self, alias: str, name: str) -> Symbol | None:
        return self.env.member(alias, name)

    def visible_names(self) -> list[str]:
        names: set[str] = set(self.env.value_names())
        scope: Scope | None = self
        while scope is not None:
            names.update(scope.names)
            scope = scope.parent
        return sorted(names)

    # ----------------------------------------------------------- narrowing

    def narrowed(self, path: str) -> Type | None:
        scope: Scope | None = self
        while scope is not None:
            found = scope.narrowings.get(path)
            if found is not None:
                return found
            scope = scope.parent
        return None

    def narrow(self, facts: dict[str, Type]) -> Scope:
        """A child scope in which ``facts`` (path -> type) hold."""
        if not facts:
            return self
        scope = self.child()
        scope.narrowings.update(facts)
        return scope

    def add_facts(self, facts: dict[str, Type]) -> None:
        """Make ``facts`` hold for the rest of this scope (after an early exit)."""
        self.narrowings.update(facts)

    def facts(self, cond: ast.Expr, positive: bool, checker: Any) -> dict[str, Type]:
        """Paths known to be non-null when ``cond`` evaluates to ``positive``."""
        found: dict[str, Type] = {}
        self._collect_facts(cond, positive, checker.info, found)
        return found

    def _collect_facts(
        self, cond: ast.Expr, positive: bool, info: CheckInfo, out: dict[str, Type]
    ) -> None:
        if isinstance(cond, ast.Unary) and cond.op == "!":
            self._collect_facts(cond.operand, not positive, info, out)
        elif isinstance(cond, ast.Binary):
            self._binary_facts(cond, positive, info, out)
        elif positive and isinstance(cond, ast.Call) and cond.func == "has" and cond.args:
            self._add_fact(cond.args[0], info, out)

    def _binary_facts(
        self, cond: ast.Binary, positive: bool, info: CheckInfo, out: dict[str, Type]
    ) -> None:
        if (cond.op == "&&" and positive) or (cond.op == "||" and not positive):
            self._collect_facts(cond.left, positive, info, out)
            self._collect_facts(cond.right, positive, info, out)
        elif cond.op in ("==", "!=") and (cond.op == "!=") == positive:
            if _is_null(cond.right):
                self._add_fact(cond.left, info, out)
            elif _is_null(cond.left):
                self._add_fact(cond.right, info, out)

    def _add_fact(self, expr: ast.Expr, info: CheckInfo, out: dict[str, Type]) -> None:
        path = _stable_path(expr, self)
        known = info.expr_types.get(id(expr))
        if path is not None and known is not None:
            out[path] = strip_optional(known)


def _is_null(expr: ast.Expr) -> bool:
    return isinstance(expr, ast.Literal) and expr.kind == "null"


def _stable_path(expr: ast.Expr, scope: Scope) -> str | None:
    """``a.b.c`` when it is made of names and ``a`` is an immutable binding."""
    parts: list[str] = []
    while isinstance(expr, ast.Select):
        parts.append(expr.field)
        expr = expr.operand
    if not isinstance(expr, ast.Name):
        return None
    root = scope.lookup(expr.id)
    if root is None or root.mutable:
        return None
    parts.append(expr.id)
    return ".".join(reversed(parts))


def suggest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to a misspelt ``name``, if one is close enough."""
    matches = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.7)
    return matches[0] if matches else None
