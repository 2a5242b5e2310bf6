"""What the endpoint groups of the demo API share (see `flowc.demo.server`).

The handlers are methods of classes that each serve one group of endpoints:
`BusinessEndpoints` (`flowc.demo.business`: users, items, the orders saga) and
`HelperEndpoints` (`flowc.demo.helpers`: echo, delays, status codes, broken
connections, compression, auth). `server.DemoApi` inherits both, adds the
instrumentation endpoints and lists the routes. Every group derives from
`Endpoints`, which holds the one `DemoState` they all share.

A client mistake is raised as `BadRequest(message, status)` from anywhere inside a
handler; the application's exception handler (`server.bad_request_handler`) answers
it as `{"error": message}` with that status, 400 by default. `int_param`,
`json_object` and `required_string` read query parameters and JSON bodies that way,
so handlers state what they need and never build error responses for bad input.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse

from flowc.demo.state import DemoState, JsonObject

MAX_FAILURES = 1_000_000


class Endpoints:
    """Base of the endpoint groups; one instance per server, sharing one DemoState."""

    def __init__(self, state: DemoState) -> None:
        self.state = state


class BadRequest(Exception):
    """A client mistake, answered as `{"error": message}` with `status`."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def error(message: str, status: int, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    """Query parameter `name` as an int within [low, high]; BadRequest otherwise."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer") from None
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return value


async def json_object(request: Request) -> JsonObject:
    """The request body as a JSON object; BadRequest otherwise."""
    try:
        body = json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("body is not valid JSON") from None
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    return body


def required_string(body: JsonObject, name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{name} must be a non-empty string", status=422)
    return value
