"""pytest plugin: the flowc demo API as fixtures (registered from tests/conftest.py).

- `demo_server` (session scope) starts the demo API once, in a subprocess, and yields
  its base URL, e.g. "http://127.0.0.1:41234".
- `demo` (function scope) resets the server's statistics and state (users, orders,
  idempotency keys, flaky counters) before the test and yields a `DemoServer`: `.url`,
  `.stats()` (GET /_stats), `.state()` (GET /_state), `.reset()` and
  `.wait_until_idle()` (until no request is in flight, e.g. after an abort). Its helpers are
  synchronous (plain `http.client`, never a proxy), so they work in both plain and trio
  tests; the server is another process, so a short blocking call stalls nothing.

Tests sharing the session server must use the `demo` fixture (or unique keys and user
ids) so that what an earlier test created does not leak into their assertions.

- `fault_server` (session scope) is the fault-injecting server of `tests/fault_server.py`
  (resets, stalls, truncated and huge bodies, gzip bombs, ...) in a thread of the test
  process; `faults` (function scope) is the same server with its counters reset.
"""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest

from flowc.demo import start_demo_server
from tests.fault_server import FaultServer


@dataclass(frozen=True)
class DemoServer:
    """The running demo API, with synchronous access to its instrumentation."""

    url: str

    def __str__(self) -> str:
        return self.url

    def stats(self) -> dict[str, Any]:
        """Requests in flight (now and peak), totals per path, connections, keys seen."""
        return self._call("GET", "/_stats")

    def state(self) -> dict[str, Any]:
        """Every user, order, payment and shipment the server holds."""
        return self._call("GET", "/_state")

    def reset(self) -> None:
        """Forget statistics, resources, idempotency keys and flaky counters, once the
        requests an earlier test abandoned have ended (so they do not count here)."""
        self.wait_until_idle()
        self._call("POST", "/_reset")

    def wait_until_idle(self, timeout: float = 10.0) -> dict[str, Any]:
        """Poll the statistics until no request is in flight (or `timeout` passes)."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if stats["in_flight"] == 0 or time.monotonic() > deadline:
                return stats
            time.sleep(0.02)

    def _call(self, method: str, path: str) -> dict[str, Any]:
        parts = urlsplit(self.url)
        assert parts.hostname is not None
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        try:
            connection.request(method, path)
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        assert response.status == 200, f"{method} {path} answered {response.status}: {body!r}"
        result: dict[str, Any] = json.loads(body)
        return result


@pytest.fixture(scope="session")
def demo_server() -> Iterator[str]:
    """Base URL of the demo API, started once per test session in a subprocess."""
    with start_demo_server() as url:
        yield url


@pytest.fixture
def demo(demo_server: str) -> DemoServer:
    """The demo API with its statistics and state reset for this test."""
    server = DemoServer(demo_server)
    server.reset()
    return server


@pytest.fixture(scope="session")
def fault_server() -> Iterator[FaultServer]:
    """The fault-injecting server, started once per test session in a thread."""
    with FaultServer() as server:
        yield server


@pytest.fixture
def faults(fault_server: FaultServer) -> FaultServer:
    """The fault-injecting server with its request counters reset for this test."""
    fault_server.reset()
    return fault_server
