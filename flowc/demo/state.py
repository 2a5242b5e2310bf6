"""In-memory state of the demo API: resources, idempotency records and statistics.

Everything the demo server remembers lives in one `DemoState` object, owned by the
server's single asyncio event loop. Handlers mutate it only between `await`s, so no
lock is needed. Nothing here knows about HTTP: the endpoint modules (`business.py`,
`helpers.py`, `server.py`) translate requests into calls on these classes and their
results into responses.

Determinism: identifiers are sequential counters (users `1, 2, ...`, orders
`ord_1`, payments `pay_1`, shipments `shp_1`), the item catalogue is a fixed list,
and "flaky" endpoints fail a counted number of times. `reset()` returns everything to
the state the server started in, so a test suite can isolate tests without restarting
the process.

`RequestStats` is the instrumentation that tests read through `GET /_stats`: requests
in flight now and at the peak since the last reset (proof that a concurrency limit
held, or that requests really overlapped), totals per path, and how many distinct
client connections were seen (proof that a client reused its connections).
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

JsonObject = dict[str, Any]

ITEM_COUNT = 103
"""Size of the fixed catalogue behind `GET /items`: not a multiple of any usual page size."""


def make_items() -> list[JsonObject]:
    """The fixed catalogue paged through by `GET /items`."""
    return [{"id": n, "name": f"item-{n:03d}", "price_cents": 100 + n} for n in range(ITEM_COUNT)]


def encode_cursor(offset: int) -> str:
    """An opaque cursor for the page that starts at `offset`."""
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    """The offset inside `cursor`; ValueError when it is not one we issued."""
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        text = base64.urlsafe_b64decode(padded.encode()).decode()
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError("malformed cursor") from exc
    prefix, _, number = text.partition(":")
    if prefix != "offset" or not number.isdigit():
        raise ValueError("malformed cursor")
    return int(number)


@dataclass
class RequestStats:
    """Counters read by `GET /_stats`; the server's own `/_...` paths are not counted."""

    in_flight: int = 0
    peak_in_flight: int = 0
    total: int = 0
    aborted: int = 0
    """Delayed requests whose client disconnected before the answer."""
    by_path: Counter[str] = field(default_factory=Counter)
    connections: set[tuple[str, int]] = field(default_factory=set)

    def request_started(self, path: str, client: tuple[str, int] | None) -> None:
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        self.total += 1
        self.by_path[path] += 1
        if client is not None:
            self.connections.add(client)

    def request_finished(self) -> None:
        self.in_flight -= 1

    def reset(self) -> None:
        """Zero everything except requests still in flight (they will finish later)."""
        self.peak_in_flight = self.in_flight
        self.total = 0
        self.aborted = 0
        self.by_path.clear()
        self.connections.clear()


@dataclass(frozen=True)
class StoredResponse:
    """A response remembered for an idempotency key, replayed byte for byte."""

    status: int
    body: bytes


@dataclass
class IdempotencyLedger:
    """Responses by (path, key), and how many times each key was presented."""

    responses: dict[tuple[str, str], StoredResponse] = field(default_factory=dict)
    seen: Counter[str] = field(default_factory=Counter)

    def lookup(self, path: str, key: str) -> StoredResponse | None:
        """Count one presentation of `key` and return the response remembered for it."""
        self.seen[key] += 1
        return self.responses.get((path, key))

    def remember(self, path: str, key: str, response: StoredResponse) -> None:
        self.responses[(path, key)] = response


@dataclass
class Resources:
    """The users, orders, payments and shipments created through the API."""

    users: dict[int, JsonObject] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)
    orders: dict[str, JsonObject] = field(default_factory=dict)
    payments: dict[str, JsonObject] = field(default_factory=dict)
    shipments: dict[str, JsonObject] = field(default_factory=dict)
    counters: Counter[str] = field(default_factory=Counter)

    def next_number(self, kind: str) -> int:
        self.counters[kind] += 1
        return self.counters[kind]

    def snapshot(self) -> JsonObject:
        return {
            "users": list(self.users.values()),
            "orders": list(self.orders.values()),
            "payments": list(self.payments.values()),
            "shipments": list(self.shipments.values()),
        }


@dataclass
class DemoState:
    """Everything the server remembers; `reset()` restores the initial state."""

    stats: RequestStats = field(default_factory=RequestStats)
    idempotency: IdempotencyLedger = field(default_factory=IdempotencyLedger)
    resources: Resources = field(default_factory=Resources)
    flaky_attempts: Counter[str] = field(default_factory=Counter)
    injected_failures: Counter[str] = field(default_factory=Counter)
    items: list[JsonObject] = field(default_factory=make_items)

    def reset(self) -> None:
        self.stats.reset()
        self.idempotency = IdempotencyLedger()
        self.resources = Resources()
        self.flaky_attempts.clear()
        self.injected_failures.clear()

    def stats_snapshot(self) -> JsonObject:
        stats = self.stats
        return {
            "in_flight": stats.in_flight,
            "peak_in_flight": stats.peak_in_flight,
            "total": stats.total,
            "aborted": stats.aborted,
            "paths": dict(stats.by_path),
            "connections": len(stats.connections),
            "idempotency_keys": dict(self.idempotency.seen),
            "flaky_attempts": dict(self.flaky_attempts),
        }
