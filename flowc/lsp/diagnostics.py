"""Compiler diagnostics as LSP diagnostics, grouped by the file they are in.

One analysis reports on every file of the program, so ``by_file`` returns
a map from absolute path to the LSP diagnostics of that file.  Each
diagnostic keeps the compiler's ``code`` and severity; its message gets the
``help`` line appended (editors show the message, rarely anything else) and
its notes ("first defined here") become ``relatedInformation`` pointing at
their own spans.  Ranges are converted with the line index of the text that
was analysed, so UTF-16 columns are right for non-ASCII lines.

Warnings about unused or unreachable code carry the ``Unnecessary`` tag,
which editors render as faded text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from lsprotocol import types

from flowc.compiler.diagnostics import Diagnostic
from flowc.lsp.analysis import Snapshot
from flowc.lsp.positions import LineIndex

SOURCE: Final = "flowc"
UNNECESSARY_CODES: Final = frozenset({"W0101", "W0102", "W0103", "W0201"})
SEVERITIES: Final = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
}

UriOf = Callable[[str], str]


def _range(index: LineIndex | None, diagnostic: Diagnostic) -> types.Range:
    span = diagnostic.span
    if index is None or span.line <= 0:
        line = max(span.line - 1, 0)
        return types.Range(
            start=types.Position(line=line, character=max(span.col - 1, 0)),
            end=types.Position(line=line, character=max(span.col, 1)),
        )
    found = index.span_range(span)
    if found.start == found.end:  # an empty range is hard to see: cover one character
        found = types.Range(
            start=found.start,
            end=types.Position(line=found.start.line, character=found.start.character + 1),
        )
    return found


def convert(snapshot: Snapshot, diagnostic: Diagnostic, uri_of: UriOf) -> types.Diagnostic:
    path = snapshot.path_of(diagnostic.span.file)
    message = diagnostic.message
    if diagnostic.help:
        message += f"\nhelp: {diagnostic.help}"
    related = []
    for note in diagnostic.notes:
        note_path = snapshot.path_of(note.span.file)
        index = snapshot.index_of(note_path)
        if index is None:
            continue
        related.append(
            types.DiagnosticRelatedInformation(
                location=types.Location(uri=uri_of(note_path), range=index.span_range(note.span)),
                message=note.message,
            )
        )
    tags = [types.DiagnosticTag.Unnecessary] if diagnostic.code in UNNECESSARY_CODES else None
    return types.Diagnostic(
        range=_range(snapshot.index_of(path), diagnostic),
        message=message,
        severity=SEVERITIES.get(diagnostic.severity, types.DiagnosticSeverity.Information),
        code=diagnostic.code,
        source=SOURCE,
        related_information=related or None,
        tags=tags,
    )


def by_file(snapshot: Snapshot, uri_of: UriOf) -> dict[str, list[types.Diagnostic]]:
    """Every file of the program (absolute path) with its diagnostics (maybe none)."""
    found: dict[str, list[types.Diagnostic]] = {path: [] for path in snapshot.module_paths}
    found.setdefault(snapshot.path, [])
    for diagnostic in snapshot.compilation.diagnostics:
        path = snapshot.path_of(diagnostic.span.file)
        found.setdefault(path, []).append(convert(snapshot, diagnostic, uri_of))
    return found
