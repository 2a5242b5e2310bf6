"""Bearer tokens: where they come from and how a request's is checked.

Tokens come from ``--token-file`` (one token per line; blank lines and lines
starting with ``#`` are ignored) or from ``FLOWC_SERVE_TOKENS`` (tokens
separated by commas or whitespace).  A request carries one as
``Authorization: Bearer TOKEN``; it is compared with each known token by
``hmac.compare_digest`` over their SHA-256 digests, so that neither the
comparison's time nor the tokens' lengths tell an attacker anything.

A server with no tokens accepts every request, and is only allowed on a
loopback address (``refuses_host``).  Tokens are never logged: the server
keeps only their digests, and no access log is written.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
from collections.abc import Iterable
from pathlib import Path

from flowc.server import messages

MAX_TOKEN_FILE = 1 << 20
"""The largest token file read (1 MiB)."""


class AuthError(Exception):
    """The tokens cannot be read (one line for the user)."""


class Tokens:
    def __init__(self, tokens: Iterable[str]) -> None:
        self._digests = [_digest(token) for token in tokens if token]

    def __bool__(self) -> bool:
        return bool(self._digests)

    def accepts(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header value carries a known token."""
        if not self._digests:
            return True
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        given = _digest(token.strip())
        found = False
        for digest in self._digests:
            found |= hmac.compare_digest(digest, given)  # every token compared, always
        return found


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


def load_tokens(token_file: str | None, environ: dict[str, str] | None = None) -> Tokens:
    """The tokens of ``token_file``, else of ``FLOWC_SERVE_TOKENS``, else none."""
    if token_file is not None:
        path = Path(token_file)
        try:
            with path.open("rb") as stream:
                data = stream.read(MAX_TOKEN_FILE + 1)
        except OSError as error:
            reason = error.strerror or type(error).__name__
            raise AuthError(messages.TOKEN_FILE.format(path=token_file, reason=reason)) from None
        if len(data) > MAX_TOKEN_FILE:
            raise AuthError(messages.TOKEN_FILE.format(path=token_file, reason="larger than 1 MiB"))
        lines = data.decode("utf-8", "replace").splitlines()
        tokens = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
        if not tokens:
            raise AuthError(messages.NO_TOKENS.format(path=token_file))
        return Tokens(tokens)
    text = (environ if environ is not None else os.environ).get("FLOWC_SERVE_TOKENS", "")
    return Tokens(text.replace(",", " ").split())


def refuses_host(host: str, tokens: Tokens) -> bool:
    """Whether serving on ``host`` must be refused: not loopback, and no tokens."""
    return not tokens and not is_loopback(host)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
