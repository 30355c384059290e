"""The OHIF viewer's installation and serving (explorer/viewer_files.py, explorer/viewer.py).

The package installed here is a small one made by the test in the shape of @ohif/app (a
package/dist/ built for the root "/"), packed by the real npm (`npm pack <folder>`), so that
the test never needs the registry. tests/test_browser_viewer.py runs the real OHIF."""

import json
import os
import shutil

import pytest
from django.core.management import call_command
from django.test import Client

from explorer import rights, viewer_files
from tests.page_helpers import store_sample
from tests.tools import needs_tool, require_tool

pytestmark = pytest.mark.django_db

INDEX_HTML = (
    '<!doctype html><html><head><script>window.PUBLIC_URL="/"</script>'
    '<link rel="manifest" href="/manifest.json">'
    '<script rel="preload" as="script" src="/app-config.js"></script>'
    '<script rel="preload" as="script" type="module" src="/init-service-worker.js"></script>'
    '<script defer src="/app.bundle.0123456789abcdef.js"></script><link href="/app.bundle.css" rel="stylesheet">'
    '</head><body><div id="root"></div><a href="//example.org/">elsewhere</a></body></html>'
)
DIST = {
    "index.html": INDEX_HTML,
    "app.bundle.0123456789abcdef.js": '(() => {\n__webpack_require__.p = "/";\n})();\n',
    "app.bundle.css": "@font-face{src:url(/fedcba9876543210.woff2)}",
    "fedcba9876543210.woff2": "font",
    "0123456789abcdef.wasm": "\0asm",
    "manifest.json": "{}",
    "assets/logo.svg": "<svg/>",
}


def make_package(folder, dist=DIST):
    folder.mkdir()
    (folder / "package.json").write_text(json.dumps({"name": "fake-ohif-app", "version": "1.0.0"}))
    for name, text in dist.items():
        path = folder / "dist" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """The made package packed once by npm: its .tgz."""
    npm = require_tool("npm")
    work = tmp_path_factory.mktemp("package")
    return viewer_files.pack(npm, str(make_package(work / "fake-ohif-app")), work)


@pytest.fixture
def viewer_dir(settings, tmp_path):
    settings.VIEWER_DIR = tmp_path / "viewer"
    return settings.VIEWER_DIR


@pytest.fixture
def installed(viewer_dir, package):
    viewer_files.install(str(package))
    return viewer_files.folder()


# ---------------------------------------------------------------- installing


@needs_tool("npm")
def test_the_command_installs_once_and_rebases_under_viewer(viewer_dir, package, capsys):
    call_command("install_viewer", "--from", str(package))
    installed_in = viewer_dir / viewer_files.VERSION
    assert capsys.readouterr().out.strip() == f"Installed the OHIF viewer {viewer_files.VERSION} in {installed_in}"
    folder = viewer_files.installed()
    assert folder == installed_in
    html = (folder / "index.html").read_text()
    assert 'window.PUBLIC_URL="/viewer/"' in html
    assert 'src="/viewer/app.bundle.0123456789abcdef.js"' in html and 'href="/viewer/app.bundle.css"' in html
    assert "init-service-worker" not in html  # it would fetch Workbox from a CDN
    assert 'href="//example.org/"' in html  # only the root's links change
    assert '__webpack_require__.p = "/viewer/";' in (folder / "app.bundle.0123456789abcdef.js").read_text()
    assert "url(/viewer/fedcba9876543210.woff2)" in (folder / "app.bundle.css").read_text()
    assert sorted(os.listdir(viewer_dir)) == [viewer_files.VERSION]  # nothing left beside it

    # Already there: npm is not even looked for.
    call_command("install_viewer", "--from", str(viewer_dir / "nothing-here.tgz"))
    assert capsys.readouterr().out.strip() == f"The OHIF viewer {viewer_files.VERSION} is installed in {folder}"


def test_without_npm_one_line_and_success(viewer_dir, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH holding no npm
    call_command("install_viewer")
    out = capsys.readouterr().out
    assert out == "The OHIF viewer is left out (/viewer/ will say so): npm is not installed (Debian package npm)\n"
    assert viewer_files.installed() is None


@needs_tool("npm")
def test_a_failed_fetch_leaves_nothing_behind(viewer_dir, tmp_path, capsys):
    call_command("install_viewer", "--from", str(tmp_path / "missing-folder"))
    out = capsys.readouterr().out
    assert out.startswith("The OHIF viewer is left out (/viewer/ will say so): npm pack ")
    assert len(out.splitlines()) == 1
    assert viewer_files.installed() is None
    assert not viewer_dir.exists() or os.listdir(viewer_dir) == []


@needs_tool("npm")
def test_a_package_without_its_dist_is_refused(viewer_dir, tmp_path):
    archive = viewer_files.pack(
        shutil.which("npm"), str(make_package(tmp_path / "other", {"README.md": "hello"})), tmp_path
    )
    with pytest.raises(viewer_files.InstallFailed, match="has no package/dist/index.html"):
        viewer_files.install(str(archive))
    assert os.listdir(viewer_dir) == []


# ---------------------------------------------------------------- serving


def test_index_html_for_the_base_and_for_ohifs_routes(browser, installed):
    for path in ("/viewer/", "/viewer/viewer?StudyInstanceUIDs=1.2.3", "/viewer/localbasic"):
        response = browser.get(path)
        assert response.status_code == 200, path
        assert response["Content-Type"] == "text/html; charset=utf-8"
        assert response["Cache-Control"] == "no-cache"
        assert b'window.PUBLIC_URL="/viewer/"' in b"".join(response.streaming_content)
    assert browser.get("/viewer")["Location"] == "/viewer/"


@pytest.mark.parametrize(
    "name, content_type, cache",
    [
        ("app.bundle.0123456789abcdef.js", "text/javascript; charset=utf-8", viewer_files.KEEP_HASHED),
        ("0123456789abcdef.wasm", "application/wasm", viewer_files.KEEP_HASHED),
        ("fedcba9876543210.woff2", "font/woff2", viewer_files.KEEP_HASHED),
        ("app.bundle.css", "text/css; charset=utf-8", "no-cache"),
        ("manifest.json", "application/json", "no-cache"),
        ("assets/logo.svg", "image/svg+xml", "no-cache"),
    ],
)
def test_files_with_their_content_type_and_caching(browser, installed, name, content_type, cache):
    response = browser.get(f"/viewer/{name}")
    assert response.status_code == 200
    assert (response["Content-Type"], response["Cache-Control"]) == (content_type, cache)
    assert b"".join(response.streaming_content) == (installed / name).read_bytes()
    again = browser.get(f"/viewer/{name}", HTTP_IF_NONE_MATCH=response["ETag"])
    assert again.status_code == 304


def test_a_gzipped_copy_for_the_browsers_that_accept_it(browser, installed):
    import gzip

    name = "app.bundle.0123456789abcdef.js"
    response = browser.get(f"/viewer/{name}", HTTP_ACCEPT_ENCODING="gzip, deflate, br")
    assert response["Content-Encoding"] == "gzip" and "Accept-Encoding" in response["Vary"]
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    assert gzip.decompress(b"".join(response.streaming_content)) == (installed / name).read_bytes()
    plain = browser.get(f"/viewer/{name}")
    assert not plain.has_header("Content-Encoding") and plain["ETag"] != response["ETag"]
    assert (
        browser.get(f"/viewer/{name}", HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=plain["ETag"]).status_code == 200
    )


def test_a_missing_file_is_a_404_page_not_the_app(browser, installed):
    response = browser.get("/viewer/missing.bundle.js")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert b"PUBLIC_URL" not in response.content


def test_no_path_leaves_the_viewers_folder(browser, installed, viewer_dir):
    secret = viewer_dir / "secret.txt"
    secret.write_text("not for the browser")
    (installed / "link.txt").symlink_to(secret)
    (installed / "escape").symlink_to(viewer_dir)
    tries = ("../secret.txt", "..%2fsecret.txt", "%2e%2e/secret.txt", "a/../../secret.txt")
    for path in (*tries, "link.txt", "escape/secret.txt"):
        response = browser.get(f"/viewer/{path}")
        assert response.status_code == 404, path
        assert b"not for the browser" not in response.content, path
    for relative in ("../secret.txt", str(secret), "/etc/passwd", "link.txt", "escape/secret.txt"):
        assert viewer_files.find(relative) is None, relative
    assert viewer_files.find("assets/../index.html") == (installed / "index.html").resolve()


def test_only_get_and_head(browser, installed):
    assert browser.post("/viewer/index.html").status_code == 405
    assert browser.head("/viewer/app.bundle.css").status_code == 200


def test_the_configuration_points_to_our_dicomweb_and_nowhere_else(browser, viewer_dir):
    response = browser.get("/viewer/app-config.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    text = response.content.decode()
    assert 'routerBasename: "/viewer/"' in text
    assert 'qidoRoot: window.location.origin + "/dicom-web"' in text
    assert 'wadoRoot: window.location.origin + "/dicom-web"' in text
    assert 'investigationalUseDialog: { option: "never" }' in text
    assert "http://" not in text and "https://" not in text


def test_not_installed_says_how_to_install(browser, viewer_dir):
    response = browser.get("/viewer/viewer?StudyInstanceUIDs=1.2.3")
    assert response.status_code == 404
    assert b"The viewer is not installed" in response.content
    assert b"manage.py install_viewer" in response.content and b"make run" in response.content


def test_every_route_needs_a_user_with_the_right_to_view(installed, django_user_model):
    anonymous = Client()
    assert anonymous.get("/viewer/", HTTP_ACCEPT="text/html")["Location"].startswith("/login/")
    assert anonymous.get("/viewer/app.bundle.css").status_code == 401
    assert anonymous.get("/viewer/app-config.js").status_code == 401
    nobody = Client()
    nobody.force_login(django_user_model.objects.create_user("nobody"))
    assert nobody.get("/viewer/").status_code == 403
    assert nobody.get("/viewer/app-config.js").status_code == 403
    watcher = Client()
    somebody = django_user_model.objects.create_user("watcher")
    somebody.groups.add(rights.group_named(rights.VIEWER))
    watcher.force_login(somebody)
    assert watcher.get("/viewer/app.bundle.css").status_code == 200


# ---------------------------------------------------------------- links from the explorer


def test_the_explorer_opens_studies_and_series_in_the_viewer(browser):
    patient, study, series, _ = store_sample("CT_small.dcm").ids
    study_uid = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
    series_uid = "1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322"
    in_viewer = f"/viewer/viewer?StudyInstanceUIDs={study_uid}"
    for page in (f"/ui/studies/{study}", "/ui/studies", f"/ui/patients/{patient}", "/ui/"):
        assert f'href="{in_viewer}"'.encode() in browser.get(page).content, page
    series_page = browser.get(f"/ui/series/{series}").content
    assert f'href="{in_viewer}&amp;initialSeriesInstanceUID={series_uid}"'.encode() in series_page
