"""The patient list (/ui/patients)."""

from dataclasses import dataclass

from django.db.models import Count

from explorer import forms, levels
from explorer.models import Patient, Study
from explorer.pages.formatting import SEX, format_date, person_name
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


def study_counts_of_patients(patient_pks):
    """{patient pk: number of studies}, in one query."""
    rows = (
        Study.objects.filter(patient_id__in=patient_pks)
        .values("patient_id")
        .annotate(count=Count("id"))
        .order_by()
    )
    return {row["patient_id"]: row["count"] for row in rows}


def patient_rows(patients):
    counts = study_counts_of_patients([p.pk for p in patients])
    return [
        PatientRow(
            public_id=p.public_id,
            url=resource_url(levels.PATIENT, p.public_id),
            name=person_name(p.patient_name),
            patient_id=p.patient_id,
            birth_date=format_date(p.patient_birth_date),
            sex=SEX.get(p.main_tags.get("PatientSex", ""), p.main_tags.get("PatientSex", "")),
            study_count=counts.get(p.pk, 0),
        )
        for p in patients
    ]


def patient_listing(params):
    """/ui/patients: the patients matching ?patient_name=&patient_id=&birth_date=, sorted by ?sort=, paged by ?page=."""
    form = forms.PatientFilterForm(as_query_dict(params))
    return paged_listing(params, form, Patient.objects.all(), PATIENT_SORTS, "name", PATIENT_HEADERS, patient_rows)
