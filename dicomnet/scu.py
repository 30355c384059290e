"""Our SCU: C-ECHO, C-STORE, C-FIND, C-MOVE and C-GET against a remote modality, as plain functions.

Each function takes a `Modality` row and plain values, opens its own association and
closes it before returning; none of them knows about queues, jobs or requests. The
association uses the modality's local AE title (or PHAROS_AET) as calling AE, its
timeout (or PHAROS_DICOM_SCU_TIMEOUT) for connection, ACSE, DIMSE and network waits,
PHAROS_DICOM_MAX_PDU as the largest PDU we receive, and TCP_NODELAY on its socket.

Long operations report `progress(done, total, failed)` and call `should_stop()` between
sub-operations. `should_stop` may raise its own exception (the job layer does), which
propagates once the association is in a clean state (a C-MOVE / C-GET is cancelled
with C-CANCEL first); when it returns True, `Stopped` is raised instead.

Every failure to talk to the modality is a `ScuError`; its message names the AE title,
host and port, starting the way Orthanc's do (`DicomAssociation - connecting to AET
"NOPE": TCP Initialization Error: Connection refused (host: 10.0.0.9, port: 104)`).
A query or identifier that cannot be encoded is a `BadQuery` (a 400 for the REST API),
and a stop request is `Stopped`: neither is a network failure.
"""

import logging
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pydicom
from django.conf import settings
from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.tag import Tag
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)
from pynetdicom import AE, StoragePresentationContexts, _config, build_context, build_role, evt
from pynetdicom.pdu import A_ABORT_RQ
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelFind,
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)
from pynetdicom.status import (
    QR_FIND_SERVICE_CLASS_STATUS,
    QR_GET_SERVICE_CLASS_STATUS,
    QR_MOVE_SERVICE_CLASS_STATUS,
    STORAGE_SERVICE_CLASS_STATUS,
    VERIFICATION_SERVICE_CLASS_STATUS,
    code_to_category,
)

from dicomnet.contexts import UNCOMPRESSED, accepted_transfer_syntaxes, set_no_delay
from dicomnet.transcoding import to_explicit_little_endian
from explorer import levels, storage
from explorer.errors import BadFileFormat, BadRequest, DatabaseFailure, StorageFailure
from explorer.ingest import Origin, store_instance, store_instance_file

logger = logging.getLogger("dicomnet")

SUCCESS = 0x0000
CANCEL = 0xFE00
PENDING = (0xFF00, 0xFF01)
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC000

MAX_CONTEXTS = 128  # PS3.8: presentation context ids are the odd numbers 1 to 255
LITTLE_ENDIAN = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
# pynetdicom re-encodes a data set between these by itself, without touching pixel data.
CONVERTIBLE = frozenset({*LITTLE_ENDIAN, DeflatedExplicitVRLittleEndian})
RETRY_DELAY_SECONDS = 1.0

# Orthanc's normalisation of a C-FIND (DicomControlUserConnection): besides the main tags
# of the level and the levels above, each level allows its computed keys (and, at the
# instance level, SOPClassUID, which a retrieve decision often needs)...
LEVEL_RETURN_KEYS = {
    "Patient": ("NumberOfPatientRelatedStudies", "NumberOfPatientRelatedSeries", "NumberOfPatientRelatedInstances"),
    "Study": ("ModalitiesInStudy", "SOPClassesInStudy", "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances"),
    "Series": ("NumberOfSeriesRelatedInstances",),
    "Instance": ("SOPClassUID",),
}
# ...and asks for the keys a retrieve will need, empty when the query does not give them.
EXPECTED_KEYS = {
    "Patient": ("PatientID",),
    "Study": ("PatientID", "AccessionNumber", "StudyInstanceUID"),
    "Series": ("PatientID", "AccessionNumber", "StudyInstanceUID", "SeriesInstanceUID"),
    "Instance": ("PatientID", "AccessionNumber", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"),
}
# The unique keys a C-MOVE / C-GET identifier carries at each level (Study Root above the
# patient level, as Orthanc sends them).
RETRIEVE_KEYS = {
    "Patient": ("PatientID",),
    "Study": ("StudyInstanceUID",),
    "Series": ("StudyInstanceUID", "SeriesInstanceUID"),
    "Instance": ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"),
}
BINARY_NUMBER_VRS = {"US", "SS", "UL", "SL", "UV", "SV", "FL", "FD", "AT"}


# --- Exceptions ---------------------------------------------------------------------------


class ScuError(Exception):
    """Talking to the remote modality failed; the message says with whom and why."""


class NetworkError(ScuError):
    """No connection (refused, unreachable, timed out), or the connection was lost."""


class AssociationRejected(ScuError):
    """The modality rejected the association, or accepted none of the proposed contexts."""

    def __init__(self, message, transient=False):
        super().__init__(message)
        self.transient = transient


class AssociationAborted(ScuError):
    """The modality aborted the association (A-ABORT)."""


class RemoteFailure(ScuError):
    """The modality answered a request with a failure status (or a warning with failed sub-operations)."""

    def __init__(self, message, status, completed=0, failed=0, warning=0):
        super().__init__(message)
        self.status = status
        self.completed = completed
        self.failed = failed
        self.warning = warning


class BadQuery(BadRequest):
    """A query key or identifier that cannot become a DICOM identifier."""


class Stopped(Exception):
    """`should_stop()` returned True; `content` is what was done until then."""

    def __init__(self, content=None):
        super().__init__("Stopped on request")
        self.content = content


# --- Settings -----------------------------------------------------------------------------


def local_aet(modality):
    return modality.local_aet or settings.PHAROS_AET


def timeout_of(modality):
    return modality.timeout or settings.PHAROS_DICOM_SCU_TIMEOUT


def store_retries():
    return getattr(settings, "PHAROS_DICOM_STORE_RETRIES", 2)


def _failure_text(modality, doing, reason):
    """Orthanc's wording, plus where the modality is: it is what an administrator checks first."""
    return f'DicomAssociation - {doing} AET "{modality.aet}": {reason} (host: {modality.host}, port: {modality.port})'


# --- Associations ---------------------------------------------------------------------------


class _ConnectionErrors(logging.Handler):
    """pynetdicom logs why a TCP connection failed and keeps no other trace of it. This keeps
    the last such reason per thread: the failed association's DUL thread."""

    PREFIX = "TCP Initialisation Error: "

    def __init__(self):
        super().__init__(logging.ERROR)
        self._by_thread = {}

    def emit(self, record):
        message = record.getMessage()
        if message.startswith(self.PREFIX):
            self._by_thread[record.thread] = re.sub(r"^\[Errno -?\d+\]\s*", "", message[len(self.PREFIX) :])

    def reason_for(self, thread_id):
        return self._by_thread.pop(thread_id, None)


_connection_errors = _ConnectionErrors()
_connection_errors_lock = threading.Lock()


def _watch_connection_errors():
    # Checked on every association: a later logging configuration may have removed it.
    transport_logger = logging.getLogger("pynetdicom.transport")
    with _connection_errors_lock:
        if _connection_errors not in transport_logger.handlers:
            transport_logger.addHandler(_connection_errors)


class _Link:
    """What pynetdicom's events tell of an association beyond its public flags."""

    def __init__(self):
        self.connected = False
        self.peer_aborted = False

    def handlers(self):
        return [(evt.EVT_CONN_OPEN, self._opened), (evt.EVT_PDU_RECV, self._received)]

    def _opened(self, event):
        self.connected = True
        set_no_delay(event)

    def _received(self, event):
        if isinstance(event.pdu, A_ABORT_RQ):
            self.peer_aborted = True


class _Session:
    """One association with a modality: opened on first use, opened again after it is lost
    (with `retries` further attempts each time), released at the end of the `with` block."""

    def __init__(self, modality, contexts, roles=(), handlers=(), retries=0):
        self.modality = modality
        self.contexts = list(contexts)
        self.roles = list(roles)
        self.handlers = list(handlers)
        self.retries = retries
        self._assoc = None
        self._link = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def association(self):
        if self._assoc is None or not self._assoc.is_established:
            self._assoc = self._open()
        return self._assoc

    def close(self):
        if self._assoc is not None and self._assoc.is_established:
            self._assoc.release()
        self._assoc = None

    def _open(self):
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return self._open_once()
            except AssociationRejected as error:
                if not error.transient or attempt == attempts:
                    raise
                failure = error
            except (NetworkError, AssociationAborted) as error:
                if attempt == attempts:
                    raise
                failure = error
            logger.info("Association attempt %d of %d failed, retrying: %s", attempt, attempts, failure)
            time.sleep(RETRY_DELAY_SECONDS)

    def _open_once(self):
        modality = self.modality
        ae = AE(ae_title=local_aet(modality))
        timeout = timeout_of(modality)
        ae.connection_timeout = ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout
        self._link = _Link()
        _watch_connection_errors()
        try:
            assoc = ae.associate(
                modality.host,
                modality.port,
                contexts=self.contexts,
                ae_title=modality.aet,
                max_pdu=settings.PHAROS_DICOM_MAX_PDU,
                ext_neg=self.roles or None,
                evt_handlers=self._link.handlers() + self.handlers,
            )
        except OSError as error:  # the host name does not resolve
            reason = f"TCP Initialization Error: {error.strerror or error}"
            raise NetworkError(_failure_text(modality, "connecting to", reason)) from error
        if assoc.is_established:
            return assoc
        raise self._refusal(assoc)

    def _refusal(self, assoc):
        modality, link = self.modality, self._link
        if not link.connected:
            reason = _connection_errors.reason_for(assoc.dul.ident) or "cannot connect"
            return NetworkError(_failure_text(modality, "connecting to", f"TCP Initialization Error: {reason}"))
        answer = assoc.acceptor.primitive
        if assoc.is_rejected and answer is not None:
            reason = (
                f"Association Rejected: {answer.result_str}, Source: {answer.source_str}, Reason: {answer.reason_str}"
            )
            transient = answer.result == 0x02
            return AssociationRejected(_failure_text(modality, "connecting to", reason), transient=transient)
        if answer is not None and answer.result == 0x00:
            reason = f"the modality accepted none of the {len(self.contexts)} proposed presentation contexts"
            return AssociationRejected(_failure_text(modality, "connecting to", reason))
        if link.peer_aborted:
            return AssociationAborted(_failure_text(modality, "connecting to", "the modality aborted the association"))
        reason = f"no valid answer to the association request within {timeout_of(modality)} s, or connection closed"
        return NetworkError(_failure_text(modality, "connecting to", reason))

    def lost(self, doing):
        """The error to raise when a request got no answer; the association is forgotten."""
        assoc, self._assoc = self._assoc, None
        if self._link is not None and self._link.peer_aborted:
            return AssociationAborted(_failure_text(self.modality, doing, "the modality aborted the association"))
        if assoc is not None and assoc.is_established:
            assoc.abort()
        reason = f"the connection was lost, or no answer came within {timeout_of(self.modality)} s"
        return NetworkError(_failure_text(self.modality, doing, reason))


def _stop_requested(should_stop, content=None):
    """The exception that stops the operation, or None: `should_stop` may raise its own."""
    if should_stop is None:
        return None
    try:
        stop = should_stop()
    except Exception as error:  # the caller's own stop signal, re-raised once the association is clean
        return error
    return Stopped(content) if stop else None


def _check_stop(should_stop, content=None):
    stop = _stop_requested(should_stop, content)
    if stop is not None:
        raise stop


def _report(progress, done, total, failed):
    if progress is not None:
        progress(done, total, failed)


def _status_text(code, statuses):
    meaning = statuses.get(code, (None, "unknown status"))[1]
    return f"0x{code:04X} ({meaning})"


def _is_success(code):
    return code_to_category(code) in ("Success", "Warning")


# --- C-ECHO -----------------------------------------------------------------------------------


def echo(modality):
    """C-ECHO; returns None or raises ScuError."""
    with _Session(modality, [build_context(Verification, list(UNCOMPRESSED))]) as session:
        status = session.association().send_c_echo()
        if "Status" not in status:
            raise session.lost("C-ECHO to")
        if status.Status != SUCCESS:
            reason = f"C-ECHO failed with status {_status_text(status.Status, VERIFICATION_SERVICE_CLASS_STATUS)}"
            raise RemoteFailure(_failure_text(modality, "C-ECHO to", reason), status.Status)


# --- C-STORE ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Outgoing:
    """An instance to send, with what choosing its presentation context needs."""

    public_id: str
    sop_class: UID
    syntax: UID
    path: Path
    has_syntax_in_file: bool  # False: the file has no Transfer Syntax UID in its meta information


class _Undeliverable(Exception):
    """One instance cannot travel on this association; the store goes on with the next."""


def _outgoing(instance):
    path = storage.path_for(instance.file_uuid)
    sop_class = instance.sop_class_uid
    if not sop_class:
        try:
            sop_class = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID"]).SOPClassUID
        except Exception:  # pydicom raises many kinds on a damaged file: the send will report it
            sop_class = ""
    # The index keeps "" for a file without one, which pydicom then reads as Implicit VR LE.
    syntax = instance.transfer_syntax_uid or ImplicitVRLittleEndian
    return _Outgoing(instance.public_id, UID(sop_class), UID(syntax), path, bool(instance.transfer_syntax_uid))


@dataclass
class _Batch:
    contexts: list
    items: list


def _store_batches(items):
    """The instances grouped so that each group's presentation contexts fit in one association:
    per SOP class one context per stored transfer syntax plus Explicit and Implicit VR Little
    Endian, each with a single transfer syntax so that what is accepted is never a guess."""
    syntaxes_by_class = {}
    for item in items:
        if item.sop_class:
            syntaxes_by_class.setdefault(item.sop_class, dict.fromkeys(LITTLE_ENDIAN))[item.syntax] = None
    batch_of_class, batches = {}, []
    for sop_class, syntaxes in syntaxes_by_class.items():
        contexts = [build_context(sop_class, syntax) for syntax in syntaxes]
        if not batches or len(batches[-1].contexts) + len(contexts) > MAX_CONTEXTS:
            batches.append(_Batch([], []))
        batches[-1].contexts.extend(contexts)
        batch_of_class[sop_class] = batches[-1]
    unclassified = []  # no SOP class: nothing to propose, each counts as a failure
    for item in items:
        (batch_of_class[item.sop_class].items if item.sop_class in batch_of_class else unclassified).append(item)
    return batches, unclassified


def _accepted_syntaxes(assoc, sop_class):
    return {cx.transfer_syntax[0] for cx in assoc.accepted_contexts if cx.abstract_syntax == sop_class}


def _read_dataset(item):
    try:
        dataset = pydicom.dcmread(item.path, force=True)
    except Exception as error:  # a missing file, or one of pydicom's many parse errors
        raise _Undeliverable(f"its file cannot be read: {error}") from error
    if "TransferSyntaxUID" not in dataset.file_meta:
        dataset.file_meta.TransferSyntaxUID = item.syntax
    return dataset


def _send_dataset(assoc, dataset):
    try:
        return assoc.send_c_store(dataset)
    except (ValueError, AttributeError) as error:  # no usable context, or pynetdicom cannot encode it
        raise _Undeliverable(str(error)) from error


def _send_instance(assoc, item, allow_transcoding):
    """The C-STORE response to sending one instance; raises _Undeliverable."""
    accepted = _accepted_syntaxes(assoc, item.sop_class)
    if not accepted:
        raise _Undeliverable(f"the modality accepted no presentation context for {item.sop_class.name}")
    if item.syntax in accepted and item.has_syntax_in_file:
        # The fastest way and byte for byte: pynetdicom streams the data set from the file.
        try:
            return assoc.send_c_store(item.path)
        except (OSError, ValueError, AttributeError, InvalidDicomError) as error:
            raise _Undeliverable(f"its file cannot be sent: {error}") from error
    dataset = _read_dataset(item)
    syntax = dataset.file_meta.TransferSyntaxUID
    if syntax in accepted or (syntax in CONVERTIBLE and accepted & CONVERTIBLE):
        return _send_dataset(assoc, dataset)
    if not allow_transcoding:
        raise _Undeliverable(f"the modality does not accept {syntax.name} and transcoding is not allowed")
    if not accepted & CONVERTIBLE:
        raise _Undeliverable(f"the modality accepts neither {syntax.name} nor an uncompressed transfer syntax")
    try:
        to_explicit_little_endian(dataset)
    except Exception as error:  # decoders raise anything: ValueError, RuntimeError, NotImplementedError…
        raise _Undeliverable(f"it cannot be decoded from {syntax.name}: {error}") from error
    return _send_dataset(assoc, dataset)


def _store_one(session, item, allow_transcoding, resend_if_lost=True):
    """Send one instance; True when the modality took it. Raises ScuError only when the
    association cannot be (re)opened."""
    assoc = session.association()
    try:
        status = _send_instance(assoc, item, allow_transcoding)
    except _Undeliverable as why:
        logger.warning("C-STORE to %s: instance %s not sent: %s", session.modality.aet, item.public_id, why)
        return False
    if "Status" not in status:
        lost = session.lost("C-STORE to")
        if resend_if_lost:
            # pynetdicom 3.0 now and then hands a C-STORE response to its reactor instead of
            # the waiting request (a race in Association.send_c_store), which then times out
            # although the modality stored the instance. Storing it again is harmless.
            logger.warning("C-STORE to %s: instance %s: %s; sending it again", session.modality.aet, item.public_id, lost)
            return _store_one(session, item, allow_transcoding, resend_if_lost=False)
        # Counted as failed; the next instance opens a new association (or fails the store).
        logger.warning("C-STORE to %s: instance %s: %s", session.modality.aet, item.public_id, lost)
        return False
    if not _is_success(status.Status):
        text = _status_text(status.Status, STORAGE_SERVICE_CLASS_STATUS)
        logger.warning("C-STORE to %s: instance %s refused with status %s", session.modality.aet, item.public_id, text)
        return False
    return True


def store(modality, instances, progress=None, should_stop=None):
    """C-STORE the instances (explorer.models.Instance) to the modality, over one association
    (more only past 128 presentation contexts). Returns Orthanc's job content; the caller
    fills ParentResources. Raises ScuError when no association can be opened after
    PHAROS_DICOM_STORE_RETRIES further attempts."""
    # Sending a file path streams it from disk instead of decoding it (pynetdicom's switch is
    # global; it changes nothing for callers that send data sets).
    _config.STORE_SEND_CHUNKED_DATASET = True
    items = [_outgoing(instance) for instance in instances]
    content = {
        "Description": "REST API",
        "FailedInstancesCount": 0,
        "InstancesCount": len(items),
        "LocalAet": local_aet(modality),
        "ParentResources": [],
        "RemoteAet": modality.aet,
    }
    batches, unclassified = _store_batches(items)
    done = 0
    for item in unclassified:
        logger.warning("C-STORE to %s: instance %s not sent: no SOP Class UID", modality.aet, item.public_id)
        done += 1
        content["FailedInstancesCount"] += 1
    for batch in batches:
        with _Session(modality, batch.contexts, retries=store_retries()) as session:
            for item in batch.items:
                _check_stop(should_stop, content)
                if not _store_one(session, item, modality.allow_transcoding):
                    content["FailedInstancesCount"] += 1
                done += 1
                _report(progress, done, len(items), content["FailedInstancesCount"])
    return content


# --- Identifiers ------------------------------------------------------------------------------


def _level_of(level):
    if isinstance(level, levels.Level):
        return level
    found = levels.level_named(str(level or ""))
    if found is None:
        raise BadQuery(f"Unknown query level {level!r}: use Patient, Study, Series or Instance")
    return found


def _model(level, patient_root, study_root):
    # Study Root has no patient level (PS3.4 C.6.2).
    return patient_root if level is levels.PATIENT else study_root


def _tag_of(key):
    """A Tag from a keyword or 'gggg,eeee' (also 'ggggeeee'), or None."""
    text = str(key).strip()
    match = re.fullmatch(r"\(?([0-9A-Fa-f]{4}),?([0-9A-Fa-f]{4})\)?", text)
    if match:
        return Tag(int(match.group(1), 16), int(match.group(2), 16))
    found = tag_for_keyword(text)
    return Tag(found) if found is not None else None


def _vr_of(tag):
    try:
        return dictionary_VR(tag).split(" or ")[0]  # "US or SS" → US
    except KeyError:
        return None


def _element_value(key, vr, text):
    text = "" if text is None else str(text)
    if vr == "SQ":
        if text:
            raise BadQuery(f"{key}: a sequence can only be asked for, with an empty value")
        return []
    if vr in BINARY_NUMBER_VRS:
        if not text:
            return None
        try:
            return [_number(vr, v) for v in text.split("\\")]
        except ValueError as error:
            raise BadQuery(f"{key}: {text!r} is not a number") from error
    return text


def _number(vr, text):
    if vr in ("FL", "FD"):
        return float(text)
    return int(text.replace(",", ""), 16) if vr == "AT" else int(text)


def _put(dataset, key, tag, text):
    vr = _vr_of(tag)
    if vr is None:
        raise BadQuery(f"Unknown DICOM tag {key!r}")
    # Wildcards and ranges are not valid values of their VR; in a query they are the point.
    dataset[tag] = DataElement(tag, vr, _element_value(key, vr, text), validation_mode=pydicom.config.IGNORE)


def _set_character_set(dataset, values):
    """UTF-8 when a value is not ASCII and the query names no character set of its own."""
    if any(not str(value or "").isascii() for value in values) and not dataset.get("SpecificCharacterSet"):
        dataset.SpecificCharacterSet = "ISO_IR 192"


def _allowed_tags(level):
    keywords = [keyword for above in levels.LEVELS[: levels.LEVELS.index(level) + 1] for keyword in above.main_tags]
    keywords += [*LEVEL_RETURN_KEYS[level.name], "SpecificCharacterSet"]
    return {Tag(tag_for_keyword(keyword)) for keyword in keywords}


def _find_identifier(level, query, normalize):
    """The C-FIND identifier for a query {keyword or 'gggg,eeee': value}, and the keys dropped."""
    identifier, dropped = Dataset(), []
    allowed = _allowed_tags(level) if normalize else None
    query_level_tag = Tag(tag_for_keyword("QueryRetrieveLevel"))
    for key, value in query.items():
        tag = _tag_of(key)
        if tag == query_level_tag:
            continue  # set from `level`
        if normalize and tag not in allowed:
            dropped.append(key)
            continue
        if tag is None:
            raise BadQuery(f"Unknown DICOM tag {key!r}")
        _put(identifier, key, tag, value)
    if normalize:
        for keyword in EXPECTED_KEYS[level.name]:
            if keyword not in identifier:
                _put(identifier, keyword, Tag(tag_for_keyword(keyword)), "")
    identifier.QueryRetrieveLevel = level.query_level
    _set_character_set(identifier, query.values())
    return identifier, dropped


def _retrieve_identifier(level, keys):
    """The C-MOVE / C-GET identifier for {keyword or 'gggg,eeee': value}: the level's unique
    key, and those above it when given (Orthanc sends no other key)."""
    values = {}
    for key, value in keys.items():
        tag = _tag_of(key)
        if tag is None:
            raise BadQuery(f"Unknown DICOM tag {key!r}")
        values[keyword_for_tag(tag)] = "" if value is None else str(value).strip()
    if not values.get(level.identifier):
        raise BadQuery(f"A {level.name} level retrieve needs {level.identifier}")
    identifier = Dataset()
    identifier.QueryRetrieveLevel = level.query_level
    for keyword in RETRIEVE_KEYS[level.name]:
        if values.get(keyword):
            setattr(identifier, keyword, values[keyword])
    _set_character_set(identifier, values.values())
    return identifier


def _as_orthanc_query(level, keys):
    """An identifier as Orthanc shows it in a job's content: {'gggg,eeee': value}."""
    shown = {"0008,0052": level.query_level}
    for key, value in keys.items():
        tag = _tag_of(key)
        shown[f"{tag.group:04x},{tag.element:04x}"] = "" if value is None else str(value)
    return dict(sorted(shown.items()))


# --- C-FIND -----------------------------------------------------------------------------------


def find(modality, level, query, normalize=True):
    """C-FIND at a level (Patient, Study, Series, Instance) in the Study Root model (Patient
    Root at the patient level). Returns (answers as pydicom Datasets, keys dropped by the
    normalisation)."""
    level = _level_of(level)
    identifier, dropped = _find_identifier(level, query, normalize)
    if dropped:
        logger.info("C-FIND to %s: keys not allowed at the %s level, ignored: %s", modality.aet, level.name, dropped)
    model = _model(level, PatientRootQueryRetrieveInformationModelFind, StudyRootQueryRetrieveInformationModelFind)
    answers = []
    with _Session(modality, [build_context(model, list(LITTLE_ENDIAN))]) as session:
        for status, answer in session.association().send_c_find(identifier, model):
            if "Status" not in status:
                raise session.lost("C-FIND to")
            if status.Status in PENDING:
                if answer is not None:
                    answers.append(answer)
                continue
            if status.Status != SUCCESS:
                reason = f"C-FIND failed with status {_status_text(status.Status, QR_FIND_SERVICE_CLASS_STATUS)}"
                raise RemoteFailure(_failure_text(modality, "C-FIND to", reason), status.Status)
    return answers, dropped


# --- C-MOVE and C-GET -------------------------------------------------------------------------


class _SubOperations:
    """The sub-operation counts of a series of C-MOVE / C-GET requests, from their responses."""

    KEYS = {
        "remaining": "NumberOfRemainingSuboperations",
        "completed": "NumberOfCompletedSuboperations",
        "failed": "NumberOfFailedSuboperations",
        "warning": "NumberOfWarningSuboperations",
    }

    def __init__(self, progress):
        self.progress = progress
        self.finished = Counter()  # the requests answered so far
        self.current = Counter()

    def update(self, status, final=False):
        counts = Counter(
            {name: int(status.get(keyword) or 0) for name, keyword in self.KEYS.items() if keyword in status}
        )
        if final and not counts:
            counts = self.current  # some modalities give the counts in pending responses only
        if final:
            counts["remaining"] = 0
        self.current = counts
        _report(self.progress, self.done, self.total, self.failed)
        if final:
            self.finished.update({name: counts[name] for name in ("completed", "failed", "warning")})
            self.current = Counter()

    def _sum(self, name):
        return self.finished[name] + self.current[name]

    @property
    def done(self):
        return self._sum("completed") + self._sum("failed") + self._sum("warning")

    @property
    def total(self):
        return self.done + self.current["remaining"]

    @property
    def failed(self):
        return self._sum("failed")


def _follow(session, responses, message_id, model, tally, should_stop, doing, statuses):
    """Consume one C-MOVE / C-GET's responses; a stop request sends C-CANCEL, waits for the
    final response and then raises."""
    stop = None
    for status, _ in responses:
        if "Status" not in status:
            raise session.lost(doing)
        code = status.Status
        if code in PENDING:
            tally.update(status)
            if stop is None:
                stop = _stop_requested(should_stop)
                if stop is not None:
                    session.association().send_c_cancel(message_id, query_model=model)
            continue
        tally.update(status, final=True)
        if stop is not None:
            raise stop
        _check_final(session.modality, status, tally, doing, statuses)
        return


def _check_final(modality, status, tally, doing, statuses):
    code = status.Status
    if code == SUCCESS:
        return
    counts = {name: tally.finished[name] for name in ("completed", "failed", "warning")}
    summary = f"{counts['completed']} completed, {counts['failed']} failed, {counts['warning']} with warnings"
    if code == CANCEL:
        reason = f"cancelled by the modality ({summary})"
    else:
        reason = f"status {_status_text(code, statuses)} ({summary})"
    if status.get("ErrorComment"):
        reason += f": {status.ErrorComment}"
    if code_to_category(code) == "Warning" and not counts["failed"]:
        return  # a warning without failed sub-operations is a success with remarks
    raise RemoteFailure(_failure_text(modality, doing, reason), code, **counts)


def _require_context(session, assoc, model, doing):
    # A C-GET association may be accepted for its storage contexts alone.
    if not any(cx.abstract_syntax == model and cx.as_scu for cx in assoc.accepted_contexts):
        reason = f"the modality does not accept the {UID(model).name}"
        raise AssociationRejected(_failure_text(session.modality, doing, reason))


def _retrieve(session, requests, send, model, progress, should_stop, doing, statuses):
    """Send one C-MOVE / C-GET per identifier over the session's association."""
    tally = _SubOperations(progress)
    for number, identifier in enumerate(requests):
        _check_stop(should_stop)
        message_id = number % 65535 + 1
        assoc = session.association()
        _require_context(session, assoc, model, doing)
        responses = send(assoc, identifier, message_id)
        _follow(session, responses, message_id, model, tally, should_stop, doing, statuses)
    return tally


def _retrieve_content(modality, level, identifiers):
    return {
        "Description": "REST API",
        "LocalAet": local_aet(modality),
        "Query": [_as_orthanc_query(level, keys) for keys in identifiers],
        "RemoteAet": modality.aet,
    }


def move(modality, level, identifiers, target_aet=None, progress=None, should_stop=None):
    """C-MOVE to `target_aet` (by default our own AE title for this modality), one request
    per identifier ({keyword: value} of unique keys). Returns Orthanc's DicomMoveScu job
    content. Raises RemoteFailure when the final status is a failure, or a warning with
    failed sub-operations."""
    level = _level_of(level)
    target_aet = target_aet or local_aet(modality)
    model = _model(level, PatientRootQueryRetrieveInformationModelMove, StudyRootQueryRetrieveInformationModelMove)
    requests = [_retrieve_identifier(level, keys) for keys in identifiers]
    content = {**_retrieve_content(modality, level, identifiers), "TargetAet": target_aet}

    def send(assoc, identifier, message_id):
        return assoc.send_c_move(identifier, target_aet, model, msg_id=message_id)

    with _Session(modality, [build_context(model, list(LITTLE_ENDIAN))]) as session:
        _retrieve(session, requests, send, model, progress, should_stop, "C-MOVE to", QR_MOVE_SERVICE_CLASS_STATUS)
    return content


def _get_contexts(model):
    """The retrieve context and, with the SCP role, storage contexts for the instances coming
    back: the uncompressed syntaxes first, as a peer that cannot compress then never picks a
    compressed one (and most peers decompress when asked)."""
    accepted = accepted_transfer_syntaxes()
    syntaxes = [uid for uid in UNCOMPRESSED if uid in accepted] + [uid for uid in accepted if uid not in UNCOMPRESSED]
    storage_classes = [cx.abstract_syntax for cx in StoragePresentationContexts][: MAX_CONTEXTS - 1]
    contexts = [build_context(model, list(LITTLE_ENDIAN))]
    contexts += [build_context(sop_class, syntaxes) for sop_class in storage_classes]
    roles = [build_role(sop_class, scp_role=True) for sop_class in storage_classes]
    return contexts, roles


class _Receiver:
    """EVT_C_STORE during a C-GET: every instance goes through the ingest funnel."""

    def __init__(self, origin):
        self.origin = origin
        self.stored = 0

    def __call__(self, event):
        try:
            if _config.STORE_RECV_CHUNKED_DATASET:  # set by our SCP when it runs in this process
                store_instance_file(str(event.dataset_path), self.origin)
            else:
                store_instance(event.encoded_dataset(include_meta=True), self.origin)
        except BadFileFormat as error:
            logger.warning("C-GET from %s: instance refused: %s", self.origin.remote_aet, error.details)
            return CANNOT_UNDERSTAND
        except (StorageFailure, DatabaseFailure) as error:
            logger.error("C-GET from %s: instance not stored: %s", self.origin.remote_aet, error.details)
            return OUT_OF_RESOURCES
        self.stored += 1
        return SUCCESS


def get(modality, level, identifiers, progress=None, should_stop=None, origin=None):
    """C-GET, one request per identifier; the instances arrive on the same association and
    are stored through the ingest funnel, recorded with `origin` (by default: DicomProtocol
    from the modality's AE title and host, called AE our local AE title). Returns the move
    content's shape plus InstancesCount (stored) and FailedInstancesCount (failed
    sub-operations)."""
    level = _level_of(level)
    model = _model(level, PatientRootQueryRetrieveInformationModelGet, StudyRootQueryRetrieveInformationModelGet)
    requests = [_retrieve_identifier(level, keys) for keys in identifiers]
    contexts, roles = _get_contexts(model)
    if origin is None:
        origin = Origin(
            kind="DicomProtocol", remote_aet=modality.aet, remote_ip=modality.host, called_aet=local_aet(modality)
        )
    receiver = _Receiver(origin)

    def send(assoc, identifier, message_id):
        return assoc.send_c_get(identifier, model, msg_id=message_id)

    with _Session(modality, contexts, roles=roles, handlers=[(evt.EVT_C_STORE, receiver)]) as session:
        statuses = QR_GET_SERVICE_CLASS_STATUS
        tally = _retrieve(session, requests, send, model, progress, should_stop, "C-GET to", statuses)
    content = _retrieve_content(modality, level, identifiers)
    content.update(InstancesCount=receiver.stored, FailedInstancesCount=tally.finished["failed"])
    return content
