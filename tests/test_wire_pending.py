"""Pending C-FIND responses written to the socket by dicomnet/wire/pending.py when the fast
paths are on, sent by pynetdicom one Dataset at a time when they are off."""

import pytest
from pydicom.dataset import Dataset

from dicomnet import scp
from dicomnet.wire import pending
from tests.dicom_peers import free_port
from tests.find_archive import DOE_BRAIN, identifier
from tests.test_find import pyfind, pynetdicom_find  # noqa: F401 (pyfind is a fixture)
from tests.test_wire_store_response import pynetdicom_sends  # noqa: F401 (a fixture)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=[True, False], ids=["fast", "stock"])
def dicom_server(request, transactional_db, settings):
    """Our DICOM server with PHAROS_FAST_PATHS on, then off (pyfind's server)."""
    settings.PHAROS_FAST_PATHS = request.param
    server = scp.start(port=free_port(), host="127.0.0.1")
    server.fast = request.param
    yield server
    server.shutdown()


def test_pending_answers_are_written_directly_only_with_the_fast_paths(archive, pyfind, pynetdicom_sends, monkeypatch):  # noqa: F811
    from dicomnet import find

    given = []
    original = find.answers_for_pynetdicom

    def noting(event, found):
        given.append(event.assoc)
        return (yield from original(event, found))

    monkeypatch.setattr(find, "answers_for_pynetdicom", noting)
    responses = pynetdicom_find(pyfind, identifier("SERIES", StudyInstanceUID=DOE_BRAIN, Modality=""))
    assert [status for status, _ in responses] == [0xFF00, 0xFF00, 0x0000]
    assert all(isinstance(answer, Dataset) for _, answer in responses[:-1])
    pending_sent = [sent for sent in pynetdicom_sends if sent == ("C_FIND", 0xFF00)]
    if pyfind.fast:
        assert pending_sent == [] and given == []
    else:
        assert len(pending_sent) == 2 and len(given) == 1
        assert not pending.writes_directly(given[0])


def test_the_constants_moved_with_the_responder():
    assert pending.WRITE_SIZE == 64 * 1024 and pending.WRITE_INTERVAL == 0.02 and pending.QUEUE_WAIT == 0.0005
