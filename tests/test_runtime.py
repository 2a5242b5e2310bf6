"""The runtime, statement by statement (LANGUAGE.md §5 and §7).

Every statement of the language is run here: `let`/`var`/assignment, `if`/`else if`/
`else`, `for` over lists and maps (one and two variables, index variable), parallel
`for` with and without a limit (and its collected results in input order), `while`
with and without `max` (and `loop_limit`), loops used as values (`let`, `var` and
`return for`), `parallel` blocks and `branch`, `try`/`catch`/`finally`, `retry` and
`timeout` blocks, `sleep`, `log`, `assert`, `fail` (string and record), `return`,
`break`/`continue`, sub-flow calls (named and positional arguments, defaults, across an
import), the step value record, and expression errors (`eval`).

Flows that need no server run on `ScriptedInvoker` (tests/runtime_helpers.py); those
whose point is time (`sleep`, `timeout`, parallel overlap) run under trio's autojump
`MockClock`, which is exact and instant because nothing waits on a socket.  The step
value and sub-flow tests use the demo API (the `demo` fixture) with the real clock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trio
import trio.testing

import flowc
from flowc.runtime import executor
from tests.http_fixtures import DemoServer
from tests.runtime_helpers import ScriptedInvoker, compile_flow, reply, run


async def outcome_of(source: str, inputs: dict[str, Any] | None = None, **options: Any) -> Any:
    """Run the only flow of `source` without a server and return its result."""
    result = await run(
        compile_flow(source),
        inputs=inputs,
        invoker=options.pop("invoker", ScriptedInvoker()),
        **options,
    )
    return result.value


async def error_of(source: str, inputs: dict[str, Any] | None = None) -> flowc.FlowError:
    result = await run(compile_flow(source), inputs=inputs, invoker=ScriptedInvoker())
    assert result.error is not None, f"the flow did not fail: {result.result!r}"
    return result.error


# --------------------------------------------------------------------------- bindings and if


async def test_let_var_and_assignment() -> None:
    source = """
        flow f(n: int) -> {a: int, b: int, c: string} {
            let a: int = n * 2
            var b = 0
            b = b + a
            b = b * 10
            var c: string = "x"
            c = c + "${b}"
            return {a: a, b: b, c: c}
        }
    """
    assert await outcome_of(source, {"n": 3}) == {"a": 6, "b": 60, "c": "x60"}


@pytest.mark.parametrize(
    ("n", "expected"), [(-5, "negative"), (0, "zero"), (1, "one"), (7, "many")]
)
async def test_if_else_if_else(n: int, expected: str) -> None:
    source = """
        flow f(n: int) -> string {
            if n < 0 {
                return "negative"
            } else if n == 0 {
                return "zero"
            } else if n == 1 {
                return "one"
            } else {
                return "many"
            }
        }
    """
    assert await outcome_of(source, {"n": n}) == expected


async def test_if_without_else_falls_through() -> None:
    source = """
        flow f(flag: bool) -> int {
            var x = 1
            if flag { x = 2 }
            return x
        }
    """
    assert await outcome_of(source, {"flag": False}) == 1
    assert await outcome_of(source, {"flag": True}) == 2


# --------------------------------------------------------------------------- for loops


async def test_for_over_a_list_with_and_without_index() -> None:
    source = """
        flow f() -> {sum: int, weighted: int, seen: string} {
            var sum = 0
            for x in [10, 20, 30] { sum = sum + x }
            var weighted = 0
            var seen = ""
            for i, x in [10, 20, 30] {
                weighted = weighted + i * x
                seen = seen + "${i}:${x} "
            }
            return {sum: sum, weighted: weighted, seen: trim(seen)}
        }
    """
    assert await outcome_of(source) == {"sum": 60, "weighted": 80, "seen": "0:10 1:20 2:30"}


async def test_for_over_a_map_with_one_and_two_variables() -> None:
    source = """
        flow f() -> {keys: string, pairs: string, total: int} {
            let prices = {"apple": 3, "pear": 5, "fig": 7}
            var keys = ""
            for k in prices { keys = keys + k + "," }
            var pairs = ""
            var total = 0
            for k, v in prices {
                pairs = pairs + "${k}=${v};"
                total = total + v
            }
            return {keys: keys, pairs: pairs, total: total}
        }
    """
    assert await outcome_of(source) == {
        "keys": "apple,pear,fig,",
        "pairs": "apple=3;pear=5;fig=7;",
        "total": 15,
    }


async def test_break_and_continue_in_for_and_while() -> None:
    source = """
        flow f() -> {odd: string, upto: int, w: int} {
            var odd = ""
            for x in range(10) {
                if x % 2 == 0 { continue }
                if x > 7 { break }
                odd = odd + "${x}"
            }
            var upto = 0
            for x in [1, 2, 3, 4] {
                if x == 3 { break }
                upto = x
            }
            var w = 0
            var i = 0
            while i < 100 max 1000 {
                i = i + 1
                if i % 3 != 0 { continue }
                w = w + i
                if i >= 9 { break }
            }
            return {odd: odd, upto: upto, w: w}
        }
    """
    assert await outcome_of(source) == {"odd": "1357", "upto": 2, "w": 18}


async def test_return_from_inside_nested_loops_and_bare_return() -> None:
    source = """
        flow f(target: int) -> int {
            for a in range(5) {
                for b in range(5) {
                    if a * b == target { return a * 10 + b }
                }
            }
            return -1
        }
    """
    assert await outcome_of(source, {"target": 6}) == 23
    assert await outcome_of(source, {"target": 99}) == -1
    assert await outcome_of("flow f() {\n log 'x'\n return\n}") is None


# --------------------------------------------------------------------------- parallel loops


async def test_parallel_for_without_limit_runs_every_iteration_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    invoker = ScriptedInvoker({f"/item/{i}": reply(200, {"i": i}, delay=1.0) for i in range(6)})
    program = compile_flow("""
        flow f() {
            for i in range(6) parallel {
                step get = GET "http://api.test/item/${i}"
            }
        }
    """)
    started = trio.current_time()
    outcome = await run(program, invoker=invoker)
    assert outcome.error is None
    assert invoker.peak == 6
    assert trio.current_time() - started == pytest.approx(1.0)


async def test_parallel_for_with_limit_never_exceeds_it(
    autojump_clock: trio.testing.MockClock,
) -> None:
    invoker = ScriptedInvoker({f"/item/{i}": reply(200, {"i": i}, delay=1.0) for i in range(10)})
    program = compile_flow("""
        flow f(limit: int) {
            for i in range(10) parallel limit {
                step get = GET "http://api.test/item/${i}"
            }
        }
    """)
    started = trio.current_time()
    assert (await run(program, inputs={"limit": 3}, invoker=invoker)).error is None
    assert invoker.peak == 3
    assert trio.current_time() - started == pytest.approx(4.0)  # ceil(10 / 3) waves of 1 s
    assert len(invoker.sent) == 10


async def test_parallel_loop_value_collects_in_input_order(
    autojump_clock: trio.testing.MockClock,
) -> None:
    # Later items answer sooner, so completion order is the reverse of input order.
    invoker = ScriptedInvoker({f"/item/{i}": reply(200, {"i": i}, delay=5.0 - i) for i in range(5)})
    program = compile_flow("""
        flow f() -> list[int] {
            let got = for i in range(5) parallel 5 {
                step get = GET "http://api.test/item/${i}" -> {i: int}
                if get.body.i % 2 == 0 {
                    yield get.body.i * 10
                    yield get.body.i * 10 + 1
                }
            }
            return got
        }
    """)
    outcome = await run(program, invoker=invoker)
    assert outcome.value == [0, 1, 20, 21, 40, 41]
    completion = [event["step"] for event in outcome.events_of("step_attempt")]
    assert completion == ["get[4]", "get[3]", "get[2]", "get[1]", "get[0]"]


async def test_return_inside_a_parallel_loop_ends_the_flow_and_cancels_the_rest(
    autojump_clock: trio.testing.MockClock,
) -> None:
    routes = {f"/item/{i}": reply(200, {"i": i}, delay=10.0) for i in range(4)}
    routes["/item/2"] = reply(200, {"i": 2}, delay=1.0)
    invoker = ScriptedInvoker(routes)
    program = compile_flow("""
        flow f() -> int {
            for i in range(4) parallel {
                step get = GET "http://api.test/item/${i}" -> {i: int}
                if get.body.i == 2 { return 100 + get.body.i }
            }
            return -1
        }
    """)
    started = trio.current_time()
    assert (await run(program, invoker=invoker)).value == 102
    assert trio.current_time() - started == pytest.approx(1.0)  # the 10 s siblings were cancelled


async def test_continue_in_a_parallel_loop_skips_one_iteration() -> None:
    source = """
        flow f() -> list[int] {
            let kept = for x in range(6) parallel 2 {
                if x % 3 == 0 { continue }
                yield x
            }
            return kept
        }
    """
    assert await outcome_of(source) == [1, 2, 4, 5]


async def test_a_parallel_loop_over_nothing_does_nothing() -> None:
    source = """
        flow f() -> list[int] {
            let xs: list[int] = []
            let got = for x in xs parallel 3 { yield x }
            return got
        }
    """
    assert await outcome_of(source) == []


# --------------------------------------------------------------------------- while loops


async def test_while_with_max_runs_up_to_its_bound() -> None:
    source = """
        flow f(n: int) -> int {
            var i = 0
            while i < n max 5 { i = i + 1 }
            return i
        }
    """
    assert await outcome_of(source, {"n": 5}) == 5  # exactly `max` iterations are fine
    error = await error_of(source, {"n": 6})
    assert error.kind == "loop_limit"
    assert "bound of 5" in error.message
    assert error.span is not None and error.span.line == 4


async def test_while_without_max_uses_the_default_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    source = """
        flow f(n: int) -> int {
            var i = 0
            while i < n { i = i + 1 }
            return i
        }
    """
    assert await outcome_of(source, {"n": 300}) == 300
    monkeypatch.setattr(executor, "DEFAULT_WHILE_BOUND", 50)
    assert await outcome_of(source, {"n": 50}) == 50
    assert (await error_of(source, {"n": 51})).kind == "loop_limit"


async def test_loops_as_values_with_let_var_and_return() -> None:
    source = """
        flow f() -> {squares: list[int], countdown: list[int], evens: list[int]} {
            let squares = for x in range(4) { yield x * x }
            var n = 3
            var countdown = while n > 0 max 10 {
                yield n
                n = n - 1
            }
            countdown = for c in countdown { yield c * 100 }
            let evens = for x in range(7) {
                if x % 2 == 1 { continue }
                if x > 4 { break }
                yield x
            }
            return {squares: squares, countdown: countdown, evens: evens}
        }
    """
    assert await outcome_of(source) == {
        "squares": [0, 1, 4, 9],
        "countdown": [300, 200, 100],
        "evens": [0, 2, 4],
    }
    assert await outcome_of(
        "flow f() -> list[string] {\n return for k, v in {'a': 1} { yield k + string(v) }\n}"
    ) == ["a1"]


# --------------------------------------------------------------------------- parallel blocks


async def test_parallel_block_branches_overlap_and_their_bindings_are_visible_after(
    autojump_clock: trio.testing.MockClock,
) -> None:
    invoker = ScriptedInvoker(
        {
            "/a": reply(200, {"v": "a"}, delay=2.0),
            "/b": reply(200, {"v": "b"}, delay=1.0),
            "/c": reply(200, {"v": "c"}, delay=1.0),
        }
    )
    program = compile_flow("""
        flow f() -> string {
            parallel {
                step a = GET "http://api.test/a" -> {v: string}
                let x = 40 + 2
                branch {
                    step b = POST "http://api.test/b" -> {v: string}
                    step c = POST "http://api.test/c?after=${b.body.v}" -> {v: string}
                }
            }
            return "${a.body.v}${b.body.v}${c.body.v}${x}"
        }
    """)
    started = trio.current_time()
    assert (await run(program, invoker=invoker)).value == "abc42"
    assert trio.current_time() - started == pytest.approx(
        2.0
    )  # a (2 s) alongside b then c (1 s + 1 s)
    assert invoker.peak == 2
    assert invoker.times("/c") == [1.0]  # a branch's statements keep their order


async def test_a_failing_parallel_branch_cancels_the_others(
    autojump_clock: trio.testing.MockClock,
) -> None:
    invoker = ScriptedInvoker({"/slow": reply(200, delay=60.0), "/bad": reply(500, delay=1.0)})
    program = compile_flow("""
        flow f() {
            parallel {
                step slow = GET "http://api.test/slow"
                step bad = GET "http://api.test/bad"
            }
            log "not reached"
        }
    """)
    started = trio.current_time()
    outcome = await run(program, invoker=invoker)
    assert outcome.error is not None and (outcome.error.kind, outcome.error.step) == (
        "status",
        "bad",
    )
    assert trio.current_time() - started == pytest.approx(1.0)
    assert outcome.logs == []
    attempts = [
        (event["step"], event["status"], event["error"])
        for event in outcome.events_of("step_attempt")
    ]
    assert attempts == [("bad", 500, None), ("slow", None, "cancelled")]  # slow never completed


# --------------------------------------------------------------------------- try / catch / finally


async def test_try_catch_binds_the_error_record() -> None:
    source = """
        flow f() -> {kind: string, message: string, step: string, status: int, attempt: int} {
            try {
                step bad = GET "http://api.test/missing"
                log "not reached"
            } catch err {
                return {
                    kind: err.kind, message: err.message, step: err.step,
                    status: err.status, attempt: err.attempt,
                }
            }
            return {kind: "", message: "", step: "", status: 0, attempt: 0}
        }
    """
    result = await outcome_of(source)
    assert result["kind"] == "status"
    assert result["status"] == 404
    assert result["step"] == "bad"
    assert result["attempt"] == 1
    assert result["message"].startswith("HTTP 404 Not Found")


async def test_catch_without_a_name_binds_error() -> None:
    source = """
        flow f() -> string {
            try { assert 1 > 2 } catch { return "${error.kind}: ${error.message}" }
            return "no error"
        }
    """
    assert await outcome_of(source) == "assert: assertion failed: 1 > 2"


async def test_finally_runs_on_success_on_a_caught_error_and_on_an_escaping_error() -> None:
    program = compile_flow("""
        flow f(mode: string) -> string {
            var state = "start"
            try {
                if mode == "fail" { fail "boom" }
                state = "body done"
            } catch err {
                state = "caught ${err.message}"
            } finally {
                log "finally after ${state}"
            }
            try {
                if mode == "escape" { fail "escaped" }
            } finally {
                log "second finally"
            }
            return state
        }
    """)
    ok = await run(program, inputs={"mode": "ok"}, invoker=ScriptedInvoker())
    assert (ok.value, ok.logs) == ("body done", ["finally after body done", "second finally"])
    caught = await run(program, inputs={"mode": "fail"}, invoker=ScriptedInvoker())
    assert (caught.value, caught.logs) == (
        "caught boom",
        ["finally after caught boom", "second finally"],
    )
    escaped = await run(program, inputs={"mode": "escape"}, invoker=ScriptedInvoker())
    assert escaped.error is not None and (escaped.error.kind, escaped.error.message) == (
        "fail",
        "escaped",
    )
    assert escaped.logs == ["finally after body done", "second finally"]


async def test_finally_steps_run_when_the_body_is_cancelled(
    autojump_clock: trio.testing.MockClock,
) -> None:
    invoker = ScriptedInvoker({"/slow": reply(200, delay=60), "/cleanup": reply(200)})
    program = compile_flow("""
        flow f() {
            timeout 1s {
                try {
                    step slow = GET "http://api.test/slow"
                } finally {
                    step cleanup = POST "http://api.test/cleanup"
                }
            }
        }
    """)
    outcome = await run(program, invoker=invoker)
    assert outcome.error is not None and outcome.error.kind == "timeout"
    assert [sent.path for sent in invoker.sent] == ["/slow", "/cleanup"]


async def test_an_error_in_catch_propagates_after_finally() -> None:
    program = compile_flow("""
        flow f() {
            try { fail "first" } catch { fail "second: ${error.message}" } finally { log "cleanup" }
        }
    """)
    outcome = await run(program, invoker=ScriptedInvoker())
    assert outcome.error is not None and outcome.error.message == "second: first"
    assert outcome.logs == ["cleanup"]


async def test_return_inside_try_and_catch_passes_through_finally() -> None:
    source = """
        flow f(fail_it: bool) -> string {
            try {
                if fail_it { fail "x" }
                return "from try"
            } catch {
                return "from catch"
            } finally {
                log "finally"
            }
        }
    """
    assert await outcome_of(source, {"fail_it": False}) == "from try"
    assert await outcome_of(source, {"fail_it": True}) == "from catch"


# ------------------------------------------------------------------ retry and timeout blocks


async def test_retry_block_runs_the_whole_block_again(
    autojump_clock: trio.testing.MockClock,
) -> None:
    invoker = ScriptedInvoker({"/login": reply(200, {"token": "t"}), "/data": reply(503)})
    program = compile_flow("""
        flow f() -> int {
            var tries = 0
            retry 2 backoff fixed 3s {
                tries = tries + 1
                step login = POST "http://api.test/login" { idempotency_key "k-${tries}" }
                step data = GET "http://api.test/data?try=${tries}"
            }
            return tries
        }
    """)
    outcome = await run(program, invoker=invoker)
    assert outcome.error is not None and (outcome.error.kind, outcome.error.status) == (
        "status",
        503,
    )
    # Every try sends both requests again (nothing is answered from the journal).
    assert [sent.path for sent in invoker.sent] == ["/login", "/data"] * 3
    assert invoker.times("/login") == [0.0, 3.0, 6.0]
    assert [event["attempt"] for event in outcome.events_of("block_retry")] == [1, 2]


async def test_retry_block_succeeds_when_a_later_try_does(
    autojump_clock: trio.testing.MockClock,
) -> None:
    source = """
        flow f() -> int {
            var tries = 0
            retry 5 backoff linear 1s when error.kind == "assert" {
                tries = tries + 1
                assert tries >= 3, "not yet"
            }
            return tries
        }
    """
    started = trio.current_time()
    assert await outcome_of(source) == 3
    assert trio.current_time() - started == pytest.approx(1.0 + 2.0)  # linear: 1 s, then 2 s


async def test_retry_block_default_predicate_does_not_retry_assertions() -> None:
    source = """
        flow f() -> int {
            var tries = 0
            try {
                retry 3 {
                    tries = tries + 1
                    assert false
                }
            } catch {
                return tries
            }
            return -1
        }
    """
    assert await outcome_of(source) == 1


async def test_timeout_block_cancels_its_body(autojump_clock: trio.testing.MockClock) -> None:
    invoker = ScriptedInvoker(
        {"/slow": reply(200, delay=30.0), "/fast": reply(200, {"ok": True}, delay=0.5)}
    )
    program = compile_flow("""
        flow f() -> {fast: int, kind: string, message: string} {
            timeout 2s {
                step fast = GET "http://api.test/fast"
            }
            var kind = ""
            var message = ""
            try {
                timeout 1500ms {
                    step slow = GET "http://api.test/slow"
                    log "not reached"
                }
            } catch err {
                kind = err.kind
                message = err.message
            }
            return {fast: fast.status, kind: kind, message: message}
        }
    """)
    started = trio.current_time()
    outcome = await run(program, invoker=invoker)
    assert outcome.value == {"fast": 200, "kind": "timeout", "message": "timed out after 1.5s"}
    assert trio.current_time() - started == pytest.approx(2.0)
    assert outcome.logs == []


async def test_flow_timeout_clause(autojump_clock: trio.testing.MockClock) -> None:
    program = compile_flow("""
        flow f() timeout 5s {
            sleep 2s
            log "two seconds"
            sleep 10s
            log "not reached"
        }
    """)
    outcome = await run(program, invoker=ScriptedInvoker())
    assert outcome.error is not None and outcome.error.kind == "timeout"
    assert "flow `f` timed out after 5s" in outcome.error.message
    assert outcome.logs == ["two seconds"]


# --------------------------------------------------------------------------- simple statements


async def test_sleep_waits(autojump_clock: trio.testing.MockClock) -> None:
    started = trio.current_time()
    assert (
        await outcome_of(
            "flow f(d: duration) -> int {\n sleep d\n sleep 500ms\n return 1\n}", {"d": "2s"}
        )
        == 1
    )
    assert trio.current_time() - started == pytest.approx(2.5)


async def test_log_goes_to_the_sink_and_the_trace_in_order() -> None:
    program = compile_flow("""
        flow f(name: string) {
            log "hello ${name}"
            log {name: name, n: 2}
            for i in range(3) { log i }
        }
    """)
    outcome = await run(program, inputs={"name": "Ada"}, invoker=ScriptedInvoker())
    assert outcome.logs == ["hello Ada", '{"name":"Ada","n":2}', "0", "1", "2"]
    assert [event["message"] for event in outcome.events_of("log")] == outcome.logs
    assert outcome.events_of("log")[0]["line"] == 3


async def test_assert_default_message_names_the_condition() -> None:
    source = "flow f(n: int) {\n    assert n > 3 && n != 10\n}"
    error = await error_of(source, {"n": 2})
    assert (error.kind, error.message) == ("assert", "assertion failed: n > 3 && n != 10")
    assert error.span is not None and str(error.span) == "<test>.flow:2:5"
    assert await outcome_of(source, {"n": 4}) is None


async def test_assert_with_a_message() -> None:
    error = await error_of("flow f(n: int) {\n assert n > 3, 'n is ${n}, too small'\n}", {"n": 1})
    assert (error.kind, error.message) == ("assert", "n is 1, too small")


async def test_fail_with_a_string() -> None:
    error = await error_of(
        "flow f(user: string) {\n fail 'user ${user} is blocked'\n}", {"user": "bob"}
    )
    assert (error.kind, error.message, error.flow) == ("fail", "user bob is blocked", "f")


async def test_fail_with_a_record() -> None:
    error = await error_of("flow f() {\n fail {code: 'blocked', user: 7}\n}")
    assert error.kind == "fail"
    assert error.value == {"code": "blocked", "user": 7}
    assert error.message == '{"code":"blocked","user":7}'


async def test_eval_errors() -> None:
    division = await error_of("flow f(n: int) -> int {\n    return 10 / n\n}", {"n": 0})
    assert (division.kind, division.message) == ("eval", "division by zero")
    assert division.span is not None and division.span.line == 2
    overflow = await error_of("flow f(n: int) -> int {\n return n * n\n}", {"n": 2**40})
    assert overflow.kind == "eval" and "overflow" in overflow.message


# --------------------------------------------------------------------------- sub-flows


async def test_sub_flow_calls_named_positional_and_defaults(demo: DemoServer) -> None:
    program = compile_flow(
        """
        service api "@URL@" { }

        flow echo_sum(a: int, b: int = 100, label: string = "sum") -> string {
            step e = GET api "/echo" { query { total: a + b } }
            return "${label}=${e.body.args.total}"
        }

        flow main() -> list[string] {
            step named = call echo_sum(a: 1, b: 2, label: "named")
            step positional = call echo_sum(5, 6)
            step defaulted = call echo_sum(a: 7)
            step twice = call echo_sum(a: 8)
            let looped = for i in range(3) {
                step each = call echo_sum(i)
                yield each.body
            }
            return [named.body, positional.body, defaulted.body, twice.body] + looped
        }
        """,
        demo.url,
    )
    outcome = await run(program, "main")
    assert outcome.value == [
        "named=3",
        "sum=11",
        "sum=107",
        "sum=108",
        "sum=100",
        "sum=101",
        "sum=102",
    ]
    assert demo.stats()["paths"]["/echo"] == 7  # each call sends its own request


async def test_sub_flow_across_an_import(tmp_path: Path, demo: DemoServer) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "users.flow").write_text(f"""
        type Created = {{id: int, user_id: string, name: string}}
        const BASE = "{demo.url}"
        service users BASE {{ }}

        flow create(user_id: string, name: string = "Anonymous") -> Created {{
            step made = POST users "/users" -> Created {{
                json {{ user_id: user_id, name: name }}
                accept 201
            }}
            return made.body
        }}
    """)
    (tmp_path / "main.flow").write_text("""
        import "lib/users.flow" as users

        flow main(who: string) -> {id: int, name: string} {
            step made = call users.create(user_id: who)
            return {id: made.body.id, name: made.body.name}
        }
    """)
    program = flowc.compile_file(str(tmp_path / "main.flow"))
    assert program.flow_names == ["main"]
    outcome = await run(program, inputs={"who": "imp-1"})
    assert outcome.value == {"id": 1, "name": "Anonymous"}
    assert demo.state()["users"][0]["user_id"] == "imp-1"


async def test_sub_flow_failure_propagates_to_the_caller() -> None:
    program = compile_flow("""
        flow inner(n: int) -> int {
            assert n > 0, "n must be positive"
            return n
        }
        flow outer(n: int) -> string {
            try {
                step r = call inner(n: n)
                return "got ${r.body}"
            } catch err {
                return "${err.kind}: ${err.message}"
            }
        }
    """)
    assert (await run(program, "outer", {"n": 3}, invoker=ScriptedInvoker())).value == "got 3"
    assert (
        await run(program, "outer", {"n": 0}, invoker=ScriptedInvoker())
    ).value == "assert: n must be positive"
    uncaught = await run(program, "inner", {"n": -1}, invoker=ScriptedInvoker())
    assert uncaught.error is not None and uncaught.error.flow == "inner"


# --------------------------------------------------------------------------- the step value


async def test_step_value_record(demo: DemoServer) -> None:
    program = compile_flow(
        """
        service api "@URL@" { }
        type Result = {
            status: int, ok: bool, type: string, body: string,
            slow: bool, attempts: int, no_error: bool,
        }
        flow f() -> Result {
            step s = GET api "/delay/120"
            return {
                status: s.status,
                ok: s.ok,
                type: s.headers["content-type"],
                body: json_encode(s.body),
                slow: s.elapsed >= duration("100ms"),
                attempts: s.attempts,
                no_error: s.error == null,
            }
        }
        """,
        demo.url,
    )
    assert (await run(program)).value == {
        "status": 200,
        "ok": True,
        "type": "application/json",
        "body": '{"delayed_ms":120}',
        "slow": True,
        "attempts": 1,
        "no_error": True,
    }


async def test_step_value_of_a_skipped_failure_and_of_retries(demo: DemoServer) -> None:
    program = compile_flow(
        """
        service api "@URL@" { }
        type Result = {
            status: int, ok: bool, body_null: bool, kind: string, attempts: int, flaky: int,
        }
        flow f() -> Result {
            step s = GET api "/status/418" { on error skip }
            step flaky = GET api "/flaky/value-test?fail=2&status=503" {
                retry 3 backoff fixed 10ms
            }
            return {
                status: s.status,
                ok: s.ok,
                body_null: s.body == null,
                kind: s.error.kind ?? "",
                attempts: s.attempts,
                flaky: flaky.attempts,
            }
        }
        """,
        demo.url,
    )
    assert (await run(program)).value == {
        "status": 418,
        "ok": False,
        "body_null": True,
        "kind": "status",
        "attempts": 1,
        "flaky": 3,
    }
