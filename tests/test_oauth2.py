"""OAuth 2.0 client credentials on a service (`runtime/oauth2.py`), against a
token server and an API written here on 127.0.0.1: the token is fetched once per
engine whatever the number of steps, concurrent steps share one fetch, a 401
triggers exactly one refresh, an expired token is renewed, and neither the token
nor the client secret reaches logs or traces."""

from __future__ import annotations

import base64
import itertools
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import trio

from flowc.common.values import Secret
from flowc.runtime.engine import Engine
from flowc.runtime.oauth2 import ClientCredentials, Credentials
from tests.runtime_helpers import compile_flow, run

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CLIENT_SECRET = "s3cret-client-value"
PAGES = {"": ("r1", "r2", "p2"), "p2": ("r3", "p3"), "p3": ("r4", "")}


class OAuthServer:
    """`POST /oauth/token` (client credentials, HTTP Basic) and a paged `GET /reports`."""

    def __init__(self, lifetime: int | None = 3600, delay: float = 0.0) -> None:
        self.lifetime = lifetime
        self.delay = delay
        self.token_requests: list[dict[str, list[str]]] = []
        self.valid: set[str] = set()
        self.seen: list[str] = []
        self.lock = threading.Lock()
        self.counter = itertools.count(1)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                basic = base64.b64encode(f"flowc:{CLIENT_SECRET}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {basic}":
                    return self._send(401, {"error": "invalid_client"})
                form = parse_qs(body.decode())
                time.sleep(server.delay)
                with server.lock:
                    server.token_requests.append(form)
                    token = f"tok-{next(server.counter)}-abcdefgh"
                    server.valid.add(token)
                answer: dict[str, Any] = {"access_token": token, "token_type": "Bearer"}
                if server.lifetime is not None:
                    answer["expires_in"] = server.lifetime
                self._send(200, answer)

            def do_GET(self) -> None:
                auth = self.headers.get("Authorization", "")
                token = auth.removeprefix("Bearer ")
                with server.lock:
                    server.seen.append(token)
                    ok = auth.startswith("Bearer ") and token in server.valid
                if not ok:
                    return self._send(401, {"error": "invalid_token"})
                time.sleep(server.delay)
                cursor = parse_qs(urlsplit(self.path).query).get("cursor", [""])[0]
                *ids, following = PAGES.get(cursor, ("",))
                self._send(200, {"items": [{"id": i} for i in ids], "next": following})

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def revoke_all(self) -> None:
        with self.lock:
            self.valid.clear()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def oauth(monkeypatch: pytest.MonkeyPatch) -> Iterator[OAuthServer]:
    server = OAuthServer()
    monkeypatch.setenv("FLOWC_OAUTH_API_URL", server.url)
    monkeypatch.setenv("OAUTH_CLIENT_SECRET", CLIENT_SECRET)
    yield server
    server.close()


def example() -> str:
    return (EXAMPLES / "oauth_pagination.flow").read_text()


async def test_the_example_pages_with_one_token_request(oauth: OAuthServer) -> None:
    outcome = await run(compile_flow(example()))
    assert outcome.value == {"ids": ["r1", "r2", "r3", "r4"], "pages": 3}
    assert len(oauth.token_requests) == 1
    form = oauth.token_requests[0]
    assert form == {"grant_type": ["client_credentials"], "scope": ["reports:read"]}
    assert oauth.seen == ["tok-1-abcdefgh"] * 3
    shown = outcome.trace_text + "\n".join(outcome.logs)
    assert "tok-1-abcdefgh" not in shown and CLIENT_SECRET not in shown
    assert "oauth/token" not in outcome.trace_text  # the token request is not a step


PARALLEL = """
    service api "@URL@" {
        auth oauth2 client_credentials "@URL@/oauth/token", "flowc", secret("OAUTH_CLIENT_SECRET")
    }

    flow many(n: int) -> int {
        let statuses = for i in range(n) parallel {
            step s = GET api "/reports"
            yield s.status
        }
        return size(statuses.filter(x, x == 200))
    }
"""


async def test_concurrent_steps_share_one_fetch(oauth: OAuthServer) -> None:
    oauth.delay = 0.2  # every step asks while the first fetch is in flight
    outcome = await run(compile_flow(PARALLEL, oauth.url), inputs={"n": 8})
    assert outcome.value == 8
    assert len(oauth.token_requests) == 1


async def test_one_engine_fetches_once_for_several_runs(oauth: OAuthServer) -> None:
    program = compile_flow(PARALLEL, oauth.url)
    async with Engine() as engine:
        for _ in range(3):
            assert await engine.run(program, "many", {"n": 2}) == 2
    assert len(oauth.token_requests) == 1


async def test_a_401_triggers_exactly_one_refresh(oauth: OAuthServer) -> None:
    program = compile_flow(PARALLEL, oauth.url)
    async with Engine() as engine:
        assert await engine.run(program, "many", {"n": 1}) == 1
        oauth.revoke_all()  # the cached token is now refused
        assert await engine.run(program, "many", {"n": 1}) == 1
    assert len(oauth.token_requests) == 2
    assert oauth.seen == ["tok-1-abcdefgh", "tok-1-abcdefgh", "tok-2-abcdefgh"]


async def test_a_second_401_is_the_steps_answer(oauth: OAuthServer) -> None:
    source = PARALLEL.replace("@URL@/oauth/token", "@URL@/oauth/token?x=1")
    program = compile_flow(source, oauth.url)
    oauth.valid = _Refusing()
    outcome = await run(program, "many", {"n": 1})
    assert outcome.error is not None and outcome.error.status == 401
    assert len(oauth.token_requests) == 2  # the first token, then one refresh


class _Refusing(set[str]):
    def __contains__(self, item: object) -> bool:
        return False


async def test_a_refused_token_request_fails_the_step_with_kind_auth(
    oauth: OAuthServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OAUTH_CLIENT_SECRET", "wrong-secret-value")
    outcome = await run(compile_flow(PARALLEL, oauth.url), inputs={"n": 1})
    error = outcome.error
    assert error is not None and error.kind == "auth" and error.status == 401
    assert "token request" in error.message and "wrong-secret-value" not in error.message


async def test_an_expiring_token_is_renewed_before_it_expires() -> None:
    now = [0.0]
    tokens = ClientCredentials(Credentials("http://x/token", "id", "s"), clock=lambda: now[0])
    server = OAuthServer(lifetime=100)
    try:
        from flowc.runtime.http import HttpInvoker

        async with HttpInvoker() as invoker:
            fetch = invoker.send
            tokens.credentials = Credentials(f"{server.url}/oauth/token", "flowc", CLIENT_SECRET)
            first = await tokens.token(fetch)
            now[0] = 85.0  # within the lifetime less its margin (10 s)
            assert await tokens.token(fetch) == first
            now[0] = 91.0
            assert await tokens.token(fetch) != first
        assert tokens.fetches == 2
    finally:
        server.close()


async def test_the_token_fetch_is_shared_under_trio_concurrency(oauth: OAuthServer) -> None:
    oauth.delay = 0.1
    tokens = ClientCredentials(Credentials(f"{oauth.url}/oauth/token", "flowc", CLIENT_SECRET))
    from flowc.runtime.http import HttpInvoker

    got: list[str] = []
    async with HttpInvoker() as invoker, trio.open_nursery() as nursery:
        for _ in range(5):

            async def ask() -> None:
                got.append(await tokens.token(invoker.send))

            nursery.start_soon(ask)
    assert len(set(got)) == 1 and len(got) == 5 and tokens.fetches == 1


SUBFLOW = """
    type Token = {access_token: secret, token_type: string}

    flow fetch_token() -> {token: secret} {
        step t = POST "@URL@/oauth/token" -> Token {
            auth basic "flowc", secret("OAUTH_CLIENT_SECRET")
            form {grant_type: "client_credentials"}
        }
        return {token: t.body.access_token}
    }

    flow first_page() -> {token: secret, ids: list[string]} {
        step token = call fetch_token()
        step page = GET "@URL@/reports" -> {items: list[{id: string}], next: string} {
            headers {"Authorization": "Bearer ${token.body.token}"}
        }
        return {token: token.body.token, ids: page.body.items.map(i, i.id)}
    }
"""


async def test_a_secret_result_lets_a_token_sub_flow_be_reused(oauth: OAuthServer) -> None:
    outcome = await run(compile_flow(SUBFLOW, oauth.url), "first_page")
    value = outcome.value
    assert value["ids"] == ["r1", "r2"] and oauth.seen == ["tok-1-abcdefgh"]
    assert isinstance(value["token"], Secret) and value["token"].reveal() == "tok-1-abcdefgh"
    assert "tok-1-abcdefgh" not in outcome.trace_text


def test_a_secret_in_a_runs_output_is_redacted(
    oauth: OAuthServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    flow = tmp_path / "token.flow"
    flow.write_text(textwrap.dedent(SUBFLOW).replace("@URL@", oauth.url))
    done = subprocess.run(
        [sys.executable, "-m", "flowc.cli", "run", str(flow), "--flow", "first_page"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={k: v for k, v in os.environ.items() if "proxy" not in k.lower()},
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"token": "***redacted***", "ids": ["r1", "r2"]}
    assert "tok-1" not in done.stdout + done.stderr
