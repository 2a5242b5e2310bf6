"""Type inference and checking of expressions.

``ExprChecker.check(expr, scope)`` returns the type of ``expr`` and records,
for later phases, the type of every sub-expression, the symbol each name
refers to, and the overload each call or operator resolved to (``CheckInfo``).

The algorithm is CEL's checker, bottom-up:

* Literals have their obvious types; a string with interpolations is a
  ``string`` (a ``secret`` if any interpolated part is one).
* Names resolve through the scope chain (locals, then the module's consts and
  imports, then built-in identifiers such as ``int`` used as type values).
  A dotted chain whose root is unknown is tried as one qualified name
  (``a.b.c``), as CEL's container rules do.
* Field selection reads a record's field (an optional field reads as ``T?``),
  a ``map[string, V]``'s value, or anything from ``json``.  Reading through a
  ``T?`` is an error unless the path has been *narrowed* by a null check
  (``if x != null``, ``x != null && x.f``, ``has(x.f)``): ``Scope`` keeps the
  narrowed types of paths such as ``user.body.email``.
* Calls and operators pick an overload from the standard library registry
  (``flowc.common.stdlib``) by unifying argument types with parameter types;
  type parameters bind on first use.  A ``json`` argument matches anything, so
  several overloads may remain: if they agree on the result type that is the
  type, else ``json``, and the runtime dispatches by value.
* Secrets are opaque.  A function or operator takes one only if its overload
  says so (``overloads.py``: ``+``, ``string()``, ``bytes()``,
  ``base64.encode()`` build larger secrets; ``size(list)`` and indexing move
  them unseen), and so do the forms checked here: a secret is never compared
  (``==``, ``!=``; only with ``null``), never a map key or an index, never
  given to ``dyn()`` or ``type()``; interpolating one makes the string a
  ``secret`` (secret *bytes* cannot be interpolated: their text might not be
  UTF-8); and joining types (list items, ``?:``, ``??``) must keep every
  secret a secret (``typerel.keeps_secrets``), never let it melt into
  ``json``.
* Macros (``has``, ``all``, ``exists``, ``exists_one``, ``map``, ``filter``,
  CEL's two-variable ``all``/``exists``/``existsOne``/``transformList``/
  ``transformMap``, and ``cel.bind``) bind their variables in a child scope;
  the variable's own node is recorded in ``references`` so that the evaluator
  can give it a frame slot.
* A name written with a leading dot (``.y``) skips local scopes.
* ``a ?? b`` strips the optional from ``a`` and joins with ``b``; ``?:``
  joins its branches; list literals join their items; a map literal whose
  keys are all field names or string literals is a *record*.

Errors produce the type ``error``, which is compatible with everything, so
one mistake is reported once rather than at every use.

The macros and ``cel.bind`` are checked in ``exprcheck_macros.py``.
Overload resolution (matching argument types against the library's
signatures, secret taint, the unknown-function and no-overload errors) and the
help text of type mismatches live in ``overloads.py``; ``OPERATOR_FUNCTIONS``
and ``mismatch_help`` are re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from flowc.common.typerel import (
    assignable,
    comparable,
    contains_secret,
    is_json,
    join_all,
    keeps_secrets,
    make_optional,
    strip_optional,
)
from flowc.common.types import (
    BOOL,
    BYTES,
    DURATION,
    ERROR,
    FLOAT,
    INT,
    JSON,
    NULL,
    SECRET,
    SECRET_BYTES,
    STRING,
    TYPE,
    UINT,
    Field,
    ListT,
    MapT,
    OptionalT,
    RecordT,
    Type,
)
from flowc.compiler import ast, messages
from flowc.compiler.exprcheck_macros import (
    BOOL_MACROS,
    MACROS,
    TWO_VAR_MACROS,
    MacroChecks,
    is_bind_call,
    macro_shape,
    pairs_keep_secrets,
    two_var_macro_shape,
)
from flowc.compiler.overloads import (
    OPERATOR_FUNCTIONS,
    mismatch_help,
    overloads_for,
    resolve,
    secret_operation,
)
from flowc.compiler.scope import CheckInfo, Scope, Symbol, suggest

__all__ = [
    "BOOL_MACROS",
    "INT_MAX",
    "LITERAL_TYPES",
    "MACROS",
    "OPERATOR_FUNCTIONS",
    "TWO_VAR_MACROS",
    "UINT_MAX",
    "ExprChecker",
    "is_bind_call",
    "mismatch_help",
    "pairs_keep_secrets",
    "two_var_macro_shape",
]

INT_MAX: Final = 2**63 - 1
UINT_MAX: Final = 2**64 - 1

LITERAL_TYPES: Final[dict[str, Type]] = {
    "int": INT,
    "uint": UINT,
    "float": FLOAT,
    "string": STRING,
    "bytes": BYTES,
    "bool": BOOL,
    "null": NULL,
}


class ExprChecker(MacroChecks):
    """Checks expressions against a scope; one instance per module."""

    def __init__(self, info: CheckInfo) -> None:
        self.info = info
        # Inside the left operand of `??`, reading through null is allowed and
        # yields null (the `??` then supplies its default), as `a?.b ?? c` in JS.
        self.null_safe = False

    def error(self, diagnostic: object) -> Type:
        self.info.sink.add(diagnostic)  # type: ignore[arg-type]
        return ERROR

    def check(self, expr: ast.Expr, scope: Scope) -> Type:
        method = getattr(self, "_check_" + type(expr).__name__)
        result: Type = method(expr, scope)
        self.info.expr_types[id(expr)] = result
        return result

    def expect(self, expr: ast.Expr, scope: Scope, wanted: Type, what: str) -> Type:
        """Check ``expr`` and report if its type does not fit ``wanted``; a secret
        fits where a string is wanted (the caller decides whether a secret may go
        there: ``auth`` takes one, ``idempotency_key`` does not)."""
        found = self.check(expr, scope)
        if not assignable(found, wanted) and not (found == SECRET and wanted == STRING):
            self.error(
                messages.TYPE_MISMATCH(
                    expr.span,
                    what=what,
                    expected=wanted,
                    found=found,
                    help=mismatch_help(found, wanted),
                )
            )
        return found

    # ----------------------------------------------------------- leaves

    def _check_Literal(self, expr: ast.Literal, scope: Scope) -> Type:
        if expr.kind == "int" and isinstance(expr.value, int) and expr.value > INT_MAX:
            negated_minimum = expr.value == INT_MAX + 1 and id(expr) in self.info.negated_literals
            if not negated_minimum:
                return self.error(messages.INT_OUT_OF_RANGE(expr.span, kind="int"))
        if expr.kind == "uint" and isinstance(expr.value, int) and expr.value > UINT_MAX:
            return self.error(messages.INT_OUT_OF_RANGE(expr.span, kind="uint"))
        return LITERAL_TYPES[expr.kind]

    def _check_DurationLit(self, expr: ast.DurationLit, scope: Scope) -> Type:
        if expr.nanos > INT_MAX:  # durations are int64 nanoseconds (about 292 years)
            return self.error(messages.INT_OUT_OF_RANGE(expr.span, kind="duration"))
        return DURATION

    def _check_Template(self, expr: ast.Template, scope: Scope) -> Type:
        tainted = False
        for part in expr.parts:
            if isinstance(part, ast.Expr):
                found = self.check(part, scope)
                if strip_optional(found) == SECRET_BYTES:
                    self.error(
                        messages.SECRET_BYTES_AS_TEXT(
                            part.span,
                            help="send them as a `body`, or interpolate "
                            "`base64.encode(...)` of them",
                        )
                    )
                tainted = contains_secret(found) or tainted
        return SECRET if tainted else STRING

    def _check_Name(self, expr: ast.Name, scope: Scope) -> Type:
        symbol = _lookup_root(scope, expr.id) if expr.leading_dot else scope.lookup(expr.id)
        if symbol is None:
            return self._unknown_name(expr, scope)
        return self._use(expr, symbol, scope)

    def _use(self, expr: ast.Expr, symbol: Symbol, scope: Scope) -> Type:
        symbol.uses += 1
        self.info.references[id(expr)] = symbol
        if symbol.kind == "module":
            return self.error(messages.MODULE_AS_VALUE(expr.span, name=symbol.name))
        narrowed = scope.narrowed(symbol.name)
        return narrowed if narrowed is not None else symbol.type

    def _unknown_name(self, expr: ast.Name, scope: Scope) -> Type:
        hint = suggest(expr.id, scope.visible_names())
        help_text = f"did you mean `{hint}`?" if hint else None
        return self.error(messages.UNKNOWN_NAME(expr.span, name=expr.id, help=help_text))

    # ----------------------------------------------------------- member access

    def _check_Select(self, expr: ast.Select, scope: Scope) -> Type:
        qualified = self._qualified_symbol(expr, scope)
        if qualified is not None:
            return self._use(expr, qualified, scope)
        operand = self.check(expr.operand, scope)
        path = _path_of(expr)
        narrowed = scope.narrowed(path) if path else None
        if narrowed is not None:
            return narrowed
        return self.select_type(expr, operand, expr.field)

    def _qualified_symbol(self, expr: ast.Select, scope: Scope) -> Symbol | None:
        """``alias.NAME`` of an import, or a dotted name declared as one binding."""
        root, dotted = _dotted(expr)
        if root is None:
            return None
        if root.leading_dot:  # `.a.b`: only the root scope, never a local
            return _lookup_root(scope, dotted)
        root_symbol = scope.lookup(root.id)
        if root_symbol is None:
            return scope.lookup(dotted) or _type_name_symbol(dotted)
        if root_symbol.kind != "module" or expr.operand is not root:
            return None
        root_symbol.uses += 1
        self.info.references[id(root)] = root_symbol
        member = scope.module_member(root.id, expr.field)
        if member is None:
            self.error(messages.UNKNOWN_MEMBER(expr.span, module=root.id, name=expr.field))
            return Symbol(expr.field, "error", ERROR, expr.span, "")
        return member

    def select_type(self, expr: ast.Expr, operand: Type, field: str) -> Type:
        if operand == ERROR or is_json(operand):
            return JSON if operand == JSON else ERROR
        if isinstance(operand, OptionalT) and self.null_safe:
            return make_optional(self.select_type(expr, operand.inner, field))
        if isinstance(operand, OptionalT):
            return self.error(
                messages.SELECT_ON_OPTIONAL(
                    expr.span,
                    field=field,
                    type=operand,
                    help="check for null first (`if x != null { ... }`) "
                    "or give a default with `??`",
                )
            )
        if isinstance(operand, RecordT):
            return self._record_field(expr, operand, field)
        if isinstance(operand, MapT):
            if not assignable(STRING, operand.key):
                return self.error(messages.NO_FIELDS(expr.span, type=operand, field=field))
            return operand.value
        return self.error(messages.NO_FIELDS(expr.span, type=operand, field=field))

    def _record_field(self, expr: ast.Expr, record: RecordT, name: str) -> Type:
        found = record.field(name)
        if found is None:
            names = [f.name for f in record.fields]
            hint = suggest(name, names)
            listed = ", ".join(f"`{n}`" for n in names) or "none"
            help_text = f"did you mean `{hint}`?" if hint else f"the fields are {listed}"
            return self.error(
                messages.UNKNOWN_FIELD(expr.span, field=name, type=record, help=help_text)
            )
        return make_optional(found.type) if found.optional else found.type

    def _check_Index(self, expr: ast.Index, scope: Scope) -> Type:
        operand = self.check(expr.operand, scope)
        index = self.check(expr.index, scope)
        base = operand
        if isinstance(base, OptionalT) and self.null_safe:
            base = base.inner
        if isinstance(base, OptionalT):
            return self.error(
                messages.SELECT_ON_OPTIONAL(expr.span, field="[...]", type=operand, help=None)
            )
        if contains_secret(index):
            self.error(messages.SECRET_KEY(expr.index.span, what="an index or a key to look up"))
            return ERROR
        if base in (JSON, ERROR):
            return base
        if isinstance(base, ListT):
            if not assignable(index, INT) and index not in (UINT, FLOAT):
                self.error(messages.BAD_INDEX(expr.index.span, type=base, index=index))
            return base.elem
        if isinstance(base, MapT):
            if not comparable(index, base.key):
                self.error(messages.BAD_INDEX(expr.index.span, type=base, index=index))
            return base.value
        if isinstance(base, RecordT):
            return self._record_index(expr, base, index)
        return self.error(messages.NOT_INDEXABLE(expr.span, type=base))

    def _record_index(self, expr: ast.Index, record: RecordT, index: Type) -> Type:
        key = expr.index
        if isinstance(key, ast.Literal) and key.kind == "string":
            return self._record_field(expr, record, str(key.value))
        if not assignable(index, STRING):
            return self.error(messages.BAD_INDEX(key.span, type=record, index=index))
        return self.joined(expr, [f.type for f in record.fields])

    # ----------------------------------------------------------- operators

    def _check_Unary(self, expr: ast.Unary, scope: Scope) -> Type:
        if expr.op == "-" and isinstance(expr.operand, ast.Literal):
            self.info.negated_literals.add(id(expr.operand))
        operand = self.check(expr.operand, scope)
        name = "!_" if expr.op == "!" else "-_"
        return self.apply(expr, name, False, [operand], [expr.operand])

    def _check_Binary(self, expr: ast.Binary, scope: Scope) -> Type:
        op = expr.op
        if op in ("&&", "||"):
            return self._logical(expr, scope)
        if op == "??":
            return self._nullish(expr, scope)
        left = self.check(expr.left, scope)
        right = self.check(expr.right, scope)
        if op in ("==", "!="):
            if _compares_a_secret(expr, left, right):
                return self.error(secret_operation(expr.span, f"operator `{op}`", [left, right]))
            return self._equality(expr, left, right)
        return self.apply(
            expr, OPERATOR_FUNCTIONS[op], False, [left, right], [expr.left, expr.right]
        )

    def _logical(self, expr: ast.Binary, scope: Scope) -> Type:
        self.expect(expr.left, scope, BOOL, f"the left operand of `{expr.op}`")
        facts = scope.facts(expr.left, positive=expr.op == "&&", checker=self)
        self.expect(expr.right, scope.narrow(facts), BOOL, f"the right operand of `{expr.op}`")
        return BOOL

    def _nullish(self, expr: ast.Binary, scope: Scope) -> Type:
        saved, self.null_safe = self.null_safe, True
        try:
            left = self.check(expr.left, scope)
        finally:
            self.null_safe = saved
        right = self.check(expr.right, scope)
        if left in (ERROR, JSON) or right == ERROR:
            return right if left == JSON and right != NULL else (JSON if left == JSON else ERROR)
        return self.joined(expr, [strip_optional(left), right])

    def _equality(self, expr: ast.Binary, left: Type, right: Type) -> Type:
        if ERROR not in (left, right) and not comparable(left, right):
            self.error(messages.NEVER_EQUAL(expr.span, left=left, right=right, op=expr.op))
        return BOOL

    def _check_Conditional(self, expr: ast.Conditional, scope: Scope) -> Type:
        self.expect(expr.cond, scope, BOOL, "the condition of `?:`")
        then = self.check(expr.then, scope.narrow(scope.facts(expr.cond, True, self)))
        orelse = self.check(expr.orelse, scope.narrow(scope.facts(expr.cond, False, self)))
        return self.joined(expr, [then, orelse])

    def joined(self, expr: ast.Node, types: list[Type], what: str = "this expression") -> Type:
        """The join of ``types``, which must keep every secret among them a secret."""
        result = join_all(types)
        if not all(keeps_secrets(t, result) for t in types):
            self.error(messages.SECRET_HIDDEN(expr.span, what=what, type=result))
            return ERROR
        return result

    # ----------------------------------------------------------- literals of collections

    def _check_ListLit(self, expr: ast.ListLit, scope: Scope) -> Type:
        items = [self.check(item, scope) for item in expr.items]
        joined = self.joined(expr, items, "this list")
        return ListT(joined) if joined != ERROR or ERROR in items else ERROR

    def _check_MapLit(self, expr: ast.MapLit, scope: Scope) -> Type:
        if all(_is_field_key(e) for e in expr.entries):
            return self._record_literal(expr, scope)
        keys = [self.check(e.key, scope) for e in expr.entries]
        values = [self.check(e.value, scope) for e in expr.entries]
        for entry, key in zip(expr.entries, keys, strict=True):
            if contains_secret(key):
                self.error(messages.SECRET_KEY(entry.key.span, what="a map key"))
            elif key not in (STRING, INT, UINT, BOOL, JSON, ERROR):
                self.error(messages.BAD_MAP_KEY(entry.key.span, type=key))
        value = self.joined(expr, values, "this map")
        return MapT(join_all(keys), value) if value != ERROR or ERROR in values else ERROR

    def _record_literal(self, expr: ast.MapLit, scope: Scope) -> Type:
        fields: list[Field] = []
        seen: dict[str, ast.MapEntry] = {}
        for entry in expr.entries:
            self.check(entry.key, scope)
            name = str(entry.key.value)  # type: ignore[attr-defined]
            if name in seen:
                self.error(messages.DUPLICATE_KEY(entry.key.span, key=name))
                continue
            seen[name] = entry
            fields.append(Field(name, self.check(entry.value, scope)))
        return RecordT(tuple(fields))

    # ----------------------------------------------------------- calls

    def _check_Call(self, expr: ast.Call, scope: Scope) -> Type:
        if expr.target is None:
            return self._global_call(expr, scope)
        namespaced = self._namespaced_function(expr, scope)
        if namespaced is not None:
            args = [self.check(a, scope) for a in expr.args]
            return self.apply(expr, namespaced, False, args, list(expr.args))
        if expr.func in MACROS and macro_shape(expr):
            return self._macro(expr, scope)
        if two_var_macro_shape(expr):
            return self._two_var_macro(expr, scope)
        if is_bind_call(expr) and scope.lookup("cel") is None:
            return self._bind(expr, scope)
        receiver = self.check(expr.target, scope)
        args = [receiver, *(self.check(a, scope) for a in expr.args)]
        return self.apply(expr, expr.func, True, args, [expr.target, *expr.args])

    def _namespaced_function(self, expr: ast.Call, scope: Scope) -> str | None:
        root, dotted = _dotted(expr.target) if expr.target is not None else (None, "")
        if root is None or scope.lookup(root.id) is not None:
            return None
        name = f"{dotted}.{expr.func}"
        return name if overloads_for(name, False) else None

    def _global_call(self, expr: ast.Call, scope: Scope) -> Type:
        name = expr.func.lstrip(".")
        if name == "has":
            return self._has(expr, scope)
        if name == "dyn" and len(expr.args) == 1:
            if contains_secret(found := self.check(expr.args[0], scope)):
                return self.error(secret_operation(expr.span, "`dyn`", [found]))
            return JSON
        args = [self.check(a, scope) for a in expr.args]
        if name == "type" and len(args) == 1:
            if contains_secret(args[0]):
                return self.error(secret_operation(expr.span, "`type`", args))
            return TYPE
        return self.apply(expr, name, False, args, list(expr.args))

    # ----------------------------------------------------------- overload resolution

    def apply(
        self,
        expr: ast.Expr,
        name: str,
        receiver: bool,
        args: list[Type],
        arg_nodes: Sequence[ast.Expr],
    ) -> Type:
        """The result type of calling ``name`` on ``args``, recording the overload."""
        if ERROR in args:
            return ERROR
        result, overload, problem = resolve(expr.span, name, receiver, args)
        if problem is not None:
            return self.error(problem)
        if overload is not None:
            self.info.overloads[id(expr)] = overload
        return result


def _compares_a_secret(expr: ast.Binary, left: Type, right: Type) -> bool:
    """Whether ``==``/``!=`` would compare a secret with anything but ``null``."""
    if _is_null(expr.left) or _is_null(expr.right):
        return False
    return contains_secret(left) or contains_secret(right)


def _is_null(expr: ast.Expr) -> bool:
    return isinstance(expr, ast.Literal) and expr.kind == "null"


def _is_field_key(entry: ast.MapEntry) -> bool:
    key = entry.key
    return entry.key_style == "field" or (
        entry.key_style == "literal" and isinstance(key, ast.Literal) and key.kind == "string"
    )


def _type_name_symbol(dotted: str) -> Symbol | None:
    """A dotted type identifier (``google.protobuf.Timestamp``) used as a value."""
    from flowc.common.values import TYPE_IDENTIFIERS

    if dotted not in TYPE_IDENTIFIERS:
        return None
    return Symbol(dotted, "builtin", TYPE, ast.NO_SPAN, "")


def _lookup_root(scope: Scope, name: str) -> Symbol | None:
    """A name written with a leading dot (``.y``): resolved in the root scope
    only, skipping locals such as a macro variable of the same name.  An
    environment may give absolute names (``".y"``) a meaning of their own, as
    the CEL conformance runner's container-aware environment does."""
    return scope.env.lookup_value("." + name) or scope.env.lookup_value(name)


def _dotted(expr: ast.Expr) -> tuple[ast.Name | None, str]:
    """For ``a.b.c`` made only of names: the root ``Name`` and ``"a.b.c"``."""
    parts: list[str] = []
    while isinstance(expr, ast.Select):
        parts.append(expr.field)
        expr = expr.operand
    if not isinstance(expr, ast.Name):
        return None, ""
    parts.append(expr.id)
    return expr, ".".join(reversed(parts))


def _path_of(expr: ast.Expr) -> str | None:
    root, dotted = _dotted(expr)
    return dotted if root is not None else None
