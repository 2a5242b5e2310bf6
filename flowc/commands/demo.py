"""``flowc demo``: run a flow against the bundled demo API, no network needed.

``flowc demo FILE [run options]`` starts the demo API (``flowc.demo``) in a
child process on a free local port, points ``FLOWC_DEMO_URL`` at it, provides
the demo credentials the examples read with ``secret()`` (``DEMO_TOKEN``,
``DEMO_PASSWORD``, ``DEMO_API_KEY``), runs the flow exactly as ``flowc run``
would, and stops the server.  Without FILE it serves the demo API in the
foreground until interrupted.

``--resolve HOST`` (without ``=URL``) sends the requests for ``HOST`` to the demo
API, so a definition that names production hosts runs against it unchanged:
``flowc demo examples/user_registration_flow.json --resolve user-service``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from flowc.commands.run import run_options

DEMO_SECRETS = {
    "DEMO_TOKEN": "demo-token",
    "DEMO_PASSWORD": "demo-password",
    "DEMO_API_KEY": "demo-key",
}


@click.command("demo")
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--port", type=int, default=0, help="Port for the demo API (default: a free one).")
@run_options
def command(file: str | None, port: int, **options: Any) -> None:
    """Run FILE against a freshly started local demo API (or just serve the API)."""
    try:
        from flowc.demo import DemoServerError, start_demo_server
    except ModuleNotFoundError as error:
        click.echo(
            f"flowc: error: the demo needs the demo extra ({error.name} is missing): "
            "pip install 'flowc[demo]'",
            err=True,
        )
        sys.exit(2)
    try:
        with start_demo_server(port=port) as url:
            sys.exit(_with_server(url, file, options))
    except DemoServerError as error:
        click.echo(f"flowc: error: could not start the demo API: {error}", err=True)
        sys.exit(2)


def _with_server(url: str, file: str | None, options: dict[str, Any]) -> int:
    from flowc.commands.run import execute

    os.environ["FLOWC_DEMO_URL"] = url
    for name, value in DEMO_SECRETS.items():
        os.environ.setdefault(name, value)
    if file is None:
        return _serve_until_interrupted(url)
    if options.get("log_format") != "json" and not options.get("quiet"):
        click.echo(f"flowc demo: demo API at {url}", err=True)
    options["resolve"] = tuple(
        spec if "=" in spec else f"{spec}={url}" for spec in options["resolve"]
    )
    return execute(file, **options)


def _serve_until_interrupted(url: str) -> int:
    import time

    click.echo(f"flowc demo: serving the demo API at {url} (Ctrl-C to stop)", err=True)
    click.echo(f"  try: FLOWC_DEMO_URL={url} flowc run examples/hello.flow", err=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0
