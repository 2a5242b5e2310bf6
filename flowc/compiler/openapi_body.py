"""Checking a literal request body against its operation's schema, field by field.

``BodyChecker.value(expr, schema, what, depth)`` runs for the ``json`` or ``form``
body of a step against an OpenAPI operation (``openapi_check``).  Where the body is
written as a literal it is compared with the schema member by member, so each
mistake is reported where it is written:

* a record literal against an object schema: an unknown field is a warning
  (W0601), or an error (E0622) when the schema says ``additionalProperties:
  false``; a required field that is missing is an error (E0614) unless the
  literal has computed keys, whose names are unknown until run time;
* a list literal against an array schema: each item against ``items``;
* anything else by its type (E0201 with the usual help), and a scalar literal
  against the schema's ``enum`` (E0613; ``check_enum``, which also serves path,
  query and header parameters).

Nesting deeper than ``MAX_DEPTH`` is left to the run-time validation.  A broken
``$ref`` met on the way is a diagnostic in the document.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from flowc.common.typerel import assignable, strip_optional
from flowc.common.types import ERROR, JSON, ListT, RecordT
from flowc.compiler import ast, messages
from flowc.compiler.diagnostics import Diagnostic
from flowc.compiler.exprcheck import mismatch_help
from flowc.compiler.openapi_service import ServiceContract, problem_diagnostics
from flowc.compiler.scope import CheckInfo, suggest
from flowc.contracts.openapi_model import Located, RefError

MAX_ENUM_SHOWN: Final = 6

Report = Callable[[Diagnostic], None]


class BodyChecker:
    """A literal request body against its schema, field by field."""

    MAX_DEPTH = 32

    def __init__(self, contract: ServiceContract, info: CheckInfo, report: Report) -> None:
        self.contract = contract
        self.info = info
        self.report = report

    def value(self, expr: ast.Expr, schema: Located, what: str, depth: int) -> None:
        if depth > self.MAX_DEPTH:
            return
        try:
            resolved = self.contract.contract.resolve(schema)
            expected = self.contract.schema_type(schema, "request")
        except RefError as error:
            sources = self.info.document_sources
            diagnostics = problem_diagnostics([error.problem()], {}, ast.NO_SPAN, sources)
            self.report(diagnostics[0])
            return
        value = resolved.value if isinstance(resolved.value, dict) else {}
        record = strip_optional(expected)
        if isinstance(expr, ast.MapLit) and isinstance(record, RecordT):
            self._record(expr, resolved, record, value, what, depth)
            return
        if isinstance(expr, ast.ListLit) and isinstance(strip_optional(expected), ListT):
            if isinstance(value.get("items"), dict):
                for index, item in enumerate(expr.items):
                    self.value(item, resolved.child("items"), f"{what}[{index}]", depth + 1)
            return
        found = self.info.type_of(expr) or JSON
        if not assignable(found, expected) and found != ERROR:
            self.report(
                messages.TYPE_MISMATCH(
                    expr.span,
                    what=what,
                    expected=expected,
                    found=found,
                    help=mismatch_help(found, expected),
                )
            )
            return
        if isinstance(expr, ast.Literal) and expr.kind in ("string", "int", "float", "bool"):
            check_enum(self.contract, self.report, expr.value, resolved, expr.span, what)

    def _record(
        self,
        expr: ast.MapLit,
        schema: Located,
        record: RecordT,
        value: dict[str, Any],
        what: str,
        depth: int,
    ) -> None:
        declared = value.get("properties")
        properties: dict[str, Any] = declared if isinstance(declared, dict) else {}
        closed = value.get("additionalProperties") is False
        written: set[str] = set()
        open_keys = False
        for entry in expr.entries:
            if not (isinstance(entry.key, ast.Literal) and isinstance(entry.key.value, str)):
                open_keys = True
                continue
            name = entry.key.value
            written.add(name)
            field = record.field(name)
            if field is None:
                message = (
                    messages.UNKNOWN_BODY_FIELD_STRICT if closed else messages.UNKNOWN_BODY_FIELD
                )
                hint = suggest(name, [f.name for f in record.fields])
                self.report(
                    message(
                        entry.key.span,
                        what=what,
                        field=name,
                        help=f"did you mean `{hint}`?" if hint else None,
                    )
                )
                continue
            child_what = f"field `{name}` of {what}" if depth == 0 else f"{what}.{name}"
            if name in properties:
                self.value(entry.value, schema.child("properties", name), child_what, depth + 1)
        missing = [f.name for f in record.fields if not f.optional and f.name not in written]
        if missing and not open_keys:
            fields = ", ".join(f"`{m}`" for m in missing)
            self.report(
                messages.MISSING_BODY_FIELD(
                    expr.span, what=what, s="s" if len(missing) > 1 else "", fields=fields
                )
            )


def check_enum(
    contract: ServiceContract,
    report: Report,
    value: Any,
    schema: Located,
    span: ast.Span,
    what: str,
) -> None:
    """Report a literal ``value`` that the schema's ``enum`` does not allow."""
    try:
        resolved = contract.contract.resolve(schema)
    except RefError:
        return
    enum = resolved.value.get("enum") if isinstance(resolved.value, dict) else None
    if isinstance(enum, list) and enum:
        found = not_in_enum(value, enum, span, what)
        if found is not None:
            report(found)


def not_in_enum(value: Any, allowed: list[Any], span: ast.Span, what: str) -> Diagnostic | None:
    """E0613 when ``value`` is none of ``allowed`` (text compares with their text)."""
    if value in allowed or (isinstance(value, str) and value in [str(v) for v in allowed]):
        return None
    shown = ", ".join(literal_text(v) for v in allowed[:MAX_ENUM_SHOWN])
    if len(allowed) > MAX_ENUM_SHOWN:
        shown += ", ..."
    hint = suggest(str(value), [str(v) for v in allowed if isinstance(v, str)])
    return messages.NOT_IN_ENUM(
        span,
        value=literal_text(value),
        what=what,
        allowed=shown,
        help=f'did you mean "{hint}"?' if hint else None,
    )


def literal_text(value: Any) -> str:
    """A JSON value as a flowc literal: ``"text"``, ``null``, ``true``, ``3``."""
    if isinstance(value, str):
        return f'"{value}"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
