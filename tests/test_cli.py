"""`flowc check` and the CLI's contract: exit codes, output formats, bad input.

Bad input must get a diagnostic (or a one-line message for unreadable files)
and exit 1 or 2 — never a traceback.  Most tests drive the click command in
process; a few run the real console entry point in a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowc import __version__
from flowc.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

GOOD = "flow ok() -> int {\n    return 1\n}\n"
BAD = 'flow bad() -> int {\n    return "x"\n}\n'
WARNING = "flow warn() {\n    let unused = 1\n}\n"


def check(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["check", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def write(tmp_path: Path, text: str | bytes, name: str = "f.flow") -> str:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_clean_file_exits_0_silently(tmp_path: Path) -> None:
    code, out, err = check(write(tmp_path, GOOD))
    assert (code, out, err) == (0, "", "")


def test_errors_exit_1_with_position_and_summary(tmp_path: Path) -> None:
    path = write(tmp_path, BAD)
    code, _, err = check(path)
    assert code == 1
    assert f"{Path(path).name}:2:12: error[E0201]:" in err
    assert err.rstrip().endswith("flowc: 1 error")


def test_warnings_exit_0_unless_promoted(tmp_path: Path) -> None:
    path = write(tmp_path, WARNING)
    code, _, err = check(path)
    assert code == 0 and "warning[W0101]" in err
    code, _, err = check("-W", "error", path)
    assert code == 1 and "error[W0101]" in err


def test_json_format(tmp_path: Path) -> None:
    code, out, _ = check("--format", "json", write(tmp_path, BAD))
    assert code == 1
    payload = json.loads(out)
    assert payload["errors"] == 1 and payload["warnings"] == 0
    (diagnostic,) = payload["diagnostics"]
    assert diagnostic["code"] == "E0201"
    assert (diagnostic["line"], diagnostic["column"]) == (2, 12)
    assert diagnostic["severity"] == "error"


def test_several_files_and_the_worst_exit_code(tmp_path: Path) -> None:
    good = write(tmp_path, GOOD, "good.flow")
    bad = write(tmp_path, BAD, "bad.flow")
    assert check(good, bad)[0] == 1
    assert check(good, str(tmp_path / "missing.flow"))[0] == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\x00bad", "binary"),
        (b'flow f() { log "\xe9" }', "not valid UTF-8"),
    ],
    ids=["binary", "latin1"],
)
def test_unreadable_sources_get_one_line_and_exit_2(
    tmp_path: Path, content: bytes, message: str
) -> None:
    code, out, err = check(write(tmp_path, content))
    assert code == 2
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err + out


MIB = 1024 * 1024


def test_a_file_over_the_default_source_limit_gets_one_line_and_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "huge.flow"
    with path.open("wb") as handle:
        handle.truncate(32 * MIB + 1)  # sparse: only the limit and one byte are ever read
    code, out, err = check(str(path))
    assert code == 2
    assert err.strip().splitlines() == [
        f"flowc: error: {path}: file is larger than 32 MiB, the limit for source files"
        " (--max-source-mib or FLOWC_MAX_SOURCE_MIB raise the limit)"
    ]
    assert out == ""


def padded_flow(mebibytes: float) -> str:
    """A valid flow of about ``mebibytes`` MiB (most of it one comment)."""
    return "# " + "x" * int(mebibytes * MIB) + "\nflow ok() -> int {\n    return 1\n}\n"


def test_the_source_limit_is_an_option_and_an_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, padded_flow(1.5))
    monkeypatch.setenv("FLOWC_MAX_SOURCE_MIB", "1")
    code, _, err = check(path)
    assert code == 2 and "larger than 1 MiB" in err
    assert check("--max-source-mib", "2", path)[0] == 0
    monkeypatch.setenv("FLOWC_MAX_SOURCE_MIB", "2")
    assert check(path)[0] == 0
    assert check("--max-source-mib", "1", path)[0] == 2


def test_imports_over_the_source_limit_are_diagnostics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, padded_flow(1.5), "big.flow")
    root = write(tmp_path, 'import "big.flow"\n\n' + GOOD)
    monkeypatch.setenv("FLOWC_MAX_SOURCE_MIB", "1")
    code, _, err = check(root)
    assert code == 1
    assert 'error[E0102]: cannot import "big.flow": file is larger than 1 MiB' in err


@pytest.mark.parametrize("setting", ["0", "-3", "lots", "1.5"])
def test_a_malformed_source_limit_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, setting: str
) -> None:
    monkeypatch.setenv("FLOWC_MAX_SOURCE_MIB", setting)
    code, _, err = check(write(tmp_path, GOOD))
    assert code == 2
    assert err.strip().splitlines() == [
        f"flowc: error: FLOWC_MAX_SOURCE_MIB must be a whole number of MiB, at least 1,"
        f" not {setting!r}"
    ]
    result = CliRunner().invoke(main, ["check", "--max-source-mib", "0", write(tmp_path, GOOD)])
    assert result.exit_code == 2 and "--max-source-mib" in result.stderr


def test_missing_file_and_directory_exit_2(tmp_path: Path) -> None:
    code, _, err = check(str(tmp_path / "nope.flow"))
    assert code == 2 and "no such file" in err
    code, _, err = check(str(tmp_path))
    assert code == 2


SECRET_LINE = "zq7:x:0:0:the-first-line-of-a-private-file"


@pytest.mark.parametrize("target", ["private.txt", "private.json", "no-suffix", "link.flow"])
def test_imports_read_flow_files_only_and_never_quote_another_file(
    tmp_path: Path, target: str
) -> None:
    private = tmp_path / "private.txt"
    private.write_text(f"{SECRET_LINE}\nmore\n")
    for name in ("private.json", "no-suffix"):
        (tmp_path / name).write_text(f"{SECRET_LINE}\n")
    (tmp_path / "link.flow").symlink_to(private)  # a `.flow` name is not enough
    code, out, err = check(write(tmp_path, f'import "{target}"\nconst A = 1\n'))
    assert code == 1
    assert f'error[E0102]: cannot import "{target}"' in err
    assert "zq7" not in out + err and "private-file" not in out + err


@pytest.mark.parametrize("name", ["notes.txt", "link.flow"])
def test_a_root_file_that_is_not_flow_source_is_refused_unread(tmp_path: Path, name: str) -> None:
    private = tmp_path / "notes.txt"
    private.write_text(f"{SECRET_LINE}\n")
    if name == "link.flow":
        (tmp_path / name).symlink_to(private)
    code, out, err = check(str(tmp_path / name))
    assert code == 2
    assert err.strip() == (
        f"flowc: error: {tmp_path / name}: not a .flow file (nor a .json/.yaml flow definition)"
    )
    assert "zq7" not in out + err


def test_a_huge_line_is_never_quoted(tmp_path: Path) -> None:
    code, out, err = check(write(tmp_path, "flow f() { log " + "x" * 500_000 + " ยง }\n"))
    assert code == 1 and "error[E0002]" in err
    assert "x" * 300 not in out + err


def test_bad_flag_is_a_usage_error() -> None:
    result = CliRunner().invoke(main, ["check", "--frobnicate", "x.flow"])
    assert result.exit_code == 2
    assert "No such option" in result.stderr


@pytest.mark.parametrize(
    ("source", "code"),
    [
        ("", "E0014"),
        ("# only a comment\n", "E0014"),
        ("}", "E0001"),
        ('flow f() { log "unterminated }\n', "E0003"),
        ('flow f() { log "a ${x" }\n', "E0011"),
        ('flow f() { log "${}" }\n', "E0011"),
        ("flow f() { log size(" + "[" * 10_000 + "1" + "]" * 10_000 + ") }\n", "E0007"),
        ("flow f() { log " + "-" * 10_000 + "1 }\n", "E0007"),
        ("flow f() { log " + " + ".join(["1"] * 10_000) + " }\n", "E0007"),
        ("flow f() { log 1 ยง }\n", "E0002"),
    ],
    ids=[
        "empty",
        "comment",
        "lone-brace",
        "unterminated",
        "open-interp",
        "empty-interp",
        "deep-lists",
        "deep-unary",
        "long-chain",
        "bad-char",
    ],
)
def test_bad_programs_get_a_positioned_diagnostic(tmp_path: Path, source: str, code: str) -> None:
    exit_code, _, err = check(write(tmp_path, source))
    assert exit_code == 1
    assert f"error[{code}]" in err
    assert "Traceback" not in err


def test_deep_parentheses_count_as_nesting(tmp_path: Path) -> None:
    source = "flow f() { log " + "(" * 300_000 + "1" + ")" * 300_000 + " }\n"
    code, _, err = check(write(tmp_path, source))
    assert code == 1 and "error[E0007]: nesting is too deep" in err
    assert check(write(tmp_path, "flow f() { log " + "(" * 200 + "1" + ")" * 200 + " }\n"))[0] == 0


def test_no_color_and_tty_colour(tmp_path: Path) -> None:
    from flowc.cli import use_colour

    class Tty:
        def isatty(self) -> bool:
            return True

    assert use_colour(Tty()) is True or "NO_COLOR" in __import__("os").environ
    assert use_colour(object()) is False


def test_no_color_env_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    from flowc.cli import use_colour

    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("NO_COLOR", "1")
    assert use_colour(Tty()) is False


def test_emit_ir_prints_slots_and_segments() -> None:
    result = CliRunner().invoke(
        main, ["check", "--emit", "ir", str(EXAMPLES / "parallel_branches.flow")]
    )
    assert result.exit_code == 0
    assert "flow dashboard(" in result.stdout
    assert "parallel" in result.stdout


def test_console_entry_point_in_a_subprocess(tmp_path: Path) -> None:
    path = write(tmp_path, BAD)
    done = subprocess.run(
        [sys.executable, "-m", "flowc.cli", "check", path],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "error[E0201]" in done.stderr
    assert done.stdout == ""


def test_the_fast_exit_flushes_everything_to_a_pipe(tmp_path: Path) -> None:
    # `entry` leaves with os._exit after flushing; a large JSON report through a
    # pipe must still arrive whole, and the exit status must be the command's.
    lines = "".join(f"let v{i} = missing_{i}_{'x' * 300}\n" for i in range(400))
    path = write(tmp_path, f"flow f() {{\n{lines}}}\n")
    done = subprocess.run(
        [sys.executable, "-m", "flowc.cli", "check", "--format", "json", path],
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(done.stdout)
    assert len(done.stdout) > 100_000  # more than a pipe buffer holds
    assert done.returncode == 1
    assert report["errors"] == len(report["diagnostics"]) > 100
