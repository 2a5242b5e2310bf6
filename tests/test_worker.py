"""``flowc worker`` on a real PostgreSQL: claims, leases, fencing, draining.

Workers are real processes (``python -m flowc.cli worker``); runs are started
through ``flowc serve`` on the same database (which only enqueues there) or
queued straight into the store.  The flows POST to the demo API with
idempotency keys, so "no effect applied twice" is read from its state: one
order per run, whatever happened to the workers.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from flowc.runtime.engine import queued_record
from flowc.runtime.store import JournalEntry, LeaseLost, RunQuery, RunStatus
from flowc.runtime.store.postgres import PostgresStore
from flowc.server.catalog import load_catalog
from tests.cli_process import ROOT, child_environment
from tests.http_fixtures import DemoServer

FLOWS = """
service demo env("FLOWC_DEMO_URL", "http://127.0.0.1:8765") {
    timeout 20s
}

type Order = {id: string, amount: int}

flow order(item: string, ms: int = 10) -> string {
    step placed = POST demo "/orders" -> Order {
        json {item: item, quantity: 1, amount: 100}
        idempotency_key "${run.id}-order"
    }
    step pause = GET demo "/delay/${ms + placed.status * 0}"
    step paid = POST demo "/payments" {
        json {order_id: placed.body.id, amount: 100 + pause.status * 0}
        idempotency_key "${run.id}-payment"
    }
    return placed.body.id
}
"""


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    path = tmp_path / "orders.flow"
    path.write_text(FLOWS)
    return path


class Workers:
    def __init__(self, flows: Path, url: str, demo: str, logs: Path) -> None:
        self.flows, self.url, self.demo, self.logs = flows, url, demo, logs
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, *extra: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"worker{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "flowc.cli", "worker", str(self.flows), "--store", self.url,
             *extra],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
            env=child_environment({"FLOWC_DEMO_URL": self.demo}),
        )  # fmt: skip
        self.processes.append(process)
        return process

    def output(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("*.log")))

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)


@pytest.fixture
def workers(flows: Path, postgres_url: str, demo: DemoServer, tmp_path: Path) -> Iterator[Workers]:
    started = Workers(flows, postgres_url, demo.url, tmp_path)
    yield started
    started.stop_all()


def enqueue(store: PostgresStore, flows: Path, count: int, ms: int) -> list[str]:
    offered = load_catalog([str(flows)]).get("order")
    assert offered is not None
    ids = []
    for index in range(count):
        run_id = str(uuid.uuid4())
        inputs = offered.program.prepare_inputs(offered.flow, {"item": f"i{index}", "ms": ms})
        store.create_run(queued_record(run_id, "order", offered.program.source, inputs))
        ids.append(run_id)
    return ids


def wait_for(condition: object, timeout: float, what: str, output: object = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            detail = output() if callable(output) else ""
            raise AssertionError(f"timed out waiting for {what}\n{detail}")
        time.sleep(0.05)


def ended(store: PostgresStore) -> list[str]:
    return [r.id for r in store.list_runs(RunQuery(limit=10_000)) if r.ended]


def test_two_workers_claim_each_run_exactly_once(
    workers: Workers, postgres_url: str, demo: DemoServer, flows: Path
) -> None:
    store = PostgresStore(postgres_url)
    workers.start("--concurrency", "8")
    workers.start("--concurrency", "8")
    ids = enqueue(store, flows, 40, 50)
    wait_for(lambda: len(ended(store)) == 40, 60, "40 runs", workers.output)
    records = [store.get_run(i) for i in ids]
    assert all(r is not None and r.status == RunStatus.COMPLETED for r in records)
    assert all(r is not None and r.attempt == 1 for r in records)
    assert len(demo.state()["orders"]) == 40
    assert len(demo.state()["payments"]) == 40
    owners = {line for line in workers.output().splitlines() if "executing" in line}
    assert len(owners) == 2


def test_serve_on_postgres_enqueues_and_a_worker_executes(
    workers: Workers, postgres_url: str, demo: DemoServer, flows: Path, tmp_path: Path
) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    serve_log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "flowc.cli", "serve", str(flows), "--store", postgres_url,
         "--port", str(port)],
        stdout=serve_log, stderr=subprocess.STDOUT, cwd=ROOT,
        env=child_environment({"FLOWC_DEMO_URL": demo.url}),
    )  # fmt: skip
    try:
        client = httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=30)
        wait_for(
            lambda: _healthy(client), 60, "serve", lambda: (tmp_path / "serve.log").read_text()
        )
        queued = client.post("/v1/flows/order/runs", json={"item": "x"}).json()
        assert queued["status"] == "queued"
        workers.start()
        done = client.post(
            "/v1/flows/order/runs?wait=30s", json={"item": "y"}, headers={"Idempotency-Key": "k1"}
        ).json()
        assert done["status"] == "completed", done
        wait_for(
            lambda: client.get(queued["url"]).json()["status"] == "completed", 30, "the first run"
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


def _healthy(client: httpx.Client) -> bool:
    try:
        return client.get("/healthz").status_code == 200
    except httpx.TransportError:
        return False


def test_a_killed_worker_s_runs_are_resumed_by_another(
    workers: Workers, postgres_url: str, demo: DemoServer, flows: Path
) -> None:
    store = PostgresStore(postgres_url)
    first = workers.start("--lease", "2")
    ids = enqueue(store, flows, 3, 3000)
    wait_for(lambda: len(demo.state()["orders"]) == 3, 30, "the first steps", workers.output)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    workers.start("--lease", "2")
    wait_for(lambda: len(ended(store)) == 3, 60, "the runs to be resumed", workers.output)
    records = [store.get_run(i) for i in ids]
    assert all(r is not None and r.status == RunStatus.COMPLETED for r in records)
    assert all(r is not None and r.attempt == 2 for r in records)
    assert len(demo.state()["orders"]) == 3  # the first steps were replayed, not sent again
    assert len(demo.state()["payments"]) == 3


def test_sigterm_drains_and_hands_the_rest_back(
    workers: Workers, postgres_url: str, demo: DemoServer, flows: Path
) -> None:
    store = PostgresStore(postgres_url)
    first = workers.start("--grace", "0.5")
    ids = enqueue(store, flows, 2, 8000)
    wait_for(lambda: len(demo.state()["orders"]) == 2, 30, "the first steps", workers.output)
    began = time.monotonic()
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=20) == 0
    assert time.monotonic() - began < 10
    assert {store.get_run(i).status for i in ids} == {"queued"}  # type: ignore[union-attr]
    assert "handed run" in workers.output()
    workers.start()
    wait_for(lambda: len(ended(store)) == 2, 60, "the handed-back runs", workers.output)
    assert {store.get_run(i).status for i in ids} == {"completed"}  # type: ignore[union-attr]
    assert len(demo.state()["orders"]) == 2


def test_a_worker_whose_lease_expired_cannot_write(postgres_url: str, flows: Path) -> None:
    setup = PostgresStore(postgres_url)
    [run_id] = enqueue(setup, flows, 1, 10)
    old = PostgresStore(postgres_url, fence="old-owner")
    new = PostgresStore(postgres_url, fence="new-owner")
    assert [r.id for r in old.claim_runs("old-owner", ["order"], 10, 0.3)] == [run_id]
    assert new.claim_runs("new-owner", ["order"], 10, 30) == []  # the lease holds
    old.begin_attempt(run_id, 1, "old-owner", time.time())
    entry = JournalEntry("step", "order/placed", 0, "{}")
    old.append(run_id, [entry])
    time.sleep(0.5)
    assert [r.id for r in new.claim_runs("new-owner", ["order"], 10, 30)] == [run_id]
    with pytest.raises(LeaseLost):
        old.append(run_id, [entry])
    with pytest.raises(LeaseLost):
        old.finish_run(run_id, "completed", None, None, False, time.time())
    assert old.renew_leases("old-owner", [run_id], 30).held == frozenset()
    assert new.renew_leases("new-owner", [run_id], 30).held == {run_id}
    new.finish_run(run_id, "completed", None, None, False, time.time())
    assert setup.get_run(run_id).status == "completed"  # type: ignore[union-attr]


async def test_waiters_are_counted_and_the_last_one_removes_the_entry(tmp_path: Path) -> None:
    """A request that waits for a run this process does not execute (a cancel on
    PostgreSQL, a wait that timed out) must not leave its event behind; two requests
    waiting for one run share the event until the run ends."""
    from flowc.runtime.engine import Engine
    from flowc.runtime.store import AsyncStore
    from flowc.runtime.store.memory import MemoryStore
    from flowc.server.worker import Worker

    flows = tmp_path / "flows.flow"
    flows.write_text("flow f() -> int {\n    return 1\n}\n")
    async with Engine(store=AsyncStore(MemoryStore())) as engine:
        worker = Worker(engine, load_catalog([str(flows)]))
        first, second = worker.waiter("r1"), worker.waiter("r1")
        assert first is second and worker.waiting == 1
        worker.forget_waiter("r1")
        assert worker.waiting == 1  # the second request still waits
        worker.forget_waiter("r1")
        assert worker.waiting == 0
        worker.forget_waiter("r1")  # (once more: nothing to forget)
        assert worker.waiting == 0
