"""The "Send" control of the resource pages and its confirmation (dicomnet.views.send,
dicomnet.destinations) with Django's test client, logged in: every destination kind in one
list with nothing chosen beforehand, a confirmation page before the job starts, the job
that starts, a stale or unknown choice refused, and CSRF on the form that starts it."""

import re

import pytest

from dicomnet import destinations
from dicomnet.models import DicomWebServer, Job, OrthancPeer
from tests.conftest import CT_SMALL_IDS, run_queued_jobs
from tests.dicom_peers import modality
from tests.page_helpers import csrf_token, messages_of, store_ct
from tests.reference_orthanc import ReferenceOrthanc

pytestmark = pytest.mark.django_db(transaction=True)

CT_PATIENT, CT_STUDY, CT_SERIES, CT_INSTANCE = (CT_SMALL_IDS[k] for k in ("patient", "study", "series", "instance"))
CT_SOP_UID = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"
SEND_URL = f"/ui/studies/{CT_STUDY}/send"


def options_of(html):
    """[(value, selected)] of the send control's select."""
    select = re.search(r'<select name="destination" id="send_destination" required>(.*?)</select>', html, re.S)
    assert select, "no send control"
    return [(value, bool(chosen)) for value, chosen in re.findall(r'<option value="([^"]*)"( selected)?>', select[1])]


def card_of(response):
    """The send page's card, without the page's header (whose log-out form has its own token)."""
    return re.search(r'<section class="card confirm".*?</section>', response.content.decode(), re.S)[0]


def test_a_destination_is_named_by_its_kind_and_name():
    modality("PACS", 11112)
    DicomWebServer.objects.create(name="pacs", url="https://web.example.org/dicom-web/")
    found = destinations.find("modality:pacs")
    assert (found.kind, found.value, found.address) == (destinations.MODALITY, "modality:pacs", "PACS@127.0.0.1:11112")
    web = destinations.find("dicomweb:pacs")
    assert (web.kind, web.address) == (destinations.DICOMWEB, "https://web.example.org/dicom-web/")
    for value, why in (
        ("pacs", "is not a destination"),
        ("printer:pacs", "is not a destination"),
        ("modality:", "no DICOM modality named “”"),
        ("peer:pacs", "no Orthanc peer named “pacs”"),
        ("modality:PACS", "no DICOM modality named “PACS”"),
    ):
        with pytest.raises(destinations.UnknownDestination, match=why):
            destinations.find(value)
    with pytest.raises(destinations.UnknownDestination, match="is not a destination"):
        destinations.find("dicomweb:pacs", kinds=(destinations.MODALITY,))


@pytest.mark.parametrize(
    "page",
    [
        f"/ui/patients/{CT_PATIENT}",
        f"/ui/studies/{CT_STUDY}",
        f"/ui/series/{CT_SERIES}",
        f"/ui/instances/{CT_INSTANCE}",
    ],
)
def test_every_resource_page_has_one_send_control_with_nothing_chosen(browser, page):
    store_ct()
    modality("COLLECTOR", 11112)
    modality("ARCHIVE", 11113)
    html = browser.get(page).content.decode()
    assert f'<form method="get" action="{page}/send" class="send-form">' in html
    assert '<optgroup label="DICOM modalities">' in html
    assert options_of(html) == [("", True), ("modality:archive", False), ("modality:collector", False)]


def test_every_kind_has_its_group_in_the_one_control(browser):
    store_ct()
    modality("PACS", 11112)
    DicomWebServer.objects.create(name="pacs", url="https://web.example.org/dicom-web/")
    OrthancPeer.objects.create(name="backup", url="https://backup.example.org/")
    html = browser.get(f"/ui/studies/{CT_STUDY}").content.decode()
    groups = re.findall(r'<optgroup label="([^"]+)">', html)
    assert groups == ["DICOM modalities", "DICOMweb servers", "Orthanc peers"]
    assert options_of(html) == [("", True), ("modality:pacs", False), ("dicomweb:pacs", False), ("peer:backup", False)]
    assert ">pacs (https://web.example.org/dicom-web/)</option>" in html and ">pacs (PACS)</option>" in html


def test_without_a_destination_the_page_says_so(browser, user):
    store_ct()
    html = browser.get(f"/ui/studies/{CT_STUDY}").content.decode()
    assert "No destination is configured" in html and "An administrator can add one" in html
    assert "/send" not in html
    user.is_staff = True
    user.save()
    html = browser.get(f"/ui/studies/{CT_STUDY}").content.decode()
    assert 'href="/admin/dicomnet/modality/add/"' in html


def test_the_choice_is_confirmed_before_anything_starts(browser):
    store_ct()
    modality("COLLECTOR", 11112)
    response = browser.get(SEND_URL, {"destination": "modality:collector"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Send this study?" in html and "DICOM modality" in html and "COLLECTOR@127.0.0.1:11112" in html
    assert "(1 instance)" in html
    form = re.search(r'<form method="post" action="" class="buttons">(.*?)</form>', html, re.S)[1]
    assert 'name="csrfmiddlewaretoken"' in form
    assert '<input type="hidden" name="destination" value="modality:collector">' in form
    assert f'href="/ui/studies/{CT_STUDY}">Cancel</a>' in form
    assert not Job.objects.exists()


def test_confirming_starts_the_job_and_shows_it(browser, queue, collector):
    store_ct()
    modality("COLLECTOR", collector.port)
    response = browser.post(SEND_URL, {"destination": "modality:collector"})
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


def test_without_a_choice_the_page_asks_for_one(browser):
    store_ct()
    modality("COLLECTOR", 11112)
    response = browser.get(SEND_URL)
    html = response.content.decode()
    assert response.status_code == 200 and '<form method="get" action=""' in html
    assert re.search(r'<option value="" selected>Choose a destination…</option>', html)
    assert 'value="modality:collector"' in html and 'value="modality:collector" selected' not in html
    response = browser.post(SEND_URL, {"destination": ""})
    assert response.status_code == 400 and "Choose a destination to send to." in response.content.decode()
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    "value, why",
    [
        ("collector", "“collector” is not a destination"),
        ("modality:gone", "There is no DICOM modality named “gone” (any more)"),
        ("peer:collector", "There is no Orthanc peer named “collector”"),
        ("dicomweb:collector", "There is no DICOMweb server named “collector”"),
    ],
)
def test_a_stale_or_unknown_choice_is_refused(browser, value, why):
    store_ct()
    modality("COLLECTOR", 11112)
    for response in (browser.get(SEND_URL, {"destination": value}), browser.post(SEND_URL, {"destination": value})):
        html = card_of(response)
        assert response.status_code == 400 and why in html
        assert "Send this study?" not in html and 'name="csrfmiddlewaretoken"' not in html
        assert 'value="modality:collector"' in html  # chosen again from what there is
    assert not Job.objects.exists()


def test_a_destination_removed_after_the_page_was_shown_is_refused(browser, queue):
    store_ct()
    collector = modality("COLLECTOR", 11112)
    assert "Send this study?" in browser.get(SEND_URL, {"destination": "modality:collector"}).content.decode()
    collector.delete()
    response = browser.post(SEND_URL, {"destination": "modality:collector"})
    assert response.status_code == 400 and "no DICOM modality named “collector” (any more)" in response.content.decode()
    assert not Job.objects.exists()


def test_sending_needs_a_resource_and_a_known_method(browser):
    modality("COLLECTOR", 11112)
    assert browser.post("/ui/studies/no-such-study/send", {"destination": "modality:collector"}).status_code == 404
    assert browser.get("/ui/studies/no-such-study/send").status_code == 404
    store_ct()
    assert browser.put(SEND_URL).status_code == 405
    assert not Job.objects.exists()


def test_the_job_starts_only_with_the_csrf_token(strict_browser, queue):
    store_ct()
    modality("COLLECTOR", 11112)
    assert strict_browser.post(SEND_URL, {"destination": "modality:collector"}).status_code == 403
    assert not Job.objects.exists()
    token = csrf_token(strict_browser, f"{SEND_URL}?destination=modality:collector")
    response = strict_browser.post(SEND_URL, {"destination": "modality:collector", "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and Job.objects.count() == 1


def test_a_viewer_sees_no_send_control_and_cannot_send(ct_viewer_browser):
    modality("COLLECTOR", 11112)
    html = ct_viewer_browser.get(f"/ui/studies/{CT_STUDY}").content.decode()
    assert "send-action" not in html
    assert ct_viewer_browser.get(SEND_URL, {"destination": "modality:collector"}).status_code == 403
    assert ct_viewer_browser.post(SEND_URL, {"destination": "modality:collector"}).status_code == 403
    assert not Job.objects.exists()


@pytest.fixture
def ct_viewer_browser(db, django_user_model):
    from django.test import Client

    from explorer import rights

    store_ct()
    bob = django_user_model.objects.create_user("bob", password="x")
    bob.groups.add(rights.group_named(rights.VIEWER))
    client = Client()
    client.force_login(bob)
    return client


# ---------------------------------------------------------------- every kind, to a real Orthanc


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    with ReferenceOrthanc(tmp_path_factory.mktemp("orthanc")) as running:
        yield running


@pytest.fixture
def orthanc_everywhere(orthanc):
    """The one Orthanc as a destination of each kind, each named "orthanc"."""
    modality("ORTHANC", orthanc.dicom_port)
    DicomWebServer.objects.create(name="orthanc", url=f"{orthanc.url}/dicom-web/")
    OrthancPeer.objects.create(name="orthanc", url=f"{orthanc.url}/")
    yield orthanc
    for instance in orthanc.get("/instances"):
        orthanc.request(f"/instances/{instance}", "DELETE")


@pytest.mark.parametrize(
    "kind, job_type, address",
    [
        ("modality", "DicomModalityStore", "ORTHANC"),
        ("dicomweb", "DicomWebStowClient", "/dicom-web/"),
        ("peer", "OrthancPeerStore", "http://127.0.0.1:"),
    ],
)
def test_each_kind_sends_to_its_own_destination_of_the_same_name(
    browser, queue, orthanc_everywhere, kind, job_type, address
):
    store_ct()
    html = browser.get(f"/ui/studies/{CT_STUDY}").content.decode()
    assert [value for value, _ in options_of(html)] == ["", "modality:orthanc", "dicomweb:orthanc", "peer:orthanc"]
    confirm = card_of(browser.get(SEND_URL, {"destination": f"{kind}:orthanc"}))
    assert destinations.KINDS_BY_KEY[kind].label in confirm and address in confirm
    response = browser.post(SEND_URL, {"destination": f"{kind}:orthanc"})
    job = Job.objects.get()
    assert response["Location"] == f"/ui/jobs/{job.id}" and job.type == job_type
    [message] = messages_of(browser.get(response["Location"]))
    assert message.startswith("Sending study “e+1” to orthanc (") and address in message
    run_queued_jobs()
    job.refresh_from_db()
    assert job.state == "Success", job.error_details
    assert orthanc_everywhere.get(f"/instances/{CT_INSTANCE}")["MainDicomTags"]["SOPInstanceUID"] == CT_SOP_UID
    html = browser.get(f"/ui/jobs/{job.id}").content.decode()
    assert f'href="/ui/studies/{CT_STUDY}"' in html and "Success" in html
