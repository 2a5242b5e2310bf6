"""Semantic types of `.flow` values, shared by the checker and the runtime.

These are *checked* types, not the syntax of a type annotation (that is
``ast.TypeExpr``); the resolver turns the latter into the former.

The lattice is small:

* ``Prim`` covers the scalar kinds and a few special ones: ``json`` is CEL's
  ``dyn`` (anything, checked at run time), ``secret`` is a tainted ``string``
  and ``secret bytes`` (what ``bytes(secret)`` gives; it has no spelling in
  type annotations) tainted ``bytes``,
  ``type`` is the type of type values (``type(1) == int``), ``error`` is what
  a type error leaves behind so that one mistake reports once.
* ``ListT``, ``MapT``, ``RecordT`` (with optional fields) and ``OptionalT``
  (``T?``: ``T`` or null) are the structured types.
* ``TypeParam`` appears only in the signatures of generic functions
  (``size(list[A])``); the checker binds it during overload resolution.

Records are structural: ``{id: int}`` is assignable wherever a record with a
subset of its fields is expected.  ``name`` on a record remembers the alias it
was declared under (``User``) for messages; it takes no part in equality.
"""

from __future__ import annotations

from typing import Final

import attrs


@attrs.frozen(slots=True)
class Type:
    """Base class of all semantic types."""

    def __str__(self) -> str:  # pragma: no cover - every subclass overrides
        return "?"


@attrs.frozen(slots=True)
class Prim(Type):
    name: str

    def __str__(self) -> str:
        return self.name


@attrs.frozen(slots=True)
class ListT(Type):
    elem: Type

    def __str__(self) -> str:
        return f"list[{self.elem}]"


@attrs.frozen(slots=True)
class MapT(Type):
    key: Type
    value: Type

    def __str__(self) -> str:
        return f"map[{self.key}, {self.value}]"


@attrs.frozen(slots=True)
class Field:
    name: str
    type: Type
    optional: bool = False


@attrs.frozen(slots=True)
class RecordT(Type):
    fields: tuple[Field, ...]
    name: str | None = attrs.field(default=None, eq=False)

    def field(self, name: str) -> Field | None:
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def __str__(self) -> str:
        if self.name:
            return self.name
        inner = ", ".join(f"{f.name}{'?' if f.optional else ''}: {f.type}" for f in self.fields)
        return "{" + inner + "}"


@attrs.frozen(slots=True)
class OptionalT(Type):
    inner: Type

    def __str__(self) -> str:
        return f"{self.inner}?"


@attrs.frozen(slots=True)
class TypeParam(Type):
    name: str

    def __str__(self) -> str:
        return self.name


INT: Final = Prim("int")
UINT: Final = Prim("uint")
FLOAT: Final = Prim("float")
BOOL: Final = Prim("bool")
STRING: Final = Prim("string")
BYTES: Final = Prim("bytes")
NULL: Final = Prim("null")
DURATION: Final = Prim("duration")
TIMESTAMP: Final = Prim("timestamp")
JSON: Final = Prim("json")
SECRET: Final = Prim("secret")
SECRET_BYTES: Final = Prim("secret bytes")
SECRETS: Final = frozenset({SECRET, SECRET_BYTES})
TYPE: Final = Prim("type")
ERROR: Final = Prim("error")

A: Final = TypeParam("A")
B: Final = TypeParam("B")

# Names a type annotation may use without declaring them.
PRIMITIVES: Final[dict[str, Type]] = {
    "int": INT,
    "uint": UINT,
    "float": FLOAT,
    "double": FLOAT,
    "bool": BOOL,
    "string": STRING,
    "bytes": BYTES,
    "null": NULL,
    "duration": DURATION,
    "timestamp": TIMESTAMP,
    "json": JSON,
    "dyn": JSON,
    "any": JSON,
    "secret": SECRET,
    "type": TYPE,
}

# The record every step evaluates to has this shape; ``body`` varies.
ERROR_RECORD: Final = RecordT(
    (
        Field("kind", STRING),
        Field("message", STRING),
        Field("step", STRING),
        Field("status", INT),
        Field("attempt", INT),
        Field("data", JSON),
    ),
    name="Error",
)

RUN_RECORD: Final = RecordT(
    (Field("id", STRING), Field("flow", STRING), Field("attempt", INT)),
    name="Run",
)


def step_record(body: Type, error: RecordT = ERROR_RECORD) -> RecordT:
    """The type of a step's value, given the type of its body (and of its error)."""
    return RecordT(
        (
            Field("status", INT),
            Field("ok", BOOL),
            Field("headers", MapT(STRING, STRING)),
            Field("body", body),
            Field("elapsed", DURATION),
            Field("attempts", INT),
            Field("error", OptionalT(error)),
        ),
        name="Step",
    )


NUMERIC: Final = frozenset({INT, UINT, FLOAT})
