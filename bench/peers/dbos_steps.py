"""DBOS, the peer: N sequential steps each doing one GET, durable in DBOS's system database.

    python bench/peers/dbos_steps.py URL SYSTEM_DB_URL COUNT ROUNDS

Prints one JSON object: the median wall seconds of the durable workflow and of the
same loop without DBOS (the plain floor), over ROUNDS rounds.  Run by
bench/durable.py in the peers' venv (bench/requirements-peers.txt).
"""

from __future__ import annotations

import json
import statistics
import sys
import time

import httpx
from dbos import DBOS, DBOSConfig

URL, SYSTEM_DB, COUNT, ROUNDS = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
client = httpx.Client()


@DBOS.step()
def fetch(index: int) -> int:
    return client.get(f"{URL}/echo?i={index}").status_code


@DBOS.workflow()
def chain(count: int) -> int:
    total = 0
    for index in range(count):
        total += fetch(index)
    return total


def plain(count: int) -> int:
    return sum(client.get(f"{URL}/echo?i={index}").status_code for index in range(count))


def main() -> None:
    config: DBOSConfig = {"name": "flowc-bench", "system_database_url": SYSTEM_DB}
    DBOS(config=config)
    DBOS.launch()
    chain(10)
    durable, floor = [], []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        chain(COUNT)
        durable.append(time.perf_counter() - started)
        started = time.perf_counter()
        plain(COUNT)
        floor.append(time.perf_counter() - started)
    print(json.dumps({"durable": statistics.median(durable), "plain": statistics.median(floor)}))
    DBOS.destroy()


main()
