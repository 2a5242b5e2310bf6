"""Run stores: where durable runs keep their records and journals.

A store holds the run records and the journals described in ``records``.
Two interfaces, one contract:

* ``Store`` is synchronous.  The commands that only read or tidy a store
  (``flowc runs``, ``flowc runs show``, ``flowc runs prune``) use it directly,
  without starting trio.
* ``AsyncStore`` wraps a ``Store`` for the engine.  Every method is awaitable
  and runs the synchronous call in a worker thread, one at a time, so a slow
  disk or a distant database never blocks the trio loop that runs the flows.

Backends: ``MemoryStore`` (tests, ephemeral use), ``SQLiteStore`` (the
default: ``$XDG_STATE_HOME/flowc/runs.db``) and ``PostgresStore`` (several
processes or machines).  ``open_store(url)`` picks one by URL:
``sqlite:///path/runs.db``, ``postgresql://user@host/db``, ``memory:``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from flowc.runtime.store.records import (
    ENDED,
    Claim,
    JournalEntry,
    LeaseLost,
    RunQuery,
    RunRecord,
    RunStatus,
    SignalRecord,
    StoreError,
)

_T = TypeVar("_T")

__all__ = [
    "ENDED",
    "AsyncStore",
    "Claim",
    "JournalEntry",
    "LeaseLost",
    "RunQuery",
    "RunRecord",
    "RunStatus",
    "SignalRecord",
    "Store",
    "StoreError",
    "default_store_url",
    "open_store",
]


class Store(Protocol):
    """The synchronous store contract (see ``records`` for what is stored)."""

    url: str
    """Where the store is, for messages (never with a password)."""

    def create_run(self, record: RunRecord) -> tuple[RunRecord, bool]:
        """Insert ``record`` unless a run with its id exists; (the stored record, created)."""
        ...

    def get_run(self, run_id: str) -> RunRecord | None: ...

    def begin_attempt(self, run_id: str, attempt: int, owner: str, now: float) -> None:
        """Mark the run running again under ``owner`` (a resume)."""
        ...

    def finish_run(
        self,
        run_id: str,
        status: str,
        result: str | None,
        error: str | None,
        compensated: bool,
        now: float,
    ) -> None: ...

    def append(self, run_id: str, entries: list[JournalEntry]) -> None:
        """Write entries in one transaction; an entry replaces one at its position."""
        ...

    def journal(self, run_id: str) -> list[JournalEntry]: ...

    def delete_entry(self, run_id: str, kind: str, key: str) -> None:
        """Forget every entry of (kind, key): a redriven step runs again."""
        ...

    def list_runs(self, query: RunQuery) -> list[RunRecord]: ...

    def count_runs(self) -> int: ...

    def prune(self, ended_before: float) -> int:
        """Delete runs that ended before the time, with their journals; how many."""
        ...

    # ------------------------------------------------------------ the queue

    def claim_runs(
        self, owner: str, flows: Sequence[str], limit: int, lease: float
    ) -> list[RunRecord]:
        """Take up to ``limit`` runs of ``flows`` that are queued or whose lease expired.

        Each claimed run gets ``owner`` and a lease of ``lease`` seconds; no two
        callers ever claim one run at once (PostgreSQL: ``FOR UPDATE SKIP LOCKED``).
        """
        ...

    def renew_leases(self, owner: str, run_ids: Sequence[str], lease: float) -> Claim:
        """Extend ``owner``'s leases on ``run_ids``; which it still holds, which to cancel."""
        ...

    def release_run(self, run_id: str, owner: str) -> bool:
        """Hand a run back to the queue (a draining worker); whether ``owner`` held it."""
        ...

    def request_cancel(self, run_id: str, now: float) -> RunRecord | None:
        """Ask for a run's cancellation: a queued run ends at once (interrupted), a
        running one is flagged for its worker.  The record as it is now."""
        ...

    def requeue_run(self, run_id: str, now: float) -> bool:
        """Queue a failed or interrupted run again (a resume through the queue)."""
        ...

    def deliver_signal(
        self, run_id: str, name: str, payload: str, now: float
    ) -> SignalRecord | None:
        """Keep a signal for a run (None: no such run); kept until the run reads it."""
        ...

    def signals(self, run_id: str) -> list[SignalRecord]:
        """The signals delivered to a run, in order of arrival."""
        ...

    def close(self) -> None: ...


def default_store_url() -> str:
    """``FLOWC_STORE``, else the SQLite file under ``$XDG_STATE_HOME/flowc``."""
    configured = os.environ.get("FLOWC_STORE")
    if configured:
        return configured
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return f"sqlite:///{Path(state) / 'flowc' / 'runs.db'}"


def open_store(url: str) -> Store:
    """Open the store ``url`` names (``StoreError`` with one clear line if it cannot)."""
    if url == "memory:":
        from flowc.runtime.store.memory import MemoryStore

        return MemoryStore()
    if url.startswith("sqlite:"):
        from flowc.runtime.store.sqlite import SQLiteStore, sqlite_path

        return SQLiteStore(sqlite_path(url))
    if url.startswith(("postgresql:", "postgres:")):
        from flowc.runtime.store.postgres import PostgresStore

        return PostgresStore(url)
    raise StoreError(
        f"unknown store URL {url!r}: use sqlite:///path, postgresql://user@host/db or memory:"
    )


class AsyncStore:
    """A ``Store`` whose calls run in a worker thread, one at a time.

    ``inline=True`` runs them in the trio thread instead: for a local SQLite file,
    whose calls take a tenth of a millisecond, handing each to a thread costs more
    than it saves once the loop is busy (the thread waits for the GIL, up to the
    interpreter's 5 ms switch interval, for every call: 0.6 ms per durable step
    against 0.27 ms inline, bench/durable.py).  The default (``inline=None``) asks
    the store (``SQLiteStore.inline_calls``).  Inline calls may hold the loop for
    ``BLOCKING_SHARE`` of the time at most (a token bucket of ``BLOCKING_BURST``
    seconds): a store that turns slow (a slow disk, a long checkpoint) spends its
    budget and its calls go to the worker thread until the budget has grown back, so
    it never keeps blocking the loop, while a call that was slow only because the
    machine was busy costs a little budget and nothing else.  (Switching to the
    thread for good after one call over 5 ms halved `flowc serve`'s ``?wait``
    throughput on a loaded machine, bench/serve.py.)
    """

    BLOCKING_SHARE = 0.1
    BLOCKING_BURST = 0.05

    def __init__(self, store: Store, *, inline: bool | None = None) -> None:
        import trio

        self.sync = store
        self.url = store.url
        self.inline = bool(getattr(store, "inline_calls", False)) if inline is None else inline
        self._lock = trio.Lock()
        self._budget = self.BLOCKING_BURST
        self._budget_at = 0.0

    async def _run(self, function: Callable[..., _T], *args: object) -> _T:
        import time

        import trio

        if self.inline and self._may_block(time.monotonic()):
            await trio.lowlevel.checkpoint()
            began = time.monotonic()
            try:
                return function(*args)
            finally:
                self._budget -= time.monotonic() - began
        async with self._lock:
            return await trio.to_thread.run_sync(function, *args)

    def _may_block(self, now: float) -> bool:
        """Whether the blocking budget allows an inline call now (after refilling it)."""
        grown = self._budget + (now - self._budget_at) * self.BLOCKING_SHARE
        self._budget = min(self.BLOCKING_BURST, grown)
        self._budget_at = now
        return self._budget > 0

    async def create_run(self, record: RunRecord) -> tuple[RunRecord, bool]:
        return await self._run(self.sync.create_run, record)

    async def get_run(self, run_id: str) -> RunRecord | None:
        return await self._run(self.sync.get_run, run_id)

    async def begin_attempt(self, run_id: str, attempt: int, owner: str, now: float) -> None:
        await self._run(self.sync.begin_attempt, run_id, attempt, owner, now)

    async def finish_run(
        self,
        run_id: str,
        status: str,
        result: str | None,
        error: str | None,
        compensated: bool,
        now: float,
    ) -> None:
        await self._run(self.sync.finish_run, run_id, status, result, error, compensated, now)

    async def append(self, run_id: str, entries: list[JournalEntry]) -> None:
        await self._run(self.sync.append, run_id, entries)

    async def journal(self, run_id: str) -> list[JournalEntry]:
        return await self._run(self.sync.journal, run_id)

    async def delete_entry(self, run_id: str, kind: str, key: str) -> None:
        await self._run(self.sync.delete_entry, run_id, kind, key)

    async def list_runs(self, query: RunQuery) -> list[RunRecord]:
        return await self._run(self.sync.list_runs, query)

    async def claim_runs(
        self, owner: str, flows: Sequence[str], limit: int, lease: float
    ) -> list[RunRecord]:
        return await self._run(self.sync.claim_runs, owner, flows, limit, lease)

    async def renew_leases(self, owner: str, run_ids: Sequence[str], lease: float) -> Claim:
        return await self._run(self.sync.renew_leases, owner, run_ids, lease)

    async def release_run(self, run_id: str, owner: str) -> bool:
        return await self._run(self.sync.release_run, run_id, owner)

    async def request_cancel(self, run_id: str, now: float) -> RunRecord | None:
        return await self._run(self.sync.request_cancel, run_id, now)

    async def requeue_run(self, run_id: str, now: float) -> bool:
        return await self._run(self.sync.requeue_run, run_id, now)

    async def deliver_signal(
        self, run_id: str, name: str, payload: str, now: float
    ) -> SignalRecord | None:
        return await self._run(self.sync.deliver_signal, run_id, name, payload, now)

    async def signals(self, run_id: str) -> list[SignalRecord]:
        return await self._run(self.sync.signals, run_id)

    async def count_runs(self) -> int:
        return await self._run(self.sync.count_runs)

    async def close(self) -> None:
        await self._run(self.sync.close)
