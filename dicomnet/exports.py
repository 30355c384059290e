"""The export log (Orthanc's LogExportedResources): each resource a user sends to a modality,
with the identifiers it had then, kept after the resource itself is deleted.

As in Orthanc, a resource is logged once per send, failed sends included (the log says what
was asked, the job says how it went), and the C-MOVE server's sends are not logged.
"""

from django.conf import settings

from dicomnet.models import Export
from explorer import index, levels

# What identifies a resource at each level, from the patient down: (field, path to it).
IDENTIFIERS = {
    levels.PATIENT: (("patient_id", "patient_id"),),
    levels.STUDY: (("patient_id", "patient.patient_id"), ("study_instance_uid", "study_instance_uid")),
    levels.SERIES: (
        ("patient_id", "study.patient.patient_id"),
        ("study_instance_uid", "study.study_instance_uid"),
        ("series_instance_uid", "series_instance_uid"),
    ),
    levels.INSTANCE: (
        ("patient_id", "series.study.patient.patient_id"),
        ("study_instance_uid", "series.study.study_instance_uid"),
        ("series_instance_uid", "series.series_instance_uid"),
        ("sop_instance_uid", "sop_instance_uid"),
    ),
}
# The keys Orthanc gives those fields in GET /exports.
KEYS = {
    "patient_id": "PatientID",
    "study_instance_uid": "StudyInstanceUID",
    "series_instance_uid": "SeriesInstanceUID",
    "sop_instance_uid": "SOPInstanceUID",
}


def _attribute(resource, dotted):
    for name in dotted.split("."):
        resource = getattr(resource, name)
    return resource


def log_sent(public_ids, modality_name, job_id=None):
    """Log the resources of one send to a modality, in the order asked, when
    PHAROS_LOG_EXPORTED_RESOURCES is on. A job logs its resources once, however often it
    runs (resumed after a pause, resubmitted)."""
    if not settings.PHAROS_LOG_EXPORTED_RESOURCES:
        return
    if job_id is not None and Export.objects.filter(job=job_id).exists():
        return
    rows = []
    for public_id in public_ids:
        level, resource = index.resolve(public_id)
        if resource is None:
            continue
        fields = {field: _attribute(resource, path) for field, path in IDENTIFIERS[level]}
        rows.append(
            Export(resource_type=level.name, public_id=public_id, remote_modality=modality_name, job=job_id, **fields)
        )
    Export.objects.bulk_create(rows)
