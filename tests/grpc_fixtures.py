"""A real gRPC server for the tests: ``tests/data/grpc/billing.proto``, served by grpcio.

``BillingServer`` compiles the ``.proto`` file with grpcio-tools' ``protoc`` (its own
run, not flowc's loader, so the server does not share the code under test), builds
the message classes from the descriptors and serves both services of the file on
``127.0.0.1`` with grpcio's thread-pool server:

* ``Billing`` keeps invoices in memory: ``CreateInvoice`` totals the lines,
  ``GetInvoice`` answers NOT_FOUND for an unknown id, ``VoidInvoice`` marks one void;
* ``Probe`` does what a test asks: ``Fail`` answers with the status code it is given,
  ``Slow`` waits for its ``delay`` unless the call is cancelled first (and records
  which happened, by ``key``), ``Flaky`` answers UNAVAILABLE its first ``failures``
  times per key, ``Echo`` returns its request with the metadata and deadline the
  call arrived with.

Every call is recorded (``calls``: method, metadata) so tests can count attempts
and read what was sent.  The ``billing_server`` fixture serves one per module.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import pytest

PROTO = Path(__file__).resolve().parent / "data" / "grpc" / "billing.proto"


def compile_descriptors(proto: Path = PROTO) -> bytes:
    with tempfile.TemporaryDirectory() as scratch:
        output = os.path.join(scratch, "out.pb")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "grpc_tools.protoc",
                f"--proto_path={proto.parent}",
                f"--descriptor_set_out={output}",
                "--include_imports",
                proto.name,
            ],
            check=True,
            cwd=proto.parent,
        )
        return Path(output).read_bytes()


class Messages:
    """The message classes of billing.proto, by short name."""

    def __init__(self, descriptors: bytes) -> None:
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

        pool = descriptor_pool.DescriptorPool()
        for file in descriptor_pb2.FileDescriptorSet.FromString(descriptors).file:
            pool.Add(file)
        self.pool = pool
        self._factory = message_factory

    def __getattr__(self, name: str) -> Any:
        return self._factory.GetMessageClass(self.pool.FindMessageTypeByName(f"billing.v1.{name}"))


class BillingServer:
    def __init__(self) -> None:
        import grpc

        self.grpc = grpc
        self.messages = Messages(compile_descriptors())
        self.invoices: dict[str, Any] = {}
        self.slow: dict[str, str] = {}  # key -> "finished" | "cancelled"
        self.flaky: dict[str, int] = {}
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
        self.server.add_generic_rpc_handlers(self._handlers())
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.target = f"127.0.0.1:{self.port}"

    def __enter__(self) -> BillingServer:
        self.server.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.stop(grace=None)

    # ----------------------------------------------------------- handlers

    def _handlers(self) -> tuple[Any, ...]:
        grpc, m = self.grpc, self.messages

        def unary(function: Any, request: Any, response: Any) -> Any:
            return grpc.unary_unary_rpc_method_handler(
                self._recorded(function),
                request_deserializer=request.FromString,
                response_serializer=response.SerializeToString,
            )

        billing = grpc.method_handlers_generic_handler(
            "billing.v1.Billing",
            {
                "CreateInvoice": unary(self.create, m.CreateInvoiceRequest, m.Invoice),
                "GetInvoice": unary(self.get, m.GetInvoiceRequest, m.Invoice),
                "VoidInvoice": unary(self.void, m.VoidInvoiceRequest, m.Invoice),
            },
        )
        probe = grpc.method_handlers_generic_handler(
            "billing.v1.Probe",
            {
                "Fail": unary(self.fail, m.FailRequest, m.Reply),
                "Slow": unary(self.wait, m.SlowRequest, m.Reply),
                "Flaky": unary(self.flake, m.FlakyRequest, m.Reply),
                "Echo": unary(self.echo, m.EchoRequest, m.EchoReply),
            },
        )
        return (billing, probe)

    def _recorded(self, function: Any) -> Any:
        def handler(request: Any, context: Any) -> Any:
            metadata = {k: v for k, v in context.invocation_metadata() if isinstance(v, str)}
            with self.lock:
                self.calls.append((function.__name__, metadata))
            return function(request, context)

        return handler

    def count(self, method: str) -> int:
        with self.lock:
            return sum(1 for name, _ in self.calls if name == method)

    def create(self, request: Any, context: Any) -> Any:
        m = self.messages
        with self.lock:
            number = len(self.invoices) + 1
        invoice = m.Invoice(id=f"inv-{number}", customer_id=request.customer_id, status=1)
        invoice.lines.extend(request.lines)
        total = sum(line.quantity * line.unit_price.minor_units for line in request.lines)
        currency = request.lines[0].unit_price.currency if request.lines else "EUR"
        invoice.total.CopyFrom(m.Money(currency=currency, minor_units=total))
        if request.HasField("note"):
            invoice.note = request.note
        if request.HasField("due"):
            invoice.due.CopyFrom(request.due)
        invoice.labels.update(request.labels)
        with self.lock:
            self.invoices[invoice.id] = invoice
        return invoice

    def get(self, request: Any, context: Any) -> Any:
        with self.lock:
            invoice = self.invoices.get(request.id)
        if invoice is None:
            context.abort(self.grpc.StatusCode.NOT_FOUND, f"no invoice {request.id}")
        return invoice

    def void(self, request: Any, context: Any) -> Any:
        invoice = self.get(request, context)
        invoice.status = 3
        return invoice

    def fail(self, request: Any, context: Any) -> Any:
        code = next(c for c in self.grpc.StatusCode if c.value[0] == request.code)
        context.abort(code, request.details)

    def wait(self, request: Any, context: Any) -> Any:
        delay = request.delay.seconds + request.delay.nanos / 1e9
        until = time.monotonic() + delay
        while time.monotonic() < until:
            if not context.is_active():
                with self.lock:
                    self.slow[request.key] = "cancelled"
                return self.messages.Reply(key=request.key)
            time.sleep(0.005)
        with self.lock:
            self.slow[request.key] = "finished"
        return self.messages.Reply(key=request.key)

    def flake(self, request: Any, context: Any) -> Any:
        with self.lock:
            calls = self.flaky[request.key] = self.flaky.get(request.key, 0) + 1
        if calls <= request.failures:
            context.abort(self.grpc.StatusCode.UNAVAILABLE, f"try again ({calls})")
        return self.messages.Reply(key=request.key, calls=calls)

    def echo(self, request: Any, context: Any) -> Any:
        reply = self.messages.EchoReply()
        reply.request.CopyFrom(request)
        for key, value in context.invocation_metadata():
            if isinstance(value, str):
                reply.metadata[key] = value
        remaining = context.time_remaining()
        if remaining is not None:
            reply.deadline.FromSeconds(int(time.time() + remaining))
        context.set_trailing_metadata((("x-served-by", "probe"),))
        return reply


def require_grpc() -> None:
    """grpcio and grpcio-tools are dev dependencies: missing, the tests skip (fail on CI)."""
    try:
        import grpc  # noqa: F401
        import grpc_tools  # noqa: F401
    except ImportError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"grpcio is missing: {error}")
        pytest.skip(f"grpcio is missing: {error}")


@pytest.fixture(scope="module")
def billing_server() -> Iterator[BillingServer]:
    require_grpc()
    with BillingServer() as server:
        yield server
