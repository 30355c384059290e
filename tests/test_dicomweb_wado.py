"""WADO-RS (explorer/dicomweb/wado.py): instances, frames and bulk data as multipart/related.

The expected answers were read from Orthanc 1.10.1 with its DICOMweb plugin given the same
files and requests (tests/reference_orthanc.py): the layout of the answers and of their parts,
and the MD5 of each frame below. Pharos differs where PS3.18 asks otherwise: an Accept header
it cannot satisfy, or a frame beyond the instance's, is 406 and 404 (Orthanc: 400).
The last test drives a running Pharos with dicomweb-client, as its users do.
"""

import hashlib
import io

import pydicom
import pytest
from pydicom.encaps import get_frame
from pydicom.uid import ExplicitVRLittleEndian, JPEG2000Lossless

from explorer.dicomweb import frames as frame_data
from tests.conftest import CT_SMALL, dicom_bytes, sample_path, upload
from tests.pharos_server import Server, own_database, request

pytestmark = pytest.mark.django_db

OHIF = "multipart/related; type=application/octet-stream; transfer-syntax=*"
OCTET_STREAM_LE = 'multipart/related; type="application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"'
# Orthanc's answers: the MD5 of each part of …/frames/{list}, without Accept.
ORTHANC_FRAMES = {
    (CT_SMALL, "1"): ["45df16134454b381f79cc64eecdb072c"],
    ("JPEG2000.dcm", "1"): ["6619e385a4bdd73b055118eb1cf95338"],  # decoded
    ("OBXXXX1A_rle_2frame.dcm", "2,1"): ["fceac58b316eb95383aa61e722fcfdd3", "b1001814a1fc0b95092635d8b07b3a65"],
    ("emri_small_big_endian.dcm", "10"): ["e8a97f85a2065b18d41f71faac2681e2"],  # made little endian
    ("JPEG-LL.dcm", "1"): ["6b5c1eff0ef65e36b0565f96507e96fd"],
}


def instance_url(name):
    dataset = pydicom.dcmread(sample_path(name), stop_before_pixels=True)
    return (
        f"/dicom-web/studies/{dataset.StudyInstanceUID}/series/{dataset.SeriesInstanceUID}"
        f"/instances/{dataset.SOPInstanceUID}"
    )


def multipart(response):
    """(the answer's Content-Type without its boundary, [(part headers, part content)])."""
    assert response.status_code == 200, response.content
    content_type = response["Content-Type"]
    head, _, boundary = content_type.partition("; boundary=")
    body = b"".join(response.streaming_content)
    assert body.startswith(b"--" + boundary.encode() + b"\r\n")
    assert body.endswith(b"\r\n--" + boundary.encode() + b"--\r\n")
    parts = []
    for piece in body.split(b"--" + boundary.encode())[1:-1]:
        headers, _, content = piece[2:].partition(b"\r\n\r\n")
        lines = [line.split(": ", 1) for line in headers.decode().split("\r\n")]
        assert content.endswith(b"\r\n")
        parts.append((dict(lines), content[:-2]))
    return head, parts


def stored(api, *names):
    for name in names:
        assert upload(api, dicom_bytes(name)).status_code == 200
    return api


# ------------------------------------------------------------------ instances


def test_an_instance_is_sent_as_stored(api):
    stored(api, CT_SMALL)
    any_syntax = "multipart/related; type=application/dicom; transfer-syntax=*"
    for accept in (None, "*/*", 'multipart/related; type="application/dicom"', any_syntax):
        headers = {"HTTP_ACCEPT": accept} if accept else {}
        content_type, parts = multipart(api.get(instance_url(CT_SMALL), **headers))
        assert content_type == 'multipart/related; type="application/dicom"'
        [(headers, content)] = parts
        assert list(headers) == ["Content-Type", "Content-Length", "MIME-Version"]  # Orthanc's, in its order
        assert headers == {"Content-Type": "application/dicom", "Content-Length": "39206", "MIME-Version": "1.0"}
        assert content == dicom_bytes(CT_SMALL)


def test_a_study_and_a_series_are_each_of_their_instances(api):
    names = ("JPEG2000.dcm", "JPEG-LL.dcm", "MR_small.dcm")
    stored(api, *names)
    study_url = instance_url("JPEG2000.dcm").split("/series/")[0]
    assert api.get(study_url).streaming  # file after file, never the whole study in memory
    _, parts = multipart(api.get(study_url))
    found = {pydicom.dcmread(io.BytesIO(content)).SOPInstanceUID for _, content in parts}
    expected = {pydicom.dcmread(sample_path(name)).SOPInstanceUID for name in names[:2]}
    assert found == expected  # MR_small is another study
    _, parts = multipart(api.get(instance_url("JPEG-LL.dcm").split("/instances/")[0]))
    assert len(parts) == 2  # JPEG2000 and JPEG-LL are one series


def test_an_instance_is_transcoded_when_a_syntax_is_asked(api):
    stored(api, CT_SMALL, "JPEG2000.dcm")
    asked = f'multipart/related; type="application/dicom"; transfer-syntax={JPEG2000Lossless}'
    _, [(_, content)] = multipart(api.get(instance_url(CT_SMALL), HTTP_ACCEPT=asked))
    transcoded = pydicom.dcmread(io.BytesIO(content))
    assert transcoded.file_meta.TransferSyntaxUID == JPEG2000Lossless
    assert (transcoded.pixel_array == pydicom.dcmread(sample_path(CT_SMALL)).pixel_array).all()
    asked = f'multipart/related; type="application/dicom"; transfer-syntax={ExplicitVRLittleEndian}'
    _, [(_, content)] = multipart(api.get(instance_url("JPEG2000.dcm"), HTTP_ACCEPT=asked))
    assert pydicom.dcmread(io.BytesIO(content)).file_meta.TransferSyntaxUID == ExplicitVRLittleEndian


@pytest.mark.parametrize(
    "accept",
    [
        "application/json",
        "application/dicom",  # not multipart/related
        'multipart/related; type="application/octet-stream"',
        'multipart/related; type="application/dicom"; transfer-syntax=1.2.3',
        # JPEG Baseline holds 8-bit pixels only: CT_small's are 16-bit.
        'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.50',
    ],
)
def test_what_cannot_be_sent_is_406(api, accept):
    stored(api, CT_SMALL)
    response = api.get(instance_url(CT_SMALL), HTTP_ACCEPT=accept)
    assert response.status_code == 406
    assert response.json()["HttpStatus"] == 406


def test_unknown_instances_are_404(api):
    stored(api, CT_SMALL)
    study, series = instance_url(CT_SMALL).split("/series/")
    assert api.get(f"{study}/series/1.2.3").status_code == 404
    assert api.get(study.replace("1.2.1.2004", "1.2.9.2004")).status_code == 404
    assert api.get(f"{study}/series/{series.split('/')[0]}/instances/1.2.3/frames/1").status_code == 404


# ------------------------------------------------------------------ frames


@pytest.mark.parametrize(("name", "numbers"), list(ORTHANC_FRAMES))
def test_frames_are_orthancs_uncompressed_frames(api, name, numbers):
    stored(api, name)
    url = instance_url(name)
    content_type, parts = multipart(api.get(f"{url}/frames/{numbers}"))
    assert content_type == OCTET_STREAM_LE
    assert [hashlib.md5(content).hexdigest() for _, content in parts] == ORTHANC_FRAMES[(name, numbers)]
    for number, (headers, content) in zip(numbers.split(","), parts):
        assert headers == {
            "Content-Location": f"http://testserver{url}/frames/{number}",
            "Content-Type": "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1",
            "Content-Length": str(len(content)),
            "MIME-Version": "1.0",
        }


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("JPEG2000.dcm", "image/jp2; transfer-syntax=1.2.840.10008.1.2.4.91"),
        ("US1_J2KR.dcm", "image/jp2; transfer-syntax=1.2.840.10008.1.2.4.90"),
        ("OBXXXX1A_rle_2frame.dcm", "image/dicom-rle; transfer-syntax=1.2.840.10008.1.2.5"),
        ("JPEG-LL.dcm", "image/jpeg; transfer-syntax=1.2.840.10008.1.2.4.70"),
    ],
)
def test_ohifs_frames_are_the_stored_fragments(api, name, media_type):
    """OHIF asks for any transfer syntax: a compressed frame goes as stored, named as Orthanc
    names it."""
    stored(api, name)
    dataset = pydicom.dcmread(sample_path(name))
    count = int(dataset.get("NumberOfFrames") or 1)
    content_type, [(headers, content)] = multipart(api.get(f"{instance_url(name)}/frames/{count}", HTTP_ACCEPT=OHIF))
    assert content_type == f'multipart/related; type="{media_type}"'
    assert headers["Content-Type"] == media_type
    assert content == get_frame(dataset.PixelData, count - 1, number_of_frames=count)


def test_ohifs_native_frames_are_sliced_from_the_file(api):
    stored(api, CT_SMALL)
    content_type, [(_, content)] = multipart(api.get(f"{instance_url(CT_SMALL)}/frames/1", HTTP_ACCEPT=OHIF))
    assert content_type == OCTET_STREAM_LE
    assert content == pydicom.dcmread(sample_path(CT_SMALL)).PixelData
    assert frame_data.locate.cache_info().currsize >= 1  # the header is read once per file


def test_frames_are_transcoded_to_the_media_type_asked(api):
    stored(api, CT_SMALL)
    content_type, [(_, content)] = multipart(
        api.get(f"{instance_url(CT_SMALL)}/frames/1", HTTP_ACCEPT='multipart/related; type="image/jp2"')
    )
    # image/jp2's default syntax, JPEG 2000 lossless: the pixels come back whole.
    assert content_type == 'multipart/related; type="image/jp2; transfer-syntax=1.2.840.10008.1.2.4.90"'
    assert content.startswith(b"\xff\x4f\xff\x51")  # a JPEG 2000 codestream


@pytest.mark.parametrize(("frames", "status"), [("2", 404), ("1,2", 404), ("0", 400), ("x", 400), ("1;1", 400)])
def test_bad_frame_lists(api, frames, status):
    stored(api, CT_SMALL)
    assert api.get(f"{instance_url(CT_SMALL)}/frames/{frames}").status_code == status


def test_frames_of_an_instance_without_pixels_are_404(api):
    stored(api, "rtplan.dcm")
    assert api.get(f"{instance_url('rtplan.dcm')}/frames/1").status_code == 404


# ------------------------------------------------------------------ bulk data


def bulk(api, url, accept=None):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    content_type, parts = multipart(api.get(url, **headers))
    assert content_type == 'multipart/related; type="application/octet-stream"'
    assert all(headers["Content-Type"] == "application/octet-stream" for headers, _ in parts)
    return [content for _, content in parts]


def test_bulk_data_is_the_value_as_stored(api):
    stored(api, CT_SMALL, "waveform_ecg.dcm", "JPEG2000.dcm")
    url = instance_url(CT_SMALL)
    ct = pydicom.dcmread(sample_path(CT_SMALL))
    assert bulk(api, f"{url}/bulk/7fe00010") == [ct.PixelData]
    assert bulk(api, f"{url}/bulk/7FE00010", 'multipart/related; type="application/octet-stream"') == [ct.PixelData]
    assert bulk(api, f"{url}/bulk/00431028", 'multipart/related; type="*/*"') == [ct[0x00431028].value]
    assert bulk(api, f"{url}/bulk/00101002/1/00100020") == [b"ABCD1234"]  # any element, as Orthanc
    waveform = pydicom.dcmread(sample_path("waveform_ecg.dcm"))
    second = waveform.WaveformSequence[1].WaveformData
    assert bulk(api, f"{instance_url('waveform_ecg.dcm')}/bulk/54000100/2/54001010") == [second]
    # Compressed pixel data: the Basic Offset Table, then each fragment (Orthanc's answer).
    fragments = bulk(api, f"{instance_url('JPEG2000.dcm')}/bulk/7fe00010")
    assert [len(fragment) for fragment in fragments] == [0, 250]


@pytest.mark.parametrize(
    ("path", "status"),
    [("12345678", 404), ("00101002/3/00100020", 404), ("xyz", 400), ("00101002/1", 400), ("00101002/0/00100020", 400)],
)
def test_bad_bulk_paths(api, path, status):
    stored(api, CT_SMALL)
    assert api.get(f"{instance_url(CT_SMALL)}/bulk/{path}").status_code == status


def test_bulk_data_is_multipart_only(api):
    stored(api, CT_SMALL)
    response = api.get(f"{instance_url(CT_SMALL)}/bulk/7fe00010", HTTP_ACCEPT="application/octet-stream")
    assert response.status_code == 406


# ------------------------------------------------------------------ dicomweb-client

PASSWORD = "wado-secret"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with own_database("pharos_wado") as database_url:
        server = Server(tmp_path_factory.mktemp("wado") / "data", PASSWORD, database_url)
        try:
            for name in (CT_SMALL, "JPEG2000.dcm", "OBXXXX1A_rle_2frame.dcm"):
                status, _, body = request(
                    server.port, "/instances", PASSWORD, "POST", dicom_bytes(name), "application/dicom"
                )
                assert status == 200, body
            yield server
        finally:
            assert server.stop() == 0


def test_dicomweb_client_retrieves_from_a_running_pharos(server):
    from dicomweb_client.api import DICOMwebClient
    from dicomweb_client.session_utils import create_session_from_user_pass

    client = DICOMwebClient(
        f"http://127.0.0.1:{server.port}/dicom-web", session=create_session_from_user_pass("admin", PASSWORD)
    )
    ct = pydicom.dcmread(sample_path(CT_SMALL))
    [instance] = client.retrieve_study(ct.StudyInstanceUID)
    assert instance.SOPInstanceUID == ct.SOPInstanceUID and instance.PixelData == ct.PixelData
    [metadata] = client.retrieve_series_metadata(ct.StudyInstanceUID, ct.SeriesInstanceUID)
    # dicomweb-client sends its Host header without the port, and URLs are made of the Host
    # header, by Orthanc too.
    pixel_data_uri = metadata["7FE00010"]["BulkDataURI"].replace("127.0.0.1/", f"127.0.0.1:{server.port}/")
    assert pixel_data_uri.startswith(f"http://127.0.0.1:{server.port}/dicom-web/studies/")
    assert client.retrieve_bulkdata(pixel_data_uri) == [ct.PixelData]
    # Frames: dicomweb-client's default Accept (type="*/*"), then OHIF's.
    rle = pydicom.dcmread(sample_path("OBXXXX1A_rle_2frame.dcm"))
    uids = (rle.StudyInstanceUID, rle.SeriesInstanceUID, rle.SOPInstanceUID)
    decoded = client.retrieve_instance_frames(*uids, frame_numbers=[2])
    assert hashlib.md5(decoded[0]).hexdigest() == ORTHANC_FRAMES[("OBXXXX1A_rle_2frame.dcm", "2,1")][0]
    as_stored = client.retrieve_instance_frames(
        *uids, frame_numbers=[1, 2], media_types=(("application/octet-stream", "*"),)
    )
    assert as_stored == [get_frame(rle.PixelData, n, number_of_frames=2) for n in (0, 1)]
    j2k = pydicom.dcmread(sample_path("JPEG2000.dcm"))
    transcoded = client.retrieve_instance(
        j2k.StudyInstanceUID,
        j2k.SeriesInstanceUID,
        j2k.SOPInstanceUID,
        media_types=(("application/dicom", ExplicitVRLittleEndian),),
    )
    assert transcoded.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian
