"""The Modify and Anonymize forms (dicomnet.change_forms): what they list, the errors a person
sees, and the Orthanc body each gives."""

import pytest

from dicomnet.change_forms import AnonymizeForm, ModifyForm
from explorer import levels
from explorer.pages.resource import lineage, load

pytestmark = pytest.mark.django_db


def form_for(level, public_id, data=None):
    resource = load(level, public_id)
    form = ModifyForm(level, lineage(level, resource), data)
    return form


def unchanged(form):
    """The data a browser posts for the form as shown."""
    data = {name: field.initial for name, field in form.fields.items() if name.startswith("tag_")}
    data["keep_private_tags"] = "on"
    data["keep_source"] = "on"
    return data


def test_a_study_lists_its_patient_and_study_tags_with_their_values(brain_study):
    form = form_for(levels.STUDY, brain_study["study"])
    sections = dict(form.tag_sections())
    assert list(sections) == ["Patient", "Study"]
    patient = {row.keyword: row for row in sections["Patient"]}
    assert patient["PatientName"].value.value() == "Doe^Jane"
    # Orthanc refuses a study's parent PatientID, and the study's UID is generated anew.
    assert patient["PatientID"].fixed and patient["PatientID"].value is None
    study = {row.keyword: row for row in sections["Study"]}
    assert study["StudyInstanceUID"].fixed
    assert study["StudyDescription"].value.value() == "Brain MRI"


def test_a_series_lists_only_its_own_tags(brain_study):
    form = form_for(levels.SERIES, brain_study["series"][3])
    assert [name for name, _ in form.tag_sections()] == ["Series"]


def test_only_what_changed_goes_into_the_body(brain_study):
    form = form_for(levels.STUDY, brain_study["study"])
    data = unchanged(form) | {"tag_PatientName": "Doe^Janet", "remove_StudyTime": "on"}
    data |= {"add_keyword": "InstitutionAddress", "add_value": "1 Harbour Road", "remove_keywords": "OperatorsName"}
    del data["keep_source"]
    form = form_for(levels.STUDY, brain_study["study"], data)
    assert form.is_valid(), form.errors
    assert form.body() == {
        "Replace": {"PatientName": "Doe^Janet", "InstitutionAddress": "1 Harbour Road"},
        "Remove": ["StudyTime", "OperatorsName"],
        "RemovePrivateTags": False,
        "KeepSource": False,
    }
    changes = {keyword: (before, after) for _, keyword, before, after in form.changes()}
    assert changes["PatientName"] == ("Doe^Jane", "Doe^Janet") and changes["StudyTime"] == ("101500", None)


@pytest.mark.parametrize(
    "change, field, message",
    [
        ({"add_keyword": "PatientsNmae", "add_value": "x"}, "add_keyword", "“PatientsNmae” is not a DICOM keyword"),
        ({"add_keyword": "StudyInstanceUID", "add_value": "1.2"}, "add_keyword", "the modification sets it"),
        ({"add_keyword": "ReferencedSeriesSequence"}, "add_keyword", "is a sequence"),
        ({"add_keyword": "SeriesDate", "add_value": "2024-03-15"}, "add_value", "Invalid value for VR DA"),
        ({"tag_StudyDate": "15/03/2024"}, "tag_StudyDate", "Invalid value for VR DA"),
        ({"remove_keywords": "PatientName Nonsense"}, "remove_keywords", "“Nonsense” is not a DICOM keyword"),
        ({"tag_PatientName": "A^B", "remove_keywords": "PatientName"}, "remove_keywords", "both replaced and removed"),
    ],
)
def test_mistakes_are_form_errors(brain_study, change, field, message):
    blank = form_for(levels.STUDY, brain_study["study"])
    form = form_for(levels.STUDY, brain_study["study"], unchanged(blank) | change)
    assert not form.is_valid()
    assert any(message in error for error in form.errors[field]), form.errors


def test_nothing_changed_is_an_error(brain_study):
    blank = form_for(levels.STUDY, brain_study["study"])
    form = form_for(levels.STUDY, brain_study["study"], unchanged(blank))
    assert not form.is_valid()
    assert "Nothing to change" in form.non_field_errors()[0]


def test_a_patient_needs_a_new_patient_id(brain_study):
    blank = form_for(levels.PATIENT, brain_study["patient"])
    form = form_for(levels.PATIENT, brain_study["patient"], unchanged(blank) | {"tag_PatientName": "Roe^Jane"})
    assert not form.is_valid()
    assert "needs a new Patient ID" in form.errors["tag_PatientID"][0]
    data = unchanged(blank) | {"tag_PatientName": "Roe^Jane", "tag_PatientID": "BRAIN-2"}
    form = form_for(levels.PATIENT, brain_study["patient"], data)
    assert form.is_valid(), form.errors
    assert form.body()["Replace"] == {"PatientName": "Roe^Jane", "PatientID": "BRAIN-2"}
    assert form.body()["Force"] is True  # Orthanc asks for it to replace a PatientID


def test_anonymize_uses_orthancs_defaults():
    form = AnonymizeForm({"keep_source": "on"})
    assert form.is_valid()
    assert form.body() == {"KeepPrivateTags": False, "KeepSource": True}
    assert AnonymizeForm().fields["keep_source"].initial is True
