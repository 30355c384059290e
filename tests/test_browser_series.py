"""Long series and looking at images, in a real browser (Playwright driving Debian's Chromium
against pytest-django's live server, as tests/test_browser.py), at a desktop's width and at a
phone's (390 px): the filter boxes of a patient's studies, a study's series and a series'
instances; a 200-slice series paged, stepped instance by instance and by the keyboard; the
window presets, kept while the viewer steps; a 1841 × 1955 radiograph from pydicom-data shown
scaled down, its full size a click away. A screenshot goes to docs/screenshots/series-presets.png.

Skipped when /usr/bin/chromium is missing (failed under CI).
"""

import io

import numpy as np
import pydicom
import pytest
from pydicom.uid import generate_uid

from tests import test_browser
from tests.conftest import make_dicom, make_image, sample_path
from tests.test_browser import image_loaded, screenshot, store
from tests.tools import CHROMIUM, needs_tool

# The browser fixtures of tests/test_browser.py, found here by name.
chromium, keeper, page = test_browser.chromium, test_browser.keeper, test_browser.page

pytestmark = [
    needs_tool(CHROMIUM),
    pytest.mark.django_db(transaction=True),
]

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
SLICES = 200
LUNG = "window-center=-600&window-width=1500"
PATIENT = {"PatientID": "LONG-1", "PatientName": "Long^Series", "PatientBirthDate": "19600101"}


def slice_bytes(number, **tags):
    """A 32 × 32 CT slice in Hounsfield units (-1024 to about 1000), a little different each time."""
    ramp = np.add.outer(np.arange(32), np.arange(32)) * 32 + number
    return make_image(
        32,
        ramp.astype(np.uint16).tobytes(),
        Modality="CT",
        RescaleIntercept="-1024",
        RescaleSlope="1",
        WindowCenter="40",
        WindowWidth="400",
        InstanceNumber=str(number),
        **tags,
    )


@pytest.fixture
def long_study(chromium, transactional_db):
    """A patient of two studies: a 2024 chest study of a 200-slice CT series (stored last slice
    first) and a radiograph (pydicom-data's RG1_UNCR.dcm, 1841 × 1955), and a 2023 head MR."""
    study = {**PATIENT, "StudyInstanceUID": generate_uid(), "StudyDescription": "Chest CT", "StudyDate": "20240315"}
    series = {**study, "SeriesInstanceUID": generate_uid(), "SeriesNumber": "2", "SeriesDescription": "Axial 1 mm"}
    for number in range(SLICES, 0, -1):
        ct = store(slice_bytes(number, **series))
    radiograph = pydicom.dcmread(sample_path("RG1_UNCR.dcm"))
    for keyword, value in {**study, "SeriesInstanceUID": generate_uid(), "SeriesNumber": "1"}.items():
        setattr(radiograph, keyword, value)
    radiograph.SeriesDescription = "Chest PA"
    out = io.BytesIO()
    radiograph.save_as(out)
    cr = store(out.getvalue())
    head = store(make_dicom(**PATIENT, StudyDescription="Head MR", StudyDate="20230105", Modality="MR"))
    return {"patient": ct[0], "study": ct[1], "ct_series": ct[2], "cr_series": cr[2], "cr": cr[3], "head": head[1]}


@pytest.fixture(params=sorted(WIDTHS))
def tab(request, page):
    page.set_viewport_size(WIDTHS[request.param])
    page.width = WIDTHS[request.param]["width"]
    return page


def within_the_width(tab, selector):
    box = tab.locator(selector).first.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= tab.width, (selector, box)


def filter_with(tab, text):
    tab.fill("#child-filter", text)
    tab.press("#child-filter", "Enter")
    tab.wait_for_url(f"**filter={text.replace(' ', '+')}**")


def label(tab):
    return tab.locator("[data-scroller-label]").inner_text()


def wait_for_label(tab, text):
    tab.wait_for_function("text => document.querySelector('[data-scroller-label]').textContent === text", arg=text)


def press_on_the_page(tab, key):
    """A key pressed with the focus on the page itself, not on the slider."""
    tab.evaluate("document.activeElement && document.activeElement.blur()")
    tab.keyboard.press(key)


# ---------------------------------------------------------------- long series


def test_the_filter_boxes_of_each_list(tab, long_study):
    tab.goto(f"/ui/patients/{long_study['patient']}")
    assert tab.locator("table.list tbody tr").count() == 2
    within_the_width(tab, "#child-filter")
    filter_with(tab, "2023")
    rows = tab.locator("table.list tbody tr")
    assert rows.count() == 1 and "Head MR" in rows.first.inner_text()
    filter_with(tab, "chest")
    assert tab.locator("table.list tbody tr").count() == 1
    tab.click("a.row-link >> text=Chest CT")

    tab.wait_for_url(f"**/ui/studies/{long_study['study']}")
    assert tab.locator(".series-card").count() == 2
    within_the_width(tab, "#child-filter")
    filter_with(tab, "CR")
    assert tab.locator(".series-card").all_inner_texts()[0].count("Chest PA") == 1
    assert tab.locator(".series-card").count() == 1
    filter_with(tab, "axial")
    tab.click(".series-card")

    tab.wait_for_url(f"**/ui/series/{long_study['ct_series']}")
    within_the_width(tab, "#child-filter")
    filter_with(tab, "150")
    assert tab.locator("table.list a.row-link").all_inner_texts() == ["Instance 150"]
    filter_with(tab, "10-70")
    assert tab.locator(".section-title .count").last.inner_text() == "61 of 200"
    assert tab.locator("table.list a.row-link").count() == 50
    tab.click(".pagination >> text=Next ›")
    tab.wait_for_url("**page=2**")
    shown = tab.locator("table.list a.row-link").all_inner_texts()
    assert shown == [f"Instance {n}" for n in range(60, 71)] and "filter=10-70" in tab.url
    tab.click("text=Show all")
    assert tab.locator("table.list a.row-link").count() == 50
    filter_with(tab, "999")
    assert tab.locator("text=No instance of this series matches").is_visible()


def test_a_long_series_is_paged_and_its_instances_stepped_through(tab, long_study):
    tab.goto(f"/ui/series/{long_study['ct_series']}")
    image_loaded(tab, "[data-scroller-image]")
    links = tab.locator("table.list a.row-link")
    assert links.count() == 50 and links.first.inner_text() == "Instance 1"
    # Two hundred rows made a table taller than the screen many times over.
    table = tab.locator("table.list").bounding_box()
    assert table["height"] < 3000
    within_the_width(tab, ".pagination")
    tab.click(".pagination >> text=Next ›")
    tab.wait_for_url("**page=2**")
    assert links.first.inner_text() == "Instance 51"

    links.first.click()
    tab.wait_for_url("**/ui/instances/**")
    steps = tab.locator(".instance-steps")
    assert "51 of 200 in the series" in steps.inner_text()
    within_the_width(tab, ".instance-steps [rel=next]")
    tab.click(".instance-steps [rel=next]")
    tab.wait_for_function("() => document.querySelector('.instance-steps').textContent.includes('52 of 200')")
    assert tab.locator(".breadcrumbs [aria-current=page]").inner_text().endswith("Instance 52")
    tab.click(".instance-steps [rel=prev]")
    tab.wait_for_function("() => document.querySelector('.instance-steps').textContent.includes('51 of 200')")
    tab.click(".instance-steps [rel=prev]")
    tab.wait_for_function("() => document.querySelector('.instance-steps').textContent.includes('50 of 200')")
    assert image_loaded(tab, "[data-preview]") == 32


def test_the_keyboard_steps_the_viewer_and_the_preset_stays(tab, long_study):
    tab.goto(f"/ui/series/{long_study['ct_series']}")
    image = tab.locator("[data-scroller-image]")
    image_loaded(tab, "[data-scroller-image]")
    assert label(tab) == "Instance 100 · 100 / 200"

    # The focus on the page, not on the slider: the keys step all the same.
    press_on_the_page(tab, "ArrowRight")
    wait_for_label(tab, "Instance 101 · 101 / 200")
    press_on_the_page(tab, "PageDown")
    wait_for_label(tab, "Instance 111 · 111 / 200")
    press_on_the_page(tab, "PageUp")
    wait_for_label(tab, "Instance 101 · 101 / 200")
    press_on_the_page(tab, "ArrowLeft")
    wait_for_label(tab, "Instance 100 · 100 / 200")
    # Not while the user types in a box.
    tab.focus("#child-filter")
    tab.keyboard.press("ArrowRight")
    tab.keyboard.press("PageDown")
    assert label(tab) == "Instance 100 · 100 / 200"

    # A preset redraws the picture through /rendered with its window...
    within_the_width(tab, "#window-preset")
    tab.select_option("#window-preset", "lung")
    tab.wait_for_function("w => document.querySelector('[data-scroller-image]').src.includes(w)", arg=LUNG)
    image_loaded(tab, "[data-scroller-image]")
    assert "window=lung" in tab.url
    # ... and stays while the viewer steps: the next picture's URL carries the window.
    src = image.get_attribute("src")
    press_on_the_page(tab, "ArrowRight")
    wait_for_label(tab, "Instance 101 · 101 / 200")
    tab.wait_for_function("src => document.querySelector('[data-scroller-image]').getAttribute('src') !== src", arg=src)
    stepped = image.get_attribute("src")
    assert LUNG in stepped and "max-size=768" in stepped
    assert image_loaded(tab, "[data-scroller-image]") == 32
    assert LUNG in tab.locator("[data-full-size]").get_attribute("href")
    if tab.width > 1000:
        tab.evaluate("window.scrollTo(0, 0)")
        screenshot(tab, "series-presets")

    # So does the filter box, and the pages of what it found.
    filter_with(tab, "10-70")
    assert "window=lung" in tab.url and LUNG in image.get_attribute("src")
    tab.click(".pagination >> text=Next ›")
    tab.wait_for_url("**page=2**")
    assert "window=lung" in tab.url and "filter=10-70" in tab.url
    # The instance opened from the viewer keeps it.
    tab.click("[data-scroller-link]")
    tab.wait_for_url("**window=lung**")
    assert tab.locator("#window-preset").input_value() == "lung"
    assert LUNG in tab.locator("[data-preview]").get_attribute("src")
    assert image_loaded(tab, "[data-preview]") == 32


# ---------------------------------------------------------------- looking at images


def test_a_large_radiograph_is_scaled_down_and_its_full_size_a_click_away(tab, long_study):
    tab.goto(f"/ui/instances/{long_study['cr']}")
    # 1841 × 1955 scaled to fit 768 × 768, a PNG of a fraction of the full one's 1.5 MB.
    assert image_loaded(tab, "[data-preview]") == 723
    src = tab.locator("[data-preview]").get_attribute("src")
    assert "max-size=768" in src
    preview = tab.request.get(src)
    assert preview.headers["content-type"] == "image/png" and len(preview.body()) < 400_000
    within_the_width(tab, "[data-full-size]")
    with tab.expect_popup() as opened:
        tab.click("[data-full-size]")
    full = opened.value
    full.wait_for_load_state()
    assert "max-size" not in full.url
    assert full.evaluate("document.images[0].naturalWidth") == 1841
    full.close()

    # A preset on the instance page: the full range, drawn by the server.
    tab.select_option("#window-preset", "full-range")
    tab.wait_for_function("() => document.querySelector('[data-preview]').src.includes('full-range')")
    assert image_loaded(tab, "[data-preview]") == 723
    assert "full-range" in tab.locator("[data-full-size]").get_attribute("href")

    # The series viewer shows it scaled down too.
    tab.goto(f"/ui/series/{long_study['cr_series']}")
    assert image_loaded(tab, "[data-scroller-image]") == 723
