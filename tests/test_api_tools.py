"""POST /tools/find and /tools/lookup, with Orthanc 1.10.1's examples (reference R8)."""

import json

import pytest
from pydicom.data import get_testdata_file

from explorer.ingest import Origin, store_instance
from tests.conftest import CT_SMALL_IDS, dicom_bytes, make_dicom

pytestmark = pytest.mark.django_db

CT_STUDY_UID = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
MR_STUDY_UID = "1.3.6.1.4.1.5962.1.2.4.20040826185059.5457"


def store(data):
    return store_instance(data, Origin()).ids


@pytest.fixture
def files():
    """CT_small, MR_small, and JPEG2000 (an NM study of 2004-08-26, like MR_small)."""
    stored = {"ct": store(dicom_bytes("CT_small.dcm")), "mr": store(dicom_bytes("MR_small.dcm"))}
    if get_testdata_file("JPEG2000.dcm", download=False):
        stored["nm"] = store(dicom_bytes("JPEG2000.dcm"))
    return stored


def find(api, **body):
    return api.post("/tools/find", data=json.dumps(body), content_type="application/json")


def found(api, **body):
    response = find(api, **body)
    assert response.status_code == 200, response.content
    return response.json()


def ids_at(files, level, *names):
    index = ("patient", "study", "series", "instance").index(level)
    return [files[name][index] for name in names]


# --- Orthanc's examples ---------------------------------------------------------------


def test_patient_name_wildcard_at_study_level(api, files):
    assert found(api, Level="Study", Query={"PatientName": "*CT1"}) == [CT_SMALL_IDS["study"]]


def test_study_date_range_with_expand(api, files):
    answer = found(api, Level="Study", Query={"StudyDate": "20040101-20041231"}, Expand=True)
    assert [study["ID"] for study in answer] == ids_at(files, "study", *files)
    ct = answer[0]
    assert ct["Type"] == "Study"
    assert ct["MainDicomTags"]["StudyDate"] == "20040119"
    assert ct["PatientMainDicomTags"]["PatientID"] == "1CT1"
    assert ct["ParentPatient"] == CT_SMALL_IDS["patient"]
    assert ct["Series"] == [CT_SMALL_IDS["series"]]


def test_expand_short_keys_tags_by_number(api, files):
    (study,) = found(api, Level="Study", Query={"PatientID": "1CT1"}, Expand=True, Short=True)
    assert study["MainDicomTags"]["0008,0020"] == "20040119"
    assert study["PatientMainDicomTags"]["0010,0020"] == "1CT1"


def test_expand_at_every_level(api, files):
    for level in ("Patient", "Series", "Instance"):
        answer = found(api, Level=level, Query={"PatientID": "1CT1"}, Expand=True)
        assert [item["Type"] for item in answer] == [level]
    (instance,) = found(api, Level="Instance", Query={"PatientID": "1CT1"}, Expand=True)
    assert instance["ParentSeries"] == CT_SMALL_IDS["series"]


def test_patient_id_is_case_insensitive_unless_asked(api, files):
    assert found(api, Level="Patient", Query={"PatientID": "1ct1"}) == [CT_SMALL_IDS["patient"]]
    assert found(api, Level="Patient", Query={"PatientID": "1ct1"}, CaseSensitive=True) == []
    assert found(api, Level="Patient", Query={"PatientID": "1CT1"}, CaseSensitive=True) == [CT_SMALL_IDS["patient"]]


def test_patient_name_prefix_case_insensitive_unless_asked(api, files):
    assert found(api, Level="Patient", Query={"PatientName": "compressed*"}) == ids_at(files, "patient", *files)
    assert found(api, Level="Patient", Query={"PatientName": "compressed*"}, CaseSensitive=True) == []


def test_every_tag_ignores_case_in_rest(api, files):
    # CT_small's StudyDescription is "e+1": Orthanc's REST find matched "E+1".
    assert found(api, Level="Study", Query={"StudyDescription": "E+1"}) == [CT_SMALL_IDS["study"]]
    assert found(api, Level="Study", Query={"StudyDescription": "E+1"}, CaseSensitive=True) == []


def test_modality_list_with_limit_and_since(api, files):
    everything = found(api, Level="Series", Query={"Modality": "CT\\MR"})
    assert everything == ids_at(files, "series", "ct", "mr")
    assert found(api, Level="Series", Query={"Modality": "CT\\MR"}, Limit=2, Since=0) == everything
    assert found(api, Level="Series", Query={"Modality": "CT\\MR"}, Limit=1, Since=1) == everything[1:]
    assert found(api, Level="Series", Query={"Modality": "CT\\MR"}, Since=2) == []


def test_a_wildcard_on_a_date_is_a_bad_request(api, files):
    response = find(api, Level="Study", Query={"StudyDate": "2004*"})
    assert response.status_code == 400
    body = response.json()
    assert body["Details"] == "Wildcards are not allowed on tag 0008,0020"
    assert (body["OrthancStatus"], body["OrthancError"]) == (3, "Parameter out of range")
    assert (body["Method"], body["Uri"]) == ("POST", "/tools/find")


def test_an_unknown_tag_is_a_bad_request(api, files):
    # Orthanc answers 500 here; the mistake is the client's.
    response = find(api, Level="Study", Query={"Foo": "x"})
    assert response.status_code == 400
    body = response.json()
    assert (body["OrthancStatus"], body["OrthancError"]) == (27, "Unknown DICOM tag")
    assert body["Details"] == "Unknown DICOM tag: Foo"


def test_modalities_in_study_but_not_modality_at_study_level(api, files):
    assert found(api, Level="Study", Query={"ModalitiesInStudy": "CT"}) == [CT_SMALL_IDS["study"]]
    assert found(api, Level="Study", Query={"ModalitiesInStudy": "CT\\MR"}) == ids_at(files, "study", "ct", "mr")
    assert found(api, Level="Study", Query={"Modality": "CT"}) == []


def test_a_non_main_tag_is_read_from_the_stored_data_set(api, files):
    assert found(api, Level="Series", Query={"KVP": "120"}) == [CT_SMALL_IDS["series"]]
    assert found(api, Level="Series", Query={"KVP": "120", "Modality": "MR"}) == []
    assert found(api, Level="Instance", Query={"SliceThickness": "0.8"}) == ids_at(files, "instance", "mr")


# --- More matching through REST -------------------------------------------------------


def test_uid_lists(api, files):
    query = {"StudyInstanceUID": f"{MR_STUDY_UID}\\{CT_STUDY_UID}"}
    assert found(api, Level="Study", Query=query) == ids_at(files, "study", "ct", "mr")


def test_question_mark_wildcard(api, files):
    assert found(api, Level="Patient", Query={"PatientName": "*^?R1"}) == ids_at(files, "patient", "mr")
    assert found(api, Level="Patient", Query={"PatientName": "*^?R"}) == []


def test_open_date_ranges(api, files):
    assert found(api, Level="Study", Query={"StudyDate": "-20040119"}) == [CT_SMALL_IDS["study"]]
    later = ids_at(files, "study", *[name for name in files if name != "ct"])
    assert found(api, Level="Study", Query={"StudyDate": "20040120-"}) == later


def test_time_ranges(api, files):
    # CT_small 072730, MR_small 185059
    assert found(api, Level="Study", Query={"StudyTime": "070000-080000"}) == [CT_SMALL_IDS["study"]]
    assert found(api, Level="Study", Query={"StudyTime": "18-19", "PatientID": "4MR1"}) == ids_at(files, "study", "mr")
    assert found(api, Level="Study", Query={"StudyTime": "-0700"}) == []


def test_empty_values_are_ignored(api, files):
    everything = found(api, Level="Study", Query={})
    assert found(api, Level="Study", Query={"PatientName": "", "StudyDate": "", "AccessionNumber": None}) == everything
    assert len(everything) == len(files)


def test_tags_by_number(api, files):
    assert found(api, Level="Study", Query={"0010,0020": "1CT1"}) == [CT_SMALL_IDS["study"]]
    assert found(api, Level="Study", Query={"00100020": "4mr1"}) == ids_at(files, "study", "mr")


def test_made_up_edge_cases(api):
    store(make_dicom(PatientID="ÉLODIE", PatientName="Bérénice^Élodie", StudyDescription="50% off_sale", Modality="US"))
    store(make_dicom(PatientID="OTHER", PatientName="Other^One", StudyDescription="50 percent", Modality="US"))
    assert len(found(api, Level="Study", Query={"StudyDescription": "50%*"})) == 1
    assert len(found(api, Level="Study", Query={"StudyDescription": "*off_sale"})) == 1
    assert len(found(api, Level="Study", Query={"StudyDescription": "50?off*"})) == 0
    assert len(found(api, Level="Patient", Query={"PatientName": "Bérénice*"})) == 1


# --- Bad bodies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {"Query": {}},
        {"Level": "Study"},
        {"Level": "Nowhere", "Query": {}},
        {"Level": "Study", "Query": ["PatientName"]},
        {"Level": "Study", "Query": {}, "Limit": -1},
    ],
)
def test_bad_bodies(api, body):
    assert find(api, **body).status_code == 400


# --- /tools/lookup --------------------------------------------------------------------


def lookup(api, identifier):
    response = api.post("/tools/lookup", data=identifier, content_type="text/plain")
    assert response.status_code == 200, response.content
    return response.json()


def test_lookup_a_study_uid(api, files):
    assert lookup(api, CT_STUDY_UID) == [
        {"ID": CT_SMALL_IDS["study"], "Path": f"/studies/{CT_SMALL_IDS['study']}", "Type": "Study"}
    ]


def test_lookup_a_patient_id_and_nothing(api, files):
    assert lookup(api, "1CT1") == [
        {"ID": CT_SMALL_IDS["patient"], "Path": f"/patients/{CT_SMALL_IDS['patient']}", "Type": "Patient"}
    ]
    assert lookup(api, "no such thing") == []


def test_lookup_ignores_the_case_of_a_patient_id_and_surrounding_spaces(api):
    """Orthanc 1.10.1 finds PatientID "pnumbers" by "PNUMBERS" and "PNumbers"."""
    patient = store(make_dicom(PatientID="pnumbers"))[0]
    expected = [{"ID": patient, "Path": f"/patients/{patient}", "Type": "Patient"}]
    for identifier in ("pnumbers", "PNUMBERS", "PNumbers", " pnumbers\n"):
        assert lookup(api, identifier) == expected


def test_lookup_knows_no_accession_number(api):
    """Orthanc 1.10.1 looks up the four identifiers only: AccessionNumber "AccN0" finds nothing."""
    study_uid = "1.2.3.201"
    ids = store(make_dicom(AccessionNumber="AccN0", StudyInstanceUID=study_uid))
    assert lookup(api, "AccN0") == []
    assert lookup(api, study_uid) == [{"ID": ids[1], "Path": f"/studies/{ids[1]}", "Type": "Study"}]


def test_find_full_and_short_write_main_tags_by_tag(api):
    """Orthanc 1.10.1's /tools/find with Expand and Full: {"gggg,eeee": {Name, Type, Value}}."""
    store(make_dicom(PatientID="pnumbers", PatientName="Num^Bers", StudyDate="20240101"))
    full = found(api, Level="Study", Query={"PatientID": "pnumbers"}, Expand=True, Full=True)[0]
    assert full["MainDicomTags"]["0008,0020"] == {"Name": "StudyDate", "Type": "String", "Value": "20240101"}
    assert full["PatientMainDicomTags"]["0010,0010"] == {"Name": "PatientName", "Type": "String", "Value": "Num^Bers"}
    short = found(api, Level="Study", Query={"PatientID": "pnumbers"}, Expand=True, Full=True, Short=True)[0]
    assert short["MainDicomTags"]["0008,0020"] == "20240101"


def test_find_studies_of_one_patient_id_by_their_own_names(api):
    """Orthanc 1.10.1: three studies of PatientID SHARED under three names; each study is
    found by its own name, and answers it in PatientMainDicomTags."""
    ids = [
        store(make_dicom(PatientID="SHARED", PatientName=name, PatientSex=sex))[1]
        for name, sex in (("Alpha^One", "M"), ("Beta^Two", "F"), ("Gamma^Three", "M"))
    ]
    answer = found(api, Level="Study", Query={"PatientName": "beta*"}, Expand=True)
    assert [study["ID"] for study in answer] == [ids[1]]
    assert answer[0]["PatientMainDicomTags"] == {"PatientID": "SHARED", "PatientName": "Beta^Two", "PatientSex": "F"}
    patients = found(api, Level="Patient", Query={"PatientID": "SHARED"}, Expand=True)
    assert patients[0]["MainDicomTags"]["PatientName"] == "Alpha^One"
    assert found(api, Level="Patient", Query={"PatientName": "Beta*"}) == []
