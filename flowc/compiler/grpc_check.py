"""Checking a step that calls a gRPC method, and the type of its value.

A step calls a unary method of a gRPC service by name:
``call billing.CreateInvoice(customer_id: c, lines: [...])``, or
``call billing.Billing.CreateInvoice(...)`` when two services of the ``.proto`` file
have a method of that name.  ``MethodChecker.check``:

* finds the method (E0626 with a suggestion, E0627 when ambiguous) and refuses a
  streaming one (E0628; server streaming is planned);
* checks the request: the arguments are the request message's fields by name, or
  a single positional argument is the whole message.  Each field must exist
  (E0629: protocol buffers would drop an unknown field silently), fields of one
  ``oneof`` exclude each other (E0630), a proto2 ``required`` field must be given
  (E0614).  Values are checked against the field types (``proto_types``): record
  literals for messages field by field, list literals item by item, a literal
  enum value against the enum's names (E0613), an integer literal against the
  field's range (E0634).  An ``int`` is taken where the field is a ``uint`` or a
  ``float`` (the runtime converts, refusing a negative ``uint``), and a
  ``secret`` where it is a ``string``;
* refuses the HTTP clauses (``query``, ``json``, ``form``, ``body``, ``accept``:
  E0632);
* gives the step's value: ``body`` is the response message's type, exactly as the
  runtime decodes it, so ``created.body.total.minor_units`` is typed.

The result, a ``GrpcCall``, is what lowering needs: the method, and which
argument fills which field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import attrs

from flowc.common.typerel import assignable, strip_optional
from flowc.common.types import (
    ERROR,
    FLOAT,
    INT,
    JSON,
    SECRET,
    STRING,
    UINT,
    ListT,
    MapT,
    RecordT,
    Type,
)
from flowc.compiler import ast, messages
from flowc.compiler.diagnostics import Diagnostic
from flowc.compiler.exprcheck import mismatch_help
from flowc.compiler.grpc_service import GrpcContract
from flowc.compiler.openapi_body import not_in_enum
from flowc.compiler.scope import CheckInfo, suggest
from flowc.contracts.proto_model import ProtoField, ProtoMessage, ProtoMethod
from flowc.contracts.proto_types import INT_RANGES, WELL_KNOWN

Report = Callable[[Diagnostic], None]
HTTP_CLAUSES: Final = {
    "query": "gRPC has no query string; put the value in the request message",
    "json": "the call's arguments are the request message",
    "form": "the call's arguments are the request message",
    "body": "the call's arguments are the request message",
    "accept": "a gRPC call succeeds with status OK; other statuses are errors",
}
MAX_DEPTH: Final = 32


@attrs.frozen(slots=True)
class GrpcCall:
    """What lowering needs of a step that calls a gRPC method."""

    method: ProtoMethod
    body_type: Type  # the response message's type
    fields: tuple[tuple[str, ast.Arg], ...] = ()  # (field, argument) for named arguments
    message: ast.Expr | None = None  # the whole request, given positionally


class MethodChecker:
    """Checks the steps of one flow that call gRPC methods."""

    def __init__(self, info: CheckInfo, report: Report) -> None:
        self.info = info
        self.error = report

    def check(
        self,
        service_name: str,
        contract: GrpcContract,
        action: ast.CallAction,
        clauses: dict[str, ast.Clause],
    ) -> GrpcCall | None:
        for keyword, why in HTTP_CLAUSES.items():
            clause = clauses.get(keyword)
            if clause is not None:
                self.error(messages.NOT_FOR_GRPC(clause.span, what=f"`{keyword}`", why=why))
        method = self._method(service_name, contract, action)
        if method is None:
            return None
        request = contract.contract.messages.get(method.input)
        body = contract.types.message(method.output, "response")
        if request is None:  # a well-known type as the request (Empty, say)
            return GrpcCall(method, body, message=self._whole_well_known(action, method))
        values = _MessageValues(self, contract, method)
        named = [arg for arg in action.args if arg.name is not None]
        if (named and len(named) != len(action.args)) or len(action.args) - len(named) > 1:
            self.error(
                messages.BAD_METHOD_ARGUMENT(
                    action.span,
                    method=method.name,
                    problem="give the request's fields by name, or the whole request alone",
                )
            )
            return GrpcCall(method, body)
        if not named and action.args:
            whole = action.args[0].value
            values.message(whole, request, _Place(f"the request of `{method.name}`", ""))
            return GrpcCall(method, body, message=whole)
        fields = values.arguments(action, request)
        return GrpcCall(method, body, fields=fields)

    def _method(
        self, service_name: str, contract: GrpcContract, action: ast.CallAction
    ) -> ProtoMethod | None:
        found = contract.contract.methods_named(action.flow)
        if not found:
            hint = suggest(action.flow, contract.contract.method_names())
            self.error(
                messages.UNKNOWN_METHOD(
                    action.span,
                    service=service_name,
                    name=action.flow,
                    help=f"did you mean `{hint}`?" if hint else None,
                )
            )
            return None
        if len(found) > 1:
            services = " and ".join(f"`{m.service}`" for m in found)
            example = f"`call {service_name}.{found[0].service_name}.{found[0].name}(...)`"
            self.error(
                messages.AMBIGUOUS_METHOD(
                    action.span, name=action.flow, services=services, help=f"write {example}"
                )
            )
            return None
        method = found[0]
        if method.client_streaming or method.server_streaming:
            kind = (
                "bidirectional"
                if method.client_streaming and method.server_streaming
                else "client"
                if method.client_streaming
                else "server"
            )
            self.error(messages.STREAMING_METHOD(action.span, method=method.name, kind=kind))
            return None
        return method

    def _whole_well_known(self, action: ast.CallAction, method: ProtoMethod) -> ast.Expr | None:
        """A request that is a well-known type: ``Empty`` takes no arguments."""
        if action.args:
            self.error(
                messages.BAD_METHOD_ARGUMENT(
                    action.span,
                    method=method.name,
                    problem=f"its request is `{method.input}`, which takes no arguments here",
                )
            )
        return None


@attrs.frozen(slots=True)
class _Place:
    """Where in a request a value goes, for messages: ``field `lines[0].quantity` of
    the request of `CreateInvoice```."""

    root: str  # the request as a whole
    path: str  # from the request down to the value ("" for the request itself)
    depth: int = 0

    @property
    def text(self) -> str:
        return f"field `{self.path}` of {self.root}" if self.path else self.root

    def field(self, name: str) -> _Place:
        path = f"{self.path}.{name}" if self.path else name
        return _Place(self.root, path, self.depth + 1)

    def item(self, index: str) -> _Place:
        return _Place(self.root, f"{self.path}[{index}]", self.depth + 1)


class _MessageValues:
    """Values written for the fields of request messages."""

    def __init__(self, owner: MethodChecker, contract: GrpcContract, method: ProtoMethod) -> None:
        self.owner = owner
        self.info = owner.info
        self.error = owner.error
        self.contract = contract
        self.method = method

    def arguments(
        self, action: ast.CallAction, request: ProtoMessage
    ) -> tuple[tuple[str, ast.Arg], ...]:
        what = f"the request of `{self.method.name}`"
        found: list[tuple[str, ast.Arg]] = []
        given: dict[str, ast.Node] = {}
        for arg in action.args:
            assert arg.name is not None
            field = self._field(request, arg.name, arg.span, what)
            if field is None:
                continue
            if arg.name in given:
                self.error(
                    messages.BAD_METHOD_ARGUMENT(
                        arg.span, method=self.method.name, problem=f"`{arg.name}` given twice"
                    )
                )
                continue
            given[arg.name] = arg
            self.value(arg.value, field, _Place(what, arg.name))
            found.append((field.name, arg))
        self._whole_message_rules(request, given, action.span, what)
        return tuple(found)

    def _field(
        self, message: ProtoMessage, name: str, span: ast.Span, what: str
    ) -> ProtoField | None:
        field = message.field(name)
        if field is None:
            hint = suggest(name, [f.name for f in message.fields])
            self.error(
                messages.UNKNOWN_MESSAGE_FIELD(
                    span, what=what, field=name, help=f"did you mean `{hint}`?" if hint else None
                )
            )
        return field

    def _whole_message_rules(
        self, message: ProtoMessage, given: dict[str, ast.Node], span: ast.Span, what: str
    ) -> None:
        by_oneof: dict[str, list[str]] = {}
        for name in given:
            field = message.field(name)
            if field is not None and field.oneof is not None:
                by_oneof.setdefault(field.oneof, []).append(name)
        for oneof, names in by_oneof.items():
            if len(names) > 1:
                fields = " and ".join(f"`{n}`" for n in names)
                self.error(
                    messages.ONEOF_CONFLICT(
                        given[names[1]].span, what=what, fields=fields, oneof=oneof
                    )
                )
        missing = [f.name for f in message.fields if f.required and f.name not in given]
        if missing:
            shown = ", ".join(f"`{m}`" for m in missing)
            self.error(
                messages.MISSING_BODY_FIELD(
                    span, what=what, s="s" if len(missing) > 1 else "", fields=shown
                )
            )

    def message(self, expr: ast.Expr, message: ProtoMessage, place: _Place) -> None:
        """A value written for a whole message: a record literal field by field."""
        if not isinstance(expr, ast.MapLit):
            expected = self.contract.types.message(message.full_name, "request")
            self._by_type(expr, expected, place.text)
            return
        given: dict[str, ast.Node] = {}
        for entry in expr.entries:
            if not (isinstance(entry.key, ast.Literal) and isinstance(entry.key.value, str)):
                continue  # a computed key: its name is known at run time only
            name = entry.key.value
            field = self._field(message, name, entry.key.span, place.text)
            if field is None:
                continue
            given[name] = entry
            self.value(entry.value, field, place.field(name))
        self._whole_message_rules(message, given, expr.span, place.text)

    def value(self, expr: ast.Expr, field: ProtoField, place: _Place) -> None:
        """A value written for one field."""
        if place.depth > MAX_DEPTH:
            return
        if field.map_value is not None:
            if isinstance(expr, ast.MapLit):
                for entry in expr.entries:
                    self._single(entry.value, field.map_value, place.item("…"))
            else:
                self._by_type(expr, self.contract.types.field(field, "request"), place.text)
            return
        if field.repeated:
            if isinstance(expr, ast.ListLit):
                for index, item in enumerate(expr.items):
                    self._single(item, field, place.item(str(index)))
            else:
                self._by_type(expr, self.contract.types.field(field, "request"), place.text)
            return
        self._single(expr, field, place)

    def _single(self, expr: ast.Expr, field: ProtoField, place: _Place) -> None:
        if field.kind == "message" and field.type_name not in WELL_KNOWN:
            nested = self.contract.contract.messages.get(field.type_name or "")
            if nested is not None:
                self.message(expr, nested, place)
                return
        what = place.text
        expected = self.contract.types.single(field, "request")
        if not self._by_type(expr, expected, what):
            return
        negative = isinstance(expr, ast.Unary) and expr.op == "-"
        literal = expr.operand if isinstance(expr, ast.Unary) and negative else expr
        if isinstance(literal, ast.Literal):
            self._literal(literal, negative, expr.span, field, what)

    def _literal(
        self, expr: ast.Literal, negative: bool, span: ast.Span, field: ProtoField, what: str
    ) -> None:
        if field.kind == "enum" and isinstance(expr.value, str):
            enum = self.contract.contract.enums.get(field.type_name or "")
            if enum is not None:
                found = not_in_enum(expr.value, list(enum.names), expr.span, what)
                if found is not None:
                    self.error(found)
            return
        bounds = INT_RANGES.get(field.kind)
        value = expr.value
        if bounds is None or not isinstance(value, int) or isinstance(value, bool):
            return
        value = -value if negative else value
        low, high = bounds
        if not low <= value <= high:
            self.error(
                messages.OUT_OF_RANGE(
                    span, value=value, what=what, kind=field.kind, low=low, high=high
                )
            )

    def _by_type(self, expr: ast.Expr, expected: Type, what: str) -> bool:
        found = self.info.type_of(expr) or JSON
        if _accepts(found, expected):
            return True
        self.error(
            messages.TYPE_MISMATCH(
                expr.span,
                what=what,
                expected=expected,
                found=found,
                help=mismatch_help(found, expected),
            )
        )
        return False


def _accepts(found: Type, expected: Type) -> bool:
    if found == ERROR or assignable(found, expected):
        return True
    base, given = strip_optional(expected), strip_optional(found)
    if base in (UINT, FLOAT) and given == INT:
        return True  # converted when the message is built
    if base == STRING and given == SECRET:
        return True  # sent, never shown
    if isinstance(base, ListT) and isinstance(given, ListT):
        return _accepts(given.elem, base.elem)
    if isinstance(base, MapT) and isinstance(given, MapT):
        return _accepts(given.key, base.key) and _accepts(given.value, base.value)
    if isinstance(base, RecordT) and isinstance(given, RecordT):
        return all(
            (field := base.field(f.name)) is not None and _accepts(f.type, field.type)
            for f in given.fields
        )
    return False
