"""Pending C-FIND responses written to the association's socket (dicomnet/find.py's
pending_answers), instead of one Dataset at a time through pynetdicom.

pynetdicom would encode each answer and its command set again, and its reactor would send
each PDU through its state machine: most of the time of a long answer. The bytes are
wire.find_encoding's, written through the association's locked Socket.send (wire.reactors).

Private names of pynetdicom used here, and why: DULServiceProvider.to_provider_queue, so
that what pynetdicom queued before goes first; DULServiceProvider.peek_next_pdu, to see an
A-RELEASE or A-ABORT waiting while the answers are written.
"""

import time

from pydicom.uid import UID

from dicomnet.wire.find_encoding import IdentifierWriter, message_pdus, pending_command
from dicomnet.wire.reactors import Association
from explorer import pydicom_compat

PRIVATE_NAMES = ("to_provider_queue", "peek_next_pdu")

# Responses are written to the socket dozens at a time, but none waits longer than this for
# the others: answers that come slowly still come one by one.
WRITE_SIZE = 64 * 1024
WRITE_INTERVAL = 0.02  # seconds
QUEUE_WAIT = 0.0005  # seconds between looks at pynetdicom's queue


def writes_directly(assoc):
    """Whether pending responses are written here on this association: it is one of ours
    (the pynetdicom fast paths were on when the server started), and pydicom is the version
    wire.find_encoding's bytes were compared with."""
    return isinstance(assoc, Association) and pydicom_compat.fast_paths()


class PendingResponder:
    """Pending C-FIND responses written to the association's socket, each in as few P-DATA-TF
    PDUs as the peer's maximum PDU length allows, many PDUs per write. pynetdicom's reactor
    sends only what is queued for it, and nothing is while the answers are written: its own
    responses (the final one, a cancel, a failure) are queued once they are written. It goes
    on reading meanwhile, so a C-CANCEL, an A-RELEASE or an A-ABORT is seen."""

    def __init__(self, event):
        context = event.context
        self.assoc = event.assoc
        self.dul = event.assoc.dul
        self.context_id = context.context_id
        self.writer = IdentifierWriter(UID(context.transfer_syntax))
        self.command = pending_command(str(event.request.AffectedSOPClassUID), event.request.MessageID)
        self.max_pdu_length = event.assoc.dimse.maximum_pdu_size
        self.buffer = bytearray()
        self.written_at = float("-inf")  # the first answer goes at once
        self.wait_for_the_reactor()

    def wait_for_the_reactor(self):
        # Whatever pynetdicom queued before goes first (in practice, nothing is).
        while self.dul.to_provider_queue.qsize() and not self.ended():
            time.sleep(QUEUE_WAIT)

    def send(self, identifier):
        """Adds a pending response with this identifier; False when the association ended."""
        self.buffer += message_pdus(self.context_id, self.command, identifier, self.max_pdu_length)
        if len(self.buffer) >= WRITE_SIZE or time.monotonic() - self.written_at >= WRITE_INTERVAL:
            return self.flush()
        return True

    def flush(self):
        """Writes what is waiting; False when the association ended. A failed write makes
        pynetdicom end the association (AssociationSocket.send queues its event)."""
        if self.ended():
            return False
        if self.buffer:
            self.dul.socket.send(bytes(self.buffer))
            self.buffer.clear()
            self.written_at = time.monotonic()
        return not self.ended()

    def ended(self):
        # An A-RELEASE or A-ABORT waiting for the association (pynetdicom checks for one
        # between the answers it sends), or an association already over.
        return self.dul.peek_next_pdu() is not None or not self.assoc.is_established or not self.dul.is_alive()
