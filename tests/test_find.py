"""The C-FIND SCP: the request, matching at every level and the limit (dicomnet.find) on an
index of real and made-up files (tests/find_archive.py), then the real server asked by DCMTK's
findscu and by pynetdicom."""

import time

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom import AE
from pynetdicom.dsutils import encode
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
)

from dicomnet import find
from dicomnet.models import Modality
from explorer.models import Instance
from tests.dicom_peers import dcmtk, port_of
from tests.find_archive import (
    CT_SMALL_SERIES,
    CT_SMALL_STUDY,
    DOE_BRAIN,
    DOE_CHEST,
    GREEK_NAME,
    H31_NAME,
    INSTANCES,
    MR_SMALL_STUDY,
    RTPLAN_SOP,
    SERIES,
    ask,
    identifier,
    values,
)

pytestmark = [pytest.mark.django_db, pytest.mark.filterwarnings("ignore::UserWarning")]


# --- The request ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "level, comment",
    [
        ("", "The query has no QueryRetrieveLevel"),
        ("FRAME", "Unknown QueryRetrieveLevel 'FRAME'"),
        ("FOO", "Unknown QueryRetrieveLevel 'FOO'"),
    ],
)
def test_a_level_missing_or_unknown_is_refused(level, comment):
    # Orthanc 1.10.1 answers findscu's QueryRetrieveLevel=FOO with 0xC000 (Unable to process).
    with pytest.raises(find.FindRefused) as refused:
        find.parse_request(identifier(level, PatientID=""), find.STUDY_ROOT)
    assert refused.value.status == find.UNABLE_TO_PROCESS == 0xC000
    assert refused.value.comment == comment
    assert refused.value.status_dataset().ErrorComment == comment


def test_a_query_without_a_level_element_is_refused():
    query = Dataset()
    query.PatientID = ""
    with pytest.raises(find.FindRefused) as refused:
        find.parse_request(query, find.PATIENT_ROOT)
    assert refused.value.status == 0xC000


@pytest.mark.parametrize(
    "text, level",
    [
        ("PATIENT", "PATIENT"),
        ("PATIENTS", "PATIENT"),
        ("STUDIES", "STUDY"),
        ("series", "SERIES"),
        ("IMAGE", "IMAGE"),
        ("IMAGES", "IMAGE"),
        ("INSTANCE", "IMAGE"),
        ("INSTANCES", "IMAGE"),
    ],
)
def test_the_level_names_orthanc_reads_in_either_model(text, level):
    # As Orthanc 1.10.1 (StringToResourceType): findscu -S with QueryRetrieveLevel=PATIENTS
    # got the five patients of the reference, and the answers repeat the level as asked.
    request = find.parse_request(identifier(text, PatientID=""), find.STUDY_ROOT)
    assert request.level.query_level == level
    assert [key.where for key in request.keys if key.tag == 0x00080052] == [text]


def test_file_meta_keys_are_neither_matched_nor_answered(archive):
    # findscu -k 0002,0010 -k 0002,0002 against Orthanc 1.10.1: no group 0002 element came back.
    query = identifier("IMAGE", SOPInstanceUID="")
    query.add_new(0x00020010, "UI", "1.2.840.10008.1.2.1")
    query.add_new(0x00020002, "UI", "1.2.3")
    request = find.parse_request(query, find.STUDY_ROOT)
    assert request.matching == {}
    answers = find.find_answers(query)
    assert answers
    assert all(tag.group != 2 for answer in answers for tag in answer.keys())


def test_an_unknown_information_model_is_refused():
    with pytest.raises(find.FindRefused) as refused:
        find.parse_request(identifier("STUDY"), None)
    assert refused.value.status == find.SOP_CLASS_NOT_SUPPORTED


def test_every_level_of_each_model_is_accepted():
    for model, names in ((find.PATIENT_ROOT, "PATIENT STUDY SERIES IMAGE"), (find.STUDY_ROOT, "STUDY SERIES IMAGE")):
        for name in names.split():
            assert find.parse_request(identifier(name), model).level.query_level == name


def test_the_request_separates_matching_keys_from_return_keys():
    request = find.parse_request(
        identifier(
            "STUDY",
            PatientName="Doe*",
            StudyDate="",
            StudyInstanceUID="1.2\\1.3",
            KVP="120",
            ReferencedStudySequence=[],
            NumberOfStudyRelatedSeries="",
            ModalitiesInStudy="CT",
        ),
        find.STUDY_ROOT,
    )
    assert request.matching == {
        "00100010": "Doe*",
        "0020000D": "1.2\\1.3",
        "00180060": "120",
        "00080061": "CT",
    }
    sources = {pydicom.datadict.keyword_for_tag(key.tag): key.source for key in request.keys}
    assert sources == {
        "QueryRetrieveLevel": find.FIXED,
        "RetrieveAETitle": find.FIXED,
        "PatientName": find.MAIN_TAG,
        "StudyDate": find.MAIN_TAG,
        "StudyInstanceUID": find.MAIN_TAG,
        "KVP": find.DATA_SET,
        "ReferencedStudySequence": find.DATA_SET,
        "NumberOfStudyRelatedSeries": find.COMPUTED,
        "ModalitiesInStudy": find.COMPUTED,
    }


def test_missing_unique_keys_of_higher_levels_are_universal_matching(archive):
    # PS3.4 wants PatientID and StudyInstanceUID here; Orthanc answers anyway, and so do we.
    assert values(ask("SERIES", find.PATIENT_ROOT, Modality="MR"), "Modality") == ["MR", "MR"]
    assert len(ask("IMAGE", find.STUDY_ROOT, SOPInstanceUID=RTPLAN_SOP)) == 1


# --- Matching at every level in both models -------------------------------------------

CT_SERIES = sorted([CT_SMALL_SERIES, SERIES["doe-ct"], SERIES["smith-ct"]])
TWO_INSTANCES = f"{INSTANCES['doe-ct-1']}\\{INSTANCES['doe-mr-1']}"
MATCHING = [
    # PATIENT level (Patient Root only)
    ("PATIENT", {"PatientID": "P-DOE"}, "PatientID", ["P-DOE"]),
    ("PATIENT", {"PatientID": "P-DOE\\P-SMITH"}, "PatientID", ["P-DOE", "P-SMITH"]),
    ("PATIENT", {"PatientName": "*Sample*"}, "PatientID", ["1CT1", "4MR1"]),
    ("PATIENT", {"PatientName": "SMITH^Ann?"}, "PatientID", ["P-SMITH"]),
    ("PATIENT", {"PatientBirthDate": "19600101-19751231"}, "PatientID", ["P-DOE"]),
    ("PATIENT", {"PatientBirthDate": "19800101-"}, "PatientID", ["P-SMITH"]),
    ("PATIENT", {"PatientSex": "F"}, "PatientID", ["4MR1", "P-SMITH"]),
    # STUDY level
    ("STUDY", {"StudyDate": "20200115"}, "AccessionNumber", ["ACC-1"]),
    ("STUDY", {"StudyDate": "20200101-20211231"}, "AccessionNumber", ["ACC-1", "ACC-2"]),
    # A range open below matches an empty value (the three chr* files'), as in Orthanc 1.10.1.
    ("STUDY", {"StudyDate": "-20040119"}, "StudyDate", ["", "", "", "20030716", "20040119"]),
    ("STUDY", {"StudyDate": "20191231-"}, "AccessionNumber", ["ACC-1", "ACC-2", "ACC-3"]),
    ("STUDY", {"StudyTime": "080000-150000"}, "StudyTime", ["081500", "143000"]),
    ("STUDY", {"StudyTime": "-0730"}, "StudyTime", ["", "", "", "072730"]),
    ("STUDY", {"StudyTime": "2300-"}, "StudyTime", ["235959"]),
    ("STUDY", {"AccessionNumber": "ACC-?"}, "AccessionNumber", ["ACC-1", "ACC-2", "ACC-3"]),
    ("STUDY", {"AccessionNumber": "ACC-1\\ACC-3"}, "AccessionNumber", ["ACC-1", "ACC-3"]),
    ("STUDY", {"StudyInstanceUID": f"{DOE_CHEST}\\{CT_SMALL_STUDY}"}, "StudyID", ["", "1CT1"]),
    ("STUDY", {"StudyDescription": "Brain"}, "AccessionNumber", ["ACC-1"]),
    ("STUDY", {"StudyDescription": "*rain"}, "AccessionNumber", ["ACC-1", "ACC-3"]),
    ("STUDY", {"PatientID": "P-DOE", "StudyDescription": "Ch*"}, "AccessionNumber", ["ACC-2"]),
    ("STUDY", {"ModalitiesInStudy": "MR"}, "StudyInstanceUID", sorted([DOE_BRAIN, MR_SMALL_STUDY])),
    ("STUDY", {"ModalitiesInStudy": "US\\RTPLAN"}, "StudyID", ["", "study1"]),
    ("STUDY", {"Modality": "CT"}, "StudyInstanceUID", []),  # a series key matches nothing, as in Orthanc
    # SERIES level
    ("SERIES", {"StudyInstanceUID": DOE_BRAIN}, "Modality", ["CT", "MR"]),
    ("SERIES", {"StudyInstanceUID": DOE_BRAIN, "Modality": "MR"}, "SeriesInstanceUID", [SERIES["doe-mr"]]),
    ("SERIES", {"Modality": "C?"}, "SeriesInstanceUID", CT_SERIES),
    ("SERIES", {"Modality": "US\\RTPLAN"}, "Modality", ["RTPLAN", "US"]),
    ("SERIES", {"SeriesInstanceUID": f"{SERIES['doe-us']}\\{SERIES['smith-ct']}"}, "Modality", ["CT", "US"]),
    ("SERIES", {"PatientName": "doe^john"}, "Modality", ["CT", "MR", "US"]),
    ("SERIES", {"StudyDate": "-20040119"}, "Modality", ["CT", "OT", "OT", "OT", "RTPLAN"]),
    ("SERIES", {"StudyTime": "2300-"}, "SeriesInstanceUID", [SERIES["smith-ct"]]),
    ("SERIES", {"SeriesNumber": "2"}, "Modality", ["RTPLAN"]),
    # IMAGE level
    ("IMAGE", {"SeriesInstanceUID": SERIES["doe-ct"]}, "InstanceNumber", ["1", "2"]),
    ("IMAGE", {"SeriesInstanceUID": SERIES["doe-ct"], "InstanceNumber": "2"}, "AccessionNumber", ["ACC-1"]),
    ("IMAGE", {"SOPInstanceUID": RTPLAN_SOP}, "SOPInstanceUID", [RTPLAN_SOP]),
    ("IMAGE", {"StudyInstanceUID": DOE_BRAIN, "SOPInstanceUID": TWO_INSTANCES}, "Modality", ["CT", "MR"]),
    ("IMAGE", {"StudyDate": "20210620"}, "SOPInstanceUID", [INSTANCES["doe-us-1"]]),
    ("IMAGE", {"StudyDate": "20200101-20201231"}, "SeriesInstanceUID", [SERIES["doe-ct"]] * 2 + [SERIES["doe-mr"]]),
    ("IMAGE", {"StudyTime": "080000-150000", "Modality": "C?"}, "InstanceNumber", ["1", "2"]),
    ("IMAGE", {"PatientName": "SMITH^Ann?"}, "SOPInstanceUID", [INSTANCES["smith-ct-1"]]),
    ("IMAGE", {"PatientID": "P-*", "KVP": "80"}, "SOPInstanceUID", [INSTANCES["smith-ct-1"]]),
]


IN_BOTH_MODELS = [
    (model, *case)
    for case in MATCHING
    for model in (find.PATIENT_ROOT, find.STUDY_ROOT)
    if model == find.PATIENT_ROOT or case[0] != "PATIENT"  # Study Root has no PATIENT level
]


@pytest.mark.parametrize("model, level, keys, shown, expected", IN_BOTH_MODELS)
def test_matching_at_every_level_in_both_models(archive, model, level, keys, shown, expected):
    answers = ask(level, model, **{shown: "", **keys})
    assert values(answers, shown) == expected


def test_universal_matching_answers_everything(archive):
    assert len(ask("PATIENT", find.PATIENT_ROOT, PatientID="")) == 8
    assert len(ask("STUDY", PatientName="*", StudyDate="")) == 9
    assert len(ask("SERIES", Modality="")) == 10
    assert len(ask("IMAGE", SOPInstanceUID="")) == 11


def test_a_wildcard_on_a_date_or_a_time_is_refused(archive):
    for keys in ({"StudyDate": "2004*"}, {"StudyTime": "07?000"}, {"PatientBirthDate": "1970*"}):
        with pytest.raises(find.FindRefused) as refused:
            ask("STUDY", **keys)
        assert refused.value.status == find.UNABLE_TO_PROCESS == 0xC000
        assert "Wildcards are not allowed" in refused.value.comment


def test_person_names_ignore_case_other_keys_do_not(archive):
    assert values(ask("STUDY", PatientName="doe^JOHN", AccessionNumber=""), "AccessionNumber") == ["ACC-1", "ACC-2"]
    assert values(ask("STUDY", PatientName="smith*", AccessionNumber=""), "AccessionNumber") == ["ACC-3"]
    assert ask("STUDY", PatientID="p-doe") == []
    assert ask("STUDY", StudyDescription="BRAIN") == []
    assert ask("SERIES", Modality="ct") == []


def test_the_setting_makes_person_names_case_sensitive(archive, settings):
    settings.PHAROS_DICOM_CASE_SENSITIVE_PN = True
    assert ask("STUDY", PatientName="doe^john") == []
    assert values(ask("STUDY", PatientName="Doe^John", AccessionNumber=""), "AccessionNumber") == ["ACC-1", "ACC-2"]


def test_a_non_main_tag_is_a_constraint_and_a_return_key(archive):
    answers = ask("STUDY", KVP="120", PatientAge="", StudyInstanceUID="")
    assert values(answers, "StudyInstanceUID") == sorted([CT_SMALL_STUDY, DOE_BRAIN])
    assert values(answers, "PatientAge") == ["000Y", "050Y"]
    assert values(answers, "KVP") == ["120", "120"]
    assert values(ask("SERIES", KVP="80", SeriesInstanceUID=""), "SeriesInstanceUID") == [SERIES["smith-ct"]]


# --- The limit ------------------------------------------------------------------------


def test_instances_have_their_own_limit_as_in_orthanc(archive, settings):
    # Orthanc: LimitFindInstances caps IMAGE-level answers, LimitFindResults the others.
    settings.PHAROS_DICOM_LIMIT_FIND_INSTANCES = 2
    settings.PHAROS_DICOM_LIMIT_FIND_RESULTS = 1
    instances = find.search(find.parse_request(identifier("IMAGES", SOPInstanceUID=""), find.STUDY_ROOT))
    assert (len(instances), instances.truncated) == (2, True)
    studies = find.search(find.parse_request(identifier("STUDY", StudyInstanceUID=""), find.STUDY_ROOT))
    assert (len(studies), studies.truncated) == (1, True)
    settings.PHAROS_DICOM_LIMIT_FIND_INSTANCES = 0
    instances = find.search(find.parse_request(identifier("IMAGE", SOPInstanceUID=""), find.STUDY_ROOT))
    assert not instances.truncated and len(instances) > 2


def test_the_limit_keeps_the_first_matches_and_says_so(archive, settings):
    settings.PHAROS_DICOM_LIMIT_FIND_RESULTS = 4
    found = find.search(find.parse_request(identifier("STUDY", StudyInstanceUID=""), find.STUDY_ROOT))
    assert (len(found), found.truncated) == (4, True)
    everything = ask("STUDY", limit=0, StudyInstanceUID="")
    assert [answer.StudyInstanceUID for answer in found.answers()] == [a.StudyInstanceUID for a in everything[:4]]
    exactly = find.search(find.parse_request(identifier("STUDY", StudyInstanceUID=""), find.STUDY_ROOT), limit=9)
    assert (len(exactly), exactly.truncated) == (9, False)


def test_computed_keys_of_a_cut_answer(archive):
    answers = ask("STUDY", limit=3, StudyInstanceUID="", NumberOfStudyRelatedInstances="", ModalitiesInStudy="")
    everything = ask("STUDY", limit=0, StudyInstanceUID="", NumberOfStudyRelatedInstances="", ModalitiesInStudy="")
    shown = [(a.StudyInstanceUID, a.NumberOfStudyRelatedInstances, a.ModalitiesInStudy) for a in answers]
    assert shown == [(a.StudyInstanceUID, a.NumberOfStudyRelatedInstances, a.ModalitiesInStudy) for a in everything[:3]]


def test_the_limit_applies_after_data_set_matching(archive):
    found = find.search(find.parse_request(identifier("IMAGE", KVP="120"), find.STUDY_ROOT), limit=2)
    assert (len(found), found.truncated) == (2, True)


# --- Over the network -----------------------------------------------------------------


@pytest.fixture
def finder(dicom_server):
    """findscu's default calling AE, registered as a modality that may query."""
    Modality.objects.create(name="finder", aet="FINDSCU", host="127.0.0.1", port=104)
    return dicom_server


def findscu(server, tmp_path, *args):
    """Run findscu with -X; returns (the process, the answers read back)."""
    out = tmp_path / "answers"
    out.mkdir(exist_ok=True)
    for old in out.iterdir():
        old.unlink()
    result = dcmtk("findscu", "-aec", "PHAROS", "-X", "-od", out, *args, "127.0.0.1", port_of(server))
    answers = [pydicom.dcmread(path) for path in sorted(out.glob("rsp*.dcm"))]
    return result, answers


def as_list(value):
    return list(value) if isinstance(value, pydicom.multival.MultiValue) else [value]


def test_findscu_at_orthancs_images_level_gets_orthancs_answers(archive, finder, tmp_path):
    # Orthanc 1.10.1 to `findscu -S -k QueryRetrieveLevel=IMAGES -k PatientName -k SOPInstanceUID
    # -k 0002,0010 -k 0002,0002`: answers at IMAGES level, in ISO_IR 100 (DefaultEncoding
    # Latin1, no SpecificCharacterSet in the query), with no group 0002 element.
    result, answers = findscu(
        finder,
        tmp_path,
        "-S",
        "-k", "QueryRetrieveLevel=IMAGES",
        "-k", "PatientName",
        "-k", "SOPInstanceUID",
        "-k", "0002,0010",
        "-k", "0002,0002",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout
    assert answers and len(answers) == Instance.objects.count()
    for answer in answers:
        assert answer.QueryRetrieveLevel == "IMAGES"
        assert all(tag.group != 0x0002 for tag in answer.keys())  # findscu's own file meta aside
        if str(answer.PatientName).isascii():
            assert answer.SpecificCharacterSet == "ISO_IR 100"


def test_findscu_study_root_study_level(archive, finder, tmp_path):
    result, answers = findscu(
        finder,
        tmp_path,
        "-S",
        "-k", "QueryRetrieveLevel=STUDY",
        "-k", "PatientName=doe*",
        "-k", "StudyDate=20200101-",
        "-k", "AccessionNumber",
        "-k", "ModalitiesInStudy",
        "-k", "NumberOfStudyRelatedInstances",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted((a.AccessionNumber, as_list(a.ModalitiesInStudy)) for a in answers) == [
        ("ACC-1", ["CT", "MR"]),
        ("ACC-2", ["US"]),
    ]
    assert sorted(int(a.NumberOfStudyRelatedInstances) for a in answers) == [1, 3]
    assert {a.RetrieveAETitle for a in answers} == {"PHAROS"}
    assert {a.QueryRetrieveLevel for a in answers} == {"STUDY"}


def test_findscu_patient_root_every_level(archive, finder, tmp_path):
    patient = ["-P", "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=P-*", "-k", "NumberOfPatientRelatedStudies"]
    result, answers = findscu(finder, tmp_path, *patient)
    assert result.returncode == 0, result.stdout + result.stderr
    shown = sorted((a.PatientID, int(a.NumberOfPatientRelatedStudies)) for a in answers)
    assert shown == [("P-DOE", 2), ("P-SMITH", 1)]
    series = ["-P", "-k", "QueryRetrieveLevel=SERIES", "-k", "PatientID=P-DOE", "-k", f"StudyInstanceUID={DOE_BRAIN}"]
    result, answers = findscu(finder, tmp_path, *series, "-k", "Modality", "-k", "NumberOfSeriesRelatedInstances")
    assert sorted((a.Modality, int(a.NumberOfSeriesRelatedInstances)) for a in answers) == [("CT", 2), ("MR", 1)]
    image = ["-P", "-k", "QueryRetrieveLevel=IMAGE", "-k", f"SeriesInstanceUID={SERIES['doe-ct']}"]
    result, answers = findscu(finder, tmp_path, *image, "-k", "SOPInstanceUID", "-k", "KVP")
    assert sorted((a.SOPInstanceUID, a.KVP) for a in answers) == [
        (INSTANCES["doe-ct-1"], 120),
        (INSTANCES["doe-ct-2"], 120),
    ]


def test_findscu_japanese_name_in_utf8_or_in_the_query_character_set(archive, finder, tmp_path):
    keys = ["-S", "-k", "QueryRetrieveLevel=STUDY", "-k", "PatientID=H31EXAMPLE", "-k", "PatientName"]
    result, (answer,) = findscu(finder, tmp_path, *keys)
    assert (answer.SpecificCharacterSet, str(answer.PatientName)) == ("ISO_IR 192", H31_NAME)
    result, (answer,) = findscu(finder, tmp_path, *keys, "-k", "SpecificCharacterSet=\\ISO 2022 IR 87")
    assert list(answer.SpecificCharacterSet) == ["", "ISO 2022 IR 87"]
    assert str(answer.PatientName) == H31_NAME


# findscu proposes implicit VR alone, or explicit VR little endian among others (which our
# server prefers to big endian and deflate: the pynetdicom tests below cover those).
@pytest.mark.parametrize("proposed", ["-xi", "-xe"])
def test_findscu_reads_the_answers_in_implicit_and_explicit_vr(archive, finder, tmp_path, proposed):
    keys = ["-k", "QueryRetrieveLevel=STUDY", "-k", "PatientName", "-k", "StudyDescription", "-k", "ModalitiesInStudy"]
    result, answers = findscu(finder, tmp_path, "-S", proposed, *keys, "-k", "NumberOfStudyRelatedInstances")
    assert result.returncode == 0, result.stdout + result.stderr
    expected = ask("STUDY", PatientName="", StudyDescription="", ModalitiesInStudy="", NumberOfStudyRelatedInstances="")
    shown = sorted((str(a.PatientName), a.StudyDescription, as_list(a.ModalitiesInStudy)) for a in answers)
    assert shown == sorted((str(a.PatientName), a.StudyDescription, as_list(a.ModalitiesInStudy)) for a in expected)
    assert H31_NAME in [str(a.PatientName) for a in answers]


def test_findscu_date_wildcard_fails(archive, finder, tmp_path):
    result, answers = findscu(finder, tmp_path, "-S", "-d", "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyDate=2004*")
    assert answers == []
    output = result.stdout + result.stderr
    assert "DIMSE Status                  : 0xc000" in output and "Wildcards are not allowed on tag 0008,0020" in output


def test_findscu_from_an_unknown_ae_is_refused(archive, dicom_server, tmp_path):
    result, answers = findscu(dicom_server, tmp_path, "-S", "-v", "-aet", "STRANGER", "-k", "QueryRetrieveLevel=STUDY")
    assert answers == []
    assert "Unknown Status: 0x124" in result.stdout + result.stderr  # DCMTK has no name for "Refused: Not Authorized"


def test_findscu_sees_the_limit(archive, finder, tmp_path, settings):
    settings.PHAROS_DICOM_LIMIT_FIND_RESULTS = 2
    result, answers = findscu(finder, tmp_path, "-S", "-d", "-k", "QueryRetrieveLevel=STUDY", "-k", "StudyInstanceUID")
    assert len(answers) == 2
    output = result.stdout + result.stderr
    assert "DIMSE Status                  : 0xa700" in output
    assert "Too many matches: only the first 2 were sent" in output


def pynetdicom_find(server, query, sop_class=StudyRootQueryRetrieveInformationModelFind, aet="PYFIND"):
    ae = AE(ae_title=aet)
    ae.add_requested_context(sop_class)
    assoc = ae.associate("127.0.0.1", port_of(server), ae_title="PHAROS")
    assert assoc.is_established
    try:
        return [(status.Status, answer) for status, answer in assoc.send_c_find(query, sop_class)]
    finally:
        assoc.release()


@pytest.fixture
def pyfind(dicom_server):
    """pynetdicom_find's AE title, registered as a modality that may query."""
    Modality.objects.create(name="pyfind", aet="PYFIND", host="127.0.0.1", port=104)
    return dicom_server


def test_pynetdicom_one_pending_answer_per_match_then_success(archive, pyfind):
    responses = pynetdicom_find(pyfind, identifier("SERIES", StudyInstanceUID=DOE_BRAIN, Modality=""))
    assert [status for status, _ in responses] == [0xFF00, 0xFF00, 0x0000]
    assert sorted(answer.Modality for _, answer in responses[:-1]) == ["CT", "MR"]


def test_pynetdicom_both_models(archive, pyfind):
    responses = pynetdicom_find(pyfind, identifier("STUDY", PatientID="P-DOE", StudyDescription="", StudyTime=""))
    assert [status for status, _ in responses] == [0xFF00, 0xFF00, 0x0000]
    assert sorted(answer.StudyDescription for _, answer in responses[:-1]) == ["Brain", "Chest"]
    responses = pynetdicom_find(
        pyfind,
        identifier("PATIENT", PatientName="", PatientID="SCSGREEK"),
        PatientRootQueryRetrieveInformationModelFind,
    )
    (status, answer), (final, _) = responses
    assert (status, final) == (0xFF00, 0x0000)
    assert (answer.SpecificCharacterSet, str(answer.PatientName)) == ("ISO_IR 192", GREEK_NAME)


@pytest.mark.parametrize(
    "transfer_syntax",
    [ImplicitVRLittleEndian, ExplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian],
    ids=lambda uid: uid.name,
)
@pytest.mark.parametrize("max_pdu", [64, 16382])
def test_pynetdicom_reads_the_answers_in_each_transfer_syntax_and_pdu_size(archive, pyfind, transfer_syntax, max_pdu):
    keys = {"SOPInstanceUID": "", "PatientName": "", "KVP": "", "Rows": "", "ImageType": "", "BeamSequence": []}
    expected = sorted(ask("IMAGE", **keys), key=lambda answer: answer.SOPInstanceUID)
    ae = AE(ae_title="PYFIND")
    ae.maximum_pdu_size = max_pdu  # 64: every command set and identifier in several PDUs
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind, [transfer_syntax])
    assoc = ae.associate("127.0.0.1", port_of(pyfind), ae_title="PHAROS")
    try:
        responses = list(assoc.send_c_find(identifier("IMAGE", **keys), StudyRootQueryRetrieveInformationModelFind))
    finally:
        assoc.release()
    assert [status.Status for status, _ in responses] == [0xFF00] * len(expected) + [0x0000]
    answers = sorted((answer for _, answer in responses[:-1]), key=lambda answer: answer.SOPInstanceUID)
    # The elements as received, written again as they came, are those of the expected answers.
    flags = (transfer_syntax.is_implicit_VR, transfer_syntax.is_little_endian)
    assert [encode(answer, *flags) for answer in answers] == [encode(answer, *flags) for answer in expected]


def test_pynetdicom_bad_queries_are_answered_by_a_failure(archive, pyfind):
    (status, answer), = pynetdicom_find(pyfind, identifier("STUDY", StudyDate="2020*"))
    assert (status, answer) == (0xC000, None)
    (status, answer), = pynetdicom_find(pyfind, identifier("FRAME"))
    assert (status, answer) == (0xC000, None)
    # As Orthanc, the PATIENT level in the Study Root model too.
    responses = pynetdicom_find(pyfind, identifier("PATIENT"))
    assert [status for status, _ in responses] == [0xFF00] * 8 + [0x0000]
    responses = pynetdicom_find(pyfind, identifier("PATIENT"), PatientRootQueryRetrieveInformationModelFind)
    assert [status for status, _ in responses] == [0xFF00] * 8 + [0x0000]


def test_pynetdicom_sees_the_limit(archive, pyfind, settings):
    settings.PHAROS_DICOM_LIMIT_FIND_RESULTS = 3
    ae = AE(ae_title="PYFIND")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    assoc = ae.associate("127.0.0.1", port_of(pyfind), ae_title="PHAROS")
    query = identifier("STUDY", StudyInstanceUID="")
    try:
        responses = list(assoc.send_c_find(query, StudyRootQueryRetrieveInformationModelFind))
    finally:
        assoc.release()
    assert [status.Status for status, _ in responses] == [0xFF00] * 3 + [0xA700]
    assert responses[-1][0].ErrorComment == "Too many matches: only the first 3 were sent"


def test_pynetdicom_query_in_cyrillic_answered_in_cyrillic(archive, pyfind):
    query = identifier("PATIENT", charset="ISO_IR 144", PatientName="Люк*", PatientID="")
    (status, answer), (final, _) = pynetdicom_find(pyfind, query, PatientRootQueryRetrieveInformationModelFind)
    assert (status, final) == (0xFF00, 0x0000)
    assert (answer.PatientID, answer.SpecificCharacterSet, str(answer.PatientName)) == (
        "SCSRUSS",
        "ISO_IR 144",
        "Люкceмбypг",
    )


def test_pynetdicom_unknown_ae_is_refused(archive, dicom_server):
    responses = pynetdicom_find(dicom_server, identifier("STUDY", PatientID=""), aet="STRANGER")
    assert [status for status, _ in responses] == [0x0124]


def test_pynetdicom_cancel_after_the_first_answer(archive, pyfind, monkeypatch):
    answer_values = find.Found.answer_values

    def answer_slowly(self, row):
        time.sleep(0.2)  # leaves time for the cancel to arrive before the next answer
        return answer_values(self, row)

    monkeypatch.setattr(find.Found, "answer_values", answer_slowly)
    ae = AE(ae_title="PYFIND")
    ae.add_requested_context(StudyRootQueryRetrieveInformationModelFind)
    assoc = ae.associate("127.0.0.1", port_of(pyfind), ae_title="PHAROS")
    statuses = []
    query = identifier("STUDY", StudyInstanceUID="")
    responses = assoc.send_c_find(query, StudyRootQueryRetrieveInformationModelFind, msg_id=7)
    for status, _ in responses:
        statuses.append(status.Status)
        if len(statuses) == 1:
            assoc.send_c_cancel(7, query_model=StudyRootQueryRetrieveInformationModelFind)
    assoc.release()
    assert statuses[0] == 0xFF00 and statuses[-1] == 0xFE00
    assert len(statuses) < 9
