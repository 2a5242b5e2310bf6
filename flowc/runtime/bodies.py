"""Reading a response body within its bounds, decompressing as it arrives.

A server decides how large a body is, and a compressed one can be a
thousand times larger than what crossed the wire (a 1 MB gzip stream of
zeros is 1 GB).  ``read_body`` therefore never holds more than the limit: it
reads the raw stream chunk by chunk, decodes each chunk's
``Content-Encoding`` into pieces of at most ``PIECE`` bytes (``zlib``'s
``max_length``, so a bomb cannot expand in one go), counts the decoded
bytes as they are produced, and stops with ``BodyTooLarge`` the moment the
count would pass the limit.  The bytes on the wire are bounded as well (a
little more than the limit: compression can grow incompressible data a
little), so trailing garbage cannot keep a read going.

Encodings: ``gzip`` (and ``x-gzip``), ``deflate`` (zlib-wrapped or raw, as
servers send both; the first bytes decide) and ``identity``, in any chain
(``Content-Encoding: gzip, deflate`` is undone last to first).  These are
the encodings the invoker asks for (``ACCEPT_ENCODING``).  ``br``, ``zstd``
and ``compress``, which it does not ask for, are ``UndecodableBody``; an
unknown token is passed through as httpx does (servers put charsets there).
A stream that does not decode (``zlib.error``) or ends before its end marker
is ``UndecodableBody`` too.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Final, Protocol

DEFAULT_MAX_BODY: Final = 10_000_000
"""Decoded bytes a response body may have unless ``max_body`` says otherwise."""
PIECE: Final = 65536
"""Most bytes one decompression step produces."""
ACCEPT_ENCODING: Final = "gzip, deflate"
_REFUSED: Final = frozenset({"br", "zstd", "compress", "x-compress"})


class BodyTooLarge(Exception):
    """The body (decoded) is larger than the limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit


class UndecodableBody(Exception):
    """The body's Content-Encoding is refused, or its bytes do not decode."""


class _Decoder(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def finish(self) -> Iterator[bytes]: ...


class _Identity:
    def feed(self, data: bytes) -> Iterator[bytes]:
        if data:
            yield data

    def finish(self) -> Iterator[bytes]:
        return iter(())


class _Inflate:
    """gzip or deflate, producing at most ``PIECE`` bytes per step."""

    def __init__(self, encoding: str) -> None:
        self._encoding = encoding
        self._gzip = encoding in ("gzip", "x-gzip")
        self._inflater: zlib._Decompress | None = None

    def _start(self, first: bytes) -> zlib._Decompress:
        if self._gzip:
            return zlib.decompressobj(zlib.MAX_WBITS | 16)
        # deflate: RFC 9110 says zlib-wrapped, many servers send raw deflate
        wrapped = len(first) >= 2 and first[0] & 0x0F == 8 and (first[0] << 8 | first[1]) % 31 == 0
        return zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)

    def feed(self, data: bytes) -> Iterator[bytes]:
        if not data:
            return
        if self._inflater is None:
            self._inflater = self._start(data)
        inflater = self._inflater
        while True:
            if inflater.eof:  # what follows the end marker is ignored
                return
            try:
                piece = inflater.decompress(data, PIECE)
            except zlib.error as error:
                raise UndecodableBody(
                    f"the {self._encoding} body does not decode ({error})"
                ) from None
            data = inflater.unconsumed_tail
            if piece:
                yield piece
            if not data and len(piece) < PIECE:
                return

    def finish(self) -> Iterator[bytes]:
        if self._inflater is not None and not self._inflater.eof:
            raise UndecodableBody(f"the {self._encoding} body ends before its end")
        return iter(())


class _Chain:
    """Several encodings, the outermost (the last one named) undone first."""

    def __init__(self, decoders: list[_Decoder]) -> None:
        self._decoders = decoders

    def feed(self, data: bytes) -> Iterator[bytes]:
        return self._through(0, self._decoders[0].feed(data))

    def finish(self) -> Iterator[bytes]:
        for index, decoder in enumerate(self._decoders):
            yield from self._through(index + 1, decoder.finish())

    def _through(self, index: int, pieces: Iterator[bytes]) -> Iterator[bytes]:
        if index == len(self._decoders):
            yield from pieces
            return
        for piece in pieces:
            yield from self._through(index + 1, self._decoders[index].feed(piece))


def decoder_for(content_encoding: list[str]) -> _Decoder:
    """The decoder for the ``Content-Encoding`` header values of a response."""
    tokens = [
        token.strip().lower()
        for value in content_encoding
        for token in value.split(",")
        if token.strip()
    ]
    decoders: list[_Decoder] = []
    for token in reversed(tokens):
        if token in _REFUSED:
            raise UndecodableBody(f"the body is encoded with {token}, which flowc does not ask for")
        if token in ("gzip", "x-gzip", "deflate"):
            decoders.append(_Inflate(token))
    if not decoders:
        return _Identity()
    return decoders[0] if len(decoders) == 1 else _Chain(decoders)


async def read_body(chunks: AsyncIterator[bytes], content_encoding: list[str], limit: int) -> bytes:
    """The decoded body from its raw ``chunks``; ``BodyTooLarge`` past ``limit`` bytes."""
    reader = _BodyReader(content_encoding, limit)
    async for chunk in chunks:
        reader.feed(chunk)
    return reader.finish()


def read_whole_body(chunks: Iterable[bytes], content_encoding: list[str], limit: int) -> bytes:
    """`read_body` for a body that has arrived whole (the common case on the direct path)."""
    reader = _BodyReader(content_encoding, limit)
    for chunk in chunks:
        reader.feed(chunk)
    return reader.finish()


class _BodyReader:
    __slots__ = ("_body", "_decoder", "_limit", "_wire", "_wire_limit")

    def __init__(self, content_encoding: list[str], limit: int) -> None:
        self._decoder = decoder_for(content_encoding)
        self._body = bytearray()
        self._limit = limit
        self._wire = 0
        self._wire_limit = limit + limit // 64 + PIECE

    def feed(self, chunk: bytes) -> None:
        self._wire += len(chunk)
        if self._wire > self._wire_limit:
            raise BodyTooLarge(self._limit)
        for piece in self._decoder.feed(chunk):
            _append(self._body, piece, self._limit)

    def finish(self) -> bytes:
        for piece in self._decoder.finish():
            _append(self._body, piece, self._limit)
        return bytes(self._body)


def _append(body: bytearray, piece: bytes, limit: int) -> None:
    if len(body) + len(piece) > limit:
        raise BodyTooLarge(limit)
    body += piece
