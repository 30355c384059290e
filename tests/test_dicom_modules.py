"""GET /{level}/{id}/module, /studies/{id}/module-patient (explorer/dicom_modules.py) and
/{level}/{id}/shared-tags: the answers Orthanc 1.10.1 gives on the same files."""

import pytest
from pydicom.uid import generate_uid

from tests.conftest import CT_SMALL_IDS, make_dicom, upload

pytestmark = pytest.mark.django_db

PATIENT, STUDY, SERIES, INSTANCE = (CT_SMALL_IDS[k] for k in ("patient", "study", "series", "instance"))
CT_PATIENT_MODULE = {
    "OtherPatientIDsSequence": [
        {"PatientID": "ABCD1234", "TypeOfPatientID": "TEXT"},
        {"PatientID": "1234ABCD", "TypeOfPatientID": "TEXT"},
    ],
    "PatientBirthDate": "",
    "PatientID": "1CT1",
    "PatientName": "CompressedSamples^CT1",
    "PatientSex": "O",
}


def test_each_level_answers_its_dicom_module(ct):
    assert ct.get(f"/patients/{PATIENT}/module?simplify").json() == CT_PATIENT_MODULE
    assert ct.get(f"/studies/{STUDY}/module-patient?simplify").json() == CT_PATIENT_MODULE
    assert ct.get(f"/studies/{STUDY}/module?simplify").json() == {
        "AccessionNumber": "", "ReferringPhysicianName": "", "StudyDate": "20040119", "StudyDescription": "e+1",
        "StudyID": "1CT1", "StudyInstanceUID": "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322", "StudyTime": "072730",
    }  # fmt: skip
    assert ct.get(f"/series/{SERIES}/module?short").json() == {
        "0008,0021": "19970430", "0008,0031": "112749", "0008,0060": "CT", "0018,5100": "FFS",
        "0020,000e": "1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322", "0020,0011": "1", "0020,0060": "",
    }  # fmt: skip
    instance = ct.get(f"/instances/{INSTANCE}/module").json()
    assert instance["0008,0005"] == {"Name": "SpecificCharacterSet", "Type": "String", "Value": "ISO_IR 100"}
    assert len(instance) == 8


def test_shared_tags_keep_the_text_values_every_instance_has(api):
    uids = {"StudyInstanceUID": generate_uid(), "SeriesInstanceUID": generate_uid()}
    first = upload(api, make_dicom(InstanceNumber=1, StationName="CT1", **uids)).json()
    upload(api, make_dicom(InstanceNumber=2, StationName="CT1", BodyPartExamined="HEAD", **uids))
    shared = api.get(f"/series/{first['ParentSeries']}/shared-tags?simplify").json()
    assert shared == {
        "Modality": "OT",
        "PatientID": "PHAROS-TEST",
        "PatientName": "Test^Patient",
        "SOPClassUID": "1.2.840.10008.5.1.4.1.1.7",
        "SeriesInstanceUID": uids["SeriesInstanceUID"],
        "StationName": "CT1",
        "StudyDate": "20240101",
        "StudyInstanceUID": uids["StudyInstanceUID"],
    }
    full = api.get(f"/studies/{first['ParentStudy']}/shared-tags").json()
    assert full["0008,1010"] == {"Name": "StationName", "Type": "String", "Value": "CT1"}


def test_shared_tags_leave_out_sequences_and_binary_values(ct):
    shared = ct.get(f"/patients/{PATIENT}/shared-tags?short").json()
    assert "0010,1002" not in shared and "7fe0,0010" not in shared
    assert len(shared) == 252  # of CT_small's 257 tags, as Orthanc
