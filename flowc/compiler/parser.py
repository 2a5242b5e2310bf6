"""Parsing: `.flow` text to the AST, in one pass.

The grammar (``flowc/grammar/flow.lark``) is LALR(1) with Lark's contextual
lexer.  Lark is given ``AstBuilder`` as an *inline* transformer: each time the
parser reduces a rule it calls the builder's method of that name with the
rule's children, and the method returns our AST node at once.  No Lark parse
tree is ever built, which is both faster (no second walk, far less garbage for
the collector to scan) and the reason nothing after this module imports lark.

Spans.  Lark cannot hand position metadata to inline callbacks, so the
grammar keeps keyword and bracket tokens (``!`` rules) and each method spans
its node from its first child to its last.  Tokens carry positions; nodes
carry spans.

Strings.  A string literal is one token, interpolations included (the token
regex allows ``${...}`` with strings of the other quote kind and one level of
nested braces inside).  ``_decode_string`` walks the token: escapes are decoded
per CEL, and each ``${...}`` is parsed by a nested call of this same parser
with the ``expr`` start symbol, with the token's position as an offset, so the
embedded expression's spans point at the right place in the file.

The parser object is built once per process, and the built parser is saved
in the user's cache directory (``parser_tables``): a ~800 ms grammar analysis
becomes a ~10 ms load, and most parser states share one compiled scanner
instead of compiling their own on first use.  Parsing is serialised by a
lock because the inline transformer keeps per-parse state.

Errors.  Lark's exceptions become ``Diagnostic``s here (``ParseFailure``).
Parsing stops at the first syntax error; the checker, which runs only on a
well-formed tree, is the phase that collects many errors in one run.

Nesting.  Every kind of nesting is bounded, and deep input fails at once, at
the token where it became too deep (E0007), before any deep tree exists:

* Whatever nests to the right — brackets of every kind, blocks, records,
  calls, generic and record types, unary operators, ``?:`` chains, the
  operand of an operator waiting for its other side — grows the LALR parser's
  stack.  ``_NestingGuard`` (Lark's lexer thread, which sees the parser state
  before each token) refuses a token once the stack holds more than
  ``MAX_PARSER_STACK`` entries, counting the stacks of the enclosing parses
  when the text is an interpolation.
* What nests to the left (``a.b.c``, ``x[0][1]``, ``f().g()``, ``1 + 2 + 3``)
  and parentheses are measured as the AST builder reduces them, and after a
  successful parse ``nesting.check_tree`` walks the tree with an explicit
  stack (parentheses counted) and rejects one deeper than ``MAX_DEPTH``, so
  that later recursive phases cannot overflow the interpreter stack
  (``nesting.py``).
"""

from __future__ import annotations

import gc
import os
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import lark
from lark import TextSlice, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.lexer import LexerState, LexerThread

from flowc.common.files import cache_directory
from flowc.compiler import ast, messages, parser_tables
from flowc.compiler.ast_builder import AstBuilder
from flowc.compiler.diagnostics import Diagnostic, ParseFailure
from flowc.compiler.nesting import MAX_DEPTH, MAX_PARSER_STACK, check_tree
from flowc.grammar.keywords import RESERVED

__all__ = ["GRAMMAR_PATH", "MAX_DEPTH", "MAX_PARSER_STACK", "parse_expression", "parse_module"]
GRAMMAR_PATH: Final = Path(__file__).resolve().parent.parent / "grammar" / "flow.lark"

_EXPRESSION_STARTS: Final = frozenset({"NAME", "INT", "UINT", "STRING", "FLOAT", "DURATION"})

_TOKEN_NAMES: Final = {
    "NAME": "a name",
    "STRING": "a string",
    "INT": "an integer",
    "UINT": "an unsigned integer",
    "FLOAT": "a number",
    "DURATION": "a duration",
    "$END": "end of file",
}


# --------------------------------------------------------------------------- public API


def parse_module(text: str, file: str = "<input>") -> ast.Module:
    """Parse a whole file; raises ``ParseFailure`` on the first syntax error."""
    result = _get_parser().parse(text, file, "module")
    assert isinstance(result, ast.Module)
    return result


def parse_expression(text: str, file: str = "<expr>") -> ast.Expr:
    """Parse a single CEL/`.flow` expression."""
    result = _get_parser().parse(text, file, "expr")
    assert isinstance(result, ast.Expr)
    return result


def parse_expression_at(text: str, file: str, line: int, col: int, pos: int) -> ast.Expr:
    """Parse an expression that sits at (``line``, ``col``, offset ``pos``) of ``file``.

    The spans of the tree, and of a syntax error, point into that file: used for
    expressions embedded in other documents (``${...}`` in a JSON or YAML flow
    definition), whose text is a verbatim slice of the file.
    """
    result = _get_parser().parse(text, file, "expr", (line, col, pos))
    assert isinstance(result, ast.Expr)
    return result


_TYPE_PREFIX: Final = "type _ = "


def parse_type_at(text: str, file: str, line: int, col: int, pos: int) -> ast.TypeExpr:
    """Parse a type (``list[User]``, ``{id: int}``) that sits at a place of ``file``.

    The grammar has no start symbol for a lone type, so this parses the one-line
    declaration ``type _ = TEXT`` with its origin moved back by the prefix, and
    takes the declaration's type: its spans, and a syntax error's, point into ``file``.
    Anything but exactly that one declaration is reported as a syntax error.
    """
    width = len(_TYPE_PREFIX)
    module = _get_parser().parse(
        _TYPE_PREFIX + text, file, "module", (line, col - width, pos - width)
    )
    assert isinstance(module, ast.Module)
    decls = module.decls
    if len(decls) != 1 or not isinstance(decls[0], ast.TypeDecl):
        at = decls[1].span if len(decls) > 1 else ast.Span(file, line, col, line, col + 1, pos, pos)
        raise ParseFailure(
            messages.UNEXPECTED_TOKEN(at, found="a declaration", expected="the end of the type")
        )
    return decls[0].type


# --------------------------------------------------------------------------- the parser object

_PARSER: _Parser | None = None
_PARSER_LOCK: Final = threading.Lock()


def _get_parser() -> _Parser:
    global _PARSER
    if _PARSER is None:
        with _PARSER_LOCK:
            if _PARSER is None:
                _PARSER = _Parser()
    return _PARSER


def _cache_path() -> str | None:
    directory = cache_directory()
    if directory is None:
        return None
    return os.path.join(directory, f"grammar-{lark.__version__}.lark-cache")


def build_lark(*, strict: bool = False, cache: bool = True, transformer: Any = None) -> lark.Lark:
    """Build the Lark parser (``strict`` turns conflicts into errors, for tests)."""
    options: dict[str, Any] = {
        "parser": "lalr",
        "lexer": "contextual",
        "start": ["module", "expr"],
        "maybe_placeholders": True,
        "strict": strict,
    }
    if transformer is not None:
        options["transformer"] = transformer
        options["lexer_callbacks"] = {"COMMENT": transformer.on_comment}
    path = _cache_path() if cache and not strict else None
    if path is not None:
        options["cache"] = path
    return lark.Lark(GRAMMAR_PATH.read_text(encoding="utf-8"), **options)


class _Parser:
    def __init__(self) -> None:
        self.builder = AstBuilder(self)
        grammar = GRAMMAR_PATH.read_text(encoding="utf-8")
        self.frontend = parser_tables.load_frontend(
            grammar, self.builder, lambda: build_lark(cache=False, transformer=self.builder)
        )
        self.terminals = self.frontend.lexer_conf.terminals_by_name
        self.lock = threading.RLock()
        self.guards: list[_NestingGuard] = []  # one per parse in progress, outermost first

    def parse_raw(self, text: str, start: str) -> Any:
        """Run Lark's parser with the inline builder; raises Lark's exceptions
        (and ``ParseFailure`` for nesting too deep)."""
        outer = sum(guard.depth() for guard in self.guards)
        guard = _NestingGuard(self.frontend.lexer, text, MAX_PARSER_STACK - outer, self.builder)
        self.guards.append(guard)
        try:
            return self.frontend.parser.parse(guard, start)
        finally:
            self.guards.pop()

    def parse(
        self, text: str, file: str, start: str, origin: tuple[int, int, int] = (1, 1, 0)
    ) -> ast.Module | ast.Expr:
        with self.lock:
            gc_was_enabled = gc.isenabled()
            gc.disable()
            try:
                return self._parse_locked(text, file, start, origin)
            finally:
                if gc_was_enabled:
                    gc.enable()

    def _parse_locked(
        self, text: str, file: str, start: str, origin: tuple[int, int, int]
    ) -> ast.Module | ast.Expr:
        builder = self.builder
        saved = builder.begin(file, text, origin)
        try:
            result: Any = self.parse_raw(text, start)
            parens = builder.nesting.paren_layers
        except UnexpectedInput as error:
            raise ParseFailure(self.diagnose(error, text, builder)) from None
        except RecursionError:
            raise ParseFailure(messages.TOO_DEEP(builder.span_at(1, 1), limit=MAX_DEPTH)) from None
        finally:
            comments = builder.end(saved)
        if isinstance(result, ast.Module):
            result = ast.Module(result.decls, comments=tuple(comments), span=result.span)
        check_tree(result, parens)
        assert isinstance(result, ast.Module | ast.Expr)
        return result

    def diagnose(self, error: UnexpectedInput, text: str, builder: AstBuilder) -> Diagnostic:
        if isinstance(error, UnexpectedCharacters):
            return _unexpected_character(error, text, builder)
        if isinstance(error, UnexpectedToken):
            expected = self.describe_expected(error.expected)
            token = error.token
            if token.type == "$END":
                span = (
                    builder.span_at(token.line or 1, token.column or 1)
                    if token.line
                    else builder.end_span()
                )
                return messages.UNEXPECTED_EOF(
                    span, expected=expected, help=_eof_help(error.expected)
                )
            return self._unexpected_token(error, text, builder, expected)
        if isinstance(error, UnexpectedEOF):
            return messages.UNEXPECTED_EOF(
                builder.end_span(), expected=self.describe_expected(error.expected)
            )
        return messages.UNEXPECTED_CHARACTER(builder.end_span(), char="?")

    def _unexpected_token(
        self, error: UnexpectedToken, text: str, builder: AstBuilder, expected: str
    ) -> Diagnostic:
        token = error.token
        span = builder.token_span(token)
        word = str(token)
        help_text = None
        if _previous_word(text, token.start_pos or 0) == "return":
            help_text = "a `return` without a value must be the last statement of its block"
        elif word in RESERVED and "NAME" in error.expected:
            return messages.RESERVED_WORD(span, word=word)
        found = _describe_token(token)
        return messages.UNEXPECTED_TOKEN(span, found=found, expected=expected, help=help_text)

    def describe_expected(self, names: Sequence[str] | set[str]) -> str:
        names = set(names)
        expression = names >= _EXPRESSION_STARTS
        if expression:
            names -= _EXPRESSION_STARTS | {
                "LPAR",
                "LSQB",
                "LBRACE",
                "BANG",
                "MINUS",
                "DOT",
                "TRUE",
                "FALSE",
                "NULL",
            }
        shown = sorted({self.display_terminal(n) for n in names})
        if expression:
            shown.insert(0, "an expression")
        if not shown:
            return "nothing more"
        if len(shown) > 8:
            shown = [*shown[:8], "..."]
        if len(shown) == 1:
            return shown[0]
        return "one of " + ", ".join(shown)

    def display_terminal(self, name: str) -> str:
        if name in _TOKEN_NAMES:
            return _TOKEN_NAMES[name]
        terminal = self.terminals.get(name)
        if terminal is None:
            return name
        pattern = terminal.pattern
        if pattern.type == "str":
            return f"`{pattern.value}`"
        return name.lower()


def _describe_token(token: Token) -> str:
    if token.type in ("NAME",):
        return f"name `{token}`"
    if token.type in _TOKEN_NAMES:
        return f"{_TOKEN_NAMES[token.type]} `{_shorten(str(token))}`"
    return f"`{_shorten(str(token))}`"


def _previous_word(text: str, position: int) -> str:
    """The identifier-like word just before ``position`` (skipping spaces)."""
    match = _WORD_BEFORE.search(text, 0, position)
    return match.group(1) if match else ""


_WORD_BEFORE: Final = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*$")


def _shorten(text: str) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= 30 else text[:27] + "..."


def _eof_help(expected: set[str]) -> str | None:
    if "RBRACE" in expected:
        return "a `}` is missing; every `{` needs a matching `}`"
    return None


def _unexpected_character(
    error: UnexpectedCharacters, text: str, builder: AstBuilder
) -> Diagnostic:
    position = error.pos_in_stream or 0
    char = text[position] if position < len(text) else ""
    span = builder.span_at(error.line, error.column, width=1)
    if char in "\"'" or (char in "rRbB" and text[position + 1 : position + 2] in ("'", '"')):
        # The string token only fails to lex when its closing quote is not on the line
        # (a quote inside `${...}` ends the token early and is reported by lexical.py).
        return messages.UNTERMINATED_STRING(
            span, help='strings end on the line they start; use """...""" for several lines'
        )
    shown = repr(char) if char.isprintable() and char not in " " else f"U+{ord(char):04X}"
    return messages.UNEXPECTED_CHARACTER(span, char=shown)


# --------------------------------------------------------------------------- spans and depth


class _NestingGuard(LexerThread):
    """Lark's lexer thread, refusing a token when the parser's stack is full."""

    def __init__(self, lexer: Any, text: str, room: int, builder: AstBuilder) -> None:
        self.text_state = LexerState(TextSlice.cast_from(text))
        super().__init__(lexer, self.text_state)
        self.room = room
        self.builder = builder
        self.stack: list[int] = []

    def depth(self) -> int:
        return len(self.stack)

    def lex(self, parser_state: Any) -> Iterator[Token]:
        stack = self.stack = parser_state.state_stack
        room = self.room
        tokens: Iterator[Token] = self.lexer.lex(self.text_state, parser_state)
        for token in tokens:
            if len(stack) > room:
                span = self.builder.token_span(token)
                raise ParseFailure(messages.TOO_DEEP(span, limit=MAX_DEPTH))
            yield token
