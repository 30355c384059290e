"""What a DICOMweb retrieve brings: each instance through the one ingest funnel
(explorer/ingest.py), counted, a file refused named without stopping the others."""

import logging
from dataclasses import dataclass, field

from explorer.errors import BadFileFormat
from explorer.ingest import Origin, store_instance

logger = logging.getLogger(__name__)

# Orthanc's DICOMweb plugin stores what it retrieves through its own REST API from inside
# the server, which Orthanc records as this origin.
ORIGIN_KIND = "Plugins"


@dataclass
class Received:
    """The instances a retrieve stored (public ids, in order of arrival) and the refused ones."""

    origin: Origin
    instances: list = field(default_factory=list)
    refused: list = field(default_factory=list)  # reasons

    def store(self, data):
        try:
            result = store_instance(data, self.origin)
        except BadFileFormat as error:
            # A part that is no DICOM file: the others are kept, the job says how many failed.
            logger.warning("DICOMweb retrieve: a part was refused: %s", error.details)
            self.refused.append(str(error.details or error))
            return
        self.instances.append(result.instance_id)


def receiver(username=""):
    """A Received whose `store` is the `on_instance` of client.retrieve."""
    return Received(Origin(kind=ORIGIN_KIND, username=username))
