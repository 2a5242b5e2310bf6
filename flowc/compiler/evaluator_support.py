"""Small closures and error helpers shared by the evaluator's modules.

``constant`` and ``raiser`` are the two trivial compiled forms (a value known
at compile time, an error known at compile time).  ``guarded`` wraps the
outermost closure of an expression so that the only exception a caller ever
sees is ``EvalError``: library code that meets a value it did not expect, a
too-deep recursion or an allocation failure becomes an ``EvalError`` with a
message that names the problem but never a value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Final, NoReturn

from flowc.common.values import (
    LIMIT,
    NO_MATCHING_OVERLOAD,
    TYPE_ERROR,
    EvalError,
    describe_type,
)
from flowc.compiler.ir import Compiled, Frame

#: Python exceptions that library code may raise on a hostile expression.
_CONVERTED: Final = (
    TypeError,
    ValueError,
    LookupError,
    ArithmeticError,
    AttributeError,
    UnicodeError,
)


def constant(value: object) -> Compiled:
    """A closure that always returns ``value``."""

    def const(frame: Frame) -> object:
        return value

    return const


def raiser(error: EvalError) -> Compiled:
    """A closure that always raises ``error`` (a mistake found at compile time
    in an expression the checker did not reject, or was not asked to check)."""

    def fail(frame: Frame) -> NoReturn:
        raise EvalError(error.kind, error.message)

    return fail


#: The error kind of an evaluation that gave way to a deadline or an interrupt; the
#: runtime turns it into trio's cancellation at the statement being evaluated.
PREEMPTED: Final = "preempted"
#: Comprehension steps between two asks whether the evaluation should give way.
PREEMPT_EVERY: Final = 4096
_preemption: list[Callable[[], bool] | None] = [None]


def set_preemption(check: Callable[[], bool] | None) -> Callable[[], bool] | None:
    """Install the runtime's "should this evaluation give way?" test; returns the old one.

    Evaluation is synchronous, so a long comprehension cannot wait for trio to
    deliver a timeout or Ctrl-C; it asks ``check`` every ``PREEMPT_EVERY`` steps
    instead, and ends with a ``PREEMPTED`` error when the answer is yes.
    """
    previous = _preemption[0]
    _preemption[0] = check
    return previous


def current_preemption() -> Callable[[], bool] | None:
    """The installed "should this evaluation give way?" test, if any."""
    return _preemption[0]


def preemptible(items: list[object]) -> Iterable[object]:
    """``items``, asking the preemption test every ``PREEMPT_EVERY`` of them."""
    check = _preemption[0]
    if check is None or len(items) <= PREEMPT_EVERY:
        return items
    return _checked(items, check)


def _checked(items: list[object], check: Callable[[], bool]) -> Iterator[object]:
    for start in range(0, len(items), PREEMPT_EVERY):
        if check():
            raise EvalError(PREEMPTED, "the evaluation gave way to a deadline or an interrupt")
        yield from items[start : start + PREEMPT_EVERY]


#: Macro iterations one evaluation may perform (nested comprehensions over big
#: lists would otherwise run for hours): a clear error instead of a hang.
MAX_ITERATIONS = 10_000_000
_budget = [MAX_ITERATIONS]


def spend(iterations: int) -> None:
    """Charge ``iterations`` macro steps to the current evaluation's budget.

    Many small comprehensions (nested ones) also ask the preemption test, once
    every ``PREEMPT_EVERY`` steps charged.
    """
    before = _budget[0]
    left = before - iterations
    _budget[0] = left
    if left < 0:
        raise EvalError(LIMIT, f"evaluation exceeded {MAX_ITERATIONS:,} comprehension steps")
    check = _preemption[0]
    if check is not None and before // PREEMPT_EVERY != left // PREEMPT_EVERY and check():
        raise EvalError(PREEMPTED, "the evaluation gave way to a deadline or an interrupt")


def guarded(run: Compiled) -> Compiled:
    """``run``, with any non-``EvalError`` failure converted to ``EvalError``.

    It also starts a fresh iteration budget: evaluation is synchronous (no
    awaits), so one counter per process is exact even with many trio tasks.
    """

    def evaluate(frame: Frame) -> object:
        _budget[0] = MAX_ITERATIONS
        try:
            return run(frame)
        except EvalError:
            raise
        except RecursionError:
            raise EvalError(LIMIT, "expression evaluation nested too deeply") from None
        except MemoryError:
            raise EvalError(LIMIT, "expression evaluation ran out of memory") from None
        except _CONVERTED as error:
            raise EvalError(TYPE_ERROR, f"evaluation failed ({type(error).__name__})") from None

    return evaluate


def not_bool(value: object, where: str) -> EvalError:
    """The error for a non-``bool`` where CEL requires one (``'a' && true``)."""
    return EvalError(NO_MATCHING_OVERLOAD, f"{where} expects a bool, got {describe_type(value)}")
