"""The parser's start-up machinery (``parser_tables``): the snapshot file and the
shared scanner.

The shared scanner claims to be exact, so it is compared with Lark's own
contextual lexer: every sample file, then fuzzed text built from the grammar's
own words, must give the same AST with the same spans, or the same diagnostic.
"""

from __future__ import annotations

import glob
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lark.lexer import BasicLexer

from flowc.compiler import ast, parse_store, parser_tables
from flowc.compiler.ast_builder import AstBuilder
from flowc.compiler.diagnostics import ParseFailure
from flowc.compiler.parser import GRAMMAR_PATH, _Parser, build_lark
from flowc.grammar.keywords import ALL_KEYWORDS

ROOT = Path(__file__).resolve().parent.parent
SOURCE_FILES = sorted(
    glob.glob(str(ROOT / "examples" / "**" / "*.flow"), recursive=True)
    + glob.glob(str(ROOT / "tests" / "checker" / "**" / "*.flow"), recursive=True)
)
SOURCES = [Path(p).read_text(encoding="utf-8") for p in SOURCE_FILES]
GRAMMAR = GRAMMAR_PATH.read_text(encoding="utf-8")


class ReferenceParser(_Parser):
    """The same parser on Lark's plain contextual lexer, built from the grammar."""

    def __init__(self) -> None:
        super().__init__()
        self.builder = AstBuilder(self)
        self.frontend = build_lark(cache=False, transformer=self.builder).parser


@pytest.fixture(scope="module")
def parsers() -> tuple[_Parser, _Parser]:
    return _Parser(), ReferenceParser()


def outcome(parser: _Parser, text: str, start: str = "module") -> Any:
    """The AST with every node's span, or the diagnostic, of parsing ``text``."""
    try:
        tree = parser.parse(text, "fuzz.flow", start)
    except ParseFailure as failure:
        diagnostic = failure.diagnostic
        return ("error", diagnostic.code, diagnostic.message, diagnostic.span)
    return ("ok", tree, [node.span for node in walk(tree)])


def walk(node: ast.Node) -> list[ast.Node]:
    nodes = [node]
    for child in ast.iter_children(node):
        nodes.extend(walk(child))
    return nodes


def same_outcome(parsers: tuple[_Parser, _Parser], text: str, start: str = "module") -> None:
    fast, reference = parsers
    assert outcome(fast, text, start) == outcome(reference, text, start)


# --------------------------------------------------------------------------- the shared scanner


def test_every_state_lexer_shares_the_root_scanner(parsers: tuple[_Parser, _Parser]) -> None:
    # A grammar change that makes the plans inapplicable shows up here, not as slowness.
    fast, _ = parsers
    lexers = {id(lexer): lexer for lexer in fast.frontend.lexer.lexers.values()}.values()
    assert all(isinstance(lexer, parser_tables.SharedScannerLexer) for lexer in lexers)


@pytest.mark.parametrize("index", range(len(SOURCES)), ids=lambda i: Path(SOURCE_FILES[i]).name)
def test_sample_files_parse_exactly_as_with_larks_lexer(
    parsers: tuple[_Parser, _Parser], index: int
) -> None:
    same_outcome(parsers, SOURCES[index])


WORDS = [*sorted(ALL_KEYWORDS), "form", "formx", "fo", "in_", "iff", "x", "_1", "typed"]
PUNCTUATION = str.split("{ } ( ) [ ] , . : ; = == != -> ? ?? + - * / % < <= > >= && || ! @")
PIECES = (
    WORDS
    + PUNCTUATION
    + ['"a"', "'b'", '"x${y}z"', "r'\\d'", '"""t"""', "b'q'", '"open']
    + ["1", "0x1F", "3u", "2.5", "1e3", "1m30s", "250ms", "1_000"]
    + [" ", "\n", "\t", "# note\n", "$", "`", "é"]
)


@st.composite
def token_soup(draw: st.DrawFn) -> str:
    pieces = draw(st.lists(st.sampled_from(PIECES), max_size=40))
    glue = draw(st.sampled_from(["", " "]))
    return glue.join(pieces)


@st.composite
def mutated_source(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 5))):
        position = draw(st.integers(0, len(text)))
        piece = draw(st.sampled_from(PIECES))
        cut = draw(st.integers(0, 8))
        text = text[:position] + piece + text[position + cut :]
    return text


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(token_soup())
def test_token_soup_lexes_exactly_as_with_larks_lexer(text: str) -> None:
    pair = hypothesis_parsers()
    same_outcome(pair, text)
    same_outcome(pair, text, "expr")
    same_outcome(pair, f"flow f() {{\n{text}\n}}\n")


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_source())
def test_mutated_sources_parse_exactly_as_with_larks_lexer(text: str) -> None:
    same_outcome(hypothesis_parsers(), text)


_PAIR: list[tuple[_Parser, _Parser]] = []


def hypothesis_parsers() -> tuple[_Parser, _Parser]:
    """Hypothesis tests cannot take module fixtures; build the pair once."""
    if not _PAIR:
        _PAIR.append((_Parser(), ReferenceParser()))
    return _PAIR[0]


# --------------------------------------------------------------------------- the snapshot file


def _build(builder: AstBuilder) -> Any:
    return build_lark(cache=False, transformer=builder)


def test_snapshot_is_written_once_and_then_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    builds: list[int] = []
    builder = AstBuilder(_Parser.__new__(_Parser))

    def build() -> Any:
        builds.append(1)
        return _build(builder)

    first = parser_tables.load_frontend(GRAMMAR, builder, build)
    (snapshot,) = (tmp_path / "flowc").glob("parser-*.pickle")
    second = parser_tables.load_frontend(GRAMMAR, builder, build)
    assert builds == [1]
    assert second is not first
    assert second.parser.parser.callbacks.keys() == first.parser.parser.callbacks.keys()
    lexers = set(map(type, second.lexer.lexers.values()))
    assert lexers == {parser_tables.SharedScannerLexer}
    assert snapshot.stat().st_size > 0


def test_a_different_grammar_gets_a_new_snapshot_that_replaces_the_old(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    builder = AstBuilder(_Parser.__new__(_Parser))
    parser_tables.load_frontend(GRAMMAR, builder, lambda: _build(builder))
    (first,) = (tmp_path / "flowc").glob("parser-*.pickle")
    parser_tables.load_frontend(GRAMMAR + "\n// changed\n", builder, lambda: _build(builder))
    (second,) = (tmp_path / "flowc").glob("parser-*.pickle")
    assert second.name != first.name


def test_a_damaged_snapshot_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    builder = AstBuilder(_Parser.__new__(_Parser))
    parser_tables.load_frontend(GRAMMAR, builder, lambda: _build(builder))
    (snapshot,) = (tmp_path / "flowc").glob("parser-*.pickle")
    snapshot.write_bytes(b"\x80\x05not a pickle")
    builds: list[int] = []

    def build() -> Any:
        builds.append(1)
        return _build(builder)

    frontend = parser_tables.load_frontend(GRAMMAR, builder, build)
    assert builds == [1]
    assert frontend.lexer.lexers
    assert parser_tables.load_frontend(GRAMMAR, builder, build) is not frontend
    assert builds == [1]  # the rewritten snapshot loads


def test_without_a_writable_cache_the_parser_is_built_each_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(parser_tables, "cache_directory", lambda: None)  # as imported there
    builder = AstBuilder(_Parser.__new__(_Parser))
    builds: list[int] = []

    def build() -> Any:
        builds.append(1)
        return _build(builder)

    parser_tables.load_frontend(GRAMMAR, builder, build)
    frontend = parser_tables.load_frontend(GRAMMAR, builder, build)
    assert builds == [1, 1]
    assert isinstance(frontend.lexer.lexers[0], parser_tables.SharedScannerLexer)


def test_cache_directory_falls_back_when_the_user_cache_is_not_creatable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    assert parse_store.cache_directory() == str(tmp_path)


def test_share_root_scanner_leaves_no_compiled_scanner_behind() -> None:
    builder = AstBuilder(_Parser.__new__(_Parser))
    frontend = _build(builder).parser
    converted = parser_tables.share_root_scanner(frontend)
    lexers: list[BasicLexer] = [frontend.lexer.root_lexer, *frontend.lexer.lexers.values()]
    assert converted == len({id(lexer) for lexer in frontend.lexer.lexers.values()})
    assert all(lexer._scanner is None for lexer in lexers)
