"""The aiohttp script of issue 15's comparison, run by bench/runtime.py in the peers venv.

    bench/.venv-peers/bin/python bench/peers/aiohttp_side.py BASE ROUNDS

Prints two lines of medians in seconds: ``sequential S`` (200 sequential GETs,
each URL naming the previous status, as flowc's chain flow does) and ``fanout S``
(1,000 GETs at most 50 at a time, one shared session), the same workloads as
the trio + httpx hand-written sides.  aiohttp runs on asyncio (with its C
extensions), so it lives in its own process and venv, not in flowc's.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections.abc import Coroutine
from typing import Any

import aiohttp


async def sequential(base: str, count: int = 200) -> None:
    async with aiohttp.ClientSession() as session:
        status = 0
        for i in range(count):
            url = f"{base}/echo" if i == 0 else f"{base}/echo?after={status}"
            async with session.get(url) as response:
                await response.json()
                status = response.status


async def fanout(base: str, count: int = 1000, limit: int = 50) -> None:
    connector = aiohttp.TCPConnector(limit=limit)
    semaphore = asyncio.Semaphore(limit)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(i: int) -> int:
            async with semaphore, session.get(f"{base}/echo?i={i}") as response:
                await response.json()
                return response.status

        await asyncio.gather(*(one(i) for i in range(count)))


def timed(work: Coroutine[Any, Any, None]) -> float:
    start = time.perf_counter()
    asyncio.run(work)
    return time.perf_counter() - start


def main() -> None:
    base, rounds = sys.argv[1], int(sys.argv[2])
    timed(sequential(base))
    print("sequential", statistics.median(timed(sequential(base)) for _ in range(rounds)))
    timed(fanout(base))
    print("fanout", statistics.median(timed(fanout(base)) for _ in range(rounds)))


if __name__ == "__main__":
    main()
