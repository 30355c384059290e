"""pynetdicom's settings for the server (dicomnet/wire/config.py): received data sets are
written in the store's incoming folder, and nothing else in the process changes folder."""

import tempfile

import pytest
from pynetdicom import AE, evt

from dicomnet import scp
from dicomnet.wire import config
from explorer import storage
from explorer.models import Instance
from tests.conftest import CT_SMALL, sample_path
from tests.dicom_peers import free_port, port_of


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "stock"])
def test_a_received_data_set_is_written_in_the_incoming_folder(transactional_db, settings, monkeypatch, fast):
    settings.PHAROS_FAST_PATHS = fast
    paths = []
    handle_store = scp.handle_store

    def noting(event):
        paths.append(event.dataset_path)
        return handle_store(event)

    monkeypatch.setattr(scp, "HANDLERS", [(e, noting if h is handle_store else h) for e, h in scp.HANDLERS])
    tempdir = tempfile.tempdir
    server = scp.start(port=free_port(), host="127.0.0.1")
    try:
        assert config.datasets_received_as_files()
        ae = AE(ae_title="PYSCU")
        ae.add_requested_context("1.2.840.10008.5.1.4.1.1.2")
        assoc = ae.associate("127.0.0.1", port_of(server), ae_title="PHAROS")
        assert assoc.send_c_store(sample_path(CT_SMALL)).Status == 0x0000
        assoc.release()
    finally:
        server.shutdown()
    assert tempfile.tempdir == tempdir  # the process's temporary folder is left alone
    (path,) = paths
    assert path.parent == storage.incoming_dir()
    assert not path.exists()  # renamed into the store
    assert Instance.objects.count() == 1
    assert evt.EVT_C_STORE in dict(scp.HANDLERS)
