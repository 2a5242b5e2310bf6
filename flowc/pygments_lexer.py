"""A Pygments lexer for `.flow` files.

`FlowLexer` is registered as the ``flow`` lexer through the
``pygments.lexers`` entry point in ``pyproject.toml``, so once flowc is
installed ``pygmentize -l flow FILE``, ``pygmentize FILE.flow`` and
``pygments.lexers.get_lexer_by_name("flow")`` all find it; Sphinx, MkDocs and
anything else built on Pygments highlight ```` ```flow ```` blocks with it.

Where the words come from
-------------------------
Every word the lexer treats specially is taken from
:mod:`flowc.grammar.keywords`, the single list shared with the Lark grammar,
the TextMate grammar and the Vim syntax file.  Nothing here spells a keyword
out: the lexer only decides *which kind* of token a listed word becomes, and
``tests/test_keywords.py`` checks that every listed word is recognised.

Token kinds
-----------
=============================================  =================================
source                                         token
=============================================  =================================
``if for while try return ...``                ``Keyword``
``flow service type const let var step``       ``Keyword.Declaration``
``import`` (and ``as`` in ``as NAME``)         ``Keyword.Namespace``
``true false null``                            ``Keyword.Constant``
``in``                                         ``Operator.Word``
clause words (``query retry backoff ...``)     ``Keyword.Pseudo``
``GET POST ...``                               ``Keyword.Reserved``
builtin types (``int string list ...``)        ``Keyword.Type``
builtin functions before ``(``                 ``Name.Builtin``
``flow NAME`` / ``call NAME``                  ``Name.Function``
``step NAME``                                  ``Name.Label``
``service NAME``, service after a method,      ``Name.Namespace``
``import ... as NAME``
``type NAME`` and user types in type positions ``Name.Class``
``const NAME``                                 ``Name.Constant``
``let``/``var``/``catch``/``for`` names,       ``Name.Variable``
flow parameters
``.field``, ``key:``                           ``Name.Attribute``
``42 1_000 3u``, ``0x1F``, ``3.14 1e-3``       ``Number.Integer/Hex/Float``
``250ms 1m30s 1.5s``                           ``Number.Duration``
strings, prefixes ``r b br``                   ``String.Double/Single``, ``String.Affix``
``\\n \\xHH \\$ ...``                            ``String.Escape``
``${`` and its ``}``                           ``String.Interpol``
``# ...``                                      ``Comment.Single``
=============================================  =================================

``Number.Duration`` is the one token type that Pygments does not predefine;
styles colour it as a number.  Any character that cannot start a token
(``§``, a backtick, ``;``, ``$`` outside a string, a lone ``&``) and any
unknown string escape becomes ``Error``, so a broken file shows where it is
broken.

How context is tracked
----------------------
The lexer is a :class:`~pygments.lexer.RegexLexer` whose states follow the
few places where the same word means different things:

* *strings* — one state per quote style (``"``, ``'``, triple, raw, bytes).
  ``${`` inside a non-raw, non-bytes string pushes ``interpolation``, which
  lexes the embedded expression with the ordinary code rules, nested strings
  and ``{...}`` map literals included, until the ``}`` that closes it.
* *types* — ``->``, ``type NAME =``, ``let/var/const NAME:`` and a flow
  parameter's ``name:`` push ``type``, which reads exactly one type
  (``list[T]``, ``map[K, V]``, ``{f: T, g?: T}``, ``T?``, ``mod.T``) and pops.
  So ``json`` and ``null`` are types there, while in a step body ``json`` is
  the clause word and ``null`` the literal.
* *parameters* — ``flow NAME(`` pushes ``params`` so that parameter names are
  definitions and a default value may contain nested parentheses and
  ``{key: value}`` maps.

Clause words stay usable as names (the contextual lexer of the compiler
allows ``let retry = 3`` and ``cfg.timeout``), so a name being declared, a
name after ``.``, a name directly followed by ``:`` (a record key or named
argument), by ``.`` (``error.status``) or by ``=`` (an assignment) is lexed
as a name before any keyword rule is tried.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

from pygments.lexer import RegexLexer, bygroups, default, include
from pygments.token import (
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    Whitespace,
    _TokenType,
)

from flowc.grammar.keywords import (
    BUILTIN_FUNCTIONS,
    BUILTIN_TYPES,
    CLAUSE_KEYWORDS,
    DECLARATION_KEYWORDS,
    HTTP_METHODS,
    LITERAL_KEYWORDS,
    STATEMENT_CLAUSE_KEYWORDS,
    STATEMENT_KEYWORDS,
)

__all__ = ["Duration", "FlowLexer"]

#: Token type of duration literals (``250ms``); styled as a number.
Duration: _TokenType = Number.Duration

#: A rule in a ``RegexLexer`` state: (regex, action[, new state]), an
#: ``include`` or a ``default``.
_Rule = Any

IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
#: Nothing that could continue an identifier or a number follows.
_END = r"(?![A-Za-z0-9_])"
#: Number forms follow the tokens of ``flowc/grammar/flow.lark``.
_DIGITS = r"[0-9][0-9_]*"
_HEX = r"0[xX][0-9a-fA-F][0-9a-fA-F_]*"
_EXPONENT = r"[eE][+-]?[0-9]+"
_DURATION = r"(?:[0-9]+(?:\.[0-9]+)?(?:ns|us|\u00b5s|ms|s|m|h))+"
#: The prefixes that make a string raw (``r``, ``br``, ``rb`` in any case)
#: and the one that makes it bytes.
_RAW_PREFIX = r"(?:[rR][bB]?|[bB][rR])"
_BYTES_PREFIX = r"[bB]"
#: Where a string literal starts, prefix included.
_STRING_START = r"(?:[rRbB]{1,2})?[\"']"
#: The escapes of LANGUAGE.md and CEL, plus ``\$`` for a literal dollar.
_ESCAPE = (
    r"\\(?:[abfnrtv\\\"'`?$]"
    r"|[xX][0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-3][0-7]{2})"
)


#: What ``bygroups`` returns: a callback yielding one token per group.
_Callback = Callable[..., Iterator[tuple[int, _TokenType, str]]]


def _groups(*tokens: _TokenType | None) -> _Callback:
    """``bygroups`` with a type (the Pygments stubs leave it untyped)."""
    callback: _Callback = bygroups(*tokens)  # type: ignore[no-untyped-call]
    return callback


def _alt(words: tuple[str, ...] | frozenset[str] | list[str]) -> str:
    """A non-capturing alternation of whole ``words`` (longest first)."""
    ordered = sorted(set(words), key=lambda w: (-len(w), w))
    return r"\b(?:" + "|".join(re.escape(w) for w in ordered) + r")\b"


# The lexer only sorts the lists of keywords.py into token kinds; the words
# with rules of their own (``in``, declaration words) are picked out by name.
_DECLARING = frozenset({"flow", "service", "type", "const", "let", "var", "step"})
_CONTROL = tuple(w for w in STATEMENT_KEYWORDS if w not in _DECLARING and w != "in")
_DECLARATION = tuple(w for w in DECLARATION_KEYWORDS + STATEMENT_KEYWORDS if w in _DECLARING)
_NAMESPACE = tuple(w for w in DECLARATION_KEYWORDS if w not in _DECLARING)  # import
_CLAUSE = STATEMENT_CLAUSE_KEYWORDS + CLAUSE_KEYWORDS


def _string_rules(
    close: str, token: _TokenType, *, escapes: bool, interpolation: bool, triple: bool
) -> list[_Rule]:
    """The body of one kind of string literal, ended by ``close``."""
    quote = close[0]
    rules: list[_Rule] = [(re.escape(close), token, "#pop")]
    if escapes:
        rules += [(_ESCAPE, String.Escape), (r"\\.", Error)]
    else:
        # A raw string keeps its backslashes, but `\"` does not end it.
        rules.append((r"\\.", token))
    if interpolation:
        rules.append((r"\$\{", String.Interpol, "interpolation"))
    stop = "\\\\" + ("$" if interpolation else "")
    if triple:
        rules += [(rf"[^{quote}{stop}]+", token), (quote, token)]
    else:
        rules += [(rf"[^{quote}{stop}\n]+", token), (r"\n", Error, "#pop")]
    if interpolation:
        rules.append((r"\$", token))
    # A backslash that ends a line escapes nothing (a raw string keeps it).
    rules.append((r"\\", Error if escapes else token))
    return rules


def _string_entries() -> list[_Rule]:
    """Rules that open a string literal, longest opener first."""
    rules: list[_Rule] = []
    for prefix, kind in ((_RAW_PREFIX, "raw"), (_BYTES_PREFIX, "bytes"), ("", "")):
        for opener, state in (('"""', "tdq"), ("'''", "tsq"), ('"', "dq"), ("'", "sq")):
            token = String.Double if opener[0] == '"' else String.Single
            target = f"{kind}-{state}" if kind else state
            if prefix:
                rules.append((f"({prefix})({opener})", _groups(String.Affix, token), target))
            else:
                rules.append((opener, token, target))
    return rules


def _string_states() -> dict[str, list[_Rule]]:
    states: dict[str, list[_Rule]] = {}
    for state, close in (("tdq", '"""'), ("tsq", "'''"), ("dq", '"'), ("sq", "'")):
        token = String.Double if close[0] == '"' else String.Single
        triple = len(close) == 3
        states[state] = _string_rules(close, token, escapes=True, interpolation=True, triple=triple)
        states[f"bytes-{state}"] = _string_rules(
            close, token, escapes=True, interpolation=False, triple=triple
        )
        states[f"raw-{state}"] = _string_rules(
            close, token, escapes=False, interpolation=False, triple=triple
        )
    return states


def _type_start(then: tuple[str, ...]) -> list[_Rule]:
    """Rules that begin one type; ``then`` is the state change before its suffix."""
    return [
        (r"\{", Punctuation, (*then, "type-suffix", "record-type")),
        (_alt(BUILTIN_TYPES), Keyword.Type, (*then, "type-suffix")),
        (
            rf"({IDENT})(\.)({IDENT})",
            _groups(Name.Namespace, Punctuation, Name.Class),
            (*then, "type-suffix"),
        ),
        (IDENT, Name.Class, (*then, "type-suffix")),
    ]


class FlowLexer(RegexLexer):
    """Lexer for the ``.flow`` HTTP orchestration language of flowc."""

    name = "flow"
    aliases: ClassVar[list[str]] = ["flow"]
    filenames: ClassVar[list[str]] = ["*.flow"]
    mimetypes: ClassVar[list[str]] = ["text/x-flow"]

    flags = re.MULTILINE

    tokens: ClassVar[dict[str, list[_Rule]]] = {
        "root": [include("code")],
        "whitespace": [
            (r"\s+", Whitespace),
            (r"#[^\n]*", Comment.Single),
        ],
        "code": [
            include("whitespace"),
            *_string_entries(),
            include("declarations"),
            include("names"),
            include("words"),
            include("numbers"),
            include("operators"),
            (IDENT, Name),
            (r".", Error),
        ],
        "declarations": [
            (
                rf"\b(flow)(\s+)({IDENT})(\s+)?(\()",
                _groups(Keyword.Declaration, Whitespace, Name.Function, Whitespace, Punctuation),
                "params",
            ),
            (
                rf"\b(flow)(\s+)({IDENT})",
                _groups(Keyword.Declaration, Whitespace, Name.Function),
            ),
            (rf"\b(step)(\s+)({IDENT})", _groups(Keyword.Declaration, Whitespace, Name.Label)),
            (
                rf"\b(service)(\s+)({IDENT})",
                _groups(Keyword.Declaration, Whitespace, Name.Namespace),
            ),
            (
                rf"\b(type)(\s+)({IDENT})(\s+)?(=)",
                _groups(Keyword.Declaration, Whitespace, Name.Class, Whitespace, Operator),
                "type",
            ),
            (
                rf"\b(const)(\s+)({IDENT})(\s+)?(:)",
                _groups(Keyword.Declaration, Whitespace, Name.Constant, Whitespace, Punctuation),
                "type",
            ),
            (
                rf"\b(const)(\s+)({IDENT})",
                _groups(Keyword.Declaration, Whitespace, Name.Constant),
            ),
            (
                rf"\b(let|var)(\s+)({IDENT})(\s+)?(:)",
                _groups(Keyword.Declaration, Whitespace, Name.Variable, Whitespace, Punctuation),
                "type",
            ),
            (
                rf"\b(let|var)(\s+)({IDENT})",
                _groups(Keyword.Declaration, Whitespace, Name.Variable),
            ),
            (rf"\b(as)(\s+)({IDENT})", _groups(Keyword.Namespace, Whitespace, Name.Namespace)),
            (rf"\b(catch)(\s+)({IDENT})", _groups(Keyword, Whitespace, Name.Variable)),
            (
                rf"\b(for)(\s+)({IDENT})(\s+)?(,)(\s+)?({IDENT})(\s+)(in)\b",
                _groups(
                    Keyword,
                    Whitespace,
                    Name.Variable,
                    Whitespace,
                    Punctuation,
                    Whitespace,
                    Name.Variable,
                    Whitespace,
                    Operator.Word,
                ),
            ),
            (
                rf"\b(for)(\s+)({IDENT})(\s+)(in)\b",
                _groups(Keyword, Whitespace, Name.Variable, Whitespace, Operator.Word),
            ),
            (
                rf"\b(call)(\s+)(?:({IDENT})(\.))?({IDENT})",
                _groups(Keyword.Pseudo, Whitespace, Name.Namespace, Punctuation, Name.Function),
            ),
            (
                rf"({_alt(HTTP_METHODS)})(\s+)({IDENT})(?=\s*{_STRING_START})",
                _groups(Keyword.Reserved, Whitespace, Name.Namespace),
            ),
        ],
        # Names that a keyword rule must not claim.
        "names": [
            (r"\.\.", Operator),
            (
                rf"(\.)(\s+)?({_alt(BUILTIN_FUNCTIONS)})(?=\s*\()",
                _groups(Punctuation, Whitespace, Name.Builtin),
            ),
            (rf"(\.)(\s+)?({IDENT})(?=\s*\()", _groups(Punctuation, Whitespace, Name.Function)),
            (rf"(\.)(\s+)?({IDENT})", _groups(Punctuation, Whitespace, Name.Attribute)),
            (rf"{_alt(BUILTIN_FUNCTIONS)}(?=\s*\()", Name.Builtin),
            (
                rf"(?!{_alt(LITERAL_KEYWORDS)})({IDENT})(:)(?!:)",
                _groups(Name.Attribute, Punctuation),
            ),
            (rf"(?!{_alt(LITERAL_KEYWORDS)}){IDENT}(?=\s*(?:\.(?!\.)|=(?!=)))", Name),
        ],
        "words": [
            (_alt(HTTP_METHODS), Keyword.Reserved),
            (_alt(LITERAL_KEYWORDS), Keyword.Constant),
            (r"\bin\b", Operator.Word),
            (_alt(_NAMESPACE), Keyword.Namespace),
            (_alt(_DECLARATION), Keyword.Declaration),
            (_alt(_CONTROL), Keyword),
            (_alt(_CLAUSE), Keyword.Pseudo),
            (_alt(BUILTIN_TYPES), Keyword.Type),
        ],
        "operators": [
            (r"->", Operator, "type"),
            (r"\?\?|\.\.|==|!=|<=|>=|&&|\|\||[-+*/%!<>=?]", Operator),
            (r"[(){}\[\],:.]", Punctuation),
        ],
        "numbers": [
            (rf"{_DURATION}{_END}", Duration),
            (rf"{_HEX}[uU]?{_END}", Number.Hex),
            (
                rf"(?:{_DIGITS}\.[0-9][0-9_]*(?:{_EXPONENT})?|{_DIGITS}{_EXPONENT}){_END}",
                Number.Float,
            ),
            # `.5`, but not the `.5` of a (meaningless) `x.5`.
            (rf"(?<![A-Za-z0-9_)\]}}])\.[0-9][0-9_]*(?:{_EXPONENT})?{_END}", Number.Float),
            (rf"{_DIGITS}[uU]?{_END}", Number.Integer),
        ],
        # -- parameters of `flow NAME(...)` ---------------------------------
        "params": [
            include("whitespace"),
            (r"\)", Punctuation, "#pop"),
            (r"\(", Punctuation, "parens"),
            (r"\{", Punctuation, "braces"),
            (rf"({IDENT})(\s+)?(:)", _groups(Name.Variable, Whitespace, Punctuation), "type"),
            include("code"),
        ],
        # A default value's own parentheses and `{key: value}` maps.
        "parens": [
            (r"\)", Punctuation, "#pop"),
            (r"\(", Punctuation, "#push"),
            (r"\{", Punctuation, "braces"),
            include("code"),
        ],
        "braces": [
            (r"\}", Punctuation, "#pop"),
            (r"\{", Punctuation, "#push"),
            include("code"),
        ],
        # -- types -----------------------------------------------------------
        "type": [
            include("whitespace"),
            *_type_start(("#pop",)),
            default("#pop"),
        ],
        "type-suffix": [
            (r"[ \t]+(?=[\[?])", Whitespace),
            (r"\[", Punctuation, "type-args"),
            (r"\?(?![?:])", Operator),
            default("#pop"),
        ],
        "type-args": [
            include("whitespace"),
            (r",", Punctuation),
            (r"\]", Punctuation, "#pop"),
            *_type_start(()),
            default("#pop"),
        ],
        "record-type": [
            include("whitespace"),
            (r"\}", Punctuation, "#pop"),
            (r",", Punctuation),
            (
                rf"({IDENT})(\s+)?(\?)?(\s+)?(:)",
                _groups(Name.Attribute, Whitespace, Operator, Whitespace, Punctuation),
                "type",
            ),
            *_string_entries(),
            (r":", Punctuation, "type"),
            default("#pop"),
        ],
        # -- strings ---------------------------------------------------------
        **_string_states(),
        "interpolation": [
            (r"\}", String.Interpol, "#pop"),
            (r"\{", Punctuation, "braces"),
            include("code"),
        ],
    }
