"""Real receivers for what flowc reports, each an HTTP server on 127.0.0.1 in a thread.

- ``OtlpReceiver``: an OTLP/HTTP trace endpoint (``POST /v1/traces``) that decodes
  each body as opentelemetry-proto's ``ExportTraceServiceRequest`` and keeps its
  spans as plain ``ReceivedSpan`` records (ids in hex, attributes as Python values).
- ``SentryReceiver``: a Sentry store (``POST /api/PROJECT/envelope/``) that splits
  each envelope into its items and keeps the ``event`` payloads as JSON.
- ``HeaderRecorder``: a service that answers 200 ``{}`` (or the status in
  ``?status=``) and keeps every request's path and headers, so a test can see
  the ``traceparent`` flowc sent.

Bodies may arrive gzip- or brotli-compressed; both are decoded.
"""

from __future__ import annotations

import gzip
import json
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


@dataclass
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_id: str
    kind: int
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    status: int
    start: int
    end: int
    service: str = ""


def _value(value: AnyValue) -> Any:
    which = value.WhichOneof("value")
    if which == "array_value":
        return [_value(v) for v in value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, which) if which else None


def _decompress(body: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    if encoding == "br":
        import brotli  # type: ignore[import-not-found, unused-ignore]

        out: bytes = brotli.decompress(body)
        return out
    return body


class _Server:
    """A ThreadingHTTPServer whose POST/GET bodies go to ``handle``."""

    def __init__(self, handle: Callable[[str, str, dict[str, str], bytes], tuple[int, bytes]]):
        outer = self
        self.raw: list[bytes] = []
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k.lower(): v for k, v in self.headers.items()}
                body = _decompress(body, headers.get("content-encoding", ""))
                outer.raw.append(body)
                status, answer = handle(self.command, self.path, headers, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class OtlpReceiver(_Server):
    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        super().__init__(self._handle)

    def _handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        if method != "POST" or path != "/v1/traces":
            return 404, b"{}"
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        received = []
        for resource_spans in request.resource_spans:
            resource = {a.key: _value(a.value) for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    received.append(
                        ReceivedSpan(
                            name=span.name,
                            trace_id=span.trace_id.hex(),
                            span_id=span.span_id.hex(),
                            parent_id=span.parent_span_id.hex(),
                            kind=span.kind,
                            attributes={a.key: _value(a.value) for a in span.attributes},
                            events=[
                                (e.name, {a.key: _value(a.value) for a in e.attributes})
                                for e in span.events
                            ],
                            status=span.status.code,
                            start=span.start_time_unix_nano,
                            end=span.end_time_unix_nano,
                            service=str(resource.get("service.name", "")),
                        )
                    )
        with self.lock:
            self.spans.extend(received)
        return 200, b""

    def trace_of(self, run_id: str, timeout: float = 20.0) -> list[ReceivedSpan]:
        """Every span of the trace whose run span has ``run_id``, once it has arrived."""
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                runs = [s for s in self.spans if s.attributes.get("flowc.run.id") == run_id]
                if runs:
                    trace_id = runs[0].trace_id
                    found = [s for s in self.spans if s.trace_id == trace_id]
                    if len(found) == getattr(self, "_last_count", -1):
                        return found
                    self._last_count = len(found)
            if time.monotonic() > deadline:
                raise AssertionError(f"no trace of run {run_id} arrived")
            time.sleep(0.5)


class SentryReceiver(_Server):
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        super().__init__(self._handle)

    def _handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        if method != "POST" or not path.startswith("/api/1/envelope/"):
            return 404, b"{}"
        with self.lock:
            self.events.extend(parse_envelope(body))
        return 200, b"{}"

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 20.0
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                for event in self.events:
                    if predicate(event):
                        return event
            if time.monotonic() > deadline:
                raise AssertionError(f"no such Sentry event among {len(self.events)}")
            time.sleep(0.1)


def parse_envelope(body: bytes) -> list[dict[str, Any]]:
    """The ``event`` items of a Sentry envelope (a header line, then header+payload items)."""
    lines = body.split(b"\n", 1)
    rest = lines[1] if len(lines) > 1 else b""
    events = []
    while rest.strip():
        header_line, _, rest = rest.partition(b"\n")
        header = json.loads(header_line)
        if "length" in header:
            payload, rest = rest[: header["length"]], rest[header["length"] :]
            rest = rest[1:] if rest.startswith(b"\n") else rest
        else:
            payload, _, rest = rest.partition(b"\n")
        if header.get("type") == "event":
            events.append(json.loads(payload))
    return events


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class HeaderRecorder:
    requests: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.inner = _Server(self._handle)

    def _handle(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, bytes]:
        parts = urlsplit(path)
        query = parse_qs(parts.query)
        with self.inner.lock:
            self.requests.append(Recorded(method, parts.path, query, headers))
        status = int(query.get("status", ["200"])[0])
        return status, b"{}"

    @property
    def url(self) -> str:
        return self.inner.url

    def close(self) -> None:
        self.inner.close()
