"""Writing values and clauses in the step-list form (the lower half of ``steplist_print``).

``ValuePrinter`` writes expressions as document data that reads back as the same
tree (``steplist_print`` says which), durations, counts and conditions in the places
that take them, and retry policies, auth and the other clauses.  Parameters are
written ``input.NAME`` and a step's ``body`` ``STEP.response``, as a definition's
author would; each ``${...}`` written is checked by scanning it back with the
reader's own rule.  ``NotRepresentable`` is what cannot be written, and where.
"""

from __future__ import annotations

import math
from typing import Any, Final

from flowc.compiler import ast
from flowc.compiler.definitions.embedded import closing_brace, transform
from flowc.compiler.definitions.steplist_values import DURATION, is_field_key
from flowc.compiler.printer import print_expr
from flowc.compiler.printer_literals import duration_text

Data = Any
"""Plain document data: dict, list, str, int, float, bool or None."""

WIDE: Final = 1_000_000  # print expressions on one line


class NotRepresentable(Exception):
    """A construct the step-list form cannot hold, with where it is."""

    def __init__(self, construct: str, node: ast.Node) -> None:
        super().__init__(construct)
        self.construct = construct
        self.node = node


class ValuePrinter:
    """Values and clauses as document data; ``steps`` is the subclass's."""

    def __init__(self) -> None:
        self.params: set[str] = set()
        self.step_ids: set[str] = set()

    def steps(self, body: tuple[ast.Stmt, ...]) -> list[Data]:
        raise NotImplementedError

    # ------------------------------------------------------------------ clauses

    def request_clause(self, clause: ast.Clause) -> Data:
        if isinstance(clause, ast.ValueClause) and clause.keyword == "body":
            written = self.value(clause.value)
            return (
                written if not isinstance(written, dict | list) else self.expression(clause.value)
            )
        if isinstance(clause, ast.ValueClause) and clause.keyword == "json":
            return self.value(clause.value)
        return self.clause_value(clause)

    def clause_value(self, clause: ast.Clause) -> Data:
        if isinstance(clause, ast.ValueClause):
            keyword = clause.keyword
            if keyword == "timeout":
                return self.duration(clause.value)
            if keyword == "concurrency":
                return self.integer(clause.value)
            if keyword == "idempotency_key":
                return self.string_value(clause.value)
            if keyword in ("headers", "query", "form"):
                written = self.value(clause.value)
                return written if isinstance(written, dict) else self.expression(clause.value)
            return self.value(clause.value)
        if isinstance(clause, ast.RetryClause):
            return self.policy(clause.policy)
        if isinstance(clause, ast.AuthClause):
            return self.auth(clause)
        if isinstance(clause, ast.AcceptClause):
            return [
                r.low if r.low == r.high else f"{r.low}..{r.high}" for r in clause.ranges
            ] or self.none(clause)
        if isinstance(clause, ast.OnErrorClause):
            if clause.action not in ("skip", "fail"):
                raise NotRepresentable(f"`on error {clause.action}`", clause)
            return clause.action
        if isinstance(clause, ast.CompensateClause):
            return self.steps(clause.body)
        if isinstance(clause, ast.CircuitBreakerClause):
            return {
                "failures": self.integer(clause.failures),
                "within": self.duration(clause.window),
                "cooldown": self.duration(clause.cooldown),
            }
        if isinstance(clause, ast.RateLimitClause):
            return {"count": self.integer(clause.count), "per": self.duration(clause.per)}
        raise NotRepresentable(f"a `{keyword_of(clause)}` clause", clause)

    def none(self, clause: ast.Clause) -> Data:
        raise NotRepresentable("an empty `accept`", clause)

    def auth(self, clause: ast.AuthClause) -> Data:
        args = clause.args
        if clause.scheme == "bearer" and len(args) == 1:
            return {"bearer": self.value(args[0])}
        if clause.scheme == "basic" and len(args) == 2:
            return {"basic": {"username": self.value(args[0]), "password": self.value(args[1])}}
        if clause.scheme == "header" and len(args) == 2:
            return {"header": {"name": self.value(args[0]), "value": self.value(args[1])}}
        raise NotRepresentable(f"`auth {clause.scheme}` with {len(args)} value(s)", clause)

    def policy(self, policy: ast.RetryPolicy) -> Data:
        if policy.backoff is None and not policy.jitter and policy.when is None:
            count = self.integer(policy.count)
            if isinstance(count, int) and not isinstance(count, bool) and count >= 0:
                return count
        out: dict[str, Data] = {"count": self.integer(policy.count)}
        if policy.backoff is not None:
            backoff = policy.backoff
            if backoff.kind not in ("fixed", "linear", "exponential"):
                raise NotRepresentable(f"`backoff {backoff.kind}`", backoff)
            written: dict[str, Data] = {"kind": backoff.kind, "delay": self.duration(backoff.delay)}
            if backoff.max is not None:
                written["max"] = self.duration(backoff.max)
            if backoff.factor is not None:
                written["factor"] = self.number(backoff.factor)
            if backoff.kind != "exponential" and (backoff.max or backoff.factor):
                raise NotRepresentable("`max` or `factor` on a fixed or linear backoff", backoff)
            out["backoff"] = written
        if policy.jitter:
            out["jitter"] = True
        if policy.when is not None:
            out["when"] = self.expression(policy.when)
        return out

    # ------------------------------------------------------------------ values

    def value(self, expr: ast.Expr) -> Data:
        """``expr`` as document data that reads back as the same tree."""
        if isinstance(expr, ast.Literal):
            written = _literal(expr)
            if written is not _NO_DATA:
                return written
        elif (
            isinstance(expr, ast.Unary) and expr.op == "-" and isinstance(expr.operand, ast.Literal)
        ):
            written = _negative(expr.operand)
            if written is not _NO_DATA:
                return written
        elif isinstance(expr, ast.ListLit):
            return [self.value(item) for item in expr.items]
        elif isinstance(expr, ast.MapLit) and _plain_map(expr):
            return {e.key.value: self.value(e.value) for e in expr.entries}  # type: ignore[attr-defined]
        elif isinstance(expr, ast.Template):
            written = self.template(expr)
            if written is not None:
                return written
        return self.expression(expr)

    def string_value(self, expr: ast.Expr) -> str:
        if isinstance(expr, ast.Literal) and expr.kind == "string":
            return _escape(str(expr.value))
        if isinstance(expr, ast.Template):
            written = self.template(expr)
            if written is not None:
                return written
        return str(self.expression(expr))

    def template(self, expr: ast.Template) -> str | None:
        parts = []
        expressions = 0
        for i, part in enumerate(expr.parts):
            if isinstance(part, str):
                following = expr.parts[i + 1] if i + 1 < len(expr.parts) else None
                if part.endswith("$") and following is not None:
                    return None
                parts.append(_escape(part))
            else:
                parts.append(self.expression(part))
                expressions += 1
        if expressions == 1 and len(expr.parts) == 1:
            return None
        return "".join(parts)

    def expression(self, expr: ast.Expr, *, boolean: bool = False) -> Data:
        """``"${...}"`` holding ``expr`` (or ``true``/``false`` where a bool may stand)."""
        if boolean and isinstance(expr, ast.Literal) and expr.kind == "bool":
            return expr.value
        text = print_expr(self.as_written(expr), WIDE)
        if "\n" in text or closing_brace(text + "}", 0) != len(text):
            raise NotRepresentable("an expression that cannot be written inside `${...}`", expr)
        return "${" + text + "}"

    def as_written(self, expr: ast.Expr) -> ast.Expr:
        """``expr`` with parameters as ``input.NAME`` and step bodies as ``STEP.response``."""

        def change(node: ast.Node) -> ast.Node | None:
            if isinstance(node, ast.Name) and not node.leading_dot:
                if node.id == "input":
                    raise NotRepresentable("the name `input` (it holds the inputs)", node)
                if node.id in self.params:
                    return ast.Select(ast.Name("input", span=node.span), node.id, span=node.span)
            if isinstance(node, ast.Select) and isinstance(node.operand, ast.Name):
                head = node.operand
                if head.id in self.step_ids and not head.leading_dot:
                    if node.field == "response":
                        raise NotRepresentable(f"a field `response` of step `{head.id}`", node)
                    if node.field == "body":
                        return ast.Select(head, "response", span=node.span)
            return None

        result = transform(expr, change)
        assert isinstance(result, ast.Expr)
        return result

    def duration(self, expr: ast.Expr) -> Data:
        if isinstance(expr, ast.DurationLit) and expr.nanos >= 0:
            text = duration_text(expr.nanos)
            if DURATION.search(text):
                return text
        return self.expression(expr)

    def integer(self, expr: ast.Expr) -> Data:
        written = self.value(expr) if _is_number(expr, integer=True) else None
        return written if written is not None else self.expression(expr)

    def number(self, expr: ast.Expr) -> Data:
        written = self.value(expr) if _is_number(expr, integer=False) else None
        return written if written is not None else self.expression(expr)


_NO_DATA: Final = object()


def _literal(literal: ast.Literal) -> Data:
    value = literal.value
    if literal.kind == "string":
        return _escape(str(value))
    if literal.kind in ("bool", "null"):
        return value
    if literal.kind == "int" and isinstance(value, int) and value > 0:
        return value
    if literal.kind == "int" and value == 0:
        return 0
    if _positive_float(literal):
        return value
    return _NO_DATA


def _negative(literal: ast.Literal) -> Data:
    value = literal.value
    if literal.kind == "int" and isinstance(value, int) and value > 0:
        return -value
    if _positive_float(literal):
        assert isinstance(value, float)
        return -value
    return _NO_DATA


def _positive_float(literal: ast.Literal) -> bool:
    """A finite float literal with a plus sign (``0.0`` but not ``-0.0``)."""
    value = literal.value
    if literal.kind != "float" or not isinstance(value, float) or not math.isfinite(value):
        return False
    return math.copysign(1.0, value) > 0


def _is_number(expr: ast.Expr, *, integer: bool) -> bool:
    kinds = ("int",) if integer else ("int", "float")
    if isinstance(expr, ast.Unary) and expr.op == "-":
        expr = expr.operand
    return isinstance(expr, ast.Literal) and expr.kind in kinds


def _plain_map(expr: ast.MapLit) -> bool:
    """Whether a map literal reads back from a JSON object: string keys written the
    way the reader writes them, each once."""
    seen = set()
    for entry in expr.entries:
        key = entry.key
        if not (isinstance(key, ast.Literal) and key.kind == "string"):
            return False
        text = str(key.value)
        if entry.key_style != ("field" if is_field_key(text) else "literal") or text in seen:
            return False
        seen.add(text)
    return True


def _escape(text: str) -> str:
    """Text as written in a definition string: a literal ``${`` is ``$${``."""
    return text.replace("${", "$${")


def keyword_of(clause: ast.Clause) -> str:
    from flowc.compiler.clausecheck import clause_keyword

    return clause_keyword(clause)
