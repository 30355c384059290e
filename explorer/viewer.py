"""The OHIF viewer at /viewer/: its installed files (explorer/viewer_files.py), index.html for
the routes OHIF's router answers in the browser, and its configuration, which points it to this
server's DICOMweb. Every route needs the right to view (explorer/urls.py)."""

from django.conf import settings
from django.http import FileResponse, Http404, HttpResponseNotAllowed, HttpResponseNotModified
from django.shortcuts import redirect, render
from django.utils.cache import patch_vary_headers

from explorer import viewer_files

READ_METHODS = ("GET", "HEAD")


def to_app(request):
    return redirect(viewer_files.BASE)


def app(request, path=""):
    """A file of the viewer; index.html for OHIF's own routes (/viewer/viewer?StudyInstanceUIDs=…)."""
    if request.method not in READ_METHODS:
        return HttpResponseNotAllowed(READ_METHODS)
    root = viewer_files.installed()
    if root is None:
        return not_installed(request)
    file = viewer_files.find(path)
    if file is None:
        if not viewer_files.is_client_route(path):
            raise Http404("No such file in the viewer")
        file = root / viewer_files.INDEX
    return file_response(request, file)


def app_config(request):
    if request.method not in READ_METHODS:
        return HttpResponseNotAllowed(READ_METHODS)
    context = {
        "base": viewer_files.BASE,
        "name": settings.PHAROS_NAME,
        "dicomweb": "/dicom-web",
        "wado_uri": "/wado",
    }
    response = render(request, "viewer/app-config.js", context, content_type=viewer_files.CONTENT_TYPES[".js"])
    response["Cache-Control"] = viewer_files.REVALIDATE
    return response


def not_installed(request):
    return render(request, "viewer/not_installed.html", {"version": viewer_files.VERSION}, status=404)


def file_response(request, file):
    """The file, or its gzipped copy for a browser that accepts it (the same content type)."""
    sent, encoding = file, None
    if "gzip" in request.headers.get("Accept-Encoding", "") and viewer_files.gzipped(file).is_file():
        sent, encoding = viewer_files.gzipped(file), "gzip"
    tag = viewer_files.etag(sent)
    if request.headers.get("If-None-Match") == tag:
        response = HttpResponseNotModified()
    else:
        response = FileResponse(sent.open("rb"), content_type=viewer_files.content_type(file))
        if encoding:
            response["Content-Encoding"] = encoding
    response["ETag"] = tag
    response["Cache-Control"] = viewer_files.cache_control(file)
    if viewer_files.gzipped(file).is_file():
        patch_vary_headers(response, ["Accept-Encoding"])
    return response
