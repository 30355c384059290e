"""Stable and completed resources in the change log, as Orthanc logs them.

A patient, study or series is stable once it has had no new instance for StableAge
seconds (PHAROS_STABLE_AGE): `emit_stable_changes` then logs StablePatient, StableStudy or
StableSeries, once per quiet period (a new instance moves LastUpdate past the
`stable_update` recorded with the event, which makes the resource unstable again).
CompletedSeries is logged once, when a series' Status (series_status.series_status) first reads
Complete.

Something must call `emit_stable_changes` every few seconds: `tick`, an RQ job that rq's cron
scheduler (`manage.py rqcron explorer.cron`, started by `manage.py start`) enqueues. Marking
is one UPDATE … RETURNING per level that skips what is already marked, so two clocks, or a
tick running late beside the next one, never log an event twice.
"""

from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from explorer import series_status
from explorer.models import Change, Instance, Patient, Series, Study

# Resources marked per level and tick: a large import becomes stable over a few ticks
# instead of in one long transaction.
BATCH = 1000
# What the partial index of each level holds (explorer/models.py, Aggregate).
UNSTABLE = "(stable_update IS NULL OR stable_update < last_update)"
UNSTABLE_Q = Q(stable_update__isnull=True) | Q(stable_update__lt=F("last_update"))


def tick_seconds():
    """How often the clock ticks: a tenth of StableAge, between 1 and 10 seconds."""
    return max(1, min(10, settings.PHAROS_STABLE_AGE // 10))


def _mark_stable(model, parent_column, cutoff):
    """Record the resources of a model quiet since `cutoff` as stable; [(pk, public_id,
    parent pk)] of those this call marked."""
    table = model._meta.db_table
    parent = f", {parent_column}" if parent_column else ", NULL"
    sql = (
        f"UPDATE {table} SET stable_update = last_update"
        f" WHERE {UNSTABLE} AND last_update <= %s AND id IN ("
        f"SELECT id FROM {table} WHERE {UNSTABLE} AND last_update <= %s ORDER BY last_update LIMIT {BATCH})"
        f" RETURNING id, public_id{parent}"
    )
    moment = connection.ops.adapt_datetimefield_value(cutoff)
    with connection.cursor() as cursor:
        cursor.execute(sql, [moment, moment])
        return cursor.fetchall()


def _indexes(series_pk, expected):
    """The instances' indexes in a series that holds the expected number, else None."""
    instances = Instance.objects.filter(series_id=series_pk)
    if instances.count() != expected:
        return None
    return list(instances.values_list("index_in_series", flat=True))


def _newly_complete(series_rows):
    """The series among (pk, public_id, main tags) whose Status now reads Complete."""
    complete = []
    for pk, public_id, tags in series_rows:
        expected = series_status.expected_instances(tags)
        if expected is None:
            continue
        indexes = _indexes(pk, expected)
        if indexes is not None and series_status.series_status(expected, indexes) == "Complete":
            complete.append((pk, public_id))
    return complete


def _log_completed_series(now):
    """CompletedSeries for the series still receiving instances (the unstable ones, plus
    those becoming stable now) whose Status reads Complete for the first time."""
    # Only a series whose tags give an expected number of instances can be complete.
    counted = Q(main_tags__has_any_keys=[keywords[0] for keywords in series_status.EXPECTED_FROM])
    candidates = Series.objects.filter(UNSTABLE_Q, counted, completed_logged=False)
    rows = candidates.order_by("id").values_list("id", "public_id", "main_tags")[:BATCH]
    return [
        Change(change_type="CompletedSeries", resource_type="Series", public_id=public_id, date=now)
        for pk, public_id in _newly_complete(rows)
        # Marked one by one: a series another clock has just logged is not logged again.
        if Series.objects.filter(pk=pk, completed_logged=False).update(completed_logged=True)
    ]


def _stable_changes(now):
    cutoff = now - timedelta(seconds=settings.PHAROS_STABLE_AGE)
    series = _mark_stable(Series, "study_id", cutoff)
    studies = _mark_stable(Study, "patient_id", cutoff)
    patients = _mark_stable(Patient, None, cutoff)
    # Orthanc's order: each patient's series, then their study, then the patient.
    patient_of_study = {pk: patient for pk, _, patient in studies}
    missing = {study for _, _, study in series} - set(patient_of_study)
    patient_of_study |= dict(Study.objects.filter(pk__in=missing).values_list("id", "patient_id"))
    last = float("inf")
    ordered = [
        ((patient_of_study.get(study, last), study, 0, pk), "Series", public_id) for pk, public_id, study in series
    ]
    ordered += [((patient, pk, 1, pk), "Study", public_id) for pk, public_id, patient in studies]
    ordered += [((pk, last, 2, pk), "Patient", public_id) for pk, public_id, _ in patients]
    ordered.sort(key=lambda entry: entry[0])
    return [
        Change(change_type=f"Stable{kind}", resource_type=kind, public_id=public_id, date=now)
        for _, kind, public_id in ordered
    ]


def emit_stable_changes(now=None):
    """Log CompletedSeries and Stable* for what has become complete or stable by `now`;
    returns the changes logged."""
    now = now or timezone.now()
    with transaction.atomic():
        changes = _log_completed_series(now) + _stable_changes(now)
        return Change.objects.bulk_create(changes)


def tick():
    """The RQ job of the stability clock."""
    close_old_connections()
    emit_stable_changes()
