"""Hypothesis strategies for `.flow` syntax trees.

Every tree generated here is one the parser can produce, so that
``parse(print(tree)) == tree`` must hold for all of them.  That rules out a
few trees that the AST classes can represent but the syntax cannot:

* Names of bindings, steps, flows, services, types, parameters and loop
  variables, and names used in expressions, are identifiers that are not
  reserved words (``keywords.RESERVED``).  The soft keywords (``max``,
  ``timeout``, ``query``, ...) *are* generated, often, because they are where
  the contextual lexer is fragile (an assignment ``max = 1`` after a
  statement that ends with an expression used to fail).
* Field names (``x.field``, method names, record type fields) may be any
  identifier, keywords included; a bare map key (``key_style="field"``) may
  not be ``true``/``false``/``null``, which would read as literal keys.
* Number, duration and float literals are never negative (``-5`` reads as
  ``Unary("-", Literal(5))``) and floats are never NaN; infinity is allowed
  (the printer writes ``1e999``).
* A ``Template`` has at least one interpolated expression and no two adjacent
  or empty text parts (the parser merges text).  A string token ends at the
  first unescaped quote of its own kind, so a string inside ``${...}`` uses the
  other kind, and a string inside an interpolation of a template that is
  itself interpolated has no quote kind left: no string, bytes or template
  literal sits inside two templates.
* A literal-style map key is a literal or a negated int/float literal.
* A service step's path is a string literal or a template; a ``parallel N``
  limit is an int, a name, a select chain or any other expression (printed in
  parentheses); a bare ``return`` is only the last statement of a block or
  the last branch of a ``parallel``; a non-grouped parallel branch is one
  statement;
  an optional type is never optional again (``T??`` does not parse).

Strategy builders are cached (``functools.cache``), and the nested ones
(``_compact``) draw through a composite with a one-line repr: building them
once keeps generation fast, and hypothesis's reports stay short.

Sizes are kept small (``max_leaves``, ``depth``) so that a few hundred
examples per property run in seconds.  ``expressions(leaves=...)`` lets the
checker and evaluator tests grow expressions from their own leaves.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import strategies as st

from flowc.compiler import ast
from flowc.grammar.keywords import (
    CLAUSE_KEYWORDS,
    HTTP_METHODS,
    RESERVED,
    STATEMENT_CLAUSE_KEYWORDS,
)

SOFT_KEYWORDS = STATEMENT_CLAUSE_KEYWORDS + CLAUSE_KEYWORDS
BINARY_OPERATORS = (
    "??",
    "||",
    "&&",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "+",
    "-",
    "*",
    "/",
    "%",
)
VALUE_CLAUSE_KEYWORDS = (
    "headers",
    "query",
    "json",
    "form",
    "body",
    "timeout",
    "idempotency_key",
    "fallback",
    "concurrency",
    "max_body",
)

_identifier = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,7}", fullmatch=True)

# --------------------------------------------------------------------------- compact strategies

_Builder = TypeVar("_Builder", bound=Callable[..., st.SearchStrategy[Any]])


@st.composite
def _drawn(draw: st.DrawFn, label: str, make: Callable[[], st.SearchStrategy[Any]]) -> Any:
    return draw(make())


def _compact(builder: _Builder) -> _Builder:
    """Cache a strategy builder and give its strategies a one-line repr.

    Hypothesis puts a strategy's repr in events and shrinking messages; for
    these mutually nested strategies the full repr runs to megabytes.
    """
    cached = functools.cache(builder)

    @functools.wraps(builder)
    def wrapper(*args: Any, **kwargs: Any) -> st.SearchStrategy[Any]:
        values = [*args, *kwargs.values()]
        shown = ", ".join(repr(v) if isinstance(v, int) else "..." for v in values)
        return _drawn(f"{builder.__name__}({shown})", lambda: cached(*args, **kwargs))

    return functools.cache(wrapper)  # type: ignore[return-value]


# --------------------------------------------------------------------------- names


@functools.cache
def names() -> st.SearchStrategy[str]:
    """Identifiers that can name a binding or appear as an expression name."""
    words = st.sampled_from(SOFT_KEYWORDS + HTTP_METHODS + ("type_", "size", "x", "items"))
    return st.one_of(_identifier, words).filter(lambda n: n not in RESERVED)


@functools.cache
def field_names() -> st.SearchStrategy[str]:
    """Identifiers after ``.`` and in record types: keywords included."""
    return st.one_of(_identifier, st.sampled_from(sorted(RESERVED) + list(SOFT_KEYWORDS)))


@functools.cache
def map_field_keys() -> st.SearchStrategy[str]:
    return field_names().filter(lambda n: n not in ("true", "false", "null"))


# --------------------------------------------------------------------------- literals


def _non_negative_float(value: float) -> bool:
    return not math.isnan(value) and math.copysign(1.0, value) > 0


@functools.cache
def number_literals() -> st.SearchStrategy[ast.Literal]:
    floats = st.floats(min_value=0.0, allow_nan=False).filter(_non_negative_float)
    return st.one_of(
        st.integers(0, 2**70).map(lambda v: ast.Literal("int", v)),
        st.integers(0, 2**64).map(lambda v: ast.Literal("uint", v)),
        floats.map(lambda v: ast.Literal("float", v)),
    )


@functools.cache
def durations() -> st.SearchStrategy[ast.DurationLit]:
    return st.integers(0, 10**16).map(ast.DurationLit)


@functools.cache
def string_literals() -> st.SearchStrategy[ast.Literal]:
    return st.one_of(
        st.text(max_size=12).map(lambda v: ast.Literal("string", v)),
        st.binary(max_size=8).map(lambda v: ast.Literal("bytes", v)),
    )


@functools.cache
def literals() -> st.SearchStrategy[ast.Expr]:
    return st.one_of(
        number_literals(),
        string_literals(),
        durations(),
        st.booleans().map(lambda v: ast.Literal("bool", v)),
        st.just(ast.Literal("null", None)),
    )


@functools.cache
def expression_leaves() -> st.SearchStrategy[ast.Expr]:
    return st.one_of(
        names().map(ast.Name),
        names().map(lambda n: ast.Name(n, leading_dot=True)),
        literals(),
    )


# --------------------------------------------------------------------------- expressions


@_compact
def expressions(
    leaves: st.SearchStrategy[ast.Expr] | None = None,
    max_leaves: int = 10,
    maps: bool = True,
) -> st.SearchStrategy[ast.Expr]:
    """Expressions of bounded size; ``maps=False`` leaves out map literals.

    ``leaves`` replaces the default leaves (names and literals of every kind).
    """
    base = leaves if leaves is not None else expression_leaves()
    return st.recursive(base, lambda inner: _compound(inner, maps), max_leaves=max_leaves)


def _compound(children: st.SearchStrategy[ast.Expr], maps: bool) -> st.SearchStrategy[ast.Expr]:
    inner = _drawn("subexpression", lambda: children)  # keeps nested reprs short
    args = st.lists(inner, max_size=3).map(tuple)
    options = [
        st.builds(ast.Binary, st.sampled_from(BINARY_OPERATORS), inner, inner),
        st.builds(ast.Unary, st.sampled_from(("!", "-")), inner),
        st.builds(ast.Conditional, inner, inner, inner),
        st.builds(ast.Select, inner, field_names()),
        st.builds(ast.Index, inner, inner),
        st.builds(ast.Call, names(), args),
        st.builds(ast.Call, names().map(lambda n: "." + n), args),
        st.builds(ast.Call, field_names(), args, inner),
        st.lists(inner, max_size=3).map(lambda items: ast.ListLit(tuple(items))),
        templates(inner),
    ]
    if maps:
        options.append(map_literals(inner))
    return st.one_of(options)


def templates(inner: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Template]:
    """Interpolated strings; no string literal ends up inside two of them."""
    part = st.one_of(st.text(min_size=1, max_size=6), inner)
    return (
        st.lists(part, min_size=1, max_size=4)
        .map(_template)
        .filter(lambda t: any(not isinstance(p, str) for p in t.parts))
        .filter(_strings_writable)
    )


def _template(parts: list[str | ast.Expr]) -> ast.Template:
    merged: list[str | ast.Expr] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return ast.Template(tuple(merged))


def _is_stringish(node: ast.Node) -> bool:
    if isinstance(node, ast.Literal):
        return node.kind in ("string", "bytes")
    return isinstance(node, ast.Template)


def _strings_writable(template: ast.Template) -> bool:
    """No string-like literal sits inside a template inside ``template``."""
    for part in template.parts:
        if isinstance(part, str):
            continue
        for node in ast.walk(part):
            if isinstance(node, ast.Template) and any(
                _is_stringish(inner)
                for embedded in node.parts
                if not isinstance(embedded, str)
                for inner in ast.walk(embedded)
            ):
                return False
    return True


def map_literals(inner: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.MapLit]:
    negative = st.one_of(st.integers(0, 1000), st.floats(0, 1e6).filter(_non_negative_float))
    literal_keys = st.one_of(
        literals(),
        negative.map(
            lambda v: ast.Unary("-", ast.Literal("int" if isinstance(v, int) else "float", v))
        ),
    )
    entry = st.one_of(
        map_field_keys()
        .map(lambda k: ast.Literal("string", k))
        .flatmap(lambda key: inner.map(lambda value: ast.MapEntry(key, value, "field"))),
        st.builds(ast.MapEntry, literal_keys, inner, st.just("literal")),
        st.builds(ast.MapEntry, inner, inner, st.just("computed")),
    )
    return st.lists(entry, max_size=3).map(lambda entries: ast.MapLit(tuple(entries)))


# --------------------------------------------------------------------------- types


@_compact
def types(max_leaves: int = 5) -> st.SearchStrategy[ast.TypeExpr]:
    names_ = st.one_of(
        names().map(ast.TypeName),
        st.builds(ast.TypeName, names(), names()),
    )
    return st.recursive(names_, _compound_type, max_leaves=max_leaves)


def _compound_type(
    children: st.SearchStrategy[ast.TypeExpr],
) -> st.SearchStrategy[ast.TypeExpr]:
    inner = _drawn("subtype", lambda: children)
    field = st.builds(ast.FieldDecl, field_names(), inner, st.booleans())
    return st.one_of(
        inner.map(ast.ListType),
        st.builds(ast.MapType, inner, inner),
        st.lists(field, max_size=3).map(lambda fields: ast.RecordType(tuple(fields))),
        inner.filter(lambda t: not isinstance(t, ast.OptionalType)).map(ast.OptionalType),
    )


# --------------------------------------------------------------------------- clauses


@functools.cache
def _small_expressions() -> st.SearchStrategy[ast.Expr]:
    return expressions(max_leaves=4)


@_compact
def retry_policies() -> st.SearchStrategy[ast.RetryPolicy]:
    expr = _small_expressions()
    optional = st.none() | expr
    backoff = st.one_of(
        st.none(),
        st.builds(ast.Backoff, st.sampled_from(("fixed", "linear")), expr),
        st.builds(ast.Backoff, st.just("exponential"), expr, optional, optional),
    )
    return st.builds(ast.RetryPolicy, expr, backoff, st.booleans(), optional)


@functools.cache
def status_ranges() -> st.SearchStrategy[ast.StatusRange]:
    pair = st.tuples(st.integers(100, 599), st.integers(100, 599))
    return pair.map(lambda p: ast.StatusRange(min(p), max(p)))


@_compact
def clauses(depth: int = 1) -> st.SearchStrategy[ast.Clause]:
    expr = _small_expressions()
    options = [
        st.builds(ast.ValueClause, st.sampled_from(VALUE_CLAUSE_KEYWORDS), expr),
        st.builds(
            ast.AuthClause,
            st.sampled_from(
                ("bearer", "basic", "header", "oauth2 client_credentials", "aws_sigv4")
            ),
            st.lists(expr, min_size=1, max_size=5).map(tuple),
        ),
        retry_policies().map(ast.RetryClause),
        st.builds(ast.CircuitBreakerClause, expr, expr, expr),
        st.builds(ast.RateLimitClause, expr, expr),
        st.lists(status_ranges(), min_size=1, max_size=3).map(
            lambda ranges: ast.AcceptClause(tuple(ranges))
        ),
        st.sampled_from(("skip", "fail")).map(ast.OnErrorClause),
    ]
    if depth > 0:
        options.append(blocks(depth - 1).map(ast.CompensateClause))
    return st.one_of(options)


# --------------------------------------------------------------------------- statements


@_compact
def blocks(depth: int = 2, max_size: int = 3) -> st.SearchStrategy[tuple[ast.Stmt, ...]]:
    """A ``{ ... }`` body: statements, maybe ending in a bare ``return``."""
    body = st.lists(statements(depth), max_size=max_size)
    bare_return = st.booleans().map(lambda b: (ast.ReturnStmt(None),) if b else ())
    return st.tuples(body, bare_return).map(lambda p: (*p[0], *p[1]))


@_compact
def statements(depth: int = 2) -> st.SearchStrategy[ast.Stmt]:
    simple = _simple_statements()
    if depth <= 0:
        return simple
    return st.one_of(simple, _block_statements(depth - 1))


@functools.cache
def _values(depth: int) -> st.SearchStrategy[ast.Value]:
    expr = _small_expressions()
    if depth <= 0:
        return expr
    return st.one_of(expr, expr, for_loops(depth), while_loops(depth), _waits())


@functools.cache
def _waits() -> st.SearchStrategy[ast.WaitSignal]:
    """``wait signal "name" -> T timeout e`` (any string prints back; these are valid)."""
    signal = st.from_regex(r"[A-Za-z0-9_.\-]{1,20}", fullmatch=True)
    return st.builds(ast.WaitSignal, signal, types(3), _small_expressions())


@functools.cache
def _simple_statements() -> st.SearchStrategy[ast.Stmt]:
    expr = _small_expressions()
    optional_type = st.none() | types(3)
    return st.one_of(
        st.builds(ast.LetStmt, names(), expr, optional_type, st.booleans()),
        st.builds(ast.AssignStmt, names(), expr),
        steps(),
        st.builds(ast.SleepStmt, expr),
        st.builds(ast.LogStmt, expr),
        st.builds(ast.AssertStmt, expr, st.none() | expr),
        st.builds(ast.FailStmt, expr),
        st.builds(
            lambda kind, message, status, data: ast.FailStmt(message, kind, status, data),
            names(),
            string_literals(),
            st.none() | expr,
            st.none() | expr,
        ),
        st.builds(ast.ReturnStmt, expr),
        st.just(ast.BreakStmt()),
        st.just(ast.ContinueStmt()),
        st.builds(ast.YieldStmt, expr),
    )


@functools.cache
def _block_statements(depth: int) -> st.SearchStrategy[ast.Stmt]:
    expr = _small_expressions()
    block = blocks(depth)
    arms = st.lists(st.builds(ast.IfArm, expr, block), min_size=1, max_size=3).map(tuple)
    return st.one_of(
        st.builds(ast.LetStmt, names(), _values(depth), st.none(), st.booleans()),
        st.builds(ast.AssignStmt, names(), _values(depth)),
        st.builds(ast.IfStmt, arms, st.none() | block),
        st.one_of(for_loops(depth), while_loops(depth)).map(ast.LoopStmt),
        _parallel_statements(depth),
        _try_statements(block),
        st.builds(ast.RetryStmt, retry_policies(), block),
        st.builds(ast.TimeoutStmt, expr, block),
        st.builds(ast.ReturnStmt, _values(depth)),
        st.builds(
            ast.StepStmt,
            names(),
            actions(),
            st.none(),
            st.lists(clauses(depth), max_size=2).map(tuple),
        ),
    )


@functools.cache
def _parallel_statements(depth: int) -> st.SearchStrategy[ast.ParallelStmt]:
    bare_return = st.booleans().map(lambda b: (ast.Branch((ast.ReturnStmt(None),)),) if b else ())
    branches = st.tuples(st.lists(_branches(depth), max_size=3), bare_return)
    return branches.map(lambda p: ast.ParallelStmt((*p[0], *p[1])))


def _branches(depth: int) -> st.SearchStrategy[ast.Branch]:
    return st.one_of(
        statements(depth).map(lambda s: ast.Branch((s,))),
        blocks(depth).map(lambda body: ast.Branch(body, grouped=True)),
    )


def _try_statements(block: st.SearchStrategy[tuple[ast.Stmt, ...]]) -> st.SearchStrategy[ast.Stmt]:
    clause = st.builds(
        ast.CatchClause,
        st.none() | names().filter(lambda n: n != "when"),
        block,
        st.none() | _small_expressions(),
    )
    return st.builds(ast.TryStmt, block, st.lists(clause, max_size=3).map(tuple), st.none() | block)


@_compact
def for_loops(depth: int) -> st.SearchStrategy[ast.ForLoop]:
    expr = _small_expressions()
    limit_shapes = st.one_of(
        st.integers(0, 100).map(lambda v: ast.Literal("int", v)),
        names().map(ast.Name),
        st.builds(ast.Select, names().map(ast.Name), field_names()),
        expr,
    )
    parallel = st.one_of(
        st.just((False, None)),
        st.tuples(st.just(True), st.none() | limit_shapes),
    )
    return st.builds(
        lambda var, it, body, index, par: ast.ForLoop(var, it, body, index, par[0], par[1]),
        names(),
        expr,
        blocks(depth),
        st.none() | names(),
        parallel,
    )


@_compact
def while_loops(depth: int) -> st.SearchStrategy[ast.WhileLoop]:
    expr = _small_expressions()
    return st.builds(ast.WhileLoop, expr, blocks(depth), st.none() | expr)


@_compact
def actions() -> st.SearchStrategy[ast.Action]:
    methods = st.sampled_from(HTTP_METHODS)
    expr = _small_expressions()
    paths = st.one_of(
        st.text(max_size=8).map(lambda v: ast.Literal("string", v)),
        templates(expressions(max_leaves=3, maps=False)),
    )
    arg = st.builds(ast.Arg, st.none() | names(), expr)
    return st.one_of(
        st.builds(ast.HttpAction, methods, names(), paths),
        st.builds(ast.HttpAction, methods, st.none(), expr),
        st.builds(
            ast.CallAction, names(), st.lists(arg, max_size=3).map(tuple), st.none() | names()
        ),
        st.builds(  # a gRPC method of a named proto service: `call billing.Ledger.Record()`
            ast.CallAction,
            st.tuples(names(), names()).map(".".join),
            st.lists(arg, max_size=2).map(tuple),
            names(),
        ),
    )


@_compact
def steps() -> st.SearchStrategy[ast.StepStmt]:
    return st.builds(
        ast.StepStmt,
        names(),
        actions(),
        st.none() | types(3),
        st.lists(clauses(0), max_size=3).map(tuple),
    )


# --------------------------------------------------------------------------- declarations


@_compact
def flows(depth: int = 2) -> st.SearchStrategy[ast.FlowDecl]:
    param = st.builds(ast.Param, names(), types(3), st.none() | _small_expressions())
    return st.builds(
        ast.FlowDecl,
        names(),
        st.lists(param, max_size=3).map(tuple),
        blocks(depth, max_size=4),
        st.none() | types(4),
        st.lists(clauses(0), max_size=2).map(tuple),
    )


@_compact
def declarations(depth: int = 2) -> st.SearchStrategy[ast.Decl]:
    path = st.text(max_size=12)
    return st.one_of(
        st.builds(ast.ImportDecl, path, st.none() | names()),
        st.builds(ast.TypeDecl, names(), types()),
        st.builds(ast.ConstDecl, names(), _small_expressions(), st.none() | types(3)),
        st.builds(
            ast.ServiceDecl,
            names(),
            _small_expressions(),
            clauses=st.lists(clauses(1), max_size=3).map(tuple),
        ),
        st.builds(
            ast.ServiceDecl,
            names(),
            st.none(),
            clauses=st.lists(clauses(1), max_size=2).map(tuple),
            openapi=path,
        ),
        st.builds(
            ast.ServiceDecl,
            names(),
            st.none(),
            grpc=_small_expressions(),
            clauses=st.lists(clauses(1), max_size=2).map(tuple),
            proto=path,
        ),
        flows(depth),
    )


@_compact
def modules(depth: int = 2, max_decls: int = 4) -> st.SearchStrategy[ast.Module]:
    return st.lists(declarations(depth), max_size=max_decls).map(lambda d: ast.Module(tuple(d)))
