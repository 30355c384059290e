"""Query/Retrieve over DICOMweb (dicomnet.web_queries and its pages) with Django's test client,
logged in, against a real Orthanc with its DICOMweb plugin (tests/reference_orthanc.py, one
for the module) holding CT_small and MR_small: the server chosen among modalities and
DICOMweb servers, QIDO-RS answers in the Query/Retrieve table, the series of a study, the
retrieve jobs that bring studies and series into Pharos, and the failures said in words."""

import re
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from dicomnet import web_queries
from dicomnet.models import DicomWebServer, Job
from explorer.models import Instance, Study
from tests.conftest import dicom_bytes, run_queued_jobs
from tests.dicom_peers import free_port, modality
from tests.page_helpers import csrf_token, messages_of
from tests.reference_orthanc import ReferenceOrthanc

pytestmark = pytest.mark.django_db(transaction=True)

CT_STUDY_UID = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
CT_SERIES_UID = "1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322"
CT_SOP_UID = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"
MR_STUDY_UID = "1.3.6.1.4.1.5962.1.2.4.20040826185059.5457"
SERVER = "/ui/query-retrieve/dicomweb/orthanc"


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    with ReferenceOrthanc(tmp_path_factory.mktemp("orthanc")) as running:
        for name in ("CT_small.dcm", "MR_small.dcm"):
            running.upload(dicom_bytes(name))
        yield running


@pytest.fixture
def server(orthanc):
    return DicomWebServer.objects.create(name="orthanc", url=f"{orthanc.url}/dicom-web/")


def search(browser, **fields):
    """The search form posted for the DICOMweb server, then the answers page it leads to."""
    response = browser.post("/ui/query-retrieve", {"server": "dicomweb:orthanc", "action": "search", **fields})
    assert response.status_code == 302 and response["Location"].startswith(f"{SERVER}?"), response
    return browser.get(response["Location"])


def page_text(response):
    """The page's HTML with its URLs' query strings decoded, to read them as typed."""
    return unquote(response.content.decode()).replace("&amp;", "&")


def answer_rows(response):
    html = page_text(response)
    body = re.search(r'<table class="list remote-answers">.*?<tbody>(.*?)</tbody>', html, re.S)
    return re.findall(r"<tr>(.*?)</tr>", body[1], re.S) if body else []


def test_the_server_is_chosen_among_modalities_and_dicomweb_servers(browser, server):
    modality("QRSCP", 11112)
    html = browser.get("/ui/query-retrieve?server=dicomweb:orthanc").content.decode()
    assert re.findall(r'<optgroup label="([^"]+)">', html) == ["DICOM modalities", "DICOMweb servers"]
    assert '<option value="dicomweb:orthanc" selected>' in html and 'value="modality:qrscp"' in html
    # No server is chosen for the user when the page opens on its own.
    html = browser.get("/ui/query-retrieve").content.decode()
    assert '<option value="" selected>Choose a server…</option>' in html
    response = browser.post("/ui/query-retrieve", {"action": "search"})
    assert "Choose the server to search." in response.content.decode() and not Job.objects.exists()


def test_a_search_shows_the_qido_answers_in_the_same_table(browser, server):
    response = search(browser, patient_name="CompressedSamples^CT*")
    assert response.status_code == 200
    assert parse_qs(urlsplit(response.wsgi_request.get_full_path()).query)["patient_name"] == ["CompressedSamples^CT*"]
    html = page_text(response)
    assert "Studies on orthanc" in html and "from a DICOMweb server (QIDO-RS)" in html
    assert "Patient name: <strong>CompressedSamples^CT*</strong>" in html
    [row] = answer_rows(response)
    assert "CompressedSamples, CT1" in row and "e+1" in row and "1CT1" in row and '<span class="badge">CT</span>' in row
    assert f'href="{SERVER}/studies/{CT_STUDY_UID}?' in row and f"{SERVER}/studies/{CT_STUDY_UID}/retrieve?" in row
    assert "In Pharos" not in row
    # "Change the search" opens the form with what was typed, on the same server.
    modify = re.search(r'<a class="button" href="([^"]+)">Change the search</a>', response.content.decode())[1]
    form = page_text(browser.get(modify.replace("&amp;", "&")))
    assert '<option value="dicomweb:orthanc" selected>' in form and 'value="CompressedSamples^CT*"' in form


def test_every_study_and_the_filters_go_to_the_server(browser, server):
    assert len(answer_rows(search(browser))) == 2
    assert len(answer_rows(search(browser, modalities=["MR"]))) == 1
    [row] = answer_rows(search(browser, modalities=["CT", "NM"]))
    assert "e+1" in row
    assert len(answer_rows(search(browser, study_date="range", date_from="2004-01-01", date_to="2004-01-31"))) == 1
    assert answer_rows(search(browser, patient_id="nobody")) == []


def test_the_series_of_a_study_then_retrieving_one(browser, queue, server):
    response = browser.get(f"{SERVER}/studies/{CT_STUDY_UID}?patient_name=Compressed*")
    html = page_text(response)
    assert response.status_code == 200 and "Series on orthanc" in html
    assert f'href="{SERVER}?patient_name=Compressed*">Studies on orthanc</a>' in html  # back to the answers
    [row] = answer_rows(response)
    assert '<span class="badge">CT</span>' in row
    retrieve_url = f"{SERVER}/studies/{CT_STUDY_UID}/series/{CT_SERIES_UID}/retrieve"
    assert f'href="{retrieve_url}?patient_name=Compressed*"' in row

    confirm = browser.get(retrieve_url).content.decode()
    assert f"Retrieve the series {CT_SERIES_UID}" in confirm and "over DICOMweb (WADO-RS)" in confirm
    assert 'name="target_aet"' not in confirm and not Job.objects.exists()
    response = browser.post(retrieve_url)
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/ui/jobs/{job.id}"
    assert (job.type, job.parameters["Server"], job.parameters["Resources"]) == (
        "DicomWebWadoRetrieveClient",
        "orthanc",
        [f"/studies/{CT_STUDY_UID}/series/{CT_SERIES_UID}"],
    )
    assert "Retrieving the series" in messages_of(browser.get(response["Location"]))[0]
    run_queued_jobs()
    job.refresh_from_db()
    assert job.state == "Success", job.error_details
    assert list(Instance.objects.values_list("sop_instance_uid", flat=True)) == [CT_SOP_UID]
    html = browser.get(f"/ui/jobs/{job.id}").content.decode()
    assert "Retrieve (WADO-RS)" in html and "Study: e+1" in html
    # The answers now say it is here.
    assert "In Pharos" in answer_rows(browser.get(f"{SERVER}/studies/{CT_STUDY_UID}"))[0]


def test_retrieving_a_study_and_every_answer(browser, queue, server):
    study_url = f"{SERVER}/studies/{MR_STUDY_UID}/retrieve"
    assert "Retrieve the study" in browser.get(study_url).content.decode()
    browser.post(study_url)
    run_queued_jobs()
    assert list(Study.objects.values_list("study_instance_uid", flat=True)) == [MR_STUDY_UID]

    confirm = browser.get(f"{SERVER}/retrieve?patient_name=Compressed*").content.decode()
    assert "Retrieve 2 studies" in confirm
    response = browser.post(f"{SERVER}/retrieve?patient_name=Compressed*")
    job = Job.objects.latest("created")
    assert response["Location"] == f"/ui/jobs/{job.id}"
    assert sorted(job.parameters["Resources"]) == sorted([f"/studies/{CT_STUDY_UID}", f"/studies/{MR_STUDY_UID}"])
    run_queued_jobs()
    job.refresh_from_db()
    assert job.state == "Success" and Study.objects.count() == 2


def test_echo_and_failures_are_said_in_words(browser, server):
    response = browser.post("/ui/query-retrieve", {"server": "dicomweb:orthanc", "action": "echo"})
    assert messages_of(response) == [f"orthanc ({server.url}) answered the echo."]
    DicomWebServer.objects.create(name="down", url=f"http://127.0.0.1:{free_port()}/dicom-web/")
    response = browser.post("/ui/query-retrieve", {"server": "dicomweb:down", "action": "echo"})
    [message] = messages_of(response)
    assert message.startswith("Echo failed: Cannot reach http://127.0.0.1:") and "connection refused" in message
    response = browser.post(
        "/ui/query-retrieve", {"server": "dicomweb:down", "action": "search", "patient_name": "DOE*"}, follow=True
    )
    [message] = messages_of(response)
    assert message.startswith("The query failed: Cannot reach")
    assert '<option value="dicomweb:down" selected>' in response.content.decode()  # the search form, as typed
    assert 'value="DOE*"' in response.content.decode()


def test_unknown_servers_and_uids(browser, server):
    assert browser.get("/ui/query-retrieve/dicomweb/nowhere").status_code == 404
    assert browser.get(f"{SERVER}/studies/not-a-uid").status_code == 404
    response = browser.get(f"{SERVER}/studies/1.2.3")  # a UID the server does not know
    assert response.status_code == 200 and answer_rows(response) == []
    assert "The server found nothing matching this search." in response.content.decode()
    assert browser.post(f"{SERVER}/studies/1.2.x/retrieve").status_code == 404
    assert browser.post("/ui/query-retrieve/dicomweb/nowhere/retrieve").status_code == 404
    assert not Job.objects.exists()


def test_a_retrieve_needs_the_csrf_token(strict_browser, queue, server):
    url = f"{SERVER}/studies/{CT_STUDY_UID}/retrieve"
    assert strict_browser.post(url).status_code == 403
    token = csrf_token(strict_browser, url)
    assert strict_browser.post(url, {"csrfmiddlewaretoken": token}).status_code == 302
    assert Job.objects.count() == 1


def test_the_qido_parameters_of_a_study_query():
    query = {"PatientName": "DOE*", "StudyDate": "20240101-", "PatientID": "", "ModalitiesInStudy": "CT\\MR"}
    filters, fields = web_queries.qido_parameters(query)
    assert filters == {"PatientName": "DOE*", "StudyDate": "20240101-", "ModalitiesInStudy": "CT,MR"}
    assert fields == ["PatientID"]
    found = [{"0020000D": {"vr": "UI", "Value": ["1.2.3"]}}, {"00100010": {"vr": "PN"}}]
    assert web_queries.study_uids(found) == ["1.2.3", ""]
    assert web_queries.series_resources("1.2", ["1.2.3"]) == ["/studies/1.2/series/1.2.3"]
