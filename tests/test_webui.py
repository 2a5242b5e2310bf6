"""The web UI at ``/ui/`` in a real browser: Playwright driving Debian's Chromium.

A real ``flowc serve`` (SQLite store, a token file) runs flows against the demo
API; the browser logs in with the token (kept in sessionStorage, never in a
URL), draws a flow's graph and opens a node's source, starts a run from the
form generated from the flow's input schema and watches its nodes change state
live, opens a failed step and reads its error, cancels a run (its
compensation shows), sends a signal to a running run (the language has no
``wait signal`` statement yet: the test checks that the server kept the
signal the UI sent), filters the runs list and sees a new run appear, and
scans each page with axe-core for serious or critical accessibility
violations.  Screenshots go to ``tests/artifacts/webui/`` (the path is printed).
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.cli_process import ROOT
from tests.http_fixtures import DemoServer
from tests.serve_process import Served, start_serve, stop_serve

CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "ui" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "tests" / "artifacts" / "webui"
TOKEN = "ui-test-token-Zq81"
FLOWS = """
service demo env("FLOWC_DEMO_URL", "http://127.0.0.1:8765") {
    timeout 10s
}

type Order = {id: string, amount: int}

flow pipeline(ms: int = 300, label: string = "x") -> string {
    step first = GET demo "/delay/${ms}"
    step second = GET demo "/delay/${ms + first.status * 0}"
    return label
}

flow broken(code: int = 503) -> string {
    step fine = GET demo "/delay/1000"
    step bad = GET demo "/status/${code + fine.status * 0}" {
        retry 1 backoff fixed 10ms
    }
    return "never"
}

flow saga(item: string, ms: int = 5000) -> string {
    step order = POST demo "/orders" -> Order {
        json {item: item, quantity: 1, amount: 100}
        idempotency_key "${run.id}-order"
        compensate {
            step cancel_order = DELETE demo "/orders/${order.body.id}"
        }
    }
    step wait = GET demo "/delay/${ms}"
    return order.body.id
}
"""
LONG = 160
"""Steps of flow ``long``: more than the UI lays out with dagre (``DAGRE_LIMIT``)."""
FLOWS += 'flow long() -> int {\n    step s0 = GET demo "/delay/0"\n'
FLOWS += "".join(
    f'    step s{i} = GET demo "/delay/${{s{i - 1}.status * 0}}"\n' for i in range(1, LONG)
)
FLOWS += f"    return s{LONG - 1}.status\n}}\n"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update",
        "--disable-sync"]  # fmt: skip


@pytest.fixture(scope="module")
def served(demo_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("webui")
    served = start_serve(root, FLOWS, TOKEN, {"FLOWC_DEMO_URL": demo_server})
    yield served
    stop_serve(served)
    assert TOKEN not in served.output()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is missing")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    print(f"\nweb UI screenshots: {ARTIFACTS}")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser, served: Served) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    opened.goto(f"{served.url}/ui/")
    opened.get_by_label("API token").fill(TOKEN)
    opened.get_by_role("button", name="Use token").click()
    yield opened
    assert TOKEN not in opened.url
    assert opened.evaluate("() => JSON.stringify(localStorage)") == "{}"
    context.close()
    assert errors == []


def _shot(page: Page, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def _missing(what: str) -> None:
    """A tool the browser tests need is not installed: they skip, and fail under CI."""
    if os.environ.get("CI") == "true":
        pytest.fail(what)
    pytest.skip(what)


def _axe(page: Page) -> list[dict[str, Any]]:
    if not AXE.exists():
        _missing(f"{AXE} is missing: run `npm ci --prefix ui`")
    page.add_script_tag(path=str(AXE))
    results: dict[str, Any] = page.evaluate("async () => await axe.run(document)")
    return [v for v in results["violations"] if v["impact"] in ("serious", "critical")]


def _state_of(page: Page, step: str) -> str:
    node = page.locator(f'[data-testid="graph"] .node[data-step="{step}"]')
    classes = node.get_attribute("class") or ""
    found = re.search(r"state-(\w+)", classes)
    return found.group(1) if found else ""


def _wait_state(page: Page, step: str, state: str) -> None:
    page.locator(f'[data-testid="graph"] .node[data-step="{step}"].state-{state}').wait_for()


def _start_from_form(page: Page, served: Served, flow: str, fields: dict[str, str]) -> str:
    page.goto(f"{served.url}/ui/#/flows/{flow}")
    page.get_by_role("heading", name=f"Flow {flow}").wait_for()
    for name, value in fields.items():
        page.get_by_label(re.compile(f"^{name}")).fill(value)
    page.get_by_role("button", name="Start", exact=True).click()
    page.wait_for_url(re.compile(r"#/runs/[0-9a-f-]+$"))
    return str(page.url.rsplit("/", 1)[1])


def test_a_flow_graph_opens_a_nodes_source_and_clauses(page: Page, served: Served) -> None:
    page.get_by_role("link", name="broken").click()
    graph = page.get_by_test_id("graph")
    graph.locator('.node[data-step="bad"]').click()
    detail = page.get_by_test_id("node-detail")
    assert "GET demo" in detail.inner_text()
    assert "16      step bad = GET demo" in detail.get_by_label("source lines").inner_text()
    assert "retry" in detail.inner_text()
    zoom = page.get_by_role("button", name="Zoom Out")
    before = graph.locator(".react-flow__viewport").get_attribute("style")
    zoom.click()
    page.wait_for_timeout(300)
    assert graph.locator(".react-flow__viewport").get_attribute("style") != before
    _shot(page, "flow-graph")
    assert _axe(page) == []


def test_start_from_the_form_and_watch_nodes_change_state(page: Page, served: Served) -> None:
    run_id = _start_from_form(page, served, "pipeline", {"ms": "1500", "label": "from-ui"})
    _wait_state(page, "first", "running")
    assert _state_of(page, "second") in ("", "pending")
    _wait_state(page, "first", "completed")
    _wait_state(page, "second", "running")
    _wait_state(page, "second", "completed")
    page.get_by_test_id("run-status").filter(has_text="completed").wait_for()
    expect(page.locator("figure.timeline rect.bar")).to_have_count(2)
    run = served.client.get(f"/v1/runs/{run_id}").json()
    assert run["status"] == "completed" and run["result"] == "from-ui"
    _shot(page, "run-completed")
    assert _axe(page) == []


def test_a_failed_step_shows_its_error_and_attempts(page: Page, served: Served) -> None:
    _start_from_form(page, served, "broken", {"code": "503"})
    page.get_by_test_id("run-status").filter(has_text="failed").wait_for()
    _wait_state(page, "bad", "failed")
    page.get_by_role("button", name=re.compile(r"^bad\b")).click()
    detail = page.get_by_test_id("step-detail")
    expect(detail.get_by_test_id("step-error")).to_contain_text("HTTP 503")
    expect(detail.get_by_role("table", name="attempts").locator("tbody tr")).to_have_count(2)
    assert "GET http://127.0.0.1" in detail.inner_text()
    _shot(page, "run-failed-step")
    assert _axe(page) == []


def test_cancel_a_run_and_its_compensation_shows(
    page: Page, served: Served, demo: DemoServer
) -> None:
    _start_from_form(page, served, "saga", {"item": "book"})
    _wait_state(page, "wait", "running")
    page.get_by_role("button", name="Cancel run").click()
    page.get_by_test_id("run-status").filter(has_text="interrupted").wait_for()
    _wait_state(page, "order", "compensated")
    assert [o["status"] for o in demo.state()["orders"]] == ["cancelled"]
    assert page.get_by_role("button", name="Cancel run").is_disabled()


def test_send_a_signal_to_a_running_run(page: Page, served: Served) -> None:
    run_id = _start_from_form(page, served, "pipeline", {"ms": "3000"})
    _wait_state(page, "first", "running")
    page.get_by_label("Signal", exact=True).fill("approval")
    page.get_by_label("Payload (JSON)").fill('{"approved": true}')
    page.get_by_role("button", name="Send signal").click()
    page.get_by_test_id("action-message").filter(has_text="signal approval kept (#1)").wait_for()
    signals = served.client.get(f"/v1/runs/{run_id}").json()["signals"]
    assert [(s["name"], s["sequence"]) for s in signals] == [("approval", 1)]
    page.get_by_label("Payload (JSON)").fill("{not json")
    page.get_by_role("button", name="Send signal").click()
    page.get_by_test_id("action-message").filter(has_text="not JSON").wait_for()
    served.client.post(f"/v1/runs/{run_id}/cancel")


def test_the_runs_list_filters_and_updates_live(page: Page, served: Served) -> None:
    served.client.post("/v1/flows/broken/runs?wait=20s", json={"code": 500})
    page.get_by_role("link", name="Runs").click()
    table = page.get_by_role("table", name="runs")
    table.locator("tbody tr").first.wait_for()
    page.get_by_label("Status").select_option("failed")
    page.wait_for_function(
        "() => [...document.querySelectorAll('table.runs tbody tr')].every("
        "r => r.cells[2].innerText.trim() === 'failed')"
    )
    page.get_by_label("Flow").select_option("pipeline")
    page.get_by_label("Status").select_option("")
    started = served.client.post("/v1/flows/pipeline/runs", json={"ms": 1}).json()["id"]
    table.get_by_role("link", name=started[:8]).wait_for()
    flows = table.locator("tbody tr td:nth-child(2)").all_inner_texts()
    assert flows and set(flows) == {"pipeline"}
    _shot(page, "runs-list")
    assert _axe(page) == []
    table.get_by_role("link", name=started[:8]).click()
    page.get_by_role("heading", name=re.compile("Run")).wait_for()
    assert started in page.url


def _tab_to(page: Page, wanted: str, limit: int = 60) -> None:
    seen: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        seen.append(
            page.evaluate("() => document.activeElement.id || document.activeElement.innerText")
        )
        if seen[-1] == wanted or str(seen[-1]).startswith(f"{wanted}:"):
            return
    raise AssertionError(f"Tab never reached {wanted!r}: {seen}")


def test_keyboard_opens_a_node_and_starts_a_run(page: Page, served: Served) -> None:
    page.get_by_role("link", name="pipeline").focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Flow pipeline").wait_for()
    _tab_to(page, "Nodes as a list")
    page.keyboard.press("Enter")
    _tab_to(page, "step second")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("node-detail")).to_contain_text("step second")
    _tab_to(page, "input-ms")
    page.keyboard.type("1")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"#/runs/"))
    page.get_by_test_id("run-status").filter(has_text="completed").wait_for()


def test_the_apis_the_ui_reads(served: Served) -> None:
    graph = served.client.get("/v1/flows/broken/graph").json()
    steps = {n["step"]: n for n in graph["nodes"] if n["kind"] == "step"}
    assert steps["bad"]["method"] == "GET" and steps["bad"]["span"]["line"] == 16
    assert steps["bad"]["clauses"]["retry"].startswith("1")
    pairs = {(e["source"], e["target"]) for e in graph["edges"]}
    assert (steps["fine"]["id"], steps["bad"]["id"]) in pairs  # bad reads fine
    assert graph["source"][15].strip().startswith("step bad = GET demo")
    assert served.client.get("/v1/flows/nope/graph").status_code == 404
    done = served.client.post("/v1/flows/pipeline/runs?wait=20s", json={"ms": 1}).json()
    first = served.client.get(f"/v1/runs/{done['id']}/steps/first").json()
    assert first["outcome"] == "completed" and first["response"]["status"] == 200
    assert '"delayed_ms": 1' in first["response"]["body"]
    assert first["response"]["content_type"].startswith("application/json")
    missing = served.client.get(f"/v1/runs/{done['id']}/steps/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "no_step"
    paths = served.client.get("/openapi.json").json()["paths"]
    assert "/v1/flows/{flow}/graph" in paths and "/v1/runs/{run_id}/steps/{key}" in paths
    assert httpx.get(f"{served.url}/ui/", trust_env=False).status_code == 200


def test_a_stream_opened_late_replays_the_steps_in_flight(served: Served) -> None:
    run_id = served.client.post("/v1/flows/pipeline/runs", json={"ms": 1500}).json()["id"]
    deadline = time.monotonic() + 20
    while served.client.get(f"/v1/runs/{run_id}").json()["status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)  # the first step is sending its request
    names: list[tuple[str, str]] = []
    with served.client.stream("GET", f"/v1/runs/{run_id}/events") as stream:
        for line in stream.iter_lines():
            if line.startswith("data: ") and '"step"' in line:
                record = json.loads(line.removeprefix("data: "))
                names.append((record["event"], record["step"]))
            if len(names) >= 2:
                break
    assert names == [("step_started", "first"), ("attempt_started", "first")]
    served.client.post(f"/v1/runs/{run_id}/cancel")


def test_a_long_flow_is_laid_out_in_layers(page: Page, served: Served) -> None:
    page.get_by_role("link", name="long").click()
    graph = page.locator("[data-testid=graph][data-drawn-ms]")
    graph.wait_for()
    drawn = page.locator("[data-testid=graph] .node").evaluate_all(
        "nodes => nodes.map(n => n.dataset.step)"
    )
    assert 10 <= len(drawn) < LONG  # only what is on screen is drawn
    k = min(int(name[1:]) for name in drawn)
    first = page.locator(f'.react-flow__node:has([data-step="s{k}"])').bounding_box()
    second = page.locator(f'.react-flow__node:has([data-step="s{k + 1}"])').bounding_box()
    assert first is not None and second is not None
    assert second["y"] > first["y"] + first["height"] * 0.5  # one rank below
    assert abs(second["x"] - first["x"]) < 1  # a chain stays in one column
    assert float(graph.get_attribute("data-layout-ms") or "inf") < 1000
