"""Relations between types: assignability, joins, and what a type contains.

The checker asks three questions of types, and this module answers them:

``assignable(source, target)``
    May a value of type ``source`` be used where ``target`` is expected?
    ``json`` (CEL's ``dyn``) goes both ways, because it is checked at run time.
    ``null`` and ``T`` go into ``T?``.  Records are structural with width
    subtyping: the source must have every required field of the target (an
    optional target field may be missing), extra fields are fine, and a record
    whose fields all fit ``V`` is also a ``map[string, V]`` (so a literal
    ``{"Accept": "a/b"}`` is a valid header map).  Lists and maps are
    covariant: values are immutable, so this is sound.  ``secret`` fits where
    a ``string`` is expected only through ``accepts_secret`` call sites; a
    plain assignment of a secret to a ``string`` would launder the taint.

``join(a, b)``
    The least type that holds both — for list literal elements, the branches
    of ``?:``, the two sides of ``??`` and a loop's yields.  When the two have
    nothing useful in common the answer is ``json``, exactly as CEL gives
    ``list(dyn)`` for ``[1, "a"]``.

``contains_secret(t)``
    Whether a value of type ``t`` may carry a secret — the taint check for
    logs, failures, results and URLs.

``keeps_secrets(source, target)``
    Whether a ``source`` value used as a ``target`` keeps every secret it
    holds typed as a secret.  Assignability alone would allow laundering: a
    ``secret`` fits ``json`` (and then compares with anything), and width
    subtyping hides a record's secret field from the checker while the value
    still holds it.  ``unsecret(t)`` is ``t`` with its secrets made plain, for
    matching a call's arguments against a library signature.
"""

from __future__ import annotations

from flowc.common.types import (
    BYTES,
    ERROR,
    FLOAT,
    INT,
    JSON,
    NULL,
    SECRET,
    SECRET_BYTES,
    SECRETS,
    STRING,
    UINT,
    Field,
    ListT,
    MapT,
    OptionalT,
    Prim,
    RecordT,
    Type,
    TypeParam,
)

NUMERIC_PRIMS = frozenset({INT, UINT, FLOAT})


def is_json(t: Type) -> bool:
    return t in (JSON, ERROR)


def strip_optional(t: Type) -> Type:
    return t.inner if isinstance(t, OptionalT) else t


def make_optional(t: Type) -> Type:
    if isinstance(t, OptionalT) or t in (JSON, NULL, ERROR):
        return t
    return OptionalT(t)


def assignable(source: Type, target: Type) -> bool:
    """Whether a ``source`` value may be used where ``target`` is expected."""
    if source == target or is_json(source) or is_json(target):
        return True
    if isinstance(target, TypeParam) or isinstance(source, TypeParam):
        return True
    if isinstance(target, OptionalT):
        return source == NULL or assignable(strip_optional(source), target.inner)
    if isinstance(source, OptionalT):
        return False
    return _assignable_structured(source, target)


def _assignable_structured(source: Type, target: Type) -> bool:
    if isinstance(target, ListT):
        return isinstance(source, ListT) and assignable(source.elem, target.elem)
    if isinstance(target, MapT):
        return _assignable_to_map(source, target)
    if isinstance(target, RecordT):
        return isinstance(source, RecordT) and _record_fits(source, target)
    return False


def _assignable_to_map(source: Type, target: MapT) -> bool:
    if isinstance(source, MapT):
        return assignable(source.key, target.key) and assignable(source.value, target.value)
    if isinstance(source, RecordT):
        key_ok = assignable(STRING, target.key)
        return key_ok and all(assignable(f.type, target.value) for f in source.fields)
    return False


def _record_fits(source: RecordT, target: RecordT) -> bool:
    for wanted in target.fields:
        have = source.field(wanted.name)
        if have is None:
            if not wanted.optional:
                return False
            continue
        if have.optional and not wanted.optional:
            return False
        if not assignable(have.type, wanted.type):
            return False
    return True


def missing_fields(source: RecordT, target: RecordT) -> list[str]:
    """Required fields of ``target`` that ``source`` lacks (for messages)."""
    return [f.name for f in target.fields if not f.optional and source.field(f.name) is None]


def join(a: Type, b: Type) -> Type:
    """The least common type of ``a`` and ``b`` (``json`` when there is none)."""
    if a == b:
        return a
    if a == ERROR or b == ERROR:
        return ERROR
    if is_json(a) or is_json(b):
        return JSON
    if a == NULL:
        return make_optional(b)
    if b == NULL:
        return make_optional(a)
    if isinstance(a, OptionalT) or isinstance(b, OptionalT):
        inner = join(strip_optional(a), strip_optional(b))
        return JSON if inner == JSON else make_optional(inner)
    if {a, b} == {SECRET, STRING}:
        return SECRET
    if {a, b} == {SECRET_BYTES, BYTES}:
        return SECRET_BYTES
    return _join_structured(a, b)


def _join_structured(a: Type, b: Type) -> Type:
    if isinstance(a, ListT) and isinstance(b, ListT):
        return ListT(join(a.elem, b.elem))
    if isinstance(a, MapT) and isinstance(b, MapT):
        return MapT(join(a.key, b.key), join(a.value, b.value))
    if isinstance(a, RecordT) and isinstance(b, RecordT):
        return _join_records(a, b)
    if isinstance(a, RecordT | MapT) and isinstance(b, RecordT | MapT):
        return MapT(STRING, join(_map_value(a), _map_value(b)))
    return JSON


def _map_value(t: RecordT | MapT) -> Type:
    if isinstance(t, MapT):
        return t.value
    result: Type | None = None
    for f in t.fields:
        result = f.type if result is None else join(result, f.type)
    return result if result is not None else JSON


def _join_records(a: RecordT, b: RecordT) -> RecordT:
    fields: list[Field] = []
    for fa in a.fields:
        fb = b.field(fa.name)
        if fb is None:
            fields.append(Field(fa.name, fa.type, True))
        else:
            fields.append(Field(fa.name, join(fa.type, fb.type), fa.optional or fb.optional))
    for fb in b.fields:
        if a.field(fb.name) is None:
            fields.append(Field(fb.name, fb.type, True))
    name = a.name if a.name == b.name else None
    return RecordT(tuple(fields), name=name)


def join_all(types: list[Type], empty: Type = JSON) -> Type:
    if not types:
        return empty
    result = types[0]
    for t in types[1:]:
        result = join(result, t)
    return result


def contains_secret(t: Type) -> bool:
    """Whether a value of this type may carry a secret."""
    if t in SECRETS:
        return True
    if isinstance(t, OptionalT):
        return contains_secret(t.inner)
    if isinstance(t, ListT):
        return contains_secret(t.elem)
    if isinstance(t, MapT):
        return contains_secret(t.value)
    if isinstance(t, RecordT):
        return any(contains_secret(f.type) for f in t.fields)
    return False


def keeps_secrets(source: Type, target: Type) -> bool:
    """Whether every secret a ``source`` value may hold is still typed a secret
    when the value is used as a ``target`` (see the module docstring)."""
    if not contains_secret(source) or target == ERROR or source == ERROR:
        return True
    if source in SECRETS:
        return strip_optional(target) == source
    if isinstance(source, OptionalT):
        return keeps_secrets(source.inner, strip_optional(target))
    target = strip_optional(target)
    if isinstance(source, ListT):
        return isinstance(target, ListT) and keeps_secrets(source.elem, target.elem)
    if isinstance(source, MapT):
        return isinstance(target, MapT) and keeps_secrets(source.value, target.value)
    if isinstance(source, RecordT):
        return _record_keeps_secrets(source, target)
    return False


def _record_keeps_secrets(source: RecordT, target: Type) -> bool:
    if isinstance(target, MapT):
        return all(keeps_secrets(f.type, target.value) for f in source.fields)
    if not isinstance(target, RecordT):
        return False
    for have in source.fields:
        wanted = target.field(have.name)
        if wanted is None:  # a field the target type drops: its secret would go unseen
            if contains_secret(have.type):
                return False
        elif not keeps_secrets(have.type, wanted.type):
            return False
    return True


def unsecret(t: Type) -> Type:
    """``t`` with every secret made plain (``secret`` -> ``string``)."""
    if not contains_secret(t):
        return t
    if t == SECRET:
        return STRING
    if t == SECRET_BYTES:
        return BYTES
    if isinstance(t, OptionalT):
        return OptionalT(unsecret(t.inner))
    if isinstance(t, ListT):
        return ListT(unsecret(t.elem))
    if isinstance(t, MapT):
        return MapT(t.key, unsecret(t.value))
    if isinstance(t, RecordT):
        fields = tuple(Field(f.name, unsecret(f.type), f.optional) for f in t.fields)
        return RecordT(fields, name=t.name)
    return t


def comparable(a: Type, b: Type) -> bool:
    """Whether ``a == b`` can ever be true (CEL's checker rule, plus nulls)."""
    if assignable(a, b) or assignable(b, a):
        return True
    if {a, b} <= {SECRET, STRING}:
        return True
    if isinstance(a, OptionalT) or isinstance(b, OptionalT):
        return comparable(strip_optional(a), strip_optional(b))
    if isinstance(a, ListT) and isinstance(b, ListT):
        return comparable(a.elem, b.elem)
    return isinstance(a, MapT | RecordT) and isinstance(b, MapT | RecordT)


def pair_types(t: Type) -> tuple[Type, Type] | None:
    """What a two-variable iteration binds: (position, element) of a list,
    (key, value) of a map or record; ``None`` for a type that does not iterate."""
    if t in (JSON, ERROR):
        return t, t
    if isinstance(t, ListT):
        return INT, t.elem
    if isinstance(t, MapT):
        return t.key, t.value
    if isinstance(t, RecordT):
        return STRING, join_all([f.type for f in t.fields])
    return None


def is_prim(t: Type, *names: str) -> bool:
    return isinstance(t, Prim) and t.name in names


def describe(t: Type) -> str:
    """A type as messages show it: ``float`` for CEL's ``double``."""
    return str(t)
