"""The patient list (/ui/patients)."""

from dataclasses import dataclass

from explorer import forms, levels
from explorer.pages.formatting import SEX, date_note, format_date, person_name
from explorer.pages.links import as_query_dict, resource_url
from explorer.pages.listings import paged_listing


@dataclass
class PatientRow:
    public_id: str
    url: str
    name: str
    patient_id: str
    birth_date: str
    sex: str
    study_count: int
    birth_date_note: str = ""  # why the date is shown as written (not a DICOM date)


PATIENT_SORTS = {
    "name": ("patient_name",),
    "id": ("patient_id",),
    "birthdate": ("patient_birth_date",),
}
PATIENT_HEADERS = (
    ("Patient name", "name", False),
    ("Patient ID", "id", False),
    ("Birth date", "birthdate", False),
    ("Sex", "", False),
    ("Studies", "", True),
)


# What a patient row shows, as explorer.query.search reads it.
PATIENT_ROW_VALUES = {
    "fields": ("public_id", "patient_name", "patient_id", "patient_birth_date"),
    "main_tags": ("PatientSex",),
    "computed": ("NumberOfPatientRelatedStudies",),
}


def patient_rows(found):
    """Rows for the patients of a search result read with PATIENT_ROW_VALUES."""
    studies = found.computed["NumberOfPatientRelatedStudies"]
    return [
        PatientRow(
            public_id=public_id,
            url=resource_url(levels.PATIENT, public_id),
            name=person_name(name),
            patient_id=patient_id,
            birth_date=format_date(birth_date),
            birth_date_note=date_note(birth_date),
            sex=SEX.get(sex or "", sex or ""),
            study_count=int(studies[pk]),
        )
        for pk, public_id, name, patient_id, birth_date, sex in found.rows
    ]


def patient_listing(params):
    """/ui/patients: the patients matching ?patient_name=&patient_id=&birth_date=, sorted by ?sort=, paged by ?page=."""
    form = forms.PatientFilterForm(as_query_dict(params))
    return paged_listing(params, form, PATIENT_SORTS, "name", PATIENT_HEADERS, PATIENT_ROW_VALUES, patient_rows)
