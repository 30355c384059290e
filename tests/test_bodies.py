"""explorer/bodies.py: request bodies read as streams within PHAROS_MAX_UPLOAD_SIZE, through
POST /instances (Django's test client; tests/test_memory_bounds.py does it on a real server)."""

import io

import pytest
from django.test import RequestFactory

from explorer import bodies, storage
from explorer.errors import PayloadTooLarge
from explorer.models import Instance
from tests.conftest import CT_SMALL, dicom_bytes

pytestmark = pytest.mark.django_db


class Unreadable:
    def read(self, *args):
        raise AssertionError("the body was read")

    readline = read


def incoming_files():
    return sorted(storage.incoming_dir().iterdir())


def post(api, body_stream, content_length, content_type="application/dicom", **extra):
    """POST /instances with the body read from `body_stream` (what the WSGI server gives)."""
    environ = {"wsgi.input": body_stream, "CONTENT_LENGTH": str(content_length), **extra}
    return api.post("/instances", data=b"-", content_type=content_type, **environ)


def test_a_body_beyond_the_limit_is_answered_413_before_it_is_read(api, settings):
    settings.PHAROS_MAX_UPLOAD_SIZE = 1000
    response = post(api, Unreadable(), 1001)
    assert response.status_code == 413
    assert response.json() == {
        "Details": "The body is larger than the largest upload (PHAROS_MAX_UPLOAD_SIZE: 1000 bytes)",
        "HttpError": "Request Entity Too Large",
        "HttpStatus": 413,
        "Message": "Payload too large",
        "Method": "POST",
        "OrthancError": "Payload too large",
        "OrthancStatus": 8,
        "Uri": "/instances",
    }


def test_a_body_at_the_limit_is_read(api, settings):
    data = dicom_bytes(CT_SMALL)
    settings.PHAROS_MAX_UPLOAD_SIZE = len(data)
    assert post(api, io.BytesIO(data), len(data)).json()["Status"] == "Success"


def test_a_chunked_body_is_read_from_what_the_server_decodes(api):
    # gunicorn decodes a chunked body in wsgi.input; Django alone would read it as empty.
    data = dicom_bytes(CT_SMALL)
    response = post(api, io.BytesIO(data), "", HTTP_TRANSFER_ENCODING="chunked")
    assert response.status_code == 200 and response.json()["Status"] == "Success"


@pytest.mark.parametrize("content_type", ["application/dicom", "multipart/form-data; boundary=B"])
def test_a_chunked_body_growing_past_the_limit_is_stopped_with_413(api, settings, content_type):
    settings.PHAROS_MAX_UPLOAD_SIZE = 10_000
    body = b'--B\r\nContent-Disposition: form-data; name="f"\r\n\r\n' + dicom_bytes(CT_SMALL)
    response = post(api, io.BytesIO(body), "", content_type, HTTP_TRANSFER_ENCODING="chunked")
    assert response.status_code == 413 and "PHAROS_MAX_UPLOAD_SIZE" in response.json()["Details"]
    assert incoming_files() == [] and Instance.objects.count() == 0


@pytest.mark.parametrize("content_type", ["application/dicom", "multipart/form-data; boundary=B"])
def test_a_body_ending_before_its_length_is_refused_and_leaves_no_file(api, content_type):
    """What a server sees of a client that goes away in the middle of its upload."""
    body = b'--B\r\nContent-Disposition: form-data; name="f"\r\n\r\n' + dicom_bytes(CT_SMALL)
    response = post(api, io.BytesIO(body), len(body) + 1000, content_type)
    assert response.status_code == 400
    assert response.json()["Details"].startswith("The body could not be read whole: The body ended after")
    assert incoming_files() == [] and Instance.objects.count() == 0


def test_a_limited_body_counts_what_it_gives():
    body = bodies.LimitedBody(io.BytesIO(b"0123456789"), None, 10)
    assert body.read(4) == b"0123" and body.read() == b"456789" and body.read(5) == b""
    assert body.received == 10
    with pytest.raises(PayloadTooLarge):
        bodies.LimitedBody(io.BytesIO(b"0123456789"), None, 9).read()
    with pytest.raises(bodies.BodyCutShort):
        bodies.LimitedBody(io.BytesIO(b"01234"), 10, 100).read()
    # No more than the Content-Length is read, whatever follows it.
    assert bodies.LimitedBody(io.BytesIO(b"0123456789"), 4, 100).read() == b"0123"


def test_the_files_of_a_form_django_parses_are_received_into_the_incoming_folder():
    request = RequestFactory().post("/ui/upload", {"files": io.BytesIO(b"content")})
    [received] = request.FILES.getlist("files")
    path = received.temporary_file_path()
    assert path.startswith(str(storage.incoming_dir())) and open(path, "rb").read() == b"content"
    request.close()  # at the end of the request: removed
    assert incoming_files() == []
