from django.apps import AppConfig


class DicomnetConfig(AppConfig):
    name = "dicomnet"
    verbose_name = "DICOM network"

    def ready(self):
        # The job types of the data changes and of the peers register their runners with
        # dicomnet.jobs: every process that runs jobs (workers, the web server's synchronous
        # requests) knows them.
        from dicomnet import modification_jobs  # noqa: F401
        from dicomnet.dicomweb import jobs as dicomweb_jobs  # noqa: F401
        from dicomnet.peers import jobs as peer_jobs  # noqa: F401
