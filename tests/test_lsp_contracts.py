"""The language server on steps against described services: completion and hover.

Like ``test_lsp.py``, these drive a real ``flowc lsp`` process over stdio
(``tests/lsp_session.py``).  The project is a flow against the Petstore's OpenAPI
document: completion offers the document's paths after ``GET petstore "``, its
parameters in ``query {`` and ``headers {`` blocks, its request body's fields in
``json {`` (nested records too), its operation ids after ``call petstore.`` and
their parameters as arguments; hover on a step shows the operation it calls.  A
second project calls a gRPC service: its methods after ``call billing.``, the request
message's fields as arguments, the method on hover.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from lsprotocol import types

from tests.lsp_session import LspSession, Published, position_of

ROOT = Path(__file__).resolve().parent.parent
PETSTORE = ROOT / "tests" / "data" / "openapi" / "petstore3.yaml"

FLOW = """\
service petstore openapi "petstore3.yaml" {
    url "http://127.0.0.1:8080/v3"
    auth "key"
}

flow pets(id: int) -> string {
    step pet = GET petstore "/pet/${id}"
    step found = GET petstore "/pet/findByStatus" {
        query { status: "sold" }
    }
    step added = POST petstore "/pet" {
        json { name: "Rex", photoUrls: [] }
    }
    step order = call petstore.getOrderById(orderId: id)
    return "${pet.body.name} ${size(found.body)} ${added.body.id} ${order.body.id}"
}
"""


@pytest.fixture(scope="module")
def lsp() -> Iterator[LspSession]:
    session = LspSession()
    yield session
    session.close()


@pytest.fixture
def editor(lsp: LspSession) -> Iterator[LspSession]:
    before = set(lsp.versions)
    yield lsp
    for uri in set(lsp.versions) - before:
        lsp.close_document(uri)
        del lsp.versions[uri]
    assert lsp.alive


@pytest.fixture
def project(tmp_path: Path) -> Path:
    shutil.copy(PETSTORE, tmp_path / "petstore3.yaml")
    (tmp_path / "pets.flow").write_text(FLOW, encoding="utf-8")
    return tmp_path


def open_checked(editor: LspSession, path: Path) -> tuple[str, Published]:
    since = editor.mark()
    uri = editor.open(path)
    return uri, editor.wait_for_diagnostics(uri, lambda p: p.version == 1, since=since)


def edited(editor: LspSession, uri: str, old: str, new: str) -> str:
    """Replace ``old`` by ``new`` in the buffer (the edited file need not parse)."""
    assert old in FLOW
    text = FLOW.replace(old, new, 1)
    editor.change(uri, text)
    return text


def test_the_flow_checks_cleanly(editor: LspSession, project: Path) -> None:
    _, published = open_checked(editor, project / "pets.flow")
    assert [d.message for d in published.diagnostics] == []


def test_paths_of_the_method_are_offered_inside_the_path_string(
    editor: LspSession, project: Path
) -> None:
    uri, _ = open_checked(editor, project / "pets.flow")
    text = edited(
        editor, uri, '    step pet = GET petstore "/pet/${id}"', '    step pet = GET petstore "/pe'
    )
    cursor = position_of(text, '"/pe', shift=4)
    items = {item.label: item for item in editor.completion(uri, cursor)}
    assert "/pet/{petId}" in items and "/pet/findByStatus" in items and "/store/inventory" in items
    assert "/pet" not in items  # only POST and PUT have it
    pet = items["/pet/{petId}"]
    assert pet.detail == "Find pet by ID"
    assert isinstance(pet.text_edit, types.TextEdit)
    assert pet.text_edit.new_text == "/pet/${petId}"
    start = position_of(text, '"/pe', shift=1)
    assert pet.text_edit.range == types.Range(start=start, end=cursor)  # replaces "/pe"

    text = edited(
        editor, uri, '    step pet = GET petstore "/pet/${id}"', '    step pet = POST petstore "'
    )
    labels = editor.labels(uri, position_of(text, 'POST petstore "', shift=15))
    assert "/pet" in labels and "/pet/{petId}" in labels and "/store/inventory" not in labels


def test_query_and_header_parameters_are_offered_in_their_blocks(
    editor: LspSession, project: Path
) -> None:
    uri, _ = open_checked(editor, project / "pets.flow")
    text = edited(editor, uri, 'query { status: "sold" }', "query { ")
    items = editor.completion(uri, position_of(text, "query { ", shift=8))
    assert [item.label for item in items] == ["status"]
    assert items[0].detail == "query parameter: string"
    assert items[0].insert_text == "status: "
    assert items[0].documentation == "Status values that need to be considered for filter"

    text = edited(editor, uri, 'query { status: "sold" }', 'query { status: "sold", ')
    assert editor.labels(uri, position_of(text, '"sold", ', shift=8)) == []  # all written

    text = edited(
        editor,
        uri,
        '    step pet = GET petstore "/pet/${id}"',
        '    step pet = DELETE petstore "/pet/${id}" { headers { ',
    )
    items = editor.completion(uri, position_of(text, "headers { ", shift=10))
    assert [(item.label, item.detail) for item in items] == [
        ("api_key", "header parameter: string")
    ]


def test_body_fields_are_offered_in_json_blocks_and_nested_records(
    editor: LspSession, project: Path
) -> None:
    uri, _ = open_checked(editor, project / "pets.flow")
    text = edited(editor, uri, 'json { name: "Rex", photoUrls: [] }', 'json { name: "Rex", ')
    items = {
        item.label: item for item in editor.completion(uri, position_of(text, '"Rex", ', shift=7))
    }
    assert set(items) == {"id", "category", "photoUrls", "tags", "status"}  # not `name`
    assert items["photoUrls"].detail == "list[string]"
    assert items["status"].detail == "string (optional)"
    ranked = sorted(items.values(), key=lambda item: item.sort_text or "")
    assert ranked[0].label == "photoUrls"  # the required field first

    text = edited(
        editor, uri, 'json { name: "Rex", photoUrls: [] }', 'json { name: "Rex", category: { '
    )
    nested = editor.labels(uri, position_of(text, "category: { ", shift=12))
    assert sorted(nested) == ["id", "name"]


def test_operation_ids_and_their_parameters_are_offered_after_call(
    editor: LspSession, project: Path
) -> None:
    uri, _ = open_checked(editor, project / "pets.flow")
    text = edited(editor, uri, "call petstore.getOrderById(orderId: id)", "call petstore.")
    items = {
        item.label: item
        for item in editor.completion(uri, position_of(text, "petstore.\n", shift=9))
    }
    assert {"getPetById", "addPet", "findPetsByStatus", "getOrderById"} <= set(items)
    assert items["getPetById"].detail == "GET /pet/{petId}"
    assert items["getPetById"].documentation == "Find pet by ID"

    text = edited(
        editor, uri, "call petstore.getOrderById(orderId: id)", "call petstore.getOrderById("
    )
    items = editor.completion(uri, position_of(text, "getOrderById(", shift=13))
    assert [(i.label, i.detail) for i in items] == [("orderId", "required path parameter: int")]


def test_hover_on_a_step_shows_its_operation(editor: LspSession, project: Path) -> None:
    uri, _ = open_checked(editor, project / "pets.flow")
    text = editor.hover_text(uri, position_of(FLOW, "pet ="))
    assert "operation `getPetById`: Find pet by ID" in text
    assert "`GET /pet/{petId}` · response: `Pet`" in text

    text = editor.hover_text(uri, position_of(FLOW, "order ="))
    assert "operation `getOrderById`: Find purchase order by ID" in text
    assert "`GET /store/order/{orderId}` · response: `Order`" in text


GRPC_FLOW = """\
service billing grpc "127.0.0.1:50051" proto "billing.proto"

flow invoice(customer: string) -> string {
    step created = call billing.CreateInvoice(customer_id: customer)
    return created.body.id
}
"""


def test_grpc_methods_and_request_fields_are_offered_and_hover_names_the_method(
    editor: LspSession, tmp_path: Path
) -> None:
    grpc_protos = ROOT / "tests" / "data" / "grpc"
    for name in ("billing.proto", "money.proto"):
        shutil.copy(grpc_protos / name, tmp_path / name)
    path = tmp_path / "invoice.flow"
    path.write_text(GRPC_FLOW, encoding="utf-8")
    since = editor.mark()
    uri = editor.open(path)
    published = editor.wait_for_diagnostics(uri, lambda p: p.version == 1, since=since)
    assert [d.message for d in published.diagnostics] == []

    text = editor.hover_text(uri, position_of(GRPC_FLOW, "billing grpc"))
    assert 'service billing grpc "127.0.0.1:50051" proto "billing.proto"' in text
    assert "`billing.v1.Billing` (4 methods), `billing.v1.Probe` (5 methods)" in text

    text = editor.hover_text(uri, position_of(GRPC_FLOW, "created ="))
    assert "gRPC `/billing.v1.Billing/CreateInvoice`" in text
    assert "`billing.v1.CreateInvoiceRequest` → `billing.v1.Invoice`" in text

    typing = GRPC_FLOW.replace("call billing.CreateInvoice(customer_id: customer)", "call billing.")
    editor.change(uri, typing)
    items = {i.label: i for i in editor.completion(uri, position_of(typing, "billing.\n", shift=8))}
    assert {
        "CreateInvoice",
        "VoidInvoice",
        "Echo",
        "Billing.GetInvoice",
        "Probe.GetInvoice",
    } <= set(items)
    assert "WatchInvoices" not in items  # streaming: not callable
    assert items["VoidInvoice"].detail == (
        "billing.v1.Billing/VoidInvoice(billing.v1.VoidInvoiceRequest) -> billing.v1.Invoice"
    )

    typing = GRPC_FLOW.replace("customer_id: customer)", "customer_id: customer, ")
    editor.change(uri, typing)
    fields = editor.completion(uri, position_of(typing, "customer, ", shift=10))
    labels = [item.label for item in fields]
    assert "customer_id" not in labels  # written already
    assert {"lines", "note", "due", "labels", "email", "postal_address"} <= set(labels)


def test_a_template_is_inserted_as_the_text_of_a_flow_string() -> None:
    from flowc.lsp.contracts import flow_string_of

    assert flow_string_of("/pet/{petId}") == "/pet/${petId}"
    assert flow_string_of("/a/{pet-id}/$count") == "/a/${pet_id}/\\$count"  # Microsoft Graph
    assert flow_string_of('/places/${place}"') == '/places/\\$${place}\\"'
