"""What both sides of our associations share: the transfer syntaxes and service classes we
offer or accept, and the socket option every association sets. The server (dicomnet/scp.py)
and the requesting side (dicomnet/scu) each import it; neither imports the other."""

import fnmatch
import socket

from django.conf import settings
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom import ALL_TRANSFER_SYNTAXES
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

UNCOMPRESSED = [ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian]
QUERY_RETRIEVE = [
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelMove,
    PatientRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelGet,
]


def accepted_transfer_syntaxes(patterns=None):
    """The transfer syntaxes the storage service accepts, from the setting's UIDs and prefixes."""
    patterns = settings.PHAROS_DICOM_ACCEPTED_TRANSFER_SYNTAXES if patterns is None else patterns
    accepted = [uid for uid in ALL_TRANSFER_SYNTAXES if any(fnmatch.fnmatchcase(uid, p) for p in patterns)]
    # pynetdicom takes the first of ours that the peer proposes: prefer a compressed
    # syntax the peer offers, so that it sends its file as it is instead of transcoding.
    compressed = [uid for uid in accepted if uid not in UNCOMPRESSED]
    return compressed + [uid for uid in UNCOMPRESSED if uid in accepted]


def set_no_delay(event):
    # Nagle's algorithm stalls every DIMSE exchange by about 40 ms.
    event.assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
