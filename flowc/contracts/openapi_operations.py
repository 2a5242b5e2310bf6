"""One operation spelled out: its parameters, request body, responses and security.

``OperationInfo.read(contract, types, operation)`` resolves everything a step against
``operation`` is checked with: the parameters (the path item's, overridden by the
operation's own with the same name and place), the request body's media types, each
declared response's body type, and the security requirements (the operation's, else
the document's).  A broken ``$ref`` met on the way is recorded in ``problems`` and
the thing it stood for is left out, so one bad reference costs one diagnostic, not
the whole check.

Media types: a body is *json* for ``application/json``, ``*/*+json`` and ``*/*``;
*form* for ``application/x-www-form-urlencoded``; *text* for ``text/*``; *bytes* for
anything else (``application/octet-stream``, images).  A response without content
decodes to ``null``; a JSON response to its schema's type; a text response to
``string``; anything else to ``bytes``.  ``Accept``, ``Content-Type`` and
``Authorization`` header parameters are ignored, as the specification says.
"""

from __future__ import annotations

from typing import Final

import attrs

from flowc.common.types import BYTES, JSON, NULL, STRING, Type
from flowc.contracts.openapi_model import Contract, Located, Operation, Problem, RefError
from flowc.contracts.openapi_types import SchemaTypes

IGNORED_HEADERS: Final = frozenset({"accept", "content-type", "authorization"})


@attrs.frozen(slots=True)
class Parameter:
    name: str
    place: str  # path query header cookie
    required: bool
    type: Type
    schema: Located | None
    description: str | None


@attrs.frozen(slots=True)
class Media:
    media: str
    kind: str  # json form text bytes
    schema: Located | None


@attrs.frozen(slots=True)
class RequestBody:
    required: bool
    media: tuple[Media, ...]

    def of_kind(self, kind: str) -> Media | None:
        for media in self.media:
            if media.kind == kind:
                return media
        return None


@attrs.frozen(slots=True)
class Response:
    status: str  # 200, 4XX, default
    type: Type
    has_body: bool

    def covers(self, status: int) -> bool:
        if self.status.isdigit():
            return int(self.status) == status
        if self.status[0].isdigit():
            return self.status[0] == str(status)[0]
        return False


def media_kind(media: str) -> str:
    base = media.split(";", 1)[0].strip().lower()
    if base in ("application/json", "*/*") or base.endswith("+json"):
        return "json"
    if base == "application/x-www-form-urlencoded":
        return "form"
    if base.startswith("text/"):
        return "text"
    return "bytes"


@attrs.define(eq=False)
class OperationInfo:
    operation: Operation
    parameters: list[Parameter]
    request_body: RequestBody | None
    responses: list[Response]
    security: list[dict[str, list[str]]]
    summary: str | None
    problems: list[Problem] = attrs.field(factory=list)

    @classmethod
    def read(cls, contract: Contract, types: SchemaTypes, operation: Operation) -> OperationInfo:
        reader = _Reader(contract, types)
        node = contract.operation(operation)
        parameters = reader.parameters(node, operation)
        body = reader.request_body(node)
        responses = reader.responses(node)
        security = node.value.get("security")
        requirements = contract.security
        if isinstance(security, list):
            requirements = [r for r in security if isinstance(r, dict)]
        return cls(
            operation,
            parameters,
            body,
            responses,
            requirements,
            operation.summary,
            reader.problems,
        )

    def parameter(self, name: str, place: str | None = None) -> Parameter | None:
        for parameter in self.parameters:
            if parameter.name == name and place in (None, parameter.place):
                return parameter
        if place == "header":
            lowered = name.lower()
            for parameter in self.parameters:
                if parameter.place == "header" and parameter.name.lower() == lowered:
                    return parameter
        return None

    def of_place(self, place: str) -> list[Parameter]:
        return [p for p in self.parameters if p.place == place]


class _Reader:
    def __init__(self, contract: Contract, types: SchemaTypes) -> None:
        self.contract = contract
        self.types = types
        self.problems: list[Problem] = []

    def resolve(self, node: Located) -> Located | None:
        try:
            return self.contract.resolve(node)
        except RefError as error:
            self.problems.append(error.problem())
            return None

    def type_of(self, node: Located | None, direction: str) -> Type:
        if node is None or not isinstance(node.value, dict):
            return JSON
        try:
            return self.types.type_of(node, direction)
        except RefError as error:
            self.problems.append(error.problem())
            return JSON

    def parameters(self, node: Located, operation: Operation) -> list[Parameter]:
        found: dict[tuple[str, str], Parameter] = {}
        item_pointer = node.pointer.rsplit("/", 1)[0]
        item = Located(self.contract.value_at(node.file, item_pointer), node.file, item_pointer)
        for owner in (item, node):
            entries = owner.value.get("parameters") if isinstance(owner.value, dict) else None
            if not isinstance(entries, list):
                continue
            for index in range(len(entries)):
                parameter = self.parameter(owner.child("parameters", index))
                if parameter is not None:
                    found[(parameter.name, parameter.place)] = parameter
        return list(found.values())

    def parameter(self, node: Located) -> Parameter | None:
        resolved = self.resolve(node)
        if resolved is None or not isinstance(resolved.value, dict):
            return None
        value = resolved.value
        name, place = value.get("name"), value.get("in")
        if not isinstance(name, str) or place not in ("path", "query", "header", "cookie"):
            return None
        if place == "header" and name.lower() in IGNORED_HEADERS:
            return None
        schema = resolved.child("schema") if isinstance(value.get("schema"), dict) else None
        if schema is None and isinstance(value.get("content"), dict):
            for media in value["content"]:
                schema = resolved.child("content", media, "schema")
                break
        description = value.get("description")
        return Parameter(
            name,
            place,
            value.get("required") is True or place == "path",
            self.type_of(schema, "request"),
            schema,
            description if isinstance(description, str) else None,
        )

    def request_body(self, node: Located) -> RequestBody | None:
        if not isinstance(node.value.get("requestBody"), dict):
            return None
        resolved = self.resolve(node.child("requestBody"))
        if resolved is None or not isinstance(resolved.value, dict):
            return None
        content = resolved.value.get("content")
        media: list[Media] = []
        if isinstance(content, dict):
            for name, entry in content.items():
                has_schema = isinstance(entry, dict) and isinstance(entry.get("schema"), dict)
                schema = resolved.child("content", name, "schema") if has_schema else None
                media.append(Media(str(name), media_kind(str(name)), schema))
        return RequestBody(resolved.value.get("required") is True, tuple(media))

    def responses(self, node: Located) -> list[Response]:
        responses = node.value.get("responses")
        if not isinstance(responses, dict):
            return []
        found = []
        for status in responses:
            if str(status).startswith("x-"):
                continue
            resolved = self.resolve(node.child("responses", status))
            if resolved is None or not isinstance(resolved.value, dict):
                continue
            body_type, has_body = self.response_type(resolved)
            found.append(Response(str(status).upper(), body_type, has_body))
        return found

    def response_type(self, response: Located) -> tuple[Type, bool]:
        content = response.value.get("content")
        if not isinstance(content, dict) or not content:
            return NULL, False
        by_kind: dict[str, str] = {}
        for name in content:
            by_kind.setdefault(media_kind(str(name)), str(name))
        if "json" in by_kind:
            entry = content[by_kind["json"]]
            if isinstance(entry, dict) and isinstance(entry.get("schema"), dict):
                return self.type_of(
                    response.child("content", by_kind["json"], "schema"), "response"
                ), True
            return JSON, True
        if "text" in by_kind:
            return STRING, True
        return BYTES, True
