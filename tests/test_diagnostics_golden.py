"""Golden tests: the exact text `flowc check` prints for typical mistakes.

Each `tests/golden/NAME.flow` is checked and its rendered diagnostics (plain,
no colour) are compared with `tests/golden/NAME.out`.  Run with
`FLOWC_UPDATE_GOLDEN=1` to rewrite the `.out` files after an intended change,
then review the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flowc.compiler import compile_file
from flowc.compiler.diagnostics import render, summary

GOLDEN = Path(__file__).parent / "golden"


def rendered(path: Path) -> str:
    old = os.getcwd()
    os.chdir(GOLDEN.parent.parent)  # diagnostics show paths relative to the repository
    try:
        compilation = compile_file(str(path))
    finally:
        os.chdir(old)
    text = "".join(
        render(d, compilation.sources.get(d.span.file), colour=False) + "\n"
        for d in compilation.diagnostics
    )
    errors = sum(1 for d in compilation.diagnostics if d.is_error)
    return text + summary(errors, len(compilation.diagnostics) - errors) + "\n"


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.flow")), ids=lambda p: p.stem)
def test_rendered_diagnostics(path: Path) -> None:
    expected_file = path.with_suffix(".out")
    actual = rendered(path)
    if os.environ.get("FLOWC_UPDATE_GOLDEN"):
        expected_file.write_text(actual, encoding="utf-8")
    assert actual == expected_file.read_text(encoding="utf-8")


def test_colour_only_when_asked() -> None:
    compilation = compile_file(str(GOLDEN / "typo.flow"))
    first = compilation.diagnostics[0]
    source = compilation.sources.get(first.span.file)
    assert "\x1b[" not in render(first, source, colour=False)
    assert "\x1b[" in render(first, source, colour=True)
