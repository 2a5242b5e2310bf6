"""The language server, tested through a real LSP client over stdio.

Each test drives `flowc lsp` with pytest-lsp's ``LanguageClient`` (see
``tests/lsp_session.py`` for why the tests are synchronous functions that
run the asyncio client on a thread of its own: pytest-trio's ``trio_mode``
would claim ``async def`` tests).  One server process serves the module;
each test writes its own project into a temporary directory and closes the
documents it opened.  A few tests at the end exercise the pure modules
(incremental parsing, positions, edits) directly.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lsprotocol import types

from tests.lsp_session import LspSession, Published, apply_edits, position_of

COMMON = """\
# Shared types and the users service.

type User = {id: int, name: string, email?: string}

const PAGE_SIZE = 50

service users "http://localhost:8081" {
    headers { "Accept": "application/json" }
    timeout 2s
    retry 3 backoff exponential 100ms max 2s jitter
    circuit_breaker 5 failures within 30s cooldown 15s
    rate_limit 100 per 1s
    concurrency 20
}
"""

BILLING = """\
import "lib/common.flow"

flow charge(user_id: string, amount: int) -> {ok: bool} {
    step paid = POST users "/charge" {
        json { user_id: user_id, amount: amount }
        idempotency_key "${run.id}-${user_id}"
    }
    return {ok: paid.ok}
}
"""

MAIN = """\
import "lib/common.flow"
import "billing.flow" as billing

flow signup(user_id: string, limit: int = 10) -> {status: string, user: User?} {
    step check = GET users "/users/check" -> {exists: bool} {
        query { user_id: user_id, size: PAGE_SIZE }
        timeout 2s
    }
    if check.body.exists {
        log "user ${user_id} exists (status ${check.status})"
        return {status: "exists", user: null}
    }
    let user: User = {id: limit, name: user_id}
    step bill = call billing.charge(user_id: user_id, amount: limit)
    log "charged ${bill.body.ok} for ${size(user_id)}"
    let later = user.name
    return {status: later, user: user}
}
"""


@pytest.fixture(scope="module")
def lsp() -> Iterator[LspSession]:
    session = LspSession()
    yield session
    session.close()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "common.flow").write_text(COMMON, encoding="utf-8")
    (tmp_path / "billing.flow").write_text(BILLING, encoding="utf-8")
    (tmp_path / "main.flow").write_text(MAIN, encoding="utf-8")
    return tmp_path


@pytest.fixture
def editor(lsp: LspSession) -> Iterator[LspSession]:
    """The shared session; documents opened by the test are closed after it."""
    before = set(lsp.versions)
    yield lsp
    for uri in set(lsp.versions) - before:
        lsp.close_document(uri)
        del lsp.versions[uri]
    assert lsp.alive


def open_checked(editor: LspSession, path: Path, text: str | None = None) -> tuple[str, Published]:
    """Open a file and wait for the diagnostics of its first check."""
    since = editor.mark()
    uri = editor.open(path, text)
    return uri, editor.wait_for_diagnostics(uri, lambda p: p.version == 1, since=since)


def codes(published: Published) -> list[str]:
    return [str(d.code) for d in published.diagnostics]


# --------------------------------------------------------------------------- life cycle


def test_initialize_advertises_the_features_and_shutdown_exits_cleanly() -> None:
    session = LspSession()
    try:
        result = session.initialize_result
        capabilities = result.capabilities
        assert result.server_info is not None and result.server_info.name == "flowc"
        assert capabilities.hover_provider
        assert capabilities.definition_provider
        assert capabilities.document_symbol_provider
        assert capabilities.document_formatting_provider
        assert capabilities.completion_provider is not None
        assert "." in (capabilities.completion_provider.trigger_characters or [])
        rename = capabilities.rename_provider
        assert isinstance(rename, types.RenameOptions) and rename.prepare_provider
        sync = capabilities.text_document_sync
        assert isinstance(sync, types.TextDocumentSyncOptions) and sync.open_close
    finally:
        session.close()
    server = session.client._server
    assert server is not None and server.returncode == 0


# --------------------------------------------------------------------------- diagnostics


def test_an_error_is_published_with_its_code_and_range_and_cleared_after_the_fix(
    editor: LspSession, project: Path
) -> None:
    broken = MAIN.replace("name: user_id}", "name: user_idd}")
    uri, first = open_checked(editor, project / "main.flow", broken)
    assert codes(first) == ["E0104"]
    diagnostic = first.diagnostics[0]
    assert diagnostic.range == types.Range(
        start=position_of(broken, "user_idd"), end=position_of(broken, "user_idd", shift=8)
    )
    assert diagnostic.severity == types.DiagnosticSeverity.Error
    assert diagnostic.source == "flowc"
    assert "unknown name `user_idd`" in diagnostic.message
    assert "did you mean `user_id`?" in diagnostic.message  # the help line is appended

    since = editor.mark()
    version = editor.change(uri, MAIN)
    fixed = editor.wait_for_diagnostics(uri, lambda p: p.version == version, since=since)
    assert fixed.diagnostics == []


def test_a_buffer_over_the_source_limit_gets_e0020_without_being_checked(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWC_MAX_SOURCE_MIB", "1")
    session = LspSession()
    try:
        huge = "# " + "x" * 1024 * 1024 + "\n" + MAIN
        since = session.mark()
        started = time.monotonic()
        uri = session.open(project / "main.flow", huge)
        published = session.wait_for_diagnostics(uri, lambda p: p.version == 1, since=since)
        assert codes(published) == ["E0020"]
        assert published.diagnostics[0].range.start == types.Position(line=0, character=0)
        assert time.monotonic() - started < 10
        since = session.mark()
        version = session.change(uri, MAIN)
        fixed = session.wait_for_diagnostics(uri, lambda p: p.version == version, since=since)
        assert fixed.diagnostics == []
    finally:
        session.close()


def test_notes_become_related_information(editor: LspSession, project: Path) -> None:
    text = MAIN.replace(
        "    let later = user.name\n", "    let later = user.name\n    let user = 1\n"
    )
    uri, published = open_checked(editor, project / "main.flow", text)
    duplicate = next(d for d in published.diagnostics if d.code == "E0110")
    assert duplicate.related_information
    related = duplicate.related_information[0]
    assert related.message == "first defined here"
    assert related.location.uri == uri
    assert related.location.range.start == position_of(text, "user: User =")


def test_diagnostics_of_an_imported_file_are_published_for_that_file(
    editor: LspSession, project: Path
) -> None:
    misspelt = COMMON.replace("email?: string", "email?: strng")
    (project / "lib" / "common.flow").write_text(misspelt, encoding="utf-8")
    since = editor.mark()
    editor.open(project / "main.flow")
    library = (project / "lib" / "common.flow").resolve().as_uri()
    published = editor.wait_for_diagnostics(library, lambda p: bool(p.diagnostics), since=since)
    assert codes(published) == ["E0107"]
    assert published.diagnostics[0].range.start == position_of(misspelt, "strng")


def test_an_open_import_is_read_from_its_unsaved_buffer(editor: LspSession, project: Path) -> None:
    uses_new_type = MAIN.replace("let user: User", "let user: Member")
    uses_new_type = uses_new_type.replace("user: User?}", "user: Member?}")
    uri, first = open_checked(editor, project / "main.flow", uses_new_type)
    assert "E0107" in codes(first)  # `Member` is not declared on disk

    since = editor.mark()
    library = editor.open(project / "lib" / "common.flow", COMMON + "type Member = User\n")
    cleared = editor.wait_for_diagnostics(uri, lambda p: "E0107" not in codes(p), since=since)
    assert cleared.diagnostics == []
    assert editor.wait_for_diagnostics(library, since=since).diagnostics == []


def test_a_burst_of_changes_is_checked_once_and_the_final_state_published(
    editor: LspSession, project: Path
) -> None:
    uri, _ = open_checked(editor, project / "main.flow")
    since = editor.mark()
    burst = [MAIN.replace("name: user_id}", f"name: x{n}}}") for n in range(6)]
    versions = editor.change_quickly(uri, burst)
    final = editor.wait_for_diagnostics(uri, lambda p: p.version == versions[-1], since=since)
    assert [d.message.splitlines()[0] for d in final.diagnostics] == ["unknown name `x5`"]
    time.sleep(0.3)  # anything else would have been published by now
    assert [p.version for p in editor.publications(uri, since)] == [versions[-1]]


def test_a_file_that_does_not_parse_gets_its_syntax_error(
    editor: LspSession, project: Path
) -> None:
    uri, _ = open_checked(editor, project / "main.flow")
    broken = MAIN.replace("let later = user.name", "let later = user.name +")
    since = editor.mark()
    version = editor.change(uri, broken)
    published = editor.wait_for_diagnostics(uri, lambda p: p.version == version, since=since)
    assert codes(published) == ["E0006"]  # `return` where an operand was expected
    assert published.diagnostics[0].range.start == position_of(broken, "return {status: later")

    # Features fall back to the last good analysis while the file does not parse.
    hover = editor.hover_text(uri, position_of(broken, "user: User =", shift=1))
    assert "let user: User" in hover
    symbols = editor.symbols(uri)
    assert [s.name for s in symbols if s.kind == types.SymbolKind.Function] == ["signup"]


# --------------------------------------------------------------------------- hover


def test_hover_on_a_let_a_param_and_a_const(editor: LspSession, project: Path) -> None:
    uri, _ = open_checked(editor, project / "main.flow")
    let = editor.hover_text(uri, position_of(MAIN, "user: User ="))
    assert "```flow\nlet user: User\n```" in let
    assert "param limit: int" in editor.hover_text(uri, position_of(MAIN, "limit: int"))
    assert "const PAGE_SIZE: int" in editor.hover_text(uri, position_of(MAIN, "PAGE_SIZE"))


def test_hover_on_a_step_shows_its_request_and_types(editor: LspSession, project: Path) -> None:
    uri, _ = open_checked(editor, project / "main.flow")
    for position in (position_of(MAIN, "check ="), position_of(MAIN, "check.body", shift=2)):
        text = editor.hover_text(uri, position)
        assert 'step check = GET users "/users/check" -> {exists: bool}' in text
        assert 'method: `GET` · service: `users` · path: `"/users/check"`' in text
        assert "body: `{exists: bool}`" in text
        assert "headers: map[string, string], body: {exists: bool}" in text  # the value type

    called = editor.hover_text(uri, position_of(MAIN, "bill ="))
    assert "calls: `flow charge(user_id: string, amount: int) -> {ok: bool}`" in called


def test_hover_on_a_service_shows_its_url_and_settings(editor: LspSession, project: Path) -> None:
    uri, _ = open_checked(editor, project / "main.flow")
    text = editor.hover_text(uri, position_of(MAIN, 'users "/users', shift=1))
    assert 'service users "http://localhost:8081"' in text
    for setting in (
        "timeout 2s",
        "retry 3 backoff exponential 100ms max 2s jitter",
        "circuit_breaker 5 failures within 30s cooldown 15s",
        "rate_limit 100 per 1s",
        "concurrency 20",
    ):
        assert f"- `{setting}`" in text
    assert "from `lib/common.flow`" in text


def test_hover_on_a_type_and_on_a_field(editor: LspSession, project: Path) -> None:
    uri, _ = open_checked(editor, project / "main.flow")
    text = editor.hover_text(uri, position_of(MAIN, "User =", shift=1))
    assert "type User = {id: int, name: string, email?: string}" in text
    field = editor.hover_text(uri, position_of(MAIN, "exists {", shift=1))
    assert "exists: bool" in field
    assert "field of `{exists: bool}`" in field
    assert editor.hover(uri, position_of(MAIN, "return {status: later")) is None  # a keyword


# --------------------------------------------------------------------------- definition


def test_definition_across_imports(editor: LspSession, project: Path) -> None:
    uri, _ = open_checked(editor, project / "main.flow")
    common = (project / "lib" / "common.flow").resolve().as_uri()
    billing = (project / "billing.flow").resolve().as_uri()

    def target(needle: str, shift: int = 1) -> tuple[str, types.Position]:
        [location] = editor.definition(uri, position_of(MAIN, needle, shift=shift))
        return location.uri, location.range.start

    assert target("charge(") == (billing, position_of(BILLING, "charge("))
    assert target("billing.charge") == (uri, position_of(MAIN, "as billing", shift=3))
    assert target("User =") == (common, position_of(COMMON, "User ="))
    assert target('users "/users') == (common, position_of(COMMON, 'users "http'))
    assert target("PAGE_SIZE }") == (common, position_of(COMMON, "PAGE_SIZE"))
    assert target('"lib/common.flow"', shift=3) == (common, types.Position(line=0, character=0))
    assert target("check.status") == (uri, position_of(MAIN, "check ="))
    assert target("user_id: user_id,", shift=11) == (uri, position_of(MAIN, "user_id: string"))
    assert target("user.name") == (uri, position_of(MAIN, "user: User ="))
    assert target("user.name", shift=6) == (common, position_of(COMMON, "name: string"))


# --------------------------------------------------------------------------- completion


def test_completion_offers_statement_keywords_at_a_statement_start(
    editor: LspSession, project: Path
) -> None:
    uri, _ = open_checked(editor, project / "main.flow")
    labels = editor.labels(uri, position_of(MAIN, "    let later", shift=4))
    for keyword in ("let", "var", "step", "if", "for", "while", "parallel", "try", "return"):
        assert keyword in labels
    assert "headers" not in labels and "circuit_breaker" not in labels
    assert "flow" not in labels  # a declaration keyword, not a statement


def test_completion_in_a_step_block_offers_its_clauses(editor: LspSession, project: Path) -> None:
    uri, _ = open_checked(editor, project / "main.flow")
    text = MAIN.replace("        timeout 2s\n", "        timeout 2s\n        \n")
    editor.change(uri, text)
    labels = editor.labels(uri, position_of(text, "        \n", shift=8))
    for clause in (
        "headers",
        "query",
        "retry",
        "accept",
        "idempotency_key",
        "fallback",
        "on error",
    ):
        assert clause in labels
    assert "circuit_breaker" not in labels and "rate_limit" not in labels  # service clauses
    assert "let" not in labels

    service = COMMON.replace("    concurrency 20\n", "    concurrency 20\n    \n")
    library = editor.open(project / "lib" / "common.flow", service)
    labels = editor.labels(library, position_of(service, "    \n}", shift=4))
    assert "circuit_breaker" in labels and "rate_limit" in labels
    assert "idempotency_key" not in labels


def test_completion_after_auth_offers_every_scheme(editor: LspSession, project: Path) -> None:
    service = COMMON.replace("    concurrency 20\n", "    concurrency 20\n    auth \n")
    library = editor.open(project / "lib" / "common.flow", service)
    labels = editor.labels(library, position_of(service, "auth \n", shift=5))
    for scheme in ("bearer", "basic", "header", "oauth2", "aws_sigv4"):
        assert scheme in labels
    service = service.replace("    auth \n", "    auth oauth2 \n")
    editor.change(library, service)
    labels = editor.labels(library, position_of(service, "auth oauth2 \n", shift=12))
    assert labels == ["client_credentials"]


def test_completion_after_a_dot_offers_fields_while_the_file_does_not_parse(
    editor: LspSession, project: Path
) -> None:
    uri, _ = open_checked(editor, project / "main.flow")
    since = editor.mark()
    typing = MAIN.replace(
        "    let later = user.name\n", "    let later = user.name\n    log check.\n"
    )
    version = editor.change(uri, typing)
    published = editor.wait_for_diagnostics(uri, lambda p: p.version == version, since=since)
    assert codes(published) == ["E0001"]  # `check.` is incomplete
    cursor = position_of(typing, "log check.", shift=10)
    fields = ["status", "ok", "headers", "body", "elapsed", "attempts", "error"]
    assert editor.labels(uri, cursor) == fields

    deeper = typing.replace("log check.", "log user.")
    editor.change(uri, deeper)
    items = editor.completion(uri, position_of(deeper, "log user.", shift=9))
    details = {item.label: item.detail for item in items}
    assert details == {"id": "int", "name": "string", "email": "string?"}


def test_completion_offers_the_names_in_scope_and_not_those_declared_later(
    editor: LspSession, project: Path
) -> None:
    uri, _ = open_checked(editor, project / "main.flow")
    items = editor.completion(uri, position_of(MAIN, "{id: limit", shift=5))
    labels = [item.label for item in items]
    for name in ("user_id", "limit", "check", "PAGE_SIZE", "billing", "size", "uuid"):
        assert name in labels
    for later in ("user", "bill", "later"):
        assert later not in labels
    details = {item.label: item.detail for item in items}
    assert details["limit"] == "param int"
    assert details["PAGE_SIZE"] == "const int"


def test_completion_after_a_method_and_after_call(editor: LspSession, project: Path) -> None:
    uri, _ = open_checked(editor, project / "main.flow")
    text = MAIN.replace("    let later", "    step more = GET \n    let later")
    editor.change(uri, text)
    assert editor.labels(uri, position_of(text, "GET \n", shift=4)) == ["users"]
    text = MAIN.replace("call billing.charge", "call billing.")
    editor.change(uri, text)
    assert editor.labels(uri, position_of(text, "billing.(", shift=8)) == ["charge"]


# --------------------------------------------------------------------------- outline, rename


def test_document_symbols(editor: LspSession, project: Path) -> None:
    uri, _ = open_checked(editor, project / "lib" / "common.flow")
    assert [(s.name, s.kind) for s in editor.symbols(uri)] == [
        ("User", types.SymbolKind.Struct),
        ("PAGE_SIZE", types.SymbolKind.Constant),
        ("users", types.SymbolKind.Interface),
    ]
    main, _ = open_checked(editor, project / "main.flow")
    symbols = editor.symbols(main)
    assert [(s.name, s.kind) for s in symbols] == [
        ("lib/common.flow", types.SymbolKind.Module),
        ("billing", types.SymbolKind.Module),
        ("signup", types.SymbolKind.Function),
    ]
    flow = symbols[2]
    assert [(c.name, c.kind) for c in flow.children or []] == [
        ("check", types.SymbolKind.Event),
        ("bill", types.SymbolKind.Event),
    ]
    assert flow.selection_range.start == position_of(MAIN, "signup")


def test_rename_a_step_updates_every_reference(editor: LspSession, project: Path) -> None:
    uri, _ = open_checked(editor, project / "main.flow")
    prepared = editor.prepare_rename(uri, position_of(MAIN, "check.status", shift=1))
    assert isinstance(prepared, types.PrepareRenamePlaceholder)
    assert prepared.placeholder == "check"
    edit = editor.rename(uri, position_of(MAIN, "check.body", shift=1), "lookup")
    assert edit.changes is not None and list(edit.changes) == [uri]
    renamed = apply_edits(MAIN, list(edit.changes[uri]))
    assert renamed == MAIN.replace("check =", "lookup =").replace("check.", "lookup.")
    assert "${lookup.status}" in renamed  # inside an interpolation too

    # Right after an edit, rename waits for the analysis of the new text.
    edited = MAIN.replace("    let later", '    log "again ${check.ok}"\n    let later')
    editor.change(uri, edited)
    edit = editor.rename(uri, position_of(edited, "check.ok", shift=1), "probe")
    assert edit.changes is not None
    expected = edited.replace("check =", "probe =").replace("check.", "probe.")
    assert apply_edits(edited, list(edit.changes[uri])) == expected


def test_rename_a_parameter_renames_named_arguments_of_calls_to_its_flow(
    editor: LspSession, project: Path
) -> None:
    text = BILLING + (
        "\nflow twice(n: int) -> bool {\n"
        '    step a = call charge(user_id: "x", amount: n)\n'
        "    return a.body.ok\n"
        "}\n"
    )
    uri, published = open_checked(editor, project / "billing.flow", text)
    assert published.diagnostics == []
    edit = editor.rename(uri, position_of(text, "amount: int"), "cents")
    assert edit.changes is not None
    renamed = apply_edits(text, list(edit.changes[uri]))
    assert "charge(user_id: string, cents: int)" in renamed
    assert "amount: cents }" in renamed  # a record key is not the parameter
    assert 'call charge(user_id: "x", cents: n)' in renamed


def test_prepare_rename_refuses_keywords_builtins_and_imported_names(
    editor: LspSession, project: Path
) -> None:
    uri, _ = open_checked(editor, project / "main.flow")
    assert editor.prepare_rename(uri, position_of(MAIN, "let user")) is None  # a keyword
    assert editor.prepare_rename(uri, position_of(MAIN, "size(", shift=1)) is None  # a built-in
    assert editor.prepare_rename(uri, position_of(MAIN, "PAGE_SIZE")) is None  # imported
    assert editor.prepare_rename(uri, position_of(MAIN, "User =")) is None
    with pytest.raises(Exception, match="reserved word"):
        editor.rename(uri, position_of(MAIN, "later ="), "return")


def test_formatting_returns_the_formatted_text(editor: LspSession, project: Path) -> None:
    formatter = pytest.importorskip("flowc.compiler.formatter")
    messy = MAIN.replace("    let later = user.name", "  let   later =user.name")
    uri, _ = open_checked(editor, project / "main.flow", messy)
    edits = editor.formatting(uri)
    expected = formatter.format_source(messy, str(project / "main.flow"))
    assert expected != messy
    assert apply_edits(messy, edits) == expected
    broken = messy.replace("let   later", "let   later = (")
    editor.change(uri, broken)
    assert editor.formatting(uri) == []


# --------------------------------------------------------------------------- robustness


GARBAGE = [
    '\x00\x01\x02 flow {{{{ ((((( ]]]] """ \' ${ }',
    "flow f() {" + "(" * 400 + ")" * 400 + "}",
    "🙂 flow é() { let ñ = 'ü' }\r\n\ttype = = =",
    'import import import ""\nflow',
    'step x = GET users "${\n' * 20,
    "".join(chr(random.Random(7).randrange(32, 0x2FF)) for _ in range(3000)),
]


def test_garbage_never_crashes_the_server(editor: LspSession, project: Path) -> None:
    for number, text in enumerate(GARBAGE):
        since = editor.mark()
        uri = editor.open(project / f"garbage{number}.flow", text)
        editor.wait_for_diagnostics(uri, lambda p: p.version == 1, since=since)
        for line, character in ((0, 0), (0, 5), (3, 1), (10_000, 10_000), (0, 100_000)):
            position = types.Position(line=line, character=character)
            editor.hover(uri, position)
            editor.definition(uri, position)
            editor.completion(uri, position)
            editor.prepare_rename(uri, position)
        editor.symbols(uri)
        editor.formatting(uri)
        editor.change(uri, text[: len(text) // 2])
    assert editor.alive
    uri, published = open_checked(editor, project / "main.flow")
    assert published.diagnostics == []
    assert "let user: User" in editor.hover_text(uri, position_of(MAIN, "user: User ="))


# --------------------------------------------------------------------------- the pure modules


def test_chunked_parsing_matches_a_whole_file_parse_after_edits() -> None:
    from flowc.compiler import ast
    from flowc.compiler.parser import parse_module
    from flowc.lsp.chunks import ChunkedParseCache

    def layout(module: ast.Module) -> list[tuple[object, ...]]:
        spans = [
            (type(n).__name__, *n.span, *getattr(n, "name_span", ())) for n in ast.walk(module)
        ]
        return spans + [tuple(c.span) for c in module.comments]

    cache = ChunkedParseCache()
    text = COMMON + BILLING.replace('import "lib/common.flow"\n', "") + MAIN.split("\n", 2)[2]
    rng = random.Random(3)
    for _ in range(25):
        lines = text.split("\n")
        row = rng.randrange(len(lines))
        lines[row] = rng.choice(["", "  "]) + lines[row] if rng.random() < 0.7 else lines[row]
        if rng.random() < 0.3:
            lines.insert(row, "# a comment")
        text = "\n".join(lines)
        module, failure = cache.parse("x.flow", text)
        assert failure is None and module is not None
        whole = parse_module(text, "x.flow")
        assert module == whole
        assert layout(module) == layout(whole)
    assert cache.reused_chunks > cache.parsed_chunks


def test_chunks_are_parsed_on_their_own_and_failures_in_place(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A first parse hands the parser each chunk's text alone (no padding: it was
    quadratic), gives the whole-file tree, and a syntax error the whole-file one."""
    from flowc.compiler import ast
    from flowc.compiler.diagnostics import ParseFailure
    from flowc.compiler.parser import parse_module
    from flowc.lsp import chunks

    text = "# header\n" + "\n".join([COMMON, BILLING.split("\n", 1)[1], MAIN.split("\n", 2)[2]])
    pieces = [
        text[a:b]
        for a, b in zip(
            chunks.chunk_starts(text), [*chunks.chunk_starts(text)[1:], len(text)], strict=True
        )
    ]
    parsed: list[str] = []

    def recording_parse(source: str, file: str = "<input>") -> ast.Module:
        parsed.append(source)
        return parse_module(source, file)

    monkeypatch.setattr(chunks, "parse_module", recording_parse)
    module, failure = chunks.ChunkedParseCache().parse("x.flow", text)
    assert failure is None and module == parse_module(text, "x.flow")
    assert [tuple(n.span) for n in ast.walk(module)] == [
        tuple(n.span) for n in ast.walk(parse_module(text, "x.flow"))
    ]
    assert len(pieces) > 4 and sorted(parsed) == sorted(p for p in pieces if p.strip())

    broken = text.replace("flow ", "flow (", 1)
    with pytest.raises(ParseFailure) as whole:
        parse_module(broken, "x.flow")
    assert chunks.ChunkedParseCache().parse("x.flow", broken) == (None, whole.value.diagnostic)


def test_positions_count_utf16_code_units() -> None:
    from flowc.compiler.ast import Span
    from flowc.lsp.positions import LineIndex, TextChange

    text = 'let s = "😀é" + x\nnext'
    index = LineIndex(text)
    x = text.index("x")
    assert index.position_of(x) == types.Position(line=0, character=x + 1)  # 😀 is 2 units
    assert index.offset_of(types.Position(line=0, character=x + 1)) == x
    assert index.span_range(Span("f", 1, x + 1, 1, x + 2)).start.character == x + 1
    assert LineIndex(text, "utf-8").position_of(x).character == x + 3 + 1
    change = TextChange("abc def ghi", "abc XYZ def ghi")
    assert (change.to_old(2), change.to_old(9), change.to_new(8)) == (2, 5, 12)
    assert change.to_new(4) is not None and change.to_old(5) == 4


def test_minimal_formatting_edits_reproduce_the_target() -> None:
    from flowc.lsp.formatting import minimal_edit
    from flowc.lsp.positions import LineIndex

    rng = random.Random(11)
    pieces = ["a", "", "    b", "é😀", "}"]
    for _ in range(500):
        old = "\n".join(rng.choice(pieces) for _ in range(rng.randrange(6)))
        new = "\n".join(rng.choice(pieces) for _ in range(rng.randrange(6)))
        edits = minimal_edit(old, new, "utf-16")
        assert apply_edits(old, edits) == new
        assert len(edits) <= 1 and (edits or old == new)
    assert LineIndex("").line_count == 1


SCOPES = """\
flow f(items: list[string], n: int) -> int {
    let a = 1
    for i, item in items {
        let inner = size(item) + i
        log "${inner} ${a}"
    }
    try {
        let t = 1
        log "${t}"
    } catch err {
        log err.message
    } finally {
        log "done"
    }
    if n > 0 {
        let pos = n
        log "${pos}"
    } else if n < 0 {
        let neg = n
        log "${neg}"
    } else {
        let zero = n
        log "${zero}"
    }
    parallel {
        step p1 = GET "http://x/1"
        branch {
            step p2 = GET "http://x/2"
        }
    }
    let total = items.map(x, size(x)).filter(y, y > a)
    step s = POST "http://x" {
        idempotency_key "k"
        retry 2 when error.status > 500
        compensate {
            log "undo ${s.status}"
        }
    }
    return size(total) + p1.status + p2.status + s.status
}
"""


@pytest.mark.parametrize(
    ("needle", "shift", "visible", "hidden"),
    [
        ('log "${inner}', 0, {"a", "i", "item", "inner", "items", "n"}, {"t", "total", "s"}),
        ('log "${t}', 0, {"a", "t"}, {"i", "item", "inner", "err"}),
        ("log err.message", 0, {"a", "err"}, {"t", "inner"}),
        ('log "done"', 0, {"a"}, {"t", "err"}),
        ('log "${neg}', 0, {"neg", "a"}, {"pos", "zero"}),
        ('log "${zero}', 0, {"zero"}, {"pos", "neg"}),
        ("let total", 0, {"p1", "p2", "a"}, {"total", "x", "y", "s"}),  # branches are exported
        ("size(x)", 5, {"x"}, {"y", "total"}),
        ("y > a", 0, {"y"}, {"x"}),
        ("error.status", 0, {"error", "total"}, {"s"}),
        ('log "undo', 0, {"s", "total"}, {"error"}),
    ],
)
def test_names_in_scope_follow_the_checker_s_rules(
    tmp_path: Path, needle: str, shift: int, visible: set[str], hidden: set[str]
) -> None:
    from flowc.lsp.analysis import Analyzer
    from flowc.lsp.scopes import bindings_at

    path = tmp_path / "scopes.flow"
    snapshot = Analyzer().analyze(path.as_uri(), str(path), SCOPES, 1, {})
    assert snapshot.compilation.diagnostics == []
    position = position_of(SCOPES, needle, shift=shift)
    names = set(bindings_at(snapshot, (position.line + 1, position.character + 1)))
    assert visible <= names
    assert not hidden & names


def test_loop_and_catch_variables_resolve_to_their_declarations(tmp_path: Path) -> None:
    from flowc.lsp.analysis import Analyzer
    from flowc.lsp.locate import Resolver
    from flowc.lsp.navigation import definition_span, reference_spans, rename_symbol

    path = tmp_path / "scopes.flow"
    snapshot = Analyzer().analyze(path.as_uri(), str(path), SCOPES, 1, {})
    resolver = Resolver(snapshot)

    def declared_at(needle: str, shift: int = 0) -> types.Position:
        position = position_of(SCOPES, needle, shift=shift)
        target = resolver.resolve(position.line + 1, position.character + 1)
        assert target is not None
        found = definition_span(snapshot, target)
        assert found is not None
        span = found[1]
        return types.Position(line=span.line - 1, character=span.col - 1)

    assert declared_at("+ i", 2) == position_of(SCOPES, "i, item")  # the index variable
    assert declared_at("size(item)", 5) == position_of(SCOPES, "item in")
    assert declared_at("err.message") == position_of(SCOPES, "err {")
    position = position_of(SCOPES, "i, item")
    symbol = rename_symbol(snapshot, resolver.resolve(position.line + 1, position.character + 1))
    assert symbol is not None and symbol.name == "i"
    assert len(reference_spans(snapshot, symbol)) == 2
