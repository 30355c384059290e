"""C-STORE to real peers: DCMTK's storescp and a pynetdicom storage SCP that accepts
uncompressed little endian only."""

import os
import subprocess
import threading

import pydicom
import pytest
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, generate_uid
from pynetdicom import AllStoragePresentationContexts, evt

from dicomnet import scu
from dicomnet.scu import pool
from explorer import storage
from explorer.ingest import Origin, store_instance
from explorer.models import Instance
from tests.conftest import dicom_bytes, make_dicom, make_image, sample_path
from tests.dicom_peers import DCMTK_ENV, free_port, modality, wait_for_port
from tests.tools import require_tool


def ingest(data):
    return store_instance(data, Origin(kind="RestApi"))


def image_with_pixels(number, study, series):
    """A 16-bit monochrome image with random pixels: any re-encoding would show."""
    return make_image(
        16, os.urandom(16 * 16 * 2), StudyInstanceUID=study, SeriesInstanceUID=series, InstanceNumber=number
    )


def stored_dataset(instance):
    return pydicom.dcmread(storage.path_for(instance.file_uuid))


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
def test_two_stores_in_a_row_share_one_association(collector, settings):
    settings.PHAROS_DICOM_ASSOCIATION_CLOSE_DELAY = 5
    requested = []
    collector.server.bind(evt.EVT_REQUESTED, requested.append)
    study, series = generate_uid(), generate_uid()
    first, second = (ingest(image_with_pixels(number, study, series)).instance_id for number in (1, 2))
    target = modality("COLLECTOR", collector.port)

    for public_id in (first, second):
        content = scu.store(target, Instance.objects.filter(public_id=public_id))
        assert content["FailedInstancesCount"] == 0

    assert len(collector.received) == 2
    assert len(requested) == 1
    pool.release_all()


@pytest.mark.django_db
def test_with_no_delay_each_store_opens_its_own_association(collector, settings):
    settings.PHAROS_DICOM_ASSOCIATION_CLOSE_DELAY = 0
    requested = []
    collector.server.bind(evt.EVT_REQUESTED, requested.append)
    ingest(dicom_bytes("CT_small.dcm"))
    target = modality("COLLECTOR", collector.port)

    scu.store(target, Instance.objects.all())
    scu.store(target, Instance.objects.all())

    assert len(collector.received) == 2
    assert len(requested) == 2


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
    pool.release_all()
    with pytest.raises(expected) as raised:
        scu.store(modality("COLLECTOR", collector.port), Instance.objects.order_by("pk"), should_stop=should_stop)
    assert len(collector.received) == 3
    assert pool.idle() == []  # a store stopped in the middle does not lend its association again
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
    store_finished = threading.Event()

    def first_answer_withheld(event):
        calls.append(1)
        if len(calls) == 1:
            # Held past the modality's 1 s timeout, until the store is over: the requestor
            # gives up on this answer. (The wait's own limit only frees the thread on failure.)
            store_finished.wait(timeout=30)
        return answer(event)

    collector.server.unbind(evt.EVT_C_STORE, answer)
    collector.server.bind(evt.EVT_C_STORE, first_answer_withheld)

    try:
        content = scu.store(modality("COLLECTOR", collector.port, timeout=1), Instance.objects.all())
    finally:
        store_finished.set()

    assert content["FailedInstancesCount"] == 0
    assert len(calls) == 2


JPEG_LS_ONLY = """\
[[TransferSyntaxes]]
[JPEGLS]
TransferSyntax1 = JPEGLSLossless

[[PresentationContexts]]
[JPEGLSOnly]
PresentationContext1 = CTImageStorage\\JPEGLS
PresentationContext2 = MRImageStorage\\JPEGLS

[[Profiles]]
[OnlyJPEGLS]
PresentationContexts = JPEGLSOnly
"""


@pytest.fixture
def jpeg_ls_storescp(tmp_path):
    """DCMTK's storescp accepting CT and MR in JPEG-LS Lossless only."""
    require_tool("storescp")
    folder, configuration, port = tmp_path / "received", tmp_path / "storescp.cfg", free_port()
    folder.mkdir()
    configuration.write_text(JPEG_LS_ONLY)
    command = ["storescp", "-aet", "JLSSCP", "-xf", configuration, "OnlyJPEGLS", "-od", folder, port]
    process = subprocess.Popen([str(part) for part in command], env=DCMTK_ENV, stdout=subprocess.DEVNULL)
    wait_for_port(port, process)
    yield port, folder
    process.terminate()
    process.wait(timeout=10)


@pytest.mark.django_db
def test_store_to_a_peer_that_accepts_only_jpeg_ls_encodes_it(jpeg_ls_storescp, tmp_path):
    port, folder = jpeg_ls_storescp
    for name in ("CT_small.dcm", "MR_small_RLE.dcm", "JPEG2000.dcm"):  # JPEG2000.dcm: no context for its class
        ingest(dicom_bytes(name))

    content = scu.store(modality("JLSSCP", port), Instance.objects.all())

    assert (content["InstancesCount"], content["FailedInstancesCount"]) == (3, 1)
    arrived = {ds.SOPInstanceUID: (path, ds) for path, ds in ((p, pydicom.dcmread(p)) for p in folder.iterdir())}
    for name in ("CT_small.dcm", "MR_small_RLE.dcm"):
        source = pydicom.dcmread(sample_path(name))
        path, dataset = arrived[source.SOPInstanceUID]
        assert dataset.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.80"
        decoded = tmp_path / f"{name}.decoded"
        subprocess.run(["dcmdjpls", str(path), str(decoded)], check=True, capture_output=True)
        assert (pydicom.dcmread(decoded).pixel_array == source.pixel_array).all()
