"""The Python API: `flowc.compile_file`, `flowc.compile_source`, `Program.run` inside
trio, `flowc.run_file` from synchronous code, and the exceptions a caller sees —
`CompileError` (with the diagnostics), `InputError` (raised before anything is sent)
and `FlowError` (with the fields of the language's `Error` record).

Flows run against the demo API (`demo` fixture) on the real clock.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import trio

import flowc
from flowc.api import Program, compile_source
from tests.http_fixtures import DemoServer

ROOT = Path(__file__).resolve().parent.parent

SOURCE = """
const BASE = env("FLOWC_DEMO_URL")
service api BASE { }

type Item = {id: int, name: string}

flow greet(name: string, times: int = 2, tags: list[string] = [])
    -> {text: string, tags: int, run: string}
{
    step e = GET api "/echo" -> {args: map[string, string]} { query { name: name } }
    return {text: "${e.body.args['name']} x${times}", tags: size(tags), run: run.id}
}

flow pick(item: Item) -> string {
    return "${item.id}:${item.name}"
}

flow broken() {
    step s = GET api "/status/404"
}
"""


@pytest.fixture
def program(demo: DemoServer, monkeypatch: pytest.MonkeyPatch) -> Program:
    monkeypatch.setenv("FLOWC_DEMO_URL", demo.url)
    return compile_source(SOURCE, "api_test.flow")


def test_compile_file_and_flow_names() -> None:
    program = flowc.compile_file(str(ROOT / "examples" / "subflows.flow"))
    assert isinstance(program, flowc.Program)
    assert program.flow_names == ["buy_for_user"]  # only the root file's flows
    assert program.flow().name == "buy_for_user"
    assert [p.name for p in program.flow().params] == ["user_id", "item"]


def test_compile_source(program: Program) -> None:
    assert program.flow_names == ["greet", "pick", "broken"]
    assert program.flow("pick").name == "pick"


def test_compile_error_carries_the_diagnostics() -> None:
    with pytest.raises(flowc.CompileError) as caught:
        flowc.compile_source(
            'flow f() -> int {\n    return "text"\n}\nflow g() { log nope }\n', "broken.flow"
        )
    error = caught.value
    errors = [d for d in error.diagnostics if d.is_error]
    assert len(errors) == 2
    assert [(d.span.file, d.span.line) for d in errors] == [("broken.flow", 2), ("broken.flow", 4)]
    assert all(d.code.startswith("E") for d in errors)
    assert str(error).startswith("2 error(s):\nbroken.flow:2:")
    assert "broken.flow" in error.sources


def test_compile_file_reports_a_missing_import(tmp_path: Path) -> None:
    (tmp_path / "main.flow").write_text('import "nowhere.flow"\nflow f() { log "x" }\n')
    with pytest.raises(flowc.CompileError) as caught:
        flowc.compile_file(str(tmp_path / "main.flow"))
    assert any("nowhere.flow" in d.message for d in caught.value.diagnostics)


async def test_program_run_inside_trio(program: Program, demo: DemoServer) -> None:
    result = await program.run("greet", {"name": "Ada"}, run_id="api-run-1")
    assert result == {"text": "Ada x2", "tags": 0, "run": "api-run-1"}
    result = await program.run("greet", {"name": "Bob", "times": 5, "tags": ["a", "b"]})
    assert result["text"] == "Bob x5" and result["tags"] == 2
    assert len(result["run"]) == 36  # a fresh UUID run id
    assert demo.stats()["paths"] == {"/echo": 2}


async def test_program_runs_concurrently_in_one_trio_program(program: Program) -> None:
    results: dict[str, str] = {}

    async def one(name: str) -> None:
        results[name] = (await program.run("greet", {"name": name}))["text"]

    async with trio.open_nursery() as nursery:
        for name in ("a", "b", "c"):
            nursery.start_soon(one, name)
    assert results == {"a": "a x2", "b": "b x2", "c": "c x2"}


async def test_program_run_writes_a_trace(program: Program) -> None:
    stream = io.StringIO()
    await program.run("greet", {"name": "Ada"}, trace=stream)
    events = [json.loads(line)["event"] for line in stream.getvalue().splitlines()]
    assert events[0] == "run_started" and events[-1] == "run_finished"
    assert "step_attempt" in events


async def test_records_as_inputs(program: Program) -> None:
    assert await program.run("pick", {"item": {"id": 7, "name": "gizmo"}}) == "7:gizmo"


@pytest.mark.parametrize(
    ("flow", "inputs", "message"),
    [
        ("greet", {}, "flow `greet` needs input `name`"),
        ("greet", {"name": "x", "nope": 1}, "flow `greet` has no parameter `nope`"),
        ("greet", {"name": 3}, "input `name`"),
        ("greet", {"name": "x", "times": "2"}, "input `times`"),
        ("pick", {"item": {"id": 1}}, "input `item`"),
        (None, {"name": "x"}, "the file declares several flows (greet, pick, broken)"),
        ("missing", {}, "no flow named `missing`"),
    ],
)
async def test_input_errors_before_anything_is_sent(
    program: Program, demo: DemoServer, flow: str | None, inputs: dict[str, object], message: str
) -> None:
    with pytest.raises(flowc.InputError) as caught:
        await program.run(flow, inputs)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert demo.stats()["total"] == 0


async def test_flow_error_from_program_run(program: Program) -> None:
    with pytest.raises(flowc.FlowError) as caught:
        await program.run("broken")
    error = caught.value
    assert (error.kind, error.status, error.step, error.flow, error.attempt) == (
        "status",
        404,
        "s",
        "broken",
        1,
    )
    assert error.record() == {
        "kind": "status",
        "message": error.message,
        "step": "s",
        "status": 404,
        "attempt": 1,
        "data": None,  # (a `fail KIND "..." {data: ...}` payload; none for an HTTP error)
    }
    assert error.describe().startswith(
        "flow `broken` failed at step `s` (api_test.flow:19:5): status: HTTP 404"
    )


def test_run_file_from_synchronous_code(demo: DemoServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWC_DEMO_URL", demo.url)
    result = flowc.run_file(str(ROOT / "examples" / "hello.flow"), inputs={"name": "Ada"})
    assert result == {"greeting": "hello, Ada", "server_ok": True}
    result = flowc.run_file(
        str(ROOT / "examples" / "error_handling.flow"), "error_handling", sequential=True
    )
    assert result["caught"] == "decode" and result["cleaned"] is True
    with pytest.raises(flowc.InputError):
        flowc.run_file(str(ROOT / "examples" / "hello.flow"), inputs={"nom": "x"})
