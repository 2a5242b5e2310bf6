"""The run journal: what a run replays when it resumes, and what it records.

A durable run writes its history to the store as it goes (``store.records``
has the table of entry kinds), and a resumed run reads it back and replays it:
a completed step is not sent again, its journaled value is bound instead; a
``now()``, ``uuid()`` or ``env()`` returns what it returned the first time; a
``sleep`` waits only what is left of it.  Control flow depends only on inputs
and journaled values, so the resumed run walks the same path and reaches the
point where the first attempt stopped with the same frames, the same
compensation stack and the same keys (LANGUAGE.md §7).

**Keyed by position, not by order.**  Trio starts concurrent tasks in an
order it randomises on purpose, so "the third ``uuid()`` of the run" names a
different call in every attempt.  Each entry is keyed instead by where it
happened: a step by its key (call path, name, loop indices:
``checkout/charge[3]``), and a value inside any other statement by its *site*
(the call path, the statement's number in its flow, the loop indices:
``checkout/@7[2]``) and its ordinal among the values of that site.  A step
replayed counts the values its request once drew, so that the same site
evaluated again later (a ``retry`` block's next try) continues where the
first attempt's numbering did.

**Durable before it matters.**  ``record_*`` queue entries; ``flush`` writes
every queued entry of the run in one transaction and returns once it is
committed.  Concurrent flushes share one commit (group commit): whoever
flushes while a commit is in progress waits for it and then commits what has
queued since.  A step flushes its own entry before its value is used, and any
queued value (a ``uuid()`` in an idempotency key) is flushed before an unsafe
request is sent, so no request that changes something is ever sent with a
value that a resumed run could not reproduce.

**No secret in the store.**  Values are encoded by ``runtime.codec``, which
refuses secrets; a step whose value holds one is journaled without its value
and runs again on resume, and ``secret()`` is never journaled at all: it is
read again from the environment.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Final

import attrs
import trio

from flowc.common.errors import FlowError
from flowc.common.values import Timestamp, format_timestamp, parse_timestamp
from flowc.runtime import codec
from flowc.runtime.store.records import JournalEntry

if TYPE_CHECKING:
    from flowc.common.stdlib import Effects
    from flowc.runtime.store import AsyncStore

STEP: Final = "step"
EFFECT: Final = "effect"
SLEEP: Final = "sleep"
MARK: Final = "mark"
CONTEXT: Final = "context"
"""Handed on by whoever queued the run, keyed by name (``TRACE_PARENT``), never replayed."""
TRACE_PARENT: Final = "traceparent"

COMPLETED: Final = "completed"
FAILED: Final = "failed"
SKIPPED: Final = "skipped"
FALLBACK: Final = "fallback"

COMPENSATED_MARK: Final = "compensated"


@attrs.frozen(slots=True, kw_only=True)
class StepRecord:
    """One step's journaled outcome (after all its attempts)."""

    key: str
    flow: str
    outcome: str  # completed | failed | skipped | fallback
    attempts: int
    status: int = 0
    value: Any = None
    """The step value record (None for a failed step, or when ``withheld``)."""
    error: dict[str, object] | None = None
    started: float = 0.0
    finished: float = 0.0
    withheld: bool = False
    """The value held a secret and was not stored: the step runs again on resume."""

    @property
    def ok(self) -> bool:
        return self.outcome == COMPLETED

    def to_json(self) -> str:
        value: Any = None
        withheld = self.withheld
        if self.value is not None and not withheld:
            try:
                value = codec.to_plain(self.value)
            except codec.SecretValue:
                withheld = True
        return json.dumps(
            {
                "flow": self.flow,
                "outcome": self.outcome,
                "attempts": self.attempts,
                "status": self.status,
                "value": value,
                "error": self.error,
                "started": self.started,
                "finished": self.finished,
                "withheld": withheld,
            },
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        )

    @classmethod
    def from_json(cls, key: str, text: str) -> StepRecord:
        data = codec.decode(text)  # the record's own fields hold no tags
        return cls(
            key=key,
            flow=data["flow"],
            outcome=data["outcome"],
            attempts=data["attempts"],
            status=data.get("status", 0),
            value=data["value"],
            error=data.get("error"),
            started=data.get("started", 0.0),
            finished=data.get("finished", 0.0),
            withheld=data.get("withheld", False),
        )


def error_from_record(record: dict[str, object]) -> FlowError:
    """The ``FlowError`` a journaled failure raises again when it is replayed."""
    return codec.error_from_plain(record)


class RunJournal:
    """One run's journal: replays what the store holds, records what happens."""

    def __init__(
        self, run_id: str, store: AsyncStore | None = None, entries: Iterable[JournalEntry] = ()
    ) -> None:
        self.run_id = run_id
        self.store = store
        self.durable = store is not None
        self._steps: dict[str, str] = {}
        self._values: dict[tuple[str, int], str] = {}
        self._sleeps: dict[tuple[str, int], float] = {}
        self.marks: set[str] = set()
        self.context: dict[str, str] = {}
        """What the run's starter handed on (``TRACE_PARENT``: its trace context)."""
        for entry in entries:
            self._load(entry)
        self._counters: dict[str, int] = {}
        self._pending: list[JournalEntry] = []
        self._queued = 0
        self._committed = 0
        self._commit: trio.Event | None = None

    def _load(self, entry: JournalEntry) -> None:
        if entry.kind == STEP:
            self._steps[entry.key] = entry.data
        elif entry.kind == EFFECT:
            self._values[(entry.key, entry.ordinal)] = entry.data
        elif entry.kind == SLEEP:
            self._sleeps[(entry.key, entry.ordinal)] = float(entry.data)
        elif entry.kind == MARK:
            self.marks.add(entry.key)
        elif entry.kind == CONTEXT:
            self.context[entry.key] = entry.data

    @property
    def replayable(self) -> int:
        """How many journaled steps are still to be replayed."""
        return len(self._steps)

    # ------------------------------------------------------------ steps

    def replay_step(self, key: str) -> StepRecord | None:
        """The journaled outcome of the step at ``key`` (each is asked once per attempt)."""
        text = self._steps.pop(key, None)  # what is replayed need not be kept
        if text is None:
            return None
        record = StepRecord.from_json(key, text)
        return None if record.withheld else record

    def record_step(self, record: StepRecord) -> None:
        if self.durable:
            self._queue(JournalEntry(STEP, record.key, 0, record.to_json()))

    # ------------------------------------------------------------ values

    def value(self, site: str, produce: Callable[[], str]) -> str:
        """The next value of ``site``: journaled, or produced now and recorded."""
        ordinal = self._counters.get(site, 0)
        self._counters[site] = ordinal + 1
        stored = self._values.pop((site, ordinal), None)  # each position is asked once
        if stored is not None:
            return stored
        value = produce()
        if self.durable:
            self._queue(JournalEntry(EFFECT, site, ordinal, value))
        return value

    def replay_value(self, site: str) -> str | None:
        """The journaled value at ``site``'s next position, if any (``record_value``
        records one there when there is none; the two calls pair up)."""
        ordinal = self._counters.get(site, 0)
        stored = self._values.pop((site, ordinal), None)
        if stored is not None:
            self._counters[site] = ordinal + 1
        return stored

    def record_value(self, site: str, value: str) -> None:
        """Record ``value`` at ``site``'s next position and move past it."""
        ordinal = self._counters.get(site, 0)
        self._counters[site] = ordinal + 1
        if self.durable:
            self._queue(JournalEntry(EFFECT, site, ordinal, value))

    def wake_time(self, site: str, asked: Callable[[], float]) -> float:
        """When the next ``sleep`` of ``site`` ends: journaled, or now + its length."""
        ordinal = self._counters.get(site, 0)
        self._counters[site] = ordinal + 1
        stored = self._sleeps.pop((site, ordinal), None)
        if stored is not None:
            return stored
        wake = asked()
        if self.durable:
            self._queue(JournalEntry(SLEEP, site, ordinal, repr(wake)))
        return wake

    def forget_site(self, site: str) -> None:
        """Drop the ordinals of ``site``, whose node has finished (memory stays flat)."""
        self._counters.pop(site, None)

    def mark(self, name: str) -> None:
        self.marks.add(name)
        if self.durable:
            self._queue(JournalEntry(MARK, name, 0, "{}"))

    # ------------------------------------------------------------ durability

    def _queue(self, entry: JournalEntry) -> None:
        self._pending.append(entry)
        self._queued += 1

    @property
    def unflushed(self) -> bool:
        return self._committed < self._queued

    async def flush(self) -> None:
        """Return once everything recorded so far is committed (group commit)."""
        target = self._queued
        while self._committed < target:
            if self._commit is not None:
                await self._commit.wait()
                continue
            batch, self._pending = self._pending, []
            upto = self._queued
            commit = self._commit = trio.Event()
            try:
                assert self.store is not None
                await self.store.append(self.run_id, batch)
            except BaseException:
                self._pending[:0] = batch  # not written: the next flush tries again
                raise
            finally:
                self._commit = None
                commit.set()
            self._committed = upto


# --------------------------------------------------------------------------- effects

CURRENT_SITE: ContextVar[str] = ContextVar("flowc_site", default="@run")
"""The site key of the statement being evaluated in this task (durable runs only)."""


class JournalingEffects:
    """``now()``, ``uuid()`` and ``env()`` answered from the journal, keyed by site.

    ``secret()`` is passed through: secrets are never journaled.
    """

    def __init__(self, journal: RunJournal, base: Effects) -> None:
        self.journal = journal
        self.base = base

    def now(self) -> Timestamp:
        text = self.journal.value(CURRENT_SITE.get(), lambda: format_timestamp(self.base.now()))
        return parse_timestamp(text)

    def uuid(self) -> str:
        return self.journal.value(CURRENT_SITE.get(), self.base.uuid)

    def getenv(self, name: str) -> str | None:
        text = self.journal.value(CURRENT_SITE.get(), lambda: json.dumps(self.base.getenv(name)))
        value = json.loads(text)
        return value if isinstance(value, str) else None

    def getsecret(self, name: str) -> str | None:
        return self.base.getsecret(name)
