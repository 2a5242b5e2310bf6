"""``wait signal`` end to end: a real ``flowc serve`` on SQLite and the demo API.

A signal sent after the wait began and one sent before it; a payload of the
wrong type (the wait fails with ``decode``); a timeout caught by ``try``; a
resumed run that replays the signal it took instead of waiting again; and
``flowc run`` taking a signal that ``flowc signal`` delivers from another
process.  The checker's side is in ``tests/checker/signals.flow``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from flowc.server.callbacks import callback_token
from tests.cli_process import ROOT, child_environment, run_flowc
from tests.http_fixtures import DemoServer
from tests.lsp_session import LspSession, position_of
from tests.serve_process import Served, start_serve, stop_serve
from tests.test_serve import TOKEN

FLOWS = """
service demo env("FLOWC_DEMO_URL", "http://127.0.0.1:8765") {
    timeout 10s
}

type Approval = {approved: bool, by: string}

flow approve(ms: int = 1) -> {by: string, second: string} {
    step first = GET demo "/delay/${ms}"
    let answer = wait signal "approval" -> Approval timeout 20s
    var second = "none"
    try {
        let extra = wait signal "extra" -> string timeout 300ms
        second = extra
    } catch err {
        second = err.kind
    }
    return {by: answer.by, second: second}
}

flow hooked(ms: int = 1) -> {url: string, payload: json} {
    let url = callback_url("done")
    step announce = POST demo "/echo" {
        json {callback: url}
    }
    let payload = wait signal "done" -> json timeout 20s
    return {url: url, payload: payload}
}

flow twice(key: string) -> int {
    let go = wait signal "go" -> int timeout 20s
    step flaky = GET demo "/flaky/${key}?fail=1&status=500"
    return go + 1
}
"""
CALLBACK_KEY = "a-test-callback-key"


@pytest.fixture(scope="module")
def served(demo_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("signals")
    environment = {"FLOWC_DEMO_URL": demo_server, "FLOWC_CALLBACK_KEY": CALLBACK_KEY}
    served = start_serve(root, FLOWS, TOKEN, environment)
    yield served
    stop_serve(served)


def _start(served: Served, flow: str, inputs: dict[str, Any]) -> str:
    answer = served.client.post(f"/v1/flows/{flow}/runs", json=inputs)
    assert answer.status_code == 202, answer.text
    run_id: str = answer.json()["id"]
    return run_id


def _ended(served: Served, run_id: str, seconds: float = 20) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        run: dict[str, Any] = served.client.get(f"/v1/runs/{run_id}").json()
        if run["status"] in ("completed", "failed", "interrupted"):
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.05)


def _signal(served: Served, run_id: str, name: str, payload: object) -> None:
    answer = served.client.post(f"/v1/runs/{run_id}/signals/{name}", json=payload)
    assert answer.status_code == 202, answer.text


def test_a_signal_sent_after_the_wait_began(served: Served, demo: DemoServer) -> None:
    run_id = _start(served, "approve", {"ms": 1})
    time.sleep(0.5)  # the run is waiting by now (or not yet: the signal is kept either way)
    assert served.client.get(f"/v1/runs/{run_id}").json()["status"] == "running"
    _signal(served, run_id, "approval", {"approved": True, "by": "ann"})
    run = _ended(served, run_id)
    assert run["status"] == "completed", run
    assert run["result"] == {"by": "ann", "second": "timeout"}  # the timeout was caught


def test_signals_sent_before_the_wait_are_kept(served: Served, demo: DemoServer) -> None:
    run_id = _start(served, "approve", {"ms": 1500})
    _signal(served, run_id, "approval", {"approved": False, "by": "bob"})
    _signal(served, run_id, "extra", "early")
    run = _ended(served, run_id)
    assert run["status"] == "completed", run
    assert run["result"] == {"by": "bob", "second": "early"}


def test_a_payload_of_the_wrong_type_fails_the_wait(served: Served, demo: DemoServer) -> None:
    run_id = _start(served, "approve", {"ms": 1})
    _signal(served, run_id, "approval", {"approved": "yes", "by": "eve"})
    run = _ended(served, run_id)
    assert run["status"] == "failed"
    error = json.dumps(run["error"])
    assert "decode" in error and "$.approved: expected bool, found string" in error, error


def test_a_resumed_run_does_not_wait_again(served: Served, demo: DemoServer) -> None:
    run_id = _start(served, "twice", {"key": f"resume-{time.time_ns()}"})
    _signal(served, run_id, "go", 41)
    failed = _ended(served, run_id)
    assert failed["status"] == "failed", failed  # the flaky step's first call fails
    assert served.client.post(f"/v1/runs/{run_id}/resume").status_code == 202
    started = time.monotonic()
    while served.client.get(f"/v1/runs/{run_id}").json()["attempt"] < 2:
        time.sleep(0.05)
    run = _ended(served, run_id, seconds=10)  # waiting again would take the full 20s
    assert run["status"] == "completed", run
    assert run["result"] == 42
    assert time.monotonic() - started < 10
    assert len(run["signals"]) == 1


def test_a_callback_url_delivers_its_signal_only_with_its_token(
    served: Served, demo: DemoServer
) -> None:
    run_id = _start(served, "hooked", {})
    token = callback_token(CALLBACK_KEY.encode(), run_id, "done")
    url = f"{served.url}/v1/callbacks/{run_id}/done/{token}"
    plain = httpx.Client(timeout=10, trust_env=False)  # no bearer token: the URL is the guard
    wrong = url[: -len(token)] + ("A" if token[0] != "A" else "B") + token[1:]
    assert plain.post(wrong, json={"paid": True}).status_code == 403
    assert plain.post(url.replace("/done/", "/other/"), json=1).status_code == 403
    other_run = url.replace(f"/{run_id}/", "/another-run/")
    assert plain.post(other_run, json=1).status_code == 403
    answer = plain.post(url, json={"paid": True})
    assert answer.status_code == 202, answer.text
    run = _ended(served, run_id)
    assert run["status"] == "completed", run
    assert run["result"] == {"url": url, "payload": {"paid": True}}
    assert len(run["signals"]) == 1  # the refused requests delivered nothing
    assert token not in served.output()


def test_callback_url_outside_a_server_is_a_clear_run_error(
    demo_server: str, tmp_path: Path
) -> None:
    (tmp_path / "f.flow").write_text(FLOWS)
    environment = child_environment({"FLOWC_DEMO_URL": demo_server})
    finished = subprocess.run(
        [sys.executable, "-m", "flowc.cli", "run", str(tmp_path / "f.flow"), "--flow", "hooked",
         "--ephemeral"],
        capture_output=True, text=True, env=environment, cwd=ROOT, timeout=60,
    )  # fmt: skip
    assert finished.returncode == 1
    assert "callback_url() needs `flowc serve`" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_flowc_run_takes_a_signal_from_another_process(demo_server: str, tmp_path: Path) -> None:
    (tmp_path / "f.flow").write_text(FLOWS)
    store = f"sqlite:///{tmp_path / 'runs.db'}"
    environment = child_environment({"FLOWC_DEMO_URL": demo_server})
    process = subprocess.Popen(
        [sys.executable, "-m", "flowc.cli", "run", str(tmp_path / "f.flow"), "--flow", "approve",
         "--run-id", "r1", "--store", store],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment, cwd=ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        sent = run_flowc(["signal", "r1", "approval", "--data", '{"approved": true, "by": "cy"}',
                          "--store", store])  # fmt: skip
        if sent.code == 0:
            break
        assert "no run r1" in sent.stderr and time.monotonic() < deadline, sent.stderr
        time.sleep(0.2)
    out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert json.loads(out) == {"by": "cy", "second": "timeout"}


def test_an_ephemeral_run_cannot_wait(tmp_path: Path) -> None:
    (tmp_path / "f.flow").write_text(FLOWS)
    finished = run_flowc(["run", str(tmp_path / "f.flow"), "--flow", "twice", "--ephemeral",
                          "-i", "key=k"])  # fmt: skip
    assert finished.code == 1
    assert "needs a durable run" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_the_language_server_completes_wait_signal(tmp_path: Path) -> None:
    text = "flow f() {\n    let answer = w\n    let other = wait s\n}\n"
    session = LspSession()
    try:
        uri = session.open(tmp_path / "f.flow", text)
        assert "wait" in session.labels(uri, position_of(text, "w\n", shift=1))
        assert "signal" in session.labels(uri, position_of(text, "s\n}", shift=1))
    finally:
        session.close()
