"""The formatter: canonical layout that keeps every comment.

Properties, on every sample file and on generated programs with comments,
blank lines and stray indentation sprinkled in: formatting never changes the
tree, is idempotent, and keeps the same comments in the same order.  Then
where particular comments land, blank lines, and ``format_file``.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowc.compiler import ast
from flowc.compiler.diagnostics import ParseFailure
from flowc.compiler.formatter import format_file, format_source
from flowc.compiler.parser import parse_module
from flowc.compiler.printer import print_module
from tests import strategies
from tests.test_parser import SOURCE_FILES
from tests.test_printer import SAMPLE


def comment_texts(text: str) -> list[str]:
    return [c.text.rstrip() for c in parse_module(text).comments]


def check_properties(source: str) -> str:
    formatted = format_source(source)
    assert parse_module(formatted) == parse_module(source), formatted
    assert format_source(formatted) == formatted, formatted
    assert comment_texts(formatted) == comment_texts(source), formatted
    return formatted


# --------------------------------------------------------------------------- properties


@pytest.mark.parametrize("path", SOURCE_FILES, ids=lambda p: Path(p).name)
def test_sample_files_keep_tree_and_comments_and_format_idempotently(path: str) -> None:
    check_properties(Path(path).read_text(encoding="utf-8"))


def sprinkle(text: str, data: st.DataObject) -> str:
    """``text`` with comments, blank lines and indentation changes at random line ends."""
    lines: list[str] = []
    for number, line in enumerate(text.splitlines()):
        choice = data.draw(st.integers(0, 9), label="choice")
        indent = " " * data.draw(st.integers(0, 6), label="indent") if choice == 3 else None
        if choice == 0:
            lines.append(f"{' ' * (number % 5)}# own {number}")
        elif choice == 1:
            lines.append("")
        elif choice == 2:
            line += f"  # trailing {number}"
        lines.append(line if indent is None else indent + line.lstrip())
    if data.draw(st.booleans(), label="final comment"):
        lines += ["", "# the end"]
    return "\n".join(lines) + "\n"


FORMAT = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@FORMAT
@given(strategies.modules(), st.data())
def test_generated_programs_with_comments(module: ast.Module, data: st.DataObject) -> None:
    source = sprinkle(print_module(module), data)
    assert parse_module(source) == module
    check_properties(source)


@FORMAT
@given(st.sampled_from(SOURCE_FILES), st.data())
def test_sample_files_with_more_comments(path: str, data: st.DataObject) -> None:
    check_properties(sprinkle(Path(path).read_text(encoding="utf-8"), data))


def test_every_construct_with_a_comment_on_every_line() -> None:
    lines = SAMPLE.strip().splitlines()
    # not after the lines inside the triple-quoted string
    commented = [line if '"""' in line else f"{line}  # c{n}" for n, line in enumerate(lines)]
    check_properties("\n".join(commented) + "\n")


# --------------------------------------------------------------------------- placement


def test_trailing_and_leading_comments_stay_with_their_statements() -> None:
    source = (
        "flow f() {  # opener\n"
        "  # before x\n"
        "  let x = 1   # after x\n"
        "  let y = [1, 2]  # after y\n"
        "  # end of block\n"
        "}  # after flow\n"
    )
    assert format_source(source) == (
        "flow f() {  # opener\n"
        "    # before x\n"
        "    let x = 1  # after x\n"
        "    let y = [1, 2]  # after y\n"
        "    # end of block\n"
        "}  # after flow\n"
    )


def test_comments_in_a_map_break_it_one_entry_per_line() -> None:
    source = "const M = {a: 1, # first\n  # about b\n  b: 2}\n"
    assert format_source(source) == "const M = {\n    a: 1,  # first\n    # about b\n    b: 2,\n}\n"


def test_comments_in_clause_blocks_and_else_arms() -> None:
    source = (
        'service s "u" {  # the service\n'
        "    timeout 1s  # short\n"
        "    # retries\n"
        "    retry 3\n"
        "}\n"
        "flow f() {\n"
        "    if a {\n"
        "    } else {  # nothing yet\n"
        "        # really nothing\n"
        "    }\n"
        "}\n"
    )
    assert format_source(source) == (
        'service s "u" {  # the service\n'
        "    timeout 1s  # short\n"
        "    # retries\n"
        "    retry 3\n"
        "}\n"
        "\n"
        "flow f() {\n"
        "    if a {} else {  # nothing yet\n"
        "        # really nothing\n"
        "    }\n"
        "}\n"
    )


def test_a_comment_inside_an_expression_moves_before_its_statement() -> None:
    source = "flow f() {\n    log 1\n    let x = a +  # why\n        b\n}\n"
    assert format_source(source) == "flow f() {\n    log 1\n    # why\n    let x = a + b\n}\n"


def test_comments_between_else_and_brace_keep_their_order() -> None:
    source = "flow f() {\n  if a { log 1 }  # one\n  # two\n  else { log 2 }  # three\n}\n"
    formatted = check_properties(source)
    assert formatted.index("# one") < formatted.index("# two") < formatted.index("# three")


def test_flow_header_comments() -> None:
    source = (
        "flow f(\n    a: int,  # the a\n    # b next\n    b: string,\n) -> int\n"
        "    timeout 1s  # budget\n{\n    return a\n}\n"
    )
    formatted = check_properties(source)
    assert "    a: int,  # the a\n    # b next\n    b: string,\n" in formatted
    assert "    timeout 1s  # budget\n{\n" in formatted


def test_file_header_and_footer_comments() -> None:
    source = "# header\n\n\n\nimport 'a.flow'\n# about b\nimport 'b.flow'\n\n\n# footer\n"
    assert format_source(source) == (
        '# header\n\nimport "a.flow"\n# about b\nimport "b.flow"\n\n# footer\n'
    )
    assert format_source("# only a comment") == "# only a comment\n"
    assert format_source("") == ""


# --------------------------------------------------------------------------- blank lines


def test_blank_line_runs_collapse_and_block_edges_lose_them() -> None:
    assert format_source("const A = 1\n\n\nconst B = 2\ntype T = int") == (
        "const A = 1\n\nconst B = 2\n\ntype T = int\n"
    )
    source = (
        "flow f() {\n\n\n    log 1\n\n\n\n    log 2\n    log 3\n\n}\nconst A = 1\nconst B = 2\n"
    )
    assert format_source(source) == (
        "flow f() {\n    log 1\n\n    log 2\n    log 3\n}\n\nconst A = 1\nconst B = 2\n"
    )


def test_layout_is_normalised() -> None:
    source = "flow   f( a:int,b : string )->int{\r\n\tif a>1{return a}\r\n\treturn 0  # zero\r\n}"
    assert format_source(source) == (
        "flow f(a: int, b: string) -> int {\n"
        "    if a > 1 {\n        return a\n    }\n"
        "    return 0  # zero\n"
        "}\n"
    )


# --------------------------------------------------------------------------- files


def test_format_file_rewrites_in_place(tmp_path: Path) -> None:
    path = tmp_path / "a.flow"
    path.write_text("const   A=1  # one\n", encoding="utf-8")
    result = format_file(path)
    assert result.changed
    assert path.read_text(encoding="utf-8") == "const A = 1  # one\n"
    assert not format_file(path).changed


def test_format_file_check_reports_a_diff_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "b.flow"
    path.write_text("const A=1\n", encoding="utf-8")
    result = format_file(path, check=True)
    assert result.changed
    assert path.read_text(encoding="utf-8") == "const A=1\n"
    assert result.diff.splitlines() == [
        f"--- {path}",
        f"+++ {path} (formatted)",
        "@@ -1 +1 @@",
        "-const A=1",
        "+const A = 1",
    ]
    assert format_file(tmp_path / "b.flow", check=False).formatted == "const A = 1\n"
    assert format_file(path, check=True).diff == ""


def test_format_file_reads_stdin_for_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("const A=1"))
    result = format_file("-", check=False)
    assert (result.path, result.formatted, result.changed) == ("<stdin>", "const A = 1\n", True)


def test_syntax_errors_are_reported_not_formatted(tmp_path: Path) -> None:
    path = tmp_path / "bad.flow"
    path.write_text("flow f( {\n", encoding="utf-8")
    with pytest.raises(ParseFailure):
        format_file(path)
    assert path.read_text(encoding="utf-8") == "flow f( {\n"
