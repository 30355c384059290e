"""The DICOM server: the AE, its presentation contexts, and one thin handler per service.

Handlers only adapt: they check who asks, hand the work to plain functions
(the ingest funnel, the query matcher, the retrieval functions) and turn the
outcome into a DIMSE status and a log line. What reaches into pynetdicom's
internals lives in dicomnet/wire/.
"""

import logging
import socket
import threading
import weakref
from collections import Counter

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections
from pydicom.dataset import Dataset
from pynetdicom import AE, evt
from pynetdicom.pdu_primitives import A_ASSOCIATE, SCP_SCU_RoleSelectionNegotiation
from pynetdicom.transport import ThreadedAssociationServer

from dicomnet import access, contexts, limits, tls, wire
from dicomnet.contexts import set_no_delay
from dicomnet.wire import config as wire_config
from dicomnet.wire import incoming
from dicomnet.wire import move_answer as wire_move_answer
from dicomnet.wire import server as wire_server
from dicomnet.wire.reactors import Association
from dicomnet.wire.storage_classes import serve_as_storage
from explorer import accepting, audit, fast_paths, pydicom_compat, storage
from explorer.errors import BadFileFormat, DatabaseFailure, StorageFailure
from explorer.ingest import Origin, store_instance, store_instance_file

logger = logging.getLogger("dicomnet")

SUCCESS = 0x0000
REFUSED_NOT_AUTHORISED = 0x0124
OUT_OF_RESOURCES = 0xA700
OUT_OF_RESOURCES_MATCHES = 0xA701  # C-MOVE, C-GET: unable to calculate the number of matches
CANNOT_UNDERSTAND = 0xC000
ERROR_COMMENT_LENGTH = 64  # LO
# pynetdicom's own bound counts every connection, even one that has not asked for an
# association yet: dicomnet/limits.py bounds the associations instead.
UNBOUNDED = 1 << 30


def build_ae():
    ae = AE(ae_title=settings.PHAROS_AET)
    ae.maximum_pdu_size = settings.PHAROS_DICOM_MAX_PDU
    ae.maximum_associations = UNBOUNDED
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = settings.PHAROS_DICOM_SCP_TIMEOUT
    ae.require_called_aet = settings.PHAROS_DICOM_CHECK_CALLED_AET
    # The services alone: the storage contexts are made for each association, from what its
    # peer proposes (negotiate_contexts).
    ae.supported_contexts = list(contexts.service_contexts())
    return ae


def negotiate_contexts(event):
    """EVT_ACSE_RECV: before an association is negotiated, the contexts it may accept, from
    the runtime settings of this moment (AcceptedTransferSyntaxes, UnknownSopClassAccepted)
    and the abstract syntaxes the peer proposes; pynetdicom's storage service is made to
    serve each storage class accepted."""
    primitive = event.primitive
    if not isinstance(primitive, A_ASSOCIATE) or event.assoc.is_established:
        return
    limits.association_requested(event.assoc, event.assoc.dul.socket.socket)
    close_old_connections()
    proposed = [cx.abstract_syntax for cx in primitive.presentation_context_definition_list or []]
    try:
        syntaxes = contexts.accepted_transfer_syntaxes()
        unknown_accepted = contexts.unknown_sop_class_accepted()
    except DatabaseError as error:
        # The configured values: with the database down, C-STORE is still negotiated, and
        # answered "out of resources" rather than refused a presentation context.
        logger.error("Reading the runtime settings failed, the configured ones apply: %s", error)
        connections.close_all()
        syntaxes = contexts.accepted_transfer_syntaxes(settings.PHAROS_DICOM_ACCEPTED_TRANSFER_SYNTAXES)
        unknown_accepted = settings.PHAROS_DICOM_UNKNOWN_SOP_CLASS_ACCEPTED
    retrieved = {
        str(item.sop_class_uid)
        for item in primitive.user_information or []
        if isinstance(item, SCP_SCU_RoleSelectionNegotiation) and item.scp_role
    }
    supported = contexts.acceptor_contexts(proposed, syntaxes, unknown_accepted, retrieved)
    serve_as_storage([str(cx.abstract_syntax) for cx in supported if cx.scp_role])
    event.assoc.acceptor.supported_contexts = supported


def configure_pynetdicom():
    # Received data sets go to a temporary file beside the store, then are renamed into
    # it: a large instance is never held in memory.
    wire_config.configure(incoming_folder=storage.incoming_dir())
    # C-MOVE refusals and moves run as jobs are answered before pynetdicom's service runs.
    wire_move_answer.install(move_answer)


def peer(event):
    requestor = event.assoc.requestor
    return requestor.ae_title.strip(), requestor.address


def origin_of(event):
    aet, address = peer(event)
    called = event.assoc.acceptor.ae_title.strip()
    return Origin(kind="DicomProtocol", remote_aet=aet, remote_ip=address, called_aet=called)


def connection_opened(event):
    """EVT_CONN_OPEN: the A-ASSOCIATE-RQ is awaited for PHAROS_DICOM_ASSOCIATION_TIMEOUT."""
    set_no_delay(event)
    limits.connection_opened(event.assoc, event.assoc.dul.socket.socket)


def admit(event):
    """EVT_REQUESTED: the association counts toward the bounds, or is rejected past one."""
    assoc = event.assoc
    if not limits.admit(assoc, assoc.requestor.primitive.calling_ae_title.strip()):
        limits.reject(assoc)


def may(operation, event):
    """access.may for this event's peer; None when the database cannot tell."""
    try:
        return access.may(operation, *peer(event))
    except DatabaseError as error:
        logger.error("%s from %s: the database failed: %s", operation.upper(), peer(event)[0], error)
        connections.close_all()
        return None


def failure(status, comment):
    """A failure status with its Error Comment (0000,0902), which an LO value must fit."""
    answer = Dataset()
    answer.Status = status
    answer.ErrorComment = " ".join(str(comment).replace("\\", "/").split())[:ERROR_COMMENT_LENGTH]
    return answer


def handle_echo(event):
    close_old_connections()
    allowed = may("echo", event)
    if allowed is None:  # the database cannot tell: as for an AE that is no modality
        allowed = access.always_allowed("echo")
    return SUCCESS if allowed else REFUSED_NOT_AUTHORISED


def may_store(event):
    """access.may for C-STORE, decided once per association of ours (Association.store_allowed):
    its peer cannot change, and a database query for each of thousands of instances is a
    cost worth sparing. pynetdicom's own association (PHAROS_FAST_PATHS=off) asks each time."""
    assoc = event.assoc
    if not isinstance(assoc, Association):
        return access.may("store", *peer(event))
    if assoc.store_allowed is None:
        assoc.store_allowed = access.may("store", *peer(event))
    return assoc.store_allowed


def handle_store(event):
    """0xC000 for data that cannot be understood; 0xA700 "out of resources" for every failure
    of the server's (full disk, database down, anything unexpected), so that the sender
    tries again later."""
    aet, address = peer(event)
    try:
        close_old_connections()
        if not may_store(event):
            return REFUSED_NOT_AUTHORISED
        result = store_received(event)
    except BadFileFormat as error:
        logger.warning("C-STORE from %s at %s refused: %s", aet, address, error.details)
        return failure(CANNOT_UNDERSTAND, error.details)
    except (StorageFailure, DatabaseFailure, DatabaseError) as error:
        logger.error("C-STORE from %s at %s failed: %s", aet, address, getattr(error, "details", None) or error)
        connections.close_all()  # a broken database connection is not reused
        return failure(OUT_OF_RESOURCES, "Out of resources: the server cannot store it now")
    except Exception:
        logger.exception("C-STORE from %s at %s failed", aet, address)
        return failure(OUT_OF_RESOURCES, "Out of resources: the server cannot store it now")
    logger.info("C-STORE from %s: %s %s", aet, result.instance_id, result.status)
    received(event.assoc)[result.ids[:2]] += 1
    return SUCCESS


def store_received(event):
    """Hand the received data set to the ingest funnel."""
    if not wire_config.datasets_received_as_files():
        if not event.request.DataSet.getbuffer().nbytes:  # not copied out only to be measured
            raise BadFileFormat("The C-STORE request has no data set")
        return store_instance(event.encoded_dataset(include_meta=True), origin_of(event))
    path = event.dataset_path
    if path is None:
        raise BadFileFormat("The C-STORE request has no data set")
    error = incoming.failure(path)
    if error is not None:
        raise StorageFailure(f"Cannot receive the data set: {error.strerror or error}")
    return store_instance_file(str(path), origin_of(event))


def received(assoc):
    """What an association stored, counted per (patient, study) for the audit trail, which
    records it once when the association ends (log_ended): no row per instance."""
    counts = assoc.__dict__.get("audit_received")
    if counts is None:
        counts = assoc.audit_received = Counter()
    return counts


def handle_find(event):
    from dicomnet import find

    close_old_connections()
    allowed = may("find", event)
    if not allowed:
        yield REFUSED_NOT_AUTHORISED if allowed is False else failure(OUT_OF_RESOURCES, "The database failed"), None
        return
    yield from find.answers(event)


def handle_move(event):
    from dicomnet import retrieve

    close_old_connections()
    # Who may move is checked by retrieve.move_answer, before pynetdicom's service runs; its
    # refusal is a failure status. (Without it, pynetdicom can only answer 0xA801 here.)
    if event.request not in retrieve.PLANNED and not may("move", event):
        yield None, None
        return
    yield from retrieve.move(event)


def move_answer(assoc, request, context):
    """retrieve.move_answer, answering "out of resources" when the database fails."""
    from dicomnet import retrieve

    try:
        return retrieve.move_answer(assoc, request, context)
    except DatabaseError as error:
        logger.error("C-MOVE from %s: the database failed: %s", assoc.requestor.ae_title.strip(), error)
        connections.close_all()
        return wire_move_answer.MoveAnswer(OUT_OF_RESOURCES_MATCHES, "Out of resources: the database failed")


def handle_get(event):
    from dicomnet import retrieve

    close_old_connections()
    allowed = may("get", event)
    if not allowed:
        yield from retrieve.get_refusal(REFUSED_NOT_AUTHORISED if allowed is False else OUT_OF_RESOURCES_MATCHES)
        return
    yield from retrieve.get(event)


def log_accepted(event):
    aet, address = peer(event)
    contexts = ", ".join(sorted({cx.abstract_syntax.name for cx in event.assoc.accepted_contexts}))
    logger.info("Association from %s at %s to %s accepted: %s", aet, address, event.assoc.acceptor.ae_title, contexts)


def log_rejected(event):
    aet, address = peer(event)
    logger.warning("Association from %s at %s rejected", aet, address)
    limits.leave(event.assoc)


def log_ended(event):
    aet, address = peer(event)
    logger.info("Association from %s at %s ended (%s)", aet, address, event.event.name)
    limits.leave(event.assoc)
    try:
        audit.record_received(
            aet, address, event.assoc.__dict__.pop("audit_received", None), event.assoc.acceptor.ae_title
        )
    finally:
        # The association's thread ends here: its database connection (opened by the first
        # handler, or by negotiate_contexts to read the runtime settings) goes with it instead
        # of waiting for the garbage collector, and what an aborted C-STORE left in the
        # incoming folder is removed. (An abort from another thread, the server's shutdown
        # say, leaves that thread's connections and files alone: a handler may be using them.)
        if threading.current_thread() is event.assoc:
            connections.close_all()
            incoming.discard(event.assoc)


def connection_closed(event):
    limits.leave(event.assoc)


HANDLERS = [
    (evt.EVT_CONN_OPEN, connection_opened),
    (evt.EVT_ACSE_RECV, negotiate_contexts),
    (evt.EVT_REQUESTED, admit),
    (evt.EVT_C_ECHO, handle_echo),
    (evt.EVT_C_STORE, handle_store),
    (evt.EVT_C_FIND, handle_find),
    (evt.EVT_C_MOVE, handle_move),
    (evt.EVT_C_GET, handle_get),
    (evt.EVT_ACCEPTED, log_accepted),
    (evt.EVT_REJECTED, log_rejected),
    (evt.EVT_RELEASED, log_ended),
    (evt.EVT_ABORTED, log_ended),
    (evt.EVT_CONN_CLOSE, connection_closed),
]


def listening_socket(port, host=""):
    """The DICOM port's listening socket, made before the server so that helper processes can
    inherit it (`manage.py dicomserver --processes`)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host, port))
    listener.listen(socket.SOMAXCONN)
    # Every process waiting on a shared socket wakes for each connection: those that lose
    # the race to accept it get EAGAIN instead of blocking.
    listener.setblocking(False)
    return listener


class Server(ThreadedAssociationServer):
    """pynetdicom's server on a listening socket that other processes may share, accepting
    evenly with them (explorer/accepting.py). (SO_REUSEPORT would spread associations by a
    hash of the peer's address instead: four often landed three on one process.)"""

    def __init__(self, *args, listener, shared, **kwargs):
        self.listener = listener
        self.shared = shared
        # Counted from the accept on: an association's thread starts a little later, and
        # connections arriving together would otherwise all go to the first process.
        self.connections = weakref.WeakSet()
        super().__init__(*args, **kwargs)

    def server_bind(self):
        self.socket.close()
        self.socket = self.listener
        self.server_address = self.socket.getsockname()

    def server_activate(self):
        pass  # the listener already listens

    def get_request(self):
        if self.shared:
            accepting.hold_back(sum(1 for connection in self.connections if connection.fileno() != -1))
        connection, address = super().get_request()  # BlockingIOError when another process took it
        self.connections.add(connection)
        return connection, address

    def server_close(self):
        # Not shutdown(), which would stop the socket listening in every process sharing it.
        self.socket.close()


def start(port=None, host="", listener=None, shared=False):
    """Start the DICOM server in a thread and return it.

    `listener` is a listening socket from listening_socket(), `shared` when other processes
    accept on it too; without one the server listens on `port` (default: the setting)."""
    # A warning now, not at the first association, when a library is not the version read.
    fast_paths.check_versions(wire.READ_FROM, pydicom_compat.READ_FROM)
    configure_pynetdicom()
    ae = build_ae()
    # With PHAROS_DICOM_TLS the port speaks TLS only, as Orthanc's (dicomnet/tls.py); made
    # before the port is taken, so that a bad certificate stops the start.
    ssl_context = tls.server_context(handshake_timeout=settings.PHAROS_DICOM_SCP_TIMEOUT)
    if listener is None:
        listener = listening_socket(settings.PHAROS_DICOM_PORT if port is None else port, host)
    server = wire_server.make_server(
        ae,
        listener.getsockname(),
        ssl_context=ssl_context,
        evt_handlers=HANDLERS,
        server_class=Server,
        listener=listener,
        shared=shared,
    )
    threading.Thread(target=server.serve_forever, name="DICOM server", daemon=True).start()
    over = " with DICOM TLS" if ssl_context else ""
    logger.info("DICOM server %s listening on port %s%s", settings.PHAROS_AET, server.server_address[1], over)
    return server
