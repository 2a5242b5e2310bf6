"""The command line of durable runs: ``run --run-id/--store/--ephemeral``, ``resume``, ``runs``.

In-process through click's runner, each test with a store of its own (``--store`` or
``FLOWC_STORE``), against the demo API: a run is announced and recorded, a known run
id answers without sending, a failed run is redriven by ``flowc resume``, ``flowc runs``
lists, filters and prints JSON, ``runs show`` shows the steps, ``runs prune`` deletes
what ended long enough ago, and every refusal is one line with exit code 2.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from flowc.cli import main
from flowc.runtime.store import open_store
from tests.http_fixtures import DemoServer

FLOWS = """\
service api env("FLOWC_DEMO_URL") { retry 0 }

flow greet(name: string) -> string {
    step hello = GET api "/echo?name=${name}" -> {args: {name: string}}
    return "hello ${hello.body.args.name}"
}

flow flaky(key: string) -> int {
    step first = GET api "/echo?k=${key}"
    step second = GET api "/flaky/${key}?fail=1&status=503"
    return second.status
}

flow secretive(token: secret) -> int {
    step s = GET api "/echo" { auth bearer token }
    return s.status
}
"""


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    path = tmp_path / "flows.flow"
    path.write_text(FLOWS)
    return path


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'state' / 'runs.db'}"


def flowc(args: list[str], demo: DemoServer, store_url: str, **env: str) -> Result:
    environment = {"FLOWC_DEMO_URL": demo.url, "FLOWC_STORE": store_url, **env}
    return CliRunner(env=environment).invoke(main, args, catch_exceptions=False)


def announced(result: Result) -> str:
    match = re.search(r"^flowc: run (\S+)$", result.stderr, re.MULTILINE)
    assert match, result.stderr
    return match.group(1)


def test_a_run_is_announced_recorded_and_listed(
    flows: Path, demo: DemoServer, store_url: str
) -> None:
    result = flowc(["run", str(flows), "--flow", "greet", "-i", "name=ada"], demo, store_url)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == "hello ada"
    run_id = announced(result)
    listed = flowc(["runs", "--format", "json"], demo, store_url)
    assert listed.exit_code == 0
    (row,) = json.loads(listed.stdout)
    assert (row["id"], row["flow"], row["status"], row["attempt"]) == (
        run_id,
        "greet",
        "completed",
        1,
    )
    table = flowc(["runs"], demo, store_url).stdout.splitlines()
    assert table[0].split() == ["RUN", "FLOW", "STATUS", "STARTED", "TIME"]
    assert table[1].startswith(f"{run_id}  greet  completed")


def test_a_known_run_id_answers_without_sending(
    flows: Path, demo: DemoServer, store_url: str
) -> None:
    args = ["run", str(flows), "--flow", "greet", "-i", "name=bo", "--run-id", "order-17"]
    first = flowc(args, demo, store_url)
    assert first.exit_code == 0 and announced(first) == "order-17"
    demo.reset()
    again = flowc(args, demo, store_url)
    assert again.exit_code == 0
    assert again.stdout == first.stdout
    assert demo.stats()["total"] == 0
    other = flowc(["run", str(flows), "--flow", "flaky", "-i", "key=z", "--run-id", "order-17"],
                  demo, store_url)  # fmt: skip
    assert other.exit_code == 2
    assert "exists and runs `greet`, not `flaky`" in other.stderr


def test_flowc_resume_redrives_a_failed_run_from_its_failing_step(
    flows: Path, demo: DemoServer, store_url: str
) -> None:
    failed = flowc(["run", str(flows), "--flow", "flaky", "-i", "key=r1"], demo, store_url)
    assert failed.exit_code == 1
    run_id = announced(failed)
    assert demo.stats()["paths"] == {"/echo": 1, "/flaky/r1": 1}
    shown = flowc(["runs", "show", run_id], demo, store_url)
    assert "status   failed  (attempt 1)" in shown.stdout
    assert re.search(r"^  second\s+failed\s+attempts 1\s+HTTP 503", shown.stdout, re.MULTILINE)
    resumed = flowc(["resume", run_id], demo, store_url)
    assert resumed.exit_code == 0, resumed.stderr
    assert json.loads(resumed.stdout) == 200
    assert demo.stats()["paths"] == {"/echo": 1, "/flaky/r1": 2}  # the first step was kept
    detail = json.loads(flowc(["runs", "show", run_id, "--format", "json"], demo, store_url).stdout)
    assert (detail["status"], detail["attempt"], detail["result"]) == ("completed", 2, 200)
    assert [(s["key"], s["outcome"]) for s in detail["steps"]] == [
        ("first", "completed"),
        ("second", "completed"),
    ]


def test_secret_inputs_are_withheld_and_asked_for_again(
    flows: Path, demo: DemoServer, store_url: str, tmp_path: Path
) -> None:
    result = flowc(["run", str(flows), "--flow", "secretive", "-i", "token=t0p-s3cret-v4lue",
                    "--run-id", "s1"], demo, store_url)  # fmt: skip
    assert result.exit_code == 0, result.stderr
    database = (tmp_path / "state" / "runs.db").read_bytes()
    assert b"t0p-s3cret" not in database and b"s3cret-v4lue" not in database
    shown = flowc(["runs", "show", "s1"], demo, store_url)
    assert "(not stored: token, secret)" in shown.stdout
    assert "t0p-s3cret" not in shown.stdout


def test_refusals_are_one_line_with_exit_2(flows: Path, demo: DemoServer, store_url: str) -> None:
    missing = flowc(["resume", "no-such-run"], demo, store_url)
    assert missing.exit_code == 2
    assert missing.stderr.strip().startswith("flowc: error: no run no-such-run in the store")
    unknown = flowc(["runs", "show", "nope"], demo, store_url)
    assert unknown.exit_code == 2 and "no run nope" in unknown.stderr
    bad_store = flowc(["run", str(flows), "--flow", "greet", "-i", "name=x", "--store", "redis://x"],
                      demo, store_url)  # fmt: skip
    assert bad_store.exit_code == 2 and "unknown store URL" in bad_store.stderr
    assert demo.stats()["total"] == 0


def test_an_ephemeral_run_leaves_nothing(
    flows: Path, demo: DemoServer, store_url: str, tmp_path: Path
) -> None:
    result = flowc(["run", str(flows), "--flow", "greet", "-i", "name=e", "--ephemeral"],
                   demo, store_url)  # fmt: skip
    assert result.exit_code == 0
    assert "flowc: run" not in result.stderr
    assert not (tmp_path / "state").exists()


def test_runs_filters_and_prune(flows: Path, demo: DemoServer, store_url: str) -> None:
    for name in ("a", "b"):
        flowc(["run", str(flows), "--flow", "greet", "-i", f"name={name}"], demo, store_url)
    flowc(["run", str(flows), "--flow", "flaky", "-i", "key=p"], demo, store_url)
    by_flow = json.loads(
        flowc(["runs", "--flow", "greet", "--format", "json"], demo, store_url).stdout
    )
    assert [r["flow"] for r in by_flow] == ["greet", "greet"]
    by_status = json.loads(
        flowc(["runs", "--status", "failed", "--format", "json"], demo, store_url).stdout
    )
    assert [r["flow"] for r in by_status] == ["flaky"]
    limited = json.loads(
        flowc(["runs", "--limit", "1", "--format", "json"], demo, store_url).stdout
    )
    assert len(limited) == 1
    kept = flowc(["runs", "prune", "--older-than", "1h"], demo, store_url)
    assert kept.exit_code == 0 and "pruned 0 runs" in kept.stderr
    time.sleep(1.1)
    gone = flowc(["runs", "prune", "--older-than", "1s"], demo, store_url)
    assert "pruned 3 runs" in gone.stderr
    assert open_store(store_url).count_runs() == 0
    bad = flowc(["runs", "prune", "--older-than", "soon"], demo, store_url)
    assert bad.exit_code == 2 and "expects an age such as 30d" in bad.stderr
