"""`manage.py configuremodalities`: the DicomModalities of the Orthanc configuration file
(PHAROS_ORTHANC_CONFIG), created or updated as REST `PUT /modalities/{id}` does, through the
same code. `manage.py start` runs it; modalities added otherwise are left as they are."""

import logging

from django.core.management.base import BaseCommand, CommandError

from dicomnet.api import modalities
from explorer import orthanc_config
from explorer.errors import PharosError

logger = logging.getLogger(__name__)


def apply(configuration):
    """Create or update each modality of the file; a bad one stops the start, named."""
    for name, body in configuration.section("DicomModalities").items():
        try:
            warnings = modalities.save(name, modalities.fields_from_body(body))
        except PharosError as error:
            where = f"The Orthanc option DicomModalities in {configuration.path}"
            raise CommandError(f"{where}: {name!r}: {error}") from error
        for warning in warnings:
            logger.warning("DicomModalities %r: %s", name, warning)


class Command(BaseCommand):
    help = "Create or update the DicomModalities of the Orthanc configuration file (PHAROS_ORTHANC_CONFIG)."

    def handle(self, *args, **options):
        configuration = orthanc_config.current()
        if configuration is not None:
            apply(configuration)
