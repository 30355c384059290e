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


# The side a page's preview is scaled down to: a radiograph's full-size PNG is megabytes for a
# picture box at most 32rem high, which this covers at one and a half pixels per CSS pixel.
PREVIEW_SIZE = 768


def _rendered(instance_id, frame):
    if frame is None:
        return f"/instances/{instance_id}/rendered"
    return f"/instances/{instance_id}/frames/{frame}/rendered"


def preview_url(instance_id, frame=None, window=""):
    """A PNG of the instance (or one frame), scaled down to fit the page, with a window preset's
    query (explorer.pages.windowing) appended; a placeholder when it has no picture, never an error."""
    return f"{_rendered(instance_id, frame)}?max-size={PREVIEW_SIZE}&smooth&returnUnsupportedImage{window}"


def full_size_url(instance_id, frame=None, window=""):
    """The same picture at the size of the image."""
    return f"{_rendered(instance_id, frame)}?returnUnsupportedImage{window}"


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
