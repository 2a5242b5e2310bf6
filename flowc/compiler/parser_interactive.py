"""The parser, asked what may come next: the grammar's answer for completion.

The language server completes what the grammar accepts at the cursor.  It
asks the LALR parser itself: Lark's interactive parser is fed the text before
the cursor and ``accepts()`` lists the terminals that may come next (``LET``,
``RBRACE``, ``NAME``, ``QUERY``, ``INT``, ...).  The contextual lexer is
exactly the compiler's, so the answer is exact, with no hand-written
approximation of the grammar to drift from it.

This module belongs to the parser layer: it is one of the few that import
lark (``tests/test_layers.py`` keeps it so).  What it hands out is plain data:
``LexToken`` pairs and terminal names, never Lark objects.
"""

from __future__ import annotations

import threading
from typing import Final, NamedTuple

import lark
from lark.exceptions import UnexpectedInput


class LexToken(NamedTuple):
    """A token of the text before the cursor: its terminal name and its text."""

    type: str
    text: str

    def __str__(self) -> str:
        return self.text


class Accepted(NamedTuple):
    """What the parser saw before the cursor and what it accepts next.

    ``accepts`` is None when the text before the cursor does not parse.
    """

    tokens: list[LexToken]
    accepts: frozenset[str] | None


_LARK: lark.Lark | None = None
_WORDS: dict[str, str] = {}
_PUNCTUATION: dict[str, str] = {}
_LOCK: Final = threading.Lock()


def interactive_grammar() -> lark.Lark:
    """The Lark parser used for completion (built once; separate from the compiler's)."""
    global _LARK
    with _LOCK:
        if _LARK is None:
            from flowc.compiler.parser import build_lark

            parser = build_lark()
            for terminal in parser.terminals:
                pattern = terminal.pattern
                if pattern.type == "str":
                    value = str(pattern.value)
                    word = value[:1].isalpha() and value.replace("_", "").isalnum()  # oauth2
                    target = _WORDS if word else _PUNCTUATION
                    target[terminal.name] = value
            _LARK = parser
        return _LARK


def terminal_word(name: str) -> str | None:
    """The keyword a terminal stands for (``LET`` -> ``let``), if it is a word."""
    interactive_grammar()
    return _WORDS.get(name)


def terminal_text(name: str) -> str | None:
    """The literal text of a punctuation terminal (``COLON`` -> ``:``)."""
    interactive_grammar()
    return _PUNCTUATION.get(name)


def accepted_after(source: str) -> Accepted:
    """Parse ``source`` (the start of a module) and list the terminals accepted next."""
    parser = interactive_grammar()
    tokens: list[LexToken] = []
    try:
        interactive = parser.parse_interactive(source, start="module")
        for token in interactive.iter_parse():
            tokens.append(LexToken(str(token.type), str(token)))
        accepts = frozenset(interactive.accepts())  # type: ignore[no-untyped-call]
    except UnexpectedInput:
        return Accepted(tokens, None)
    return Accepted(tokens, accepts)
