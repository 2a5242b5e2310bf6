"""A local stand-in for petstore.swagger.io and httpbin.org's basic-auth, for the
Serverless Workflow conformance kit (``tests/test_serverless_ctk.py``).

It serves what the kit's scenarios read from those hosts: ``GET /v2/pet/{id}`` (a
pet, or 404), ``GET /v2/pet/findByStatus?status=`` (a list of pets),
``GET /v2/pet/getPetByName/{name}`` (404, as the real API answers: no such route),
and ``GET /basic-auth/{user}/{password}`` (200 when the Basic credentials match,
else 401); for flowc's own tests also ``/flaky/KEY/N`` (503 N times, then 200) and
``/bearer`` (200 for one token, else 401 echoing the header).  A
``ThreadingHTTPServer`` on 127.0.0.1, port chosen by the system.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

PETS = {
    1: {"id": 1, "name": "doggie", "status": "available", "photoUrls": [], "tags": []},
    2: {"id": 2, "name": "Milou", "status": "available", "photoUrls": [], "tags": []},
    3: {"id": 3, "name": "Garfield", "status": "sold", "photoUrls": [], "tags": []},
}


_FLAKY: dict[str, int] = {}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        segments = parts.path.strip("/").split("/")
        if segments[:3] == ["v2", "pet", "findByStatus"]:
            status = parse_qs(parts.query).get("status", ["available"])[0]
            self._send(200, [pet for pet in PETS.values() if pet["status"] == status])
        elif segments[:2] == ["v2", "pet"] and len(segments) == 3 and segments[2].isdigit():
            pet = PETS.get(int(segments[2]))
            if pet is None:
                self._send(404, {"code": 1, "type": "error", "message": "Pet not found"})
            else:
                self._send(200, pet)
        elif segments[0] == "flaky" and len(segments) == 3:
            # /flaky/KEY/N: 503 for the first N requests of KEY, then 200
            seen = _FLAKY[segments[1]] = _FLAKY.get(segments[1], 0) + 1
            self._send(503 if seen <= int(segments[2]) else 200, {"attempt": seen})
        elif segments[0] == "bearer":
            if self.headers.get("Authorization") == "Bearer s3cr3t-t0ken-value":
                self._send(200, {"authenticated": True})
            else:
                self._send(401, {"echo": self.headers.get("Authorization", "")})
        elif segments[0] == "basic-auth" and len(segments) == 3:
            pair = f"{segments[1]}:{segments[2]}".encode()
            expected = "Basic " + base64.b64encode(pair).decode()
            if self.headers.get("Authorization") == expected:
                self._send(200, {"authenticated": True, "user": segments[1]})
            else:
                self._send(401, {})
        else:
            self._send(404, {"code": 404, "type": "unknown", "message": "not found"})


@contextmanager
def petstore() -> Iterator[str]:
    """A running stand-in; yields its base URL ``http://127.0.0.1:PORT``."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
