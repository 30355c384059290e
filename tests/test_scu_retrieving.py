"""C-MOVE and C-GET against DCMTK's dcmqrscp, moving to our own SCP."""

import pydicom
import pytest
from pynetdicom import _config

from dicomnet import scu
from dicomnet.scu import pool
from explorer import storage
from explorer.models import Instance
from tests.conftest import sample_path

CT_STUDY = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
MR_STUDY = "1.3.6.1.4.1.5962.1.2.4.20040826185059.5457"
MR_SERIES = "1.3.6.1.4.1.5962.1.3.4.1.20040826185059.5457"


def stored_dataset(instance):
    return pydicom.dcmread(storage.path_for(instance.file_uuid))


def test_move_a_study_to_our_scp(dcmqrscp):
    reports = []

    content = scu.move(
        dcmqrscp,
        "Study",
        [{"PatientID": "1CT1", "StudyInstanceUID": CT_STUDY}],
        "PHAROS",
        progress=lambda *report: reports.append(report),
    )

    assert content == {
        "Description": "REST API",
        "LocalAet": "PHAROS",
        "Query": [{"0008,0052": "STUDY", "0010,0020": "1CT1", "0020,000d": CT_STUDY}],
        "RemoteAet": "QRSCP",
        "TargetAet": "PHAROS",
    }
    assert reports[-1] == (1, 1, 0)
    instance = Instance.objects.get()
    assert instance.series.study.study_instance_uid == CT_STUDY
    assert (instance.origin, instance.remote_aet) == ("DicomProtocol", "QRSCP")


def test_should_stop_cancels_a_move(dcmqrscp):
    calls = []

    def should_stop():  # asked before the first request, then at its pending response
        calls.append(1)
        return len(calls) >= 2

    identifiers = [{"StudyInstanceUID": CT_STUDY}, {"StudyInstanceUID": MR_STUDY}]
    pool.release_all()
    with pytest.raises(scu.Stopped):
        scu.move(dcmqrscp, "Study", identifiers, "PHAROS", should_stop=should_stop)
    assert Instance.objects.filter(series__study__study_instance_uid=MR_STUDY).count() == 0
    assert pool.idle() == []  # cancelled in the middle: released, never lent again


def test_move_to_an_unknown_destination_is_a_remote_failure(dcmqrscp):
    with pytest.raises(scu.RemoteFailure) as raised:
        scu.move(dcmqrscp, "Study", [{"StudyInstanceUID": CT_STUDY}], "NOWHERE")
    assert raised.value.status == 0xA801
    assert 'C-MOVE to AET "QRSCP"' in str(raised.value)


def test_move_needs_the_unique_key_of_its_level(dcmqrscp):
    with pytest.raises(scu.BadQuery):
        scu.move(dcmqrscp, "Series", [{"StudyInstanceUID": CT_STUDY}], "PHAROS")


@pytest.mark.parametrize("chunked", [True, False], ids=["received-in-a-file", "received-in-memory"])
def test_get_a_series_into_our_index(dcmqrscp, monkeypatch, chunked):
    monkeypatch.setattr(_config, "STORE_RECV_CHUNKED_DATASET", chunked)
    reports = []

    content = scu.get(
        dcmqrscp,
        "Series",
        [{"StudyInstanceUID": MR_STUDY, "SeriesInstanceUID": MR_SERIES}],
        progress=lambda *report: reports.append(report),
    )

    assert (content["InstancesCount"], content["FailedInstancesCount"]) == (1, 0)
    assert content["Query"] == [{"0008,0052": "SERIES", "0020,000d": MR_STUDY, "0020,000e": MR_SERIES}]
    assert reports[-1] == (1, 1, 0)
    instance = Instance.objects.get()
    assert instance.series.series_instance_uid == MR_SERIES
    assert (instance.origin, instance.remote_aet, instance.called_aet) == ("DicomProtocol", "QRSCP", "PHAROS")
    assert stored_dataset(instance).PixelData == pydicom.dcmread(sample_path("MR_small.dcm")).PixelData


def test_two_gets_share_one_association_each_storing_what_it_brings(dcmqrscp, settings):
    settings.PHAROS_DICOM_ASSOCIATION_CLOSE_DELAY = 5
    pool.release_all()
    first = scu.get(dcmqrscp, "Series", [{"StudyInstanceUID": MR_STUDY, "SeriesInstanceUID": MR_SERIES}])
    [kept] = pool.idle()

    second = scu.get(dcmqrscp, "Study", [{"StudyInstanceUID": CT_STUDY}])

    assert pool.idle() == [kept]
    # The second C-GET's instances went to its own receiver, bound on the borrowed association.
    assert (first["InstancesCount"], second["InstancesCount"]) == (1, 1)
    assert sorted(i.series.study.study_instance_uid for i in Instance.objects.all()) == sorted([MR_STUDY, CT_STUDY])
    pool.release_all()
