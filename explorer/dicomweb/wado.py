"""WADO-RS: instances as multipart/related, metadata, frames and bulk data."""

from django.http import HttpResponse


def retrieve(request, **route):
    return HttpResponse(status=501)


def metadata(request, **route):
    return HttpResponse(status=501)


def frames(request, **route):
    return HttpResponse(status=501)


def bulk(request, **route):
    return HttpResponse(status=501)
