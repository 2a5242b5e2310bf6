"""The PostgreSQL run store: durable runs shared by processes on many machines.

The same tables as the SQLite store (``runs``, ``journal``, ``meta``), in the
schema the URL's connection lands in, created on first use.  Every write is
one transaction; a commit is durable by PostgreSQL's own rules
(``synchronous_commit`` as the server is configured).

The driver is psycopg 3, synchronous: the engine calls the store from a
worker thread (``AsyncStore``), because psycopg's asynchronous API belongs to
asyncio and flowc runs on trio.  One connection per store, serialised by a
lock.

A store that cannot be reached when it is opened is an error at once.  A
connection lost later (the server restarted, the network dropped) is not the
end of a run: a call that fails because the connection broke reconnects and tries
again, with backoff, for up to ``patience`` seconds (``FLOWC_STORE_PATIENCE``,
default 60), saying on stderr once that it waits.  Only then does it raise
``StoreError``, and the run can be resumed once the database is back.
Statements are idempotent where a retry could repeat them (``create_run`` is
an insert that does nothing on conflict, journal entries are upserts), so a
commit whose acknowledgement was lost is harmless to repeat.

**The queue** (``flowc worker``).  A queued run is claimed with ``SELECT ...
FOR UPDATE SKIP LOCKED`` (claimers never wait for each other, and never take
one run twice) and every insert or requeue of a queued run sends ``NOTIFY
flowc_queue``, so idle workers wake at once.  Lease times are the database's
clock (``clock_timestamp()``), so workers on machines whose clocks differ still
agree on whose lease expired.  A store opened with ``fence=owner`` checks, in
the same statement or transaction as each write to a run, that ``owner`` still
holds that run's lease, and raises ``LeaseLost`` when it does not.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

from flowc.runtime.store.records import (
    COLUMN_COUNT,
    COLUMNS,
    Claim,
    JournalEntry,
    LeaseLost,
    RunQuery,
    RunRecord,
    SignalRecord,
    StoreError,
    record_from_row,
    record_row,
)

_T = TypeVar("_T")

SCHEMA_VERSION: Final = 2
CHANNEL: Final = "flowc_queue"
"""The LISTEN/NOTIFY channel that wakes workers."""
_NOW: Final = "extract(epoch from clock_timestamp())"
_BATCH: Final = 500  # journal rows per INSERT statement

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS flowc_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS flowc_runs (
        id TEXT PRIMARY KEY,
        flow TEXT NOT NULL,
        status TEXT NOT NULL,
        source TEXT NOT NULL,
        program_digest TEXT NOT NULL,
        flow_digests TEXT NOT NULL,
        inputs TEXT NOT NULL,
        withheld_inputs TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        attempt INTEGER NOT NULL,
        result TEXT,
        error TEXT,
        owner TEXT,
        compensated BOOLEAN NOT NULL DEFAULT FALSE
    )""",
    "CREATE INDEX IF NOT EXISTS flowc_runs_by_time ON flowc_runs (created_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS flowc_runs_by_flow ON flowc_runs (flow, created_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS flowc_runs_by_status "
    "ON flowc_runs (status, created_at DESC, id DESC)",
    """CREATE TABLE IF NOT EXISTS flowc_journal (
        run_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        ordinal INTEGER NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (run_id, kind, key, ordinal)
    )""",
    "ALTER TABLE flowc_runs ADD COLUMN IF NOT EXISTS lease_until DOUBLE PRECISION",
    "ALTER TABLE flowc_runs ADD COLUMN IF NOT EXISTS cancel_requested BOOLEAN "
    "NOT NULL DEFAULT FALSE",
    "CREATE INDEX IF NOT EXISTS flowc_runs_queue ON flowc_runs (created_at, id) "
    "WHERE status IN ('queued', 'running')",
    """CREATE TABLE IF NOT EXISTS flowc_signals (
        run_id TEXT NOT NULL,
        sequence INTEGER NOT NULL,
        name TEXT NOT NULL,
        payload TEXT NOT NULL,
        delivered_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (run_id, sequence)
    )""",
)


def redacted_url(url: str) -> str:
    """``url`` without its password, for messages."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"


class PostgresStore:
    def __init__(
        self, url: str, *, patience: float | None = None, fence: str | None = None
    ) -> None:
        try:
            import psycopg
        except ModuleNotFoundError:
            raise StoreError(
                "a PostgreSQL store needs psycopg: pip install 'flowc[postgres]'"
            ) from None
        self._psycopg = psycopg
        self.dsn = url
        self.url = redacted_url(url)
        self.patience = (
            float(os.environ.get("FLOWC_STORE_PATIENCE", "60")) if patience is None else patience
        )
        self._lock = threading.Lock()
        self._connection: Any = None
        self.fence = fence
        """The owner whose lease every write to a run must hold (a worker's store)."""
        # an unreachable store at start: say so at once
        self._call(self._migrate, patience=0.0, atomic=True)

    # ------------------------------------------------------------ connection

    def _connect(self) -> Any:
        if self._connection is None or self._connection.closed:
            self._connection = self._psycopg.connect(self.dsn, connect_timeout=5, autocommit=True)
        return self._connection

    def _call(
        self, work: Callable[[Any], _T], patience: float | None = None, *, atomic: bool = False
    ) -> _T:
        """Run ``work(connection)``, reconnecting while the database is away.

        A single statement is its own transaction (one round trip, the common case of
        a journal write); ``atomic`` wraps several in one.
        """
        psycopg = self._psycopg
        deadline = time.monotonic() + (self.patience if patience is None else patience)
        delay = 0.1
        told = False
        with self._lock:
            while True:
                try:
                    connection = self._connect()
                    if not atomic:
                        return work(connection)
                    with connection.transaction():
                        return work(connection)
                except psycopg.OperationalError as error:
                    self._drop()
                    if time.monotonic() + delay > deadline:
                        raise StoreError(
                            f"the run store {self.url} is unavailable: {_first_line(error)}"
                        ) from None
                    if not told:
                        print(
                            f"flowc: the run store {self.url} is unavailable "
                            f"({_first_line(error)}); retrying for up to {self.patience:g}s",
                            file=sys.stderr,
                            flush=True,
                        )
                        told = True
                    time.sleep(delay)
                    delay = min(delay * 2, 2.0)
                except LeaseLost:
                    raise
                except psycopg.Error as error:
                    raise StoreError(f"the run store {self.url}: {_first_line(error)}") from None

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with contextlib.suppress(self._psycopg.Error):
                connection.close()

    def _migrate(self, db: Any) -> None:
        db.execute("SELECT pg_advisory_xact_lock(7301937)")  # one migrating process at a time
        for statement in _SCHEMA:
            db.execute(statement)
        row = db.execute("SELECT value FROM flowc_meta WHERE name = 'schema'").fetchone()
        if row is None:
            db.execute("INSERT INTO flowc_meta VALUES ('schema', %s)", (str(SCHEMA_VERSION),))
        elif int(row[0]) > SCHEMA_VERSION:
            raise StoreError(
                f"the run store was written by a newer flowc (schema {row[0]}, "
                f"this flowc knows {SCHEMA_VERSION})"
            )
        elif int(row[0]) < SCHEMA_VERSION:
            db.execute(
                "UPDATE flowc_meta SET value = %s WHERE name = 'schema'", (str(SCHEMA_VERSION),)
            )

    def _fenced(self, db: Any, run_id: str) -> None:
        """Inside a transaction: refuse unless the fence owner holds the run's lease."""
        if self.fence is None:
            return
        row = db.execute(
            f"SELECT 1 FROM flowc_runs WHERE id = %s AND owner = %s AND lease_until >= {_NOW} "
            "FOR SHARE",
            (run_id, self.fence),
        ).fetchone()
        if row is None:
            raise LeaseLost(f"run {run_id}: this worker's lease expired; another worker owns it")

    # ------------------------------------------------------------ runs

    def create_run(self, record: RunRecord) -> tuple[RunRecord, bool]:
        def work(db: Any) -> tuple[RunRecord, bool]:
            inserted = db.execute(
                f"INSERT INTO flowc_runs ({COLUMNS}) VALUES ({', '.join(['%s'] * COLUMN_COUNT)}) "
                "ON CONFLICT (id) DO NOTHING RETURNING id",
                record_row(record),
            ).fetchone()
            if inserted is not None:
                if record.status == "queued":
                    db.execute(f"NOTIFY {CHANNEL}")
                return record, True
            row = db.execute(
                f"SELECT {COLUMNS} FROM flowc_runs WHERE id = %s", (record.id,)
            ).fetchone()
            return record_from_row(row), False

        return self._call(work)

    def get_run(self, run_id: str) -> RunRecord | None:
        def work(db: Any) -> RunRecord | None:
            row = db.execute(
                f"SELECT {COLUMNS} FROM flowc_runs WHERE id = %s", (run_id,)
            ).fetchone()
            return None if row is None else record_from_row(row)

        return self._call(work)

    def begin_attempt(self, run_id: str, attempt: int, owner: str, now: float) -> None:
        self._fenced_update(
            "UPDATE flowc_runs SET status = 'running', attempt = %s, owner = %s, "
            "updated_at = %s WHERE id = %s",
            (attempt, owner, now, run_id),
            run_id,
        )

    def finish_run(
        self,
        run_id: str,
        status: str,
        result: str | None,
        error: str | None,
        compensated: bool,
        now: float,
    ) -> None:
        self._fenced_update(
            "UPDATE flowc_runs SET status = %s, result = %s, error = %s, owner = NULL, "
            "lease_until = NULL, compensated = compensated OR %s, updated_at = %s "
            "WHERE id = %s",
            (status, result, error, compensated, now, run_id),
            run_id,
        )

    def _fenced_update(self, sql: str, parameters: tuple[Any, ...], run_id: str) -> None:
        """One UPDATE of a run's row; with a fence, only while the fence owner holds it.

        The row lock makes it exact: an UPDATE racing a claim re-reads the row once the
        claim commits, sees the new owner and changes nothing (``LeaseLost``).
        """
        if self.fence is None:
            self._call(lambda db: db.execute(sql, parameters))
            return
        fenced = f"{sql} AND owner = %s AND lease_until >= {_NOW} RETURNING id"
        row = self._call(lambda db: db.execute(fenced, (*parameters, self.fence)).fetchone())
        if row is None:
            raise LeaseLost(f"run {run_id}: this worker's lease expired; another worker owns it")

    def list_runs(self, query: RunQuery) -> list[RunRecord]:
        conditions: list[str] = []
        parameters: list[Any] = []
        for column, value in (("flow", query.flow), ("status", query.status)):
            if value is not None:
                conditions.append(f"{column} = %s")
                parameters.append(value)
        if query.since is not None:
            conditions.append("created_at >= %s")
            parameters.append(query.since)
        if query.until is not None:
            conditions.append("created_at < %s")
            parameters.append(query.until)
        if query.before is not None:
            conditions.append("(created_at, id) < (%s, %s)")
            parameters += list(query.before)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        sql = f"SELECT {COLUMNS} FROM flowc_runs {where} ORDER BY created_at DESC, id DESC LIMIT %s"
        rows = self._call(lambda db: db.execute(sql, (*parameters, query.limit)).fetchall())
        return [record_from_row(row) for row in rows]

    def count_runs(self) -> int:
        row = self._call(lambda db: db.execute("SELECT count(*) FROM flowc_runs").fetchone())
        return int(row[0])

    def prune(self, ended_before: float) -> int:
        def work(db: Any) -> int:
            old = "SELECT id FROM flowc_runs WHERE status <> 'running' AND updated_at < %s"
            db.execute(f"DELETE FROM flowc_journal WHERE run_id IN ({old})", (ended_before,))
            db.execute(f"DELETE FROM flowc_signals WHERE run_id IN ({old})", (ended_before,))
            cursor = db.execute(
                "DELETE FROM flowc_runs WHERE status <> 'running' AND updated_at < %s",
                (ended_before,),
            )
            return int(cursor.rowcount)

        return self._call(work, atomic=True)

    # ------------------------------------------------------------ journal

    def append(self, run_id: str, entries: list[JournalEntry]) -> None:
        """One multi-row upsert per batch: atomic, and one round trip."""
        if not entries:
            return
        unique = {(e.kind, e.key, e.ordinal): e for e in entries}  # the last one wins
        rows = [(run_id, e.kind, e.key, e.ordinal, e.data) for e in unique.values()]

        if self.fence is not None and len(rows) <= _BATCH:
            self._fenced_append(run_id, rows)
            return

        def work(db: Any) -> None:
            self._fenced(db, run_id)
            for start in range(0, len(rows), _BATCH):
                chunk = rows[start : start + _BATCH]
                values = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
                db.execute(
                    f"INSERT INTO flowc_journal (run_id, kind, key, ordinal, data) VALUES {values} "
                    "ON CONFLICT (run_id, kind, key, ordinal) DO UPDATE SET data = EXCLUDED.data",
                    [value for row in chunk for value in row],
                )

        self._call(work, atomic=len(rows) > _BATCH or self.fence is not None)

    def _fenced_append(self, run_id: str, rows: list[tuple[Any, ...]]) -> None:
        """One statement (one round trip): share-lock the run's row if the fence owner
        holds its lease, and write the entries only then."""
        values = ", ".join(["(%s, %s, %s, %s::integer, %s)"] * len(rows))
        sql = (
            "WITH held AS (SELECT id FROM flowc_runs WHERE id = %s AND owner = %s "
            f"AND lease_until >= {_NOW} FOR SHARE) "
            "INSERT INTO flowc_journal (run_id, kind, key, ordinal, data) "
            f"SELECT v.* FROM (VALUES {values}) AS v(run_id, kind, key, ordinal, data) "
            "WHERE EXISTS (SELECT 1 FROM held) "
            "ON CONFLICT (run_id, kind, key, ordinal) DO UPDATE SET data = EXCLUDED.data "
            "RETURNING 1"
        )
        parameters = [run_id, self.fence, *(value for row in rows for value in row)]
        written = self._call(lambda db: db.execute(sql, parameters).fetchall())
        if not written:
            raise LeaseLost(f"run {run_id}: this worker's lease expired; another worker owns it")

    def journal(self, run_id: str) -> list[JournalEntry]:
        rows = self._call(
            lambda db: db.execute(
                "SELECT kind, key, ordinal, data FROM flowc_journal WHERE run_id = %s", (run_id,)
            ).fetchall()
        )
        return [JournalEntry(*row) for row in rows]

    def delete_entry(self, run_id: str, kind: str, key: str) -> None:
        def work(db: Any) -> None:
            self._fenced(db, run_id)
            db.execute(
                "DELETE FROM flowc_journal WHERE run_id = %s AND kind = %s AND key = %s",
                (run_id, kind, key),
            )

        self._call(work, atomic=self.fence is not None)

    # ------------------------------------------------------------ the queue

    def claim_runs(
        self, owner: str, flows: Sequence[str], limit: int, lease: float
    ) -> list[RunRecord]:
        if not flows or limit <= 0:
            return []

        def work(db: Any) -> list[RunRecord]:
            rows = db.execute(
                "WITH chosen AS (SELECT id FROM flowc_runs "
                "WHERE status IN ('queued', 'running') AND flow = ANY(%s) AND ("
                f"(status = 'queued' AND (owner IS NULL OR lease_until < {_NOW})) OR "
                f"(status = 'running' AND lease_until < {_NOW})) "
                "ORDER BY created_at, id LIMIT %s FOR UPDATE SKIP LOCKED) "
                f"UPDATE flowc_runs AS r SET owner = %s, lease_until = {_NOW} + %s "
                f"FROM chosen WHERE r.id = chosen.id RETURNING "
                + ", ".join(f"r.{c.strip()}" for c in COLUMNS.split(",")),
                (list(flows), limit, owner, lease),
            ).fetchall()
            return [record_from_row(row) for row in rows]

        return self._call(work)

    def renew_leases(self, owner: str, run_ids: Sequence[str], lease: float) -> Claim:
        if not run_ids:
            return Claim(frozenset(), frozenset())
        rows = self._call(
            lambda db: db.execute(
                f"UPDATE flowc_runs SET lease_until = {_NOW} + %s WHERE id = ANY(%s) "
                f"AND owner = %s AND lease_until >= {_NOW} AND status IN ('queued', 'running') "
                "RETURNING id, cancel_requested",
                (lease, list(run_ids), owner),
            ).fetchall()
        )
        held = frozenset(row[0] for row in rows)
        return Claim(held, frozenset(row[0] for row in rows if row[1]))

    def release_run(self, run_id: str, owner: str) -> bool:
        def work(db: Any) -> bool:
            row = db.execute(
                "UPDATE flowc_runs SET status = 'queued', owner = NULL, lease_until = NULL "
                "WHERE id = %s AND owner = %s AND status IN ('queued', 'running') RETURNING id",
                (run_id, owner),
            ).fetchone()
            if row is not None:
                db.execute(f"NOTIFY {CHANNEL}")
            return row is not None

        return self._call(work, atomic=True)

    def request_cancel(self, run_id: str, now: float) -> RunRecord | None:
        def work(db: Any) -> RunRecord | None:
            db.execute(
                "UPDATE flowc_runs SET status = 'interrupted', updated_at = %s "
                "WHERE id = %s AND status = 'queued' AND owner IS NULL",
                (now, run_id),
            )
            db.execute(
                "UPDATE flowc_runs SET cancel_requested = TRUE, updated_at = %s "
                "WHERE id = %s AND status IN ('queued', 'running')",
                (now, run_id),
            )
            row = db.execute(
                f"SELECT {COLUMNS} FROM flowc_runs WHERE id = %s", (run_id,)
            ).fetchone()
            return None if row is None else record_from_row(row)

        return self._call(work, atomic=True)

    def requeue_run(self, run_id: str, now: float) -> bool:
        def work(db: Any) -> bool:
            row = db.execute(
                "UPDATE flowc_runs SET status = 'queued', owner = NULL, lease_until = NULL, "
                "cancel_requested = FALSE, updated_at = %s "
                "WHERE id = %s AND status IN ('failed', 'interrupted') RETURNING id",
                (now, run_id),
            ).fetchone()
            if row is not None:
                db.execute(f"NOTIFY {CHANNEL}")
            return row is not None

        return self._call(work, atomic=True)

    def deliver_signal(
        self, run_id: str, name: str, payload: str, now: float
    ) -> SignalRecord | None:
        def work(db: Any) -> SignalRecord | None:
            locked = db.execute(
                "SELECT 1 FROM flowc_runs WHERE id = %s FOR UPDATE", (run_id,)
            ).fetchone()
            if locked is None:
                return None
            row = db.execute(
                "INSERT INTO flowc_signals (run_id, sequence, name, payload, delivered_at) "
                "SELECT %s, coalesce(max(sequence), 0) + 1, %s, %s, %s FROM flowc_signals "
                "WHERE run_id = %s RETURNING sequence",
                (run_id, name, payload, now, run_id),
            ).fetchone()
            return SignalRecord(run_id, name, int(row[0]), payload, now)

        return self._call(work, atomic=True)

    def signals(self, run_id: str) -> list[SignalRecord]:
        rows = self._call(
            lambda db: db.execute(
                "SELECT run_id, name, sequence, payload, delivered_at FROM flowc_signals "
                "WHERE run_id = %s ORDER BY sequence",
                (run_id,),
            ).fetchall()
        )
        return [SignalRecord(r[0], r[1], int(r[2]), r[3], float(r[4])) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._drop()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__
