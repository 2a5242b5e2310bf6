"""``flowc signal RUN_ID NAME [--data JSON]``: deliver a signal to a run.

The signal is kept in the run store (``Store.deliver_signal``), in order of
arrival, whether or not the run waits for it yet; the payload is any JSON
value (``--data @file.json`` reads a file), at most 1 MiB.  A run that has
ended takes no signal (exit 2).
"""

from __future__ import annotations

import json
import sys
import time

import click

from flowc.commands.process import EXIT_OK

MAX_DATA = 1 << 20


@click.command("signal")
@click.argument("run_id")
@click.argument("name")
@click.option("--data", metavar="JSON|@FILE", default="null", help="The payload (default null).")
@click.option("--store", "store_url", metavar="URL", help="The run store (default: FLOWC_STORE).")
def command(run_id: str, name: str, data: str, store_url: str | None) -> None:
    """Deliver the signal NAME, with a JSON payload, to run RUN_ID."""
    from flowc.commands.running import usage_error
    from flowc.runtime.store import StoreError, default_store_url, open_store
    from flowc.server import messages
    from flowc.server.app import _SIGNAL_NAME

    if not _SIGNAL_NAME.fullmatch(name):
        sys.exit(usage_error(messages.BAD_SIGNAL_NAME))
    text = data
    if data.startswith("@"):
        try:
            with open(data[1:], "rb") as stream:
                text = stream.read(MAX_DATA + 1).decode("utf-8", "replace")
        except OSError as error:
            sys.exit(usage_error(f"cannot read {data[1:]}: {error.strerror}"))
    if len(text) > MAX_DATA:
        sys.exit(usage_error(f"--data is larger than {MAX_DATA} bytes"))
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError) as error:
        sys.exit(usage_error(f"--data is not JSON: {str(error).splitlines()[0]}"))
    try:
        store = open_store(store_url or default_store_url())
        record = store.get_run(run_id)
        if record is None:
            sys.exit(usage_error(messages.NO_RUN.format(run_id=run_id)))
        if record.ended:
            sys.exit(usage_error(messages.SIGNAL_ENDED.format(run_id=run_id, status=record.status)))
        signal = store.deliver_signal(
            run_id, name, json.dumps(payload, separators=(",", ":")), time.time()
        )
    except StoreError as error:
        sys.exit(usage_error(str(error)))
    assert signal is not None
    click.echo(f"flowc: signal {name} #{signal.sequence} kept for run {run_id}", err=True)
    sys.exit(EXIT_OK)
