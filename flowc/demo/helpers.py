"""The test-helper endpoints of the demo API: what real servers do to clients.

These endpoints (listed in `flowc.demo.server`) exist so that the runtime's HTTP
behaviour can be tested against a real server: `echo` reports what arrived
(method, path, query, headers, body); `delay` and `echo?delay=` hold the response
back; `status` and `flaky` answer chosen error statuses, optionally with
`Retry-After`, `flaky` only for the first N calls per key (counted in the state);
`invalid-json`, `gzip`, `deflate` and `brotli` send bodies to decode; the `auth/...`
endpoints check a bearer token, basic credentials or an API-key header (compared
in constant time) and answer 401 with a `WWW-Authenticate` challenge otherwise.

Broken connections. `/reset` and `/truncated` must break the TCP connection, which
ASGI cannot express. `StatsMiddleware` (`flowc.demo.server`) leaves the server's own
`send` in the ASGI scope under `RAW_SEND_SCOPE_KEY`; under uvicorn that is a method
of the protocol object, whose `transport` is the asyncio (or uvloop) transport.
`ConnectionReset` sets `SO_LINGER` to zero and aborts it, so the kernel sends an
RST; `TruncatedResponse` promises 1000 bytes, sends 15 and closes. Under another
server there is no transport, and they raise so that the server drops the
connection.

Delays notice a departing client: `sleep_unless_client_leaves` races the sleep
against an `http.disconnect` message, so a cancelled client request ends the
handler at once (answered 499, which nobody receives) and is counted as aborted.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import hmac
import importlib
import json
import socket
import struct
import zlib
from collections.abc import Callable
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from flowc.demo.endpoints import MAX_FAILURES, BadRequest, Endpoints, error, int_param

MAX_DELAY_MS = 60_000
DEMO_TOKEN = "demo-token"
DEMO_BASIC_USER = "demo"
DEMO_BASIC_PASSWORD = "demo-password"
DEMO_API_KEY_HEADER = "X-Api-Key"
DEMO_API_KEY = "demo-key"
RAW_SEND_SCOPE_KEY = "flowc.demo.raw_send"
"""Where StatsMiddleware leaves the server's own `send`, to reach the TCP transport."""

CLIENT_LEFT = Response(status_code=499)
"""Answer to a request whose client disconnected (nginx's 499); nobody receives it."""


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


class HelperEndpoints(Endpoints):
    """Echo, delays, statuses, flaky failures, bodies to decode and authentication."""

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
