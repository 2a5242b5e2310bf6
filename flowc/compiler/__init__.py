"""The flowc compiler: parse, resolve, type-check and lower `.flow` programs.

``compile_file`` and ``compile_source`` are the entry points most callers
need; each returns a ``Compilation`` holding the checked program, its
diagnostics (sorted) and the sources they point into.
"""

from __future__ import annotations

import attrs

from flowc.compiler.checker import CheckResult, check_program
from flowc.compiler.diagnostics import Diagnostic, DiagnosticSink
from flowc.compiler.loader import (
    ParseCache,
    SourceError,
    SourceReader,
    collector_paused,
    display_path,
    load_program,
)

__all__ = ["Compilation", "SourceError", "compile_file", "compile_source"]


@attrs.define(eq=False)
class Compilation:
    result: CheckResult
    diagnostics: list[Diagnostic]
    sources: dict[str, str]  # display path -> text

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)


def compile_file(
    path: str,
    *,
    source: str | None = None,
    cache: ParseCache | None = None,
    reader: SourceReader | None = None,
    source_limit: int | None = None,
) -> Compilation:
    """Load, parse and check ``path`` and its imports.

    ``source_limit`` is the largest file accepted, in bytes (default
    ``loader.source_limit()``: ``$FLOWC_MAX_SOURCE_MIB`` or 32 MiB).  Raises
    ``SourceError`` when the file itself cannot be read; every other problem is
    a diagnostic in the result.
    """
    sink = DiagnosticSink()
    with collector_paused():
        program = load_program(
            path, sink=sink, source=source, cache=cache, reader=reader, limit=source_limit
        )
        result = check_program(program, sink)
    sources = {display_path(p): m.source for p, m in program.modules.items()}
    sources.update(result.info.document_sources)
    return Compilation(result, sink.sorted(), sources)


def compile_source(text: str, name: str = "<input>.flow") -> Compilation:
    """Check source text that is not (necessarily) a file on disk."""
    return compile_file(name, source=text)
