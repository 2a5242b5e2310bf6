"""Protocol buffer messages as flowc types.

``ProtoTypes(contract).message(name, direction)`` gives the flowc type of a message
as a request (``"request"``: what a step may write) or a response
(``"response"``: what its body holds):

=============================  ===================================================
field                          type
=============================  ===================================================
``int32`` ``sint32``           ``int`` (so are the 64-bit and ``sfixed`` kinds; the
``int64`` ...                  runtime refuses a value out of the field's range)
``uint32`` ``uint64``          ``uint``
``fixed32`` ``fixed64``
``float`` ``double``           ``float``
``bool`` ``string`` ``bytes``  ``bool`` ``string`` ``bytes``
an enum                        ``string``: the value's name (the checker compares a
                               literal with the names, as with an OpenAPI ``enum``)
a message                      a record named after it (``Invoice``)
``repeated T``                 ``list[T]``
``map<K, V>``                  ``map[K, V]``
``google.protobuf.Timestamp``  ``timestamp``; ``Duration``: ``duration``
wrappers (``StringValue``...)  the wrapped type (absent when unset)
``Struct`` / ``Value``         ``map[string, json]`` / ``json``; ``ListValue``:
                               ``list[json]``; ``Empty``: ``{}``
=============================  ===================================================

Presence.  In a request every field may be left out (proto3 has no required
fields; a proto2 ``required`` one is required).  In a response a field with
implicit presence always has a value -- the default when the server sent none,
as every protobuf runtime reads it -- so its record field is required; a field
with explicit presence (a message, an ``optional`` scalar, a ``oneof`` member) is
absent unless the server set it, so its field is optional.  A message that
contains itself (a tree) is cut with ``json`` where the recursion closes.
"""

from __future__ import annotations

from typing import Final

from flowc.common.types import (
    BOOL,
    BYTES,
    DURATION,
    FLOAT,
    INT,
    JSON,
    STRING,
    TIMESTAMP,
    UINT,
    Field,
    ListT,
    MapT,
    RecordT,
    Type,
)
from flowc.contracts.proto_model import ProtoContract, ProtoField

SCALARS: Final[dict[str, Type]] = {
    "double": FLOAT,
    "float": FLOAT,
    "int64": INT,
    "uint64": UINT,
    "int32": INT,
    "fixed64": UINT,
    "fixed32": UINT,
    "bool": BOOL,
    "string": STRING,
    "bytes": BYTES,
    "uint32": UINT,
    "sfixed32": INT,
    "sfixed64": INT,
    "sint32": INT,
    "sint64": INT,
    "enum": STRING,
}
WELL_KNOWN: Final[dict[str, Type]] = {
    "google.protobuf.Timestamp": TIMESTAMP,
    "google.protobuf.Duration": DURATION,
    "google.protobuf.DoubleValue": FLOAT,
    "google.protobuf.FloatValue": FLOAT,
    "google.protobuf.Int64Value": INT,
    "google.protobuf.UInt64Value": UINT,
    "google.protobuf.Int32Value": INT,
    "google.protobuf.UInt32Value": UINT,
    "google.protobuf.BoolValue": BOOL,
    "google.protobuf.StringValue": STRING,
    "google.protobuf.BytesValue": BYTES,
    "google.protobuf.Struct": MapT(STRING, JSON),
    "google.protobuf.Value": JSON,
    "google.protobuf.ListValue": ListT(JSON),
    "google.protobuf.Empty": RecordT((), name="Empty"),
}
INT_RANGES: Final = {
    "int32": (-(2**31), 2**31 - 1),
    "sint32": (-(2**31), 2**31 - 1),
    "sfixed32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "fixed32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "sint64": (-(2**63), 2**63 - 1),
    "sfixed64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
    "fixed64": (0, 2**64 - 1),
}


class ProtoTypes:
    """Message types of one contract, memoised per message and direction."""

    def __init__(self, contract: ProtoContract) -> None:
        self.contract = contract
        self._memo: dict[tuple[str, str], Type] = {}
        self._open: set[tuple[str, str]] = set()

    def message(self, name: str, direction: str) -> Type:
        key = (name, direction)
        known = self._memo.get(key)
        if known is not None:
            return known
        if name in WELL_KNOWN:
            return WELL_KNOWN[name]
        message = self.contract.messages.get(name)
        if message is None or key in self._open:
            return JSON  # unknown (cannot happen after protoc) or recursive
        self._open.add(key)
        try:
            fields = tuple(
                Field(f.name, self.field(f, direction), self._optional(f, direction))
                for f in message.fields
            )
        finally:
            self._open.discard(key)
        found = RecordT(fields, name=message.name)
        self._memo[key] = found
        return found

    def field(self, field: ProtoField, direction: str) -> Type:
        """The type of a field's value (a list for a repeated one, a map for a map)."""
        if field.map_value is not None:
            key = SCALARS.get(field.map_key or "string", STRING)
            return MapT(key, self.field(field.map_value, direction))
        single = self.single(field, direction)
        return ListT(single) if field.repeated else single

    def single(self, field: ProtoField, direction: str) -> Type:
        if field.kind in ("message", "group") and field.type_name is not None:
            return self.message(field.type_name, direction)
        return SCALARS.get(field.kind, JSON)

    @staticmethod
    def _optional(field: ProtoField, direction: str) -> bool:
        if direction == "request":
            return not field.required
        return field.presence
