"""REST of the Orthanc peers: /peers, each peer's configuration, /system and /store."""

from django.http import HttpResponse


def list_peers(request, **route):
    return HttpResponse(status=501)


def show(request, **route):
    return HttpResponse(status=501)


def update(request, **route):
    return HttpResponse(status=501)


def delete(request, **route):
    return HttpResponse(status=501)


def show_configuration(request, **route):
    return HttpResponse(status=501)


def system(request, **route):
    return HttpResponse(status=501)


def store(request, **route):
    return HttpResponse(status=501)


def store_straight(request, **route):
    return HttpResponse(status=501)
