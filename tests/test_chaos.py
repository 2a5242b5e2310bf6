"""Chaos, bounded: 3 workers, many runs, one worker SIGKILLed, PostgreSQL restarted.

``FLOWC_CHAOS_RUNS`` runs (default 2,000) of a flow with two POST steps (each
with an idempotency key) are queued into a real PostgreSQL; three ``flowc
worker`` processes drain them.  Midway one worker is killed with SIGKILL, and
the database is restarted once with ``pg_ctl restart -m immediate`` (its
connections cut without a goodbye).  In the end every run has completed,
none is left queued or running, and the demo API (which records idempotency
keys) holds exactly one order and one payment per run: no effect was applied
twice, whatever the workers had to recover from.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from flowc.runtime.store import RunQuery, RunStatus
from flowc.runtime.store.postgres import PostgresStore
from tests.http_fixtures import DemoServer
from tests.pg_fixture import PostgresServer
from tests.test_worker import FLOWS, Workers, enqueue, wait_for

RUNS = int(os.environ.get("FLOWC_CHAOS_RUNS", "2000"))
LIMIT = 180.0


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    path = tmp_path / "orders.flow"
    path.write_text(FLOWS)
    return path


def _counts(store: PostgresStore) -> dict[str, int]:
    counts: dict[str, int] = {}
    for record in store.list_runs(RunQuery(limit=RUNS + 10)):
        counts[record.status] = counts.get(record.status, 0) + 1
    return counts


def test_every_run_completes_exactly_once_through_kills_and_a_restart(
    postgres: PostgresServer,
    postgres_url: str,
    demo: DemoServer,
    flows: Path,
    tmp_path: Path,
) -> None:
    began = time.monotonic()
    store = PostgresStore(postgres_url)
    ids = enqueue(store, flows, RUNS, 0)
    workers = Workers(flows, postgres_url, demo.url, tmp_path)
    try:
        victim = workers.start("--lease", "3", "--concurrency", "50")
        workers.start("--lease", "3", "--concurrency", "50")
        workers.start("--lease", "3", "--concurrency", "50")
        wait_for(
            lambda: _counts(store).get("completed", 0) >= RUNS // 3, LIMIT, "a third",
            workers.output,
        )  # fmt: skip
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        wait_for(
            lambda: _counts(store).get("completed", 0) >= RUNS // 2, LIMIT, "a half",
            workers.output,
        )  # fmt: skip
        postgres.stop("immediate")
        postgres.start()
        wait_for(
            lambda: _counts(store).get("completed", 0) == RUNS, LIMIT, "every run",
            lambda: f"{_counts(store)}\n{workers.output()[-3000:]}",
        )  # fmt: skip
    finally:
        workers.stop_all()
    elapsed = time.monotonic() - began
    assert _counts(store) == {RunStatus.COMPLETED: RUNS}
    state = demo.state()
    assert len(state["orders"]) == RUNS
    assert len(state["payments"]) == RUNS
    assert {o["item"] for o in state["orders"]} == {f"i{i}" for i in range(RUNS)}
    results = {store.get_run(i).result for i in ids}  # type: ignore[union-attr]
    assert len(results) == RUNS  # each run returned its own order
    assert elapsed < LIMIT, f"{RUNS} runs took {elapsed:.1f}s"
    print(f"chaos: {RUNS} runs in {elapsed:.1f}s")
