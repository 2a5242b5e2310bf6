"""URLs and headers for the HTTP invoker (`http.py`): the parsing a request needs.

A direct request (`http_wire.py`) needs its origin, its Host header and its request
target.  Most URLs a flow builds are plain (`https://host:port/path?query` with
characters httpx leaves as written), so one regular expression splits them without
building an `httpx.URL`; anything else goes through httpx's own parser, so both paths
agree (a hypothesis test in tests/test_http_invoker.py checks it).  Query parameters
are appended to a URL's own query, as httpx 0.27 did (0.28 would replace it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs
import httpx

from flowc.runtime.http_pool import OriginKey


class BadUrl(ValueError):
    """A URL httpx can parse but no request can be sent to."""


def url_with_params(url: str, params: tuple[tuple[str, str], ...]) -> httpx.URL:
    """`url` with `params` appended to its query string (httpx 0.28 would replace it)."""
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https"):
        raise BadUrl("the URL scheme must be http or https")
    if not parsed.host:
        raise BadUrl("the URL has no host")
    if not params:
        return parsed
    extra = str(httpx.QueryParams(list(params))).encode("ascii")
    return parsed.copy_with(query=parsed.query + b"&" + extra if parsed.query else extra)


@attrs.frozen
class DirectTarget:
    """Where a direct request goes: its origin, Host header and request target."""

    key: OriginKey
    host: str
    netloc: bytes
    target: bytes


_PCHARS = r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@]|%[0-9A-Fa-f]{2})"
SIMPLE_URL = re.compile(
    rf"(https?)://([a-z0-9][a-z0-9.-]*)(?::([0-9]{{1,5}}))?((?:/{_PCHARS}*)*)((?:\?(?:{_PCHARS}|[/?])*)?)",
    re.ASCII,
)
"""URLs that httpx would leave exactly as written (but for an empty path, "/")."""
DEFAULT_PORTS = {"http": 80, "https": 443}


def direct_target(url: str, params: tuple[tuple[str, str], ...]) -> DirectTarget | None:
    """The target of `url` (with `params`), or None to let httpx parse (and refuse) it."""
    match = SIMPLE_URL.fullmatch(url) if not params else None
    if match is not None and "/." not in match[4]:
        scheme, host, port_text, path, query = match.groups()
        default = DEFAULT_PORTS[scheme]
        port = default if port_text is None else int(port_text)
        if port <= 65535:
            netloc = host if port == default else f"{host}:{port}"
            return DirectTarget(
                (scheme.encode(), host.encode(), port),
                host,
                netloc.encode(),
                ((path or "/") + query).encode(),
            )
    try:
        parsed = url_with_params(url, params)
    except (httpx.InvalidURL, UnicodeEncodeError, BadUrl, TypeError):
        return None  # the httpx path reports it
    scheme_bytes = parsed.raw_scheme
    port = parsed.port or DEFAULT_PORTS[parsed.scheme]
    return DirectTarget(
        (scheme_bytes, parsed.raw_host, port),
        parsed.raw_host.decode("ascii"),
        parsed.netloc,
        parsed.raw_path,
    )


def decoded_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """Response headers as text, decoded as httpx does (ASCII, else UTF-8, else Latin-1)."""
    for encoding in ("ascii", "utf-8", "iso-8859-1"):
        try:
            return [(name.decode(encoding), value.decode(encoding)) for name, value in headers]
        except UnicodeDecodeError:
            continue
    raise AssertionError("Latin-1 decodes every byte")  # pragma: no cover
