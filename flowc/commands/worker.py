"""``flowc worker FILE|DIR... --store postgresql://...``: execute queued runs.

Any number of workers, on any machines, share one PostgreSQL database
(``server/worker.py`` has the claim loop, leases, fencing and draining;
``server/wakeup.py`` the LISTEN/NOTIFY wake-ups).  A worker executes only the
flows of the files it was given.  SIGTERM (or Ctrl-C) drains: no new claims,
``--grace`` seconds for the runs in flight, the rest handed back.  Service
rate and concurrency limits hold per worker process.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from flowc.commands.process import EXIT_OK, EXIT_USAGE


@click.command("worker")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--store", "store_url", metavar="URL", help="postgresql://... (default: FLOWC_STORE)."
)
@click.option("--concurrency", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--lease", type=click.FloatRange(1, 3600), default=15.0, show_default=True,
              help="Seconds a claim lasts unless renewed.")  # fmt: skip
@click.option("--grace", type=click.FloatRange(0, 3600), default=30.0, show_default=True)
@click.option("--metrics-port", type=click.IntRange(0, 65535), default=None,
              help="Serve Prometheus metrics at http://HOST:PORT/metrics.")  # fmt: skip
@click.option("--metrics-host", default="127.0.0.1", show_default=True)
def command(paths: tuple[str, ...], **options: Any) -> None:
    """Execute queued runs of the flows of PATHS, from a PostgreSQL store."""
    sys.exit(work(paths, **options))


def work(
    paths: tuple[str, ...],
    *,
    store_url: str | None,
    concurrency: int,
    lease: float,
    grace: float,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
) -> int:
    from flowc.commands.running import usage_error
    from flowc.commands.serve import load_or_report, open_worker_store
    from flowc.runtime.store import StoreError, default_store_url
    from flowc.server import messages

    url = store_url or default_store_url()
    if not url.startswith(("postgresql:", "postgres:")):
        return usage_error(messages.WORKER_NEEDS_POSTGRES)
    catalog = load_or_report(paths)
    if catalog is None:
        return EXIT_USAGE
    try:
        store = open_worker_store(url, fenced=True)
    except StoreError as error:
        return usage_error(str(error))
    from flowc.observe.setup import MetricsPortError, observed_engine

    observed = observed_engine(metrics=metrics_port is not None)
    try:
        if metrics_port is not None:
            port = observed.serve_metrics(metrics_host, metrics_port)
            print(messages.METRICS_LISTENING.format(host=metrics_host, port=port),
                  file=sys.stderr, flush=True)  # fmt: skip
    except MetricsPortError as error:
        return usage_error(str(error))
    import trio

    try:
        trio.run(_main, catalog, store, url, concurrency, lease, grace, observed)
    finally:
        observed.close()
    return EXIT_OK


async def _main(
    catalog: Any,
    store: Any,
    dsn: str,
    concurrency: int,
    lease: float,
    grace: float,
    observed: Any,
) -> None:
    import os
    import signal

    import trio

    from flowc.runtime.engine import Engine
    from flowc.server import messages
    from flowc.server.callbacks import PUBLIC_URL_VARIABLE, CallbackMinter, callback_key
    from flowc.server.wakeup import listen
    from flowc.server.worker import Worker

    async with Engine(
        store=store, hooks=observed.hooks, header_sources=observed.header_sources
    ) as engine:
        observed.watch(engine)
        public = os.environ.get(PUBLIC_URL_VARIABLE)
        if public:  # callback URLs point at the servers in front of this worker
            engine.callbacks = CallbackMinter(public, callback_key())
        worker = Worker(engine, catalog, concurrency=concurrency, lease=lease, grace=grace)
        async with trio.open_nursery() as nursery:
            await nursery.start(worker.run)
            nursery.start_soon(listen, dsn, worker.wake)
            nursery.start_soon(observed.refresh_loop)
            print(
                messages.WORKER_READY.format(
                    owner=engine.owner, count=len(catalog.names), concurrency=concurrency
                ),
                file=sys.stderr,
                flush=True,
            )
            with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for _ in signals:
                    break
            worker.stop()
            await worker.stopped.wait()
            nursery.cancel_scope.cancel()
