"""Values of a Serverless Workflow run: jq evaluation with bounds, errors, durations.

Evaluation.  ``Evaluator.evaluate`` runs one compiled jq program
(``compiler/definitions/serverless_jq.py``: sandboxed, compiled once per text) on a
value and the runtime arguments (``$context``, ``$input``, ``$secrets``, ...).  It is
bounded three ways: the JSON text handed to jq is at most ``MAX_INPUT`` characters,
the result at most ``MAX_OUTPUT``, and the evaluation runs on a worker thread
(``trio.to_thread``, so the trio loop keeps serving other tasks) for at most
``timeout`` seconds.  libjq cannot be interrupted: a thread past its deadline is
abandoned (the run fails at once with an expression error) and finishes in the
background; ``_LIMITER`` keeps such threads few.  ``$secrets`` is handed to jq only
when the expression names it.

``template`` evaluates a value the way the specification does: a ``${...}`` string
is an expression, an object or array is evaluated member by member, anything else
is itself.

Errors are RFC 7807 problem objects (``Fault.error``) with the specification's
standard types.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

import trio

from flowc.compiler.definitions.serverless_jq import STANDARD_VARIABLES, embedded, program

MAX_INPUT: Final = 16 * 1024 * 1024
MAX_OUTPUT: Final = 16 * 1024 * 1024
DEFAULT_TIMEOUT: Final = 5.0
_LIMITER: Final = trio.CapacityLimiter(4)

ERROR_TYPES: Final = "https://serverlessworkflow.io/spec/1.0.0/errors/"


class Fault(Exception):
    """A workflow error: ``error`` is the RFC 7807 object (type, status, title, ...)."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error.get("title") or error.get("type"))
        self.error = error


def fault(kind: str, status: int, title: str, instance: str, detail: str | None = None) -> Fault:
    """A fault of one of the specification's standard error types."""
    error: dict[str, Any] = {"type": ERROR_TYPES + kind, "status": status, "title": title}
    if detail:
        error["detail"] = detail
    error["instance"] = instance
    return Fault(error)


class Evaluator:
    """Evaluates the jq expressions of one run."""

    def __init__(self, *, secrets: dict[str, Any], timeout: float = DEFAULT_TIMEOUT) -> None:
        self.secrets = secrets
        self.timeout = timeout

    async def evaluate(
        self,
        expression: str,
        value: Any,
        arguments: dict[str, Any],
        extra: dict[str, Any],
        where: str,
    ) -> Any:
        try:
            compiled = program(expression, tuple(extra))
        except ValueError as error:
            raise fault("expression", 400, "Expression Error", where, str(error)) from None
        values = [
            value,
            *(self._argument(name, expression, arguments) for name in STANDARD_VARIABLES),
        ]
        text = json.dumps([*values, *extra.values(), {}], separators=(",", ":"))
        if len(text) > MAX_INPUT:
            raise fault("expression", 400, "Expression Error", where, "input is too large")
        with trio.move_on_after(self.timeout) as scope:
            result = await trio.to_thread.run_sync(
                _run, compiled, text, abandon_on_cancel=True, limiter=_LIMITER
            )
        if scope.cancelled_caught:
            detail = f"the expression ran for more than {self.timeout:g} s"
            raise fault("expression", 400, "Expression Error", where, detail)
        if isinstance(result, str):
            raise fault("expression", 400, "Expression Error", where, result)
        return result[0] if result else None

    def _argument(self, name: str, expression: str, arguments: dict[str, Any]) -> Any:
        if name == "secrets":
            return self.secrets if "$secrets" in expression else None
        return arguments.get(name)

    async def template(
        self, node: Any, value: Any, arguments: dict[str, Any], extra: dict[str, Any], where: str
    ) -> Any:
        """``node`` with each ``${...}`` string replaced by its value."""
        if isinstance(node, str):
            expression = embedded(node)
            if expression is None:
                return node
            return await self.evaluate(expression, value, arguments, extra, where)
        if isinstance(node, dict):
            return {
                key: await self.template(item, value, arguments, extra, where)
                for key, item in node.items()
            }
        if isinstance(node, list):
            return [await self.template(item, value, arguments, extra, where) for item in node]
        return node

    async def expression(
        self, node: Any, value: Any, arguments: dict[str, Any], extra: dict[str, Any], where: str
    ) -> Any:
        """A field that is always an expression: a bare string is jq too."""
        if isinstance(node, str) and embedded(node) is None:
            return await self.evaluate(node, value, arguments, extra, where)
        return await self.template(node, value, arguments, extra, where)


def _run(compiled: Any, text: str) -> list[Any] | str:
    try:
        output = compiled.input_text(text).text()
    except ValueError as error:
        return str(error)
    if len(output) > MAX_OUTPUT:
        return "the result is too large"
    result: list[Any] = json.loads(output)
    return result


_UNITS: Final = {"days": 86400.0, "hours": 3600.0, "minutes": 60.0, "seconds": 1.0}
_ISO: Final = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")


def seconds(duration: Any) -> float:
    """A specification duration (``{seconds: 3}`` or ISO 8601 ``PT3S``) in seconds."""
    if isinstance(duration, dict):
        total = sum(float(duration.get(unit, 0)) * factor for unit, factor in _UNITS.items())
        return total + float(duration.get("milliseconds", 0)) / 1000
    if isinstance(duration, str):
        match = _ISO.match(duration)
        if match:
            days, hours, minutes, secs = (float(part or 0) for part in match.groups())
            return days * 86400 + hours * 3600 + minutes * 60 + secs
    return 0.0


def truthy(value: Any) -> bool:
    """jq's truth: everything but ``false`` and ``null``."""
    return value is not None and value is not False
