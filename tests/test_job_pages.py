"""The jobs pages (dicomnet.job_pages) with Django's test client, logged in: the jobs list,
a job's page and its buttons, and CSRF on every form. (The "Send" control that starts a send
job: tests/test_send_pages.py.)"""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from dicomnet.job_pages import JOBS_PER_PAGE, arrived_instances, job_summary
from dicomnet.models import Job
from explorer.pages.formatting import counted
from tests.conftest import CT_SMALL_IDS
from tests.page_helpers import csrf_token, store_ct

pytestmark = pytest.mark.django_db(transaction=True)

CT_PATIENT, CT_STUDY, CT_SERIES, CT_INSTANCE = (CT_SMALL_IDS[k] for k in ("patient", "study", "series", "instance"))
CT_SOP_UID = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"
CT_STUDY_UID = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
CT_SERIES_UID = "1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322"


def test_anonymous_browsers_are_sent_to_the_login_page():
    anonymous = Client()
    for path in ("/ui/jobs", f"/ui/jobs/{Job.objects.create(type='X').id}"):
        response = anonymous.get(path, HTTP_ACCEPT="text/html")
        assert response.status_code == 302 and response["Location"].startswith("/login/?next="), path


# ---------------------------------------------------------------- jobs


def a_job(state="Pending", minutes_ago=0, **fields):
    job = Job.objects.create(
        type="DicomModalityStore", state=state, parameters={"Modality": "pacs", "Resources": ["x"]}, **fields
    )
    Job.objects.filter(pk=job.pk).update(created=timezone.now() - timedelta(minutes=minutes_ago))
    job.refresh_from_db()
    return job


def test_the_jobs_list_newest_first_with_progress_counts_and_errors(browser):
    old = a_job("Success", minutes_ago=30, progress=100, content={"InstancesCount": 12, "FailedInstancesCount": 0})
    failed = a_job(
        "Failure",
        minutes_ago=20,
        progress=40,
        error_code=9,
        error_description="Error in the network protocol",
        error_details='DicomAssociation - connecting to AET "PACS": refused',
        content={"InstancesCount": 5, "FailedInstancesCount": 3},
    )
    running = a_job("Running", minutes_ago=10, progress=55, heartbeat=timezone.now())
    response = browser.get("/ui/jobs")
    rows = response.context["listing"].rows
    assert [row.id for row in rows] == [str(running.id), str(failed.id), str(old.id)]
    html = response.content.decode()
    assert html.count("data-job-live") == 1 and 'aria-valuenow="55"' in html
    assert "(3 failed)" in html and "Error in the network protocol (code 9)" in html
    assert "/static/explorer/jobs.js" in html
    assert [a.name for a in rows[0].actions] == ["pause", "cancel"]
    assert [a.name for a in rows[1].actions] == ["resubmit"]
    assert rows[2].actions == []
    # Filtered by state.
    assert [row.id for row in browser.get("/ui/jobs?state=Failure").context["listing"].rows] == [str(failed.id)]


def test_the_jobs_list_is_paged(browser):
    for n in range(JOBS_PER_PAGE + 5):
        a_job(minutes_ago=n)
    first = browser.get("/ui/jobs").context["listing"]
    assert len(first.rows) == JOBS_PER_PAGE and first.total == JOBS_PER_PAGE + 5
    assert len(browser.get("/ui/jobs?page=2").context["listing"].rows) == 5


def test_a_job_page_and_a_dead_worker(browser, settings):
    settings.PHAROS_JOB_DEAD_AFTER_SECONDS = 5
    job = a_job("Running", progress=30, heartbeat=timezone.now() - timedelta(minutes=5), started=timezone.now())
    response = browser.get(f"/ui/jobs/{job.id}")
    assert response.status_code == 200
    # Rendering marks a job whose worker stopped as failed, as GET /jobs does.
    assert response.context["page"].row.state == "Failure"
    html = response.content.decode()
    assert "The worker running this job stopped" in html and "Resubmit" in html
    assert f'href="/jobs/{job.id}"' in html
    assert browser.get("/ui/jobs/00000000-0000-0000-0000-000000000000").status_code == 404
    assert browser.get("/ui/jobs/nonsense").status_code == 404


def test_the_job_buttons(browser, queue):
    job = a_job("Pending")
    page = f"/ui/jobs/{job.id}"
    response = browser.post(f"{page}/pause", {"next": page})
    assert response["Location"] == page
    job.refresh_from_db()
    assert job.state == "Paused"
    browser.post(f"{page}/resume", {"next": "/ui/jobs?state=Pending"})
    job.refresh_from_db()
    assert job.state == "Pending" and queue.count == 1  # queued again
    response = browser.post(f"{page}/cancel", {"next": "https://elsewhere.example/"})
    assert response["Location"] == page  # never to another site
    job.refresh_from_db()
    assert (job.state, job.error_code) == ("Failure", 37)
    browser.post(f"{page}/resubmit")
    job.refresh_from_db()
    assert (job.state, job.progress) == ("Pending", 0)
    assert browser.post(f"{page}/explode").status_code == 404
    assert browser.get(f"{page}/cancel").status_code == 405


def test_job_buttons_need_the_csrf_token(strict_browser):
    job = a_job("Pending")
    assert strict_browser.post(f"/ui/jobs/{job.id}/cancel").status_code == 403
    job.refresh_from_db()
    assert job.state == "Pending"
    token = csrf_token(strict_browser, f"/ui/jobs/{job.id}")
    assert strict_browser.post(f"/ui/jobs/{job.id}/cancel", {"csrfmiddlewaretoken": token}).status_code == 302
    job.refresh_from_db()
    assert job.state == "Failure"


def test_the_rest_api_answers_the_page_polling_with_the_session(browser):
    job = a_job("Running", progress=42, heartbeat=timezone.now())
    answer = browser.get(f"/jobs/{job.id}", HTTP_ACCEPT="application/json").json()
    assert (answer["State"], answer["Progress"]) == ("Running", 42)


def test_summaries():
    assert counted(1, "Study") == "1 study" and counted(3, "Study") == "3 studies"
    assert counted(2, "Series") == "2 series"
    move = Job(
        type="DicomMoveScu",
        parameters={"Modality": "pacs", "Level": "Study", "TargetAet": "PHAROS", "Identifiers": [{}, {}]},
    )
    assert job_summary(move) == "2 studies from pacs to PHAROS"


# ---------------------------------------------------------------- modify and anonymize


def test_a_finished_modification_leads_to_the_new_resource(browser):
    ids = store_ct()
    content = {
        "ID": ids[1],
        "Path": f"/studies/{ids[1]}",
        "PatientID": ids[0],
        "Type": "Study",
        "IsAnonymization": True,
        "InstancesCount": 1,
        "FailedInstancesCount": 0,
    }
    parameters = {"Level": "Study", "Resource": ids[1], "Body": {"KeepSource": False}, "IsAnonymization": True}
    job = Job.objects.create(
        type="ResourceModification", state=Job.SUCCESS, progress=100, parameters=parameters, content=content
    )
    html = browser.get(f"/ui/jobs/{job.id}").content.decode()
    assert '<h1 id="job-title">Anonymize</h1>' in html
    assert f"Study {ids[1][:8]}…: an anonymized copy, the original deleted" in html
    assert "Source and result</h2>" in html
    assert f'href="/ui/studies/{ids[1]}" data-job-result>Open the new study</a>' in html

    running = Job.objects.create(
        type="ResourceModification", state=Job.RUNNING, parameters={"Resources": ["a", "b"], "IsAnonymization": False}
    )
    html = browser.get(f"/ui/jobs/{running.id}").content.decode()
    assert '<h1 id="job-title">Modify</h1>' in html and "data-job-result" not in html
    assert "2 resources: modified copies" in html

    gone = Job.objects.create(type="ResourceModification", state=Job.SUCCESS, content=content | {"ID": "0" * 8})
    assert "no longer stored" in browser.get(f"/ui/jobs/{gone.id}").content.decode()


# ---------------------------------------------------------------- retrieve


def finished_retrieve(job_type, content, started, state="Success", **parameters):
    parameters = {"Modality": "pacs", "Level": "Study", **parameters}
    return Job.objects.create(
        type=job_type, state=state, parameters=parameters, content=content, started=started, completed=timezone.now()
    )


def test_a_finished_retrieve_says_how_many_instances_arrived(browser):
    before = timezone.now() - timedelta(minutes=1)
    store_ct()
    ct_study = {"StudyInstanceUID": CT_STUDY_UID}
    # C-MOVE: Orthanc's content has no count; the instances of the study received while it ran.
    move = finished_retrieve("DicomMoveScu", {"TargetAet": "PHAROS"}, before, Identifiers=[ct_study])
    assert arrived_instances(move, [ct_study]) == 1
    html = browser.get(f"/ui/jobs/{move.id}").content.decode()
    assert '<p class="job-arrived" data-job-arrived><strong>1</strong> instance arrived in Pharos.</p>' in html
    later = finished_retrieve("DicomMoveScu", {}, timezone.now(), Identifiers=[ct_study])
    assert arrived_instances(later, [ct_study]) == 0  # the study was here before it started
    by_series = finished_retrieve("DicomMoveScu", {}, before, Level="Series")
    assert arrived_instances(by_series, [{"SeriesInstanceUID": CT_SERIES_UID}]) == 1
    # C-GET and WADO-RS count what they stored.
    get = finished_retrieve("DicomGetScu", {"InstancesCount": 3, "FailedInstancesCount": 1}, before, state="Failure")
    assert browser.get(f"/ui/jobs/{get.id}").context["page"].arrived == 3
    wado = Job.objects.create(
        type="DicomWebWadoRetrieveClient",
        state="Success",
        parameters={"Server": "web", "Resources": [f"/studies/{CT_STUDY_UID}"]},
        content={"ReceivedInstancesCount": "2"},
        started=before,
    )
    assert "<strong>2</strong> instances arrived in Pharos." in browser.get(f"/ui/jobs/{wado.id}").content.decode()
    # Nothing is said while it runs.
    running = Job.objects.create(type="DicomMoveScu", state="Running", parameters={"Level": "Study"}, started=before)
    assert arrived_instances(running, [ct_study]) is None
    assert "data-job-arrived" not in browser.get(f"/ui/jobs/{running.id}").content.decode()


def test_a_job_not_found_is_named_and_explained_as_a_job(browser):
    response = browser.get("/ui/jobs/00000000-0000-0000-0000-000000000000")
    html = response.content.decode()
    assert response.status_code == 404
    assert "<title>No such job · Pharos</title>" in html and "<h1>No such job</h1>" in html
    assert "Pharos has no job <code>00000000-0000-0000-0000-000000000000</code>" in html
    assert "job history" in html and "remote queries" not in html
    assert 'href="/ui/jobs"' in html
