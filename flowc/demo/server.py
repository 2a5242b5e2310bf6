"""The flowc demo API: a local HTTP server for `flowc demo`, the test suite and benchmarks.

How it works
------------
`create_app()` builds a Starlette application whose handlers are methods of `DemoApi`,
all sharing one in-memory `DemoState` (see `flowc.demo.state`). `DemoApi` inherits the
business endpoints from `flowc.demo.business` and the test helpers from
`flowc.demo.helpers` (each module's essay says how they work), adds the
instrumentation endpoints and lists every route. `StatsMiddleware`, a
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
    GET    /check?user_id=U         as /users/check (the paths of the step-list example,
    POST   /create                  examples/user_registration_flow.json); /create is
                                    POST /users with `name` optional (default: user_id)

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

import importlib.util
import socket
import sys
import threading

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from flowc.demo.business import BusinessEndpoints
from flowc.demo.endpoints import BadRequest, error
from flowc.demo.helpers import (
    RAW_SEND_SCOPE_KEY,
    ConnectionReset,
    HelperEndpoints,
    TruncatedResponse,
)
from flowc.demo.state import DemoState

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
LISTEN_BACKLOG = 4096


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


class DemoApi(BusinessEndpoints, HelperEndpoints):
    """Request handlers; one instance per server, sharing one DemoState."""

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
            Route("/check", self.check_user, methods=["GET"]),
            Route("/create", self.create_user_by_id, methods=["POST"]),
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
