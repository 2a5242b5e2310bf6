"""What a run may cost: CPU-bound work gives way, loops and calls are bounded, memory stays.

- **CPU-bound work gives way.**  A flow `timeout 1s` doing seconds of macro work, and a
  `timeout 2s` block around a busy `while`, end at their deadlines through the API (the
  engine installs a deadline test for the evaluator when the caller has none) and on the
  command line; a failing sibling stops macro work in the other branch; Ctrl-C during
  either kind of work ends a `flowc run` at once (the run's own time from the signal to
  `run_finished`, in its trace; the figures are in `bench/hardening.py`).
- **An unbounded parallel loop** of a million items runs at most
  `executor.DEFAULT_PARALLEL_LIMIT` iterations at once and finishes, its process under a
  peak-RSS bound (7 GB before).
- **Sub-flow calls** nest at most `executor.MAX_CALL_DEPTH` deep: a `call_depth` error.
- **Memory per finished step**: what a run keeps for each step it no longer needs, over a
  loop of steps, with tracemalloc (ephemeral and durable runs; a store that discards what
  it is given, so only the process's own memory counts).
"""

from __future__ import annotations

import gc
import json
import signal
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import trio

from flowc.api import compile_source
from flowc.common.errors import FlowError
from flowc.compiler.ast import Span
from flowc.runtime.engine import Engine
from flowc.runtime.executor import DEFAULT_PARALLEL_LIMIT, MAX_CALL_DEPTH
from flowc.runtime.hooks import Event
from flowc.runtime.http import HttpRequest, HttpResponse
from flowc.runtime.store.memory import MemoryStore
from flowc.runtime.store.records import JournalEntry
from tests.cli_process import finish, run_flowc, start_flowc

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

flow sibling() -> int {
    parallel {
        branch {
            sleep 100ms
            fail "the other branch failed"
        }
        branch {
            var n = 0
            while true max 100000000 { n = n + 1 }
        }
    }
    return 0
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


async def timed_failure(flow: str) -> tuple[FlowError, float]:
    """Run `flow` of BUSY through the API: its error and the run's own duration."""
    program = compile_source(BUSY)
    events: list[Event] = []
    async with Engine(hooks=[events.append]) as engine:
        with pytest.raises(FlowError) as caught:
            await engine.run(program, flow)
    times = {event.name: event.time for event in events}
    return caught.value, times["run_finished"] - times["run_started"]


async def test_a_flow_timeout_stops_macro_work() -> None:
    error, seconds = await timed_failure("macro")
    assert (error.kind, error.message) == ("timeout", "flow `macro` timed out after 1s")
    assert 1.0 <= seconds < 1.5  # the work alone takes seconds (8 s before preemption)


async def test_a_timeout_block_stops_a_busy_loop() -> None:
    error, seconds = await timed_failure("busy_loop")
    assert (error.kind, error.message) == ("timeout", "timed out after 2s")
    assert 2.0 <= seconds < 2.5  # it ran on to 60 s and more before


async def test_a_failing_sibling_stops_a_busy_loop() -> None:
    error, seconds = await timed_failure("sibling")
    assert (error.kind, error.message) == ("fail", "the other branch failed")
    assert seconds < 0.6


def test_the_command_line_stops_cpu_bound_work_at_its_deadline(tmp_path: Path) -> None:
    path = tmp_path / "busy.flow"
    path.write_text(BUSY)
    for flow, limit, message in [
        ("macro", 1.0, "flow `macro` timed out after 1s"),
        ("busy_loop", 2.0, "timed out after 2s"),
    ]:
        trace = tmp_path / f"{flow}.jsonl"
        finished = run_flowc(
            ["run", "--ephemeral", str(path), "--flow", flow, "--trace", str(trace)]
        )
        assert finished.code == 1, finished.stderr
        assert message in finished.stderr
        events = {
            event["event"]: event for event in map(json.loads, trace.read_text().splitlines())
        }
        seconds = events["run_finished"]["time"] - events["run_started"]["time"]
        assert limit <= seconds < limit + 0.5


@pytest.mark.parametrize("flow", ["endless_macro", "endless_loop"])
def test_ctrl_c_stops_cpu_bound_work_at_once(tmp_path: Path, flow: str) -> None:
    path = tmp_path / "busy.flow"
    path.write_text(BUSY)
    trace = tmp_path / "trace.jsonl"
    began = time.monotonic()
    child = start_flowc(["run", "--ephemeral", str(path), "--flow", flow, "--trace", str(trace)])
    deadline = time.monotonic() + 60
    while not trace.exists() or "flow_started" not in trace.read_text():
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.02)
    time.sleep(0.5)  # well inside the CPU-bound work
    sent = time.time()
    child[0].send_signal(signal.SIGINT)
    finished = finish(child, 30, began)
    assert finished.code == 130, finished.stderr
    assert finished.stderr.strip() == "flowc: interrupted; no compensation was needed"
    final = json.loads(trace.read_text().splitlines()[-1])
    assert (final["event"], final["status"]) == ("run_finished", "interrupted")
    assert final["time"] - sent < 0.5  # milliseconds in fact (bench/hardening.py)


# --------------------------------------------------------------------------- loops and calls


def test_an_unbounded_parallel_loop_of_a_million_items_stays_small(tmp_path: Path) -> None:
    path = tmp_path / "million.flow"
    path.write_text(
        "flow f() -> int {\n"
        "    var seen = 0\n"
        "    for i in range(1000000) parallel {\n"
        "        let doubled = i * 2\n"
        "    }\n"
        "    return 1\n"
        "}\n"
    )
    finished = run_flowc(["run", "--ephemeral", str(path)], timeout=120)
    assert finished.code == 0, finished.stderr
    assert finished.stdout.strip() == "1"
    assert finished.peak_rss_mib < 150  # 7 GB with a task per item; ~90 MiB now


async def test_a_parallel_loop_runs_at_most_the_default_limit_at_once() -> None:
    program = compile_source(
        'flow f() -> int { for i in range(3000) parallel { step s = GET "http://api.test/x" } '
        "return 0 }"
    )
    invoker = CountingInvoker()
    async with Engine(invoker=invoker) as engine:  # type: ignore[arg-type]
        assert await engine.run(program) == 0
    assert invoker.sent == 3000
    assert invoker.peak == DEFAULT_PARALLEL_LIMIT


def _call_chain(length: int) -> str:
    """Flows c0 .. c{length-1}, each calling the next (no recursion for the checker)."""
    flows = [
        f"flow c{i}(n: int) -> int {{ step next = call c{i + 1}(n: n + 1) return next.body }}"
        for i in range(length - 1)
    ]
    flows.append(f"flow c{length - 1}(n: int) -> int {{ return n }}")
    return "\n".join(flows)


async def test_sub_flow_calls_nest_at_most_max_call_depth() -> None:
    deep = compile_source(_call_chain(MAX_CALL_DEPTH + 6))
    async with Engine() as engine:
        assert await engine.run(compile_source(_call_chain(MAX_CALL_DEPTH)), "c0", {"n": 0}) == (
            MAX_CALL_DEPTH - 1
        )
        with pytest.raises(FlowError) as caught:
            await engine.run(deep, "c0", {"n": 0})
    assert caught.value.kind == "call_depth"
    assert f"nest sub-flow calls deeper than {MAX_CALL_DEPTH} levels" in caught.value.message


# --------------------------------------------------------------------------- memory per step


class CountingInvoker:
    """Answers every request at once with a small JSON body; keeps counts, not requests."""

    def __init__(self) -> None:
        self.sent = 0
        self.in_flight = 0
        self.peak = 0

    async def __aenter__(self) -> CountingInvoker:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def send(self, request: HttpRequest) -> HttpResponse:
        self.sent += 1
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        try:
            await trio.sleep(0)
            return HttpResponse(200, (("content-type", "application/json"),), b'{"ok":1}', 0.0)
        finally:
            self.in_flight -= 1


class DiscardingStore(MemoryStore):
    """A store that forgets journal entries: what a run keeps is then the process's own."""

    def append(self, run_id: str, entries: list[JournalEntry]) -> None:
        return None


STEPS = """
service api "http://api.test" { }
flow f(n: int) -> int {
    var total = 0
    for i in range(n) {
        step warm = GET api "/x" { headers { "X-Request-Id": uuid() } }
        total = total + warm.status
    }
    log "before"
    for i in range(n) {
        step s = GET api "/x" { headers { "X-Request-Id": uuid() } }
        total = total + s.status
    }
    log "after"
    return total
}
"""
"""A first loop lets every cache and trio's own structures reach their size; what the
second keeps is what finished steps cost."""


async def _retained_per_step(steps: int, store: MemoryStore | None) -> float:
    """Bytes the run holds after `steps` more finished steps, per step (tracemalloc)."""
    snapshots: list[tracemalloc.Snapshot] = []

    def log(flow: str, text: str, span: Span) -> None:
        gc.collect()
        snapshots.append(tracemalloc.take_snapshot())

    program = compile_source(STEPS)
    invoker: Any = CountingInvoker()
    async with Engine(store=store, invoker=invoker) as engine:
        tracemalloc.start()
        try:
            assert await engine.run(program, "f", {"n": steps}, log=log) == 400 * steps
        finally:
            tracemalloc.stop()
    before, after = snapshots
    return sum(stat.size_diff for stat in after.compare_to(before, "filename")) / steps


@pytest.mark.parametrize(
    ("durable", "bound"),
    [(False, 16), (True, 128)],  # measured: ~0 B; ~77 B (the journal's counter of a uuid() site)
    ids=["ephemeral", "durable"],
)
async def test_a_finished_step_leaves_little_behind(durable: bool, bound: float) -> None:
    per_step = await _retained_per_step(5000, DiscardingStore() if durable else None)
    assert per_step < bound
