"""The explorer in a real browser: Playwright for Python driving Debian's Chromium against
pytest-django's live server. Logs in through the form, browses from a patient down to an
instance, opens sequences of the tag tree, checks that pictures really load, deletes a
series, jumps by identifier, and leaves screenshots of the main pages in docs/screenshots/.

Only the Python package comes from PyPI: the browser is the system's (/usr/bin/chromium),
never one downloaded by `playwright install`. Without it the tests are skipped (and fail under CI).
"""

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from explorer.ingest import Origin, store_instance
from tests.conftest import CT_SMALL_IDS, dicom_bytes, sample_path
from tests.tools import CHROMIUM, needs_tool

CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}
SCREENSHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
PASSWORD = "lighthouse-keeper"
TIMEOUT_MS = 15_000

pytestmark = [
    needs_tool(CHROMIUM),
    pytest.mark.django_db(transaction=True),
]


# ---------------------------------------------------------------- data


def store(data):
    return store_instance(data, Origin("RestApi", username="keeper")).ids


def derived(sample, count, **tags):
    """`count` instances made from a sample file's pixels (shifted a little each time, so that
    scrolling shows movement), one new series of a given study."""
    series_uid = generate_uid()
    for number in range(1, count + 1):
        dataset = pydicom.dcmread(sample_path(sample))
        for keyword, value in tags.items():
            setattr(dataset, keyword, value)
        dataset.SeriesInstanceUID = series_uid
        dataset.SOPInstanceUID = generate_uid()
        dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
        dataset.InstanceNumber = number
        pixels = np.roll(dataset.pixel_array, shift=(number - 1) * 6, axis=1)
        dataset.PixelData = pixels.astype(dataset.pixel_array.dtype).tobytes()
        out = io.BytesIO()
        dataset.save_as(out, enforce_file_format=True)
        ids = store(out.getvalue())
    return ids


def store_demo_data():
    """The pydicom samples, and a head study of two image series and a plan without pixels."""
    samples = {
        name: store(dicom_bytes(name)) for name in ("CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "emri_small.dcm")
    }
    study = {
        "PatientID": "BRAIN-1",
        "PatientName": "Doe^Jane",
        "PatientBirthDate": "19700402",
        "PatientSex": "F",
        "StudyInstanceUID": generate_uid(),
        "StudyDescription": "Head CT and MR",
        "StudyDate": "20240315",
        "StudyTime": "101500",
        "AccessionNumber": "ACC-42",
    }
    ct = derived("CT_small.dcm", 7, SeriesNumber=2, SeriesDescription="Axial 5 mm", **study)
    mr = derived("MR_small.dcm", 4, SeriesNumber=1, SeriesDescription="T1 localizer", **study)
    return {"samples": samples, "patient": ct[0], "study": ct[1], "ct_series": ct[2], "mr_series": mr[2]}


# ---------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def chromium(django_db_setup):
    """One browser for this module, started after the test database exists.

    Playwright's sync API keeps an event loop registered on this thread while it runs,
    which makes Django refuse ORM calls here (SynchronousOnlyOperation). This thread only
    prepares and checks data while the live server works in its own, so the check is
    lifted for this module alone, and the browser stops before other modules run.
    """
    from playwright.sync_api import sync_playwright

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()


@pytest.fixture
def data(chromium, transactional_db):
    return store_demo_data()


@pytest.fixture
def keeper(chromium, django_user_model):
    # every right, without the staff status whose links the screenshots would show
    return django_user_model.objects.create_user("keeper", password=PASSWORD, is_superuser=True)


@pytest.fixture
def page(chromium, live_server, keeper):
    """A fresh browser tab, logged in through the login form."""
    context = chromium.new_context(viewport=VIEWPORT, base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    tab.goto("/ui/")
    assert "/login/" in tab.url  # anonymous: sent to the login page
    tab.fill("#id_username", "keeper")
    tab.fill("#id_password", PASSWORD)
    tab.click("button[type=submit]")
    tab.wait_for_url("**/ui/")
    yield tab
    context.close()


def image_loaded(page, selector):
    """Wait until the <img> has really arrived and been decoded (naturalWidth > 0)."""
    page.wait_for_function(
        "selector => { const img = document.querySelector(selector); "
        "return img && img.complete && img.naturalWidth > 0; }",
        arg=selector,
    )
    return page.evaluate("selector => document.querySelector(selector).naturalWidth", selector)


def screenshot(page, name):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))


# ---------------------------------------------------------------- tests


def test_a_wrong_password_is_refused(chromium, live_server, keeper):
    context = chromium.new_context(viewport=VIEWPORT, base_url=live_server.url)
    tab = context.new_page()
    tab.goto("/ui/patients")
    tab.fill("#id_username", "keeper")
    tab.fill("#id_password", "wrong")
    tab.click("button[type=submit]")
    assert tab.locator("text=did not match").is_visible()
    context.close()


def test_browse_from_a_patient_down_to_an_instance(page, data):
    page.click("nav.mainnav >> text=Patients")
    page.wait_for_url("**/ui/patients")
    assert page.locator("table.list tbody tr").count() == 5
    screenshot(page, "patients")

    page.click("text=CompressedSamples, CT1")
    page.wait_for_url(f"**/ui/patients/{CT_SMALL_IDS['patient']}")
    assert page.locator(".module-title").first.inner_text() == "CompressedSamples, CT1"

    page.click("a.row-link >> text=e+1")
    page.wait_for_url(f"**/ui/studies/{CT_SMALL_IDS['study']}")
    assert image_loaded(page, ".series-card img") > 0

    page.click(".series-card")
    page.wait_for_url(f"**/ui/series/{CT_SMALL_IDS['series']}")
    assert image_loaded(page, "[data-scroller-image]") == 128

    page.click("a.row-link")
    page.wait_for_url(f"**/ui/instances/{CT_SMALL_IDS['instance']}")
    levels = [text.strip().lower() for text in page.locator(".breadcrumbs .crumb-level").all_inner_texts()]
    assert levels == ["patient", "study", "series", "instance"]
    assert image_loaded(page, "[data-preview]") == 128

    # A sequence opens to show its items.
    sequence = page.locator("details", has=page.locator("summary", has_text="OtherPatientIDsSequence"))
    nested = sequence.locator(".item .tag-row").first
    assert not nested.is_visible()
    sequence.locator("summary").click()
    assert nested.is_visible()
    assert sequence.locator(".item-label").count() == 2


def test_the_tag_tree_tools(page, data):
    page.goto(f"/ui/instances/{data['samples']['rtplan.dcm'][3]}")
    # No pixels: the placeholder picture, not a broken image.
    assert image_loaded(page, "[data-preview]") == 256
    page.click("text=Expand all")
    assert page.locator("[data-tag-tree] details:not([open])").count() == 0
    page.click("text=Collapse all")
    assert page.locator("[data-tag-tree] details[open]").count() == 0
    # Filtering finds a tag inside a sequence and opens the sequence around it.
    page.fill("[data-tag-filter]", "ControlPointIndex")
    match = page.locator(".tag-row", has_text="ControlPointIndex").first
    assert match.is_visible()
    assert not page.locator(".tag-row", has_text="PatientName").first.is_visible()


def test_the_series_scroller(page, data):
    page.goto(f"/ui/series/{data['ct_series']}")
    image = page.locator("[data-scroller-image]")
    image_loaded(page, "[data-scroller-image]")
    assert page.locator("[data-scroller-label]").inner_text() == "Instance 4 · 4 / 7"
    first_src = image.get_attribute("src")
    page.focus("[data-scroller-range]")
    page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "src => document.querySelector('[data-scroller-image]').getAttribute('src') !== src", arg=first_src
    )
    assert page.locator("[data-scroller-label]").inner_text() == "Instance 5 · 5 / 7"
    assert image_loaded(page, "[data-scroller-image]") == 128
    assert page.locator("[data-scroller-link]").get_attribute("href").startswith("/ui/instances/")


def test_cine_plays_the_frames_of_a_multi_frame_instance(page, data):
    page.goto(f"/ui/instances/{data['samples']['emri_small.dcm'][3]}")
    image_loaded(page, "[data-preview]")
    page.click("[data-cine-play]")
    page.wait_for_function("() => /frames\\/[1-9]\\/rendered/.test(document.querySelector('[data-preview]').src)")
    assert page.locator("[data-cine-play]").inner_text() == "Pause"
    page.click("[data-cine-play]")
    assert page.locator("[data-cine-play]").get_attribute("aria-pressed") == "false"
    assert image_loaded(page, "[data-preview]") == 64


def test_delete_a_series_through_the_ui(page, data):
    from explorer.models import Series

    page.goto(f"/ui/series/{data['mr_series']}")
    page.click("text=Delete this series…")
    dialog = page.locator("#delete-dialog")
    assert dialog.is_visible()
    dialog.locator("text=Cancel").click()
    assert not dialog.is_visible()
    page.click("text=Delete this series…")
    dialog.locator("button[type=submit]").click()
    page.wait_for_url(f"**/ui/studies/{data['study']}")
    assert "was deleted" in page.locator(".messages").inner_text()
    assert page.locator(".series-card").count() == 1
    assert not Series.objects.filter(public_id=data["mr_series"]).exists()


def test_lookup_by_accession_number_and_uid(page, data):
    page.fill("#id_q", "ACC-42")
    page.press("#id_q", "Enter")
    page.wait_for_url(f"**/ui/studies/{data['study']}")

    page.click("nav.mainnav >> text=Lookup")
    page.fill("#id_q", "1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322")  # CT_small's SeriesInstanceUID
    page.press("#id_q", "Enter")
    page.wait_for_url(f"**/ui/series/{CT_SMALL_IDS['series']}")

    page.click("nav.mainnav >> text=Lookup")
    page.fill("#id_q", "nothing-like-this")
    page.press("#id_q", "Enter")
    assert page.locator("text=Nothing here is identified by").is_visible()


def test_the_lookup_form_finds_studies(page, data):
    page.fill("#id_patient_name", "doe")
    page.select_option("#id_study_date", "range")
    assert page.locator("[data-date-range]").is_visible()
    page.fill("#id_date_from", "2024-03-01")
    page.click("text=Search studies")
    page.wait_for_url("**/ui/studies?**")
    rows = page.locator("table.list tbody tr")
    assert rows.count() == 1
    assert "Head CT and MR" in rows.first.inner_text()
    # Sorting keeps the filters.
    page.click("a.sort >> text=Patient ID")
    assert "patient_name=doe" in page.url and "sort=patientid" in page.url


def test_screenshots_of_the_main_pages(page, data):
    page.goto("/ui/")
    page.wait_for_load_state("networkidle")
    screenshot(page, "lookup")
    page.goto("/ui/studies")
    screenshot(page, "studies")
    page.goto(f"/ui/patients/{data['patient']}")
    screenshot(page, "patient")
    page.goto(f"/ui/studies/{data['study']}")
    for index in range(1, page.locator(".series-card img").count() + 1):
        image_loaded(page, f".series-list li:nth-child({index}) img")
    page.wait_for_load_state("networkidle")
    screenshot(page, "study")
    page.goto(f"/ui/series/{data['ct_series']}")
    image_loaded(page, "[data-scroller-image]")
    screenshot(page, "series")
    page.goto(f"/ui/instances/{CT_SMALL_IDS['instance']}")
    image_loaded(page, "[data-preview]")
    screenshot(page, "instance")
    for name in ("lookup", "patients", "studies", "patient", "study", "series", "instance"):
        path = SCREENSHOTS / f"{name}.png"
        if path.exists():
            assert path.stat().st_size < 400_000, name
