"""Checker tests driven by expectation comments in `tests/checker/*.flow`.

In the style of starlark-go's test files: a line that should produce
diagnostics ends with one ``###`` marker per expected diagnostic, each with an
optional code and optional quoted regular expressions, all of which must match
the diagnostic's message or help text::

    let a = user_idd  ### E0104 "unknown name `user_idd`" "did you mean `user_id`"

Every diagnostic must be expected on the line where its span starts, and
every expectation must be met: adding a checker test is adding two lines.
"""

from __future__ import annotations

import re
from pathlib import Path

import attrs
import pytest

from flowc.compiler import compile_file
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


@pytest.mark.parametrize("path", sorted(CASES.glob("*.flow")), ids=lambda p: p.name)
def test_expectation_file(path: Path) -> None:
    problems = check_expectations(path)
    assert not problems, "\n".join(problems)


def test_expectation_files_exist() -> None:
    assert len(list(CASES.glob("*.flow"))) >= 10


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
