"""DICOMweb routes (/dicom-web/… and WADO-URI's /wado); each method names the right it needs."""

from django.urls import path

from explorer.api.base import endpoint
from explorer.dicomweb import qido, rendered, stow, wado, wado_uri
from explorer.rights import UPLOAD, VIEW

STUDY = "dicom-web/studies/<str:study>"
SERIES = STUDY + "/series/<str:series>"
INSTANCE = SERIES + "/instances/<str:instance>"

urlpatterns = [
    # QIDO-RS: searches, at the root and nested.
    path("dicom-web/studies", endpoint(GET=VIEW(qido.studies), POST=UPLOAD(stow.store))),
    path("dicom-web/series", endpoint(GET=VIEW(qido.series))),
    path("dicom-web/instances", endpoint(GET=VIEW(qido.instances))),
    path(STUDY + "/series", endpoint(GET=VIEW(qido.series))),
    path(STUDY + "/instances", endpoint(GET=VIEW(qido.instances))),
    path(SERIES + "/instances", endpoint(GET=VIEW(qido.instances))),
    # WADO-RS: instances, metadata, frames, bulk data.
    path(STUDY, endpoint(GET=VIEW(wado.retrieve), POST=UPLOAD(stow.store))),
    path(SERIES, endpoint(GET=VIEW(wado.retrieve))),
    path(INSTANCE, endpoint(GET=VIEW(wado.retrieve))),
    path(STUDY + "/metadata", endpoint(GET=VIEW(wado.metadata))),
    path(SERIES + "/metadata", endpoint(GET=VIEW(wado.metadata))),
    path(INSTANCE + "/metadata", endpoint(GET=VIEW(wado.metadata))),
    path(INSTANCE + "/frames/<str:frames>", endpoint(GET=VIEW(wado.frames))),
    path(INSTANCE + "/bulk/<path:tags>", endpoint(GET=VIEW(wado.bulk))),
    # Rendered images and thumbnails.
    path(STUDY + "/rendered", endpoint(GET=VIEW(rendered.rendered))),
    path(SERIES + "/rendered", endpoint(GET=VIEW(rendered.rendered))),
    path(INSTANCE + "/rendered", endpoint(GET=VIEW(rendered.rendered))),
    path(INSTANCE + "/frames/<str:frames>/rendered", endpoint(GET=VIEW(rendered.rendered))),
    path(STUDY + "/thumbnail", endpoint(GET=VIEW(rendered.thumbnail))),
    path(SERIES + "/thumbnail", endpoint(GET=VIEW(rendered.thumbnail))),
    path(INSTANCE + "/thumbnail", endpoint(GET=VIEW(rendered.thumbnail))),
    path(INSTANCE + "/frames/<str:frames>/thumbnail", endpoint(GET=VIEW(rendered.thumbnail))),
    # WADO-URI (PS3.18 9).
    path("wado", endpoint(GET=VIEW(wado_uri.wado))),
]
