"""The OHIF viewer's files: fetched once from the npm registry, rebased under /viewer/, found safely.

`npm pack @ohif/app@VERSION` gives the package's archive; its package/dist/ is a prebuilt OHIF
made for the root of a site. Pharos's root is the REST API, so the viewer lives under BASE,
and the few places where the build wrote its root are rewritten once, when it is installed
(`rebase`): the links of index.html, `window.PUBLIC_URL`, webpack's public path (compiled
into each entry bundle: lazy chunks, workers and WebAssembly are fetched from it) and the
stylesheets' font URLs. The service worker's loader, which would fetch Workbox from a CDN, is
left out of index.html. Scripts, stylesheets and WebAssembly get a gzipped copy beside them
(`compress`: 172 MB become 41 MB, the app bundle of 17 MB becomes 3.4 MB), sent to the browsers
that accept it.

The folder VIEWER_DIR/VERSION appears whole or not at all: the archive is fetched and unpacked
in a temporary folder beside it, then renamed. explorer/viewer.py serves it.
"""

import gzip
import json
import mimetypes
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from django.conf import settings

PACKAGE = "@ohif/app"
VERSION = "3.13.2"
BASE = "/viewer/"
INDEX = "index.html"
NPM_SECONDS = 600
COMPRESSED = {".js", ".css", ".wasm", ".json"}  # not the source maps, which only developer tools read
GZIP_LEVEL = 6

# Files named with their content's hash (webpack's chunks, the WebAssembly, the font): a new
# build names them anew, so a browser may keep them. Behind a login, hence private.
HASHED = re.compile(r"(^|\.)[0-9a-f]{16}\.[a-z0-9]+$")
KEEP_HASHED = "private, max-age=31536000, immutable"
REVALIDATE = "no-cache"
CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".wasm": "application/wasm",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".txt": "text/plain; charset=utf-8",
}

# What the build wrote for the root "/", and the same under BASE.
SERVICE_WORKER_LOADER = re.compile(r'<script[^>]*src="/init-service-worker\.js"[^>]*></script>')
INDEX_LINKS = re.compile(r'(href|src)="/(?!/)')
PUBLIC_URL = 'window.PUBLIC_URL="/"'
PUBLIC_PATH = '__webpack_require__.p = "/";'
CSS_URLS = re.compile(r"url\(/(?!/)")


class InstallFailed(Exception):
    """The viewer could not be fetched or unpacked; the message says why, in one line."""


def folder():
    return Path(settings.VIEWER_DIR) / VERSION


def installed():
    """The installed viewer's folder, or None."""
    path = folder()
    return path if (path / INDEX).is_file() else None


def install(source=None, npm=None):
    """Fetch and unpack the viewer unless it is there; the line to print. `source`: what `npm
    pack` is given (the registry's package by default; a folder in the tests)."""
    target = folder()
    if installed():
        return f"The OHIF viewer {VERSION} is installed in {target}"
    npm = npm or shutil.which("npm")
    if not npm:
        raise InstallFailed("npm is not installed (Debian package npm)")
    if source and os.path.exists(source):
        source = os.path.abspath(source)  # npm runs in the temporary folder
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".installing-", dir=target.parent) as work:
        archive = pack(npm, source or f"{PACKAGE}@{VERSION}", Path(work))
        dist = unpack(archive, Path(work) / "unpacked")
        rebase(dist)
        compress(dist)
        try:
            os.rename(dist, target)
        except OSError:
            # Another process (a second test worker) installed it meanwhile: theirs is as good.
            if not installed():
                raise
    return f"Installed the OHIF viewer {VERSION} in {target}"


def pack(npm, source, work):
    """`npm pack` into `work`: the archive's path."""
    command = [npm, "pack", source, "--json", "--ignore-scripts", "--pack-destination", str(work)]
    try:
        done = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=NPM_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise InstallFailed(f"npm pack {source} did not finish: {error}") from None
    if done.returncode != 0:
        raise InstallFailed(f"npm pack {source} failed: {last_error_line(done.stderr)}")
    try:
        return work / json.loads(done.stdout)[0]["filename"].replace("@", "").replace("/", "-")
    except (ValueError, LookupError, TypeError):
        raise InstallFailed(f"npm pack {source} gave no archive: {done.stdout[-200:]!r}") from None


def last_error_line(stderr):
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or ["no message"])[-1]


def unpack(archive, into):
    """The archive's package/dist/ unpacked into `into`; its path. Members are checked by
    tarfile's "data" filter: none lands outside `into`, none is a device or an absolute link."""
    try:
        with tarfile.open(archive) as tar:
            members = [member for member in tar.getmembers() if member.name.startswith("package/dist/")]
            tar.extractall(into, members=members, filter="data")
    except (OSError, tarfile.TarError) as error:
        raise InstallFailed(f"the archive {archive.name} cannot be unpacked: {error}") from None
    dist = into / "package" / "dist"
    if not (dist / INDEX).is_file():
        raise InstallFailed(f"the archive {archive.name} has no package/dist/{INDEX}")
    return dist


def rebase(dist, base=BASE):
    """Rewrite a build made for "/" to be served under `base` (see the module's docstring)."""
    index = dist / INDEX
    html = index.read_text(encoding="utf-8")
    if PUBLIC_URL not in html:
        raise InstallFailed(f"{INDEX} does not set {PUBLIC_URL}: not a build this version of Pharos knows")
    html = SERVICE_WORKER_LOADER.sub("", html)
    html = INDEX_LINKS.sub(rf'\1="{base}', html).replace(PUBLIC_URL, f'window.PUBLIC_URL="{base}"')
    index.write_text(html, encoding="utf-8")
    for path in dist.rglob("*"):
        if path.suffix == ".js":
            _rewrite(path, lambda text: text.replace(PUBLIC_PATH, f'__webpack_require__.p = "{base}";'))
        elif path.suffix == ".css":
            _rewrite(path, lambda text: CSS_URLS.sub(f"url({base}", text))


def _rewrite(path, change):
    text = path.read_text(encoding="utf-8", errors="surrogateescape")
    changed = change(text)
    if changed != text:
        path.write_text(changed, encoding="utf-8", errors="surrogateescape")


def compress(dist):
    for path in dist.rglob("*"):
        if path.suffix in COMPRESSED and path.is_file():
            with path.open("rb") as source, gzip.open(gzipped(path), "wb", compresslevel=GZIP_LEVEL) as copy:
                shutil.copyfileobj(source, copy, 1 << 20)


def gzipped(path):
    return path.with_name(path.name + ".gz")


def find(relative):
    """The installed viewer's file at `relative` (a request's path below BASE), or None. The
    path is resolved first and must stay inside the folder: `..`, an absolute path or a link
    pointing out reach nothing."""
    root = installed()
    if root is None:
        return None
    root = root.resolve()
    try:
        path = (root / relative).resolve()
    except (OSError, ValueError):
        return None
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


def is_client_route(relative):
    """A path OHIF's router answers in the browser (/viewer/viewer, /viewer/localbasic…), not a
    file: its last segment has no extension. Those get index.html; a missing file gets a 404."""
    return "." not in relative.rsplit("/", 1)[-1]


def content_type(path):
    return CONTENT_TYPES.get(path.suffix.lower()) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def cache_control(path):
    return KEEP_HASHED if HASHED.search(path.name) else REVALIDATE


def etag(path):
    """The version with the size and time: npm gives every file of a package the same time."""
    stat = path.stat()
    return f'"{VERSION}-{stat.st_size:x}-{stat.st_mtime_ns:x}"'
