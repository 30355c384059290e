"""The study list (/ui/studies), and the rows of studies every page lists alike."""

from dataclasses import dataclass, field

from django.db.models import Count

from explorer import forms, levels
from explorer.models import Series, Study
from explorer.pages.formatting import format_date, format_time, person_name
from explorer.pages.links import as_query_dict, resource_url
from explorer.pages.listings import paged_listing


@dataclass
class StudyRow:
    public_id: str
    url: str
    date: str
    time: str
    description: str
    accession_number: str
    patient_name: str
    patient_id: str
    patient_url: str
    modalities: tuple = ()
    series_count: int = 0
    instance_count: int = 0


@dataclass
class StudyCounts:
    modalities: set = field(default_factory=set)
    series: int = 0
    instances: int = 0


STUDY_SORTS = {
    "date": ("study_date", "main_tags__StudyTime"),
    "description": ("study_description",),
    "patient": ("patient__patient_name",),
    "patientid": ("patient__patient_id",),
    "accession": ("accession_number",),
}
STUDY_HEADERS = (
    ("Date", "date", False),
    ("Description", "description", False),
    ("Patient", "patient", False),
    ("Patient ID", "patientid", False),
    ("Accession", "accession", False),
    ("Modalities", "", False),
    ("Series", "", True),
    ("Instances", "", True),
)


def study_counts(study_pks):
    """{study pk: StudyCounts}: modalities, series and instances of each study, in one query
    grouped by study and modality."""
    grouped = (
        Series.objects.filter(study_id__in=study_pks)
        .values("study_id", "modality")
        .annotate(series=Count("id", distinct=True), instances=Count("instances"))
        .order_by()
    )
    counts = {}
    for row in grouped:
        entry = counts.setdefault(row["study_id"], StudyCounts())
        if row["modality"]:
            entry.modalities.add(row["modality"])
        entry.series += row["series"]
        entry.instances += row["instances"]
    return counts


def study_rows(studies):
    """Rows for studies loaded with their patient (select_related)."""
    counts = study_counts([s.pk for s in studies])
    rows = []
    for study in studies:
        numbers = counts.get(study.pk, StudyCounts())
        rows.append(
            StudyRow(
                public_id=study.public_id,
                url=resource_url(levels.STUDY, study.public_id),
                date=format_date(study.study_date),
                time=format_time(study.main_tags.get("StudyTime", ""))[:5],  # hours and minutes
                description=study.study_description,
                accession_number=study.accession_number,
                patient_name=person_name(study.patient.patient_name),
                patient_id=study.patient.patient_id,
                patient_url=resource_url(levels.PATIENT, study.patient.public_id),
                modalities=tuple(sorted(numbers.modalities)),
                series_count=numbers.series,
                instance_count=numbers.instances,
            )
        )
    return rows


def study_listing(params, today=None):
    """/ui/studies: studies matching the lookup fields (see forms.StudyFilterForm), newest first
    unless ?sort= says otherwise, paged by ?page=."""
    form = forms.StudyFilterForm(as_query_dict(params), today=today)
    queryset = Study.objects.select_related("patient")
    return paged_listing(params, form, queryset, STUDY_SORTS, "-date", STUDY_HEADERS, study_rows)
