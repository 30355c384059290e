"""STOW-RS: each part of a multipart body stored through the ingest funnel."""

from django.http import HttpResponse


def store(request, **route):
    return HttpResponse(status=501)
