"""``flowc schema``: print the JSON Schema of the step-list form (draft 2020-12).

Editors and CI validate JSON and YAML flow definitions with it; it is the same
file flowc ships and reads (``flowc/compiler/definitions/steplist.schema.json``).
"""

from __future__ import annotations

import click


@click.command("schema")
def command() -> None:
    """Print the JSON Schema of JSON/YAML flow definitions."""
    from flowc.compiler.definitions import schema_text

    click.echo(schema_text(), nl=False)
