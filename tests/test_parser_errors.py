"""The parser on bad input: every malformed, huge, deeply nested or random
text gets a diagnostic with a code and a position, or parses; nothing else
(no RecursionError, IndexError or lark exception) ever escapes, and nothing
takes long.  The fuzz tests mutate the sample files character by character
and token by token.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowc.compiler import ast
from flowc.compiler.diagnostics import ParseFailure
from flowc.compiler.parser import parse_expression, parse_module
from tests.test_parser import SOURCE_FILES, a, failure

# --------------------------------------------------------------------------- bad input


def test_empty_and_comment_only_files_are_empty_modules() -> None:
    assert parse_module("") == ast.Module(())
    assert parse_module("  \n\t\n") == ast.Module(())
    assert len(parse_module("# just a comment\n").comments) == 1


@pytest.mark.parametrize(
    ("source", "code", "line", "col"),
    [
        ("\x00\x01\xff garbage", "E0002", 1, 1),
        ("\ufeffflow f() {}", "E0002", 1, 1),
        ('flow f() {\n    log "abc\n}', "E0003", 2, 9),
        ('flow f() {\n    log """abc\n}', "E0003", 2, 11),  # after the `""` it starts with
        ("flow f() { log 'a ${b' }", "E0011", 1, 19),
        ('flow f() { log "a ${b + "c"}" }', "E0011", 1, 19),
        ("}", "E0001", 1, 1),
        ('flow f() { log "${}" }', "E0011", 1, 17),
        ("flow f() {\n    let x = 1\n", "E0004", 2, 13),
        ("flow f() { let x = }", "E0001", 1, 20),
        ("service { }", "E0001", 1, 9),
        ('flow f() { step s = GET u "/x" { accept 99 } }', "E0010", 1, 41),
    ],
)
def test_bad_input_gets_a_diagnostic(source: str, code: str, line: int, col: int) -> None:
    diagnostic = failure(source)
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.col) == (code, line, col)


DEEP = 10_000


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("(" * DEEP, "E0004"),
        ("-" * DEEP + "x", "E0007"),
        ("!" * DEEP + "x", "E0007"),
        ("+".join(["a"] * DEEP), "E0007"),
        ("[" * DEEP + "]" * DEEP, "E0007"),
        ("f(" * DEEP + ")" * DEEP, "E0007"),
        ("a" + ".b" * DEEP, "E0007"),
        ("a ? b : " * DEEP + "c", "E0007"),
    ],
)
def test_deep_nesting_is_an_error_not_a_crash(source: str, code: str) -> None:
    assert failure(f"const C = {source}").code == code


def test_deep_parentheses_collapse_and_deep_blocks_are_refused() -> None:
    assert parse_expression("(" * DEEP + "a" + ")" * DEEP) == a("a")
    assert failure("flow f() { " + "if a { " * 2000 + "}" * 2000 + " }").code == "E0007"


MEGABYTES_5 = 5 * 1024 * 1024


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("# " + "x" * MEGABYTES_5 + "\nflow f() {}", None),
        ('const S = "' + "x" * MEGABYTES_5 + '"', None),
        ('const S = "' + "x" * MEGABYTES_5, "E0003"),
        ("\x01" * MEGABYTES_5, "E0002"),
        ("flow f() { let = }\n" + "# pad\n" * (MEGABYTES_5 // 6), "E0001"),
    ],
    ids=["comment", "string", "unterminated", "garbage", "early-error"],
)
def test_five_megabyte_inputs_parse_or_fail_quickly(source: str, code: str | None) -> None:
    started = time.monotonic()
    if code is None:
        assert isinstance(parse_module(source), ast.Module)
    else:
        assert failure(source).code == code
    assert time.monotonic() - started < 15


# --------------------------------------------------------------------------- fuzzing

SAMPLES = [Path(p).read_text(encoding="utf-8") for p in SOURCE_FILES]
TOKENS = [
    *"{}()[]\"'#\\\n-!?:,.=$",
    '"""', "${", "??", "..", "->", "let ", "var ", "step ", "if ", "else ", "for ", "in ",
    "parallel ", "branch ", "return", "retry 3 ", "timeout ", "max ", "1s", "0x", "1e", "3u",
    'r"', "b'", "\\x", "\\u12", "\\U0001", "\\0", "µs", "\x00", "\ufeff", "\u2028", "\r", "\t",
]  # fmt: skip


@st.composite
def mutated_sources(draw: st.DrawFn) -> str:
    """An example file with a few characters or tokens inserted, deleted, replaced, doubled."""
    text: str = draw(st.sampled_from(SAMPLES))
    for _ in range(draw(st.integers(1, 5))):
        at = draw(st.integers(0, len(text)))
        edit = draw(st.sampled_from(["insert", "delete", "replace", "token", "repeat"]))
        if edit == "insert":
            text = text[:at] + draw(st.text(max_size=3)) + text[at:]
        elif edit == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
        elif edit == "replace":
            text = text[:at] + draw(st.text(min_size=1, max_size=2)) + text[at + 1 :]
        elif edit == "token":
            text = text[:at] + draw(st.sampled_from(TOKENS)) + text[at:]
        else:
            end = draw(st.integers(at, min(len(text), at + 40)))
            text = text[:at] + text[at:end] * draw(st.integers(2, 4)) + text[end:]
    return text


def parses_or_fails_cleanly(text: str) -> None:
    try:
        assert isinstance(parse_module(text, "fuzz.flow"), ast.Module)
    except ParseFailure as caught:
        diagnostic = caught.diagnostic
        assert diagnostic.code.startswith("E00")
        assert diagnostic.span.line >= 1 and diagnostic.span.col >= 1


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(mutated_sources())
def test_mutated_examples_parse_or_fail_cleanly(text: str) -> None:
    parses_or_fails_cleanly(text)


@FUZZ
@given(
    st.one_of(
        st.text(),
        st.lists(st.sampled_from(TOKENS)).map("".join),
        st.binary().map(lambda b: b.decode("latin-1")),
    )
)
def test_random_text_parses_or_fails_cleanly(text: str) -> None:
    parses_or_fails_cleanly(text)
