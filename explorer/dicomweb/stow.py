"""STOW-RS (PS3.18 10.5): each part of a multipart/related body stored through the ingest funnel,
answered as Orthanc's DICOMweb plugin answers, with PS3.18's statuses.

The body is read as a stream (explorer/multipart.py): each part is written into the incoming
folder as it comes, then moved into place by explorer.ingest, as an upload is; memory holds a
chunk, never a part. The answer names each instance from what storing it parsed, without asking
the index again.

- every part stored (or stored already): 200;
- some stored, some refused: 202 (Orthanc 1.10.1's plugin answers 400 or 409 here, though it
  stored the others; PS3.18 asks 202, which clients such as dicomweb-client read as a partial
  success rather than raise on);
- none stored: 400 when every part was unreadable (bad syntax), else 409 (an instance of another
  study than the one in the URL, or a value the index cannot hold);
- the server cannot keep what it was sent (disk full, database down): 503 with Retry-After, the
  parts stored so far in the answer, so that the sender tries again later;
- a body that is not multipart/related of application/dicom parts: 415 with a message.

Failure reasons (00081197), Orthanc's: 0xC000 a part that is no DICOM file or lacks an
identifier, 0x0110 an instance of another study; and 0xA700 (out of resources) when the
server fails.
"""

import io
import queue
import threading
from concurrent.futures import ThreadPoolExecutor

import pydicom
from django.db import close_old_connections, connection
from django.urls import get_script_prefix

from explorer import character_sets, incoming, ingest, multipart, runtime_settings
from explorer.dicomweb.resources import check_uid, dicom_json_response
from explorer.errors import BadFileFormat, BadRequest, PharosError, ServiceUnavailable, UnsupportedMediaType
from explorer.uploads import request_origin, store_received_file

MULTIPART_RELATED = "multipart/related"
# The start of a part kept while it is stored: its SOP UIDs lie there, before any large value.
NAMING_BYTES = 64 * 1024
# 00081197 FailureReason (PS3.4 GG.4-1, PS3.18 10.5.3).
PROCESSING_FAILURE = 0x0110
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC000

SPECIFIC_CHARACTER_SET = "00080005"
REFERENCED_SOP_CLASS = "00081150"
REFERENCED_SOP_INSTANCE = "00081155"
RETRIEVE_URL = "00081190"
FAILURE_REASON = "00081197"
FAILED_SOP_SEQUENCE = "00081198"
REFERENCED_SOP_SEQUENCE = "00081199"


def store(request, study=None):
    """POST /dicom-web/studies[/{study}]."""
    study_uid = check_uid(study, "StudyInstanceUID") if study is not None else None
    boundary = _boundary(request)
    storing = _Storing(request_origin(request), study_uid)
    try:
        for headers, chunks in multipart.related_parts(request, boundary):
            _check_part_type(headers)
            part = _Part(chunks)
            try:
                path = incoming.write_chunks(part, keep=True)  # bounded below (KEPT_QUEUED)
            except PharosError as error:  # the disk is full: nothing more can be received
                storing.outcome(part, error)
                break
            if not storing.add(path, part):
                break
    finally:
        storing.finish()
    answer = StowAnswer(dicom_web_root(request))
    for names, outcome in storing.outcomes:
        answer.add(names, outcome)
    if answer.server_failure is not None:
        # Disk full, database down: the sender is to send the whole body again later (what
        # was stored answers AlreadyStored then); the parts after it were left unread.
        response = dicom_json_response(answer.as_json(), status=503)
        response["Retry-After"] = str(answer.server_failure.retry_after or ServiceUnavailable.retry_after)
        return response
    return dicom_json_response(answer.as_json(), status=answer.status())


# Threads of each web process that store the parts of multi-part bodies beside the request's
# own: a part's file is written and fsynced and its rows inserted while the next is received
# and parsed. Kept from request to request, with their database connections.
HELPERS_PER_REQUEST = 2
MAXIMUM_HELPERS = 4
# Parts waiting to be stored keep their bytes (explorer/incoming.py's ReceivedPath.data) while
# fewer than this many wait; the next ones are parsed from their files.
KEPT_QUEUED = 4
_helpers = ThreadPoolExecutor(max_workers=MAXIMUM_HELPERS, thread_name_prefix="stow")
_END = None


class _Storing:
    """The parts of one request stored through the ingest funnel as they are received: the
    first by the request's thread once the body ends, or, when more come, by up to
    HELPERS_PER_REQUEST helper threads, the request's thread taking what is left at the end.
    Inside a transaction (a test's) each part is stored by the request's thread as soon as it
    is received: other threads would not see the transaction. A server failure while storing
    stops the storing: the parts received and not yet stored are removed unstored."""

    def __init__(self, origin, study_uid):
        self.origin, self.study_uid = origin, study_uid
        # [part, StoreResult or PharosError] in the order of the parts; once stored, the part
        # gives way to None, once refused to its names (_Part.uids): memory holds no part's start.
        self.outcomes = []
        self.todo = queue.SimpleQueue()
        self.received = 0
        self.helpers = []
        self.alone = connection.in_atomic_block
        self.stopped = threading.Event()  # a server failure: store nothing more

    def add(self, path, part):
        """Queue a received part; False once a server failure has stopped the storing."""
        if self.stopped.is_set():
            incoming.remove(path)
            return False
        slot = [part, None]
        self.outcomes.append(slot)
        if self.alone:
            self.store(slot, path)
            return not self.stopped.is_set()
        if self.todo.qsize() >= KEPT_QUEUED:
            path.data = None  # parsed from its file: the parts waiting hold a bounded memory
        self.todo.put((slot, path))
        self.received += 1
        if self.received >= 2 and len(self.helpers) < HELPERS_PER_REQUEST:
            self.helpers.append(_helpers.submit(self.help))
        return True

    def outcome(self, part, error):
        """A part that could not be received: the parts received before it are still stored."""
        self.outcomes.append([part.uids(), error])

    def help(self):
        close_old_connections()  # a kept connection checked, as a request's is
        try:
            self.store_queued()
        finally:
            close_old_connections()

    def store_queued(self):
        while (item := self.todo.get()) is not _END:
            self.store(*item)
        self.todo.put(_END)  # for the next taker

    def store(self, slot, path):
        if self.stopped.is_set():
            incoming.remove(path)
            slot[:] = None, UNSTORED
            return
        try:
            slot[:] = None, store_received_file(path, self.origin, study_uid=self.study_uid)
        except PharosError as error:
            slot[:] = slot[0].uids(), error
            if error.http_status >= 500:
                self.stopped.set()

    def finish(self):
        """Store what no helper has taken, then wait for the helpers."""
        self.todo.put(_END)
        try:
            self.store_queued()
        finally:
            for helper in self.helpers:
                if not helper.cancel():  # one not started yet has nothing left to do
                    helper.result()
        self.outcomes = [slot for slot in self.outcomes if slot[1] is not UNSTORED]


# A part received, then left unstored after a server failure: not answered.
UNSTORED = object()


class _Part:
    """A part's chunks as they go by, its start kept: what names a part that cannot be stored."""

    def __init__(self, chunks):
        self.chunks = chunks
        self.start = b""

    def __iter__(self):
        for chunk in self.chunks:
            if len(self.start) < NAMING_BYTES:
                self.start += chunk[: NAMING_BYTES - len(self.start)]
            yield chunk

    def uids(self):
        """(None, None, SOPInstanceUID, SOPClassUID) as far as the start of the part tells
        them (its data set, else its file meta), or None: Orthanc lists a failed part only
        when it can name it."""
        for chunk in self.chunks if len(self.start) < NAMING_BYTES else ():
            self.start += chunk[: NAMING_BYTES - len(self.start)]  # what a failed write left unread
            if len(self.start) >= NAMING_BYTES:
                break
        try:
            dataset = pydicom.dcmread(io.BytesIO(self.start), force=True, stop_before_pixels=True)
        except Exception:  # a damaged or cut file: what its meta says, if anything
            dataset = None
        names = []
        for keyword, meta_keyword in (
            ("SOPInstanceUID", "MediaStorageSOPInstanceUID"),
            ("SOPClassUID", "MediaStorageSOPClassUID"),
        ):
            value = dataset.get(keyword) if dataset is not None else None
            meta = getattr(dataset, "file_meta", None) if dataset is not None else None
            names.append(str(value or (meta.get(meta_keyword) if meta is not None else "") or ""))
        return (None, None, *names) if all(names) else None


def _boundary(request):
    """The boundary of a multipart/related body of application/dicom parts, else 415 (400
    without a boundary)."""
    if request.content_type != MULTIPART_RELATED:
        raise UnsupportedMediaType(
            f'STOW-RS takes a multipart/related; type="application/dicom" body, not {request.content_type or "none"}'
        )
    kind = request.content_params.get("type", "application/dicom").strip().lower()
    if kind != "application/dicom":
        raise UnsupportedMediaType(f'STOW-RS takes parts of type "application/dicom" only, not "{kind}"')
    boundary = request.content_params.get("boundary")
    if not boundary:
        raise BadRequest("The multipart body has no boundary in its Content-Type")
    return boundary.encode("latin-1")


def _check_part_type(headers):
    """A part that says it holds something else than a DICOM file ends the request with 415, as
    in Orthanc; a part that says nothing is taken as the body's type says."""
    declared = headers.get("content-type")
    if declared is None:
        return
    kind = declared.split(b";")[0].strip().lower()
    if kind != b"application/dicom":
        raise UnsupportedMediaType(
            f'A part of the STOW-RS body is {kind.decode("latin-1")!r}: only "application/dicom" is stored'
        )


def dicom_web_root(request):
    """The absolute URL of the DICOMweb root (…/dicom-web/), as the client reached the server."""
    return request.build_absolute_uri(f"{get_script_prefix()}dicom-web/")


class StowAnswer:
    """The PS3.18 10.5.3 answer, built part by part in Orthanc's layout."""

    def __init__(self, root):
        self.root = root
        self.server_failure = None
        self.study_url = None
        self.referenced = []
        self.failures = []
        self.unreadable = 0
        self.failed_parts = 0

    def _item(self, uids):
        return {REFERENCED_SOP_CLASS: _uid(uids[3]), REFERENCED_SOP_INSTANCE: _uid(uids[2])}

    def add(self, names, outcome):
        """A part's outcome: its StoreResult, or the PharosError that refused it and the
        names its start gives (_Part.uids)."""
        if isinstance(outcome, ingest.StoreResult):
            self.stored(outcome.uids)
        elif isinstance(outcome, ingest.OtherStudy):
            self.failed(outcome.uids, PROCESSING_FAILURE)
        elif isinstance(outcome, BadFileFormat):
            self.failed(names, CANNOT_UNDERSTAND)
        elif outcome.http_status < 500:  # a value the index cannot hold
            self.failed(names, PROCESSING_FAILURE)
        else:
            self.failed(names, OUT_OF_RESOURCES)
            self.server_failure = self.server_failure or outcome

    def stored(self, uids):
        study, series, instance, _ = uids
        if self.study_url is None:
            self.study_url = f"{self.root}studies/{study}"
        url = f"{self.root}studies/{study}/series/{series}/instances/{instance}"
        self.referenced.append(self._item(uids) | {RETRIEVE_URL: {"vr": "UR", "Value": [url]}})

    def failed(self, uids, reason):
        if reason == CANNOT_UNDERSTAND:
            self.unreadable += 1
        self.failed_parts += 1
        if uids is not None:
            self.failures.append(self._item(uids) | {FAILURE_REASON: {"vr": "US", "Value": [reason]}})

    def status(self):
        if not self.failed_parts:
            return 200
        if self.referenced:
            return 202
        return 400 if self.unreadable == self.failed_parts else 409

    def as_json(self):
        # Orthanc names its DefaultEncoding here; the answer holds UIDs and URLs only.
        term = character_sets.dicom_term(runtime_settings.current("DefaultEncoding")) or "ISO_IR 100"
        answer = {SPECIFIC_CHARACTER_SET: {"vr": "CS", "Value": [term]}}
        if self.study_url is not None:
            answer[RETRIEVE_URL] = {"vr": "UR", "Value": [self.study_url]}
        answer[FAILED_SOP_SEQUENCE] = _sequence(self.failures)
        answer[REFERENCED_SOP_SEQUENCE] = _sequence(self.referenced)
        return answer


def _uid(value):
    return {"vr": "UI", "Value": [value]} if value else {"vr": "UI"}


def _sequence(items):
    return {"vr": "SQ", "Value": items} if items else {"vr": "SQ"}
