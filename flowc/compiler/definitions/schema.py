"""Validating a positioned document against a JSON Schema, every error with its place.

``validate(document, schema)`` runs ``jsonschema``'s validator for the schema's
draft (2020-12 for flowc's own) over the document's plain data and turns each
``ValidationError`` into a ``Violation``: the JSON path (``steps[1].request``),
the node it is about (for an unknown key, the key itself), and a message in
flowc's words.  All violations are reported at once, in document order.

An ``anyOf`` that fails is explained by its best alternative when the value is of
the kind that alternative wants (``retry: {count: "x"}`` is about ``count``), and
otherwise by the ``description`` of the schema it belongs to ("must be a duration
such as `2s`..."): every definition in ``steplist.schema.json`` starts its
description with what it is for that reason.

``jsonschema`` (and its ``referencing``) are imported when a document is
validated, never by ``flowc check x.flow``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from functools import cache
from typing import Any

import attrs

from flowc.common.span import Span
from flowc.compiler.definitions.document import Document, Mapping, Node, PathItem, to_plain


@attrs.frozen
class Violation:
    """One way the document breaks the schema."""

    kind: str  # unknown_key | missing_key | wrong_value | invalid
    path: str
    span: Span
    key: str = ""
    expected: str = ""
    found: str = ""
    problem: str = ""
    help: str | None = None


@cache
def _validator(schema_text: str) -> Any:
    import json

    from jsonschema.validators import validator_for

    schema = json.loads(schema_text)
    cls = validator_for(schema)
    return cls(schema)


def validate(document: Document, schema_text: str) -> list[Violation]:
    """Every violation of the schema (given as its JSON text) by ``document``."""
    validator = _validator(schema_text)
    instance = to_plain(document.root)
    violations: list[Violation] = []
    for error in validator.iter_errors(instance):
        violations += _explain(document, error)
    unique = {(v.span.start, v.kind, v.key, v.problem, v.expected): v for v in violations}
    return sorted(unique.values(), key=lambda v: (v.span.start, v.path))


def path_text(path: Iterable[PathItem]) -> str:
    """``steps[1].request`` for the path ``["steps", 1, "request"]``."""
    text = ""
    for item in path:
        text += f"[{item}]" if isinstance(item, int) else (f".{item}" if text else str(item))
    return text


def place(path: str) -> str:
    return f"`{path}`" if path else "the document"


def _explain(document: Document, error: Any) -> list[Violation]:
    if error.validator in ("anyOf", "oneOf") and error.context:
        chosen = _best_alternative(error)
        if chosen is not None:
            return _explain(document, chosen)
    path = list(error.absolute_path)
    node, key_node = document.node_at(path)
    span = document.span(node)  # the offending value
    key_span = document.span(key_node if key_node is not None else node)
    where = path_text(path)
    validator = error.validator
    if validator == "additionalProperties" and isinstance(node, Mapping):
        return _unknown_keys(document, node, error, where)
    if validator == "required":
        missing = [k for k in error.validator_value if k not in (error.instance or {})]
        return [Violation("missing_key", where, document.span(_head(node)), key=k) for k in missing]
    if validator is None or error.schema is False:
        return [_not_allowed(document, node, key_span, error, where)]
    if validator == "propertyNames" and isinstance(node, Mapping):
        key = node.key(str(error.instance))
        at = document.span(key) if key is not None else span
        text = f"`{error.instance}` is not a name (letters, digits and `_`)"
        return [Violation("invalid", where, at, problem=text)]
    if validator == "dependentRequired":
        return [Violation("invalid", where, document.span(_head(node)), problem=_dependent(error))]
    expected = _expected(error)
    if expected:
        return [Violation("wrong_value", where, span, expected=expected, found=describe(node))]
    return [Violation("invalid", where, span, problem=_first_line(error.message))]


def _not_allowed(document: Document, node: Node, span: Span, error: Any, where: str) -> Violation:
    """A key whose schema is ``false``.  jsonschema gives such an error the path of the
    object, not of the key, but the value: the key is the one holding that value."""
    key = None
    if isinstance(node, Mapping):
        holding = [k for k, value in node.entries if to_plain(value) == error.instance]
        key = holding[0] if len(holding) == 1 else None
    name = str(key.value) if key is not None else ""
    if key is not None:
        span = document.span(key)
        where = f"{where}.{name}" if where else name
    shown = f"`{name}`" if name else "this value"
    return Violation("invalid", where, span, problem=f"{shown} is not allowed here")


def _best_alternative(error: Any) -> Any | None:
    """The sub-error that explains a failed anyOf best, or None to explain it whole.

    An alternative explains it when the value is of the kind that alternative wants,
    which shows as an error deeper inside the value, or one that is not about the
    value's kind (``type``, ``pattern``, ``const``).  jsonschema's ``best_match``
    would descend into nested anyOfs too; here each level explains itself.
    """
    from jsonschema.exceptions import relevance

    deeper = [e for e in error.context if len(e.relative_path) > 0]
    kinds = ("type", "pattern", "const", "anyOf", "oneOf")
    candidates = deeper or [e for e in error.context if e.validator not in kinds]
    if not candidates:
        return None
    return max(candidates, key=relevance)


def _unknown_keys(document: Document, node: Mapping, error: Any, where: str) -> list[Violation]:
    allowed = sorted(error.schema.get("properties", {}))
    found = []
    for key, _ in node.entries:
        name = str(key.value)
        if name in allowed:
            continue
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = f"did you mean `{close[0]}`? " if close else ""
        shown = ", ".join(f"`{k}`" for k in allowed if not k.startswith("$"))
        found.append(
            Violation(
                "unknown_key",
                where,
                document.span(key),
                key=name,
                help=f"{hint}the keys here are {shown}",
            )
        )
    return found


def _head(node: Node) -> Node:
    """What to underline for a whole mapping: its first key."""
    if isinstance(node, Mapping) and node.entries:
        return node.entries[0][0]
    return node


def _expected(error: Any) -> str:
    validator, value = error.validator, error.validator_value
    if validator == "type":
        kinds = value if isinstance(value, list) else [value]
        return " or ".join(_KINDS.get(str(k), str(k)) for k in kinds)
    if validator == "enum":
        return "one of " + ", ".join(f"`{v}`" for v in value)
    if validator == "const":
        return f"`{value}`"
    if validator in ("anyOf", "oneOf", "pattern"):
        return _described(error.schema)
    if validator == "minimum":
        return f"at least {value}"
    if validator == "maximum":
        return f"at most {value}"
    if validator == "minItems":
        return f"a list of at least {value} item{'s' if value != 1 else ''}"
    if validator in ("minProperties", "maxProperties"):
        return _described(error.schema)
    return ""


def _described(schema: Any) -> str:
    description = schema.get("description", "") if isinstance(schema, dict) else ""
    if not description:
        return ""
    first = description.split(". ")[0].rstrip(".")
    return first[0].lower() + first[1:]


def _dependent(error: Any) -> str:
    for key, needed in error.validator_value.items():
        if key in error.instance:
            missing = [n for n in needed if n not in error.instance]
            if missing:
                return f"`{key}` needs `{missing[0]}`"
    return _first_line(error.message)


def _first_line(text: str) -> str:
    line = text.splitlines()[0] if text else "invalid"
    return line if len(line) <= 120 else line[:117] + "..."


_KINDS = {
    "object": "an object",
    "array": "an array",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def describe(node: Node) -> str:
    """A short description of a value for messages: ``"GETX"``, an object, 3."""
    from flowc.compiler.definitions.document import Scalar, Sequence

    if isinstance(node, Mapping):
        return "an object"
    if isinstance(node, Sequence):
        return "an array"
    assert isinstance(node, Scalar)
    value = node.value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f'"{shown}"' if shown else "an empty string"
    return str(value)
