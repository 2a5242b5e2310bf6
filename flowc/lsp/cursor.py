"""What the grammar allows at the cursor, from the text before it.

Completion asks the LALR parser itself (``compiler.parser_interactive``, the
only place outside the parser that drives Lark): it is fed the text before the
cursor and lists the terminals that may come next (``LET``, ``RBRACE``,
``NAME``, ``QUERY``, ``INT``, ...), so the answer is exact — no hand-written
approximation of the grammar to drift from it.

Two things keep it fast enough to answer while the user types:

* parsing starts at the declaration that contains the cursor (a line that
  begins with ``flow``, ``service``, ... — see ``chunks``), since a top-level
  declaration always starts in the parser's initial state;
* the text is reduced to a *skeleton* first: every ``{ ... }`` group that is
  closed before the cursor becomes ``{}``, and comments are dropped.  Every
  brace construct of the grammar (blocks, clause blocks, records, maps,
  record types) may be empty, so the skeleton parses to the same state at
  the cursor, and a 300-line flow becomes a few lines of headers.

``CursorContext`` is the result: the accepted terminals, the words they
stand for, the tokens before the cursor (so that completion can tell *after
``GET``* from *after ``call``*) and, for a clause block, what owns it (an
HTTP step, a ``call`` step, a service, a flow header).  ``trivia_at`` says when
the cursor is in a string or a comment, where no grammar completion applies.
"""

from __future__ import annotations

import re
from typing import Final

import attrs

from flowc.compiler.parser_interactive import (
    LexToken,
    accepted_after,
    terminal_text,
    terminal_word,
)
from flowc.lsp.chunks import DECLARATION_START, string_regions_pattern

__all__ = ["CursorContext", "cursor_context", "terminal_text", "terminal_word"]


_BRACES_AND_TRIVIA: re.Pattern[str] | None = None


def _braces_pattern() -> re.Pattern[str]:
    global _BRACES_AND_TRIVIA
    if _BRACES_AND_TRIVIA is None:
        _BRACES_AND_TRIVIA = re.compile(string_regions_pattern().pattern + r"|[{}]")
    return _BRACES_AND_TRIVIA


def skeleton(text: str, start: int, end: int) -> str:
    """``text[start:end]`` with closed ``{...}`` groups emptied and comments removed."""
    cuts: list[tuple[int, int, str]] = []  # (start, end, replacement), outermost only
    opened: list[int] = []
    for match in _braces_pattern().finditer(text, start, end):
        token = match.group()
        if token == "{":
            opened.append(match.start())
        elif token == "}":
            if opened:
                begin = opened.pop()
                while cuts and cuts[-1][0] > begin:
                    cuts.pop()
                cuts.append((begin, match.end(), "{}"))
        elif token.startswith("#"):
            cuts.append((match.start(), match.end(), " "))
    pieces = []
    position = start
    for begin, finish, replacement in cuts:
        pieces.append(text[position:begin])
        pieces.append(replacement)
        position = finish
    pieces.append(text[position:end])
    return "".join(pieces)


def declaration_start(text: str, offset: int) -> int:
    """The offset where the top-level declaration containing ``offset`` starts."""
    start = 0
    for match in DECLARATION_START.finditer(text, 0, offset):
        start = match.start()
    return start


def word_start(text: str, offset: int) -> int:
    """Where the identifier that ends at ``offset`` (being typed) begins."""
    begin = offset
    while begin > 0 and (text[begin - 1].isalnum() or text[begin - 1] == "_"):
        begin -= 1
    return begin


_LINE_TRIVIA: Final = re.compile(r"\"(?:[^\"\\\n]|\\.)*\"|'(?:[^'\\\n]|\\.)*'|#.*|[\"']")


def trivia_at(text: str, offset: int) -> str | None:
    """``"comment"`` or ``"string"`` when ``offset`` lies inside one on its line."""
    line_start = text.rfind("\n", 0, offset) + 1
    for match in _LINE_TRIVIA.finditer(text, line_start, offset):
        token = match.group()
        if token.startswith("#"):
            return "comment"
        if len(token) == 1:
            return "string"  # an opening quote that is not closed before the cursor
    return None


def interpolation_open(text: str, offset: int) -> bool:
    """Whether ``offset`` is inside a ``${...}`` of a string on its line."""
    line_start = text.rfind("\n", 0, offset) + 1
    line = text[line_start:offset]
    opening = line.rfind("${")
    return opening >= 0 and "}" not in line[opening:]


@attrs.define
class CursorContext:
    """What may be typed at the cursor, according to the grammar."""

    accepts: frozenset[str] = frozenset()
    tokens: list[LexToken] = attrs.field(factory=list)
    parsed: bool = False
    owner: str | None = None  # step, call step, service, flow: the clause block's owner

    @property
    def last(self) -> str | None:
        """The text of the last token before the cursor."""
        return str(self.tokens[-1]) if self.tokens else None

    @property
    def last_type(self) -> str | None:
        return self.tokens[-1].type if self.tokens else None

    def words(self) -> set[str]:
        found = set()
        for name in self.accepts:
            word = terminal_word(name)
            if word is not None:
                found.add(word)
        return found

    def open_bracket(self) -> str | None:
        """The innermost bracket (``(``, ``[``, ``{``) still open at the cursor."""
        stack: list[str] = []
        for token in self.tokens:
            text = str(token)
            if text in ("(", "[", "{"):
                stack.append(text)
            elif text in (")", "]", "}") and stack:
                stack.pop()
        return stack[-1] if stack else None


def clause_owner(tokens: list[LexToken]) -> str | None:
    """Which construct's clauses the cursor is among (from the tokens before it)."""
    depth = 0
    index = len(tokens) - 1
    while index >= 0 and depth >= 0:
        text = str(tokens[index])
        if text == "}":
            depth += 1
        elif text == "{":
            depth -= 1
            if depth < 0:
                break
        index -= 1
    depth = 0
    saw_call = False
    for token in reversed(tokens[:index] if index >= 0 else tokens):
        text = str(token)
        if text == "}":
            depth += 1
        elif text == "{":
            depth -= 1
        elif depth == 0 and token.type == "CALL":
            saw_call = True
        elif depth == 0 and token.type in ("STEP", "SERVICE", "FLOW"):
            if token.type == "STEP":
                return "call step" if saw_call else "step"
            return str(token.type).lower()
    return None


def cursor_context(text: str, offset: int) -> CursorContext:
    """Parse the declaration before ``offset`` and report what the grammar accepts there."""
    start = declaration_start(text, offset)
    source = skeleton(text, start, offset)
    tokens, accepts = accepted_after(source)
    if accepts is None:
        return CursorContext(tokens=tokens)
    return CursorContext(accepts, tokens, True, clause_owner(tokens))
