"""The audit trail's page (/ui/audit): its filters, its rows a page at a time, and the same
rows as CSV (/ui/audit.csv) with the same filters."""

import csv
from dataclasses import dataclass
from datetime import datetime, timedelta

from django import forms
from django.core.paginator import Paginator
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from explorer import audit
from explorer.forms import LabelsAboveForm, checked_date_range, date_field, text_field
from explorer.models import AuditEvent
from explorer.pages.links import as_query_dict, with_params
from explorer.pages.listings import page_links

PAGE_SIZE = 100
CSV_COLUMNS = [
    ("Time", "time"),
    ("Action", "action"),
    ("User", "username"),
    ("Calling AE", "aet"),
    ("IP", "ip"),
    ("Patient ID", "patient_id"),
    ("Patient name", "patient_name"),
    ("Study instance UID", "study_instance_uid"),
    ("Patient public id", "patient_public_id"),
    ("Study public id", "study_public_id"),
    ("Detail", "detail"),
]


class AuditFilterForm(LabelsAboveForm):
    user = text_field("User or AE", "a user name or a calling AE title", max_length=150)
    patient = text_field("Patient", "patient ID, name, or a public id", max_length=150)
    action = forms.ChoiceField(label="Action", required=False, choices=[("", "Any"), *audit.ACTIONS.items()])
    date_from = date_field("From")
    date_to = date_field("To")

    def clean(self):
        return checked_date_range(super().clean())


def filtered_events(form):
    """The events the valid form's filters let through, newest first (none when it is invalid)."""
    if not form.is_valid():
        return AuditEvent.objects.none()
    data = form.cleaned_data
    events = AuditEvent.objects.all()
    who = data.get("user", "").strip()
    if who:
        events = events.filter(Q(username__iexact=who) | Q(aet__iexact=who))
    patient = data.get("patient", "").strip()
    if patient:
        events = events.filter(
            Q(patient_id__iexact=patient)
            | Q(patient_name__icontains=patient)
            | Q(patient_public_id=patient)
            | Q(study_public_id=patient)
            | Q(study_instance_uid=patient)
        )
    if data.get("action"):
        events = events.filter(action=data["action"])
    # Days in the server's time zone (PHAROS_TIME_ZONE), both included; as moments, so that
    # the index on the time serves.
    if data.get("date_from"):
        events = events.filter(time__gte=_start_of(data["date_from"]))
    if data.get("date_to"):
        events = events.filter(time__lt=_start_of(data["date_to"] + timedelta(days=1)))
    return events.order_by("-time", "-id")


def _start_of(day):
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


@dataclass
class AuditListing:
    form: object
    rows: list
    page: object
    page_links: list
    total: int
    filtered: bool
    csv_url: str
    previous_url: str = ""
    next_url: str = ""


def audit_listing(params):
    params = as_query_dict(params)
    form = AuditFilterForm(params)
    page = Paginator(filtered_events(form), PAGE_SIZE).get_page(params.get("page"))
    filters = params.copy()
    filters.pop("page", None)
    return AuditListing(
        form=form,
        rows=[(event, audit.ACTIONS.get(event.action, event.action)) for event in page.object_list],
        page=page,
        page_links=page_links(params, page),
        total=page.paginator.count,
        filtered=any(filters.values()),
        csv_url=reverse("audit-csv") + with_params(filters),
        previous_url=with_params(params, page=str(page.number - 1)) if page.has_previous() else "",
        next_url=with_params(params, page=str(page.number + 1)) if page.has_next() else "",
    )


class _Echo:
    """A file-like object whose write returns what it is given: csv.writer then yields lines."""

    def write(self, value):
        return value


def csv_lines(params):
    """The filtered events as CSV lines, the header first, read from the database in batches."""
    writer = csv.writer(_Echo())
    yield writer.writerow([label for label, _ in CSV_COLUMNS])
    for event in filtered_events(AuditFilterForm(as_query_dict(params))).iterator(chunk_size=2000):
        row = []
        for _, field in CSV_COLUMNS:
            value = getattr(event, field)
            if field == "time":
                value = timezone.localtime(value).isoformat(timespec="seconds")
            row.append(_safe_cell(value))
        yield writer.writerow(row)


def _safe_cell(text):
    # A cell starting with = + - @ is a formula to a spreadsheet: a value from a DICOM header
    # or a login form must not run as one.
    text = str(text)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
