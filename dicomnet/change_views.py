"""Modify and Anonymize from a resource page: a form, a confirmation step, then a
ResourceModification job (dicomnet.modification_jobs, as POST /{level}/{id}/modify and
/anonymize with "Asynchronous": true) and its page, which leads to the new resource.

Modify: GET shows the form; POST checks it and shows what will change, with the form
carried along in hidden fields; POST with `confirm` starts the job. Anonymize has only its
two options, so its page (or the resource page's dialog) is itself the confirmation step.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from dicomnet import job_pages, modification_jobs
from dicomnet.change_forms import AnonymizeForm, ModifyForm
from explorer.errors import PharosError
from explorer.pages.links import resource_url
from explorer.pages.resource import lineage, load, resource_page, title_of
from explorer.views import not_found


def start(request, level, resource, body, anonymize):
    """The job's page, or None with the refusal in the form's place (a body the engine rejects)."""
    try:
        with transaction.atomic():
            job = modification_jobs.submit_change(
                level, resource.public_id, body, anonymize, username=request.user.get_username()
            )
    except PharosError as error:
        return None, error.details or error.message
    what = "Anonymizing" if anonymize else "Modifying"
    messages.success(request, f"{what} {level.name.lower()} “{title_of(level, resource)}”.")
    return redirect(job_pages.job_url(job.id)), ""


def render_change(request, template, level, resource, form, status=200, **extra):
    context = {
        "page": resource_page(level, resource),
        "form": form,
        "cancel_url": resource_url(level, resource.public_id),
        "section": "patients" if level.name == "Patient" else "studies",
        **extra,
    }
    return render(request, template, context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def modify(request, level, public_id):
    resource = load(level, public_id)
    if resource is None:
        return not_found(request, level, public_id)
    chain = lineage(level, resource)
    if request.method == "GET":
        form = ModifyForm(level, chain)
        return render_change(request, "dicomnet/modify.html", level, resource, form)
    form = ModifyForm(level, chain, request.POST)
    if not form.is_valid():
        return render_change(request, "dicomnet/modify.html", level, resource, form, status=400)
    if "back" in request.POST:  # from the confirmation step, to change the form again
        return render_change(request, "dicomnet/modify.html", level, resource, form)
    if "confirm" not in request.POST:
        return render_change(request, "dicomnet/modify_confirm.html", level, resource, form, changes=form.changes())
    response, refusal = start(request, level, resource, form.body(), anonymize=False)
    if response is not None:
        return response
    form.add_error(None, refusal)
    return render_change(request, "dicomnet/modify.html", level, resource, form, status=400)


@login_required
@require_http_methods(["GET", "POST"])
def anonymize(request, level, public_id):
    resource = load(level, public_id)
    if resource is None:
        return not_found(request, level, public_id)
    form = AnonymizeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        response, refusal = start(request, level, resource, form.body(), anonymize=True)
        if response is not None:
            return response
        form.add_error(None, refusal)
    status = 400 if form.is_bound else 200
    return render_change(request, "dicomnet/anonymize.html", level, resource, form, status=status)
