"""Reading the values and settings of a step-list definition into AST pieces.

``ValueReader`` is the lower half of the translator (``steplist.py`` is the upper):
it turns document nodes into expressions (``value``: JSON values, ``${...}``
strings), durations, types, retry policies, auth, ``accept`` lists and the other
clauses, and it is the translator's structural check.

Structure.  The JSON Schema (``steplist.schema.json``) is the contract, but
validating with ``jsonschema`` costs ~0.35 ms a step, more than reading, checking
and lowering it together.  So the translator checks the structure itself as it
reads — the same rules, with the key sets of every object taken from the schema
file — and only when it finds a problem is the document validated against the
schema, which then reports every violation with its path and position
(``schema.py``).  ``tests/test_definitions.py`` keeps the two in agreement on
generated and mutated documents.  ``problem`` records what the translator saw, to
be shown only if the schema (wrongly) accepted the document.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any, Final

from flowc.common.span import Span
from flowc.compiler import ast, messages
from flowc.compiler.definitions.document import Document, Mapping, Node, Scalar, Sequence
from flowc.compiler.definitions.embedded import TemplateReader, respan
from flowc.compiler.diagnostics import Diagnostic, ParseFailure

SCHEMA_PATH: Final = Path(__file__).resolve().parent / "steplist.schema.json"
FIELD_KEY: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NOT_FIELD_KEYS: Final = frozenset({"true", "false", "null"})


@cache
def schema() -> dict[str, Any]:
    """The step-list JSON Schema, as shipped in the package."""
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


def _schema_pattern(*path: str | int) -> re.Pattern[str]:
    """A ``pattern`` of the schema, compiled: matched with ``search``, as jsonschema
    does, so that the translator and the schema accept exactly the same strings.  (Each
    pattern ends in ``$(?![\\s\\S])``: ``$`` alone would let Python accept a trailing
    newline that JavaScript, and so an editor, rejects.)"""
    found: Any = schema()
    for step in path:
        found = found[step]
    return re.compile(found["pattern"])


IDENTIFIER: Final = _schema_pattern("$defs", "identifier")
EXPRESSION: Final = _schema_pattern("$defs", "expression")
DURATION: Final = _schema_pattern("$defs", "duration", "anyOf", 0)
STATUS_RANGE: Final = _schema_pattern("$defs", "accept", "items", "anyOf", 1)
CALLED_FLOW: Final = _schema_pattern("$defs", "call_target", "properties", "flow")


def _definition(name: str) -> dict[str, Any]:
    """``$defs/<name>`` of the schema; ``document`` is the schema's root."""
    root = schema()
    found: dict[str, Any] = root if name == "document" else root["$defs"][name]
    return found


@cache
def keys_of(definition: str) -> frozenset[str]:
    """The keys an object of ``$defs/<definition>`` may have."""
    return frozenset(_definition(definition)["properties"])


@cache
def required_of(definition: str) -> tuple[str, ...]:
    return tuple(_definition(definition).get("required", ()))


@cache
def enum_of(definition: str, key: str) -> frozenset[str]:
    return frozenset(_definition(definition)["properties"][key]["enum"])


def is_field_key(key: str) -> bool:
    """Whether a map key is written as a bare field name (``{user_id: ...}``) in `.flow`."""
    return FIELD_KEY.fullmatch(key) is not None and key not in NOT_FIELD_KEYS


class ValueReader:
    """Document nodes to expressions and clauses, checking their structure."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.diagnostics: list[Diagnostic] = []
        self.problems: list[Diagnostic] = []
        self.templates = TemplateReader(document, self.rewrite)
        self.templates.diagnostics = self.diagnostics

    def rewrite(self, expr: ast.Expr) -> ast.Expr:
        """Hook for the translator's name rewriting (``input.x``, ``step.response``)."""
        return expr

    # ------------------------------------------------------------------ structure

    def span(self, node: Node) -> Span:
        return self.document.span(node)

    def problem(self, node: Node, text: str) -> None:
        self.problems.append(
            messages.DEFINITION_INVALID(self.span(node), place="here", problem=text)
        )

    def mapping(self, node: Node | None, definition: str | None = None) -> Mapping | None:
        """``node`` as a mapping whose keys fit ``$defs/<definition>`` (None: any keys)."""
        if not isinstance(node, Mapping):
            if node is not None:
                self.problem(node, "expected an object")
            return None
        if definition is not None:
            allowed = keys_of(definition)
            for key, _ in node.entries:
                if key.value not in allowed:
                    self.problem(key, f"unknown key `{key.value}`")
            for name in required_of(definition):
                if name not in node:
                    self.problem(node, f"missing `{name}`")
        return node

    def sequence(self, node: Node | None) -> Sequence | None:
        if not isinstance(node, Sequence):
            if node is not None:
                self.problem(node, "expected an array")
            return None
        return node

    def text(self, node: Node | None) -> Scalar | None:
        if isinstance(node, Scalar) and isinstance(node.value, str):
            return node
        if node is not None:
            self.problem(node, "expected a string")
        return None

    def identifier(self, node: Node | None) -> Scalar | None:
        scalar = self.text(node)
        if scalar is not None and not IDENTIFIER.search(str(scalar.value)):
            self.problem(scalar, "expected a name")
            return None
        return scalar

    def choice(self, node: Node | None, allowed: frozenset[str]) -> str | None:
        scalar = self.text(node)
        if scalar is None:
            return None
        if scalar.value not in allowed:
            self.problem(scalar, "not one of the allowed values")
            return None
        return str(scalar.value)

    def flag(self, node: Node | None) -> bool:
        if node is None:
            return False
        if isinstance(node, Scalar) and isinstance(node.value, bool):
            return node.value
        self.problem(node, "expected true or false")
        return False

    def is_expression(self, node: Node) -> bool:
        return (
            isinstance(node, Scalar)
            and isinstance(node.value, str)
            and EXPRESSION.search(node.value) is not None
        )

    # ------------------------------------------------------------------ values

    def value(self, node: Node) -> ast.Expr:
        """Any JSON value as an expression (``$defs/value``)."""
        span = self.span(node)
        if isinstance(node, Scalar):
            return self.scalar(node, span)
        if isinstance(node, Sequence):
            return ast.ListLit(tuple(self.value(item) for item in node.items), span=span)
        assert isinstance(node, Mapping)
        entries = []
        for key, value in node.entries:
            text = str(key.value)
            key_span = self.span(key)
            style = "field" if is_field_key(text) else "literal"
            entry_span = self.document.span_between(key, value)
            key_expr = ast.Literal("string", text, span=key_span)
            entries.append(ast.MapEntry(key_expr, self.value(value), style, span=entry_span))
        return ast.MapLit(tuple(entries), span=span)

    def scalar(self, node: Scalar, span: Span) -> ast.Expr:
        value = node.value
        if isinstance(value, str):
            return self.templates.string(node)
        if value is None:
            return ast.Literal("null", None, span=span)
        if isinstance(value, bool):
            return ast.Literal("bool", value, span=span)
        kind = "int" if isinstance(value, int) else "float"
        if kind == "float" and value != value:  # NaN
            self.problem(node, "NaN is not a value")
            return ast.Literal("null", None, span=span)
        if value < 0 or (kind == "float" and str(value).startswith("-")):
            return ast.Unary("-", ast.Literal(kind, -value, span=span), span=span)
        return ast.Literal(kind, value, span=span)

    def string_value(self, node: Node | None) -> ast.Expr | None:
        """A string (with interpolations) or a ``${...}`` (``$defs/string_value``)."""
        scalar = self.text(node)
        return None if scalar is None else self.templates.string(scalar)

    def expression(self, node: Node | None, *, boolean: bool = False) -> ast.Expr | None:
        """A ``${...}`` (``$defs/expression``), or with ``boolean`` also true/false."""
        if node is None:
            return None
        if boolean and isinstance(node, Scalar) and isinstance(node.value, bool):
            return ast.Literal("bool", node.value, span=self.span(node))
        if not self.is_expression(node):
            self.problem(node, "expected a ${...} expression")
            return None
        assert isinstance(node, Scalar)
        return self.templates.string(node)

    def number(self, node: Node, *, integer: bool) -> ast.Expr | None:
        """An integer (or with ``integer=False`` any number) or a ``${...}``."""
        if isinstance(node, Scalar) and not isinstance(node.value, bool | str | None):
            if integer and not isinstance(node.value, int):
                self.problem(node, "expected an integer")
                return None
            return self.scalar(node, self.span(node))
        return self.expression(node)

    def duration(self, node: Node | None) -> ast.Expr | None:
        """``250ms``, ``1m30s`` or a ``${...}`` (``$defs/duration``)."""
        if node is None:
            return None
        if isinstance(node, Scalar) and isinstance(node.value, str) and DURATION.search(node.value):
            from flowc.compiler.lexical import duration_nanos

            return ast.DurationLit(duration_nanos(node.value), span=self.span(node))
        return self.expression(node)

    def fields(self, node: Node) -> ast.Expr | None:
        """Headers, query parameters or form fields: an object or a ``${...}``."""
        if isinstance(node, Mapping):
            return self.value(node)
        return self.expression(node)

    def type_expr(self, node: Node | None) -> ast.TypeExpr | None:
        """A flowc type written as a string (``$defs/type``)."""
        scalar = self.text(node)
        if scalar is None:
            return None
        text = str(scalar.value)
        if not text:
            self.problem(scalar, "expected a type")
            return None
        from flowc.compiler.definitions.embedded import Locator
        from flowc.compiler.parser import parse_type_at

        locator = Locator(self.document, scalar, text)
        base = locator.base if locator.base is not None else scalar.start
        line, col = self.document.lines.position(base)
        try:
            parsed = parse_type_at(text, self.document.file, line, col, base)
        except ParseFailure as failure:
            self.diagnostics.append(failure.diagnostic)
            return None
        if locator.base is None:
            whole = self.span(scalar)
            parsed = respan(parsed, lambda _: whole)
        return parsed

    # ------------------------------------------------------------------ clauses

    def value_clause(
        self, keyword: str, key: Scalar, node: Node, expr: ast.Expr | None
    ) -> ast.Clause | None:
        if expr is None:
            return None
        return ast.ValueClause(keyword, expr, span=self.document.span_between(key, node))

    def retry(self, key: Scalar, node: Node) -> ast.RetryPolicy | None:
        """``retry: 3`` or ``retry: {count, backoff, jitter, when}``."""
        span = self.document.span_between(key, node)
        if (
            isinstance(node, Scalar)
            and isinstance(node.value, int)
            and not isinstance(node.value, bool)
        ):
            if node.value < 0:
                self.problem(node, "expected at least 0")
            return ast.RetryPolicy(self.scalar(node, self.span(node)), span=span)
        mapping = self.mapping(node, "retry_policy")
        if mapping is None:
            return None
        count_node = mapping.get("count")
        count = None if count_node is None else self.number(count_node, integer=True)
        backoff = self.backoff(mapping.get("backoff"))
        jitter = self.flag(mapping.get("jitter"))
        when = self.expression(mapping.get("when"))
        if count is None:
            return None
        return ast.RetryPolicy(count, backoff, jitter, when, span=span)

    def backoff(self, node: Node | None) -> ast.Backoff | None:
        mapping = self.mapping(node, "backoff")
        if mapping is None:
            return None
        kind = self.choice(mapping.get("kind"), enum_of("backoff", "kind"))
        delay = self.duration(mapping.get("delay"))
        maximum = self.duration(mapping.get("max"))
        factor_node = mapping.get("factor")
        factor = None if factor_node is None else self.number(factor_node, integer=False)
        if kind in ("fixed", "linear") and (maximum is not None or factor is not None):
            self.problem(mapping, "`max` and `factor` belong to exponential backoff")
        if kind is None or delay is None:
            return None
        return ast.Backoff(kind, delay, maximum, factor, span=self.span(mapping))

    def auth(self, key: Scalar, node: Node) -> ast.AuthClause | None:
        mapping = self.mapping(node, "auth")
        if mapping is None:
            return None
        if len(mapping.entries) != 1:
            self.problem(mapping, "give exactly one of `bearer`, `basic` and `header`")
            return None
        scheme_key, value = mapping.entries[0]
        scheme = str(scheme_key.value)
        span = self.document.span_between(key, node)
        if scheme == "bearer":
            return ast.AuthClause(scheme, (self.value(value),), span=span)
        definition = {"basic": "basic_auth", "header": "header_auth"}.get(scheme)
        if definition is None:
            return None
        parts = self.mapping(value, definition)
        if parts is None:
            return None
        names = required_of(definition)
        found = [parts.get(name) for name in names]
        if any(part is None for part in found):
            return None
        return ast.AuthClause(
            scheme, tuple(self.value(p) for p in found if p is not None), span=span
        )

    def accept(self, key: Scalar, node: Node) -> ast.AcceptClause | None:
        items = self.sequence(node)
        if items is None:
            return None
        if not items.items:
            self.problem(items, "expected at least one status")
        ranges = []
        for item in items.items:
            status_range = self.status_range(item)
            if status_range is not None:
                ranges.append(status_range)
        return ast.AcceptClause(tuple(ranges), span=self.document.span_between(key, node))

    def status_range(self, node: Node) -> ast.StatusRange | None:
        span = self.span(node)
        if (
            isinstance(node, Scalar)
            and isinstance(node.value, int)
            and not isinstance(node.value, bool)
        ):
            if not 100 <= node.value <= 599:
                self.problem(node, "expected an HTTP status (100 to 599)")
                return None
            return ast.StatusRange(node.value, node.value, span=span)
        if (
            isinstance(node, Scalar)
            and isinstance(node.value, str)
            and STATUS_RANGE.search(node.value)
        ):
            low, high = node.value.split("..")
            return ast.StatusRange(int(low), int(high), span=span)
        self.problem(node, "expected a status or a range such as 200..299")
        return None

    def circuit_breaker(self, key: Scalar, node: Node) -> ast.Clause | None:
        mapping = self.mapping(node, "circuit_breaker")
        if mapping is None:
            return None
        failures = mapping.get("failures")
        count = None if failures is None else self.number(failures, integer=True)
        within = self.duration(mapping.get("within"))
        cooldown = self.duration(mapping.get("cooldown"))
        if count is None or within is None or cooldown is None:
            return None
        span = self.document.span_between(key, node)
        return ast.CircuitBreakerClause(count, within, cooldown, span=span)

    def rate_limit(self, key: Scalar, node: Node) -> ast.Clause | None:
        mapping = self.mapping(node, "rate_limit")
        if mapping is None:
            return None
        count_node = mapping.get("count")
        count = None if count_node is None else self.number(count_node, integer=True)
        per = self.duration(mapping.get("per"))
        if count is None or per is None:
            return None
        return ast.RateLimitClause(count, per, span=self.document.span_between(key, node))
