"""REST /jobs: Orthanc's job records, and cancel, pause, resume, resubmit."""

from dicomnet import jobs
from dicomnet.models import Job
from explorer.api.base import NoSuchResource, flag, json_response
from explorer.identifiers import is_uuid


def _time(moment):
    return moment.strftime("%Y%m%dT%H%M%S.%f") if moment else ""


def job_json(job):
    return {
        "CompletionTime": _time(job.completed),
        "Content": job.content,
        "CreationTime": _time(job.created),
        "EffectiveRuntime": job.runtime,
        "ErrorCode": job.error_code,
        "ErrorDescription": job.error_description,
        "ErrorDetails": job.error_details,
        "ID": str(job.id),
        "Priority": job.priority,
        "Progress": job.progress,
        "State": job.state,
        "Timestamp": _time(job.heartbeat or job.created),
        "Type": job.type,
    }


def list_jobs(request):
    jobs.fail_dead_jobs()
    rows = Job.objects.order_by("created")
    if flag(request, "expand"):
        return json_response([job_json(j) for j in rows])
    return json_response([str(j) for j in rows.values_list("id", flat=True)])


def _job(job_id):
    found = Job.objects.filter(id=job_id).first() if is_uuid(job_id) else None
    if found is None:
        raise NoSuchResource(job_id)
    return found


def show_job(request, job_id):
    jobs.fail_dead_jobs()
    return json_response(job_json(_job(job_id)))


def job_action(request, job_id, action):
    job = _job(job_id)
    getattr(jobs, action)(job)
    return json_response({})
