"""Modify and Anonymize from the explorer (dicomnet.change_views): the buttons and who sees
them, the form with its errors, the confirmation step, the CSRF token, and the job it starts."""

import re

import pytest
from django.test import Client

from dicomnet import change_views
from dicomnet.models import Job
from explorer import rights
from tests.test_rights import make_user

pytestmark = pytest.mark.django_db


def token(html):
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def hidden_fields(html):
    """What the confirmation step carries along: its hidden inputs, as a browser would post them."""
    pairs = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)
    return {name: value.replace("&amp;", "&") for name, value in pairs}


@pytest.fixture
def submitted(monkeypatch):
    """The calls to submit_change, each answered with a Pending job as the real one would."""
    calls = []

    def submit_change(level, public_id, body, anonymize, username=""):
        calls.append((level.name, public_id, body, anonymize, username))
        return Job.objects.create(type="ResourceModification", parameters={"Level": level.name})

    monkeypatch.setattr(change_views.modification_jobs, "submit_change", submit_change)
    return calls


def strict_client(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def test_modify_asks_first_then_starts_the_job(user, brain_study, submitted):
    client = strict_client(user)
    url = f"/ui/studies/{brain_study['study']}/modify"
    form = client.get(url)
    html = form.content.decode()
    assert form.status_code == 200 and 'value="Doe^Jane"' in html and "Keep the source" in html
    fields = dict(re.findall(r'<input type="text" name="(tag_\w+)"[^>]*value="([^"]*)"', html))
    posted = fields | {"tag_PatientName": "Doe^Janet", "keep_source": "on", "keep_private_tags": "on"}

    assert client.post(url, posted).status_code == 403  # no CSRF token
    review = client.post(url, posted | {"csrfmiddlewaretoken": token(html)})
    assert review.status_code == 200 and submitted == []
    review_html = review.content.decode()
    assert "Modify this study?" in review_html
    assert re.search(r'data-change="PatientName">.*?Doe\^Jane.*?Doe\^Janet', review_html, re.S)

    # "Change again" goes back to the form with what was typed.
    back = client.post(url, hidden_fields(review_html) | {"back": "1"})
    assert 'value="Doe^Janet"' in back.content.decode() and submitted == []

    started = client.post(url, hidden_fields(review_html) | {"confirm": "1"})
    assert started.status_code == 302 and started["Location"].startswith("/ui/jobs/")
    body = {"Replace": {"PatientName": "Doe^Janet"}, "Remove": [], "RemovePrivateTags": False, "KeepSource": True}
    assert submitted == [("Study", brain_study["study"], body, False, "alice")]
    job_page = client.get(started["Location"]).content.decode()
    assert "Modifying study “Brain MRI”" in job_page


def test_modify_shows_its_errors_in_the_form(user, brain_study, submitted):
    client = Client()
    client.force_login(user)
    url = f"/ui/series/{brain_study['series'][3]}/modify"
    response = client.post(url, {"add_keyword": "SeriesDescriptio", "add_value": "x"})
    assert response.status_code == 400
    assert "“SeriesDescriptio” is not a DICOM keyword" in response.content.decode()
    response = client.post(url, {"tag_SeriesDescription": "T2 axial"})
    assert "Nothing to change" in response.content.decode()
    assert submitted == []


def test_a_body_the_engine_refuses_is_a_form_error(user, brain_study, monkeypatch):
    from explorer.errors import BadRequest

    def refuse(*args, **kwargs):
        raise BadRequest("When modifying a study, the parent PatientID cannot be manually modified")

    monkeypatch.setattr(change_views.modification_jobs, "submit_change", refuse)
    client = Client()
    client.force_login(user)
    url = f"/ui/studies/{brain_study['study']}/modify"
    response = client.post(url, {"tag_StudyDescription": "Brain MR", "confirm": "1"})
    assert response.status_code == 400
    assert "parent PatientID cannot be manually modified" in response.content.decode()
    assert not Job.objects.exists()


def test_anonymize_from_the_dialog(user, brain_study, submitted):
    client = strict_client(user)
    page = client.get(f"/ui/studies/{brain_study['study']}").content.decode()
    dialog = page[page.index('<dialog id="anonymize-dialog"') :]
    assert 'action="/ui/studies/' in dialog and "Keep private tags" in dialog
    url = f"/ui/studies/{brain_study['study']}/anonymize"
    assert client.post(url, {"keep_source": "on"}).status_code == 403  # no CSRF token
    response = client.post(url, {"keep_private_tags": "on", "csrfmiddlewaretoken": token(page)})
    assert response.status_code == 302 and response["Location"].startswith("/ui/jobs/")
    body = {"KeepPrivateTags": True, "KeepSource": False}
    assert submitted == [("Study", brain_study["study"], body, True, "alice")]


def test_the_anonymize_page_works_without_javascript(user, brain_study, submitted):
    client = Client()
    client.force_login(user)
    page = client.get(f"/ui/patients/{brain_study['patient']}/anonymize")
    assert page.status_code == 200 and "Anonymize this patient?" in page.content.decode()
    assert client.get("/ui/studies/nothing/anonymize").status_code == 404


def test_a_viewer_sees_no_button_and_is_refused(django_user_model, brain_study, submitted):
    viewer = Client()
    viewer.force_login(make_user(django_user_model, rights.VIEWER))
    html = viewer.get(f"/ui/studies/{brain_study['study']}").content.decode()
    assert "/modify" not in html and "/anonymize" not in html
    assert "Download ZIP as…" in html  # downloads are theirs
    for action in ("modify", "anonymize"):
        assert viewer.get(f"/ui/studies/{brain_study['study']}/{action}").status_code == 403
        assert viewer.post(f"/ui/studies/{brain_study['study']}/{action}", {"keep_source": "on"}).status_code == 403
    assert submitted == []

    operator = Client()
    operator.force_login(make_user(django_user_model, rights.OPERATOR))
    html = operator.get(f"/ui/series/{brain_study['series'][3]}").content.decode()
    assert f"/ui/series/{brain_study['series'][3]}/modify" in html and 'id="anonymize-dialog"' in html


def test_an_instance_page_has_no_modify_but_downloads_as(user, brain_study):
    from explorer.models import Instance

    client = Client()
    client.force_login(user)
    instance = Instance.objects.filter(series__public_id=brain_study["series"][1]).get()
    html = client.get(f"/ui/instances/{instance.public_id}").content.decode()
    assert "/modify" not in html
    assert f'href="/instances/{instance.public_id}/file?transcode=1.2.840.10008.1.2.4.80"' in html


def test_the_download_as_links_give_the_chosen_transfer_syntax(user, samples):
    import io
    import zipfile

    import pydicom

    client = Client()
    client.force_login(user)
    instance_id = samples["CT_small.dcm"][3]
    html = client.get(f"/ui/instances/{instance_id}").content.decode()
    links = dict(re.findall(r'<a href="([^"]+)" download data-transcode="([^"]+)">', html))
    assert len(links) == 8
    for url, syntax in links.items():
        if syntax == "1.2.840.10008.1.2.4.50":
            continue  # baseline JPEG is for 8-bit pictures; CT_small's are 16-bit
        response = client.get(url.replace("&amp;", "&"))
        assert response.status_code == 200, (syntax, response.content[:200])
        data = b"".join(response.streaming_content) if response.streaming else response.content
        assert pydicom.dcmread(io.BytesIO(data)).file_meta.TransferSyntaxUID == syntax

    series_id = samples["CT_small.dcm"][2]
    html = client.get(f"/ui/series/{series_id}").content.decode()
    url = re.search(r'<a href="([^"]+)" download data-transcode="1.2.840.10008.1.2.4.80">', html).group(1)
    response = client.get(url)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    with archive.open(archive.namelist()[0]) as member:
        assert pydicom.dcmread(member).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.80"


@pytest.mark.django_db(transaction=True)
def test_a_patient_modified_for_real(user, brain_study, queue):
    """Through the real job: the patient gets a new ID and name, the original is kept."""
    from explorer.models import Patient
    from tests.conftest import run_queued_jobs

    client = Client()
    client.force_login(user)
    url = f"/ui/patients/{brain_study['patient']}/modify"
    posted = {"tag_PatientID": "BRAIN-2", "tag_PatientName": "Roe^Jane", "keep_source": "on", "confirm": "1"}
    started = client.post(url, posted)
    assert started.status_code == 302
    run_queued_jobs()
    job = Job.objects.get()
    assert (job.state, job.parameters["Body"]["Force"], job.parameters["Username"]) == ("Success", True, "alice")
    new_patient = Patient.objects.get(public_id=job.content["ID"])
    assert (new_patient.main_tags["PatientID"], new_patient.main_tags["PatientName"]) == ("BRAIN-2", "Roe^Jane")
    assert Patient.objects.filter(public_id=brain_study["patient"]).exists()
    page = client.get(started["Location"]).content.decode()
    assert f'href="/ui/patients/{new_patient.public_id}" data-job-result>Open the new patient</a>' in page
