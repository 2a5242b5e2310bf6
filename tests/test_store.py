"""The run store contract, against every backend: memory, SQLite and a real PostgreSQL.

Each test runs once per backend (``store`` is parametrized), so the three cannot drift
apart: creating a run is idempotent by id, a journal entry replaces the one at its
position, runs list newest first with filters and a cursor, pruning deletes only ended
runs with their journals, and the async wrapper gives the same answers off the trio
thread.  Backend-specific promises follow: the SQLite file's mode, a newer schema
refused, a PostgreSQL password kept out of messages.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
import trio

from flowc.runtime.store import (
    AsyncStore,
    JournalEntry,
    RunQuery,
    RunRecord,
    RunStatus,
    Store,
    StoreError,
    open_store,
)
from flowc.runtime.store.memory import MemoryStore
from flowc.runtime.store.postgres import redacted_url
from flowc.runtime.store.sqlite import SQLiteStore, sqlite_path
from tests.pg_fixture import PostgresServer


def record(run_id: str, *, flow: str = "f", created: float = 100.0, **changes: object) -> RunRecord:
    base = RunRecord(
        id=run_id,
        flow=flow,
        status="running",
        source="/project/main.flow",
        program_digest="digest",
        flow_digests={"flow f": "abc", "service api": "def"},
        inputs='{"n":1}',
        withheld_inputs=("token",),
        created_at=created,
        updated_at=created,
        owner="host:1:2",
    )
    return attrs.evolve(base, **changes)


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "memory":
        opened: Store = MemoryStore()
    elif request.param == "sqlite":
        opened = open_store(f"sqlite:///{tmp_path / 'state' / 'runs.db'}")
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        opened = open_store(server.database())
    try:
        yield opened
    finally:
        opened.close()


def test_creating_a_run_is_idempotent_by_id(store: Store) -> None:
    first, created = store.create_run(record("r1"))
    assert created and first == record("r1")
    again, created_again = store.create_run(record("r1", flow="other", inputs="{}"))
    assert not created_again
    assert again == record("r1")  # the stored record, not the newcomer
    assert store.get_run("r1") == record("r1")
    assert store.get_run("missing") is None


def test_attempts_and_endings_update_the_record(store: Store) -> None:
    store.create_run(record("r1"))
    store.begin_attempt("r1", 2, "other:5:6", 200.0)
    resumed = store.get_run("r1")
    assert resumed is not None
    assert (resumed.status, resumed.attempt, resumed.owner, resumed.updated_at) == (
        "running", 2, "other:5:6", 200.0,
    )  # fmt: skip
    store.finish_run("r1", "failed", None, '{"error":{"kind":"status"}}', True, 300.0)
    failed = store.get_run("r1")
    assert failed is not None
    assert (failed.status, failed.error, failed.compensated, failed.owner) == (
        "failed", '{"error":{"kind":"status"}}', True, None,
    )  # fmt: skip
    store.finish_run("r1", "completed", '{"$u":3}', None, False, 400.0)
    completed = store.get_run("r1")
    assert completed is not None
    assert (completed.result, completed.compensated) == ('{"$u":3}', True)  # never forgotten


def test_a_journal_entry_replaces_the_one_at_its_position(store: Store) -> None:
    store.create_run(record("r1"))
    store.create_run(record("r2"))
    store.append("r1", [JournalEntry("step", "a", 0, "1"), JournalEntry("effect", "@3", 0, "x")])
    store.append("r1", [JournalEntry("step", "a", 0, "2"), JournalEntry("effect", "@3", 1, "y")])
    store.append("r2", [JournalEntry("step", "a", 0, "other run")])
    assert sorted(store.journal("r1"), key=lambda e: (e.kind, e.ordinal)) == [
        JournalEntry("effect", "@3", 0, "x"),
        JournalEntry("effect", "@3", 1, "y"),
        JournalEntry("step", "a", 0, "2"),
    ]
    store.delete_entry("r1", "step", "a")
    assert {e.kind for e in store.journal("r1")} == {"effect"}
    assert store.journal("r2") == [JournalEntry("step", "a", 0, "other run")]
    store.append("r1", [])  # an empty batch is a no-op


def test_runs_list_newest_first_with_filters_and_a_cursor(store: Store) -> None:
    for number in range(6):
        store.create_run(record(f"r{number}", flow="even" if number % 2 == 0 else "odd",
                                created=100.0 + number))  # fmt: skip
    store.finish_run("r4", "completed", "1", None, False, 500.0)
    listed = store.list_runs(RunQuery(limit=3))
    assert [r.id for r in listed] == ["r5", "r4", "r3"]
    last = listed[-1]
    page = store.list_runs(RunQuery(limit=3, before=(last.created_at, last.id)))
    assert [r.id for r in page] == ["r2", "r1", "r0"]
    assert [r.id for r in store.list_runs(RunQuery(flow="even"))] == ["r4", "r2", "r0"]
    assert [r.id for r in store.list_runs(RunQuery(status="completed"))] == ["r4"]
    window = RunQuery(since=101.0, until=103.0)
    assert [r.id for r in store.list_runs(window)] == ["r2", "r1"]
    assert store.count_runs() == 6


def test_pruning_deletes_only_ended_runs_with_their_journals(store: Store) -> None:
    store.create_run(record("old-done"))
    store.create_run(record("old-running"))
    store.create_run(record("new-done"))
    store.finish_run("old-done", "completed", "1", None, False, 10.0)
    store.finish_run("new-done", "failed", None, "{}", False, 1000.0)
    store.append("old-done", [JournalEntry("step", "a", 0, "{}")])
    assert store.prune(ended_before=500.0) == 1
    assert store.get_run("old-done") is None and store.journal("old-done") == []
    assert store.get_run("old-running") is not None  # a running run is never pruned
    assert store.get_run("new-done") is not None


async def test_the_async_store_answers_the_same_off_the_trio_thread(store: Store) -> None:
    wrapped = AsyncStore(store)
    created = await wrapped.create_run(record("r1"))
    assert created == (record("r1"), True)

    async def write(number: int) -> None:
        await wrapped.append("r1", [JournalEntry("step", f"s{number}", 0, str(number))])

    async with trio.open_nursery() as nursery:
        for number in range(20):
            nursery.start_soon(write, number)
    entries = await wrapped.journal("r1")
    assert sorted(int(e.data) for e in entries) == list(range(20))
    assert await wrapped.get_run("r1") == record("r1")


# --------------------------------------------------------------------------- SQLite


def test_the_sqlite_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "new" / "dir" / "runs.db"
    SQLiteStore(str(path)).close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700


def test_a_newer_sqlite_schema_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    SQLiteStore(str(path)).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value = '99' WHERE name = 'schema'")
    with pytest.raises(StoreError, match="written by a newer flowc"):
        SQLiteStore(str(path))


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///tmp/a/runs.db", "/tmp/a/runs.db"),
        ("sqlite:relative/runs.db", "relative/runs.db"),
    ],
)
def test_sqlite_urls_name_files(url: str, path: str) -> None:
    assert sqlite_path(url) == path


@pytest.mark.parametrize("url", ["sqlite://host/runs.db", "sqlite:", "redis://x", "runs.db"])
def test_urls_that_name_no_store_are_refused(url: str) -> None:
    with pytest.raises(StoreError):
        open_store(url)


def test_an_unwritable_sqlite_location_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot open the run store"):
        open_store(f"sqlite:///{blocker / 'runs.db'}")


# --------------------------------------------------------------------------- PostgreSQL


def test_a_postgres_password_never_reaches_a_message() -> None:
    assert redacted_url("postgresql://me:hunter2@db:5432/runs") == "postgresql://me@db:5432/runs"
    with pytest.raises(StoreError) as caught:
        open_store("postgresql://me:hunter2@127.0.0.1:1/runs?connect_timeout=1")
    assert "hunter2" not in str(caught.value)


def queued(run_id: str, **changes: object) -> RunRecord:
    return record(run_id, status="queued", owner=None, attempt=0, **changes)


def test_the_queue_claims_each_run_once_and_leases_expire(store: Store) -> None:
    for index in range(3):
        store.create_run(queued(f"q{index}", created=100.0 + index))
    store.create_run(queued("other", flow="g"))
    first = store.claim_runs("a", ["f"], 2, 30)
    assert [r.id for r in first] == ["q0", "q1"] and {r.owner for r in first} == {"a"}
    assert [r.id for r in store.claim_runs("b", ["f"], 10, 0.05)] == ["q2"]
    assert store.claim_runs("b", ["f"], 10, 30) == []  # leases hold; `other` is not b's flow
    held = store.renew_leases("a", ["q0", "q1", "q2"], 30)
    assert held.held == {"q0", "q1"} and held.cancelled == frozenset()
    import time

    time.sleep(0.1)
    assert [r.id for r in store.claim_runs("c", ["f"], 10, 30)] == ["q2"]  # b's lease expired
    assert store.renew_leases("b", ["q2"], 30).held == frozenset()


def test_cancel_requeue_release_and_signals(store: Store) -> None:
    store.create_run(queued("waiting", created=100.0))  # claimed first: oldest
    store.create_run(queued("busy", created=101.0))
    [claimed] = store.claim_runs("w", ["f"], 1, 30)
    assert claimed.id == "waiting"
    store.begin_attempt("waiting", 1, "w", 101.0)
    cancelled = store.request_cancel("busy", 102.0)  # never claimed: ends at once
    assert cancelled is not None and cancelled.status == RunStatus.INTERRUPTED
    flagged = store.request_cancel("waiting", 103.0)
    assert flagged is not None and flagged.status == "running" and flagged.cancel_requested
    assert store.renew_leases("w", ["waiting"], 30).cancelled == {"waiting"}
    assert store.release_run("waiting", "someone else") is False
    assert store.release_run("waiting", "w") is True
    assert store.get_run("waiting").status == "queued"  # type: ignore[union-attr]
    assert store.requeue_run("waiting", 104.0) is False  # only failed or interrupted runs
    assert store.requeue_run("busy", 105.0) is True
    again = store.get_run("busy")
    assert again is not None and again.status == "queued" and not again.cancel_requested
    assert store.deliver_signal("nope", "s", "1", 1.0) is None
    for payload in ("1", '{"a":2}'):
        store.deliver_signal("busy", "approval", payload, 106.0)
    signals = store.signals("busy")
    assert [(s.name, s.sequence, s.payload) for s in signals] == [
        ("approval", 1, "1"),
        ("approval", 2, '{"a":2}'),
    ]


def test_a_schema_1_sqlite_file_is_migrated_in_place(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    SQLiteStore(str(path)).close()
    with sqlite3.connect(path) as db:  # what flowc before the queue wrote
        db.execute("ALTER TABLE runs DROP COLUMN lease_until")
        db.execute("ALTER TABLE runs DROP COLUMN cancel_requested")
        db.execute("DROP TABLE signals")
        db.execute("UPDATE meta SET value = '1' WHERE name = 'schema'")
        db.execute(
            "INSERT INTO runs VALUES ('old', 'f', 'completed', 's', 'd', '{}', '{}', '[]', "
            "1.0, 2.0, 1, NULL, NULL, NULL, 0)"
        )
    store = SQLiteStore(str(path))
    old = store.get_run("old")
    assert old is not None and old.status == "completed" and old.lease_until is None
    assert store.deliver_signal("old", "s", "null", 3.0) is not None
    store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone() == ("2",)


# --------------------------------------------------------------------------- inline calls


async def test_slow_inline_calls_spend_a_budget_then_go_to_the_thread(tmp_path: Path) -> None:
    """Inline calls may hold the trio loop for a share of the time: a slow call spends
    the budget, the calls after it run in the worker thread until it has grown back."""
    import threading
    import time

    store = AsyncStore(SQLiteStore(str(tmp_path / "runs.db")))
    assert store.inline
    loop_thread = threading.get_ident()
    delay = [0.0]
    seen: list[bool] = []

    def call(_: object) -> None:
        seen.append(threading.get_ident() == loop_thread)
        time.sleep(delay[0])

    async def inline(seconds: float = 0.0) -> bool:
        delay[0] = seconds
        await store._run(call, None)
        return seen[-1]

    assert await inline() and await inline()  # fast: inline
    assert await inline(0.02)  # slow, within the burst: inline, and a budget left
    assert await inline(0.05)  # slow: inline, and the budget is spent
    assert not await inline() and not await inline()  # in the thread meanwhile
    owed = -store._budget / store.BLOCKING_SHARE  # seconds until it has grown back
    await trio.sleep(owed + 0.05)
    assert await inline()  # inline again


def test_a_claim_reads_only_queued_and_running_runs(tmp_path: Path) -> None:
    """The claim's plan goes through the partial index of unfinished runs, so that its
    cost does not grow with the ended runs a long-lived store keeps."""
    from flowc.runtime.store.sqlite import claim_query

    store = SQLiteStore(str(tmp_path / "runs.db"))
    try:
        plan = store._db.execute(  # (the store's own connection and schema)
            "EXPLAIN QUERY PLAN " + claim_query(2), ("a", "b", 0.0, 0.0, 10)
        ).fetchall()
    finally:
        store.close()
    steps = " ".join(str(row[-1]) for row in plan)
    assert "USING INDEX runs_queue" in steps, steps
