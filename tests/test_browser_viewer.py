"""The real OHIF viewer (@ohif/app from the npm registry, installed by explorer/viewer_files.py)
opening a study from Pharos in Debian's Chromium, driven by Playwright as tests/test_browser.py
drives the explorer: the viewport draws the image, the series list shows every series, and no
request leaves the server. Leaves docs/screenshots/viewer.png for the README.

The package is fetched once per machine (VIEWER_DIR, shared by the data folders of the test
processes; `make test` installs it before the tests). Without npm or the registry the test is
skipped (failed under CI), as it is without Chromium.
"""

import time

import pytest

from explorer import viewer_files
from tests import test_browser
from tests.test_browser import derived, screenshot
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


@pytest.fixture
def ct_study(chromium, transactional_db):
    """A CT study of two series: 7 slices made from CT_small, and a 3-slice second series."""
    study = {
        "PatientID": "CHEST-1",
        "PatientName": "Roe^Richard",
        "StudyInstanceUID": "1.2.826.0.1.3680043.8.498.1414",
        "StudyDescription": "CT chest",
        "StudyDate": "20240521",
        "AccessionNumber": "ACC-7",
    }
    derived("CT_small.dcm", 7, SeriesNumber=2, SeriesDescription="Axial 5 mm", **study)
    derived("CT_small.dcm", 3, SeriesNumber=3, SeriesDescription="Scout", **study)
    return {"uid": study["StudyInstanceUID"], "series": ("Axial 5 mm", "Scout")}


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
SERIES_SHOWN = """names => {
    const list = document.querySelector('[data-cy="thumbnail-list"]');
    return !!list && names.every(name => list.textContent.includes(name));
}"""


def test_ohif_opens_a_ct_study_from_pharos(page, ohif, ct_study, live_server):
    requested = []
    page.context.on("request", lambda request: requested.append(request.url))
    page.goto(f"/viewer/viewer?StudyInstanceUIDs={ct_study['uid']}")
    deadline = time.monotonic() + DRAWN_SECONDS
    page.wait_for_function(SERIES_SHOWN, arg=list(ct_study["series"]), timeout=DRAWN_SECONDS * 1000)
    page.wait_for_function(DRAWN, timeout=max(1, deadline - time.monotonic()) * 1000)
    screenshot(page, "viewer")
    thumbnails = page.locator('[data-cy="thumbnail-list"] [data-cy="series-description-label"]')
    assert sorted(thumbnails.all_inner_texts()) == sorted(ct_study["series"])
    assert any("/dicom-web/" in url for url in requested)
    assert [url for url in requested if not url.startswith((live_server.url, "data:", "blob:"))] == []
