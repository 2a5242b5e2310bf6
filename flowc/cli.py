"""The ``flowc`` command line.

Each sub-command imports what it needs inside its function, and a command's own
module is imported only when that command runs (`_LazyCommands`), so that
``flowc check`` never pays for trio or httpx and start-up stays small.

Exit codes are the same everywhere: 0 success, 1 check errors or a failed
flow, 2 usage or input errors (a missing file, bad JSON input, a bad flag),
130 when interrupted.  Diagnostics and progress go to stderr; only a command's
result (a flow's JSON result, ``--format json`` output, formatted source with
``-``) goes to stdout.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import click

from flowc import __version__
from flowc.commands.process import (
    EXIT_FAILED,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_USAGE,
    end_of_startup,
    exit_now,
    pause_collector,
    use_colour,
)

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_USAGE", "end_of_startup", "entry", "main", "use_colour"]


_COMMAND_MODULES: tuple[str, ...] = (
    "run", "resume", "runs", "fmt", "lsp", "demo", "graph", "convert", "schema",
    "serve", "worker", "signal",
)  # fmt: skip
"""Sub-commands that live in their own module, ``flowc.commands.NAME`` (as they are built)."""


class _LazyCommands(click.Group):
    """The group that imports a sub-command's module only when that command is asked for.

    Importing all of them at every start cost about 40 ms (`flowc runs` needs none of
    what `flowc run` imports); `--help` still lists them all."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        built = [name for name in _COMMAND_MODULES if _command(name) is not None]
        return sorted({*self.commands, *built})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands:
            return self.commands[cmd_name]
        return _command(cmd_name) if cmd_name in _COMMAND_MODULES else None


def _command(name: str) -> click.Command | None:
    import importlib

    try:
        module = importlib.import_module(f"flowc.commands.{name}")
    except ModuleNotFoundError as error:
        if error.name != f"flowc.commands.{name}":
            raise
        return None
    command: click.Command = module.command
    return command


def fail_usage(message: str) -> NoReturn:
    click.echo(f"flowc: error: {message}", err=True)
    sys.exit(EXIT_USAGE)


@click.group(cls=_LazyCommands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="flowc")
@click.pass_context
def main(context: click.Context) -> None:
    """flowc — check and run `.flow` programs that orchestrate HTTP APIs."""
    if context.invoked_subcommand not in _PAUSED_COMMANDS:
        end_of_startup()


_PAUSED_COMMANDS = ("check", "run", "resume", "demo")
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
    pause_collector()
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


if __name__ == "__main__":
    from flowc.launch import entry as launch

    launch()
