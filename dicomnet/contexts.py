"""What both sides of our associations share: the transfer syntaxes and service classes we
offer or accept, and the socket option every association sets. The server (dicomnet/scp.py)
and the requesting side (dicomnet/scu) each import it; neither imports the other.

The server's presentation contexts are decided per association (`acceptor_contexts`), from
what the peer proposes and the runtime settings of that moment (explorer/runtime_settings.py):
every storage SOP class, retired ones included, in the accepted transfer syntaxes; and, with
UnknownSopClassAccepted, every abstract syntax the UID dictionary does not name, as Orthanc
(DCMTK's acceptUnknownContextsWithPreferredTransferSyntaxes) does.
"""

import fnmatch
import socket
from functools import lru_cache

from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom import ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, build_context
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

from explorer import runtime_settings

UNCOMPRESSED = [ExplicitVRLittleEndian, ImplicitVRLittleEndian, ExplicitVRBigEndian, DeflatedExplicitVRLittleEndian]
QUERY_RETRIEVE = [
    PatientRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelMove,
    PatientRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelGet,
]
# pynetdicom's storage classes: a few are newer than pydicom's UID dictionary.
PYNETDICOM_STORAGE = frozenset(str(context.abstract_syntax) for context in AllStoragePresentationContexts)
# SOP classes named "… Storage …" that are no storage: a DICOMDIR, and a service of its own.
NOT_STORAGE = ("Storage Commitment", "Media Storage Directory")


def accepted_transfer_syntaxes(patterns=None):
    """The transfer syntaxes the storage service accepts, from the UIDs and prefixes of
    `patterns` (default: the AcceptedTransferSyntaxes runtime setting)."""
    if patterns is None:
        patterns = runtime_settings.current("AcceptedTransferSyntaxes")
    if isinstance(patterns, str):
        patterns = [patterns]
    return list(syntaxes_matching(tuple(str(p).strip() for p in patterns)))


@lru_cache(maxsize=32)
def syntaxes_matching(patterns):
    accepted = [uid for uid in ALL_TRANSFER_SYNTAXES if any(fnmatch.fnmatchcase(uid, p) for p in patterns)]
    # pynetdicom takes the first of ours that the peer proposes: prefer a compressed
    # syntax the peer offers, so that it sends its file as it is instead of transcoding.
    compressed = [uid for uid in accepted if uid not in UNCOMPRESSED]
    return tuple(compressed + [uid for uid in UNCOMPRESSED if uid in accepted])


def unknown_sop_class_accepted():
    value = runtime_settings.current("UnknownSopClassAccepted")
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


@lru_cache(maxsize=4096)
def is_storage(uid):
    """Whether a SOP class belongs to the storage service: pynetdicom's list, and every
    "… Storage" SOP class of the UID dictionary (retired ones included) but NOT_STORAGE."""
    if uid in PYNETDICOM_STORAGE:
        return True
    name = UID(uid)
    return name.type == "SOP Class" and "Storage" in name.name and not any(word in name.name for word in NOT_STORAGE)


def is_unknown(uid):
    """Whether the UID dictionary has no name for an abstract syntax (private ones, newer ones)."""
    return uid not in PYNETDICOM_STORAGE and not UID(uid).type


def storage_classes_among(abstract_syntaxes, unknown_accepted):
    """The proposed abstract syntaxes to accept for storage, in the order proposed."""
    found = []
    for uid in dict.fromkeys(str(uid) for uid in abstract_syntaxes):
        if is_storage(uid) or (unknown_accepted and is_unknown(uid)):
            found.append(uid)
    return found


@lru_cache(maxsize=1)
def service_contexts():
    """Verification and Query/Retrieve: the same for every association."""
    contexts = [build_context(Verification, UNCOMPRESSED)]
    contexts += [build_context(sop_class, UNCOMPRESSED) for sop_class in QUERY_RETRIEVE]
    return tuple(contexts)


@lru_cache(maxsize=8192)
def storage_context(sop_class, syntaxes):
    # scp_role lets a C-GET requestor receive its images back on this association.
    context = build_context(sop_class, list(syntaxes))
    context.scp_role, context.scu_role = True, False
    return context


def acceptor_contexts(abstract_syntaxes, syntaxes, unknown_accepted, retrieved=frozenset()):
    """The presentation contexts the server supports on an association whose peer proposes
    `abstract_syntaxes`: the services, and storage for those storage_classes_among takes, in
    `syntaxes`. Negotiation only reads them: they are shared between associations.

    `retrieved` are the SOP classes the peer asks to receive (the SCP role, for C-GET): there
    the server sends, so it prefers the uncompressed syntaxes, which it can write from any
    stored file, to a compressed one it could only reach by transcoding, if at all (a 16-bit
    CT into JPEG Baseline)."""
    contexts = list(service_contexts())
    if syntaxes:
        syntaxes = tuple(syntaxes)
        sending = tuple(
            [uid for uid in UNCOMPRESSED if uid in syntaxes] + [u for u in syntaxes if u not in UNCOMPRESSED]
        )
        for uid in storage_classes_among(abstract_syntaxes, unknown_accepted):
            try:
                contexts.append(storage_context(uid, sending if uid in retrieved else syntaxes))
            except ValueError:  # an unknown abstract syntax that is no valid UID: refused
                continue
    return contexts


def set_no_delay(event):
    # Nagle's algorithm stalls every DIMSE exchange by about 40 ms.
    event.assoc.dul.socket.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
