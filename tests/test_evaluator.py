"""Tests of the compiled expression evaluator and the stand-alone API.

The first part checks every construct against its specified behaviour
(``flowc.compiler.evaluator`` and its modules' docstrings).  The last part is a
property test: random well-typed expressions over ints, bools, strings, lists
and maps are evaluated both by the compiled evaluator and by a small
tree-walking reference evaluator written here, which must agree (both raising
an error counts as agreement).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import operator
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowc.common.stdlib import use_effects
from flowc.common.types import (
    BOOL,
    FLOAT,
    INT,
    JSON,
    SECRET,
    STRING,
    Field,
    ListT,
    MapT,
    OptionalT,
    RecordT,
    Type,
    step_record,
)
from flowc.common.values import (
    BOOL_TYPE,
    DURATION_TYPE,
    INT64_MAX,
    INT64_MIN,
    INT_TYPE,
    NO_SUCH_KEY,
    NULL_TYPE,
    STRING_TYPE,
    TYPE_TYPE,
    Duration,
    EvalError,
    Secret,
    Timestamp,
    UInt,
    build_map,
)
from flowc.compiler import ast
from flowc.compiler.checker import check_expression
from flowc.compiler.evaluator import compile_expr
from flowc.compiler.expressions import (
    CompiledExpression,
    ExpressionError,
    compile_expression,
    evaluate,
)
from flowc.compiler.ir import Compiled
from flowc.compiler.parser import parse_expression
from flowc.compiler.scope import Symbol
from tests import strategies

USER = RecordT((Field("id", INT), Field("name", STRING), Field("email", STRING, optional=True)))


def fails(text: str, kind: str | None = None, **bindings: Any) -> EvalError:
    """Evaluate ``text`` and return the ``EvalError`` it must raise."""
    with pytest.raises(EvalError) as caught:
        evaluate(text, **bindings)
    if kind is not None:
        assert caught.value.kind == kind, caught.value
    return caught.value


# --------------------------------------------------------------------------- leaves


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", 42),
        ("0x1F", 31),
        ("1_000", 1000),
        ("3u", UInt(3)),
        ("2.5", 2.5),
        ("1e3", 1000.0),
        ("'single'", "single"),
        ('r"a\\n"', "a\\n"),
        ('b"\\x00\\xff"', b"\x00\xff"),
        ("true", True),
        ("null", None),
        ("-9223372036854775808", INT64_MIN),
        ("-(9223372036854775807) - 1", INT64_MIN),
        ("-2.5", -2.5),
        ("--5", 5),
    ],
)
def test_literals(text: str, expected: object) -> None:
    result = evaluate(text)
    assert result == expected
    assert type(result) is type(expected)


def test_duration_literals_are_durations() -> None:
    assert evaluate("1m30s") == Duration(90 * 10**9)
    assert evaluate("250ms + 2s") == Duration(2_250_000_000)


def test_templates_render_text_of_any_value() -> None:
    assert evaluate('"${a}-${b}"', a="x", b="y") == "x-y"
    assert evaluate('"n=${n} ok=${ok} xs=${xs}"', n=3, ok=True, xs=[1, "a"]) == (
        'n=3 ok=true xs=[1,"a"]'
    )
    typed = compile_expression('"${a}/${b}"', {"a": STRING, "b": STRING})
    assert typed.evaluate(a="p", b="q") == "p/q"


def test_template_with_a_secret_is_a_secret() -> None:
    token = Secret("s3cr3t", source="TOKEN")
    for types in ({}, {"t": SECRET}):
        result = evaluate('"Bearer ${t}"', types=types, t=token)
        assert isinstance(result, Secret)
        assert result.reveal() == "Bearer s3cr3t"
        assert "s3cr3t" not in str(result) and "s3cr3t" not in repr(result)


def test_names_read_bindings_and_type_identifiers() -> None:
    assert evaluate("x", x=5) == 5
    assert evaluate("int") == INT_TYPE
    assert evaluate("[string, bool, type, null_type]") == [
        STRING_TYPE,
        BOOL_TYPE,
        TYPE_TYPE,
        NULL_TYPE,
    ]
    assert evaluate("type(1) == int && type(int) == type && type(null) == null_type") is True
    assert evaluate("type(duration('1s')) == google.protobuf.Duration") is True
    assert evaluate("duration") == DURATION_TYPE


def test_dotted_qualified_names() -> None:
    compiled = compile_expression("a.b.c + '!'", {"a.b.c": STRING})
    assert compiled.evaluate(**{"a.b.c": "yeah"}) == "yeah!"
    # the longest declared prefix wins; the rest is field selection
    nested = compile_expression("a.b.c", {"a.b": MapT(STRING, STRING)})
    assert nested.evaluate(**{"a.b": {"c": "from map"}}) == "from map"


# --------------------------------------------------------------------------- collections


def test_list_and_map_literals() -> None:
    assert evaluate("[1, 'a', [true]]") == [1, "a", [True]]
    assert evaluate("[]") == []
    assert evaluate("{1: 'a', 2u: 'b', true: 'c'}") == build_map(
        [(1, "a"), (UInt(2), "b"), (True, "c")]
    )
    assert evaluate("{(k): 1}", k="dyn") == {"dyn": 1}


def test_records_are_plain_dicts() -> None:
    result = evaluate('{id: 1, "Content-Type": "a/b"}')
    assert result == {"id": 1, "Content-Type": "a/b"}
    assert type(result) is dict


@pytest.mark.parametrize(
    "text", ["{0: 1, 0u: 2}", "{true: 1, false: 2, true: 3}", "{(k): 1, 'a': 2}"]
)
def test_repeated_map_keys_are_errors(text: str) -> None:
    fails(text, k="a")


def test_invalid_map_keys_are_errors() -> None:
    fails("{(k): 1}", k=1.5)
    fails("{(k): 1}", k=None)


# --------------------------------------------------------------------------- select and index


def test_select_reads_fields_of_maps_and_records() -> None:
    step = step_record(RecordT((Field("id", INT),)))
    value = {"status": 200, "body": {"id": 7}}
    assert compile_expression("user.body.id", {"user": step}).evaluate(user=value) == 7
    assert evaluate("user.body.id", user=value) == 7


def test_select_of_a_missing_key_is_an_error() -> None:
    error = fails("m.missing", NO_SUCH_KEY, m={"a": 1})
    assert "missing" in error.message


def test_select_on_a_non_map_is_an_error() -> None:
    fails("x.field", x=15)
    fails("x.field", x=[1])
    fails("x.field", x=None)


def test_optional_record_fields_read_as_null() -> None:
    compiled = compile_expression("u.email", {"u": USER})
    assert compiled.evaluate(u={"id": 1, "name": "n"}) is None
    assert compiled.evaluate(u={"id": 1, "name": "n", "email": "e@x"}) == "e@x"
    # a required field of a record is still required
    with pytest.raises(EvalError):
        compile_expression("u.name", {"u": USER}).evaluate(u={"id": 1})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("xs[0]", 10),
        ("xs[2]", 30),
        ("xs[dyn(1u)]", 20),
        ("xs[dyn(2.0)]", 30),
        ("m['a']", 1),
        ("m[dyn(2.0)]", "two"),
        ("m[true]", "yes"),
    ],
)
def test_index(text: str, expected: object) -> None:
    xs = [10, 20, 30]
    m = build_map([("a", 1), (2, "two"), (True, "yes")])
    assert evaluate(text, xs=xs, m=m) == expected


@pytest.mark.parametrize(
    "text", ["xs[3]", "xs[-1]", "xs[dyn(1.5)]", "xs['a']", "m['zz']", "m[false]", "s[0]"]
)
def test_index_errors(text: str) -> None:
    fails(text, xs=[1, 2, 3], m={"a": 1}, s="abc")


# --------------------------------------------------------------------------- ??


def test_nullish_uses_the_default_for_null() -> None:
    assert evaluate("x ?? 5", x=None) == 5
    assert evaluate("x ?? 5", x=0) == 0
    assert evaluate("x ?? 5", x=False) is False


def test_nullish_chain_missing_fields_keys_and_indexes() -> None:
    data = {"a": {"b": None, "list": [1]}}
    assert evaluate("d.a.b.c.e ?? 'deep'", d=data) == "deep"  # reads through null
    assert evaluate("d.x.y ?? 'missing'", d=data) == "missing"  # missing key
    assert evaluate("d['a']['zz'] ?? 'idx'", d=data) == "idx"
    assert evaluate("d.a.list[5] ?? 'range'", d=data) == "range"
    assert evaluate("d.a.list[0] ?? 'range'", d=data) == 1


def test_nullish_with_optional_record_fields() -> None:
    profile = RecordT((Field("bio", STRING, optional=True),))
    person = RecordT((Field("profile", profile, optional=True),))
    compiled = compile_expression("p.profile.bio ?? 'none'", {"p": person})
    assert compiled.evaluate(p={}) == "none"
    assert compiled.evaluate(p={"profile": {}}) == "none"
    assert compiled.evaluate(p={"profile": {"bio": "hi"}}) == "hi"


def test_nullish_lets_other_errors_through() -> None:
    fails("(1 / x) ?? 2", x=0)
    fails("d.a[1 / x] ?? 2", d={"a": [1]}, x=0)  # the index expression is not the chain
    fails("d.a.b ?? 2", d={"a": 3})  # selecting from an int is not "missing"
    fails("size(d.a) ?? 2", d={})  # a call is not part of the chain


def test_nullish_evaluates_the_default_only_when_needed() -> None:
    assert evaluate("x ?? (1 / 0)", x=1) == 1


# --------------------------------------------------------------------------- logic


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("false && (1 / 0 == 1)", False),
        ("(1 / 0 == 1) && false", False),
        ("true || (1 / 0 == 1)", True),
        ("(1 / 0 == 1) || true", True),
        ("dyn('horses') && false", False),
        ("false && dyn(32)", False),
        ("x || true", True),
        ("true ? 1 : 1 / 0", 1),
        ("false ? 1 / 0 : 2", 2),
    ],
)
def test_logic_absorbs_errors_the_other_side_decides(text: str, expected: object) -> None:
    assert evaluate(text, x="not a bool") == expected


@pytest.mark.parametrize(
    "text",
    [
        "(1 / 0 == 1) && true",
        "true && (1 / 0 == 1)",
        "(1 / 0 == 1) || false",
        "dyn('a') && true",
        "dyn('a') || dyn('b')",
        "x ? 1 : 2",
        "!x",
    ],
)
def test_logic_errors_when_undecided(text: str) -> None:
    fails(text, x="not a bool")


# --------------------------------------------------------------------------- calls


def test_bound_and_dispatched_calls_agree() -> None:
    for text in ("x + y", "x * y - 1", "x < y", "size(s) + x", "s.startsWith('a')"):
        typed = compile_expression(text, {"x": INT, "y": INT, "s": STRING})
        dynamic = compile_expression(text, {"x": JSON, "y": JSON, "s": JSON})
        assert typed.evaluate(x=3, y=4, s="abc") == dynamic.evaluate(x=3, y=4, s="abc")


def test_checker_overloads_are_bound_and_json_is_dispatched() -> None:
    expr = parse_expression("x + 1")
    _, typed_info = check_expression(expr, {"x": INT})
    assert id(expr) in typed_info.overloads
    _, json_info = check_expression(expr, {"x": JSON})
    assert id(expr) not in json_info.overloads


def test_inline_cache_follows_changing_argument_kinds() -> None:
    compiled = compile_expression("x + y", {"x": JSON, "y": JSON})
    assert compiled.evaluate(x=1, y=2) == 3
    assert compiled.evaluate(x="a", y="b") == "ab"
    assert compiled.evaluate(x=1.5, y=2.0) == 3.5
    assert compiled.evaluate(x=[1], y=[2]) == [1, 2]
    assert compiled.evaluate(x=1, y=2) == 3
    with pytest.raises(EvalError, match="no matching overload"):
        compiled.evaluate(x=1, y="b")


def test_int_overflow_is_an_error() -> None:
    fails("x + 1", "overflow", x=INT64_MAX)
    fails("-x", "overflow", x=INT64_MIN)
    assert evaluate("x - 1", x=INT64_MIN + 1) == INT64_MIN


def test_namespaced_and_receiver_calls() -> None:
    assert evaluate("math.least(3, 1, 2)") == 1
    assert evaluate("math.greatest([1, 5, 2])") == 5
    assert evaluate("base64.encode(b'hi')") == "aGk="
    assert evaluate("'a,b'.split(',')") == ["a", "b"]
    assert evaluate("size('abc') == 'abc'.size()") is True


def test_a_binding_shadows_a_namespace() -> None:
    assert evaluate("math.least", math={"least": 4}) == 4


def test_dyn_and_type() -> None:
    assert evaluate("dyn(1) + dyn(2)") == 3
    assert evaluate("type(dyn([1, 'a']))") == evaluate("list")
    assert evaluate("type(x) == string", x="a") is True


def test_has_tests_presence() -> None:
    assert evaluate("has(m.a) && !has(m.b)", m={"a": None}) is True
    compiled = compile_expression("has(u.email)", {"u": USER})
    assert compiled.evaluate(u={"id": 1, "name": "n"}) is False
    assert compiled.evaluate(u={"id": 1, "name": "n", "email": None}) is False
    assert compiled.evaluate(u={"id": 1, "name": "n", "email": "e"}) is True
    optional = compile_expression("has(u.email)", {"u": OptionalT(USER)})
    assert optional.evaluate(u=None) is False
    fails("has(x.a)", x=1)


def test_unknown_functions_in_unchecked_code_fail_at_run_time() -> None:
    expr = parse_expression("f_unknown(1) || true")
    _, info = check_expression(expr, {})
    assert compile_expr(expr, info, _Slots())([]) is True
    lone = parse_expression("f_unknown(1)")
    _, info = check_expression(lone, {})
    with pytest.raises(EvalError):
        compile_expr(lone, info, _Slots())([])


def test_library_failures_never_leak_python_exceptions() -> None:
    # Lying about a static type makes a bound implementation meet a str.
    lying = compile_expression("x + 1", {"x": INT})
    with pytest.raises(EvalError):
        lying.evaluate(x="text")
    with pytest.raises(EvalError):
        compile_expression("size(x)", {"x": ListT(INT)}).evaluate(x=5)


def test_effects_are_used_for_now_and_env() -> None:
    class Fixed:
        def now(self) -> Timestamp:
            return Timestamp(0)

        def uuid(self) -> str:
            return "u-1"

        def getenv(self, name: str) -> str | None:
            return {"HOME_URL": "http://x"}.get(name)

        def getsecret(self, name: str) -> str | None:
            return "pw" if name == "PW" else None

    with use_effects(Fixed()):
        assert evaluate("now()") == Timestamp(0)
        assert evaluate("uuid() + env('HOME_URL')") == "u-1http://x"
        secret = evaluate("secret('PW') + '!'")
        assert isinstance(secret, Secret)
        assert secret.reveal() == "pw!"
        error = fails("secret('NOPE')")
        assert "NOPE" in error.message


def test_secrets_stay_secret_through_calls() -> None:
    token = Secret("abc", source="T")
    assert evaluate("size(t)", t=token) == 3
    assert evaluate("t == 'abc'", t=token) is True
    assert evaluate("t.startsWith('a')", types={"t": SECRET}, t=token) is True
    for text in ("t + 'x'", "lower(t)", "json_encode({'k': t})"):
        result = evaluate(text, t=token)
        assert isinstance(result, Secret), text
    assert all(isinstance(item, Secret) for item in evaluate("t.split('b')", t=token))  # type: ignore[attr-defined]
    error = fails("int(t)", t=Secret("not-a-number"))
    assert "not-a-number" not in error.message


# --------------------------------------------------------------------------- macros


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("xs.all(x, x > 0)", True),
        ("xs.exists(x, x == 2)", True),
        ("xs.exists_one(x, x > 1)", False),
        ("xs.exists_one(x, x > 2)", True),
        ("xs.map(x, x * 2)", [2, 4, 6]),
        ("xs.map(x, x > 1, x * 10)", [20, 30]),
        ("xs.filter(x, x != 2)", [1, 3]),
        ("m.all(k, k.startsWith('k'))", True),
        ("m.map(k, m[k])", [1, 2]),
        ("m.filter(k, m[k] > 1)", ["k2"]),
        ("[[1, 2], [3]].map(x, x.map(x, x + 1))", [[2, 3], [4]]),
        ("[1].exists(y, [0].exists(y, y == 0))", True),
        ("xs.all(i, v, v == i + 1)", True),
        ("m.exists(k, v, k == 'k2' && v == 2)", True),
        ("xs.existsOne(i, v, i == 0 && v == 1)", True),
        ("xs.transformList(i, v, i * v)", [0, 2, 6]),
        ("xs.transformList(i, v, i > 0, v)", [2, 3]),
        ("m.transformMap(k, v, v * 10)", {"k1": 10, "k2": 20}),
        ("cel.bind(y, xs.map(x, x * x), y[0] + y[2])", 10),
    ],
)
def test_macros(text: str, expected: object) -> None:
    assert evaluate(text, xs=[1, 2, 3], m={"k1": 1, "k2": 2}) == expected


def test_all_and_exists_absorb_errors_decided_elsewhere() -> None:
    assert evaluate("[0, 1].all(x, 1 / x > 5)") is False
    assert evaluate("[1, 0].exists(x, 1 / x == 1)") is True
    fails("[1, 0].all(x, 1 / x == 1)", "division by zero")
    fails("[0, 2].exists(x, 1 / x == 1)", "division by zero")
    fails("[1, 0].exists_one(x, 1 / x == 1)", "division by zero")
    fails("[1, 0].map(x, 1 / x)", "division by zero")
    fails("[1, 'a'].filter(x, x)")
    fails("x.all(y, true)", x=5)


def test_macro_variables_use_resolver_slots() -> None:
    expr = parse_expression("xs.map(x, x + 1)")
    _, info = check_expression(expr, {"xs": ListT(INT)})
    slots = _Slots(["xs"])
    run = compile_expr(expr, info, slots)
    assert len(slots.allocated) == 1  # one slot for `x`, asked for at compile time
    frame: list[object] = [[1, 2], None]
    assert run(frame) == [2, 3]
    assert frame[1] == 2  # the variable's slot holds the last element


# --------------------------------------------------------------------------- stand-alone API


def test_evaluate_doc_example() -> None:
    assert evaluate("size(xs) > 2", xs=[1, 2, 3]) is True


def test_compiled_expressions_are_reusable() -> None:
    compiled = compile_expression("size(xs) > n && xs.all(x, x > 0)", {"xs": ListT(INT), "n": INT})
    assert isinstance(compiled, CompiledExpression)
    assert compiled.evaluate(xs=[1, 2, 3], n=2) is True
    assert compiled.evaluate(xs=[1, -2, 3], n=2) is False
    with pytest.raises(TypeError, match="missing binding"):
        compiled.evaluate(xs=[1])
    with pytest.raises(TypeError, match="unexpected"):
        compiled.evaluate(xs=[1], n=1, extra=2)


def test_parse_and_check_errors_raise_expression_error() -> None:
    with pytest.raises(ExpressionError, match=r"1:3: error\[E\d+\]") as caught:
        evaluate("1 +")
    assert caught.value.diagnostics
    with pytest.raises(ExpressionError, match=r"error\[E\d+\]"):
        compile_expression("x + 'a'", {"x": INT})
    with pytest.raises(ExpressionError, match="unknown name"):
        evaluate("nope + 1")
    assert issubclass(ExpressionError, ValueError)


def test_python_values_are_converted() -> None:
    assert evaluate("x", x=(1, 2)) == [1, 2]
    assert evaluate("x[1]", x={1: "a"}) == "a"
    assert evaluate("x", x=2**70) == float(2**70)
    assert evaluate("x + duration('1s')", x=dt.timedelta(seconds=2)) == Duration(3 * 10**9)
    stamp = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    assert evaluate("x", x=stamp) == Timestamp.from_datetime(stamp)
    with pytest.raises(EvalError):
        evaluate("x", x=object())


def test_types_argument_types_bindings() -> None:
    assert evaluate("x / 2.0", types={"x": FLOAT}, x=3.0) == 1.5
    assert evaluate("x / 2", x=3) == 1  # json: dispatched at run time
    with pytest.raises(ExpressionError, match="no overload"):
        evaluate("x / 2", types={"x": FLOAT}, x=3.0)


# --------------------------------------------------------------------------- property test

LIST_INT = ListT(INT)
MAP_STRING_INT = MapT(STRING, INT)
VARIABLE_TYPES: dict[str, Type] = {
    "i": INT,
    "j": INT,
    "s": STRING,
    "b": BOOL,
    "xs": LIST_INT,
    "m": MAP_STRING_INT,
}
KINDS = ("int", "bool", "string", "list", "map")
_INTS = st.one_of(st.integers(-4, 4), st.sampled_from([INT64_MAX, INT64_MIN, 2**62]))
_STRINGS = st.sampled_from(["", "a", "b", "ab", "k"])


def _literal(kind: str) -> st.SearchStrategy[str]:
    if kind == "int":
        return _INTS.map(lambda v: f"({v})" if v >= 0 else f"(-{-v})")
    if kind == "bool":
        return st.sampled_from(["true", "false"])
    if kind == "string":
        return _STRINGS.map(lambda v: f"'{v}'")
    if kind == "list":
        return st.lists(_INTS.map(str), max_size=3).map(lambda vs: "[" + ", ".join(vs) + "]")
    return st.just("m")


def _leaves(kind: str, loop_vars: tuple[tuple[str, str], ...]) -> st.SearchStrategy[str]:
    names = {"int": ["i", "j"], "bool": ["b"], "string": ["s"], "list": ["xs"], "map": ["m"]}[kind]
    names = names + [name for name, var_kind in loop_vars if var_kind == kind]
    return st.one_of(_literal(kind), st.sampled_from(names))


@functools.cache
def typed_exprs(
    kind: str, depth: int, loop_vars: tuple[tuple[str, str], ...] = ()
) -> st.SearchStrategy[str]:
    """Source text of a well-typed expression of ``kind`` (every compound parenthesised)."""
    leaves = _leaves(kind, loop_vars)
    if depth == 0:
        return leaves

    def sub(k: str) -> st.SearchStrategy[str]:
        return typed_exprs(k, depth - 1, loop_vars)

    def loop_body(k: str, var_kind: str) -> st.SearchStrategy[tuple[str, str]]:
        name = f"v{len(loop_vars)}"
        body = typed_exprs(k, depth - 1, (*loop_vars, (name, var_kind)))
        return body.map(lambda text: (name, text))

    def fmt(template: str, *parts: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
        return st.tuples(*parts).map(lambda p: "(" + template.format(*p) + ")")

    conditional = fmt("{} ? {} : {}", sub("bool"), sub(kind), sub(kind))
    options: list[st.SearchStrategy[str]] = [leaves, conditional]
    if kind == "int":
        options += [
            fmt("{} {} {}", sub("int"), st.sampled_from("+-*/%"), sub("int")),
            fmt("-{}", sub("int")),
            fmt("size({})", st.one_of(sub("string"), sub("list"), sub("map"))),
            fmt("{}[{}]", sub("list"), sub("int")),
            fmt("{}[{}]", sub("map"), sub("string")),
            fmt("{}.{}", sub("map"), st.sampled_from(["a", "k"])),
            fmt("{}[{}] ?? {}", sub("list"), sub("int"), sub("int")),
            fmt("{}.{} ?? {}", sub("map"), st.sampled_from(["a", "k"]), sub("int")),
        ]
    elif kind == "bool":
        options += [
            fmt("{} {} {}", sub("bool"), st.sampled_from(["&&", "||", "==", "!="]), sub("bool")),
            fmt("!{}", sub("bool")),
            fmt(
                "{} {} {}",
                sub("int"),
                st.sampled_from(["<", "<=", ">", ">=", "==", "!="]),
                sub("int"),
            ),
            fmt("{} {} {}", sub("string"), st.sampled_from(["<", "==", "!="]), sub("string")),
            fmt("{} == {}", sub("list"), sub("list")),
            fmt("{} in {}", sub("int"), sub("list")),
            fmt("{} in {}", sub("string"), sub("map")),
            fmt("has({}.{})", sub("map"), st.sampled_from(["a", "k"])),
            st.tuples(
                sub("list"),
                st.sampled_from(["all", "exists", "exists_one"]),
                loop_body("bool", "int"),
            ).map(lambda p: f"({p[0]}.{p[1]}({p[2][0]}, {p[2][1]}))"),
            st.tuples(
                sub("map"), st.sampled_from(["all", "exists"]), loop_body("bool", "string")
            ).map(lambda p: f"({p[0]}.{p[1]}({p[2][0]}, {p[2][1]}))"),
        ]
    elif kind == "string":
        options += [
            fmt("{} + {}", sub("string"), sub("string")),
            # interpolations hold leaves only: no nested quotes or braces
            fmt('"<${{{}}}|${{{}}}>"', _leaves("int", loop_vars), _leaves("string", loop_vars)),
        ]
    elif kind == "list":
        options += [
            fmt("[{}, {}]", sub("int"), sub("int")),
            fmt("{} + {}", sub("list"), sub("list")),
            st.tuples(sub("list"), loop_body("int", "int")).map(
                lambda p: f"({p[0]}.map({p[1][0]}, {p[1][1]}))"
            ),
            st.tuples(sub("list"), loop_body("bool", "int")).map(
                lambda p: f"({p[0]}.filter({p[1][0]}, {p[1][1]}))"
            ),
        ]
    else:
        options.append(fmt("{{({}): {}}}", sub("string"), sub("int")))
    return st.one_of(options)


class RefError(Exception):
    """An evaluation error of the reference evaluator."""


def _int(value: int) -> int:
    if not INT64_MIN <= value <= INT64_MAX:
        raise RefError("overflow")
    return value


def _divide(left: int, right: int) -> int:
    if right == 0:
        raise RefError("division by zero")
    quotient = abs(left) // abs(right)
    return _int(quotient if (left < 0) == (right < 0) else -quotient)


def _modulo(left: int, right: int) -> int:
    if right == 0:
        raise RefError("division by zero")
    if left == INT64_MIN and right == -1:  # as cel-go: the quotient overflows, so does `%`
        raise RefError("overflow")
    remainder = abs(left) % abs(right)
    return _int(-remainder if left < 0 else remainder)


_ARITHMETIC: dict[str, Callable[[int, int], int]] = {
    "+": lambda a, b: _int(a + b),
    "-": lambda a, b: _int(a - b),
    "*": lambda a, b: _int(a * b),
    "/": _divide,
    "%": _modulo,
}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class Reference:
    """A direct tree-walking evaluator for the generated subset (CEL semantics)."""

    def __init__(self, env: Mapping[str, object]) -> None:
        self.env = dict(env)

    def eval(self, node: ast.Expr) -> Any:
        return getattr(self, "_" + type(node).__name__)(node)

    def _Literal(self, node: ast.Literal) -> Any:
        return node.value

    def _Name(self, node: ast.Name) -> Any:
        return self.env[node.id]

    def _Template(self, node: ast.Template) -> Any:
        return "".join(p if isinstance(p, str) else str(self.eval(p)) for p in node.parts)

    def _ListLit(self, node: ast.ListLit) -> Any:
        return [self.eval(item) for item in node.items]

    def _MapLit(self, node: ast.MapLit) -> Any:
        result: dict[str, Any] = {}
        for entry in node.entries:
            key = self.eval(entry.key)
            if key in result:
                raise RefError("repeated key")
            result[key] = self.eval(entry.value)
        return result

    def _Select(self, node: ast.Select) -> Any:
        mapping = self.eval(node.operand)
        if node.field not in mapping:
            raise RefError("no such key")
        return mapping[node.field]

    def _Index(self, node: ast.Index) -> Any:
        container = self.eval(node.operand)
        key = self.eval(node.index)
        if isinstance(container, list) and not 0 <= key < len(container):
            raise RefError("index out of range")
        if isinstance(container, dict) and key not in container:
            raise RefError("no such key")
        return container[key]

    def _Unary(self, node: ast.Unary) -> Any:
        if node.op == "-" and isinstance(node.operand, ast.Literal):
            return -node.operand.value  # type: ignore[operator]
        value = self.eval(node.operand)
        return (not value) if node.op == "!" else _int(-value)

    def _Conditional(self, node: ast.Conditional) -> Any:
        return self.eval(node.then) if self.eval(node.cond) else self.eval(node.orelse)

    def _Binary(self, node: ast.Binary) -> Any:
        op = node.op
        if op in ("&&", "||"):
            return self._logic(node)
        if op == "??":
            return self._nullish(node)
        left, right = self.eval(node.left), self.eval(node.right)
        if op in _ARITHMETIC and isinstance(left, int):
            return _ARITHMETIC[op](left, right)
        if op == "+":
            return left + right
        if op in _COMPARE:
            return _COMPARE[op](left, right)
        if op == "==":
            return left == right
        if op == "!=":
            return left != right
        return left in right  # `in`

    def _logic(self, node: ast.Binary) -> Any:
        decisive = node.op == "||"  # the value that decides the result
        outcomes = []
        for side in (node.left, node.right):
            try:
                value = self.eval(side)
            except RefError as error:
                outcomes.append(error)
                continue
            if value is decisive:
                return decisive
            outcomes.append(value)
        for outcome in outcomes:
            if isinstance(outcome, RefError):
                raise outcome
        return not decisive

    def _nullish(self, node: ast.Binary) -> Any:
        try:
            value = self._chain(node.left)
        except _Missing:
            value = None
        return self.eval(node.right) if value is None else value

    def _chain(self, node: ast.Expr) -> Any:
        if isinstance(node, ast.Select):
            mapping = self._chain(node.operand)
            if node.field not in mapping:
                raise _Missing
            return mapping[node.field]
        if isinstance(node, ast.Index):
            container = self._chain(node.operand)
            key = self.eval(node.index)
            if isinstance(container, list) and not 0 <= key < len(container):
                raise _Missing
            if isinstance(container, dict) and key not in container:
                raise _Missing
            return container[key]
        return self.eval(node)

    def _Call(self, node: ast.Call) -> Any:
        if node.func == "size":
            return len(self.eval(node.args[0]))
        if node.func == "has":
            select = node.args[0]
            assert isinstance(select, ast.Select)
            return select.field in self.eval(select.operand)
        assert node.target is not None
        items = list(self.eval(node.target))
        var = node.args[0]
        assert isinstance(var, ast.Name)
        results: list[Any] = []
        for item in items:
            self.env[var.id] = item
            try:
                results.append(self.eval(node.args[1]))
            except RefError as error:
                results.append(error)
        return self._comprehension(node.func, items, results)

    def _comprehension(self, func: str, items: list[Any], results: list[Any]) -> Any:
        if func in ("all", "exists"):
            decisive = func == "exists"
            if decisive in results:
                return decisive
            errors = [r for r in results if isinstance(r, RefError)]
            if errors:
                raise errors[0]
            return not decisive
        errors = [r for r in results if isinstance(r, RefError)]
        if errors:
            raise errors[0]
        if func == "exists_one":
            return results.count(True) == 1
        if func == "map":
            return results
        return [item for item, keep in zip(items, results, strict=True) if keep]


class _Missing(Exception):
    """A missing field/key/index on the left chain of ``??``."""


def _strictly_equal(left: Any, right: Any) -> bool:
    if type(left) is not type(right):
        return False
    if type(left) is list:
        return len(left) == len(right) and all(
            _strictly_equal(a, b) for a, b in zip(left, right, strict=True)
        )
    if type(left) is dict:
        return left.keys() == right.keys() and all(
            _strictly_equal(v, right[k]) for k, v in left.items()
        )
    return bool(left == right)


_ENVIRONMENTS = st.fixed_dictionaries(
    {
        "i": _INTS,
        "j": _INTS,
        "s": _STRINGS,
        "b": st.booleans(),
        "xs": st.lists(_INTS, max_size=3),
        "m": st.dictionaries(_STRINGS, _INTS, max_size=3),
    }
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(KINDS).flatmap(lambda kind: typed_exprs(kind, 3)),
    _ENVIRONMENTS,
)
def test_compiled_evaluator_agrees_with_reference(text: str, env: dict[str, Any]) -> None:
    compiled = compile_expression(text, VARIABLE_TYPES)  # well-typed by construction
    expected: object
    try:
        expected = Reference(env).eval(parse_expression(text))
    except RefError:
        expected = RefError
    try:
        actual: object = compiled.evaluate(**env)
    except EvalError:
        actual = RefError
    if expected is RefError or actual is RefError:
        assert expected is actual, (text, env, expected, actual)
    else:
        assert _strictly_equal(expected, actual), (text, env, expected, actual)


@settings(max_examples=100, deadline=None)
@given(st.sampled_from(KINDS).flatmap(lambda kind: typed_exprs(kind, 2)), _ENVIRONMENTS)
def test_dynamic_dispatch_agrees_with_bound_calls(text: str, env: dict[str, Any]) -> None:
    bound = compile_expression(text, VARIABLE_TYPES)
    dynamic = compile_expression(text, {name: JSON for name in VARIABLE_TYPES})
    outcomes = []
    for compiled in (bound, dynamic):
        try:
            outcomes.append(compiled.evaluate(**env))
        except EvalError:
            outcomes.append(RefError)
    assert _strictly_equal(outcomes[0], outcomes[1]) or outcomes[0] is outcomes[1] is RefError


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.deferred(lambda: strategies.expressions(max_leaves=8)))  # deferred: a short repr
def test_any_tree_compiles_and_only_raises_eval_error(expr: ast.Expr) -> None:
    """Unchecked, ill-typed trees (the checker's errors ignored) still compile,
    and running them gives a value or an ``EvalError`` -- nothing else."""
    _, info = check_expression(expr, {"x": JSON, "items": JSON})
    slots = _Slots(["x", "items"])
    run = compile_expr(expr, info, slots)
    frame: list[object] = [{"a": [1, None], "b": "t"}, [1, "a", 2.5]]
    frame += [None] * len(slots.allocated)
    with contextlib.suppress(EvalError):
        run(frame)


# --------------------------------------------------------------------------- helpers


class _Slots:
    """A minimal ``NameResolver``: named bindings, then macro variables."""

    def __init__(self, names: list[str] | None = None) -> None:
        self.names = {name: slot for slot, name in enumerate(names or [])}
        self.allocated: dict[Symbol, int] = {}

    def read(self, symbol: Symbol) -> Compiled | None:
        if symbol.kind == "macro":
            return operator.itemgetter(self.slot(symbol))
        slot = self.names.get(symbol.name)
        return operator.itemgetter(slot) if slot is not None else None

    def slot(self, symbol: Symbol) -> int:
        if symbol not in self.allocated:
            self.allocated[symbol] = len(self.names) + len(self.allocated)
        return self.allocated[symbol]


def test_nested_comprehensions_hit_the_iteration_budget_instead_of_hanging() -> None:
    import time

    import flowc
    from flowc.common.values import EvalError

    started = time.monotonic()
    with pytest.raises(EvalError, match="comprehension steps"):
        flowc.evaluate("range(100000).map(x, range(1000).map(y, y)).size()")
    assert time.monotonic() - started < 30
    assert flowc.evaluate("range(1000).map(x, x * 2).size()") == 1000
