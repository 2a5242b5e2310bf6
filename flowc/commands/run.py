"""``flowc run``: run one flow and print its result as JSON.

Inputs come from ``--input JSON`` (or ``--input @file.json``) and any number
of ``-i key=value``, where each value is converted by the parameter's type
(``-i n=3`` is an int when ``n: int``).  They are validated before anything
is sent.  The result goes to stdout as JSON and nothing else does; logs and
errors go to stderr.

Exit codes: 0 success; 1 the flow failed (a one-line message naming the flow,
the step, ``file:line:col``, the error kind, the HTTP status and the
attempts); 2 usage, compile or input errors; 130 interrupted (after the
compensations of completed steps ran).
"""

from __future__ import annotations

import json
import signal
import sys
from typing import IO, Any

import click

EXIT_INTERRUPTED = 130


def run_options(function: Any) -> Any:
    """The options shared by ``flowc run`` and ``flowc demo``."""
    options = [
        click.option(
            "--flow",
            "flow_name",
            metavar="NAME",
            help="The flow to run (needed when the file has several).",
        ),
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
        click.option(
            "--sequential",
            is_flag=True,
            help="Run steps strictly in program order (no automatic parallelism).",
        ),
        click.option(
            "--trace",
            "trace_path",
            type=click.Path(dir_okay=False, writable=True),
            help="Write trace events as JSON lines to FILE.",
        ),
        click.option(
            "--resolve",
            "resolve",
            multiple=True,
            metavar="HOST=URL",
            help="Send the requests for HOST to base URL instead (local testing); repeatable. "
            "In `flowc demo`, HOST alone means the demo API.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


@click.command("run")
@click.argument("file", type=click.Path(dir_okay=False))
@run_options
def command(
    file: str,
    flow_name: str | None,
    input_json: str | None,
    assignments: tuple[str, ...],
    sequential: bool,
    trace_path: str | None,
    resolve: tuple[str, ...],
) -> None:
    """Run a flow of FILE and print its result as JSON."""
    sys.exit(execute(file, flow_name, input_json, assignments, sequential, trace_path, resolve))


def execute(
    file: str,
    flow_name: str | None,
    input_json: str | None,
    assignments: tuple[str, ...],
    sequential: bool,
    trace_path: str | None,
    resolve: tuple[str, ...] = (),
) -> int:
    from flowc.api import CompileError, InputError, compile_file
    from flowc.cli import EXIT_USAGE
    from flowc.compiler import SourceError
    from flowc.compiler.parse_store import PersistentParseCache
    from flowc.runtime.resolve import HostMap, ResolveError

    try:
        hosts = HostMap.parse(resolve)
    except ResolveError as error:
        return _usage(str(error))
    try:
        program = compile_file(file, parse_cache=PersistentParseCache())
        flow = program.flow(flow_name)
        inputs = program.prepare_inputs(flow, _gather_inputs(flow, input_json, assignments))
    except SourceError as error:
        return _usage(str(error))
    except CompileError as error:
        _print_diagnostics(error)
        return EXIT_USAGE
    except InputError as error:
        return _usage(str(error))
    try:
        trace = _open_trace(trace_path)
    except OSError as error:
        return _usage(f"cannot write trace file {trace_path}: {error.strerror}")
    try:
        return _run(program, flow.name, inputs, sequential, trace, hosts)
    finally:
        if trace is not None:
            trace.close()


def _usage(message: str) -> int:
    from flowc.cli import EXIT_USAGE

    click.echo(f"flowc: error: {message}", err=True)
    return EXIT_USAGE


def _print_diagnostics(error: Any) -> None:
    from flowc.cli import use_colour
    from flowc.compiler.diagnostics import render

    colour = use_colour(sys.stderr)
    for diagnostic in error.diagnostics:
        click.echo(
            render(diagnostic, error.sources.get(diagnostic.span.file), colour=colour), err=True
        )


def _open_trace(path: str | None) -> IO[str] | None:
    if path is None:
        return None
    return open(path, "w", encoding="utf-8")


def _gather_inputs(
    flow: Any, input_json: str | None, assignments: tuple[str, ...]
) -> dict[str, Any]:
    from flowc.api import InputError, unknown_parameters

    inputs: dict[str, Any] = {}
    if input_json is not None:
        inputs.update(_parse_input_json(input_json))
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
    from flowc.api import InputError
    from flowc.runtime.decode import DecodeError, coerce_input

    try:
        return coerce_input(text, expected)
    except DecodeError as error:
        raise InputError(f"input `{key}`: {error.message}") from None


def _parse_input_json(text: str) -> dict[str, Any]:
    from flowc.api import InputError

    if text.startswith("@"):
        try:
            with open(text[1:], encoding="utf-8") as handle:
                text = handle.read()
        except OSError as error:
            raise InputError(f"cannot read input file {text[1:]}: {error.strerror}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(
            f"--input is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    if not isinstance(value, dict):
        raise InputError("--input must be a JSON object mapping parameter names to values")
    return value


def _run(
    program: Any,
    flow: str,
    inputs: dict[str, Any],
    sequential: bool,
    trace: IO[str] | None,
    hosts: Any,
) -> int:
    import trio

    from flowc.cli import EXIT_FAILED, EXIT_OK, end_of_startup
    from flowc.common.errors import FlowError
    from flowc.common.values import json_text

    interrupted = False
    failure: list[FlowError] = []

    async def main() -> Any:
        nonlocal interrupted
        async with trio.open_nursery() as nursery:
            result: list[Any] = []

            async def run_flow() -> None:
                try:
                    result.append(
                        await program.run(
                            flow, inputs, sequential=sequential, trace=trace, resolve=hosts
                        )
                    )
                except FlowError as error:
                    failure.append(error)
                nursery.cancel_scope.cancel()

            async def watch_interrupt() -> None:
                nonlocal interrupted
                with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for _ in signals:
                        interrupted = True
                        nursery.cancel_scope.cancel()
                        return

            nursery.start_soon(watch_interrupt)
            nursery.start_soon(run_flow)
        return result[0] if result else None

    import flowc.runtime.http
    import flowc.runtime.session  # noqa: F401 -- imported while start-up pauses the collector

    end_of_startup()
    value = trio.run(main)
    if failure:
        click.echo(f"flowc: error: {failure[0].describe()}", err=True)
        return EXIT_FAILED
    if interrupted:
        click.echo("flowc: interrupted; compensations of completed steps were run", err=True)
        return EXIT_INTERRUPTED
    click.echo(json_text(value))
    return EXIT_OK
