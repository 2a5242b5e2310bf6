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
and makes an older flowc refuse a newer file with a clear message.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from flowc.runtime.store.records import (
    COLUMNS,
    JournalEntry,
    RunQuery,
    RunRecord,
    StoreError,
    record_from_row,
    record_row,
)

SCHEMA_VERSION: Final = 1

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
    compensated INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_by_time ON runs (created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS runs_by_flow ON runs (flow, created_at DESC, id DESC);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, created_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS journal (
    run_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    ordinal INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (run_id, kind, key, ordinal)
) WITHOUT ROWID;
"""


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
                f"INSERT INTO runs ({COLUMNS}) VALUES ({', '.join('?' * 15)})", record_row(record)
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
                "compensated = compensated OR ?, updated_at = ? WHERE id = ?",
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

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _migrate(db: sqlite3.Connection) -> None:
    db.executescript(_SCHEMA)  # idempotent: every statement is CREATE ... IF NOT EXISTS
    db.execute("BEGIN IMMEDIATE")
    try:
        row = db.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
        if row is None:
            db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
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
