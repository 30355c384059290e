"""What the network pages show, as plain data: jobs, and the answers of remote queries.

As explorer.pages does for the local index, everything here is ready to print (dates
formatted, names readable, URLs made), so that the views stay thin and tests can call
these functions directly. A list page costs a few queries whatever its length.
"""

import json
from dataclasses import dataclass

from django.core.paginator import Paginator
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from dicomnet.models import Job, RemoteQuery
from explorer import index, levels, tags
from explorer.identifiers import is_uuid
from explorer.models import Series, Study
from explorer.pages import (
    format_date,
    format_time,
    page_links,
    person_name,
    resource_url,
    title_of,
    with_params,
)

JOBS_PER_PAGE = 50
TYPE_LABELS = {
    "DicomModalityStore": "Send to a modality",
    "DicomMoveScu": "Retrieve (C-MOVE)",
    "DicomGetScu": "Retrieve (C-GET)",
}
# What a user may ask of a job in each state (see dicomnet.jobs: anything else changes nothing).
ACTIONS_BY_STATE = {
    Job.PENDING: ("pause", "cancel"),
    Job.RETRY: ("pause", "cancel"),
    Job.RUNNING: ("pause", "cancel"),
    Job.PAUSED: ("resume", "cancel"),
    Job.FAILURE: ("resubmit",),
    Job.SUCCESS: (),
}
ACTION_LABELS = {"pause": "Pause", "cancel": "Cancel", "resume": "Resume", "resubmit": "Resubmit"}
LIVE_STATES = (Job.PENDING, Job.RUNNING, Job.RETRY)


def format_moment(moment):
    """A timestamp in the server's time zone: "19 Jan 2024 07:27:30"; "" for none."""
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    return f"{local.day} {local:%b %Y %H:%M:%S}"


def format_seconds(seconds):
    if not seconds:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s"


# ---------------------------------------------------------------- jobs


@dataclass
class JobAction:
    name: str
    label: str
    url: str


@dataclass
class JobRow:
    id: str
    url: str
    type: str
    type_label: str
    state: str
    progress: int
    summary: str
    created: str
    started: str
    completed: str
    runtime: str
    instances: int | None
    failed: int | None
    error: str
    error_details: str
    actions: list
    live: bool


def job_url(job_id):
    return reverse("job", args=[job_id])


def counted(count, level_name):
    """ "1 study", "3 studies", "2 series"."""
    level = levels.level_named(level_name or "")
    if level is None:
        return f"{count} item{'s' if count != 1 else ''}"
    noun = level.name.lower() if count == 1 else level.plural
    return f"{count} {noun}"


def job_summary(job):
    """One line saying what the job does: "1 resource to pacs", "1 study from pacs to PHAROS"."""
    p = job.parameters
    modality = p.get("Modality", "?")
    if job.type == "DicomModalityStore":
        count = len(p.get("Resources") or [])
        return f"{count} resource{'s' if count != 1 else ''} to {modality}"
    what = counted(len(p.get("Identifiers") or []), p.get("Level"))
    if job.type == "DicomMoveScu":
        return f"{what} from {modality} to {p.get('TargetAet', '')}"
    if job.type == "DicomGetScu":
        return f"{what} from {modality}"
    return ""


def _count(content, key):
    value = (content or {}).get(key)
    return value if isinstance(value, int) else None


def job_row(job):
    actions = [
        JobAction(name, ACTION_LABELS[name], reverse("job-action", args=[job.id, name]))
        for name in ACTIONS_BY_STATE.get(job.state, ())
    ]
    error = "" if job.error_code == 0 else f"{job.error_description} (code {job.error_code})"
    return JobRow(
        id=str(job.id),
        url=job_url(job.id),
        type=job.type,
        type_label=TYPE_LABELS.get(job.type, job.type),
        state=job.state,
        progress=job.progress,
        summary=job_summary(job),
        created=format_moment(job.created),
        started=format_moment(job.started),
        completed=format_moment(job.completed),
        runtime=format_seconds(job.runtime),
        instances=_count(job.content, "InstancesCount"),
        failed=_count(job.content, "FailedInstancesCount"),
        error=error,
        error_details=job.error_details,
        actions=actions,
        live=job.state in LIVE_STATES,
    )


@dataclass
class StateLink:
    label: str
    url: str
    current: bool


@dataclass
class JobListing:
    rows: list
    page: object
    page_links: list
    total: int
    state: str
    state_links: list
    previous_url: str = ""
    next_url: str = ""


def job_listing(params):
    """/ui/jobs: newest first, ?state= filters, ?page= pages."""
    state = params.get("state", "")
    if state not in dict(Job.STATES):
        state = ""
    queryset = Job.objects.order_by("-created", "-pk")
    if state:
        queryset = queryset.filter(state=state)
    page = Paginator(queryset, JOBS_PER_PAGE).get_page(params.get("page"))
    state_links = [StateLink("All", with_params(params, state=None, page=None), not state)]
    state_links += [
        StateLink(name, with_params(params, state=name, page=None), name == state)
        for name, _ in Job.STATES
        if name != Job.RETRY  # no job type retries (as in Orthanc); the filter would always be empty
    ]
    return JobListing(
        rows=[job_row(job) for job in page.object_list],
        page=page,
        page_links=page_links(params, page),
        total=page.paginator.count,
        state=state,
        state_links=state_links,
        previous_url=with_params(params, page=str(page.number - 1)) if page.has_previous() else "",
        next_url=with_params(params, page=str(page.number + 1)) if page.has_next() else "",
    )


def load_job(job_id):
    return Job.objects.filter(pk=job_id).first() if is_uuid(str(job_id)) else None


@dataclass
class Link:
    label: str
    url: str = ""
    detail: str = ""


@dataclass
class JobPage:
    row: JobRow
    modality: str
    parameters: list  # (label, value) pairs
    resources: list  # Links to what is sent, or to what was retrieved and is here now
    raw_json: str = ""  # parameters and content, for those who want every detail


RESOURCES_SHOWN = 20


def sent_resources(public_ids):
    """Links to the resources a store job sends (the first RESOURCES_SHOWN: a REST client may
    send thousands, and each costs a lookup)."""
    links = []
    for public_id in public_ids[:RESOURCES_SHOWN]:
        level, resource = index.resolve(public_id)
        if resource is None:
            links.append(Link(public_id, detail="no longer stored"))
        else:
            links.append(Link(f"{level.name}: {title_of(level, resource)}", resource_url(level, public_id)))
    if len(public_ids) > RESOURCES_SHOWN:
        links.append(Link(f"and {len(public_ids) - RESOURCES_SHOWN} more"))
    return links


def retrieved_resources(parameters):
    """Links to the studies or series a retrieve asked for that are now in Pharos."""
    identifiers = parameters.get("Identifiers") or []
    level = parameters.get("Level")
    if level == "Series":
        uids = [i.get("SeriesInstanceUID") for i in identifiers if i.get("SeriesInstanceUID")]
        found = Series.objects.filter(series_instance_uid__in=uids)
        return [Link(f"Series: {s.main_tags.get('SeriesDescription') or s.series_instance_uid}",
                     resource_url(levels.SERIES, s.public_id)) for s in found]
    uids = [i.get("StudyInstanceUID") for i in identifiers if i.get("StudyInstanceUID")]
    found = Study.objects.filter(study_instance_uid__in=uids).select_related("patient")
    return [
        Link(f"Study: {s.study_description or format_date(s.study_date) or s.study_instance_uid}",
             resource_url(levels.STUDY, s.public_id), person_name(s.patient.patient_name))
        for s in found
    ]


def job_page(job):
    p = job.parameters
    shown = []
    for key, label in (("Modality", "Modality"), ("Level", "Level"), ("TargetAet", "Target AE title")):
        if p.get(key):
            shown.append((label, p[key]))
    if job.type == "DicomModalityStore":
        resources = sent_resources(p.get("Resources") or [])
    else:
        resources = retrieved_resources(p)
    return JobPage(
        row=job_row(job),
        modality=p.get("Modality", ""),
        parameters=shown,
        resources=resources,
        raw_json=json.dumps({"Parameters": p, "Content": job.content}, indent=2, sort_keys=True, ensure_ascii=False),
    )


# ---------------------------------------------------------------- remote queries


def load_query(query_id):
    return RemoteQuery.objects.filter(pk=query_id).first() if is_uuid(str(query_id)) else None


@dataclass
class StudyAnswer:
    index: int
    date: str
    time: str
    patient_name: str
    patient_id: str
    birth_date: str
    description: str
    modalities: tuple
    accession_number: str
    series_count: str
    instance_count: str
    study_uid: str
    series_url: str
    retrieve_url: str
    local_url: str = ""


@dataclass
class SeriesAnswer:
    index: int
    number: str
    modality: str
    description: str
    date: str
    body_part: str
    instance_count: str
    series_uid: str
    retrieve_url: str
    local_url: str = ""


def _text(simplified, keyword):
    value = simplified.get(keyword)
    return value if isinstance(value, str) else ""


def answer_urls(stored, position):
    query_id = str(stored.id)
    return (
        reverse("remote-answer-series", args=[query_id, position]),
        reverse("remote-answer-retrieve", args=[query_id, position]),
    )


def local_studies(uids):
    """{StudyInstanceUID: page URL} of the studies already in Pharos, in one query."""
    found = Study.objects.filter(study_instance_uid__in=[u for u in uids if u]).values_list("study_instance_uid", "public_id")
    return {uid: resource_url(levels.STUDY, public_id) for uid, public_id in found}


def local_series(uids):
    found = Series.objects.filter(series_instance_uid__in=[u for u in uids if u]).values_list("series_instance_uid", "public_id")
    return {uid: resource_url(levels.SERIES, public_id) for uid, public_id in found}


def study_answers(stored, answers):
    """Rows of study answers, newest first (undated ones last, in the server's order)."""
    simplified = [(a.position, tags.simplified_tags(a.content)) for a in answers]
    here = local_studies([_text(s, "StudyInstanceUID") for _, s in simplified])
    dated = []
    for position, s in simplified:
        series_url, retrieve_url = answer_urls(stored, position)
        uid = _text(s, "StudyInstanceUID")
        row = StudyAnswer(
            index=position,
            date=format_date(_text(s, "StudyDate")),
            time=format_time(_text(s, "StudyTime"))[:5],
            patient_name=person_name(_text(s, "PatientName")),
            patient_id=_text(s, "PatientID"),
            birth_date=format_date(_text(s, "PatientBirthDate")),
            description=_text(s, "StudyDescription"),
            modalities=tuple(m for m in _text(s, "ModalitiesInStudy").split("\\") if m),
            accession_number=_text(s, "AccessionNumber"),
            series_count=_text(s, "NumberOfStudyRelatedSeries"),
            instance_count=_text(s, "NumberOfStudyRelatedInstances"),
            study_uid=uid,
            series_url=series_url,
            retrieve_url=retrieve_url,
            local_url=here.get(uid, ""),
        )
        dated.append((_text(s, "StudyDate") + _text(s, "StudyTime"), row))
    # A stable sort: equal dates keep the server's order.
    dated.sort(key=lambda pair: pair[0], reverse=True)
    return [row for _, row in dated]


def series_answers(stored, answers):
    simplified = [(a.position, tags.simplified_tags(a.content)) for a in answers]
    here = local_series([_text(s, "SeriesInstanceUID") for _, s in simplified])
    rows = []
    for position, s in simplified:
        _, retrieve_url = answer_urls(stored, position)
        uid = _text(s, "SeriesInstanceUID")
        rows.append(
            SeriesAnswer(
                index=position,
                number=_text(s, "SeriesNumber"),
                modality=_text(s, "Modality"),
                description=_text(s, "SeriesDescription"),
                date=format_date(_text(s, "SeriesDate")),
                body_part=_text(s, "BodyPartExamined"),
                instance_count=_text(s, "NumberOfSeriesRelatedInstances"),
                series_uid=uid,
                retrieve_url=retrieve_url,
                local_url=here.get(uid, ""),
            )
        )
    return sorted(rows, key=_series_number_order)


def _series_number_order(row):
    try:
        return (0, int(row.number), row.index)
    except ValueError:
        return (1, 0, row.index)


# Labels of the keys a person may have searched on, in the order the form shows them.
CRITERIA_LABELS = {
    "PatientName": "Patient name",
    "PatientID": "Patient ID",
    "AccessionNumber": "Accession number",
    "StudyDescription": "Study description",
    "StudyDate": "Study date",
    "ModalitiesInStudy": "Modalities",
    "StudyInstanceUID": "Study Instance UID",
}


def readable_dates(matching):
    """A DICOM date or range as a person reads it: "1 Jan 2020 – 31 Dec 2020", "1 Jan 2020 – …"."""
    if "-" not in matching:
        return format_date(matching)
    return " – ".join(format_date(part) if part else "…" for part in matching.split("-", 1))


def criteria(stored):
    """[(label, value)] of what the query matched on (its non-empty keys)."""
    found = []
    for keyword, label in CRITERIA_LABELS.items():
        value = stored.query.get(keyword) or ""
        if not value:
            continue
        if keyword == "StudyDate":
            value = readable_dates(value)
        elif keyword == "ModalitiesInStudy":
            value = ", ".join(value.split("\\"))
        found.append((label, value))
    return found


# Columns that many servers leave empty (they are optional return keys): shown when any answer fills them.
OPTIONAL_COLUMNS = ("series_count", "instance_count", "body_part", "date")


def optional_columns(rows):
    return {name: any(getattr(row, name, "") for row in rows) for name in OPTIONAL_COLUMNS}


@dataclass
class QueryPage:
    query: RemoteQuery
    level: str
    criteria: list
    rows: list
    dropped_keys: list
    modify_url: str
    shown: dict  # optional column -> whether any answer has a value for it
    parent_url: str = ""
    study: StudyAnswer | None = None  # the study whose series these are


def query_page(stored, parent=None, parent_position=None):
    """A stored query and its answers; `parent` is the study query a series query came from."""
    answers = list(stored.answers.all())
    if stored.level == "Series":
        rows = series_answers(stored, answers)
    else:
        rows = study_answers(stored, answers)
    page = QueryPage(
        shown=optional_columns(rows),
        query=stored,
        level=stored.level,
        criteria=criteria(stored),
        rows=rows,
        dropped_keys=stored.dropped_keys,
        modify_url=reverse("query-retrieve") + f"?from={stored.id}",
    )
    if parent is not None:
        page.parent_url = reverse("remote-query", args=[parent.id])
        parent_answer = parent.answers.filter(position=parent_position).first() if parent_position is not None else None
        if parent_answer is not None:
            page.study = study_answers(parent, [parent_answer])[0]
            page.modify_url = reverse("query-retrieve") + f"?from={parent.id}"
    return page


def query_url(query_id):
    return reverse("remote-query", args=[query_id])


def simplified(answer):
    return tags.simplified_tags(answer.content)


def answer_title(level_name, answer):
    """How an answer is named in messages: “DOE, JOHN · Chest CT” or “series 2 · CT · Axial”."""
    s = simplified(answer)
    if level_name == "Series":
        parts = [f"#{_text(s, 'SeriesNumber')}" if _text(s, "SeriesNumber") else "", _text(s, "Modality"),
                 _text(s, "SeriesDescription")]
        return "series " + (" · ".join(p for p in parts if p) or _text(s, "SeriesInstanceUID"))
    parts = [person_name(_text(s, "PatientName")), _text(s, "StudyDescription") or format_date(_text(s, "StudyDate"))]
    return "study " + (" · ".join(p for p in parts if p) or _text(s, "StudyInstanceUID"))


@dataclass
class RecentQuery:
    url: str
    modality: str
    created: str
    criteria: list
    answers: int


def recent_queries(count=5):
    """The last study searches, to open their answers again without asking the server."""
    found = RemoteQuery.objects.filter(level="Study").annotate(answer_count=Count("answers")).order_by("-created")[:count]
    return [
        RecentQuery(query_url(q.id), q.modality, format_moment(q.created), criteria(q), q.answer_count) for q in found
    ]
