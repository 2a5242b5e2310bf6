"""The compiled expression evaluator: a checked AST becomes a tree of closures.

Why closures
============

An expression of a flow is evaluated many times (every loop iteration, every
retry predicate, every request) but compiled once.  ``compile_expr`` walks the
checked AST a single time and turns every node into a Python closure
``Frame -> value`` that has already resolved everything that does not depend
on the frame: which slot a name lives in, which overload implements an
operator, whether a field is optional, the value of every literal.  Running
the expression is then nothing but nested calls of small closures -- no AST
walking, no dictionary of node handlers, no name lookup, and never ``eval`` or
``exec`` (expressions never run host code, LANGUAGE.md section 2).

The compilation scheme
======================

``Compiler.compile(node)`` dispatches on the node's class to a method that
compiles the children first and returns a closure capturing them:

* **Leaves.**  Literals, duration literals and type identifiers become
  constants.  A name becomes ``names.read(symbol)`` -- the caller's closure
  that reads the symbol's slot -- where ``symbol`` is what the checker
  recorded in ``CheckInfo.references``; a dotted qualified name (``a.b.c``
  declared as one binding) is found there the same way.  A unary minus applied
  to a numeric literal is folded, which is what makes
  ``-9223372036854775808`` a valid int.
* **Member access** (``evaluator_access``).  ``a.f`` on a map or record is a
  dict lookup; a missing key is ``EvalError("no such key")`` except for a
  record field the checker knows to be optional, which reads as null.
  ``a[i]`` indexes lists (int, and uint/double with integral values) and
  maps with CEL's rules.
* **Calls and operators** (``evaluator_calls``).  When the checker chose one
  overload statically, the closure calls ``overload.impl`` directly.  When it
  could not (an argument typed ``json``/``dyn``), or when an argument may be a
  ``secret`` (bound implementations expect a ``str``), the closure dispatches
  on the run-time classes of the arguments through a per-node *inline cache*
  (argument classes -> implementation), falling back to
  ``stdlib.call_dynamic`` for secret taint and for errors.  ``&&``, ``||``
  and ``?:`` are compiled specially (CEL's short-circuit and error
  absorption), as are ``dyn``, ``type``, ``==`` and ``!=``.
* **Macros** (``evaluator_macros``).  ``all``/``exists``/``exists_one``/
  ``map``/``filter`` (and CEL's two-variable forms and ``cel.bind``) are
  loops that write the iteration variable into the frame slot
  ``names.slot(symbol)`` before running the compiled body; ``has(a.f)`` is a
  presence test.
* **``??``.**  The right operand is used when the left one is null.  Inside the
  left operand, selecting or indexing *through* null gives null (JavaScript's
  ``a?.b``), mirroring the checker, which allows reading through optionals
  there; and along the left operand's own chain of selections and indexes
  (``a.b[0].c``), a missing field, key or index also gives null.  Both are
  decided at compile time by compiling those nodes in a lenient variant, so
  ``??`` itself is a plain ``is None`` test with no exception handling.

Errors
======

Every evaluation failure is a ``values.EvalError``.  The outermost closure
converts the Python exceptions a hostile or unlucky expression could still
provoke in library code (``TypeError``, ``RecursionError``, ``MemoryError``,
...) into ``EvalError`` so that callers only ever handle one kind.  When the
checker reported errors (the CEL conformance runner compiles unchecked
expressions too), the compiler does not fail: an unknown name or function
compiles to a closure that raises, and every node whose type is unknown uses
dynamic dispatch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from flowc.common.types import STRING, RecordT, Type
from flowc.common.values import (
    INT64_MAX,
    INVALID_ARGUMENT,
    OVERFLOW,
    TYPE_ERROR,
    TYPE_IDENTIFIERS,
    UINT64_MAX,
    Duration,
    EvalError,
    UInt,
    build_map,
    check_str,
    interpolate,
)
from flowc.compiler import ast, evaluator_access, evaluator_calls
from flowc.compiler.evaluator_support import constant, guarded, raiser
from flowc.compiler.ir import Compiled, Frame
from flowc.compiler.scope import CheckInfo, Symbol

__all__ = ["Compiled", "Compiler", "Frame", "NameResolver", "compile_expr"]


class NameResolver(Protocol):
    """How compiled code finds the values of names (the lowering pass's frame layout)."""

    def read(self, symbol: Symbol) -> Compiled | None:
        """A closure that reads the symbol's value from the frame (e.g.
        ``operator.itemgetter(slot)``), or None for built-in identifiers the
        evaluator handles itself (type names such as ``int``, ``string``)."""

    def slot(self, symbol: Symbol) -> int:
        """A frame slot for a macro's iteration variable (allocated on first request)."""


def compile_expr(expr: ast.Expr, info: CheckInfo, names: NameResolver) -> Compiled:
    """Compile a checked expression once into a closure ``Frame -> value``.

    The closure raises only ``EvalError``; it never walks the AST and never
    uses ``eval``/``exec``.
    """
    return guarded(Compiler(info, names).compile(expr))


class Compiler:
    """Compiles the nodes of one expression (see the module docstring)."""

    def __init__(self, info: CheckInfo, names: NameResolver) -> None:
        self.info = info
        self.names = names
        # True while compiling the left operand of `??` (reading through null is null).
        self.null_safe = False

    # ----------------------------------------------------------- entry points

    def compile(self, expr: ast.Expr) -> Compiled:
        method: Callable[[ast.Expr], Compiled] | None = getattr(
            self, "_compile_" + type(expr).__name__, None
        )
        if method is None:
            return raiser(EvalError(INVALID_ARGUMENT, f"not an expression: {type(expr).__name__}"))
        return method(expr)

    def compile_chain(self, expr: ast.Expr) -> Compiled:
        """Compile the left operand of ``??``: along its chain of selections
        and indexes, a missing field/key/index reads as null."""
        if isinstance(expr, ast.Select) and id(expr) not in self.info.references:
            return evaluator_access.compile_select(self, expr, lenient=True)
        if isinstance(expr, ast.Index):
            return evaluator_access.compile_index(self, expr, lenient=True)
        return self.compile(expr)

    def static_type(self, expr: ast.Expr) -> Type | None:
        """The type the checker inferred for ``expr`` (None if it did not)."""
        return self.info.expr_types.get(id(expr))

    def read_symbol(self, symbol: Symbol, shown: str) -> Compiled:
        """The closure reading a name's value: the resolver's, or a type value."""
        reader = self.names.read(symbol)
        if reader is not None:
            return reader
        type_value = TYPE_IDENTIFIERS.get(symbol.name)
        if type_value is not None:
            return constant(type_value)
        return raiser(EvalError(TYPE_ERROR, f"`{shown}` has no value here"))

    # ----------------------------------------------------------- leaves

    def _compile_Literal(self, expr: ast.Literal) -> Compiled:
        return _literal(expr.kind, expr.value)

    def _compile_DurationLit(self, expr: ast.DurationLit) -> Compiled:
        try:
            return constant(Duration(expr.nanos))
        except EvalError as error:
            return raiser(error)

    def _compile_Template(self, expr: ast.Template) -> Compiled:
        parts = tuple(
            constant(part) if isinstance(part, str) else self.compile(part) for part in expr.parts
        )
        plain = all(
            isinstance(part, str) or self.static_type(part) == STRING for part in expr.parts
        )
        if plain:

            def concatenate(frame: Frame) -> object:
                return check_str("".join([part(frame) for part in parts]))

            return concatenate

        def render(frame: Frame) -> object:
            values = [part(frame) for part in parts]
            for value in values:
                if type(value) is not str:
                    return interpolate(values)
            return check_str("".join(values))

        return render

    def _compile_Name(self, expr: ast.Name) -> Compiled:
        symbol = self.info.references.get(id(expr))
        if symbol is None:
            return raiser(EvalError(TYPE_ERROR, f"undeclared reference to `{expr.id}`"))
        return self.read_symbol(symbol, expr.id)

    # ----------------------------------------------------------- collections

    def _compile_ListLit(self, expr: ast.ListLit) -> Compiled:
        items = tuple(self.compile(item) for item in expr.items)
        if not items:
            return list_factory

        def build_list(frame: Frame) -> object:
            return [item(frame) for item in items]

        return build_list

    def _compile_MapLit(self, expr: ast.MapLit) -> Compiled:
        if isinstance(self.static_type(expr), RecordT):
            return self._record(expr)
        pairs = tuple((self.compile(e.key), self.compile(e.value)) for e in expr.entries)

        def build(frame: Frame) -> object:
            return build_map([(key(frame), value(frame)) for key, value in pairs])

        return build

    def _record(self, expr: ast.MapLit) -> Compiled:
        fields: dict[str, Compiled] = {}
        for entry in expr.entries:
            name = entry.key.value if isinstance(entry.key, ast.Literal) else None
            if not isinstance(name, str) or name in fields:
                return raiser(EvalError(INVALID_ARGUMENT, f"repeated map key {name!r}"))
            fields[name] = self.compile(entry.value)
        items = tuple(fields.items())

        def build_record(frame: Frame) -> object:
            return {name: value(frame) for name, value in items}

        return build_record

    # ----------------------------------------------------------- delegated nodes

    def _compile_Select(self, expr: ast.Select) -> Compiled:
        symbol = self.info.references.get(id(expr))
        if symbol is not None:
            return self.read_symbol(symbol, f"{symbol.name}")
        return evaluator_access.compile_select(self, expr, lenient=False)

    def _compile_Index(self, expr: ast.Index) -> Compiled:
        return evaluator_access.compile_index(self, expr, lenient=False)

    def _compile_Call(self, expr: ast.Call) -> Compiled:
        return evaluator_calls.compile_call(self, expr)

    def _compile_Unary(self, expr: ast.Unary) -> Compiled:
        folded = _fold_negation(expr)
        if folded is not None:
            return folded
        return evaluator_calls.compile_unary(self, expr)

    def _compile_Binary(self, expr: ast.Binary) -> Compiled:
        if expr.op == "??":
            return self._nullish(expr)
        return evaluator_calls.compile_binary(self, expr)

    def _compile_Conditional(self, expr: ast.Conditional) -> Compiled:
        return evaluator_calls.compile_conditional(self, expr)

    def _nullish(self, expr: ast.Binary) -> Compiled:
        saved, self.null_safe = self.null_safe, True
        try:
            left = self.compile_chain(expr.left)
        finally:
            self.null_safe = saved
        right = self.compile(expr.right)

        def nullish(frame: Frame) -> object:
            value = left(frame)
            return right(frame) if value is None else value

        return nullish


# --------------------------------------------------------------------------- literals


def list_factory(frame: Frame) -> object:
    """The empty list literal: a new list each time (lists are values)."""
    return []


def _literal(kind: str, value: object) -> Compiled:
    if kind == "int" and isinstance(value, int) and value > INT64_MAX:
        return raiser(EvalError(OVERFLOW, "int literal out of range"))
    if kind == "uint" and isinstance(value, int):
        if value > UINT64_MAX:
            return raiser(EvalError(OVERFLOW, "uint literal out of range"))
        return constant(UInt(value))
    if kind == "float" and isinstance(value, int):
        return constant(float(value))
    return constant(value)


def _fold_negation(expr: ast.Unary) -> Compiled | None:
    """``-<int or double literal>`` as a constant (``-9223372036854775808`` is valid)."""
    operand = expr.operand
    if expr.op != "-" or not isinstance(operand, ast.Literal):
        return None
    if operand.kind == "int" and isinstance(operand.value, int):
        if operand.value > INT64_MAX + 1:
            return raiser(EvalError(OVERFLOW, "int literal out of range"))
        return constant(-operand.value)
    if operand.kind == "float" and isinstance(operand.value, int | float):
        return constant(-float(operand.value))
    return None
