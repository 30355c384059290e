"""REST for the jobs that change stored data, as Orthanc 1.10.1 answers them:
POST /{patients,studies,series}/{id}/modify and /anonymize, /studies/{id}/merge and /split,
/tools/bulk-modify and /tools/bulk-anonymize.

Each is a job. Synchronous by default, as in Orthanc: the job runs within the request and its
Content is the answer (a failure answers the job's error); with "Asynchronous": true (or
"Synchronous": false) the answer is {ID, Path} of the queued job.
"""

from dicomnet import modification_jobs as changes
from dicomnet.api.remote import _wants_synchronous
from dicomnet.models import Job
from explorer import audit, index, levels
from explorer.api.base import NoSuchResource, json_body, json_response
from explorer.errors import BadFileFormat, BadRequest


def _body(request):
    body = json_body(request, {})
    if not isinstance(body, dict):
        raise BadFileFormat("The body must be a JSON object")
    return body


def _run(job_type, parameters, body):
    """Run now and answer the job's content, or queue it and answer {ID, Path}."""
    priority = changes.priority_of(body)
    if _wants_synchronous(body):
        job = Job.objects.create(type=job_type, parameters=parameters, priority=priority)
        return json_response(changes.run_now(job))
    job = changes.submit_job(job_type, parameters, body)
    return json_response({"ID": str(job.id), "Path": f"/jobs/{job.id}"})


def _change(request, level, public_id, anonymize):
    resource = index.get(level, public_id)
    if resource is None:
        raise NoSuchResource(public_id)
    body = _body(request)
    parameters = changes.change_parameters(level, public_id, body, anonymize)
    audit.modified(request, level, resource, "anonymize" if anonymize else "modify")
    return _run(changes.MODIFICATION, parameters, body)


def modify(request, level, public_id):
    return _change(request, level, public_id, anonymize=False)


def anonymize(request, level, public_id):
    return _change(request, level, public_id, anonymize=True)


def _bulk(request, anonymize):
    body = _body(request)
    resources = body.get("Resources")
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        raise BadFileFormat("List of strings expected in field: Resources")
    parameters = changes.bulk_parameters(resources, body, anonymize)
    audit.record_ids(audit.MODIFY, request, resources, "bulk-anonymize" if anonymize else "bulk-modify")
    return _run(changes.MODIFICATION, parameters, body)


def bulk_modify(request):
    return _bulk(request, anonymize=False)


def bulk_anonymize(request):
    return _bulk(request, anonymize=True)


def merge(request, public_id):
    body = _body(request)
    parameters = changes.merge_parameters(public_id, body)
    audit.record_ids(audit.MODIFY, request, [public_id, *parameters["Resources"]], f"merge into study {public_id}")
    return _run(changes.MERGE, parameters, body)


def split(request, public_id):
    body = _body(request)
    if not body:
        raise BadRequest('Both the "Series" and the "Instances" fields are missing')
    parameters = changes.split_parameters(public_id, body)
    audit.record_ids(audit.MODIFY, request, [public_id], "split")
    return _run(changes.SPLIT, parameters, body)


def routes():
    """(path, view kwargs, handler name) of the routes above, for dicomnet/urls.py."""
    found = []
    for level in (levels.PATIENT, levels.STUDY, levels.SERIES):
        for action in ("modify", "anonymize"):
            found.append((f"{level.plural}/<str:public_id>/{action}", {"level": level}, action))
    return found
