"""explorer.query: the matching rules on their own, then find() on an index of real and made-up files."""

import pytest
from pydicom.data import get_testdata_file

from explorer import levels, query
from explorer.errors import ParameterOutOfRange, UnknownDicomTag
from explorer.ingest import Origin, store_instance
from explorer.models import Instance, Patient, Series, Study
from tests.conftest import CT_SMALL_IDS, dicom_bytes, make_dicom

pytestmark = [
    pytest.mark.django_db,
    # One made-up study has an old-style time, "10:15:00", on purpose.
    pytest.mark.filterwarnings("ignore:Invalid value for VR TM"),
]

MR_STUDY_UID = "1.3.6.1.4.1.5962.1.2.4.20040826185059.5457"
CT_STUDY_UID = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"


def one(level, name, value, ignore_case=True):
    """The single constraint of a one-key query."""
    rule = (lambda vr: True) if ignore_case else frozenset()
    (constraint,) = query.constraints_for(level, {name: value}, case_insensitive_vr=rule)
    return constraint


# --- Tags -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["PatientName", "0010,0010", "00100010", "0010,0010 "])
def test_a_tag_is_a_keyword_or_hex(name):
    assert query.tag_of(name) == 0x00100010


def test_an_unknown_keyword_is_an_error():
    with pytest.raises(UnknownDicomTag) as raised:
        query.constraints_for(levels.STUDY, {"Foo": "x"})
    assert str(raised.value) == "Unknown DICOM tag: Foo"


def test_a_private_tag_matches_its_value_exactly():
    constraint = one(levels.SERIES, "0009,1001", "A*")
    assert (constraint.keyword, constraint.vr, constraint.kind) == (None, "UN", "single")
    assert constraint.matches("A*") and not constraint.matches("AB")


# --- Universal matching and ignored keys ----------------------------------------------


@pytest.mark.parametrize("value", ["", None, "*", "**", "\\", " "])
def test_an_empty_value_or_a_lone_star_is_no_constraint(value):
    assert query.constraints_for(levels.STUDY, {"PatientName": value}) == []


def test_answer_shaping_and_count_keys_are_no_constraint():
    keys = {
        "QueryRetrieveLevel": "STUDY",
        "SpecificCharacterSet": "ISO_IR 100",
        "NumberOfStudyRelatedInstances": "3",
        "NumberOfPatientRelatedStudies": "1",
        "NumberOfSeriesRelatedInstances": "7",
    }
    assert query.constraints_for(levels.STUDY, keys) == []


# --- The kinds of matching ------------------------------------------------------------


def test_single_value_matching_follows_the_case_rule():
    assert one(levels.PATIENT, "PatientID", "1ct1").matches("1CT1")
    assert not one(levels.PATIENT, "PatientID", "1ct1", ignore_case=False).matches("1CT1")


def test_the_case_rule_can_be_a_set_of_vrs_as_for_c_find():
    pn_only = {"PN"}
    name, patient_id = query.constraints_for(
        levels.PATIENT, {"PatientName": "doe^john", "PatientID": "abc"}, case_insensitive_vr=pn_only
    )
    assert name.ignore_case and name.matches("DOE^JOHN")
    assert not patient_id.ignore_case and not patient_id.matches("ABC")


def test_star_and_question_mark_are_wildcards_on_text_vrs():
    constraint = one(levels.PATIENT, "PatientName", "*CT?")
    assert constraint.kind == "wildcard"
    assert constraint.matches("CompressedSamples^CT1")
    assert not constraint.matches("CompressedSamples^CT12")
    assert not constraint.matches("CompressedSamples^CT")


def test_wildcards_treat_regex_characters_literally():
    constraint = one(levels.STUDY, "StudyDescription", "a.b(c)*")
    assert constraint.matches("a.b(c) and more")
    assert not constraint.matches("axb(c)")


def test_wildcards_are_plain_characters_on_uids():
    constraint = one(levels.STUDY, "StudyInstanceUID", "1.2.*")
    assert constraint.kind == "single"
    assert constraint.matches("1.2.*") and not constraint.matches("1.2.3")


@pytest.mark.parametrize(
    "name, value", [("StudyDate", "2004*"), ("StudyTime", "07?000"), ("AcquisitionDateTime", "2004*")]
)
def test_a_wildcard_on_a_date_or_time_is_an_error(name, value):
    with pytest.raises(ParameterOutOfRange) as raised:
        query.constraints_for(levels.STUDY, {name: value})
    assert str(raised.value) == f"Wildcards are not allowed on tag {query.orthanc_tag(query.tag_of(name))}"


def test_the_error_names_the_tag_as_orthanc_does():
    with pytest.raises(ParameterOutOfRange, match="Wildcards are not allowed on tag 0008,0020"):
        query.constraints_for(levels.STUDY, {"StudyDate": "2004*"})


@pytest.mark.parametrize(
    "value, inside, outside",
    [
        ("20040101-20041231", ["20040101", "20040119", "20041231"], ["20031231", "20050101", ""]),
        ("-20040119", ["20040119", "19991231"], ["20040120", ""]),
        ("20040119-", ["20040119", "20261231"], ["20040118", ""]),
    ],
)
def test_date_ranges_are_inclusive_and_may_be_open(value, inside, outside):
    constraint = one(levels.STUDY, "StudyDate", value)
    assert constraint.kind == "range"
    assert all(constraint.matches(text) for text in inside)
    assert not any(constraint.matches(text) for text in outside)


@pytest.mark.parametrize(
    "value, inside, outside",
    [
        ("070000-080000", ["070000", "072730", "080000", "080000.5", "07", "0730"], ["065959", "080001", "09"]),
        ("07-08", ["070000", "085959.999", "08"], ["065959", "090000"]),
        ("07:00-08:00", ["07:27:30", "072730"], ["08:01:00"]),
        ("-0730", ["0700", "073059"], ["0731"]),
    ],
)
def test_time_ranges_compare_on_the_common_precision(value, inside, outside):
    constraint = one(levels.STUDY, "StudyTime", value)
    assert all(constraint.matches(text) for text in inside), value
    assert not any(constraint.matches(text) for text in outside), value


def test_a_dash_is_a_plain_character_outside_dates_and_times():
    constraint = one(levels.STUDY, "AccessionNumber", "A-1")
    assert constraint.kind == "single" and constraint.matches("a-1")


def test_a_backslash_makes_a_list_of_values_or_wildcards():
    modality = one(levels.SERIES, "Modality", "CT\\M?")
    assert modality.kind == "list"
    assert [modality.matches(m) for m in ("CT", "MR", "mg", "US", "CTX")] == [True, True, True, False, False]
    uids = one(levels.STUDY, "StudyInstanceUID", "1.2\\1.3")
    assert uids.matches("1.3") and not uids.matches("1.2.3")


def test_a_list_of_date_ranges():
    constraint = one(levels.STUDY, "StudyDate", "-20000101\\20040119")
    assert constraint.matches("19990101") and constraint.matches("20040119")
    assert not constraint.matches("20040120")


def test_numbers_read_from_a_data_set_compare_as_numbers():
    kvp = one(levels.SERIES, "KVP", "120")
    assert kvp.matches("120.0") and kvp.matches("120")
    assert not kvp.matches("12") and not kvp.matches("abc")


def test_an_absent_value_never_matches():
    assert not one(levels.PATIENT, "PatientSex", "M").matches(None)


# --- Where constraints are checked ----------------------------------------------------


def test_the_plan_sends_main_tags_to_sql_and_other_tags_to_the_data_sets():
    constraints = query.constraints_for(
        levels.SERIES, {"PatientName": "A*", "StudyDescription": "B", "Modality": "CT", "KVP": "120"}
    )
    plan = query.plan_for(levels.SERIES, constraints)
    assert [c.keyword for c in plan.in_dataset] == ["KVP"]
    sql = str(Series.objects.filter(plan.condition).query)
    assert "patient_name" in sql and "study_description" in sql and "modality" in sql


# --- find() on an index ---------------------------------------------------------------


def store(data):
    return store_instance(data, Origin()).ids


def store_file(name):
    return store(dicom_bytes(name))


def public_ids(resources):
    return [resource.public_id for resource in resources]


@pytest.fixture
def index():
    """CT_small, MR_small and three made-up studies."""
    return {
        "ct": store_file("CT_small.dcm"),
        "mr": store_file("MR_small.dcm"),
        "doe": store(
            make_dicom(
                PatientID="P-DOE",
                PatientName="Doe^John",
                PatientSex="M",
                StudyDate="20240315",
                StudyTime="10:15:00",
                StudyDescription="Chest e+1",
                Modality="DX",
            )
        ),
        "roe": store(make_dicom(PatientID="P-ROE", PatientName="Roe^Jane", StudyDate="19991231", Modality="CT")),
        "nameless": store(make_dicom(PatientID="P-NONE", PatientName=None, StudyDate="", Modality="MR")),
    }


def study_ids(index, *names):
    return [index[name][1] for name in names]


def test_a_wildcard_on_the_patient_name_at_study_level(index):
    assert public_ids(query.find(levels.STUDY, {"PatientName": "*CT1"})) == [CT_SMALL_IDS["study"]]


def test_case_insensitive_unless_asked(index):
    assert public_ids(query.find(levels.PATIENT, {"PatientID": "1ct1"})) == [CT_SMALL_IDS["patient"]]
    assert query.find(levels.PATIENT, {"PatientID": "1ct1"}, case_sensitive=True) == []
    assert public_ids(query.find(levels.PATIENT, {"PatientName": "compressed*"})) == [
        index["ct"][0],
        index["mr"][0],
    ]
    assert query.find(levels.PATIENT, {"PatientName": "compressed*"}, case_sensitive=True) == []
    assert len(query.find(levels.PATIENT, {"PatientName": "Compressed*"}, case_sensitive=True)) == 2


def test_case_insensitive_on_a_main_tags_key(index):
    assert public_ids(query.find(levels.STUDY, {"StudyDescription": "CHEST E+1"})) == study_ids(index, "doe")
    assert public_ids(query.find(levels.PATIENT, {"PatientSex": "m"})) == [index["doe"][0]]
    assert query.find(levels.PATIENT, {"PatientSex": "m"}, case_sensitive=True) == []


@pytest.mark.parametrize(
    "value, expected",
    [
        ("20040101-20041231", ["ct", "mr"]),
        ("-20040119", ["ct", "roe"]),
        ("20040826-", ["mr", "doe"]),
        ("20040119", ["ct"]),
        ("19991231\\20240315", ["doe", "roe"]),
    ],
)
def test_date_matching_in_sql(index, value, expected):
    found = public_ids(query.find(levels.STUDY, {"StudyDate": value}))
    assert sorted(found) == sorted(study_ids(index, *expected))


def test_time_ranges_on_a_main_tags_key(index):
    # CT 072730, MR 185059, Doe stored as "10:15:00"
    assert public_ids(query.find(levels.STUDY, {"StudyTime": "070000-080000"})) == study_ids(index, "ct")
    assert public_ids(query.find(levels.STUDY, {"StudyTime": "07-08"})) == study_ids(index, "ct")
    assert public_ids(query.find(levels.STUDY, {"StudyTime": "10:00-11:00"})) == study_ids(index, "doe")
    assert public_ids(query.find(levels.STUDY, {"StudyTime": "1015"})) == []
    assert public_ids(query.find(levels.STUDY, {"StudyTime": "101500"})) == study_ids(index, "doe")
    assert public_ids(query.find(levels.STUDY, {"StudyTime": "18-"})) == study_ids(index, "mr")


def test_a_wildcard_on_a_date_is_refused_before_any_query(index):
    with pytest.raises(ParameterOutOfRange):
        query.find(levels.STUDY, {"StudyDate": "2004*"})


def test_question_mark_wildcard(index):
    found = query.find(levels.PATIENT, {"PatientName": "?oe^*"})
    assert public_ids(found) == [index["doe"][0], index["roe"][0]]


def test_a_modality_list_at_series_level_with_paging(index):
    everything = public_ids(query.find(levels.SERIES, {"Modality": "CT\\MR"}))
    assert everything == [index[name][2] for name in ("ct", "mr", "roe", "nameless")]
    assert public_ids(query.find(levels.SERIES, {"Modality": "CT\\MR"}, limit=2)) == everything[:2]
    assert public_ids(query.find(levels.SERIES, {"Modality": "CT\\MR"}, limit=2, since=1)) == everything[1:3]
    assert public_ids(query.find(levels.SERIES, {"Modality": "CT\\MR"}, since=3)) == everything[3:]
    assert query.find(levels.SERIES, {"Modality": "CT\\MR"}, since=10) == []


def test_results_are_ordered_by_primary_key(index):
    found = query.find(levels.INSTANCE, {})
    assert [i.pk for i in found] == sorted(i.pk for i in Instance.objects.all())


def test_uid_lists(index):
    found = query.find(levels.STUDY, {"StudyInstanceUID": f"{MR_STUDY_UID}\\{CT_STUDY_UID}\\1.2.3"})
    assert public_ids(found) == study_ids(index, "ct", "mr")


def test_modalities_in_study(index):
    assert public_ids(query.find(levels.STUDY, {"ModalitiesInStudy": "CT"})) == study_ids(index, "ct", "roe")
    found = query.find(levels.STUDY, {"ModalitiesInStudy": "dx\\mr"})
    assert public_ids(found) == study_ids(index, "mr", "doe", "nameless")
    assert public_ids(query.find(levels.PATIENT, {"ModalitiesInStudy": "DX"})) == [index["doe"][0]]
    assert public_ids(query.find(levels.SERIES, {"ModalitiesInStudy": "DX"})) == [index["doe"][2]]


def test_sop_classes_in_study(index):
    ct_image_storage = "1.2.840.10008.5.1.4.1.1.2"
    assert public_ids(query.find(levels.STUDY, {"SOPClassesInStudy": ct_image_storage})) == study_ids(index, "ct")
    assert public_ids(query.find(levels.PATIENT, {"SOPClassesInStudy": ct_image_storage})) == [index["ct"][0]]


def test_modalities_in_study_looks_at_every_series_of_the_study(index):
    roe_study_uid = Study.objects.get(public_id=index["roe"][1]).study_instance_uid
    second_series = store(make_dicom(PatientID="P-ROE", StudyInstanceUID=roe_study_uid, Modality="PR"))
    assert second_series[1] == index["roe"][1]
    assert public_ids(query.find(levels.STUDY, {"ModalitiesInStudy": "PR"})) == study_ids(index, "roe")
    found = query.find(levels.STUDY, {"ModalitiesInStudy": "CT", "PatientID": "P-ROE"})
    assert public_ids(found) == study_ids(index, "roe")


def test_a_main_tag_of_a_lower_level_matches_nothing(index):
    assert query.find(levels.STUDY, {"Modality": "CT"}) == []
    assert query.find(levels.PATIENT, {"StudyDate": "20040119"}) == []
    assert query.find(levels.SERIES, {"SOPInstanceUID": ""}) != []  # universal matching: no constraint


def test_main_tags_of_upper_levels_filter_through_the_parents(index):
    found = query.find(levels.INSTANCE, {"PatientName": "doe*", "StudyDate": "2024-", "Modality": "DX"})
    assert public_ids(found) == [index["doe"][3]]


def test_a_resource_without_the_tag_does_not_match(index):
    assert query.find(levels.PATIENT, {"PatientSex": "?"}) != []
    nameless = index["nameless"][0]
    assert nameless not in public_ids(query.find(levels.PATIENT, {"PatientName": "?*"}))
    assert nameless not in public_ids(query.find(levels.STUDY, {"StudyDate": "-20301231"}))


def test_a_non_main_tag_is_read_from_the_first_instance(index):
    assert public_ids(query.find(levels.SERIES, {"KVP": "120"})) == [CT_SMALL_IDS["series"]]
    assert public_ids(query.find(levels.STUDY, {"KVP": "120"})) == [CT_SMALL_IDS["study"]]
    assert public_ids(query.find(levels.PATIENT, {"KVP": "120"})) == [CT_SMALL_IDS["patient"]]
    assert public_ids(query.find(levels.INSTANCE, {"SliceThickness": "5"})) == [CT_SMALL_IDS["instance"]]
    assert public_ids(query.find(levels.SERIES, {"InstitutionName": "jfk*\\TOSHIBA"})) == [
        index["ct"][2],
        index["mr"][2],
    ]
    assert query.find(levels.SERIES, {"InstitutionName": "jfk*"}, case_sensitive=True) == []


def test_a_non_main_tag_by_its_number_and_with_main_tags(index):
    found = query.find(levels.SERIES, {"0018,0060": "120", "Modality": "CT"})
    assert public_ids(found) == [CT_SMALL_IDS["series"]]
    assert query.find(levels.SERIES, {"0018,0060": "120", "Modality": "MR"}) == []


def test_two_keys_for_the_same_non_main_tag_must_both_match(index):
    keys = {"InstitutionName": "JFK*", "KVP": "120", "0018,0060": "80"}
    assert query.find(levels.SERIES, keys) == []
    keys["0018,0060"] = "120.0"
    assert public_ids(query.find(levels.SERIES, keys)) == [CT_SMALL_IDS["series"]]


def test_paging_applies_after_the_data_set_filter(index):
    more = [store(make_dicom(PatientID=f"P{n}", Modality="CT", KVP="80")) for n in range(4)]
    kvp_80 = [ids[2] for ids in more]
    assert public_ids(query.find(levels.SERIES, {"KVP": "80"})) == kvp_80
    assert public_ids(query.find(levels.SERIES, {"KVP": "80"}, limit=2, since=1)) == kvp_80[1:3]
    assert public_ids(query.find(levels.SERIES, {"KVP": "80\\120"}, limit=2)) == [CT_SMALL_IDS["series"], kvp_80[0]]


def test_data_set_matching_is_two_queries_whatever_the_number_of_candidates(index, django_assert_num_queries):
    for n in range(5):
        store(make_dicom(PatientID=f"P{n}", KVP="80"))
    # The candidates with the elements needed, then the matching resources.
    with django_assert_num_queries(2):
        assert len(query.find(levels.STUDY, {"KVP": "80", "PatientName": "test*"})) == 5
    with django_assert_num_queries(1):
        assert len(query.find_ids(levels.STUDY, {"KVP": "80", "PatientName": "test*"})) == 5


@pytest.mark.parametrize(
    "level, keys, limit, since",
    [
        (levels.STUDY, {"PatientName": "*o*"}, None, 0),
        (levels.SERIES, {"Modality": "CT\\MR"}, 2, 1),
        (levels.SERIES, {"KVP": "120\\80", "Modality": "CT"}, None, 0),
        (levels.INSTANCE, {"SliceThickness": "5"}, 1, 0),
        (levels.PATIENT, {"PatientSex": "?"}, 0, 1),
    ],
)
def test_find_ids_gives_the_ids_of_find(index, level, keys, limit, since):
    store(make_dicom(PatientID="P-KVP", KVP="80", Modality="CT"))
    expected = public_ids(query.find(level, keys, limit=limit, since=since))
    assert expected
    assert query.find_ids(level, keys, limit=limit, since=since) == expected


def test_sql_only_queries_are_one_query(index, django_assert_num_queries):
    with django_assert_num_queries(1):
        query.find(levels.STUDY, {"PatientName": "*CT1*", "StudyDate": "2000-"}, limit=5)
    with django_assert_num_queries(1):
        query.find_ids(levels.STUDY, {"PatientName": "*CT1*", "StudyDate": "2000-"}, limit=5)


def test_the_result_can_load_the_parents(index, django_assert_num_queries):
    found = query.find(levels.SERIES, {"Modality": "CT\\MR"})
    with django_assert_num_queries(1):
        found.select_related("study")
    with django_assert_num_queries(0):
        assert {series.study.public_id for series in found} == set(study_ids(index, "ct", "mr", "roe", "nameless"))


def test_other_test_files_are_found_by_their_tags():
    ids = {}
    for name in ("rtplan.dcm", "JPEG2000.dcm", "US1_J2KR.dcm"):
        if get_testdata_file(name, download=False):
            ids[name] = store_file(name)
    if "rtplan.dcm" in ids:
        assert public_ids(query.find(levels.SERIES, {"Modality": "RTPLAN"})) == [ids["rtplan.dcm"][2]]
    if "JPEG2000.dcm" in ids:
        found = query.find(levels.STUDY, {"StudyDescription": "whole body*", "PatientSex": "M"})
        assert public_ids(found) == [ids["JPEG2000.dcm"][1]]
    assert Patient.objects.count() == len(ids)
