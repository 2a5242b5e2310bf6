"""Automatic parallelism (LANGUAGE.md §7): independent safe steps overlap.

Safe-method steps (GET, HEAD, OPTIONS) that do not depend on each other's results and
sit between the same two unsafe steps run concurrently even when written one after the
other; unsafe steps keep program order (they are barriers); data dependencies — through
a step's value, a `let`, or a `var` read before it is reassigned — are respected; and
`sequential=True` (`flowc run --sequential`) runs everything one at a time.

Overlap is observed twice, on the real clock against the demo API: on the server (its
`peak_in_flight` counter) and in the trace, whose `step_attempt` events give each
request's end time and duration, hence its interval.  Latencies are a few hundred
milliseconds and the bounds are loose (overlapped runs must take well under the
sequential sum, sequential runs at least that sum).
"""

from __future__ import annotations

import itertools

import pytest

from tests.http_fixtures import DemoServer
from tests.runtime_helpers import Outcome, compile_flow, run

LATENCY_MS = 250
SLACK = 0.02  # seconds: trace times mix the wall clock (end) and perf_counter (duration)

FIVE_GETS = """
service api "@URL@" { }
flow f() -> list[int] {
    step a = GET api "/delay/250"
    step b = GET api "/delay/251"
    step c = GET api "/delay/252"
    step d = GET api "/delay/253"
    step e = GET api "/delay/254"
    return [a.status, b.status, c.status, d.status, e.status]
}
"""


def overlap(outcome: Outcome, first: str, second: str) -> bool:
    start_a, end_a = outcome.interval(first)
    start_b, end_b = outcome.interval(second)
    return start_a < end_b - SLACK and start_b < end_a - SLACK


async def test_independent_gets_overlap(demo: DemoServer) -> None:
    outcome = await run(compile_flow(FIVE_GETS, demo.url))
    assert outcome.value == [200] * 5
    steps = ["a", "b", "c", "d", "e"]
    intervals = [outcome.interval(step) for step in steps]
    span = max(end for _, end in intervals) - min(start for start, _ in intervals)
    assert span < sum(end - start for start, end in intervals) / 2  # well below one after another
    assert outcome.wall < 5 * LATENCY_MS / 1000  # below the sequential minimum of 1.25 s
    assert demo.stats()["peak_in_flight"] > 1
    assert overlap(outcome, "a", "e")


async def test_sequential_runs_them_one_at_a_time(demo: DemoServer) -> None:
    outcome = await run(compile_flow(FIVE_GETS, demo.url), sequential=True)
    assert outcome.value == [200] * 5
    assert outcome.wall >= 5 * LATENCY_MS / 1000
    assert demo.stats()["peak_in_flight"] == 1
    steps = ["a", "b", "c", "d", "e"]
    assert not any(overlap(outcome, x, y) for x, y in itertools.pairwise(steps))


async def test_an_unsafe_step_is_a_barrier(demo: DemoServer) -> None:
    program = compile_flow(
        """
        service api "@URL@" { }
        flow f() {
            step a = GET api "/delay/250"
            step b = GET api "/delay/251"
            step c = POST api "/delay/252"
            step d = GET api "/delay/253"
            step e = HEAD api "/delay/254"
        }
        """,
        demo.url,
    )
    outcome = await run(program)
    assert outcome.error is None
    assert overlap(outcome, "a", "b")
    assert overlap(outcome, "d", "e")
    for other in ("a", "b", "d", "e"):
        assert not overlap(outcome, "c", other), f"the POST overlapped {other}"
    start_c, end_c = outcome.interval("c")
    assert start_c >= max(outcome.interval("a")[1], outcome.interval("b")[1]) - SLACK
    assert end_c <= min(outcome.interval("d")[0], outcome.interval("e")[0]) + SLACK
    assert demo.stats()["peak_in_flight"] == 2
    assert outcome.wall >= 3 * LATENCY_MS / 1000  # {a, b}, then c, then {d, e}


async def test_data_dependencies_are_respected(demo: DemoServer) -> None:
    program = compile_flow(
        """
        service api "@URL@" { }
        flow f() -> {b: string, via_let: string, c: int} {
            step a = GET api "/delay/250"
            let doubled = a.body.delayed_ms * 2
            step b = GET api "/echo?from_a=${a.body.delayed_ms}" -> {args: map[string, string]}
            step via_let = GET api "/echo" -> {args: map[string, string]} { query { v: doubled } }
            step c = GET api "/delay/251"
            return {b: b.body.args["from_a"], via_let: via_let.body.args["v"], c: c.status}
        }
        """,
        demo.url,
    )
    outcome = await run(program)
    assert outcome.value == {"b": "250", "via_let": "500", "c": 200}
    assert overlap(outcome, "a", "c")  # independent of a
    a_end = outcome.interval("a")[1]
    assert outcome.interval("b")[0] >= a_end - SLACK
    assert outcome.interval("via_let")[0] >= a_end - SLACK


async def test_a_var_is_read_before_it_is_reassigned(demo: DemoServer) -> None:
    program = compile_flow(
        """
        service api "@URL@" { }
        type Echo = {args: map[string, string]}
        flow f() -> list[string] {
            var x = "old"
            step before = GET api "/echo?delay=200" -> Echo { query { v: x } }
            x = "new"
            step after = GET api "/echo?delay=200" -> Echo { query { v: x } }
            return [before.body.args["v"], after.body.args["v"]]
        }
        """,
        demo.url,
    )
    for sequential in (False, True):
        outcome = await run(program, sequential=sequential)
        assert outcome.value == ["old", "new"]


async def test_logs_keep_program_order_inside_an_overlapped_segment(demo: DemoServer) -> None:
    program = compile_flow(
        """
        service api "@URL@" { }
        flow f() {
            step slow = GET api "/delay/300"
            log "after slow: ${slow.status}"
            step fast = GET api "/delay/100"
            log "after fast: ${fast.status}"
        }
        """,
        demo.url,
    )
    outcome = await run(program)
    assert outcome.logs == ["after slow: 200", "after fast: 200"]
    assert overlap(outcome, "slow", "fast")


@pytest.mark.parametrize("sequential", [False, True])
async def test_parallel_loop_and_auto_parallelism_compose(
    demo: DemoServer, sequential: bool
) -> None:
    program = compile_flow(
        """
        service api "@URL@" { }
        flow f() -> int {
            let pairs = for i in range(3) parallel {
                step x = GET api "/delay/200"
                step y = GET api "/delay/201"
                yield x.status + y.status
            }
            return sum(pairs)
        }
        """,
        demo.url,
    )
    outcome = await run(program, sequential=sequential)
    assert outcome.value == 1200
    # `sequential` turns off the overlap of x and y; the explicit parallel loop stays parallel.
    peak = demo.stats()["peak_in_flight"]
    assert 1 < peak <= 3 if sequential else peak > 3
