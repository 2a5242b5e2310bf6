"""Checking CEL's macros: ``has``, the comprehensions, ``cel.bind``.

``MacroChecks`` is the part of ``ExprChecker`` (``exprcheck.py``) that checks
the calls CEL treats as syntax rather than as functions: ``has(x.f)`` (a field
test, which narrows), the one-variable comprehensions ``all``, ``exists``,
``exists_one``, ``map`` and ``filter`` (on lists; on maps they iterate keys),
the two-variable ones of CEL's extension library (``l.all(i, v, p)``,
``m.transformMap(k, v, e)``, ...) and ``cel.bind(x, init, body)``.  Each binds
its variables in a child scope, and the variable's own node is recorded in
``references`` so that the evaluator can give it a frame slot.  Iterating a
record by (key, value) gives values of the join of its field types, which
must keep a secret field a secret (``pairs_keep_secrets``).

The shape tests (``macro_shape``, ``two_var_macro_shape``, ``is_bind_call``)
are shared with the evaluator, which compiles the same calls.
"""

from __future__ import annotations

from typing import Final

from flowc.common.typerel import keeps_secrets, pair_types
from flowc.common.types import BOOL, ERROR, JSON, STRING, ListT, MapT, OptionalT, RecordT, Type
from flowc.compiler import ast, messages
from flowc.compiler.scope import CheckInfo, Scope, Symbol

MACROS: Final = frozenset({"all", "exists", "exists_one", "map", "filter"})
BOOL_MACROS: Final = frozenset({"all", "exists", "exists_one"})
# CEL's two-variable comprehensions (cel-go ext.TwoVarComprehensions): argument counts.
TWO_VAR_MACROS: Final = {
    "all": (3,),
    "exists": (3,),
    "existsOne": (3,),
    "transformList": (3, 4),
    "transformMap": (3, 4),
}


class MacroChecks:
    """The macro half of ``ExprChecker``, which provides what is declared here."""

    info: CheckInfo

    def check(self, expr: ast.Expr, scope: Scope) -> Type:  # pragma: no cover - ExprChecker's
        raise NotImplementedError

    def expect(
        self, expr: ast.Expr, scope: Scope, wanted: Type, what: str
    ) -> Type:  # pragma: no cover - ExprChecker's
        raise NotImplementedError

    def error(self, diagnostic: object) -> Type:  # pragma: no cover - ExprChecker's
        raise NotImplementedError

    def _has(self, expr: ast.Call, scope: Scope) -> Type:
        arg = expr.args[0] if len(expr.args) == 1 else None
        if not isinstance(arg, ast.Select):
            return self.error(messages.BAD_HAS(expr.span))
        operand = self.check(arg.operand, scope)
        if isinstance(operand, RecordT | MapT | OptionalT) or operand in (JSON, ERROR):
            return BOOL
        return self.error(messages.NO_FIELDS(arg.span, type=operand, field=arg.field))

    def _macro(self, expr: ast.Call, scope: Scope) -> Type:
        assert expr.target is not None
        target = self.check(expr.target, scope)
        var = expr.args[0]
        assert isinstance(var, ast.Name)
        element = _element_type(target)
        if element is None:
            return self.error(messages.NOT_ITERABLE(expr.target.span, type=target))
        inner = scope.child()
        self._declare_variable(inner, var, element)
        if expr.func in BOOL_MACROS or expr.func == "filter":
            self.expect(expr.args[1], inner, BOOL, f"the predicate of `{expr.func}`")
            return BOOL if expr.func != "filter" else ListT(element)
        if len(expr.args) == 3:
            self.expect(expr.args[1], inner, BOOL, "the filter of `map`")
        return ListT(self.check(expr.args[-1], inner))

    def _declare_variable(self, inner: Scope, var: ast.Expr, type_: Type) -> None:
        """Declare a macro's variable; its node's reference is the evaluator's slot."""
        assert isinstance(var, ast.Name)
        symbol = Symbol(var.id, "macro", type_, var.span, inner.module_path, node=var)
        inner.declare(symbol)
        self.info.references[id(var)] = symbol
        self.info.expr_types[id(var)] = type_

    def _two_var_macro(self, expr: ast.Call, scope: Scope) -> Type:
        """``l.all(i, v, p)``, ``m.transformMap(k, v, [p,] e)`` ...: index or key, and value."""
        assert expr.target is not None
        target = self.check(expr.target, scope)
        pair = pair_types(target)
        if pair is None:
            return self.error(messages.NOT_ITERABLE(expr.target.span, type=target))
        if not pairs_keep_secrets(target, pair):
            return self.error(
                messages.SECRET_HIDDEN(expr.target.span, what="iterating", type=pair[1])
            )
        inner = scope.child()
        self._declare_variable(inner, expr.args[0], pair[0])
        self._declare_variable(inner, expr.args[1], pair[1])
        body = expr.args[2:]
        if expr.func not in ("transformList", "transformMap"):
            self.expect(body[0], inner, BOOL, f"the predicate of `{expr.func}`")
            return BOOL
        if len(body) == 2:
            self.expect(body[0], inner, BOOL, f"the filter of `{expr.func}`")
        result = self.check(body[-1], inner)
        return ListT(result) if expr.func == "transformList" else MapT(pair[0], result)

    def _bind(self, expr: ast.Call, scope: Scope) -> Type:
        """``cel.bind(x, init, body)``: ``body`` with ``x`` bound to ``init``."""
        var, init, body = expr.args
        inner = scope.child()
        self._declare_variable(inner, var, self.check(init, scope))
        return self.check(body, inner)


def pairs_keep_secrets(iterable: Type, pair: tuple[Type, Type]) -> bool:
    """Whether iterating ``iterable`` by (key, value) keeps its secrets secret (the
    values of a record are the join of its fields, which could be ``json``)."""
    if not isinstance(iterable, RecordT):
        return True
    return all(keeps_secrets(f.type, pair[1]) for f in iterable.fields)


def _element_type(t: Type) -> Type | None:
    if t in (JSON, ERROR):
        return t
    if isinstance(t, ListT):
        return t.elem
    if isinstance(t, MapT):
        return t.key
    if isinstance(t, RecordT):
        return STRING
    return None


def two_var_macro_shape(expr: ast.Call) -> bool:
    """Whether a receiver call is a two-variable comprehension (two names first)."""
    counts = TWO_VAR_MACROS.get(expr.func)
    return (
        counts is not None
        and expr.target is not None
        and len(expr.args) in counts
        and all(isinstance(a, ast.Name) for a in expr.args[:2])
    )


def is_bind_call(expr: ast.Call) -> bool:
    """Whether a call has the shape of ``cel.bind(name, init, body)``."""
    target = expr.target
    return (
        expr.func == "bind"
        and isinstance(target, ast.Name)
        and target.id == "cel"
        and not target.leading_dot
        and len(expr.args) == 3
        and isinstance(expr.args[0], ast.Name)
    )


def macro_shape(expr: ast.Call) -> bool:
    if not expr.args or not isinstance(expr.args[0], ast.Name):
        return False
    if expr.func == "map":
        return len(expr.args) in (2, 3)
    return len(expr.args) == 2
