"""Runtime performance: flowc against hand-written trio + httpx, side by side.

    python bench/runtime.py            # prints a table (medians of several rounds)

Every row runs against the same local demo API (started in its own process)
in the same run, so the two sides share the machine's state.  The targets
(issue #3):

* 200 sequential GET steps: flowc wall <= 1.15 x a hand-written loop;
* a parallel loop over 1,000 items, limit 50: <= 1.0 x a hand-written script
  sharing one ``httpx.AsyncClient``;
* 20 independent GETs against 50 ms latency: auto-parallel wall <= 1/8 of
  ``--sequential``;
* a parallel loop over 10,000 items, limit 100: peak RSS <= 150 MB;
* ``flowc run`` start-up to the first request on a small flow: <= 300 ms.

Issue 15 adds an aiohttp script beside them (the same two workloads, asyncio with
aiohttp's C extensions): the parallel loop within 1.5 x of it.  aiohttp is not a
flowc dependency; it runs from the peers venv when that exists
(``python3 -m venv bench/.venv-peers && bench/.venv-peers/bin/pip install -r
bench/requirements-peers.txt``), else its rows say so.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import trio

import flowc
from flowc.demo import start_demo_server

ROUNDS = 5
BENCH = Path(__file__).resolve().parent
PEERS_PYTHON = BENCH / ".venv-peers" / "bin" / "python"
RSS_ITEMS = tuple(
    int(n) for n in os.environ.get("BENCH_RSS_ITEMS", "10000,30000,100000").split(",")
)
"""Item counts of the RSS-against-items rows (BENCH_RSS_ITEMS=10000,30000 for less)."""


def sequential_flow(count: int) -> str:
    steps = ['    step s0 = GET BASE + "/echo"']
    for i in range(1, count):
        steps.append(f'    step s{i} = GET BASE + "/echo?after=${{s{i - 1}.status}}"')
    body = "\n".join(steps)
    return f'const BASE = env("FLOWC_DEMO_URL")\n\nflow chain() -> int {{\n{body}\n    return s{count - 1}.status\n}}\n'


FANOUT_FLOW = """const BASE = env("FLOWC_DEMO_URL")

flow fanout(n: int, limit: int) -> int {
    let statuses = for i in range(n) parallel limit {
        step get = GET BASE + "/echo?i=${i}"
        yield get.status
    }
    return size(statuses)
}
"""


def independent_flow(count: int, delay_ms: int) -> str:
    steps = "\n".join(f'    step g{i} = GET BASE + "/delay/{delay_ms}"' for i in range(count))
    total = " + ".join(f"g{i}.status" for i in range(count))
    return f'const BASE = env("FLOWC_DEMO_URL")\n\nflow independent() -> int {{\n{steps}\n    return {total}\n}}\n'


def compile_text(text: str) -> flowc.Program:
    directory = tempfile.mkdtemp(prefix="flowc-bench-")
    path = Path(directory) / "bench.flow"
    path.write_text(text, encoding="utf-8")
    return flowc.compile_file(str(path))


def timed(run: Callable[[], Awaitable[object]]) -> float:
    async def main() -> float:
        start = time.perf_counter()
        await run()
        return time.perf_counter() - start

    return trio.run(main)


# --------------------------------------------------------------------------- hand-written sides


async def handwritten_sequential(base: str, count: int) -> None:
    async with httpx.AsyncClient() as client:
        status = 0
        for i in range(count):
            url = f"{base}/echo" if i == 0 else f"{base}/echo?after={status}"
            response = await client.get(url)
            status = response.status_code
            response.json()


async def handwritten_fanout(base: str, count: int, limit: int) -> None:
    results: list[int] = [0] * count
    limiter = trio.CapacityLimiter(limit)
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=limit)) as client:

        async def one(i: int) -> None:
            async with limiter:
                response = await client.get(f"{base}/echo?i={i}")
                response.json()
                results[i] = response.status_code

        async with trio.open_nursery() as nursery:
            for i in range(count):
                nursery.start_soon(one, i)


async def handwritten_h11_sequential(base: str, count: int) -> None:
    """The floor: the same loop with h11 driven by hand over one trio socket."""
    import json

    import h11

    host, port = base.removeprefix("http://").split(":")
    stream = await trio.open_tcp_stream(host, int(port))
    connection = h11.Connection(h11.CLIENT)
    status = 0
    async with stream:
        for i in range(count):
            target = "/echo" if i == 0 else f"/echo?after={status}"
            request = h11.Request(method="GET", target=target, headers=[("Host", host)])
            await stream.send_all(connection.send(request) + connection.send(h11.EndOfMessage()))
            body = b""
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA:
                    connection.receive_data(await stream.receive_some(65536))
                elif isinstance(event, h11.Response):
                    status = event.status_code
                elif isinstance(event, h11.Data):
                    body += event.data
                elif isinstance(event, h11.EndOfMessage):
                    break
            json.loads(body)
            connection.start_next_cycle()


# --------------------------------------------------------------------------- measurements


def median_of(function: Callable[[], float], rounds: int = ROUNDS) -> float:
    return statistics.median(function() for _ in range(rounds))


def measure_sequential(base: str) -> tuple[float, float]:
    program = compile_text(sequential_flow(200))
    timed(lambda: program.run("chain"))  # warm up
    flow_side = median_of(lambda: timed(lambda: program.run("chain")))
    hand_side = median_of(lambda: timed(lambda: handwritten_sequential(base, 200)))
    return flow_side, hand_side


def measure_per_step(base: str, count: int = 200) -> tuple[float, float, float]:
    """Milliseconds per sequential step: flowc, trio + httpx, h11 by hand (interleaved)."""
    program = compile_text(sequential_flow(count))
    timed(lambda: program.run("chain"))
    sides: list[list[float]] = [[], [], []]
    for _ in range(ROUNDS):
        sides[0].append(timed(lambda: program.run("chain")))
        sides[1].append(timed(lambda: handwritten_sequential(base, count)))
        sides[2].append(timed(lambda: handwritten_h11_sequential(base, count)))
    flow, hand, floor = (statistics.median(side) * 1000 / count for side in sides)
    return flow, hand, floor


def measure_fanout(base: str) -> tuple[float, float]:
    program = compile_text(FANOUT_FLOW)
    inputs = {"n": 1000, "limit": 50}
    timed(lambda: program.run("fanout", inputs))
    flow_side = median_of(lambda: timed(lambda: program.run("fanout", inputs)))
    hand_side = median_of(lambda: timed(lambda: handwritten_fanout(base, 1000, 50)))
    return flow_side, hand_side


def run_peer(script: str, *args: str) -> str | None:
    """The stdout of ``bench/peers/SCRIPT ARGS`` run by the peers venv's Python.

    None when that venv does not exist, or when the script fails (its last line
    of stderr is printed): the rows of another engine are then left out."""
    if not PEERS_PYTHON.exists():
        return None
    output = subprocess.run(
        [str(PEERS_PYTHON), str(BENCH / "peers" / script), *args],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if output.returncode != 0:
        last = output.stderr.strip().splitlines()[-1:] or ["no message"]
        print(f"({script} {' '.join(args)} failed: {last[0]})", file=sys.stderr)
        return None
    return output.stdout


def measure_aiohttp(base: str) -> tuple[float, float] | None:
    """(sequential, fan-out) medians of the aiohttp script, or None without the peers venv."""
    stdout = run_peer("aiohttp_side.py", base, str(ROUNDS))
    if stdout is None:
        return None
    found = dict(line.split() for line in stdout.splitlines())
    return float(found["sequential"]), float(found["fanout"])


def measure_auto_parallel() -> tuple[float, float]:
    program = compile_text(independent_flow(20, 50))
    parallel = median_of(lambda: timed(lambda: program.run("independent")))
    sequential = median_of(lambda: timed(lambda: program.run("independent", sequential=True)), 3)
    return parallel, sequential


def measure_peak_rss(base: str, items: int = 10000) -> float:
    """Peak RSS (MiB) of a child running the fan-out flow over `items` items, limit 100."""
    directory = tempfile.mkdtemp(prefix="flowc-bench-")
    path = Path(directory) / "fanout.flow"
    path.write_text(FANOUT_FLOW, encoding="utf-8")
    script = (
        "import resource, flowc\n"
        f"flowc.run_file({str(path)!r}, 'fanout', {{'n': {items}, 'limit': 100}})\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    env = dict(os.environ, FLOWC_DEMO_URL=base)
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    return int(output.stdout.strip().splitlines()[-1]) / 1024  # KiB -> MiB


class FirstRequestClock:
    """A tiny HTTP server that notes when the first request arrives."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        self.first: float | None = None
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            connection, _ = self.listener.accept()
            with connection:
                connection.recv(65536)
                if self.first is None:
                    self.first = time.perf_counter()
                body = b'{"ok": true}'
                connection.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )


SMALL_FLOW = (
    'flow small() -> bool {\n    step s = GET env("TARGET") + "/x" -> {ok: bool}\n'
    "    return s.body.ok\n}\n"
)


def measure_startup(
    runs: int = 9,
    *,
    new_file: bool = False,
    exe: str | None = None,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> float:
    """Median ms from starting ``flowc run`` to its first request arriving.

    The file is run once first, so its parsed tree is in the parse store; with
    ``new_file`` every run gets a never-seen text (parsed, Lark imported).  ``exe``
    is another ``flowc`` (an older install, for before/after), ``args`` more options."""
    clock = FirstRequestClock()
    directory = tempfile.mkdtemp(prefix="flowc-bench-")
    exe = exe or str(Path(sys.executable).with_name("flowc"))
    env = dict(env or os.environ, TARGET=f"http://127.0.0.1:{clock.port}")
    path = Path(directory) / "small.flow"
    path.write_text(SMALL_FLOW, encoding="utf-8")
    subprocess.run([exe, "run", str(path), *args], env=env, check=True, capture_output=True)
    timings = []
    for run in range(runs):
        if new_file:
            path = Path(directory) / f"new_{run}.flow"
            path.write_text(f"# {run} {time.time_ns()}\n{SMALL_FLOW}", encoding="utf-8")
        clock.first = None
        start = time.perf_counter()
        subprocess.run([exe, "run", str(path), *args], env=env, check=True, capture_output=True)
        assert clock.first is not None
        timings.append((clock.first - start) * 1000)
    return statistics.median(timings)


SCRIPT = """
import os, trio, httpx
async def main():
    async with httpx.AsyncClient() as client:
        response = await client.get(os.environ["TARGET"] + "/x")
        assert response.json()["ok"]
trio.run(main)
"""


def measure_script_startup(runs: int = 9) -> float:
    """Median ms from starting a trio + httpx script to its first request arriving."""
    clock = FirstRequestClock()
    env = dict(os.environ, TARGET=f"http://127.0.0.1:{clock.port}")
    timings = []
    for _ in range(runs):
        clock.first = None
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", SCRIPT], env=env, check=True, capture_output=True)
        assert clock.first is not None
        timings.append((clock.first - start) * 1000)
    return statistics.median(timings)


def _aiohttp_rows(
    aio: tuple[float, float] | None, seq_flow: float, fan_flow: float
) -> list[tuple[str, str, str, str]]:
    if aio is None:
        return [("aiohttp script", "not measured: no bench/.venv-peers with aiohttp", "", "")]
    seq, fan = aio
    return [
        ("  200 sequential GETs, aiohttp script", f"{seq * 1000:.0f} ms",
         f"flowc {seq_flow / seq:.2f}x", ""),
        ("  parallel loop 1,000/50, aiohttp script", f"{fan * 1000:.0f} ms",
         f"flowc {fan_flow / fan:.2f}x", "<= 1.5x"),
    ]  # fmt: skip


def main() -> None:
    with start_demo_server() as base:
        os.environ["FLOWC_DEMO_URL"] = base
        seq_flow, seq_hand = measure_sequential(base)
        fan_flow, fan_hand = measure_fanout(base)
        aio = measure_aiohttp(base)
        auto, sequential = measure_auto_parallel()
        rss = measure_peak_rss(base)
        per_step = measure_per_step(base)
        curve = [(items, measure_peak_rss(base, items)) for items in RSS_ITEMS]
    startup = measure_startup()
    startup_unseen = measure_startup(new_file=True)
    script = measure_script_startup()
    rows = [
        (
            "200 sequential GETs",
            f"flowc {seq_flow * 1000:.0f} ms / hand {seq_hand * 1000:.0f} ms",
            f"{seq_flow / seq_hand:.2f}x",
            "<= 1.15x",
        ),
        (
            "parallel loop 1,000 items, limit 50",
            f"flowc {fan_flow * 1000:.0f} ms / hand {fan_hand * 1000:.0f} ms",
            f"{fan_flow / fan_hand:.2f}x",
            "<= 1.0x",
        ),
        *_aiohttp_rows(aio, seq_flow, fan_flow),
        (
            "20 independent GETs, 50 ms latency",
            f"auto {auto * 1000:.0f} ms / sequential {sequential * 1000:.0f} ms",
            f"1/{sequential / auto:.1f}",
            "<= 1/8",
        ),
        ("parallel loop 10,000 items, limit 100", f"peak RSS {rss:.0f} MiB", "", "<= 150 MiB"),
        (
            "ms per sequential step (200 steps)",
            "flowc {:.3f} / trio+httpx {:.3f} / h11 by hand {:.3f}".format(*per_step),
            f"+{per_step[0] - per_step[2]:.3f} ms",
            "<= floor + 0.25 ms",
        ),
        *(
            (f"parallel loop {items:,} items, limit 100", f"peak RSS {mib:.0f} MiB", "", "")
            for items, mib in curve
        ),
        ("flowc run start-up to first request", f"{startup:.0f} ms", "", "<= 300 ms"),
        (
            "  a trio + httpx script, same request",
            f"{script:.0f} ms",
            f"flowc {startup / script:.2f}x",
            "<= 1.25x",
        ),
        ("  same, a file not yet in the parse store", f"{startup_unseen:.0f} ms", "", ""),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    print(f"{'measure':<{widths[0]}}  {'median wall':<{widths[1]}}  {'ratio':<{widths[2]}}  target")
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
