"""Durable runs: what the journal costs, side by side in one run.

    python bench/durable.py [--rounds N] [--baseline PATH/TO/OLD/flowc]

Every row is measured in this one process run, against the same local demo API, with
the variants interleaved round by round (this machine is shared and noisy), and the
median reported.  The targets (issue #9):

* 200 sequential GET steps: durable SQLite adds <= 0.3 ms per step over ephemeral,
  PostgreSQL <= 1.0 ms (DBOS 3.4 beside it when ``bench/.venv-peers`` exists:
  ``python3 -m venv bench/.venv-peers && bench/.venv-peers/bin/pip install -r
  bench/requirements-peers.txt``);
* a 1,000-item parallel loop, limit 50: durable <= 1.3 x ephemeral;
* resuming a run with a 10,000-step journal replays >= 50,000 steps/s;
* ``flowc runs`` on a store holding 100,000 runs answers in <= 200 ms;
* ``flowc run`` start-up stays within 10 % of the version before durable runs
  (``--baseline`` names that version's ``flowc``; without it the row compares the
  default durable start with ``--ephemeral``).

PostgreSQL rows need Debian's postgresql package (a server is started in a temporary
directory, as the tests do).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flowc
from bench.runtime import (
    FANOUT_FLOW,
    compile_text,
    measure_startup,
    run_peer,
    sequential_flow,
)
from flowc.demo import start_demo_server
from flowc.runtime.engine import Engine
from flowc.runtime.http import HttpRequest, HttpResponse
from flowc.runtime.store import Store, open_store

ROOT = Path(__file__).resolve().parent.parent


def timed_run(
    program: flowc.Program, flow: str, inputs: dict[str, Any], store: Store | None
) -> float:
    async def main() -> float:
        started = time.perf_counter()
        await program.run(flow, inputs, store=store)
        return time.perf_counter() - started

    return trio.run(main)


def interleaved(variants: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, measure in variants.items():
            samples[name].append(measure())
    return {name: statistics.median(values) for name, values in samples.items()}


def stores(tmp: Path, postgres_url: str | None) -> dict[str, Callable[[], Store | None]]:
    made: dict[str, Callable[[], Store | None]] = {
        "ephemeral": lambda: None,
        "sqlite": lambda: open_store(f"sqlite:///{tmp / 'runs.db'}"),
    }
    if postgres_url:
        made["postgresql"] = lambda: open_store(postgres_url)
    return made


def measure_steps(
    base: str, tmp: Path, postgres_url: str | None, rounds: int
) -> tuple[dict[str, float], dict[str, float]]:
    os.environ["FLOWC_DEMO_URL"] = base
    chain = compile_text(sequential_flow(200))
    fanout = compile_text(FANOUT_FLOW)
    opened = {name: make() for name, make in stores(tmp, postgres_url).items()}
    for store in opened.values():
        timed_run(chain, "chain", {}, store)  # warm up
    sequential = interleaved(
        {n: (lambda s=s: timed_run(chain, "chain", {}, s)) for n, s in opened.items()}, rounds
    )
    inputs = {"n": 1000, "limit": 50}
    parallel = interleaved(
        {n: (lambda s=s: timed_run(fanout, "fanout", inputs, s)) for n, s in opened.items()},
        max(3, rounds // 2),
    )
    return sequential, parallel


class InstantInvoker:
    """Answers every request at once (no sockets): the replay row measures the engine."""

    def __init__(self) -> None:
        self.failed_last = False

    async def __aenter__(self) -> InstantInvoker:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def send(self, request: HttpRequest) -> HttpResponse:
        await trio.lowlevel.checkpoint()
        status = 200
        if request.url.endswith("/last") and not self.failed_last:
            self.failed_last, status = True, 503
        headers = (("content-type", "application/json"),)
        return HttpResponse(status=status, headers=headers, body=b'{"ok":true}', elapsed=0.0)


REPLAY_FLOW = """
service api "http://bench.invalid" { retry 0 }
flow many(count: int) -> int {
    for i in range(count) { step s = GET api "/x/${i}" }
    step last = GET api "/last"
    return count
}
"""


def measure_replay(tmp: Path, count: int = 10_000) -> tuple[float, float]:
    """(seconds to resume a run whose journal holds ``count`` steps, steps per second)."""
    program = compile_text(REPLAY_FLOW)
    store = open_store(f"sqlite:///{tmp / 'replay.db'}")
    invoker = InstantInvoker()
    started: list[str] = []

    async def first() -> None:
        async with Engine(store=store, invoker=invoker) as engine:  # type: ignore[arg-type]
            with contextlib.suppress(flowc.FlowError):  # `last` fails: redriven below
                await engine.run(program, "many", {"count": count}, started=started.append)

    async def resume() -> float:
        async with Engine(store=store, invoker=invoker) as engine:  # type: ignore[arg-type]
            began = time.perf_counter()
            assert await engine.resume(started[0], program=program) == count
            return time.perf_counter() - began

    trio.run(first)
    seconds = trio.run(resume)
    return seconds, count / seconds


def measure_runs_listing(tmp: Path, count: int = 100_000, rounds: int = 5) -> tuple[float, float]:
    """Median ms of ``flowc runs`` (default and filtered) on a store holding ``count`` runs."""
    from flowc.runtime.store.records import COLUMNS, RunRecord, record_row

    path = tmp / "many.db"
    store = open_store(f"sqlite:///{path}")
    now = time.time()
    rows = [
        record_row(
            RunRecord(
                id=f"run-{i:06d}", flow=f"flow{i % 7}", status=("completed", "failed")[i % 2],
                source="/x.flow", program_digest="d", flow_digests={}, inputs="{}",
                created_at=now - count + i, updated_at=now - count + i + 1,
            )
        )
        for i in range(count)
    ]  # fmt: skip
    store._db.executemany(  # type: ignore[attr-defined]
        f"INSERT INTO runs ({COLUMNS}) VALUES ({', '.join('?' * len(rows[0]))})", rows
    )
    store.close()
    exe = str(Path(sys.executable).with_name("flowc"))
    url = f"sqlite:///{path}"

    def once(*args: str) -> float:
        began = time.perf_counter()
        subprocess.run([exe, "runs", "--store", url, *args], check=True, capture_output=True)
        return (time.perf_counter() - began) * 1000

    once()
    plain = statistics.median(once() for _ in range(rounds))
    filtered = statistics.median(
        once("--flow", "flow3", "--status", "failed") for _ in range(rounds)
    )
    return plain, filtered


def measure_dbos(base: str, tmp: Path, postgres_url: str | None) -> dict[str, float]:
    """DBOS's extra ms per step over its own plain loop, if its venv exists."""
    found: dict[str, float] = {}
    targets = {"sqlite": f"sqlite:///{tmp / 'dbos.sqlite'}"}
    if postgres_url:
        targets["postgresql"] = postgres_url.replace("postgresql://", "postgresql+psycopg://")
    for name, url in targets.items():
        stdout = run_peer("dbos_steps.py", base, url, "200", "5")
        if stdout is None:
            continue
        times = json.loads(stdout.strip().splitlines()[-1])
        found[name] = (times["durable"] - times["plain"]) / 200 * 1000
    return found


def start_postgres() -> tuple[Any, str | None]:
    try:
        from tests.pg_fixture import PostgresServer, _binaries
    except ImportError:
        return None, None
    bin_dir = _binaries()
    if bin_dir is None:
        return None, None
    server = PostgresServer(bin_dir)
    server.start()
    return server, server.database("bench")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--baseline", help="the flowc executable of the version to compare with")
    options = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="flowc-bench-durable-"))
    os.environ["XDG_STATE_HOME"] = str(tmp / "state")
    server, postgres_url = start_postgres()
    try:
        with start_demo_server() as base:
            sequential, parallel = measure_steps(base, tmp, postgres_url, options.rounds)
            dbos = measure_dbos(base, tmp, postgres_url)
        replay_seconds, replay_rate = measure_replay(tmp)
        listing, filtered = measure_runs_listing(tmp)
        durable_start = measure_startup()
        ephemeral_start = measure_startup(args=("--ephemeral",))
        baseline_start = measure_startup(exe=options.baseline) if options.baseline else None
    finally:
        if server is not None:
            server.cleanup()
    report(sequential, parallel, dbos, replay_seconds, replay_rate, listing, filtered,
           durable_start, ephemeral_start, baseline_start)  # fmt: skip


def report(
    sequential: dict[str, float],
    parallel: dict[str, float],
    dbos: dict[str, float],
    replay_seconds: float,
    replay_rate: float,
    listing: float,
    filtered: float,
    durable_start: float,
    ephemeral_start: float,
    baseline_start: float | None,
) -> None:
    base = sequential["ephemeral"]
    print("| measure | result | target |")
    print("| --- | --- | --- |")
    print(f"| 200 sequential GETs, ephemeral | {base * 1000:.0f} ms | |")
    for name, target in (("sqlite", 0.3), ("postgresql", 1.0)):
        if name in sequential:
            extra = (sequential[name] - base) / 200 * 1000
            print(f"| ... durable {name}: extra per step | {extra:.3f} ms | <= {target} ms |")
    for name, extra in dbos.items():
        print(f"| ... DBOS 3.4 on {name}: extra per step | {extra:.3f} ms | (peer) |")
    for name in ("sqlite", "postgresql"):
        if name in parallel:
            ratio = parallel[name] / parallel["ephemeral"]
            print(
                f"| 1,000-item parallel loop, limit 50, {name} vs ephemeral | "
                f"{parallel[name] * 1000:.0f} / {parallel['ephemeral'] * 1000:.0f} ms = "
                f"{ratio:.2f}x | <= 1.3x |"
            )
    print(
        f"| resume a 10,000-step journal | {replay_seconds * 1000:.0f} ms = "
        f"{replay_rate:,.0f} steps/s | >= 50,000 steps/s |"
    )
    print(f"| `flowc runs`, 100,000 runs in the store | {listing:.0f} ms | <= 200 ms |")
    print(f"| `flowc runs --flow --status`, same store | {filtered:.0f} ms | <= 200 ms |")
    print(f"| `flowc run` start-up to first request, durable | {durable_start:.0f} ms | |")
    print(f"| ... `--ephemeral` | {ephemeral_start:.0f} ms | |")
    if baseline_start is not None:
        ratio = durable_start / baseline_start
        print(
            f"| ... before durable runs (baseline) | {baseline_start:.0f} ms = {ratio:.2f}x | <= 1.10x |"
        )


if __name__ == "__main__":
    main()
