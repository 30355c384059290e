"""Request bodies read as streams, never whole, within PHAROS_MAX_UPLOAD_SIZE.

BodyLimitMiddleware, around every request:

- a body whose Content-Length passes the limit is answered 413 (Orthanc's JSON error shape)
  before any of it is read;
- the body is then read through a LimitedBody: one sent in chunks (no Content-Length) that
  grows past the limit raises PayloadTooLarge, one that ends before its Content-Length (the
  client went away) raises BodyCutShort, an OSError that Django's request.read() turns
  into UnreadablePostError; one read whole (request.body) beyond WHOLE_BODY_LIMIT raises
  PayloadTooLarge;
- the files the request received into the incoming folder and left there are removed when
  it ends (explorer/incoming.py), however it ends.

Under WSGI, Django reads a body without Content-Length as empty: gunicorn decodes a chunked
body in wsgi.input, which is read instead. Under ASGI, Django receives the whole body into a
temporary file before any middleware runs; the limits apply as the view reads it.

IncomingUploadHandler is Django's form parser's upload handler (FILE_UPLOAD_HANDLERS): the
CSRF check of a browser's multipart POST parses the form before the view, and each file of
it goes to the incoming folder the same way.
"""

import contextlib

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler

from explorer import incoming
from explorer.api.base import error_response
from explorer.errors import PayloadTooLarge, StorageFailure

CHUNK = incoming.CHUNK
# Uploads are read in chunks; any other body (the JSON arguments of a route) is read whole
# into memory, and is refused beyond this.
WHOLE_BODY_LIMIT = 64 * 1024 * 1024


class BodyCutShort(OSError):
    """The body ended before the length its Content-Length announced."""


def too_large(limit):
    return PayloadTooLarge(f"The body is larger than the largest upload (PHAROS_MAX_UPLOAD_SIZE: {limit} bytes)")


def declared_length(request):
    """The body's Content-Length, or None when it has none (a chunked body)."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


def body_source(request, length):
    """What the body is read from: Django's stream, or gunicorn's decoder of a chunked body."""
    chunked = "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    if length is None and chunked and "wsgi.input" in request.META:
        return request.META["wsgi.input"]
    return request._stream


class LimitedBody:
    """A body read from `source`, counted: more than `limit` bytes raise PayloadTooLarge,
    fewer than `expected` (its Content-Length, None for a chunked body) raise BodyCutShort."""

    def __init__(self, source, expected, limit):
        self.source, self.expected, self.limit = source, expected, limit
        self.received = 0
        self.cut_short = None  # the BodyCutShort raised, for those who read after it

    def read(self, size=-1):
        if size is None or size < 0:  # the body read whole (request.body): a JSON argument
            pieces, length = [], 0
            for piece in iter(lambda: self.read(CHUNK), b""):
                length += len(piece)
                if length > WHOLE_BODY_LIMIT:
                    raise PayloadTooLarge(f"A body read whole (not an upload) is at most {WHOLE_BODY_LIMIT} bytes")
                pieces.append(piece)
            return b"".join(pieces)
        return self._counted(self.source.read, size)

    def readline(self, size=-1):
        return self._counted(self.source.readline, CHUNK if size is None or size < 0 else size)

    def close(self):
        close = getattr(self.source, "close", None)
        if close is not None:
            close()

    def _counted(self, reader, size):
        if self.expected is not None:
            size = min(size, self.expected - self.received)
            if size <= 0:
                return b""
        try:
            data = reader(size)
        except OSError:
            raise
        except Exception as exc:  # gunicorn's errors on a malformed chunked body
            self.cut_short = BodyCutShort(f"The body cannot be read: {exc}")
            raise self.cut_short from exc
        self.received += len(data)
        if self.received > self.limit:
            raise too_large(self.limit)
        if not data and self.expected is not None:
            self.cut_short = BodyCutShort(f"The body ended after {self.received} of its {self.expected} bytes")
            raise self.cut_short
        return data


def cut_short(request):
    """The BodyCutShort the request's body raised, if it did: Django's form parser, once its
    reading failed, gives an empty form."""
    body = getattr(request, "_stream", None)
    return body.cut_short if isinstance(body, LimitedBody) else None


class BodyLimitMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.PHAROS_MAX_UPLOAD_SIZE
        length = declared_length(request)
        if length is not None and length > limit:
            return error_response(too_large(limit), request)
        request._stream = LimitedBody(body_source(request, length), length, limit)
        with incoming.removed_at_end():
            return self.get_response(request)


class ReceivedUploadedFile(UploadedFile):
    """A file of a form, received into the incoming folder; removed when closed, unless it
    was moved into the storage area meanwhile."""

    def __init__(self, name, content_type, charset, content_type_extra):
        out, self.path = incoming.new_file()
        super().__init__(out, name, content_type, 0, charset, content_type_extra)

    def temporary_file_path(self):
        return self.path

    def write_chunk(self, data):
        try:
            self.file.write(data)
        except OSError as exc:
            raise StorageFailure(f"Cannot write the file to the storage area: {exc.strerror}") from exc

    def complete(self, size):
        self.size = size
        try:
            self.file.flush()
        except OSError as exc:
            raise StorageFailure(f"Cannot write the file to the storage area: {exc.strerror}") from exc
        self.file.seek(0)

    def close(self):
        with contextlib.suppress(OSError):
            self.file.close()
        incoming.remove(self.path)


class IncomingUploadHandler(FileUploadHandler):
    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.file = ReceivedUploadedFile(self.file_name, self.content_type, self.charset, self.content_type_extra)

    def receive_data_chunk(self, raw_data, start):
        self.file.write_chunk(raw_data)

    def file_complete(self, file_size):
        self.file.complete(file_size)
        return self.file

    def upload_interrupted(self):
        if hasattr(self, "file"):
            self.file.close()
