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
========  =======================  ==========  =================================

Values inside ``data`` are encoded with ``runtime.codec`` (exact types, never
a secret).  Times are seconds since the epoch as floats.
"""

from __future__ import annotations

import enum
import json
from typing import Any, Final

import attrs


class RunStatus(enum.StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"


ENDED = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.INTERRUPTED})


class StoreError(Exception):
    """The store cannot be opened, read or written (one clear line for the user)."""


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

    @property
    def ended(self) -> bool:
        return self.status in ENDED


@attrs.frozen(slots=True)
class JournalEntry:
    kind: str
    key: str
    ordinal: int
    data: str


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
    "created_at, updated_at, attempt, result, error, owner, compensated"
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
    )
