"""Positioned documents: JSON and YAML read into a tree that knows where each value is.

A flow definition is data, but its diagnostics must point at the line and column of
the file, so the reader keeps, for every mapping, sequence and scalar, the character
offsets where it starts and ends (``Node.start``/``Node.end``); ``Document.span``
turns them into a ``Span`` with a ``LineIndex`` only when a span is wanted.

Nothing here knows about flows: the translator (``steplist.py``), the schema
validator (``schema.py``) and readers of other document kinds use the same tree.

JSON.  Python's ``json`` module parses (in C, and with its exact error positions),
with ``object_pairs_hook`` so that duplicate keys survive to be reported.  It gives
no positions, so one regular expression then finds the tokens that start values and
keys (``{ [ } ] "string" number true false null``) and the value tree is walked in
step with them: every object, array, key and scalar takes the next token, which is
its own because ``json`` has already proved the text well formed.  ``NaN`` and
``Infinity``, which ``json`` accepts by default, are refused.

YAML (through ``yaml_reader.py``).  ruamel.yaml's parser (libyaml in C, or ruamel's
pure-Python one when the C extension is not installed) composes the node graph;
scalars are typed by the YAML 1.2 core schema (``yaml_reader`` says why flowc
resolves them itself).

Bounds.  Nesting deeper than ``MAX_DEPTH`` is refused before any recursive walk; a
YAML alias makes the tree a graph whose expanded size is counted, so that a
"billion laughs" document is refused instead of walked (``MAX_EXPANDED_NODES``);
files are at most 1 MiB (the loader's limit).  Problems are ``DocumentError``\\ s
with a position; duplicate keys are collected in ``Document.duplicate_keys``.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterator
from typing import Final, Literal, TypeAlias

from flowc.common.span import Span

MAX_DEPTH: Final = 200
MAX_EXPANDED_NODES: Final = 1_000_000

DocumentKind: TypeAlias = Literal["json", "yaml"]
ScalarValue: TypeAlias = str | int | float | bool | None
PathItem: TypeAlias = str | int
Plain: TypeAlias = "dict[str, Plain] | list[Plain] | ScalarValue"


class DocumentError(Exception):
    """The text is not a well-formed document; ``start`` is a character offset."""

    def __init__(self, message: str, start: int, end: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = start + 1 if end is None else end


# --------------------------------------------------------------------------- the tree


class Node:
    """A value of the document, with the offsets of its first and after its last character."""

    __slots__ = ("end", "start")

    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.end = end


class Scalar(Node):
    """A string, number, boolean or null.

    ``style`` says how it was written: ``plain`` (unquoted), ``'`` or ``"``
    (quoted), ``|`` or ``>`` (YAML block scalars).  Keys are scalars too.
    """

    __slots__ = ("style", "value")

    def __init__(self, value: ScalarValue, start: int, end: int, style: str = "plain") -> None:
        self.start = start
        self.end = end
        self.value = value
        self.style = style

    def __repr__(self) -> str:
        return f"Scalar({self.value!r})"


class Sequence(Node):
    __slots__ = ("items",)

    def __init__(self, items: list[Node], start: int, end: int) -> None:
        self.start = start
        self.end = end
        self.items = items

    def __repr__(self) -> str:
        return f"Sequence({self.items!r})"


class Mapping(Node):
    """Key-value pairs in document order; ``get`` finds the last value of a key."""

    __slots__ = ("_index", "entries")

    def __init__(self, entries: list[tuple[Scalar, Node]], start: int, end: int) -> None:
        self.start = start
        self.end = end
        self.entries = entries
        self._index: dict[str, tuple[Scalar, Node]] | None = None

    def index(self) -> dict[str, tuple[Scalar, Node]]:
        if self._index is None:
            self._index = {str(key.value): (key, value) for key, value in self.entries}
        return self._index

    def get(self, key: str) -> Node | None:
        entry = self.index().get(key)
        return None if entry is None else entry[1]

    def key(self, key: str) -> Scalar | None:
        entry = self.index().get(key)
        return None if entry is None else entry[0]

    def __contains__(self, key: str) -> bool:
        return key in self.index()

    def __repr__(self) -> str:
        return f"Mapping({self.entries!r})"


class LineIndex:
    """Offsets to 1-based (line, column), by bisection over the line starts.

    Readers ask in document order, mostly about the line they asked about last, so
    that line is tried first (``_line``, ``_low``, ``_high``: its bounds).
    """

    def __init__(self, text: str) -> None:
        self.starts = [0, *(m.end() for m in re.finditer("\n", text))]
        self.starts.append(len(text) + 1)  # a sentinel: the line after the last
        self._line, self._low, self._high = 0, 0, self.starts[1]

    def position(self, offset: int) -> tuple[int, int]:
        if not self._low <= offset < self._high:
            starts = self.starts
            line = self._line + 1
            if not (line + 1 < len(starts) and starts[line] <= offset < starts[line + 1]):
                line = min(bisect.bisect_right(starts, offset) - 1, len(starts) - 2)
            self._line, self._low, self._high = line, starts[line], starts[line + 1]
        return self._line + 1, offset - self._low + 1

    def span(self, file: str, start: int, end: int) -> Span:
        line, col = self.position(start)
        if end < self._high:  # on the same line
            return Span(file, line, col, line, col + end - start, start, end)
        end_line, end_col = self.position(end)
        return Span(file, line, col, end_line, end_col, start, end)


class Document:
    """A parsed document: its root node, its text and where to find things in it."""

    def __init__(self, kind: DocumentKind, file: str, text: str, root: Node) -> None:
        self.kind = kind
        self.file = file
        self.text = text
        self.root = root
        self.lines = LineIndex(text)
        self.duplicate_keys: list[Scalar] = []

    def span(self, node: Node) -> Span:
        return self.lines.span(self.file, node.start, node.end)

    def span_between(self, first: Node, last: Node) -> Span:
        return self.lines.span(self.file, first.start, last.end)

    def node_at(self, path: Iterator[PathItem] | list[PathItem]) -> tuple[Node, Scalar | None]:
        """The node at a JSON path, and the key it is the value of (None for the root
        or a sequence item); stops at the deepest node that exists."""
        node, key = self.root, None
        for item in path:
            if isinstance(node, Mapping) and isinstance(item, str) and item in node:
                key, child = node.index()[item]
                node = child
            elif isinstance(node, Sequence) and isinstance(item, int) and item < len(node.items):
                node, key = node.items[item], None
            else:
                break
        return node, key


def to_plain(node: Node) -> Plain:
    """The node as plain Python data (dicts, lists, scalars), as ``json.loads`` gives."""
    if isinstance(node, Scalar):
        return node.value
    if isinstance(node, Sequence):
        return [to_plain(item) for item in node.items]
    assert isinstance(node, Mapping)
    return {str(key.value): to_plain(value) for key, value in node.entries}


def read_document(kind: DocumentKind, file: str, text: str) -> Document:
    """Parse ``text`` as JSON or YAML; ``DocumentError`` when it is not well formed."""
    if kind == "json":
        return _JsonReader(file, text).read()
    from flowc.compiler.definitions.yaml_reader import read_yaml

    return read_yaml(file, text)


# --------------------------------------------------------------------------- JSON

_JSON_TOKEN: Final = re.compile(
    r'"(?:[^"\\]|\\.)*"|[{}\[\]]|-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?'
    r"|true|false|null"
)


class _Pairs(list[tuple[str, object]]):
    """A JSON object as ``json`` hands it over: its pairs, duplicates kept."""


def _refuse_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


class _JsonReader:
    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.text = text
        self.duplicates: list[Scalar] = []

    def read(self) -> Document:
        try:
            value = json.loads(self.text, object_pairs_hook=_Pairs, parse_constant=_refuse_constant)
        except json.JSONDecodeError as error:
            raise DocumentError(error.msg, error.pos) from None
        except RecursionError:
            raise DocumentError(f"nested more than {MAX_DEPTH} levels deep", 0) from None
        except ValueError as error:
            raise DocumentError(str(error), self._constant_offset()) from None
        self.tokens = _JSON_TOKEN.finditer(self.text)
        root = self._node(value, 0)
        document = Document("json", self.file, self.text, root)
        document.duplicate_keys = self.duplicates
        return document

    def _constant_offset(self) -> int:
        found = re.search(r"-?\b(?:NaN|Infinity)\b", self.text)
        return found.start() if found else 0

    def _node(self, value: object, depth: int) -> Node:
        token = next(self.tokens)
        if isinstance(value, _Pairs):
            if depth >= MAX_DEPTH:
                raise DocumentError(f"nested more than {MAX_DEPTH} levels deep", token.start())
            return self._mapping(value, token.start(), depth)
        if isinstance(value, list):
            if depth >= MAX_DEPTH:
                raise DocumentError(f"nested more than {MAX_DEPTH} levels deep", token.start())
            items = [self._node(item, depth + 1) for item in value]
            return Sequence(items, token.start(), next(self.tokens).end())
        style = '"' if isinstance(value, str) else "plain"
        return Scalar(value, token.start(), token.end(), style)  # type: ignore[arg-type]

    def _mapping(self, pairs: _Pairs, start: int, depth: int) -> Mapping:
        entries: list[tuple[Scalar, Node]] = []
        seen: set[str] = set()
        for key, value in pairs:
            token = next(self.tokens)
            key_node = Scalar(key, token.start(), token.end(), '"')
            if key in seen:
                self.duplicates.append(key_node)
            seen.add(key)
            entries.append((key_node, self._node(value, depth + 1)))
        return Mapping(entries, start, next(self.tokens).end())
