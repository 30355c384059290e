"""Request bodies sent compressed (`Content-Encoding: gzip` or `deflate`), decoded as they are read.

Orthanc's peers send with `"Compress": true` as gzip, and Orthanc's server takes both codings
on an upload; so does Pharos's upload route (explorer/uploads.py). The body is decoded a chunk
at a time: memory holds at most one chunk in and one chunk out, whatever the ratio, and the
decoded body is held to PHAROS_MAX_UPLOAD_SIZE as a plain one is (413 beyond: a small body
that would expand without end, a decompression bomb, is stopped there).
"""

import zlib

from django.conf import settings

from explorer.errors import BadFileFormat, PayloadTooLarge, UnsupportedMediaType

CHUNK = 1 << 20
# zlib's window bits for each coding: gzip's header, or zlib's (HTTP's "deflate"); raw
# deflate, which some clients send as "deflate", is tried when zlib's header is missing.
GZIP, ZLIB, RAW = 16 + zlib.MAX_WBITS, zlib.MAX_WBITS, -zlib.MAX_WBITS
CODINGS = {"gzip": GZIP, "x-gzip": GZIP, "deflate": ZLIB}


class DecodedBody:
    """`read(size)` of the decoded bytes of a body that `read_raw(size)` gives compressed."""

    def __init__(self, read_raw, coding, limit):
        self.read_raw, self.coding, self.limit = read_raw, coding, limit
        self.wbits = CODINGS[coding]
        self.decoder = zlib.decompressobj(self.wbits)
        self.pending = b""  # compressed bytes read and not yet decoded
        self.decoded = 0
        self.started = False

    def read(self, size=CHUNK):
        size = CHUNK if size is None or size < 0 else max(size, 1)
        while True:
            if self.decoder.eof and not self._next_member():
                return b""
            if not self.pending:
                self.pending = self.read_raw(CHUNK)
                if not self.pending:
                    raise BadFileFormat(f"The {self.coding} body ends before its compressed data does")
            out = self._decode(size)
            if out:
                self.decoded += len(out)
                if self.decoded > self.limit:
                    raise PayloadTooLarge(
                        f"The {self.coding} body decodes to more than the largest upload "
                        f"(PHAROS_MAX_UPLOAD_SIZE: {self.limit} bytes)"
                    )
                return out

    def _decode(self, size):
        try:
            out = self.decoder.decompress(self.pending, size)
        except zlib.error as error:
            if self.wbits == ZLIB and not self.started:
                # No zlib header: the raw deflate data some clients send as "deflate".
                self.wbits, self.decoder = RAW, zlib.decompressobj(RAW)
                return self._decode(size)
            raise BadFileFormat(f"The body is not valid {self.coding} data: {error}") from error
        self.started = True
        self.pending = self.decoder.unconsumed_tail or self.decoder.unused_data
        return out

    def _next_member(self):
        """After a gzip member, another may follow (gzip files concatenate); anything else
        after the compressed data is left unread."""
        if self.wbits != GZIP:
            return False
        if not self.pending:
            self.pending = self.read_raw(CHUNK)
        if not self.pending:
            return False
        self.decoder = zlib.decompressobj(GZIP)
        return True


def reader(request):
    """The function to read the request's body with: its own `read`, or one that decodes it
    when its Content-Encoding is gzip or deflate (415 for a coding Pharos does not know)."""
    coding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
    if coding in ("", "identity"):
        return request.read
    if coding not in CODINGS:
        raise UnsupportedMediaType(f"Content-Encoding {coding!r} is not supported: send it as is, gzip or deflate")
    return DecodedBody(request.read, coding, settings.PHAROS_MAX_UPLOAD_SIZE).read
