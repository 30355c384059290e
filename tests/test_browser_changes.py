"""Modify and Anonymize in a real browser (Playwright driving Debian's Chromium against the
live server, as tests/test_browser.py): anonymize a study from its page, follow the job to
the new study; change a study's patient name through the form and its confirmation step; and
the form at a phone's width. Leaves docs/screenshots/modify.png.

The jobs run in this thread (a burst worker), after the click; the job's page notices the end
by itself and offers the new study.
"""

import pytest

from tests import test_browser
from tests.conftest import run_queued_jobs
from tests.test_browser import screenshot
from tests.tools import CHROMIUM, needs_tool

# The browser fixtures of tests/test_browser.py, found here by name.
chromium, keeper, page, data = test_browser.chromium, test_browser.keeper, test_browser.page, test_browser.data
PHONE = {"width": 390, "height": 844}

pytestmark = [
    needs_tool(CHROMIUM),
    pytest.mark.django_db(transaction=True),
]


def finish_job_and_open_the_result(page):
    """On a job's page: run the job, wait for the page to show it done, open what it made."""
    page.wait_for_url("**/ui/jobs/*")
    run_queued_jobs()
    page.wait_for_selector("[data-job][data-job-state='Success']", timeout=30_000)
    page.click("[data-job-result]")
    page.wait_for_url("**/ui/studies/*")


def patient_name_shown(page):
    return page.locator(".module", has_text="Patient").first.locator(".module-title").inner_text()


def test_anonymize_a_study_and_open_the_result(page, data, queue):
    page.goto(f"/ui/studies/{data['study']}")
    page.click("text=Anonymize this study…")
    dialog = page.locator("#anonymize-dialog")
    assert dialog.is_visible()
    assert dialog.locator("input[name=keep_source]").is_checked()
    assert not dialog.locator("input[name=keep_private_tags]").is_checked()
    dialog.locator("button[type=submit]").click()
    assert "Anonymizing study" in page.locator(".messages").inner_text()
    finish_job_and_open_the_result(page)
    assert page.url.rstrip("/").split("/")[-1] != data["study"]
    assert patient_name_shown(page).startswith("Anonymized")
    # The source was kept.
    page.goto(f"/ui/studies/{data['study']}")
    assert patient_name_shown(page) == "Doe, Jane"


def test_modify_the_patient_name_of_a_study(page, data, queue):
    page.goto(f"/ui/studies/{data['study']}")
    page.click("text=Modify this study…")
    page.wait_for_url(f"**/ui/studies/{data['study']}/modify")
    name = page.locator("input[name=tag_PatientName]")
    assert name.input_value() == "Doe^Jane"
    name.fill("Doe^Janet")
    screenshot(page, "modify")
    page.fill("input[name=add_keyword]", "PatientsNmae")
    page.click("text=Review the changes…")
    assert "not a DICOM keyword" in page.locator(".tag-edits", has_text="Other tags").inner_text()
    page.fill("input[name=add_keyword]", "")
    page.uncheck("input[name=keep_source]")
    page.click("text=Review the changes…")
    change = page.locator("tr[data-change=PatientName]")
    assert "Doe^Jane" in change.inner_text() and "Doe^Janet" in change.inner_text()
    assert "the original is then deleted" in page.locator(".confirm").inner_text()
    page.click("button[name=confirm]")
    finish_job_and_open_the_result(page)
    assert page.locator(".module.current .module-title").inner_text() == "Head CT and MR"
    # The files carry the new name. (The patient's module keeps the name its row was made
    # with: as in Orthanc, the PatientID is unchanged, so the instances join the same patient.)
    page.click(".series-card >> nth=0")
    page.click("a.row-link >> nth=0")
    page.wait_for_url("**/ui/instances/*")
    assert "Doe^Janet" in page.locator(".tag-row", has_text="PatientName").first.inner_text()


@pytest.mark.parametrize("viewport", [test_browser.VIEWPORT, PHONE], ids=["desktop", "phone"])
def test_the_forms_fit_the_screen(page, data, viewport):
    page.set_viewport_size(viewport)
    page.goto(f"/ui/studies/{data['study']}/modify")
    overflow = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    assert page.evaluate(overflow) <= 0
    for selector in ("input[name=tag_PatientName]", "input[name=add_keyword]", "text=Review the changes…"):
        box = page.locator(selector).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], selector
    page.goto(f"/ui/studies/{data['study']}")
    page.click("text=Anonymize this study…")
    submit = page.locator("#anonymize-dialog button[type=submit]").bounding_box()
    assert submit["x"] + submit["width"] <= viewport["width"]
    page.locator("#anonymize-dialog").locator("text=Cancel").click()
    page.click("text=Download ZIP as…")
    link = page.locator(".download-as a", has_text="JPEG-LS lossless")
    assert link.get_attribute("href").endswith("/archive?transcode=1.2.840.10008.1.2.4.80")
    assert link.is_visible()
