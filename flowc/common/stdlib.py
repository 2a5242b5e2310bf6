"""The function library of `.flow` expressions: one registry for the checker
and the runtime.

``REGISTRY`` maps a function or operator name to its overloads, in a fixed
order.  Names are CEL's: operators are ``_+_ _-_ _*_ _/_ _%_ -_ !_ _==_ _!=_
_<_ _<=_ _>_ _>=_ _[_] @in _&&_ _||_ _?_:_``, functions their plain names
(``size``, ``int``, ``startsWith``), namespaced ones their dotted names with
``receiver=False`` (``math.least``, ``base64.encode``, ``strings.quote``).
``float`` is registered as an alias of ``double`` (the same overload objects,
whose ``name`` stays ``"double"``).  ``OVERLOADS_BY_ID`` indexes every
overload by its cel-go style id (``add_int64``, ``size_string``).

Using it:

* The checker asks ``overloads_for(name, receiver)`` and matches static
  argument types against ``Overload.params`` (``TypeParam`` A/B are generic,
  ``json`` is ``dyn``), skipping ``dynamic_only`` overloads; the order of the
  tuple is the preference order when several fit.
* The evaluator binds ``overload.impl`` once when every argument type is
  concrete, and otherwise calls ``call_dynamic(name, receiver, args)``, which
  chooses by run-time kinds (``stdlib_core.matches_classes``) and caches the
  choice per (name, receiver, argument classes), so a dynamic call costs one
  dict lookup after the first.  No match is ``EvalError("no matching
  overload")``, naming the function and the argument kinds, never the values.
* Secrets.  A ``Secret`` value fits no parameter except a type parameter its
  overload carries (``stdlib_core.matches_classes``), so any other call with
  one lands in ``call_dynamic``'s fallback, which obeys the overload's
  ``SecretRule`` (``stdlib_core``) exactly as the checker does: an overload
  that ``DERIVE``s gets the revealed values and its string or bytes result
  is wrapped in a new ``Secret`` (``"Bearer " + secret("T")`` is a secret);
  any other overload refuses, with an error that says which function and
  never the value (``size(secret("T"))`` is an error, as it is when
  checked).  Because a statically bound ``impl`` would receive a ``Secret``
  where it expects a ``str``, the evaluator must go through ``call_dynamic``
  whenever an argument's static type may hold a secret (as it does for
  ``json``).

The library itself lives in ``stdlib_ops`` (operators), ``stdlib_convert``
(conversions), ``stdlib_strings``, ``stdlib_time``, ``stdlib_math`` and
``stdlib_flow`` (the `.flow` built-ins, encoders and the ``Effects`` context)
and ``stdlib_crypto`` (HMAC, SHA-256, hex/base64url, ``merge``);
each module's docstring explains its semantics.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from flowc.common import (
    stdlib_convert,
    stdlib_crypto,
    stdlib_flow,
    stdlib_math,
    stdlib_ops,
    stdlib_strings,
    stdlib_time,
)
from flowc.common.stdlib_core import DERIVE, Impl, Overload, fn, matches_classes, method
from flowc.common.stdlib_flow import (
    SYSTEM_EFFECTS,
    CallbackMinter,
    Effects,
    SystemEffects,
    current_effects,
    use_callbacks,
    use_effects,
)
from flowc.common.values import (
    NO_MATCHING_OVERLOAD,
    TYPE_ERROR,
    EvalError,
    Secret,
    describe_type,
)

__all__ = [
    "FUNCTION_ALIASES",
    "OVERLOADS_BY_ID",
    "REGISTRY",
    "SYSTEM_EFFECTS",
    "CallbackMinter",
    "Effects",
    "Impl",
    "Overload",
    "SystemEffects",
    "call_dynamic",
    "current_effects",
    "fn",
    "impl_of",
    "method",
    "overloads_for",
    "resolve_dynamic",
    "use_callbacks",
    "use_effects",
]

#: Extra names that denote the same overloads as a CEL name.
FUNCTION_ALIASES: Final[dict[str, str]] = {"float": "double"}


def _all_overloads() -> list[Overload]:
    return (
        stdlib_ops.overloads()
        + stdlib_convert.overloads()
        + stdlib_strings.overloads()
        + stdlib_time.overloads()
        + stdlib_math.overloads()
        + stdlib_flow.overloads()
        + stdlib_crypto.overloads()
    )


def _build_registry(
    overloads: Sequence[Overload],
) -> tuple[dict[str, tuple[Overload, ...]], dict[str, Overload]]:
    by_name: dict[str, list[Overload]] = {}
    by_id: dict[str, Overload] = {}
    for overload in overloads:
        if overload.id in by_id:
            raise AssertionError(f"duplicate overload id {overload.id}")
        by_id[overload.id] = overload
        by_name.setdefault(overload.name, []).append(overload)
    registry = {name: tuple(group) for name, group in by_name.items()}
    for alias, target in FUNCTION_ALIASES.items():
        registry[alias] = registry[target]
    return registry, by_id


REGISTRY: dict[str, tuple[Overload, ...]]
OVERLOADS_BY_ID: dict[str, Overload]
REGISTRY, OVERLOADS_BY_ID = _build_registry(_all_overloads())

_NO_OVERLOADS: Final[tuple[Overload, ...]] = ()


def overloads_for(name: str, receiver: bool | None = None) -> tuple[Overload, ...]:
    """The overloads of ``name`` (of one call style if ``receiver`` is given)."""
    found = REGISTRY.get(name, _NO_OVERLOADS)
    if receiver is None:
        return found
    return tuple(overload for overload in found if overload.receiver is receiver)


def impl_of(overload_id: str) -> Impl:
    """The implementation of an overload, for binding at compile time."""
    return OVERLOADS_BY_ID[overload_id].impl


_DISPATCH_CACHE: dict[tuple[object, ...], Overload | None] = {}


def resolve_dynamic(name: str, receiver: bool, args: Sequence[object]) -> Overload | None:
    """The first overload of ``name`` that fits the run-time kinds of ``args``."""
    key = (name, receiver, *map(type, args))
    try:
        return _DISPATCH_CACHE[key]
    except KeyError:
        chosen = _first_fit(name, receiver, tuple(map(type, args)))
        _DISPATCH_CACHE[key] = chosen
        return chosen


def _first_fit(name: str, receiver: bool, classes: tuple[type, ...]) -> Overload | None:
    for overload in REGISTRY.get(name, _NO_OVERLOADS):
        if overload.receiver is receiver and matches_classes(overload, classes):
            return overload
    return None


def call_dynamic(name: str, receiver: bool, args: Sequence[object]) -> object:
    """Call ``name`` choosing the overload by the run-time kinds of ``args``
    (receiver first when ``receiver``); raise ``EvalError`` if none fits."""
    count = len(args)
    if count == 2:
        key: tuple[object, ...] = (name, receiver, type(args[0]), type(args[1]))
    elif count == 1:
        key = (name, receiver, type(args[0]))
    else:
        key = (name, receiver, *map(type, args))
    try:
        overload = _DISPATCH_CACHE[key]
    except KeyError:
        overload = resolve_dynamic(name, receiver, args)
    if overload is None:
        if any(type(arg) is Secret for arg in args):
            return _call_with_secrets(name, receiver, args)
        raise EvalError(NO_MATCHING_OVERLOAD, _no_overload_message(name, receiver, args))
    return overload.impl(*args)


def _call_with_secrets(name: str, receiver: bool, args: Sequence[object]) -> object:
    """A call with secret arguments: only an overload that ``DERIVE``s a secret
    from them is called, on the revealed values, and its result is a secret
    again.  A failure is reported without the original message, which could
    quote the secret."""
    plain = [arg.reveal() if isinstance(arg, Secret) else arg for arg in args]
    overload = resolve_dynamic(name, receiver, plain)
    if overload is None:
        raise EvalError(NO_MATCHING_OVERLOAD, _no_overload_message(name, receiver, args))
    if overload.secrets.kind == "declassify":
        return _call_declassified(name, overload, args, plain)
    if overload.secrets is not DERIVE:
        raise EvalError(TYPE_ERROR, f"{_display(name)} cannot be applied to a secret")
    failure: str | None = None
    try:
        result = overload.impl(*plain)
    except EvalError as error:
        failure = error.kind
    if failure is not None:
        raise EvalError(failure, f"{_display(name)} failed on a secret argument ({failure})")
    if type(result) is not str and type(result) is not bytes:  # pragma: no cover - DERIVE
        raise EvalError(TYPE_ERROR, f"{_display(name)} cannot be applied to a secret")
    return Secret(result)


def _call_declassified(
    name: str, overload: Overload, args: Sequence[object], plain: list[object]
) -> object:
    """A call whose result may be plain although some arguments are secrets
    (``stdlib_core.declassify``): only the declared positions may hold them."""
    allowed = overload.secrets.positions
    if any(type(arg) is Secret and index not in allowed for index, arg in enumerate(args)):
        raise EvalError(TYPE_ERROR, f"{_display(name)} cannot be applied to a secret")
    return overload.impl(*plain)


def _display(name: str) -> str:
    return name.strip("_@!-").replace("_", " ") or name


def _no_overload_message(name: str, receiver: bool, args: Sequence[object]) -> str:
    kinds = [describe_type(arg) for arg in args]
    if receiver and kinds:
        call = f"{kinds[0]}.{name}({', '.join(kinds[1:])})"
    else:
        call = f"{name}({', '.join(kinds)})"
    return f"no matching overload for {call}"
