"""Resilience at run time: retry, backoff, Retry-After, circuit breaker, rate limit,
concurrency limit, compensation, and structured concurrency (LANGUAGE.md §7).

How time is handled.  Where the *wait* is the point — backoff delays, jitter bounds,
`Retry-After`, per-attempt timeouts, breaker cooldowns, rate-limit spacing — the test
runs under trio's autojump `MockClock` (pytest-trio's `autojump_clock` fixture) with
`ScriptedInvoker` (tests/runtime_helpers.py) standing in for the HTTP invoker.  Its
answers wait only on trio's clock, so the clock jumps straight to the next deadline and
the times at which requests were sent can be asserted exactly, in virtual seconds, in
no real time.  This is the only way to combine the two: with real sockets the autojump
clock also jumps while a request is waiting on the network and fires timeouts that did
not happen.

What needs a real server — requests actually aborted when a sibling fails or a timeout
fires, the in-flight count a concurrency limit keeps under its bound, compensations
reaching the API, a circuit that fails fast without a request reaching the server —
runs against the demo API (the `demo` fixture) on the real clock, with generous bounds.
"""

from __future__ import annotations

import itertools

import pytest
import trio
import trio.testing

from tests.http_fixtures import DemoServer
from tests.runtime_helpers import (
    Outcome,
    ScriptedInvoker,
    compile_flow,
    in_turn,
    refuse,
    reply,
    run,
)


async def scripted(source: str, invoker: ScriptedInvoker, *, sequential: bool = False) -> Outcome:
    """Run `source` (where `BASE` is `http://api.test`) against `invoker`.

    `sequential` where the order of requests matters to the test: independent GETs
    written one after the other would otherwise overlap (auto-parallelism).
    """
    program = compile_flow('const BASE = "http://api.test"\n' + source)
    return await run(program, invoker=invoker, sequential=sequential)


# --------------------------------------------------------------------------- retry and backoff


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("retry 3 backoff fixed 2s", [0, 2, 4, 6]),
        ("retry 3 backoff linear 1s", [0, 1, 3, 6]),
        ("retry 5 backoff exponential 1s max 5s", [0, 1, 3, 7, 12, 17]),
        ("retry 3 backoff exponential 100ms factor 3", [0, 0.1, 0.4, 1.3]),
        ("retry 2", [0, 0, 0]),
        ("retry 0 backoff fixed 1s", [0]),
    ],
)
async def test_backoff_schedules(
    autojump_clock: trio.testing.MockClock, policy: str, expected: list[float]
) -> None:
    invoker = ScriptedInvoker({"/x": reply(503)})
    outcome = await scripted(f'flow f() {{\n step s = GET BASE + "/x" {{ {policy} }}\n}}', invoker)
    assert outcome.error is not None and outcome.error.attempt == len(expected)
    assert invoker.times() == pytest.approx(expected)
    retries = outcome.events_of("step_retry")
    assert [event["attempt"] for event in retries] == list(range(1, len(expected)))


@pytest.mark.parametrize("factor", [0, -2, 0.0])
async def test_a_run_time_backoff_factor_must_be_positive(
    autojump_clock: trio.testing.MockClock, factor: float
) -> None:
    """A factor known only when the run gets there is checked there: the step fails
    with an `eval` error that says so (it was an internal error)."""
    program = compile_flow(
        'const BASE = "http://api.test"\n'
        "flow f(k: double) {\n"
        '    step s = GET BASE + "/x" { retry 2 backoff exponential 1s factor k }\n'
        "}\n"
    )
    invoker = ScriptedInvoker({"/x": reply(503)})
    outcome = await run(program, "f", {"k": float(factor)}, invoker=invoker)
    assert outcome.error is not None and outcome.error.kind == "eval"
    assert "backoff factor must be > 0" in outcome.error.message
    assert len(invoker.times()) == 1  # no retry was waited for


async def test_jitter_draws_each_delay_from_zero_to_the_backoff(
    autojump_clock: trio.testing.MockClock,
) -> None:
    invoker = ScriptedInvoker({"/x": reply(503)})
    outcome = await scripted(
        'flow f() {\n step s = GET BASE + "/x" { retry 8 backoff exponential 1s max 8s jitter }\n}',
        invoker,
    )
    assert outcome.error is not None
    times = invoker.times()
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    caps = [1, 2, 4, 8, 8, 8, 8, 8]
    assert len(gaps) == 8
    assert all(0 <= gap <= cap + 1e-9 for gap, cap in zip(gaps, caps, strict=True))
    assert gaps != pytest.approx(caps)  # drawn, not the full delay every time
    delays = [event["delay"] for event in outcome.events_of("step_retry")]
    assert delays == pytest.approx(gaps, abs=1e-5)


async def test_retry_when_predicate_sees_the_error(autojump_clock: trio.testing.MockClock) -> None:
    invoker = ScriptedInvoker(
        {"/500": reply(500), "/503": reply(503), "/slow": reply(200, delay=10)}
    )
    outcome = await scripted(
        """
        flow f() -> list[int] {
            let attempts = for path in ["/500", "/503", "/slow"] {
                step s = GET BASE + path {
                    timeout 1s
                    retry 2 backoff fixed 1s
                        when error.status == 500 || error.kind == "timeout" && error.attempt < 2
                    on error skip
                }
                yield s.attempts
            }
            return attempts
        }
        """,
        invoker,
    )
    # /500 is retried twice; /503 is not (the predicate replaces the default);
    # the timeout is retried once (`error.attempt` is the failed attempt's number).
    assert outcome.value == [3, 1, 2]


async def test_default_retry_predicate(autojump_clock: trio.testing.MockClock) -> None:
    routes = {f"/{code}": reply(code) for code in (400, 404, 429, 500, 502, 503, 504)}
    routes["/connect"] = refuse("connect")
    routes["/protocol"] = refuse("protocol")
    routes["/timeout"] = reply(200, delay=60)
    invoker = ScriptedInvoker(routes)
    outcome = await scripted(
        """
        flow f() {
            let codes = ["400", "404", "429", "500", "502", "503", "504"]
            let paths = codes + ["connect", "protocol", "timeout"]
            for path in paths {
                step s = GET BASE + "/" + path { timeout 1s retry 1 on error skip }
            }
        }
        """,
        invoker,
    )
    assert outcome.error is None
    counts: dict[str, int] = {}
    for sent in invoker.sent:
        counts[sent.path.strip("/")] = counts.get(sent.path.strip("/"), 0) + 1
    assert counts == {
        "400": 1, "404": 1, "429": 2, "500": 1, "502": 2, "503": 2, "504": 2,
        "connect": 2, "protocol": 2, "timeout": 2,
    }  # fmt: skip


async def test_retry_after_header_is_honoured(autojump_clock: trio.testing.MockClock) -> None:
    invoker = ScriptedInvoker(
        {
            "/long": in_turn(reply(429, headers={"Retry-After": "7"}), reply(200)),
            "/short": in_turn(reply(503, headers={"Retry-After": "1"}), reply(200)),
        }
    )
    outcome = await scripted(
        """
        flow f() -> list[int] {
            step long = GET BASE + "/long" { retry 2 backoff fixed 2s }
            step short = GET BASE + "/short" { retry 2 backoff fixed 3s }
            return [long.attempts, short.attempts]
        }
        """,
        invoker,
    )
    assert outcome.value == [2, 2]
    # The two GETs overlap; each waits the longer of its Retry-After and its backoff.
    assert invoker.times("/long") == [0, 7]
    assert invoker.times("/short") == [0, 3]


async def test_retry_after_on_the_demo_api(demo: DemoServer) -> None:
    outcome = await run(
        compile_flow(
            """
            flow f() -> int {
                step s = GET "@URL@/flaky/ra?fail=1&status=503&retry_after=1" { retry 1 }
                return s.attempts
            }
            """,
            demo.url,
        )
    )
    assert outcome.value == 2
    assert 0.9 < outcome.wall < 5


async def test_step_retry_and_timeout_override_the_service(
    autojump_clock: trio.testing.MockClock,
) -> None:
    invoker = ScriptedInvoker({"/x1": reply(503), "/x2": reply(503), "/slow": reply(200, delay=30)})
    outcome = await scripted(
        """
        service api BASE {
            timeout 5s
            retry 4 backoff fixed 1s when error.status == 503 || error.kind == "timeout"
        }
        flow f() -> list[int] {
            step inherited = GET api "/x1" { on error skip }
            step overridden = GET api "/x2" { retry 1 backoff fixed 10s on error skip }
            step slow = GET api "/slow" { timeout 2s retry 0 on error skip }
            return [inherited.attempts, overridden.attempts, slow.attempts]
        }
        """,
        invoker,
    )
    assert outcome.value == [5, 2, 1]
    assert invoker.times("/x1") == [0, 1, 2, 3, 4]
    assert invoker.times("/x2") == [0, 10]
    slow = outcome.attempts("slow")
    assert [event["error"] for event in slow] == [
        "timeout"
    ]  # after its own 2 s, not the service's 5 s


async def test_per_attempt_timeout_with_retries(autojump_clock: trio.testing.MockClock) -> None:
    invoker = ScriptedInvoker({"/slow": reply(200, delay=10)})
    started = trio.current_time()
    outcome = await scripted(
        'flow f() {\n step s = GET BASE + "/slow" { timeout 2s retry 2 backoff fixed 1s }\n}',
        invoker,
    )
    assert outcome.error is not None and (outcome.error.kind, outcome.error.attempt) == (
        "timeout",
        3,
    )
    assert invoker.times() == pytest.approx([0, 3, 6])
    assert trio.current_time() - started == pytest.approx(8)


async def test_retried_sub_flow_call_runs_the_callee_again(
    autojump_clock: trio.testing.MockClock,
) -> None:
    invoker = ScriptedInvoker({"/flaky": in_turn(reply(503), reply(503), reply(200, {"v": 1}))})
    program = compile_flow("""
        flow inner() -> int {
            step s = GET "http://api.test/flaky" -> {v: int} { retry 0 }
            return s.body.v
        }
        flow outer() -> list[int] {
            step c = call inner() { retry 3 backoff fixed 1s }
            return [c.body, c.attempts]
        }
    """)
    outcome = await run(program, "outer", invoker=invoker)
    assert outcome.value == [1, 3]
    assert invoker.times() == pytest.approx([0, 1, 2])


# --------------------------------------------------------------------------- circuit breaker


BREAKER = """
service api BASE {
    circuit_breaker 3 failures within 10s cooldown 15s
    retry 0
}
"""


async def test_circuit_opens_fails_fast_and_closes_after_a_successful_trial(
    autojump_clock: trio.testing.MockClock,
) -> None:
    invoker = ScriptedInvoker({"/fail": reply(500), "/ok": reply(200)})
    outcome = await scripted(
        BREAKER
        + """
        flow f() -> list[string] {
            let first = for i in range(5) {
                step s = GET api "/fail" { on error skip }
                yield s.error.kind ?? "ok"
            }
            sleep 14s
            step during = GET api "/ok" { on error skip }
            sleep 1s
            step trial = GET api "/ok"
            step closed = GET api "/fail" { on error skip }
            return first + [during.error.kind ?? "ok", trial.error.kind ?? "ok",
                            closed.error.kind ?? "ok"]
        }
        """,
        invoker,
        sequential=True,
    )
    assert outcome.value == [
        "status",
        "status",
        "status",
        "circuit_open",
        "circuit_open",
        "circuit_open",
        "ok",
        "status",
    ]
    assert [sent.path for sent in invoker.sent] == ["/fail"] * 3 + [
        "/ok",
        "/fail",
    ]  # open: no request sent
    assert invoker.times("/ok") == [15.0]


async def test_a_failed_trial_reopens_the_circuit(autojump_clock: trio.testing.MockClock) -> None:
    invoker = ScriptedInvoker({"/fail": reply(503), "/ok": reply(200)})
    outcome = await scripted(
        BREAKER
        + """
        flow f() -> list[string] {
            for i in range(3) { step s = GET api "/fail" { on error skip } }
            sleep 15s
            step trial = GET api "/fail" { on error skip }
            step again = GET api "/ok" { on error skip }
            sleep 15s
            step second_trial = GET api "/ok"
            return [trial.error.kind ?? "ok", again.error.kind ?? "ok",
                    second_trial.error.kind ?? "ok"]
        }
        """,
        invoker,
        sequential=True,
    )
    assert outcome.value == ["status", "circuit_open", "ok"]
    assert invoker.times() == [0, 0, 0, 15, 30]


async def test_half_open_admits_one_trial_at_a_time(autojump_clock: trio.testing.MockClock) -> None:
    invoker = ScriptedInvoker({"/fail": reply(500), "/ok": reply(200, delay=1)})
    outcome = await scripted(
        BREAKER
        + """
        flow f() -> list[string] {
            for i in range(3) { step s = GET api "/fail" { on error skip } }
            sleep 15s
            let kinds = for i in range(3) parallel {
                step t = GET api "/ok" { on error skip }
                yield t.error.kind ?? "ok"
            }
            step after = GET api "/ok"
            return kinds + [after.error.kind ?? "ok"]
        }
        """,
        invoker,
    )
    assert sorted(outcome.value[:3]) == ["circuit_open", "circuit_open", "ok"]
    assert outcome.value[3] == "ok"


async def test_a_cancelled_trial_lets_the_next_call_try(
    autojump_clock: trio.testing.MockClock,
) -> None:
    invoker = ScriptedInvoker(
        {"/fail": reply(500), "/slow": reply(200, delay=60), "/ok": reply(200)}
    )
    outcome = await scripted(
        BREAKER
        + """
        flow f() -> string {
            for i in range(3) { step s = GET api "/fail" { on error skip } }
            sleep 15s
            try {
                timeout 1s { step trial = GET api "/slow" }
            } catch err {
                log "trial ${err.kind}"
            }
            step next = GET api "/ok" { on error skip }
            return next.error.kind ?? "ok"
        }
        """,
        invoker,
    )
    assert outcome.logs == ["trial timeout"]
    assert outcome.value == "ok"


async def test_open_circuit_sends_nothing_to_the_demo_api(demo: DemoServer) -> None:
    program = compile_flow(
        """
        service api "@URL@" { circuit_breaker 2 failures within 30s cooldown 300ms }
        flow f() -> list[string] {
            let kinds = for i in range(4) {
                step s = GET api "/status/503" { retry 0 on error skip }
                yield s.error.kind ?? "ok"
            }
            sleep 400ms
            step trial = GET api "/status/200"
            return kinds + ["trial ${trial.status}"]
        }
        """,
        demo.url,
    )
    outcome = await run(program)
    assert outcome.value == ["status", "status", "circuit_open", "circuit_open", "trial 200"]
    assert demo.stats()["paths"] == {"/status/503": 2, "/status/200": 1}
    fast = [
        event
        for event in outcome.events_of("step_failed")
        if event["error"]["kind"] == "circuit_open"
    ]
    assert [event["step"] for event in fast] == ["s[2]", "s[3]"]
    assert "circuit of service `api` is open" in fast[0]["error"]["message"]


# --------------------------------------------------------------------------- rate limit


async def test_rate_limit_spreads_requests_in_time(autojump_clock: trio.testing.MockClock) -> None:
    invoker = ScriptedInvoker({"/x": reply(200)})
    outcome = await scripted(
        """
        service api BASE { rate_limit 2 per 1s }
        flow f() {
            for i in range(4) { step a = GET api "/x" }
            sleep 10s
            for i in range(6) parallel { step b = GET api "/x" }
        }
        """,
        invoker,
    )
    assert outcome.error is None
    assert invoker.times() == pytest.approx(
        [0, 0, 0.5, 1.0] + [11 + x for x in (0, 0, 0.5, 1.0, 1.5, 2.0)]
    )


async def test_rate_limited_when_the_wait_would_pass_the_timeout(
    autojump_clock: trio.testing.MockClock,
) -> None:
    invoker = ScriptedInvoker({"/x": reply(200)})
    outcome = await scripted(
        """
        service api BASE { rate_limit 1 per 10s timeout 2s }
        flow f() -> list[string] {
            step first = GET api "/x"
            step second = GET api "/x" { on error skip }
            step third = GET api "/x" { timeout 20s }
            return [second.error.kind ?? "ok", second.error.message ?? "", "${third.status}"]
        }
        """,
        invoker,
        sequential=True,
    )
    assert outcome.value == [
        "rate_limited",
        "the rate limit of service `api` leaves no room before the timeout",
        "200",
    ]
    assert invoker.times() == pytest.approx([0, 10])


async def test_rate_limit_against_the_demo_api(demo: DemoServer) -> None:
    program = compile_flow(
        """
        service api "@URL@" { rate_limit 5 per 500ms }
        flow f() { for i in range(10) parallel { step s = GET api "/status/200" } }
        """,
        demo.url,
    )
    outcome = await run(program)
    assert outcome.error is None
    assert outcome.wall > 0.4  # 5 at once, then one every 100 ms
    assert demo.stats()["paths"]["/status/200"] == 10


# --------------------------------------------------------------------------- concurrency limit


async def test_concurrency_limit_holds_on_the_server(demo: DemoServer) -> None:
    program = compile_flow(
        """
        service api "@URL@" { concurrency 4 }
        flow f() -> int {
            let done = for i in range(40) parallel {
                step s = GET api "/delay/40"
                yield s.status
            }
            return size(done)
        }
        """,
        demo.url,
    )
    outcome = await run(program)
    assert outcome.value == 40
    stats = demo.stats()
    assert stats["paths"]["/delay/40"] == 40
    assert 2 <= stats["peak_in_flight"] <= 4  # never above the limit (and it was used)


async def test_concurrency_limit_is_shared_by_every_step_of_the_service(
    autojump_clock: trio.testing.MockClock,
) -> None:
    invoker = ScriptedInvoker({"/a": reply(200, delay=1), "/b": reply(200, delay=1)})
    outcome = await scripted(
        """
        service api BASE { concurrency 2 }
        flow f() {
            parallel {
                for i in range(3) parallel { step a = GET api "/a" }
                for i in range(3) parallel { step b = GET api "/b" }
            }
        }
        """,
        invoker,
    )
    assert outcome.error is None
    assert invoker.peak == 2
    assert trio.current_time() == pytest.approx(3)


# --------------------------------------------------------------------------- compensation

SAGA = """
type Order = {id: string, status: string}
service api "@URL@" { retry 0 }

flow saga(fail_at: string) -> string {
    step order = POST api "/orders" -> Order {
        json { item: "book", quantity: 1, amount: 10 }
        compensate { step cancel = DELETE api "/orders/${order.body.id}" }
    }
    step payment = POST api "/payments" -> {id: string} {
        json { order_id: order.body.id, amount: 10 }
        compensate { step refund = POST api "/payments/${payment.body.id}/refund" }
    }
    let query = fail_at == "shipment" ? "?fail=503" : ""
    step shipment = POST api "/shipments${query}" -> {id: string} {
        json { order_id: order.body.id }
        compensate { step unship = DELETE api "/shipments/${shipment.body.id}" }
    }
    if fail_at == "end" { fail "changed my mind" }
    step never = POST api "/orders" {
        json { item: "never" }
        compensate { step not_run = DELETE api "/orders/none" }
    }
    return shipment.body.id
}
"""


async def test_compensations_run_in_reverse_order_of_completion(demo: DemoServer) -> None:
    outcome = await run(compile_flow(SAGA, demo.url), inputs={"fail_at": "shipment"})
    assert outcome.error is not None and (outcome.error.step, outcome.error.status) == (
        "shipment",
        503,
    )
    undo = [
        event["step"]
        for event in outcome.events_of("step_attempt")
        if event["step"] in ("cancel", "refund", "unship", "not_run")
    ]
    assert undo == ["refund", "cancel"]  # the failed shipment and the unreached step are not undone
    state = demo.state()
    assert [o["status"] for o in state["orders"]] == ["cancelled"]
    assert [p["status"] for p in state["payments"]] == ["refunded"]
    assert state["shipments"] == []
    assert [event["cause"] for event in outcome.events_of("compensation_started")] == [
        "status",
        "status",
    ]


async def test_a_fail_statement_compensates_every_completed_step(demo: DemoServer) -> None:
    outcome = await run(compile_flow(SAGA, demo.url), inputs={"fail_at": "end"})
    assert outcome.error is not None and outcome.error.kind == "fail"
    undo = [
        event["step"]
        for event in outcome.events_of("step_attempt")
        if event["method"] in ("DELETE",) or "refund" in event["url"]
    ]
    assert undo == ["unship", "refund", "cancel"]
    state = demo.state()
    assert (
        state["orders"][0]["status"],
        state["payments"][0]["status"],
        state["shipments"][0]["status"],
    ) == ("cancelled", "refunded", "cancelled")


async def test_no_compensation_on_success_or_when_try_catches_the_error(demo: DemoServer) -> None:
    program = compile_flow(
        """
        service api "@URL@" { retry 0 }
        flow f() -> string {
            try {
                step order = POST api "/orders" -> {id: string} {
                    json { item: "kept" }
                    compensate { step cancel = DELETE api "/orders/${order.body.id}" }
                }
                step boom = GET api "/status/500"
            } catch err {
                return "caught ${err.status}"
            }
            return "unreachable"
        }
        """,
        demo.url,
    )
    outcome = await run(program)
    assert outcome.value == "caught 500"
    assert outcome.events_of("compensation_started") == []
    assert [o["status"] for o in demo.state()["orders"]] == ["created"]
    ok = await run(compile_flow(SAGA, demo.url), inputs={"fail_at": "nowhere"})
    assert ok.value.startswith("shp_")
    assert ok.events_of("compensation_started") == []


async def test_compensations_of_parallel_iterations_use_their_own_values(demo: DemoServer) -> None:
    program = compile_flow(
        """
        service api "@URL@" { retry 0 }
        flow f() {
            for i in range(3) parallel {
                step order = POST api "/orders" -> {id: string} {
                    json { item: "item-${i}" }
                    compensate { step cancel = DELETE api "/orders/${order.body.id}" }
                }
            }
            fail "abort"
        }
        """,
        demo.url,
    )
    outcome = await run(program)
    assert outcome.error is not None and outcome.error.message == "abort"
    cancels = sorted(
        event["step"] for event in outcome.events_of("step_attempt") if event["method"] == "DELETE"
    )
    assert cancels == ["cancel[0]", "cancel[1]", "cancel[2]"]
    assert sorted(o["status"] for o in demo.state()["orders"]) == ["cancelled"] * 3


async def test_a_failing_compensation_is_reported_and_the_rest_still_run(
    demo: DemoServer, capsys: pytest.CaptureFixture[str]
) -> None:
    program = compile_flow(
        """
        service api "@URL@" { retry 0 }
        flow f() {
            step first = POST api "/orders" -> {id: string} {
                json { item: "a" }
                compensate { step undo_first = DELETE api "/orders/${first.body.id}" }
            }
            step second = POST api "/orders" -> {id: string} {
                json { item: "b" }
                compensate { step undo_second = DELETE api "/orders/does-not-exist" }
            }
            fail "original"
        }
        """,
        demo.url,
    )
    outcome = await run(program)
    assert outcome.error is not None and outcome.error.message == "original"
    assert [o["status"] for o in demo.state()["orders"]] == ["cancelled", "created"]
    warnings = outcome.events_of("warning")
    assert len(warnings) == 1 and "undo_second" in warnings[0]["message"]
    assert "compensation failed in flow `f`" in capsys.readouterr().err


async def test_compensations_run_when_the_run_is_cancelled(demo: DemoServer) -> None:
    program = compile_flow(
        """
        service api "@URL@" { retry 0 }
        flow f() {
            step order = POST api "/orders" -> {id: string} {
                json { item: "interrupted" }
                compensate { step cancel = DELETE api "/orders/${order.body.id}" }
            }
            step slow = GET api "/delay/20000"
        }
        """,
        demo.url,
    )
    async with trio.open_nursery() as nursery:
        nursery.start_soon(run, program)
        with trio.fail_after(20):
            while demo.stats()["paths"].get("/delay/20000") != 1:  # the order exists, slow is sent
                await trio.sleep(0.02)
        nursery.cancel_scope.cancel()
    state = demo.state()
    assert [o["status"] for o in state["orders"]] == ["cancelled"]
    assert demo.wait_until_idle()["in_flight"] == 0


async def test_a_failing_sub_flow_compensates_its_own_steps(demo: DemoServer) -> None:
    program = compile_flow(
        """
        service api "@URL@" { retry 0 }
        flow inner() {
            step order = POST api "/orders" -> {id: string} {
                json { item: "inner" }
                compensate { step cancel = DELETE api "/orders/${order.body.id}" }
            }
            fail "inner failed"
        }
        flow outer() -> string {
            try { step c = call inner() } catch err { return err.message }
            return "no"
        }
        """,
        demo.url,
    )
    assert (await run(program, "outer")).value == "inner failed"
    assert [o["status"] for o in demo.state()["orders"]] == ["cancelled"]


async def test_a_completed_sub_flow_is_compensated_when_its_caller_fails_later(
    demo: DemoServer,
) -> None:
    program = compile_flow(
        """
        service api "@URL@" { retry 0 }
        flow reserve(item: string) -> string {
            step order = POST api "/orders" -> {id: string} {
                json { item: item }
                compensate { step cancel = DELETE api "/orders/${order.body.id}" }
            }
            return order.body.id
        }
        flow outer() {
            step first = call reserve(item: "a")
            step second = call reserve(item: "b")
            fail "payment declined"
        }
        """,
        demo.url,
    )
    outcome = await run(program, "outer")
    assert outcome.error is not None and outcome.error.message == "payment declined"
    assert [o["status"] for o in demo.state()["orders"]] == ["cancelled", "cancelled"]
    undo = [e["step"] for e in outcome.events_of("step_attempt") if e["method"] == "DELETE"]
    assert undo == ["second/cancel", "first/cancel"]  # newest first, keyed by call path


# --------------------------------------------------------------------------- structured concurrency


async def test_a_failing_branch_aborts_its_siblings_requests(demo: DemoServer) -> None:
    program = compile_flow(
        """
        service api "@URL@" { retry 0 }
        flow f() -> int {
            try {
                parallel {
                    step slow_a = GET api "/delay/20000"
                    step slow_b = GET api "/delay/20001"
                    branch {
                        step wait = GET api "/delay/300"
                        step bad = GET api "/status/500?after=${wait.status}"
                    }
                }
            } catch err {
                log "caught ${err.step}"
            }
            step again = GET api "/delay/10"
            return again.status
        }
        """,
        demo.url,
    )
    outcome = await run(program)
    assert outcome.value == 200  # the pool still works after the abort
    assert outcome.logs == ["caught bad"]
    assert outcome.wall < 5
    stats = demo.wait_until_idle(timeout=5)
    assert stats["in_flight"] == 0
    assert stats["aborted"] == 2  # both slow requests were abandoned by the client
    cancelled = sorted(
        event["step"]
        for event in outcome.events_of("step_attempt")
        if event["error"] == "cancelled"
    )
    assert cancelled == ["slow_a", "slow_b"]


async def test_a_failing_iteration_cancels_the_parallel_loop(demo: DemoServer) -> None:
    program = compile_flow(
        """
        service api "@URL@" { retry 0 }
        flow f() {
            for i in range(8) parallel {
                step s = GET api "${i == 5 ? '/status/500' : '/delay/20000'}"
            }
        }
        """,
        demo.url,
    )
    outcome = await run(program)
    assert outcome.error is not None and outcome.error.step == "s[5]"
    assert outcome.wall < 5
    stats = demo.wait_until_idle(timeout=5)
    assert stats["in_flight"] == 0
    assert stats["aborted"] == stats["paths"]["/delay/20000"] > 0  # every sibling that got there


async def test_a_timeout_block_aborts_requests_in_flight(demo: DemoServer) -> None:
    program = compile_flow(
        """
        service api "@URL@" { retry 0 }
        flow f() -> {kind: string, after: int} {
            var kind = ""
            try {
                timeout 400ms {
                    for i in range(5) parallel { step s = GET api "/delay/20000" }
                }
            } catch err {
                kind = err.kind
            }
            let during = for i in range(3) parallel {
                step t = GET api "/delay/50"
                yield t.status
            }
            return {kind: kind, after: size(during)}
        }
        """,
        demo.url,
    )
    outcome = await run(program)
    assert outcome.value == {"kind": "timeout", "after": 3}
    assert outcome.wall < 5
    stats = demo.wait_until_idle(timeout=5)
    assert stats["in_flight"] == 0
    assert stats["aborted"] == stats["paths"]["/delay/20000"] > 0
    assert stats["paths"]["/delay/50"] == 3
