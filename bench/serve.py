"""flowc serve and flowc worker: the four numbers of issue 10, in one table.

    python bench/serve.py [--runs N] [--drain N] [--clients N]

Rows (targets from the issue), each measured in this one process run against a
local HTTP server that records when each request arrives:

* start latency, enqueue to the run's first request, median of ``--runs``
  sequential starts: PostgreSQL with a ``flowc worker`` waiting (<= 10 ms), and
  ``flowc serve`` on SQLite, POST to first request (<= 5 ms);
* ``--drain`` (1,000) runs of a 3-step flow, queued at once, drained by two
  ``flowc worker`` processes on PostgreSQL (<= 2 s; DBOS 3.4 measured 11.5 s
  with a 0.05 s poll and 21.4 s by default, not installed here);
* ``POST /v1/flows/{flow}/runs?wait`` of a 1-step flow from ``--clients`` (50)
  concurrent clients, ``flowc serve`` on SQLite: runs/s (>= 300) and p99;
* a worker holding 10,000 parked runs: not measured, ``wait signal`` (which parks
  a run) is not built yet.

The load average is printed with the table: the machine is shared.
"""

from __future__ import annotations

import argparse
import http.server
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ROOT = Path(__file__).resolve().parent.parent

FLOWS = """
service target env("BENCH_TARGET", "http://127.0.0.1:1") { timeout 10s }

flow first(tag: string) -> int {
    step hit = GET target "/hit/${tag}"
    return hit.status
}

flow three(tag: string) -> int {
    step a = POST target "/a/${tag}" { idempotency_key "${run.id}-a" }
    step b = POST target "/b/${tag}" { idempotency_key "${run.id}-b" json {s: a.status} }
    step c = POST target "/c/${tag}" { idempotency_key "${run.id}-c" json {s: b.status} }
    return c.status
}
"""


class Target:
    """A threaded HTTP server that notes when each path first arrives."""

    def __init__(self) -> None:
        arrivals: dict[str, float] = {}
        self.arrivals = arrivals

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                arrivals.setdefault(self.path, time.time())
                length = int(self.headers.get("content-length") or 0)
                if length:
                    self.rfile.read(length)
                # one write: a response in two small segments meets Nagle and delayed ACKs
                self.wfile.write(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n"
                    b"content-type: application/json\r\n\r\n{}"
                )

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, path: str, timeout: float = 30) -> float:
        deadline = time.monotonic() + timeout
        while path not in self.arrivals:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{path} never arrived")
            time.sleep(0.0005)
        return self.arrivals[path]


NODELAY = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    environment = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    environment.update(env, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-m", "flowc.cli", *args],
        stdout=log.open("wb"), stderr=subprocess.STDOUT, env=environment, cwd=ROOT,
    )  # fmt: skip


def wait_line(log: Path, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text(errors="replace"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{log}: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.05)


def enqueue(store: Any, offered: Any, tag: str) -> float:
    from flowc.runtime.engine import queued_record

    inputs = offered.program.prepare_inputs(offered.flow, {"tag": tag})
    began = time.time()
    store.create_run(
        queued_record(str(uuid.uuid4()), offered.flow.name, offered.program.source, inputs)
    )
    return began


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--drain", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=1000)
    options = parser.parse_args()

    import httpx
    import trio

    from flowc.runtime.store import RunQuery
    from flowc.runtime.store.postgres import PostgresStore
    from flowc.server.catalog import load_catalog
    from tests.pg_fixture import PostgresServer, _binaries

    target = Target()
    work = Path(tempfile.mkdtemp(prefix="flowc-bench-serve-"))
    flows = work / "bench.flow"
    flows.write_text(FLOWS)
    catalog = load_catalog([str(flows)])
    env = {"BENCH_TARGET": target.url}
    rows: list[tuple[str, str, str]] = []
    processes: list[subprocess.Popen[bytes]] = []
    bin_dir = _binaries()
    pg = PostgresServer(bin_dir) if bin_dir else None
    try:
        # --- serve on SQLite: start latency, and ?wait throughput
        port = free_port()
        log = work / "serve.log"
        processes.append(spawn(["serve", str(flows), "--store", f"sqlite:///{work / 'runs.db'}",
                                "--port", str(port)], env, log))  # fmt: skip
        wait_line(log, "Running on")
        base = f"http://127.0.0.1:{port}"
        transport = httpx.HTTPTransport(socket_options=NODELAY)
        with httpx.Client(base_url=base, trust_env=False, transport=transport) as client:
            for index in range(5):
                client.post("/v1/flows/first/runs?wait=10s", json={"tag": f"warm{index}"})
            latencies = []
            for index in range(options.runs):
                began = time.time()
                client.post("/v1/flows/first/runs", json={"tag": f"s{index}"})
                latencies.append((target.wait(f"/hit/s{index}") - began) * 1000)
                time.sleep(0.02)
        rows.append(
            (
                "start latency, serve on SQLite (median)",
                f"{statistics.median(latencies):.1f} ms",
                "<= 5 ms",
            )
        )

        async def load() -> tuple[float, list[float]]:
            times: list[float] = []
            counter = iter(range(options.requests))
            limits = httpx.Limits(max_connections=options.clients)
            transport = httpx.AsyncHTTPTransport(socket_options=NODELAY, limits=limits)
            async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=60,
                                         transport=transport) as c:  # fmt: skip

                async def client_task() -> None:
                    for index in counter:
                        began = time.perf_counter()
                        answer = await c.post(
                            "/v1/flows/first/runs?wait=30s", json={"tag": f"w{index}"}
                        )
                        assert answer.status_code == 200, answer.text
                        times.append(time.perf_counter() - began)

                began = time.perf_counter()
                async with trio.open_nursery() as nursery:
                    for _ in range(options.clients):
                        nursery.start_soon(client_task)
                return time.perf_counter() - began, times

        elapsed, times = trio.run(load)
        rows.append((f"?wait, 1-step flow, {options.clients} clients, SQLite",
                     f"{options.requests / elapsed:.0f} runs/s, p99 {percentile(times, 0.99) * 1000:.0f} ms",
                     ">= 300 runs/s"))  # fmt: skip
        processes.pop().terminate()

        if pg is None:
            rows.append(("PostgreSQL rows", "skipped: no PostgreSQL binaries", ""))
        else:
            pg.start()
            url = pg.database("bench")
            store = PostgresStore(url)
            first = catalog.get("first")
            three = catalog.get("three")
            logs = [work / "w0.log", work / "w1.log"]
            processes.append(spawn(["worker", str(flows), "--store", url], env, logs[0]))
            wait_line(logs[0], "executing")
            for index in range(5):
                enqueue(store, first, f"pwarm{index}")
                target.wait(f"/hit/pwarm{index}")
            latencies = []
            for index in range(options.runs):
                began = enqueue(store, first, f"p{index}")
                latencies.append((target.wait(f"/hit/p{index}") - began) * 1000)
                time.sleep(0.02)
            rows.append(
                (
                    "start latency, PostgreSQL, worker waiting (median)",
                    f"{statistics.median(latencies):.1f} ms",
                    "<= 10 ms",
                )
            )
            processes.append(spawn(["worker", str(flows), "--store", url], env, logs[1]))
            wait_line(logs[1], "executing")
            done_before = sum(
                1 for r in store.list_runs(RunQuery(status="completed", limit=100_000))
            )
            began = time.monotonic()
            for index in range(options.drain):
                enqueue(store, three, f"d{index}")
            enqueued = time.monotonic() - began
            while (
                store.list_runs(RunQuery(status="completed", limit=100_000)).__len__()
                < done_before + options.drain
            ):
                time.sleep(0.05)
            drained = time.monotonic() - began
            rows.append((f"{options.drain} runs x 3 steps, 2 workers, PostgreSQL",
                         f"{drained:.2f} s (enqueueing {enqueued:.2f} s of it)",
                         "<= 2 s (DBOS 3.4: 11.5 s / 21.4 s)"))  # fmt: skip
        rows.append(
            (
                "a worker holding 10,000 parked runs",
                "not measured: waiting runs are not parked yet (each holds a slot)",
                "<= 100 MB",
            )
        )
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        if pg is not None:
            pg.cleanup()
    width = max(len(r[0]) for r in rows)
    value = max(len(r[1]) for r in rows)
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, cores: {os.cpu_count()}")
    print(f"| {'row'.ljust(width)} | {'measured'.ljust(value)} | target |")
    print(f"| {'-' * width} | {'-' * value} | --- |")
    for name, measured, goal in rows:
        print(f"| {name.ljust(width)} | {measured.ljust(value)} | {goal} |")


if __name__ == "__main__":
    main()
