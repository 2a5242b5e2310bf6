"""The overload record shared by the type checker and the runtime.

Every function and operator of the expression language is a *name* (``"_+_"``,
``"size"``, ``"math.least"``) with a list of *overloads*.  An overload carries
its signature in the checker's semantic types (``flowc.common.types``) and
the Python callable that implements it, so one table drives both phases:

* the checker picks an overload by the static argument types and records it;
* the compiled evaluator binds ``overload.impl`` directly when every static
  argument type is concrete -- no per-call search on the hot path;
* when an operand is ``json`` (CEL's ``dyn``) the evaluator calls
  ``stdlib.call_dynamic``, which picks the overload from the run-time kinds of
  the arguments, exactly as CEL's runtime dispatch does.

Run-time kind matching is by Python class only (``int``, ``UInt``, ``list``,
...): list element types and map key/value types are not inspected, and a
``TypeParam`` or ``json`` parameter accepts anything.  Because the decision
depends only on the classes, ``call_dynamic`` caches it per class tuple.

Secrets.  Each overload declares what it does with a secret argument
(``SecretRule``), and both the checker and ``stdlib.call_dynamic`` obey it:

* ``REJECT`` (the default): a secret argument is an error.  Whatever the
  function computes from a secret that is not itself a secret -- a length, a
  comparison, a parse -- could reveal something about it, so a function that
  does not say otherwise refuses secrets, and a new function cannot forget.
* ``DERIVE``: the function builds a secret from secrets (``a + b``,
  ``bytes(s)``, ``base64.encode(b)``): its ``string`` and ``bytes`` parameters
  take secrets, and then its string result is a ``secret`` and its bytes result
  a ``secret bytes``.
* ``carry("A", ...)``: the function moves values of those type parameters
  without looking at them (``size(list[A])``, ``list[A] + list[A]``, indexing),
  so a secret inside a list or map in those positions is fine and the result
  holds it as the secret it is.
* ``declassify(0, ...)``: the ``string`` or ``bytes`` arguments at those
  positions may be secrets and the result is *plain*, because it reveals
  nothing about them (``hmac_sha256(secret_key, body)``: see ``stdlib_crypto``
  for why that is safe).  Only functions whose output is a keyed
  pseudo-random function of the secret may use it.

Two optional flags extend the signature record:

* ``variadic``: the last parameter may repeat; the overload accepts
  ``len(params)`` or more arguments (``math.greatest(1, 2.5, 3u)``).
* ``dynamic_only``: the overload exists only so that ``json`` operands
  dispatch the way CEL's runtime does (a list indexed by ``dyn(0u)`` or
  ``dyn(0.0)``); the checker must not offer it for statically typed calls.

Implementations receive plain `.flow` values (see ``values``) and raise
``EvalError`` on failure.  They trust their static signature: an ``int``
parameter receives an ``int``.  Callers that cannot guarantee that go through
``call_dynamic``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import attrs

from flowc.common.types import (
    BOOL,
    BYTES,
    DURATION,
    FLOAT,
    INT,
    JSON,
    NULL,
    SECRET,
    STRING,
    TIMESTAMP,
    TYPE,
    UINT,
    ListT,
    MapT,
    OptionalT,
    Prim,
    RecordT,
    Type,
    TypeParam,
)
from flowc.common.values import CelType, Duration, Secret, Timestamp, UInt

Impl = Callable[..., object]


@attrs.frozen(slots=True)
class SecretRule:
    """What an overload does with arguments that are, or hold, secrets."""

    kind: str  # "reject", "derive", "carry" or "declassify"
    carries: frozenset[str] = frozenset()  # for "carry": the type parameters moved unseen
    positions: frozenset[int] = frozenset()  # for "declassify": the arguments that may be secret

    def __str__(self) -> str:
        if self.kind == "carry":
            return f"carry({', '.join(sorted(self.carries))})"
        if self.kind == "declassify":
            return f"declassify({', '.join(map(str, sorted(self.positions)))})"
        return self.kind


REJECT: Final = SecretRule("reject")
DERIVE: Final = SecretRule("derive")


def carry(*type_params: str) -> SecretRule:
    """The rule of a function that moves values of ``type_params`` unseen."""
    return SecretRule("carry", frozenset(type_params))


def declassify(*positions: int) -> SecretRule:
    """The rule of a function whose result reveals nothing about the secrets
    it takes at ``positions`` (an HMAC's key): its result stays plain."""
    return SecretRule("declassify", positions=frozenset(positions))


@attrs.frozen(slots=True)
class Overload:
    """One signature of a function or operator and its implementation."""

    id: str
    name: str
    receiver: bool
    params: tuple[Type, ...]
    result: Type
    impl: Impl = attrs.field(eq=False, repr=False)
    variadic: bool = False
    dynamic_only: bool = False
    secrets: SecretRule = REJECT

    def accepts_count(self, count: int) -> bool:
        """Whether a call with ``count`` arguments (receiver included) fits."""
        if self.variadic:
            return count >= len(self.params)
        return count == len(self.params)

    def param_at(self, index: int) -> Type:
        """The parameter type of argument ``index`` (repeating the last one
        of a variadic overload)."""
        if index >= len(self.params):
            return self.params[-1]
        return self.params[index]

    def signature(self) -> str:
        """``string.startsWith(string) -> bool`` style text for messages."""
        params = [str(p) for p in self.params]
        if self.variadic:
            params[-1] += ", ..."
        if self.receiver:
            return f"{params[0]}.{self.name}({', '.join(params[1:])}) -> {self.result}"
        return f"{self.name}({', '.join(params)}) -> {self.result}"


def fn(
    overload_id: str,
    name: str,
    params: tuple[Type, ...],
    result: Type,
    impl: Impl,
    *,
    variadic: bool = False,
    dynamic_only: bool = False,
    secrets: SecretRule = REJECT,
) -> Overload:
    """A global-call overload (``size(x)``, operators, ``math.abs(x)``)."""
    return Overload(overload_id, name, False, params, result, impl, variadic, dynamic_only, secrets)


def method(
    overload_id: str,
    name: str,
    params: tuple[Type, ...],
    result: Type,
    impl: Impl,
    *,
    secrets: SecretRule = REJECT,
) -> Overload:
    """A receiver-call overload (``s.startsWith(p)``); receiver first in ``params``."""
    return Overload(overload_id, name, True, params, result, impl, secrets=secrets)


# --------------------------------------------------------------------------- kinds

ANY_CLASS: Final = None

_PRIM_CLASSES: Final[dict[str, frozenset[type]]] = {
    INT.name: frozenset({int}),
    UINT.name: frozenset({UInt}),
    FLOAT.name: frozenset({float}),
    BOOL.name: frozenset({bool}),
    STRING.name: frozenset({str}),
    BYTES.name: frozenset({bytes}),
    NULL.name: frozenset({type(None)}),
    DURATION.name: frozenset({Duration}),
    TIMESTAMP.name: frozenset({Timestamp}),
    TYPE.name: frozenset({CelType}),
    SECRET.name: frozenset({Secret}),
}


def classes_of(param: Type) -> frozenset[type] | None:
    """The Python classes a parameter accepts at run time (``None``: any)."""
    if isinstance(param, TypeParam) or param == JSON:
        return ANY_CLASS
    if isinstance(param, Prim):
        return _PRIM_CLASSES.get(param.name, frozenset())
    if isinstance(param, ListT):
        return frozenset({list})
    if isinstance(param, MapT | RecordT):
        return frozenset({dict})
    if isinstance(param, OptionalT):
        inner = classes_of(param.inner)
        return ANY_CLASS if inner is None else inner | {type(None)}
    return frozenset()


def matches_classes(overload: Overload, classes: tuple[type, ...]) -> bool:
    """Whether argument values of these classes fit the overload.

    A ``Secret`` fits only a type parameter the overload carries: a generic
    parameter (``A``, ``json``) would otherwise take it and look at it
    (``==``, ``in``, ``json_encode``).  Other calls with secrets go through
    ``stdlib.call_dynamic``'s fallback, which applies the ``SecretRule``."""
    if not overload.accepts_count(len(classes)):
        return False
    for index, cls in enumerate(classes):
        param = overload.param_at(index)
        if cls is Secret:
            if not (isinstance(param, TypeParam) and param.name in overload.secrets.carries):
                return False
            continue
        accepted = classes_of(param)
        if accepted is not None and cls not in accepted:
            return False
    return True
