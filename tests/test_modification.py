"""explorer/modification.py: what /modify does to a data set, and the bodies it refuses, each
compared with Orthanc 1.10.1's answer on the same file and body (tests/orthanc_modification.json);
and POST /instances/{id}/modify, which answers the modified file and stores nothing."""

import io
from concurrent.futures import ThreadPoolExecutor

import pydicom
import pytest

from explorer import levels
from explorer.errors import PharosError
from explorer.models import AuditEvent, Instance
from explorer.modification import Modification
from tests.conftest import CT_SMALL_IDS, dicom_bytes, upload
from tests.modification_cases import ORTHANC, cases, ct, expected, outcome

pytestmark = pytest.mark.django_db
INSTANCE = CT_SMALL_IDS["instance"]
LEVELS = {"instances": None, "series": levels.SERIES, "studies": levels.STUDY, "patients": levels.PATIENT}


@pytest.mark.parametrize("case", cases("modify"))
def test_a_modification_changes_what_orthanc_changes(case):
    assert outcome(case) == expected(case)


def test_the_identifiers_below_the_modified_level_are_new_and_shared_by_the_resource():
    first, second = ct(), ct(SOPInstanceUID="1.2.3.4.5")
    study, series = first.StudyInstanceUID, first.SeriesInstanceUID
    modification = Modification.from_modify_body(levels.SERIES, {"Replace": {"SeriesDescription": "new"}})
    modification.apply(first)
    modification.apply(second)
    assert first.StudyInstanceUID == second.StudyInstanceUID == study
    assert first.SeriesInstanceUID == second.SeriesInstanceUID != series
    assert first.SOPInstanceUID != second.SOPInstanceUID
    assert first.file_meta.MediaStorageSOPInstanceUID == first.SOPInstanceUID
    assert second.SeriesDescription == "new"


@pytest.mark.parametrize(
    "level, changed",
    [
        (levels.PATIENT, {"StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"}),
        (levels.STUDY, {"StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"}),
        (levels.SERIES, {"SeriesInstanceUID", "SOPInstanceUID"}),
        (levels.INSTANCE, {"SOPInstanceUID"}),
    ],
)
def test_each_level_renews_the_uids_below_it(level, changed):
    dataset = ct()
    before = {k: dataset[k].value for k in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")}
    body = {"Replace": {"PatientID": "other"}, "Force": True} if level is levels.PATIENT else {}
    Modification.from_modify_body(level, body).apply(dataset)
    assert {k for k, v in before.items() if dataset[k].value != v} == changed


def test_keep_holds_an_identifier():
    dataset = ct()
    uid = dataset.SOPInstanceUID
    Modification.from_modify_body(levels.INSTANCE, {"Keep": ["SOPInstanceUID"], "Force": True}).apply(dataset)
    assert dataset.SOPInstanceUID == uid


def test_the_pixel_data_is_left_as_it_was():
    dataset = ct()
    pixels = dataset.get_item(0x7FE00010).value
    Modification.from_modify_body(levels.STUDY, {"Replace": {"PatientName": "A^B"}}).apply(dataset)
    assert dataset.get_item(0x7FE00010).value is pixels


def test_the_job_options_are_read():
    body = {"KeepSource": False, "Transcode": "1.2.840.10008.1.2.4.80", "Asynchronous": True, "Priority": 3}
    modification = Modification.from_modify_body(levels.STUDY, {**body, "Permissive": True})
    assert not modification.keep_source and modification.asynchronous and modification.permissive
    assert (modification.transcode, modification.priority, modification.level) == (body["Transcode"], 3, levels.STUDY)
    assert not modification.is_anonymization
    assert not Modification.from_modify_body(levels.STUDY, {"Asynchronous": True, "Synchronous": True}).asynchronous


def _refusal(case):
    try:
        if case["op"] == "anonymize":
            Modification.from_anonymize_body(LEVELS[case["level"]], case["body"], patient_name="Anonymized1")
        else:
            Modification.from_modify_body(LEVELS[case["level"]], case["body"])
    except PharosError as error:
        return error
    return None


@pytest.mark.parametrize("case", ORTHANC["errors"], ids=lambda c: f"{c['level']}-{c['op']}-{c['body']}")
def test_a_bad_body_is_refused_as_orthanc_refuses_it(case):
    error = _refusal(case)
    assert error is not None
    answer = case["answer"]
    if answer["OrthancStatus"] == 27:
        # An unknown tag name: Orthanc answers 500; it is the client's mistake, so 400 here.
        assert (error.http_status, error.orthanc_status) == (400, 27)
        return
    assert (error.http_status, error.orthanc_status, error.orthanc_error) == (
        answer["HttpStatus"],
        answer["OrthancStatus"],
        answer["OrthancError"],
    )
    if "Details" in answer:
        assert error.details == answer["Details"]


# ---------------------------------------------------------------- POST /instances/{id}/modify


def test_the_instance_route_answers_the_modified_file_and_stores_nothing(api):
    upload(api, dicom_bytes("CT_small.dcm"))
    response = api.post(
        f"/instances/{INSTANCE}/modify",
        {"Replace": {"PatientName": "Doe^Jane"}, "Remove": ["StationName"]},
        content_type="application/json",
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/dicom"
    modified = pydicom.dcmread(io.BytesIO(response.content))
    original = pydicom.dcmread(io.BytesIO(dicom_bytes("CT_small.dcm")))
    assert str(modified.PatientName) == "Doe^Jane" and "StationName" not in modified
    assert modified.SeriesInstanceUID == original.SeriesInstanceUID
    assert modified.SOPInstanceUID != original.SOPInstanceUID
    assert modified.file_meta.MediaStorageSOPInstanceUID == modified.SOPInstanceUID
    assert Instance.objects.count() == 1
    assert AuditEvent.objects.get(action="modify").detail.endswith(": modified copy downloaded")


def test_the_instance_route_with_patient_id_renews_every_uid(api):
    upload(api, dicom_bytes("CT_small.dcm"))
    body = {"Replace": {"PatientID": "other"}, "Force": True}
    response = api.post(f"/instances/{INSTANCE}/modify", body, content_type="application/json")
    modified = pydicom.dcmread(io.BytesIO(response.content))
    original = pydicom.dcmread(io.BytesIO(dicom_bytes("CT_small.dcm")))
    assert modified.PatientID == "other"
    assert modified.StudyInstanceUID != original.StudyInstanceUID


@pytest.mark.parametrize(
    "body, status, details",
    [
        (
            {"Replace": {"StudyInstanceUID": "1.2"}},
            400,
            'Marking tag "StudyInstanceUID" as to be replaced requires the "Force" option to be set to true',
        ),
        (None, 400, None),
        ({"Force": 1}, 400, 'Member "Force" should be a Boolean value'),
    ],
)
def test_the_instance_route_answers_orthancs_errors(api, body, status, details):
    upload(api, dicom_bytes("CT_small.dcm"))
    data = "" if body is None else body
    response = api.post(f"/instances/{INSTANCE}/modify", data, content_type="application/json")
    assert response.status_code == status
    assert response.json().get("Details") == details


def test_an_unknown_instance_is_a_json_404(api):
    response = api.post("/instances/nope/modify", {}, content_type="application/json")
    assert response.status_code == 404
    assert response.json()["Message"] == "Unknown resource"


def test_transcode_answers_the_file_in_the_syntax_asked(api):
    upload(api, dicom_bytes("CT_small.dcm"))
    body = {"Replace": {"PatientName": "Doe^Jane"}, "Transcode": "1.2.840.10008.1.2.4.80"}
    response = api.post(f"/instances/{INSTANCE}/modify", body, content_type="application/json")
    assert response.status_code == 200
    modified = pydicom.dcmread(io.BytesIO(response.content))
    original = pydicom.dcmread(io.BytesIO(dicom_bytes("CT_small.dcm")))
    assert modified.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.80"
    assert (modified.pixel_array == original.pixel_array).all()
    assert str(modified.PatientName) == "Doe^Jane"


def test_a_syntax_nothing_writes_is_taken_as_orthanc_takes_it():
    # Orthanc accepts the body; each instance then keeps its syntax (explorer/resource_changes.py).
    modification = Modification.from_modify_body(levels.STUDY, {"Transcode": "1.2.840.10008.1.2.4.100"})
    assert modification.transcode == "1.2.840.10008.1.2.4.100"


def siemens():
    return pydicom.dcmread(io.BytesIO(dicom_bytes("MR-SIEMENS-DICOM-WithOverlays.dcm")))


def test_a_replaced_private_tag_keeps_its_value_representation():
    # Orthanc 1.10.1 writes it as UN holding the text ("abc\0"); its VR is kept here.
    dataset = siemens()
    Modification.from_modify_body(levels.INSTANCE, {"Replace": {"0029,1031": "abc", "0029,1032": "12"}}).apply(dataset)
    assert (dataset[0x00291031].VR, dataset[0x00291031].value) == ("LO", "abc")
    assert (dataset[0x00291032].VR, dataset[0x00291032].value) == ("UL", 12)


def test_a_new_private_tag_unknown_to_the_dictionary_is_un():
    dataset = siemens()
    body = {"Replace": {"0031,1020": "new"}, "PrivateCreator": "Pharos"}
    Modification.from_modify_body(levels.INSTANCE, body).apply(dataset)
    assert (dataset[0x00311020].VR, dataset[0x00311020].value) == ("UN", b"new\0")


def test_removing_private_tags_spares_those_kept():
    dataset = siemens()
    body = {"RemovePrivateTags": True, "Keep": ["0029,1031"]}
    Modification.from_modify_body(levels.INSTANCE, body).apply(dataset)
    assert [tag for tag in dataset.keys() if tag.group & 1] == [0x00291031]


def test_a_path_into_a_sequence_changes_every_item_it_names():
    dataset = ct()
    item = pydicom.Dataset()
    item.ReferencedSOPInstanceUID = "1.2.3"
    dataset.ReferencedImageSequence = pydicom.Sequence([item, pydicom.Dataset()])
    body = {
        "Replace": {"ReferencedImageSequence[*].ReferencedSOPClassUID": "1.2.4"},
        "Remove": ["ReferencedImageSequence[0].ReferencedSOPInstanceUID"],
    }
    Modification.from_modify_body(levels.INSTANCE, body).apply(dataset)
    assert [i.ReferencedSOPClassUID for i in dataset.ReferencedImageSequence] == ["1.2.4", "1.2.4"]
    assert "ReferencedSOPInstanceUID" not in dataset.ReferencedImageSequence[0]


def test_threads_applying_one_modification_share_its_new_uids():
    datasets = [ct(SOPInstanceUID=f"1.2.3.{n}") for n in range(40)]
    modification = Modification.from_modify_body(levels.STUDY, {})
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(modification.apply, datasets))
    assert len({d.StudyInstanceUID for d in datasets}) == len({d.SeriesInstanceUID for d in datasets}) == 1
    assert len({d.SOPInstanceUID for d in datasets}) == 40
