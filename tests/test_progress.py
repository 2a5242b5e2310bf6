"""`flowc run` in the terminal: live progress, `-v`, `-q` and `--log-format json`.

The command tests run the real console script against the demo API; the display is
checked in a real pseudo-terminal (python's `pty`, 120x40): the steps in flight by
name, a loop's `done/total`, the summary, and that Ctrl-C still ends the run with
status 130 and shows the cursor again. With stderr a pipe, nothing extra appears.
`--log-format json`: every stderr line is a JSON object with the required fields and
the run's id; check errors are one object each. A secret the demo API echoes back
appears nowhere, in any format. In-process: the loop events (`done/total`, an end on
`break`, nested loops apart) and the summary against `tests/golden/progress_summary.out`
(`FLOWC_UPDATE_GOLDEN=1` rewrites it).
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.cli_process import child_environment
from tests.http_fixtures import DemoServer

FLOWS = """\
const BASE = env("FLOWC_DEMO_URL")
service api BASE { auth bearer secret("PROGRESS_TOKEN") }

flow fan(n: int, key: string) -> int {
    log "starting ${n}"
    step first = GET api "/flaky/${key}?fail=1&status=503" { retry 2 backoff fixed 200ms }
    for i in range(n) parallel 4 {
        step each = GET api "/echo?delay=60&i=${i}"
    }
    step echoed = GET api "/echo"
    log "the server saw ${echoed.body.headers.authorization}"
    return n
}

flow slow() -> int {
    step waiting = GET api "/delay/20000"
    return 1
}

flow undone() -> int {
    step held = GET api "/echo" {
        compensate { step undo = GET api "/status/500" { retry 0 } }
    }
    step bad = GET api "/status/${held.status + 300}" { retry 0 }  # after `held`
    return held.status
}

flow broken() -> int {
    step bad = GET api "/status/500" { retry 0 }
    return bad.status
}
"""

TOKEN = "tok-pr0gress-s3cret-81f2"
REQUIRED = ("time", "level", "run_id", "flow", "step", "trace_id", "message")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    path = tmp_path / "progress.flow"
    path.write_text(FLOWS)
    return path


def environment(demo: DemoServer, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    env = child_environment({"FLOWC_DEMO_URL": demo.url, "PROGRESS_TOKEN": TOKEN})
    env.pop("NO_COLOR", None)
    env.update(extra or {})
    return env


@dataclass
class Screen:
    code: int
    stdout: str
    raw: str

    @property
    def text(self) -> str:
        """What was drawn, without the terminal's control sequences."""
        return ANSI.sub("", self.raw).replace("\r", "")


def run_in_pty(
    args: list[str],
    env: dict[str, str],
    *,
    when: Callable[[str], bool] | None = None,
    then: Callable[[subprocess.Popen[bytes]], None] | None = None,
    timeout: float = 30.0,
) -> Screen:
    """`flowc ARGS` with stderr (and stdin) on a pseudo-terminal and stdout a pipe;
    `then(process)` is called once the terminal shows what `when` waits for."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    process = subprocess.Popen(
        [sys.executable, "-m", "flowc.cli", *args],
        stdin=slave,
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    raw, deadline = b"", time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed its end
                    break
                if not chunk:
                    break
                raw += chunk
                if when is not None and then is not None and when(raw.decode(errors="replace")):
                    then(process)
                    when = None
            elif process.poll() is not None:
                break
        else:
            process.kill()
        code = process.wait(timeout=10)
    finally:
        os.close(master)
    assert process.stdout is not None
    return Screen(code, process.stdout.read().decode(), raw.decode(errors="replace"))


def run_piped(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flowc.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
    )


def json_lines(stderr: str) -> list[dict[str, object]]:
    records = [json.loads(line) for line in stderr.splitlines()]
    assert records, "nothing on stderr"
    for record in records:
        assert isinstance(record, dict)
        assert list(record)[: len(REQUIRED)] == list(REQUIRED), record
        assert record["level"] in ("info", "warning", "error")
        assert record["trace_id"] is None
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", str(record["time"]))
    return records


# --------------------------------------------------------------------------- the display


def test_the_display_shows_steps_loops_and_a_summary_on_a_terminal(
    flows: Path, demo: DemoServer
) -> None:
    screen = run_in_pty(
        ["run", str(flows), "--flow", "fan", "-i", "n=12", "-i", "key=pty"], environment(demo)
    )
    assert screen.code == 0, screen.text
    assert screen.stdout == "12\n"  # the result alone on stdout
    text = screen.text
    assert "in flight" in text  # the headline
    assert re.search(r"each\[\d+\]\s+GET\s+attempt 1", text)  # a step in flight
    assert re.search(r"loop for@7\s+\d+/12", text)  # the loop's done/total
    assert "retry first after attempt 1: status: HTTP 503" in text  # a retry's reason
    assert "[fan] starting 12" in text  # log lines above the display
    summary = text[text.index("flowc: fan completed in") :]
    assert re.search(r"steps\s+14 \(14 completed\)", summary)
    assert re.search(r"attempts\s+15 \(retries: 1\)", summary)
    assert re.search(r"loops\s+for@7 12/12", summary)
    assert re.search(r"slowest\s+\S+ \d+ ms", summary)
    assert "\x1b[?25h" in screen.raw  # the cursor is shown again
    assert TOKEN not in screen.raw and "the server saw ***" in text


def test_a_pipe_gets_nothing_extra(flows: Path, demo: DemoServer) -> None:
    args = ["run", str(flows), "--flow", "fan", "-i", "n=3", "-i", "key=pipe"]
    done = run_piped([*args, "--run-id", "piped-run"], environment(demo))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "3\n"
    assert done.stderr == (
        "flowc: run piped-run\n[fan] starting 3\n[fan] the server saw ***\n"
    )  # no display, no summary, no control sequences


def test_progress_always_draws_on_a_pipe_too(flows: Path, demo: DemoServer) -> None:
    args = ["run", str(flows), "--flow", "fan", "-i", "n=2", "-i", "key=always"]
    done = run_piped([*args, "--progress", "always"], environment(demo))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "2\n"
    text = ANSI.sub("", done.stderr)
    assert "in flight" in text and "flowc: fan completed in" in text
    assert re.search(r"steps\s+4 \(4 completed\)", text)


def test_progress_never_on_a_terminal_prints_only_the_usual_lines(
    flows: Path, demo: DemoServer
) -> None:
    screen = run_in_pty(
        ["run", str(flows), "--flow", "fan", "-i", "n=2", "-i", "key=never", "--progress", "never"],
        environment(demo),
    )
    assert screen.code == 0
    assert "in flight" not in screen.text and "completed in" not in screen.text
    assert "[fan] starting 2" in screen.text


def test_ctrl_c_ends_the_run_with_130_and_restores_the_terminal(
    flows: Path, demo: DemoServer
) -> None:
    screen = run_in_pty(
        ["run", str(flows), "--flow", "slow"],
        environment(demo),
        when=lambda text: "waiting" in text and "in flight" in text,
        then=lambda process: process.send_signal(signal.SIGINT),
    )
    assert screen.code == 130, screen.text
    assert "flowc: interrupted; no compensation was needed" in screen.text
    assert screen.raw.rindex("\x1b[?25h") > screen.raw.rindex("\x1b[?25l")
    assert "Traceback" not in screen.text


# --------------------------------------------------------------------------- -v and -q


def test_verbose_prints_one_line_per_attempt(flows: Path, demo: DemoServer) -> None:
    done = run_piped(
        ["run", str(flows), "--flow", "fan", "-i", "n=1", "-i", "key=verbose", "-v"],
        environment(demo),
    )
    assert done.returncode == 0, done.stderr
    first = [line for line in done.stderr.splitlines() if "`first`" in line]
    assert len(first) == 2  # the flaky endpoint fails once, then succeeds
    url = re.escape(f"{demo.url}/flaky/verbose")
    assert re.fullmatch(rf"flowc: `first` attempt 1: GET {url} -> 503 in \d+ ms", first[0])
    assert re.fullmatch(rf"flowc: `first` attempt 2: GET {url} -> 200 in \d+ ms", first[1])
    assert len(re.findall(r"`each\[0\]` attempt 1: GET \S+/echo -> 200", done.stderr)) == 1
    assert "in flight" not in done.stderr  # -v is not the display
    assert TOKEN not in done.stderr


def test_quiet_says_only_errors(flows: Path, demo: DemoServer) -> None:
    env = environment(demo)
    fine = run_piped(["run", str(flows), "--flow", "fan", "-i", "n=1", "-i", "key=q", "-q"], env)
    assert (fine.returncode, fine.stdout, fine.stderr) == (0, "1\n", "")
    failed = run_piped(["run", str(flows), "--flow", "broken", "-q"], env)
    assert failed.returncode == 1
    assert failed.stderr.startswith("flowc: error: flow `broken` failed at step `bad`")
    assert failed.stderr.count("\n") == 1


# --------------------------------------------------------------------------- JSON logs


def test_json_logs_every_line_with_the_run_id(flows: Path, demo: DemoServer) -> None:
    done = run_piped(
        [
            *("run", str(flows), "--flow", "fan", "-i", "n=3", "-i", "key=json"),
            *("--log-format", "json", "--run-id", "json-run"),
        ],
        environment(demo),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "3\n"
    records = json_lines(done.stderr)
    assert {record["run_id"] for record in records} == {"json-run"}
    assert {record["flow"] for record in records} == {"fan"}
    events = [record["event"] for record in records]
    assert events[0] == "run_id" and events[-2:] == ["run_finished", "summary"]
    logs = [record["message"] for record in records if record["event"] == "log"]
    assert logs == ["starting 3", "the server saw ***"]
    attempts = [r for r in records if r["event"] == "step_attempt" and r["step"] == "first"]
    assert [(r["attempt"], r["status"], r["level"]) for r in attempts] == [
        (1, 503, "warning"),
        (2, 200, "info"),
    ]
    (retry,) = [record for record in records if record["event"] == "step_retry"]
    assert retry["step"] == "first" and str(retry["reason"]).startswith("status: HTTP 503")
    loops = [(r["event"], r["done"], r["total"]) for r in records if r.get("loop") == "for@7"]
    assert loops[0] == ("loop_started", 0, 3) and loops[-1] == ("loop_finished", 3, 3)
    summary = records[-1]
    assert summary["steps"] == {"completed": 5} and summary["attempts"] == 6
    assert TOKEN not in done.stderr


def test_json_logs_a_failure_and_quiet_keeps_only_errors(flows: Path, demo: DemoServer) -> None:
    env = environment(demo)
    failed = run_piped(["run", str(flows), "--flow", "broken", "--log-format", "json"], env)
    assert failed.returncode == 1
    records = json_lines(failed.stderr)
    assert records[-1]["level"] == "error" and records[-1]["event"] == "error"
    assert "flow `broken` failed at step `bad`" in str(records[-1]["message"])
    (step_failed,) = [record for record in records if record["event"] == "step_failed"]
    assert step_failed["step"] == "bad" and step_failed["level"] == "error"
    quiet = run_piped(["run", str(flows), "--flow", "broken", "--log-format", "json", "-q"], env)
    assert [record["level"] for record in json_lines(quiet.stderr)] == ["error", "error"]


def test_json_warnings_and_the_compensations_are_objects(flows: Path, demo: DemoServer) -> None:
    done = run_piped(
        ["run", str(flows), "--flow", "undone", "--log-format", "json"], environment(demo)
    )
    assert done.returncode == 1, done.stderr
    records = json_lines(done.stderr)
    (warning,) = [record for record in records if record["event"] == "warning"]
    assert warning["level"] == "warning" and warning["run_id"] == records[0]["run_id"]
    assert "compensation failed in flow `undone`" in str(warning["message"])
    assert [record["event"] for record in records[-2:]] == ["error", "outcome"]
    assert "failed: held" in str(records[-1]["message"])


def test_json_check_errors_are_one_object_each(tmp_path: Path, demo: DemoServer) -> None:
    path = tmp_path / "bad.flow"
    path.write_text('flow f() -> int {\n    return nope + "x"\n}\n')
    done = run_piped(["run", str(path), "--log-format", "json"], environment(demo))
    assert done.returncode == 2
    records = json_lines(done.stderr)
    diagnostics = [record for record in records if record["event"] == "diagnostic"]
    assert diagnostics and len(diagnostics) == len(records)
    first = diagnostics[0]
    assert (first["path"], first["line"], first["col"]) == (str(path), 2, 12)
    assert re.fullmatch(r"E\d{4}", str(first["code"])) and "nope" in str(first["message"])


def test_json_usage_errors_are_objects(flows: Path, demo: DemoServer) -> None:
    done = run_piped(
        ["run", str(flows), "--flow", "fan", "-i", "n=x", "--log-format", "json"],
        environment(demo),
    )
    assert done.returncode == 2
    (record,) = json_lines(done.stderr)
    assert record["level"] == "error" and "input `n`" in str(record["message"])


def test_resume_reports_in_json_too(flows: Path, demo: DemoServer) -> None:
    env = environment(demo)
    source = flows.read_text().replace("retry 2 backoff fixed 200ms", "retry 0")
    flows.write_text(source)
    args = ["--flow", "fan", "-i", "n=1", "-i", "key=resume", "--run-id", "resumed-run"]
    first = run_piped(["run", str(flows), *args, "-q"], env)
    assert first.returncode == 1, first.stderr
    done = run_piped(["resume", "resumed-run", "--log-format", "json"], env)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "1\n"
    records = json_lines(done.stderr)
    assert {record["run_id"] for record in records} == {"resumed-run"}
    assert records[0]["event"] == "run_started" and "resumed" in str(records[0]["message"])
    assert [r["attempt"] for r in records if r["event"] == "step_attempt" and r["step"] == "first"]
    assert TOKEN not in done.stderr


# --------------------------------------------------------------------------- loop events


async def test_loops_report_done_of_total_and_end_however_they_end(demo: DemoServer) -> None:
    from tests.runtime_helpers import compile_flow, run

    program = compile_flow(
        """
        service api "@URL@" { }
        flow f() -> int {
            for i in range(2) {
                for j in range(3) { step fetch = GET api "/echo?i=${i}&j=${j}" }
            }
            for i in range(5) {
                if i == 2 { break }
            }
            for i in range(4) parallel 2 { step each = GET api "/echo?p=${i}" }
            return 1
        }
        """,
        demo.url,
    )
    outcome = await run(program, "f")
    assert outcome.error is None
    loops = [
        (e["event"], e["loop"], e.get("done"), e["total"])
        for e in outcome.events
        if e["event"].startswith("loop_")
    ]
    outer = [loop for loop in loops if loop[1] == "for@4"]
    assert outer == [
        ("loop_started", "for@4", None, 2),
        ("loop_progress", "for@4", 1, 2),
        ("loop_progress", "for@4", 2, 2),
        ("loop_finished", "for@4", 2, 2),
    ]
    inner = {loop[1] for loop in loops if loop[0] == "loop_started" and loop[1] != "for@4"}
    assert {"for@5[0]", "for@5[1]"} <= inner  # each execution of the inner loop apart
    assert ("loop_finished", "for@7", 3, 5) in loops  # `break` after the third iteration
    parallel = [loop for loop in loops if loop[1] == "for@10"]
    assert parallel[0] == ("loop_started", "for@10", None, 4)
    assert [loop[2] for loop in parallel[1:]] == [1, 2, 3, 4, 4]


# --------------------------------------------------------------------------- the summary


def test_the_summary_renders_as_its_golden_file() -> None:
    import io

    from rich.console import Console

    from flowc.commands.progress import summary
    from flowc.commands.runtally import RunTally
    from flowc.runtime import hooks as events

    tally = RunTally()

    def at(seconds: float, event: type[events.Event], **fields: object) -> None:
        tally(event(run_id="r1", time=1000.0 + seconds, **fields))  # type: ignore[arg-type]

    at(0, events.RunStarted, flow="checkout", attempt=1)
    at(0, events.LoopStarted, flow="checkout", invocation=1, loop="for@4", total=3, parallel=True)
    for i, took in enumerate((0.120, 0.045, 2.5)):
        step = dict(flow="checkout", invocation=1, step=f"each[{i}]")
        at(0, events.StepStarted, method="GET", **step)
        at(took, events.AttemptFinished, attempt=1, method="GET", url="http://x/e", status=200,
           error=None, elapsed_ms=took * 1000, **step)  # fmt: skip
        at(took, events.StepFinished, outcome="completed", status=200, attempts=1, **step)
        at(took, events.LoopAdvanced, flow="checkout", invocation=1, loop="for@4", done=i + 1,
           total=3)  # fmt: skip
    at(2.5, events.LoopFinished, flow="checkout", invocation=1, loop="for@4", done=3, total=3)
    charge = dict(flow="checkout", invocation=1, step="charge")
    at(2.5, events.StepStarted, method="POST", **charge)
    for attempt, status in ((1, 503), (2, 200)):
        at(2.6, events.AttemptFinished, attempt=attempt, method="POST", url="http://x/c",
           status=status, error=None, elapsed_ms=50.0, **charge)  # fmt: skip
    at(2.6, events.StepRetrying, attempt=1, delay=0.2,
       error={"kind": "status", "message": "HTTP 503"}, **charge)  # fmt: skip
    at(3.1, events.StepFinished, outcome="fallback", status=503, attempts=2, **charge)
    at(3.25, events.RunFinished, flow="checkout", status="completed")

    stream = io.StringIO()
    Console(file=stream, width=100, color_system=None, force_terminal=False).print(summary(tally))
    rendered = "\n".join(line.rstrip() for line in stream.getvalue().splitlines()) + "\n"
    golden = Path(__file__).parent / "golden" / "progress_summary.out"
    if os.environ.get("FLOWC_UPDATE_GOLDEN"):
        golden.write_text(rendered)
    assert rendered == golden.read_text()
