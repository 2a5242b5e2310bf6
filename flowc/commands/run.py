"""``flowc run``: run one flow and print its result as JSON.

Inputs come from ``--input JSON`` (or ``--input @file.json``) and any number
of ``-i key=value``, where each value is converted by the parameter's type
(``-i n=3`` is an int when ``n: int``).  They are validated before anything
is sent.  The result goes to stdout as JSON and nothing else does; logs and
errors go to stderr.

Runs are durable by default: journaled to the store that ``--store URL`` or
``FLOWC_STORE`` names, else the SQLite file ``$XDG_STATE_HOME/flowc/runs.db``
(``--ephemeral`` keeps nothing).  A durable run prints ``flowc: run <id>`` on
stderr when it starts; ``--run-id ID`` names it, which makes the start
idempotent (a completed run answers its stored result, an unfinished one is
resumed).

Exit codes: 0 success; 1 the flow failed (a one-line message naming the flow,
the step, ``file:line:col``, the error kind, the HTTP status and the
attempts); 2 usage, compile or input errors; 130 interrupted (after the
compensations of completed steps ran).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from flowc.commands.output import OutputOptions, make_output, output_options
from flowc.commands.process import EXIT_USAGE
from flowc.commands.running import (
    drive,
    open_run_store,
    open_trace,
    parse_json_object,
    usage_error,
)

if TYPE_CHECKING:
    from flowc.compiler import ir
    from flowc.runtime.engine import Engine
    from flowc.runtime.hooks import Hook
    from flowc.runtime.redaction import Redactor


def input_options(function: Any) -> Any:
    """``--input`` and ``-i``: the inputs of a run."""
    options = [
        click.option(
            "--input",
            "input_json",
            metavar="JSON|@FILE",
            help="All inputs as a JSON object, or @file.json.",
        ),
        click.option(
            "-i",
            "assignments",
            multiple=True,
            metavar="KEY=VALUE",
            help="One input; repeatable. Converted by the parameter's type.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def engine_options(function: Any) -> Any:
    """How a run executes: its store, its trace, its scheduling."""
    options = [
        click.option(
            "--sequential",
            is_flag=True,
            help="Run steps strictly in program order (no automatic parallelism).",
        ),
        click.option(
            "--trace",
            "trace_path",
            type=click.Path(dir_okay=False, writable=True),
            help="Write the run's events as JSON lines to FILE.",
        ),
        click.option(
            "--resolve",
            "resolve",
            multiple=True,
            metavar="HOST=URL",
            help="Send the requests for HOST to the base URL instead (local testing); "
            "repeatable. In `flowc demo`, HOST alone means the demo API.",
        ),
        click.option(
            "--store",
            "store_url",
            metavar="URL",
            help="Journal to this store: sqlite:///path or postgresql://... "
            "(default: FLOWC_STORE, else ~/.local/state/flowc/runs.db).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def run_options(function: Any) -> Any:
    """The options shared by ``flowc run`` and ``flowc demo``."""
    options = [
        click.option(
            "--flow",
            "flow_name",
            metavar="NAME",
            help="The flow to run (needed when the file has several).",
        ),
        click.option("--ephemeral", is_flag=True, help="Run without a store (nothing is kept)."),
        click.option(
            "--format",
            "output_format",
            type=click.Choice(["result", "envelope"]),
            default="result",
            help="`envelope`: print one JSON object whatever the outcome, "
            '{"run_id", "status", "result"} or {"run_id", "status", "error"}.',
        ),
        click.option(
            "--run-id",
            metavar="ID",
            help="The run's id: an existing one answers or resumes that run.",
        ),
    ]
    function = output_options(engine_options(input_options(function)))
    for option in reversed(options):
        function = option(function)
    return function


@click.command("run")
@click.argument("file", type=click.Path(dir_okay=False))
@run_options
def command(file: str, **options: Any) -> None:
    """Run a flow of FILE and print its result as JSON."""
    sys.exit(execute(file, **options))


def execute(
    file: str,
    *,
    flow_name: str | None,
    input_json: str | None,
    assignments: tuple[str, ...],
    sequential: bool,
    trace_path: str | None,
    store_url: str | None,
    ephemeral: bool,
    run_id: str | None,
    resolve: tuple[str, ...] = (),
    progress: str = "auto",
    log_format: str = "text",
    verbose: bool = False,
    quiet: bool = False,
    output_format: str = "result",
) -> int:
    from flowc.commands import serverless

    if serverless.is_workflow_file(file):
        return serverless.execute(file, input_json, assignments, resolve)
    from flowc.api import CompileError, compile_file
    from flowc.compiler import SourceError
    from flowc.compiler.parse_store import PersistentParseCache
    from flowc.runtime.programs import InputError
    from flowc.runtime.resolve import HostMap, ResolveError
    from flowc.runtime.store import StoreError

    output = make_output(OutputOptions(progress, log_format, verbose, quiet))
    try:
        hosts = HostMap.parse(resolve)
    except ResolveError as error:
        return usage_error(str(error), output)
    try:
        program = compile_file(file, parse_cache=PersistentParseCache())
        flow = program.flow(flow_name)
        output.flow = flow.name
        inputs = program.prepare_inputs(flow, gather_inputs(flow, input_json, assignments))
    except SourceError as error:
        return usage_error(str(error), output)
    except CompileError as error:
        output.diagnostics(error)
        return EXIT_USAGE
    except InputError as error:
        return usage_error(str(error), output)
    try:
        store = open_run_store(store_url, ephemeral)
    except StoreError as error:
        return usage_error(str(error), output)
    try:
        trace = open_trace(trace_path)
    except OSError as error:
        return usage_error(f"cannot write trace file {trace_path}: {error.strerror}", output)

    envelope: dict[str, Any] | None = {} if output_format == "envelope" else None

    def started(run_id: str) -> None:
        if envelope is not None:
            envelope["run_id"] = run_id
        if store is not None:
            output.announce(run_id)

    async def start(engine: Engine, hooks: list[Hook], redactor: Redactor) -> Any:
        return await engine.run(
            program,
            flow.name,
            inputs,
            run_id=run_id,
            sequential=sequential,
            hooks=hooks,
            log=output.log,
            warn=output.warn,
            started=started,
            redactor=redactor,
        )

    import flowc.runtime.http  # noqa: F401 -- imported while start-up pauses the collector

    try:
        return drive(start, store, trace, resolve=hosts, output=output, envelope=envelope)
    finally:
        if trace is not None:
            trace.close()


def print_diagnostics(error: Any) -> None:
    from flowc.commands.process import use_colour
    from flowc.compiler.diagnostics import render

    colour = use_colour(sys.stderr)
    for diagnostic in error.diagnostics:
        click.echo(
            render(diagnostic, error.sources.get(diagnostic.span.file), colour=colour), err=True
        )


def gather_inputs(
    flow: ir.FlowIR, input_json: str | None, assignments: tuple[str, ...]
) -> dict[str, Any]:
    """The inputs ``--input`` and ``-i`` give, converted by the parameters' types."""
    from flowc.runtime.programs import InputError, unknown_parameters

    inputs: dict[str, Any] = {}
    if input_json is not None:
        inputs.update(parse_json_object(input_json, "--input"))
    types = {p.name: p.type for p in flow.params}
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        if not sep or not key:
            raise InputError(f"-i expects KEY=VALUE, found {assignment!r}")
        if key not in types:
            raise InputError(unknown_parameters(flow, [key]))
        inputs[key] = _coerce(key, text, types[key])
    return inputs


def _coerce(key: str, text: str, expected: Any) -> Any:
    from flowc.runtime.decode import DecodeError, coerce_input
    from flowc.runtime.programs import InputError

    try:
        return coerce_input(text, expected)
    except DecodeError as error:
        raise InputError(f"input `{key}`: {error.message}") from None
