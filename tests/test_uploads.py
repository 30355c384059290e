"""Uploading from the page: the form without JavaScript (explorer.uploads behind
explorer.views.upload), the REST call the page's JavaScript makes, and CSRF on both."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils.html import escape

from explorer.models import Instance
from tests.conftest import dicom_bytes, make_image, zip_of
from tests.page_helpers import csrf_token, messages_of, store_ct

pytestmark = pytest.mark.django_db(transaction=True)

MR_SOP_PREFIX = "1.3.6.1.4.1.5962.1.1.4"


def upload_file(name, data, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def test_anonymous_browsers_are_sent_to_the_login_page():
    response = Client().get("/ui/upload", HTTP_ACCEPT="text/html")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next="), "/ui/upload"


def test_the_upload_page(browser):
    response = browser.get("/ui/upload")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html and "csrfmiddlewaretoken" in html
    assert re.search(r'<input[^>]+type="file"[^>]+name="files"[^>]+multiple', html)
    assert re.search(r'<input[^>]+name="folder"[^>]+multiple webkitdirectory', html)
    assert '<label for="upload-files">' in html and '<label for="upload-folder">' in html
    assert "/static/explorer/upload.js" in html
    assert 'aria-current="page">Upload' in html


def test_uploading_files_a_folder_and_a_zip_without_javascript(browser):
    store_ct()  # CT_small is already here: its second copy is "already stored"
    archive = zip_of({"mr/MR_small.dcm": dicom_bytes("MR_small.dcm"), "plan.dcm": dicom_bytes("rtplan.dcm")})
    response = browser.post(
        "/ui/upload",
        {
            "files": [upload_file("CT_small.dcm", dicom_bytes("CT_small.dcm")), upload_file("notes.txt", b"not DICOM")],
            "folder": [upload_file("exams.zip", archive, "application/zip")],
        },
    )
    assert response.status_code == 200
    answers = {answer["Filename"]: answer for answer in response.context["answers"]}
    assert {name: answer["Status"] for name, answer in answers.items()} == {
        "CT_small.dcm": "AlreadyStored",
        "notes.txt": "Failure",
        "exams.zip/mr/MR_small.dcm": "Success",
        "exams.zip/plan.dcm": "Success",
    }
    html = response.content.decode()
    assert "2 stored, 1 already stored, 1 rejected" in html
    assert "Already stored" in html and "Rejected" in html
    assert escape(answers["notes.txt"]["Details"]) in html  # the reason is shown
    assert f'href="/ui/studies/{answers["exams.zip/plan.dcm"]["ParentStudy"]}"' in html
    assert Instance.objects.count() == 3
    assert Instance.objects.filter(sop_instance_uid__startswith=MR_SOP_PREFIX, http_username="alice").exists()


def test_a_broken_zip_is_one_rejected_file_and_the_others_are_stored(browser):
    response = browser.post(
        "/ui/upload",
        {
            "files": [
                upload_file("broken.zip", b"PK\x03\x04 not really a zip"),
                upload_file("mr.dcm", dicom_bytes("MR_small.dcm")),
            ]
        },
    )
    statuses = [(a["Filename"], a["Status"]) for a in response.context["answers"]]
    assert statuses == [("broken.zip", "Failure"), ("mr.dcm", "Success")]
    assert "The ZIP archive cannot be opened" in response.content.decode()


def test_an_upload_without_files_says_so(browser):
    response = browser.post("/ui/upload", {})
    assert response.status_code == 200
    assert "Choose at least one file" in " ".join(messages_of(response))


def test_the_page_javascript_call_needs_the_csrf_token(strict_browser):
    """The page's JavaScript posts each file to POST /instances with the session: the CSRF
    token from the page goes with it in the X-CSRFToken header."""
    data = dicom_bytes("CT_small.dcm")
    refused = strict_browser.post("/instances", data=data, content_type="application/dicom")
    assert refused.status_code == 403
    token = csrf_token(strict_browser)
    accepted = strict_browser.post("/instances", data=data, content_type="application/dicom", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 200 and accepted.json()["Status"] == "Success"
    # A ZIP answers for each member, the rejected ones too, as the page lists them (it asks
    # with ?report-failures; Orthanc's answer leaves them out).
    archive = zip_of({"a.dcm": dicom_bytes("MR_small.dcm"), "b.txt": b"nothing"})
    answers = strict_browser.post(
        "/instances?report-failures", data=archive, content_type="application/zip", HTTP_X_CSRFTOKEN=token
    ).json()
    assert [(a["Filename"], a["Status"]) for a in answers] == [("a.dcm", "Success"), ("b.txt", "Failure")]
    assert "/instances?report-failures" in strict_browser.get("/static/explorer/upload.js").getvalue().decode()


def test_a_multipart_post_with_a_session_is_read_after_the_csrf_check(strict_browser):
    # The CSRF check reads the form before the view (Django's parser); its files are used.
    token = csrf_token(strict_browser)
    files = {"files": [upload_file("ct.dcm", dicom_bytes("CT_small.dcm"))]}
    response = strict_browser.post("/instances", files, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200
    assert [(a["Filename"], a["Status"]) for a in response.json()] == [("ct.dcm", "Success")]


def test_the_upload_form_needs_the_csrf_token(strict_browser):
    files = {"files": [upload_file("ct.dcm", dicom_bytes("CT_small.dcm"))]}
    assert strict_browser.post("/ui/upload", files).status_code == 403
    token = csrf_token(strict_browser)
    files = {"files": [upload_file("ct.dcm", dicom_bytes("CT_small.dcm"))], "csrfmiddlewaretoken": token}
    assert strict_browser.post("/ui/upload", files).status_code == 200
    assert Instance.objects.count() == 1


# ---------------------------------------------------------------- limits, and nothing left behind


def incoming_files():
    from explorer import storage

    return sorted(storage.incoming_dir().iterdir())


def test_a_zip_body_beyond_the_expansion_limit_is_refused_with_413(api, settings):
    settings.PHAROS_MAX_ZIP_EXPANSION = 100_000
    archive = zip_of({"ct.dcm": dicom_bytes("CT_small.dcm"), "zeros.dcm": bytes(100_000)})
    response = api.post("/instances", data=archive, content_type="application/zip")
    assert response.status_code == 413
    answer = response.json()
    assert answer["HttpStatus"] == 413 and answer["OrthancError"] == "Payload too large"
    assert "more than PHAROS_MAX_ZIP_EXPANSION (100000 bytes)" in answer["Details"]
    assert Instance.objects.count() == 0 and incoming_files() == []


def test_a_zip_bomb_in_a_multipart_body_is_one_rejected_file(api, settings):
    settings.PHAROS_MAX_ZIP_MEMBERS = 2
    bomb = zip_of({"a": b"1", "b": b"2", "c": b"3"})
    body = (
        b'--B\r\nContent-Disposition: form-data; name="f"; filename="many.zip"\r\n\r\n' + bomb + b"\r\n"
        b'--B\r\nContent-Disposition: form-data; name="f"; filename="ct.dcm"\r\n\r\n' + dicom_bytes("CT_small.dcm")
        + b"\r\n--B--\r\n"
    )  # fmt: skip
    response = api.post("/instances", data=body, content_type="multipart/form-data; boundary=B")
    assert response.status_code == 400
    [many, ct] = response.json()
    assert (many["Filename"], many["HttpStatus"], ct["Status"]) == ("many.zip", 413, "Success")
    assert "more than PHAROS_MAX_ZIP_MEMBERS" in many["Details"]
    assert incoming_files() == []


def test_the_upload_page_lists_a_zip_bomb_as_rejected_and_leaves_no_file(browser, settings):
    settings.PHAROS_MAX_ZIP_EXPANSION = 100_000
    response = browser.post(
        "/ui/upload",
        {
            "files": [
                upload_file("bomb.zip", zip_of({"zeros": bytes(200_000)})),
                upload_file("mr.dcm", dicom_bytes("MR_small.dcm")),
            ]
        },
    )
    statuses = [(a["Filename"], a["Status"]) for a in response.context["answers"]]
    assert statuses == [("bomb.zip", "Failure"), ("mr.dcm", "Success")]
    assert "more than PHAROS_MAX_ZIP_EXPANSION" in response.content.decode()
    assert incoming_files() == []


def test_a_large_body_is_read_in_chunks_and_moved_into_the_storage_area(api, storage_dir):
    data = make_image(1024, bytes(1024 * 1024 * 2))  # 2 MB: more than one chunk
    answer = api.post("/instances", data=data, content_type="application/dicom").json()
    assert answer["Status"] == "Success"
    stored = Instance.objects.get()
    assert stored.file_size == len(data)
    assert incoming_files() == []


def test_refused_files_are_told_in_a_users_words_on_the_page(browser):
    from tests.refused_files import refused_files

    files = refused_files()
    response = browser.post("/ui/upload", {"files": [upload_file(name, data) for name, (data, _) in files.items()]})
    answers = {answer["Filename"]: answer for answer in response.context["answers"]}
    html = response.content.decode()
    for name, (_, reason) in files.items():
        assert answers[name]["Status"] == "Failure" and answers[name]["Details"] == reason, name
        assert escape(reason) in html
    assert "force" not in html


def test_refused_files_are_told_in_the_same_words_by_the_rest_api(browser):
    from tests.refused_files import refused_files

    for name, (data, reason) in refused_files().items():
        response = browser.post("/instances", data, content_type="application/dicom")
        body = response.json()
        assert response.status_code == 400, name
        assert body["Message"] == "Bad file format" and body["OrthancStatus"] == 15
        expected = "The file is empty: a DICOM file or a ZIP archive was expected" if not data else reason
        assert body["Details"] == expected, name
