"""Flow definitions in JSON and YAML (the step-list form): reading them into the AST.

Covered here: the positioned document readers (offsets, scalar typing, duplicate
keys, the bounds on nesting and aliases, syntax errors), ``${...}`` expressions and
the positions of their diagnostics through JSON escapes and YAML quoting and block
scalars, the translation of every step type into the tree the `.flow` source
gives, schema validation (every error at once, with path and position), and the
agreement between the translator's own structural check and the JSON Schema.
Checker diagnostics inside definitions are in ``tests/checker/*.yaml``; conversion
back and round trips in ``test_definitions_convert.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowc.compiler import ast, compile_source
from flowc.compiler.definitions import read_definition, schema_text
from flowc.compiler.definitions.document import (
    MAX_DEPTH,
    DocumentError,
    Mapping,
    read_document,
    to_plain,
)
from flowc.compiler.definitions.yaml_reader import resolve_plain
from flowc.compiler.diagnostics import Diagnostic
from flowc.compiler.parser import parse_expression, parse_module
from tests.strategies import field_names, names

ROOT = Path(__file__).resolve().parent.parent
ISSUE_EXAMPLE = ROOT / "examples" / "user_registration_flow.json"


def read(text: str, name: str = "flow.yaml") -> tuple[ast.Module | None, list[Diagnostic]]:
    return read_definition(name, text)


def module_of(text: str, name: str = "flow.yaml") -> ast.Module:
    module, diagnostics = read(text, name)
    assert module is not None, [f"{d.span} {d.code} {d.message}" for d in diagnostics]
    assert not [d for d in diagnostics if d.is_error]
    return module


def flow_body(text: str) -> tuple[ast.Stmt, ...]:
    flow = module_of(text).decls[-1]
    assert isinstance(flow, ast.FlowDecl)
    return flow.body


def codes(diagnostics: list[Diagnostic]) -> list[tuple[str, int, int]]:
    return [(d.code, d.span.line, d.span.col) for d in diagnostics]


# --------------------------------------------------------------------------- documents


def test_json_nodes_know_their_offsets() -> None:
    text = '{"a": [1, {"b": "x\\"y"}], "c": -1.5e3, "d": null}'
    document = read_document("json", "f.json", text)
    assert to_plain(document.root) == json.loads(text)
    root = document.root
    assert isinstance(root, Mapping)
    for key, value in root.entries:
        assert text[key.start : key.end] == json.dumps(key.value)
        assert json.loads(text[value.start : value.end]) == to_plain(value)


def test_yaml_nodes_know_their_offsets_and_types() -> None:
    text = "é: 'ü'\nlist: [1, 0x1F, 0o17, 1e3, .inf, ~, on, yes, '1']\n200: x\nblock: |\n  a\n"
    document = read_document("yaml", "f.yaml", text)
    assert to_plain(document.root) == {
        "é": "ü",
        "list": [1, 31, 15, 1000.0, float("inf"), None, "on", "yes", "1"],
        "200": "x",
        "block": "a\n",
    }
    root = document.root
    assert isinstance(root, Mapping)
    key, value = root.entries[0]
    assert (text[key.start : key.end], text[value.start : value.end]) == ("é", "'ü'")
    assert document.span(value)[1:3] == (1, 4)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("", None),
        ("~", None),
        ("Null", None),
        ("TRUE", True),
        ("false", False),
        ("-12", -12),
        ("+3", 3),
        ("0x1f", 31),
        ("0o7", 7),
        ("1.5", 1.5),
        (".5", 0.5),
        ("-.INF", float("-inf")),
        ("1e-3", 0.001),
        ("yes", "yes"),
        ("0b101", "0b101"),
        ("1_000", "1_000"),
        ("12:30", "12:30"),
        ("user-service", "user-service"),
    ],
)
def test_plain_scalars_follow_the_yaml_1_2_core_schema(text: str, value: object) -> None:
    assert resolve_plain(text) == value


def test_the_pure_python_yaml_parser_gives_the_same_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without ruamel's C extension (``ruamel.yaml.clib``) its Python parser is used."""
    path = ROOT / "examples" / "order_fulfilment.flow.yaml"
    text = path.read_text(encoding="utf-8")

    def offsets(kind_text: str) -> list[tuple[int, int, Any]]:
        document = read_document("yaml", "f.yaml", kind_text)
        found: list[tuple[int, int, Any]] = []
        stack = [document.root]
        while stack:
            node = stack.pop()
            found.append((node.start, node.end, type(node).__name__))
            if isinstance(node, Mapping):
                stack += [value for _, value in node.entries]
                found += [(key.start, key.end, key.value) for key, _ in node.entries]
            elif hasattr(node, "items"):
                stack += node.items  # type: ignore[attr-defined]
        return found

    with_c = offsets(text)
    monkeypatch.setitem(sys.modules, "ruamel.yaml.cyaml", None)
    assert offsets(text) == with_c
    assert to_plain(read_document("yaml", "f", text).root)["name"] == "fulfil_order"


def test_explicit_core_tags_and_no_others() -> None:
    assert to_plain(read_document("yaml", "f", "a: !!str 12\nb: !!float 1\n").root) == {
        "a": "12",
        "b": 1.0,
    }
    for text in ("a: !!python/object:os.system x\n", "a: !custom x\n", "a: !!int x\n"):
        with pytest.raises(DocumentError):
            read_document("yaml", "f", text)


def test_duplicate_keys_are_collected() -> None:
    for kind, text in (("json", '{"a": 1, "b": 2, "a": 3}'), ("yaml", "a: 1\nb: 2\na: 3\n")):
        document = read_document(kind, "f", text)  # type: ignore[arg-type]
        assert [k.value for k in document.duplicate_keys] == ["a"]


@pytest.mark.parametrize("kind", ["json", "yaml"])
def test_deep_nesting_is_refused_not_crashed_on(kind: str) -> None:
    """ruamel's C composer overflows the C stack near 100,000 `[`: the reader stops first."""
    for depth in (MAX_DEPTH + 1, 100_000):
        with pytest.raises(DocumentError, match="nested more than"):
            read_document(kind, "f", "[" * depth + "]" * depth)  # type: ignore[arg-type]
    read_document(kind, "f", "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1))  # type: ignore[arg-type]


def test_alias_expansion_is_bounded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 10)}]")
    with pytest.raises(DocumentError, match="expands to more than"):
        read_document("yaml", "f", "\n".join(lines) + "\n")
    shared = read_document("yaml", "f", "a: &x {k: 1}\nb: *x\n")
    assert to_plain(shared.root) == {"a": {"k": 1}, "b": {"k": 1}}


@pytest.mark.parametrize(
    ("kind", "text", "message", "offset"),
    [
        ("json", '{"a": 1,}', "Expecting property name", 8),
        ("json", '{"a": NaN}', "NaN is not JSON", 6),
        ("yaml", "a: [1\n", "expected ','", 6),
        ("yaml", "---\na: 1\n---\nb: 2\n", "one YAML document", 9),
        ("yaml", "", "no YAML document", 0),
        ("yaml", "a: *nothing\n", "unknown anchor", 3),
        ("yaml", "? [a]\n: b\n", "keys must be plain text", 2),
        ("yaml", "a: \x07\n", "control characters", 3),
    ],
)
def test_malformed_documents(kind: str, text: str, message: str, offset: int) -> None:
    with pytest.raises(DocumentError, match=message) as raised:
        read_document(kind, "f", text)  # type: ignore[arg-type]
    assert raised.value.start == offset


def test_syntax_errors_are_positioned_diagnostics() -> None:
    _, diagnostics = read('{\n  "name": "x",\n  "steps": [\n}\n', "f.json")
    assert codes(diagnostics) == [("E0501", 4, 1)]
    assert diagnostics[0].message.startswith("invalid JSON:")


# --------------------------------------------------------------------------- the issue's example


def test_the_issue_example_reads_as_the_flow_a_person_would_write() -> None:
    module = module_of(ISSUE_EXAMPLE.read_text(encoding="utf-8"), str(ISSUE_EXAMPLE))
    expected = parse_module(
        """
        flow user_registration_flow(user_id: json) {
            step check_user = GET "http://user-service/check" {
                query {user_id: user_id}
            }
            if check_user.body.exists == false {
                step create_user = POST "http://user-service/create" {
                    json {user_id: user_id}
                }
            }
        }
        """
    )
    assert module == expected


def test_the_issue_example_checks_cleanly() -> None:
    compilation = compile_source(ISSUE_EXAMPLE.read_text(encoding="utf-8"), "example.json")
    assert compilation.diagnostics == []


# --------------------------------------------------------------------------- expressions


def expression_of(value: str, style: str = "json") -> tuple[ast.Expr, str]:
    """The expression of ``value`` as a set step's value, and the document text."""
    if style == "json":
        text = json.dumps({"name": "f", "steps": [{"id": "v", "type": "set", "value": value}]})
        name = "f.json"
    else:
        text = f"name: f\nsteps:\n  - id: v\n    type: set\n    value: {value}\n"
        name = "f.yaml"
    statement = flow_body_named(text, name)[0]
    assert isinstance(statement, ast.LetStmt) and isinstance(statement.value, ast.Expr)
    return statement.value, text


def flow_body_named(text: str, name: str) -> tuple[ast.Stmt, ...]:
    flow = module_of(text, name).decls[-1]
    assert isinstance(flow, ast.FlowDecl)
    return flow.body


def test_a_string_that_is_one_expression_is_its_value() -> None:
    expr, _ = expression_of("${size([1, 2]) > 1}")
    assert expr == parse_expression("size([1, 2]) > 1")
    template, _ = expression_of("n=${size([1, 2])}!")
    assert template == parse_expression('"n=${size([1, 2])}!"')
    plain, _ = expression_of("no interpolation $ here")
    assert plain == ast.Literal("string", "no interpolation $ here")


def test_double_dollar_writes_a_literal_interpolation() -> None:
    expr, _ = expression_of("cost: $${price} and ${1 + 1}")
    assert expr == ast.Template(("cost: ${price} and ", parse_expression("1 + 1")))
    literal, _ = expression_of("$${x}")
    assert literal == ast.Literal("string", "${x}")


@pytest.mark.parametrize(
    ("value", "style"),
    [
        ("${1 + 1}", "json"),
        ("a ${1 + 1} b ${2 * 3}", "json"),
        ('"${1 + 1}"', "yaml"),
        ("'x ${1 + 1}'", "yaml"),
        ("${1 + 1}", "yaml"),
    ],
)
def test_expression_spans_point_into_the_document(value: str, style: str) -> None:
    expr, text = expression_of(value, style)
    for node in ast.walk(expr):
        if isinstance(node, ast.Binary):
            assert text[node.span.start : node.span.end] in ("1 + 1", "2 * 3")
            line_start = text.rfind("\n", 0, node.span.start) + 1
            assert node.span.col == node.span.start - line_start + 1


def test_an_expression_written_twice_has_the_spans_of_each_place() -> None:
    """The second is the first's tree moved (``TemplateReader.parsed``): moved exactly."""
    text = (
        "name: f\nsteps:\n  - {id: a, type: set, value: '${size([1, 2]) + 1}'}\n"
        "  - id: b\n    type: set\n    value:   '${size([1, 2]) + 1}'\n"
    )
    for statement in flow_body(text):
        assert isinstance(statement, ast.LetStmt) and isinstance(statement.value, ast.Binary)
        for node in ast.walk(statement.value):
            start, end = node.span.start, node.span.end
            line_start = text.rfind("\n", 0, start) + 1
            assert (node.span.line, node.span.col) == (
                text.count("\n", 0, start) + 1,
                start - line_start + 1,
            )
            assert node.span.end_col - node.span.col == end - start
        assert text[statement.value.span.start : statement.value.span.end] == "size([1, 2]) + 1"


def error_at(value: str, style: str) -> tuple[Diagnostic, str]:
    if style == "json":
        text = json.dumps({"name": "f", "steps": [{"id": "v", "type": "set", "value": value}]})
        _, diagnostics = read(text, "f.json")
    else:
        text = f"name: f\nsteps:\n  - id: v\n    type: set\n    value: {value}\n"
        _, diagnostics = read(text, "f.yaml")
    errors = [d for d in diagnostics if d.is_error]
    assert len(errors) == 1, errors
    return errors[0], text


def line_col_of(text: str, needle: str) -> tuple[int, int]:
    offset = text.index(needle)
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


@pytest.mark.parametrize(
    ("value", "style"),
    [
        ("${1 +* 2}", "json"),
        ("${1 +* 2}", "yaml"),
        ("'say ${1 +* 2}'", "yaml"),
        ('"tab\\t${1 +* 2}"', "yaml"),  # an escape before the expression
        ('x\\"y ${1 +* 2}', "json"),  # a JSON escape before it
    ],
)
def test_syntax_errors_inside_expressions_point_at_the_offending_character(
    value: str, style: str
) -> None:
    error, text = error_at(value, style)
    assert error.code == "E0001"
    assert (error.span.line, error.span.col) == line_col_of(text, "* 2")


def test_expressions_in_literal_blocks_are_mapped_line_by_line() -> None:
    text = "name: f\nsteps:\n  - id: v\n    type: set\n    value: |-\n      ${[\n        1 +* 2]}\n"
    _, diagnostics = read(text)
    assert codes(diagnostics) == [("E0001", 7, 12)]


def test_an_expression_that_spans_a_folded_line_points_at_its_scalar() -> None:
    """Where the decoded text is not in the file verbatim, the scalar is the place."""
    text = 'name: f\nsteps:\n  - id: v\n    type: set\n    value: "${1 +\n      * 2}"\n'
    _, diagnostics = read(text)
    assert codes(diagnostics) == [("E0001", 5, 12)]


@pytest.mark.parametrize(
    ("value", "problem"),
    [("${1 + 1", "never closed"), ("a ${ } b", "holds no expression")],
)
def test_bad_interpolations(value: str, problem: str) -> None:
    error, _ = error_at(value, "json")
    assert error.code == "E0011" and problem in error.message


@settings(max_examples=200, deadline=None)
@given(st.lists(field_names(), max_size=4), names())
def test_the_dotted_fast_path_builds_what_the_parser_builds(fields: list[str], head: str) -> None:
    text = ".".join([head, *fields])
    document = json.dumps(
        {"name": "f", "steps": [{"id": "v", "type": "set", "value": f"${{{text}}}"}]}
    )
    body = flow_body_named(document, "f.json")
    statement = body[0]
    assert isinstance(statement, ast.LetStmt)
    expected = parse_expression(text)
    assert statement.value == expected
    offset = document.index("${" + text + "}") + 2
    for built, parsed in zip(ast.walk(statement.value), ast.walk(expected), strict=True):
        assert (built.span.start - offset, built.span.end - offset) == (
            parsed.span.start,
            parsed.span.end,
        )


_literals = st.one_of(
    st.sampled_from(["true", "false", "null", "0", "10", "123456789012345678"]),
    st.text(
        st.characters(blacklist_characters="\"'\\$", min_codepoint=32, max_codepoint=0x7E),
        max_size=5,
    ).map(lambda s: f'"{s}"'),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(field_names(), max_size=3),
    names(),
    st.sampled_from(["==", "!=", "<", "<=", ">", ">="]),
    _literals,
    st.sampled_from(["", " "]),
)
def test_the_comparison_fast_path_builds_what_the_parser_builds(
    fields: list[str], head: str, op: str, literal: str, space: str
) -> None:
    text = f"{'.'.join([head, *fields])}{space}{op}{space}{literal}"
    document = f"name: f\nsteps:\n  - id: v\n    type: set\n    value: '${{{text}}}'\n"
    statement = flow_body_named(document, "f.yaml")[0]
    assert isinstance(statement, ast.LetStmt)
    expected = parse_expression(text)
    assert statement.value == expected
    offset = document.index("${" + text + "}") + 2
    for built, parsed in zip(ast.walk(statement.value), ast.walk(expected), strict=True):
        assert (built.span.start - offset, built.span.end - offset) == (
            parsed.span.start,
            parsed.span.end,
        )


# --------------------------------------------------------------------------- names


def test_inputs_are_inferred_in_the_order_first_read() -> None:
    text = json.dumps(
        {
            "name": "f",
            "steps": [
                {"type": "log", "message": "${input.b} ${input.a}"},
                {"type": "log", "message": "${input.b}"},
            ],
        }
    )
    flow = module_of(text, "f.json").decls[-1]
    assert isinstance(flow, ast.FlowDecl)
    assert [(p.name, p.type) for p in flow.params] == [
        ("b", ast.TypeName("json")),
        ("a", ast.TypeName("json")),
    ]


def test_declared_inputs_are_typed_and_checked() -> None:
    text = (
        "name: f\ninput:\n  n: int\n  tags: {type: 'list[string]', default: []}\n  raw: {}\n"
        "steps:\n  - type: log\n    message: ${input.n} ${input.nn}\n"
    )
    _, diagnostics = read(text)
    assert codes(diagnostics) == [("E0508", 8, 27)]
    assert "n, raw, tags" in str(diagnostics[0].help)
    flow = module_of(text.replace("input.nn", "input.raw")).decls[-1]
    assert isinstance(flow, ast.FlowDecl)
    assert [print_param(p) for p in flow.params] == [
        "n: int",
        "tags: list[string] = []",
        "raw: json",
    ]


def print_param(param: ast.Param) -> str:
    from flowc.compiler.printer import print_expr, print_type

    default = "" if param.default is None else f" = {print_expr(param.default)}"
    return f"{param.name}: {print_type(param.type)}{default}"


def test_input_alone_and_input_as_a_name_are_errors() -> None:
    _, diagnostics = read("name: f\nsteps:\n  - type: log\n    message: ${size(input)}\n")
    assert codes(diagnostics) == [("E0509", 4, 21)]
    _, diagnostics = read("name: f\nsteps:\n  - id: input\n    type: set\n    value: 1\n")
    assert codes(diagnostics) == [("E0505", 3, 9)]


def test_response_is_the_body_of_http_and_call_steps_only() -> None:
    text = (
        "name: f\nsteps:\n"
        "  - {id: a, type: http, request: {url: 'http://x/'}}\n"
        "  - {id: b, type: call, call: {flow: g}}\n"
        "  - {id: c, type: set, value: {x: 1}}\n"
        "  - {type: log, message: '${a.response} ${b.response} ${c.response} ${a.status}'}\n"
    )
    log = flow_body(text)[-1]
    assert isinstance(log, ast.LogStmt)
    assert log.value == parse_expression('"${a.body} ${b.body} ${c.response} ${a.status}"')


# --------------------------------------------------------------------------- steps


def same_as(definition: str, source: str) -> None:
    """The definition reads as the tree of the `.flow` source (a flow `f` around it)."""
    assert module_of(definition) == parse_module(source)


def test_every_step_type() -> None:
    same_as(
        """
name: f
input: {items: 'list[int]'}
steps:
  - id: v
    type: set
    value: 0
    mutable: true
  - type: set
    assign: v
    value: ${v + 1}
  - type: parallel
    branches:
      - {id: a, type: http, request: {url: 'http://x/a'}}
      - steps:
          - {type: sleep, duration: 1m30s}
          - {type: log, message: hi}
  - id: doubled
    type: foreach
    items: ${input.items}
    as: item
    index: i
    parallel: 4
    steps:
      - {type: assert, that: '${item >= 0}', message: negative}
    output: ${item * 2}
  - type: foreach
    items: [1, 2]
    as: n
    parallel: true
    steps: []
  - type: switch
    cases:
      - {condition: '${v > 1}', steps: [{type: fail, error: {code: big}}]}
      - {condition: true, steps: [{type: return}]}
    default: [{type: return, value: '${doubled}'}]
  - {id: r, type: call, call: {flow: lib.g, args: [1, '${v}'], timeout: 2s}, on_error: skip}
output: done
""",
        """
flow f(items: list[int]) {
    var v = 0
    v = v + 1
    parallel {
        step a = GET "http://x/a"
        branch {
            sleep 1m30s
            log "hi"
        }
    }
    let doubled = for i, item in items parallel 4 {
        assert item >= 0, "negative"
        yield item * 2
    }
    for n in [1, 2] parallel {}
    if v > 1 { fail {code: "big"} } else if true { return } else { return doubled }
    step r = call lib.g(1, v) { timeout 2s on error skip }
    return "done"
}
""",
    )


def test_http_steps_with_every_setting() -> None:
    same_as(
        """
name: f
services:
  api:
    url: http://api
    headers: {Accept: application/json}
    params: {v: 2}
    auth: {basic: {username: me, password: "${secret('PW')}"}}
    timeout: 2s
    retry: 3
    circuit_breaker: {failures: 5, within: 30s, cooldown: 15s}
    rate_limit: {count: 100, per: 1s}
    concurrency: 20
    accept: [200, "200..299", 404]
steps:
  - id: made
    type: http
    request:
      method: POST
      service: api
      path: /things/${1}
      params: {q: x}
      headers: {X-Id: "${uuid()}"}
      body: {a: [1, 2.5, -3, null, true]}
      auth: {header: {name: X-Key, value: k}}
      timeout: 500ms
      idempotency_key: key-${run.id}
    response_type: '{id: int}'
    accept: [201]
    retry:
      count: 2
      backoff: {kind: exponential, delay: 100ms, max: 1s, factor: 1.5}
      jitter: true
      when: ${error.status >= 500}
    on_error: fail
    fallback: {id: 0}
    compensate:
      - id: undo
        type: http
        request: {method: DELETE, service: api, path: "/things/${made.response.id}"}
  - id: text
    type: http
    request: {method: PUT, url: 'http://x/', body: plain text, auth: {bearer: t}}
""",
        """
service api "http://api" {
    headers {Accept: "application/json"}
    query {v: 2}
    auth basic "me", secret("PW")
    timeout 2s
    retry 3
    circuit_breaker 5 failures within 30s cooldown 15s
    rate_limit 100 per 1s
    concurrency 20
    accept 200, 200..299, 404
}
flow f() {
    step made = POST api "/things/${1}" -> {id: int} {
        query {q: "x"}
        headers {"X-Id": uuid()}
        json {a: [1, 2.5, -3, null, true]}
        auth header "X-Key", "k"
        timeout 500ms
        idempotency_key "key-${run.id}"
        accept 201
        retry 2 backoff exponential 100ms max 1s factor 1.5 jitter when error.status >= 500
        on error fail
        fallback {id: 0}
        compensate {
            step undo = DELETE api "/things/${made.body.id}"
        }
    }
    step text = PUT "http://x/" {
        body "plain text"
        auth bearer "t"
    }
}
""",
    )


def test_step_wrappers_nest_condition_timeout_retry() -> None:
    same_as(
        """
name: f
imports: [lib.flow, {path: other.flow, as: other}]
types: {Id: int}
output_type: Id
timeout: 1m
steps:
  - type: parallel
    condition: ${1 > 0}
    timeout: 5s
    retry: {count: 1, backoff: {kind: fixed, delay: 10ms}}
    branches: [{type: sleep, duration: 1s}]
  - {id: a, type: http, request: {url: 'http://x/'}, timeout: 3s, retry: 2, condition: true}
output: 1
""",
        """
import "lib.flow"
import "other.flow" as other
type Id = int
flow f() -> Id timeout 1m {
    if 1 > 0 {
        timeout 5s {
            retry 1 backoff fixed 10ms {
                parallel { sleep 1s }
            }
        }
    }
    if true {
        timeout 3s {
            step a = GET "http://x/" { retry 2 }
        }
    }
    return 1
}
""",
    )


def test_wait_steps_are_not_supported_yet() -> None:
    _, diagnostics = read("name: f\nsteps:\n  - id: w\n    type: wait\n    signal: approved\n")
    assert codes(diagnostics) == [("E0507", 4, 11)]
    assert "not supported yet" in diagnostics[0].message


def test_reserved_words_cannot_name_steps() -> None:
    _, diagnostics = read("name: f\nsteps:\n  - {id: let, type: set, value: 1}\n")
    assert codes(diagnostics) == [("E0006", 3, 10)]


def test_duplicate_keys_are_errors() -> None:
    _, diagnostics = read('{"name": "f", "steps": [], "name": "g"}', "f.json")
    assert codes(diagnostics) == [("E0506", 1, 28)]


# --------------------------------------------------------------------------- structure


def test_every_structural_error_is_reported_at_once_with_path_and_position() -> None:
    text = """\
name: bad flow
steps:
  - id: check
    type: http
    request:
      method: GETX
      url: http://x/check
      parms: {a: 1}
    retry: {count: x}
    timeout: 5
  - {id: make, type: htp}
  - {type: set, value: 1}
"""
    module, diagnostics = read(text)
    assert module is None
    assert codes(diagnostics) == [
        ("E0504", 1, 7),
        ("E0504", 6, 15),
        ("E0502", 8, 7),
        ("E0504", 9, 20),
        ("E0504", 10, 14),
        ("E0504", 11, 22),
        ("E0503", 12, 6),
    ]
    methods = "`GET`, `POST`, `PUT`, `PATCH`, `DELETE`, `HEAD`, `OPTIONS`"
    assert [d.message for d in diagnostics] == [
        "`name` must be a name: letters, digits and `_`, not starting with a digit, "
        'found "bad flow"',
        f'`steps[0].request.method` must be one of {methods}, found "GETX"',
        "unknown key `parms` in `steps[0].request`",
        '`steps[0].retry.count` must be an integer, or a `${...}` expression, found "x"',
        "`steps[0].timeout` must be a duration such as `250ms`, `2s`, `1m30s`, "
        "or a `${...}` expression, found 5",
        "`steps[1].type` must be one of `http`, `call`, `parallel`, `foreach`, `switch`, "
        '`sleep`, `wait`, `set`, `fail`, `return`, `log`, `assert`, found "htp"',
        "`steps[2]` needs `id`",
    ]
    unknown = next(d for d in diagnostics if d.code == "E0502")
    assert unknown.help is not None and unknown.help.startswith("did you mean `params`?")


SCHEMA = json.loads(schema_text())


def schema_errors(document: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(SCHEMA)
    return [e.message for e in validator.iter_errors(document)]


def structurally_flagged(document: Any) -> bool:
    """Whether the translator saw a structural problem (then the schema reports)."""
    from flowc.compiler.definitions.document import read_document
    from flowc.compiler.definitions.steplist import read_steplist

    parsed = read_document("json", "f.json", json.dumps(document))
    _, _, problems = read_steplist(parsed)
    return bool(problems)


def test_the_schema_is_valid_draft_2020_12() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_example_definition_is_valid_against_the_schema() -> None:
    from ruamel.yaml import YAML

    for path in sorted((ROOT / "examples").glob("*.json")) + sorted(
        (ROOT / "examples").glob("*.yaml")
    ):
        text = path.read_text(encoding="utf-8")
        document = json.loads(text) if path.suffix == ".json" else YAML(typ="safe").load(text)
        assert schema_errors(document) == [], path.name


BASE_DOCUMENT: dict[str, Any] = json.loads(
    json.dumps(
        {
            "name": "f",
            "input": {"n": "int", "m": {"type": "int", "default": 1}},
            "services": {"api": {"url": "http://api", "retry": {"count": 1}, "accept": [200]}},
            "steps": [
                {
                    "id": "a",
                    "type": "http",
                    "request": {"service": "api", "path": "/a", "auth": {"bearer": "t"}},
                    "retry": {"count": 2, "backoff": {"kind": "fixed", "delay": "1s"}},
                },
                {"id": "b", "type": "call", "call": {"flow": "g", "args": {"x": 1}}},
                {"type": "parallel", "branches": [{"steps": [{"type": "log", "message": "x"}]}]},
                {"type": "foreach", "items": [1], "as": "x", "steps": []},
                {"type": "switch", "cases": [{"condition": True, "steps": []}]},
                {"type": "sleep", "duration": "1s"},
                {"id": "s", "type": "set", "value": 1},
                {"type": "assert", "that": "${true}"},
                {"type": "return"},
            ],
            "output": 1,
        }
    )
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


def _mutated(document: Any, path: tuple[Any, ...], how: str) -> Any:
    copy = json.loads(json.dumps(document))
    if not path:
        return copy
    parent = copy
    for item in path[:-1]:
        parent = parent[item]
    last = path[-1]
    if how == "delete" and isinstance(parent, dict):
        del parent[last]
    elif how == "delete":
        parent.pop(last)
    elif how == "unknown" and isinstance(parent[last], dict):
        parent[last]["zzz"] = 1
    elif how == "string":
        parent[last] = "oops"
    elif how == "number":
        parent[last] = 7
    elif how == "object":
        parent[last] = {}
    elif how == "list":
        parent[last] = []
    elif how == "newline" and isinstance(parent[last], str):
        parent[last] += "\n"
    elif how == "padded" and isinstance(parent[last], str):
        parent[last] = f" {parent[last]} "
    return copy


MUTATIONS = ("delete", "unknown", "string", "number", "object", "list", "newline", "padded")


def test_the_translator_flags_structure_exactly_when_the_schema_does() -> None:
    """The translator checks structure itself (jsonschema is too slow to run on every
    load): for every single mutation of every value of a valid document, both agree."""
    disagreements = []
    for path in _paths(BASE_DOCUMENT)[1:]:
        for how in MUTATIONS:
            document = _mutated(BASE_DOCUMENT, path, how)
            if structurally_flagged(document) != bool(schema_errors(document)):
                disagreements.append((path, how))
    assert disagreements == []


def test_the_base_document_is_valid_for_both() -> None:
    assert schema_errors(BASE_DOCUMENT) == []
    assert not structurally_flagged(BASE_DOCUMENT)


# --------------------------------------------------------------------------- start-up


def _modules_after(statement: str) -> list[str]:
    probe = (
        f"import sys; {statement}; "
        "print([m for m in sorted(sys.modules) if m.split('.')[0] in "
        "('ruamel', 'jsonschema', 'referencing') or m.startswith('flowc.compiler.definitions')])"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True
    )
    found: list[str] = json.loads(result.stdout.replace("'", '"'))
    return found


def test_checking_flow_source_imports_no_yaml_or_schema_library() -> None:
    statement = "from flowc.compiler import compile_file; compile_file('examples/hello.flow')"
    assert _modules_after(statement) == []


def test_checking_a_valid_definition_does_not_import_jsonschema() -> None:
    example = "examples/order_fulfilment.flow.yaml"
    statement = f"from flowc.compiler import compile_file; compile_file({example!r})"
    loaded = _modules_after(statement)
    assert "ruamel.yaml" in loaded
    assert not [m for m in loaded if m.startswith(("jsonschema", "referencing"))]
