"""Rendered images and thumbnails (PS3.18 9.5) at study, series, instance and frame level."""

from django.http import HttpResponse


def rendered(request, **route):
    return HttpResponse(status=501)


def thumbnail(request, **route):
    return HttpResponse(status=501)
