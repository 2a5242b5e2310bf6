"""Overload resolution: which library function a call or operator means, and its type.

``resolve(span, name, receiver, args)`` is what ``ExprChecker.apply`` asks for
every call and operator (operators by their function names,
``OPERATOR_FUNCTIONS``): given the argument types, it returns the result type,
the overload to record (when exactly one fits) and, when nothing fits, the
diagnostic to report.

The candidates are the overloads of the standard library registry
(``flowc.common.stdlib``) with that name, receiver style and argument count.
Each is *matched* by unifying its parameter types with the argument types,
left to right (``_unify``): a type parameter binds on first use and may widen
to the join of a later argument it is assignable to or from; lists and maps
unify element-wise (a record argument counts as a ``map[string, V]``, the
empty record ``{}`` as the empty map of any key type); anything else must be
assignable.  ``json`` unifies with everything, so several overloads may match:
if they agree on the result type that is the type, else ``json``, and the
runtime dispatches by value.  The result type is the overload's, with its type
parameters substituted (an unbound one is ``json``).  The overload is recorded
only when it is certain (one match, no ``json`` argument).

Secrets: candidates are matched with the secrets of the arguments made
plain (``typerel.unsecret``), and then each overload's ``SecretRule`` decides
(``_with_secrets``).  ``DERIVE`` (``a + b``, ``bytes(s)``,
``base64.encode(b)``) takes secrets where its signature says ``string`` or
``bytes`` and makes its result a ``secret`` or ``secret bytes``; ``carry``
(``size(list[A])``, ``xs[0]``) takes secrets inside the type parameters it
moves unseen, and its result, matched with the real arguments, holds them;
``declassify`` (``hmac_sha256(key, body)``) takes a secret ``string`` or
``bytes`` at the positions it names and its result stays plain;
anything else -- the default of every overload -- is E0404.  The runtime
(``stdlib.call_dynamic``) obeys the same rules.

When no overload has the name, the error suggests a known function name; when
none fits the arguments, it lists the signatures that exist.
``mismatch_help`` is the help text of a type mismatch (a missing null check,
an int where a float is wanted, a secret, missing record fields).

``exprcheck.py`` re-exports ``OPERATOR_FUNCTIONS`` and ``mismatch_help``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from flowc.common.typerel import (
    assignable,
    contains_secret,
    is_json,
    join,
    join_all,
    keeps_secrets,
    make_optional,
    strip_optional,
    unsecret,
)
from flowc.common.types import (
    BYTES,
    ERROR,
    FLOAT,
    INT,
    JSON,
    SECRET,
    SECRET_BYTES,
    SECRETS,
    STRING,
    ListT,
    MapT,
    OptionalT,
    RecordT,
    Type,
    TypeParam,
)
from flowc.compiler import messages
from flowc.compiler.scope import suggest

if TYPE_CHECKING:
    from flowc.common.stdlib_core import Overload
    from flowc.compiler.ast import Span
    from flowc.compiler.diagnostics import Diagnostic

OPERATOR_FUNCTIONS: Final = {
    "+": "_+_",
    "-": "_-_",
    "*": "_*_",
    "/": "_/_",
    "%": "_%_",
    "<": "_<_",
    "<=": "_<=_",
    ">": "_>_",
    ">=": "_>=_",
    "in": "@in",
}


def overloads_for(name: str, receiver: bool) -> tuple[Overload, ...]:
    """The library's overloads of ``name`` (the library is imported on first use)."""
    from flowc.common.stdlib import overloads_for

    return overloads_for(name, receiver)


def resolve(
    span: Span, name: str, receiver: bool, args: list[Type]
) -> tuple[Type, Overload | None, Diagnostic | None]:
    """The result type of calling ``name`` on ``args``, the overload to record
    (None unless exactly one fits and no argument is ``json``), and the error
    to report when no overload fits (the type is then ``error``)."""
    candidates = [o for o in overloads_for(name, receiver) if o.accepts_count(len(args))]
    if not candidates and not overloads_for(name, receiver):
        return ERROR, None, _unknown_function(span, name)
    plain = [unsecret(a) for a in args]
    matches = [(o, r) for o in candidates if (r := _match(o, plain)) is not None]
    if not matches:
        return ERROR, None, _no_overload(span, name, receiver, args)
    if any(contains_secret(a) for a in args):
        return _with_secrets(span, name, args, [o for o, _ in matches])
    results = {r for _, r in matches}
    result = results.pop() if len(results) == 1 else JSON
    overload = None
    if len(matches) == 1 and not any(is_json(a) for a in args):
        overload = matches[0][0]
    return result, overload, None


def _with_secrets(
    span: Span, name: str, args: list[Type], matches: list[Overload]
) -> tuple[Type, Overload | None, Diagnostic | None]:
    """The result of a call with secret arguments, as the overloads' rules allow."""
    results: set[Type] = set()
    for overload in matches:
        result = _secret_result(overload, args)
        if result is None:
            return ERROR, None, secret_operation(span, _display_name(name), args)
        results.add(result)
    if len(results) != 1:  # several overloads, several types: the secret would become `json`
        return ERROR, None, secret_operation(span, _display_name(name), args)
    certain = matches[0] if len(matches) == 1 and not any(is_json(a) for a in args) else None
    return results.pop(), certain, None


def _secret_result(overload: Overload, args: list[Type]) -> Type | None:
    """The result type of ``overload`` on these secret-holding arguments, or
    ``None`` if its ``SecretRule`` does not allow them."""
    rule = overload.secrets
    if rule.kind == "derive":
        for index, arg in enumerate(args):
            if contains_secret(arg) and (arg, overload.param_at(index)) not in _DERIVED_FROM:
                return None
        return _DERIVED.get(overload.result)
    if rule.kind == "declassify":
        for index, arg in enumerate(args):
            if contains_secret(arg) and (
                index not in rule.positions or (arg, overload.param_at(index)) not in _DERIVED_FROM
            ):
                return None
        return overload.result
    if rule.kind == "carry":
        if not all(
            _only_carried(overload.param_at(i), arg, rule.carries) for i, arg in enumerate(args)
        ):
            return None
        return _match(overload, args)
    return None


#: What a ``DERIVE`` overload takes secrets as, and what its result becomes.
_DERIVED_FROM: Final = frozenset({(SECRET, STRING), (SECRET_BYTES, BYTES)})
_DERIVED: Final[dict[Type, Type]] = {STRING: SECRET, BYTES: SECRET_BYTES}


def _only_carried(param: Type, arg: Type, carried: frozenset[str]) -> bool:
    """Whether every secret in ``arg`` lies where ``param`` has a carried type parameter."""
    if not contains_secret(arg):
        return True
    if isinstance(param, TypeParam):
        return param.name in carried
    if isinstance(param, OptionalT):
        return _only_carried(param.inner, strip_optional(arg), carried)
    if isinstance(param, ListT):
        return isinstance(arg, ListT) and _only_carried(param.elem, arg.elem, carried)
    if isinstance(param, MapT):
        if isinstance(arg, MapT):
            return _only_carried(param.key, arg.key, carried) and _only_carried(
                param.value, arg.value, carried
            )
        if isinstance(arg, RecordT):
            return all(_only_carried(param.value, f.type, carried) for f in arg.fields)
    return False


def secret_operation(span: Span, operation: str, args: list[Type]) -> Diagnostic:
    """E0404: an operation that would compute something plain from a secret."""
    help_text = messages.SECRET_RULE_HELP
    if any(strip_optional(a) == SECRET_BYTES for a in args):
        help_text = (
            "secret bytes may only be sent (a body) or built into a larger secret "
            "(`+`, `base64.encode()`)"
        )
    return messages.SECRET_OPERATION(span, operation=operation, help=help_text)


def _unknown_function(span: Span, name: str) -> Diagnostic:
    from flowc.common.stdlib import REGISTRY

    known = [n for n in REGISTRY if not n.startswith(("_", "@", "!", "-"))]
    hint = suggest(name, known)
    help_text = f"did you mean `{hint}`?" if hint else None
    return messages.UNKNOWN_FUNCTION(span, name=name, help=help_text)


def _no_overload(span: Span, name: str, receiver: bool, args: list[Type]) -> Diagnostic:
    shown = _display_name(name)
    listed = [o.signature() for o in overloads_for(name, receiver) if not o.dynamic_only]
    help_text = "defined for: " + "; ".join(listed[:6]) if listed else None
    arg_text = ", ".join(str(a) for a in args)
    return messages.NO_OVERLOAD(span, name=shown, args=arg_text, help=help_text)


def _match(overload: Overload, args: list[Type]) -> Type | None:
    if overload.dynamic_only:
        return None
    bindings: dict[str, Type] = {}
    for index, arg in enumerate(args):
        if not _unify(overload.param_at(index), arg, bindings):
            return None
    return _substitute(overload.result, bindings)


def _unify(param: Type, arg: Type, bindings: dict[str, Type]) -> bool:
    if is_json(arg) or is_json(param):
        return True
    if isinstance(param, TypeParam):
        bound = bindings.get(param.name)
        if bound is None or is_json(bound):
            bindings[param.name] = arg
            return True
        if assignable(arg, bound) or assignable(bound, arg) or join(bound, arg) in SECRETS:
            bindings[param.name] = join(bound, arg)
            return True
        return False
    if isinstance(param, ListT):
        return isinstance(arg, ListT) and _unify(param.elem, arg.elem, bindings)
    if isinstance(param, MapT):
        if isinstance(arg, RecordT) and not arg.fields:
            arg = MapT(JSON, JSON)  # `{}` is also the empty map of any key type
        elif isinstance(arg, RecordT):
            value = join_all([f.type for f in arg.fields])
            if not all(keeps_secrets(f.type, value) for f in arg.fields):
                return False  # a secret field would melt into `json`
            arg = MapT(STRING, value)
        if not isinstance(arg, MapT):
            return False
        return _unify(param.key, arg.key, bindings) and _unify(param.value, arg.value, bindings)
    return assignable(arg, param)


def _substitute(t: Type, bindings: dict[str, Type]) -> Type:
    if isinstance(t, TypeParam):
        return bindings.get(t.name, JSON)
    if isinstance(t, ListT):
        return ListT(_substitute(t.elem, bindings))
    if isinstance(t, MapT):
        return MapT(_substitute(t.key, bindings), _substitute(t.value, bindings))
    if isinstance(t, OptionalT):
        return make_optional(_substitute(t.inner, bindings))
    return t


def _display_name(name: str) -> str:
    for op, function in OPERATOR_FUNCTIONS.items():
        if function == name:
            return f"operator `{op}`"
    if name in ("!_", "-_"):
        return f"operator `{name[0]}`"
    return f"`{name}`"


def mismatch_help(found: Type, wanted: Type) -> str | None:
    if isinstance(found, OptionalT) and assignable(found.inner, wanted):
        return "the value may be null: check for null first or give a default with `??`"
    if found == INT and wanted == FLOAT:
        return "ints do not convert to floats implicitly: write `1.0` or `double(x)`"
    if found == SECRET and wanted != SECRET:
        return (
            "a secret may only be sent to an API (headers, auth, body); declare the type `secret`"
        )
    if found == SECRET_BYTES and wanted != SECRET_BYTES:
        return "secret bytes may only be sent to an API (a body) or given to `base64.encode()`"
    if isinstance(found, RecordT) and isinstance(wanted, RecordT):
        from flowc.common.typerel import missing_fields

        missing = missing_fields(found, wanted)
        if missing:
            return (
                "missing field"
                + ("s" if len(missing) > 1 else "")
                + ": "
                + ", ".join(f"`{m}`" for m in missing)
            )
    return None
