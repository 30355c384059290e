"""The DICOM server when things fail (dicomnet/scp.py, dicomnet/wire/incoming.py): every
C-STORE gets the status that tells its sender what to do, and nothing is left in
storage/incoming. A real `manage.py start` on a small tmpfs, with a PostgreSQL of its own that
the tests stop."""

import contextlib
import io
import struct

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom.dimse_messages import C_STORE_RQ
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.sop_class import (
    SecondaryCaptureImageStorage,
    StudyRootQueryRetrieveInformationModelFind,
    StudyRootQueryRetrieveInformationModelGet,
    StudyRootQueryRetrieveInformationModelMove,
    Verification,
)

from tests.conftest import CT_SMALL, make_dicom, make_image, sample_path
from tests.dicom_peers import dcmtk, wait_until
from tests.outages import private_postgres, small_tmpfs
from tests.pharos_server import Server

OUT_OF_RESOURCES = range(0xA700, 0xA800)
CANNOT_UNDERSTAND = range(0xC000, 0xD000)
DISK = "16m"


class Pharos:
    def __init__(self, server, database, data_dir):
        self.server = server
        self.database = database
        self.incoming = data_dir / "storage" / "incoming"

    def assert_nothing_left(self):
        wait_until(lambda: not any(self.incoming.iterdir()), 10, "a received file stayed in storage/incoming")


@pytest.fixture(scope="module")
def pharos():
    with small_tmpfs(DISK) as data_dir, private_postgres() as database:
        server = Server(data_dir, "password", database_url=database.url, PHAROS_DICOM_PROCESSES="1")
        try:
            yield Pharos(server, database, data_dir)
        finally:
            server.stop()


def associate(pharos, *contexts, aet="SENDER"):
    ae = AE(ae_title=aet)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
    for context in contexts or (SecondaryCaptureImageStorage,):
        ae.add_requested_context(context, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", pharos.server.dicom_port, ae_title="PHAROS")
    assert assoc.is_established
    return assoc


def store(pharos, data):
    """The C-STORE response (a Dataset) of a Part 10 file given as bytes."""
    dataset = pydicom.dcmread(io.BytesIO(data))
    assoc = associate(pharos, dataset.SOPClassUID)
    try:
        return assoc.send_c_store(dataset)
    finally:
        assoc.release()


# --- raw P-DATA, for what pynetdicom's SCU would not send ------------------------------------


def data_set_of(data):
    """The bytes after a Part 10 file's meta information: what a C-STORE carries."""
    meta_length = struct.unpack("<L", data[140:144])[0]
    return data[144 + meta_length :]


def p_data_tf(context_id, control, value):
    item = struct.pack(">LBB", len(value) + 2, context_id, control) + value
    return struct.pack(">BBL", 0x04, 0, len(item)) + item


def send_command(assoc, sop_class, sop_instance):
    """A C-STORE-RQ command announcing a data set, as pynetdicom encodes it; its context id."""
    context_id = assoc.accepted_contexts[0].context_id
    request = C_STORE()
    request.MessageID = 1
    request.AffectedSOPClassUID = sop_class
    request.AffectedSOPInstanceUID = sop_instance
    request.Priority = 2
    request.DataSet = io.BytesIO(b"announced")
    message = C_STORE_RQ()
    message.primitive_to_message(request)
    command = next(message.encode_msg(context_id, 0)).presentation_data_value_list[0][1]
    assoc.dul.socket.send(p_data_tf(context_id, command[0], command[1:]))
    return context_id


@contextlib.contextmanager
def reactor_paused(assoc):
    """The requestor's reactor held back, as pynetdicom's send_c_* hold it, so that the response
    is left for the test to read (else the reactor takes it as unexpected)."""
    assoc._reactor_checkpoint.clear()
    wait_until(lambda: assoc._is_paused, 10, "the association's reactor did not pause", interval=0.001)
    try:
        yield
    finally:
        assoc._reactor_checkpoint.set()


def response_to(assoc):
    context_id, response = assoc.dimse.get_msg(block=True)
    assert response is not None, "no response"
    return response


def send_raw_store(assoc, data):
    """A C-STORE of `data` (Part 10 bytes) written as P-DATA PDUs, whatever it holds; the
    response as pynetdicom's SCU reads it."""
    meta = pydicom.dcmread(io.BytesIO(data), force=True).file_meta
    with reactor_paused(assoc):
        context_id = send_command(assoc, meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID)
        assoc.dul.socket.send(p_data_tf(context_id, 0x02, data_set_of(data)))
        return response_to(assoc)


# --- what is left behind ----------------------------------------------------------------------


def test_an_abort_in_the_middle_of_a_data_set_leaves_nothing(pharos):
    data = make_image(1024, b"\x01\x02" * 1024 * 1024)  # 2 MB
    dataset = pydicom.dcmread(io.BytesIO(data))
    assoc = associate(pharos, dataset.SOPClassUID, aet="ABORTER")
    context_id = send_command(assoc, dataset.SOPClassUID, dataset.SOPInstanceUID)
    for offset in range(0, 1 << 20, 1 << 16):  # half of it, in fragments that are not the last
        assoc.dul.socket.send(p_data_tf(context_id, 0x00, data_set_of(data)[offset : offset + (1 << 16)]))
    wait_until(lambda: any(pharos.incoming.iterdir()), 10, "the data set was not being received")
    assoc.abort()
    pharos.assert_nothing_left()
    assert store(pharos, make_dicom()).Status == 0x0000


def test_an_empty_data_set_is_answered_at_once(pharos):
    data = make_dicom()
    dataset = pydicom.dcmread(io.BytesIO(data))
    assoc = associate(pharos, dataset.SOPClassUID)
    try:
        with reactor_paused(assoc):
            context_id = send_command(assoc, dataset.SOPClassUID, dataset.SOPInstanceUID)
            assoc.dul.socket.send(p_data_tf(context_id, 0x02, b""))  # the last fragment, empty
            response = response_to(assoc)
        assert response.Status in CANNOT_UNDERSTAND
        assert response.ErrorComment
    finally:
        assoc.abort()
    pharos.assert_nothing_left()


def test_a_file_whose_last_element_is_cut_short_is_refused_as_by_rest(pharos):
    data = make_image(512, b"\x07\x00" * 512 * 512)  # 512 kB of pixel data: read by the server later
    assoc = associate(pharos, SecondaryCaptureImageStorage)
    try:
        response = send_raw_store(assoc, data[:-1000])
        assert response.Status in CANNOT_UNDERSTAND
        assert "cut short" in response.ErrorComment
    finally:
        assoc.abort()
    pharos.assert_nothing_left()


def test_data_that_cannot_be_indexed_is_refused_and_leaves_nothing(pharos):
    response = store(pharos, make_dicom(StudyInstanceUID=None))
    assert response.Status in CANNOT_UNDERSTAND
    assert "No Study Instance UID" in response.ErrorComment
    pharos.assert_nothing_left()


# --- server failures: "out of resources", so that the sender tries again -----------------------


def test_a_full_disk_answers_out_of_resources_and_frees_the_space_at_once(pharos):
    too_large = make_image(3000, b"\x00\x01" * 3000 * 3000)  # 18 MB on a 16 MB disk
    response = store(pharos, too_large)
    assert response.Status in OUT_OF_RESOURCES
    pharos.assert_nothing_left()
    assert store(pharos, make_dicom()).Status == 0x0000


def test_with_the_database_down_each_service_answers_a_failure_and_storing_resumes_after(pharos):
    query = Dataset()
    query.QueryRetrieveLevel = "STUDY"
    query.StudyInstanceUID = "1.2.3.4"
    kept = associate(pharos, aet="KEEPER")  # an association that lives through the outage
    assert kept.send_c_store(pydicom.dcmread(io.BytesIO(make_dicom()))).Status == 0x0000
    pharos.database.stop()
    try:
        assert store(pharos, make_dicom()).Status in OUT_OF_RESOURCES
        pharos.assert_nothing_left()
        result = dcmtk("storescu", "-v", "-aec", "PHAROS", "127.0.0.1", pharos.server.dicom_port, sample_path(CT_SMALL))
        assert "OutOfResources" in result.stdout + result.stderr, result.stdout + result.stderr

        assoc = associate(
            pharos,
            StudyRootQueryRetrieveInformationModelFind,
            StudyRootQueryRetrieveInformationModelMove,
            StudyRootQueryRetrieveInformationModelGet,
            Verification,
            aet="QUERIER",
        )
        try:
            found = assoc.send_c_find(query, StudyRootQueryRetrieveInformationModelFind)
            assert [status.Status for status, _ in found][-1] in OUT_OF_RESOURCES
            moved = assoc.send_c_move(query, "PHAROS", StudyRootQueryRetrieveInformationModelMove)
            assert [status.Status for status, _ in moved][-1] in OUT_OF_RESOURCES
            got = assoc.send_c_get(query, StudyRootQueryRetrieveInformationModelGet)
            assert [status.Status for status, _ in got][-1] in OUT_OF_RESOURCES
            assert assoc.is_established  # the association goes on
            assert assoc.send_c_echo().Status == 0x0000
        finally:
            assoc.release()
    finally:
        pharos.database.start()
    # The first C-STORE after the database returns succeeds, on a new association and on one
    # whose database connection broke meanwhile.
    assert kept.send_c_store(pydicom.dcmread(io.BytesIO(make_dicom()))).Status == 0x0000
    kept.release()
    assert store(pharos, make_dicom()).Status == 0x0000
    result = dcmtk("storescu", "-aec", "PHAROS", "127.0.0.1", pharos.server.dicom_port, sample_path(CT_SMALL))
    assert result.returncode == 0, result.stdout + result.stderr
