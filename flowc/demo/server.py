"""The flowc demo API: a local HTTP server for `flowc demo`, the test suite and benchmarks.

How it works
------------
`create_app()` builds a Starlette application whose handlers are methods of `DemoApi`,
all sharing one in-memory `DemoState` (see `flowc.demo.state`). `StatsMiddleware`, a
plain ASGI layer outside Starlette, counts every request (except the server's own
`/_...` paths) while it is in flight. `serve()` runs the app on uvicorn with its
fastest parts (httptools parser, uvloop when installed), access log off, and a long
keep-alive so that pooled client connections are not closed under a benchmark. The
server is meant to run in its own process (`flowc.demo.launcher.start_demo_server`),
so that it does not compete with the client under test for the GIL.

Everything is deterministic: sequential ids, a fixed catalogue, counted failures.
JSON bodies are compact `application/json`; errors are `{"error": "..."}`.

Endpoints
---------
Users ("check then create" registration)
    GET    /users/check?user_id=U   200 {"exists": bool}; 400 without user_id
    POST   /users                   json {user_id, name, email?}
                                    -> 201 {id, user_id, name[, email]}; ids are 1, 2, ...
                                    409 {"error", "id"} when user_id exists; 400/422 bad body
    GET    /users/{id}              200 user | 404
    DELETE /users/{id}              204 | 404

Pagination over a fixed catalogue of 103 items {id, name, price_cents}
    GET    /items?cursor=&limit=10  200 {"items": [...], "next_cursor": "" | "..."}
                                    limit 1..100 (default 10); 400 on a bad cursor or limit

Orders saga; each POST accepts `?fail=STATUS` to answer that status and change nothing,
`&fail_times=N` to fail only the first N calls per (path, Idempotency-Key)
    POST   /orders                  json {item?, quantity?, amount?}
                                    -> 201 {id: "ord_N", status: "created", item, quantity, amount}
    GET    /orders/{id}             200 | 404
    DELETE /orders/{id}             200 {..., status: "cancelled"}  (compensation)
    POST   /payments                json {order_id, amount?}
                                    -> 201 {id: "pay_N", order_id, amount, status: "captured"}
                                    404 when the order does not exist
    GET    /payments/{id}           200 | 404
    POST   /payments/{id}/refund    200 {..., status: "refunded"}   (compensation)
    POST   /shipments               json {order_id, address?}
                                    -> 201 {id: "shp_N", order_id, address, status: "scheduled"}
    GET    /shipments/{id}          200 | 404
    DELETE /shipments/{id}          200 {..., status: "cancelled"}  (compensation)

Idempotency: a POST to /users, /orders, /payments or /shipments carrying an
`Idempotency-Key` header that was seen before on the same path replays the first
response (same status and body, plus `Idempotent-Replayed: true`) without acting
twice. Responses with status >= 500 are not remembered, so a retry can succeed.
`/_stats` reports how many times each key was presented.

Test helpers
    ANY  /echo[/{path}]     200 {method, path, query, args, headers, body, json}: what arrived;
                            `?delay=MS` sleeps first, `?status=N` answers N
    ANY  /delay/{ms}        sleeps ms (at most 60000), then 200 {"delayed_ms": ms}; a delayed
                            request whose client disconnects ends at once, counted as aborted
    ANY  /status/{code}     answers code (200..599) with {"status": code};
                            `?retry_after=S` adds a Retry-After header
    ANY  /flaky/{key}       `?fail=2&status=503[&retry_after=S]`: the first `fail` calls for
                            `key` answer `status`, later ones 200 {"key", "attempt", "ok"}
    ANY  /reset             takes the request, then resets the TCP connection (RST)
    ANY  /truncated         sends headers and 15 of 1000 promised bytes, then closes
    GET  /invalid-json      200 application/json whose body is not valid JSON
    GET  /gzip, /deflate    a compressed JSON body with the matching Content-Encoding;
    GET  /brotli            also /brotli (501 when no brotli module is installed)
    GET  /auth/bearer       200 with `Authorization: Bearer demo-token` (`?token=` changes it)
    GET  /auth/basic        200 with basic auth demo:demo-password (`?user=&password=`)
    GET  /auth/header       200 with `X-Api-Key: demo-key` (`?name=&value=`); all: 401 otherwise

Instrumentation (these paths are not counted in the statistics)
    GET  /_health           200 {"ok": true}
    GET  /_stats            {in_flight, peak_in_flight, total, paths: {path: count},
                             connections (distinct client TCP connections), aborted,
                             idempotency_keys: {key: count}, flaky_attempts: {key: count}}
    POST /_stats/reset      zero the statistics (the peak restarts from the current in-flight)
    POST /_reset            the statistics and all users, orders, keys and flaky counters
    GET  /_state            every user, order, payment and shipment
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hmac
import importlib
import importlib.util
import json
import socket
import struct
import sys
import threading
import zlib
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from flowc.demo.state import (
    DemoState,
    JsonObject,
    StoredResponse,
    decode_cursor,
    encode_cursor,
)

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
MAX_DELAY_MS = 60_000
MAX_FAILURES = 1_000_000
DEMO_TOKEN = "demo-token"
DEMO_BASIC_USER = "demo"
DEMO_BASIC_PASSWORD = "demo-password"
DEMO_API_KEY_HEADER = "X-Api-Key"
DEMO_API_KEY = "demo-key"
LISTEN_BACKLOG = 4096
RAW_SEND_SCOPE_KEY = "flowc.demo.raw_send"
"""Where StatsMiddleware leaves the server's own `send`, to reach the TCP transport."""

Handler = Callable[[Request], Awaitable[Response]]
CLIENT_LEFT = Response(status_code=499)
"""Answer to a request whose client disconnected (nginx's 499); nobody receives it."""


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


class TcpTransport(Protocol):
    """What we use of an asyncio (or uvloop) transport, which uvloop does not subclass."""

    def get_extra_info(self, name: str) -> Any: ...
    def close(self) -> None: ...
    def abort(self) -> None: ...


def tcp_transport(scope: Scope) -> TcpTransport | None:
    """The server's transport for this request: uvicorn's `send` is a method of an object
    holding it. None under another server, which then just drops the connection."""
    raw_send = scope.get(RAW_SEND_SCOPE_KEY)
    transport = getattr(getattr(raw_send, "__self__", None), "transport", None)
    return transport if hasattr(transport, "abort") else None


async def wait_for_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


class ConnectionReset:
    """ASGI endpoint that aborts the TCP connection with an RST instead of answering."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        transport = tcp_transport(scope)
        if transport is None:
            raise RuntimeError("connection reset requested")  # the server drops the connection
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        await wait_for_disconnect(receive)


class TruncatedResponse:
    """ASGI endpoint that promises 1000 bytes, sends 15 and closes the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        transport = tcp_transport(scope)
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"1000")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"partial": tru', "more_body": True})
        if transport is None:
            raise RuntimeError("truncated response requested")
        transport.close()
        await wait_for_disconnect(receive)


class StatsMiddleware:
    """Counts requests in flight around the whole application, and exposes the raw `send`."""

    def __init__(self, app: ASGIApp, state: DemoState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        scope[RAW_SEND_SCOPE_KEY] = send
        path: str = scope["path"]
        if path.startswith("/_"):
            await self.app(scope, receive, send)
            return
        stats = self.state.stats
        stats.request_started(path, scope.get("client"))
        try:
            await self.app(scope, receive, send)
        finally:
            stats.request_finished()


def compressed_json_response(encoding: str, compress: Callable[[bytes], bytes]) -> Response:
    payload = json.dumps({"encoding": encoding, "items": list(range(100))}).encode()
    return Response(
        compress(payload),
        media_type="application/json",
        headers={"Content-Encoding": encoding},
    )


def brotli_compressor() -> Callable[[bytes], bytes] | None:
    for module_name in ("brotli", "brotlicffi"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        compress: Callable[[bytes], bytes] = module.compress
        return compress
    return None


def basic_credentials(header: str) -> tuple[str, str] | None:
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def unauthorized(challenge: str) -> JSONResponse:
    return JSONResponse(
        {"error": "unauthorized"}, status_code=401, headers={"WWW-Authenticate": challenge}
    )


class DemoApi:
    """Request handlers; one instance per server, sharing one DemoState."""

    def __init__(self, state: DemoState) -> None:
        self.state = state

    # --- users -------------------------------------------------------------------------

    async def check_user(self, request: Request) -> Response:
        user_id = request.query_params.get("user_id")
        if not user_id:
            raise BadRequest("user_id query parameter is required")
        return JSONResponse({"exists": user_id in self.state.resources.user_ids})

    async def create_user(self, request: Request) -> Response:
        return await self.idempotent(request, self.insert_user)

    async def insert_user(self, request: Request) -> Response:
        body = await json_object(request)
        user_id = required_string(body, "user_id")
        name = required_string(body, "name")
        email = body.get("email")
        if email is not None and not isinstance(email, str):
            raise BadRequest("email must be a string", status=422)
        resources = self.state.resources
        if user_id in resources.user_ids:
            return error("user_id already exists", 409, id=resources.user_ids[user_id])
        user: JsonObject = {"id": resources.next_number("user"), "user_id": user_id, "name": name}
        if email is not None:
            user["email"] = email
        resources.users[user["id"]] = user
        resources.user_ids[user_id] = user["id"]
        return JSONResponse(user, status_code=201)

    async def get_user(self, request: Request) -> Response:
        user_number: int = request.path_params["id"]
        user = self.state.resources.users.get(user_number)
        return JSONResponse(user) if user else error("no such user", 404)

    async def delete_user(self, request: Request) -> Response:
        resources = self.state.resources
        user = resources.users.pop(request.path_params["id"], None)
        if user is None:
            return error("no such user", 404)
        del resources.user_ids[user["user_id"]]
        return Response(status_code=204)

    # --- idempotency -------------------------------------------------------------------

    async def idempotent(self, request: Request, handler: Handler) -> Response:
        """Run `handler` once per Idempotency-Key (per path); replay its response after."""
        key = request.headers.get("idempotency-key")
        if not key:
            return await handler(request)
        ledger = self.state.idempotency
        path = request.url.path
        stored = ledger.lookup(path, key)
        if stored is not None:
            return Response(
                stored.body,
                status_code=stored.status,
                media_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        response = await handler(request)
        if response.status_code < 500:
            ledger.remember(path, key, StoredResponse(response.status_code, bytes(response.body)))
        return response

    # --- pagination --------------------------------------------------------------------

    async def list_items(self, request: Request) -> Response:
        limit = int_param(request, "limit", 10, 1, 100)
        cursor = request.query_params.get("cursor", "")
        try:
            offset = decode_cursor(cursor) if cursor else 0
        except ValueError:
            raise BadRequest("invalid cursor") from None
        items = self.state.items
        page = items[offset : offset + limit]
        end = offset + len(page)
        next_cursor = encode_cursor(end) if end < len(items) else ""
        return JSONResponse({"items": page, "next_cursor": next_cursor})

    # --- orders saga -------------------------------------------------------------------

    async def create_order(self, request: Request) -> Response:
        return await self.idempotent(request, self.insert_order)

    async def insert_order(self, request: Request) -> Response:
        if failure := self.injected_failure(request):
            return failure
        body = await json_object(request)
        resources = self.state.resources
        order_id = f"ord_{resources.next_number('order')}"
        order: JsonObject = {
            "id": order_id,
            "status": "created",
            "item": body.get("item", "widget"),
            "quantity": body.get("quantity", 1),
            "amount": body.get("amount", 0),
        }
        resources.orders[order_id] = order
        return JSONResponse(order, status_code=201)

    async def get_order(self, request: Request) -> Response:
        return self.found(self.state.resources.orders, request, "order")

    async def cancel_order(self, request: Request) -> Response:
        return self.set_status(self.state.resources.orders, request, "order", "cancelled")

    async def create_payment(self, request: Request) -> Response:
        return await self.idempotent(request, self.insert_payment)

    async def insert_payment(self, request: Request) -> Response:
        if failure := self.injected_failure(request):
            return failure
        body = await json_object(request)
        order_id = required_string(body, "order_id")
        resources = self.state.resources
        if order_id not in resources.orders:
            return error("no such order", 404)
        payment_id = f"pay_{resources.next_number('payment')}"
        payment: JsonObject = {
            "id": payment_id,
            "order_id": order_id,
            "amount": body.get("amount", resources.orders[order_id]["amount"]),
            "status": "captured",
        }
        resources.payments[payment_id] = payment
        return JSONResponse(payment, status_code=201)

    async def get_payment(self, request: Request) -> Response:
        return self.found(self.state.resources.payments, request, "payment")

    async def refund_payment(self, request: Request) -> Response:
        return self.set_status(self.state.resources.payments, request, "payment", "refunded")

    async def create_shipment(self, request: Request) -> Response:
        return await self.idempotent(request, self.insert_shipment)

    async def insert_shipment(self, request: Request) -> Response:
        if failure := self.injected_failure(request):
            return failure
        body = await json_object(request)
        order_id = required_string(body, "order_id")
        resources = self.state.resources
        if order_id not in resources.orders:
            return error("no such order", 404)
        shipment_id = f"shp_{resources.next_number('shipment')}"
        shipment: JsonObject = {
            "id": shipment_id,
            "order_id": order_id,
            "address": body.get("address", ""),
            "status": "scheduled",
        }
        resources.shipments[shipment_id] = shipment
        return JSONResponse(shipment, status_code=201)

    async def get_shipment(self, request: Request) -> Response:
        return self.found(self.state.resources.shipments, request, "shipment")

    async def cancel_shipment(self, request: Request) -> Response:
        return self.set_status(self.state.resources.shipments, request, "shipment", "cancelled")

    def injected_failure(self, request: Request) -> JSONResponse | None:
        """The error asked for with `?fail=STATUS[&fail_times=N]`, if this call must fail."""
        if "fail" not in request.query_params:
            return None
        status = int_param(request, "fail", 500, 400, 599)
        times = int_param(request, "fail_times", MAX_FAILURES, 0, MAX_FAILURES)
        key = f"{request.url.path} {request.headers.get('idempotency-key', '')}"
        if self.state.injected_failures[key] >= times:
            return None
        self.state.injected_failures[key] += 1
        return error("injected failure", status)

    @staticmethod
    def found(table: dict[str, JsonObject], request: Request, kind: str) -> Response:
        record = table.get(request.path_params["id"])
        return JSONResponse(record) if record else error(f"no such {kind}", 404)

    @staticmethod
    def set_status(
        table: dict[str, JsonObject], request: Request, kind: str, status: str
    ) -> Response:
        record = table.get(request.path_params["id"])
        if record is None:
            return error(f"no such {kind}", 404)
        record["status"] = status
        return JSONResponse(record)

    # --- test helpers ------------------------------------------------------------------

    async def echo(self, request: Request) -> Response:
        delay_ms = int_param(request, "delay", 0, 0, MAX_DELAY_MS)
        status = int_param(request, "status", 200, 200, 599)
        body = await request.body()
        if delay_ms and not await self.sleep_unless_client_leaves(request, delay_ms / 1000):
            return CLIENT_LEFT
        text = body.decode("utf-8", errors="replace")
        try:
            parsed: Any = json.loads(body) if body else None
        except (json.JSONDecodeError, UnicodeDecodeError):
            parsed = None
        echoed = {
            "method": request.method,
            "path": request.url.path,
            "query": request.url.query,
            "args": dict(request.query_params),
            "headers": dict(request.headers),
            "body": text,
            "json": parsed,
        }
        return JSONResponse(echoed, status_code=status)

    async def delay(self, request: Request) -> Response:
        delay_ms: int = request.path_params["ms"]
        if delay_ms > MAX_DELAY_MS:
            raise BadRequest(f"delay must be at most {MAX_DELAY_MS} ms")
        if not await self.sleep_unless_client_leaves(request, delay_ms / 1000):
            return CLIENT_LEFT
        return JSONResponse({"delayed_ms": delay_ms})

    async def sleep_unless_client_leaves(self, request: Request, seconds: float) -> bool:
        """Sleep, unless the client disconnects first: then count an abort, return False."""
        await request.body()  # once the body is read, `receive` only reports a disconnect
        sleeping = asyncio.ensure_future(asyncio.sleep(seconds))
        leaving = asyncio.ensure_future(wait_for_disconnect(request.receive))
        done, pending = await asyncio.wait({sleeping, leaving}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        if leaving in done:
            self.state.stats.aborted += 1
            return False
        return True

    async def status(self, request: Request) -> Response:
        code: int = request.path_params["code"]
        if not 200 <= code <= 599:
            raise BadRequest("status must be between 200 and 599")
        headers = self.retry_after_header(request)
        if code in (204, 304) or request.method == "HEAD":
            return Response(status_code=code, headers=headers)
        return JSONResponse({"status": code}, status_code=code, headers=headers)

    async def flaky(self, request: Request) -> Response:
        key: str = request.path_params["key"]
        failures = int_param(request, "fail", 2, 0, MAX_FAILURES)
        status = int_param(request, "status", 503, 400, 599)
        self.state.flaky_attempts[key] += 1
        attempt = self.state.flaky_attempts[key]
        if attempt <= failures:
            body = {"key": key, "attempt": attempt, "error": "flaky failure"}
            return JSONResponse(body, status_code=status, headers=self.retry_after_header(request))
        return JSONResponse({"key": key, "attempt": attempt, "ok": True})

    @staticmethod
    def retry_after_header(request: Request) -> dict[str, str]:
        retry_after = request.query_params.get("retry_after")
        return {"Retry-After": retry_after} if retry_after else {}

    async def invalid_json(self, request: Request) -> Response:
        return Response(b'{"items": [1, 2,', media_type="application/json")

    async def gzip(self, request: Request) -> Response:
        return compressed_json_response("gzip", lambda data: gzip.compress(data, mtime=0))

    async def deflate(self, request: Request) -> Response:
        return compressed_json_response("deflate", zlib.compress)

    async def brotli(self, request: Request) -> Response:
        compress = brotli_compressor()
        if compress is None:
            return error("brotli is not installed on the server", 501)
        return compressed_json_response("br", compress)

    async def auth_bearer(self, request: Request) -> Response:
        expected = request.query_params.get("token", DEMO_TOKEN)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not same_secret(token, expected):
            return unauthorized('Bearer realm="flowc-demo"')
        return JSONResponse({"authenticated": True, "scheme": "bearer"})

    async def auth_basic(self, request: Request) -> Response:
        user = request.query_params.get("user", DEMO_BASIC_USER)
        password = request.query_params.get("password", DEMO_BASIC_PASSWORD)
        given = basic_credentials(request.headers.get("authorization", ""))
        if given is None or not (same_secret(given[0], user) and same_secret(given[1], password)):
            return unauthorized('Basic realm="flowc-demo"')
        return JSONResponse({"authenticated": True, "scheme": "basic", "user": user})

    async def auth_header(self, request: Request) -> Response:
        name = request.query_params.get("name", DEMO_API_KEY_HEADER)
        expected = request.query_params.get("value", DEMO_API_KEY)
        if not same_secret(request.headers.get(name, ""), expected):
            return unauthorized(f'ApiKey header="{name}"')
        return JSONResponse({"authenticated": True, "scheme": "header", "header": name})

    # --- instrumentation ---------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def stats(self, request: Request) -> Response:
        return JSONResponse(self.state.stats_snapshot())

    async def reset_stats(self, request: Request) -> Response:
        self.state.stats.reset()
        return JSONResponse(self.state.stats_snapshot())

    async def reset_all(self, request: Request) -> Response:
        self.state.reset()
        return JSONResponse(self.state.stats_snapshot())

    async def dump_state(self, request: Request) -> Response:
        return JSONResponse(self.state.resources.snapshot())

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/users/check", self.check_user, methods=["GET"]),
            Route("/users", self.create_user, methods=["POST"]),
            Route("/users/{id:int}", self.get_user, methods=["GET"]),
            Route("/users/{id:int}", self.delete_user, methods=["DELETE"]),
            Route("/items", self.list_items, methods=["GET"]),
            Route("/orders", self.create_order, methods=["POST"]),
            Route("/orders/{id}", self.get_order, methods=["GET"]),
            Route("/orders/{id}", self.cancel_order, methods=["DELETE"]),
            Route("/payments", self.create_payment, methods=["POST"]),
            Route("/payments/{id}", self.get_payment, methods=["GET"]),
            Route("/payments/{id}/refund", self.refund_payment, methods=["POST"]),
            Route("/shipments", self.create_shipment, methods=["POST"]),
            Route("/shipments/{id}", self.get_shipment, methods=["GET"]),
            Route("/shipments/{id}", self.cancel_shipment, methods=["DELETE"]),
            Route("/echo", self.echo, methods=ALL_METHODS),
            Route("/echo/{rest:path}", self.echo, methods=ALL_METHODS),
            Route("/delay/{ms:int}", self.delay, methods=ALL_METHODS),
            Route("/status/{code:int}", self.status, methods=ALL_METHODS),
            Route("/flaky/{key}", self.flaky, methods=ALL_METHODS),
            Route("/reset", ConnectionReset(), methods=ALL_METHODS),
            Route("/truncated", TruncatedResponse(), methods=ALL_METHODS),
            Route("/invalid-json", self.invalid_json, methods=["GET"]),
            Route("/gzip", self.gzip, methods=["GET"]),
            Route("/deflate", self.deflate, methods=["GET"]),
            Route("/brotli", self.brotli, methods=["GET"]),
            Route("/auth/bearer", self.auth_bearer, methods=["GET"]),
            Route("/auth/basic", self.auth_basic, methods=["GET"]),
            Route("/auth/header", self.auth_header, methods=["GET"]),
            Route("/_health", self.health, methods=["GET"]),
            Route("/_stats", self.stats, methods=["GET"]),
            Route("/_stats/reset", self.reset_stats, methods=["POST"]),
            Route("/_reset", self.reset_all, methods=["POST"]),
            Route("/_state", self.dump_state, methods=["GET"]),
        ]


async def bad_request_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BadRequest)
    return error(exc.message, exc.status)


def create_app(state: DemoState | None = None) -> ASGIApp:
    """The demo API as an ASGI application (statistics layer outermost)."""
    state = state or DemoState()
    api = DemoApi(state)
    app = Starlette(routes=api.routes(), exception_handlers={BadRequest: bad_request_handler})
    return StatsMiddleware(app, state)


def uvicorn_config(app: ASGIApp, log_level: str = "warning") -> uvicorn.Config:
    """uvicorn settings for a fast, quiet local test server."""
    return uvicorn.Config(
        app,
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
        loop="auto",
        lifespan="off",
        log_level=log_level,
        access_log=False,
        server_header=False,
        proxy_headers=False,
        timeout_keep_alive=75,
        timeout_graceful_shutdown=2,
        backlog=LISTEN_BACKLOG,
    )


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to (host, port) and listening; port 0 picks a free port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        if sys.platform != "win32":  # restart at once on a port left in TIME_WAIT
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(LISTEN_BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def stop_when_stdin_closes(server: uvicorn.Server) -> None:
    """Ask `server` to exit once our stdin reaches EOF (the parent process went away)."""

    def watch() -> None:
        while sys.stdin.buffer.read(4096):
            pass
        server.should_exit = True

    threading.Thread(target=watch, name="stdin-watch", daemon=True).start()


def run_server(
    sock: socket.socket, log_level: str = "warning", exit_on_stdin_eof: bool = False
) -> None:
    """Serve the demo API on a listening socket until SIGINT/SIGTERM (or stdin EOF)."""
    server = uvicorn.Server(uvicorn_config(create_app(), log_level))
    if exit_on_stdin_eof:
        stop_when_stdin_closes(server)
    server.run(sockets=[sock])
