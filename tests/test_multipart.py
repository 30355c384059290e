"""explorer/multipart.py: multipart bodies read as Orthanc reads them, as a stream in chunks.
The REST side (part headers as devices write them) is in tests/test_api_instances.py."""

import io

import pytest

from explorer import multipart
from explorer.errors import BadRequest

TOLERATED = (
    b"--B\r\n\r\nno headers at all\r\n"  # a part without headers
    b'--B\r\nContent-Disposition: form-data; name="a"; filename="a\\"b.dcm"\r\n\r\n'
    b"holds --B but not at a line start\r\n"
    b'--B\r\nContent-Disposition: form-data; name="empty"; filename=""\r\n\r\n\r\n'  # skipped
    b'--B\r\nContent-Disposition: form-data; name="no blank line"\r\n--B\r\n'  # skipped
    b'--B\r\nContent-Disposition: form-data; name="last"\r\n\r\ncut short, no close delimiter'
)
TOLERATED_PARTS = [
    ("part 1", b"no headers at all"),
    ('a"b.dcm', b"holds --B but not at a line start"),
    ("last", b"cut short, no close delimiter"),
]


class Reads:
    """A stream that gives at most `size` bytes a read, and counts what it gave."""

    def __init__(self, data, size):
        self.source, self.size, self.largest = io.BytesIO(data), size, 0

    def read(self, size):
        data = self.source.read(min(size, self.size))
        self.largest = max(self.largest, len(data))
        return data


def parts_of(stream, boundary=b"B"):
    return [(name, b"".join(chunks)) for name, chunks in multipart.parts(stream, boundary)]


def test_parts_are_read_as_orthanc_reads_them():
    assert parts_of(io.BytesIO(TOLERATED)) == TOLERATED_PARTS


@pytest.mark.parametrize("size", [1, 2, 3, 5, 64])
def test_the_parts_are_the_same_however_the_body_arrives(size):
    """A delimiter or a header's end cut between two reads is found all the same."""
    assert parts_of(Reads(TOLERATED, size)) == TOLERATED_PARTS


def test_a_large_part_is_handed_out_in_chunks(monkeypatch):
    monkeypatch.setattr(multipart, "CHUNK", 1000)
    content = bytes(range(256)) * 4000  # ~1 MB
    body = b"--B\r\n" + b'Content-Disposition: form-data; name="f"; filename="x"\r\n\r\n' + content + b"\r\n--B--\r\n"
    (name, chunks), *others = [(name, list(chunks)) for name, chunks in multipart.parts(io.BytesIO(body), b"B")]
    assert name == "x" and others == []
    assert b"".join(chunks) == content and max(map(len, chunks)) <= 1000


def test_a_part_whose_headers_never_end_is_skipped_without_being_held(monkeypatch):
    monkeypatch.setattr(multipart, "CHUNK", 1000)
    endless = b"X-Filler: " + b"y" * (2 * multipart.MAXIMUM_HEAD)
    body = b"--B\r\n" + endless + b'\r\n--B\r\nContent-Disposition: form-data; name="next"\r\n\r\nkept\r\n--B--'
    stream = Reads(body, 1000)
    assert parts_of(stream) == [("next", b"kept")]


def test_parts_left_untaken_are_skipped():
    names = [name for name, chunks in multipart.parts(io.BytesIO(TOLERATED), b"B")]
    assert names == [name for name, _ in TOLERATED_PARTS]


def test_a_body_without_its_boundary_is_a_bad_request():
    with pytest.raises(BadRequest):
        parts_of(io.BytesIO(b"nothing here"))
