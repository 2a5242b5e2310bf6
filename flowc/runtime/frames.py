"""Where execution is, and how control leaves a block.

``Place`` is the position of the code being run: the call path of the flow
invocation (``checkout/``), the loop iterations and ``retry`` block tries
around it, and the collector of the loop value being built, if any.  It makes
a step's stable key (``checkout/charge[3]``), the identity of a step in
traces, metrics and the run journal.  Loop iterations append ``[i]``; the
second and later tries of a ``retry`` block append ``~n`` (``send~2``), so
that every execution of a step in a run has a key of its own and a resumed
run can replay each one in its place.

Signals are how ``exec_block`` reports why it stopped early: ``Return``
(carrying the value), ``BREAK`` and ``CONTINUE``; ``None`` means control fell
off the end of the block.
"""

from __future__ import annotations

from typing import Any, Final

import attrs


@attrs.define
class Place:
    """Where execution is: the call path and loop indices (which make a step's
    stable key, e.g. ``checkout/charge[3]``) and the current yield collector."""

    suffix: str = ""  # the iterations and tries around: "[1][2]", "[3]~2"
    yields: list[Any] | None = None
    prefix: str = ""

    def step_key(self, name: str) -> str:
        return self.prefix + name + self.suffix

    def nested(self, position: int, yields: list[Any] | None) -> Place:
        """The place of one iteration of a loop."""
        return Place(f"{self.suffix}[{position}]", yields, self.prefix)

    def retried(self, attempt: int) -> Place:
        """The place of try ``attempt`` of a ``retry`` block (the first keeps this one)."""
        if attempt == 1:
            return self
        return Place(f"{self.suffix}~{attempt}", self.yields, self.prefix)


@attrs.frozen
class Return:
    value: Any


class Jump:
    """``break`` or ``continue``."""

    def __init__(self, name: str) -> None:
        self.name = name


BREAK: Final = Jump("break")
CONTINUE: Final = Jump("continue")
Signal = Return | Jump | None
