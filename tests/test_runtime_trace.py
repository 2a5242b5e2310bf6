"""The trace and the run journal.

Trace (`Program.run(trace=stream)`, `flowc run --trace FILE`): JSON lines, one event per
run/flow start and end, per step attempt (retries, timeouts and cancelled attempts
included), per retry decision, log line and compensation; and no secret value anywhere
in it, even when secrets travel in auth, headers and bodies and a server echoes them
back in an error.

Journal: every step outcome under its stable key (loop indices appended: `fetch[3]`,
`fetch[1][2]`), the `now()`/`uuid()` values a run observed, and a resumed run (same run
id, same journal) replaying both instead of sending requests again (LANGUAGE.md §7).

Real clock, demo API (`demo` fixture); nothing here waits long.
"""

from __future__ import annotations

import base64
import io
import json

import pytest

from flowc.runtime.journal import StepRecord
from flowc.runtime.store.memory import MemoryStore
from tests.http_fixtures import DemoServer
from tests.runtime_helpers import compile_flow, run

SECRET = "tr4ce-s3cret-value"
PASSWORD = "basic-pa55word"


async def test_every_attempt_and_the_run_lifecycle_are_traced(demo: DemoServer) -> None:
    program = compile_flow(
        """
        service api "@URL@" { }
        flow f() -> int {
            step flaky = GET api "/flaky/trace-test?fail=2&status=503" {
                retry 3 backoff fixed 20ms
            }
            log "done after ${flaky.attempts}"
            return flaky.attempts
        }
        """,
        demo.url,
    )
    outcome = await run(program)
    assert outcome.value == 3
    kinds = [event["event"] for event in outcome.events]
    assert kinds == [
        "run_started", "flow_started", "step_started",
        "attempt_started", "step_attempt", "step_retry",
        "attempt_started", "step_attempt", "step_retry",
        "attempt_started", "step_attempt", "step_finished",
        "log", "flow_finished", "run_finished",
    ]  # fmt: skip
    attempts = outcome.attempts("flaky")
    assert [(e["attempt"], e["status"], e["method"]) for e in attempts] == [
        (1, 503, "GET"),
        (2, 503, "GET"),
        (3, 200, "GET"),
    ]
    assert attempts[0]["url"] == f"{demo.url}/flaky/trace-test"  # no query string in the trace
    assert all(e["elapsed_ms"] >= 0 and e["flow"] == "f" for e in attempts)
    assert [e["delay"] for e in outcome.events_of("step_retry")] == [0.02, 0.02]
    assert outcome.events[-1]["result"] == 3
    assert {event["run"] for event in outcome.events} == {outcome.run_id}


async def test_failures_timeouts_and_cancelled_attempts_are_traced(demo: DemoServer) -> None:
    program = compile_flow(
        """
        service api "@URL@" { retry 0 }
        flow f() {
            step t = GET api "/delay/3000" { timeout 100ms on error skip }
            parallel {
                step slow = GET api "/delay/3001"
                step bad = GET api "/status/404?x=1"
            }
        }
        """,
        demo.url,
    )
    outcome = await run(program)
    assert outcome.error is not None
    assert [(e["step"], e["status"], e["error"]) for e in outcome.events_of("step_attempt")] == [
        ("t", None, "timeout"),
        ("bad", 404, None),
        ("slow", None, "cancelled"),
    ]
    failed = outcome.events_of("step_failed")
    assert [(e["step"], e["error"]["kind"]) for e in failed] == [
        ("t", "timeout"),
        ("bad", "status"),
    ]
    assert (outcome.events[-1]["event"], outcome.events[-1]["status"]) == ("run_finished", "failed")
    assert outcome.events[-1]["error"]["status"] == 404


async def test_no_secret_reaches_the_trace(
    demo: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACE_SECRET", SECRET)
    monkeypatch.setenv("TRACE_PASSWORD", PASSWORD)
    program = compile_flow(
        """
        service api "@URL@" {
            auth bearer secret("TRACE_SECRET")
            headers { "X-Token": secret("TRACE_SECRET") }
        }
        flow f() -> {echoed: int, caught: string} {
            let token = secret("TRACE_SECRET")
            step sent = POST api "/echo" -> {json: {token: string}} {
                json { token: token, nested: [{again: token}] }
                headers { "X-Combined": "Bearer ${token}" }
            }
            step form = POST api "/echo" { form { password: secret("TRACE_PASSWORD") } }
            step basic = GET api "/auth/basic?user=u&password=p" {
                auth basic "u", secret("TRACE_PASSWORD")
                accept 200, 401
            }
            var caught = ""
            try {
                step rejected = POST api "/echo?status=401" { json { t: token } retry 0 }
            } catch err {
                caught = err.message
                log "rejected: ${err.message}"
            }
            return {echoed: size(sent.body.json.token), caught: caught}
        }
        """,
        demo.url,
    )
    stream = io.StringIO()
    result = await program.run(None, {}, trace=stream)
    assert result["echoed"] == len(SECRET)
    assert result["caught"].startswith("HTTP 401 Unauthorized")
    text = stream.getvalue()
    lines = [json.loads(line) for line in text.splitlines()]
    assert any(e["event"] == "log" for e in lines)
    basic = base64.b64encode(f"u:{PASSWORD}".encode()).decode()
    for forbidden in (SECRET, PASSWORD, basic, "s3cret", "pa55word"):
        assert forbidden not in text
        assert forbidden not in json.dumps(result)


async def test_journal_keys_carry_loop_indices_and_call_paths(demo: DemoServer) -> None:
    program = compile_flow(
        """
        service api "@URL@" { }
        flow inner(n: int) -> int {
            step deep = GET api "/echo?n=${n}"
            return n
        }
        flow f() {
            step single = GET api "/status/200"
            for i in range(2) {
                for j in range(3) { step fetch = GET api "/echo?i=${i}&j=${j}" }
            }
            for i in range(4) parallel 2 { step each = GET api "/echo?p=${i}" }
            var n = 0
            while n < 2 max 5 {
                step page = GET api "/echo?page=${n}"
                n = n + 1
            }
            step sub = call inner(n: 7)
            step skipped = GET api "/status/500" { retry 0 on error skip }
        }
        """,
        demo.url,
    )
    store = MemoryStore()
    outcome = await run(program, "f", store=store)
    assert outcome.error is None
    steps = {
        entry.key: StepRecord.from_json(entry.key, entry.data)
        for entry in store.journal(outcome.run_id)
        if entry.kind == "step"
    }
    keys = set(steps)
    assert keys == {
        "single",
        *(f"fetch[{i}][{j}]" for i in range(2) for j in range(3)),
        *(f"each[{i}]" for i in range(4)),
        "page[0]", "page[1]",
        "sub/deep", "sub",  # a sub-flow's steps are keyed by the call step
        "skipped",
    }  # fmt: skip
    skipped = steps["skipped"]
    assert (skipped.outcome, skipped.attempts, skipped.flow) == ("skipped", 1, "f")
    assert skipped.error is not None and skipped.error["status"] == 500
    assert steps["sub/deep"].flow == "inner"
    fetched = steps["fetch[1][2]"].value
    assert fetched["body"]["args"] == {"i": "1", "j": "2"}
    assert [e["step"] for e in outcome.events_of("step_attempt") if e["step"].startswith("fetch")][
        :3
    ] == ["fetch[0][0]", "fetch[0][1]", "fetch[0][2]"]


async def test_now_and_uuid_are_journaled_and_a_known_run_id_answers_from_the_store(
    demo: DemoServer,
) -> None:
    program = compile_flow(
        """
        service api "@URL@" { }
        flow f() -> {ids: list[string], at: string, order: string} {
            let ids = [uuid(), uuid()]
            let at = string(now())
            step order = POST api "/orders" -> {id: string} {
                json { item: ids[0] }
                idempotency_key ids[1]
            }
            return {ids: ids, at: at, order: order.body.id}
        }
        """,
        demo.url,
    )
    store = MemoryStore()
    first = await run(program, store=store, run_id="resumable-run")
    value = first.value
    effects = {
        (e.key, e.ordinal): e.data for e in store.journal("resumable-run") if e.kind == "effect"
    }
    site = next(key for key, ordinal in effects if ordinal == 1)  # `let ids`, two values
    assert [effects[(site, 0)], effects[(site, 1)]] == value["ids"]
    assert len(set(value["ids"])) == 2
    assert value["at"] in {text for text in effects.values()}
    assert demo.stats()["paths"] == {"/orders": 1}

    demo.reset()  # forget the statistics (and the order): a known run id must not send anything
    again = await run(program, store=store, run_id="resumable-run")
    assert again.value == value
    assert demo.stats()["total"] == 0
    assert again.events_of("step_attempt") == []

    fresh = await run(program, store=store, run_id="another-run")
    assert fresh.value["ids"] != value["ids"]
    assert demo.stats()["paths"] == {"/orders": 1}
