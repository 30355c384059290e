"""The explorer's HTML pages under /ui/: thin views over explorer.pages.

Every view needs a logged-in user (the login middleware already sends browsers to the
login page; the decorator keeps that true should the middleware change). A view finds the
resource, asks explorer.pages for what to show and renders one template.
"""

from collections import Counter

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from explorer import audit, forms, levels, resource_counts
from explorer.pages.audit import audit_listing, csv_lines
from explorer.pages.children import (
    filter_text,
    instance_listing,
    latest_studies,
    patient_studies,
    series_instances,
    series_neighbours,
    series_viewer,
    study_series,
)
from explorer.pages.deletion import delete_and_go_up, deletion
from explorer.pages.formatting import uid_name
from explorer.pages.instance import file_meta_nodes, instance_view, tag_nodes
from explorer.pages.lookup import jump_matches, latest_order
from explorer.pages.patients import patient_listing
from explorer.pages.resource import (
    file_fields,
    load,
    resource_page,
    series_fields,
    stability_fields,
    title_of,
)
from explorer.pages.studies import study_listing
from explorer.pages.windowing import PRESETS, chosen_preset
from explorer.uploads import opened_files, request_origin, store_many


@login_required
def root(request):
    return redirect("home")


@login_required
def home(request):
    """The lookup page: the study lookup form (answered by the study list) and the jump box."""
    jump = forms.JumpForm(request.GET if "q" in request.GET else None)
    matches = None
    if jump.is_bound and jump.is_valid():
        matches = jump_matches(jump.cleaned_data["q"])
        if len(matches) == 1:
            return redirect(matches[0].url)
    latest_ordering, latest_label, latest_links = latest_order(request.GET)
    context = {
        "form": forms.StudyFilterForm(),
        "jump": jump,
        "matches": matches,
        "modalities": forms.COMMON_MODALITIES,
        "statistics": resource_counts.global_statistics(),
        "latest": latest_studies(order_by=latest_ordering),
        "latest_order": latest_label,
        "latest_links": latest_links,
        "aet": settings.PHAROS_AET,
        "dicom_port": settings.PHAROS_DICOM_PORT,
        "section": "lookup",
    }
    return render(request, "explorer/home.html", context)


@login_required
def patient_list(request):
    context = {"listing": patient_listing(request.GET), "section": "patients"}
    return render(request, "explorer/patients.html", context)


@login_required
def study_list(request):
    context = {"listing": study_listing(request.GET), "modalities": forms.COMMON_MODALITIES, "section": "studies"}
    return render(request, "explorer/studies.html", context)


def not_found(request, level, public_id):
    context = {"level": level.name, "public_id": public_id}
    return render(request, "explorer/not_found.html", context, status=404)


@login_required
def patient(request, public_id):
    resource = load(levels.PATIENT, public_id)
    if resource is None:
        return not_found(request, levels.PATIENT, public_id)
    audit.record(audit.VIEW, request, level=levels.PATIENT, resource=resource, detail="explorer page")
    context = {
        "page": resource_page(levels.PATIENT, resource),
        "studies": patient_studies(resource, filter_text(request.GET)),
        "filter": filter_text(request.GET),
        "section": "patients",
    }
    return render(request, "explorer/patient.html", context)


@login_required
def study(request, public_id):
    resource = load(levels.STUDY, public_id)
    if resource is None:
        return not_found(request, levels.STUDY, public_id)
    audit.record(audit.VIEW, request, level=levels.STUDY, resource=resource, detail="explorer page")
    context = {
        "page": resource_page(levels.STUDY, resource, extra_fields=stability_fields(resource)),
        "series_rows": study_series(resource, filter_text(request.GET)),
        "filter": filter_text(request.GET),
        "section": "studies",
    }
    return render(request, "explorer/study.html", context)


@login_required
def series(request, public_id):
    resource = load(levels.SERIES, public_id)
    if resource is None:
        return not_found(request, levels.SERIES, public_id)
    audit.record(audit.VIEW, request, level=levels.SERIES, resource=resource, detail="explorer page")
    instances = series_instances(resource)
    status = series_fields(resource, [row.index_in_series for row in instances])
    preset = chosen_preset(request.GET)
    context = {
        "page": resource_page(levels.SERIES, resource, extra_fields=status + stability_fields(resource)),
        "instances": instances,
        "listing": instance_listing(request.GET, instances),
        "viewer": series_viewer(instances, preset),
        "presets": PRESETS,
        "preset": preset,
        "section": "studies",
    }
    return render(request, "explorer/series.html", context)


@login_required
def instance(request, public_id):
    resource = load(levels.INSTANCE, public_id)
    if resource is None:
        return not_found(request, levels.INSTANCE, public_id)
    audit.record(audit.VIEW, request, level=levels.INSTANCE, resource=resource, detail="explorer page")
    preset = chosen_preset(request.GET)
    context = {
        "page": resource_page(levels.INSTANCE, resource, extra_fields=file_fields(resource)),
        "view": instance_view(resource, preset),
        "neighbours": series_neighbours(resource, preset),
        "presets": PRESETS,
        "preset": preset,
        "tags": tag_nodes(resource.dataset),
        "meta_tags": file_meta_nodes(resource),
        "transfer_syntax": uid_name(resource.transfer_syntax_uid),
        "section": "studies",
    }
    return render(request, "explorer/instance.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def delete(request, level, public_id):
    """GET: the confirmation step; POST (with the CSRF token): delete, then go to what remains above."""
    resource = load(level, public_id)
    if resource is None:
        return not_found(request, level, public_id)
    if request.method == "POST":
        title = title_of(level, resource)
        deleted = audit.event(audit.DELETE, request, level=level, resource=resource, detail="explorer")
        destination = delete_and_go_up(level, resource)
        audit.save(deleted)
        messages.success(request, f"{level.name} “{title}” was deleted.")
        return redirect(destination)
    context = {
        "page": resource_page(level, resource),
        "deletion": deletion(level, resource),
    }
    return render(request, "explorer/delete.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def upload(request):
    """The upload page. With JavaScript the page sends each file to POST /instances itself;
    this POST (a plain multipart form of files, folders or ZIPs) is the way without it."""
    answers = None
    if request.method == "POST":
        # The form, parsed by Django for the CSRF check, has its files in the incoming folder.
        files = request.FILES.getlist("files") + request.FILES.getlist("folder")
        received = [(uploaded.name, uploaded.temporary_file_path()) for uploaded in files]
        if received:
            answers, _ = store_many(opened_files(received), request_origin(request))
        else:
            messages.error(request, "Choose at least one file to upload.")
    context = {
        "answers": answers,
        "counts": Counter(answer["Status"] for answer in answers or ()),
        "section": "upload",
    }
    return render(request, "explorer/upload.html", context)


# --- the audit trail (administrators only) ------------------------------------------------


def audit_trail(request):
    return render(request, "explorer/audit.html", {"listing": audit_listing(request.GET), "section": "audit"})


def audit_csv(request):
    """The filtered trail as CSV, streamed: it may hold a year of events."""
    # The database asked once before the answer starts: one that cannot be read is a 503
    # page (explorer/failures.py), not a download cut short.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    response = StreamingHttpResponse(csv_lines(request.GET), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="audit-{timezone.localdate():%Y%m%d}.csv"'
    return response
