"""Successful C-STORE responses written as bytes by dicomnet.wire.store_response: the same PDU as
pynetdicom's, and pynetdicom's own path for everything else."""

import pytest
from pynetdicom import AE
from pynetdicom.dimse_messages import C_STORE_RSP
from pynetdicom.dimse_primitives import C_FIND, C_STORE
from pynetdicom.pdu import P_DATA_TF

from dicomnet.wire.store_response import success_pdu
from explorer.models import Instance
from tests.conftest import CT_SMALL, sample_path
from tests.dicom_peers import port_of

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def response(status=0x0000, message_id=7, sop_instance_uid="1.2.3.4"):
    primitive = C_STORE()
    primitive.MessageIDBeingRespondedTo = message_id
    primitive.AffectedSOPClassUID = CT_IMAGE_STORAGE
    primitive.AffectedSOPInstanceUID = sop_instance_uid
    primitive.Status = status
    return primitive


def pynetdicom_pdus(primitive, context_id, max_pdu_length):
    message = C_STORE_RSP()
    message.primitive_to_message(primitive)
    pdus = []
    for p_data in message.encode_msg(context_id, max_pdu_length):
        pdu = P_DATA_TF()
        pdu.from_primitive(p_data)
        pdus.append(pdu.encode())
    return b"".join(pdus)


@pytest.mark.parametrize(
    "sop_instance_uid", ["1.2.3.4", "1.2.3", "1.2.826.0.1.3680043.8.498.12345678901234567890123456"]
)
@pytest.mark.parametrize("message_id", [1, 7, 65535])
@pytest.mark.parametrize("context_id", [1, 255])
def test_a_success_is_pynetdicoms_pdu(sop_instance_uid, message_id, context_id):
    primitive = response(message_id=message_id, sop_instance_uid=sop_instance_uid)
    assert success_pdu(primitive, context_id, 16384) == pynetdicom_pdus(primitive, context_id, 16384)
    assert success_pdu(primitive, context_id, 0) == pynetdicom_pdus(primitive, context_id, 0)


def test_anything_else_is_left_to_pynetdicom():
    assert success_pdu(response(status=0xA700), 1, 16384) is None
    assert success_pdu(response(status=0xB000), 1, 16384) is None
    commented = response()
    commented.ErrorComment = "a comment"
    assert success_pdu(commented, 1, 16384) is None
    request = C_STORE()
    request.MessageID = 7
    assert success_pdu(request, 1, 16384) is None
    find_response = C_FIND()
    find_response.MessageIDBeingRespondedTo = 7
    find_response.Status = 0x0000
    assert success_pdu(find_response, 1, 16384) is None
    assert success_pdu(response(), 1, 64) is None  # more than one PDU
    assert success_pdu(response(sop_instance_uid=None), 1, 16384) is None


def test_a_peer_reads_the_responses_written_directly(dicom_server):
    ae = AE(ae_title="PYSCU")
    ae.add_requested_context(CT_IMAGE_STORAGE)
    assoc = ae.associate("127.0.0.1", port_of(dicom_server), ae_title="PHAROS")
    statuses = [assoc.send_c_store(sample_path(CT_SMALL)).Status for _ in range(3)]
    assert assoc.is_established
    assoc.release()
    assert statuses == [0x0000] * 3
    assert Instance.objects.count() == 1


@pytest.fixture
def pynetdicom_sends(monkeypatch):
    """(primitive class name, status) of each DIMSE response pynetdicom itself encodes and
    sends (the requestor in this process sends its requests through it too)."""
    from pynetdicom.dimse import DIMSEServiceProvider

    sent = []
    send_msg = DIMSEServiceProvider.send_msg

    def noting(self, primitive, context_id):
        if primitive.MessageIDBeingRespondedTo is not None:
            sent.append((type(primitive).__name__, primitive.Status))
        send_msg(self, primitive, context_id)

    monkeypatch.setattr(DIMSEServiceProvider, "send_msg", noting)
    return sent


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "stock"])
def test_successes_are_written_directly_only_with_the_fast_paths(transactional_db, settings, pynetdicom_sends, fast):
    from dicomnet import scp
    from tests.dicom_peers import free_port

    settings.PHAROS_FAST_PATHS = fast
    server = scp.start(port=free_port(), host="127.0.0.1")
    try:
        ae = AE(ae_title="PYSCU")
        ae.add_requested_context(CT_IMAGE_STORAGE)
        assoc = ae.associate("127.0.0.1", port_of(server), ae_title="PHAROS")
        statuses = [assoc.send_c_store(sample_path(CT_SMALL)).Status for _ in range(3)]
        assoc.release()
    finally:
        server.shutdown()
    assert statuses == [0x0000] * 3
    assert pynetdicom_sends == ([] if fast else [("C_STORE", 0x0000)] * 3)
