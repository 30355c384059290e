"""The "Send" control and Query/Retrieve over DICOMweb in a real browser (Playwright driving
Debian's Chromium against pytest-django's live server, as tests/test_browser.py), with a real
Orthanc (tests/reference_orthanc.py) as the DICOMweb server, the peer and the modality: nothing
is chosen before the user chooses, the choice is confirmed on its own page, the job runs; and a
DICOMweb server is searched and a study retrieved from it. Screenshots go to docs/screenshots/
(send-confirm, query-dicomweb).

Skipped when /usr/bin/chromium is missing (failed under CI).
"""

import pytest

from dicomnet.models import DicomWebServer, OrthancPeer
from explorer.models import Instance
from tests import test_browser
from tests.conftest import CT_SMALL_IDS, dicom_bytes, run_queued_jobs
from tests.dicom_peers import modality
from tests.reference_orthanc import ReferenceOrthanc
from tests.test_browser import screenshot, store
from tests.tools import CHROMIUM, needs_tool

# The browser fixtures of tests/test_browser.py, found here by name.
chromium, keeper, page = test_browser.chromium, test_browser.keeper, test_browser.page
CT_SOP_UID = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"

pytestmark = [
    needs_tool(CHROMIUM),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    with ReferenceOrthanc(tmp_path_factory.mktemp("orthanc")) as running:
        yield running


@pytest.fixture
def destinations(orthanc):
    modality("ORTHANC", orthanc.dicom_port)
    DicomWebServer.objects.create(name="orthanc-web", url=f"{orthanc.url}/dicom-web/")
    OrthancPeer.objects.create(name="orthanc-peer", url=f"{orthanc.url}/")
    yield orthanc
    for instance in orthanc.get("/instances"):
        orthanc.request(f"/instances/{instance}", "DELETE")


def wait_for_state(page, state):
    page.wait_for_selector(f"[data-job][data-job-state='{state}']", timeout=30_000)


def test_send_a_study_after_choosing_and_confirming(page, queue, destinations):
    store(dicom_bytes("CT_small.dcm"))
    page.goto(f"/ui/studies/{CT_SMALL_IDS['study']}")
    control = page.locator("#send_destination")
    assert control.input_value() == ""  # nothing chosen for the user
    groups = page.locator("#send_destination optgroup").evaluate_all("groups => groups.map(g => g.label)")
    assert groups == ["DICOM modalities", "DICOMweb servers", "Orthanc peers"]
    # Without a choice the browser keeps the form: the list is required.
    page.click(".send-form button[type=submit]")
    assert "/send" not in page.url and not control.evaluate("select => select.validity.valid")

    control.select_option("dicomweb:orthanc-web")
    page.click(".send-form button[type=submit]")
    page.wait_for_url("**/send?destination=dicomweb*")
    card = page.locator("section.confirm").text_content()
    assert "Send this study?" in card and "DICOMweb server" in card and f"{destinations.url}/dicom-web/" in card
    assert not destinations.get("/instances")  # nothing sent yet
    screenshot(page, "send-confirm")
    page.click("text=Send to orthanc-web")
    page.wait_for_url("**/ui/jobs/*")
    assert "Sending study “e+1” to orthanc-web" in page.locator(".messages").inner_text()

    run_queued_jobs()  # here in the test thread; the page's polling sees the end
    wait_for_state(page, "Success")
    assert "Send to a DICOMweb server" in page.locator("h1").inner_text()
    [instance] = destinations.get("/instances")
    assert destinations.get(f"/instances/{instance}")["MainDicomTags"]["SOPInstanceUID"] == CT_SOP_UID


def test_search_a_dicomweb_server_and_retrieve_a_study(page, queue, destinations):
    destinations.upload(dicom_bytes("CT_small.dcm"))
    destinations.upload(dicom_bytes("MR_small.dcm"))
    page.click("nav.mainnav >> text=Query/Retrieve")
    page.wait_for_url("**/ui/query-retrieve")
    assert page.locator("#id_server").input_value() == ""
    page.select_option("#id_server", "dicomweb:orthanc-web")
    page.click("text=Test the connection (echo)")
    assert "orthanc-web" in (said := page.locator(".messages").inner_text()) and "answered the echo" in said

    page.fill("#id_patient_name", "Compressed*")
    page.press("#id_patient_name", "Enter")
    page.wait_for_url("**/ui/query-retrieve/dicomweb/orthanc-web?*")
    rows = page.locator("table.remote-answers tbody tr")
    assert rows.count() == 2
    screenshot(page, "query-dicomweb")

    rows.filter(has_text="1CT1").locator("text=Retrieve…").click()
    dialog = page.locator("#retrieve-dialog")
    assert dialog.is_visible() and "over DICOMweb" in dialog.inner_text()
    assert dialog.locator("input[name=target_aet]").count() == 0
    dialog.locator("button[type=submit]").click()
    page.wait_for_url("**/ui/jobs/*")
    assert "Retrieve (WADO-RS)" in page.locator("h1").inner_text()

    run_queued_jobs()
    wait_for_state(page, "Success")
    assert Instance.objects.filter(sop_instance_uid=CT_SOP_UID).exists()
    page.click("text=Study: e+1")
    page.wait_for_url(f"**/ui/studies/{CT_SMALL_IDS['study']}")
