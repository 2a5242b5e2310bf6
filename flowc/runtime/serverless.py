"""Running a Serverless Workflow 1.0 document: an interpreter over its checked data.

``compiler/definitions/serverless.py`` has validated the document against the
specification's schema and checked it statically; this module runs its plain data
(``Runner.run``), task by task, as the specification's data flow says:

* a task list is a small state machine: after a task, its ``then`` (a task name of
  the same list, forward or backward, or ``continue``/``exit``/``end``) picks the
  next one, by default the following; ``MAX_TRANSITIONS`` bounds a list that jumps
  back forever;
* around every task: ``if`` (skip), ``input.from`` (its ``$input``), the task,
  ``output.as``, ``export.as`` (the new ``$context``), ``timeout``; the transformed
  output is the next task's input;
* tasks: ``do``, ``set``, ``call: http`` (``serverless_http.py``), ``for`` (with
  ``while``), ``fork`` (branches concurrently in a trio nursery; ``compete`` keeps
  the first to finish and cancels the others), ``switch``, ``try``/``catch`` (error
  filters ``with``, ``when``, ``exceptWhen``; ``retry`` with delay, backoff and
  attempt limit), ``raise`` (RFC 7807 errors, inline or from ``use.errors``),
  ``wait``;
* errors are ``Fault``\\ s carrying the problem object, whose ``instance`` is the
  JSON pointer of the task (``/do/0/tryGetPet/try/0/getPet``).

The jq expressions are evaluated by ``serverless_values.Evaluator`` (bounded,
sandboxed).  Secrets are the environment variables that ``use.secrets`` names;
their texts go to the run's ``Redactor`` so that error texts leave scrubbed.
"""

from __future__ import annotations

import datetime
import os
import time
import uuid
from typing import Any, Final

import trio

from flowc.runtime.http import HttpInvoker
from flowc.runtime.redaction import Redactor
from flowc.runtime.serverless_http import call_http
from flowc.runtime.serverless_values import Evaluator, Fault, fault, seconds, truthy

MAX_TRANSITIONS: Final = 100_000
RUNTIME: Final = {"name": "flowc", "version": "0", "metadata": {}}


class _End(Exception):
    """``then: end``: the workflow ends with ``output``."""

    def __init__(self, output: Any) -> None:
        super().__init__("end")
        self.output = output


def _moment() -> dict[str, Any]:
    now = time.time()
    iso = datetime.datetime.fromtimestamp(now, datetime.UTC).isoformat().replace("+00:00", "Z")
    return {"iso8601": iso, "epoch": {"seconds": int(now), "milliseconds": int(now * 1000)}}


class Runner:
    """One run of a workflow definition (plain data)."""

    def __init__(
        self,
        definition: dict[str, Any],
        http: HttpInvoker,
        *,
        redactor: Redactor | None = None,
        environ: dict[str, str] | None = None,
        trace: list[str] | None = None,
    ) -> None:
        self.definition = definition
        self.http = http
        self.redactor = redactor or Redactor()
        self.use: dict[str, Any] = definition.get("use") or {}
        environ = dict(os.environ) if environ is None else environ
        names = self.use.get("secrets") or []
        secrets = {name: environ[name] for name in names if name in environ}
        for value in secrets.values():
            self.redactor.add(value)
        self.evaluator = Evaluator(secrets=secrets)
        self.context: Any = {}
        self.workflow: dict[str, Any] = {}
        self.trace = trace if trace is not None else []
        """The names of the tasks as they start, in order (the CTK's "ran first")."""

    def arguments(self, task: dict[str, Any] | None, data: Any) -> dict[str, Any]:
        return {
            "context": self.context,
            "input": data,
            "task": task,
            "workflow": self.workflow,
            "runtime": RUNTIME,
        }

    async def run(self, raw_input: Any) -> Any:
        """The workflow's output, or a ``Fault``."""
        self.workflow = {
            "id": str(uuid.uuid4()),
            "definition": self.definition,
            "input": raw_input,
            "startedAt": _moment(),
        }
        spec_input = self.definition.get("input") or {}
        data = raw_input
        if "from" in spec_input:
            data = await self.evaluator.expression(
                spec_input["from"], data, self.arguments(None, None), {}, "/input/from"
            )
        limit = _timeout(self.definition.get("timeout"), self.use)
        with trio.move_on_after(limit if limit is not None else float("inf")) as scope:
            try:
                data = await self.task_list(self.definition.get("do") or [], data, "/do", {})
            except _End as end:
                data = end.output
        if scope.cancelled_caught:
            raise fault("timeout", 408, "Workflow Timeout", "/")
        spec_output = self.definition.get("output") or {}
        if "as" in spec_output:
            arguments = self.arguments(None, None)
            data = await self.evaluator.expression(
                spec_output["as"], data, arguments, {}, "/output/as"
            )
        return data

    async def task_list(self, tasks: list[Any], data: Any, path: str, scope: dict[str, Any]) -> Any:
        names = {next(iter(item)): index for index, item in enumerate(tasks)}
        index, transitions = 0, 0
        while index < len(tasks):
            transitions += 1
            if transitions > MAX_TRANSITIONS:
                detail = f"more than {MAX_TRANSITIONS} transitions in one task list"
                raise fault("runtime", 500, "Runaway Flow", path, detail)
            name, body = next(iter(tasks[index].items()))
            data, directive = await self.task(name, body, data, f"{path}/{index}/{name}", scope)
            if directive in (None, "continue"):
                index += 1
            elif directive == "exit":
                return data
            elif directive == "end":
                raise _End(data)
            else:
                index = names[directive]
        return data

    async def task(
        self, name: str, body: dict[str, Any], data: Any, path: str, scope: dict[str, Any]
    ) -> tuple[Any, str | None]:
        """Run one task on its raw input; its transformed output and flow directive."""
        descriptor = {"name": name, "reference": path, "definition": body, "input": data}
        descriptor["startedAt"] = _moment()
        ev = self.evaluator
        if "if" in body:
            condition = await ev.expression(
                body["if"], data, self.arguments(descriptor, None), scope, path
            )
            if not truthy(condition):
                return data, None
        self.trace.append(name)
        task_input = data
        spec_input = body.get("input") or {}
        if "from" in spec_input:
            arguments = self.arguments(descriptor, None)
            task_input = await ev.expression(spec_input["from"], data, arguments, scope, path)
        limit = _timeout(body.get("timeout"), self.use)
        with trio.move_on_after(limit if limit is not None else float("inf")) as timer:
            output, directive = await self.kind(body, task_input, descriptor, path, scope)
        if timer.cancelled_caught:
            raise fault("timeout", 408, "Task Timeout", path)
        descriptor["output"] = output
        arguments = self.arguments(descriptor, task_input)
        spec_output = body.get("output") or {}
        if "as" in spec_output:
            output = await ev.expression(spec_output["as"], output, arguments, scope, path)
        export = body.get("export") or {}
        if "as" in export:
            arguments = {**arguments, "output": output}
            self.context = await ev.expression(export["as"], output, arguments, scope, path)
        return output, directive or body.get("then")

    async def kind(
        self,
        body: dict[str, Any],
        data: Any,
        descriptor: dict[str, Any],
        path: str,
        scope: dict[str, Any],
    ) -> tuple[Any, str | None]:
        from flowc.runtime import serverless_tasks as tasks

        arguments = self.arguments(descriptor, data)
        if "for" in body:
            return await tasks.for_task(self, body, data, arguments, path, scope), None
        if "try" in body:
            return await tasks.try_task(self, body, data, arguments, path, scope), None
        if "fork" in body:
            return await tasks.fork_task(self, body["fork"], data, path, scope), None
        if "switch" in body:
            return await tasks.switch_task(self, body["switch"], data, arguments, path, scope)
        if "do" in body:
            return await self.task_list(body["do"], data, f"{path}/do", scope), None
        if "set" in body:
            return await self.evaluator.template(body["set"], data, arguments, scope, path), None
        if "call" in body:
            with_ = await self.evaluator.template(
                body.get("with") or {}, data, arguments, scope, path
            )
            return await call_http(self.http, with_, data, self.use, self.redactor, path), None
        if "raise" in body:
            raise await tasks.raised(self, body["raise"], data, arguments, path, scope)
        if "wait" in body:
            await trio.sleep(seconds(body["wait"]))
            return data, None
        raise fault("runtime", 501, "Unsupported Task", path)


async def run_workflow(
    definition: dict[str, Any],
    raw_input: Any,
    *,
    resolve: Any = None,
    redactor: Redactor | None = None,
    environ: dict[str, str] | None = None,
    trace: list[str] | None = None,
) -> Any:
    """Run a checked definition with its own HTTP invoker; its output or a ``Fault``."""
    async with HttpInvoker(resolve=resolve) as http:
        runner = Runner(definition, http, redactor=redactor, environ=environ, trace=trace)
        return await runner.run(raw_input)


def _timeout(spec: Any, use: dict[str, Any]) -> float | None:
    if isinstance(spec, str):
        spec = (use.get("timeouts") or {}).get(spec)
    if isinstance(spec, dict) and "after" in spec:
        return seconds(spec["after"])
    return None


__all__ = ["Fault", "Runner", "run_workflow"]
