"""``flowc lsp``: the language server, speaking LSP on stdin/stdout.

Editors start it as a child process (the VS Code extension, Neovim's
``vim.lsp.start``, Helix's ``language-server`` setting).  Everything but the
protocol goes to stderr, or to ``--log-file``.  The server and pygls are
imported only when the command runs, so other sub-commands start as fast as
before.
"""

from __future__ import annotations

import click


@click.command("lsp")
@click.option("--stdio", is_flag=True, help="Use stdin/stdout (the default; accepted for editors).")
@click.option(
    "--log-file", type=click.Path(dir_okay=False), help="Write the server's log to this file."
)
@click.option("-v", "--verbose", is_flag=True, help="Log debugging details.")
def command(stdio: bool, log_file: str | None, verbose: bool) -> None:
    """Run the flowc language server over stdio (for editors)."""
    del stdio
    import logging

    level = logging.DEBUG if verbose else logging.WARNING
    handler: logging.Handler = (
        logging.FileHandler(log_file, encoding="utf-8") if log_file else logging.StreamHandler()
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    if not verbose:
        logging.getLogger("flowc.lsp").setLevel(logging.INFO if log_file else logging.WARNING)

    from flowc.lsp.server import serve

    serve()
