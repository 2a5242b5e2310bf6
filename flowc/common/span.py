"""Source spans: where in which file a piece of a program came from.

Every phase points at source text with a ``Span``: the parser gives one to each
syntax node, the checker's diagnostics carry one, the IR keeps them, and a
run-time ``FlowError`` names the place it happened through one.  It lives in
the shared vocabulary because both the compiler and the runtime speak it.
"""

from __future__ import annotations

from typing import NamedTuple


class Span(NamedTuple):
    """A source range: 1-based lines and columns, end exclusive, plus offsets.

    A named tuple rather than an attrs class: the parser makes one for every
    node, and a tuple is several times cheaper to build.  Spans order by
    position, which is how diagnostics are sorted.
    """

    file: str
    line: int
    col: int
    end_line: int
    end_col: int
    start: int = 0
    end: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"

    def to(self, other: Span) -> Span:
        """The span from the start of ``self`` to the end of ``other``."""
        return Span(
            self.file, self.line, self.col, other.end_line, other.end_col, self.start, other.end
        )

    def contains(self, line: int, col: int) -> bool:
        """Whether the position (1-based) lies inside this span."""
        after_start = (line, col) >= (self.line, self.col)
        before_end = (line, col) < (self.end_line, self.end_col)
        return after_start and before_end


NO_SPAN = Span("<none>", 0, 0, 0, 0)
