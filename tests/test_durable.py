"""Durable runs through the engine: journal, replay, resume, redrive, refusals.

These run in-process against a ``MemoryStore`` (the store contract itself is
``test_store.py``; crashes of real processes are ``test_crash.py``) and the
``ScriptedInvoker`` (requests answered from a script, each one recorded).  A crash is
simulated by a hook that raises ``Crash`` — a ``BaseException`` that is neither a flow
error nor a cancellation, so nothing compensates and the run record stays ``running``,
as after ``kill -9``.  Then ``Engine.resume`` continues from the journal.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from flowc.common.errors import FlowError
from flowc.runtime.engine import Engine, RunRefused
from flowc.runtime.hooks import Event, Slept, StepFinished
from flowc.runtime.journal import StepRecord
from flowc.runtime.store.memory import MemoryStore
from tests.runtime_helpers import ScriptedInvoker, compile_flow, in_turn, reply, run


class Crash(BaseException):
    """The process "dies" here."""


def crash_after(step: str) -> Any:
    """A hook that crashes the run once step ``step`` has finished (and was journaled)."""

    def hook(event: Event) -> None:
        if isinstance(event, StepFinished) and event.step == step and event.outcome != "replayed":
            raise Crash(step)

    return hook


@contextlib.contextmanager
def expect_crash() -> Iterator[None]:
    """The block must end in ``Crash`` (alone, or inside the groups nurseries make)."""

    def only_crashes(error: BaseException) -> bool:
        if isinstance(error, BaseExceptionGroup):
            return all(only_crashes(inner) for inner in error.exceptions)
        return isinstance(error, Crash)

    try:
        yield
    except BaseException as error:
        if not only_crashes(error):
            raise
        return
    pytest.fail("the run did not crash")


async def start_and_crash(
    program: Any, store: MemoryStore, invoker: Any, hook: Any, flow: str | None = None
) -> str:
    started: list[str] = []
    async with Engine(store=store, invoker=invoker) as engine:
        with expect_crash():
            await engine.run(program, flow, hooks=[hook], started=started.append)
    record = store.get_run(started[0])
    assert record is not None and record.status == "running"  # as after kill -9
    return started[0]


def steps_of(store: MemoryStore, run_id: str) -> dict[str, StepRecord]:
    return {
        e.key: StepRecord.from_json(e.key, e.data)
        for e in store.journal(run_id)
        if e.kind == "step"
    }


# --------------------------------------------------------------------------- replay


async def test_a_resumed_run_does_not_send_completed_steps_again() -> None:
    program = compile_flow(
        """
        service api "http://api.test" { }
        flow f() -> {a: int, b: int} {
            step a = GET api "/a" -> {n: int}
            step b = POST api "/b" -> {n: int} { json {after: a.body.n} }
            step c = GET api "/c" -> {n: int}
            return {a: a.body.n, b: b.body.n + c.body.n}
        }
        """
    )
    invoker = ScriptedInvoker(
        {"/a": reply(body={"n": 1}), "/b": reply(body={"n": 2}), "/c": reply(body={"n": 3})}
    )
    store = MemoryStore()
    run_id = await start_and_crash(program, store, invoker, crash_after("b"))
    assert [s.path for s in invoker.sent] == ["/a", "/b"]
    resumed = await run(program, store=store, invoker=invoker, run_id=run_id, resume=True)
    assert resumed.value == {"a": 1, "b": 5}
    assert [s.path for s in invoker.sent] == ["/a", "/b", "/c"]  # only c is new
    replayed = [e["step"] for e in resumed.events_of("step_finished") if e["outcome"] == "replayed"]
    assert replayed == ["a", "b"]
    record = store.get_run(run_id)
    assert record is not None and (record.status, record.attempt) == ("completed", 2)


async def test_parallel_uuids_replay_by_position_not_by_order() -> None:
    """An 8-way parallel loop of uuid(): trio's random scheduling must not reorder a replay."""
    program = compile_flow(
        """
        service api "http://api.test" { retry 0 }
        flow f() -> list[string] {
            let ids = for i in range(8) parallel {
                step touch = GET api "/touch/${i}"
                yield uuid()
            }
            log json_encode(ids)
            step gate = GET api "/gate"
            return ids
        }
        """
    )
    for _trial in range(20):
        store = MemoryStore()
        invoker = ScriptedInvoker(
            {f"/touch/{i}": reply() for i in range(8)} | {"/gate": in_turn(reply(500), reply(200))}
        )
        first = await run(program, store=store, invoker=invoker)
        assert first.error is not None and first.error.step == "gate"
        logged = json.loads(first.logs[0])
        again = await run(program, store=store, invoker=invoker, run_id=first.run_id, resume=True)
        assert again.value == logged  # the same ids, in the same positions
        assert len(set(logged)) == 8


async def test_a_replayed_sub_flow_restores_its_compensations() -> None:
    program = compile_flow(
        """
        service api "http://api.test" { retry 0 }
        flow reserve() -> string {
            step hold = POST api "/holds" -> {id: string} {
                compensate { step release = DELETE api "/holds/${hold.body.id}" }
            }
            return hold.body.id
        }
        flow f() -> string {
            step held = call reserve()
            step charge = POST api "/charge"
            return held.body
        }
        """
    )
    invoker = ScriptedInvoker(
        {
            "/holds": reply(body={"id": "h1"}),
            "/charge": reply(402),
            "/holds/h1": reply(204),
        }
    )
    store = MemoryStore()
    run_id = await start_and_crash(program, store, invoker, crash_after("held"), "f")
    resumed = await run(program, store=store, invoker=invoker, run_id=run_id, resume=True)
    assert resumed.error is not None and resumed.error.step == "charge"
    # the hold was not placed again, but it was released: the sub-flow's undo came back
    assert [(s.request.method, s.path) for s in invoker.sent] == [
        ("POST", "/holds"),
        ("POST", "/charge"),
        ("DELETE", "/holds/h1"),
    ]


async def test_a_durable_sleep_waits_only_what_is_left() -> None:
    program = compile_flow(
        """
        flow f() -> int {
            sleep 1s
            return 7
        }
        """
    )
    store = MemoryStore()

    def crash_on_sleep(event: Event) -> None:
        if isinstance(event, Slept):
            raise Crash("sleeping")

    run_id = await start_and_crash(program, store, ScriptedInvoker(), crash_on_sleep)
    time.sleep(0.6)
    resumed = await run(program, store=store, invoker=ScriptedInvoker(), run_id=run_id, resume=True)
    assert resumed.value == 7
    (slept,) = resumed.events_of("sleep")
    assert 0.2 < slept["seconds"] < 0.45
    assert resumed.wall < 0.8


async def test_each_try_of_a_retry_block_is_replayed_in_its_place() -> None:
    """A resume after a block's second try walks both tries as they happened."""
    program = compile_flow(
        """
        service api "http://api.test" { retry 0 }
        flow f() -> list[string] {
            var seen: list[string] = []
            retry 1 {
                step send = POST api "/send" { headers { "X-Request": uuid() } }
                seen = seen + [send.headers["x-seen"] ?? ""]
                step check = GET api "/check"
            }
            return seen
        }
        """
    )

    async def echo_header(request: Any) -> Any:
        seen = dict(request.headers).get("X-Request", "")
        return await reply(200, {}, headers={"X-Seen": seen})(request)

    invoker = ScriptedInvoker({"/send": echo_header, "/check": in_turn(reply(503), reply(200))})
    store = MemoryStore()
    run_id = await start_and_crash(program, store, invoker, crash_after("check~2"))
    sent = [s.header("X-Request") for s in invoker.sent if s.path == "/send"]
    assert len(set(sent)) == 2
    keys = [s.header("Idempotency-Key") for s in invoker.sent if s.path == "/send"]
    assert keys == [f"{run_id}/send", f"{run_id}/send~2"]  # each try is its own operation
    resumed = await run(program, store=store, invoker=invoker, run_id=run_id, resume=True)
    assert resumed.value == sent  # both tries, as the uninterrupted run would return
    assert len(invoker.sent) == 4  # nothing was sent again


# --------------------------------------------------------------------------- starting again


async def test_a_known_run_id_answers_its_stored_outcome() -> None:
    program = compile_flow(
        """
        service api "http://api.test" { retry 0 }
        flow f(broken: bool) -> int {
            step s = GET api "/s"
            assert !broken, "asked to fail"
            return s.status
        }
        """
    )
    invoker = ScriptedInvoker({"/s": reply(200)})
    store = MemoryStore()
    done = await run(program, "f", {"broken": False}, store=store, invoker=invoker, run_id="known")
    assert done.value == 200
    again = await run(program, "f", {"broken": False}, store=store, invoker=invoker, run_id="known")
    assert again.value == 200 and len(invoker.sent) == 1
    failed = await run(program, "f", {"broken": True}, store=store, invoker=invoker, run_id="bad")
    assert failed.error is not None and failed.error.kind == "assert"
    again_failed = await run(program, "f", {"broken": True}, store=store, run_id="bad")
    assert isinstance(again_failed.error, FlowError)  # the stored failure, raised again
    assert again_failed.error.message == "asked to fail"
    assert len(invoker.sent) == 2


async def test_a_failed_run_is_redriven_from_its_failing_step() -> None:
    program = compile_flow(
        """
        service api "http://api.test" { retry 0 }
        flow f() -> int {
            step a = GET api "/a"
            step b = POST api "/b"
            return a.status + b.status
        }
        """
    )
    invoker = ScriptedInvoker({"/a": reply(200), "/b": in_turn(reply(503), reply(201))})
    store = MemoryStore()
    first = await run(program, store=store, invoker=invoker)
    assert first.error is not None and first.error.step == "b"
    redriven = await run(program, store=store, invoker=invoker, run_id=first.run_id, resume=True)
    assert redriven.value == 401
    assert [s.path for s in invoker.sent] == ["/a", "/b", "/b"]
    keys = {s.header("Idempotency-Key") for s in invoker.sent if s.path == "/b"}
    assert keys == {f"{first.run_id}/b"}  # the default key: the same in both executions


async def test_a_run_whose_compensations_ran_is_not_resumed() -> None:
    program = compile_flow(
        """
        service api "http://api.test" { retry 0 }
        flow f() {
            step order = POST api "/orders" { compensate { step undo = DELETE api "/orders/1" } }
            step pay = POST api "/pay"
        }
        """
    )
    invoker = ScriptedInvoker({"/orders": reply(201), "/pay": reply(402), "/orders/1": reply()})
    store = MemoryStore()
    first = await run(program, store=store, invoker=invoker)
    assert first.error is not None
    record = store.get_run(first.run_id)
    assert record is not None and record.compensated
    with pytest.raises(RunRefused, match="compensations already ran"):
        async with Engine(store=store, invoker=invoker) as engine:
            await engine.resume(first.run_id, program=program)


async def test_resuming_changed_code_is_refused_unless_forced() -> None:
    source = """
        service api "http://api.test" { retry 0 }
        flow f() -> int {
            step a = GET api "/a"
            step b = GET api "/b"
            return a.status + b.status
        }
        """
    program = compile_flow(source)
    invoker = ScriptedInvoker({"/a": reply(200), "/b": reply(200)})
    store = MemoryStore()
    run_id = await start_and_crash(program, store, invoker, crash_after("a"))
    changed = compile_flow(source.replace("a.status + b.status", "a.status"))
    async with Engine(store=store, invoker=invoker) as engine:
        with pytest.raises(RunRefused, match=r"the program changed .*\(flow f\)"):
            await engine.resume(run_id, program=changed)
        assert await engine.resume(run_id, program=changed, force=True) == 200


async def test_secret_inputs_are_never_stored_and_must_be_given_again() -> None:
    program = compile_flow(
        """
        service api "http://api.test" { retry 0 }
        flow f(token: secret, n: int) -> int {
            step a = GET api "/a" { auth bearer token }
            step b = GET api "/b" { auth bearer token }
            return n
        }
        """
    )
    invoker = ScriptedInvoker({"/a": reply(), "/b": reply()})
    store = MemoryStore()
    started: list[str] = []
    async with Engine(store=store, invoker=invoker) as engine:
        with expect_crash():
            await engine.run(
                program,
                inputs={"token": "s3cret-t0ken-value", "n": 4},
                hooks=[crash_after("a")],
                started=started.append,
            )
    run_id = started[0]
    record = store.get_run(run_id)
    assert record is not None and record.withheld_inputs == ("token",)
    stored = repr(record) + "".join(e.data for e in store.journal(run_id))
    assert "s3cret" not in stored and "t0ken" not in stored
    async with Engine(store=store, invoker=invoker) as engine:
        with pytest.raises(RunRefused, match="needs its secret input `token` again"):
            await engine.resume(run_id, program=program)
        assert (
            await engine.resume(run_id, program=program, inputs={"token": "s3cret-t0ken-value"})
            == 4
        )
    assert invoker.sent[-1].header("Authorization") == "Bearer s3cret-t0ken-value"


async def test_default_and_explicit_idempotency_keys() -> None:
    program = compile_flow(
        """
        service api "http://api.test" { retry 0 }
        flow f() {
            step default_key = POST api "/a"
            step explicit = PUT api "/b" { idempotency_key "mine-${run.id}" }
            step none = DELETE api "/c" { idempotency_key null }
            step safe = GET api "/d"
            for i in range(2) { step each = PATCH api "/e/${i}" }
        }
        """
    )
    invoker = ScriptedInvoker({p: reply() for p in ("/a", "/b", "/c", "/d", "/e/0", "/e/1")})
    outcome = await run(program, invoker=invoker, run_id="r-1")
    assert outcome.error is None
    keys = {s.path: s.header("Idempotency-Key") for s in invoker.sent}
    assert keys == {
        "/a": "r-1/default_key",
        "/b": "mine-r-1",
        "/c": None,
        "/d": None,
        "/e/0": "r-1/each[0]",
        "/e/1": "r-1/each[1]",
    }


async def test_an_ephemeral_run_keeps_nothing() -> None:
    program = compile_flow("flow f() -> string { return uuid() }")
    outcome = await run(program, invoker=ScriptedInvoker())
    assert outcome.store is None and len(outcome.value) == 36


async def test_a_journaled_step_value_is_exact() -> None:
    program = compile_flow(
        """
        service api "http://api.test" { retry 0 }
        flow f() -> int {
            step a = GET api "/a" -> {n: int, big: uint, when: timestamp} { timeout 2s }
            return a.body.n
        }
        """
    )
    body = {"n": 3, "big": 7, "when": "2026-12-02T10:00:00Z"}
    store = MemoryStore()
    outcome = await run(program, store=store, invoker=ScriptedInvoker({"/a": reply(body=body)}))
    assert outcome.value == 3
    step = steps_of(store, outcome.run_id)["a"]
    assert type(step.value["body"]["big"]).__name__ == "UInt"
    assert type(step.value["body"]["when"]).__name__ == "Timestamp"
    assert type(step.value["elapsed"]).__name__ == "Duration"
