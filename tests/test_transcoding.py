"""Transcoding: every lossless direction gives back the same pixels, DCMTK and GDCM read what
Pharos writes, and the choice of a syntax for a peer."""

import io
import subprocess
import threading
import zipfile

import numpy as np
import pydicom
import pytest
from pydicom.uid import (
    JPEG2000,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

from explorer import transcoding
from explorer.transcoding import TranscodingError, best_syntax, transcode
from tests.conftest import dicom_bytes, sample_path, upload
from tests.tools import needs_tool, require_tool

LOSSLESS = [
    JPEGLosslessSV1,
    JPEGLossless,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    RLELossless,
    JPEGLSLossless,
    JPEG2000Lossless,
]
# Signed and unsigned, 8, 12 and 16 bits, grey, RGB, YBR and palette, single and multi-frame,
# every compressed source pydicom's tests hold, big endian and deflated.
SOURCES = [
    "CT_small.dcm",
    "MR_small.dcm",
    "MR_small_bigendian.dcm",
    "MR_small_jpeg_ls_lossless.dcm",
    "MR_small_RLE.dcm",
    "emri_small_RLE.dcm",
    "emri_small_jpeg_2k_lossless.dcm",
    "JPEG2000.dcm",
    "US1_J2KR.dcm",
    "JPGExtended.dcm",
    "SC_rgb.dcm",
    "SC_rgb_16bit.dcm",
    "SC_rgb_rle_2frame.dcm",
    "SC_rgb_jpeg_gdcm.dcm",
    "SC_ybr_full_422_uncompressed.dcm",
    "OBXXXX1A.dcm",
    "rtdose.dcm",
    "image_dfl.dcm",
]
# What no encoder writes: they take at most 16 bits (rtdose has 32; OpenJPEG refuses it too).
CANNOT = {
    ("rtdose.dcm", syntax) for syntax in (JPEGLSLossless, RLELossless, JPEG2000Lossless, JPEGLosslessSV1, JPEGLossless)
}


def read(name):
    return pydicom.dcmread(sample_path(name))


def written_and_read(dataset):
    return pydicom.dcmread(io.BytesIO(transcoding.to_bytes(dataset)))


def pixels(dataset):
    return transcoding.to_little_endian_native(written_and_read(dataset)).pixel_array


@pytest.mark.parametrize("name", SOURCES)
def test_every_lossless_target_gives_back_the_same_pixels(name):
    expected = pixels(read(name))
    for syntax in LOSSLESS:
        if (name, syntax) in CANNOT:
            with pytest.raises(TranscodingError):
                transcode(read(name), syntax)
            continue
        result = written_and_read(transcode(read(name), syntax))
        assert result.file_meta.TransferSyntaxUID == syntax
        assert result.SOPInstanceUID == read(name).SOPInstanceUID
        assert "LossyImageCompression" not in result or result.LossyImageCompression == read(name).get(
            "LossyImageCompression"
        )
        assert np.array_equal(pixels(result), expected), (name, syntax.name)


def test_colour_is_rgb_after_decompression_and_stays_rgb_in_jpeg_2000():
    decompressed = transcode(read("SC_rgb_jpeg_gdcm.dcm"), ExplicitVRLittleEndian)
    assert (decompressed.PhotometricInterpretation, decompressed.PlanarConfiguration) == ("RGB", 0)
    assert transcode(read("SC_rgb.dcm"), JPEG2000Lossless).PhotometricInterpretation == "RGB"


@pytest.mark.parametrize("syntax, method", [(JPEGLSNearLossless, "ISO_14495_1"), (JPEG2000, "ISO_15444_1")])
def test_a_lossy_result_says_so_and_stays_near_the_source(syntax, method):
    result = written_and_read(transcode(read("CT_small.dcm"), syntax))
    assert result.LossyImageCompression == "01"
    assert result.LossyImageCompressionMethod == method
    assert float(result.LossyImageCompressionRatio) > 1
    assert result.SOPInstanceUID == read("CT_small.dcm").SOPInstanceUID
    difference = np.abs(pixels(result).astype(int) - read("CT_small.dcm").pixel_array.astype(int))
    assert difference.mean() < 8


def test_jpeg_baseline_by_pillow_for_8_bit_colour():
    result = written_and_read(transcode(read("SC_rgb.dcm"), JPEGBaseline8Bit, quality=95))
    assert (result.PhotometricInterpretation, result.LossyImageCompressionMethod) == ("YBR_FULL_422", "ISO_10918_1")
    difference = np.abs(result.pixel_array.astype(int) - read("SC_rgb.dcm").pixel_array.astype(int))
    assert difference.mean() < 4
    with pytest.raises(TranscodingError, match="8-bit"):
        transcode(read("CT_small.dcm"), JPEGBaseline8Bit)


def test_unknown_or_unwritable_syntaxes_are_refused():
    with pytest.raises(transcoding.UnknownTransferSyntax) as unknown:
        transcode(read("CT_small.dcm"), "1.2.3")
    assert (unknown.value.http_status, unknown.value.orthanc_status) == (400, 3)
    with pytest.raises(TranscodingError, match="no encoder"):
        transcode(read("CT_small.dcm"), "1.2.840.10008.1.2.4.100")  # MPEG2
    with pytest.raises(TranscodingError, match="quality"):
        transcode(read("CT_small.dcm"), JPEG2000, quality=0)


def test_jpeg_2000_encodes_from_several_threads_at_once():
    # Modifications transcode in threads; openjpeg's encoder alone would crash the process.
    source = dicom_bytes("CT_small.dcm")
    written = []

    def encode():
        for _ in range(5):
            dataset = pydicom.dcmread(io.BytesIO(source))
            written.append(transcode(dataset, JPEG2000Lossless).file_meta.TransferSyntaxUID)

    threads = [threading.Thread(target=encode) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert written == [JPEG2000Lossless] * 20


def test_a_data_set_without_pixels_changes_only_its_encoding():
    document = read("rtplan.dcm")
    result = written_and_read(transcode(document, JPEGLSLossless))
    assert result.file_meta.TransferSyntaxUID == JPEGLSLossless
    assert result.BeamSequence[0].BeamName == read("rtplan.dcm").BeamSequence[0].BeamName


# --- What other tools make of it --------------------------------------------------------------


def tool(*command):
    require_tool(command[0])
    result = subprocess.run([str(part) for part in command], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


@pytest.mark.parametrize("name", ["CT_small.dcm", "SC_rgb.dcm", "emri_small_RLE.dcm", "US1_J2KR.dcm"])
@pytest.mark.parametrize(
    "syntax, decompressor",
    [
        (JPEGLSLossless, ["dcmdjpls"]),
        (RLELossless, ["dcmdrle"]),
        (JPEG2000Lossless, ["gdcmconv", "--raw"]),
        (JPEGLosslessSV1, ["dcmdjpeg"]),
        (ExplicitVRBigEndian, ["dcmconv", "+te"]),
        (DeflatedExplicitVRLittleEndian, ["dcmconv", "+te"]),
    ],
)
def test_dcmtk_and_gdcm_read_what_pharos_writes(tmp_path, name, syntax, decompressor):
    written, decoded = tmp_path / "pharos.dcm", tmp_path / "decoded.dcm"
    written.write_bytes(transcoding.to_bytes(transcode(read(name), syntax)))
    tool("dcmftest", written)
    assert syntax in tool("gdcminfo", written).stdout
    tool(*decompressor, written, decoded)
    assert np.array_equal(pydicom.dcmread(decoded).pixel_array, pixels(read(name)))


@needs_tool("dcmdjpeg")
def test_transcoding_decompresses_what_only_gdcm_decodes(tmp_path):
    decompressed = tmp_path / "dcmtk.dcm"
    subprocess.run(["dcmdjpeg", sample_path("JPEG-lossy.dcm"), str(decompressed)], check=True, capture_output=True)
    dataset = transcoding.to_explicit_little_endian(read("JPEG-lossy.dcm"))
    assert dataset.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    written = tmp_path / "ours.dcm"
    dataset.save_as(written)
    again = pydicom.dcmread(written)
    assert again["PixelData"].VR == "OW" and not again["PixelData"].is_undefined_length
    assert np.array_equal(again.pixel_array, pydicom.dcmread(decompressed).pixel_array)


# --- The choice for a peer ----------------------------------------------------------------------


def test_best_syntax_keeps_the_stored_one_then_prefers_lossless():
    assert best_syntax(JPEG2000Lossless, {JPEG2000Lossless, ExplicitVRLittleEndian}) == JPEG2000Lossless
    assert best_syntax(ExplicitVRLittleEndian, {ImplicitVRLittleEndian, JPEGLSLossless}) == ImplicitVRLittleEndian
    # A compressed file stays compressed when the peer takes a lossless compressed syntax.
    assert best_syntax(JPEG2000Lossless, {ExplicitVRLittleEndian, JPEGLSLossless}) == JPEGLSLossless
    assert best_syntax(ExplicitVRLittleEndian, {JPEGLSLossless, JPEG2000}) == JPEGLSLossless
    assert best_syntax(ExplicitVRLittleEndian, {JPEG2000}) == JPEG2000
    assert best_syntax(ExplicitVRLittleEndian, {"1.2.840.10008.1.2.4.100"}) is None
    assert best_syntax(JPEG2000Lossless, {ExplicitVRLittleEndian}, allow_transcoding=False) is None
    assert best_syntax(ImplicitVRLittleEndian, {ExplicitVRLittleEndian}, allow_transcoding=False) == (
        ExplicitVRLittleEndian
    )


def test_the_preferred_syntax_and_transcode_dicom_protocol(settings):
    settings.PHAROS_DICOM_SCU_PREFERRED_TRANSFER_SYNTAX = RLELossless
    assert best_syntax(JPEG2000Lossless, {ExplicitVRLittleEndian, JPEGLSLossless, RLELossless}) == RLELossless
    assert best_syntax(RLELossless, {RLELossless, JPEGLSLossless}) == RLELossless  # as stored first
    assert transcoding.proposed_targets()[0] == RLELossless
    assert transcoding.transcoding_allowed(True)
    settings.PHAROS_DICOM_TRANSCODE = False
    assert not transcoding.transcoding_allowed(True)


# --- REST ---------------------------------------------------------------------------------------


def stored_id(api, name):
    return upload(api, dicom_bytes(name)).json()["ID"]


@pytest.mark.django_db
def test_instance_file_transcoded(api):
    instance = stored_id(api, "CT_small.dcm")
    response = api.get(f"/instances/{instance}/file", {"transcode": JPEGLSLossless})
    assert (response.status_code, response["Content-Type"]) == (200, "application/dicom")
    result = pydicom.dcmread(io.BytesIO(response.content))
    assert result.file_meta.TransferSyntaxUID == JPEGLSLossless
    assert np.array_equal(result.pixel_array, read("CT_small.dcm").pixel_array)
    same = api.get(f"/instances/{instance}/file", {"transcode": ExplicitVRLittleEndian})
    assert b"".join(same.streaming_content) == dicom_bytes("CT_small.dcm")


@pytest.mark.django_db
def test_instance_file_with_an_unknown_syntax_is_orthancs_400(api):
    instance = stored_id(api, "CT_small.dcm")
    response = api.get(f"/instances/{instance}/file", {"transcode": "1.2.3"})
    assert response.status_code == 400
    body = response.json()
    assert (body["OrthancStatus"], body["OrthancError"], body["Details"]) == (
        3,
        "Parameter out of range",
        "Unknown transfer syntax: 1.2.3",
    )
    refused = api.get(f"/instances/{instance}/file", {"transcode": JPEGBaseline8Bit})  # a 16-bit CT
    assert refused.status_code == 400 and "8-bit" in refused.json()["Details"]


def archive_members(response):
    assert response.status_code == 200, response.content
    with zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content))) as archive:
        return [pydicom.dcmread(io.BytesIO(archive.read(name))) for name in archive.namelist()]


@pytest.mark.django_db
def test_archives_transcoded(api):
    instance = stored_id(api, "CT_small.dcm")
    stored_id(api, "rtdose.dcm")  # 32 bits: JPEG-LS cannot, it stays as stored (Orthanc's archive job)
    study = api.get(f"/instances/{instance}/study").json()["ID"]
    (member,) = archive_members(api.get(f"/studies/{study}/archive", {"transcode": JPEG2000Lossless}))
    assert member.file_meta.TransferSyntaxUID == JPEG2000Lossless
    assert np.array_equal(member.pixel_array, read("CT_small.dcm").pixel_array)
    (member,) = archive_members(
        api.post(f"/studies/{study}/archive", {"Transcode": RLELossless}, content_type="application/json")
    )
    assert member.file_meta.TransferSyntaxUID == RLELossless
    members = archive_members(
        api.post(
            "/tools/create-archive",
            {"Resources": [study, stored_id(api, "rtdose.dcm")], "Transcode": JPEGLSLossless},
            content_type="application/json",
        )
    )
    assert sorted(m.file_meta.TransferSyntaxUID for m in members) == [ImplicitVRLittleEndian, JPEGLSLossless]
    body = {"Resources": [study], "Transcode": "1.2.3"}
    bad = api.post("/tools/create-archive", body, content_type="application/json")
    assert (bad.status_code, bad.json()["Details"]) == (400, "Unknown transfer syntax: 1.2.3")
    assert api.get(f"/studies/{study}/archive", {"transcode": "1.2.3"}).status_code == 400
