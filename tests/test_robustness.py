"""The whole front end only ever answers with diagnostics.

Hypothesis throws random text and mutations of the real examples at
`compile_source` (parse, resolve, type-check, budget): every outcome must be
a `Compilation` with diagnostics — never an exception.  Valid mutants are
also lowered to IR, which must not raise either.
"""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowc.compiler import compile_source

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.flow"))
SOURCES = [p.read_text(encoding="utf-8") for p in EXAMPLES]
TOKENS = [
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    '"',
    "'",
    "${",
    "step",
    "let",
    "var",
    "=",
    "->",
    "?",
    "??",
    "if",
    "else",
    "for",
    "in",
    "parallel",
    "retry",
    "timeout",
    "1s",
    "0x",
    "null",
    ".",
    ",",
    ":",
    "\n",
    "#",
    "return",
    "yield",
    "break",
    "-",
    "!",
    "u",
    "9" * 30,
]


@st.composite
def mutated_example(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.one_of(st.sampled_from(TOKENS), st.text(max_size=3)))
        if action == "insert":
            text = text[:position] + piece + text[position:]
        elif action == "delete":
            text = text[:position] + text[position + draw(st.integers(1, 20)) :]
        else:
            text = text[:position] + piece + text[position + len(piece) :]
    return text


def compile_never_raises(text: str) -> None:
    compilation = compile_source(text, str(EXAMPLES[0].parent / "fuzz.flow"))
    for diagnostic in compilation.diagnostics:
        assert diagnostic.span.line >= 0
    if compilation.ok:
        from flowc.compiler.lowering import lower_program

        lower_program(compilation.result)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_example())
def test_mutated_examples_only_produce_diagnostics(text: str) -> None:
    compile_never_raises(text)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_random_text_only_produces_diagnostics(text: str) -> None:
    compile_never_raises(text)
