"""REST /exports: the export log, paged as Orthanc pages it (GET ?since&limit, ?last; DELETE)."""

from django.http import HttpResponse

from dicomnet.exports import IDENTIFIERS, KEYS
from dicomnet.models import Export
from explorer import audit, levels
from explorer.api.base import json_response, timestamp
from explorer.errors import BadRequest

DEFAULT_LIMIT = 100


def export_json(export):
    level = levels.level_named(export.resource_type)
    answer = {
        "Date": timestamp(export.date),
        "ID": export.public_id,
        "Path": f"/{level.plural}/{export.public_id}",
        "RemoteModality": export.remote_modality,
        "ResourceType": export.resource_type,
        "Seq": export.id,
    }
    for field, _ in IDENTIFIERS[level]:
        answer[KEYS[field]] = getattr(export, field)
    return answer


def _whole_number(request, name, default):
    try:
        return int(request.GET.get(name, default))
    except ValueError as exc:
        raise BadRequest(f"{name} must be a whole number") from exc


def list_exports(request):
    """GET /exports?since=N&limit=M (either alone too), or ?last. With nothing after
    `since`, Orthanc answers `since` as Last."""
    if "last" in request.GET:
        last = Export.objects.order_by("-id").first()
        shown = [export_json(last)] if last else []
        return json_response({"Done": True, "Exports": shown, "Last": last.id if last else 0})
    since = _whole_number(request, "since", 0)
    limit = _whole_number(request, "limit", DEFAULT_LIMIT)
    if limit < 0:
        raise BadRequest("limit must not be negative")
    rows = list(Export.objects.filter(id__gt=since).order_by("id")[: limit + 1])
    done = len(rows) <= limit
    rows = rows[:limit]
    last = rows[-1].id if rows else since
    return json_response({"Done": done, "Exports": [export_json(export) for export in rows], "Last": last})


def clear_exports(request):
    Export.objects.all().delete()
    audit.record(audit.DELETE, request, detail="the exports log (/exports) cleared")
    return HttpResponse(b"", content_type="text/plain")
