"""The DICOM server against real peers: DCMTK tools and pynetdicom."""

import copy
import io
from concurrent.futures import ThreadPoolExecutor

import pydicom
import pytest
from pynetdicom import AE

from dicomnet.models import Modality
from explorer import runtime_settings, storage
from explorer.models import Instance
from tests.conftest import CT_SMALL, VARIED_FILES, dicom_bytes, sample_path
from tests.dicom_peers import dcmtk, port_of
from tests.test_wire_reactors import fast_paths_only


def test_echo_with_echoscu(dicom_server):
    result = dcmtk("echoscu", "-aec", "PHAROS", "127.0.0.1", port_of(dicom_server))
    assert result.returncode == 0, result.stderr


LITTLE_ENDIAN_FILES = ["CT_small.dcm", "MR_small.dcm", "rtplan.dcm", "chrH31.dcm"]


def data_set_bytes(data):
    """The bytes after the file meta information: what travels in a C-STORE."""
    meta_length = int.from_bytes(data[140:144], "little")
    return data[144 + meta_length :]


def test_store_with_storescu_indexes_byte_identical_data(dicom_server):
    paths = [sample_path(name) for name in LITTLE_ENDIAN_FILES]
    result = dcmtk("storescu", "-aec", "PHAROS", "-aet", "SENDER", "127.0.0.1", port_of(dicom_server), *paths)
    assert result.returncode == 0, result.stdout + result.stderr
    assert Instance.objects.count() == len(paths)
    ct = Instance.objects.get(sop_instance_uid="1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322")
    assert ct.origin == "DicomProtocol"
    assert (ct.remote_aet, ct.remote_ip, ct.called_aet) == ("SENDER", "127.0.0.1", "PHAROS")
    # storescu drops the trailing padding of CT_small; everything else arrives unchanged.
    stored = pydicom.dcmread(storage.path_for(ct.file_uuid))
    assert stored.PixelData == pydicom.dcmread(sample_path(CT_SMALL)).PixelData


@pytest.mark.parametrize("name", VARIED_FILES)
def test_every_transfer_syntax_is_stored_as_sent(dicom_server, name):
    dataset = pydicom.dcmread(sample_path(name))
    ae = AE(ae_title="PYSCU")
    ae.add_requested_context(dataset.SOPClassUID, dataset.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", port_of(dicom_server), ae_title="PHAROS")
    assert assoc.is_established
    status = assoc.send_c_store(sample_path(name))
    assoc.release()
    assert status.Status == 0x0000
    instance = Instance.objects.get()
    assert instance.transfer_syntax_uid == dataset.file_meta.TransferSyntaxUID
    assert data_set_bytes(storage.read(instance.file_uuid)) == data_set_bytes(dicom_bytes(name))


def test_store_refused_for_unknown_aes_when_the_setting_says_so(dicom_server, settings):
    settings.PHAROS_DICOM_ALWAYS_ALLOW_STORE = False
    result = dcmtk(
        "storescu", "-aec", "PHAROS", "-aet", "STRANGER", "127.0.0.1", port_of(dicom_server), sample_path(CT_SMALL)
    )
    assert Instance.objects.count() == 0
    Modality.objects.create(name="known", aet="STRANGER", host="127.0.0.1", port=104)
    result = dcmtk(
        "storescu", "-aec", "PHAROS", "-aet", "STRANGER", "127.0.0.1", port_of(dicom_server), sample_path(CT_SMALL)
    )
    assert result.returncode == 0
    assert Instance.objects.count() == 1


def test_store_with_pynetdicom(dicom_server):
    import pydicom

    ae = AE(ae_title="PYSCU")
    ae.add_requested_context("1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.1.2.1")
    assoc = ae.associate("127.0.0.1", port_of(dicom_server), ae_title="PHAROS")
    assert assoc.is_established
    status = assoc.send_c_store(pydicom.dcmread(sample_path(CT_SMALL)))
    assoc.release()
    assert status.Status == 0x0000
    assert Instance.objects.get().remote_aet == "PYSCU"


@fast_paths_only  # wire.server.SharedContexts
def test_associations_share_the_servers_contexts_unchanged(dicom_server):
    """Each association reads the server's presentation contexts without its own copy;
    negotiating one association leaves them as they were for the next."""
    contexts = dicom_server.contexts
    assert copy.deepcopy(contexts) is contexts
    before = [(cx.abstract_syntax, list(cx.transfer_syntax), cx.scu_role, cx.scp_role) for cx in contexts]
    for syntaxes in (["1.2.840.10008.1.2.4.50"], ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"]):
        ae = AE(ae_title="PYSCU")
        ae.add_requested_context("1.2.840.10008.5.1.4.1.1.2", syntaxes)
        assoc = ae.associate("127.0.0.1", port_of(dicom_server), ae_title="PHAROS")
        assert assoc.is_established
        assert [cx.transfer_syntax[0] for cx in assoc.accepted_contexts] == syntaxes[-1:]
        assoc.release()
    assert [(cx.abstract_syntax, list(cx.transfer_syntax), cx.scu_role, cx.scp_role) for cx in contexts] == before


def test_garbage_on_the_port_does_not_stop_the_server(dicom_server):
    import socket

    with socket.create_connection(("127.0.0.1", port_of(dicom_server))) as s:
        s.sendall(b"\x01\x00\x00\x00\x00\x10garbage-garbage-garbage" * 10)
    with socket.create_connection(("127.0.0.1", port_of(dicom_server))) as s:
        s.sendall(b"GET / HTTP/1.1\r\n\r\n")
    result = dcmtk("echoscu", "-aec", "PHAROS", "127.0.0.1", port_of(dicom_server))
    assert result.returncode == 0


def test_twenty_concurrent_associations_store_distinct_files(dicom_server, settings):
    import io
    import threading

    from tests.conftest import make_dicom

    settings.PHAROS_DICOM_MAX_ASSOCIATIONS_PER_AE = 20  # one AE title for all

    files = [make_dicom(PatientID=f"P{i % 5}") for i in range(60)]
    statuses, lock = [], threading.Lock()

    def send(chunk):
        ae = AE(ae_title=f"SCU{len(chunk)}")
        ae.add_requested_context("1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.1.2.1")
        assoc = ae.associate("127.0.0.1", port_of(dicom_server), ae_title="PHAROS")
        for data in chunk:
            status = assoc.send_c_store(pydicom.dcmread(io.BytesIO(data)))
            with lock:
                statuses.append(status.Status if status else None)
        assoc.release()

    threads = [threading.Thread(target=send, args=(files[i::20],)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [0] * 60
    assert Instance.objects.count() == 60


def test_the_called_ae_title_is_checked_when_the_setting_says_so(transactional_db, settings):
    from dicomnet import scp
    from tests.dicom_peers import free_port

    settings.PHAROS_DICOM_CHECK_CALLED_AET = True
    server = scp.start(port=free_port(), host="127.0.0.1")
    try:
        assert dcmtk("echoscu", "-aec", "SOMEONE", "127.0.0.1", port_of(server)).returncode != 0
        assert dcmtk("echoscu", "-aec", "PHAROS", "127.0.0.1", port_of(server)).returncode == 0
    finally:
        server.shutdown()


def test_an_abrupt_close_mid_association_ends_that_association_only(dicom_server):
    import socket

    ae = AE(ae_title="QUITTER")
    ae.add_requested_context("1.2.840.10008.1.1")
    assoc = ae.associate("127.0.0.1", port_of(dicom_server), ae_title="PHAROS")
    assert assoc.is_established
    assoc.dul.socket.socket.shutdown(socket.SHUT_RDWR)
    assoc.dul.socket.socket.close()
    assert dcmtk("echoscu", "-aec", "PHAROS", "127.0.0.1", port_of(dicom_server)).returncode == 0


def test_associations_spread_evenly_over_servers_sharing_the_port(transactional_db, monkeypatch):
    from dicomnet import scp
    from explorer import accepting

    # Longer than the default, so that neither a loaded machine nor a garbage collection in
    # the idle server decides the race.
    monkeypatch.setattr(accepting, "DELAY_PER_CONNECTION", 0.25)
    monkeypatch.setattr(accepting, "DELAY_MAX", 1)
    listener = scp.listening_socket(0, "127.0.0.1")
    servers = [scp.start(listener=listener, shared=True) for _ in range(2)]
    ae = AE(ae_title="SPREAD")
    ae.add_requested_context("1.2.840.10008.1.1")
    port = listener.getsockname()[1]
    with ThreadPoolExecutor(4) as pool:  # arriving together, as from four storescu
        associations = list(pool.map(lambda _: ae.associate("127.0.0.1", port, ae_title="PHAROS"), range(4)))
    try:
        assert all(assoc.is_established for assoc in associations)
        assert sorted(len(server.active_associations) for server in servers) == [2, 2]
    finally:
        for assoc in associations:
            assoc.release()
        for server in servers:
            server.shutdown()


# --- Every storage class, and unknown ones with UnknownSopClassAccepted --------------------

RETIRED_ULTRASOUND_FILE = "color-pl.dcm"  # Ultrasound Image Storage (Retired), 1.2.840.10008.5.1.4.1.1.6
UNKNOWN_CLASS = "1.2.826.0.1.3680043.8.498.999.1"  # named by no dictionary


def storescu(server, *paths):
    # -R: propose the files' own classes (storescu's default list leaves retired ones out);
    # -nh: go on after a refused file, as a batch should.
    return dcmtk("storescu", "-R", "-nh", "-aec", "PHAROS", "-aet", "CART", "127.0.0.1", port_of(server), *paths)


def test_a_retired_storage_class_is_stored(dicom_server):
    result = storescu(dicom_server, sample_path(RETIRED_ULTRASOUND_FILE))
    assert result.returncode == 0, result.stdout + result.stderr
    assert Instance.objects.get().sop_class_uid == "1.2.840.10008.5.1.4.1.1.6"


def test_a_batch_of_retired_and_current_classes_is_stored_whole(dicom_server):
    names = [CT_SMALL, RETIRED_ULTRASOUND_FILE, "MR_small.dcm"]
    result = storescu(dicom_server, *map(sample_path, names))
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(Instance.objects.values_list("sop_class_uid", flat=True)) == [
        "1.2.840.10008.5.1.4.1.1.2",
        "1.2.840.10008.5.1.4.1.1.4",
        "1.2.840.10008.5.1.4.1.1.6",
    ]


def mixed_batch():
    """CT, an unknown class and the retired ultrasound, each with its data set."""
    from tests.conftest import make_dicom

    unknown = pydicom.dcmread(io.BytesIO(make_dicom(SOPClassUID=UNKNOWN_CLASS)))
    return [pydicom.dcmread(sample_path(CT_SMALL)), unknown, pydicom.dcmread(sample_path(RETIRED_ULTRASOUND_FILE))]


def send_batch(server, datasets):
    """Proposes each data set's class on one association and sends each file: the statuses
    (None for a class whose context was refused) and the association's state at the end."""
    ae = AE(ae_title="CART")
    for dataset in datasets:
        ae.add_requested_context(dataset.SOPClassUID, dataset.file_meta.TransferSyntaxUID)
    assoc = ae.associate("127.0.0.1", port_of(server), ae_title="PHAROS")
    assert assoc.is_established
    accepted = {cx.abstract_syntax for cx in assoc.accepted_contexts}
    statuses = []
    for dataset in datasets:
        if dataset.SOPClassUID in accepted:
            statuses.append(assoc.send_c_store(dataset).Status)
        else:
            statuses.append(None)
    established = assoc.is_established
    assoc.release()
    return statuses, established


def test_unknown_classes_are_refused_per_context_and_the_rest_stored(dicom_server):
    statuses, established = send_batch(dicom_server, mixed_batch())
    assert statuses == [0x0000, None, 0x0000]
    assert established
    assert Instance.objects.count() == 2


def test_unknown_classes_are_stored_with_unknown_sop_class_accepted(dicom_server):
    runtime_settings.change("UnknownSopClassAccepted", True)
    statuses, established = send_batch(dicom_server, mixed_batch())
    assert statuses == [0x0000, 0x0000, 0x0000]
    assert established
    assert Instance.objects.filter(sop_class_uid=UNKNOWN_CLASS).count() == 1


def test_the_accepted_transfer_syntaxes_are_read_for_each_association(dicom_server):
    path = sample_path(CT_SMALL)  # Explicit VR Little Endian
    runtime_settings.change("AcceptedTransferSyntaxes", ["1.2.840.10008.1.2"])  # Implicit only
    ae = AE(ae_title="PYSCU")
    ae.add_requested_context("1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.1.2.1")
    ae.add_requested_context("1.2.840.10008.1.1")
    assoc = ae.associate("127.0.0.1", port_of(dicom_server), ae_title="PHAROS")
    assert assoc.is_established
    assert [cx.abstract_syntax for cx in assoc.accepted_contexts] == ["1.2.840.10008.1.1"]
    assoc.release()
    runtime_settings.change("AcceptedTransferSyntaxes", ["1.2.840.10008.1.2.1"])
    result = storescu(dicom_server, path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert Instance.objects.count() == 1


def test_a_setting_changed_in_the_database_holds_in_every_dicom_process(tmp_path):
    """The real server (`manage.py start`: DICOM in processes of its own): a setting row
    written in its database, as the REST route writes it, decides its next associations."""
    import json
    import sqlite3

    from tests.dicom_peers import wait_until
    from tests.pharos_server import Server

    data_dir = tmp_path / "data"
    server = Server(data_dir, "password", PHAROS_DICOM_PROCESSES="2")

    def change(name, value):
        with sqlite3.connect(data_dir / "pharos.sqlite3") as database:
            database.execute(
                "INSERT INTO explorer_runtimesetting (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                (name, json.dumps(value)),
            )

    def unknown_class_accepted():
        ae = AE(ae_title="CART")
        ae.add_requested_context(UNKNOWN_CLASS)
        ae.add_requested_context("1.2.840.10008.1.1")
        assoc = ae.associate("127.0.0.1", server.dicom_port, ae_title="PHAROS")
        accepted = {cx.abstract_syntax for cx in assoc.accepted_contexts}
        assoc.release()
        return UNKNOWN_CLASS in accepted

    def ct_stored():
        result = dcmtk("storescu", "-aec", "PHAROS", "127.0.0.1", server.dicom_port, sample_path(CT_SMALL))
        return result.returncode == 0

    try:
        assert not unknown_class_accepted()
        assert ct_stored()
        change("UnknownSopClassAccepted", True)
        # Several associations, so that each DICOM process answers some.
        for _ in range(4):
            wait_until(unknown_class_accepted, 15, "UnknownSopClassAccepted not seen by the DICOM server")
        change("AcceptedTransferSyntaxes", ["1.2.840.10008.1.2.4.50"])  # CT_small is Explicit VR LE
        for _ in range(4):
            wait_until(lambda: not ct_stored(), 15, "AcceptedTransferSyntaxes not seen by the DICOM server")
    finally:
        assert server.stop() == 0
