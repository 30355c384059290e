"""The REST hierarchy: upload, listings, resources, relatives, statistics, delete."""

import json

import pytest

from explorer.dicom import public_id
from tests.conftest import CT_SMALL, CT_SMALL_IDS, VARIED_FILES, dicom_bytes, make_dicom, upload, zip_of

pytestmark = pytest.mark.django_db

PATIENT, STUDY, SERIES, INSTANCE = (CT_SMALL_IDS[k] for k in ("patient", "study", "series", "instance"))


def stored_files(storage_dir):
    return sorted(p for p in storage_dir.rglob("*.dcm"))


def test_upload_answers_like_orthanc(api):
    response = upload(api, dicom_bytes(CT_SMALL))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == {
        "ID": INSTANCE,
        "ParentPatient": PATIENT,
        "ParentSeries": SERIES,
        "ParentStudy": STUDY,
        "Path": f"/instances/{INSTANCE}",
        "Status": "Success",
    }
    again = upload(api, dicom_bytes(CT_SMALL))
    assert again.status_code == 200
    assert again.json()["Status"] == "AlreadyStored"


def test_ids_follow_orthancs_formula(ct):
    assert public_id("1CT1") == PATIENT
    body = ct.get(f"/instances/{INSTANCE}").json()
    study_uid = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
    assert public_id("1CT1", study_uid) == STUDY
    assert body["ParentSeries"] == SERIES


def test_the_file_comes_back_byte_identical(ct):
    response = ct.get(f"/instances/{INSTANCE}/file")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/dicom"
    assert b"".join(response.streaming_content) == dicom_bytes(CT_SMALL)


def test_listings_with_expand_and_paging(ct):
    for level, expected in (("patients", PATIENT), ("studies", STUDY), ("series", SERIES), ("instances", INSTANCE)):
        assert ct.get(f"/{level}").json() == [expected]
        expanded = ct.get(f"/{level}?expand").json()
        assert [item["ID"] for item in expanded] == [expected]
    upload(ct, make_dicom())
    assert len(ct.get("/patients?since=0&limit=1").json()) == 1
    assert len(ct.get("/patients?since=1&limit=5").json()) == 1
    assert ct.get("/patients?since=2&limit=5").json() == []


def test_limit_without_since_is_refused(ct):
    response = ct.get("/patients?limit=1")
    assert response.status_code == 400
    assert response.json()["Message"] == "Bad request"
    assert "since" in response.json()["Details"]


def test_patient_resource(ct):
    body = ct.get(f"/patients/{PATIENT}").json()
    assert body["MainDicomTags"] == {
        "PatientBirthDate": "",
        "PatientID": "1CT1",
        "PatientName": "CompressedSamples^CT1",
        "PatientSex": "O",
    }
    assert body["Studies"] == [STUDY]
    assert body["Type"] == "Patient"
    assert body["IsStable"] is False
    assert len(body["LastUpdate"]) == 15


def test_study_resource(ct):
    body = ct.get(f"/studies/{STUDY}").json()
    assert body["MainDicomTags"] == {
        "AccessionNumber": "",
        "InstitutionName": "JFK IMAGING CENTER",
        "ReferringPhysicianName": "",
        "StudyDate": "20040119",
        "StudyDescription": "e+1",
        "StudyID": "1CT1",
        "StudyInstanceUID": "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322",
        "StudyTime": "072730",
    }
    assert body["ParentPatient"] == PATIENT
    assert body["PatientMainDicomTags"]["PatientID"] == "1CT1"
    assert body["Series"] == [SERIES]
    assert body["Type"] == "Study"


def test_series_resource(ct):
    body = ct.get(f"/series/{SERIES}").json()
    assert body["MainDicomTags"]["ImageOrientationPatient"] == (
        "1.000000\\0.000000\\0.000000\\0.000000\\1.000000\\0.000000"
    )
    assert body["MainDicomTags"]["Modality"] == "CT"
    assert body["ExpectedNumberOfInstances"] is None
    assert body["Status"] == "Unknown"
    assert body["Instances"] == [INSTANCE]
    assert body["ParentStudy"] == STUDY


def test_instance_resource(ct):
    body = ct.get(f"/instances/{INSTANCE}").json()
    assert body["FileSize"] == len(dicom_bytes(CT_SMALL))
    assert body["IndexInSeries"] == 1
    assert body["MainDicomTags"]["ImagePositionPatient"] == "-158.135803\\-179.035797\\-75.699997"
    assert body["MainDicomTags"]["SOPInstanceUID"] == "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"
    assert body["ParentSeries"] == SERIES
    assert body["Type"] == "Instance"


def test_short_main_tags(ct):
    body = ct.get(f"/patients/{PATIENT}?short").json()
    assert body["MainDicomTags"]["0010,0020"] == "1CT1"


def test_relatives(ct):
    assert [s["ID"] for s in ct.get(f"/patients/{PATIENT}/studies").json()] == [STUDY]
    assert [s["ID"] for s in ct.get(f"/patients/{PATIENT}/instances").json()] == [INSTANCE]
    assert [s["ID"] for s in ct.get(f"/studies/{STUDY}/series").json()] == [SERIES]
    assert [s["ID"] for s in ct.get(f"/series/{SERIES}/instances").json()] == [INSTANCE]
    assert ct.get(f"/instances/{INSTANCE}/patient").json()["ID"] == PATIENT
    assert ct.get(f"/instances/{INSTANCE}/study").json()["ID"] == STUDY
    assert ct.get(f"/instances/{INSTANCE}/series").json()["ID"] == SERIES
    assert ct.get(f"/series/{SERIES}/study").json()["ID"] == STUDY
    assert ct.get(f"/studies/{STUDY}/patient").json()["ID"] == PATIENT


def test_statistics(ct):
    size = len(dicom_bytes(CT_SMALL))
    assert ct.get("/statistics").json() == {
        "CountInstances": 1,
        "CountPatients": 1,
        "CountSeries": 1,
        "CountStudies": 1,
        "TotalDiskSize": str(size),
        "TotalDiskSizeMB": 0,
        "TotalUncompressedSize": str(size),
        "TotalUncompressedSizeMB": 0,
    }
    patient = ct.get(f"/patients/{PATIENT}/statistics").json()
    assert (patient["CountStudies"], patient["CountSeries"], patient["CountInstances"]) == (1, 1, 1)
    assert patient["DiskSize"] == str(size)
    assert "CountStudies" not in ct.get(f"/studies/{STUDY}/statistics").json()
    assert "CountInstances" not in ct.get(f"/instances/{INSTANCE}/statistics").json()


def test_unknown_ids_answer_404_with_an_empty_body(ct):
    for url in ("/patients/nope", "/studies/nope/series", "/instances/nope/file", "/instances/nope/tags"):
        response = ct.get(url)
        assert response.status_code == 404, url
        assert response.content == b""


def test_unknown_routes_answer_orthancs_json_error(ct):
    response = ct.get("/nonexistent-route")
    assert response.status_code == 404
    assert response.json()["OrthancStatus"] == 17
    assert response.json()["Uri"] == "/nonexistent-route"


def test_wrong_method_answers_405(ct):
    response = ct.put("/system")
    assert response.status_code == 405
    assert response["Allow"] == "GET"


def test_system(ct):
    body = ct.get("/system").json()
    assert body["DicomAet"] == "PHAROS"
    assert body["DicomPort"] == 4242
    assert body["ApiVersion"] == 16


@pytest.mark.django_db(transaction=True)
def test_delete_cascades_and_removes_files(ct, storage_dir):
    other = make_dicom(PatientID="1CT1", StudyInstanceUID="1.3.6.1.4.1.5962.1.2.1.20040119072730.12322")
    upload(ct, other)
    assert len(stored_files(storage_dir)) == 2
    response = ct.delete(f"/series/{SERIES}")
    assert response.json() == {
        "RemainingAncestor": {"ID": STUDY, "Path": f"/studies/{STUDY}", "Type": "Study"}
    }
    assert len(stored_files(storage_dir)) == 1
    assert ct.delete(f"/patients/{PATIENT}").json() == {"RemainingAncestor": None}
    assert ct.get("/patients").json() == []
    assert stored_files(storage_dir) == []


@pytest.mark.django_db(transaction=True)
def test_deleting_the_last_instance_deletes_the_empty_parents(ct, storage_dir):
    assert ct.delete(f"/instances/{INSTANCE}").json() == {"RemainingAncestor": None}
    assert ct.get("/patients").json() == []
    assert ct.get("/studies").json() == []


def test_changes(ct):
    body = ct.get("/changes").json()
    assert [c["ChangeType"] for c in body["Changes"]] == ["NewInstance", "NewSeries", "NewStudy", "NewPatient"]
    assert body["Done"] is True
    first = body["Changes"][0]
    assert first["Path"] == f"/instances/{INSTANCE}"
    assert first["ResourceType"] == "Instance"
    page = ct.get(f"/changes?since={first['Seq']}&limit=2").json()
    assert [c["ChangeType"] for c in page["Changes"]] == ["NewSeries", "NewStudy"]
    assert page["Done"] is False
    assert page["Last"] == page["Changes"][-1]["Seq"]
    last = ct.get("/changes?last").json()
    assert [c["ChangeType"] for c in last["Changes"]] == ["NewPatient"]


@pytest.mark.parametrize(
    "data, detail",
    [
        (b"", "empty"),
        (b"\x00\x01 not a DICOM file" * 50, "Not a DICOM file"),
        (dicom_bytes(CT_SMALL)[:30000], "cut short: 30 kB of 39 kB"),
        (make_dicom(SOPInstanceUID=None), "No SOP Instance UID"),
    ],
)
def test_bad_uploads_get_a_clear_400_and_leave_nothing(api, storage_dir, data, detail):
    response = upload(api, data)
    assert response.status_code == 400
    body = response.json()
    assert body["OrthancStatus"] == 15
    assert body["Message"] == "Bad file format"
    assert detail in body["Details"]
    assert api.get("/instances").json() == []
    assert stored_files(storage_dir) == []


def test_a_malformed_file_without_meta_header_is_refused_with_400(api):
    # A byte too many before its first element: no data set (Orthanc refuses it too).
    response = upload(api, dicom_bytes("no_meta.dcm"))
    assert response.status_code == 400
    assert response.json()["Details"] == "Not a DICOM file"


def test_a_zip_is_stored_member_by_member(api):
    body = zip_of({"a/ct.dcm": dicom_bytes(CT_SMALL), "b/mr.dcm": dicom_bytes("MR_small.dcm")})
    response = upload(api, body, content_type="application/zip")
    assert response.status_code == 200
    assert [a["Status"] for a in response.json()] == ["Success", "Success"]
    assert len(api.get("/instances").json()) == 2


def test_a_zip_with_one_bad_member_stores_the_others_and_answers_them_as_orthanc(api, storage_dir):
    body = zip_of({"good.dcm": dicom_bytes(CT_SMALL), "bad.dcm": b"garbage" * 100})
    response = upload(api, body, content_type="application/zip")
    assert response.status_code == 200
    [good] = response.json()  # tests/test_api_instances.py: what Orthanc answers, and ?report-failures
    assert good["Status"] == "Success"
    assert api.get("/instances").json() == [INSTANCE]
    assert len(stored_files(storage_dir)) == 1


def test_a_multipart_form_upload(api):
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = [
        SimpleUploadedFile("ct.dcm", dicom_bytes(CT_SMALL)),
        SimpleUploadedFile("mr.dcm", dicom_bytes("MR_small.dcm")),
    ]
    response = api.post("/instances", {"files": files})
    assert response.status_code == 200
    assert [a["Filename"] for a in response.json()] == ["ct.dcm", "mr.dcm"]


@pytest.mark.parametrize("name", VARIED_FILES)
def test_many_transfer_syntaxes_round_trip(api, name):
    data = dicom_bytes(name)
    answer = upload(api, data).json()
    assert answer["Status"] == "Success"
    response = api.get(f"/instances/{answer['ID']}/file")
    assert b"".join(response.streaming_content) == data


def test_tags_in_the_three_formats(ct):
    full = ct.get(f"/instances/{INSTANCE}/tags").json()
    assert full["0010,0010"] == {"Name": "PatientName", "Type": "String", "Value": "CompressedSamples^CT1"}
    assert full["7fe0,0010"]["Type"] == "Null"
    simple = ct.get(f"/instances/{INSTANCE}/tags?simplify").json()
    assert simple["PatientName"] == "CompressedSamples^CT1"
    assert ct.get(f"/instances/{INSTANCE}/simplified-tags").json() == simple
    short = ct.get(f"/instances/{INSTANCE}/tags?short").json()
    assert short["0010,0020"] == "1CT1"


def test_content_and_header(ct):
    assert ct.get(f"/instances/{INSTANCE}/content/0010-0010").content == b"CompressedSamples^CT1"
    pixels = ct.get(f"/instances/{INSTANCE}/content/7fe0-0010")
    assert len(pixels.content) == 128 * 128 * 2
    sequence = ct.get(f"/instances/{INSTANCE}/content/0010-1002").json()
    assert sequence == ["0", "1"]
    header = ct.get(f"/instances/{INSTANCE}/header?simplify").json()
    assert header["TransferSyntaxUID"] == "1.2.840.10008.1.2.1"
    assert ct.get(f"/instances/{INSTANCE}/content/9999-9999").status_code == 404


def test_json_layout_is_orthancs(ct):
    text = ct.get("/system").content.decode()
    assert text.startswith('{\n  "ApiVersion": 16')
    assert json.loads(text)["Name"] == "Pharos"


def test_a_broken_zip_in_a_multipart_upload_is_one_rejected_entry(api):
    from django.core.files.uploadedfile import SimpleUploadedFile

    files = [
        SimpleUploadedFile("broken.zip", b"PK\x03\x04 this is no archive"),
        SimpleUploadedFile("ct.dcm", dicom_bytes(CT_SMALL)),
    ]
    response = api.post("/instances", {"files": files})
    assert response.status_code == 400
    broken, ct = response.json()
    assert (broken["Filename"], broken["Status"]) == ("broken.zip", "Failure")
    assert ct["Status"] == "Success"
