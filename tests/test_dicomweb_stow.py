"""STOW-RS (explorer/dicomweb/stow.py): dicomweb-client storing into a running Pharos, and the
answers to each kind of part, body and failure, in the shape a real Orthanc 1.10.1 answers."""

import io
import os
import threading
import uuid

import pydicom
import pytest
from dicomweb_client.api import DICOMwebClient
from django.db import connection
from django.test import Client

from explorer import rights
from explorer.dicomweb import stow as stow_module
from explorer.models import Instance
from tests.conftest import CT_SMALL, basic_header, dicom_bytes, make_dicom, make_image
from tests.outages import private_postgres, small_tmpfs
from tests.pharos_server import Server, own_database, request
from tests.reference_orthanc import ReferenceOrthanc

CT_STUDY = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
CT_SERIES = "1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322"
CT_SOP = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"
MR_SOP = "1.3.6.1.4.1.5962.1.1.4.1.1.20040826185059.5457"
CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
MR_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.4"
PASSWORD = "stow-secret"

REFERENCED, FAILED, RETRIEVE_URL, FAILURE_REASON = "00081199", "00081198", "00081190", "00081197"


def related(parts, kind='type="application/dicom"', part_type="application/dicom"):
    """(body, Content-Type) of a multipart/related body of these parts."""
    boundary = uuid.uuid4().hex
    body = b""
    for part in parts:
        body += f"--{boundary}\r\n".encode()
        if part_type:
            body += f"Content-Type: {part_type}\r\n".encode()
        body += b"\r\n" + part + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return body, f"multipart/related; {kind}; boundary={boundary}"


def stow(api, parts, path="/dicom-web/studies", **options):
    body, content_type = related(parts, **options)
    return api.post(path, data=body, content_type=content_type)


def items(answer, tag):
    return answer[tag].get("Value", [])


def values(item):
    return {tag: element.get("Value", [None])[0] for tag, element in item.items()}


def with_uids(data, **tags):
    """A copy of a DICOM file with these tags changed (or removed with None)."""
    dataset = pydicom.dcmread(io.BytesIO(data))
    for keyword, value in tags.items():
        if value is None:
            delattr(dataset, keyword)
        else:
            setattr(dataset, keyword, value)
    out = io.BytesIO()
    dataset.save_as(out)
    return out.getvalue()


# --- a real client against a running server -----------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with own_database("pharos_stow") as database_url:
        server = Server(tmp_path_factory.mktemp("stow") / "data", PASSWORD, database_url)
        yield server
        assert server.stop() == 0


def test_dicomweb_client_stores_a_series_beyond_a_megabyte(server):
    """dicomweb-client sends a body over 1 MB chunked (no Content-Length): every instance is
    stored, answered, and then found."""
    study, series = pydicom.uid.generate_uid(), pydicom.uid.generate_uid()
    pixels = os.urandom(256 * 256 * 2)
    datasets = [
        pydicom.dcmread(
            io.BytesIO(make_image(256, pixels, StudyInstanceUID=study, SeriesInstanceUID=series, InstanceNumber=number))
        )
        for number in range(1, 21)
    ]
    client = DICOMwebClient(f"http://127.0.0.1:{server.port}/dicom-web")
    client._session.auth = ("admin", PASSWORD)
    answer = client.store_instances(datasets)
    stored = [item.ReferencedSOPInstanceUID for item in answer.ReferencedSOPSequence]
    assert sorted(stored) == sorted(d.SOPInstanceUID for d in datasets)
    assert answer.RetrieveURL == f"http://127.0.0.1:{server.port}/dicom-web/studies/{study}"
    assert "FailedSOPSequence" not in answer or not answer.FailedSOPSequence
    # Sent again to the study's own URL: stored already, a success.
    again = client.store_instances(datasets[:2], study_instance_uid=study)
    assert len(again.ReferencedSOPSequence) == 2


def test_a_database_outage_is_503_and_the_body_sent_again_is_stored(tmp_path):
    parts = [make_dicom() for _ in range(3)]
    body, content_type = related(parts)
    with private_postgres() as database:
        # One web worker: the credentials it remembers are those every request meets.
        server = Server(tmp_path / "data", PASSWORD, database_url=database.url, PHAROS_HTTP_WORKERS="1")
        try:
            post = lambda: request(server.port, "/dicom-web/studies", PASSWORD, "POST", body, content_type)  # noqa: E731
            assert post()[0] == 200
            database.stop()
            status, headers, _ = post()
            assert status == 503 and headers["Retry-After"]
            database.start()
            # The first request after the restart is served (a kept connection is checked).
            status, _, answer = post()
            assert status == 200
            assert len(pydicom.Dataset.from_json(answer.decode()).ReferencedSOPSequence) == 3
        finally:
            assert server.stop() == 0


# --- answers, through the Django test client ------------------------------------------------


@pytest.mark.django_db
def test_stored_parts_are_answered_as_orthanc_answers(api):
    response = stow(api, [dicom_bytes(CT_SMALL), dicom_bytes("MR_small.dcm")])
    assert response.status_code == 200
    assert response["Content-Type"] == "application/dicom+json"  # exactly: dicomweb-client reads no other
    answer = response.json()
    assert list(answer) == ["00080005", RETRIEVE_URL, FAILED, REFERENCED]
    assert answer[FAILED] == {"vr": "SQ"}
    assert answer[RETRIEVE_URL] == {"vr": "UR", "Value": [f"http://testserver/dicom-web/studies/{CT_STUDY}"]}
    first, second = items(answer, REFERENCED)
    assert values(first) == {
        "00081150": CT_IMAGE_STORAGE,
        "00081155": CT_SOP,
        RETRIEVE_URL: f"http://testserver/dicom-web/studies/{CT_STUDY}/series/{CT_SERIES}/instances/{CT_SOP}",
    }
    assert values(second)["00081155"] == MR_SOP and values(second)["00081150"] == MR_IMAGE_STORAGE
    stored = Instance.objects.get(sop_instance_uid=CT_SOP)
    assert stored.origin == "RestApi"
    # Stored again: a success, as Orthanc answers an instance it has.
    assert stow(api, [dicom_bytes(CT_SMALL)]).status_code == 200
    assert Instance.objects.count() == 2


@pytest.mark.django_db
def test_an_instance_of_another_study_than_the_url_names_is_refused(api):
    response = stow(api, [dicom_bytes(CT_SMALL), dicom_bytes("MR_small.dcm")], path=f"/dicom-web/studies/{CT_STUDY}")
    assert response.status_code == 202  # some stored, some refused
    answer = response.json()
    (refused,) = items(answer, FAILED)
    assert values(refused) == {"00081150": MR_IMAGE_STORAGE, "00081155": MR_SOP, FAILURE_REASON: 0x0110}
    assert [values(item)["00081155"] for item in items(answer, REFERENCED)] == [CT_SOP]
    assert not Instance.objects.filter(sop_instance_uid=MR_SOP).exists()
    # None stored: 409, as Orthanc.
    response = stow(api, [dicom_bytes("MR_small.dcm")], path=f"/dicom-web/studies/{CT_STUDY}")
    assert response.status_code == 409
    assert response.json()[REFERENCED] == {"vr": "SQ"} and RETRIEVE_URL not in response.json()


@pytest.mark.django_db
def test_a_part_that_is_no_dicom_file_fails_and_the_others_are_stored(api):
    no_study = with_uids(dicom_bytes(CT_SMALL), StudyInstanceUID=None, SOPInstanceUID="1.2.3.4.5")
    response = stow(api, [b"not a DICOM file", dicom_bytes(CT_SMALL), no_study])
    assert response.status_code == 202
    answer = response.json()
    # Listed when it can be named, as Orthanc lists it: the part without a study can.
    (failed,) = items(answer, FAILED)
    assert values(failed) == {"00081150": CT_IMAGE_STORAGE, "00081155": "1.2.3.4.5", FAILURE_REASON: 0xC000}
    assert len(items(answer, REFERENCED)) == 1
    # Nothing understood: 400, as Orthanc.
    response = stow(api, [b"not a DICOM file"])
    assert response.status_code == 400 and response.json()[FAILED] == {"vr": "SQ"}


@pytest.fixture
def helper_connections_closed():
    """The helper threads keep their database connections from request to request, as the
    request threads do; closed after the test, or its database could not be dropped. One task
    per thread: each waits for the others, so no thread takes two."""
    yield
    threads = stow_module.MAXIMUM_HELPERS
    barrier = threading.Barrier(threads)

    def close():
        connection.close()
        barrier.wait(timeout=30)

    for future in [stow_module._helpers.submit(close) for _ in range(threads)]:
        future.result(timeout=60)


@pytest.mark.django_db(transaction=True)
def test_parts_stored_on_several_threads_are_answered_in_their_order(api, helper_connections_closed):
    """Outside a transaction (as in a server) the parts of a body are stored by helper threads
    beside the request's: the answer still follows the parts' order."""
    study = pydicom.uid.generate_uid()
    parts = [make_dicom(StudyInstanceUID=study, InstanceNumber=number) for number in range(12)]
    parts[5] = b"not a DICOM file"
    parts[7] = with_uids(dicom_bytes(CT_SMALL), SOPInstanceUID="1.2.3.7")
    response = stow(api, parts, path=f"/dicom-web/studies/{study}")
    assert response.status_code == 202
    answer = response.json()
    expected = [pydicom.dcmread(io.BytesIO(part)).SOPInstanceUID for i, part in enumerate(parts) if i not in (5, 7)]
    assert [values(item)["00081155"] for item in items(answer, REFERENCED)] == expected
    assert [values(item)["00081155"] for item in items(answer, FAILED)] == ["1.2.3.7"]
    assert Instance.objects.count() == 10


@pytest.mark.django_db
def test_a_body_that_is_not_dicom_parts_is_415_with_a_message(api):
    data = dicom_bytes(CT_SMALL)
    response = api.post("/dicom-web/studies", data=data, content_type="application/dicom")
    assert response.status_code == 415 and "multipart/related" in response.json()["Details"]
    response = stow(api, [data], kind='type="application/dicom+json"')
    assert response.status_code == 415 and "application/dicom+json" in response.json()["Details"]
    response = stow(api, [data], part_type="application/octet-stream")
    assert response.status_code == 415 and "application/octet-stream" in response.json()["Details"]
    response = api.post("/dicom-web/studies", data=data, content_type='multipart/related; type="application/dicom"')
    assert response.status_code == 400 and "boundary" in response.json()["Details"]
    assert stow(api, [data], path="/dicom-web/studies/not-a-uid").status_code == 400
    # A part that names no type is taken as the body's type names it.
    assert stow(api, [data], part_type=None).status_code == 200
    assert not Instance.objects.exclude(sop_instance_uid=CT_SOP).exists()


@pytest.mark.django_db
def test_a_viewer_may_not_store(db, django_user_model):
    viewer = django_user_model.objects.create_user("vera", password="viewer-password")
    viewer.groups.add(rights.group_named(rights.VIEWER))
    client = Client(HTTP_AUTHORIZATION=basic_header("vera", "viewer-password"))
    assert stow(client, [dicom_bytes(CT_SMALL)]).status_code == 403
    assert stow(Client(), [dicom_bytes(CT_SMALL)]).status_code == 401
    assert not Instance.objects.exists()


@pytest.mark.django_db
def test_a_full_disk_is_503_with_what_was_stored(api, settings):
    small = [make_image(550, os.urandom(550 * 550 * 2)) for _ in range(3)]
    with small_tmpfs("4m") as disk:
        settings.STORAGE_DIR = disk / "storage"
        settings.STORAGE_DIR.mkdir()
        free = os.statvfs(disk)
        # Room for the first instance (received, then moved into place), not for the second.
        (disk / "ballast").write_bytes(bytes(max(0, free.f_bavail * free.f_frsize - 1000 * 1024)))
        response = stow(api, small)
        assert response.status_code == 503 and response["Retry-After"]
        answer = response.json()
        assert len(items(answer, REFERENCED)) == 1
        assert [values(item)[FAILURE_REASON] for item in items(answer, FAILED)] == [0xA700]
        assert Instance.objects.count() == 1
        assert not list((settings.STORAGE_DIR / "incoming").iterdir())


# --- beside a real Orthanc ------------------------------------------------------------------


@pytest.mark.django_db
def test_the_answer_has_orthancs_shape_and_statuses(api, tmp_path):
    ct, mr = dicom_bytes(CT_SMALL), dicom_bytes("MR_small.dcm")
    cases = [
        ("/dicom-web/studies", [ct, mr]),
        (f"/dicom-web/studies/{CT_STUDY}", [mr]),
        ("/dicom-web/studies", [b"garbage"]),
    ]
    with ReferenceOrthanc(tmp_path / "orthanc") as orthanc:
        for path, parts in cases:
            body, content_type = related(parts)
            status, headers, raw = orthanc.request(path, "POST", body, {"Content-Type": content_type})
            theirs = pydicom.Dataset.from_json(raw.decode())
            response = api.post(path, data=body, content_type=content_type)
            ours = pydicom.Dataset.from_json(response.content.decode())
            assert response.status_code == status, path
            for sequence in ("ReferencedSOPSequence", "FailedSOPSequence"):
                assert _without_urls(ours.get(sequence)) == _without_urls(theirs.get(sequence)), (path, sequence)
            assert ("RetrieveURL" in ours) == ("RetrieveURL" in theirs)
            assert ours.SpecificCharacterSet == theirs.SpecificCharacterSet


def _without_urls(sequence):
    return [
        (item.get("ReferencedSOPClassUID"), item.get("ReferencedSOPInstanceUID"), item.get("FailureReason"))
        for item in sequence or []
    ]
