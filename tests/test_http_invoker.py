"""HttpInvoker against real servers on 127.0.0.1: the demo API and pytest-httpbin.

Each test checks observable behaviour: what the server received or counted (through
the demo's /_stats), what came back, which TransportError kind was raised, and the
pool's own counters. Timing is only ever bounded from the safe side (a delay is at
least its length; a concurrency limit is never exceeded).
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import trio
from hypothesis import given
from hypothesis import strategies as st
from pytest_httpbin import certs

from flowc.runtime.http import (
    ConnectionPool,
    HttpInvoker,
    HttpRequest,
    HttpResponse,
    TransportError,
)
from flowc.runtime.http_urls import SIMPLE_URL, direct_target
from tests.http_fixtures import DemoServer

SECRET = "s3cr3t-token-value"


@pytest.fixture
async def http() -> AsyncIterator[HttpInvoker]:
    async with HttpInvoker() as invoker:
        yield invoker


async def get(http: HttpInvoker, url: str, **fields: Any) -> HttpResponse:
    return await http.send(HttpRequest("GET", url, **fields))


def body_json(response: HttpResponse) -> Any:
    return json.loads(response.body)


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- requests and responses --------------------------------------------------------------


async def test_get_sends_params_and_headers(http: HttpInvoker, demo: DemoServer) -> None:
    response = await get(
        http,
        f"{demo.url}/echo/path?fixed=1",
        params=(("user_id", "ada"), ("tag", "a"), ("tag", "b")),
        headers=(("X-Request-Id", "r-1"), ("Accept", "application/json")),
    )
    echoed = body_json(response)
    assert response.status == 200
    assert echoed["method"] == "GET"
    assert echoed["query"] == "fixed=1&user_id=ada&tag=a&tag=b"
    assert echoed["headers"]["x-request-id"] == "r-1"
    assert echoed["headers"]["accept"] == "application/json"
    assert echoed["headers"]["user-agent"].startswith("flowc/")
    assert response.header("Content-Type") == "application/json"
    assert all(name == name.lower() for name, _ in response.headers)
    assert response.elapsed > 0
    assert response.http_version == "HTTP/1.1"


async def test_post_sends_the_body_bytes(http: HttpInvoker, demo: DemoServer) -> None:
    payload = json.dumps({"user_id": "ada", "name": "Ada"}).encode()
    response = await http.send(
        HttpRequest(
            "POST",
            f"{demo.url}/users",
            headers=(("Content-Type", "application/json"),),
            content=payload,
        )
    )
    assert response.status == 201
    assert body_json(response) == {"id": 1, "user_id": "ada", "name": "Ada"}
    assert demo.state()["users"] == [body_json(response)]


async def test_error_statuses_are_responses_not_exceptions(
    http: HttpInvoker, demo: DemoServer
) -> None:
    not_found = await get(http, f"{demo.url}/status/404")
    unavailable = await get(http, f"{demo.url}/status/503?retry_after=3")
    assert not_found.status == 404
    assert unavailable.status == 503
    assert unavailable.header("retry-after") == "3"


async def test_a_delayed_response_takes_at_least_the_delay(
    http: HttpInvoker, demo: DemoServer
) -> None:
    response = await get(http, f"{demo.url}/delay/200")
    assert body_json(response) == {"delayed_ms": 200}
    assert response.elapsed >= 0.19


async def test_gzip_and_deflate_bodies_are_decoded(http: HttpInvoker, demo: DemoServer) -> None:
    for encoding, path in [("gzip", "/gzip"), ("deflate", "/deflate")]:
        response = await get(http, demo.url + path)
        assert response.header("content-encoding") == encoding
        assert body_json(response) == {"encoding": encoding, "items": list(range(100))}


async def test_invalid_json_is_returned_as_bytes(http: HttpInvoker, demo: DemoServer) -> None:
    response = await get(http, f"{demo.url}/invalid-json")
    assert (response.status, response.body) == (200, b'{"items": [1, 2,')


async def test_idempotency_key_header_reaches_the_server(
    http: HttpInvoker, demo: DemoServer
) -> None:
    request = HttpRequest(
        "POST",
        f"{demo.url}/orders",
        headers=(("Idempotency-Key", "run-1-order"), ("Content-Type", "application/json")),
        content=b'{"amount": 5}',
    )
    first, second = await http.send(request), await http.send(request)
    assert body_json(first) == body_json(second)
    assert second.header("idempotent-replayed") == "true"
    assert len(demo.state()["orders"]) == 1
    assert demo.stats()["idempotency_keys"] == {"run-1-order": 2}


async def test_flaky_endpoint_through_the_invoker(http: HttpInvoker, demo: DemoServer) -> None:
    url = f"{demo.url}/flaky/inv?fail=1&status=429"
    statuses = [(await get(http, url)).status for _ in range(3)]
    assert statuses == [429, 200, 200]


# --- connections -------------------------------------------------------------------------


async def test_sequential_requests_reuse_one_connection(
    http: HttpInvoker, demo: DemoServer
) -> None:
    for i in range(20):
        assert (await get(http, f"{demo.url}/users/check?user_id=u{i}")).status == 200
    assert demo.stats()["connections"] == 1
    assert (http.pool.open_connections, http.pool.idle_connections) == (1, 1)


async def test_concurrency_is_bounded_by_max_connections(demo: DemoServer) -> None:
    statuses: list[int] = []
    async with HttpInvoker(max_connections=4) as http:

        async def call() -> None:
            statuses.append((await get(http, f"{demo.url}/delay/300")).status)
            assert http.pool.open_connections <= 4

        async with trio.open_nursery() as nursery:
            for _ in range(12):
                nursery.start_soon(call)
        assert http.pool.open_connections <= 4
    stats = demo.stats()
    assert statuses == [200] * 12
    assert 2 <= stats["peak_in_flight"] <= 4
    assert stats["connections"] <= 4


async def test_parallel_requests_overlap_on_separate_connections(
    http: HttpInvoker, demo: DemoServer
) -> None:
    async with trio.open_nursery() as nursery:
        for _ in range(8):
            nursery.start_soon(get, http, f"{demo.url}/delay/500")
    stats = demo.stats()
    assert stats["paths"] == {"/delay/500": 8}
    assert 2 <= stats["peak_in_flight"] <= 8
    assert http.pool.idle_connections == http.pool.open_connections == stats["connections"]


async def test_connections_to_other_origins_are_evicted_at_the_limit(demo: DemoServer) -> None:
    other_origin = demo.url.replace("127.0.0.1", "localhost")
    async with HttpInvoker(max_connections=1) as http:
        for url in [demo.url, other_origin, demo.url, other_origin]:
            assert (await get(http, f"{url}/echo")).status == 200
            assert http.pool.open_connections == 1
    assert demo.stats()["connections"] == 4


async def test_idle_connections_expire(demo: DemoServer) -> None:
    async with HttpInvoker(keepalive_expiry=0.1) as http:
        await get(http, f"{demo.url}/echo")
        await trio.sleep(0.3)
        await get(http, f"{demo.url}/echo")
    assert demo.stats()["connections"] == 2


async def test_waiting_for_a_connection_can_time_out(demo: DemoServer) -> None:
    async with HttpInvoker(max_connections=1) as http, trio.open_nursery() as nursery:
        nursery.start_soon(get, http, f"{demo.url}/delay/1500")
        await trio.sleep(0.2)
        with pytest.raises(TransportError) as raised:
            await get(http, f"{demo.url}/echo", timeout=0.2)
        assert raised.value.kind == "timeout"
        assert raised.value.may_have_been_sent is False
    assert demo.stats()["paths"] == {"/delay/1500": 1}


# --- cancellation and failures -----------------------------------------------------------


async def test_a_cancelled_request_is_aborted_and_the_pool_still_works(
    http: HttpInvoker, demo: DemoServer
) -> None:
    await get(http, f"{demo.url}/echo")  # one idle connection in the pool
    with trio.move_on_after(0.3) as scope:
        await get(http, f"{demo.url}/delay/5000")
    assert scope.cancelled_caught
    assert http.pool.open_connections == 0  # the aborted connection was closed, not reused

    stats = demo.wait_until_idle()
    assert (stats["in_flight"], stats["aborted"]) == (0, 1)  # the server saw the client leave

    assert (await get(http, f"{demo.url}/echo")).status == 200
    assert demo.stats()["connections"] == 2  # the follow-up used a fresh connection
    assert http.pool.open_connections == 1


async def test_many_cancelled_requests_leave_no_connection_behind(
    demo: DemoServer,
) -> None:
    async with HttpInvoker(max_connections=5) as http:
        with trio.move_on_after(0.3):
            async with trio.open_nursery() as nursery:
                for _ in range(20):
                    nursery.start_soon(get, http, f"{demo.url}/delay/3000")
        assert http.pool.open_connections == 0
        responses = [await get(http, f"{demo.url}/echo") for _ in range(3)]
    assert [r.status for r in responses] == [200] * 3
    stats = demo.wait_until_idle()
    assert stats["paths"]["/delay/3000"] == 5  # only 5 were ever sent...
    assert stats["aborted"] == 5  # ...and all 5 were aborted


async def test_request_timeout_raises_a_timeout_error(http: HttpInvoker, demo: DemoServer) -> None:
    with pytest.raises(TransportError) as raised:
        await get(http, f"{demo.url}/delay/2000", timeout=0.2)
    assert raised.value.kind == "timeout"
    assert raised.value.may_have_been_sent is True
    assert (await get(http, f"{demo.url}/echo")).status == 200


async def test_connection_reset_is_a_protocol_error(http: HttpInvoker, demo: DemoServer) -> None:
    headers = (("Authorization", f"Bearer {SECRET}"),)
    with pytest.raises(TransportError) as raised:
        await get(http, f"{demo.url}/reset?api_key=xyz", headers=headers)
    assert raised.value.kind == "protocol"
    assert raised.value.may_have_been_sent is True
    assert "reset" in raised.value.message.lower()
    assert SECRET not in raised.value.message
    assert "xyz" not in raised.value.message
    assert (await get(http, f"{demo.url}/echo")).status == 200


async def test_truncated_body_is_a_protocol_error(http: HttpInvoker, demo: DemoServer) -> None:
    with pytest.raises(TransportError) as raised:
        await get(http, f"{demo.url}/truncated")
    assert raised.value.kind == "protocol"
    assert "complete message body" in raised.value.message
    assert (await get(http, f"{demo.url}/echo")).status == 200


async def test_connection_refused_is_a_connect_error(http: HttpInvoker) -> None:
    with pytest.raises(TransportError) as raised:
        await get(http, f"http://127.0.0.1:{unused_port()}/anything")
    assert raised.value.kind == "connect"
    assert raised.value.may_have_been_sent is False
    assert http.pool.open_connections == 0


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/file", "http://", "not a url at all", "http://[::1/"],
)
async def test_malformed_urls_are_invalid_requests(http: HttpInvoker, url: str) -> None:
    with pytest.raises(TransportError) as raised:
        await get(http, url)
    assert raised.value.kind == "invalid_request"
    assert raised.value.may_have_been_sent is False


@pytest.mark.parametrize(
    "header",
    [
        ("Authorization", f"Bearer {SECRET}\r\nX-Injected: 1"),
        ("Authorization", f"Bearer {SECRET}é"),
    ],
)
async def test_bad_header_values_are_invalid_requests_without_the_value(
    http: HttpInvoker, demo: DemoServer, header: tuple[str, str]
) -> None:
    with pytest.raises(TransportError) as raised:
        await get(http, f"{demo.url}/echo", headers=(header,))
    assert raised.value.kind == "invalid_request"
    assert SECRET not in raised.value.message
    assert SECRET not in str(raised.value)
    assert demo.stats()["total"] == 0


async def test_send_outside_the_context_manager_is_refused() -> None:
    with pytest.raises(RuntimeError, match="async with"):
        await HttpInvoker().send(HttpRequest("GET", "http://127.0.0.1/"))


def test_invoker_uses_the_fast_pool_for_direct_requests() -> None:
    async def pool_type() -> type:
        async with HttpInvoker() as http:
            return type(http.pool)

    assert trio.run(pool_type) is ConnectionPool


# --- proxies -----------------------------------------------------------------------------


async def test_http_proxy_from_the_environment_is_used(
    monkeypatch: pytest.MonkeyPatch, demo: DemoServer
) -> None:
    monkeypatch.setenv("HTTP_PROXY", demo.url)  # the demo echoes absolute-form requests
    async with HttpInvoker() as http:
        response = await get(http, "http://flowc-proxy-test.invalid/echo?via=proxy")
    echoed = body_json(response)
    assert echoed["headers"]["host"] == "flowc-proxy-test.invalid"
    assert echoed["args"] == {"via": "proxy"}
    assert demo.stats()["paths"] == {"/echo": 1}


async def test_no_proxy_bypasses_the_proxy(
    monkeypatch: pytest.MonkeyPatch, demo: DemoServer
) -> None:
    monkeypatch.setenv("HTTP_PROXY", demo.url)
    monkeypatch.setenv("NO_PROXY", "flowc-proxy-test.invalid")
    async with HttpInvoker() as http:
        with pytest.raises(TransportError) as raised:
            await get(http, "http://flowc-proxy-test.invalid/echo")
    assert raised.value.kind == "connect"  # resolved directly: no such host
    assert demo.stats()["total"] == 0


async def test_trust_env_false_ignores_proxy_variables(
    monkeypatch: pytest.MonkeyPatch, demo: DemoServer
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    async with HttpInvoker(trust_env=False) as http:
        assert (await get(http, f"{demo.url}/echo")).status == 200


# --- against pytest-httpbin --------------------------------------------------------------


async def test_redirects_are_not_followed_by_default(http: HttpInvoker, httpbin: Any) -> None:
    response = await get(http, f"{httpbin.url}/redirect-to?url=/get")
    assert response.status == 302
    assert response.header("location") == "/get"


async def test_redirects_are_followed_when_asked(httpbin: Any) -> None:
    async with HttpInvoker(follow_redirects=True) as http:
        response = await get(http, f"{httpbin.url}/redirect/2")
    assert response.status == 200
    assert body_json(response)["url"].endswith("/get")


async def test_basic_auth_header_against_httpbin(http: HttpInvoker, httpbin: Any) -> None:
    good = (("Authorization", "Basic dXNlcjpwYXNzd2Q="),)  # user:passwd
    assert (await get(http, f"{httpbin.url}/basic-auth/user/passwd", headers=good)).status == 200
    assert (await get(http, f"{httpbin.url}/basic-auth/user/passwd")).status == 401
    bearer = (("Authorization", "Bearer any-token"),)
    assert (await get(http, f"{httpbin.url}/bearer", headers=bearer)).status == 200
    assert (await get(http, f"{httpbin.url}/bearer")).status == 401


async def test_httpbin_compressed_bodies_are_decoded(http: HttpInvoker, httpbin: Any) -> None:
    assert body_json(await get(http, f"{httpbin.url}/gzip"))["gzipped"] is True
    assert body_json(await get(http, f"{httpbin.url}/deflate"))["deflated"] is True


async def test_cookies_are_not_kept_between_requests(http: HttpInvoker, httpbin: Any) -> None:
    await get(http, f"{httpbin.url}/cookies/set?session=abc")
    assert body_json(await get(http, f"{httpbin.url}/cookies")) == {"cookies": {}}


async def test_tls_certificates_are_verified(http: HttpInvoker, httpbin_secure: Any) -> None:
    with pytest.raises(TransportError) as raised:
        await get(http, f"{httpbin_secure.url}/get")
    assert raised.value.kind == "connect"
    assert "CERTIFICATE_VERIFY_FAILED" in raised.value.message


async def test_a_trusted_certificate_authority_can_be_given(httpbin_secure: Any) -> None:
    context = ssl.create_default_context(cafile=certs.where())
    async with HttpInvoker(ssl_context=context) as http:
        response = await get(http, f"{httpbin_secure.url}/get?x=1")
    assert response.status == 200
    assert body_json(response)["args"] == {"x": "1"}


# --- the direct path (http_wire) ---------------------------------------------------------

_URL_PIECES = st.sampled_from(
    ["a", "Z", "0", "-", ".", "_", "~", "%20", "%zz", "é", " ", "/", "//"]
)


@given(
    scheme=st.sampled_from(["http", "https"]),
    host=st.sampled_from(["example.com", "a-b.example", "127.0.0.1", "EXAMPLE.com", "x..y"]),
    port=st.sampled_from(["", ":80", ":443", ":8080", ":65535", ":99999"]),
    path=st.lists(_URL_PIECES, max_size=6).map("".join),
    query=st.one_of(st.just(""), st.lists(_URL_PIECES | st.just("="), max_size=6).map("".join)),
)
def test_the_quick_url_split_agrees_with_httpx(
    scheme: str, host: str, port: str, path: str, query: str
) -> None:
    url = f"{scheme}://{host}{port}/{path}" + (f"?{query}" if query else "")
    quick = SIMPLE_URL.fullmatch(url)
    target = direct_target(url, ())
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        assert target is None
        return
    if quick is None:  # httpx parsed it: the same answer, from httpx
        return
    assert target is not None
    assert target.key == (parsed.raw_scheme, parsed.raw_host, parsed.port or target.key[2])
    assert target.netloc == parsed.netloc
    assert target.target == parsed.raw_path


async def test_direct_requests_send_what_httpx_would(http: HttpInvoker, demo: DemoServer) -> None:
    response = await http.send(
        HttpRequest("POST", f"{demo.url}/echo?a=1", headers=(("X-Test", "yes"),), content=b"{}")
    )
    echoed = body_json(response)
    assert echoed["headers"]["x-test"] == "yes"
    assert echoed["headers"]["content-length"] == "2"
    assert echoed["headers"]["accept"] == "*/*"
    assert echoed["headers"]["host"] == demo.url.split("://")[1]
    assert echoed["args"] == {"a": "1"}
    empty = body_json(await http.send(HttpRequest("PUT", f"{demo.url}/echo")))
    assert empty["headers"]["content-length"] == "0"
    assert http.pool.open_connections == 1  # both on one kept-alive connection
