"""The ``flowc`` command line.

Each sub-command imports what it needs inside its function, so that
``flowc check`` never pays for trio or httpx and start-up stays small.

Exit codes are the same everywhere: 0 success, 1 check errors or a failed
flow, 2 usage or input errors (a missing file, bad JSON input, a bad flag),
130 when interrupted.  Diagnostics and progress go to stderr; only a command's
result (a flow's JSON result, ``--format json`` output, formatted source with
``-``) goes to stdout.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from typing import NoReturn

import click

from flowc import __version__

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug in flowc, never a user mistake


def use_colour(stream: object) -> bool:
    """Colour only on a terminal, and never when ``NO_COLOR`` is set."""
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


_startup_gc_paused = False


def end_of_startup() -> None:
    """Turn the garbage collector back on once a command has done its imports.

    ``entry`` pauses the collector: start-up allocates hundreds of thousands of
    long-lived objects (modules, classes, parser tables), and collecting while
    they are made only rescans them (about 12 ms of a ~250 ms start).  What they
    are is then frozen (``gc.freeze``), so later collections, in a long flow run,
    skip them too.  Does nothing when ``entry`` did not pause the collector
    (tests that call ``main`` in-process).
    """
    global _startup_gc_paused
    if _startup_gc_paused:
        _startup_gc_paused = False
        gc.freeze()
        gc.enable()


def fail_usage(message: str) -> NoReturn:
    click.echo(f"flowc: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="flowc")
@click.pass_context
def main(context: click.Context) -> None:
    """flowc — check and run `.flow` programs that orchestrate HTTP APIs."""
    if context.invoked_subcommand not in _PAUSED_COMMANDS:
        end_of_startup()


_PAUSED_COMMANDS = ("check", "run", "demo")
"""Commands that call ``end_of_startup`` themselves, once their imports are done."""


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    help="How to print diagnostics: for people, or as JSON for editors and CI.",
)
@click.option(
    "-W", "warnings_as", type=click.Choice(["error"]), help="-W error: treat warnings as errors."
)
@click.option("--emit", type=click.Choice(["ir"]), help="Also print the lowered IR of each flow.")
@click.option(
    "--max-source-mib",
    type=click.IntRange(min=1),
    metavar="N",
    help="Accept source files of up to N MiB (default: $FLOWC_MAX_SOURCE_MIB, else 32).",
)
def check(
    files: tuple[str, ...],
    output_format: str,
    warnings_as: str | None,
    emit: str | None,
    max_source_mib: int | None,
) -> None:
    """Parse and type-check FILES (and what they import)."""
    from flowc.commands.check import run_check

    sys.exit(run_check(files, output_format, warnings_as == "error", emit, max_source_mib))


def _register_optional_commands() -> None:
    """Sub-commands that live in their own modules (added as they are built)."""
    import importlib

    for name in ("run", "fmt", "lsp", "demo", "graph"):
        try:
            module = importlib.import_module(f"flowc.commands.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"flowc.commands.{name}":
                raise
            continue
        main.add_command(module.command)


_register_optional_commands()


def entry() -> None:
    """The console script: ``main`` with a last line of defence against tracebacks.

    User mistakes are all reported by the commands themselves; anything that
    escapes is a bug in flowc, reported in one line (``FLOWC_DEBUG=1`` shows
    the traceback).
    """
    # Lark validates terminal collisions with `interegular` when it is installed
    # (the dev extra installs it for the strict grammar test).  The command line
    # only loads the already-validated, cached grammar, so it skips that import
    # and the validation it would trigger: about 30 ms of every start.
    sys.modules.setdefault("interegular", None)  # type: ignore[arg-type]
    # httpx imports its own command-line client (`httpx._main`, which pulls in rich
    # and pygments' lexer registry) whenever those happen to be installed; flowc
    # never uses it, and httpx falls back cleanly without it.
    sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]
    global _startup_gc_paused
    _startup_gc_paused = gc.isenabled()
    gc.disable()
    try:
        main(standalone_mode=True)
    except SystemExit as done:
        exit_now(done.code)
    except KeyboardInterrupt:
        click.echo("flowc: interrupted", err=True)
        exit_now(130)
    except Exception as error:
        if os.environ.get("FLOWC_DEBUG"):
            raise
        click.echo(
            f"flowc: internal error: {type(error).__name__}: {error} "
            "(this is a bug in flowc; FLOWC_DEBUG=1 shows the traceback)",
            err=True,
        )
        exit_now(EXIT_INTERNAL)


def exit_now(code: object) -> NoReturn:
    """End the process without tearing the interpreter down.

    Finalising the few hundred modules a run imports takes ~50 ms, after the
    work is done.  By the time a command returns, its files are closed and its
    child processes stopped, so this flushes the standard streams, runs the one
    exit hook flowc's libraries register (``logging.shutdown``) and leaves at
    once, as mypy does.  ``code`` is ``SystemExit.code``: None, an int, or a
    message for stderr (exit status 1).
    """
    if isinstance(code, str):
        click.echo(code, err=True)
    status = code if isinstance(code, int) else 0 if code is None else 1
    logging = sys.modules.get("logging")
    if logging is not None:
        logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe: nothing to tell
            stream.flush()
    os._exit(status)


if __name__ == "__main__":
    entry()
