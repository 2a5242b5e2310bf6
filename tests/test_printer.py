"""The printer: ``parse(print(t)) == t`` and ``print(parse(print(t))) == print(t)``
for every sample file and for generated trees, plus the canonical spelling
of literals, the minimal parentheses and the layout rules.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from flowc.compiler import ast
from flowc.compiler.ast import Binary, Call, Conditional, Literal, Name, Select, Template, Unary
from flowc.compiler.parser import parse_expression, parse_module
from flowc.compiler.printer import print_expr, print_module, print_type
from tests import strategies
from tests.test_parser import SOURCE_FILES

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

SAMPLE = """
import "common.flow"
import 'billing.flow' as billing
type User = {id: int, name: string, email?: string, tags: list[string]?, meta: map[string, json]}
const LIMIT: int = 0x1F
service users "http://localhost:8081" {
    headers { "Accept": "application/json" }
    auth header "X-Api-Key", secret("K")
    retry 3 backoff linear 100ms jitter
    circuit_breaker 5 failures within 30s cooldown 15s
    rate_limit 100 per 1s
}
flow main(user_id: string, notify: bool = true) -> {status: string, user: User?}
    timeout 60s
    retry 2
{
    let x: list[int] = [1_000, 3u, 1e-3, 1.5, 90s, 1m30s, r"\\d+", b"\\xff", '"q"', \"\"\"multi
line\"\"\"]
    var n = -(a + b) * c ?? d
    n = a ? b : c ? d : e
    step check = GET users "/check/${user_id}" -> {exists: bool} {
        query { user_id: user_id, (key): value, "Content-Type": 1, -2: 3 }
        accept 200, 404, 500..599
        on error skip
        compensate { step undo = DELETE users "/x" }
    }
    step r = call billing.charge(amount: 1, 2)
    step u = POST base + "/create"
    if check.body.exists { log "a" } else if x > 3 { log "b" } else { }
    for i, item in items parallel (n + 1) { continue }
    let names = for u in users parallel cfg.limit { yield u.name }
    while c max 10 { break }
    parallel {
        sleep 1s
        branch { log "b" }
        return
    }
    try { fail {code: "x"} } catch { log "c" } finally { log "f" }
    try { log 1 } catch err { log err.message }
    retry 3 backoff exponential 1s max 1m factor 2 when error.status >= 500 { log "r" }
    timeout 30s { log "t" }
    let answer = wait signal "approval" -> {approved: bool, by: string?} timeout 72h
    assert .x.y(1)[0] in [true, false, null], "m"
    log "${'a'} and ${{'k': [1]}} and \\${not}"
    return
}
"""


def round_trip(module: ast.Module) -> str:
    printed = print_module(module)
    again = parse_module(printed, "<printed>")
    assert again == module, printed
    assert print_module(again) == printed
    return printed


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("path", SOURCE_FILES, ids=lambda p: Path(p).name)
def test_sample_files_round_trip(path: str) -> None:
    round_trip(parse_module(Path(path).read_text(encoding="utf-8"), path))


def test_every_construct_round_trips() -> None:
    printed = round_trip(parse_module(SAMPLE))
    assert "else {}" in printed and "parallel (n + 1)" in printed


@PROPERTY
@given(strategies.expressions(max_leaves=15))
def test_generated_expressions_round_trip(expr: ast.Expr) -> None:
    printed = print_expr(expr)
    assert parse_expression(printed) == expr, printed


@PROPERTY
@given(strategies.modules())
def test_generated_modules_round_trip(module: ast.Module) -> None:
    round_trip(module)


@PROPERTY
@given(strategies.types())
def test_generated_types_round_trip(type_expr: ast.TypeExpr) -> None:
    declaration = ast.TypeDecl("T", type_expr)
    assert parse_module(f"type T = {print_type(type_expr)}").decls == (declaration,)


# --------------------------------------------------------------------------- parentheses


@pytest.mark.parametrize(
    "text",
    [
        "a - (b - c)",
        "a - b - c",
        "(a + b) * c",
        "a + b * c",
        "a ?? b ?? c",
        "a ?? (b ?? c)",
        "(a ?? b) || c",
        "a ?? b || c",
        "(a ? b : c) ?? d",
        "a ? b : c ? d : e",
        "(a ? b : c) ? d : e",
        "a ? (b ? c : d) : e",
        "-(a + b)",
        "!(a && b) || c",
        "(-a).b",
        "-a.b",
        "(a + b).c(d)[e]",
        "a < b == (c < d)",
        "(a in b) + c",
        "a in b + c",
        "--a",
        "f(a ? b : c, [d, e])[0]",
    ],
)
def test_minimal_parentheses(text: str) -> None:
    assert print_expr(parse_expression(text)) == text


def test_redundant_parentheses_are_dropped() -> None:
    assert print_expr(parse_expression("((a - b)) - ((c))")) == "a - b - c"
    assert print_expr(parse_expression("(a * b) + (c)")) == "a * b + c"


# --------------------------------------------------------------------------- literals


@pytest.mark.parametrize(
    ("tree", "text"),
    [
        (Literal("int", 1000), "1000"),
        (Literal("uint", 3), "3u"),
        (Literal("float", 1.0), "1.0"),
        (Literal("float", 1e-7), "1e-07"),
        (Literal("float", 2.5e20), "2.5e+20"),
        (Literal("float", math.inf), "1e999"),
        (ast.DurationLit(90_000_000_000), "1m30s"),
        (ast.DurationLit(250_000_000), "250ms"),
        (ast.DurationLit(3_600_000_000_001), "1h1ns"),
        (ast.DurationLit(0), "0s"),
        (Literal("string", "plain"), '"plain"'),
        (Literal("string", 'say "hi"'), "'say \"hi\"'"),
        (Literal("string", 'it\'s "x"'), '"it\'s \\"x\\""'),
        (
            Literal("string", "tab\tnl\ncr\r\\ \x00 \u200b é"),
            '"tab\\tnl\\ncr\\r\\\\ \\x00 \\u200b é"',
        ),
        (Literal("string", "cost ${x} $y"), '"cost \\${x} $y"'),
        (Literal("bytes", b'\xff"A\n'), "b'\\xff\"A\\n'"),
        (Literal("bool", True), "true"),
        (Literal("null", None), "null"),
        (Template(("a ", Name("b"), '"')), "'a ${b}\"'"),
        (Template(("x", Literal("string", "y"))), "\"x${'y'}\""),
        (Template((Literal("string", "q'\""),)), "\"${'q\\'\\\"'}\""),
        (Template((Template((Name("v"),)),)), "\"${'${v}'}\""),
    ],
)
def test_literal_spelling(tree: ast.Expr, text: str) -> None:
    assert print_expr(tree) == text
    assert parse_expression(text) == tree


@pytest.mark.parametrize(
    ("source", "printed"),
    [
        ("0x1F", "0x1F"),
        ("1_000", "1_000"),
        ("0X1fU", "0X1fU"),
        ("1e-3", "1e-3"),
        ("90s", "90s"),
        ("1.5s", "1.5s"),
        ('r"\\d+${x}"', 'r"\\d+${x}"'),
        ("'single'", '"single"'),
        ('"caf\\u00e9"', '"caf\\u00e9"'),
        ('B"x"', 'b"x"'),
        ('"""two\nlines"""', '"""two\nlines"""'),
        ('"""a ${ b+c } \n"q\\""""', '"""a ${b + c} \n"q\\""""'),
        ("'''x'''", "'''x'''"),
    ],
)
def test_source_spelling_is_reused_when_it_still_reads_back(source: str, printed: str) -> None:
    assert print_expr(parse_expression(source)) == printed


def test_stale_source_spelling_is_not_reused() -> None:
    stale = Literal("int", 32, raw="0x1F")
    assert print_expr(stale) == "32"
    assert print_expr(ast.DurationLit(1, raw="1s")) == "1ns"


def test_negative_literals_print_as_unary_minus() -> None:
    # The parser never builds them; they print as the unary minus they mean.
    assert print_expr(Literal("int", -5)) == "-5"
    assert parse_expression("-5") == Unary("-", Literal("int", 5))
    assert print_expr(Select(Literal("int", -5), "x")) == "(-5).x"
    assert print_expr(Binary("-", Name("a"), Literal("float", -0.0))) == "a - -0.0"


def test_unprintable_trees_are_refused() -> None:
    with pytest.raises(ValueError, match="NaN"):
        print_expr(Literal("float", math.nan))
    with pytest.raises(ValueError, match="quote"):
        print_expr(Template((Template((Literal("string", "x"),)),)))


def test_map_keys_print_as_written() -> None:
    text = '{field: 1, "quoted": 2, (computed): 3, 4: 5, -6: 7, true: 8, 1s: 9}'
    assert print_expr(parse_expression(text)) == text
    not_a_name = ast.MapLit((ast.MapEntry(Literal("string", "a-b"), Name("v"), "field"),))
    assert print_expr(not_a_name) == '{"a-b": v}'


# --------------------------------------------------------------------------- layout


def test_statement_layout() -> None:
    printed = print_module(parse_module(SAMPLE))
    assert printed.startswith('import "common.flow"\nimport "billing.flow" as billing\n\ntype User')
    assert "\n    } else if x > 3 {\n" in printed
    assert '    step check = GET users "/check/${user_id}" -> {exists: bool} {\n' in printed
    assert "        on error skip\n" in printed
    assert "flow main(user_id: string, notify: bool = true)\n    -> " in printed
    assert "\n    timeout 60s\n    retry 2\n{\n" in printed
    assert all(not line.endswith(" ") for line in printed.splitlines())
    assert printed.endswith("    return\n}\n")


def test_short_flow_headers_stay_on_one_line() -> None:
    assert print_module(parse_module("flow f ( a : int ) -> int { return a }")) == (
        "flow f(a: int) -> int {\n    return a\n}\n"
    )
    assert print_module(parse_module("flow f() {}")) == "flow f() {}\n"


def test_long_lists_break_one_element_per_line_with_a_trailing_comma() -> None:
    items = ", ".join(f'"element number {n}"' for n in range(6))
    printed = print_module(parse_module(f"const L = [{items}]"))
    assert printed == (
        "const L = [\n" + "".join(f'    "element number {n}",\n' for n in range(6)) + "]\n"
    )


def test_long_logical_chains_break_before_the_operator() -> None:
    condition = " || ".join(f"error.status == {500 + n}" for n in range(6))
    printed = print_module(parse_module(f"flow f() {{ if {condition} {{ }} }}"))
    lines = printed.splitlines()
    assert lines[1] == "    if error.status == 500"
    assert lines[2] == "        || error.status == 501"
    assert all(len(line) <= 100 for line in lines)


def test_long_conditionals_break_before_question_mark_and_colon() -> None:
    then = "{first: 'a long string value here', second: 2}"
    text = f"let v = flag ? {then} : {{first: 'another long value', x: 1}}"
    printed = print_module(parse_module(f"flow f() {{ {text} }}"))
    assert "\n    let v = flag\n        ? {first: " in printed
    assert "\n        : {first: " in printed


def test_deep_trees_print_without_recursion_errors() -> None:
    for text in ["-" * 250 + "x", "+".join(["a"] * 250), "a" + ".b" * 250, "[" * 250 + "]" * 250]:
        expr = parse_expression(text)
        assert parse_expression(print_expr(expr)) == expr


def test_types_print() -> None:
    record = parse_module("type T = {a: list[int?], b?: map[string, x.Y]}").decls[0]
    assert isinstance(record, ast.TypeDecl)
    assert print_type(record.type) == "{a: list[int?], b?: map[string, x.Y]}"
    assert print_type(ast.OptionalType(ast.OptionalType(ast.TypeName("int")))) == "int?"


def test_calls_without_target_and_root_calls() -> None:
    assert print_expr(Call(".f", (Name("x"),))) == ".f(x)"
    assert print_expr(Conditional(Name("a"), Call("g", ()), Name("c"))) == "a ? g() : c"
