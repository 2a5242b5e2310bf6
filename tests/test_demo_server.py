"""The demo API behaves as its module docstring (flowc/demo/server.py) documents.

These tests talk to the real server, in its subprocess, over 127.0.0.1 with a plain
synchronous httpx client (no proxies, no pool tricks), so a failure here is the
server's and not the invoker's.
"""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import httpx
import pytest

from flowc.demo import DemoServerError, start_demo_server
from flowc.demo.state import ITEM_COUNT
from tests.http_fixtures import DemoServer


@pytest.fixture
def client(demo: DemoServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=demo.url, trust_env=False, timeout=30) as client:
        yield client


def host_and_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    return parts.hostname, parts.port


# --- users -------------------------------------------------------------------------------


def test_check_then_create_then_delete_a_user(client: httpx.Client) -> None:
    assert client.get("/users/check", params={"user_id": "ada"}).json() == {"exists": False}

    created = client.post("/users", json={"user_id": "ada", "name": "Ada", "email": "a@x.org"})
    assert created.status_code == 201
    user = created.json()
    assert user == {"id": 1, "user_id": "ada", "name": "Ada", "email": "a@x.org"}

    assert client.get("/users/check", params={"user_id": "ada"}).json() == {"exists": True}
    assert client.get(f"/users/{user['id']}").json() == user

    duplicate = client.post("/users", json={"user_id": "ada", "name": "Other"})
    assert duplicate.status_code == 409
    assert duplicate.json()["id"] == user["id"]

    assert client.delete(f"/users/{user['id']}").status_code == 204
    assert client.get(f"/users/{user['id']}").status_code == 404
    assert client.delete(f"/users/{user['id']}").status_code == 404
    assert client.get("/users/check", params={"user_id": "ada"}).json() == {"exists": False}


def test_user_requests_are_validated(client: httpx.Client) -> None:
    assert client.get("/users/check").status_code == 400
    json_type = {"Content-Type": "application/json"}
    bad_json = client.post("/users", content=b"{not json", headers=json_type)
    assert bad_json.status_code == 400
    assert "JSON" in bad_json.json()["error"]
    assert client.post("/users", json=["a list"]).status_code == 400
    missing_name = client.post("/users", json={"user_id": "bob"})
    assert missing_name.status_code == 422
    assert missing_name.json() == {"error": "name must be a non-empty string"}
    assert client.get("/users/not-a-number").status_code == 404


def test_an_idempotency_key_replays_the_first_response(
    client: httpx.Client, demo: DemoServer
) -> None:
    key = {"Idempotency-Key": "register-ada"}
    first = client.post("/users", json={"user_id": "ada", "name": "Ada"}, headers=key)
    again = client.post("/users", json={"user_id": "ada", "name": "Ada"}, headers=key)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(demo.state()["users"]) == 1
    assert demo.stats()["idempotency_keys"] == {"register-ada": 2}


# --- pagination --------------------------------------------------------------------------


def test_cursor_pagination_walks_the_whole_catalogue_once(client: httpx.Client) -> None:
    ids: list[int] = []
    cursor, pages = "", 0
    while True:
        page = client.get("/items", params={"cursor": cursor, "limit": 10}).json()
        ids.extend(item["id"] for item in page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor == "":
            break
    assert ids == list(range(ITEM_COUNT))
    assert pages == -(-ITEM_COUNT // 10)


def test_pagination_rejects_bad_cursors_and_limits(client: httpx.Client) -> None:
    assert client.get("/items", params={"cursor": "bogus!"}).status_code == 400
    assert client.get("/items", params={"limit": 0}).status_code == 400
    assert client.get("/items", params={"limit": "ten"}).status_code == 400
    assert len(client.get("/items").json()["items"]) == 10


# --- orders saga -------------------------------------------------------------------------


def test_saga_with_a_failing_shipment_and_its_compensations(
    client: httpx.Client, demo: DemoServer
) -> None:
    order = client.post("/orders", json={"item": "book", "amount": 1200}).json()
    assert order["id"] == "ord_1" and order["status"] == "created"
    payment = client.post("/payments", json={"order_id": order["id"]}).json()
    assert payment == {"id": "pay_1", "order_id": "ord_1", "amount": 1200, "status": "captured"}

    shipment = client.post("/shipments?fail=502", json={"order_id": order["id"]})
    assert shipment.status_code == 502
    assert demo.state()["shipments"] == []

    refund = client.post(f"/payments/{payment['id']}/refund")
    assert refund.json()["status"] == "refunded"
    cancel = client.delete(f"/orders/{order['id']}")
    assert cancel.json()["status"] == "cancelled"
    assert client.get(f"/orders/{order['id']}").json()["status"] == "cancelled"
    assert client.get(f"/payments/{payment['id']}").json()["status"] == "refunded"


def test_injected_failure_can_be_limited_to_the_first_calls(
    client: httpx.Client, demo: DemoServer
) -> None:
    order = client.post("/orders", json={}).json()
    key = {"Idempotency-Key": "ship-1"}
    url = "/shipments?fail=503&fail_times=1"
    first = client.post(url, json={"order_id": order["id"]}, headers=key)
    second = client.post(url, json={"order_id": order["id"]}, headers=key)
    third = client.post(url, json={"order_id": order["id"]}, headers=key)

    assert [first.status_code, second.status_code, third.status_code] == [503, 201, 201]
    assert third.json() == second.json()
    assert len(demo.state()["shipments"]) == 1
    assert demo.stats()["idempotency_keys"] == {"ship-1": 3}
    assert client.delete(f"/shipments/{second.json()['id']}").json()["status"] == "cancelled"


def test_payments_need_an_existing_order(client: httpx.Client) -> None:
    assert client.post("/payments", json={"order_id": "ord_404"}).status_code == 404
    assert client.post("/payments", json={}).status_code == 422
    assert client.get("/orders/ord_404").status_code == 404


# --- test helpers ------------------------------------------------------------------------


def test_echo_returns_what_it_received(client: httpx.Client) -> None:
    response = client.put(
        "/echo/some/path?a=1&b=two",
        json={"x": [1, 2]},
        headers={"X-Trace": "abc"},
    )
    echoed = response.json()
    assert echoed["method"] == "PUT"
    assert echoed["path"] == "/echo/some/path"
    assert echoed["query"] == "a=1&b=two"
    assert echoed["args"] == {"a": "1", "b": "two"}
    assert echoed["headers"]["x-trace"] == "abc"
    assert echoed["json"] == {"x": [1, 2]}
    assert json.loads(echoed["body"]) == {"x": [1, 2]}
    assert client.get("/echo", params={"status": 418}).status_code == 418


def test_delay_holds_the_response_at_least_that_long(client: httpx.Client) -> None:
    started = time.monotonic()
    response = client.get("/delay/200")
    assert response.json() == {"delayed_ms": 200}
    assert time.monotonic() - started >= 0.19
    started = time.monotonic()
    assert client.get("/echo", params={"delay": 150}).status_code == 200
    assert time.monotonic() - started >= 0.14
    assert client.get("/delay/999999").status_code == 400


def test_status_endpoint_answers_the_status_asked_for(client: httpx.Client) -> None:
    assert client.get("/status/418").status_code == 418
    unavailable = client.post("/status/503", params={"retry_after": "2"})
    assert unavailable.status_code == 503
    assert unavailable.headers["Retry-After"] == "2"
    no_content = client.delete("/status/204")
    assert (no_content.status_code, no_content.content) == (204, b"")
    assert client.get("/status/99").status_code == 400


def test_flaky_endpoint_fails_n_times_per_key_then_succeeds(
    client: httpx.Client, demo: DemoServer
) -> None:
    params = {"fail": 2, "status": 502}
    statuses = [client.get("/flaky/k1", params=params).status_code for _ in range(4)]
    assert statuses == [502, 502, 200, 200]
    assert client.get("/flaky/k2").status_code == 503  # another key has its own count
    last = client.get("/flaky/k1", params={"fail": 2, "retry_after": "1"})
    assert last.json() == {"key": "k1", "attempt": 5, "ok": True}
    assert demo.stats()["flaky_attempts"] == {"k1": 5, "k2": 1}
    assert client.get("/flaky/k3", params={"retry_after": "7"}).headers["Retry-After"] == "7"


def test_reset_endpoint_resets_the_tcp_connection(demo: DemoServer) -> None:
    with socket.create_connection(host_and_port(demo.url), timeout=10) as sock:
        sock.sendall(b"GET /reset HTTP/1.1\r\nHost: demo\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            while sock.recv(4096):
                pass
    assert demo.stats()["paths"] == {"/reset": 1}


def test_truncated_endpoint_closes_in_the_middle_of_the_body(client: httpx.Client) -> None:
    with pytest.raises(httpx.RemoteProtocolError, match=r"complete message body"):
        client.get("/truncated")
    assert client.get("/echo").status_code == 200  # the server itself is fine


def test_invalid_json_endpoint(client: httpx.Client) -> None:
    response = client.get("/invalid-json")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_compressed_endpoints_send_encoded_bodies(client: httpx.Client, demo: DemoServer) -> None:
    for path, encoding in [("/gzip", "gzip"), ("/deflate", "deflate")]:
        response = client.get(path)
        assert response.headers["Content-Encoding"] == encoding
        assert response.json() == {"encoding": encoding, "items": list(range(100))}

    connection = http.client.HTTPConnection(*host_and_port(demo.url), timeout=10)
    try:
        connection.request("GET", "/gzip")
        raw = connection.getresponse().read()
    finally:
        connection.close()
    assert raw[:2] == b"\x1f\x8b"
    assert json.loads(gzip.decompress(raw))["encoding"] == "gzip"


def test_brotli_endpoint_matches_what_is_installed(client: httpx.Client) -> None:
    response = client.get("/brotli")
    try:
        import brotlicffi  # noqa: F401
    except ImportError:
        assert response.status_code in (200, 501)
    else:
        assert response.json()["encoding"] == "br"


def test_bearer_basic_and_header_auth(client: httpx.Client) -> None:
    bearer = {"Authorization": "Bearer demo-token"}
    assert client.get("/auth/bearer", headers=bearer).status_code == 200
    refused = client.get("/auth/bearer", headers={"Authorization": "Bearer wrong"})
    assert refused.status_code == 401
    assert refused.headers["WWW-Authenticate"].startswith("Bearer")
    own_token = client.get("/auth/bearer?token=t", headers={"Authorization": "Bearer t"})
    assert own_token.status_code == 200

    assert client.get("/auth/basic", auth=("demo", "demo-password")).json()["user"] == "demo"
    assert client.get("/auth/basic", auth=("demo", "nope")).status_code == 401
    assert client.get("/auth/basic").status_code == 401

    assert client.get("/auth/header", headers={"X-Api-Key": "demo-key"}).status_code == 200
    assert client.get("/auth/header", headers={"X-Api-Key": "other"}).status_code == 401
    custom = {"name": "X-Token", "value": "v1"}
    assert client.get("/auth/header", params=custom, headers={"X-Token": "v1"}).status_code == 200


# --- instrumentation ---------------------------------------------------------------------


def test_stats_count_paths_and_connections_but_not_themselves(
    client: httpx.Client, demo: DemoServer
) -> None:
    for _ in range(5):
        client.get("/users/check", params={"user_id": "x"})
    client.get("/items")
    stats = demo.stats()
    assert stats["total"] == 6
    assert stats["paths"] == {"/users/check": 5, "/items": 1}
    assert stats["connections"] == 1  # one keep-alive connection
    assert stats["in_flight"] == 0

    client.post("/_stats/reset")
    assert demo.stats()["total"] == 0


def test_peak_in_flight_shows_overlapping_requests(demo: DemoServer) -> None:
    def slow_request(_: int) -> int:
        with httpx.Client(trust_env=False, timeout=30) as client:
            return client.get(f"{demo.url}/delay/1000").status_code

    with ThreadPoolExecutor(max_workers=4) as pool:
        statuses = list(pool.map(slow_request, range(4)))
    stats = demo.stats()
    assert statuses == [200] * 4
    assert 2 <= stats["peak_in_flight"] <= 4
    assert stats["in_flight"] == 0
    assert stats["paths"] == {"/delay/1000": 4}


def test_reset_forgets_resources(client: httpx.Client, demo: DemoServer) -> None:
    client.post("/users", json={"user_id": "ada", "name": "Ada"})
    demo.reset()
    assert demo.state()["users"] == []
    assert client.post("/users", json={"user_id": "ada", "name": "Ada"}).json()["id"] == 1


# --- the launcher ------------------------------------------------------------------------


def test_start_demo_server_serves_then_stops() -> None:
    with start_demo_server() as url:
        host, port = host_and_port(url)
        assert port > 0
        assert httpx.get(f"{url}/_health", trust_env=False).json() == {"ok": True}
    with pytest.raises(OSError), socket.create_connection((host, port), timeout=5):
        pass


def test_start_demo_server_reports_a_busy_port() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(DemoServerError, match="cannot listen"), start_demo_server(port=port):
            pass
