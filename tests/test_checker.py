"""Checker tests driven by expectation comments in `tests/checker/*.flow`.

In the style of starlark-go's test files: a line that should produce
diagnostics ends with one ``###`` marker per expected diagnostic, each with an
optional code and optional quoted regular expressions, all of which must match
the diagnostic's message or help text::

    let a = user_idd  ### E0104 "unknown name `user_idd`" "did you mean `user_id`"

Every diagnostic must be expected on the line where its span starts, and
every expectation must be met: adding a checker test is adding two lines.
Flow definitions written in YAML (``*.flow.yaml``, the step-list form) carry
their expectations in YAML comments, the same way.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowc.compiler import budget, compile_file, compile_source
from flowc.compiler.diagnostics import Diagnostic

CASES = Path(__file__).parent / "checker"
MARKER = re.compile(r"###\s*([EW]\d{4})?((?:\s*\"(?:[^\"\\]|\\.)*\")*)")
QUOTED = re.compile(r"\"((?:[^\"\\]|\\.)*)\"")


@attrs.frozen
class Expectation:
    line: int
    code: str | None
    patterns: tuple[str, ...]

    def matches(self, diagnostic: Diagnostic) -> bool:
        if diagnostic.span.line != self.line:
            return False
        if self.code is not None and diagnostic.code != self.code:
            return False
        text = diagnostic.message + "\n" + (diagnostic.help or "")
        return all(re.search(p, text) for p in self.patterns)

    def __str__(self) -> str:
        return f"line {self.line}: {self.code or ''} {' '.join(repr(p) for p in self.patterns)}"


def expectations(text: str) -> list[Expectation]:
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if "###" not in line:
            continue
        for match in MARKER.finditer(line[line.index("###") :]):
            patterns = tuple(p.replace('\\"', '"') for p in QUOTED.findall(match.group(2)))
            found.append(Expectation(number, match.group(1), patterns))
    return found


def check_expectations(path: Path) -> list[str]:
    """Compare the diagnostics of checking ``path`` with the expectations in
    every file of the program (the root and what it imports)."""
    compilation = compile_file(str(path))
    wanted: list[tuple[str, Expectation]] = []
    for shown, text in compilation.sources.items():
        wanted += [(shown, e) for e in expectations(text)]
    pending = list(compilation.diagnostics)
    problems = []
    for shown, expected in wanted:
        hit = next((d for d in pending if d.span.file == shown and expected.matches(d)), None)
        if hit is None:
            problems.append(f"missing: {shown} {expected}")
        else:
            pending.remove(hit)
    for diagnostic in pending:
        problems.append(f"unexpected: {diagnostic.span} {diagnostic.code} {diagnostic.message}")
    return problems


@pytest.mark.parametrize(
    "path", sorted([*CASES.glob("*.flow"), *CASES.glob("*.yaml")]), ids=lambda p: p.name
)
def test_expectation_file(path: Path) -> None:
    problems = check_expectations(path)
    assert not problems, "\n".join(problems)


def test_expectation_files_exist() -> None:
    assert len(list(CASES.glob("*.flow"))) >= 10


# --------------------------------------------------------------------------- robustness
# Programs that once crashed the checker (an empty `max()`, a `RecursionError`, an
# `OverflowError`); each must now give diagnostics only.

CHAIN = 3000  # far beyond the interpreter's recursion limit


def _call_chain(declared: bool) -> str:
    result = " -> int" if declared else ""
    lines = [
        f"flow f{i}(){result} {{ step r = call f{i + 1}() return r.body }}" for i in range(CHAIN)
    ]
    lines.append(f"flow f{CHAIN}(){result} {{ return 1 }}")
    return "\n".join(lines) + "\n"


CRASHERS = {
    "empty parallel": "flow f() { parallel { } }\n",
    "self recursion": "flow a(n: int) -> int { step r = call a(n: n + 1) return r.body }\n",
    "mutual recursion": (
        'flow a(n: int) { step r = call b(n: n) log "${r.status}" }\n'
        'flow b(n: int) { step r = call a(n: n) log "${r.status}" }\n'
    ),
    "huge retry": (
        'service s "http://localhost:1" { retry 1000 backoff exponential 1s max 2s }\n'
        'flow f() timeout 5s { step x = GET s "/x" log "${x.status}" }\n'
    ),
    "call chain, inferred results": _call_chain(declared=False),
    "call chain, declared results": _call_chain(declared=True),
    "alias chain": "\n".join([f"type T{i} = T{i + 1}" for i in range(CHAIN)])
    + f"\ntype T{CHAIN} = int\nflow f(x: T0) -> T0 {{ return x }}\n",
    "long alias cycle": "\n".join([f"type T{i} = T{i + 1}" for i in range(CHAIN)])
    + f"\ntype T{CHAIN} = T0\nflow f(x: T0) -> T0 {{ return x }}\n",
    "aliases nesting records": "\n".join([f"type T{i} = {{a: T{i + 1}?}}" for i in range(CHAIN)])
    + f"\ntype T{CHAIN} = int\nflow f(x: T0) -> T0 {{ return x }}\n",
    "const cycle": "const A = B\nconst B = A\nflow f() { timeout A { sleep B } }\n",
}


@pytest.mark.parametrize("source", CRASHERS.values(), ids=list(CRASHERS))
def test_checker_gives_diagnostics_never_an_exception(source: str) -> None:
    compilation = compile_source(source, "crasher.flow")
    assert all(d.code.startswith(("E", "W")) for d in compilation.diagnostics)


def test_deeply_aliased_types_are_too_deep_and_alias_cycles_are_recursive() -> None:
    nested = compile_source(CRASHERS["aliases nesting records"], "nested.flow")
    assert [d.code for d in nested.diagnostics if d.is_error] == ["E0007"]
    cycle = compile_source(CRASHERS["long alias cycle"], "cycle.flow")
    assert {d.code for d in cycle.diagnostics if d.is_error} == {"E0108"}
    chain = compile_source(CRASHERS["alias chain"], "chain.flow")
    assert chain.ok


def test_a_long_import_chain_loads(tmp_path: Path) -> None:
    for i in range(CHAIN):
        follow = f'import "m{i + 1}.flow"\n' if i + 1 < CHAIN else ""
        (tmp_path / f"m{i}.flow").write_text(f"{follow}const K{i} = {i}\n")
    compilation = compile_file(str(tmp_path / "m0.flow"))
    assert len(compilation.sources) == CHAIN
    assert {d.code for d in compilation.diagnostics} == {"W0103"}  # each import unused


# ----------------------------------------------------------------------- the budget's arithmetic

DURATIONS = st.integers(0, 2**63 - 1)  # what a duration literal may hold, in ns
COUNTS = st.integers(0, 2**63 - 1)
FACTORS = st.one_of(
    st.floats(min_value=1e-300, max_value=1.7e308, allow_nan=False),
    st.integers(1, 2**63 - 1).map(float),
)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["fixed", "linear", "exponential"]),
    DURATIONS,
    FACTORS,
    COUNTS,
    st.none() | DURATIONS,
)
def test_backoff_waits_never_raise_and_saturate(
    kind: str, delay: int, factor: float, count: int, cap: int | None
) -> None:
    total = budget.backoff_waits(kind, delay, factor, count, cap)
    assert isinstance(total, int)
    assert 0 <= total <= budget.SATURATED
    growing = kind != "exponential" or factor >= 1
    if count and cap is not None and delay >= cap and growing:
        assert total == budget.saturate(cap * count)


def _waits_one_by_one(kind: str, delay: int, factor: float, count: int, cap: int | None) -> int:
    """The waits as the runtime computes them, summed without shortcuts."""
    total = 0
    for i in range(count):
        wait: float
        if kind == "fixed":
            wait = delay
        elif kind == "linear":
            wait = delay * (i + 1)
        elif delay == 0:  # as the runtime: no base, no wait, however large the growth
            wait = 0
        else:
            try:
                wait = delay * factor**i
            except OverflowError:
                wait = math.inf
        wait = min(wait, cap) if cap is not None else wait
        total += budget.SATURATED if wait >= budget.SATURATED else int(wait)
    return min(total, budget.SATURATED)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["fixed", "linear", "exponential"]),
    DURATIONS,
    FACTORS,
    st.integers(0, 2 * budget.MAX_EXACT_WAITS),
    st.none() | DURATIONS,
)
def test_backoff_waits_are_a_lower_bound_of_the_real_waits(
    kind: str, delay: int, factor: float, count: int, cap: int | None
) -> None:
    total = budget.backoff_waits(kind, delay, factor, count, cap)
    exact = _waits_one_by_one(kind, delay, factor, count, cap)
    if count <= budget.MAX_EXACT_WAITS or kind != "exponential":
        assert total == exact  # the same waits (fixed and linear summed in closed form)
    else:  # waits after the first thousand are bounded from below
        assert total <= exact


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 2**70))
def test_format_duration_takes_any_saturated_count(nanos: int) -> None:
    text = budget.format_duration(budget.saturate(nanos))
    assert text and "e+" not in text


def test_source_text_over_the_limit_is_e0020_and_not_parsed(tmp_path: Path) -> None:
    """Text that reaches the loader by another way than ``read_source_file`` (the
    API's ``source=``, an editor's buffers) is held to the source limit too; this
    code cannot be an expectation file, which would have to exceed the limit."""
    from flowc.compiler.loader import MIB

    text = "# " + "é" * (MIB // 2) + "\nflow ok() -> int {\n    return 1\n}\n"  # 1 MiB in UTF-8
    path = str(tmp_path / "big.flow")
    (diagnostic,) = compile_file(path, source=text, source_limit=MIB).diagnostics
    assert (diagnostic.code, diagnostic.span.line, diagnostic.span.col) == ("E0020", 1, 1)
    assert diagnostic.message == "the file is 1.0 MiB, more than the source limit of 1 MiB"
    assert diagnostic.help == "--max-source-mib or FLOWC_MAX_SOURCE_MIB raise the limit"
    assert compile_file(path, source=text, source_limit=2 * MIB).ok
