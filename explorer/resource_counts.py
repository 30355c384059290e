"""Counts and sizes: Orthanc's /statistics for the whole server and for one resource."""

from django.db.models import Count, Sum

from explorer.index import instances_below
from explorer.models import Instance, Patient, Series, Study


def resource_statistics(level, resource):
    """Orthanc's /{level}/{id}/statistics numbers for one resource."""
    totals = instances_below(level, resource).aggregate(
        count_instances=Count("id"),
        total_size=Sum("file_size"),
        count_series=Count("series_id", distinct=True),
        count_studies=Count("series__study_id", distinct=True),
    )
    return {
        "instances": totals["count_instances"],
        "series": totals["count_series"],
        "studies": totals["count_studies"],
        "size": totals["total_size"] or 0,
    }


def global_statistics():
    size = Instance.objects.aggregate(size=Sum("file_size"))["size"] or 0
    return {
        "patients": Patient.objects.count(),
        "studies": Study.objects.count(),
        "series": Series.objects.count(),
        "instances": Instance.objects.count(),
        "size": size,
    }
