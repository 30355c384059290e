"""REST of the DICOMweb client: /dicom-web/servers, each remote server's configuration and actions."""

from django.http import HttpResponse


def list_servers(request, **route):
    return HttpResponse(status=501)


def show(request, **route):
    return HttpResponse(status=501)


def update(request, **route):
    return HttpResponse(status=501)


def delete(request, **route):
    return HttpResponse(status=501)


def stow(request, **route):
    return HttpResponse(status=501)


def qido(request, **route):
    return HttpResponse(status=501)


def get(request, **route):
    return HttpResponse(status=501)


def retrieve(request, **route):
    return HttpResponse(status=501)
