"""The network pages in a real browser (Playwright for Python driving Debian's Chromium
against pytest-django's live server, as tests/test_browser.py): upload files through the
file input, send a study to a pynetdicom storage SCP and watch its job reach 100% while a
real RQ worker runs it, query DCMTK's dcmqrscp and retrieve a study into our own DICOM
server, and the jobs list. Screenshots go to docs/screenshots/ (upload, send, query-retrieve,
query-answers, retrieve, job, jobs).

Skipped when /usr/bin/chromium is missing (failed under CI).
"""

import subprocess
import sys

import pytest

from dicomnet.models import Job
from explorer.models import Instance
from tests import test_browser
from tests.conftest import CT_SMALL_IDS, dicom_bytes, run_queued_jobs, sample_path
from tests.dicom_peers import free_port, modality
from tests.test_api_remote import ROOT, worker_environment
from tests.test_browser import SCREENSHOTS, screenshot, store
from tests.tools import CHROMIUM, needs_tool

# The browser fixtures of tests/test_browser.py, found here by name.
chromium, keeper, page = test_browser.chromium, test_browser.keeper, test_browser.page
CT_SOP_UID = "1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"

pytestmark = [
    needs_tool(CHROMIUM),
    pytest.mark.django_db(transaction=True),
]


def run_worker():
    """A real worker process (`manage.py rqworker default --burst`): runs what is queued, then exits."""
    worker = subprocess.run(
        [sys.executable, "manage.py", "rqworker", "default", "--burst"],
        cwd=ROOT, env=worker_environment(), capture_output=True, text=True, timeout=120,
    )
    assert worker.returncode == 0, worker.stdout + worker.stderr


def wait_for_state(page, state):
    """The job page reloads itself when its job changes state; wait for the one wanted."""
    page.wait_for_selector(f"[data-job][data-job-state='{state}']", timeout=30_000)


def send_study(page, destination, screenshot_name=None):
    """The study page's Send control, then its confirmation: lands on the job's page."""
    page.goto(f"/ui/studies/{CT_SMALL_IDS['study']}")
    page.select_option("#send_destination", destination)
    if screenshot_name:
        screenshot(page, screenshot_name)
    page.click(".send-form button[type=submit]")
    page.click("form.buttons button[type=submit]")
    page.wait_for_url("**/ui/jobs/*")


def wait_for_summary(page, text):
    """The three uploads at a time answer in any order: wait for the whole count."""
    page.wait_for_function("text => document.querySelector('[data-upload-summary]').textContent === text", arg=text)


def test_upload_files_by_drag_and_drop(page):
    import base64

    page.click("nav.mainnav >> text=Upload")
    page.wait_for_url("**/ui/upload")
    payload = base64.b64encode(dicom_bytes("MR_small.dcm")).decode()
    page.evaluate(
        """(payload) => {
            const bytes = Uint8Array.from(atob(payload), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "dropped.dcm", {type: "application/dicom"}));
            document.body.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true}));
        }""",
        payload,
    )
    page.wait_for_selector("[data-upload-pending]:has-text('1 file')")
    page.click("text=Start the upload")
    wait_for_summary(page, "1 stored, 0 already stored, 0 rejected")
    assert Instance.objects.count() == 1


def test_upload_files_with_the_file_input(page, tmp_path):
    page.click("nav.mainnav >> text=Upload")
    page.wait_for_url("**/ui/upload")
    page.set_input_files("#upload-files", [sample_path("CT_small.dcm"), sample_path("MR_small.dcm")])
    assert page.locator("[data-upload-pending]").inner_text().startswith("2 files ready")
    page.click("text=Start the upload")
    wait_for_summary(page, "2 stored, 0 already stored, 0 rejected")
    rows = page.locator("[data-upload-results] tr")
    assert rows.count() == 2
    assert sorted(rows.locator("td.file-name").all_inner_texts()) == ["CT_small.dcm", "MR_small.dcm"]
    assert Instance.objects.count() == 2
    assert page.locator("[data-upload-progress-text]").inner_text() == "100%"

    # A second round: the same file again, and one that is not DICOM, each with its result.
    notes = tmp_path / "notes.txt"
    notes.write_text("not a DICOM file")
    page.set_input_files("#upload-files", [sample_path("CT_small.dcm"), str(notes)])
    page.click("text=Start the upload")
    wait_for_summary(page, "2 stored, 1 already stored, 1 rejected")
    rejected = page.locator("[data-upload-results] tr", has_text="notes.txt")
    assert "Rejected" in rejected.inner_text() and "DICOM" in rejected.inner_text()
    screenshot(page, "upload")
    # Each stored file links to its study.
    page.locator("[data-upload-results] tr", has_text="CT_small.dcm").first.locator("text=Open the study").click()
    page.wait_for_url(f"**/ui/studies/{CT_SMALL_IDS['study']}")


def test_send_a_study_to_a_storage_scp_and_watch_the_job(page, queue, collector):
    store(dicom_bytes("CT_small.dcm"))
    modality("COLLECTOR", collector.port)
    send_study(page, "modality:collector", screenshot_name="send")
    assert "Sending study" in page.locator(".messages").inner_text()
    assert page.locator("[data-job-state-label]").inner_text() == "Pending"

    run_worker()  # a real worker process, started after the click; the page polls GET /jobs/{id}
    wait_for_state(page, "Success")
    assert page.locator("[data-job-progress]").inner_text() == "100%"
    assert page.locator("[data-job-counts]").inner_text().strip() == "1"
    assert [dataset.SOPInstanceUID for _, dataset in collector.received] == [CT_SOP_UID]
    screenshot(page, "job")


def test_query_and_retrieve_a_study(page, queue, dcmqrscp):
    page.click("nav.mainnav >> text=Query/Retrieve")
    page.wait_for_url("**/ui/query-retrieve")
    page.select_option("#id_server", f"modality:{dcmqrscp.name}")
    page.click("text=Test the connection (echo)")
    assert "answered the echo" in page.locator(".messages").inner_text()

    page.fill("#id_patient_name", "Compressed*")
    page.locator("label.check", has_text="CT").click()
    page.locator("label.check", has_text="MR").click()
    screenshot(page, "query-retrieve")
    page.press("#id_patient_name", "Enter")  # Enter searches (echo is the second button)
    page.wait_for_url("**/ui/queries/*")
    rows = page.locator("table.remote-answers tbody tr")
    assert rows.count() == 2
    screenshot(page, "query-answers")

    ct_row = rows.filter(has_text="1CT1")
    ct_row.locator("text=Series").click()
    page.wait_for_url("**/ui/queries/*?from=*")
    assert page.locator("table.remote-answers tbody tr").count() == 1
    assert "CT" in page.locator("table.remote-answers tbody tr").inner_text()
    page.click(".breadcrumbs >> text=Studies on qrscp")

    page.locator("table.remote-answers tbody tr", has_text="1CT1").locator("text=Retrieve…").click()
    dialog = page.locator("#retrieve-dialog")
    assert dialog.is_visible()
    assert dialog.locator("input[name=target_aet]").input_value() == "PHAROS"
    screenshot(page, "retrieve")
    dialog.locator("button[type=submit]").click()
    page.wait_for_url("**/ui/jobs/*")
    assert "Retrieve (C-MOVE)" in page.locator("h1").inner_text()

    run_queued_jobs()  # here in the test thread; the page's polling sees the end
    wait_for_state(page, "Success")
    assert page.locator("[data-job-progress]").inner_text() == "100%"
    assert Instance.objects.filter(sop_instance_uid=CT_SOP_UID).exists()
    page.click("text=Study: e+1")
    page.wait_for_url(f"**/ui/studies/{CT_SMALL_IDS['study']}")


def test_the_jobs_page_shows_progress(page, queue, collector):
    store(dicom_bytes("CT_small.dcm"))
    store(dicom_bytes("MR_small.dcm"))
    modality("COLLECTOR", collector.port)
    modality("OFFLINE", free_port())
    for target in ("collector", "offline"):
        send_study(page, f"modality:{target}")
    # Off the job's page first: it reloads itself when the worker changes the job's state.
    page.goto(f"/ui/studies/{CT_SMALL_IDS['study']}")
    run_worker()
    # One more, still waiting for a worker: the list polls it.
    send_study(page, "modality:collector")

    page.click("nav.mainnav >> text=Jobs")
    page.wait_for_url("**/ui/jobs")
    rows = page.locator("table.jobs tbody tr")
    assert rows.count() == 3
    assert [rows.nth(i).get_attribute("data-job-state") for i in range(3)] == ["Pending", "Failure", "Success"]
    assert rows.nth(2).locator("[data-job-progress]").inner_text() == "100%"
    assert "connecting to AET" in rows.nth(1).inner_text()
    screenshot(page, "jobs")

    # The pending one runs now; the list follows it to the end.
    run_queued_jobs()
    page.wait_for_function("() => document.querySelector('table.jobs tbody tr').dataset.jobState === 'Success'")
    assert page.locator("table.jobs tbody tr").first.locator("[data-job-progress]").inner_text() == "100%"
    # The failed one can be resubmitted from the list.
    page.locator("table.jobs tbody tr", has_text="connecting to AET").locator("button", has_text="Resubmit").click()
    page.wait_for_url("**/ui/jobs")
    assert "queued again" in page.locator(".messages").inner_text()
    assert Job.objects.filter(state="Pending").count() == 1
    for name in ("upload", "send", "query-retrieve", "query-answers", "retrieve", "job", "jobs"):
        path = SCREENSHOTS / f"{name}.png"
        if path.exists():
            assert path.stat().st_size < 400_000, name
