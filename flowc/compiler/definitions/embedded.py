"""Expressions embedded in document strings: ``"${input.user_id}"``, ``"Hi ${name}!"``.

A string value of a definition is a flowc string template: ``${...}`` holds a flowc
expression, ``$${`` is a literal ``${``, and everything else is text.  A string that
is exactly one ``${...}`` is that expression's *value* (``"${size(xs) > 2}"`` is a
bool); any other string with an interpolation is a ``Template`` (text); a string
without one is a string ``Literal``.

Positions.  The expression text is what JSON or YAML *decoded*, and a diagnostic
must point into the file, so every string gets a ``Locator`` that maps offsets in
its decoded value to offsets in the document:

* ``linear`` — the value is a verbatim slice of the file (JSON strings without
  escapes, YAML scalars on one line without escapes: nearly every expression).
  The expression is parsed *at* its place (``parse_expression_at``), so its spans
  are exact with no extra work.
* ``lines`` — a YAML literal block (``|``): each line of the value is a line of
  the file shifted by the block's indentation.  The expression is parsed at its
  own origin and its spans are mapped through the lines afterwards (``respan``).
* otherwise (escapes, folded ``>`` blocks, quoted or plain scalars that continue
  on the next line) each ``${...}`` is looked for verbatim in the file's text of
  the scalar; when it is there it is linear after all.  When it is not (the
  expression itself holds an escape or a line fold) its spans cover the whole
  scalar: the right line, not the right column.

A fast path builds the commonest expressions, dotted names such as
``check.response.exists``, without the parser (the tree is the one the parser
builds; ``tests/test_definitions.py`` compares them).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from typing import Any, Final, TypeVar

import attrs

from flowc.common.span import Span
from flowc.compiler import ast, messages
from flowc.compiler.definitions.document import Document, Scalar
from flowc.compiler.diagnostics import Diagnostic, ParseFailure
from flowc.grammar.keywords import RESERVED

_PATH: Final = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_DOTTED: Final = re.compile(_PATH)
_SIMPLE_LITERAL: Final = r"true|false|null|0|[1-9][0-9]{0,17}|\"[^\"\\$\n]*\"|'[^'\\$\n]*'"
_COMPARISON: Final = re.compile(rf"({_PATH})( *)(==|!=|<=|>=|<|>)( *)({_SIMPLE_LITERAL})")
"""``check.response.exists == false``, ``n > 10``, ``status != "done"``: the commonest
shape of a condition, built without the parser (``_comparison``)."""
_LITERAL_KINDS: Final = {"true": ("bool", True), "false": ("bool", False), "null": ("null", None)}
_BLOCK_HEADER: Final = re.compile(r"[|>][0-9+-]*[ \t]*(?:#[^\n]*)?\n")


class Locator:
    """Maps offsets in a string's decoded value to offsets in the document."""

    def __init__(self, document: Document, scalar: Scalar, value: str) -> None:
        self.document = document
        self.scalar = scalar
        self.value = value
        self.base: int | None = None  # linear: document offset of value[0]
        self.line_starts: list[int] = []  # lines: value offsets where lines start
        self.line_bases: list[int] = []  # ... and the document offsets they map to
        raw = document.text[scalar.start : scalar.end]
        quoted = scalar.style in ('"', "'")
        inner = raw[1:-1] if quoted else raw
        if inner == value:
            self.base = scalar.start + (1 if quoted else 0)
        elif scalar.style == "|":
            self._map_literal_block(raw)

    def _map_literal_block(self, raw: str) -> None:
        """Each line of a ``|`` block's value is a line of the file after the header,
        minus the block's indentation."""
        header = _BLOCK_HEADER.match(raw)
        if header is None:
            return
        text = self.document.text
        doc = self.scalar.start + header.end()
        starts: list[int] = []
        bases: list[int] = []
        offset = 0
        for line in self.value.split("\n"):
            end_of_line = text.find("\n", doc)
            if end_of_line < 0:
                end_of_line = len(text)
            source = text[doc:end_of_line]
            if line:
                indent = len(source) - len(line)
                if indent < 0 or source[indent:] != line or source[:indent].strip():
                    return
                starts.append(offset)
                bases.append(doc + indent)
            offset += len(line) + 1
            doc = end_of_line + 1
        self.line_starts, self.line_bases = starts, bases

    @property
    def exact(self) -> bool:
        return self.base is not None or bool(self.line_starts)

    def offset(self, value_offset: int) -> int:
        """The document offset of ``value[value_offset]`` (the scalar's start if unknown)."""
        if self.base is not None:
            return self.base + value_offset
        if self.line_starts:
            k = max(bisect.bisect_right(self.line_starts, value_offset) - 1, 0)
            return self.line_bases[k] + value_offset - self.line_starts[k]
        return self.scalar.start

    def span(self, start: int, end: int) -> Span:
        if not self.exact:
            return self.document.span(self.scalar)
        return self.document.lines.span(self.document.file, self.offset(start), self.offset(end))

    def find_verbatim(self, text: str, from_offset: int) -> int | None:
        """The document offset of ``text`` in this scalar's source, searching on from
        ``from_offset``, or None."""
        found = self.document.text.find(text, from_offset, self.scalar.end)
        return None if found < 0 else found


class TemplateReader:
    """Turns string values into expressions; collects the diagnostics of bad ones."""

    def __init__(self, document: Document, rewrite: Callable[[ast.Expr], ast.Expr]) -> None:
        self.document = document
        self.rewrite = rewrite
        self.diagnostics: list[Diagnostic] = []
        self.parsed: dict[str, tuple[ast.Expr, int]] = {}
        """Texts the parser has read (one line each), with where: a text written again
        (``uuid()``, ``run.id``) is the same tree, moved."""

    def string(self, scalar: Scalar) -> ast.Expr:
        """The expression a string scalar stands for."""
        value = scalar.value
        assert isinstance(value, str)
        span = self.document.span(scalar)
        if "$" not in value:
            return ast.Literal("string", value, span=span)
        return self._template(scalar, value, span)

    def _template(self, scalar: Scalar, value: str, span: Span) -> ast.Expr:
        locator = Locator(self.document, scalar, value)
        parts: list[str | ast.Expr] = []
        text: list[str] = []
        i, search_from = 0, scalar.start
        while True:
            j = value.find("$", i)
            if j < 0:
                text.append(value[i:])
                break
            text.append(value[i:j])
            if value.startswith("$${", j):
                text.append("${")
                i = j + 3
            elif value.startswith("${", j):
                end = closing_brace(value, j + 2)
                if end < 0:
                    self._bad(locator, j, "this `${` is never closed")
                    return ast.Literal("string", value, span=span)
                inner = value[j + 2 : end]
                if not inner.strip():
                    self._bad(locator, j, "`${}` holds no expression")
                    return ast.Literal("string", value, span=span)
                if "".join(text):
                    parts.append("".join(text))
                text = []
                expr, search_from = self._expression(locator, inner, j + 2, search_from)
                parts.append(expr)
                i = end + 1
            else:
                text.append("$")
                i = j + 1
        if "".join(text):
            parts.append("".join(text))
        if len(parts) == 1 and not isinstance(parts[0], str):
            return parts[0]
        if not any(isinstance(p, ast.Expr) for p in parts):
            return ast.Literal("string", "".join(p for p in parts if isinstance(p, str)), span=span)
        return ast.Template(tuple(parts), span=span)

    def _bad(self, locator: Locator, at: int, problem: str) -> None:
        span = locator.span(at, at + 2)
        self.diagnostics.append(messages.BAD_INTERPOLATION(span, problem=problem))

    def _expression(
        self, locator: Locator, text: str, value_offset: int, search_from: int
    ) -> tuple[ast.Expr, int]:
        """The expression ``text`` found at ``value_offset``; and where to search on."""
        base: int | None = None
        if locator.base is not None:
            base = locator.base + value_offset
        elif not locator.line_starts:
            base = locator.find_verbatim("${" + text + "}", search_from)
            base = None if base is None else base + 2
        try:
            if base is not None:
                return self.rewrite(self._parse_at(text, base)), base + len(text)
            expr = _parse_standalone(text, self.document.file)
            mapped = respan(
                expr, lambda s: locator.span(value_offset + s.start, value_offset + s.end)
            )
            return self.rewrite(mapped), search_from
        except ParseFailure as failure:
            diagnostic = failure.diagnostic
            if base is None:
                start = value_offset + diagnostic.span.start
                diagnostic = attrs.evolve(diagnostic, span=locator.span(start, start + 1))
            self.diagnostics.append(diagnostic)
            return ast.Literal(
                "null", None, span=locator.span(value_offset, value_offset)
            ), search_from

    def _parse_at(self, text: str, base: int) -> ast.Expr:
        document = self.document
        if _DOTTED.fullmatch(text):
            dotted = _dotted_path(text, base, document)
            if dotted is not None:
                return dotted
        comparison = _COMPARISON.fullmatch(text)
        if comparison is not None:
            built = _comparison(comparison, base, document)
            if built is not None:
                return built
        known = self.parsed.get(text)
        line, col = document.lines.position(base)
        if known is not None:
            expr, first = known
            shift, file = base - first, document.file
            column = col - base  # every node is on this one line
            return respan(
                expr,
                lambda s: Span(
                    file,
                    line,
                    s.start + shift + column,
                    line,
                    s.end + shift + column,
                    s.start + shift,
                    s.end + shift,
                ),
            )
        from flowc.compiler.parser import parse_expression_at

        parsed = parse_expression_at(text, document.file, line, col, base)
        if "\n" not in text:
            self.parsed[text] = (parsed, base)
        return parsed


def _parse_standalone(text: str, file: str) -> ast.Expr:
    from flowc.compiler.parser import parse_expression

    return parse_expression(text, file)


def _dotted_path(text: str, base: int, document: Document) -> ast.Expr | None:
    """``a.b.c`` built directly, as the parser would build it; None for a reserved head."""
    names = text.split(".")
    if names[0] in RESERVED:
        return None
    lines, file = document.lines, document.file
    line, col = lines.position(base)
    end = base + len(names[0])
    expr: ast.Expr = ast.Name(
        names[0], span=Span(file, line, col, line, col + len(names[0]), base, end)
    )
    for field in names[1:]:
        end += 1 + len(field)
        width = end - base
        expr = ast.Select(expr, field, span=Span(file, line, col, line, col + width, base, end))
    return expr


def _comparison(found: re.Match[str], base: int, document: Document) -> ast.Expr | None:
    """``PATH OP LITERAL`` on one line, as the parser builds it (None: let it parse)."""
    path, _, op, _, literal = found.groups()
    left = _dotted_path(path, base, document)
    if left is None:
        return None
    file = document.file
    line, col = document.lines.position(base)
    start = base + found.start(5)
    end = base + found.end(5)
    at = Span(file, line, col + found.start(5), line, col + found.end(5), start, end)
    if literal in _LITERAL_KINDS:
        kind, value = _LITERAL_KINDS[literal]
        right = ast.Literal(kind, value, raw=literal, span=at)
    elif literal[0] in "\"'":
        right = ast.Literal("string", literal[1:-1], raw=literal, span=at)
    else:
        right = ast.Literal("int", int(literal), raw=literal, span=at)
    whole = Span(file, line, col, line, col + found.end(5), base, end)
    return ast.Binary(op, left, right, span=whole)


_BRACE_OR_QUOTE: Final = re.compile(r"[{}\"']")


def closing_brace(text: str, i: int) -> int:
    """The index of the ``}`` that closes an interpolation whose body starts at ``i``:
    the next ``}`` outside strings and nested braces (strings inside use the quote
    rules of `.flow`: a backslash escapes the next character)."""
    found = _BRACE_OR_QUOTE.search(text, i)
    if found is not None and found.group() == "}":  # the common case: nothing nested
        return found.start()
    depth = 0
    quote = ""
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            if depth == 0:
                return i
            depth -= 1
        i += 1
    return -1


# --------------------------------------------------------------------------- rebuilding trees


def transform(node: ast.Node, change: Callable[[ast.Node], ast.Node | None]) -> ast.Node:
    """``node`` rebuilt bottom-up, each node replaced by ``change(node)`` unless that is
    None; parts that do not change are shared, not copied."""
    updates: dict[str, Any] = {}
    for field in attrs.fields(type(node)):
        if field.name in ("span", "raw") or not field.init:
            continue
        value: Any = getattr(node, field.name)
        new: Any
        if isinstance(value, ast.Node):
            new = transform(value, change)
        elif isinstance(value, tuple) and value and isinstance(value[0], ast.Node | str):
            new = tuple(transform(v, change) if isinstance(v, ast.Node) else v for v in value)
            if all(a is b for a, b in zip(new, value, strict=True)):
                new = value
        else:
            continue
        if new is not value:
            updates[field.name] = new
    rebuilt: ast.Node = attrs.evolve(node, **updates) if updates else node
    replaced = change(rebuilt)
    return rebuilt if replaced is None else replaced


AnyNode = TypeVar("AnyNode", bound=ast.Node)


def respan(node: AnyNode, span_of: Callable[[Span], Span]) -> AnyNode:
    """``node`` (an expression or a type) with every span replaced by ``span_of(span)``."""
    result = transform(node, lambda n: attrs.evolve(n, span=span_of(n.span)))
    assert isinstance(result, type(node))
    return result
