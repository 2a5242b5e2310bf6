"""``wait signal``: a run waits for a named message from outside.

A signal is delivered to the run store (``POST /v1/runs/{id}/signals/{name}``
or ``flowc signal``) whether or not the run waits for it yet; the store keeps
every signal of a run in order of arrival.  A ``wait signal "name"`` takes the
oldest signal of that name that no earlier wait of the run has taken, so a
signal sent before the wait is not lost and two waits never take the same one.

Waiting is polling: the store is read, and if nothing fits, read again after
an interval that doubles from ``FIRST_POLL`` up to ``MAX_POLL`` (bounded, so a
signal is noticed within a second however long the wait).  Polling works the
same for ``flowc run`` (a second shell's ``flowc signal``) and for a server's
worker, with no channel between the sender and the run.

Durability: the deadline is journaled like a ``sleep``'s wake-up time, so a
resumed run keeps the original deadline; the signal taken is journaled (its
sequence number as a mark, its payload as the site's value) before it is used,
so a resumed run replays the payload and does not wait again.

The payload is JSON; it is validated against the declared type when taken.
A payload that does not fit fails the wait with a ``decode`` error naming the
path that is wrong (``try`` can catch it); the signal stays taken, so a resumed
run fails the same way.  No signal by the deadline raises ``timeout``.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Final

import trio

from flowc.common import errors
from flowc.common.errors import FlowError
from flowc.compiler import ir
from flowc.runtime import messages
from flowc.runtime.decode import DecodeError, validate
from flowc.runtime.journal import CURRENT_SITE, RunJournal
from flowc.runtime.policies import seconds_of
from flowc.runtime.store.records import SignalRecord

if TYPE_CHECKING:
    from flowc.runtime.executor import FlowInvocation

FIRST_POLL: Final = 0.02
MAX_POLL: Final = 1.0
"""Seconds between reads of the store while a run waits (doubling, bounded)."""


def taken_mark(sequence: int) -> str:
    """The journal mark that says this run's signal ``sequence`` was taken."""
    return f"signal:{sequence}"


async def wait_signal(invocation: FlowInvocation, node: ir.WaitSignalNode, frame: list[Any]) -> Any:
    """The payload of the next signal ``node.signal`` (validated), or a FlowError."""
    run = invocation.run
    journal = run.journal
    what = invocation.flow.name
    if not run.durable:
        raise FlowError(
            errors.EVAL,
            messages.WAIT_NEEDS_STORE.format(signal=node.signal),
            span=node.span,
            flow=what,
        )
    length = max(seconds_of(invocation.evaluate(node.timeout, frame), "a wait's `timeout`"), 0.0)
    site = CURRENT_SITE.get()
    deadline = journal.wake_time(site, lambda: time.time() + length)
    text = journal.replay_value(site)
    if text is None:
        text = await _take(journal, run.run_id, node, site, deadline, length, what)
    record = json.loads(text)
    try:
        return validate(record["payload"], node.payload)
    except DecodeError as error:
        message = messages.WAIT_BAD_PAYLOAD.format(
            signal=node.signal, sequence=record["sequence"], type=node.payload, problem=error
        )
        raise FlowError(errors.DECODE, message, span=node.span, flow=what) from None


async def _take(
    journal: RunJournal,
    run_id: str,
    node: ir.WaitSignalNode,
    site: str,
    deadline: float,
    length: float,
    flow: str,
) -> str:
    """Poll the store until a signal fits; journal it as taken and return it."""
    store = journal.store
    assert store is not None
    interval = FIRST_POLL
    while True:
        found = _first_untaken(await store.signals(run_id), node.signal, journal.marks)
        if found is not None:
            payload = json.loads(found.payload)
            text = json.dumps({"sequence": found.sequence, "payload": payload})
            journal.mark(taken_mark(found.sequence))
            journal.record_value(site, text)
            await journal.flush()
            return text
        left = deadline - time.time()
        if left <= 0:
            message = messages.WAIT_TIMED_OUT.format(signal=node.signal, seconds=length)
            raise FlowError(errors.TIMEOUT, message, span=node.span, flow=flow)
        await trio.sleep(min(interval, left))
        interval = min(interval * 2, MAX_POLL)


def _first_untaken(signals: list[SignalRecord], name: str, marks: set[str]) -> SignalRecord | None:
    for signal in signals:
        if signal.name == name and taken_mark(signal.sequence) not in marks:
            return signal
    return None
