"""The network pages with Django's test client, logged in: upload (the form without
JavaScript, and the REST call the page's JavaScript makes), "send to a modality" on
resource pages, Query/Retrieve against DCMTK's dcmqrscp with retrieval into our own
DICOM server, the jobs pages and their buttons, and CSRF on every form."""

import io
import re
import zipfile
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone
from django.utils.html import escape

from dicomnet import pages
from dicomnet.models import Job, RemoteQuery
from explorer.ingest import Origin, store_instance
from explorer.models import Instance
from tests.conftest import CT_SMALL_IDS, dicom_bytes, run_queued_jobs
from tests.dicom_peers import free_port, modality

pytestmark = pytest.mark.django_db(transaction=True)

CT_PATIENT, CT_STUDY, CT_SERIES, CT_INSTANCE = (CT_SMALL_IDS[k] for k in ("patient", "study", "series", "instance"))
CT_STUDY_UID = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
CT_SOP_UID = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"
MR_SOP_PREFIX = "1.3.6.1.4.1.5962.1.1.4"


@pytest.fixture
def browser(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def strict_browser(user):
    """A logged-in browser whose POSTs must carry the CSRF token, as a real one's must."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def csrf_token(client, page="/ui/upload"):
    client.get(page)
    return client.cookies["csrftoken"].value


def store_ct():
    return store_instance(dicom_bytes("CT_small.dcm"), Origin("RestApi")).ids


def messages_of(response):
    return [str(m) for m in response.context["messages"]] if response.context else []


def a_zip(members):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


def upload_file(name, data, content_type="application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)


# ---------------------------------------------------------------- access


def test_anonymous_browsers_are_sent_to_the_login_page():
    anonymous = Client()
    for path in ("/ui/upload", "/ui/query-retrieve", "/ui/jobs", f"/ui/jobs/{Job.objects.create(type='X').id}"):
        response = anonymous.get(path, HTTP_ACCEPT="text/html")
        assert response.status_code == 302 and response["Location"].startswith("/login/?next="), path


# ---------------------------------------------------------------- upload


def test_the_upload_page(browser):
    response = browser.get("/ui/upload")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'enctype="multipart/form-data"' in html and "csrfmiddlewaretoken" in html
    assert re.search(r'<input[^>]+type="file"[^>]+name="files"[^>]+multiple', html)
    assert re.search(r'<input[^>]+name="folder"[^>]+multiple webkitdirectory', html)
    assert '<label for="upload-files">' in html and '<label for="upload-folder">' in html
    assert "/static/explorer/upload.js" in html
    assert 'aria-current="page">Upload' in html


def test_uploading_files_a_folder_and_a_zip_without_javascript(browser):
    store_ct()  # CT_small is already here: its second copy is "already stored"
    archive = a_zip({"mr/MR_small.dcm": dicom_bytes("MR_small.dcm"), "plan.dcm": dicom_bytes("rtplan.dcm")})
    response = browser.post(
        "/ui/upload",
        {
            "files": [upload_file("CT_small.dcm", dicom_bytes("CT_small.dcm")), upload_file("notes.txt", b"not DICOM")],
            "folder": [upload_file("exams.zip", archive, "application/zip")],
        },
    )
    assert response.status_code == 200
    answers = {answer["Filename"]: answer for answer in response.context["answers"]}
    assert {name: answer["Status"] for name, answer in answers.items()} == {
        "CT_small.dcm": "AlreadyStored",
        "notes.txt": "Failure",
        "exams.zip/mr/MR_small.dcm": "Success",
        "exams.zip/plan.dcm": "Success",
    }
    html = response.content.decode()
    assert "2 stored, 1 already stored, 1 rejected" in html
    assert "Already stored" in html and "Rejected" in html
    assert escape(answers["notes.txt"]["Details"]) in html  # the reason is shown
    assert f'href="/ui/studies/{answers["exams.zip/plan.dcm"]["ParentStudy"]}"' in html
    assert Instance.objects.count() == 3
    assert Instance.objects.filter(sop_instance_uid__startswith=MR_SOP_PREFIX, http_username="alice").exists()


def test_a_broken_zip_is_one_rejected_file_and_the_others_are_stored(browser):
    response = browser.post(
        "/ui/upload",
        {
            "files": [
                upload_file("broken.zip", b"PK\x03\x04 not really a zip"),
                upload_file("mr.dcm", dicom_bytes("MR_small.dcm")),
            ]
        },
    )
    statuses = [(a["Filename"], a["Status"]) for a in response.context["answers"]]
    assert statuses == [("broken.zip", "Failure"), ("mr.dcm", "Success")]
    assert "Cannot read the ZIP archive" in response.content.decode()


def test_an_upload_without_files_says_so(browser):
    response = browser.post("/ui/upload", {})
    assert response.status_code == 200
    assert "Choose at least one file" in " ".join(messages_of(response))


def test_the_page_javascript_call_needs_the_csrf_token(strict_browser):
    """The page's JavaScript posts each file to POST /instances with the session: the CSRF
    token from the page goes with it in the X-CSRFToken header."""
    data = dicom_bytes("CT_small.dcm")
    refused = strict_browser.post("/instances", data=data, content_type="application/dicom")
    assert refused.status_code == 403
    token = csrf_token(strict_browser)
    accepted = strict_browser.post("/instances", data=data, content_type="application/dicom", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 200 and accepted.json()["Status"] == "Success"
    # A ZIP answers for each member, as the page lists them.
    archive = a_zip({"a.dcm": dicom_bytes("MR_small.dcm"), "b.txt": b"nothing"})
    answers = strict_browser.post(
        "/instances", data=archive, content_type="application/zip", HTTP_X_CSRFTOKEN=token
    ).json()
    assert [(a["Filename"], a["Status"]) for a in answers] == [("a.dcm", "Success"), ("b.txt", "Failure")]


def test_the_upload_form_needs_the_csrf_token(strict_browser):
    files = {"files": [upload_file("ct.dcm", dicom_bytes("CT_small.dcm"))]}
    assert strict_browser.post("/ui/upload", files).status_code == 403
    token = csrf_token(strict_browser)
    files = {"files": [upload_file("ct.dcm", dicom_bytes("CT_small.dcm"))], "csrfmiddlewaretoken": token}
    assert strict_browser.post("/ui/upload", files).status_code == 200
    assert Instance.objects.count() == 1


# ---------------------------------------------------------------- send to a modality


@pytest.mark.parametrize(
    "page, action",
    [
        (f"/ui/patients/{CT_PATIENT}", f"/ui/patients/{CT_PATIENT}/send"),
        (f"/ui/studies/{CT_STUDY}", f"/ui/studies/{CT_STUDY}/send"),
        (f"/ui/series/{CT_SERIES}", f"/ui/series/{CT_SERIES}/send"),
        (f"/ui/instances/{CT_INSTANCE}", f"/ui/instances/{CT_INSTANCE}/send"),
    ],
)
def test_every_resource_page_offers_to_send_it(browser, page, action):
    store_ct()
    modality("COLLECTOR", 11112)
    modality("ARCHIVE", 11113)
    html = browser.get(page).content.decode()
    assert f'action="{action}"' in html
    assert '<label for="send_modality">' in html
    assert '<option value="archive">' in html and '<option value="collector">' in html


def test_without_a_modality_the_page_says_so(browser, user):
    store_ct()
    html = browser.get(f"/ui/studies/{CT_STUDY}").content.decode()
    assert "No DICOM modality is configured" in html and "An administrator can add one" in html
    assert "/send" not in html
    user.is_staff = True
    user.save()
    html = browser.get(f"/ui/studies/{CT_STUDY}").content.decode()
    assert 'href="/admin/dicomnet/modality/add/"' in html


def test_sending_a_study_runs_a_store_job_and_shows_it(browser, queue, collector):
    store_ct()
    modality("COLLECTOR", collector.port)
    response = browser.post(f"/ui/studies/{CT_STUDY}/send", {"modality": "collector"})
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/ui/jobs/{job.id}"
    assert (job.type, job.state, job.parameters) == (
        "DicomModalityStore",
        "Pending",
        {"Modality": "collector", "Resources": [CT_STUDY]},
    )
    page = browser.get(response["Location"])
    assert "Sending study “e+1” to collector (COLLECTOR)." in messages_of(page)
    html = page.content.decode()
    assert "data-job-live" in html and 'data-job-state="Pending"' in html
    assert f'href="/ui/studies/{CT_STUDY}"' in html  # what is sent

    run_queued_jobs()
    job.refresh_from_db()
    assert (job.state, job.progress, job.content["InstancesCount"]) == ("Success", 100, 1)
    assert [dataset.SOPInstanceUID for _, dataset in collector.received] == [CT_SOP_UID]
    html = browser.get(f"/ui/jobs/{job.id}").content.decode()
    assert 'aria-valuenow="100"' in html and "data-job-live" not in html


def test_send_needs_a_configured_modality_and_a_post(browser):
    store_ct()
    response = browser.post(f"/ui/studies/{CT_STUDY}/send", {"modality": "nowhere"})
    assert response.status_code == 302 and response["Location"] == f"/ui/studies/{CT_STUDY}"
    assert not Job.objects.exists()
    assert browser.get(f"/ui/studies/{CT_STUDY}/send").status_code == 405
    modality("COLLECTOR", 11112)
    assert browser.post("/ui/studies/no-such-study/send", {"modality": "collector"}).status_code == 404
    assert not Job.objects.exists()


def test_send_needs_the_csrf_token(strict_browser):
    store_ct()
    modality("COLLECTOR", 11112)
    assert strict_browser.post(f"/ui/studies/{CT_STUDY}/send", {"modality": "collector"}).status_code == 403
    assert not Job.objects.exists()
    token = csrf_token(strict_browser, f"/ui/studies/{CT_STUDY}")
    response = strict_browser.post(
        f"/ui/studies/{CT_STUDY}/send", {"modality": "collector", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302 and Job.objects.count() == 1


# ---------------------------------------------------------------- query/retrieve


def search(browser, qrscp, **fields):
    return browser.post("/ui/query-retrieve", {"modality": qrscp.name, "action": "search", **fields})


def test_the_query_retrieve_page(browser, user):
    html = browser.get("/ui/query-retrieve").content.decode()
    assert "No DICOM server is configured" in html and "/admin/" not in html.split("<main", 1)[1]
    modality("QRSCP", 11112)
    response = browser.get("/ui/query-retrieve?modality=qrscp")
    html = response.content.decode()
    assert '<option value="qrscp" selected>' in html
    for code in ("CR", "CT", "MR", "NM", "PT", "US", "XA", "DR", "DX", "MG"):
        assert f'value="{code}"' in html
    assert 'name="action" value="search"' in html and 'name="action" value="echo"' in html
    for field in ("patient_name", "patient_id", "accession_number", "date_from", "date_to"):
        assert f'<label for="id_{field}"' in html


def test_echo_answers_ok_or_the_error(browser, dcmqrscp):
    response = browser.post("/ui/query-retrieve", {"modality": dcmqrscp.name, "action": "echo"})
    assert response.status_code == 200
    assert messages_of(response) == ["qrscp (QRSCP) answered the echo."]
    modality("NOPE", free_port())
    response = browser.post("/ui/query-retrieve", {"modality": "nope", "action": "echo", "patient_name": "kept"})
    [message] = messages_of(response)
    assert message.startswith("Echo failed:") and 'connecting to AET "NOPE"' in message
    assert 'value="kept"' in response.content.decode()  # what was typed stays


def test_search_drill_down_and_retrieve_a_study(browser, queue, dcmqrscp):
    response = search(browser, dcmqrscp, patient_name="Compressed*")
    stored = RemoteQuery.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/ui/queries/{stored.id}"
    # The same stored query a REST client reads.
    assert (stored.level, stored.modality, stored.query["PatientName"]) == ("Study", "qrscp", "Compressed*")
    assert len(browser.get(f"/queries/{stored.id}/answers").json()) == 2

    page = browser.get(response["Location"])
    rows = page.context["page"].rows
    assert sorted(row.patient_name for row in rows) == ["CompressedSamples, CT1", "CompressedSamples, MR1"]
    ct = next(row for row in rows if row.patient_name.endswith("CT1"))
    assert (ct.date, ct.description, ct.patient_id, ct.local_url) == ("19 Jan 2004", "e+1", "1CT1", "")
    html = page.content.decode()
    assert "Patient name: <strong>Compressed*</strong>" in html
    assert f'href="{ct.series_url}"' in html and 'id="retrieve-dialog"' in html
    assert 'name="target_aet" value="PHAROS"' in html

    # Open the study: a series-level query below it.
    response = browser.get(ct.series_url)
    series_query = RemoteQuery.objects.get(level="Series")
    assert response["Location"] == f"/ui/queries/{series_query.id}?from={stored.id}&answer={ct.index}"
    assert series_query.query["StudyInstanceUID"] == CT_STUDY_UID
    series_page = browser.get(response["Location"])
    [series] = series_page.context["page"].rows
    assert series.modality == "CT"
    assert series_page.context["page"].study.description == "e+1"
    assert f'href="/ui/queries/{stored.id}"' in series_page.content.decode()  # back to the studies

    # Retrieve the study into our server (dcmqrscp knows us as PHAROS): a C-MOVE job.
    response = browser.post(ct.retrieve_url, {"target_aet": "PHAROS"})
    job = Job.objects.get()
    assert response["Location"] == f"/ui/jobs/{job.id}"
    assert job.type == "DicomMoveScu" and job.parameters == {
        "Modality": "qrscp",
        "Level": "Study",
        "TargetAet": "PHAROS",
        "Identifiers": [{"PatientID": "1CT1", "StudyInstanceUID": CT_STUDY_UID}],
    }
    run_queued_jobs()
    job.refresh_from_db()
    assert (job.state, job.progress) == ("Success", 100), job.error_details
    assert Instance.objects.filter(sop_instance_uid=CT_SOP_UID).exists()
    # The job page links to what arrived, and the answers now say it is here.
    assert f'href="/ui/studies/{CT_STUDY}"' in browser.get(f"/ui/jobs/{job.id}").content.decode()
    ct_again = next(r for r in browser.get(f"/ui/queries/{stored.id}").context["page"].rows if r.patient_id == "1CT1")
    assert ct_again.local_url == f"/ui/studies/{CT_STUDY}"


def test_retrieve_one_series(browser, queue, dcmqrscp):
    search(browser, dcmqrscp, patient_id="4MR1")
    study_query = RemoteQuery.objects.get()
    [mr] = browser.get(f"/ui/queries/{study_query.id}").context["page"].rows
    series_page = browser.get(browser.get(mr.series_url)["Location"])
    [series] = series_page.context["page"].rows
    assert series.modality == "MR"
    browser.post(series.retrieve_url, {"target_aet": "PHAROS"})
    job = Job.objects.get()
    assert job.parameters["Level"] == "Series"
    run_queued_jobs()
    job.refresh_from_db()
    assert job.state == "Success", job.error_details
    assert Instance.objects.filter(sop_instance_uid__startswith=MR_SOP_PREFIX).exists()


def test_search_criteria_go_out_as_dicom_keys(browser, dcmqrscp):
    search(browser, dcmqrscp, study_date="range", date_from="2004-01-01", date_to="2004-01-31", modalities=["CT", "MR"])
    stored = RemoteQuery.objects.get()
    assert stored.query["StudyDate"] == "20040101-20040131"
    assert stored.query["ModalitiesInStudy"] == "CT\\MR"
    assert stored.query["StudyDescription"] == "" and stored.query["NumberOfStudyRelatedInstances"] == ""
    page = browser.get(f"/ui/queries/{stored.id}")
    assert [row.patient_id for row in page.context["page"].rows] == ["1CT1"]
    # "Change the search" fills the form with it again.
    html = browser.get(f"/ui/query-retrieve?from={stored.id}").content.decode()
    assert 'value="2004-01-01"' in html and 'value="2004-01-31"' in html
    assert re.search(r'value="CT"[^>]*checked', html) and re.search(r'value="MR"[^>]*checked', html)


def test_a_failed_search_shows_the_error(browser):
    modality("NOPE", free_port())
    response = browser.post("/ui/query-retrieve", {"modality": "nope", "action": "search", "patient_name": "DOE*"})
    assert response.status_code == 200
    [message] = messages_of(response)
    assert message.startswith("The query failed:")
    assert not RemoteQuery.objects.exists()


def test_retrieve_forms_without_javascript_and_bad_target(browser, dcmqrscp):
    search(browser, dcmqrscp, patient_id="1CT1")
    stored = RemoteQuery.objects.get()
    page = browser.get(f"/ui/queries/{stored.id}/answers/0/retrieve")
    assert page.status_code == 200 and 'name="target_aet" value="PHAROS"' in page.content.decode()
    bad = browser.post(f"/ui/queries/{stored.id}/answers/0/retrieve", {"target_aet": "BACK\\SLASH"})
    assert bad.status_code == 400 and "backslash" in bad.content.decode()
    assert browser.get(f"/ui/queries/{stored.id}/retrieve").status_code == 200  # retrieve all
    assert not Job.objects.exists()
    assert browser.get(f"/ui/queries/{stored.id}/answers/9/retrieve").status_code == 404
    assert browser.get("/ui/queries/not-a-query").status_code == 404


def test_retrieve_every_answer_of_a_search(browser, queue, dcmqrscp):
    search(browser, dcmqrscp)  # no criterion: every study
    stored = RemoteQuery.objects.get()
    rows = browser.get(f"/ui/queries/{stored.id}").context["page"].rows
    assert "Müller, Jürgen" in [row.patient_name for row in rows]  # the answer's character set is honoured
    response = browser.post(f"/ui/queries/{stored.id}/retrieve", {"target_aet": "ELSEWHERE"})
    job = Job.objects.get()
    assert response["Location"] == f"/ui/jobs/{job.id}"
    assert job.parameters["TargetAet"] == "ELSEWHERE" and len(job.parameters["Identifiers"]) == 3
    assert "Retrieving 3 studies from qrscp to ELSEWHERE." in messages_of(browser.get(response["Location"]))


def test_query_forms_need_the_csrf_token(strict_browser, dcmqrscp):
    refused = strict_browser.post("/ui/query-retrieve", {"modality": dcmqrscp.name, "action": "search"})
    assert refused.status_code == 403 and not RemoteQuery.objects.exists()
    token = csrf_token(strict_browser, "/ui/query-retrieve")
    fields = {"modality": dcmqrscp.name, "action": "search", "csrfmiddlewaretoken": token}
    assert strict_browser.post("/ui/query-retrieve", fields).status_code == 302
    stored = RemoteQuery.objects.get()
    assert strict_browser.post(f"/ui/queries/{stored.id}/retrieve", {"target_aet": "PHAROS"}).status_code == 403
    assert not Job.objects.exists()


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
    for n in range(pages.JOBS_PER_PAGE + 5):
        a_job(minutes_ago=n)
    first = browser.get("/ui/jobs").context["listing"]
    assert len(first.rows) == pages.JOBS_PER_PAGE and first.total == pages.JOBS_PER_PAGE + 5
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


# ---------------------------------------------------------------- the functions behind the pages


def test_the_search_form_builds_a_study_query():
    from datetime import date

    from dicomnet import forms

    form = forms.RemoteStudyQueryForm(
        {"modality": "", "patient_name": " DOE* ", "study_date": "last7", "modalities": ["CT", "MR"]},
        today=date(2024, 3, 15),
    )
    form.is_valid()
    query = form.dicom_query()
    assert query["PatientName"] == "DOE*" and query["StudyDate"] == "20240309-20240315"
    assert query["ModalitiesInStudy"] == "CT\\MR" and query["PatientID"] == "" and query["StudyInstanceUID"] == ""
    assert forms.initial_from_query("pacs", {"StudyDate": "20240101-", "ModalitiesInStudy": "CT"})["date_to"] is None
    assert forms.initial_from_query("pacs", {"StudyDate": "20240101"})["date_to"] == date(2024, 1, 1)
    reversed_range = forms.RemoteStudyQueryForm({"date_from": "2024-02-01", "date_to": "2024-01-01"})
    assert not reversed_range.is_valid() and "comes after" in str(reversed_range.non_field_errors())


def test_readable_criteria_and_summaries():
    assert pages.readable_dates("20200101-20201231") == "1 Jan 2020 – 31 Dec 2020"
    assert pages.readable_dates("20200101-") == "1 Jan 2020 – …"
    assert pages.counted(1, "Study") == "1 study" and pages.counted(3, "Study") == "3 studies"
    assert pages.counted(2, "Series") == "2 series"
    move = Job(
        type="DicomMoveScu",
        parameters={"Modality": "pacs", "Level": "Study", "TargetAet": "PHAROS", "Identifiers": [{}, {}]},
    )
    assert pages.job_summary(move) == "2 studies from pacs to PHAROS"
