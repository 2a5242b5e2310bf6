"""Values of a Serverless Workflow run: jq evaluation with bounds, errors, durations.

Evaluation.  ``Evaluator.evaluate`` runs one compiled jq program
(``compiler/definitions/serverless_jq.py``: sandboxed, compiled once per text) on a
value and the runtime arguments (``$context``, ``$input``, ``$secrets``, ...).  It is
bounded: the JSON text handed to jq is at most ``MAX_INPUT`` characters and the
result at most ``MAX_OUTPUT``.  libjq holds the GIL and cannot be interrupted, so
time is bounded by *where* an expression runs: one that ``bounded`` proves quick
from its text (field access, operators but ``*``, builtins that do not loop: the
common ``.id``, ``{a: .x, b: $input.y}``) on an input of at most ``INLINE_INPUT``
runs inline; any other runs in a worker process (``serverless_worker.py``, memory
limited) that trio kills after ``timeout`` seconds.  ``_LIMITER`` keeps such
processes few.  A runtime argument (``$secrets``, ``$workflow`` with the whole
definition, ...) is handed to jq only when the expression names it.

``template`` evaluates a value the way the specification does: a ``${...}`` string
is an expression, an object or array is evaluated member by member, anything else
is itself.

Errors are RFC 7807 problem objects (``Fault.error``) with the specification's
standard types.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
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
        if len(text) <= INLINE_INPUT and bounded(expression):
            result = _run(compiled, text)
        else:
            result = await self._isolated(expression, tuple(extra), text, where)
        if isinstance(result, str):
            raise fault("expression", 400, "Expression Error", where, result)
        return result[0] if result else None

    async def _isolated(
        self, expression: str, extra: tuple[str, ...], text: str, where: str
    ) -> list[Any] | str:
        """Evaluate in a worker process (``serverless_worker``), killed at the deadline."""
        import sys

        request = json.dumps({"expression": expression, "extra": list(extra), "input": text})
        command = [sys.executable, "-m", "flowc.runtime.serverless_worker"]
        with trio.move_on_after(self.timeout) as scope:
            async with _LIMITER:
                done = await trio.run_process(
                    command, stdin=request.encode(), capture_stdout=True, capture_stderr=True,
                    check=False,
                )  # fmt: skip
        if scope.cancelled_caught:
            detail = f"the expression ran for more than {self.timeout:g} s"
            raise fault("expression", 400, "Expression Error", where, detail)
        try:
            answer = json.loads(done.stdout)
        except ValueError:
            return "the expression's worker process failed"
        if "error" in answer:
            return str(answer["error"])
        output = str(answer["ok"])
        if len(output) > MAX_OUTPUT:
            return "the result is too large"
        result: list[Any] = json.loads(output)
        return result

    def _argument(self, name: str, expression: str, arguments: dict[str, Any]) -> Any:
        # Only what the expression names is serialised for jq: ``$workflow`` holds the
        # whole definition, and ``$secrets`` should reach no expression that does
        # not ask for it.
        if f"${name}" not in expression:
            return None
        return self.secrets if name == "secrets" else arguments.get(name)

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


INLINE_INPUT: Final = 64 * 1024
_BOUNDED_NAMES: Final = frozenset(
    {
        "if",
        "then",
        "elif",
        "else",
        "end",
        "as",
        "and",
        "or",
        "not",
        "reduce",
        "foreach",
        "null",
        "true",
        "false",
        "empty",
        "error",
        "length",
        "utf8bytelength",
        "keys",
        "keys_unsorted",
        "values",
        "has",
        "in",
        "map",
        "map_values",
        "select",
        "add",
        "any",
        "all",
        "flatten",
        "floor",
        "ceil",
        "round",
        "fabs",
        "tostring",
        "tonumber",
        "type",
        "first",
        "last",
        "nth",
        "reverse",
        "sort",
        "sort_by",
        "group_by",
        "unique",
        "unique_by",
        "min",
        "max",
        "min_by",
        "max_by",
        "to_entries",
        "from_entries",
        "with_entries",
        "del",
        "contains",
        "inside",
        "startswith",
        "endswith",
        "ltrimstr",
        "rtrimstr",
        "trim",
        "ltrim",
        "rtrim",
        "ascii_downcase",
        "ascii_upcase",
        "join",
        "tojson",
        "fromjson",
        "abs",
        "isnan",
        "infinite",
        "nan",
        "now",
        "todate",
        "fromdate",
        "todateiso8601",
        "fromdateiso8601",
        "getpath",
        "paths",
        "leaf_paths",
        "objects",
        "arrays",
        "strings",
        "numbers",
        "booleans",
        "nulls",
        "iterables",
        "scalars",
        "index",
        "rindex",
        "indices",
        "split",
        "ascii",
        "explode",
        "implode",
        "tostream",
    }
)
_NAME: Final = re.compile(r"(?<![.$A-Za-z0-9_])[A-Za-z_][A-Za-z0-9_]*\b(?!\s*:)")
_PLAIN_STRING: Final = re.compile(r'"(?:[^"\\]|\\[^(])*"')


@lru_cache(maxsize=4096)
def bounded(expression: str) -> bool:
    """Whether ``expression`` surely ends quickly on a small input: no recursion, no
    generator of unbounded length (``range``, ``repeat``, ``until``, ``recurse``,
    ``..``, ``limit``, definitions), no regular expression and no ``*`` (string
    repetition); object keys and string literals without ``\\(...)`` are not names.
    Such an expression runs on the trio thread, without the hop to a
    worker; any other one runs on a worker under the deadline.  A name inside a
    string literal counts too, which only ever sends an expression to the worker."""
    if "*" in expression or ".." in expression or "def " in expression:
        return False
    code = _PLAIN_STRING.sub('""', expression)  # literals without interpolation
    return all(name in _BOUNDED_NAMES for name in _NAME.findall(code))


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
