"""Compiling member access: ``a.f`` (select) and ``a[i]`` (index).

Select
======

Maps and records are both ``dict`` at run time, so ``a.f`` is one dict lookup
with the field name fixed at compile time.  Three variants are compiled,
chosen by what the checker knows and where the node stands:

* *strict* -- a missing key is ``EvalError("no such key")`` (CEL);
* *optional* -- the operand is statically a record whose field ``f`` is
  optional (``email?: string``): a missing field reads as null (``dict.get``);
* *lenient* -- the node lies on the chain of the left operand of ``??``: a
  missing key reads as null, so that the default applies.

Inside the left operand of ``??`` (``Compiler.null_safe``), selecting from null
gives null; everywhere else it is an error, as is selecting from anything that
is not a map.

Index
=====

Lists take an ``int`` index, or a ``uint``/``double`` with an integral value
(CEL's runtime rule for ``dyn`` indexes); out of range is an error.  Maps use
``values.map_lookup`` (numeric keys match across int/uint/double, bool keys
are stored as ``BoolKey``).  The lenient variant (on a ``??`` chain) turns an
out-of-range index or a missing key into null; a wrong kind of index stays an
error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowc.common.typerel import strip_optional
from flowc.common.types import RecordT, Type
from flowc.common.values import (
    INVALID_ARGUMENT,
    NO_MATCHING_OVERLOAD,
    NO_SUCH_KEY,
    TYPE_ERROR,
    EvalError,
    UInt,
    describe_text,
    describe_type,
    map_contains,
    map_lookup,
)
from flowc.compiler import ast
from flowc.compiler.ir import Compiled, Frame

if TYPE_CHECKING:
    from flowc.compiler.evaluator import Compiler


# --------------------------------------------------------------------------- select


def compile_select(compiler: Compiler, expr: ast.Select, *, lenient: bool) -> Compiled:
    """``operand.field``; ``lenient`` on the left chain of ``??``."""
    operand = compiler.compile_chain(expr.operand) if lenient else compiler.compile(expr.operand)
    field = expr.field
    through_null = compiler.null_safe
    if lenient or is_optional_field(compiler.static_type(expr.operand), field):
        return _select_or_null(operand, field, through_null)
    if through_null:
        return _select_through_null(operand, field)
    return _select_strict(operand, field)


def is_optional_field(operand_type: Type | None, field: str) -> bool:
    """Whether the checker typed the operand as a record whose ``field`` is optional."""
    record = strip_optional(operand_type) if operand_type is not None else None
    if not isinstance(record, RecordT):
        return False
    declared = record.field(field)
    return declared is not None and declared.optional


def _select_strict(operand: Compiled, field: str) -> Compiled:
    def select(frame: Frame) -> object:
        value = operand(frame)
        if type(value) is dict:
            try:
                return value[field]
            except KeyError:
                raise missing_field(field) from None
        raise not_selectable(value, field)

    return select


def _select_through_null(operand: Compiled, field: str) -> Compiled:
    def select(frame: Frame) -> object:
        value = operand(frame)
        if type(value) is dict:
            try:
                return value[field]
            except KeyError:
                raise missing_field(field) from None
        if value is None:
            return None
        raise not_selectable(value, field)

    return select


def _select_or_null(operand: Compiled, field: str, through_null: bool) -> Compiled:
    def select(frame: Frame) -> object:
        value = operand(frame)
        if type(value) is dict:
            return value.get(field)
        if value is None and through_null:
            return None
        raise not_selectable(value, field)

    return select


def missing_field(field: str) -> EvalError:
    return EvalError(NO_SUCH_KEY, f"no such key: {describe_text(field)}")


def not_selectable(value: object, field: str) -> EvalError:
    if value is None:
        return EvalError(TYPE_ERROR, f"cannot select field `{field}` of null")
    return EvalError(
        TYPE_ERROR, f"type {describe_type(value)} does not support field selection (`.{field}`)"
    )


# --------------------------------------------------------------------------- index


def compile_index(compiler: Compiler, expr: ast.Index, *, lenient: bool) -> Compiled:
    """``operand[index]``; ``lenient`` on the left chain of ``??``."""
    operand = compiler.compile_chain(expr.operand) if lenient else compiler.compile(expr.operand)
    index = compiler.compile(expr.index)
    through_null = compiler.null_safe
    if not lenient and _is_optional_key(compiler, expr):
        lenient = True
    lookup = index_or_null if lenient else index_value
    if not through_null:

        def index_strict(frame: Frame) -> object:
            return lookup(operand(frame), index(frame))

        return index_strict

    def index_through_null(frame: Frame) -> object:
        container = operand(frame)
        key = index(frame)
        return None if container is None else lookup(container, key)

    return index_through_null


def _is_optional_key(compiler: Compiler, expr: ast.Index) -> bool:
    key = expr.index
    if not (isinstance(key, ast.Literal) and isinstance(key.value, str) and key.kind == "string"):
        return False
    return is_optional_field(compiler.static_type(expr.operand), key.value)


def index_value(container: object, key: object) -> object:
    """CEL ``container[key]`` for lists and maps."""
    if type(container) is list:
        if type(key) is int and 0 <= key < len(container):
            return container[key]
        return container[_list_position(container, key)]
    if type(container) is dict:
        return map_lookup(container, key)
    raise _not_indexable(container, key)


def index_or_null(container: object, key: object) -> object:
    """``index_value``, but a missing key or an out-of-range index is null."""
    if type(container) is list:
        position = _integral(key)
        return container[position] if 0 <= position < len(container) else None
    if type(container) is dict:
        return map_lookup(container, key) if map_contains(container, key) else None
    raise _not_indexable(container, key)


def _list_position(items: list[object], key: object) -> int:
    position = _integral(key)
    if 0 <= position < len(items):
        return position
    raise EvalError(INVALID_ARGUMENT, f"index out of range: {position} (size {len(items)})")


def _integral(key: object) -> int:
    """A list index: an int, or a uint/double with an integral value."""
    if type(key) is int or type(key) is UInt:
        return int(key)
    if type(key) is float:
        if key.is_integer():
            return int(key)
        raise EvalError(INVALID_ARGUMENT, f"list index is not an integer: {key!r}")
    raise EvalError(NO_MATCHING_OVERLOAD, f"a list cannot be indexed by {describe_type(key)}")


def _not_indexable(container: object, key: object) -> EvalError:
    return EvalError(
        NO_MATCHING_OVERLOAD,
        f"cannot index {describe_type(container)} with {describe_type(key)}",
    )
