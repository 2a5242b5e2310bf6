"""OAuth 2.0 client credentials (RFC 6749 section 4.4) for a service.

``auth oauth2 client_credentials TOKEN_URL, CLIENT_ID, CLIENT_SECRET[, SCOPES]``
on a service makes every HTTP step against it carry ``Authorization: Bearer
<token>``, where the token comes from the token endpoint:

* **Once per engine.**  ``ServiceState`` (one per engine and service) owns one
  ``ClientCredentials``; every run and every step of that engine shares its
  token.  Concurrent steps that find no token wait on one ``trio.Lock`` and
  the first fetches it, so N parallel steps cost one token request.
* **Cached until it expires**: ``expires_in`` seconds after the answer, less a
  margin (a tenth of the lifetime, at most 60 s), so a token is not sent in the
  last moments of its life.  A token without ``expires_in`` is kept until a
  server refuses it.
* **Refreshed once on a 401**: a step whose request is answered 401 asks for a
  new token (unless another step already replaced the one it sent) and sends
  its request once more; a second 401 is the step's answer, handled like any
  status.
* **Never shown.**  The token request is not a step: it is neither traced nor
  journaled.  The client id and secret go in HTTP Basic authentication (RFC
  6749 section 2.3.1); the secret and every token are taught to the run's
  ``Redactor`` before they are sent, and a failure names the token URL and
  status, never the answer's body, which could echo a credential.

A failed token request fails the step with kind ``auth`` (its status, if the
endpoint answered); a step's ``retry`` applies to it as to any failure.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Awaitable, Callable
from urllib.parse import quote, urlencode

import attrs
import trio

from flowc.runtime.http import HttpRequest, HttpResponse, TransportError

Send = Callable[[HttpRequest], Awaitable[HttpResponse]]

TOKEN_TIMEOUT = 30.0  # seconds for the token request
MAX_MARGIN = 60.0  # seconds before `expires_in` at which a token is renewed


class TokenError(Exception):
    """The token endpoint gave no usable token (the message names no credential)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@attrs.frozen
class Credentials:
    token_url: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...] = ()


def credentials_of(values: list[object]) -> Credentials:
    """The credentials from the clause's evaluated values (secrets revealed)."""
    from flowc.runtime.encode import text_of

    url, client_id, client_secret = (text_of(value) for value in values[:3])
    scopes = values[3] if len(values) > 3 else []
    return Credentials(
        url,
        client_id,
        client_secret,
        tuple(text_of(s) for s in scopes or []),  # type: ignore[attr-defined]
    )


class ClientCredentials:
    """One service's token: fetched once, shared, renewed before it expires."""

    def __init__(
        self, credentials: Credentials, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.credentials = credentials
        self._clock = clock
        self._lock = trio.Lock()
        self._token: str | None = None
        self._expires = 0.0
        self.fetches = 0  # token requests made (for tests and diagnostics)

    def _current(self) -> str | None:
        if self._token is not None and self._clock() < self._expires:
            return self._token
        return None

    async def token(self, fetch: Send) -> str:
        """The current token, fetched (once, whoever asks concurrently) if there is none."""
        current = self._current()
        if current is not None:
            return current
        async with self._lock:
            current = self._current()
            if current is None:
                current = await self._fetch(fetch)
        return current

    async def refresh(self, refused: str, fetch: Send) -> str:
        """A new token after ``refused`` got a 401 (or the one another step got since)."""
        async with self._lock:
            current = self._current()
            if current is None or current == refused:
                current = await self._fetch(fetch)
        return current

    async def send(
        self, request: HttpRequest, send: Send, fetch: Send, learn: Callable[[str], None]
    ) -> HttpResponse:
        """Send ``request`` with the token; on a 401, once more with a new one."""
        token = await self.token(fetch)
        learn(token)
        response = await send(_with_bearer(request, token))
        if response.status != 401:
            return response
        token = await self.refresh(token, fetch)
        learn(token)
        return await send(_with_bearer(request, token))

    async def _fetch(self, fetch: Send) -> str:
        self.fetches += 1
        self._token = None
        asked = self._clock()
        try:
            response = await fetch(self._request())
        except TransportError as failure:
            raise TokenError(f"{self._where()}: {failure.message}") from None
        token, lifetime = _parse_answer(response, self._where())
        self._token = token
        self._expires = (
            float("inf") if lifetime is None else asked + lifetime - min(MAX_MARGIN, lifetime / 10)
        )
        return token

    def _request(self) -> HttpRequest:
        given = self.credentials
        form = [("grant_type", "client_credentials")]
        if given.scopes:
            form.append(("scope", " ".join(given.scopes)))
        pair = f"{quote(given.client_id, safe='')}:{quote(given.client_secret, safe='')}"
        basic = base64.b64encode(pair.encode("utf-8")).decode("ascii")
        headers = (
            ("Authorization", f"Basic {basic}"),
            ("Content-Type", "application/x-www-form-urlencoded"),
            ("Accept", "application/json"),
        )
        body = urlencode(form).encode("ascii")
        return HttpRequest("POST", given.token_url, headers, content=body, timeout=TOKEN_TIMEOUT)

    def _where(self) -> str:
        return f"the OAuth 2.0 token request to {self.credentials.token_url}"


def _parse_answer(response: HttpResponse, where: str) -> tuple[str, float | None]:
    if response.status != 200:
        raise TokenError(f"{where} was answered HTTP {response.status}", response.status)
    try:
        answer = json.loads(response.body)
    except (ValueError, UnicodeDecodeError):
        answer = None
    token = answer.get("access_token") if isinstance(answer, dict) else None
    if not isinstance(token, str) or not token:
        raise TokenError(f"{where}: the answer has no `access_token`", response.status)
    kind = answer.get("token_type", "bearer")
    if not isinstance(kind, str) or kind.lower() != "bearer":
        raise TokenError(f"{where}: token type is not `bearer`", response.status)
    lifetime = answer.get("expires_in")
    if isinstance(lifetime, bool) or not isinstance(lifetime, int | float) or lifetime <= 0:
        return token, None
    return token, float(lifetime)


def _with_bearer(request: HttpRequest, token: str) -> HttpRequest:
    headers = [(k, v) for k, v in request.headers if k.lower() != "authorization"]
    headers.append(("Authorization", f"Bearer {token}"))
    return attrs.evolve(request, headers=tuple(headers))
