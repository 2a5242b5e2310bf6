"""Layout documents: the line-breaking engine behind the printer.

The printer does not write text directly.  It builds a *document* — a tree of
text pieces, possible line breaks and groups — and this module decides where
the lines break.  The algorithm is Wadler's "prettier printer" as refined by
Prettier:

* ``Text`` is printed as is.
* ``Line`` is a *possible* break: inside a group printed flat it is a space
  (or nothing, for a soft line); inside a broken group it is a newline
  followed by the current indentation.
* ``Group`` is printed flat when its whole flat form, plus whatever follows it
  up to the next possible break, fits in the remaining width; otherwise its
  lines break.  Nested groups decide independently, outermost first, so a
  long call breaks its outer argument list while short inner lists stay on
  one line.
* ``HardLine`` always breaks, and so does ``BREAK_PARENT`` (which prints
  nothing): a group containing either can never be flat.  The printer uses
  them for statements, comments and preserved blank lines.  Whether a
  document contains one is computed once, when it is built (``hard``), so
  the renderer never searches a subtree.
* ``IfBreak`` prints one text in a broken group and another in a flat one
  (the trailing comma of a broken list).
* ``Suffix`` is text that does not count when deciding whether a group fits:
  a trailing comment should not break the code before it.

Rendering walks the document with an explicit stack, so documents of any
depth render without recursion, in time linear in their size (the ``fits``
look-ahead stops at the first line break or when the width runs out).
Indentation is written lazily, when the first text of a line arrives, so no
line ever ends in spaces — which matters for blank lines and for multi-line
string literals, whose text must be reproduced byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

INDENT: Final = 4


class Doc:
    """Base of every layout document; ``hard`` means "contains a forced break"."""

    __slots__ = ("hard",)

    def __init__(self, hard: bool) -> None:
        self.hard = hard


class Text(Doc):
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        super().__init__(False)
        self.text = text


class Suffix(Text):
    """Text at the end of a line (a trailing comment): no width when fitting groups."""

    __slots__ = ()


class Concat(Doc):
    __slots__ = ("parts",)

    def __init__(self, parts: tuple[Doc, ...]) -> None:
        super().__init__(any(p.hard for p in parts))
        self.parts = parts


class Nest(Doc):
    """Its content is indented one level further after each line break."""

    __slots__ = ("content",)

    def __init__(self, content: Doc) -> None:
        super().__init__(content.hard)
        self.content = content


class Group(Doc):
    __slots__ = ("content",)

    def __init__(self, content: Doc) -> None:
        super().__init__(content.hard)
        self.content = content


class Line(Doc):
    """A break; ``flat`` is what it prints when its group is flat."""

    __slots__ = ("blank", "flat")

    def __init__(self, flat: str, *, hard: bool = False, blank: bool = False) -> None:
        super().__init__(hard)
        self.flat = flat
        self.blank = blank


class IfBreak(Doc):
    __slots__ = ("broken", "flat")

    def __init__(self, broken: str, flat: str = "") -> None:
        super().__init__(False)
        self.broken = broken
        self.flat = flat


class BreakParent(Doc):
    """Prints nothing, but forces every enclosing group to break."""

    __slots__ = ()

    def __init__(self) -> None:
        super().__init__(True)


LINE: Final = Line(" ")
SOFTLINE: Final = Line("")
HARDLINE: Final = Line("", hard=True)
BLANKLINE: Final = Line("", hard=True, blank=True)
BREAK_PARENT: Final = BreakParent()
EMPTY: Final = Text("")


def concat(*parts: Doc | str) -> Doc:
    return Concat(tuple(Text(p) if isinstance(p, str) else p for p in parts))


def group(*parts: Doc | str) -> Doc:
    return Group(concat(*parts))


def nest(*parts: Doc | str) -> Doc:
    return Nest(concat(*parts))


def join(separator: Doc | str, docs: Iterable[Doc]) -> Doc:
    sep = Text(separator) if isinstance(separator, str) else separator
    parts: list[Doc] = []
    for doc in docs:
        if parts:
            parts.append(sep)
        parts.append(doc)
    return Concat(tuple(parts))


# --------------------------------------------------------------------------- rendering

_FLAT: Final = 0
_BREAK: Final = 1

_Command = tuple[int, int, Doc]  # indentation, mode, document


def render(doc: Doc, width: int = 100) -> str:
    """Lay ``doc`` out in ``width`` columns."""
    return _Renderer(width).run(doc)


def render_flat(doc: Doc) -> str:
    """``doc`` on one line, every group flat (hard breaks still break)."""
    return _Renderer(1 << 30).run(Group(doc) if not doc.hard else doc)


class _Renderer:
    def __init__(self, width: int) -> None:
        self.width = width
        self.out: list[str] = []
        self.column = 0
        self.pending_indent: int | None = None

    def run(self, doc: Doc) -> str:
        stack: list[_Command] = [(0, _BREAK, doc)]
        while stack:
            indent, mode, current = stack.pop()
            if isinstance(current, Text):
                self.write(current.text)
            elif isinstance(current, Concat):
                stack.extend((indent, mode, part) for part in reversed(current.parts))
            elif isinstance(current, Nest):
                stack.append((indent + INDENT, mode, current.content))
            elif isinstance(current, Group):
                flat = mode == _FLAT or (not current.hard and self.fits(current.content, stack))
                stack.append((indent, _FLAT if flat else _BREAK, current.content))
            elif isinstance(current, Line):
                self.line(current, indent, mode)
            elif isinstance(current, IfBreak):
                self.write(current.flat if mode == _FLAT else current.broken)
        return "".join(self.out)

    def write(self, text: str) -> None:
        if not text:
            return
        if self.pending_indent is not None:
            self.out.append(" " * self.pending_indent)
            self.column = self.pending_indent
            self.pending_indent = None
        self.out.append(text)
        newline = text.rfind("\n")
        self.column = len(text) - newline - 1 if newline >= 0 else self.column + len(text)

    def line(self, line: Line, indent: int, mode: int) -> None:
        if mode == _FLAT and not line.hard:
            self.write(line.flat)
            return
        self.out.append("\n\n" if line.blank else "\n")
        self.column = 0
        self.pending_indent = indent

    def fits(self, content: Doc, rest: list[_Command]) -> bool:
        """Whether ``content`` flat, then ``rest`` up to its next break, fits the line."""
        remaining = self.width - (self.pending_indent or self.column)
        todo: list[tuple[int, Doc]] = [(_FLAT, content)]
        rest_index = len(rest)
        while remaining >= 0:
            if not todo:
                if rest_index == 0:
                    return True
                rest_index -= 1
                todo.append((rest[rest_index][1], rest[rest_index][2]))
                continue
            mode, current = todo.pop()
            if isinstance(current, Suffix):
                continue
            if isinstance(current, Text):
                newline = current.text.find("\n")
                if newline >= 0:
                    return remaining >= newline
                remaining -= len(current.text)
            elif isinstance(current, Concat):
                todo.extend((mode, part) for part in reversed(current.parts))
            elif isinstance(current, Nest | Group):
                todo.append((mode if isinstance(current, Nest) else _FLAT, current.content))
            elif isinstance(current, Line):
                if mode == _BREAK or current.hard:
                    return True
                remaining -= len(current.flat)
            elif isinstance(current, IfBreak):
                remaining -= len(current.flat if mode == _FLAT else current.broken)
        return False
