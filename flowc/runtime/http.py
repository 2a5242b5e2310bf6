"""The HTTP invoker: the only way the flowc runtime talks HTTP.

What it does
------------
`HttpInvoker` is created once per run (`async with HttpInvoker() as http:`) and owns
that run's connections. `await http.send(HttpRequest(...))` returns an `HttpResponse`
whose body is fully read and decoded, or raises `TransportError` with a `kind` the
runtime maps onto the language's error kinds: "connect" (no connection could be made),
"timeout", "protocol" (the connection broke or the server spoke bad HTTP),
"invalid_request" (a malformed URL or header: a user mistake, never worth retrying),
"body_limit" (the decoded body is larger than `HttpRequest.max_body`). Messages never
contain header values, where secrets travel, nor the URL's query string (what the OS
says is redacted with the request's header values, `redaction.py`).

What a server controls is bounded:
- the body: streamed and decoded as it arrives (`bodies.py`: gzip and deflate, the
  encodings asked for), and refused once its decoded size passes `max_body`
  (`bodies.DEFAULT_MAX_BODY`, 10 MB, by default), so a gzip bomb costs at most the limit;
- the headers: at most `MAX_RESPONSE_HEADERS` (1,000) fields, in at most 100 KiB
  (httpcore's h11 limit), else a "protocol" error that says so;
- redirects, when followed: at most `MAX_REDIRECTS` (10), their bodies never read.

Behaviour a user of curl or httpx expects, on purpose:
- TLS certificates are verified (certifi, or SSL_CERT_FILE / SSL_CERT_DIR).
- HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY are honoured exactly as httpx does:
  httpx itself routes each request (`trust_env=True`).
- Redirects are not followed (curl without -L, httpx's default): an API answering 3xx
  is telling the flow something, and following it silently could replay a POST or send
  an Authorization header to another host. `HttpInvoker(follow_redirects=True)` opts in
  (httpx builds each next request: method changes, dropped credentials on another host).
- HTTP_PROXY and friends may name an http, https, socks5 or socks5h proxy (SOCKS through
  httpx's `socks` extra, a dependency); any other scheme is a `ProxyConfigError` when the
  invoker opens, before anything is sent.
- No cookie jar: a flow's requests carry exactly the headers the flow declares.
- No httpx-level timeouts by default: the runtime time-boxes steps with trio cancel
  scopes, and a cancelled `send` aborts its request. `HttpRequest.timeout` asks for an
  httpx timeout instead, reported as `TransportError("timeout")`.
- `HttpRequest.params` are appended to the URL's own query string, in order.
- HTTP/1.1 (httpx's default; HTTP/2 would need the h2 package and multiplexing).
- `HttpInvoker(resolve=HostMap(...))` sends requests for chosen hosts to other base URLs
  (`flowc run --resolve`, `resolve.py`), just before each request is built.
- httpcore's DEBUG traces (which include response headers) are silenced.
It runs under trio only (the runtime's event loop).

The connection pool (`ConnectionPool`, `PooledTransport`) lives in `http_pool.py`,
whose essay says why flowc has its own: httpx's slows down as requests overlap. It is
plugged into httpx as the client's default transport (`_FlowcClient`), so URL
handling, header merging, content decoding, redirects and proxy routing stay httpx's
own. Requests routed through a proxy use httpx's standard proxy transport (its own
pool, bounded by the same limits). This module re-exports the pool's public names.

Direct requests (no proxy for their origin, as httpx's mounts decide, cached per
origin; redirects not followed) skip httpx altogether: `_send_direct` builds the
headers httpx would, takes a `http_wire.WireConnection` from the same pool and speaks
HTTP/1.1 over the trio socket itself (`http_wire.py` says why and what it keeps). Simple
URLs are split by a regular expression that agrees with httpx (a hypothesis test
checks it); any other URL is parsed by httpx.
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import logging
import ssl
import time
import urllib.request
from collections.abc import Iterator
from types import TracebackType
from typing import Literal, Self

import attrs
import httpcore
import httpx
import trio

from flowc.runtime.bodies import (
    ACCEPT_ENCODING,
    DEFAULT_MAX_BODY,
    BodyTooLarge,
    UndecodableBody,
    read_body,
    read_whole_body,
)
from flowc.runtime.http_pool import (
    DEFAULT_MAX_CONNECTIONS,
    ConnectionPool,
    LazySSLContext,
    OriginKey,
    PooledTransport,
    close_all,
    most_specific,
)
from flowc.runtime.http_urls import (
    BadUrl,
    DirectTarget,
    decoded_headers,
    direct_target,
    url_with_params,
)
from flowc.runtime.http_wire import WireConnection
from flowc.runtime.resolve import HostMap

__all__ = [
    "DEFAULT_KEEPALIVE_EXPIRY",
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_CONNECTIONS",
    "MAX_REDIRECTS",
    "MAX_RESPONSE_HEADERS",
    "USER_AGENT",
    "ConnectionPool",
    "HttpInvoker",
    "HttpRequest",
    "HttpResponse",
    "LazySSLContext",
    "PooledTransport",
    "ProxyConfigError",
    "TransportError",
    "TransportErrorKind",
]

TransportErrorKind = Literal["connect", "timeout", "protocol", "invalid_request", "body_limit"]

DEFAULT_KEEPALIVE_EXPIRY = 5.0
USER_AGENT = "flowc/0.1"
MAX_RESPONSE_HEADERS = 1000
MAX_REDIRECTS = 10
_HEADER_BYTES = "100 KiB"  # httpcore's h11 `max_incomplete_event_size`


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
    max_body: int = DEFAULT_MAX_BODY
    """Most bytes the decoded response body may have (a "body_limit" error beyond)."""


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

    def __init__(
        self,
        kind: TransportErrorKind,
        message: str,
        *,
        may_have_been_sent: bool,
        status: int = 0,
    ) -> None:
        super().__init__(message)
        self.kind: TransportErrorKind = kind
        self.message = message
        self.may_have_been_sent = may_have_been_sent
        """False when the request certainly never reached the server (safe to resend)."""
        self.status = status
        """The response's status when one began to arrive ("body_limit"), else 0."""


class ProxyConfigError(ValueError):
    """The proxy environment names a proxy httpx cannot use (one line for the user)."""


# --- the client: httpx with our pool ------------------------------------------------------

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
        resolve: HostMap | None = None,
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
        self._keepalive = keepalive_expiry
        self._default_headers = (
            (b"Accept", b"*/*"),
            (b"Connection", b"keep-alive"),
            (b"User-Agent", user_agent.encode("ascii")),
            (b"Accept-Encoding", ACCEPT_ENCODING.encode("ascii")),
        )
        """What httpx's client adds to every request, in its order (`_wire_headers`)."""
        self._ssl_context = ssl_context
        self._trust_env = trust_env
        self._follow_redirects = follow_redirects
        self._user_agent = user_agent
        self._resolve = resolve or None
        """`--resolve` routes (`runtime/resolve.py`): hosts sent to other base URLs."""
        self._client: httpx.AsyncClient | None = None
        self._direct: dict[OriginKey, bool] = {}
        """Per origin: whether its requests go through no proxy (`http_wire` sends them)."""

    async def __aenter__(self) -> Self:
        _silence_httpcore_debug_logs()
        # Without an explicit context the pool makes the default one when the first
        # https request needs it (LazySSLContext); proxies, if configured, get
        # httpx's default context.
        verify: ssl.SSLContext | bool = self._ssl_context or True
        try:
            self._client = _FlowcClient(
                verify=verify,
                trust_env=self._trust_env,
                limits=self._limits,
                timeout=None,
                headers={"User-Agent": self._user_agent, "Accept-Encoding": ACCEPT_ENCODING},
                cookies=http.cookiejar.CookieJar(policy=_RefuseAllCookies()),
            )
        except (ValueError, ImportError, httpx.InvalidURL) as error:
            raise ProxyConfigError(_proxy_problem(error)) from None
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
        url = request.url if self._resolve is None else self._resolve.rewrite(request.url)
        if not self._follow_redirects:
            target = direct_target(url, request.params)
            if target is not None and self._is_direct(target):
                return await self._send_direct(request, target, started)
        try:
            built = client.build_request(
                request.method,
                url_with_params(url, request.params),
                headers=list(request.headers),
                content=request.content,
                timeout=httpx.USE_CLIENT_DEFAULT if request.timeout is None else request.timeout,
            )
        except (httpx.InvalidURL, UnicodeEncodeError, BadUrl, TypeError) as exc:
            raise _invalid_request(request, exc) from None
        response = await self._response(request, built)
        try:
            if len(response.headers.raw) > MAX_RESPONSE_HEADERS:
                raise _protocol(
                    request, f"the response has more than {MAX_RESPONSE_HEADERS} headers"
                )
            body = await read_body(
                response.aiter_raw(),
                response.headers.get_list("content-encoding"),
                request.max_body,
            )
        except httpx.HTTPError as exc:
            raise _transport_error(request, exc) from None
        except BodyTooLarge as too_large:
            raise TransportError(
                "body_limit",
                f"{request.method} {_printable_url(request.url)}: the response body "
                f"(HTTP {response.status_code}) is {too_large} (max_body)",
                may_have_been_sent=True,
                status=response.status_code,
            ) from None
        except UndecodableBody as undecodable:
            raise _protocol(request, str(undecodable)) from None
        finally:
            with trio.CancelScope(shield=True):
                await response.aclose()
        return HttpResponse(
            status=response.status_code,
            headers=tuple(response.headers.multi_items()),
            body=body,
            elapsed=time.perf_counter() - started,
            http_version=response.http_version,
        )

    async def _response(self, request: HttpRequest, built: httpx.Request) -> httpx.Response:
        """The (streamed) response to `built`, after the redirects the invoker follows."""
        client = self._require_client()
        for _ in range(MAX_REDIRECTS + 1):
            try:
                response = await client.send(built, stream=True, follow_redirects=False)
            except httpx.HTTPError as exc:
                raise _transport_error(request, exc) from None
            following = response.next_request if self._follow_redirects else None
            if following is None:
                return response
            with trio.CancelScope(shield=True):
                await response.aclose()  # a redirect's body is never read
            built = following
        raise _protocol(request, f"more than {MAX_REDIRECTS} redirects")

    def _is_direct(self, target: DirectTarget) -> bool:
        """Whether requests to the target's origin go through no proxy (httpx decides)."""
        key = target.key
        direct = self._direct.get(key)
        if direct is None:
            client = self._require_client()
            url = httpx.URL(scheme=target.key[0].decode(), host=target.host, port=target.key[2])
            direct = self._direct[key] = client._transport_for_url(url) is client._transport
        return direct

    async def _send_direct(
        self, request: HttpRequest, target: DirectTarget, started: float
    ) -> HttpResponse:
        """`send` for a request through no proxy: HTTP/1.1 over trio (`http_wire.py`)."""
        try:
            headers = self._wire_headers(request, target.netloc)
        except UnicodeEncodeError as exc:
            raise _invalid_request(request, exc) from None
        pool = self.pool
        scheme, _, port = target.key
        timeout = request.timeout
        try:
            context = await pool.ssl_context() if scheme == b"https" else None
            connection = await pool.acquire(
                target.key,
                timeout,
                lambda: WireConnection(scheme, target.host, port, context, self._keepalive),
            )
        except httpcore.PoolTimeout as exc:
            raise _transport_error(request, httpx.PoolTimeout(str(exc))) from None
        try:
            method = request.method.encode("ascii")
            head = await connection.exchange(
                method, target.target, headers, request.content, timeout
            )
            names = [name for name, _ in head.headers]
            if len(names) > MAX_RESPONSE_HEADERS:
                raise _protocol(
                    request, f"the response has more than {MAX_RESPONSE_HEADERS} headers"
                )
            response_headers = decoded_headers(head.headers)
            encodings = [value for name, value in response_headers if name == "content-encoding"]
            whole = connection.whole_body()
            if whole is not None:
                body = read_whole_body(whole, encodings, request.max_body)
            else:
                async with contextlib.aclosing(connection.body(timeout)) as chunks:
                    body = await read_body(chunks, encodings, request.max_body)
        except httpx.HTTPError as exc:
            raise _transport_error(request, exc) from None
        except BodyTooLarge as too_large:
            raise TransportError(
                "body_limit",
                f"{request.method} {_printable_url(request.url)}: the response body "
                f"(HTTP {head.status_code}) is {too_large} (max_body)",
                may_have_been_sent=True,
                status=head.status_code,
            ) from None
        except UndecodableBody as undecodable:
            raise _protocol(request, str(undecodable)) from None
        finally:
            if not connection.is_idle():  # cancelled, failed or not read to its end
                with trio.CancelScope(shield=True):
                    await connection.aclose()
            await close_all(pool.put_back(connection))  # (shielded, when there is any)
        return HttpResponse(
            status=head.status_code,
            headers=tuple(response_headers),
            body=body,
            elapsed=time.perf_counter() - started,
            http_version="HTTP/" + head.http_version.decode("ascii"),
        )

    def _wire_headers(self, request: HttpRequest, netloc: bytes) -> list[tuple[bytes, bytes]]:
        """The request's headers as httpx's client would build them (module `http_wire`)."""
        own = [(name.encode("ascii"), value.encode("ascii")) for name, value in request.headers]
        named = {name.lower() for name, _ in own}
        wire: list[tuple[bytes, bytes]] = []
        if b"host" not in named:
            wire.append((b"Host", netloc))
        content = request.content
        sized = b"content-length" in named or b"transfer-encoding" in named
        if not content and not sized and request.method in ("POST", "PUT", "PATCH"):
            wire.append((b"Content-Length", b"0"))
        wire.extend(pair for pair in self._default_headers if pair[0].lower() not in named)
        wire.extend(own)
        if content and b"content-length" not in named:
            wire.append((b"Content-Length", str(len(content)).encode("ascii")))
        return wire

    def _require_client(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("HttpInvoker must be used as `async with HttpInvoker() as http:`")
        return self._client


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
    kind, sent, what = most_specific(type(exc), _ERROR_KINDS) or (
        "protocol",
        True,
        "the request failed",
    )
    if isinstance(exc, httpx.RemoteProtocolError) and "Receive buffer too long" in str(exc):
        what = f"the response headers are larger than {_HEADER_BYTES}"  # h11's words for it
    detail = _safe_detail(exc)
    message = f"{request.method} {_printable_url(request.url)}: {what}"
    if detail:
        message = f"{message} ({_redact(detail, request)})"
    return TransportError(kind, message, may_have_been_sent=sent)


def _protocol(request: HttpRequest, what: str) -> TransportError:
    message = f"{request.method} {_printable_url(request.url)}: {what}"
    return TransportError("protocol", message, may_have_been_sent=True)


def _proxy_problem(error: Exception) -> str:
    """What is wrong with the proxy environment variables httpx refused (no credentials)."""
    from urllib.parse import urlsplit
    from urllib.request import getproxies

    shown = []
    for name, url in getproxies().items():
        if name != "no":
            parts = urlsplit(url)
            host = parts.netloc.rpartition("@")[2]  # never the credentials
            shown.append(f"{name.upper()}_PROXY={parts.scheme}://{host}")
    named = f" ({', '.join(shown)})" if shown else ""
    if isinstance(error, ImportError):
        return f"SOCKS proxies need the socksio package{named}: pip install 'httpx[socks]'"
    if isinstance(error, httpx.InvalidURL):
        return f"the proxy settings cannot be used{named}: not a valid proxy URL"
    return (
        f"the proxy settings cannot be used{named}: flowc supports http://, https://, "
        "socks5:// and socks5h:// proxies"
    )


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
    if isinstance(exc, BadUrl):
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
    """`text` with every header value of `request` (and fragments of one) masked."""
    from flowc.runtime.redaction import redact_text

    return redact_text(text, (value for _, value in request.headers))
