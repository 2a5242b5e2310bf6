"""flowc types as JSON Schema 2020-12, and the server's OpenAPI 3.1 document.

``type_schema`` maps a type of the language to the schema of its JSON form,
the form ``POST /v1/flows/{flow}/runs`` accepts and the results are written
in: integers with int64 (``uint``: uint64) bounds, ``float`` as number,
``bytes`` as base64 text, ``duration`` as text like ``"1.5s"``, ``timestamp``
as RFC 3339 text, ``json`` as any value, a ``secret`` as write-only text.
Records are objects whose non-optional fields are required; extra fields
are allowed, as the language's width subtyping allows them; an optional
value may be ``null``.

``openapi_document`` describes the whole server: the generic run endpoints
and, per flow, one operation (``start_<flow>``) whose request body is the
flow's inputs and whose 200 answer carries its typed result, so generated
clients get a typed method per flow.
"""

from __future__ import annotations

from typing import Any, Final

from flowc import __version__
from flowc.common import types as t
from flowc.compiler import ir

DIALECT: Final = "https://json-schema.org/draft/2020-12/schema"
_INT64: Final = {"type": "integer", "minimum": -(2**63), "maximum": 2**63 - 1}
_PRIMS: Final[dict[str, dict[str, Any]]] = {
    "int": _INT64,
    "uint": {"type": "integer", "minimum": 0, "maximum": 2**64 - 1},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "string": {"type": "string"},
    "bytes": {"type": "string", "contentEncoding": "base64"},
    "null": {"type": "null"},
    "duration": {"type": "string", "description": "a duration such as 1.5s or 250ms"},
    "timestamp": {"type": "string", "format": "date-time"},
    "json": {},
    "secret": {"type": "string", "writeOnly": True},
    "secret bytes": {"type": "string", "contentEncoding": "base64", "writeOnly": True},
}
MAX_DEPTH: Final = 64
"""Deeper types are described as any value (a schema is for people and generators)."""


def type_schema(value_type: t.Type | None, depth: int = 0) -> dict[str, Any]:
    """The JSON Schema of a value of ``value_type`` (``None``: unknown, any value)."""
    if value_type is None or depth > MAX_DEPTH:
        return {}
    if isinstance(value_type, t.Prim):
        return dict(_PRIMS.get(value_type.name, {}))
    if isinstance(value_type, t.OptionalT):
        return {"anyOf": [type_schema(value_type.inner, depth + 1), {"type": "null"}]}
    if isinstance(value_type, t.ListT):
        return {"type": "array", "items": type_schema(value_type.elem, depth + 1)}
    if isinstance(value_type, t.MapT):
        return {"type": "object", "additionalProperties": type_schema(value_type.value, depth + 1)}
    if isinstance(value_type, t.RecordT):
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {f.name: type_schema(f.type, depth + 1) for f in value_type.fields},
        }
        required = [f.name for f in value_type.fields if not f.optional]
        if required:
            schema["required"] = required
        if value_type.name:
            schema["title"] = value_type.name
        return schema
    return {}


def inputs_schema(flow: ir.FlowIR) -> dict[str, Any]:
    """The schema of the inputs object of ``flow`` (parameters with defaults optional)."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {p.name: type_schema(p.type) for p in flow.params},
        "additionalProperties": False,
    }
    required = [p.name for p in flow.params if p.default is None]
    if required:
        schema["required"] = required
    return schema


def result_schema(flow: ir.FlowIR) -> dict[str, Any]:
    return type_schema(flow.result_type)


def flow_description(flow: ir.FlowIR) -> dict[str, Any]:
    """What ``GET /v1/flows`` says of one flow."""
    return {
        "name": flow.name,
        "inputs": {"$schema": DIALECT, **inputs_schema(flow)},
        "result": {"$schema": DIALECT, **result_schema(flow)},
        "runs": f"/v1/flows/{flow.name}/runs",
    }


def _error_ref() -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _run_schema(result: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "id": {"type": "string"},
            "flow": {"type": "string"},
            "status": {"enum": ["queued", "running", "completed", "failed", "interrupted"]},
            "url": {"type": "string"},
            "result": result,
            "error": {"type": "object"},
        },
        "required": ["id", "flow", "status"],
    }


def openapi_document(flows: list[ir.FlowIR], *, secured: bool) -> dict[str, Any]:
    """The OpenAPI 3.1 description of a server offering ``flows``."""
    errors = {code: {"description": why, **_error_ref()} for code, why in _ERRORS.items()}
    paths: dict[str, Any] = {
        "/healthz": {
            "get": {"operationId": "healthz", "responses": {"200": {"description": "ok"}}}
        },
        "/v1/flows": {"get": {"operationId": "list_flows", "responses": {"200": _json_ok({})}}},
        "/v1/flows/{flow}/graph": {
            "get": {
                "operationId": "flow_graph",
                "summary": "The flow's graph (nodes, edges) and its source file's lines",
                "parameters": [_path("flow")],
                "responses": {"200": _json_ok(_GRAPH), "404": errors["404"]},
            }
        },
        "/v1/runs": {
            "get": {
                "operationId": "list_runs",
                "parameters": [
                    _query(name) for name in ("flow", "status", "since", "until", "limit", "cursor")
                ],
                "responses": {"200": _json_ok({}), "400": errors["400"]},
            }
        },
        "/v1/runs/{run_id}": {"get": _run_operation("get_run", errors)},
        "/v1/runs/{run_id}/events": {
            "get": {
                "operationId": "run_events",
                "parameters": [_path("run_id")],
                "responses": {
                    "200": {
                        "description": "the run's events, as Server-Sent Events",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    "404": errors["404"],
                },
            }
        },
        "/v1/runs/{run_id}/steps/{key}": {
            "get": {
                "operationId": "get_step",
                "summary": "One journaled step of a run, with a preview of its response",
                "parameters": [_path("run_id"), _path("key")],
                "responses": {"200": _json_ok(_STEP), "404": errors["404"]},
            }
        },
        "/v1/runs/{run_id}/cancel": {"post": _run_operation("cancel_run", errors)},
        "/v1/runs/{run_id}/resume": {"post": _run_operation("resume_run", errors)},
        "/v1/runs/{run_id}/signals/{name}": {
            "post": {
                **_run_operation("deliver_signal", errors),
                "parameters": [_path("run_id"), _path("name")],
                "requestBody": {"content": {"application/json": {"schema": {}}}},
            }
        },
    }
    schemas: dict[str, Any] = {
        "Error": {
            "type": "object",
            "properties": {
                "error": {
                    "type": "object",
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                }
            },
        }
    }
    for flow in flows:
        inputs, run = f"{flow.name}_inputs", f"{flow.name}_run"
        schemas[inputs] = inputs_schema(flow)
        schemas[run] = _run_schema(result_schema(flow))
        ref = {"$ref": f"#/components/schemas/{run}"}
        paths[f"/v1/flows/{flow.name}/runs"] = {
            "post": {
                "operationId": f"start_{flow.name}",
                "summary": f"Start a run of flow `{flow.name}`",
                "parameters": [
                    _query("wait"),
                    {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string"}},
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": f"#/components/schemas/{inputs}"}}
                    },
                },
                "responses": {
                    "200": _json_ok(ref, "the run ended within ?wait"),
                    "202": _json_ok(ref, "the run was accepted"),
                    **{code: errors[code] for code in ("400", "401", "409")},
                },
            }
        }
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "jsonSchemaDialect": DIALECT,
        "info": {"title": "flowc serve", "version": __version__},
        "paths": paths,
        "components": {"schemas": schemas},
    }
    if secured:
        document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
        document["security"] = [{"bearer": []}]
    return document


_GRAPH: Final = {
    "type": "object",
    "properties": {
        "flow": {"type": "string"},
        "nodes": {"type": "array", "items": {"type": "object"}},
        "edges": {"type": "array", "items": {"type": "object"}},
        "source": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["flow", "nodes", "edges"],
}
_STEP: Final = {
    "type": "object",
    "properties": {
        "key": {"type": "string"},
        "outcome": {"type": "string"},
        "attempts": {"type": "integer"},
        "status": {"type": "integer"},
        "error": {"type": ["object", "null"]},
        "started_at": {"type": "string"},
        "elapsed_ms": {"type": "number"},
        "response": {"type": ["object", "null"]},
    },
    "required": ["key", "outcome", "attempts"],
}
_ERRORS: Final = {
    "400": "the request is invalid (inputs, query or body)",
    "401": "no valid bearer token",
    "404": "no such flow or run",
    "409": "the run is not in a state that allows this",
}


def _json_ok(schema: dict[str, Any], description: str = "ok") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _query(name: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "schema": {"type": "string"}}


def _path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _run_operation(operation: str, errors: dict[str, Any]) -> dict[str, Any]:
    return {
        "operationId": operation,
        "parameters": [_path("run_id")],
        "responses": {
            "200": _json_ok({}),
            **{code: errors[code] for code in ("401", "404", "409")},
        },
    }
