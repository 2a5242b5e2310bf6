"""What the run store holds: run records and journal entries.

A *run record* is one row per run: its id, its flow, where its program came
from and the digests that tell whether that program changed, its inputs, its
status, and, once it has ended, its result or its error.  The *journal* is the
run's history, one entry per position: each entry is keyed by its ``kind``,
its ``key`` and an ``ordinal``, and a later entry for the same position
replaces the earlier one.

========  =======================  ==========  =================================
kind      key                      ordinal     data (JSON)
========  =======================  ==========  =================================
step      the step key             0           outcome, attempts, value or error,
          (``checkout/charge[3]``)             timings, effects it consumed
effect    the site key             n-th value  the encoded value of ``now()``,
          (``@7[2]``, or a step                ``uuid()`` or ``env()``
          key)
sleep     the site key             n-th sleep  the wake-up time (epoch seconds)
mark      what happened            0           e.g. ``compensated``
context   a name (``traceparent``) 0           what the run's starter handed on:
                                               its W3C trace context (``serve``)
========  =======================  ==========  =================================

A run that is *queued* (``flowc serve`` accepted it, no process executes it
yet) waits for a worker to claim it.  A claim writes the worker's identity in
``owner`` and a lease deadline in ``lease_until``; the worker renews it while
it executes the run, and a store opened with a *fence* (``PostgresStore(...,
fence=owner)``) refuses every write to a run whose lease that owner no longer
holds (``LeaseLost``), so a worker that was presumed dead cannot complete a run
that another worker took over.  ``cancel_requested`` asks the run's worker to
cancel it (it learns so when it renews the lease).  *Signals* are kept per run,
numbered in the order they arrived, whether or not the run waits for them yet.

Values inside ``data`` are encoded with ``runtime.codec`` (exact types, never
a secret).  Times are seconds since the epoch as floats.
"""

from __future__ import annotations

import enum
import json
from typing import Any, Final

import attrs


class RunStatus(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


ENDED = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.INTERRUPTED})


class StoreError(Exception):
    """The store cannot be opened, read or written (one clear line for the user)."""


class LeaseLost(StoreError):
    """A fenced write to a run whose lease this process no longer holds."""


@attrs.frozen(kw_only=True)
class RunRecord:
    id: str
    flow: str
    status: str
    source: str
    """The root file of the program, as an absolute path (or ``<input>`` for source text)."""
    program_digest: str
    flow_digests: dict[str, str]
    """A digest per top-level declaration (``flow f``, ``service s``, ...)."""
    inputs: str
    """The encoded inputs, without the secret ones (``withheld_inputs`` names them)."""
    withheld_inputs: tuple[str, ...] = ()
    created_at: float
    updated_at: float
    attempt: int = 1
    result: str | None = None
    error: str | None = None
    """JSON: the error record plus its one-line description (``describe``)."""
    owner: str | None = None
    """Who executes the run now: ``host:pid:process start``."""
    compensated: bool = False
    """Compensations ran (a failed or interrupted saga undid its steps)."""
    lease_until: float | None = None
    """Until when ``owner`` holds the run (a worker's lease), epoch seconds."""
    cancel_requested: bool = False
    """Someone asked for the run to be cancelled; its worker does so."""

    @property
    def ended(self) -> bool:
        return self.status in ENDED


@attrs.frozen(slots=True)
class JournalEntry:
    kind: str
    key: str
    ordinal: int
    data: str


@attrs.frozen(slots=True)
class SignalRecord:
    """A signal delivered to a run: its name, its JSON payload, its order of arrival."""

    run_id: str
    name: str
    sequence: int
    payload: str
    delivered_at: float


@attrs.frozen(slots=True)
class Claim:
    """What a worker learns when it renews its leases."""

    held: frozenset[str]
    """The runs whose lease it still holds."""
    cancelled: frozenset[str]
    """Of those, the ones someone asked to cancel."""


@attrs.frozen(kw_only=True)
class RunQuery:
    """Which runs ``list_runs`` returns: newest first, ``limit`` of them."""

    flow: str | None = None
    status: str | None = None
    since: float | None = None
    until: float | None = None
    before: tuple[float, str] | None = None
    """A cursor: only runs created before (created_at, id)."""
    limit: int = 50


COLUMNS: Final = (
    "id, flow, status, source, program_digest, flow_digests, inputs, withheld_inputs, "
    "created_at, updated_at, attempt, result, error, owner, compensated, lease_until, "
    "cancel_requested"
)
"""The columns of the ``runs`` table, in the order of ``record_row``."""


def record_row(record: RunRecord) -> tuple[Any, ...]:
    """A run record as the values of ``COLUMNS``."""
    return (
        record.id,
        record.flow,
        record.status,
        record.source,
        record.program_digest,
        json.dumps(record.flow_digests, sort_keys=True),
        record.inputs,
        json.dumps(list(record.withheld_inputs)),
        record.created_at,
        record.updated_at,
        record.attempt,
        record.result,
        record.error,
        record.owner,
        record.compensated,
        record.lease_until,
        record.cancel_requested,
    )


def record_from_row(row: tuple[Any, ...]) -> RunRecord:
    """The run record of a row of ``COLUMNS``."""
    return RunRecord(
        id=row[0],
        flow=row[1],
        status=row[2],
        source=row[3],
        program_digest=row[4],
        flow_digests=json.loads(row[5]),
        inputs=row[6],
        withheld_inputs=tuple(json.loads(row[7])),
        created_at=float(row[8]),
        updated_at=float(row[9]),
        attempt=int(row[10]),
        result=row[11],
        error=row[12],
        owner=row[13],
        compensated=bool(row[14]),
        lease_until=None if row[15] is None else float(row[15]),
        cancel_requested=bool(row[16]),
    )


COLUMN_COUNT: Final = len(COLUMNS.split(","))
