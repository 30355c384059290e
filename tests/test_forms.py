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
        "PatientName": "*doe*jane*",
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
