"""``flowc run`` of a Serverless Workflow 1.0 document.

``flowc run wf.yaml`` reads the definition as ``flowc check`` does (the loader,
``compiler/definitions/serverless.py``: schema and static checks, diagnostics with
positions, exit 2 when there are any), then runs its plain data with
``runtime/serverless.py`` on trio.  The input is ``--input JSON|@FILE`` (any JSON
value) and/or ``-i KEY=VALUE`` (VALUE as JSON when it is JSON, else the text);
``--resolve HOST=URL`` routes hosts as for `.flow` runs.  The output is printed as
JSON on stdout (exit 0); a fault prints its RFC 7807 error on stderr as one line
(exit 1); Ctrl-C exits 130.  Secret texts are scrubbed from both.
"""

from __future__ import annotations

import json
from typing import Any

import click

from flowc.commands.process import EXIT_FAILED, EXIT_OK, EXIT_USAGE
from flowc.commands.running import EXIT_INTERRUPTED


def is_workflow_file(path: str) -> bool:
    """Whether ``path`` is a JSON or YAML definition in the Serverless Workflow form."""
    from flowc.compiler.definitions import definition_kind
    from flowc.compiler.definitions.document import DocumentError, read_document
    from flowc.compiler.definitions.serverless import is_workflow

    kind = definition_kind(path)
    if kind is None:
        return False
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
        if "dsl" not in text:
            return False
        return is_workflow(read_document(kind, path, text).root)
    except (OSError, UnicodeDecodeError, DocumentError):
        return False  # the ordinary path reports it


def gather(input_json: str | None, assignments: tuple[str, ...]) -> Any:
    value: Any = None
    if input_json is not None:
        text = input_json
        if text.startswith("@"):
            with open(text[1:], encoding="utf-8") as handle:
                text = handle.read()
        value = json.loads(text)
    for assignment in assignments:
        key, _, raw = assignment.partition("=")
        try:
            item = json.loads(raw)
        except ValueError:
            item = raw
        value = {**(value if isinstance(value, dict) else {}), key: item}
    return {} if value is None else value


def execute(
    file: str, input_json: str | None, assignments: tuple[str, ...], resolve: tuple[str, ...]
) -> int:
    import trio

    from flowc.commands.run import print_diagnostics
    from flowc.compiler import SourceError
    from flowc.compiler.definitions import definition_kind
    from flowc.compiler.definitions.document import read_document, to_plain
    from flowc.runtime.redaction import Redactor
    from flowc.runtime.resolve import HostMap, ResolveError
    from flowc.runtime.serverless import Fault, run_workflow

    try:
        hosts = HostMap.parse(resolve)
        raw_input = gather(input_json, assignments)
    except (ResolveError, ValueError, OSError) as error:
        click.echo(f"flowc: error: {error}", err=True)
        return EXIT_USAGE
    from flowc.api import CompileError, compile_file

    try:
        compile_file(file)
    except SourceError as error:
        click.echo(f"flowc: error: {error}", err=True)
        return EXIT_USAGE
    except CompileError as error:
        print_diagnostics(error)
        return EXIT_USAGE
    with open(file, encoding="utf-8") as handle:
        text = handle.read()
    definition = to_plain(read_document(definition_kind(file) or "yaml", file, text).root)
    assert isinstance(definition, dict)
    redactor = Redactor()
    outcome: dict[str, Any] = {}

    async def main() -> None:
        try:
            outcome["output"] = await run_workflow(
                definition, raw_input, resolve=hosts, redactor=redactor
            )
        except Fault as fault:
            outcome["fault"] = fault.error

    try:
        trio.run(main)
    except KeyboardInterrupt:
        click.echo("flowc: interrupted", err=True)
        return EXIT_INTERRUPTED
    if "fault" in outcome:
        shown = json.dumps(redactor.redact_value(outcome["fault"]))
        click.echo(f"flowc: error: the workflow faulted: {shown}", err=True)
        return EXIT_FAILED
    click.echo(json.dumps(redactor.redact_value(outcome["output"])))
    return EXIT_OK
