"""QIDO-RS: studies, series and instances searched through explorer.query, answered as DICOM JSON."""

from django.http import HttpResponse


def studies(request, **route):
    return HttpResponse(status=501)


def series(request, **route):
    return HttpResponse(status=501)


def instances(request, **route):
    return HttpResponse(status=501)
