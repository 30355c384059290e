"""ZIP archives: Orthanc's layout, byte-identical members, streamed."""

import io
import zipfile

import pytest

from explorer.archives import clean_name
from tests.conftest import CT_SMALL, CT_SMALL_IDS, dicom_bytes, make_dicom, upload

pytestmark = pytest.mark.django_db


def test_clean_name_is_orthancs():
    assert clean_name("1CT1", "CompressedSamples^CT1") == "1CT1 CompressedSamples CT1"
    assert clean_name("", "e+1") == "e1"
    assert clean_name("CT", "") == "CT"
    assert clean_name("Été", "a  b") == "t a b"


def test_a_study_archive(api):
    upload(api, dicom_bytes(CT_SMALL))
    response = api.get(f"/studies/{CT_SMALL_IDS['study']}/archive")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"] == f'attachment; filename="{CT_SMALL_IDS["study"]}.zip"'
    assert response.streaming
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.namelist() == ["1CT1 CompressedSamples CT1/e1/CT/CT000000.dcm"]
    assert archive.read(archive.namelist()[0]) == dicom_bytes(CT_SMALL)


def test_a_patient_archive_numbers_instances_per_series(api):
    study, series = "1.2.826.0.1.3680043.8.498.10", "1.2.826.0.1.3680043.8.498.11"
    for number in (2, 1, 3):
        upload(api, make_dicom(StudyInstanceUID=study, SeriesInstanceUID=series, InstanceNumber=number,
                               AccessionNumber="ACC1", StudyDescription="Head", Modality="MR", SeriesDescription="T1"))
    patient = api.get("/patients").json()[0]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(api.get(f"/patients/{patient}/archive").streaming_content)))
    assert archive.namelist() == [f"PHAROSTEST Test Patient/ACC1 Head/MR T1/MR00000{n}.dcm" for n in range(3)]


def test_unknown_resource(api):
    assert api.get("/series/nope/archive").status_code == 404


def test_one_archive_of_resources_of_any_level(api):
    """POST /tools/create-archive: a study and one of its instances give the instance once."""
    upload(api, dicom_bytes(CT_SMALL))
    body = {"Resources": [CT_SMALL_IDS["study"], CT_SMALL_IDS["instance"]]}
    response = api.post("/tools/create-archive", body, content_type="application/json")
    assert (response.status_code, response["Content-Disposition"]) == (200, 'filename="Archive.zip"')
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.namelist() == ["1CT1 CompressedSamples CT1/e1/CT/CT000000.dcm"]
    unknown = api.post("/tools/create-archive", {"Resources": ["nope"]}, content_type="application/json")
    assert (unknown.status_code, unknown.json()["OrthancStatus"]) == (404, 17)
