"""HTML pages of the explorer."""

from django.conf import settings
from django.shortcuts import render

from explorer import index


def home(request):
    return render(
        request,
        "explorer/home.html",
        {"statistics": index.global_statistics(), "aet": settings.PHAROS_AET, "dicom_port": settings.PHAROS_DICOM_PORT},
    )
