"""`flowc fmt`: in place, `--check` with a diff and exit 1, stdin, errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from flowc.cli import main

MESSY = 'flow f()  {\n  log   "hi"   # greet\n\n\n  return\n}\n'
CANONICAL = 'flow f() {\n    log "hi"  # greet\n\n    return\n}\n'


def fmt(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["fmt", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_formats_in_place_and_keeps_comments(tmp_path: Path) -> None:
    path = tmp_path / "a.flow"
    path.write_text(MESSY, encoding="utf-8")
    code, _, err = fmt(str(path))
    assert code == 0 and "formatted" in err
    assert path.read_text(encoding="utf-8") == CANONICAL
    assert fmt(str(path))[0] == 0  # idempotent: nothing more to do


def test_check_reports_a_diff_and_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "a.flow"
    path.write_text(MESSY, encoding="utf-8")
    code, out, err = fmt("--check", str(path))
    assert code == 1
    assert out.startswith("---") and '+    log "hi"  # greet' in out
    assert "would be reformatted" in err
    assert path.read_text(encoding="utf-8") == MESSY
    path.write_text(CANONICAL, encoding="utf-8")
    assert fmt("--check", str(path)) == (0, "", "")


def test_stdin_to_stdout() -> None:
    code, out, _ = fmt("-", stdin=MESSY)
    assert (code, out) == (0, CANONICAL)


def test_syntax_error_leaves_the_file_alone(tmp_path: Path) -> None:
    path = tmp_path / "bad.flow"
    path.write_text("flow f() {\n", encoding="utf-8")
    code, _, err = fmt(str(path))
    assert code == 1 and "error[E0004]" in err
    assert path.read_text(encoding="utf-8") == "flow f() {\n"


def test_unreadable_file_is_a_usage_error(tmp_path: Path) -> None:
    code, _, err = fmt(str(tmp_path / "missing.flow"))
    assert code == 2 and "no such file" in err


def test_stdin_over_the_source_limit_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWC_MAX_SOURCE_MIB", "1")
    code, out, err = fmt("-", stdin="# " + "x" * 1024 * 1024 + "\n" + MESSY)
    assert (code, out) == (2, "")
    assert err.startswith("flowc: error: <stdin>: file is larger than 1 MiB")
    assert fmt("-", stdin="# short\n" + MESSY)[0] == 0
