"""Completion from service contracts: what an OpenAPI document says a step may write.

A step against a service described by an OpenAPI document can be completed from
the document itself, the way an IDE completes a method call from a class:

* **paths** -- inside the string after ``GET petstore "``, the document's path
  templates for that method (``/pet/{petId}`` is inserted as ``/pet/${petId}``,
  replacing what is typed of the path so far), with each operation's summary;
* **parameters** -- in the ``query {`` or ``headers {`` block of such a step, the
  operation's query or header parameters not written yet (required ones first),
  with their types and descriptions;
* **body fields** -- in its ``json {`` block, the fields of the request body's
  schema not written yet, also inside nested records (``json { owner: { ``);
* **operations** -- after ``call petstore.``, the document's ``operationId``s,
  and inside ``call petstore.getPetById(``, the operation's parameters as named
  arguments;
* **gRPC methods** -- after ``call billing.``, the unary methods of a gRPC service's
  ``.proto`` file (``Service.Method`` where two services share a name), and inside
  ``call billing.CreateInvoice(``, the request message's fields.

Where the cursor is comes from the tokens the grammar saw before it
(``cursor.CursorContext``: closed ``{...}`` groups are already emptied, so the
innermost open brackets are the enclosing blocks), and which operation a step
calls from its header tokens -- method, service, path string -- matched against
the service's ``ServiceContract`` of the last good analysis.  So completion works
while the step being typed does not parse yet.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

import attrs
from lsprotocol import types

from flowc.common.typerel import strip_optional
from flowc.common.types import RecordT, Type
from flowc.compiler.grpc_service import GrpcContract
from flowc.compiler.openapi_service import ServiceContract
from flowc.compiler.symbols import ModuleSymbols
from flowc.contracts.openapi_model import Located, RefError
from flowc.contracts.openapi_operations import OperationInfo, Parameter
from flowc.contracts.openapi_paths import StepPath
from flowc.grammar.keywords import HTTP_METHODS
from flowc.lsp.analysis import Snapshot
from flowc.lsp.positions import LineIndex

if TYPE_CHECKING:
    from flowc.compiler.parser_interactive import LexToken

Items = list[types.CompletionItem]

PATH_STRING: Final = re.compile(
    r"\b(" + "|".join(HTTP_METHODS) + r")\s+([A-Za-z_]\w*)\s+\"([^\"\n]*)$"
)
_INTERPOLATION: Final = re.compile(r"\$\{[^}]*\}")
_TEMPLATE_PARAM: Final = re.compile(r"\{([^{}/]+)\}")
_BLOCK_PLACES: Final = {"QUERY": "query", "HEADERS": "header"}
_OPENERS: Final = {"(": ")", "[": "]", "{": "}"}


@attrs.frozen
class StepHeader:
    """What the tokens before a step's clause block say it calls."""

    service: str
    method: str | None = None  # an HTTP step: its method and path string's text
    path: str | None = None
    operation: str | None = None  # a `call service.operation(...)` step


def contract_of(symbols: ModuleSymbols | None, name: str) -> ServiceContract | None:
    found = _described(symbols, name)
    return found if isinstance(found, ServiceContract) else None


def proto_of(symbols: ModuleSymbols | None, name: str) -> GrpcContract | None:
    found = _described(symbols, name)
    return found if isinstance(found, GrpcContract) else None


def _described(symbols: ModuleSymbols | None, name: str) -> object:
    if symbols is None:
        return None
    service = symbols.find_service(name)
    return service.contract if service is not None else None


# --------------------------------------------------------------------------- paths


def path_items(
    snapshot: Snapshot | None, before: str, offset: int, index: LineIndex | None
) -> Items | None:
    """Paths for the string being typed after ``METHOD service "`` (None elsewhere)."""
    line = before[before.rfind("\n") + 1 :]
    found = PATH_STRING.search(line)
    if found is None or snapshot is None:
        return None
    method, service, typed = found.groups()
    contract = contract_of(snapshot.symbols, service)
    if contract is None:
        return None
    edit_range = None
    if index is not None:
        start = index.position_of(offset - len(typed))
        edit_range = types.Range(start=start, end=index.position_of(offset))
    items = []
    for operation in contract.contract.operations:
        if operation.method != method:
            continue
        inserted = flow_string_of(operation.path)
        items.append(
            types.CompletionItem(
                label=operation.path,
                kind=types.CompletionItemKind.Value,
                detail=operation.summary or operation.operation_id,
                filter_text=operation.path,
                text_edit=types.TextEdit(range=edit_range, new_text=inserted)
                if edit_range is not None
                else None,
                insert_text=inserted if edit_range is None else None,
                sort_text=operation.path,
            )
        )
    return items


def flow_string_of(template: str) -> str:
    """A template as the text of a flowc string: ``{name}`` becomes ``${name}``, and
    a literal ``$``, ``"`` or backslash is escaped (``/places/$x`` exists)."""
    pieces = []
    last = 0
    for found in _TEMPLATE_PARAM.finditer(template):
        pieces.append(_escaped(template[last : found.start()]))
        pieces.append("${" + _name_of(found.group(1)) + "}")
        last = found.end()
    pieces.append(_escaped(template[last:]))
    return "".join(pieces)


def _escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")


def _name_of(parameter: str) -> str:
    """A template parameter as a flowc name (``pet-id`` -> ``pet_id``)."""
    name = re.sub(r"\W", "_", parameter)
    return name if name[:1].isalpha() or name[:1] == "_" else f"_{name}"


# --------------------------------------------------------------------------- operations


def method_items(contract: GrpcContract) -> Items:
    """The unary methods of a ``.proto`` file's services, after ``call service.``."""
    items = []
    names = contract.contract.method_names()
    for service in contract.contract.services:
        for method in service.methods:
            if method.client_streaming or method.server_streaming:
                continue
            label = method.name if names.count(method.name) == 1 else None
            items.append(
                types.CompletionItem(
                    label=label or f"{service.name}.{method.name}",
                    kind=types.CompletionItemKind.Method,
                    detail=f"{method.service}/{method.name}({method.input}) -> {method.output}",
                )
            )
    return items


def operation_items(contract: ServiceContract) -> Items:
    """The ``operationId``s of a document, after ``call service.``."""
    items = []
    for operation in contract.contract.operations:
        if operation.operation_id is None or not operation.operation_id.isidentifier():
            continue
        items.append(
            types.CompletionItem(
                label=operation.operation_id,
                kind=types.CompletionItemKind.Method,
                detail=f"{operation.method} {operation.path}",
                documentation=operation.summary,
            )
        )
    return items


# --------------------------------------------------------------------------- blocks


def block_items(snapshot: Snapshot | None, tokens: list[LexToken]) -> Items | None:
    """Names for the key being typed in a ``query``/``headers``/``json`` block of a step
    against an OpenAPI service, or in the arguments of ``call service.operation(``."""
    if snapshot is None or not tokens or tokens[-1].text not in ("{", ",", "("):
        return None
    opened = _open_brackets(tokens)
    if not opened or tokens[opened[-1]].text not in ("{", "("):
        return None
    if tokens[opened[-1]].text == "(":
        return _argument_items(snapshot, tokens, opened)
    keys: list[str] = []  # json fields from the clause down to the cursor's record
    depth = len(opened) - 1
    while depth > 0:
        before = tokens[opened[depth] - 1] if opened[depth] > 0 else None
        if before is None:
            return None
        if before.type in ("QUERY", "HEADERS", "JSON"):
            break
        if before.text != ":" or opened[depth] < 2:
            return None
        keys.insert(0, _key_text(tokens[opened[depth] - 2]))
        depth -= 1
    if depth == 0:
        return None
    clause = tokens[opened[depth] - 1].type
    header = _step_header(tokens, opened[depth - 1])
    found = _operation(snapshot, header) if header is not None else None
    if found is None:
        return None
    contract, info = found
    written = _written_keys(tokens, opened[-1])
    if clause == "JSON":
        return _field_items(contract, info, keys, written)
    if keys:
        return None
    return _parameter_items(info.parameters, _BLOCK_PLACES[clause], written, ": ")


def _open_brackets(tokens: list[LexToken]) -> list[int]:
    opened: list[int] = []
    for position, token in enumerate(tokens):
        if token.text in _OPENERS:
            opened.append(position)
        elif token.text in (")", "]", "}") and opened:
            opened.pop()
    return opened


def _key_text(token: LexToken) -> str:
    text = token.text
    if token.type == "STRING" and len(text) >= 2:
        return text[1:-1]
    return text


def _written_keys(tokens: list[LexToken], opener: int) -> set[str]:
    """The keys already written at the top level of the block opened at ``opener``."""
    written = set()
    depth = 0
    for position in range(opener + 1, len(tokens)):
        text = tokens[position].text
        if text in _OPENERS:
            depth += 1
        elif text in (")", "]", "}"):
            depth -= 1
        elif depth == 0 and text == ":" and position > opener + 1:
            written.add(_key_text(tokens[position - 1]))
    return written


def _step_header(tokens: list[LexToken], block: int) -> StepHeader | None:
    """The step whose clause block opens at ``block``: ``step x = GET svc "path" {`` or
    ``step x = call svc.operation(...) {`` (a step declared ``-> T`` has no header
    this finds: its document gives it no types to complete from anyway)."""
    last = block - 1
    if last >= 2 and tokens[last].type == "STRING" and tokens[last - 2].type in HTTP_METHODS:
        return StepHeader(tokens[last - 1].text, tokens[last - 2].type, tokens[last].text)
    if last < 0 or tokens[last].text != ")":
        return None
    depth = 0
    for position in range(last, -1, -1):
        text = tokens[position].text
        depth += text == ")"
        depth -= text == "("
        if depth == 0:
            if position >= 4 and tokens[position - 4].type == "CALL":
                return StepHeader(tokens[position - 3].text, operation=tokens[position - 1].text)
            return None
    return None


def _operation(
    snapshot: Snapshot, header: StepHeader
) -> tuple[ServiceContract, OperationInfo] | None:
    contract = contract_of(snapshot.symbols, header.service)
    if contract is None:
        return None
    if header.operation is not None:
        operation = contract.contract.by_id.get(header.operation)
    else:
        assert header.method is not None and header.path is not None
        text = header.path[1:-1] if len(header.path) >= 2 else ""
        pieces = _INTERPOLATION.split(text)
        parts: list[str | None] = []
        for number, piece in enumerate(pieces):
            if number:
                parts.append(None)
            parts.append(piece)
        match = contract.index.match(header.method, StepPath.of_parts(parts))
        operation = match.operation if match is not None else None
    return (contract, contract.operation_info(operation)) if operation is not None else None


def _argument_items(snapshot: Snapshot, tokens: list[LexToken], opened: list[int]) -> Items | None:
    """Parameters as named arguments inside ``call service.operation(``, or the request
    message's fields inside ``call service.Method(``."""
    start = opened[-1]
    names = _dotted_call(tokens, start)
    if names is None:
        return None
    service, operation = names
    proto = proto_of(snapshot.symbols, service)
    if proto is not None:
        return _field_items_of_method(proto, operation, _written_keys(tokens, start))
    header = StepHeader(service, operation=operation)
    found = _operation(snapshot, header)
    if found is None:
        return None
    info = found[1]
    written = _written_keys(tokens, start)
    parameters = [p for p in info.parameters if p.place in ("path", "query", "header")]
    return _parameter_items(parameters, None, written, ": ")


def _dotted_call(tokens: list[LexToken], start: int) -> tuple[str, str] | None:
    """``(service, name)`` when the tokens before the ``(`` at ``start`` are
    ``call service.name`` or ``call service.Service.Method``."""
    for length in (4, 6):
        parts = tokens[start - length : start]
        if len(parts) != length or parts[0].type != "CALL":
            continue
        dots = [t.text for t in parts[2::2]]
        names = [t.text for t in parts[1::2]]
        if all(d == "." for d in dots) and all(n.isidentifier() for n in names):
            return names[0], ".".join(names[1:])
    return None


def _field_items_of_method(contract: GrpcContract, name: str, written: set[str]) -> Items | None:
    found = contract.contract.methods_named(name)
    if len(found) != 1:
        return None
    request = contract.types.message(found[0].input, "request")
    if not isinstance(request, RecordT):
        return None
    return [
        types.CompletionItem(
            label=field.name,
            kind=types.CompletionItemKind.Field,
            detail=str(field.type),
            insert_text=f"{field.name}: ",
        )
        for field in request.fields
        if field.name not in written
    ]


def _parameter_items(
    parameters: list[Parameter], place: str | None, written: set[str], suffix: str
) -> Items:
    items = []
    for parameter in parameters:
        if place is not None and parameter.place != place:
            continue
        if parameter.name in written or (place is None and not parameter.name.isidentifier()):
            continue
        label = parameter.name
        key = label if label.isidentifier() else f'"{label}"'
        required = "required " if parameter.required else ""
        items.append(
            types.CompletionItem(
                label=label,
                kind=types.CompletionItemKind.Property,
                detail=f"{required}{parameter.place} parameter: {parameter.type}",
                documentation=parameter.description,
                insert_text=key + suffix,
                sort_text=("0" if parameter.required else "1") + label,
            )
        )
    return items


def _field_items(
    contract: ServiceContract, info: OperationInfo, keys: list[str], written: set[str]
) -> Items | None:
    body = info.request_body
    media = body.of_kind("json") if body is not None else None
    if media is None or media.schema is None:
        return None
    record = _record_at(_request_type(contract, media.schema), keys)
    if record is None:
        return None
    items = []
    for field in record.fields:
        if field.name in written:
            continue
        key = field.name if field.name.isidentifier() else f'"{field.name}"'
        items.append(
            types.CompletionItem(
                label=field.name,
                kind=types.CompletionItemKind.Field,
                detail=f"{field.type}{'' if not field.optional else ' (optional)'}",
                insert_text=f"{key}: ",
                sort_text=("1" if field.optional else "0") + field.name,
            )
        )
    return items


def _request_type(contract: ServiceContract, schema: Located) -> Type | None:
    try:
        return contract.schema_type(schema, "request")
    except RefError:  # the checker reports it; completion offers nothing
        return None


def _record_at(found: Type | None, keys: list[str]) -> RecordT | None:
    """The record reached from ``found`` through the fields ``keys``."""
    for key in keys:
        found = strip_optional(found) if found is not None else None
        field = found.field(key) if isinstance(found, RecordT) else None
        if field is None:
            return None
        found = field.type
    found = strip_optional(found) if found is not None else None
    return found if isinstance(found, RecordT) else None
