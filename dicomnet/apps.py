from django.apps import AppConfig


class DicomnetConfig(AppConfig):
    name = "dicomnet"
    verbose_name = "DICOM network"
