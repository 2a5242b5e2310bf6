"""JSON Schemas as flowc types.

``SchemaTypes(contract).type_of(node, direction)`` gives the flowc type of the
schema at ``node`` (a ``Located``), for a request body or parameter
(``direction="request"``) or a response (``"response"``).  The mapping:

==========================  ==========================================================
schema                      type
==========================  ==========================================================
``string``                  ``string`` (every ``format``: a date-time stays text, so a
                            server's spelling of it never fails a decode)
``integer`` / ``number``    ``int`` / ``float``
``boolean``, ``null``       ``bool``, ``null``
``array``                   ``list[T]`` (``json`` items when ``items`` is missing)
``object`` + properties     a record: ``required`` properties are required fields, the
                            others optional (``?``); ``readOnly`` properties are
                            optional in requests, ``writeOnly`` ones in responses
``object`` without          ``map[string, T]`` from ``additionalProperties`` (``json``
properties                  when it is ``true`` or missing)
``enum`` / ``const``        the values' base type (flowc has no literal unions);
                            ``openapi_check`` still compares literal values with the
                            enumeration, so a misspelt ``"availble"`` is an error
``nullable`` (3.0), a       ``T?``
``"null"`` type or member
(3.1)
``oneOf`` / ``anyOf``       the join of the alternatives (records join to a record whose
                            fields not in every alternative are optional; unrelated
                            alternatives join to ``json``)
``allOf``                   the merged record of the parts (a field required by any
                            part is required)
``$ref``                    the target's type; a schema under
                            ``components/schemas`` lends its name (``Pet``) to messages
anything else               ``json`` (checked at run time)
==========================  ==========================================================

A recursive schema (a tree whose nodes hold nodes) has no flowc type; the
recursion is cut with ``json`` where it closes.  Types are memoised per schema and
direction, so a component used by a hundred operations is converted once.  A
broken reference raises ``RefError``; nesting deeper than ``MAX_DEPTH`` gives
``json``.
"""

from __future__ import annotations

from typing import Any, Final

from flowc.common.typerel import join_all, make_optional
from flowc.common.types import (
    BOOL,
    FLOAT,
    INT,
    JSON,
    NULL,
    STRING,
    Field,
    ListT,
    MapT,
    OptionalT,
    RecordT,
    Type,
)
from flowc.contracts.openapi_document import pointer_parts
from flowc.contracts.openapi_model import Contract, Located

MAX_DEPTH: Final = 48
_PRIMITIVE: Final = {
    "string": STRING,
    "integer": INT,
    "number": FLOAT,
    "boolean": BOOL,
    "null": NULL,
}


def schema_name(node: Located) -> str | None:
    """``Pet`` for ``#/components/schemas/Pet``."""
    parts = pointer_parts(node.pointer)
    if len(parts) == 3 and parts[0] == "components" and parts[1] == "schemas":
        return parts[2]
    return None


class SchemaTypes:
    """Converts the schemas of one contract (memoised; see the module docstring)."""

    def __init__(self, contract: Contract) -> None:
        self.contract = contract
        self._memo: dict[tuple[str, str, str], Type] = {}
        self._active: set[tuple[str, str, str]] = set()

    def type_of(self, node: Located, direction: str, depth: int = 0) -> Type:
        if depth > MAX_DEPTH or not isinstance(node.value, dict):
            return JSON
        value = node.value
        if isinstance(value.get("$ref"), str):
            resolved = self.contract.resolve(node)
            found = self._named(resolved, direction, depth)
            return make_optional(found) if value.get("nullable") is True else found
        return self._schema(node, direction, depth)

    def _named(self, node: Located, direction: str, depth: int) -> Type:
        key = (node.file, node.pointer, direction)
        known = self._memo.get(key)
        if known is not None:
            return known
        if key in self._active:
            return JSON  # a recursive schema: cut where it closes
        self._active.add(key)
        try:
            found = self._schema(node, direction, depth + 1)
        finally:
            self._active.discard(key)
        name = schema_name(node)
        if name is not None:
            found = _named_type(found, name)
        self._memo[key] = found
        return found

    def _schema(self, node: Located, direction: str, depth: int) -> Type:
        value = node.value
        if not isinstance(value, dict):
            return JSON
        found = self._untagged(node, direction, depth)
        nullable = value.get("nullable") is True
        enum = value.get("enum")
        if isinstance(enum, list) and None in enum:
            nullable = True
        return make_optional(found) if nullable and found != NULL else found

    def _untagged(self, node: Located, direction: str, depth: int) -> Type:
        value = node.value
        for combinator in ("oneOf", "anyOf"):
            if isinstance(value.get(combinator), list) and value[combinator]:
                return self._alternatives(node, combinator, direction, depth)
        if isinstance(value.get("allOf"), list) and value["allOf"]:
            return self._all_of(node, direction, depth)
        kind = value.get("type")
        if isinstance(kind, list):
            return self._type_list(node, [k for k in kind if isinstance(k, str)], direction, depth)
        if kind is None:
            kind = _implied_kind(value)
        return self._kind(node, kind, direction, depth)

    def _type_list(self, node: Located, kinds: list[str], direction: str, depth: int) -> Type:
        concrete = [k for k in kinds if k != "null"]
        if len(concrete) != 1:
            return JSON if concrete else NULL
        found = self._kind(node, concrete[0], direction, depth)
        return make_optional(found) if "null" in kinds else found

    def _kind(self, node: Located, kind: Any, direction: str, depth: int) -> Type:
        if kind == "array":
            items = node.value.get("items")
            if not isinstance(items, dict):
                return ListT(JSON)
            return ListT(self.type_of(node.child("items"), direction, depth + 1))
        if kind == "object":
            return self._object(node, direction, depth)
        if isinstance(kind, str):
            return _PRIMITIVE.get(kind, JSON)
        return JSON

    def _object(self, node: Located, direction: str, depth: int) -> Type:
        value = node.value
        properties = value.get("properties")
        if not isinstance(properties, dict) or not properties:
            extra = value.get("additionalProperties")
            if isinstance(extra, dict):
                inner = self.type_of(node.child("additionalProperties"), direction, depth + 1)
                return MapT(STRING, inner)
            return MapT(STRING, JSON)
        required = value.get("required")
        wanted = set(required) if isinstance(required, list) else set()
        fields = []
        for name, schema in properties.items():
            child = node.child("properties", name)
            field_type = self.type_of(child, direction, depth + 1)
            optional = name not in wanted or _skipped(schema, direction)
            fields.append(Field(str(name), field_type, optional))
        return RecordT(tuple(fields))

    def _alternatives(self, node: Located, combinator: str, direction: str, depth: int) -> Type:
        options = node.value[combinator]
        found: list[Type] = []
        nullable = False
        for index, option in enumerate(options):
            if not isinstance(option, dict):
                return JSON
            option_type = self.type_of(node.child(combinator, index), direction, depth + 1)
            if option_type == NULL:
                nullable = True
                continue
            if isinstance(option_type, OptionalT):
                nullable = True
                option_type = option_type.inner
            found.append(option_type)
        joined = join_all(found, empty=NULL)
        return make_optional(joined) if nullable else joined

    def _all_of(self, node: Located, direction: str, depth: int) -> Type:
        parts: list[Type] = []
        for index, part in enumerate(node.value["allOf"]):
            if not isinstance(part, dict) or not _has_type_information(part):
                continue
            parts.append(self.type_of(node.child("allOf", index), direction, depth + 1))
        own = {k: v for k, v in node.value.items() if k != "allOf"}
        if _has_type_information(own):
            parts.append(self._untagged(Located(own, node.file, node.pointer), direction, depth))
        if len(parts) == 1:
            return parts[0]
        records = [p for p in parts if isinstance(p, RecordT)]
        if len(records) != len(parts) or not records:
            return JSON
        return _merge_records(records)


def _implied_kind(value: dict[str, Any]) -> str | None:
    if "properties" in value or "additionalProperties" in value:
        return "object"
    if "items" in value:
        return "array"
    enum = value.get("enum")
    if isinstance(enum, list):
        kinds = {_json_kind(v) for v in enum if v is not None}
        return kinds.pop() if len(kinds) == 1 else None
    if "const" in value:
        return _json_kind(value["const"])
    return None


def _json_kind(value: Any) -> str | None:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def _has_type_information(value: dict[str, Any]) -> bool:
    keys = {"$ref", "type", "properties", "items", "allOf", "oneOf", "anyOf", "enum"}
    return any(k in value for k in keys) or "additionalProperties" in value


def _skipped(schema: Any, direction: str) -> bool:
    """A property a request does not send (readOnly) or a response omits (writeOnly)."""
    if not isinstance(schema, dict):
        return False
    flag = "readOnly" if direction == "request" else "writeOnly"
    return schema.get(flag) is True


def _merge_records(records: list[RecordT]) -> RecordT:
    fields: dict[str, Field] = {}
    for record in records:
        for item in record.fields:
            earlier = fields.get(item.name)
            if earlier is None:
                fields[item.name] = item
                continue
            kept = earlier.type if earlier.type != JSON else item.type
            fields[item.name] = Field(item.name, kept, earlier.optional and item.optional)
    return RecordT(tuple(fields.values()))


def _named_type(found: Type, name: str) -> Type:
    if isinstance(found, RecordT):
        return RecordT(found.fields, name=name)
    if isinstance(found, OptionalT) and isinstance(found.inner, RecordT):
        return OptionalT(RecordT(found.inner.fields, name=name))
    return found
