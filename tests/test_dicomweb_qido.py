"""QIDO-RS (explorer/dicomweb/qido.py) as Orthanc 1.10.1's DICOMweb plugin answers it.

The expected answers were read from a real Orthanc 1.10.1 with its DICOMweb plugin 1.7
(tests/reference_orthanc.py) given the same files, its host written as the test client's.
Where Pharos answers otherwise on purpose, the test says so.
"""

import json

import pytest

from tests.conftest import dicom_bytes, make_dicom, sample_path, upload

CT_STUDY = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
CT_SERIES = "1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322"
CT_INSTANCE = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"
MR_STUDY = "1.3.6.1.4.1.5962.1.2.4.20040826185059.5457"
MADE_STUDY = "1.2.3.4.100"
BASE = "http://testserver/dicom-web/"

# The study-level attributes of CT_small, the series-level ones and the instance-level ones.
CT_STUDY_ATTRIBUTES = {
    "00080020": {"Value": ["20040119"], "vr": "DA"},
    "00080030": {"Value": ["072730"], "vr": "TM"},
    "00080050": {"vr": "SH"},
    "00080090": {"vr": "PN"},
    "00080201": {"Value": ["-0500"], "vr": "SH"},
    "00100010": {"Value": [{"Alphabetic": "CompressedSamples^CT1"}], "vr": "PN"},
    "00100020": {"Value": ["1CT1"], "vr": "LO"},
    "00100030": {"vr": "DA"},
    "00100040": {"Value": ["O"], "vr": "CS"},
    "0020000D": {"Value": [CT_STUDY], "vr": "UI"},
    "00200010": {"Value": ["1CT1"], "vr": "SH"},
}
CT_SERIES_ATTRIBUTES = {
    "00080060": {"Value": ["CT"], "vr": "CS"},
    "00080201": {"Value": ["-0500"], "vr": "SH"},
    "0020000E": {"Value": [CT_SERIES], "vr": "UI"},
    "00200011": {"Value": [1], "vr": "IS"},
}
CT_INSTANCE_ATTRIBUTES = {
    "00080016": {"Value": ["1.2.840.10008.5.1.4.1.1.2"], "vr": "UI"},
    "00080018": {"Value": [CT_INSTANCE], "vr": "UI"},
    "00080201": {"Value": ["-0500"], "vr": "SH"},
    "00200013": {"Value": [1], "vr": "IS"},
    "00280010": {"Value": [128], "vr": "US"},
    "00280011": {"Value": [128], "vr": "US"},
    "00280100": {"Value": [16], "vr": "US"},
}
LATIN1 = {"00080005": {"Value": ["ISO_IR 100"], "vr": "CS"}}
CT_STUDY_URL = f"{BASE}studies/{CT_STUDY}"
CT_SERIES_URL = f"{CT_STUDY_URL}/series/{CT_SERIES}"
CT_INSTANCE_URL = f"{CT_SERIES_URL}/instances/{CT_INSTANCE}"


def url(value):
    return {"00081190": {"Value": [value], "vr": "UR"}}


CT_STUDY_ANSWER = {
    **LATIN1,
    **CT_STUDY_ATTRIBUTES,
    "00080061": {"Value": ["CT"], "vr": "CS"},
    "00201206": {"Value": [1], "vr": "IS"},
    "00201208": {"Value": [1], "vr": "IS"},
    **url(CT_STUDY_URL),
}
CT_SERIES_ANSWER = {
    **LATIN1,
    **CT_STUDY_ATTRIBUTES,
    **CT_SERIES_ATTRIBUTES,
    "00201209": {"Value": [1], "vr": "IS"},
    **url(CT_SERIES_URL),
}
CT_INSTANCE_ANSWER = {**LATIN1, **CT_STUDY_ATTRIBUTES, **CT_SERIES_ATTRIBUTES, **CT_INSTANCE_ATTRIBUTES}
CT_INSTANCE_ANSWER.update(url(CT_INSTANCE_URL))


def made(series, sop, **tags):
    """A study without StudyDate, of two series (OT then MR)."""
    uids = {"StudyInstanceUID": MADE_STUDY, "SeriesInstanceUID": series, "SOPInstanceUID": sop}
    return make_dicom(StudyDate=None, PatientID="NODATE", **uids, **tags)


@pytest.fixture
def stored(api):
    """CT_small, MR_small, rtplan, chrX1 (an empty StudyDate, a name in three groups) and a
    made study without StudyDate, in this order."""
    for name in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm"):
        assert upload(api, dicom_bytes(name)).status_code == 200
    with open(sample_path("chrX1.dcm"), "rb") as handle:
        assert upload(api, handle.read()).status_code == 200
    ot = made("1.2.3.4.100.1", "1.2.3.4.100.1.1", SeriesNumber="07", InstanceNumber="3", SliceThickness="2.50")
    assert upload(api, ot).status_code == 200
    assert upload(api, made("1.2.3.4.100.2", "1.2.3.4.100.2.1", Modality="MR")).status_code == 200
    return api


def qido(api, path, **headers):
    response = api.get("/dicom-web/" + path, **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/dicom+json"
    return json.loads(response.content)


def patient_ids(answers):
    return sorted(answer["00100020"]["Value"][0] for answer in answers)


# --- Attributes -----------------------------------------------------------------------


def test_a_study_answer_is_orthancs(stored):
    assert qido(stored, "studies?PatientID=1CT1") == [CT_STUDY_ANSWER]


def test_series_and_instance_answers_carry_the_study_and_series_attributes(stored):
    assert qido(stored, "series?PatientID=1CT1") == [CT_SERIES_ANSWER]
    assert qido(stored, "instances?PatientID=1CT1") == [CT_INSTANCE_ANSWER]


def test_the_nested_routes_answer_as_the_root_ones(stored):
    assert qido(stored, f"studies/{CT_STUDY}/series") == [CT_SERIES_ANSWER]
    assert qido(stored, f"studies/{CT_STUDY}/instances") == [CT_INSTANCE_ANSWER]
    assert qido(stored, f"studies/{CT_STUDY}/series/{CT_SERIES}/instances") == [CT_INSTANCE_ANSWER]


def test_naming_the_study_or_series_as_a_parameter_leaves_their_attributes_out(stored):
    """The plugin adds the study's attributes unless StudyInstanceUID is a parameter (the
    route's does not count), and the series' for instances unless SeriesInstanceUID is."""
    (series,) = qido(stored, f"series?StudyInstanceUID={CT_STUDY}")
    assert series == {
        **LATIN1,
        **CT_SERIES_ATTRIBUTES,
        "0020000D": {"Value": [CT_STUDY], "vr": "UI"},
        "00201209": {"Value": [1], "vr": "IS"},
        **url(CT_SERIES_URL),
    }
    (instance,) = qido(stored, f"instances?SeriesInstanceUID={CT_SERIES}")
    assert set(instance) == set(CT_INSTANCE_ANSWER) - {"00080060", "00200011"}


def test_absent_attributes_are_left_out_and_computed_ones_are_counted(stored):
    (study,) = qido(stored, "studies?PatientID=NODATE")
    assert study == {
        **LATIN1,
        "00080061": {"Value": ["MR", "OT"], "vr": "CS"},
        **url(f"{BASE}studies/{MADE_STUDY}"),
        "00100010": {"Value": [{"Alphabetic": "Test^Patient"}], "vr": "PN"},
        "00100020": {"Value": ["NODATE"], "vr": "LO"},
        "0020000D": {"Value": [MADE_STUDY], "vr": "UI"},
        "00201206": {"Value": [2], "vr": "IS"},
        "00201208": {"Value": [2], "vr": "IS"},
    }
    first, second = qido(stored, "series?PatientID=NODATE")
    assert first["00200011"] == {"Value": [7], "vr": "IS"}  # "07" in the file
    assert "00200011" not in second


def test_includefield_repeated_comma_separated_by_keyword_or_tag(stored):
    path = "instances?PatientID=1CT1&includefield=00200037,ImagePositionPatient&includefield=00180060,ImageType"
    (answer,) = qido(stored, path)
    assert answer["00200037"] == {"Value": [1, 0, 0, 0, 1, 0], "vr": "DS"}
    assert answer["00200032"] == {"Value": [-158.135803, -179.035797, -75.699997], "vr": "DS"}
    assert answer["00180060"] == {"Value": [120], "vr": "DS"}
    assert answer["00080008"] == {"Value": ["ORIGINAL", "PRIMARY", "AXIAL"], "vr": "CS"}


def test_includefield_of_a_tag_of_a_lower_level_reads_an_instance(stored):
    (study,) = qido(stored, "studies?PatientID=4MR1&includefield=00280030,SliceThickness,StudyDescription")
    assert study["00280030"] == {"Value": [0.3125, 0.3125], "vr": "DS"}
    assert study["00180050"] == {"Value": [0.8], "vr": "DS"}
    assert "00081030" not in study  # MR_small has no StudyDescription


def test_includefield_leaves_out_sequences_binary_values_and_unknown_names(stored):
    path = "instances?PatientID=id00001&includefield=300A0010,7FE00010,NoSuchKeyword,300A0002"
    (plan,) = qido(stored, path)
    assert plan["300A0002"] == {"Value": ["Plan1"], "vr": "SH"}
    assert "300A0010" not in plan and "7FE00010" not in plan


def test_includefield_all_adds_the_main_tags_of_the_level_and_above(stored):
    """Orthanc's plugin takes `all` and answers its defaults; Pharos adds the main tags."""
    (answer,) = qido(stored, "series?PatientID=1CT1&includefield=all")
    assert set(CT_SERIES_ANSWER) < set(answer)
    assert answer["00081030"] == {"Value": ["e+1"], "vr": "LO"}  # StudyDescription
    assert answer["00080070"] == {"Value": ["GE MEDICAL SYSTEMS"], "vr": "LO"}  # Manufacturer
    assert answer["00080021"] == {"Value": ["19970430"], "vr": "DA"}  # SeriesDate
    assert answer["00080080"] == {"Value": ["JFK IMAGING CENTER"], "vr": "LO"}  # InstitutionName


def test_a_matched_tag_is_returned(stored):
    (series,) = qido(stored, "series?SliceThickness=2.50")
    assert series["00180050"] == {"Value": [2.5], "vr": "DS"}
    assert series["00200011"] == {"Value": [7], "vr": "IS"}


def test_a_person_name_keeps_its_three_groups(stored):
    """Orthanc writes its answers in its DefaultEncoding (Latin-1) and loses the ideographic
    group ("^"); JSON is UTF-8 and Pharos keeps it."""
    (study,) = qido(stored, "studies?PatientID=X1EXAMPLE")
    assert study["00100010"] == {
        "Value": [{"Alphabetic": "Wang^XiaoDong", "Ideographic": "王^小東", "Phonetic": ""}],
        "vr": "PN",
    }
    assert study["00080090"] == {"Value": [{"Alphabetic": "^^^^"}], "vr": "PN"}


def test_the_character_set_named_is_the_default_encoding(stored, settings):
    from explorer import runtime_settings

    runtime_settings.change("DefaultEncoding", "Utf8")
    (study,) = qido(stored, "studies?PatientID=1CT1")
    assert study["00080005"] == {"Value": ["ISO_IR 192"], "vr": "CS"}


def test_no_stored_file_is_read(stored, settings, tmp_path):
    """The answers come from the index: the main tags and the data sets stored with it."""
    settings.STORAGE_DIR = tmp_path / "empty"
    settings.STORAGE_DIR.mkdir()
    assert qido(stored, "instances?PatientID=1CT1") == [CT_INSTANCE_ANSWER]


# --- Matching -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "parameters, expected",
    [
        ("PatientID=1CT1", ["1CT1"]),
        ("00100020=1CT1", ["1CT1"]),
        ("PatientID=1ct1", ["1CT1"]),  # case-insensitive, as /tools/find
        ("PatientName=compressed*", ["1CT1", "4MR1"]),
        ("PatientName=CompressedSamples?CT1", ["1CT1"]),
        ("StudyDate=20040119", ["1CT1"]),
        ("StudyDate=20040101-20041231", ["1CT1", "4MR1"]),
        ("StudyDate=20040120-", ["4MR1"]),
        # An empty StudyDate matches a range open below; a study without one does not.
        ("StudyDate=-20030101", ["X1EXAMPLE"]),
        (f"StudyInstanceUID={CT_STUDY},{MR_STUDY}", ["1CT1", "4MR1"]),
        ("ModalitiesInStudy=MR", ["4MR1", "NODATE"]),
        ("ModalitiesInStudy=CT,RTPLAN", ["1CT1", "id00001"]),
        ("Modality=CT", []),  # a series tag at the study level matches nothing
        ("NoSuchKeyword=x&fuzzymatching=false", ["1CT1", "4MR1", "NODATE", "X1EXAMPLE", "id00001"]),
        ("PatientID=1CT1&fuzzymatching=true", ["1CT1"]),  # taken, and matching stays exact
    ],
)
def test_study_matching(stored, parameters, expected):
    assert patient_ids(qido(stored, "studies?" + parameters)) == expected


def test_values_are_percent_decoded(stored):
    """Orthanc 1.10.1 does not decode them: there `PatientName=Compressed%2A` matches nothing,
    and dicomweb-client encodes every `*`."""
    assert patient_ids(qido(stored, "studies?PatientName=Compressed%2ASamples%5ECT1")) == ["1CT1"]
    assert patient_ids(qido(stored, "studies?PatientID=1CT%31")) == ["1CT1"]


def test_a_backslash_separates_a_list_as_a_comma_does(stored):
    """The plugin drops backslashes (`uid1\\uid2` matches nothing there); OHIF sends them."""
    assert patient_ids(qido(stored, f"studies?StudyInstanceUID={CT_STUDY}%5C{MR_STUDY}")) == ["1CT1", "4MR1"]


def test_series_and_instances_match_on_every_level_above(stored):
    assert len(qido(stored, "series?StudyDate=20040101-20041231&Modality=MR")) == 1
    assert len(qido(stored, "instances?PatientName=Test*&Modality=OT")) == 1
    assert len(qido(stored, f"studies/{MADE_STUDY}/series?Modality=MR")) == 1


def test_an_unknown_or_malformed_uid_in_the_route_answers_an_empty_list(stored):
    assert qido(stored, "studies/1.2.3/series") == []
    assert qido(stored, "studies/abc/instances") == []
    assert qido(stored, f"studies/{CT_STUDY}/series/1.2.3/instances") == []
    assert qido(stored, "studies?PatientID=nobody") == []


# --- Paging and bad parameters ----------------------------------------------------------


def test_limit_and_offset_page_in_the_order_of_arrival(stored):
    everything = patient_ids(qido(stored, "studies"))
    assert len(everything) == 5
    in_order = [answer["00100020"]["Value"][0] for answer in qido(stored, "studies")]
    assert [a["00100020"]["Value"][0] for a in qido(stored, "studies?limit=2&offset=1")] == in_order[1:3]
    assert qido(stored, "studies?offset=5") == []
    assert len(qido(stored, "studies?limit=0")) == 5  # 0: no limit, as in Orthanc


@pytest.mark.parametrize(
    "parameters, message",
    [
        ("limit=abc", "limit must be a non-negative integer"),
        ("limit=-1", "limit must be a non-negative integer"),
        ("offset=x", "offset must be a non-negative integer"),
        ("fuzzymatching=maybe", "Not a proper value for fuzzy matching (true or false): maybe"),
        ("StudyDate=2004*", "Wildcards are not allowed on tag 0008,0020"),
    ],
)
def test_a_bad_parameter_is_refused_with_a_message(stored, parameters, message):
    response = stored.get("/dicom-web/studies?" + parameters)
    assert response.status_code == 400
    assert message in response.json()["Details"]


# --- The answer's form ------------------------------------------------------------------


def test_retrieve_url_follows_the_host_and_forwarded_headers(stored):
    (study,) = qido(stored, "studies?PatientID=1CT1", HTTP_HOST="example.org:9999")
    assert study["00081190"]["Value"] == [f"http://example.org:9999/dicom-web/studies/{CT_STUDY}"]
    (study,) = qido(stored, "studies?PatientID=1CT1", HTTP_FORWARDED="host=proxy.example;proto=https")
    assert study["00081190"]["Value"] == [f"https://proxy.example/dicom-web/studies/{CT_STUDY}"]


@pytest.mark.parametrize("accept", ["application/dicom+json, application/json", "image/jpeg", "*/*"])
def test_any_accept_but_xml_is_answered_json(stored, accept):
    assert qido(stored, "studies?PatientID=1CT1", HTTP_ACCEPT=accept) == [CT_STUDY_ANSWER]


def test_xml_is_answered_as_multipart_native_dicom_model(stored):
    response = stored.get("/dicom-web/studies?PatientID=1CT1", HTTP_ACCEPT="application/dicom+xml")
    assert response.status_code == 200
    content_type = response["Content-Type"]
    assert content_type.startswith('multipart/related; type="application/dicom+xml"; boundary=')
    boundary = content_type.split("boundary=")[1].encode()
    parts = response.content.split(b"--" + boundary)
    assert parts[-1] == b"--" and len(parts) == 3  # one answer
    document = parts[1].decode()
    assert "Content-Type: application/dicom+xml" in document
    assert '<DicomAttribute tag="00100010" vr="PN" keyword="PatientName">' in document
    assert "<Alphabetic><FamilyName>CompressedSamples</FamilyName><GivenName>CT1</GivenName></Alphabetic>" in document
    assert '<DicomAttribute tag="00080050" vr="SH" keyword="AccessionNumber" />' in document
    assert '<Value number="1">1</Value>' in document  # NumberOfStudyRelatedSeries


def test_no_answer_in_xml_is_an_empty_multipart(stored):
    response = stored.get("/dicom-web/studies?PatientID=nobody", HTTP_ACCEPT="application/dicom+xml")
    boundary = response["Content-Type"].split("boundary=")[1]
    assert response.content == f"--{boundary}--".encode()


def test_a_search_needs_credentials(stored, client):
    assert client.get("/dicom-web/studies").status_code == 401
