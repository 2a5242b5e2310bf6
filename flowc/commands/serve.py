"""``flowc serve FILE|DIR...``: the flows of the files, over HTTP (``flowc.server``).

The server offers every flow of the given files (``server/catalog.py``) at
``--host``/``--port`` (default ``127.0.0.1:8080``), on hypercorn's trio
worker.  With a SQLite (or ``memory:``) store it executes the runs itself,
with an in-process worker of ``--concurrency`` slots; with PostgreSQL it only
accepts and reports them, for ``flowc worker`` processes to execute, unless
``--worker`` is given too.  Tokens: ``--token-file`` or ``FLOWC_SERVE_TOKENS``;
without any, only a loopback address is served.  SIGTERM or Ctrl-C stops
accepting, lets in-flight runs finish within ``--grace`` seconds and hands the
rest back to the queue (resumed when a worker or the next ``serve`` starts).
"""

from __future__ import annotations

import sys
from typing import Any

import click

from flowc.commands.process import EXIT_OK, EXIT_USAGE


@click.command("serve")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option(
    "--store",
    "store_url",
    metavar="URL",
    help="The run store (default: FLOWC_STORE, else the SQLite file).",
)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--token-file", type=click.Path(dir_okay=False), help="Bearer tokens, one a line.")
@click.option("--worker", "with_worker", is_flag=True, help="Also execute runs (PostgreSQL).")
@click.option("--concurrency", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--grace", type=click.FloatRange(0, 3600), default=30.0, show_default=True)
def command(paths: tuple[str, ...], **options: Any) -> None:
    """Serve the flows of PATHS (files or directories) over HTTP."""
    sys.exit(serve(paths, **options))


def serve(
    paths: tuple[str, ...],
    *,
    store_url: str | None,
    host: str,
    port: int,
    token_file: str | None,
    with_worker: bool,
    concurrency: int,
    grace: float,
) -> int:
    from flowc.commands.running import usage_error
    from flowc.runtime.store import StoreError, default_store_url
    from flowc.server import messages
    from flowc.server.auth import AuthError, load_tokens, refuses_host

    try:
        import hypercorn  # noqa: F401
        import starlette  # noqa: F401
    except ModuleNotFoundError:
        return usage_error(messages.NEEDS_EXTRA)
    try:
        tokens = load_tokens(token_file)
    except AuthError as error:
        return usage_error(str(error))
    if refuses_host(host, tokens):
        return usage_error(messages.REFUSE_OPEN_HOST.format(host=host))
    catalog = load_or_report(paths)
    if catalog is None:
        return EXIT_USAGE
    url = store_url or default_store_url()
    postgres = url.startswith(("postgresql:", "postgres:"))
    local = with_worker or not postgres
    try:
        store = open_worker_store(url, fenced=local and postgres)
    except StoreError as error:
        return usage_error(str(error))
    import trio

    trio.run(_main, catalog, store, url if postgres and local else None, tokens, host, port,
             local, concurrency, grace)  # fmt: skip
    return EXIT_OK


def load_or_report(paths: tuple[str, ...]) -> Any:
    """The catalog of ``paths``, or None after reporting why there is none."""
    from flowc.commands.run import print_diagnostics
    from flowc.commands.running import usage_error
    from flowc.server.catalog import CatalogError, load_catalog

    try:
        return load_catalog(paths)
    except CatalogError as error:
        if error.compile_error is not None:
            print_diagnostics(error.compile_error)
        else:
            usage_error(str(error))
        return None


def open_worker_store(url: str, *, fenced: bool) -> Any:
    from flowc.runtime.store import open_store

    if fenced:
        from flowc.runtime.engine import process_owner
        from flowc.runtime.store.postgres import PostgresStore

        return PostgresStore(url, fence=process_owner())
    return open_store(url)


async def _main(
    catalog: Any,
    store: Any,
    listen_dsn: str | None,
    tokens: Any,
    host: str,
    port: int,
    local: bool,
    concurrency: int,
    grace: float,
) -> None:
    import functools
    import os
    import signal

    import trio
    from hypercorn.config import Config
    from hypercorn.trio import serve as hypercorn_serve

    from flowc.observe.setup import observed_engine
    from flowc.runtime.engine import Engine
    from flowc.runtime.store import AsyncStore
    from flowc.runtime.store.sqlite import SQLiteStore
    from flowc.server import messages
    from flowc.server.app import Server, build_app
    from flowc.server.callbacks import PUBLIC_URL_VARIABLE, CallbackMinter, callback_key
    from flowc.server.events import EventBroker
    from flowc.server.wakeup import listen
    from flowc.server.worker import Worker

    broker = EventBroker()
    local_file = isinstance(store, SQLiteStore)
    observed = observed_engine(metrics=True)
    async with Engine(
        store=AsyncStore(store, inline=local_file),
        hooks=[broker, *observed.hooks],
        header_sources=observed.header_sources,
    ) as engine:
        assert engine.store is not None
        observed.watch(engine)
        worker = Worker(engine, catalog, concurrency=concurrency, grace=grace) if local else None
        key = callback_key()
        base = os.environ.get(PUBLIC_URL_VARIABLE) or f"http://{host}:{port}"
        engine.callbacks = CallbackMinter(base, key)
        server = Server(
            catalog, engine.store, tokens, broker, worker, observed.metrics, callback_key=key
        )
        config = Config()
        config.bind = [f"{host}:{port}"]
        config.accesslog = None
        config.graceful_timeout = 5.0
        stopping = trio.Event()

        async def shutdown_trigger() -> None:
            await stopping.wait()

        async with trio.open_nursery() as nursery:
            if worker is not None:
                await nursery.start(worker.run)
                if listen_dsn is not None:
                    nursery.start_soon(listen, listen_dsn, worker.wake)
            with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                app = build_app(server)
                nursery.start_soon(
                    functools.partial(
                        hypercorn_serve,
                        app,  # type: ignore[arg-type]  # an ASGI 3 app; hypercorn's types are narrower
                        config,
                        shutdown_trigger=shutdown_trigger,
                    )
                )
                print(
                    messages.LISTENING.format(
                        count=len(catalog.names), host=host, port=port, store=store.url
                    ),
                    file=sys.stderr,
                    flush=True,
                )
                async for _ in signals:
                    break
            stopping.set()
            if worker is not None:
                worker.stop()
                await worker.stopped.wait()
            nursery.cancel_scope.cancel()
    observed.close()
