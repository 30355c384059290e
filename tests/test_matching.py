"""explorer.matching: the matching rules of DICOM queries on their own, no database."""

import pytest

from explorer import forms, levels, matching
from explorer.errors import ParameterOutOfRange, UnknownDicomTag


def one(level, name, value, ignore_case=True):
    """The single constraint of a one-key query."""
    rule = (lambda vr: True) if ignore_case else frozenset()
    (constraint,) = matching.constraints_for(level, {name: value}, case_insensitive_vr=rule)
    return constraint


# --- Tags -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["PatientName", "0010,0010", "00100010", "0010,0010 "])
def test_a_tag_is_a_keyword_or_hex(name):
    assert matching.tag_of(name) == 0x00100010


def test_an_unknown_keyword_is_an_error():
    with pytest.raises(UnknownDicomTag) as raised:
        matching.constraints_for(levels.STUDY, {"Foo": "x"})
    assert str(raised.value) == "Unknown DICOM tag: Foo"


def test_a_private_tag_matches_its_value_exactly():
    constraint = one(levels.SERIES, "0009,1001", "A*")
    assert (constraint.keyword, constraint.vr, constraint.kind) == (None, "UN", "single")
    assert constraint.matches("A*") and not constraint.matches("AB")


# --- Universal matching and ignored keys ----------------------------------------------


@pytest.mark.parametrize("value", ["", None, "\\", " "])
def test_an_empty_value_is_no_constraint(value):
    assert matching.constraints_for(levels.STUDY, {"PatientName": value}) == []


@pytest.mark.parametrize("value", ["*", "**"])
def test_a_lone_star_asks_for_the_tag_to_be_there(value):
    """Orthanc 1.10.1: {"StudyDescription": "*"} (REST and C-FIND) leaves out the studies
    whose file has no StudyDescription; an empty one matches."""
    (constraint,) = matching.constraints_for(levels.STUDY, {"StudyDescription": value})
    assert constraint.kind == "present"
    assert constraint.matches("") and constraint.matches("CT HEAD")
    assert not constraint.matches(None)


def test_answer_shaping_and_count_keys_are_no_constraint():
    keys = {
        "QueryRetrieveLevel": "STUDY",
        "SpecificCharacterSet": "ISO_IR 100",
        "NumberOfStudyRelatedInstances": "3",
        "NumberOfPatientRelatedStudies": "1",
        "NumberOfSeriesRelatedInstances": "7",
    }
    assert matching.constraints_for(levels.STUDY, keys) == []


# --- The kinds of matching ------------------------------------------------------------


def test_single_value_matching_follows_the_case_rule():
    assert one(levels.PATIENT, "PatientID", "1ct1").matches("1CT1")
    assert not one(levels.PATIENT, "PatientID", "1ct1", ignore_case=False).matches("1CT1")


def test_the_case_rule_can_be_a_set_of_vrs_as_for_c_find():
    pn_only = {"PN"}
    name, patient_id = matching.constraints_for(
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
        matching.constraints_for(levels.STUDY, {name: value})
    assert str(raised.value) == f"Wildcards are not allowed on tag {matching.orthanc_tag(matching.tag_of(name))}"


def test_the_error_names_the_tag_as_orthanc_does():
    with pytest.raises(ParameterOutOfRange, match="Wildcards are not allowed on tag 0008,0020"):
        matching.constraints_for(levels.STUDY, {"StudyDate": "2004*"})


@pytest.mark.parametrize(
    "value, inside, outside",
    [
        ("20040101-20041231", ["20040101", "20040119", "20041231"], ["20031231", "20050101", ""]),
        # Orthanc 1.10.1 matches an empty value with a range open below ("" <= "20040119").
        ("-20040119", ["20040119", "19991231", ""], ["20040120"]),
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


# --- What the explorer's name box asks (explorer.forms.name_contains) -----------------


@pytest.mark.parametrize("typed", ["müller jürgen", "jürgen müller", "JÜRGEN MÜLLER", "Jürgen, Müller"])
def test_a_typed_name_matches_in_either_order_beyond_ascii_case(typed):
    constraint = one(levels.PATIENT, "PatientName", forms.name_contains(typed))
    assert constraint.matches("MÜLLER^JÜRGEN") and constraint.matches("Müller^Jürgen")
    assert not constraint.matches("MULLER^JURGEN")  # accents are not folded
    assert not constraint.matches("MÜLLER^HANS")


@pytest.mark.parametrize("typed", ["m*ller", "j?rgen m*ller", "m*ller j?rgen"])
def test_a_wildcard_inside_a_typed_word_stands_for_any_letters(typed):
    constraint = one(levels.PATIENT, "PatientName", forms.name_contains(typed))
    assert constraint.matches("MÜLLER^JÜRGEN") and constraint.matches("Muller^Jurgen")
    assert not constraint.matches("MEIER^JÜRGEN")


def test_the_other_order_asks_for_the_family_name_component_first():
    constraint = one(levels.PATIENT, "PatientName", forms.name_contains("anna maria"))
    assert constraint.kind == "list"
    assert constraint.matches("MARIA^ANNA") and constraint.matches("ANNA MARIA^")
    assert not constraint.matches("MARIA ANNA")  # no component boundary between the words
