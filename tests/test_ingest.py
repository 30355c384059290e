import datetime
import io
import json
import threading

import numpy as np
import pydicom
import pytest
from django.db import connection

from explorer import storage
from explorer.errors import BadFileFormat
from explorer.ingest import ALREADY_STORED, SUCCESS, Origin, store_instance, store_instance_file
from explorer.models import Change, Instance, Patient, Series, Study
from tests.conftest import CT_SMALL, CT_SMALL_IDS, dicom_bytes, make_dicom, sample_path
from tests.dicom_peers import dcmtk
from tests.pharos_server import Server, own_database, request

pytestmark = pytest.mark.django_db(transaction=True)


def stored_files(storage_dir):
    return [p for p in storage_dir.rglob("*") if p.is_file()]


def test_it_stores_and_indexes_a_file(storage_dir):
    data = dicom_bytes(CT_SMALL)
    result = store_instance(data, Origin(kind="RestApi", remote_ip="127.0.0.1"))
    assert result.status == SUCCESS
    assert result.ids == tuple(CT_SMALL_IDS[k] for k in ("patient", "study", "series", "instance"))
    instance = Instance.objects.get()
    assert storage.read(instance.file_uuid) == data
    assert instance.file_size == len(data)
    assert instance.transfer_syntax_uid == "1.2.840.10008.1.2.1"
    assert instance.sop_class_uid == "1.2.840.10008.5.1.4.1.1.2"
    assert instance.origin == "RestApi"
    assert instance.dataset["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": "CompressedSamples^CT1"}]}
    assert "BulkDataURI" in instance.dataset["7FE00010"]
    assert [c.change_type for c in Change.objects.order_by("id")] == [
        "NewInstance",
        "NewSeries",
        "NewStudy",
        "NewPatient",
    ]


def test_an_arrival_ages_its_parents_again(storage_dir):
    """LastUpdate (to the second, as shown) moves on for the patient, study and series of
    each arriving instance, so that a resource becomes stable only once its arrivals stop."""
    same_series = {"StudyInstanceUID": "1.2.3", "SeriesInstanceUID": "1.2.3.4"}
    store_instance(make_dicom(SOPInstanceUID="1.2.3.4.1", **same_series), Origin())
    long_ago = datetime.datetime(2020, 1, 1, tzinfo=datetime.UTC)
    for model in (Patient, Study, Series):
        model.objects.update(last_update=long_ago)
    store_instance(make_dicom(SOPInstanceUID="1.2.3.4.2", **same_series), Origin())
    arrival = Instance.objects.get(sop_instance_uid="1.2.3.4.2").last_update
    for model in (Patient, Study, Series):
        assert model.objects.get().last_update == arrival


def test_it_answers_already_stored_and_keeps_the_first_copy(storage_dir):
    data = dicom_bytes(CT_SMALL)
    store_instance(data, Origin())
    first = Instance.objects.get().file_uuid
    assert store_instance(data, Origin()).status == ALREADY_STORED
    assert Instance.objects.get().file_uuid == first
    assert len(stored_files(storage_dir)) == 1


def test_it_overwrites_when_asked(storage_dir):
    data = dicom_bytes(CT_SMALL)
    store_instance(data, Origin())
    first = Instance.objects.get().file_uuid
    assert store_instance(data, Origin(), overwrite=True).status == SUCCESS
    assert Instance.objects.get().file_uuid != first
    assert len(stored_files(storage_dir)) == 1


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "empty"),
        (b"this is not DICOM at all" * 20, "Not a DICOM file"),
        (dicom_bytes(CT_SMALL)[:20000], "cut short: 20 kB of 39 kB"),
        (make_dicom(SOPInstanceUID=None), "No SOP Instance UID"),
        (make_dicom(StudyInstanceUID=None), "No Study Instance UID"),
    ],
)
def test_it_refuses_bad_input_and_leaves_nothing(storage_dir, data, reason):
    with pytest.raises(BadFileFormat, match=reason):
        store_instance(data, Origin())
    assert Instance.objects.count() == 0
    assert stored_files(storage_dir) == []


def test_a_failed_index_removes_the_file(storage_dir, monkeypatch):
    from explorer import index

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(index, "add_instance", broken)
    with pytest.raises(RuntimeError):
        store_instance(dicom_bytes(CT_SMALL), Origin())
    assert stored_files(storage_dir) == []


def test_a_missing_patient_id_hashes_the_empty_string(storage_dir):
    result = store_instance(make_dicom(PatientID=None), Origin())
    assert result.ids[0] == "da39a3ee-5e6b4b0d-3255bfef-95601890-afd80709"


def test_concurrent_arrivals_of_one_new_study_make_one_of_each(storage_dir):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises writers; the race is checked on PostgreSQL")
    study, series = "1.2.826.0.1.3680043.8.498.1", "1.2.826.0.1.3680043.8.498.2"
    files = [make_dicom(StudyInstanceUID=study, SeriesInstanceUID=series) for _ in range(24)]
    errors = []
    barrier = threading.Barrier(8)

    def send(chunk):
        barrier.wait()
        try:
            for data in chunk:
                store_instance(data, Origin())
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(files[i::8],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert (Patient.objects.count(), Study.objects.count(), Series.objects.count()) == (1, 1, 1)
    assert Instance.objects.count() == 24
    assert len(stored_files(storage_dir)) == 24


def test_ids_keep_leading_spaces_and_drop_trailing_ones(storage_dir):
    from explorer.dicom import public_id

    result = store_instance(make_dicom(PatientID=" PAD1 "), Origin())
    assert result.ids[0] == public_id(" PAD1")


def test_names_in_other_character_sets_are_kept(storage_dir):
    store_instance(dicom_bytes("chrH31.dcm"), Origin())
    patient = Patient.objects.get()
    assert patient.patient_name == "Yamada^Tarou=山田^太郎=やまだ^たろう"


def test_a_received_file_is_moved_into_the_store(storage_dir):
    incoming = storage.incoming_dir() / "received.dcm"
    incoming.write_bytes(dicom_bytes(CT_SMALL))
    assert store_instance_file(str(incoming), Origin(kind="DicomProtocol")).status == SUCCESS
    assert not incoming.exists()
    assert storage.read(Instance.objects.get().file_uuid) == dicom_bytes(CT_SMALL)
    incoming.write_bytes(dicom_bytes(CT_SMALL))
    assert store_instance_file(str(incoming), Origin()).status == ALREADY_STORED
    assert not incoming.exists()


def test_a_decimal_beyond_floats_is_indexed(storage_dir):
    """A DS too large for a float is kept as written, as Orthanc shows it, and the instance
    is stored on either database."""
    from pydicom import config

    with config.disable_value_validation():
        data = make_dicom(SliceThickness="1e400")
    assert store_instance(data, Origin()).status == SUCCESS
    assert Instance.objects.get().dataset["00180050"] == {"vr": "DS", "Value": ["1e400"]}


def test_nul_characters_are_left_out_of_the_index(storage_dir):
    """PostgreSQL's text and jsonb refuse NUL, which some files carry as padding or inside
    values: the index keeps the values without them, the stored file keeps its bytes."""
    from pydicom import config

    with config.disable_value_validation():
        data = make_dicom(StudyDescription="BRAIN\x00", SeriesDescription="AX\x00IAL", ImageComments="x\x00")
    assert store_instance(data, Origin()).status == SUCCESS
    instance = Instance.objects.get()
    assert instance.dataset["0008103E"]["Value"] == ["AXIAL"]
    assert instance.dataset["00204000"]["Value"] == ["x"]
    assert Study.objects.get().main_tags["StudyDescription"] == "BRAIN"
    assert storage.read(instance.file_uuid) == data


def test_an_integer_beyond_64_bits_is_kept(storage_dir):
    """A malformed IS too large for 64 bits is kept as written, as any invalid value is."""
    from pydicom import config

    with config.disable_value_validation():
        data = make_dicom(ReferencedFrameNumber="99999999999999999999")
    assert store_instance(data, Origin()).status == SUCCESS
    assert Instance.objects.get().dataset["00081160"]["Value"] == ["99999999999999999999"]


# --- IngestTranscoding --------------------------------------------------------------------------

JPEG_LS_LOSSLESS = "1.2.840.10008.1.2.4.80"


def stored_dataset(result):
    return pydicom.dcmread(storage.path_for(Instance.objects.get(public_id=result.instance_id).file_uuid))


def test_ingest_transcoding_stores_in_the_syntax_asked(settings):
    settings.PHAROS_INGEST_TRANSCODING = JPEG_LS_LOSSLESS
    result = store_instance(dicom_bytes(CT_SMALL), Origin())
    stored = stored_dataset(result)
    assert stored.file_meta.TransferSyntaxUID == JPEG_LS_LOSSLESS
    assert Instance.objects.get().transfer_syntax_uid == JPEG_LS_LOSSLESS
    assert result.ids == tuple(CT_SMALL_IDS[k] for k in ("patient", "study", "series", "instance"))
    assert np.array_equal(stored.pixel_array, pydicom.dcmread(sample_path(CT_SMALL)).pixel_array)


def test_ingest_transcoding_follows_orthancs_rules(settings):
    settings.PHAROS_INGEST_TRANSCODING = JPEG_LS_LOSSLESS
    settings.PHAROS_INGEST_TRANSCODING_OF_COMPRESSED = False
    j2k = store_instance(dicom_bytes("JPEG2000.dcm"), Origin())  # compressed: left alone
    assert stored_dataset(j2k).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.4.91"
    rtdose = store_instance(dicom_bytes("rtdose.dcm"), Origin())  # 32 bits: JPEG-LS cannot, kept as received
    assert storage.read(Instance.objects.get(public_id=rtdose.instance_id).file_uuid) == dicom_bytes("rtdose.dcm")
    settings.PHAROS_INGEST_TRANSCODING_OF_UNCOMPRESSED = False
    ct = store_instance(dicom_bytes(CT_SMALL), Origin())
    assert stored_dataset(ct).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    settings.PHAROS_INGEST_TRANSCODING_OF_COMPRESSED = True
    rle = store_instance(dicom_bytes("MR_small_RLE.dcm"), Origin())
    assert stored_dataset(rle).file_meta.TransferSyntaxUID == JPEG_LS_LOSSLESS


def test_ingest_transcoding_of_a_received_file(settings, tmp_path):
    settings.PHAROS_INGEST_TRANSCODING = "1.2.840.10008.1.2.5"
    received = storage.incoming_dir() / "received.dcm"
    received.write_bytes(dicom_bytes(CT_SMALL))
    result = store_instance_file(received, Origin())
    assert stored_dataset(result).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.5"
    assert not received.exists()


def test_ingest_transcoding_through_a_real_server(tmp_path):
    """Orthanc's configuration file sets it; an upload over HTTP and a C-STORE are stored in it."""

    from tests.conftest import sample_path

    configuration = tmp_path / "orthanc.json"
    configuration.write_text(json.dumps({"IngestTranscoding": JPEG_LS_LOSSLESS}))
    with own_database("pharos_ingest") as database_url:
        server = Server(
            tmp_path / "data", "secret", database_url=database_url, PHAROS_ORTHANC_CONFIG=str(configuration)
        )
        try:
            status, _, body = request(server.port, "/instances", "secret", "POST", dicom_bytes(CT_SMALL))
            assert status == 200, body
            instance = json.loads(body)["ID"]
            sent = dcmtk("storescu", "-aec", "PHAROS", "127.0.0.1", server.dicom_port, sample_path("MR_small.dcm"))
            assert sent.returncode == 0, sent.stdout + sent.stderr
            for public_id in (instance, *json.loads(request(server.port, "/instances", "secret")[2])):
                status, _, data = request(server.port, f"/instances/{public_id}/file", "secret")
                assert pydicom.dcmread(io.BytesIO(data)).file_meta.TransferSyntaxUID == JPEG_LS_LOSSLESS
        finally:
            server.stop()
