"""The SQLite run store: durable runs on one machine, with no server to run.

One file (``runs.db``, mode 0600 in a 0700 directory) in WAL mode with
``synchronous=NORMAL``: a committed transaction survives the process being
killed at any instant (``kill -9``), which is the crash this store is for; a
power cut may lose the last few commits, as with any WAL database at this
setting (``FLOWC_SQLITE_SYNC=full`` makes every commit wait for the disk).
Several processes may share the file (a busy timeout serialises writers).

Journal entries live in a ``WITHOUT ROWID`` table keyed by
``(run_id, kind, key, ordinal)``; ``INSERT OR REPLACE`` gives the journal's
replacement rule.  A schema version in ``meta`` lets a later flowc migrate,
and makes an older flowc refuse a newer file with a clear message (version 2
added the queue's lease columns and the ``signals`` table).

The queue operations (``claim_runs`` and the rest, ``records``) work here as on
PostgreSQL, for ``flowc serve``'s own worker: a claim is one ``BEGIN
IMMEDIATE`` transaction, which serialises claimers as ``SKIP LOCKED`` does.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

from flowc.runtime.store.records import (
    COLUMN_COUNT,
    COLUMNS,
    Claim,
    JournalEntry,
    RunQuery,
    RunRecord,
    SignalRecord,
    StoreError,
    record_from_row,
    record_row,
)

SCHEMA_VERSION: Final = 2

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    flow TEXT NOT NULL,
    status TEXT NOT NULL,
    source TEXT NOT NULL,
    program_digest TEXT NOT NULL,
    flow_digests TEXT NOT NULL,
    inputs TEXT NOT NULL,
    withheld_inputs TEXT NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    attempt INTEGER NOT NULL,
    result TEXT,
    error TEXT,
    owner TEXT,
    compensated INTEGER NOT NULL DEFAULT 0,
    lease_until REAL,
    cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_by_time ON runs (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS runs_by_flow ON runs (flow, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS runs_queue ON runs (created_at, id)
    WHERE status IN ('queued', 'running');
CREATE TABLE IF NOT EXISTS journal (
    run_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, kind, key, ordinal)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS signals (
    run_id TEXT NOT NULL,
    sequence INTEGER NOT NULL,
    name TEXT NOT NULL,
    payload TEXT NOT NULL,
    delivered_at REAL NOT NULL,
    PRIMARY KEY (run_id, sequence)
) WITHOUT ROWID;
"""

_ADDED_COLUMNS: Final = (
    ("lease_until", "REAL"),
    ("cancel_requested", "INTEGER NOT NULL DEFAULT 0"),
)
"""Columns of schema 2 that a schema 1 file lacks."""


def sqlite_path(url: str) -> str:
    """The file of ``sqlite:///abs/path`` or ``sqlite:relative/path``."""
    path = url.removeprefix("sqlite:")
    if path.startswith("///"):
        path = path[2:]
    elif path.startswith("//"):
        raise StoreError(f"a SQLite store URL names a file, not a host: {url!r}")
    if not path:
        raise StoreError("the SQLite store URL names no file (sqlite:///path/runs.db)")
    return path


class SQLiteStore:
    inline_calls = True
    """A local file answers in a tenth of a millisecond: ``AsyncStore`` calls it inline."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.url = f"sqlite:///{Path(path).resolve()}"
        self._lock = threading.Lock()
        self._db = self._open(path)

    # ------------------------------------------------------------ opening

    @staticmethod
    def _open(path: str) -> sqlite3.Connection:
        target = Path(path)
        try:
            if not target.parent.exists():
                target.parent.mkdir(mode=0o700, parents=True)
            if not target.exists():
                os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o600))
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
            db.execute("PRAGMA journal_mode=WAL")
            sync = os.environ.get("FLOWC_SQLITE_SYNC", "normal").upper()
            db.execute(f"PRAGMA synchronous={'FULL' if sync == 'FULL' else 'NORMAL'}")
            _migrate(db)
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"cannot open the run store {path}: {_reason(error)}") from None
        return db

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as error:
                raise StoreError(f"the run store {self.path}: {_reason(error)}") from None

    def _query(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, parameters).fetchall()
            except sqlite3.Error as error:
                raise StoreError(f"the run store {self.path}: {_reason(error)}") from None

    # ------------------------------------------------------------ runs

    def create_run(self, record: RunRecord) -> tuple[RunRecord, bool]:
        with self._transaction() as db:
            row = db.execute(f"SELECT {COLUMNS} FROM runs WHERE id = ?", (record.id,)).fetchone()
            if row is not None:
                return record_from_row(row), False
            db.execute(
                f"INSERT INTO runs ({COLUMNS}) VALUES ({', '.join('?' * COLUMN_COUNT)})",
                record_row(record),
            )
        return record, True

    def get_run(self, run_id: str) -> RunRecord | None:
        rows = self._query(f"SELECT {COLUMNS} FROM runs WHERE id = ?", (run_id,))
        return record_from_row(rows[0]) if rows else None

    def begin_attempt(self, run_id: str, attempt: int, owner: str, now: float) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET status = 'running', attempt = ?, owner = ?, updated_at = ? "
                "WHERE id = ?",
                (attempt, owner, now, run_id),
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
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET status = ?, result = ?, error = ?, owner = NULL, "
                "lease_until = NULL, compensated = compensated OR ?, updated_at = ? WHERE id = ?",
                (status, result, error, int(compensated), now, run_id),
            )

    def list_runs(self, query: RunQuery) -> list[RunRecord]:
        conditions: list[str] = []
        parameters: list[Any] = []
        for column, value in (("flow", query.flow), ("status", query.status)):
            if value is not None:
                conditions.append(f"{column} = ?")
                parameters.append(value)
        if query.since is not None:
            conditions.append("created_at >= ?")
            parameters.append(query.since)
        if query.until is not None:
            conditions.append("created_at < ?")
            parameters.append(query.until)
        if query.before is not None:
            conditions.append("(created_at, id) < (?, ?)")
            parameters += list(query.before)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = self._query(
            f"SELECT {COLUMNS} FROM runs {where} ORDER BY created_at DESC, id DESC LIMIT ?",
            (*parameters, query.limit),
        )
        return [record_from_row(row) for row in rows]

    def count_runs(self) -> int:
        return int(self._query("SELECT count(*) FROM runs")[0][0])

    def prune(self, ended_before: float) -> int:
        with self._transaction() as db:
            old = "SELECT id FROM runs WHERE status != 'running' AND updated_at < ?"
            db.execute(f"DELETE FROM journal WHERE run_id IN ({old})", (ended_before,))
            db.execute(f"DELETE FROM signals WHERE run_id IN ({old})", (ended_before,))
            cursor = db.execute(
                "DELETE FROM runs WHERE status != 'running' AND updated_at < ?", (ended_before,)
            )
            return cursor.rowcount

    # ------------------------------------------------------------ journal

    def append(self, run_id: str, entries: list[JournalEntry]) -> None:
        with self._transaction() as db:
            db.executemany(
                "INSERT OR REPLACE INTO journal (run_id, kind, key, ordinal, data) "
                "VALUES (?, ?, ?, ?, ?)",
                [(run_id, e.kind, e.key, e.ordinal, e.data) for e in entries],
            )

    def journal(self, run_id: str) -> list[JournalEntry]:
        rows = self._query(
            "SELECT kind, key, ordinal, data FROM journal WHERE run_id = ?", (run_id,)
        )
        return [JournalEntry(*row) for row in rows]

    def delete_entry(self, run_id: str, kind: str, key: str) -> None:
        with self._transaction() as db:
            db.execute(
                "DELETE FROM journal WHERE run_id = ? AND kind = ? AND key = ?",
                (run_id, kind, key),
            )

    # ------------------------------------------------------------ the queue

    def claim_runs(
        self, owner: str, flows: Sequence[str], limit: int, lease: float
    ) -> list[RunRecord]:
        if not flows or limit <= 0:
            return []
        now = time.time()
        with self._transaction() as db:
            rows = db.execute(
                claim_query(len(flows)),
                (*flows, now, now, limit),
            ).fetchall()
            db.executemany(
                "UPDATE runs SET owner = ?, lease_until = ? WHERE id = ?",
                [(owner, now + lease, row[0]) for row in rows],
            )
        return [record_from_row((*row[:13], owner, row[14], now + lease, row[16])) for row in rows]

    def renew_leases(self, owner: str, run_ids: Sequence[str], lease: float) -> Claim:
        now = time.time()
        held: set[str] = set()
        cancelled: set[str] = set()
        with self._transaction() as db:
            for run_id in run_ids:
                row = db.execute(
                    "UPDATE runs SET lease_until = ? WHERE id = ? AND owner = ? "
                    "AND lease_until >= ? AND status IN ('queued', 'running') "
                    "RETURNING cancel_requested",
                    (now + lease, run_id, owner, now),
                ).fetchone()
                if row is not None:
                    held.add(run_id)
                    if row[0]:
                        cancelled.add(run_id)
        return Claim(frozenset(held), frozenset(cancelled))

    def release_run(self, run_id: str, owner: str) -> bool:
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE runs SET status = 'queued', owner = NULL, lease_until = NULL "
                "WHERE id = ? AND owner = ? AND status IN ('queued', 'running')",
                (run_id, owner),
            )
            return cursor.rowcount > 0

    def request_cancel(self, run_id: str, now: float) -> RunRecord | None:
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET status = 'interrupted', updated_at = ? "
                "WHERE id = ? AND status = 'queued' AND owner IS NULL",
                (now, run_id),
            )
            db.execute(
                "UPDATE runs SET cancel_requested = 1, updated_at = ? "
                "WHERE id = ? AND status IN ('queued', 'running')",
                (now, run_id),
            )
            row = db.execute(f"SELECT {COLUMNS} FROM runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else record_from_row(row)

    def requeue_run(self, run_id: str, now: float) -> bool:
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE runs SET status = 'queued', owner = NULL, lease_until = NULL, "
                "cancel_requested = 0, updated_at = ? "
                "WHERE id = ? AND status IN ('failed', 'interrupted')",
                (now, run_id),
            )
            return cursor.rowcount > 0

    def deliver_signal(
        self, run_id: str, name: str, payload: str, now: float
    ) -> SignalRecord | None:
        with self._transaction() as db:
            if db.execute("SELECT 1 FROM runs WHERE id = ?", (run_id,)).fetchone() is None:
                return None
            row = db.execute(
                "SELECT coalesce(max(sequence), 0) + 1 FROM signals WHERE run_id = ?", (run_id,)
            ).fetchone()
            sequence = int(row[0])
            db.execute(
                "INSERT INTO signals (run_id, sequence, name, payload, delivered_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (run_id, sequence, name, payload, now),
            )
        return SignalRecord(run_id, name, sequence, payload, now)

    def signals(self, run_id: str) -> list[SignalRecord]:
        rows = self._query(
            "SELECT run_id, name, sequence, payload, delivered_at FROM signals "
            "WHERE run_id = ? ORDER BY sequence",
            (run_id,),
        )
        return [SignalRecord(r[0], r[1], int(r[2]), r[3], float(r[4])) for r in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def claim_query(flows: int) -> str:
    """The claim's SELECT for that many flow names; parameters: the names, now, now, limit.

    ``status IN`` and ``INDEXED BY`` make the partial index ``runs_queue`` (queued and
    running runs only) serve it: through ``runs_by_flow``, which the planner picks
    otherwise, every claim scanned all the ended runs of the flows, and claims slowed
    down as the store grew."""
    marks = ", ".join("?" * flows)
    return (
        f"SELECT {COLUMNS} FROM runs INDEXED BY runs_queue "
        f"WHERE status IN ('queued', 'running') AND flow IN ({marks}) AND ("
        "(status = 'queued' AND (owner IS NULL OR lease_until < ?)) OR "
        "(status = 'running' AND lease_until < ?)) "
        "ORDER BY created_at, id LIMIT ?"
    )


def _migrate(db: sqlite3.Connection) -> None:
    db.executescript(_SCHEMA)  # idempotent: every statement is CREATE ... IF NOT EXISTS
    db.execute("BEGIN IMMEDIATE")
    try:
        row = db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
        if row is None:
            db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        elif int(row[0]) < SCHEMA_VERSION:
            present = {info[1] for info in db.execute("PRAGMA table_info(runs)")}
            for column, declaration in _ADDED_COLUMNS:
                if column not in present:
                    db.execute(f"ALTER TABLE runs ADD COLUMN {column} {declaration}")
            db.execute("UPDATE meta SET value = ? WHERE name = 'schema'", (str(SCHEMA_VERSION),))
        elif int(row[0]) > SCHEMA_VERSION:
            raise StoreError(
                f"the run store was written by a newer flowc (schema {row[0]}, "
                f"this flowc knows {SCHEMA_VERSION})"
            )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__
