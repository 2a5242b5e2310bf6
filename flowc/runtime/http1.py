"""HTTP/1.1 messages for the direct path: request bytes out, a response parsed in.

Why it exists
-------------
`http_wire.py` speaks HTTP/1.1 over a trio socket for every request that goes
through no proxy. It used h11 for both directions, and h11 is the slow part of a
step: building a `Request` event re-validates every header with regular
expressions, and each response runs through h11's event objects and state
machine, about 100 µs per exchange on this machine against 8 µs here. Issue 15's
per-step target (within 0.25 ms of h11 driven by hand) cannot be met with it.

This module does the same two jobs without h11:

- `request_bytes` writes the request head (and the body, framed by
  ``Content-Length`` or as one chunk), after checking the method, the target and
  every header with h11's own grammar (RFC 9110's token and field-value), so that
  a header value holding a CR or LF can never split the request.
- `ResponseReader` parses one response with httptools (Node.js's llhttp, a strict
  C parser kept by the uvloop authors, also used by uvicorn). llhttp rejects what
  h11 rejects (bare LF line ends, obs-fold, conflicting or duplicate lengths, both
  ``Content-Length`` and ``Transfer-Encoding``, bad characters); on top of it the
  reader refuses transfer codings other than ``chunked`` (as h11 does), skips
  informational 1xx responses, ends a response to HEAD at its head, bounds the
  head to `MAX_HEADER_BYTES` and ignores trailers.

It is sans-I/O: the reader is fed bytes and told of the end of the stream; the
errors are httpx's classes with the texts httpx users (and `http.py`'s mapping
onto error kinds) already know.
"""

from __future__ import annotations

import re
from typing import Final

import httptools
import httpx

Headers = list[tuple[bytes, bytes]]

MAX_HEADER_BYTES: Final = 100 * 1024
"""The most bytes of response head read before the head is complete (httpcore's)."""

HEAD_TOO_LARGE: Final = "Receive buffer too long"
"""h11's words for a head over the limit; `http.py` recognises them."""
NO_RESPONSE: Final = "Server disconnected without sending a response."
INCOMPLETE_BODY: Final = "peer closed connection without sending complete message body"
SWITCHED: Final = "the server switched protocols"
ONLY_CHUNKED: Final = "Only Transfer-Encoding: chunked is supported"

_TOKEN: Final = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_FIELD_VALUE: Final = re.compile(rb"(?:[^\x00\s]+(?:[ \t]+[^\x00\s]+)*)?")
_TARGET: Final = re.compile(rb"[\x21-\x7e]+")


# --------------------------------------------------------------------------- requests


def request_bytes(method: bytes, target: bytes, headers: Headers, content: bytes | None) -> bytes:
    """The request on the wire; `httpx.LocalProtocolError` for what may not be sent."""
    if _TOKEN.fullmatch(method) is None:
        raise httpx.LocalProtocolError("Illegal method characters")
    if _TARGET.fullmatch(target) is None:
        raise httpx.LocalProtocolError("Illegal target characters")
    parts = [method, b" ", target, b" HTTP/1.1\r\n"]
    chunked = False
    length: bytes | None = None
    for name, value in headers:
        if _TOKEN.fullmatch(name) is None:
            raise httpx.LocalProtocolError(f"Illegal header name {name!r}")
        if _FIELD_VALUE.fullmatch(value) is None:
            raise httpx.LocalProtocolError("Illegal header value")  # (never quote a value)
        lowered = name.lower()
        if lowered == b"transfer-encoding":
            if value.lower() != b"chunked" or chunked:
                raise httpx.LocalProtocolError(ONLY_CHUNKED)
            chunked = True
        elif lowered == b"content-length":
            if length is not None and length != value:
                raise httpx.LocalProtocolError("conflicting Content-Length headers")
            length = value
        parts += (name, b": ", value, b"\r\n")
    parts.append(b"\r\n")
    body = content or b""
    if chunked:
        if length is not None:
            raise httpx.LocalProtocolError("Content-Length can't be present with Transfer-Encoding")
        if body:
            parts += (b"%x\r\n" % len(body), body, b"\r\n")
        parts.append(b"0\r\n\r\n")
    elif body or length is not None:
        if length is None or not length.isdigit() or int(length) != len(body):
            raise httpx.LocalProtocolError("the body does not match its Content-Length")
        parts.append(body)
    return b"".join(parts)


def keeps_alive(headers: Headers) -> bool:
    """Whether a message with these headers lets its connection be reused."""
    for name, value in headers:
        if name.lower() == b"connection" and b"close" in _tokens(value):
            return False
    return True


def _tokens(value: bytes) -> list[bytes]:
    return [part.strip().lower() for part in value.split(b",")]


# --------------------------------------------------------------------------- responses


class ResponseHead:
    """A response's status line and headers (names lower-cased, as h11 gave them)."""

    __slots__ = ("headers", "http_version", "status_code")

    def __init__(self, status_code: int, http_version: bytes, headers: Headers) -> None:
        self.status_code = status_code
        self.http_version = http_version
        self.headers = headers


class ResponseReader:
    """One response, parsed from the bytes fed to it.

    `feed` takes what the socket gave; afterwards `head` is set once the final
    (non-1xx) head has arrived, `take_body` hands over the body bytes parsed so far,
    and `complete` says the response ended. `reusable` says whether the connection
    may carry another request afterwards."""

    __slots__ = (
        "_chunks",
        "_framed",
        "_head_bytes",
        "_headers",
        "_is_head",
        "_parser",
        "_problem",
        "complete",
        "head",
        "reusable",
    )

    def __init__(self, method: bytes, request_keeps_alive: bool = True) -> None:
        self._is_head = method == b"HEAD"
        self._parser = httptools.HttpResponseParser(self)
        self._headers: Headers = []
        self._chunks: list[bytes] = []
        self._head_bytes = 0
        self._framed = True
        self._problem: str | None = None
        self.head: ResponseHead | None = None
        self.complete = False
        self.reusable = request_keeps_alive

    # --- what the connection calls ---------------------------------------------------

    def feed(self, data: bytes) -> None:
        """Parse `data` (never empty: the end of the stream is `end_of_stream`)."""
        if self.complete:  # bytes after the response: the connection cannot be trusted
            self.reusable = False
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            raise httpx.RemoteProtocolError(SWITCHED) from None
        except httptools.HttpParserError as error:
            raise httpx.RemoteProtocolError(self._problem or str(error)) from None
        if self._problem is not None:
            raise httpx.RemoteProtocolError(self._problem)
        if self.head is None:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEADER_BYTES:
                raise httpx.RemoteProtocolError(HEAD_TOO_LARGE)

    def end_of_stream(self) -> None:
        """The server closed the connection: the end of a body read to the close, or an error."""
        self.reusable = False
        if self.complete:
            return
        if self.head is not None and not self._framed:
            self.complete = True
            return
        if self.head is None:  # (h11's words too when part of a head had come)
            raise httpx.RemoteProtocolError(NO_RESPONSE)
        raise httpx.RemoteProtocolError(INCOMPLETE_BODY)

    def take_body(self) -> list[bytes]:
        chunks, self._chunks = self._chunks, []
        return chunks

    # --- httptools' callbacks ---------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.head is not None:  # a second response in the same bytes: never asked for
            self.reusable = False

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.head is None and not self.complete:  # (after the head: trailers, ignored)
            self._headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        parser = self._parser
        if self.head is not None:
            return
        status = parser.get_status_code()
        if status < 200:
            return  # an informational response: its message ends, the final one follows
        headers = self._headers
        version = parser.get_http_version().encode("ascii")
        self.head = ResponseHead(status, version, headers)
        if version != b"1.1":
            self.reusable = False
        self._framed = False
        for name, value in headers:  # (names are lower-cased: `on_header`)
            if name == b"content-length":
                self._framed = True
            elif name == b"transfer-encoding":
                if value.strip().lower() != b"chunked":
                    self._problem = ONLY_CHUNKED
                self._framed = True
            elif name == b"connection" and b"close" in _tokens(value):
                self.reusable = False
        if self._is_head or status in (204, 304):  # no body, whatever the headers say
            self._framed = True
            self.complete = True
        elif not self._framed:  # the body runs to the close
            self.reusable = False

    def on_body(self, data: bytes) -> None:
        if self.complete:  # a body after a HEAD response's head, or a second response's
            self.reusable = False
        else:
            self._chunks.append(data)

    def on_message_complete(self) -> None:
        if self.head is None:  # the end of an informational response
            self._headers = []
        elif not self.complete:
            self.complete = True
