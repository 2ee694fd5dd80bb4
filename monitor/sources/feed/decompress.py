"""Streaming gzip / deflate decoding that never produces more than a set number of bytes.

httpx would decode a whole received chunk at once, so one small chunk of a "zip bomb" could
expand to hundreds of MB before a size check runs. Here each step is bounded by ``limit``.
"""

from __future__ import annotations

import zlib

from monitor.errors import FetchError


class BodyTooLarge(Exception):
    """The decoded body would exceed the limit."""


class BoundedDecoder:
    """Decodes a ``Content-Encoding`` of ``identity``, ``gzip``/``x-gzip`` or ``deflate``."""

    def __init__(self, content_encoding: str | None, limit: int) -> None:
        codings = [c.strip().lower() for c in (content_encoding or "").split(",") if c.strip()]
        codings = [c for c in codings if c != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in ("gzip", "x-gzip", "deflate")):
            raise FetchError(f"unsupported Content-Encoding {content_encoding!r}")
        self._coding = codings[0] if codings else None
        self._limit = limit
        self._size = 0
        self._zlib: zlib._Decompress | None = None
        self._deflate_probe = b""
        self._raw_seen = False
        if self._coding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)

    def feed(self, chunk: bytes) -> bytes:
        """Decoded bytes for the next raw ``chunk``; raises :class:`BodyTooLarge` past the limit."""
        self._raw_seen = self._raw_seen or bool(chunk)
        if self._coding is None:
            return self._count(chunk)
        if self._zlib is None:
            # "deflate" is meant to be zlib-wrapped, but some servers send raw deflate.
            self._deflate_probe += chunk
            if len(self._deflate_probe) < 2:
                return b""
            wrapped = (self._deflate_probe[0] & 0x0F) == 8 and int.from_bytes(
                self._deflate_probe[:2], "big"
            ) % 31 == 0
            self._zlib = zlib.decompressobj(zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
            chunk, self._deflate_probe = self._deflate_probe, b""
        return self._inflate(chunk)

    def flush(self) -> bytes:
        """The last decoded bytes; raises :class:`FetchError` if the compressed stream was cut short."""
        if self._coding is None or not self._raw_seen:
            return b""
        if self._zlib is None or not self._zlib.eof:
            raise FetchError(f"corrupt {self._coding} response body: truncated")
        return b""

    def _inflate(self, chunk: bytes) -> bytes:
        assert self._zlib is not None
        out = []
        data = chunk
        try:
            while data:
                if self._zlib.eof:
                    # A gzip body may hold several members, to be read as one (RFC 1952, 2.2);
                    # what follows a deflate stream, or zero padding, is not part of the body.
                    if self._coding == "deflate" or not data.strip(b"\0"):
                        break
                    self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 16)
                room = self._limit - self._size + 1
                piece = self._zlib.decompress(data, room)
                out.append(self._count(piece))
                data = self._zlib.unused_data if self._zlib.eof else self._zlib.unconsumed_tail
        except zlib.error as exc:
            raise FetchError(f"corrupt {self._coding} response body: {exc}") from None
        return b"".join(out)

    def _count(self, piece: bytes) -> bytes:
        self._size += len(piece)
        if self._size > self._limit:
            raise BodyTooLarge
        return piece
