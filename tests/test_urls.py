"""The routes as Orthanc's clients spell them (explorer/urls.py, explorer/api/base.py): trailing
and doubled slashes on the REST API, and 405 as JSON with Allow; the explorer's pages and
the admin keep their own URLs. Expected answers are Orthanc 1.10.1's."""

import pytest
from django.test.client import FakePayload

from tests.conftest import CT_SMALL_IDS, dicom_bytes

pytestmark = pytest.mark.django_db


def raw(client, method, path, body=b"", content_type="application/octet-stream"):
    """A request for `path` as a server receives it: the test client's own methods read a
    leading `//` as the start of a host name."""
    return client.request(
        PATH_INFO=path,
        REQUEST_METHOD=method,
        CONTENT_LENGTH=str(len(body)),
        CONTENT_TYPE=content_type,
        **{"wsgi.input": FakePayload(body)},
    )


@pytest.mark.parametrize(
    "loose, route",
    [
        ("/studies/", "/studies"),
        ("//system", "/system"),
        ("/system/", "/system"),
        ("//studies//", "/studies"),
        (f"/patients/{CT_SMALL_IDS['patient']}/", f"/patients/{CT_SMALL_IDS['patient']}"),
        (f"/studies//{CT_SMALL_IDS['study']}//series", f"/studies/{CT_SMALL_IDS['study']}/series"),
        ("/tools/default-encoding/", "/tools/default-encoding"),
    ],
)
def test_trailing_and_doubled_slashes_reach_the_route(ct, loose, route):
    answer, expected = raw(ct, "GET", loose), ct.get(route)
    assert answer.status_code == expected.status_code == 200
    assert answer.content == expected.content


def test_other_methods_work_on_loose_paths(ct):
    assert raw(ct, "PUT", "//tools/default-encoding/", b"Utf8", "text/plain").content == b"Utf8"
    uploaded = raw(ct, "POST", "//instances/", dicom_bytes("MR_small.dcm"), "application/dicom")
    assert uploaded.json()["Status"] == "Success"
    assert raw(ct, "DELETE", f"/instances//{CT_SMALL_IDS['instance']}/").status_code == 200
    assert CT_SMALL_IDS["study"] not in ct.get("/studies").json()


def test_an_unknown_route_stays_unknown_however_spelled(api):
    for path in ("/nonexistent-route/", "//nonexistent-route", "//"):
        response = raw(api, "GET", path)
        assert response.status_code == 404, path
        assert response.json()["OrthancStatus"] == 17
        assert response.json()["Uri"] == path


def test_the_pages_and_the_admin_keep_their_own_urls(browser):
    assert browser.get("/ui/patients").status_code == 200
    assert browser.get("/ui/patients/").status_code == 404  # not the REST API: no loose spelling
    assert browser.get("/admin/").status_code in (200, 302)
    assert browser.get("/").status_code == 302


def test_a_loose_path_still_needs_the_csrf_token_of_a_session(user):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(user)
    assert raw(strict, "PUT", "//tools/default-encoding/", b"Utf8", "text/plain").status_code == 403


def test_a_wrong_method_is_405_as_json_with_allow(api):
    response = api.put("/system")
    assert response.status_code == 405
    assert response["Allow"] == "GET"
    error = response.json()
    assert (error["HttpStatus"], error["HttpError"], error["Method"], error["Uri"]) == (
        405,
        "Method Not Allowed",
        "PUT",
        "/system",
    )
    assert "GET" in error["Details"]
    # Orthanc's order and spelling of several methods.
    assert api.put("/changes")["Allow"] == "GET,DELETE"
    assert api.put("/instances")["Allow"] == "GET,POST"
    assert api.post("/modalities/anything")["Allow"] == "GET,PUT,DELETE"
    assert api.post(f"/instances/{CT_SMALL_IDS['instance']}")["Allow"] == "GET,DELETE"
    assert raw(api, "DELETE", "//patients/")["Allow"] == "GET"  # a loose spelling, the same answer
