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
        ("(" * DEEP, "E0007"),
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


HUGE = 300_000  # once: 300,000 parentheses parsed (in 23 s) and checked without complaint

#: Every kind of nesting, as (opening, innermost, closing): each is refused at the
#: token where it became too deep, long before the end of the text.
NESTINGS = {
    "parentheses": ("const C = " + "(" * HUGE, "1", ")" * HUGE),
    "lists": ("const C = " + "[" * HUGE, "1", "]" * HUGE),
    "maps": ("const C = " + "{(k): " * HUGE, "1", "}" * HUGE),
    "records": ("const C = " + "{a: " * HUGE, "1", "}" * HUGE),
    "calls": ("const C = " + "f(" * HUGE, "1", ")" * HUGE),
    "unary operators": ("const C = " + "-!" * HUGE, "x", ""),
    "conditionals": ("const C = " + "a ? b : " * HUGE, "c", ""),
    "operator chains": ("const C = 1", " + 1" * HUGE, ""),
    "member chains": ("const C = a", ".b" * HUGE, ""),
    "method chains": ("const C = a", ".f()" * HUGE, ""),
    "index chains": ("const C = a", "[0]" * HUGE, ""),
    "blocks": ("flow f() { " + "if a { " * HUGE, "log 1", " }" * HUGE + " }"),
    "steps in compensations": (
        "flow f() { " + 'step s = GET "u" { compensate { ' * HUGE,
        "log 1",
        " } }" * HUGE + " }",
    ),
    "list types": ("type T = " + "list[" * HUGE, "int", "]" * HUGE),
    "map types": ("type T = " + "map[string, " * HUGE, "int", "]" * HUGE),
    "record types": ("type T = " + "{a: " * HUGE, "int", "}" * HUGE),
    "interpolations": ('const C = "${' + "(" * HUGE, "1", ")" * HUGE + '}"'),
}


@pytest.mark.parametrize("parts", NESTINGS.values(), ids=list(NESTINGS))
def test_every_kind_of_nesting_is_refused_at_once(parts: tuple[str, str, str]) -> None:
    text = "".join(parts)
    diagnostic = failure(text)
    assert diagnostic.code == "E0007"
    assert diagnostic.message == "nesting is too deep (more than 256 levels)"
    # Positioned where the nesting became too deep: in the first few thousand
    # characters of a text of a million or more, so the rest was never parsed.
    assert diagnostic.span.line == 1 and diagnostic.span.col < 6000 < len(text)


def test_nesting_within_the_limit_parses() -> None:
    assert parse_expression("(" * 250 + "a" + ")" * 250) == a("a")
    assert parse_expression("a" + ".b" * 250).field == "b"  # type: ignore[attr-defined]
    parse_module("const C = " + "[" * 250 + "1" + "]" * 250)
    parse_module("flow f() { " + "if a { " * 120 + "}" * 120 + " }")


def test_interpolations_count_the_nesting_around_them() -> None:
    inner = "(" * 240 + "1" + ")" * 240
    parse_module(f'const C = "${{{inner}}}"')
    wrapped = "[" * 20 + f'"${{{inner}}}"' + "]" * 20
    assert failure(f"const C = {wrapped}").code == "E0007"


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
