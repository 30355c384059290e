"""The real OHIF viewer (@ohif/app from the npm registry, installed by explorer/viewer_files.py)
opening a study from Pharos in Debian's Chromium, driven by Playwright as tests/test_browser.py
drives the explorer: the viewport draws the image, the series list shows every series, and no
request leaves the server. Leaves docs/screenshots/viewer.png for the README.

The package is fetched once per machine (VIEWER_DIR, shared by the data folders of the test
processes; `make test` installs it before the tests). Without npm or the registry the test is
skipped (failed under CI), as it is without Chromium.
"""

import io
import time

import numpy as np
import pydicom
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from explorer import viewer_files
from tests import test_browser
from tests.conftest import sample_path
from tests.test_browser import screenshot, store
from tests.tools import CHROMIUM, needs_tool, under_ci

# The browser fixtures of tests/test_browser.py, found here by name.
chromium, keeper, page = test_browser.chromium, test_browser.keeper, test_browser.page
DRAWN_SECONDS = 90

pytestmark = [
    needs_tool(CHROMIUM),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(scope="module")
def ohif():
    try:
        viewer_files.install()
    except viewer_files.InstallFailed as reason:
        message = f"the OHIF viewer cannot be installed: {reason}"
        if under_ci():
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return viewer_files.installed()


def ct_series(study, number, description, count):
    """`count` axial slices 5 mm apart made from CT_small (its pixels shifted a little each time),
    one new series of `study`: a volume OHIF can stack and scroll."""
    series_uid = pydicom.uid.generate_uid()
    for index in range(count):
        dataset = pydicom.dcmread(sample_path("CT_small.dcm"))
        for keyword, value in study.items():
            setattr(dataset, keyword, value)
        dataset.SeriesInstanceUID = series_uid
        dataset.SeriesNumber = number
        dataset.SeriesDescription = description
        dataset.SOPInstanceUID = pydicom.uid.generate_uid()
        dataset.file_meta.MediaStorageSOPInstanceUID = dataset.SOPInstanceUID
        dataset.InstanceNumber = index + 1
        dataset.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
        dataset.ImagePositionPatient = [-100, -100, -50 + 5 * index]
        dataset.SliceLocation = -50 + 5 * index
        dataset.SliceThickness = 5
        pixels = np.roll(dataset.pixel_array, shift=index * 4, axis=1)
        dataset.PixelData = pixels.astype(dataset.pixel_array.dtype).tobytes()
        out = io.BytesIO()
        dataset.save_as(out, enforce_file_format=True)
        store(out.getvalue())


@pytest.fixture
def ct_study(chromium, transactional_db):
    """A CT study of two series: 7 slices and 3 slices."""
    study = {
        "PatientID": "CHEST-1",
        "PatientName": "Roe^Richard",
        "StudyInstanceUID": "1.2.826.0.1.3680043.8.498.1414",
        "StudyDescription": "CT chest",
        "StudyDate": "20240521",
        "AccessionNumber": "ACC-7",
    }
    ct_series(study, 2, "Axial 5 mm", 7)
    ct_series(study, 3, "Axial 5 mm, shifted", 3)
    return {"uid": study["StudyInstanceUID"], "series": ("Axial 5 mm", "Axial 5 mm, shifted")}


# A canvas with at least one pixel that is not black: cornerstone has drawn the image.
DRAWN = """() => [...document.querySelectorAll('[data-cy="viewport-pane"] canvas')].some(canvas => {
    const context = canvas.width && canvas.height && canvas.getContext('2d');
    if (!context) return false;
    const pixels = context.getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < pixels.length; i += 4) {
        if (pixels[i] > 16 || pixels[i + 1] > 16 || pixels[i + 2] > 16) return true;
    }
    return false;
})"""
# The study browser's thumbnails, one per series, each labelled with its description.
SERIES_LABELS = '[data-cy="series-description-label"]'
SERIES_SHOWN = """names => {
    const shown = [...document.querySelectorAll('[data-cy="series-description-label"]')].map(e => e.textContent);
    return names.every(name => shown.includes(name));
}"""


def test_ohif_opens_a_ct_study_from_pharos(page, ohif, ct_study, live_server, tmp_path):
    requested, failed, console = [], [], []
    # OHIF's guided tour, once per browser, would cover the image in the screenshot.
    page.context.add_init_script("localStorage.setItem('shownTours', JSON.stringify(['basicViewerTour']))")
    page.context.on("request", lambda request: requested.append(request.url))
    page.on("response", lambda response: response.status >= 400 and failed.append((response.status, response.url)))
    page.on("console", lambda message: message.type in ("error", "warning") and console.append(message.text))
    page.goto(f"/viewer/viewer?StudyInstanceUIDs={ct_study['uid']}")
    deadline = time.monotonic() + DRAWN_SECONDS
    try:
        page.wait_for_function(SERIES_SHOWN, arg=list(ct_study["series"]), timeout=DRAWN_SECONDS * 1000)
        page.wait_for_function(DRAWN, timeout=max(1, deadline - time.monotonic()) * 1000)
    except PlaywrightTimeout:
        page.screenshot(path=str(tmp_path / "viewer.png"))
        details = "\n".join([*map(str, failed), *console[-20:]])
        pytest.fail(f"OHIF did not draw the study (page in {tmp_path / 'viewer.png'}):\n{details}", pytrace=False)
    screenshot(page, "viewer")
    assert sorted(page.locator(SERIES_LABELS).all_inner_texts()) == sorted(ct_study["series"])
    assert any("/dicom-web/" in url for url in requested)
    assert [url for url in requested if not url.startswith((live_server.url, "data:", "blob:"))] == []
    assert failed == []
