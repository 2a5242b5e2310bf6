"""Protocol buffer messages to and from flowc values.

``MessageTypes(descriptors)`` builds the message classes of one ``.proto`` file
from the ``FileDescriptorSet`` that lowering put in the IR (``protoc``'s own
output: no generated code is imported or run).  ``encode(name, value)`` turns a
record into the serialized request and ``decode(name, data)`` the response bytes
into a record, with the types ``contracts/proto_types.py`` gives the checker:

* integers are checked against the field's range (``int32``, ``uint64``...), an
  ``int`` fills a ``uint`` (when not negative) or a ``float`` field; ``uint`` fields
  decode to ``uint`` values;
* an enum is written by name (or number) and read as its name (an unknown number,
  which proto3 keeps, reads as its digits);
* ``Timestamp`` and ``Duration`` are flowc's ``timestamp`` and ``duration``,
  wrappers their wrapped value, ``Struct``/``Value``/``ListValue`` JSON values;
* a ``null`` field value leaves the field unset; a secret is revealed into the
  message (the caller notes it for redaction);
* decoding gives every field with implicit presence its value (the default when
  unset) and leaves out the unset fields with explicit presence.

Each message type's decoding plan (which fields, how each is read, the defaults) is
made once and reused, so a response costs one pass over its set fields.  A value
that does not fit is a ``CodecError`` naming the field's path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from google.protobuf.descriptor import FieldDescriptor as F

from flowc.common.values import Duration, Secret, Timestamp, UInt, to_text, user_key

NANOS: Final = 1_000_000_000
_INT_RANGES: Final = {
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}
_WRAPPERS: Final = frozenset(
    f"google.protobuf.{n}Value"
    for n in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes")
)

Reader = Callable[[Any], Any]


class CodecError(Exception):
    """A value that does not fit its field (a one-line message naming the path)."""


class MessageTypes:
    """The message classes of one FileDescriptorSet, and their decoding plans."""

    def __init__(self, descriptors: bytes) -> None:
        from google.protobuf import descriptor_pb2, descriptor_pool

        self.pool = descriptor_pool.DescriptorPool()
        for file in descriptor_pb2.FileDescriptorSet.FromString(descriptors).file:
            self.pool.Add(file)
        self._classes: dict[str, Any] = {}
        self._plans: dict[str, _Plan] = {}
        self._shapes: dict[str, dict[str, tuple[Any, str]]] = {}

    def message_class(self, name: str) -> Any:
        found = self._classes.get(name)
        if found is None:
            from google.protobuf import message_factory

            found = message_factory.GetMessageClass(self.pool.FindMessageTypeByName(name))
            self._classes[name] = found
        return found

    def encode(self, name: str, value: Any, secrets: set[str]) -> bytes:
        """The serialized message ``name`` holding ``value`` (a record or map)."""
        message = self.message_class(name)()
        _Writer(self, secrets).fill(message, value, "")
        data: bytes = message.SerializeToString()
        return data

    def shape(self, descriptor: Any) -> dict[str, tuple[Any, str]]:
        """A message type's fields by name, each with how it is written (``map``,
        ``list``, ``message`` or ``scalar``), worked out once per type."""
        found = self._shapes.get(descriptor.full_name)
        if found is None:
            found = {}
            for field in descriptor.fields:
                if _is_map(field):
                    how = "map"
                elif _repeated(field):
                    how = "list"
                else:
                    how = "message" if field.message_type is not None else "scalar"
                found[field.name] = (field, how)
            self._shapes[descriptor.full_name] = found
        return found

    def decode(self, name: str, data: bytes) -> Any:
        """The record a serialized message ``name`` reads as."""
        try:
            message = self.message_class(name).FromString(data)
        except Exception as error:  # protobuf's DecodeError: a malformed response
            raise CodecError(f"the response is not a valid `{name}`: {error}") from None
        return self.read(message)

    def read(self, message: Any) -> Any:
        return self.plan(message.DESCRIPTOR).read(message)

    def plan(self, descriptor: Any) -> _Plan:
        found = self._plans.get(descriptor.full_name)
        if found is None:
            found = self._plans[descriptor.full_name] = _Plan(self, descriptor)
        return found


# --------------------------------------------------------------------------- decoding


def _repeated(field: Any) -> bool:
    found = getattr(field, "is_repeated", None)
    return bool(found) if found is not None else getattr(field, "label", 0) == 3


def _is_map(field: Any) -> bool:
    entry = field.message_type
    return entry is not None and _repeated(field) and entry.GetOptions().map_entry


class _Plan:
    """How to read one message type: defaults, and a reader per field."""

    def __init__(self, types: MessageTypes, descriptor: Any) -> None:
        self.types = types
        self.defaults: dict[str, Any] = {}
        self.containers: list[tuple[str, type]] = []  # (field, list or dict): fresh each time
        self.readers: dict[Any, tuple[str, Reader]] = {}  # by field descriptor
        for field in descriptor.fields:
            self.readers[field] = (field.name, self._reader(field))
            if _is_map(field):
                self.containers.append((field.name, dict))
            elif _repeated(field):
                self.containers.append((field.name, list))
            elif not field.has_presence:
                self.defaults[field.name] = self._default(field)

    def read(self, message: Any) -> dict[str, Any]:
        out = self.defaults.copy()
        for name, kind in self.containers:
            out[name] = kind()
        readers = self.readers
        for field, value in message.ListFields():
            name, reader = readers[field]
            out[name] = reader(value)
        return out

    def _default(self, field: Any) -> Any:
        return self._single(field)(field.default_value)

    def _reader(self, field: Any) -> Reader:
        if _is_map(field):
            key = self._single(field.message_type.fields_by_name["key"])
            value = self._single(field.message_type.fields_by_name["value"])
            return lambda found: {key(k): value(v) for k, v in found.items()}
        single = self._single(field)
        if _repeated(field):
            return lambda found: [single(item) for item in found]
        return single

    def _single(self, field: Any) -> Reader:
        kind = field.type
        if kind in (F.TYPE_UINT32, F.TYPE_UINT64, F.TYPE_FIXED32, F.TYPE_FIXED64):
            return UInt
        if kind == F.TYPE_ENUM:
            names = {v.number: v.name for v in field.enum_type.values}
            return lambda number: names.get(number, str(number))
        if kind in (F.TYPE_MESSAGE, F.TYPE_GROUP):
            known = _well_known_reader(field.message_type.full_name)
            return known or _NestedReader(self.types, field.message_type)
        if kind in (F.TYPE_FLOAT, F.TYPE_DOUBLE):
            return float
        return _same


def _same(value: Any) -> Any:
    return value


class _NestedReader:
    """Reads a nested message with its type's plan (found on first use: types may nest
    themselves)."""

    __slots__ = ("descriptor", "plan", "types")

    def __init__(self, types: MessageTypes, descriptor: Any) -> None:
        self.types = types
        self.descriptor = descriptor
        self.plan: _Plan | None = None

    def __call__(self, message: Any) -> dict[str, Any]:
        plan = self.plan
        if plan is None:
            plan = self.plan = self.types.plan(self.descriptor)
        return plan.read(message)


def _well_known_reader(name: str) -> Reader | None:
    if name == "google.protobuf.Timestamp":
        return lambda m: Timestamp(m.seconds * NANOS + m.nanos)
    if name == "google.protobuf.Duration":
        return lambda m: Duration(m.seconds * NANOS + m.nanos)
    if name in _WRAPPERS:
        return (lambda m: UInt(m.value)) if "UInt" in name else (lambda m: m.value)
    if name == "google.protobuf.Struct":
        return _read_struct
    if name == "google.protobuf.Value":
        return _read_value
    if name == "google.protobuf.ListValue":
        return lambda m: [_read_value(v) for v in m.values]
    return None


def _read_struct(message: Any) -> dict[str, Any]:
    return {key: _read_value(value) for key, value in message.fields.items()}


def _read_value(message: Any) -> Any:
    kind = message.WhichOneof("kind")
    if kind == "number_value":
        number = message.number_value
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind in ("string_value", "bool_value"):
        return getattr(message, kind)
    if kind == "struct_value":
        return _read_struct(message.struct_value)
    if kind == "list_value":
        return [_read_value(v) for v in message.list_value.values]
    return None


# --------------------------------------------------------------------------- encoding


class _Writer:
    """Fills messages from flowc values, collecting the secrets it reveals."""

    def __init__(self, types: MessageTypes, secrets: set[str]) -> None:
        self.types = types
        self.secrets = secrets

    def fill(self, message: Any, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise CodecError(f"{path or 'the request'} must be a record, found {to_text(value)}")
        fields = self.types.shape(message.DESCRIPTOR)
        for raw_key, item in value.items():
            key = raw_key if type(raw_key) is str else str(user_key(raw_key))
            found = fields.get(key)
            if found is None:
                kind = message.DESCRIPTOR.full_name
                where = f"{path}.{key}" if path else key
                raise CodecError(f"`{where}`: `{kind}` has no field `{key}`")
            if item is not None:
                self.field(message, found, item, f"{path}.{key}" if path else key)

    def field(self, message: Any, found: tuple[Any, str], value: Any, path: str) -> None:
        field, how = found
        name = field.name
        if how == "scalar":
            try:
                setattr(message, name, self.scalar(field, value, path))
            except (TypeError, ValueError) as error:
                raise CodecError(f"`{path}`: {error}") from None
            return
        if how == "map":
            if not isinstance(value, dict):
                raise CodecError(f"`{path}` must be a map, found {to_text(value)}")
            container = getattr(message, name)
            key_field = field.message_type.fields_by_name["key"]
            value_field = field.message_type.fields_by_name["value"]
            for raw_key, item in value.items():
                key = self.scalar(key_field, user_key(raw_key), f"{path} key")
                if value_field.message_type is not None:
                    self.message(container[key], value_field, item, f"{path}[{key}]")
                else:
                    container[key] = self.scalar(value_field, item, f"{path}[{key}]")
            return
        if how == "list":
            if not isinstance(value, list):
                raise CodecError(f"`{path}` must be a list, found {to_text(value)}")
            container = getattr(message, name)
            for index, item in enumerate(value):
                where = f"{path}[{index}]"
                if field.message_type is not None:
                    self.message(container.add(), field, item, where)
                else:
                    container.append(self.scalar(field, item, where))
            return
        self.message(getattr(message, name), field, value, path)

    def message(self, target: Any, field: Any, value: Any, path: str) -> None:
        name = field.message_type.full_name
        if name == "google.protobuf.Timestamp":
            if not isinstance(value, Timestamp):
                raise CodecError(f"`{path}` must be a timestamp, found {to_text(value)}")
            target.seconds, target.nanos = divmod(value.nanos, NANOS)
        elif name == "google.protobuf.Duration":
            if not isinstance(value, Duration):
                raise CodecError(f"`{path}` must be a duration, found {to_text(value)}")
            seconds = abs(value.nanos) // NANOS
            nanos = abs(value.nanos) % NANOS
            sign = -1 if value.nanos < 0 else 1
            target.seconds, target.nanos = sign * seconds, sign * nanos
        elif name in _WRAPPERS:
            target.value = self.scalar(target.DESCRIPTOR.fields_by_name["value"], value, path)
        elif name == "google.protobuf.Struct":
            self.struct(target, value, path)
        elif name == "google.protobuf.Value":
            self.json_value(target, value, path)
        elif name == "google.protobuf.ListValue":
            self.json_list(target, value, path)
        else:
            target.SetInParent()
            self.fill(target, value, path)

    def scalar(self, field: Any, value: Any, path: str) -> Any:
        kind = field.type
        if kind == F.TYPE_ENUM:
            return self.enum(field, value, path)
        if kind in (F.TYPE_FLOAT, F.TYPE_DOUBLE):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise CodecError(f"`{path}` must be a number, found {to_text(value)}")
            return float(value)
        if kind == F.TYPE_BOOL:
            if not isinstance(value, bool):
                raise CodecError(f"`{path}` must be a bool, found {to_text(value)}")
            return value
        if kind == F.TYPE_STRING:
            return self.text(value, path)
        if kind == F.TYPE_BYTES:
            if not isinstance(value, bytes):
                raise CodecError(f"`{path}` must be bytes, found {to_text(value)}")
            return value
        return self.integer(field, value, path)

    def integer(self, field: Any, value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise CodecError(f"`{path}` must be an integer, found {to_text(value)}")
        low, high = _INT_RANGES[_range_of(field)]
        if not low <= value <= high:
            raise CodecError(f"`{path}`: {value} is out of range ({low}..{high})")
        return int(value)

    def enum(self, field: Any, value: Any, path: str) -> int:
        values = field.enum_type.values_by_name
        if isinstance(value, str) and value in values:
            number: int = values[value].number
            return number
        if isinstance(value, int) and not isinstance(value, bool):
            return int(value)
        allowed = ", ".join(list(values)[:6])
        raise CodecError(f"`{path}` must be one of {allowed}, found {to_text(value)}")

    def text(self, value: Any, path: str) -> str:
        if isinstance(value, Secret):
            revealed = value.reveal()
            text = revealed if isinstance(revealed, str) else revealed.decode("utf-8", "replace")
            if text:
                self.secrets.add(text)
            return text
        if not isinstance(value, str):
            raise CodecError(f"`{path}` must be a string, found {to_text(value)}")
        return value

    def struct(self, target: Any, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise CodecError(f"`{path}` must be a map, found {to_text(value)}")
        target.SetInParent()
        for key, item in value.items():
            self.json_value(target.fields[str(user_key(key))], item, f"{path}.{user_key(key)}")

    def json_list(self, target: Any, value: Any, path: str) -> None:
        if not isinstance(value, list):
            raise CodecError(f"`{path}` must be a list, found {to_text(value)}")
        target.SetInParent()
        for index, item in enumerate(value):
            self.json_value(target.values.add(), item, f"{path}[{index}]")

    def json_value(self, target: Any, value: Any, path: str) -> None:
        if value is None:
            target.null_value = 0
        elif isinstance(value, bool):
            target.bool_value = value
        elif isinstance(value, int | float):
            target.number_value = float(value)
        elif isinstance(value, str | Secret):
            target.string_value = self.text(value, path)
        elif isinstance(value, dict):
            self.struct(target.struct_value, value, path)
        elif isinstance(value, list):
            self.json_list(target.list_value, value, path)
        else:
            raise CodecError(f"`{path}` must be a JSON value, found {to_text(value)}")


def _range_of(field: Any) -> str:
    kind = field.type
    if kind in (F.TYPE_INT32, F.TYPE_SINT32, F.TYPE_SFIXED32):
        return "int32"
    if kind in (F.TYPE_UINT32, F.TYPE_FIXED32):
        return "uint32"
    if kind in (F.TYPE_UINT64, F.TYPE_FIXED64):
        return "uint64"
    return "int64"
