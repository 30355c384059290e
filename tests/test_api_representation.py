"""Main tags and tags as Orthanc 1.10.1 writes them, compared on the same files: values as
written, ?full, ?short, ?ignore-length=, and each study's own patient tags."""

import pytest

from tests.conftest import dicom_bytes, make_dicom, upload

pytestmark = pytest.mark.django_db

# The ids Orthanc 1.10.1 gave the file made by numbers_file().
NUMBERS = {
    "patient": "93108205-37bf2b77-76223483-65e392e9-4105607e",
    "study": "7e7fafb3-f03f0455-93bbc776-574159b0-31f5f1ab",
    "instance": "0ec52919-1e7d7dbc-d6da89c6-e55b8cd3-92d3ea00",
}


def numbers_file():
    """Numbers written as text with leading zeros, a decimal written as an integer, and
    decimals with trailing zeros."""
    return make_dicom(
        PatientID="pnumbers",
        PatientName="Num^Bers",
        StudyInstanceUID="1.2.3.500",
        SeriesInstanceUID="1.2.3.500.1",
        SOPInstanceUID="1.2.3.500.1.1",
        SeriesNumber="04",
        SliceThickness="120",
        ImagePositionPatient=["-1.50", "2.0", "3"],
        InstanceNumber="007",
    )


@pytest.fixture
def numbers(api):
    assert upload(api, numbers_file()).json()["ID"] == NUMBERS["instance"]
    return api


def test_numbers_written_as_text_keep_their_spelling_in_tags(numbers):
    """Orthanc: "04", "120", "-1.50\\2.0\\3", "007"; never 4, 120.0 or -1.5."""
    url = f"/instances/{NUMBERS['instance']}"
    simplified = numbers.get(f"{url}/simplified-tags").json()
    assert simplified["SeriesNumber"] == "04"
    assert simplified["SliceThickness"] == "120"
    assert simplified["ImagePositionPatient"] == "-1.50\\2.0\\3"
    assert simplified["InstanceNumber"] == "007"
    assert numbers.get(f"{url}/tags").json()["0018,0050"] == {
        "Name": "SliceThickness",
        "Type": "String",
        "Value": "120",
    }
    assert numbers.get(f"{url}/tags?short").json()["0020,0011"] == "04"


def test_numbers_written_as_text_keep_their_spelling_in_main_tags(numbers):
    instance = numbers.get("/instances?expand").json()[0]["MainDicomTags"]
    assert instance["InstanceNumber"] == "007"
    assert instance["ImagePositionPatient"] == "-1.50\\2.0\\3"
    assert numbers.get("/series?expand").json()[0]["MainDicomTags"]["SeriesNumber"] == "04"


def test_person_names_are_written_as_the_file_writes_them(api):
    """Orthanc keeps chrX1's trailing "=" (an empty phonetic group), and adds none where the
    file has none."""
    upload(api, dicom_bytes("chrX1.dcm"))
    upload(api, dicom_bytes("chrH31.dcm"))
    names = sorted(patient["MainDicomTags"]["PatientName"] for patient in api.get("/patients?expand").json())
    assert names == ["Wang^XiaoDong=王^小東=", "Yamada^Tarou=山田^太郎=やまだ^たろう"]
    instances = api.get("/instances").json()
    tags = sorted(api.get(f"/instances/{i}/simplified-tags").json()["PatientName"] for i in instances)
    assert tags == names


def test_expand_full_writes_main_tags_with_name_and_type(numbers):
    """Orthanc 1.10.1: GET /studies/{id}?full and /studies?expand&full."""
    study = numbers.get(f"/studies/{NUMBERS['study']}?full").json()
    assert study["MainDicomTags"]["0008,0020"] == {"Name": "StudyDate", "Type": "String", "Value": "20240101"}
    assert study["MainDicomTags"]["0020,000d"] == {"Name": "StudyInstanceUID", "Type": "String", "Value": "1.2.3.500"}
    assert study["PatientMainDicomTags"]["0010,0020"] == {"Name": "PatientID", "Type": "String", "Value": "pnumbers"}
    assert numbers.get("/studies?expand&full").json() == [study]
    children = numbers.get(f"/patients/{NUMBERS['patient']}/studies?full").json()
    assert children[0]["MainDicomTags"] == study["MainDicomTags"]


def test_short_wins_over_full(numbers):
    study = numbers.get(f"/studies/{NUMBERS['study']}?short&full").json()
    assert study["MainDicomTags"] == {"0008,0020": "20240101", "0020,000d": "1.2.3.500"}


def test_simplify_wins_over_short_on_tags(numbers):
    answer = numbers.get(f"/instances/{NUMBERS['instance']}/tags?short&simplify").json()
    assert answer["InstanceNumber"] == "007"


def test_ignore_length_shows_a_long_value(api):
    long_text = "Test Image " * 30  # longer than Orthanc's 256 bytes, as in pydicom's SC_rgb files
    instance = upload(api, make_dicom(ImageComments=long_text)).json()["ID"]
    url = f"/instances/{instance}"
    assert api.get(f"{url}/tags").json()["0020,4000"] == {"Name": "ImageComments", "Type": "TooLong", "Value": None}
    shown = api.get(f"{url}/tags?ignore-length=ImageComments").json()["0020,4000"]
    assert shown == {"Name": "ImageComments", "Type": "String", "Value": long_text.rstrip()}
    assert api.get(f"{url}/simplified-tags?ignore-length=0020-4000").json()["ImageComments"] == long_text.rstrip()
    # The last occurrence counts, as in Orthanc.
    last = api.get(f"{url}/tags?ignore-length=ImageComments&ignore-length=PatientName").json()
    assert last["0020,4000"]["Type"] == "TooLong"
    # A main tag that long is no main tag (Orthanc leaves it out).
    assert "ImageComments" not in api.get(f"{url}").json()["MainDicomTags"]


def test_ignore_length_with_an_unknown_tag_is_refused(api):
    instance = upload(api, make_dicom()).json()["ID"]
    response = api.get(f"/instances/{instance}/tags?ignore-length=0020,4000")
    assert response.status_code == 400
    assert response.json()["OrthancError"] == "Unknown DICOM tag"


def test_each_study_shows_the_patient_tags_it_was_received_with(api):
    """Orthanc 1.10.1: PatientMainDicomTags of three studies of PatientID SHARED."""
    studies = []
    for name, sex in (("Alpha^One", "M"), ("Beta^Two", "F"), ("Gamma^Three", "M")):
        studies.append(
            upload(api, make_dicom(PatientID="SHARED", PatientName=name, PatientSex=sex)).json()["ParentStudy"]
        )
    shown = [api.get(f"/studies/{study}").json()["PatientMainDicomTags"]["PatientName"] for study in studies]
    assert shown == ["Alpha^One", "Beta^Two", "Gamma^Three"]
    (patient,) = api.get("/patients?expand").json()
    assert patient["MainDicomTags"]["PatientName"] == "Alpha^One"
    # A study whose file has no PatientName shows none, as Orthanc.
    lacking = upload(api, make_dicom(PatientID="SHARED", PatientName=None)).json()["ParentStudy"]
    assert "PatientName" not in api.get(f"/studies/{lacking}").json()["PatientMainDicomTags"]


def test_an_invalid_number_is_kept_as_written(api):
    """Orthanc shows badVR.dcm's NumberOfFrames "1A" as it is; pydicom cannot read it."""
    instance = upload(api, dicom_bytes("badVR.dcm")).json()["ID"]
    assert api.get(f"/instances/{instance}/tags?short").json()["0028,0008"] == "1A"


def test_the_trailing_padding_is_not_shown(api):
    """Orthanc does not show (FFFC,FFFC), which CT_small.dcm ends with."""
    instance = upload(api, dicom_bytes("CT_small.dcm")).json()["ID"]
    assert "fffc,fffc" not in api.get(f"/instances/{instance}/tags?short").json()
