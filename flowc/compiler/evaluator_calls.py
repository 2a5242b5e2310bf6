"""Compiling calls, operators and the logical forms.

Binding
=======

Every function call and operator names a function of the standard library
(``stdlib.REGISTRY``): ``size``, ``_+_``, ``@in``, ``math.least`` ...  The
checker records in ``CheckInfo.overloads`` the overload it chose when exactly
one fits the static argument types.  If it did, and no argument may hold a
``secret`` or a dynamically typed (``json``) value, the compiled closure calls
``overload.impl`` directly: *bound* calls cost one Python call on top of the
arguments' own closures.  Closures are specialised by arity (0..3 arguments)
so that no argument list is built on the hot path.

Otherwise the call is *dispatched*: at run time the overload is chosen from
the classes of the argument values, as CEL's runtime does.  Each call site has
its own inline cache, ``argument classes -> implementation``, filled on first
use through ``stdlib.resolve_dynamic``; a hit costs a ``type()`` per argument
and one dict lookup.  When no overload accepts the classes, the call goes to
``stdlib.call_dynamic``, which applies secret taint (a secret argument is
revealed to the string overload and a string result re-wrapped as a secret)
or raises ``no matching overload``.  Misses are not cached, so the cache only
ever holds implementations that were really called.

Which function
==============

The mapping from syntax to function mirrors the checker (``exprcheck``):
``f(x)`` is the global ``f``; ``x.f(y)`` is the receiver-style ``f`` --
unless ``x`` is a dotted chain of names that are not in scope and ``x.f`` is a
namespaced library function (``math.least(1, 2)``, ``base64.encode(b)``),
which is then called globally; ``has``, the comprehension macros (one- and
two-variable), ``cel.bind``, ``dyn`` (identity) and ``type``
(``values.type_of``) are handled specially.

Logic
=====

``&&`` and ``||`` are CEL's commutative forms: the left operand is evaluated
first and, if it decides the result (``false &&``, ``true ||``), the right one
is not evaluated; an error (or a non-bool) on either side is absorbed when the
other side decides the result (``error && false`` is ``false``) and raised
otherwise.  ``?:`` evaluates its condition and then only the chosen branch;
``==``/``!=`` are CEL's heterogeneous equality for every pair of values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from flowc.common.stdlib import call_dynamic, overloads_for, resolve_dynamic
from flowc.common.stdlib_core import Impl
from flowc.common.typerel import contains_secret, is_json
from flowc.common.types import Type
from flowc.common.values import (
    NO_MATCHING_OVERLOAD,
    EvalError,
    equals,
    type_of,
)
from flowc.compiler import ast, evaluator_macros
from flowc.compiler.evaluator_support import not_bool, raiser
from flowc.compiler.exprcheck import (
    MACROS,
    OPERATOR_FUNCTIONS,
    is_bind_call,
    two_var_macro_shape,
)
from flowc.compiler.ir import Compiled, Frame

if TYPE_CHECKING:
    from flowc.compiler.evaluator import Compiler

UNARY_FUNCTIONS: Final = {"!": "!_", "-": "-_"}


# --------------------------------------------------------------------------- calls


def compile_call(compiler: Compiler, expr: ast.Call) -> Compiled:
    """Any ``Call`` node: a global, namespaced or receiver call, or a macro."""
    if expr.target is None:
        return _global_call(compiler, expr)
    namespaced = namespaced_function(compiler, expr)
    if namespaced is not None:
        return compile_function(compiler, expr, namespaced, False, expr.args)
    if expr.func in MACROS and evaluator_macros.has_macro_shape(expr):
        return evaluator_macros.compile_macro(compiler, expr)
    if two_var_macro_shape(expr):
        return evaluator_macros.compile_two_var_macro(compiler, expr)
    if is_bind_call(expr) and id(expr.target) not in compiler.info.references:
        return evaluator_macros.compile_bind(compiler, expr)
    return compile_function(compiler, expr, expr.func, True, (expr.target, *expr.args))


def _global_call(compiler: Compiler, expr: ast.Call) -> Compiled:
    name = expr.func.lstrip(".")
    if name == "has":
        return evaluator_macros.compile_has(compiler, expr)
    if name == "dyn" and len(expr.args) == 1:
        return compiler.compile(expr.args[0])
    if name == "type" and len(expr.args) == 1:
        argument = compiler.compile(expr.args[0])

        def type_call(frame: Frame) -> object:
            return type_of(argument(frame))

        return type_call
    return compile_function(compiler, expr, name, False, expr.args)


def namespaced_function(compiler: Compiler, expr: ast.Call) -> str | None:
    """``math.least`` for ``math.least(...)`` when ``math`` is not a name in scope."""
    target = expr.target
    parts: list[str] = [expr.func]
    while isinstance(target, ast.Select):
        if id(target) in compiler.info.references:
            return None
        parts.append(target.field)
        target = target.operand
    if not isinstance(target, ast.Name) or id(target) in compiler.info.references:
        return None
    parts.append(target.id)
    name = ".".join(reversed(parts))
    return name if overloads_for(name, False) else None


def compile_function(
    compiler: Compiler,
    expr: ast.Expr,
    name: str,
    receiver: bool,
    arg_nodes: Sequence[ast.Expr],
) -> Compiled:
    """A call of library function ``name``: bound if the checker allows, else dispatched."""
    args = tuple(compiler.compile(node) for node in arg_nodes)
    if not overloads_for(name, receiver):
        style = "method" if receiver else "function"
        return raiser(EvalError(NO_MATCHING_OVERLOAD, f"unknown {style} `{name}`"))
    overload = compiler.info.overloads.get(id(expr))
    if overload is not None and all(is_concrete(compiler.static_type(node)) for node in arg_nodes):
        return bound_call(overload.impl, args)
    return dispatched_call(name, receiver, args)


def is_concrete(static: Type | None) -> bool:
    """Whether a bound implementation can take values of this static type
    (not dynamic, and no secret that a ``str`` parameter would choke on)."""
    return static is not None and not is_json(static) and not contains_secret(static)


def bound_call(impl: Impl, args: tuple[Compiled, ...]) -> Compiled:
    """``impl(*args)``, specialised by arity."""
    if len(args) == 0:

        def call0(frame: Frame) -> object:
            return impl()

        return call0
    if len(args) == 1:
        (first,) = args

        def call1(frame: Frame) -> object:
            return impl(first(frame))

        return call1
    if len(args) == 2:
        first, second = args

        def call2(frame: Frame) -> object:
            return impl(first(frame), second(frame))

        return call2
    if len(args) == 3:
        first, second, third = args

        def call3(frame: Frame) -> object:
            return impl(first(frame), second(frame), third(frame))

        return call3

    def call_n(frame: Frame) -> object:
        return impl(*[arg(frame) for arg in args])

    return call_n


def dispatched_call(name: str, receiver: bool, args: tuple[Compiled, ...]) -> Compiled:
    """A call choosing its overload by run-time classes, with an inline cache."""
    if len(args) == 1:
        return _dispatched1(name, receiver, args[0])
    if len(args) == 2:
        return _dispatched2(name, receiver, args[0], args[1])
    cache: dict[tuple[type, ...], Impl] = {}

    def dispatch_n(frame: Frame) -> object:
        values = [arg(frame) for arg in args]
        key = tuple(map(type, values))
        impl = cache.get(key)
        if impl is None:
            return _miss(cache, key, name, receiver, values)
        return impl(*values)

    return dispatch_n


def _dispatched1(name: str, receiver: bool, first: Compiled) -> Compiled:
    cache: dict[type, Impl] = {}

    def dispatch1(frame: Frame) -> object:
        value = first(frame)
        impl = cache.get(type(value))
        if impl is None:
            return _miss(cache, type(value), name, receiver, [value])
        return impl(value)

    return dispatch1


def _dispatched2(name: str, receiver: bool, first: Compiled, second: Compiled) -> Compiled:
    cache: dict[tuple[type, type], Impl] = {}

    def dispatch2(frame: Frame) -> object:
        left = first(frame)
        right = second(frame)
        key = (type(left), type(right))
        impl = cache.get(key)
        if impl is None:
            return _miss(cache, key, name, receiver, [left, right])
        return impl(left, right)

    return dispatch2


def _miss(
    cache: dict[Any, Impl],
    key: object,
    name: str,
    receiver: bool,
    values: list[object],
) -> object:
    """Inline-cache miss: resolve, remember, call (or let ``call_dynamic`` raise/taint)."""
    overload = resolve_dynamic(name, receiver, values)
    if overload is None:
        return call_dynamic(name, receiver, values)
    cache[key] = overload.impl
    return overload.impl(*values)


# --------------------------------------------------------------------------- operators


def compile_unary(compiler: Compiler, expr: ast.Unary) -> Compiled:
    name = UNARY_FUNCTIONS[expr.op]
    return compile_function(compiler, expr, name, False, (expr.operand,))


def compile_binary(compiler: Compiler, expr: ast.Binary) -> Compiled:
    op = expr.op
    if op == "&&":
        return _and(compiler.compile(expr.left), compiler.compile(expr.right))
    if op == "||":
        return _or(compiler.compile(expr.left), compiler.compile(expr.right))
    if op in ("==", "!="):
        return _equality(compiler.compile(expr.left), compiler.compile(expr.right), op == "==")
    name = OPERATOR_FUNCTIONS.get(op)
    if name is None:
        return raiser(EvalError(NO_MATCHING_OVERLOAD, f"unknown operator `{op}`"))
    return compile_function(compiler, expr, name, False, (expr.left, expr.right))


def _equality(left: Compiled, right: Compiled, positive: bool) -> Compiled:
    if positive:

        def equal(frame: Frame) -> object:
            return equals(left(frame), right(frame))

        return equal

    def not_equal(frame: Frame) -> object:
        return not equals(left(frame), right(frame))

    return not_equal


def _and(left: Compiled, right: Compiled) -> Compiled:
    return _logical(left, right, decisive=False, op="&&")


def _or(left: Compiled, right: Compiled) -> Compiled:
    return _logical(left, right, decisive=True, op="||")


def _logical(left: Compiled, right: Compiled, *, decisive: bool, op: str) -> Compiled:
    """``&&`` (decided by ``false``) or ``||`` (decided by ``true``), commutative
    with respect to errors as CEL requires: an error on one side is forgiven
    when the other side decides the result."""

    def logical(frame: Frame) -> object:
        try:
            first: object = left(frame)
        except EvalError as error:
            first = error
        if first is decisive:
            return decisive
        second = right(frame)
        if second is decisive:
            return decisive
        if first is (not decisive) and second is (not decisive):
            return not decisive
        raise _undecided(first, second, op)

    return logical


def _undecided(first: object, second: object, op: str) -> EvalError:
    """The error of ``&&``/``||`` when neither side decided the result."""
    if isinstance(first, EvalError):
        return first
    if type(first) is not bool:
        return not_bool(first, f"operator `{op}`")
    return not_bool(second, f"operator `{op}`")


def compile_conditional(compiler: Compiler, expr: ast.Conditional) -> Compiled:
    test = compiler.compile(expr.cond)
    then = compiler.compile(expr.then)
    orelse = compiler.compile(expr.orelse)

    def conditional(frame: Frame) -> object:
        chosen = test(frame)
        if chosen is True:
            return then(frame)
        if chosen is False:
            return orelse(frame)
        raise not_bool(chosen, "the condition of `?:`")

    return conditional
