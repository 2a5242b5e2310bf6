"""Every example checks cleanly: no errors and no warnings (`flowc check -W error`).

The examples written as data (`*.json`, `*.flow.yaml`: the step-list form) too.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flowc.compiler import compile_file

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
FILES = sorted(EXAMPLES.glob("*.flow"))
DEFINITIONS = sorted([*EXAMPLES.glob("*.json"), *EXAMPLES.glob("*.yaml")])


def test_there_are_at_least_ten_examples() -> None:
    assert len(FILES) >= 10


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_example_checks_without_diagnostics(path: Path) -> None:
    compilation = compile_file(str(path))
    assert [f"{d.span} {d.code} {d.message}" for d in compilation.diagnostics] == []


@pytest.mark.parametrize("path", DEFINITIONS, ids=lambda p: p.name)
def test_example_definition_checks_without_diagnostics(path: Path) -> None:
    compilation = compile_file(str(path))
    assert [f"{d.span} {d.code} {d.message}" for d in compilation.diagnostics] == []


def test_there_are_json_and_yaml_examples() -> None:
    assert {p.suffix for p in DEFINITIONS} == {".json", ".yaml"}


def test_cli_check_all_examples_with_warnings_as_errors() -> None:
    files = [*FILES, *DEFINITIONS]
    result = subprocess.run(
        [sys.executable, "-m", "flowc.cli", "check", "-W", "error", *map(str, files)],
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
