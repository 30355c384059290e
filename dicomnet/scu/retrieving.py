"""C-MOVE and C-GET from a modality: one request per identifier over one association, the
sub-operations counted from the responses, a stop request answered with C-CANCEL. The
instances a C-GET brings back go through the ingest funnel."""

import logging
from collections import Counter

from pydicom.uid import UID
from pynetdicom import StoragePresentationContexts, build_context, build_role, evt
from pynetdicom.sop_class import (
    PatientRootQueryRetrieveInformationModelGet,
    PatientRootQueryRetrieveInformationModelMove,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
)
from pynetdicom.status import QR_GET_SERVICE_CLASS_STATUS, QR_MOVE_SERVICE_CLASS_STATUS, code_to_category

from dicomnet.contexts import UNCOMPRESSED, accepted_transfer_syntaxes
from dicomnet.scu.association import (
    LITTLE_ENDIAN,
    MAX_CONTEXTS,
    PENDING,
    SUCCESS,
    Session,
    check_stop,
    local_aet,
    report,
    status_text,
    stop_requested,
)
from dicomnet.scu.errors import AssociationRejected, RemoteFailure, failure_text
from dicomnet.scu.querying import as_orthanc_query, level_of, model_for, retrieve_identifier
from dicomnet.wire import config as wire_config
from explorer.errors import BadFileFormat, DatabaseFailure, StorageFailure
from explorer.ingest import Origin, store_instance, store_instance_file

logger = logging.getLogger("dicomnet")

CANCEL = 0xFE00
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC000


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
        report(self.progress, self.done, self.total, self.failed)
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
                stop = stop_requested(should_stop)
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
        reason = f"status {status_text(code, statuses)} ({summary})"
    if status.get("ErrorComment"):
        reason += f": {status.ErrorComment}"
    if code_to_category(code) == "Warning" and not counts["failed"]:
        return  # a warning without failed sub-operations is a success with remarks
    raise RemoteFailure(failure_text(modality, doing, reason), code, **counts)


def _require_context(session, assoc, model, doing):
    # A C-GET association may be accepted for its storage contexts alone.
    if not any(cx.abstract_syntax == model and cx.as_scu for cx in assoc.accepted_contexts):
        reason = f"the modality does not accept the {UID(model).name}"
        raise AssociationRejected(failure_text(session.modality, doing, reason))


def _retrieve(session, requests, send, model, progress, should_stop, doing, statuses):
    """Send one C-MOVE / C-GET per identifier over the session's association."""
    tally = _SubOperations(progress)
    for number, identifier in enumerate(requests):
        check_stop(should_stop)
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
        "Query": [as_orthanc_query(level, keys) for keys in identifiers],
        "RemoteAet": modality.aet,
    }


def move(modality, level, identifiers, target_aet=None, progress=None, should_stop=None):
    """C-MOVE to `target_aet` (by default our own AE title for this modality), one request
    per identifier ({keyword: value} of unique keys). Returns Orthanc's DicomMoveScu job
    content. Raises RemoteFailure when the final status is a failure, or a warning with
    failed sub-operations."""
    level = level_of(level)
    target_aet = target_aet or local_aet(modality)
    model = model_for(level, PatientRootQueryRetrieveInformationModelMove, StudyRootQueryRetrieveInformationModelMove)
    requests = [retrieve_identifier(level, keys) for keys in identifiers]
    content = {**_retrieve_content(modality, level, identifiers), "TargetAet": target_aet}

    def send(assoc, identifier, message_id):
        return assoc.send_c_move(identifier, target_aet, model, msg_id=message_id)

    with Session(modality, [build_context(model, list(LITTLE_ENDIAN))]) as session:
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
            if wire_config.datasets_received_as_files():  # set by our SCP when it runs in this process
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
    level = level_of(level)
    model = model_for(level, PatientRootQueryRetrieveInformationModelGet, StudyRootQueryRetrieveInformationModelGet)
    requests = [retrieve_identifier(level, keys) for keys in identifiers]
    contexts, roles = _get_contexts(model)
    if origin is None:
        origin = Origin(
            kind="DicomProtocol", remote_aet=modality.aet, remote_ip=modality.host, called_aet=local_aet(modality)
        )
    receiver = _Receiver(origin)

    def send(assoc, identifier, message_id):
        return assoc.send_c_get(identifier, model, msg_id=message_id)

    with Session(modality, contexts, roles=roles, handlers=[(evt.EVT_C_STORE, receiver)]) as session:
        statuses = QR_GET_SERVICE_CLASS_STATUS
        tally = _retrieve(session, requests, send, model, progress, should_stop, "C-GET to", statuses)
    content = _retrieve_content(modality, level, identifiers)
    content.update(InstancesCount=receiver.stored, FailedInstancesCount=tally.finished["failed"])
    return content
