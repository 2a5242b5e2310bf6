"""The composite tasks of a Serverless Workflow run: for, try, fork, switch, raise.

Each takes the ``Runner`` (``serverless.py``) that runs its nested task lists.

* ``for``: one pass of ``do`` per item of ``in`` (an expression), the item bound to
  ``$<each>`` (default ``$item``) and its index to ``$<at>`` (default ``$index``);
  each pass's output is the next one's input; ``while`` is checked before a pass.
* ``try``: a ``Fault`` from the ``try`` list that passes the ``catch`` filter
  (``errors.with``: every field given equals the error's; a standard type matches
  either spelling the specification uses, ``.../spec/1.0.0/errors/communication``
  and the conformance kit's ``.../dsl/errors/types/communication``; then ``when``
  and ``exceptWhen``, with the error as ``$<as>``, default ``$error``) is retried
  when ``retry`` allows (once its attempts run out, the last error propagates), else
  handled by ``catch.do`` (whose output is the task's)
  or swallowed (the task's output is its input).
* ``fork``: the branches run concurrently on the same input; the output is the
  list of their outputs, or with ``compete`` the first branch's to finish.
* ``switch``: the first case whose ``when`` holds (a case without ``when`` is the
  default) gives the flow directive; no match goes on with the next task.
* ``raise``: the error (inline, or by name from ``use.errors``), its ``instance``
  the task's reference unless given.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

import trio

from flowc.runtime.serverless_values import Fault, seconds, truthy

if TYPE_CHECKING:
    from flowc.runtime.serverless import Runner

_STANDARD_TYPES = ("https://serverlessworkflow.io/spec/", "https://serverlessworkflow.io/dsl/")


async def for_task(
    runner: Runner,
    body: dict[str, Any],
    data: Any,
    arguments: dict[str, Any],
    path: str,
    scope: dict[str, Any],
) -> Any:
    loop = body["for"]
    items = await runner.evaluator.expression(loop.get("in", "."), data, arguments, scope, path)
    each, at = loop.get("each") or "item", loop.get("at") or "index"
    for index, item in enumerate(items or []):
        inner = {**scope, each: item, at: index}
        if "while" in body:
            condition = await runner.evaluator.expression(
                body["while"], data, runner.arguments(arguments.get("task"), data), inner, path
            )
            if not truthy(condition):
                break
        data = await runner.task_list(body.get("do") or [], data, f"{path}/do", inner)
    return data


def matches(error: dict[str, Any], wanted: dict[str, Any]) -> bool:
    """Whether ``error`` has every field of the filter ``wanted``."""
    for key, value in wanted.items():
        found = error.get(key)
        if key == "type" and isinstance(value, str) and isinstance(found, str):
            if value == found or (
                value.startswith(_STANDARD_TYPES)
                and found.startswith(_STANDARD_TYPES)
                and value.rsplit("/", 1)[-1] == found.rsplit("/", 1)[-1]
            ):
                continue
            return False
        if found != value:
            return False
    return True


async def _caught(
    runner: Runner,
    catch: dict[str, Any],
    error: dict[str, Any],
    data: Any,
    path: str,
    scope: dict[str, Any],
) -> bool:
    wanted = (catch.get("errors") or {}).get("with") or {}
    if not matches(error, wanted):
        return False
    inner = {**scope, catch.get("as") or "error": error}
    arguments = runner.arguments(None, data)
    ev = runner.evaluator
    if "when" in catch and not truthy(
        await ev.expression(catch["when"], data, arguments, inner, path)
    ):
        return False
    if "exceptWhen" in catch:
        return not truthy(await ev.expression(catch["exceptWhen"], data, arguments, inner, path))
    return True


async def try_task(
    runner: Runner,
    body: dict[str, Any],
    data: Any,
    arguments: dict[str, Any],
    path: str,
    scope: dict[str, Any],
) -> Any:
    catch = body.get("catch") or {}
    retry = catch.get("retry")
    if isinstance(retry, str):
        retry = (runner.use.get("retries") or {}).get(retry)
    attempt = 0
    while True:
        try:
            return await runner.task_list(body["try"], data, f"{path}/try", scope)
        except Fault as failure:
            if not await _caught(runner, catch, failure.error, data, path, scope):
                raise
            attempt += 1
            if isinstance(retry, dict):
                if await _retry(runner, retry, failure.error, attempt, data, scope, path):
                    continue
                raise  # the retries ran out: the task fails with its last error
            if "do" not in catch:
                return data
            inner = {**scope, catch.get("as") or "error": failure.error}
            return await runner.task_list(catch["do"], data, f"{path}/catch/do", inner)


async def _retry(
    runner: Runner,
    retry: dict[str, Any],
    error: dict[str, Any],
    attempt: int,
    data: Any,
    scope: dict[str, Any],
    path: str,
) -> bool:
    """Whether to try again (after sleeping the policy's delay)."""
    limit = ((retry.get("limit") or {}).get("attempt") or {}).get("count")
    if limit is not None and attempt > int(limit):
        return False
    inner = {**scope, "error": error}
    arguments = runner.arguments(None, data)
    ev = runner.evaluator
    if "when" in retry and not truthy(
        await ev.expression(retry["when"], data, arguments, inner, path)
    ):
        return False
    if "exceptWhen" in retry and truthy(
        await ev.expression(retry["exceptWhen"], data, arguments, inner, path)
    ):
        return False
    delay = seconds(retry.get("delay") or {})
    backoff = retry.get("backoff") or {}
    if "linear" in backoff:
        delay *= attempt
    elif "exponential" in backoff:
        delay *= 2 ** (attempt - 1)
    jitter = retry.get("jitter")
    if isinstance(jitter, dict):
        delay += random.uniform(seconds(jitter.get("from")), seconds(jitter.get("to")))
    await trio.sleep(delay)
    return True


async def fork_task(
    runner: Runner, fork: dict[str, Any], data: Any, path: str, scope: dict[str, Any]
) -> Any:
    branches = fork.get("branches") or []
    compete = bool(fork.get("compete", False))
    results: list[Any] = [None] * len(branches)
    winner: list[Any] = []

    async def branch(index: int, nursery: trio.Nursery) -> None:
        results[index] = await runner.task_list(
            [branches[index]], data, f"{path}/fork/branches", scope
        )
        if compete and not winner:
            winner.append(results[index])
            nursery.cancel_scope.cancel()

    async with trio.open_nursery() as nursery:
        for index in range(len(branches)):
            nursery.start_soon(branch, index, nursery)
    return winner[0] if compete and winner else results


async def switch_task(
    runner: Runner,
    cases: list[Any],
    data: Any,
    arguments: dict[str, Any],
    path: str,
    scope: dict[str, Any],
) -> tuple[Any, str | None]:
    for case in cases:
        _name, spec = next(iter(case.items()))
        when = spec.get("when")
        if when is None or truthy(
            await runner.evaluator.expression(when, data, arguments, scope, path)
        ):
            return data, spec.get("then")
    return data, None


async def raised(
    runner: Runner,
    spec: dict[str, Any],
    data: Any,
    arguments: dict[str, Any],
    path: str,
    scope: dict[str, Any],
) -> Fault:
    error = spec.get("error")
    if isinstance(error, str):
        error = (runner.use.get("errors") or {}).get(error) or {}
    evaluated = await runner.evaluator.template(error or {}, data, arguments, scope, path)
    problem = dict(evaluated) if isinstance(evaluated, dict) else {"title": str(evaluated)}
    problem.setdefault("instance", path)
    return Fault(problem)
