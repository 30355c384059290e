"""Finding people and studies in a real browser (Playwright for Python driving Debian's
Chromium against pytest-django's live server, as tests/test_browser.py), at desktop width
and at a phone's 390 px: the patient name box (its hint, names typed in either order, `*`
inside a word), the lookup page's latest studies and their order, dates that are not DICOM
dates, a study's and a series' state, and Query/Retrieve against DCMTK's dcmqrscp (answers
already here marked "In Pharos", the instances a retrieve brought).

Skipped when /usr/bin/chromium is missing (failed under CI).
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from explorer.models import Study
from explorer.pages.formatting import NOT_DICOM_DATE
from tests import test_browser, test_browser_layout
from tests.conftest import CT_SMALL_IDS, dicom_bytes, run_queued_jobs
from tests.page_helpers import sample_with
from tests.test_browser import screenshot, store
from tests.test_browser_layout import audit, headings
from tests.test_browser_remote import wait_for_state
from tests.tools import CHROMIUM, needs_tool

# The browser fixtures of tests/test_browser.py, found here by name.
chromium, keeper, page, data = test_browser.chromium, test_browser.keeper, test_browser.page, test_browser.data
# The axe-core audit of tests/test_browser_layout.py, for the pages only a remote server leads to.
axe_script = test_browser_layout.axe_script
PHONE = {"width": 390, "height": 844}
WIDTHS = pytest.mark.parametrize("viewport", [test_browser.VIEWPORT, PHONE], ids=["desktop", "phone"])

pytestmark = [
    needs_tool(CHROMIUM),
    pytest.mark.django_db(transaction=True),
]


def store_german_names():
    """chrGerm.dcm (ISO_IR 100) as MÜLLER^JÜRGEN and as Müller^Jürgen, and as it is (Äneas^Rüdiger)."""
    for number, name in enumerate(("MÜLLER^JÜRGEN", "Müller^Jürgen")):
        store(sample_with("chrGerm.dcm", PatientName=name, PatientID=f"DE-{number}", StudyDescription=f"Study {name}"))
    store(dicom_bytes("chrGerm.dcm"))


def within_width(page, locator, viewport):
    """Whether an element is drawn inside the window's width (nothing to scroll sideways for)."""
    box = locator.bounding_box()
    return box is not None and box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]


def study_patients(page):
    return sorted(page.locator("table.list tbody tr td:nth-child(3)").all_inner_texts())


@WIDTHS
def test_a_name_is_found_in_either_order_and_with_a_star_inside_a_word(page, viewport):
    page.set_viewport_size(viewport)
    store_german_names()
    page.goto("/ui/")
    hint = page.locator("#id_patient_name_helptext")
    assert "Family^Given" in hint.inner_text() and hint.is_visible()
    assert page.get_attribute("#id_patient_name", "aria-describedby") == "id_patient_name_helptext"
    assert within_width(page, hint, viewport)
    if viewport is test_browser.VIEWPORT:
        screenshot(page, "lookup-name-hint")

    page.fill("#id_patient_name", "jürgen müller")
    page.press("#id_patient_name", "Enter")
    page.wait_for_url("**/ui/studies?*")
    assert study_patients(page) == ["MÜLLER, JÜRGEN", "Müller, Jürgen"]

    for typed, found in (("M*ller", 2), ("müller jürgen", 2), ("rüdiger äneas", 1), ("jurgen muller", 0)):
        page.fill("#id_patient_name", typed)
        with page.expect_navigation():
            page.press("#id_patient_name", "Enter")
        assert page.locator("table.list tbody tr").count() == found, typed


@WIDTHS
def test_latest_studies_say_their_order_and_mark_dates_that_are_not_dicom_dates(page, data, viewport):
    page.set_viewport_size(viewport)
    odd = store(sample_with("CT_small.dcm", StudyDate="2004.01.19", PatientID="OLD-DATE", StudyDescription="Old date"))
    page.goto("/ui/")
    heading = page.locator("#latest-title")
    assert heading.inner_text().endswith("by last received")
    rows = page.locator("section.latest tbody tr")
    assert "Old date" in rows.first.inner_text()  # the last one received
    odd_date = rows.first.locator(".noted")
    assert odd_date.get_attribute("title") == NOT_DICOM_DATE
    assert odd_date.locator(".value-mark").is_visible() and odd_date.locator(".value-mark").inner_text() == "?"
    assert odd_date.inner_text().startswith("2004.01.19")
    order = page.locator("nav.latest-order")
    assert within_width(page, order, viewport)
    assert order.locator("[aria-current]").inner_text() == "last received"

    order.locator("text=study date").click()
    page.wait_for_url("**/ui/?latest=date")
    assert page.locator("#latest-title").inner_text().endswith("by study date")
    assert "Head CT and MR" in page.locator("section.latest tbody tr").first.inner_text()  # 15 Mar 2024
    assert page.locator("nav.latest-order [aria-current]").inner_text() == "study date"

    # The study's own page shows the date as written, marked too.
    page.goto(f"/ui/studies/{odd[1]}")
    date = page.locator(".module.current dd", has_text="2004.01.19")
    assert date.locator(".noted").get_attribute("title") == NOT_DICOM_DATE
    assert date.locator(".value-mark").is_visible()


@WIDTHS
def test_study_and_series_pages_say_whether_they_are_stable(page, viewport, settings):
    page.set_viewport_size(viewport)
    settings.PHAROS_STABLE_AGE = 60
    store(dicom_bytes("CT_small.dcm"))
    page.goto(f"/ui/studies/{CT_SMALL_IDS['study']}")
    state = page.locator(".module.current div", has=page.locator("dt", has_text="State"))
    assert state.locator("dd").inner_text().startswith("Receiving")
    assert "less than 60 seconds" in state.locator(".noted").get_attribute("title")
    received = page.locator(".module.current div", has=page.locator("dt", has_text="Last instance received"))
    assert received.locator("dd").inner_text().strip()
    assert within_width(page, state, viewport)

    Study.objects.filter(public_id=CT_SMALL_IDS["study"]).update(last_update=timezone.now() - timedelta(hours=1))
    page.reload()
    assert state.locator("dd").inner_text().startswith("Stable")

    page.goto(f"/ui/series/{CT_SMALL_IDS['series']}")
    status = page.locator(".module.current div", has=page.locator("dt", has_text="Status")).locator(".noted")
    assert status.inner_text().startswith("Unknown")
    assert "do not say how many instances" in status.get_attribute("title")
    # The same words reach a screen reader, not only a mouse pointer.
    assert "do not say how many instances" in status.locator(".visually-hidden").text_content()
    assert page.locator(".module.current dt", has_text="Last instance received").is_visible()
    if viewport is test_browser.VIEWPORT:
        screenshot(page, "series-state")


@WIDTHS
def test_answers_already_here_are_marked_and_a_retrieve_counts_what_arrived(
    page, queue, dcmqrscp, viewport, axe_script
):
    page.set_viewport_size(viewport)
    store(dicom_bytes("CT_small.dcm"))  # the CT study is here already, the MR one is not
    page.goto("/ui/query-retrieve")
    page.select_option("#id_server", f"modality:{dcmqrscp.name}")
    page.fill("#id_patient_name", "Compressed*")
    page.press("#id_patient_name", "Enter")
    page.wait_for_url("**/ui/queries/*")
    answers_url = page.url
    # The answers and the finished job are pages the layout's audit cannot reach without a
    # remote server: audited here (axe-core, one <h1>).
    problems = [f"answers: {problem}" for problem in audit(page, axe_script)]
    assert len(headings(page)) == 1
    ct_row = page.locator("table.remote-answers tbody tr", has_text="1CT1")
    mr_row = page.locator("table.remote-answers tbody tr", has_text="4MR1")
    assert (
        ct_row.locator("a.status", has_text="In Pharos").get_attribute("href") == f"/ui/studies/{CT_SMALL_IDS['study']}"
    )
    assert mr_row.locator("text=In Pharos").count() == 0

    mr_row.locator("text=Retrieve…").click()
    page.locator("#retrieve-dialog button[type=submit]").click()
    page.wait_for_url("**/ui/jobs/*")
    run_queued_jobs()  # here in the test thread; the page reloads itself when the job ends
    wait_for_state(page, "Success")
    arrived = page.locator("[data-job-arrived]")
    arrived.wait_for()
    assert arrived.inner_text() == "1 instance arrived in Pharos."
    assert within_width(page, arrived, viewport)
    problems += [f"finished retrieve: {problem}" for problem in audit(page, axe_script)]
    assert not problems, "\n".join(problems)

    page.goto(answers_url)
    assert mr_row.locator("a.status", has_text="In Pharos").count() == 1
    mr_row.locator("a.status", has_text="In Pharos").click()
    page.wait_for_url("**/ui/studies/*")
    assert "MR" in page.locator("main").inner_text()
