"""Interrupts of real `flowc` processes: sagas, a second interrupt, Ctrl-C at any moment.

- **Compensations on every interrupt path.**  One flow holds every place a completed step
  with a `compensate` block can be when SIGINT or SIGTERM arrives: before a `parallel`
  block in flight, inside one of its branches, in each iteration of a parallel loop, in
  a sub-flow that completed and in one still running.  Ten `flowc run` processes against
  the demo API get the signal while their seven slow requests are in flight.  Every one
  must exit 130 with nothing on stdout and, as its last line, `flowc: interrupted;
  compensations ran: ...` naming exactly the seven compensated steps; its trace must end
  with `run_finished` status `interrupted`; and the demo API must hold all seventy orders
  cancelled.  Ten of ten, for both signals.  (`test_runtime_cli.py` has the plain
  sequential case.)
- **A second interrupt** while a compensation hangs stops it: exit 130 at once, the last
  line naming the compensation that did not finish, the order left as it was.
- **Ctrl-C at any moment** of `flowc run`, `flowc check` and `flowc fmt`, from 0 to
  600 ms after the console script starts: exit 130 and the one line
  `flowc: interrupted...`, never a traceback through flowc's code nor click's
  `Aborted!`.  A signal that lands while the Python interpreter itself is still
  starting (before the console script's first line: site-packages, `.pth` files) is
  Python's to handle; those are told apart by their traceback (only interpreter
  start-up frames) and counted, not failed.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.cli_process import Finished, child_environment, finish, start_flowc
from tests.http_fixtures import DemoServer

TRIES = 10

SAGAS = """
service api env("FLOWC_DEMO_URL") { retry 0 }

flow everywhere(tag: string) -> int {
    step first = POST api "/orders" -> {id: string} {
        json { item: tag }
        compensate { step cancel = DELETE api "/orders/${first.body.id}" }
    }
    parallel {
        branch {
            step in_branch = POST api "/orders" -> {id: string} {
                json { item: tag }
                compensate { step cancel_b = DELETE api "/orders/${in_branch.body.id}" }
            }
            step slow_a = GET api "/delay/30001"
        }
        branch {
            let statuses = for i in range(3) parallel {
                step looped = POST api "/orders" -> {id: string} {
                    json { item: tag }
                    compensate { step cancel_l = DELETE api "/orders/${looped.body.id}" }
                }
                step slow_b = GET api "/delay/30001"
                yield slow_b.status
            }
            log "${statuses}"
        }
        branch {
            step placed = call place(tag: tag)
            step slow_c = GET api "/delay/30001"
        }
        step waiting = call place_and_wait(tag: tag)
        step slow_d = GET api "/delay/30001"
    }
    return slow_a.status + slow_c.status + slow_d.status + waiting.body
}

flow place(tag: string) -> string {
    step order = POST api "/orders" -> {id: string} {
        json { item: tag }
        compensate { step cancel = DELETE api "/orders/${order.body.id}" }
    }
    return order.body.id
}

flow place_and_wait(tag: string) -> int {
    step order = POST api "/orders" -> {id: string} {
        json { item: tag }
        compensate { step cancel = DELETE api "/orders/${order.body.id}" }
    }
    step slow = GET api "/delay/30001"
    return slow.status
}

flow hanging(tag: string) -> int {
    step order = POST api "/orders" -> {id: string} {
        json { item: tag }
        compensate { step cancel = GET api "/delay/30006" }
    }
    step slow = GET api "/delay/30007"
    return slow.status
}
"""

IN_FLIGHT = 7
"""Slow requests (`/delay/30001`) each `everywhere` run has in flight when it is signalled:
one in a branch after a completed step, three in a parallel loop, one after a completed
sub-flow, one inside a sub-flow still running, one plain step of the `parallel` block."""
COMPENSATED = [
    "first",
    "in_branch",
    "looped[0]",
    "looped[1]",
    "looped[2]",
    "placed/order",
    "waiting/order",
]
"""The steps whose compensations must run: before the block, in a branch, in each iteration
of the parallel loop, in the completed sub-flow (handed to its caller) and in the
interrupted one."""


@pytest.fixture
def sagas(tmp_path: Path) -> Path:
    path = tmp_path / "sagas.flow"
    path.write_text(SAGAS)
    return path


def start_runs(
    demo: DemoServer, sagas: Path, tmp_path: Path, flow: str, tag: str
) -> list[tuple[subprocess.Popen[bytes], object, object]]:
    """TRIES concurrent `flowc run` processes of `flow`, each tagged `tag-i`, with a trace."""
    return [
        start_flowc(
            [
                *("run", str(sagas), "--flow", flow, "-i", f"tag={tag}-{i}"),
                *("--trace", str(tmp_path / f"{tag}-{i}.jsonl")),
                *("--store", f"sqlite:///{tmp_path}/{tag}-{i}.db"),
            ],
            {"FLOWC_DEMO_URL": demo.url},
        )
        for i in range(TRIES)
    ]


def wait_for(
    demo: DemoServer,
    path: str,
    count: int,
    children: list[tuple[subprocess.Popen[bytes], object, object]],
) -> None:
    """Until the demo API has seen `count` requests to `path` (every child still running)."""
    deadline = time.monotonic() + 60
    while demo.stats()["paths"].get(path, 0) < count:
        assert time.monotonic() < deadline, f"only {demo.stats()['paths'].get(path)} of {count}"
        assert all(running(process) for process, _, _ in children), "a run ended early"
        time.sleep(0.05)


def running(process: subprocess.Popen[bytes]) -> bool:
    """Whether a child still runs, without reaping it (`finish` waits for it with wait4)."""
    import os

    return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None


def signal_all(children: list[tuple[subprocess.Popen[bytes], object, object]], sig: int) -> None:
    for process, _, _ in children:
        process.send_signal(sig)


def last_event(trace: Path) -> dict[str, object]:
    events: list[dict[str, object]] = [json.loads(line) for line in trace.read_text().splitlines()]
    return events[-1]


def orders_of(demo: DemoServer, tag: str) -> list[str]:
    return [
        order["status"]
        for order in demo.state()["orders"]
        if str(order.get("item", "")).startswith(f"{tag}-")
    ]


def assert_interrupted(finished: Finished) -> str:
    assert not finished.killed, "the process did not end"
    assert finished.code == 130, finished.stderr
    assert finished.stdout == ""
    assert "Traceback" not in finished.stderr and "Aborted" not in finished.stderr
    lines = finished.stderr.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("flowc: run "), finished.stderr
    return lines[-1]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_an_interrupt_runs_the_compensations_of_every_completed_step(
    demo: DemoServer, sagas: Path, tmp_path: Path, sig: int
) -> None:
    tag = f"everywhere-{sig}"
    began = time.monotonic()
    children = start_runs(demo, sagas, tmp_path, "everywhere", tag)
    try:
        wait_for(demo, "/delay/30001", TRIES * IN_FLIGHT, children)
        signal_all(children, sig)
    finally:
        results = [finish(child, 60, began) for child in children]
    for i, finished in enumerate(results):
        last = assert_interrupted(finished)
        ran = re.fullmatch(r"flowc: interrupted; compensations ran: (.*)", last)
        assert ran is not None, last
        assert sorted(ran.group(1).split(", ")) == COMPENSATED, last
        final = last_event(tmp_path / f"{tag}-{i}.jsonl")
        assert (final["event"], final["status"]) == ("run_finished", "interrupted")
    assert orders_of(demo, tag) == ["cancelled"] * (TRIES * len(COMPENSATED))
    assert demo.wait_until_idle()["in_flight"] == 0


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (signal.SIGINT, signal.SIGINT),
        (signal.SIGTERM, signal.SIGTERM),
    ],
    ids=["SIGINT-SIGINT", "SIGTERM-SIGTERM"],
)
def test_a_second_interrupt_stops_a_hanging_compensation(
    demo: DemoServer, sagas: Path, tmp_path: Path, first: int, second: int
) -> None:
    tag = f"hanging-{first}-{second}"
    began = time.monotonic()
    children = start_runs(demo, sagas, tmp_path, "hanging", tag)
    try:
        wait_for(demo, "/delay/30007", TRIES, children)
        signal_all(children, first)
        wait_for(demo, "/delay/30006", TRIES, children)  # every compensation hangs now
        stopped = time.monotonic()
        signal_all(children, second)
    finally:
        results = [finish(child, 60, began) for child in children]
    for i, finished in enumerate(results):
        last = assert_interrupted(finished)
        assert last == "flowc: interrupted; did not finish: order", last
        final = last_event(tmp_path / f"{tag}-{i}.jsonl")
        assert (final["event"], final["status"]) == ("run_finished", "interrupted")
    assert time.monotonic() - stopped < 20  # not the 30 s the compensation would take
    assert orders_of(demo, tag) == ["created"] * TRIES  # it was not undone, and says so


# --------------------------------------------------------------------------- Ctrl-C at any moment

DELAYS_MS = [0, 2, 5, 10, 15, 20, 30, 40, 50, 65, 80, 100, 130, 160, 200, 250, 300, 400, 500, 600]
DELAYS_MS += [800, 1000, 1500, 2000]  # the same phases later, on a loaded machine
FLOWC_BY = 1000
"""Milliseconds after which flowc itself is surely running (interpreter start-up is over)."""


def console_script() -> list[str]:
    """The `flowc` console script of this interpreter's environment (as users start it)."""
    script = Path(sys.executable).with_name("flowc")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from flowc.launch import entry; sys.exit(entry())"]


def interrupt_at(args: list[str], delay: float, cwd: Path) -> tuple[int, str, bool]:
    """Start the console script, SIGINT it `delay` seconds later: (status, stderr, signalled)."""
    process = subprocess.Popen(
        [*console_script(), *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=child_environment({"XDG_CACHE_HOME": str(cwd / "cache")}),  # cold caches: longer
        cwd=cwd,
    )
    time.sleep(delay)
    signalled = process.poll() is None
    if signalled:
        process.send_signal(signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, stderr = process.communicate()
    return process.returncode, stderr.decode("utf-8", "replace"), signalled


def classify(status: int, stderr: str) -> str:
    """What an interrupted process did: the outcomes the test accepts, or what went wrong.

    A `KeyboardInterrupt` traceback is Python's own while the interpreter starts: in
    `site` (site-packages and their `.pth` files), or in the console script's import of
    `flowc.launch`, the module that installs flowc's handler as its first act.  Any other
    traceback went through flowc's code.
    """
    lines = stderr.strip().splitlines()
    if status == -signal.SIGINT and not lines:
        return "killed before Python handled signals"
    if "Traceback" in stderr or "KeyboardInterrupt" in stderr:
        files = re.findall(r'File "([^"]+)", line \d+', stderr)
        ours = [name for name in files if "/flowc/" in name or "/click/" in name]
        if all(name.endswith(("flowc/__init__.py", "flowc/launch.py")) for name in ours):
            return "interpreter start-up"
        return "traceback"
    if "Aborted" in stderr:
        return "Aborted!"
    if status == 130 and len(lines) == 1 and lines[0].startswith("flowc: interrupted"):
        return "flowc: interrupted"
    return f"other: {status} {lines[-1:] if lines else ''}"


@pytest.fixture
def slow_work(tmp_path: Path) -> Path:
    """A flow that sleeps and a file big enough that checking and formatting take a while."""
    (tmp_path / "sleepy.flow").write_text("flow f() -> int {\n    sleep 30s\n    return 1\n}\n")
    flows = "\n".join(
        f"flow f{i}(x: int) -> int {{\n    let y = x * {i} + size([1, 2, 3])\n    return y\n}}\n"
        for i in range(6000)
    )
    (tmp_path / "big.flow").write_text(flows)
    return tmp_path


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--ephemeral", "sleepy.flow"],
        ["check", "big.flow"],
        ["fmt", "--check", "big.flow"],
        ["fmt", "-"],  # reads stdin, which stays open
    ],
    ids=["run", "check", "fmt", "fmt-stdin"],
)
def test_ctrl_c_at_any_moment_is_one_line_and_130(slow_work: Path, args: list[str]) -> None:
    outcomes: dict[float, str] = {}
    results: dict[float, tuple[int, str, bool]] = {}

    def one(delay_ms: int) -> None:
        results[delay_ms] = interrupt_at(args, delay_ms / 1000, slow_work)

    threads = [threading.Thread(target=one, args=(delay,)) for delay in DELAYS_MS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for delay, (status, stderr, signalled) in results.items():
        assert signalled, f"the command ended within {delay} ms: make the work longer"
        outcomes[delay] = classify(status, stderr)
    counts = Counter(outcomes.values())
    accepted = {
        "flowc: interrupted",
        "killed before Python handled signals",
        "interpreter start-up",
    }
    wrong = {d: results[d][1][-2000:] for d, o in outcomes.items() if o not in accepted}
    assert set(counts) <= accepted, wrong
    late = [outcomes[d] for d in DELAYS_MS if d >= FLOWC_BY]
    assert late == ["flowc: interrupted"] * len(late), outcomes
