"""Running flow definitions: the issue's example exactly as written, and the YAML example.

The example names a production host (``http://user-service/check``); ``--resolve``
sends its requests to the demo API, which serves ``/check`` and ``/create`` as the
original design describes them.  Everything runs through the real command line in
a subprocess, against the demo API on 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.http_fixtures import DemoServer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "user_registration_flow.json"
SAGA = ROOT / "examples" / "order_fulfilment.flow.yaml"


def flowc(*args: str, demo_url: str = "http://127.0.0.1:9") -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "FLOWC_DEMO_URL": demo_url}
    return subprocess.run(
        [sys.executable, "-m", "flowc.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=environment,
        check=False,
    )


def test_the_issue_example_runs_exactly_as_written(demo: DemoServer) -> None:
    assert (
        json.loads(EXAMPLE.read_text())["steps"][0]["request"]["url"] == "http://user-service/check"
    )
    run = [
        "run",
        str(EXAMPLE),
        "--resolve",
        f"user-service={demo.url}",
        "--input",
        '{"user_id": "ada"}',
    ]
    first = flowc(*run)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "null"
    users = demo.state()["users"]
    assert [u["user_id"] for u in users] == ["ada"]
    second = flowc(*run)  # now the user exists: the condition skips the create
    assert second.returncode == 0, second.stderr
    assert len(demo.state()["users"]) == 1
    assert demo.stats()["paths"] == {"/check": 2, "/create": 1}


def test_without_resolve_the_production_host_is_tried(demo: DemoServer) -> None:
    result = flowc("run", str(EXAMPLE), "--input", '{"user_id": "ada"}')
    assert result.returncode == 1
    assert (
        "failed at step `check_user` (examples/user_registration_flow.json:4:5)"
        in result.stderr.replace(str(ROOT) + "/", "")
    )
    assert "connect" in result.stderr


def test_a_bad_resolve_is_a_usage_error() -> None:
    result = flowc("run", str(EXAMPLE), "--resolve", "user-service", "--input", "{}")
    assert result.returncode == 2
    assert result.stderr == "flowc: error: --resolve expects HOST=BASE_URL, found 'user-service'\n"


def test_flowc_demo_routes_a_bare_host_to_its_demo_api() -> None:
    result = flowc(
        "demo", str(EXAMPLE), "--resolve", "user-service", "--input", '{"user_id": "ada"}'
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "null"


def test_the_yaml_saga_runs_and_compensates(demo: DemoServer) -> None:
    done = flowc(
        "run", str(SAGA), "-i", "item=book", "--input", '{"gift_notes": ["hi"]}', demo_url=demo.url
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result == {"order": "ord_1", "payment": "pay_1", "shipment": "shp_1", "notes": ["HI"]}
    assert "gift note 1: hi" in done.stderr
    failed = flowc(
        "run", str(SAGA), "-i", "item=book", "-i", "fail_shipment=true", demo_url=demo.url
    )
    assert failed.returncode == 1
    assert "failed at step `shipment`" in failed.stderr
    state = demo.state()
    assert [(o["id"], o["status"]) for o in state["orders"]] == [
        ("ord_1", "created"),
        ("ord_2", "cancelled"),
    ]
    assert [(p["id"], p["status"]) for p in state["payments"]] == [
        ("pay_1", "captured"),
        ("pay_2", "refunded"),
    ]
