"""Benchmark: one shared httpx.AsyncClient vs many clients vs flowc's HttpInvoker, under trio.

Usage: python bench/http_pool.py [--requests 1000] [--concurrency 50] [--rounds 3]

It starts the demo server in a subprocess (so the server does not share the client's
GIL), then times `--requests` small GETs (`/users/check?user_id=...`, a 16-byte JSON
answer) in five ways:

  shared AsyncClient, sequential     one client, one request at a time
  shared AsyncClient, N in flight    one client, N worker tasks
  N one-connection clients           N clients with max_connections=1, one per worker
  HttpInvoker, sequential            flowc's invoker, one request at a time
  HttpInvoker, N in flight           flowc's invoker, N worker tasks

Parallel variants use N workers that take the next request from a shared counter, so
the task structure is the same for all of them. Each round runs every variant once,
in turn (interleaved so that machine noise spreads evenly); the table shows the best
round's throughput, the median and 95th percentile latency of the calls in that round,
how many TCP connections the server saw, and the client's CPU time per call (lowest
round): on a busy machine wall-clock rates drop, CPU per call much less. Every client
is created (and its TLS context loaded) before its timer starts.

`--diagnose` times nothing: it wraps a few httpcore internals and prints, per request,
how many pool scans, ConnectionNotAvailable retries, poll() syscalls, is_idle() calls
and connection closes each variant caused (see docs/http-performance.md).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import httpcore
import httpx
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flowc.demo import start_demo_server
from flowc.runtime.http import HttpInvoker, HttpRequest

Call = Callable[[int], Awaitable[None]]
"""Sends request number i and checks its status."""


@dataclass
class Round:
    seconds: float
    cpu_seconds: float
    """Client process CPU time: unlike wall time, not inflated by a busy machine."""
    latencies: list[float]
    connections: int

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds


@dataclass
class Variant:
    name: str
    concurrency: int
    setup: Callable[[str], AbstractAsyncContextManager[list[Call]]]
    """Yields one call function per worker (the same one repeated when shared)."""


def check_url(base: str, i: int) -> str:
    return f"{base}/users/check?user_id=u{i}"


@asynccontextmanager
async def shared_client(base: str, workers: int) -> AsyncIterator[list[Call]]:
    async with httpx.AsyncClient() as client:

        async def call(i: int) -> None:
            response = await client.get(check_url(base, i))
            response.raise_for_status()

        yield [call] * workers


@asynccontextmanager
async def one_connection_clients(base: str, workers: int) -> AsyncIterator[list[Call]]:
    clients = [httpx.AsyncClient(limits=httpx.Limits(max_connections=1)) for _ in range(workers)]

    def caller(client: httpx.AsyncClient) -> Call:
        async def call(i: int) -> None:
            response = await client.get(check_url(base, i))
            response.raise_for_status()

        return call

    try:
        yield [caller(client) for client in clients]
    finally:
        for client in clients:
            await client.aclose()


@asynccontextmanager
async def invoker(base: str, workers: int) -> AsyncIterator[list[Call]]:
    async with HttpInvoker() as http:

        async def call(i: int) -> None:
            response = await http.send(HttpRequest("GET", check_url(base, i)))
            if response.status != 200:
                raise RuntimeError(f"unexpected status {response.status}")

        yield [call] * workers


def variants(concurrency: int) -> list[Variant]:
    n = concurrency
    return [
        Variant("shared AsyncClient, sequential", 1, lambda b: shared_client(b, 1)),
        Variant(f"shared AsyncClient, {n} in flight", n, lambda b: shared_client(b, n)),
        Variant(f"{n} one-connection clients", n, lambda b: one_connection_clients(b, n)),
        Variant("HttpInvoker, sequential", 1, lambda b: invoker(b, 1)),
        Variant(f"HttpInvoker, {n} in flight", n, lambda b: invoker(b, n)),
    ]


async def run_calls(calls: list[Call], requests: int) -> tuple[float, float, list[float]]:
    """Run `requests` calls over len(calls) workers: (wall seconds, CPU seconds, latencies)."""
    latencies: list[float] = []
    next_index = iter(range(requests))

    async def worker(call: Call) -> None:
        for i in next_index:
            started = time.perf_counter()
            await call(i)
            latencies.append(time.perf_counter() - started)

    started, cpu_started = time.perf_counter(), time.process_time()
    async with trio.open_nursery() as nursery:
        for call in calls:
            nursery.start_soon(worker, call)
    return time.perf_counter() - started, time.process_time() - cpu_started, latencies


async def server_connections(base: str) -> int:
    async with httpx.AsyncClient() as client:
        stats = (await client.get(f"{base}/_stats")).json()
        await client.post(f"{base}/_stats/reset")
    return int(stats["connections"])


async def measure(variant: Variant, base: str, requests: int) -> Round:
    async with variant.setup(base) as calls:
        await run_calls(calls, len(calls))  # warm up: open the connections
        await server_connections(base)
        seconds, cpu_seconds, latencies = await run_calls(calls, requests)
    return Round(seconds, cpu_seconds, latencies, await server_connections(base))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def print_table(results: dict[str, list[Round]]) -> None:
    header = (
        f"{'variant':34} {'calls/s':>9} {'median ms':>10} {'p95 ms':>8} {'conns':>6}"
        f" {'CPU us/call':>12}"
    )
    print(header)
    print("-" * len(header))
    for name, rounds in results.items():
        best = max(rounds, key=lambda r: r.rate)
        median_ms = statistics.median(best.latencies) * 1000
        p95_ms = percentile(best.latencies, 0.95) * 1000
        cpu_us = min(r.cpu_seconds / len(r.latencies) for r in rounds) * 1e6
        print(
            f"{name:34} {best.rate:9.0f} {median_ms:10.2f} {p95_ms:8.2f} {best.connections:6d}"
            f" {cpu_us:12.0f}"
        )


async def benchmark(base: str, requests: int, concurrency: int, rounds: int) -> None:
    chosen = variants(concurrency)
    results: dict[str, list[Round]] = {variant.name: [] for variant in chosen}
    for round_number in range(1, rounds + 1):
        for variant in chosen:
            results[variant.name].append(await measure(variant, base, requests))
        rates = ", ".join(f"{r[-1].rate:.0f}" for r in results.values())
        print(f"round {round_number}/{rounds}: {rates} calls/s", file=sys.stderr)
    print(f"\n{requests} GETs per variant, best of {rounds} rounds, demo server at {base}\n")
    print_table(results)


# --- --diagnose: count what httpcore's pool does per request ------------------------------


class PoolCounters:
    """Wraps a few httpcore methods to count, per request, the work behind the slowdown."""

    LEGEND: ClassVar[dict[str, str]] = {
        "scans": "pool scans: AsyncConnectionPool._assign_requests_to_connections calls",
        "retries": "ConnectionNotAvailable raised by AsyncHTTP11Connection.handle_async_request",
        "polls": "poll() syscalls: TrioStream.get_extra_info('is_readable') from has_expired",
        "is_idle": "AsyncHTTP11Connection.is_idle calls",
        "closed": "connections the pool closed",
        "steps": "trio task steps (each is one pass through the scheduler)",
    }
    NAMES = tuple(LEGEND)

    def __init__(self) -> None:
        self.counts = dict.fromkeys(self.NAMES, 0)

    def install(self) -> None:
        from httpcore._async import connection_pool, http11  # private: diagnosis only
        from httpcore._backends import trio as trio_backend

        counts = self.counts
        pool_cls = connection_pool.AsyncConnectionPool
        scan, close = pool_cls._assign_requests_to_connections, pool_cls._close_connections
        h11_cls = http11.AsyncHTTP11Connection
        handle, is_idle = h11_cls.handle_async_request, h11_cls.is_idle
        extra_info = trio_backend.TrioStream.get_extra_info

        def counted_scan(pool: Any) -> Any:
            counts[self.NAMES[0]] += 1
            return scan(pool)

        async def counted_handle(connection: Any, request: Any) -> Any:
            try:
                return await handle(connection, request)
            except httpcore.ConnectionNotAvailable:
                counts[self.NAMES[1]] += 1
                raise

        def counted_extra_info(stream: Any, info: str) -> Any:
            counts[self.NAMES[2]] += info == "is_readable"
            return extra_info(stream, info)

        def counted_is_idle(connection: Any) -> Any:
            counts[self.NAMES[3]] += 1
            return is_idle(connection)

        async def counted_close(pool: Any, closing: list[Any]) -> None:
            counts[self.NAMES[4]] += len(closing)
            await close(pool, closing)

        trio.lowlevel.add_instrument(TaskStepCounter(counts, self.NAMES[5]))
        replace_method(pool_cls, "_assign_requests_to_connections", counted_scan)
        replace_method(pool_cls, "_close_connections", counted_close)
        replace_method(h11_cls, "handle_async_request", counted_handle)
        replace_method(h11_cls, "is_idle", counted_is_idle)
        replace_method(trio_backend.TrioStream, "get_extra_info", counted_extra_info)


class TaskStepCounter(trio.abc.Instrument):
    def __init__(self, counts: dict[str, int], name: str) -> None:
        self.counts, self.name = counts, name

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.counts[self.name] += 1


def replace_method(cls: type, name: str, function: Callable[..., Any]) -> None:
    setattr(cls, name, function)


async def diagnose(base: str, requests: int, concurrency: int) -> None:
    counters = PoolCounters()
    counters.install()  # inside trio.run: it also adds a trio instrument
    per_request: dict[str, dict[str, float]] = {}
    for variant in variants(concurrency):
        async with variant.setup(base) as calls:
            await run_calls(calls, len(calls))
            counters.counts.update(dict.fromkeys(counters.NAMES, 0))
            await run_calls(calls, requests)
        per_request[variant.name] = {name: n / requests for name, n in counters.counts.items()}
    print(f"\nPer request, {requests} GETs per variant (httpcore internals counted):\n")
    print(f"{'variant':34}" + "".join(f"{name:>9}" for name in PoolCounters.NAMES))
    for name, counts in per_request.items():
        print(f"{name:34}" + "".join(f"{counts[key]:9.2f}" for key in PoolCounters.NAMES))
    print()
    for name, meaning in PoolCounters.LEGEND.items():
        print(f"  {name:8} {meaning}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--diagnose",
        action="store_true",
        help="instead of timing, count httpcore pool scans, retries and syscalls per request",
    )
    args = parser.parse_args()
    with start_demo_server() as base:
        if args.diagnose:
            trio.run(diagnose, base, args.requests, args.concurrency)
        else:
            trio.run(benchmark, base, args.requests, args.concurrency, args.rounds)


if __name__ == "__main__":
    main()
