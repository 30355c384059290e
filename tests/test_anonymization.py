"""explorer/anonymization.py and the anonymization side of explorer/modification.py: the PS3.15
basic profile as Orthanc 1.10.1 applies it (compared path by path with Orthanc's answers on the
same files, tests/orthanc_modification.json), the consistency of new UIDs across the instances
of a resource, the shared Anonymized<N> counter, and POST /instances/{id}/anonymize."""

import io
import pickle

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from explorer import anonymization, levels
from explorer.models import Instance
from explorer.modification import Modification
from tests.conftest import CT_SMALL_IDS, dicom_bytes, upload
from tests.modification_cases import cases, ct, expected, outcome

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("case", cases("anonymize"))
def test_an_anonymization_changes_what_orthanc_changes(case):
    assert outcome(case) == expected(case)


def referencing(dataset, sop_uid):
    item = Dataset()
    item.ReferencedSOPClassUID = dataset.SOPClassUID
    item.ReferencedSOPInstanceUID = sop_uid
    return Sequence([item])


def test_references_between_instances_follow_their_new_uids():
    first = ct()
    second = ct(SOPInstanceUID="1.2.3.4.5")
    second.ReferencedImageSequence = referencing(second, first.SOPInstanceUID)
    old = (first.StudyInstanceUID, first.SeriesInstanceUID, first.FrameOfReferenceUID)
    modification = Modification.from_anonymize_body(levels.STUDY, {}, patient_name="Anonymized9")
    modification.apply(first)
    modification.apply(second)
    assert second.ReferencedImageSequence[0].ReferencedSOPInstanceUID == first.SOPInstanceUID
    assert first.StudyInstanceUID == second.StudyInstanceUID != old[0]
    assert first.SeriesInstanceUID == second.SeriesInstanceUID != old[1]
    assert first.FrameOfReferenceUID == second.FrameOfReferenceUID != old[2]
    assert first.PatientID == second.PatientID and len(first.PatientID) == 36
    assert str(first.PatientName) == "Anonymized9"


def test_an_rt_structure_set_reference_to_a_study_becomes_the_new_study_uid():
    dataset = pydicom.dcmread(io.BytesIO(dicom_bytes("rtstruct.dcm")), force=True)
    reference = dataset.ReferencedFrameOfReferenceSequence[0].RTReferencedStudySequence[0]
    reference.ReferencedSOPInstanceUID = dataset.StudyInstanceUID
    modification = Modification.from_anonymize_body(levels.INSTANCE, {}, patient_name="Anonymized1")
    modification.apply(dataset)
    assert reference.ReferencedSOPInstanceUID == dataset.StudyInstanceUID


def test_the_profile_marks_the_data_set():
    dataset = ct()
    Modification.from_anonymize_body(levels.SERIES, {"DicomVersion": "2017c"}, patient_name="Anonymized2").apply(
        dataset
    )
    assert dataset.PatientIdentityRemoved == "YES"
    assert dataset.DeidentificationMethod == "Pharos - PS 3.15-2017c Table E.1-1 Basic Profile"


def test_a_body_that_alters_the_profile_drops_the_method():
    dataset = ct()
    body = {"Keep": ["StudyDescription"]}
    Modification.from_anonymize_body(levels.SERIES, body, patient_name="Anonymized2").apply(dataset)
    assert dataset.PatientIdentityRemoved == "YES" and "DeidentificationMethod" not in dataset
    assert dataset.StudyDescription == ct().StudyDescription


def test_a_patient_name_given_by_the_body_takes_no_number():
    before = anonymization.next_patient_name()
    modification = Modification.from_anonymize_body(levels.STUDY, {"Replace": {"PatientName": "Someone"}})
    dataset = ct()
    modification.apply(dataset)
    assert str(dataset.PatientName) == "Someone"
    assert anonymization.next_patient_name() == f"Anonymized{int(before.removeprefix('Anonymized')) + 1}"


def test_the_counter_counts_for_every_anonymization():
    first = anonymization.next_patient_name()
    second = Modification.from_anonymize_body(levels.STUDY, {})
    dataset = ct()
    second.apply(dataset)
    assert first == "Anonymized1"
    assert str(dataset.PatientName) == "Anonymized2"


def test_anonymization_is_set_for_the_job():
    modification = Modification.from_anonymize_body(levels.SERIES, {"KeepSource": False}, patient_name="A")
    assert modification.is_anonymization and modification.level is levels.SERIES
    assert not modification.keep_source


# ---------------------------------------------------------------- POST /instances/{id}/anonymize


def test_the_instance_route_answers_the_anonymized_file_and_stores_nothing(api):
    upload(api, dicom_bytes("CT_small.dcm"))
    response = api.post(f"/instances/{CT_SMALL_IDS['instance']}/anonymize", {}, content_type="application/json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/dicom"
    anonymized = pydicom.dcmread(io.BytesIO(response.content))
    assert str(anonymized.PatientName) == "Anonymized1"
    assert anonymized.PatientIdentityRemoved == "YES"
    assert "InstitutionName" not in anonymized and anonymized.StudyDate == ""
    assert anonymized.file_meta.MediaStorageSOPInstanceUID == anonymized.SOPInstanceUID
    assert Instance.objects.count() == 1


def test_an_unknown_instance_does_not_move_the_counter(api):
    response = api.post("/instances/nope/anonymize", {}, content_type="application/json")
    assert response.status_code == 404
    assert anonymization.next_patient_name() == "Anonymized1"


def test_an_unknown_version_is_orthancs_400(api):
    upload(api, dicom_bytes("CT_small.dcm"))
    body = {"DicomVersion": "2000"}
    response = api.post(f"/instances/{CT_SMALL_IDS['instance']}/anonymize", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["Details"] == "Unknown specific version of the DICOM standard: 2000"


def test_a_modification_handed_to_a_worker_keeps_its_uid_map():
    first, second = ct(), ct(SOPInstanceUID="1.2.3.4.5")
    modification = Modification.from_anonymize_body(levels.SERIES, {}, patient_name="Anonymized3")
    modification.apply(first)
    copy = pickle.loads(pickle.dumps(modification))
    copy.apply(second)
    assert (first.StudyInstanceUID, first.PatientID) == (second.StudyInstanceUID, second.PatientID)
    assert copy.level == levels.SERIES and copy.is_anonymization


def test_the_patient_name_is_told_to_parse_the_body_again():
    modification = Modification.from_anonymize_body(levels.STUDY, {})
    again = Modification.from_anonymize_body(levels.STUDY, {}, patient_name=modification.patient_name)
    assert modification.patient_name == again.patient_name == "Anonymized1"
    assert Modification.from_modify_body(levels.STUDY, {}).patient_name is None
