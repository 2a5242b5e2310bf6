"""Waking idle workers with PostgreSQL's LISTEN/NOTIFY.

Every insert or requeue of a queued run sends ``NOTIFY flowc_queue``
(``store/postgres.py``).  ``listen`` holds one extra connection that
``LISTEN``s on that channel and calls ``wake`` for each notification, so a
waiting worker claims a new run within a round trip instead of a poll
interval.  psycopg's waiting is blocking, so it runs in a worker thread,
waking up every ``TICK`` seconds to notice cancellation.  A lost connection is
re-opened with backoff (0.1 s doubling to 5 s), and ``wake`` is called after
each reconnect, since notifications sent meanwhile were lost.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Final

import trio

from flowc.runtime.store.postgres import CHANNEL

TICK: Final = 0.5


async def listen(dsn: str, wake: Callable[[], None]) -> None:
    import psycopg

    delay = 0.1
    while True:
        connection: Any = None
        try:
            connection = await trio.to_thread.run_sync(_connect, dsn)
            delay = 0.1
            wake()
            while True:
                if await trio.to_thread.run_sync(_wait, connection, abandon_on_cancel=True):
                    wake()
        except psycopg.Error:
            await trio.sleep(delay)
            delay = min(delay * 2, 5.0)
        finally:
            if connection is not None:
                with contextlib.suppress(Exception):
                    connection.close()


def _connect(dsn: str) -> Any:
    import psycopg

    connection = psycopg.connect(dsn, autocommit=True, connect_timeout=5)
    connection.execute(f"LISTEN {CHANNEL}")
    return connection


def _wait(connection: Any) -> bool:
    """Whether a notification arrived within ``TICK`` seconds."""
    for _ in connection.notifies(timeout=TICK, stop_after=1):
        return True
    return False
