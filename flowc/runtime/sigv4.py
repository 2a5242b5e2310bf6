"""AWS Signature Version 4 for a service's HTTP requests.

``auth aws_sigv4 REGION, SERVICE, ACCESS_KEY, SECRET_KEY[, SESSION_TOKEN]`` signs
every attempt of every step against the service, just before it is sent (the
signature covers the time, so a retry is signed afresh).  httpx-auth's
implementation is an ``httpx.Auth`` flow, which the runtime's direct h11 path
(``http_wire.py``) never runs, so the signature is computed here, from the
request exactly as it will go on the wire: the path and query that
``http_urls.url_with_params`` gives (the bytes both transports send), an
explicit ``Host`` header (which both then send unchanged), and the body.

The algorithm is AWS's (the "Create a signed AWS API request" guide):

1. the canonical request: method, canonical URI (each path segment URI-encoded,
   and once more for every service but S3), canonical query (names and values
   URI-encoded, sorted), the signed headers lower-cased and sorted with their
   trimmed values, their names, and the hex SHA-256 of the body;
2. the string to sign: ``AWS4-HMAC-SHA256``, the ``X-Amz-Date`` time, the
   credential scope ``date/region/service/aws4_request`` and the hex SHA-256 of
   the canonical request;
3. the signing key, an HMAC-SHA-256 chain from ``"AWS4" + secret key`` over the
   date, region, service and ``aws4_request``; the signature is the hex HMAC of
   the string to sign under it.

Signed headers are ``host``, ``content-type`` when present and every
``x-amz-*`` header, including the ``x-amz-date``, ``x-amz-content-sha256`` (S3
requires it; others ignore it) and, with a session token,
``x-amz-security-token`` that are added here.  The secret key never leaves this
module; the ``Authorization`` value and the session token are taught to the
run's redactor by the caller.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from urllib.parse import quote, unquote, unquote_plus

import attrs

from flowc.runtime.http import HttpRequest
from flowc.runtime.http_urls import url_with_params

ALGORITHM = "AWS4-HMAC-SHA256"


@attrs.frozen
class AwsCredentials:
    region: str
    service: str
    access_key: str
    secret_key: str = attrs.field(repr=False)
    session_token: str | None = attrs.field(default=None, repr=False)


def credentials_of(values: list[object]) -> AwsCredentials:
    """The credentials from the clause's evaluated values (secrets revealed)."""
    from flowc.runtime.encode import text_of

    texts = [text_of(value) for value in values]
    region, service, access_key, secret_key = texts[:4]
    token = texts[4] if len(texts) > 4 else None
    return AwsCredentials(region, service, access_key, secret_key, token)


def sign(
    request: HttpRequest,
    credentials: AwsCredentials,
    clock: Callable[[], float] = time.time,
) -> HttpRequest:
    """``request`` with its SigV4 headers (``Authorization`` last)."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(clock()))
    url = url_with_params(request.url, ())
    path, _, own_query = url.raw_path.decode("ascii").partition("?")
    pairs = [(unquote_plus(k), unquote_plus(v)) for k, _, v in _items(own_query)]
    query = canonical_pairs([*pairs, *request.params])
    payload = hashlib.sha256(request.content or b"").hexdigest()
    added = [("Host", url.netloc.decode("ascii")), ("X-Amz-Date", stamp)]
    added.append(("X-Amz-Content-Sha256", payload))
    if credentials.session_token is not None:
        added.append(("X-Amz-Security-Token", credentials.session_token))
    replaced = {name.lower() for name, _ in added} | {"authorization"}
    headers = [(k, v) for k, v in request.headers if k.lower() not in replaced] + added
    chosen = [(k, v) for k, v in headers if _signed(k)]
    authorization = authorization_header(
        credentials, request.method, path, query, chosen, payload, stamp
    )
    # The query goes out as it was signed (spaces as %20, sorted), never as `+`.
    origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
    sent = origin + path + (f"?{query}" if query else "")
    return attrs.evolve(
        request, url=sent, params=(), headers=(*headers, ("Authorization", authorization))
    )


def authorization_header(
    credentials: AwsCredentials,
    method: str,
    path: str,
    query: str,
    headers: list[tuple[str, str]],
    payload_hash: str,
    stamp: str,
) -> str:
    """The ``Authorization`` value for a request given as it goes on the wire,
    signing all of ``headers``."""
    signed = _canonical_headers(headers)
    names = ";".join(name for name, _ in signed)
    canonical = "\n".join(
        [
            method,
            canonical_uri(path, double=credentials.service != "s3"),
            canonical_query(query),
            "".join(f"{name}:{value}\n" for name, value in signed),
            names,
            payload_hash,
        ]
    )
    scope = f"{stamp[:8]}/{credentials.region}/{credentials.service}/aws4_request"
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    to_sign = f"{ALGORITHM}\n{stamp}\n{scope}\n{digest}"
    key = signing_key(credentials.secret_key, stamp[:8], credentials.region, credentials.service)
    signature = hmac.new(key, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    credential = f"Credential={credentials.access_key}/{scope}"
    return f"{ALGORITHM} {credential}, SignedHeaders={names}, Signature={signature}"


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret_key).encode("utf-8")
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def _aws_encode(text: str) -> str:
    """AWS's URI encoding: everything but unreserved characters, in upper-case hex."""
    return quote(text, safe="-_.~")


def canonical_uri(path: str, *, double: bool) -> str:
    segments = [_aws_encode(unquote(segment)) for segment in (path or "/").split("/")]
    if double:
        segments = [_aws_encode(segment) for segment in segments]
    return "/".join(segments) or "/"


def _items(query: str) -> list[tuple[str, str, str]]:
    return [item.partition("=") for item in query.split("&") if item]


def canonical_query(query: str) -> str:
    """A query string as written on the wire, in canonical form."""
    return canonical_pairs([(unquote(k), unquote(v)) for k, _, v in _items(query)])


def canonical_pairs(pairs: list[tuple[str, str]]) -> str:
    encoded = sorted((_aws_encode(name), _aws_encode(value)) for name, value in pairs)
    return "&".join(f"{name}={value}" for name, value in encoded)


def _signed(name: str) -> bool:
    lower = name.lower()
    return lower in ("host", "content-type") or lower.startswith("x-amz-")


def _canonical_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    chosen: dict[str, list[str]] = {}
    for name, value in headers:
        chosen.setdefault(name.lower(), []).append(" ".join(value.split()))
    return [(name, ",".join(values)) for name, values in sorted(chosen.items())]
