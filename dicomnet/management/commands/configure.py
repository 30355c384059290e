"""`manage.py configure`: what the configuration sets in the database, applied once per start.

- the users of the Orthanc configuration file's RegisteredUsers (PHAROS_ORTHANC_CONFIG),
  created or given the file's password, and administrators (explorer/accounts.py); the
  administrator PHAROS_ADMIN_USER is `manage.py start`'s own (a superuser);
- its DicomModalities and OrthancPeers, created or updated as REST `PUT /modalities/{id}` and
  `PUT /peers/{id}` do, through the same code; those added otherwise are left as they are;
- its DicomWeb.Servers, the same way as `PUT /dicom-web/servers/{name}` (dicomnet/dicomweb/servers.py);
- the runtime settings (/tools/default-encoding, …) back to their configured values, as
  Orthanc forgets them when it restarts: a value changed in the file then takes effect.

`manage.py start` runs it; production runs it once after `migrate`.
"""

import logging

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from dicomnet.api import modalities
from dicomnet.dicomweb import servers as dicomweb_servers
from dicomnet.peers import configuration as peers
from explorer import orthanc_config, runtime_settings
from explorer.accounts import ensure_users
from explorer.errors import PharosError

logger = logging.getLogger(__name__)


def apply(configuration):
    """Create or update each modality and each peer of the file; a bad one stops the start, named."""
    for name, body in configuration.section("DicomModalities").items():
        try:
            warnings = modalities.save(name, modalities.fields_from_body(body))
        except PharosError as error:
            where = f"The Orthanc option DicomModalities in {configuration.path}"
            raise CommandError(f"{where}: {name!r}: {error}") from error
        for warning in warnings:
            logger.warning("DicomModalities %r: %s", name, warning)
    try:
        dicomweb_servers.apply_configuration(configuration)
    except PharosError as error:
        raise CommandError(f"The Orthanc option DicomWeb in {configuration.path}: {error}") from error
    try:
        peers.apply(configuration)
    except PharosError as error:
        raise CommandError(f"The Orthanc option OrthancPeers in {configuration.path}: {error}") from error


class Command(BaseCommand):
    help = "Apply the configuration: Orthanc's RegisteredUsers, DicomModalities, OrthancPeers; runtime settings reset."

    def handle(self, *args, **options):
        runtime_settings.reset()
        configuration = orthanc_config.current()
        if configuration is not None:
            users = dict(configuration.section("RegisteredUsers"))
            # The administrator is start's: PHAROS_ADMIN_PASSWORD or the file's, set there.
            users.pop(settings.PHAROS_ADMIN_USER, None)
            ensure_users(users)
            apply(configuration)
