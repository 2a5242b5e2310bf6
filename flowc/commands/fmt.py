"""``flowc fmt``: rewrite files in the one canonical style (docs/formatting.md).

``flowc fmt FILE...`` formats in place; ``--check`` changes nothing and exits
1 when a file would change, printing a unified diff; ``-`` formats standard
input to standard output.  A file that does not parse is left untouched and
its syntax error reported (exit 1); a file that cannot be read is a one-line
message (exit 2).  The formatter keeps every comment and never changes the
program: ``parse(fmt(x)) == parse(x)``.
"""

from __future__ import annotations

import sys

import click


@click.command("fmt")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--check", is_flag=True, help="Change nothing; exit 1 and show a diff if a file would change."
)
def command(files: tuple[str, ...], check: bool) -> None:
    """Format FILES in place (`-` formats standard input to standard output)."""
    sys.exit(run_fmt(files, check))


def run_fmt(files: tuple[str, ...], check: bool) -> int:
    from flowc.commands.process import EXIT_FAILED, EXIT_OK, EXIT_USAGE

    worst = EXIT_OK
    for path in files:
        outcome = _format_one(path, check)
        worst = max(worst, outcome)
    if worst == EXIT_USAGE:
        return EXIT_USAGE
    return EXIT_FAILED if worst else EXIT_OK


def _format_one(path: str, check: bool) -> int:
    from flowc.commands.process import EXIT_FAILED, EXIT_OK, EXIT_USAGE, use_colour
    from flowc.compiler.diagnostics import ParseFailure, render
    from flowc.compiler.formatter import format_source
    from flowc.compiler.loader import SourceError, decode_source, read_source_file, source_limit

    try:
        if path == "-":
            limit = source_limit()
            text = decode_source("<stdin>", sys.stdin.buffer.read(limit + 1), limit=limit)
        else:
            text = read_source_file(path)
    except SourceError as error:
        click.echo(f"flowc: error: {error}", err=True)
        return EXIT_USAGE
    name = "<stdin>" if path == "-" else path
    try:
        formatted = format_source(text, name)
    except ParseFailure as failure:
        click.echo(render(failure.diagnostic, text, colour=use_colour(sys.stderr)), err=True)
        return EXIT_FAILED
    if path == "-":
        click.echo(formatted, nl=False)
        return EXIT_OK
    if formatted == text:
        return EXIT_OK
    if check:
        click.echo(_diff(name, text, formatted), nl=False)
        click.echo(f"flowc: {name} would be reformatted", err=True)
        return EXIT_FAILED
    with open(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(formatted)
    click.echo(f"flowc: formatted {name}", err=True)
    return EXIT_OK


def _diff(name: str, before: str, after: str) -> str:
    import difflib

    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        f"{name} (original)",
        f"{name} (formatted)",
    )
    return "".join(lines)
