"""HTTP/1.1 on the wire: one connection driven over a trio socket, for direct requests.

Why it exists
-------------
A request that goes through no proxy and follows no redirect needs very little of
httpx: a URL split into origin and target, a handful of default headers, and an
HTTP/1.1 exchange on a kept-alive connection. Profiling 1,000 sequential steps
against the local demo API (docs/http-performance.md) put httpx's client layer
(request building, cookie extraction, header models) at about a quarter of the time
and httpcore's connection code (its `Trace` context managers, locks and state
machine around h11) at another third, for work flowc does not use. This module does
the same exchange over the socket itself, with the messages written and parsed by
`http1.py` (httptools' llhttp; h11 was the next cost, see there), and `HttpInvoker`
(`http.py`) sends every direct request through it; proxied requests and followed
redirects still go through httpx.

What it keeps
-------------
Everything a user of the httpx path could observe:

- the same request bytes in substance: ``Host`` (the URL's netloc), ``Accept: */*``,
  ``Connection: keep-alive``, ``User-Agent``, ``Accept-Encoding``, the request's own
  headers replacing those of the same name, and ``Content-Length`` for a body (``0``
  for a POST, PUT or PATCH without one), as httpx builds them;
- TLS through `trio.SSLStream` with the pool's context (certifi or SSL_CERT_FILE /
  SSL_CERT_DIR, verification on), SNI and ALPN ``http/1.1`` as httpcore sets them;
- keep-alive: a connection goes back to the pool (`http_pool.ConnectionPool`) only
  when both sides finished the exchange cleanly; one whose server closed it while idle
  (the socket is readable) or whose keep-alive expired is not reused;
- cancellation at any point leaves the connection unusable, and the pool closes it;
- 100 KiB of response head at most (httpcore's limit);
- the errors: httpx's own exception classes with httpcore's texts ("Server
  disconnected without sending a response.", the OS's and the TLS library's words),
  so `http.py` maps them onto error kinds exactly as before; a failed write still
  reads the response, as httpcore does (a server may answer and close early);
- `HttpRequest.timeout` bounds connect, each write and each read, as httpx's does.
"""

from __future__ import annotations

import contextlib
import math
import ssl
import time
from collections.abc import AsyncGenerator
from typing import Final

import httpx
import trio

from flowc.runtime.http1 import Headers, ResponseHead, ResponseReader, keeps_alive, request_bytes

READ_BYTES: Final = 64 * 1024
_ALPN: Final = ["http/1.1"]


class WireConnection:
    """One HTTP/1.1 connection to one origin, opened by its first request.

    The pool treats it like an httpcore connection (`has_expired`, `is_idle`,
    `is_closed`, `aclose`); `exchange` sends one request and reads the response head,
    `body` then yields the body's bytes and, at its end, readies the connection for
    the next request.
    """

    def __init__(
        self,
        scheme: bytes,
        host: str,
        port: int,
        ssl_context: ssl.SSLContext | None,
        keepalive_expiry: float | None,
    ) -> None:
        self._scheme = scheme
        self._host = host
        self._port = port
        self._ssl_context = ssl_context
        self._keepalive_expiry = keepalive_expiry
        self._stream: trio.abc.Stream | None = None
        self._socket: trio.socket.SocketType | None = None
        self._reader: ResponseReader | None = None
        self._expire_at: float | None = None
        self._active = False
        self._closed = False

    # --- what the pool asks ------------------------------------------------------------

    def has_expired(self) -> bool:
        if self._expire_at is not None and time.monotonic() > self._expire_at:
            return True
        # idle and readable: the server closed it (the next read would return b"")
        return self._socket is not None and not self._active and self._socket.is_readable()

    def is_idle(self) -> bool:
        return not self._active and not self._closed

    def is_closed(self) -> bool:
        return self._closed

    async def aclose(self) -> None:
        self._closed = True
        stream, self._stream = self._stream, None
        if stream is not None:
            with trio.CancelScope(shield=True):
                await stream.aclose()

    # --- one exchange ------------------------------------------------------------------

    async def exchange(
        self,
        method: bytes,
        target: bytes,
        headers: Headers,
        content: bytes | None,
        timeout: float | None,
    ) -> ResponseHead:
        """Send a request and read the response's head (`body` reads the rest)."""
        self._active = True  # until the body is read to its end: never handed out
        self._expire_at = None
        try:
            data = request_bytes(method, target, headers, content)
            reader = self._reader = ResponseReader(method, keeps_alive(headers))
            if self._stream is None:
                await self._connect(timeout)
            # a failed write still reads: the server may have answered and closed early
            with contextlib.suppress(httpx.WriteError):
                await self._write(data, timeout)
            while reader.head is None:
                await self._receive(reader, timeout)
            return reader.head
        except BaseException:
            await self.aclose()
            raise

    def whole_body(self) -> list[bytes] | None:
        """The body's bytes when the whole response has arrived already, else None
        (and `body` reads it); the connection is then ready for the next request."""
        reader = self._reader
        if reader is None or not reader.complete:
            return None
        self._done(reader)
        return reader.take_body()

    async def body(self, timeout: float | None) -> AsyncGenerator[bytes, None]:
        """The body's bytes as they arrive; at its end the connection can be reused.

        Stopped before its end (an error, cancellation, a body too large), the
        connection stays active: its owner closes it (`HttpInvoker`)."""
        reader = self._reader
        assert reader is not None, "body() before exchange()"
        while True:
            for chunk in reader.take_body():
                yield chunk
            if reader.complete:
                break
            await self._receive(reader, timeout)
        self._done(reader)

    def _done(self, reader: ResponseReader) -> None:
        self._reader = None
        self._active = False
        if reader.reusable:
            if self._keepalive_expiry is not None:
                self._expire_at = time.monotonic() + self._keepalive_expiry
        else:  # the server said Connection: close, spoke HTTP/1.0 or sent too much
            self._closed = True

    async def _receive(self, reader: ResponseReader, timeout: float | None) -> None:
        data = await self._read(timeout)
        if data:
            reader.feed(data)
        else:
            reader.end_of_stream()

    # --- the socket --------------------------------------------------------------------

    async def _connect(self, timeout: float | None) -> None:
        limit = math.inf if timeout is None else timeout
        try:
            with trio.fail_after(limit):
                stream: trio.abc.Stream = await trio.open_tcp_stream(self._host, self._port)
        except trio.TooSlowError:
            raise httpx.ConnectTimeout("") from None
        except (OSError, trio.BrokenResourceError) as error:
            raise httpx.ConnectError(str(error)) from error
        assert isinstance(stream, trio.SocketStream)
        self._socket = stream.socket
        if self._scheme == b"https":
            context = self._ssl_context or httpx.create_ssl_context()
            context.set_alpn_protocols(_ALPN)
            tls = trio.SSLStream(stream, context, server_hostname=self._host, https_compatible=True)
            try:
                with trio.fail_after(limit):
                    await tls.do_handshake()
            except trio.TooSlowError:
                await stream.aclose()
                raise httpx.ConnectTimeout("") from None
            except trio.BrokenResourceError as error:
                await stream.aclose()
                raise httpx.ConnectError(str(error)) from error
            stream = tls
        self._stream = stream

    async def _write(self, data: bytes, timeout: float | None) -> None:
        stream = self._stream
        assert stream is not None
        try:
            if timeout is None:
                await stream.send_all(data)
                return
            # (a bare CancelScope: `trio.fail_after` costs a generator-based context manager)
            with trio.CancelScope(deadline=trio.current_time() + timeout) as scope:
                await stream.send_all(data)
        except (trio.BrokenResourceError, trio.ClosedResourceError) as error:
            raise httpx.WriteError(str(error)) from error
        if scope.cancelled_caught:
            raise httpx.WriteTimeout("")

    async def _read(self, timeout: float | None) -> bytes:
        stream = self._stream
        assert stream is not None
        try:
            if timeout is None:
                return bytes(await stream.receive_some(READ_BYTES))
            with trio.CancelScope(deadline=trio.current_time() + timeout):
                return bytes(await stream.receive_some(READ_BYTES))
        except (trio.BrokenResourceError, trio.ClosedResourceError) as error:
            raise httpx.ReadError(str(error)) from error
        raise httpx.ReadTimeout("")  # (the scope's deadline passed: it returned nothing)
