"""The formatter: `flowc fmt`, the canonical printer plus the file's comments.

``format_source`` parses a file, prints it with the canonical printer
(``printer.py``) and puts every ``#`` comment back.  The tree has no place for
comments (``Module.comments`` lists them beside it, with spans), so this
module decides, for each one, where in the printed output it goes, and hands
the printer a ``Trivia`` object that answers "which comments go before, after,
inside this node?".

Where comments can go.  The printer prints *anchors* on lines of their own —
declarations, statements, clauses, map entries, list items, record fields,
parameters, grouped ``parallel`` branches — inside *containers*: the module,
blocks and clause blocks (``{ }``), maps, records, lists and parameter lists.
That gives five kinds of slot: before an anchor (*leading*), at the end of
its last line (*trailing*), right after a container's opening bracket
(*opener*), before its closing bracket (*closing*), and the end of the file.

Attaching.  A comment with code before it on its line trails that code: if
the code (ignoring one comma) is the end of an anchor, the comment trails the
anchor; if it is an opening bracket, the comment goes after the bracket.  A
comment alone on its line leads the next piece of code when that code starts
an anchor, or sits before the closing bracket when the next code closes a
container (or at the end of the file).  Anything else — a comment in the
middle of an expression, between ``}`` and ``else``, in an empty clause block
the printer drops — leads the innermost anchor around it.  Slots are ordered
by their position in the source, which is also the order the printer emits
them in; a comment whose slot would come before the previous comment's slot
joins that one instead, so comments always come out in their source order.

Finding brackets.  Anchors and bracketed expressions carry spans, but blocks
do not.  Strings and comments are the only tokens that can contain a brace,
and both are known (string literals are nodes with spans), so every other
``{``/``}`` in the text is structural: matching them with a stack gives every
block's braces; those that are not a map or record literal belong, in order,
to the innermost node that owns blocks (an ``if`` with arms and an ``else``
owns several, numbered as the printer numbers them).

Blank lines.  An anchor or an own-line comment that starts its line right
after a blank line keeps one blank line before it (runs collapse to one);
none is kept at the start of a container.  Declarations are always separated
by a blank line, except in runs of imports, types or consts (see
``docs/formatting.md``).

Properties (tested on the examples and on generated programs with comments
sprinkled in): the result parses to the same tree, formatting it again changes
nothing, and it holds the same comments in the same order.
"""

from __future__ import annotations

import bisect
import difflib
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Final

import attrs

from flowc.compiler import ast
from flowc.compiler.parser import parse_module
from flowc.compiler.printer import PARAMS_INDEX, CommentLine, print_module

_BLOCK_OWNERS: Final = (
    ast.FlowDecl,
    ast.ServiceDecl,
    ast.StepStmt,
    ast.CompensateClause,
    ast.IfStmt,
    ast.ForLoop,
    ast.WhileLoop,
    ast.ParallelStmt,
    ast.Branch,
    ast.TryStmt,
    ast.RetryStmt,
    ast.TimeoutStmt,
)
_ANCHORS: Final = (ast.Decl, ast.Stmt, ast.Clause, ast.MapEntry, ast.FieldDecl, ast.Param)
_BRACKETED: Final = (ast.MapLit, ast.RecordType, ast.ListLit)

# slot kinds, in the order the printer emits slots found at the same offset
_TRAILING, _OPENER, _CLOSING, _LEADING = range(4)


# --------------------------------------------------------------------------- public API


@attrs.frozen
class FormatResult:
    """What ``flowc fmt`` needs to know about one file."""

    path: str
    original: str
    formatted: str

    @property
    def changed(self) -> bool:
        return self.original != self.formatted

    @property
    def diff(self) -> str:
        """A unified diff from the file to its formatted text (empty if unchanged)."""
        return "".join(
            difflib.unified_diff(
                self.original.splitlines(keepends=True),
                self.formatted.splitlines(keepends=True),
                fromfile=self.path,
                tofile=f"{self.path} (formatted)",
            )
        )


def format_source(text: str, file: str = "<input>") -> str:
    """``text`` in canonical layout, comments kept; raises ``ParseFailure``."""
    module = parse_module(text, file)
    return print_module(module, place_comments(module, text))


def format_file(path: str | Path, check: bool = False) -> FormatResult:
    """Format one file in place (or only report, with ``check``); ``-`` is stdin.

    Standard input is never written back: the caller prints ``formatted``.
    Raises ``ParseFailure`` for a file with a syntax error, ``OSError`` and
    ``UnicodeDecodeError`` for one that cannot be read.
    """
    name = str(path)
    if name == "-":
        original = sys.stdin.read()
        return FormatResult("<stdin>", original, format_source(original, "<stdin>"))
    with open(name, encoding="utf-8", newline="") as handle:
        original = handle.read()
    result = FormatResult(name, original, format_source(original, name))
    if result.changed and not check:
        with open(name, "w", encoding="utf-8", newline="") as handle:
            handle.write(result.formatted)
    return result


# --------------------------------------------------------------------------- placement


@attrs.frozen
class _Container:
    owner: ast.Node
    index: int
    open: int  # offset of the opening bracket; -1 for the module
    close: int  # offset of the closing bracket; the text's length for the module


_Slot = tuple[int, int, int]  # (kind, id of the anchor or container owner, container index)
_Order = tuple[int, int]  # (source offset, kind): the order in which the printer emits slots
_Placed = tuple[_Order, _Slot]


class CommentPlacement:
    """The printer's ``Trivia``: comments and blank lines, keyed by node identity."""

    def __init__(self) -> None:
        self._slots: dict[_Slot, list[CommentLine]] = {}
        self._blank: set[int] = set()

    def add(self, slot: _Slot, line: CommentLine) -> None:
        self._slots.setdefault(slot, []).append(line)

    def mark_blank(self, node: ast.Node) -> None:
        self._blank.add(id(node))

    def leading(self, node: ast.Node) -> Sequence[CommentLine]:
        return self._slots.get((_LEADING, id(node), 0), [])

    def trailing(self, node: ast.Node) -> Sequence[CommentLine]:
        return self._slots.get((_TRAILING, id(node), 0), [])

    def blank_before(self, node: ast.Node) -> bool:
        return id(node) in self._blank

    def opener(self, owner: ast.Node, index: int) -> Sequence[CommentLine]:
        return self._slots.get((_OPENER, id(owner), index), [])

    def closing(self, owner: ast.Node, index: int) -> Sequence[CommentLine]:
        return self._slots.get((_CLOSING, id(owner), index), [])


def place_comments(module: ast.Module, text: str) -> CommentPlacement:
    """Decide where each of ``module.comments`` goes, and where blank lines stay."""
    source = _Source(text, module.comments)
    layout = _Layout(module, source)
    placement = CommentPlacement()
    for anchor in layout.anchors:
        if source.blank_before(anchor.span.start):
            placement.mark_blank(anchor)
    previous: _Placed | None = None
    for comment, fallback in zip(module.comments, layout.enclosing_anchors(), strict=True):
        order, slot = layout.slot_for(comment, fallback)
        if previous is not None and order < previous[0]:
            order, slot = previous
        blank = source.blank_before(comment.span.start)
        placement.add(slot, CommentLine(comment.text.rstrip(), blank))
        previous = (order, slot)
    return placement


class _Source:
    """Questions about positions in the text: lines, blank lines, code around a point."""

    def __init__(self, text: str, comments: Sequence[ast.Comment]) -> None:
        self.text = text
        self.newlines = [m.start() for m in re.finditer("\n", text)]
        self.comment_ends = {c.span.start: c.span.end for c in comments}
        self.masked: list[tuple[int, int]] = [(c.span.start, c.span.end) for c in comments]

    def line_start(self, offset: int) -> int:
        index = bisect.bisect_left(self.newlines, offset)
        return self.newlines[index - 1] + 1 if index > 0 else 0

    def starts_line(self, offset: int) -> bool:
        return not self.text[self.line_start(offset) : offset].strip()

    def blank_before(self, offset: int) -> bool:
        """Whether ``offset`` begins its line and the line above is blank."""
        start = self.line_start(offset)
        if start == 0 or not self.starts_line(offset):
            return False
        return not self.text[self.line_start(start - 1) : start].strip()

    def code_before(self, offset: int) -> int:
        """End of the code before ``offset`` on its line (one comma skipped), or -1."""
        end = self._skip_back(offset)
        if end > 0 and self.text[end - 1] == ",":
            end = self._skip_back(end - 1)
        return end if end > 0 and self.text[end - 1] != "\n" else -1

    def _skip_back(self, offset: int) -> int:
        while offset > 0 and self.text[offset - 1] in " \t\r\f":
            offset -= 1
        return offset

    def code_after(self, offset: int) -> int:
        """Start of the next code after ``offset``, skipping blanks and comments."""
        text, length = self.text, len(self.text)
        while offset < length:
            if text[offset] in " \t\r\n\f":
                offset += 1
            elif offset in self.comment_ends:
                offset = self.comment_ends[offset]
            else:
                break
        return offset

    def find_code(self, char: str, offset: int) -> int:
        """The first ``char`` at or after ``offset`` outside strings and comments."""
        for match in re.finditer(re.escape(char), self.text[offset:]):
            position = offset + match.start()
            if not self.is_masked(position):
                return position
        return len(self.text)

    def is_masked(self, position: int) -> bool:
        index = bisect.bisect_right(self.masked, (position, len(self.text) + 1)) - 1
        return index >= 0 and self.masked[index][0] <= position < self.masked[index][1]


class _Layout:
    """The anchors and containers the printer will print, located in the source."""

    def __init__(self, module: ast.Module, source: _Source) -> None:
        self.source = source
        self.module = module
        self.anchors: list[ast.Node] = []
        self.containers: list[_Container] = []
        owners: list[ast.Node] = []
        self.option_braces: list[int] = []
        for node in _outside_templates(module):
            self._visit(node, owners)
        source.masked.sort()
        self.option_braces = [source.find_code("{", end) for end in self.option_braces]
        self._add_blocks(owners)
        self.containers.append(_Container(module, 0, -1, len(source.text)))
        self.anchors.sort(key=lambda a: (a.span.start, -a.span.end))
        self.by_start = _first_by(self.anchors, lambda a: a.span.start)
        self.by_end = _first_by(self.anchors, lambda a: a.span.end)
        self.by_open = {c.open: c for c in self.containers if c.open >= 0}
        self.by_close = {c.close: c for c in self.containers}

    def _visit(self, node: ast.Node, owners: list[ast.Node]) -> None:
        if isinstance(node, _ANCHORS) or (isinstance(node, ast.Branch) and _owns_blocks(node)):
            self.anchors.append(node)
        if isinstance(node, _BRACKETED):
            self.containers.append(_Container(node, 0, node.span.start, node.span.end - 1))
        if isinstance(node, ast.ListLit):
            self.anchors.extend(node.items)
        if isinstance(node, ast.Template | ast.ImportDecl) or _is_string(node):
            self.source.masked.append((node.span.start, node.span.end))
        if isinstance(node, ast.FlowDecl):
            self.containers.append(self._params(node))
        if isinstance(node, _BLOCK_OWNERS) and _owns_blocks(node):
            owners.append(node)
        if isinstance(node, ast.FailStmt) and (node.status or node.data) is not None:
            # the braces of `fail KIND "message" {status: .., data: ..}` are no block
            self.option_braces.append(node.value.span.end)

    def _params(self, flow: ast.FlowDecl) -> _Container:
        opening = self.source.find_code("(", flow.span.start)
        last = flow.params[-1].span.end if flow.params else opening + 1
        return _Container(flow, PARAMS_INDEX, opening, self.source.find_code(")", last))

    def _add_blocks(self, owners: list[ast.Node]) -> None:
        bracketed = {c.open for c in self.containers} | set(self.option_braces)
        pairs = [p for p in _brace_pairs(self.source) if p[0] not in bracketed]
        counts: dict[int, int] = {}
        for (opening, closing), owner in zip(pairs, _innermost(owners, pairs), strict=True):
            if owner is None or not _prints_block(owner):
                continue
            index = counts.get(id(owner), 0)
            counts[id(owner)] = index + 1
            self.containers.append(_Container(owner, index, opening, closing))

    def enclosing_anchors(self) -> list[ast.Node | None]:
        """For each comment, the innermost anchor around it (None: none)."""
        points = [(c.span.start, c.span.start) for c in self.module.comments]
        return _innermost(self.anchors, points)

    def slot_for(self, comment: ast.Comment, fallback: ast.Node | None) -> _Placed:
        """The slot a comment goes to, with its (offset, kind) emission order."""
        source, start = self.source, comment.span.start
        if source.starts_line(start):
            found = self._before_next_code(source.code_after(comment.span.end))
        else:
            found = self._after_code(source.code_before(start))
        if found is None:
            found = _leading(fallback) if fallback is not None else _closing(self.containers[-1])
        return found

    def _before_next_code(self, offset: int) -> _Placed | None:
        anchor = self.by_start.get(offset)
        if anchor is not None:
            return _leading(anchor)
        container = self.by_close.get(offset)
        return _closing(container) if container is not None else None

    def _after_code(self, end: int) -> _Placed | None:
        anchor = self.by_end.get(end)
        if anchor is not None:
            return (end, _TRAILING), (_TRAILING, id(anchor), 0)
        container = self.by_open.get(end - 1)
        if container is None:
            return None
        return (end, _OPENER), (_OPENER, id(container.owner), container.index)


def _leading(anchor: ast.Node) -> _Placed:
    return (anchor.span.start, _LEADING), (_LEADING, id(anchor), 0)


def _closing(container: _Container) -> _Placed:
    return (container.close, _CLOSING), (_CLOSING, id(container.owner), container.index)


# --------------------------------------------------------------------------- helpers


def _outside_templates(root: ast.Node) -> Iterator[ast.Node]:
    """Every node, in source order, except those inside interpolated strings."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, ast.Template):
            children = list(ast.iter_children(node))
            children.reverse()
            stack.extend(children)


def _is_string(node: ast.Node) -> bool:
    return isinstance(node, ast.Literal) and node.kind in ("string", "bytes")


def _owns_blocks(node: ast.Node) -> bool:
    """A parallel branch written without ``branch { }`` is just its statement."""
    return not isinstance(node, ast.Branch) or node.grouped


def _prints_block(owner: ast.Node) -> bool:
    """A service or step prints its clause block only when it has clauses."""
    if isinstance(owner, ast.ServiceDecl | ast.StepStmt):
        return bool(owner.clauses)
    return True


def _first_by(anchors: list[ast.Node], key: Callable[[ast.Node], int]) -> dict[int, ast.Node]:
    """The outermost anchor at each offset (``anchors`` is sorted outermost first)."""
    found: dict[int, ast.Node] = {}
    for anchor in anchors:
        found.setdefault(key(anchor), anchor)
    return found


def _brace_pairs(source: _Source) -> list[tuple[int, int]]:
    """Every structural ``{ }`` pair, by the position of the ``{``."""
    pairs: list[tuple[int, int]] = []
    stack: list[int] = []
    for match in re.finditer("[{}]", source.text):
        position = match.start()
        if source.is_masked(position):
            continue
        if match.group() == "{":
            stack.append(position)
        elif stack:
            pairs.append((stack.pop(), position))
    pairs.sort()
    return pairs


def _innermost(nodes: list[ast.Node], ranges: list[tuple[int, int]]) -> list[ast.Node | None]:
    """For each (start, end) range, sorted by start, the smallest node span around it.

    A sweep: ``stack`` holds the nodes open at the current position, nested,
    innermost last (spans of a tree nest), so each query is answered at its top.
    """
    ordered = sorted(nodes, key=lambda n: (n.span.start, -n.span.end))
    result: list[ast.Node | None] = []
    stack: list[ast.Node] = []
    next_node = 0
    for start, end in ranges:
        while next_node < len(ordered) and ordered[next_node].span.start <= start:
            node = ordered[next_node]
            next_node += 1
            while stack and stack[-1].span.end <= node.span.start:
                stack.pop()
            stack.append(node)
        while stack and stack[-1].span.end <= start:
            stack.pop()
        result.append(stack[-1] if stack and end < stack[-1].span.end else None)
    return result
