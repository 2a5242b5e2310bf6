"""Hardening figures (issue 8): what hostile servers, signals and big loops cost a run.

    python bench/hardening.py                   # this checkout
    python bench/hardening.py --tree OLD_TREE   # another source tree, for before/after
    python bench/hardening.py --only rss,cpu    # some sections

Every figure comes from real `flowc run` processes (the tree's console-script code
path, `PYTHONPATH=TREE`) against the fault server of `tests/fault_server.py` in this
process, except "memory per finished step", which runs the engine in a child with
tracemalloc (trees with an `Engine` only).  Sections:

* rss: peak RSS (`wait4`) and wall time of a gzip bomb (1 GiB decompressed), a 200 MiB
  JSON string and list, and parallel loops over a million items (with and without
  collecting);
* cpu: how long CPU-bound work runs past a flow `timeout 1s` and a `timeout 2s` block
  (the run's own time, from its trace), and how long after SIGINT a run of such work
  ends (`run_finished` in the trace minus the moment the signal was sent);
* sigint: what SIGINT does at spread moments of `flowc run`, `check` and `fmt`;
* memory: bytes kept per finished step over a loop of 100,000 steps (tracemalloc;
  ephemeral, and durable with a store that discards what it is given);
* redaction: the cost of scrubbing text with a run's secrets, and of reading JSON.

The machine is shared and noisy: read the figures side by side, from one run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fault_server import FaultServer  # noqa: E402


def child_env(tree: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    environment["PYTHONPATH"] = str(tree)
    environment.update(extra or {})
    return environment


def flowc_command(tree: Path) -> list[str]:
    """The tree's console-script entry point."""
    entry = "flowc.launch" if (tree / "flowc" / "launch.py").exists() else "flowc.cli"
    return [sys.executable, "-c", f"import sys; from {entry} import entry; sys.exit(entry())"]


def run(
    tree: Path, args: list[str], env: dict[str, str] | None = None
) -> tuple[int, str, float, float]:
    """(exit status, stderr, wall seconds, peak RSS MiB) of one `flowc` process."""
    with tempfile.TemporaryFile() as err:
        started = time.monotonic()
        process = subprocess.Popen(
            [*flowc_command(tree), *args], stdout=subprocess.DEVNULL, stderr=err,
            env=child_env(tree, env),
        )  # fmt: skip
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return (
            process.returncode,
            err.read().decode(errors="replace"),
            time.monotonic() - started,
            usage.ru_maxrss / 1024,
        )


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def table(title: str, header: list[str], rows: list[list[object]]) -> None:
    print(f"\n{title}\n")
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join(" --- " for _ in header) + "|")
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")


# --------------------------------------------------------------------------- sections


def section_rss(tree: Path, work: Path, faults: FaultServer) -> None:
    cases = {
        "gzip bomb, 1 GiB of zeros (1 MiB on the wire)": "/gzip-bomb?mb=1024",
        "200 MiB JSON string": "/huge?mb=200",
        "200 MiB JSON list of zeros": "/huge?mb=200&kind=list",
    }
    rows: list[list[object]] = []
    for label, path in cases.items():
        flow = write(
            work,
            "body.flow",
            f'flow f() -> int {{ step x = GET "{faults.url}{path}" return x.status }}\n',
        )
        code, stderr, wall, rss = run(tree, ["run", str(flow)], {"XDG_STATE_HOME": str(work)})
        outcome = stderr.strip().splitlines()[-1][:90] if stderr.strip() else "ok"
        rows.append([label, f"{rss:.0f}", f"{wall:.1f}", code, outcome.replace("|", "/")])
    loops = {
        "parallel loop over 1,000,000 items (statement)": "for i in range(1000000) parallel { let d = i * 2 }\n    return 1",
        "parallel loop over 1,000,000 items (collecting)": "let xs = for i in range(1000000) parallel { yield i * 2 }\n    return size(xs)",
    }
    for label, body in loops.items():
        flow = write(work, "loop.flow", f"flow f() -> int {{\n    {body}\n}}\n")
        code, stderr, wall, rss = run(tree, ["run", str(flow)], {"XDG_STATE_HOME": str(work)})
        rows.append([label, f"{rss:.0f}", f"{wall:.1f}", code, "ok" if code == 0 else stderr[-90:]])
    table("Peak RSS of `flowc run`", ["case", "peak RSS MiB", "wall s", "exit", "outcome"], rows)


BUSY = """
flow macro() -> int timeout 1s {
    return size(range(3000).map(i, range(3000).filter(j, (i + j) % 7 == 0)))
}
flow busy_loop() -> int {
    var n = 0
    timeout 2s {
        while true max 100000000 { n = n + 1 }
    }
    return n
}
flow endless_macro() -> int {
    return size(range(3000).map(i, range(3000).filter(j, (i + j) % 7 == 0)))
}
flow endless_loop() -> int {
    var n = 0
    while true max 100000000 { n = n + 1 }
    return n
}
"""


def _trace_times(trace: Path) -> dict[str, float]:
    events = [json.loads(line) for line in trace.read_text().splitlines()] if trace.exists() else []
    return {event["event"]: float(event["time"]) for event in events}


def section_cpu(tree: Path, work: Path, tries: int) -> None:
    flow = write(work, "busy.flow", BUSY)
    rows: list[list[object]] = []
    for name, limit in [("macro", 1.0), ("busy_loop", 2.0)]:
        seconds = []
        for _ in range(tries):
            trace = work / "t.jsonl"
            code, _, _, _ = run(tree, ["run", str(flow), "--flow", name, "--trace", str(trace)])
            times = _trace_times(trace)
            seconds.append(times["run_finished"] - times["run_started"])
        rows.append(
            [
                f"`{name}` (timeout {limit:g}s)",
                f"{statistics.median(seconds):.3f}",
                f"{max(seconds):.3f}",
                code,
            ]
        )
    table(
        "CPU-bound work against its timeout (the run's own time)",
        ["flow", "median s", "max s", "exit"],
        rows,
    )
    rows = []
    for name in ("endless_macro", "endless_loop"):
        latencies, codes = [], Counter()
        for _ in range(tries):
            trace = work / "t.jsonl"
            trace.unlink(missing_ok=True)
            process = subprocess.Popen(
                [*flowc_command(tree), "run", str(flow), "--flow", name, "--trace", str(trace)],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=child_env(tree),
            )  # fmt: skip
            deadline = time.monotonic() + 60
            while not (trace.exists() and "flow_started" in trace.read_text()):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.01)
            time.sleep(0.5)
            sent = time.time()
            process.send_signal(signal.SIGINT)
            try:
                process.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
            codes[process.returncode] += 1
            finished = _trace_times(trace).get("run_finished")
            latencies.append((finished - sent) * 1000 if finished else float("inf"))
        rows.append([
            f"`{name}`", f"{min(latencies):.1f}", f"{statistics.median(latencies):.1f}",
            f"{max(latencies):.1f}", dict(codes),
        ])  # fmt: skip
    table(
        "SIGINT during CPU-bound work: signal to `run_finished`",
        ["flow", "min ms", "median ms", "max ms", "exit statuses"],
        rows,
    )


def section_sigint(tree: Path, work: Path) -> None:
    write(work, "sleepy.flow", "flow f() -> int {\n    sleep 30s\n    return 1\n}\n")
    write(work, "big.flow", "\n".join(
        f"flow f{i}(x: int) -> int {{\n    return x * {i}\n}}\n" for i in range(1500)
    ))  # fmt: skip
    delays = [0, 5, 10, 20, 30, 50, 75, 100, 150, 200, 300, 400, 500, 600, 800, 1000]
    rows: list[list[object]] = []
    for args in (["run", "sleepy.flow"], ["check", "big.flow"], ["fmt", "--check", "big.flow"]):
        outcomes: Counter[str] = Counter()
        for delay in delays:
            process = subprocess.Popen(
                [*flowc_command(tree), *args], cwd=work, stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                env=child_env(tree, {"XDG_CACHE_HOME": str(work / "cache"), "XDG_STATE_HOME": str(work)}),
            )  # fmt: skip
            time.sleep(delay / 1000)
            process.send_signal(signal.SIGINT)
            _, stderr = process.communicate(timeout=60)
            outcomes[_outcome(process.returncode, stderr.decode(errors="replace"))] += 1
        rows.append([f"`flowc {' '.join(args)}`", *(outcomes.get(key, 0) for key in OUTCOMES)])
    table(
        f"SIGINT at {len(delays)} moments from 0 to 1000 ms after start",
        ["command", *OUTCOMES],
        rows,
    )


OUTCOMES = [
    "130, one line",
    "killed silently",
    "traceback in interpreter start-up",
    "traceback in flowc",
    "Aborted!",
    "other",
]


def _outcome(status: int, stderr: str) -> str:
    lines = stderr.strip().splitlines()
    if status == -signal.SIGINT and not lines:
        return "killed silently"
    if "Aborted" in stderr:
        return "Aborted!"
    if "KeyboardInterrupt" in stderr or "Traceback" in stderr:
        ours = [line for line in stderr.splitlines() if "/flowc/" in line or "/click/" in line]
        if all("flowc/__init__.py" in line or "flowc/launch.py" in line for line in ours):
            return "traceback in interpreter start-up"
        return "traceback in flowc"
    if status == 130 and len(lines) == 1 and lines[0].startswith("flowc: interrupted"):
        return "130, one line"
    return "other"


MEMORY = """
import gc, sys, tracemalloc, trio
from flowc.api import compile_source
from flowc.runtime.engine import Engine
from flowc.runtime.http import HttpResponse
from flowc.runtime.store.memory import MemoryStore

class Quiet:
    async def __aenter__(self): return self
    async def __aexit__(self, *exc): return None
    async def send(self, request):
        await trio.sleep(0)
        return HttpResponse(200, (("content-type", "application/json"),), b'{"ok":1}', 0.0)

class Discarding(MemoryStore):
    def append(self, run_id, entries): return None

SOURCE = '''
service api "http://api.test" { }
flow f(n: int) -> int {
    var total = 0
    for i in range(1000) { step warm = GET api "/x" { headers { "X-Id": uuid() } } total = total + 1 }
    log "before"
    for i in range(n) {
        step s = GET api "/x" { headers { "X-Id": uuid() } }
        total = total + s.status
    }
    log "after"
    return total
}
'''

async def measure(steps, durable):
    snapshots = []
    def log(flow, text, span):
        gc.collect()
        snapshots.append(tracemalloc.take_snapshot())
    async with Engine(store=Discarding() if durable else None, invoker=Quiet()) as engine:
        tracemalloc.start()
        await engine.run(compile_source(SOURCE), "f", {"n": steps}, log=log)
        tracemalloc.stop()
    before, after = snapshots
    print(sum(s.size_diff for s in after.compare_to(before, "filename")) / steps)

trio.run(measure, int(sys.argv[1]), sys.argv[2] == "durable")
"""


def section_memory(tree: Path, steps: int) -> None:
    if not (tree / "flowc" / "runtime" / "engine.py").exists():
        print("\n(memory per finished step: this tree has no Engine; skipped)")
        return
    rows: list[list[object]] = []
    for kind in ("ephemeral", "durable"):
        result = subprocess.run(
            [sys.executable, "-c", MEMORY, str(steps), kind],
            capture_output=True, text=True, env=child_env(tree),
        )  # fmt: skip
        figure = result.stdout.strip() or result.stderr.strip()[-200:]
        rows.append([kind, f"{float(figure):.1f}" if result.returncode == 0 else figure])
    table(
        f"Memory kept per finished step ({steps:,} steps, tracemalloc)",
        ["run", "bytes per step"],
        rows,
    )


def section_redaction() -> None:
    import json as json_module

    from flowc.common.values import load_json
    from flowc.runtime.redaction import Redactor

    secrets = ["Bearer S3cr3tT0k3n-abcdefXYZ0123456789", "hunter2-pa55word", "K3y-" + "x" * 40]
    redactor = Redactor(secrets)
    clean = "the quick brown fox jumps over the lazy dog " * 250  # ~11 KB
    dirty = (clean[:500] + secrets[0].lower() + " ") * 20
    rows: list[list[object]] = []
    for label, text, rounds in [
        ("11 KB, no secret", clean, 200), ("11 KB, 20 echoes", dirty, 200),
        ("11 MB, no secret", clean * 1000, 3), ("11 MB, 20,000 echoes", dirty * 1000, 3),
    ]:  # fmt: skip
        started = time.perf_counter()
        for _ in range(rounds):
            redactor.redact(text)
        rows.append([label, f"{(time.perf_counter() - started) / rounds * 1000:.3f}"])
    table("Redaction with 3 secrets (per call)", ["text", "ms"], rows)
    document = json_module.dumps(
        [{"id": i, "name": f"user{i}", "score": i * 1.5} for i in range(200_000)]
    )
    rows = []
    for label, reader in [("json.loads", json_module.loads), ("values.load_json", load_json)]:
        started = time.perf_counter()
        reader(document)
        rows.append([label, f"{(time.perf_counter() - started) * 1000:.0f}"])
    table(f"Reading a {len(document) / 1e6:.0f} MB JSON document", ["reader", "ms"], rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", type=Path, default=ROOT, help="the flowc source tree to run")
    parser.add_argument("--only", default="rss,cpu,sigint,memory,redaction")
    parser.add_argument("--tries", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100_000)
    options = parser.parse_args()
    tree = options.tree.resolve()
    sections = set(options.only.split(","))
    print(f"flowc tree: {tree}")
    with tempfile.TemporaryDirectory() as directory, FaultServer() as faults:
        work = Path(directory)
        if "rss" in sections:
            section_rss(tree, work, faults)
        if "cpu" in sections:
            section_cpu(tree, work, options.tries)
        if "sigint" in sections:
            section_sigint(tree, work)
        if "memory" in sections:
            section_memory(tree, options.steps)
        if "redaction" in sections and tree == ROOT:
            section_redaction()


if __name__ == "__main__":
    main()
