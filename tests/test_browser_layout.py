"""Every explorer page in a real browser (Playwright driving Debian's Chromium, as
tests/test_browser.py) at a desktop's width and a phone's (390 px): one <h1> naming the page,
no "serious" or "critical" finding of axe-core, and the layout staff asked for on a phone (the
patient's name in sight in the studies tables, the preview before the metadata, a short top bar).
Leaves docs/screenshots/phone-studies.png and phone-instance.png.

axe-core comes from the npm registry (`npm pack`, as explorer/viewer_files.py fetches the OHIF
viewer), once per data folder. Without npm the audit is skipped (failed under CI). A new page is
audited by adding its URL to PAGES.
"""

import os
import shutil
import tarfile
from pathlib import Path

import pytest
from django.conf import settings

from dicomnet.models import Job
from explorer import viewer_files
from tests import test_browser
from tests.conftest import CT_SMALL_IDS
from tests.dicom_peers import modality
from tests.test_browser import PASSWORD, TIMEOUT_MS, VIEWPORT, image_loaded, screenshot
from tests.tools import CHROMIUM, needs_tool, require_tool, under_ci

# The browser fixtures of tests/test_browser.py, found here by name.
chromium, keeper, page, data = test_browser.chromium, test_browser.keeper, test_browser.page, test_browser.data
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 768, "height": 1024}
VIEWPORTS = pytest.mark.parametrize("viewport", [VIEWPORT, PHONE], ids=["desktop", "phone"])
EVERY_WIDTH = pytest.mark.parametrize("viewport", [VIEWPORT, TABLET, PHONE], ids=["desktop", "tablet", "phone"])
AXE_VERSION = "4.10.3"
FAILING_IMPACTS = {"serious", "critical"}
TOP_BAR_HEIGHT = 80

# The pages audited, with the data of test_browser.store_demo_data, a modality named "pacs"
# and a job (`job`). Each URL is formatted with those ids.
PAGES = [
    "/ui/",
    "/ui/?q=nothing-like-this",  # a lookup that finds nothing
    "/ui/patients",
    "/ui/studies",
    "/ui/studies?study_date=range&date_from=2024-13-45",  # a filter in error
    "/ui/patients/{patient}",
    "/ui/studies/{study}",
    "/ui/series/{ct_series}",
    "/ui/instances/{instance}",
    "/ui/instances/{rtplan}",  # no pixels: the placeholder, the sequences of a plan
    "/ui/upload",
    "/ui/query-retrieve",
    "/ui/jobs",
    "/ui/jobs/{job}",
    "/ui/studies/{study}/send",
    "/ui/studies/{study}/send?destination=modality:pacs",
    "/ui/studies/{study}/modify",
    "/ui/patients/{patient}/anonymize",
    "/ui/series/{ct_series}/delete",
    "/ui/audit",
    "/ui/studies/no-such-study",
    "/ui/jobs/no-such-job",
    "/ui/no-such-page",
]
# Dialogs, audited open: (page, the text of the control that opens it).
DIALOGS = [
    ("/ui/series/{ct_series}", "Delete this series…"),
    ("/ui/studies/{study}", "Anonymize this study…"),
    ("/ui/studies/{study}", "Download ZIP as…"),
]
# Pages seen before logging in, in a fresh browser.
ANONYMOUS_PAGES = ["/login/"]

pytestmark = [
    needs_tool(CHROMIUM),
    pytest.mark.django_db(transaction=True),
]


# ---------------------------------------------------------------- axe-core


@pytest.fixture(scope="session")
def axe_script():
    """axe.min.js of axe-core AXE_VERSION, fetched with `npm pack` into the data folder once."""
    folder = Path(settings.DATA_DIR) / "test-tools" / f"axe-core-{AXE_VERSION}"
    script = folder / "axe.min.js"
    if not script.is_file():
        npm = require_tool("npm")
        folder.parent.mkdir(parents=True, exist_ok=True)
        work = folder.parent / f".fetching-{os.getpid()}"
        work.mkdir(exist_ok=True)
        try:
            archive = viewer_files.pack(npm, f"axe-core@{AXE_VERSION}", work)
            with tarfile.open(archive) as tar:
                tar.extractall(work, members=[tar.getmember("package/axe.min.js")], filter="data")
            # whole or not at all: a second process that got there first keeps its copy
            (work / "package").rename(folder)
        except (viewer_files.InstallFailed, KeyError, OSError, tarfile.TarError) as reason:
            if not script.is_file():
                message = f"axe-core {AXE_VERSION} cannot be fetched: {reason}"
                if under_ci():
                    pytest.fail(message, pytrace=False)
                pytest.skip(message)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return script.read_text(encoding="utf-8")


def audit(tab, axe_script):
    """axe-core's serious and critical findings on the page now shown: "rule (impact): targets"."""
    if not tab.evaluate("() => typeof window.axe !== 'undefined'"):
        tab.add_script_tag(content=axe_script)
    violations = tab.evaluate(
        """async () => {
            const results = await axe.run(document, {resultTypes: ["violations"]});
            return results.violations.map(v => ({
                id: v.id, impact: v.impact, help: v.help,
                targets: v.nodes.map(n => n.target.join(" ")),
            }));
        }"""
    )
    return [
        f"{v['id']} ({v['impact']}: {v['help']}): {', '.join(v['targets'][:5])}"
        for v in violations
        if v["impact"] in FAILING_IMPACTS
    ]


def headings(tab):
    return [text.strip() for text in tab.locator("h1").all_inner_texts()]


def problems_of(tab, url, axe_script):
    """What is wrong with the page at `url`: axe-core's findings and the count of its <h1>."""
    tab.goto(url)
    tab.wait_for_load_state("load")
    found = audit(tab, axe_script)
    titles = headings(tab)
    if len(titles) != 1 or not titles[0]:
        found.append(f"one named <h1> expected, found {titles}")
    return [f"{url}: {problem}" for problem in found]


@pytest.fixture
def ids(data):
    modality("PACS", 11112)
    job = Job.objects.create(type="DicomModalityStore", parameters={"Modality": "pacs", "Resources": [data["study"]]})
    return {
        "patient": data["patient"],
        "study": data["study"],
        "ct_series": data["ct_series"],
        "instance": CT_SMALL_IDS["instance"],
        "rtplan": data["samples"]["rtplan.dcm"][3],
        "job": job.id,
    }


# ---------------------------------------------------------------- every page


@VIEWPORTS
def test_every_page_passes_the_audit(page, ids, axe_script, viewport):
    page.set_viewport_size(viewport)
    problems = []
    for url in PAGES:
        problems += problems_of(page, url.format(**ids), axe_script)
    for url, control in DIALOGS:
        page.goto(url.format(**ids))
        page.click(f"text={control}")
        problems += [f"{url} ({control}): {problem}" for problem in audit(page, axe_script)]
    assert not problems, "\n".join(problems)


@VIEWPORTS
def test_the_pages_before_logging_in_pass_the_audit(chromium, live_server, keeper, axe_script, viewport):
    context = chromium.new_context(viewport=viewport, base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    problems = []
    for url in ANONYMOUS_PAGES:
        problems += problems_of(tab, url, axe_script)
    # A wrong password: the form again, with its error.
    tab.fill("#id_username", "keeper")
    tab.fill("#id_password", PASSWORD + "-not")
    tab.click("button[type=submit]")
    problems += [f"wrong password: {problem}" for problem in audit(tab, axe_script)]
    context.close()
    assert not problems, "\n".join(problems)


def test_the_heading_names_the_resource(page, ids):
    expected = {
        "/ui/patients/{patient}": "Doe, Jane",
        "/ui/studies/{study}": "Head CT and MR",
        "/ui/series/{ct_series}": "Axial 5 mm",
        "/ui/instances/{instance}": "Instance 1",
        "/ui/": "Lookup",
        "/ui/studies": "Studies",
        "/ui/patients": "Patients",
        "/ui/jobs": "Jobs",
        "/ui/upload": "Upload",
        "/ui/audit": "Audit",
    }
    for url, name in expected.items():
        page.goto(url.format(**ids))
        assert name in headings(page)[0], url


# ---------------------------------------------------------------- phone and tablet


@pytest.mark.parametrize("viewport", [TABLET, PHONE], ids=["tablet", "phone"])
@pytest.mark.parametrize("url", ["/ui/studies", "/ui/"], ids=["studies", "lookup"])
def test_the_patient_name_is_in_sight_on_a_phone(page, data, url, viewport):
    page.set_viewport_size(viewport)
    page.goto(url)
    name = page.locator("table.list tbody tr", has_text="Head CT and MR").locator("a", has_text="Doe, Jane")
    assert name.is_visible()
    # Every row's name, long ones too ("CompressedSamples, MR1"), is within the screen's width.
    names = page.locator("table.study-table tbody td a[href^='/ui/patients/']")
    assert names.count() == 5
    for each in names.all():
        box = each.bounding_box()
        assert 0 <= box["x"] and box["x"] + box["width"] <= viewport["width"], (each.inner_text(), box)
    # The page itself does not scroll sideways: only the table may.
    overflow = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    assert page.evaluate(overflow) <= 0
    if url == "/ui/studies" and viewport is PHONE:
        name.scroll_into_view_if_needed()
        screenshot(page, "phone-studies")


@VIEWPORTS
def test_the_preview_comes_before_the_metadata_on_a_phone(page, data, viewport):
    page.set_viewport_size(viewport)
    page.goto(f"/ui/instances/{CT_SMALL_IDS['instance']}")
    image_loaded(page, "[data-preview]")
    preview = page.locator("[data-preview]").bounding_box()
    module = page.locator(".module").first.bounding_box()
    if viewport is PHONE:
        assert preview["y"] + preview["height"] <= module["y"]
        assert preview["y"] < PHONE["height"]  # in the first screen
        screenshot(page, "phone-instance")
    else:
        assert module["x"] + module["width"] <= preview["x"]  # the modules on the left


@EVERY_WIDTH
def test_the_top_bar_is_short(page, keeper, viewport):
    keeper.is_staff = True  # the longest bar: with the administration's links
    keeper.save()
    page.set_viewport_size(viewport)
    page.goto("/ui/")
    assert page.locator(".account a", has_text="Administration").count() == 1
    assert page.locator("header.topbar").bounding_box()["height"] < TOP_BAR_HEIGHT
    # Every link of the main menu can be reached (it may scroll sideways).
    for link in page.locator("nav.mainnav a, .account a, .account button").all():
        link.scroll_into_view_if_needed()
        box = link.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"], link.inner_text()
