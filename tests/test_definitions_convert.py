"""Converting between `.flow` source and the step-list form, and round trips through it.

``read(print(tree)) == tree`` for every tree within the form's reach, written as
YAML and as JSON: generated trees (hypothesis: ``reachable_modules`` below builds
the trees the form can hold, with expressions from ``tests/strategies.py``), every
example definition, and every `.flow` example that the form can hold (their
clauses and declarations put in the form's fixed order, which has no meaning).
Constructs out of reach are reported with a position, never dropped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowc.cli import main
from flowc.compiler import ast
from flowc.compiler.definitions import read_definition, schema_text
from flowc.compiler.definitions.convert import convert
from flowc.compiler.definitions.emit import to_json, to_yaml
from flowc.compiler.definitions.steplist_print import print_steplist
from flowc.compiler.parser import parse_module
from flowc.grammar.keywords import HTTP_METHODS
from tests import strategies

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DEFINITIONS = sorted(EXAMPLES.glob("*.json")) + sorted(EXAMPLES.glob("*.yaml"))
FLOW_EXAMPLES = sorted(EXAMPLES.glob("*.flow"))
OUT_OF_REACH = {
    "error_handling.flow": "a `try` statement",
    "grpc_billing.flow": "a `grpc` service",
    "oauth_pagination.flow": "`auth oauth2 client_credentials` with 4 value(s)",
    "openapi_users.flow": "a `openapi` service",
    "pagination.flow": "a `while` loop",
    "timeouts.flow": "a `try` statement",
    "typed_failures.flow": "a second flow",
}


def reread(module: ast.Module, kind: str) -> ast.Module:
    data, problems = print_steplist(module)
    assert data is not None, [f"{d.span} {d.message}" for d in problems]
    text = to_yaml(data) if kind == "yaml" else to_json(data)
    back, diagnostics = read_definition(f"converted.{kind}", text)
    assert back is not None, (text, [f"{d.span} {d.code} {d.message}" for d in diagnostics])
    return back


# --------------------------------------------------------------------------- canonical order

_REQUEST_CLAUSES = {
    "query",
    "headers",
    "form",
    "json",
    "body",
    "auth",
    "timeout",
    "idempotency_key",
}


def canonical(module: ast.Module) -> ast.Module:
    """``module`` with declarations and step clauses in the step-list form's order."""
    from flowc.compiler.clausecheck import clause_keyword
    from flowc.compiler.definitions.embedded import transform

    def change(node: ast.Node) -> ast.Node | None:
        if isinstance(node, ast.StepStmt):
            if isinstance(node.action, ast.HttpAction):
                first = [c for c in node.clauses if clause_keyword(c) in _REQUEST_CLAUSES]
            else:
                first = [c for c in node.clauses if clause_keyword(c) == "timeout"]
            rest = [c for c in node.clauses if c not in first]
            return ast.StepStmt(node.name, node.action, node.result_type, (*first, *rest))
        return None

    order = (ast.ImportDecl, ast.TypeDecl, ast.ConstDecl, ast.ServiceDecl, ast.FlowDecl)
    decls = sorted(module.decls, key=lambda d: order.index(type(d)))
    rebuilt = transform(ast.Module(tuple(decls)), change)
    assert isinstance(rebuilt, ast.Module)
    return rebuilt


# --------------------------------------------------------------------------- examples


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda p: p.name)
@pytest.mark.parametrize("kind", ["yaml", "json"])
def test_example_definitions_round_trip(path: Path, kind: str) -> None:
    module, diagnostics = read_definition(str(path), path.read_text(encoding="utf-8"))
    assert module is not None, diagnostics
    assert reread(module, kind) == module


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda p: p.name)
def test_example_definitions_through_flow_source_and_back(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    source, problems = convert(path.name, text, "flow")
    assert source is not None, problems
    original, _ = read_definition(path.name, text)
    assert parse_module(source) == original
    again, _ = convert("again.flow", source, "yaml")
    assert again is not None
    assert read_definition("again.yaml", again)[0] == original


@pytest.mark.parametrize("path", FLOW_EXAMPLES, ids=lambda p: p.name)
def test_flow_examples_round_trip_or_say_why_not(path: Path) -> None:
    module = parse_module(path.read_text(encoding="utf-8"), path.name)
    data, problems = print_steplist(module)
    if path.name in OUT_OF_REACH:
        assert data is None
        assert any(OUT_OF_REACH[path.name] in d.message for d in problems), problems
        assert all(d.code == "E0510" and d.span.file == path.name for d in problems)
        return
    assert data is not None, [f"{d.span} {d.message}" for d in problems]
    for kind in ("yaml", "json"):
        assert reread(module, kind) == canonical(module)


def test_out_of_reach_constructs_are_reported_where_they_are() -> None:
    source = """\
const LIMIT: int = 3
flow f(n: int) {
    try { sleep 1s } catch { sleep 2s }
    while n > 0 max LIMIT { sleep 1s }
    timeout 1s { sleep 1s sleep 2s }
    step s = GET "http://x/" { circuit_breaker 1 failures within 1s cooldown 1s }
}
flow g() {}
"""
    data, problems = print_steplist(parse_module(source, "f.flow"))
    assert data is None
    suffix = " cannot be written in the step-list form"
    found = [(d.code, d.span.line, d.span.col, d.message.removesuffix(suffix)) for d in problems]
    assert found == [
        ("E0510", 8, 1, "a second flow (a definition holds one)"),
        ("E0510", 1, 1, "a typed `const`"),
        ("E0510", 3, 5, "a `try` statement"),
        ("E0510", 4, 5, "a `while` loop"),
        ("E0510", 5, 5, "a `timeout` block around several statements"),
        ("E0510", 6, 32, "a `circuit_breaker` clause on a step"),
    ]


def test_names_the_form_reserves_are_reported() -> None:
    for source, construct in (
        ('flow f() { step s = GET "http://x/" return s.response }', "a field `response`"),
        ("flow f(input: int) { return input }", "a parameter named `input`"),
        ("flow f() { let input = 1 return input }", "the name `input`"),
    ):
        data, problems = print_steplist(parse_module(source, "f.flow"))
        assert data is None and construct in problems[0].message, (source, problems)


def test_descriptions_travel_as_comments() -> None:
    text = "name: f\ndescription: |\n  First line.\n  Second line.\nsteps: []\n"
    source, _ = convert("f.yaml", text, "flow")
    assert source == "# First line.\n# Second line.\nflow f() {}\n"
    yaml_text, _ = convert("f.flow", source, "yaml")
    assert yaml_text is not None and "description: |-\n  First line.\n  Second line.\n" in yaml_text
    json_text, _ = convert("f.yaml", text, "json")
    assert (
        json_text is not None
        and json.loads(json_text)["description"] == "First line.\nSecond line."
    )


# --------------------------------------------------------------------------- the command


def flowc(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_convert_command_writes_stdout_or_a_file(tmp_path: Path) -> None:
    result = flowc("convert", str(EXAMPLES / "user_registration_flow.json"), "--to", "yaml")
    assert result.exit_code == 0, result.output
    assert "condition: ${check_user.response.exists == false}" in result.stdout
    target = tmp_path / "out.json"
    result = flowc(
        "convert", str(EXAMPLES / "order_fulfilment.flow.yaml"), "--to", "json", "-o", str(target)
    )
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads(target.read_text())["name"] == "fulfil_order"


def test_convert_command_reports_and_writes_nothing_out_of_reach() -> None:
    result = flowc("convert", str(EXAMPLES / "pagination.flow"), "--to", "json")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "error[E0510]: a `while` loop cannot be written in the step-list form" in result.stderr
    assert "nothing written" in result.stderr


def test_convert_command_usage_errors(tmp_path: Path) -> None:
    assert flowc("convert", str(tmp_path / "missing.yaml"), "--to", "flow").exit_code == 2
    assert flowc("convert", str(EXAMPLES / "hello.flow"), "--to", "xml").exit_code == 2


def test_convert_of_a_broken_definition_shows_its_errors() -> None:
    result = CliRunner().invoke(main, ["convert", "-", "--to", "flow"])
    assert result.exit_code == 2  # `-` is not a file


def test_schema_command_prints_the_shipped_schema() -> None:
    result = flowc("schema")
    assert result.exit_code == 0
    assert result.stdout == schema_text()
    assert json.loads(result.stdout)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


# --------------------------------------------------------------------------- generated programs

_names = strategies.names().filter(lambda n: n != "input")
_fields = strategies.field_names().filter(lambda n: n != "response")


def _no_reserved_names(expr: ast.Expr) -> bool:
    return not any(
        (isinstance(n, ast.Name) and n.id == "input")
        or (isinstance(n, ast.Select) and n.field == "response")
        for n in ast.walk(expr)
    )


_expressions = strategies.expressions(max_leaves=4).filter(_no_reserved_names)
_types = strategies.types(3)
_durations = st.one_of(strategies.durations(), _expressions)


def _unique_clauses(
    options: list[st.SearchStrategy[ast.Clause]],
) -> st.SearchStrategy[tuple[ast.Clause, ...]]:
    """At most one clause of each kind, in the order given (the form's order)."""
    chosen = [st.one_of(st.none(), option) for option in options]
    return st.tuples(*chosen).map(lambda found: tuple(c for c in found if c is not None))


def _value_clause(
    keyword: str, values: st.SearchStrategy[ast.Expr] = _expressions
) -> st.SearchStrategy[ast.Clause]:
    return values.map(lambda v: ast.ValueClause(keyword, v))


_backoffs = st.one_of(
    st.builds(ast.Backoff, st.sampled_from(("fixed", "linear")), _durations),
    st.builds(
        ast.Backoff,
        st.just("exponential"),
        _durations,
        st.none() | _durations,
        st.none() | _expressions,
    ),
)
_policies = st.builds(
    ast.RetryPolicy, _expressions, st.none() | _backoffs, st.booleans(), st.none() | _expressions
)
_auth = st.one_of(
    _expressions.map(lambda v: ast.AuthClause("bearer", (v,))),
    st.tuples(st.sampled_from(("basic", "header")), _expressions, _expressions).map(
        lambda t: ast.AuthClause(t[0], (t[1], t[2]))
    ),
)
_accept = st.lists(strategies.status_ranges(), min_size=1, max_size=3).map(
    lambda r: ast.AcceptClause(tuple(r))
)
_on_error = st.sampled_from(("skip", "fail")).map(ast.OnErrorClause)


def _step_clauses(
    compensations: st.SearchStrategy[tuple[ast.Stmt, ...]] | None, call: bool
) -> st.SearchStrategy[tuple[ast.Clause, ...]]:
    resilience: list[st.SearchStrategy[ast.Clause]] = [
        _policies.map(ast.RetryClause),
        _on_error,
        _value_clause("fallback"),
    ]
    if compensations is not None:
        resilience.append(compensations.map(ast.CompensateClause))
    if call:
        return _unique_clauses([_value_clause("timeout", _durations), *resilience])
    request = [_value_clause(keyword) for keyword in ("query", "headers", "form", "json", "body")]
    request += [_auth, _value_clause("timeout", _durations), _value_clause("idempotency_key")]
    return _unique_clauses([*request, _accept, *resilience])


def _steps(
    compensations: st.SearchStrategy[tuple[ast.Stmt, ...]] | None,
) -> st.SearchStrategy[ast.Stmt]:
    paths = st.one_of(st.text(max_size=6).map(lambda v: ast.Literal("string", v)), _expressions)
    http = st.builds(
        ast.HttpAction,
        st.sampled_from(HTTP_METHODS),
        st.none() | _names,
        paths,
    )
    named = st.lists(st.tuples(_names, _expressions), max_size=3, unique_by=lambda a: a[0]).map(
        lambda args: tuple(ast.Arg(n, v) for n, v in args)
    )
    positional = st.lists(_expressions, max_size=3).map(
        lambda args: tuple(ast.Arg(None, v) for v in args)
    )
    call = st.builds(ast.CallAction, _names, st.one_of(named, positional), st.none() | _names)
    return st.one_of(
        st.builds(
            ast.StepStmt, _names, http, st.none() | _types, _step_clauses(compensations, call=False)
        ),
        st.builds(ast.StepStmt, _names, call, st.none(), _step_clauses(compensations, call=True)),
    )


def _simple(
    compensations: st.SearchStrategy[tuple[ast.Stmt, ...]] | None,
) -> st.SearchStrategy[ast.Stmt]:
    return st.one_of(
        _steps(compensations),
        st.builds(ast.LetStmt, _names, _expressions, st.none() | _types, st.booleans()),
        st.builds(ast.AssignStmt, _names, _expressions),
        st.builds(ast.SleepStmt, _durations),
        st.builds(ast.LogStmt, _expressions),
        st.builds(ast.AssertStmt, _expressions, st.none() | _expressions),
        st.builds(ast.FailStmt, _expressions),
        st.builds(ast.ReturnStmt, st.none() | _expressions),
    )


def _block_statements(inner: st.SearchStrategy[ast.Stmt]) -> st.SearchStrategy[ast.Stmt]:
    block = st.lists(inner, max_size=3).map(tuple)
    loop = st.builds(
        lambda var, items, body, index, parallel, limit: ast.ForLoop(
            var, items, body, index, parallel, limit if parallel else None
        ),
        _names,
        _expressions,
        block,
        st.none() | _names,
        st.booleans(),
        st.none() | _expressions,
    )
    valued = st.builds(
        lambda name, loop, value: ast.LetStmt(
            name,
            ast.ForLoop(
                loop.var,
                loop.iterable,
                (*loop.body, ast.YieldStmt(value)),
                loop.index_var,
                loop.parallel,
                loop.limit,
            ),
        ),
        _names,
        loop,
        _expressions,
    )
    arms = st.lists(st.builds(ast.IfArm, _expressions, block), min_size=1, max_size=2).map(tuple)
    switch = st.builds(ast.IfStmt, arms, st.none() | block)
    branches = st.lists(
        st.one_of(
            inner.map(lambda s: ast.Branch((s,))), block.map(lambda b: ast.Branch(b, grouped=True))
        ),
        max_size=3,
    ).map(tuple)
    parallel = branches.map(ast.ParallelStmt)
    retryable = st.one_of(
        parallel, loop.map(ast.LoopStmt), valued, st.builds(ast.IfStmt, arms, block)
    )
    retried = st.builds(lambda p, s: ast.RetryStmt(p, (s,)), _policies, retryable)
    timed = st.builds(
        lambda d, s: ast.TimeoutStmt(d, (s,)),
        _durations,
        st.one_of(retried, retryable, _steps(None)),
    )
    return st.one_of(switch, loop.map(ast.LoopStmt), valued, parallel, retried, timed)


def _statements() -> st.SearchStrategy[ast.Stmt]:
    leaf = _simple(None)
    compensations = st.lists(leaf, max_size=2).map(tuple)
    level1 = st.one_of(_simple(compensations), _block_statements(leaf))
    return st.one_of(_simple(compensations), _block_statements(level1))


_services = st.builds(
    ast.ServiceDecl,
    _names,
    _expressions,
    clauses=_unique_clauses(
        [
            _value_clause("headers"),
            _value_clause("query"),
            _auth,
            _value_clause("timeout", _durations),
            _policies.map(ast.RetryClause),
            st.builds(ast.CircuitBreakerClause, _expressions, _durations, _durations),
            st.builds(ast.RateLimitClause, _expressions, _durations),
            _value_clause("concurrency"),
            _accept,
        ]
    ),
)


_STATEMENTS = _statements()  # built once: building strategies is what costs


@st.composite
def reachable_modules(draw: st.DrawFn) -> ast.Module:
    params = draw(
        st.lists(
            st.builds(ast.Param, _names, _types, st.none() | _expressions),
            max_size=3,
            unique_by=lambda p: p.name,
        )
    )
    body = tuple(draw(st.lists(_STATEMENTS, max_size=4)))
    timeout = draw(st.none() | _durations)
    flow = ast.FlowDecl(
        draw(_names),
        tuple(params),
        body,
        draw(st.none() | _types),
        () if timeout is None else (ast.ValueClause("timeout", timeout),),
    )
    imports = draw(
        st.lists(st.builds(ast.ImportDecl, st.text(max_size=8), st.none() | _names), max_size=2)
    )
    types = draw(
        st.lists(st.builds(ast.TypeDecl, _names, _types), max_size=2, unique_by=lambda t: t.name)
    )
    constants = draw(
        st.lists(
            st.builds(ast.ConstDecl, _names, _expressions), max_size=2, unique_by=lambda c: c.name
        )
    )
    services = draw(st.lists(_services, max_size=2, unique_by=lambda s: s.name))
    return ast.Module((*imports, *types, *constants, *services, flow))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reachable_modules(), st.sampled_from(["yaml", "json"]))
def test_generated_programs_round_trip(module: ast.Module, kind: str) -> None:
    assert reread(module, kind) == module
