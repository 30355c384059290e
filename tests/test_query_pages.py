"""The Query/Retrieve pages (dicomnet.query_pages) with Django's test client, logged in,
against DCMTK's dcmqrscp with retrieval into our own DICOM server, and CSRF on every form."""

import re

import pytest
from django.test import Client

from dicomnet.models import Job, RemoteQuery
from dicomnet.query_pages import WebAnswer, query_page, readable_dates, series_answers, study_answers
from explorer.models import Instance
from explorer.pages.formatting import NOT_DICOM_DATE
from tests.conftest import CT_SMALL_IDS, run_queued_jobs
from tests.dicom_peers import free_port, modality
from tests.page_helpers import csrf_token, messages_of, store_sample

pytestmark = pytest.mark.django_db(transaction=True)

CT_PATIENT, CT_STUDY, CT_SERIES, CT_INSTANCE = (CT_SMALL_IDS[k] for k in ("patient", "study", "series", "instance"))
CT_STUDY_UID = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
CT_SOP_UID = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"
MR_SOP_PREFIX = "1.3.6.1.4.1.5962.1.1.4"


def test_anonymous_browsers_are_sent_to_the_login_page():
    response = Client().get("/ui/query-retrieve", HTTP_ACCEPT="text/html")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next="), "/ui/query-retrieve"


def search(browser, qrscp, **fields):
    return browser.post("/ui/query-retrieve", {"server": f"modality:{qrscp.name}", "action": "search", **fields})


def test_the_query_retrieve_page(browser, user):
    html = browser.get("/ui/query-retrieve").content.decode()
    assert "No server is configured" in html and "/admin/" not in html.split("<main", 1)[1]
    modality("QRSCP", 11112)
    response = browser.get("/ui/query-retrieve?modality=qrscp")
    html = response.content.decode()
    assert '<option value="modality:qrscp" selected>' in html
    for code in ("CR", "CT", "MR", "NM", "PT", "US", "XA", "DR", "DX", "MG"):
        assert f'value="{code}"' in html
    assert 'name="action" value="search"' in html and 'name="action" value="echo"' in html
    for field in ("patient_name", "patient_id", "accession_number", "date_from", "date_to"):
        assert f'<label for="id_{field}"' in html


def test_echo_answers_ok_or_the_error(browser, dcmqrscp):
    response = browser.post("/ui/query-retrieve", {"server": f"modality:{dcmqrscp.name}", "action": "echo"})
    assert response.status_code == 200
    assert messages_of(response) == ["qrscp (QRSCP) answered the echo."]
    modality("NOPE", free_port())
    response = browser.post("/ui/query-retrieve", {"server": "modality:nope", "action": "echo", "patient_name": "kept"})
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
    # The job page links to what arrived and counts it, and the answers now say it is here.
    job_page = browser.get(f"/ui/jobs/{job.id}")
    assert f'href="/ui/studies/{CT_STUDY}"' in job_page.content.decode()
    assert job_page.context["page"].arrived == 1
    assert "<strong>1</strong> instance arrived in Pharos." in job_page.content.decode()
    ct_again = next(r for r in browser.get(f"/ui/queries/{stored.id}").context["page"].rows if r.patient_id == "1CT1")
    assert ct_again.local_url == f"/ui/studies/{CT_STUDY}"


def test_retrieve_one_series(browser, queue, dcmqrscp):
    search(browser, dcmqrscp, patient_id="4MR1")
    study_query = RemoteQuery.objects.get()
    [mr] = browser.get(f"/ui/queries/{study_query.id}").context["page"].rows
    series_location = browser.get(mr.series_url)["Location"]
    [series] = browser.get(series_location).context["page"].rows
    assert series.modality == "MR"
    browser.post(series.retrieve_url, {"target_aet": "PHAROS"})
    job = Job.objects.get()
    assert job.parameters["Level"] == "Series"
    run_queued_jobs()
    job.refresh_from_db()
    assert job.state == "Success", job.error_details
    assert Instance.objects.filter(sop_instance_uid__startswith=MR_SOP_PREFIX).exists()
    assert browser.get(f"/ui/jobs/{job.id}").context["page"].arrived == 1
    # The series answer now leads to the series here.
    [series] = browser.get(series_location).context["page"].rows
    assert series.local_url == f"/ui/series/{Instance.objects.get().series.public_id}"
    assert "In Pharos</a>" in browser.get(f"/ui/queries/{study_query.id}").content.decode()


def test_answers_stored_here_are_marked_with_one_query_for_all(browser, dcmqrscp, django_assert_num_queries):
    search(browser, dcmqrscp, patient_name="Compressed*")
    stored = RemoteQuery.objects.get()
    store_sample("CT_small.dcm")
    store_sample("MR_small.dcm")
    # One query reads the answers, one finds those already here, whatever their number.
    with django_assert_num_queries(2):
        rows = query_page(stored).rows
    assert len(rows) == 2 and all(row.local_url.startswith("/ui/studies/") for row in rows)
    html = browser.get(f"/ui/queries/{stored.id}").content.decode()
    assert html.count('class="status status-success" href="/ui/studies/') == 2


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
    response = browser.post(
        "/ui/query-retrieve", {"server": "modality:nope", "action": "search", "patient_name": "DOE*"}
    )
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
    refused = strict_browser.post("/ui/query-retrieve", {"server": f"modality:{dcmqrscp.name}", "action": "search"})
    assert refused.status_code == 403 and not RemoteQuery.objects.exists()
    token = csrf_token(strict_browser, "/ui/query-retrieve")
    fields = {"server": f"modality:{dcmqrscp.name}", "action": "search", "csrfmiddlewaretoken": token}
    assert strict_browser.post("/ui/query-retrieve", fields).status_code == 302
    stored = RemoteQuery.objects.get()
    assert strict_browser.post(f"/ui/queries/{stored.id}/retrieve", {"target_aet": "PHAROS"}).status_code == 403
    assert not Job.objects.exists()


# ---------------------------------------------------------------- the functions behind the pages


def test_the_search_form_builds_a_study_query():
    from datetime import date

    from dicomnet import forms

    form = forms.RemoteStudyQueryForm(
        {"server": "", "patient_name": " DOE* ", "study_date": "last7", "modalities": ["CT", "MR"]},
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


def test_readable_criteria():
    assert readable_dates("20200101-20201231") == "1 Jan 2020 – 31 Dec 2020"
    assert readable_dates("20200101-") == "1 Jan 2020 – …"


def test_answer_dates_that_are_not_dicom_dates_are_marked():
    def answer(uid_key, uid, date_key, date):
        return WebAnswer(0, {uid_key: {"vr": "UI", "Value": [uid]}, date_key: {"vr": "DA", "Value": [date]}})

    def no_urls(*_):
        return "", ""

    [study] = study_answers(None, [answer("0020000D", "1.2.3", "00080020", "2004.01.19")], no_urls)
    assert (study.date, study.date_note) == ("2004.01.19", NOT_DICOM_DATE)
    [series] = series_answers(None, [answer("0020000E", "1.2.3.4", "00080021", "20040119")], no_urls)
    assert (series.date, series.date_note) == ("19 Jan 2004", "")


def test_a_query_not_found_is_named_and_explained_as_a_query(browser):
    response = browser.get("/ui/queries/not-a-query")
    html = response.content.decode()
    assert response.status_code == 404
    assert "<h1>No such query</h1>" in html and "Pharos has no query <code>not-a-query</code>" in html
    assert "Only the latest remote queries are kept" in html and "job history" not in html
