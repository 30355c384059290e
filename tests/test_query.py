"""explorer.query: where constraints are checked, search() and its REST flavour find() on an index of real and
made-up files. The matching rules alone: tests/test_matching.py."""

import json

import pytest
from pydicom import config as pydicom_config
from pydicom.data import get_testdata_file
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset

from dicomnet import find
from explorer import computed_keys, levels, matching, query
from explorer.errors import ParameterOutOfRange
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


# --- Where constraints are checked ----------------------------------------------------


def test_the_plan_sends_main_tags_to_sql_and_other_tags_to_the_data_sets():
    constraints = matching.constraints_for(
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
        # An empty StudyDate matches a range open below, as in Orthanc 1.10.1.
        ("-20040119", ["ct", "roe", "nameless"]),
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


def test_a_range_open_below_matches_an_empty_date_not_an_absent_one(index):
    """Orthanc 1.10.1 (REST, C-FIND and QIDO-RS alike): its index compares "" <= "20301231"
    for a StudyDate present but empty, and holds nothing to compare for a file without one."""
    undated = store(make_dicom(PatientID="P-UNDATED", StudyDate=None))[1]
    found = public_ids(query.find(levels.STUDY, {"StudyDate": "-20301231"}))
    assert index["nameless"][1] in found and undated not in found
    assert index["nameless"][1] not in public_ids(query.find(levels.STUDY, {"StudyDate": "20000101-"}))


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
    # The objects of an expanded answer take one more, by primary key.
    with django_assert_num_queries(2):
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


# --- search(): the one search of every caller --------------------------------------------

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"
STUDY_COUNTS = ("NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances", "ModalitiesInStudy", "SOPClassesInStudy")


def rest(level, keys):
    return query.rest_constraints(level, keys, case_sensitive=False)


def test_search_reads_fields_and_main_tags_of_the_level_and_above(index):
    found = query.search(
        levels.SERIES,
        rest(levels.SERIES, {"Modality": "CT"}),
        fields=("public_id", "study__public_id"),
        main_tags=("Modality", "StudyDate", "PatientName"),
    )
    assert found.values("public_id") == [index["ct"][2], index["roe"][2]]
    assert found.values("study__public_id") == study_ids(index, "ct", "roe")
    assert found.values("Modality") == ["CT", "CT"]
    assert found.values("StudyDate") == ["20040119", "19991231"]
    assert found.values("PatientName") == ["CompressedSamples^CT1", "Roe^Jane"]
    assert (found.truncated, found.total) == (False, None)


def test_search_reads_elements_of_the_first_instance(index):
    found = query.search(levels.STUDY, rest(levels.STUDY, {"PatientID": "1CT1\\P-NONE"}), elements=("00180060",))
    ct_kvp, nameless_kvp = found.values("00180060")
    assert ct_kvp["vr"] == "DS" and float(ct_kvp["Value"][0]) == 120
    assert nameless_kvp is None  # the first instance has no such element


def test_search_refuses_a_main_tag_of_a_lower_level():
    with pytest.raises(ValueError, match="Modality is no main tag of the Study level"):
        query.search(levels.STUDY, [], main_tags=("Modality",))


def test_search_computes_counts_and_collected_values_per_row(index):
    found = query.search(levels.STUDY, [], computed=STUDY_COUNTS)
    by_row = [tuple(found.computed[keyword][pk] for keyword in STUDY_COUNTS) for pk in found.pks()]
    assert by_row[0] == ("1", "1", "CT", CT_IMAGE_STORAGE)  # CT_small
    assert [row[2] for row in by_row] == ["CT", "MR", "DX", "CT", "MR"]
    assert {row[:2] for row in by_row} == {("1", "1")}
    assert found.computed["NumberOfStudyRelatedInstances"][-1] == "0"  # a study no query saw
    patients = query.search(levels.PATIENT, [], computed=("NumberOfPatientRelatedStudies",))
    assert [patients.computed["NumberOfPatientRelatedStudies"][pk] for pk in patients.pks()] == ["1"] * 5


def test_search_refuses_a_computed_key_of_another_level():
    with pytest.raises(ValueError, match="NumberOfStudyRelatedInstances is not computed at the Series level"):
        query.search(levels.SERIES, [], computed=("NumberOfStudyRelatedInstances",))


def test_search_says_when_the_limit_cut_the_answer(index):
    cut = query.search(levels.STUDY, [], fields=("public_id",), limit=2)
    assert (cut.values("public_id"), cut.truncated) == (study_ids(index, "ct", "mr"), True)
    assert query.search(levels.STUDY, [], limit=5).truncated is False
    last = query.search(levels.STUDY, [], fields=("public_id",), limit=2, since=4)
    assert (last.values("public_id"), last.truncated) == (study_ids(index, "nameless"), False)


def test_search_says_when_the_limit_cut_an_answer_matched_in_the_data_sets(index):
    for n in range(4):
        store(make_dicom(PatientID=f"P{n}", KVP="80"))
    constraints = rest(levels.STUDY, {"KVP": "80"})
    assert [len(query.search(levels.STUDY, constraints, limit=n)) for n in (3, 4)] == [3, 4]
    assert [query.search(levels.STUDY, constraints, limit=n).truncated for n in (3, 4)] == [True, False]


def test_search_orders_pages_and_counts_as_the_explorer_lists_need(index, django_assert_num_queries):
    newest_first = ("-study_date", "-main_tags__StudyTime")
    everything = query.search(levels.STUDY, [], fields=("public_id",), order_by=newest_first, count_total=True)
    assert everything.values("public_id") == study_ids(index, "doe", "mr", "ct", "roe", "nameless")
    assert everything.total == 5
    with django_assert_num_queries(3):  # the page, its COUNT, one GROUP BY
        page = query.search(
            levels.STUDY,
            [],
            fields=("public_id",),
            computed=("NumberOfStudyRelatedInstances",),
            order_by=newest_first,
            limit=2,
            since=1,
            count_total=True,
        )
    assert page.values("public_id") == everything.values("public_id")[1:3]
    assert (page.truncated, page.total) == (True, 5)
    with django_assert_num_queries(1):  # the last page tells the total itself
        assert query.search(levels.STUDY, [], limit=2, since=4, count_total=True).total == 5


def test_search_counts_every_match_of_the_data_sets(index):
    for n in range(4):
        store(make_dicom(PatientID=f"P{n}", KVP="80"))
    page = query.search(levels.STUDY, rest(levels.STUDY, {"KVP": "80"}), limit=2, since=1, count_total=True)
    assert (len(page), page.truncated, page.total) == (2, True, 4)


def test_a_long_answer_set_is_a_subquery_and_a_list_of_ids_goes_in_chunks(index, monkeypatch):
    expected = query.search(levels.STUDY, [], computed=STUDY_COUNTS)
    monkeypatch.setattr(query, "SHORT_ANSWER", 1)
    long = query.search(levels.STUDY, [], computed=STUDY_COUNTS, limit=4)
    assert not isinstance(long.answer_set, list)
    assert {k: dict(v) for k, v in long.computed.items()} == {
        keyword: {pk: text for pk, text in values.items() if pk in long.pks()}
        for keyword, values in expected.computed.items()
    }
    monkeypatch.setattr(query, "SHORT_ANSWER", 1000)
    monkeypatch.setattr(computed_keys, "CHUNK", 2)
    chunked = query.search(levels.STUDY, [], computed=STUDY_COUNTS)
    assert chunked.answer_set == chunked.pks() and chunked.computed == expected.computed


def test_c_find_and_rest_find_go_through_the_same_search(index, api, monkeypatch):
    calls = []
    search = query.search

    def recorded(level, constraints, **wanted):
        found = search(level, constraints, **wanted)
        calls.append((level, sorted(constraint.keyword for constraint in constraints), found.pks()))
        return found

    monkeypatch.setattr(query, "search", recorded)
    keys = {"PatientName": "*o*", "StudyDate": "2000-", "InstitutionName": ""}
    body = {"Level": "Study", "Query": keys}
    response = api.post("/tools/find", data=json.dumps(body), content_type="application/json")
    identifier = Dataset()
    identifier.QueryRetrieveLevel = "STUDY"
    identifier.StudyInstanceUID = ""
    for keyword, value in keys.items():  # a range is no valid DA value: pydicom need not check it
        tag = tag_for_keyword(keyword)
        identifier.add(DataElement(tag, dictionary_VR(tag), value, validation_mode=pydicom_config.IGNORE))
    answers = find.find_answers(identifier, find.STUDY_ROOT)
    (rest_call, dicom_call) = calls
    assert rest_call == dicom_call == (levels.STUDY, ["PatientName", "StudyDate"], rest_call[2])
    studies = Study.objects.in_bulk(rest_call[2])
    assert response.json() == [studies[pk].public_id for pk in rest_call[2]] == study_ids(index, "ct", "mr", "doe")
    assert [answer.StudyInstanceUID for answer in answers] == [studies[pk].study_instance_uid for pk in rest_call[2]]


def test_the_study_keys_read_from_series_take_one_query_together(django_assert_num_queries):
    store_instance(dicom_bytes("CT_small.dcm"), Origin())
    store_instance(dicom_bytes("MR_small.dcm"), Origin())
    keys = ("ModalitiesInStudy", "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances")
    with django_assert_num_queries(2):
        found = query.search(levels.STUDY, (), computed=keys)
    together = {key: sorted(found.computed[key][pk] for pk in found.pks()) for key in keys}
    alone = query.search(levels.STUDY, (), computed=keys[:1])
    assert together == {
        "ModalitiesInStudy": ["CT", "MR"],
        "NumberOfStudyRelatedSeries": ["1", "1"],
        "NumberOfStudyRelatedInstances": ["1", "1"],
    }
    assert sorted(alone.computed["ModalitiesInStudy"][pk] for pk in alone.pks()) == ["CT", "MR"]


def test_count_is_one_count_query_when_sql_decides_and_counts_data_set_matches_too(django_assert_num_queries):
    store(dicom_bytes("CT_small.dcm"))
    for n in range(3):
        store(make_dicom(PatientID=f"P{n}", Modality="CT", KVP="80"))
    by_sql = query.rest_constraints(levels.SERIES, {"Modality": "CT"}, case_sensitive=False)
    with django_assert_num_queries(1):
        assert query.count(levels.SERIES, by_sql) == 4
    in_data_sets = query.rest_constraints(levels.SERIES, {"KVP": "80"}, case_sensitive=False)
    assert query.count(levels.SERIES, in_data_sets) == 3


# --- Orthanc's answers on the same files (Orthanc 1.10.1, REST /tools/find and C-FIND) --


@pytest.fixture
def names():
    """A UTF-8 Müller, a study without StudyDescription, and three studies of one PatientID
    under three names."""
    shared = [
        store(make_dicom(PatientID="SHARED", PatientName=name, StudyDescription=f"S{n}"))
        for n, name in enumerate(["Alpha^One", "Beta^Two", "Gamma^Three"])
    ]
    return {
        "muller": store(make_dicom(PatientID="PMULLER", PatientName="Müller^Hans", SpecificCharacterSet="ISO_IR 192")),
        "nodesc": store(make_dicom(PatientID="PNODESC", StudyDescription=None)),
        "empty": store(make_dicom(PatientID="PEMPTY", StudyDescription="")),
        "shared": shared,
    }


@pytest.mark.parametrize("name", ["MÜLLER*", "müller*", "mÜller^hans", "*ÜLL*"])
def test_case_insensitive_names_fold_letters_beyond_ascii(names, name):
    """Orthanc: MÜLLER*, müller* and mÜller^hans find Müller^Hans; MULLER* does not (no accent folding)."""
    for level, position in ((levels.PATIENT, 0), (levels.STUDY, 1)):
        found = query.find(level, {"PatientName": name})
        assert public_ids(found) == [names["muller"][position]]
    assert query.find(levels.PATIENT, {"PatientName": "MULLER*"}) == []


def test_cfind_rules_fold_person_names_beyond_ascii(names):
    constraints = matching.constraints_for(levels.STUDY, {"PatientName": "MÜLLER*"}, {"PN"})
    assert len(query.search(levels.STUDY, constraints)) == 1


def test_a_star_never_matches_a_tag_the_file_lacks(names):
    """Orthanc: {"StudyDescription": "*"} leaves out the study without one, keeps the empty one."""
    for value in ("*", "**"):
        found = public_ids(query.find(levels.STUDY, {"StudyDescription": value}))
        assert names["nodesc"][1] not in found
        assert names["empty"][1] in found
    assert names["nodesc"][1] in public_ids(query.find(levels.STUDY, {"StudyDescription": ""}))


def test_each_study_is_found_by_the_patient_tags_it_was_received_with(names):
    """Orthanc: three studies of PatientID SHARED, each under its own name, are found at study
    level by that name (REST and C-FIND); the patient keeps the first name."""
    for n, name in enumerate(["Alpha^One", "beta*", "GAMMA^THREE"]):
        found = public_ids(query.find(levels.STUDY, {"PatientName": name}))
        assert found == [names["shared"][n][1]]
        cfind = matching.constraints_for(levels.STUDY, {"PatientID": "SHARED", "PatientName": name}, {"PN"})
        assert query.search(levels.STUDY, cfind, fields=("public_id",)).values("public_id") == found
    # Below the study too (Orthanc: {"PatientName": "Beta*"} at Series and Instance levels).
    for level, position in ((levels.SERIES, 2), (levels.INSTANCE, 3)):
        assert public_ids(query.find(level, {"PatientName": "Beta*"})) == [names["shared"][1][position]]
    assert public_ids(query.find(levels.PATIENT, {"PatientName": "Alpha^One"})) == [names["shared"][0][0]]
    assert query.find(levels.PATIENT, {"PatientName": "Beta^Two"}) == []
    texts = query.search(
        levels.STUDY, matching.constraints_for(levels.STUDY, {"PatientID": "SHARED"}), main_tags=("PatientName",)
    )
    assert sorted(texts.values("PatientName")) == ["Alpha^One", "Beta^Two", "Gamma^Three"]
