"""The audit trail: who saw, downloaded, sent, changed or deleted what, from where and when.

Every event goes through `record` (or `event` then `save`, when the row must be prepared before
its resource disappears): the action, who (a user, or the calling AE of a DICOM peer), from where
(the IP address), a short detail, and the patient and study concerned, copied as text so that
the trail outlives them. The code that does something calls it; this module decides what a row
holds. The page that lists the trail is explorer/pages/audit.py, for those `may_see_audit`
lets in.

The request being served is kept by `RequestMiddleware`, so that code far from the view (a
runtime setting changed, a login refused, an admin change) records who asked without being
handed the request. Recording never breaks what is recorded: a database failure is logged.
"""

import contextvars
import functools
import logging
from collections import Counter
from datetime import timedelta

from django.conf import settings
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth import signals as auth_signals
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import Count
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from explorer import levels, rights
from explorer.models import AuditEvent, Instance, Patient, Series, Study

logger = logging.getLogger(__name__)

# What happened: the action names the rows hold, with their label on the page.
VIEW = "view"
DOWNLOAD = "download"
SEND = "send"
RETRIEVE = "retrieve"
MODIFY = "modify"
DELETE = "delete"
LOGIN = "login"
LOGIN_FAILED = "login-failed"
LOGOUT = "logout"
SETTING = "setting"
DICOM_STORE = "dicom-store"
DICOM_MOVE = "dicom-move"
DICOM_GET = "dicom-get"
ACTIONS = {
    VIEW: "Viewed",
    DOWNLOAD: "Downloaded",
    SEND: "Sent to a modality",
    RETRIEVE: "Retrieved from a modality",
    MODIFY: "Modified",
    DELETE: "Deleted",
    LOGIN: "Logged in",
    LOGIN_FAILED: "Login failed",
    LOGOUT: "Logged out",
    SETTING: "Setting changed",
    DICOM_STORE: "Received by C-STORE",
    DICOM_MOVE: "Sent by C-MOVE",
    DICOM_GET: "Sent by C-GET",
}
# How many resources an event's detail names before "and N more".
NAMED_RESOURCES = 3
# Instances looked up at a time (SQLite limits the parameters of a query).
CHUNK = 500

_current_request = contextvars.ContextVar("audit_request", default=None)


def may_see_audit(user):
    """Whether a user may read the audit trail (the right `audit`: administrators)."""
    return user is not None and user.is_active and rights.allows(user, rights.AUDIT)


class RequestMiddleware:
    """Keeps the request being served for the events recorded while serving it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _current_request.set(request)
        try:
            return self.get_response(request)
        finally:
            _current_request.reset(token)


def current_request():
    return _current_request.get()


# --- building and saving events ----------------------------------------------------------


def client_ip(request):
    return request.META.get("REMOTE_ADDR", "") if request is not None else ""


def _username(user):
    if user is None:
        return ""
    if isinstance(user, str):
        return user
    return user.get_username() if user.is_authenticated else ""


def owners(level, resource):
    """(patient, study) of a resource of any level; study is None for a patient. The ancestors
    loaded with the resource (select_related) are used, else one query finds them."""
    if level is levels.PATIENT:
        return resource, None
    study = None
    if level is levels.STUDY:
        study = resource
    elif level is levels.SERIES and Series.study.is_cached(resource):
        study = resource.study
    elif level is levels.INSTANCE and Instance.series.is_cached(resource) and Series.study.is_cached(resource.series):
        study = resource.series.study
    if study is None or not Study.patient.is_cached(study):
        if level is levels.STUDY:
            lookup = {"pk": resource.pk}
        elif level is levels.SERIES:
            lookup = {"pk": resource.study_id}
        else:
            lookup = {"series__pk": resource.series_id}
        study = Study.objects.select_related("patient").get(**lookup)
    return study.patient, study


def event(
    action,
    request=None,
    *,
    user=None,
    aet="",
    ip=None,
    patient=None,
    study=None,
    level=None,
    resource=None,
    detail="",
):
    """An unsaved event. Who and from where come from the request (the current one when not
    given) unless `user` (a user or a name), `aet` or `ip` say otherwise; the patient and study
    are given, or found from a `resource` of a `level`, which the detail then names."""
    if request is None and aet == "":
        request = current_request()
    if user is None and request is not None:
        user = getattr(request, "user", None)
    if resource is not None:
        patient, study = owners(level, resource)
        detail = f"{level.name} {resource.public_id}" + (f": {detail}" if detail else "")
    if study is not None and patient is None:
        patient = study.patient
    return AuditEvent(
        action=action,
        username=_username(user)[:150],
        aet=(aet or "")[:64],
        ip=(client_ip(request) if ip is None else ip)[:64],
        detail=detail,
        patient_public_id=patient.public_id if patient is not None else "",
        patient_id=patient.patient_id if patient is not None else "",
        # The name the study was received with, when there is a study (Study.patient_name).
        patient_name=(study.patient_name if study is not None else "") or (patient.patient_name if patient else ""),
        study_public_id=study.public_id if study is not None else "",
        study_instance_uid=study.study_instance_uid if study is not None else "",
    )


def quietly(function):
    """Audit work that must not fail what it audits (a DICOM handler, a view's answer): a
    database failure is logged and the event lost."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except DatabaseError as error:
            logger.error("Audit event not recorded (%s): %s", args[0] if args else function.__name__, error)
            return None

    return wrapper


def save(*events):
    """Write events; a database failure is logged, never raised into what was audited."""
    if not events:
        return
    try:
        if connection.in_atomic_block:
            with transaction.atomic():  # a savepoint: a failure leaves the caller's transaction usable
                AuditEvent.objects.bulk_create(events)
        else:
            AuditEvent.objects.bulk_create(events)
    except DatabaseError as error:
        logger.error("Audit events not recorded (%s): %s", ", ".join(e.action for e in events), error)


@quietly
def record(action, request=None, **fields):
    """Record one event: see `event` for the fields."""
    recorded = event(action, request, **fields)
    save(recorded)
    return recorded


def modified(request, level, resource, detail=""):
    """What modifying or anonymizing a resource records (before the change: the resource's
    patient and study as they were)."""
    return record(MODIFY, request, level=level, resource=resource, detail=detail)


# --- events about many resources -----------------------------------------------------------


def _named(names):
    shown = ", ".join(names[:NAMED_RESOURCES])
    more = len(names) - NAMED_RESOURCES
    return shown + (f" and {more} more" if more > 0 else "")


def events_for_ids(action, request, public_ids, detail="", **who):
    """One event per study (or patient) that the resources of these public ids (any level)
    belong to, each naming its resources; ids of nothing are named in one more event."""
    ids = list(dict.fromkeys(str(i) for i in public_ids))
    groups, found = {}, set()
    lookups = [
        (levels.PATIENT, Patient.objects.all(), lambda r: (r, None)),
        (levels.STUDY, Study.objects.select_related("patient"), lambda r: (r.patient, r)),
        (levels.SERIES, Series.objects.select_related("study__patient"), lambda r: (r.study.patient, r.study)),
        (
            levels.INSTANCE,
            Instance.objects.select_related("series__study__patient").defer("dataset"),
            lambda r: (r.series.study.patient, r.series.study),
        ),
    ]
    for level, queryset, owners_of in lookups:
        for start in range(0, len(ids), CHUNK):
            for resource in queryset.filter(public_id__in=ids[start : start + CHUNK]):
                patient, study = owners_of(resource)
                key = (patient.pk, study.pk if study else None)
                groups.setdefault(key, (patient, study, []))[2].append(f"{level.name} {resource.public_id}")
                found.add(resource.public_id)
    prefix = f"{detail}: " if detail else ""
    events = [
        event(action, request, patient=patient, study=study, detail=prefix + _named(names), **who)
        for patient, study, names in groups.values()
    ]
    unknown = [i for i in ids if i not in found]
    if unknown:
        events.append(event(action, request, detail=f"{prefix}unknown {_named(unknown)}", **who))
    return events


@quietly
def record_ids(action, request, public_ids, detail="", **who):
    save(*events_for_ids(action, request, public_ids, detail, **who))


def _study_counts(instance_pks):
    counts = Counter()
    for start in range(0, len(instance_pks), CHUNK):
        rows = (
            Instance.objects.filter(pk__in=instance_pks[start : start + CHUNK])
            .values("series__study_id")
            .annotate(count=Count("id"))
        )
        counts.update({row["series__study_id"]: row["count"] for row in rows})
    return counts


@quietly
def record_instances(action, instances, *, aet, ip, detail):
    """One event per study of the instances (C-MOVE, C-GET), with how many of its instances."""
    counts = _study_counts([instance.pk for instance in instances])
    studies = Study.objects.select_related("patient").filter(pk__in=list(counts))
    save(
        *(
            event(action, aet=aet, ip=ip, study=study, detail=f"{detail}: {counts[study.pk]} instance(s)")
            for study in studies
        )
    )


@quietly
def record_received(aet, ip, received, called_aet=""):
    """At the end of an association: one event per study it stored instances of.
    `received` is a Counter of (patient public id, study public id) → instances."""
    if not received:
        return
    by_study = {study_id: count for (_, study_id), count in received.items()}
    studies = Study.objects.select_related("patient").filter(public_id__in=list(by_study))
    to = f" to {called_aet}" if called_aet else ""
    save(
        *(
            event(DICOM_STORE, aet=aet, ip=ip, study=study, detail=f"{by_study[study.public_id]} instance(s){to}")
            for study in studies
        )
    )


# --- retention ---------------------------------------------------------------------------


def prune(now=None):
    """Delete the events older than PHAROS_AUDIT_RETENTION_DAYS (none when it is 0); how many."""
    days = settings.PHAROS_AUDIT_RETENTION_DAYS
    if not days:
        return 0
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted, _ = AuditEvent.objects.filter(time__lt=cutoff).delete()
    if deleted:
        logger.info("Audit trail: %d event(s) older than %d days deleted", deleted, days)
    return deleted


def prune_job():
    """The RQ job of the pruning (explorer/cron.py, every hour)."""
    close_old_connections()
    prune()


# --- logins and the admin's changes --------------------------------------------------------


@receiver(auth_signals.user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    record(LOGIN, request, user=user, detail="login form")


@receiver(auth_signals.user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    record(LOGOUT, request, user=user)


@receiver(auth_signals.user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    # Django masks the password in `credentials`; the name tried is kept.
    how = "HTTP Basic" if request is None or "HTTP_AUTHORIZATION" in request.META else "login form"
    record(LOGIN_FAILED, request, user=str(credentials.get("username", "")), detail=how)


ADMIN_ACTIONS = {ADDITION: "added", CHANGE: "changed", DELETION: "deleted"}


@receiver(post_save, sender=LogEntry)
def _admin_change(sender, instance, created, **kwargs):
    """Every change made in the administration pages (modalities, users, groups…)."""
    if not created:
        return
    what = instance.content_type.name if instance.content_type_id else "object"
    detail = f"admin: {what} “{instance.object_repr}” {ADMIN_ACTIONS.get(instance.action_flag, 'changed')}"
    message = instance.get_change_message()
    record(SETTING, user=instance.user, detail=f"{detail} ({message})" if message else detail)
