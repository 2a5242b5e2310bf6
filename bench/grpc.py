"""A unary gRPC call step against a hand-written grpcio call loop, side by side.

    python bench/grpc.py                # prints a table (medians of several rounds)
    python bench/grpc.py --calls 5000

The server is ``tests/grpc_fixtures.BillingServer`` in a process of its own (so the
two sides share it and the machine, not an interpreter).  Each round runs, one
after the other:

* **grpcio loop** -- what one writes by hand: a blocking ``UnaryUnaryMultiCallable``
  with the message classes as serializers, ``GetInvoice`` called ``--calls`` times
  with a 5 s timeout, each response's ``total.minor_units`` added up;
* **grpcio futures on trio** -- the same loop in a trio program, by hand, the way
  flowc calls (a future per call that wakes the task): the cost of trio integration
  alone, which the blocking loop does not pay (its thread polls the call itself);
* **flowc step** -- a flow whose ``for`` loop has one step,
  ``call billing.Billing.GetInvoice(id: id)`` (the same call, the same deadline),
  adding ``total.minor_units`` the same way; one run, compiled beforehand.

The goal (issue 14): the step costs no more than 1.3x the hand-written call.  The
table gives microseconds per call and the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio

ROOT = Path(__file__).resolve().parent.parent
# Run as `python bench/grpc.py`, this file's directory comes first on the path, and
# `import grpc` would import this file: look for packages from the project's root.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
sys.path.insert(0, str(ROOT))

SERVER = """
import sys, time
from tests.grpc_fixtures import BillingServer
with BillingServer() as server:
    m = server.messages
    request = m.CreateInvoiceRequest(customer_id="bench")
    line = request.lines.add(sku="A-1", quantity=3)
    line.unit_price.currency, line.unit_price.minor_units = "EUR", 250
    server.create(request, None)
    print(server.target, flush=True)
    sys.stdin.read()
"""

FLOW = """
service billing grpc "{target}" proto "{proto}" {{
    timeout 5s
}}

flow loop(n: int, id: string) -> int {{
    var total = 0
    for i in range(n) {{
        step got = call billing.Billing.GetInvoice(id: id)
        total = total + (got.body.total.minor_units ?? 0)
    }}
    return total
}}
"""


def grpcio_loop(target: str, calls: int) -> tuple[float, int]:
    import grpc

    from tests.grpc_fixtures import Messages, compile_descriptors

    m = Messages(compile_descriptors())
    with grpc.insecure_channel(target) as channel:
        stub = channel.unary_unary(
            "/billing.v1.Billing/GetInvoice",
            request_serializer=m.GetInvoiceRequest.SerializeToString,
            response_deserializer=m.Invoice.FromString,
        )
        stub(m.GetInvoiceRequest(id="inv-1"), timeout=5)  # connect first
        total = 0
        started = time.perf_counter()
        for _ in range(calls):
            reply = stub(m.GetInvoiceRequest(id="inv-1"), timeout=5)
            total += reply.total.minor_units
        return time.perf_counter() - started, total


def trio_futures(target: str, calls: int) -> tuple[float, int]:
    """The same loop on trio, written by hand the way flowc calls: a grpcio future per
    call that wakes the task when done (what any trio program must pay for grpcio)."""
    import grpc

    from tests.grpc_fixtures import Messages, compile_descriptors

    m = Messages(compile_descriptors())

    async def main() -> tuple[float, int]:
        token = trio.lowlevel.current_trio_token()
        with grpc.insecure_channel(target) as channel:
            stub = channel.unary_unary(
                "/billing.v1.Billing/GetInvoice",
                request_serializer=m.GetInvoiceRequest.SerializeToString,
                response_deserializer=m.Invoice.FromString,
            )
            total = 0
            started = time.perf_counter()
            for _ in range(calls):
                done = trio.Event()
                future = stub.future(m.GetInvoiceRequest(id="inv-1"), timeout=5)
                future.add_done_callback(lambda _, wake=done.set: token.run_sync_soon(wake))
                await done.wait()
                total += future.result().total.minor_units
            return time.perf_counter() - started, total

    return trio.run(main)


def flowc_step(program: object, calls: int) -> tuple[float, int]:
    from flowc.runtime.engine import Engine

    async def main() -> tuple[float, int]:
        async with Engine() as engine:
            await engine.run(program, "loop", {"n": 1, "id": "inv-1"})  # type: ignore[arg-type]
            started = time.perf_counter()
            total = await engine.run(program, "loop", {"n": calls, "id": "inv-1"})  # type: ignore[arg-type]
            return time.perf_counter() - started, total

    return trio.run(main)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    from flowc.api import compile_file

    server = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT
    )
    try:
        assert server.stdout is not None
        target = server.stdout.readline().decode().strip()
        with tempfile.TemporaryDirectory() as scratch:
            flow = Path(scratch) / "bench.flow"
            proto = ROOT / "tests" / "data" / "grpc" / "billing.proto"
            flow.write_text(FLOW.format(target=target, proto=proto), encoding="utf-8")
            os.environ.setdefault("XDG_CACHE_HOME", scratch)
            program = compile_file(str(flow))
            rows: dict[str, list[float]] = {
                "grpcio loop": [],
                "grpcio futures on trio (by hand)": [],
                "flowc step": [],
            }
            for _ in range(args.rounds):
                seconds, expected = grpcio_loop(target, args.calls)
                rows["grpcio loop"].append(seconds)
                seconds, total = trio_futures(target, args.calls)
                rows["grpcio futures on trio (by hand)"].append(seconds)
                assert total == expected, (total, expected)
                seconds, total = flowc_step(program, args.calls)
                rows["flowc step"].append(seconds)
                assert total == expected, (total, expected)
    finally:
        if server.stdin is not None:
            server.stdin.close()
        server.wait(timeout=10)
    base = statistics.median(rows["grpcio loop"]) / args.calls
    print(f"{args.calls} unary calls of GetInvoice on 127.0.0.1, median of {args.rounds} rounds:")
    print("| side | µs per call | ratio |")
    print("| --- | ---: | ---: |")
    for name, values in rows.items():
        per_call = statistics.median(values) / args.calls
        print(f"| {name} | {per_call * 1e6:.0f} | {per_call / base:.2f}x |")


if __name__ == "__main__":
    main()
