"""Giving way: the evaluator's preemption test for runs that have none of their own.

Expression evaluation is synchronous, so a long comprehension cannot notice a
timeout by itself; it asks a process-wide test every few thousand steps
(``compiler.evaluator_support.set_preemption``) and gives way when told to.
The command line installs a test that also knows about Ctrl-C
(``commands/running.py``).  Any other caller of the engine — the Python API,
a server — gets ``deadline_passed`` for as long as at least one run executes
(``preempting``): evaluation then gives way once its trio task's deadline has
passed or its scope was cancelled, so a flow ``timeout`` stops CPU-bound work
at its deadline there too.  A test installed by someone else is left alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import trio

from flowc.compiler.evaluator_support import current_preemption, set_preemption

_runs_using = [0]
"""How many runs rely on ``deadline_passed`` being installed."""


def deadline_passed() -> bool:
    """Whether the current trio task's effective deadline has passed (or it is cancelled)."""
    try:
        return trio.current_effective_deadline() <= trio.current_time()
    except RuntimeError:  # not inside a trio task
        return False


@contextlib.contextmanager
def preempting() -> Iterator[None]:
    """While the block runs, evaluation gives way to deadlines (unless a test is installed)."""
    if _runs_using[0] == 0 and current_preemption() is not None:
        yield  # the caller's own test (the command line's) is in charge
        return
    if _runs_using[0] == 0:
        set_preemption(deadline_passed)
    _runs_using[0] += 1
    try:
        yield
    finally:
        _runs_using[0] -= 1
        if _runs_using[0] == 0:
            set_preemption(None)
