"""Server-wide answers: /system, /statistics, /changes. The expected answers are a real
Orthanc 1.10.1's for the same files."""

import pytest

import explorer
from explorer import stability
from tests.conftest import dicom_bytes, make_dicom, upload
from tests.test_stability import CT, MR, later

pytestmark = pytest.mark.django_db(transaction=True)

MR_INSTANCE = "2f859814-2cf8fe4f-c7963e7d-d32c018d-66fc8cfa"
MR_SIZE = len(dicom_bytes("MR_small.dcm"))  # 9830 bytes


def test_system_names_the_orthanc_release_whose_api_pharos_follows(api):
    body = api.get("/system").json()
    # Orthanc 1.10.1 answers "Version": "1.10.1" and "ApiVersion": 16; clients compare them.
    assert (body["Version"], body["ApiVersion"]) == ("1.10.1", 16)
    assert body["PharosVersion"] == explorer.__version__
    orthancs_keys = {
        "ApiVersion", "CheckRevisions", "DatabaseBackendPlugin", "DatabaseVersion", "DicomAet", "DicomPort",
        "HttpPort", "IsHttpServerSecure", "Name", "PluginsEnabled", "StorageAreaPlugin", "Version",
    }
    assert orthancs_keys <= set(body)


def test_statistics_as_orthanc_answers_them(api):
    upload(api, dicom_bytes("MR_small.dcm"))
    assert api.get("/statistics").json() == {
        "CountInstances": 1, "CountPatients": 1, "CountSeries": 1, "CountStudies": 1,
        "TotalDiskSize": "9830", "TotalDiskSizeMB": 0, "TotalUncompressedSize": "9830", "TotalUncompressedSizeMB": 0,
    }
    sizes = {
        "DicomDiskSize": "9830", "DicomDiskSizeMB": 0, "DicomUncompressedSize": "9830", "DicomUncompressedSizeMB": 0,
        "DiskSize": "9830", "DiskSizeMB": 0, "UncompressedSize": "9830", "UncompressedSizeMB": 0,
    }
    assert MR_SIZE == 9830
    expected = {
        f"/patients/{MR['patient']}": {"CountInstances": 1, "CountSeries": 1, "CountStudies": 1, **sizes},
        f"/studies/{MR['study']}": {"CountInstances": 1, "CountSeries": 1, **sizes},
        f"/series/{MR['series']}": {"CountInstances": 1, **sizes},
        f"/instances/{MR_INSTANCE}": sizes,
    }
    for path, answer in expected.items():
        assert api.get(f"{path}/statistics").json() == answer, path


def listed_changes(api):
    return [(c["ChangeType"], c["ID"]) for c in api.get("/changes").json()["Changes"]]


def test_changes_forget_a_deleted_study_and_its_emptied_patient(api):
    upload(api, dicom_bytes("CT_small.dcm"))
    upload(api, dicom_bytes("MR_small.dcm"))
    stability.emit_stable_changes(later())
    assert api.delete(f"/studies/{CT['study']}").json() == {"RemainingAncestor": None}
    # Orthanc 1.10.1, the same files and the same deletion: the MR's changes alone remain.
    assert listed_changes(api) == [
        ("NewInstance", MR_INSTANCE),
        ("NewSeries", MR["series"]),
        ("NewStudy", MR["study"]),
        ("NewPatient", MR["patient"]),
        ("StableSeries", MR["series"]),
        ("StableStudy", MR["study"]),
        ("StablePatient", MR["patient"]),
    ]


def test_deleting_an_instance_forgets_its_changes_only(api):
    series = "1.2.826.0.1.3680043.8.498.501"
    first = upload(api, make_dicom(PatientID="KEEP", SeriesInstanceUID=series)).json()
    second = upload(api, make_dicom(PatientID="KEEP", SeriesInstanceUID=series)).json()
    api.delete(f"/instances/{second['ID']}")
    kinds = listed_changes(api)
    assert ("NewInstance", second["ID"]) not in kinds
    assert kinds[:2] == [("NewInstance", first["ID"]), ("NewSeries", first["ParentSeries"])]
