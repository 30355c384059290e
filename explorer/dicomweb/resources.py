"""What every DICOMweb route shares: the UIDs of its path checked and looked up in the index,
and DICOM JSON answers. A UID the index does not hold answers 404, as PS3.18 8.7.3 asks."""

import re

import orjson
from django.http import HttpResponse

from explorer.errors import BadRequest, UnknownResource
from explorer.models import Instance, Series, Study

DICOM_JSON = "application/dicom+json"
# PS3.5 9.1: digits and dots, at most 64 characters.
UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


def check_uid(text, what="UID"):
    """The UID of a path or a parameter, refused with 400 when it cannot be one."""
    if not text or len(text) > 64 or not UID.match(text):
        raise BadRequest(f"Not a valid {what}: {text[:80]!r}")
    return text


def study(study_uid):
    """The stored study of this StudyInstanceUID (404 if none)."""
    found = Study.objects.filter(study_instance_uid=check_uid(study_uid, "StudyInstanceUID")).first()
    if found is None:
        raise UnknownResource(f"No study {study_uid} is stored")
    return found


def series(study_uid, series_uid):
    """The stored series of these UIDs, in its study (404 if none)."""
    found = (
        Series.objects.filter(
            study__study_instance_uid=check_uid(study_uid, "StudyInstanceUID"),
            series_instance_uid=check_uid(series_uid, "SeriesInstanceUID"),
        )
        .select_related("study")
        .first()
    )
    if found is None:
        raise UnknownResource(f"No series {series_uid} is stored in study {study_uid}")
    return found


def instances(study_uid, series_uid=None, instance_uid=None):
    """A queryset of the stored instances under these UIDs (a study's, a series' or one),
    series by series, each series in its order (index_in_series, then arrival); 404 when
    none is stored."""
    lookup = {"series__study__study_instance_uid": check_uid(study_uid, "StudyInstanceUID")}
    if series_uid is not None:
        lookup["series__series_instance_uid"] = check_uid(series_uid, "SeriesInstanceUID")
    if instance_uid is not None:
        lookup["sop_instance_uid"] = check_uid(instance_uid, "SOPInstanceUID")
    found = Instance.objects.filter(**lookup).order_by("series_id", "index_in_series", "pk")
    if not found.exists():
        what = "instance" if instance_uid else "series" if series_uid else "study"
        raise UnknownResource(f"No {what} {instance_uid or series_uid or study_uid} is stored")
    return found


def instances_of_route(route):
    """instances() for the UIDs of a route's path (study, series, instance)."""
    return instances(route["study"], route.get("series"), route.get("instance"))


def dicom_json_response(value, status=200):
    """DICOM JSON (PS3.18 F): a list of data sets, or bytes already written as JSON."""
    body = value if isinstance(value, bytes) else orjson.dumps(value)
    return HttpResponse(body, status=status, content_type=DICOM_JSON)
