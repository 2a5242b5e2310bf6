"""YAML to a positioned ``Document``: ruamel.yaml's events, composed here.

ruamel.yaml parses (its C parser, libyaml, when ``ruamel.yaml.clib`` is installed,
else its pure-Python one; both emit the same events with character offsets), and
this module composes the events into ``document`` nodes with an explicit stack:

* ruamel's own composer recurses, and its C version overflows the C stack (a
  crash, not an exception) on a few thousand nested ``[`` (measured: 100,000 crash
  it); the events come from libyaml's iterative parser, and the stack here stops at
  ``MAX_DEPTH``.
* Its resolver, which types plain scalars, costs about 10 µs a scalar (~0.7 s
  for a 2,000-step definition).  Scalars are typed here by the YAML 1.2 core schema
  (the spec's table of null, bool, int and float patterns), which is what a YAML 1.2
  reader must do; so ``on``, ``yes`` and ``no`` are strings, as in JSON-minded
  YAML 1.2, not YAML 1.1's booleans.

Explicit tags may be the core ones (``!!str 12``, ``!!int "3"``, ``!!map``...) or
the non-specific ``!``; any other tag is refused, never constructed, so no
document can ask for a Python object.  Aliases share the anchored node; the
expanded size of the graph is counted and bounded (``MAX_EXPANDED_NODES``).
Mapping keys must be scalars and are taken as written (``200: x`` has the key
``"200"``).  A stream must hold exactly one document.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any, Final

from flowc.compiler.definitions.document import (
    MAX_DEPTH,
    MAX_EXPANDED_NODES,
    Document,
    DocumentError,
    Mapping,
    Node,
    Scalar,
    ScalarValue,
    Sequence,
)

_CORE: Final = "tag:yaml.org,2002:"
_NULLS: Final = frozenset({"", "~", "null", "Null", "NULL"})
_BOOLS: Final = {"true": True, "True": True, "TRUE": True, "false": False, "False": False}
_BOOLS["FALSE"] = False
_DECIMAL: Final = re.compile(r"[-+]?[0-9]+")
_OCTAL: Final = re.compile(r"0o[0-7]+")
_HEX: Final = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT: Final = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_INFINITY: Final = re.compile(r"[-+]?\.(?:inf|Inf|INF)")
_NAN: Final = re.compile(r"\.(?:nan|NaN|NAN)")
_MAYBE_NOT_STRING: Final = frozenset("0123456789+-.~nNtTfF")


def resolve_plain(text: str) -> ScalarValue:
    """The value of an untagged plain scalar under the YAML 1.2 core schema."""
    if text and text[0] not in _MAYBE_NOT_STRING:
        return text
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if _DECIMAL.fullmatch(text):
        return int(text)
    if _OCTAL.fullmatch(text):
        return int(text[2:], 8)
    if _HEX.fullmatch(text):
        return int(text[2:], 16)
    if _FLOAT.fullmatch(text):
        return float(text)
    if _INFINITY.fullmatch(text):
        return float("-inf") if text[0] == "-" else float("inf")
    if _NAN.fullmatch(text):
        return float("nan")
    return text


def _tagged(tag: str, text: str, start: int, end: int) -> ScalarValue:
    """The value of a scalar with an explicit core tag."""
    kind = tag.removeprefix(_CORE)
    if kind == "str":
        return text
    value = resolve_plain(text)
    fits = {
        "null": value is None,
        "bool": isinstance(value, bool),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, int | float) and not isinstance(value, bool),
    }
    if kind not in fits:
        raise DocumentError(f"the tag `!!{kind}` does not apply to a scalar", start, end)
    if not fits[kind]:
        raise DocumentError(f"`{text}` is not a valid `!!{kind}`", start, end)
    if kind == "float":
        assert isinstance(value, int | float)
        return float(value)
    return value


class _Frame:
    """A mapping or sequence being composed."""

    __slots__ = ("anchor", "is_mapping", "items", "key", "keys", "start")

    def __init__(self, is_mapping: bool, start: int, anchor: str | None) -> None:
        self.is_mapping = is_mapping
        self.start = start
        self.anchor = anchor
        self.items: list[Any] = []
        self.key: Scalar | None = None
        self.keys: set[str] = set()

    def expects_key(self) -> bool:
        return self.is_mapping and self.key is None


def _ignore(event: Any) -> None:
    """Stream and document ends, and other events that make no node."""


class _Composer:
    def __init__(self, file: str, text: str) -> None:
        self.file = file
        self.text = text
        self.stack: list[_Frame] = []
        self.anchors: dict[str, Node] = {}
        self.sizes: dict[int, int] = {}
        self.expanded = 0
        self.root: Node | None = None
        self.documents = 0
        self.duplicates: list[Scalar] = []

    def compose(self, events: Iterator[Any]) -> Document:
        handlers: dict[type, Any] = {}
        for event in events:
            kind = type(event)
            handler = handlers.get(kind)
            if handler is None:
                handler = handlers[kind] = getattr(self, "on_" + kind.__name__, _ignore)
            handler(event)
        if self.root is None:
            raise DocumentError("the file holds no YAML document", 0)
        document = Document("yaml", self.file, self.text, self.root)
        document.duplicate_keys = self.duplicates
        return document

    # ------------------------------------------------------------------ events

    def on_DocumentStartEvent(self, event: Any) -> None:
        self.documents += 1
        if self.documents > 1:
            index = event.start_mark.index
            raise DocumentError("a flow definition is one YAML document, not several", index)

    def on_ScalarEvent(self, event: Any) -> None:
        start, end = event.start_mark.index, event.end_mark.index
        text: str = event.value
        tag = event.tag
        style = event.style or "plain"
        if self.stack and self.stack[-1].expects_key():
            self._set_key(Scalar(text, start, end, style))
            return
        if tag is None:
            value = resolve_plain(text) if style == "plain" else text
        elif tag == "!":
            value = text
        elif tag.startswith(_CORE):
            value = _tagged(tag, text, start, end)
        else:
            raise DocumentError(f"unsupported YAML tag `{tag}`", start, end)
        self._add(Scalar(value, start, end, style), event.anchor, 1)

    def on_SequenceStartEvent(self, event: Any) -> None:
        self._open(event, is_mapping=False)

    def on_MappingStartEvent(self, event: Any) -> None:
        self._open(event, is_mapping=True)

    def on_SequenceEndEvent(self, event: Any) -> None:
        frame = self.stack.pop()
        node = Sequence(frame.items, frame.start, event.end_mark.index)
        self._add(node, frame.anchor, 1 + sum(self.sizes.get(id(i), 1) for i in frame.items))

    def on_MappingEndEvent(self, event: Any) -> None:
        frame = self.stack.pop()
        node = Mapping(frame.items, frame.start, event.end_mark.index)
        size = 1 + sum(1 + self.sizes.get(id(value), 1) for _, value in frame.items)
        self._add(node, frame.anchor, size)

    def on_AliasEvent(self, event: Any) -> None:
        if self.stack and self.stack[-1].expects_key():
            start = event.start_mark.index
            raise DocumentError("mapping keys must be plain text", start, start + 1)
        node = self.anchors.get(event.anchor)
        if node is None:
            raise DocumentError(
                f"unknown anchor `*{event.anchor}`", event.start_mark.index, event.end_mark.index
            )
        self._add(node, None, self.sizes.get(id(node), 1), alias=True)

    # ------------------------------------------------------------------ composing

    def _open(self, event: Any, *, is_mapping: bool) -> None:
        start = event.start_mark.index
        if self.stack and self.stack[-1].expects_key():
            raise DocumentError("mapping keys must be plain text", start, start + 1)
        tag = event.tag
        wanted = "map" if is_mapping else "seq"
        if tag not in (None, "!", _CORE + wanted):
            raise DocumentError(f"unsupported YAML tag `{tag}`", start, start + len(tag))
        if len(self.stack) >= MAX_DEPTH:
            raise DocumentError(f"nested more than {MAX_DEPTH} levels deep", start)
        self.stack.append(_Frame(is_mapping, start, event.anchor))

    def _add(self, node: Node, anchor: str | None, size: int, *, alias: bool = False) -> None:
        if not alias and size > 1:
            self.sizes[id(node)] = size
        self.expanded += size if alias else 1
        if self.expanded > MAX_EXPANDED_NODES:
            raise DocumentError(
                f"the document expands to more than {MAX_EXPANDED_NODES:,} values "
                "(through its aliases)",
                node.start,
            )
        if anchor is not None:
            self.anchors[anchor] = node
        if not self.stack:
            self.root = node
            return
        frame = self.stack[-1]
        if not frame.is_mapping:
            frame.items.append(node)
        elif frame.key is None:
            raise DocumentError("mapping keys must be plain text", node.start, node.start + 1)
        else:
            frame.items.append((frame.key, node))
            frame.key = None

    def _set_key(self, key: Scalar) -> None:
        """A key is its text as written: ``200: x`` has the key ``"200"``."""
        frame = self.stack[-1]
        if key.value in frame.keys:
            self.duplicates.append(key)
        frame.keys.add(str(key.value))
        frame.key = key
        self.expanded += 1


def _events(text: str) -> Iterator[Any]:
    """ruamel.yaml's parse events for ``text``, from its C parser when it is installed."""
    try:
        from ruamel.yaml.cyaml import CParser  # type: ignore[attr-defined]
    except ImportError:
        from ruamel.yaml import YAML

        yield from YAML(typ="safe", pure=True).parse(text)
        return
    parser = CParser(text)
    try:
        while parser.check_event():
            yield parser.get_event()
    finally:
        parser.dispose()


def read_yaml(file: str, text: str) -> Document:
    """Parse YAML ``text``; ``DocumentError`` with a position when it is not well formed."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    composer = _Composer(file, text)
    try:
        return composer.compose(_events(text))
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        problem = error.problem or error.context or "invalid YAML"
        raise DocumentError(problem, mark.index if mark is not None else 0) from None
    except ReaderError as error:
        raise DocumentError(_reader_problem(error), error.position) from None
    except YAMLError as error:
        raise DocumentError(str(error).splitlines()[0], 0) from None


def _reader_problem(error: Any) -> str:
    reason = str(getattr(error, "reason", "") or "")
    return reason or "the text cannot be read as YAML"
