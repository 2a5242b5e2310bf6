"""Crash tests: ``flowc run`` killed with SIGKILL at random points, resumed until it completes.

A flow of a dozen steps — GETs, POSTs with and without explicit idempotency keys, a
parallel loop, a durable ``sleep``, and a sub-flow whose failure releases what it held
(a compensation) — runs in a real subprocess against a recording server on 127.0.0.1.
The process is killed with SIGKILL at up to 20 random moments (after a random number
of requests reached the server, plus a random fraction of a step, so the points fall
all over the run whatever the machine's load); each time, the test reads the
journal the store holds and starts the run again with the same ``--run-id`` (which
resumes it), until one attempt completes.  Then, for every kill:

* no step that the store held as completed at the kill was sent again afterwards;
* every unsafe request was sent, whenever it was sent again, with the same
  ``Idempotency-Key``;
* the result equals an uninterrupted run's, and the compensation ran exactly as it
  does in the uninterrupted run (the same request, under one key).

The same test runs on SQLite and on a real PostgreSQL; a last one restarts PostgreSQL
itself (``pg_ctl stop -m immediate``) in the middle of a run, which must wait, say so,
and finish with nothing lost or doubled.  The seed of the random kill times is in
every failure message (``FLOWC_CRASH_SEED`` replays one).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import attrs
import pytest

from flowc.runtime.store import open_store
from tests.pg_fixture import PostgresServer

ROOT = Path(__file__).resolve().parent.parent
KILLS = 20

FLOW = """\
service api env("CRASH_URL") {
    retry 0
    timeout 10s
}

flow reserve(item: string) -> string {
    step hold = POST api "/post/hold-${item}" -> {id: string} {
        compensate { step release = DELETE api "/undo/hold-${item}" }
    }
    step charge = POST api "/charge/${item}"
    return hold.body.id
}

flow order() -> {ids: list[string], total: int, held: string, e: string} {
    step a = GET api "/get/alpha?delay=150" -> {n: int}
    step b = POST api "/post/b?delay=150" -> {id: string} { idempotency_key "${run.id}-b" }
    step c = POST api "/post/c?delay=150" -> {id: string}
    let ids = for i in range(12) parallel 2 {
        step item = POST api "/post/item-${i}?delay=120" -> {id: string}
        yield item.body.id
    }
    sleep 400ms
    step d = GET api "/get/delta?delay=100" -> {n: int}
    var held = "none"
    try {
        step r = call reserve(item: "x")
        held = r.body
    } catch failure {
        held = "released after ${failure.kind}"
    }
    step e = PUT api "/post/e?delay=150" -> {id: string}
    step f = GET api "/get/omega?delay=100" -> {n: int}
    return {ids: ids, total: a.body.n + d.body.n + f.body.n, held: held, e: e.body.id}
}
"""

# which step each path belongs to (the journal's step keys)
STEP_OF_PATH = {
    "/get/alpha": "a",
    "/post/b": "b",
    "/post/c": "c",
    **{f"/post/item-{i}": f"item[{i}]" for i in range(12)},
    "/get/delta": "d",
    "/post/hold-x": "r/hold",
    "/charge/x": "r/charge",
    "/undo/hold-x": "r/release",
    "/post/e": "e",
    "/get/omega": "f",
}


@attrs.frozen
class Received:
    method: str
    path: str
    key: str | None


class RecordingServer:
    """Answers every request deterministically, after ``?delay=ms``, and records it."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _answer(self) -> None:
                path, _, query = self.path.partition("?")
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                with server.lock:
                    server.requests.append(
                        Received(self.command, path, self.headers.get("Idempotency-Key"))
                    )
                delay = dict(p.split("=") for p in query.split("&") if "=" in p).get("delay")
                if delay:
                    time.sleep(int(delay) / 1000)
                if path.startswith("/charge/"):
                    self._send(402, {"error": "card declined"})
                elif path.startswith("/get/"):
                    self._send(200, {"n": len(path)})
                else:
                    self._send(200, {"id": path.rsplit("/", 1)[1] + "-1"})

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client was killed mid-request

            do_GET = do_POST = do_PUT = do_DELETE = _answer

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.requests)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def recording() -> Iterator[RecordingServer]:
    server = RecordingServer()
    yield server
    server.close()


def _flowc(flow: Path, store: str, run_id: str, url: str, **env: str) -> subprocess.Popen[str]:
    environment = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    environment.update(
        CRASH_URL=url,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), environment.get("PYTHONPATH")])),
        **env,
    )
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "flowc.cli",
            "run",
            str(flow),
            "--flow",
            "order",
            "--store",
            store,
            "--run-id",
            run_id,
        ],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _completed_steps(store_url: str, run_id: str) -> set[str]:
    store = open_store(store_url)
    try:
        return {
            e.key
            for e in store.journal(run_id)
            if e.kind == "step" and json.loads(e.data)["outcome"] != "failed"
        }
    finally:
        store.close()


def _reference(tmp_path: Path, flow: Path, url: str) -> Any:
    """The result of an uninterrupted run."""
    process = _flowc(flow, f"sqlite:///{tmp_path / 'reference.db'}", "reference", url)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    return json.loads(stdout)


def crash_until_done(tmp_path: Path, recording: RecordingServer, store_url: str, seed: int) -> None:
    flow = tmp_path / "order.flow"
    flow.write_text(FLOW)
    expected = _reference(tmp_path, flow, recording.url)
    reference_requests = recording.snapshot()
    recording.requests.clear()

    rng = random.Random(seed)
    context = f"(seed {seed}; FLOWC_CRASH_SEED={seed} replays it)"
    kills: list[tuple[int, set[str]]] = []  # (requests seen by the server, steps journaled)
    for _ in range(KILLS):
        before = len(recording.snapshot())
        process = _flowc(flow, store_url, "crashing", recording.url)
        # A random point of the run, whatever the machine's load: after a random number
        # of new requests reached the server, plus a random fraction of a step.
        wanted = before + rng.choice((0, 0, 0, 1, 1, 2))
        deadline = time.monotonic() + 30
        while len(recording.snapshot()) < wanted and process.poll() is None:
            assert time.monotonic() < deadline, context
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.2))
        if process.poll() is not None:  # it finished before the kill
            process.communicate()
            break
        process.send_signal(signal.SIGKILL)
        process.communicate()
        time.sleep(0.05)  # let requests already on the wire arrive
        kills.append((len(recording.snapshot()), _completed_steps(store_url, "crashing")))
    final = _flowc(flow, store_url, "crashing", recording.url)
    stdout, stderr = final.communicate(timeout=60)
    assert final.returncode == 0, f"{stderr} {context}"
    assert json.loads(stdout) == expected, context
    assert "Traceback" not in stderr

    sent = recording.snapshot()
    for seen, journaled in kills:
        again = {STEP_OF_PATH[r.path] for r in sent[seen:]} & journaled
        assert not again, f"completed steps sent again after a kill: {sorted(again)} {context}"
    for path in {r.path for r in sent if r.method != "GET"}:
        keys = {r.key for r in sent if r.path == path}
        assert len(keys) == 1 and None not in keys, f"{path} sent with keys {keys} {context}"
    assert {r.path for r in sent} == {r.path for r in reference_requests}, context
    compensations = [r for r in sent if r.method == "DELETE"]
    assert {r.path for r in compensations} == {"/undo/hold-x"}, context
    assert len([r for r in reference_requests if r.method == "DELETE"]) == 1
    assert len(kills) >= KILLS * 3 // 4, f"the run finished after {len(kills)} kills {context}"
    assert sum(1 for _, journaled in kills if journaled) >= KILLS // 4, context


def _seed() -> int:
    return int(os.environ.get("FLOWC_CRASH_SEED") or random.SystemRandom().randrange(2**32))


def test_sigkill_at_random_points_on_sqlite(tmp_path: Path, recording: RecordingServer) -> None:
    crash_until_done(tmp_path, recording, f"sqlite:///{tmp_path / 'runs.db'}", _seed())


def test_sigkill_at_random_points_on_postgresql(
    tmp_path: Path, recording: RecordingServer, postgres_url: str
) -> None:
    crash_until_done(tmp_path, recording, postgres_url, _seed())


def test_a_postgresql_restart_mid_run_waits_and_loses_nothing(
    tmp_path: Path, recording: RecordingServer, postgres: PostgresServer
) -> None:
    flow = tmp_path / "order.flow"
    flow.write_text(FLOW)
    expected = _reference(tmp_path, flow, recording.url)
    recording.requests.clear()
    store_url = postgres.database()
    process = _flowc(flow, store_url, "restarted", recording.url, FLOWC_STORE_PATIENCE="30")
    try:
        deadline = time.monotonic() + 20
        while len(_completed_steps(store_url, "restarted")) < 3:
            assert time.monotonic() < deadline and process.poll() is None
            time.sleep(0.02)
        postgres.stop("immediate")
        time.sleep(1.5)
    finally:
        postgres.start()
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert json.loads(stdout) == expected
    assert "is unavailable" in stderr and "retrying" in stderr
    assert "Traceback" not in stderr
    sent = recording.snapshot()
    assert sorted(r.path for r in sent) == sorted(STEP_OF_PATH), "nothing lost, nothing doubled"
    steps = _completed_steps(store_url, "restarted")
    assert {"a", "b", "c", "d", "e", "f", "r/hold", "r/release"} <= steps
