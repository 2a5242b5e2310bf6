"""One list of words: every tool that knows `.flow` syntax knows every word of keywords.py.

:mod:`flowc.grammar.keywords` is the single list of the language's words.
The Pygments lexer imports it; the TextMate grammar
(``editors/vscode/syntaxes/flow.tmLanguage.json``) and the Vim syntax file
(``editors/vim/syntax/flow.vim``) carry copies, because neither can import
Python.  These tests keep the copies honest in both directions:

* **exactly the same words** — the word alternations of the TextMate
  grammar's ``words`` rules and the ``let s:... = [...]`` lists of the Vim
  file are parsed out and compared with the Python lists, so a word added,
  removed or misspelt on either side fails;
* **each word is recognised as a whole token in its context** — by the
  Pygments lexer (the token type of the word), by the TextMate grammar (its
  rules' regexes, run with Python's ``re``, match the word and not a longer
  identifier; the real VS Code engine does the same check in
  ``editors/vscode/test/tokenize.test.js``), and by Vim itself (a buffer with
  one word per line, asked for ``synIDattr(synID(...), "name")``);
* **the Lark grammar** (``flowc/grammar/flow.lark``) spells every keyword and
  HTTP method as a quoted literal such as ``"step"``.

Builtin types are checked in a type position (``let x: WORD = y``) and
builtin functions before ``(``, since elsewhere several of them (``int``,
``map``, ``type``, ``secret``, ``json``, ``null``) are other kinds of word.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pygments.token import Keyword, Name, Operator, _TokenType

from flowc.grammar import keywords as kw
from flowc.pygments_lexer import FlowLexer

ROOT = Path(__file__).resolve().parents[1]
TEXTMATE = ROOT / "editors" / "vscode" / "syntaxes" / "flow.tmLanguage.json"
VIM_SYNTAX = ROOT / "editors" / "vim" / "syntax" / "flow.vim"
VIM_RUNTIME = ROOT / "editors" / "vim"
LARK = ROOT / "flowc" / "grammar" / "flow.lark"

KEYWORDS = sorted(kw.ALL_KEYWORDS)
HTTP_METHODS = list(kw.HTTP_METHODS)
BUILTIN_TYPES = list(kw.BUILTIN_TYPES)
BUILTIN_FUNCTIONS = list(kw.BUILTIN_FUNCTIONS)

#: The Python lists that the Vim file copies, by their name there.
VIM_LISTS: dict[str, tuple[str, ...]] = {
    "declaration_keywords": kw.DECLARATION_KEYWORDS,
    "statement_keywords": kw.STATEMENT_KEYWORDS,
    "literal_keywords": kw.LITERAL_KEYWORDS,
    "statement_clause_keywords": kw.STATEMENT_CLAUSE_KEYWORDS,
    "clause_keywords": kw.CLAUSE_KEYWORDS,
    "http_methods": kw.HTTP_METHODS,
    "builtin_types": kw.BUILTIN_TYPES,
    "builtin_functions": kw.BUILTIN_FUNCTIONS,
}


# ---------------------------------------------------------------- Pygments


def first_token(text: str) -> tuple[_TokenType, str]:
    return next((t, v) for t, v in FlowLexer().get_tokens(text) if v.strip())


def token_of(text: str, word: str) -> _TokenType:
    for token, value in FlowLexer().get_tokens(text):
        if value == word:
            return token
    raise AssertionError(f"{word!r} is not a token of {text!r}")


@pytest.mark.parametrize("word", KEYWORDS)
def test_pygments_knows_keyword(word: str) -> None:
    token, value = first_token(f"{word}\n")
    assert value == word
    # `token in Keyword`: a subtype of Keyword (Keyword.Pseudo, ...).
    assert token[: len(Keyword)] == Keyword or token is Operator.Word, token


@pytest.mark.parametrize("word", HTTP_METHODS)
def test_pygments_knows_http_method(word: str) -> None:
    assert first_token(f'step s = {word} "http://x"\n') == (Keyword.Declaration, "step")
    assert token_of(f'step s = {word} "http://x"\n', word) is Keyword.Reserved


@pytest.mark.parametrize("word", BUILTIN_TYPES)
def test_pygments_knows_builtin_type(word: str) -> None:
    assert token_of(f"let x: {word} = y\n", word) is Keyword.Type
    assert token_of(f"flow f(a: list[{word}]) -> {word}? {{}}\n", word) is Keyword.Type


@pytest.mark.parametrize("word", BUILTIN_FUNCTIONS)
def test_pygments_knows_builtin_function(word: str) -> None:
    assert first_token(f"{word}(x)\n") == (Name.Builtin, word)
    assert token_of(f"items.{word}(x)\n", word) is Name.Builtin


def test_pygments_keyword_check_can_fail() -> None:
    assert first_token("notakeyword\n") == (Name, "notakeyword")
    assert token_of("let x: Custom = y\n", "Custom") is Name.Class
    assert first_token("sizes(x)\n")[0] is not Name.Builtin


# ---------------------------------------------------------------- TextMate


def tm_rules(node: Any) -> Iterator[dict[str, Any]]:
    """Every rule (a dict with ``match``) anywhere in the grammar."""
    if isinstance(node, dict):
        if "match" in node:
            yield node
        for value in node.values():
            yield from tm_rules(value)
    elif isinstance(node, list):
        for value in node:
            yield from tm_rules(value)


def load_textmate() -> dict[str, Any]:
    grammar: dict[str, Any] = json.loads(TEXTMATE.read_text(encoding="utf-8"))
    return grammar


def word_list(regex: str) -> set[str]:
    r"""The words of a ``\b(?:a|b|c)\b`` rule."""
    m = re.fullmatch(r"\\b(?:\(\?:)?([A-Za-z0-9_|]+)\)?\\b", regex)
    assert m, f"not a word-list rule: {regex}"
    return set(m.group(1).split("|"))


WORD_SCOPES = {
    "keyword": re.compile(r"^(keyword\.|storage\.type\.flow$|constant\.language\.)"),
    "http": re.compile(r"^support\.function\.http-method\.flow$"),
    "type": re.compile(r"^support\.type\.builtin\.flow$"),
}


def words_rules(kind: str) -> list[dict[str, Any]]:
    repository = load_textmate()["repository"]
    return [
        rule for rule in repository["words"]["patterns"] if WORD_SCOPES[kind].match(rule["name"])
    ]


def test_textmate_word_lists_equal_keywords_py() -> None:
    def union(kind: str) -> set[str]:
        return set().union(*(word_list(rule["match"]) for rule in words_rules(kind)))

    assert union("keyword") == set(kw.ALL_KEYWORDS)
    assert union("http") == set(kw.HTTP_METHODS)
    assert union("type") == set(kw.BUILTIN_TYPES)
    type_rules = [
        rule
        for rule in load_textmate()["repository"]["type"]["patterns"]
        if rule.get("name") == "support.type.builtin.flow"
    ]
    assert [word_list(rule["match"]) for rule in type_rules] == [set(kw.BUILTIN_TYPES)]
    function_rules = [
        rule
        for rule in tm_rules(load_textmate())
        if rule.get("name") == "support.function.builtin.flow"
        or any(
            c.get("name") == "support.function.builtin.flow"
            for c in rule.get("captures", {}).values()
        )
    ]
    assert function_rules
    for rule in function_rules:
        alternation = re.search(r"\\b\(\?:([A-Za-z0-9_|]+)\)\\b", rule["match"])
        assert alternation, rule["match"]
        assert set(alternation.group(1).split("|")) == set(kw.BUILTIN_FUNCTIONS)


def matches_whole(regex: str, word: str, after: str = "") -> bool:
    """``regex`` matches ``word`` (followed by ``after``) exactly, and not ``word_x``."""
    m = re.match(regex, word + after)
    longer = re.match(regex, word + "_x" + after)
    if m is None or m.group(0) != word:
        return False
    return longer is None or longer.group(0) != word


def scope_of_match(rule: dict[str, Any], text: str, word: str) -> str | None:
    """The scope the rule gives ``word`` when it matches at the start of ``text``."""
    m = re.match(rule["match"], text)
    if not m:
        return None
    if m.group(0) == word and "name" in rule:
        return str(rule["name"])
    for index, capture in rule.get("captures", {}).items():
        if m.group(int(index)) == word:
            return str(capture.get("name"))
    return None


@pytest.mark.parametrize("word", KEYWORDS)
def test_textmate_knows_keyword(word: str) -> None:
    assert any(matches_whole(rule["match"], word) for rule in words_rules("keyword"))


@pytest.mark.parametrize("word", HTTP_METHODS)
def test_textmate_knows_http_method(word: str) -> None:
    assert any(matches_whole(rule["match"], word, " ") for rule in words_rules("http"))


@pytest.mark.parametrize("word", BUILTIN_TYPES)
def test_textmate_knows_builtin_type(word: str) -> None:
    rules = [r for r in load_textmate()["repository"]["type"]["patterns"] if "match" in r]
    scopes = [scope_of_match(rule, word, word) for rule in rules]
    # The first rule of a type position that matches the word decides.
    assert next(s for s in scopes if s is not None) == "support.type.builtin.flow"
    assert any(matches_whole(rule["match"], word) for rule in words_rules("type"))


@pytest.mark.parametrize("word", BUILTIN_FUNCTIONS)
def test_textmate_knows_builtin_function(word: str) -> None:
    names = load_textmate()["repository"]["names"]["patterns"]
    for text in (f"{word}(x)", f".{word}(x)"):
        scopes = [scope_of_match(rule, text, word) for rule in names]
        assert "support.function.builtin.flow" in scopes, text
    assert not any(
        scope_of_match(rule, f"{word}x(y)", f"{word}x") == "support.function.builtin.flow"
        for rule in names
    )


# ---------------------------------------------------------------- Vim


def vim_lists() -> dict[str, list[str]]:
    """The ``let s:NAME = [...]`` lists of the Vim syntax file."""
    text = VIM_SYNTAX.read_text(encoding="utf-8")
    lists = {}
    for name, body in re.findall(r"^let s:(\w+) = \[(.*?)\]", text, re.MULTILINE | re.DOTALL):
        lists[name] = re.findall(r"'([^']*)'", body)
    return lists


def test_vim_word_lists_equal_keywords_py() -> None:
    lists = vim_lists()
    for name, words in VIM_LISTS.items():
        assert lists.get(name) == list(words), name


def vim_executable() -> list[str]:
    if shutil.which("vim"):
        return ["vim", "-Nu", "NONE", "-i", "NONE", "-es"]
    if shutil.which("nvim"):
        return ["nvim", "--headless", "--clean", "-i", "NONE"]
    message = "neither vim nor nvim is installed (editors/README.md lists what CI installs)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def vim_groups(tmp_path: Path, lines: list[tuple[str, str]]) -> list[str]:
    """Ask Vim for the syntax group of ``word`` on each ``(line, word)``."""
    source = tmp_path / "words.flow"
    source.write_text("".join(line + "\n" for line, _ in lines), encoding="utf-8")
    out = tmp_path / "groups.txt"
    columns = ", ".join(str(line.index(word) + 1) for line, word in lines)
    script = tmp_path / "groups.vim"
    script.write_text(
        f"edit {source}\n"
        f"let s:columns = [{columns}]\n"
        "let s:out = []\n"
        "for s:i in range(len(s:columns))\n"
        "  call add(s:out, synIDattr(synID(s:i + 1, s:columns[s:i], 1), 'name'))\n"
        "endfor\n"
        f"call writefile(s:out, '{out}')\n"
        "qall!\n"
    )
    subprocess.run(
        [
            *vim_executable(),
            "--cmd",
            f"set runtimepath^={VIM_RUNTIME}",
            "-c",
            "filetype plugin indent on",
            "-c",
            "syntax on",
            "-c",
            f"source {script}",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=120,
        check=False,
    )
    return out.read_text(encoding="utf-8").splitlines()


VIM_KEYWORD_GROUPS = {
    "flowKeyword",
    "flowDeclaration",
    "flowImport",
    "flowOperatorWord",
    "flowBoolean",
    "flowNull",
    "flowClause",
}


def test_vim_highlights_every_word(tmp_path: Path) -> None:
    cases: list[tuple[str, str, set[str]]] = [
        *((word, word, VIM_KEYWORD_GROUPS) for word in KEYWORDS),
        *((f'step s = {w} "http://x"', w, {"flowHttpMethod"}) for w in HTTP_METHODS),
        *((f"let x: {w} = y", w, {"flowTypeBuiltin"}) for w in BUILTIN_TYPES),
        *((f"{w}(x)", w, {"flowBuiltinFunction"}) for w in BUILTIN_FUNCTIONS),
        *((f"items.{w}(x)", w, {"flowBuiltinFunction"}) for w in BUILTIN_FUNCTIONS),
        # Controls: a plain name is none of these, so the check can fail.
        ("notakeyword", "notakeyword", {""}),
        ("let x: Custom = y", "Custom", {"flowTypeName"}),
    ]
    groups = vim_groups(tmp_path, [(line, word) for line, word, _ in cases])
    wrong = [
        (line, group)
        for (line, _, expected), group in zip(cases, groups, strict=True)
        if group not in expected
    ]
    assert wrong == []


# ---------------------------------------------------------------- Lark


@pytest.mark.parametrize("word", sorted(kw.ALL_KEYWORDS | set(kw.HTTP_METHODS)))
def test_lark_grammar_spells_the_word(word: str) -> None:
    assert f'"{word}"' in LARK.read_text(encoding="utf-8")
