"""A ``.proto`` file as flowc needs it: ``ProtoContract``.

``ProtoContract.from_descriptors(root, descriptors)`` reads the serialized
``FileDescriptorSet`` that ``protoc`` made (``proto_document``) into plain,
immutable records: the services of the root file with their methods, and every
message and enum of the file and its imports, with their fields.  Nothing here
is protobuf's own object model, so the checker, the language server and the
store share one small vocabulary:

* ``ProtoMethod`` -- its full path (``/billing.v1.Billing/CreateInvoice``, what
  goes on the wire), its request and response message names, whether either side
  streams, and its ``idempotency_level`` option (``NO_SIDE_EFFECTS`` makes a call
  safe to overlap like a GET; ``IDEMPOTENT`` safe to retry);
* ``ProtoMessage`` and ``ProtoField`` -- a field's kind (``int32``, ``string``,
  ``message``, ``enum``...), the message or enum it names, whether it repeats,
  whether it has explicit presence (``optional``, a message, a ``oneof`` member: it
  may be absent), its ``oneof``, and for a ``map<K, V>`` the key's kind and the
  value field;
* ``ProtoEnum`` -- its value names and numbers.

Full names carry no leading dot (``billing.v1.Invoice``).  Methods are found by
name (``methods_named``): a flow calls ``call billing.CreateInvoice(...)``, or
``call billing.Billing.CreateInvoice(...)`` when two services of the file have
a method of that name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import attrs

if TYPE_CHECKING:
    from google.protobuf.descriptor_pb2 import (
        DescriptorProto,
        EnumDescriptorProto,
        FieldDescriptorProto,
        FileDescriptorProto,
        ServiceDescriptorProto,
    )

# FieldDescriptorProto.Type numbers and the names the language uses for them.
KINDS: Final = {
    1: "double",
    2: "float",
    3: "int64",
    4: "uint64",
    5: "int32",
    6: "fixed64",
    7: "fixed32",
    8: "bool",
    9: "string",
    10: "group",
    11: "message",
    12: "bytes",
    13: "uint32",
    14: "enum",
    15: "sfixed32",
    16: "sfixed64",
    17: "sint32",
    18: "sint64",
}
_REPEATED: Final = 3
_REQUIRED: Final = 2
_IDEMPOTENCY: Final = {1: "NO_SIDE_EFFECTS", 2: "IDEMPOTENT"}


@attrs.frozen(slots=True)
class ProtoField:
    name: str
    number: int
    kind: str  # a KINDS value
    type_name: str | None = None  # the message or enum, for those kinds
    repeated: bool = False
    presence: bool = False  # explicit presence: absent unless set
    required: bool = False  # proto2 `required`
    oneof: str | None = None  # a real oneof (not a proto3 `optional`'s synthetic one)
    map_key: str | None = None  # the key's kind, for a map field
    map_value: ProtoField | None = None


@attrs.frozen(slots=True)
class ProtoMessage:
    full_name: str
    fields: tuple[ProtoField, ...]

    @property
    def name(self) -> str:
        return self.full_name.rsplit(".", 1)[-1]

    def field(self, name: str) -> ProtoField | None:
        return next((f for f in self.fields if f.name == name), None)


@attrs.frozen(slots=True)
class ProtoEnum:
    full_name: str
    values: tuple[tuple[str, int], ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.values)


@attrs.frozen(slots=True)
class ProtoMethod:
    service: str  # the service's full name
    name: str
    input: str  # the request message's full name
    output: str
    client_streaming: bool = False
    server_streaming: bool = False
    idempotency: str | None = None  # NO_SIDE_EFFECTS | IDEMPOTENT

    @property
    def path(self) -> str:
        """The method's name on the wire: ``/package.Service/Method``."""
        return f"/{self.service}/{self.name}"

    @property
    def service_name(self) -> str:
        return self.service.rsplit(".", 1)[-1]


@attrs.frozen(slots=True)
class ProtoService:
    full_name: str
    methods: tuple[ProtoMethod, ...]

    @property
    def name(self) -> str:
        return self.full_name.rsplit(".", 1)[-1]


@attrs.define(eq=False)
class ProtoContract:
    """The services of one ``.proto`` file and every type they use."""

    root: str  # the file's absolute path
    descriptors: bytes  # the FileDescriptorSet protoc made, for the runtime's codec
    services: tuple[ProtoService, ...]
    messages: dict[str, ProtoMessage]
    enums: dict[str, ProtoEnum]
    digests: dict[str, str] = attrs.field(factory=dict)

    @classmethod
    def from_descriptors(
        cls, root: str, descriptors: bytes, digests: dict[str, str] | None = None
    ) -> ProtoContract:
        from google.protobuf import descriptor_pb2

        files = descriptor_pb2.FileDescriptorSet.FromString(descriptors).file
        reader = _Reader()
        for proto in files:
            reader.file(proto)
        own = files[-1] if files else None  # protoc lists dependencies first
        services = tuple(reader.service(own, s) for s in own.service) if own is not None else ()
        return cls(root, descriptors, services, reader.messages, reader.enums, digests or {})

    def methods_named(self, name: str) -> list[ProtoMethod]:
        """The unary-or-not methods called ``name`` (``Method`` or ``Service.Method``)."""
        service, _, method = name.rpartition(".")
        return [
            m
            for s in self.services
            for m in s.methods
            if m.name == method and (not service or s.name == service)
        ]

    def method_names(self) -> list[str]:
        return [m.name for s in self.services for m in s.methods]


class _Reader:
    """Walks FileDescriptorProtos, collecting messages and enums by full name."""

    def __init__(self) -> None:
        self.messages: dict[str, ProtoMessage] = {}
        self.enums: dict[str, ProtoEnum] = {}
        self._maps: dict[str, tuple[ProtoField, ProtoField]] = {}  # map entries
        self._proto3 = False

    def file(self, proto: FileDescriptorProto) -> None:
        self._proto3 = proto.syntax == "proto3"
        prefix = f"{proto.package}." if proto.package else ""
        for enum in proto.enum_type:
            self._enum(prefix, enum)
        for message in proto.message_type:  # map entries first: fields refer to them
            self._collect_maps(prefix, message)
        for message in proto.message_type:
            self._message(prefix, message)

    def _enum(self, prefix: str, enum: EnumDescriptorProto) -> None:
        name = prefix + enum.name
        self.enums[name] = ProtoEnum(name, tuple((v.name, v.number) for v in enum.value))

    def _collect_maps(self, prefix: str, message: DescriptorProto) -> None:
        full = prefix + message.name
        for nested in message.nested_type:
            if nested.options.map_entry and len(nested.field) == 2:
                key, value = (self._field(f, nested) for f in nested.field)
                self._maps[f"{full}.{nested.name}"] = (key, value)
            self._collect_maps(full + ".", nested)

    def _message(self, prefix: str, message: DescriptorProto) -> None:
        full = prefix + message.name
        for enum in message.enum_type:
            self._enum(full + ".", enum)
        for nested in message.nested_type:
            if not nested.options.map_entry:
                self._message(full + ".", nested)
        fields = tuple(self._field(f, message) for f in message.field)
        self.messages[full] = ProtoMessage(full, fields)

    def _field(self, field: FieldDescriptorProto, owner: DescriptorProto) -> ProtoField:
        kind = KINDS.get(field.type, "bytes")
        type_name = field.type_name.lstrip(".") or None
        oneof = None
        synthetic = field.proto3_optional
        if field.HasField("oneof_index") and not synthetic:
            oneof = owner.oneof_decl[field.oneof_index].name
        repeated = field.label == _REPEATED
        entry = self._maps.get(type_name or "") if repeated else None
        if entry is not None:
            key, value = entry
            return ProtoField(field.name, field.number, "map", map_key=key.kind, map_value=value)
        presence = not repeated and (
            kind in ("message", "group") or synthetic or oneof is not None or not self._proto3
        )
        return ProtoField(
            field.name,
            field.number,
            kind,
            type_name,
            repeated=repeated,
            presence=presence,
            required=field.label == _REQUIRED,
            oneof=oneof,
        )

    def service(self, proto: FileDescriptorProto, service: ServiceDescriptorProto) -> ProtoService:
        full = f"{proto.package}.{service.name}" if proto.package else service.name
        methods = []
        for method in service.method:
            level = method.options.idempotency_level if method.HasField("options") else 0
            methods.append(
                ProtoMethod(
                    full,
                    method.name,
                    method.input_type.lstrip("."),
                    method.output_type.lstrip("."),
                    method.client_streaming,
                    method.server_streaming,
                    _IDEMPOTENCY.get(level),
                )
            )
        return ProtoService(full, tuple(methods))
