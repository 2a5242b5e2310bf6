"""The connection pool behind `HttpInvoker` (`http.py`): O(1) per request under trio.

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

How it works
------------
`ConnectionPool` keeps the parts of httpcore that are right (its HTTP/1.1
connections, TLS, keep-alive expiry, cancellation handling) and replaces the
bookkeeping: a request takes a connection out of a per-origin idle stack in one
synchronous step (so no other task can be handed it), and puts it back when its
response is closed (`_GiveBackOnClose`). That is O(1) per request, with one `poll()`
on the connection being reused. A `trio.Semaphore` bounds requests in flight (and so
connections in use) by `max_connections`, with fair FIFO waiting; idle connections of
other origins are closed to make room when the limit is reached, and expired ones are
swept at most twice per keep-alive period. The default TLS context is made only when
the first `https` request needs it (`LazySSLContext`).

`PooledTransport` plugs the pool into httpx as a transport, converting requests,
responses and httpcore's exceptions the way httpx's own transport does, so URL
handling, header merging, content decoding, redirects and proxy routing stay httpx's
own.
"""

from __future__ import annotations

import contextlib
import math
import ssl
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import attrs
import httpcore
import httpx
import trio

_T = TypeVar("_T")

DEFAULT_MAX_CONNECTIONS = 100


# --- the connection pool ------------------------------------------------------------------


OriginKey = tuple[bytes, bytes, int]
"""(scheme, host, port): httpcore.Origin is not hashable."""


class PooledConnection(Protocol):
    """What the pool asks of a connection: httpcore's, or `http_wire.WireConnection`."""

    def has_expired(self) -> bool: ...

    def is_idle(self) -> bool: ...

    def is_closed(self) -> bool: ...

    async def aclose(self) -> None: ...


_C = TypeVar("_C", bound=PooledConnection)


@attrs.define
class _IdleConnection:
    connection: PooledConnection
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
        self._idle: dict[OriginKey, list[_IdleConnection]] = {}
        self._idle_count = 0
        self._busy: dict[PooledConnection, OriginKey] = {}
        self._open_count = 0
        self._next_sweep = -math.inf
        self._closed = False

    @property
    def open_connections(self) -> int:
        return self._open_count

    @property
    def idle_connections(self) -> int:
        return self._idle_count

    async def ssl_context(self) -> ssl.SSLContext:
        """The TLS context for https connections (made by the first one that needs it)."""
        if isinstance(self._ssl_context, LazySSLContext):
            self._ssl_context = await self._ssl_context.get()
        return self._ssl_context

    async def acquire(
        self, key: OriginKey, pool_timeout: float | None, make: Callable[[], _C]
    ) -> _C:
        """A connection to `key`, now busy: an idle one, or `make()`'s (not yet connected).

        Hand it back with `give_back` whatever happens; `PoolTimeout` when no request
        slot frees up within `pool_timeout` seconds.
        """
        if self._closed:
            raise RuntimeError("the connection pool is closed")
        await self._acquire_slot(pool_timeout)
        if self._closed:  # closed while we waited for a slot
            self._slots.release()
            raise RuntimeError("the connection pool is closed")
        try:
            connection, stale = self._take_connection(key, make)
        except BaseException:
            self._slots.release()
            raise
        await close_all(stale)
        return connection  # type: ignore[return-value]  # (a connection to `key` is a _C)

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        if self._closed:
            raise RuntimeError("the connection pool is closed")
        if request.url.scheme not in (b"http", b"https"):
            raise httpcore.UnsupportedProtocol("the URL scheme must be http or https")
        origin = request.url.origin
        context = await self.ssl_context() if origin.scheme == b"https" else None

        def make() -> PooledConnection:
            return httpcore.AsyncHTTPConnection(
                origin=origin,
                ssl_context=context,
                keepalive_expiry=self._keepalive_expiry,
                network_backend=self._network_backend,
            )

        timeout = request.extensions.get("timeout", {}).get("pool")
        key = (origin.scheme, origin.host, origin.port)
        connection = await self.acquire(key, timeout, make)
        try:
            assert isinstance(connection, httpcore.AsyncHTTPConnection)
            response = await connection.handle_async_request(request)
        except BaseException:
            await self.give_back(connection)
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
        await close_all(connections)

    async def _acquire_slot(self, timeout: float | None) -> None:
        """Take a request-in-flight token, waiting at most `timeout` seconds."""
        try:
            self._slots.acquire_nowait()
        except trio.WouldBlock:
            with trio.move_on_after(math.inf if timeout is None else timeout) as waited:
                await self._slots.acquire()
            if waited.cancelled_caught:
                raise httpcore.PoolTimeout("timed out waiting for a free connection") from None

    def _take_connection(
        self, key: OriginKey, make: Callable[[], PooledConnection]
    ) -> tuple[PooledConnection, list[PooledConnection]]:
        """A connection to `key` now marked busy, and stale ones to close (synchronous)."""
        stale: list[PooledConnection] = []
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
        connection = make()
        self._open_count += 1
        self._busy[connection] = key
        return connection, stale

    def _pop_least_recently_used(self) -> PooledConnection:
        """Remove the idle connection unused for longest (there is one when we are full)."""
        key = min(
            (key for key, stack in self._idle.items() if stack),
            key=lambda key: self._idle[key][0].idle_since,
        )
        self._idle_count -= 1
        return self._idle[key].pop(0).connection

    async def give_back(self, connection: PooledConnection | None) -> None:
        """Return the token, and the connection to the idle stack if it can be reused."""
        await close_all(self.put_back(connection))

    def put_back(self, connection: PooledConnection | None) -> list[PooledConnection]:
        """`give_back` without the closing: the connections the caller must close.

        The direct path calls it unshielded when the connection is idle, so that the
        common case costs no cancel scope (`http.py`)."""
        self._slots.release()
        key = None if connection is None else self._busy.pop(connection, None)
        if connection is None or key is None:
            return []
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
        return stale

    def _sweep_expired(self, now: float) -> list[PooledConnection]:
        """Idle connections past their keep-alive expiry; runs at most twice per expiry."""
        if self._keepalive_expiry is None or now < self._next_sweep:
            return []
        self._next_sweep = now + self._keepalive_expiry / 2
        deadline = now - self._keepalive_expiry
        expired: list[PooledConnection] = []
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
        connection: PooledConnection,
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
            await self._pool.give_back(self._connection)


async def close_all(connections: Sequence[PooledConnection]) -> None:
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
        mapped = most_specific(type(exc), _HTTPCORE_TO_HTTPX)
        if mapped is None:
            raise
        raise mapped(str(exc)) from exc


def most_specific(cls: type[BaseException], table: Mapping[type[Any], _T]) -> _T | None:
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
