"""``flowc serve`` as a real process on SQLite, driven by a real HTTP client.

Every endpoint, with its 400/401/404/409 paths; idempotent starts; ``?wait``;
Server-Sent Events arriving while a run progresses; cancel with
compensations; resume; signals kept in the store (before any wait);
``flowc signal``; the OpenAPI document; token refusal for an open address.
The flows call the demo API (``tests/http_fixtures.py``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli_process import run_flowc
from tests.http_fixtures import DemoServer
from tests.serve_process import Served, start_serve, stop_serve

FLOWS = """
service demo env("FLOWC_DEMO_URL", "http://127.0.0.1:8765") {
    timeout 10s
}

type Order = {id: string, amount: int}

flow slow(ms: int = 400) -> {done: bool} {
    step first = GET demo "/delay/${ms}"
    step second = GET demo "/delay/${ms + first.status * 0}"
    return {done: true}
}

flow greet(name: string) -> {greeting: string, tags: list[string]} {
    step health = GET demo "/delay/1"
    return {greeting: "hello, ${name}", tags: [name]}
}

flow secretive(name: string, token: secret) -> string {
    step health = GET demo "/_health" {
        headers {"X-Token": token}
    }
    return "hello, ${name}"
}

flow saga(item: string, ms: int = 3000) -> string {
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
TOKEN = "s3cr3t-token-value"


@pytest.fixture(scope="module")
def served(demo_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("serve")
    environment = {"FLOWC_DEMO_URL": demo_server}
    served = start_serve(root, FLOWS, TOKEN, environment, tokens_file=f"# tokens\n{TOKEN}\n")
    yield served
    stop_serve(served)


def test_health_needs_no_token_but_the_api_does(served: Served) -> None:
    assert httpx.get(f"{served.url}/healthz", trust_env=False).json() == {"status": "ok"}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
        answer = httpx.get(f"{served.url}/v1/flows", headers=headers, trust_env=False)
        assert answer.status_code == 401
        assert answer.headers["www-authenticate"] == "Bearer"
        assert answer.json()["error"]["code"] == "unauthorized"
    assert "wrong" not in served.output() and TOKEN not in served.output()


def test_flows_carry_json_schemas_of_inputs_and_results(served: Served) -> None:
    flows = {f["name"]: f for f in served.client.get("/v1/flows").json()["flows"]}
    greet = flows["greet"]
    assert greet["inputs"]["required"] == ["name"]
    assert flows["secretive"]["inputs"]["properties"]["token"]["writeOnly"] is True
    assert greet["result"]["properties"]["tags"] == {"type": "array", "items": {"type": "string"}}
    assert flows["slow"]["inputs"]["properties"]["ms"]["type"] == "integer"


def test_openapi_has_one_typed_operation_per_flow(served: Served) -> None:
    document = served.client.get("/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    operation = document["paths"]["/v1/flows/greet/runs"]["post"]
    assert operation["operationId"] == "start_greet"
    schema = document["components"]["schemas"]["greet_inputs"]
    assert schema["properties"]["name"] == {"type": "string"}
    run = document["components"]["schemas"]["greet_run"]
    assert run["properties"]["result"]["properties"]["greeting"] == {"type": "string"}
    assert document["security"] == [{"bearer": []}]


def test_start_validates_inputs_with_the_cli_messages(served: Served, tmp_path: Path) -> None:
    answer = served.client.post("/v1/flows/slow/runs", json={"ms": "soon"})
    assert answer.status_code == 400
    message = answer.json()["error"]["message"]
    (tmp_path / "f.flow").write_text(FLOWS)
    cli = run_flowc(["run", str(tmp_path / "f.flow"), "--flow", "slow", "--ephemeral",
                     "--input", json.dumps({"ms": "soon"})])  # fmt: skip
    assert cli.code == 2
    assert message in cli.stderr
    assert served.client.post("/v1/flows/greet/runs", json={}).status_code == 400
    assert served.client.post("/v1/flows/greet/runs", content=b"{").json()["error"]["code"] == (
        "invalid_json"
    )
    assert served.client.post("/v1/flows/greet/runs", json=[1]).status_code == 400
    assert served.client.post("/v1/flows/nope/runs", json={}).status_code == 404
    big = served.client.post("/v1/flows/greet/runs", content=b" " * (2 << 20))
    assert big.status_code == 413
    assert big.headers["connection"] == "close"  # the unread body ends the connection
    assert served.client.post("/v1/flows/greet/runs?wait=forever", json={}).status_code == 400


def test_wait_answers_the_result_and_secrets_stay_out(served: Served, demo: DemoServer) -> None:
    answer = served.client.post(
        "/v1/flows/secretive/runs?wait=20s", json={"name": "Ada", "token": "hunter2-secret"}
    )
    assert answer.status_code == 200, answer.text
    run = answer.json()
    assert run["status"] == "completed"
    assert run["result"] == "hello, Ada"
    assert run["inputs"] == {"name": "Ada", "token": "***redacted***"}
    shown = served.client.get(run["url"]).json()
    assert shown["steps"][0]["key"] == "health"
    assert shown["steps"][0]["attempts"] == 1
    assert "hunter2" not in json.dumps(shown) and "hunter2" not in served.output()
    greeted = served.client.post("/v1/flows/greet/runs?wait=20s", json={"name": "Ada"}).json()
    assert greeted["result"] == {"greeting": "hello, Ada", "tags": ["Ada"]}


def test_start_without_wait_is_202_and_listed(served: Served, demo: DemoServer) -> None:
    answer = served.client.post("/v1/flows/slow/runs", json={"ms": 10})
    assert answer.status_code == 202
    run_id = answer.json()["id"]
    assert answer.headers["location"] == f"/v1/runs/{run_id}"
    deadline = time.monotonic() + 20
    while served.client.get(f"/v1/runs/{run_id}").json()["status"] != "completed":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    listed = served.client.get("/v1/runs", params={"flow": "slow", "status": "completed"}).json()
    assert run_id in [r["id"] for r in listed["runs"]]
    assert served.client.get("/v1/runs", params={"status": "bogus"}).status_code == 400
    assert served.client.get("/v1/runs", params={"cursor": "!!"}).status_code == 400
    assert served.client.get("/v1/runs/nope").status_code == 404


def test_cursor_pagination_visits_every_run_once(served: Served, demo: DemoServer) -> None:
    started = {
        served.client.post("/v1/flows/greet/runs?wait=20s", json={"name": f"p{i}"}).json()["id"]
        for i in range(5)
    }
    seen: list[str] = []
    cursor = None
    while True:
        params = {"flow": "greet", "limit": "2", **({"cursor": cursor} if cursor else {})}
        page = served.client.get("/v1/runs", params=params).json()
        seen += [r["id"] for r in page["runs"]]
        cursor = page["next"]
        if cursor is None:
            break
    assert started <= set(seen) and len(seen) == len(set(seen))


def test_idempotency_key_returns_the_same_run(served: Served, demo: DemoServer) -> None:
    headers = {"Idempotency-Key": f"key-{time.time()}"}
    first = served.client.post("/v1/flows/greet/runs?wait=20s", json={"name": "K"}, headers=headers)
    again = served.client.post("/v1/flows/greet/runs", json={"name": "K"}, headers=headers)
    assert first.json()["id"] == again.json()["id"]
    assert again.status_code == 200 and again.json()["status"] == "completed"
    other = served.client.post("/v1/flows/greet/runs", json={"name": "L"}, headers=headers)
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_conflict"
    assert demo.stats()["paths"].get("/delay/1") == 1


def test_events_stream_while_the_run_progresses(served: Served, demo: DemoServer) -> None:
    run_id = served.client.post("/v1/flows/slow/runs", json={"ms": 400}).json()["id"]
    arrivals: list[tuple[float, str]] = []
    with served.client.stream("GET", f"/v1/runs/{run_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("event: "):
                arrivals.append((time.monotonic(), line.removeprefix("event: ")))
    names = [name for _, name in arrivals]
    assert names[0] == "status" and names[-1] == "run_finished"
    assert names.count("step_finished") == 2
    first_step = next(t for t, n in arrivals if n == "step_finished")
    assert arrivals[-1][0] - first_step > 0.2  # the first step came while the second ran


def test_cancel_runs_the_compensations(served: Served, demo: DemoServer) -> None:
    run_id = served.client.post("/v1/flows/saga/runs", json={"item": "book"}).json()["id"]
    deadline = time.monotonic() + 20
    while not served.client.get(f"/v1/runs/{run_id}").json()["steps"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    cancelled = served.client.post(f"/v1/runs/{run_id}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "interrupted"
    assert cancelled.json()["compensated"] is True
    orders = demo.state()["orders"]
    assert [o["status"] for o in orders] == ["cancelled"]
    assert served.client.post(f"/v1/runs/{run_id}/cancel").status_code == 409
    resumed = served.client.post(f"/v1/runs/{run_id}/resume")
    assert resumed.status_code == 409  # its compensations undid its steps


def test_resume_a_failed_run_through_the_queue(served: Served, demo: DemoServer) -> None:
    failed = served.client.post("/v1/flows/slow/runs?wait=20s", json={"ms": 999_999}).json()
    assert failed["status"] == "failed"
    assert served.client.post(f"/v1/runs/{failed['id']}/resume").status_code == 202
    deadline = time.monotonic() + 20
    while served.client.get(f"/v1/runs/{failed['id']}").json()["attempt"] < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    done = served.client.get(f"/v1/runs/{failed['id']}").json()
    completed = served.client.post("/v1/flows/greet/runs?wait=20s", json={"name": "R"}).json()
    assert served.client.post(f"/v1/runs/{completed['id']}/resume").status_code == 409
    assert done["attempt"] == 2
    assert served.client.post("/v1/runs/nope/resume").status_code == 404


def test_signals_are_kept_before_any_wait(served: Served, demo: DemoServer) -> None:
    run_id = served.client.post("/v1/flows/slow/runs", json={"ms": 2000}).json()["id"]
    answer = served.client.post(f"/v1/runs/{run_id}/signals/approval", json={"approved": True})
    assert answer.status_code == 202 and answer.json()["sequence"] == 1
    cli = run_flowc(["signal", run_id, "approval", "--data", '{"approved": false}',
                     "--store", served.store])  # fmt: skip
    assert cli.code == 0, cli.stderr
    shown = served.client.get(f"/v1/runs/{run_id}").json()
    assert [(s["name"], s["sequence"]) for s in shown["signals"]] == [
        ("approval", 1),
        ("approval", 2),
    ]
    assert served.client.post(f"/v1/runs/{run_id}/signals/bad name!").status_code in (400, 404)
    assert served.client.post("/v1/runs/nope/signals/x").status_code == 404
    assert served.client.post(f"/v1/runs/{run_id}/cancel").status_code == 200
    assert served.client.post(f"/v1/runs/{run_id}/signals/late").status_code == 409


def test_serve_refuses_an_open_address_without_tokens(tmp_path: Path) -> None:
    (tmp_path / "f.flow").write_text(FLOWS)
    finished = run_flowc(["serve", str(tmp_path / "f.flow"), "--host", "0.0.0.0",
                          "--store", f"sqlite:///{tmp_path / 'r.db'}"],
                         env={"FLOWC_SERVE_TOKENS": ""})  # fmt: skip
    assert finished.code == 2
    assert finished.error_lines == [
        "flowc: error: refusing to listen on 0.0.0.0 without tokens: give --token-file or "
        "FLOWC_SERVE_TOKENS (only a loopback address may be served without authentication)"
    ]
