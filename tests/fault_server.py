"""A fault-injecting HTTP server on 127.0.0.1, for the runtime's robustness tests.

`FaultServer` answers HTTP/1.1 by hand over plain sockets (one thread per connection,
`Connection: close` on every response), because the faults it injects are the ones a
real framework will not produce: a connection reset before or in the middle of a
response, a stall before the headers or in the middle of the body, a body shorter than
its `Content-Length`, a gzip bomb, 100 KB of headers.  Bodies are generated as they are
sent, so a 1 GiB response costs the server no memory.

Routes (GET or any other method; query parameters in brackets).  Every fault may be
given a key and a count, `/PATH/KEY?times=N`: the first N requests to that key get the
fault, later ones 200 `{"ok": true, "hit": n}` (so a retry can recover).

=================================  ========================================================
path                               answer
=================================  ========================================================
`/ok`                              200 `{"ok": true}`
`/flaky/KEY` [rate=0.3]            503 for a fraction `rate` of the requests to KEY, else
                                   200 `{"ok": true, "hit": n}`; which requests fail is
                                   fixed by KEY and the request number (reproducible)
`/fail-first/KEY` [n=1,            the first `n` requests to KEY get `status`, with a
status=503, retry_after=S|date]    `Retry-After` of S seconds (or an HTTP date S seconds
                                   ahead when `date=1`); later ones 200 `{"ok": true}`
`/reset-before`                    the connection is reset (RST) before any response byte
`/reset-during`                    headers and 1 KB of a 100 KB body, then a reset
`/stall-headers` [seconds=30]      nothing for `seconds`, then 200
`/stall-body` [seconds=30]         headers and half the body, nothing for `seconds`, the rest
`/truncated`                       `Content-Length: 1000`, 500 bytes, then the connection
                                   closes
`/invalid-json`                    200 `application/json` that is not JSON
`/html`                            200 `text/html` (a captive portal, a proxy's error page)
`/huge` [mb=20, kind=string]       a JSON body of `mb` MiB: one string (`string`), a list
                                   of zeros (`list`), or `application/octet-stream` bytes
                                   (`bytes`)
`/gzip-bomb` [mb=1024]             `Content-Encoding: gzip`, `mb` MiB of zeros once
                                   decompressed (about 1 KB per MiB on the wire)
`/redirect-loop`                   302 to itself
`/huge-headers` [count=1,          `count` headers `X-Filler-i` of `size` bytes each
size=200000]
`/huge-number` [digits=400]        `{"n": <digits digits>}` (`neg=1`: negative,
                                   `float=1`: `1e<digits>`)
`/deep-json` [depth=100000]        `[[[...]]]` nested `depth` deep
`/echo` [as=plain|lower|upper|     401 with a `text/plain` body quoting the request's
prefix|json|url|base64|all,        `Authorization` (else `X-Api-Key`) header transformed:
header=NAME, status=401]           lower-cased, upper-cased, its first 14 characters,
                                   JSON-escaped, URL-encoded, base64-encoded, or every one;
                                   also in an `X-Echo` response header
`/echo-garbage`                    a response whose second line is that header's value,
                                   which is not HTTP (a protocol error quoting it)
=================================  ========================================================

`FaultServer.received` lists the header values `/echo` and `/echo-garbage` quoted, so a
test can tell that a secret really went out and came back.

`FaultServer.hits(path)` counts requests by path (query excluded) and `reset()`
forgets the counts and the per-key counters.  Stalled handlers notice a client that
hangs up and end at once, and every handler ends when the server stops.
"""

from __future__ import annotations

import base64
import email.utils
import json
import random
import select
import socket
import socketserver
import struct
import threading
import time
import urllib.parse
import zlib
from collections import Counter
from collections.abc import Iterator
from types import TracebackType
from typing import Self

_MIB = 1 << 20
_HEAD_LIMIT = 65536


class _Request:
    def __init__(self, method: str, target: str, headers: dict[str, str]) -> None:
        self.method = method
        split = urllib.parse.urlsplit(target)
        self.path = split.path
        self.query = dict(urllib.parse.parse_qsl(split.query))
        self.headers = headers

    def number(self, name: str, default: float) -> float:
        return float(self.query.get(name, default))


class FaultServer:
    """The server, listening on 127.0.0.1 in a thread of its own while in use."""

    def __init__(self) -> None:
        self._server = _ThreadingServer(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.port: int = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._hits: Counter[str] = Counter()
        self._keys: Counter[str] = Counter()
        self.received: list[str] = []
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def hits(self, path: str) -> int:
        with self._lock:
            return self._hits[path]

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
            self._keys.clear()
            self.received.clear()

    def _count(self, path: str, key: str | None = None) -> int:
        """Count a request to `path`; the number of requests to `key` so far (from 1)."""
        with self._lock:
            self._hits[path] += 1
            if key is None:
                return self._hits[path]
            self._keys[key] += 1
            return self._keys[key]


class _ThreadingServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    owner: FaultServer


class _Handler(socketserver.BaseRequestHandler):
    server: _ThreadingServer
    request: socket.socket

    def handle(self) -> None:
        request = self._read_request()
        if request is None:
            return
        owner = self.server.owner
        route = request.path.strip("/").split("/", 1)
        key = route[1] if len(route) > 1 else None
        number = owner._count(request.path, None if key is None else f"{route[0]}/{key}")
        handler = getattr(self, "route_" + route[0].replace("-", "_"), None)
        try:
            if key is not None and number > request.number("times", float("inf")):
                self._send(200, json.dumps({"ok": True, "hit": number}).encode())
            elif handler is None:
                self._send(404, b'{"error": "no such fault"}')
            else:
                handler(request, number)
        except OSError:  # the client hung up: nothing to do
            pass

    # ---------------------------------------------------------------- wire helpers

    def _read_request(self) -> _Request | None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.request.recv(65536)
            if not chunk or len(data) > _HEAD_LIMIT:
                return None
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = min(int(headers.get("content-length", "0") or 0), _MIB)
        while len(rest) < length:
            chunk = self.request.recv(65536)
            if not chunk:
                break
            rest += chunk
        return _Request(method, target, headers)

    def _head(
        self,
        status: int,
        headers: list[tuple[str, str]],
        length: int | None,
        content_type: str = "application/json",
    ) -> bytes:
        reason = {200: "OK", 302: "Found", 401: "Unauthorized", 503: "Service Unavailable"}
        lines = [f"HTTP/1.1 {status} {reason.get(status, 'Status')}"]
        lines.append(f"Content-Type: {content_type}")
        if length is not None:
            lines.append(f"Content-Length: {length}")
        lines.append("Connection: close")
        lines += [f"{name}: {value}" for name, value in headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send(
        self,
        status: int,
        body: bytes,
        headers: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
    ) -> None:
        self.request.sendall(self._head(status, headers or [], len(body), content_type) + body)

    def _send_stream(
        self,
        status: int,
        chunks: Iterator[bytes],
        length: int,
        headers: list[tuple[str, str]] | None = None,
        content_type: str = "application/json",
    ) -> None:
        self.request.sendall(self._head(status, headers or [], length, content_type))
        for chunk in chunks:
            if self.server.owner.stopping.is_set():
                return
            self.request.sendall(chunk)

    def _reset(self) -> None:
        """Close with RST instead of FIN (SO_LINGER with a zero timeout)."""
        self.request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.request.close()

    def _stall(self, seconds: float) -> bool:
        """Wait `seconds` unless the client hangs up or the server stops; True if waited."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.server.owner.stopping.is_set():
                return False
            readable, _, _ = select.select([self.request], [], [], 0.05)
            if readable and not self.request.recv(1, socket.MSG_PEEK):
                return False
        return True

    # ---------------------------------------------------------------- routes

    def route_ok(self, request: _Request, number: int) -> None:
        self._send(200, b'{"ok": true}')

    def route_flaky(self, request: _Request, number: int) -> None:
        rate = request.number("rate", 0.3)
        if random.Random(f"{request.path}#{number}").random() < rate:
            self._send(503, b'{"error": "try again"}')
        else:
            self._send(200, json.dumps({"ok": True, "hit": number}).encode())

    def route_fail_first(self, request: _Request, number: int) -> None:
        if number > request.number("n", 1):
            self._send(200, b'{"ok": true}')
            return
        headers = []
        if "retry_after" in request.query:
            seconds = request.number("retry_after", 1)
            if request.query.get("date") == "1":
                # An HTTP date has whole seconds: round up so the wait is at least `seconds`.
                value = email.utils.formatdate(time.time() + seconds + 1, usegmt=True)
            else:
                value = str(int(seconds))
            headers.append(("Retry-After", value))
        self._send(int(request.number("status", 503)), b'{"error": "not yet"}', headers)

    def route_reset_before(self, request: _Request, number: int) -> None:
        self._reset()

    def route_reset_during(self, request: _Request, number: int) -> None:
        self.request.sendall(self._head(200, [], 100_000) + b"x" * 1000)
        time.sleep(0.05)
        self._reset()

    def route_stall_headers(self, request: _Request, number: int) -> None:
        if self._stall(request.number("seconds", 30)):
            self._send(200, b'{"ok": true}')

    def route_stall_body(self, request: _Request, number: int) -> None:
        body = json.dumps({"data": "x" * 2000}).encode()
        half = len(body) // 2
        self.request.sendall(self._head(200, [], len(body)) + body[:half])
        if self._stall(request.number("seconds", 30)):
            self.request.sendall(body[half:])

    def route_truncated(self, request: _Request, number: int) -> None:
        self.request.sendall(self._head(200, [], 1000) + b'{"data": "' + b"x" * 490)
        self.request.shutdown(socket.SHUT_WR)

    def route_invalid_json(self, request: _Request, number: int) -> None:
        self._send(200, b'{"items": [1, 2,')

    def route_html(self, request: _Request, number: int) -> None:
        page = b"<!doctype html><html><body><h1>Please log in to the Wi-Fi</h1></body></html>"
        self._send(200, page, content_type="text/html; charset=utf-8")

    def route_huge(self, request: _Request, number: int) -> None:
        size = int(request.number("mb", 20) * _MIB)
        kind = request.query.get("kind", "string")
        if kind == "list":
            self._send_stream(200, _framed(b"[", b"0,", b"0]", size), size)
        elif kind == "bytes":
            content_type = "application/octet-stream"
            self._send_stream(200, _framed(b"", b"\0", b"", size), size, None, content_type)
        else:
            self._send_stream(200, _framed(b'"', b"a", b'"', size), size)

    def route_gzip_bomb(self, request: _Request, number: int) -> None:
        body = gzip_bomb(int(request.number("mb", 1024)))
        headers = [("Content-Encoding", "gzip")]
        self._send(200, body, headers, content_type="application/octet-stream")

    def route_redirect_loop(self, request: _Request, number: int) -> None:
        self._send(302, b"", [("Location", request.path)])

    def route_huge_headers(self, request: _Request, number: int) -> None:
        count, size = int(request.number("count", 1)), int(request.number("size", 200_000))
        filler = "v" * size
        headers = [(f"X-Filler-{i}", filler) for i in range(count)]
        self._send(200, b'{"ok": true}', headers)

    def route_huge_number(self, request: _Request, number: int) -> None:
        digits = int(request.number("digits", 400))
        if request.query.get("float") == "1":
            text = f"1e{digits}"
        else:
            text = ("-" if request.query.get("neg") == "1" else "") + "9" * digits
        self._send(200, b'{"n": ' + text.encode() + b"}")

    def route_deep_json(self, request: _Request, number: int) -> None:
        depth = int(request.number("depth", 100_000))
        self._send(200, b"[" * depth + b"]" * depth)

    def _echoed(self, request: _Request) -> str:
        default = "authorization" if "authorization" in request.headers else "x-api-key"
        received = request.headers.get(request.query.get("header", default).lower(), "")
        with self.server.owner._lock:
            self.server.owner.received.append(received)
        return received

    def route_echo(self, request: _Request, number: int) -> None:
        received = self._echoed(request)
        kinds = ECHOES if request.query.get("as") == "all" else [request.query.get("as", "plain")]
        body = "\n".join(f"{kind}: {echo(received, kind)}" for kind in kinds)
        status = int(request.number("status", 401))
        headers = [("X-Echo", echo(received, kinds[0]))]
        content_type = "text/plain; charset=utf-8"
        self._send(status, body.encode("utf-8"), headers, content_type=content_type)

    def route_echo_garbage(self, request: _Request, number: int) -> None:
        received = self._echoed(request)
        self.request.sendall(f"HTTP/1.1 200 OK\r\n{received}\r\n\r\n".encode("latin-1"))


ECHOES = ["plain", "lower", "upper", "prefix", "json", "url", "base64"]


def echo(text: str, kind: str) -> str:
    """`text` transformed as a careless server might quote it back."""
    if kind == "lower":
        return text.lower()
    if kind == "upper":
        return text.upper()
    if kind == "prefix":
        return text[:14] + "..."
    if kind == "json":
        return json.dumps({"received": text})
    if kind == "url":
        return urllib.parse.quote(text, safe="")
    if kind == "base64":
        return base64.b64encode(text.encode()).decode()
    return text


def _framed(first: bytes, filler: bytes, last: bytes, size: int) -> Iterator[bytes]:
    """`first`, then `filler` repeated, then `last`: exactly `size` bytes, in 64 KiB chunks."""
    middle = size - len(first) - len(last)
    count = middle // len(filler)
    block = filler * (65536 // len(filler))
    yield first
    sent = 0
    while sent + len(block) // len(filler) <= count:
        yield block
        sent += len(block) // len(filler)
    yield filler * (count - sent) + b" " * (middle - count * len(filler)) + last


_BOMBS: dict[int, bytes] = {}


def gzip_bomb(mib: int) -> bytes:
    """A gzip stream of `mib` MiB of zeros (built from one repeated deflate block)."""
    if mib not in _BOMBS:
        zeros = bytes(_MIB)
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
        final = compressor.flush(zlib.Z_FINISH)  # the state after a full flush is the same
        crc = 0
        for _ in range(mib):
            crc = zlib.crc32(zeros, crc)
        header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
        trailer = struct.pack("<II", crc, (mib * _MIB) & 0xFFFFFFFF)
        _BOMBS[mib] = header + block * mib + final + trailer
    return _BOMBS[mib]


if __name__ == "__main__":  # a manual check: python -m tests.fault_server
    with FaultServer() as server:
        print(f"fault server listening on {server.url}", flush=True)
        threading.Event().wait()
