"""Incremental parsing: re-parse only the declarations that changed.

Parsing is the largest cost of an analysis (Lark parses a few thousand lines
a second), and a keystroke changes one declaration.  ``ChunkedParseCache`` is
a ``loader.ParseCache`` — the loader asks it for every module it loads — that
splits a file into *chunks*, one per top-level declaration, and keeps the
parse of each chunk:

* A chunk starts at a line that begins (in column 1) with ``import "``,
  ``type NAME =``, ``const NAME``, ``service NAME`` or ``flow NAME(``.  The
  statement keywords ``import``, ``const``, ``service`` and ``flow`` are
  reserved, and no statement begins with ``type NAME =``, so such a line can
  only start a declaration — unless it lies inside a triple-quoted string,
  whose extent is found with the grammar's own string regex and excluded.
  Text before the first declaration (a header comment) is chunk zero.
* A chunk is parsed on its own, and its tree is moved to the chunk's place
  in the file by ``SpanShifter`` (below): a chunk starts at a line start, so
  columns need no change, and every line, column and offset in its tree is
  exactly what a whole-file parse gives.  A chunk that does not parse is
  parsed again *in place* — preceded by a run of whitespace holding as many
  characters and newlines as the text before it, which the lexer skips as
  one token — so its diagnostic is a whole-file parse's too.  (Padding every
  chunk cost time in its offset: a first parse quadratic in the file's
  length, minutes for a few MiB.)
* A chunk whose text is unchanged but which moved (an edit above it added a
  line, or a character) is not re-parsed: its tree is rebuilt with shifted
  spans by ``SpanShifter``, a per-class generated copier that is several
  times cheaper than parsing.
* The module is the concatenation of the chunks' declarations and comments.
  If a chunk does not parse, the file does not parse: the result is the first
  failing chunk's diagnostic, as from a whole-file parse (an unclosed ``{``
  is reported at the end of its own declaration rather than at the next).

Results are cached per path and text, so an unchanged import costs a
dictionary lookup, as with the base class.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

import attrs

from flowc.compiler import ast
from flowc.compiler.diagnostics import Diagnostic, ParseFailure
from flowc.compiler.loader import ParseCache
from flowc.compiler.parser import parse_module

DECLARATION_START: Final = re.compile(
    r"^(?=import[ \t]+[\"']|type[ \t]+\w+[ \t]*="
    r"|const[ \t]+\w|service[ \t]+\w|flow[ \t]+\w+[ \t]*\()",
    re.MULTILINE,
)

ParseResult = tuple[ast.Module | None, Diagnostic | None]


def _string_pattern() -> re.Pattern[str]:
    """The grammar's string token, to find where triple-quoted strings lie."""
    from flowc.compiler.parser import GRAMMAR_PATH

    grammar = GRAMMAR_PATH.read_text(encoding="utf-8")
    match = re.search(r"^STRING:\s*/(.*)/\s*$", grammar, re.MULTILINE)
    body = match.group(1) if match else r"\"\"\"[\s\S]*?\"\"\"|'''[\s\S]*?'''"
    return re.compile(r"#[^\n]*|" + body)


_STRINGS: re.Pattern[str] | None = None


def string_regions_pattern() -> re.Pattern[str]:
    """A regex matching comments and string literals (compiled once)."""
    global _STRINGS
    if _STRINGS is None:
        _STRINGS = _string_pattern()
    return _STRINGS


def string_regions(text: str) -> list[tuple[int, int]]:
    """Where multi-line strings lie (only they can contain a line start)."""
    if '"""' not in text and "'''" not in text:
        return []
    return [m.span() for m in string_regions_pattern().finditer(text) if "\n" in m.group()]


def chunk_starts(text: str) -> list[int]:
    """Offsets where chunks start: 0, then each declaration start."""
    starts = [m.start() for m in DECLARATION_START.finditer(text)]
    regions = string_regions(text)
    if regions:
        starts = [s for s in starts if not any(a < s < b for a, b in regions)]
    if not starts or starts[0] != 0:
        starts.insert(0, 0)
    return starts


# --------------------------------------------------------------------------- shifting spans


PLAIN_TYPES: Final = frozenset({"str", "int", "bool", "float", "bytes", "None"})


def _is_plain(annotation: object) -> bool:
    """Whether a field annotation (a string, as modules use postponed annotations)
    names only immutable scalars, which a copy can share."""
    if not isinstance(annotation, str):
        return False
    return all(part.strip() in PLAIN_TYPES for part in annotation.split("|"))


def _slot_setter(kind: type, name: str) -> Callable[[Any, Any], None]:
    """The ``__set__`` of a slot's descriptor (bypasses the frozen ``__setattr__``)."""
    for klass in kind.__mro__:
        descriptor = klass.__dict__.get(name)
        if descriptor is not None and hasattr(descriptor, "__set__"):
            setter: Callable[[Any, Any], None] = descriptor.__set__
            return setter
    raise AttributeError(f"{kind.__name__} has no slot {name!r}")


class SpanShifter:
    """Copies syntax trees with every span moved by a number of lines and characters.

    Nodes are frozen, slotted attrs classes.  For each class a small function
    is generated that allocates the copy with ``object.__new__`` and fills its
    slots through their descriptors, shifting spans inline; scalar fields are
    shared, node and tuple fields are copied recursively.  This avoids attrs'
    ``__init__``/``evolve`` and all per-field type tests, and runs several
    times faster than re-parsing the same text.
    """

    def __init__(self) -> None:
        copiers: dict[type, Callable[[Any, int, int], Any]] = {}

        def shift(value: Any, lines: int, chars: int) -> Any:
            kind = type(value)
            copier = copiers.get(kind)
            if copier is not None:
                return copier(value, lines, chars)
            if kind is tuple:
                return tuple([shift(item, lines, chars) for item in value])
            if isinstance(value, ast.Node):
                copier = copiers[kind] = self._make_copier(kind)
                return copier(value, lines, chars)
            return value

        self.shift = shift

    def _make_copier(self, kind: type) -> Callable[[Any, int, int], Any]:
        body = ["def copy(node, lines, chars):", "    new = new_object(kind)"]
        namespace: dict[str, Any] = {
            "new_object": object.__new__,
            "tuple_new": tuple.__new__,
            "Span": ast.Span,
            "kind": kind,
            "shift": self.shift,
        }
        for number, field in enumerate(attrs.fields(kind)):
            name, setter = field.name, f"set_{number}"
            namespace[setter] = _slot_setter(kind, name)
            if name in ("span", "name_span"):
                body.append(f"    v = node.{name}")
                body.append(
                    f"    {setter}(new, v if not v[1] else tuple_new(Span, (v[0], v[1] + lines, "
                    "v[2], v[3] + lines, v[4], v[5] + chars, v[6] + chars)))"
                )
            elif name in ("raw", "comments") or _is_plain(field.type):
                body.append(f"    {setter}(new, node.{name})")
            else:
                body.append(f"    {setter}(new, shift(node.{name}, lines, chars))")
        body.append("    return new")
        exec(compile("\n".join(body), f"<shift {kind.__name__}>", "exec"), namespace)
        copier: Callable[[Any, int, int], Any] = namespace["copy"]
        return copier


# --------------------------------------------------------------------------- the cache


@attrs.define(eq=False)
class Chunk:
    """One parsed declaration (or header) at a place in its file."""

    text: str
    line: int  # 1-based line of its first character
    offset: int
    decls: tuple[ast.Decl, ...] = ()
    comments: tuple[ast.Comment, ...] = ()
    failure: Diagnostic | None = None


@attrs.define(eq=False)
class FileChunks:
    text: str
    result: ParseResult
    chunks: list[Chunk] = attrs.field(factory=list)


class ChunkedParseCache(ParseCache):
    """A parse cache that re-parses only the top-level declarations that changed."""

    def __init__(self) -> None:
        super().__init__()
        self._files: dict[str, FileChunks] = {}
        self._shifter = SpanShifter()
        self.parsed_chunks = 0  # statistics, for tests and the benchmark
        self.reused_chunks = 0

    def parse(self, path: str, text: str) -> ParseResult:
        previous = self._files.get(path)
        if previous is not None and previous.text == text:
            return previous.result
        old_chunks: dict[str, list[Chunk]] = {}
        for chunk in previous.chunks if previous is not None else ():
            old_chunks.setdefault(chunk.text, []).append(chunk)
        current = FileChunks(text, (None, None))
        failure: Diagnostic | None = None
        starts = chunk_starts(text)
        line = 1
        for index, start in enumerate(starts):
            end = starts[index + 1] if index + 1 < len(starts) else len(text)
            piece = text[start:end]
            chunk, problem = self._chunk(path, piece, line, start, old_chunks)
            current.chunks.append(chunk)
            failure = failure or problem
            line += piece.count("\n")
        current.result = (None, failure) if failure else (self._module(path, current), None)
        self._files[path] = current
        return current.result

    def _chunk(
        self, path: str, piece: str, line: int, offset: int, old: dict[str, list[Chunk]]
    ) -> tuple[Chunk, Diagnostic | None]:
        if not piece.strip():
            return Chunk(piece, line, offset), None
        candidates = old.get(piece, [])
        same_place = [c for c in candidates if c.offset == offset and c.line == line]
        reusable = same_place or [c for c in candidates if c.failure is None]
        if reusable:
            previous = reusable[0]
            candidates.remove(previous)
            self.reused_chunks += 1
            return self._moved(previous, line, offset), previous.failure
        self.parsed_chunks += 1
        try:
            module = parse_module(piece, path)
        except ParseFailure:
            return self._parse_in_place(path, piece, line, offset)
        parsed = Chunk(piece, 1, 0, module.decls, module.comments)
        return self._moved(parsed, line, offset), None

    @staticmethod
    def _parse_in_place(
        path: str, piece: str, line: int, offset: int
    ) -> tuple[Chunk, Diagnostic | None]:
        """Parse a chunk after as much whitespace as precedes it in its file, so that
        its syntax error is exactly the one a whole-file parse reports.  Only a chunk
        that does not parse comes here: the padding costs time in the chunk's offset,
        and paying it for every chunk made parsing a file quadratic in its length."""
        padding = " " * (offset - line + 1) + "\n" * (line - 1)
        try:
            module = parse_module(padding + piece, path)
        except ParseFailure as failure:
            return Chunk(piece, line, offset, failure=failure.diagnostic), failure.diagnostic
        return Chunk(piece, line, offset, module.decls, module.comments), None

    def _moved(self, chunk: Chunk, line: int, offset: int) -> Chunk:
        lines, chars = line - chunk.line, offset - chunk.offset
        if not lines and not chars:
            return chunk
        shift = self._shifter.shift
        return Chunk(
            chunk.text,
            line,
            offset,
            shift(chunk.decls, lines, chars),
            shift(chunk.comments, lines, chars),
        )

    @staticmethod
    def _module(path: str, file: FileChunks) -> ast.Module:
        decls = tuple(d for chunk in file.chunks for d in chunk.decls)
        comments = tuple(c for chunk in file.chunks for c in chunk.comments)
        span = decls[0].span.to(decls[-1].span) if decls else ast.Span(path, 1, 1, 1, 1)
        return ast.Module(decls, comments=comments, span=span)

    def forget(self, path: str) -> None:
        """Drop what is cached for ``path`` (a closed document)."""
        self._files.pop(path, None)
