from django.urls import path

from dicomnet import api
from explorer.api.base import endpoint

urlpatterns = [
    path("modalities", endpoint(GET=api.list_modalities)),
    path("modalities/<str:name>", endpoint(GET=api.show, PUT=api.update, DELETE=api.delete)),
    path("modalities/<str:name>/configuration", endpoint(GET=api.show_configuration)),
]
