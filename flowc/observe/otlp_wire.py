"""OTLP spans in protobuf wire format, written directly: the exporter's hot cost, cut.

The OTLP/HTTP exporter spends most of its time building protobuf message
objects (``encode_spans``: ~75 µs a span here), in the SDK's export thread; in
CPython that thread holds the GIL the run's trio thread needs, so its cost
lands on the steps (``bench/observe.py``).  ``encode_request`` writes the same
``ExportTraceServiceRequest`` bytes with a few ``bytearray`` appends per field,
caching the encoding of the resource, the scope and every repeated string
attribute (method, host, service, outcome), so a span costs a few µs.

It covers what ``RunTracer`` makes (no links, no trace state, attributes of
str, bool, int, float and their sequences); ``encode_request`` returns None
for anything else and the caller falls back to the SDK's encoder.  The
protobuf field numbers are those of ``opentelemetry/proto/trace/v1`` and
``common/v1``; ``tests/test_observe.py`` decodes the output with
opentelemetry-proto and compares it with the SDK's own encoding.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any, Final

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

_HAS_IS_REMOTE: Final = 0x100
_IS_REMOTE: Final = 0x200
_CACHE_LIMIT: Final = 4096
_cache: dict[tuple[int, str, type, object], bytes] = {}


class Unsupported(Exception):
    """A span this writer does not cover: use the SDK's encoder."""


def _varint(out: bytearray, value: int) -> None:
    if value < 0:
        value += 1 << 64
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _delimited(out: bytearray, field: int, payload: bytes | bytearray) -> None:
    out.append(field << 3 | 2)  # every length-delimited field here is numbered below 16
    _varint(out, len(payload))
    out += payload


def _text(out: bytearray, field: int, text: str) -> None:
    if text:
        _delimited(out, field, text.encode("utf-8"))


def _fixed64(out: bytearray, field: int, value: int) -> None:
    out.append(field << 3 | 1)
    out += struct.pack("<Q", value)


def _any_value(value: Any) -> bytes:
    out = bytearray()
    if isinstance(value, bool):
        out.append(2 << 3)
        out.append(1 if value else 0)
    elif isinstance(value, int):
        out.append(3 << 3)
        _varint(out, value)
    elif isinstance(value, float):
        out.append(4 << 3 | 1)
        out += struct.pack("<d", value)
    elif isinstance(value, str):
        _delimited(out, 1, value.encode("utf-8"))
    elif isinstance(value, (list, tuple)):
        array = bytearray()
        for item in value:
            _delimited(array, 1, _any_value(item))
        _delimited(out, 5, array)
    else:
        raise Unsupported(type(value).__name__)
    return bytes(out)


def _attribute(field: int, key: str, value: Any) -> bytes:
    """One ``KeyValue`` as field ``field`` of its message, tag and length included."""
    cacheable = isinstance(value, (str, bool, int)) and len(str(value)) <= 64
    if cacheable:
        found = _cache.get((field, key, type(value), value))
        if found is not None:
            return found
    pair = bytearray()
    _delimited(pair, 1, key.encode("utf-8"))
    _delimited(pair, 2, _any_value(value))
    out = bytearray()
    _delimited(out, field, pair)
    encoded = bytes(out)
    if cacheable and len(_cache) < _CACHE_LIMIT:
        _cache[(field, key, type(value), value)] = encoded
    return encoded


def _attributes(out: bytearray, field: int, attributes: Mapping[str, Any] | None) -> None:
    for key, value in (attributes or {}).items():
        out += _attribute(field, key, value)


_IDS: Final = struct.Struct(">HQQHQ")  # trace_id (field 1) and span_id (field 2), tagged
_PARENT: Final = struct.Struct(">HQ")  # parent_span_id (field 4)
_TIMES: Final = struct.Struct("<BBBQBQ")  # kind (6), start (7) and end (8) times
_LOW: Final = (1 << 64) - 1
_FLAGS_TAG: Final = b"\x85\x01"  # field 16, fixed32: the varint of 16 << 3 | 5
_LOCAL_FLAGS: Final = _FLAGS_TAG + struct.pack("<I", _HAS_IS_REMOTE)
_REMOTE_FLAGS: Final = _FLAGS_TAG + struct.pack("<I", _HAS_IS_REMOTE | _IS_REMOTE)
_names: dict[str, bytes] = {}


def _name(name: str) -> bytes:
    found = _names.get(name)
    if found is None:
        out = bytearray()
        _text(out, 5, name)
        found = bytes(out)
        if len(_names) < _CACHE_LIMIT:
            _names[name] = found
    return found


def _status(status: Any) -> bytes:
    encoded = bytearray()
    _text(encoded, 2, status.description or "")
    if status.status_code.value:
        encoded.append(3 << 3)
        _varint(encoded, status.status_code.value)
    out = bytearray()
    _delimited(out, 15, encoded)
    return bytes(out)


def _span(span: ReadableSpan) -> bytearray:
    context = span.context
    if context is None or span.links or (context.trace_state and len(context.trace_state)):
        raise Unsupported("links or trace state")
    trace_id = context.trace_id
    out = bytearray(_IDS.pack(0x0A10, trace_id >> 64, trace_id & _LOW, 0x1208, context.span_id))
    parent = span.parent
    if parent is not None:
        out += _PARENT.pack(0x2208, parent.span_id)
    out += _name(span.name)
    kind = span.kind.value + 1  # the SDK's INTERNAL is 0, OTLP's is 1
    out += _TIMES.pack(
        6 << 3, kind, 7 << 3 | 1, span.start_time or 0, 8 << 3 | 1, span.end_time or 0
    )
    _attributes(out, 9, span.attributes)
    for event in span.events:
        encoded = bytearray()
        _fixed64(encoded, 1, event.timestamp)
        _text(encoded, 2, event.name)
        _attributes(encoded, 3, event.attributes)
        _delimited(out, 11, encoded)
    if span.status is not None:
        out += _status(span.status)
    out += _REMOTE_FLAGS if parent is not None and parent.is_remote else _LOCAL_FLAGS
    return out


def _resource(resource: Resource) -> bytes:
    out = bytearray()
    _attributes(out, 1, resource.attributes)
    return bytes(out)


def _scope(scope: InstrumentationScope | None) -> bytes:
    out = bytearray()
    if scope is not None:
        _text(out, 1, scope.name)
        _text(out, 2, scope.version or "")
    return bytes(out)


def encode_request(spans: Sequence[ReadableSpan]) -> bytes | None:
    """The ``ExportTraceServiceRequest`` of ``spans``, or None if one is not covered."""
    if not spans:
        return None
    resource, scope = spans[0].resource, spans[0].instrumentation_scope
    body = bytearray()
    try:
        for span in spans:
            if span.resource is not resource or span.instrumentation_scope is not scope:
                return None
            _delimited(body, 2, _span(span))
    except Unsupported:
        return None
    scope_spans = bytearray()
    _delimited(scope_spans, 1, _scope(scope))
    scope_spans += body
    if scope is not None and scope.schema_url:
        _text(scope_spans, 3, scope.schema_url)
    resource_spans = bytearray()
    _delimited(resource_spans, 1, _resource(resource))
    _delimited(resource_spans, 2, scope_spans)
    _text(resource_spans, 3, resource.schema_url)
    request = bytearray()
    _delimited(request, 1, resource_spans)
    return bytes(request)


def fast_exporter() -> Any:
    """The SDK's OTLP/HTTP exporter (configured by the ``OTEL_*`` variables as usual),
    sending what ``encode_request`` writes; where it cannot, the SDK encodes."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import SpanExportResult

    class WireExporter(OTLPSpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            # ``_client.export(bytes)`` is what the SDK's own ``export`` sends with (1.45)
            client = getattr(self, "_client", None)
            send = getattr(client, "export", None)
            data = (
                None if send is None or getattr(self, "_shutdown", False) else encode_request(spans)
            )
            if data is None or send is None:
                return super().export(spans)
            result = send(data)
            ok = bool(getattr(result, "success", False))
            return SpanExportResult.SUCCESS if ok else SpanExportResult.FAILURE

    return WireExporter()
