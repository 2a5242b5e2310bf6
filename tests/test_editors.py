"""Editor support for `.flow`: the Pygments lexer, the VS Code extension, Vim and Neovim.

Each editor integration is tested with the real tool that will run it, on the
samples in ``editors/vscode/test/samples/`` (written to exercise every lexical
form and declaration site) and on every file in ``examples/``:

* **Pygments** — :class:`flowc.pygments_lexer.FlowLexer` is found through the
  entry point (``get_lexer_by_name``, ``pygmentize -l flow``, by file name);
  it produces no ``Error`` token on any sample or example, its tokens join
  back to the source exactly, chosen tokens have the expected types, and an
  invalid character does give ``Error`` (so the no-error check can fail).
* **VS Code** — ``npm test`` in ``editors/vscode`` runs the Node tests (the
  TextMate grammar in the real vscode-textmate/oniguruma engine, the
  extension entry point against fakes of ``vscode`` and the language client,
  folding), ``vscode-tmgrammar-test`` on the ``# ^^^ scope`` assertion files
  and ``vscode-tmgrammar-snap`` on the committed snapshots; separate tests
  show that those two tools do fail on a wrong assertion or a changed
  snapshot, and that ``vsce`` packages a ``.vsix`` with the right content.
* **Vim and Neovim** — each editor is started headless with only
  ``editors/vim`` added to its runtime path, opens a sample and reports
  ``synIDattr(synID(...))`` at chosen places (and ``synstack`` inside an
  interpolation), the options set by the ftplugin, and the result of
  re-indenting a sample whose indentation was removed.

A tool that is missing (node, npm, vim, nvim, or the installed node modules)
skips its tests on a developer's machine, but fails them when ``CI=true``:
CI must never pass by testing nothing.  ``editors/README.md`` lists what CI
installs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from pygments.lexers import get_lexer_by_name, get_lexer_for_filename
from pygments.token import (
    Comment,
    Error,
    Keyword,
    Name,
    Number,
    Operator,
    Punctuation,
    String,
    _TokenType,
)

from flowc.pygments_lexer import Duration, FlowLexer

ROOT = Path(__file__).resolve().parents[1]
VSCODE = ROOT / "editors" / "vscode"
VIM_RUNTIME = ROOT / "editors" / "vim"
SAMPLES_DIR = VSCODE / "test" / "samples"
SAMPLES = sorted(SAMPLES_DIR.glob("*.flow"))
ASSERTION_FILES = sorted((VSCODE / "test").glob("*.flow"))
#: Assertion files that are free of lexical errors (invalid.flow is made of them).
VALID_ASSERTION_FILES = [p for p in ASSERTION_FILES if p.name != "invalid.flow"]
EXAMPLES = sorted((ROOT / "examples").rglob("*.flow"))
REGISTRATION = SAMPLES_DIR / "registration.flow"
LEXICAL = SAMPLES_DIR / "lexical.flow"

ON_CI = os.environ.get("CI") == "true"


def require_tool(name: str) -> str:
    """The path of executable ``name``; skip without it, but fail on CI."""
    path = shutil.which(name)
    if path is None:
        message = f"`{name}` is not installed (editors/README.md lists what CI installs)"
        if ON_CI:
            pytest.fail(message)
        pytest.skip(message)
    return path


def require_node_modules() -> None:
    require_tool("node")
    require_tool("npm")
    if not (VSCODE / "node_modules" / "vscode-tmgrammar-test").is_dir():
        message = "editors/vscode/node_modules is missing: run `npm ci --prefix editors/vscode`"
        if ON_CI:
            pytest.fail(message)
        pytest.skip(message)


def run(
    args: Sequence[str], *, cwd: Path = ROOT, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(args),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def locate(text: str, line_needle: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """0-based (line, character) of the ``nth`` ``needle`` on the line with ``line_needle``."""
    lines = text.split("\n")
    matches = [i for i, line in enumerate(lines) if line_needle in line]
    assert matches, f"no line contains {line_needle!r}"
    line = matches[0]
    column = -1
    for _ in range(nth + 1):
        column = lines[line].index(needle, column + 1)
    return line, column


# ---------------------------------------------------------------- Pygments


def lex(text: str) -> list[tuple[int, _TokenType, str]]:
    return list(FlowLexer().get_tokens_unprocessed(text))


def token_at(text: str, line_needle: str, needle: str, nth: int = 0) -> tuple[_TokenType, str]:
    line, column = locate(text, line_needle, needle, nth)
    offset = sum(len(part) + 1 for part in text.split("\n")[:line]) + column
    for start, token, value in lex(text):
        if start <= offset < start + len(value):
            return token, value
    raise AssertionError(f"no token at offset {offset}")


def test_lexer_is_found_by_name_alias_and_file_name() -> None:
    assert isinstance(get_lexer_by_name("flow"), FlowLexer)
    assert isinstance(get_lexer_for_filename("registration.flow"), FlowLexer)


def test_pygmentize_highlights_a_file_by_alias_and_by_extension(tmp_path: Path) -> None:
    for args in (["-l", "flow", str(REGISTRATION)], [str(REGISTRATION)]):
        result = run([sys.executable, "-m", "pygments", "-f", "html", *args])
        assert result.returncode == 0, result.stderr
        assert '<span class="kd">flow</span>' in result.stdout
        assert '<span class="nf">user_registration</span>' in result.stdout
        assert 'class="err"' not in result.stdout
    pygmentize = Path(sys.executable).parent / "pygmentize"
    if pygmentize.exists():
        out = tmp_path / "out.html"
        result = run([str(pygmentize), "-l", "flow", "-f", "html", "-o", str(out), str(LEXICAL)])
        assert result.returncode == 0, result.stderr
        assert '<span class="m m-Duration">1m30s</span>' in out.read_text()


@pytest.mark.parametrize(
    "path",
    SAMPLES + VALID_ASSERTION_FILES + EXAMPLES,
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_lexes_without_error_and_round_trips(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    tokens = lex(text)
    assert "".join(value for _, _, value in tokens) == text
    position = 0
    for start, _, value in tokens:
        assert start == position
        position += len(value)
    errors = [
        (text.count("\n", 0, start) + 1, value) for start, token, value in tokens if token is Error
    ]
    assert errors == []


@pytest.mark.parametrize(
    ("line", "needle", "nth", "expected"),
    [
        ('import "billing.flow" as', "import", 0, Keyword.Namespace),
        ('import "billing.flow" as', "billing", 1, Name.Namespace),
        ("type User =", "type", 0, Keyword.Declaration),
        ("type User =", "User", 0, Name.Class),
        ("type User =", "email", 0, Name.Attribute),
        ("type Page =", "list", 0, Keyword.Type),
        ("const PAGE_SIZE", "PAGE_SIZE", 0, Name.Constant),
        ("service users", "users", 0, Name.Namespace),
        ("flow user_registration(", "user_registration", 0, Name.Function),
        ("flow user_registration(", "notify", 0, Name.Variable),
        ("flow user_registration(", "true", 0, Keyword.Constant),
        ("flow user_registration(", "->", 0, Operator),
        ("let started", "started", 0, Name.Variable),
        ("step check = GET", "check", 0, Name.Label),
        ("step check = GET", "GET", 0, Keyword.Reserved),
        ("step check = GET", "users", 0, Name.Namespace),
        ("step check = GET", "bool", 0, Keyword.Type),
        ("timeout 2s", "timeout", 0, Keyword.Pseudo),
        ("timeout 2s", "2s", 0, Duration),
        ("retry 3 backoff exponential 200ms", "backoff", 0, Keyword.Pseudo),
        ("retry 3 backoff exponential 200ms", "error", 0, Name),
        ("retry 3 backoff exponential 200ms", "status", 0, Name.Attribute),
        ("retry 3 backoff exponential 200ms", "in", 0, Operator.Word),
        ("accept 200..299", "..", 0, Operator),
        ("step charged = call", "call", 0, Keyword.Pseudo),
        ("step charged = call", "charge", 1, Name.Function),
        ("step charged = call", "10u", 0, Number.Integer),
        ("on error skip", "error", 0, Keyword.Pseudo),
        ("if check.body.exists", "if", 0, Keyword),
        ("catch err", "err", 0, Name.Variable),
        ("for i, tag in tags", "tag", 0, Name.Variable),
        ("json { user_id", "json", 0, Keyword.Pseudo),
        ("-> json", "json", 0, Keyword.Type),
        ("auth bearer secret(", "secret", 0, Name.Builtin),
        ("let kind = type(total)", "type", 0, Name.Builtin),
        ("let kind = type(total)", "int", 0, Keyword.Type),
        ("names.all(n,", "all", 0, Name.Builtin),
        ("# User registration", "#", 0, Comment.Single),
    ],
)
def test_registration_tokens(line: str, needle: str, nth: int, expected: _TokenType) -> None:
    token, value = token_at(REGISTRATION.read_text(), line, needle, nth)
    assert needle in value
    assert token is expected, f"{needle!r}: {token}"


@pytest.mark.parametrize(
    ("line", "needle", "nth", "expected"),
    [
        ("let ints", "1_000", 0, Number.Integer),
        ("let ints", "0x1F", 0, Number.Hex),
        ("let ints", "3u", 0, Number.Integer),
        ("let floats", "1e-3", 0, Number.Float),
        ("let durations", "1m30s", 0, Duration),
        ("let durations", "1.5s", 0, Duration),
        ("let escapes =", "\\U0001F600", 0, String.Escape),
        ("let escapes =", "\\$", 0, String.Escape),
        ("let interp", "${", 0, String.Interpol),
        ("let interp", "size", 0, Name.Builtin),
        ("let nested", "Accept", 0, String.Single),
        ("let nested", "m", 0, Name.Attribute),
        ("let raw =", "r", 1, String.Affix),
        ("let raw =", "{not_interpolated}", 0, String.Double),
        ("let bytes =", "${not}", 0, String.Double),
        ("let rawbytes", "br", 0, String.Affix),
        ("multi-line", "interp", 0, Name),
        ("let ops", "??", 0, Operator),
        ("let record", "json", 0, Name.Attribute),
        ("let record", "(", 0, Punctuation),
        ("let retry = 3", "retry", 0, Name.Variable),
        ("let t: map", "map", 0, Keyword.Type),
        ("let t: map", "null", 0, Keyword.Constant),
        ("let fields", "step", 0, Name.Attribute),
        ("let fields", "fail", 1, Name.Attribute),
        ("type Keyed", "for", 0, Name.Attribute),
    ],
)
def test_lexical_tokens(line: str, needle: str, nth: int, expected: _TokenType) -> None:
    token, value = token_at(LEXICAL.read_text(), line, needle, nth)
    assert needle in value
    assert token is expected, f"{needle!r}: {token}"


def test_interpolation_is_lexed_as_code_with_states() -> None:
    text = '"a ${ {\'k\': "v"}.k + size(x) } b"\n'
    tokens = [(token, value) for _, token, value in lex(text) if value.strip()]
    assert tokens == [
        (String.Double, '"'),
        (String.Double, "a "),
        (String.Interpol, "${"),
        (Punctuation, "{"),
        (String.Single, "'"),
        (String.Single, "k"),
        (String.Single, "'"),
        (Punctuation, ":"),
        (String.Double, '"'),
        (String.Double, "v"),
        (String.Double, '"'),
        (Punctuation, "}"),
        (Punctuation, "."),
        (Name.Attribute, "k"),
        (Operator, "+"),
        (Name.Builtin, "size"),
        (Punctuation, "("),
        (Name, "x"),
        (Punctuation, ")"),
        (String.Interpol, "}"),
        (String.Double, " b"),
        (String.Double, '"'),
    ]


def test_parameter_defaults_keep_their_own_brackets() -> None:
    text = "flow f(m: map[string, int] = {k: (1)}, n: int = 2) {}\n"
    tokens = [(token, value) for _, token, value in lex(text) if value.strip()]
    assert (Name.Variable, "m") in tokens
    assert (Name.Attribute, "k") in tokens
    assert (Name.Variable, "n") in tokens
    assert tokens[-2:] == [(Punctuation, "{"), (Punctuation, "}")]


@pytest.mark.parametrize("char", ["§", "`", ";", "@", "$", "&", "|", "\\", "~", "é"])
def test_invalid_character_is_an_error_token(char: str) -> None:
    errors = [value for _, token, value in lex(f"let x = 1 {char} 2\n") if token is Error]
    assert errors == [char]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ('log "bad \\q escape"\n', "\\q"),
        ('log "unterminated\nlet y = 1\n', "\n"),
        ("let z = 3abc\n", "3"),
    ],
)
def test_malformed_literals_give_error_tokens(text: str, error: str) -> None:
    tokens = lex(text)
    assert [value for _, token, value in tokens if token is Error] == [error]
    assert "".join(value for _, _, value in tokens) == text


def test_invalid_assertion_file_gives_the_same_errors_in_pygments() -> None:
    """editors/vscode/test/invalid.flow marks these as invalid for the TextMate grammar."""
    text = (VSCODE / "test" / "invalid.flow").read_text(encoding="utf-8")
    errors = [
        (text.count("\n", 0, start) + 1, value)
        for start, token, value in lex(text)
        if token is Error
    ]
    assert errors == [
        (3, ";"),
        (3, "`"),
        (3, "`"),
        (3, "@"),
        (3, "\u00a7"),
        (3, "$"),
        (9, "&"),
        (9, "|"),
        (12, "\\q"),
        (14, "3"),
        (16, "\n"),  # the unterminated string
    ]


# ---------------------------------------------------------------- VS Code


def test_vscode_npm_test() -> None:
    """Node tests, vscode-tmgrammar-test assertions and vscode-tmgrammar-snap snapshots."""
    require_node_modules()
    result = run(["npm", "test", "--prefix", str(VSCODE)])
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert re.search(r"^# fail 0$", output, re.MULTILINE), output
    assert re.search(r"^# pass [1-9]", output, re.MULTILINE), output
    for path in ASSERTION_FILES:
        assert f"test/{path.name} run successfuly" in output, output
    for path in SAMPLES:
        assert f"test/samples/{path.name} run successfully" in output, output


def tmgrammar(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    script = VSCODE / "node_modules" / "vscode-tmgrammar-test" / "dist" / f"{tool}.js"
    grammar = VSCODE / "syntaxes" / "flow.tmLanguage.json"
    return run(["node", str(script), "-g", str(grammar), *args], cwd=VSCODE)


def test_tmgrammar_test_fails_on_a_wrong_assertion(tmp_path: Path) -> None:
    require_node_modules()
    original = (VSCODE / "test" / "declarations.flow").read_text()
    wrong = original.replace("entity.name.function.step.flow", "entity.name.function.flow", 1)
    assert wrong != original
    (tmp_path / "wrong.flow").write_text(wrong)
    result = tmgrammar("unit", str(tmp_path / "*.flow"))
    assert result.returncode != 0
    assert "missing required scopes" in result.stdout + result.stderr


def test_tmgrammar_snap_fails_when_highlighting_changes(tmp_path: Path) -> None:
    require_node_modules()
    sample = tmp_path / "registration.flow"
    shutil.copy(REGISTRATION, sample)
    shutil.copy(REGISTRATION.with_name("registration.flow.snap"), tmp_path)
    assert tmgrammar("snapshot", str(sample)).returncode == 0
    sample.write_text(REGISTRATION.read_text().replace("step check", "let check", 1))
    assert tmgrammar("snapshot", str(sample)).returncode != 0


def test_vsce_packages_a_vsix(tmp_path: Path) -> None:
    require_node_modules()
    vsix = tmp_path / "flowc.vsix"
    result = run(["npm", "run", "package", "--prefix", str(VSCODE), "--", "-o", str(vsix)])
    assert result.returncode == 0, result.stdout + result.stderr
    with zipfile.ZipFile(vsix) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("extension/package.json"))
    for name in (
        "extension/package.json",
        "extension/extension.js",
        "extension/folding.js",
        "extension/language-configuration.json",
        "extension/syntaxes/flow.tmLanguage.json",
        "extension/schemas/flow-definition.schema.json",
        "extension/LICENSE.txt",
        "extension/node_modules/vscode-languageclient/package.json",
    ):
        assert name in names
    assert not any(name.startswith("extension/test/") for name in names)
    assert not any("node_modules/vscode-tmgrammar-test" in name for name in names)
    assert manifest["contributes"]["languages"][0]["extensions"] == [".flow"]


def test_vscode_contributes_the_definition_schema() -> None:
    """`*.flow.json` and `*.flow.yaml` files are validated and completed against the
    step-list schema (`jsonValidation`; `yamlValidation`, which the YAML extension
    reads), a copy of the one flowc ships that must not drift from it."""
    from flowc.compiler.definitions import schema_text

    contributes = json.loads((VSCODE / "package.json").read_text())["contributes"]
    url = "./schemas/flow-definition.schema.json"
    assert contributes["jsonValidation"] == [{"fileMatch": ["*.flow.json"], "url": url}]
    assert contributes["yamlValidation"] == [
        {"fileMatch": ["*.flow.yaml", "*.flow.yml"], "url": url}
    ]
    assert (VSCODE / url).read_text(encoding="utf-8") == schema_text()


def test_package_lock_matches_package_json() -> None:
    manifest = json.loads((VSCODE / "package.json").read_text())
    lock = json.loads((VSCODE / "package-lock.json").read_text())
    root = lock["packages"][""]
    assert root["dependencies"] == manifest["dependencies"]
    assert root["devDependencies"] == manifest["devDependencies"]


# ---------------------------------------------------------------- Vim and Neovim

EDITORS = ["vim", "nvim"]


def editor_command(editor: str, script: Path) -> list[str]:
    setup = [
        "--cmd",
        f"set runtimepath^={VIM_RUNTIME}",
        "-c",
        "filetype plugin indent on",
        "-c",
        "syntax on",
        "-c",
        f"source {script}",
    ]
    if editor == "vim":
        return [require_tool("vim"), "-Nu", "NONE", "-i", "NONE", "-es", *setup]
    return [require_tool("nvim"), "--headless", "--clean", "-i", "NONE", *setup]


def run_editor(editor: str, tmp_path: Path, body: str) -> list[str]:
    """Run ``body`` (Vim script that fills the list ``s:out``) and return ``s:out``."""
    out = tmp_path / f"{editor}.out"
    script = tmp_path / f"{editor}.vim"
    script.write_text(
        "let s:out = []\n"
        "try\n"
        f"{body}\n"
        "catch\n"
        "  call add(s:out, 'EXCEPTION: ' . v:exception . ' @ ' . v:throwpoint)\n"
        "endtry\n"
        f"call writefile(s:out, '{out}')\n"
        "qall!\n"
    )
    result = run(editor_command(editor, script), timeout=120)
    assert out.exists(), f"{editor} wrote nothing: {result.stdout}{result.stderr}"
    lines = out.read_text(encoding="utf-8").splitlines()
    assert not any(line.startswith("EXCEPTION") for line in lines), lines
    return lines


def vim_position(text: str, line_needle: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """1-based line and byte column, as Vim counts them."""
    line, column = locate(text, line_needle, needle, nth)
    prefix = text.split("\n")[line][:column]
    return line + 1, len(prefix.encode("utf-8")) + 1


def syntax_groups(
    editor: str, tmp_path: Path, path: Path, places: Sequence[tuple[str, str, int]]
) -> list[str]:
    """The syntax group (and the stack, after `|`) at each place in ``path``."""
    text = path.read_text(encoding="utf-8")
    queries = "\n".join(
        "  call add(s:out, synIDattr(synID({0}, {1}, 1), 'name') . '|' . "
        "join(map(synstack({0}, {1}), 'synIDattr(v:val, \"name\")')))".format(
            *vim_position(text, *place)
        )
        for place in places
    )
    return run_editor(editor, tmp_path, f"  edit {path}\n  call add(s:out, &filetype)\n{queries}")


REGISTRATION_GROUPS = [
    (('import "billing.flow" as', "import", 0), "flowImport"),
    (('import "billing.flow" as', "billing", 1), "flowImportAlias"),
    (("type User =", "type", 0), "flowDeclaration"),
    (("type User =", "User", 0), "flowTypeDef"),
    (("type User =", "email", 0), "flowRecordField"),
    (("type User =", "int", 0), "flowTypeBuiltin"),
    (("type Page =", "User", 0), "flowTypeName"),
    (("const PAGE_SIZE", "PAGE_SIZE", 0), "flowConstName"),
    (("service users", "users", 0), "flowServiceName"),
    (("flow user_registration(", "flow", 0), "flowDeclaration"),
    (("flow user_registration(", "user_registration", 0), "flowFlowName"),
    (("flow user_registration(", "notify", 0), "flowParamName"),
    (("flow user_registration(", "true", 0), "flowBoolean"),
    (("let started", "started", 0), "flowVarName"),
    (("step check = GET", "check", 0), "flowStepName"),
    (("step check = GET", "GET", 0), "flowHttpMethod"),
    (("step check = GET", "users", 0), "flowServiceRef"),
    (("step check = GET", "->", 0), "flowArrow"),
    (("retry 3 backoff exponential 200ms", "retry", 0), "flowClause"),
    (("retry 3 backoff exponential 200ms", "200ms", 0), "flowDuration"),
    (("retry 3 backoff exponential 200ms", "in", 0), "flowOperatorWord"),
    (("retry 3 backoff exponential 200ms", "429", 0), "flowNumber"),
    (("retry 3 backoff exponential 200ms", "status", 0), "flowMember"),
    (("step charged = call", "charge", 1), "flowFlowRef"),
    (("json { user_id", "json", 0), "flowClause"),
    (("-> json", "json", 0), "flowTypeBuiltin"),
    (("if check.body.exists", "if", 0), "flowKeyword"),
    (("catch err", "err", 0), "flowVarName"),
    (("for i, tag in tags", "tag", 0), "flowForVar"),
    (("names.all(n,", "all", 0), "flowBuiltinFunction"),
    (("let kind = type(total)", "type", 0), "flowBuiltinFunction"),
    (("let kind = type(total)", "int", 0), "flowType"),
    (('return {status: "exists", user: null}', "null", 0), "flowNull"),
    (('return {status: "exists", user: null}', "status", 0), "flowKey"),
    (("# User registration", "User", 0), "flowComment"),
    (("step undo = DELETE", "/users/", 0), "flowString"),
    (("step undo = DELETE", "${", 0), "flowInterpDelim"),
    (("step risky = PUT", 'b"', 0), "flowStringPrefix"),
    (("step risky = PUT", "\\x00", 0), "flowEscape"),
]


@pytest.mark.parametrize("editor", EDITORS)
def test_vim_syntax_groups(editor: str, tmp_path: Path) -> None:
    places = [place for place, _ in REGISTRATION_GROUPS]
    filetype, *found = syntax_groups(editor, tmp_path, REGISTRATION, places)
    assert filetype == "flow"
    wrong = [
        (place, expected, got)
        for (place, expected), got in zip(REGISTRATION_GROUPS, found, strict=True)
        if got.split("|")[0] != expected
    ]
    assert wrong == []


@pytest.mark.parametrize("editor", EDITORS)
def test_vim_interpolation_holds_expression_groups(editor: str, tmp_path: Path) -> None:
    places = [
        ("let interp", "size", 0),
        ("let interp", "roles", 0),
        ("let nested", "Accept", 0),
        ("let raw =", "not_interpolated", 0),
        ("let bytes =", "not", 0),
        ("let escapes =", "\\u00e9", 0),
        ("let durations", "1m30s", 0),
        ("let floats", "2.5e10", 0),
        ("let ints", "0x1F", 0),
        ("let fields", "step", 0),
        ("let fields", "fail", 1),
        ("type Keyed", "for", 0),
    ]
    _, *found = syntax_groups(editor, tmp_path, LEXICAL, places)
    group = [entry.split("|")[0] for entry in found]
    stack = [entry.split("|")[1].split() for entry in found]
    assert group[0] == "flowBuiltinFunction"
    assert stack[0][:2] == ["flowString", "flowInterp"]
    assert group[1] == "flowMember" and "flowInterp" in stack[1]
    assert group[2] == "flowString" and stack[2].count("flowString") == 2
    assert group[3:] == [
        "flowRawString",
        "flowBytes",
        "flowEscape",
        "flowDuration",
        "flowFloat",
        "flowNumber",
        "flowMember",
        "flowKey",
        "flowRecordField",
    ]


@pytest.mark.parametrize("editor", EDITORS)
def test_vim_finds_no_error_in_samples_and_examples(editor: str, tmp_path: Path) -> None:
    files = ", ".join(f"'{path}'" for path in SAMPLES + VALID_ASSERTION_FILES + EXAMPLES)
    found = run_editor(
        editor,
        tmp_path,
        f"  for s:file in [{files}]\n"
        "    execute 'edit' fnameescape(s:file)\n"
        "    for s:lnum in range(1, line('$'))\n"
        "      for s:col in range(1, len(getline(s:lnum)))\n"
        "        let s:name = synIDattr(synID(s:lnum, s:col, 1), 'name')\n"
        "        if s:name =~# 'Error'\n"
        "          call add(s:out, s:file . ':' . s:lnum . ':' . s:col . ' ' . s:name)\n"
        "        endif\n"
        "      endfor\n"
        "    endfor\n"
        "    call add(s:out, 'checked ' . &filetype)\n"
        "    bwipeout!\n"
        "  endfor",
    )
    assert found == ["checked flow"] * len(SAMPLES + VALID_ASSERTION_FILES + EXAMPLES)


@pytest.mark.parametrize("editor", EDITORS)
def test_vim_marks_invalid_characters(editor: str, tmp_path: Path) -> None:
    sample = tmp_path / "invalid.flow"
    sample.write_text('let x = 1; y = `z` \u00a7\nlet s = "\\q"\n', encoding="utf-8")
    places = [("let x", ";", 0), ("let x", "`", 0), ("let x", "\u00a7", 0), ("let s", "\\q", 0)]
    _, *found = syntax_groups(editor, tmp_path, sample, places)
    assert [entry.split("|")[0] for entry in found] == ["flowError"] * 3 + ["flowEscapeError"]


@pytest.mark.parametrize("editor", EDITORS)
def test_vim_parameter_defaults(editor: str, tmp_path: Path) -> None:
    sample = tmp_path / "params.flow"
    sample.write_text("flow f(m: map[string, int] = {k: (1)}, n: int = 2) {\n}\n")
    places = [("flow", "m", 0), ("flow", "k", 0), ("flow", "n", 2), ("flow", "int", 1)]
    _, *found = syntax_groups(editor, tmp_path, sample, places)
    assert [entry.split("|")[0] for entry in found] == [
        "flowParamName",
        "flowKey",
        "flowParamName",
        "flowTypeBuiltin",
    ]


@pytest.mark.parametrize("editor", EDITORS)
def test_vim_ftplugin_settings(editor: str, tmp_path: Path) -> None:
    found = run_editor(
        editor,
        tmp_path,
        f"  edit {REGISTRATION}\n"
        "  for s:option in ['filetype', 'commentstring', 'comments', 'expandtab',"
        " 'shiftwidth', 'softtabstop', 'indentexpr', 'suffixesadd']\n"
        "    call add(s:out, s:option . '=' . eval('&l:' . s:option))\n"
        "  endfor\n"
        "  call add(s:out, 'undo=' . exists('b:undo_ftplugin') . exists('b:undo_indent'))",
    )
    assert found == [
        "filetype=flow",
        "commentstring=# %s",
        "comments=:#",
        "expandtab=1",
        "shiftwidth=4",
        "softtabstop=4",
        "indentexpr=GetFlowIndent(v:lnum)",
        "suffixesadd=.flow",
        "undo=11",
    ]


@pytest.mark.parametrize("editor", EDITORS)
def test_vim_indent_restores_the_sample(editor: str, tmp_path: Path) -> None:
    original = REGISTRATION.read_text(encoding="utf-8")
    flat = tmp_path / "flat.flow"
    flat.write_text("\n".join(line.lstrip() for line in original.split("\n")), encoding="utf-8")
    reindented = tmp_path / "reindented.flow"
    run_editor(editor, tmp_path, f"  edit {flat}\n  normal! gg=G\n  write! {reindented}")
    assert reindented.read_text(encoding="utf-8") == original


# ---------------------------------------------------------------- docs


def test_docs_show_a_highlighted_example() -> None:
    doc = (ROOT / "docs" / "editors.md").read_text(encoding="utf-8")
    images = re.findall(r"!\[[^\]]*\]\((img/[^)]+\.png)\)", doc)
    assert images
    for image in images:
        data = (ROOT / "docs" / image).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    for command in ("flowc lsp", "code --install-extension", "runtimepath", "pygmentize"):
        assert command in doc
