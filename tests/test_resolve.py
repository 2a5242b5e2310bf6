"""``--resolve HOST=BASE_URL``: the host map (``runtime/resolve.py``), and the invoker using it."""

from __future__ import annotations

import pytest

from flowc.runtime.http import HttpInvoker, HttpRequest
from flowc.runtime.resolve import HostMap, ResolveError
from tests.http_fixtures import DemoServer


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://user-service/check?user_id=ada", "http://127.0.0.1:8080/check?user_id=ada"),
        ("https://USER-SERVICE:8443/a/b#f", "http://127.0.0.1:8080/a/b#f"),
        ("http://user-service", "http://127.0.0.1:8080/"),
        ("http://user-service.example/check", "http://user-service.example/check"),
        ("http://other/user-service/x", "http://other/user-service/x"),
        ("http://api:81/x", "https://staging.example/v2/x"),
        ("http://api/x", "http://api/x"),
    ],
)
def test_routes(url: str, expected: str) -> None:
    hosts = HostMap.parse(
        ["user-service=http://127.0.0.1:8080", "api:81=https://staging.example/v2/"]
    )
    assert hosts.rewrite(url) == expected


def test_the_first_matching_route_wins_and_an_empty_map_is_false() -> None:
    hosts = HostMap.parse(["a=http://one", "a=http://two"])
    assert hosts.rewrite("http://a/x") == "http://one/x"
    assert not HostMap.parse([])


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("user-service", "expects HOST=BASE_URL"),
        ("=http://x", "expects HOST=BASE_URL"),
        ("a=ftp://x", "must start with http:// or https://"),
        ("a=http://x/?q=1", "cannot have a query"),
        ("a:99999=http://x", "is not a port"),
        ("a/b=http://x", "is not a host name"),
        ("a=http://[bad", "is not a URL"),
    ],
)
def test_bad_specs(spec: str, problem: str) -> None:
    with pytest.raises(ResolveError, match=problem.replace("?", r"\?")):
        HostMap.parse([spec])


async def test_the_invoker_sends_routed_requests_to_the_base_url(demo: DemoServer) -> None:
    hosts = HostMap.parse([f"user-service={demo.url}"])
    async with HttpInvoker(resolve=hosts) as http:
        response = await http.send(
            HttpRequest("GET", "http://user-service/echo/x", params=(("q", "1"),))
        )
    assert response.status == 200
    assert b'"path":"/echo/x"' in response.body and b'"q":"1"' in response.body
