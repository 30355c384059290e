"""Where pages link to: resource pages, REST downloads and previews, and query strings
that keep the current list's filters from link to link."""

from urllib.parse import urlencode

from django.http import QueryDict
from django.urls import reverse


def resource_url(level, public_id):
    return reverse(level.name.lower(), args=[public_id])


def delete_url(level, public_id):
    return reverse(f"delete-{level.name.lower()}", args=[public_id])


def archive_url(level, public_id):
    return f"/{level.plural}/{public_id}/archive"


def preview_url(instance_id, frame=None):
    """A PNG of the instance (or one frame); a placeholder when it has no picture, never an error."""
    if frame is None:
        return f"/instances/{instance_id}/preview?returnUnsupportedImage"
    return f"/instances/{instance_id}/frames/{frame}/preview?returnUnsupportedImage"


def thumbnail_url(instance_id):
    # Scaled on the server: a radiograph's full-size PNG is megabytes for a 10 rem picture.
    return f"/instances/{instance_id}/rendered?height=160&smooth&returnUnsupportedImage"


def viewer_url(study_uid, series_uid=None):
    """The study in the OHIF viewer (explorer/viewer.py), opened on the series when one is given."""
    params = {"StudyInstanceUIDs": study_uid}
    if series_uid:
        params["initialSeriesInstanceUID"] = series_uid
    return f"/viewer/viewer?{urlencode(params)}"


def with_params(params, **changes):
    """'?…' keeping the current parameters but `changes` (None removes one)."""
    kept = params.copy()
    for key, value in changes.items():
        kept.pop(key, None)
        if value is not None:
            kept[key] = value
    encoded = kept.urlencode()
    return f"?{encoded}" if encoded else "?"


def as_query_dict(params):
    if isinstance(params, QueryDict):
        return params
    query_dict = QueryDict(mutable=True)
    for key, value in (params or {}).items():
        query_dict[key] = value
    return query_dict
