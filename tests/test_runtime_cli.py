"""`flowc run` and `flowc demo`: inputs, results, messages, exit codes, trace, proxies.

- Exit codes: 0 success (the result as JSON on stdout, nothing else there), 1 a failed
  flow (one line naming the flow, the step, `file:line:col`, the error kind, the HTTP
  status and the attempts; no traceback), 2 usage, compile and input errors (before
  anything is sent: the demo API's statistics stay at zero), 130 interrupted (SIGINT to
  a real `flowc run` process during a slow step; the compensations of completed steps
  ran on the server).
- Inputs: `-i n=3` is converted by the parameter's type, `--input JSON`,
  `--input @file.json`, `--flow` needed (and checked) when a file has several flows.
- `--sequential`, `--trace FILE` (JSON lines, no secrets), proxy variables
  (`HTTP_PROXY` to a dead port gives a `connect` error; `NO_PROXY=127.0.0.1` bypasses).

Most tests call the click command in-process (`CliRunner`, which runs `trio.run` as the
real command does); the interrupt test and the `flowc demo` test start real processes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from flowc.cli import main
from tests.http_fixtures import DemoServer
from tests.runtime_helpers import closed_port
from tests.socks_proxy import Socks5Proxy

ROOT = Path(__file__).resolve().parent.parent

FLOWS = """\
const BASE = env("FLOWC_DEMO_URL")
service api BASE { }

flow add(n: int, m: int = 10, label: string = "sum") -> {label: string, total: int} {
    step e = GET api "/echo" { query { n: n } }
    return {label: label, total: n + m}
}

flow broken(code: int) -> int {
    log "about to fail"
    step bad = GET api "/status/${code}" {
        retry 2 backoff fixed 10ms
    }
    return bad.status
}

flow shapes(xs: list[int], flag: bool, who: {name: string}) -> string {
    return "${size(xs)} ${flag} ${who.name}"
}

flow divide(n: int) -> int {
    return 100 / n
}
"""


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    path = tmp_path / "flows.flow"
    path.write_text(FLOWS)
    return path


def flowc(
    args: list[str], demo: DemoServer | None = None, env: Mapping[str, str | None] | None = None
) -> Result:
    """Run `flowc ARGS` in-process; stdout and stderr are kept apart."""
    environment: dict[str, str | None] = {
        "FLOWC_DEMO_URL": demo.url if demo else "http://127.0.0.1:9"
    }
    environment.update(env or {})
    return CliRunner(env=environment).invoke(main, args, catch_exceptions=False)


# --------------------------------------------------------------------------- success and inputs


def test_run_prints_the_result_as_json(flows: Path, demo: DemoServer) -> None:
    result = flowc(["run", str(flows), "--flow", "add", "-i", "n=3", "-i", "label=three"], demo)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"label": "three", "total": 13}
    assert result.stdout.count("\n") == 1  # only the result goes to stdout
    assert demo.stats()["paths"] == {"/echo": 1}


def test_inputs_from_json_and_a_file_with_i_overriding(
    flows: Path, tmp_path: Path, demo: DemoServer
) -> None:
    inline = flowc(["run", str(flows), "--flow", "add", "--input", '{"n": 1, "m": 2}'], demo)
    assert json.loads(inline.stdout) == {"label": "sum", "total": 3}
    (tmp_path / "inputs.json").write_text('{"n": 5, "m": 6, "label": "from file"}')
    from_file = flowc(
        [
            "run",
            str(flows),
            "--flow",
            "add",
            "--input",
            f"@{tmp_path / 'inputs.json'}",
            "-i",
            "m=100",
        ],
        demo,
    )
    assert from_file.exit_code == 0, from_file.stderr
    assert json.loads(from_file.stdout) == {"label": "from file", "total": 105}


def test_structured_inputs(flows: Path) -> None:
    result = flowc(
        [
            "run",
            str(flows),
            "--flow",
            "shapes",
            "-i",
            "xs=[1, 2, 3]",
            "-i",
            "flag=true",
            "--input",
            '{"who": {"name": "Ada"}}',
        ]
    )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == "3 true Ada"


def test_logs_go_to_stderr(flows: Path, demo: DemoServer) -> None:
    result = flowc(["run", str(flows), "--flow", "broken", "-i", "code=200"], demo)
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == 200
    assert "[broken] about to fail" in result.stderr


# --------------------------------------------------------------------------- failures


def test_a_failed_flow_exits_1_with_one_line(flows: Path, demo: DemoServer) -> None:
    result = flowc(["run", str(flows), "--flow", "broken", "-i", "code=503"], demo)
    assert result.exit_code == 1
    assert result.stdout == ""
    message = result.stderr.strip().splitlines()[-1]
    assert message == (
        f"flowc: error: flow `broken` failed at step `bad` ({flows}:11:5): "
        'status: HTTP 503 Service Unavailable: {"status":503} after 3 attempts'
    )
    assert "Traceback" not in result.stderr


def test_an_expression_error_exits_1(flows: Path) -> None:
    result = flowc(["run", str(flows), "--flow", "divide", "-i", "n=0"])
    assert result.exit_code == 1
    announced, failure = result.stderr.strip().splitlines()
    assert re.fullmatch(r"flowc: run [0-9a-f-]{36}", announced)
    assert failure == f"flowc: error: flow `divide` failed ({flows}:22:12): eval: division by zero"


RECURSIVE = """\
flow down(n: int) -> int timeout 10s {
    if n <= 0 {
        return 0
    }
    step r = call down(n: n - 1)
    return r.body + 1
}
"""


def test_recursion_runs_up_to_the_call_depth_limit_and_then_fails_clearly(
    tmp_path: Path,
) -> None:
    from flowc.runtime.executor import MAX_CALL_DEPTH

    path = tmp_path / "down.flow"
    path.write_text(RECURSIVE)
    within = flowc(["run", str(path), "-i", f"n={MAX_CALL_DEPTH}"])
    assert (within.exit_code, within.stdout.strip()) == (0, str(MAX_CALL_DEPTH))
    beyond = flowc(["run", str(path), "-i", f"n={MAX_CALL_DEPTH + 1}"])
    assert beyond.exit_code == 1
    assert beyond.stdout == ""
    message = beyond.stderr.strip().splitlines()[-1]
    assert message.startswith("flowc: error: flow `down` failed at step `r/r/")
    assert message.endswith(
        f"({path}:5:5): call_depth: calling `down` would nest sub-flow calls deeper than "
        f"{MAX_CALL_DEPTH} levels (a recursion that does not stop?)"
    )
    assert "Traceback" not in beyond.stderr and "internal error" not in beyond.stderr


def test_a_connect_error_names_kind_and_attempts(tmp_path: Path) -> None:
    path = tmp_path / "down.flow"
    path.write_text(
        f'flow f() {{\n    step s = GET "http://127.0.0.1:{closed_port()}/x" {{ retry 1 }}\n}}\n'
    )
    result = flowc(["run", str(path), "--ephemeral"])
    assert result.exit_code == 1
    line = result.stderr.strip()  # an ephemeral run has no id to announce
    assert line.startswith(
        f"flowc: error: flow `f` failed at step `s` ({path}:2:5): connect: GET http://127.0.0.1:"
    )
    assert line.endswith("after 2 attempts")


# ------------------------------------------------------------- usage errors: nothing is sent


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--flow", "add", "-i", "n=three"], "input `n`: expected int"),
        (["--flow", "add"], "flow `add` needs input `n`"),
        (["--flow", "add", "-i", "n=1", "-i", "zz=1"], "flow `add` has no parameter `zz`"),
        (["--flow", "add", "-i", "n"], "-i expects KEY=VALUE"),
        (["--flow", "add", "--input", "{not json"], "--input is not valid JSON"),
        (["--flow", "add", "--input", "[1]"], "--input must be a JSON object"),
        (["--flow", "add", "--input", "@/nonexistent/inputs.json"], "cannot read input file"),
        (
            ["-i", "n=1"],
            "the file declares several flows (add, broken, shapes, divide); choose one with --flow",
        ),
        (["--flow", "nope"], "no flow named `nope`"),
    ],
)
def test_usage_and_input_errors_exit_2_before_anything_is_sent(
    flows: Path, demo: DemoServer, args: list[str], message: str
) -> None:
    result = flowc(["run", str(flows), *args], demo)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("flowc: error: ")
    assert message in result.stderr
    assert demo.stats()["total"] == 0


def test_compile_errors_exit_2(tmp_path: Path, demo: DemoServer) -> None:
    path = tmp_path / "bad.flow"
    path.write_text(
        'flow f() -> int {\n    step s = GET "http://x/y"\n    return s.body.nope + "x"\n}\n'
    )
    result = flowc(["run", str(path)], demo)
    assert result.exit_code == 2
    assert "error[" in result.stderr and f"{path.name}:3:" in result.stderr
    assert result.stdout == ""
    missing = flowc(["run", str(tmp_path / "missing.flow")])
    assert missing.exit_code == 2


# --------------------------------------------------------------------------- options


def test_sequential_flag(tmp_path: Path, demo: DemoServer) -> None:
    path = tmp_path / "gets.flow"
    path.write_text(
        "flow f() -> int {\n"
        + "".join(
            f'    step s{i} = GET env("FLOWC_DEMO_URL") + "/delay/{100 + i}"\n' for i in range(4)
        )
        + "    return s0.status + s1.status + s2.status + s3.status\n}\n"
    )
    overlapped = flowc(["run", str(path)], demo)
    assert json.loads(overlapped.stdout) == 800
    assert demo.stats()["peak_in_flight"] > 1
    demo.reset()
    sequential = flowc(["run", str(path), "--sequential"], demo)
    assert json.loads(sequential.stdout) == 800
    assert demo.stats()["peak_in_flight"] == 1


def test_trace_file_has_every_attempt_and_no_secret(tmp_path: Path, demo: DemoServer) -> None:
    secret = "cli-trace-s3cret"
    path = tmp_path / "traced.flow"
    path.write_text("""\
service api env("FLOWC_DEMO_URL") { auth bearer secret("CLI_SECRET") }
flow f() -> int {
    step a = POST api "/echo" {
        json { token: secret("CLI_SECRET") }
        headers { "X-Key": secret("CLI_SECRET") }
    }
    step b = GET api "/flaky/cli-trace?fail=1&status=502" { retry 1 }
    step c = POST api "/echo?status=500" { json { token: secret("CLI_SECRET") } retry 0 }
    return a.status
}
""")
    trace = tmp_path / "trace.jsonl"
    result = flowc(["run", str(path), "--trace", str(trace)], demo, env={"CLI_SECRET": secret})
    assert result.exit_code == 1
    text = trace.read_text()
    events = [json.loads(line) for line in text.splitlines()]
    attempts = [(e["step"], e["status"]) for e in events if e["event"] == "step_attempt"]
    assert attempts == [("a", 200), ("b", 502), ("b", 200), ("c", 500)]
    assert (events[-1]["event"], events[-1]["status"]) == ("run_finished", "failed")
    assert secret not in text
    assert secret not in result.stderr


def test_an_unwritable_trace_file_is_a_usage_error(flows: Path, tmp_path: Path) -> None:
    result = flowc(
        [
            "run",
            str(flows),
            "--flow",
            "divide",
            "-i",
            "n=1",
            "--trace",
            str(tmp_path / "no" / "dir" / "t.jsonl"),
        ]
    )
    assert result.exit_code == 2
    assert "cannot write trace file" in result.stderr


def test_proxy_variables_are_honoured(flows: Path, demo: DemoServer) -> None:
    dead = f"http://127.0.0.1:{closed_port()}"
    proxied = {
        "HTTP_PROXY": dead,
        "http_proxy": dead,
        "ALL_PROXY": None,
        "all_proxy": None,
        "NO_PROXY": None,
        "no_proxy": None,
    }
    through_proxy = flowc(["run", str(flows), "--flow", "add", "-i", "n=1"], demo, env=proxied)
    assert through_proxy.exit_code == 1
    assert "connect:" in through_proxy.stderr
    assert demo.stats()["total"] == 0
    bypassed = flowc(
        ["run", str(flows), "--flow", "add", "-i", "n=1"],
        demo,
        env={**proxied, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"},
    )
    assert bypassed.exit_code == 0, bypassed.stderr
    assert demo.stats()["total"] == 1


def _through_proxy(url: str) -> dict[str, str | None]:
    """The proxy environment that sends plain-HTTP requests through `url` only."""
    variables = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
    environment: dict[str, str | None] = {}
    for name in variables:
        environment[name] = environment[name.lower()] = None
    environment["HTTP_PROXY"] = environment["http_proxy"] = url
    return environment


@pytest.mark.parametrize("scheme", ["socks5", "socks5h"])
def test_socks5_proxies_carry_the_requests(flows: Path, demo: DemoServer, scheme: str) -> None:
    with Socks5Proxy() as proxy:
        result = flowc(
            ["run", str(flows), "--flow", "add", "-i", "n=2"],
            demo,
            _through_proxy(proxy.url(scheme)),
        )
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"label": "sum", "total": 12}
    assert proxy.targets == [demo.url.removeprefix("http://")]  # it went through the proxy
    assert demo.stats()["total"] == 1


def test_socks5_proxy_credentials_are_sent_and_never_printed(flows: Path, demo: DemoServer) -> None:
    with Socks5Proxy(("flowc", "proxy-pa55-word")) as proxy:
        good = flowc(
            ["run", str(flows), "--flow", "add", "-i", "n=1"], demo, _through_proxy(proxy.url())
        )
        wrong_url = proxy.url().replace("proxy-pa55-word", "not-the-pa55")
        wrong = flowc(
            ["run", str(flows), "--flow", "add", "-i", "n=1"], demo, _through_proxy(wrong_url)
        )
    assert good.exit_code == 0, good.stderr
    assert wrong.exit_code == 1, wrong.stderr
    assert "connect:" in wrong.stderr and "Traceback" not in wrong.stderr
    assert "pa55" not in wrong.stderr + wrong.stdout
    assert proxy.refused == 1
    assert demo.stats()["total"] == 1


@pytest.mark.parametrize(
    "url",
    ["socks4://127.0.0.1:1080", "ftp://me:pa55@127.0.0.1:21", "http://me:pa55@127.0.0.1:port"],
)
def test_unusable_proxy_settings_are_a_usage_error(flows: Path, demo: DemoServer, url: str) -> None:
    result = flowc(["run", str(flows), "--flow", "add", "-i", "n=1"], demo, _through_proxy(url))
    assert result.exit_code == 2, result.stderr
    assert result.stderr.startswith("flowc: error: the proxy settings cannot be used (HTTP_PROXY=")
    assert result.stderr.count("\n") == 1
    assert "pa55" not in result.stderr
    assert demo.stats()["total"] == 0


# --------------------------------------------------------------------------- real processes


def _environment(**extra: str) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if "proxy" not in key.lower()}
    environment["PYTHONPATH"] = os.pathsep.join(
        filter(None, [str(ROOT), environment.get("PYTHONPATH", "")])
    )
    environment.update(extra)
    return environment


def test_sigint_exits_130_after_compensating(tmp_path: Path, demo: DemoServer) -> None:
    path = tmp_path / "saga.flow"
    path.write_text("""\
service api env("FLOWC_DEMO_URL") { retry 0 }
flow f() -> int {
    step order = POST api "/orders" -> {id: string} {
        json { item: "interrupted" }
        compensate { step cancel = DELETE api "/orders/${order.body.id}" }
    }
    step slow = GET api "/delay/30000"
    return slow.status
}
""")
    process = subprocess.Popen(
        [sys.executable, "-m", "flowc.cli", "run", str(path)],
        env=_environment(FLOWC_DEMO_URL=demo.url),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while demo.stats()["paths"].get("/delay/30000") != 1:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the slow step never started"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, stderr
    assert stdout == ""
    assert stderr.strip().splitlines()[-1] == "flowc: interrupted; compensations ran: order"
    assert "Traceback" not in stderr
    assert [order["status"] for order in demo.state()["orders"]] == ["cancelled"]
    assert demo.wait_until_idle()["in_flight"] == 0


def test_flowc_demo_runs_an_example_end_to_end() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "flowc.cli",
            "demo",
            "examples/order_saga.flow",
            "-i",
            "item=book",
            "-i",
            "fail_shipment=true",
        ],
        cwd=ROOT,
        env=_environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "flowc demo: demo API at http://127.0.0.1:" in result.stderr
    assert "flow `place_order` failed at step `shipment`" in result.stderr
    assert "HTTP 503" in result.stderr and "after 2 attempts" in result.stderr
    assert "Traceback" not in result.stderr
