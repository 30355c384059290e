"""The explorer's words in a real browser (Playwright driving Debian's Chromium against the
live server, as tests/test_browser.py), at desktop width and at a phone's 390 px: a refused
upload says why in a user's words, an invalid date filter shows its error alone, every
not-found page names what was not found, the instance's tags show the file meta header in a
section of its own, and the admin pages load without a failed request (their icon)."""

import pytest

from tests import test_browser
from tests.conftest import CT_SMALL, CT_SMALL_IDS, dicom_bytes
from tests.refused_files import refused_files
from tests.test_browser import PASSWORD, TIMEOUT_MS, store
from tests.tools import CHROMIUM, needs_tool

# The browser fixtures of tests/test_browser.py, found here by name.
chromium, keeper = test_browser.chromium, test_browser.keeper

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}

pytestmark = [
    needs_tool(CHROMIUM),
    pytest.mark.django_db(transaction=True),
]


def logged_in(chromium, live_server, viewport, username, password, login_path="/ui/"):
    context = chromium.new_context(viewport=viewport, base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    tab.goto(login_path)
    tab.fill("#id_username", username)
    tab.fill("#id_password", password)
    tab.click("[type=submit]")
    tab.wait_for_url(f"**{login_path}")
    return context, tab


@pytest.fixture(params=list(WIDTHS))
def page(request, chromium, live_server, keeper):
    """A logged-in tab at desktop width, then at 390 px."""
    context, tab = logged_in(chromium, live_server, WIDTHS[request.param], "keeper", PASSWORD)
    yield tab
    context.close()


def failed_requests(tab):
    """Every request of the tab that failed or was answered 4xx/5xx, and every error its
    console logs, as they happen."""
    failed = []
    tab.on("requestfailed", lambda request: failed.append(f"failed {request.url}"))
    tab.on("response", lambda response: response.status >= 400 and failed.append(f"{response.status} {response.url}"))
    tab.on("console", lambda message: message.type == "error" and failed.append(f"console: {message.text}"))
    return failed


def test_a_refused_upload_says_why_in_a_users_words(page, tmp_path):
    files = refused_files()
    for name, (data, _) in files.items():
        (tmp_path / name).write_bytes(data)
    page.goto("/ui/upload")
    page.set_input_files("#upload-files", [str(tmp_path / name) for name in files])
    page.click("text=Start the upload")
    page.wait_for_function(
        "text => document.querySelector('[data-upload-summary]').textContent === text",
        arg=f"0 stored, 0 already stored, {len(files)} rejected",
    )
    for name, (_, reason) in files.items():
        row = page.locator("[data-upload-results] tr", has_text=name)
        assert "Rejected" in row.inner_text()
        details = row.locator("td").nth(2).inner_text()
        assert details.startswith(reason), name
        assert row.locator("td").nth(2).is_visible()
    assert "force" not in page.locator("[data-upload-results]").inner_text()


def test_an_invalid_date_filter_shows_its_error_alone(page):
    store(dicom_bytes(CT_SMALL))
    # From the lookup page's form, whose answer is the study list.
    page.goto("/ui/")
    page.select_option("#id_study_date", "range")
    page.fill("#id_date_from", "2024-02-01")
    page.fill("#id_date_to", "2024-01-01")
    page.click("text=Search studies")
    page.wait_for_url("**/ui/studies?*")
    content = page.locator("main").inner_text()
    assert "comes after the last one" in content
    assert "No study" not in content and "0 studies" not in content
    assert page.locator("p.empty").count() == 0
    # A filter that matches nothing says so; the empty state is for an empty server alone.
    page.goto("/ui/studies?accession_number=NOWHERE")
    assert page.locator("p.empty").inner_text() == "No study matches these filters."


def test_the_empty_state_is_for_an_empty_server(page):
    page.goto("/ui/studies")
    assert page.locator("p.empty").inner_text() == "No study is stored yet."


@pytest.mark.parametrize(
    "path, title, named",
    [
        ("/ui/jobs/00000000-0000-0000-0000-000000000000", "No such job", "job history"),
        ("/ui/queries/not-a-query", "No such query", "latest remote queries"),
        ("/ui/studies/nope", "No such study", "It may have been deleted"),
        ("/ui/nowhere", "Not Found", "Pharos has no page at /ui/nowhere"),
    ],
)
def test_every_not_found_page_names_what_was_not_found(page, path, title, named):
    response = page.goto(path)
    assert response.status == 404
    assert page.locator("h1").inner_text() == title
    assert named in page.locator("body").inner_text()
    if title == "No such job":
        assert "remote queries" not in page.locator("body").inner_text()


def test_the_instance_tags_show_the_file_meta_header_above_the_data_set(page):
    store(dicom_bytes(CT_SMALL))
    page.goto(f"/ui/instances/{CT_SMALL_IDS['instance']}")
    meta = page.locator("[data-tag-section]", has=page.locator("#meta-title"))
    dataset = page.locator("[data-tag-section]", has=page.locator("#dataset-title"))
    assert meta.locator("#meta-title").inner_text() == "File meta header"
    assert "TransferSyntaxUID" in meta.inner_text() and "1.2.840.10008.1.2.1" in meta.inner_text()
    assert "PatientName" not in meta.inner_text() and "TransferSyntaxUID" not in dataset.inner_text()
    assert meta.bounding_box()["y"] < dataset.bounding_box()["y"]  # above the data set
    # The filter searches both sections.
    page.fill("[data-tag-filter]", "MediaStorage")
    visible = page.locator("[data-tag-section] ul.tags > li:visible .tag-name")
    assert sorted(visible.all_inner_texts()) == ["MediaStorageSOPClassUID", "MediaStorageSOPInstanceUID"]


@pytest.mark.parametrize("width", list(WIDTHS))
def test_the_admin_pages_log_no_failed_request(chromium, live_server, django_user_model, width):
    django_user_model.objects.create_superuser("warden", password=PASSWORD)
    context = chromium.new_context(viewport=WIDTHS[width], base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    tab = context.new_page()
    failed = failed_requests(tab)
    tab.goto("/admin/login/?next=/admin/")
    tab.fill("#id_username", "warden")
    tab.fill("#id_password", PASSWORD)
    tab.click("[type=submit]")
    tab.wait_for_url("**/admin/")
    for path in ("/admin/", "/admin/auth/user/", "/admin/explorer/"):
        tab.goto(path)
        tab.wait_for_load_state("load")
        # A headed Chromium asks for /favicon.ico (no route: a 404 in its console) when a page
        # names no icon; headless, it asks for none, so each page is checked for its own.
        icons = tab.evaluate("[...document.querySelectorAll('link[rel=icon]')].map(link => link.href)")
        assert len(icons) == 1 and icons[0].startswith("data:image/svg+xml"), path
    assert failed == []
    context.close()
