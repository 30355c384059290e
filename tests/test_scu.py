"""Our SCU against real peers: our own SCP, a pynetdicom storage SCP, DCMTK's storescp and dcmqrscp."""

import os
import time

import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid
from pynetdicom import AllStoragePresentationContexts, _config, evt

from dicomnet import scu
from dicomnet.models import Modality
from explorer import levels, storage
from explorer.ingest import Origin, store_instance
from explorer.models import Instance
from tests.conftest import dicom_bytes, make_dicom, make_image, sample_path
from tests.dicom_peers import UTF8_PATIENT, free_port, modality, port_of

CT_STUDY = "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322"
MR_STUDY = "1.3.6.1.4.1.5962.1.2.4.20040826185059.5457"
MR_SERIES = "1.3.6.1.4.1.5962.1.3.4.1.20040826185059.5457"


def ingest(data):
    return store_instance(data, Origin(kind="RestApi"))


def image_with_pixels(number, study, series):
    """A 16-bit monochrome image with random pixels: any re-encoding would show."""
    return make_image(16, os.urandom(16 * 16 * 2), StudyInstanceUID=study, SeriesInstanceUID=series, InstanceNumber=number)


def stored_dataset(instance):
    return pydicom.dcmread(storage.path_for(instance.file_uuid))


# --- C-ECHO -----------------------------------------------------------------------------------


def test_echo_to_our_scp(dicom_server):
    scu.echo(modality("PHAROS", port_of(dicom_server)))


@pytest.mark.django_db
def test_echo_to_a_closed_port_names_the_modality():
    port = free_port()
    with pytest.raises(scu.NetworkError) as raised:
        scu.echo(modality("NOPE", port))
    message = str(raised.value)
    assert message.startswith('DicomAssociation - connecting to AET "NOPE": ')
    assert "TCP Initialization Error: Connection refused" in message
    assert f"host: 127.0.0.1, port: {port}" in message


@pytest.mark.django_db
def test_echo_to_an_unknown_host():
    with pytest.raises(scu.NetworkError, match="no.such.host.invalid"):
        scu.echo(Modality.objects.create(name="nowhere", aet="NOPE", host="no.such.host.invalid", port=104))


@pytest.mark.django_db
def test_echo_rejected_for_a_wrong_called_aet(collector):
    with pytest.raises(scu.AssociationRejected) as raised:
        scu.echo(modality("WRONG", collector.port))
    assert not raised.value.transient
    message = str(raised.value)
    assert message.startswith('DicomAssociation - connecting to AET "WRONG": Association Rejected: Rejected Permanent')


# --- C-STORE ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_store_fifty_instances_to_storescp_byte_identical(storescp):
    port, folder = storescp
    study, series = generate_uid(), generate_uid()
    for number in range(1, 51):
        ingest(image_with_pixels(number, study, series))
    reports = []

    content = scu.store(modality("STORESCP", port), Instance.objects.all(), progress=lambda *r: reports.append(r))

    assert content == {
        "Description": "REST API",
        "FailedInstancesCount": 0,
        "InstancesCount": 50,
        "LocalAet": "PHAROS",
        "ParentResources": [],
        "RemoteAet": "STORESCP",
    }
    assert reports[-1] == (50, 50, 0)
    assert [done for done, _, _ in reports] == list(range(1, 51))
    arrived = {ds.SOPInstanceUID: ds for ds in (pydicom.dcmread(path) for path in folder.iterdir())}
    assert len(arrived) == 50
    for instance in Instance.objects.all():
        assert arrived[instance.sop_instance_uid].PixelData == stored_dataset(instance).PixelData


@pytest.mark.django_db
def test_store_transcodes_for_a_peer_that_accepts_only_uncompressed(collector):
    j2k = ingest(dicom_bytes("JPEG2000.dcm"))
    big_endian = ingest(dicom_bytes("emri_small_big_endian.dcm"))
    ct = ingest(dicom_bytes("CT_small.dcm"))

    content = scu.store(modality("COLLECTOR", collector.port), Instance.objects.all())

    assert content["FailedInstancesCount"] == 0
    received = collector.by_uid()
    j2k_instance = Instance.objects.get(public_id=j2k.instance_id)
    syntax, dataset = received[j2k_instance.sop_instance_uid]
    assert syntax in (ExplicitVRLittleEndian, ImplicitVRLittleEndian)
    reference = pydicom.dcmread(sample_path("JPEG2000.dcm"))
    reference.decompress()
    assert dataset.PixelData == reference.PixelData
    _, dataset = received[Instance.objects.get(public_id=big_endian.instance_id).sop_instance_uid]
    assert (dataset.pixel_array == pydicom.dcmread(sample_path("emri_small_big_endian.dcm")).pixel_array).all()
    _, dataset = received[Instance.objects.get(public_id=ct.instance_id).sop_instance_uid]
    assert dataset.PixelData == pydicom.dcmread(sample_path("CT_small.dcm")).PixelData


@pytest.mark.django_db
def test_store_without_transcoding_counts_what_cannot_travel(collector):
    ingest(dicom_bytes("JPEG2000.dcm"))
    ingest(dicom_bytes("CT_small.dcm"))
    reports = []

    target = modality("COLLECTOR", collector.port, allow_transcoding=False)
    content = scu.store(target, Instance.objects.all(), progress=lambda *r: reports.append(r))

    assert (content["InstancesCount"], content["FailedInstancesCount"]) == (2, 1)
    assert reports[-1] == (2, 2, 1)
    assert [ds.SOPInstanceUID for _, ds in collector.received] == ["1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322"]


@pytest.mark.django_db
@pytest.mark.parametrize("signal", ["returns True", "raises"])
def test_should_stop_interrupts_a_store(collector, signal):
    study, series = generate_uid(), generate_uid()
    for number in range(1, 7):
        ingest(image_with_pixels(number, study, series))
    calls = []

    class Paused(Exception):
        pass

    def should_stop():
        calls.append(1)
        if len(calls) == 4:
            if signal == "raises":
                raise Paused()
            return True
        return False

    expected = Paused if signal == "raises" else scu.Stopped
    with pytest.raises(expected) as raised:
        scu.store(modality("COLLECTOR", collector.port), Instance.objects.order_by("pk"), should_stop=should_stop)
    assert len(collector.received) == 3
    if signal == "returns True":
        assert raised.value.content["InstancesCount"] == 6


@pytest.mark.django_db
def test_store_groups_more_than_128_presentation_contexts(collector):
    # 70 SOP classes, each proposed in Explicit and Implicit VR Little Endian: 140 contexts.
    sop_classes = [context.abstract_syntax for context in AllStoragePresentationContexts][:70]
    for sop_class in sop_classes:
        ingest(make_dicom(SOPClassUID=sop_class))

    content = scu.store(modality("COLLECTOR", collector.port), Instance.objects.all())

    assert content["FailedInstancesCount"] == 0
    assert sorted(ds.SOPClassUID for _, ds in collector.received) == sorted(sop_classes)


@pytest.mark.django_db
def test_store_sends_an_instance_again_when_its_response_is_lost(collector):
    """A response that never comes (pynetdicom 3.0 loses one now and then) ends that
    association; the instance goes again on a new one, and the store succeeds."""
    ingest(dicom_bytes("CT_small.dcm"))
    answer = collector.on_store
    calls = []

    def first_answer_too_late(event):
        calls.append(1)
        if len(calls) == 1:
            time.sleep(3)  # past the modality's 1 s timeout: the requestor gives up on it
        return answer(event)

    collector.server.unbind(evt.EVT_C_STORE, answer)
    collector.server.bind(evt.EVT_C_STORE, first_answer_too_late)

    content = scu.store(modality("COLLECTOR", collector.port, timeout=1), Instance.objects.all())

    assert content["FailedInstancesCount"] == 0
    assert len(calls) == 2


@pytest.mark.django_db
def test_store_retries_opening_the_association(settings, monkeypatch):
    settings.PHAROS_DICOM_STORE_RETRIES = 2
    monkeypatch.setattr(scu, "RETRY_DELAY_SECONDS", 0)
    attempts = []
    open_once = scu._Session._open_once

    def counted(session):
        attempts.append(1)
        return open_once(session)

    monkeypatch.setattr(scu._Session, "_open_once", counted)
    ingest(dicom_bytes("CT_small.dcm"))
    with pytest.raises(scu.NetworkError, match="Connection refused"):
        scu.store(modality("NOPE", free_port()), Instance.objects.all())
    assert len(attempts) == 3


# --- C-FIND against dcmqrscp ----------------------------------------------------------------------


def test_find_studies_with_a_wildcard_drops_keys_of_other_levels(dcmqrscp):
    query = {"PatientName": "CompressedSamples*", "Modality": "CT", "StudyDate": ""}
    answers, dropped = scu.find(dcmqrscp, "Study", query)

    assert dropped == ["Modality"]  # a series key: kept, it would have left out the MR study
    assert sorted(a.StudyInstanceUID for a in answers) == sorted([CT_STUDY, MR_STUDY])
    for answer in answers:
        assert answer.QueryRetrieveLevel == "STUDY"
        assert "AccessionNumber" in answer and "PatientID" in answer  # asked for by the normalisation


def test_find_series_with_a_wildcard(dcmqrscp):
    answers, dropped = scu.find(dcmqrscp, "Series", {"Modality": "M*", "SeriesDescription": "", "0020,0011": ""})

    assert dropped == []
    assert [(a.SeriesInstanceUID, a.StudyInstanceUID, a.Modality) for a in answers] == [(MR_SERIES, MR_STUDY, "MR")]


def test_find_without_normalisation_sends_the_keys_as_given(dcmqrscp):
    answers, dropped = scu.find(dcmqrscp, "Study", {"PatientID": "1CT1", "StudyInstanceUID": ""}, normalize=False)

    assert dropped == []
    assert [a.StudyInstanceUID for a in answers] == [CT_STUDY]
    assert "AccessionNumber" not in answers[0]


def test_find_with_a_utf8_value(dcmqrscp):
    answers, _ = scu.find(dcmqrscp, "Patient", {"PatientName": "Müller*"})

    assert [(a.PatientID, str(a.PatientName)) for a in answers] == [("UTF8", UTF8_PATIENT)]
    identifier, _ = scu._find_identifier(levels.PATIENT, {"PatientName": "Müller*"}, normalize=True)
    assert identifier.SpecificCharacterSet == "ISO_IR 192"


def test_find_with_an_unknown_tag_without_normalisation_is_a_bad_query(dcmqrscp):
    with pytest.raises(scu.BadQuery):
        scu.find(dcmqrscp, "Study", {"NoSuchKeyword": "x"}, normalize=False)


# --- C-MOVE and C-GET against dcmqrscp ------------------------------------------------------------


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
    with pytest.raises(scu.Stopped):
        scu.move(dcmqrscp, "Study", identifiers, "PHAROS", should_stop=should_stop)
    assert Instance.objects.filter(series__study__study_instance_uid=MR_STUDY).count() == 0


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
