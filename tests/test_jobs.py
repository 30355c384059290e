"""The job engine: states, progress, cancel, pause, resume, resubmit, dead workers; with a real Redis."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from dicomnet import jobs
from dicomnet.models import Job
from tests.conftest import run_queued_jobs
from tests.dicom_peers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@jobs.runner("TestCounting")
def counting(job, progress, should_stop):
    total = job.parameters["steps"]
    for step in range(total):
        should_stop()
        if job.parameters.get("fail_at") == step:
            raise RuntimeError("step failed on purpose")
        time.sleep(job.parameters.get("delay", 0))  # a slow step: the tests act on a job while it runs
        progress(step + 1, total)
    return {"Steps": total}


def wait_until_running(job, seconds=30):
    wait_until(lambda: Job.objects.get(pk=job.pk).state == Job.RUNNING, seconds, "the job never started")


def run_in_thread(job):
    """What a worker does, in a thread (RQ's worker wants the main thread for its signals)."""

    def work():
        try:
            jobs.run(job.pk)
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    return thread


def submit(**parameters):
    with transaction.atomic():
        return jobs.submit("TestCounting", parameters)


def test_a_job_runs_to_success_through_the_queue(queue):
    job = submit(steps=5)
    assert Job.objects.get(pk=job.pk).state == Job.PENDING
    assert queue.count == 1
    run_queued_jobs()
    job.refresh_from_db()
    assert (job.state, job.progress, job.content) == (Job.SUCCESS, 100, {"Steps": 5})
    assert job.completed is not None


def test_a_failing_job_records_its_error_and_can_be_resubmitted(queue):
    job = submit(steps=3, fail_at=1)
    run_queued_jobs()
    job.refresh_from_db()
    assert job.state == Job.FAILURE
    assert "step failed on purpose" in job.error_details
    Job.objects.filter(pk=job.pk).update(parameters={"steps": 3})
    jobs.resubmit(job)
    run_queued_jobs()
    job.refresh_from_db()
    assert (job.state, job.error_details) == (Job.SUCCESS, "")


def test_cancel_a_pending_job(queue):
    job = submit(steps=3)
    jobs.cancel(job)
    run_queued_jobs()
    job.refresh_from_db()
    assert (job.state, job.error_code, job.error_description) == (Job.FAILURE, 37, "This job was canceled")


def test_cancel_a_running_job(queue):
    job = submit(steps=200, delay=0.02)
    worker = run_in_thread(job)
    wait_until_running(job)
    jobs.cancel(job)
    worker.join(timeout=30)
    job.refresh_from_db()
    assert job.state == Job.FAILURE and job.error_code == 37
    assert job.progress < 100


def test_pause_then_resume(queue):
    job = submit(steps=200, delay=0.02)
    queue.empty()
    worker = run_in_thread(job)
    wait_until_running(job)
    jobs.pause(job)
    worker.join(timeout=30)
    assert Job.objects.get(pk=job.pk).state == Job.PAUSED
    Job.objects.filter(pk=job.pk).update(parameters={"steps": 3})
    jobs.resume(job)
    run_queued_jobs()
    assert Job.objects.get(pk=job.pk).state == Job.SUCCESS


def test_a_running_job_without_heartbeat_is_failed(db):
    stale = timezone.now() - timedelta(hours=1)
    job = Job.objects.create(type="TestCounting", state=Job.RUNNING, heartbeat=stale)
    assert jobs.fail_dead_jobs() == 1
    job.refresh_from_db()
    assert job.state == Job.FAILURE
    assert job.error_details == jobs.DEAD_TEXT


def test_rest_jobs(api, queue):
    job = submit(steps=2)
    assert api.get("/jobs").json() == [str(job.pk)]
    run_queued_jobs()
    body = api.get(f"/jobs/{job.pk}").json()
    assert body["State"] == "Success"
    assert body["Progress"] == 100
    assert body["Type"] == "TestCounting"
    assert body["ErrorCode"] == 0
    assert set(body) >= {"CompletionTime", "CreationTime", "EffectiveRuntime", "Priority", "Timestamp", "Content"}
    assert api.post(f"/jobs/{job.pk}/cancel").json() == {}
    assert api.get(f"/jobs/{job.pk}").json()["State"] == "Success"  # a finished job stays as it is
    assert api.get("/jobs/not-a-job").status_code == 404


def test_only_the_newest_finished_jobs_are_kept(api, queue, settings):
    # Orthanc 1.10.1 (JobsHistorySize 10) listed 10 of 12 finished store jobs: the oldest vanish.
    settings.PHAROS_JOBS_HISTORY_SIZE = 2
    finished = []
    for _ in range(4):
        finished.append(submit(steps=1))
        run_queued_jobs()
    paused = submit(steps=1)
    jobs.pause(paused)
    assert api.get("/jobs").json() == [str(finished[2].pk), str(finished[3].pk), str(paused.pk)]
    assert api.get(f"/jobs/{finished[0].pk}").status_code == 404


def test_a_cancelled_job_counts_in_the_history(queue, settings):
    settings.PHAROS_JOBS_HISTORY_SIZE = 1
    old = submit(steps=1)
    run_queued_jobs()
    cancelled = submit(steps=1)
    jobs.cancel(cancelled)
    assert list(Job.objects.values_list("pk", flat=True)) == [cancelled.pk]
    assert not Job.objects.filter(pk=old.pk).exists()


def test_with_no_history_a_synchronous_job_still_answers(queue, settings):
    settings.PHAROS_JOBS_HISTORY_SIZE = 0
    job = Job.objects.create(type="TestCounting", parameters={"steps": 2})
    finished = jobs.execute(job.pk)
    assert (finished.state, finished.content) == (Job.SUCCESS, {"Steps": 2})
    assert not Job.objects.exists()


@pytest.fixture
def stopped_redis(settings):
    """The job queue on a Redis of the test's own, stopped: connections are refused."""
    from tests.outages import private_redis

    with private_redis() as server:
        settings.RQ_QUEUES = {"default": {"URL": server.url, "DEFAULT_TIMEOUT": 60}}
        server.stop()
        yield server


def test_with_redis_down_a_submitted_job_fails_with_the_reason(stopped_redis):
    from explorer.errors import JobQueueUnavailable

    with pytest.raises(JobQueueUnavailable) as raised:
        submit(steps=1)
    assert raised.value.http_status == 503
    [job] = Job.objects.filter(type="TestCounting")
    assert job.state == Job.FAILURE and job.completed is not None
    assert job.error_details.startswith(jobs.QUEUE_DOWN_TEXT)

    stopped_redis.start()  # back: the failed job can be resubmitted, and runs
    with transaction.atomic():
        jobs.resubmit(job)
    run_queued_jobs()
    job.refresh_from_db()
    assert job.state == Job.SUCCESS


def test_with_redis_down_an_asynchronous_request_answers_503_and_no_job_stays_pending(api, stopped_redis):
    from dicomnet.models import Modality

    Modality.objects.create(name="nowhere", aet="NOWHERE", host="127.0.0.1", port=1)
    response = api.post(
        "/modalities/nowhere/store",
        data={"Resources": ["f689ddd2-662f8fe1-8b18180d-ec2a2cee-937917af"], "Asynchronous": True},
        content_type="application/json",
    )
    assert response.status_code == 503 and response["Retry-After"]
    assert response.json()["Details"].startswith(jobs.QUEUE_DOWN_TEXT)
    assert not Job.objects.filter(state=Job.PENDING).exists()
    [job] = api.get("/jobs?expand").json()
    assert (job["State"], job["Type"]) == ("Failure", "DicomModalityStore")
    assert job["ErrorDetails"].startswith(jobs.QUEUE_DOWN_TEXT)
