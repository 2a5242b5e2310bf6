"""OpenAPI services: documents, the store, types, and steps run against a real server.

The checker rules have expectation files (``tests/checker/openapi*.flow``) and the
rendered diagnostics golden files (``tests/golden/openapi.flow``); this module tests
the parts under them -- reading documents and pointing into them, the persistent
store, the schema-to-type mapping -- and runs OpenAPI steps against the demo API.
Real documents (GitHub's, the APIs.guru corpus) are in ``test_openapi_corpus.py``.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from flowc.api import compile_file
from flowc.common.errors import FlowError
from flowc.common.types import INT, STRING, ListT, MapT, OptionalT, RecordT
from flowc.contracts.openapi_document import locate, parse_document, pointer
from flowc.contracts.openapi_model import Located
from flowc.contracts.openapi_store import ContractCache, PersistentContractCache
from flowc.contracts.openapi_types import SchemaTypes
from tests.http_fixtures import DemoServer

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "examples" / "specs"
PETSTORE = ROOT / "tests" / "data" / "openapi" / "petstore3.yaml"


# --------------------------------------------------------------------------- documents


def test_json_pointers_are_located_in_json_text() -> None:
    text = '{\n  "a": {"b": [1, {"c": 2}]},\n  "d/e": 3\n}'
    found = locate(text, ["/a/b/1/c", "/d~1e", "/a/missing"])
    assert found["/a/b/1/c"] == (2, 19)
    assert found["/d~1e"] == (3, 3)
    assert found["/a/missing"] == (2, 3)  # the nearest ancestor


def test_yaml_pointers_are_located_in_yaml_text() -> None:
    text = PETSTORE.read_text(encoding="utf-8")
    where = pointer("paths", "/pet/{petId}", "get", "operationId")
    line, col = locate(text, [where])[where]
    assert text.splitlines()[line - 1].strip() == "operationId: getPetById"
    assert col == 7


def test_yaml_values_become_json_values() -> None:
    value = parse_document("a: 2024-01-02\n1: [yes, null, 1.5]\n")
    assert value == {"a": "2024-01-02", "1": ["yes", None, 1.5]}


# --------------------------------------------------------------------------- the store


def test_store_keeps_a_document_until_its_text_changes(tmp_path: Path) -> None:
    document = tmp_path / "api.yaml"
    shutil.copy(SPECS / "demo_api.yaml", document)
    shutil.copy(SPECS / "common.yaml", tmp_path / "common.yaml")
    first = PersistentContractCache(str(tmp_path / "cache")).load(str(document))
    assert first.contract is not None and first.texts  # read and parsed
    again = PersistentContractCache(str(tmp_path / "cache")).load(str(document))
    assert again.contract is not None and not again.texts  # from the store
    assert [o.operation_id for o in again.contract.operations] == [
        o.operation_id for o in first.contract.operations
    ]
    node = again.contract.operation(again.contract.by_id["getUser"])
    assert node.value["summary"] == "Look a user up by number"
    # A file reached by a $ref is part of the key: changing it is a miss.
    common = tmp_path / "common.yaml"
    common.write_text(common.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    changed = PersistentContractCache(str(tmp_path / "cache")).load(str(document))
    assert changed.contract is not None and changed.texts


def test_a_damaged_store_entry_is_a_miss(tmp_path: Path) -> None:
    cache = PersistentContractCache(str(tmp_path / "cache"))
    assert cache.load(str(PETSTORE)).contract is not None
    for entry in (tmp_path / "cache").rglob("*.marshal"):
        entry.write_bytes(b"\x00garbage")
    reloaded = PersistentContractCache(str(tmp_path / "cache")).load(str(PETSTORE))
    assert reloaded.contract is not None and reloaded.texts


def test_problems_are_kept_with_the_texts_they_point_into(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"openapi": "3.0.3", "paths": {"pets": {}}}', encoding="utf-8")
    loaded = ContractCache().load(str(broken))
    assert loaded.contract is None
    assert [p.message for p in loaded.problems] == ["path `pets` must start with `/`"]
    assert str(broken) in loaded.texts


# --------------------------------------------------------------------------- types


def test_schemas_map_to_flowc_types() -> None:
    loaded = ContractCache().load(str(PETSTORE))
    assert loaded.contract is not None
    types = SchemaTypes(loaded.contract)
    pet = types.type_of(
        Located({"$ref": "#/components/schemas/Pet"}, str(PETSTORE), ""), "response"
    )
    assert isinstance(pet, RecordT) and pet.name == "Pet"
    assert pet.field("name") is not None and not pet.field("name").optional  # type: ignore[union-attr]
    assert pet.field("id").type == INT and pet.field("id").optional  # type: ignore[union-attr]
    assert pet.field("photoUrls").type == ListT(STRING)  # type: ignore[union-attr]
    inventory = {"type": "object", "additionalProperties": {"type": "integer"}}
    assert types.type_of(Located(inventory, str(PETSTORE), ""), "response") == MapT(STRING, INT)
    nullable = {"type": ["string", "null"]}
    assert types.type_of(Located(nullable, str(PETSTORE), ""), "response") == OptionalT(STRING)


def test_a_recursive_schema_is_cut_with_json(tmp_path: Path) -> None:
    document = tmp_path / "tree.json"
    tree = {
        "type": "object",
        "properties": {
            "children": {"type": "array", "items": {"$ref": "#/components/schemas/Tree"}}
        },
    }
    document.write_text(
        json.dumps({"openapi": "3.1.0", "paths": {}, "components": {"schemas": {"Tree": tree}}}),
        encoding="utf-8",
    )
    loaded = ContractCache().load(str(document))
    assert loaded.contract is not None
    found = SchemaTypes(loaded.contract).type_of(
        Located({"$ref": "#/components/schemas/Tree"}, str(document), ""), "response"
    )
    assert str(found) == "Tree"
    assert isinstance(found, RecordT)
    assert str(found.field("children").type) == "list[json]"  # type: ignore[union-attr]


# --------------------------------------------------------------------------- running


def _flow_beside_specs(tmp_path: Path, source: str) -> Path:
    for name in ("demo_api.yaml", "common.yaml"):
        shutil.copy(SPECS / name, tmp_path / name)
    path = tmp_path / "flow.flow"
    path.write_text(source, encoding="utf-8")
    return path


async def test_the_example_registers_a_user_and_reads_the_409_body(
    demo: DemoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWC_DEMO_URL", demo.url)
    program = compile_file(str(ROOT / "examples" / "openapi_users.flow"))
    result = await program.run("register", {"user_id": "ada", "name": "Ada"})
    assert result == {"id": result["id"], "name": "Ada", "known": False}
    assert isinstance(result["id"], int)
    with pytest.raises(FlowError) as failure:
        await program.run("register", {"user_id": "ada", "name": "Ada"})
    # err.body is the document's Conflict body, decoded and validated.
    assert "cannot register ada: user_id already exists" in failure.value.message


async def test_document_auth_and_base_url_come_from_the_document(
    demo: DemoServer, tmp_path: Path
) -> None:
    port = demo.url.rsplit(":", 1)[1]
    source = f"""
service demo openapi "demo_api.yaml" {{
    url "http://127.0.0.1:{port}"
    auth "demo-key"
}}

flow who() -> string {{
    step me = call demo.whoAmI()
    step items = GET demo "/items" {{ query {{ limit: 2 }} }}
    return "${{me.body.header ?? ''}} ${{size(items.body.items)}} ${{items.body.items[0].name}}"
}}
"""
    program = compile_file(str(_flow_beside_specs(tmp_path, source)))
    result = await program.run("who", {})
    assert result.startswith("X-Api-Key 2 ")


async def test_a_response_that_breaks_the_document_is_a_decode_error(
    demo: DemoServer, tmp_path: Path
) -> None:
    port = demo.url.rsplit(":", 1)[1]
    document = json.loads(
        json.dumps(parse_document((SPECS / "demo_api.yaml").read_text(encoding="utf-8")))
    )
    document["components"]["schemas"]["Item"]["properties"]["price_cents"] = {"type": "string"}
    (tmp_path / "demo_api.yaml").write_text(json.dumps(document), encoding="utf-8")
    shutil.copy(SPECS / "common.yaml", tmp_path / "common.yaml")
    source = f"""
service demo openapi "demo_api.yaml" {{ url "http://127.0.0.1:{port}" auth "demo-key" }}

flow page() -> int {{
    step items = call demo.listItems(limit: 1)
    return size(items.body.items)
}}
"""
    path = tmp_path / "flow.flow"
    path.write_text(source, encoding="utf-8")
    program = compile_file(str(path))
    with pytest.raises(FlowError) as failure:
        await program.run("page", {})
    assert failure.value.kind == "decode"
    assert "$.items[0].price_cents: expected string" in failure.value.message


def test_swagger_2_documents_are_rejected_by_name() -> None:
    loaded = ContractCache().load(str(ROOT / "tests" / "checker" / "specs" / "swagger2.json"))
    assert loaded.contract is None
    assert loaded.problems[0].kind == "version"
    assert "Swagger 2.0 documents are not supported" in loaded.problems[0].message
