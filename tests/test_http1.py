"""The direct path's HTTP/1.1 messages (`flowc.runtime.http1`), checked against h11.

h11 wrote and parsed these messages before `http1` did, and it is the reference
here: for every well-formed response hypothesis generates (informational
responses first or not, any framing, any split into reads), the reader must see
the same status, headers and body and agree on whether the connection can be
reused; for every request, `request_bytes` must write what h11 writes. Then the
cases h11 refuses, which the reader must refuse too, and arbitrary bytes, which
may only ever give `httpx.RemoteProtocolError`.
"""

from __future__ import annotations

import itertools

import h11
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowc.runtime.http1 import (
    HEAD_TOO_LARGE,
    INCOMPLETE_BODY,
    MAX_HEADER_BYTES,
    NO_RESPONSE,
    ONLY_CHUNKED,
    SWITCHED,
    ResponseReader,
    request_bytes,
)

_TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_FRAMING_NAMES = {"content-length", "transfer-encoding", "connection"}

names = st.text(_TOKEN_CHARS, min_size=1, max_size=12).filter(
    lambda name: name.lower() not in _FRAMING_NAMES
)
values = st.from_regex(r"\A([!-~]+( [!-~]+)*)?\Z", fullmatch=True).filter(lambda v: len(v) < 40)
header_lists = st.lists(st.tuples(names, values), max_size=6)


@st.composite
def responses(draw: st.DrawFn) -> tuple[bytes, bytes, list[int]]:
    """(method, the response's bytes, where to split them into reads)."""
    method = draw(st.sampled_from([b"GET", b"POST", b"HEAD"]))
    version = draw(st.sampled_from([b"1.1", b"1.1", b"1.0"]))
    status = draw(st.sampled_from([200, 201, 204, 301, 304, 404, 500, 503]))
    body = b"" if status in (204, 304) else draw(st.binary(max_size=300))
    framing = draw(st.sampled_from(["length", "chunked", "close"]))
    headers = [(n.encode(), v.encode()) for n, v in draw(header_lists)]
    if draw(st.booleans()):
        headers.append((b"Connection", draw(st.sampled_from([b"close", b"keep-alive"]))))
    wire = b"".join(b"HTTP/1.1 %d Info\r\n\r\n" % code for code in draw(st.lists(
        st.sampled_from([100, 102, 103]), max_size=2)))  # fmt: skip
    if framing == "length":
        headers.append((b"Content-Length", b"%d" % len(body)))
    elif framing == "chunked" and version == b"1.1":
        headers.append((b"Transfer-Encoding", b"chunked"))
    head = b"HTTP/%s %d Reason here\r\n" % (version, status)
    head += b"".join(name + b": " + value + b"\r\n" for name, value in headers) + b"\r\n"
    payload = b"" if method == b"HEAD" else body
    has_body = method != b"HEAD" and status not in (204, 304)
    if framing == "chunked" and version == b"1.1" and has_body:
        cuts = sorted(draw(st.lists(st.integers(0, len(payload)), max_size=4)))
        pieces = [payload[a:b] for a, b in zip([0, *cuts], [*cuts, len(payload)], strict=True)]
        payload = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces if p) + b"0\r\n\r\n"
    wire += head + payload
    splits = sorted(draw(st.lists(st.integers(1, max(1, len(wire) - 1)), max_size=5)))
    return method, wire, splits


def _pieces(wire: bytes, splits: list[int]) -> list[bytes]:
    bounds = [0, *splits, len(wire)]
    return [wire[a:b] for a, b in itertools.pairwise(bounds) if wire[a:b]]


Seen = tuple[int, list[tuple[bytes, bytes]], bytes, bool]
"""Status, headers, body, and whether the connection can be reused."""
OK = b"HTTP/1.1 200 OK\r\n"


def _with_h11(method: bytes, pieces: list[bytes]) -> Seen:
    connection = h11.Connection(h11.CLIENT)
    connection.send(h11.Request(method=method, target="/", headers=[("Host", "x")]))
    connection.send(h11.EndOfMessage())
    status, headers, body, closed = 0, [], b"", False
    feed = iter([*pieces, b""])
    while True:
        event = connection.next_event()
        if event is h11.NEED_DATA:
            data = next(feed)
            closed = closed or not data
            connection.receive_data(data)
        elif isinstance(event, h11.Response):
            status, headers = event.status_code, list(event.headers)
        elif isinstance(event, h11.Data):
            body += event.data
        elif isinstance(event, h11.EndOfMessage):
            break
    done = connection.our_state is h11.DONE and connection.their_state is h11.DONE
    reusable = done and not closed  # (a body read to the close is DONE on a closed socket)
    return status, headers, body, reusable


def _with_reader(method: bytes, pieces: list[bytes]) -> Seen:
    reader = ResponseReader(method)
    body = b""
    feed = iter(pieces)
    while not reader.complete:
        data = next(feed, b"")
        if data:
            reader.feed(data)
        else:
            reader.end_of_stream()
        body += b"".join(reader.take_body())
    assert reader.head is not None
    return reader.head.status_code, reader.head.headers, body, reader.reusable


@settings(max_examples=400, deadline=None)
@given(responses())
def test_the_reader_sees_what_h11_sees(response: tuple[bytes, bytes, list[int]]) -> None:
    method, wire, splits = response
    pieces = _pieces(wire, splits)
    assert _with_reader(method, pieces) == _with_h11(method, pieces)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([b"GET", b"POST", b"DELETE"]),
    st.from_regex(rb"\A/[!-~]{0,30}\Z", fullmatch=True),
    header_lists,
    st.binary(max_size=100),
    st.booleans(),
)
def test_requests_are_written_as_h11_writes_them(
    method: bytes, target: bytes, headers: list[tuple[str, str]], body: bytes, chunked: bool
) -> None:
    wire = [(b"Host", b"example.org")] + [(n.encode(), v.encode()) for n, v in headers]
    if chunked:
        wire.append((b"Transfer-Encoding", b"chunked"))
    elif body:
        wire.append((b"Content-Length", b"%d" % len(body)))
    connection = h11.Connection(h11.CLIENT)
    expected = connection.send(h11.Request(method=method, target=target, headers=wire)) or b""
    if body:
        expected += connection.send(h11.Data(data=body)) or b""
    expected += connection.send(h11.EndOfMessage()) or b""
    assert request_bytes(method, target, wire, body) == expected


@pytest.mark.parametrize(
    "headers",
    [
        [(b"X-Evil", b"a\r\nInjected: yes")],
        [(b"X-Evil", b"a\nb")],
        [(b"X-Evil", b"nul\x00")],
        [(b"Bad Name", b"v")],
        [(b"X", b" leading-space")],
        [(b"Transfer-Encoding", b"gzip")],
        [(b"Content-Length", b"3")],  # the body has 2 bytes
        [(b"Content-Length", b"2"), (b"Content-Length", b"3")],
        [(b"Content-Length", b"2"), (b"Transfer-Encoding", b"chunked")],
    ],
)
def test_requests_that_cannot_be_sent_are_refused(headers: list[tuple[bytes, bytes]]) -> None:
    with pytest.raises(httpx.LocalProtocolError) as refused:
        request_bytes(b"POST", b"/", headers, b"ab")
    assert b"Injected" not in str(refused.value).encode()


@pytest.mark.parametrize(("method", "target"), [(b"GE T", b"/"), (b"GET", b"/a b"), (b"GET", b"")])
def test_bad_methods_and_targets_are_refused(method: bytes, target: bytes) -> None:
    with pytest.raises(httpx.LocalProtocolError):
        request_bytes(method, target, [], None)


def _read(method: bytes, *pieces: bytes, eof: bool = False) -> ResponseReader:
    reader = ResponseReader(method)
    for piece in pieces:
        reader.feed(piece)
    if eof:
        reader.end_of_stream()
    return reader


def test_a_response_to_head_ends_at_its_head_and_keeps_the_connection() -> None:
    reader = _read(b"HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n")
    assert reader.complete and reader.reusable and reader.take_body() == []


def test_a_body_after_a_head_response_spoils_the_connection() -> None:
    reader = _read(b"HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")
    assert reader.complete and not reader.reusable


def test_a_second_unasked_response_spoils_the_connection() -> None:
    one = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"
    reader = _read(b"GET", one + one)
    assert reader.complete and not reader.reusable and reader.take_body() == [b"x"]
    late = _read(b"GET", one, b"HTTP/1.1 200")
    assert late.complete and not late.reusable


def test_trailers_are_not_headers() -> None:
    reader = _read(b"GET", OK + b"Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-T: 1\r\n\r\n")
    assert reader.head is not None and reader.head.headers == [(b"transfer-encoding", b"chunked")]
    assert reader.complete and reader.reusable


@pytest.mark.parametrize(
    ("pieces", "eof", "message"),
    [
        ((), True, NO_RESPONSE),
        ((OK + b"Conte",), True, NO_RESPONSE),
        ((OK + b"Content-Length: 5\r\n\r\nab",), True, INCOMPLETE_BODY),
        ((OK + b"Transfer-Encoding: chunked\r\n\r\n5\r\nab",), True, INCOMPLETE_BODY),
        ((OK + b"Transfer-Encoding: gzip\r\n\r\n",), False, ONLY_CHUNKED),
        ((OK + b"Transfer-Encoding: gzip, chunked\r\n\r\n",), False, ONLY_CHUNKED),
        ((b"HTTP/1.1 101 Go\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n",), False, SWITCHED),
        ((OK + b"X: " + b"a" * MAX_HEADER_BYTES,), False, HEAD_TOO_LARGE),
        ((OK + b"X: a\r\n folded\r\n\r\n",), False, "whitespace"),
        ((b"HTTP/1.1 200 OK\nContent-Length: 0\n\n",), False, "CR"),
        ((OK + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\n",), False, "Length"),
        ((OK + b"Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",), False, "Length"),
    ],
)
def test_broken_responses_are_protocol_errors(
    pieces: tuple[bytes, ...], eof: bool, message: str
) -> None:
    with pytest.raises(httpx.RemoteProtocolError, match=message):
        _read(b"GET", *pieces, eof=eof)


def test_a_body_read_to_the_close_ends_there_and_is_not_reused() -> None:
    reader = _read(b"GET", b"HTTP/1.1 200 OK\r\n\r\nabc", b"def", eof=True)
    assert reader.complete and not reader.reusable
    assert b"".join(reader.take_body()) == b"abcdef"


@settings(max_examples=500, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=200), max_size=4), st.booleans())
def test_any_bytes_give_a_response_or_a_protocol_error(pieces: list[bytes], eof: bool) -> None:
    prefix = [b"HTTP/1.1 200 OK\r\n"] if pieces and pieces[0][:1] == b"H" else []
    try:
        reader = _read(b"GET", *prefix, *pieces, eof=eof)
    except httpx.RemoteProtocolError:
        return
    assert reader.head is not None or not reader.complete
    assert not (eof and not reader.complete)  # the end of the stream ends it or fails
