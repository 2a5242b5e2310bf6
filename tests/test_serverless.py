"""Serverless Workflow 1.0: diagnostics with positions, the interpreter, jq's bounds.

The conformance kit itself runs in ``test_serverless_ctk.py``; here are flowc's own
checks: each static diagnostic at its line and column, the task kinds the kit does
not exercise (backward jumps, retry, raise from ``use``, fork, ``for``/``while``,
``export``/``$context``, timeouts, bearer authentication and its redaction), the
sandbox and bounds of jq, and ``flowc run``/``flowc check`` as processes.  HTTP goes
to the local stand-in server of ``tests/petstore_standin.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st
from ruamel.yaml import YAML

from flowc.compiler import ast
from flowc.compiler.definitions import read_definition
from flowc.compiler.definitions.serverless_jq import embedded
from flowc.runtime import serverless_values
from flowc.runtime.redaction import Redactor
from flowc.runtime.resolve import HostMap
from flowc.runtime.serverless import Fault, run_workflow
from flowc.runtime.serverless_http import expand_uri
from flowc.runtime.serverless_values import Evaluator, seconds
from tests.petstore_standin import petstore

ROOT = Path(__file__).resolve().parent.parent
HEADER = "document: {dsl: '1.0.3', namespace: test, name: wf, version: '1.0.0'}\n"


@pytest.fixture(scope="module")
def standin() -> Iterator[str]:
    with petstore() as url:
        yield url


def codes_at(text: str) -> list[tuple[str, int, int]]:
    module, diagnostics = read_definition("wf.yaml", HEADER + textwrap.dedent(text))
    assert module is None
    return [(d.code, d.span.line, d.span.col) for d in diagnostics]


def run(text: str, data: Any = None, standin: str = "", **options: Any) -> Any:
    source = HEADER + textwrap.dedent(text)
    module, diagnostics = read_definition("wf.yaml", source)
    assert diagnostics == [] and isinstance(module, ast.WorkflowModule)
    definition = YAML(typ="safe").load(source)
    hosts = HostMap.parse([f"api.example={standin}"] if standin else [])
    result: dict[str, Any] = {}

    async def main() -> None:
        result["value"] = await run_workflow(definition, data or {}, resolve=hosts, **options)

    trio.run(main)
    return result["value"]


# --------------------------------------------------------------------------- diagnostics


def test_static_diagnostics_are_positioned_all_at_once() -> None:
    found = codes_at(
        """\
        use:
          errors: {known: {type: 'https://x/e', status: 400}}
        do:
          - a:
              set:
                x: ${ .a + }
              then: nowhere
          - a:
              raise: {error: unknown}
          - b:
              emit: {event: {with: {source: 'https://s', type: t}}}
          - c:
              call: grpc
              with: {proto: {endpoint: 'file://a.proto'}, service: {name: s, host: h}, method: m}
          - d:
              run: {shell: {command: ls}}
          - f:
              run: {workflow: {namespace: n, name: other, version: '1.0.0'}}
          - e:
              call: http
              with:
                method: get
                endpoint: {uri: 'https://x/', authentication: {use: nobody}}
        """
    )
    assert found == [  # lines count the one-line header
        ("E0516", 7, 12),
        ("E0513", 8, 13),
        ("E0512", 9, 5),
        ("E0514", 10, 22),
        ("E0515", 12, 7),
        ("E0515", 14, 13),
        ("E0515", 17, 13),
        ("E0515", 19, 13),
        ("E0514", 24, 61),
    ]


def test_schema_violations_point_at_the_offending_key() -> None:
    found = codes_at(
        """\
        do:
          - a:
              set: {x: 1}
              colour: red
        """
    )
    assert found == [("E0511", 4, 7)] or found[0][:2] == ("E0511", 4)


def test_a_missing_do_is_a_schema_error() -> None:
    module, diagnostics = read_definition("wf.yaml", HEADER)
    assert module is None and [d.code for d in diagnostics] == ["E0511"]
    assert "do" in diagnostics[0].message


def test_for_and_catch_variables_are_in_scope_for_the_check() -> None:
    source = HEADER + textwrap.dedent(
        """\
        do:
          - loop:
              for: {each: colour, in: .colours}
              do:
                - s: {set: {c: '${ $colour }', i: '${ $index }'}}
          - guarded:
              try:
                - s: {set: {a: 1}}
              catch:
                as: failure
                when: '$failure.status == 503'
        """
    )
    assert read_definition("wf.yaml", source)[1] == []
    assert codes_at("do:\n  - s: {set: {c: '${ $colour }'}}\n") == [("E0516", 3, 18)]


def test_a_step_list_definition_is_not_taken_for_a_workflow() -> None:
    module, diagnostics = read_definition("f.json", '{"name": "f", "steps": []}')
    assert diagnostics == [] and module is not None
    assert not isinstance(module, ast.WorkflowModule)


# --------------------------------------------------------------------------- running


def test_backward_jump_loops_until_the_switch_exits() -> None:
    output = run(
        """\
        do:
          - start: {set: {n: 0}}
          - step: {set: {n: '${ .n + 1 }'}}
          - check:
              switch:
                - more: {when: '.n < 5', then: step}
                - done: {then: exit}
        """
    )
    assert output == {"n": 5}


def test_retry_until_the_service_recovers(standin: str) -> None:
    output = run(
        """\
        use:
          retries:
            thrice: {delay: {milliseconds: 10}, backoff: {linear: {}}, limit: {attempt: {count: 3}}}
        do:
          - guarded:
              try:
                - get:
                    call: http
                    with: {method: get, endpoint: {uri: 'https://api.example/flaky/r1/2'}}
              catch:
                errors: {with: {status: 503}}
                retry: thrice
        """,
        standin=standin,
    )
    assert output == {"attempt": 3}


def test_an_uncaught_fault_after_the_retries_run_out(standin: str) -> None:
    with pytest.raises(Fault) as caught:
        run(
            """\
            do:
              - guarded:
                  try:
                    - get:
                        call: http
                        with: {method: get, endpoint: {uri: 'https://api.example/flaky/r2/9'}}
                  catch:
                    errors: {with: {status: 503}}
                    retry: {delay: {milliseconds: 1}, limit: {attempt: {count: 1}}}
            """,
            standin=standin,
        )
    assert caught.value.error["status"] == 503
    assert caught.value.error["instance"] == "/do/0/guarded/try/0/get"


def test_raise_a_named_error_and_catch_it_with_a_filter() -> None:
    output = run(
        """\
        use:
          errors:
            denied: {type: 'https://example.com/denied', status: 403, title: '${ "no \\(.who)" }'}
        do:
          - guarded:
              try:
                - refuse: {raise: {error: denied}}
              catch:
                errors: {with: {type: 'https://example.com/denied'}}
                as: e
                do:
                  - keep: {set: {title: '${ $e.title }', at: '${ $e.instance }'}}
        """,
        {"who": "ada"},
    )
    assert output == {"title": "no ada", "at": "/do/0/guarded/try/0/refuse"}


def test_fork_gives_every_branch_output_and_for_stops_at_while() -> None:
    output = run(
        """\
        do:
          - both:
              fork:
                branches:
                  - one: {set: {v: 1}}
                  - two: {set: {v: 2}}
              output: {as: '{n: length, vs: map(.v)}'}
          - count:
              for: {in: '[1, 2, 3, 4]', each: x}
              while: '$x < 3'
              do:
                - add: {set: {sum: '${ (.sum // 0) + $x }', n: '${ .n }', vs: '${ .vs }'}}
        """
    )
    assert output == {"sum": 3, "n": 2, "vs": [1, 2]}


def test_export_sets_the_context_and_output_as_shapes_the_result() -> None:
    output = run(
        """\
        do:
          - first:
              set: {a: 1}
              export: {as: '$context + {seen: .a}'}
          - second:
              set: {b: 2}
              output: {as: '{b: .b, seen: $context.seen, task: $task.name}'}
        output:
          as: '.seen + .b'
        """
    )
    assert output == 3


def test_a_task_timeout_faults_with_408() -> None:
    with pytest.raises(Fault) as caught:
        run(
            """\
            do:
              - slow:
                  wait: {seconds: 5}
                  timeout: {after: {milliseconds: 50}}
            """
        )
    assert caught.value.error["status"] == 408
    assert caught.value.error["instance"] == "/do/0/slow"


def test_bearer_token_is_sent_and_never_shown(standin: str) -> None:
    text = """\
        do:
          - login:
              call: http
              with:
                method: get
                endpoint:
                  uri: https://api.example/bearer
                  authentication: {bearer: {token: '${ .token }'}}
        """
    assert run(text, {"token": "s3cr3t-t0ken-value"}, standin) == {"authenticated": True}
    redactor = Redactor()
    with pytest.raises(Fault) as caught:
        run(text, {"token": "wrong-t0ken-value"}, standin, redactor=redactor)
    shown = json.dumps(redactor.redact_value(caught.value.error))
    assert caught.value.error["status"] == 401
    assert "wrong-t0ken-value" not in shown


# --------------------------------------------------------------------------- jq bounds


def evaluate(expression: str, value: Any = None, timeout: float = 5.0) -> Any:
    evaluator = Evaluator(secrets={"key": "value"}, timeout=timeout)
    result: dict[str, Any] = {}

    async def main() -> None:
        result["v"] = await evaluator.evaluate(expression, value, {}, {}, "/do/0/t")

    trio.run(main)
    return result["v"]


def test_jq_sees_no_environment_no_files_and_no_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    assert evaluate("$ENV") == {}
    assert evaluate("env | length") == 0
    assert evaluate("input_filename") is None
    assert evaluate('"x" | debug | stderr') == "x"
    assert capfd.readouterr().err == ""
    for source in ('import "a" as a; .', 'include "a"; .', "modulemeta"):
        with pytest.raises(Fault) as caught:
            evaluate(source, "a")
        assert caught.value.error["status"] == 400


def test_secrets_only_reach_expressions_that_name_them() -> None:
    assert evaluate("$secrets.key") == "value"
    assert evaluate("[$secrets] | length") == 1


def test_a_runaway_expression_is_stopped_by_the_deadline() -> None:
    with pytest.raises(Fault) as caught:
        evaluate("[range(100000000)] | length", timeout=0.2)
    assert "more than 0.2 s" in caught.value.error["detail"]


def test_only_surely_bounded_expressions_skip_the_worker_thread() -> None:
    from flowc.runtime.serverless_values import bounded

    for quick in ("{status: 200}", "{ids: [$input, .id]}", '.colors + ["red"]', "keys | length"):
        assert bounded(quick), quick
    for slow in ("[range(9)]", '"x" * 9', "def f: f; f", "[..]", "repeat(.)", 'test("a+")'):
        assert not bounded(slow), slow
    assert not bounded('"\\(range(9))"')  # code inside an interpolation counts
    assert evaluate('{n: (.a | length), k: "range"}', {"a": [1, 2]}) == {"n": 2, "k": "range"}


def test_results_and_inputs_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serverless_values, "MAX_OUTPUT", 1000)
    with pytest.raises(Fault, match="Expression"):
        evaluate("[range(1000)]")
    monkeypatch.setattr(serverless_values, "MAX_INPUT", 100)
    with pytest.raises(Fault, match="Expression"):
        evaluate(".", "x" * 200)


# --------------------------------------------------------------------------- codecs


@given(st.integers(0, 9), st.integers(0, 23), st.integers(0, 59), st.integers(0, 59))
def test_iso_durations_and_objects_agree(days: int, hours: int, minutes: int, secs: int) -> None:
    iso = f"P{days}DT{hours}H{minutes}M{secs}S"
    parts = {"days": days, "hours": hours, "minutes": minutes, "seconds": secs}
    assert seconds(iso) == seconds(parts) == days * 86400 + hours * 3600 + minutes * 60 + secs


@given(st.text())
def test_uri_parameters_are_encoded_and_come_back(value: str) -> None:
    url = expand_uri("https://x/p/{name}?q=1", {"name": value})
    assert url.startswith("https://x/p/") and url.endswith("?q=1")
    assert urllib.parse.unquote(url[len("https://x/p/") : -len("?q=1")]) == value


@given(st.text())
def test_embedded_expressions_are_recognised_whole(text: str) -> None:
    assert embedded("${" + text + "}") == text
    if not text.lstrip().startswith("${"):
        assert embedded(text + "x") is None or text.lstrip().startswith("${")


# --------------------------------------------------------------------------- commands


def flowc(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from flowc.cli import main; main()", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=60)


def test_flowc_run_prints_the_output(standin: str) -> None:
    done = flowc(
        "run", "examples/serverless/pets.sw.yaml", "-i", "petId=2",
        "--resolve", f"petstore.swagger.io={standin}",
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    assert json.loads(done.stdout) == {"id": 2, "message": "Hello, Milou!"}
    faulted = flowc(
        "run", "examples/serverless/pets.sw.yaml", "-i", "petId=7",
        "--resolve", f"petstore.swagger.io={standin}",
    )  # fmt: skip
    assert faulted.returncode == 1 and faulted.stdout == ""
    assert faulted.stderr.startswith("flowc: error: the workflow faulted: {")
    assert '"status": 404' in faulted.stderr and "Traceback" not in faulted.stderr


def test_flowc_check_renders_positions(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(HEADER + "do:\n  - a: {set: {x: '${ .x | }'}, then: b}\n")
    done = flowc("check", str(path))
    assert done.returncode == 1
    assert "bad.yaml:3:18: error[E0516]" in done.stderr
    assert "bad.yaml:3:38: error[E0513]" in done.stderr
    assert flowc("check", "examples/serverless/pets.sw.yaml").returncode == 0


def test_flowc_convert_refuses_a_workflow_document() -> None:
    done = flowc("convert", "examples/serverless/pets.sw.yaml", "--to", "flow")
    assert done.returncode != 0 and done.stdout == ""
    assert "error[E0518]" in done.stderr
