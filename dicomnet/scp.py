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
from django.db import close_old_connections, connections
from pynetdicom import AE, evt
from pynetdicom.pdu_primitives import A_ASSOCIATE
from pynetdicom.transport import ThreadedAssociationServer

from dicomnet import access, contexts, tls, wire
from dicomnet.contexts import set_no_delay
from dicomnet.wire import config as wire_config
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
CANNOT_UNDERSTAND = 0xC000


def build_ae():
    ae = AE(ae_title=settings.PHAROS_AET)
    ae.maximum_pdu_size = settings.PHAROS_DICOM_MAX_PDU
    ae.maximum_associations = settings.PHAROS_DICOM_MAX_ASSOCIATIONS
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
    close_old_connections()
    proposed = [cx.abstract_syntax for cx in primitive.presentation_context_definition_list or []]
    syntaxes = contexts.accepted_transfer_syntaxes()
    unknown_accepted = contexts.unknown_sop_class_accepted()
    supported = contexts.acceptor_contexts(proposed, syntaxes, unknown_accepted)
    serve_as_storage([str(cx.abstract_syntax) for cx in supported if cx.scp_role])
    event.assoc.acceptor.supported_contexts = supported


def configure_pynetdicom():
    # Received data sets go to a temporary file beside the store, then are renamed into
    # it: a large instance is never held in memory.
    wire_config.configure(incoming_folder=storage.incoming_dir())
    # C-MOVE refusals and moves run as jobs are answered before pynetdicom's service runs.
    from dicomnet import retrieve

    wire_move_answer.install(retrieve.move_answer)


def peer(event):
    requestor = event.assoc.requestor
    return requestor.ae_title.strip(), requestor.address


def origin_of(event):
    aet, address = peer(event)
    called = event.assoc.acceptor.ae_title.strip()
    return Origin(kind="DicomProtocol", remote_aet=aet, remote_ip=address, called_aet=called)


def handle_echo(event):
    close_old_connections()
    if not access.may("echo", *peer(event)):
        return REFUSED_NOT_AUTHORISED
    return SUCCESS


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
    close_old_connections()
    aet, address = peer(event)
    if not may_store(event):
        return REFUSED_NOT_AUTHORISED
    try:
        if wire_config.datasets_received_as_files():
            result = store_instance_file(str(event.dataset_path), origin_of(event))
        else:
            result = store_instance(event.encoded_dataset(include_meta=True), origin_of(event))
    except BadFileFormat as error:
        logger.warning("C-STORE from %s at %s refused: %s", aet, address, error.details)
        return CANNOT_UNDERSTAND
    except (StorageFailure, DatabaseFailure) as error:
        logger.error("C-STORE from %s at %s failed: %s", aet, address, error.details)
        return OUT_OF_RESOURCES
    logger.info("C-STORE from %s: %s %s", aet, result.instance_id, result.status)
    received(event.assoc)[result.ids[:2]] += 1
    return SUCCESS


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
    if not access.may("find", *peer(event)):
        yield REFUSED_NOT_AUTHORISED, None
        return
    yield from find.answers(event)


def handle_move(event):
    from dicomnet import retrieve

    close_old_connections()
    # Who may move is checked by retrieve.move_answer, before pynetdicom's service runs; its
    # refusal is a failure status. (Without it, pynetdicom can only answer 0xA801 here.)
    if event.request not in retrieve.PLANNED and not access.may("move", *peer(event)):
        yield None, None
        return
    yield from retrieve.move(event)


def handle_get(event):
    from dicomnet import retrieve

    close_old_connections()
    if not access.may("get", *peer(event)):
        yield from retrieve.get_refusal(REFUSED_NOT_AUTHORISED)
        return
    yield from retrieve.get(event)


def log_accepted(event):
    aet, address = peer(event)
    contexts = ", ".join(sorted({cx.abstract_syntax.name for cx in event.assoc.accepted_contexts}))
    logger.info("Association from %s at %s to %s accepted: %s", aet, address, event.assoc.acceptor.ae_title, contexts)


def log_rejected(event):
    aet, address = peer(event)
    logger.warning("Association from %s at %s rejected", aet, address)


def log_ended(event):
    aet, address = peer(event)
    logger.info("Association from %s at %s ended (%s)", aet, address, event.event.name)
    audit.record_received(aet, address, event.assoc.__dict__.pop("audit_received", None), event.assoc.acceptor.ae_title)
    # The association's thread ends here: its database connection (opened by the first
    # handler, or by negotiate_contexts to read the runtime settings) goes with it instead of
    # waiting for the garbage collector. (An abort from another thread, the server's shutdown
    # say, leaves that thread's connections alone.)
    if threading.current_thread() is event.assoc:
        connections.close_all()


HANDLERS = [
    (evt.EVT_CONN_OPEN, set_no_delay),
    (evt.EVT_ACSE_RECV, negotiate_contexts),
    (evt.EVT_C_ECHO, handle_echo),
    (evt.EVT_C_STORE, handle_store),
    (evt.EVT_C_FIND, handle_find),
    (evt.EVT_C_MOVE, handle_move),
    (evt.EVT_C_GET, handle_get),
    (evt.EVT_ACCEPTED, log_accepted),
    (evt.EVT_REJECTED, log_rejected),
    (evt.EVT_RELEASED, log_ended),
    (evt.EVT_ABORTED, log_ended),
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
