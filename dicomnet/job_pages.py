"""What the jobs pages show (/ui/jobs), as plain data: a job's row, its page, the paged list.

As explorer.pages does for the local index, everything here is ready to print (dates
formatted, names readable, URLs made), so that the views stay thin and tests can call
these functions directly. A list page costs a few queries whatever its length.
"""

import json
from dataclasses import dataclass

from django.core.paginator import Paginator
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from dicomnet.models import Job
from explorer import index, levels, query
from explorer.identifiers import is_uuid
from explorer.pages.formatting import counted, format_date, format_moment, person_name
from explorer.pages.links import resource_url, with_params
from explorer.pages.listings import page_links
from explorer.pages.resource import load, title_of

JOBS_PER_PAGE = 50
TYPE_LABELS = {
    "DicomModalityStore": "Send to a modality",
    "OrthancPeerStore": "Send to a peer",
    "DicomMoveScu": "Retrieve (C-MOVE)",
    "DicomGetScu": "Retrieve (C-GET)",
    "DicomWebStowClient": "Send to a DICOMweb server",
    "DicomWebWadoRetrieveClient": "Retrieve (WADO-RS)",
    "ResourceModification": "Modify",
    "MergeStudy": "Merge into a study",
    "SplitStudy": "Split a study",
}
CHANGE_TYPES = ("ResourceModification", "MergeStudy", "SplitStudy")
SEND_TYPES = ("DicomModalityStore", "OrthancPeerStore", "DicomWebStowClient")
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


def format_seconds(seconds):
    if not seconds:
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s"


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


def type_label(job):
    if job.type == "ResourceModification" and job.parameters.get("IsAnonymization"):
        return "Anonymize"
    return TYPE_LABELS.get(job.type, job.type)


def _resources(count):
    return f"{count} resource{'s' if count != 1 else ''}"


def _change_summary(job):
    p = job.parameters
    if job.type == "MergeStudy":
        return f"{_resources(len(p.get('Resources') or []))} into study {p.get('Study', '')[:8]}…"
    if job.type == "SplitStudy":
        what = len(p.get("Series") or []) + len(p.get("Instances") or [])
        return f"{_resources(what)} out of study {p.get('Study', '')[:8]}…"
    return modification_summary(job)


def modification_summary(job):
    """ "Study 8a8cf898…: an anonymized copy", "3 resources: modified copies, the originals deleted"."""
    p = job.parameters
    kind = "anonymized" if p.get("IsAnonymization") else "modified"
    body = p.get("Body") if isinstance(p.get("Body"), dict) else {}
    kept = body.get("KeepSource", True) is not False
    if "Resources" in p:
        what = f"{_resources(len(p['Resources'] or []))}: {kind} copies"
        return what if kept else f"{what}, the originals deleted"
    what = f"{p.get('Level', '')} {p.get('Resource', '')[:8]}…: {'an' if kind == 'anonymized' else 'a'} {kind} copy"
    return what if kept else f"{what}, the original deleted"


def job_summary(job):
    """One line saying what the job does: "1 resource to pacs", "1 study from pacs to PHAROS"."""
    if job.type in CHANGE_TYPES:
        return _change_summary(job)
    p = job.parameters
    modality = p.get("Modality") or p.get("Peer") or "?"
    if job.type in (*SEND_TYPES, "DicomWebWadoRetrieveClient"):
        count = len(p.get("Resources") or [])
        towards = "from" if job.type == "DicomWebWadoRetrieveClient" else "to"
        return f"{count} resource{'s' if count != 1 else ''} {towards} {p.get('Server') or modality}"
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
        type_label=type_label(job),
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
    resources_title: str = ""
    result: Link | None = None  # what a modification made, once it is done
    arrived: int | None = None  # instances a finished retrieve brought here


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
        found = index.series_with_uids(uids)
        return [
            Link(
                f"Series: {s.main_tags.get('SeriesDescription') or s.series_instance_uid}",
                resource_url(levels.SERIES, s.public_id),
            )
            for s in found
        ]
    uids = [i.get("StudyInstanceUID") for i in identifiers if i.get("StudyInstanceUID")]
    found = index.studies_with_uids(uids)
    return [
        Link(
            f"Study: {s.study_description or format_date(s.study_date) or s.study_instance_uid}",
            resource_url(levels.STUDY, s.public_id),
            person_name(s.patient.patient_name),
        )
        for s in found
    ]


def arrived_instances(job, identifiers):
    """How many instances a finished retrieve brought here: the count its content gives (C-GET,
    WADO-RS), else those of the studies or series it asked for received while it ran (a C-MOVE's
    instances come on associations of their own, and its content is Orthanc's, without a count).
    None while it runs."""
    if job.state not in (Job.SUCCESS, Job.FAILURE) or job.started is None:
        return None
    content = job.content or {}
    for key in ("InstancesCount", "ReceivedInstancesCount"):
        try:
            return int(content[key])
        except (KeyError, TypeError, ValueError):
            continue
    keyword = "SeriesInstanceUID" if job.parameters.get("Level") == "Series" else "StudyInstanceUID"
    uids = [i.get(keyword) for i in identifiers if i.get(keyword)]
    if not uids:
        return 0
    # The one search of the index, its UID list matching those asked for, scoped to the run.
    constraints = query.rest_constraints(levels.INSTANCE, {keyword: "\\".join(uids)}, case_sensitive=True)
    during = Q(received_at__range=(job.started, job.completed or timezone.now()))
    return query.search(levels.INSTANCE, constraints, scope=during, limit=1, count_total=True).total


def _link_to(public_id, what):
    level, resource = index.resolve(public_id)
    if resource is None:
        return Link(f"{what}: {public_id}", detail="no longer stored")
    return Link(f"{what} ({level.name.lower()}): {title_of(level, resource)}", resource_url(level, public_id))


def changed_resources(job):
    """Links to what a modification, merge or split starts from, and to what it made once done."""
    p, content = job.parameters, job.content or {}
    sources = p.get("Resources") or ([p["Resource"]] if p.get("Resource") else [])
    if job.type == "SplitStudy":
        sources = [p.get("Study", "")]
    links = [_link_to(public_id, "Source") for public_id in sources[:RESOURCES_SHOWN]]
    if job.state == Job.SUCCESS:
        made = content.get("ID") or content.get("TargetStudy")
        if made:
            links.append(_link_to(made, "Result"))
        for item in (content.get("Resources") or [])[:RESOURCES_SHOWN]:
            if item.get("Type") in ("Study", "Patient"):
                links.append(_link_to(item["ID"], "Result"))
    return links


def modification_result(job):
    """The button to the resource a finished modification made (its Content's ID and Type)."""
    content = job.content or {}
    level = levels.level_named(str(content.get("Type") or ""))
    if job.type != "ResourceModification" or job.state != Job.SUCCESS or level is None or not content.get("ID"):
        return None
    found = load(level, content["ID"])
    if found is None:
        return Link(f"The new {level.name.lower()}", detail="no longer stored")
    return Link(f"Open the new {level.name.lower()}", resource_url(level, content["ID"]), title_of(level, found))


def job_page(job):
    p = job.parameters
    if job.type in CHANGE_TYPES:
        return JobPage(
            row=job_row(job),
            modality="",
            parameters=[("Level", p["Level"])] if p.get("Level") else [],
            resources=changed_resources(job),
            raw_json=json.dumps(
                {"Parameters": p, "Content": job.content}, indent=2, sort_keys=True, ensure_ascii=False
            ),
            resources_title="Source and result",
            result=modification_result(job),
        )
    shown = []
    for key, label in (
        ("Modality", "Modality"),
        ("Peer", "Peer"),
        ("Server", "DICOMweb server"),
        ("Level", "Level"),
        ("TargetAet", "Target AE title"),
    ):
        if p.get(key):
            shown.append((label, p[key]))
    arrived = None
    if job.type in SEND_TYPES:
        resources = sent_resources(p.get("Resources") or [])
    elif job.type == "DicomWebWadoRetrieveClient":
        # The WADO-RS URIs asked for: /studies/{uid}[/series/{uid}[/instances/{uid}]].
        uids = [uri.split("/")[2] for uri in p.get("Resources") or [] if uri.startswith("/studies/")]
        resources = retrieved_resources({"Level": "Study", "Identifiers": [{"StudyInstanceUID": u} for u in uids]})
        arrived = arrived_instances(job, [{"StudyInstanceUID": u} for u in uids])
    else:
        resources = retrieved_resources(p)
        arrived = arrived_instances(job, p.get("Identifiers") or [])
    return JobPage(
        arrived=arrived,
        row=job_row(job),
        modality=p.get("Modality", ""),
        parameters=shown,
        resources=resources,
        # The headers of a DICOMweb request may carry a token: named, not shown.
        raw_json=json.dumps(
            {
                "Parameters": p | ({"HttpHeaders": sorted(p["HttpHeaders"])} if p.get("HttpHeaders") else {}),
                "Content": job.content,
            },
            indent=2,
            sort_keys=True,
            ensure_ascii=False,
        ),
        resources_title="What is sent" if job.type in SEND_TYPES else "Retrieved, now in Pharos",
    )
