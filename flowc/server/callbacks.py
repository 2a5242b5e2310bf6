"""Callback URLs: ``callback_url("done")`` names a URL that delivers a signal.

A flow hands the URL to a third party (a payment provider's webhook, an
approval e-mail); a request to it delivers the signal ``done`` to the run that
made it, without the server's bearer token.  The URL's last segment is its
guard: an HMAC-SHA256 of the run id and the signal name under the server's
callback key, so nothing is stored, a token is good for one run and one name
only, and it cannot be guessed or derived from another.  The key is
``FLOWC_CALLBACK_KEY`` (every server and worker of a deployment must share
it); without it each process draws a random key, and its URLs stop working
when it restarts.  The token is compared in constant time; a wrong one is
refused with 403, the same answer whether or not the run exists.

The URL's base is ``FLOWC_PUBLIC_URL`` (how third parties reach the server),
else the address the server listens on.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from typing import Final
from urllib.parse import quote

KEY_VARIABLE: Final = "FLOWC_CALLBACK_KEY"
PUBLIC_URL_VARIABLE: Final = "FLOWC_PUBLIC_URL"
PREFIX: Final = "/v1/callbacks/"


def callback_key(environ: dict[str, str] | None = None) -> bytes:
    """The configured key, else a random one for this process."""
    configured = (os.environ if environ is None else environ).get(KEY_VARIABLE, "")
    return configured.encode("utf-8") if configured else os.urandom(32)


def callback_token(key: bytes, run_id: str, name: str) -> str:
    digest = hmac.new(key, f"{run_id}\0{name}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def token_matches(key: bytes, run_id: str, name: str, token: str) -> bool:
    return hmac.compare_digest(callback_token(key, run_id, name), token)


class CallbackMinter:
    """Makes the callback URL of (run id, signal name), for ``Engine.callbacks``."""

    def __init__(self, base_url: str, key: bytes) -> None:
        self.base_url = base_url.rstrip("/")
        self.key = key

    def __call__(self, run_id: str, name: str) -> str:
        token = callback_token(self.key, run_id, name)
        return f"{self.base_url}{PREFIX}{quote(run_id, safe='')}/{quote(name, safe='')}/{token}"
