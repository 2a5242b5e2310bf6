"""Compiling the macros: ``has`` and the comprehensions.

Comprehensions
==============

``r.all(x, p)``, ``r.exists(x, p)``, ``r.exists_one(x, p)``, ``r.map(x, e)``,
``r.map(x, p, e)`` and ``r.filter(x, p)`` iterate a list's elements or a map's
keys (a record's field names).  The iteration variable is a frame slot: the
checker declares ``x`` as a symbol of its own (recorded in
``CheckInfo.references`` for the variable node itself), and the compiled loop
asks the resolver for that symbol's slot once, at compile time, then stores
each element there before calling the compiled body.  Nested comprehensions
that reuse a name get distinct symbols and so distinct slots.

Error semantics follow CEL's expansion of the macros into comprehensions with
``&&``/``||`` accumulators:

* ``all`` is false as soon as one predicate is false, *even if another
  element's predicate failed*; otherwise the first error (or a non-bool
  predicate) is raised; otherwise true.  ``exists`` is the dual.
* ``exists_one``, ``map`` and ``filter`` are strict: the first error is raised.

CEL's two-variable comprehensions (``l.all(i, v, p)``, ``exists``,
``existsOne``, ``transformList(i, v, [p,] e)``, ``transformMap(k, v, [p,] e)``)
bind an index and an element (a key and a value for maps) to two slots and
share the loops above.  ``cel.bind(x, init, body)`` evaluates ``init`` once
into ``x``'s slot and then ``body``.

Iteration is bounded by the size of the input, which the value library bounds.

``has``
=======

``has(a.f)`` tests presence without reading: on a map, whether the key ``f``
is present (CEL); on a value the checker typed as a record, whether the field
is present *and not null*, which is what the checker's narrowing after
``has(x.f)`` assumes; on a null operand typed ``T?``, false.  On anything else
it is an error, as in CEL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from flowc.common.typerel import strip_optional
from flowc.common.types import OptionalT, RecordT
from flowc.common.values import (
    INVALID_ARGUMENT,
    NO_MATCHING_OVERLOAD,
    TYPE_ERROR,
    EvalError,
    build_map,
    describe_type,
    map_items,
    map_keys,
)
from flowc.compiler import ast
from flowc.compiler.evaluator_support import not_bool, preemptible, raiser, spend
from flowc.compiler.ir import Compiled, Frame

if TYPE_CHECKING:
    from flowc.compiler.evaluator import Compiler

Loop = Callable[[Frame, Iterable[object]], object]


def has_macro_shape(expr: ast.Call) -> bool:
    """The checker's test: a name as the first argument, and the right count."""
    if not expr.args or not isinstance(expr.args[0], ast.Name):
        return False
    if expr.func == "map":
        return len(expr.args) in (2, 3)
    return len(expr.args) == 2


# --------------------------------------------------------------------------- has


def compile_has(compiler: Compiler, expr: ast.Call) -> Compiled:
    argument = expr.args[0] if len(expr.args) == 1 else None
    if not isinstance(argument, ast.Select):
        return raiser(EvalError(INVALID_ARGUMENT, "has() needs a field selection: has(a.f)"))
    operand = compiler.compile(argument.operand)
    field = argument.field
    static = compiler.static_type(argument.operand)
    nullable = isinstance(static, OptionalT)
    if isinstance(strip_optional(static) if static is not None else None, RecordT):
        return _has_record_field(operand, field, nullable)

    def has_key(frame: Frame) -> object:
        value = operand(frame)
        if type(value) is dict:
            return field in value
        if value is None and nullable:
            return False
        raise _no_presence_test(value, field)

    return has_key


def _has_record_field(operand: Compiled, field: str, nullable: bool) -> Compiled:
    def has_field(frame: Frame) -> object:
        value = operand(frame)
        if type(value) is dict:
            return value.get(field) is not None
        if value is None and nullable:
            return False
        raise _no_presence_test(value, field)

    return has_field


def _no_presence_test(value: object, field: str) -> EvalError:
    return EvalError(
        NO_MATCHING_OVERLOAD, f"has(.{field}) is not defined on {describe_type(value)}"
    )


# --------------------------------------------------------------------------- comprehensions


def compile_macro(compiler: Compiler, expr: ast.Call) -> Compiled:
    """``r.all(x, p)`` and the other one-variable comprehensions."""
    return _comprehension(compiler, expr, expr.func, 1)


def compile_two_var_macro(compiler: Compiler, expr: ast.Call) -> Compiled:
    """``r.all(i, v, p)``, ``r.transformMap(k, v, [p,] e)`` ...: over (index or key, value)."""
    return _comprehension(compiler, expr, _TWO_VAR_LOOPS[expr.func], 2)


def _comprehension(compiler: Compiler, expr: ast.Call, kind: str, variables: int) -> Compiled:
    assert expr.target is not None
    target = compiler.compile(expr.target)
    symbols = [compiler.info.references.get(id(var)) for var in expr.args[:variables]]
    if None in symbols:
        return raiser(EvalError(TYPE_ERROR, f"`{expr.func}` over a value that cannot be iterated"))
    slots = tuple(compiler.names.slot(symbol) for symbol in symbols if symbol is not None)
    bodies = [compiler.compile(arg) for arg in expr.args[variables:]]
    loop = _LOOPS[kind, len(bodies)](slots, bodies)
    iterate = elements if variables == 1 else pairs
    macro = expr.func

    def comprehension(frame: Frame) -> object:
        items = iterate(target(frame), macro)
        spend(len(items))
        return loop(frame, preemptible(items))

    return comprehension


def compile_bind(compiler: Compiler, expr: ast.Call) -> Compiled:
    """``cel.bind(x, init, body)``: evaluate ``init`` once into ``x``'s slot."""
    variable, init, body = expr.args
    symbol = compiler.info.references.get(id(variable))
    if symbol is None:
        return raiser(EvalError(TYPE_ERROR, "cel.bind() needs a variable name"))
    slot = compiler.names.slot(symbol)
    initial = compiler.compile(init)
    result = compiler.compile(body)

    def bind(frame: Frame) -> object:
        frame[slot] = initial(frame)
        return result(frame)

    return bind


def elements(value: object, macro: str) -> list[object]:
    """What a one-variable comprehension iterates: a list's items, a map's keys."""
    if type(value) is list:
        return value
    if type(value) is dict:
        return map_keys(value)
    raise EvalError(NO_MATCHING_OVERLOAD, f"`{macro}` cannot iterate {describe_type(value)}")


def pairs(value: object, macro: str) -> list[object]:
    """What a two-variable comprehension iterates: (index, item) or (key, value)."""
    if type(value) is list:
        return list(enumerate(value))
    if type(value) is dict:
        return list(map_items(value))
    raise EvalError(NO_MATCHING_OVERLOAD, f"`{macro}` cannot iterate {describe_type(value)}")


def _store(frame: Frame, slots: tuple[int, ...], item: object) -> None:
    """Bind the variables of a two-variable comprehension (one-variable loops
    store inline: ``frame[slot] = item``)."""
    frame[slots[0]], frame[slots[1]] = item  # type: ignore[misc]


def _all(slots: tuple[int, ...], bodies: list[Compiled]) -> Loop:
    return _quantifier(slots, bodies, decisive=False, macro="all")


def _exists(slots: tuple[int, ...], bodies: list[Compiled]) -> Loop:
    return _quantifier(slots, bodies, decisive=True, macro="exists")


def _quantifier(
    slots: tuple[int, ...], bodies: list[Compiled], *, decisive: bool, macro: str
) -> Loop:
    """``all`` (decided by a ``false``) or ``exists`` (decided by a ``true``).

    As in CEL, an element whose predicate fails is remembered, not fatal: a
    later element that decides the result wins over the error.
    """
    (predicate,) = bodies
    slot, single = slots[0], len(slots) == 1

    def loop(frame: Frame, items: Iterable[object]) -> object:
        failure: EvalError | None = None
        for item in items:
            if single:
                frame[slot] = item
            else:
                _store(frame, slots, item)
            try:
                verdict = predicate(frame)
            except EvalError as error:
                failure = failure or error
                continue
            if verdict is decisive:
                return decisive
            if verdict is not (not decisive):
                failure = failure or not_bool(verdict, f"the predicate of `{macro}`")
        if failure is not None:
            raise failure
        return not decisive

    return loop


def _exists_one(slots: tuple[int, ...], bodies: list[Compiled]) -> Loop:
    (predicate,) = bodies
    slot, single = slots[0], len(slots) == 1

    def loop(frame: Frame, items: Iterable[object]) -> object:
        count = 0
        for item in items:
            if single:
                frame[slot] = item
            else:
                _store(frame, slots, item)
            verdict = predicate(frame)
            if verdict is True:
                count += 1
            elif verdict is not False:
                raise not_bool(verdict, "the predicate of `exists_one`")
        return count == 1

    return loop


def _keep(verdict: object) -> bool:
    """A filter's verdict: true or false; anything else is an error."""
    if verdict is True or verdict is False:
        return verdict
    raise not_bool(verdict, "the filter of a comprehension")


def _map(slots: tuple[int, ...], bodies: list[Compiled]) -> Loop:
    predicate = bodies[0] if len(bodies) == 2 else None
    transform = bodies[-1]
    slot, single = slots[0], len(slots) == 1

    def loop(frame: Frame, items: Iterable[object]) -> object:
        result: list[object] = []
        for item in items:
            if single:
                frame[slot] = item
            else:
                _store(frame, slots, item)
            if predicate is None or _keep(predicate(frame)):
                result.append(transform(frame))
        return result

    return loop


def _filter(slots: tuple[int, ...], bodies: list[Compiled]) -> Loop:
    (predicate,) = bodies
    slot = slots[0]

    def loop(frame: Frame, items: Iterable[object]) -> object:
        result: list[object] = []
        for item in items:
            frame[slot] = item
            if _keep(predicate(frame)):
                result.append(item)
        return result

    return loop


def _transform_map(slots: tuple[int, ...], bodies: list[Compiled]) -> Loop:
    predicate = bodies[0] if len(bodies) == 2 else None
    transform = bodies[-1]

    def loop(frame: Frame, items: Iterable[object]) -> object:
        entries: list[tuple[object, object]] = []
        for item in items:
            _store(frame, slots, item)
            if predicate is None or _keep(predicate(frame)):
                entries.append((frame[slots[0]], transform(frame)))
        return build_map(entries)

    return loop


_LOOPS: dict[tuple[str, int], Callable[[tuple[int, ...], list[Compiled]], Loop]] = {
    ("all", 1): _all,
    ("exists", 1): _exists,
    ("exists_one", 1): _exists_one,
    ("map", 1): _map,
    ("map", 2): _map,
    ("filter", 1): _filter,
    ("transformMap", 1): _transform_map,
    ("transformMap", 2): _transform_map,
}
#: Two-variable comprehension name -> the loop family it shares with the one-variable forms.
_TWO_VAR_LOOPS: dict[str, str] = {
    "all": "all",
    "exists": "exists",
    "existsOne": "exists_one",
    "transformList": "map",
    "transformMap": "transformMap",
}
