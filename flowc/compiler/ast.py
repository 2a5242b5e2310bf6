"""The abstract syntax tree of a `.flow` file.

The parser converts Lark's parse into these classes exactly once; every later
phase (printer, resolver, checker, lowering, language server) works on them
and none of them imports lark.

Design rules:

* Every class is a frozen, slotted attrs class, so nodes are immutable values
  that can be shared, hashed and compared.  ``span`` is excluded from equality
  and hashing: two trees that print the same are equal however they were laid
  out, which is what the printer round-trip test (``parse(print(t)) == t``)
  relies on.
* Sequences are tuples.  Optional parts are ``None``.
* Expressions follow CEL's shape: ``Call`` covers global calls (``size(x)``),
  receiver calls (``s.startsWith("a")``) and macros (``l.all(x, p)``); the
  checker recognises macros by name and argument shape.  ``Binary`` carries the
  operator text (``"+"``, ``"&&"``, ``"in"``, ``"??"``).
* ``raw`` on literals keeps the source spelling (``0x1F``, ``1_000``,
  ``'single'``) for the formatter; like ``span`` it is not part of equality.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeAlias

import attrs

from flowc.common.span import NO_SPAN as NO_SPAN  # re-exported: every node carries one
from flowc.common.span import Span as Span


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class Node:
    """Base of every syntax node.

    The classes are declared with ``eq=False, repr=False`` (and without attrs'
    pickling and pattern-matching extras): generating those methods for seventy
    classes cost about 30 ms of every start.  These few methods serve them all:
    equality and hashing over the fields declared ``eq`` (what attrs would
    generate: same class, equal compared fields; ``span`` and ``raw`` are not
    compared), a ``__repr__`` of the same fields, and a ``__setstate__`` that
    lets pickle (and ``copy``) rebuild any node from the slot values Python's
    default ``__getstate__`` collects.
    """

    span: Span = attrs.field(default=NO_SPAN, eq=False, repr=False, kw_only=True)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        for name in _compared_fields(self.__class__):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine is not theirs and not mine == theirs:  # as tuples compare (NaN is itself)
                return False
        return True

    def __hash__(self) -> int:
        return hash((self.__class__, *_compared_values(self)))

    def __repr__(self) -> str:
        names = _compared_fields(type(self))
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in names)
        return f"{type(self).__name__}({shown})"

    def __setstate__(self, state: tuple[None, dict[str, object]]) -> None:
        for name, value in state[1].items():
            object.__setattr__(self, name, value)


# --------------------------------------------------------------------------- expressions


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class Expr(Node):
    pass


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class Literal(Expr):
    """``kind`` is one of int, uint, float, string, bytes, bool, null."""

    kind: str
    value: int | float | str | bytes | bool | None
    raw: str | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class DurationLit(Expr):
    """A duration literal such as ``1m30s``; ``nanos`` is its length."""

    nanos: int
    raw: str | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class Template(Expr):
    """An interpolated string: literal text parts and embedded expressions."""

    parts: tuple[str | Expr, ...]
    raw: str | None = attrs.field(default=None, eq=False, repr=False, kw_only=True)


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class Name(Expr):
    id: str
    leading_dot: bool = False


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class Select(Expr):
    """``operand.field``."""

    operand: Expr
    field: str


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class Index(Expr):
    """``operand[index]``."""

    operand: Expr
    index: Expr


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class Call(Expr):
    """``func(args)`` or, with a target, ``target.func(args)``."""

    func: str
    args: tuple[Expr, ...]
    target: Expr | None = None


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class Unary(Expr):
    """``op`` is ``"!"`` or ``"-"``."""

    op: str
    operand: Expr


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class Binary(Expr):
    op: str
    left: Expr
    right: Expr


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class Conditional(Expr):
    cond: Expr
    then: Expr
    orelse: Expr


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class ListLit(Expr):
    items: tuple[Expr, ...]


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class MapEntry(Node):
    """One ``key: value`` pair.

    ``key_style`` records how the key was written: ``"field"`` for a bare
    identifier (a field name, JavaScript style; ``key`` is then a string
    ``Literal``), ``"computed"`` for ``(expr)``, ``"literal"`` for any other
    expression (``"Content-Type"``, ``1``, ``true``).
    """

    key: Expr
    value: Expr
    key_style: str = "literal"


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class MapLit(Expr):
    entries: tuple[MapEntry, ...]


# --------------------------------------------------------------------------- types


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class TypeExpr(Node):
    pass


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class TypeName(TypeExpr):
    """``int``, ``User`` or ``billing.Invoice`` (``module`` set)."""

    name: str
    module: str | None = None


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class ListType(TypeExpr):
    elem: TypeExpr


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class MapType(TypeExpr):
    key: TypeExpr
    value: TypeExpr


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class FieldDecl(Node):
    name: str
    type: TypeExpr
    optional: bool = False


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class RecordType(TypeExpr):
    fields: tuple[FieldDecl, ...]


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class OptionalType(TypeExpr):
    inner: TypeExpr


# --------------------------------------------------------------------------- clauses


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class Clause(Node):
    pass


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class ValueClause(Clause):
    """A clause that is a keyword and one expression.

    ``keyword`` is one of: headers, query, json, form, body, timeout,
    idempotency_key, fallback, concurrency, url.
    """

    keyword: str
    value: Expr


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class AuthClause(Clause):
    """``auth bearer T`` | ``auth basic U, P`` | ``auth header NAME, VALUE`` |
    ``auth oauth2 client_credentials TOKEN_URL, CLIENT_ID, CLIENT_SECRET[, SCOPES]``
    (``scheme`` ``"oauth2 client_credentials"``) |
    ``auth aws_sigv4 REGION, SERVICE, ACCESS_KEY, SECRET_KEY[, SESSION_TOKEN]``, or
    ``auth VALUE[, VALUE]`` (``scheme`` None) on an OpenAPI service, whose document's
    security scheme says how the credentials are sent."""

    scheme: str | None
    args: tuple[Expr, ...]


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class Backoff(Node):
    """``backoff fixed D`` | ``linear D`` | ``exponential D [max M] [factor F]``."""

    kind: str
    delay: Expr
    max: Expr | None = None
    factor: Expr | None = None


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class RetryPolicy(Node):
    """``retry N [backoff ...] [jitter] [when EXPR]``."""

    count: Expr
    backoff: Backoff | None = None
    jitter: bool = False
    when: Expr | None = None


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class RetryClause(Clause):
    policy: RetryPolicy


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class CircuitBreakerClause(Clause):
    """``circuit_breaker N failures within W cooldown C``."""

    failures: Expr
    window: Expr
    cooldown: Expr


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class RateLimitClause(Clause):
    """``rate_limit N per D``."""

    count: Expr
    per: Expr


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class StatusRange(Node):
    """One entry of ``accept``: a status or an inclusive range ``lo..hi``."""

    low: int
    high: int


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class AcceptClause(Clause):
    ranges: tuple[StatusRange, ...]


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class OnErrorClause(Clause):
    """``on error skip`` | ``on error fail``."""

    action: str


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class CompensateClause(Clause):
    body: tuple[Stmt, ...]


# --------------------------------------------------------------------------- statements


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class Stmt(Node):
    pass


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class HttpAction(Node):
    """``METHOD [service] path``: ``service`` is None when ``target`` is a full URL."""

    method: str
    service: str | None
    target: Expr


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class Arg(Node):
    """A call argument; ``name`` is None for a positional argument."""

    name: str | None
    value: Expr


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class CallAction(Node):
    """``call [module.]flow(args)``."""

    flow: str
    args: tuple[Arg, ...]
    module: str | None = None


Action: TypeAlias = HttpAction | CallAction


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class StepStmt(Stmt):
    name_span: Span = attrs.field(default=NO_SPAN, eq=False, repr=False, kw_only=True)
    name: str
    action: Action
    result_type: TypeExpr | None = None
    clauses: tuple[Clause, ...] = ()


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class ForLoop(Node):
    """``for [index,] var in iterable [parallel [limit]] { body }``.

    Also used as an expression on the right of ``let``/``var``/assignment,
    where its body ``yield``s the collected values.
    """

    name_span: Span = attrs.field(default=NO_SPAN, eq=False, repr=False, kw_only=True)
    index_span: Span = attrs.field(default=NO_SPAN, eq=False, repr=False, kw_only=True)
    var: str
    iterable: Expr
    body: tuple[Stmt, ...]
    index_var: str | None = None
    parallel: bool = False
    limit: Expr | None = None


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class WhileLoop(Node):
    """``while cond [max N] { body }``."""

    cond: Expr
    body: tuple[Stmt, ...]
    max: Expr | None = None


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class WaitSignal(Node):
    """``wait signal "name" -> Type timeout duration``: a value the run waits for."""

    signal: str
    payload: TypeExpr
    timeout: Expr


Loop: TypeAlias = ForLoop | WhileLoop
Value: TypeAlias = Expr | ForLoop | WhileLoop | WaitSignal


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class LetStmt(Stmt):
    """``let``/``var`` ``name [: T] = value``; ``mutable`` for ``var``."""

    name_span: Span = attrs.field(default=NO_SPAN, eq=False, repr=False, kw_only=True)
    name: str
    value: Value
    annotation: TypeExpr | None = None
    mutable: bool = False


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class AssignStmt(Stmt):
    name: str
    value: Value


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class SleepStmt(Stmt):
    duration: Expr


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class IfArm(Node):
    cond: Expr
    body: tuple[Stmt, ...]


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class IfStmt(Stmt):
    """``if c1 {..} else if c2 {..} else {..}``: one arm per condition."""

    arms: tuple[IfArm, ...]
    orelse: tuple[Stmt, ...] | None = None


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class LoopStmt(Stmt):
    """A loop used as a statement."""

    loop: Loop


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class Branch(Node):
    """One branch of ``parallel``: ``grouped`` when written ``branch { ... }``."""

    body: tuple[Stmt, ...]
    grouped: bool = False


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class ParallelStmt(Stmt):
    branches: tuple[Branch, ...]


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class CatchClause(Node):
    """``catch [name] [when cond] {..}``: ``name`` None binds ``error``."""

    name_span: Span = attrs.field(default=NO_SPAN, eq=False, repr=False, kw_only=True)
    name: str | None
    body: tuple[Stmt, ...]
    when: Expr | None = None


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class TryStmt(Stmt):
    """``try {..} catch ... {..}* [finally {..}]``: the first matching clause runs."""

    body: tuple[Stmt, ...]
    catches: tuple[CatchClause, ...] = ()
    finally_body: tuple[Stmt, ...] | None = None


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class RetryStmt(Stmt):
    policy: RetryPolicy
    body: tuple[Stmt, ...]


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class TimeoutStmt(Stmt):
    duration: Expr
    body: tuple[Stmt, ...]


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class LogStmt(Stmt):
    value: Expr


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class AssertStmt(Stmt):
    cond: Expr
    message: Expr | None = None


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class FailStmt(Stmt):
    """``fail value`` or ``fail kind "message" [{status: N, data: D}]``.

    With ``kind`` None, ``value`` is the message (or payload, or a caught error
    to re-raise); otherwise it is the message string and ``kind`` names the error.
    """

    value: Expr
    kind: str | None = None
    status: Expr | None = None
    data: Expr | None = None


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class ReturnStmt(Stmt):
    value: Value | None = None


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class BreakStmt(Stmt):
    pass


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class ContinueStmt(Stmt):
    pass


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class YieldStmt(Stmt):
    value: Expr


# --------------------------------------------------------------------------- declarations


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class Decl(Node):
    pass


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class ImportDecl(Decl):
    name_span: Span = attrs.field(default=NO_SPAN, eq=False, repr=False, kw_only=True)
    path: str
    alias: str | None = None


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class TypeDecl(Decl):
    name_span: Span = attrs.field(default=NO_SPAN, eq=False, repr=False, kw_only=True)
    name: str
    type: TypeExpr


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class ConstDecl(Decl):
    name_span: Span = attrs.field(default=NO_SPAN, eq=False, repr=False, kw_only=True)
    name: str
    value: Expr
    annotation: TypeExpr | None = None


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class ServiceDecl(Decl):
    """``service NAME BASE_URL {...}``, ``service NAME openapi "doc.yaml" {...}`` or
    ``service NAME grpc TARGET proto "file.proto" {...}``.

    An OpenAPI service has ``base_url`` None (the document's ``servers`` give it,
    a ``url`` clause overrides it) and ``openapi`` the document's path as written,
    relative to the declaring file; ``openapi_span`` is where that path is written.
    A gRPC service has ``base_url`` None, ``grpc`` its target (``"host:port"``, any
    string expression) and ``proto`` its ``.proto`` file's path (``proto_span``).
    """

    name_span: Span = attrs.field(default=NO_SPAN, eq=False, repr=False, kw_only=True)
    openapi_span: Span = attrs.field(default=NO_SPAN, eq=False, repr=False, kw_only=True)
    proto_span: Span = attrs.field(default=NO_SPAN, eq=False, repr=False, kw_only=True)
    name: str
    base_url: Expr | None
    grpc: Expr | None = None  # (before the clauses: children are in source order)
    clauses: tuple[Clause, ...] = ()
    openapi: str | None = None
    proto: str | None = None

    @property
    def kind(self) -> str:
        """``http``, ``openapi`` or ``grpc``."""
        if self.grpc is not None:
            return "grpc"
        return "openapi" if self.openapi is not None else "http"


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class Param(Node):
    name_span: Span = attrs.field(default=NO_SPAN, eq=False, repr=False, kw_only=True)
    name: str
    type: TypeExpr
    default: Expr | None = None


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class FlowDecl(Decl):
    name_span: Span = attrs.field(default=NO_SPAN, eq=False, repr=False, kw_only=True)
    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    result: TypeExpr | None = None
    clauses: tuple[Clause, ...] = ()


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class Comment(Node):
    """A ``#`` comment; kept beside the tree for the formatter."""

    text: str


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class Module(Node):
    """A parsed file: its declarations, plus the comments found in it."""

    decls: tuple[Decl, ...]
    comments: tuple[Comment, ...] = attrs.field(default=(), eq=False, repr=False)


@attrs.frozen(slots=True, eq=False, repr=False, getstate_setstate=False, match_args=False)
class WorkflowModule(Module):
    """A checked Serverless Workflow document: no declarations, by design (its own
    interpreter runs it, ``runtime/serverless.py``), so not an empty file."""


def name_span_of(node: Node) -> Span:
    """Where a declaration's name is written (its whole span if unknown)."""
    span: Span = getattr(node, "name_span", NO_SPAN)
    return span if span is not NO_SPAN and span.line else node.span


_COMPARED_FIELDS: dict[type, tuple[str, ...]] = {}


def _compared_fields(cls: type) -> tuple[str, ...]:
    """The fields of ``cls`` that equality, hashing and ``repr`` look at."""
    names = _COMPARED_FIELDS.get(cls)
    if names is None:
        names = tuple(f.name for f in attrs.fields(cls) if f.eq)
        _COMPARED_FIELDS[cls] = names
    return names


def _compared_values(node: Node) -> tuple[object, ...]:
    return tuple([getattr(node, name) for name in _compared_fields(type(node))])


# --------------------------------------------------------------------------- traversal

_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}
_NOT_CHILDREN = frozenset({"span", "raw", "comments"})


def _child_fields(cls: type) -> tuple[str, ...]:
    names = _CHILD_FIELDS.get(cls)
    if names is None:
        names = tuple(f.name for f in attrs.fields(cls) if f.name not in _NOT_CHILDREN)
        _CHILD_FIELDS[cls] = names
    return names


def iter_children(node: Node) -> Iterator[Node]:
    """The direct child nodes of ``node``, in source order."""
    for name in _child_fields(type(node)):
        value = getattr(node, name)
        if isinstance(value, Node):
            yield value
        elif isinstance(value, tuple):
            for item in value:
                if isinstance(item, Node):
                    yield item


def walk(node: Node) -> Iterator[Node]:
    """Every node under ``node`` (itself included), depth first, without recursion."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        children = list(iter_children(current))
        children.reverse()
        stack.extend(children)
