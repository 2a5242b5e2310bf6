"""``flowc resume RUN_ID``: continue a crashed, interrupted or failed run.

The run's program is compiled again from the file it was started from, its
journal is read from the store, and the run continues where it stopped:
completed steps are not sent again, ``now()``/``uuid()``/``env()`` return what
they returned before, a ``sleep`` waits only what is left.  A failed run is
re-executed from its failing step (a redrive), keeping every completed step.

It refuses when the program changed since the run started (``--force``
replays the journal anyway), when another live process still executes the
run, and when the run's compensations already ran.  Secret inputs are never
stored: give them again with ``-i``/``--input``.

Same output and exit codes as ``flowc run``.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from flowc.commands.output import OutputOptions, make_output, output_options
from flowc.commands.run import engine_options, input_options
from flowc.commands.running import drive, open_run_store, open_trace, parse_json_object, usage_error

if TYPE_CHECKING:
    from flowc.runtime.engine import Engine
    from flowc.runtime.hooks import Hook
    from flowc.runtime.redaction import Redactor


@click.command("resume")
@click.argument("run_id")
@click.option("--force", is_flag=True, help="Resume even if the program changed since.")
@input_options
@engine_options
@output_options
def command(
    run_id: str,
    force: bool,
    input_json: str | None,
    assignments: tuple[str, ...],
    sequential: bool,
    trace_path: str | None,
    store_url: str | None,
    resolve: tuple[str, ...],
    progress: str,
    log_format: str,
    verbose: bool,
    quiet: bool,
) -> None:
    """Continue run RUN_ID from its journal and print its result as JSON."""
    from flowc.runtime.programs import InputError
    from flowc.runtime.resolve import HostMap, ResolveError
    from flowc.runtime.store import StoreError

    output = make_output(OutputOptions(progress, log_format, verbose, quiet))
    try:
        hosts = HostMap.parse(resolve)
        given = _secret_inputs(input_json, assignments)
        store = open_run_store(store_url, ephemeral=False)
        trace = open_trace(trace_path)
    except (InputError, StoreError, ResolveError) as error:
        sys.exit(usage_error(str(error), output))
    except OSError as error:
        sys.exit(usage_error(f"cannot write trace file {trace_path}: {error.strerror}", output))

    async def start(engine: Engine, hooks: list[Hook], redactor: Redactor) -> Any:
        return await engine.resume(
            run_id,
            inputs=given,
            force=force,
            sequential=sequential,
            hooks=hooks,
            log=output.log,
            warn=output.warn,
            redactor=redactor,
        )

    try:
        sys.exit(drive(start, store, trace, resolve=hosts, output=output))
    finally:
        if trace is not None:
            trace.close()


def _secret_inputs(input_json: str | None, assignments: tuple[str, ...]) -> dict[str, Any]:
    """Inputs given again on resume (only the secret ones are needed): as text."""
    from flowc.runtime.programs import InputError

    given: dict[str, Any] = {}
    if input_json is not None:
        given.update(parse_json_object(input_json, "--input"))
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        if not sep or not key:
            raise InputError(f"-i expects KEY=VALUE, found {assignment!r}")
        given[key] = text
    return given
