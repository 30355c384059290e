"""C-STORE of stored instances to a modality, over as few associations as their
presentation contexts allow, transcoding only what the modality cannot take as it is: into
the best transfer syntax it accepts (explorer.transcoding.best_syntax), compressed ones too."""

import logging
from dataclasses import dataclass
from pathlib import Path

import pydicom
from django.conf import settings
from pydicom.errors import InvalidDicomError
from pydicom.uid import UID, DeflatedExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import build_context
from pynetdicom.status import STORAGE_SERVICE_CLASS_STATUS, code_to_category

from dicomnet.scu.association import (
    LITTLE_ENDIAN,
    MAX_CONTEXTS,
    Session,
    check_stop,
    local_aet,
    report,
    status_text,
)
from dicomnet.wire import config as wire_config
from explorer import storage
from explorer.transcoding import TRANSCODING_TARGETS, best_syntax, transcode

logger = logging.getLogger("dicomnet")

# pynetdicom re-encodes a data set between these by itself, without touching pixel data.
CONVERTIBLE = frozenset({*LITTLE_ENDIAN, DeflatedExplicitVRLittleEndian})


def store_retries():
    return getattr(settings, "PHAROS_DICOM_STORE_RETRIES", 2)


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


def _store_batches(items, allow_transcoding=True):
    """The instances grouped so that each group's presentation contexts fit in one association:
    per SOP class one context per stored transfer syntax plus Explicit and Implicit VR Little
    Endian and, when transcoding is allowed, the lossless compressed syntaxes Pharos writes
    (for a modality that takes only those); each with a single transfer syntax so that what
    is accepted is never a guess."""
    proposed = (*LITTLE_ENDIAN, *TRANSCODING_TARGETS) if allow_transcoding else LITTLE_ENDIAN
    syntaxes_by_class = {}
    for item in items:
        if item.sop_class:
            syntaxes_by_class.setdefault(item.sop_class, dict.fromkeys(proposed))[item.syntax] = None
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
    target = best_syntax(syntax, accepted)
    if target is None:
        raise _Undeliverable(f"the modality accepts neither {syntax.name} nor a transfer syntax Pharos writes")
    try:
        transcode(dataset, target)
    except Exception as error:  # TranscodingError, or a decoder's own kind
        raise _Undeliverable(f"it cannot be transcoded from {syntax.name} to {target.name}: {error}") from error
    return _send_dataset(assoc, dataset)


def _is_success(code):
    return code_to_category(code) in ("Success", "Warning")


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
            logger.warning(
                "C-STORE to %s: instance %s: %s; sending it again", session.modality.aet, item.public_id, lost
            )
            return _store_one(session, item, allow_transcoding, resend_if_lost=False)
        # Counted as failed; the next instance opens a new association (or fails the store).
        logger.warning("C-STORE to %s: instance %s: %s", session.modality.aet, item.public_id, lost)
        return False
    if not _is_success(status.Status):
        text = status_text(status.Status, STORAGE_SERVICE_CLASS_STATUS)
        logger.warning("C-STORE to %s: instance %s refused with status %s", session.modality.aet, item.public_id, text)
        return False
    return True


def store_content(modality, count):
    """Orthanc's store job content before anything is sent (what a failed association leaves)."""
    return {
        "Description": "REST API",
        "FailedInstancesCount": 0,
        "InstancesCount": count,
        "LocalAet": local_aet(modality),
        "ParentResources": [],
        "RemoteAet": modality.aet,
    }


def store(modality, instances, progress=None, should_stop=None):
    """C-STORE the instances (explorer.models.Instance) to the modality, over one association
    (more only past 128 presentation contexts). Returns Orthanc's job content; the caller
    fills ParentResources. Raises ScuError when no association can be opened after
    PHAROS_DICOM_STORE_RETRIES further attempts."""
    wire_config.send_datasets_from_files()
    items = [_outgoing(instance) for instance in instances]
    content = store_content(modality, len(items))
    batches, unclassified = _store_batches(items, modality.allow_transcoding)
    done = 0
    for item in unclassified:
        logger.warning("C-STORE to %s: instance %s not sent: no SOP Class UID", modality.aet, item.public_id)
        done += 1
        content["FailedInstancesCount"] += 1
    for batch in batches:
        with Session(modality, batch.contexts, retries=store_retries()) as session:
            for item in batch.items:
                check_stop(should_stop, content)
                if not _store_one(session, item, modality.allow_transcoding):
                    content["FailedInstancesCount"] += 1
                done += 1
                report(progress, done, len(items), content["FailedInstancesCount"])
    return content
