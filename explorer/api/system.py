"""Server-wide answers: /system, /statistics, /changes."""

from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from django.utils import timezone

import explorer
from explorer import audit, resource_counts
from explorer.api.base import json_response, timestamp
from explorer.errors import BadRequest
from explorer.models import Change

# The Orthanc release whose REST API Pharos follows, and that release's ApiVersion: clients
# compare these to choose their calls (pyorthanc, orthanc-api-client, Orthanc's own tools).
ORTHANC_VERSION = "1.10.1"
API_VERSION = 16


def system(request):
    return json_response(
        {
            "ApiVersion": API_VERSION,
            "CheckRevisions": False,
            "DatabaseBackendPlugin": None,
            "DatabaseVersion": 6,
            "DatabaseEngine": connection.vendor,
            "DicomAet": settings.PHAROS_AET,
            "DicomPort": settings.PHAROS_DICOM_PORT,
            "HttpPort": settings.PHAROS_HTTP_PORT,
            "IsHttpServerSecure": True,
            "Name": settings.PHAROS_NAME,
            "OverwriteInstances": settings.PHAROS_OVERWRITE_INSTANCES,
            "PharosVersion": explorer.__version__,
            "PluginsEnabled": False,
            "StorageAreaPlugin": None,
            "Version": ORTHANC_VERSION,
        }
    )


def statistics(request):
    totals = resource_counts.global_statistics()
    size = totals["size"]
    return json_response(
        {
            "CountInstances": totals["instances"],
            "CountPatients": totals["patients"],
            "CountSeries": totals["series"],
            "CountStudies": totals["studies"],
            "TotalDiskSize": str(size),
            "TotalDiskSizeMB": size // (1024 * 1024),
            "TotalUncompressedSize": str(size),
            "TotalUncompressedSizeMB": size // (1024 * 1024),
        }
    )


def _change_json(change):
    plural = {"Patient": "patients", "Study": "studies", "Series": "series", "Instance": "instances"}
    return {
        "ChangeType": change.change_type,
        "Date": timestamp(change.date),
        "ID": change.public_id,
        "Path": f"/{plural[change.resource_type]}/{change.public_id}",
        "ResourceType": change.resource_type,
        "Seq": change.id,
    }


def _whole_number(request, name, default):
    try:
        return int(request.GET.get(name, default))
    except ValueError as exc:
        raise BadRequest(f"{name} must be a whole number") from exc


def changes(request):
    """GET /changes?since=N&limit=M (default 100), or ?last."""
    if "last" in request.GET:
        last = Change.objects.order_by("-id").first()
        return json_response(
            {"Changes": [_change_json(last)] if last else [], "Done": True, "Last": last.id if last else 0}
        )
    since = _whole_number(request, "since", 0)
    limit = _whole_number(request, "limit", 100)
    rows = list(Change.objects.filter(id__gt=since).order_by("id")[: limit + 1])
    done = len(rows) <= limit
    rows = rows[:limit]
    if rows:
        last = rows[-1].id
    else:
        newest = Change.objects.order_by("-id").values_list("id", flat=True).first()
        last = newest or 0
    return json_response({"Changes": [_change_json(c) for c in rows], "Done": done, "Last": last})


def clear_changes(request):
    Change.objects.all().delete()
    audit.record(audit.DELETE, request, detail="the change log (/changes) cleared")
    return json_response({})


def now(request):
    """GET /tools/now: the server's clock in UTC, as Orthanc's YYYYMMDDTHHMMSS text."""
    return HttpResponse(timestamp(timezone.now()), content_type="text/plain")


def now_local(request):
    """GET /tools/now-local: the same in the machine's local time."""
    return HttpResponse(timestamp(timezone.now().astimezone()), content_type="text/plain")
