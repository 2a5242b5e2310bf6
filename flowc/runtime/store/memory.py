"""A run store in memory: for tests and for engines that need no durability.

It keeps exactly what the durable stores keep, with the same replacement rule
for journal entries, so a test against it says something about them; it
forgets everything when the process ends.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import attrs

from flowc.runtime.store.records import (
    Claim,
    JournalEntry,
    RunQuery,
    RunRecord,
    RunStatus,
    SignalRecord,
)


class MemoryStore:
    url = "memory:"

    def __init__(self) -> None:
        self.runs: dict[str, RunRecord] = {}
        self.journals: dict[str, dict[tuple[str, str, int], JournalEntry]] = {}
        self.delivered: dict[str, list[SignalRecord]] = {}

    def create_run(self, record: RunRecord) -> tuple[RunRecord, bool]:
        existing = self.runs.get(record.id)
        if existing is not None:
            return existing, False
        self.runs[record.id] = record
        self.journals[record.id] = {}
        return record, True

    def get_run(self, run_id: str) -> RunRecord | None:
        return self.runs.get(run_id)

    def begin_attempt(self, run_id: str, attempt: int, owner: str, now: float) -> None:
        record = self.runs[run_id]
        self.runs[run_id] = attrs.evolve(
            record, status="running", attempt=attempt, owner=owner, updated_at=now
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
        record = self.runs[run_id]
        self.runs[run_id] = attrs.evolve(
            record,
            status=status,
            result=result,
            error=error,
            compensated=record.compensated or compensated,
            owner=None,
            lease_until=None,
            updated_at=now,
        )

    def append(self, run_id: str, entries: list[JournalEntry]) -> None:
        journal = self.journals.setdefault(run_id, {})
        for entry in entries:
            journal[(entry.kind, entry.key, entry.ordinal)] = entry

    def journal(self, run_id: str) -> list[JournalEntry]:
        return list(self.journals.get(run_id, {}).values())

    def delete_entry(self, run_id: str, kind: str, key: str) -> None:
        journal = self.journals.get(run_id, {})
        for position in [p for p in journal if p[0] == kind and p[1] == key]:
            del journal[position]

    def list_runs(self, query: RunQuery) -> list[RunRecord]:
        chosen = [r for r in self.runs.values() if _matches(r, query)]
        chosen.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        return chosen[: query.limit]

    def count_runs(self) -> int:
        return len(self.runs)

    def prune(self, ended_before: float) -> int:
        old = [r.id for r in self.runs.values() if r.ended and r.updated_at < ended_before]
        for run_id in old:
            del self.runs[run_id]
            self.journals.pop(run_id, None)
            self.delivered.pop(run_id, None)
        return len(old)

    # ------------------------------------------------------------ the queue

    def claim_runs(
        self, owner: str, flows: Sequence[str], limit: int, lease: float
    ) -> list[RunRecord]:
        now = time.time()
        chosen = sorted(
            (r for r in self.runs.values() if r.flow in flows and _claimable(r, now)),
            key=lambda r: (r.created_at, r.id),
        )[:limit]
        claimed = [attrs.evolve(r, owner=owner, lease_until=now + lease) for r in chosen]
        for record in claimed:
            self.runs[record.id] = record
        return claimed

    def renew_leases(self, owner: str, run_ids: Sequence[str], lease: float) -> Claim:
        now = time.time()
        held: set[str] = set()
        for run_id in run_ids:
            record = self.runs.get(run_id)
            if record is not None and _holds(record, owner, now):
                self.runs[run_id] = attrs.evolve(record, lease_until=now + lease)
                held.add(run_id)
        cancelled = {i for i in held if self.runs[i].cancel_requested}
        return Claim(frozenset(held), frozenset(cancelled))

    def release_run(self, run_id: str, owner: str) -> bool:
        record = self.runs.get(run_id)
        if record is None or record.owner != owner or record.ended:
            return False
        self.runs[run_id] = attrs.evolve(
            record, status=RunStatus.QUEUED, owner=None, lease_until=None
        )
        return True

    def request_cancel(self, run_id: str, now: float) -> RunRecord | None:
        record = self.runs.get(run_id)
        if record is None or record.ended:
            return record
        if record.status == RunStatus.QUEUED and record.owner is None:
            record = attrs.evolve(record, status=RunStatus.INTERRUPTED, updated_at=now)
        else:
            record = attrs.evolve(record, cancel_requested=True, updated_at=now)
        self.runs[run_id] = record
        return record

    def requeue_run(self, run_id: str, now: float) -> bool:
        record = self.runs.get(run_id)
        if record is None or record.status not in (RunStatus.FAILED, RunStatus.INTERRUPTED):
            return False
        self.runs[run_id] = attrs.evolve(
            record, status=RunStatus.QUEUED, owner=None, lease_until=None,
            cancel_requested=False, updated_at=now,
        )  # fmt: skip
        return True

    def deliver_signal(
        self, run_id: str, name: str, payload: str, now: float
    ) -> SignalRecord | None:
        if run_id not in self.runs:
            return None
        kept = self.delivered.setdefault(run_id, [])
        signal = SignalRecord(run_id, name, len(kept) + 1, payload, now)
        kept.append(signal)
        return signal

    def signals(self, run_id: str) -> list[SignalRecord]:
        return list(self.delivered.get(run_id, []))

    def close(self) -> None:
        return None


def _claimable(record: RunRecord, now: float) -> bool:
    if record.status == RunStatus.QUEUED:
        return record.owner is None or (record.lease_until or 0.0) < now
    expired = record.lease_until is not None and record.lease_until < now
    return record.status == RunStatus.RUNNING and expired


def _holds(record: RunRecord, owner: str, now: float) -> bool:
    return record.owner == owner and not record.ended and (record.lease_until or 0.0) >= now


def _matches(record: RunRecord, query: RunQuery) -> bool:
    if query.flow is not None and record.flow != query.flow:
        return False
    if query.status is not None and record.status != query.status:
        return False
    if query.since is not None and record.created_at < query.since:
        return False
    if query.until is not None and record.created_at >= query.until:
        return False
    return query.before is None or (record.created_at, record.id) < query.before
