"""The jobs that change stored data: Orthanc's ResourceModification (modify and anonymize a
patient, study or series, or a set of resources), MergeStudy and SplitStudy.

A job keeps what it needs as JSON parameters (the request's body, the resource, who asked) and
rebuilds its modification when it runs, in a worker or within a synchronous request. The work
itself is explorer.resource_changes' and explorer.study_changes': a job that fails or is
cancelled leaves nothing of what it had stored.
"""

from django.db import transaction

from dicomnet import jobs
from dicomnet.models import Job
from explorer import audit, levels, resource_changes, study_changes
from explorer.errors import BadRequest, PharosError
from explorer.modification import Modification

MODIFICATION = "ResourceModification"
MERGE = "MergeStudy"
SPLIT = "SplitStudy"


PATIENT_NAME = 0x00100010


def _modification(level, body, anonymize, patient_name=None):
    if anonymize:
        return Modification.from_anonymize_body(level, body, patient_name=patient_name)
    return Modification.from_modify_body(level, body)


def _checked(level, body, anonymize):
    """The body checked (BadRequest with Orthanc's message), as parameters: with the patient's
    name an anonymization gives (Anonymized<N>, counted once, when the job is asked for, as
    Orthanc does; a resubmitted job keeps it)."""
    modification = _modification(level, body, anonymize)
    checked = {"Level": level.name, "Body": body, "IsAnonymization": bool(anonymize)}
    if anonymize:
        checked["PatientName"] = modification._replacements.get(PATIENT_NAME)
    return checked


def _who(username):
    """The user and address of the request being served, recorded as the new instances' origin."""
    request = audit.current_request()
    if not username and request is not None and getattr(request, "user", None) is not None:
        username = request.user.get_username() if request.user.is_authenticated else ""
    return username, audit.client_ip(request)


def priority_of(body):
    priority = body.get("Priority", 0) if isinstance(body, dict) else 0
    if not isinstance(priority, int) or isinstance(priority, bool):
        raise BadRequest('"Priority" must be an integer')
    return priority


def submit_job(job_type, parameters, body):
    """Queue a job of these parameters, with the body's Priority."""
    with transaction.atomic():
        return jobs.submit(job_type, parameters, priority_of(body))


def change_parameters(level, public_id, body, anonymize, username=""):
    """The parameters of a ResourceModification job, once the body has been checked (BadRequest
    with Orthanc's message when it is wrong) and the resource found (UnknownResource)."""
    from explorer import index
    from explorer.errors import UnknownResource

    if index.get(level, public_id) is None:
        raise UnknownResource(f"Unknown {level.name.lower()}: {public_id}")
    username, remote_ip = _who(username)
    return _checked(level, body, anonymize) | {"Resource": public_id, "Username": username, "RemoteIp": remote_ip}


def submit_change(level, public_id, body, anonymize, username=""):
    """Queue Orthanc's ResourceModification job that modifies (or anonymizes) a patient, study
    or series as `body` says (Orthanc's /modify or /anonymize body); returns the Job."""
    parameters = change_parameters(level, public_id, body, anonymize, username)
    return submit_job(MODIFICATION, parameters, body)


def bulk_parameters(public_ids, body, anonymize, username=""):
    """The parameters of the ResourceModification job of /tools/bulk-modify or bulk-anonymize."""
    username, remote_ip = _who(username)
    checked = _checked(_bulk_level(body, anonymize), body, anonymize)
    return checked | {"Resources": list(public_ids), "Username": username, "RemoteIp": remote_ip}


def _bulk_level(body, anonymize):
    """Orthanc's level of a bulk modification: `Level`, else the highest identifier replaced."""
    if "Level" in body:
        level = levels.level_named(str(body["Level"]))
        if level is None:
            raise BadRequest(f"Unknown resource type: {body['Level']}")
        return level
    if anonymize:
        return levels.PATIENT
    replaced = body.get("Replace") if isinstance(body.get("Replace"), dict) else {}
    for level in (levels.PATIENT, levels.STUDY, levels.SERIES):
        if level.identifier in replaced:
            return level
    return levels.INSTANCE


@jobs.runner(MODIFICATION)
def modification_job(job, progress, should_stop):
    p = job.parameters
    level = levels.level_named(p["Level"])
    modification = _modification(level, p["Body"], p["IsAnonymization"], p.get("PatientName"))
    who = {"username": p.get("Username", ""), "remote_ip": p.get("RemoteIp", "")}
    if "Resources" in p:
        return resource_changes.change_resources(p["Resources"], modification, progress, should_stop, **who)
    return resource_changes.change_resource(level, p["Resource"], modification, progress, should_stop, **who)


@jobs.runner(MERGE)
def merge_job(job, progress, should_stop):
    p = job.parameters
    return study_changes.merge_study(
        p["Study"], p["Resources"], p["KeepSource"], progress, should_stop, p.get("Username", ""), p.get("RemoteIp", "")
    )


@jobs.runner(SPLIT)
def split_job(job, progress, should_stop):
    p = job.parameters
    return study_changes.split_study(
        p["Study"], p["Series"], p["Instances"], p["Replace"], p["Remove"], p["KeepSource"], progress, should_stop,
        p.get("Username", ""), p.get("RemoteIp", ""), target_uid=p["TargetStudyUID"],
    )  # fmt: skip


def merge_parameters(study, body, username=""):
    parameters = study_changes.merge_parameters(study, body)
    parameters["Username"], parameters["RemoteIp"] = _who(username)
    return parameters


def split_parameters(study, body, username=""):
    parameters = study_changes.split_parameters(study, body)
    parameters["Username"], parameters["RemoteIp"] = _who(username)
    return parameters


def run_now(job):
    """Run a job within the request (Orthanc's synchronous mode): its content, or the error it
    failed with, raised again."""
    finished = jobs.execute(job.id)
    if finished is None or finished.state != Job.SUCCESS:
        finished = finished or Job.objects.get(pk=job.id)
        raise JobError(finished)
    return finished.content


class JobError(PharosError):
    """A synchronous job that failed: answered with the job's own error code and details."""

    def __init__(self, job):
        super().__init__(job.error_details or job.error_description)
        self.orthanc_status = job.error_code
        self.orthanc_error = job.error_description
        self.message = job.error_description
        self.http_status = STATUS_OF_CODE.get(job.error_code, 500)


# The HTTP status Orthanc answers for the errors a change can end with.
STATUS_OF_CODE = {3: 400, 8: 400, 15: 400, 17: 404, 37: 500, 2018: 500, 11: 503, 14: 507}
