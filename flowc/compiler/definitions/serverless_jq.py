"""jq runtime expressions of Serverless Workflow documents, sandboxed and compiled once.

The specification makes jq the language of runtime expressions (``${ .a + 1 }``).
flowc evaluates them with libjq through the ``jq`` package, never with a jq of its
own, but libjq can read the process environment (``$ENV``, ``env``), print to
stderr (``debug``, ``stderr``, ``halt_error``), and load modules from disk
(``import``, ``include``, ``modulemeta``).  Every program is therefore compiled
behind ``PRELUDE``, which redefines those builtins as harmless ones and binds
``$ENV`` to ``{}``; since jq accepts ``import``/``include`` only at the very start
of a program, an expression that tries them does not parse at all.

Compiling costs libjq about 3 ms (it compiles its builtins each time), so:

* the static check compiles the expressions of a document a few hundred to a
  program (``check_all``) and only when one fails compiles them one by one to say
  which;
* the runtime compiles each distinct expression once (``program``, cached).

The variables an expression may use are bound from one input array
(``. as [$__v, $context, ...]``) so that a compiled program is reused for any
values; ``STANDARD_VARIABLES`` are always there, a ``for`` item or a ``catch``
variable is added by name.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Final

STANDARD_VARIABLES: Final = (
    "context",
    "input",
    "output",
    "secrets",
    "task",
    "workflow",
    "runtime",
    "authorization",
)

PRELUDE: Final = (
    "def env: {}; def input_filename: null; def $__loc__: null; "
    'def halt: error("halt is not allowed"); def halt_error: error; '
    "def halt_error($code): error; def debug: .; def debug($m): .; def stderr: .; "
    'def input: error("no more inputs"); def inputs: empty; def get_search_list: []; '
    'def get_prog_origin: null; def get_jq_origin: null; def modulemeta: error("no modules"); '
    "def input_line_number: 0; "
)
_PRELUDE = PRELUDE.replace("def $__loc__: null; ", "")

CHECK_CHUNK: Final = 400
"""Expressions per checking program: libjq's compile time grows faster than the
program, and each compile has a fixed cost (~3 ms), so neither one nor many."""

_NAMES: Final = "; ".join(f"${name}" for name in STANDARD_VARIABLES)
_NULLS: Final = "; ".join("null" for _ in STANDARD_VARIABLES)
_EXPRESSION = re.compile(r"^\s*\$\{(.*)\}\s*$", re.DOTALL)


def embedded(text: str) -> str | None:
    """The jq text of a ``${ ... }`` string, or None when it is a plain string."""
    match = _EXPRESSION.match(text)
    return None if match is None else match.group(1)


def _binding(extra: Sequence[str]) -> str:
    names = ", ".join(f"${name}" for name in (*STANDARD_VARIABLES, *extra))
    return f". as [$__v, {names}, $ENV] | "


@lru_cache(maxsize=4096)
def program(expression: str, extra: tuple[str, ...] = ()) -> Any:
    """The compiled program of ``expression``: input ``[value, *variables, {}]``,
    output the JSON text of ``[first result]`` (``[]`` when it gives none).

    Raises ValueError (libjq's message) when it does not compile."""
    import jq

    text = f"{_PRELUDE}{_binding(extra)}[limit(1; $__v | ({expression}\n))]"
    return jq.compile(text)


def problem_of(error: ValueError) -> str:
    """libjq's compile error in one line, without its position in the wrapped text."""
    first = str(error).splitlines()[0] if str(error) else "invalid expression"
    first = first.removeprefix("jq: error: ")
    return re.sub(r" at <top-level>, line \d+(, column \d+)?:?$", "", first)


def check_all(expressions: Sequence[tuple[str, tuple[str, ...]]]) -> list[tuple[int, str]]:
    """The (index, problem) of each expression that does not compile, all at once.

    A few compiles for the whole list when every expression is good (the common
    case); a chunk that fails is halved until the bad expressions are found."""
    found: list[tuple[int, str]] = []
    for start in range(0, len(expressions), CHECK_CHUNK):
        _check_range(expressions, start, min(start + CHECK_CHUNK, len(expressions)), found)
    return found


def _check_range(
    expressions: Sequence[tuple[str, tuple[str, ...]]],
    start: int,
    end: int,
    found: list[tuple[int, str]],
) -> None:
    import jq

    if end - start == 1:
        try:
            program(*expressions[start])
        except ValueError as error:
            found.append((start, problem_of(error)))
        return
    parts = []
    for expression, extra in expressions[start:end]:
        binds = "".join(f"null as ${name} | " for name in extra)
        parts.append(f"({binds}({expression}\n))")
    # called, or libjq would not resolve the variables of an unused definition
    text = f"{_PRELUDE}def _check({_NAMES}): [{', '.join(parts)}]; _check({_NULLS})"
    try:
        jq.compile(text)
    except ValueError:
        middle = (start + end) // 2
        _check_range(expressions, start, middle, found)
        _check_range(expressions, middle, end, found)
