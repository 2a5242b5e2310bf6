"""Steps and their clauses against real servers, and every HTTP-side error kind.

Clauses (LANGUAGE.md §4 to §5): `headers` (service and step merged, the step wins),
`query` (lists become repeated keys), `json`/`form`/`body` (checked on what the server
received, via the demo API's `/echo` and httpbin's `/post`), `auth bearer`/`basic`/
`header` (the demo API's `/auth/*` and httpbin's), `timeout` per attempt, `accept`
ranges, `idempotency_key` (sent as `Idempotency-Key`; the demo API replays), `fallback`,
`on error skip`, `-> T` validation.

Error kinds: `status`, `timeout`, `connect` (a closed port), `protocol` (`/reset`,
`/truncated`), `decode` (invalid JSON, and a `-> T` mismatch naming the JSON path),
`invalid_request`; plus the redaction of secrets a server echoes in an error body.

Everything here runs on the real clock against the demo API (the `demo` fixture, a
subprocess) or pytest-httpbin's in-process `httpbin`; bounds on time are generous.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.http_fixtures import DemoServer
from tests.runtime_helpers import Outcome, ScriptedInvoker, closed_port, compile_flow, reply, run


async def run_on(demo: DemoServer, body: str, inputs: dict[str, Any] | None = None) -> Outcome:
    """Run a flow whose service `api` is the demo API (`body` is the rest of the file)."""
    return await run(compile_flow('service api "@URL@" { }\n' + body, demo.url), inputs=inputs)


# --------------------------------------------------------------------------- headers and query


async def test_service_and_step_headers_merge_and_the_step_wins(demo: DemoServer) -> None:
    program = compile_flow(
        """
        service api "@URL@" {
            headers { "X-Service": "svc", "X-Both": "from service", "Accept": "application/json" }
        }
        flow f() -> map[string, string] {
            step e = GET api "/echo" -> {headers: map[string, string]} {
                headers { "x-both": "from step", "X-Step": "${1 + 1}" }
            }
            return e.body.headers
        }
        """,
        demo.url,
    )
    headers = (await run(program)).value
    assert headers["x-service"] == "svc"
    assert headers["x-both"] == "from step"
    assert headers["x-step"] == "2"
    assert headers["accept"] == "application/json"
    assert headers["user-agent"] == "flowc/0.1"


async def test_query_lists_become_repeated_keys(demo: DemoServer) -> None:
    program = compile_flow(
        """
        service api "@URL@" { query { "api-version": "2" } }
        flow f() -> string {
            step e = GET api "/echo?fixed=1" -> {query: string} {
                query { tag: ["a", "b c"], n: 3, flag: true }
            }
            return e.body.query
        }
        """,
        demo.url,
    )
    assert (await run(program)).value == "fixed=1&api-version=2&tag=a&tag=b+c&n=3&flag=true"


async def test_query_on_httpbin(httpbin: Any) -> None:
    program = compile_flow(
        """
        flow f() -> map[string, json] {
            step got = GET "@URL@/get" -> {args: map[string, json]} {
                query { id: [1, 2], name: "Ada Lovelace" }
            }
            return got.body.args
        }
        """,
        httpbin.url,
    )
    assert (await run(program)).value == {"id": ["1", "2"], "name": "Ada Lovelace"}


# --------------------------------------------------------------------------- bodies


async def test_json_body(demo: DemoServer) -> None:
    outcome = await run_on(
        demo,
        """
        flow f() -> {json: json, type: string} {
            let items = [1, 2.5, "three", null, {deep: [true]}]
            step e = POST api "/echo" -> {json: json, headers: map[string, string]} {
                json { items: items, "odd key": "é", n: 9007199254740993 }
            }
            return {json: e.body.json, type: e.body.headers["content-type"]}
        }
    """,
    )
    assert outcome.value == {
        "json": {
            "items": [1, 2.5, "three", None, {"deep": [True]}],
            "odd key": "é",
            "n": 9007199254740993,
        },
        "type": "application/json",
    }


async def test_form_body(demo: DemoServer) -> None:
    outcome = await run_on(
        demo,
        """
        flow f() -> {body: string, type: string} {
            step e = POST api "/echo" -> {body: string, headers: map[string, string]} {
                form { name: "Ada Lovelace", tag: "y&z", n: 1, yes: true }
            }
            return {body: e.body.body, type: e.body.headers["content-type"]}
        }
    """,
    )
    assert outcome.value == {
        "body": "name=Ada+Lovelace&tag=y%26z&n=1&yes=true",
        "type": "application/x-www-form-urlencoded",
    }


async def test_form_body_on_httpbin(httpbin: Any) -> None:
    program = compile_flow(
        """
        flow f() -> map[string, json] {
            step posted = POST "@URL@/post" -> {form: map[string, json]} {
                form { a: "1", b: "two words" }
            }
            return posted.body.form
        }
        """,
        httpbin.url,
    )
    assert (await run(program)).value == {"a": "1", "b": "two words"}


@pytest.mark.parametrize(
    ("clause", "body", "content_type"),
    [
        ('body "plain text ${1 + 1}"', "plain text 2", "text/plain; charset=utf-8"),
        ('body bytes("raw\\u00e9")', "raw\u00e9", "application/octet-stream"),
        ('body b"raw\\x01"', "raw\x01", "application/octet-stream"),
        ('body "<a/>"\n headers { "Content-Type": "application/xml" }', "<a/>", "application/xml"),
    ],
)
async def test_raw_bodies(demo: DemoServer, clause: str, body: str, content_type: str) -> None:
    outcome = await run_on(
        demo,
        f"""
        flow f() -> {{body: string, type: string}} {{
            step e = PUT api "/echo" -> {{body: string, headers: map[string, string]}} {{
                {clause}
            }}
            return {{body: e.body.body, type: e.body.headers["content-type"]}}
        }}
    """,
    )
    assert outcome.value == {"body": body, "type": content_type}


# --------------------------------------------------------------------------- auth


@pytest.fixture
def demo_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("T_TOKEN", "demo-token")
    monkeypatch.setenv("T_PASSWORD", "demo-password")
    monkeypatch.setenv("T_KEY", "demo-key")


@pytest.mark.usefixtures("demo_secrets")
async def test_auth_schemes_on_the_demo_api(demo: DemoServer) -> None:
    program = compile_flow(
        """
        service bearer "@URL@" { auth bearer secret("T_TOKEN") }
        service basic "@URL@" { auth basic "demo", secret("T_PASSWORD") }
        service keyed "@URL@" { auth header "X-Api-Key", secret("T_KEY") }
        flow f() -> list[int] {
            step b = GET bearer "/auth/bearer"
            step p = GET basic "/auth/basic"
            step k = GET keyed "/auth/header"
            step wrong = GET bearer "/auth/bearer" {
                auth bearer "not-the-token"
                accept 200, 401
            }
            step overridden = GET keyed "/auth/bearer" { auth bearer secret("T_TOKEN") }
            return [b.status, p.status, k.status, wrong.status, overridden.status]
        }
        """,
        demo.url,
    )
    assert (await run(program)).value == [200, 200, 200, 401, 200]


@pytest.mark.usefixtures("demo_secrets")
async def test_auth_headers_as_received(demo: DemoServer) -> None:
    outcome = await run_on(
        demo,
        """
        type Echo = {headers: map[string, string]}
        flow f() -> list[string] {
            step b = GET api "/echo" -> Echo { auth bearer secret("T_TOKEN") }
            step p = GET api "/echo" -> Echo { auth basic "demo", secret("T_PASSWORD") }
            step k = GET api "/echo" -> Echo { auth header "X-Api-Key", secret("T_KEY") }
            return [
                b.body.headers["authorization"],
                p.body.headers["authorization"],
                k.body.headers["x-api-key"],
            ]
        }
    """,
    )
    basic = base64.b64encode(b"demo:demo-password").decode()
    assert outcome.value == ["Bearer demo-token", f"Basic {basic}", "demo-key"]


@pytest.mark.usefixtures("demo_secrets")
async def test_secrets_converted_to_bytes_are_revealed_only_into_the_request(
    demo: DemoServer,
) -> None:
    outcome = await run_on(
        demo,
        """
        type Echo = {body: string, headers: map[string, string]}
        flow f() -> list[string] {
            let raw = bytes(secret("T_TOKEN")) + b"!"
            let basic = "Basic " + base64.encode(bytes("demo:" + secret("T_PASSWORD")))
            step b = PUT api "/echo" -> Echo { body raw }
            step j = PUT api "/echo" -> Echo { json {raw: raw} }
            step h = GET api "/auth/basic" { headers { "Authorization": basic } }
            return [b.body.body, b.body.headers["content-type"], j.body.body, "${h.status}"]
        }
    """,
    )
    token = base64.b64encode(b"demo-token!").decode()
    assert outcome.value == [
        "demo-token!",
        "application/octet-stream",
        f'{{"raw":"{token}"}}',
        "200",
    ]


async def test_auth_on_httpbin(httpbin: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HB_PASSWORD", "s3cret")
    program = compile_flow(
        """
        flow f() -> {basic: bool, bearer: string} {
            step basic = GET "@URL@/basic-auth/ada/s3cret" -> {authenticated: bool} {
                auth basic "ada", secret("HB_PASSWORD")
            }
            step bearer = GET "@URL@/bearer" -> {token: string} { auth bearer "tok-123" }
            return {basic: basic.body.authenticated, bearer: bearer.body.token}
        }
        """,
        httpbin.url,
    )
    assert (await run(program)).value == {"basic": True, "bearer": "tok-123"}


# --------------------------------------------------------------------------- accept, fallback, skip


async def test_accept_ranges(demo: DemoServer) -> None:
    outcome = await run_on(
        demo,
        """
        flow f() -> list[string] {
            step a = GET api "/status/404" { accept 200, 404 }
            step b = GET api "/status/418" { accept 200..299, 400..499 }
            step c = GET api "/status/201" { accept 201 }
            let d = for code in [200, 204, 302] {
                step s = GET api "/status/${code}" { accept 201, 204 on error skip }
                yield "${code}:${s.ok}"
            }
            return ["${a.status}:${a.ok}", "${b.status}:${b.ok}", "${c.status}:${c.ok}"] + d
        }
    """,
    )
    assert outcome.value == [
        "404:true",
        "418:true",
        "201:true",
        "200:false",
        "204:true",
        "302:false",
    ]


async def test_redirects_are_not_followed(httpbin: Any) -> None:
    program = compile_flow(
        """
        flow f() -> {status: int, location: string} {
            step r = GET "@URL@/redirect-to?url=/get" { accept 300..399 }
            return {status: r.status, location: r.headers["location"]}
        }
        """,
        httpbin.url,
    )
    assert (await run(program)).value == {"status": 302, "location": "/get"}


async def test_fallback_body_when_the_step_finally_fails(demo: DemoServer) -> None:
    outcome = await run_on(
        demo,
        """
        flow f() -> {note: string, ok: bool, kind: string, status: int, attempts: int} {
            step s = GET api "/status/503" -> {note: string} {
                retry 2 backoff fixed 10ms
                fallback {note: "cached"}
            }
            return {
                note: s.body.note, ok: s.ok, kind: s.error.kind ?? "",
                status: s.status, attempts: s.attempts,
            }
        }
    """,
    )
    assert outcome.value == {
        "note": "cached",
        "ok": False,
        "kind": "status",
        "status": 503,
        "attempts": 3,
    }
    assert demo.stats()["paths"]["/status/503"] == 3


async def test_on_error_skip_and_on_error_fail(demo: DemoServer) -> None:
    outcome = await run_on(
        demo,
        """
        flow f() -> {skipped: bool, message: string} {
            step s = GET api "/status/500" { on error skip }
            step t = GET api "/status/500" { on error fail }
            return {skipped: s.body == null, message: s.error.message ?? ""}
        }
    """,
    )
    assert outcome.error is not None and (outcome.error.step, outcome.error.status) == ("t", 500)


# --------------------------------------------------------------------------- idempotency


async def test_idempotency_key_is_sent_and_the_server_replays(demo: DemoServer) -> None:
    outcome = await run_on(
        demo,
        """
        type User = {id: int, user_id: string, name: string}
        flow f() -> {first: int, second: int, replayed: string, key: string} {
            step first = POST api "/users" -> User {
                json { user_id: "idem", name: "Ada" }
                idempotency_key "key-${run.flow}"
            }
            step second = POST api "/users" -> User {
                json { user_id: "idem", name: "Ada" }
                idempotency_key "key-${run.flow}"
            }
            step echo = POST api "/echo" -> {headers: map[string, string]} {
                idempotency_key "key-echo"
            }
            return {
                first: first.body.id,
                second: second.body.id,
                replayed: second.headers["idempotent-replayed"] ?? "no",
                key: echo.body.headers["idempotency-key"],
            }
        }
    """,
    )
    assert outcome.value == {"first": 1, "second": 1, "replayed": "true", "key": "key-echo"}
    stats = demo.stats()
    assert stats["idempotency_keys"]["key-f"] == 2
    assert len(demo.state()["users"]) == 1


async def test_retried_post_keeps_its_idempotency_key(demo: DemoServer) -> None:
    outcome = await run_on(
        demo,
        """
        flow f() -> {id: string, attempts: int} {
            step order = POST api "/orders?fail=503&fail_times=2" -> {id: string} {
                json { item: "x", quantity: 1, amount: 5 }
                idempotency_key "order-${run.id}"
                retry 3 backoff fixed 10ms
            }
            return {id: order.body.id, attempts: order.attempts}
        }
    """,
    )
    assert outcome.value == {"id": "ord_1", "attempts": 3}
    assert list(demo.stats()["idempotency_keys"].values()) == [3]
    assert len(demo.state()["orders"]) == 1


# --------------------------------------------------------------------------- timeouts


async def test_step_timeout_bounds_each_attempt_and_aborts_the_request(demo: DemoServer) -> None:
    outcome = await run_on(
        demo,
        """
        flow f() {
            step slow = GET api "/delay/5000" { timeout 300ms retry 2 backoff fixed 10ms }
        }
    """,
    )
    error = outcome.error
    assert error is not None
    assert (error.kind, error.step, error.attempt, error.status) == ("timeout", "slow", 3, 0)
    assert error.message == "no response within 0.3s"
    assert 0.85 < outcome.wall < 3.5
    assert [event["error"] for event in outcome.attempts("slow")] == ["timeout"] * 3
    stats = demo.wait_until_idle()
    assert stats["in_flight"] == 0
    assert stats["aborted"] == 3  # each timed-out attempt was abandoned by the client


async def test_service_timeout_applies_and_a_step_overrides_it(demo: DemoServer) -> None:
    program = compile_flow(
        """
        service api "@URL@" { timeout 200ms }
        flow f() -> string {
            var result = ""
            try { step a = GET api "/delay/1500" } catch err { result = err.kind }
            step b = GET api "/delay/400" { timeout 3s }
            return "${result} ${b.status}"
        }
        """,
        demo.url,
    )
    assert (await run(program)).value == "timeout 200"


# --------------------------------------------------------------------------- error kinds


async def test_status_error(demo: DemoServer) -> None:
    error = (
        await run_on(demo, 'flow f() {\n    step s = GET api "/status/502" { retry 1 }\n}')
    ).error
    assert error is not None
    assert (error.kind, error.status, error.attempt, error.step) == ("status", 502, 2, "s")
    assert error.message == 'HTTP 502 Bad Gateway: {"status":502}'
    assert error.span is not None and str(error.span) == "<test>.flow:3:5"


async def test_connect_error() -> None:
    program = compile_flow(f"""
        flow f() {{
            step s = GET "http://127.0.0.1:{closed_port()}/x" {{ retry 1 }}
        }}
    """)
    error = (await run(program)).error
    assert error is not None
    assert (error.kind, error.attempt, error.status) == ("connect", 2, 0)


@pytest.mark.parametrize("path", ["/reset", "/truncated"])
async def test_protocol_errors(demo: DemoServer, path: str) -> None:
    outcome = await run_on(demo, f'flow f() {{\n step s = GET api "{path}" {{ retry 0 }}\n}}')
    assert outcome.error is not None and outcome.error.kind == "protocol"
    assert outcome.error.status == 0


async def test_decode_error_on_invalid_json(demo: DemoServer) -> None:
    outcome = await run_on(demo, 'flow f() {\n step s = GET api "/invalid-json"\n}')
    error = outcome.error
    assert error is not None and (error.kind, error.status) == ("decode", 200)
    assert "JSON" in error.message


async def test_decode_error_names_the_json_path(demo: DemoServer) -> None:
    outcome = await run_on(
        demo,
        """
        flow f() {
            step e = POST api "/echo" -> {json: {items: list[{id: int}]}} {
                json { items: [{id: 1}, {id: "two"}] }
            }
        }
    """,
    )
    error = outcome.error
    assert error is not None and error.kind == "decode"
    assert error.message == "response body $.json.items[1].id: expected int, found string"


async def test_decoded_bodies_by_content_type(demo: DemoServer) -> None:
    outcome = await run_on(
        demo,
        """
        flow f() -> {gzip: string, items: int, text: string} {
            step g = GET api "/gzip" -> {encoding: string, items: list[int]}
            step t = GET api "/status/200"
            let text = t.headers["content-type"]
            return {gzip: g.body.encoding, items: size(g.body.items), text: text}
        }
    """,
    )
    assert outcome.value == {"gzip": "gzip", "items": 100, "text": "application/json"}


@pytest.mark.parametrize(
    ("target", "fragment"),
    [
        ('"ftp://example.com/file"', "must start with http:// or https://"),
        ('"@URL@/echo" { headers { "X-Bad": "a\\nb" } }', "header"),
    ],
)
async def test_invalid_request(demo: DemoServer, target: str, fragment: str) -> None:
    outcome = await run(compile_flow(f"flow f() {{\n step s = GET {target}\n}}", demo.url))
    error = outcome.error
    assert error is not None and error.kind == "invalid_request"
    assert fragment in error.message
    assert demo.stats()["total"] == 0


async def test_a_request_that_cannot_be_built_honours_skip_and_fallback(demo: DemoServer) -> None:
    outcome = await run_on(
        demo,
        """
        flow f() -> list[string] {
            step bad_url = GET "ftp://example.com/x" { on error skip }
            step bad_header = GET api "/echo" { headers { "X-Bad": "a\\nb" } on error skip }
            step defaulted = GET "ftp://example.com/y" -> {v: int} { fallback {v: 7} }
            return [
                bad_url.error.kind ?? "", bad_header.error.kind ?? "",
                "${bad_url.attempts} ${bad_header.attempts} ${defaulted.body.v}",
            ]
        }
        """,
    )
    assert outcome.value == ["invalid_request", "invalid_request", "1 1 7"]
    assert demo.stats()["total"] == 0


async def test_secrets_echoed_in_an_error_body_are_redacted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("T_SECRET", "hunter2-very-secret")
    monkeypatch.setenv("T_PASSWORD", "pa55word")
    invoker = ScriptedInvoker(
        {
            "/login": reply(
                401, raw=b"invalid token 'hunter2-very-secret' for Bearer hunter2-very-secret"
            ),
            "/basic": reply(403, raw=b"bad password pa55word; header was Basic dTpwYTU1d29yZA=="),
        }
    )
    program = compile_flow("""
        flow f() -> list[string] {
            step a = GET "http://api.test/login" {
                headers { "Authorization": "Bearer ${secret('T_SECRET')}" }
                on error skip
            }
            step b = POST "http://api.test/basic" {
                auth basic "u", secret("T_PASSWORD")
                json { password: secret("T_PASSWORD") }
                on error skip
            }
            return [a.error.message ?? "", b.error.message ?? ""]
        }
    """)
    outcome = await run(program, invoker=invoker)
    assert outcome.value == [
        "HTTP 401 Unauthorized: invalid token '***' for ***",
        "HTTP 403 Forbidden: bad password ***; header was ***",
    ]
    assert "hunter2" not in outcome.trace_text and "pa55word" not in outcome.trace_text
