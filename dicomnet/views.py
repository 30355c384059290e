"""The network pages under /ui/: send to a destination, Query/Retrieve, jobs.

Thin views, as the explorer's: they check the form, call the same plain functions the
REST API calls (dicomnet.jobs, dicomnet.queries, dicomnet.scu), and render what
dicomnet.job_pages and dicomnet.query_pages prepare. Anything that starts a job does so
inside a transaction (the job is queued once it commits), then goes to the job's page,
where its progress shows live.
"""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from dicomnet import destinations, forms, job_pages, jobs, queries, query_pages, scu, web_queries
from dicomnet.models import DicomWebServer, Modality
from explorer import index
from explorer.errors import PharosError
from explorer.pages.formatting import counted
from explorer.pages.links import resource_url
from explorer.pages.resource import load, title_of
from explorer.views import not_found

JOB_ACTIONS = ("cancel", "pause", "resume", "resubmit")
ACTION_DONE = {
    "cancel": "Cancel asked: a running job stops at its next step.",
    "pause": "Pause asked: a running job stops at its next step.",
    "resume": "The job is queued again.",
    "resubmit": "The job is queued again, from the start.",
}


def submit_job(job_type, parameters):
    jobs.record_asked(job_type, parameters)
    with transaction.atomic():
        return jobs.submit(job_type, parameters)


# What each kind of page not found is, why it may be missing, and where to go instead.
QUERY_GONE = (
    "Only the latest remote queries are kept: search again to see fresh answers.",
    (("query-retrieve", "Query/Retrieve"), ("job-list", "Jobs")),
)
GONE = {
    "job": (
        "It may have been removed from the job history, or the link is wrong.",
        (("job-list", "Jobs"), ("home", "Lookup")),
    ),
    "query": QUERY_GONE,
    "answer": QUERY_GONE,
    "study answer": QUERY_GONE,
    "DICOMweb server": (
        "It may have been removed or renamed in the administration, or the link is wrong.",
        (("query-retrieve", "Query/Retrieve"),),
    ),
    "DICOMweb study": (
        "The DICOMweb server or the study UID in the link is not one Pharos knows.",
        (("query-retrieve", "Query/Retrieve"),),
    ),
}


def gone(request, what, identifier, status=404):
    """A page for a query, an answer, a DICOMweb server or a job that does not exist (any more),
    naming it."""
    why, links = GONE[what]
    context = {"what": what, "identifier": identifier, "why": why, "links": links}
    return render(request, "dicomnet/gone.html", context, status=status)


# ---------------------------------------------------------------- send


@login_required
@require_http_methods(["GET", "POST"])
def send(request, level, public_id):
    """GET ?destination=kind:name: the confirmation (or, without a valid choice, the choice
    again, saying why); POST: the job starts, then its page."""
    resource = load(level, public_id)
    if resource is None:
        return not_found(request, level, public_id)
    data = request.POST if request.method == "POST" else request.GET
    form = forms.SendForm(data if "destination" in data else None)
    valid = form.is_valid()
    title = title_of(level, resource)
    if request.method == "POST" and valid:
        destination = form.cleaned_data["destination"]
        job = destinations.start_send(destination, [public_id], request)
        where = f"{destination.name} ({destination.short_address})"
        messages.success(request, f"Sending {level.name.lower()} “{title}” to {where}.")
        return redirect(job_pages.job_url(job.id))
    context = {
        "form": form,
        "destination": form.cleaned_data.get("destination") if valid else None,
        "level": level.name,
        "title": title,
        "back_url": resource_url(level, public_id),
        "instances": counted(index.instances_below(level, resource).count(), "Instance"),
    }
    return render(request, "dicomnet/send.html", context, status=400 if form.is_bound and not valid else 200)


# ---------------------------------------------------------------- query/retrieve


def search_form_initial(request):
    """?server=kind:name (or ?modality=name) with the fields of a search, or ?from=<query id>
    to change an earlier search."""
    stored = query_pages.load_query(request.GET.get("from", ""))
    if stored is not None and stored.level == "Study":
        return forms.initial_from_query(stored.modality, stored.query)
    initial = {name: request.GET[name] for name in forms.SEARCH_TEXT_FIELDS if name in request.GET}
    initial["modalities"] = request.GET.getlist("modalities")
    modality = request.GET.get("modality", "")
    initial["server"] = request.GET.get("server") or (f"{destinations.MODALITY.key}:{modality}" if modality else "")
    return initial


def echo(request, server):
    """C-ECHO to a modality; to a DICOMweb server, a QIDO-RS request that must succeed."""
    try:
        if server.kind is destinations.DICOMWEB:
            web_queries.check(server.remote)
        else:
            scu.echo(server.remote)
    except (scu.ScuError, web_queries.WebQueryError) as error:
        messages.error(request, f"Echo failed: {error}")
    else:
        messages.success(request, f"{server.name} ({server.short_address}) answered the echo.")


def search(form):
    """The study query; (RemoteQuery, None) or (None, why it failed)."""
    modality = form.cleaned_data["server"].remote
    try:
        return queries.run_query(modality, "Study", form.dicom_query()), None
    except scu.ScuError as error:
        return None, f"The query failed: {error}"
    except PharosError as error:  # a value the query cannot encode
        return None, f"The query cannot be sent: {error.details or error.message}"


@login_required
@require_http_methods(["GET", "POST"])
def query_retrieve(request):
    """Step 1: the server and the study search form; POST action=echo or action=search."""
    if request.method == "POST":
        form = forms.RemoteStudyQueryForm(request.POST)
        valid = form.is_valid()
        server = form.cleaned_data.get("server")
        if request.POST.get("action") == "echo" and server is not None:
            echo(request, server)
        elif valid and server.kind is destinations.DICOMWEB:
            # The answers page asks the server: its URL is the search, to open again or share.
            url = reverse("web-query", args=[server.name])
            return redirect(f"{url}?{form.search_fields()}")
        elif valid:
            stored, problem = search(form)
            if stored is not None:
                return redirect(query_pages.query_url(stored.id))
            messages.error(request, problem)
    else:
        form = forms.RemoteStudyQueryForm(initial=search_form_initial(request))
    context = {
        "form": form,
        "has_servers": bool(form.grouped),
        "recent": query_pages.recent_queries(),
        "section": "query-retrieve",
    }
    return render(request, "dicomnet/query_retrieve.html", context)


def parent_of(request):
    """The study query a series query was opened from (?from=<id>&answer=<i>), if any."""
    parent = query_pages.load_query(request.GET.get("from", ""))
    try:
        position = int(request.GET.get("answer", ""))
    except ValueError:
        position = None
    return parent, position


@login_required
def query_answers(request, query_id):
    """Step 2 or 3: the answers of a study or series query, each to open or retrieve."""
    stored = query_pages.load_query(query_id)
    if stored is None:
        return gone(request, "query", query_id)
    parent, position = parent_of(request)
    context = {
        "page": query_pages.query_page(stored, parent, position),
        "retrieve_form": forms.RetrieveForm(initial={"target_aet": settings.PHAROS_AET}),
        "section": "query-retrieve",
    }
    return render(request, "dicomnet/query.html", context)


@login_required
def answer_series(request, query_id, index):
    """Drill down: a series-level query below one study answer, then its page."""
    stored = query_pages.load_query(query_id)
    answer = stored.answers.filter(position=index).first() if stored is not None else None
    if answer is None or stored.level != "Study":
        return gone(request, "study answer", f"{query_id}/{index}")
    modality = Modality.objects.filter(name=stored.modality).first()
    if modality is None:
        messages.error(request, f"The modality {stored.modality} is no longer configured.")
        return redirect(query_pages.query_url(stored.id))
    wanted = forms.series_query(query_pages.simplified(answer))
    try:
        series_query = queries.run_query(modality, "Series", wanted)
    except (scu.ScuError, PharosError) as error:
        messages.error(request, f"The series query failed: {error}")
        return redirect(query_pages.query_url(stored.id))
    return redirect(f"{query_pages.query_url(series_query.id)}?from={stored.id}&answer={index}")


def retrieve(request, stored, chosen, what):
    """GET: the retrieve form on its own page (without JavaScript); POST: start the C-MOVE."""
    form = forms.RetrieveForm(request.POST or None, initial={"target_aet": settings.PHAROS_AET})
    if request.method == "POST" and form.is_valid():
        target = form.cleaned_data["target_aet"]
        job = submit_job("DicomMoveScu", queries.move_parameters(stored, chosen, target))
        messages.success(request, f"Retrieving {what} from {stored.modality} to {target}.")
        return redirect(job_pages.job_url(job.id))
    context = {
        "form": form,
        "what": what,
        "source": stored.modality,
        "back_url": query_pages.query_url(stored.id),
        "section": "query-retrieve",
    }
    return render(request, "dicomnet/retrieve.html", context, status=400 if form.is_bound else 200)


@login_required
@require_http_methods(["GET", "POST"])
def retrieve_answer(request, query_id, index):
    stored = query_pages.load_query(query_id)
    answer = stored.answers.filter(position=index).first() if stored is not None else None
    if answer is None:
        return gone(request, "answer", f"{query_id}/{index}")
    return retrieve(request, stored, [answer], query_pages.answer_title(stored.level, answer))


@login_required
@require_http_methods(["GET", "POST"])
def retrieve_all(request, query_id):
    stored = query_pages.load_query(query_id)
    if stored is None:
        return gone(request, "query", query_id)
    answers = list(stored.answers.all())
    if not answers:
        messages.error(request, "This query has no answer to retrieve.")
        return redirect(query_pages.query_url(stored.id))
    return retrieve(request, stored, answers, counted(len(answers), stored.level))


# ---------------------------------------------------------------- query/retrieve over DICOMweb


def web_server(name):
    return DicomWebServer.objects.filter(name=name).first()


def web_search_url(name, search):
    url = reverse("web-query", args=[name])
    return f"{url}?{search}" if search else url


def web_search(request, server):
    """The study search of a DICOMweb answers page, from its URL: (form, dicom query) or (form, None)."""
    data = request.GET.copy()
    data["server"] = f"{destinations.DICOMWEB.key}:{server.name}"
    form = forms.RemoteStudyQueryForm(data)
    return form, form.dicom_query() if form.is_valid() else None


def back_to_search(request, server, message):
    messages.error(request, message)
    search = request.GET.urlencode()
    url = reverse("query-retrieve") + f"?server={destinations.DICOMWEB.key}:{server.name}"
    return redirect(f"{url}&{search}" if search else url)


class SearchRefused(Exception):
    """The search in the URL is not valid, or the server failed it: the reason for the user."""


def searched_studies(request, server):
    """(form, query, studies found) for the search in the URL, asked of the server now;
    SearchRefused says why there are none."""
    form, wanted = web_search(request, server)
    if wanted is None:
        raise SearchRefused("The search is not valid: change it.")
    try:
        return form, wanted, web_queries.search_studies(server, wanted)
    except web_queries.WebQueryError as error:
        raise SearchRefused(f"The query failed: {error}") from error


@login_required
def web_query_answers(request, name):
    """The study answers of a DICOMweb server, asked with QIDO-RS when the page opens."""
    server = web_server(name)
    if server is None:
        return gone(request, "DICOMweb server", name)
    try:
        form, wanted, found = searched_studies(request, server)
    except SearchRefused as refused:
        return back_to_search(request, server, str(refused))
    page = query_pages.web_study_page(server.name, form.search_fields(), found, wanted)
    return render(request, "dicomnet/query.html", {"page": page, "section": "query-retrieve"})


@login_required
def web_study_series(request, name, study_uid):
    """Drill down: the series of one study of a DICOMweb server."""
    server = web_server(name)
    if server is None or not query_pages.is_uid(study_uid):
        return gone(request, "DICOMweb study", f"{name}/{study_uid}")
    try:
        study = web_queries.find_study(server, study_uid)
        found = web_queries.search_series(server, study_uid)
    except web_queries.WebQueryError as error:
        messages.error(request, f"The series query failed: {error}")
        return redirect(web_search_url(name, request.GET.urlencode()))
    page = query_pages.web_series_page(server.name, request.GET.urlencode(), study_uid, study, found)
    return render(request, "dicomnet/query.html", {"page": page, "section": "query-retrieve"})


def web_retrieve(request, server, resources, what):
    """GET: the confirmation (without JavaScript); POST: the retrieve job starts, then its page."""
    if request.method == "POST":
        job = web_queries.retrieve(server, resources, request)
        messages.success(request, f"Retrieving {what} from {server.name} over DICOMweb.")
        return redirect(job_pages.job_url(job.id))
    context = {
        "what": what,
        "source": server.name,
        "dicomweb": True,
        "back_url": web_search_url(server.name, request.GET.urlencode()),
        "section": "query-retrieve",
    }
    return render(request, "dicomnet/retrieve.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def web_retrieve_study(request, name, study_uid, series_uid=None):
    server = web_server(name)
    uids = [study_uid] + ([series_uid] if series_uid is not None else [])
    if server is None or not all(query_pages.is_uid(uid) for uid in uids):
        return gone(request, "DICOMweb study", f"{name}/{'/'.join(uids)}")
    if series_uid is None:
        return web_retrieve(request, server, web_queries.study_resources([study_uid]), f"the study {study_uid}")
    resources = web_queries.series_resources(study_uid, [series_uid])
    return web_retrieve(request, server, resources, f"the series {series_uid}")


@login_required
@require_http_methods(["GET", "POST"])
def web_retrieve_all(request, name):
    """Every study answer of the search in the URL, asked again: what it finds now is retrieved."""
    server = web_server(name)
    if server is None:
        return gone(request, "DICOMweb server", name)
    try:
        _, _, found = searched_studies(request, server)
    except SearchRefused as refused:
        return back_to_search(request, server, str(refused))
    uids = [uid for uid in web_queries.study_uids(found) if query_pages.is_uid(uid)]
    if not uids:
        messages.error(request, "This search has no answer to retrieve.")
        return redirect(web_search_url(name, request.GET.urlencode()))
    return web_retrieve(request, server, web_queries.study_resources(uids), counted(len(uids), "Study"))


# ---------------------------------------------------------------- jobs


@login_required
def job_list(request):
    jobs.fail_dead_jobs()
    context = {"listing": job_pages.job_listing(request.GET), "section": "jobs"}
    return render(request, "dicomnet/jobs.html", context)


@login_required
def job_detail(request, job_id):
    jobs.fail_dead_jobs()
    job = job_pages.load_job(job_id)
    if job is None:
        return gone(request, "job", job_id)
    context = {"page": job_pages.job_page(job), "section": "jobs"}
    return render(request, "dicomnet/job.html", context)


@login_required
@require_POST
def job_action(request, job_id, action):
    """Cancel, pause, resume or resubmit; back to the page the button was on."""
    job = job_pages.load_job(job_id)
    if job is None or action not in JOB_ACTIONS:
        return gone(request, "job", job_id)
    with transaction.atomic():
        getattr(jobs, action)(job)
    messages.success(request, ACTION_DONE[action])
    back = request.POST.get("next", "")
    # Only our own job pages: a form must not be able to send the browser elsewhere.
    return redirect(back if back.startswith("/ui/jobs") else job_pages.job_url(job.id))
