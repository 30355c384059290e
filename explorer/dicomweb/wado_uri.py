"""WADO-URI (PS3.18 9): /wado?requestType=WADO&studyUID=…&seriesUID=…&objectUID=…"""

from django.http import HttpResponse


def wado(request, **route):
    return HttpResponse(status=501)
