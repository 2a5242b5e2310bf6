"""``flowc graph``: the graph model, its renderers and the command.

Golden files (``tests/golden/graph/NAME.{mmd,dot,json}``) hold the rendered
graphs of several examples; run with ``FLOWC_UPDATE_GOLDEN=1`` to rewrite them
after an intended change, and read the diff.  The SVG is made by the real
``dot`` and parsed as XML; ``--run`` reads a real SQLite store after real runs
against the demo API; generated programs check the graph's integrity.
"""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowc.api import compile_source
from flowc.cli import main
from flowc.graph.dot import to_dot
from flowc.graph.mermaid import to_mermaid
from flowc.graph.model import FlowGraph, flow_graph
from flowc.graph.outcomes import step_name
from tests.http_fixtures import DemoServer

ROOT = Path(__file__).parent.parent
GOLDEN = Path(__file__).parent / "golden" / "graph"
EXAMPLES = ["error_handling", "parallel_branches", "subflows", "pagination", "timeouts"]
SVG = "{http://www.w3.org/2000/svg}"


def graph_of(text: str, flow: str) -> FlowGraph:
    program = compile_source(text)
    return flow_graph(program.ir, flow)


def invoke(args: list[str], **env: str) -> Result:
    return CliRunner(env=env).invoke(main, ["graph", *args], catch_exceptions=False)


def compare(path: Path, text: str) -> None:
    if os.environ.get("FLOWC_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"{path} is missing: run with FLOWC_UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{path.name} differs from its golden file"


@pytest.mark.parametrize("name", EXAMPLES)
@pytest.mark.parametrize(("fmt", "suffix"), [("mermaid", "mmd"), ("dot", "dot"), ("json", "json")])
def test_examples_match_their_golden_graphs(name: str, fmt: str, suffix: str) -> None:
    result = invoke([str(ROOT / "examples" / f"{name}.flow"), "--format", fmt])
    assert result.exit_code == 0, result.stderr
    compare(GOLDEN / f"{name}.{suffix}", result.stdout)


def test_the_json_has_the_shared_shape() -> None:
    result = invoke([str(ROOT / "examples" / "subflows.flow"), "--format", "json"])
    data = json.loads(result.stdout)
    assert set(data) == {"flow", "nodes", "edges"} and data["flow"] == "buy_for_user"
    keys = {"id", "kind", "label", "parent", "step", "method", "service", "path", "callee",
            "span", "clauses"}  # fmt: skip
    assert all(set(node) == keys for node in data["nodes"])
    calls = {node["step"]: node["callee"] for node in data["nodes"] if node["kind"] == "call"}
    assert calls == {"user": "get_user", "bought": "buy"}
    created = next(node for node in data["nodes"] if node["step"] == "created")
    assert (created["method"], created["service"], created["path"]) == ("POST", "demo", '"/users"')
    assert created["clauses"]["retry"].startswith("2 backoff exponential")
    assert set(created["span"]) == {"line", "col", "end_line", "end_col"}
    assert all(set(edge) == {"source", "target", "kind", "label"} for edge in data["edges"])


OVERLAP = """\
service api "http://127.0.0.1:1"

flow overlap() -> int {
    step a = GET api "/a"
    step b = GET api "/b"
    step c = GET api "/c/${a.status}"
    step d = POST api "/d" { json {x: b.status + c.status} }
    return d.status
}
"""


def test_data_edges_show_what_overlaps_and_order_edges_the_barriers() -> None:
    graph = graph_of(OVERLAP, "overlap")
    ids = {node.step: node.id for node in graph.nodes if node.step}
    edges = {(edge.source, edge.target): edge.kind for edge in graph.edges}
    start = graph.nodes[0].id
    assert edges[(start, ids["a"])] == "order" and edges[(start, ids["b"])] == "order"
    assert edges[(ids["a"], ids["c"])] == "data"
    assert (ids["a"], ids["b"]) not in edges and (ids["b"], ids["a"]) not in edges
    assert edges[(ids["b"], ids["d"])] == "order" and edges[(ids["c"], ids["d"])] == "order"
    assert f"{ids['a']} -.-> {ids['c']}" in to_mermaid(graph)
    assert f"{ids['a']} -> {ids['c']} [style=dashed];" in to_dot(graph)


REGIONS = """\
service api "http://127.0.0.1:1"

flow regions(xs: list[int]) -> int {
    for x in xs parallel 4 {
        step each = GET api "/x/${x}" { timeout 2s }
    }
    try {
        step risky = POST api "/r" { fallback {} }
    } catch err {
        log "failed"
    } finally {
        log "done"
    }
    retry 3 {
        step again = POST api "/again"
    }
    return 1
}
"""


def test_regions_nest_and_clauses_are_annotated() -> None:
    graph = graph_of(REGIONS, "regions")
    by_step = {node.step: node for node in graph.nodes if node.step}
    by_id = {node.id: node for node in graph.nodes}
    assert by_id[by_step["each"].parent or ""].kind == "for"
    assert dict(by_step["each"].clauses)["timeout"] == "2s"
    assert by_id[by_step["risky"].parent or ""].kind == "try"
    assert dict(by_step["risky"].clauses)["fallback"] == "{}"
    assert by_id[by_step["again"].parent or ""].kind == "retry"
    kinds = [node.kind for node in graph.nodes]
    assert {"catch", "finally", "return", "end"} <= set(kinds)
    dot = to_dot(graph)
    assert dot.count("subgraph cluster_") == 5  # for, try, catch, finally, retry


def test_svg_is_made_by_dot_with_a_title_per_node() -> None:
    if shutil.which("dot") is None and not os.environ.get("CI"):
        pytest.skip("Graphviz's dot is not installed")
    result = invoke([str(ROOT / "examples" / "parallel_branches.flow"), "--format", "svg"])
    assert result.exit_code == 0, result.stderr
    tree = ET.fromstring(result.stdout.split("\n", 1)[1] if result.stdout.startswith("<?xml")
                         else result.stdout)  # fmt: skip
    titles = {g.findtext(f"{SVG}title") for g in tree.iter(f"{SVG}g") if g.get("class") == "node"}
    data = json.loads(invoke([str(ROOT / "examples" / "parallel_branches.flow"),
                              "--format", "json"]).stdout)  # fmt: skip
    assert titles == {node["id"] for node in data["nodes"]}


def test_html_is_one_self_contained_page(tmp_path: Path) -> None:
    if shutil.which("dot") is None and not os.environ.get("CI"):
        pytest.skip("Graphviz's dot is not installed")
    out = tmp_path / "flow.html"
    result = invoke([str(ROOT / "examples" / "subflows.flow"), "--format", "html", "-o", str(out)])
    assert result.exit_code == 0 and result.stdout == ""
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<?xml" not in page
    assert " src=" not in page and "<link" not in page and "<script" not in page


def test_svg_without_dot_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = invoke([str(ROOT / "examples" / "hello.flow"), "--format", "svg"], PATH=str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "Graphviz's `dot` is not installed" in result.stderr


def test_an_unknown_flow_is_one_line_and_exit_2() -> None:
    result = invoke([str(ROOT / "examples" / "subflows.flow"), "--flow", "nope"])
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (
        f"flowc: error: no flow named 'nope' in {ROOT / 'examples' / 'subflows.flow'}"
        " (flows: buy_for_user)\n"
    )


def test_a_file_that_does_not_check_prints_diagnostics_and_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "bad.flow"
    path.write_text("flow bad() -> int {\n    return nope\n}\n")
    result = invoke([str(path)])
    assert result.exit_code == 1 and result.stdout == ""
    assert f"{path}:2:12: error[" in result.stderr and "Traceback" not in result.stderr


def test_a_missing_file_is_exit_2(tmp_path: Path) -> None:
    result = invoke([str(tmp_path / "none.flow")])
    assert result.exit_code == 2 and result.stderr.startswith("flowc: error: ")


RUNNABLE = """\
service api env("FLOWC_DEMO_URL") { retry 0 }

flow shop(key: string) -> int {
    step first = GET api "/echo?k=${key}"
    step second = GET api "/flaky/${key}?fail=1&status=503&after=${first.status}"
    return second.status
}
"""
# `second` reads `first`, so it starts after `first` ended: both are journaled.


def test_run_colours_nodes_by_the_stored_outcome(tmp_path: Path, demo: DemoServer) -> None:
    path = tmp_path / "shop.flow"
    path.write_text(RUNNABLE)
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    env = {"FLOWC_DEMO_URL": demo.url, "FLOWC_STORE": store}
    run = CliRunner(env=env).invoke(
        main, ["run", str(path), "-i", "key=g1", "--run-id", "r-1"], catch_exceptions=False
    )
    assert run.exit_code == 1, run.stderr
    result = invoke([str(path), "--run", "r-1", "--store", store, "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["outcomes"] == {"first": "completed", "second": "failed"}
    dot = invoke([str(path), "--run", "r-1", "--format", "dot"], FLOWC_STORE=store).stdout
    assert 'fillcolor="#ffcdd2", tooltip="failed"' in dot
    assert 'fillcolor="#c8e6c9", tooltip="completed"' in dot
    mermaid = invoke([str(path), "--run", "r-1", "--store", store]).stdout
    assert "class n2 failed" in mermaid and "class n1 completed" in mermaid
    other = tmp_path / "other.flow"
    other.write_text(RUNNABLE.replace("flow shop", "flow other"))
    wrong = invoke([str(other), "--run", "r-1", "--store", store])
    assert wrong.exit_code == 2
    assert wrong.stderr == "flowc: error: run r-1 is of flow 'shop', not 'other'\n"
    missing = invoke([str(path), "--run", "r-404", "--store", store])
    assert (
        missing.exit_code == 2
        and missing.stderr == f"flowc: error: no run r-404 in the store {store}\n"
    )


def test_step_keys_fold_to_their_step() -> None:
    keys = ("charge", "charge[3]", "send~2", "pay[1][2]~3", "call/x[1]")
    assert [step_name(k) for k in keys] == ["charge", "charge", "send", "pay", "call"]


# --------------------------------------------------------------------------- generated programs


def _statements(depth: int) -> st.SearchStrategy[str]:
    step = st.sampled_from(['step s{n} = GET api "/g"', 'step s{n} = POST api "/p"'])
    leaf = st.one_of(step, st.just('log "x"'), st.just("let v{n} = 1"))
    if depth == 0:
        return leaf
    inner = st.lists(_statements(depth - 1), min_size=1, max_size=3).map("\n".join)
    region = st.one_of(
        inner.map(lambda body: f"if xs.size() > 1 {{\n{body}\n}} else {{\n{body}\n}}"),
        inner.map(lambda body: f"for x{{n}} in xs parallel {{\n{body}\n}}"),
        inner.map(lambda body: f'try {{\n{body}\n}} catch e{{n}} {{\nlog "c"\n}}'),
        st.tuples(inner, inner).map(
            lambda p: f"parallel {{\nbranch {{\n{p[0]}\n}}\nbranch {{\n{p[1]}\n}}\n}}"
        ),
        inner.map(lambda body: f"retry 2 {{\n{body}\n}}"),
    )
    return st.one_of(leaf, region)


def _number(text: str) -> str:
    counter = iter(range(10_000))
    while "{n}" in text:
        text = text.replace("{n}", str(next(counter)), 1)
    return text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_statements(2), min_size=1, max_size=5).map("\n".join).map(_number))
def test_every_edge_and_parent_of_a_generated_flow_exists(body: str) -> None:
    source = f'service api "http://127.0.0.1:1"\n\nflow g(xs: list[int]) {{\n{body}\n}}\n'
    graph = graph_of(source, "g")
    ids = [node.id for node in graph.nodes]
    assert len(ids) == len(set(ids))
    known = set(ids)
    assert all(edge.source in known and edge.target in known for edge in graph.edges)
    assert all(node.parent is None or node.parent in known for node in graph.nodes)
    assert {edge.target for edge in graph.edges} >= known - {graph.nodes[0].id}
