"""The parser: grammar sanity, every construct of LANGUAGE.md §1 to §5, spans,
literal decoding, contextual keywords, and bad input (which must always give
a diagnostic, never a traceback).

Shapes are compared with ``==`` on the AST, which ignores spans and source
spellings; spans are checked separately, as (line, col, end_line, end_col).
"""

from __future__ import annotations

import glob
from pathlib import Path

import pytest

from flowc.compiler import ast
from flowc.compiler.ast import (
    Binary,
    Call,
    Conditional,
    DurationLit,
    Index,
    ListLit,
    Literal,
    MapEntry,
    MapLit,
    Name,
    Select,
    Template,
    Unary,
)
from flowc.compiler.diagnostics import Diagnostic, ParseFailure
from flowc.compiler.parser import build_lark, parse_expression, parse_module

ROOT = Path(__file__).resolve().parent.parent
SOURCE_FILES = sorted(
    glob.glob(str(ROOT / "examples" / "**" / "*.flow"), recursive=True)
    + glob.glob(str(ROOT / "tests" / "checker" / "**" / "*.flow"), recursive=True)
)
SECOND = 1_000_000_000


def a(name: str) -> Name:
    return Name(name)


def i(value: int) -> Literal:
    return Literal("int", value)


def s(value: str) -> Literal:
    return Literal("string", value)


def body(source: str) -> tuple[ast.Stmt, ...]:
    """The statements of ``source`` wrapped in a flow."""
    flow = parse_module(f"flow f() {{\n{source}\n}}\n").decls[0]
    assert isinstance(flow, ast.FlowDecl)
    return flow.body


def stmt(source: str) -> ast.Stmt:
    (only,) = body(source)
    return only


def failure(source: str, expression: bool = False) -> Diagnostic:
    with pytest.raises(ParseFailure) as caught:
        if expression:
            parse_expression(source)
        else:
            parse_module(source)
    return caught.value.diagnostic


def where(node: ast.Node | Diagnostic) -> tuple[int, int, int, int]:
    span = node.span
    return (span.line, span.col, span.end_line, span.end_col)


# --------------------------------------------------------------------------- the grammar


def test_grammar_builds_without_conflicts_in_strict_mode() -> None:
    parser = build_lark(strict=True, cache=False)
    assert set(parser.options.start) == {"module", "expr"}


@pytest.mark.parametrize("path", SOURCE_FILES, ids=lambda p: Path(p).name)
def test_sample_files_parse(path: str) -> None:
    module = parse_module(Path(path).read_text(encoding="utf-8"), path)
    assert isinstance(module, ast.Module)


# --------------------------------------------------------------------------- §1 literals


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("42", "int", 42),
        ("1_000", "int", 1000),
        ("0x1F", "int", 31),
        ("3u", "uint", 3),
        ("0x1Fu", "uint", 31),
        ("3.14", "float", 3.14),
        ("1e-3", "float", 0.001),
        (".5", "float", 0.5),
        ("2E+2", "float", 200.0),
        ("true", "bool", True),
        ("false", "bool", False),
        ("null", "null", None),
    ],
)
def test_number_and_keyword_literals(text: str, kind: str, value: object) -> None:
    literal = parse_expression(text)
    assert literal == Literal(kind, value)  # type: ignore[arg-type]
    assert isinstance(literal, Literal) and literal.raw == (
        text if kind not in ("bool", "null") else None
    )


@pytest.mark.parametrize(
    ("text", "nanos"),
    [
        ("250ms", 250_000_000),
        ("2s", 2 * SECOND),
        ("5m", 300 * SECOND),
        ("1h", 3600 * SECOND),
        ("1m30s", 90 * SECOND),
        ("1.5s", 1_500_000_000),
        ("10us", 10_000),
        ("10µs", 10_000),
        ("7ns", 7),
        ("1h1m1s1ms", 3_661_001_000_000),
    ],
)
def test_durations_are_integer_nanoseconds(text: str, nanos: int) -> None:
    assert parse_expression(text) == DurationLit(nanos)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (r'"\x41\101\u00e9\U0001F600"', "AAé😀"),
        (r"'\n\t\r\\\'\"\?\`'", "\n\t\r\\'\"?`"),
        (r'"\a\b\f\v"', "\a\b\f\v"),
        (r'"cost: \$5, \${not} interpolated"', "cost: $5, ${not} interpolated"),
        ('"$ alone and $x"', "$ alone and $x"),
        (r'r"\d+ ${x} \n"', r"\d+ ${x} \n"),
        (r"R'\d'", r"\d"),
        (r"r'a\'b'", r"a\'b"),  # as in Python, a raw string keeps the backslash
        ('"""two\nlines "quoted" """', 'two\nlines "quoted" '),
        ("'''it's'''", "it's"),
        ('"é 中文"', "é 中文"),
    ],
)
def test_string_escapes_decode_per_cel(text: str, value: str) -> None:
    assert parse_expression(text) == s(value)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (r'b"\xff\x00A\101"', b"\xff\x00AA"),
        (r"b'\377'", b"\xff"),
        ('b"é"', "é".encode()),
        (r'rb"\xff"', rb"\xff"),
        (r'BR"\n"', rb"\n"),
        ('b"${x}"', b"${x}"),
    ],
)
def test_bytes_literals(text: str, value: bytes) -> None:
    assert parse_expression(text) == Literal("bytes", value)


@pytest.mark.parametrize(
    ("text", "col", "escape"),
    [
        (r'"ab\qc"', 4, r"\q"),
        (r'"\x4"', 2, r"\x4"),
        (r'"\uD800"', 2, r"\uD800"),
        (r'"\400"', 2, r"\4"),
    ],
)
def test_invalid_escapes_are_reported_where_they_are(text: str, col: int, escape: str) -> None:
    diagnostic = failure(f"const C = {text}")
    assert diagnostic.code == "E0005"
    assert (diagnostic.span.line, diagnostic.span.col) == (1, 10 + col)
    assert escape in diagnostic.message


def test_interpolation_makes_a_template() -> None:
    assert parse_expression('"a ${b} c ${d.e}"') == Template(
        ("a ", a("b"), " c ", Select(a("d"), "e"))
    )
    assert parse_expression("'${\"x\"}!'") == Template((s("x"), "!"))
    assert parse_expression("\"${{'k': [1]}}\"") == Template(
        (MapLit((MapEntry(s("k"), ListLit((i(1),))),)),)
    )
    assert parse_expression('"${a}${b}"') == Template((a("a"), a("b")))


def test_lists_and_maps_with_every_key_style() -> None:
    parsed = parse_expression('{name: "x", "Content-Type": "a/b", (k): v, 1: 2, -1: 3, true: 4,}')
    assert parsed == MapLit(
        (
            MapEntry(s("name"), s("x"), "field"),
            MapEntry(s("Content-Type"), s("a/b"), "literal"),
            MapEntry(a("k"), a("v"), "computed"),
            MapEntry(i(1), i(2), "literal"),
            MapEntry(Unary("-", i(1)), i(3), "literal"),
            MapEntry(Literal("bool", True), i(4), "literal"),
        )
    )
    assert parse_expression("[a, [], {}, [1,],]") == ListLit(
        (a("a"), ListLit(()), MapLit(()), ListLit((i(1),)))
    )


def test_comments_are_collected_with_spans_and_strings_hide_hashes() -> None:
    module = parse_module('# head\nconst A = "# not a comment"  # tail\n\n# last')
    assert [c.text for c in module.comments] == ["# head", "# tail", "# last"]
    assert [where(c) for c in module.comments] == [(1, 1, 1, 7), (2, 30, 2, 36), (4, 1, 4, 7)]
    assert module == parse_module('const A = "# not a comment"')


# --------------------------------------------------------------------------- §2 expressions


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("a ? b : c ? d : e", Conditional(a("a"), a("b"), Conditional(a("c"), a("d"), a("e")))),
        ("a ?? b || c", Binary("??", a("a"), Binary("||", a("b"), a("c")))),
        ("a ?? b ?? c", Binary("??", Binary("??", a("a"), a("b")), a("c"))),
        ("a ?? b ? c : d", Conditional(Binary("??", a("a"), a("b")), a("c"), a("d"))),
        ("a || b && c", Binary("||", a("a"), Binary("&&", a("b"), a("c")))),
        ("a == b + c * d", Binary("==", a("a"), Binary("+", a("b"), Binary("*", a("c"), a("d"))))),
        ("a - b - c", Binary("-", Binary("-", a("a"), a("b")), a("c"))),
        ("a - (b - c)", Binary("-", a("a"), Binary("-", a("b"), a("c")))),
        ("a in [1]", Binary("in", a("a"), ListLit((i(1),)))),
        ("a < b != c", Binary("!=", Binary("<", a("a"), a("b")), a("c"))),
        ("-a.b", Unary("-", Select(a("a"), "b"))),
        ("!!a[0]", Unary("!", Unary("!", Index(a("a"), i(0))))),
        ("-5", Unary("-", i(5))),
        ("x.y.z(1)[2]", Index(Call("z", (i(1),), Select(a("x"), "y")), i(2))),
        ('s.startsWith("x")', Call("startsWith", (s("x"),), a("s"))),
        ("has(a.b)", Call("has", (Select(a("a"), "b"),))),
        ("l.map(x, p, x * 2)", Call("map", (a("x"), a("p"), Binary("*", a("x"), i(2))), a("l"))),
        ("l.exists_one(x, x > 0)", Call("exists_one", (a("x"), Binary(">", a("x"), i(0))), a("l"))),
        ("math.least(1, 2,)", Call("least", (i(1), i(2)), a("math"))),
        (".a.b", Select(Name("a", leading_dot=True), "b")),
        (".f(x)", Call(".f", (a("x"),))),
        ("type(x)", Call("type", (a("x"),))),
        ("x.body.max", Select(Select(a("x"), "body"), "max")),
        ("err.step.if", Select(Select(a("err"), "step"), "if")),
    ],
)
def test_expression_shapes_follow_cel_precedence(text: str, tree: ast.Expr) -> None:
    assert parse_expression(text) == tree


# --------------------------------------------------------------------------- §3 types


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("int", ast.TypeName("int")),
        ("billing.Invoice", ast.TypeName("Invoice", "billing")),
        ("list[string]", ast.ListType(ast.TypeName("string"))),
        (
            "map[string, list[int]]",
            ast.MapType(ast.TypeName("string"), ast.ListType(ast.TypeName("int"))),
        ),
        ("User?", ast.OptionalType(ast.TypeName("User"))),
        (
            "{id: int, email?: string, if: bool?,}",
            ast.RecordType(
                (
                    ast.FieldDecl("id", ast.TypeName("int")),
                    ast.FieldDecl("email", ast.TypeName("string"), optional=True),
                    ast.FieldDecl("if", ast.OptionalType(ast.TypeName("bool"))),
                )
            ),
        ),
    ],
)
def test_types(text: str, tree: ast.TypeExpr) -> None:
    declaration = parse_module(f"type T = {text}").decls[0]
    assert declaration == ast.TypeDecl("T", tree)


def test_bad_generic_types_are_reported() -> None:
    assert failure("type T = set[int]").code == "E0008"
    assert failure("type T = list[int, int]").code == "E0009"
    assert failure("type T = map[int]").code == "E0009"


# --------------------------------------------------------------------------- §4 declarations

SERVICE = """
import "common.flow"
import "billing.flow" as billing
type User = {id: int}
const PAGE_SIZE: int = 50
service users "http://localhost:8081" {
    headers { "Accept": "application/json" }
    auth bearer secret("T")
    auth basic "me", secret("PW")
    timeout 2s
    retry 3 backoff exponential 100ms max 2s factor 3 jitter when error.status >= 500
    circuit_breaker 5 failures within 30s cooldown 15s
    rate_limit 100 per 1s
    concurrency 20
}
flow user_registration(user_id: string, notify: bool = true) -> {status: string}
    timeout 60s
{
    return
}
"""


def test_declarations() -> None:
    imports, aliased, user, const, service, flow = parse_module(SERVICE).decls
    assert imports == ast.ImportDecl("common.flow")
    assert aliased == ast.ImportDecl("billing.flow", "billing")
    assert isinstance(user, ast.TypeDecl) and user.name == "User"
    assert const == ast.ConstDecl("PAGE_SIZE", i(50), ast.TypeName("int"))
    assert isinstance(service, ast.ServiceDecl) and service.base_url == s("http://localhost:8081")
    kinds = [type(c).__name__ for c in service.clauses]
    assert kinds == [
        "ValueClause",
        "AuthClause",
        "AuthClause",
        "ValueClause",
        "RetryClause",
        "CircuitBreakerClause",
        "RateLimitClause",
        "ValueClause",
    ]
    assert service.clauses[2] == ast.AuthClause("basic", (s("me"), Call("secret", (s("PW"),))))
    retry = service.clauses[4]
    assert retry == ast.RetryClause(
        ast.RetryPolicy(
            i(3),
            ast.Backoff("exponential", DurationLit(100_000_000), DurationLit(2 * SECOND), i(3)),
            jitter=True,
            when=Binary(">=", Select(a("error"), "status"), i(500)),
        )
    )
    assert service.clauses[5] == ast.CircuitBreakerClause(
        i(5), DurationLit(30 * SECOND), DurationLit(15 * SECOND)
    )
    assert isinstance(flow, ast.FlowDecl)
    assert flow.params == (
        ast.Param("user_id", ast.TypeName("string")),
        ast.Param("notify", ast.TypeName("bool"), Literal("bool", True)),
    )
    assert flow.clauses == (ast.ValueClause("timeout", DurationLit(60 * SECOND)),)
    assert flow.body == (ast.ReturnStmt(None),)


def test_import_path_must_be_a_plain_string() -> None:
    assert failure('import "${x}.flow"').code == "E0013"


# --------------------------------------------------------------------------- §5 statements


def test_bindings_and_assignment() -> None:
    let, var, assign, typed = body(
        "let x = 1\nvar n: int = 0\nn = n + 1\nvar xs: list[string] = []"
    )
    assert let == ast.LetStmt("x", i(1))
    assert var == ast.LetStmt("n", i(0), ast.TypeName("int"), mutable=True)
    assert assign == ast.AssignStmt("n", Binary("+", a("n"), i(1)))
    assert typed.annotation == ast.ListType(ast.TypeName("string"))  # type: ignore[attr-defined]


def test_steps() -> None:
    check, created, maybe, sub, full = body(
        """
        step check = GET users "/check" -> {exists: bool} {
            query { user_id: user_id }
            accept 200, 404, 500..599
        }
        step created = POST "http://x/create" {
            json { id: 1 }
            idempotency_key "${run.id}"
            compensate { step undo = DELETE users "/u/${created.body.id}" }
        }
        step maybe = GET users '/optional' { on error skip }
        step r = call other_flow(user_id: user_id, 2)
        step q = call billing.charge()
        """
    )
    assert isinstance(check, ast.StepStmt)
    assert check.action == ast.HttpAction("GET", "users", s("/check"))
    assert check.clauses[1] == ast.AcceptClause(
        (ast.StatusRange(200, 200), ast.StatusRange(404, 404), ast.StatusRange(500, 599))
    )
    assert isinstance(created, ast.StepStmt)
    assert created.action == ast.HttpAction("POST", None, s("http://x/create"))
    compensate = created.clauses[2]
    assert isinstance(compensate, ast.CompensateClause) and len(compensate.body) == 1
    assert isinstance(maybe, ast.StepStmt) and maybe.clauses == (ast.OnErrorClause("skip"),)
    assert isinstance(sub, ast.StepStmt)
    assert sub.action == ast.CallAction(
        "other_flow", (ast.Arg("user_id", a("user_id")), ast.Arg(None, i(2)))
    )
    assert isinstance(full, ast.StepStmt)
    assert full.action == ast.CallAction("charge", (), "billing")


def test_control_flow() -> None:
    if_, for_, par_for, let_loop, while_ = body(
        """
        if a { log "a" } else if b { log "b" } else { log "c" }
        for i, item in items { break }
        for item in items parallel { continue }
        let names = for u in users parallel 5 { yield u.name }
        while cursor != "" max 1000 { sleep 1s }
        """
    )
    assert if_ == ast.IfStmt(
        (ast.IfArm(a("a"), (ast.LogStmt(s("a")),)), ast.IfArm(a("b"), (ast.LogStmt(s("b")),))),
        (ast.LogStmt(s("c")),),
    )
    assert for_ == ast.LoopStmt(ast.ForLoop("item", a("items"), (ast.BreakStmt(),), "i"))
    assert par_for == ast.LoopStmt(
        ast.ForLoop("item", a("items"), (ast.ContinueStmt(),), parallel=True)
    )
    assert isinstance(let_loop, ast.LetStmt) and isinstance(let_loop.value, ast.ForLoop)
    assert let_loop.value.limit == i(5)
    assert while_ == ast.LoopStmt(
        ast.WhileLoop(
            Binary("!=", a("cursor"), s("")), (ast.SleepStmt(DurationLit(SECOND)),), i(1000)
        )
    )


@pytest.mark.parametrize(
    ("limit", "tree"),
    [
        ("10", i(10)),
        ("n", a("n")),
        ("cfg.limits.max", Select(Select(a("cfg"), "limits"), "max")),
        ("(n * 2)", Binary("*", a("n"), i(2))),
    ],
)
def test_parallel_loop_limits(limit: str, tree: ast.Expr) -> None:
    loop = stmt(f"for x in xs parallel {limit} {{ }}")
    assert isinstance(loop, ast.LoopStmt) and isinstance(loop.loop, ast.ForLoop)
    assert loop.loop.limit == tree


def test_parallel_try_retry_timeout_and_simple_statements() -> None:
    statements = body(
        """
        parallel {
            step a = GET users "/a"
            branch { step b = GET users "/b" }
        }
        try { fail "x" } catch err { log err.kind } finally { log "done" }
        try { log 1 } finally { log 2 }
        try { log 1 } catch { log 2 }
        retry 3 backoff fixed 1s { log "r" }
        timeout 30s { log "t" }
        assert ok, "not ok"
        assert ok
        fail {code: "blocked"}
        return {status: "created"}
        """
    )
    parallel, try_full, try_finally, try_bare_catch, retry, timeout, *rest = statements
    assert isinstance(parallel, ast.ParallelStmt)
    assert [b.grouped for b in parallel.branches] == [False, True]
    assert try_full == ast.TryStmt(
        (ast.FailStmt(s("x")),),
        (ast.CatchClause("err", (ast.LogStmt(Select(a("err"), "kind")),)),),
        (ast.LogStmt(s("done")),),
    )
    assert try_finally == ast.TryStmt((ast.LogStmt(i(1)),), finally_body=(ast.LogStmt(i(2)),))
    assert try_bare_catch == ast.TryStmt(
        (ast.LogStmt(i(1)),), (ast.CatchClause(None, (ast.LogStmt(i(2)),)),)
    )
    assert retry == ast.RetryStmt(
        ast.RetryPolicy(i(3), ast.Backoff("fixed", DurationLit(SECOND))), (ast.LogStmt(s("r")),)
    )
    assert timeout == ast.TimeoutStmt(DurationLit(30 * SECOND), (ast.LogStmt(s("t")),))
    assert [type(x).__name__ for x in rest] == [
        "AssertStmt",
        "AssertStmt",
        "FailStmt",
        "ReturnStmt",
    ]


def test_bare_return_only_ends_a_block() -> None:
    assert body("log 1\nreturn") == (ast.LogStmt(i(1)), ast.ReturnStmt(None))
    assert failure("flow f() { return\n log 1 }").code == "E0001"
    parallel = stmt('parallel { step a = GET s "/a"\n return }')
    assert isinstance(parallel, ast.ParallelStmt)
    assert parallel.branches[-1] == ast.Branch((ast.ReturnStmt(None),))


# --------------------------------------------------------------------------- spans


def test_statement_and_declaration_spans() -> None:
    source = (
        'service s "u" {\n    timeout 1s\n}\n'
        "flow f() {\n"
        "    let x = (a + b) * c\n"
        '    step st = GET s "/x" {\n        timeout 1s\n    }\n'
        "    if x { log 1 } else if y {\n    } else { log 2 }\n"
        "}\n"
    )
    service, flow = parse_module(source).decls
    assert where(service) == (1, 1, 3, 2)
    assert isinstance(flow, ast.FlowDecl)
    assert where(flow) == (4, 1, 11, 2)
    let, step, if_ = flow.body
    assert where(let) == (5, 5, 5, 24)
    assert isinstance(let, ast.LetStmt) and where(let.value) == (5, 13, 5, 24)
    assert isinstance(let.value, Binary) and where(let.value.left) == (5, 13, 5, 20)
    assert where(step) == (6, 5, 8, 6)
    assert where(if_) == (9, 5, 10, 21)


def test_expression_spans() -> None:
    expr = parse_expression("f(x)[0].y + -z")
    assert isinstance(expr, Binary)
    assert where(expr) == (1, 1, 1, 15)
    assert where(expr.left) == (1, 1, 1, 10)
    assert where(expr.right) == (1, 13, 1, 15)


def test_interpolated_expressions_have_file_positions() -> None:
    source = (
        'flow f() {\n    log "id ${user.id}!"\n    log """first\nsecond ${a + b}\n  ${ c }"""\n}'
    )
    flow = parse_module(source).decls[0]
    assert isinstance(flow, ast.FlowDecl)
    one, two = flow.body
    assert isinstance(one, ast.LogStmt) and isinstance(one.value, Template)
    assert where(one.value.parts[1]) == (2, 15, 2, 22)  # type: ignore[arg-type]
    assert isinstance(two, ast.LogStmt) and isinstance(two.value, Template)
    exprs = [p for p in two.value.parts if isinstance(p, ast.Expr)]
    assert [where(e) for e in exprs] == [(4, 10, 4, 15), (5, 6, 5, 7)]
    assert where(two.value) == (3, 9, 5, 12)


def test_errors_inside_interpolations_point_into_the_string() -> None:
    diagnostic = failure('flow f() {\n    log "a ${1 +} b"\n}')
    assert diagnostic.code == "E0004"  # the embedded expression ends too early
    assert (diagnostic.span.line, diagnostic.span.col) == (2, 16)


# --------------------------------------------------------------------------- keywords as names


@pytest.mark.parametrize(
    "source",
    [
        "let max = 1",
        "let x = y.body",
        "let x = {timeout: 1, query: 2, fail: 3}",
        "let x = type(y)",
        "let x = {if: 1}.if",
        "var max = 0\nlet y = a\nmax = max + 1",
        "var timeout = 1\ntimeout = 2\nretry = 3",
        "let a = b\njson = 1\nper = 2\nwhen = 3",
        "for max in items { }",
        'step query = GET svc "/x" {\n    query {max: 1}\n}',
        "let GET = 1\nGET = 2",
        "let x = {b: 1} \n body = 1",
    ],
)
def test_contextual_keywords_are_names_where_unambiguous(source: str) -> None:
    assert body(source)


@pytest.mark.parametrize(
    ("source", "word", "col"),
    [
        ("let let = 1", "let", 5),
        ('step if = GET "x"', "if", 6),
        ("for in in x { }", "in", 5),
        ("let x = in", "in", 9),
        ("catch = 1", "catch", 1),
    ],
)
def test_reserved_words_are_rejected(source: str, word: str, col: int) -> None:
    diagnostic = failure(f"flow f() {{\n{source}\n}}")
    assert diagnostic.code == "E0006"
    assert f"`{word}`" in diagnostic.message
    assert (diagnostic.span.line, diagnostic.span.col) == (2, col)


@pytest.mark.parametrize("source", ["type type = int", "const null = 1", 'import "a" as flow'])
def test_reserved_words_cannot_name_declarations(source: str) -> None:
    assert failure(source).code == "E0006"
