"""explorer/content_encoding.py: upload bodies sent gzip or deflate (as an Orthanc peer sends with
"Compress"), decoded a chunk at a time and held to the upload size limit."""

import gzip
import io
import os
import zlib

import pytest

from explorer import content_encoding
from explorer.errors import BadFileFormat, PayloadTooLarge
from tests.conftest import CT_SMALL, CT_SMALL_IDS, dicom_bytes

pytestmark = pytest.mark.django_db


def post(api, data, coding):
    return api.post("/instances", data=data, content_type="application/dicom", HTTP_CONTENT_ENCODING=coding)


def raw_deflate(data):
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    "coding, encode",
    [("gzip", gzip.compress), ("x-gzip", gzip.compress), ("deflate", zlib.compress), ("deflate", raw_deflate)],
)
def test_a_compressed_upload_is_stored_decoded(api, coding, encode, storage_dir):
    response = post(api, encode(dicom_bytes(CT_SMALL)), coding)
    assert response.status_code == 200, response.content
    assert response.json()["ID"] == CT_SMALL_IDS["instance"]
    # The stored file is the DICOM file itself, byte for byte.
    assert api.get(f"/instances/{CT_SMALL_IDS['instance']}/file").getvalue() == dicom_bytes(CT_SMALL)


def test_identity_and_no_coding_are_read_as_they_are(api):
    assert post(api, dicom_bytes(CT_SMALL), "identity").status_code == 200


def test_an_unknown_coding_is_415(api):
    response = post(api, dicom_bytes(CT_SMALL), "br")
    assert response.status_code == 415 and "'br' is not supported" in response.json()["Details"]


def test_a_body_that_is_not_what_it_says_is_400(api):
    response = post(api, dicom_bytes(CT_SMALL), "gzip")
    assert response.status_code == 400 and "not valid gzip data" in response.json()["Details"]
    response = post(api, gzip.compress(dicom_bytes(CT_SMALL))[:-100], "gzip")
    assert response.status_code == 400 and "ends before its compressed data does" in response.json()["Details"]


def test_a_decompression_bomb_stops_at_the_upload_limit(api, settings, storage_dir):
    settings.PHAROS_MAX_UPLOAD_SIZE = 1024 * 1024
    bomb = gzip.compress(bytes(64 * 1024 * 1024))  # 64 kB that decode to 64 MiB
    assert len(bomb) < settings.PHAROS_MAX_UPLOAD_SIZE
    response = post(api, bomb, "gzip")
    assert response.status_code == 413
    assert "decodes to more than the largest upload" in response.json()["Details"]
    assert not os.listdir(storage_dir / "incoming")


def reader_of(data, coding, limit=1 << 30):
    return content_encoding.DecodedBody(io.BytesIO(data).read, coding, limit)


def test_memory_is_one_chunk_whatever_the_ratio():
    body = reader_of(gzip.compress(bytes(8 * content_encoding.CHUNK)), "gzip")
    sizes = [len(piece) for piece in iter(lambda: body.read(content_encoding.CHUNK), b"")]
    assert sum(sizes) == 8 * content_encoding.CHUNK and max(sizes) <= content_encoding.CHUNK


def test_concatenated_gzip_members_are_one_body():
    body = reader_of(gzip.compress(b"first ") + gzip.compress(b"second"), "gzip")
    assert b"".join(iter(body.read, b"")) == b"first second"


def test_the_limit_counts_decoded_bytes():
    body = reader_of(zlib.compress(bytes(1000)), "deflate", limit=999)
    with pytest.raises(PayloadTooLarge):
        b"".join(iter(body.read, b""))
    with pytest.raises(BadFileFormat):
        b"".join(iter(reader_of(b"", "gzip").read, b""))
