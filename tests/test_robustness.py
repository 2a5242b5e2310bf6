"""The whole front end only ever answers with diagnostics.

Hypothesis throws random text and mutations of the real examples at
`compile_source` (parse, resolve, type-check, budget): every outcome must be
a `Compilation` with diagnostics — never an exception.  Valid mutants are
also lowered to IR, which must not raise either.

Grammar-aware inputs come from ``tests/fuzzing.py`` (the generators
``bench/fuzz.py`` runs for hundreds of thousands of inputs): whole programs
written from the grammar with their names in scope, and the examples and
checker files damaged token by token; hypothesis draws the seeds, so a run
here is bounded and a failure shrinks to a seed that reproduces it.  Inputs
that once crashed the front end are kept in ``REGRESSIONS``.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowc.compiler import compile_source
from tests.fuzzing import Mutator, ProgramGenerator, compile_everything, corpus

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


CORPUS = corpus()
SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SEEDS)
def test_generated_programs_only_produce_diagnostics(seed: int) -> None:
    compile_everything(ProgramGenerator(random.Random(seed)).program())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SEEDS)
def test_mutated_programs_and_corpus_only_produce_diagnostics(seed: int) -> None:
    rng = random.Random(seed)
    mutator = Mutator(rng, CORPUS)
    compile_everything(mutator.mutate(ProgramGenerator(rng).program()))
    compile_everything(mutator.mutate())
    compile_everything(mutator.touch())


def test_the_generator_reaches_the_checker_and_the_lowering() -> None:
    """A fuzzer that only meets syntax errors tests little: most generated
    programs must parse, and touched examples must often check and lower."""
    rng = random.Random(2024)
    generated = [compile_everything(ProgramGenerator(rng).program()) for _ in range(60)]
    parsed = [c for c in generated if not any(d.code.startswith("E00") for d in c.diagnostics)]
    assert len(parsed) >= 40
    mutator = Mutator(rng, SOURCES)  # the examples: the checker files hold errors on purpose
    touched = [compile_everything(mutator.touch()) for _ in range(60)]
    assert sum(c.ok for c in touched) >= 3


#: Inputs that once crashed the front end (each is also covered where its fix is tested).
REGRESSIONS = {
    "5000-digit int literal": "const A = " + "9" * 5000 + "\nflow f() { }\n",
    "5000-digit duration": "flow f() { sleep " + "9" * 5000 + "s }\n",
    "long duration fraction": "flow f() { sleep 1." + "9" * 5000 + "s }\n",
    "5000-digit status": 'flow f() { step s = GET "http://x" { accept ' + "9" * 5000 + " } }\n",
    "empty parallel": "flow f() { parallel { } }\n",
    "recursion": "flow a(n: int) -> int { step r = call a(n: n + 1) return r.body }\n",
    "huge retry": (
        'service s "http://localhost:1" { retry 1000 backoff exponential 1s max 2s }\n'
        'flow f() timeout 5s { step x = GET s "/x" log "${x.status}" }\n'
    ),
    "huge loop with a parallel limit": (
        "flow f() timeout 1s { for i in range(" + "9" * 400 + ") parallel 3 { sleep 1s } }\n"
    ),
}


@pytest.mark.parametrize("text", REGRESSIONS.values(), ids=list(REGRESSIONS))
def test_inputs_that_once_crashed_only_produce_diagnostics(text: str) -> None:
    compile_everything(text)
