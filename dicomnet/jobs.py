"""Long DICOM operations as jobs: recorded in the database, run by RQ workers, taking ids only.

A job is a `Job` row. `submit` creates it and enqueues `run(job_id)` once the
transaction commits; a worker runs it, reporting progress and a heartbeat in
the row, which is where the REST API and the explorer read it. A job whose
worker died (no heartbeat) is marked failed by `fail_dead_jobs`, and can be
resubmitted. Only the newest PHAROS_JOBS_HISTORY_SIZE finished jobs are kept.
"""

import logging
import threading
import time
from datetime import timedelta

import django_rq
from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from dicomnet import exports, scu
from dicomnet.models import Job
from dicomnet.scu import ScuError
from dicomnet.scu import pool as scu_pool
from explorer import audit, failures, logs
from explorer.errors import JobQueueUnavailable, PharosError
from explorer.index import instances_of

logger = logging.getLogger("dicomnet.jobs")

CANCELED_CODE, CANCELED_TEXT = 37, "This job was canceled"
NETWORK_CODE, NETWORK_TEXT = 9, "Error in the network protocol"
INTERNAL_CODE, INTERNAL_TEXT = -1, "Internal error"
DEAD_TEXT = "The worker running this job stopped"
QUEUE_DOWN_TEXT = "The job queue (Redis) is unreachable"

RUNNERS = {}  # job type -> function(job, progress, should_stop) -> content


def runner(job_type):
    def register(function):
        RUNNERS[job_type] = function
        return function

    return register


class JobFailed(Exception):
    """A job that ran to its end but failed, with the content it produced."""

    def __init__(self, message, content):
        super().__init__(message)
        self.content = content


class JobStopped(Exception):
    """Raised inside a running job when a user asked to cancel or pause it."""

    def __init__(self, action):
        super().__init__(action)
        self.action = action


def submit(job_type, parameters, priority=0):
    """A new Pending job, enqueued once the transaction commits. With Redis down the job
    ends as Failure at once, with the reason, and JobQueueUnavailable (503) is raised."""
    job = Job.objects.create(type=job_type, parameters=parameters, priority=priority)
    transaction.on_commit(lambda: enqueue(job.id))
    return job


def enqueue(job_id):
    try:
        django_rq.get_queue("default").enqueue(run, str(job_id), job_timeout=-1, result_ttl=0, failure_ttl=24 * 3600)
    except failures.REDIS_DOWN as error:
        # No worker will ever hear of it: a Pending job would wait forever. It fails now,
        # saying why, and can be resubmitted once Redis is back.
        logger.error("Job %s cannot be queued: %s", job_id, error)
        _fail(Job.objects.filter(pk=job_id, state__in=[Job.PENDING, Job.RETRY]), QUEUE_DOWN_TEXT)
        raise JobQueueUnavailable(f"{QUEUE_DOWN_TEXT}: job {job_id} has failed (resubmit it later)") from error


def _claim(job_id):
    """Pending → Running, atomically; False when the job was cancelled, paused or taken."""
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, state__in=[Job.PENDING, Job.RETRY]).update(
        state=Job.RUNNING, started=now, heartbeat=now, requested="", progress=0
    )
    return claimed == 1


class Reporter:
    """What a running job calls: progress updates and the stop check, both throttled."""

    INTERVAL = 0.5

    def __init__(self, job_id):
        self.job_id = job_id
        self._last_progress = self._last_check = 0.0

    def progress(self, done, total, *args):
        now = time.monotonic()
        if total and (now - self._last_progress >= self.INTERVAL or done >= total):
            self._last_progress = now
            percent = min(100, int(done * 100 / total))
            Job.objects.filter(pk=self.job_id).update(progress=percent, heartbeat=timezone.now())
            logs.apply_stored()  # a level changed while a long job runs

    def should_stop(self):
        now = time.monotonic()
        if now - self._last_check < self.INTERVAL:
            return False
        self._last_check = now
        requested = Job.objects.filter(pk=self.job_id).values_list("requested", flat=True).first()
        if requested in ("cancel", "pause"):
            raise JobStopped(requested)
        return False


class Heartbeat(threading.Thread):
    def __init__(self, job_id):
        super().__init__(daemon=True)
        self.job_id = job_id
        self.stopped = threading.Event()

    def run(self):
        try:
            while not self.stopped.wait(settings.PHAROS_JOB_HEARTBEAT_SECONDS):
                Job.objects.filter(pk=self.job_id, state=Job.RUNNING).update(heartbeat=timezone.now())
        finally:
            connection.close()


def run(job_id):
    """The RQ entry point. RQ runs each job in a forked process that leaves with os._exit,
    past atexit: the associations the job left open for reuse are released here, so that
    no modality sees its connection dropped."""
    try:
        job = execute(job_id)
    finally:
        scu_pool.release_all()
    return job.id if job else None


def execute(job_id):
    """Run a pending job here (a worker, or a synchronous request); returns the job as it
    finished, even when the history keeps no finished job, or None when it was not pending."""
    close_old_connections()
    logs.apply_stored()  # the level set through /tools/log-level, in a worker's process too
    if not _claim(job_id):
        return None
    job = Job.objects.get(pk=job_id)
    heartbeat = Heartbeat(job.id)
    heartbeat.start()
    reporter = Reporter(job.id)
    began = time.monotonic()
    try:
        content = RUNNERS[job.type](job, reporter.progress, reporter.should_stop)
    except JobStopped as stop:
        if stop.action == "pause":
            _finish(job, began, state=Job.PAUSED)
        else:
            _finish(job, began, state=Job.FAILURE, code=CANCELED_CODE, description=CANCELED_TEXT)
    except JobFailed as failure:
        _finish(
            job,
            began,
            state=Job.FAILURE,
            code=NETWORK_CODE,
            description=NETWORK_TEXT,
            details=str(failure),
            content=failure.content,
        )
    except Exception as error:  # every failure ends the job with its error, never Running
        network = isinstance(error, ScuError)
        told = isinstance(error, PharosError)  # an error Orthanc names: its code and text
        logger.warning("Job %s (%s) failed: %s", job.id, job.type, error, exc_info=not (network or told))
        code, description = (NETWORK_CODE, NETWORK_TEXT) if network else (INTERNAL_CODE, INTERNAL_TEXT)
        if told:
            code, description = error.orthanc_status, error.orthanc_error
        _finish(
            job,
            began,
            state=Job.FAILURE,
            code=code,
            description=description,
            details=str(error),
            # What the job had done when it failed, for those that tell it (job_content).
            content=getattr(error, "job_content", None),
        )
    else:
        _finish(job, began, state=Job.SUCCESS, content=content, progress=100)
    finally:
        heartbeat.stopped.set()
    return job


def _finish(job, began, state, code=0, description="Success", details="", content=None, progress=None):
    fields = dict(
        state=state,
        error_code=code,
        error_description=description,
        error_details=details,
        completed=timezone.now() if state != Job.PAUSED else None,
        runtime=round(time.monotonic() - began, 3),
        requested="",
    )
    if content is not None:
        fields["content"] = content
    if progress is not None:
        fields["progress"] = progress
    Job.objects.filter(pk=job.id).update(**fields)
    for name, value in fields.items():
        setattr(job, name, value)
    if state != Job.PAUSED:
        forget_old_jobs()


FINISHED = (Job.SUCCESS, Job.FAILURE)


def forget_old_jobs():
    """Keep the newest PHAROS_JOBS_HISTORY_SIZE finished jobs (Orthanc's JobsHistorySize):
    older ones vanish from /jobs, as Orthanc forgets them when another job finishes."""
    finished = Job.objects.filter(state__in=FINISHED).order_by("-completed", "-created")
    old = list(finished.values_list("id", flat=True)[settings.PHAROS_JOBS_HISTORY_SIZE :])
    if old:
        # A job resubmitted meanwhile is no longer finished, and stays.
        Job.objects.filter(id__in=old, state__in=FINISHED).delete()


def fail_dead_jobs():
    """Running jobs whose worker stopped sending its heartbeat end as failed."""
    cutoff = timezone.now() - timedelta(seconds=settings.PHAROS_JOB_DEAD_AFTER_SECONDS)
    return _fail(Job.objects.filter(state=Job.RUNNING, heartbeat__lt=cutoff), DEAD_TEXT)


def _fail(jobs, details):
    """Mark the jobs failed (an internal error, with these details); how many were."""
    failed = jobs.update(
        state=Job.FAILURE,
        error_code=INTERNAL_CODE,
        error_description=INTERNAL_TEXT,
        error_details=details,
        completed=timezone.now(),
    )
    if failed:
        forget_old_jobs()
    return failed


# --- what users ask of a job (Orthanc's POST /jobs/{id}/cancel|pause|resume|resubmit) ---


def cancel(job):
    now = timezone.now()
    stopped = Job.objects.filter(pk=job.pk, state__in=[Job.PENDING, Job.PAUSED, Job.RETRY]).update(
        state=Job.FAILURE, error_code=CANCELED_CODE, error_description=CANCELED_TEXT, completed=now
    )
    if stopped:
        forget_old_jobs()
    else:
        Job.objects.filter(pk=job.pk, state=Job.RUNNING).update(requested="cancel")


def pause(job):
    if not Job.objects.filter(pk=job.pk, state__in=[Job.PENDING, Job.RETRY]).update(state=Job.PAUSED):
        Job.objects.filter(pk=job.pk, state=Job.RUNNING).update(requested="pause")


def resume(job):
    if Job.objects.filter(pk=job.pk, state=Job.PAUSED).update(state=Job.PENDING, requested=""):
        transaction.on_commit(lambda: enqueue(job.pk))


def resubmit(job):
    reset = Job.objects.filter(pk=job.pk, state=Job.FAILURE).update(
        state=Job.PENDING,
        progress=0,
        error_code=0,
        error_description="Success",
        error_details="",
        completed=None,
        started=None,
        requested="",
    )
    if reset:
        transaction.on_commit(lambda: enqueue(job.pk))


def record_asked(job_type, parameters):
    """The audit trail's event for a send or a retrieve that the request being served asks
    for (REST or the explorer): a send per study sent, with its destination."""
    modality = parameters["Modality"]
    if job_type == "DicomModalityStore":
        from dicomnet.models import Modality

        found = Modality.objects.filter(name=modality).first()
        where = f"{modality} ({found.aet} at {found.host}:{found.port})" if found else modality
        audit.record_ids(audit.SEND, None, parameters["Resources"], f"to {where}")
    else:
        service = "C-GET" if job_type == "DicomGetScu" else f"C-MOVE to {parameters['TargetAet']}"
        identifiers = "; ".join(str(i) for i in parameters["Identifiers"][: audit.NAMED_RESOURCES])
        audit.record(audit.RETRIEVE, detail=f"{service} from {modality}, {parameters['Level']}: {identifiers}")


# --- the job types --------------------------------------------------------------------


def _modality(job):
    from dicomnet.models import Modality

    return Modality.objects.get(name=job.parameters["Modality"])


@runner("DicomModalityStore")
def store_job(job, progress, should_stop):
    modality = _modality(job)
    exports.log_sent(job.parameters["Resources"], modality.name, job.id)
    instances = instances_of(job.parameters["Resources"])
    try:
        content = scu.store(modality, instances, progress=progress, should_stop=should_stop)
    except ScuError as error:
        logger.warning("Job %s (DicomModalityStore) failed: %s", job.id, error)
        # Orthanc's failed job still shows what it was to send, as its clients read it.
        content = scu.store_content(modality, len(instances)) | {"ParentResources": job.parameters["Resources"]}
        raise JobFailed(str(error), content) from error
    content["ParentResources"] = job.parameters["Resources"]
    # A store made for an incoming C-MOVE (PHAROS_DICOM_SYNCHRONOUS_CMOVE false) says so, as
    # Orthanc's DicomModalityStore job does.
    if "Description" in job.parameters:
        content["Description"] = job.parameters["Description"]
    if "MoveOriginatorAet" in job.parameters:
        content["MoveOriginatorAET"] = job.parameters["MoveOriginatorAet"]
        content["MoveOriginatorID"] = job.parameters["MoveOriginatorID"]
    if content["FailedInstancesCount"]:
        # As Orthanc's store job (unless "Permissive"): one instance not sent fails the job.
        failed, total = content["FailedInstancesCount"], content["InstancesCount"]
        raise JobFailed(f"{failed} of {total} instances could not be sent to {content['RemoteAet']}", content)
    return content


@runner("DicomMoveScu")
def move_job(job, progress, should_stop):
    p = job.parameters
    return scu.move(
        _modality(job), p["Level"], p["Identifiers"], p["TargetAet"], progress=progress, should_stop=should_stop
    )


@runner("DicomGetScu")
def get_job(job, progress, should_stop):
    p = job.parameters
    return scu.get(_modality(job), p["Level"], p["Identifiers"], progress=progress, should_stop=should_stop)
