"""A run store in memory: for tests and for engines that need no durability.

It keeps exactly what the durable stores keep, with the same replacement rule
for journal entries, so a test against it says something about them; it
forgets everything when the process ends.
"""

from __future__ import annotations

import attrs

from flowc.runtime.store.records import JournalEntry, RunQuery, RunRecord


class MemoryStore:
    url = "memory:"

    def __init__(self) -> None:
        self.runs: dict[str, RunRecord] = {}
        self.journals: dict[str, dict[tuple[str, str, int], JournalEntry]] = {}

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
        return len(old)

    def close(self) -> None:
        return None


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
