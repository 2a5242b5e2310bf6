"""Observability overhead: 200 sequential steps with OpenTelemetry and metrics on and off.

    python bench/observe.py            # prints a table (medians of several rounds)

Issue 11's target: with OpenTelemetry export (the OTLP/HTTP exporter behind the
SDK's batch processor, sending to a receiver on 127.0.0.1) and Prometheus
metrics on, 200 sequential steps cost at most 0.1 ms/step more than with both
off.  Both sides run against the same demo API in the same process, rounds
interleaved, each side on an engine of its own that stays open (so neither
pays for opening a pool); a scrape of the metrics and the receiver's span
count show the instrumented side really did its work.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trio

import flowc
from flowc.demo import start_demo_server

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "15"))
STEPS = 200
TARGET_MS = 0.1


def sequential_flow(count: int) -> str:
    steps = ['    step s0 = GET BASE + "/echo"']
    for i in range(1, count):
        steps.append(f'    step s{i} = GET BASE + "/echo?after=${{s{i - 1}.status}}"')
    body = "\n".join(steps)
    return f'const BASE = env("FLOWC_DEMO_URL")\n\nflow chain() -> int {{\n{body}\n    return s{count - 1}.status\n}}\n'


class Receiver:
    """An OTLP/HTTP endpoint that accepts every export and counts the bytes."""

    def __init__(self) -> None:
        self.bytes = 0
        self.posts = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                outer.bytes += len(self.rfile.read(length))
                outer.posts += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def main() -> None:
    receiver = Receiver()
    os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.url
    os.environ.setdefault("OTEL_SERVICE_NAME", "flowc-bench")
    from flowc.observe.metrics import FlowMetrics
    from flowc.observe.otel import start_tracing
    from flowc.runtime.engine import Engine

    path = Path(tempfile.mkdtemp(prefix="flowc-bench-")) / "chain.flow"
    path.write_text(sequential_flow(STEPS), encoding="utf-8")
    program = flowc.compile_file(str(path))
    metrics = FlowMetrics()
    tracer = start_tracing()
    assert tracer is not None

    with start_demo_server() as base:
        os.environ["FLOWC_DEMO_URL"] = base
        off: list[float] = []
        on: list[float] = []
        off_cpu: list[float] = []
        on_cpu: list[float] = []

        async def rounds() -> None:
            async with (
                Engine() as plain,
                Engine(hooks=[metrics, tracer], header_sources=[tracer.headers_for]) as observed,
            ):
                metrics.watch(observed.service_states, lambda: len(observed.active), None)
                for engine in (plain, observed):  # warm up both
                    await engine.run(program, "chain")
                for _ in range(ROUNDS):
                    for engine, side, cpu in ((plain, off, off_cpu), (observed, on, on_cpu)):
                        start, start_cpu = time.perf_counter(), time.process_time()
                        await engine.run(program, "chain")
                        if engine is observed:
                            tracer.provider.force_flush()  # its export is part of its cost
                        side.append(time.perf_counter() - start)
                        cpu.append(time.process_time() - start_cpu)

        trio.run(rounds)
        tracer.close()  # flushes every buffered span to the receiver

    off_ms, on_ms, off_cpu_ms, on_cpu_ms = (
        statistics.median(side) * 1000 / STEPS for side in (off, on, off_cpu, on_cpu)
    )
    scraped = metrics.render().decode()
    runs = next(
        float(line.rsplit(" ", 1)[1])
        for line in scraped.splitlines()
        if line.startswith('flowc_runs_started_total{flow="chain"}')
    )
    delta = on_ms - off_ms
    paired = statistics.median(b - a for a, b in zip(off, on, strict=True)) * 1000 / STEPS
    paired_cpu = statistics.median(b - a for a, b in zip(off_cpu, on_cpu, strict=True))
    paired_cpu_ms = paired_cpu * 1000 / STEPS
    print(f"{STEPS} sequential GET steps against the demo API, median of {ROUNDS} rounds")
    print("| side | wall ms/step | CPU ms/step (this process, export thread included) |")
    print("| --- | --- | --- |")
    print(f"| OpenTelemetry + metrics off | {off_ms:.3f} | {off_cpu_ms:.3f} |")
    print(f"| OpenTelemetry + metrics on  | {on_ms:.3f} | {on_cpu_ms:.3f} |")
    print(f"| difference of the medians | {delta:+.3f} | {on_cpu_ms - off_cpu_ms:+.3f} |")
    print(
        f"| median of paired differences (target <= {TARGET_MS}) | {paired:+.3f} "
        f"| {paired_cpu_ms:+.3f} |"
    )
    print(
        f"runs counted by the metrics: {runs:g}; OTLP exports received: {receiver.posts} "
        f"({receiver.bytes / 1024:.0f} KiB)"
    )
    sys.exit(0 if paired <= TARGET_MS else 1)


if __name__ == "__main__":
    main()
