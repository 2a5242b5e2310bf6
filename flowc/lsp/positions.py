"""Positions: LSP's coordinates against the compiler's.

The compiler's ``Span`` counts lines from 1 and columns from 1 in *code
points* (Python string indices), end exclusive.  LSP counts both from 0 and
measures columns in the *position encoding* agreed at initialisation: UTF-16
code units unless the client offered something else (pygls picks UTF-8 or
UTF-32 when the client prefers them).  ``LineIndex`` converts between the two
for one text: it keeps the offset at which each line starts, and converts a
column only when its line holds a non-ASCII character (for ASCII every
encoding counts one unit per character, which is the common, fast case).

Lines end at ``\\n`` only, as the lexer counts them; a ``\\r`` before it is an
ordinary last character of the line.

``TextChange`` answers a different question: features such as completion
must work while the buffer does not parse, from the *last good analysis* of
an older text.  The difference between the two texts is summarised as their
common prefix and suffix; a position in the prefix is the same in both texts,
one in the suffix is shifted by the change in length, and one inside the
edited region maps to where the edit starts in the old text — which is where
the user is typing, so "the names in scope there" is still the right answer.
"""

from __future__ import annotations

import bisect
from typing import Final

from lsprotocol import types

from flowc.compiler.ast import Span

UTF16: Final = "utf-16"
UTF8: Final = "utf-8"
UTF32: Final = "utf-32"


def _units(char: str, encoding: str) -> int:
    code = ord(char)
    if encoding == UTF32:
        return 1
    if encoding == UTF8:
        return 1 if code < 0x80 else 2 if code < 0x800 else 3 if code < 0x10000 else 4
    return 2 if code >= 0x10000 else 1


class LineIndex:
    """Offsets of line starts in one text, for position conversions."""

    def __init__(self, text: str, encoding: str = UTF16) -> None:
        self.text = text
        self.encoding = encoding
        self.starts = [0]
        find = text.find
        position = find("\n")
        while position >= 0:
            self.starts.append(position + 1)
            position = find("\n", position + 1)

    @property
    def line_count(self) -> int:
        return len(self.starts)

    def line_text(self, line: int) -> str:
        """Line ``line`` (0-based) without its newline; empty past the end."""
        if line < 0 or line >= len(self.starts):
            return ""
        start = self.starts[line]
        end = self.starts[line + 1] - 1 if line + 1 < len(self.starts) else len(self.text)
        return self.text[start:end]

    # ----------------------------------------------------------- offsets

    def offset(self, line: int, column: int) -> int:
        """The string offset of a 0-based line and a code-point column (clamped)."""
        if line < 0:
            return 0
        if line >= len(self.starts):
            return len(self.text)
        start = self.starts[line]
        return start + max(0, min(column, len(self.line_text(line))))

    def line_col(self, offset: int) -> tuple[int, int]:
        """The 0-based line and code-point column of an offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.starts, offset) - 1
        return line, offset - self.starts[line]

    # ----------------------------------------------------------- LSP positions

    def to_column(self, line: int, character: int) -> int:
        """An LSP ``character`` (in encoding units) as a code-point column."""
        text = self.line_text(line)
        if text.isascii():
            return max(0, min(character, len(text)))
        units = 0
        for column, char in enumerate(text):
            if units >= character:
                return column
            units += _units(char, self.encoding)
        return len(text)

    def to_character(self, line: int, column: int) -> int:
        """A code-point column as an LSP ``character`` in encoding units."""
        text = self.line_text(line)
        prefix = text[: max(0, column)]
        if prefix.isascii():
            return len(prefix) + max(0, column - len(text))
        return sum(_units(char, self.encoding) for char in prefix)

    def offset_of(self, position: types.Position) -> int:
        """The string offset of an LSP position."""
        return self.offset(position.line, self.to_column(position.line, position.character))

    def position_of(self, offset: int) -> types.Position:
        line, column = self.line_col(offset)
        return types.Position(line=line, character=self.to_character(line, column))

    def span_position(self, line: int, col: int) -> types.Position:
        """A span's 1-based line and column as an LSP position."""
        zero_line = max(line - 1, 0)
        return types.Position(
            line=zero_line, character=self.to_character(zero_line, max(col - 1, 0))
        )

    def span_range(self, span: Span) -> types.Range:
        return types.Range(
            start=self.span_position(span.line, span.col),
            end=self.span_position(span.end_line, span.end_col),
        )

    def whole_range(self) -> types.Range:
        """The range covering the entire text."""
        return types.Range(
            start=types.Position(line=0, character=0), end=self.position_of(len(self.text))
        )

    def span_offsets(self, span: Span) -> tuple[int, int]:
        """A span's start and end as offsets into this text."""
        return (
            self.offset(span.line - 1, span.col - 1),
            self.offset(span.end_line - 1, span.end_col - 1),
        )

    def slice(self, span: Span) -> str:
        start, end = self.span_offsets(span)
        return self.text[start:end]


def to_span_point(index: LineIndex, offset: int) -> tuple[int, int]:
    """An offset as a span-style (1-based line, 1-based column) pair."""
    line, column = index.line_col(offset)
    return line + 1, column + 1


def common_prefix_length(a: str, b: str) -> int:
    """The length of the longest common prefix (binary search on C-speed compares)."""
    low, high = 0, min(len(a), len(b))
    if a[:high] == b[:high]:
        return high
    while low < high:
        middle = (low + high + 1) // 2
        if a[:middle] == b[:middle]:
            low = middle
        else:
            high = middle - 1
    return low


def common_suffix_length(a: str, b: str, limit: int) -> int:
    """The longest common suffix, at most ``limit`` characters long."""
    low, high = 0, limit
    if high and a[len(a) - high :] == b[len(b) - high :]:
        return high
    while low < high:
        middle = (low + high + 1) // 2
        if a[len(a) - middle :] == b[len(b) - middle :]:
            low = middle
        else:
            high = middle - 1
    return low


class TextChange:
    """How offsets in a new text map to an older one (common prefix and suffix)."""

    def __init__(self, old: str, new: str) -> None:
        self.identical = old == new
        self.prefix = len(old) if self.identical else common_prefix_length(old, new)
        limit = min(len(old), len(new)) - self.prefix
        self.suffix = 0 if self.identical else common_suffix_length(old, new, limit)
        self.old_length = len(old)
        self.new_length = len(new)

    def to_old(self, offset: int) -> int:
        """Where ``offset`` of the new text is in the old one."""
        if self.identical or offset <= self.prefix:
            return offset
        if offset >= self.new_length - self.suffix:
            return offset - self.new_length + self.old_length
        return self.prefix

    def to_new(self, offset: int) -> int | None:
        """Where ``offset`` of the old text is in the new one (None if it was edited)."""
        if self.identical or offset <= self.prefix:
            return offset
        if offset >= self.old_length - self.suffix:
            return offset - self.old_length + self.new_length
        return None
