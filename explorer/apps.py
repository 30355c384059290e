from django.apps import AppConfig


class ExplorerConfig(AppConfig):
    name = "explorer"
    verbose_name = "DICOM index"

    def ready(self):
        # Every process (web, DICOM, workers) names the private tags of the Orthanc
        # configuration's Dictionary; the first one started names the options it ignores.
        from explorer import orthanc_config

        orthanc_config.add_dictionary()
        orthanc_config.warn_once()
        # The audit trail's receivers: logins, failed logins, the admin's changes.
        from explorer import audit  # noqa: F401
