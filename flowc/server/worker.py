"""Claiming queued runs from the store and executing them under a lease.

A ``Worker`` runs in ``flowc worker`` (PostgreSQL, any number of processes on
any machines) and inside ``flowc serve`` (its own runs, on SQLite or with
``--worker``).  Its loop:

1. *Claim* up to as many runs as it has free slots (``Store.claim_runs``:
   queued runs of the flows it knows, and runs whose worker's lease expired),
   then wait until something changes: a ``NOTIFY`` from the database
   (``wakeup.py``), a local start (``wake``), a slot freed, or ``poll`` seconds
   (which is how expired leases are found).
2. *Execute* each claimed run with ``Engine.resume``: a queued run starts, a
   taken-over run continues from its journal, with its completed steps replayed.
3. *Renew* every lease each ``lease / 3`` seconds.  A run whose lease is gone
   (this process stalled, or lost the database for longer than the lease) is
   cancelled here without its compensations, because another worker owns it
   now; the store's fence (``PostgresStore(fence=owner)``) refuses every write
   it might still attempt, so two workers never both complete a run.  A run
   someone cancelled (``cancel_requested``) is cancelled with its
   compensations.
4. *Drain* (``stop``, SIGTERM): no more claims; in-flight runs get ``grace``
   seconds to finish; the rest are cancelled without compensations and handed
   back to the queue (``requeue_run``), for another worker to continue.

A store error while claiming or renewing is retried with backoff (0.1 s
doubling to 5 s) for as long as it takes: a worker never gives up on the
queue, and a run is never dropped because recovery hit an error, since an
unfinished run stays claimable until some worker completes it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import trio

from flowc.common.errors import FlowError
from flowc.runtime.engine import Engine, RunRefused
from flowc.runtime.journal import CONTEXT, TRACE_PARENT
from flowc.runtime.store import AsyncStore, JournalEntry, LeaseLost, StoreError
from flowc.server import messages
from flowc.server.catalog import Catalog

Say = Callable[[str], None]


def say_stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Worker:
    def __init__(
        self,
        engine: Engine,
        catalog: Catalog,
        *,
        concurrency: int = 100,
        lease: float = 15.0,
        poll: float = 1.0,
        grace: float = 30.0,
        say: Say = say_stderr,
    ) -> None:
        assert engine.store is not None
        self.engine = engine
        self.store: AsyncStore = engine.store
        self.catalog = catalog
        self.concurrency = concurrency
        self.lease = lease
        self.poll = poll
        self.grace = grace
        self.say = say
        self.owner = engine.owner
        self.secrets: dict[str, dict[str, Any]] = {}
        self.contexts: dict[str, str] = {}
        """Trace contexts a fenced store refused from the server, written once claimed."""
        """Secret inputs of runs this process accepted (they are never stored)."""
        self.active: dict[str, trio.CancelScope] = {}
        self.executed = 0
        self._waiters: dict[str, tuple[trio.Event, int]] = {}
        """Per run: the event set when this worker's execution of it ends, and how many
        requests wait for it (`waiter` counts up, `forget_waiter` down)."""
        self._wakeup = trio.Event()
        self._stopping = False
        self._stopped = trio.Event()

    def wake(self) -> None:
        self._wakeup.set()

    def waiter(self, run_id: str) -> trio.Event:
        """An event set when this worker's execution of ``run_id`` ends; the caller
        gives it back with `forget_waiter` when it stops waiting."""
        known = self._waiters.get(run_id)
        event, count = known if known is not None else (trio.Event(), 0)
        self._waiters[run_id] = (event, count + 1)
        return event

    def forget_waiter(self, run_id: str) -> None:
        """One waiter of ``run_id`` stopped waiting: the last one removes the entry, so a
        run some other process executes leaves nothing behind here."""
        known = self._waiters.get(run_id)
        if known is None:
            return
        event, count = known
        if count <= 1:
            del self._waiters[run_id]
        else:
            self._waiters[run_id] = (event, count - 1)

    @property
    def waiting(self) -> int:
        """Runs some request waits for (for tests and statistics)."""
        return len(self._waiters)

    def cancel_local(self, run_id: str, *, compensate: bool = True) -> bool:
        """Cancel a run this worker executes; whether it does."""
        scope = self.active.get(run_id)
        if scope is None:
            return False
        if not compensate:
            for run in list(self.engine.active):
                if run.run_id == run_id:
                    run.abort_compensations()
        scope.cancel()
        return True

    @property
    def stopped(self) -> trio.Event:
        return self._stopped

    def stop(self) -> None:
        self._stopping = True
        self.wake()

    # ------------------------------------------------------------ the loops

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._renew_loop)
            task_status.started()
            await self._claim_loop(nursery)
            await self._drain()
            nursery.cancel_scope.cancel()
        self._stopped.set()

    async def _claim_loop(self, nursery: trio.Nursery) -> None:
        delay = 0.1
        flows = self.catalog.names
        while not self._stopping:
            self._wakeup = trio.Event()
            free = self.concurrency - len(self.active)
            claimed = []
            if free > 0:
                try:
                    claimed = await self.store.claim_runs(self.owner, flows, free, self.lease)
                    delay = 0.1
                except StoreError as error:
                    self.say(messages.WORKER_STORE_RETRY.format(reason=error, delay=delay))
                    await trio.sleep(delay)
                    delay = min(delay * 2, 5.0)
                    continue
                for record in claimed:
                    scope = trio.CancelScope()
                    self.active[record.id] = scope
                    nursery.start_soon(self._execute, record.id, record.flow, scope)
            if claimed and len(claimed) == free:
                continue  # there may be more, and no slot to wait for
            if self._stopping:
                break
            with trio.move_on_after(self.poll):
                await self._wakeup.wait()

    async def _execute(self, run_id: str, flow: str, scope: trio.CancelScope) -> None:
        offered = self.catalog.get(flow)
        try:
            with scope:
                if offered is None:
                    return
                await self._hand_on_context(run_id)
                await self.engine.resume(
                    run_id, program=offered.program, inputs=self.secrets.get(run_id, {})
                )
        except FlowError:
            pass  # the store holds the failure; the run ended
        except LeaseLost:
            self.say(messages.WORKER_LEASE_LOST.format(run_id=run_id))
        except RunRefused as refusal:
            self.say(messages.WORKER_REFUSED.format(run_id=run_id, reason=refusal))
        except StoreError as error:
            self.say(messages.WORKER_STORE_RETRY.format(reason=error, delay=self.lease))
        finally:
            self.active.pop(run_id, None)
            self.secrets.pop(run_id, None)
            self.contexts.pop(run_id, None)
            waiting = self._waiters.pop(run_id, None)
            if waiting is not None:
                waiting[0].set()
            self.executed += 1
            self.wake()

    async def _hand_on_context(self, run_id: str) -> None:
        """Keep the caller's trace context with a run this worker now holds the lease of."""
        trace_parent = self.contexts.pop(run_id, None)
        if trace_parent is not None:
            entry = JournalEntry(CONTEXT, TRACE_PARENT, 0, trace_parent)
            await self.store.append(run_id, [entry])

    async def _renew_loop(self) -> None:
        while True:
            await trio.sleep(self.lease / 3)
            held_ids = list(self.active)
            if not held_ids:
                continue
            try:
                claim = await self.store.renew_leases(self.owner, held_ids, self.lease)
            except StoreError as error:
                self.say(messages.WORKER_STORE_RETRY.format(reason=error, delay=self.lease / 3))
                continue
            for run_id in held_ids:
                if run_id not in self.active:
                    continue  # it ended meanwhile
                if run_id not in claim.held:
                    self.say(messages.WORKER_LEASE_LOST.format(run_id=run_id))
                    self.cancel_local(run_id, compensate=False)
                elif run_id in claim.cancelled:
                    self.cancel_local(run_id)

    async def _drain(self) -> None:
        if not self.active:
            return
        self.say(messages.WORKER_DRAINING.format(count=len(self.active), grace=self.grace))
        with trio.move_on_after(self.grace):
            while self.active:
                await trio.sleep(0.05)
        left = list(self.active)
        for run_id in left:
            self.cancel_local(run_id, compensate=False)
        with trio.move_on_after(10), trio.CancelScope(shield=True):
            while self.active:
                await trio.sleep(0.02)
            for run_id in left:
                try:
                    if await self.store.requeue_run(run_id, _now()):
                        self.say(messages.WORKER_HANDED_BACK.format(run_id=run_id))
                except StoreError:
                    pass  # its lease expires instead, and another worker takes it


def _now() -> float:
    import time

    return time.time()
