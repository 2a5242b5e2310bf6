"""Checking a step against the operation it calls, and the type of its value.

A step names an operation of an OpenAPI service in one of two ways:

* by method and path: ``GET petstore "/pet/${id}"`` -- matched against the
  document's path templates (``openapi_paths``; "did you mean" over the paths, or
  "the path exists with POST");
* by ``operationId``: ``call petstore.getPetById(petId: id)`` -- the arguments are
  the operation's parameters by name (path, then query, then header), the way a
  ``call`` step passes a sub-flow's parameters.

Then, for either form (``OperationChecker.check``):

* **path parameters** are given and typed: an embedded expression must fit the
  parameter's type (a ``string`` parameter also takes an ``int``), literal text must
  read as one (``/pet/abc`` for an ``integer`` is an error) and be one of its enum's
  values;
* **query and header parameters**: the names given by the step's and the service's
  ``query``/``headers`` clauses (record keys; a value of map type gives no names to
  check), a literal query string in the path, the ``auth`` header and the call's
  arguments.  A required one that is missing is an error (E0610), an unknown query
  parameter is an error with a suggestion (E0611); unknown headers are not (tracing
  and other headers are common).  Their values must fit the parameter's type;
* **the request body** (``json``/``form``/``body``) must be one the operation takes
  (E0615-E0617); a ``json`` or ``form`` body is checked against the schema field by
  field where it is written as a literal (unknown fields: W0601, or E0622 when the
  schema forbids additional properties; missing required fields E0614; literals
  outside an ``enum`` E0613) and by its type elsewhere (E0201);
* **the step's value**: ``body`` is the join of the response types of the declared
  statuses the step accepts (its ``accept`` clause, its service's, or 200..299), so
  ``p.body.name`` is typed without ``-> T``, and it is validated against that type
  at run time as ``-> T`` would be.  ``-> T`` still overrides the document.  The
  other declared responses with a body give the type of ``error.body`` (see
  ``error_record``).

Errors found inside the document while reading the operation (a broken ``$ref``)
are reported once, at their place in the document.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from flowc.common.typerel import assignable, join_all, strip_optional
from flowc.common.types import (
    ERROR,
    ERROR_RECORD,
    FLOAT,
    INT,
    JSON,
    NULL,
    STRING,
    UINT,
    Field,
    ListT,
    RecordT,
    Type,
)
from flowc.compiler import ast, messages
from flowc.compiler.scope import suggest
from flowc.contracts.openapi_model import Located, Operation, RefError
from flowc.contracts.openapi_operations import OperationInfo, Parameter
from flowc.contracts.openapi_paths import Match, StepPath, has_placeholder
from flowc.contracts.openapi_service import ServiceContract, problem_diagnostics

if TYPE_CHECKING:
    from flowc.compiler.stepcheck import StepChecker
    from flowc.compiler.symbols import ServiceInfo

DEFAULT_ACCEPT = ((200, 299),)
MAX_ENUM_SHOWN = 6


@attrs.frozen(slots=True)
class StepContract:
    """What lowering needs of a step checked against an operation."""

    operation: Operation
    body_type: Type  # the accepted responses' join (validated at run time unless json)
    error_type: Type | None  # the other responses' join, the type of `error.body`
    arguments: tuple[tuple[str, str, ast.Arg], ...] = ()  # (parameter, place, argument)


def error_record(body: Type | None) -> RecordT:
    """``Error``, with ``body?: T`` when the failing responses declare a body."""
    if body is None:
        return ERROR_RECORD
    return RecordT((*ERROR_RECORD.fields, Field("body", body, True)), name="Error")


def operation_label(operation: Operation) -> str:
    return operation.operation_id or f"{operation.method} {operation.path}"


class OperationChecker:
    """Checks the steps of one flow that call OpenAPI services."""

    def __init__(self, steps: StepChecker) -> None:
        self.steps = steps
        self.checker = steps.checker
        self.exprs = steps.exprs
        self.info = steps.info

    @property
    def contract(self) -> ServiceContract:
        """The service contract of the step being checked."""
        current = self.steps.current_contract
        assert current is not None
        return current

    def error(self, diagnostic: object) -> None:
        self.checker.error(diagnostic)

    # ----------------------------------------------------------- finding the operation

    def by_path(
        self, service: ServiceInfo, contract: ServiceContract, action: ast.HttpAction
    ) -> Match | None:
        path = StepPath.of(action.target)
        if path is None:
            return None
        found = contract.index.match(action.method, path)
        if found is not None:
            return found
        others = contract.index.other_methods(path)
        help_text: str | None
        if others:
            help_text = f"the path exists with {', '.join(others)}"
        else:
            close = contract.index.suggest(path)
            help_text = f"did you mean `{close}`?" if close else None
        self.error(
            messages.UNKNOWN_OPERATION(
                action.target.span,
                method=action.method,
                path=path.shown(),
                service=service.name,
                help=help_text,
            )
        )
        return None

    def by_id(
        self, service: ServiceInfo, contract: ServiceContract, action: ast.CallAction
    ) -> Operation | None:
        operation = contract.contract.by_id.get(action.flow)
        if operation is None:
            hint = suggest(action.flow, list(contract.contract.by_id))
            self.error(
                messages.UNKNOWN_OPERATION_ID(
                    action.span,
                    service=service.name,
                    name=action.flow,
                    help=f"did you mean `{hint}`?" if hint else None,
                )
            )
        return operation

    # ----------------------------------------------------------- the whole check

    def check(
        self,
        stmt: ast.StepStmt,
        service: ServiceInfo,
        contract: ServiceContract,
        operation: Operation,
        clauses: dict[str, ast.Clause],
        match: Match | None,
    ) -> StepContract:
        op = contract.operation_info(operation)
        self._report_document_problems(contract, op)
        given = _Given()
        if match is not None:
            self._path_parameters(op, match)
            path = (
                StepPath.of(stmt.action.target) if isinstance(stmt.action, ast.HttpAction) else None
            )
            if path is not None:
                given.query.update((n, None) for n in path.query_names)
        arguments: tuple[tuple[str, str, ast.Arg], ...] = ()
        if isinstance(stmt.action, ast.CallAction):
            arguments = self._arguments(op, stmt.action, given)
        for owner in (service.clauses, clauses):
            self._clause_names(owner.get("query"), given.query, given, "query")
            self._clause_names(owner.get("headers"), given.headers, given, "header")
        self._auth_header(service, contract, given)
        self._check_security(stmt, service, op, given)
        self._check_parameters(stmt, op, given)
        self._check_body(stmt, op, clauses)
        accepted = _accepted(clauses, service)
        body_type, error_type = _response_types(op, accepted)
        return StepContract(operation, body_type, error_type, arguments)

    def _report_document_problems(self, contract: ServiceContract, op: OperationInfo) -> None:
        fresh = [p for p in op.problems if (p.file, p.pointer) not in contract.reported]
        for problem in fresh:
            contract.reported.add((problem.file, problem.pointer))
        sources = self.info.document_sources
        for diagnostic in problem_diagnostics(fresh, {}, ast.NO_SPAN, sources):
            self.error(diagnostic)

    # ----------------------------------------------------------- parameters

    def _path_parameters(self, op: OperationInfo, match: Match) -> None:
        label = operation_label(op.operation)
        for capture in match.captures:
            parameter = op.parameter(capture.name, "path")
            if parameter is None:
                continue
            if capture.hole is not None:
                found = self.info.type_of(capture.hole) or JSON
                self._value_fits(capture.hole, found, parameter, label)
            elif not has_placeholder(capture.text):
                self._literal_text_fits(capture.text, parameter, label, match)

    def _literal_text_fits(self, text: str, parameter: Parameter, label: str, match: Match) -> None:
        expected = strip_optional(parameter.type)
        ok = True
        if expected in (INT, UINT):
            ok = text.lstrip("-").isdigit()
        elif expected == FLOAT:
            try:
                float(text)
            except ValueError:
                ok = False
        if not ok:
            self.error(
                messages.PARAMETER_TYPE(
                    self._span_of(match),
                    place="path",
                    name=parameter.name,
                    operation=label,
                    expected=expected,
                    found=f'"{text}"',
                )
            )
            return
        self._enum_fits(text, parameter, self._span_of(match), f"parameter `{parameter.name}`")

    def _span_of(self, match: Match) -> ast.Span:
        """Literal path text has no span of its own: point at the path."""
        return self.steps.current_target_span

    def _value_fits(self, node: ast.Node, found: Type, parameter: Parameter, label: str) -> None:
        expected = parameter.type
        if _parameter_accepts(found, expected):
            if isinstance(node, ast.Literal) and isinstance(node.value, str | int):
                self._enum_fits(node.value, parameter, node.span, f"parameter `{parameter.name}`")
            return
        self.error(
            messages.PARAMETER_TYPE(
                node.span,
                place=parameter.place,
                name=parameter.name,
                operation=label,
                expected=expected,
                found=found,
            )
        )

    def _enum_fits(self, value: Any, parameter: Parameter, span: ast.Span, what: str) -> None:
        if parameter.schema is None:
            return
        self._check_enum(value, parameter.schema, span, what)

    def _check_enum(self, value: Any, schema: Located, span: ast.Span, what: str) -> None:
        try:
            resolved = self.contract.contract.resolve(schema)
        except RefError:
            return
        enum = resolved.value.get("enum") if isinstance(resolved.value, dict) else None
        if not isinstance(enum, list) or not enum:
            return
        if value in enum or (isinstance(value, str) and value in [str(v) for v in enum]):
            return
        shown = ", ".join(_literal(v) for v in enum[:MAX_ENUM_SHOWN])
        if len(enum) > MAX_ENUM_SHOWN:
            shown += ", ..."
        hint = suggest(str(value), [str(v) for v in enum if isinstance(v, str)])
        self.error(
            messages.NOT_IN_ENUM(
                span,
                value=_literal(value),
                what=what,
                allowed=shown,
                help=f'did you mean "{hint}"?' if hint else None,
            )
        )

    def _arguments(
        self, op: OperationInfo, action: ast.CallAction, given: _Given
    ) -> tuple[tuple[str, str, ast.Arg], ...]:
        label = operation_label(op.operation)
        found: list[tuple[str, str, ast.Arg]] = []
        seen: set[str] = set()
        for arg in action.args:
            if arg.name is None:
                self.error(
                    messages.BAD_OPERATION_ARGUMENT(
                        arg.span,
                        operation=label,
                        problem="arguments of an operation are named: `name: value`",
                    )
                )
                continue
            parameter = next(
                (
                    op.parameter(arg.name, p)
                    for p in ("path", "query", "header")
                    if op.parameter(arg.name, p)
                ),
                None,
            )
            if parameter is None:
                hint = suggest(arg.name, [p.name for p in op.parameters])
                self.error(
                    messages.BAD_OPERATION_ARGUMENT(
                        arg.span,
                        operation=label,
                        problem=f"no parameter `{arg.name}`",
                        help=f"did you mean `{hint}`?" if hint else None,
                    )
                )
                continue
            if arg.name in seen:
                self.error(
                    messages.BAD_OPERATION_ARGUMENT(
                        arg.span, operation=label, problem=f"`{arg.name}` given twice"
                    )
                )
            seen.add(arg.name)
            self._value_fits(arg.value, self.info.type_of(arg.value) or JSON, parameter, label)
            found.append((parameter.name, parameter.place, arg))
            if parameter.place == "path":
                given.path.add(parameter.name)
            elif parameter.place == "query":
                given.query[parameter.name] = None
            else:
                given.headers[parameter.name.lower()] = None
        return tuple(found)

    def _clause_names(
        self,
        clause: ast.Clause | None,
        into: dict[str, ast.MapEntry | None],
        given: _Given,
        place: str,
    ) -> None:
        if not isinstance(clause, ast.ValueClause):
            return
        value = clause.value
        if isinstance(value, ast.MapLit):
            for entry in value.entries:
                if isinstance(entry.key, ast.Literal) and isinstance(entry.key.value, str):
                    name = entry.key.value if place == "query" else entry.key.value.lower()
                    into[name] = entry
                else:
                    given.open_places.add(place)
            return
        found = strip_optional(self.info.type_of(value) or JSON)
        if isinstance(found, RecordT):
            for item in found.fields:
                into[item.name if place == "query" else item.name.lower()] = None
        else:
            given.open_places.add(place)

    def _auth_header(self, service: ServiceInfo, contract: ServiceContract, given: _Given) -> None:
        clause = service.clauses.get("auth")
        if contract.auth is not None and contract.auth[1] is not None:
            given.headers[contract.auth[1].lower()] = None
        elif isinstance(clause, ast.AuthClause) and clause.scheme == "header" and clause.args:
            name = clause.args[0]
            if isinstance(name, ast.Literal):
                given.headers[str(name.value).lower()] = None
            else:
                given.open_places.add("header")

    def _check_security(
        self, stmt: ast.StepStmt, service: ServiceInfo, op: OperationInfo, given: _Given
    ) -> None:
        if not op.security or any(not requirement for requirement in op.security):
            return
        if "auth" in service.clauses or "header" in given.open_places:
            return
        from flowc.contracts.openapi_service import security_schemes

        schemes = {s.name: s for s in security_schemes(self.contract.contract)}
        for requirement in op.security:
            headers = [schemes[n].header for n in requirement if n in schemes]
            if headers and all(h is not None and h.lower() in given.headers for h in headers):
                return
        names = " or ".join(f"`{n}`" for r in op.security for n in r)
        self.error(
            messages.AUTH_MISSING(
                stmt.action.span,
                operation=operation_label(op.operation),
                schemes=names,
                service=service.name,
            )
        )

    def _check_parameters(self, stmt: ast.StepStmt, op: OperationInfo, given: _Given) -> None:
        label = operation_label(op.operation)
        for parameter in op.parameters:
            if parameter.place == "cookie":
                continue
            if parameter.place == "path":
                present = isinstance(stmt.action, ast.HttpAction) or parameter.name in given.path
            elif parameter.place == "query":
                present = parameter.name in given.query or "query" in given.open_places
            else:
                present = parameter.name.lower() in given.headers or "header" in given.open_places
            if parameter.required and not present:
                self.error(
                    messages.MISSING_PARAMETER(
                        stmt.action.span,
                        operation=label,
                        place=parameter.place,
                        name=parameter.name,
                    )
                )
        for place, names in (("query", given.query), ("header", given.headers)):
            for name, entry in names.items():
                declared = op.parameter(name, place)
                if declared is None:
                    if place == "query" and entry is not None:
                        hint = suggest(name, [p.name for p in op.of_place("query")])
                        self.error(
                            messages.UNKNOWN_PARAMETER(
                                entry.span,
                                operation=label,
                                place=place,
                                name=name,
                                help=f"did you mean `{hint}`?" if hint else None,
                            )
                        )
                    continue
                if entry is not None:
                    found = self.info.type_of(entry.value) or JSON
                    self._value_fits(entry.value, found, declared, label)

    # ----------------------------------------------------------- request body

    def _check_body(
        self, stmt: ast.StepStmt, op: OperationInfo, clauses: dict[str, ast.Clause]
    ) -> None:
        label = operation_label(op.operation)
        given = next((clauses[k] for k in ("json", "form", "body") if k in clauses), None)
        body = op.request_body
        if given is None:
            if body is not None and body.required:
                media = ", ".join(m.media for m in body.media) or "any"
                self.error(messages.BODY_REQUIRED(stmt.action.span, operation=label, media=media))
            return
        assert isinstance(given, ast.ValueClause)
        if body is None:
            self.error(messages.NO_REQUEST_BODY(given.span, operation=label))
            return
        kinds = {"json": ("json",), "form": ("form",), "body": ("text", "bytes")}[given.keyword]
        candidates = [body.of_kind(k) for k in kinds]
        chosen = next((m for m in candidates if m is not None), None)
        if chosen is None:
            if body.media:
                shown = ", ".join(f"`{m.media}`" for m in body.media)
                self.error(
                    messages.BODY_MEDIA(
                        given.span, operation=label, clause=given.keyword, media=shown
                    )
                )
            return
        if chosen.schema is not None and given.keyword in ("json", "form"):
            what = f"the request body of `{label}`"
            BodyChecker(self, what).value(given.value, chosen.schema, what, 0)


@attrs.define(eq=False)
class _Given:
    """The parameter names a step gives, by place."""

    path: set[str] = attrs.field(factory=set)
    query: dict[str, ast.MapEntry | None] = attrs.field(factory=dict)
    headers: dict[str, ast.MapEntry | None] = attrs.field(factory=dict)  # lower-cased
    open_places: set[str] = attrs.field(factory=set)  # places given by a map of unknown keys


class BodyChecker:
    """A literal request body against its schema, field by field."""

    MAX_DEPTH = 32

    def __init__(self, owner: OperationChecker, root: str) -> None:
        self.owner = owner
        self.contract = owner.contract
        self.root = root

    def value(self, expr: ast.Expr, schema: Located, what: str, depth: int) -> None:
        if depth > self.MAX_DEPTH:
            return
        try:
            resolved = self.contract.contract.resolve(schema)
            expected = self.contract.schema_type(schema, "request")
        except RefError as error:
            sources = self.owner.info.document_sources
            diagnostics = problem_diagnostics([error.problem()], {}, ast.NO_SPAN, sources)
            self.owner.error(diagnostics[0])
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
        found = self.owner.info.type_of(expr) or JSON
        if not assignable(found, expected) and found != ERROR:
            from flowc.compiler.exprcheck import mismatch_help

            self.owner.error(
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
            self.owner._check_enum(expr.value, resolved, expr.span, what)

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
                self.owner.error(
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
            self.owner.error(
                messages.MISSING_BODY_FIELD(
                    expr.span, what=what, s="s" if len(missing) > 1 else "", fields=fields
                )
            )


def _parameter_accepts(found: Type, expected: Type) -> bool:
    if assignable(found, expected) or found == ERROR:
        return True
    base = strip_optional(expected)
    if base == STRING and strip_optional(found) in (INT, UINT):
        return True  # an int reads unambiguously as text
    if isinstance(base, ListT):
        return assignable(found, base.elem)  # one value for a repeated parameter
    return False


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _accepted(clauses: dict[str, ast.Clause], service: ServiceInfo) -> tuple[tuple[int, int], ...]:
    for owner in (clauses, service.clauses):
        accept = owner.get("accept")
        if isinstance(accept, ast.AcceptClause):
            return tuple((r.low, r.high) for r in accept.ranges)
    return DEFAULT_ACCEPT


def _covered(status: str, accepted: tuple[tuple[int, int], ...]) -> bool:
    if status == "DEFAULT":
        return False
    if status.isdigit():
        code = int(status)
        return any(low <= code <= high for low, high in accepted)
    first = int(status[0]) * 100
    return any(low <= first + 99 and first <= high for low, high in accepted)


def _response_types(
    op: OperationInfo, accepted: tuple[tuple[int, int], ...]
) -> tuple[Type, Type | None]:
    good = [r.type for r in op.responses if _covered(r.status, accepted)]
    bad = [r.type for r in op.responses if not _covered(r.status, accepted) and r.has_body]
    body = join_all(good) if good else JSON
    error = join_all(bad) if bad else None
    if error == NULL:
        error = None
    return body, error


def caught_body_type(bodies: list[Type | None], opaque: bool) -> Type | None:
    """The type of ``error.body`` in a ``catch``: the join of what its steps' failing
    responses declare, ``json`` when an opaque source (a sub-flow) may fail too."""
    declared = [b for b in bodies if b is not None]
    if not declared:
        return None
    return JSON if opaque else join_all(declared)
