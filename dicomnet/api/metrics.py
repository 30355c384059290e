"""GET /tools/metrics-prometheus: Orthanc's gauges of the index and the jobs, in Prometheus'
text format (a monitoring server scrapes it); GET /tools/metrics says they are on ("1").

Only the gauges Pharos knows are given: no DICOM cache, no request durations."""

import time

from django.db.models import Count
from django.http import HttpResponse

from dicomnet.models import Job
from explorer import resource_counts

MEGABYTE = 1024 * 1024


def _gauges():
    totals = resource_counts.global_statistics()
    states = dict(Job.objects.order_by().values_list("state").annotate(count=Count("id")))
    success, failure = states.get(Job.SUCCESS, 0), states.get(Job.FAILURE, 0)
    return {
        "orthanc_count_instances": totals["instances"],
        "orthanc_count_patients": totals["patients"],
        "orthanc_count_series": totals["series"],
        "orthanc_count_studies": totals["studies"],
        "orthanc_disk_size_mb": totals["size"] / MEGABYTE,
        "orthanc_jobs_completed": success + failure,
        "orthanc_jobs_failed": failure,
        "orthanc_jobs_pending": states.get(Job.PENDING, 0),
        "orthanc_jobs_running": states.get(Job.RUNNING, 0),
        "orthanc_jobs_success": success,
        "orthanc_uncompressed_size_mb": totals["size"] / MEGABYTE,
    }


def prometheus(request):
    now = int(time.time() * 1000)
    lines = [f"{name} {value:.10g} {now}" for name, value in _gauges().items()]
    return HttpResponse("".join(line + "\n" for line in lines), content_type="text/plain; version=0.0.4")


def enabled(request):
    return HttpResponse("1", content_type="text/plain")
