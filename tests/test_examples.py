"""Every example checks cleanly: no errors and no warnings (`flowc check -W error`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flowc.compiler import compile_file

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FILES = sorted(EXAMPLES.glob("*.flow"))


def test_there_are_at_least_ten_examples() -> None:
    assert len(FILES) >= 10


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_example_checks_without_diagnostics(path: Path) -> None:
    compilation = compile_file(str(path))
    assert [f"{d.span} {d.code} {d.message}" for d in compilation.diagnostics] == []


def test_cli_check_all_examples_with_warnings_as_errors() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "flowc.cli", "check", "-W", "error", *map(str, FILES)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_examples_are_in_the_canonical_format() -> None:
    from flowc.compiler.formatter import format_source

    for path in [*FILES, *sorted((EXAMPLES / "lib").glob("*.flow"))]:
        text = path.read_text(encoding="utf-8")
        assert format_source(text, str(path)) == text, f"{path.name} is not formatted"
