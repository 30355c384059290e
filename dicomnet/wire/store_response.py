"""Successful C-STORE responses written to the association's socket as bytes.

For each response pynetdicom builds a pydicom data set, encodes it twice (once for its group
length) and queues it for its reactor thread, which sends it on its next turn, up to a
millisecond later. Over thousands of instances that was about a tenth of the DICOM server's
time. A success is written here instead, in the handler's thread, as soon as pynetdicom
would send it, through the association's locked Socket.send (wire.reactors); anything else
(a failure, a response that would need several PDUs, one behind something already queued)
still goes through pynetdicom. tests/test_wire_store_response.py checks the bytes are
pynetdicom's.

Private names of pynetdicom used here, and why: DIMSEServiceProvider.send_msg is extended by
a subclass made by wire.reactors.Association; DULServiceProvider.to_provider_queue is looked
at so that a response never overtakes a PDU pynetdicom queued before it.
"""

import struct

from pynetdicom.dimse import DIMSEServiceProvider
from pynetdicom.dimse_primitives import C_STORE

from dicomnet.wire.find_encoding import COMMAND_LAST, PDV_OVERHEAD, implicit_element, p_data_tf

PRIVATE_NAMES = ("to_provider_queue",)

C_STORE_RSP = 0x8001
NO_DATA_SET = 0x0101
SUCCESS = 0x0000


def uid_value(uid):
    value = str(uid).encode("ascii")
    return value + b"\x00" if len(value) % 2 else value


def success_command(sop_class_uid, sop_instance_uid, message_id):
    """The command set of a successful C-STORE-RSP as pynetdicom encodes it: Implicit VR Little
    Endian (PS3.7 6.3.1), the elements of PS3.7 Table 9.3-2 that it sets, in tag order."""
    elements = b"".join(
        (
            implicit_element(0x0000, 0x0002, uid_value(sop_class_uid)),  # Affected SOP Class UID
            implicit_element(0x0000, 0x0100, struct.pack("<H", C_STORE_RSP)),  # Command Field
            implicit_element(0x0000, 0x0120, struct.pack("<H", message_id)),  # Message ID Being Responded To
            implicit_element(0x0000, 0x0800, struct.pack("<H", NO_DATA_SET)),  # Command Data Set Type
            implicit_element(0x0000, 0x0900, struct.pack("<H", SUCCESS)),  # Status
            implicit_element(0x0000, 0x1000, uid_value(sop_instance_uid)),  # Affected SOP Instance UID
        )
    )
    return implicit_element(0x0000, 0x0000, struct.pack("<L", len(elements))) + elements


def success_pdu(primitive, context_id, max_pdu_length):
    """The P-DATA-TF PDU of a successful C-STORE response primitive, or None when pynetdicom
    should send it (not a plain success, or more than one PDU)."""
    if type(primitive) is not C_STORE or primitive.Status != SUCCESS or primitive.MessageIDBeingRespondedTo is None:
        return None
    if primitive.ErrorComment or primitive.OffendingElement:
        return None
    if not primitive.AffectedSOPClassUID or not primitive.AffectedSOPInstanceUID:
        return None
    command = success_command(
        primitive.AffectedSOPClassUID, primitive.AffectedSOPInstanceUID, primitive.MessageIDBeingRespondedTo
    )
    if max_pdu_length and len(command) + PDV_OVERHEAD > max_pdu_length:
        return None
    return p_data_tf([(context_id, COMMAND_LAST + command)])


class DIMSE(DIMSEServiceProvider):
    """pynetdicom's DIMSE provider of one of our associations, whose successful C-STORE
    responses are written to the socket by the thread that handled the request."""

    def send_msg(self, primitive, context_id):
        dul = self.dul
        pdu = None if dul.to_provider_queue.qsize() else success_pdu(primitive, context_id, self.maximum_pdu_size)
        if pdu is None or dul.socket is None:
            super().send_msg(primitive, context_id)
        else:
            dul.socket.send(pdu)
