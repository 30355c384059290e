"""multipart/related answers (RFC 2387), streamed part by part, laid out as Orthanc's DICOMweb
plugin writes them: each part's headers Content-Type (exactly so spelled: Cornerstone looks
for `Content-Type:`), Content-Location when given, Content-Length and MIME-Version, CRLF line
ends, and the close delimiter after the last part.

A part's content comes as chunks (a file read a megabyte at a time): memory holds one chunk,
never a whole study.
"""

import os
import uuid

from django.http import StreamingHttpResponse

CHUNK = 1 << 20


def new_boundary():
    # Two random UUIDs: no file's bytes hold this by chance.
    return f"{uuid.uuid4()}-{uuid.uuid4().hex}"


class Part:
    """One part: its content type, its length and its chunks; `location` is its URL."""

    def __init__(self, content_type, length, chunks, location=None):
        self.content_type, self.length, self.chunks, self.location = content_type, length, chunks, location

    @classmethod
    def of_bytes(cls, content_type, data, location=None):
        return cls(content_type, len(data), (data,), location)

    def head(self, boundary):
        lines = [f"--{boundary}"]
        if self.location:
            lines.append(f"Content-Location: {self.location}")
        lines += [f"Content-Type: {self.content_type}", f"Content-Length: {self.length}", "MIME-Version: 1.0"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def file_part(content_type, path):
    """A part holding a file, read as it is sent; its length is the file's, when opened."""
    handle = open(path, "rb")
    return Part(content_type, os.fstat(handle.fileno()).st_size, _file_chunks(handle))


def _file_chunks(handle):
    with handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def body(parts, boundary):
    """The bytes of the answer, part after part, the parts taken one at a time."""
    for part in parts:
        yield part.head(boundary)
        yield from part.chunks
        yield b"\r\n"
    yield f"--{boundary}--\r\n".encode("latin-1")


def response(parts, media_type):
    """A streamed multipart/related answer of `parts` (an iterable of Part) whose `type` is
    `media_type` (Orthanc puts a frame's transfer-syntax inside it)."""
    boundary = new_boundary()
    answer = StreamingHttpResponse(
        body(parts, boundary), content_type=f'multipart/related; type="{media_type}"; boundary={boundary}'
    )
    return answer
