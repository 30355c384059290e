"""explorer/bodies.py: request bodies read as streams within PHAROS_MAX_UPLOAD_SIZE, through
POST /instances (Django's test client; tests/test_memory_bounds.py does it on a real server)."""

import io

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, RequestFactory

from explorer import bodies, storage
from explorer.errors import PayloadTooLarge
from explorer.models import Instance
from tests.conftest import CT_SMALL, basic_header, dicom_bytes
from tests.page_helpers import csrf_token

pytestmark = pytest.mark.django_db


ALICE = {"Authorization": basic_header("alice", "wonderland")}


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


@pytest.mark.parametrize("content_type", ["application/dicom", "multipart/form-data; boundary=B"])
def test_bodies_are_read_the_same_under_asgi(user, content_type):
    """Django's ASGI handler has received the body into a file before the view: it is read
    from there the same way."""
    client = AsyncClient()
    body = dicom_bytes(CT_SMALL)
    if content_type.startswith("multipart"):
        body = b'--B\r\nContent-Disposition: form-data; name="f"\r\n\r\n' + body + b"\r\n--B--\r\n"
    response = async_to_sync(client.post)("/instances", data=body, content_type=content_type, headers=ALICE)
    assert response.status_code == 200, response.content
    assert Instance.objects.count() == 1 and incoming_files() == []


def test_a_body_beyond_the_limit_is_answered_413_under_asgi(user, settings):
    settings.PHAROS_MAX_UPLOAD_SIZE = 1000
    post = async_to_sync(AsyncClient().post)
    response = post("/instances", data=dicom_bytes(CT_SMALL), content_type="application/dicom", headers=ALICE)
    assert response.status_code == 413 and incoming_files() == []


def test_a_body_read_whole_beyond_its_limit_is_answered_413(api, monkeypatch):
    monkeypatch.setattr(bodies, "WHOLE_BODY_LIMIT", 100)
    response = api.post(
        "/tools/find", data=b'{"Level": "Study", "Query": {}}' + b" " * 100, content_type="application/json"
    )
    assert response.status_code == 413 and "A body read whole" in response.json()["Details"]
    assert (
        api.post("/tools/find", data={"Level": "Study", "Query": {}}, content_type="application/json").status_code
        == 200
    )


def test_a_form_cut_short_while_django_parses_it_leaves_no_file(strict_browser):
    """A browser's form is parsed by Django for the CSRF check; the file it was writing when
    the body ended is removed with the request."""
    token = csrf_token(strict_browser)
    body = b'--B\r\nContent-Disposition: form-data; name="files"; filename="ct.dcm"\r\n\r\n' + dicom_bytes(CT_SMALL)
    environ = {"wsgi.input": io.BytesIO(body), "CONTENT_LENGTH": str(len(body) + 1000)}
    response = strict_browser.post(
        "/instances", data=b"-", content_type="multipart/form-data; boundary=B", HTTP_X_CSRFTOKEN=token, **environ
    )
    assert response.status_code == 400 and "could not be read whole" in response.json()["Details"]
    assert incoming_files() == [] and Instance.objects.count() == 0
