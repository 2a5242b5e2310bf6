"""The stand-alone expression API: ``flowc.evaluate`` and ``compile_expression``.

``evaluate("size(xs) > 2", xs=[1, 2, 3])`` runs one `.flow` expression outside
any flow.  It goes through exactly the pipeline a flow's expressions take --
parse (``parser.parse_expression``), check (``checker.check_expression``),
compile (``evaluator.compile_expr``), run -- so it behaves as the same
expression would inside a flow.

Bindings.  Each keyword argument is a variable.  Its static type is ``json``
(checked at run time, CEL's ``dyn``) unless the caller gives a type with
``types={"xs": ListT(INT)}``; with static types the checker catches mistakes
before the expression runs and the compiled code binds overloads directly.
Python values are converted by ``to_flow_value``: JSON-like data as
``values.from_json`` does (a ``tuple`` is a list; an int beyond int64 becomes
a double), plus ``bytes``, ``datetime``/``timedelta`` (timestamps and
durations), maps with int or bool keys, and values that already are `.flow`
values (``UInt``, ``Duration``, ``Timestamp``, ``Secret``, type values).

Frames.  A ``CompiledExpression`` owns its frame layout: binding ``i`` lives
in slot ``i`` and macro variables get the slots after them, allocated while
compiling (``_FrameLayout`` is the ``NameResolver``).  Each evaluation uses a
fresh frame, so a compiled expression may be evaluated from several threads.

Errors.  Syntax and type errors raise ``ExpressionError`` (a ``ValueError``)
whose message shows every diagnostic as ``<expr>:line:col: error[CODE]: ...``
and whose ``diagnostics`` attribute keeps them; evaluation errors raise
``values.EvalError``.  A missing or unexpected binding is a ``TypeError``, as
for a Python function called with the wrong arguments.

``evaluate`` keeps the most recently compiled expressions in a small cache
keyed by the text and the binding types, so calling it in a loop does not
re-parse.
"""

from __future__ import annotations

import datetime as _dt
import functools
import operator
from collections.abc import Mapping
from typing import Final

from flowc.common.types import JSON, Type
from flowc.common.values import (
    INT64_MAX,
    INT64_MIN,
    LIMIT,
    MAX_DEPTH,
    TYPE_ERROR,
    CelType,
    Duration,
    EvalError,
    Secret,
    Timestamp,
    UInt,
    build_map,
    user_key,
)
from flowc.compiler import ast
from flowc.compiler.checker import check_expression
from flowc.compiler.diagnostics import Diagnostic, DiagnosticSink, ParseFailure, render
from flowc.compiler.evaluator import compile_expr
from flowc.compiler.ir import Compiled
from flowc.compiler.parser import parse_expression
from flowc.compiler.scope import Symbol

__all__ = [
    "CompiledExpression",
    "ExpressionError",
    "compile_expression",
    "evaluate",
    "to_flow_value",
]

CACHE_SIZE: Final = 256


class ExpressionError(ValueError):
    """An expression that does not parse or does not type-check."""

    def __init__(self, text: str, diagnostics: list[Diagnostic]) -> None:
        self.text = text
        self.diagnostics = diagnostics
        rendered = "".join(render(d, text) for d in diagnostics)
        super().__init__(rendered.rstrip("\n"))


def evaluate(text: str, /, types: Mapping[str, Type] | None = None, **bindings: object) -> object:
    """Evaluate one expression with the given variables (typed ``json`` unless
    ``types`` says otherwise) and return its `.flow` value."""
    declared: dict[str, Type] = {name: JSON for name in bindings}
    if types:
        declared.update(types)
    return _cached(text, tuple(sorted(declared.items()))).evaluate(**bindings)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _cached(text: str, types: tuple[tuple[str, Type], ...]) -> CompiledExpression:
    return compile_expression(text, dict(types))


def compile_expression(text: str, types: Mapping[str, Type]) -> CompiledExpression:
    """Parse, check and compile ``text`` with variables of the given types."""
    try:
        expr = parse_expression(text)
    except ParseFailure as failure:
        raise ExpressionError(text, [failure.diagnostic]) from None
    sink = DiagnosticSink()
    _, info = check_expression(expr, dict(types), sink)
    if sink.has_errors:
        raise ExpressionError(text, [d for d in sink.sorted() if d.is_error])
    layout = _FrameLayout(list(types))
    run = compile_expr(expr, info, layout)
    return CompiledExpression(text, expr, tuple(types), layout.size, run)


class CompiledExpression:
    """A checked, compiled expression; ``evaluate(**bindings)`` runs it."""

    def __init__(
        self,
        text: str,
        expr: ast.Expr,
        names: tuple[str, ...],
        frame_size: int,
        run: Compiled,
    ) -> None:
        self.text = text
        self.expr = expr
        self.names = names
        #: Frame slots needed: one per binding (in ``names`` order), then macro variables.
        self.frame_size = frame_size
        #: The compiled closure (``Frame -> value``), for callers that manage frames.
        self.run = run

    def evaluate(self, **bindings: object) -> object:
        """The expression's value for these variables (Python values are converted)."""
        frame: list[object] = [None] * self.frame_size
        for slot, name in enumerate(self.names):
            try:
                value = bindings[name]
            except KeyError:
                raise TypeError(f"missing binding `{name}` for {self.text!r}") from None
            frame[slot] = to_flow_value(value)
        if len(bindings) > len(self.names):
            extra = sorted(set(bindings) - set(self.names))
            raise TypeError(f"unexpected binding(s) {', '.join(extra)} for {self.text!r}")
        return self.run(frame)

    def __repr__(self) -> str:
        return f"CompiledExpression({self.text!r})"


class _FrameLayout:
    """The ``NameResolver`` of a stand-alone expression: bindings first, then
    one slot per macro variable."""

    def __init__(self, names: list[str]) -> None:
        self.binding_slots = {name: slot for slot, name in enumerate(names)}
        self.macro_slots: dict[Symbol, int] = {}
        self.size = len(names)

    def read(self, symbol: Symbol) -> Compiled | None:
        if symbol.kind == "macro":
            return operator.itemgetter(self.slot(symbol))
        slot = self.binding_slots.get(symbol.name)
        if symbol.kind == "param" and slot is not None:
            return operator.itemgetter(slot)
        return None

    def slot(self, symbol: Symbol) -> int:
        slot = self.macro_slots.get(symbol)
        if slot is None:
            slot = self.macro_slots[symbol] = self.size
            self.size += 1
        return slot


# --------------------------------------------------------------------------- conversion

_PASS_THROUGH: Final = frozenset(
    {str, bool, float, bytes, type(None), UInt, Duration, Timestamp, Secret, CelType}
)


def to_flow_value(value: object, depth: int = 0) -> object:
    """A `.flow` value from a Python value (see the module docstring)."""
    if depth > MAX_DEPTH:
        raise EvalError(LIMIT, f"value nested deeper than {MAX_DEPTH} levels")
    kind = type(value)
    if kind in _PASS_THROUGH:
        return value
    if kind is int:
        number: int = value  # type: ignore[assignment]
        return number if INT64_MIN <= number <= INT64_MAX else float(number)
    if kind is list or kind is tuple:
        return [to_flow_value(item, depth + 1) for item in value]  # type: ignore[attr-defined]
    if kind is dict:
        items = value.items()  # type: ignore[attr-defined]
        return build_map((user_key(key), to_flow_value(item, depth + 1)) for key, item in items)
    if isinstance(value, _dt.datetime):
        return Timestamp.from_datetime(value)
    if isinstance(value, _dt.timedelta):
        return Duration(
            (value.days * 86_400 + value.seconds) * 1_000_000_000 + value.microseconds * 1000
        )
    raise EvalError(TYPE_ERROR, f"cannot use a Python {kind.__name__} as a .flow value")
