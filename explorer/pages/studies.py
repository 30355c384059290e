"""The study list (/ui/studies), and the rows of studies every page lists alike."""

from dataclasses import dataclass

from explorer import forms, levels
from explorer.pages.formatting import date_note, format_date, format_time, person_name
from explorer.pages.links import as_query_dict, resource_url, viewer_url
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
    viewer_url: str = ""
    modalities: tuple = ()
    series_count: int = 0
    instance_count: int = 0
    date_note: str = ""  # why the date is shown as written (not a DICOM date)


STUDY_SORTS = {
    "date": ("study_date", "main_tags__StudyTime"),
    "description": ("study_description",),
    "patient": ("patient_name",),
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
    ("Viewer", "", False),
)


# What a study row shows, as explorer.query.search reads it.
STUDY_ROW_VALUES = {
    "fields": (
        "public_id",
        "study_date",
        "study_description",
        "accession_number",
        "patient__public_id",
        "patient_name",
        "patient__patient_id",
        "study_instance_uid",
    ),
    "main_tags": ("StudyTime",),
    "computed": ("ModalitiesInStudy", "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances"),
}


def study_rows(found):
    """Rows for the studies of a search result read with STUDY_ROW_VALUES."""
    modalities, series, instances = (found.computed[key] for key in STUDY_ROW_VALUES["computed"])
    rows = []
    for pk, public_id, date, description, accession, patient_public_id, name, patient_id, uid, time in found.rows:
        rows.append(
            StudyRow(
                public_id=public_id,
                url=resource_url(levels.STUDY, public_id),
                date=format_date(date),
                date_note=date_note(date),
                time=format_time(time or "")[:5],  # hours and minutes
                description=description,
                accession_number=accession,
                patient_name=person_name(name),
                patient_id=patient_id,
                patient_url=resource_url(levels.PATIENT, patient_public_id),
                viewer_url=viewer_url(uid),
                modalities=tuple(sorted(filter(None, modalities[pk].split("\\")))),
                series_count=int(series[pk]),
                instance_count=int(instances[pk]),
            )
        )
    return rows


def study_listing(params, today=None):
    """/ui/studies: studies matching the lookup fields (see forms.StudyFilterForm), newest first
    unless ?sort= says otherwise, paged by ?page=."""
    form = forms.StudyFilterForm(as_query_dict(params), today=today)
    return paged_listing(params, form, STUDY_SORTS, "-date", STUDY_HEADERS, STUDY_ROW_VALUES, study_rows)
