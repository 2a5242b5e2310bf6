"""``flowc convert FILE --to flow|yaml|json``: one program, another notation.

The file is read into the AST (a `.flow` file is parsed; a `.json`, `.yaml` or
`.yml` flow definition is read) and the AST is written in the chosen notation
(``flowc.compiler.definitions.convert``), to stdout or ``-o FILE``.  Constructs the
step-list form cannot hold are reported as diagnostics and nothing is written
(exit 1); a file that cannot be read, or a bad option, exits 2.
"""

from __future__ import annotations

import sys

import click


@click.command("convert")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--to",
    "target",
    type=click.Choice(["flow", "yaml", "json"]),
    required=True,
    help="The notation to write: .flow source, or the step-list form as YAML or JSON.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to FILE instead of standard output.",
)
def command(file: str, target: str, output: str | None) -> None:
    """Convert FILE between .flow source and a JSON/YAML flow definition."""
    sys.exit(run_convert(file, target, output))


def run_convert(file: str, target: str, output: str | None) -> int:
    from flowc.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, use_colour
    from flowc.compiler.definitions.convert import convert
    from flowc.compiler.diagnostics import render, summary
    from flowc.compiler.loader import SourceError, display_path, read_source_file

    try:
        text = read_source_file(file)
    except SourceError as error:
        click.echo(f"flowc: error: {error}", err=True)
        return EXIT_USAGE
    converted, diagnostics = convert(display_path(file), text, target)  # type: ignore[arg-type]
    if converted is None:
        colour = use_colour(sys.stderr)
        for diagnostic in diagnostics:
            click.echo(render(diagnostic, text, colour=colour), err=True)
        errors = sum(1 for d in diagnostics if d.is_error)
        click.echo(
            f"flowc: {summary(errors, len(diagnostics) - errors)}; nothing written", err=True
        )
        return EXIT_FAILED
    if output is None:
        click.echo(converted, nl=False)
        return EXIT_OK
    try:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(converted)
    except OSError as error:
        click.echo(f"flowc: error: cannot write {output}: {error.strerror}", err=True)
        return EXIT_USAGE
    return EXIT_OK
