"""The engine: what outlives one run, shared by every run of a process.

An ``Engine`` owns the HTTP invoker and its connection pool, the gRPC invoker and
its channels (made when a step first calls a gRPC service), the per-service
policy state (circuit breakers, rate and concurrency limits: ``services.py``),
the run store, and the engine-wide instrumentation hooks.  Runs come and go
through it::

    async with Engine(store=open_store("sqlite:///runs.db")) as engine:
        result = await engine.run(program, "checkout", {"order": 42})
        result = await engine.resume(run_id)

**Starting.**  ``run`` validates nothing itself (the API and the commands
have checked the inputs against the flow's parameters before anything is
sent), creates the run record — its id, flow, program identity, encoded
inputs — and executes the flow.  A ``run_id`` that the store already holds
makes the start idempotent, as Temporal's workflow ids do: a completed run
returns its stored result without sending anything, a failed one raises its
stored error again, and an unfinished one is resumed.

**Resuming.**  ``resume`` continues a crashed or interrupted run from its
journal, and re-executes a failed run from its failing step, keeping every
completed one (Step Functions calls that a redrive).  It refuses, with a
clear ``RunRefused``, when the program's code changed since the run started
(unless ``force``), when the run is still being executed by a live process,
and when the run's compensations already ran (its completed steps were
undone; replaying them as done would be a lie).  Secret inputs are never
stored: a resume must be given them again.

**Secrets.**  A run's ``Redactor`` (``redaction.py``; the caller may pass
its own, to scrub what it prints) learns every secret input and every
``secret()`` read; a result that would reveal one is returned but never
stored.

**Without a store** (``store=None``) runs are ephemeral: nothing is recorded,
nothing can be resumed, and a run costs nothing extra.
"""

from __future__ import annotations

import functools
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import attrs
import trio

from flowc.common.errors import FlowError
from flowc.common.values import Secret
from flowc.compiler import ir
from flowc.compiler.identity import changed_declarations
from flowc.runtime import codec
from flowc.runtime import hooks as events
from flowc.runtime.executor import RECURSION_LIMIT, FlowInvocation, is_cancellation
from flowc.runtime.hooks import HeaderSource, Hook, Hooks
from flowc.runtime.journal import (
    COMPENSATED_MARK,
    TRACE_PARENT,
    JournalingEffects,
    RunJournal,
    error_from_record,
)
from flowc.runtime.preemption import preempting
from flowc.runtime.programs import LoadedProgram, ProgramError, ProgramSource, load_program
from flowc.runtime.redaction import NotingEffects, Redactor
from flowc.runtime.run import LogSink, Run, WarnSink, stderr_log, stderr_warning
from flowc.runtime.services import ServiceState
from flowc.runtime.store import AsyncStore, RunRecord, RunStatus, Store, StoreError

if TYPE_CHECKING:
    from flowc.runtime.grpc import GrpcInvoker
    from flowc.runtime.http import HttpInvoker
    from flowc.runtime.resolve import HostMap


class RunRefused(Exception):
    """A run cannot be started or resumed as asked (one line for the user)."""


ProgramLoader = Callable[[str], LoadedProgram]
"""Compiles the program of a stored run again, from its root file."""


class Engine:
    def __init__(
        self,
        *,
        store: Store | AsyncStore | None = None,
        hooks: Iterable[Hook] = (),
        invoker: HttpInvoker | None = None,
        loader: ProgramLoader | None = None,
        resolve: HostMap | None = None,
        header_sources: Iterable[HeaderSource] = (),
    ) -> None:
        self.store: AsyncStore | None = (
            store if store is None or isinstance(store, AsyncStore) else AsyncStore(store)
        )
        self.hooks: list[Hook] = list(hooks)
        self.header_sources: list[HeaderSource] = list(header_sources)
        self._given_invoker = invoker
        self._resolve = resolve
        self._invoker: HttpInvoker | None = invoker
        self._opened: HttpInvoker | None = None
        self._services: dict[int, ServiceState] = {}
        self._grpc: GrpcInvoker | None = None
        self.active: set[Run] = set()
        self._loader = loader or load_program
        self.owner = process_owner()
        self.callbacks: Callable[[str, str], str] | None = None
        """(run id, signal name) -> the callback URL that delivers it (set by servers)."""

    async def __aenter__(self) -> Self:
        if sys.getrecursionlimit() < RECURSION_LIMIT:
            sys.setrecursionlimit(RECURSION_LIMIT)
        if self._given_invoker is None:
            from flowc.runtime.http import HttpInvoker

            self._opened = HttpInvoker(resolve=self._resolve)
            self._invoker = await self._opened.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        grpc, self._grpc = self._grpc, None
        if grpc is not None:
            grpc.close()
        opened, self._opened = self._opened, None
        if opened is not None:
            await opened.__aexit__(exc_type, exc_value, traceback)
            self._invoker = None

    @property
    def invoker(self) -> HttpInvoker:
        if self._invoker is None:
            raise RuntimeError("an Engine must be used as `async with Engine(...) as engine:`")
        return self._invoker

    @property
    def grpc(self) -> GrpcInvoker:
        """The gRPC invoker, made when a step first calls a gRPC service."""
        if self._grpc is None:
            from flowc.runtime.grpc import GrpcInvoker

            self._grpc = GrpcInvoker()
        return self._grpc

    def service_states(self) -> list[ServiceState]:
        """The policy state of every service a run of this engine has called."""
        return list(self._services.values())

    def service_state(self, service: ir.ServiceIR) -> ServiceState:
        state = self._services.get(id(service))
        if state is None:
            state = self._services[id(service)] = ServiceState(service)
        return state

    # ------------------------------------------------------------ starting

    async def run(
        self,
        program: LoadedProgram,
        flow: str | None = None,
        inputs: Mapping[str, Any] | None = None,
        *,
        run_id: str | None = None,
        sequential: bool = False,
        hooks: Iterable[Hook] = (),
        log: LogSink = stderr_log,
        warn: WarnSink = stderr_warning,
        started: Callable[[str], None] | None = None,
        redactor: Redactor | None = None,
    ) -> Any:
        """Run a flow of ``program``; idempotent for a known ``run_id``.

        The inputs are checked against the flow's parameters first (``InputError``,
        nothing sent).  ``started(run_id)`` is called once the run has its id.
        """
        chosen = program.flow(flow)
        prepared = program.prepare_inputs(chosen, inputs or {})
        options = RunOptions(sequential, tuple(hooks), log, redactor or Redactor(), warn)
        run_id = run_id or str(uuid.uuid4())
        if self.store is None:
            if started is not None:
                started(run_id)
            journal = RunJournal(run_id)
            return await self._execute(program.ir, chosen, prepared, journal, 1, options)
        record = _new_record(run_id, chosen.name, program.source, prepared, self.owner)
        stored, created = await self.store.create_run(record)
        if started is not None:
            started(run_id)
        if created:
            journal = RunJournal(run_id, self.store)
            return await self._tracked(program.ir, chosen, prepared, journal, 1, options)
        if stored.flow != chosen.name:
            raise RunRefused(f"run {run_id} exists and runs `{stored.flow}`, not `{chosen.name}`")
        return await self._continue(stored, program, prepared, options)

    async def resume(
        self,
        run_id: str,
        *,
        program: LoadedProgram | None = None,
        inputs: Mapping[str, Any] | None = None,
        force: bool = False,
        sequential: bool = False,
        hooks: Iterable[Hook] = (),
        log: LogSink = stderr_log,
        warn: WarnSink = stderr_warning,
        redactor: Redactor | None = None,
    ) -> Any:
        """Continue run ``run_id`` from its journal (see the module's essay)."""
        if self.store is None:
            raise RunRefused("runs without a store cannot be resumed")
        stored = await self.store.get_run(run_id)
        if stored is None:
            raise RunRefused(f"no run {run_id} in the store {self.store.url}")
        try:
            loaded = program if program is not None else self._loader(stored.source)
        except ProgramError as error:
            raise RunRefused(f"run {run_id}: {error}") from None
        flow = _flow_named(loaded.ir, stored.flow, run_id)
        given = _restore_inputs(stored, flow, inputs or {})
        options = RunOptions(sequential, tuple(hooks), log, redactor or Redactor(), warn)
        return await self._continue(stored, loaded, given, options, force=force, redrive=True)

    async def _continue(
        self,
        stored: RunRecord,
        loaded: LoadedProgram,
        inputs: Mapping[str, Any],
        options: RunOptions,
        *,
        force: bool = False,
        redrive: bool = False,
    ) -> Any:
        assert self.store is not None
        if stored.status == RunStatus.COMPLETED:
            return codec.decode(stored.result) if stored.result is not None else None
        if stored.status == RunStatus.FAILED and not redrive:
            raise _stored_failure(stored)
        program, source = loaded.ir, loaded.source
        _check_resumable(stored, source, force, self.owner)
        flow = _flow_named(program, stored.flow, stored.id)
        requeued = stored.status == RunStatus.QUEUED  # a failed run queued again keeps its error
        if stored.status == RunStatus.FAILED or (requeued and stored.error is not None):
            failed_step = str(json.loads(stored.error or "{}").get("error", {}).get("step", ""))
            if failed_step:
                await self.store.delete_entry(stored.id, "step", failed_step)
        attempt = stored.attempt + 1
        await self.store.begin_attempt(stored.id, attempt, self.owner, time.time())
        journal = RunJournal(stored.id, self.store, await self.store.journal(stored.id))
        return await self._tracked(program, flow, dict(inputs), journal, attempt, options)

    # ------------------------------------------------------------ executing

    async def _tracked(
        self,
        program: ir.ProgramIR,
        flow: ir.FlowIR,
        inputs: dict[str, Any],
        journal: RunJournal,
        attempt: int,
        options: RunOptions,
    ) -> Any:
        """Execute and keep the run record up to date with how it ended."""
        try:
            result = await self._execute(program, flow, inputs, journal, attempt, options)
        except FlowError as error:
            await self._finish(journal, RunStatus.FAILED, None, _error_json(error))
            raise
        except BaseException as error:
            if is_cancellation(error):
                await self._finish(journal, RunStatus.INTERRUPTED, None, None)
            raise
        try:
            encoded = codec.encode(result)
        except codec.SecretValue:
            encoded = None  # a secret result is returned, never stored (docs/durable-runs.md)
        if encoded is not None and options.redactor.reveals(encoded):
            encoded = None  # nor is one that echoes a secret's text
        await self._finish(journal, RunStatus.COMPLETED, encoded, None)
        return result

    async def _finish(
        self, journal: RunJournal, status: str, result: str | None, error: str | None
    ) -> None:
        assert self.store is not None
        with trio.CancelScope(shield=True):
            await journal.flush()
            await self.store.finish_run(
                journal.run_id,
                status,
                result,
                error,
                COMPENSATED_MARK in journal.marks,
                time.time(),
            )

    async def _execute(
        self,
        program: ir.ProgramIR,
        flow: ir.FlowIR,
        inputs: dict[str, Any],
        journal: RunJournal,
        attempt: int,
        options: RunOptions,
    ) -> Any:
        run = Run(
            self,
            program,
            journal.run_id,
            journal,
            Hooks([*self.hooks, *options.hooks], header_sources=self.header_sources),
            sequential=options.sequential,
            attempt=attempt,
            log=options.log,
            warn=options.warn,
            redactor=options.redactor,
        )
        self.active.add(run)
        try:
            return await execute_run(run, flow, inputs)
        finally:
            self.active.discard(run)

    def abort_compensations(self) -> None:
        """Stop the compensations every active run is running (a second interrupt)."""
        for run in list(self.active):
            run.abort_compensations()


@attrs.frozen
class RunOptions:
    """How to execute a run (the same for a start and its resumes)."""

    sequential: bool = False
    hooks: tuple[Hook, ...] = ()
    log: LogSink = stderr_log
    redactor: Redactor = attrs.field(factory=Redactor)
    warn: WarnSink = stderr_warning


async def execute_run(run: Run, flow: ir.FlowIR, inputs: dict[str, Any]) -> Any:
    """Run the root flow of ``run``, reporting its start and its end to the hooks."""
    from flowc.common.stdlib import Effects, current_effects, use_callbacks, use_effects

    hooks = run.hooks
    if hooks.active:
        hooks.emit(
            events.RunStarted(
                run_id=run.run_id,
                flow=flow.name,
                attempt=run.attempt,
                resumed=run.journal.replayable > 0,
                trace_parent=run.journal.context.get(TRACE_PARENT, ""),
            )
        )
    root = FlowInvocation(run, flow)
    run.redactor.note(list(inputs.values()))
    effects: Effects = NotingEffects(run.redactor, current_effects())
    if run.durable:
        effects = JournalingEffects(run.journal, effects)
    try:
        mint = run.engine.callbacks
        minter = None if mint is None else functools.partial(mint, run.run_id)
        with use_effects(effects), use_callbacks(minter), preempting():
            result = await root.invoke(inputs)
    except FlowError as error:
        _run_finished(run, flow, "failed", error=error.record(), message=error.describe())
        raise
    except BaseException as error:
        if is_cancellation(error):
            _run_finished(run, flow, "interrupted")
        raise
    _run_finished(run, flow, "completed", result=result)
    return result


def _run_finished(run: Run, flow: ir.FlowIR, status: str, **fields: Any) -> None:
    if run.hooks.active:
        run.hooks.emit(
            events.RunFinished(run_id=run.run_id, flow=flow.name, status=status, **fields)
        )


# --------------------------------------------------------------------------- records


def _new_record(
    run_id: str, flow: str, source: ProgramSource, inputs: Mapping[str, Any], owner: str
) -> RunRecord:
    kept = {name: value for name, value in inputs.items() if not _holds_secret(value)}
    now = time.time()
    return RunRecord(
        id=run_id,
        flow=flow,
        status=RunStatus.RUNNING,
        source=source.path,
        program_digest=source.digest,
        flow_digests=dict(source.identity),
        inputs=codec.encode(kept),
        withheld_inputs=tuple(sorted(set(inputs) - set(kept))),
        created_at=now,
        updated_at=now,
        owner=owner,
    )


def queued_record(
    run_id: str, flow: str, source: ProgramSource, inputs: Mapping[str, Any]
) -> RunRecord:
    """The record of a run that waits in the queue for a worker (``flowc serve``)."""
    record = _new_record(run_id, flow, source, inputs, "")
    return attrs.evolve(record, status=RunStatus.QUEUED, owner=None, attempt=0)


def holds_secret(value: Any) -> bool:
    """Whether a value is or holds a secret (it is never stored)."""
    return _holds_secret(value)


def _holds_secret(value: Any) -> bool:
    try:
        codec.to_plain(value)
    except codec.SecretValue:
        return True
    return False


def _restore_inputs(stored: RunRecord, flow: ir.FlowIR, given: Mapping[str, Any]) -> dict[str, Any]:
    inputs: dict[str, Any] = dict(codec.decode(stored.inputs))
    missing = [name for name in stored.withheld_inputs if name not in given]
    if missing:
        names = ", ".join(f"`{name}`" for name in missing)
        raise RunRefused(
            f"run {stored.id} needs its secret input {names} again: secrets are never stored "
            f"(give it as when the run started, e.g. -i {missing[0]}=...)"
        )
    secret_params = {p.name for p in flow.params if "secret" in str(p.type)}
    for name in stored.withheld_inputs:
        value = given[name]
        inputs[name] = Secret(value) if name in secret_params and isinstance(value, str) else value
    return inputs


def _error_json(error: FlowError) -> str:
    return json.dumps(
        {"error": codec.error_to_plain(error), "message": error.describe(), "flow": error.flow},
        separators=(",", ":"),
    )


def _stored_failure(stored: RunRecord) -> FlowError:
    data = codec.decode(stored.error) if stored.error else {}
    failure = error_from_record(data.get("error", {}))
    failure.flow = str(data.get("flow", stored.flow))
    return failure


def _flow_named(program: ir.ProgramIR, name: str, run_id: str) -> ir.FlowIR:
    for flow in program.flows_of(program.root):
        if flow.name == name:
            return flow
    raise RunRefused(f"run {run_id} ran flow `{name}`, which the program no longer declares")


def _check_resumable(stored: RunRecord, source: ProgramSource, force: bool, owner: str) -> None:
    if stored.compensated:
        raise RunRefused(
            f"run {stored.id} is {stored.status} and its compensations already ran, so its "
            "completed steps were undone; start a new run instead"
        )
    holder = stored.owner or ""
    others = stored.status == RunStatus.RUNNING and holder not in ("", owner)
    if others and owner_alive(holder) and not force:
        raise RunRefused(
            f"run {stored.id} is still running in process {holder.split(':')[1]}; "
            "resume it once that process has ended (or with --force)"
        )
    changed = changed_declarations(stored.flow_digests, source.identity)
    if changed and not force:
        raise RunRefused(
            f"the program changed since run {stored.id} started ({', '.join(changed)}); "
            "replaying its journal against other code could repeat or skip work "
            "(resume with --force to do it anyway)"
        )


# --------------------------------------------------------------------------- processes


def process_owner() -> str:
    """``host:pid:start``: which process executes a run (``start`` tells reused pids apart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_process_start(os.getpid())}"


def owner_alive(owner: str) -> bool:
    """Whether the process ``owner`` names still runs (always True for another host)."""
    host, _, rest = owner.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname():
        return True
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    return _process_start(pid) == start and start != ""


def _process_start(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def store_error_message(error: StoreError, run_id: str | None) -> str:
    """What the CLI says when the store fails under a run."""
    if run_id is None:
        return str(error)
    return f"{error}; run {run_id} can be resumed with `flowc resume {run_id}` once it is back"
