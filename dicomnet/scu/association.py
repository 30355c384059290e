"""One association with a modality, as every SCU operation opens it, and C-ECHO, its simplest use.

The association uses the modality's local AE title (or PHAROS_AET) as calling AE, its
timeout (or PHAROS_DICOM_SCU_TIMEOUT) for connection, ACSE, DIMSE and network waits,
PHAROS_DICOM_MAX_PDU as the largest PDU we receive, TCP_NODELAY on its socket, and DICOM TLS
when the modality has UseDicomTls (dicomnet/tls.py: our certificate, the trusted ones). A
failure to open it is an `errors.ScuError` whose message names the AE title, host and
port, starting the way Orthanc's do (`DicomAssociation - connecting to AET "NOPE": TCP
Initialization Error: Connection refused (host: 10.0.0.9, port: 104)`). An operation that
ends cleanly leaves its association in the pool (pool.py) for
PHAROS_DICOM_ASSOCIATION_CLOSE_DELAY seconds, as Orthanc's DicomAssociationCloseDelay.

Long operations report `progress(done, total, failed)` and call `should_stop()` between
sub-operations, through `report` and `check_stop` / `stop_requested` here. `should_stop`
may raise its own exception (the job layer does), which propagates once the association
is in a clean state (a C-MOVE / C-GET is cancelled with C-CANCEL first); when it returns
True, `Stopped` is raised instead.
"""

import logging
import re
import threading
import time

from django.conf import settings
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
from pynetdicom import AE, build_context, evt
from pynetdicom.pdu import A_ABORT_RQ
from pynetdicom.sop_class import Verification
from pynetdicom.status import VERIFICATION_SERVICE_CLASS_STATUS

from dicomnet import tls
from dicomnet.contexts import UNCOMPRESSED, set_no_delay
from dicomnet.scu import pool
from dicomnet.scu.errors import (
    AssociationAborted,
    AssociationRejected,
    NetworkError,
    RemoteFailure,
    ScuError,
    Stopped,
    failure_text,
)

logger = logging.getLogger("dicomnet")

SUCCESS = 0x0000
PENDING = (0xFF00, 0xFF01)

MAX_CONTEXTS = 128  # PS3.8: presentation context ids are the odd numbers 1 to 255
LITTLE_ENDIAN = (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
RETRY_DELAY_SECONDS = 1.0


# --- Settings -----------------------------------------------------------------------------


def local_aet(modality):
    return modality.local_aet or settings.PHAROS_AET


def timeout_of(modality):
    return modality.timeout or settings.PHAROS_DICOM_SCU_TIMEOUT


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


class Session:
    """One association with a modality: opened on first use, opened again after it is lost
    (with `retries` further attempts each time). At the end of the `with` block it goes back
    to the pool (dicomnet.scu.pool) when the operation ended cleanly, for the next operation
    with the same parameters; otherwise it is released, never reused."""

    def __init__(self, modality, contexts, roles=(), handlers=(), retries=0):
        self.modality = modality
        self.contexts = list(contexts)
        self.roles = list(roles)
        self.handlers = list(handlers)
        self.retries = retries
        self._entry = None  # pool.Idle: the association and its _Link
        self._link = None
        self._key = pool.key(
            local_aet(modality),
            modality.aet,
            modality.host,
            modality.port,
            self.contexts,
            self.roles,
            settings.PHAROS_DICOM_MAX_PDU,
            timeout_of(modality),
            modality.use_dicom_tls,
        )

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc_info):
        # An operation that raised (stopped, cancelled, refused) may have left the
        # association anywhere in its exchange: it is not lent again.
        self.close(reusable=exc_type is None)

    def association(self):
        if self._entry is None or not self._entry.assoc.is_established:
            self._entry = pool.borrow(self._key)
            if self._entry is not None:
                for event, handler in self.handlers:
                    self._entry.assoc.bind(event, handler)
            else:
                assoc = self._open()
                self._entry = pool.Idle(assoc, self._link)
        return self._entry.assoc

    def close(self, reusable=False):
        entry, self._entry = self._entry, None
        if entry is None or not entry.assoc.is_established:
            return
        if not reusable:
            entry.assoc.release()
            return
        # The handlers belong to this operation (a C-GET's receiver): the next one binds its own.
        for event, handler in self.handlers:
            entry.assoc.unbind(event, handler)
        pool.give_back(self._key, entry)

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
            tls_args = tls.client_args(modality)  # None without UseDicomTls
        except tls.TlsNotConfigured as error:
            raise ScuError(failure_text(modality, "connecting to", str(error))) from error
        try:
            assoc = ae.associate(
                modality.host,
                modality.port,
                contexts=self.contexts,
                ae_title=modality.aet,
                max_pdu=settings.PHAROS_DICOM_MAX_PDU,
                ext_neg=self.roles or None,
                evt_handlers=self._link.handlers() + self.handlers,
                tls_args=tls_args,
            )
        except OSError as error:  # the host name does not resolve
            reason = f"TCP Initialization Error: {error.strerror or error}"
            raise NetworkError(failure_text(modality, "connecting to", reason)) from error
        if assoc.is_established:
            return assoc
        raise self._refusal(assoc)

    def _refusal(self, assoc):
        modality, link = self.modality, self._link
        if not link.connected:
            reason = _connection_errors.reason_for(assoc.dul.ident) or "cannot connect"
            return NetworkError(failure_text(modality, "connecting to", f"TCP Initialization Error: {reason}"))
        answer = assoc.acceptor.primitive
        if assoc.is_rejected and answer is not None:
            reason = (
                f"Association Rejected: {answer.result_str}, Source: {answer.source_str}, Reason: {answer.reason_str}"
            )
            transient = answer.result == 0x02
            return AssociationRejected(failure_text(modality, "connecting to", reason), transient=transient)
        if answer is not None and answer.result == 0x00:
            reason = f"the modality accepted none of the {len(self.contexts)} proposed presentation contexts"
            return AssociationRejected(failure_text(modality, "connecting to", reason))
        if link.peer_aborted:
            return AssociationAborted(failure_text(modality, "connecting to", "the modality aborted the association"))
        reason = f"no valid answer to the association request within {timeout_of(modality)} s, or connection closed"
        return NetworkError(failure_text(modality, "connecting to", reason))

    def lost(self, doing):
        """The error to raise when a request got no answer; the association is forgotten."""
        entry, self._entry = self._entry, None
        assoc, link = (entry.assoc, entry.link) if entry is not None else (None, self._link)
        if link is not None and link.peer_aborted:
            return AssociationAborted(failure_text(self.modality, doing, "the modality aborted the association"))
        if assoc is not None and assoc.is_established:
            assoc.abort()
        reason = f"the connection was lost, or no answer came within {timeout_of(self.modality)} s"
        return NetworkError(failure_text(self.modality, doing, reason))


# --- Stop requests, progress and statuses ---------------------------------------------------


def stop_requested(should_stop, content=None):
    """The exception that stops the operation, or None: `should_stop` may raise its own."""
    if should_stop is None:
        return None
    try:
        stop = should_stop()
    except Exception as error:  # the caller's own stop signal, re-raised once the association is clean
        return error
    return Stopped(content) if stop else None


def check_stop(should_stop, content=None):
    stop = stop_requested(should_stop, content)
    if stop is not None:
        raise stop


def report(progress, done, total, failed):
    if progress is not None:
        progress(done, total, failed)


def status_text(code, statuses):
    meaning = statuses.get(code, (None, "unknown status"))[1]
    return f"0x{code:04X} ({meaning})"


# --- C-ECHO -----------------------------------------------------------------------------------


def echo(modality):
    """C-ECHO; returns None or raises ScuError."""
    with Session(modality, [build_context(Verification, list(UNCOMPRESSED))]) as session:
        status = session.association().send_c_echo()
        if "Status" not in status:
            raise session.lost("C-ECHO to")
        if status.Status != SUCCESS:
            reason = f"C-ECHO failed with status {status_text(status.Status, VERIFICATION_SERVICE_CLASS_STATUS)}"
            raise RemoteFailure(failure_text(modality, "C-ECHO to", reason), status.Status)
