"""Host mapping: ``flowc run --resolve user-service=http://127.0.0.1:8080``.

A definition written for production names production hosts (``http://user-service/
check``).  To run it against a local server unchanged, each ``--resolve HOST=BASE``
sends every request whose URL names ``HOST`` (any port, or only ``HOST:PORT`` when
one is given) to ``BASE`` instead: the scheme, host and port become ``BASE``'s, and
``BASE``'s path, if any, is put before the request's path; the query is kept.  So
``http://user-service/check?user_id=ada`` goes to
``http://127.0.0.1:8080/check?user_id=ada``.

It is curl's ``--resolve`` in purpose (test against another address without editing
the request), not in mechanism: curl keeps the URL and only connects elsewhere,
while here the request is sent to ``BASE`` as if it had been written there, so its
``Host`` header (and TLS server name) are ``BASE``'s.  A base URL names a server,
which may host several names; telling it the production name would be wrong more
often than right.

Pure: no I/O and no state beyond the routes; ``HttpInvoker(resolve=...)`` applies it
to each request's URL just before sending, and error messages keep the URL the flow
wrote.  Host names compare case-insensitively, as DNS does.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit, urlunsplit

import attrs


class ResolveError(ValueError):
    """A ``--resolve`` value that is not ``HOST[:PORT]=http(s)://BASE``."""


@attrs.frozen
class HostRoute:
    host: str
    port: int | None
    base: SplitResult

    def matches(self, parts: SplitResult) -> bool:
        if (parts.hostname or "") != self.host:
            return False
        return self.port is None or _port_of(parts) == self.port

    def apply(self, parts: SplitResult) -> str:
        base = self.base
        path = base.path.rstrip("/") + (parts.path or "/")
        return urlunsplit((base.scheme, base.netloc, path, parts.query, parts.fragment))


@attrs.frozen
class HostMap:
    """Routes from host names to base URLs; the first route that matches wins."""

    routes: tuple[HostRoute, ...] = ()

    @classmethod
    def parse(cls, specs: Iterable[str]) -> HostMap:
        """Routes from ``HOST[:PORT]=BASE_URL`` strings; ``ResolveError`` if one is bad."""
        return cls(tuple(parse_route(spec) for spec in specs))

    def __bool__(self) -> bool:
        return bool(self.routes)

    def rewrite(self, url: str) -> str:
        """``url`` sent where its host is routed, or unchanged."""
        lowered = url.lower()
        if not any(route.host in lowered for route in self.routes):
            return url
        try:
            parts = urlsplit(url)
            for route in self.routes:
                if route.matches(parts):
                    return route.apply(parts)
        except ValueError:  # a malformed URL: the invoker reports it as it stands
            return url
        return url


def parse_route(spec: str) -> HostRoute:
    host_part, separator, base_text = spec.partition("=")
    if not separator or not host_part or not base_text:
        raise ResolveError(f"--resolve expects HOST=BASE_URL, found {spec!r}")
    host, port = _host_and_port(host_part, spec)
    try:
        base = urlsplit(base_text)
        base_port = base.port
    except ValueError:
        raise ResolveError(f"--resolve {spec!r}: {base_text!r} is not a URL") from None
    del base_port
    if base.scheme not in ("http", "https") or not base.hostname:
        raise ResolveError(f"--resolve {spec!r}: the base URL must start with http:// or https://")
    if base.query or base.fragment:
        raise ResolveError(f"--resolve {spec!r}: the base URL cannot have a query or a fragment")
    return HostRoute(host, port, base)


def _host_and_port(text: str, spec: str) -> tuple[str, int | None]:
    host, colon, port_text = text.rpartition(":") if ":" in text else (text, "", "")
    if not colon:
        host = text
    if not host or "/" in host or "@" in host:
        raise ResolveError(f"--resolve {spec!r}: {text!r} is not a host name")
    if not colon:
        return host.lower(), None
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ResolveError(f"--resolve {spec!r}: {port_text!r} is not a port")
    return host.lower(), int(port_text)


def _port_of(parts: SplitResult) -> int:
    if parts.port is not None:
        return parts.port
    return 443 if parts.scheme == "https" else 80
