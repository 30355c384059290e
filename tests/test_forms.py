"""The explorer's filter forms: date presets and the DICOM queries they build."""

from datetime import date

from explorer import forms


def test_date_presets():
    today = date(2024, 3, 31)
    assert forms.preset_range("today", today) == (today, today)
    assert forms.preset_range("yesterday", today) == (date(2024, 3, 30), date(2024, 3, 30))
    assert forms.preset_range("last7", today) == (date(2024, 3, 25), today)
    assert forms.preset_range("last31", today) == (date(2024, 3, 1), today)
    assert forms.preset_range("last3months", today) == (date(2023, 12, 31), today)
    assert forms.preset_range("lastyear", today) == (date(2023, 3, 31), today)
    assert forms.preset_range("", today) is None
    assert forms.months_before(date(2024, 5, 31), 3) == date(2024, 2, 29)


def test_study_form_builds_a_dicom_query():
    form = forms.StudyFilterForm(
        {"patient_name": "doe jane", "patient_id": "BR*", "study_description": "brain", "modality": "mr",
         "study_date": "last7"},
        today=date(2024, 3, 20),
    )
    assert form.is_valid()
    assert form.dicom_query() == {
        "PatientName": "*doe*jane*\\*jane*^*doe*",
        "PatientID": "BR*",
        "StudyDescription": "*brain*",
        "StudyDate": "20240314-20240320",
        "ModalitiesInStudy": "MR",
    }
    ranged = forms.StudyFilterForm({"study_date": "range", "date_from": "2024-01-01"})
    assert ranged.is_valid() and ranged.dicom_query() == {"StudyDate": "20240101-"}
    # Days typed while the preset says "any date" still count (the page without JavaScript).
    typed = forms.StudyFilterForm({"date_from": "2024-01-01", "date_to": "2024-01-01"})
    assert typed.is_valid() and typed.dicom_query() == {"StudyDate": "20240101"}
    backwards = forms.StudyFilterForm({"study_date": "range", "date_from": "2024-02-01", "date_to": "2024-01-01"})
    assert not backwards.is_valid()


def test_a_typed_name_is_tried_in_both_orders_of_its_components():
    assert forms.name_contains("doe") == "*doe*"
    assert forms.name_contains("jürgen müller") == "*jürgen*müller*\\*müller*^*jürgen*"
    assert forms.name_contains("maria anna smith") == "*maria*anna*smith*\\*smith*^*maria*anna*"
    assert forms.name_contains(" Müller, Jürgen ") == "*Müller*Jürgen*\\*Jürgen*^*Müller*"
    assert forms.name_contains("müller^jürgen") == "*müller*jürgen*\\*jürgen*^*müller*"
    # A backslash would start a DICOM list of its own.
    assert forms.name_contains("doe\\jane") == forms.name_contains("doe jane")
    assert forms.name_contains("  ") == forms.name_contains("*") == ""


def test_a_wildcard_inside_a_word_keeps_the_word_a_part_of_the_name():
    # The same "contains" as a plain word: "m*ller" finds MÜLLER^JÜRGEN as "ller" does.
    assert forms.name_contains("M*ller") == "*M*ller*"
    assert forms.name_contains("müll*") == forms.name_contains("*müll") == "*müll*"
    assert forms.name_contains("j?rgen m*ller") == "*j?rgen*m*ller*\\*m*ller*^*j?rgen*"
    assert forms.contains("ch*st") == "*ch*st*"
    assert forms.contains("chest*") == forms.contains("chest") == "*chest*"
    assert forms.contains("a\\b") == "*a b*"


def test_the_name_field_explains_the_dicom_order():
    for form in (forms.StudyFilterForm(), forms.PatientFilterForm()):
        assert "Family^Given" in form["patient_name"].help_text
        assert 'aria-describedby="id_patient_name_helptext"' in str(form["patient_name"])
