"""C-MOVE and C-GET: which instances a retrieve designates, and the data sets that travel.

scp.py checks who asks, then hands the event to `move` or `get`: generators that follow
pynetdicom's EVT_C_MOVE / EVT_C_GET protocol (`doc_handle_move` and `doc_handle_get` in
pynetdicom/_handlers.py). A move yields the destination's address and the presentation
contexts to propose to it, then the number of sub-operations, then `(0xFF00, dataset)` per
instance; a get yields the number, then the data sets. pynetdicom performs each C-STORE
sub-operation (over a new association for a move, back over the requesting one for a get),
puts the remaining / completed / failed / warning counts in the pending responses, and
sends the final status itself: 0x0000, 0xB000 when some sub-operations failed, 0xA702 when
all did, 0xFE00 after a C-CANCEL. An identifier that designates nothing is answered 0xC000,
as Orthanc answers it.

A C-MOVE is looked at first by `move_answer`, which pynetdicom's C-MOVE service calls before
it runs (dicomnet/wire/move_answer.py): refusals are answered there, without a connection to
the destination (0x0124 to a peer that may not move, 0xA801 for an unknown destination, 0xC000
for an identifier that designates nothing), and so is a move run as a job
(PHAROS_DICOM_SYNCHRONOUS_CMOVE false): as Orthanc, every sub-operation is reported done at
once, and the job, listed in /jobs, sends the instances.

The work is in plain functions that tests call directly: `instances_for` (the selection),
`contexts_for` (what to propose to a move destination) and `dataset_to_send` (a stored file
as it can travel on the association, decompressed when the peer did not accept its
transfer syntax).
"""

import logging
import weakref

import pydicom
from django.conf import settings
from django.db import DatabaseError, close_old_connections
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom import build_context, evt
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)

from dicomnet import access, tls
from dicomnet.wire.move_answer import MoveAnswer, identifier_of
from explorer import audit, index, storage
from explorer.levels import BY_QUERY_LEVEL
from explorer.transcoding import TRANSCODING_TARGETS, best_syntax, transcode

logger = logging.getLogger("dicomnet")

PENDING = 0xFF00
CANCELLED = 0xFE00
SUCCESS = 0x0000
REFUSED_NOT_AUTHORISED = 0x0124
MOVE_DESTINATION_UNKNOWN = 0xA801
IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS = 0xA900
UNABLE_TO_PROCESS = 0xC000  # Orthanc's answer to every retrieve it cannot serve

ALL_LEVELS = ("PATIENT", "STUDY", "SERIES", "IMAGE")
RETRIEVE_MODELS = frozenset(
    {
        PatientRootQueryRetrieveInformationModelMove,
        PatientRootQueryRetrieveInformationModelGet,
        StudyRootQueryRetrieveInformationModelMove,
        StudyRootQueryRetrieveInformationModelGet,
    }
)
# The level names Orthanc reads (its StringToResourceType), in either model: Orthanc does not
# check that a level belongs to the model, and a PATIENT retrieve in Study Root is served.
LEVEL_NAMES = {
    "PATIENT": "PATIENT",
    "PATIENTS": "PATIENT",
    "STUDY": "STUDY",
    "STUDIES": "STUDY",
    "SERIES": "SERIES",
    "IMAGE": "IMAGE",
    "IMAGES": "IMAGE",
    "INSTANCE": "IMAGE",
    "INSTANCES": "IMAGE",
}
# Each level's unique key (PS3.4 C.6.1.1), the one key that selects.
UNIQUE_KEYS = {name: BY_QUERY_LEVEL[name].identifier for name in ALL_LEVELS}
# At study level a non-empty AccessionNumber selects instead (Orthanc's LookupIdentifiers).
ACCESSION_NUMBER = "AccessionNumber"

MAX_CONTEXTS = 128  # PS3.8: presentation context ids are the odd numbers 1 to 255
UNCOMPRESSED = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
# pynetdicom re-encodes a data set between these on its own (association.py, _get_valid_context).
LITTLE_ENDIAN_UNCOMPRESSED = frozenset({*UNCOMPRESSED, DeflatedExplicitVRLittleEndian})


class RetrieveRefused(Exception):
    """A retrieve identifier that designates nothing we can send; `status` is the DIMSE status."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


# --- The selection --------------------------------------------------------------------


def instances_for(identifier, model):
    """The instances a C-MOVE / C-GET identifier designates in an information model (the
    request's SOP Class UID), as a queryset, selected as Orthanc selects them: by the level's
    unique key (at study level by AccessionNumber when it is given), which may be a list
    ('uid1\\uid2'); without a level, by the lowest level whose key is given. Raises
    RetrieveRefused."""
    if model not in RETRIEVE_MODELS:
        raise RetrieveRefused(IDENTIFIER_DOES_NOT_MATCH_SOP_CLASS, f"no retrieve in the information model {model}")
    text = str(identifier.get("QueryRetrieveLevel") or "").strip()
    if not text:
        # Some SCUs leave QueryRetrieveLevel out; Orthanc takes the lowest level whose key
        # is given, and so do we.
        for level in reversed(ALL_LEVELS):
            keyword, values = selecting_key(identifier, level)
            if values:
                return selected(level, keyword, values)
        raise RetrieveRefused(UNABLE_TO_PROCESS, "no QueryRetrieveLevel and no unique key")
    level = LEVEL_NAMES.get(text.upper())
    if level is None:
        raise RetrieveRefused(UNABLE_TO_PROCESS, f"unknown QueryRetrieveLevel {text!r}")
    keyword, values = selecting_key(identifier, level)
    if not values:
        raise RetrieveRefused(UNABLE_TO_PROCESS, f"a {level} level retrieve without {keyword}")
    return selected(level, keyword, values)


def selecting_key(identifier, level):
    """The key that selects at a level and its values (none when it is missing or empty)."""
    if level == "STUDY":
        accession_numbers = key_values(identifier, ACCESSION_NUMBER)
        if accession_numbers:
            return ACCESSION_NUMBER, accession_numbers
    keyword = UNIQUE_KEYS[level]
    return keyword, key_values(identifier, keyword)


def selected(level, keyword, values):
    if keyword == ACCESSION_NUMBER:
        return index.instances_to_send_by_accession_number(values)
    return index.instances_to_send(BY_QUERY_LEVEL[level], values)


def key_values(identifier, keyword):
    """The non-empty values of a key, a list of them when it holds several."""
    value = identifier.get(keyword)
    if value is None:
        return []
    items = value if isinstance(value, (MultiValue, list, tuple)) else str(value).split("\\")
    # Values come padded with spaces, UIDs sometimes with NULs.
    return [text for text in (str(item).strip(" \x00") for item in items) if text]


def requested_instances(event):
    """The instances of a C-MOVE / C-GET request, as a list (at most 65535 of them by the
    protocol, and light rows). Raises RetrieveRefused."""
    try:
        identifier = event.identifier
        for _ in identifier:  # pydicom decodes lazily: a damaged element fails here
            pass
    except Exception as error:  # pydicom raises many kinds on damaged input
        raise RetrieveRefused(UNABLE_TO_PROCESS, f"the identifier cannot be decoded: {error}") from error
    return list(instances_for(identifier, event.request.AffectedSOPClassUID))


# --- Presentation contexts --------------------------------------------------------------


def stored_syntax(instance):
    # The index keeps "" for a file without one, which pydicom then reads as Implicit VR LE.
    return UID(instance.transfer_syntax_uid or ImplicitVRLittleEndian)


def contexts_for(instances, allow_transcoding=True):
    """The presentation contexts to propose to a move destination: per SOP class one with
    the uncompressed syntaxes (so that transcoding has somewhere to go), then one per other
    stored transfer syntax, then, when transcoding is allowed, one per lossless compressed
    syntax Pharos writes (for a destination that takes only those). The uncompressed ones
    come first: when the limit of 128 cuts the list, every SOP class keeps a way through."""
    pairs = {(instance.sop_class_uid, stored_syntax(instance)) for instance in instances if instance.sop_class_uid}
    sop_classes = sorted({sop_class for sop_class, _ in pairs})
    contexts = [build_context(sop_class, list(UNCOMPRESSED)) for sop_class in sop_classes]
    contexts += [build_context(sop_class, syntax) for sop_class, syntax in sorted(pairs) if syntax not in UNCOMPRESSED]
    if allow_transcoding:
        contexts += [
            build_context(sop_class, syntax)
            for sop_class in sop_classes
            for syntax in TRANSCODING_TARGETS
            if (sop_class, syntax) not in pairs
        ]
    if len(contexts) > MAX_CONTEXTS:
        logger.warning("C-MOVE: %d presentation contexts needed, only %d proposed", len(contexts), MAX_CONTEXTS)
    return contexts[:MAX_CONTEXTS]


def accepted_syntaxes(contexts, sop_class):
    """The transfer syntaxes in which we may send instances of a SOP class on an association."""
    return {cx.transfer_syntax[0] for cx in contexts if cx.abstract_syntax == sop_class and cx.as_scu}


def travels_as_stored(syntax, accepted):
    if syntax in accepted:
        return True
    return syntax in LITTLE_ENDIAN_UNCOMPRESSED and bool(accepted & LITTLE_ENDIAN_UNCOMPRESSED)


# --- Data sets --------------------------------------------------------------------------


def dataset_to_send(instance, accepted, allow_transcoding=True):
    """The stored data set of an instance, ready for a peer that accepted these transfer
    syntaxes for its SOP class: as stored when it can, otherwise, if transcoding is allowed,
    transcoded to the best of them (explorer.transcoding.best_syntax). When the instance cannot travel, a stand-in
    that pynetdicom counts as a failed sub-operation (see `undeliverable`)."""
    if not accepted:
        return undeliverable(instance, "the peer accepted no presentation context for its SOP class")
    try:
        dataset = pydicom.dcmread(storage.path_for(instance.file_uuid))
    except Exception as error:  # a missing file, or pydicom's many kinds of parse errors
        return undeliverable(instance, f"its file cannot be read: {error}")
    if "TransferSyntaxUID" not in dataset.file_meta:
        dataset.file_meta.TransferSyntaxUID = stored_syntax(instance)
    syntax = dataset.file_meta.TransferSyntaxUID
    if travels_as_stored(syntax, accepted):
        return dataset
    if not allow_transcoding:
        return undeliverable(instance, f"the peer does not accept {syntax.name} and transcoding is not allowed")
    target = best_syntax(syntax, accepted)
    if target is None:
        return undeliverable(instance, f"the peer accepts neither {syntax.name} nor a transfer syntax Pharos writes")
    try:
        return transcode(dataset, target)
    except Exception as error:  # TranscodingError, or a decoder's own kind
        return undeliverable(instance, f"it cannot be transcoded from {syntax.name} to {target.name}: {error}")


def undeliverable(instance, reason):
    """A data set that pynetdicom refuses to send, so that it counts a failed sub-operation
    and lists this SOP Instance UID in the final response's Failed SOP Instance UID List.
    Without file meta it has no transfer syntax: send_c_store raises before anything goes
    on the wire, which pynetdicom's C-MOVE / C-GET service counts as a failure. (A value
    that is not a Dataset would be counted too, but with an empty UID in the list.)"""
    logger.warning("Retrieve: instance %s not sent: %s", instance.public_id, reason)
    stand_in = Dataset()
    stand_in.SOPClassUID = instance.sop_class_uid
    stand_in.SOPInstanceUID = instance.sop_instance_uid
    return stand_in


def sub_operations(event, instances, syntaxes_for, allow_transcoding):
    """(status, dataset) per instance, one file read at a time; stops on a C-CANCEL."""
    for instance in instances:
        if event.is_cancelled:
            logger.info("Retrieve cancelled by %s", requestor_aet(event))
            yield CANCELLED, None
            return
        yield PENDING, dataset_to_send(instance, syntaxes_for(instance.sop_class_uid), allow_transcoding)


def requestor_aet(event):
    return event.assoc.requestor.ae_title.strip()


def requestor(event):
    """Who asks, as the audit trail records it."""
    return {"aet": requestor_aet(event), "ip": event.assoc.requestor.address}


# --- C-MOVE -----------------------------------------------------------------------------


class StoreAssociation:
    """What the handler learns of the association pynetdicom opens to a move destination,
    which it keeps to itself: an EVT_ACCEPTED hook passed to `associate` records it."""

    def __init__(self, destination):
        self.destination = destination
        self.association = None

    def accepted(self, event):
        self.association = event.assoc
        timeout = self.destination.timeout or settings.PHAROS_DICOM_SCU_TIMEOUT
        self.association.dimse_timeout = self.association.network_timeout = timeout

    def syntaxes_for(self, sop_class):
        contexts = self.association.accepted_contexts if self.association else []
        return accepted_syntaxes(contexts, sop_class)

    def address(self, contexts):
        """The first yield of a move: where to send, and how pynetdicom is to associate (over
        DICOM TLS when the destination has UseDicomTls)."""
        options = {
            "ae_title": self.destination.aet,
            "contexts": contexts,
            "evt_handlers": [(evt.EVT_ACCEPTED, self.accepted)],
            "tls_args": tls.client_args(self.destination),
        }
        return self.destination.host, self.destination.port, options


# The instances move_answer found for a request, handed to `move` (keyed by the request).
PLANNED = weakref.WeakKeyDictionary()


def move_answer(assoc, request, context):
    """What pynetdicom's C-MOVE service answers before it runs (dicomnet/wire/move_answer.py):
    a MoveAnswer for a refusal or a move run as a job, None to let `move` send the instances
    (which this function has looked up already, in PLANNED)."""
    close_old_connections()
    aet, address = assoc.requestor.ae_title.strip(), assoc.requestor.address
    if not access.may("move", aet, address):
        return MoveAnswer(REFUSED_NOT_AUTHORISED, "This AE may not C-MOVE")
    destination = access.destination(request.MoveDestination)
    if destination is None:
        logger.warning("C-MOVE from %s refused: unknown destination %r", aet, request.MoveDestination)
        return MoveAnswer(MOVE_DESTINATION_UNKNOWN, "Unknown move destination")
    try:
        try:
            identifier = identifier_of(request, context)
            for _ in identifier:  # pydicom decodes lazily: a damaged element fails here
                pass
        except Exception as error:  # pydicom raises many kinds on damaged input
            raise RetrieveRefused(UNABLE_TO_PROCESS, f"the identifier cannot be decoded: {error}") from error
        instances = list(instances_for(identifier, request.AffectedSOPClassUID))
        if not instances:
            raise RetrieveRefused(UNABLE_TO_PROCESS, "the request designates no stored instance")
    except RetrieveRefused as refusal:
        logger.warning("C-MOVE from %s refused: %s", aet, refusal.reason)
        return MoveAnswer(refusal.status, refusal.reason)
    except DatabaseError as error:
        logger.error("C-MOVE from %s failed: %s", aet, error)
        return MoveAnswer(UNABLE_TO_PROCESS, "The database failed")
    if not settings.PHAROS_DICOM_SYNCHRONOUS_CMOVE:
        audit.record_instances(audit.DICOM_MOVE, instances, aet=aet, ip=address, detail=f"to {destination.aet} (a job)")
        return move_as_job(aet, request, destination, instances)
    PLANNED[request] = instances
    return None


def move_as_job(aet, request, destination, instances):
    """Orthanc's asynchronous C-MOVE: a DicomModalityStore job sends the instances, and the
    requestor is told at once that every sub-operation succeeded."""
    from dicomnet import jobs

    parameters = {
        "Modality": destination.name,
        "Resources": [instance.public_id for instance in instances],
        "Description": "C-MOVE",
        "MoveOriginatorAet": aet,
        "MoveOriginatorID": request.MessageID,
    }
    job = jobs.submit("DicomModalityStore", parameters)
    logger.info("C-MOVE from %s to %s: %d instances, sent by job %s", aet, destination.aet, len(instances), job.id)
    return MoveAnswer(SUCCESS, completed=len(instances))


def move(event):
    """EVT_C_MOVE: send the designated instances to the move destination, a configured modality."""
    destination = access.destination(event.move_destination)
    if destination is None:
        logger.warning("C-MOVE from %s refused: unknown destination %r", requestor_aet(event), event.move_destination)
        yield None, None  # pynetdicom answers 0xA801 Move Destination Unknown
        return
    instances = PLANNED.pop(event.request, None)
    if instances is None:  # move_answer did not run
        try:
            instances = requested_instances(event)
        except RetrieveRefused as refusal:
            logger.warning("C-MOVE from %s refused: %s", requestor_aet(event), refusal.reason)
            yield None, None
            return
    logger.info("C-MOVE from %s to %s: %d instances", requestor_aet(event), destination.aet, len(instances))
    audit.record_instances(audit.DICOM_MOVE, instances, **requestor(event), detail=f"to {destination.aet}")
    link = StoreAssociation(destination)
    yield link.address(contexts_for(instances, destination.allow_transcoding))
    yield len(instances)
    yield from sub_operations(event, instances, link.syntaxes_for, destination.allow_transcoding)


# --- C-GET ------------------------------------------------------------------------------


def transcoding_allowed_for(event):
    requestor = event.assoc.requestor
    modality = access.known_modality(requestor.ae_title.strip(), requestor.address)
    return modality.allow_transcoding if modality else True


def get_refusal(status):
    """How an EVT_C_GET handler answers a failure status: pynetdicom reads the first yield
    as the number of sub-operations, so one is announced (and reported as failed)."""
    yield 1
    yield status, None


def get(event):
    """EVT_C_GET: send the designated instances back over the requesting association, in
    the storage contexts the requestor proposed with the SCP role."""
    try:
        instances = requested_instances(event)
    except RetrieveRefused as refusal:
        logger.warning("C-GET from %s refused: %s", requestor_aet(event), refusal.reason)
        yield from get_refusal(refusal.status)
        return
    logger.info("C-GET from %s: %d instances", requestor_aet(event), len(instances))
    audit.record_instances(audit.DICOM_GET, instances, **requestor(event), detail="C-GET")
    yield len(instances)

    def syntaxes_for(sop_class):
        return accepted_syntaxes(event.assoc.accepted_contexts, sop_class)

    yield from sub_operations(event, instances, syntaxes_for, transcoding_allowed_for(event))
