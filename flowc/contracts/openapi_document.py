"""Reading an OpenAPI document's text, and pointing into it.

``parse_document(text, path)`` turns a document into plain JSON values (dicts, lists,
strings, numbers, booleans, None).  JSON is read by the standard library (a 13 MB
description such as GitHub's takes ~0.15 s); anything else is read as YAML 1.2 by
ruamel.yaml's round-trip loader, imported on first use.  YAML values that JSON has
no word for (timestamps, binary, non-string keys) become strings, as the OpenAPI
specification asks of documents ("MUST be representable as JSON").  A document
that does not parse raises ``DocumentSyntaxError`` with the line and column the
parser stopped at.

Diagnostics about a document's content point at JSON pointers (``/paths/~1pets/get``).
``locate(text, pointers)`` finds them in the text only when a diagnostic needs them:
YAML through the positions ruamel.yaml keeps on its nodes, JSON with a small scanner
that walks the text once for all the pointers asked about.  A pointer that is not in
the text (a missing key) resolves to its nearest existing ancestor.

Bounds: a document is at most ``MAX_DOCUMENT_BYTES``; nesting deeper than
``MAX_DEPTH`` is rejected (JSON's own parser would raise ``RecursionError``).
"""

from __future__ import annotations

import datetime
import json
import re
from collections.abc import Iterable
from typing import Any, Final

MAX_DOCUMENT_BYTES: Final = 64 * 1024 * 1024
MAX_DEPTH: Final = 200

Position = tuple[int, int]  # 1-based line and column


class DocumentSyntaxError(Exception):
    """A document that is neither JSON nor YAML (a message and where it stopped)."""

    def __init__(self, message: str, line: int, col: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col


def is_json_text(text: str) -> bool:
    return text.lstrip()[:1] in ("{", "[")


def parse_document(text: str) -> Any:
    """The document's content as plain JSON values (``DocumentSyntaxError`` if none)."""
    if is_json_text(text):
        return _parse_json(text)
    return _parse_yaml(text)


def _parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise DocumentSyntaxError(f"invalid JSON: {error.msg}", error.lineno, error.colno) from None
    except RecursionError:
        raise DocumentSyntaxError(f"nested more than {MAX_DEPTH} levels deep", 1, 1) from None


def _yaml_loader() -> Any:
    from ruamel.yaml import YAML

    loader = YAML(typ="rt", pure=True)
    loader.allow_duplicate_keys = False
    return loader


def _parse_yaml(text: str) -> Any:
    node = load_yaml_nodes(text)
    return _plain(node, 0)


def load_yaml_nodes(text: str) -> Any:
    """The document as ruamel.yaml's round-trip nodes (they know their positions)."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return _yaml_loader().load(text)
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
        problem = error.problem or error.context or "not valid YAML"
        raise DocumentSyntaxError(f"invalid YAML: {problem}", line, col) from None
    except (YAMLError, ValueError, TypeError) as error:  # e.g. an unknown tag's constructor
        raise DocumentSyntaxError(f"invalid YAML: {error}".splitlines()[0], 1, 1) from None
    except RecursionError:
        raise DocumentSyntaxError(f"nested more than {MAX_DEPTH} levels deep", 1, 1) from None


def _plain(value: Any, depth: int) -> Any:
    """YAML values as JSON values: mappings with string keys, lists, scalars."""
    if depth > MAX_DEPTH:
        raise DocumentSyntaxError(f"nested more than {MAX_DEPTH} levels deep", 1, 1)
    if isinstance(value, dict):
        return {_key(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, depth + 1) for v in value]
    if value is None or isinstance(value, bool | str):
        return value if not isinstance(value, str) else str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, datetime.date | datetime.datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


def _key(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    return str(_plain(key, 0))


# --------------------------------------------------------------------------- pointers


def pointer(*parts: str | int) -> str:
    """A JSON pointer (RFC 6901) from its reference tokens."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def pointer_parts(text: str) -> list[str]:
    if not text:
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in text.split("/")[1:]]


def locate(text: str, pointers: Iterable[str]) -> dict[str, Position]:
    """Where each pointer's value starts in ``text`` (or its nearest ancestor's)."""
    wanted = set(pointers)
    if not wanted:
        return {}
    try:
        if is_json_text(text):
            found = _JsonLocator(text, wanted).run()
        else:
            found = _yaml_positions(text, wanted)
    except Exception:  # a locator never stops a diagnostic from being shown
        found = {}
    return {p: _nearest(p, found) for p in wanted}


def _nearest(target: str, found: dict[str, Position]) -> Position:
    parts = pointer_parts(target)
    while parts:
        here = pointer(*parts)
        if here in found:
            return found[here]
        parts.pop()
    return found.get("", (1, 1))


def _yaml_positions(text: str, wanted: set[str]) -> dict[str, Position]:
    root = load_yaml_nodes(text)
    found: dict[str, Position] = {"": (1, 1)}
    for target in wanted:
        node = root
        walked: list[str] = []
        for part in pointer_parts(target):
            position, child = _yaml_child(node, part)
            if position is None:
                break
            walked.append(part)
            found[pointer(*walked)] = position
            node = child
    return found


def _yaml_child(node: Any, part: str) -> tuple[Position | None, Any]:
    if isinstance(node, dict):
        for key in node:
            if _key(key) == part:
                line, col = node.lc.key(key)  # type: ignore[attr-defined]
                return (line + 1, col + 1), node[key]
        return None, None
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        line, col = node.lc.item(int(part))  # type: ignore[attr-defined]
        return (line + 1, col + 1), node[int(part)]
    return None, None


_TOKEN: Final = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<open>[{\[])|(?P<close>[}\]])|(?P<colon>:)'
    r"|(?P<comma>,)|(?P<scalar>[^\s,:\[\]{}\"]+))",
    re.DOTALL,
)


class _JsonLocator:
    """One pass over JSON text recording where the wanted pointers' values begin.

    Object members are located at their key (where an editor should put the
    cursor); array items at their first character.
    """

    def __init__(self, text: str, wanted: set[str]) -> None:
        self.text = text
        self.prefixes = {""}
        for target in wanted:
            parts = pointer_parts(target)
            self.prefixes.update(pointer(*parts[:i]) for i in range(1, len(parts) + 1))
        self.found: dict[str, Position] = {"": (1, 1)}
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def position(self, offset: int) -> Position:
        import bisect

        line = bisect.bisect_right(self.line_starts, offset) - 1
        return line + 1, offset - self.line_starts[line] + 1

    def run(self) -> dict[str, Position]:
        # Stack entries: [kind, pointer of the container, next index or pending key]
        stack: list[list[Any]] = []
        path_of_value = ""
        pending_start = 0
        position = 0
        text = self.text
        while position < len(text):
            match = _TOKEN.match(text, position)
            if match is None:
                break
            position = match.end()
            kind = match.lastgroup
            start = match.start(kind) if kind else position
            if kind == "open":
                path_of_value = self._value_path(stack, start, pending_start)
                stack.append([text[start], path_of_value, 0 if text[start] == "[" else None])
            elif kind == "close":
                if stack:
                    stack.pop()
            elif kind == "string" and stack and stack[-1][0] == "{" and stack[-1][2] is None:
                stack[-1][2] = str(json.loads(match.group(kind)))
                pending_start = start
            elif kind in ("string", "scalar"):
                self._value_path(stack, start, pending_start)
            elif kind == "comma" and stack:
                top = stack[-1]
                top[2] = top[2] + 1 if top[0] == "[" else None
        return self.found

    def _value_path(self, stack: list[list[Any]], start: int, key_start: int) -> str:
        if not stack:
            return ""
        kind, base, slot = stack[-1]
        here: str
        if kind == "[":
            here = base + pointer(slot)
            at = start
        else:
            here = base + pointer(slot if slot is not None else "")
            at = key_start
        if here in self.prefixes and here not in self.found:
            self.found[here] = self.position(at)
        return here
