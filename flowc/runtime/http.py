"""The HTTP invoker: the only way the flowc runtime talks HTTP.

What it does
------------
`HttpInvoker` is created once per run (`async with HttpInvoker() as http:`) and owns
that run's connections. `await http.send(HttpRequest(...))` returns an `HttpResponse`
whose body is fully read and decoded (gzip, deflate, br, zstd: whatever httpx decodes),
or raises `TransportError` with a `kind` the runtime maps onto the language's error
kinds: "connect" (no connection could be made), "timeout", "protocol" (the connection
broke or the server spoke bad HTTP), "invalid_request" (a malformed URL or header: a
user mistake, never worth retrying). Messages never contain header values, where
secrets travel, nor the URL's query string.

Behaviour a user of curl or httpx expects, on purpose:
- TLS certificates are verified (certifi, or SSL_CERT_FILE / SSL_CERT_DIR).
- HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY are honoured exactly as httpx does:
  httpx itself routes each request (`trust_env=True`).
- Redirects are not followed (curl without -L, httpx's default): an API answering 3xx
  is telling the flow something, and following it silently could replay a POST or send
  an Authorization header to another host. `HttpInvoker(follow_redirects=True)` opts in.
- No cookie jar: a flow's requests carry exactly the headers the flow declares.
- No httpx-level timeouts by default: the runtime time-boxes steps with trio cancel
  scopes, and a cancelled `send` aborts its request. `HttpRequest.timeout` asks for an
  httpx timeout instead, reported as `TransportError("timeout")`.
- `HttpRequest.params` are appended to the URL's own query string, in order.
- HTTP/1.1 (httpx's default; HTTP/2 would need the h2 package and multiplexing).
- httpcore's DEBUG traces (which include response headers) are silenced.
It runs under trio only (the runtime's event loop).

Why it has its own connection pool
----------------------------------
httpx's pool (httpcore's `AsyncConnectionPool`) slows down as requests overlap: under
trio, 50 requests in flight through one shared client run slower than the same client
used sequentially. The pool hands an idle connection to a request but the connection
only becomes busy after that request's task passes two trio checkpoints (lock
acquisitions), so newcomers are handed the same connection, fail with
`ConnectionNotAvailable` and rescan the pool, a scan that costs O(connections) with a
`poll()` syscall per idle connection and an O(connections^2) idle count.
docs/http-performance.md has the measurements and line references.

`ConnectionPool` below keeps the parts of httpcore that are right (its HTTP/1.1
connections, TLS, keep-alive expiry, cancellation handling) and replaces the
bookkeeping: a request takes a connection out of a per-origin idle stack in one
synchronous step (so no other task can be handed it), and puts it back when its
response is closed. That is O(1) per request, with one `poll()` on the connection being
reused. A `trio.Semaphore` bounds requests in flight (and so connections in use) by
`max_connections`, with fair FIFO waiting; idle connections of other origins are closed
to make room when the limit is reached. It is plugged into httpx as the client's default
transport, so URL handling, header merging, content decoding, redirects and proxy
routing stay httpx's own. Requests routed through a proxy use httpx's standard proxy
transport (its own pool, bounded by the same limits).
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import logging
import math
import ssl
import time
import urllib.request
from collections.abc import AsyncIterable, AsyncIterator, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

import attrs
import httpcore
import httpx
import trio

_T = TypeVar("_T")
TransportErrorKind = Literal["connect", "timeout", "protocol", "invalid_request"]

DEFAULT_MAX_CONNECTIONS = 100
DEFAULT_KEEPALIVE_EXPIRY = 5.0
USER_AGENT = "flowc/0.1"


@attrs.frozen
class HttpRequest:
    """One HTTP request, fully built by the runtime (auth headers included)."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    params: tuple[tuple[str, str], ...] = ()
    content: bytes | None = None
    timeout: float | None = None
    """Seconds for each of connect, write, read and pool wait; None: no httpx timeout."""


@attrs.frozen
class HttpResponse:
    """A complete response: body read and content-decoded, header names lower-cased."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes
    elapsed: float
    """Seconds from `send` being called to the body being read, pool wait included."""
    http_version: str = "HTTP/1.1"

    def header(self, name: str) -> str | None:
        """The first value of header `name` (case-insensitive), or None."""
        wanted = name.lower()
        return next((value for key, value in self.headers if key == wanted), None)


class TransportError(Exception):
    """No (complete) response: the network, the server's HTTP, or a malformed request."""

    def __init__(self, kind: TransportErrorKind, message: str, *, may_have_been_sent: bool) -> None:
        super().__init__(message)
        self.kind: TransportErrorKind = kind
        self.message = message
        self.may_have_been_sent = may_have_been_sent
        """False when the request certainly never reached the server (safe to resend)."""


# --- the connection pool ------------------------------------------------------------------


_OriginKey = tuple[bytes, bytes, int]
"""(scheme, host, port): httpcore.Origin is not hashable."""


@attrs.define
class _IdleConnection:
    connection: httpcore.AsyncConnectionInterface
    idle_since: float


class LazySSLContext:
    """The default TLS context, made when the first ``https`` request needs it.

    Loading the CA bundle takes 20-40 ms; a run that only talks plain HTTP (a
    local service, the demo) should not pay for it before its first request.
    It is made once, in a worker thread so the event loop keeps running.
    """

    def __init__(self, trust_env: bool) -> None:
        self._trust_env = trust_env
        self._context: ssl.SSLContext | None = None
        self._lock = trio.Lock()

    async def get(self) -> ssl.SSLContext:
        async with self._lock:
            if self._context is None:
                trust_env = self._trust_env
                self._context = await trio.to_thread.run_sync(
                    lambda: httpx.create_ssl_context(trust_env=trust_env)
                )
        return self._context


class ConnectionPool:
    """An httpcore-compatible pool of HTTP/1.1 connections for trio, O(1) per request.

    Invariant between awaits: `open_count == len(busy) + idle_count`, and at most
    `max_connections` requests are in flight (each holding one semaphore token and one
    connection), so at most `max_connections` connections are open.
    """

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | LazySSLContext,
        max_connections: int,
        max_idle_connections: int,
        keepalive_expiry: float | None,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self._ssl_context = ssl_context
        self._max_connections = max_connections
        self._max_idle_connections = max_idle_connections
        self._keepalive_expiry = keepalive_expiry
        self._network_backend = network_backend or httpcore.TrioBackend()
        self._slots = trio.Semaphore(max_connections)
        self._idle: dict[_OriginKey, list[_IdleConnection]] = {}
        self._idle_count = 0
        self._busy: dict[httpcore.AsyncConnectionInterface, _OriginKey] = {}
        self._open_count = 0
        self._next_sweep = -math.inf
        self._closed = False

    @property
    def open_connections(self) -> int:
        return self._open_count

    @property
    def idle_connections(self) -> int:
        return self._idle_count

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        if self._closed:
            raise RuntimeError("the connection pool is closed")
        if request.url.scheme not in (b"http", b"https"):
            raise httpcore.UnsupportedProtocol("the URL scheme must be http or https")
        if request.url.scheme == b"https" and isinstance(self._ssl_context, LazySSLContext):
            self._ssl_context = await self._ssl_context.get()
        await self._acquire_slot(request)
        if self._closed:  # closed while we waited for a slot
            self._slots.release()
            raise RuntimeError("the connection pool is closed")
        connection: httpcore.AsyncConnectionInterface | None = None
        try:
            connection, stale = self._take_connection(request.url.origin)
            await _close_all(stale)
            response = await connection.handle_async_request(request)
        except BaseException:
            await self._give_back(connection)
            raise
        assert isinstance(response.stream, AsyncIterable)
        return httpcore.Response(
            status=response.status,
            headers=response.headers,
            content=_GiveBackOnClose(response.stream, self, connection),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        self._closed = True
        connections = [entry.connection for stack in self._idle.values() for entry in stack]
        connections.extend(self._busy)
        self._idle.clear()
        self._busy.clear()
        self._idle_count = self._open_count = 0
        await _close_all(connections)

    async def _acquire_slot(self, request: httpcore.Request) -> None:
        """Take a request-in-flight token, waiting at most the request's pool timeout."""
        try:
            self._slots.acquire_nowait()
        except trio.WouldBlock:
            timeout = request.extensions.get("timeout", {}).get("pool")
            with trio.move_on_after(math.inf if timeout is None else timeout) as waited:
                await self._slots.acquire()
            if waited.cancelled_caught:
                raise httpcore.PoolTimeout("timed out waiting for a free connection") from None

    def _take_connection(
        self, origin: httpcore.Origin
    ) -> tuple[httpcore.AsyncConnectionInterface, list[httpcore.AsyncConnectionInterface]]:
        """A connection to `origin` now marked busy, and stale ones to close (synchronous)."""
        stale: list[httpcore.AsyncConnectionInterface] = []
        key = (origin.scheme, origin.host, origin.port)
        stack = self._idle.get(key)
        while stack:
            connection = stack.pop().connection
            self._idle_count -= 1
            if connection.has_expired() or not connection.is_idle():
                self._open_count -= 1
                stale.append(connection)
                continue
            self._busy[connection] = key
            return connection, stale
        if self._open_count >= self._max_connections:
            stale.append(self._pop_least_recently_used())
            self._open_count -= 1
        context = self._ssl_context
        connection = httpcore.AsyncHTTPConnection(
            origin=origin,
            ssl_context=context if isinstance(context, ssl.SSLContext) else None,
            keepalive_expiry=self._keepalive_expiry,
            network_backend=self._network_backend,
        )
        self._open_count += 1
        self._busy[connection] = key
        return connection, stale

    def _pop_least_recently_used(self) -> httpcore.AsyncConnectionInterface:
        """Remove the idle connection unused for longest (there is one when we are full)."""
        key = min(
            (key for key, stack in self._idle.items() if stack),
            key=lambda key: self._idle[key][0].idle_since,
        )
        self._idle_count -= 1
        return self._idle[key].pop(0).connection

    async def _give_back(self, connection: httpcore.AsyncConnectionInterface | None) -> None:
        """Return the token, and the connection to the idle stack if it can be reused."""
        self._slots.release()
        key = None if connection is None else self._busy.pop(connection, None)
        if connection is None or key is None:
            return
        now = time.monotonic()
        reusable = not connection.is_closed() and connection.is_idle()
        if self._closed or not reusable or self._idle_count >= self._max_idle_connections:
            self._open_count -= 1
            stale = [connection]
        else:
            self._idle.setdefault(key, []).append(_IdleConnection(connection, now))
            self._idle_count += 1
            stale = []
        stale.extend(self._sweep_expired(now))
        await _close_all(stale)

    def _sweep_expired(self, now: float) -> list[httpcore.AsyncConnectionInterface]:
        """Idle connections past their keep-alive expiry; runs at most twice per expiry."""
        if self._keepalive_expiry is None or now < self._next_sweep:
            return []
        self._next_sweep = now + self._keepalive_expiry / 2
        deadline = now - self._keepalive_expiry
        expired: list[httpcore.AsyncConnectionInterface] = []
        for stack in self._idle.values():
            count = sum(1 for entry in stack if entry.idle_since <= deadline)
            expired.extend(entry.connection for entry in stack[:count])
            del stack[:count]
        self._idle_count -= len(expired)
        self._open_count -= len(expired)
        return expired


class _GiveBackOnClose:
    """A response body stream that returns its connection to the pool when closed."""

    def __init__(
        self,
        stream: AsyncIterable[bytes],
        pool: ConnectionPool,
        connection: httpcore.AsyncConnectionInterface,
    ) -> None:
        self._stream = stream
        self._pool = pool
        self._connection = connection
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            with trio.CancelScope(shield=True):
                aclose = getattr(self._stream, "aclose", None)
                if aclose is not None:
                    await aclose()
        finally:
            await self._pool._give_back(self._connection)


async def _close_all(connections: Sequence[httpcore.AsyncConnectionInterface]) -> None:
    """Close discarded connections, shielded from cancellation; their errors don't matter."""
    if not connections:
        return
    with trio.CancelScope(shield=True):
        for connection in connections:
            with contextlib.suppress(Exception):  # a discarded connection has nothing to lose
                await connection.aclose()


# --- plugging the pool into httpx ---------------------------------------------------------

_HTTPCORE_TO_HTTPX: dict[type[Exception], type[httpx.TransportError]] = {
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.ProxyError: httpx.ProxyError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
    httpcore.ProtocolError: httpx.ProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
}


@contextlib.contextmanager
def _httpx_exceptions() -> Iterator[None]:
    """Re-raise httpcore errors as the most specific httpx error, as httpx's transport does."""
    try:
        yield
    except Exception as exc:
        mapped = _most_specific(type(exc), _HTTPCORE_TO_HTTPX)
        if mapped is None:
            raise
        raise mapped(str(exc)) from exc


def _most_specific(cls: type[BaseException], table: Mapping[type[Any], _T]) -> _T | None:
    """The entry of `table` for `cls` or its nearest base class."""
    return next((table[base] for base in cls.__mro__ if base in table), None)


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_exceptions():
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        aclose = getattr(self._stream, "aclose", None)
        if aclose is not None:
            await aclose()


class PooledTransport(httpx.AsyncBaseTransport):
    """An httpx transport over `ConnectionPool` (httpx's own converts the same way)."""

    def __init__(self, ssl_context: ssl.SSLContext | LazySSLContext, limits: httpx.Limits) -> None:
        max_connections = limits.max_connections or DEFAULT_MAX_CONNECTIONS
        max_idle = limits.max_keepalive_connections
        self.pool = ConnectionPool(
            ssl_context=ssl_context,
            max_connections=max_connections,
            max_idle_connections=max_connections if max_idle is None else max_idle,
            keepalive_expiry=limits.keepalive_expiry,
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_exceptions():
            response = await self.pool.handle_async_request(core_request)
        assert isinstance(response.stream, AsyncIterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self.pool.aclose()


_DEFAULT_LIMITS = httpx.Limits(max_connections=DEFAULT_MAX_CONNECTIONS)


class _FlowcClient(httpx.AsyncClient):
    """httpx's client with `PooledTransport` as its default (non-proxied) transport.

    Overriding `_init_transport`, rather than passing `transport=`, keeps httpx's handling
    of proxy environment variables: httpx ignores them when given a transport.
    """

    def _init_transport(
        self,
        verify: ssl.SSLContext | str | bool = True,
        cert: httpx._types.CertTypes | None = None,
        trust_env: bool = True,
        http1: bool = True,
        http2: bool = False,
        limits: httpx.Limits = _DEFAULT_LIMITS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> httpx.AsyncBaseTransport:
        if transport is not None:
            return transport
        if verify is True and cert is None:  # the default context: made when first needed
            return PooledTransport(LazySSLContext(trust_env), limits)
        if not isinstance(verify, ssl.SSLContext):
            verify = httpx.create_ssl_context(verify=verify, cert=cert, trust_env=trust_env)
        return PooledTransport(verify, limits)


class _RefuseAllCookies(http.cookiejar.CookiePolicy):
    """A cookie policy that neither stores nor sends cookies."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = True

    def set_ok(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        return False

    def return_ok(self, cookie: http.cookiejar.Cookie, request: urllib.request.Request) -> bool:
        return False

    def domain_return_ok(self, domain: str, request: urllib.request.Request) -> bool:
        return False

    def path_return_ok(self, path: str, request: urllib.request.Request) -> bool:
        return False


# --- the invoker --------------------------------------------------------------------------


class HttpInvoker:
    """Sends the HTTP requests of one run over one connection pool.

    Use as `async with HttpInvoker() as http: response = await http.send(request)`.
    `send` is safe to call from many trio tasks at once and to cancel at any point.
    """

    def __init__(
        self,
        *,
        max_connections: int = DEFAULT_MAX_CONNECTIONS,
        max_idle_connections: int | None = None,
        keepalive_expiry: float = DEFAULT_KEEPALIVE_EXPIRY,
        ssl_context: ssl.SSLContext | None = None,
        trust_env: bool = True,
        follow_redirects: bool = False,
        user_agent: str = USER_AGENT,
    ) -> None:
        if max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        self._limits = httpx.Limits(
            max_connections=max_connections,
            max_keepalive_connections=(
                max_connections if max_idle_connections is None else max_idle_connections
            ),
            keepalive_expiry=keepalive_expiry,
        )
        self._ssl_context = ssl_context
        self._trust_env = trust_env
        self._follow_redirects = follow_redirects
        self._user_agent = user_agent
        self._client: httpx.AsyncClient | None = None

    async def __aenter__(self) -> Self:
        _silence_httpcore_debug_logs()
        # Without an explicit context the pool makes the default one when the first
        # https request needs it (LazySSLContext); proxies, if configured, get
        # httpx's default context.
        verify: ssl.SSLContext | bool = self._ssl_context or True
        self._client = _FlowcClient(
            verify=verify,
            trust_env=self._trust_env,
            limits=self._limits,
            timeout=None,
            follow_redirects=self._follow_redirects,
            headers={"User-Agent": self._user_agent},
            cookies=http.cookiejar.CookieJar(policy=_RefuseAllCookies()),
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        client, self._client = self._client, None
        if client is not None:
            with trio.CancelScope(shield=True):
                await client.aclose()

    @property
    def pool(self) -> ConnectionPool:
        """The pool behind non-proxied requests (for tests and statistics)."""
        transport = self._require_client()._transport
        assert isinstance(transport, PooledTransport), "httpx no longer calls _init_transport"
        return transport.pool

    async def send(self, request: HttpRequest) -> HttpResponse:
        """Send `request` and read its whole body; TransportError when no response came."""
        client = self._require_client()
        started = time.perf_counter()
        try:
            built = client.build_request(
                request.method,
                _url_with_params(request.url, request.params),
                headers=list(request.headers),
                content=request.content,
                timeout=httpx.USE_CLIENT_DEFAULT if request.timeout is None else request.timeout,
            )
        except (httpx.InvalidURL, UnicodeEncodeError, _BadUrl, TypeError) as exc:
            raise _invalid_request(request, exc) from None
        try:
            response = await client.send(built)
        except httpx.HTTPError as exc:
            raise _transport_error(request, exc) from None
        return HttpResponse(
            status=response.status_code,
            headers=tuple(response.headers.multi_items()),
            body=response.content,
            elapsed=time.perf_counter() - started,
            http_version=response.http_version,
        )

    def _require_client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("HttpInvoker must be used as `async with HttpInvoker() as http:`")
        return self._client


class _BadUrl(ValueError):
    """A URL httpx can parse but no request can be sent to."""


def _url_with_params(url: str, params: tuple[tuple[str, str], ...]) -> httpx.URL:
    """`url` with `params` appended to its query string (httpx 0.28 would replace it)."""
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https"):
        raise _BadUrl("the URL scheme must be http or https")
    if not parsed.host:
        raise _BadUrl("the URL has no host")
    if not params:
        return parsed
    extra = str(httpx.QueryParams(list(params))).encode("ascii")
    return parsed.copy_with(query=parsed.query + b"&" + extra if parsed.query else extra)


def _silence_httpcore_debug_logs() -> None:
    """httpcore's DEBUG traces print response headers; secrets can travel there."""
    logger = logging.getLogger("httpcore")
    if logger.level < logging.INFO:
        logger.setLevel(logging.INFO)


# --- errors -------------------------------------------------------------------------------

# (kind, may the request have reached the server, what happened), most specific class first
_ERROR_KINDS: dict[type[httpx.HTTPError], tuple[TransportErrorKind, bool, str]] = {
    httpx.ConnectTimeout: ("timeout", False, "timed out connecting"),
    httpx.PoolTimeout: ("timeout", False, "timed out waiting for a free connection"),
    httpx.ReadTimeout: ("timeout", True, "timed out waiting for the response"),
    httpx.WriteTimeout: ("timeout", True, "timed out sending the request"),
    httpx.TimeoutException: ("timeout", True, "timed out"),
    httpx.ConnectError: ("connect", False, "could not connect"),
    httpx.ProxyError: ("connect", False, "the proxy refused the connection"),
    httpx.ReadError: ("protocol", True, "the connection broke while reading the response"),
    httpx.WriteError: ("protocol", True, "the connection broke while sending the request"),
    httpx.NetworkError: ("protocol", True, "the connection broke"),
    httpx.RemoteProtocolError: ("protocol", True, "the server broke the HTTP protocol"),
    httpx.LocalProtocolError: (
        "invalid_request",
        False,
        "a header name or value has characters HTTP does not allow",
    ),
    httpx.UnsupportedProtocol: ("invalid_request", False, "the URL scheme is not http or https"),
    httpx.DecodingError: ("protocol", True, "the response body could not be decoded"),
    httpx.TooManyRedirects: ("protocol", True, "too many redirects"),
}
_DETAIL_IS_SAFE = (httpx.TimeoutException, httpx.NetworkError, httpx.ProxyError)
"""Errors whose text comes from the OS or TLS library, never from request headers."""
_SAFE_PROTOCOL_DETAILS = ("Server disconnected", "peer closed connection")
"""Protocol error texts that quote no header; others (h11's) may quote a header value."""


def _transport_error(request: HttpRequest, exc: httpx.HTTPError) -> TransportError:
    kind, sent, what = _most_specific(type(exc), _ERROR_KINDS) or (
        "protocol",
        True,
        "the request failed",
    )
    detail = _safe_detail(exc)
    message = f"{request.method} {_printable_url(request.url)}: {what}"
    if detail:
        message = f"{message} ({_redact(detail, request)})"
    return TransportError(kind, message, may_have_been_sent=sent)


def _safe_detail(exc: httpx.HTTPError) -> str:
    """What the OS, the TLS library or httpcore said, when it cannot quote a header."""
    if isinstance(exc, httpx.RemoteProtocolError):
        return str(exc) if str(exc).startswith(_SAFE_PROTOCOL_DETAILS) else ""
    if not isinstance(exc, _DETAIL_IS_SAFE):
        return ""
    return str(exc) or next((str(cause) for cause in _causes(exc) if str(cause)), "")


def _causes(exc: BaseException) -> Iterator[BaseException]:
    """The exceptions `exc` was raised from, nearest first."""
    seen: set[int] = set()
    cause = exc.__cause__ or exc.__context__
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        yield cause
        cause = cause.__cause__ or cause.__context__


def _invalid_request(request: HttpRequest, exc: Exception) -> TransportError:
    if isinstance(exc, _BadUrl):
        what = str(exc)
    elif isinstance(exc, httpx.InvalidURL):
        what = "invalid URL"
    elif isinstance(exc, UnicodeEncodeError):
        what = "a header name or value is not ASCII"
    else:
        what = "the request cannot be built"
    return TransportError(
        "invalid_request",
        f"{request.method} {_printable_url(request.url)}: {what}",
        may_have_been_sent=False,
    )


def _printable_url(url: str) -> str:
    """The URL without user info, query or fragment."""
    try:
        parsed = httpx.URL(url)
        return str(parsed.copy_with(userinfo=b"", query=None, fragment=None))
    except (httpx.InvalidURL, TypeError, ValueError):
        return "<invalid URL>"


def _redact(text: str, request: HttpRequest) -> str:
    """`text` with every header value of `request` (4+ characters) replaced by ***."""
    for _, value in request.headers:
        if len(value) >= 4:
            text = text.replace(value, "***")
    return text
