"""Structured errors end to end: `fail KIND "message" {status, data}`, filtered
`catch ... when` clauses, `fail e` re-raising unchanged, a sub-flow's payload in
its caller, `flowc run --format envelope`, and the journal's error round trip."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from flowc.cli import main
from flowc.common.errors import FlowError
from flowc.common.values import Duration
from flowc.runtime import codec
from tests.http_fixtures import DemoServer

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "examples" / "typed_failures.flow")

FLOWS = """\
const BASE = env("FLOWC_DEMO_URL")
service api BASE { }

flow inner(code: int) {
    step s = GET api "/status/${code}" { retry 0 }
}

flow rethrow(code: int) -> int {
    try {
        step r = call inner(code: code)
    } catch e when e.status == 404 {
        return 0
    } catch e {
        fail e
    }
    return 1
}

flow wrapped() -> int {
    try {
        fail first "the first" {status: 418, data: {n: 1}}
    } catch e {
        fail second "the second" {data: [e.kind, e.data.n]}
    }
}
"""


def flowc(args: list[str], demo: DemoServer) -> Result:
    runner = CliRunner(env={"FLOWC_DEMO_URL": demo.url})
    return runner.invoke(main, args, catch_exceptions=False)


def test_the_example_catches_its_sub_flows_typed_failure(demo: DemoServer) -> None:
    result = flowc(["run", EXAMPLE, "--flow", "typed_failures", "--ephemeral"], demo)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"reserved": 0, "shortfall": 2, "kind": "out_of_stock"}


def test_the_example_succeeds_when_there_is_stock(demo: DemoServer) -> None:
    args = ["run", EXAMPLE, "--flow", "typed_failures", "-i", "sku=pen", "--ephemeral"]
    result = flowc(args, demo)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"reserved": 2, "shortfall": 0, "kind": ""}


def test_an_uncaught_typed_failure_in_the_envelope(demo: DemoServer) -> None:
    args = ["run", EXAMPLE, "--flow", "reserve", "-i", "sku=sold-out", "-i", "wanted=3"]
    result = flowc([*args, "--ephemeral", "--format", "envelope"], demo)
    assert result.exit_code == 1
    envelope = json.loads(result.stdout)
    assert envelope["status"] == "failed" and envelope["run_id"]
    assert envelope["error"] == {
        "kind": "out_of_stock",
        "message": "no stock for sold-out",
        "status": 409,
        "step": "",
        "data": {"sku": "sold-out", "left": 0},
    }
    assert "Traceback" not in result.stderr


def test_a_success_in_the_envelope(demo: DemoServer) -> None:
    args = ["run", EXAMPLE, "--flow", "reserve", "-i", "sku=pen", "-i", "wanted=1"]
    result = flowc([*args, "--ephemeral", "--format", "envelope"], demo)
    assert result.exit_code == 0, result.stderr
    envelope = json.loads(result.stdout)
    assert set(envelope) == {"run_id", "status", "result"}
    assert envelope["status"] == "succeeded"
    assert envelope["result"] == {"sku": "pen", "reserved": 1}


def test_fail_e_re_raises_the_caught_error_unchanged(tmp_path: Path, demo: DemoServer) -> None:
    path = tmp_path / "flows.flow"
    path.write_text(FLOWS)
    base = ["run", str(path), "--flow", "rethrow", "--ephemeral", "--format", "envelope"]
    caught = flowc([*base, "-i", "code=404"], demo)
    assert caught.exit_code == 0 and json.loads(caught.stdout)["result"] == 0
    result = flowc([*base, "-i", "code=500"], demo)
    assert result.exit_code == 1
    error = json.loads(result.stdout)["error"]
    assert (error["kind"], error["status"], error["step"]) == ("status", 500, "r/s")


def test_a_failure_raised_in_a_catch_keeps_the_caught_one_as_cause(
    tmp_path: Path, demo: DemoServer
) -> None:
    path = tmp_path / "flows.flow"
    path.write_text(FLOWS)
    result = flowc(
        ["run", str(path), "--flow", "wrapped", "--ephemeral", "--format", "envelope"], demo
    )
    error = json.loads(result.stdout)["error"]
    assert (error["kind"], error["data"]) == ("second", ["first", 1])


def test_journaled_errors_round_trip_exactly() -> None:
    cause = FlowError("status", "HTTP 503", step="pay", status=503, attempt=3, data=None)
    error = FlowError(
        "payment_declined",
        "card declined",
        step="charge",
        status=402,
        attempt=1,
        data={"code": "insufficient", "retry_in": Duration(30_000_000_000), "raw": b"\x00"},
        cause=cause,
    )
    text = json.dumps(codec.error_to_plain(error))
    restored = codec.error_from_plain(codec.decode(text))
    assert restored.record() == error.record()
    assert restored.cause is not None and restored.cause.record() == cause.record()
    assert restored.cause.cause is None


def test_fail_options_are_only_status_and_data(tmp_path: Path, demo: DemoServer) -> None:
    path = tmp_path / "options.flow"
    path.write_text('flow options() {\n    fail too_small "n" {status: 1, sku: 2}\n}\n')
    result = flowc(["check", str(path)], demo)
    assert result.exit_code == 1
    assert "2:36: error[E0322]" in result.stderr
    assert "takes only `status` and `data`" in result.stderr
