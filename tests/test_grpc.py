"""gRPC services: ``.proto`` files, their store and types, and steps run against a server.

The checker rules have an expectation file (``tests/checker/grpc.flow``); this module
tests the parts under them -- compiling ``.proto`` files with ``protoc`` and pointing
at its errors, the persistent store, the message-to-type mapping, the channel's TLS
choice -- and runs gRPC steps against a real grpcio server (``tests/grpc_fixtures.py``):
typed bodies, every field kind both ways, metadata and deadlines, status codes as
error kinds, retries, ``when``, ``fallback``, the circuit breaker, compensation,
cancellation on the wire and durable replay.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
import trio

from flowc.api import compile_file
from flowc.common.errors import FlowError
from flowc.common.types import INT, STRING, TIMESTAMP, UINT, ListT, MapT, RecordT
from flowc.common.values import Duration, Timestamp, UInt
from flowc.contracts.proto_store import PersistentProtoCache, ProtoCache
from flowc.contracts.proto_types import ProtoTypes
from flowc.runtime.engine import Engine
from flowc.runtime.grpc import is_local_target, uses_tls
from flowc.runtime.store.memory import MemoryStore
from tests.grpc_fixtures import PROTO, BillingServer, billing_server, require_grpc

__all__ = ["billing_server"]  # the fixture, imported for the tests below


@pytest.fixture(autouse=True)
def _grpc_installed() -> None:
    require_grpc()


# --------------------------------------------------------------------------- .proto files


def test_a_proto_file_compiles_to_its_services_methods_and_messages() -> None:
    loaded = ProtoCache().load(str(PROTO))
    assert loaded.problems == []
    contract = loaded.contract
    assert contract is not None
    assert [s.full_name for s in contract.services] == ["billing.v1.Billing", "billing.v1.Probe"]
    (create,) = contract.methods_named("CreateInvoice")
    assert create.path == "/billing.v1.Billing/CreateInvoice"
    assert (create.input, create.output) == (
        "billing.v1.CreateInvoiceRequest",
        "billing.v1.Invoice",
    )
    assert contract.methods_named("Billing.GetInvoice")[0].idempotency == "NO_SIDE_EFFECTS"
    assert contract.methods_named("VoidInvoice")[0].idempotency == "IDEMPOTENT"
    assert len(contract.methods_named("GetInvoice")) == 2
    assert contract.methods_named("WatchInvoices")[0].server_streaming
    assert set(contract.digests) == {str(PROTO), str(PROTO.parent / "money.proto")}


def test_messages_become_records_requests_optional_responses_by_presence() -> None:
    contract = ProtoCache().load(str(PROTO)).contract
    assert contract is not None
    types = ProtoTypes(contract)
    request = types.message("billing.v1.CreateInvoiceRequest", "request")
    assert isinstance(request, RecordT)
    assert all(f.optional for f in request.fields)  # proto3: any field may be left out
    invoice = types.message("billing.v1.Invoice", "response")
    assert isinstance(invoice, RecordT) and invoice.name == "Invoice"
    fields = {f.name: (f.type, f.optional) for f in invoice.fields}
    assert fields["id"] == (STRING, False)  # implicit presence: always there
    assert fields["status"] == (STRING, False)  # an enum reads as its name
    assert fields["note"] == (STRING, True)  # `optional`
    assert fields["due"] == (TIMESTAMP, True)  # a message: absent unless set
    assert fields["labels"] == (MapT(STRING, STRING), False)
    lines = fields["lines"][0]
    assert isinstance(lines, ListT) and isinstance(lines.elem, RecordT)
    echo = types.message("billing.v1.EchoRequest", "response")
    assert isinstance(echo, RecordT)
    kinds = {f.name: f.type for f in echo.fields}
    assert (kinds["u64"], kinds["fx64"], kinds["s32"], kinds["i64"]) == (UINT, UINT, INT, INT)
    assert isinstance(kinds["by_id"], MapT) and kinds["by_id"].key == INT
    assert kinds["maybe"] == STRING  # a wrapper: its value (absent when unset)


def test_protoc_errors_point_into_the_file(tmp_path: Path) -> None:
    proto = tmp_path / "bad.proto"
    proto.write_text('syntax = "proto3";\nmessage A {\n  int32 x = 1\n}\n', encoding="utf-8")
    loaded = ProtoCache().load(str(proto))
    assert loaded.contract is None
    (problem,) = loaded.problems
    assert (problem.file, problem.position, problem.kind) == (str(proto), (4, 1), "syntax")
    assert 'Expected ";"' in problem.message

    missing = ProtoCache().load(str(tmp_path / "nowhere.proto"))
    assert [(p.kind, p.message) for p in missing.problems] == [("unreadable", "no such file")]


def test_without_grpcio_tools_the_file_is_a_clear_problem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "grpc_tools" else real(name)
    )
    (problem,) = ProtoCache().load(str(PROTO)).problems
    assert "needs grpcio-tools: pip install 'flowc[grpc]'" in problem.message


def test_the_store_keeps_compiled_files_until_one_of_them_changes(tmp_path: Path) -> None:
    protos = tmp_path / "protos"
    shutil.copytree(PROTO.parent, protos)
    path = str(protos / "billing.proto")
    first = PersistentProtoCache(str(tmp_path / "cache")).load(path).contract
    assert first is not None
    again = PersistentProtoCache(str(tmp_path / "cache"))
    stored = again.read_store(path)
    assert stored is not None and stored.descriptors == first.descriptors
    money = protos / "money.proto"
    money.write_text(money.read_text().replace("int64 minor_units", "int32 minor_units"))
    assert again.read_store(path) is None  # an import changed: compiled again
    fresh = again.load(path).contract
    assert fresh is not None
    assert fresh.messages["billing.v1.Money"].fields[1].kind == "int32"


def test_tls_is_on_unless_asked_or_the_target_is_loopback() -> None:
    for target in ("127.0.0.1:50051", "localhost:1", "[::1]:443", "unix:/tmp/s", "127.8.0.1:9"):
        assert is_local_target(target), target
        assert not uses_tls(target, None)
    for target in ("billing.internal:443", "dns:///api.example.com:443", "10.0.0.3:50051"):
        assert uses_tls(target, None), target
    assert uses_tls("127.0.0.1:1", True) and not uses_tls("billing:443", False)


# --------------------------------------------------------------------------- running steps


def program_for(tmp_path: Path, server: BillingServer, source: str) -> object:
    shutil.copy(PROTO, tmp_path / "billing.proto")
    shutil.copy(PROTO.parent / "money.proto", tmp_path / "money.proto")
    header = f'service billing grpc "{server.target}" proto "billing.proto" {{\n'
    path = tmp_path / "flow.flow"
    path.write_text(source.replace("service billing {\n", header), encoding="utf-8")
    return compile_file(str(path))


async def test_a_created_invoice_is_read_back_with_typed_fields(
    billing_server: BillingServer, tmp_path: Path
) -> None:
    program = program_for(
        tmp_path,
        billing_server,
        """
service billing {
    timeout 5s
}

type Summary = {
    id: string, total: int, status: string, due: timestamp?,
    labels: map[string, string], note: string?, units: int, missing: int,
}

flow invoice(customer: string) -> Summary {
    step created = call billing.CreateInvoice(
        customer_id: customer,
        lines: [{sku: "A", quantity: 3, unit_price: {currency: "EUR", minor_units: 250}}],
        labels: {source: "flowc"},
        due: timestamp("2030-01-02T03:04:05Z"),
        email: "ada@example.com",
    )
    step got = call billing.Billing.GetInvoice(id: created.body.id)
    return {
        id: got.body.id,
        total: got.body.total.minor_units ?? 0,
        status: got.body.status,
        due: got.body.due,
        labels: got.body.labels,
        note: got.body.note,
        units: size(got.body.lines),
        missing: got.status,
    }
}
""",
    )
    result = await program.run("invoice", {"customer": "ada"})  # type: ignore[attr-defined]
    assert result["id"].startswith("inv-")
    assert result["total"] == 750 and result["status"] == "STATUS_OPEN"
    assert result["due"] == Timestamp.parse("2030-01-02T03:04:05Z")
    assert result["labels"] == {"source": "flowc"}
    assert result["note"] is None  # `optional` and unset: absent
    assert result["units"] == 1 and result["missing"] == 0  # status 0: OK


async def test_every_field_kind_round_trips_with_metadata_and_deadline(
    billing_server: BillingServer, tmp_path: Path
) -> None:
    program = program_for(
        tmp_path,
        billing_server,
        """
service billing {
    headers { "X-Tenant": "acme" }
    auth bearer secret("BILLING_TOKEN")
    timeout 10s
}

flow echo() -> json {
    step echoed = call billing.Echo(
        d: 2, f: 0.5, i64: -9007199254740993, u64: 18446744073709551615u, s32: -7, fx64: 3,
        flag: true, data: b"\\x00\\xff", status: "STATUS_PAID", numbers: [1, 2, 3],
        by_id: {7: {currency: "EUR", minor_units: 1}}, wait: 1500ms, maybe: "here",
    ) {
        headers { "x-request-id": "r-1" }
    }
    return {body: echoed.body, served_by: echoed.headers["x-served-by"]}
}
""",
    )
    import os

    os.environ["BILLING_TOKEN"] = "s3cret-token"
    try:
        result = await program.run("echo", {})  # type: ignore[attr-defined]
    finally:
        del os.environ["BILLING_TOKEN"]
    request = result["body"]["request"]
    assert request["d"] == 2.0 and request["f"] == 0.5
    assert request["i64"] == -9007199254740993
    assert request["u64"] == 18446744073709551615 and isinstance(request["u64"], UInt)
    assert (request["s32"], request["fx64"], request["flag"]) == (-7, 3, True)
    assert request["data"] == b"\x00\xff" and request["status"] == "STATUS_PAID"
    assert request["numbers"] == [1, 2, 3]
    assert request["by_id"] == {7: {"currency": "EUR", "minor_units": 1}}
    assert request["wait"] == Duration(1_500_000_000) and request["maybe"] == "here"
    metadata = result["body"]["metadata"]
    assert metadata["x-tenant"] == "acme" and metadata["x-request-id"] == "r-1"
    assert metadata["authorization"] == "Bearer s3cret-token"
    assert "/echo" in metadata["idempotency-key"]  # Echo is not marked idempotent
    deadline = result["body"]["deadline"]
    assert isinstance(deadline, Timestamp)
    assert 5 <= deadline.seconds - time.time() <= 11  # the step's timeout went on the wire
    assert result["served_by"] == "probe"  # trailing metadata


async def test_status_codes_are_error_kinds_with_the_code_as_status(
    billing_server: BillingServer, tmp_path: Path
) -> None:
    program = program_for(
        tmp_path,
        billing_server,
        """
service billing {
}

flow probe(code: int) -> string {
    try {
        step failed = call billing.Fail(code: code, details: "because")
        return "ok"
    } catch err {
        return "${err.kind} ${err.status} ${err.message} ${err.attempt}"
    }
}

flow missing() -> string {
    step got = call billing.Billing.GetInvoice(id: "nope")
    return got.body.id
}
""",
    )
    run = program.run  # type: ignore[attr-defined]
    assert await run("probe", {"code": 5}) == "status 5 gRPC NOT_FOUND: because 1"
    assert await run("probe", {"code": 14}) == "unavailable 14 gRPC UNAVAILABLE: because 1"
    assert await run("probe", {"code": 4}) == "timeout 4 gRPC DEADLINE_EXCEEDED: because 1"
    assert await run("probe", {"code": 16}) == "status 16 gRPC UNAUTHENTICATED: because 1"
    with pytest.raises(FlowError) as failure:
        await run("missing", {})
    assert (failure.value.kind, failure.value.status) == ("status", 5)
    assert failure.value.message == "gRPC NOT_FOUND: no invoice nope"


async def test_a_deadline_times_the_call_out_and_the_server_sees_it_end(
    billing_server: BillingServer, tmp_path: Path
) -> None:
    program = program_for(
        tmp_path,
        billing_server,
        """
service billing {
}

flow slow(key: string) -> string {
    step waited = call billing.Slow(delay: 5s, key: key) { timeout 200ms }
    return waited.body.key
}
""",
    )
    started = time.monotonic()
    with pytest.raises(FlowError) as failure:
        await program.run("slow", {"key": "deadline"})  # type: ignore[attr-defined]
    assert failure.value.kind == "timeout"
    assert time.monotonic() - started < 2
    await _until(lambda: billing_server.slow.get("deadline") == "cancelled")


async def test_a_cancelled_step_cancels_its_call_on_the_wire(
    billing_server: BillingServer, tmp_path: Path
) -> None:
    program = program_for(
        tmp_path,
        billing_server,
        """
service billing {
}

flow race(key: string) -> string {
    parallel {
        step waited = call billing.Slow(delay: 20s, key: key)
        branch {
            sleep 150ms
            fail "the other branch failed"
        }
    }
    return waited.body.key
}
""",
    )
    started = time.monotonic()
    async with Engine() as engine:  # open: closing its channels would end the call too
        with pytest.raises(FlowError) as failure:
            await engine.run(program, "race", {"key": "sibling"})  # type: ignore[arg-type]
        assert failure.value.kind == "fail"
        assert time.monotonic() - started < 3  # not the call's 30 s deadline
        # No deadline expired (the step's is 30 s): the server saw the call cancelled.
        await _until(lambda: billing_server.slow.get("sibling") == "cancelled")


async def test_unavailable_is_retried_by_default_and_when_decides_otherwise(
    billing_server: BillingServer, tmp_path: Path
) -> None:
    program = program_for(
        tmp_path,
        billing_server,
        """
service billing {
    retry 3 backoff fixed 10ms
}

flow flaky(key: string, failures: int) -> int {
    step answered = call billing.Flaky(key: key, failures: failures) { idempotency_key key }
    return answered.body.calls
}

flow picky(key: string) -> string {
    step answered = call billing.Flaky(key: key, failures: 1) {
        retry 3 when error.status == 5
        idempotency_key key
        fallback {key: "fallback", calls: 0}
    }
    return "${answered.body.key} ${answered.attempts} ${answered.error.kind ?? ''}"
}
""",
    )
    run = program.run  # type: ignore[attr-defined]
    assert await run("flaky", {"key": "twice", "failures": 2}) == 3
    assert billing_server.flaky["twice"] == 3
    with pytest.raises(FlowError) as failure:
        await run("flaky", {"key": "always", "failures": 10})
    assert (failure.value.kind, failure.value.attempt) == ("unavailable", 4)
    assert billing_server.flaky["always"] == 4
    assert await run("picky", {"key": "picky"}) == "fallback 1 unavailable"
    assert billing_server.flaky["picky"] == 1  # `when` did not want UNAVAILABLE


async def test_the_circuit_breaker_counts_server_failures(
    billing_server: BillingServer, tmp_path: Path
) -> None:
    program = program_for(
        tmp_path,
        billing_server,
        """
service billing {
    circuit_breaker 2 failures within 30s cooldown 30s
}

flow trip() -> list[string] {
    var kinds: list[string] = []
    for code in [5, 13, 14, 14] {
        try {
            step failed = call billing.Fail(code: code, details: "x")
        } catch err {
            kinds = kinds + [err.kind]
        }
    }
    return kinds
}
""",
    )
    before = billing_server.count("fail")
    kinds = await program.run("trip", {})  # type: ignore[attr-defined]
    # NOT_FOUND is an answer; INTERNAL and UNAVAILABLE are failures: the fourth call fails fast
    assert kinds == ["status", "status", "unavailable", "circuit_open"]
    assert billing_server.count("fail") - before == 3


async def test_compensation_calls_undo_a_created_invoice(
    billing_server: BillingServer, tmp_path: Path
) -> None:
    program = program_for(
        tmp_path,
        billing_server,
        """
service billing {
}

flow saga(customer: string) -> string {
    step created = call billing.CreateInvoice(customer_id: customer) {
        compensate {
            step undone = call billing.VoidInvoice(id: created.body.id, reason: "rolled back")
        }
    }
    fail "charging failed after ${created.body.id}"
}
""",
    )
    with pytest.raises(FlowError) as failure:
        await program.run("saga", {"customer": "grace"})  # type: ignore[attr-defined]
    invoice_id = failure.value.message.rsplit(" ", 1)[-1]
    assert billing_server.invoices[invoice_id].status == 3  # STATUS_VOID


async def test_a_value_that_does_not_fit_its_field_is_an_invalid_request(
    billing_server: BillingServer, tmp_path: Path
) -> None:
    program = program_for(
        tmp_path,
        billing_server,
        """
service billing {
    retry 3
}

flow big(count: int) -> string {
    step created = call billing.CreateInvoice(lines: [{quantity: count}])
    return created.body.id
}
""",
    )
    before = billing_server.count("create")
    with pytest.raises(FlowError) as failure:
        await program.run("big", {"count": 2**40})  # type: ignore[attr-defined]
    assert failure.value.kind == "invalid_request"
    assert "`lines[0].quantity`: 1099511627776 is out of range" in failure.value.message
    assert billing_server.count("create") == before  # nothing was sent, nothing retried


async def test_a_completed_durable_run_is_answered_from_its_journal(
    billing_server: BillingServer, tmp_path: Path
) -> None:
    program = program_for(
        tmp_path,
        billing_server,
        """
service billing {
}

flow echo() -> json {
    step echoed = call billing.Echo(u64: 5u, data: b"x", wait: 2s, status: "STATUS_OPEN")
    return echoed.body.request
}
""",
    )
    store = MemoryStore()
    async with Engine(store=store) as engine:
        first = await engine.run(program, "echo", run_id="durable-echo")  # type: ignore[arg-type]
        before = billing_server.count("echo")
        again = await engine.run(program, "echo", run_id="durable-echo")  # type: ignore[arg-type]
    assert again == first and billing_server.count("echo") == before
    assert first["u64"] == UInt(5) and first["wait"] == Duration(2_000_000_000)


async def _until(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail("the server did not see the call end")
        await trio.sleep(0.02)


async def test_the_example_creates_and_checks_an_invoice(
    billing_server: BillingServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BILLING_ADDR", billing_server.target)
    program = compile_file(
        str(Path(__file__).resolve().parent.parent / "examples" / "grpc_billing.flow")
    )
    result = await program.run("invoice", {"customer": "ada", "sku": "A-1", "quantity": 2})
    assert result["total"] == 2500 and result["status"] == "STATUS_OPEN"
    created = billing_server.invoices[result["id"]]
    assert created.due.seconds > time.time() + 29 * 24 * 3600  # `now() + 720h` went on the wire
    _, metadata = billing_server.calls[-1]
    assert metadata["x-tenant"] == "demo"
