"""``flowc check``: report the diagnostics of one or more files.

Text output goes to stderr, one rendered diagnostic after another, then a
summary line; ``--format json`` prints one JSON document to stdout instead:
``{"files": [...], "diagnostics": [...], "errors": N, "warnings": N}``.
"""

from __future__ import annotations

import json
import sys

import click

from flowc.compiler.diagnostics import Diagnostic, render, summary


def run_check(
    files: tuple[str, ...],
    output_format: str,
    warnings_are_errors: bool,
    emit: str | None,
    max_source_mib: int | None = None,
) -> int:
    from flowc.commands.process import EXIT_FAILED, EXIT_OK, EXIT_USAGE, end_of_startup, use_colour
    from flowc.compiler import SourceError, compile_file
    from flowc.compiler.loader import source_limit
    from flowc.compiler.parse_store import PersistentParseCache

    try:
        limit = source_limit(max_source_mib)
    except SourceError as error:
        click.echo(f"flowc: error: {error}", err=True)
        return EXIT_USAGE
    parse_cache = PersistentParseCache()
    all_diagnostics: list[Diagnostic] = []
    sources: dict[str, str] = {}
    usage_error = False
    for path in files:
        try:
            compilation = compile_file(path, cache=parse_cache, source_limit=limit)
        except SourceError as error:
            click.echo(f"flowc: error: {error}", err=True)
            usage_error = True
            continue
        finally:
            end_of_startup()
        sources.update(compilation.sources)
        all_diagnostics.extend(_promote(compilation.diagnostics, warnings_are_errors))
        if emit == "ir" and compilation.ok:
            _emit_ir(compilation)
    all_diagnostics = _unique(all_diagnostics)
    errors = sum(1 for d in all_diagnostics if d.is_error)
    warnings = len(all_diagnostics) - errors
    if output_format == "json":
        payload = {
            "files": list(files),
            "diagnostics": [d.to_json() for d in all_diagnostics],
            "errors": errors,
            "warnings": warnings,
        }
        click.echo(json.dumps(payload, indent=2))
    else:
        colour = use_colour(sys.stderr)
        for diagnostic in all_diagnostics:
            click.echo(
                render(diagnostic, sources.get(diagnostic.span.file), colour=colour), err=True
            )
        if all_diagnostics:
            click.echo(f"flowc: {summary(errors, warnings)}", err=True)
    if usage_error:
        return EXIT_USAGE
    return EXIT_FAILED if errors else EXIT_OK


def _promote(diagnostics: list[Diagnostic], warnings_are_errors: bool) -> list[Diagnostic]:
    if not warnings_are_errors:
        return diagnostics
    return [d.as_error() for d in diagnostics]


def _unique(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Imports shared by several checked files report once."""
    seen: set[tuple[object, ...]] = set()
    unique = []
    for d in diagnostics:
        key = (d.span, d.code, d.message)
        if key not in seen:
            seen.add(key)
            unique.append(d)
    return unique


def _emit_ir(compilation: object) -> None:
    from flowc.compiler.ir import format_ir
    from flowc.compiler.lowering import lower_program

    click.echo(format_ir(lower_program(compilation.result)))  # type: ignore[attr-defined]
