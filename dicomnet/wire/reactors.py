"""pynetdicom's accepted associations, woken by what happens instead of polling.

pynetdicom runs two threads per association, and both poll: the DUL reactor sleeps a
millisecond whenever it finds nothing to do, the association's reactor sleeps a millisecond
before every look at its queues. Each wake-up takes the GIL from the thread doing real work:
with four associations storing CT slices, about a third of a bare pynetdicom SCP's CPU went to
the kernel's switching between threads, and a received message waited up to a millisecond at
each hand-over. Here both threads sleep until something arrives for them:

- the DUL reactor waits on its socket and on a pipe that outgoing primitives write to;
- the association's reactor waits on an event set when a DIMSE message, an ACSE primitive
  or the end of the DUL reaches it.

Timers (ARTIM, the network timeout) are still checked every IDLE_CHECK seconds. The socket
also reads a PDU with a few large reads, where pynetdicom reads 4 kB at a time.

Association._run_reactor mirrors pynetdicom 3.0.4's, with its first-line sleep replaced by the
wait; RequestHandler._create_association is pynetdicom 3.0.4's, making the classes below;
Socket.recv replaces AssociationSocket.recv. UPSTREAM_SHA256 holds the hash of each upstream
method as read, and tests/test_wire_reactors.py compares it with the installed library's. The
server (dicomnet/scp.py, through wire.server) makes its associations with RequestHandler
while the fast paths are on; pynetdicom's requesting associations (the SCU side) are left as
they are.

Every byte an association sends goes through Socket.send, under the socket's send lock:
pynetdicom's own PDUs from the DUL reactor and the responses written directly
(wire.store_response, wire.pending) alike, so that two writes never interleave.

Private names of pynetdicom used here, and why:
- Association._run_reactor, _serve_request, _kill, _is_paused, _reactor_checkpoint: the loop
  replaced, and the state it keeps, read and written as pynetdicom's loop does;
- RequestHandler._create_association, Association._server, AssociationServer._handlers:
  the association made with our classes, bound to the server and its handlers as upstream;
- pynetdicom._globals (MODE_ACCEPTOR);
- DULServiceProvider._run_loop_delay, _is_transport_event: the DUL loop's sleep turned off,
  and the wait put where it looks for work; event_queue, to_user_queue,
  DIMSEServiceProvider.msg_queue: the queues watched, or replaced by ones that wake the
  reactor.
"""

import os
import queue
import select
import threading
from copy import deepcopy
from datetime import datetime

from pynetdicom import evt
from pynetdicom._globals import MODE_ACCEPTOR
from pynetdicom.association import Association as PynetdicomAssociation
from pynetdicom.dul import DULServiceProvider
from pynetdicom.transport import AssociationSocket
from pynetdicom.transport import RequestHandler as PynetdicomRequestHandler

from dicomnet.wire import incoming
from dicomnet.wire.store_response import DIMSE

PRIVATE_NAMES = (
    "_run_reactor",
    "_serve_request",
    "_kill",
    "_is_paused",
    "_reactor_checkpoint",
    "_create_association",
    "_server",
    "_handlers",
    "_globals",
    "_run_loop_delay",
    "_is_transport_event",
    "event_queue",
    "to_user_queue",
    "msg_queue",
)

# The upstream methods copied or replaced here, as read from pynetdicom 3.0.4: the sha256 of
# inspect.getsource(method). Another hash means upstream changed what this module mirrors.
UPSTREAM_SHA256 = {
    "pynetdicom.association.Association._run_reactor": (
        "f28838c5559e462a563750cfc9f3790027f4bb7e2223baf42c9f5d682c359dee"
    ),
    "pynetdicom.transport.RequestHandler._create_association": (
        "05c8d12b79863cdbdb901ce37187b7030a0434c5cd89d219ed0bedbda679a61e"
    ),
    "pynetdicom.transport.AssociationSocket.recv": "6bc20a33b1b7cfe76d4ad4407ca242563bc6206fde4b4e1cf7a2fbb1f11d621d",
}

# Seconds between looks at the timers when nothing happens.
IDLE_CHECK = 0.05
# Largest single read from an association's socket.
RECEIVE_CHUNK = 1 << 20


class WakingQueue(queue.Queue):
    """A queue that calls `wake` after each put, so that a thread can sleep until any of
    several queues receives something."""

    def __init__(self, wake):
        super().__init__()
        self.wake = wake

    def put(self, item, block=True, timeout=None):
        super().put(item, block, timeout)
        self.wake()


class Socket(AssociationSocket):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.send_lock = threading.Lock()

    def send(self, bytestream):
        """AssociationSocket.send under the send lock: the only way bytes leave an association.
        pynetdicom's DUL reactor sends its PDUs here, and the handler threads' direct
        responses too; without the lock a response could land inside another PDU."""
        with self.send_lock:
            super().send(bytestream)

    def recv(self, nr_bytes):
        """AssociationSocket.recv (`nr_bytes` bytes, fewer when the connection closes first)
        without its 4 kB reads: a 128 kB PDU took 32 of them, each through Python. Memory
        grows with what arrives, never with what a PDU's length field announces."""
        received = bytearray()
        while len(received) < nr_bytes:
            chunk = self.socket.recv(min(nr_bytes - len(received), RECEIVE_CHUNK))
            if not chunk:
                break
            received += chunk
        return received


class DUL(DULServiceProvider):
    """The DUL reactor, sleeping on its socket and its wake-up pipe instead of polling."""

    def __init__(self, assoc):
        super().__init__(assoc)
        # The loop's own sleep between turns; the waiting happens in _is_transport_event.
        self._run_loop_delay = 0
        self.wake_lock = threading.Lock()
        # Made when the reactor starts and closed when it ends: a wake-up before then is not
        # needed, the reactor looks at its queues before it first waits.
        self.wake_read = self.wake_write = None

    def wake(self):
        with self.wake_lock:
            if self.wake_write is not None:
                try:
                    os.write(self.wake_write, b"\0")
                except BlockingIOError:
                    pass  # the pipe is full: the reactor has wake-ups enough waiting

    def send_pdu(self, primitive):
        super().send_pdu(primitive)
        self.wake()

    def kill_dul(self):
        super().kill_dul()
        self.wake()

    def _is_transport_event(self):
        if self.event_queue.empty():
            self.wait_for_something()
        return super()._is_transport_event()

    def wait_for_something(self):
        """Sleep until the peer sends, a primitive is queued to be sent, or IDLE_CHECK passes."""
        poller = select.poll()
        poller.register(self.wake_read, select.POLLIN)
        connection = self.socket.socket if self.socket is not None else None
        if connection is not None and connection.fileno() != -1:
            poller.register(connection.fileno(), select.POLLIN)
        poller.poll(IDLE_CHECK * 1000)
        try:
            while os.read(self.wake_read, 4096):
                pass
        except BlockingIOError:
            pass

    def run_reactor(self):
        read, write = os.pipe()
        os.set_blocking(read, False)
        os.set_blocking(write, False)
        with self.wake_lock:
            self.wake_read, self.wake_write = read, write
        try:
            super().run_reactor()
        finally:
            with self.wake_lock:
                self.wake_read = self.wake_write = None
                os.close(read)
                os.close(write)
            self.assoc.activity.set()


class Association(PynetdicomAssociation):
    """An accepted association whose reactor sleeps until something arrives for it, and whose
    successful C-STORE responses are written directly (wire.store_response.DIMSE)."""

    # Whether the peer may C-STORE, decided at its first C-STORE (dicomnet/scp.py may_store):
    # its peer cannot change, and a database query per instance is a cost worth sparing.
    store_allowed = None

    def __init__(self, ae, mode):
        super().__init__(ae, mode)
        self.activity = threading.Event()
        self.dul = DUL(self)
        self.dimse = DIMSE(self)
        # The timeouts set by pynetdicom went to the DUL it made: give them to this one.
        self.acse_timeout = self.ae.acse_timeout
        self.network_timeout = self.ae.network_timeout
        self.dul.to_user_queue = WakingQueue(self.activity.set)
        self.dimse.msg_queue = WakingQueue(self.activity.set)

    def run_reactor(self):
        try:
            super().run_reactor()
        finally:
            # However it ended, what its data sets left in the incoming folder goes.
            incoming.discard(self)

    def _run_reactor(self):
        self._is_paused = False
        while not self._kill:
            # Sleeping counts as paused: a thread pausing the reactor to send a request of
            # its own needs no wake-up, and the checkpoint below holds the reactor back.
            self._is_paused = True
            if self.dimse.msg_queue.empty():
                self.activity.wait(IDLE_CHECK)
            self.activity.clear()
            self._reactor_checkpoint.wait()
            self._is_paused = False

            context_id, msg = self.dimse.get_msg(block=False)
            if msg:
                self._serve_request(msg, context_id)

            if self.is_established and self.acse.is_release_requested():
                self.acse.send_release(is_response=True)
                self.is_released = True
                self.is_established = False
                evt.trigger(self, evt.EVT_RELEASED, {})
                self.kill()
                return

            if self.acse.is_aborted():
                self.dul.receive_pdu(wait=False)  # so that EVT_ACSE_RECV fires
                self.is_aborted = True
                self.is_established = False
                evt.trigger(self, evt.EVT_ABORTED, {})
                self.kill()
                return

            if not self.dul.is_alive():
                self.kill()
                return

            if self.dul.idle_timer_expired():
                if self.network_timeout_response == "A-RELEASE":
                    self._is_paused = True
                    self._reactor_checkpoint.wait()
                    self.release()
                    self._is_paused = False
                else:
                    self.abort()
                self.kill()
                return


class RequestHandler(PynetdicomRequestHandler):
    """pynetdicom's handler of an incoming connection (its _create_association, 3.0.4),
    making the association and socket above."""

    def _create_association(self):
        assoc = Association(self.ae, MODE_ACCEPTOR)
        assoc._server = self.server
        assoc.name = f"AcceptorThread@{datetime.now():%Y%m%d%H%M%S}"
        assoc.set_socket(Socket(assoc, client_socket=self.request))

        assoc.acceptor.maximum_length = self.ae.maximum_pdu_size
        assoc.acceptor.ae_title = self.server.ae_title
        assoc.acceptor.address_info = self.local
        assoc.acceptor.implementation_class_uid = self.ae.implementation_class_uid
        assoc.acceptor.implementation_version_name = self.ae.implementation_version_name
        assoc.acceptor.supported_contexts = deepcopy(self.server.contexts)
        assoc.requestor.address_info = self.remote

        for event, handlers in self.server._handlers.items():
            if event.is_intervention and handlers:
                assoc.bind(event, *handlers)
            elif isinstance(event, evt.NotificationEvent):
                for handler, args in handlers:
                    assoc.bind(event, handler, args)
        return assoc
